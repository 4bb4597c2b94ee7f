//! `vendoras pull`: what `oras pull` (v1.3, oras-go v2.7 file store) writes,
//! file for file, with vendoras' own confined extraction.
//!
//! The rules, from oras's `cmd/oras/root/pull.go` and oras-go's
//! `content/file`: a layer's file name is its title annotation; untitled
//! layers are skipped (with a notice); the empty config is dropped; untitled
//! manifests are walked but not written; a title with
//! `io.deis.oras.content.unpack: "true"` is a gzip tarball unpacked into a
//! directory of that name (its entries must stay under the title, and the
//! tar must match `io.deis.oras.content.digest`); the same content under two
//! titles is downloaded once; one title with two contents is refused, as are
//! titles escaping the output (unless `-T`) and existing files with `-k`.
//!
//! Unlike oras, everything is first written to staging directories (inside
//! the output, or beside a `-T` destination) and moved into place only when every blob verified, so a
//! failure or Ctrl-C leaves no partial files behind.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::extract::layer::extract_oras_directory;
use crate::extract::{self, Limits, Modes, RelPath, Root};
use crate::ffi::Op;
use crate::oci::{Descriptor, Platform, ANNOTATION_CONTENT_DIGEST, ANNOTATION_UNPACK};
use crate::registry::{BlobStream, Repository};
use crate::relpath::clean_absolute;

/// Options of a pull, named after `oras pull`'s flags.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PullOptions {
    /// `-o`: the output directory (created when missing).
    pub output: PathBuf,
    /// `-k`: refuse to replace existing files.
    pub keep_old_files: bool,
    /// `-T`: allow titles that point outside the output directory.
    pub allow_path_traversal: bool,
    /// `--platform`: resolve an index to this platform's manifest.
    pub platform: Option<Platform>,
    /// `--concurrency`: parallel downloads (oras's default is 3).
    pub concurrency: usize,
    /// Limits for unpacked directories.
    pub limits: Limits,
}

impl PullOptions {
    /// `oras pull`'s defaults, writing into `output`.
    pub fn new(output: impl Into<PathBuf>) -> PullOptions {
        PullOptions {
            output: output.into(),
            ..PullOptions::default()
        }
    }
}

/// `oras pull`'s defaults: the current directory, concurrency 3.
impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            output: PathBuf::from("."),
            keep_old_files: false,
            allow_path_traversal: false,
            platform: None,
            concurrency: 3,
            // oras has no expansion-ratio limit and `pull` has no flag to
            // raise one, so only the size limits apply.
            limits: Limits {
                max_ratio: 0,
                ..Limits::default()
            },
        }
    }
}

/// A progress event, worded as oras words its status lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// A download started.
    Downloading,
    /// A download finished and verified.
    Downloaded,
    /// A file was restored from content already downloaded under another title.
    Restored,
    /// An untitled layer was not pulled.
    Skipped,
}

impl Status {
    /// oras's padded prompt for this status.
    pub fn prompt(self) -> &'static str {
        match self {
            Status::Downloading => "Downloading",
            Status::Downloaded => "Downloaded ",
            Status::Restored => "Restored   ",
            Status::Skipped => "Skipped    ",
        }
    }
}

/// A file (or unpacked directory) the pull wrote.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PulledFile {
    /// The layer's title.
    pub title: String,
    /// Absolute, cleaned path; unpacked directories end with `/`.
    pub path: String,
    /// The layer's descriptor.
    pub descriptor: Descriptor,
}

/// The outcome of a pull.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PullReport {
    /// The resolved root (manifest or index).
    pub root: Descriptor,
    /// Files pulled, as oras reports them: each titled layer of each
    /// manifest (a file two manifests name is listed twice).
    pub files: Vec<PulledFile>,
    /// Whether some untitled layer (or manifest) was not written: oras then
    /// prints its "Skipped pulling layers" notice.
    pub skipped_untitled: bool,
}

/// One title to write.
#[derive(Debug, Clone)]
struct Item {
    title: String,
    desc: Descriptor,
    dest: Dest,
}

