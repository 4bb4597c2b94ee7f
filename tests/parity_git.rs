//! `git:` contents, side by side with vendir v0.44.0 against loopback git servers
//! (smart HTTP through `git http-backend`, `git daemon`, a local path, basic auth
//! behind TLS): same work tree, equivalent lock, same refusals.
//!
//! `.git` is compared as docs/differences.md ("git") says: it exists on both sides,
//! `.git/HEAD` has the same form (a branch ref or the detached sha), and
//! `git rev-parse HEAD` in vendoras' tree is the locked sha. Its other files (packs,
//! index, logs) are git's own bookkeeping and differ by construction.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::fixtures::*;
use support::servers::*;
use support::vendir::*;
use support::*;

/// vendir and vendoras in two work dirs on the same config.
struct Pair {
    vendir: VendirWork,
    ours: support::sync::Work,
    env: Vec<(String, String)>,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            vendir: VendirWork::new(),
            ours: support::sync::Work::new(),
            env: Vec::new(),
        }
    }

    fn env(&mut self, k: &str, v: &str) {
        self.vendir.env(k, v);
        self.env.push((k.into(), v.into()));
    }

    fn config(&self, yaml: &str) {
        self.vendir.config(yaml);
        self.ours.config(yaml);
    }

    fn ours_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vendoras"));
        isolate_vcs(&mut c);
        c.current_dir(&self.ours.dir)
            .arg("sync")
            .arg("--cache-dir")
            .arg(&self.ours.cache)
            .args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn sync_ours(&self, args: &[&str]) -> Outcome {
        run(&mut self.ours_cmd(args))
    }

    /// Both succeed; trees of `dirs` and the locks agree.
    #[track_caller]
    fn sync_same(&self, args: &[&str], dirs: &[&str]) {
        self.vendir.sync(args).ok();
        self.sync_ours(args).ok();
        self.assert_same(dirs);
    }

    #[track_caller]
    fn assert_same(&self, dirs: &[&str]) {
        for d in dirs {
            let theirs = self.vendir.tree(d);
            let ours = self.ours.tree(d);
            assert_same_tree(
                d,
                "vendir",
                &work_tree(&theirs),
                "vendoras",
                &work_tree(&ours),
            );
            let head = |root: &Path| fs::read_to_string(root.join(d).join(".git/HEAD")).unwrap();
            assert_eq!(
                head(&self.vendir.dir),
                head(&self.ours.dir),
                "{d}: .git/HEAD"
            );
            let sha = field(&lock_entry_of(&self.ours.lock(), d), "git", "sha").unwrap();
            assert_eq!(
                git(&self.ours.dir.join(d), &["rev-parse", "HEAD"]),
                sha,
                "{d}: HEAD"
            );
        }
        assert_same_lock("git", &self.vendir.lock(), &self.ours.lock(), &[]);
    }

    fn states(&self) -> ((Tree, String), (Tree, String)) {
        (
            (self.vendir.tree("vendor"), self.vendir.lock()),
            self.ours.state(),
        )
    }
}

fn lock_entry_of(lock: &str, dir: &str) -> serde_json::Value {
    lock_entry(&yaml(lock).unwrap(), dir, ".").unwrap_or_else(|| panic!("{dir} in {lock}"))
}

/// The work tree: everything but the top-level `.git` directory's contents.
fn work_tree(t: &Tree) -> Tree {
    assert!(
        matches!(t.get(".git"), Some(Entry::Dir)),
        "no .git kept:\n{}",
        format_tree(t)
    );
    t.iter()
        .filter(|(p, _)| !p.starts_with(".git/"))
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect()
}

fn git_source(url: &str, extra: &str) -> String {
    format!("git:\n  url: {url}\n{extra}")
}

#[track_caller]
fn assert_failed(out: &Outcome, needles: &[&str]) {
    assert!(!out.success(), "expected failure: {out:?}");
    let text = format!("{}{}", out.stdout, out.stderr);
    for n in needles {
        assert!(text.contains(n), "missing {n:?} in: {out:?}");
    }
}

