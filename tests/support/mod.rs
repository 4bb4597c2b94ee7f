//! Shared integration-test infrastructure: real registries on loopback, the oras and
//! vendoras CLIs in an isolated environment, crafted artifacts, tree snapshots and a
//! throttling TCP proxy.
//!
//! Used from each integration test file with `mod support;`. Not every file uses every
//! helper, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod corpus;
pub mod cosign;
pub mod fixtures;
pub mod pair;
pub mod servers;
pub mod sync;
pub mod vendir;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const TITLE: &str = "org.opencontainers.image.title";
pub const UNPACK: &str = "io.deis.oras.content.unpack";
pub const CONTENT_DIGEST: &str = "io.deis.oras.content.digest";

/// How long one CLI invocation may take before the test fails (and the child is killed).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------
// Tools and isolated commands
// ---------------------------------------------------------------------------------------

/// Directory holding the pinned test tools (`oras`); `make test` exports it.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("VENDORAS_TOOLS") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/bin"),
    }
}

/// Panics (the test fails, it does not skip) when a required program is missing.
fn require_program(path: &Path, what: &str) {
    if !path.is_file() {
        panic!(
            "{what} not found at {}: run `make tools` (scripts/install-test-deps.sh) \
             or use `make test`, which does it",
            path.display()
        );
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn require_on_path(name: &str) -> PathBuf {
    find_on_path(name).unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH: run `make tools` (scripts/install-test-deps.sh) \
             or use `make test`, which does it"
        )
    })
}

pub fn oras_path() -> PathBuf {
    let path = tools_dir().join("oras");
    require_program(&path, "the oras CLI (v1.3.6)");
    path
}

/// A HOME with an empty docker config, shared by all commands of this test process, so
/// neither tool ever reads the user's real credentials.
pub fn isolated_home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let home =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("home-{}", std::process::id()));
        let docker = home.join(".docker");
        fs::create_dir_all(&docker).unwrap();
        fs::write(docker.join("config.json"), "{}\n").unwrap();
        cleanup_on_exit(&home);
        home
    })
}

/// Environment shared by both CLIs: isolated HOME and docker config, no proxies for
/// loopback, no colours or terminal tricks.
fn isolate(cmd: &mut Command) {
    let home = isolated_home();
    cmd.env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env("NO_COLOR", "1")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("VENDORAS_STALL_TIMEOUT")
        .stdin(Stdio::null());
}

/// `$VENDORAS_TOOLS/oras` with an isolated environment.
pub fn oras() -> Command {
    let mut cmd = Command::new(oras_path());
    isolate(&mut cmd);
    cmd
}

/// The vendoras binary under test, with the same isolated environment.
pub fn vendoras() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vendoras"));
    isolate(&mut cmd);
    cmd
}

/// What a finished command did.
#[derive(Clone)]
pub struct Outcome {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Panics with the full output unless the command succeeded.
    pub fn ok(self) -> Self {
        if !self.success() {
            panic!("command failed: {self:?}");
        }
        self
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  exit: {}\n  stdout:\n{}\n  stderr:\n{}",
            self.what,
            self.status,
            indent(&self.stdout),
            indent(&self.stderr)
        )
    }
}

