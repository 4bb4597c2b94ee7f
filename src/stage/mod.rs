//! Staging and commit: each directory is assembled next to its destination
//! (same file system) and swapped in by rename only when every content in
//! it succeeded.
//!
//! The swap uses `renameat2(RENAME_EXCHANGE)` when the destination exists,
//! so there is no moment without a tree at the destination; the old tree
//! then sits at the staging path and is removed. Staging directories are
//! named `.vendoras-staging-<name>-<pid>` and any left by a killed run are
//! removed at the start of the next (under the working-directory lock).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{renameat_with, RenameFlags, CWD};

mod journal;

pub(crate) use journal::{crash_point, Swap};
pub use journal::{recover, Journal, Recovered};

use crate::error::{Error, Result};
use crate::extract::root::{set_mode, Existing};
use crate::extract::{RelPath, Root};
use crate::filter::{ContentPaths, IgnoreMatcher};

const PREFIX: &str = ".vendoras-staging-";

/// A directory being assembled.
pub struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    root: Root,
}

impl Staging {
    /// Creates an empty staging directory for `dest` beside it.
    pub fn create(dest: &Path) -> Result<Staging> {
        let parent = dest.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = parent.join(format!("{PREFIX}{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let root = Root::open(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging {
            dir,
            dest: dest.to_path_buf(),
            root,
        })
    }

    /// The staging root.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// A scratch directory for one content's raw fetch, inside staging (so
    /// moving files out of it is a rename).
    pub fn scratch(&self, index: usize) -> Result<(PathBuf, Root)> {
        let path = self.dir.join(format!(".fetch-{index}"));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        let root = Root::open(&path).map_err(|e| Error::io(&path, e))?;
        Ok((path, root))
    }

