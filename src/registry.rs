//! Registry I/O, typed: the safe layer over the Go shim (oras-go).
//!
//! A [`Repository`] is a remote repository or a local OCI layout; every call
//! takes an [`Op`] so Ctrl-C can cancel it. Blobs arrive as a [`BlobStream`]:
//! the shim writes into a pipe from its own thread while the caller reads,
//! hashes and extracts, so memory stays bounded whatever the blob size.
//!
//! Everything here is oras-go's behaviour: reference resolution, auth
//! (docker credential stores, `--registry-config` files, static
//! [`Credential`]s), retries, the digest and size checks on every manifest
//! and blob. Listing an artifact's *referrers* is not exposed: the shim
//! uses the referrers API only inside [`crate::verify`] (to find cosign
//! bundles) and has no export that lists them.
//!
//! # Example
//!
//! Resolve the tag of the OCI layout in `examples/quickstart`, read its
//! manifest and stream its titled layer, checking the digest on the way:
//!
//! ```
//! use std::io::Read;
//! use std::path::Path;
//! use std::sync::Arc;
//! use vendoras::digest::{Algorithm, HashingReader};
//! use vendoras::registry::Repository;
//! use vendoras::Op;
//!
//! # fn main() -> vendoras::Result<()> {
//! let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/layout");
//! let repo = Repository::open_layout(&layout)?;
//! let op = Arc::new(Op::new());
//!
//! assert_eq!(repo.tags(&op)?, ["v1.0.0"]);
//! let root = repo.resolve(&op, "v1.0.0", None)?;
//! assert!(root.is_manifest());
//!
//! let (_bytes, manifest) = repo.fetch_manifest(&op, &root)?;
//! let notice = manifest
//!     .layers
//!     .iter()
//!     .find(|l| l.title() == Some("NOTICE"))
//!     .expect("a titled layer");
//!
//! let mut blob = HashingReader::new(repo.open_blob(&op, notice)?, Algorithm::Sha256);
//! let mut text = String::new();
//! blob.read_to_string(&mut text).unwrap();
//! let (digest, size, stream) = blob.drain().unwrap();
//! stream.finish()?; // the shim's own verdict on size and digest
//! assert_eq!((digest, size), (notice.digest.clone(), notice.size));
//! assert!(text.contains("examples/quickstart"));
//! # Ok(())
//! # }
//! ```
//!
//! A remote repository is opened with [`Repository::open_remote`] and
//! [`RemoteOptions`] (the oras CLI's transport and auth flags); the calls
//! are the same.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Operation, RegistryError, Result};
use crate::ffi::{self, Op, ShimError};
use crate::oci::{Descriptor, Manifest, Platform, MAX_MANIFEST_BYTES};

/// Static credentials (oras `-u/-p`, or a vendir Secret). `Debug` shows
/// only the user name and which secrets are set, never their values.
#[derive(Clone, Default, Serialize)]
pub struct Credential {
    /// User name (empty with a token).
    pub username: String,
    /// Password; never printed.
    pub password: String,
    /// Bearer access token.
    pub access_token: String,
    /// OAuth2 refresh token (identity token).
    pub refresh_token: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &secret(&self.password))
            .field("access_token", &secret(&self.access_token))
            .field("refresh_token", &secret(&self.refresh_token))
            .finish()
    }
}

/// How to reach a remote registry. Mirrors the oras CLI's remote flags.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RemoteOptions {
    /// Force plain HTTP on or off; `None` is oras's rule (only `localhost`).
    pub plain_http: Option<bool>,
    /// Skip TLS verification.
    pub insecure: bool,
    /// Extra CA certificates.
    pub ca_files: Vec<PathBuf>,
    /// Static credentials; win over the credential stores.
    pub credential: Option<Credential>,
    /// oras `--registry-config` files; when empty the docker config is used.
    pub registry_configs: Vec<PathBuf>,
    /// The docker config file; `None` = `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`, resolved here because the Go runtime only
    /// sees the environment as it was at start.
    pub docker_config: Option<PathBuf>,
    /// How long a transfer may make no progress (no response headers, no
    /// body bytes while waiting for them) before it is abandoned, retried
    /// and finally reported; `None` = [`DEFAULT_STALL_TIMEOUT`].
    pub stall_timeout: Option<Duration>,
}

/// The no-progress timeout of a transfer when none is set.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The environment variable that sets the no-progress timeout
/// (`--stall-timeout` wins over it).
pub const STALL_TIMEOUT_ENV: &str = "VENDORAS_STALL_TIMEOUT";

/// Parses a timeout such as `60s`, `500ms`, `2m` or `90` (seconds).
/// Zero is refused: a transfer must not be allowed to hang forever.
pub fn parse_stall_timeout(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 60s, 500ms or 2m"))?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("{text:?}: unknown unit (use ms, s, m or h)")),
    };
    if d.is_zero() {
        return Err(format!(
            "{text:?}: the stall timeout must be more than zero"
        ));
    }
    Ok(d)
}