/// POSTs to `<repo>/git-upload-pack`: one per ls-remote, more for a fetch.
fn upload_packs(server: &HttpServer, repo: &str) -> usize {
    server
        .log()
        .iter()
        .filter(|l| l.method == "POST" && l.target.starts_with(&format!("/{repo}/git-upload-pack")))
        .count()
}

#[test]
fn branch_tag_origin_ref_and_sha_over_smart_http() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let server = GitHttp::start(tmp.path());
    let url = format!("{}/app.git", server.url());
    let p = Pair::new();
    p.config(&vendir_config(
        &[
            one_content("vendor/branch", &git_source(&url, "  ref: main")),
            one_content("vendor/tag", &git_source(&url, "  ref: v1.1.0")),
            one_content("vendor/origin", &git_source(&url, "  ref: origin/feature")),
            one_content(
                "vendor/sha",
                &git_source(&url, &format!("  ref: {}", fx.commits["first"])),
            ),
        ],
        &[],
    ));
    p.sync_same(
        &[],
        &["vendor/branch", "vendor/tag", "vendor/origin", "vendor/sha"],
    );
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/origin/.git/HEAD")).unwrap(),
        "ref: refs/heads/feature\n"
    );
    // Nothing vendoras wrote into the kept .git points at a temp dir or a helper.
    let config = fs::read_to_string(p.ours.dir.join("vendor/branch/.git/config")).unwrap();
    assert!(!config.contains("credential"), "{config}");
    // origin is the remote, not the cache's mirror the clone was made from
    // (the other URL is the submodule's).
    assert!(config.contains(&format!("\turl = {url}\n")), "{config}");
    let urls = config.lines().filter(|l| l.contains("url ="));
    assert!(
        urls.clone().count() == 2 && urls.clone().all(|l| l.starts_with("\turl = http://")),
        "{config}"
    );
}

#[test]
fn ref_selection_depth_and_submodules_over_git_daemon() {
    let tmp = tempfile::tempdir().unwrap();
    let _fx = GitFixture::build(tmp.path());
    let daemon = GitDaemon::start(tmp.path());
    let url = format!("{}/app.git", daemon.url());
    let p = Pair::new();
    let sel = "  refSelection:\n    semver:\n      constraints: \">=1.0.0\"";
    p.config(&vendir_config(
        &[
            one_content("vendor/stable", &git_source(&url, sel)),
            one_content(
                "vendor/pre",
                &git_source(
                    &url,
                    &format!("{sel}\n      prereleases:\n        identifiers: [beta]"),
                ),
            ),
            one_content(
                "vendor/shallow",
                &git_source(&url, "  ref: main\n  depth: 1\n  skipInitSubmodules: true"),
            ),
            one_content("vendor/subs", &git_source(&url, "  ref: main")),
        ],
        &[],
    ));
    p.sync_same(
        &[],
        &[
            "vendor/stable",
            "vendor/pre",
            "vendor/shallow",
            "vendor/subs",
        ],
    );
    let t = p.ours.tree("vendor/shallow");
    assert!(t.contains_key(".git/shallow"), "{}", format_tree(&t));
    // The shallow checkout's config is written as vendir's git commands write
    // it, but for the `[credential]` helper vendir leaves behind (naming its
    // deleted temporary store), which vendoras keeps out of the tree.
    let config = |dir: &Path| fs::read_to_string(dir.join("vendor/shallow/.git/config")).unwrap();
    let theirs = config(&p.vendir.dir);
    let (head, rest) = theirs
        .split_once("[credential]\n")
        .expect("vendir's helper");
    let (_, rest) = rest.split_once('\n').unwrap();
    assert_eq!(config(&p.ours.dir), format!("{head}{rest}"));
    assert!(!t.contains_key("vendor"), "{}", format_tree(&t));
    assert!(p
        .ours
        .tree("vendor/subs")
        .contains_key("vendor/lib/lib.txt"));
}

#[test]
fn local_path_remote() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let url = fx.root.join("app.git").display().to_string();
    let p = Pair::new();
    p.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: v1.0.0\n  skipInitSubmodules: true"),
        )],
        &[],
    ));
    p.sync_same(&[], &["vendor/app"]);
}

