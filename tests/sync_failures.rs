//! `vendoras sync` failures (docs/config.md "What lands on disk"; README "vendoras sync"): a bad or hostile archive, a refused login, a
//! config error, `kill -9` and Ctrl-C mid-sync. Each leaves the previous tree and lock
//! byte for byte as they were and creates nothing outside the content path.
//!
//! One plain registry is shared by the tests of this file.

mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use support::sync::*;
use support::*;

const TGZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let r = Registry::start();
        let src = tempfile::tempdir().unwrap();
        write_file(&src.path().join("good.txt"), "good\n");
        write_file(&src.path().join("sub/deep.txt"), "deep\n");
        oras_push_in(
            &r,
            src.path(),
            &[],
            &r.reference("good", "v1"),
            &["good.txt", "sub"],
        );
        r
    })
}

/// A work dir holding a good synced tree in `vendor/x` (plus a second directory), with
/// its lock.
fn synced() -> Work {
    let r = registry();
    let w = Work::new();
    w.config(&good_config());
    w.sync(&[]).ok();
    assert!(w.dir.join("vendor/x/good.txt").is_file());
    assert!(!w.lock().is_empty());
    let _ = r;
    w
}

fn good_config() -> String {
    simple_config(
        "vendor/x",
        &format!("{}/good", registry().host()),
        "v1",
        &[],
    )
}

/// Points `vendor/x` at `repo:tag`, syncs, and checks the sync failed and left the
/// work dir (minus vendir.yml) and the sentinel exactly as they were.
#[track_caller]
fn fails_and_keeps_everything(w: &Work, repo: &str, tag: &str) -> Outcome {
    let before = w.state();
    let sentinel = w.sentinel_tree();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/{repo}", registry().host()),
        tag,
        &[],
    ));
    let out = w.sync(&[]);
    assert_eq!(out.code(), Some(1), "{repo}:{tag} must fail\n{out:?}");
    assert!(out.stderr.contains("vendoras: Error:"), "{out:?}");
    let after = w.state();
    assert_same_tree(
        &format!("{repo}: work dir after failure"),
        "before",
        &before.0,
        "after",
        &after.0,
    );
    assert_eq!(before.1, after.1, "{repo}: the lock changed");
    assert_same_tree(
        &format!("{repo}: sentinel"),
        "before",
        &sentinel,
        "after",
        &w.sentinel_tree(),
    );
    out
}

fn push_tar(repo: &str, data: Vec<u8>) {
    Crafter::new(registry(), repo).artifact("v1", vec![(layer(TGZ, &[]), data)]);
}

#[test]
fn a_layer_that_is_not_the_gzip_it_claims_fails_and_keeps_the_old_tree() {
    push_tar(
        "not-gzip",
        b"this is plain text, not gzip at all\n".repeat(10),
    );
    let w = synced();
    fails_and_keeps_everything(&w, "not-gzip", "v1");
}

