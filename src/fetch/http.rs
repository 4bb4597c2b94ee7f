//! The `http` source: one file from a URL, unpacked when it is a zip,
//! tar+gzip or tar archive (vendir `fetch/http`), plus the download helpers
//! the `githubRelease` source shares.
//!
//! A download goes through the shim's transport ([`crate::http`]) into a
//! temporary file (zip needs to seek; vendir downloads to a file too), is
//! hashed on the way, and only then checked and unpacked into the
//! content's staging root with the same confined extraction and limits as
//! an OCI layer. With `sha256` the download is cached by that digest, and
//! the lock entry (`http: {}`) is known before fetching, so an unchanged
//! directory is kept without a request. Without `sha256`, a cached body
//! and its `ETag`/`Last-Modified` make the next download conditional: a
//! `304 Not Modified` reuses the body, a `200` replaces it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use super::signature::{beside, check_blob};
use super::{FetchContext, Fetched, Probed, Progress, Source};
use crate::cache::{Cache, Validators};
use crate::config::{Cosign, Http, Secret};
use crate::digest::{Algorithm, Digest, Hasher};
use crate::error::{Error, HttpError, Result};
use crate::extract::download::{self, Kind};
use crate::extract::{self, Modes, RelPath, Root};
use crate::http::{HttpAuth, HttpClient, HttpOptions, Response};
use crate::lock::{Empty, LockContent};
use crate::mirrors::url_origin;
use crate::redact::redact_url;
use crate::verify::Verified;

pub(super) struct HttpSource<'a> {
    pub cfg: &'a Http,
}

fn lock() -> LockContent {
    LockContent {
        http: Some(Empty {}),
        ..LockContent::default()
    }
}

impl Source for HttpSource<'_> {
    /// Nothing to resolve: a URL can serve other bytes tomorrow, so only a
    /// pinned `sha256` lets the sync keep an unchanged directory unfetched.
    fn probe(&self, _ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        Ok(self.cfg.sha256.as_ref().map(|_| Probed {
            lock: lock(),
            note: None,
            verified: Vec::new(),
        }))
    }

    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        let verify = self.cfg.cosign.as_ref().map(|c| BlobCosign {
            cosign: c,
            key: "http.cosign",
            bundle_url: c.bundle_url.clone(),
        });
        let (files, bytes, warnings, verified) =
            fetch_http(ctx, self.cfg, &self.cfg.url, dest, verify)?;
        Ok(Fetched {
            lock: lock(),
            bytes,
            files: Some(files),
            warnings,
            summary: redact_url(&self.cfg.url),
            verified: verified.into_iter().collect(),
        })
    }
}

/// The `cosign:` that applies to an `http` download: its own, or the
/// `githubRelease`'s around it (`bundle_url` with `{tag}` replaced).
pub(super) struct BlobCosign<'a> {
    pub cosign: &'a Cosign,
    /// The config key, for messages (`http.cosign`).
    pub key: &'static str,
    pub bundle_url: Option<String>,
}