fn indent(s: &str) -> String {
    if s.is_empty() {
        return "    (empty)".into();
    }
    s.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe(cmd: &Command) -> String {
    let mut s = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    if let Some(dir) = cmd.get_current_dir() {
        s.push_str(&format!("   (in {})", dir.display()));
    }
    s
}

/// Runs a command to completion (with [`COMMAND_TIMEOUT`]), capturing its output.
pub fn run(cmd: &mut Command) -> Outcome {
    run_with_stdin(cmd, None)
}

/// Like [`run`], feeding `stdin` to the child.
pub fn run_with_stdin(cmd: &mut Command, stdin: Option<&[u8]>) -> Outcome {
    let what = describe(cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    let status = wait_timeout(&mut child, COMMAND_TIMEOUT)
        .unwrap_or_else(|| panic!("{what} did not finish within {COMMAND_TIMEOUT:?}; killed"));
    Outcome {
        what,
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn collect<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child` up to `limit`; kills it and returns None when it takes longer.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Removes `path` (recursively) once this test process has exited, even when it never
/// runs destructors (statics) or dies from a panic in another thread.
fn cleanup_on_exit(path: &Path) {
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; rm -rf -- \"$1\"",
        pid = std::process::id()
    );
    let _ = Command::new("sh")
        .args(["-c", &script, "cleanup"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

// ---------------------------------------------------------------------------------------
// Registries
// ---------------------------------------------------------------------------------------

/// Credentials and CA of a [`Registry::start_secure`] instance.
pub struct Secure {
    pub ca: PathBuf,
    pub user: String,
    pub password: String,
}

/// A `docker-registry serve` (CNCF distribution 2.8) on a free 127.0.0.1 port with
/// temporary storage; killed when dropped (and by a watchdog when the test process
/// exits without dropping it, e.g. from a `static`).
pub struct Registry {
    child: Child,
    port: u16,
    dir: TempDir,
    log: PathBuf,
    secure: Option<Secure>,
}

impl Registry {
    /// Plain HTTP, anonymous.
    pub fn start() -> Registry {
        Self::launch(None)
    }

    /// TLS (a CA and server certificate made with `openssl`, SAN IP:127.0.0.1 and
    /// DNS:localhost) and htpasswd (bcrypt) basic auth.
    pub fn start_secure() -> Registry {
        Self::launch(Some(()))
    }

    /// A pull-through cache (distribution's proxy mode) in front of
    /// `remote` (`http://127.0.0.1:PORT`): plain HTTP, anonymous, read-only.
    pub fn start_proxy(remote: &str) -> Registry {
        Self::launch_with(None, Some(remote))
    }

    fn launch(secure: Option<()>) -> Registry {
        Self::launch_with(secure, None)
    }

    fn launch_with(secure: Option<()>, proxy: Option<&str>) -> Registry {
        let exe = require_on_path("docker-registry");
        require_on_path("curl");
        let dir = tempfile::Builder::new()
            .prefix("vendoras-registry-")
            .tempdir()
            .unwrap();
        let secure = secure.map(|()| make_secure_material(dir.path()));
        let mut last_log = String::new();
        // A few attempts: the free port may be taken between probing and binding.
        for _attempt in 0..4 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            let mut text = registry_config(dir.path(), port, secure.as_ref());
            if let Some(remote) = proxy {
                text.push_str(&format!("proxy:\n  remoteurl: {remote}\n"));
            }
            fs::write(&config, text).unwrap();
            let log = dir.path().join(format!("registry-{port}.log"));
            let logf = fs::File::create(&log).unwrap();
            let mut child = Command::new(&exe)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(logf.try_clone().unwrap())
                .stderr(logf)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}"));
            watchdog(child.id(), dir.path());
            if wait_ready(&mut child, port, secure.as_ref(), Duration::from_secs(20)) {
                return Registry {
                    child,
                    port,
                    dir,
                    log,
                    secure,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("docker-registry did not start; last log:\n{last_log}");
    }

    /// "127.0.0.1:PORT"
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        let scheme = if self.secure.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.host())
    }

    /// "127.0.0.1:PORT/repo:tag" (or `@digest` when `tag` starts with "sha256:").
    pub fn reference(&self, repo: &str, tag: &str) -> String {
        if tag.starts_with("sha256:") {
            format!("{}/{repo}@{tag}", self.host())
        } else {
            format!("{}/{repo}:{tag}", self.host())
        }
    }

    pub fn is_secure(&self) -> bool {
        self.secure.is_some()
    }

    fn secure(&self) -> &Secure {
        self.secure
            .as_ref()
            .expect("not a secure registry (use Registry::start_secure)")
    }

    pub fn ca_path(&self) -> &Path {
        &self.secure().ca
    }

    pub fn user(&self) -> &str {
        &self.secure().user
    }

    pub fn password(&self) -> &str {
        &self.secure().password
    }

    /// Flags that let `oras` (and `vendoras pull`) reach this registry with full access:
    /// `--plain-http`, or `--ca-file CA -u USER -p PASSWORD`.
    pub fn access_flags(&self) -> Vec<String> {
        match &self.secure {
            None => vec!["--plain-http".into()],
            Some(s) => vec![
                "--ca-file".into(),
                s.ca.display().to_string(),
                "-u".into(),
                s.user.clone(),
                "-p".into(),
                s.password.clone(),
            ],
        }
    }

    /// The registry's own log (stdout+stderr), for failure messages.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether `repo` in this registry's storage links every digest in
    /// `digests` (as a manifest revision or a layer). A registry in proxy mode
    /// stores what it served from a second fetch of its own, in the
    /// background: wait for this before stopping the registry behind it.
    pub fn stores(&self, repo: &str, digests: &[String]) -> bool {
        let root = self
            .dir
            .path()
            .join("storage/docker/registry/v2/repositories")
            .join(repo);
        digests.iter().all(|d| {
            let (alg, hex) = d.split_once(':').unwrap();
            ["_manifests/revisions", "_layers"]
                .iter()
                .any(|kind| root.join(kind).join(alg).join(hex).join("link").is_file())
        })
    }

    /// A scratch directory that lives as long as the registry.
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let log = self.log_text();
            if !log.trim().is_empty() {
                eprintln!("--- docker-registry log ({}) ---\n{log}", self.host());
            }
        }
    }
}