#[test]
fn hostile_archives_are_refused_naming_the_entry() {
    let w = synced();
    let sentinel = w.sentinel.display().to_string();
    // Relative to the content path <tmp>/work/vendor/x, ../../../sentinel is the sentinel.
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "dotdot",
            {
                let mut t = TarBuilder::new();
                t.file("ok.txt", b"ok")
                    .file("../../../sentinel/evil.txt", b"evil");
                t.finish_gz()
            },
            "../../../sentinel/evil.txt".into(),
        ),
        (
            "dotdot-inner",
            {
                let mut t = TarBuilder::new();
                t.file("a/../../escape.txt", b"evil");
                t.finish_gz()
            },
            "a/../../escape.txt".into(),
        ),
        (
            "absolute",
            {
                let mut t = TarBuilder::new();
                t.file(&format!("{sentinel}/abs.txt"), b"evil");
                t.finish_gz()
            },
            format!("{sentinel}/abs.txt"),
        ),
        (
            "symlink-out-then-write",
            {
                let mut t = TarBuilder::new();
                t.symlink("esc", "../../../sentinel")
                    .file("esc/through.txt", b"evil");
                t.finish_gz()
            },
            "esc".into(),
        ),
        (
            "symlink-abs-then-write",
            {
                let mut t = TarBuilder::new();
                t.symlink("esc2", &sentinel)
                    .file("esc2/through.txt", b"evil");
                t.finish_gz()
            },
            "esc2".into(),
        ),
        (
            "hardlink-out",
            {
                let mut t = TarBuilder::new();
                t.hardlink("hl", &format!("{sentinel}/keep.txt"));
                t.finish_gz()
            },
            "hl".into(),
        ),
        (
            "hardlink-dotdot",
            {
                let mut t = TarBuilder::new();
                t.hardlink("hl2", "../../../sentinel/keep.txt");
                t.finish_gz()
            },
            "hl2".into(),
        ),
        (
            "symlink-dir-file",
            {
                let mut t = TarBuilder::new();
                t.symlink("sd", "../../../sentinel")
                    .dir("sd")
                    .file("sd/x.txt", b"evil");
                t.finish_gz()
            },
            "sd".into(),
        ),
    ];
    let mut problems = Vec::new();
    for (repo, data, name) in cases {
        let repo = format!("hostile-{repo}");
        push_tar(&repo, data);
        let out = fails_and_keeps_everything(&w, &repo, "v1");
        if !out.stderr.contains(&name) {
            problems.push(format!(
                "{repo}: the error does not name entry {name:?}:\n{}",
                out.stderr
            ));
        }
        for p in ["vendor/escape.txt", "escape.txt", "vendor/evil.txt"] {
            assert!(
                !w.dir.join(p).exists(),
                "{repo}: {p} was created outside the content path"
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn device_and_fifo_entries_are_skipped_with_a_warning() {
    let mut t = TarBuilder::new();
    t.file("ok.txt", b"ok\n")
        .fifo("pipe")
        .entry("chardev", b'3', 0o644, b"", "")
        .entry("blockdev", b'4', 0o644, b"", "");
    push_tar("devices", t.finish_gz());
    let w = synced();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/devices", registry().host()),
        "v1",
        &[],
    ));
    let out = w.sync(&[]).ok();
    for name in ["pipe", "chardev", "blockdev"] {
        assert!(
            out.stderr.contains(name) && out.stderr.contains("warning"),
            "a warning should name {name}\n{out:?}"
        );
    }
    assert_same_tree(
        "devices skipped",
        "expected",
        &files_tree(&[("ok.txt", b"ok\n")]),
        "synced",
        &w.tree("vendor/x"),
    );
}

/// Names from a remote never reach the terminal raw: a hostile entry name with escape
/// sequences is printed with them escaped (`\x1b`), in the error and in a warning.
#[test]
fn hostile_entry_names_reach_stderr_escaped() {
    let hostile = "\x1b[31mRED\x1b[0m/../../x";
    let mut t = TarBuilder::new();
    t.file("ok.txt", b"ok\n").file(hostile, b"evil");
    push_tar("hostile-escapes", t.finish_gz());
    let w = synced();
    let out = fails_and_keeps_everything(&w, "hostile-escapes", "v1");
    assert!(
        out.stderr
            .contains("\\x1b[31mRED\\x1b[0m/../../x: path escapes the destination"),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains('\x1b'),
        "a raw ESC reached stderr: {out:?}"
    );

    // A warning names its entry escaped too (an OSC title sequence, a BEL, a newline).
    let mut t = TarBuilder::new();
    t.file("ok.txt", b"ok\n")
        .fifo("\x1b]0;pwned\x07pipe\nvendoras: fake line");
    push_tar("hostile-warning", t.finish_gz());
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/hostile-warning", registry().host()),
        "v1",
        &[],
    ));
    let out = w.sync(&[]).ok();
    assert!(
        out.stderr.contains(
            "\\x1b]0;pwned\\x07pipe\\x0avendoras: fake line: skipped device or FIFO entry"
        ),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains('\x1b') && !out.stderr.contains('\x07'),
        "{out:?}"
    );
}

