//! `vendir.yml` parsing: vendir's schema, read strictly.
//!
//! [`load`] takes every `-f` input (several YAML documents each) and returns
//! the one `Config` plus the `v1` `Secret`s and `ConfigMap`s beside it. It is
//! stricter than vendir on purpose (SPEC §1): unknown keys are errors with a
//! "did you mean", every path is normalised and confined, overlapping managed
//! paths are refused, references must resolve. Every [`ConfigError`] names
//! the file and the line (and column and key where there is one).
//!
//! # How positions are found
//!
//! Each document is read into a [`serde_yaml::Value`] (syntax errors carry
//! serde_yaml's position). The schema is then checked by hand on that tree,
//! tracking the key path (`directories[0].contents[1].path`). When a check
//! fails, the position is recovered by deserialising the same document again
//! with a small seed that walks that key path and fails on purpose at the
//! target; serde_yaml stamps the failure with the mark of the node (or key)
//! it was reading. serde_yaml's marks count from the start of the input, so
//! positions are relative to the file even for the third document in it. The
//! same walk reads the *raw* scalar text where YAML 1.2 typing would lose it
//! (`permissions: 0o755`, `tag: 1.10`).
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

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// The `apiVersion` of a vendir `Config` document.
pub const API_VERSION: &str = "vendir.k14s.io/v1alpha1";
/// The `kind` of a vendir config document.
pub const KIND: &str = "Config";

/// One configuration input: a file, or stdin.
#[derive(Debug, Clone)]
pub struct Input {
    /// The file path as given, or `-` for stdin (errors then say `<stdin>`).
    pub name: String,
    /// The file's text.
    pub text: String,
}

/// Everything [`load`] read from the inputs.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The one `Config` document.
    pub config: Config,
    /// `v1` `Secret` documents by `metadata.name`.
    pub secrets: BTreeMap<String, Secret>,
    /// `v1` `ConfigMap` documents by `metadata.name`.
    pub config_maps: BTreeMap<String, ConfigMap>,
}

/// A vendir `Config` document.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `minimumRequiredVersion`, as written (a vendir version).
    pub minimum_required_version: Option<String>,
    /// `directories`, in file order.
    pub directories: Vec<Directory>,
}

/// One `directories[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    /// Normalised relative path, `/`-separated; never `.`, never escaping.
    pub path: String,
    /// `permissions` (octal in the file), at most `0o777`.
    pub permissions: Option<u32>,
    /// `contents`, in file order; at least one.
    pub contents: Vec<Content>,
}

/// One `contents[]` entry of a directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    /// Normalised path relative to the directory; `.` is the directory itself.
    pub path: String,
    /// `lazy`: skip when the content's config is unchanged since the last sync.
    pub lazy: bool,
    /// `includePaths` globs (validated).
    pub include_paths: Vec<String>,
    /// `excludePaths` globs (validated).
    pub exclude_paths: Vec<String>,
    /// `ignorePaths` globs (validated): existing files sync must keep.
    pub ignore_paths: Vec<String>,
    /// `legalPaths` globs; `None` means vendir's defaults, `Some(vec![])` none.
    pub legal_paths: Option<Vec<String>>,
    /// Normalised `newRootPath`; `None` when absent or `.`.
    pub new_root_path: Option<String>,
    /// `permissions` (octal in the file), at most `0o777`.
    pub permissions: Option<u32>,
    /// The one source.
    pub source: Source,
    /// The content's mapping as given (after YAML merge keys), as JSON; the
    /// input to the `lazy` config digest.
    pub raw: serde_json::Value,
}

impl Content {
    /// The source's key in `vendir.yml`: `ociArtifact`, `manual`,
    /// `directory` or `inline`.
    pub fn source_kind(&self) -> &'static str {
        match self.source {
            Source::OciArtifact(_) => "ociArtifact",
            Source::Manual => "manual",
            Source::Directory { .. } => "directory",
            Source::Inline(_) => "inline",
        }
    }
}

/// A content's source.
// Not boxed: the engine matches `Source::OciArtifact(o)` directly, and a
// handful of these per config costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `ociArtifact:`.
    OciArtifact(OciArtifact),
    /// `manual: {}`: files managed by hand, kept as they are.
    Manual,
    /// `directory: {path}`: copy a local directory.
    Directory {
        /// The local directory to copy (as written; may be outside).
        path: String,
    },
    /// `inline:`: files given in the config or from Secrets/ConfigMaps.
    Inline(Inline),
}

/// The `ociArtifact` source (SPEC §1).
#[derive(Debug, Clone, PartialEq)]
pub struct OciArtifact {
    /// `image`: repository, possibly with `:tag` and/or `@digest` (unparsed).
    pub image: Option<String>,
    /// `ociLayout`: a local OCI image layout directory instead of `image`.
    pub oci_layout: Option<String>,
    /// `tag`; `None` when not given (the engine applies `latest`).
    pub tag: Option<String>,
    /// `tagSelection` (excludes `tag` and a digest in `image`).
    pub tag_selection: Option<TagSelection>,
    /// `mediaTypes`: keep only layers with these media types; empty = all.
    pub media_types: Vec<String>,
    /// `platform`, e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// `unpack` mode.
    pub unpack: Unpack,
    /// `secretRef`: registry credentials (the Secret exists).
    pub secret_ref: Option<SecretRef>,
    /// `plainHTTP`; `None` when not given.
    pub plain_http: Option<bool>,
    /// `dangerousSkipTLSVerify`.
    pub dangerous_skip_tls_verify: bool,
    /// `cosign` verification (SPEC §5).
    pub cosign: Option<Cosign>,
}

/// How layers land on disk (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unpack {
    /// `auto` (default).
    #[default]
    Auto,
    /// `files`: exactly what `oras pull` writes.
    Files,
    /// `archives`: every selected layer is an archive, extracted.
    Archives,
}

/// `tagSelection` (vendir's `VersionSelection`).
#[derive(Debug, Clone, PartialEq)]
pub struct TagSelection {
    /// `semver`.
    pub semver: Semver,
}

/// `tagSelection.semver`.
#[derive(Debug, Clone, PartialEq)]
pub struct Semver {
    /// `constraints`, e.g. `>=1.2.0 <2.0.0`.
    pub constraints: String,
    /// `prereleases.identifiers`: `None` = no prereleases; `Some(vec![])`
    /// (`prereleases: {}`) = all prereleases; otherwise only those whose
    /// prerelease part has one of these identifiers.
    pub prerelease_identifiers: Option<Vec<String>>,
}

/// A reference to a `Secret` document by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// `metadata.name` of the Secret.
    pub name: String,
}

/// `cosign:` (SPEC §5). Either key-based (`key` or `secretRef`) or keyless
/// (an identity and an issuer), never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosign {
    /// `key`: path to a cosign public key.
    pub key: Option<String>,
    /// `secretRef`: a Secret whose `*.pub` keys are tried.
    pub secret_ref: Option<SecretRef>,
    /// `certificateIdentity`.
    pub certificate_identity: Option<String>,
    /// `certificateIdentityRegexp`.
    pub certificate_identity_regexp: Option<String>,
    /// `certificateOidcIssuer`.
    pub certificate_oidc_issuer: Option<String>,
    /// `certificateOidcIssuerRegexp`.
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// `trustedRoot`: a `trusted_root.json` for private Sigstore.
    pub trusted_root: Option<String>,
}

/// The `inline` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    /// `paths`: normalised relative file path → content.
    pub paths: BTreeMap<String, String>,
    /// `pathsFrom`.
    pub paths_from: Vec<InlineFrom>,
}

/// One `inline.pathsFrom[]` entry: exactly one of the two refs is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFrom {
    /// `secretRef`: every key of the Secret becomes a file.
    pub secret_ref: Option<InlineRef>,
    /// `configMapRef`: every key of the ConfigMap becomes a file.
    pub config_map_ref: Option<InlineRef>,
}

/// A `secretRef` / `configMapRef` in `inline.pathsFrom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineRef {
    /// The Secret's or ConfigMap's `metadata.name` (it exists).
    pub name: String,
    /// `directoryPath`: normalised relative subdirectory for the files.
    pub directory_path: Option<String>,
}

/// A `v1` `Secret` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    /// `metadata.name`.
    pub name: String,
    /// `data` (base64-decoded) merged with `stringData` (which wins).
    pub data: BTreeMap<String, Vec<u8>>,
}

/// A `v1` `ConfigMap` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMap {
    /// `metadata.name`.
    pub name: String,
    /// `data`.
    pub data: BTreeMap<String, String>,
}

/// A configuration error, positioned: `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.file, .line, .column, .message))]
pub struct ConfigError {
    /// The input's name (`<stdin>` for `-`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key the error is about, when there is one.
    pub key: Option<String>,
    /// What is wrong (without the position).
    pub message: String,
}

fn render(file: &str, line: &Option<usize>, column: &Option<usize>, message: &str) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{file}:{l}:{c}: {message}"),
        (Some(l), None) => format!("{file}:{l}: {message}"),
        _ => format!("{file}: {message}"),
    }
}

// ---------------------------------------------------------------------------
// Key paths and the position locator

#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A key path inside one document.
#[derive(Debug, Clone, Default)]
struct P(Vec<Seg>);

impl P {
    fn k(&self, key: &str) -> P {
        let mut v = self.0.clone();
        v.push(Seg::Key(key.to_string()));
        P(v)
    }
    fn i(&self, index: usize) -> P {
        let mut v = self.0.clone();
        v.push(Seg::Index(index));
        P(v)
    }
    fn last_key(&self) -> Option<String> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k.clone()),
            _ => None,
        }
    }
}

