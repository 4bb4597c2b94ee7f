//! `vendir.lock.yml`: what each content resolved to.
//!
//! Written in a stable key order, atomically (temp file + rename), and only
//! when its bytes change, so an unchanged sync leaves the file (and its
//! mtime) alone and a git diff shows only real moves.
//!
//! Read with serde-saphyr, as the config is. Written by
//! [`LockConfig::to_yaml`] itself: the document is a fixed shape of strings,
//! and writing it here keeps the bytes earlier versions wrote (serde_yaml's
//! quoting), so an upgrade does not rewrite every lock.
//!
//! ```
//! use vendoras::lock::{LockConfig, LockFile};
//!
//! # fn main() -> vendoras::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("vendir.lock.yml");
//! let text = "apiVersion: vendir.k14s.io/v1alpha1
//! kind: LockConfig
//! directories:
//! - path: vendor/quickstart
//!   contents:
//!   - path: .
//!     ociArtifact:
//!       url: oci-layout:layout@sha256:e8f5e3330f2de990efa35d96e5596cea1c3bca6e753b12ca89f80c2da41854ac
//!       tag: v1.0.0
//! ";
//! std::fs::write(&path, text).unwrap();
//!
//! let lock = LockConfig::read(&path)?.expect("the file exists");
//! let pinned = lock.content("vendor/quickstart", ".").unwrap();
//! assert_eq!(pinned.source_kind(), Some("ociArtifact"));
//! assert_eq!(pinned.oci_artifact.as_ref().unwrap().tag.as_deref(), Some("v1.0.0"));
//! assert_eq!(lock.to_yaml(), text); // the bytes vendoras writes
//!
//! // A lock a merge left conflict markers in is no lock, and says where.
//! std::fs::write(&path, format!("<<<<<<< ours\n{text}")).unwrap();
//! let LockFile::Unreadable(why) = LockConfig::load(&path)? else {
//!     panic!("conflict markers are not a lock");
//! };
//! assert_eq!(why.line, Some(1));
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The lock document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockConfig {
    /// `vendir.k14s.io/v1alpha1`.
    pub api_version: String,
    /// `LockConfig`.
    pub kind: String,
    /// One entry per synced directory.
    #[serde(default)]
    pub directories: Vec<LockDirectory>,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            api_version: "vendir.k14s.io/v1alpha1".to_string(),
            kind: "LockConfig".to_string(),
            directories: Vec::new(),
        }
    }
}

/// A directory's lock entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockDirectory {
    /// The directory path, as in the config.
    pub path: String,
    /// Its contents.
    #[serde(default)]
    pub contents: Vec<LockContent>,
}

/// A content's lock entry: exactly one source key is set. The keys and
/// their fields are vendir's (`LockDirectoryContents` in vendir v0.44.0),
/// plus `index` on `ociArtifact` and `configDigest`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockContent {
    /// The content path, as in the config.
    pub path: String,
    /// What an `ociArtifact` resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_artifact: Option<LockOciArtifact>,
    /// What a `git` ref resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<LockGit>,
    /// What an `hg` ref resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hg: Option<LockHg>,
    /// `http: {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Empty>,
    /// Which GitHub release was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_release: Option<LockGithubRelease>,
    /// What an `image` resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<LockImage>,
    /// What an `imgpkgBundle` resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imgpkg_bundle: Option<LockImgpkgBundle>,
    /// Which chart version was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm_chart: Option<LockHelmChart>,
    /// `manual: {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<Empty>,
    /// `directory: {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<Empty>,
    /// `inline: {}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<Empty>,
    /// Digest of the content's config, recorded for `lazy: true` so an
    /// unchanged config can skip the fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
}

