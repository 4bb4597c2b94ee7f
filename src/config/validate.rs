//! Input types → the validated config, with every rule that needs more than
//! a document's shape: paths, overlaps, references, cosign, permissions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::error::{suggest, ConfigError};
use super::input::{
    ConfigDoc, ConfigMapDoc, ContentInput, CosignInput, GitInput, GithubReleaseInput,
    HelmChartInput, HgInput, HttpInput, ImageInput, ImgpkgBundleInput, InlineInput,
    OciArtifactInput, PathsFromKind, SecretDoc, SecretRefInput, SourceInput,
};
use super::model::*;
use super::signers::{Signers, SignersError};
use super::yaml::{DeError, DeErrorKind, KeyPath, Pos, Seen, Value};
use crate::relpath::{clean_absolute, resolve, RelPath};

/// Where managed paths (directory paths) may point.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathRules {
    /// The working directory, absolute (paths in the config start here).
    pub workdir: PathBuf,
    /// The project: the enclosing git work tree, else the working directory.
    pub project: PathBuf,
    /// `--allow-outside-paths`: absolute paths and paths leaving the
    /// project are accepted.
    pub allow_outside: bool,
}

impl PathRules {
    /// The rules for `workdir`: the project is the nearest directory at or
    /// above it holding `.git` (a directory, or a file in a git worktree);
    /// no git binary is needed.
    pub fn discover(workdir: &Path, allow_outside: bool) -> PathRules {
        let workdir = std::fs::canonicalize(workdir).unwrap_or_else(|_| {
            clean_absolute(&std::path::absolute(workdir).unwrap_or_else(|_| workdir.into()))
        });
        let project = workdir
            .ancestors()
            .find(|d| d.join(".git").exists())
            .unwrap_or(&workdir)
            .to_path_buf();
        PathRules {
            workdir,
            project,
            allow_outside,
        }
    }
}

/// A managed directory path, normalised: `./a//b/` → `a/b`, `x/../../y` →
/// `../y`, `/a/../b` → `/b`. Lexical only (see `src/relpath.rs`).
pub fn normalize_directory_path(raw: &str) -> String {
    let (ups, parts) = resolve(raw.split('/'));
    if raw.starts_with('/') {
        return format!("/{}", parts.join("/"));
    }
    let mut all: Vec<&str> = vec![".."; ups];
    all.extend(parts);
    if all.is_empty() {
        ".".into()
    } else {
        all.join("/")
    }
}

/// One document being validated: positions come from its tree.
pub(crate) struct Doc<'a> {
    pub file: &'a str,
    pub root: &'a Value,
    /// What the document root is called in messages (`the Config`).
    pub what: &'static str,
}

impl Doc<'_> {
    fn error(
        &self,
        path: &KeyPath,
        pos: Option<Pos>,
        key: Option<&str>,
        message: String,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
            key: key.map(str::to_string),
            path: path.to_string(),
            message,
            suggestion: None,
        }
    }

    /// An error about the value at `path`.
    pub fn err(&self, path: &KeyPath, message: impl Into<String>) -> ConfigError {
        let pos = self.root.locate(path, false);
        self.error(path, pos, path.last_key(), message.into())
    }

    /// An error about the key that ends `path`.
    pub fn err_key(&self, path: &KeyPath, message: impl Into<String>) -> ConfigError {
        let pos = self.root.locate(path, true);
        self.error(path, pos, path.last_key(), message.into())
    }

    /// `file:line` of the node at `path`, for messages naming a second place.
    fn place(&self, path: &KeyPath) -> String {
        match self.root.locate(path, false) {
            Some(p) => format!("{}:{}", self.file, p.line),
            None => self.file.to_string(),
        }
    }

    /// `path` for messages; the root is named.
    fn name(&self, path: &KeyPath) -> String {
        if path.is_root() {
            self.what.to_string()
        } else {
            path.to_string()
        }
    }

    /// A deserialisation error in this document, in words.
    pub fn de_error(&self, e: DeError, seen: &Seen) -> ConfigError {
        let p = &e.path;
        let mut suggestion = None;
        let mut key = p.last_key().map(str::to_string);
        let mut pos = e.pos;
        let message = match e.kind {
            DeErrorKind::Message(m) => format!("{}: {m}", self.name(p)),
            DeErrorKind::UnknownKey { key: k, expected } => {
                suggestion = suggest(&k, expected).map(str::to_string);
                let mut m = format!("unknown key `{k}` in {}", self.name(&p.parent()));
                if suggestion.is_none() {
                    m.push_str(&format!("; valid keys: {}", expected.join(", ")));
                }
                m
            }
            DeErrorKind::UnknownValue { value, expected } => {
                suggestion = suggest(&value, expected).map(str::to_string);
                format!("{p} `{value}` is not one of {}", expected.join(", "))
            }
            DeErrorKind::Missing(field) => {
                key = Some(field.to_string());
                let mut m = format!("missing required key `{field}` in {}", self.name(p));
                // A misspelt key was recorded as unknown: point at it.
                let near = seen.unknown.borrow().iter().find_map(|u| {
                    let k = u.path.last_key()?;
                    (u.path.parent() == *p && suggest(k, &[field]).is_some())
                        .then(|| (k.to_string(), u.pos))
                });
                if let Some((k, at)) = near {
                    m.push_str(&format!(" (`{k}` is not a key there)"));
                    suggestion = Some(field.to_string());
                    pos = at;
                }
                m
            }
            DeErrorKind::WrongType { expected, found } => {
                format!("{} must be {expected}, found {found}", self.name(p))
            }
            DeErrorKind::NoKind { expected } => {
                // A misspelt kind key was recorded as unknown: point at it.
                let near = seen.unknown.borrow().iter().find_map(|u| {
                    let k = u.path.last_key()?;
                    (u.path.parent() == *p)
                        .then(|| suggest(k, expected).map(|s| (k.to_string(), s, u.pos)))
                        .flatten()
                });
                if let Some((k, s, at)) = near {
                    suggestion = Some(s.to_string());
                    key = Some(k);
                    pos = at;
                }
                if expected.contains(&"ociArtifact") {
                    format!(
                        "{p} has no source; set exactly one of {}",
                        SUPPORTED_SOURCES.join(", ")
                    )
                } else {
                    let sep = if expected.len() == 2 {
                        "` and `"
                    } else {
                        "`, `"
                    };
                    format!("{p} needs exactly one of `{}`", expected.join(sep))
                }
            }
            DeErrorKind::TwoKinds { first, second } => {
                let parent = p.parent();
                format!("{parent} has more than one of `{first}` and `{second}`; set exactly one")
            }
        };
        ConfigError {
            suggestion,
            ..self.error(p, pos, key.as_deref(), message)
        }
    }

    /// A key a type does not read: a warning, or an error with `--strict`.
    pub fn unknown(&self, u: &super::yaml::Unknown, strict: bool) -> ConfigError {
        let k = u.path.last_key().unwrap_or_default();
        let all: Vec<&str> = u.expected.iter().chain(u.also).copied().collect();
        let suggestion = suggest(k, &all).map(str::to_string);
        let mut message = format!("unknown key `{k}` in {}", self.name(&u.path.parent()));
        if strict {
            message.push_str(" (vendir ignores it; --strict refuses it)");
        } else {
            message.push_str(" is ignored, as vendir ignores it (sync --strict refuses it)");
        }
        if suggestion.is_none() && !all.is_empty() {
            message.push_str(&format!("; valid keys: {}", all.join(", ")));
        }
        ConfigError {
            suggestion,
            ..self.error(&u.path, u.pos, Some(k), message)
        }
    }
}

