//! The library's error type.
//!
//! One enum whose variants carry what the user can act on as data: the
//! config file and line, the registry and HTTP status, the layer digest and
//! media type, the archive entry, the path. Context is a chain, not text:
//! [`Error::Content`] (which directory and content) and [`Error::Layer`]
//! (which layer) wrap the error that happened inside them. The chain is
//! rendered in one place, [`fmt::Display`] below (outermost context first),
//! and turned into fields for `--json` in one place, [`Error::to_json`]; the
//! shape is documented in the README ("Errors").
//!
//! Match on [`Error::cause`] for what went wrong, and print the error
//! itself (or [`Error::to_json`]) for the whole story:
//!
//! ```
//! use std::path::Path;
//! use vendoras::error::{Error, ErrorKind, Operation};
//! use vendoras::registry::Repository;
//! use vendoras::Op;
//!
//! let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/layout");
//! let repo = Repository::open_layout(&layout).unwrap();
//! let err = repo.resolve(&Op::new(), "v9.9.9", None).unwrap_err();
//!
//! match err.cause() {
//!     Error::Registry(r) => {
//!         assert_eq!(r.operation, Operation::Resolve);
//!         assert_eq!(r.source.kind, ErrorKind::NotFound);
//!         assert_eq!(r.reference.as_deref(), Some("v9.9.9"));
//!         assert_eq!(r.registry, None); // an OCI layout, not a registry
//!     }
//!     other => panic!("unexpected: {other}"),
//! }
//! assert_eq!(err.kind(), "registry");
//! assert_eq!(err.to_json()["message"], err.to_string());
//! assert!(!err.is_cancelled());
//! ```

use std::fmt;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::config_error::ConfigError;
use crate::digest::Digest;
pub use crate::ffi::{ErrorKind, ShimError};
use crate::redact::escape;