/// The stall timeout from `$VENDORAS_STALL_TIMEOUT`, if set. Read here,
/// not in the shim, because Go sees the environment only as it was at start.
pub fn stall_timeout_from_env() -> Result<Option<Duration>> {
    match std::env::var(STALL_TIMEOUT_ENV) {
        Ok(v) if !v.trim().is_empty() => parse_stall_timeout(&v)
            .map(Some)
            .map_err(|e| Error::setting(STALL_TIMEOUT_ENV, Some(&v), e)),
        _ => Ok(None),
    }
}

/// The default docker config path, as docker and oras-go compute it.
pub(crate) fn default_docker_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TargetRequest<'a> {
    Remote {
        repository: &'a str,
        plain_http: Option<bool>,
        insecure: bool,
        ca_files: &'a [PathBuf],
        #[serde(skip_serializing_if = "Option::is_none")]
        credential: Option<&'a Credential>,
        registry_configs: &'a [PathBuf],
        #[serde(skip_serializing_if = "Option::is_none")]
        docker_config: Option<PathBuf>,
        user_agent: String,
        stall_timeout_ms: u64,
    },
    OciLayout {
        path: &'a Path,
    },
}

/// A remote repository or an OCI layout, opened in the shim.
#[derive(Debug, Clone)]
pub struct Repository {
    target: Arc<ffi::Target>,
    name: String,
    /// The registry host, for errors; `None` for an OCI layout.
    registry: Option<String>,
}

impl Repository {
    /// Opens `registry/repository` with the given transport and auth options.
    pub fn open_remote(repository: &str, options: &RemoteOptions) -> Result<Repository> {
        let req = TargetRequest::Remote {
            repository,
            plain_http: options.plain_http,
            insecure: options.insecure,
            ca_files: &options.ca_files,
            credential: options.credential.as_ref(),
            registry_configs: &options.registry_configs,
            docker_config: options.docker_config.clone().or_else(default_docker_config),
            user_agent: format!("vendoras/{}", env!("CARGO_PKG_VERSION")),
            stall_timeout_ms: options
                .stall_timeout
                .unwrap_or(DEFAULT_STALL_TIMEOUT)
                .as_millis()
                .clamp(1, u128::from(u64::MAX)) as u64,
        };
        let registry = repository.split('/').next().map(str::to_string);
        Self::open(&req, repository, registry)
    }

    /// Opens an OCI image layout (a directory or a tar file).
    pub fn open_layout(path: &Path) -> Result<Repository> {
        Self::open(
            &TargetRequest::OciLayout { path },
            &path.display().to_string(),
            None,
        )
    }

    fn open(req: &TargetRequest<'_>, name: &str, registry: Option<String>) -> Result<Repository> {
        let json = serde_json::to_string(req).expect("request serialises");
        let target = ffi::Target::open(&json)
            .map_err(|e| shim_error(name, registry.as_deref(), Operation::Open, None, None, e))?;
        Ok(Repository {
            target: Arc::new(target),
            name: name.to_string(),
            registry,
        })
    }

    /// The error for a failed shim call about `digest`, for the crate's
    /// other shim calls (signature checks).
    pub(crate) fn shim_error(
        &self,
        operation: Operation,
        digest: &Digest,
        source: ShimError,
    ) -> Error {
        self.error(operation, Some(&digest.to_string()), None, source)
    }

    /// The error for a failed shim call on this repository.
    fn error(
        &self,
        operation: Operation,
        reference: Option<&str>,
        media_type: Option<&str>,
        source: ShimError,
    ) -> Error {
        shim_error(
            &self.name,
            self.registry.as_deref(),
            operation,
            reference,
            media_type,
            source,
        )
    }

    /// The repository name or layout path, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shim target, for the crate's other shim calls (signature checks).
    pub(crate) fn target(&self) -> &ffi::Target {
        &self.target
    }

    /// Resolves a tag or digest, optionally to one platform of an index.
    pub fn resolve(
        &self,
        op: &Op,
        reference: &str,
        platform: Option<&Platform>,
    ) -> Result<Descriptor> {
        let req = serde_json::json!({
            "reference": reference,
            "platform": platform.map(|p| p.to_string()).unwrap_or_default(),
        });
        let out = self
            .target
            .resolve(op, &req.to_string())
            .map_err(|e| self.error(Operation::Resolve, Some(reference), None, e))?;
        serde_json::from_str(&out).map_err(|e| bad_answer("resolve", e))
    }

