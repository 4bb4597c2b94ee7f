//! What vendir v0.44.0 itself writes for the non-OCI sources (git, hg, http,
//! githubRelease, helmChart, image), against loopback servers from tests/support.
//! These assertions are the reference the vendoras parity suites compare against
//! (docs/dev/vendir-reference.md sums them up), and they prove the harness works.

mod support;

use std::fs;
use std::path::Path;

use support::fixtures::*;
use support::servers::*;
use support::vendir::*;
use support::*;

fn is_exec(tree: &Tree, path: &str) -> bool {
    match tree.get(path) {
        Some(Entry::File { exec, .. }) => *exec,
        other => panic!(
            "{path}: expected a file, found {other:?} in\n{}",
            format_tree(tree)
        ),
    }
}

#[track_caller]
fn assert_file(work: &VendirWork, path: &str, content: &[u8], exec: bool) {
    let full = work.dir.join(path);
    let data = fs::read(&full).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(data, content, "{path}: content");
    let tree = tree_snapshot(full.parent().unwrap());
    let name = Path::new(path).file_name().unwrap().to_string_lossy();
    assert_eq!(is_exec(&tree, &name), exec, "{path}: executable bit");
}

#[track_caller]
fn assert_failed(out: &Outcome, needles: &[&str]) {
    assert!(!out.success(), "expected failure: {out:?}");
    let text = format!("{}{}", out.stdout, out.stderr);
    for n in needles {
        assert!(text.contains(n), "missing {n:?} in: {out:?}");
    }
}

fn git_source(url: &str, extra: &str) -> String {
    format!("git:\n  url: {url}\n{extra}")
}

// ---------------------------------------------------------------------------------------
// git
// ---------------------------------------------------------------------------------------

#[test]
fn git_smart_http_branch_tag_sha_and_origin_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let server = GitHttp::start(tmp.path());
    let url = format!("{}/app.git", server.url());
    let work = VendirWork::new();
    work.config(&vendir_config(
        &[
            one_content("vendor/branch", &git_source(&url, "  ref: main")),
            one_content("vendor/tag", &git_source(&url, "  ref: v1.1.0")),
            one_content(
                "vendor/sha",
                &git_source(&url, &format!("  ref: {}", fx.commits["first"])),
            ),
            one_content("vendor/origin", &git_source(&url, "  ref: origin/feature")),
        ],
        &[],
    ));
    work.sync(&[]).ok();

    let e = work.lock_entry("vendor/branch", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), fx.commits["third"]);
    // A multi-line message keeps its first line plus "...".
    assert_eq!(field(&e, "git", "commitTitle").unwrap(), "third commit...");
    // `git describe --tags <sha>`: the nearest tag, exact here.
    assert_eq!(e["git"]["tags"], serde_json::json!(["v2.0.0-beta.1"]));

    // An annotated tag resolves to its commit; two tags on it: describe picks the
    // annotated one.
    let e = work.lock_entry("vendor/tag", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), fx.commits["second"]);
    assert_eq!(field(&e, "git", "commitTitle").unwrap(), "second commit");
    assert_eq!(e["git"]["tags"], serde_json::json!(["v1.1.0"]));

    let e = work.lock_entry("vendor/sha", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), fx.commits["first"]);
    assert_eq!(field(&e, "git", "commitTitle").unwrap(), "first commit");

    // origin/feature (only that branch fetched): one commit past v1.0.0, so `tags`
    // is describe's "<tag>-<n>-g<7-hex abbrev>" (omitted when describe finds no tag).
    let e = work.lock_entry("vendor/origin", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), fx.commits["feature"]);
    assert_eq!(field(&e, "git", "commitTitle").unwrap(), "feature work");
    assert_eq!(
        e["git"]["tags"][0].as_str().unwrap(),
        format!("v1.0.0-1-g{}", &fx.commits["feature"][..7])
    );
    assert_eq!(e["git"]["tags"].as_array().unwrap().len(), 1);

    // On disk: the checkout with .git kept, modes as committed, submodule checked out.
    assert_file(&work, "vendor/branch/README.md", b"app v2 beta\n", false);
    assert_file(
        &work,
        "vendor/branch/bin/run.sh",
        b"#!/bin/sh\necho run\n",
        true,
    );
    assert_file(
        &work,
        "vendor/branch/vendor/lib/lib.txt",
        b"lib v1\n",
        false,
    );
    let t = work.tree("vendor/branch");
    assert!(
        t.contains_key(".git/HEAD"),
        "no .git kept:\n{}",
        format_tree(&t)
    );
    assert!(t.contains_key(".gitmodules"));
    assert!(
        matches!(t.get("vendor/lib/.git"), Some(Entry::File { .. })),
        "submodule .git should be a gitfile:\n{}",
        format_tree(&t)
    );
    // `git checkout main` makes a local branch (HEAD is symbolic); a tag or sha leaves
    // HEAD detached at the commit.
    let head = |dir: &str| fs::read_to_string(work.dir.join(dir).join(".git/HEAD")).unwrap();
    assert_eq!(head("vendor/branch"), "ref: refs/heads/main\n");
    assert_eq!(head("vendor/sha").trim(), fx.commits["first"]);
    assert_eq!(head("vendor/tag").trim(), fx.commits["second"]);
    // Before the submodule existed: no vendor/lib.
    assert!(!work.tree("vendor/sha").contains_key("vendor/lib"));
    assert!(
        server.count("/app.git/info/refs") >= 4,
        "{}",
        server.log_text()
    );
}

