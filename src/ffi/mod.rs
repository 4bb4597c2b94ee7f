//! The seam to the Go shim (`go/`, built as a c-archive by `build.rs`).
//!
//! This module is the only place with `unsafe`; nothing outside it sees a raw
//! pointer. The ABI is documented in `docs/ffi.md`. Three safe types stand
//! on it: [`Op`] (a cancellable Go context), [`Target`] (a remote repository
//! or an OCI layout) and [`HttpResponse`] (a plain HTTP GET). Requests and
//! answers cross as JSON text or bytes; typing them is the job of
//! [`crate::registry`] and [`crate::http`].

pub mod signal;

use std::ffi::{c_char, c_void, CStr, CString};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::ptr;

use serde::Deserialize;

#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code
)]
mod raw {
    // bindgen's output for the shim's header, committed so that a build
    // needs no libclang; `make bindings` regenerates it.
    include!("bindings.rs");
}

/// What went wrong on the Go side. The numbers are the shim's status codes:
/// `go/errors.go` and `docs/ffi.md` must change together with this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A malformed request, reference or platform.
    Invalid = 1,
    /// Manifest, blob or tag not found.
    NotFound = 2,
    /// Missing or wrong credentials (HTTP 401).
    Unauthorized = 3,
    /// Credentials accepted but access denied (HTTP 403).
    Denied = 4,
    /// Content did not match its descriptor.
    DigestMismatch = 5,
    /// Content larger than its descriptor or the allowed maximum.
    SizeExceeded = 6,
    /// Connection, DNS, timeout or server errors after retries.
    Network = 7,
    /// The operation was cancelled.
    Cancelled = 8,
    /// A stale or unknown handle (a bug on the Rust side).
    BadHandle = 9,
    /// Certificate or TLS handshake failure.
    Tls = 10,
    /// A panic or unexpected error inside the shim.
    Internal = 11,
    /// A signature did not verify.
    Verification = 12,
    /// An unsupported media type or operation.
    Unsupported = 13,
    /// Local I/O: the stream's pipe, or an OCI layout on disk.
    Io = 14,
}

impl ErrorKind {
    fn from_code(code: i32) -> ErrorKind {
        match code {
            1 => ErrorKind::Invalid,
            2 => ErrorKind::NotFound,
            3 => ErrorKind::Unauthorized,
            4 => ErrorKind::Denied,
            5 => ErrorKind::DigestMismatch,
            6 => ErrorKind::SizeExceeded,
            7 => ErrorKind::Network,
            8 => ErrorKind::Cancelled,
            9 => ErrorKind::BadHandle,
            10 => ErrorKind::Tls,
            12 => ErrorKind::Verification,
            13 => ErrorKind::Unsupported,
            14 => ErrorKind::Io,
            _ => ErrorKind::Internal,
        }
    }
}

/// An error reported by the shim: its kind, oras-go's message (which names
/// the registry, URL and status) and the HTTP status when there was one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ShimError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// The message, as oras-go words it.
    pub message: String,
    /// The HTTP status code, for registry errors.
    pub status: Option<u16>,
}

impl ShimError {
    fn local(kind: ErrorKind, message: impl Into<String>) -> ShimError {
        ShimError {
            kind,
            message: message.into(),
            status: None,
        }
    }
}

type Result<T> = std::result::Result<T, ShimError>;

/// A buffer the shim allocated; freed with `vdr_free` when dropped, so an
/// early return or a panic cannot leak it.
struct GoBuf(*mut c_void);

impl GoBuf {
    fn null() -> GoBuf {
        GoBuf(ptr::null_mut())
    }

    /// The out-pointer the shim fills (a `char **`).
    fn as_out(&mut self) -> *mut *mut c_char {
        &mut self.0 as *mut *mut c_void as *mut *mut c_char
    }

    fn text(&self) -> String {
        if self.0.is_null() {
            return String::new();
        }
        // SAFETY: the shim fills string out-pointers with C.CString, a
        // NUL-terminated allocation that lives until we free it in Drop.
        unsafe { CStr::from_ptr(self.0 as *const c_char) }
            .to_string_lossy()
            .into_owned()
    }

