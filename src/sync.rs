//! `vendoras sync`: config → (resolve → verify → fetch → extract) per
//! content, concurrently → stage per directory → commit all → lock.
//!
//! All or nothing: every directory is staged first; only when every content
//! of every selected directory succeeded are they swapped in, and only then
//! is the lock written. Any failure (network, digest, signature, archive,
//! disk, Ctrl-C) leaves the previous trees and lock as they were.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation, Mode, OFlags};

use crate::cache::Cache;
use crate::config::{
    self, Content, Directory, Input, LoadOptions, Loaded, PathRules, Source as SourceConfig,
};
use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};
use crate::extract::{self, RelPath};
use crate::fetch::{self, FetchContext, Memo, Probed, Progress};
use crate::ffi::Op;
use crate::filter::{ContentFilter, ContentPaths, IgnoreMatcher};
use crate::lock::{LockConfig, LockContent, LockDirectory, LockFile};
use crate::stage::{self, link_tree, Staging};
use crate::workers;

/// Options of a sync, named after vendir's flags.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// The config documents (`-f`).
    pub inputs: Vec<Input>,
    /// The lock file (`--lock-file`).
    pub lock_file: PathBuf,
    /// `-d path[=local-dir]`: only these contents (empty = all). As in
    /// vendir, `path` is a content's directory path joined with its own
    /// path; a directory's path alone selects all its contents. With
    /// `local-dir`, that content is copied from a local directory.
    pub only: Vec<(String, Option<PathBuf>)>,
    /// `--locked`: pull exactly the digests in the lock.
    pub locked: bool,
    /// `--relock-changed`: re-resolve only the contents whose config no
    /// longer matches their lock entry ([`LockContent::records`]), and
    /// those named in [`SyncOptions::relock`]; every other content is
    /// pulled as its lock entry pins it, as under `--locked`.
    pub relock_changed: bool,
    /// With [`SyncOptions::relock_changed`]: contents (ids as `-d` names
    /// them) re-resolved whatever their lock entry says (`vendoras update`
    /// names the ones it edited).
    pub relock: Vec<String>,
    /// `--lazy`: honour `lazy: true` (default on).
    pub lazy: bool,
    /// `--jobs`: contents fetched at once.
    pub jobs: usize,
    /// Blob cache directory, or `None` to disable the cache.
    pub cache_dir: Option<PathBuf>,
    /// The working directory.
    pub workdir: PathBuf,
    /// Extraction limits per layer (decompression bombs).
    pub limits: extract::Limits,
    /// `--strict`: config keys vendir ignores are errors, not warnings.
    pub strict: bool,
    /// `--allow-outside-paths`: directory paths may leave the project.
    pub allow_outside_paths: bool,
    /// No-progress timeout of each registry transfer (`--stall-timeout`);
    /// `None` = [`crate::registry::DEFAULT_STALL_TIMEOUT`].
    pub stall_timeout: Option<std::time::Duration>,
    /// Mirrors for registries, git and http URLs (`--mirrors`,
    /// `$VENDORAS_MIRRORS`); `None` = every source from its origin. The
    /// lock names the origin whichever place answered.
    pub mirrors: Option<std::sync::Arc<crate::mirrors::Mirrors>>,
}

impl SyncOptions {
    /// A sync of `inputs` in `workdir` with vendir's defaults: the lock
    /// file `vendir.lock.yml` (relative to `workdir`), every directory,
    /// `lazy` honoured, 8 jobs, default [`Limits`](crate::Limits), config
    /// keys vendir ignores as warnings, directory paths kept inside the
    /// project, and no blob cache (set [`SyncOptions::cache_dir`] to
    /// [`default_cache_dir`] to share the command line's).
    pub fn new(workdir: impl Into<PathBuf>, inputs: Vec<Input>) -> SyncOptions {
        SyncOptions {
            inputs,
            lock_file: PathBuf::from("vendir.lock.yml"),
            only: Vec::new(),
            locked: false,
            relock_changed: false,
            relock: Vec::new(),
            lazy: true,
            jobs: 8,
            cache_dir: None,
            workdir: workdir.into(),
            limits: extract::Limits::default(),
            strict: false,
            allow_outside_paths: false,
            stall_timeout: None,
            mirrors: None,
        }
    }
}

/// The blob cache `vendoras sync` uses unless told otherwise:
/// `$VENDORAS_CACHE_DIR`, else `$XDG_CACHE_HOME/vendoras`, else
/// `~/.cache/vendoras`; `None` when none of these is set.
pub fn default_cache_dir() -> Option<PathBuf> {
    Cache::default_dir()
}

/// A progress event.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A content started.
    Started {
        /// Its id (`directory/content`).
        id: &'a str,
    },
    /// How many bytes a content will read.
    Expect {
        /// Its id.
        id: &'a str,
        /// Total bytes.
        total: u64,
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
    /// A warning about a content, or about the lock file.
    Warning {
        /// The content's id, or the lock file (`path:line`).
        id: &'a str,
        /// The text.
        message: &'a str,
    },
    /// Something worth telling about a content (what verified it).
    Note {
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
#[non_exhaustive]
pub struct ContentReport {
    /// `directory/content` path.
    pub path: String,
    /// The source kind (`ociArtifact`, `manual`, ...).
    pub source: String,
    /// What was fetched (`registry/repo@sha256:…`), or `lazy (unchanged)`.
    pub reference: String,
    /// What the content is pinned to (`LockContent::pinned`): a digest, a
    /// commit, a chart version or a release tag.
    pub digest: Option<String>,
    /// Files placed.
    pub files: u64,
    /// Bytes downloaded (0 when cached or skipped).
    pub bytes: u64,
    /// Seconds spent.
    pub seconds: f64,
    /// Whether `lazy` skipped the fetch.
    pub skipped: bool,
    /// The cosign signatures that verified, and by which key or identity
    /// (`cosign:`; omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verified: Vec<crate::verify::Verified>,
}

/// What a sync did.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct SyncReport {
    /// One entry per content, in config order.
    pub contents: Vec<ContentReport>,
    /// Whether the lock file changed.
    pub lock_written: bool,
    /// Every warning of the sync, in the order they came.
    pub warnings: Vec<SyncWarning>,
}

/// A warning, as [`Event::Warning`] gave it.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct SyncWarning {
    /// What it is about: a content id, the lock file (`path:line`), or a
    /// config position (`file:line:column`).
    pub id: String,
    /// The text.
    pub message: String,
    /// For a config warning (a key vendir ignores): where, as data.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigWarning>,
}

