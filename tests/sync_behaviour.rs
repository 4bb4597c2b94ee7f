//! `vendoras sync` behaviour (docs/lock.md; README, "vendoras sync"): tag selection, `--locked`, `lazy`,
//! `-d`, `secretRef` credentials, removal of unmanaged files, `manual` and
//! `ignorePaths`, and an idempotent re-sync.
//!
//! One plain registry is shared by the tests of this file; the lazy and secure tests
//! start their own.

mod support;

use std::fs;
use std::sync::OnceLock;

use support::sync::*;
use support::*;

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| {
        let r = Registry::start();
        for tag in ["1.0.0", "1.2.0", "2.0.0"] {
            push_text(&r, "semver", tag, &format!("{tag}\n"));
        }
        r
    })
}

/// Pushes one file `version.txt` holding `text` to `repo:tag`; returns the digest.
fn push_text(r: &Registry, repo: &str, tag: &str, text: &str) -> String {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("version.txt"), text).unwrap();
    oras_push_in(
        r,
        src.path(),
        &[],
        &r.reference(repo, tag),
        &["version.txt"],
    )
}

fn read(w: &Work, rel: &str) -> String {
    fs::read_to_string(w.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn tag_selection_picks_the_highest_matching_semver_tag() {
    let r = registry();
    let w = Work::new();
    let content = oci_yaml(
        ".",
        &format!("{}/semver", r.host()),
        None,
        &[
            "plainHTTP: true",
            "tagSelection:",
            "  semver:",
            "    constraints: \">=1.0.0 <2.0.0\"",
        ],
        &[],
    );
    w.config(&config_yaml(&[dir_yaml("vendor/x", &[content])], ""));
    w.sync(&[]).ok();
    assert_eq!(read(&w, "vendor/x/version.txt"), "1.2.0\n");
    let lock = w.lock();
    assert!(
        lock.contains("tag: 1.2.0") || lock.contains("tag: \"1.2.0\""),
        "lock tag\n{lock}"
    );
    let digest = oras_resolve(r, &r.reference("semver", "1.2.0"));
    assert_eq!(
        lock_urls(&lock),
        vec![format!("{}/semver@{digest}", r.host())]
    );
}

#[test]
fn locked_sync_pulls_the_pinned_digest_after_the_tag_moved() {
    let r = registry();
    let old = push_text(r, "moving", "v1", "old\n");
    let w = Work::new();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/moving", r.host()),
        "v1",
        &[],
    ));
    w.sync(&[]).ok();
    assert_eq!(read(&w, "vendor/x/version.txt"), "old\n");
    let lock = w.lock();
    assert!(lock.contains(&old), "{lock}");

    let new = push_text(r, "moving", "v1", "new\n");
    assert_ne!(old, new);
    // Wipe the tree so --locked really has to fetch.
    fs::remove_dir_all(w.dir.join("vendor/x")).unwrap();
    w.sync(&["--locked"]).ok();
    assert_eq!(
        read(&w, "vendor/x/version.txt"),
        "old\n",
        "--locked must pull the pinned digest"
    );
    assert_eq!(w.lock(), lock, "--locked must not change the lock");

    // And without --locked the moved tag is followed (proves the tag did move).
    w.sync(&[]).ok();
    assert_eq!(read(&w, "vendor/x/version.txt"), "new\n");
    assert!(w.lock().contains(&new));
}