/// The source kinds vendoras fetches: vendir's, plus `ociArtifact`.
const SUPPORTED_SOURCES: &[&str] = &[
    "ociArtifact",
    "manual",
    "directory",
    "inline",
    "http",
    "githubRelease",
    "helmChart",
    "git",
    "hg",
    "image",
    "imgpkgBundle",
];

/// Everything a Config refers to besides itself.
pub(crate) struct Refs<'a> {
    /// Keys the documents had that nothing reads (warnings), for hints.
    pub unknown: &'a [ConfigError],
    pub secrets: &'a BTreeMap<String, Secret>,
    pub config_maps: &'a BTreeMap<String, ConfigMap>,
    pub rules: &'a PathRules,
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
pub(crate) fn parse_permissions(raw: &str) -> Result<u32, String> {
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

/// A path relative to `within`; never absolute, never climbing out.
fn rel_path(doc: &Doc<'_>, raw: &str, p: &KeyPath, within: &str) -> Result<RelPath, ConfigError> {
    relative(raw, within).map_err(|why| doc.err(p, format!("{p} `{}` {why}", shown(raw))))
}

fn relative(raw: &str, within: &str) -> Result<RelPath, String> {
    Err(if raw.trim().is_empty() {
        "must not be empty".to_string()
    } else if raw.starts_with('/') {
        "must be relative (absolute paths are refused)".to_string()
    } else if raw.contains('\\') {
        "must use `/` separators (backslashes are refused)".to_string()
    } else {
        match RelPath::normalize(raw) {
            Some(r) => match too_long(raw, NAME_MAX) {
                Some(why) => why,
                None => return Ok(r),
            },
            None if raw.contains('\0') => "must not contain NUL".to_string(),
            None => format!("escapes {within} (`..`)"),
        }
    })
}

/// A path for a message: a long one is cut (it is at file:line:col anyway).
fn shown(raw: &str) -> String {
    match raw.char_indices().nth(80) {
        Some((cut, _)) => format!("{}… ({} bytes)", &raw[..cut], raw.len()),
        None => raw.to_string(),
    }
}

/// The longest file name Linux file systems take (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// Why `path` cannot be created, if a component is longer than `last_max`
/// (its last) or [`NAME_MAX`] bytes, or the whole longer than `PATH_MAX`
/// allows; said at load time rather than as a raw `File name too long`
/// from deep in a sync.
fn too_long(path: &str, last_max: usize) -> Option<String> {
    if path.len() > 4000 {
        return Some(format!(
            "is {} bytes long; paths are limited to 4096 bytes (PATH_MAX)",
            path.len()
        ));
    }
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    parts.iter().enumerate().find_map(|(i, c)| {
        let max = if i + 1 == parts.len() {
            last_max
        } else {
            NAME_MAX
        };
        (c.len() > max).then(|| {
            format!(
                "has a {}-byte name (`{}…`); at most {max} bytes fit{}",
                c.len(),
                c.chars().take(16).collect::<String>(),
                if max < NAME_MAX {
                    " (the staging directory beside it adds 26 to the file system's 255)"
                } else {
                    " (the file system's NAME_MAX)"
                }
            )
        })
    })
}

/// A directory path: normalised, inside the project, not the working
/// directory or above it. Returns the normalised path and its absolute form.
fn directory_path(raw: &str, rules: &PathRules) -> Result<(String, PathBuf), String> {
    if raw.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if raw.contains('\\') {
        return Err("must use `/` separators (backslashes are refused)".into());
    }
    if raw.contains('\0') {
        return Err("must not contain NUL".into());
    }
    let norm = normalize_directory_path(raw);
    // `.vendoras-staging-<name>-<pid>` is created beside the directory.
    if let Some(why) = too_long(&norm, NAME_MAX - ".vendoras-staging--4194304".len()) {
        return Err(why);
    }
    if norm == "." {
        return Err(
            "is the working directory itself; a directory path must name a \
                    subdirectory (sync replaces everything under it)"
                .into(),
        );
    }
    let abs = clean_absolute(&rules.workdir.join(&norm));
    if rules.workdir.starts_with(&abs) {
        return Err(format!(
            "contains the working directory ({}); sync replaces everything under a directory \
             path",
            rules.workdir.display()
        ));
    }
    if rules.allow_outside {
        return Ok((norm, abs));
    }
    if norm.starts_with('/') {
        return Err(
            "must be relative (absolute paths are refused; --allow-outside-paths \
                    allows them)"
                .into(),
        );
    }
    if !abs.starts_with(&rules.project) {
        let project = if rules.project == rules.workdir {
            format!("the working directory {}", rules.project.display())
        } else {
            format!("the git work tree {}", rules.project.display())
        };
        return Err(format!(
            "leaves the project ({project}); --allow-outside-paths allows it"
        ));
    }
    Ok((norm, abs))
}

fn permissions(doc: &Doc<'_>, raw: Option<&str>, p: &KeyPath) -> Result<Option<u32>, ConfigError> {
    let kp = p.k("permissions");
    raw.map(|r| parse_permissions(r).map_err(|e| doc.err(&kp, format!("{kp}: {e}"))))
        .transpose()
}

/// An optional string that must not be empty when given.
fn nonempty(doc: &Doc<'_>, s: Option<String>, p: &KeyPath) -> Result<Option<String>, ConfigError> {
    if s.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(doc.err(p, format!("{p} must not be empty")));
    }
    Ok(s)
}

fn globs(
    doc: &Doc<'_>,
    list: Option<Vec<String>>,
    p: &KeyPath,
) -> Result<Option<Vec<String>>, ConfigError> {
    for (i, pattern) in list.iter().flatten().enumerate() {
        crate::filter::check_pattern(pattern).map_err(|e| doc.err(&p.i(i), format!("{p}: {e}")))?;
    }
    Ok(list)
}