/// Where a config warning is, for `--json`.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ConfigWarning {
    /// The input's name.
    pub file: String,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// The key.
    pub key: Option<String>,
    /// The key path (`directories[0].contents[0].shallowClone`).
    pub path: String,
}

/// Runs a sync: every content of the selected directories is fetched
/// into staging, then all directories are swapped in and the lock is
/// written; any failure keeps the previous trees and lock. `events` is
/// called from the worker threads as the sync goes.
///
/// The quickstart's `vendir.yml`, synced into a temporary directory:
///
/// ```
/// use std::path::Path;
/// use std::sync::{Arc, Mutex};
/// use vendoras::config::Input;
/// use vendoras::lock::LockConfig;
/// use vendoras::sync::{self, Event, SyncOptions};
/// use vendoras::Op;
///
/// # fn main() -> vendoras::Result<()> {
/// let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
/// let work = tempfile::tempdir().unwrap();
/// // `ociLayout: layout` is relative to the working directory: point it
/// // at the example's layout.
/// let layout = example.join("layout");
/// let text = std::fs::read_to_string(example.join("vendir.yml"))
///     .unwrap()
///     .replace("ociLayout: layout", &format!("ociLayout: {}", layout.display()));
/// let options = SyncOptions::new(work.path(), vec![Input { name: "vendir.yml".into(), text }]);
///
/// let finished = Mutex::new(Vec::new());
/// let report = sync::sync(&options, &Arc::new(Op::new()), &|event| {
///     if let Event::Finished { report } = event {
///         finished.lock().unwrap().push(report.path.clone());
///     }
/// })?;
///
/// assert_eq!(finished.into_inner().unwrap(), ["vendor/quickstart"]);
/// assert!(report.lock_written);
/// let vendored = work.path().join("vendor/quickstart");
/// assert!(vendored.join("configmap.yaml").is_file() && vendored.join("NOTICE").is_file());
///
/// let lock = LockConfig::read(&work.path().join("vendir.lock.yml"))?.expect("a lock");
/// let pinned = lock.content("vendor/quickstart", ".").unwrap();
/// let url = &pinned.oci_artifact.as_ref().unwrap().url;
/// assert!(url.starts_with(&format!("oci-layout:{}@sha256:", layout.display())), "{url}");
/// # Ok(())
/// # }
/// ```
pub fn sync(
    opts: &SyncOptions,
    op: &Arc<Op>,
    events: &(dyn Fn(Event<'_>) + Sync),
) -> Result<SyncReport> {
    // Warnings also go into the report (`--json`).
    let outer_events = events;
    let warnings = Mutex::new(Vec::new());
    let events = &|e: Event<'_>| {
        if let Event::Warning { id, message } = &e {
            warnings.lock().unwrap().push(SyncWarning {
                id: id.to_string(),
                message: message.to_string(),
                config: None,
            });
        }
        events(e)
    };
    let load = LoadOptions {
        paths: PathRules::discover(&opts.workdir, opts.allow_outside_paths),
        strict: opts.strict,
    };
    let loaded = config::load(&opts.inputs, &load).map_err(Error::from)?;
    for w in &loaded.warnings {
        let (id, message) = (w.position(), w.text());
        outer_events(Event::Warning {
            id: &id,
            message: &message,
        });
        warnings.lock().unwrap().push(SyncWarning {
            id,
            message,
            config: Some(ConfigWarning {
                file: w.file.clone(),
                line: w.line,
                column: w.column,
                key: w.key.clone(),
                path: w.path.clone(),
            }),
        });
    }
    let _guard = lock_workdir(&opts.workdir, op, events)?;
    let lock_path = opts.workdir.join(&opts.lock_file);
    // A sync killed while swapping directories in: finish or undo it first.
    if let Some(recovered) = stage::recover(&lock_path)? {
        let message = match recovered {
            stage::Recovered::Finished(n) => format!(
                "an interrupted sync had swapped in all {n} of its directories: finished it (its lock written)"
            ),
            stage::Recovered::RolledBack(n) => format!(
                "an interrupted sync was cut short while swapping directories in: undid the {n} it had swapped; trees and lock are as before it"
            ),
        };
        events(Event::Warning {
            id: &lock_path.display().to_string(),
            message: &message,
        });
    }
    stage::crash_point("recovered");
    let directories = select(&loaded, &opts.only)?;
    // `-d`: only the selected contents are replaced; the rest of their
    // directories stays (vendir's `Partial`).
    let partial = !opts.only.is_empty();
    // vendir does not save the lock when a content was overridden locally.
    let overridden = directories
        .iter()
        .any(|s| s.local.iter().any(Option::is_some));

    // vendir reads the lock only for --locked and lazy: an unreadable one
    // (a merge left conflict markers in it) blocks only --locked.
    let previous = match LockConfig::load(&lock_path)? {
        LockFile::Missing => None,
        LockFile::Valid(lock) => Some(lock),
        LockFile::Unreadable(u) if opts.locked => {
            return Err(Error::Lock {
                file: Some(u.path),
                line: u.line,
                message: format!(
                    "{}; resolve it, or run sync without --locked (which rewrites it)",
                    u.reason
                ),
            })
        }
        LockFile::Unreadable(u) => {
            let id = match u.line {
                Some(line) => format!("{}:{line}", u.path.display()),
                None => u.path.display().to_string(),
            };
            let message = format!(
                "{}; ignored: lazy contents are fetched again{}",
                u.reason,
                if overridden {
                    ", and the lock is not saved (-d path=local-dir)"
                } else {
                    ", and a successful sync rewrites it"
                }
            );
            events(Event::Warning {
                id: &id,
                message: &message,
            });
            None
        }
    };

    if opts.locked {
        check_locked(&directories, previous.as_ref(), &lock_path)?;
    }
    let cache = opts.cache_dir.as_ref().map(Cache::new);
    let jobs_of = |dirs: &[usize]| -> Vec<(usize, usize)> {
        dirs.iter()
            .flat_map(|&d| (0..directories[d].dir.contents.len()).map(move |c| (d, c)))
            .collect()
    };
    let memo = Memo::default();
    let shared = Shared {
        directories: &directories,
        loaded: &loaded,
        previous: previous.as_ref(),
        opts,
        op,
        cache: cache.as_ref(),
        memo: &memo,
    };

    // Resolve every content once: tags become digests here, and the fetch
    // below pulls exactly those digests.
    let all: Vec<usize> = (0..directories.len()).collect();
    let probes = workers::run(opts.jobs, &jobs_of(&all), |&(d, c)| {
        let job = shared.job(d, c, None);
        if opts.relock_changed && !job.relock_keeps() && job.local.is_none() {
            let id = content_id(job.dir, job.content);
            let message = match job.previous_entry() {
                Some(_) => "config changed since the lock was written: resolved again",
                None => "not in the lock: resolved",
            };
            events(Event::Note { id: &id, message });
        }
        job.probe()
    })?;
    let probes: BTreeMap<(usize, usize), Probe> = jobs_of(&all).into_iter().zip(probes).collect();

    // A directory whose contents all resolved to what its last sync
    // recorded, and whose tree is exactly as that sync left it, is kept.
    let stamps = cache.as_ref().map(|c| TreeStamps::new(c.dir()));
    let mut kept: BTreeMap<usize, TreeStamp> = BTreeMap::new();
    for (d, selected) in directories.iter().enumerate() {
        let dir = &*selected.dir;
        let dest = opts.workdir.join(&dir.path);
        // A stamp describes a whole directory's sync, not a `-d` one.
        let stamp = match (&stamps, partial) {
            (Some(stamps), false) => stamps.read(&dest),
            _ => None,
        };
        let Some(stamp) = stamp else { continue };
        let configs: Vec<String> = dir
            .contents
            .iter()
            .map(|c| config::config_digest(c, None))
            .collect();
        let same = stamp.configs == configs
            && stamp.directory.contents.len() == dir.contents.len()
            && dir.contents.iter().enumerate().all(|(c, content)| {
                let recorded = &stamp.directory.contents[c];
                match &probes[&(d, c)] {
                    Probe::Resolved(p) => p.lock.same_source(recorded),
                    Probe::Lazy => true,
                    Probe::Unknown => matches!(
                        content.source,
                        SourceConfig::Manual | SourceConfig::Inline(_)
                    ),
                }
            })
            && stage::fingerprint(&dest).as_deref() == Some(stamp.fingerprint.as_str());
        if same {
            kept.insert(d, stamp);
        }
    }

    // Stage the rest. Clean what killed runs left in every parent first: a
    // parent may hold several of this run's directories.
    let fetch_dirs: Vec<usize> = all
        .iter()
        .copied()
        .filter(|d| !kept.contains_key(d))
        .collect();
    let dests: Vec<PathBuf> = directories
        .iter()
        .map(|s| opts.workdir.join(&s.dir.path))
        .collect();
    for &d in &fetch_dirs {
        stage::clean_stale(dests[d].parent().unwrap_or(&opts.workdir));
    }
    // Declared before the stagings, so a failure drops them first and then
    // takes away the parents this sync created.
    let parents = stage::CreatedParents::create(
        &fetch_dirs
            .iter()
            .map(|&d| dests[d].clone())
            .collect::<Vec<_>>(),
    )?;
    let mut stagings: BTreeMap<usize, Staging> = BTreeMap::new();
    for &d in &fetch_dirs {
        let staging = Staging::create(&dests[d])?;
        if partial {
            let skip: Vec<RelPath> = directories[d]
                .dir
                .contents
                .iter()
                .map(|c| c.path.clone())
                .collect();
            seed(&dests[d], staging.root(), &skip)?;
        }
        stagings.insert(d, staging);
    }
    let fetch_jobs = jobs_of(&fetch_dirs);
    // A `directory:` source reading what this sync produces before it
    // (vendir syncs in config order) runs in a later wave, from staging.
    let reads = staged_reads(&directories, partial, &opts.workdir);
    let mut results: BTreeMap<(usize, usize), (ContentReport, LockContent)> = BTreeMap::new();
    for wave in waves(&fetch_jobs, &reads) {
        let fetched = workers::run(opts.jobs, &wave, |&(d, c)| {
            let mut job = shared.job(d, c, Some(&stagings[&d]));
            job.staged = reads.get(&(d, c)).and_then(|r| r.source(&stagings));
            job.run(&probes[&(d, c)], events)
        })
        .map_err(|e| {
            if op.is_cancelled() {
                Error::Cancelled
            } else {
                e
            }
        })?;
        results.extend(wave.into_iter().zip(fetched));
    }
    for (&d, stamp) in &kept {
        let dir = &*directories[d].dir;
        for (c, entry) in stamp.directory.contents.iter().enumerate() {
            let id = content_id(dir, &dir.contents[c]);
            if let Some(note) = match &probes[&(d, c)] {
                Probe::Resolved(p) => p.note.as_ref(),
                _ => None,
            } {
                events(Event::Note {
                    id: &id,
                    message: note,
                });
            }
            let report = ContentReport {
                path: id.clone(),
                source: dir.contents[c].source_kind().into(),
                reference: "unchanged (same digest, tree as last synced)".into(),
                digest: entry.pinned(),
                files: 0,
                bytes: 0,
                seconds: 0.0,
                skipped: true,
                verified: match &probes[&(d, c)] {
                    Probe::Resolved(p) => p.verified.clone(),
                    _ => Vec::new(),
                },
            };
            events(Event::Finished { report: &report });
            // The digest of this run's config (under --locked, with the pins).
            let mut entry = entry.clone();
            entry.config_digest = dir.contents[c]
                .lazy
                .then(|| shared.job(d, c, None).config_digest());
            results.insert((d, c), (report, entry));
        }
    }
    if op.is_cancelled() {
        return Err(Error::Cancelled);
    }

    // Commit every staged directory, then the lock, then the stamps.
    let synced = directories.iter().enumerate().map(|(d, s)| LockDirectory {
        path: s.dir.path.clone(),
        contents: (0..s.dir.contents.len())
            .map(|c| results[&(d, c)].1.clone())
            .collect(),
    });
    let lock = if partial {
        merge_partial(previous.clone().unwrap_or_default(), synced)
    } else {
        let mut lock = LockConfig::default();
        synced.for_each(|d| lock.merge(d));
        lock
    };
    // All or nothing across directories: every previous tree is kept until
    // every directory is swapped in and the lock is written; a failure on
    // the way swaps the ones already made back.
    // The journal makes the swaps and the lock one step across `kill -9`
    // too: the next sync finishes or undoes what it records.
    // vendir chmods each content's path to the content's own `permissions`
    // (ociArtifact's sets its files instead, fetch::source_for), then to its
    // directory's `permissions`, not only the directory.
    for (d, staging) in &stagings {
        let dir = &*directories[*d].dir;
        for c in dir.contents.iter().filter(|c| !c.path.is_root()) {
            if let (Some(mode), false) = (
                c.permissions,
                matches!(c.source, SourceConfig::OciArtifact(_)),
            ) {
                staging.set_content_mode(&c.path, mode)?;
            }
        }
        if let Some(mode) = dir.permissions {
            for c in dir.contents.iter().filter(|c| !c.path.is_root()) {
                staging.set_content_mode(&c.path, mode)?;
            }
        }
    }
    let committed: Vec<usize> = stagings.keys().copied().collect();
    let swaps = stagings
        .values()
        .map(Staging::planned_swap)
        .collect::<Result<Vec<_>>>()?;
    let journal = stage::Journal::begin(&lock_path, swaps, (!overridden).then(|| lock.to_yaml()))?;
    stage::crash_point("journal");
    // A rollback that got stuck keeps the journal for the next run.
    let settled = |e: Error, journal: stage::Journal| {
        if !matches!(e, Error::Rollback { .. }) {
            journal.done();
        }
        e
    };
    let swapped = match stage::commit_all(
        stagings
            .into_iter()
            .map(|(d, staging)| (staging, directories[d].dir.permissions))
            .collect(),
    ) {
        Ok(swapped) => swapped,
        Err(e) => return Err(settled(e, journal)),
    };
    let lock_written = if overridden {
        false
    } else {
        match lock.write(&lock_path) {
            Ok(written) => written,
            Err(e) => return Err(settled(stage::rollback_all(swapped, e), journal)),
        }
    };
    stage::crash_point("lock");
    swapped.into_iter().for_each(stage::Committed::finish);
    journal.done();
    parents.keep();
    if let (Some(stamps), false) = (&stamps, overridden || partial) {
        for d in committed {
            let dir = &*directories[d].dir;
            let directory = lock
                .directories
                .iter()
                .find(|l| l.path == dir.path)
                .cloned();
            if let (Some(directory), Some(fingerprint)) = (directory, stage::fingerprint(&dests[d]))
            {
                let configs = dir
                    .contents
                    .iter()
                    .map(|c| config::config_digest(c, None))
                    .collect();
                stamps.write(
                    &dests[d],
                    &TreeStamp {
                        directory,
                        configs,
                        fingerprint,
                    },
                );
            }
        }
    }
    Ok(SyncReport {
        contents: results.into_values().map(|(r, _)| r).collect(),
        lock_written,
        warnings: warnings.into_inner().unwrap(),
    })
}

/// What every content job shares.
struct Shared<'a> {
    directories: &'a [Selected<'a>],
    loaded: &'a Loaded,
    previous: Option<&'a LockConfig>,
    opts: &'a SyncOptions,
    op: &'a Arc<Op>,
    cache: Option<&'a Cache>,
    memo: &'a Memo,
}

