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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Operation, RegistryError, Result};
use crate::ffi::{self, Op, ShimError};
use crate::mirrors::{Lookup, Mirrors, PullFrom};
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
    /// Mirrors to try before the repository's own registry (the
    /// `[[registry]]` rules of the mirrors file); `None` = none.
    pub mirrors: Option<Arc<Mirrors>>,
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
///
/// With mirrors, one repository is several places: the mirrors in order,
/// then (unless `mirror-only`) the primary location. Each call walks the
/// places that may answer it (`pull-from-mirror`) until one does; the
/// shim checks every manifest and blob against its digest wherever it came
/// from, so a mirror can be missing or broken but cannot change content.
#[derive(Debug, Clone)]
pub struct Repository {
    endpoints: Arc<Vec<Endpoint>>,
    /// The repository as configured (the origin), or the layout path.
    name: String,
}

/// One place a repository can be reached.
#[derive(Debug)]
struct Endpoint {
    target: ffi::Target,
    /// `registry/repository` there (or the layout path).
    name: String,
    registry: Option<String>,
    /// `None` for the primary location (or a layout).
    mirror: Option<PullFrom>,
    /// The TLS attempt of an `insecure` location, with a plain-HTTP attempt
    /// right after it: once it fails to connect it is skipped, so an HTTP
    /// mirror costs one failed handshake per repository, not one per call.
    tls_probe: bool,
    skip: AtomicBool,
}

impl Endpoint {
    fn serves(&self, kind: Lookup) -> bool {
        !self.skip.load(Ordering::Relaxed) && self.mirror.is_none_or(|p| p.allows(kind))
    }

    /// Notes a failure: a TLS probe that could not connect is not tried again.
    fn failed(&self, e: &ShimError) {
        if self.tls_probe && matches!(e.kind, ErrorKind::Network | ErrorKind::Tls) {
            self.skip.store(true, Ordering::Relaxed);
        }
    }

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
}

/// Whether `reference` names a digest (else a tag).
fn lookup_of(reference: &str) -> Lookup {
    if reference.parse::<Digest>().is_ok() {
        Lookup::Digest
    } else {
        Lookup::Tag
    }
}

impl Repository {
    /// Opens `registry/repository` with the given transport and auth options,
    /// and the mirrors of [`RemoteOptions::mirrors`].
    pub fn open_remote(repository: &str, options: &RemoteOptions) -> Result<Repository> {
        let route = match &options.mirrors {
            Some(m) => m.registry_route(repository),
            None => Mirrors::default().registry_route(repository),
        };
        if let Some(prefix) = &route.blocked {
            return Err(Error::setting(
                "mirrors",
                Some(prefix),
                format!("{repository} is blocked by the mirrors file (blocked = true)"),
            ));
        }
        let origin_host = repository.split('/').next().unwrap_or_default();
        let mut endpoints = Vec::new();
        for ep in &route.endpoints {
            // Static credentials belong to the registry they were given
            // for; the credential stores answer per host by themselves.
            let credential = options
                .credential
                .as_ref()
                .filter(|_| ep.host() == origin_host);
            // (plain_http, skip TLS verification, is a TLS probe)
            let attempts: Vec<(Option<bool>, bool, bool)> = if !ep.insecure {
                if ep.mirror.is_none() {
                    vec![(options.plain_http, options.insecure, false)]
                } else {
                    vec![(None, false, false)]
                }
            } else if ep.mirror.is_none() && options.plain_http == Some(true) {
                vec![(Some(true), true, false)]
            } else {
                // registries.conf `insecure`: TLS without verification,
                // else plain HTTP (as containers/image falls back).
                vec![(Some(false), true, true), (Some(true), true, false)]
            };
            for (plain_http, insecure, tls_probe) in attempts {
                let req = TargetRequest::Remote {
                    repository: &ep.repository,
                    plain_http,
                    insecure,
                    ca_files: &options.ca_files,
                    credential,
                    registry_configs: &options.registry_configs,
                    docker_config: options.docker_config.clone().or_else(default_docker_config),
                    user_agent: format!("vendoras/{}", env!("CARGO_PKG_VERSION")),
                    stall_timeout_ms: options
                        .stall_timeout
                        .unwrap_or(DEFAULT_STALL_TIMEOUT)
                        .as_millis()
                        .clamp(1, u128::from(u64::MAX))
                        as u64,
                };
                let registry = Some(ep.host().to_string());
                endpoints.push(Endpoint {
                    target: open_target(&req, &ep.repository, registry.as_deref())?,
                    name: ep.repository.clone(),
                    registry,
                    mirror: ep.mirror,
                    tls_probe,
                    skip: AtomicBool::new(false),
                });
            }
        }
        Ok(Repository {
            endpoints: Arc::new(endpoints),
            name: repository.to_string(),
        })
    }