/// Fetches an `http` source (alone, or inside `githubRelease` with `{tag}`
/// replaced in `url`) into `dest`: returns files written, bytes downloaded,
/// warnings and, with `verify`, what verified the file (checked after the
/// download and its hash, before anything is unpacked or placed).
pub(super) fn fetch_http(
    ctx: &FetchContext<'_>,
    cfg: &Http,
    url: &str,
    dest: &Root,
    verify: Option<BlobCosign<'_>>,
) -> Result<(u64, u64, Vec<String>, Option<Verified>)> {
    let auth = match &cfg.secret_ref {
        Some(r) => basic_auth(secret(ctx, &r.name, "http.secretRef")?)?,
        None => None,
    };
    let options = HttpOptions {
        auth,
        stall_timeout: ctx.stall_timeout,
        ..HttpOptions::default()
    };
    let expected = cfg
        .sha256
        .as_deref()
        .map(|h| format!("sha256:{h}").parse::<Digest>())
        .transpose()
        .map_err(|_| Error::setting("http.sha256", cfg.sha256.as_deref(), "not a sha256"))?;
    let mut dl = download(ctx, url, &options, expected.as_ref(), None, |resp| {
        if resp.status == 200 {
            Ok(())
        } else {
            Err(resp.status_error(format!("Expected 200 OK, but was '{}'", resp.status_text)))
        }
    })?;
    if let Some(want) = &expected {
        if &dl.sha256 != want {
            return Err(Error::Checksum {
                subject: redact_url(url),
                expected: want.hex().to_string(),
                actual: dl.sha256.hex().to_string(),
            });
        }
    }
    let verified = match verify {
        Some(v) => check_blob(
            ctx,
            Some(v.cosign),
            v.key,
            &redact_url(url),
            &dl.sha256,
            &beside(url, v.bundle_url.as_deref()),
            &options,
        )?,
        None => None,
    };
    let bytes = dl.fetched;
    let kind = if cfg.disable_unpack {
        Kind::Plain
    } else {
        download::sniff(&mut dl.file).map_err(|e| Error::io("download", e))?
    };
    let (files, warnings) = if kind == Kind::Plain {
        let name = if cfg.disable_unpack {
            base_name(url)
        } else {
            last_segment(url)
        };
        place_file(&mut dl.file, &name, dest, 0o644)?;
        (1, Vec::new())
    } else {
        let report = unpack(&mut dl.file, kind, &dl.sha256, dest, ctx.limits)?;
        (report.paths.len() as u64, report.warnings)
    };
    Ok((files, bytes, warnings, verified))
}

/// vendir's extraction policy for downloads: files 0644 (vendir creates
/// them so; the exec bit is not kept).
/// A refusal names the download by `digest` and its kind.
pub(super) fn unpack(
    file: &mut File,
    kind: Kind,
    digest: &Digest,
    dest: &Root,
    limits: extract::Limits,
) -> Result<extract::Report> {
    let opts = extract::Options {
        within: RelPath::root(),
        final_root: None,
        modes: Modes::Normalized { files: Some(0o644) },
        limits,
        create_parents: true,
        refuse_whiteouts: false,
    };
    download::unpack(file, kind, dest, &opts)
        .map_err(|e| Error::from(e).in_layer(digest, kind.media_type(), None))
}

/// Writes `file` as `name` (one path component) beneath `dest`.
pub(super) fn place_file(file: &mut File, name: &str, dest: &Root, mode: u32) -> Result<()> {
    let rel = RelPath::normalize(name)
        .filter(|r| r.components().len() == 1)
        .ok_or_else(|| Error::entry(name, "not a usable file name"))?;
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("download", e))?;
    let mut out = dest
        .create_file(&rel, 0o600, None)
        .map_err(|e| Error::io(dest.path().join(name), e))?;
    io::copy(file, &mut out).map_err(|e| Error::io(dest.path().join(name), e))?;
    extract::root::set_mode(&out, mode).map_err(|e| Error::io(dest.path().join(name), e))?;
    Ok(())
}

/// A finished download: the file (seekable, hashed) and what it was.
pub(super) struct Downloaded {
    pub file: File,
    pub sha256: Digest,
    /// Bytes that came over the network (0 from the cache).
    pub fetched: u64,
}

