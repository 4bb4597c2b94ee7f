//! Entry points for the cargo-fuzz targets in `fuzz/` (the `fuzzing`
//! feature; docs/fuzzing.md). Each takes the fuzzer's bytes, drives one
//! reader of untrusted input the way a sync drives it, and panics only when
//! a property is broken: a panic inside the reader is a finding too.
//!
//! * [`config`]: `vendir.yml` with its `Secret` and `ConfigMap` documents;
//! * [`lock`]: the lock reader, and a lock it accepts survives a write and
//!   a read back unchanged;
//! * [`tar`] and [`zip`]: extraction into a [`Root`] under the sync
//!   options; nothing may appear outside the root, and no link inside it
//!   may point out of it;
//! * [`helm_index`]: a chart repository's `index.yaml`, and picking a
//!   version from it;
//! * [`reference`]: the OCI reference parser, and what it prints parses
//!   back to the same reference.
//!
//! Built only with `--features fuzzing`; nothing here is part of the
//! library's API.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{self, Input, LoadOptions, PathRules};
use crate::extract::download::extract_zip;
use crate::extract::layer::{extract_archive, Compression};
use crate::extract::{Limits, Modes, Options, RelPath, Root};
use crate::fetch::helm::Index;
use crate::lock::{LockConfig, LockFile};
use crate::reference::Reference;

/// Loads `data` as the only config input, as `vendoras sync` loads
/// `vendir.yml` (multi-document: `Config`, `Secret`, `ConfigMap`). The
/// first byte picks strict mode and `--allow-outside-paths`.
pub fn config(data: &[u8]) {
    let flags = data.first().copied().unwrap_or(0);
    let Ok(input) = Input::from_bytes("vendir.yml", data.to_vec()) else {
        return;
    };
    let mut options = LoadOptions::new(PathRules {
        workdir: PathBuf::from("/fuzz/project/work"),
        project: PathBuf::from("/fuzz/project"),
        allow_outside: flags & 1 != 0,
    });
    options.strict = flags & 2 != 0;
    if let Ok(loaded) = config::load(&[input], &options) {
        // Positions and texts of warnings are computed lazily: render them.
        for w in &loaded.warnings {
            let _ = (w.position(), w.text());
        }
    }
}

/// Reads `data` as a lock file; a lock it accepts must survive being
/// written and read back. The one change allowed is vendir's own: a NEL
/// (U+0085) is folded when written (goyaml), so such a lock must read back
/// to one that writes the same bytes.
pub fn lock(data: &[u8]) {
    let path = Path::new("/fuzz/vendir.lock.yml");
    let Ok(LockFile::Valid(lock)) = LockConfig::from_bytes(path, data) else {
        return;
    };
    let yaml = lock.to_yaml();
    let folds = format!("{lock:?}").contains("\\u{85}");
    match LockConfig::from_bytes(path, yaml.as_bytes()) {
        Ok(LockFile::Valid(again)) if folds => assert_eq!(
            again.to_yaml(),
            yaml,
            "a lock written again differs from the one written first:\n{yaml}"
        ),
        Ok(LockFile::Valid(again)) => assert_eq!(
            again, lock,
            "a lock read back differs from the one written:\n{yaml}"
        ),
        Ok(LockFile::Unreadable(u)) => {
            panic!("a lock vendoras wrote is unreadable: {u:?}\n{yaml}")
        }
        other => panic!("a lock vendoras wrote is refused: {other:?}\n{yaml}"),
    }
}

/// Extracts `data` as a layer would be (tar, tar+gzip or tar+zstd, by its
/// bytes), then checks confinement. The first byte picks the options: the
/// `within` subtree (oras directory tarballs) and the mode policy.
pub fn tar(data: &[u8]) {
    let (flags, data) = data.split_first().unwrap_or((&0, &[]));
    let Some(compression) = Compression::sniff(data) else {
        return;
    };
    let sandbox = Sandbox::new();
    let opts = options(*flags);
    let _ = extract_archive(data, compression, &sandbox.root, &opts);
    sandbox.check();
}