#[test]
fn locked_sync_without_a_lock_file_fails_clearly() {
    let r = registry();
    let w = Work::new();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/semver", r.host()),
        "1.0.0",
        &[],
    ));
    let out = w.sync(&["--locked"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(&out, &["vendoras: Error:", "--locked", "vendir.lock.yml"]);
    assert!(w.tree("vendor").is_empty(), "nothing may be written");

    // -l is the short form; and a lock without the content's entry fails too.
    fs::write(
        w.dir.join("vendir.lock.yml"),
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\ndirectories: []\n",
    )
    .unwrap();
    let out = w.sync(&["-l"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(&out, &["vendoras: Error:", "vendor/x"]);
}

#[test]
fn lazy_content_with_unchanged_config_is_not_fetched_again() {
    let own = Registry::start();
    push_text(&own, "lazy", "v1", "lazy\n");
    let w = Work::new();
    w.config(&config_yaml(
        &[dir_yaml(
            "vendor/x",
            &[oci_yaml(
                ".",
                &format!("{}/lazy", own.host()),
                Some("v1"),
                &["plainHTTP: true"],
                &["lazy: true"],
            )],
        )],
        "",
    ));
    w.sync(&[]).ok();
    let before = w.state();
    assert_eq!(read(&w, "vendor/x/version.txt"), "lazy\n");

    // No registry and no cache any more: only a lazy skip can succeed.
    drop(own);
    fs::remove_dir_all(&w.cache).unwrap();
    let out = w.sync(&[]).ok();
    assert!(
        out.stderr.contains("lazy"),
        "the skip should be reported\n{out:?}"
    );
    assert_eq!(w.state(), before, "a lazy skip changes nothing");

    // --lazy=false does fetch (and so fails now), leaving everything as it was.
    let out = w.sync(&["--lazy=false"]);
    assert!(
        !out.success(),
        "--lazy=false must fetch; the registry is gone\n{out:?}"
    );
    assert_eq!(w.state(), before);
}

#[test]
fn directory_flag_syncs_one_directory_and_keeps_the_others_lock_entry() {
    let r = registry();
    let a1 = push_text(r, "dir-a", "v1", "a1\n");
    let a2 = push_text(r, "dir-a", "v2", "a2\n");
    let b1 = push_text(r, "dir-b", "v1", "b1\n");
    let cfg = |a_tag: &str, b_tag: &str| {
        config_yaml(
            &[
                dir_yaml(
                    "vendor/a",
                    &[oci_yaml(
                        ".",
                        &format!("{}/dir-a", r.host()),
                        Some(a_tag),
                        &["plainHTTP: true"],
                        &[],
                    )],
                ),
                dir_yaml(
                    "vendor/b",
                    &[oci_yaml(
                        ".",
                        &format!("{}/dir-b", r.host()),
                        Some(b_tag),
                        &["plainHTTP: true"],
                        &[],
                    )],
                ),
            ],
            "",
        )
    };
    let w = Work::new();
    w.config(&cfg("v1", "v1"));
    w.sync(&[]).ok();
    assert_eq!(
        lock_urls(&w.lock()),
        vec![
            format!("{}/dir-a@{a1}", r.host()),
            format!("{}/dir-b@{b1}", r.host())
        ]
    );
    let b_tree = w.tree("vendor/b");

    // b's config now names a tag that does not exist: -d vendor/a must not touch b.
    w.config(&cfg("v2", "does-not-exist"));
    w.sync(&["-d", "vendor/a"]).ok();
    assert_eq!(read(&w, "vendor/a/version.txt"), "a2\n");
    assert_eq!(
        lock_urls(&w.lock()),
        vec![
            format!("{}/dir-a@{a2}", r.host()),
            format!("{}/dir-b@{b1}", r.host())
        ]
    );
    assert_eq!(w.tree("vendor/b"), b_tree);

    // -d with an unknown directory is an error naming the known ones.
    let out = w.sync(&["-d", "vendor/nope"]);
    assert!(!out.success());
    assert_contains(&out, &["vendor/nope", "vendor/a"]);
}

#[test]
fn secret_ref_credentials_authenticate_and_a_wrong_password_is_not_echoed() {
    let r = Registry::start_secure();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("secret.txt"), "behind auth\n").unwrap();
    oras_push_in(
        &r,
        src.path(),
        &[],
        &r.reference("private", "v1"),
        &["secret.txt"],
    );

    let cfg = |password: &str| {
        let secret = format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  username: {}\n  password: \"{password}\"\n",
            r.user()
        );
        config_yaml(
            &[dir_yaml(
                "vendor/x",
                &[oci_yaml(
                    ".",
                    &format!("{}/private", r.host()),
                    Some("v1"),
                    &["secretRef: {name: creds}", "dangerousSkipTLSVerify: true"],
                    &[],
                )],
            )],
            &secret,
        )
    };
    let w = Work::new();
    w.config(&cfg(r.password()));
    let out = w.sync(&[]).ok();
    assert!(!out.stderr.contains(r.password()) && !out.stdout.contains(r.password()));
    assert_eq!(read(&w, "vendor/x/secret.txt"), "behind auth\n");
    let before = w.state();

    let wrong = "Wr0ng-Pa55word-zz9";
    w.config(&cfg(wrong));
    let out = w.sync(&["--lazy=false"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(&out, &["vendoras: Error:", &r.host()]);
    assert!(
        !out.stderr.contains(wrong) && !out.stdout.contains(wrong),
        "the password leaked\n{out:?}"
    );
    assert_eq!(w.state(), before, "a refused login changes nothing");
}

#[test]
fn unmanaged_files_are_removed_but_manual_and_ignored_paths_are_kept() {
    let r = registry();
    push_text(r, "managed", "v1", "managed\n");
    let w = Work::new();
    w.config(&config_yaml(
        &[dir_yaml(
            "vendor/x",
            &[
                oci_yaml(
                    "oci",
                    &format!("{}/managed", r.host()),
                    Some("v1"),
                    &["plainHTTP: true"],
                    &["ignorePaths: [\"local/**\", keep-me.txt]"],
                ),
                "  - path: handmade\n    manual: {}\n".to_string(),
            ],
        )],
        "",
    ));
    write_file(&w.dir.join("vendor/x/stale.txt"), "stale\n");
    write_file(&w.dir.join("vendor/x/oci/old.txt"), "old\n");
    write_file(&w.dir.join("vendor/x/oci/keep-me.txt"), "ignored\n");
    write_file(
        &w.dir.join("vendor/x/oci/local/notes/n.txt"),
        "ignored dir\n",
    );
    write_file(&w.dir.join("vendor/x/handmade/mine.txt"), "manual\n");
    w.sync(&[]).ok();
    let expected = files_tree(&[
        ("oci/version.txt", b"managed\n"),
        ("oci/keep-me.txt", b"ignored\n"),
        ("oci/local/notes/n.txt", b"ignored dir\n"),
        ("handmade/mine.txt", b"manual\n"),
    ]);
    assert_same_tree(
        "after sync",
        "expected",
        &expected,
        "synced",
        &w.tree("vendor/x"),
    );

    // A file added later is removed by the next sync too.
    write_file(&w.dir.join("vendor/x/oci/added-later.txt"), "x\n");
    w.sync(&[]).ok();
    assert_same_tree(
        "after re-sync",
        "expected",
        &expected,
        "synced",
        &w.tree("vendor/x"),
    );
}

#[test]
fn a_second_sync_is_idempotent_and_leaves_the_lock_file_untouched() {
    let r = registry();
    let w = Work::new();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/semver", r.host()),
        "1.0.0",
        &[],
    ));
    let first = w.sync(&[]).ok();
    assert!(first.stdout.contains("lock updated"), "{first:?}");
    let lock_path = w.dir.join("vendir.lock.yml");
    let mtime = fs::metadata(&lock_path).unwrap().modified().unwrap();
    let ino = std::os::unix::fs::MetadataExt::ino(&fs::metadata(&lock_path).unwrap());
    let before = w.state();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = w.sync(&[]).ok();
    assert!(second.stdout.contains("lock unchanged"), "{second:?}");
    assert_eq!(w.state(), before);
    let meta = fs::metadata(&lock_path).unwrap();
    assert_eq!(
        meta.modified().unwrap(),
        mtime,
        "the lock file was rewritten"
    );
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&meta),
        ino,
        "the lock file was replaced"
    );
}