/// Polls `GET /v2/` until it answers 200 (plain) or 401 (htpasswd) or the child exits.
fn wait_ready(child: &mut Child, port: u16, secure: Option<&Secure>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let (scheme, expect) = if secure.is_some() {
        ("https", "401")
    } else {
        ("http", "200")
    };
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let mut curl = Command::new("curl");
            curl.args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--noproxy",
                "*",
            ]);
            curl.args(["--max-time", "5"]);
            if let Some(s) = secure {
                curl.arg("--cacert").arg(&s.ca);
            }
            curl.arg(format!("{scheme}://127.0.0.1:{port}/v2/"));
            if let Ok(out) = curl.stdin(Stdio::null()).output() {
                if String::from_utf8_lossy(&out.stdout).trim() == expect {
                    return true;
                }
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Kills `pid` and removes `dir` when the test process exits first.
fn watchdog(pid: u32, dir: &Path) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         if kill -0 {pid} 2>/dev/null; then kill {pid}; sleep 0.5; kill -9 {pid} 2>/dev/null; rm -rf -- \"$1\"; fi",
        me = std::process::id()
    );
    let _ = Command::new("sh")
        .args(["-c", &script, "watchdog"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn registry_config(dir: &Path, port: u16, secure: Option<&Secure>) -> String {
    let storage = dir.join("storage");
    let mut cfg = format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: vendoras-test-secret\n",
        storage.display()
    );
    if secure.is_some() {
        cfg.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n\
             auth:\n  htpasswd:\n    realm: vendoras-test\n    path: {}\n",
            dir.join("tls/server.pem").display(),
            dir.join("tls/server.key").display(),
            dir.join("htpasswd").display()
        ));
    }
    cfg
}

fn make_secure_material(dir: &Path) -> Secure {
    let tls = dir.join("tls");
    fs::create_dir_all(&tls).unwrap();
    servers::write_test_pki(&tls, "localhost", &["IP:127.0.0.1", "DNS:localhost"]);

    let user = "vendoras-tester".to_string();
    let password = format!("Pa55-{:08x}-sekrit", std::process::id() ^ 0x5eed_1234);
    let out = Command::new(require_on_path("htpasswd"))
        .args(["-Bbn", &user, &password])
        .stdin(Stdio::null())
        .output()
        .expect("running htpasswd");
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(dir.join("htpasswd"), &out.stdout).unwrap();
    Secure {
        ca: tls.join("ca.pem"),
        user,
        password,
    }
}

// ---------------------------------------------------------------------------------------
// Crafted artifacts
// ---------------------------------------------------------------------------------------

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

pub fn digest_of(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OCI descriptor under construction.
#[derive(Clone, Debug)]
pub struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub annotations: BTreeMap<String, String>,
}

impl Desc {
    pub fn of(media_type: &str, data: &[u8]) -> Desc {
        Desc {
            media_type: media_type.into(),
            digest: digest_of(data),
            size: data.len() as u64,
            annotations: BTreeMap::new(),
        }
    }

    pub fn annotate(mut self, key: &str, value: &str) -> Desc {
        self.annotations.insert(key.into(), value.into());
        self
    }

    pub fn title(self, title: &str) -> Desc {
        self.annotate(TITLE, title)
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size});
        if !self.annotations.is_empty() {
            v["annotations"] = json!(self.annotations);
        }
        v
    }
}

/// Pushes raw blobs and hand-built manifests with `oras blob push` / `oras manifest push`.
pub struct Crafter<'a> {
    pub registry: &'a Registry,
    pub repo: String,
    work: TempDir,
    pushed_empty_config: bool,
}

impl<'a> Crafter<'a> {
    pub fn new(registry: &'a Registry, repo: &str) -> Crafter<'a> {
        Crafter {
            registry,
            repo: repo.into(),
            work: tempfile::tempdir().unwrap(),
            pushed_empty_config: false,
        }
    }

    /// Uploads `data` as a blob and returns its descriptor.
    pub fn blob(&mut self, media_type: &str, data: &[u8]) -> Desc {
        let desc = Desc::of(media_type, data);
        let file = self.work.path().join(desc.digest.replace(':', "-"));
        fs::write(&file, data).unwrap();
        let target = format!("{}/{}@{}", self.registry.host(), self.repo, desc.digest);
        run(oras()
            .args(["blob", "push"])
            .args(self.registry.access_flags())
            .arg(&target)
            .arg(&file))
        .ok();
        desc
    }

    /// An OCI image manifest with the empty config and these layers.
    pub fn manifest(&mut self, artifact_type: &str, layers: &[Desc]) -> Value {
        if !self.pushed_empty_config {
            self.blob(EMPTY_MEDIA_TYPE, b"{}");
            self.pushed_empty_config = true;
        }
        json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": artifact_type,
            "config": {
                "mediaType": EMPTY_MEDIA_TYPE,
                "digest": digest_of(b"{}"),
                "size": 2,
                "data": "e30="
            },
            "layers": layers.iter().map(Desc::to_json).collect::<Vec<_>>(),
        })
    }

    /// `oras manifest push REPO:TAG` of `manifest`; returns the manifest digest.
    pub fn push_manifest(&mut self, tag: &str, manifest: &Value) -> String {
        let media_type = manifest["mediaType"]
            .as_str()
            .unwrap_or(MANIFEST_MEDIA_TYPE)
            .to_string();
        let bytes = serde_json::to_vec(manifest).unwrap();
        let digest = digest_of(&bytes);
        let file = self.work.path().join(format!("manifest-{tag}.json"));
        fs::write(&file, &bytes).unwrap();
        run(oras()
            .args(["manifest", "push", "--media-type", &media_type])
            .args(self.registry.access_flags())
            .arg(self.registry.reference(&self.repo, tag))
            .arg(&file))
        .ok();
        digest
    }

    /// Blobs + manifest in one go: pushes every `(descriptor-template, bytes)` layer.
    pub fn artifact(&mut self, tag: &str, layers: Vec<(Desc, Vec<u8>)>) -> String {
        let mut descs = Vec::new();
        for (template, data) in layers {
            let mut d = self.blob(&template.media_type, &data);
            d.annotations = template.annotations;
            descs.push(d);
        }
        let m = self.manifest("application/vnd.vendoras.test", &descs);
        self.push_manifest(tag, &m)
    }
}