    /// Opens an OCI image layout (a directory or a tar file).
    pub fn open_layout(path: &Path) -> Result<Repository> {
        let name = path.display().to_string();
        let target = open_target(&TargetRequest::OciLayout { path }, &name, None)?;
        Ok(Repository {
            endpoints: Arc::new(vec![Endpoint {
                target,
                name: name.clone(),
                registry: None,
                mirror: None,
                tls_probe: false,
                skip: AtomicBool::new(false),
            }]),
            name,
        })
    }

    /// The places that may answer a lookup of `kind`, in order.
    fn candidates(&self, kind: Lookup) -> Vec<usize> {
        let all: Vec<usize> = (0..self.endpoints.len())
            .filter(|&i| self.endpoints[i].serves(kind))
            .collect();
        if all.is_empty() {
            // Every TLS probe was skipped, or no mirror serves this kind of
            // lookup: fall back to what the rules allow, skipped or not.
            return (0..self.endpoints.len())
                .filter(|&i| self.endpoints[i].mirror.is_none_or(|p| p.allows(kind)))
                .collect();
        }
        all
    }

    /// Runs `call` on each place that may answer, in order, until one does.
    /// A cancellation stops at once; otherwise the last failure is returned.
    fn attempt<T>(
        &self,
        kind: Lookup,
        operation: Operation,
        reference: Option<&str>,
        media_type: Option<&str>,
        call: impl Fn(&ffi::Target) -> std::result::Result<T, ShimError>,
    ) -> Result<T> {
        let mut last = None;
        for i in self.candidates(kind) {
            let ep = &self.endpoints[i];
            match call(&ep.target) {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let cancelled = e.kind == ErrorKind::Cancelled;
                    ep.failed(&e);
                    let err = ep.error(operation, reference, media_type, e);
                    if cancelled {
                        return Err(err);
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::setting(
                "mirrors",
                Some(&self.name),
                format!(
                    "no mirror may look up a {} here (pull-from-mirror) and the rule is \
                     mirror-only",
                    match kind {
                        Lookup::Tag => "tag",
                        Lookup::Digest => "digest",
                    }
                ),
            )
        }))
    }

    /// Checks a cosign signature (the shim's request `json`) on `digest`,
    /// at the first place that answers.
    pub(crate) fn verify_signature(&self, op: &Op, json: &str, digest: &Digest) -> Result<String> {
        self.attempt(
            Lookup::Digest,
            Operation::VerifySignature,
            Some(&digest.to_string()),
            None,
            |t| t.verify(op, json),
        )
    }

    /// The repository name or layout path, for messages.
    pub fn name(&self) -> &str {
        &self.name
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
        let req = req.to_string();
        let out = self.attempt(
            lookup_of(reference),
            Operation::Resolve,
            Some(reference),
            None,
            |t| t.resolve(op, &req),
        )?;
        serde_json::from_str(&out).map_err(|e| bad_answer("resolve", e))
    }

    /// Resolves a tag or digest and fetches the manifest (or index) it names
    /// in one round trip, verified and parsed.
    pub fn fetch_reference(&self, op: &Op, reference: &str) -> Result<(Descriptor, Manifest)> {
        let req = serde_json::json!({ "reference": reference }).to_string();
        let (desc, bytes) = self.attempt(
            lookup_of(reference),
            Operation::Resolve,
            Some(reference),
            None,
            |t| t.fetch_reference(op, &req, MAX_MANIFEST_BYTES),
        )?;
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
        self.attempt(
            Lookup::Digest,
            Operation::Fetch,
            Some(&desc.digest.to_string()),
            Some(&desc.media_type),
            |t| t.fetch_bytes(op, &json, max_size),
        )
    }