impl fmt::Display for P {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                Seg::Key(k) if first => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

const MARK: &str = "\u{1}vendoras-locate\u{1}";

#[derive(Clone, Copy, PartialEq)]
enum Want {
    /// The node at the path.
    Node,
    /// The key of the last path segment.
    Key,
    /// The raw scalar text at the path.
    Raw,
}

struct Locate<'a> {
    path: &'a [Seg],
    want: Want,
    raw: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.path.first() {
            None if self.want == Want::Raw => d.deserialize_str(RawV(self.raw)),
            None => d.deserialize_any(Stop),
            Some(Seg::Key(_)) => d.deserialize_map(self),
            Some(Seg::Index(_)) => d.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or sequence")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(Seg::Key(name)) = self.path.first() else {
            return Err(de::Error::custom("not found"));
        };
        let stop_at_key = self.path.len() == 1 && self.want == Want::Key;
        while let Some(found) = map.next_key_seed(KeySeed {
            name,
            stop: stop_at_key,
        })? {
            if found {
                return map.next_value_seed(Locate {
                    path: &self.path[1..],
                    want: self.want,
                    raw: self.raw,
                });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom("not found"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(Seg::Index(index)) = self.path.first() else {
            return Err(de::Error::custom("not found"));
        };
        for _ in 0..*index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Err(de::Error::custom("not found"));
            }
        }
        seq.next_element_seed(Locate {
            path: &self.path[1..],
            want: self.want,
            raw: self.raw,
        })?;
        Err(de::Error::custom("not found"))
    }
}

/// Reads a mapping key; `true` when it is `name`. With `stop`, fails (with
/// the marker, so at the key's position) when it is.
struct KeySeed<'a> {
    name: &'a str,
    stop: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        if v == self.name && self.stop {
            Err(E::custom(MARK))
        } else {
            Ok(v == self.name)
        }
    }
}

/// Fails on whatever node it is given, with the marker.
struct Stop;

impl<'de> Visitor<'de> for Stop {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MARK)
    }
}

/// Records the raw scalar text, then fails with the marker.
struct RawV<'a>(&'a RefCell<Option<String>>);

impl<'de> Visitor<'de> for RawV<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MARK)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        *self.0.borrow_mut() = Some(v.to_string());
        Err(E::custom(MARK))
    }
}

/// One YAML document of one input.
struct Doc<'a> {
    file: &'a str,
    text: &'a str,
    index: usize,
}

impl Doc<'_> {
    /// Walks to `path`; returns (line, column) and the raw scalar for `Raw`.
    fn walk(&self, path: &[Seg], want: Want) -> Option<((usize, usize), Option<String>)> {
        let raw = RefCell::new(None);
        let doc = serde_yaml::Deserializer::from_str(self.text).nth(self.index)?;
        let err = Locate {
            path,
            want,
            raw: &raw,
        }
        .deserialize(doc)
        .err()?;
        if !err.to_string().contains(MARK) {
            return None;
        }
        let loc = err.location()?;
        Some(((loc.line(), loc.column()), raw.into_inner()))
    }

    /// The position of the node (or key) at `path`, else of its nearest
    /// ancestor that can be found.
    fn locate(&self, path: &P, want: Want) -> Option<(usize, usize)> {
        if let Some((pos, _)) = self.walk(&path.0, want) {
            return Some(pos);
        }
        (0..path.0.len())
            .rev()
            .find_map(|n| self.walk(&path.0[..n], Want::Node).map(|(pos, _)| pos))
    }

    fn raw(&self, path: &P) -> Option<String> {
        self.walk(&path.0, Want::Raw).and_then(|(_, raw)| raw)
    }

    fn error(&self, path: &P, want: Want, key: Option<String>, message: String) -> ConfigError {
        let pos = self.locate(path, want);
        ConfigError {
            file: self.file.to_string(),
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            key,
            message,
        }
    }

    /// An error about the value at `path`.
    fn err(&self, path: &P, message: impl Into<String>) -> ConfigError {
        self.error(path, Want::Node, path.last_key(), message.into())
    }

    /// An error about the key that ends `path`.
    fn err_key(&self, path: &P, message: impl Into<String>) -> ConfigError {
        self.error(path, Want::Key, path.last_key(), message.into())
    }

    /// `file:line` of the node at `path`, for messages naming a second place.
    fn place(&self, path: &P) -> String {
        match self.locate(path, Want::Node) {
            Some((l, _)) => format!("{}:{l}", self.file),
            None => self.file.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------
// Schema helpers

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn where_(p: &P, root: &str) -> String {
    if p.0.is_empty() {
        root.to_string()
    } else {
        p.to_string()
    }
}

/// The closest candidate to `key`, if any is close enough.
fn suggest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

const SOURCES: &[&str] = &["ociArtifact", "manual", "directory", "inline"];
const UNSUPPORTED_SOURCES: &[&str] = &[
    "git",
    "hg",
    "http",
    "image",
    "imgpkgBundle",
    "githubRelease",
    "helmChart",
];

struct Ctx<'a> {
    doc: Doc<'a>,
    /// What the document root is called in messages.
    root: &'static str,
}

impl<'a> Ctx<'a> {
    fn map<'v>(&self, v: &'v Value, p: &P, what: &str) -> Result<&'v Mapping, ConfigError> {
        match v {
            Value::Mapping(m) => Ok(m),
            other => Err(self.doc.err(
                p,
                format!(
                    "{} must be {what}, found {}",
                    where_(p, self.root),
                    kind_of(other)
                ),
            )),
        }
    }

    fn check_keys(
        &self,
        m: &Mapping,
        p: &P,
        allowed: &[&str],
        sources: bool,
    ) -> Result<(), ConfigError> {
        for k in m.keys() {
            let Value::String(k) = k else {
                return Err(self.doc.err(
                    p,
                    format!(
                        "keys in {} must be strings, found {}",
                        where_(p, self.root),
                        kind_of(k)
                    ),
                ));
            };
            if allowed.contains(&k.as_str()) {
                continue;
            }
            let kp = p.k(k);
            if sources && UNSUPPORTED_SOURCES.contains(&k.as_str()) {
                return Err(self.doc.err_key(
                    &kp,
                    format!(
                        "`{k}` contents are not supported by vendoras yet \
                         (supported sources: ociArtifact, manual, directory, inline)"
                    ),
                ));
            }
            let mut message = format!("unknown key `{k}` in {}", where_(p, self.root));
            match suggest(k, allowed) {
                Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                None => message.push_str(&format!("; valid keys: {}", allowed.join(", "))),
            }
            return Err(self.doc.err_key(&kp, message));
        }
        Ok(())
    }

    /// A scalar as text; numbers and booleans as written.
    fn scalar(&self, v: &Value, p: &P) -> Result<String, ConfigError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(self.doc.raw(p).unwrap_or_else(|| n.to_string())),
            Value::Bool(b) => Ok(self.doc.raw(p).unwrap_or_else(|| b.to_string())),
            other => Err(self.doc.err(
                p,
                format!("{} must be a string, found {}", p, kind_of(other)),
            )),
        }
    }

    /// An optional string; absent or null is `None`.
    fn opt_str(&self, m: &Mapping, p: &P, key: &str) -> Result<Option<String>, ConfigError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.scalar(v, &p.k(key)).map(Some),
        }
    }

    /// An optional string that must not be empty when given.
    fn opt_nonempty(&self, m: &Mapping, p: &P, key: &str) -> Result<Option<String>, ConfigError> {
        let s = self.opt_str(m, p, key)?;
        if s.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(self
                .doc
                .err(&p.k(key), format!("{} must not be empty", p.k(key))));
        }
        Ok(s)
    }

    fn req_str(&self, m: &Mapping, p: &P, key: &str) -> Result<String, ConfigError> {
        match self.opt_nonempty(m, p, key)? {
            Some(s) => Ok(s),
            None => Err(self.doc.error(
                p,
                Want::Node,
                Some(key.to_string()),
                format!("missing required key `{key}` in {}", where_(p, self.root)),
            )),
        }
    }

    fn opt_bool(&self, m: &Mapping, p: &P, key: &str) -> Result<Option<bool>, ConfigError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.doc.err(
                &p.k(key),
                format!(
                    "{} must be true or false, found {}",
                    p.k(key),
                    kind_of(other)
                ),
            )),
        }
    }

    /// An optional list of strings; `None` when absent or null.
    fn opt_list(&self, m: &Mapping, p: &P, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let kp = p.k(key);
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Sequence(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.scalar(v, &kp.i(i)))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.doc.err(
                &kp,
                format!("{kp} must be a list of strings, found {}", kind_of(other)),
            )),
        }
    }

    /// A list of glob patterns, each checked.
    fn globs(&self, m: &Mapping, p: &P, key: &str) -> Result<Option<Vec<String>>, ConfigError> {
        let list = self.opt_list(m, p, key)?;
        for (i, pattern) in list.iter().flatten().enumerate() {
            crate::filter::check_pattern(pattern)
                .map_err(|e| self.doc.err(&p.k(key).i(i), format!("{}: {e}", p.k(key))))?;
        }
        Ok(list)
    }

    fn permissions(&self, m: &Mapping, p: &P) -> Result<Option<u32>, ConfigError> {
        let kp = p.k("permissions");
        let raw = match m.get("permissions") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => self.doc.raw(&kp).unwrap_or_else(|| n.to_string()),
            Some(other) => {
                return Err(self.doc.err(
                    &kp,
                    format!(
                        "{kp} must be an octal mode like 0755, found {}",
                        kind_of(other)
                    ),
                ))
            }
        };
        parse_permissions(&raw)
            .map(Some)
            .map_err(|e| self.doc.err(&kp, format!("{kp}: {e}")))
    }

    fn rel_path(&self, raw: &str, p: &P) -> Result<String, ConfigError> {
        normalize_rel(raw).map_err(|e| self.doc.err(p, format!("{p} `{raw}` {e}")))
    }

    fn secret_ref(
        &self,
        v: &Value,
        p: &P,
        secrets: &BTreeMap<String, Secret>,
    ) -> Result<SecretRef, ConfigError> {
        let m = self.map(v, p, "a mapping with `name`")?;
        self.check_keys(m, p, &["name"], false)?;
        let name = self.req_str(m, p, "name")?;
        if !secrets.contains_key(&name) {
            return Err(self.doc.err(
                &p.k("name"),
                format!(
                    "{p} names Secret `{name}`, which is not defined; add a `v1` `Secret` \
                     document with `metadata.name: {name}` to the config inputs{}",
                    known("Secrets", secrets.keys())
                ),
            ));
        }
        Ok(SecretRef { name })
    }
}