/// A layer template for [`Crafter::artifact`]: media type + annotations; digest and size
/// are filled in from the bytes.
pub fn layer(media_type: &str, annotations: &[(&str, &str)]) -> Desc {
    let mut d = Desc::of(media_type, b"");
    for (k, v) in annotations {
        d.annotations.insert((*k).into(), (*v).into());
    }
    d
}

// ---------------------------------------------------------------------------------------
// Tar builder (raw ustar headers, so hostile names are possible)
// ---------------------------------------------------------------------------------------

/// Builds a tar byte by byte. Names are written verbatim: `../x`, `/abs`, `a/../../b`
/// all go in as given (names up to 100 bytes; longer ones use the ustar prefix field).
#[derive(Default)]
pub struct TarBuilder {
    buf: Vec<u8>,
}

impl TarBuilder {
    pub fn new() -> TarBuilder {
        TarBuilder::default()
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.entry(name, b'5', 0o755, b"", "")
    }

    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name, b'0', 0o644, data, "")
    }

    pub fn exec(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.entry(name, b'0', 0o755, data, "")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, b'2', 0o777, b"", target)
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.entry(name, b'1', 0o644, b"", target)
    }

    pub fn fifo(&mut self, name: &str) -> &mut Self {
        self.entry(name, b'6', 0o644, b"", "")
    }

    /// One entry with a raw type flag.
    pub fn entry(
        &mut self,
        name: &str,
        typeflag: u8,
        mode: u32,
        data: &[u8],
        link: &str,
    ) -> &mut Self {
        let mut h = [0u8; 512];
        let name_b = name.as_bytes();
        if name_b.len() <= 100 {
            h[..name_b.len()].copy_from_slice(name_b);
        } else {
            // split at a '/' so that prefix <= 155 and name <= 100
            let split = (0..name_b.len())
                .rev()
                .find(|&i| name_b[i] == b'/' && i <= 155 && name_b.len() - i - 1 <= 100)
                .unwrap_or_else(|| panic!("tar name too long for ustar: {name}"));
            h[..name_b.len() - split - 1].copy_from_slice(&name_b[split + 1..]);
            h[345..345 + split].copy_from_slice(&name_b[..split]);
        }
        octal(&mut h[100..108], mode as u64);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        octal(&mut h[124..136], data.len() as u64);
        octal(&mut h[136..148], 1_700_000_000);
        h[156] = typeflag;
        let link_b = link.as_bytes();
        assert!(link_b.len() <= 100, "link target too long: {link}");
        h[157..157 + link_b.len()].copy_from_slice(link_b);
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[265..269].copy_from_slice(b"root");
        h[297..301].copy_from_slice(b"root");
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&b| b as u64).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.buf.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    /// The tar with its two end-of-archive blocks.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = self.buf.clone();
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }

    /// gzip of [`finish`](Self::finish).
    pub fn finish_gz(&self) -> Vec<u8> {
        gzip(&self.finish())
    }
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let s = format!("{value:0width$o}");
    assert!(
        s.len() == width,
        "value {value} does not fit a {width}-digit octal field"
    );
    field[..width].copy_from_slice(s.as_bytes());
    field[width] = 0;
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A layer the way `oras push DIR` makes it: gzip tar under `title/`, with the unpack
/// annotations (`content_digest` = sha256 of the uncompressed tar).
pub fn oras_dir_layer(title: &str, tar: &TarBuilder) -> (Desc, Vec<u8>) {
    let raw = tar.finish();
    let digest = digest_of(&raw);
    let gz = gzip(&raw);
    let d = layer(
        "application/vnd.oci.image.layer.v1.tar+gzip",
        &[(TITLE, title), (UNPACK, "true"), (CONTENT_DIGEST, &digest)],
    );
    (d, gz)
}

// ---------------------------------------------------------------------------------------
// Deterministic data
// ---------------------------------------------------------------------------------------

/// splitmix64: a seeded, fast, deterministic byte stream (not zeros, not compressible).
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Prng {
        Prng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }
}