impl LockContent {
    /// Each source key with its fields, in the order they are written;
    /// only set ones. One list, so the writer, [`LockContent::source_kind`]
    /// and [`LockContent::same_source`] cannot disagree about the kinds.
    fn sources(&self) -> Vec<(&'static str, Vec<(&'static str, LockValue<'_>)>)> {
        fn opt<'a>(
            key: &'static str,
            v: &'a Option<String>,
        ) -> Option<(&'static str, LockValue<'a>)> {
            v.as_deref().map(|v| (key, LockValue::Str(v)))
        }
        let mut out = Vec::new();
        if let Some(o) = &self.oci_artifact {
            let mut f = vec![("url", LockValue::Str(&o.url))];
            f.extend(opt("tag", &o.tag));
            f.extend(opt("index", &o.index));
            out.push(("ociArtifact", f));
        }
        if let Some(g) = &self.git {
            let mut f = vec![
                ("commitTitle", LockValue::Str(&g.commit_title)),
                ("sha", LockValue::Str(&g.sha)),
            ];
            if !g.tags.is_empty() {
                f.push(("tags", LockValue::List(&g.tags)));
            }
            out.push(("git", f));
        }
        if let Some(h) = &self.hg {
            out.push((
                "hg",
                vec![
                    ("changeSetTitle", LockValue::Str(&h.change_set_title)),
                    ("sha", LockValue::Str(&h.sha)),
                ],
            ));
        }
        if let Some(r) = &self.github_release {
            out.push((
                "githubRelease",
                vec![
                    ("tag", LockValue::Str(&r.tag)),
                    ("url", LockValue::Str(&r.url)),
                ],
            ));
        }
        if let Some(i) = &self.image {
            let mut f = vec![];
            f.extend(opt("tag", &i.tag));
            f.push(("url", LockValue::Str(&i.url)));
            out.push(("image", f));
        }
        if let Some(b) = &self.imgpkg_bundle {
            let mut f = vec![("image", LockValue::Str(&b.image))];
            f.extend(opt("tag", &b.tag));
            out.push(("imgpkgBundle", f));
        }
        if let Some(h) = &self.helm_chart {
            out.push((
                "helmChart",
                vec![
                    ("appVersion", LockValue::Str(&h.app_version)),
                    ("version", LockValue::Str(&h.version)),
                ],
            ));
        }
        for (key, set) in [
            ("http", self.http.is_some()),
            ("manual", self.manual.is_some()),
            ("directory", self.directory.is_some()),
            ("inline", self.inline.is_some()),
        ] {
            if set {
                out.push((key, Vec::new()));
            }
        }
        out
    }

    /// The source key that is set (`git`, `ociArtifact`, ...), if one is.
    pub fn source_kind(&self) -> Option<&'static str> {
        self.sources().first().map(|(k, _)| *k)
    }

    /// What the entry pins, in one string for reports: the manifest digest
    /// (`ociArtifact`, `image`, `imgpkgBundle`), the commit or changeset
    /// (`git`, `hg`), the chart version or the release tag; `None` for
    /// kinds that pin nothing (`http`, `manual`, `directory`, `inline`).
    pub fn pinned(&self) -> Option<String> {
        let digest = |url: &str| url.rsplit_once('@').map(|(_, d)| d.to_string());
        if let Some(o) = &self.oci_artifact {
            return digest(&o.url);
        }
        if let Some(i) = &self.image {
            return digest(&i.url);
        }
        if let Some(b) = &self.imgpkg_bundle {
            return digest(&b.image);
        }
        let id = [
            self.git.as_ref().map(|g| &g.sha),
            self.hg.as_ref().map(|h| &h.sha),
            self.helm_chart.as_ref().map(|h| &h.version),
            self.github_release.as_ref().map(|r| &r.tag),
        ];
        id.into_iter().flatten().next().cloned()
    }

    /// Whether `other` pins the same source to the same thing (the path and
    /// `configDigest` aside).
    pub(crate) fn same_source(&self, other: &LockContent) -> bool {
        self.sources() == other.sources()
    }
}

/// A field value in a lock entry.
#[derive(Debug, PartialEq, Eq)]
enum LockValue<'a> {
    Str(&'a str),
    List(&'a [String]),
}

/// An empty mapping (`{}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The resolved artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockOciArtifact {
    /// `registry/repository@sha256:…` of the manifest that was extracted
    /// (after platform selection), or `oci-layout:DIR@sha256:…`.
    pub url: String,
    /// The tag that was resolved, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// When `url` was chosen from an image index: the index's digest. That
    /// is what a signature covers, so `--locked` verifies it again and
    /// checks that `url` is still one of its manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
}

/// `git`: the commit checked out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockGit {
    /// The full commit sha.
    pub sha: String,
    /// `git describe --tags` of the commit, as a one-element list; empty
    /// when it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The message's first line, plus `...` when it has more.
    #[serde(default)]
    pub commit_title: String,
}

/// `hg`: the changeset checked out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockHg {
    /// The full changeset id.
    pub sha: String,
    /// The description's first line.
    #[serde(default)]
    pub change_set_title: String,
}

/// `githubRelease`: the release fetched.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockGithubRelease {
    /// The release's API URL (`…/repos/{slug}/releases/{id}`).
    pub url: String,
    /// Its `tag_name`.
    #[serde(default)]
    pub tag: String,
}

