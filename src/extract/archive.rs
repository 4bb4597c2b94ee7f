//! Streaming tar extraction into a [`Root`], with oras's rules and limits.
//!
//! The tar reader is tar-rs (≥ 0.4.46, which honours PAX sizes: CVE-2026-33055);
//! every filesystem effect goes through [`Root`], so nothing can land outside
//! the root whatever the archive says. Entry names, link targets and limits
//! are checked here and refusals name the entry.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use tar::EntryType;

use super::root::{set_mode, set_mtime, RelPath, Root};
use crate::redact::escape;

/// Bounds that stop decompression bombs and hostile archives, per layer
/// or archive. The default allows 32 GiB of file content, a million
/// entries, 4096-byte paths, and an expansion of at most 200 bytes per
/// compressed byte once past 100 MiB (`vendoras sync --max-layer-bytes`,
/// `--max-layer-entries`, `--max-expansion-ratio`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Limits {
    /// Total bytes of file content.
    pub max_bytes: u64,
    /// Number of entries.
    pub max_entries: u64,
    /// Length of an entry's path, in bytes.
    pub max_path_len: usize,
    /// Most bytes a compressed layer or archive may expand to per
    /// compressed byte, once past `ratio_floor`; 0 turns the check off.
    /// gzip tops out near 1032:1 and real archives stay far below 200:1.
    pub max_ratio: u64,
    /// Expanded bytes below which the ratio is not checked (100 MiB).
    pub ratio_floor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 32 << 30,
            max_entries: 1_000_000,
            max_path_len: 4096,
            max_ratio: 200,
            ratio_floor: 100 << 20,
        }
    }
}

/// How modes land on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modes {
    /// As `oras pull`: the entry's permission bits through the umask
    /// (setuid/setgid/sticky dropped).
    Umask,
    /// As vendoras sync: files 0644, or 0755 when any execute bit is set;
    /// directories 0755; or one fixed mode for files when given.
    Normalized {
        /// A `permissions:` override for files.
        files: Option<u32>,
    },
}

/// Where and how to extract.
#[derive(Debug, Clone)]
pub struct Options {
    /// Every entry must lie at or beneath this path (oras: the layer's title).
    pub within: RelPath,
    /// The absolute path the root will finally have, if absolute symlink
    /// targets inside it are to be accepted (oras does so); `None` refuses
    /// every absolute symlink target.
    pub final_root: Option<PathBuf>,
    /// Mode policy.
    pub modes: Modes,
    /// Limits.
    pub limits: Limits,
    /// Create missing parent directories of files and links. oras does not
    /// (an entry whose directory was not in the archive fails), so `pull`
    /// turns this off; `sync` is lenient.
    pub create_parents: bool,
    /// Refuse whiteout entries (`.wh.<name>`, `.wh..wh..opq`): they are
    /// image-layer semantics, which `ociArtifact` does not apply, so writing
    /// them as files would be wrong. `oras pull` writes them as files
    /// (oras-go's `extractTarDirectory` has no whiteout rule), so `pull`
    /// keeps them.
    pub refuse_whiteouts: bool,
}

/// What an extraction did.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries written (files, dirs, links).
    pub entries: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Files and links written, relative to the root (for overlap checks
    /// and counts); directories are not listed.
    pub paths: Vec<RelPath>,
    /// Entries skipped, with the reason (devices, FIFOs, ...).
    pub warnings: Vec<String>,
}

/// An archive that was refused or could not be written.
#[derive(Debug, thiserror::Error)]
#[error("{entry}: {reason}")]
pub(crate) struct ExtractError {
    /// The entry's name as the archive spells it (or `<archive>`).
    pub entry: String,
    /// Why.
    pub reason: String,
}

