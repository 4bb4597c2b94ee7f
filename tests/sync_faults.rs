//! `vendoras sync` (and `pull`) against a misbehaving registry (README, "vendoras sync"; docs/differences.md): a corrupted
//! blob (digest mismatch) and a body cut mid-stream, injected by [`FaultProxy`], fail and
//! leave the previous tree and lock byte for byte as they were; 429/503 answers are
//! retried (oras-go's retry transport) and the sync then succeeds; a registry that keeps
//! answering 503 fails after the retries, naming the registry and the status; a response
//! that stalls is abandoned after the no-progress timeout (`--stall-timeout`,
//! `VENDORAS_STALL_TIMEOUT`; docs/ffi.md), resumed, and reported naming the registry and
//! the blob when it keeps stalling.
//!
//! One plain registry is shared by the tests of this file; every test uses its own
//! repository and its own proxy in front of that registry.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A temp root holding `work/` (the working directory), blob caches and `sentinel/` (a
/// sibling of the work dir that must never change).
struct Work {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    sentinel: PathBuf,
}

impl Work {
    fn new() -> Work {
        let tmp = tempfile::Builder::new().prefix("vfault").tempdir().unwrap();
        let dir = tmp.path().join("work");
        let sentinel = tmp.path().join("sentinel");
        fs::create_dir_all(&dir).unwrap();
        fs::create_dir_all(&sentinel).unwrap();
        fs::write(sentinel.join("keep.txt"), "sentinel\n").unwrap();
        Work { tmp, dir, sentinel }
    }

    /// A cache directory of its own (not yet created), so nothing is served from a cache
    /// filled by an earlier run.
    fn cache(&self, name: &str) -> PathBuf {
        self.tmp.path().join(format!("cache-{name}"))
    }

    fn config(&self, yaml: &str) {
        fs::write(self.dir.join("vendir.yml"), yaml).unwrap();
    }

    fn sync(&self, cache: &Path) -> Outcome {
        self.sync_with(cache, &[], &[])
    }

    /// `vendoras sync` with extra arguments and environment variables.
    fn sync_with(&self, cache: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut cmd = vendoras();
        cmd.current_dir(&self.dir)
            .arg("sync")
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .envs(env.iter().copied());
        run(&mut cmd)
    }

    fn lock(&self) -> String {
        fs::read_to_string(self.dir.join("vendir.lock.yml")).unwrap_or_default()
    }

    fn tree(&self, rel: &str) -> Tree {
        tree_snapshot(&self.dir.join(rel))
    }

    /// Everything in the work dir except the config (which tests rewrite), and the lock.
    fn state(&self) -> (Tree, String) {
        let mut t = tree_snapshot(&self.dir);
        t.remove("vendir.yml");
        (t, self.lock())
    }

    fn sentinel_tree(&self) -> Tree {
        tree_snapshot(&self.sentinel)
    }

    /// `.vendoras-staging-*` entries anywhere under the work dir.
    fn staging_dirs(&self) -> Vec<String> {
        tree_snapshot(&self.dir)
            .into_keys()
            .filter(|k| {
                k.rsplit('/')
                    .next()
                    .unwrap()
                    .starts_with(".vendoras-staging-")
            })
            .collect()
    }
}

/// A one-directory, one-content config for `host/repo:tag` over plain HTTP.
fn config(host: &str, repo: &str, tag: &str) -> String {
    format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
         - path: vendor/x\n  contents:\n  - path: .\n    ociArtifact:\n\
         \x20     image: {host}/{repo}\n      tag: \"{tag}\"\n      plainHTTP: true\n"
    )
}

/// The `url:` values of a lock file, in order.
fn lock_urls(lock: &str) -> Vec<String> {
    lock.lines()
        .filter_map(|l| l.trim().strip_prefix("url: "))
        .map(|s| s.trim().trim_matches('"').trim_matches('\'').to_string())
        .collect()
}

