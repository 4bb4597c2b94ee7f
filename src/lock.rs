//! `vendir.lock.yml`: what each content resolved to.
//!
//! Written in a stable key order, atomically (temp file + rename), and only
//! when its bytes change, so an unchanged sync leaves the file (and its
//! mtime) alone and a git diff shows only real moves.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The lock document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
pub struct LockDirectory {
    /// The directory path, as in the config.
    pub path: String,
    /// Its contents.
    #[serde(default)]
    pub contents: Vec<LockContent>,
}

/// A content's lock entry: exactly one source key is set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockContent {
    /// The content path, as in the config.
    pub path: String,
    /// What an `ociArtifact` resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_artifact: Option<LockOciArtifact>,
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

/// An empty mapping (`{}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// The resolved artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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

/// What is at the lock path.
#[derive(Debug)]
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
        if let Ok(Kind { kind: Some(kind) }) = serde_yaml::from_str::<Kind>(text) {
            if kind != "LockConfig" {
                return Err(Error::Lock {
                    file: Some(path.to_path_buf()),
                    line: None,
                    message: format!("kind is {kind:?}, expected LockConfig"),
                });
            }
        }
        let lock: LockConfig = match serde_yaml::from_str(text) {
            Ok(lock) => lock,
            Err(e) => {
                let line = e.location().map(|l| l.line());
                return unreadable(line, format!("not a valid lock file: {e}"));
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
        serde_yaml::to_string(self).expect("lock serialises")
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
pub fn write_atomic(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
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
        let back: LockConfig = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, sample());
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
