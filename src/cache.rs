//! A content-addressed blob cache: `<dir>/blobs/<algorithm>/<hex>`.
//!
//! Blobs enter only after their digest and size verified (written to a temp
//! file in the cache, then renamed), so concurrent syncs can share a cache:
//! the worst race is two processes writing the same verified bytes. Reads
//! are hashed again while they are extracted, so a damaged cache entry is
//! caught and refetched rather than trusted.
//!
//! Beside the blobs, `<dir>/http/v1/<sha256 of the URL>.json` remembers the
//! validators (`ETag`, `Last-Modified`) of an unpinned download or an API
//! document and the digest of the body they describe (kept as a blob), so a
//! later sync can ask conditionally and reuse the body on `304 Not
//! Modified`. A cache without that folder (an older vendoras) simply asks
//! unconditionally; the `v1` names the format of those records.
//!
//! `<dir>/verified/v1/<key>.json` remembers which signatures verified a
//! registry content under a policy (`fetch/signature.rs` writes and reads
//! them; the key hashes the whole policy), so a later sync that finds the
//! same signature manifest again does not read and check it again.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use tempfile::NamedTempFile;

use crate::digest::Digest;
use crate::error::{Error, Result};

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The user's cache directory: `$XDG_CACHE_HOME`, else `~/.cache`.
pub fn user_cache_home() -> Option<PathBuf> {
    env_path("XDG_CACHE_HOME").or_else(|| env_path("HOME").map(|h| h.join(".cache")))
}

/// What a server said about a URL's body last time: the validators to send
/// back, and the blob holding that body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    /// The URL the record is for as messages show it (no userinfo, query
    /// or fragment, so no credential lands on disk); the file name is the
    /// hash of the whole URL.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The body's digest, a blob of this cache.
    pub digest: Digest,
}

impl Validators {
    /// The conditional request headers (`If-None-Match`, `If-Modified-Since`).
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h = Vec::new();
        if let Some(e) = &self.etag {
            h.push(("If-None-Match".to_string(), e.clone()));
        }
        if let Some(m) = &self.last_modified {
            h.push(("If-Modified-Since".to_string(), m.clone()));
        }
        h
    }
}

/// Replaces the small record file `path` with `bytes` (temp file, rename),
/// ignoring failure.
fn write_record(path: &std::path::Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    let _ = write();
}

