//! Partial git fetches: a content whose filters keep nothing below `.git` (one folder
//! of a repository, the common real shape) fetches commits and trees, then only the
//! blobs it keeps. Side by side with vendir v0.44.0 over `git daemon` and smart HTTP,
//! with the servers' `uploadpack.allowFilter` on (partial) and off (git falls back to
//! a whole fetch): the trees and the lock bytes must be vendir's either way, and the
//! cache's mirror must lack the blobs the filters drop exactly when filters are on.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use support::fixtures::*;
use support::pair::Pair;
use support::servers::*;
use support::vendir::*;

/// A repository with a kept folder, a large dropped file (two versions, so history
/// holds one the tip does not), a legal file and a symlink; published as
/// `<root>/repo.git` with `uploadpack.allowFilter` set to `allow_filter`.
/// Returns the dropped file's blob ids (old, new).
fn repository(root: &Path, allow_filter: bool) -> (String, String) {
    let repo = GitRepo::init(&root.join("work"));
    let big = |seed: u8| -> Vec<u8> { (0..200_000u32).map(|i| (i as u8) ^ seed).collect() };
    repo.commit(
        &[("config/a.yml", b"a: 1\n"), ("big/blob.bin", &big(1))],
        "first",
    );
    std::os::unix::fs::symlink("a.yml", repo.work.join("config/link.yml")).unwrap();
    repo.commit(
        &[
            ("config/sub/b.yml", b"b: 2\n"),
            ("exec:config/bin/run.sh", b"#!/bin/sh\n"),
            ("config/we[ird]*name?.yml", b"w: 3\n"),
            ("big/blob.bin", &big(2)),
            ("LICENSE", b"license text\n"),
            ("other/c.yml", b"c: 3\n"),
        ],
        "second",
    );
    repo.tag_annotated("v1.0.0", "release");
    let old = git(&repo.work, &["rev-parse", "HEAD~1:big/blob.bin"]);
    let new = git(&repo.work, &["rev-parse", "HEAD:big/blob.bin"]);
    let bare = repo.publish(&root.join("repo.git"));
    let flag = allow_filter.to_string();
    git(&bare, &["config", "uploadpack.allowFilter", &flag]);
    (old, new)
}

fn config(url: &str, reference: &str, extra: &str) -> String {
    let content = |keys: &str| {
        let mut s = String::from("  - path: .\n");
        for l in keys.lines() {
            s.push_str(&format!("    {l}\n"));
        }
        s.push_str(&format!(
            "    git:\n      url: {url}\n      ref: {reference}\n"
        ));
        s.push_str(extra);
        s
    };
    vendir_config(
        &[
            format!(
                "- path: vendor/rooted\n  contents:\n{}",
                content("includePaths:\n- config/**/*\nnewRootPath: config")
            ),
            format!(
                "- path: vendor/picked\n  contents:\n{}",
                content("includePaths:\n- config/a.yml\n- config/we[[]ird]*")
            ),
        ],
        &[],
    )
}

/// The bare mirrors in vendoras' cache.
fn mirrors(cache: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(cache.join("git")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("HEAD").is_file())
        .collect()
}

fn has_object(repo: &Path, oid: &str) -> bool {
    git_cmd(repo)
        .args(["cat-file", "-e", oid])
        .env("GIT_NO_LAZY_FETCH", "1")
        .status()
        .unwrap()
        .success()
}

/// One server and filter setting: both tools agree, and the mirror holds the dropped
/// blobs only when the server refused filters.
fn case(allow_filter: bool, over_http: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = repository(tmp.path(), allow_filter);
    let daemon;
    let http;
    let url = if over_http {
        http = GitHttp::start(tmp.path());
        format!("{}/repo.git", http.url())
    } else {
        daemon = GitDaemon::start(tmp.path());
        format!("{}/repo.git", daemon.url())
    };
    let context = format!("allowFilter={allow_filter}, http={over_http}");
    for reference in ["main", "v1.0.0"] {
        let p = Pair::with(&config(&url, reference, ""));
        p.sync_same(&context, &[], &["vendor/rooted", "vendor/picked"]);
        let found = mirrors(&p.ours.cache);
        assert_eq!(found.len(), 1, "{context}: one mirror: {found:?}");
        for oid in [&old, &new] {
            assert_eq!(
                has_object(&found[0], oid),
                !allow_filter,
                "{context}: dropped blob {oid} in the mirror"
            );
        }
        // Shallow: vendir's own steps, with the filter.
        let p = Pair::with(&config(&url, reference, "      depth: 1\n"));
        p.sync_same(
            &format!("{context}, depth 1"),
            &[],
            &["vendor/rooted", "vendor/picked"],
        );
    }
}

#[test]
fn partial_over_git_daemon_with_filters_allowed() {
    case(true, false);
}

#[test]
fn partial_over_smart_http_with_filters_allowed() {
    case(true, true);
}

#[test]
fn whole_fetch_when_the_server_refuses_filters() {
    case(false, false);
    case(false, true);
}

/// A later content that keeps `.git` (no filters) after a partial one, in one cache:
/// the mirror becomes whole again and the checkout has every file; then the partial
/// content again, from the now-whole mirror.
#[test]
fn a_whole_checkout_after_a_partial_one_makes_the_mirror_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = repository(tmp.path(), true);
    let daemon = GitDaemon::start(tmp.path());
    let url = format!("{}/repo.git", daemon.url());
    let p = Pair::with(&config(&url, "main", ""));
    p.sync_same("partial first", &[], &["vendor/rooted", "vendor/picked"]);
    let whole = vendir_config(
        &[format!(
            "- path: vendor/whole\n  contents:\n  - path: .\n    git:\n      url: {url}\n      ref: main\n"
        )],
        &[],
    );
    p.ours.config(&whole);
    p.ours_sync(&[]).ok();
    let blob = p.ours.dir.join("vendor/whole/big/blob.bin");
    assert_eq!(fs::metadata(&blob).unwrap().len(), 200_000);
    let found = mirrors(&p.ours.cache);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(has_object(&found[0], &old) && has_object(&found[0], &new));
    let sha = git(&p.ours.dir.join("vendor/whole"), &["rev-parse", "HEAD"]);
    assert_eq!(sha, git(&tmp.path().join("work"), &["rev-parse", "main"]));

    p.ours.config(&config(&url, "main", ""));
    p.ours_sync(&[]).ok();
    p.assert_same("partial after whole", &["vendor/rooted", "vendor/picked"]);
}