/// Downloads `url` into a temporary file. `accept` decides whether the
/// response is usable (its error is returned as is). With `expected`, the
/// cache is consulted first and a download that matches is cached; `size`,
/// when known, must match too.
///
/// With mirrors (`[[url]]` rules), the mirrors' URLs are tried first, in
/// order: one that fails, answers with a status `accept` refuses, or sends
/// other bytes than `expected` hands over to the next, and the origin comes
/// last unless the rule is `mirror-only`. What the last one sent is
/// returned (the caller reports a checksum mismatch). Credentials go only
/// to the origin (scheme, host, port) they were given for.
pub(super) fn download(
    ctx: &FetchContext<'_>,
    url: &str,
    options: &HttpOptions,
    expected: Option<&Digest>,
    size: Option<u64>,
    accept: impl Fn(&Response) -> Result<()>,
) -> Result<Downloaded> {
    if let (Some(cache), Some(want)) = (ctx.cache, expected) {
        let cached = match size {
            Some(n) => cache.open(want, n),
            None => cache.open_any_size(want),
        };
        if let Some(mut file) = cached {
            // Hashed again: a damaged entry is dropped and fetched anew.
            if let Ok((digest, n)) = hash_file(&mut file) {
                if &digest == want {
                    (ctx.progress)(Progress::Expect(n));
                    (ctx.progress)(Progress::Received(n));
                    return Ok(Downloaded {
                        file,
                        sha256: digest,
                        fetched: 0,
                    });
                }
            }
            cache.evict(want);
        }
    }
    let candidates = match ctx.mirrors {
        Some(m) => m.url_candidates(url),
        None => vec![crate::mirrors::UrlCandidate {
            url: url.to_string(),
            rewrite: None,
        }],
    };
    let origin = url_origin(url);
    let count = candidates.len();
    let mut last_error = None;
    for (i, c) in candidates.into_iter().enumerate() {
        let options = match url_origin(&c.url) == origin {
            true => options.clone(),
            false => HttpOptions {
                auth: None,
                ..options.clone()
            },
        };
        match download_from(ctx, &c.url, &options, expected, size, &accept) {
            Ok(dl) if i + 1 < count && expected.is_some_and(|want| &dl.sha256 != want) => {
                last_error = Some(Error::Checksum {
                    subject: redact_url(&c.url),
                    expected: expected.map(|d| d.hex().to_string()).unwrap_or_default(),
                    actual: dl.sha256.hex().to_string(),
                });
            }
            Ok(dl) => return Ok(dl),
            Err(e) if e.is_cancelled() || ctx.op.is_cancelled() => return Err(e),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| Error::Internal(format!("no URL to try for {url}"))))
}

/// One attempt of [`download`], at `url`.
fn download_from(
    ctx: &FetchContext<'_>,
    url: &str,
    options: &HttpOptions,
    expected: Option<&Digest>,
    size: Option<u64>,
    accept: &impl Fn(&Response) -> Result<()>,
) -> Result<Downloaded> {
    let op = Arc::clone(ctx.op);
    // Unpinned, with a cached body and its validators: ask conditionally.
    let stored = match (ctx.cache, expected) {
        (Some(cache), None) => cached_body(cache, url),
        _ => None,
    };
    let resp = match &stored {
        Some((v, _, _)) => {
            let mut conditional = options.clone();
            conditional.headers.extend(v.headers());
            HttpClient::from_env().get(&op, url, &conditional)?
        }
        None => HttpClient::from_env().get(&op, url, options)?,
    };
    if resp.status == 304 {
        if let Some((v, file, n)) = stored {
            (ctx.progress)(Progress::Expect(n));
            (ctx.progress)(Progress::Received(n));
            return Ok(Downloaded {
                file,
                sha256: v.digest,
                fetched: 0,
            });
        }
    }
    accept(&resp)?;
    let etag = resp.header("etag").map(str::to_string);
    let last_modified = resp.header("last-modified").map(str::to_string);
    if let Some(n) = resp
        .header("content-length")
        .and_then(|v| v.parse::<u64>().ok())
    {
        (ctx.progress)(Progress::Expect(n));
    }
    let mut pending = match (ctx.cache, expected) {
        (Some(cache), Some(want)) => cache.begin(want).ok(),
        _ => None,
    };
    let mut temp = match pending {
        Some(_) => None,
        None => Some(tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?),
    };
    let url_shown = resp.url().to_string();
    let mut body = resp.into_body()?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // The shim's verdict (size limit, truncation, stall) says more.
            Err(_) => break,
        };
        let out: &mut File = match (&mut pending, &mut temp) {
            (Some(p), _) => p.file_mut(),
            (None, Some(t)) => t,
            (None, None) => unreachable!("one of pending and temp is set"),
        };
        out.write_all(&buf[..n])
            .map_err(|e| Error::io(std::env::temp_dir(), e))?;
        (ctx.progress)(Progress::Received(n as u64));
    }
    let info = body.finish()?;
    if let Some(n) = size {
        if info.size != n {
            return Err(Error::Http(Box::new(HttpError {
                url: url_shown,
                status: None,
                code: None,
                detail: format!("Expected file size to be {n}, but was {}", info.size),
            })));
        }
    }
    let file = match (pending, temp) {
        (Some(p), _) if Some(&info.sha256) == expected => {
            p.commit()?;
            let cache = ctx.cache.expect("pending implies a cache");
            cache
                .open_any_size(&info.sha256)
                .ok_or_else(|| Error::Internal("cache entry vanished after commit".into()))?
        }
        // Not what was expected: the caller reports the mismatch; keep the
        // bytes in an anonymous file (never in the cache).
        (Some(mut p), _) => {
            let mut t = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
            let f = p.file_mut();
            f.seek(SeekFrom::Start(0))
                .and_then(|_| io::copy(f, &mut t))
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            t
        }
        (None, Some(mut t)) => {
            // Unpinned: a 200 replaces what is stored for the URL.
            if let (Some(cache), None) = (ctx.cache, expected) {
                cache.record_validators(url, etag, last_modified, |c| {
                    c.put_file(&info.sha256, &mut t)
                        .then(|| info.sha256.clone())
                });
            }
            t
        }
        (None, None) => unreachable!("one of pending and temp is set"),
    };
    Ok(Downloaded {
        file,
        sha256: info.sha256,
        fetched: info.size,
    })
}

