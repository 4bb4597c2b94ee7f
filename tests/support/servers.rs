//! Loopback servers for the non-registry sources (git, hg, http, githubRelease,
//! helmChart): a small HTTP/1.1 server (static files, optional basic auth, a request
//! log so tests can assert "no transfer"), `git http-backend` as CGI behind it,
//! `git daemon`, `hg serve`, a fake of the GitHub release API, and, for what has to be
//! HTTPS (vendir sends git/hg passwords only to https remotes and calls
//! `https://api.github.com` directly), a TLS front (`stunnel`) and a CONNECT proxy.
//!
//! Every server binds 127.0.0.1 on a free port, never a fixed one, and stops when
//! dropped. Plain std threads, no async runtime.

use super::*;

use std::collections::HashMap;
use std::sync::Mutex;

/// How long a server waits on a silent client before dropping the connection.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Request heads larger than this are refused (they are bugs, not tests).
const MAX_HEAD: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 server
// ---------------------------------------------------------------------------------------

/// One request as the handler sees it.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent: path plus `?query`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The user name of a request that passed basic auth.
    pub user: Option<String>,
}

impl HttpRequest {
    /// The path without the query, percent-decoding not applied.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map(|(_, q)| q).unwrap_or("")
    }

    /// The value of query parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// What a handler answers.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn json(value: &Value) -> HttpResponse {
        Self::new(
            200,
            "application/json",
            serde_json::to_vec_pretty(value).unwrap(),
        )
    }

    pub fn not_found() -> HttpResponse {
        Self::new(404, "text/plain", "not found\n")
    }

    pub fn redirect(location: &str) -> HttpResponse {
        let mut r = Self::new(302, "text/plain", "");
        r.headers.push(("Location".into(), location.into()));
        r
    }

    pub fn with_header(mut self, name: &str, value: &str) -> HttpResponse {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// One line of a server's request log.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub target: String,
    pub status: u16,
    /// Response body bytes sent.
    pub bytes: u64,
    /// The `Authorization` header as received (tests are local; no real secret).
    pub authorization: Option<String>,
    pub host: Option<String>,
}

impl fmt::Display for Logged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {} ({} bytes){}",
            self.method,
            self.target,
            self.status,
            self.bytes,
            if self.authorization.is_some() {
                " [auth]"
            } else {
                ""
            }
        )
    }
}

pub type Handler = Arc<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;

struct HttpState {
    handler: Handler,
    basic_auth: Option<(String, String)>,
    log: Mutex<Vec<Logged>>,
}

/// An HTTP/1.1 server on 127.0.0.1 (one thread per connection, `Connection: close`).
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    state: Arc<HttpState>,
    accept: Option<thread::JoinHandle<()>>,
    /// Directories and children that must live as long as the server.
    _keep: Vec<TempDir>,
}

impl HttpServer {
    /// Serves `handler`, anonymously.
    pub fn start(handler: Handler) -> HttpServer {
        Self::launch(handler, None)
    }

    /// Serves `handler`; every request needs HTTP basic auth `user`/`password`
    /// (401 with a `WWW-Authenticate: Basic` challenge otherwise).
    pub fn start_with_basic_auth(handler: Handler, user: &str, password: &str) -> HttpServer {
        Self::launch(handler, Some((user.into(), password.into())))
    }

    /// Static files under `root` (GET/HEAD; `..` refused; directories are 404).
    pub fn files(root: &Path) -> HttpServer {
        Self::start(static_files(root))
    }