#[derive(Debug, Clone)]
enum Dest {
    /// Inside the output directory, at this normalised path.
    Inside(RelPath),
    /// Outside it (only with `-T`), at this absolute path.
    Outside(PathBuf),
}

/// Pulls `reference` (a tag or digest) from `repo` into `opts.output`.
/// `status` is called for each progress event, from the download threads.
/// Nothing is written unless every blob verified.
///
/// ```
/// use std::path::Path;
/// use std::sync::{Arc, Mutex};
/// use vendoras::pull::{self, PullOptions, Status};
/// use vendoras::registry::Repository;
/// use vendoras::Op;
///
/// # fn main() -> vendoras::Result<()> {
/// let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
/// let repo = Repository::open_layout(&example.join("layout"))?;
/// let out = tempfile::tempdir().unwrap();
///
/// let downloaded = Mutex::new(Vec::new());
/// let report = pull::pull(
///     &repo,
///     "v1.0.0",
///     &PullOptions::new(out.path()),
///     &Arc::new(Op::new()),
///     &|status, desc| {
///         if status == Status::Downloaded {
///             downloaded.lock().unwrap().push(desc.title().map(str::to_string));
///         }
///     },
/// )?;
///
/// // The manifest, then the one titled layer; the untitled Flux layer is
/// // skipped, as `oras pull` skips it.
/// assert_eq!(downloaded.into_inner().unwrap(), [None, Some("NOTICE".to_string())]);
/// assert!(report.skipped_untitled);
/// assert_eq!(
///     std::fs::read(out.path().join("NOTICE")).unwrap(),
///     std::fs::read(example.join("src/NOTICE")).unwrap()
/// );
/// # Ok(())
/// # }
/// ```
pub fn pull(
    repo: &Repository,
    reference: &str,
    opts: &PullOptions,
    op: &Arc<Op>,
    status: &(dyn Fn(Status, &Descriptor) + Sync),
) -> Result<PullReport> {
    let root = repo.resolve(op, reference, opts.platform.as_ref())?;
    let plan = plan(repo, op, &root, status)?;

    let output = absolute(&opts.output)?;
    let items = place(&plan.titled, &output, opts)?;

    let staging = Staging::create(&items, &output)?;
    fetch_all(repo, op, &items, &staging, &output, opts, status)?;
    staging.commit(&items, &output)?;

    let files = plan
        .listed
        .into_iter()
        .map(|desc| {
            let title = desc.title().unwrap_or_default().to_string();
            let mut path = clean_absolute(&output.join(&title))
                .to_string_lossy()
                .into_owned();
            if is_unpack(&desc) {
                path.push('/');
            }
            PulledFile {
                title,
                path,
                descriptor: desc,
            }
        })
        .collect();
    Ok(PullReport {
        root,
        files,
        skipped_untitled: plan.skipped,
    })
}

/// The graph walk's outcome.
struct Plan {
    /// Titled nodes in walk order (a node reached twice appears twice).
    titled: Vec<Descriptor>,
    /// Titled successors of every manifest walked, as oras reports pulled
    /// files (once per manifest that names them).
    listed: Vec<Descriptor>,
    /// Whether something untitled was not written.
    skipped: bool,
}