pub(super) fn refuse(entry: &str, reason: impl Into<String>) -> ExtractError {
    ExtractError {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

/// Which archive a name comes from: the one difference [`entry_path`]
/// allows between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Names {
    /// tar, tar+gzip, tar+zstd and zip archives (layers, downloads, charts):
    /// a backslash is refused.
    Archive,
    /// An `image:` layer, a Linux root filesystem: a backslash is an
    /// ordinary character there (systemd unit names such as
    /// `dev-disk-by\x2duuid.mount` hold one), so it is kept.
    Image,
}

/// The one rule for an archive entry's name, for tar, zip and image layers
/// alike: where it lands beneath the root, or why it may not land anywhere.
/// Checked in this order, so the message says what is actually wrong:
///
/// * a NUL byte (no file name can hold one);
/// * a backslash, in [`Names::Archive`]: it is the Windows separator, so
///   `..\..\x` is a traversal wherever the vendored tree is checked out on
///   Windows, and no portable archive needs one in a name (zip's APPNOTE
///   requires `/`); tar and zip refuse it alike;
/// * an absolute name;
/// * a name that climbs above the root with `..`;
/// * a name longer than `limits.max_path_len` bytes once normalised.
///
/// `within` only words the absolute-name refusal as oras does ("is outside
/// of"); whether the path lies beneath `within` is the caller's check.
pub(crate) fn entry_path(
    name: &str,
    names: Names,
    within: &RelPath,
    limits: &Limits,
) -> Result<RelPath, ExtractError> {
    if name.contains('\0') {
        return Err(refuse(name, "the name contains a NUL byte"));
    }
    if names == Names::Archive && name.contains('\\') {
        return Err(refuse(
            name,
            "the name contains a backslash, which Windows reads as a path separator; \
             entry names must use `/`",
        ));
    }
    if name.starts_with('/') {
        return Err(refuse(
            name,
            if within.is_root() {
                "absolute path".to_string()
            } else {
                format!(
                    "\"{}\" is outside of {:?} (absolute path)",
                    escape(name),
                    within.to_string()
                )
            },
        ));
    }
    let rel = RelPath::normalize(name)
        .ok_or_else(|| refuse(name, "path escapes the destination with '..'"))?;
    if rel.byte_len() > limits.max_path_len {
        return Err(refuse(
            name,
            format!("path longer than {} bytes", limits.max_path_len),
        ));
    }
    Ok(rel)
}

/// A tar member that carries content: the entry, its name as written and
/// its type.
pub(super) type Member<'a, R> = (tar::Entry<'a, R>, String, EntryType);

/// The members of a tar stream, read as both extractors read them: more
/// than `max_entries` entries (counted into `count`, which may carry on from
/// earlier layers) are refused, naming `what` is extracted, and the
/// metadata entries tar-rs has already applied are skipped.
pub(super) fn members<'a, R: Read + 'a>(
    archive: &'a mut tar::Archive<R>,
    count: &'a mut u64,
    max_entries: u64,
    what: &'static str,
) -> Result<impl Iterator<Item = Result<Member<'a, R>, ExtractError>> + 'a, ExtractError> {
    let entries = archive
        .entries()
        .map_err(|e| refuse("<archive>", format!("not a tar archive: {e}")))?;
    Ok(entries.filter_map(move |entry| {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => return Some(Err(refuse("<archive>", format!("corrupt tar archive: {e}")))),
        };
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        *count += 1;
        if *count > max_entries {
            return Some(Err(refuse(
                &name,
                format!(
                    "more than {max_entries} entries; raise the entry limit if this {what} is trusted"
                ),
            )));
        }
        let kind = entry.header().entry_type();
        let metadata = matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        );
        (!metadata).then_some(Ok((entry, name, kind)))
    }))
}