    fn launch(handler: Handler, basic_auth: Option<(String, String)>) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(HttpState {
            handler,
            basic_auth,
            log: Mutex::new(Vec::new()),
        });
        let (stop2, state2) = (stop.clone(), state.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = state2.clone();
                thread::spawn(move || {
                    let _ = serve_connection(&st, conn);
                });
            }
        });
        HttpServer {
            addr,
            stop,
            state,
            accept: Some(accept),
            _keep: Vec::new(),
        }
    }

    /// Keeps `dir` alive (and removes it) with the server.
    pub fn keep(&mut self, dir: TempDir) {
        self._keep.push(dir);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request served so far, in order.
    pub fn log(&self) -> Vec<Logged> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn log_text(&self) -> String {
        self.log()
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Number of requests whose target starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| l.target.starts_with(prefix))
            .count()
    }

    /// Response body bytes sent in total (0 means nothing was transferred).
    pub fn bytes_sent(&self) -> u64 {
        self.log().iter().map(|l| l.bytes).sum()
    }

    /// Forgets the log (e.g. between a first and a second sync).
    pub fn clear_log(&self) {
        self.state.log.lock().unwrap().clear();
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn serve_connection(st: &HttpState, mut conn: TcpStream) -> io::Result<()> {
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    let (head, rest) = read_head(&mut conn)?;
    let (first, headers) = parse_http_head(&head);
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let body = read_body(&mut conn, &headers, rest)?;
    let authorization = header(&headers, "authorization").map(str::to_string);
    let host = header(&headers, "host").map(str::to_string);
    let mut req = HttpRequest {
        method: method.clone(),
        target: target.clone(),
        headers,
        body,
        user: None,
    };
    let resp = match &st.basic_auth {
        Some((user, password)) => {
            let want = format!(
                "Basic {}",
                base64_encode(format!("{user}:{password}").as_bytes())
            );
            if authorization.as_deref() == Some(want.as_str()) {
                req.user = Some(user.clone());
                (st.handler)(&req)
            } else {
                HttpResponse::new(401, "text/plain", "authentication required\n")
                    .with_header("WWW-Authenticate", "Basic realm=\"vendoras-test\"")
            }
        }
        None => (st.handler)(&req),
    };
    let send_body = method != "HEAD";
    st.log.lock().unwrap().push(Logged {
        method,
        target,
        status: resp.status,
        bytes: if send_body { resp.body.len() as u64 } else { 0 },
        authorization,
        host,
    });
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, status_text(resp.status));
    for (k, v) in &resp.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp.body.len()
    ));
    conn.write_all(out.as_bytes())?;
    if send_body {
        conn.write_all(&resp.body)?;
    }
    conn.flush()?;
    let _ = conn.shutdown(Shutdown::Write);
    Ok(())
}