#[test]
fn git_daemon_ref_selection_depth_and_skipped_submodules() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let daemon = GitDaemon::start(tmp.path());
    let url = format!("{}/app.git", daemon.url());
    let work = VendirWork::new();
    work.config(&vendir_config(
        &[
            one_content(
                "vendor/stable",
                &git_source(&url, "  refSelection:\n    semver:\n      constraints: \">=1.0.0\""),
            ),
            one_content(
                "vendor/pre",
                &git_source(
                    &url,
                    "  refSelection:\n    semver:\n      constraints: \">=1.0.0\"\n      prereleases:\n        identifiers: [beta]",
                ),
            ),
            one_content(
                "vendor/shallow",
                &git_source(&url, "  ref: main\n  depth: 1\n  skipInitSubmodules: true"),
            ),
        ],
        &[],
    ));
    work.sync(&[]).ok();

    let e = work.lock_entry("vendor/stable", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), fx.commits["second"]);
    assert_eq!(e["git"]["tags"][0].as_str(), Some("v1.1.0"));
    let e = work.lock_entry("vendor/pre", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), fx.commits["third"]);
    assert_eq!(e["git"]["tags"][0].as_str(), Some("v2.0.0-beta.1"));

    let e = work.lock_entry("vendor/shallow", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), fx.commits["third"]);
    let t = work.tree("vendor/shallow");
    assert!(
        t.contains_key(".git/shallow"),
        "depth 1 is a shallow clone:\n{}",
        format_tree(&t)
    );
    // Skipped submodule: git leaves an empty directory, and vendir carries no empty
    // directory over into the synced path.
    assert!(t.contains_key(".gitmodules"));
    assert!(
        !t.contains_key("vendor/lib") && !t.contains_key("vendor"),
        "{}",
        format_tree(&t)
    );
}

#[test]
fn git_locked_after_branch_moved_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let server = GitHttp::start(tmp.path());
    let url = format!("{}/app.git", server.url());
    let work = VendirWork::new();
    work.config(&vendir_config(
        &[one_content("vendor/app", &git_source(&url, "  ref: main"))],
        &[],
    ));
    work.sync(&[]).ok();
    assert_eq!(
        field(&work.lock_entry("vendor/app", "."), "git", "sha").unwrap(),
        fx.commits["third"]
    );

    let moved = fx.advance_main("moved on");
    // --locked checks out the locked sha even though main moved.
    work.sync(&["--locked"]).ok();
    assert_eq!(
        field(&work.lock_entry("vendor/app", "."), "git", "sha").unwrap(),
        fx.commits["third"]
    );
    assert!(!work.dir.join("vendor/app/moved.txt").exists());
    let locked = work.lock();
    work.sync(&[]).ok();
    let e = work.lock_entry("vendor/app", ".");
    assert_eq!(field(&e, "git", "sha").unwrap(), moved);
    let diff = lock_diff(&locked, &work.lock(), &[]);
    let keys: Vec<&str> = diff
        .iter()
        .map(|d| d.split(':').nth(1).unwrap_or_default().trim())
        .collect();
    assert_eq!(
        keys,
        [
            "directories.vendor/app.contents...git.commitTitle",
            "directories.vendor/app.contents...git.sha",
            "directories.vendor/app.contents...git.tags[0]"
        ],
        "{diff:#?}"
    );
    // Not reached by any tag? It is: describe gives "<tag>-<n>-g<abbrev>".
    let tags = e["git"]["tags"][0].as_str().unwrap().to_string();
    assert!(tags.starts_with("v2.0.0-beta.1-1-g"), "{tags}");

    // A bad ref: the error names git's checkout failure; tree and lock kept.
    let before = (work.tree("vendor"), work.lock());
    work.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: no-such-ref"),
        )],
        &[],
    ));
    let out = work.sync(&[]);
    assert_failed(
        &out,
        &[
            "Git [-c advice.detachedHead=false checkout no-such-ref]: exit status 1",
            "did not match any file(s) known to git",
        ],
    );
    assert_eq!(
        (work.tree("vendor"), work.lock()),
        before,
        "failure changed the tree or lock"
    );

    // Username/password on a non-https remote is refused before any git call.
    work.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: main\n  secretRef:\n    name: creds"),
        )],
        &[secret_doc("creds", &[("username", "u"), ("password", "p")])],
    ));
    let out = work.sync(&[]);
    assert_failed(
        &out,
        &["Username/password authentication is only supported for https remotes"],
    );
    assert_eq!((work.tree("vendor"), work.lock()), before);
}

