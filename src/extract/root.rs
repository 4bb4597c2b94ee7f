//! File operations confined beneath a root directory, by construction.
//!
//! Every operation starts from the root's directory fd and walks one path
//! component at a time with `openat(O_NOFOLLOW | O_DIRECTORY)`: no path
//! string with more than one component ever reaches the kernel, `..` never
//! does (paths are normalised lexically first, see [`RelPath`] in
//! `src/relpath.rs`), and a
//! symlink anywhere on the way is an error rather than something followed.
//! Files are created with `O_CREAT | O_EXCL | O_NOFOLLOW` after unlinking
//! whatever stood there, and modes are set with `fchmod` on the open fd, so
//! neither a planted symlink nor a race can redirect a write or a chmod
//! (tar-rs CVE-2026-33056, containerd CVE-2021-32760, oras-go
//! GHSA-m37j-52j7-pjw7).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;

pub use crate::relpath::RelPath;

/// What already stands at a path, not following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Nothing.
    Absent,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A regular file.
    File,
    /// Something else (device, FIFO, socket).
    Other,
}

/// A directory everything is confined beneath.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

fn errno(e: Errno) -> io::Error {
    e.into()
}

fn refused(path: &RelPath, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, format!("{path}: {why}"))
}

impl Root {
    /// Opens an existing directory as a root. The root path itself may be
    /// reached through symlinks (it is the caller's choice); nothing
    /// beneath it will be.
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::open(
            path,
            OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
            Mode::empty(),
        )?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The root's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the directory at `rel` (no symlinks on the way), creating
    /// missing components with `dir_mode` when `create` is set.
    pub fn open_dir(&self, rel: &RelPath, create: Option<u32>) -> io::Result<OwnedFd> {
        let mut cur = rfs::openat(
            &self.fd,
            ".",
            OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
            Mode::empty(),
        )?;
        for (i, comp) in rel.components().iter().enumerate() {
            let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
            cur = match rfs::openat(&cur, comp.as_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create.is_some() => {
                    match rfs::mkdirat(
                        &cur,
                        comp.as_str(),
                        Mode::from_raw_mode(create.unwrap_or(0o755)),
                    ) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(errno(e)),
                    }
                    rfs::openat(&cur, comp.as_str(), flags, Mode::empty())
                        .map_err(|e| self.explain(rel, i, e))?
                }
                Err(e) => return Err(self.explain(rel, i, e)),
            };
        }
        Ok(cur)
    }

    fn explain(&self, rel: &RelPath, i: usize, e: Errno) -> io::Error {
        let upto = rel.prefix(i + 1);
        // O_NOFOLLOW | O_DIRECTORY on a symlink fails with ELOOP or ENOTDIR
        // depending on the kernel path; look at what is there to say which.
        let is_link = matches!(self.existing(&upto), Ok(Existing::Symlink));
        match e {
            Errno::LOOP | Errno::NOTDIR if is_link => refused(
                rel,
                &format!("refusing to write through the symbolic link {upto}"),
            ),
            Errno::NOTDIR => refused(rel, &format!("{upto} is not a directory")),
            e => io::Error::new(errno(e).kind(), format!("{upto}: {e}")),
        }
    }

    /// Reports what stands at `rel` without following symlinks.
    pub fn existing(&self, rel: &RelPath) -> io::Result<Existing> {
        let Some(name) = rel.file_name() else {
            return Ok(Existing::Dir);
        };
        let parent = match self.open_dir(&rel.parent(), None) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Absent),
            Err(e) => return Err(e),
        };
        existing_at(&parent, name)
    }

    /// Removes whatever non-directory stands at `name` in `dir` (a file, a
    /// symlink), so the next create cannot be redirected through it.
    fn clear(dir: &OwnedFd, name: &str, rel: &RelPath) -> io::Result<()> {
        match existing_at(dir, name)? {
            Existing::Absent => Ok(()),
            Existing::Dir => Err(refused(rel, "a directory already exists there")),
            _ => rfs::unlinkat(dir, name, AtFlags::empty()).map_err(errno),
        }
    }

    /// Creates (replacing a file or symlink already there) a regular file at
    /// `rel`. Missing parents are created with mode `parents`, or are an
    /// error when it is `None`. `mode` is passed to `openat`, so the umask
    /// applies; use [`set_mode`] for exact modes.
    pub fn create_file(&self, rel: &RelPath, mode: u32, parents: Option<u32>) -> io::Result<File> {
        let name = rel
            .file_name()
            .ok_or_else(|| refused(rel, "cannot write a file at the root"))?;
        let parent = self.open_dir(&rel.parent(), parents)?;
        Self::create_file_in(&parent, name, rel, mode)
    }

    /// [`Root::create_file`] in a parent directory already opened with
    /// [`Root::open_dir`] (extraction keeps the last one open: directories
    /// are never removed while extracting, so that fd cannot go stale).
    pub fn create_file_in(
        parent: &OwnedFd,
        name: &str,
        rel: &RelPath,
        mode: u32,
    ) -> io::Result<File> {
        Self::clear(parent, name, rel)?;
        let fd = rfs::openat(
            parent,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode & 0o777),
        )
        .map_err(|e| io::Error::new(errno(e).kind(), format!("{rel}: {e}")))?;
        Ok(File::from(fd))
    }

    /// Creates the directory at `rel` (and its parents). A symlink or file
    /// standing there is replaced; an existing directory is kept. Returns
    /// the directory's fd.
    pub fn create_dir(&self, rel: &RelPath, mode: u32) -> io::Result<OwnedFd> {
        if let Some(name) = rel.file_name() {
            let parent = self.open_dir(&rel.parent(), Some(mode))?;
            match existing_at(&parent, name)? {
                Existing::Dir | Existing::Absent => {}
                _ => rfs::unlinkat(&parent, name, AtFlags::empty()).map_err(errno)?,
            }
        }
        self.open_dir(rel, Some(mode))
    }

    /// Creates a symlink at `rel` pointing at `target` (kept verbatim; the
    /// caller checks that it stays inside). Replaces a file or symlink.
    pub fn symlink(&self, rel: &RelPath, target: &str, parents: Option<u32>) -> io::Result<()> {
        let name = rel
            .file_name()
            .ok_or_else(|| refused(rel, "cannot replace the root with a link"))?;
        let parent = self.open_dir(&rel.parent(), parents)?;
        Self::clear(&parent, name, rel)?;
        rfs::symlinkat(target, &parent, name)
            .map_err(|e| io::Error::new(errno(e).kind(), format!("{rel}: {e}")))
    }

    /// Hard-links `rel` to the regular file at `target` (both beneath the
    /// root). Refuses a target that is not a regular file.
    pub fn hard_link(
        &self,
        rel: &RelPath,
        target: &RelPath,
        parents: Option<u32>,
    ) -> io::Result<()> {
        let tname = target
            .file_name()
            .ok_or_else(|| refused(rel, "hard link to the root"))?;
        let tdir = self.open_dir(&target.parent(), None)?;
        if existing_at(&tdir, tname)? != Existing::File {
            return Err(refused(
                rel,
                &format!("hard link target {target} is not a regular file"),
            ));
        }
        let name = rel
            .file_name()
            .ok_or_else(|| refused(rel, "cannot replace the root with a link"))?;
        let parent = self.open_dir(&rel.parent(), parents)?;
        Self::clear(&parent, name, rel)?;
        // No AT_SYMLINK_FOLLOW: the target itself is linked, never followed.
        rfs::linkat(&tdir, tname, &parent, name, AtFlags::empty())
            .map_err(|e| io::Error::new(errno(e).kind(), format!("{rel}: {e}")))
    }

    /// Hard-links the existing file at `src` (outside any root) to `rel`.
    pub fn link_from(&self, src: &Path, rel: &RelPath, parents: Option<u32>) -> io::Result<()> {
        let name = rel
            .file_name()
            .ok_or_else(|| refused(rel, "cannot replace the root with a link"))?;
        let parent = self.open_dir(&rel.parent(), parents)?;
        Self::clear(&parent, name, rel)?;
        rfs::linkat(CWD, src, &parent, name, AtFlags::empty()).map_err(errno)
    }

    /// Opens the regular file at `rel` for reading (no symlinks on the way
    /// or at the end).
    pub fn open_file(&self, rel: &RelPath) -> io::Result<File> {
        let name = rel
            .file_name()
            .ok_or_else(|| refused(rel, "the root is not a file"))?;
        let parent = self.open_dir(&rel.parent(), None)?;
        let fd = rfs::openat(
            &parent,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io::Error::new(errno(e).kind(), format!("{rel}: {e}")))?;
        Ok(File::from(fd))
    }

    /// Removes the empty directory at `rel`.
    pub fn remove_empty_dir(&self, rel: &RelPath) -> io::Result<()> {
        let name = rel
            .file_name()
            .ok_or_else(|| refused(rel, "cannot remove the root"))?;
        let parent = self.open_dir(&rel.parent(), None)?;
        rfs::unlinkat(&parent, name, AtFlags::REMOVEDIR)
            .map_err(|e| io::Error::new(errno(e).kind(), format!("{rel}: {e}")))
    }

    /// Removes whatever stands at `rel` (a directory with everything in it,
    /// a file, a symlink); nothing there is not an error. Every step is
    /// fd-relative with `O_NOFOLLOW`: a symlink is unlinked, never followed,
    /// so nothing outside the root can be removed. Refuses the root itself.
    pub fn remove_all(&self, rel: &RelPath) -> io::Result<()> {
        let name = rel
            .file_name()
            .ok_or_else(|| refused(rel, "cannot remove the root"))?;
        let parent = match self.open_dir(&rel.parent(), None) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        remove_at(&parent, name).map_err(|e| io::Error::new(e.kind(), format!("{rel}: {e}")))
    }

    /// The directory at `rel` (created, replacing a file or symlink there)
    /// as a root of its own.
    pub fn subroot(&self, rel: &RelPath) -> io::Result<Root> {
        let fd = self.create_dir(rel, 0o755)?;
        Ok(Root {
            fd,
            path: rel.to_path(&self.path),
        })
    }

    /// Reads the regular file at `rel` (no symlinks on the way or at the
    /// end), at most `max` bytes; `None` when nothing is there.
    pub fn read_file(&self, rel: &RelPath, max: u64) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        let Some(name) = rel.file_name() else {
            return Ok(None);
        };
        let parent = match self.open_dir(&rel.parent(), None) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if existing_at(&parent, name)? != Existing::File {
            return Ok(None);
        }
        let fd = rfs::openat(
            &parent,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut out = Vec::new();
        File::from(fd).take(max).read_to_end(&mut out)?;
        Ok(Some(out))
    }

    /// The names in the directory at `rel` (no symlinks on the way), sorted.
    pub fn list(&self, rel: &RelPath) -> io::Result<Vec<String>> {
        list(&self.open_dir(rel, None)?)
    }

    /// Moves `rel` from this root to `dest_rel` under `dest`, merging into
    /// directories that already exist there and replacing files and
    /// symlinks (what oras does when pulling over an existing tree).
    pub fn merge_into(&self, rel: &RelPath, dest: &Root, dest_rel: &RelPath) -> io::Result<()> {
        let (Some(name), Some(dname)) = (rel.file_name(), dest_rel.file_name()) else {
            // Root into root: merge every entry.
            let dir = self.open_dir(rel, None)?;
            for entry in list(&dir)? {
                self.merge_into(
                    &rel.join(&entry).expect("plain name"),
                    dest,
                    &dest_rel.join(&entry).expect("plain name"),
                )?;
            }
            return Ok(());
        };
        let src_parent = self.open_dir(&rel.parent(), None)?;
        let dst_parent = dest.open_dir(&dest_rel.parent(), Some(0o777))?;
        let src_kind = existing_at(&src_parent, name)?;
        match (src_kind, existing_at(&dst_parent, dname)?) {
            (Existing::Dir, Existing::Dir) => {
                let dir = self.open_dir(rel, None)?;
                for entry in list(&dir)? {
                    self.merge_into(
                        &rel.join(&entry).expect("plain name"),
                        dest,
                        &dest_rel.join(&entry).expect("plain name"),
                    )?;
                }
                Ok(())
            }
            (_, Existing::Dir) => Err(refused(dest_rel, "a directory already exists there")),
            _ => rfs::renameat(&src_parent, name, &dst_parent, dname)
                .map_err(|e| io::Error::new(errno(e).kind(), format!("{dest_rel}: {e}"))),
        }
    }
}