fn read_head(s: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            buf.truncate(end);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The request body by Content-Length or chunked transfer coding (git sends large
/// pack negotiations chunked).
fn read_body(
    s: &mut TcpStream,
    headers: &[(String, String)],
    rest: Vec<u8>,
) -> io::Result<Vec<u8>> {
    let chunked = header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut raw = rest;
        let mut out = Vec::new();
        let mut pos = 0;
        let mut chunk = [0u8; 8192];
        loop {
            // Need a full size line.
            let line_end = loop {
                if let Some(i) = raw[pos..].windows(2).position(|w| w == b"\r\n") {
                    break pos + i;
                }
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                raw.extend_from_slice(&chunk[..n]);
            };
            let size_text = String::from_utf8_lossy(&raw[pos..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            let data_start = line_end + 2;
            while raw.len() < data_start + size + 2 {
                let n = s.read(&mut chunk)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                raw.extend_from_slice(&chunk[..n]);
            }
            if size == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&raw[data_start..data_start + size]);
            pos = data_start + size + 2;
        }
    }
    let len: usize = header(headers, "content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = rest;
    let mut chunk = [0u8; 8192];
    while body.len() < len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Ok(body)
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// Standard base64 (RFC 4648, padded), enough for basic auth headers.
pub fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A handler serving the files under `root`.
pub fn static_files(root: &Path) -> Handler {
    let root = root.to_path_buf();
    Arc::new(move |req: &HttpRequest| {
        if req.method != "GET" && req.method != "HEAD" {
            return HttpResponse::new(405, "text/plain", "method not allowed\n");
        }
        match resolve_under(&root, req.path()) {
            Some(p) if p.is_file() => {
                let ct = if p.extension().is_some_and(|e| e == "yaml") {
                    "text/yaml"
                } else {
                    "application/octet-stream"
                };
                HttpResponse::new(200, ct, fs::read(&p).unwrap())
            }
            _ => HttpResponse::not_found(),
        }
    })
}

/// The validator [`with_validators`] gives an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    /// `ETag: "<hash of the body>"`, matched against `If-None-Match`.
    ETag,
    /// `Last-Modified: <a date derived from the body>`, matched (exactly, as
    /// the fake has no clock) against `If-Modified-Since`.
    LastModified,
}

/// Wraps `handler` so that each 200 answer to a GET carries `validator`, and a
/// request whose condition names the current one is answered `304 Not
/// Modified` without a body (RFC 9110 13.1.1-13.1.3). The body is computed
/// each time, so a changed upstream gets a new validator.
pub fn with_validators(handler: Handler, validator: Validator) -> Handler {
    Arc::new(move |req: &HttpRequest| {
        let resp = handler(req);
        if req.method != "GET" || resp.status != 200 {
            return resp;
        }
        let hash = sha256_hex(&resp.body);
        let (name, value, condition) = match validator {
            Validator::ETag => ("ETag", format!("\"{}\"", &hash[..16]), "if-none-match"),
            Validator::LastModified => {
                let n = u32::from_str_radix(&hash[..6], 16).unwrap();
                let date = format!(
                    "Sat, 01 Jan 2022 {:02}:{:02}:{:02} GMT",
                    n % 24,
                    (n / 24) % 60,
                    (n / 1440) % 60
                );
                ("Last-Modified", date, "if-modified-since")
            }
        };
        let matches = req.header(condition).is_some_and(|h| match validator {
            Validator::ETag => h
                .split(',')
                .any(|v| v.trim().trim_start_matches("W/") == value || v.trim() == "*"),
            Validator::LastModified => h.trim() == value,
        });
        if matches {
            let mut r = HttpResponse::new(304, "text/plain", "");
            r.headers.clear();
            return r.with_header(name, &value);
        }
        resp.with_header(name, &value)
    })
}

/// `root` joined with the URL path, or None when it has `..`/empty components.
fn resolve_under(root: &Path, url_path: &str) -> Option<PathBuf> {
    let mut p = root.to_path_buf();
    for seg in url_path.split('/').filter(|s| !s.is_empty()) {
        let seg = percent_decode(seg);
        if seg == ".." || seg == "." || seg.contains('/') {
            return None;
        }
        p.push(seg);
    }
    Some(p)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// git smart HTTP (git http-backend as CGI)
// ---------------------------------------------------------------------------------------

/// A handler running `git http-backend` for the bare repositories under
/// `project_root` (GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL): clone/fetch at
/// `http://HOST/<name>.git`.
pub fn git_http_backend(project_root: &Path) -> Handler {
    let root = project_root.to_path_buf();
    Arc::new(move |req: &HttpRequest| match run_cgi(&root, req) {
        Ok(r) => r,
        Err(e) => HttpResponse::new(500, "text/plain", format!("git http-backend: {e}\n")),
    })
}

fn run_cgi(root: &Path, req: &HttpRequest) -> io::Result<HttpResponse> {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", root)
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", percent_decode(req.path()))
        .env("QUERY_STRING", req.query())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ct) = req.header("content-type") {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(user) = &req.user {
        cmd.env("REMOTE_USER", user);
    }
    for (name, var) in [
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "GIT_PROTOCOL"),
    ] {
        if let Some(v) = req.header(name) {
            cmd.env(var, v);
        }
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let body = req.body.clone();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let err = collect(child.stderr.take().unwrap());
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out)?;
    let _ = writer.join();
    child.wait()?;
    let err = err.join().unwrap();
    // CGI output: headers, a blank line (CRLF or LF), the body.
    let (head_end, sep) = match out.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (i, 4),
        None => match out.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (i, 2),
            None => {
                return Err(io::Error::other(format!(
                    "no CGI header in output; stderr: {err}"
                )))
            }
        },
    };
    let head = String::from_utf8_lossy(&out[..head_end]).into_owned();
    let body = out[head_end + sep..].to_vec();
    let mut resp = HttpResponse {
        status: 200,
        headers: Vec::new(),
        body,
    };
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("status") {
            resp.status = v
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(500);
        } else {
            resp.headers.push((k.to_string(), v.to_string()));
        }
    }
    Ok(resp)
}

/// `git http-backend` behind an [`HttpServer`]: bare repos under `project_root`.
pub struct GitHttp;

impl GitHttp {
    pub fn start(project_root: &Path) -> HttpServer {
        require_on_path("git");
        HttpServer::start(git_http_backend(project_root))
    }

    pub fn start_with_basic_auth(project_root: &Path, user: &str, password: &str) -> HttpServer {
        require_on_path("git");
        HttpServer::start_with_basic_auth(git_http_backend(project_root), user, password)
    }
}

// ---------------------------------------------------------------------------------------
// Child-process servers: git daemon, hg serve, stunnel
// ---------------------------------------------------------------------------------------