/// The body cached for `url` with its validators, hashed again (a damaged
/// or missing body drops the record, so the request goes out unconditional).
pub(super) fn cached_body(cache: &Cache, url: &str) -> Option<(Validators, File, u64)> {
    let v = cache.validators(url)?;
    let checked = cache.open_any_size(&v.digest).and_then(|mut f| {
        let (digest, n) = hash_file(&mut f).ok()?;
        (digest == v.digest).then_some((f, n))
    });
    match checked {
        Some((f, n)) => Some((v, f, n)),
        None => {
            cache.evict(&v.digest);
            cache.forget_validators(url);
            None
        }
    }
}

fn hash_file(file: &mut File) -> io::Result<(Digest, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        total += n as u64;
    }
    file.seek(SeekFrom::Start(0))?;
    Ok((h.finish(), total))
}

/// The Secret `name` (validation made sure it exists).
pub(super) fn secret<'a>(ctx: &FetchContext<'a>, name: &str, key: &str) -> Result<&'a Secret> {
    ctx.loaded
        .secrets
        .get(name)
        .ok_or_else(|| Error::setting(key, Some(name), "no such Secret"))
}

/// Basic auth from an http Secret (`username`/`password`, checked at load).
fn basic_auth(s: &Secret) -> Result<Option<HttpAuth>> {
    let text = |k: &str| {
        s.data
            .get(k)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    Ok(text("username").map(|username| HttpAuth::Basic {
        username,
        password: text("password").unwrap_or_default(),
    }))
}

/// The name vendir gives a file that is not an archive: the last segment
/// of the URL's (decoded) path, `content` when that is empty.
pub(super) fn last_segment(url: &str) -> String {
    let path = url_path(url);
    let last = path.rsplit('/').next().unwrap_or("");
    let name = percent_decode(last);
    if name.is_empty() {
        "content".into()
    } else {
        name
    }
}

/// The name vendir gives a download kept whole (`disableUnpack`): Go's
/// `path.Base` of the URL as written (a query stays part of it).
pub(super) fn base_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    match trimmed.rsplit('/').next() {
        Some(b) if !b.is_empty() => b.to_string(),
        _ => "content".into(),
    }
}

fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    rest.find('/').map_or("", |i| &rest[i..])
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_vendir() {
        for (url, last, base) in [
            ("http://h/a/tool.bin", "tool.bin", "tool.bin"),
            ("http://h/a/", "content", "a"),
            (
                "http://h/a/my%20file.txt?x=1",
                "my file.txt",
                "my%20file.txt?x=1",
            ),
            ("http://h", "content", "h"),
        ] {
            assert_eq!(last_segment(url), last, "{url}");
            assert_eq!(base_name(url), base, "{url}");
        }
    }
}