/// `image`: the manifest extracted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockImage {
    /// `repository@sha256:…`, the repository as written.
    pub url: String,
    /// The tag given or selected, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// `imgpkgBundle`: the bundle extracted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockImgpkgBundle {
    /// `repository@sha256:…`.
    pub image: String,
    /// The tag given or selected, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// `helmChart`: the chart fetched, from its `Chart.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LockHelmChart {
    /// `version`.
    pub version: String,
    /// `appVersion` (empty when the chart has none).
    #[serde(default)]
    pub app_version: String,
}

/// What is at the lock path.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockFile {
    /// No file.
    Missing,
    /// A lock.
    Valid(LockConfig),
    /// A file whose bytes are not a lock: a plain sync ignores it with a
    /// warning and rewrites it; `--locked` refuses it (docs/lock.md).
    Unreadable(Unreadable),
}

/// Why a lock file could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unreadable {
    /// The lock file.
    pub path: PathBuf,
    /// 1-based line of the first conflict marker or parse error, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.reason),
            None => write!(f, "{}: {}", self.path.display(), self.reason),
        }
    }
}

impl From<Unreadable> for Error {
    fn from(u: Unreadable) -> Error {
        Error::Lock {
            file: Some(u.path),
            line: u.line,
            message: u.reason,
        }
    }
}

impl LockConfig {
    /// Reads a lock file; `Ok(None)` when it does not exist, an error when
    /// it is unreadable (see [`LockConfig::load`] to tell the cases apart).
    pub fn read(path: &Path) -> Result<Option<LockConfig>> {
        match Self::load(path)? {
            LockFile::Missing => Ok(None),
            LockFile::Valid(lock) => Ok(Some(lock)),
            LockFile::Unreadable(u) => Err(u.into()),
        }
    }

    /// Reads a lock file. I/O errors are errors, and so is a YAML document
    /// of another `kind` (a lock path pointing at some other file must not
    /// be overwritten); bytes that are no lock at all (merge conflict
    /// markers, an empty file, garbage) are [`LockFile::Unreadable`].
    pub fn load(path: &Path) -> Result<LockFile> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(LockFile::Missing),
            Err(e) => return Err(Error::io(path, e)),
        };
        let unreadable = |line: Option<usize>, reason: String| {
            Ok(LockFile::Unreadable(Unreadable {
                path: path.to_path_buf(),
                line,
                reason,
            }))
        };
        let text = match std::str::from_utf8(&bytes) {
            Ok(t) => t,
            Err(e) => {
                let line = bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                return unreadable(Some(line), "not a valid lock file: not UTF-8 text".into());
            }
        };
        if let Some((line, marker)) = conflict_marker(text) {
            return unreadable(
                Some(line),
                format!("not a valid lock file: merge conflict marker {marker:?}"),
            );
        }
        if text
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return unreadable(None, "not a valid lock file: it is empty".into());
        }
        // Another kind of document (`--lock-file vendir.yml`) is refused
        // rather than ignored: a plain sync would overwrite it.
        #[derive(Deserialize)]
        struct Kind {
            kind: Option<String>,
        }
        if let Ok(Kind { kind: Some(kind) }) = parse::<Kind>(text) {
            if kind != "LockConfig" {
                return Err(Error::Lock {
                    file: Some(path.to_path_buf()),
                    line: None,
                    message: format!("kind is {kind:?}, expected LockConfig"),
                });
            }
        }
        let lock: LockConfig = match parse(text) {
            Ok(lock) => lock,
            Err(e) => {
                let line = e.location().map(|l| l.line() as usize).filter(|&l| l > 0);
                return unreadable(
                    line,
                    format!("not a valid lock file: {}", e.without_snippet()),
                );
            }
        };
        Ok(LockFile::Valid(lock))
    }

    /// The entry of `content` in `directory`, if any.
    pub fn content(&self, directory: &str, content: &str) -> Option<&LockContent> {
        self.directories
            .iter()
            .find(|d| d.path == directory)?
            .contents
            .iter()
            .find(|c| c.path == content)
    }

    /// Replaces (or adds) a directory's entry, keeping the others.
    pub fn merge(&mut self, dir: LockDirectory) {
        match self.directories.iter_mut().find(|d| d.path == dir.path) {
            Some(d) => *d = dir,
            None => self.directories.push(dir),
        }
    }

    /// Serialises in the stable order.
    pub fn to_yaml(&self) -> String {
        let mut out = format!(
            "apiVersion: {}\nkind: {}\n",
            scalar(&self.api_version),
            scalar(&self.kind)
        );
        if self.directories.is_empty() {
            out.push_str("directories: []\n");
            return out;
        }
        out.push_str("directories:\n");
        for d in &self.directories {
            out.push_str(&format!("- path: {}\n", scalar(&d.path)));
            if d.contents.is_empty() {
                out.push_str("  contents: []\n");
                continue;
            }
            out.push_str("  contents:\n");
            for c in &d.contents {
                out.push_str(&format!("  - path: {}\n", scalar(&c.path)));
                for (key, fields) in c.sources() {
                    if fields.is_empty() {
                        out.push_str(&format!("    {key}: {{}}\n"));
                        continue;
                    }
                    out.push_str(&format!("    {key}:\n"));
                    for (field, value) in fields {
                        match value {
                            LockValue::Str(v) => {
                                out.push_str(&format!("      {field}: {}\n", scalar(v)))
                            }
                            LockValue::List(vs) => {
                                out.push_str(&format!("      {field}:\n"));
                                for v in vs {
                                    out.push_str(&format!("      - {}\n", scalar(v)));
                                }
                            }
                        }
                    }
                }
                if let Some(d) = &c.config_digest {
                    out.push_str(&format!("    configDigest: {}\n", scalar(d)));
                }
            }
        }
        out
    }

    /// Writes atomically, only when the bytes differ. Returns whether it wrote.
    pub fn write(&self, path: &Path) -> Result<bool> {
        let text = self.to_yaml();
        if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
            return Ok(false);
        }
        write_atomic(path, text.as_bytes(), true)?;
        Ok(true)
    }
}

