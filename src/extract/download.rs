//! Downloaded files (the `http` source, GitHub release assets): which
//! archive a file is, and unpacking it as vendir does — zip, then tar+gzip,
//! then tar (vendir `fetch/archive.go`), else the file is not an archive.
//!
//! Every entry goes through [`Root`] and the same [`Options`] (limits, mode
//! policy, no escape) as an OCI layer: tar and tar+gzip through
//! [`extract_archive`]; zip here, read with the `zip` crate and written one
//! confined file at a time. vendir writes only files (directory entries are
//! skipped, so only directories that hold files exist); [`prune_empty_dirs`]
//! gives the same tree.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::archive::{entry_path, ExtractError, Modes, Names, Options, Report};
use super::layer::{extract_archive, looks_like_tar, Compression};
use super::ratio;
use super::root::{set_mode, Root};

/// What kind of file a download turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A zip archive.
    Zip,
    /// tar + gzip.
    Tgz,
    /// A plain tar.
    Tar,
    /// Anything else.
    Plain,
}

impl Kind {
    /// The media type errors name the download by.
    pub fn media_type(self) -> &'static str {
        match self {
            Kind::Zip => "application/zip",
            Kind::Tgz => "application/gzip",
            Kind::Tar => "application/x-tar",
            Kind::Plain => "application/octet-stream",
        }
    }
}

/// Looks at the first bytes of `file` (and, for gzip, the first
/// decompressed block) to tell which archive it is; leaves it at offset 0.
pub fn sniff(file: &mut File) -> io::Result<Kind> {
    file.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(512);
    file.by_ref().take(512).read_to_end(&mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let kind = if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Kind::Zip
    } else if head.starts_with(&[0x1f, 0x8b]) {
        let mut inner = Vec::with_capacity(512);
        let tar = MultiGzDecoder::new(&mut *file)
            .take(512)
            .read_to_end(&mut inner)
            .is_ok()
            && !inner.is_empty()
            && looks_like_tar(&inner);
        file.seek(SeekFrom::Start(0))?;
        if tar {
            Kind::Tgz
        } else {
            Kind::Plain
        }
    } else if !head.is_empty() && head.len() >= 512 && looks_like_tar(&head) {
        Kind::Tar
    } else {
        Kind::Plain
    };
    Ok(kind)
}

/// Unpacks `file` (already known to be `kind`, not [`Kind::Plain`]) into
/// `root`, then removes directories left without files.
pub fn unpack(
    file: &mut File,
    kind: Kind,
    root: &Root,
    opts: &Options,
) -> Result<Report, ExtractError> {
    file.seek(SeekFrom::Start(0)).map_err(|e| read_error(&e))?;
    let report = match kind {
        Kind::Zip => extract_zip(file, root, opts)?,
        Kind::Tgz => extract_archive(&mut *file, Compression::Gzip, root, opts)?.0,
        Kind::Tar => extract_archive(&mut *file, Compression::None, root, opts)?.0,
        Kind::Plain => {
            return Err(ExtractError {
                entry: "<archive>".into(),
                reason: "not a zip, tar+gzip or tar archive".into(),
            })
        }
    };
    prune_empty_dirs(root.path()).map_err(|e| ExtractError {
        entry: "<archive>".into(),
        reason: format!("removing empty directories: {e}"),
    })?;
    Ok(report)
}

/// Extracts a zip archive. Directory entries are skipped (vendir writes
/// files only); every other entry is a regular file, written through
/// `root`. Names are checked as tar names are (no absolute paths, no `..`,
/// length), and the entry count and the bytes actually decompressed are
/// bounded by `opts.limits` (an entry's declared size is not trusted).
pub fn extract_zip<R: Read + Seek>(
    reader: R,
    root: &Root,
    opts: &Options,
) -> Result<Report, ExtractError> {
    let mut reader = reader;
    let compressed = reader.seek(SeekFrom::End(0)).map_err(|e| read_error(&e))?;
    reader
        .seek(SeekFrom::Start(0))
        .map_err(|e| read_error(&e))?;
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| ExtractError {
        entry: "<archive>".into(),
        reason: format!("not a zip archive: {e}"),
    })?;
    // Several central-directory entries pointing into one compressed
    // stream (or into each other's headers) expand it many times over from
    // a small file: the "non-recursive zip bomb". No archiver writes that.
    if zip.has_overlapping_entries().map_err(|e| ExtractError {
        entry: "<archive>".into(),
        reason: format!("corrupt zip archive: {e}"),
    })? {
        return Err(ExtractError {
            entry: "<archive>".into(),
            reason: "zip entries overlap: several entries point into the same compressed data \
                     (a non-recursive zip bomb); refused"
                .into(),
        });
    }
    let mut report = Report::default();
    let files_mode = match opts.modes {
        Modes::Normalized { files } => files,
        Modes::Umask => None,
    };
    let parents = opts.create_parents.then_some(0o755);
    let mut buf = vec![0u8; 256 * 1024];
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| ExtractError {
            entry: format!("<entry {i}>"),
            reason: format!("corrupt zip archive: {e}"),
        })?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let refuse = |reason: String| ExtractError {
            entry: name.clone(),
            reason,
        };
        report.entries += 1;
        if report.entries > opts.limits.max_entries {
            return Err(refuse(format!(
                "more than {} entries; raise the entry limit if this archive is trusted",
                opts.limits.max_entries
            )));
        }
        if entry.is_dir() || name.ends_with('/') {
            continue;
        }
        let rel = entry_path(&name, Names::Archive, &opts.within, &opts.limits)?;
        if !rel.starts_with(&opts.within) || rel.is_root() {
            return Err(refuse(format!(
                "{name:?} is outside of {:?}",
                opts.within.to_string()
            )));
        }
        let exec = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut out = root
            .create_file(&rel, 0o600, parents)
            .map_err(|e| refuse(e.to_string()))?;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(refuse(format!("reading the entry: {e}"))),
            };
            report.bytes += n as u64;
            if ratio::exceeds(report.bytes, compressed, &opts.limits) {
                return Err(refuse(ratio::ratio_reason(
                    report.bytes,
                    compressed,
                    &opts.limits,
                )));
            }
            if report.bytes > opts.limits.max_bytes {
                return Err(refuse(format!(
                    "archive expands beyond {} bytes; raise the size limit if this archive is trusted",
                    opts.limits.max_bytes
                )));
            }
            io::Write::write_all(&mut out, &buf[..n]).map_err(|e| refuse(e.to_string()))?;
        }
        let mode = files_mode.unwrap_or(if exec { 0o755 } else { 0o644 });
        set_mode(&out, mode).map_err(|e| refuse(e.to_string()))?;
        report.paths.push(rel);
    }
    Ok(report)
}

