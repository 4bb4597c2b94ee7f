//! The commit journal: what makes the swap of several directories and the
//! lock one step even across `kill -9`.
//!
//! Before the first directory is swapped in, [`Journal::begin`] durably
//! writes, beside the lock (`.vendoras-journal.json`), every planned swap —
//! destination, staging path, and the device and inode of the new tree —
//! and the bytes of the new lock. A rename keeps a directory's inode, so
//! whether a swap happened can be read off the destination later. The file
//! is removed once the lock is written and the old trees are gone.
//!
//! A run killed in between leaves it. The next sync, holding the
//! working-directory lock, calls [`recover`] before anything else:
//! * every swap happened: the commit is finished (the journal's lock bytes
//!   are written, the old trees removed);
//! * otherwise it is undone: each swapped directory is exchanged back (or
//!   removed, when there was none before), and the lock, never written
//!   before the last swap, is left alone.
//!
//! Either way the working directory ends as one sync or the other left it,
//! never a mix.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{renameat_with, RenameFlags, CWD};
use serde::{Deserialize, Serialize};

use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};

const NAME: &str = ".vendoras-journal.json";

/// One planned swap.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Swap {
    /// The directory being replaced.
    pub dest: PathBuf,
    /// Where the new tree is staged (and where the old one goes).
    pub staging: PathBuf,
    /// The new tree's device and inode.
    pub dev: u64,
    pub ino: u64,
    /// Whether `dest` existed before (an exchange, not a plain rename).
    pub had_old: bool,
}

impl Swap {
    fn happened(&self) -> bool {
        fs::symlink_metadata(&self.dest).is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    swaps: Vec<Swap>,
    /// The lock file and its new bytes; `None` when this sync saves no lock.
    lock: Option<(PathBuf, String)>,
}

/// A commit in progress; [`Journal::done`] when it finished or was rolled back.
#[must_use = "call done() once the commit finished or was rolled back"]
pub struct Journal {
    path: PathBuf,
}

/// The journal's path for a lock file (beside it).
fn journal_path(lock_file: &Path) -> PathBuf {
    lock_file.parent().unwrap_or(Path::new(".")).join(NAME)
}

impl Journal {
    /// Writes the journal durably: `swaps` about to happen, then `lock`
    /// (path and bytes) written.
    pub(crate) fn begin(
        lock_file: &Path,
        swaps: Vec<Swap>,
        lock: Option<String>,
    ) -> Result<Journal> {
        let path = journal_path(lock_file);
        let record = Record {
            swaps,
            lock: lock.map(|text| (lock_file.to_path_buf(), text)),
        };
        let bytes = serde_json::to_vec(&record).expect("a journal serialises");
        crate::atomic::write(&path, &bytes, true).map_err(|e| Error::io(&path, e))?;
        Ok(Journal { path })
    }

    /// The commit finished, or was rolled back in this process.
    pub fn done(self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// What [`recover`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovered {
    /// Every swap had happened: the commit was finished.
    Finished(usize),
    /// Swaps had been cut short: this many were undone.
    RolledBack(usize),
}

/// Finishes or undoes the commit a killed run left (see the module doc);
/// `None` when there was none.
pub fn recover(lock_file: &Path) -> Result<Option<Recovered>> {
    let path = journal_path(lock_file);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let record: Record = serde_json::from_slice(&bytes).map_err(|e| {
        Error::io(
            &path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("an interrupted sync's journal cannot be read ({e}); check the directories it names and remove it"),
            ),
        )
    })?;
    let outcome = if record.swaps.iter().all(Swap::happened) {
        if let Some((lock, text)) = &record.lock {
            let same = fs::read(lock).ok().is_some_and(|b| {
                Digest::of(Algorithm::Sha256, &b) == Digest::of(Algorithm::Sha256, text.as_bytes())
            });
            if !same {
                crate::atomic::write(lock, text.as_bytes(), true)
                    .map_err(|e| Error::io(lock, e))?;
            }
        }
        Recovered::Finished(record.swaps.len())
    } else {
        let mut undone = 0;
        for swap in record.swaps.iter().rev().filter(|s| s.happened()) {
            let flags = if swap.had_old {
                RenameFlags::EXCHANGE
            } else {
                RenameFlags::NOREPLACE
            };
            renameat_with(CWD, &swap.dest, CWD, &swap.staging, flags)
                .map_err(|e| Error::io(&swap.dest, e.into()))?;
            undone += 1;
        }
        Recovered::RolledBack(undone)
    };
    // What is left at the staging paths: old trees (finished) or new ones
    // (undone, or never swapped).
    for swap in &record.swaps {
        let _ = fs::remove_dir_all(&swap.staging);
    }
    fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    Ok(Some(outcome))
}

/// Kills the process (SIGKILL, as `kill -9`) at the named step of a commit
/// when `VENDORAS_CRASH_AT` names it: the tests of the journal use it to
/// stop a sync between any two steps. Debug builds only.
pub(crate) fn crash_point(step: &str) {
    if cfg!(debug_assertions) && std::env::var("VENDORAS_CRASH_AT").is_ok_and(|v| v == step) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}