    fn bytes(&self, len: usize) -> Vec<u8> {
        if self.0.is_null() || len == 0 {
            return Vec::new();
        }
        // SAFETY: the shim sets the buffer and `len` together (C.CBytes of
        // exactly `len` bytes); it stays valid until Drop frees it.
        unsafe { std::slice::from_raw_parts(self.0 as *const u8, len) }.to_vec()
    }
}

impl Drop for GoBuf {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from the shim's C.malloc and is freed
            // exactly once, here, by the shim's own free function.
            unsafe { raw::vdr_free(self.0) }
        }
    }
}

#[derive(Deserialize)]
struct ErrorJson {
    #[serde(default)]
    message: String,
    #[serde(default)]
    status: Option<u16>,
}

/// Turns a status code and the shim's error JSON into a result.
fn check(code: i32, err: &GoBuf) -> Result<()> {
    if code == 0 {
        return Ok(());
    }
    let kind = ErrorKind::from_code(code);
    let text = err.text();
    let (message, status) = match serde_json::from_str::<ErrorJson>(&text) {
        Ok(e) if !e.message.is_empty() => (e.message, e.status),
        _ if !text.is_empty() => (text, None),
        _ => (format!("shim call failed with status {code}"), None),
    };
    Err(ShimError {
        kind,
        message,
        status,
    })
}

/// Runs a shim call that answers JSON text through `out`, owning both
/// out-buffers so they are freed whatever happens.
fn call_text(f: impl FnOnce(*mut *mut c_char, *mut *mut c_char) -> i32) -> Result<String> {
    let mut out = GoBuf::null();
    let mut err = GoBuf::null();
    let code = f(out.as_out(), err.as_out());
    check(code, &err)?;
    Ok(out.text())
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| ShimError::local(ErrorKind::Invalid, "request contains a NUL byte"))
}

/// A cancellable operation: one Go context. Cancelling it stops every call
/// that was given it, including a blob stream in flight.
///
/// An `Op` is `Send + Sync`: share it (in an [`Arc`](std::sync::Arc) where
/// a call keeps it, as [`pull`](crate::pull::pull) does) and cancel it from
/// any thread, or from [`crate::signal::on_interrupt`]. Once cancelled it
/// stays cancelled; use a fresh `Op` for the next operation.
///
/// ```
/// use std::path::Path;
/// use vendoras::registry::Repository;
/// use vendoras::Op;
///
/// let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/layout");
/// let repo = Repository::open_layout(&layout).unwrap();
/// let op = Op::new();
/// op.cancel();
/// let out = tempfile::tempdir().unwrap();
/// let opts = vendoras::pull::PullOptions::new(out.path());
/// let err = vendoras::pull::pull(&repo, "v1.0.0", &opts, &std::sync::Arc::new(op), &|_, _| {}).unwrap_err();
/// assert!(err.is_cancelled(), "{err}");
/// assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
/// ```
#[derive(Debug)]
pub struct Op {
    id: u64,
    cancelled: std::sync::atomic::AtomicBool,
}

