//! An image's filesystem from its layers, with OCI image-layer semantics
//! (image-spec `layer.md`, "Applying Changesets"): layers apply in order,
//! an upper entry replaces what a lower layer put at its path, a whiteout
//! `.wh.<name>` deletes `<name>` from the lower layers, and an opaque
//! marker `.wh..wh..opq` deletes everything the lower layers put in its
//! directory. A whiteout never touches what its own layer wrote (whatever
//! the order of the entries in that layer's tar), so each layer tracks the
//! paths it created.
//!
//! vendir (imgpkg's `DirImage`) does this differently: the lower layer wins
//! and whiteouts are not applied (docs/differences.md).
//!
//! Every deletion goes through [`Root::remove_all`] (fd-relative, never
//! following a symlink), so no whiteout can reach outside the root; entry
//! names are normalised and checked as in [`super::archive`].

use std::collections::HashSet;
use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use super::archive::{copy, entry_path, members, refuse, ExtractError, Limits, Names};
use super::layer::{looks_like_tar, peek, read_error, Compression, ZSTD_WINDOW_LOG_MAX};
use super::overlap::overlapped;
use super::ratio::{Counted, Guarded, Meter};
use super::root::{set_mode, Existing, RelPath, Root};
use crate::redact::escape;

/// The whiteout prefix.
const WHITEOUT: &str = ".wh.";
/// The opaque-directory marker.
const OPAQUE: &str = ".wh..wh..opq";

/// How an image lands on disk.
#[derive(Debug, Clone, Copy)]
pub struct ImageOptions {
    /// A `permissions:` override for files; otherwise 0644, or 0755 when
    /// any execute bit is set.
    pub files: Option<u32>,
    /// Limits over the whole image (all layers together).
    pub limits: Limits,
}

/// Totals over all layers applied so far, for the limits and the report.
#[derive(Debug, Default)]
pub struct ImageTotals {
    /// Tar entries read.
    pub entries: u64,
    /// File bytes written.
    pub bytes: u64,
    /// Entries skipped, with the reason.
    pub warnings: Vec<String>,
}

/// Applies one layer (a tar, tar+gzip or tar+zstd stream, confirmed by its
/// bytes) on top of what `root` holds. Returns the reader positioned after
/// what was consumed, for draining and verification by the caller.
pub fn apply_layer<R: Read>(
    reader: R,
    announced: Compression,
    root: &Root,
    opts: &ImageOptions,
    totals: &mut ImageTotals,
) -> Result<R, ExtractError> {
    let (head, reader) = peek(reader, 512).map_err(|e| read_error(&e))?;
    let found = Compression::sniff(&head);
    if found != Some(announced) {
        return Err(refuse(
            "<layer>",
            format!(
                "the media type announces {announced:?} but the bytes are {}",
                found.map_or_else(
                    || "neither tar, gzip nor zstd data".to_string(),
                    |c| format!("{c:?} data")
                )
            ),
        ));
    }
    let meter = Meter::default();
    let explain = |e| meter.explain(e, &opts.limits);
    let reader = match announced {
        Compression::None => {
            let mut r = reader;
            apply_tar(&mut r, root, opts, totals)?;
            r
        }
        Compression::Gzip => {
            let mut gz = MultiGzDecoder::new(Counted::new(reader, &meter));
            let mut guarded = Guarded::new(&mut gz, &meter, &opts.limits);
            overlapped(&mut guarded, |d| apply_decoded(d, root, opts, totals)).map_err(explain)?;
            gz.into_inner().into_inner()
        }
        Compression::Zstd => {
            let mut z = zstd::stream::read::Decoder::new(Counted::new(reader, &meter))
                .map_err(|e| read_error(&e))?;
            z.window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| read_error(&e))?;
            let mut guarded = Guarded::new(&mut z, &meter, &opts.limits);
            overlapped(&mut guarded, |d| apply_decoded(d, root, opts, totals)).map_err(explain)?;
            z.finish().into_inner().into_inner()
        }
    };
    Ok(reader.into_inner().1)
}

