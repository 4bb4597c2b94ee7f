//! From a layer's bytes to files: which archive it is, how to decompress it,
//! and the oras directory-tarball rule (content digest of the inner tar).

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

use super::archive::{extract_tar, ExtractError, Options, Report};
use super::overlap::overlapped;
use super::ratio::{Counted, Guarded, Meter};
use super::root::Root;
use crate::digest::{Algorithm, Digest, HashingReader};

/// A layer's archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// tar + gzip.
    Gzip,
    /// tar + zstd.
    Zstd,
}

impl Compression {
    /// The archive format a media type announces, or `None` when the media
    /// type does not name a tar archive.
    ///
    /// Covers OCI and Docker layer types, oras directory tarballs and the
    /// Flux, Helm and OPA content types: anything whose media type ends in
    /// `tar`, `tar+gzip`, `tar.gzip`, `tar+gz`, `tar.gz` or `tar+zstd`.
    pub fn from_media_type(media_type: &str) -> Option<Compression> {
        let m = media_type.to_ascii_lowercase();
        let m = m.split(';').next().unwrap_or("").trim();
        if m.ends_with("tar+gzip")
            || m.ends_with("tar.gzip")
            || m.ends_with("tar+gz")
            || m.ends_with("tar.gz")
        {
            Some(Compression::Gzip)
        } else if m.ends_with("tar+zstd") || m.ends_with("tar.zstd") {
            Some(Compression::Zstd)
        } else if m.ends_with(".tar")
            || m.ends_with("+tar")
            || m.ends_with("/tar")
            || m.ends_with("x-tar")
        {
            Some(Compression::None)
        } else {
            None
        }
    }

    /// The format the first bytes show.
    pub(crate) fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if looks_like_tar(head) {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// A tar header block has `ustar` at offset 257, or the archive is empty
/// (a zero block) — or, for pre-POSIX tars, a valid header checksum.
pub(crate) fn looks_like_tar(head: &[u8]) -> bool {
    if head.len() < 512 {
        return head.is_empty() || head.iter().all(|&b| b == 0);
    }
    if &head[257..262] == b"ustar" || head[..512].iter().all(|&b| b == 0) {
        return true;
    }
    let stored = std::str::from_utf8(&head[148..156])
        .ok()
        .and_then(|s| u32::from_str_radix(s.trim_matches(|c: char| c == '\0' || c == ' '), 8).ok());
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                b' ' as u32
            } else {
                b as u32
            }
        })
        .sum();
    stored == Some(sum)
}

/// A reader that yields peeked bytes again, then the rest.
pub(crate) type Peeked<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads up to `n` bytes, and returns them with a reader that yields them
/// again followed by the rest (a pipe may return short reads, so a single
/// `fill_buf` is not enough to sniff a 512-byte tar header).
pub(crate) fn peek<R: Read>(mut r: R, n: usize) -> io::Result<(Vec<u8>, Peeked<R>)> {
    let mut head = Vec::with_capacity(n);
    (&mut r).take(n as u64).read_to_end(&mut head)?;
    Ok((head.clone(), io::Cursor::new(head).chain(r)))
}

/// Largest zstd window accepted (2^27 = 128 MiB), bounding decoder memory
/// against hostile frames.
pub(crate) const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// Extracts an archive layer whose media type announced `announced`,
/// confirming the format by its bytes. Returns the report and the inner
/// reader (positioned after what was consumed) for draining.
pub fn extract_archive<R: Read>(
    reader: R,
    announced: Compression,
    root: &Root,
    opts: &Options,
) -> Result<(Report, R), ExtractError> {
    let (head, reader) = peek(reader, 512).map_err(|e| read_error(&e))?;
    let found = Compression::sniff(&head);
    if found != Some(announced) {
        let saw = match found {
            Some(c) => format!("{c:?} data"),
            None => "neither tar, gzip nor zstd data".to_string(),
        };
        return Err(ExtractError {
            entry: "<layer>".into(),
            reason: format!("the media type announces {announced:?} but the bytes are {saw}"),
        });
    }
    let meter = Meter::default();
    let explain = |e| meter.explain(e, &opts.limits);
    let (report, reader) = match announced {
        Compression::None => extract_tar(reader, root, opts)?,
        Compression::Gzip => {
            let mut gz = MultiGzDecoder::new(Counted::new(reader, &meter));
            let mut guarded = Guarded::new(&mut gz, &meter, &opts.limits);
            let report = overlapped(&mut guarded, |d| extract_from_decoded(d, root, opts))
                .map_err(explain)?;
            (report, gz.into_inner().into_inner())
        }
        Compression::Zstd => {
            let mut z = zstd::stream::read::Decoder::new(Counted::new(reader, &meter))
                .map_err(|e| read_error(&e))?;
            z.window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| read_error(&e))?;
            let mut guarded = Guarded::new(&mut z, &meter, &opts.limits);
            let report = overlapped(&mut guarded, |d| extract_from_decoded(d, root, opts))
                .map_err(explain)?;
            (report, z.finish().into_inner().into_inner())
        }
    };
    // Whatever follows what the decoders consumed is drained by the caller.
    Ok((report, reader.into_inner().1))
}