fn known<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" (defined {what}: {})", names.join(", "))
    }
}

/// Parses an octal mode: `0755`, `755` and `0o755` are all `0o755`.
fn parse_permissions(raw: &str) -> Result<u32, String> {
    let s = raw.trim();
    let digits = s
        .strip_prefix("0o")
        .or_else(|| s.strip_prefix("0O"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{raw}` is not an octal mode like 0755"));
    }
    if digits.bytes().any(|b| b == b'8' || b == b'9') {
        return Err(format!("`{raw}` is not octal (use digits 0-7, like 0755)"));
    }
    let trimmed = digits.trim_start_matches('0');
    let value = if trimmed.is_empty() {
        0
    } else if trimmed.len() > 4 {
        u32::MAX
    } else {
        u32::from_str_radix(trimmed, 8).unwrap_or(u32::MAX)
    };
    if value > 0o777 {
        return Err(format!(
            "`{raw}` is above 0777 (setuid, setgid and sticky bits are not allowed)"
        ));
    }
    Ok(value)
}

/// Normalises a relative `/`-separated path lexically; refuses absolute
/// paths, backslashes and `..` that climbs out. `""` → error; `a/..` → `.`.
fn normalize_rel(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    if raw.starts_with('/') {
        return Err("must be relative (absolute paths are refused)".to_string());
    }
    if raw.contains('\\') {
        return Err("must use `/` separators (backslashes are refused)".to_string());
    }
    if raw.contains('\0') {
        return Err("must not contain NUL".to_string());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("escapes the working directory (`..`)".to_string());
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        Ok(".".to_string())
    } else {
        Ok(parts.join("/"))
    }
}

/// `a` and `b` are equal or one contains the other.
fn overlaps(a: &str, b: &str) -> bool {
    a == b
        || b.strip_prefix(a).is_some_and(|r| r.starts_with('/'))
        || a.strip_prefix(b).is_some_and(|r| r.starts_with('/'))
}

// ---------------------------------------------------------------------------
// Loading

struct Parsed<'a> {
    doc: Doc<'a>,
    value: Value,
}

fn display_name(name: &str) -> &str {
    if name == "-" {
        "<stdin>"
    } else {
        name
    }
}

/// Drops serde_yaml's " at line N column M" (the position is reported apart).
fn strip_location(message: &str) -> String {
    const AT: &str = " at line ";
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find(AT) {
        let after = rest[i + AT.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        match after.strip_prefix(" column ") {
            Some(after) => {
                out.push_str(&rest[..i]);
                rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
            }
            None => {
                out.push_str(&rest[..i + AT.len()]);
                rest = &rest[i + AT.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads every document of every input; returns the one `Config` and the
/// Secrets and ConfigMaps. See the module documentation for the rules.
pub fn load(inputs: &[Input]) -> Result<Loaded, ConfigError> {
    // Pass 1: read documents, check envelopes.
    let mut configs: Vec<Parsed<'_>> = Vec::new();
    let mut secret_docs: Vec<Parsed<'_>> = Vec::new();
    let mut config_map_docs: Vec<Parsed<'_>> = Vec::new();
    for input in inputs {
        let file = display_name(&input.name);
        for (index, de) in serde_yaml::Deserializer::from_str(&input.text).enumerate() {
            let doc = Doc {
                file,
                text: &input.text,
                index,
            };
            let mut value = Value::deserialize(de).map_err(|e| {
                let loc = e.location();
                ConfigError {
                    file: file.to_string(),
                    line: loc.as_ref().map(|l| l.line()),
                    column: loc.as_ref().map(|l| l.column()),
                    key: None,
                    message: format!("invalid YAML: {}", strip_location(&e.to_string())),
                }
            })?;
            if value.is_null() {
                continue;
            }
            value
                .apply_merge()
                .map_err(|e| doc.err(&P::default(), format!("YAML merge key: {e}")))?;
            let root = P::default();
            let Value::Mapping(m) = &value else {
                return Err(doc.err(
                    &root,
                    format!(
                        "expected a mapping with `apiVersion` and `kind`, found {}",
                        kind_of(&value)
                    ),
                ));
            };
            let ctx = Ctx {
                doc,
                root: "the document",
            };
            let api = ctx.opt_str(m, &root, "apiVersion")?;
            let kind = ctx.opt_str(m, &root, "kind")?;
            let (Some(api), Some(kind)) = (api, kind) else {
                return Err(ctx.doc.err(
                    &root,
                    "document has no `apiVersion` and `kind`; expected `apiVersion: \
                     vendir.k14s.io/v1alpha1` and `kind: Config` (or a v1 Secret or ConfigMap)",
                ));
            };
            let doc = ctx.doc;
            match (api.as_str(), kind.as_str()) {
                (API_VERSION, KIND) => configs.push(Parsed { doc, value }),
                ("v1", "Secret") => secret_docs.push(Parsed { doc, value }),
                ("v1", "ConfigMap") => config_map_docs.push(Parsed { doc, value }),
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
                    let mut message = format!(
                        "unsupported document: apiVersion `{api}`, kind `{kind}`; expected \
                         `apiVersion: {API_VERSION}` with `kind: Config`, or `apiVersion: v1` \
                         with `kind: Secret` or `kind: ConfigMap`"
                    );
                    if let Some(s) = suggest(&kind, &["Config", "Secret", "ConfigMap"]) {
                        if s != kind {
                            message.push_str(&format!("; did you mean kind `{s}`?"));
                        }
                    }
                    return Err(doc.err(&root.k("kind"), message));
                }
            }
        }
    }

    // Secrets and ConfigMaps.
    let secrets = collect_named(secret_docs, "Secret", parse_secret, |s| &s.name)?;
    let config_maps = collect_named(config_map_docs, "ConfigMap", parse_config_map, |c| &c.name)?;

    // The one Config.
    let mut configs = configs.into_iter();
    let Some(parsed) = configs.next() else {
        let files: Vec<&str> = inputs.iter().map(|i| display_name(&i.name)).collect();
        return Err(ConfigError {
            file: if files.is_empty() {
                "<no input>".to_string()
            } else {
                files.join(", ")
            },
            line: None,
            column: None,
            key: None,
            message: format!(
                "no Config document found; expected one with `apiVersion: {API_VERSION}` and \
                 `kind: Config`"
            ),
        });
    };
    if let Some(second) = configs.next() {
        return Err(second.doc.err(
            &P::default().k("kind"),
            format!(
                "a second Config document; exactly one is allowed (the first is at {})",
                parsed.doc.place(&P::default().k("kind"))
            ),
        ));
    }
    let ctx = Ctx {
        doc: parsed.doc,
        root: "the Config",
    };
    let config = parse_config(&ctx, &parsed.value, &secrets, &config_maps)?;
    Ok(Loaded {
        config,
        secrets,
        config_maps,
    })
}

fn parse_metadata_name(ctx: &Ctx<'_>, m: &Mapping, p: &P) -> Result<String, ConfigError> {
    let Some(meta) = m.get("metadata") else {
        return Err(ctx.doc.error(
            p,
            Want::Node,
            Some("metadata".into()),
            format!("{} has no `metadata.name`", ctx.root),
        ));
    };
    let mp = p.k("metadata");
    let meta = ctx.map(meta, &mp, "a mapping")?;
    ctx.check_keys(
        meta,
        &mp,
        &["name", "namespace", "labels", "annotations"],
        false,
    )?;
    ctx.req_str(meta, &mp, "name")
}

/// A `string → string` mapping (values as written).
fn string_map(
    ctx: &Ctx<'_>,
    m: &Mapping,
    p: &P,
    key: &str,
) -> Result<Vec<(String, String)>, ConfigError> {
    let kp = p.k(key);
    let Some(v) = m.get(key) else {
        return Ok(Vec::new());
    };
    if v.is_null() {
        return Ok(Vec::new());
    }
    let dm = ctx.map(v, &kp, "a mapping of strings")?;
    let mut out = Vec::new();
    for (k, v) in dm {
        let Value::String(k) = k else {
            return Err(ctx.doc.err(&kp, format!("keys in {kp} must be strings")));
        };
        let vp = kp.k(k);
        let v = match v {
            Value::Null => String::new(),
            v => ctx.scalar(v, &vp)?,
        };
        out.push((k.clone(), v));
    }
    Ok(out)
}

/// Parses named documents (Secrets, ConfigMaps) into a map by name; the
/// same name twice must carry the same data.
fn collect_named<T: PartialEq>(
    docs: Vec<Parsed<'_>>,
    kind: &'static str,
    parse: fn(&Ctx<'_>, &Value) -> Result<T, ConfigError>,
    name: fn(&T) -> &String,
) -> Result<BTreeMap<String, T>, ConfigError> {
    let mut items: BTreeMap<String, T> = BTreeMap::new();
    let mut places: BTreeMap<String, String> = BTreeMap::new();
    let root = if kind == "Secret" {
        "the Secret"
    } else {
        "the ConfigMap"
    };
    for parsed in docs {
        let ctx = Ctx {
            doc: parsed.doc,
            root,
        };
        let item = parse(&ctx, &parsed.value)?;
        let key = name(&item).clone();
        let at = P::default().k("metadata").k("name");
        if let Some(prev) = items.get(&key) {
            if prev != &item {
                return Err(ctx.doc.err(
                    &at,
                    format!(
                        "{kind} `{key}` is defined twice with different data (first at {})",
                        places[&key]
                    ),
                ));
            }
            continue;
        }
        places.insert(key.clone(), ctx.doc.place(&at));
        items.insert(key, item);
    }
    Ok(items)
}

fn parse_secret(ctx: &Ctx<'_>, v: &Value) -> Result<Secret, ConfigError> {
    let p = P::default();
    let m = ctx.map(v, &p, "a mapping")?;
    ctx.check_keys(
        m,
        &p,
        &[
            "apiVersion",
            "kind",
            "metadata",
            "type",
            "data",
            "stringData",
            "immutable",
        ],
        false,
    )?;
    let name = parse_metadata_name(ctx, m, &p)?;
    ctx.opt_str(m, &p, "type")?;
    ctx.opt_bool(m, &p, "immutable")?;
    let mut data = BTreeMap::new();
    for (k, v) in string_map(ctx, m, &p, "data")? {
        let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| {
                ctx.doc.err(
                    &p.k("data").k(&k),
                    format!("Secret `{name}` data.{k} is not valid base64 ({e}); use stringData for plain text"),
                )
            })?;
        data.insert(k, bytes);
    }
    for (k, v) in string_map(ctx, m, &p, "stringData")? {
        data.insert(k, v.into_bytes());
    }
    Ok(Secret { name, data })
}

fn parse_config_map(ctx: &Ctx<'_>, v: &Value) -> Result<ConfigMap, ConfigError> {
    let p = P::default();
    let m = ctx.map(v, &p, "a mapping")?;
    ctx.check_keys(
        m,
        &p,
        &["apiVersion", "kind", "metadata", "data", "immutable"],
        false,
    )?;
    let name = parse_metadata_name(ctx, m, &p)?;
    ctx.opt_bool(m, &p, "immutable")?;
    let data = string_map(ctx, m, &p, "data")?.into_iter().collect();
    Ok(ConfigMap { name, data })
}

fn parse_config(
    ctx: &Ctx<'_>,
    v: &Value,
    secrets: &BTreeMap<String, Secret>,
    config_maps: &BTreeMap<String, ConfigMap>,
) -> Result<Config, ConfigError> {
    let p = P::default();
    let m = ctx.map(v, &p, "a mapping")?;
    ctx.check_keys(
        m,
        &p,
        &[
            "apiVersion",
            "kind",
            "minimumRequiredVersion",
            "directories",
        ],
        false,
    )?;
    let minimum_required_version = ctx.opt_nonempty(m, &p, "minimumRequiredVersion")?;
    if let Some(v) = &minimum_required_version {
        if let Some(bare) = v.strip_prefix('v') {
            return Err(ctx.doc.err(
                &p.k("minimumRequiredVersion"),
                format!(
                    "minimumRequiredVersion `{v}` must not have a `v` prefix (e.g. `{}`)",
                    bare
                ),
            ));
        }
    }
    let dp = p.k("directories");
    let mut directories = Vec::new();
    match m.get("directories") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                directories.push(parse_directory(ctx, item, &dp.i(i), secrets, config_maps)?);
            }
        }
        Some(other) => {
            return Err(ctx.doc.err(
                &dp,
                format!("directories must be a list, found {}", kind_of(other)),
            ))
        }
    }
    for (j, b) in directories.iter().enumerate() {
        for (i, a) in directories[..j].iter().enumerate() {
            if overlaps(&a.path, &b.path) {
                return Err(ctx.doc.err(
                    &dp.i(j).k("path"),
                    format!(
                        "directories[{j}].path `{}` overlaps directories[{i}].path `{}` (at {}); \
                         managed directories must not be equal or contain each other",
                        b.path,
                        a.path,
                        ctx.doc.place(&dp.i(i).k("path"))
                    ),
                ));
            }
        }
    }
    Ok(Config {
        minimum_required_version,
        directories,
    })
}

fn parse_directory(
    ctx: &Ctx<'_>,
    v: &Value,
    p: &P,
    secrets: &BTreeMap<String, Secret>,
    config_maps: &BTreeMap<String, ConfigMap>,
) -> Result<Directory, ConfigError> {
    let m = ctx.map(v, p, "a mapping")?;
    ctx.check_keys(m, p, &["path", "contents", "permissions"], false)?;
    let raw_path = ctx.req_str(m, p, "path")?;
    let path = ctx.rel_path(&raw_path, &p.k("path"))?;
    if path == "." {
        return Err(ctx.doc.err(
            &p.k("path"),
            format!(
                "{} `{raw_path}` is the working directory itself; a directory path must name \
                 a subdirectory (sync replaces everything under it)",
                p.k("path")
            ),
        ));
    }
    let permissions = ctx.permissions(m, p)?;
    let cp = p.k("contents");
    let items = match m.get("contents") {
        Some(Value::Sequence(items)) if !items.is_empty() => items,
        None | Some(Value::Null) | Some(Value::Sequence(_)) => {
            return Err(ctx.doc.error(
                p,
                Want::Node,
                Some("contents".into()),
                format!("{p} (`{path}`) has no contents; add at least one"),
            ))
        }
        Some(other) => {
            return Err(ctx.doc.err(
                &cp,
                format!("{cp} must be a list, found {}", kind_of(other)),
            ))
        }
    };
    let mut contents: Vec<Content> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        contents.push(parse_content(ctx, item, &cp.i(i), secrets, config_maps)?);
    }
    for (j, b) in contents.iter().enumerate() {
        for (i, a) in contents[..j].iter().enumerate() {
            let clash = a.path == "." || b.path == "." || overlaps(&a.path, &b.path);
            if !clash {
                continue;
            }
            let reason = if a.path == "." || b.path == "." {
                "a content at `.` manages the whole directory and cannot share it"
            } else {
                "contents of one directory must not be equal or contain each other"
            };
            return Err(ctx.doc.err(
                &cp.i(j).k("path"),
                format!(
                    "{cp}[{j}].path `{}` overlaps {cp}[{i}].path `{}` (at {}) in directory \
                     `{path}`; {reason}",
                    b.path,
                    a.path,
                    ctx.doc.place(&cp.i(i).k("path"))
                ),
            ));
        }
    }
    Ok(Directory {
        path,
        permissions,
        contents,
    })
}

const CONTENT_KEYS: &[&str] = &[
    "path",
    "lazy",
    "includePaths",
    "excludePaths",
    "ignorePaths",
    "legalPaths",
    "newRootPath",
    "permissions",
    "ociArtifact",
    "manual",
    "directory",
    "inline",
];

fn parse_content(
    ctx: &Ctx<'_>,
    v: &Value,
    p: &P,
    secrets: &BTreeMap<String, Secret>,
    config_maps: &BTreeMap<String, ConfigMap>,
) -> Result<Content, ConfigError> {
    let m = ctx.map(v, p, "a mapping")?;
    ctx.check_keys(m, p, CONTENT_KEYS, true)?;
    let present: Vec<&str> = m
        .keys()
        .filter_map(Value::as_str)
        .filter(|k| SOURCES.contains(k))
        .collect();
    match present.as_slice() {
        [] => {
            return Err(ctx.doc.err(
                p,
                format!(
                    "{p} has no source; set exactly one of ociArtifact, manual, directory, inline"
                ),
            ))
        }
        [_] => {}
        [first, second, ..] => {
            return Err(ctx.doc.err_key(
                &p.k(second),
                format!("{p} has more than one source (`{first}` and `{second}`); set exactly one"),
            ))
        }
    }
    let raw_path = ctx.req_str(m, p, "path")?;
    let path = ctx.rel_path(&raw_path, &p.k("path"))?;
    let lazy = ctx.opt_bool(m, p, "lazy")?.unwrap_or(false);
    let include_paths = ctx.globs(m, p, "includePaths")?.unwrap_or_default();
    let exclude_paths = ctx.globs(m, p, "excludePaths")?.unwrap_or_default();
    let ignore_paths = ctx.globs(m, p, "ignorePaths")?.unwrap_or_default();
    let legal_paths = ctx.globs(m, p, "legalPaths")?;
    let new_root_path = match ctx.opt_str(m, p, "newRootPath")? {
        None => None,
        Some(raw) => Some(ctx.rel_path(&raw, &p.k("newRootPath"))?).filter(|s| s != "."),
    };
    let permissions = ctx.permissions(m, p)?;

    let kind = present[0];
    let sp = p.k(kind);
    let sv = &m[kind];
    let source = match kind {
        "ociArtifact" => Source::OciArtifact(parse_oci(ctx, sv, &sp, secrets)?),
        "manual" => {
            match sv {
                Value::Null => {}
                Value::Mapping(mm) if mm.is_empty() => {}
                Value::Mapping(mm) => {
                    ctx.check_keys(mm, &sp, &[], false)?;
                }
                other => {
                    return Err(ctx.doc.err(
                        &sp,
                        format!(
                            "{sp} must be an empty mapping (`manual: {{}}`), found {}",
                            kind_of(other)
                        ),
                    ))
                }
            }
            for key in [
                "includePaths",
                "excludePaths",
                "ignorePaths",
                "legalPaths",
                "newRootPath",
            ] {
                if m.contains_key(key) {
                    return Err(ctx.doc.err_key(
                        &p.k(key),
                        format!(
                            "{key} has no effect on a manual content (vendir skips filtering for \
                             manual contents); remove it"
                        ),
                    ));
                }
            }
            Source::Manual
        }
        "directory" => {
            let dm = ctx.map(sv, &sp, "a mapping with `path`")?;
            ctx.check_keys(dm, &sp, &["path"], false)?;
            Source::Directory {
                path: ctx.req_str(dm, &sp, "path")?,
            }
        }
        _ => Source::Inline(parse_inline(ctx, sv, &sp, secrets, config_maps)?),
    };
    let raw = serde_json::to_value(v).map_err(|e| {
        ctx.doc
            .err(p, format!("{p} cannot be represented as JSON: {e}"))
    })?;
    Ok(Content {
        path,
        lazy,
        include_paths,
        exclude_paths,
        ignore_paths,
        legal_paths,
        new_root_path,
        permissions,
        source,
        raw,
    })
}

const OCI_KEYS: &[&str] = &[
    "image",
    "ociLayout",
    "tag",
    "tagSelection",
    "mediaTypes",
    "platform",
    "unpack",
    "secretRef",
    "plainHTTP",
    "dangerousSkipTLSVerify",
    "cosign",
];

fn parse_oci(
    ctx: &Ctx<'_>,
    v: &Value,
    p: &P,
    secrets: &BTreeMap<String, Secret>,
) -> Result<OciArtifact, ConfigError> {
    let m = ctx.map(v, p, "a mapping")?;
    ctx.check_keys(m, p, OCI_KEYS, false)?;
    let image = ctx.opt_nonempty(m, p, "image")?;
    let oci_layout = ctx.opt_nonempty(m, p, "ociLayout")?;
    match (&image, &oci_layout) {
        (None, None) => {
            return Err(ctx.doc.err(
                p,
                format!("{p} needs `image` (a registry reference) or `ociLayout` (a local OCI layout directory)"),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(ctx.doc.err_key(
                &p.k("ociLayout"),
                format!("{p} sets both `image` and `ociLayout`; set exactly one"),
            ))
        }
        _ => {}
    }
    if let Some(image) = &image {
        if image.chars().any(char::is_whitespace) {
            return Err(ctx.doc.err(
                &p.k("image"),
                format!("{} `{image}` must not contain whitespace", p.k("image")),
            ));
        }
    }
    let tag = ctx.opt_nonempty(m, p, "tag")?;
    let tag_selection = match m.get("tagSelection") {
        None | Some(Value::Null) => None,
        Some(tv) => {
            let tp = p.k("tagSelection");
            if tag.is_some() {
                return Err(ctx.doc.err_key(
                    &tp,
                    format!("{p}: `tagSelection` and `tag` exclude each other; set one"),
                ));
            }
            if image.as_deref().is_some_and(|i| i.contains('@')) {
                return Err(ctx.doc.err_key(
                    &tp,
                    format!("{p}: `tagSelection` cannot be combined with a digest in `image`"),
                ));
            }
            Some(parse_tag_selection(ctx, tv, &tp)?)
        }
    };
    let media_types = ctx.opt_list(m, p, "mediaTypes")?.unwrap_or_default();
    for (i, mt) in media_types.iter().enumerate() {
        if mt.trim().is_empty() {
            return Err(ctx.doc.err(
                &p.k("mediaTypes").i(i),
                format!("{}[{i}] must not be empty", p.k("mediaTypes")),
            ));
        }
    }
    let platform = ctx.opt_nonempty(m, p, "platform")?;
    let unpack = match ctx.opt_str(m, p, "unpack")?.as_deref() {
        None | Some("auto") => Unpack::Auto,
        Some("files") => Unpack::Files,
        Some("archives") => Unpack::Archives,
        Some(other) => {
            let mut message = format!(
                "{} `{other}` is not one of auto, files, archives",
                p.k("unpack")
            );
            if let Some(s) = suggest(other, &["auto", "files", "archives"]) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            return Err(ctx.doc.err(&p.k("unpack"), message));
        }
    };
    let secret_ref = match m.get("secretRef") {
        None | Some(Value::Null) => None,
        Some(sv) => Some(ctx.secret_ref(sv, &p.k("secretRef"), secrets)?),
    };
    let plain_http = ctx.opt_bool(m, p, "plainHTTP")?;
    let dangerous_skip_tls_verify = ctx
        .opt_bool(m, p, "dangerousSkipTLSVerify")?
        .unwrap_or(false);
    let cosign = match m.get("cosign") {
        None | Some(Value::Null) => None,
        Some(cv) => Some(parse_cosign(ctx, cv, &p.k("cosign"), secrets)?),
    };
    Ok(OciArtifact {
        image,
        oci_layout,
        tag,
        tag_selection,
        media_types,
        platform,
        unpack,
        secret_ref,
        plain_http,
        dangerous_skip_tls_verify,
        cosign,
    })
}

fn parse_tag_selection(ctx: &Ctx<'_>, v: &Value, p: &P) -> Result<TagSelection, ConfigError> {
    let m = ctx.map(v, p, "a mapping with `semver`")?;
    ctx.check_keys(m, p, &["semver"], false)?;
    let sp = p.k("semver");
    let Some(sv) = m.get("semver") else {
        return Err(ctx.doc.error(
            p,
            Want::Node,
            Some("semver".into()),
            format!("{p} needs `semver: {{constraints: ...}}`"),
        ));
    };
    let sm = ctx.map(sv, &sp, "a mapping with `constraints`")?;
    ctx.check_keys(sm, &sp, &["constraints", "prereleases"], false)?;
    let constraints = ctx.req_str(sm, &sp, "constraints")?;
    let prerelease_identifiers = match sm.get("prereleases") {
        None | Some(Value::Null) => None,
        Some(pv) => {
            let pp = sp.k("prereleases");
            let pm = ctx.map(pv, &pp, "a mapping (`{}` or `{identifiers: [...]}`)")?;
            ctx.check_keys(pm, &pp, &["identifiers"], false)?;
            Some(ctx.opt_list(pm, &pp, "identifiers")?.unwrap_or_default())
        }
    };
    Ok(TagSelection {
        semver: Semver {
            constraints,
            prerelease_identifiers,
        },
    })
}

const COSIGN_KEYS: &[&str] = &[
    "key",
    "secretRef",
    "certificateIdentity",
    "certificateIdentityRegexp",
    "certificateOidcIssuer",
    "certificateOidcIssuerRegexp",
    "trustedRoot",
];

fn parse_cosign(
    ctx: &Ctx<'_>,
    v: &Value,
    p: &P,
    secrets: &BTreeMap<String, Secret>,
) -> Result<Cosign, ConfigError> {
    let m = ctx.map(v, p, "a mapping")?;
    ctx.check_keys(m, p, COSIGN_KEYS, false)?;
    let key = ctx.opt_nonempty(m, p, "key")?;
    let secret_ref = match m.get("secretRef") {
        None | Some(Value::Null) => None,
        Some(sv) => Some(ctx.secret_ref(sv, &p.k("secretRef"), secrets)?),
    };
    let cosign = Cosign {
        key,
        secret_ref,
        certificate_identity: ctx.opt_nonempty(m, p, "certificateIdentity")?,
        certificate_identity_regexp: ctx.opt_nonempty(m, p, "certificateIdentityRegexp")?,
        certificate_oidc_issuer: ctx.opt_nonempty(m, p, "certificateOidcIssuer")?,
        certificate_oidc_issuer_regexp: ctx.opt_nonempty(m, p, "certificateOidcIssuerRegexp")?,
        trusted_root: ctx.opt_nonempty(m, p, "trustedRoot")?,
    };
    let key_based = cosign.key.is_some() || cosign.secret_ref.is_some();
    let identity =
        cosign.certificate_identity.is_some() || cosign.certificate_identity_regexp.is_some();
    let issuer =
        cosign.certificate_oidc_issuer.is_some() || cosign.certificate_oidc_issuer_regexp.is_some();
    if cosign.key.is_some() && cosign.secret_ref.is_some() {
        return Err(ctx.doc.err_key(
            &p.k("secretRef"),
            format!("{p} sets both `key` and `secretRef`; set one"),
        ));
    }
    if key_based && (identity || issuer) {
        let k = if identity {
            if cosign.certificate_identity.is_some() {
                "certificateIdentity"
            } else {
                "certificateIdentityRegexp"
            }
        } else if cosign.certificate_oidc_issuer.is_some() {
            "certificateOidcIssuer"
        } else {
            "certificateOidcIssuerRegexp"
        };
        return Err(ctx.doc.err_key(
            &p.k(k),
            format!(
                "{p} mixes key-based verification (`key`/`secretRef`) with keyless \
                 (`{k}`); use one"
            ),
        ));
    }
    if !(key_based || identity && issuer) {
        return Err(ctx.doc.err(
            p,
            format!(
                "{p} needs `key` or `secretRef` (key-based), or one of certificateIdentity / \
                 certificateIdentityRegexp and one of certificateOidcIssuer / \
                 certificateOidcIssuerRegexp (keyless){}",
                match (identity, issuer) {
                    (true, false) => "; the issuer is missing",
                    (false, true) => "; the identity is missing",
                    _ => "",
                }
            ),
        ));
    }
    Ok(cosign)
}

fn parse_inline(
    ctx: &Ctx<'_>,
    v: &Value,
    p: &P,
    secrets: &BTreeMap<String, Secret>,
    config_maps: &BTreeMap<String, ConfigMap>,
) -> Result<Inline, ConfigError> {
    let m = ctx.map(v, p, "a mapping")?;
    ctx.check_keys(m, p, &["paths", "pathsFrom"], false)?;
    let mut paths = BTreeMap::new();
    let pp = p.k("paths");
    for (k, content) in string_map(ctx, m, p, "paths")? {
        let norm = normalize_rel(&k)
            .map_err(|e| ctx.doc.err_key(&pp.k(&k), format!("{pp} key `{k}` {e}")))?;
        if norm == "." {
            return Err(ctx
                .doc
                .err_key(&pp.k(&k), format!("{pp} key `{k}` must name a file")));
        }
        if paths.insert(norm.clone(), content).is_some() {
            return Err(ctx.doc.err_key(
                &pp.k(&k),
                format!("{pp} names `{norm}` twice (after normalisation)"),
            ));
        }
    }
    let fp = p.k("pathsFrom");
    let mut paths_from = Vec::new();
    match m.get("pathsFrom") {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let ip = fp.i(i);
                let im = ctx.map(item, &ip, "a mapping with `secretRef` or `configMapRef`")?;
                ctx.check_keys(im, &ip, &["secretRef", "configMapRef"], false)?;
                let mut from = InlineFrom {
                    secret_ref: None,
                    config_map_ref: None,
                };
                let has_s = im.get("secretRef").is_some_and(|v| !v.is_null());
                let has_c = im.get("configMapRef").is_some_and(|v| !v.is_null());
                if has_s == has_c {
                    return Err(ctx.doc.err(
                        &ip,
                        format!("{ip} needs exactly one of `secretRef` and `configMapRef`"),
                    ));
                }
                let (key, what) = if has_s {
                    ("secretRef", "Secret")
                } else {
                    ("configMapRef", "ConfigMap")
                };
                let rp = ip.k(key);
                let rm = ctx.map(&im[key], &rp, "a mapping with `name`")?;
                ctx.check_keys(rm, &rp, &["name", "directoryPath"], false)?;
                let name = ctx.req_str(rm, &rp, "name")?;
                let exists = if has_s {
                    secrets.contains_key(&name)
                } else {
                    config_maps.contains_key(&name)
                };
                if !exists {
                    let list = if has_s {
                        known("Secrets", secrets.keys())
                    } else {
                        known("ConfigMaps", config_maps.keys())
                    };
                    return Err(ctx.doc.err(
                        &rp.k("name"),
                        format!(
                            "{rp} names {what} `{name}`, which is not defined; add a `v1` \
                             `{what}` document with `metadata.name: {name}`{list}"
                        ),
                    ));
                }
                let directory_path = match ctx.opt_str(rm, &rp, "directoryPath")? {
                    None => None,
                    Some(raw) => Some(ctx.rel_path(&raw, &rp.k("directoryPath"))?),
                };
                let r = InlineRef {
                    name,
                    directory_path,
                };
                if has_s {
                    from.secret_ref = Some(r);
                } else {
                    from.config_map_ref = Some(r);
                }
                paths_from.push(from);
            }
        }
        Some(other) => {
            return Err(ctx.doc.err(
                &fp,
                format!("{fp} must be a list, found {}", kind_of(other)),
            ))
        }
    }
    if paths.is_empty() && paths_from.is_empty() {
        return Err(ctx.doc.err(
            p,
            format!("{p} has no `paths` and no `pathsFrom`; nothing to write"),
        ));
    }
    Ok(Inline { paths, paths_from })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, text: &str) -> Input {
        Input {
            name: name.to_string(),
            text: text.to_string(),
        }
    }

    fn load1(text: &str) -> Result<Loaded, ConfigError> {
        load(&[input("vendir.yml", text)])
    }

    fn err(text: &str) -> ConfigError {
        match load1(text) {
            Ok(l) => panic!("expected an error, got {:#?}", l.config),
            Err(e) => e,
        }
    }

    /// 1-based line of the first line containing `needle`.
    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} not in text"))
            + 1
    }

    /// 1-based column of `needle` on its line.
    fn col_of(text: &str, needle: &str) -> usize {
        let line = text.lines().find(|l| l.contains(needle)).unwrap();
        line.find(needle).unwrap() + 1
    }

    fn assert_at(e: &ConfigError, text: &str, needle: &str) {
        assert_eq!(e.file, "vendir.yml", "{e}");
        assert_eq!(e.line, Some(line_of(text, needle)), "{e}");
        assert_eq!(e.column, Some(col_of(text, needle)), "{e}");
        assert!(
            e.to_string().starts_with(&format!(
                "vendir.yml:{}:{}: ",
                line_of(text, needle),
                col_of(text, needle)
            )),
            "{e}"
        );
    }

    const HEAD: &str = "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\n";

    /// A Config with one directory `vendor/a` and the given content lines
    /// (indented as list items of `contents`).
    fn one(content: &str) -> String {
        format!("{HEAD}directories:\n- path: vendor/a\n  contents:\n{content}")
    }

    const FULL: &str = r#"# leading comment
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: ignored
type: kubernetes.io/dockerconfigjson
data:
  username: dXNlcg==
  password: b2xk
stringData:
  password: new
---
apiVersion: v1
kind: ConfigMap
metadata: {name: files}
data:
  a.txt: hello
  n: 12
---
---
apiVersion: vendir.k14s.io/v1alpha1
kind: Config
minimumRequiredVersion: 0.40.0
directories:
- path: ./vendor/k8s-schemas/
  permissions: 0755
  contents:
  - path: .
    lazy: true
    includePaths: ["**/*.json", "crds/*.yaml"]
    excludePaths: [test/**]
    ignorePaths: [local/**]
    legalPaths: [COPYING]
    newRootPath: ./schemas/
    permissions: 0o644
    ociArtifact:
      image: ghcr.io/home-operations/k8s-schemas
      tag: 1.10
      mediaTypes:
      - application/vnd.cncf.flux.content.v1.tar+gzip
      platform: linux/amd64
      unpack: archives
      secretRef: {name: creds}
      plainHTTP: false
      dangerousSkipTLSVerify: true
      cosign:
        certificateOidcIssuer: https://token.actions.githubusercontent.com
        certificateIdentityRegexp: ^https://github.com/home-operations/
        trustedRoot: trusted_root.json
- path: vendor/more
  permissions: 750
  contents:
  - path: sel
    ociArtifact:
      ociLayout: ./layout
      tagSelection:
        semver:
          constraints: ">=1.2.0 <2.0.0"
          prereleases: {identifiers: [rc, beta]}
      cosign: {key: cosign.pub}
  - path: all-pre
    legalPaths: []
    ociArtifact:
      image: localhost:5000/x
      tagSelection: {semver: {constraints: ">=1", prereleases: {}}}
      cosign: {secretRef: {name: creds}}
  - path: by-hand
    manual: {}
  - path: copied
    directory: {path: ../elsewhere}
  - path: inl
    inline:
      paths:
        ./dir/file.txt: |
          text
      pathsFrom:
      - secretRef: {name: creds, directoryPath: ./sec/}
      - configMapRef: {name: files}
"#;

    #[test]
    fn full_config() {
        let l = load1(FULL).unwrap();
        let c = &l.config;
        assert_eq!(c.minimum_required_version.as_deref(), Some("0.40.0"));
        assert_eq!(c.directories.len(), 2);
        let d = &c.directories[0];
        assert_eq!(d.path, "vendor/k8s-schemas");
        assert_eq!(d.permissions, Some(0o755));
        let ct = &d.contents[0];
        assert_eq!(ct.path, ".");
        assert!(ct.lazy);
        assert_eq!(ct.include_paths, vec!["**/*.json", "crds/*.yaml"]);
        assert_eq!(ct.exclude_paths, vec!["test/**"]);
        assert_eq!(ct.ignore_paths, vec!["local/**"]);
        assert_eq!(ct.legal_paths, Some(vec!["COPYING".to_string()]));
        assert_eq!(ct.new_root_path.as_deref(), Some("schemas"));
        assert_eq!(ct.permissions, Some(0o644));
        assert_eq!(ct.source_kind(), "ociArtifact");
        assert_eq!(
            ct.raw["ociArtifact"]["image"],
            "ghcr.io/home-operations/k8s-schemas"
        );
        assert_eq!(ct.raw["lazy"], true);
        let Source::OciArtifact(o) = &ct.source else {
            panic!()
        };
        assert_eq!(
            o,
            &OciArtifact {
                image: Some("ghcr.io/home-operations/k8s-schemas".into()),
                oci_layout: None,
                tag: Some("1.10".into()),
                tag_selection: None,
                media_types: vec!["application/vnd.cncf.flux.content.v1.tar+gzip".into()],
                platform: Some("linux/amd64".into()),
                unpack: Unpack::Archives,
                secret_ref: Some(SecretRef {
                    name: "creds".into()
                }),
                plain_http: Some(false),
                dangerous_skip_tls_verify: true,
                cosign: Some(Cosign {
                    key: None,
                    secret_ref: None,
                    certificate_identity: None,
                    certificate_identity_regexp: Some(
                        "^https://github.com/home-operations/".into()
                    ),
                    certificate_oidc_issuer: Some(
                        "https://token.actions.githubusercontent.com".into()
                    ),
                    certificate_oidc_issuer_regexp: None,
                    trusted_root: Some("trusted_root.json".into()),
                }),
            }
        );

        let d = &c.directories[1];
        assert_eq!(d.permissions, Some(0o750));
        let kinds: Vec<_> = d.contents.iter().map(Content::source_kind).collect();
        assert_eq!(
            kinds,
            [
                "ociArtifact",
                "ociArtifact",
                "manual",
                "directory",
                "inline"
            ]
        );
        let Source::OciArtifact(o) = &d.contents[0].source else {
            panic!()
        };
        assert_eq!(o.oci_layout.as_deref(), Some("./layout"));
        assert_eq!(o.tag, None);
        assert_eq!(o.unpack, Unpack::Auto);
        assert_eq!(o.plain_http, None);
        assert!(!o.dangerous_skip_tls_verify);
        assert_eq!(
            o.tag_selection,
            Some(TagSelection {
                semver: Semver {
                    constraints: ">=1.2.0 <2.0.0".into(),
                    prerelease_identifiers: Some(vec!["rc".into(), "beta".into()]),
                }
            })
        );
        assert_eq!(
            o.cosign.as_ref().unwrap().key.as_deref(),
            Some("cosign.pub")
        );
        assert_eq!(d.contents[0].legal_paths, None);
        let Source::OciArtifact(o) = &d.contents[1].source else {
            panic!()
        };
        assert_eq!(
            o.tag_selection
                .as_ref()
                .unwrap()
                .semver
                .prerelease_identifiers,
            Some(vec![])
        );
        assert_eq!(
            o.cosign.as_ref().unwrap().secret_ref,
            Some(SecretRef {
                name: "creds".into()
            })
        );
        assert_eq!(d.contents[1].legal_paths, Some(vec![]));
        assert_eq!(d.contents[2].source, Source::Manual);
        assert_eq!(
            d.contents[3].source,
            Source::Directory {
                path: "../elsewhere".into()
            }
        );
        let Source::Inline(i) = &d.contents[4].source else {
            panic!()
        };
        assert_eq!(i.paths["dir/file.txt"], "text\n");
        assert_eq!(
            i.paths_from[0].secret_ref,
            Some(InlineRef {
                name: "creds".into(),
                directory_path: Some("sec".into())
            })
        );
        assert_eq!(i.paths_from[0].config_map_ref, None);
        assert_eq!(
            i.paths_from[1].config_map_ref.as_ref().unwrap().name,
            "files"
        );

        let s = &l.secrets["creds"];
        assert_eq!(s.data["username"], b"user");
        assert_eq!(s.data["password"], b"new", "stringData wins over data");
        assert_eq!(l.config_maps["files"].data["a.txt"], "hello");
        assert_eq!(l.config_maps["files"].data["n"], "12");
    }

    #[test]
    fn multi_file_with_secret_and_positions_relative_to_file() {
        let secrets = "apiVersion: v1\nkind: Secret\nmetadata: {name: reg}\ndata: {token: dG9r}\n";
        let cfg = format!(
            "# comment\n---\n{HEAD}directories:\n- path: v\n  contents:\n  - path: .\n    \
             ociArtifact: {{image: r/x, secretRef: {{name: reg}}}}\n"
        );
        let l = load(&[input("secrets.yml", secrets), input("-", &cfg)]).unwrap();
        assert_eq!(l.secrets["reg"].data["token"], b"tok");
        assert_eq!(l.config.directories[0].path, "v");

        // the Config is the second document of stdin: line counts from the
        // start of the input, and stdin is called <stdin>.
        let bad = cfg.replace("image: r/x", "imagee: r/x");
        let e = load(&[input("secrets.yml", secrets), input("-", &bad)]).unwrap_err();
        assert_eq!(e.file, "<stdin>");
        assert_eq!(e.line, Some(line_of(&bad, "imagee")));
        assert_eq!(e.column, Some(col_of(&bad, "imagee")));
        assert_eq!(e.key.as_deref(), Some("imagee"));
        assert!(e.message.contains("did you mean `image`?"), "{e}");

        // secretRef to a Secret defined nowhere
        let bad = cfg.replace("name: reg", "name: nope");
        let e = load(&[input("secrets.yml", secrets), input("c.yml", &bad)]).unwrap_err();
        assert_eq!(e.file, "c.yml");
        assert_eq!(e.line, Some(line_of(&bad, "nope")));
        assert!(e.message.contains("Secret `nope`"), "{e}");
        assert!(e.message.contains("defined Secrets: reg"), "{e}");
    }

    #[test]
    fn unknown_keys_everywhere() {
        let t = one("  - path: x\n    pathh: y\n    manual: {}\n");
        let e = err(&t);
        assert_at(&e, &t, "pathh");
        assert_eq!(
            e.message,
            "unknown key `pathh` in directories[0].contents[0]; did you mean `path`?"
        );

        let t = format!("{HEAD}directory:\n- path: a\n");
        let e = err(&t);
        assert_at(&e, &t, "directory:");
        assert!(e.message.contains("did you mean `directories`?"), "{e}");
        assert!(e.message.contains("in the Config"), "{e}");

        let t = one("  - path: .\n    ociArtifact:\n      image: r/x\n      plainHttp: true\n");
        let e = err(&t);
        assert_at(&e, &t, "plainHttp");
        assert!(e.message.contains("did you mean `plainHTTP`?"), "{e}");

        let t = one(
            "  - path: .\n    ociArtifact:\n      image: r/x\n      cosign:\n        \
             certificateIssuer: x\n",
        );
        let e = err(&t);
        assert_at(&e, &t, "certificateIssuer");
        assert!(
            e.message.contains("did you mean `certificateOidcIssuer"),
            "{e}"
        );

        let t = one("  - path: .\n    manual: {}\n    zzz: 1\n");
        let e = err(&t);
        assert!(e.message.contains("valid keys: path, lazy"), "{e}");

        let t = format!("{HEAD}directories:\n- path: a\n  contens: []\n");
        let e = err(&t);
        assert_at(&e, &t, "contens");
        assert!(e.message.contains("did you mean `contents`?"), "{e}");

        let t = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringdata: {a: b}\n";
        let e = err(t);
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("did you mean `stringData`?"), "{e}");
    }

    #[test]
    fn flow_style_positions() {
        let t = format!(
            "{HEAD}directories: [{{path: a, contents: [{{path: ., manual: {{}}, lazzy: true}}]}}]\n"
        );
        let e = err(&t);
        assert_at(&e, &t, "lazzy");
    }

    #[test]
    fn envelope_errors() {
        let t = "apiVersion: vendir.k14s.io/v1beta1\nkind: Config\n";
        let e = err(t);
        assert_eq!((e.line, e.column), (Some(1), Some(13)), "{e}");
        assert!(e.message.contains("unsupported apiVersion"), "{e}");

        let t = "apiVersion: vendir.k14s.io/v1alpha1\nkind: config\n";
        let e = err(t);
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("did you mean kind `Config`?"), "{e}");

        let t = "apiVersion: apps/v1\nkind: Deployment\n";
        let e = err(t);
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("unsupported document"), "{e}");

        let e = err("apiVersion: v2\nkind: Secret\n");
        assert_eq!(e.line, Some(1));

        let e = err("foo: bar\n");
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("no `apiVersion`"), "{e}");

        let e = err("- a\n- b\n");
        assert!(e.message.contains("found a list"), "{e}");

        let e = err("apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\n");
        assert!(e.message.contains("lock file"), "{e}");

        // none at all
        let e = load(&[input("a.yml", "---\n---\n"), input("b.yml", "")]).unwrap_err();
        assert_eq!(e.file, "a.yml, b.yml");
        assert!(e.message.contains("no Config document"), "{e}");

        // two
        let t = format!("{HEAD}---\n{HEAD}");
        let e = err(&t);
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.message.contains("vendir.yml:2"), "{e}");
        let e = load(&[input("a.yml", HEAD), input("b.yml", HEAD)]).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("b.yml", Some(2)));
        assert!(e.message.contains("a.yml:2"), "{e}");
    }

    #[test]
    fn syntax_errors_are_positioned() {
        let t = format!("{HEAD}---\n{HEAD}directories:\n- path: [unclosed\n");
        let e = err(&t);
        assert_eq!(e.file, "vendir.yml");
        assert!(e.line.unwrap() >= 7, "{e}");
        assert!(e.message.starts_with("invalid YAML"), "{e}");
        assert!(!e.message.contains(" at line "), "{e}");

        let t = format!("{HEAD}directories:\n- path: a\n  path: b\n");
        let e = err(&t);
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains("duplicate"), "{e}");
    }

    #[test]
    fn empty_documents_are_ignored() {
        let t = format!("---\n# only a comment\n---\n{HEAD}directories: []\n---\n");
        assert!(load1(&t).unwrap().config.directories.is_empty());
    }

    #[test]
    fn sources() {
        let t = one("  - path: x\n    git: {url: https://x}\n");
        let e = err(&t);
        assert_at(&e, &t, "git");
        assert!(e
            .message
            .contains("`git` contents are not supported by vendoras yet"));
        for src in [
            "helmChart",
            "imgpkgBundle",
            "githubRelease",
            "http",
            "image",
            "hg",
        ] {
            let t = one(&format!("  - path: x\n    {src}: {{}}\n"));
            let e = err(&t);
            assert_at(&e, &t, src);
            assert!(e.message.contains("not supported by vendoras yet"), "{e}");
        }

        let t = one("  - path: x\n    lazy: true\n");
        let e = err(&t);
        assert_at(&e, &t, "path: x");
        assert!(e.message.contains("has no source"), "{e}");

        let t = one("  - path: x\n    manual: {}\n    directory: {path: y}\n");
        let e = err(&t);
        assert_at(&e, &t, "directory");
        assert!(e.message.contains("`manual` and `directory`"), "{e}");

        let t = one("  - path: x\n    manual: {}\n    includePaths: [a]\n");
        let e = err(&t);
        assert_at(&e, &t, "includePaths");

        let t = one("  - path: x\n    manual: {a: 1}\n");
        let e = err(&t);
        assert!(e.message.contains("unknown key `a`"), "{e}");

        let t = one("  - path: x\n    directory: {}\n");
        let e = err(&t);
        assert!(e.message.contains("missing required key `path`"), "{e}");

        let t = one("  - path: x\n    inline: {}\n");
        let e = err(&t);
        assert!(e.message.contains("nothing to write"), "{e}");

        let t = one("  - path: x\n    inline: {paths: {../evil: x}}\n");
        let e = err(&t);
        assert_at(&e, &t, "../evil");

        let t =
            one("  - path: x\n    inline:\n      pathsFrom:\n      - configMapRef: {name: nope}\n");
        let e = err(&t);
        assert_at(&e, &t, "nope");
        assert!(e.message.contains("ConfigMap `nope`"), "{e}");

        let t = one("  - path: x\n    inline:\n      pathsFrom:\n      - {}\n");
        let e = err(&t);
        assert!(e
            .message
            .contains("exactly one of `secretRef` and `configMapRef`"));
    }

    #[test]
    fn oci_artifact_rules() {
        let oci = |body: &str| one(&format!("  - path: .\n    ociArtifact:\n{body}"));

        let t = oci("      tag: v1\n");
        let e = err(&t);
        assert_at(&e, &t, "tag: v1");
        assert!(e.message.contains("needs `image`"), "{e}");

        let t = oci("      image: r/x\n      ociLayout: ./l\n");
        let e = err(&t);
        assert_at(&e, &t, "ociLayout");

        let t = oci(
            "      image: r/x\n      tag: v1\n      tagSelection: {semver: {constraints: '>1'}}\n",
        );
        let e = err(&t);
        assert_at(&e, &t, "tagSelection");
        assert!(e.message.contains("exclude each other"), "{e}");

        let t =
            oci("      image: r/x@sha256:abc\n      tagSelection: {semver: {constraints: '>1'}}\n");
        let e = err(&t);
        assert_at(&e, &t, "tagSelection");
        assert!(e.message.contains("digest"), "{e}");

        let t = oci("      image: r/x\n      tagSelection: {semver: {}}\n");
        let e = err(&t);
        assert!(e.message.contains("`constraints`"), "{e}");

        let t = oci("      image: r/x\n      tag: ''\n");
        let e = err(&t);
        assert_at(&e, &t, "''");

        let t = oci("      image: r/x\n      unpack: file\n");
        let e = err(&t);
        assert_at(&e, &t, "file");
        assert!(e.message.contains("did you mean `files`?"), "{e}");

        let t = oci("      image: r/x\n      plainHTTP: yes\n");
        let e = err(&t);
        assert_at(&e, &t, "yes");
        assert!(e.message.contains("true or false"), "{e}");

        // image keeps tag and digest unparsed
        let t = oci("      image: localhost:5000/r/x:v1@sha256:abc\n");
        let Source::OciArtifact(o) = &load1(&t).unwrap().config.directories[0].contents[0].source
        else {
            panic!()
        };
        assert_eq!(o.image.as_deref(), Some("localhost:5000/r/x:v1@sha256:abc"));
    }

    #[test]
    fn cosign_rules() {
        let cos = |body: &str| {
            one(&format!(
                "  - path: .\n    ociArtifact:\n      image: r/x\n      cosign:\n{body}"
            ))
        };
        let t = cos("        trustedRoot: t.json\n");
        let e = err(&t);
        assert_at(&e, &t, "trustedRoot");
        assert!(e.message.contains("needs `key` or `secretRef`"), "{e}");

        let t = cos("        certificateIdentity: me\n");
        let e = err(&t);
        assert!(e.message.contains("the issuer is missing"), "{e}");

        let t = cos("        certificateOidcIssuerRegexp: .*\n");
        let e = err(&t);
        assert!(e.message.contains("the identity is missing"), "{e}");

        let t = cos("        key: k.pub\n        certificateIdentity: me\n");
        let e = err(&t);
        assert_at(&e, &t, "certificateIdentity");
        assert!(e.message.contains("mixes key-based"), "{e}");

        let t = cos("        secretRef: {name: missing}\n");
        let e = err(&t);
        assert_at(&e, &t, "missing");
        assert!(e.message.contains("Secret `missing`"), "{e}");

        let t = cos("        certificateIdentity: me\n        certificateOidcIssuer: iss\n");
        assert!(load1(&t).is_ok());
    }

    #[test]
    fn octal_permissions() {
        for (raw, want) in [
            ("0755", 0o755),
            ("755", 0o755),
            ("0o755", 0o755),
            ("\"0644\"", 0o644),
            ("'0o600'", 0o600),
            ("0", 0),
            ("0777", 0o777),
            ("00644", 0o644),
        ] {
            let t = format!("{HEAD}directories:\n- path: a\n  permissions: {raw}\n  contents:\n  - path: .\n    manual: {{}}\n");
            let d = &load1(&t)
                .unwrap_or_else(|e| panic!("{raw}: {e}"))
                .config
                .directories[0];
            assert_eq!(d.permissions, Some(want), "{raw}");
        }
        for raw in [
            "0758", "789", "0o1000", "1777", "04755", "0x1ed", "rwx", "-1", "true",
        ] {
            let t = one(&format!(
                "  - path: .\n    permissions: {raw}\n    manual: {{}}\n"
            ));
            let e = err(&t);
            assert_at(&e, &t, &format!("permissions: {raw}")[13..]);
            assert_eq!(e.key.as_deref(), Some("permissions"));
        }
        assert_eq!(parse_permissions("0o644"), Ok(0o644));
        assert!(parse_permissions("99999999999999999999").is_err());
    }

    #[test]
    fn path_normalisation() {
        assert_eq!(normalize_rel("a/./b/").unwrap(), "a/b");
        assert_eq!(normalize_rel("./a//b").unwrap(), "a/b");
        assert_eq!(normalize_rel("a/x/../b").unwrap(), "a/b");
        assert_eq!(normalize_rel("a/..").unwrap(), ".");
        assert_eq!(normalize_rel(".").unwrap(), ".");
        assert!(normalize_rel("/usr").is_err());
        assert!(normalize_rel("../x").is_err());
        assert!(normalize_rel("a/../../x").is_err());
        assert!(normalize_rel("").is_err());
        assert!(normalize_rel("a\\b").is_err());

        let t = format!("{HEAD}directories:\n- path: a/./b/\n  contents:\n  - path: ./c/\n    newRootPath: x/./y/\n    directory: {{path: s}}\n");
        let l = load1(&t).unwrap();
        let d = &l.config.directories[0];
        assert_eq!(d.path, "a/b");
        assert_eq!(d.contents[0].path, "c");
        assert_eq!(d.contents[0].new_root_path.as_deref(), Some("x/y"));
    }

    #[test]
    fn path_refusals() {
        for (raw, why) in [
            ("/usr", "absolute"),
            ("../x", "escapes"),
            ("a/../../x", "escapes"),
            (".", "working directory itself"),
            ("a/..", "working directory itself"),
            ("./", "working directory itself"),
        ] {
            let t = format!(
                "{HEAD}directories:\n- path: {raw}\n  contents:\n  - path: .\n    manual: {{}}\n"
            );
            let e = err(&t);
            assert_eq!(e.line, Some(4), "{raw}: {e}");
            assert_eq!(e.column, Some(9), "{raw}: {e}");
            assert_eq!(e.key.as_deref(), Some("path"));
            assert!(e.message.contains(why), "{raw}: {e}");
        }
        let t = format!("{HEAD}directories:\n- contents: []\n");
        assert!(err(&t).message.contains("missing required key `path`"));

        let t = one("  - path: /etc\n    manual: {}\n");
        let e = err(&t);
        assert_at(&e, &t, "/etc");
        let t = one("  - path: a/../../b\n    manual: {}\n");
        let e = err(&t);
        assert_at(&e, &t, "a/../../b");
        let t = one("  - path: x\n    newRootPath: ../up\n    directory: {path: s}\n");
        let e = err(&t);
        assert_at(&e, &t, "../up");
        assert!(e.message.contains("newRootPath"), "{e}");
        let t = one("  - path: x\n    newRootPath: .\n    directory: {path: s}\n");
        assert_eq!(
            load1(&t).unwrap().config.directories[0].contents[0].new_root_path,
            None
        );
        let t = format!("{HEAD}directories:\n- path: a\n  contents: []\n");
        assert!(err(&t).message.contains("has no contents"));
    }

    #[test]
    fn overlapping_directories() {
        let t = format!("{HEAD}directories:\n- path: vendor\n  contents: [{{path: ., manual: {{}}}}]\n- path: vendor/x/\n  contents: [{{path: ., manual: {{}}}}]\n");
        let e = err(&t);
        assert_at(&e, &t, "vendor/x/");
        assert!(e.message.contains("`vendor/x`"), "{e}");
        assert!(e.message.contains("`vendor`"), "{e}");
        assert!(e.message.contains("vendir.yml:4"), "{e}");

        let t = format!("{HEAD}directories:\n- path: a/b\n  contents: [{{path: ., manual: {{}}}}]\n- path: ./a/./b\n  contents: [{{path: ., manual: {{}}}}]\n");
        let e = err(&t);
        assert!(e.message.contains("overlaps"), "{e}");

        // siblings with a common prefix are fine
        let t = format!("{HEAD}directories:\n- path: vendor/app\n  contents: [{{path: ., manual: {{}}}}]\n- path: vendor/application\n  contents: [{{path: ., manual: {{}}}}]\n");
        assert!(load1(&t).is_ok());
    }

    #[test]
    fn overlapping_contents() {
        let t = one("  - path: .\n    manual: {}\n  - path: x\n    manual: {}\n");
        let e = err(&t);
        assert_eq!(e.line, Some(line_of(&t, "path: x")), "{e}");
        assert!(
            e.message.contains("`x`") && e.message.contains("`.`"),
            "{e}"
        );
        assert!(e.message.contains("whole directory"), "{e}");

        let t = one("  - path: x\n    manual: {}\n  - path: x/y\n    manual: {}\n");
        let e = err(&t);
        assert_at(&e, &t, "x/y");
        assert!(
            e.message.contains("`x/y`") && e.message.contains("`x`"),
            "{e}"
        );

        let t = one("  - path: x\n    manual: {}\n  - path: ./x/\n    manual: {}\n");
        assert!(err(&t).message.contains("overlaps"));

        let t = one("  - path: x\n    manual: {}\n  - path: xy\n    manual: {}\n");
        assert_eq!(load1(&t).unwrap().config.directories[0].contents.len(), 2);
    }

    #[test]
    fn value_errors() {
        let t = one("  - path: x\n    lazy: sometimes\n    manual: {}\n");
        let e = err(&t);
        assert_at(&e, &t, "sometimes");

        let t = one("  - path: x\n    includePaths: [ok, 'a[b']\n    manual: {}\n");
        let e = err(&t);
        // globs are checked before the manual-content rule
        assert!(e.message.contains("`a[b`"), "{e}");

        let t = one("  - path: x\n    excludePaths: '*.md'\n    directory: {path: s}\n");
        let e = err(&t);
        assert!(e.message.contains("list of strings"), "{e}");

        let t = format!("{HEAD}minimumRequiredVersion: v0.1.0\n");
        let e = err(&t);
        assert_eq!(e.line, Some(3));

        let t = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: '%%%'}\n";
        let e = err(t);
        assert_eq!(e.line, Some(4));
        assert!(e.message.contains("base64"), "{e}");

        let t = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: x}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: y}\n";
        let e = err(t);
        assert_eq!(e.line, Some(8));
        assert!(e.message.contains("defined twice"), "{e}");
    }

    #[test]
    fn display_format() {
        let e = ConfigError {
            file: "vendir.yml".into(),
            line: Some(12),
            column: Some(7),
            key: Some("pathh".into()),
            message: "unknown key `pathh`".into(),
        };
        assert_eq!(e.to_string(), "vendir.yml:12:7: unknown key `pathh`");
        let e = ConfigError {
            line: None,
            column: None,
            ..e
        };
        assert_eq!(e.to_string(), "vendir.yml: unknown key `pathh`");
    }
}