#[test]
fn locked_after_branch_moved_and_an_unchanged_ref_fetches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let server = GitHttp::start(tmp.path());
    let url = format!("{}/app.git", server.url());
    let p = Pair::new();
    p.config(&vendir_config(
        &[one_content("vendor/app", &git_source(&url, "  ref: main"))],
        &[],
    ));
    p.sync_same(&[], &["vendor/app"]);
    let first = p.ours.lock();

    // A forge keeps other refs beside branches and tags (GitHub's
    // refs/pull/*), often most of them: 300 here, a listing of ~20 KB.
    let bare = fx.root.join("app.git");
    let head = git(&bare, &["rev-parse", "main"]);
    let mut pulls = Command::new("git");
    pulls
        .args(["update-ref", "--stdin"])
        .current_dir(&bare)
        .stdin(std::process::Stdio::piped());
    let mut child = pulls.spawn().unwrap();
    {
        use std::io::Write as _;
        let stdin = child.stdin.as_mut().unwrap();
        for n in 1..=300 {
            writeln!(stdin, "create refs/pull/{n}/head {head}").unwrap();
        }
    }
    assert!(child.wait().unwrap().success());
    let everything = git(&bare, &["for-each-ref"]);
    assert!(everything.len() > 15_000, "{}", everything.len());

    // An unchanged ref: one ls-remote, no fetch, the tree kept. The listing
    // asks for branches and tags only, so refs/pull/* is not sent.
    server.clear_log();
    p.sync_ours(&[]).ok();
    assert_eq!(upload_packs(&server, "app.git"), 1, "{}", server.log_text());
    let listed: u64 = server
        .log()
        .iter()
        .filter(|l| l.target.starts_with("/app.git/"))
        .map(|l| l.bytes)
        .sum();
    assert!(listed < 4_000, "{listed} bytes: {}", server.log_text());
    assert_eq!(server.count("/lib.git"), 0, "{}", server.log_text());
    assert_eq!(p.ours.lock(), first);

    // The tree deleted: the checkout is rebuilt from the cache's mirror; only
    // the ref is resolved on app.git (the submodule is fetched, as vendir does).
    fs::remove_dir_all(p.ours.dir.join("vendor/app")).unwrap();
    server.clear_log();
    p.sync_ours(&[]).ok();
    assert_eq!(upload_packs(&server, "app.git"), 1, "{}", server.log_text());
    p.assert_same(&["vendor/app"]);

    // The branch moves; --locked keeps the locked commit (detached, as vendir),
    // and with the tree unchanged makes no request at all.
    let moved = fx.advance_main("moved on");
    server.clear_log();
    p.sync_ours(&["--locked"]).ok();
    assert_eq!(server.log().len(), 0, "{}", server.log_text());
    p.vendir.sync(&["--locked"]).ok();
    let theirs = work_tree(&p.vendir.tree("vendor/app"));
    assert_same_tree(
        "locked",
        "vendir",
        &theirs,
        "vendoras",
        &work_tree(&p.ours.tree("vendor/app")),
    );
    assert!(!p.ours.dir.join("vendor/app/moved.txt").exists());
    assert_same_lock("locked", &p.vendir.lock(), &p.ours.lock(), &[]);
    assert_eq!(p.ours.lock(), first);

    // A plain sync follows the branch; the mirror fetches only what is new.
    p.sync_same(&[], &["vendor/app"]);
    assert_eq!(
        field(&lock_entry_of(&p.ours.lock(), "vendor/app"), "git", "sha").unwrap(),
        moved
    );
}