    /// Lists the repository's tags.
    pub fn tags(&self, op: &Op) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Vec<String>,
        }
        let out = self.attempt(Lookup::Tag, Operation::ListTags, None, None, |t| {
            t.list_tags(op)
        })?;
        Ok(serde_json::from_str::<Tags>(&out)
            .map_err(|e| bad_answer("list tags", e))?
            .tags)
    }

    /// Starts streaming a blob. Read it, then call [`BlobStream::finish`]
    /// before committing anything derived from it. With mirrors, a place
    /// that fails before sending a byte hands over to the next one; a
    /// transfer that breaks midway is reported, not restarted elsewhere.
    pub fn open_blob(&self, op: &Arc<Op>, desc: &Descriptor) -> Result<BlobStream> {
        let mut order = self.candidates(Lookup::Digest).into_iter();
        let first = order.next().ok_or_else(|| {
            Error::setting(
                "mirrors",
                Some(&self.name),
                "no mirror may fetch by digest here and the rule is mirror-only",
            )
        })?;
        let mut stream = BlobStream {
            reader: None,
            received: 0,
            desc: desc.clone(),
            worker: None,
            repo: self.clone(),
            op: Arc::clone(op),
            json: serde_json::to_string(desc).expect("descriptor serialises"),
            current: first,
            rest: order.collect(),
            verdict: None,
        };
        stream.start()?;
        Ok(stream)
    }
}

fn open_target(req: &TargetRequest<'_>, name: &str, registry: Option<&str>) -> Result<ffi::Target> {
    let json = serde_json::to_string(req).expect("request serialises");
    ffi::Target::open(&json).map_err(|e| shim_error(name, registry, Operation::Open, None, None, e))
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
    /// Where the blob comes from.
    repo: Repository,
    op: Arc<Op>,
    json: String,
    /// The endpoint streaming now, and those left to try.
    current: usize,
    rest: std::collections::VecDeque<usize>,
    /// The worker's verdict, when it was joined before [`BlobStream::finish`].
    verdict: Option<std::thread::Result<std::result::Result<(), ShimError>>>,
}

impl BlobStream {
    /// Starts the shim streaming from the current endpoint into a new pipe.
    fn start(&mut self) -> Result<()> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| Error::io("pipe", e.into()))?;
        // A larger pipe means fewer context switches between Go and Rust;
        // the default (64 KiB) is also fine, so failure is ignored.
        let _ = rustix::pipe::fcntl_setpipe_size(&write, 1 << 20);
        let endpoints = Arc::clone(&self.repo.endpoints);
        let (i, op, json) = (self.current, Arc::clone(&self.op), self.json.clone());
        let worker = std::thread::Builder::new()
            .name("vendoras-blob".into())
            .spawn(move || endpoints[i].target.fetch_to_fd(&op, &json, write))
            .map_err(|e| Error::io("spawn", e))?;
        self.reader = Some(File::from(read));
        self.worker = Some(worker);
        Ok(())
    }

    /// At the end of the pipe before any byte: joins the worker, and when it
    /// failed and another endpoint may serve the blob, starts that one.
    /// Returns whether a new attempt started.
    fn fail_over(&mut self) -> bool {
        if self.received != 0 || self.verdict.is_some() {
            return false;
        }
        let Some(worker) = self.worker.take() else {
            return false;
        };
        let verdict = worker.join();
        if let Ok(Err(e)) = &verdict {
            if e.kind != ErrorKind::Cancelled && !self.op.is_cancelled() {
                self.repo.endpoints[self.current].failed(e);
                if let Some(next) = self.rest.pop_front() {
                    self.current = next;
                    if self.start().is_ok() {
                        return true;
                    }
                }
            }
        }
        self.verdict = Some(verdict);
        false
    }

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
        loop {
            let reader = self.reader.as_ref().expect("write after finish");
            match rustix::pipe::splice(
                reader,
                None,
                &*file,
                None,
                1 << 20,
                rustix::pipe::SpliceFlags::MOVE | rustix::pipe::SpliceFlags::MORE,
            ) {
                Ok(0) if total == 0 && self.fail_over() => {}
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
        let shim = match self.verdict.take() {
            Some(v) => v,
            None => self.worker.take().expect("worker joined once").join(),
        };
        let digest = self.desc.digest.to_string();
        match shim {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(self.repo.endpoints[self.current].error(
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
        let n = loop {
            let reader = self.reader.as_mut().expect("read after finish");
            let n = reader.read(buf)?;
            if n == 0 && !buf.is_empty() && self.fail_over() {
                continue;
            }
            break n;
        };
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