/// A server process listening on a loopback port; killed (and reaped) when dropped,
/// and by a watchdog when the test process exits first.
pub struct ChildServer {
    what: String,
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl ChildServer {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts `make_cmd(port, scratch_dir)` on a free port until it accepts TCP
    /// connections (a few attempts: the probed port can be taken before the server
    /// binds it).
    fn spawn(what: &str, mut make_cmd: impl FnMut(u16, &Path) -> Command) -> ChildServer {
        let dir = tempfile::Builder::new()
            .prefix("vendoras-srv-")
            .tempdir()
            .unwrap();
        let mut last = String::new();
        for _ in 0..4 {
            let port = free_port();
            let log = dir.path().join(format!("{port}.log"));
            let logf = fs::File::create(&log).unwrap();
            let mut cmd = make_cmd(port, dir.path());
            cmd.stdin(Stdio::null())
                .stdout(logf.try_clone().unwrap())
                .stderr(logf);
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
            watchdog(child.id(), dir.path());
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                // Still running a moment after the port answers: the listener is the
                // child's, not another process's that took the probed port.
                if TcpStream::connect(("127.0.0.1", port)).is_ok() && {
                    thread::sleep(Duration::from_millis(50));
                    matches!(child.try_wait(), Ok(None))
                } {
                    return ChildServer {
                        what: what.into(),
                        child,
                        port,
                        log,
                        _dir: dir,
                    };
                }
                thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
            last = fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("{what} did not start; last log:\n{last}");
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let log = self.log_text();
            if !log.trim().is_empty() {
                eprintln!("--- {} log ---\n{log}", self.what);
            }
        }
    }
}

/// `git daemon --export-all --base-path=ROOT`: repositories at `git://HOST/<name>.git`.
pub struct GitDaemon {
    server: ChildServer,
}

impl GitDaemon {
    pub fn start(base_path: &Path) -> GitDaemon {
        require_on_path("git");
        let base = base_path.to_path_buf();
        // `git-daemon` itself, not `git daemon`: git runs it as a child, so
        // killing `git` on drop left the daemon serving (and running on).
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git --exec-path");
        let daemon =
            Path::new(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
        let server = ChildServer::spawn("git daemon", |port, _| {
            let mut c = Command::new(&daemon);
            c.arg("--export-all")
                .arg("--reuseaddr")
                .arg("--informative-errors")
                .arg(format!("--base-path={}", base.display()))
                .arg("--listen=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(&base)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null");
            c
        });
        GitDaemon { server }
    }

    /// "git://127.0.0.1:PORT" (no trailing slash).
    pub fn url(&self) -> String {
        format!("git://127.0.0.1:{}", self.server.port())
    }

    pub fn log_text(&self) -> String {
        self.server.log_text()
    }
}

/// `hg serve` for one repository: `http://HOST/`.
pub struct HgServe {
    server: ChildServer,
}

impl HgServe {
    pub fn start(repo: &Path) -> HgServe {
        require_on_path("hg");
        let repo = repo.to_path_buf();
        let server = ChildServer::spawn("hg serve", |port, dir| {
            let rc = dir.join("hgrc");
            let _ = fs::write(&rc, "");
            let mut c = Command::new("hg");
            c.arg("serve")
                .arg("-R")
                .arg(&repo)
                .args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .arg("--accesslog")
                .arg(dir.join("access.log"))
                .env("HGRCPATH", &rc)
                .env("HGPLAIN", "1")
                // hgweb answers each request in a thread, and hg's lazy imports
                // race there ("module 'mercurial.context' has no attribute
                // 'filectx'" under concurrent first requests): import eagerly.
                .env("HGDEMANDIMPORT", "disable")
                .env("HOME", dir);
            c
        });
        HgServe { server }
    }

    /// "http://127.0.0.1:PORT/" (hg URLs conventionally end with a slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.server.port())
    }

    /// hg's access log (one line per request), to assert what was fetched.
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.server._dir.path().join("access.log")).unwrap_or_default()
    }
}