#[test]
fn bad_ref_and_credentials_on_plain_http_are_refused_keeping_tree_and_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let _fx = GitFixture::build(tmp.path());
    let server = GitHttp::start(tmp.path());
    let url = format!("{}/app.git", server.url());
    let p = Pair::new();
    p.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: v1.0.0\n  skipInitSubmodules: true"),
        )],
        &[],
    ));
    p.sync_same(&[], &["vendor/app"]);
    let before = p.states();

    p.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: no-such-ref"),
        )],
        &[],
    ));
    assert_failed(
        &p.vendir.sync(&[]),
        &["did not match any file(s) known to git"],
    );
    let out = p.sync_ours(&[]);
    assert_failed(&out, &["no-such-ref", &url, "no branch, tag or commit"]);
    assert_eq!(p.states(), before, "a failed sync changed a tree or lock");

    p.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: main\n  secretRef:\n    name: creds"),
        )],
        &[secret_doc(
            "creds",
            &[("username", "u"), ("password", "s3cr3t-pw")],
        )],
    ));
    let msg = "Username/password authentication is only supported for https remotes";
    assert_failed(&p.vendir.sync(&[]), &[msg]);
    let out = p.sync_ours(&[]);
    assert_failed(&out, &[msg, &url]);
    assert!(!out.stderr.contains("s3cr3t-pw"), "{out:?}");
    assert_eq!(p.states(), before);

    // An unreachable repository: the error names the URL.
    let gone = format!("{}/nope.git", server.url());
    p.config(&vendir_config(
        &[one_content("vendor/app", &git_source(&gone, "  ref: main"))],
        &[],
    ));
    assert_failed(&p.vendir.sync(&[]), &["nope.git"]);
    assert_failed(&p.sync_ours(&[]), &[&gone, "ls-remote"]);
    assert_eq!(p.states(), before);
}

#[test]
fn basic_auth_over_https_never_shows_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = GitFixture::build(tmp.path());
    let server = GitHttp::start_with_basic_auth(tmp.path(), "gituser", "git-Pa55");
    let ca = TestCa::new(&["IP:127.0.0.1", "DNS:localhost"]);
    let tls = TlsFront::start(server.addr(), &ca);
    let url = format!("{}/app.git", tls.url());
    // A `git` first on PATH that records its arguments (what `ps` would show).
    let shim = tempfile::tempdir().unwrap();
    let argv_log = shim.path().join("argv.log");
    let real_git = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec {} \"$@\"\n",
        argv_log.display(),
        real_git.trim()
    );
    fs::write(shim.path().join("git"), script).unwrap();
    set_mode(&shim.path().join("git"), 0o755);

    let mut p = Pair::new();
    p.env("GIT_SSL_CAINFO", &ca.ca.display().to_string());
    let path = format!(
        "{}:{}:{}",
        shim.path().display(),
        tools_dir().display(),
        std::env::var("PATH").unwrap()
    );
    p.env("PATH", &path);
    for force in ["", "\n  forceHTTPBasicAuth: true"] {
        p.config(&vendir_config(
            &[one_content(
                "vendor/app",
                &git_source(
                    &url,
                    &format!("  ref: v1.0.0\n  skipInitSubmodules: true\n  secretRef:\n    name: creds{force}"),
                ),
            )],
            &[secret_doc(
                "creds",
                &[("username", "gituser"), ("password", "git-Pa55")],
            )],
        ));
        let _ = fs::remove_file(&argv_log);
        let out = p.sync_ours(&[]).ok();
        assert!(!out.stdout.contains("git-Pa55") && !out.stderr.contains("git-Pa55"));
        let argv = fs::read_to_string(&argv_log).unwrap();
        assert!(argv.contains("ls-remote"), "{argv}");
        assert!(
            !argv.contains("git-Pa55") && !argv.contains("Z2l0dXNlcjpnaXQtUGE1NQ"),
            "{argv}"
        );
        p.vendir.sync(&[]).ok();
        p.assert_same(&["vendor/app"]);
        let config = fs::read_to_string(p.ours.dir.join("vendor/app/.git/config")).unwrap();
        assert!(
            !config.contains("git-Pa55") && !config.contains("Authorization"),
            "{config}"
        );
    }
    assert_eq!(
        field(&lock_entry_of(&p.ours.lock(), "vendor/app"), "git", "sha").unwrap(),
        fx.commits["first"]
    );

    // No credentials: both fail (prompts are off); vendoras names the URL.
    let before = p.ours.state();
    p.config(&vendir_config(
        &[one_content(
            "vendor/app",
            &git_source(&url, "  ref: v1.0.0"),
        )],
        &[],
    ));
    assert_failed(&p.vendir.sync(&[]), &["could not read Username"]);
    assert_failed(&p.sync_ours(&[]), &[&url, "could not read Username"]);
    assert_eq!(p.ours.state(), before);
}