impl<'a> Shared<'a> {
    fn job(&'a self, d: usize, c: usize, staging: Option<&'a Staging>) -> ContentJob<'a> {
        let selected = &self.directories[d];
        ContentJob {
            shared: self,
            dir: &selected.dir,
            content: &selected.dir.contents[c],
            index: c,
            local: selected.local[c].as_deref(),
            staging,
            staged: None,
        }
    }
}

/// What the resolve phase learnt about a content.
enum Probe {
    /// It resolved to this entry; the fetch pulls exactly that.
    Resolved(Box<Probed>),
    /// `lazy: true` with an unchanged config: nothing to fetch.
    Lazy,
    /// Only a fetch can tell (local sources, `-d` overrides).
    Unknown,
}

fn content_id(dir: &Directory, content: &Content) -> String {
    if content.path.is_root() {
        dir.path.clone()
    } else {
        format!("{}/{}", dir.path, content.path)
    }
}

/// What the last successful sync of a directory left, kept in the cache
/// (`trees/<sha256 of the absolute path>.json`) rather than in the lock so
/// the lock stays vendir's.
#[derive(serde::Serialize, serde::Deserialize)]
struct TreeStamp {
    directory: LockDirectory,
    configs: Vec<String>,
    fingerprint: String,
}

struct TreeStamps {
    dir: PathBuf,
}

