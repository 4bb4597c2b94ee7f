//! Plain HTTP GETs (http sources, GitHub releases, chart repositories),
//! typed: the safe layer over [`crate::ffi::HttpResponse`].
//!
//! Every request goes through the shim's one transport, so it gets the same
//! TLS, CA, retry (429/5xx, `Retry-After`) and stall rules as registry
//! traffic (docs/ffi.md, "Plain HTTP"). Proxies are read here from the
//! environment and sent with each request, because the Go runtime only sees
//! the environment as it was at start. Credentials are added by the shim per
//! hop, only for the origin asked for, so a redirect never carries them to
//! another host. A body arrives as a [`Body`]: the shim writes into a pipe
//! from its own thread, hashing (SHA-256) and bounding it, while the caller
//! reads.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Error, HttpError, Result};
use crate::ffi::{self, Op, ShimError};
use crate::redact::redact_url;
use crate::registry::DEFAULT_STALL_TIMEOUT;

/// The default bound on a response body (the caller may lower or raise it).
pub const DEFAULT_MAX_BODY: u64 = 8 << 30;

/// Credentials for one request; `Debug` never shows the secret.
#[derive(Clone)]
pub enum HttpAuth {
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password; never printed.
        password: String,
    },
    /// A whole `Authorization` header value (`token T`, `Bearer T`).
    Header(String),
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            HttpAuth::Header(_) => f.write_str("Header(<redacted>)"),
        }
    }
}

/// How to make one GET.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Credentials, sent only to the URL's own origin (scheme, host, port).
    pub auth: Option<HttpAuth>,
    /// Extra request headers (`Accept`, ...); not `Authorization`.
    pub headers: Vec<(String, String)>,
    /// Skip TLS verification.
    pub insecure: bool,
    /// CA certificates that replace the system roots.
    pub ca_files: Vec<PathBuf>,
    /// The no-progress timeout; `None` = [`DEFAULT_STALL_TIMEOUT`].
    pub stall_timeout: Option<Duration>,
    /// The largest body accepted, in bytes.
    pub max_size: u64,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            auth: None,
            headers: Vec::new(),
            insecure: false,
            ca_files: Vec::new(),
            stall_timeout: None,
            max_size: DEFAULT_MAX_BODY,
        }
    }
}

/// Proxy settings, read from the environment as Go's
/// `httpproxy.FromEnvironment` reads it (upper case first).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ProxySettings {
    /// `HTTP_PROXY` / `http_proxy`.
    pub http_proxy: String,
    /// `HTTPS_PROXY` / `https_proxy`.
    pub https_proxy: String,
    /// `NO_PROXY` / `no_proxy`.
    pub no_proxy: String,
}

impl ProxySettings {
    /// The proxy settings of this process's environment, now.
    pub fn from_env() -> ProxySettings {
        let get = |name: &str| {
            std::env::var(name.to_ascii_uppercase())
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| std::env::var(name).ok())
                .unwrap_or_default()
        };
        ProxySettings {
            http_proxy: get("http_proxy"),
            https_proxy: get("https_proxy"),
            no_proxy: get("no_proxy"),
        }
    }
}

/// Makes GETs through the shim. Cheap to clone; holds the proxy settings.
#[derive(Debug, Clone, Default)]
pub struct HttpClient {
    proxy: ProxySettings,
}

#[derive(Serialize)]
struct Request<'a> {
    url: &'a str,
    headers: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basic: Option<BasicJson<'a>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    authorization: &'a str,
    insecure: bool,
    ca_files: &'a [PathBuf],
    proxy: &'a ProxySettings,
    user_agent: String,
    stall_timeout_ms: u64,
}

#[derive(Serialize)]
struct BasicJson<'a> {
    username: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
struct HeadJson {
    status: u16,
    status_text: String,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct BodyJson {
    size: u64,
    sha256: String,
}

impl HttpClient {
    /// A client with the environment's proxy settings.
    pub fn from_env() -> HttpClient {
        HttpClient {
            proxy: ProxySettings::from_env(),
        }
    }