/// A lock as `git merge` leaves it when both sides changed it: `prefix` lines, then
/// ours and theirs between conflict markers.
fn conflicted(prefix: &str, ours: &str, theirs: &str) -> String {
    format!("{prefix}<<<<<<< HEAD\n{ours}=======\n{theirs}>>>>>>> feature\n")
}

fn lazy_config(r: &Registry, repo: &str) -> String {
    config_yaml(
        &[dir_yaml(
            "vendor/x",
            &[oci_yaml(
                ".",
                &format!("{}/{repo}", r.host()),
                Some("v1"),
                &["plainHTTP: true"],
                &["lazy: true"],
            )],
        )],
        "",
    )
}

#[test]
fn a_conflicted_lock_is_ignored_with_a_warning_and_rewritten() {
    let r = registry();
    push_text(r, "conflicted", "v1", "one\n");
    let w = Work::new();
    w.config(&lazy_config(r, "conflicted"));
    w.sync(&[]).ok();
    let old_lock = w.lock();
    assert_eq!(read(&w, "vendor/x/version.txt"), "one\n");

    // The tag moves; with a readable lock `lazy: true` would keep "one". An unreadable
    // lock records no config digest, so the content must be fetched.
    let new = push_text(r, "conflicted", "v1", "two\n");
    let lock_path = w.dir.join("vendir.lock.yml");
    fs::write(&lock_path, conflicted("", &old_lock, &old_lock)).unwrap();
    let out = w.sync(&["--json"]).ok();
    assert_contains(
        &out,
        &[
            "vendoras: warning: ",
            "vendir.lock.yml:1: ",
            "merge conflict marker \"<<<<<<< HEAD\"",
            "ignored",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let warnings = report["warnings"].as_array().expect("warnings in --json");
    assert_eq!(warnings.len(), 1, "{report}");
    assert_eq!(
        warnings[0]["id"].as_str().unwrap(),
        format!("{}:1", lock_path.display())
    );
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("merge conflict marker"),
        "{report}"
    );
    assert_eq!(report["contents"][0]["skipped"], false, "{report}");
    assert_eq!(read(&w, "vendor/x/version.txt"), "two\n");
    let lock = w.lock();
    assert!(
        !lock.contains("<<<<<<<") && !lock.contains("======="),
        "{lock}"
    );
    assert_eq!(
        lock_urls(&lock),
        vec![format!("{}/conflicted@{new}", r.host())]
    );
    assert_eq!(
        lock,
        old_lock.replace(&lock_urls(&old_lock)[0], &lock_urls(&lock)[0])
    );

    // The rewritten lock is a lock again: the next sync reads it (lazy skip) quietly.
    let out = w.sync(&[]).ok();
    assert!(!out.stderr.contains("warning"), "{out:?}");
    assert!(out.stderr.contains("lazy"), "{out:?}");
}

#[test]
fn locked_sync_refuses_a_conflicted_lock_naming_file_and_line() {
    let r = registry();
    push_text(r, "conflicted-locked", "v1", "one\n");
    let w = Work::new();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/conflicted-locked", r.host()),
        "v1",
        &[],
    ));
    w.sync(&[]).ok();
    let lock = w.lock();
    let (head, body) = lock.split_once("directories:\n").unwrap();
    let lock_path = w.dir.join("vendir.lock.yml");
    fs::write(
        &lock_path,
        conflicted(&format!("{head}directories:\n"), body, body),
    )
    .unwrap();
    let marker_line = head.lines().count() + 2;
    let before = w.state();
    let sentinel = w.sentinel_tree();

    let out = w.sync(&["--locked"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(
        &out,
        &[
            &format!("vendoras: Error: {}:{marker_line}: ", lock_path.display()),
            "merge conflict marker \"<<<<<<< HEAD\"",
            "without --locked",
        ],
    );
    let after = w.state();
    assert_same_tree("work dir", "before", &before.0, "after", &after.0);
    assert_eq!(
        before.1, after.1,
        "the conflicted lock must stay byte-identical"
    );
    assert_same_tree("sentinel", "before", &sentinel, "after", &w.sentinel_tree());
}

#[test]
fn an_empty_lock_is_rewritten_by_a_plain_sync_and_refused_by_locked() {
    let r = registry();
    let digest = push_text(r, "empty-lock", "v1", "one\n");
    let w = Work::new();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/empty-lock", r.host()),
        "v1",
        &[],
    ));
    let lock_path = w.dir.join("vendir.lock.yml");
    fs::write(&lock_path, "").unwrap();

    let out = w.sync(&["--locked"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(
        &out,
        &[
            &format!("vendoras: Error: {}: ", lock_path.display()),
            "empty",
            "without --locked",
        ],
    );
    assert!(w.tree("vendor").is_empty(), "nothing may be written");
    assert_eq!(
        fs::read(&lock_path).unwrap(),
        b"",
        "the lock must stay as it was"
    );

    let out = w.sync(&[]).ok();
    assert_contains(
        &out,
        &[
            &format!("vendoras: warning: {}: ", lock_path.display()),
            "empty",
        ],
    );
    assert_eq!(read(&w, "vendor/x/version.txt"), "one\n");
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}/empty-lock@{digest}", r.host())]
    );
}