/// Everything that can go wrong in vendoras' library.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The config (`vendir.yml`) is invalid; names file, line, column and key.
    Config(Box<ConfigError>),
    /// A value from the config or a flag that cannot be used, where the
    /// config module did not position it: `ociArtifact.image`,
    /// `tagSelection.semver.constraints`, a `secretRef`, `-d`, ...
    Setting {
        /// The key or flag, e.g. `ociArtifact.platform` or `-d`.
        key: String,
        /// The value given, when it helps to repeat it.
        value: Option<String>,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry or OCI layout said no (from oras-go, via the shim).
    Registry(Box<RegistryError>),
    /// An artifact whose shape cannot be synced as configured (an index
    /// without a platform, no layer left after `mediaTypes`, ...).
    Artifact {
        /// `registry/repository:tag`, `…@digest` or `oci-layout:DIR@digest`.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// Something went wrong with one layer; `source` says what.
    Layer {
        /// The layer's digest.
        digest: Digest,
        /// The layer's media type.
        media_type: String,
        /// Its `org.opencontainers.image.title`, where that names the
        /// layer for the user (`vendoras pull`).
        title: Option<String>,
        /// What went wrong.
        source: Box<Error>,
    },
    /// An archive entry or a file path that was refused (escapes, links,
    /// limits, overlaps, duplicate or traversing titles).
    Entry {
        /// The entry's name as the archive or title spells it (`<layer>`
        /// for the layer as a whole).
        entry: String,
        /// Why.
        reason: String,
    },
    /// Content did not match what its descriptor promised.
    Verify {
        /// `manifest` or `blob`.
        object: &'static str,
        /// The promised digest.
        digest: Digest,
        /// The descriptor's media type.
        media_type: String,
        /// Where it came from (`registry/repository`), when known.
        repository: Option<String>,
        /// The mismatch.
        detail: String,
    },
    /// A plain HTTP GET failed (`http`, `githubRelease`, chart
    /// repositories): transport trouble from the shim, or a status the
    /// source cannot use.
    Http(Box<HttpError>),
    /// Downloaded content did not have the SHA-256 the config asked for
    /// (`http.sha256`, `githubRelease.checksums`, release-note checksums).
    Checksum {
        /// What was checked: `https://host/file.tgz`, `asset 'x.tgz'`.
        subject: String,
        /// The expected hex digest.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A downloaded file (`http`, `githubRelease`) whose Sigstore bundle is
    /// missing or does not verify against `cosign:`.
    Signature {
        /// The file: its redacted URL, or `asset 'x.tgz'`.
        subject: String,
        /// The file's SHA-256, as downloaded.
        digest: Digest,
        /// The bundle looked at (redacted URL or asset); `None` when none
        /// was found.
        bundle: Option<String>,
        /// Why it does not verify (the bundle named in it), or where the
        /// bundle was looked for.
        reason: String,
    },
    /// A `git` or `hg` command failed, or was refused before it ran.
    Vcs {
        /// `git` or `hg`.
        tool: &'static str,
        /// The repository URL (any userinfo removed).
        url: String,
        /// The ref as configured, or the commit being fetched.
        reference: Option<String>,
        /// What failed, in the tool's words where it said something
        /// (secrets removed).
        reason: String,
    },
    /// Local file system trouble.
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lock file cannot be used (as read, or for `--locked`).
    Lock {
        /// The lock file, when the error is about the file (not an entry
        /// handed down to a source).
        file: Option<PathBuf>,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// A request that carries no data beyond its text (kept for genuinely
    /// free-form refusals; everything with a file, registry, layer, entry
    /// or path has its own variant).
    Usage(String),
    /// A bug, or an answer from the shim that does not parse.
    Internal(String),
    /// The operation was interrupted (Ctrl-C or SIGTERM).
    Cancelled,
    /// A sync failed (`source`), and putting back the directories it had
    /// already swapped in failed too: `stuck` says where each previous tree
    /// now is.
    Rollback {
        /// Why the sync failed.
        source: Box<Error>,
        /// One message per directory that could not be restored.
        stuck: Vec<String>,
        /// The directories that were restored.
        restored: Vec<PathBuf>,
    },
    /// The context of a sync: which directory and content failed.
    Content {
        /// The directory's `path`.
        directory: String,
        /// The content's `path`.
        content: String,
        /// The source kind (`ociArtifact`, `manual`, ...).
        source_kind: String,
        /// What went wrong.
        source: Box<Error>,
    },
}

/// What vendoras asked the registry or layout for when it said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// Opening the repository (credentials, TLS material).
    Open,
    /// Resolving a tag or digest (and reading its manifest).
    Resolve,
    /// Fetching a manifest, config or blob by digest.
    Fetch,
    /// Listing tags (`tagSelection`).
    ListTags,
    /// Finding and checking a cosign signature.
    VerifySignature,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Open => "open",
            Operation::Resolve => "resolve",
            Operation::Fetch => "fetch",
            Operation::ListTags => "list tags of",
            Operation::VerifySignature => "verify cosign signature of",
        }
    }

    fn json_name(self) -> &'static str {
        match self {
            Operation::Open => "open",
            Operation::Resolve => "resolve",
            Operation::Fetch => "fetch",
            Operation::ListTags => "listTags",
            Operation::VerifySignature => "verifySignature",
        }
    }
}

/// A registry (or OCI layout) error with what was being asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryError {
    /// What was asked.
    pub operation: Operation,
    /// The registry host (`localhost:5000`), `None` for an OCI layout.
    pub registry: Option<String>,
    /// `registry/repository`, or the layout's path.
    pub repository: String,
    /// The tag or digest asked for, if any.
    pub reference: Option<String>,
    /// The media type of what was fetched, when known.
    pub media_type: Option<String>,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// The shim's error (its kind and oras-go's message).
    pub source: ShimError,
}