    /// Sets the mode of the staged content at `rel` (a directory, or the file a
    /// `manual` content names), as vendir chmods each content's staging path to
    /// its directory's `permissions`. A symlink there is left alone.
    pub fn set_content_mode(&self, rel: &RelPath, mode: u32) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.join(rel.components().join("/"));
        match fs::symlink_metadata(&path) {
            Ok(m) if !m.file_type().is_symlink() => {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o777))
                    .map_err(|e| Error::io(&path, e))
            }
            _ => Ok(()),
        }
    }

    /// Swaps the staged tree in. `mode` sets the directory's own mode. The
    /// previous tree is kept (at the staging path) until the returned
    /// [`Committed`] is finished or rolled back, so a sync of several
    /// directories can undo the ones it already swapped in.
    pub fn commit(mut self, mode: Option<u32>) -> Result<Committed> {
        set_mode(self.root_fd()?, mode.unwrap_or(0o755)).map_err(|e| Error::io(&self.dir, e))?;
        let exchanged = fs::symlink_metadata(&self.dest).is_ok();
        let flags = if exchanged {
            RenameFlags::EXCHANGE
        } else {
            RenameFlags::NOREPLACE
        };
        renameat_with(CWD, &self.dir, CWD, &self.dest, flags)
            .map_err(|e| Error::io(&self.dest, e.into()))?;
        // From here the staging path holds the old tree (or nothing): it
        // belongs to `Committed`, not to this value's Drop.
        Ok(Committed {
            dir: std::mem::take(&mut self.dir),
            dest: self.dest.clone(),
            exchanged,
        })
    }

    /// The swap [`Staging::commit`] will make, for the journal.
    pub(crate) fn planned_swap(&self) -> Result<Swap> {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        Ok(Swap {
            dest: self.dest.clone(),
            staging: self.dir.clone(),
            dev: meta.dev(),
            ino: meta.ino(),
            had_old: fs::symlink_metadata(&self.dest).is_ok(),
        })
    }

    fn root_fd(&self) -> Result<std::os::fd::OwnedFd> {
        self.root
            .open_dir(&RelPath::root(), None)
            .map_err(|e| Error::io(&self.dir, e))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.dir.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A directory swapped in whose previous tree is still kept: call
/// [`finish`](Committed::finish) once everything else (the other
/// directories, the lock) succeeded, or [`rollback`](Committed::rollback).
/// Dropped without either, the old tree stays at the staging path until the
/// next sync cleans it.
#[must_use = "finish or roll back a commit"]
pub struct Committed {
    /// The staging path: the old tree when `exchanged`, else nothing.
    dir: PathBuf,
    dest: PathBuf,
    exchanged: bool,
}

impl Committed {
    /// Drops the previous tree.
    pub fn finish(self) {
        if self.exchanged {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// Puts the previous tree back (or removes the new one when there was
    /// none) and drops the new tree. When that fails the error says where
    /// the previous tree now is.
    pub fn rollback(self) -> Result<(), String> {
        let flags = if self.exchanged {
            RenameFlags::EXCHANGE
        } else {
            RenameFlags::NOREPLACE
        };
        match renameat_with(CWD, &self.dest, CWD, &self.dir, flags) {
            Ok(()) => {
                let _ = fs::remove_dir_all(&self.dir);
                Ok(())
            }
            Err(e) if self.exchanged => Err(format!(
                "{} could not be restored ({}): the new tree is in its place and the previous \
                 one is at {}; move it back by hand before the next sync, which removes \
                 staging directories",
                self.dest.display(),
                std::io::Error::from(e),
                self.dir.display()
            )),
            Err(e) => Err(format!(
                "{} could not be removed again ({}): it holds the new tree; there was no \
                 previous one",
                self.dest.display(),
                std::io::Error::from(e)
            )),
        }
    }
}

/// Swaps every staged directory in, all or nothing: when one commit fails
/// the ones already made are rolled back, newest first. The previous trees
/// are kept until the caller finishes the returned commits, so work after
/// this (writing the lock) can still undo everything with
/// [`rollback_all`].
pub fn commit_all(stagings: Vec<(Staging, Option<u32>)>) -> Result<Vec<Committed>> {
    let mut done: Vec<Committed> = Vec::with_capacity(stagings.len());
    let mut stagings = stagings.into_iter();
    for (staging, mode) in stagings.by_ref() {
        match staging.commit(mode) {
            Ok(c) => {
                done.push(c);
                crash_point(&format!("swap-{}", done.len() - 1));
            }
            Err(e) => {
                // Not-yet-committed stagings are removed by their Drop.
                drop(stagings);
                return Err(rollback_all(done, e));
            }
        }
    }
    Ok(done)
}

/// Rolls `done` back, newest first, and returns `cause` with what was undone
/// (or, when an undo failed, where each previous tree now is).
pub fn rollback_all(done: Vec<Committed>, cause: Error) -> Error {
    if done.is_empty() {
        return cause;
    }
    let mut restored = Vec::new();
    let mut stuck = Vec::new();
    for c in done.into_iter().rev() {
        let dest = c.dest.clone();
        match c.rollback() {
            Ok(()) => restored.push(dest),
            Err(e) => stuck.push(e),
        }
    }
    if stuck.is_empty() {
        // Nothing changed on disk: the cause alone is what the user needs.
        return cause;
    }
    restored.reverse();
    Error::Rollback {
        source: Box::new(cause),
        stuck,
        restored,
    }
}

/// The directories a sync creates above its destinations (`deep/nested/` of
/// `deep/nested/dir`), so a failed sync can take them away again: dropped
/// without [`CreatedParents::keep`], it removes each one that is empty,
/// deepest first. Created before the stagings and dropped after them.
#[must_use = "keep the parents once the sync succeeded"]
pub struct CreatedParents {
    dirs: Vec<PathBuf>,
}

impl CreatedParents {
    /// Creates the missing parents of every destination, remembering which.
    pub fn create(dests: &[PathBuf]) -> Result<CreatedParents> {
        let mut created = CreatedParents { dirs: Vec::new() };
        for dest in dests {
            let Some(parent) = dest.parent() else {
                continue;
            };
            let missing: Vec<&Path> = parent
                .ancestors()
                .take_while(|p| !p.as_os_str().is_empty() && fs::symlink_metadata(p).is_err())
                .collect();
            for dir in missing.into_iter().rev() {
                match fs::create_dir(dir) {
                    Ok(()) => created.dirs.push(dir.to_path_buf()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    // `created` is dropped here: what it made so far goes again.
                    Err(e) => return Err(Error::io(dir, e)),
                }
            }
        }
        Ok(created)
    }

    /// The sync succeeded: the parents stay.
    pub fn keep(mut self) {
        self.dirs.clear();
    }
}

impl Drop for CreatedParents {
    fn drop(&mut self) {
        // Deepest first; one that is not empty (it holds something else
        // by now) stays.
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Removes staging directories a killed run left in `parent`.
pub fn clean_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(PREFIX) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Moves a fetched tree (`scratch`) into `dest` at `rel`: each fetched file
/// lands where [`ContentPaths::map`] says (filters on the fetched path, then
/// `newRootPath`, as vendir orders them). Returns the number of files and
/// links placed (`known_files` when the source counted them).
///
/// Without filters or `newRootPath` the tree moves whole, one rename per
/// top-level entry, and keeps the archive's empty directories; with them,
/// each kept file moves on its own and directories left without a kept file
/// are dropped (vendir's `FileFilter`). When the filters keep files but none
/// lies under `newRootPath`, the error says so (vendir: "Expected directory
/// ... (subpath) to exist").
pub fn place(
    scratch: &Root,
    dest: &Root,
    rel: &RelPath,
    paths: &ContentPaths,
    known_files: Option<u64>,
) -> Result<u64> {
    dest.create_dir(rel, 0o755)
        .map_err(|e| Error::io(rel.to_path(dest.path()), e))?;
    if paths.keeps_everything() {
        for name in list(scratch.path())? {
            let from = RelPath::root().join(&name).expect("plain name");
            let to = rel.join(&name).expect("plain name");
            scratch
                .merge_into(&from, dest, &to)
                .map_err(|e| Error::io(to.to_path(dest.path()), e))?;
        }
        return match known_files {
            Some(n) => Ok(n),
            None => count_files(&rel.to_path(dest.path())),
        };
    }
    let mut count = 0;
    let mut filtered_in = false;
    let mut stack = vec![RelPath::root()];
    while let Some(dir) = stack.pop() {
        for name in list(&dir.to_path(scratch.path()))? {
            let from = dir.join(&name).expect("plain name");
            let kind = scratch
                .existing(&from)
                .map_err(|e| Error::io(from.to_path(scratch.path()), e))?;
            if kind == Existing::Dir {
                stack.push(from);
                continue;
            }
            let fetched = from.to_string();
            filtered_in |= paths.filtered_in(&fetched);
            let Some(path) = paths.map(&fetched) else {
                continue;
            };
            let to = rel
                .join(&path)
                .ok_or_else(|| Error::entry(&path, "outside the content"))?;
            if kind == Existing::Symlink {
                // Re-rooting can make a link that was inside point outside.
                let target =
                    fs::read_link(from.to_path(scratch.path())).map_err(|e| Error::io(&path, e))?;
                let target = target.to_string_lossy();
                let inside = RelPath::normalize(&path).and_then(|p| p.parent().join(&target));
                if target.starts_with('/') || inside.is_none() {
                    return Err(Error::entry(
                        &path,
                        format!("symbolic link target {target:?} leaves the content after newRootPath/filters"),
                    ));
                }
            }
            scratch
                .merge_into(&from, dest, &to)
                .map_err(|e| Error::io(to.to_path(dest.path()), e))?;
            count += 1;
        }
    }
    if let (0, true, Some(root)) = (count, filtered_in, paths.new_root()) {
        return Err(Error::setting(
            "newRootPath",
            Some(root),
            "no such directory among the files includePaths/excludePaths kept",
        ));
    }
    Ok(count)
}

/// vendir's `ignorePaths` (`StagingDir.CopyExistingFiles`): every file (or
/// link) of the current tree at `current` whose path matches is carried into
/// the staged content at `rel`, over what was fetched there. Applied after
/// [`place`], as vendir applies it after the filters and `newRootPath`.
pub fn keep_ignored(
    current: &Path,
    dest: &Root,
    rel: &RelPath,
    ignore: &IgnoreMatcher,
) -> Result<()> {
    if !current.is_dir() {
        return Ok(());
    }
    let mut stack = vec![PathBuf::new()];
    while let Some(sub) = stack.pop() {
        let Ok(entries) = fs::read_dir(current.join(&sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let relative = sub.join(entry.file_name());
            let text = relative.to_string_lossy().into_owned();
            let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            if ft.is_dir() {
                stack.push(relative);
                continue;
            }
            if !ignore.is_ignored(&text) {
                continue;
            }
            let to = rel
                .join(&text)
                .ok_or_else(|| Error::entry(&text, "outside the content"))?;
            // The local file wins over a fetched one of the same name.
            match dest.existing(&to).map_err(|e| Error::io(&text, e))? {
                Existing::Absent => {}
                Existing::Dir => {
                    return Err(Error::entry(
                        &text,
                        "ignorePaths keeps a local file where the fetched content has a directory",
                    ))
                }
                _ => dest
                    .remove_all(&to)
                    .map_err(|e| Error::io(to.to_path(dest.path()), e))?,
            }
            link_tree(&entry.path(), dest, &to)?;
        }
    }
    Ok(())
}

/// Files and links beneath `dir` (not following links).
fn count_files(dir: &Path) -> Result<u64> {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for name in list(&d)? {
            let path = d.join(name);
            let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
            if meta.is_dir() {
                stack.push(path);
            } else {
                count += 1;
            }
        }
    }
    Ok(count)
}

fn list(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<_>>()
        .map_err(|e| Error::io(dir, e))?;
    names.sort();
    Ok(names)
}

/// A fingerprint of a committed tree: every entry's path, type, size, mode,
/// mtime, inode and link target. Any edit, addition or removal changes it,
/// which is what lets an unchanged directory be kept without re-extracting
/// it. `None` when the tree cannot be read (or does not exist).
pub fn fingerprint(root: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mut hasher = crate::digest::Hasher::new(crate::digest::Algorithm::Sha256);
    let mut stack = vec![PathBuf::new()];
    let meta = fs::symlink_metadata(root).ok()?;
    if !meta.is_dir() {
        return None;
    }
    while let Some(sub) = stack.pop() {
        for name in list(&root.join(&sub)).ok()? {
            let rel = sub.join(&name);
            let m = fs::symlink_metadata(root.join(&rel)).ok()?;
            let target = if m.file_type().is_symlink() {
                fs::read_link(root.join(&rel))
                    .ok()?
                    .to_string_lossy()
                    .into_owned()
            } else {
                String::new()
            };
            let line = format!(
                "{}\0{:o}\0{}\0{}.{}\0{}\0{}\n",
                rel.display(),
                m.mode(),
                m.len(),
                m.mtime(),
                m.mtime_nsec(),
                m.ino(),
                target
            );
            hasher.update(line.as_bytes());
            if m.is_dir() {
                stack.push(rel);
            }
        }
    }
    Some(hasher.finish().to_string())
}

/// Hard-links (or copies, across file systems) the tree at `src` into
/// `dest` at `rel`. Used to carry kept files (manual, lazy, ignorePaths)
/// from the current tree into staging without copying their bytes.
pub(crate) fn link_tree(src: &Path, dest: &Root, rel: &RelPath) -> Result<u64> {
    transfer_tree(src, dest, rel, true, None)
}

/// Copies the tree at `src` into `dest` at `rel` (`directory:` sources).
pub(crate) fn copy_tree(src: &Path, dest: &Root, rel: &RelPath) -> Result<u64> {
    transfer_tree(src, dest, rel, false, None)
}

/// Copies the tree at `src` into `dest` for a `directory:` source whose path
/// may hold directories being synced: `skip` (paths relative to `dest`) and
/// staging directories are left out.
pub(crate) fn copy_tree_except(src: &Path, dest: &Root, skip: &[&RelPath]) -> Result<u64> {
    transfer_tree(src, dest, &RelPath::root(), false, Some(skip))
}

fn transfer_tree(
    src: &Path,
    dest: &Root,
    rel: &RelPath,
    link: bool,
    skip: Option<&[&RelPath]>,
) -> Result<u64> {
    let meta = fs::symlink_metadata(src).map_err(|e| Error::io(src, e))?;
    let ft = meta.file_type();
    if ft.is_dir() {
        dest.create_dir(rel, 0o755).map_err(|e| Error::io(src, e))?;
        let mut total = 0;
        let mut entries: Vec<_> = fs::read_dir(src)
            .map_err(|e| Error::io(src, e))?
            .collect::<io::Result<_>>()
            .map_err(|e| Error::io(src, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = rel
                .join(&name)
                .filter(|c| c.components().len() == rel.components().len() + 1);
            let Some(child) = child else { continue };
            if skip.is_some_and(|s| s.contains(&&child) || name.starts_with(PREFIX)) {
                continue;
            }
            total += transfer_tree(&entry.path(), dest, &child, link, skip)?;
        }
        return Ok(total);
    }
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(|e| Error::io(src, e))?;
        dest.symlink(rel, &target.to_string_lossy(), Some(0o755))
            .map_err(|e| Error::io(src, e))?;
        return Ok(0);
    }
    if !ft.is_file() {
        return Ok(0);
    }
    let target = rel.to_path(dest.path());
    if link && dest.link_from(src, rel, Some(0o755)).is_ok() {
        return Ok(meta.len());
    }
    let mut from = fs::File::open(src).map_err(|e| Error::io(src, e))?;
    let mut to = dest
        .create_file(rel, 0o600, Some(0o755))
        .map_err(|e| Error::io(&target, e))?;
    io::copy(&mut from, &mut to).map_err(|e| Error::io(&target, e))?;
    use std::os::unix::fs::PermissionsExt;
    crate::extract::root::set_mode(&to, meta.permissions().mode())
        .map_err(|e| Error::io(&target, e))?;
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, data: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    #[test]
    fn ignored_local_files_win_over_fetched_ones_and_nothing_else_is_carried() {
        let current = tempfile::tempdir().unwrap();
        let staged = tempfile::tempdir().unwrap();
        write(current.path(), "local.yml", "edited locally\n");
        write(current.path(), "notes/todo.md", "mine\n");
        write(current.path(), "a.yml", "old copy\n");
        write(staged.path(), "c/local.yml", "fetched\n");
        write(staged.path(), "c/a.yml", "fetched a\n");
        let dest = Root::open(staged.path()).unwrap();
        let rel = RelPath::normalize("c").unwrap();
        let ignore = IgnoreMatcher::new(&["local.yml".into(), "notes/**".into()]).unwrap();
        keep_ignored(current.path(), &dest, &rel, &ignore).unwrap();
        let read = |p: &str| fs::read_to_string(staged.path().join(p)).unwrap();
        assert_eq!(read("c/local.yml"), "edited locally\n");
        assert_eq!(read("c/notes/todo.md"), "mine\n");
        assert_eq!(
            read("c/a.yml"),
            "fetched a\n",
            "not ignored: the fetched file stays"
        );

        // A local file where the fetched content has a directory is refused.
        write(staged.path(), "c/notes.d/x", "fetched\n");
        write(current.path(), "notes.d", "a file\n");
        let ignore = IgnoreMatcher::new(&["notes.d".into()]).unwrap();
        let e = keep_ignored(current.path(), &dest, &rel, &ignore).unwrap_err();
        assert!(e.to_string().contains("notes.d"), "{e}");
        // No current tree: nothing to keep.
        keep_ignored(&current.path().join("missing"), &dest, &rel, &ignore).unwrap();
    }
}