#[test]
fn an_anonymous_pull_from_a_registry_needing_credentials_says_401_and_what_to_do() {
    let r = Registry::start_secure();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("secret.txt"), "behind auth\n").unwrap();
    oras_push_in(
        &r,
        src.path(),
        &[],
        &r.reference("private", "v1"),
        &["secret.txt"],
    );
    let repository = format!("{}/private", r.host());
    let run_with = |content: String| {
        let w = Work::new();
        w.config(&config_yaml(&[dir_yaml("vendor/x", &[content])], ""));
        let mut cmd = w.cmd(&[]);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("IMGPKG_") {
                cmd.env_remove(k);
            }
        }
        let out = run(&mut cmd);
        assert_eq!(out.code(), Some(1), "{out:?}");
        assert!(
            !out.stderr.contains("basic credential not found"),
            "oras-go's words instead of what happened:\n{out:?}"
        );
        assert_contains(
            &out,
            &[
                &format!("401 unauthorized for {repository}"),
                "secretRef",
                &format!("docker login {}", r.host()),
            ],
        );
        assert!(!w.dir.join("vendor/x").exists(), "{out:?}");
        out
    };

    // ociArtifact: a secretRef or the docker config; imgpkg's variables do not apply.
    let out = run_with(oci_yaml(
        ".",
        &repository,
        Some("v1"),
        &["dangerousSkipTLSVerify: true"],
        &[],
    ));
    assert!(!out.stderr.contains("IMGPKG_"), "{out:?}");

    // image: imgpkg's variables too.
    let out = run_with(format!(
        "  - path: .\n    image:\n      url: {}\n      dangerousSkipTLSVerify: true\n",
        r.reference("private", "v1")
    ));
    assert_contains(&out, &["IMGPKG_USERNAME"]);
}