#[track_caller]
fn assert_stderr_contains(out: &Outcome, proxy: &FaultProxy, needles: &[&str]) {
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "stderr should mention {n:?}\n{out:?}\n--- proxy saw:\n{}",
            proxy.seen_text()
        );
    }
}

const TGZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const PLAIN: &str = "application/vnd.oci.image.layer.v1.tar";
/// Big enough that the body spans many reads and a cut lands mid-stream.
const DATA_SIZE: usize = 512 * 1024;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::start)
}

/// One pushed version of a test artifact: an untitled tar+gzip layer (extracted into
/// the content path) followed by a titled plain file `data.bin` (written byte for byte),
/// the layer the faults target.
struct Version {
    tag: String,
    manifest: String,
    data: Vec<u8>,
    data_digest: String,
    conf: Vec<u8>,
}

impl Version {
    fn expected_tree(&self) -> Tree {
        let file = |data: &[u8]| Entry::File {
            sha256: sha256_hex(data),
            size: data.len() as u64,
            exec: false,
        };
        [
            ("conf".to_string(), Entry::Dir),
            ("conf/settings.txt".to_string(), file(&self.conf)),
            ("data.bin".to_string(), file(&self.data)),
        ]
        .into_iter()
        .collect()
    }
}

/// Pushes `repo:tag` (contents derived from `seed`).
fn push_version(repo: &str, tag: &str, seed: u64) -> Version {
    let conf = format!("repo={repo} tag={tag} seed={seed}\n").into_bytes();
    let mut t = TarBuilder::new();
    t.dir("conf").file("conf/settings.txt", &conf);
    let data = Prng::new(seed).bytes(DATA_SIZE);
    let data_digest = digest_of(&data);
    let manifest = Crafter::new(registry(), repo).artifact(
        tag,
        vec![
            (layer(TGZ, &[]), t.finish_gz()),
            (layer(PLAIN, &[(TITLE, "data.bin")]), data.clone()),
        ],
    );
    Version {
        tag: tag.into(),
        manifest,
        data,
        data_digest,
        conf,
    }
}

fn blob_path(repo: &str, digest: &str) -> String {
    format!("/v2/{repo}/blobs/{digest}")
}

fn manifest_path(repo: &str, reference: &str) -> String {
    format!("/v2/{repo}/manifests/{reference}")
}

/// A work dir with `vendor/x` synced from `proxy/repo:v1` (no fault active), checked.
fn synced(proxy: &FaultProxy, repo: &str, v1: &Version) -> Work {
    let w = Work::new();
    w.config(&config(&proxy.host(), repo, &v1.tag));
    w.sync(&w.cache("first")).ok();
    assert_same_tree(
        "first sync",
        "expected",
        &v1.expected_tree(),
        "synced",
        &w.tree("vendor/x"),
    );
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}/{repo}@{}", proxy.host(), v1.manifest)]
    );
    w
}

/// Points `vendor/x` at `proxy/repo:tag`, syncs with a fresh cache and checks the sync
/// failed and left the work dir (minus vendir.yml), the lock and the sentinel exactly as
/// they were, with no staging dir left behind.
#[track_caller]
fn fails_and_keeps_everything(w: &Work, proxy: &FaultProxy, repo: &str, tag: &str) -> Outcome {
    fails_and_keeps_everything_with(w, proxy, repo, tag, &[])
}