/// The lock's YAML reader (the config's library, without source snippets in
/// errors: the message names the file and line itself).
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options(text, serde_saphyr::options! { with_snippet: false })
}

/// The first line (1-based) git's merge left a conflict marker on, and the
/// marker line itself.
fn conflict_marker(text: &str) -> Option<(usize, &str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let line = line.trim_end();
        let marked = ["<<<<<<<", ">>>>>>>", "|||||||"]
            .iter()
            .any(|m| line == *m || line.strip_prefix(m).is_some_and(|r| r.starts_with(' ')))
            || line == "=======";
        marked.then_some((i + 1, line))
    })
}

/// Writes a file by temp file + rename in the same directory; `durable`
/// adds an fsync before the rename (the lock; not the cache's notes).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".vendoras-tmp-")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    if durable {
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// The string `s` as a block mapping value, quoted exactly as serde_yaml 0.9
/// (libyaml) quoted it, so locks written by earlier versions keep their
/// bytes. Checked against serde_yaml on 200,000 strings; only strings with
/// line breaks differ (double-quoted here, block or folded there).
fn scalar(s: &str) -> String {
    if s.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) || !s.chars().all(printable) {
        return double_quoted(s);
    }
    if resolves_to_non_string(s) || !plain_allowed(s) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    s.to_string()
}

/// libyaml's `IS_PRINTABLE` (line breaks are handled before).
fn printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

/// Whether serde_yaml would read the plain scalar as something other than a
/// string (null, bool, int, float), or as a number with leading zeros.
fn resolves_to_non_string(s: &str) -> bool {
    if matches!(
        s,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
    ) {
        return true;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unsigned.strip_prefix(prefix) {
            if !rest.starts_with(['+', '-']) && u128::from_str_radix(rest, radix).is_ok() {
                return true;
            }
        }
    }
    if !unsigned.starts_with(['+', '-'])
        && !unsigned.is_empty()
        && unsigned.bytes().all(|b| b.is_ascii_digit())
    {
        return true; // decimal, or digits with a leading zero
    }
    let unpositive = match s.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return false,
        Some(u) => u,
        None => s,
    };
    if matches!(unpositive, ".inf" | ".Inf" | ".INF")
        || matches!(s, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
    {
        return true;
    }
    unpositive.parse::<f64>().is_ok_and(f64::is_finite)
}