/// Walks the graph from `root` as oras's `FindSuccessors` does.
fn plan(
    repo: &Repository,
    op: &Op,
    root: &Descriptor,
    status: &(dyn Fn(Status, &Descriptor) + Sync),
) -> Result<Plan> {
    let mut titled = Vec::new();
    let mut listed = Vec::new();
    let mut skipped = false;
    let mut seen = HashSet::new();
    let mut stack = vec![root.clone()];
    while let Some(node) = stack.pop() {
        if node.title().is_some() {
            titled.push(node.clone());
        }
        if !node.is_manifest() || !seen.insert(node.content_key()) {
            continue;
        }
        status(Status::Downloading, &node);
        let (_, manifest) = repo.fetch_manifest(op, &node)?;
        status(Status::Downloaded, &node);
        let mut successors = manifest.manifests.clone();
        successors.extend(manifest.layers.iter().cloned());
        if let Some(config) = &manifest.config {
            // The empty config `{}` is dropped unless titled (oras pull).
            if !(config.size == 2 && config.digest == empty_digest() && config.title().is_none()) {
                successors.push(config.clone());
            }
        }
        listed.extend(successors.iter().filter(|s| s.title().is_some()).cloned());
        let mut next = Vec::new();
        for s in successors {
            if s.title().is_none() {
                if s.is_empty_json() {
                    continue;
                }
                skipped = true;
                if !s.is_manifest() {
                    status(Status::Skipped, &s);
                    continue;
                }
            }
            next.push(s);
        }
        // Depth-first in manifest order.
        stack.extend(next.into_iter().rev());
    }
    Ok(Plan {
        titled,
        listed,
        skipped,
    })
}

fn empty_digest() -> Digest {
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        .parse()
        .expect("valid digest")
}

/// Decides where each title goes and applies oras's refusals, before any
/// download: duplicate names, path traversal, `-k`.
fn place(layers: &[Descriptor], output: &Path, opts: &PullOptions) -> Result<Vec<Item>> {
    let mut by_title: HashMap<&str, &Descriptor> = HashMap::new();
    let mut items = Vec::new();
    for desc in layers {
        let title = desc.title().expect("only titled layers are placed");
        if let Some(prev) = by_title.insert(title, desc) {
            if prev.content_key() == desc.content_key() {
                by_title.insert(title, prev);
                continue; // the same file, reached twice
            }
            return Err(Error::entry(title, "duplicate name"));
        }
        let dest = match RelPath::normalize(title).filter(|r| !r.is_root()) {
            Some(rel) => Dest::Inside(rel),
            None if opts.allow_path_traversal => Dest::Outside(clean_absolute(&output.join(title))),
            None => {
                return Err(Error::entry(
                    title,
                    "path traversal disallowed\n\
                     Pulling files outside of working directory is insecure and blocked by default. \
                     If you trust the content producer, use --allow-path-traversal to bypass this check.",
                ))
            }
        };
        if opts.keep_old_files {
            let path = match &dest {
                Dest::Inside(rel) => rel.to_path(output),
                Dest::Outside(p) => p.clone(),
            };
            if path.exists() {
                return Err(Error::entry(
                    title,
                    format!("overwrite disallowed ({} exists)", path.display()),
                ));
            }
        }
        items.push(Item {
            title: title.to_string(),
            desc: desc.clone(),
            dest,
        });
    }
    Ok(items)
}

/// Hidden directories where a pull is assembled: one inside the output for
/// titles that land there, one beside each `-T` title that lands elsewhere
/// (same file system, so committing is a rename). Removed on drop.
struct Staging {
    inside: Option<Dir>,
    outside: Vec<Option<Dir>>,
}

struct Dir {
    path: PathBuf,
    root: Arc<Root>,
}

impl Dir {
    fn create(parent: &Path) -> Result<Dir> {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        sweep_stale(parent);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!("{STAGING_PREFIX}{}-{nanos:x}", std::process::id()));
        std::fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        let root = Arc::new(Root::open(&path).map_err(|e| Error::io(&path, e))?);
        Ok(Dir { path, root })
    }
}

const STAGING_PREFIX: &str = ".vendoras-pull-";

/// Removes staging directories that a killed pull (`kill -9`) left in
/// `parent`: those whose process is gone. A live pull's are left alone, so
/// two pulls into one directory do not disturb each other.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(STAGING_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = extract::root::remove_tree(&entry.path());
        }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = extract::root::remove_tree(&self.path);
    }
}