    /// Resolves a tag or digest and fetches the manifest (or index) it names
    /// in one round trip, verified and parsed.
    pub fn fetch_reference(&self, op: &Op, reference: &str) -> Result<(Descriptor, Manifest)> {
        let req = serde_json::json!({ "reference": reference }).to_string();
        let (desc, bytes) = self
            .target
            .fetch_reference(op, &req, MAX_MANIFEST_BYTES)
            .map_err(|e| self.error(Operation::Resolve, Some(reference), None, e))?;
        let desc: Descriptor =
            serde_json::from_str(&desc).map_err(|e| bad_answer("fetch reference", e))?;
        let manifest = Manifest::parse(&bytes).map_err(|e| Error::Verify {
            object: "manifest",
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
            repository: Some(self.name.clone()),
            detail: format!("not valid JSON: {e}"),
        })?;
        Ok((desc, manifest))
    }

    /// Fetches and parses a manifest or index (at most 4 MiB, verified).
    pub fn fetch_manifest(&self, op: &Op, desc: &Descriptor) -> Result<(Vec<u8>, Manifest)> {
        let bytes = self.fetch_bytes(op, desc, MAX_MANIFEST_BYTES)?;
        let manifest = Manifest::parse(&bytes).map_err(|e| Error::Verify {
            object: "manifest",
            digest: desc.digest.clone(),
            media_type: desc.media_type.clone(),
            repository: Some(self.name.clone()),
            detail: format!("not valid JSON: {e}"),
        })?;
        Ok((bytes, manifest))
    }

    /// Fetches small content whole (configs, signatures), verified.
    pub fn fetch_bytes(&self, op: &Op, desc: &Descriptor, max_size: i64) -> Result<Vec<u8>> {
        let json = serde_json::to_string(desc).expect("descriptor serialises");
        self.target.fetch_bytes(op, &json, max_size).map_err(|e| {
            self.error(
                Operation::Fetch,
                Some(&desc.digest.to_string()),
                Some(&desc.media_type),
                e,
            )
        })
    }

    /// Lists the repository's tags.
    pub fn tags(&self, op: &Op) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Vec<String>,
        }
        let out = self
            .target
            .list_tags(op)
            .map_err(|e| self.error(Operation::ListTags, None, None, e))?;
        Ok(serde_json::from_str::<Tags>(&out)
            .map_err(|e| bad_answer("list tags", e))?
            .tags)
    }

    /// Starts streaming a blob. Read it, then call [`BlobStream::finish`]
    /// before committing anything derived from it.
    pub fn open_blob(&self, op: &Arc<Op>, desc: &Descriptor) -> Result<BlobStream> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| Error::io("pipe", e.into()))?;
        // A larger pipe means fewer context switches between Go and Rust;
        // the default (64 KiB) is also fine, so failure is ignored.
        let _ = rustix::pipe::fcntl_setpipe_size(&write, 1 << 20);
        let json = serde_json::to_string(desc).expect("descriptor serialises");
        let target = Arc::clone(&self.target);
        let op = Arc::clone(op);
        let worker = std::thread::Builder::new()
            .name("vendoras-blob".into())
            .spawn(move || target.fetch_to_fd(&op, &json, write))
            .map_err(|e| Error::io("spawn", e))?;
        Ok(BlobStream {
            reader: Some(File::from(read)),
            received: 0,
            desc: desc.clone(),
            worker: Some(worker),
            repo: self.clone(),
        })
    }
}

/// oras-go's remote repository reports an HTTP 404 on a manifest or blob as
/// `errdef.ErrNotFound` without the status (`registry/remote/repository.go`),
/// so for a remote repository "not found" is that 404.
fn shim_error(
    repository: &str,
    registry: Option<&str>,
    operation: Operation,
    reference: Option<&str>,
    media_type: Option<&str>,
    source: ShimError,
) -> Error {
    let status = source
        .status
        .or_else(|| (registry.is_some() && source.kind == ErrorKind::NotFound).then_some(404));
    Error::registry(RegistryError {
        operation,
        registry: registry.map(str::to_string),
        repository: repository.to_string(),
        reference: reference.map(str::to_string),
        media_type: media_type.map(str::to_string),
        status,
        source,
    })
}

fn bad_answer(what: &str, e: serde_json::Error) -> Error {
    Error::Internal(format!(
        "{what}: unexpected answer from the registry shim: {e}"
    ))
}

/// A blob arriving from the shim: read it like a file.
///
/// The bytes are hashed once, as they flow, by oras-go's `VerifyReader` on
/// the Go side of the pipe (exactly the check `oras pull` makes); the shim's
/// verdict and the byte count are checked by [`BlobStream::finish`], before
/// anything derived from the blob may be committed. (Hashing again in Rust
/// would only spend a second core's worth of SHA-256 on the same bytes.)
pub struct BlobStream {
    reader: Option<File>,
    received: u64,
    desc: Descriptor,
    worker: Option<JoinHandle<std::result::Result<(), ShimError>>>,
    /// Where the blob comes from, for errors.
    repo: Repository,
}

