//! Which contents a sync replaces and what they read, side by side with vendir v0.44.0:
//! - `-d path` names one content as vendir does (its directory's path joined with its
//!   own), replaces only that content, keeps the rest of the directory on disk and
//!   merges its lock entry into the existing lock; `-d path=local-dir` takes the content
//!   from a local directory and leaves the lock alone;
//! - a `directory:` source whose path lies in a directory synced earlier in the same
//!   config reads that directory's fresh output (vendir syncs in config order); one that
//!   lies in a later directory, or its own, reads what is on disk.
//!
//! Trees are compared file by file (names, bytes, exec bits); locks byte for byte.

mod support;

use std::fs;
use std::path::Path;

use support::fixtures::*;
use support::pair::{assert_both_ok, Pair};
use support::servers::*;
use support::sync::Work;
use support::vendir::*;
use support::*;

/// Both tools sync with `args` and must succeed with the same work dir (see
/// [`work_tree`]) and lock bytes.
#[track_caller]
fn sync_same(p: &Pair, context: &str, args: &[&str]) {
    assert_both_ok(context, &p.syncs(args));
    assert_same(p, context);
}

#[track_caller]
fn assert_same(p: &Pair, context: &str) {
    assert_same_tree(
        context,
        "vendir",
        &work_tree(&p.vendir.dir),
        "vendoras",
        &work_tree(&p.ours.dir),
    );
    let lock = |dir: &Path| fs::read(dir.join("vendir.lock.yml")).ok();
    assert!(
        lock(&p.vendir.dir) == lock(&p.ours.dir),
        "{context}: locks differ\n--- vendir:\n{}\n--- vendoras:\n{}",
        p.vendir.lock(),
        p.ours.lock()
    );
}

/// The work dir without the config, the lock (compared as data), the local checkout
/// `-d` reads and what git keeps in `.git` besides `HEAD`.
fn work_tree(dir: &Path) -> Tree {
    tree_snapshot(dir)
        .into_iter()
        .filter(|(p, _)| {
            let config = matches!(p.as_str(), "vendir.yml" | "vendir.lock.yml" | "local");
            let git_internals = p.contains("/.git/") && !p.ends_with("/.git/HEAD");
            !config && !p.starts_with("local/") && !git_internals
        })
        .collect()
}

fn inline(path: &str, files: &[(&str, &str)]) -> String {
    let mut s = format!("  - path: {path}\n    inline:\n      paths:\n");
    for (name, text) in files {
        s.push_str(&format!("        {name}: {text:?}\n"));
    }
    s
}

fn directory(path: &str, from: &str) -> String {
    format!("  - path: {path}\n    directory:\n      path: {from}\n")
}

fn dir(path: &str, contents: &[String]) -> String {
    format!("- path: {path}\n  contents:\n{}", contents.concat())
}