/// Writes `size` seeded pseudo-random bytes to `path`, streaming (1 MiB at a time).
pub fn write_random_file(path: &Path, size: u64, seed: u64) {
    let mut rng = Prng::new(seed);
    let mut f = io::BufWriter::new(fs::File::create(path).unwrap());
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

// ---------------------------------------------------------------------------------------
// Tree snapshots
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    File {
        sha256: String,
        size: u64,
        exec: bool,
    },
    Dir,
    Symlink {
        target: String,
    },
    Other,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::File { sha256, size, exec } => write!(
                f,
                "file {size} bytes sha256:{}{}",
                &sha256[..12],
                if *exec { " (executable)" } else { "" }
            ),
            Entry::Dir => write!(f, "dir"),
            Entry::Symlink { target } => write!(f, "symlink -> {target}"),
            Entry::Other => write!(f, "special file"),
        }
    }
}

pub type Tree = BTreeMap<String, Entry>;

/// Every path under `root` (relative, '/'-separated, root itself excluded), never
/// following symlinks. A missing root is an empty tree.
pub fn tree_snapshot(root: &Path) -> Tree {
    let mut tree = Tree::new();
    if root.symlink_metadata().is_ok() {
        walk(root, root, &mut tree);
    }
    tree
}

fn walk(root: &Path, dir: &Path, tree: &mut Tree) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = path.symlink_metadata().unwrap();
        let ft = meta.file_type();
        let entry = if ft.is_symlink() {
            Entry::Symlink {
                target: fs::read_link(&path).unwrap().to_string_lossy().into_owned(),
            }
        } else if ft.is_dir() {
            walk(root, &path, tree);
            Entry::Dir
        } else if ft.is_file() {
            let mut f = fs::File::open(&path).unwrap();
            let mut h = Sha256::new();
            io::copy(&mut f, &mut h).unwrap();
            Entry::File {
                sha256: hex(&h.finalize()),
                size: meta.len(),
                exec: meta.permissions().mode() & 0o111 != 0,
            }
        } else {
            Entry::Other
        };
        tree.insert(rel, entry);
    }
}

/// Human-readable differences between two trees (empty when equal).
pub fn tree_diff(left_name: &str, left: &Tree, right_name: &str, right: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (path, l) in left {
        match right.get(path) {
            None => out.push(format!("  only in {left_name}: {path}  [{l}]")),
            Some(r) if r != l => out.push(format!(
                "  differs: {path}\n      {left_name}: {l}\n      {right_name}: {r}"
            )),
            _ => {}
        }
    }
    for (path, r) in right {
        if !left.contains_key(path) {
            out.push(format!("  only in {right_name}: {path}  [{r}]"));
        }
    }
    out
}

