//! `vendir.lock.yml`: what each content resolved to.
//!
//! Written in a stable key order, atomically (temp file + rename), and only
//! when its bytes change, so an unchanged sync leaves the file (and its
//! mtime) alone and a git diff shows only real moves.

use std::path::Path;

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

impl LockConfig {
    /// Reads a lock file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<LockConfig>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let lock: LockConfig = serde_yaml::from_str(&text).map_err(|e| Error::Lock {
            file: Some(path.to_path_buf()),
            line: e.location().map(|l| l.line()),
            message: format!("not a valid lock file: {e}"),
        })?;
        if lock.kind != "LockConfig" {
            return Err(Error::Lock {
                file: Some(path.to_path_buf()),
                line: None,
                message: format!("kind is {:?}, expected LockConfig", lock.kind),
            });
        }
        Ok(Some(lock))
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