    /// Sends a GET and reads the response head. Any HTTP status is a
    /// [`Response`]; transport failures (refused, TLS, retries exhausted,
    /// stalled) are errors naming the URL (without credentials or query).
    pub fn get(&self, op: &Arc<Op>, url: &str, options: &HttpOptions) -> Result<Response> {
        let (basic, authorization) = match &options.auth {
            Some(HttpAuth::Basic { username, password }) => {
                (Some(BasicJson { username, password }), "")
            }
            Some(HttpAuth::Header(h)) => (None, h.as_str()),
            None => (None, ""),
        };
        let req = Request {
            url,
            headers: options
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            basic,
            authorization,
            insecure: options.insecure,
            ca_files: &options.ca_files,
            proxy: &self.proxy,
            user_agent: format!("vendoras/{}", env!("CARGO_PKG_VERSION")),
            stall_timeout_ms: options
                .stall_timeout
                .unwrap_or(DEFAULT_STALL_TIMEOUT)
                .as_millis()
                .clamp(1, u128::from(u64::MAX)) as u64,
        };
        let json = serde_json::to_string(&req).expect("request serialises");
        let (handle, head) = ffi::HttpResponse::open(op, &json).map_err(|e| shim_error(url, e))?;
        let head: HeadJson = serde_json::from_str(&head)
            .map_err(|e| Error::Internal(format!("http: unexpected answer from the shim: {e}")))?;
        Ok(Response {
            url: redact_url(url),
            status: head.status,
            status_text: head.status_text,
            headers: head
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            handle: Some(handle),
            max_size: options.max_size,
        })
    }
}

/// A response whose head has arrived. Take the body with
/// [`Response::into_body`]; dropping it discards the body unread.
#[derive(Debug)]
pub struct Response {
    url: String,
    /// The status code.
    pub status: u16,
    /// The status line as Go words it: `404 Not Found`.
    pub status_text: String,
    /// Headers, names in lower case.
    pub headers: BTreeMap<String, Vec<String>>,
    handle: Option<ffi::HttpResponse>,
    max_size: u64,
}

impl Response {
    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The URL asked for, without credentials or query, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An error for this response's status, with `detail` as the message.
    pub fn status_error(&self, detail: impl Into<String>) -> Error {
        Error::Http(Box::new(HttpError {
            url: self.url.clone(),
            status: Some(self.status),
            code: None,
            detail: detail.into(),
        }))
    }

    /// Reads at most `limit` bytes of the body as text (for error messages:
    /// the body of a 4xx/5xx answer). Failures give what was read.
    pub fn text_prefix(self, limit: u64) -> String {
        let mut body = match self.into_body() {
            Ok(b) => b,
            Err(_) => return String::new(),
        };
        let mut buf = Vec::new();
        let _ = (&mut body).take(limit).read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// The whole body (at most the request's `max_size`), read and
    /// finished: a body cut short is an error, the shim's (which says why)
    /// before the pipe's.
    pub fn bytes(self) -> Result<Vec<u8>> {
        let mut body = self.into_body()?;
        let mut bytes = Vec::new();
        let read = body.read_to_end(&mut bytes);
        body.finish()?;
        read.map_err(|e| Error::io("http body pipe", e))?;
        Ok(bytes)
    }

    /// Starts streaming the body. Read it, then call [`Body::finish`] for
    /// its size and SHA-256 before trusting anything derived from it.
    pub fn into_body(mut self) -> Result<Body> {
        let handle = self.handle.take().expect("body taken once");
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| Error::io("pipe", e.into()))?;
        let _ = rustix::pipe::fcntl_setpipe_size(&write, 1 << 20);
        let max = self.max_size.min(i64::MAX as u64) as i64;
        let worker = std::thread::Builder::new()
            .name("vendoras-http".into())
            .spawn(move || handle.body_to_fd(write, max))
            .map_err(|e| Error::io("spawn", e))?;
        Ok(Body {
            reader: Some(File::from(read)),
            received: 0,
            max_size: self.max_size,
            worker: Some(worker),
            url: std::mem::take(&mut self.url),
        })
    }
}

/// What a whole body was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyInfo {
    /// Its length in bytes.
    pub size: u64,
    /// Its SHA-256, computed by the shim as the bytes flowed.
    pub sha256: Digest,
}

/// A response body arriving from the shim: read it like a file.
pub struct Body {
    reader: Option<File>,
    received: u64,
    max_size: u64,
    worker: Option<JoinHandle<std::result::Result<String, ShimError>>>,
    url: String,
}