fn apply_decoded(
    decoded: &mut dyn Read,
    root: &Root,
    opts: &ImageOptions,
    totals: &mut ImageTotals,
) -> Result<(), ExtractError> {
    let (head, mut inner) = peek(decoded, 512).map_err(|e| read_error(&e))?;
    if !looks_like_tar(&head) {
        return Err(refuse(
            "<layer>",
            "the decompressed data is not a tar archive",
        ));
    }
    apply_tar(&mut inner, root, opts, totals)?;
    // Decompress to the end so a bomb after the end marker still hits the
    // limit and the compressed stream is wholly consumed.
    let budget = opts.limits.max_bytes.saturating_sub(totals.bytes);
    let trailing = io::copy(
        &mut (&mut inner).take(budget.saturating_add(1)),
        &mut io::sink(),
    )
    .map_err(|e| read_error(&e))?;
    if trailing > budget {
        return Err(refuse(
            "<layer>",
            format!(
                "image expands beyond {} bytes; raise the size limit if this image is trusted",
                opts.limits.max_bytes
            ),
        ));
    }
    Ok(())
}

/// What one layer created: its entries and their parent directories.
struct Created(HashSet<RelPath>);

impl Created {
    fn add(&mut self, rel: &RelPath) {
        let mut p = rel.clone();
        while self.0.insert(p.clone()) && !p.is_root() {
            p = p.parent();
        }
    }

    fn contains(&self, rel: &RelPath) -> bool {
        self.0.contains(rel)
    }
}

/// Deletes what the lower layers put at `rel`, keeping what this layer
/// created: a path this layer did not touch goes entirely; a directory this
/// layer wrote into keeps this layer's entries and loses the rest.
fn remove_lower(root: &Root, rel: &RelPath, created: &Created) -> io::Result<()> {
    if !created.contains(rel) {
        return root.remove_all(rel);
    }
    if root.existing(rel)? != Existing::Dir {
        return Ok(()); // this layer's own file or link
    }
    for child in root.list(rel)? {
        remove_lower(root, &rel.join(&child).expect("a plain name"), created)?;
    }
    Ok(())
}