#[test]
fn git_https_basic_auth_through_tls_front() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let server = GitHttp::start_with_basic_auth(tmp.path(), "gituser", "git-Pa55");
    let ca = TestCa::new(&["IP:127.0.0.1", "DNS:localhost"]);
    let tls = TlsFront::start(server.addr(), &ca);
    let url = format!("{}/app.git", tls.url());
    let mut work = VendirWork::new();
    work.env("GIT_SSL_CAINFO", ca.ca.display().to_string());
    work.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: v1.0.0\n  secretRef:\n    name: creds"),
        )],
        &[secret_doc(
            "creds",
            &[("username", "gituser"), ("password", "git-Pa55")],
        )],
    ));
    let out = work.sync(&[]).ok();
    assert!(
        !out.stdout.contains("git-Pa55") && !out.stderr.contains("git-Pa55"),
        "{out:?}"
    );
    assert_eq!(
        field(&work.lock_entry("vendor/app", "."), "git", "sha").unwrap(),
        fx.commits["first"]
    );
    // The credentials file vendir wrote lives outside the checkout: nothing leaks.
    let config = fs::read_to_string(work.dir.join("vendor/app/.git/config")).unwrap();
    assert!(!config.contains("git-Pa55"), "{config}");
    assert!(server
        .log()
        .iter()
        .any(|l| l.authorization.is_some() && l.status == 200));

    // Without credentials git asks for them; the harness forbids prompts.
    work.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: v1.0.0"),
        )],
        &[],
    ));
    let out = work.sync(&[]);
    assert_failed(
        &out,
        &[
            "Git [fetch origin]: exit status 128",
            "could not read Username",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// hg
// ---------------------------------------------------------------------------------------

#[test]
fn hg_by_tag_branch_and_changeset() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = HgFixture::build(&tmp.path().join("repo"));
    let server = HgServe::start(&fx.repo);
    let url = server.url();
    let hg_source = |r: &str| format!("hg:\n  url: {url}\n  ref: {r}");
    let work = VendirWork::new();
    work.config(&vendir_config(
        &[
            one_content("vendor/tag", &hg_source("v1.0.0")),
            one_content("vendor/branch", &hg_source("stable")),
            one_content("vendor/id", &hg_source(&fx.changesets["second"][..12])),
        ],
        &[],
    ));
    work.sync(&[]).ok();
    let e = work.lock_entry("vendor/tag", ".");
    assert_eq!(field(&e, "hg", "sha").unwrap(), fx.changesets["first"]);
    assert_eq!(field(&e, "hg", "changeSetTitle").unwrap(), "hg first");
    let e = work.lock_entry("vendor/branch", ".");
    assert_eq!(field(&e, "hg", "sha").unwrap(), fx.changesets["stable"]);
    assert_eq!(field(&e, "hg", "changeSetTitle").unwrap(), "on stable");
    // `{desc|firstline}`: the first line only, no "..." (unlike git's commitTitle).
    let e = work.lock_entry("vendor/id", ".");
    assert_eq!(field(&e, "hg", "sha").unwrap(), fx.changesets["second"]);
    assert_eq!(field(&e, "hg", "changeSetTitle").unwrap(), "hg second");

    assert_file(&work, "vendor/tag/README.md", b"hg v1\n", false);
    assert_file(&work, "vendor/branch/stable.txt", b"stable\n", false);
    let t = work.tree("vendor/id");
    assert!(
        t.contains_key(".hg/requires"),
        ".hg kept:\n{}",
        format_tree(&t)
    );
    assert!(t.contains_key(".hgtags"));
    let hgrc = fs::read_to_string(work.dir.join("vendor/id/.hg/hgrc")).unwrap();
    assert_eq!(hgrc, format!("[paths]\ndefault = {url}\n"));
}

// ---------------------------------------------------------------------------------------
// http
// ---------------------------------------------------------------------------------------

#[test]
fn http_archives_plain_files_and_failures() {
    let files: &[(&str, &[u8])] = &[
        ("a.txt", b"alpha\n"),
        ("exec:bin/tool", b"#!/bin/sh\n"),
        ("d/e/f.txt", b"deep\n"),
    ];
    let site = tempfile::tempdir().unwrap();
    let tgz = tar_of(files).finish_gz();
    let tar = tar_of(files).finish();
    let zip = zip_of(files);
    fs::write(site.path().join("pkg.tgz"), &tgz).unwrap();
    fs::write(site.path().join("pkg.tar"), &tar).unwrap();
    fs::write(site.path().join("pkg.zip"), &zip).unwrap();
    fs::write(site.path().join("tool.bin"), b"plain bytes\n").unwrap();
    let server = HttpServer::files(site.path());
    let u = |name: &str| format!("{}/{name}", server.url());
    let work = VendirWork::new();
    work.config(&vendir_config(
        &[
            one_content(
                "vendor/tgz",
                &format!(
                    "http:\n  url: {}\n  sha256: {}",
                    u("pkg.tgz"),
                    sha256_hex(&tgz)
                ),
            ),
            one_content("vendor/tar", &format!("http:\n  url: {}", u("pkg.tar"))),
            one_content("vendor/zip", &format!("http:\n  url: {}", u("pkg.zip"))),
            one_content("vendor/plain", &format!("http:\n  url: {}", u("tool.bin"))),
            one_content(
                "vendor/packed",
                &format!("http:\n  url: {}\n  disableUnpack: true", u("pkg.tgz")),
            ),
        ],
        &[],
    ));
    work.sync(&[]).ok();
    for dir in ["vendor/tgz", "vendor/tar", "vendor/zip"] {
        let e = work.lock_entry(dir, ".");
        assert_eq!(
            e["http"],
            serde_json::Value::Object(Default::default()),
            "{dir}: lock is `http: {{}}`"
        );
        // Unpacked: bytes kept, but every file is written 0644 (the exec bit is lost)
        // and only directories that hold files exist.
        assert_file(&work, &format!("{dir}/a.txt"), b"alpha\n", false);
        assert_file(&work, &format!("{dir}/bin/tool"), b"#!/bin/sh\n", false);
        assert_file(&work, &format!("{dir}/d/e/f.txt"), b"deep\n", false);
        assert_eq!(
            work.tree(dir).len(),
            6,
            "{dir}:\n{}",
            format_tree(&work.tree(dir))
        );
    }
    // Not an archive: the file keeps the URL's last segment as its name.
    assert_file(&work, "vendor/plain/tool.bin", b"plain bytes\n", false);
    assert_eq!(work.tree("vendor/plain").len(), 1);
    let t = work.tree("vendor/packed");
    assert_eq!(t.len(), 1, "{}", format_tree(&t));
    assert_eq!(
        fs::read(work.dir.join("vendor/packed/pkg.tgz")).unwrap(),
        tgz
    );
    assert_eq!(server.count("/pkg.tgz"), 2, "{}", server.log_text());

    // The comparison helpers: the same contents listed in another order sync to an
    // equivalent lock and the same tree; a changed field is reported.
    let twin = VendirWork::new();
    let mut dirs = vec![
        one_content(
            "vendor/packed",
            &format!("http:\n  url: {}\n  disableUnpack: true", u("pkg.tgz")),
        ),
        one_content("vendor/plain", &format!("http:\n  url: {}", u("tool.bin"))),
        one_content("vendor/zip", &format!("http:\n  url: {}", u("pkg.zip"))),
        one_content("vendor/tar", &format!("http:\n  url: {}", u("pkg.tar"))),
        one_content(
            "vendor/tgz",
            &format!(
                "http:\n  url: {}\n  sha256: \"{}\"",
                u("pkg.tgz"),
                sha256_hex(&tgz)
            ),
        ),
    ];
    twin.config(&vendir_config(&dirs, &[]));
    twin.sync(&[]).ok();
    assert_ne!(
        twin.lock(),
        work.lock(),
        "directory order shows in the lock bytes"
    );
    // As data they are the same (assert_same_lock would also demand the bytes).
    let diff = lock_diff(&work.lock(), &twin.lock(), &[]);
    assert!(diff.is_empty(), "same contents, other order: {diff:?}");
    assert_same_tree(
        "same contents, other order",
        "first",
        &work.tree("vendor"),
        "twin",
        &twin.tree("vendor"),
    );
    dirs.truncate(4);
    twin.config(&vendir_config(&dirs, &[]));
    twin.sync(&[]).ok();
    let diff = lock_diff(&work.lock(), &twin.lock(), &[]);
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert!(
        diff[0].starts_with("  only left: directories.vendor/tgz = "),
        "{diff:?}"
    );

    // Failures leave tree and lock alone.
    let before = (work.tree("vendor"), work.lock());
    // A YAML quirk vendir keeps: an unquoted all-digit sha256 is read as a number.
    let wrong = "0".repeat(64);
    work.config(&vendir_config(
        &[one_content(
            "vendor/tgz",
            &format!("http:\n  url: {}\n  sha256: {wrong}", u("pkg.tgz")),
        )],
        &[],
    ));
    let out = work.sync(&[]);
    assert_failed(
        &out,
        &[&format!(
            "Expected digest to match 'sha256:0', but was 'sha256:{}'",
            sha256_hex(&tgz)
        )],
    );
    assert_eq!((work.tree("vendor"), work.lock()), before);
    work.config(&vendir_config(
        &[one_content(
            "vendor/tgz",
            &format!("http:\n  url: {}\n  sha256: \"{wrong}\"", u("pkg.tgz")),
        )],
        &[],
    ));
    let out = work.sync(&[]);
    assert_failed(
        &out,
        &[&format!(
            "Expected digest to match 'sha256:{wrong}', but was 'sha256:{}'",
            sha256_hex(&tgz)
        )],
    );
    assert_eq!((work.tree("vendor"), work.lock()), before);
    work.config(&vendir_config(
        &[one_content(
            "vendor/tgz",
            &format!("http:\n  url: {}", u("missing.tgz")),
        )],
        &[],
    ));
    let out = work.sync(&[]);
    assert_failed(&out, &["Expected 200 OK, but was '404 Not Found'"]);
    assert_eq!((work.tree("vendor"), work.lock()), before);
}

#[test]
fn http_basic_auth_secret() {
    let site = tempfile::tempdir().unwrap();
    let tgz = tar_of(&[("x.txt", b"x\n")]).finish_gz();
    fs::write(site.path().join("x.tgz"), &tgz).unwrap();
    let server =
        HttpServer::start_with_basic_auth(static_files(site.path()), "webuser", "web-Pa55");
    let url = format!("{}/x.tgz", server.url());
    let work = VendirWork::new();
    work.config(&vendir_config(
        &[one_content(
            "vendor/x",
            &format!("http:\n  url: {url}\n  secretRef:\n    name: web"),
        )],
        &[secret_doc(
            "web",
            &[("username", "webuser"), ("password", "web-Pa55")],
        )],
    ));
    let out = work.sync(&[]).ok();
    assert!(!format!("{out:?}").contains("web-Pa55"));
    assert_file(&work, "vendor/x/x.txt", b"x\n", false);

    work.config(&vendir_config(
        &[one_content("vendor/x", &format!("http:\n  url: {url}"))],
        &[],
    ));
    assert_failed(
        &work.sync(&[]),
        &["Expected 200 OK, but was '401 Unauthorized'"],
    );
    // An unknown key in the secret is refused by name.
    work.config(&vendir_config(
        &[one_content(
            "vendor/x",
            &format!("http:\n  url: {url}\n  secretRef:\n    name: web"),
        )],
        &[secret_doc("web", &[("token", "t")])],
    ));
    assert_failed(
        &work.sync(&[]),
        &["Unknown secret field 'token' in secret 'web'"],
    );
}

// ---------------------------------------------------------------------------------------
// githubRelease
// ---------------------------------------------------------------------------------------

fn release_fixture(gh: &FakeGithub) -> (Vec<u8>, Vec<u8>) {
    let tgz = tar_of(&[
        ("tool/README", b"tool readme\n"),
        ("exec:tool/bin/tool", b"#!/bin/sh\n"),
    ])
    .finish_gz();
    let bin = b"linux binary\n".to_vec();
    for (tag, pre) in [("v1.0.0", false), ("v1.2.0", false), ("v2.0.0-rc.1", true)] {
        let mut r = FakeRelease::new(tag)
            .asset("tool-linux-amd64.tgz", tgz.clone())
            .asset("tool-linux-amd64", bin.clone())
            .with_checksums_in_notes();
        if pre {
            r = r.prerelease();
        }
        gh.add_release("acme/tool", r);
    }
    gh.add_release(
        "acme/nochecksums",
        FakeRelease::new("v1.0.0")
            .asset("a.txt", b"a\n".to_vec())
            .body("no sums here"),
    );
    (tgz, bin)
}

#[test]
fn github_release_by_url_auto_checksums_assets_and_unpack() {
    let gh = FakeGithub::start(None);
    let (tgz, bin) = release_fixture(&gh);
    let release_url = gh.release_url("acme/tool", "v1.2.0");
    let work = VendirWork::new();
    let src =
        |extra: &str| format!("githubRelease:\n  slug: acme/tool\n  url: {release_url}\n{extra}");
    work.config(&vendir_config(
        &[
            one_content("vendor/all", &src("")),
            one_content(
                "vendor/unpacked",
                &src("  assetNames: [\"*.tgz\"]\n  unpackArchive:\n    path: tool-linux-amd64.tgz"),
            ),
        ],
        &[],
    ));
    work.sync(&[]).ok();
    let e = work.lock_entry("vendor/all", ".");
    // The lock's url is the release's API `url` field (its id URL), not the URL asked.
    assert_eq!(
        field(&e, "githubRelease", "url").unwrap(),
        gh.release_id_url(&gh.api_url(), "acme/tool", "v1.2.0")
    );
    assert_eq!(field(&e, "githubRelease", "tag").unwrap(), "v1.2.0");
    assert_eq!(
        fs::read(work.dir.join("vendor/all/tool-linux-amd64.tgz")).unwrap(),
        tgz
    );
    assert_file(&work, "vendor/all/tool-linux-amd64", &bin, false);
    assert_eq!(work.tree("vendor/all").len(), 2);
    assert_file(
        &work,
        "vendor/unpacked/tool/README",
        b"tool readme\n",
        false,
    );
    assert_file(
        &work,
        "vendor/unpacked/tool/bin/tool",
        b"#!/bin/sh\n",
        false,
    );
    assert!(!work
        .dir
        .join("vendor/unpacked/tool-linux-amd64.tgz")
        .exists());
    // Assets are fetched from their API URL (Accept: octet-stream -> 302 -> download).
    assert!(
        gh.http.count("/repos/acme/tool/releases/assets/") >= 3,
        "{}",
        gh.http.log_text()
    );
    assert!(gh.http.count("/acme/tool/releases/download/") >= 3);

    let before = (work.tree("vendor"), work.lock());
    // A checksum that does not match.
    work.config(&vendir_config(
        &[one_content(
            "vendor/all",
            &src(&format!(
                "  assetNames: [tool-linux-amd64]\n  checksums:\n    tool-linux-amd64: \"{}\"",
                "1".repeat(64)
            )),
        )],
        &[],
    ));
    assert_failed(
        &work.sync(&[]),
        &[
            "Checking asset 'tool-linux-amd64' checksum:",
            &format!(
                "Expected file checksum to be '{}', but was '{}'",
                "1".repeat(64),
                sha256_hex(&bin)
            ),
        ],
    );
    // unpackArchive naming an asset that was not selected.
    work.config(&vendir_config(
        &[one_content(
            "vendor/all",
            &src("  assetNames: [tool-linux-amd64]\n  unpackArchive:\n    path: nope.tgz"),
        )],
        &[],
    ));
    assert_failed(
        &work.sync(&[]),
        &["Unpacking archive 'nope.tgz' is not part of the github release"],
    );
    // Release notes without a checksum for an asset.
    let nosums = gh.release_url("acme/nochecksums", "v1.0.0");
    work.config(&vendir_config(
        &[one_content(
            "vendor/all",
            &format!("githubRelease:\n  slug: acme/nochecksums\n  url: {nosums}"),
        )],
        &[],
    ));
    assert_failed(
        &work.sync(&[]),
        &[
            "Finding checksums in release notes:",
            "Expected to find sha256 checksum for file 'a.txt'",
        ],
    );
    assert_eq!((work.tree("vendor"), work.lock()), before);
    // ... unless auto validation is off.
    work.config(&vendir_config(
        &[one_content(
            "vendor/all",
            &format!("githubRelease:\n  slug: acme/nochecksums\n  url: {nosums}\n  disableAutoChecksumValidation: true"),
        )],
        &[],
    ));
    work.sync(&[]).ok();
    assert_file(&work, "vendor/all/a.txt", b"a\n", false);
}

/// vendir v0.44.0 has the API base `https://api.github.com` built in (GITHUB_API_URL is
/// not read): tag, latest and tagSelection reach the fake only through HTTPS_PROXY
/// (a CONNECT proxy to a TLS front with a test CA trusted via SSL_CERT_FILE).
#[test]
fn github_release_tag_latest_selection_and_token_via_api_github_com() {
    let gh = FakeGithub::start(Some("gh-T0ken"));
    let (tgz, _) = release_fixture(&gh);
    let ca = TestCa::new(&["DNS:api.github.com"]);
    let tls = TlsFront::start(gh.http.addr(), &ca);
    let proxy = ConnectProxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], tls.port())));
    let mut work = VendirWork::new();
    work.env("HTTPS_PROXY", proxy.url())
        .env("SSL_CERT_FILE", ca.ca.display().to_string())
        .env("VENDIR_GITHUB_API_TOKEN", "gh-T0ken");
    // An http: source inside githubRelease: `{tag}` is replaced by the resolved tag.
    let site = tempfile::tempdir().unwrap();
    fs::create_dir_all(site.path().join("v1.2.0")).unwrap();
    fs::write(site.path().join("v1.2.0/extra.txt"), b"extra for v1.2.0\n").unwrap();
    let files = HttpServer::files(site.path());
    let src = |extra: &str| {
        format!("githubRelease:\n  slug: acme/tool\n  assetNames: [\"*.tgz\"]\n{extra}")
    };
    work.config(&vendir_config(
        &[
            one_content("vendor/tag", &src("  tag: v1.0.0")),
            one_content("vendor/latest", &src("  latest: true")),
            one_content(
                "vendor/selected",
                &src("  tagSelection:\n    semver:\n      constraints: \">=1.0.0\"\n      prereleases: {}"),
            ),
            one_content(
                "vendor/templated",
                &format!(
                    "githubRelease:\n  slug: acme/tool\n  tag: v1.2.0\n  http:\n    url: {}/{{tag}}/extra.txt",
                    files.url()
                ),
            ),
        ],
        &[],
    ));
    let out = work.sync(&[]).ok();
    assert!(!format!("{out:?}").contains("gh-T0ken"));
    let base = "https://api.github.com";
    for (dir, tag) in [
        ("vendor/tag", "v1.0.0"),
        ("vendor/latest", "v1.2.0"),
        ("vendor/selected", "v2.0.0-rc.1"),
    ] {
        let e = work.lock_entry(dir, ".");
        assert_eq!(field(&e, "githubRelease", "tag").unwrap(), tag, "{dir}");
        assert_eq!(
            field(&e, "githubRelease", "url").unwrap(),
            gh.release_id_url(base, "acme/tool", tag),
            "{dir}"
        );
        assert_eq!(
            fs::read(work.dir.join(dir).join("tool-linux-amd64.tgz")).unwrap(),
            tgz
        );
    }
    assert_file(
        &work,
        "vendor/templated/extra.txt",
        b"extra for v1.2.0\n",
        false,
    );
    let e = work.lock_entry("vendor/templated", ".");
    assert_eq!(field(&e, "githubRelease", "tag").unwrap(), "v1.2.0");
    // Exactly the endpoints vendir calls: release lookups with "token T", the tag list
    // (go-github through oauth2, for tagSelection) with "Bearer T".
    let log = gh.http.log();
    for (target, scheme) in [
        ("/repos/acme/tool/releases/tags/v1.0.0", "token"),
        ("/repos/acme/tool/releases/latest", "token"),
        ("/repos/acme/tool/tags?per_page=40", "Bearer"),
        ("/repos/acme/tool/releases/tags/v2.0.0-rc.1", "token"),
        ("/repos/acme/tool/releases/tags/v1.2.0", "token"),
    ] {
        let hit = log.iter().find(|l| l.target == target);
        let hit = hit.unwrap_or_else(|| panic!("{target} not requested:\n{}", gh.http.log_text()));
        let want = format!("{scheme} gh-T0ken");
        assert_eq!(
            hit.authorization.as_deref(),
            Some(want.as_str()),
            "{target}"
        );
        assert_eq!(hit.host.as_deref(), Some("api.github.com"), "{target}");
    }
    assert!(
        proxy.asked().iter().all(|h| h == "api.github.com:443"),
        "{:?}",
        proxy.asked()
    );

    // Without the token: 401 with vendir's hint.
    work.env.retain(|(k, _)| k != "VENDIR_GITHUB_API_TOKEN");
    work.config(&vendir_config(
        &[one_content("vendor/tag", &src("  tag: v1.0.0"))],
        &[],
    ));
    assert_failed(
        &work.sync(&[]),
        &[
            "Expected response status 200, but was '401'",
            "VENDIR_GITHUB_API_TOKEN",
        ],
    );
}