impl Error {
    /// A registry error; a cancelled shim call becomes [`Error::Cancelled`]
    /// so it stays recognisable.
    pub(crate) fn registry(e: RegistryError) -> Error {
        if e.source.kind == ErrorKind::Cancelled {
            return Error::Cancelled;
        }
        Error::Registry(Box::new(e))
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`Error::Setting`].
    pub(crate) fn setting(
        key: impl Into<String>,
        value: Option<&str>,
        reason: impl Into<String>,
    ) -> Error {
        Error::Setting {
            key: key.into(),
            value: value.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// An [`Error::Entry`].
    pub(crate) fn entry(entry: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Entry {
            entry: entry.into(),
            reason: reason.into(),
        }
    }

    /// Adds which layer this happened to, unless the error already names
    /// that digest (a registry or digest error about the same blob) or is a
    /// cancellation.
    pub(crate) fn in_layer(self, digest: &Digest, media_type: &str, title: Option<&str>) -> Error {
        if self.is_cancelled() || self.names_digest(digest) {
            return self;
        }
        Error::Layer {
            digest: digest.clone(),
            media_type: media_type.to_string(),
            title: title.map(str::to_string),
            source: Box::new(self),
        }
    }

    /// Adds which directory and content this happened to (once, by the sync
    /// engine); a cancellation stays as it is.
    pub(crate) fn in_content(self, directory: &str, content: &str, source_kind: &str) -> Error {
        if self.is_cancelled() {
            return self;
        }
        Error::Content {
            directory: directory.to_string(),
            content: content.to_string(),
            source_kind: source_kind.to_string(),
            source: Box::new(self),
        }
    }

    /// Whether this error is a cancellation.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.cause(), Error::Cancelled)
    }

    /// The innermost error, beneath any [`Error::Content`] and
    /// [`Error::Layer`] context.
    pub fn cause(&self) -> &Error {
        match self {
            Error::Content { source, .. }
            | Error::Layer { source, .. }
            | Error::Rollback { source, .. } => source.cause(),
            e => e,
        }
    }

    /// The error's class, as `--json` reports it in `kind`: that of the
    /// innermost error (context wrappers only add fields).
    pub fn kind(&self) -> &'static str {
        match self.cause() {
            Error::Config(_) => "config",
            Error::Setting { .. } => "setting",
            Error::Registry(_) => "registry",
            Error::Artifact { .. } => "artifact",
            Error::Entry { .. } => "entry",
            Error::Verify { .. } => "verify",
            Error::Http(_) => "http",
            Error::Checksum { .. } => "checksum",
            Error::Signature { .. } => "signature",
            Error::Vcs { .. } => "vcs",
            Error::Io { .. } => "io",
            Error::Lock { .. } => "lock",
            Error::Usage(_) => "usage",
            Error::Internal(_) => "internal",
            Error::Cancelled => "cancelled",
            Error::Content { .. } | Error::Layer { .. } | Error::Rollback { .. } => {
                unreachable!("cause() unwraps context")
            }
        }
    }

    /// Whether one of this error's own fields names `d`.
    fn names_digest(&self, d: &Digest) -> bool {
        match self {
            Error::Layer { digest, .. } | Error::Verify { digest, .. } => digest == d,
            Error::Registry(r) => r.reference.as_deref() == Some(d.to_string().as_str()),
            _ => false,
        }
    }