/// [`fails_and_keeps_everything`] with extra `sync` arguments.
#[track_caller]
fn fails_and_keeps_everything_with(
    w: &Work,
    proxy: &FaultProxy,
    repo: &str,
    tag: &str,
    args: &[&str],
) -> Outcome {
    let before = w.state();
    let sentinel = w.sentinel_tree();
    w.config(&config(&proxy.host(), repo, tag));
    let cache = w.cache(&format!("fresh-{tag}-{}", proxy.seen().len()));
    let out = w.sync_with(&cache, args, &[]);
    assert_eq!(
        out.code(),
        Some(1),
        "{repo}:{tag} must fail\n{out:?}\n--- proxy saw:\n{}",
        proxy.seen_text()
    );
    assert_stderr_contains(&out, proxy, &["vendoras: Error:"]);
    let after = w.state();
    assert_same_tree(
        &format!("{repo}:{tag}: work dir after failure"),
        "before",
        &before.0,
        "after",
        &after.0,
    );
    assert_eq!(before.1, after.1, "{repo}:{tag}: the lock changed");
    assert_same_tree(
        &format!("{repo}:{tag}: sentinel"),
        "before",
        &sentinel,
        "after",
        &w.sentinel_tree(),
    );
    assert!(
        w.staging_dirs().is_empty(),
        "{repo}:{tag}: staging dirs left behind: {:?}",
        w.staging_dirs()
    );
    out
}

// ---------------------------------------------------------------------------------------
// Digest mismatch and truncated bodies
// ---------------------------------------------------------------------------------------

/// A corrupted blob, both for a re-sync of the digest already on disk (fresh cache, so
/// it is downloaded again) and for a new version: fails naming the blob digest.
#[test]
fn a_corrupted_blob_is_a_digest_mismatch_naming_the_blob_and_keeps_the_old_tree() {
    let repo = "fault-corrupt";
    let v1 = push_version(repo, "v1", 101);
    let v2 = push_version(repo, "v2", 102);
    let proxy = FaultProxy::start(registry().addr());
    let w = synced(&proxy, repo, &v1);

    for v in [&v1, &v2] {
        let path = blob_path(repo, &v.data_digest);
        proxy.set(&path, Fault::CorruptBody);
        let gets = proxy.count_method("GET", &path);
        let out = fails_and_keeps_everything(&w, &proxy, repo, &v.tag);
        assert!(
            proxy.count_method("GET", &path) > gets,
            "{}: the corrupted blob was never requested\n--- proxy saw:\n{}",
            v.tag,
            proxy.seen_text()
        );
        assert_stderr_contains(&out, &proxy, &[&v.data_digest]);
        assert!(
            out.stderr.to_lowercase().contains("digest"),
            "{}: the error should say it is a digest mismatch\n{out:?}",
            v.tag
        );
        proxy.clear(&path);
    }
    // The old tree is still the v1 tree, and v2 syncs once the fault is gone.
    assert_same_tree(
        "after the failures",
        "expected",
        &v1.expected_tree(),
        "on disk",
        &w.tree("vendor/x"),
    );
    w.config(&config(&proxy.host(), repo, "v2"));
    w.sync(&w.cache("healed")).ok();
    assert_same_tree(
        "v2 after the fault is cleared",
        "expected",
        &v2.expected_tree(),
        "synced",
        &w.tree("vendor/x"),
    );
}

/// A body cut mid-stream (headers promise the full Content-Length): oras-go's retry
/// transport does not resume it, so the sync fails and keeps the old tree.
#[test]
fn a_truncated_blob_body_fails_and_keeps_the_old_tree() {
    let repo = "fault-truncate";
    let v1 = push_version(repo, "v1", 201);
    let v2 = push_version(repo, "v2", 202);
    let proxy = FaultProxy::start(registry().addr());
    let w = synced(&proxy, repo, &v1);

    for v in [&v1, &v2] {
        let path = blob_path(repo, &v.data_digest);
        proxy.set(&path, Fault::Truncate(DATA_SIZE / 3));
        let gets = proxy.count_method("GET", &path);
        let out = fails_and_keeps_everything(&w, &proxy, repo, &v.tag);
        assert!(
            proxy.count_method("GET", &path) > gets,
            "{}: the truncated blob was never requested\n--- proxy saw:\n{}",
            v.tag,
            proxy.seen_text()
        );
        // The error names what was being fetched: the layer digest.
        assert_stderr_contains(&out, &proxy, &[&v.data_digest]);
        proxy.clear(&path);
    }
    assert_same_tree(
        "after the failures",
        "expected",
        &v1.expected_tree(),
        "on disk",
        &w.tree("vendor/x"),
    );
}

