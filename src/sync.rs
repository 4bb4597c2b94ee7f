//! `vendoras sync`: config → (resolve → verify → fetch → extract) per
//! content, concurrently → stage per directory → commit all → lock.
//!
//! All or nothing: every directory is staged first; only when every content
//! of every selected directory succeeded are they swapped in, and only then
//! is the lock written. Any failure (network, digest, signature, archive,
//! disk, Ctrl-C) leaves the previous trees and lock as they were.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation, Mode, OFlags};

use crate::cache::Cache;
use crate::config::{self, Content, Directory, Input, Loaded, Source as SourceConfig};
use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};
use crate::extract::{self, RelPath};
use crate::fetch::{self, link_tree, FetchContext};
use crate::ffi::Op;
use crate::filter::{ContentFilter, IgnoreMatcher};
use crate::lock::{LockConfig, LockContent, LockDirectory};
use crate::stage::{self, Staging};

/// Options of a sync, named after vendir's flags.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// The config documents (`-f`).
    pub inputs: Vec<Input>,
    /// The lock file (`--lock-file`).
    pub lock_file: PathBuf,
    /// `-d dir[=local-dir]`: only these directories (empty = all).
    pub only: Vec<(String, Option<PathBuf>)>,
    /// `--locked`: pull exactly the digests in the lock.
    pub locked: bool,
    /// `--lazy`: honour `lazy: true` (default on).
    pub lazy: bool,
    /// `--jobs`: contents fetched at once.
    pub jobs: usize,
    /// Blob cache directory, or `None` to disable the cache.
    pub cache_dir: Option<PathBuf>,
    /// The working directory.
    pub workdir: PathBuf,
}

/// A progress event.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A content started.
    Started {
        /// Its id (`directory/content`).
        id: &'a str,
    },
    /// Bytes arrived for a content.
    Bytes {
        /// Its id.
        id: &'a str,
        /// How many more.
        n: u64,
    },
    /// A content finished.
    Finished {
        /// The report.
        report: &'a ContentReport,
    },
    /// A warning about a content.
    Warning {
        /// Its id.
        id: &'a str,
        /// The text.
        message: &'a str,
    },
    /// Waiting for another sync in the same directory.
    Waiting,
}

/// What happened to one content.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContentReport {
    /// `directory/content` path.
    pub path: String,
    /// The source kind (`ociArtifact`, `manual`, ...).
    pub source: String,
    /// What was fetched (`registry/repo@sha256:…`), or `lazy (unchanged)`.
    pub reference: String,
    /// The resolved digest, for OCI artifacts.
    pub digest: Option<String>,
    /// Files placed.
    pub files: u64,
    /// Bytes downloaded (0 when cached or skipped).
    pub bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// Whether `lazy` skipped the fetch.
    pub skipped: bool,
}

/// What a sync did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    /// One entry per content, in config order.
    pub contents: Vec<ContentReport>,
    /// Whether the lock file changed.
    pub lock_written: bool,
}

/// Runs a sync.
pub fn sync(
    opts: &SyncOptions,
    op: &Arc<Op>,
    events: &(dyn Fn(Event<'_>) + Sync),
) -> Result<SyncReport> {
    let loaded = config::load(&opts.inputs).map_err(|e| Error::Refused(e.to_string()))?;
    let _guard = lock_workdir(&opts.workdir, op, events)?;
    let lock_path = opts.workdir.join(&opts.lock_file);
    let previous = LockConfig::read(&lock_path)?;

    let directories = select(&loaded, &opts.only)?;
    if opts.locked {
        check_locked(&directories, previous.as_ref(), &lock_path)?;
    }
    let cache = opts.cache_dir.as_ref().map(Cache::new);

    // Stage every directory.
    // Clean what killed runs left in every parent first: a parent may hold
    // several of this run's directories.
    let dests: Vec<PathBuf> = directories
        .iter()
        .map(|(dir, _)| opts.workdir.join(&dir.path))
        .collect();
    for dest in &dests {
        stage::clean_stale(dest.parent().unwrap_or(&opts.workdir));
    }
    let stagings = dests
        .iter()
        .map(|d| Staging::create(d))
        .collect::<Result<Vec<_>>>()?;
    let jobs: Vec<(usize, usize)> = directories
        .iter()
        .enumerate()
        .flat_map(|(d, (dir, _))| (0..dir.contents.len()).map(move |c| (d, c)))
        .collect();
    let results: Mutex<BTreeMap<(usize, usize), (ContentReport, LockContent)>> =
        Mutex::new(BTreeMap::new());
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, jobs.len().max(1)) {
            s.spawn(|| loop {
                if failure.lock().unwrap().is_some() {
                    return;
                }
                let Some(&(d, c)) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    return;
                };
                let (dir, local) = &directories[d];
                let job = ContentJob {
                    dir,
                    content: &dir.contents[c],
                    index: c,
                    local: local.as_deref(),
                    staging: &stagings[d],
                    loaded: &loaded,
                    previous: previous.as_ref(),
                    opts,
                    op,
                    cache: cache.as_ref(),
                };
                match job.run(events) {
                    Ok(r) => {
                        results.lock().unwrap().insert((d, c), r);
                    }
                    Err(e) => {
                        let mut f = failure.lock().unwrap();
                        if f.is_none() || e.is_cancelled() {
                            *f = Some(e);
                        }
                        return;
                    }
                }
            });
        }
    });
    if op.is_cancelled() {
        return Err(Error::Cancelled);
    }
    if let Some(e) = failure.into_inner().unwrap() {
        return Err(e);
    }

    // Commit every directory, then the lock.
    let results = results.into_inner().unwrap();
    let mut lock = if opts.only.is_empty() {
        LockConfig::default()
    } else {
        previous.clone().unwrap_or_default()
    };
    for (d, staging) in stagings.into_iter().enumerate() {
        let dir = &directories[d].0;
        staging.commit(dir.permissions)?;
        lock.merge(LockDirectory {
            path: dir.path.clone(),
            contents: (0..dir.contents.len())
                .map(|c| results[&(d, c)].1.clone())
                .collect(),
        });
    }
    // vendir does not save the lock when a directory was overridden locally.
    let overridden = directories.iter().any(|(_, local)| local.is_some());
    let lock_written = if overridden {
        false
    } else {
        lock.write(&lock_path)?
    };
    Ok(SyncReport {
        contents: results.into_values().map(|(r, _)| r).collect(),
        lock_written,
    })
}