/// A test CA and a server certificate for the given SANs (`IP:127.0.0.1`,
/// `DNS:api.github.com`, ...), made with `openssl`.
pub struct TestCa {
    pub dir: TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn new(sans: &[&str]) -> TestCa {
        let dir = tempfile::Builder::new()
            .prefix("vendoras-ca-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        write_test_pki(d, "vendoras-test", sans);
        TestCa {
            ca: d.join("ca.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            dir,
        }
    }
}

/// Writes a test CA (`ca.pem`, `ca.key`) and a server certificate it signed
/// (`server.pem`, `server.key`; subject `CN=cn`, the given SANs) into `dir`,
/// with `openssl`. Shared by [`TestCa`] and the registry's TLS set-up.
pub fn write_test_pki(dir: &Path, cn: &str, sans: &[&str]) {
    let openssl = |args: &[&str]| {
        let out = Command::new(require_on_path("openssl"))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "openssl {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=vendoras test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(&a);
    let subject = format!("/CN={cn}");
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        &subject,
    ]);
    openssl(&a);
    fs::write(
        dir.join("server.ext"),
        format!(
            "subjectAltName={}\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            sans.join(",")
        ),
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// TLS termination in front of a plain loopback server (`stunnel`): `https://HOST/`
/// forwards to `upstream`. Clients trust [`TestCa::ca`] (vendir: `SSL_CERT_FILE`;
/// git: `GIT_SSL_CAINFO`; hg: `web.cacerts`).
pub struct TlsFront {
    server: ChildServer,
}

impl TlsFront {
    pub fn start(upstream: SocketAddr, ca: &TestCa) -> TlsFront {
        let stunnel = require_on_path("stunnel");
        let (cert, key) = (ca.cert.clone(), ca.key.clone());
        let server = ChildServer::spawn("stunnel", |port, dir| {
            let conf = dir.join(format!("stunnel-{port}.conf"));
            fs::write(
                &conf,
                format!(
                    "foreground = yes\npid =\ndebug = 4\nsyslog = no\n\
                     [front]\naccept = 127.0.0.1:{port}\nconnect = {upstream}\n\
                     cert = {}\nkey = {}\n",
                    cert.display(),
                    key.display()
                ),
            )
            .unwrap();
            let mut c = Command::new(&stunnel);
            c.arg(conf);
            c
        });
        TlsFront { server }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// "https://127.0.0.1:PORT"
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.server.port())
    }

    pub fn log_text(&self) -> String {
        self.server.log_text()
    }
}

// ---------------------------------------------------------------------------------------
// CONNECT proxy (to reach a fake `api.github.com`)
// ---------------------------------------------------------------------------------------

/// An HTTP proxy that answers only `CONNECT host:port` and tunnels every such
/// connection to one loopback `upstream` (a [`TlsFront`] with a certificate for the
/// host), whatever host was asked for. vendir v0.44.0 calls `https://api.github.com`
/// with no way to change the base URL; with `HTTPS_PROXY` pointing here and
/// `SSL_CERT_FILE` at the test CA, those calls reach a fake.
pub struct ConnectProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    asked: Arc<Mutex<Vec<String>>>,
    accept: Option<thread::JoinHandle<()>>,
}

impl ConnectProxy {
    pub fn start(upstream: SocketAddr) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (stop2, asked2) = (stop.clone(), asked.clone());
        let accept = thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let asked = asked2.clone();
                thread::spawn(move || {
                    let _ = tunnel(conn, upstream, &asked);
                });
            }
        });
        ConnectProxy {
            addr,
            stop,
            asked,
            accept: Some(accept),
        }
    }

    /// "http://127.0.0.1:PORT", for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` of every CONNECT received.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn tunnel(
    mut client: TcpStream,
    upstream: SocketAddr,
    asked: &Mutex<Vec<String>>,
) -> io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    let (head, rest) = read_head(&mut client)?;
    let (first, _) = parse_http_head(&head);
    let mut parts = first.split_whitespace();
    if parts.next() != Some("CONNECT") {
        client.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    }
    asked
        .lock()
        .unwrap()
        .push(parts.next().unwrap_or_default().to_string());
    let mut server = TcpStream::connect(upstream)?;
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    server.write_all(&rest)?;
    client.set_read_timeout(None)?;
    let (mut c2, mut s2) = (client.try_clone()?, server.try_clone()?);
    let up = thread::spawn(move || {
        let _ = io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(Shutdown::Write);
    });
    let _ = io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}

// ---------------------------------------------------------------------------------------
// A fake of the GitHub release API
// ---------------------------------------------------------------------------------------

/// One release of a [`FakeGithub`] repository.
#[derive(Clone, Debug)]
pub struct FakeRelease {
    pub tag: String,
    /// Release notes (vendir looks for sha256 checksums here).
    pub body: String,
    pub prerelease: bool,
    pub draft: bool,
    pub assets: Vec<(String, Vec<u8>)>,
}

impl FakeRelease {
    pub fn new(tag: &str) -> FakeRelease {
        FakeRelease {
            tag: tag.into(),
            body: String::new(),
            prerelease: false,
            draft: false,
            assets: Vec::new(),
        }
    }

    pub fn asset(mut self, name: &str, data: impl Into<Vec<u8>>) -> FakeRelease {
        self.assets.push((name.into(), data.into()));
        self
    }

    pub fn body(mut self, body: &str) -> FakeRelease {
        self.body = body.into();
        self
    }