/// Extracts a tar stream into `root`. Reads only up to the end-of-archive
/// marker: the caller drains and verifies the rest of the stream.
pub fn extract_tar<R: Read>(
    reader: R,
    root: &Root,
    opts: &Options,
) -> Result<(Report, R), ExtractError> {
    let mut archive = tar::Archive::new(reader);
    let mut report = Report::default();
    let mut files: HashSet<RelPath> = HashSet::new();
    // The directory the previous file went into: most archives write many
    // files per directory, so this saves walking from the root each time.
    let mut last_parent: Option<(RelPath, std::os::fd::OwnedFd)> = None;
    let mut buf = vec![0u8; 256 * 1024];
    let dir_mode = match opts.modes {
        Modes::Umask => 0o777,
        Modes::Normalized { .. } => 0o755,
    };
    let parents = opts.create_parents.then_some(dir_mode);
    let max = opts.limits.max_entries;
    for member in members(&mut archive, &mut report.entries, max, "archive")? {
        let (mut entry, raw_name, kind) = member?;
        let name = raw_name.as_str();
        let rel = entry_path(name, Names::Archive, &opts.within, &opts.limits)?;
        if !rel.starts_with(&opts.within) {
            return Err(refuse(
                name,
                format!("{name:?} is outside of {:?}", opts.within.to_string()),
            ));
        }
        if opts.refuse_whiteouts && rel.components().iter().any(|c| c.starts_with(".wh.")) {
            return Err(refuse(
                name,
                "whiteout entry refused: whiteouts are image-layer semantics, which an \
                 ociArtifact content does not apply; vendir's `image:` source applies them",
            ));
        }
        let io_err = |e: io::Error| refuse(name, e.to_string());
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        let mtime = entry.header().mtime().ok();
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = entry.size();
                if report.bytes.saturating_add(size) > opts.limits.max_bytes {
                    return Err(refuse(name, format!("archive expands beyond {} bytes; raise the size limit if this archive is trusted", opts.limits.max_bytes)));
                }
                if rel == opts.within && rel.is_root() {
                    return Err(refuse(name, "cannot write a file at the destination root"));
                }
                let create_mode = match opts.modes {
                    Modes::Umask => mode,
                    Modes::Normalized { .. } => 0o600,
                };
                let parent = rel.parent();
                if last_parent.as_ref().map(|(p, _)| p) != Some(&parent) {
                    last_parent = Some((
                        parent.clone(),
                        root.open_dir(&parent, parents).map_err(io_err)?,
                    ));
                }
                let (_, parent_fd) = last_parent.as_ref().expect("just set");
                let name = rel.file_name().expect("not the root");
                let mut file =
                    Root::create_file_in(parent_fd, name, &rel, create_mode).map_err(io_err)?;
                let written = copy(&mut entry, &mut file, &mut buf).map_err(io_err)?;
                report.bytes += written;
                if let Modes::Normalized { files } = opts.modes {
                    let m = files.unwrap_or(if mode & 0o111 != 0 { 0o755 } else { 0o644 });
                    set_mode(&file, m).map_err(io_err)?;
                }
                if let Some(t) = mtime {
                    let _ = set_mtime(&file, t);
                }
                files.insert(rel.clone());
            }
            EntryType::Directory => {
                let fd = root
                    .create_dir(
                        &rel,
                        if opts.modes == Modes::Umask {
                            mode
                        } else {
                            0o755
                        },
                    )
                    .map_err(io_err)?;
                if matches!(opts.modes, Modes::Normalized { .. }) {
                    set_mode(&fd, 0o755).map_err(io_err)?;
                }
                // Directories are shared between layers; only what they hold
                // can collide.
                continue;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| refuse(name, "symbolic link without a target"))?;
                check_symlink(name, &rel, &target, opts)?;
                root.symlink(&rel, &target, parents).map_err(io_err)?;
                files.remove(&rel);
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| refuse(name, "hard link without a target"))?;
                // Tar hard-link targets are archive paths, like entry names
                // (not relative to the link's directory).
                let trel = RelPath::normalize(&target)
                    .filter(|t| t.starts_with(&opts.within))
                    .ok_or_else(|| {
                        refuse(
                            name,
                            format!(
                                "hard link target {target:?} is outside of {:?}",
                                opts.within.to_string()
                            ),
                        )
                    })?;
                if !files.contains(&trel) {
                    return Err(refuse(name, format!("hard link target {target:?} is not a file extracted earlier from this archive")));
                }
                root.hard_link(&rel, &trel, parents).map_err(io_err)?;
                files.insert(rel.clone());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                report
                    .warnings
                    .push(format!("{}: skipped device or FIFO entry", escape(name)));
                continue;
            }
            other => {
                report.warnings.push(format!(
                    "{}: skipped unsupported entry type {other:?}",
                    escape(name)
                ));
                continue;
            }
        }
        report.paths.push(rel);
    }
    Ok((report, archive.into_inner()))
}