/// `vendoras pull` of a corrupted blob fails naming it and leaves nothing in `-o`.
#[test]
fn pull_of_a_corrupted_blob_fails_and_writes_nothing() {
    let repo = "fault-pull-corrupt";
    let v1 = push_version(repo, "v1", 301);
    let proxy = FaultProxy::start(registry().addr());
    let path = blob_path(repo, &v1.data_digest);
    proxy.set(&path, Fault::CorruptBody);

    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let out = run(vendoras()
        .current_dir(work.path())
        .args(["pull", "--plain-http", "-o", "out"])
        .arg(format!("{}/{repo}:v1", proxy.host())));
    assert_ne!(
        out.code(),
        Some(0),
        "pull must fail\n{out:?}\n--- proxy saw:\n{}",
        proxy.seen_text()
    );
    assert!(
        proxy.count_method("GET", &path) >= 1,
        "the corrupted blob was never requested\n--- proxy saw:\n{}",
        proxy.seen_text()
    );
    assert_stderr_contains(&out, &proxy, &["vendoras: Error:", &v1.data_digest]);
    let expected: Tree = [("out".to_string(), Entry::Dir)].into_iter().collect();
    assert_same_tree(
        "after a failed pull, -o holds nothing (and nothing else was written)",
        "expected",
        &expected,
        "actual",
        &tree_snapshot(work.path()),
    );
}

// ---------------------------------------------------------------------------------------
// 429 / 503
// ---------------------------------------------------------------------------------------

/// Syncs `proxy/repo:v1` into a new work dir and checks the result.
fn sync_succeeds(proxy: &FaultProxy, repo: &str, v1: &Version) -> (Work, Duration) {
    let w = Work::new();
    w.config(&config(&proxy.host(), repo, &v1.tag));
    let t0 = Instant::now();
    let out = w.sync(&w.cache("c"));
    let took = t0.elapsed();
    assert!(
        out.success(),
        "the sync should succeed after the retries\n{out:?}\n--- proxy saw:\n{}",
        proxy.seen_text()
    );
    assert_same_tree(
        "after retried requests",
        "expected",
        &v1.expected_tree(),
        "synced",
        &w.tree("vendor/x"),
    );
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}/{repo}@{}", proxy.host(), v1.manifest)]
    );
    assert!(w.staging_dirs().is_empty());
    (w, took)
}

#[test]
fn a_blob_answering_429_twice_is_retried_and_the_sync_succeeds() {
    let repo = "fault-429-blob";
    let v1 = push_version(repo, "v1", 401);
    let proxy = FaultProxy::start(registry().addr());
    let path = blob_path(repo, &v1.data_digest);
    proxy.set(&path, Fault::Status(429, 2));
    let (_w, took) = sync_succeeds(&proxy, repo, &v1);
    let n = proxy.count(&path);
    assert!(
        n >= 3,
        "expected 2 answers of 429 and a successful retry on {path}, saw {n} requests\n{}",
        proxy.seen_text()
    );
    // Retry-After: 1 is honoured (twice).
    assert!(
        took >= Duration::from_millis(1900),
        "two 429s with Retry-After: 1 were retried after only {took:?}\n{}",
        proxy.seen_text()
    );
}

#[test]
fn a_manifest_answering_503_twice_is_retried_and_the_sync_succeeds() {
    let repo = "fault-503-manifest";
    let v1 = push_version(repo, "v1", 501);
    let proxy = FaultProxy::start(registry().addr());
    let path = manifest_path(repo, "v1");
    proxy.set(&path, Fault::Status(503, 2));
    sync_succeeds(&proxy, repo, &v1);
    let n = proxy.count(&path);
    assert!(
        n >= 3,
        "expected 2 answers of 503 and a successful retry on {path}, saw {n} requests\n{}",
        proxy.seen_text()
    );
}

