//! vendir v0.44.0 and vendoras side by side: two work directories with the same
//! config, vendoras run in the environment vendir gets (`isolate_vcs`). The parity
//! suites build on this and add only their cases and their own comparisons.

#![allow(dead_code)] // each test file uses its own subset

use std::fs;
use std::path::Path;

use super::sync::Work;
use super::vendir::{assert_same_lock, isolate_vcs, VendirWork};
use super::*;

pub struct Pair {
    pub vendir: VendirWork,
    pub ours: Work,
}

impl Pair {
    pub fn new() -> Pair {
        Pair {
            vendir: VendirWork::new(),
            ours: Work::new(),
        }
    }

    /// A pair with `yaml` as both tools' config.
    pub fn with(yaml: &str) -> Pair {
        let p = Pair::new();
        p.config(yaml);
        p
    }

    pub fn config(&self, yaml: &str) {
        self.vendir.config(yaml);
        self.ours.config(yaml);
    }

    /// Runs `f` on both work dirs (edits, stray files, a local checkout).
    pub fn each(&self, f: impl Fn(&Path)) {
        f(&self.vendir.dir);
        f(&self.ours.dir);
    }

    /// Writes `data` at `rel` in both work dirs.
    pub fn write(&self, rel: &str, data: &str) {
        self.each(|root| {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, data).unwrap();
        });
    }

    /// The file at `rel` as (vendir's, vendoras').
    pub fn read(&self, rel: &str) -> (String, String) {
        let r = |root: &Path| fs::read_to_string(root.join(rel)).unwrap();
        (r(&self.vendir.dir), r(&self.ours.dir))
    }

    /// vendoras alone, in the environment vendir gets.
    pub fn ours_sync(&self, args: &[&str]) -> Outcome {
        let mut cmd = self.ours.cmd(args);
        isolate_vcs(&mut cmd);
        run(&mut cmd)
    }

    /// Both tools sync with `args`: (vendir's outcome, vendoras').
    pub fn syncs(&self, args: &[&str]) -> (Outcome, Outcome) {
        (self.vendir.sync(args), self.ours_sync(args))
    }

    /// Both tools sync with `args` and must succeed; then the trees under `dirs`
    /// and the locks (byte for byte) are the same.
    #[track_caller]
    pub fn sync_same(&self, context: &str, args: &[&str], dirs: &[&str]) {
        let out = self.syncs(args);
        assert_both_ok(context, &out);
        self.assert_same(context, dirs);
    }

    /// The trees under `dirs` and the locks (byte for byte) are the same.
    #[track_caller]
    pub fn assert_same(&self, context: &str, dirs: &[&str]) {
        for d in dirs {
            assert_same_tree(
                &format!("{context}: {d}"),
                "vendir",
                &self.vendir.tree(d),
                "vendoras",
                &self.ours.tree(d),
            );
        }
        assert_same_lock(context, &self.vendir.lock(), &self.ours.lock(), &[]);
    }
}

/// Both tools succeeded.
#[track_caller]
pub fn assert_both_ok(context: &str, out: &(Outcome, Outcome)) {
    assert!(out.0.success(), "{context}: vendir failed: {:?}", out.0);
    assert!(out.1.success(), "{context}: vendoras failed: {:?}", out.1);
}