    /// The error as one JSON object: `kind`, `message` (the rendered text)
    /// and the fields of every error in the chain (camelCase; absent fields
    /// are left out). The README documents the shape.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), self.kind().into());
        m.insert("message".into(), self.to_string().into());
        self.fields(&mut m);
        Value::Object(m)
    }

    fn fields(&self, m: &mut Map<String, Value>) {
        let mut put = |k: &str, v: Value| {
            m.entry(k.to_string()).or_insert(v);
        };
        match self {
            Error::Content {
                directory,
                content,
                source_kind,
                source,
            } => {
                put("directory", directory.as_str().into());
                put("content", content.as_str().into());
                put("sourceKind", source_kind.as_str().into());
                source.fields(m);
            }
            Error::Rollback {
                source,
                stuck,
                restored,
            } => {
                put("rollbackFailed", stuck.clone().into());
                put(
                    "restored",
                    restored
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .into(),
                );
                source.fields(m);
            }
            Error::Layer {
                digest,
                media_type,
                title,
                source,
            } => {
                put("digest", digest.to_string().into());
                put("mediaType", media_type.as_str().into());
                if let Some(t) = title {
                    put("title", t.as_str().into());
                }
                source.fields(m);
            }
            Error::Config(c) => {
                put("file", c.file.as_str().into());
                if let Some(l) = c.line {
                    put("line", l.into());
                }
                if let Some(col) = c.column {
                    put("column", col.into());
                }
                if let Some(k) = &c.key {
                    put("key", k.as_str().into());
                }
                if !c.path.is_empty() {
                    put("path", c.path.as_str().into());
                }
                if let Some(s) = &c.suggestion {
                    put("suggestion", s.as_str().into());
                }
            }
            Error::Setting { key, value, .. } => {
                put("key", key.as_str().into());
                if let Some(v) = value {
                    put("value", v.as_str().into());
                }
            }
            Error::Registry(r) => {
                put("operation", r.operation.json_name().into());
                match &r.registry {
                    Some(host) => put("registry", host.as_str().into()),
                    None => put("layout", r.repository.as_str().into()),
                }
                put("repository", r.repository.as_str().into());
                if let Some(reference) = &r.reference {
                    if is_digest(reference) {
                        put("digest", reference.as_str().into());
                    } else {
                        put("reference", reference.as_str().into());
                    }
                }
                if let Some(mt) = &r.media_type {
                    put("mediaType", mt.as_str().into());
                }
                if let Some(s) = r.status {
                    put("status", s.into());
                }
                put("code", shim_kind_name(r.source.kind).into());
            }
            Error::Artifact { reference, .. } => put("reference", reference.as_str().into()),
            Error::Entry { entry, .. } => put("entry", entry.as_str().into()),
            Error::Verify {
                digest,
                media_type,
                repository,
                ..
            } => {
                put("digest", digest.to_string().into());
                put("mediaType", media_type.as_str().into());
                if let Some(r) = repository {
                    put("repository", r.as_str().into());
                }
            }
            Error::Http(h) => {
                put("url", h.url.as_str().into());
                if let Some(s) = h.status {
                    put("status", s.into());
                }
                if let Some(k) = h.code {
                    put("code", shim_kind_name(k).into());
                }
            }
            Error::Checksum {
                subject,
                expected,
                actual,
            } => {
                put("subject", subject.as_str().into());
                put("expected", format!("sha256:{expected}").into());
                put("actual", format!("sha256:{actual}").into());
            }
            Error::Signature {
                subject,
                digest,
                bundle,
                ..
            } => {
                put("subject", subject.as_str().into());
                put("digest", digest.to_string().into());
                if let Some(b) = bundle {
                    put("bundle", b.as_str().into());
                }
            }
            Error::Vcs {
                tool,
                url,
                reference,
                ..
            } => {
                put("tool", (*tool).into());
                put("url", url.as_str().into());
                if let Some(r) = reference {
                    put("reference", r.as_str().into());
                }
            }
            Error::Io { path, .. } => put("path", path.display().to_string().into()),
            Error::Lock { file, line, .. } => {
                if let Some(f) = file {
                    put("file", f.display().to_string().into());
                }
                if let Some(l) = line {
                    put("line", (*l).into());
                }
            }
            Error::Usage(_) | Error::Internal(_) | Error::Cancelled => {}
        }
    }
}

/// A plain HTTP error: which URL (never with credentials or a query), the
/// HTTP status when there was one, and the shim's kind for transport errors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpError {
    /// The URL asked for, redacted (`crate::redact::redact_url`).
    pub url: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// The shim's kind, for transport errors (`None`: the server's answer
    /// was refused by vendoras).
    pub code: Option<ErrorKind>,
    /// What went wrong.
    pub detail: String,
}

/// A tag or digest as the user writes it after a repository.
fn is_digest(reference: &str) -> bool {
    reference.parse::<Digest>().is_ok()
}

/// The shim's name for a kind (`go/errors.go` `kindNames`).
fn shim_kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Invalid => "invalid",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::Denied => "denied",
        ErrorKind::DigestMismatch => "digest_mismatch",
        ErrorKind::SizeExceeded => "size_exceeded",
        ErrorKind::Network => "network",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::BadHandle => "bad_handle",
        ErrorKind::Tls => "tls",
        ErrorKind::Internal => "internal",
        ErrorKind::Verification => "verification",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Io => "io",
    }
}

/// What a 401 means and what to do about it: the one place that says it.
/// oras-go's "basic credential not found" (no status) means nothing was
/// found to send. `kind` is the content's source kind in a sync (`None`
/// for `vendoras pull` and `verify`).
fn unauthorized(r: &RegistryError, kind: Option<&str>) -> String {
    let repository = r.repository.as_str();
    let host = r.registry.as_deref().unwrap_or(repository);
    let what = match r.status {
        None => format!(
            "the registry answered 401 unauthorized for {repository} and no credentials for {host} were found"
        ),
        // Credentials refused, or an anonymous token that does not cover
        // the repository: oras-go's words say which.
        Some(_) => format!(
            "the registry answered 401 unauthorized for {repository} ({})",
            r.source.message
        ),
    };
    let todo = match kind {
        None => format!(
            "log in with `docker login {host}`, or pass --registry-config (pull also takes -u/-p)"
        ),
        Some("image" | "imgpkgBundle") => format!(
            "add a secretRef to the content, log in with `docker login {host}`, or set IMGPKG_USERNAME/IMGPKG_PASSWORD (or IMGPKG_REGISTRY_HOSTNAME/USERNAME/PASSWORD)"
        ),
        Some(_) => format!(
            "add a secretRef to the content, or log in with `docker login {host}`"
        ),
    };
    format!("{what}; {todo}")
}