    /// Release notes listing `<sha256>  <name>` for every asset added so far, the
    /// format of goreleaser's checksums.txt that vendir finds in the notes.
    pub fn with_checksums_in_notes(mut self) -> FakeRelease {
        let mut body = String::from("## Checksums\n\n```\n");
        for (name, data) in &self.assets {
            body.push_str(&format!("{}  {name}\n", sha256_hex(data)));
        }
        body.push_str("```\n");
        self.body = body;
        self
    }

    pub fn prerelease(mut self) -> FakeRelease {
        self.prerelease = true;
        self
    }
}

struct GithubState {
    /// slug -> releases, oldest first.
    repos: Mutex<HashMap<String, Vec<FakeRelease>>>,
    token: Option<String>,
    /// The fake's own loopback address: downloads are always sent here, also when the
    /// API was reached as `api.github.com` through the CONNECT proxy.
    addr: OnceLock<SocketAddr>,
    /// (slug, `sha256:<hex>`) -> the attestations API's entries for that file.
    attestations: Mutex<HashMap<(String, String), Vec<Value>>>,
    /// Snappy-compressed bundles behind `bundle_url`s, by index, and whether each
    /// request for one carried an `Authorization` header.
    blobs: Mutex<Vec<Vec<u8>>>,
    blob_requests: Mutex<Vec<bool>>,
}

/// A fake of the GitHub REST endpoints vendir v0.44.0 and vendoras call:
/// `GET /repos/{slug}/releases/tags/{tag}`, `/releases/latest`, `/releases/{id}`,
/// `/releases` (list), `/tags?per_page=&page=` (with a `Link: rel="next"` header),
/// `/releases/assets/{id}` (with `Accept: application/octet-stream`: a 302 to the
/// download URL, as GitHub does; else the asset's JSON) and
/// `/{slug}/releases/download/{tag}/{name}` (the browser download URL).
///
/// With a token set, every request must carry `Authorization: token T` or
/// `Bearer T`; others get 401 with GitHub's JSON message.
///
/// URLs in responses use the `Host` the request came with (https for
/// `api.github.com`, reached through [`FakeGithub::start_tls`]).
pub struct FakeGithub {
    pub http: HttpServer,
    state: Arc<GithubState>,
}

/// Page size GitHub uses when a request names none.
const GITHUB_DEFAULT_PER_PAGE: usize = 30;

impl FakeGithub {
    pub fn start(token: Option<&str>) -> FakeGithub {
        Self::start_inner(token, None)
    }

    /// A fake that sends `ETag`s and answers `304 Not Modified` to requests
    /// that name the current one ([`with_validators`]).
    pub fn start_with_etags(token: Option<&str>) -> FakeGithub {
        Self::start_inner(token, Some(Validator::ETag))
    }

    fn start_inner(token: Option<&str>, validator: Option<Validator>) -> FakeGithub {
        let state = Arc::new(GithubState {
            repos: Mutex::new(HashMap::new()),
            token: token.map(str::to_string),
            addr: OnceLock::new(),
            attestations: Mutex::new(HashMap::new()),
            blobs: Mutex::new(Vec::new()),
            blob_requests: Mutex::new(Vec::new()),
        });
        let st = state.clone();
        let handler: Handler = Arc::new(move |req: &HttpRequest| github_handle(&st, req));
        let http = HttpServer::start(match validator {
            Some(v) => with_validators(handler, v),
            None => handler,
        });
        state.addr.set(http.addr()).unwrap();
        FakeGithub { http, state }
    }

    /// Adds a release to `slug` ("owner/repo"); the newest non-prerelease added is
    /// `latest`.
    pub fn add_release(&self, slug: &str, release: FakeRelease) {
        self.state
            .repos
            .lock()
            .unwrap()
            .entry(slug.into())
            .or_default()
            .push(release);
    }

    /// Stores an artifact attestation (a Sigstore bundle, as JSON) of the file with
    /// `digest` (`sha256:<hex>`) in `slug`: listed by `GET
    /// /repos/{slug}/attestations/{digest}` as `{"attestations": [{"bundle": …,
    /// "repository_id": …}]}`, 404 when there is none (GitHub's documented shape).
    pub fn add_attestation(&self, slug: &str, digest: &str, bundle: Value) {
        self.add_attestation_entry(slug, digest, json!({"bundle": bundle, "repository_id": 1}));
    }