/// The blob cache.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// A cache rooted at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    /// The default location: `$VENDORAS_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/vendoras`, else `~/.cache/vendoras`.
    pub fn default_dir() -> Option<PathBuf> {
        env_path("VENDORAS_CACHE_DIR").or_else(|| user_cache_home().map(|d| d.join("vendoras")))
    }

    /// The cache's root directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.to_string().split(':').next().unwrap_or("sha256"))
            .join(digest.hex())
    }

    /// Opens a cached blob, if present with the expected size.
    pub fn open(&self, digest: &Digest, size: u64) -> Option<File> {
        let file = File::open(self.path(digest)).ok()?;
        (file.metadata().ok()?.len() == size).then_some(file)
    }

    /// Opens a cached blob whose size is not known in advance (a chart
    /// archive or an http download named by its digest alone); the caller
    /// hashes it again before using it.
    pub fn open_any_size(&self, digest: &Digest) -> Option<File> {
        File::open(self.path(digest)).ok()
    }

    /// Drops a cached blob that turned out damaged.
    pub fn evict(&self, digest: &Digest) {
        let _ = std::fs::remove_file(self.path(digest));
    }

    fn validators_path(&self, url: &str) -> PathBuf {
        let key = Digest::of(crate::digest::Algorithm::Sha256, url.as_bytes());
        self.dir
            .join("http")
            .join("v1")
            .join(format!("{}.json", key.hex()))
    }

    /// The validators stored for `url`, if any (and readable, and for that
    /// URL).
    pub fn validators(&self, url: &str) -> Option<Validators> {
        let bytes = std::fs::read(self.validators_path(url)).ok()?;
        let v: Validators = serde_json::from_slice(&bytes).ok()?;
        let ours = v.url == crate::redact::redact_url(url);
        (ours && (v.etag.is_some() || v.last_modified.is_some())).then_some(v)
    }

    /// What a `200` for `url` leaves behind: with an `etag` or a
    /// `last_modified`, the body (kept by `keep`, which returns its digest)
    /// and those validators; without either, or when the body could not be
    /// kept, no record, so the next request is unconditional. The record
    /// holds `url` redacted. Written atomically; a failure is ignored, as a
    /// cache that cannot be written must not fail a sync.
    pub fn record_validators(
        &self,
        url: &str,
        etag: Option<String>,
        last_modified: Option<String>,
        keep: impl FnOnce(&Cache) -> Option<Digest>,
    ) {
        let digest = (etag.is_some() || last_modified.is_some())
            .then(|| keep(self))
            .flatten();
        match digest {
            Some(digest) => self.store_validators(
                url,
                &Validators {
                    url: crate::redact::redact_url(url),
                    etag,
                    last_modified,
                    digest,
                },
            ),
            None => self.forget_validators(url),
        }
    }

    fn store_validators(&self, url: &str, v: &Validators) {
        if let Ok(bytes) = serde_json::to_vec(v) {
            write_record(&self.validators_path(url), &bytes);
        }
    }

    fn verified_path(&self, key: &Digest) -> PathBuf {
        self.dir
            .join("verified")
            .join("v1")
            .join(format!("{}.json", key.hex()))
    }

    /// The verification record stored under `key`, if any.
    pub fn verified(&self, key: &Digest) -> Option<Vec<u8>> {
        std::fs::read(self.verified_path(key)).ok()
    }

    /// Stores the verification record `bytes` under `key`, atomically; a
    /// failure is ignored (a cache that cannot be written must not fail a
    /// sync).
    pub fn record_verified(&self, key: &Digest, bytes: &[u8]) {
        write_record(&self.verified_path(key), bytes);
    }

    /// Forgets the validators of `url` (its body changed without new ones,
    /// or the stored body is gone).
    pub fn forget_validators(&self, url: &str) {
        let _ = std::fs::remove_file(self.validators_path(url));
    }

    /// Copies `file` (from its start) into the cache as the blob `digest`,
    /// the caller having hashed it; returns whether it is there now.
    pub fn put_file(&self, digest: &Digest, file: &mut File) -> bool {
        use std::io::{Seek, SeekFrom};
        if self.open_any_size(digest).is_some() {
            return true;
        }
        let Ok(mut pending) = self.begin(digest) else {
            return false;
        };
        let copied = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| io::copy(file, pending.file_mut()))
            .and_then(|_| file.seek(SeekFrom::Start(0)));
        copied.is_ok() && pending.commit().is_ok()
    }

    /// Stores `bytes` as a blob; returns its digest when it is there now.
    pub fn put_bytes(&self, bytes: &[u8]) -> Option<Digest> {
        let digest = Digest::of(crate::digest::Algorithm::Sha256, bytes);
        if self.open(&digest, bytes.len() as u64).is_some() {
            return Some(digest);
        }
        let mut pending = self.begin(&digest).ok()?;
        pending.file_mut().write_all(bytes).ok()?;
        pending.commit().ok()?;
        Some(digest)
    }

    /// Starts writing a blob; commit it with [`Pending::commit`] once the
    /// bytes have verified.
    pub fn begin(&self, digest: &Digest) -> Result<Pending> {
        let path = self.path(digest);
        let dir = path.parent().expect("blob path has a parent");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(dir)
            .map_err(|e| Error::io(dir, e))?;
        Ok(Pending { tmp, path })
    }
}

/// A blob being written into the cache.
pub struct Pending {
    tmp: NamedTempFile,
    path: PathBuf,
}

impl Pending {
    /// The temporary file, for writers that do not go through [`Tee`].
    pub fn file_mut(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Moves the verified blob into place.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.tmp
            .persist(&path)
            .map_err(|e| Error::io(&path, e.error))?;
        Ok(())
    }
}

/// A reader that copies everything it reads into a cache entry.
pub struct Tee<R> {
    inner: R,
    pending: Option<Pending>,
    failed: bool,
}

impl<R: Read> Tee<R> {
    /// Copies `inner` into `pending` (or nowhere when `None`).
    pub fn new(inner: R, pending: Option<Pending>) -> Tee<R> {
        Tee {
            inner,
            pending,
            failed: false,
        }
    }

    /// Reads to the end (still copying) and returns the inner reader and
    /// the cache entry, unless writing it failed (a full cache disk must
    /// not fail a sync).
    pub fn finish(mut self) -> io::Result<(R, Option<Pending>)> {
        io::copy(&mut self, &mut io::sink())?;
        let pending = if self.failed { None } else { self.pending };
        Ok((self.inner, pending))
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let (Some(p), false) = (self.pending.as_mut(), self.failed) {
            if p.tmp.as_file_mut().write_all(&buf[..n]).is_err() {
                self.failed = true;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_are_kept_by_the_whole_url_and_written_without_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let url = "https://user:s3cret@example.test/a.tgz?token=t0ken";
        let etag = Some("\"e1\"".to_string());
        cache.record_validators(url, etag.clone(), None, |c| c.put_bytes(b"body"));
        let got = cache.validators(url).expect("stored");
        assert_eq!(got.url, "https://example.test/a.tgz");
        assert_eq!(got.etag, etag);
        assert!(cache
            .validators("https://example.test/a.tgz?token=other")
            .is_none());
        let record = std::fs::read_to_string(cache.validators_path(url)).unwrap();
        assert!(
            !record.contains("s3cret") && !record.contains("t0ken"),
            "{record}"
        );
    }
}