// ---------------------------------------------------------------------------------------
// helmChart
// ---------------------------------------------------------------------------------------

#[test]
fn helm_chart_from_repository_by_version_and_newest() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = helm_repo(
        tmp.path(),
        &[("demo", "0.1.0", "1.0"), ("demo", "0.2.0", "2.0")],
    );
    let server = HttpServer::files(&repo);
    let work = VendirWork::new();
    let src = |extra: &str| {
        format!(
            "helmChart:\n  name: demo\n{extra}  repository:\n    url: {}/",
            server.url()
        )
    };
    work.config(&vendir_config(
        &[
            one_content("vendor/pinned", &src("  version: 0.1.0\n")),
            one_content("vendor/newest", &src("")),
        ],
        &[],
    ));
    work.sync(&[]).ok();
    let e = work.lock_entry("vendor/pinned", ".");
    assert_eq!(field(&e, "helmChart", "version").unwrap(), "0.1.0");
    assert_eq!(field(&e, "helmChart", "appVersion").unwrap(), "1.0");
    let e = work.lock_entry("vendor/newest", ".");
    assert_eq!(field(&e, "helmChart", "version").unwrap(), "0.2.0");
    assert_eq!(field(&e, "helmChart", "appVersion").unwrap(), "2.0");
    // The chart directory's contents land in the path (helm's --untar), .helmignore'd
    // files dropped by `helm package`.
    let t = work.tree("vendor/pinned");
    let names: Vec<&str> = t.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            ".helmignore",
            "Chart.yaml",
            "templates",
            "templates/configmap.yaml",
            "values.yaml"
        ]
    );
    assert_file(
        &work,
        "vendor/newest/values.yaml",
        b"greeting: hello from 0.2.0\n",
        false,
    );
    assert!(server.count("/index.yaml") >= 2, "{}", server.log_text());

    let before = (work.tree("vendor"), work.lock());
    work.config(&vendir_config(
        &[one_content("vendor/pinned", &src("  version: 9.9.9\n"))],
        &[],
    ));
    assert_failed(
        &work.sync(&[]),
        &[
            "Fetching helm chart: exit status 1",
            "chart \"demo\" version \"9.9.9\" not found in",
        ],
    );
    assert_eq!((work.tree("vendor"), work.lock()), before);
}