impl Op {
    /// Creates a fresh, uncancelled operation.
    pub fn new() -> Op {
        // SAFETY: no arguments; returns a plain integer id.
        let id = unsafe { raw::vdr_op_new() };
        Op {
            id,
            cancelled: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether [`Op::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Cancels the operation; calls using it return
    /// [`Error::Cancelled`](crate::Error::Cancelled).
    pub fn cancel(&self) {
        self.cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: plain integer id; the shim checks it and ignores stale ids.
        unsafe { raw::vdr_op_cancel(self.id) };
    }
}

impl Default for Op {
    fn default() -> Self {
        Op::new()
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        // SAFETY: plain integer id, freed once; the shim checks it.
        unsafe { raw::vdr_op_free(self.id) };
    }
}

/// A remote repository or OCI layout opened in the shim.
#[derive(Debug)]
pub struct Target {
    id: u64,
}

impl Target {
    /// Opens a target from its JSON request (see `docs/ffi.md`).
    pub fn open(request_json: &str) -> Result<Target> {
        let req = cstring(request_json)?;
        let mut id: u64 = 0;
        let mut err = GoBuf::null();
        // SAFETY: `req` outlives the call; `id` and `err` are valid
        // out-pointers; the shim keeps no pointer after returning.
        let code = unsafe { raw::vdr_target_open(req.as_ptr(), &mut id, err.as_out()) };
        check(code, &err)?;
        Ok(Target { id })
    }

    /// Resolves a tag or digest; the answer is descriptor JSON.
    pub fn resolve(&self, op: &Op, request_json: &str) -> Result<String> {
        let req = cstring(request_json)?;
        // SAFETY: borrowed input that outlives the call; out-pointers owned
        // by `call_text`, which frees what the shim allocates.
        call_text(|out, err| unsafe { raw::vdr_resolve(self.id, op.id, req.as_ptr(), out, err) })
    }

    /// Fetches the whole (small) content of a descriptor, verified.
    pub fn fetch_bytes(&self, op: &Op, descriptor_json: &str, max_size: i64) -> Result<Vec<u8>> {
        let req = cstring(descriptor_json)?;
        let mut buf = GoBuf::null();
        let mut len: usize = 0;
        let mut err = GoBuf::null();
        // SAFETY: as in `open`; `buf` and `len` are set together by the shim.
        let code = unsafe {
            raw::vdr_fetch_bytes(
                self.id,
                op.id,
                req.as_ptr(),
                max_size,
                &mut buf.0 as *mut *mut c_void as *mut *mut u8,
                &mut len,
                err.as_out(),
            )
        };
        check(code, &err)?;
        Ok(buf.bytes(len))
    }

    /// Resolves a tag or digest and fetches what it names in one request
    /// (verified, at most `max_size` bytes); the answer is descriptor JSON
    /// and the content.
    pub fn fetch_reference(
        &self,
        op: &Op,
        request_json: &str,
        max_size: i64,
    ) -> Result<(String, Vec<u8>)> {
        let req = cstring(request_json)?;
        let mut out = GoBuf::null();
        let mut buf = GoBuf::null();
        let mut len: usize = 0;
        let mut err = GoBuf::null();
        // SAFETY: as in `fetch_bytes`; `out` is a C string the shim allocates.
        let code = unsafe {
            raw::vdr_fetch_reference(
                self.id,
                op.id,
                req.as_ptr(),
                max_size,
                out.as_out(),
                &mut buf.0 as *mut *mut c_void as *mut *mut u8,
                &mut len,
                err.as_out(),
            )
        };
        check(code, &err)?;
        Ok((out.text(), buf.bytes(len)))
    }

    /// Streams a blob into `fd` (the write end of a pipe), blocking until the
    /// shim is done. The shim owns and closes `fd`, so the reader always sees
    /// EOF; size and digest are verified before this returns `Ok`.
    pub fn fetch_to_fd(&self, op: &Op, descriptor_json: &str, fd: OwnedFd) -> Result<()> {
        let req = cstring(descriptor_json)?;
        let mut err = GoBuf::null();
        let raw_fd = fd.into_raw_fd();
        // SAFETY: ownership of `raw_fd` moves to the shim, which closes it
        // before returning (docs/ffi.md); we never touch it again.
        let code =
            unsafe { raw::vdr_fetch_to_fd(self.id, op.id, req.as_ptr(), raw_fd, err.as_out()) };
        check(code, &err)
    }

    /// Lists the repository's tags; the answer is `{"tags": [...]}`.
    pub fn list_tags(&self, op: &Op) -> Result<String> {
        // SAFETY: borrowed input that outlives the call; out-pointers owned
        // by `call_text`, which frees what the shim allocates.
        call_text(|out, err| unsafe { raw::vdr_list_tags(self.id, op.id, out, err) })
    }
}

impl Target {
    /// Verifies cosign signatures of one manifest digest (`vdr_verify`,
    /// see `docs/ffi.md`); the answer says what verified it. A signature
    /// that does not verify is `ErrorKind::Verification`, with the reason.
    pub fn verify(&self, op: &Op, request_json: &str) -> Result<String> {
        let req = cstring(request_json)?;
        // SAFETY: borrowed input that outlives the call; out-pointers owned
        // by `call_text`, which frees what the shim allocates.
        call_text(|out, err| unsafe { raw::vdr_verify(self.id, op.id, req.as_ptr(), out, err) })
    }
}

/// Verifies one Sigstore bundle against a file's sha256 (`vdr_verify_blob`,
/// see `docs/ffi.md`); the request carries the bundle's text. A bundle that
/// does not verify is `ErrorKind::Verification`, with the reason.
pub fn verify_blob(op: &Op, request_json: &str) -> Result<String> {
    let req = cstring(request_json)?;
    // SAFETY: borrowed input that outlives the call; out-pointers owned by
    // `call_text`, which frees what the shim allocates.
    call_text(|out, err| unsafe { raw::vdr_verify_blob(op.id, req.as_ptr(), out, err) })
}

impl Drop for Target {
    fn drop(&mut self) {
        // SAFETY: plain integer id, closed once; the shim checks it.
        unsafe { raw::vdr_target_close(self.id) };
    }
}

/// A plain HTTP response opened in the shim (`vdr_http_open`): its head has
/// been read; the body waits until [`HttpResponse::body_to_fd`] streams it,
/// or is discarded when this is dropped.
#[derive(Debug)]
pub struct HttpResponse {
    id: u64,
    /// Set once the body was handed to `vdr_http_body_to_fd`, which frees
    /// the handle itself.
    consumed: bool,
}

impl HttpResponse {
    /// Sends a GET (request JSON, see `docs/ffi.md`); the answer is the
    /// response and its head as JSON (status, headers). Any HTTP status is
    /// an answer; only transport failures are errors.
    pub fn open(op: &Op, request_json: &str) -> Result<(HttpResponse, String)> {
        let req = cstring(request_json)?;
        let mut id: u64 = 0;
        let mut out = GoBuf::null();
        let mut err = GoBuf::null();
        // SAFETY: `req` outlives the call; `id`, `out` and `err` are valid
        // out-pointers (the buffers freed by GoBuf); nothing is kept by Go.
        let code =
            unsafe { raw::vdr_http_open(op.id, req.as_ptr(), &mut id, out.as_out(), err.as_out()) };
        check(code, &err)?;
        Ok((
            HttpResponse {
                id,
                consumed: false,
            },
            out.text(),
        ))
    }

    /// Streams the body into `fd` (the write end of a pipe), blocking until
    /// done, and frees the response. The shim owns and closes `fd`, so the
    /// reader always sees EOF. More than `max_size` bytes is
    /// `SizeExceeded`. The answer is `{"size": N, "sha256": "<hex>"}`.
    pub fn body_to_fd(mut self, fd: OwnedFd, max_size: i64) -> Result<String> {
        self.consumed = true;
        let raw_fd = fd.into_raw_fd();
        let mut out = GoBuf::null();
        let mut err = GoBuf::null();
        // SAFETY: ownership of `raw_fd` moves to the shim, which closes it on
        // every path; out-pointers owned by GoBuf.
        let code = unsafe {
            raw::vdr_http_body_to_fd(self.id, raw_fd, max_size, out.as_out(), err.as_out())
        };
        check(code, &err)?;
        Ok(out.text())
    }
}

impl Drop for HttpResponse {
    fn drop(&mut self) {
        if !self.consumed {
            // SAFETY: plain integer id, closed once; the shim checks it.
            unsafe { raw::vdr_http_close(self.id) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_target_handle_is_an_error_not_a_crash() {
        let t = Target { id: u64::MAX - 7 };
        let op = Op::new();
        let err = t.resolve(&op, r#"{"reference":"v1"}"#).unwrap_err();
        assert_eq!(err.kind, ErrorKind::BadHandle, "{err:?}");
        std::mem::forget(t); // closing a bad handle is harmless too, but keep the test focused
    }

    #[test]
    fn closing_a_handle_twice_is_harmless() {
        let dir = tempfile::tempdir().unwrap();
        let req = serde_json::json!({"kind": "oci_layout", "path": dir.path()}).to_string();
        // An empty directory is not a layout: the shim must say so, not crash.
        match Target::open(&req) {
            Ok(t) => {
                let id = t.id;
                drop(t);
                // SAFETY: deliberately misusing a closed id to check the shim.
                let code = unsafe { raw::vdr_target_close(id) };
                assert_eq!(ErrorKind::from_code(code), ErrorKind::BadHandle);
            }
            Err(e) => assert_ne!(e.kind, ErrorKind::Internal, "{e:?}"),
        }
    }

    #[test]
    fn bad_json_is_invalid() {
        let err = Target::open("{not json").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Invalid, "{err:?}");
    }

    /// The status codes are written three times: `go/errors.go` (the Go side),
    /// this module's [`ErrorKind`] and the table in `docs/ffi.md`. Each is read
    /// here as `code -> kind name`; all three must agree, so editing one alone fails.
    #[test]
    fn status_code_table_is_the_same_in_go_rust_and_docs() {
        use std::collections::BTreeMap;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |rel: &str| std::fs::read_to_string(root.join(rel)).unwrap();

        // go/errors.go: `codeX int32 = N` and `codeX: "kind",` in kindNames.
        let go_src = read("go/errors.go");
        let mut consts = BTreeMap::new();
        for line in go_src.lines() {
            if let Some((name, n)) = line.trim().split_once(" int32 = ") {
                consts.insert(name.trim().to_string(), n.trim().parse::<i32>().unwrap());
            }
        }
        let names = go_src
            .split("var kindNames = map[int32]string{")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("kindNames in go/errors.go");
        let mut go = BTreeMap::new();
        for line in names.lines().filter(|l| l.contains(':')) {
            let (name, kind) = line.trim().trim_end_matches(',').split_once(':').unwrap();
            let code = consts[name.trim()];
            go.insert(code, kind.trim().trim_matches('"').to_string());
        }
        assert_eq!(consts.get("codeOK"), Some(&0), "go/errors.go: codeOK");

        // docs/ffi.md: `| N | kind | meaning |` rows of the status table.
        let docs_src = read("docs/ffi.md");
        let table = docs_src
            .split("## Status / error kinds")
            .nth(1)
            .expect("status table in docs/ffi.md");
        let mut docs = BTreeMap::new();
        for line in table.lines().skip_while(|l| !l.starts_with('|')) {
            if !line.starts_with('|') {
                break;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if let Ok(code) = cells[1].parse::<i32>() {
                docs.insert(code, cells[2].to_string());
            }
        }
        assert_eq!(docs.remove(&0).as_deref(), Some("ok"), "docs/ffi.md: row 0");

        // Rust: every code that maps to a variant of its own number, by the
        // variant's name in snake case.
        let mut rust = BTreeMap::new();
        for code in 1..64 {
            let kind = ErrorKind::from_code(code);
            if kind as i32 == code {
                let mut snake = String::new();
                for (i, c) in format!("{kind:?}").chars().enumerate() {
                    if c.is_ascii_uppercase() && i > 0 {
                        snake.push('_');
                    }
                    snake.push(c.to_ascii_lowercase());
                }
                rust.insert(code, snake);
            }
        }

        assert!(go.len() >= 14, "parsed too little of go/errors.go: {go:?}");
        assert_eq!(
            go, docs,
            "go/errors.go (left) and docs/ffi.md (right) differ"
        );
        assert_eq!(
            go, rust,
            "go/errors.go (left) and src/ffi/mod.rs (right) differ"
        );
    }

    #[test]
    fn cancelled_op_stops_a_call() {
        // A port on loopback nobody listens on would fail fast anyway; a
        // cancelled context must win and say Cancelled.
        let req = serde_json::json!({"kind": "remote", "repository": "127.0.0.1:9/none", "plain_http": true})
            .to_string();
        let t = Target::open(&req).unwrap();
        let op = Op::new();
        op.cancel();
        let err = t.resolve(&op, r#"{"reference":"v1"}"#).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Cancelled, "{err:?}");
    }
}