impl Staging {
    /// Creates what `items` need; the output directory itself is created
    /// only when something lands in it (as oras does).
    fn create(items: &[Item], output: &Path) -> Result<Staging> {
        let inside = match items.iter().any(|i| matches!(i.dest, Dest::Inside(_))) {
            true => Some(Dir::create(output)?),
            false => None,
        };
        let outside = items
            .iter()
            .map(|i| match &i.dest {
                Dest::Outside(p) => Dir::create(p.parent().unwrap_or(Path::new("/"))).map(Some),
                Dest::Inside(_) => Ok(None),
            })
            .collect::<Result<_>>()?;
        Ok(Staging { inside, outside })
    }

    /// The root and path an item is written to while staged.
    fn slot(&self, index: usize, item: &Item) -> (Arc<Root>, RelPath) {
        match (&item.dest, &self.inside, &self.outside[index]) {
            (Dest::Inside(rel), Some(dir), _) => (Arc::clone(&dir.root), rel.clone()),
            (Dest::Outside(path), _, Some(dir)) => (Arc::clone(&dir.root), base_name(path)),
            _ => unreachable!("staging created for every item"),
        }
    }

    /// Moves everything staged into place.
    fn commit(self, items: &[Item], output: &Path) -> Result<()> {
        let mut done = HashSet::new();
        for (index, item) in items.iter().enumerate() {
            let (from, dest_dir, rel) = match (&item.dest, &self.inside, &self.outside[index]) {
                // Merge whole top-level entries once; nested titles travel
                // with their top directory.
                (Dest::Inside(rel), Some(dir), _) => {
                    let top = RelPath::normalize(&rel.components()[0]).expect("plain name");
                    if !done.insert(top.clone()) {
                        continue;
                    }
                    (&dir.root, output.to_path_buf(), top)
                }
                (Dest::Outside(path), _, Some(dir)) => (
                    &dir.root,
                    path.parent().unwrap_or(Path::new("/")).to_path_buf(),
                    base_name(path),
                ),
                _ => unreachable!("staging created for every item"),
            };
            let dest = Root::open(&dest_dir).map_err(|e| Error::io(&dest_dir, e))?;
            from.merge_into(&rel, &dest, &rel)
                .map_err(|e| Error::io(rel.to_path(&dest_dir), e))?;
        }
        Ok(())
    }
}

fn base_name(path: &Path) -> RelPath {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    RelPath::normalize(&name).unwrap_or_default()
}

/// Downloads every distinct content with `opts.concurrency` workers, then
/// restores duplicates.
fn fetch_all(
    repo: &Repository,
    op: &Arc<Op>,
    items: &[Item],
    staging: &Staging,
    output: &Path,
    opts: &PullOptions,
    status: &(dyn Fn(Status, &Descriptor) + Sync),
) -> Result<()> {
    // First title of each content downloads; the rest are restored from it.
    let mut first: HashMap<(String, Digest, u64), usize> = HashMap::new();
    let mut jobs = Vec::new();
    let mut restores = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let unpack = is_unpack(&item.desc);
        match first.get(&item.desc.content_key()) {
            Some(&src) if !unpack && !is_unpack(&items[src].desc) => restores.push((i, src)),
            _ => {
                first.insert(item.desc.content_key(), i);
                jobs.push(i);
            }
        }
    }

    crate::workers::run(opts.concurrency, &jobs, |&i| {
        let (root, rel) = staging.slot(i, &items[i]);
        fetch_one(repo, op, &items[i], &root, &rel, output, opts, status)
    })?;
    if op.is_cancelled() {
        return Err(Error::Cancelled);
    }

    for (i, src) in restores {
        let (from_root, from_rel) = staging.slot(src, &items[src]);
        let (to_root, to_rel) = staging.slot(i, &items[i]);
        let from_path = from_rel.to_path(from_root.path());
        let mut reader = File::open(&from_path).map_err(|e| Error::io(&from_path, e))?;
        let mut file = to_root
            .create_file(&to_rel, 0o666, Some(0o777))
            .map_err(|e| Error::io(to_rel.to_path(to_root.path()), e))?;
        io::copy(&mut reader, &mut file)
            .map_err(|e| Error::io(to_rel.to_path(to_root.path()), e))?;
        status(Status::Restored, &items[i].desc);
    }

    Ok(())
}