// ---------------------------------------------------------------------------------------
// image
// ---------------------------------------------------------------------------------------

#[test]
fn image_from_loopback_registry_and_index_refused() {
    let registry = Registry::start();
    let lower = tar_of(&[
        ("etc/app.conf", b"lower\n"),
        ("exec:usr/bin/app", b"#!/bin/sh\n"),
    ])
    .finish();
    let upper = tar_of(&[("etc/app.conf", b"upper\n"), ("etc/extra", b"extra\n")]).finish();
    // A whiteout deleting the lower layer's binary.
    let whiteout = tar_of(&[("usr/bin/.wh.app", b"")]).finish();
    let reference = registry.reference("img/app", "v1");
    let digest = crane_image(&reference, &[lower, upper, whiteout], Some("linux/amd64"));
    let arm = crane_image(
        &registry.reference("img/app", "arm"),
        &[tar_of(&[("arm", b"arm\n")]).finish()],
        Some("linux/arm64"),
    );
    let index = crane_index(
        &registry.reference("img/app", "multi"),
        &[reference.clone(), registry.reference("img/app", &arm)],
    );
    assert!(index.starts_with("sha256:"));

    let work = VendirWork::new();
    work.config(&vendir_config(
        &[
            one_content("vendor/tag", &format!("image:\n  url: {reference}")),
            one_content(
                "vendor/digest",
                &format!("image:\n  url: {}", registry.reference("img/app", &digest)),
            ),
        ],
        &[],
    ));
    work.sync(&[]).ok();
    let e = work.lock_entry("vendor/tag", ".");
    assert_eq!(
        field(&e, "image", "url").unwrap(),
        format!("{}/img/app@{digest}", registry.host())
    );
    assert_eq!(field(&e, "image", "tag").unwrap(), "v1");
    let e = work.lock_entry("vendor/digest", ".");
    assert_eq!(
        field(&e, "image", "url").unwrap(),
        format!("{}/img/app@{digest}", registry.host())
    );
    assert!(e["image"].get("tag").is_none(), "{e:?}");
    let t = work.tree("vendor/tag");
    assert_same_tree(
        "vendir image by tag vs by digest",
        "tag",
        &t,
        "digest",
        &work.tree("vendor/digest"),
    );
    // vendir's image extraction (imgpkg): the LOWER layer wins an overlap, a
    // whiteout is neither applied nor written, exec bits are kept. The parity suite
    // asserts vendoras's documented difference (OCI layer semantics) against this.
    let names: Vec<&str> = t.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "etc",
            "etc/app.conf",
            "etc/extra",
            "usr",
            "usr/bin",
            "usr/bin/app"
        ]
    );
    assert_file(&work, "vendor/tag/etc/app.conf", b"lower\n", false);
    assert_file(&work, "vendor/tag/usr/bin/app", b"#!/bin/sh\n", true);

    let before = (work.tree("vendor"), work.lock());
    work.config(&vendir_config(
        &[one_content(
            "vendor/tag",
            &format!("image:\n  url: {}", registry.reference("img/app", "multi")),
        )],
        &[],
    ));
    assert_failed(
        &work.sync(&[]),
        &["Unable to pull non-images, such as image indexes. (hint: provide a specific digest to the image instead)"],
    );
    assert_eq!((work.tree("vendor"), work.lock()), before);
}