pub(crate) fn config(
    doc: &Doc<'_>,
    input: ConfigDoc,
    refs: &Refs<'_>,
) -> Result<Config, ConfigError> {
    let root = KeyPath::default();
    let mp = root.k("minimumRequiredVersion");
    let minimum_required_version = nonempty(doc, input.minimum_required_version, &mp)?;
    if let Some(v) = &minimum_required_version {
        if let Some(bare) = v.strip_prefix('v') {
            return Err(doc.err(
                &mp,
                format!("minimumRequiredVersion `{v}` must not have a `v` prefix (e.g. `{bare}`)"),
            ));
        }
    }
    let dp = root.k("directories");
    let mut directories = Vec::new();
    let mut absolute: Vec<PathBuf> = Vec::new();
    for (i, d) in input.directories.into_iter().enumerate() {
        let p = dp.i(i);
        let pp = p.k("path");
        let (path, abs) = directory_path(&d.path, refs.rules)
            .map_err(|why| doc.err(&pp, format!("{pp} `{}` {why}", shown(&d.path))))?;
        let permissions = permissions(doc, d.permissions.as_deref(), &p)?;
        if d.contents.is_empty() {
            let e = doc.err(
                &p,
                format!("{p} (`{path}`) has no contents; add at least one"),
            );
            // `contens:` was read as an unknown key: point at it.
            let near = refs.unknown.iter().find(|w| {
                w.file == doc.file
                    && w.path
                        .strip_prefix(&format!("{p}."))
                        .is_some_and(|k| !k.contains('.'))
                    && w.suggestion.as_deref() == Some("contents")
            });
            return Err(match near {
                Some(w) => ConfigError {
                    line: w.line,
                    column: w.column,
                    key: w.key.clone(),
                    message: format!(
                        "{} (`{}` is not a key there)",
                        e.message,
                        w.key.clone().unwrap_or_default()
                    ),
                    suggestion: Some("contents".into()),
                    ..e
                },
                None => ConfigError {
                    key: Some("contents".into()),
                    ..e
                },
            });
        }
        let cp = p.k("contents");
        let mut contents: Vec<Content> = Vec::new();
        for (j, c) in d.contents.into_iter().enumerate() {
            contents.push(content(doc, c, &cp.i(j), refs)?);
        }
        for (j, b) in contents.iter().enumerate() {
            for (k, a) in contents[..j].iter().enumerate() {
                if !(a.path.is_root() || b.path.is_root() || a.path.overlaps(&b.path)) {
                    continue;
                }
                let reason = if a.path.is_root() || b.path.is_root() {
                    "a content at `.` manages the whole directory and cannot share it"
                } else {
                    "contents of one directory must not be equal or contain each other"
                };
                return Err(doc.err(
                    &cp.i(j).k("path"),
                    format!(
                        "{cp}[{j}].path `{}` overlaps {cp}[{k}].path `{}` (at {}) in directory \
                         `{path}`; {reason}",
                        b.path,
                        a.path,
                        doc.place(&cp.i(k).k("path"))
                    ),
                ));
            }
        }
        for (k, a) in absolute.iter().enumerate() {
            if a.starts_with(&abs) || abs.starts_with(a) {
                let other: &Directory = &directories[k];
                return Err(doc.err(
                    &pp,
                    format!(
                        "directories[{i}].path `{path}` overlaps directories[{k}].path `{}` (at {}); \
                         managed directories must not be equal or contain each other",
                        other.path,
                        doc.place(&dp.i(k).k("path"))
                    ),
                ));
            }
        }
        absolute.push(abs);
        directories.push(Directory {
            path,
            permissions,
            contents,
        });
    }
    Ok(Config {
        minimum_required_version,
        directories,
    })
}

