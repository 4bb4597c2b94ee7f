//! `vendir.yml`: vendir's schema, read strictly where vendir would not lose
//! a working config by it (docs/config.md).
//!
//! [`load`] takes every `-f` input (several YAML documents each) and returns
//! the one `Config`, the `v1` `Secret`s and `ConfigMap`s beside it, and
//! warnings. Every [`ConfigError`] names the file, line, column and key path,
//! and the closest valid key or value ("did you mean").
//!
//! The steps, one module each:
//! * `yaml`: text → documents as trees that keep positions (serde-saphyr:
//!   merge keys, anchors, duplicate keys, a budget against alias bombs);
//!   a serde `Deserializer` over those trees.
//! * `input`: the documents as written, serde-derived. Keys vendir also
//!   ignores are warnings (errors with `--strict`); under `ociArtifact`,
//!   which only vendoras reads, they are errors.
//! * `validate`: input → `model` types ([`Config`] and below), with the rules that need more
//!   than a shape: managed paths stay inside the project, overlaps, refs to
//!   Secrets and ConfigMaps, cosign, octal permissions.
//!
//! Adding a source kind: a variant of `input::SourceInput` with its input
//! type, a variant of [`Source`] with its domain type, the arm that turns
//! one into the other in `validate`, and its fetcher in `fetch`.
//!
//! # Notes on vendir compatibility
//!
//! * `permissions` are octal, as vendir users write them (`0755`), and also
//!   `755` and `0o755` — all mean `0o755`. Values above `0o777` are refused.
//! * String fields accept plain numbers as their literal text (`tag: 1.10` is
//!   `"1.10"`), which vendir would refuse.
//! * `minimumRequiredVersion` is kept as written (a leading `v` is refused,
//!   as vendir does); it names a vendir version, so it is not compared with
//!   vendoras's own version.
//! * `Secret` documents may use `data` (base64) and `stringData` (merged over
//!   `data`, as Kubernetes does); vendir reads only `data`. A Secret or
//!   ConfigMap defined twice must have the same data (as vendir requires for
//!   Secrets).
//! * A content's `newRootPath: .` is a no-op and is read as absent.
//! * Stricter than vendir: a directory needs at least one content, an inline
//!   source needs at least one path, filters (`includePaths`, `excludePaths`,
//!   `legalPaths`, `ignorePaths`, `newRootPath`) on a `manual` content are
//!   refused (vendir silently ignores them), and empty strings for `image`,
//!   `ociLayout`, `tag` and `platform` are refused.

// A ConfigError carries file, position, key path, message and suggestion;
// it is built once per failed load, so its size costs nothing.
#![allow(clippy::result_large_err)]

mod digest;
pub mod edit;
mod error;
mod input;
mod model;
mod signers;
mod validate;
mod yaml;

use std::collections::BTreeMap;

pub use digest::{config_digest, Pins};
pub use error::ConfigError;
pub use model::*;
pub use signers::{Keyless, Matcher, Signers, SignersError};
pub(crate) use validate::normalize_directory_path;
pub use validate::PathRules;

pub use crate::relpath::RelPath;

use error::suggest;
use validate::{Doc, Refs};
use yaml::{KeyPath, Seen, Value};

/// The `apiVersion` of a vendir `Config` document.
pub const API_VERSION: &str = "vendir.k14s.io/v1alpha1";
/// The `kind` of a vendir config document.
pub const KIND: &str = "Config";

/// One configuration input: a file, or stdin.
#[derive(Clone)]
pub struct Input {
    /// The file path as given, or `-` for stdin (errors then say `<stdin>`).
    pub name: String,
    /// The file's text.
    pub text: String,
}

impl Input {
    /// An input from a file's bytes. Bytes that are not UTF-8 are an error
    /// at the line and column of the first bad byte.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Result<Input, ConfigError> {
        let name = name.into();
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Input { name, text }),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let bytes = e.as_bytes();
                let before = &bytes[..at];
                let start = before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                // Everything before `at` is valid UTF-8: count characters.
                let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
                Err(ConfigError {
                    line: Some(before.iter().filter(|&&b| b == b'\n').count() + 1),
                    column: Some(column),
                    ..ConfigError::file(
                        display_name(&name),
                        format!(
                            "not UTF-8 text: byte 0x{:02x} (offset {at}) starts no UTF-8 \
                             character; save the file as UTF-8",
                            bytes[at]
                        ),
                    )
                })
            }
        }
    }
}

/// Leaves the text out: it may hold a Secret's `stringData`.
impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("bytes", &self.text.len())
            .finish()
    }
}

/// How to load.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Where managed paths may point.
    pub paths: PathRules,
    /// `--strict`: keys vendir ignores are errors, not warnings.
    pub strict: bool,
}