/// The one render: context first (`directory "d", content "c" (kind): `,
/// then `layer <digest> (<media type>): `), then the cause.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, None)
    }
}

impl Error {
    /// [`fmt::Display`], knowing the source kind of the content the error
    /// happened in (`None` outside a sync): what to do about a 401 depends
    /// on it.
    fn render(&self, f: &mut fmt::Formatter<'_>, kind: Option<&str>) -> fmt::Result {
        match self {
            Error::Content {
                directory,
                content,
                source_kind,
                source,
            } => {
                write!(
                    f,
                    "directory {directory:?}, content {content:?} ({source_kind}): "
                )?;
                source.render(f, Some(source_kind))
            }
            Error::Rollback {
                source,
                stuck,
                restored,
            } => {
                source.render(f, kind)?;
                write!(
                    f,
                    "; rolling back the directories already swapped in failed: {}",
                    stuck.join("; ")
                )?;
                if !restored.is_empty() {
                    let restored: Vec<String> =
                        restored.iter().map(|p| p.display().to_string()).collect();
                    write!(f, " (restored: {})", restored.join(", "))?;
                }
                Ok(())
            }
            Error::Layer {
                digest,
                media_type,
                title,
                source,
            } => {
                write!(f, "layer {digest} ({})", escape(media_type))?;
                if let Some(t) = title {
                    write!(f, " titled {t:?}")?;
                }
                f.write_str(": ")?;
                source.render(f, kind)
            }
            Error::Config(c) => write!(f, "{c}"),
            Error::Setting { key, value, reason } => match value {
                Some(v) => write!(f, "{key} {v:?}: {reason}"),
                None => write!(f, "{key}: {reason}"),
            },
            Error::Registry(r) => {
                write!(f, "{} {}", r.operation.as_str(), escape(&r.repository))?;
                if let Some(reference) = &r.reference {
                    let sep = if is_digest(reference) { '@' } else { ':' };
                    write!(f, "{sep}{}", escape(reference))?;
                }
                if let Some(mt) = &r.media_type {
                    write!(f, " ({})", escape(mt))?;
                }
                if r.source.kind == ErrorKind::Unauthorized {
                    return write!(f, ": {}", unauthorized(r, kind));
                }
                write!(f, ": {}", escape(&r.source.message))?;
                // oras-go names the status in most messages ("response
                // status code 404"); where it does not, say it.
                match r.status {
                    Some(s) if !r.source.message.contains(&format!("status code {s}")) => {
                        write!(f, " (HTTP {s})")
                    }
                    _ => Ok(()),
                }
            }
            Error::Artifact { reference, reason } => {
                write!(f, "{}: {}", escape(reference), escape(reason))
            }
            Error::Entry { entry, reason } => write!(f, "{}: {}", escape(entry), escape(reason)),
            Error::Verify {
                object,
                digest,
                media_type,
                repository,
                detail,
            } => {
                write!(f, "{object} {digest} ({})", escape(media_type))?;
                if let Some(r) = repository {
                    write!(f, " from {r}")?;
                }
                write!(f, ": {}", escape(detail))
            }
            Error::Http(h) => write!(f, "GET {}: {}", escape(&h.url), escape(&h.detail)),
            Error::Checksum {
                subject,
                expected,
                actual,
            } => write!(
                f,
                "{}: expected sha256:{expected}, but the download was sha256:{actual}",
                escape(subject)
            ),
            Error::Signature {
                subject,
                digest,
                reason,
                ..
            } => write!(f, "{subject} ({digest}): signature not verified: {reason}"),
            Error::Vcs {
                tool,
                url,
                reference,
                reason,
            } => {
                write!(f, "{tool} {}", escape(url))?;
                if let Some(r) = reference {
                    write!(f, " (ref {r:?})")?;
                }
                write!(f, ": {reason}")
            }
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Lock {
                file,
                line,
                message,
            } => match (file, line) {
                (Some(file), Some(l)) => write!(f, "{}:{l}: {message}", file.display()),
                (Some(file), None) => write!(f, "{}: {message}", file.display()),
                _ => f.write_str(message),
            },
            Error::Usage(m) | Error::Internal(m) => f.write_str(m),
            Error::Cancelled => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Content { source, .. }
            | Error::Layer { source, .. }
            | Error::Rollback { source, .. } => Some(&**source),
            Error::Config(c) => Some(&**c),
            Error::Registry(r) => Some(&r.source),
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(Box::new(e))
    }
}

impl From<crate::extract::ExtractError> for Error {
    fn from(e: crate::extract::ExtractError) -> Error {
        Error::Entry {
            entry: e.entry,
            reason: e.reason,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    //! One snapshot per error class: the rendered text, exactly, and the
    //! `--json` fields.

    use serde_json::json;

    use super::*;

    const LAYER: &str = "sha256:6e023f5543a8e2abbeccef4f77d1f9c94189b8ac237c9ff18d86403fee86183b";

    fn digest() -> Digest {
        LAYER.parse().unwrap()
    }

    fn in_content(e: Error) -> Error {
        e.in_content("vendor", "lib", "ociArtifact")
    }

    #[track_caller]
    fn snapshot(e: &Error, text: &str, fields: serde_json::Value) {
        assert_eq!(e.to_string(), text);
        let mut want = fields;
        want["message"] = text.into();
        assert_eq!(e.to_json(), want);
    }

    #[test]
    fn config_error_names_file_line_column_and_key() {
        let e = Error::from(ConfigError {
            file: "vendir.yml".into(),
            line: Some(6),
            column: Some(5),
            key: Some("pathh".into()),
            path: "directories[0].contents[0].pathh".into(),
            message: "unknown key `pathh` in directories[0].contents[0]".into(),
            suggestion: Some("path".into()),
        });
        snapshot(
            &e,
            "vendir.yml:6:5: unknown key `pathh` in directories[0].contents[0]; did you mean `path`?",
            json!({
                "kind": "config",
                "file": "vendir.yml",
                "line": 6,
                "column": 5,
                "key": "pathh",
                "path": "directories[0].contents[0].pathh",
                "suggestion": "path",
            }),
        );
    }

    #[test]
    fn registry_error_names_registry_reference_and_status() {
        let e = in_content(Error::registry(RegistryError {
            operation: Operation::Resolve,
            registry: Some("localhost:5000".into()),
            repository: "localhost:5000/demo/missing".into(),
            reference: Some("v9".into()),
            media_type: None,
            status: Some(404),
            source: ShimError {
                kind: ErrorKind::NotFound,
                message: "localhost:5000/demo/missing:v9: not found".into(),
                status: None,
            },
        }));
        snapshot(
            &e,
            "directory \"vendor\", content \"lib\" (ociArtifact): resolve \
             localhost:5000/demo/missing:v9: localhost:5000/demo/missing:v9: not found (HTTP 404)",
            json!({
                "kind": "registry",
                "directory": "vendor",
                "content": "lib",
                "sourceKind": "ociArtifact",
                "operation": "resolve",
                "registry": "localhost:5000",
                "repository": "localhost:5000/demo/missing",
                "reference": "v9",
                "status": 404,
                "code": "not_found",
            }),
        );
        // oras-go's own wording of the status is not repeated.
        let e = Error::registry(RegistryError {
            operation: Operation::Fetch,
            registry: Some("localhost:5000".into()),
            repository: "localhost:5000/demo/x".into(),
            reference: Some(LAYER.into()),
            media_type: Some("application/vnd.oci.image.layer.v1.tar".into()),
            status: Some(401),
            source: ShimError {
                kind: ErrorKind::Unauthorized,
                message:
                    "GET \"http://localhost:5000/v2/\": response status code 401: unauthorized"
                        .into(),
                status: Some(401),
            },
        });
        snapshot(
            &e,
            &format!(
                "fetch localhost:5000/demo/x@{LAYER} (application/vnd.oci.image.layer.v1.tar): \
                 the registry answered 401 unauthorized for localhost:5000/demo/x \
                 (GET \"http://localhost:5000/v2/\": response status code 401: unauthorized); \
                 log in with `docker login localhost:5000`, or pass --registry-config (pull also takes -u/-p)"
            ),
            json!({
                "kind": "registry",
                "operation": "fetch",
                "registry": "localhost:5000",
                "repository": "localhost:5000/demo/x",
                "digest": LAYER,
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "status": 401,
                "code": "unauthorized",
            }),
        );
        // A registry error about the layer already names it: no second layer context.
        let e = e.in_layer(&digest(), "application/vnd.oci.image.layer.v1.tar", None);
        assert!(matches!(e, Error::Registry(_)), "{e:?}");
    }

    #[test]
    fn an_anonymous_401_says_what_happened_and_what_to_do_for_the_source_kind() {
        let anonymous = || {
            Error::registry(RegistryError {
                operation: Operation::Resolve,
                registry: Some("localhost:5000".into()),
                repository: "localhost:5000/private".into(),
                reference: Some("v1".into()),
                media_type: None,
                status: None,
                source: ShimError {
                    kind: ErrorKind::Unauthorized,
                    message: "GET \"https://localhost:5000/v2/private/manifests/v1\": \
                              basic credential not found"
                        .into(),
                    status: None,
                },
            })
        };
        let what = "resolve localhost:5000/private:v1: the registry answered 401 unauthorized \
                    for localhost:5000/private and no credentials for localhost:5000 were found; ";
        assert_eq!(
            anonymous().to_string(),
            format!(
                "{what}log in with `docker login localhost:5000`, or pass --registry-config (pull also takes -u/-p)"
            )
        );
        assert_eq!(
            in_content(anonymous()).to_string(),
            format!(
                "directory \"vendor\", content \"lib\" (ociArtifact): {what}add a secretRef \
                 to the content, or log in with `docker login localhost:5000`"
            )
        );
        let image = anonymous().in_content("vendor", "img", "image").to_string();
        assert!(
            image.ends_with(
                "add a secretRef to the content, log in with `docker login localhost:5000`, \
                 or set IMGPKG_USERNAME/IMGPKG_PASSWORD (or IMGPKG_REGISTRY_HOSTNAME/USERNAME/PASSWORD)"
            ),
            "{image}"
        );
        assert!(!image.contains("basic credential not found"), "{image}");
    }

    #[test]
    fn layer_error_names_digest_and_media_type() {
        let e = in_content(
            Error::Artifact {
                reference: "localhost:5000/demo/notar@sha256:ce1e".into(),
                reason: "not an archive".into(),
            }
            .in_layer(&digest(), "application/vnd.example.blob", None),
        );
        snapshot(
            &e,
            &format!(
                "directory \"vendor\", content \"lib\" (ociArtifact): layer {LAYER} \
                 (application/vnd.example.blob): localhost:5000/demo/notar@sha256:ce1e: not an archive"
            ),
            json!({
                "kind": "artifact",
                "directory": "vendor",
                "content": "lib",
                "sourceKind": "ociArtifact",
                "digest": LAYER,
                "mediaType": "application/vnd.example.blob",
                "reference": "localhost:5000/demo/notar@sha256:ce1e",
            }),
        );
    }

    #[test]
    fn entry_error_names_the_entry_inside_its_layer() {
        let e = Error::from(crate::extract::ExtractError {
            entry: "../escape.txt".into(),
            reason: "path escapes the destination with '..'".into(),
        })
        .in_layer(
            &digest(),
            "application/vnd.oci.image.layer.v1.tar+gzip",
            Some("dir"),
        );
        snapshot(
            &e,
            &format!(
                "layer {LAYER} (application/vnd.oci.image.layer.v1.tar+gzip) titled \"dir\": \
                 ../escape.txt: path escapes the destination with '..'"
            ),
            json!({
                "kind": "entry",
                "digest": LAYER,
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "title": "dir",
                "entry": "../escape.txt",
            }),
        );
    }

    #[test]
    fn verify_error_names_blob_source_and_mismatch() {
        let e = Error::Verify {
            object: "blob",
            digest: digest(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            repository: Some("localhost:5000/demo/x".into()),
            detail: "size mismatch: expected 10 bytes, got 9".into(),
        };
        snapshot(
            &e,
            &format!(
                "blob {LAYER} (application/vnd.oci.image.layer.v1.tar) from localhost:5000/demo/x: \
                 size mismatch: expected 10 bytes, got 9"
            ),
            json!({
                "kind": "verify",
                "digest": LAYER,
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "repository": "localhost:5000/demo/x",
            }),
        );
    }

    #[test]
    fn http_error_names_the_url_status_and_code() {
        let e = in_content(Error::Http(Box::new(HttpError {
            url: "http://127.0.0.1:9/a.tgz".into(),
            status: Some(404),
            code: None,
            detail: "Expected 200 OK, but was '404 Not Found'".into(),
        })));
        snapshot(
            &e,
            "directory \"vendor\", content \"lib\" (ociArtifact): GET http://127.0.0.1:9/a.tgz: Expected 200 OK, but was '404 Not Found'",
            json!({
                "kind": "http",
                "directory": "vendor",
                "content": "lib",
                "sourceKind": "ociArtifact",
                "url": "http://127.0.0.1:9/a.tgz",
                "status": 404,
            }),
        );
        let e = Error::Http(Box::new(HttpError {
            url: "https://h/x".into(),
            status: None,
            code: Some(ErrorKind::Tls),
            detail: "x509: certificate signed by unknown authority".into(),
        }));
        snapshot(
            &e,
            "GET https://h/x: x509: certificate signed by unknown authority",
            json!({"kind": "http", "url": "https://h/x", "code": "tls"}),
        );
    }

    #[test]
    fn checksum_error_names_both_digests() {
        let e = Error::Checksum {
            subject: "asset 'a.tgz'".into(),
            expected: "aa".into(),
            actual: "bb".into(),
        };
        snapshot(
            &e,
            "asset 'a.tgz': expected sha256:aa, but the download was sha256:bb",
            json!({"kind": "checksum", "subject": "asset 'a.tgz'", "expected": "sha256:aa", "actual": "sha256:bb"}),
        );
    }

    #[test]
    fn signature_error_names_file_digest_and_bundle() {
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let e = Error::Signature {
            subject: "asset 'a.tgz'".into(),
            digest: d.clone(),
            bundle: Some("asset 'a.tgz.sigstore.json'".into()),
            reason: "bundle asset 'a.tgz.sigstore.json': wrong key".into(),
        };
        snapshot(
            &e,
            &format!(
                "asset 'a.tgz' ({d}): signature not verified: bundle asset \
                 'a.tgz.sigstore.json': wrong key"
            ),
            json!({"kind": "signature", "subject": "asset 'a.tgz'", "digest": d.to_string(),
                   "bundle": "asset 'a.tgz.sigstore.json'"}),
        );
    }

    #[test]
    fn io_error_names_the_path() {
        let e = Error::io(
            "vendor/lib",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        snapshot(
            &e,
            "vendor/lib: permission denied",
            json!({ "kind": "io", "path": "vendor/lib" }),
        );
    }

    #[test]
    fn lock_error_names_file_and_line() {
        let e = Error::Lock {
            file: Some("vendir.lock.yml".into()),
            line: Some(3),
            message: "not a valid lock file: mapping values are not allowed here".into(),
        };
        snapshot(
            &e,
            "vendir.lock.yml:3: not a valid lock file: mapping values are not allowed here",
            json!({ "kind": "lock", "file": "vendir.lock.yml", "line": 3 }),
        );
    }

    #[test]
    fn setting_error_names_key_and_value() {
        let e = in_content(Error::setting(
            "ociArtifact.secretRef",
            Some("creds"),
            "no such Secret",
        ));
        snapshot(
            &e,
            "directory \"vendor\", content \"lib\" (ociArtifact): ociArtifact.secretRef \"creds\": no such Secret",
            json!({
                "kind": "setting",
                "directory": "vendor",
                "content": "lib",
                "sourceKind": "ociArtifact",
                "key": "ociArtifact.secretRef",
                "value": "creds",
            }),
        );
    }

    #[test]
    fn cancelled_stays_cancelled_through_context() {
        let e = in_content(Error::Cancelled).in_layer(&digest(), "x", None);
        assert!(matches!(e, Error::Cancelled));
        assert!(e.is_cancelled());
        snapshot(&e, "interrupted", json!({ "kind": "cancelled" }));
        let shim = Error::registry(RegistryError {
            operation: Operation::Fetch,
            registry: None,
            repository: "layout".into(),
            reference: None,
            media_type: None,
            status: None,
            source: ShimError {
                kind: ErrorKind::Cancelled,
                message: "context canceled".into(),
                status: None,
            },
        });
        assert!(shim.is_cancelled());
    }

    #[test]
    fn the_chain_is_reachable_through_source() {
        let e = in_content(Error::io("x", std::io::Error::other("boom")));
        let inner = std::error::Error::source(&e).expect("content wraps its cause");
        assert_eq!(inner.to_string(), "x: boom");
        assert_eq!(e.kind(), "io");
    }
}
