//! `vendoras sync` is all or nothing across directories: every directory is swapped
//! in, and the lock written, or none is (docs/lock.md). The failures are real file
//! system conditions: an immutable directory (`chattr +i`) cannot be renamed, and an
//! immutable lock file cannot be replaced. Both need root (CAP_LINUX_IMMUTABLE) on a
//! file system with inode flags (ext4, xfs, btrfs); as another user the tests say
//! SKIPPED, as root a failing `chattr` fails the test.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::sync::*;
use support::*;

/// `chattr +i` on a path, undone on drop (so the temp dir can be removed even when
/// the test fails).
struct Immutable(PathBuf);

impl Immutable {
    /// `None` (after saying SKIPPED) when not root.
    fn set(path: &Path) -> Option<Immutable> {
        let out = run(Command::new("chattr").arg("+i").arg(path));
        if out.success() {
            return Some(Immutable(path.to_path_buf()));
        }
        let uid = run(Command::new("id").arg("-u")).ok().stdout;
        if uid.trim() != "0" {
            eprintln!("SKIPPED: chattr +i needs root (uid {})", uid.trim());
            return None;
        }
        panic!(
            "chattr +i {} failed as root (does the temp dir's file system support inode flags?)\n{out:?}",
            path.display()
        );
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = run(Command::new("chattr").arg("-i").arg(&self.0));
    }
}

/// Pushes `name.txt` holding `text` to `repo:tag`.
fn push_text(r: &Registry, repo: &str, tag: &str, text: &str) {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join(format!("{repo}.txt")), text).unwrap();
    oras_push_in(
        r,
        src.path(),
        &[],
        &r.reference(repo, tag),
        &[&format!("{repo}.txt")],
    );
}

/// One directory `vendor/<repo>` per repo, each at `tag`.
fn config(r: &Registry, repos: &[&str], tag: &str) -> String {
    let dirs: Vec<String> = repos
        .iter()
        .map(|repo| {
            dir_yaml(
                &format!("vendor/{repo}"),
                &[oci_yaml(
                    ".",
                    &format!("{}/{repo}", r.host()),
                    Some(tag),
                    &["plainHTTP: true"],
                    &[],
                )],
            )
        })
        .collect();
    config_yaml(&dirs, "")
}

#[track_caller]
fn assert_unchanged(w: &Work, before: &(Tree, String), sentinel: &Tree) {
    let after = w.state();
    assert_same_tree("work dir", "before", &before.0, "after", &after.0);
    assert_eq!(before.1, after.1, "the lock changed");
    assert_same_tree("sentinel", "before", sentinel, "after", &w.sentinel_tree());
}

#[test]
fn a_failed_commit_of_the_second_of_three_directories_changes_nothing() {
    let r = Registry::start();
    let repos = ["a", "b", "c"];
    for repo in repos {
        push_text(&r, repo, "v1", &format!("{repo} one\n"));
        push_text(&r, repo, "v2", &format!("{repo} two\n"));
    }
    let w = Work::new();
    w.config(&config(&r, &repos, "v1"));
    w.sync(&[]).ok();
    let before = w.state();
    let sentinel = w.sentinel_tree();
    assert!(before.0.contains_key("vendor/a/a.txt"), "{before:?}");

    // Every directory has new content; vendor/b cannot be swapped (renamed) out.
    w.config(&config(&r, &repos, "v2"));
    let guard = Immutable::set(&w.dir.join("vendor/b"));
    if guard.is_none() {
        return;
    }
    let out = w.sync(&[]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(
        &out,
        &["vendoras: Error:", "vendor/b", "Operation not permitted"],
    );
    // vendor/a was swapped in before vendor/b failed: it must be back, with no
    // staging directory left beside it.
    assert_unchanged(&w, &before, &sentinel);

    // The condition alone made it fail: without it the same sync succeeds.
    drop(guard);
    w.sync(&[]).ok();
    for repo in repos {
        assert_eq!(
            fs::read_to_string(w.dir.join(format!("vendor/{repo}/{repo}.txt"))).unwrap(),
            format!("{repo} two\n")
        );
    }
}

#[test]
fn a_lock_that_cannot_be_written_rolls_every_directory_back() {
    let r = Registry::start();
    for repo in ["a", "fresh"] {
        push_text(&r, repo, "v1", &format!("{repo} one\n"));
        push_text(&r, repo, "v2", &format!("{repo} two\n"));
    }
    let w = Work::new();
    w.config(&config(&r, &["a"], "v1"));
    w.sync(&[]).ok();
    let before = w.state();
    let sentinel = w.sentinel_tree();

    // vendor/a changes and vendor/fresh is new; the lock cannot be replaced.
    w.config(&config(&r, &["a", "fresh"], "v2"));
    let Some(guard) = Immutable::set(&w.dir.join("vendir.lock.yml")) else {
        return;
    };
    let out = w.sync(&[]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(&out, &["vendoras: Error:", "vendir.lock.yml"]);
    assert_unchanged(&w, &before, &sentinel);
    assert!(!w.dir.join("vendor/fresh").exists());

    drop(guard);
    w.sync(&[]).ok();
    assert_eq!(
        fs::read_to_string(w.dir.join("vendor/fresh/fresh.txt")).unwrap(),
        "fresh two\n"
    );
    assert_eq!(lock_urls(&w.lock()).len(), 2);
}