impl LoadOptions {
    /// Loads with these path rules; keys vendir ignores are warnings.
    pub fn new(paths: PathRules) -> LoadOptions {
        LoadOptions {
            paths,
            strict: false,
        }
    }
}

/// Everything [`load`] read from the inputs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Loaded {
    /// The one `Config` document.
    pub config: Config,
    /// `v1` `Secret` documents by `metadata.name`.
    pub secrets: BTreeMap<String, Secret>,
    /// `v1` `ConfigMap` documents by `metadata.name`.
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// Keys that were ignored, as vendir ignores them (never with `strict`).
    pub warnings: Vec<ConfigError>,
}

fn display_name(name: &str) -> &str {
    if name == "-" {
        "<stdin>"
    } else {
        name
    }
}

/// A document of one input.
struct Parsed<'a> {
    file: &'a str,
    value: Value,
}

impl<'a> Parsed<'a> {
    fn doc(&'a self, what: &'static str) -> Doc<'a> {
        Doc {
            file: self.file,
            root: &self.value,
            what,
        }
    }

    /// Deserialises the document as `T`; keys `T` does not read are added
    /// to `warnings` (or refused with `strict`).
    fn read<T: serde::de::DeserializeOwned>(
        &self,
        what: &'static str,
        strict: bool,
        warnings: &mut Vec<ConfigError>,
    ) -> Result<T, ConfigError> {
        let seen = Seen::default();
        let doc = self.doc(what);
        let t = yaml::from_value(&self.value, &KeyPath::default(), &seen)
            .map_err(|e| doc.de_error(e, &seen))?;
        for u in seen.unknown.borrow().iter() {
            let w = doc.unknown(u, strict);
            if strict {
                return Err(w);
            }
            warnings.push(w);
        }
        Ok(t)
    }
}