/// A symlink is kept only when its target, resolved from the link's
/// directory, stays within the allowed subtree (oras's `ensureLinkPath`).
fn check_symlink(
    name: &str,
    rel: &RelPath,
    target: &str,
    opts: &Options,
) -> Result<(), ExtractError> {
    let outside = || {
        refuse(
            name,
            format!(
                "symbolic link target {target:?} is outside of {:?}",
                opts.within.to_string()
            ),
        )
    };
    if target.is_empty() || target.contains('\0') {
        return Err(refuse(name, "symbolic link with an empty target"));
    }
    if let Some(abs) = target.strip_prefix('/') {
        // Accepted only when it points inside the final location.
        let root = opts.final_root.as_ref().ok_or_else(outside)?;
        let inside = opts.within.to_path(root);
        let resolved = RelPath::normalize(abs)
            .ok_or_else(outside)?
            .to_path(std::path::Path::new("/"));
        return if resolved.starts_with(&inside) {
            Ok(())
        } else {
            Err(outside())
        };
    }
    let resolved = rel.parent().join(target).ok_or_else(outside)?;
    if resolved.starts_with(&opts.within) {
        Ok(())
    } else {
        Err(outside())
    }
}

/// Copies `r` to `w` through `buf` (entries and plain-file layers alike).
pub(crate) fn copy<R: Read, W: Write>(r: &mut R, w: &mut W, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        total += n as u64;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn opts(limits: Limits) -> Options {
        Options {
            within: RelPath::root(),
            final_root: None,
            modes: Modes::Normalized { files: None },
            limits,
            create_parents: true,
            refuse_whiteouts: true,
        }
    }

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, name: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }

    #[test]
    fn a_symlink_chain_cannot_be_walked_through() {
        // a/up -> .. stays inside, but writing a/up/x would walk through a
        // link; so would a/up/up2 -> ../.. once composed. Both refused.
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let tar = archive(|b| {
            file(b, "a/keep.txt", b"k");
            link(b, "a/up", "..");
            file(b, "a/up/x.txt", b"through a link");
        });
        let err = extract_tar(&tar[..], &root, &opts(Limits::default())).unwrap_err();
        assert_eq!(err.entry, "a/up/x.txt");
        assert!(err.reason.contains("symbolic link"), "{err}");
        assert!(!dir.path().join("x.txt").exists());
    }

    #[test]
    fn whiteouts_are_refused_at_any_depth_unless_kept_for_pull() {
        for name in [
            ".wh.gone.txt",
            "a/b/.wh.gone",
            "a/.wh..wh..opq",
            ".wh.dir/x",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let root = Root::open(dir.path()).unwrap();
            let tar = archive(|b| {
                file(b, "a/keep.txt", b"k");
                file(b, name, b"");
            });
            let err = extract_tar(&tar[..], &root, &opts(Limits::default())).unwrap_err();
            assert_eq!(err.entry, name);
            assert!(
                err.reason.contains("whiteout") && err.reason.contains("`image:`"),
                "{err}"
            );
            assert!(!name
                .split('/')
                .fold(dir.path().to_path_buf(), |p, c| p.join(c))
                .exists());

            // pull (oras parity) writes them as files.
            let dir = tempfile::tempdir().unwrap();
            let root = Root::open(dir.path()).unwrap();
            let keep = Options {
                refuse_whiteouts: false,
                ..opts(Limits::default())
            };
            extract_tar(&tar[..], &root, &keep).unwrap();
            assert!(dir.path().join(name).is_file(), "{name}");
        }
        // A name merely containing ".wh." is an ordinary file.
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let tar = archive(|b| file(b, "a/not.wh.x", b"k"));
        extract_tar(&tar[..], &root, &opts(Limits::default())).unwrap();
    }

    #[test]
    fn link_targets_that_leave_the_root_are_refused_with_the_entry_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        for target in ["../../etc", "/etc/passwd", "a/../../../x"] {
            let tar = archive(|b| link(b, "d/l", target));
            let err = extract_tar(&tar[..], &root, &opts(Limits::default())).unwrap_err();
            assert_eq!(err.entry, "d/l", "{target}");
            assert!(err.reason.contains("outside"), "{target}: {err}");
        }
    }

    #[test]
    fn limits_stop_long_paths_many_entries_and_big_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        // A 5000-byte name (GNU long-name entry) against a 4096-byte limit.
        let long = format!("{}/f", "d".repeat(5000));
        let tar = archive(|b| file(b, &long, b"x"));
        let err = extract_tar(&tar[..], &root, &opts(Limits::default())).unwrap_err();
        assert!(err.reason.contains("path longer than 4096"), "{err}");

        let tar = archive(|b| (0..10).for_each(|i| file(b, &format!("f{i}"), b"x")));
        let limits = Limits {
            max_entries: 5,
            ..Limits::default()
        };
        let err = extract_tar(&tar[..], &root, &opts(limits)).unwrap_err();
        assert!(err.reason.contains("more than 5 entries"), "{err}");

        let tar = archive(|b| file(b, "big", &[0u8; 4096]));
        let limits = Limits {
            max_bytes: 1000,
            ..Limits::default()
        };
        let err = extract_tar(&tar[..], &root, &opts(limits)).unwrap_err();
        assert_eq!(err.entry, "big");
        assert!(err.reason.contains("beyond 1000 bytes"), "{err}");
    }

    /// A tar of one file whose name is `name` byte for byte: in the header's
    /// name field when it fits and holds no NUL, else in a PAX `path` record.
    fn raw_named(name: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        if name.len() >= 100 || name.contains('\0') {
            b.append_pax_extensions([("path", name.as_bytes())])
                .unwrap();
        }
        let mut h = tar::Header::new_ustar();
        let short = if name.len() < 100 && !name.contains('\0') {
            name
        } else {
            "placeholder"
        };
        h.as_old_mut().name[..short.len()].copy_from_slice(short.as_bytes());
        h.set_size(1);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        b.into_inner().unwrap()
    }

    /// The one name rule, case by case: each refusal says what is wrong.
    pub(crate) const NAME_CASES: &[(&str, &str)] = &[
        ("a\0b.txt", "contains a NUL byte"),
        ("dir/\0", "contains a NUL byte"),
        ("..\\..\\pwn.txt", "contains a backslash"),
        ("dir\\file.txt", "contains a backslash"),
        ("/etc/passwd", "absolute path"),
        ("../evil", "escapes the destination with '..'"),
        ("a/../../evil", "escapes the destination with '..'"),
    ];

    #[test]
    fn tar_names_follow_the_one_rule() {
        for (name, why) in NAME_CASES {
            let dir = tempfile::tempdir().unwrap();
            let root = Root::open(dir.path()).unwrap();
            let err =
                extract_tar(&raw_named(name)[..], &root, &opts(Limits::default())).unwrap_err();
            assert_eq!(err.entry, *name);
            assert!(err.reason.contains(why), "{name:?}: {err}");
            assert_eq!(
                std::fs::read_dir(dir.path()).unwrap().count(),
                0,
                "{name:?}"
            );
        }
        let long = format!("{}/f", "d".repeat(5000));
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let err = extract_tar(&raw_named(&long)[..], &root, &opts(Limits::default())).unwrap_err();
        assert!(err.reason.contains("path longer than 4096 bytes"), "{err}");
        // What the rule lets through lands where it says.
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        extract_tar(
            &raw_named("a/./b/../c.txt")[..],
            &root,
            &opts(Limits::default()),
        )
        .unwrap();
        assert!(dir.path().join("a/c.txt").is_file());
    }

    #[test]
    fn modes_are_normalised_and_special_bits_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = Root::open(dir.path()).unwrap();
        let tar = archive(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o4755);
            b.append_data(&mut h, "suid", &b"x"[..]).unwrap();
            let mut h = tar::Header::new_gnu();
            h.set_size(1);
            h.set_mode(0o600);
            b.append_data(&mut h, "private", &b"x"[..]).unwrap();
        });
        extract_tar(&tar[..], &root, &opts(Limits::default())).unwrap();
        let mode = |n: &str| {
            std::fs::metadata(dir.path().join(n))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode("suid"), 0o755);
        assert_eq!(mode("private"), 0o644);
    }
}
