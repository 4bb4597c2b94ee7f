//! The staging path (filters, `newRootPath`, `ignorePaths`, `manual`) side by side
//! with vendir v0.44.0, on the shapes real configs use: a git repository of which
//! one folder is kept and re-rooted, local edits kept by `ignorePaths`, and a
//! `manual` content that is a single file. Trees and lock bytes must be identical.

mod support;

use support::fixtures::*;
use support::pair::Pair;
use support::vendir::*;

/// A repository with a `config/` folder among others, published as a bare repo.
fn repository(root: &std::path::Path) -> String {
    let repo = GitRepo::init(&root.join("work"));
    repo.commit(
        &[
            ("config/a.yml", b"a: 1\n"),
            ("config/sub/b.yml", b"b: 2\n"),
            ("exec:config/bin/run.sh", b"#!/bin/sh\n"),
            ("config/README.md", b"# config\n"),
            ("config/local.yml", b"upstream: true\n"),
            ("other/c.yml", b"c: 3\n"),
            ("LICENSE", b"license text\n"),
        ],
        "first",
    );
    repo.publish(&root.join("repo.git")).display().to_string()
}

fn git_content(url: &str, keys: &str) -> String {
    let mut out = String::from("- path: .\n");
    for l in keys.lines() {
        out.push_str(&format!("  {l}\n"));
    }
    out.push_str(&format!("  git:\n    url: {url}\n    ref: main\n"));
    out
}

#[test]
fn include_paths_are_matched_before_new_root_path_re_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let url = repository(tmp.path());
    let plain = git_content(&url, "includePaths:\n- config/**/*\nnewRootPath: config");
    let full = git_content(
        &url,
        "includePaths:\n- config/**/*\nexcludePaths:\n- config/**/*.md\nlegalPaths:\n- LICENSE\nnewRootPath: config",
    );
    let config = vendir_config(
        &[
            format!("- path: vendor/plain\n  contents:\n{}", indent(&plain)),
            format!("- path: vendor/full\n  contents:\n{}", indent(&full)),
        ],
        &[],
    );
    let p = Pair::with(&config);
    p.sync_same(
        "includePaths + newRootPath",
        &[],
        &["vendor/plain", "vendor/full"],
    );
    let kept: Vec<String> = p.ours.tree("vendor/full").into_keys().collect();
    assert_eq!(
        kept,
        [
            "a.yml",
            "bin",
            "bin/run.sh",
            "local.yml",
            "sub",
            "sub/b.yml"
        ],
        "README.md excluded, LICENSE outside the new root"
    );
}

#[test]
fn ignore_paths_keep_local_edits_over_fetched_files() {
    let tmp = tempfile::tempdir().unwrap();
    let url = repository(tmp.path());
    let content = git_content(
        &url,
        "includePaths:\n- config/**/*\nnewRootPath: config\nignorePaths:\n- local.yml\n- notes/**",
    );
    let config = vendir_config(
        &[format!(
            "- path: vendor/x\n  contents:\n{}",
            indent(&content)
        )],
        &[],
    );
    let p = Pair::with(&config);
    p.sync_same("first sync", &[], &["vendor/x"]);
    // A local edit of a fetched file, and a local file upstream does not have.
    p.write("vendor/x/local.yml", "edited: locally\n");
    p.write("vendor/x/notes/todo.md", "mine\n");
    p.write("vendor/x/a.yml", "edited but not ignored\n");
    p.sync_same("re-sync", &[], &["vendor/x"]);
    assert_eq!(
        p.read("vendor/x/local.yml"),
        ("edited: locally\n".into(), "edited: locally\n".into())
    );
    assert_eq!(p.read("vendor/x/a.yml"), ("a: 1\n".into(), "a: 1\n".into()));
}

#[test]
fn a_manual_content_may_be_a_single_file() {
    let config = vendir_config(
        &["- path: deploy\n  contents:\n  - path: values.yml\n    manual: {}\n  - path: gen\n    inline:\n      paths:\n        a.txt: a\n".to_string()],
        &[],
    );
    let p = Pair::with(&config);
    p.write("deploy/values.yml", "replicas: 3\n");
    p.write("deploy/stray.txt", "not managed\n");
    p.sync_same("manual file", &[], &["deploy"]);
    assert_eq!(
        p.read("deploy/values.yml"),
        ("replicas: 3\n".into(), "replicas: 3\n".into())
    );
    assert!(!p.ours.dir.join("deploy/stray.txt").exists());
}

fn indent(block: &str) -> String {
    block.lines().map(|l| format!("  {l}\n")).collect()
}

/// A directory's `permissions` is the mode of the directory and of each content's
/// path in it (vendir chmods both; tests/corpus files 09, 58, 59): here a git
/// content at `upstream/chart` and a `manual` file, under `permissions: 0750`.
#[test]
fn directory_permissions_apply_to_each_content_path_too() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let url = repository(tmp.path());
    let config = vendir_config(
        &[format!(
            "- path: deps/vendor\n  permissions: 0750\n  contents:\n  - path: upstream/chart\n    git:\n      url: {url}\n      ref: main\n    includePaths: [\"config/**/*\"]\n  - path: values.yml\n    manual: {{}}\n"
        )],
        &[],
    );
    let p = Pair::with(&config);
    p.write("deps/vendor/values.yml", "replicas: 3\n");
    p.sync_same("permissions", &[], &["deps/vendor"]);
    let mode = |root: &std::path::Path, rel: &str| {
        let m = std::fs::symlink_metadata(root.join(rel)).unwrap();
        format!("{:04o}", m.permissions().mode() & 0o7777)
    };
    for rel in [
        "deps/vendor",
        "deps/vendor/upstream/chart",
        "deps/vendor/values.yml",
    ] {
        assert_eq!(
            mode(&p.ours.dir, rel),
            mode(&p.vendir.dir, rel),
            "{rel}: vendoras vs vendir"
        );
    }
    assert_eq!(mode(&p.ours.dir, "deps/vendor/upstream/chart"), "0750");
}

/// A content's own `permissions` is the mode vendir gives the content's path
/// (`chmod` of the content directory); the files keep theirs, so a downloaded
/// file stays 0644 and git sees no exec bit: here an `http` file and a git
/// folder under `permissions: 0755` and `0700`.
#[test]
fn content_permissions_set_the_content_path_not_its_files() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let url = repository(tmp.path());
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("values.yml"), "replicas: 1\n").unwrap();
    let files = support::servers::HttpServer::files(&site);
    let config = vendir_config(
        &[format!(
            "- path: vendor\n  contents:\n  - path: values\n    permissions: 0755\n    http:\n      url: {}/values.yml\n  - path: chart\n    permissions: 0700\n    git:\n      url: {url}\n      ref: main\n    includePaths: [\"config/**/*\"]\n",
            files.url()
        )],
        &[],
    );
    let p = Pair::with(&config);
    p.sync_same("content permissions", &[], &["vendor"]);
    let mode = |root: &std::path::Path, rel: &str| {
        let m = std::fs::symlink_metadata(root.join(rel)).unwrap();
        format!("{:04o}", m.permissions().mode() & 0o7777)
    };
    for (rel, want) in [
        ("vendor/values", "0755"),
        ("vendor/values/values.yml", "0644"),
        ("vendor/chart", "0700"),
        ("vendor/chart/config/a.yml", "0644"),
        ("vendor/chart/config/bin/run.sh", "0755"),
    ] {
        assert_eq!(mode(&p.vendir.dir, rel), want, "{rel}: vendir");
        assert_eq!(mode(&p.ours.dir, rel), want, "{rel}: vendoras");
    }
}