/// Whiteouts are image-layer semantics: an `ociArtifact` content refuses them at any
/// depth (`crane export` would apply them, a file copy would write them), naming the
/// layer and the entry and pointing to `image:`; nothing is written.
#[test]
fn whiteout_entries_are_refused_naming_layer_and_entry() {
    let mut lower = TarBuilder::new();
    lower
        .file("gone.txt", b"lower\n")
        .file("sub/kept.txt", b"kept\n");
    let lower = lower.finish_gz();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wh-file",
            TarBuilder::new().file(".wh.gone.txt", b"").finish_gz(),
            ".wh.gone.txt",
        ),
        (
            "wh-opaque",
            TarBuilder::new()
                .dir("sub")
                .file("sub/.wh..wh..opq", b"")
                .finish_gz(),
            "sub/.wh..wh..opq",
        ),
    ];
    for (repo, upper, entry) in cases {
        let upper_digest = digest_of(&upper);
        Crafter::new(registry(), repo).artifact(
            "v1",
            vec![(layer(TGZ, &[]), lower.clone()), (layer(TGZ, &[]), upper)],
        );
        // A fresh directory: nothing at all may be written.
        let w = Work::new();
        w.config(&simple_config(
            "vendor/x",
            &format!("{}/{repo}", registry().host()),
            "v1",
            &[],
        ));
        let out = w.sync(&[]);
        assert_eq!(out.code(), Some(1), "{repo}\n{out:?}");
        assert_contains(
            &out,
            &[
                &format!("layer {upper_digest} ({TGZ}): {entry}: whiteout entry refused"),
                "`image:`",
            ],
        );
        assert!(
            w.tree("vendor").is_empty(),
            "{repo}: {:?}",
            w.tree("vendor")
        );
        assert!(w.lock().is_empty(), "{repo}: no lock may be written");
        // Over a synced tree: the tree and lock stay as they were.
        fails_and_keeps_everything(&synced(), repo, "v1");
    }

    // An oras directory tarball is an ociArtifact layer too.
    let (d, gz) = oras_dir_layer(
        "dir",
        TarBuilder::new()
            .dir("dir")
            .file("dir/a.txt", b"a\n")
            .file("dir/deep/.wh.b", b""),
    );
    let digest = digest_of(&gz);
    Crafter::new(registry(), "wh-oras-dir").artifact("v1", vec![(d, gz)]);
    let out = fails_and_keeps_everything(&synced(), "wh-oras-dir", "v1");
    assert_contains(
        &out,
        &[&format!(
            "layer {digest} ({TGZ}): dir/deep/.wh.b: whiteout entry refused"
        )],
    );
}

/// A PAX header says size=0 for a file whose ustar header says 1024 bytes; those bytes
/// hold a tar header for an escaping entry. A reader that honours PAX (as GNU and Go
/// tar do) sees that smuggled entry and must refuse it; nothing may escape either way.
#[test]
fn a_pax_size_that_desyncs_the_archive_cannot_smuggle_an_entry_out() {
    let mut inner = TarBuilder::new();
    inner.file("../../../sentinel/pax-evil.txt", b"evil");
    let inner = inner.finish();
    let smuggled = inner[..1024].to_vec(); // header + data block of the evil entry
    let record = "size=0\n";
    let len = record.len() + 3; // "NN " + record
    let pax = format!("{} {record}", len + (len + 1).to_string().len() - 2);
    let pax = if pax.len() == pax.split(' ').next().unwrap().parse::<usize>().unwrap() {
        pax
    } else {
        format!("{} {record}", record.len() + 3)
    };
    assert_eq!(
        pax.len(),
        pax.split(' ').next().unwrap().parse::<usize>().unwrap(),
        "pax record length: {pax:?}"
    );
    let mut t = TarBuilder::new();
    t.entry("PaxHeaders/carrier", b'x', 0o644, pax.as_bytes(), "")
        .file("carrier", &smuggled)
        .file("after.txt", b"after\n");
    push_tar("pax-desync", t.finish_gz());
    let w = synced();
    let out = fails_and_keeps_everything(&w, "pax-desync", "v1");
    assert!(
        out.stderr.contains("pax-evil.txt"),
        "the smuggled entry should be named\n{out:?}"
    );
}