/// Removes directories under `dir` that hold no file (after extraction, in
/// a staging directory this process owns). Symlinks are never followed.
pub fn prune_empty_dirs(dir: &Path) -> io::Result<()> {
    fn walk(dir: &Path) -> io::Result<bool> {
        let mut empty = true;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                let path = entry.path();
                if walk(&path)? {
                    std::fs::remove_dir(&path)?;
                } else {
                    empty = false;
                }
            } else {
                empty = false;
            }
        }
        Ok(empty)
    }
    walk(dir).map(|_| ())
}

fn read_error(e: &io::Error) -> ExtractError {
    ExtractError {
        entry: "<archive>".into(),
        reason: format!("reading the download: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Limits;
    use crate::extract::RelPath;
    use std::io::Write;

    fn opts(limits: Limits) -> Options {
        Options {
            within: RelPath::root(),
            final_root: None,
            modes: Modes::Normalized { files: Some(0o644) },
            limits,
            create_parents: true,
            refuse_whiteouts: false,
        }
    }

    /// A zip written with the crate's writer (tests only; vendoras reads).
    fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (n, d) in entries {
            if n.ends_with('/') {
                w.add_directory(*n, o).unwrap();
            } else {
                w.start_file(*n, o).unwrap();
                w.write_all(d).unwrap();
            }
        }
        w.finish().unwrap().into_inner()
    }

    fn file_of(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        f
    }

    #[test]
    fn zip_entries_land_confined_and_dirs_only_with_files() {
        let z = zip_bytes(&[("a.txt", b"alpha"), ("d/", b""), ("e/f/g.txt", b"deep")]);
        let mut f = file_of(&z);
        assert_eq!(sniff(&mut f).unwrap(), Kind::Zip);
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let r = unpack(&mut f, Kind::Zip, &root, &opts(Limits::default())).unwrap();
        assert_eq!(r.paths.len(), 2);
        assert_eq!(
            std::fs::read(dir.path().join("e/f/g.txt")).unwrap(),
            b"deep"
        );
        assert!(
            !dir.path().join("d").exists(),
            "directory entries are skipped"
        );
    }

    #[test]
    fn zip_traversal_and_bombs_are_refused() {
        for (name, why) in [("../evil", "escapes"), ("/abs", "absolute")] {
            let z = zip_bytes(&[(name, b"x")]);
            let dir = tempfile::tempdir().unwrap();
            let root = Root::open(dir.path()).unwrap();
            let e = extract_zip(file_of(&z), &root, &opts(Limits::default())).unwrap_err();
            assert_eq!(e.entry, name);
            assert!(e.reason.contains(why), "{e}");
        }
        let z = zip_bytes(&[("big", &[0u8; 4096])]);
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let limits = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        let e = extract_zip(file_of(&z), &root, &opts(limits)).unwrap_err();
        assert!(e.reason.contains("expands beyond 1000 bytes"), "{e}");
    }

    #[test]
    fn zip_names_follow_the_one_rule() {
        use crate::extract::archive::tests::NAME_CASES;
        for (name, why) in NAME_CASES {
            let z = zip_bytes(&[(name, b"x")]);
            let dir = tempfile::tempdir().unwrap();
            let root = Root::open(dir.path()).unwrap();
            let e = extract_zip(file_of(&z), &root, &opts(Limits::default())).unwrap_err();
            assert_eq!(e.entry, *name);
            assert!(e.reason.contains(why), "{name:?}: {e}");
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                0,
                "{name:?}"
            );
        }
        let long = format!("{}/f", "d".repeat(5000));
        let z = zip_bytes(&[(&long, b"x")]);
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let e = extract_zip(file_of(&z), &root, &opts(Limits::default())).unwrap_err();
        assert!(e.reason.contains("path longer than 4096 bytes"), "{e}");
    }

    #[test]
    fn a_symlink_planted_in_the_root_is_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        let z = zip_bytes(&[("link/x", b"x")]);
        let root = Root::open(dir.path()).unwrap();
        assert!(extract_zip(file_of(&z), &root, &opts(Limits::default())).is_err());
        assert!(!outside.path().join("x").exists());
    }

    #[test]
    fn sniffing() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_cksum();
        tar.append_data(&mut h, "x", &b"x"[..]).unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let tgz = gz.finish().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"just text, gzipped").unwrap();
        let gz_text = gz.finish().unwrap();
        for (bytes, want) in [
            (&tar[..], Kind::Tar),
            (&tgz[..], Kind::Tgz),
            (&gz_text[..], Kind::Plain),
            (&b"#!/bin/sh\n"[..], Kind::Plain),
            (&b""[..], Kind::Plain),
        ] {
            assert_eq!(sniff(&mut file_of(bytes)).unwrap(), want);
        }
    }
}