fn extract_from_decoded<D: Read>(
    decoded: &mut D,
    root: &Root,
    opts: &Options,
) -> Result<Report, ExtractError> {
    let (head, mut inner) = peek(decoded, 512).map_err(|e| read_error(&e))?;
    if !looks_like_tar(&head) {
        return Err(ExtractError {
            entry: "<layer>".into(),
            reason: "the decompressed data is not a tar archive".into(),
        });
    }
    let (report, rest) = extract_tar(&mut inner, root, opts)?;
    // Decompress to the end so bombs hiding after the end marker still hit
    // the limit and the compressed stream is fully consumed (and hashed).
    let budget = opts.limits.max_bytes.saturating_sub(report.bytes);
    let trailing = io::copy(&mut rest.take(budget.saturating_add(1)), &mut io::sink())
        .map_err(|e| read_error(&e))?;
    if trailing > budget {
        return Err(ExtractError {
            entry: "<layer>".into(),
            reason: format!(
                "archive expands beyond {} bytes; raise the size limit if this archive is trusted",
                opts.limits.max_bytes
            ),
        });
    }
    Ok(report)
}

/// Extracts an oras directory tarball (gzip tar, entries under the title)
/// and checks `io.deis.oras.content.digest` against the whole inner tar.
pub fn extract_oras_directory<R: Read>(
    reader: R,
    expected: Option<&Digest>,
    root: &Root,
    opts: &Options,
) -> Result<(Report, R), ExtractError> {
    let algorithm = expected.map_or(Algorithm::Sha256, Digest::algorithm);
    let meter = Meter::default();
    let gz = MultiGzDecoder::new(Counted::new(reader, &meter));
    let mut guarded = Guarded::new(gz, &meter, &opts.limits);
    // The inner tar is hashed on the unpacking thread: inflating is the
    // busier side.
    let (report, digest) = overlapped(&mut guarded, |d| {
        let mut tar = HashingReader::new(d, algorithm);
        let (report, _) = extract_tar(&mut tar, root, opts)?;
        let (digest, _, _) = tar.drain().map_err(|e| read_error(&e))?;
        Ok((report, digest))
    })
    .map_err(|e| meter.explain(e, &opts.limits))?;
    if let Some(expected) = expected {
        if &digest != expected {
            return Err(ExtractError {
                entry: "<layer>".into(),
                reason: format!("content digest mismatch: io.deis.oras.content.digest says {expected}, the tar is {digest}"),
            });
        }
    }
    Ok((report, guarded.into_inner().into_inner().into_inner()))
}

pub(crate) fn read_error(e: &io::Error) -> ExtractError {
    ExtractError {
        entry: "<layer>".into(),
        reason: format!("cannot read the layer: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_map_to_formats() {
        use Compression::*;
        for (mt, want) in [
            ("application/vnd.oci.image.layer.v1.tar", Some(None)),
            ("application/vnd.oci.image.layer.v1.tar+gzip", Some(Gzip)),
            ("application/vnd.oci.image.layer.v1.tar+zstd", Some(Zstd)),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Some(Gzip),
            ),
            ("application/vnd.cncf.flux.content.v1.tar+gzip", Some(Gzip)),
            (
                "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                Some(Gzip),
            ),
            (
                "application/vnd.cncf.openpolicyagent.layer.v1.tar+gzip",
                Some(Gzip),
            ),
            (
                "application/vnd.cncf.helm.chart.provenance.v1.prov",
                Option::None,
            ),
            ("application/vnd.wasm.content.layer.v1+wasm", Option::None),
        ] {
            assert_eq!(Compression::from_media_type(mt), want, "{mt}");
        }
    }

    #[test]
    fn bytes_confirm_the_format() {
        assert_eq!(
            Compression::sniff(&[0x1f, 0x8b, 8, 0]),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::sniff(b"\0asm\x01\0\0\0"), None);
        let mut h = tar::Header::new_ustar();
        h.set_path("a").unwrap();
        h.set_size(0);
        h.set_cksum();
        assert_eq!(Compression::sniff(h.as_bytes()), Some(Compression::None));
    }
}