#[test]
fn a_registry_refusing_auth_fails_and_keeps_the_old_tree() {
    let secure = Registry::start_secure();
    let src = tempfile::tempdir().unwrap();
    write_file(&src.path().join("s.txt"), "s\n");
    oras_push_in(
        &secure,
        src.path(),
        &[],
        &secure.reference("locked", "v1"),
        &["s.txt"],
    );
    let w = synced();
    let before = w.state();
    w.config(&config_yaml(
        &[dir_yaml(
            "vendor/x",
            &[oci_yaml(
                ".",
                &format!("{}/locked", secure.host()),
                Some("v1"),
                &["dangerousSkipTLSVerify: true"],
                &[],
            )],
        )],
        "",
    ));
    let out = w.sync(&[]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(&out, &["vendoras: Error:", &secure.host()]);
    assert_eq!(w.state(), before);
}

#[test]
fn a_missing_tag_with_json_prints_registry_and_status_404_as_fields() {
    let w = synced();
    let before = w.state();
    let host = registry().host();
    w.config(&simple_config(
        "vendor/x",
        &format!("{host}/good"),
        "no-such-tag",
        &[],
    ));
    let out = w.sync(&["--json"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{out:?}"));
    let err = &json["error"];
    assert_eq!(err["kind"], "registry", "{json:#}");
    assert_eq!(err["status"], 404, "{json:#}");
    assert_eq!(err["code"], "not_found", "{json:#}");
    assert_eq!(err["registry"], host.as_str(), "{json:#}");
    assert_eq!(err["repository"], format!("{host}/good"), "{json:#}");
    assert_eq!(err["reference"], "no-such-tag", "{json:#}");
    assert_eq!(err["directory"], "vendor/x", "{json:#}");
    assert_eq!(err["content"], ".", "{json:#}");
    // The message is the very text on stderr.
    let message = err["message"].as_str().expect("message is text");
    assert!(
        out.stderr
            .contains(&format!("vendoras: Error: {message}\n")),
        "{out:?}"
    );
    assert_contains(&out, &["no-such-tag", "404"]);
    assert_eq!(w.state(), before);
}

#[test]
fn a_misspelled_key_is_an_error_with_file_line_and_suggestion() {
    let w = synced();
    let before = w.state();
    let cfg = good_config().replacen("- path: vendor/x", "- pathh: vendor/x", 1);
    let line = cfg.lines().position(|l| l.contains("pathh")).unwrap() + 1;
    w.config(&cfg);
    let out = w.sync(&[]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(
        &out,
        &[
            "vendoras: Error:",
            &format!("vendir.yml:{line}"),
            "pathh",
            "did you mean",
            "`path`",
        ],
    );
    assert_eq!(w.state(), before);
}

const BIG: u64 = 24 * 1024 * 1024;
const RATE: u64 = 2 * 1024 * 1024;

fn big_repo() -> &'static str {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let src = tempfile::tempdir().unwrap();
        write_random_file(&src.path().join("big.bin"), BIG, 11);
        oras_push_in(
            registry(),
            src.path(),
            &[],
            &registry().reference("big", "v1"),
            &["big.bin"],
        );
    });
    "big"
}

/// Starts a sync of the big artifact through a throttling proxy and waits until it is
/// downloading. Returns the child, the proxy and the state before.
fn start_slow_sync(
    w: &Work,
) -> (
    std::process::Child,
    ThrottleProxy,
    (Tree, String),
    std::path::PathBuf,
) {
    let repo = big_repo();
    let before = w.state();
    let proxy =
        ThrottleProxy::start_with_lifetime(registry().addr(), RATE, Duration::from_secs(120));
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/{repo}", proxy.host()),
        "v1",
        &[],
    ));
    let log = w.sentinel.parent().unwrap().join("sync.log");
    let child = w
        .cmd(&[])
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (child, proxy, before, log)
}