impl Body {
    /// Reads whatever the consumer left, waits for the shim's verdict and
    /// returns the body's size and digest. Only after this returns `Ok` is
    /// the body known to be whole.
    pub fn finish(mut self) -> Result<BodyInfo> {
        let drained = io::copy(&mut self, &mut io::sink());
        drop(self.reader.take());
        let joined = self.worker.take().expect("worker joined once").join();
        let out = match joined {
            Ok(Ok(out)) => out,
            Ok(Err(e)) => return Err(shim_error(&self.url, e)),
            Err(_) => {
                return Err(Error::Internal(format!(
                    "GET {}: shim thread panicked",
                    self.url
                )))
            }
        };
        drained.map_err(|e| Error::io("http body pipe", e))?;
        let body: BodyJson = serde_json::from_str(&out)
            .map_err(|e| Error::Internal(format!("http: unexpected answer from the shim: {e}")))?;
        let sha256 = format!("sha256:{}", body.sha256)
            .parse::<Digest>()
            .map_err(|e| Error::Internal(format!("http: bad digest from the shim: {e:?}")))?;
        if body.size != self.received {
            return Err(Error::Internal(format!(
                "GET {}: the shim sent {} bytes but counted {}",
                self.url, self.received, body.size
            )));
        }
        Ok(BodyInfo {
            size: body.size,
            sha256,
        })
    }
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let reader = self.reader.as_mut().expect("read after finish");
        let n = reader.read(buf)?;
        self.received += n as u64;
        if self.received > self.max_size {
            // The shim stops too; this stops a consumer before it writes more.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is larger than {} bytes", self.url, self.max_size),
            ));
        }
        Ok(n)
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        // Closing the read end makes the shim's next write fail (EPIPE).
        drop(self.reader.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn shim_error(url: &str, e: ShimError) -> Error {
    if e.kind == ffi::ErrorKind::Cancelled {
        return Error::Cancelled;
    }
    Error::Http(Box::new(HttpError {
        url: redact_url(url),
        status: e.status,
        code: Some(e.kind),
        detail: e.message,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-shot HTTP server on loopback answering every request with
    /// `answer`; returns its base URL and the requests it saw.
    fn serve(answers: Vec<Vec<u8>>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let t = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for answer in answers {
                let (mut s, _) = l.accept().unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                }
                seen.push(String::from_utf8_lossy(&req).into_owned());
                s.write_all(&answer).unwrap();
            }
            seen
        });
        (url, t)
    }

    fn ok(body: &[u8]) -> Vec<u8> {
        let mut a = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Test: yes\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        a.extend_from_slice(body);
        a
    }

    #[test]
    fn get_reads_head_and_body_and_hashes_it() {
        let body = vec![7u8; 3 << 20];
        let (url, server) = serve(vec![ok(&body)]);
        let op = Arc::new(Op::new());
        let opts = HttpOptions {
            auth: Some(HttpAuth::Basic {
                username: "u".into(),
                password: "pw".into(),
            }),
            headers: vec![("Accept".into(), "application/octet-stream".into())],
            ..HttpOptions::default()
        };
        let resp = HttpClient::default()
            .get(&op, &format!("{url}/f.tgz"), &opts)
            .unwrap();
        assert_eq!((resp.status, resp.status_text.as_str()), (200, "200 OK"));
        assert!(resp.is_success());
        assert_eq!(resp.header("x-TEST"), Some("yes"));
        let mut b = resp.into_body().unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        let info = b.finish().unwrap();
        assert_eq!(got, body);
        assert_eq!(info.size, body.len() as u64);
        assert_eq!(
            info.sha256,
            Digest::of(crate::digest::Algorithm::Sha256, &body)
        );
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("GET /f.tgz HTTP/1.1"), "{}", seen[0]);
        assert!(
            seen[0].contains("Authorization: Basic dTpwdw=="),
            "{}",
            seen[0]
        );
        assert!(
            seen[0].contains("Accept: application/octet-stream"),
            "{}",
            seen[0]
        );
    }

    #[test]
    fn an_error_status_is_an_answer_with_its_body() {
        let (url, server) = serve(vec![
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\nConnection: close\r\n\r\nmissing"
                .to_vec(),
        ]);
        let op = Arc::new(Op::new());
        let resp = HttpClient::default()
            .get(&op, &format!("{url}/x"), &HttpOptions::default())
            .unwrap();
        assert_eq!(resp.status, 404);
        assert_eq!(resp.status_text, "404 Not Found");
        assert!(!resp.is_success());
        assert_eq!(resp.text_prefix(1024), "missing");
        server.join().unwrap();
    }

    #[test]
    fn a_body_over_the_limit_is_refused() {
        let (url, server) = serve(vec![ok(b"0123456789")]);
        let op = Arc::new(Op::new());
        let opts = HttpOptions {
            max_size: 9,
            ..HttpOptions::default()
        };
        let resp = HttpClient::default()
            .get(&op, &format!("{url}/x"), &opts)
            .unwrap();
        let err = resp.into_body().unwrap().finish().unwrap_err();
        match &err {
            Error::Http(h) => assert_eq!(h.code, Some(ffi::ErrorKind::SizeExceeded), "{err}"),
            other => panic!("{other:?}"),
        }
        server.join().unwrap();
    }

    #[test]
    fn transport_errors_name_the_url_without_secrets() {
        // Nothing listens on port 9 of loopback.
        let op = Arc::new(Op::new());
        let err = HttpClient::default()
            .get(
                &op,
                "http://user:pa55@127.0.0.1:9/a.tgz?sig=s3cr3t",
                &HttpOptions::default(),
            )
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("http://127.0.0.1:9/a.tgz"), "{text}");
        assert!(!text.contains("pa55") && !text.contains("s3cr3t"), "{text}");
    }

    #[test]
    fn auth_debug_never_shows_secrets() {
        let shown = format!(
            "{:?} {:?}",
            HttpAuth::Basic {
                username: "u".into(),
                password: "hunter2".into()
            },
            HttpAuth::Header("token ghp_abc".into())
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("ghp_abc"),
            "{shown}"
        );
    }
}