fn is_unpack(desc: &Descriptor) -> bool {
    desc.annotations.get(ANNOTATION_UNPACK).map(String::as_str) == Some("true")
}

#[allow(clippy::too_many_arguments)]
fn fetch_one(
    repo: &Repository,
    op: &Arc<Op>,
    item: &Item,
    root: &Root,
    rel: &RelPath,
    output: &Path,
    opts: &PullOptions,
    status: &(dyn Fn(Status, &Descriptor) + Sync),
) -> Result<()> {
    status(Status::Downloading, &item.desc);
    let mut stream = repo.open_blob(op, &item.desc)?;
    let written = if is_unpack(&item.desc) {
        let final_root = match &item.dest {
            Dest::Inside(_) => output.to_path_buf(),
            Dest::Outside(p) => p.parent().unwrap_or(Path::new("/")).to_path_buf(),
        };
        unpack(&mut stream, item, root, rel, final_root, opts)
    } else {
        write_file(&mut stream, root, rel)
    };
    // A cancelled op closes the pipe early, which the writer sees as a
    // truncated stream; report the cancellation, not the symptom.
    if op.is_cancelled() {
        return Err(Error::Cancelled);
    }
    match written {
        Ok(()) => stream.finish()?,
        Err(e) => {
            drop(stream);
            return Err(if op.is_cancelled() {
                Error::Cancelled
            } else {
                e
            });
        }
    }
    status(Status::Downloaded, &item.desc);
    Ok(())
}

fn write_file(stream: &mut BlobStream, root: &Root, rel: &RelPath) -> Result<()> {
    let path = rel.to_path(root.path());
    // 0666 through the umask, as oras-go's file store creates files.
    let mut file = root
        .create_file(rel, 0o666, Some(0o777))
        .map_err(|e| Error::io(&path, e))?;
    stream
        .write_to(&mut file)
        .map_err(|e| Error::io(&path, e))?;
    Ok(())
}

fn unpack(
    stream: &mut BlobStream,
    item: &Item,
    root: &Root,
    rel: &RelPath,
    final_root: PathBuf,
    opts: &PullOptions,
) -> Result<()> {
    // oras ignores an unparsable content digest, and so do we.
    let expected: Option<Digest> = item
        .desc
        .annotations
        .get(ANNOTATION_CONTENT_DIGEST)
        .and_then(|d| d.parse().ok());
    // oras-go creates the title directory (and its parents) first; entries
    // below it need their directories in the archive.
    root.create_dir(rel, 0o777)
        .map_err(|e| Error::io(rel.to_path(root.path()), e))?;
    let options = extract::Options {
        within: rel.clone(),
        final_root: Some(final_root),
        modes: Modes::Umask,
        limits: opts.limits,
        create_parents: false,
        // oras writes `.wh.` entries as plain files; so does pull.
        refuse_whiteouts: false,
    };
    extract_oras_directory(stream, expected.as_ref(), root, &options).map_err(|e| {
        Error::from(e).in_layer(&item.desc.digest, &item.desc.media_type, Some(&item.title))
    })?;
    Ok(())
}

/// The absolute form of `path`, lexically cleaned.
fn absolute(path: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    Ok(clean_absolute(&abs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_left_by_a_dead_pull_is_swept_and_a_live_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22 on Linux: this pid cannot be running.
        let dead = dir
            .path()
            .join(format!("{STAGING_PREFIX}{}-1f", 1u32 << 23));
        let live = dir.path().join(format!("{STAGING_PREFIX}1-2e")); // init is always alive
        let unrelated = dir.path().join(".vendoras-pull-notes");
        for d in [&dead, &live, &unrelated] {
            std::fs::create_dir_all(d.join("in")).unwrap();
        }
        let staging = Dir::create(dir.path()).unwrap();
        assert!(!dead.exists(), "a dead pull's staging should be swept");
        assert!(live.exists() && unrelated.exists());
        drop(staging);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