fn staging_dirs(w: &Work) -> Vec<String> {
    fs::read_dir(w.dir.join("vendor"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".vendoras-staging-"))
        .collect()
}

#[test]
fn kill_9_mid_sync_leaves_the_old_tree_and_the_next_sync_cleans_up() {
    let w = synced();
    let (mut child, proxy, before, log) = start_slow_sync(&w);
    assert!(
        proxy.wait_forwarded(3 * 1024 * 1024, Duration::from_secs(60)),
        "download did not start\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "sync finished before the kill"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut after = w.state();
    assert_eq!(after.1, before.1, "lock changed by a killed sync");
    let staged: Vec<String> = after
        .0
        .keys()
        .filter(|k| k.contains(".vendoras-staging-"))
        .cloned()
        .collect();
    after.0.retain(|k, _| !k.contains(".vendoras-staging-"));
    assert_same_tree("after kill -9", "before", &before.0, "after", &after.0);
    eprintln!("staging left by the killed run: {staged:?}");
    drop(proxy);

    // The next sync (direct, unthrottled) succeeds and removes the leftovers.
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/big", registry().host()),
        "v1",
        &[],
    ));
    w.sync(&[]).ok();
    assert!(
        staging_dirs(&w).is_empty(),
        "stale staging dirs remain: {:?}",
        staging_dirs(&w)
    );
    assert_eq!(
        fs::metadata(w.dir.join("vendor/x/big.bin")).unwrap().len(),
        BIG
    );
    assert!(!w.dir.join("vendor/x/good.txt").exists());
}

#[test]
fn ctrl_c_mid_sync_exits_130_and_leaves_the_old_tree() {
    let w = synced();
    let (mut child, proxy, before, log) = start_slow_sync(&w);
    assert!(
        proxy.wait_forwarded(3 * 1024 * 1024, Duration::from_secs(60)),
        "download did not start\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "sync finished before the interrupt"
    );
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = wait_timeout(&mut child, Duration::from_secs(15))
        .expect("sync did not stop within 15 s of SIGINT");
    let logs = fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(130), "exit status after SIGINT\n{logs}");
    let after = w.state();
    assert_same_tree("after Ctrl-C", "before", &before.0, "after", &after.0);
    assert_eq!(after.1, before.1, "lock changed by an interrupted sync");
    assert!(
        staging_dirs(&w).is_empty(),
        "an interrupted sync should clean its staging dir: {:?}",
        staging_dirs(&w)
    );
}

#[test]
fn a_failed_sync_takes_away_the_parent_directories_it_created() {
    let host = registry().host();
    let good = format!("{host}/good");
    // Resolves, then fails while extracting: after the directories were staged.
    push_tar("parents-not-gzip", b"not gzip\n".repeat(10));
    let bad = format!("{host}/parents-not-gzip");
    let w = Work::new();
    fs::create_dir_all(w.dir.join("third_party")).unwrap();
    // Two new directories under new parents; the second from `second`.
    let config = |second: &str| {
        config_yaml(
            &[
                dir_yaml(
                    "deep/nested/ok",
                    &[oci_yaml(".", &good, Some("v1"), &["plainHTTP: true"], &[])],
                ),
                dir_yaml(
                    "third_party/charts/x",
                    &[oci_yaml(".", second, Some("v1"), &["plainHTTP: true"], &[])],
                ),
            ],
            "",
        )
    };
    w.config(&config(&bad));
    let out = w.sync(&[]);
    assert!(!out.success(), "{out:?}");
    let mut left: Vec<String> = fs::read_dir(&w.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["third_party", "vendir.yml"], "{out:?}");
    assert_eq!(fs::read_dir(w.dir.join("third_party")).unwrap().count(), 0);

    // The same config, fixed: both directories land, parents and all.
    w.config(&config(&good));
    w.sync(&[]).ok();
    assert!(w.dir.join("deep/nested/ok/good.txt").is_file());
    assert!(w.dir.join("third_party/charts/x/good.txt").is_file());
}