fn content(
    doc: &Doc<'_>,
    input: ContentInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<Content, ConfigError> {
    let f = input.fields;
    let path = rel_path(doc, &f.path, &p.k("path"), "its directory")?;
    let include_paths = globs(doc, f.include_paths, &p.k("includePaths"))?.unwrap_or_default();
    let exclude_paths = globs(doc, f.exclude_paths, &p.k("excludePaths"))?.unwrap_or_default();
    let ignore_paths = globs(doc, f.ignore_paths, &p.k("ignorePaths"))?.unwrap_or_default();
    let legal_paths = globs(doc, f.legal_paths, &p.k("legalPaths"))?;
    let new_root_path = match &f.new_root_path {
        None => None,
        Some(raw) => {
            Some(rel_path(doc, raw, &p.k("newRootPath"), "the content")?).filter(|r| !r.is_root())
        }
    };
    let permissions = permissions(doc, f.permissions.as_deref(), p)?;
    let sp = p.k(&input.key);
    let source = match input.kind {
        SourceInput::OciArtifact(o) => Source::OciArtifact(oci(doc, *o, &sp, refs)?),
        SourceInput::Manual(_) => {
            // vendir skips filtering for manual contents; a filter there is
            // a mistake, not a no-op to keep quiet about.
            for key in [
                "includePaths",
                "excludePaths",
                "ignorePaths",
                "legalPaths",
                "newRootPath",
            ] {
                if has_key(doc.root, p, key) {
                    return Err(doc.err_key(
                        &p.k(key),
                        format!(
                            "{key} has no effect on a manual content (vendir skips filtering \
                             for manual contents); remove it"
                        ),
                    ));
                }
            }
            Source::Manual
        }
        SourceInput::Directory(d) => {
            let path = nonempty(doc, Some(d.path), &sp.k("path"))?.unwrap_or_default();
            Source::Directory { path }
        }
        SourceInput::Inline(i) => Source::Inline(inline(doc, i, &sp, refs)?),
        SourceInput::HelmChart(h) => Source::HelmChart(helm_chart(doc, h, &sp, refs)?),
        SourceInput::Http(h) => Source::Http(http(doc, h, &sp, refs, false)?),
        SourceInput::GithubRelease(g) => {
            Source::GithubRelease(Box::new(github_release(doc, *g, &sp, refs)?))
        }
        SourceInput::Git(g) => Source::Git(git(doc, *g, &sp, refs)?),
        SourceInput::Hg(h) => Source::Hg(hg(doc, h, &sp, refs)?),
        SourceInput::Image(i) => Source::Image(image(doc, i, &sp, refs)?),
        SourceInput::ImgpkgBundle(b) => Source::ImgpkgBundle(imgpkg_bundle(doc, b, &sp, refs)?),
    };
    let raw = doc
        .root
        .walk_value(p)
        .map(Value::to_json)
        .unwrap_or_default();
    Ok(Content {
        path,
        lazy: f.lazy,
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

/// A `secretRef` outside `ociArtifact` whose Secret may hold only `allowed`
/// keys (vendir refuses others when it fetches: `Unknown secret field`).
fn limited_secret_ref(
    doc: &Doc<'_>,
    name: String,
    p: &KeyPath,
    refs: &Refs<'_>,
    allowed: &[&str],
) -> Result<SecretRef, ConfigError> {
    let r = secret_ref(doc, SecretRefInput { name }, p, refs)?;
    if let Some(k) = refs.secrets[&r.name]
        .data
        .keys()
        .find(|k| !allowed.contains(&k.as_str()))
    {
        return Err(doc.err(
            &p.k("name"),
            format!(
                "Unknown secret field '{k}' in secret '{}': {p} takes only {}",
                r.name,
                allowed.join(", ")
            ),
        ));
    }
    Ok(r)
}

/// `http:` (alone, or nested in `githubRelease`, where `url` may hold `{tag}`).
fn http(
    doc: &Doc<'_>,
    h: HttpInput,
    p: &KeyPath,
    refs: &Refs<'_>,
    nested: bool,
) -> Result<Http, ConfigError> {
    let up = p.k("url");
    let url = h.url.trim().to_string();
    let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
    if url.is_empty() || !scheme_ok || url.chars().any(char::is_whitespace) {
        return Err(doc.err(
            &up,
            format!(
                "{up} `{}` must be an http:// or https:// URL{}",
                crate::redact::redact_url(&url),
                if nested {
                    " (`{tag}` is replaced by the release's tag)"
                } else {
                    ""
                }
            ),
        ));
    }
    let sha256 = match h.sha256 {
        None => None,
        Some(s) => {
            let hp = p.k("sha256");
            let hex = s
                .trim()
                .strip_prefix("sha256:")
                .unwrap_or(s.trim())
                .to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(doc.err(
                    &hp,
                    format!("{hp} `{s}` must be 64 hex digits (a sha256; quote it in YAML)"),
                ));
            }
            Some(hex)
        }
    };
    let secret_ref = h
        .secret_ref
        .map(|r| {
            limited_secret_ref(
                doc,
                r.name,
                &p.k("secretRef"),
                refs,
                &["username", "password"],
            )
        })
        .transpose()?;
    let cp = p.k("cosign");
    let cosign = match h.cosign {
        Some(_) if nested => {
            return Err(doc.err_key(
                &cp,
                format!(
                    "{cp}: put `cosign:` on the githubRelease itself (it verifies the `http` \
                     file there)"
                ),
            ))
        }
        Some(c) => Some(cosign(doc, c, &cp, refs, None, CosignOn::Http)?),
        None => None,
    };
    Ok(Http {
        url,
        sha256,
        secret_ref,
        disable_unpack: h.disable_unpack,
        cosign,
    })
}

fn github_release(
    doc: &Doc<'_>,
    g: GithubReleaseInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<GithubRelease, ConfigError> {
    let sp = p.k("slug");
    let slug = nonempty(doc, g.slug, &sp)?.unwrap_or_default();
    let parts: Vec<&str> = slug.split('/').collect();
    if parts.len() != 2
        || parts
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        let at = if has_key(doc.root, p, "slug") {
            sp
        } else {
            p.clone()
        };
        return Err(doc.err(&at, format!("{p}.slug `{slug}` must be `owner/repo`")));
    }
    let mut chosen: Vec<(&str, ReleaseSelector)> = Vec::new();
    if let Some(t) = nonempty(doc, g.tag, &p.k("tag"))? {
        chosen.push(("tag", ReleaseSelector::Tag(t)));
    }
    if let Some(ts) = g.tag_selection {
        let cp = p.k("tagSelection").k("semver").k("constraints");
        let semver = ts.semver.ok_or_else(|| {
            doc.err(
                &p.k("tagSelection"),
                format!("{p}.tagSelection needs `semver`"),
            )
        })?;
        let constraints = nonempty(doc, Some(semver.constraints), &cp)?.unwrap_or_default();
        crate::semver_range::Range::parse(&constraints)
            .map_err(|e| doc.err(&cp, format!("{cp}: {e}")))?;
        chosen.push((
            "tagSelection",
            ReleaseSelector::TagSelection(Semver {
                constraints,
                prerelease_identifiers: semver.prereleases.map(|p| p.identifiers),
            }),
        ));
    }
    if g.latest {
        chosen.push(("latest", ReleaseSelector::Latest));
    }
    if let Some(u) = nonempty(doc, g.url, &p.k("url"))? {
        chosen.push(("url", ReleaseSelector::Url(u)));
    }
    let release = match chosen.len() {
        1 => chosen.pop().unwrap().1,
        0 => {
            return Err(doc.err(
                p,
                format!("{p} needs exactly one of `tag`, `tagSelection`, `latest: true` or `url`"),
            ))
        }
        _ => {
            let second = chosen[1].0;
            return Err(doc.err_key(
                &p.k(second),
                format!(
                    "{p} has both `{}` and `{second}`; set exactly one of `tag`, \
                     `tagSelection`, `latest` or `url`",
                    chosen[0].0
                ),
            ));
        }
    };
    for (name, sum) in &g.checksums {
        let cp = p.k("checksums").k(name);
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(doc.err(
                &cp,
                format!("{cp} `{sum}` must be 64 hex digits (a sha256; quote it in YAML)"),
            ));
        }
    }
    let asset_names = globs(doc, Some(g.asset_names), &p.k("assetNames"))?.unwrap_or_default();
    let unpack_archive = match g.unpack_archive {
        None => None,
        Some(u) => nonempty(doc, Some(u.path), &p.k("unpackArchive").k("path"))?,
    };
    let secret_ref = g
        .secret_ref
        .map(|r| limited_secret_ref(doc, r.name, &p.k("secretRef"), refs, &["token"]))
        .transpose()?;
    let http = g
        .http
        .map(|h| http(doc, h, &p.k("http"), refs, true))
        .transpose()?;
    let on = CosignOn::GithubRelease {
        http: http.is_some(),
    };
    let cosign = g
        .cosign
        .map(|c| cosign(doc, c, &p.k("cosign"), refs, None, on))
        .transpose()?;
    Ok(GithubRelease {
        slug,
        release,
        checksums: g.checksums,
        disable_auto_checksum_validation: g.disable_auto_checksum_validation,
        asset_names,
        unpack_archive,
        secret_ref,
        http,
        cosign,
    })
}

fn has_key(root: &Value, p: &KeyPath, key: &str) -> bool {
    root.walk_value(p).and_then(|v| v.entry(key)).is_some()
}

fn secret_ref(
    doc: &Doc<'_>,
    r: SecretRefInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<SecretRef, ConfigError> {
    let name = r.name;
    if !refs.secrets.contains_key(&name) {
        return Err(doc.err(
            &p.k("name"),
            format!(
                "{p} names Secret `{name}`, which is not defined; add a `v1` `Secret` document \
                 with `metadata.name: {name}` to the config inputs{}",
                known("Secrets", refs.secrets.keys())
            ),
        ));
    }
    Ok(SecretRef { name })
}

fn oci(
    doc: &Doc<'_>,
    o: OciArtifactInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<OciArtifact, ConfigError> {
    let image = nonempty(doc, o.image, &p.k("image"))?;
    let layout = nonempty(doc, o.oci_layout, &p.k("ociLayout"))?;
    let location = match (image, layout) {
        (Some(image), None) => {
            if image.chars().any(char::is_whitespace) {
                return Err(doc.err(
                    &p.k("image"),
                    format!("{} `{image}` must not contain whitespace", p.k("image")),
                ));
            }
            OciLocation::Image(image)
        }
        (None, Some(layout)) => OciLocation::Layout(layout),
        (None, None) => {
            return Err(doc.err(
                p,
                format!(
                    "{p} needs `image` (a registry reference) or `ociLayout` (a local OCI \
                     layout directory)"
                ),
            ))
        }
        (Some(_), Some(_)) => {
            return Err(doc.err_key(
                &p.k("ociLayout"),
                format!("{p} sets both `image` and `ociLayout`; set exactly one"),
            ))
        }
    };
    let tag = nonempty(doc, o.tag, &p.k("tag"))?;
    let tag_selection = match o.tag_selection {
        None => None,
        Some(ts) => {
            let tp = p.k("tagSelection");
            if tag.is_some() {
                return Err(doc.err_key(
                    &tp,
                    format!("{p}: `tagSelection` and `tag` exclude each other; set one"),
                ));
            }
            if matches!(&location, OciLocation::Image(i) if i.contains('@')) {
                return Err(doc.err_key(
                    &tp,
                    format!("{p}: `tagSelection` cannot be combined with a digest in `image`"),
                ));
            }
            let cp = tp.k("semver").k("constraints");
            let constraints = nonempty(doc, Some(ts.semver.constraints), &cp)?.unwrap_or_default();
            Some(TagSelection {
                semver: Semver {
                    constraints,
                    prerelease_identifiers: ts.semver.prereleases.map(|p| p.identifiers),
                },
            })
        }
    };
    let media_types = o.media_types.unwrap_or_default();
    for (i, mt) in media_types.iter().enumerate() {
        if mt.trim().is_empty() {
            let mp = p.k("mediaTypes");
            return Err(doc.err(&mp.i(i), format!("{mp}[{i}] must not be empty")));
        }
    }
    let platform = nonempty(doc, o.platform, &p.k("platform"))?;
    let secret_ref = o
        .secret_ref
        .map(|r| secret_ref(doc, r, &p.k("secretRef"), refs))
        .transpose()?;
    let cosign = o
        .cosign
        .map(|c| {
            let image = match &location {
                OciLocation::Image(i) => Some(i.as_str()),
                OciLocation::Layout(_) => None,
            };
            cosign(doc, c, &p.k("cosign"), refs, image, CosignOn::Registry)
        })
        .transpose()?;
    Ok(OciArtifact {
        location,
        tag,
        tag_selection,
        media_types,
        platform,
        unpack: o.unpack,
        secret_ref,
        plain_http: o.plain_http,
        dangerous_skip_tls_verify: o.dangerous_skip_tls_verify,
        cosign,
    })
}

fn helm_chart(
    doc: &Doc<'_>,
    h: HelmChartInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<HelmChart, ConfigError> {
    let np = p.k("name");
    let name = nonempty(doc, Some(h.name), &np)?.unwrap_or_default();
    if name.chars().any(char::is_whitespace) || name.starts_with('/') || name.ends_with('/') {
        return Err(doc.err(
            &np,
            format!(
                "{np} `{name}` must be a chart name (no whitespace, no leading or trailing `/`)"
            ),
        ));
    }
    let vp = p.k("version");
    let version = nonempty(doc, h.version, &vp)?;
    let rp = p.k("repository");
    let up = rp.k("url");
    let Some(repo) = h.repository else {
        return Err(ConfigError {
            key: Some("repository".into()),
            ..doc.err_key(
                p,
                format!(
                    "missing required key `repository` in {p}: set `repository.url` (an https:// \
                     chart repository or oci://registry/path); vendoras has no helm repositories \
                     configured to search"
                ),
            )
        });
    };
    let Some(url) = nonempty(doc, repo.url, &up)? else {
        return Err(ConfigError {
            key: Some("url".into()),
            ..doc.err(&rp, format!("missing required key `url` in {rp}"))
        });
    };
    let repository = if let Some(rest) = url.strip_prefix("oci://") {
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains(char::is_whitespace) || rest.contains(['?', '#', '@']) {
            return Err(doc.err(
                &up,
                format!("{up} `{url}` must be oci://registry[/path] (no tag, digest or query)"),
            ));
        }
        if version.is_none() {
            // Positioned at the content's source, keyed by the missing key.
            return Err(ConfigError {
                key: Some("version".into()),
                ..doc.err_key(
                    p,
                    format!(
                        "missing required key `version` in {p}: an oci:// chart needs it \
                         (vendir requires it there too; only a chart repository has an index \
                         to pick the newest from)"
                    ),
                )
            });
        }
        HelmRepository::Oci(rest.to_string())
    } else if url.starts_with("https://") || url.starts_with("http://") {
        if url.contains(char::is_whitespace) {
            return Err(doc.err(&up, format!("{up} `{url}` must not contain whitespace")));
        }
        HelmRepository::Http(url)
    } else {
        return Err(doc.err(
            &up,
            format!("{up} `{url}` must start with https://, http:// or oci://"),
        ));
    };
    let secret_ref = repo
        .secret_ref
        .map(|r| {
            secret_ref(
                doc,
                SecretRefInput { name: r.name },
                &rp.k("secretRef"),
                refs,
            )
        })
        .transpose()?;
    let cp = p.k("cosign");
    let cosign = match (h.cosign, &repository) {
        (None, _) => None,
        (Some(c), HelmRepository::Oci(path)) => {
            let image = format!("{path}/{name}");
            Some(cosign(doc, c, &cp, refs, Some(&image), CosignOn::Registry)?)
        }
        (Some(_), HelmRepository::Http(_)) => {
            return Err(doc.err_key(
                &cp,
                format!(
                    "{cp} needs an oci:// repository: a chart repository serves archives, \
                     not signed OCI manifests (cosign verifies an OCI digest)"
                ),
            ))
        }
    };
    Ok(HelmChart {
        name,
        version,
        repository,
        secret_ref,
        cosign,
    })
}

/// The keys vendir's git and hg sources read from a `secretRef` Secret.
const VCS_SECRET_KEYS: &[&str] = &["ssh-privatekey", "ssh-knownhosts", "username", "password"];

/// A required string: present and not blank.
fn required(doc: &Doc<'_>, s: String, p: &KeyPath) -> Result<String, ConfigError> {
    if s.trim().is_empty() {
        let parent = p.parent();
        return Err(doc.err(
            &parent,
            format!(
                "{parent} needs a non-empty `{}`",
                p.last_key().unwrap_or_default()
            ),
        ));
    }
    Ok(s)
}

fn git(doc: &Doc<'_>, g: GitInput, p: &KeyPath, refs: &Refs<'_>) -> Result<Git, ConfigError> {
    let url = required(doc, g.url, &p.k("url"))?;
    let named = nonempty(doc, g.ref_, &p.k("ref"))?;
    let reference = match (named, g.ref_selection) {
        (Some(_), Some(_)) => {
            return Err(doc.err_key(
                &p.k("refSelection"),
                format!("{p}: `ref` and `refSelection` exclude each other; set one"),
            ))
        }
        (Some(r), None) => GitRef::Named(r),
        (None, Some(sel)) => {
            let sp = p.k("refSelection").k("semver");
            let Some(semver) = sel.semver else {
                return Err(doc.err(
                    &p.k("refSelection"),
                    format!("{p}.refSelection needs `semver`"),
                ));
            };
            let cp = sp.k("constraints");
            let constraints = required(doc, semver.constraints, &cp)?;
            if let Err(e) = crate::semver_range::Range::parse(&constraints) {
                return Err(doc.err(&cp, format!("{cp}: {e}")));
            }
            GitRef::Semver {
                constraints,
                prerelease_identifiers: semver.prereleases.map(|p| p.identifiers),
            }
        }
        (None, None) => {
            return Err(doc.err(
                p,
                format!("{p} needs `ref` (a branch, tag or sha) or `refSelection`"),
            ))
        }
    };
    let dp = p.k("depth");
    let depth = match g.depth {
        None => 0,
        Some(d) => u32::try_from(d).map_err(|_| {
            doc.err(
                &dp,
                format!("{dp} must be 0 or a positive number, found {d}"),
            )
        })?,
    };
    let secret = g
        .secret_ref
        .map(|r| limited_secret_ref(doc, r.name, &p.k("secretRef"), refs, VCS_SECRET_KEYS))
        .transpose()?;
    let vp = p.k("verification");
    let public_keys = match g.verification {
        None => None,
        Some(v) => match v.public_keys_secret_ref {
            Some(r) => Some(secret_ref(
                doc,
                SecretRefInput { name: r.name },
                &vp.k("publicKeysSecretRef"),
                refs,
            )?),
            None => {
                return Err(doc.err(&vp, format!("{vp} needs `publicKeysSecretRef`")));
            }
        },
    };
    Ok(Git {
        url,
        reference,
        depth,
        skip_init_submodules: g.skip_init_submodules,
        lfs_skip_smudge: g.lfs_skip_smudge,
        dangerous_skip_tls_verify: g.dangerous_skip_tls_verify,
        force_http_basic_auth: g.force_http_basic_auth,
        secret_ref: secret,
        public_keys,
    })
}

fn hg(doc: &Doc<'_>, h: HgInput, p: &KeyPath, refs: &Refs<'_>) -> Result<Hg, ConfigError> {
    let url = required(doc, h.url, &p.k("url"))?;
    let reference = required(doc, h.ref_.unwrap_or_default(), &p.k("ref"))?;
    let secret_ref = h
        .secret_ref
        .map(|r| limited_secret_ref(doc, r.name, &p.k("secretRef"), refs, VCS_SECRET_KEYS))
        .transpose()?;
    Ok(Hg {
        url,
        reference,
        evolve: h.evolve,
        secret_ref,
    })
}

/// Raw fields shared by `image` and `imgpkgBundle`.
struct RegistryImageInput {
    reference: Option<String>,
    tag_selection: Option<super::input::TagSelectionInput>,
    secret_ref: Option<SecretRefInput>,
    response_header_timeout: Option<u64>,
    dangerous_skip_tls_verify: bool,
    cosign: Option<CosignInput>,
}

fn registry_image(
    doc: &Doc<'_>,
    i: RegistryImageInput,
    p: &KeyPath,
    key: &str,
    refs: &Refs<'_>,
) -> Result<RegistryImage, ConfigError> {
    let kp = p.k(key);
    let reference = nonempty(doc, i.reference, &kp)?
        .ok_or_else(|| doc.err(p, format!("{p} needs `{key}` (an image reference)")))?;
    if reference.chars().any(char::is_whitespace) {
        return Err(doc.err(
            &kp,
            format!("{kp} `{reference}` must not contain whitespace"),
        ));
    }
    let tag_selection = match i.tag_selection {
        None => None,
        Some(ts) => {
            let tp = p.k("tagSelection");
            let written = crate::reference::split_reference(&reference);
            if written.tag.is_some() || written.digest.is_some() {
                return Err(doc.err_key(
                    &tp,
                    format!("{p}: `tagSelection` needs `{key}` without a tag or digest"),
                ));
            }
            let cp = tp.k("semver").k("constraints");
            let constraints = nonempty(doc, Some(ts.semver.constraints), &cp)?.unwrap_or_default();
            Some(TagSelection {
                semver: Semver {
                    constraints,
                    prerelease_identifiers: ts.semver.prereleases.map(|p| p.identifiers),
                },
            })
        }
    };
    let secret_ref = i
        .secret_ref
        .map(|r| secret_ref(doc, r, &p.k("secretRef"), refs))
        .transpose()?;
    // `images` is about `.imgpkg/images.yml`: a bundle's only (an imgpkgBundle
    // names its reference `image`, an image `url`).
    let on = match key == "image" {
        true => CosignOn::Bundle,
        false => CosignOn::Registry,
    };
    let cosign = i
        .cosign
        .map(|c| cosign(doc, c, &p.k("cosign"), refs, Some(&reference), on))
        .transpose()?;
    Ok(RegistryImage {
        reference,
        tag_selection,
        secret_ref,
        response_header_timeout: i.response_header_timeout.filter(|&s| s > 0),
        dangerous_skip_tls_verify: i.dangerous_skip_tls_verify,
        cosign,
    })
}

fn image(
    doc: &Doc<'_>,
    i: ImageInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<RegistryImage, ConfigError> {
    let raw = RegistryImageInput {
        reference: i.url,
        tag_selection: i.tag_selection,
        secret_ref: i.secret_ref,
        response_header_timeout: i.response_header_timeout,
        dangerous_skip_tls_verify: i.dangerous_skip_tls_verify,
        cosign: i.cosign,
    };
    registry_image(doc, raw, p, "url", refs)
}

fn imgpkg_bundle(
    doc: &Doc<'_>,
    b: ImgpkgBundleInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<ImgpkgBundle, ConfigError> {
    let raw = RegistryImageInput {
        reference: b.image,
        tag_selection: b.tag_selection,
        secret_ref: b.secret_ref,
        response_header_timeout: b.response_header_timeout,
        dangerous_skip_tls_verify: b.dangerous_skip_tls_verify,
        cosign: b.cosign,
    };
    let image = registry_image(doc, raw, p, "image", refs)?;
    let ap = p.k("additionalCACertificates");
    let mut additional_ca_certificates = Vec::new();
    for (n, c) in b
        .additional_ca_certificates
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        additional_ca_certificates.push(nonempty(doc, Some(c), &ap.i(n))?.unwrap_or_default());
    }
    Ok(ImgpkgBundle {
        image,
        recursive: b.recursive,
        additional_ca_certificates,
    })
}

/// Which source a `cosign:` is on: the keys are the same everywhere, a few
/// apply to some sources only.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CosignOn {
    /// `ociArtifact`, `image`, an `oci://` `helmChart`.
    Registry,
    /// `imgpkgBundle` (`images` applies).
    Bundle,
    /// `http` (`bundleURL` applies).
    Http,
    /// `githubRelease`: `bundleURL` with `http:`, `bundleAsset` without.
    GithubRelease { http: bool },
}

fn cosign(
    doc: &Doc<'_>,
    c: CosignInput,
    p: &KeyPath,
    refs: &Refs<'_>,
    image: Option<&str>,
    on: CosignOn,
) -> Result<Cosign, ConfigError> {
    if c.images.is_some() && on != CosignOn::Bundle {
        return Err(doc.err_key(
            &p.k("images"),
            format!(
                "{p}.images applies only to imgpkgBundle (the images its .imgpkg/images.yml lists)"
            ),
        ));
    }
    let bundle_url = nonempty(doc, c.bundle_url, &p.k("bundleURL"))?;
    if let Some(u) = &bundle_url {
        let up = p.k("bundleURL");
        let why = match on {
            CosignOn::Http | CosignOn::GithubRelease { http: true } => None,
            CosignOn::GithubRelease { http: false } => Some(
                "applies to a githubRelease with `http:`; for release assets name the \
                 bundle's asset with `bundleAsset`",
            ),
            _ => Some("applies only to http and githubRelease (signatures of downloaded files)"),
        };
        if let Some(why) = why {
            return Err(doc.err_key(&up, format!("{up} {why}")));
        }
        let scheme_ok = u.starts_with("http://") || u.starts_with("https://");
        if !scheme_ok || u.chars().any(char::is_whitespace) {
            return Err(doc.err(
                &up,
                format!(
                    "{up} `{}` must be an http:// or https:// URL",
                    crate::redact::redact_url(u)
                ),
            ));
        }
    }
    let github_attestations = c.github_attestations.unwrap_or(false);
    let gp = p.k("githubAttestations");
    if c.github_attestations.is_some() && on != (CosignOn::GithubRelease { http: false }) {
        return Err(doc.err_key(
            &gp,
            format!("{gp} applies only to githubRelease assets (without `http:`)"),
        ));
    }
    let predicate_type = nonempty(doc, c.predicate_type, &p.k("predicateType"))?;
    if predicate_type.is_some() && !github_attestations {
        let pp = p.k("predicateType");
        return Err(doc.err_key(
            &pp,
            format!("{pp} applies only with `githubAttestations: true`"),
        ));
    }
    if github_attestations && (c.key.is_some() || c.secret_ref.is_some()) {
        let k = if c.key.is_some() { "key" } else { "secretRef" };
        return Err(doc.err_key(
            &p.k(k),
            format!(
                "{p}: GitHub artifact attestations are signed keyless (Sigstore, by the \
                 workflow's identity); give certificateIdentity (or \
                 certificateIdentityRegexp) and certificateOidcIssuer, not `{k}`"
            ),
        ));
    }
    let bundle_asset = nonempty(doc, c.bundle_asset, &p.k("bundleAsset"))?;
    if bundle_asset.is_some() && github_attestations {
        let ap = p.k("bundleAsset");
        return Err(doc.err_key(
            &ap,
            format!("{ap}: with `githubAttestations: true` the attestations come from the API, not an asset; set one"),
        ));
    }
    if bundle_asset.is_some() && on != (CosignOn::GithubRelease { http: false }) {
        let ap = p.k("bundleAsset");
        return Err(doc.err_key(
            &ap,
            format!(
                "{ap} applies only to githubRelease assets (without `http:`; there use \
                 `bundleURL`)"
            ),
        ));
    }
    let key = nonempty(doc, c.key, &p.k("key"))?;
    let secret = c
        .secret_ref
        .map(|r| secret_ref(doc, r, &p.k("secretRef"), refs))
        .transpose()?;
    let keys = match (key, secret) {
        (Some(_), Some(_)) => {
            return Err(doc.err_key(
                &p.k("secretRef"),
                format!("{p} sets both `key` and `secretRef`; set one"),
            ))
        }
        (Some(k), None) => vec![CosignKey::File(k)],
        (None, Some(s)) => vec![CosignKey::Secret(s)],
        (None, None) => Vec::new(),
    };
    let mut parts = Vec::new();
    for (name, value) in [
        ("certificateIdentity", c.certificate_identity),
        ("certificateIdentityRegexp", c.certificate_identity_regexp),
        ("certificateOidcIssuer", c.certificate_oidc_issuer),
        (
            "certificateOidcIssuerRegexp",
            c.certificate_oidc_issuer_regexp,
        ),
    ] {
        parts.push((name, nonempty(doc, value, &p.k(name))?));
    }
    let first_keyless = parts.iter().find(|(_, v)| v.is_some()).map(|(n, _)| *n);
    let [(_, id), (_, id_re), (_, iss), (_, iss_re)] =
        <[_; 4]>::try_from(parts).expect("four parts");
    let issuer = iss.clone();
    let signers = Signers::from_parts(keys, id, id_re, iss, iss_re).map_err(|e| match e {
        SignersError::KeysAndKeyless => {
            let k = first_keyless.unwrap_or("certificateIdentity");
            doc.err_key(
                &p.k(k),
                format!("{p} mixes key-based verification (`key`/`secretRef`) with keyless (`{k}`); use one"),
            )
        }
        other => doc.err(
            p,
            format!(
                "{p} needs `key` or `secretRef` (key-based), or one of certificateIdentity / \
                 certificateIdentityRegexp and one of certificateOidcIssuer / \
                 certificateOidcIssuerRegexp (keyless){}",
                match other {
                    SignersError::NoIssuer => "; the issuer is missing".to_string(),
                    SignersError::NoIdentity => format!(
                        "; the identity is missing. {}",
                        identity_hint(issuer.as_deref(), image)
                    ),
                    _ => String::new(),
                }
            ),
        ),
    })?;
    Ok(Cosign {
        signers,
        trusted_root: nonempty(doc, c.trusted_root, &p.k("trustedRoot"))?,
        images: c.images.unwrap_or(false),
        bundle_url,
        bundle_asset,
        github_attestations,
        predicate_type,
    })
}

/// A CI issuer whose certificate identity (the SAN) has a known form, per Fulcio's
/// identity config (sigstore/fulcio config/identity/config.yaml).
struct CiIssuer {
    issuer: &'static str,
    /// Whom the issuer alone accepts.
    anyone: &'static str,
    /// The registry whose first path segment is the identity's namespace.
    registry: &'static str,
    /// The identity's host.
    host: &'static str,
    namespace: &'static str,
    /// What follows the project in the identity.
    after_project: &'static str,
    signers: &'static str,
}

const CI_ISSUERS: [CiIssuer; 2] = [
    // `https://github.com/{job_workflow_ref}`: .../OWNER/REPO/.github/workflows/F@REF
    CiIssuer {
        issuer: "https://token.actions.githubusercontent.com",
        anyone: "any GitHub Actions workflow of any repository",
        registry: "ghcr.io",
        host: "github.com",
        namespace: "owner",
        after_project: "/.github/workflows/",
        signers: "workflows",
    },
    // `https://{ci_config_ref_uri}`: https://gitlab.com/NS/PROJECT//F@REF
    CiIssuer {
        issuer: "https://gitlab.com",
        anyone: "any GitLab CI pipeline of any project on gitlab.com",
        registry: "registry.gitlab.com",
        host: "gitlab.com",
        namespace: "namespace",
        after_project: "//",
        signers: "pipelines",
    },
];

/// The rest of the refusal of a keyless `cosign:` with an issuer but no identity: why
/// that is not enough, and YAML lines to add under `cosign:` (single-quoted, so the
/// regexp's backslashes stay), derived from the image for the [`CI_ISSUERS`].
/// `(?i)`: the identity keeps the owner's capitals, registry paths are lowercase.
pub(crate) fn identity_hint(issuer: Option<&str>, image: Option<&str>) -> String {
    let line = |re: String| {
        format!(
            "\n    certificateIdentityRegexp: '{}'",
            re.replace('\'', "''")
        )
    };
    let Some(ci) = CI_ISSUERS.iter().find(|c| Some(c.issuer) == issuer) else {
        return "An issuer alone accepts anyone that issuer vouches for. Add the signer's \
                identity under `cosign:` as `cosign verify` shows it (an email or a URI), e.g.\
                \n    certificateIdentity: release-bot@example.com"
            .to_string();
    };
    let (host, signers, sep) = (regex_escape(ci.host), ci.signers, ci.after_project);
    let mut s = format!(
        "An issuer alone accepts a signature from {}. Add the signer's identity under \
         `cosign:`",
        ci.anyone
    );
    // `registry/NS/PROJECT[/...][:tag][@digest]`
    let full = image.unwrap_or_default();
    let path: Vec<&str> = full
        .split('@')
        .next()
        .unwrap_or_default()
        .split('/')
        .collect();
    let untagged = |seg: &str| seg.split(':').next().unwrap_or_default().to_string();
    match path.as_slice() {
        [reg, ns, rest @ ..]
            if reg.eq_ignore_ascii_case(ci.registry) && !untagged(ns).is_empty() =>
        {
            // A tag can only follow the last segment.
            let ns = if rest.is_empty() {
                untagged(ns)
            } else {
                ns.to_string()
            };
            s.push_str(&format!(
                "; for the {signers} of {ns} (the {} in {full}):{}",
                ci.namespace,
                line(format!("(?i)^https://{host}/{}/", regex_escape(&ns)))
            ));
            if let Some(project) = rest.first().map(|p| untagged(p)).filter(|p| !p.is_empty()) {
                s.push_str(&format!(
                    "\nor, narrower, for the {signers} of {ns}/{project} only (guessed: the \
                     path segment after the {}; change it if another project signs):{}",
                    ci.namespace,
                    line(format!(
                        "(?i)^https://{host}/{}/{}{}",
                        regex_escape(&ns),
                        regex_escape(&project),
                        regex_escape(sep)
                    ))
                ));
            }
        }
        _ => s.push_str(&format!(
            ", e.g. for the {signers} of OWNER/PROJECT:{}",
            line(format!(
                "^https://{host}/OWNER/PROJECT{}",
                regex_escape(sep)
            ))
        )),
    }
    s
}

/// `s` as a literal in a Go (RE2) regexp.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if "\\.+*?()|[]{}^$".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn inline(
    doc: &Doc<'_>,
    i: InlineInput,
    p: &KeyPath,
    refs: &Refs<'_>,
) -> Result<Inline, ConfigError> {
    let pp = p.k("paths");
    let mut paths = BTreeMap::new();
    for (k, content) in i.paths {
        let kp = pp.k(&k);
        let norm = relative(&k, "the content")
            .map_err(|why| doc.err_key(&kp, format!("{pp} key `{k}` {why}")))?;
        if norm.is_root() {
            return Err(doc.err_key(&kp, format!("{pp} key `{k}` must name a file")));
        }
        if paths.insert(norm.clone(), content).is_some() {
            return Err(doc.err_key(
                &kp,
                format!("{pp} names `{norm}` twice (after normalisation)"),
            ));
        }
    }
    let fp = p.k("pathsFrom");
    let mut paths_from = Vec::new();
    for (n, from) in i.paths_from.into_iter().enumerate() {
        let rp = fp.i(n).k(&from.key);
        let (r, what, exists, list) = match from.kind {
            PathsFromKind::SecretRef(r) => {
                let exists = refs.secrets.contains_key(&r.name);
                (r, "Secret", exists, known("Secrets", refs.secrets.keys()))
            }
            PathsFromKind::ConfigMapRef(r) => {
                let exists = refs.config_maps.contains_key(&r.name);
                (
                    r,
                    "ConfigMap",
                    exists,
                    known("ConfigMaps", refs.config_maps.keys()),
                )
            }
        };
        let name = r.name;
        if !exists {
            return Err(doc.err(
                &rp.k("name"),
                format!(
                    "{rp} names {what} `{name}`, which is not defined; add a `v1` `{what}` \
                     document with `metadata.name: {name}`{list}"
                ),
            ));
        }
        let directory_path = match &r.directory_path {
            None => RelPath::root(),
            Some(raw) => rel_path(doc, raw, &rp.k("directoryPath"), "the content")?,
        };
        let r = InlineRef {
            name,
            directory_path,
        };
        paths_from.push(if what == "Secret" {
            InlineFrom::Secret(r)
        } else {
            InlineFrom::ConfigMap(r)
        });
    }
    if paths.is_empty() && paths_from.is_empty() {
        return Err(doc.err(
            p,
            format!("{p} has no `paths` and no `pathsFrom`; nothing to write"),
        ));
    }
    Ok(Inline { paths, paths_from })
}

pub(crate) fn secret(doc: &Doc<'_>, s: SecretDoc) -> Result<Secret, ConfigError> {
    let root = KeyPath::default();
    let name = metadata_name(doc, s.metadata.name)?;
    let mut data = BTreeMap::new();
    for (k, v) in s.data {
        let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| {
                doc.err(
                    &root.k("data").k(&k),
                    format!(
                        "Secret `{name}` data.{k} is not valid base64 ({e}); use stringData for \
                         plain text"
                    ),
                )
            })?;
        data.insert(k, bytes);
    }
    for (k, v) in s.string_data {
        data.insert(k, v.into_bytes());
    }
    Ok(Secret { name, data })
}

pub(crate) fn config_map(doc: &Doc<'_>, c: ConfigMapDoc) -> Result<ConfigMap, ConfigError> {
    let name = metadata_name(doc, c.metadata.name)?;
    Ok(ConfigMap { name, data: c.data })
}

fn metadata_name(doc: &Doc<'_>, name: String) -> Result<String, ConfigError> {
    let p = KeyPath::default().k("metadata").k("name");
    Ok(nonempty(doc, Some(name), &p)?.unwrap_or_default())
}