#[test]
fn a_directory_source_reads_what_an_earlier_directory_of_this_sync_fetched() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = GitRepo::init(&tmp.path().join("src"));
    repo.commit(&[("sub/x.txt", b"x1\n"), ("top.txt", b"top\n")], "first");
    repo.publish(&tmp.path().join("served/lib.git"));
    let server = GitHttp::start(&tmp.path().join("served"));
    let git = format!(
        "  - path: .\n    git:\n      url: {}/lib.git\n      ref: main\n",
        server.url()
    );
    let p = Pair::new();

    // vendor/a is fetched by git; vendor/b copies vendor/a/sub. On a first sync that
    // exists only as this sync's output.
    let base = [
        dir("vendor/a", std::slice::from_ref(&git)),
        dir("vendor/b", &[directory(".", "vendor/a/sub")]),
    ];
    p.config(&vendir_config(&base, &[]));
    sync_same(&p, "first sync", &[]);
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/b/x.txt")).unwrap(),
        "x1\n"
    );

    // Upstream moves. vendor/b reads the new commit, not the previous tree; vendor/0,
    // synced before vendor/a, reads what was on disk when it ran (the previous tree).
    repo.commit(
        &[("sub/x.txt", b"x2\n"), ("sub/new.txt", b"new\n")],
        "second",
    );
    repo.publish(&tmp.path().join("served/lib.git"));
    let mut dirs = vec![dir("vendor/0", &[directory(".", "./vendor/a/sub/")])];
    dirs.extend(base.iter().cloned());
    p.config(&vendir_config(&dirs, &[]));
    sync_same(&p, "after upstream moved", &[]);
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/b/x.txt")).unwrap(),
        "x2\n"
    );
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/0/x.txt")).unwrap(),
        "x1\n"
    );

    // Within one directory vendir replaces the whole directory at the end, so a
    // content reading a sibling reads the sibling as it was on disk...
    let c = |text: &str| {
        dir(
            "vendor/c",
            &[
                inline("one", &[("o.txt", text)]),
                directory("two", "vendor/c/one"),
            ],
        )
    };
    dirs.push(c("o1\n"));
    p.config(&vendir_config(&dirs, &[]));
    sync_same(&p, "first, one content", &["-d", "vendor/c/one"]);
    dirs.pop();
    dirs.push(c("o2\n"));
    p.config(&vendir_config(&dirs, &[]));
    sync_same(&p, "whole directory", &[]);
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/c/two/o.txt")).unwrap(),
        "o1\n"
    );
    // ...while with -d each content is moved into place as it is done, so the
    // second reads the first's fresh output.
    dirs.pop();
    dirs.push(c("o3\n"));
    p.config(&vendir_config(&dirs, &[]));
    sync_same(
        &p,
        "-d both contents",
        &["-d", "vendor/c/one", "-d", "vendor/c/two"],
    );
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/c/two/o.txt")).unwrap(),
        "o3\n"
    );

    // A path this sync does not produce is refused, and nothing changes (vendoras is
    // all or nothing; vendir has moved the earlier directories in by then).
    dirs.push(dir("vendor/d", &[directory(".", "vendor/a/missing")]));
    p.config(&vendir_config(&dirs, &[]));
    let before = p.ours.state();
    let (theirs, ours) = p.syncs(&[]);
    assert!(!theirs.success(), "{theirs:?}");
    assert_eq!(ours.code(), Some(1), "{ours:?}");
    assert!(
        ours.stderr.contains("vendor/a/missing") && ours.stderr.contains("vendor/d"),
        "{ours:?}"
    );
    assert_eq!(p.ours.state(), before);
}

#[test]
fn directory_flag_names_one_content_and_keeps_the_rest_like_vendir() {
    let p = Pair::new();
    let cfg = |n: u32| {
        vendir_config(
            &[
                dir(
                    "vendor",
                    &[
                        format!(
                            "  - path: a\n    newRootPath: sub\n    inline:\n      paths:\n        \
                             sub/a.txt: \"a{n}\\n\"\n        other.txt: \"o\\n\"\n"
                        ),
                        inline("b", &[("b.txt", &format!("b{n}\n"))]),
                    ],
                ),
                dir(
                    "vendor2/x",
                    &[inline(".", &[("x.txt", &format!("x{n}\n"))])],
                ),
            ],
            &[],
        )
    };
    p.config(&cfg(1));
    sync_same(&p, "full sync", &[]);

    // Everything changes upstream and files appear that no content owns.
    p.config(&cfg(2));
    p.each(|d| {
        fs::write(d.join("vendor/stray.txt"), "stray\n").unwrap();
        fs::write(d.join("vendor/a/stray.txt"), "stray in a\n").unwrap();
        fs::write(d.join("vendor2/x/stray.txt"), "stray in x\n").unwrap();
    });
    // `vendor/a` is content `a` of directory `vendor`: only it is replaced; b, the
    // stray file beside it and the other directory stay; its lock entry is merged.
    sync_same(&p, "-d vendor/a", &["-d", "vendor/a"]);
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/a/a.txt")).unwrap(),
        "a2\n"
    );
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/b/b.txt")).unwrap(),
        "b1\n"
    );
    assert!(p.ours.dir.join("vendor/stray.txt").exists());

    // A local checkout replaces the content (its newRootPath goes with the source);
    // the lock is not saved.
    p.each(|d| {
        fs::create_dir_all(d.join("local/sub")).unwrap();
        fs::write(d.join("local/sub/l.txt"), "local\n").unwrap();
        fs::write(d.join("local/top.txt"), "top\n").unwrap();
    });
    let lock_before = p.ours.lock();
    sync_same(&p, "-d vendor/a=local", &["-d", "vendor/a=local"]);
    assert_eq!(p.ours.lock(), lock_before);
    assert!(p.ours.dir.join("vendor/a/sub/l.txt").exists());

    // A content at `.` is named by its directory's path.
    sync_same(&p, "-d vendor2/x", &["-d", "vendor2/x"]);

    // Without a lock file the lock holds the selected content only.
    p.each(|d| fs::remove_file(d.join("vendir.lock.yml")).unwrap());
    sync_same(&p, "-d vendor/b, no lock", &["-d", "vendor/b"]);

    // Both refuse a path that names nothing; vendoras lists what it could be.
    let (theirs, ours) = p.syncs(&["-d", "vendor/nope"]);
    assert!(!theirs.success() && !ours.success(), "{theirs:?}\n{ours:?}");
    assert!(
        ours.stderr.contains("vendor/nope") && ours.stderr.contains("vendor/a, vendor/b"),
        "{ours:?}"
    );
    // PATH=LOCAL-DIR must name one content.
    let (theirs, ours) = p.syncs(&["-d", "vendor=local"]);
    assert!(!theirs.success() && !ours.success(), "{theirs:?}\n{ours:?}");
    assert_same(&p, "after refusals");

    // Contents new to the config: vendir appends a content to its directory's entry,
    // and a directory the lock does not have at the end.
    let mut grown = cfg(3).trim_end().to_string();
    grown.push('\n');
    let grown = grown.replace(
        "- path: vendor2/x\n",
        &format!("{}- path: vendor2/x\n", inline("c", &[("c.txt", "c\n")])),
    ) + &dir("vendor3", &[inline(".", &[("n.txt", "n\n")])]);
    p.config(&grown);
    sync_same(&p, "-d a new content", &["-d", "vendor/c"]);
    sync_same(&p, "-d a new directory", &["-d", "vendor3"]);
    let lock = yaml(&p.ours.lock()).unwrap();
    assert!(
        lock_entry(&lock, "vendor", "c").is_some() && lock_entry(&lock, "vendor3", ".").is_some(),
        "{}",
        p.ours.lock()
    );
}