/// Sets exact permission bits on an open file or directory (never by path,
/// so never through a symlink).
pub fn set_mode<Fd: AsFd>(fd: Fd, mode: u32) -> io::Result<()> {
    rfs::fchmod(fd, Mode::from_raw_mode(mode & 0o777)).map_err(errno)
}

/// Sets the modification time of an open file.
pub fn set_mtime<Fd: AsFd>(fd: Fd, secs: u64) -> io::Result<()> {
    let t = rfs::Timespec {
        tv_sec: secs.min(i64::MAX as u64) as i64,
        tv_nsec: 0,
    };
    let times = rfs::Timestamps {
        last_access: rfs::Timespec {
            tv_sec: 0,
            tv_nsec: rfs::UTIME_OMIT,
        },
        last_modification: t,
    };
    rfs::futimens(fd, &times).map_err(errno)
}

fn existing_at(dir: &OwnedFd, name: &str) -> io::Result<Existing> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => Existing::Dir,
            FileType::Symlink => Existing::Symlink,
            FileType::RegularFile => Existing::File,
            _ => Existing::Other,
        }),
        Err(Errno::NOENT) => Ok(Existing::Absent),
        Err(e) => Err(errno(e)),
    }
}

/// Removes `name` in `dir` and, for a directory, everything beneath it,
/// without following any symlink.
fn remove_at(dir: &OwnedFd, name: &str) -> io::Result<()> {
    match existing_at(dir, name)? {
        Existing::Absent => Ok(()),
        Existing::Dir => {
            let sub = rfs::openat(
                dir,
                name,
                OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY,
                Mode::empty(),
            )?;
            for child in list(&sub)? {
                remove_at(&sub, &child)?;
            }
            rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(errno)
        }
        _ => rfs::unlinkat(dir, name, AtFlags::empty()).map_err(errno),
    }
}