/// One content to sync.
struct ContentJob<'a> {
    dir: &'a Directory,
    content: &'a Content,
    index: usize,
    local: Option<&'a Path>,
    staging: &'a Staging,
    loaded: &'a Loaded,
    previous: Option<&'a LockConfig>,
    opts: &'a SyncOptions,
    op: &'a Arc<Op>,
    cache: Option<&'a Cache>,
}

impl ContentJob<'_> {
    fn run(&self, events: &(dyn Fn(Event<'_>) + Sync)) -> Result<(ContentReport, LockContent)> {
        let start = Instant::now();
        let id = if self.content.path == "." {
            self.dir.path.clone()
        } else {
            format!("{}/{}", self.dir.path, self.content.path)
        };
        let rel = RelPath::normalize(&self.content.path).unwrap_or_default();
        let current = self
            .opts
            .workdir
            .join(&self.dir.path)
            .join(&self.content.path);
        let config_digest = config_digest(self.content);
        let prev_entry = self
            .previous
            .and_then(|l| l.content(&self.dir.path, &self.content.path));
        events(Event::Started { id: &id });
        let wrap = |e: Error| match e {
            Error::Cancelled => Error::Cancelled,
            e => Error::Refused(format!(
                "directory {:?}, content {:?} ({}): {e}",
                self.dir.path,
                self.content.path,
                self.content.source_kind()
            )),
        };

        let filter = ContentFilter::new(
            &self.content.include_paths,
            &self.content.exclude_paths,
            self.content.legal_paths.as_deref(),
        )
        .map_err(|e| wrap(Error::Refused(e)))?;
        let lazy_hit = self.opts.lazy
            && self.content.lazy
            && self.local.is_none()
            && prev_entry.and_then(|p| p.config_digest.as_deref()) == Some(config_digest.as_str())
            && current.exists();

        let (mut entry, report) = if lazy_hit {
            link_tree(&current, self.staging.root(), &rel).map_err(wrap)?;
            let mut entry = prev_entry.cloned().unwrap_or_default();
            entry.path = self.content.path.clone();
            let report = ContentReport {
                path: id.clone(),
                source: self.content.source_kind().into(),
                reference: "lazy (config unchanged)".into(),
                digest: digest_of(&entry),
                files: 0,
                bytes: 0,
                seconds: 0.0,
                skipped: true,
            };
            (entry, report)
        } else {
            let (scratch_path, scratch) = self.staging.scratch(self.index)?;
            let progress = |n: u64| events(Event::Bytes { id: &id, n });
            let local_path;
            let source: Box<dyn fetch::Source> = match self.local {
                // -d dir=local-dir: the directory comes from a local path.
                Some(local) => {
                    local_path = local.to_string_lossy().into_owned();
                    fetch::directory_source(&local_path)
                }
                None => fetch::source_for(self.content),
            };
            let ctx = FetchContext {
                op: self.op,
                cache: self.cache,
                loaded: self.loaded,
                workdir: &self.opts.workdir,
                locked: if self.opts.locked { prev_entry } else { None },
                current: Some(&current),
                limits: extract::Limits::default(),
                progress: &progress,
            };
            let fetched = source.fetch(&ctx, &scratch).map_err(wrap)?;
            for w in &fetched.warnings {
                events(Event::Warning {
                    id: &id,
                    message: w,
                });
            }
            let files = stage::place(
                &scratch,
                self.staging.root(),
                &rel,
                &filter,
                self.content.new_root_path.as_deref(),
            )
            .map_err(wrap)?;
            // vendir: a fetched content must leave at least one file.
            if files == 0
                && self.local.is_none()
                && !matches!(self.content.source, SourceConfig::Manual)
            {
                return Err(wrap(Error::Refused(
                    "expected at least one file after includePaths/excludePaths/newRootPath; nothing was left".into(),
                )));
            }
            drop(scratch);
            let _ = std::fs::remove_dir_all(&scratch_path);
            let mut entry = fetched.lock;
            entry.path = self.content.path.clone();
            let report = ContentReport {
                path: id.clone(),
                source: self.content.source_kind().into(),
                reference: fetched.summary,
                digest: digest_of(&entry),
                files,
                bytes: fetched.bytes,
                seconds: start.elapsed().as_secs_f64(),
                skipped: false,
            };
            (entry, report)
        };
        self.keep_ignored(&current, &rel).map_err(wrap)?;
        entry.config_digest = self.content.lazy.then_some(config_digest);
        events(Event::Finished { report: &report });
        Ok((report, entry))
    }

    /// Carries files matching `ignorePaths` over from the current tree.
    fn keep_ignored(&self, current: &Path, rel: &RelPath) -> Result<()> {
        if self.content.ignore_paths.is_empty() || !current.is_dir() {
            return Ok(());
        }
        let matcher = IgnoreMatcher::new(&self.content.ignore_paths).map_err(Error::Refused)?;
        let mut stack = vec![PathBuf::new()];
        while let Some(sub) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(current.join(&sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let relative = sub.join(entry.file_name());
                let text = relative.to_string_lossy().into_owned();
                let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
                if matcher.is_ignored(&text) {
                    let to = rel
                        .join(&text)
                        .ok_or_else(|| Error::Refused(format!("{text}: outside the content")))?;
                    if self
                        .staging
                        .root()
                        .existing(&to)
                        .map_err(|e| Error::io(&text, e))?
                        == extract::root::Existing::Absent
                    {
                        link_tree(&entry.path(), self.staging.root(), &to)?;
                    }
                } else if ft.is_dir() {
                    stack.push(relative);
                }
            }
        }
        Ok(())
    }
}

fn digest_of(entry: &LockContent) -> Option<String> {
    entry
        .oci_artifact
        .as_ref()
        .and_then(|o| o.url.rsplit_once('@').map(|(_, d)| d.to_string()))
}

/// sha256 of the content's config as given: `lazy` skips when it is unchanged.
fn config_digest(content: &Content) -> String {
    let canonical = serde_json::to_vec(&content.raw).unwrap_or_default();
    Digest::of(Algorithm::Sha256, &canonical).to_string()
}

/// The directories to sync, with their `-d` local overrides.
fn select<'a>(
    loaded: &'a Loaded,
    only: &[(String, Option<PathBuf>)],
) -> Result<Vec<(&'a Directory, Option<PathBuf>)>> {
    if only.is_empty() {
        return Ok(loaded
            .config
            .directories
            .iter()
            .map(|d| (d, None))
            .collect());
    }
    only.iter()
        .map(|(path, local)| {
            let want = RelPath::normalize(path)
                .map(|r| r.to_string())
                .unwrap_or_default();
            loaded
                .config
                .directories
                .iter()
                .find(|d| d.path == want)
                .map(|d| (d, local.clone()))
                .ok_or_else(|| {
                    let known: Vec<&str> = loaded
                        .config
                        .directories
                        .iter()
                        .map(|d| d.path.as_str())
                        .collect();
                    Error::Refused(format!(
                        "-d {path}: no such directory in the config (have: {})",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// `--locked` needs an entry for every content.
fn check_locked(
    directories: &[(&Directory, Option<PathBuf>)],
    lock: Option<&LockConfig>,
    path: &Path,
) -> Result<()> {
    let lock = lock.ok_or_else(|| {
        Error::Refused(format!(
            "--locked: lock file {} does not exist; run sync without --locked first",
            path.display()
        ))
    })?;
    for (dir, _) in directories {
        for c in &dir.contents {
            let entry = lock.content(&dir.path, &c.path);
            let ok = match (&c.source, entry) {
                (SourceConfig::OciArtifact(_), Some(e)) => e.oci_artifact.is_some(),
                (_, Some(_)) => true,
                (_, None) => false,
            };
            if !ok {
                return Err(Error::Refused(format!(
                    "--locked: {} has no entry for directory {:?}, content {:?}; run sync without --locked to record it",
                    path.display(),
                    dir.path,
                    c.path
                )));
            }
        }
    }
    Ok(())
}

/// Holds an exclusive `flock` on the working directory for the whole sync,
/// so two syncs in one directory never interleave. Released on drop.
fn lock_workdir(workdir: &Path, op: &Op, events: &(dyn Fn(Event<'_>) + Sync)) -> Result<OwnedFd> {
    let fd = rustix::fs::open(
        workdir,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::io(workdir, e.into()))?;
    if flock(&fd, FlockOperation::NonBlockingLockExclusive).is_err() {
        events(Event::Waiting);
        loop {
            match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(_) if op.is_cancelled() => return Err(Error::Cancelled),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
    Ok(fd)
}