#[test]
fn a_directory_path_alone_selects_all_its_contents() {
    // vendir refuses `-d vendor` when no content is at `vendor`; vendoras reads it as
    // every content of that directory (docs/differences.md).
    let w = Work::new();
    let cfg = |n: u32| {
        vendir_config(
            &[
                dir(
                    "vendor",
                    &[
                        inline("a", &[("a.txt", &format!("a{n}\n"))]),
                        inline("b", &[("b.txt", &format!("b{n}\n"))]),
                    ],
                ),
                dir("other", &[inline(".", &[("o.txt", &format!("o{n}\n"))])]),
            ],
            &[],
        )
    };
    w.config(&cfg(1));
    w.sync(&[]).ok();
    w.config(&cfg(2));
    fs::write(w.dir.join("vendor/stray.txt"), "stray\n").unwrap();
    w.sync(&["-d", "vendor"]).ok();
    let read = |p: &str| fs::read_to_string(w.dir.join(p)).unwrap();
    assert_eq!(read("vendor/a/a.txt"), "a2\n");
    assert_eq!(read("vendor/b/b.txt"), "b2\n");
    assert_eq!(read("vendor/stray.txt"), "stray\n");
    assert_eq!(read("other/o.txt"), "o1\n");
}

#[test]
fn a_directory_source_reading_a_parent_of_synced_directories_sees_them_as_vendir_does() {
    // vendor/b copies all of vendor: vendor/a as this sync just fetched it, vendor/b
    // itself as it was on disk, and never a staging directory of this sync.
    let p = Pair::new();
    let cfg = |text: &str| {
        vendir_config(
            &[
                dir("vendor/a", &[inline(".", &[("x.txt", text)])]),
                dir("vendor/b", &[directory(".", "vendor")]),
            ],
            &[],
        )
    };
    p.config(&cfg("x1\n"));
    sync_same(&p, "first sync", &[]);
    p.config(&cfg("x2\n"));
    sync_same(&p, "second sync", &[]);
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/b/a/x.txt")).unwrap(),
        "x2\n"
    );
    assert_eq!(
        fs::read_to_string(p.ours.dir.join("vendor/b/b/a/x.txt")).unwrap(),
        "x1\n"
    );
    p.config(&cfg("x3\n"));
    sync_same(&p, "-d both", &["-d", "vendor/a", "-d", "vendor/b"]);
}