/// Extracts `data` as a zip download is extracted, then checks
/// confinement.
pub fn zip(data: &[u8]) {
    let (flags, data) = data.split_first().unwrap_or((&0, &[]));
    let sandbox = Sandbox::new();
    let opts = Options {
        within: RelPath::root(),
        ..options(*flags)
    };
    let _ = extract_zip(Cursor::new(data), &sandbox.root, &opts);
    sandbox.check();
}

/// Parses `data` as a chart repository index and picks versions from it
/// as `helmChart` does (newest, an exact version, a constraint).
pub fn helm_index(data: &[u8]) {
    let Ok(index) = Index::parse(data) else {
        return;
    };
    for name in index.names() {
        for wanted in [None, Some("1.0.0"), Some(">=0.1.0 <2"), Some("~1.2")] {
            let _ = index.select(name, wanted);
        }
    }
}

/// Parses `data` as an OCI reference; one that parses prints as text that
/// parses back to the same reference.
pub fn reference(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::reference::split_layout_reference(text);
    let Ok(r) = Reference::from_str(text) else {
        return;
    };
    let _ = (r.repository_url(), r.object());
    let printed = r.to_string();
    match Reference::from_str(&printed) {
        Ok(again) => assert_eq!(again, r, "{text:?} printed as {printed:?}"),
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    }
}

/// Small limits keep each run fast; the options are those of a sync.
fn options(flags: u8) -> Options {
    Options {
        within: if flags & 1 != 0 {
            RelPath::normalize("d").expect("a plain name")
        } else {
            RelPath::root()
        },
        final_root: None,
        modes: if flags & 2 != 0 {
            Modes::Umask
        } else {
            Modes::Normalized { files: None }
        },
        limits: Limits {
            max_bytes: 8 << 20,
            max_entries: 10_000,
            max_path_len: 4096,
            max_ratio: 200,
            ratio_floor: 1 << 20,
        },
        create_parents: flags & 4 == 0,
        refuse_whiteouts: flags & 8 == 0,
    }
}

/// A fresh directory holding `root/` (where extraction goes) and an empty
/// `outside/` beside it; removed when dropped.
struct Sandbox {
    dir: PathBuf,
    root: Root,
}

impl Sandbox {
    fn new() -> Sandbox {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "vendoras-fuzz-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).expect("sandbox");
        std::fs::create_dir(dir.join("outside")).expect("sandbox");
        let root = Root::open(&dir.join("root")).expect("sandbox root");
        Sandbox { dir, root }
    }

    /// Nothing beside `root/` but the empty `outside/`; every symlink in
    /// `root/` resolves (lexically, from its directory) inside `root/`.
    fn check(&self) {
        let mut beside: Vec<String> = std::fs::read_dir(&self.dir)
            .expect("sandbox")
            .map(|e| {
                e.expect("sandbox")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        beside.sort();
        assert_eq!(beside, ["outside", "root"], "written beside the root");
        assert_eq!(
            std::fs::read_dir(self.dir.join("outside"))
                .expect("sandbox")
                .count(),
            0,
            "written outside the root"
        );
        let root = self.dir.join("root");
        walk(&root, &RelPath::root());
    }
}

fn walk(dir: &Path, rel: &RelPath) {
    use std::os::unix::fs::PermissionsExt;
    // A Umask extraction may leave directories unreadable to a non-root user.
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    for entry in std::fs::read_dir(dir).expect("readable") {
        let entry = entry.expect("readable");
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().expect("readable");
        let child = rel.join(&name).expect("a directory entry name");
        if kind.is_symlink() {
            let target = std::fs::read_link(entry.path()).expect("a link");
            let target = target.to_string_lossy();
            assert!(
                !target.starts_with('/') && rel.join(&target).is_some(),
                "symlink {child} -> {target} points out of the root"
            );
        } else if kind.is_dir() {
            walk(&entry.path(), &child);
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Make every directory writable again (a Umask extraction may have
        // created read-only ones) and remove everything; links are not
        // followed.
        fn unlock(dir: &Path) {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        unlock(&e.path());
                    }
                }
            }
        }
        unlock(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