    /// As [`add_attestation`](Self::add_attestation), but listed as GitHub lists
    /// newer ones: `"bundle": null` and a `bundle_url` to blob storage, which answers
    /// the bundle snappy-compressed (raw block format) without asking for a token.
    /// The URL names `localhost`, another origin than the API's `127.0.0.1`, as blob
    /// storage is on GitHub.
    pub fn add_attestation_behind_url(&self, slug: &str, digest: &str, bundle: Value) {
        let packed = snap::raw::Encoder::new()
            .compress_vec(bundle.to_string().as_bytes())
            .unwrap();
        self.add_attestation_blob(slug, digest, packed);
    }

    /// Lists `blob` as served behind an attestation's `bundle_url`, as it is.
    pub fn add_attestation_blob(&self, slug: &str, digest: &str, packed: Vec<u8>) {
        let n = {
            let mut blobs = self.state.blobs.lock().unwrap();
            blobs.push(packed);
            blobs.len() - 1
        };
        let url = format!(
            "http://localhost:{}/attestation-blobs/{n}",
            self.http.addr().port()
        );
        self.add_attestation_entry(
            slug,
            digest,
            json!({"bundle": null, "bundle_url": url, "repository_id": 1}),
        );
    }

    fn add_attestation_entry(&self, slug: &str, digest: &str, entry: Value) {
        self.state
            .attestations
            .lock()
            .unwrap()
            .entry((slug.into(), digest.into()))
            .or_default()
            .push(entry);
    }

    /// For each request for a `bundle_url` so far: whether it carried credentials.
    pub fn blob_requests(&self) -> Vec<bool> {
        self.state.blob_requests.lock().unwrap().clone()
    }

    /// The API base, "http://127.0.0.1:PORT" (for `GITHUB_API_URL`).
    pub fn api_url(&self) -> String {
        self.http.url()
    }

    /// The API URL of one release by tag, for a `githubRelease.url:` key.
    pub fn release_url(&self, slug: &str, tag: &str) -> String {
        format!("{}/repos/{slug}/releases/tags/{tag}", self.api_url())
    }

    /// The `url` field GitHub gives a release (its id URL), as seen through `base`.
    pub fn release_id_url(&self, base: &str, slug: &str, tag: &str) -> String {
        let repos = self.state.repos.lock().unwrap();
        let i = repos[slug].iter().position(|r| r.tag == tag).unwrap();
        format!("{base}/repos/{slug}/releases/{}", release_id(i))
    }
}

fn release_id(index: usize) -> u64 {
    1000 + index as u64
}

fn asset_id(release: usize, asset: usize) -> u64 {
    (release_id(release)) * 100 + asset as u64
}