impl TreeStamps {
    fn new(cache: &Path) -> TreeStamps {
        TreeStamps {
            dir: cache.join("trees"),
        }
    }

    fn path(&self, dest: &Path) -> PathBuf {
        let abs = std::path::absolute(dest).unwrap_or_else(|_| dest.to_path_buf());
        let key = Digest::of(Algorithm::Sha256, abs.to_string_lossy().as_bytes());
        self.dir.join(format!("{}.json", key.hex()))
    }

    fn read(&self, dest: &Path) -> Option<TreeStamp> {
        serde_json::from_slice(&std::fs::read(self.path(dest)).ok()?).ok()
    }

    /// Best effort: a stamp that cannot be written only costs a re-extract.
    fn write(&self, dest: &Path, stamp: &TreeStamp) {
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = crate::atomic::write(
                &self.path(dest),
                &serde_json::to_vec(stamp).unwrap_or_default(),
                false,
            );
        }
    }
}

/// One content to sync.
struct ContentJob<'a> {
    shared: &'a Shared<'a>,
    dir: &'a Directory,
    content: &'a Content,
    index: usize,
    local: Option<&'a Path>,
    /// Where the directory is being assembled (absent while probing).
    staging: Option<&'a Staging>,
    /// A `directory:` source reading what this sync staged.
    staged: Option<StagedSource<'a>>,
}