/// A blob that answers 503 forever: after oras-go's retries (5, backoff up to 3 s) the
/// sync fails naming the registry and the status, and keeps the old tree and lock.
#[test]
fn a_blob_answering_503_forever_fails_after_retries_naming_registry_and_status() {
    let repo = "fault-503-forever";
    let v1 = push_version(repo, "v1", 601);
    let v2 = push_version(repo, "v2", 602);
    let proxy = FaultProxy::start(registry().addr());
    let w = synced(&proxy, repo, &v1);

    let path = blob_path(repo, &v2.data_digest);
    proxy.set(&path, Fault::Status(503, u32::MAX));
    let out = fails_and_keeps_everything(&w, &proxy, repo, "v2");
    assert_stderr_contains(&out, &proxy, &[&proxy.host(), "503"]);
    let n = proxy.count(&path);
    assert!(
        n >= 6,
        "oras-go retries a 503 five times (6 requests in all); saw {n} on {path}\n{}",
        proxy.seen_text()
    );
    assert_same_tree(
        "after the failure",
        "expected",
        &v1.expected_tree(),
        "on disk",
        &w.tree("vendor/x"),
    );
}

// ---------------------------------------------------------------------------------------
// Stalls (no-progress timeout)
// ---------------------------------------------------------------------------------------

/// A blob whose every response sends its headers and 1 KiB, then nothing: the sync is
/// not held forever. Each attempt is abandoned after `--stall-timeout`, the transfer is
/// resumed a bounded number of times, then the sync fails naming the registry, the blob
/// and the timeout, and keeps the old tree and lock.
#[test]
fn a_blob_that_stalls_every_time_fails_naming_registry_and_blob_and_keeps_the_old_tree() {
    let repo = "fault-stall-forever";
    let v1 = push_version(repo, "v1", 701);
    let v2 = push_version(repo, "v2", 702);
    let proxy = FaultProxy::start(registry().addr());
    let w = synced(&proxy, repo, &v1);

    let path = blob_path(repo, &v2.data_digest);
    proxy.set(
        &path,
        Fault::Stall {
            after: 1024,
            times: u32::MAX,
        },
    );
    let out = fails_and_keeps_everything_with(&w, &proxy, repo, "v2", &["--stall-timeout", "2s"]);
    assert_stderr_contains(
        &out,
        &proxy,
        &[&proxy.host(), &v2.data_digest, "no progress for 2s"],
    );
    let stalled = proxy
        .seen()
        .iter()
        .filter(|s| s.path == path && matches!(s.fault, Some(Fault::Stall { .. })))
        .count();
    assert!(
        stalled >= 2,
        "the stalled blob should have been tried again; {stalled} stalled responses\n{}",
        proxy.seen_text()
    );
    assert_same_tree(
        "after the failure",
        "expected",
        &v1.expected_tree(),
        "on disk",
        &w.tree("vendor/x"),
    );
}

/// The blob stalls once (headers and 1 KiB, then nothing): the transfer is abandoned
/// after the timeout set by `VENDORAS_STALL_TIMEOUT`, resumed, and the sync succeeds
/// with the right bytes.
#[test]
fn a_blob_that_stalls_once_is_resumed_and_the_sync_succeeds() {
    let repo = "fault-stall-once";
    let v1 = push_version(repo, "v1", 801);
    let proxy = FaultProxy::start(registry().addr());
    let path = blob_path(repo, &v1.data_digest);
    proxy.set(
        &path,
        Fault::Stall {
            after: 1024,
            times: 1,
        },
    );
    let w = Work::new();
    w.config(&config(&proxy.host(), repo, &v1.tag));
    let out = w.sync_with(&w.cache("c"), &[], &[("VENDORAS_STALL_TIMEOUT", "2s")]);
    assert!(
        out.success(),
        "the stalled blob should have been resumed\n{out:?}\n--- proxy saw:\n{}",
        proxy.seen_text()
    );
    let gets: Vec<_> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.path == path && s.method == "GET")
        .collect();
    assert!(
        gets.len() >= 2 && matches!(gets[0].fault, Some(Fault::Stall { .. })),
        "expected a stalled GET, then more\n{}",
        proxy.seen_text()
    );
    assert_same_tree(
        "after a resumed blob",
        "expected",
        &v1.expected_tree(),
        "synced",
        &w.tree("vendor/x"),
    );
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}/{repo}@{}", proxy.host(), v1.manifest)]
    );
}