pub fn format_tree(tree: &Tree) -> String {
    if tree.is_empty() {
        return "    (empty)".into();
    }
    tree.iter()
        .map(|(p, e)| format!("    {p}  [{e}]"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Panics with a readable diff unless the trees are equal.
#[track_caller]
pub fn assert_same_tree(
    context: &str,
    left_name: &str,
    left: &Tree,
    right_name: &str,
    right: &Tree,
) {
    let diff = tree_diff(left_name, left, right_name, right);
    if !diff.is_empty() {
        panic!(
            "{context}: trees differ\n{}\n--- {left_name}:\n{}\n--- {right_name}:\n{}",
            diff.join("\n"),
            format_tree(left),
            format_tree(right)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Throttling TCP proxy
// ---------------------------------------------------------------------------------------

/// A loopback TCP proxy that forwards server→client bytes at a fixed overall rate
/// (client→server is unthrottled). It stops accepting and closes every connection when
/// dropped or after `max_lifetime`. It also counts the connections that open with a TLS
/// handshake record: a client's HTTPS attempts at a plain HTTP upstream.
pub struct ThrottleProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    forwarded: Arc<AtomicU64>,
    tls_attempts: Arc<AtomicU64>,
    accept: Option<thread::JoinHandle<()>>,
}

struct Rate {
    bytes_per_sec: u64,
    start: Instant,
    granted: AtomicU64,
}

impl Rate {
    /// Blocks until `n` more bytes fit the budget.
    fn take(&self, n: u64) {
        let total = self.granted.fetch_add(n, Ordering::SeqCst) + n;
        let due = self.start + Duration::from_secs_f64(total as f64 / self.bytes_per_sec as f64);
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
    }
}

impl ThrottleProxy {
    pub fn start(upstream: SocketAddr, bytes_per_sec: u64) -> ThrottleProxy {
        Self::start_with_lifetime(upstream, bytes_per_sec, Duration::from_secs(300))
    }

    pub fn start_with_lifetime(
        upstream: SocketAddr,
        bytes_per_sec: u64,
        max_lifetime: Duration,
    ) -> ThrottleProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let forwarded = Arc::new(AtomicU64::new(0));
        let tls_attempts = Arc::new(AtomicU64::new(0));
        let rate = Arc::new(Rate {
            bytes_per_sec,
            start: Instant::now(),
            granted: AtomicU64::new(0),
        });
        let (stop2, fwd2, tls2) = (stop.clone(), forwarded.clone(), tls_attempts.clone());
        let deadline = Instant::now() + max_lifetime;
        let accept = thread::spawn(move || {
            let mut workers = Vec::new();
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((client, _)) => {
                        let Ok(server) = TcpStream::connect(upstream) else {
                            continue;
                        };
                        let _ = client.set_nonblocking(false);
                        workers.extend(pipe_pair(client, server, &stop2, &fwd2, &tls2, &rate));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
            stop2.store(true, Ordering::SeqCst);
            for w in workers {
                let _ = w.join();
            }
        });
        ThrottleProxy {
            addr,
            stop,
            forwarded,
            tls_attempts,
            accept: Some(accept),
        }
    }

    /// "127.0.0.1:PORT" of the proxy.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Bytes forwarded from the upstream to clients so far.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::SeqCst)
    }

    /// Connections so far whose first byte was a TLS handshake record (0x16).
    pub fn tls_attempts(&self) -> u64 {
        self.tls_attempts.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` bytes were forwarded; false on timeout.
    pub fn wait_forwarded(&self, n: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.forwarded() >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for ThrottleProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn pipe_pair(
    client: TcpStream,
    server: TcpStream,
    stop: &Arc<AtomicBool>,
    forwarded: &Arc<AtomicU64>,
    tls_attempts: &Arc<AtomicU64>,
    rate: &Arc<Rate>,
) -> Vec<thread::JoinHandle<()>> {
    let tick = Some(Duration::from_millis(100));
    for s in [&client, &server] {
        let _ = s.set_read_timeout(tick);
        let _ = s.set_nodelay(true);
    }
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = {
        let (stop, tls) = (stop.clone(), tls_attempts.clone());
        thread::spawn(move || {
            let mut first = [0u8; 1];
            while !stop.load(Ordering::SeqCst) {
                match client.peek(&mut first) {
                    Ok(1) if first[0] == 0x16 => {
                        tls.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    _ => break,
                }
            }
            copy_until_stop(client, server, &stop, None, None)
        })
    };
    let down = {
        let (stop, fwd, rate) = (stop.clone(), forwarded.clone(), rate.clone());
        thread::spawn(move || copy_until_stop(s2, c2, &stop, Some(&fwd), Some(&rate)))
    };
    vec![up, down]
}

fn copy_until_stop(
    mut from: TcpStream,
    mut to: TcpStream,
    stop: &AtomicBool,
    counter: Option<&AtomicU64>,
    rate: Option<&Rate>,
) {
    let mut buf = [0u8; 16 * 1024];
    // Small chunks when throttled, so the rate is smooth and a stop is noticed quickly.
    let chunk = if rate.is_some() { 8 * 1024 } else { buf.len() };
    while !stop.load(Ordering::SeqCst) {
        match from.read(&mut buf[..chunk]) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(r) = rate {
                    r.take(n as u64);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                if let Some(c) = counter {
                    c.fetch_add(n as u64, Ordering::SeqCst);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
    if stop.load(Ordering::SeqCst) {
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    }
}

// ---------------------------------------------------------------------------------------
// Fault-injecting HTTP proxy
// ---------------------------------------------------------------------------------------

/// What a [`FaultProxy`] does to requests for one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// GET: forward the upstream response with one byte in the middle of the body
    /// flipped (Content-Length kept), so the content no longer matches its digest.
    /// Applies to every matching GET.
    CorruptBody,
    /// GET: send the upstream status and headers (full Content-Length) but only the
    /// first `n` body bytes, then close the connection. Applies to every matching GET.
    Truncate(usize),
    /// Any method: answer the next `times` matching requests with this status and an
    /// empty body (429 carries `Retry-After: 1`) without contacting the upstream, then
    /// pass through. `u32::MAX` means forever.
    Status(u16, u32),
    /// GET: for the next `times` matching requests (`u32::MAX`: forever), send the
    /// upstream status and headers (200, or 206 for a Range request) and the first
    /// `after` body bytes, then nothing, holding the connection open until the client
    /// hangs up: a stalled server.
    Stall { after: usize, times: u32 },
}

/// One request the proxy saw: method, path (no query) and the status it answered.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    pub fault: Option<Fault>,
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.method, self.path, self.status)?;
        if let Some(fault) = self.fault {
            write!(f, " [{fault:?}]")?;
        }
        Ok(())
    }
}

struct FaultState {
    upstream: SocketAddr,
    stop: AtomicBool,
    /// path -> (fault, remaining uses for `Status`)
    rules: std::sync::Mutex<BTreeMap<String, Fault>>,
    seen: std::sync::Mutex<Vec<Seen>>,
    /// Clones of the sockets of connections in flight, shut down on drop so no worker
    /// stays blocked.
    open: std::sync::Mutex<BTreeMap<u64, Vec<TcpStream>>>,
}

/// A loopback HTTP/1.1 reverse proxy in front of a plain-HTTP [`Registry`] that injects
/// faults per request path (exact match on the path, query ignored), e.g.
/// `/v2/<repo>/blobs/sha256:<hex>` or `/v2/<repo>/manifests/<tag>`.
///
/// One request per connection: every response carries `Connection: close`, and requests
/// go upstream with `Connection: close` too. Request bodies are read by Content-Length
/// (chunked request bodies are refused with 501; registries' pull paths never send one).
/// It counts and records every request so tests can assert retries. It stops accepting
/// and shuts every connection down when dropped or after its lifetime.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<FaultState>,
    accept: Option<thread::JoinHandle<()>>,
}

const FAULT_IO_TIMEOUT: Duration = Duration::from_secs(30);
const FAULT_MAX_HEAD: usize = 64 * 1024;

impl FaultProxy {
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        Self::start_with_lifetime(upstream, Duration::from_secs(300))
    }

    pub fn start_with_lifetime(upstream: SocketAddr, max_lifetime: Duration) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(FaultState {
            upstream,
            stop: AtomicBool::new(false),
            rules: Default::default(),
            seen: Default::default(),
            open: Default::default(),
        });
        let st = state.clone();
        let deadline = Instant::now() + max_lifetime;
        let accept = thread::spawn(move || {
            let mut workers = Vec::new();
            let mut next_id = 0u64;
            while !st.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((client, peer)) => {
                        if !peer.ip().is_loopback() {
                            continue;
                        }
                        next_id += 1;
                        let (st, id) = (st.clone(), next_id);
                        workers.push(thread::spawn(move || fault_connection(&st, id, client)));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
                workers.retain(|w: &thread::JoinHandle<()>| !w.is_finished());
            }
            drop(listener);
            st.stop.store(true, Ordering::SeqCst);
            fault_shutdown_all(&st);
            for w in workers {
                let _ = w.join();
            }
        });
        FaultProxy {
            addr,
            state,
            accept: Some(accept),
        }
    }

    /// "127.0.0.1:PORT" of the proxy.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Sets (replaces) the fault for requests to `path`.
    pub fn set(&self, path: &str, fault: Fault) {
        self.state.rules.lock().unwrap().insert(path.into(), fault);
    }

    /// Removes the fault for `path`.
    pub fn clear(&self, path: &str) {
        self.state.rules.lock().unwrap().remove(path);
    }

    /// Requests to `path` so far (any method, faulted or not).
    pub fn count(&self, path: &str) -> usize {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }

    /// Requests to `path` with `method` so far.
    pub fn count_method(&self, method: &str, path: &str) -> usize {
        self.state
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path && s.method == method)
            .count()
    }

    /// Every request seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// [`seen`](Self::seen) as lines, for failure messages.
    pub fn seen_text(&self) -> String {
        let seen = self.seen();
        if seen.is_empty() {
            return "    (no requests)".into();
        }
        seen.iter()
            .map(|s| format!("    {s}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        fault_shutdown_all(&self.state);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn fault_shutdown_all(st: &FaultState) {
    for streams in st.open.lock().unwrap().values() {
        for s in streams {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Registers clones of a connection's sockets for [`fault_shutdown_all`]; false when the
/// proxy is already stopping.
fn fault_track(st: &FaultState, id: u64, s: &TcpStream) -> bool {
    let mut open = st.open.lock().unwrap();
    if st.stop.load(Ordering::SeqCst) {
        return false;
    }
    if let Ok(c) = s.try_clone() {
        open.entry(id).or_default().push(c);
    }
    true
}

/// Reads up to the end of an HTTP head ("\r\n\r\n"); returns (head, bytes after it).
fn read_http_head(s: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            buf.truncate(end);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > FAULT_MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "HTTP head too long",
            ));
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside the HTTP head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Splits a head into its first line and (name, value) headers.
fn parse_http_head(head: &str) -> (String, Vec<(String, String)>) {
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    (first, headers)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Headers minus the hop-by-hop connection management ones, plus `Connection: close`.
fn rewrite_headers(first: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut out = format!("{first}\r\n");
    for (k, v) in headers {
        if ["connection", "keep-alive", "proxy-connection"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Fault",
    }
}

fn fault_connection(st: &FaultState, id: u64, client: TcpStream) {
    let _ = fault_exchange(st, id, client);
    st.open.lock().unwrap().remove(&id);
}

fn fault_exchange(st: &FaultState, id: u64, mut client: TcpStream) -> io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(FAULT_IO_TIMEOUT))?;
    client.set_write_timeout(Some(FAULT_IO_TIMEOUT))?;
    let _ = client.set_nodelay(true);
    if !fault_track(st, id, &client) {
        return Ok(());
    }
    // A TLS ClientHello (a client trying HTTPS first, as go-containerregistry's
    // rule for loopback registries does): answer in plain HTTP, as a plain HTTP
    // server does, so the client falls back to HTTP instead of timing out.
    let mut first_byte = [0u8; 1];
    if client.peek(&mut first_byte)? == 1 && first_byte[0] == 0x16 {
        client.write_all(b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    // Request head and body (by Content-Length).
    let (head, mut body) = read_http_head(&mut client)?;
    let (first, headers) = parse_http_head(&head);
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let path = target.split('?').next().unwrap_or_default().to_string();
    let record = |status: u16, fault: Option<Fault>| {
        st.seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            status,
            fault,
        })
    };
    if header(&headers, "transfer-encoding").is_some() {
        record(501, None);
        client.write_all(
            b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    let req_len: usize = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while body.len() < req_len {
        let mut chunk = vec![0u8; (req_len - body.len()).min(64 * 1024)];
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(req_len);

    // The rule for this path (a `Status` rule is used up one request at a time).
    let fault = {
        let mut rules = st.rules.lock().unwrap();
        match rules.get(&path).copied() {
            Some(Fault::Status(code, times)) if times > 0 => {
                if times != u32::MAX {
                    rules.insert(path.clone(), Fault::Status(code, times - 1));
                }
                Some(Fault::Status(code, times))
            }
            Some(f @ (Fault::CorruptBody | Fault::Truncate(_))) if method == "GET" => Some(f),
            Some(Fault::Stall { after, times }) if method == "GET" && times > 0 => {
                if times != u32::MAX {
                    let times = times - 1;
                    rules.insert(path.clone(), Fault::Stall { after, times });
                }
                Some(Fault::Stall { after, times })
            }
            _ => None,
        }
    };
    if let Some(Fault::Status(code, _)) = fault {
        record(code, fault);
        let retry_after = if code == 429 {
            "Retry-After: 1\r\n"
        } else {
            ""
        };
        let resp = format!(
            "HTTP/1.1 {code} {}\r\nContent-Length: 0\r\n{retry_after}Connection: close\r\n\r\n",
            reason(code)
        );
        client.write_all(resp.as_bytes())?;
        let _ = client.shutdown(Shutdown::Write);
        return Ok(());
    }

    // Forward upstream.
    let mut server = match TcpStream::connect_timeout(&st.upstream, Duration::from_secs(10)) {
        Ok(s) => s,
        Err(e) => {
            record(502, None);
            client.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Err(e);
        }
    };
    server.set_read_timeout(Some(FAULT_IO_TIMEOUT))?;
    server.set_write_timeout(Some(FAULT_IO_TIMEOUT))?;
    let _ = server.set_nodelay(true);
    if !fault_track(st, id, &server) {
        return Ok(());
    }
    server.write_all(&rewrite_headers(&first, &headers))?;
    server.write_all(&body)?;

    // Upstream response head.
    let (rhead, mut rbody) = read_http_head(&mut server)?;
    let (status_line, rheaders) = parse_http_head(&rhead);
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length: Option<usize> = header(&rheaders, "content-length").and_then(|v| v.parse().ok());
    let no_body =
        method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status);
    // Only a 200 GET with a known length is altered (a stall also hits a 206).
    let fault = match (fault, length) {
        (Some(f), Some(_)) if status == 200 && !no_body => Some(f),
        (Some(f @ Fault::Stall { .. }), Some(_)) if status == 206 => Some(f),
        _ => None,
    };
    record(status, fault);
    client.write_all(&rewrite_headers(&status_line, &rheaders))?;
    if no_body {
        let _ = client.shutdown(Shutdown::Write);
        return Ok(());
    }

    // Body: stream, altering on the way.
    let limit = match fault {
        Some(Fault::Truncate(n)) | Some(Fault::Stall { after: n, .. }) => length.map(|l| l.min(n)),
        _ => length,
    };
    let flip_at = match fault {
        Some(Fault::CorruptBody) => length.map(|l| l / 2),
        _ => None,
    };
    let mut sent = 0usize;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if limit.is_some_and(|l| sent >= l) {
            break;
        }
        if rbody.is_empty() {
            let n = server.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            rbody.extend_from_slice(&chunk[..n]);
        }
        let take = match limit {
            Some(l) => rbody.len().min(l - sent),
            None => rbody.len(),
        };
        let mut piece: Vec<u8> = rbody.drain(..take).collect();
        if let Some(at) = flip_at {
            if at >= sent && at < sent + piece.len() {
                piece[at - sent] ^= 0xff;
            }
        }
        client.write_all(&piece)?;
        sent += piece.len();
    }
    client.flush()?;
    if let Some(Fault::Stall { .. }) = fault {
        // Send nothing more; wait for the client to give up (or the proxy to stop).
        let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
        let mut sink = [0u8; 1024];
        loop {
            match client.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if st.stop.load(Ordering::SeqCst) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        return Ok(());
    }
    // Close with a FIN (not a reset): stop writing, then wait briefly for the client
    // to hang up.
    let _ = client.shutdown(Shutdown::Write);
    let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
    let mut sink = [0u8; 1024];
    while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}