impl BlobStream {
    /// The descriptor being fetched.
    pub fn descriptor(&self) -> &Descriptor {
        &self.desc
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// A registry sending more than the descriptor's size is cut off as soon
    /// as it does (the shim would refuse it too, but only at the end).
    fn check_size(&self) -> io::Result<()> {
        if self.received > self.desc.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} is larger than its descriptor's {} bytes",
                    self.desc.digest, self.desc.size
                ),
            ));
        }
        Ok(())
    }

    /// Writes the rest of the stream to `file`, moving pages from the pipe
    /// inside the kernel (`splice(2)`) so the bytes are never copied through
    /// this process; falls back to read and write where a file system does
    /// not take spliced pages. Returns the bytes written.
    pub fn write_to(&mut self, file: &mut File) -> io::Result<u64> {
        use std::io::Write;
        let mut total = 0u64;
        let reader = self.reader.as_ref().expect("write after finish");
        loop {
            match rustix::pipe::splice(
                reader,
                None,
                &*file,
                None,
                1 << 20,
                rustix::pipe::SpliceFlags::MOVE | rustix::pipe::SpliceFlags::MORE,
            ) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total += n as u64;
                    self.received += n as u64;
                    self.check_size()?;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::INVAL) if total == 0 => break,
                Err(e) => return Err(e.into()),
            }
        }
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match self.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            file.write_all(&buf[..n])?;
            total += n as u64;
        }
    }

    /// Reads whatever the consumer left (archive readers stop at their end
    /// marker), waits for the shim's verdict on size and digest, and checks
    /// the byte count. Only after this returns `Ok` may content derived from
    /// the blob be committed.
    pub fn finish(mut self) -> Result<()> {
        let drained = io::copy(&mut self, &mut io::sink());
        drop(self.reader.take());
        let shim = self.worker.take().expect("worker joined once").join();
        let digest = self.desc.digest.to_string();
        match shim {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(self.repo.error(
                    Operation::Fetch,
                    Some(&digest),
                    Some(&self.desc.media_type),
                    e,
                ))
            }
            Err(_) => {
                return Err(Error::Internal(format!(
                    "fetch {}@{digest}: shim thread panicked",
                    self.repo.name
                )))
            }
        }
        drained.map_err(|e| Error::io("blob pipe", e))?;
        if self.received != self.desc.size {
            return Err(Error::Verify {
                object: "blob",
                digest: self.desc.digest.clone(),
                media_type: self.desc.media_type.clone(),
                repository: Some(self.repo.name.clone()),
                detail: format!(
                    "size mismatch: expected {} bytes, got {}",
                    self.desc.size, self.received
                ),
            });
        }
        Ok(())
    }
}

impl Read for BlobStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let reader = self.reader.as_mut().expect("read after finish");
        let n = reader.read(buf)?;
        self.received += n as u64;
        self.check_size()?;
        Ok(n)
    }
}

impl Drop for BlobStream {
    fn drop(&mut self) {
        // Closing the read end makes the shim's next write fail (EPIPE), so
        // the worker returns promptly; then reap it.
        drop(self.reader.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_debug_never_shows_secrets() {
        let c = Credential {
            username: "robot".into(),
            password: "hunter2-password".into(),
            access_token: "tok-access-123".into(),
            refresh_token: "tok-refresh-456".into(),
        };
        let opts = RemoteOptions {
            credential: Some(c.clone()),
            ..RemoteOptions::default()
        };
        for shown in [format!("{c:?}"), format!("{c:#?}"), format!("{opts:?}")] {
            assert!(shown.contains("robot"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
            for secret in ["hunter2-password", "tok-access-123", "tok-refresh-456"] {
                assert!(!shown.contains(secret), "{secret} leaked: {shown}");
            }
        }
        // An unset secret reads as unset, not as redacted.
        let anonymous = format!("{:?}", Credential::default());
        assert!(!anonymous.contains("<redacted>"), "{anonymous}");
    }

    #[test]
    fn handles_cross_threads() {
        // The library documents these as shareable between threads.
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Repository>();
        send_sync::<Op>();
        fn send<T: Send>() {}
        send::<BlobStream>();
    }

    #[test]
    fn stall_timeouts_parse() {
        for (text, want) in [
            ("60s", Duration::from_secs(60)),
            ("2s", Duration::from_secs(2)),
            ("90", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
        ] {
            assert_eq!(parse_stall_timeout(text), Ok(want), "{text}");
        }
        for bad in ["", "0", "0s", "s", "-1s", "1.5s", "3 weeks", "10d"] {
            assert!(parse_stall_timeout(bad).is_err(), "{bad:?} accepted");
        }
    }
}