fn list(dir: &OwnedFd) -> io::Result<Vec<String>> {
    let fd = rfs::openat(
        dir,
        ".",
        OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for entry in rfs::Dir::read_from(&fd)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Removes a directory tree if it exists (staging clean-up).
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn normalize_refuses_escapes() {
        assert_eq!(
            RelPath::normalize("a/./b//c/").unwrap().to_string(),
            "a/b/c"
        );
        assert_eq!(RelPath::normalize("a/../b").unwrap().to_string(), "b");
        assert!(RelPath::normalize("../x").is_none());
        assert!(RelPath::normalize("a/../../x").is_none());
        assert!(RelPath::normalize("/etc/passwd").is_none());
        assert!(RelPath::normalize(".").unwrap().is_root());
    }

    #[test]
    fn writes_never_follow_a_planted_symlink() {
        let outside = tempfile::tempdir().unwrap();
        let root_dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root_dir.path().join("evil")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), root_dir.path().join("link")).unwrap();
        let root = Root::open(root_dir.path()).unwrap();

        let err = root
            .create_file(&RelPath::normalize("evil/x").unwrap(), 0o644, Some(0o755))
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link evil"), "{err}");
        let err = root
            .create_dir(&RelPath::normalize("evil/d").unwrap(), 0o755)
            .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        // A file entry over a symlink replaces the link, never writes through.
        let mut f = root
            .create_file(&RelPath::normalize("link").unwrap(), 0o644, Some(0o755))
            .unwrap();
        f.write_all(b"inside").unwrap();
        assert!(!outside.path().join("f").exists());
        assert_eq!(
            std::fs::read(root_dir.path().join("link")).unwrap(),
            b"inside"
        );
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn hard_links_only_to_regular_files() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"s").unwrap();
        let root_dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), root_dir.path().join("sl"))
            .unwrap();
        let root = Root::open(root_dir.path()).unwrap();
        let err = root
            .hard_link(
                &RelPath::normalize("h").unwrap(),
                &RelPath::normalize("sl").unwrap(),
                Some(0o755),
            )
            .unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        root.create_file(&RelPath::normalize("a").unwrap(), 0o644, None)
            .unwrap();
        root.hard_link(
            &RelPath::normalize("d/h").unwrap(),
            &RelPath::normalize("a").unwrap(),
            Some(0o755),
        )
        .unwrap();
        assert!(root_dir.path().join("d/h").is_file());
    }

    #[test]
    fn merge_replaces_files_and_keeps_unrelated_ones() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("d/e")).unwrap();
        std::fs::write(src.path().join("d/e/new"), b"new").unwrap();
        std::fs::write(src.path().join("d/same"), b"new").unwrap();
        std::fs::create_dir_all(dst.path().join("d")).unwrap();
        std::fs::write(dst.path().join("d/same"), b"old").unwrap();
        std::fs::write(dst.path().join("d/keep"), b"keep").unwrap();
        let (s, d) = (
            Root::open(src.path()).unwrap(),
            Root::open(dst.path()).unwrap(),
        );
        s.merge_into(&RelPath::root(), &d, &RelPath::root())
            .unwrap();
        assert_eq!(std::fs::read(dst.path().join("d/same")).unwrap(), b"new");
        assert_eq!(std::fs::read(dst.path().join("d/keep")).unwrap(), b"keep");
        assert_eq!(std::fs::read(dst.path().join("d/e/new")).unwrap(), b"new");
    }
}