fn github_handle(st: &GithubState, req: &HttpRequest) -> HttpResponse {
    // Downloads are the signed redirect targets, which need no token on GitHub (and
    // Go drops the Authorization header when a redirect changes host).
    if let Some(n) = req.path().strip_prefix("/attestation-blobs/") {
        st.blob_requests
            .lock()
            .unwrap()
            .push(req.header("authorization").is_some());
        let blobs = st.blobs.lock().unwrap();
        return match n.parse::<usize>().ok().and_then(|n| blobs.get(n)) {
            Some(b) => HttpResponse::new(200, "application/octet-stream", b.clone()),
            None => HttpResponse::not_found(),
        };
    }
    let is_download = req.path().contains("/releases/download/");
    if let Some(token) = st.token.as_ref().filter(|_| !is_download) {
        let ok = req
            .header("authorization")
            .is_some_and(|h| h == format!("token {token}") || h == format!("Bearer {token}"));
        if !ok {
            return HttpResponse::new(
                401,
                "application/json",
                r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}"#,
            );
        }
    }
    let host = req.header("host").unwrap_or("127.0.0.1");
    let base = if host.starts_with("api.github.com") {
        "https://api.github.com".to_string()
    } else {
        format!("http://{host}")
    };
    let repos = st.repos.lock().unwrap();
    let path = req.path().to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Browser download: /{owner}/{repo}/releases/download/{tag}/{name}
    if segs.len() == 6 && segs[2] == "releases" && segs[3] == "download" {
        let slug = format!("{}/{}", segs[0], segs[1]);
        return repos
            .get(&slug)
            .and_then(|rs| rs.iter().find(|r| r.tag == segs[4]))
            .and_then(|r| r.assets.iter().find(|(n, _)| n == segs[5]))
            .map(|(_, data)| HttpResponse::new(200, "application/octet-stream", data.clone()))
            .unwrap_or_else(HttpResponse::not_found);
    }
    if segs.len() < 3 || segs[0] != "repos" {
        return github_not_found();
    }
    let slug = format!("{}/{}", segs[1], segs[2]);
    let Some(releases) = repos.get(&slug) else {
        return github_not_found();
    };
    let dl = format!("http://{}", st.addr.get().unwrap());
    let release_json = |i: usize| release_to_json(&base, &dl, &slug, i, &releases[i]);
    match &segs[3..] {
        ["releases", "tags", tag] => releases
            .iter()
            .position(|r| r.tag == *tag && !r.draft)
            .map(|i| HttpResponse::json(&release_json(i)))
            .unwrap_or_else(github_not_found),
        ["releases", "latest"] => releases
            .iter()
            .rposition(|r| !r.prerelease && !r.draft)
            .map(|i| HttpResponse::json(&release_json(i)))
            .unwrap_or_else(github_not_found),
        ["releases"] => {
            let all: Vec<Value> = (0..releases.len()).rev().map(release_json).collect();
            paginate(req, &base, &all)
        }
        ["tags"] => {
            let all: Vec<Value> = releases
                .iter()
                .rev()
                .map(|r| json!({"name": r.tag, "commit": {"sha": sha256_hex(r.tag.as_bytes())[..40].to_string()}}))
                .collect();
            paginate(req, &base, &all)
        }
        ["attestations", digest] => {
            let all = st.attestations.lock().unwrap();
            match all.get(&(slug.clone(), digest.to_string())) {
                Some(entries) => HttpResponse::json(&json!({ "attestations": entries })),
                None => github_not_found(),
            }
        }
        ["releases", "assets", id] => {
            for (ri, r) in releases.iter().enumerate() {
                for (ai, (name, data)) in r.assets.iter().enumerate() {
                    if id.parse() == Ok(asset_id(ri, ai)) {
                        if req
                            .header("accept")
                            .is_some_and(|a| a.contains("application/octet-stream"))
                        {
                            return HttpResponse::redirect(&format!(
                                "{dl}/{slug}/releases/download/{}/{name}",
                                r.tag
                            ));
                        }
                        return HttpResponse::json(&asset_to_json(
                            &base, &dl, &slug, ri, ai, r, name, data,
                        ));
                    }
                }
            }
            github_not_found()
        }
        ["releases", id] => (0..releases.len())
            .find(|&i| id.parse() == Ok(release_id(i)))
            .map(|i| HttpResponse::json(&release_json(i)))
            .unwrap_or_else(github_not_found),
        _ => github_not_found(),
    }
}

fn github_not_found() -> HttpResponse {
    HttpResponse::new(
        404,
        "application/json",
        r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}"#,
    )
}

/// `per_page`/`page` slicing with GitHub's `Link` header.
fn paginate(req: &HttpRequest, base: &str, all: &[Value]) -> HttpResponse {
    let per_page = req
        .param("per_page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(GITHUB_DEFAULT_PER_PAGE)
        .max(1);
    let page: usize = req
        .param("page")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let start = ((page - 1) * per_page).min(all.len());
    let end = (start + per_page).min(all.len());
    let mut resp = HttpResponse::json(&Value::Array(all[start..end].to_vec()));
    let last = all.len().div_ceil(per_page).max(1);
    if page < last {
        let link = |p: usize| format!("<{base}{}?per_page={per_page}&page={p}>", req.path());
        resp = resp.with_header(
            "Link",
            &format!(
                "{}; rel=\"next\", {}; rel=\"last\"",
                link(page + 1),
                link(last)
            ),
        );
    }
    resp
}

fn release_to_json(base: &str, dl: &str, slug: &str, i: usize, r: &FakeRelease) -> Value {
    let assets: Vec<Value> = r
        .assets
        .iter()
        .enumerate()
        .map(|(ai, (name, data))| asset_to_json(base, dl, slug, i, ai, r, name, data))
        .collect();
    json!({
        "url": format!("{base}/repos/{slug}/releases/{}", release_id(i)),
        "id": release_id(i),
        "tag_name": r.tag,
        "name": r.tag,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "body": r.body,
        "assets": assets,
    })
}

#[allow(clippy::too_many_arguments)]
fn asset_to_json(
    base: &str,
    dl: &str,
    slug: &str,
    ri: usize,
    ai: usize,
    r: &FakeRelease,
    name: &str,
    data: &[u8],
) -> Value {
    json!({
        "url": format!("{base}/repos/{slug}/releases/assets/{}", asset_id(ri, ai)),
        "id": asset_id(ri, ai),
        "name": name,
        "size": data.len(),
        "content_type": "application/octet-stream",
        "state": "uploaded",
        "browser_download_url": format!("{dl}/{slug}/releases/download/{}/{name}", r.tag),
    })
}
