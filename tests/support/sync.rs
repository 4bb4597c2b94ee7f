//! Helpers shared by the `vendoras sync` integration tests (tests/sync_*.rs): a
//! temporary working directory with its own blob cache and a sentinel sibling that
//! must never change, config builders, lock readers and tree snapshots.

#![allow(dead_code)] // each test file uses its own subset

use super::*;

/// A temp root holding `work/` (the working directory), `cache/` (blob cache) and
/// `sentinel/` (a sibling of the work dir that must never change).
pub struct Work {
    pub _tmp: tempfile::TempDir,
    pub dir: std::path::PathBuf,
    pub cache: std::path::PathBuf,
    pub sentinel: std::path::PathBuf,
}

impl Work {
    pub fn new() -> Work {
        let tmp = tempfile::Builder::new().prefix("vsync").tempdir().unwrap();
        let dir = tmp.path().join("work");
        let cache = tmp.path().join("cache");
        let sentinel = tmp.path().join("sentinel");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&sentinel).unwrap();
        std::fs::write(sentinel.join("keep.txt"), "sentinel\n").unwrap();
        Work {
            _tmp: tmp,
            dir,
            cache,
            sentinel,
        }
    }

    pub fn config(&self, yaml: &str) {
        std::fs::write(self.dir.join("vendir.yml"), yaml).unwrap();
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = vendoras();
        c.current_dir(&self.dir)
            .arg("sync")
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        c
    }

    pub fn sync(&self, args: &[&str]) -> Outcome {
        run(&mut self.cmd(args))
    }

    pub fn lock(&self) -> String {
        std::fs::read_to_string(self.dir.join("vendir.lock.yml")).unwrap_or_default()
    }

    pub fn tree(&self, rel: &str) -> Tree {
        tree_snapshot(&self.dir.join(rel))
    }

    /// Everything in the work dir except the config (which tests rewrite).
    pub fn state(&self) -> (Tree, String) {
        let mut t = tree_snapshot(&self.dir);
        t.remove("vendir.yml");
        (t, self.lock())
    }

    pub fn sentinel_tree(&self) -> Tree {
        tree_snapshot(&self.sentinel)
    }
}

/// The `url:` values of a lock file, in order.
pub fn lock_urls(lock: &str) -> Vec<String> {
    lock.lines()
        .filter_map(|l| l.trim().strip_prefix("url: "))
        .map(|s| s.trim().trim_matches('"').trim_matches('\'').to_string())
        .collect()
}

/// A vendir.yml of these `directories:` items (see [`dir_yaml`]) plus extra documents.
pub fn config_yaml(dirs: &[String], extra_docs: &str) -> String {
    format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n{}{extra_docs}",
        dirs.concat()
    )
}

/// One `directories:` item with these content items (see [`oci_yaml`]).
pub fn dir_yaml(path: &str, contents: &[String]) -> String {
    format!("- path: {path}\n  contents:\n{}", contents.concat())
}

/// One `contents:` item with an ociArtifact source. `extra` are lines of the
/// `ociArtifact` mapping (e.g. `mediaTypes: [x]`); `content_extra` lines of the content.
pub fn oci_yaml(
    path: &str,
    image: &str,
    tag: Option<&str>,
    extra: &[&str],
    content_extra: &[&str],
) -> String {
    let mut s = format!("  - path: {path}\n");
    for l in content_extra {
        s.push_str(&format!("    {l}\n"));
    }
    s.push_str(&format!("    ociArtifact:\n      image: {image}\n"));
    if let Some(t) = tag {
        s.push_str(&format!("      tag: \"{t}\"\n"));
    }
    for l in extra {
        s.push_str(&format!("      {l}\n"));
    }
    s
}

/// A one-directory, one-content config for `image:tag` on a plain-HTTP registry.
pub fn simple_config(dir: &str, image: &str, tag: &str, extra: &[&str]) -> String {
    let mut e = vec!["plainHTTP: true"];
    e.extend_from_slice(extra);
    config_yaml(
        &[dir_yaml(dir, &[oci_yaml(".", image, Some(tag), &e, &[])])],
        "",
    )
}

/// `oras resolve REF` (the manifest digest).
pub fn oras_resolve(registry: &Registry, reference: &str) -> String {
    run(oras()
        .arg("resolve")
        .args(registry.access_flags())
        .arg(reference))
    .ok()
    .stdout
    .trim()
    .to_string()
}

/// `oras push` inside `dir`; returns the manifest digest.
pub fn oras_push_in(
    registry: &Registry,
    dir: &std::path::Path,
    flags: &[&str],
    reference: &str,
    paths: &[&str],
) -> String {
    run(oras()
        .current_dir(dir)
        .arg("push")
        .args(registry.access_flags())
        .args(flags)
        .arg(reference)
        .args(paths)
        .args(["--format", "go-template={{.digest}}"]))
    .ok()
    .stdout
    .trim()
    .to_string()
}

/// `oras push` of one small file (`file.txt`, naming the repository and tag)
/// as `repo:tag`; returns the manifest digest.
pub fn oras_push_tag(registry: &Registry, repo: &str, tag: &str) -> String {
    oras_push_text(registry, repo, tag, &format!("{repo} {tag}\n"))
}

/// `oras push` of `file.txt` holding `text` as `repo:tag`; returns the
/// manifest digest.
pub fn oras_push_text(registry: &Registry, repo: &str, tag: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.txt"), text).unwrap();
    oras_push_in(
        registry,
        dir.path(),
        &[],
        &registry.reference(repo, tag),
        &["file.txt"],
    )
}

pub fn write_file(path: &std::path::Path, data: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// A tree from (path, content) pairs of regular non-executable files plus their dirs.
pub fn files_tree(files: &[(&str, &[u8])]) -> Tree {
    let mut t = Tree::new();
    for (p, data) in files {
        let mut acc = String::new();
        let parts: Vec<&str> = p.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            t.insert(acc.clone(), Entry::Dir);
        }
        t.insert(
            p.to_string(),
            Entry::File {
                sha256: sha256_hex(data),
                size: data.len() as u64,
                exec: false,
            },
        );
    }
    t
}

#[track_caller]
pub fn assert_contains(out: &Outcome, needles: &[&str]) {
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "stderr should mention {n:?}\n{out:?}"
        );
    }
}