/// libyaml's `block_plain_allowed` for a one-line scalar.
fn plain_allowed(s: &str) -> bool {
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let blank = |i: usize| {
        chars
            .get(i)
            .is_none_or(|c| matches!(c, ' ' | '\t' | '\u{85}' | '\u{2028}' | '\u{2029}'))
    };
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_blank = blank(i + 1);
        let preceded_by_blank = i == 0 || blank(i - 1);
        let indicator = if i == 0 {
            matches!(
                c,
                '#' | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            ) || (matches!(c, '?' | ':' | '-') && followed_by_blank)
        } else {
            (c == ':' && followed_by_blank) || (c == '#' && preceded_by_blank)
        };
        if indicator {
            return false;
        }
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if printable(c) => out.push(c),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> LockConfig {
        LockConfig {
            directories: vec![LockDirectory {
                path: "vendor/k8s-schemas".into(),
                contents: vec![LockContent {
                    path: ".".into(),
                    oci_artifact: Some(LockOciArtifact {
                        url: "ghcr.io/x/y@sha256:00".into(),
                        tag: Some("latest".into()),
                        index: None,
                    }),
                    ..Default::default()
                }],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn yaml_has_the_documented_shape_and_round_trips() {
        let yaml = sample().to_yaml();
        assert_eq!(
            yaml,
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\ndirectories:\n- path: vendor/k8s-schemas\n  contents:\n  - path: .\n    ociArtifact:\n      url: ghcr.io/x/y@sha256:00\n      tag: latest\n"
        );
        let back: LockConfig = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn every_vendir_source_kind_is_written_with_its_fields_and_read_back() {
        let content = |path: &str, f: &dyn Fn(&mut LockContent)| {
            let mut c = LockContent {
                path: path.into(),
                ..Default::default()
            };
            f(&mut c);
            c
        };
        let lock = LockConfig {
            directories: vec![LockDirectory {
                path: "vendor".into(),
                contents: vec![
                    content("git", &|c| {
                        c.git = Some(LockGit {
                            sha: "0123abcd".into(),
                            tags: vec!["v1.0.0-1-g0123abc".into()],
                            commit_title: "Fix it...".into(),
                        })
                    }),
                    content("hg", &|c| {
                        c.hg = Some(LockHg {
                            sha: "feed".into(),
                            change_set_title: "first".into(),
                        })
                    }),
                    content("http", &|c| c.http = Some(Empty {})),
                    content("gh", &|c| {
                        c.github_release = Some(LockGithubRelease {
                            url: "https://api.github.com/repos/o/r/releases/1".into(),
                            tag: "v1".into(),
                        })
                    }),
                    content("img", &|c| {
                        c.image = Some(LockImage {
                            url: "r.io/x@sha256:00".into(),
                            tag: Some("1.0".into()),
                        })
                    }),
                    content("bundle", &|c| {
                        c.imgpkg_bundle = Some(LockImgpkgBundle {
                            image: "r.io/b@sha256:11".into(),
                            tag: None,
                        })
                    }),
                    content("chart", &|c| {
                        c.helm_chart = Some(LockHelmChart {
                            version: "1.2.3".into(),
                            app_version: "1.0".into(),
                        })
                    }),
                ],
            }],
            ..Default::default()
        };
        let yaml = lock.to_yaml();
        assert_eq!(
            yaml,
            concat!(
                "apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\ndirectories:\n",
                "- path: vendor\n  contents:\n",
                "  - path: git\n    git:\n      commitTitle: Fix it...\n      sha: 0123abcd\n",
                "      tags:\n      - v1.0.0-1-g0123abc\n",
                "  - path: hg\n    hg:\n      changeSetTitle: first\n      sha: feed\n",
                "  - path: http\n    http: {}\n",
                "  - path: gh\n    githubRelease:\n      tag: v1\n",
                "      url: https://api.github.com/repos/o/r/releases/1\n",
                "  - path: img\n    image:\n      tag: '1.0'\n      url: r.io/x@sha256:00\n",
                "  - path: bundle\n    imgpkgBundle:\n      image: r.io/b@sha256:11\n",
                "  - path: chart\n    helmChart:\n      appVersion: '1.0'\n      version: 1.2.3\n",
            )
        );
        let back: LockConfig = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, lock);
        let kinds: Vec<_> = lock.directories[0]
            .contents
            .iter()
            .map(|c| c.source_kind().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "git",
                "hg",
                "http",
                "githubRelease",
                "image",
                "imgpkgBundle",
                "helmChart"
            ]
        );
        let (a, mut b) = (
            lock.directories[0].contents[0].clone(),
            lock.directories[0].contents[0].clone(),
        );
        b.config_digest = Some("sha256:00".into());
        assert!(a.same_source(&b), "configDigest is not the source");
        b.git.as_mut().unwrap().sha = "other".into();
        assert!(!a.same_source(&b));
    }

    #[test]
    fn strings_are_quoted_as_earlier_versions_wrote_them() {
        // Expected texts are what serde_yaml 0.9 wrote for these values.
        for (value, written) in [
            (".", "."),
            ("1.10", "'1.10'"),
            ("0755", "'0755'"),
            ("yes", "yes"),
            ("true", "'true'"),
            ("null", "'null'"),
            ("", "''"),
            ("1e5", "'1e5'"),
            ("0x1F", "'0x1F'"),
            ("a: b", "'a: b'"),
            ("a:b", "a:b"),
            ("a #b", "'a #b'"),
            ("- a", "'- a'"),
            ("-a", "-a"),
            ("it's", "it's"),
            ("'q", "'''q'"),
            ("a\tb", "\"a\\tb\""),
            ("../.github/workflows/vendor", "../.github/workflows/vendor"),
            ("localhost:5000/a@sha256:ab", "localhost:5000/a@sha256:ab"),
            ("@x", "'@x'"),
            (" a", "' a'"),
            ("é", "é"),
        ] {
            assert_eq!(scalar(value), written, "{value:?}");
        }
        let mut lock = sample();
        lock.directories[0].contents.push(LockContent {
            path: "1.10".into(),
            manual: Some(Empty {}),
            config_digest: Some("sha256:ab".into()),
            ..Default::default()
        });
        lock.directories.push(LockDirectory {
            path: "e".into(),
            contents: vec![],
        });
        let yaml = lock.to_yaml();
        assert!(
            yaml.ends_with(
                "  - path: '1.10'\n    manual: {}\n    configDigest: sha256:ab\n- path: e\n  contents: []\n"
            ),
            "{yaml}"
        );
        let back: LockConfig = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, lock);
        assert_eq!(
            LockConfig::default().to_yaml(),
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\ndirectories: []\n"
        );
    }

    fn load_text(text: &[u8]) -> Result<LockFile> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vendir.lock.yml");
        std::fs::write(&path, text).unwrap();
        LockConfig::load(&path)
    }

    #[track_caller]
    fn unreadable(text: &[u8]) -> Unreadable {
        match load_text(text).unwrap() {
            LockFile::Unreadable(u) => u,
            other => panic!(
                "{:?} should be unreadable, got {other:?}",
                String::from_utf8_lossy(text)
            ),
        }
    }

    #[test]
    fn a_conflicted_lock_is_unreadable_at_its_first_marker() {
        let ours = sample().to_yaml();
        let text = format!(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\n<<<<<<< HEAD\n{ours}=======\n{ours}>>>>>>> feature\n"
        );
        let u = unreadable(text.as_bytes());
        assert_eq!(u.line, Some(3));
        assert!(
            u.reason.contains("merge conflict marker \"<<<<<<< HEAD\""),
            "{u}"
        );
        assert!(u.to_string().contains("vendir.lock.yml:3: "), "{u}");
        // A diff3 base section or a lone separator is found too.
        assert_eq!(
            unreadable(b"kind: LockConfig\n||||||| base\n").line,
            Some(2)
        );
        assert_eq!(unreadable(b"a: 1\n=======\nb: 2\n").line, Some(2));
    }

    #[test]
    fn empty_garbage_and_non_utf8_locks_are_unreadable() {
        for text in [&b""[..], b"\n  \n", b"# only a comment\n"] {
            let u = unreadable(text);
            assert_eq!(u.line, None);
            assert!(u.reason.contains("empty"), "{u}");
        }
        let u =
            unreadable(b"apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\ndirectories: [\n");
        assert!(u.line.is_some_and(|l| l >= 3), "{u:?}");
        let u = unreadable(b"just some words\n");
        assert!(u.reason.starts_with("not a valid lock file: "), "{u}");
        let u = unreadable(b"kind: LockConfig\n\xff\xfe\n");
        assert_eq!(u.line, Some(2));
    }

    #[test]
    fn a_document_of_another_kind_is_an_error_not_ignored() {
        let err =
            load_text(b"apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories: []\n")
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("kind is \"Config\", expected LockConfig"),
            "{err}"
        );
    }

    #[test]
    fn write_only_when_bytes_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vendir.lock.yml");
        assert!(sample().write(&path).unwrap());
        assert!(!sample().write(&path).unwrap());
        let mut changed = sample();
        changed.directories[0].contents[0]
            .oci_artifact
            .as_mut()
            .unwrap()
            .tag = None;
        assert!(changed.write(&path).unwrap());
        assert_eq!(LockConfig::read(&path).unwrap().unwrap(), changed);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}