impl ContentJob<'_> {
    fn current(&self) -> PathBuf {
        self.shared
            .opts
            .workdir
            .join(&self.dir.path)
            .join(self.content.path.to_string())
    }

    fn previous_entry(&self) -> Option<&LockContent> {
        self.shared
            .previous
            .and_then(|l| l.content(&self.dir.path, &self.content.path.to_string()))
    }

    fn wrap(&self, e: Error) -> Error {
        e.in_content(
            &self.dir.path,
            &self.content.path.to_string(),
            self.content.source_kind(),
        )
    }

    fn source(&self) -> Box<dyn fetch::Source + '_> {
        match (self.local, &self.staged) {
            // -d path=local-dir: the content comes from a local path.
            (Some(local), _) => fetch::directory_source(local.to_str().unwrap_or_default(), &[]),
            (None, Some(staged)) => {
                fetch::directory_source(staged.read.to_str().unwrap_or_default(), &staged.overlays)
            }
            (None, None) => fetch::source_for(self.content),
        }
    }

    fn context<'c>(
        &'c self,
        pinned: Option<&'c LockContent>,
        progress: &'c (dyn Fn(Progress) + Sync),
    ) -> FetchContext<'c> {
        FetchContext {
            op: self.shared.op,
            cache: self.shared.cache,
            loaded: self.shared.loaded,
            workdir: &self.shared.opts.workdir,
            pinned,
            memo: self.shared.memo,
            limits: self.shared.opts.limits,
            stall_timeout: self.shared.opts.stall_timeout,
            mirrors: self.shared.opts.mirrors.as_ref(),
            keeps: None,
            progress,
        }
    }

    /// The `configDigest` vendir would compute: under `--locked`, of the
    /// config with the lock's pins applied.
    fn config_digest(&self) -> String {
        let pins = match self.shared.opts.locked {
            true => self.previous_entry().map(pins_of),
            false => None,
        };
        config::config_digest(self.content, pins)
    }

    /// `--relock-changed` and this content's config is what its lock
    /// entry records: it is pulled as pinned, not resolved again.
    fn relock_keeps(&self) -> bool {
        let opts = &self.shared.opts;
        opts.relock_changed
            && !opts
                .relock
                .iter()
                .any(|id| *id == content_id(self.dir, self.content))
            && self
                .previous_entry()
                .is_some_and(|e| e.records(self.content))
    }

    /// `lazy: true` and the config is what the lock recorded.
    fn lazy_hit(&self) -> bool {
        self.shared.opts.lazy
            && self.content.lazy
            && self.local.is_none()
            && self
                .previous_entry()
                .and_then(|p| p.config_digest.as_deref())
                == Some(self.config_digest().as_str())
            && self.current().exists()
    }

    /// Resolves what this content would pull (no layer is fetched).
    fn probe(&self) -> Result<Probe> {
        if self.lazy_hit() {
            return Ok(Probe::Lazy);
        }
        if self.local.is_some() {
            return Ok(Probe::Unknown);
        }
        let pinned = if self.shared.opts.locked || self.relock_keeps() {
            self.previous_entry()
        } else {
            None
        };
        let ctx = self.context(pinned, &|_: Progress| {});
        match self.source().probe(&ctx).map_err(|e| self.wrap(e))? {
            Some(probed) => Ok(Probe::Resolved(Box::new(probed))),
            None => Ok(Probe::Unknown),
        }
    }

    /// Fetches the content into the directory's staging.
    fn run(
        &self,
        probe: &Probe,
        events: &(dyn Fn(Event<'_>) + Sync),
    ) -> Result<(ContentReport, LockContent)> {
        let staging = self.staging.expect("run has a staging directory");
        let start = Instant::now();
        let id = content_id(self.dir, self.content);
        let rel = self.content.path.clone();
        let current = self.current();
        events(Event::Started { id: &id });
        if let Some(note) = match probe {
            Probe::Resolved(p) => p.note.as_ref(),
            _ => None,
        } {
            events(Event::Note {
                id: &id,
                message: note,
            });
        }

        let filter = ContentFilter::new(
            &self.content.include_paths,
            &self.content.exclude_paths,
            self.content.legal_paths.as_deref(),
        )
        .map_err(|e| {
            self.wrap(Error::setting(
                "includePaths/excludePaths/legalPaths",
                None,
                e,
            ))
        })?;
        let new_root = self.content.new_root_path.as_ref().map(RelPath::to_string);
        let paths = ContentPaths::new(filter, new_root.as_deref());
        // `manual` keeps what is at its path, a directory or a single file
        // (vendir moves it into staging); filters never apply to it.
        let manual = matches!(self.content.source, SourceConfig::Manual)
            && self.local.is_none()
            && std::fs::symlink_metadata(&current).is_ok();

        let (mut entry, report) = if matches!(probe, Probe::Lazy) || manual {
            let files = link_tree(&current, staging.root(), &rel).map_err(|e| self.wrap(e))?;
            let mut entry = match manual {
                true => LockContent {
                    manual: Some(crate::lock::Empty {}),
                    ..LockContent::default()
                },
                false => self.previous_entry().cloned().unwrap_or_default(),
            };
            entry.path = self.content.path.to_string();
            let report = ContentReport {
                path: id.clone(),
                source: self.content.source_kind().into(),
                reference: match manual {
                    true => "manual (kept)".into(),
                    false => "lazy (config unchanged)".into(),
                },
                digest: entry.pinned(),
                files,
                bytes: 0,
                seconds: 0.0,
                skipped: true,
                verified: Vec::new(),
            };
            (entry, report)
        } else {
            let (scratch_path, scratch) = staging.scratch(self.index)?;
            let progress = |p: Progress| match p {
                Progress::Expect(total) => events(Event::Expect { id: &id, total }),
                Progress::Received(n) => events(Event::Bytes { id: &id, n }),
            };
            let pinned = match probe {
                Probe::Resolved(p) => Some(&p.lock),
                _ => None,
            };
            let ctx = FetchContext {
                keeps: Some(&paths),
                ..self.context(pinned, &progress)
            };
            if let Some(staged) = &self.staged {
                if staged.overlays.is_empty() && !staged.read.is_dir() {
                    return Err(self.wrap(Error::setting(
                        "directory.path",
                        Some(staged.path),
                        "not a directory in what this sync produced before this content",
                    )));
                }
            }
            let mut fetched = self
                .source()
                .fetch(&ctx, &scratch)
                .map_err(|e| self.wrap(e))?;
            if let Some(staged) = &self.staged {
                fetched.summary = format!("directory {} (as synced just before)", staged.path);
            }
            for w in &fetched.warnings {
                events(Event::Warning {
                    id: &id,
                    message: w,
                });
            }
            let files = stage::place(&scratch, staging.root(), &rel, &paths, fetched.files)
                .map_err(|e| self.wrap(e))?;
            // vendir: a fetched content must leave at least one file.
            if files == 0
                && self.local.is_none()
                && !matches!(self.content.source, SourceConfig::Manual)
            {
                return Err(self.wrap(Error::setting(
                    "includePaths/excludePaths/newRootPath",
                    None,
                    "expected at least one file after filtering; nothing was left",
                )));
            }
            drop(scratch);
            let _ = std::fs::remove_dir_all(&scratch_path);
            let mut entry = fetched.lock;
            entry.path = self.content.path.to_string();
            for v in &fetched.verified {
                events(Event::Note {
                    id: &id,
                    message: &format!("verified {}@{v}", v.repository),
                });
            }
            let mut verified = match probe {
                Probe::Resolved(p) => p.verified.clone(),
                _ => Vec::new(),
            };
            verified.extend(fetched.verified);
            let report = ContentReport {
                path: id.clone(),
                source: self.content.source_kind().into(),
                reference: fetched.summary,
                digest: entry.pinned(),
                files,
                bytes: fetched.bytes,
                seconds: start.elapsed().as_secs_f64(),
                skipped: false,
                verified,
            };
            (entry, report)
        };
        if !self.content.ignore_paths.is_empty() {
            let ignore = IgnoreMatcher::new(&self.content.ignore_paths)
                .map_err(|e| self.wrap(Error::setting("ignorePaths", None, e)))?;
            stage::keep_ignored(&current, staging.root(), &rel, &ignore)
                .map_err(|e| self.wrap(e))?;
        }
        entry.config_digest = self.content.lazy.then(|| self.config_digest());
        events(Event::Finished { report: &report });
        Ok((report, entry))
    }
}

/// What a lock entry pins, as vendir's `Config.Lock` applies it.
fn pins_of(entry: &LockContent) -> config::Pins<'_> {
    let mut pins = config::Pins::default();
    if let Some(g) = &entry.git {
        pins.sha = Some(&g.sha);
    }
    if let Some(h) = &entry.hg {
        pins.sha = Some(&h.sha);
    }
    if let Some(i) = &entry.image {
        pins.url = Some(&i.url);
    }
    if let Some(b) = &entry.imgpkg_bundle {
        pins.url = Some(&b.image);
    }
    if let Some(r) = &entry.github_release {
        pins.url = Some(&r.url);
        pins.tag = Some(&r.tag);
    }
    if let Some(h) = &entry.helm_chart {
        pins.version = Some(&h.version);
    }
    pins
}

