//! `vendir.lock.yml`: what each content resolved to.
//!
//! Written in a stable key order, atomically (temp file + rename), and only
//! when its bytes change, so an unchanged sync leaves the file (and its
//! mtime) alone and a git diff shows only real moves.
//!
//! Read with serde-saphyr, as the config is. Written by
//! [`LockConfig::to_yaml`] with the bytes vendir v0.44.0 writes for the same
//! entries (`crate::goyaml`: keys in go-yaml's order, its quoting and its line
//! folding), so a team that runs both tools sees no diff.
//!
//! ```
//! use vendoras::lock::{LockConfig, LockFile};
//!
//! # fn main() -> vendoras::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("vendir.lock.yml");
//! let text = "apiVersion: vendir.k14s.io/v1alpha1
//! directories:
//! - contents:
//!   - ociArtifact:
//!       tag: v1.0.0
//!       url: oci-layout:layout@sha256:e8f5e3330f2de990efa35d96e5596cea1c3bca6e753b12ca89f80c2da41854ac
//!     path: .
//!   path: vendor/quickstart
//! kind: LockConfig
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
use crate::goyaml::{self, Node};

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
    #[serde(default, deserialize_with = "null_as_empty")]
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
    #[serde(default, deserialize_with = "null_as_empty")]
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
    /// Each source key with its fields (written in go-yaml's key order
    /// whatever the order here); only set ones. One list, so the writer, [`LockContent::source_kind`]
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
            let mut f = vec![("url", LockValue::Str(&r.url))];
            if !r.tag.is_empty() {
                f.push(("tag", LockValue::Str(&r.tag)));
            }
            out.push(("githubRelease", f));
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

    /// Whether this entry could have been written from `content`'s config
    /// as it is now, judged from what the lock records (`sync
    /// --relock-changed`): the same kind, the same repository, and the
    /// tag, version, digest or ref the config names. A floating reference
    /// (`tagSelection`, `refSelection`, a branch, `latest: true`, a helm
    /// chart without a version) matches whatever it resolved to. A `lazy`
    /// content's recorded `configDigest` is compared as a whole. The lock
    /// records no git or hg URL nor helm repository, so a change there alone
    /// is not seen.
    pub fn records(&self, content: &crate::config::Content) -> bool {
        use crate::config::{GitRef, OciLocation, ReleaseSelector, Source};
        use crate::reference::{split_layout_reference, split_reference, Reference};
        if content.lazy {
            if let Some(recorded) = &self.config_digest {
                return *recorded == crate::config::config_digest(content, None);
            }
        }
        let at = |url: &str| {
            url.rsplit_once('@')
                .map(|(r, d)| (r.to_string(), d.to_string()))
        };
        // `repo[:tag][@digest]` written in the config against a locked
        // `repo@digest` and its tag.
        let same_ref =
            |written: &str, locked_url: &str, locked_tag: &Option<String>, floating: bool| {
                let w = split_reference(written);
                let Some((repo, digest)) = at(locked_url) else {
                    return false;
                };
                if w.repository != repo {
                    return false;
                }
                match (&w.digest, &w.tag) {
                    (Some(d), _) => *d == digest,
                    (None, Some(t)) => locked_tag.as_deref() == Some(t.as_str()),
                    (None, None) => floating || locked_tag.is_none(),
                }
            };
        match (&content.source, self.source_kind()) {
            (Source::OciArtifact(o), Some("ociArtifact")) => {
                let entry = self.oci_artifact.as_ref().expect("kind checked");
                let Some((repo, digest)) = at(&entry.url) else {
                    return false;
                };
                let (name, tag, written_digest) = match &o.location {
                    OciLocation::Image(image) => match image.parse::<Reference>() {
                        Ok(r) => (
                            r.repository_url(),
                            r.tag.clone(),
                            r.digest.as_ref().map(ToString::to_string),
                        ),
                        Err(_) => return false,
                    },
                    OciLocation::Layout(layout) => match split_layout_reference(layout) {
                        Ok((path, object)) => {
                            let (tag, digest) = match object {
                                Some(o) if o.contains(':') => (None, Some(o)),
                                other => (other, None),
                            };
                            (format!("oci-layout:{path}"), tag, digest)
                        }
                        Err(_) => return false,
                    },
                };
                if name != repo && !repo.starts_with(&format!("{name}:")) {
                    return false;
                }
                if o.tag_selection.is_some() {
                    return true;
                }
                match (written_digest, o.tag.clone().or(tag)) {
                    (Some(d), _) => d == digest,
                    (None, t) => entry.tag == t,
                }
            }
            (Source::Image(i), Some("image")) => {
                let e = self.image.as_ref().expect("kind checked");
                same_ref(&i.reference, &e.url, &e.tag, i.tag_selection.is_some())
            }
            (Source::ImgpkgBundle(b), Some("imgpkgBundle")) => {
                let e = self.imgpkg_bundle.as_ref().expect("kind checked");
                same_ref(
                    &b.image.reference,
                    &e.image,
                    &e.tag,
                    b.image.tag_selection.is_some(),
                )
            }
            (Source::HelmChart(h), Some("helmChart")) => {
                let e = self.helm_chart.as_ref().expect("kind checked");
                match &h.version {
                    Some(v) => v.trim_start_matches('v') == e.version.trim_start_matches('v'),
                    None => true,
                }
            }
            (Source::GithubRelease(g), Some("githubRelease")) => {
                let e = self.github_release.as_ref().expect("kind checked");
                let slug = format!("/repos/{}/releases/", g.slug);
                match &g.release {
                    ReleaseSelector::Tag(t) => e.url.contains(&slug) && *t == e.tag,
                    ReleaseSelector::Latest | ReleaseSelector::TagSelection(_) => {
                        e.url.contains(&slug)
                    }
                    ReleaseSelector::Url(u) => *u == e.url,
                }
            }
            (Source::Git(g), Some("git")) => {
                let e = self.git.as_ref().expect("kind checked");
                match &g.reference {
                    GitRef::Semver { .. } => true,
                    GitRef::Named(r) => {
                        let r = r.strip_prefix("refs/tags/").unwrap_or(r);
                        if is_branch(r) {
                            true
                        } else if r.len() >= 7 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
                            e.sha.starts_with(&r.to_ascii_lowercase())
                        } else {
                            e.tags.iter().any(|t| t == r)
                        }
                    }
                }
            }
            (Source::Hg(h), Some("hg")) => {
                let e = self.hg.as_ref().expect("kind checked");
                let r = &h.reference;
                if r.len() >= 12 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
                    e.sha.starts_with(&r.to_ascii_lowercase())
                } else {
                    // A branch, bookmark or tag: the lock records only the
                    // changeset, so it is kept (`update` names the
                    // contents it changed).
                    true
                }
            }
            (Source::Http(_), Some("http"))
            | (Source::Manual, Some("manual"))
            | (Source::Directory { .. }, Some("directory"))
            | (Source::Inline(_), Some("inline")) => true,
            _ => false,
        }
    }

    /// Whether `other` pins the same source to the same thing (the path and
    /// `configDigest` aside).
    pub(crate) fn same_source(&self, other: &LockContent) -> bool {
        self.sources() == other.sources()
    }

    fn to_node(&self) -> Node {
        let mut entry = vec![("path".to_string(), Node::str(&self.path))];
        for (key, fields) in self.sources() {
            let fields = fields
                .into_iter()
                .map(|(field, value)| {
                    let value = match value {
                        LockValue::Str(v) => Node::str(v),
                        LockValue::List(vs) => Node::Seq(vs.iter().map(Node::str).collect()),
                    };
                    (field.to_string(), value)
                })
                .collect();
            entry.push((key.to_string(), Node::Map(fields)));
        }
        if let Some(d) = &self.config_digest {
            entry.push(("configDigest".into(), Node::str(d)));
        }
        Node::Map(entry)
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
        Self::from_bytes(path, &bytes)
    }

    /// [`LockConfig::load`] of `bytes` read from `path`.
    pub(crate) fn from_bytes(path: &Path, bytes: &[u8]) -> Result<LockFile> {
        let unreadable = |line: Option<usize>, reason: String| {
            Ok(LockFile::Unreadable(Unreadable {
                path: path.to_path_buf(),
                line,
                reason,
            }))
        };
        let text = match std::str::from_utf8(bytes) {
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
                // The top-level `kind:` line (the document parsed, so it is there).
                let line = text
                    .lines()
                    .position(|l| l.starts_with("kind:"))
                    .map(|i| i + 1);
                return Err(Error::Lock {
                    file: Some(path.to_path_buf()),
                    line,
                    message: format!(
                        "kind is {kind:?}, expected LockConfig: is --lock-file pointing at \
                         another file?"
                    ),
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

    /// Serialises as vendir does (see the module doc).
    pub fn to_yaml(&self) -> String {
        // vendir's slices are nil when empty, and JSON writes nil as null.
        let list = |items: Vec<Node>| {
            if items.is_empty() {
                Node::Null
            } else {
                Node::Seq(items)
            }
        };
        let directories = self
            .directories
            .iter()
            .map(|d| {
                let contents = d.contents.iter().map(LockContent::to_node).collect();
                Node::Map(vec![
                    ("path".into(), Node::str(&d.path)),
                    ("contents".into(), list(contents)),
                ])
            })
            .collect();
        goyaml::to_string(&Node::Map(vec![
            ("apiVersion".into(), Node::str(&self.api_version)),
            ("kind".into(), Node::str(&self.kind)),
            ("directories".into(), list(directories)),
        ]))
    }

    /// Writes atomically, only when the bytes differ. Returns whether it wrote.
    pub fn write(&self, path: &Path) -> Result<bool> {
        let text = self.to_yaml();
        if std::fs::read(path).ok().as_deref() == Some(text.as_bytes()) {
            return Ok(false);
        }
        crate::atomic::write(path, text.as_bytes(), true).map_err(|e| Error::io(path, e))?;
        Ok(true)
    }
}

/// vendir writes an empty list as `null` (a nil Go slice).
/// A git ref that names a branch (`origin/main`, `refs/heads/main`,
/// `HEAD`): it moves, so the lock's commit stands for it.
fn is_branch(r: &str) -> bool {
    r == "HEAD"
        || r.starts_with("origin/")
        || r.starts_with("refs/heads/")
        || r.starts_with("refs/remotes/")
}

fn null_as_empty<'de, D, T>(d: D) -> std::result::Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<Vec<T>>::deserialize(d).map(Option::unwrap_or_default)
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
            "apiVersion: vendir.k14s.io/v1alpha1\ndirectories:\n- contents:\n  - ociArtifact:\n      tag: latest\n      url: ghcr.io/x/y@sha256:00\n    path: .\n  path: vendor/k8s-schemas\nkind: LockConfig\n"
        );
        let back: LockConfig = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, sample());
    }

    /// A NEL (U+0085) is folded into a space when written, as vendir's
    /// sigs.k8s.io/yaml folds it (goyaml): the value read back differs, but
    /// writing that again gives the same bytes (found by the `lock` fuzz target).
    #[test]
    fn a_nel_is_folded_once_and_the_written_lock_is_stable() {
        let mut lock = sample();
        lock.api_version = "vendir.k1\u{85}4s.io/v1alpha1".into();
        let yaml = lock.to_yaml();
        let Ok(LockFile::Valid(again)) =
            LockConfig::from_bytes(Path::new("l.yml"), yaml.as_bytes())
        else {
            panic!("the written lock is not read back:\n{yaml}");
        };
        assert_eq!(again.api_version, "vendir.k1 4s.io/v1alpha1");
        assert_eq!(again.to_yaml(), yaml);
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
                "apiVersion: vendir.k14s.io/v1alpha1\ndirectories:\n",
                "- contents:\n",
                "  - git:\n      commitTitle: Fix it...\n      sha: 0123abcd\n",
                "      tags:\n      - v1.0.0-1-g0123abc\n    path: git\n",
                "  - hg:\n      changeSetTitle: first\n      sha: feed\n    path: hg\n",
                "  - http: {}\n    path: http\n",
                "  - githubRelease:\n      tag: v1\n",
                "      url: https://api.github.com/repos/o/r/releases/1\n    path: gh\n",
                "  - image:\n      tag: \"1.0\"\n      url: r.io/x@sha256:00\n    path: img\n",
                "  - imgpkgBundle:\n      image: r.io/b@sha256:11\n    path: bundle\n",
                "  - helmChart:\n      appVersion: \"1.0\"\n      version: 1.2.3\n    path: chart\n",
                "  path: vendor\nkind: LockConfig\n",
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
    fn empty_lists_are_null_as_vendir_writes_them_and_read_back_empty() {
        let mut lock = sample();
        lock.directories[0].contents.push(LockContent {
            path: "1.10".into(),
            manual: Some(Empty {}),
            config_digest: Some("ab".into()),
            ..Default::default()
        });
        lock.directories.push(LockDirectory {
            path: "e".into(),
            contents: vec![],
        });
        let yaml = lock.to_yaml();
        assert!(
            yaml.ends_with(
                "  - configDigest: ab\n    manual: {}\n    path: \"1.10\"\n  path: vendor/k8s-schemas\n- contents: null\n  path: e\nkind: LockConfig\n"
            ),
            "{yaml}"
        );
        let back: LockConfig = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, lock);
        assert_eq!(
            LockConfig::default().to_yaml(),
            "apiVersion: vendir.k14s.io/v1alpha1\ndirectories: null\nkind: LockConfig\n"
        );
        let back: LockConfig = serde_saphyr::from_str(&LockConfig::default().to_yaml()).unwrap();
        assert_eq!(back, LockConfig::default());
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
                .contains("vendir.lock.yml:2: kind is \"Config\", expected LockConfig"),
            "{err}"
        );
    }

    /// The content at `vendor/<path>` of a one-directory config.
    fn content(source: &str) -> crate::config::Content {
        let text = format!(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor\n  contents:\n  - path: c\n{}",
            source
                .lines()
                .map(|l| format!("    {l}\n"))
                .collect::<String>()
        );
        let input = crate::config::Input::from_bytes("vendir.yml", text.into_bytes()).unwrap();
        let opts = crate::config::LoadOptions {
            paths: crate::config::PathRules::discover(std::path::Path::new("/"), true),
            strict: false,
        };
        let loaded = crate::config::load(&[input], &opts).unwrap();
        loaded.config.directories[0].contents[0].clone()
    }

    fn entry(yaml: &str) -> LockContent {
        let text = format!(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\ndirectories:\n- path: vendor\n  contents:\n  - path: c\n{}",
            yaml.lines().map(|l| format!("    {l}\n")).collect::<String>()
        );
        let lock: LockConfig = parse(&text).unwrap();
        lock.directories[0].contents[0].clone()
    }

    #[test]
    fn records_tells_an_edited_reference_from_an_unchanged_or_floating_one() {
        let d = "sha256:".to_string() + &"a".repeat(64);
        let image = entry(&format!("image:\n  url: reg.io/app@{d}\n  tag: \"1.0\""));
        assert!(image.records(&content("image:\n  url: reg.io/app:1.0")));
        assert!(!image.records(&content("image:\n  url: reg.io/app:1.1")));
        assert!(!image.records(&content("image:\n  url: reg.io/other:1.0")));
        assert!(image.records(&content(&format!("image:\n  url: reg.io/app@{d}"))));
        let helm = entry("helmChart:\n  version: 0.1.0\n  appVersion: \"1\"");
        assert!(helm.records(&content(
            "helmChart:\n  name: demo\n  version: 0.1.0\n  repository: {url: https://c.io}"
        )));
        assert!(!helm.records(&content(
            "helmChart:\n  name: demo\n  version: 0.2.0\n  repository: {url: https://c.io}"
        )));
        assert!(helm.records(&content(
            "helmChart:\n  name: demo\n  repository: {url: https://c.io}"
        )));
        let release =
            entry("githubRelease:\n  url: https://api.github.com/repos/a/b/releases/1\n  tag: v1");
        assert!(release.records(&content(
            "githubRelease:\n  slug: a/b\n  tag: v1\n  disableAutoChecksumValidation: true"
        )));
        assert!(!release.records(&content(
            "githubRelease:\n  slug: a/b\n  tag: v2\n  disableAutoChecksumValidation: true"
        )));
        assert!(release.records(&content(
            "githubRelease:\n  slug: a/b\n  latest: true\n  disableAutoChecksumValidation: true"
        )));
        let sha = "0123456789abcdef0123456789abcdef01234567";
        let git = entry(&format!(
            "git:\n  sha: {sha}\n  commitTitle: t\n  tags:\n  - v1.0.0"
        ));
        for (r, same) in [
            ("v1.0.0", true),
            ("v1.1.0", false),
            ("origin/main", true),
            ("0123456", true),
            ("fedcba9", false),
        ] {
            assert_eq!(
                git.records(&content(&format!(
                    "git:\n  url: https://g.io/a\n  ref: {r}"
                ))),
                same,
                "{r}"
            );
        }
        // Another kind altogether.
        assert!(!git.records(&content("image:\n  url: reg.io/app:1.0")));
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