fn apply_tar(
    reader: &mut dyn Read,
    root: &Root,
    opts: &ImageOptions,
    totals: &mut ImageTotals,
) -> Result<(), ExtractError> {
    let mut archive = tar::Archive::new(reader);
    let mut created = Created(HashSet::new());
    created.add(&RelPath::root());
    let mut buf = vec![0u8; 256 * 1024];
    let max = opts.limits.max_entries;
    for member in members(&mut archive, &mut totals.entries, max, "image")? {
        let (mut entry, raw, kind) = member?;
        let name = raw.as_str();
        let rel = entry_path(name, Names::Image, &RelPath::root(), &opts.limits)?;
        if rel.is_root() {
            continue; // "./": the root directory itself
        }
        let io_err = |e: io::Error| refuse(name, e.to_string());
        let base = rel.file_name().expect("not the root");
        let parents = rel.components();
        if parents[..parents.len() - 1]
            .iter()
            .any(|c| c.starts_with(WHITEOUT))
        {
            return Err(refuse(
                name,
                "an entry beneath a whiteout name; a whiteout is a file, not a directory",
            ));
        }
        if base == OPAQUE {
            remove_lower_children(root, &rel.parent(), &created).map_err(io_err)?;
            continue;
        }
        if let Some(hidden) = base.strip_prefix(WHITEOUT) {
            let target = rel
                .parent()
                .join(hidden)
                .filter(|t| !t.is_root() && t.parent() == rel.parent())
                .ok_or_else(|| refuse(name, "a whiteout must name an entry of its directory"))?;
            remove_lower(root, &target, &created).map_err(io_err)?;
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let existing = root.existing(&rel).map_err(io_err)?;
        match kind {
            EntryType::Directory => {
                let fd = root.create_dir(&rel, 0o755).map_err(io_err)?;
                set_mode(&fd, 0o755).map_err(io_err)?;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = entry.size();
                if totals.bytes.saturating_add(size) > opts.limits.max_bytes {
                    return Err(refuse(
                        name,
                        format!(
                            "image expands beyond {} bytes; raise the size limit if this image is trusted",
                            opts.limits.max_bytes
                        ),
                    ));
                }
                if existing == Existing::Dir {
                    root.remove_all(&rel).map_err(io_err)?;
                }
                let mut file = root.create_file(&rel, 0o600, Some(0o755)).map_err(io_err)?;
                totals.bytes += copy(&mut entry, &mut file, &mut buf).map_err(io_err)?;
                let m = opts
                    .files
                    .unwrap_or(if mode & 0o111 != 0 { 0o755 } else { 0o644 });
                set_mode(&file, m).map_err(io_err)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let inside = !target.is_empty()
                    && !target.starts_with('/')
                    && !target.contains('\0')
                    && rel.parent().join(&target).is_some();
                if !inside {
                    totals.warnings.push(format!(
                        "{}: skipped symbolic link to {target:?}, which points outside the image's content",
                        escape(name)
                    ));
                    continue;
                }
                if existing == Existing::Dir {
                    root.remove_all(&rel).map_err(io_err)?;
                }
                root.symlink(&rel, &target, Some(0o755)).map_err(io_err)?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                // A hard link names a path of the image (this or a lower
                // layer), like an entry name.
                let trel = RelPath::normalize(&target)
                    .filter(|t| !t.is_root())
                    .ok_or_else(|| {
                        refuse(
                            name,
                            format!("hard link target {target:?} is outside the image"),
                        )
                    })?;
                if trel == rel {
                    continue;
                }
                if existing == Existing::Dir {
                    root.remove_all(&rel).map_err(io_err)?;
                }
                root.hard_link(&rel, &trel, Some(0o755)).map_err(io_err)?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                totals
                    .warnings
                    .push(format!("{}: skipped device or FIFO entry", escape(name)));
                continue;
            }
            other => {
                totals.warnings.push(format!(
                    "{}: skipped unsupported entry type {other:?}",
                    escape(name)
                ));
                continue;
            }
        }
        created.add(&rel);
    }
    Ok(())
}

/// The opaque marker: every lower entry of `dir` goes, this layer's stay.
fn remove_lower_children(root: &Root, dir: &RelPath, created: &Created) -> io::Result<()> {
    match root.existing(dir)? {
        Existing::Dir => {}
        _ => return Ok(()),
    }
    for child in root.list(dir)? {
        remove_lower(root, &dir.join(&child).expect("a plain name"), created)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tar(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }

    fn dir(b: &mut tar::Builder<Vec<u8>>, name: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        b.append_data(&mut h, name, &[][..]).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }

    fn apply(root_dir: &Path, layers: &[Vec<u8>]) -> Result<ImageTotals, ExtractError> {
        let root = Root::open(root_dir).unwrap();
        let opts = ImageOptions {
            files: None,
            limits: Limits::default(),
        };
        let mut totals = ImageTotals::default();
        for l in layers {
            apply_layer(&l[..], Compression::None, &root, &opts, &mut totals)?;
        }
        Ok(totals)
    }

    fn names(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                out.push(p.strip_prefix(root).unwrap().display().to_string());
                if e.file_type().unwrap().is_dir() {
                    stack.push(p);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn image_names_follow_the_one_rule_but_keep_backslashes() {
        // A Linux root filesystem: systemd unit names hold backslashes.
        let d = tempfile::tempdir().unwrap();
        let unit = "etc/systemd/system/dev-disk-by\\x2duuid.mount";
        apply(d.path(), &[tar(|t| file(t, unit, b"[Mount]\n"))]).unwrap();
        assert!(d.path().join(unit).is_file());
        for name in ["a\0b", "/etc/passwd", "../evil"] {
            let mut b = tar::Builder::new(Vec::new());
            b.append_pax_extensions([("path", name.as_bytes())])
                .unwrap();
            let mut h = tar::Header::new_ustar();
            h.as_old_mut().name[..1].copy_from_slice(b"x");
            h.set_size(0);
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
            let d = tempfile::tempdir().unwrap();
            let err = apply(d.path(), &[b.into_inner().unwrap()]).unwrap_err();
            assert_eq!(err.entry, name);
            let why = match name {
                "a\0b" => "contains a NUL byte",
                "/etc/passwd" => "absolute path",
                _ => "escapes the destination with '..'",
            };
            assert!(err.reason.contains(why), "{name:?}: {err}");
        }
    }

    #[test]
    fn the_entry_limit_holds_over_all_layers() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::open(d.path()).unwrap();
        let opts = ImageOptions {
            files: None,
            limits: Limits {
                max_entries: 3,
                ..Limits::default()
            },
        };
        let layer = |a: &str, b: &str| {
            tar(|t| {
                file(t, a, b"1");
                file(t, b, b"2");
            })
        };
        let mut totals = ImageTotals::default();
        let first = layer("a", "b");
        apply_layer(&first[..], Compression::None, &root, &opts, &mut totals).unwrap();
        let second = layer("c", "d");
        let Err(err) = apply_layer(&second[..], Compression::None, &root, &opts, &mut totals)
        else {
            panic!("a fourth entry passed a limit of three");
        };
        assert_eq!(err.entry, "d");
        assert_eq!(
            err.reason,
            "more than 3 entries; raise the entry limit if this image is trusted"
        );
    }

    #[test]
    fn upper_wins_whiteouts_delete_opaque_clears() {
        let d = tempfile::tempdir().unwrap();
        let lower = tar(|b| {
            file(b, "etc/app.conf", b"lower\n");
            file(b, "usr/bin/app", b"bin\n");
            file(b, "opq/old", b"old\n");
            file(b, "opq/sub/deep", b"deep\n");
            file(b, "gone/x", b"x\n");
        });
        let upper = tar(|b| {
            file(b, "etc/app.conf", b"upper\n");
            file(b, "usr/bin/.wh.app", b"");
            file(b, "opq/new", b"new\n");
            file(b, "opq/.wh..wh..opq", b"");
            file(b, ".wh.gone", b"");
        });
        apply(d.path(), &[lower, upper]).unwrap();
        assert_eq!(
            std::fs::read(d.path().join("etc/app.conf")).unwrap(),
            b"upper\n"
        );
        assert_eq!(
            names(d.path()),
            ["etc", "etc/app.conf", "opq", "opq/new", "usr", "usr/bin"]
        );
    }

    #[test]
    fn a_whiteout_spares_what_its_own_layer_wrote() {
        // Whiteout after the entry it names, within one layer: the entry
        // stays (only lower layers are hidden); the lower copy is gone.
        let d = tempfile::tempdir().unwrap();
        let lower = tar(|b| {
            file(b, "a/f", b"lower\n");
            file(b, "a/lower-only", b"l\n");
        });
        let upper = tar(|b| {
            file(b, "a/f", b"same layer\n");
            file(b, "a/.wh.f", b"");
            dir(b, "a");
            file(b, "a/.wh..wh..opq", b"");
        });
        apply(d.path(), &[lower, upper]).unwrap();
        assert_eq!(names(d.path()), ["a", "a/f"]);
        assert_eq!(
            std::fs::read(d.path().join("a/f")).unwrap(),
            b"same layer\n"
        );
    }

    #[test]
    fn whiteouts_never_reach_outside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim"), b"keep").unwrap();
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir(&root).unwrap();
        // A lower layer plants a link to the outside directory; whiteouts
        // through it, of it, and with `..` must not touch the outside.
        let target = outside.path().display().to_string();
        std::os::unix::fs::symlink(&target, root.join("planted")).unwrap();
        for (name, _) in [
            ("planted/.wh.victim", "through a link"),
            ("../.wh.victim", "dot-dot"),
            ("/.wh.victim", "absolute"),
        ] {
            let layer = tar(|b| {
                let mut h = tar::Header::new_gnu();
                h.set_size(0);
                h.set_mode(0o644);
                h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
                h.set_cksum();
                b.append(&h, &[][..]).unwrap();
            });
            assert!(apply(&root, &[layer]).is_err(), "{name} accepted");
            assert!(outside.path().join("victim").exists(), "{name}");
        }
        // A whiteout of the link itself removes the link, not its target.
        let layer = tar(|b| file(b, ".wh.planted", b""));
        apply(&root, &[layer]).unwrap();
        assert!(!root.join("planted").exists());
        assert!(outside.path().join("victim").exists());
    }

    #[test]
    fn links_inside_are_kept_links_outside_skipped() {
        let d = tempfile::tempdir().unwrap();
        let layer = tar(|b| {
            file(b, "bin/busybox", b"bb");
            link(b, "bin/sh", "busybox");
            link(b, "bin/abs", "/bin/busybox");
            link(b, "bin/up", "../../etc/passwd");
        });
        let totals = apply(d.path(), &[layer]).unwrap();
        assert_eq!(names(d.path()), ["bin", "bin/busybox", "bin/sh"]);
        assert_eq!(totals.warnings.len(), 2, "{:?}", totals.warnings);
    }

    #[test]
    fn a_file_replaces_a_lower_directory_and_back() {
        let d = tempfile::tempdir().unwrap();
        let l1 = tar(|b| file(b, "x/inner", b"i"));
        let l2 = tar(|b| file(b, "x", b"now a file"));
        let l3 = tar(|b| file(b, "x/again", b"a"));
        apply(d.path(), &[l1, l2.clone()]).unwrap();
        assert_eq!(std::fs::read(d.path().join("x")).unwrap(), b"now a file");
        let d = tempfile::tempdir().unwrap();
        let l1 = tar(|b| file(b, "x/inner", b"i"));
        let err = apply(d.path(), &[l1, l2, l3]);
        // A directory entry replaces the file; a file under a file is refused.
        assert!(err.is_err());
    }
}