/// A directory this sync fetches into: the config's, or with `-d` only
/// the selected contents (vendir's `Config.Subset`).
struct Selected<'a> {
    dir: Cow<'a, Directory>,
    /// Per content: `-d path=local-dir` takes it from this local directory
    /// (vendir's `UseDirectory`).
    local: Vec<Option<PathBuf>>,
}

/// The contents to sync. `-d path` names a content as vendir does: its
/// directory's path joined with its own (`vendor` + `a` is `vendor/a`).
/// A directory's path names all its contents where no content is called
/// that (an extension; vendir refuses it). `-d path=local-dir` replaces the
/// content's source with that local directory and, as vendir, drops its
/// `newRootPath` and `permissions` (include/exclude/ignore/legal/lazy stay).
fn select<'a>(loaded: &'a Loaded, only: &[(String, Option<PathBuf>)]) -> Result<Vec<Selected<'a>>> {
    let dirs = &loaded.config.directories;
    if only.is_empty() {
        return Ok(dirs
            .iter()
            .map(|d| Selected {
                dir: Cow::Borrowed(d),
                local: vec![None; d.contents.len()],
            })
            .collect());
    }
    let known = || -> String {
        let ids: Vec<String> = dirs
            .iter()
            .flat_map(|d| d.contents.iter().map(move |c| content_id(d, c)))
            .collect();
        ids.join(", ")
    };
    let mut chosen: BTreeMap<(usize, usize), Option<PathBuf>> = BTreeMap::new();
    for (path, local) in only {
        let want = config::normalize_directory_path(path);
        let named: Vec<(usize, usize)> = dirs
            .iter()
            .enumerate()
            .flat_map(|(d, dir)| {
                dir.contents
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| content_id(dir, c) == want)
                    .map(move |(c, _)| (d, c))
            })
            .collect();
        let named = match (named.is_empty(), local) {
            (false, _) => named,
            (true, None) => match dirs.iter().position(|d| d.path == want) {
                Some(d) => (0..dirs[d].contents.len()).map(|c| (d, c)).collect(),
                None => {
                    return Err(Error::setting(
                        "-d",
                        Some(path),
                        format!(
                            "no content or directory in the config has this path (contents: {})",
                            known()
                        ),
                    ))
                }
            },
            (true, Some(_)) => {
                return Err(Error::setting(
                    "-d",
                    Some(path),
                    format!(
                        "PATH=LOCAL-DIR replaces one content, and no content has this path \
                         (contents: {})",
                        known()
                    ),
                ))
            }
        };
        for key in named {
            let slot = chosen.entry(key).or_default();
            if local.is_some() {
                slot.clone_from(local);
            }
        }
    }
    Ok(dirs
        .iter()
        .enumerate()
        .filter_map(|(d, dir)| {
            let picked: Vec<(&Content, &Option<PathBuf>)> = dir
                .contents
                .iter()
                .enumerate()
                .filter_map(|(c, content)| chosen.get(&(d, c)).map(|l| (content, l)))
                .collect();
            if picked.is_empty() {
                return None;
            }
            let mut subset = Directory::clone(dir);
            subset.contents = picked
                .iter()
                .map(|(content, local)| {
                    let mut content = (*content).clone();
                    if local.is_some() {
                        content.new_root_path = None;
                        content.permissions = None;
                    }
                    content
                })
                .collect();
            Some(Selected {
                dir: Cow::Owned(subset),
                local: picked.into_iter().map(|(_, l)| l.clone()).collect(),
            })
        })
        .collect())
}

