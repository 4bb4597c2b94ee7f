//! A sync killed (SIGKILL, as `kill -9`) between any two steps of its commit —
//! after the journal is written, after each directory swap, after the lock — is
//! finished or undone by the next run, before anything else (src/stage/journal.rs):
//! the working directory is then exactly what one sync or the other left, never a
//! mix of new and old directories. The kill comes from the debug build's
//! `VENDORAS_CRASH_AT` step hook.

mod support;

use std::os::unix::process::ExitStatusExt;

use support::sync::*;
use support::*;

/// Three directories of `lazy` inline contents saying `label` (lazy, so the lock's
/// `configDigest`s change with the label too).
fn config(label: &str) -> String {
    let dirs: Vec<String> = ["vendor/a", "vendor/b", "other/c"]
        .iter()
        .map(|d| {
            format!("- path: {d}\n  contents:\n  - path: .\n    lazy: true\n    inline:\n      paths:\n        x.txt: \"{label} {d}\"\n")
        })
        .collect();
    config_yaml(&dirs, "")
}

/// Syncs, expecting the process to be killed at `step`.
#[track_caller]
fn killed_at(w: &Work, step: &str) {
    let out = w.cmd(&[]).env("VENDORAS_CRASH_AT", step).output().unwrap();
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{step}: not killed there: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The state without leftovers a recovery must remove, and a list of those.
fn leftovers(w: &Work) -> Vec<String> {
    w.state()
        .0
        .into_keys()
        .filter(|k| k.contains(".vendoras-staging-") || k.contains(".vendoras-journal"))
        .collect()
}

#[test]
fn a_sync_killed_at_any_step_of_its_commit_is_finished_or_undone_by_the_next() {
    // What each sync leaves on its own.
    let old = Work::new();
    old.config(&config("v1"));
    old.sync(&[]).ok();
    let new = Work::new();
    new.config(&config("v2"));
    new.sync(&[]).ok();
    assert_ne!(old.lock(), new.lock());

    for (step, finished) in [
        ("journal", false),
        ("swap-0", false),
        ("swap-1", false),
        ("swap-2", true),
        ("lock", true),
    ] {
        let w = Work::new();
        w.config(&config("v1"));
        w.sync(&[]).ok();
        w.config(&config("v2"));
        killed_at(&w, step);
        assert!(
            leftovers(&w)
                .iter()
                .any(|l| l.contains(".vendoras-journal")),
            "{step}: no journal left by the killed run"
        );

        // The next run recovers first; stop it right there and look.
        killed_at(&w, "recovered");
        assert_eq!(leftovers(&w), Vec::<String>::new(), "{step}");
        let want = if finished { &new } else { &old };
        let (tree, lock) = w.state();
        let (want_tree, want_lock) = want.state();
        assert_same_tree(step, "expected", &want_tree, "recovered", &tree);
        assert_eq!(lock, want_lock, "{step}: lock");

        // And a whole sync then lands v2 as usual, saying what it recovered
        // (nothing, by now).
        let out = w.sync(&[]).ok();
        assert!(!out.stderr.contains("interrupted sync"), "{step}: {out:?}");
        assert_eq!(w.state().1, new.lock(), "{step}");
    }
}

#[test]
fn the_next_sync_says_what_it_recovered() {
    let w = Work::new();
    w.config(&config("v1"));
    w.sync(&[]).ok();
    w.config(&config("v2"));
    killed_at(&w, "swap-1");
    w.config(&config("v1"));
    let out = w.sync(&[]).ok();
    assert!(
        out.stderr
            .contains("undid the 2 it had swapped; trees and lock are as before it"),
        "{out:?}"
    );
    killed_at_nothing(&w);
}

/// No journal is left after a normal sync.
fn killed_at_nothing(w: &Work) {
    w.sync(&[]).ok();
    assert_eq!(leftovers(w), Vec::<String>::new());
}