/// Reads every document of every input; returns the one `Config`, the
/// Secrets and ConfigMaps, and warnings. See the module documentation.
///
/// ```
/// use std::path::Path;
/// use vendoras::config::{self, Input, LoadOptions, OciLocation, PathRules, Source};
///
/// let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
/// let text = std::fs::read_to_string(example.join("vendir.yml")).unwrap();
/// let options = LoadOptions::new(PathRules::discover(&example, false));
/// let input = Input { name: "vendir.yml".into(), text: text.clone() };
/// let loaded = config::load(&[input], &options)?;
///
/// let directory = &loaded.config.directories[0];
/// assert_eq!(directory.path, "vendor/quickstart");
/// let Source::OciArtifact(artifact) = &directory.contents[0].source else {
///     panic!("an ociArtifact content");
/// };
/// assert_eq!(artifact.location, OciLocation::Layout("layout".into()));
/// assert_eq!(artifact.tag.as_deref(), Some("v1.0.0"));
///
/// // Mistakes are positioned, with the closest valid key.
/// let typo = text.replace("tag: v1.0.0", "tagg: v1.0.0");
/// let err = config::load(&[Input { name: "typo.yml".into(), text: typo }], &options)
///     .unwrap_err();
/// assert_eq!(err.key.as_deref(), Some("tagg"));
/// assert_eq!((err.line, err.column), (Some(9), Some(7)));
/// assert_eq!(err.suggestion.as_deref(), Some("tag"));
/// # Ok::<(), vendoras::config::ConfigError>(())
/// ```
pub fn load(inputs: &[Input], options: &LoadOptions) -> Result<Loaded, ConfigError> {
    let mut configs: Vec<Parsed<'_>> = Vec::new();
    let mut secret_docs: Vec<Parsed<'_>> = Vec::new();
    let mut config_map_docs: Vec<Parsed<'_>> = Vec::new();
    for input in inputs {
        let file = display_name(&input.name);
        let docs = yaml::documents(&input.text).map_err(|e| ConfigError {
            line: e.pos.map(|p| p.line),
            column: e.pos.map(|p| p.column),
            ..ConfigError::file(file, format!("invalid YAML: {}", e.message))
        })?;
        for value in docs {
            let parsed = Parsed { file, value };
            let doc = parsed.doc("the document");
            let root = KeyPath::default();
            if !matches!(parsed.value.node, yaml::Node::Map(_)) {
                return Err(doc.err(
                    &root,
                    format!(
                        "expected a mapping with `apiVersion` and `kind`, found {}",
                        parsed.value.describe()
                    ),
                ));
            }
            let (Some(api), Some(kind)) = (
                parsed.value.str_at("apiVersion").map(str::to_string),
                parsed.value.str_at("kind").map(str::to_string),
            ) else {
                return Err(doc.err(
                    &root,
                    "document has no `apiVersion` and `kind`; expected `apiVersion: \
                     vendir.k14s.io/v1alpha1` and `kind: Config` (or a v1 Secret or ConfigMap)",
                ));
            };
            match (api.as_str(), kind.as_str()) {
                (API_VERSION, KIND) => configs.push(parsed),
                ("v1", "Secret") => secret_docs.push(parsed),
                ("v1", "ConfigMap") => config_map_docs.push(parsed),
                (_, KIND) => {
                    return Err(doc.err(
                        &root.k("apiVersion"),
                        format!(
                        "unsupported apiVersion `{api}` for kind Config; expected `{API_VERSION}`"
                    ),
                    ))
                }
                (_, "Secret" | "ConfigMap") => {
                    return Err(doc.err(
                        &root.k("apiVersion"),
                        format!("unsupported apiVersion `{api}` for kind {kind}; expected `v1`"),
                    ))
                }
                (API_VERSION, "LockConfig") => {
                    return Err(doc.err(
                        &root.k("kind"),
                        "this is a lock file (kind LockConfig), not a config; pass it with \
                         --lock-file",
                    ))
                }
                _ => {
                    let e = doc.err(
                        &root.k("kind"),
                        format!(
                            "unsupported document: apiVersion `{api}`, kind `{kind}`; expected \
                             `apiVersion: {API_VERSION}` with `kind: Config`, or `apiVersion: v1` \
                             with `kind: Secret` or `kind: ConfigMap`"
                        ),
                    );
                    return Err(ConfigError {
                        suggestion: suggest(&kind, &["Config", "Secret", "ConfigMap"])
                            .filter(|s| *s != kind)
                            .map(str::to_string),
                        ..e
                    });
                }
            }
        }
    }

    let mut warnings = Vec::new();
    let strict = options.strict;
    let secrets = collect_named(&secret_docs, "Secret", |p| {
        let s = p.read("the Secret", strict, &mut warnings)?;
        validate::secret(&p.doc("the Secret"), s).map(|s| (s.name.clone(), s))
    })?;
    let config_maps = collect_named(&config_map_docs, "ConfigMap", |p| {
        let c = p.read("the ConfigMap", strict, &mut warnings)?;
        validate::config_map(&p.doc("the ConfigMap"), c).map(|c| (c.name.clone(), c))
    })?;

    let mut configs = configs.iter();
    let Some(parsed) = configs.next() else {
        let files: Vec<&str> = inputs.iter().map(|i| display_name(&i.name)).collect();
        let file = if files.is_empty() {
            "<no input>".to_string()
        } else {
            files.join(", ")
        };
        return Err(ConfigError::file(
            &file,
            format!(
                "no Config document found; expected one with `apiVersion: {API_VERSION}` and \
                 `kind: Config`"
            ),
        ));
    };
    let kind = KeyPath::default().k("kind");
    if let Some(second) = configs.next() {
        let first = parsed
            .value
            .locate(&kind, false)
            .map_or(String::new(), |p| format!(":{}", p.line));
        return Err(second.doc("the Config").err(
            &kind,
            format!(
                "a second Config document; exactly one is allowed (the first is at {}{first})",
                parsed.file
            ),
        ));
    }
    let input = parsed.read("the Config", strict, &mut warnings)?;
    let refs = Refs {
        unknown: &warnings,
        secrets: &secrets,
        config_maps: &config_maps,
        rules: &options.paths,
    };
    let config = validate::config(&parsed.doc("the Config"), input, &refs)?;
    Ok(Loaded {
        config,
        secrets,
        config_maps,
        warnings,
    })
}

/// Reads named documents (Secrets, ConfigMaps) into a map by name; the same
/// name twice must carry the same data.
fn collect_named<T: PartialEq>(
    docs: &[Parsed<'_>],
    kind: &str,
    mut read: impl FnMut(&Parsed<'_>) -> Result<(String, T), ConfigError>,
) -> Result<BTreeMap<String, T>, ConfigError> {
    let mut items: BTreeMap<String, T> = BTreeMap::new();
    let mut places: BTreeMap<String, String> = BTreeMap::new();
    let at = KeyPath::default().k("metadata").k("name");
    for parsed in docs {
        let (name, item) = read(parsed)?;
        let doc = parsed.doc("the document");
        let place = match parsed.value.locate(&at, false) {
            Some(p) => format!("{}:{}", parsed.file, p.line),
            None => parsed.file.to_string(),
        };
        if let Some(prev) = items.get(&name) {
            if prev != &item {
                return Err(doc.err(
                    &at,
                    format!(
                        "{kind} `{name}` is defined twice with different data (first at {})",
                        places[&name]
                    ),
                ));
            }
            continue;
        }
        places.insert(name.clone(), place);
        items.insert(name, item);
    }
    Ok(items)
}

#[cfg(test)]
mod tests;