/// `-d`: the directory's current tree goes into its staging except the
/// selected contents' paths, so the swap replaces only those and keeps the
/// rest, as vendir's `PartialRepace` does.
fn seed(current: &Path, root: &extract::Root, skip: &[RelPath]) -> Result<()> {
    if skip.iter().any(RelPath::is_root) || !current.is_dir() {
        return Ok(());
    }
    seed_dir(current, root, &RelPath::root(), skip)
}

fn seed_dir(src: &Path, root: &extract::Root, rel: &RelPath, skip: &[RelPath]) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .map_err(|e| Error::io(src, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| Error::io(src, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(child) = rel
            .join(&name)
            .filter(|c| c.components().len() == rel.components().len() + 1)
        else {
            continue;
        };
        if skip.contains(&child) {
            continue;
        }
        let is_dir = entry
            .file_type()
            .map_err(|e| Error::io(entry.path(), e))?
            .is_dir();
        if is_dir && skip.iter().any(|s| s.starts_with(&child)) {
            root.create_dir(&child, 0o755)
                .map_err(|e| Error::io(entry.path(), e))?;
            seed_dir(&entry.path(), root, &child, skip)?;
        } else {
            link_tree(&entry.path(), root, &child)?;
        }
    }
    Ok(())
}

/// A `directory:` source whose path meets what this sync replaces before
/// that content runs: vendir syncs in config order and moves each directory
/// (with `-d`, each content) into place as it goes, so such a source reads
/// fresh output; everything else it reads from disk as it was.
struct StagedRead {
    /// The path lies inside directory `.0`'s replaced part, at `.1`.
    inside: Option<(usize, RelPath)>,
    /// Or the path holds replaced parts: (where inside the path, the
    /// directory, where inside it).
    overlays: Vec<(RelPath, usize, RelPath)>,
    /// The jobs that must have finished.
    after: Vec<(usize, usize)>,
    /// `directory.path` as configured.
    path: String,
}

/// What a [`ContentJob`] reads for a [`StagedRead`].
struct StagedSource<'a> {
    /// The path to read (staged, or the configured one with overlays).
    read: PathBuf,
    overlays: Vec<(RelPath, PathBuf)>,
    /// `directory.path` as configured.
    path: &'a str,
}