/// The manifest answer stalls once: fetched again, and the sync succeeds.
#[test]
fn a_manifest_that_stalls_once_is_fetched_again_and_the_sync_succeeds() {
    let repo = "fault-stall-manifest";
    let v1 = push_version(repo, "v1", 901);
    let proxy = FaultProxy::start(registry().addr());
    let path = manifest_path(repo, "v1");
    proxy.set(
        &path,
        Fault::Stall {
            after: 10,
            times: 1,
        },
    );
    let w = Work::new();
    w.config(&config(&proxy.host(), repo, &v1.tag));
    let out = w.sync_with(&w.cache("c"), &["--stall-timeout", "2s"], &[]);
    assert!(
        out.success(),
        "the stalled manifest should have been fetched again\n{out:?}\n--- proxy saw:\n{}",
        proxy.seen_text()
    );
    assert!(
        proxy.count_method("GET", &path) >= 2,
        "expected a stalled manifest GET, then another\n{}",
        proxy.seen_text()
    );
    assert_same_tree(
        "after a stalled manifest",
        "expected",
        &v1.expected_tree(),
        "synced",
        &w.tree("vendor/x"),
    );
}

/// `vendoras pull --stall-timeout` of a blob that always stalls fails naming it and
/// writes nothing; a bad timeout is refused before anything is fetched.
#[test]
fn pull_of_a_stalling_blob_fails_naming_it_and_writes_nothing() {
    let repo = "fault-pull-stall";
    let v1 = push_version(repo, "v1", 1001);
    let proxy = FaultProxy::start(registry().addr());
    let path = blob_path(repo, &v1.data_digest);
    proxy.set(
        &path,
        Fault::Stall {
            after: 1024,
            times: u32::MAX,
        },
    );
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let reference = format!("{}/{repo}:v1", proxy.host());
    let out = run(vendoras()
        .current_dir(work.path())
        .args(["pull", "--plain-http", "--stall-timeout", "2s", "-o", "out"])
        .arg(&reference));
    assert_eq!(
        out.code(),
        Some(1),
        "pull must fail\n{out:?}\n--- proxy saw:\n{}",
        proxy.seen_text()
    );
    assert_stderr_contains(
        &out,
        &proxy,
        &[
            "vendoras: Error:",
            &proxy.host(),
            &v1.data_digest,
            "no progress for 2s",
        ],
    );
    let expected: Tree = [("out".to_string(), Entry::Dir)].into_iter().collect();
    assert_same_tree(
        "after a failed pull, -o holds nothing",
        "expected",
        &expected,
        "actual",
        &tree_snapshot(work.path()),
    );

    let seen = proxy.seen().len();
    for bad in [
        &["--stall-timeout", "0s"][..],
        &["--stall-timeout", "soon"][..],
    ] {
        let out = run(vendoras()
            .current_dir(work.path())
            .args(["pull", "--plain-http", "-o", "out"])
            .args(bad)
            .arg(&reference));
        assert_eq!(out.code(), Some(1), "{out:?}");
        assert!(out.stderr.contains("--stall-timeout"), "{out:?}");
    }
    let out = run(vendoras()
        .current_dir(work.path())
        .args(["pull", "--plain-http", "-o", "out"])
        .env("VENDORAS_STALL_TIMEOUT", "0")
        .arg(&reference));
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("VENDORAS_STALL_TIMEOUT"), "{out:?}");
    assert_eq!(
        proxy.seen().len(),
        seen,
        "a refused timeout must fetch nothing\n{}",
        proxy.seen_text()
    );
}
