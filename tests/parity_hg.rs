//! `hg:` contents, side by side with vendir v0.44.0 against `hg serve`: same
//! working copy, same `.hg/hgrc`, equivalent lock; `--locked` after the repository
//! moved on. `.hg` is otherwise hg's bookkeeping (docs/differences.md, "hg").

mod support;

use std::fs;
use std::process::Command;

use support::fixtures::*;
use support::servers::*;
use support::vendir::*;
use support::*;

fn ours(work: &support::sync::Work, args: &[&str]) -> Outcome {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vendoras"));
    isolate_vcs(&mut c);
    c.current_dir(&work.dir)
        .arg("sync")
        .arg("--cache-dir")
        .arg(&work.cache)
        .args(args);
    run(&mut c)
}

fn working_copy(t: &Tree) -> Tree {
    assert!(
        matches!(t.get(".hg"), Some(Entry::Dir)),
        "{}",
        format_tree(t)
    );
    t.iter()
        .filter(|(p, _)| !p.starts_with(".hg/"))
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect()
}

#[track_caller]
fn assert_same(theirs: &VendirWork, mine: &support::sync::Work, dirs: &[&str]) {
    for d in dirs {
        assert_same_tree(
            d,
            "vendir",
            &working_copy(&theirs.tree(d)),
            "vendoras",
            &working_copy(&mine.tree(d)),
        );
        let rc =
            |root: &std::path::Path| fs::read_to_string(root.join(d).join(".hg/hgrc")).unwrap();
        assert_eq!(rc(&theirs.dir), rc(&mine.dir), "{d}: .hg/hgrc");
        // vendir writes it 0600 (it may hold `[auth]` credentials).
        let mode = |root: &std::path::Path| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(root.join(d).join(".hg/hgrc"))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(
            format!("{:04o}", mode(&theirs.dir)),
            format!("{:04o}", mode(&mine.dir)),
            "{d}: .hg/hgrc mode"
        );
    }
    assert_same_lock("hg", &theirs.lock(), &mine.lock(), &[]);
}

#[test]
fn by_id_tag_and_branch_then_locked_after_a_new_changeset() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = HgFixture::build(&tmp.path().join("repo"));
    let server = HgServe::start(&fx.repo);
    let url = server.url();
    let src = |r: &str| format!("hg:\n  url: {url}\n  ref: {r}");
    let theirs = VendirWork::new();
    let mine = support::sync::Work::new();
    let config = vendir_config(
        &[
            one_content("vendor/tag", &src("v1.0.0")),
            one_content("vendor/branch", &src("default")),
            one_content("vendor/id", &src(&fx.changesets["stable"][..12])),
        ],
        &[],
    );
    theirs.config(&config);
    mine.config(&config);
    let dirs = ["vendor/tag", "vendor/branch", "vendor/id"];
    theirs.sync(&[]).ok();
    ours(&mine, &[]).ok();
    assert_same(&theirs, &mine, &dirs);
    let first = mine.lock();

    // An unchanged repository: a re-sync only identifies the refs and keeps
    // every directory as it is (no pull, no checkout).
    let out = ours(&mine, &[]).ok();
    assert_eq!(
        out.stderr.matches("unchanged (same digest").count(),
        3,
        "{out:?}"
    );
    assert_eq!(mine.lock(), first);

    // default moves on: --locked keeps the locked changesets on both sides.
    fs::write(fx.repo.join("README.md"), "hg v3\n").unwrap();
    hg(
        &fx.repo,
        &["commit", "-m", "hg third", "-d", "1704164645 0"],
    );
    theirs.sync(&["--locked"]).ok();
    ours(&mine, &["--locked"]).ok();
    assert_same(&theirs, &mine, &dirs);
    assert_eq!(mine.lock(), first);

    // A plain sync follows default.
    theirs.sync(&[]).ok();
    ours(&mine, &[]).ok();
    assert_same(&theirs, &mine, &dirs);
    assert_ne!(mine.lock(), first);
    assert!(mine.lock().contains("hg third"), "{}", mine.lock());

    // An unknown ref: both refuse; the tree and lock stay as they were.
    let state = mine.state();
    let bad = vendir_config(&[one_content("vendor/tag", &src("no-such-ref"))], &[]);
    theirs.config(&bad);
    mine.config(&bad);
    assert!(!theirs.sync(&[]).success());
    let out = ours(&mine, &[]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains("no-such-ref") && out.stderr.contains(&url),
        "{out:?}"
    );
    assert_eq!(mine.state(), state);
}