impl StagedRead {
    /// Directories kept as they are (not staged) are read from disk.
    fn source<'a>(&'a self, stagings: &BTreeMap<usize, Staging>) -> Option<StagedSource<'a>> {
        let staged = |d: usize, rel: &RelPath| Some(rel.to_path(stagings.get(&d)?.root().path()));
        let overlays: Vec<(RelPath, PathBuf)> = self
            .overlays
            .iter()
            .filter_map(|(at, d, rel)| Some((at.clone(), staged(*d, rel)?)))
            .collect();
        let read = match &self.inside {
            Some((d, rel)) => staged(*d, rel)?,
            None if overlays.is_empty() => return None,
            None => PathBuf::from(&self.path),
        };
        Some(StagedSource {
            read,
            overlays,
            path: &self.path,
        })
    }
}

fn staged_reads(
    directories: &[Selected<'_>],
    partial: bool,
    workdir: &Path,
) -> BTreeMap<(usize, usize), StagedRead> {
    let base = std::path::absolute(workdir).unwrap_or_else(|_| workdir.to_path_buf());
    let abs = |p: &str| crate::relpath::clean_absolute(&base.join(p));
    // `b` relative to `a`, when `b` is `a` or lies beneath it.
    let beneath = |a: &Path, b: &Path| -> Option<RelPath> {
        let rest = b.strip_prefix(a).ok()?;
        if rest.as_os_str().is_empty() {
            return Some(RelPath::root());
        }
        RelPath::normalize(rest.to_str()?)
    };
    let mut reads = BTreeMap::new();
    for (d, reader) in directories.iter().enumerate() {
        for (c, content) in reader.dir.contents.iter().enumerate() {
            let SourceConfig::Directory { path } = &content.source else {
                continue;
            };
            if reader.local[c].is_some() {
                continue;
            }
            let wanted = abs(path);
            let mut read = StagedRead {
                inside: None,
                overlays: Vec::new(),
                after: Vec::new(),
                path: path.clone(),
            };
            // What was replaced before (d, c): whole directories, or with -d
            // single contents.
            for (j, s) in directories[..=d].iter().enumerate() {
                let units: Vec<(RelPath, Vec<(usize, usize)>)> = if partial {
                    (0..s.dir.contents.len())
                        .filter(|&i| (j, i) < (d, c))
                        .map(|i| (s.dir.contents[i].path.clone(), vec![(j, i)]))
                        .collect()
                } else if j < d {
                    let all = (0..s.dir.contents.len()).map(|i| (j, i)).collect();
                    vec![(RelPath::root(), all)]
                } else {
                    Vec::new()
                };
                for (unit, after) in units {
                    let root = unit.to_path(&abs(&s.dir.path));
                    if let Some(rel) = beneath(&root, &wanted) {
                        read.inside = unit.join(&rel.to_string()).map(|r| (j, r));
                    } else if let Some(at) = beneath(&wanted, &root) {
                        read.overlays.push((at, j, unit.clone()));
                    } else {
                        continue;
                    }
                    read.after.extend(after);
                }
            }
            if read.inside.is_some() || !read.overlays.is_empty() {
                reads.insert((d, c), read);
            }
        }
    }
    reads
}

/// `jobs` in waves: each job runs after the jobs it reads from (which
/// always come earlier in config order).
fn waves(
    jobs: &[(usize, usize)],
    reads: &BTreeMap<(usize, usize), StagedRead>,
) -> Vec<Vec<(usize, usize)>> {
    let mut level: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    let mut out: Vec<Vec<(usize, usize)>> = Vec::new();
    for &job in jobs {
        let l = reads.get(&job).map_or(0, |r| {
            r.after
                .iter()
                .filter_map(|a| level.get(a))
                .map(|l| l + 1)
                .max()
                .unwrap_or(0)
        });
        level.insert(job, l);
        if out.len() <= l {
            out.resize(l + 1, Vec::new());
        }
        out[l].push(job);
    }
    out
}

/// `-d`: the synced entries go into the previous lock as vendir's
/// `LockConfig.Merge` puts them: a content whose joined path is in the lock
/// is replaced there, else appended to its directory's entry, else (judged
/// by the directory's last content, as vendir does) the directory is
/// appended whole.
fn merge_partial(mut lock: LockConfig, synced: impl Iterator<Item = LockDirectory>) -> LockConfig {
    let joined =
        |dir: &str, content: &str| config::normalize_directory_path(&format!("{dir}/{content}"));
    for dir in synced {
        let mut placed = false;
        for content in &dir.contents {
            let want = joined(&dir.path, &content.path);
            placed = false;
            'find: for existing in &mut lock.directories {
                for slot in &mut existing.contents {
                    if joined(&existing.path, &slot.path) == want {
                        *slot = content.clone();
                        placed = true;
                        break 'find;
                    }
                }
            }
            if placed {
                continue;
            }
            if let Some(existing) = lock.directories.iter_mut().find(|d| d.path == dir.path) {
                existing.contents.push(content.clone());
                placed = true;
            }
        }
        if !placed {
            lock.directories.push(dir);
        }
    }
    lock
}

/// `--locked` needs an entry for every content.
fn check_locked(
    directories: &[Selected<'_>],
    lock: Option<&LockConfig>,
    path: &Path,
) -> Result<()> {
    let lock = lock.ok_or_else(|| Error::Lock {
        file: Some(path.to_path_buf()),
        line: None,
        message: "--locked: the lock file does not exist; run sync without --locked first".into(),
    })?;
    for selected in directories {
        let dir = &selected.dir;
        for c in &dir.contents {
            let entry = lock.content(&dir.path, &c.path.to_string());
            let ok = entry.is_some_and(|e| e.source_kind() == Some(c.source.kind()));
            if !ok {
                return Err(Error::Lock {
                    file: Some(path.to_path_buf()),
                    line: None,
                    message: format!(
                        "--locked: no entry for directory {:?}, content {:?}; run sync without --locked to record it",
                        dir.path, c.path
                    ),
                });
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
