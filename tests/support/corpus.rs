//! The corpus runner's mechanics (tests/corpus.rs, tests/corpus/README.md): for one
//! corpus file, loopback stand-ins for every source it names (with content its globs
//! match and miss, the refs, tags, versions and assets it asks for), the config
//! rewritten to reach them, vendir v0.44.0 and vendoras run on it in two fresh work
//! directories, and a comparison of outcomes, trees, modes and lock bytes.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use super::fixtures::*;
use super::pair::Pair;
use super::servers::*;
use super::vendir::{isolate_vcs, lock_diff, yaml};
use super::*;

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

// ---------------------------------------------------------------------------------------
// index.tsv and its notes
// ---------------------------------------------------------------------------------------

/// What a `deliberate:` note accepts instead of "same trees and lock".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// `both fail`: both tools exit non-zero.
    BothFail,
    /// `only vendir fails`: vendir exits non-zero, vendoras syncs.
    OnlyVendirFails,
    /// `only vendoras fails`: vendoras exits non-zero, vendir syncs.
    OnlyVendorasFails,
}

impl Accepted {
    pub const PHRASES: [(&'static str, Accepted); 3] = [
        ("both fail", Accepted::BothFail),
        ("only vendir fails", Accepted::OnlyVendirFails),
        ("only vendoras fails", Accepted::OnlyVendorasFails),
    ];

    pub fn phrase(&self) -> &'static str {
        Self::PHRASES.iter().find(|(_, a)| a == self).unwrap().0
    }
}

#[derive(Clone, Debug)]
pub struct Deliberate {
    pub accepted: Accepted,
    /// The docs/differences.md heading (without the `#`s) that explains it.
    pub section: String,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub file: String,
    pub deliberate: Option<Deliberate>,
    pub runner: Vec<String>,
}

impl Row {
    /// The file's two-digit number.
    pub fn number(&self) -> &str {
        &self.file[..2]
    }
}

/// The `runner:` notes: what a file needs from the stand-ins (informational).
pub const RUNNER_NOTES: [&str; 2] = ["ssh", "short sha"];

/// The rows of index.tsv; panics (naming the line) on a malformed row or note.
pub fn read_index() -> Vec<Row> {
    let text = fs::read_to_string(corpus_dir().join("index.tsv")).unwrap();
    let sections = difference_sections();
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() == 5,
            "index.tsv line {}: {} columns, want 5 (file repository path commit notes)",
            i + 1,
            cols.len()
        );
        let mut row = Row {
            file: cols[0].to_string(),
            deliberate: None,
            runner: Vec::new(),
        };
        for note in cols[4].split("; ").filter(|n| !n.is_empty()) {
            if let Some(r) = note.strip_prefix("runner: ") {
                assert!(
                    RUNNER_NOTES.contains(&r),
                    "index.tsv line {} ({}): unknown `runner:` note {r:?}; one of: {}",
                    i + 1,
                    row.file,
                    RUNNER_NOTES.join(", ")
                );
                row.runner.push(r.to_string());
            } else if let Some(d) = note.strip_prefix("deliberate: ") {
                row.deliberate =
                    Some(parse_deliberate(d, &sections).unwrap_or_else(|e| {
                        panic!("index.tsv line {} ({}): {e}", i + 1, row.file)
                    }));
            } else {
                panic!(
                    "index.tsv line {} ({}): note {note:?} is neither `deliberate: ...` nor `runner: ...`",
                    i + 1,
                    row.file
                );
            }
        }
        assert!(
            corpus_dir().join("files").join(&row.file).is_file(),
            "index.tsv line {}: no file files/{}",
            i + 1,
            row.file
        );
        rows.push(row);
    }
    rows
}

/// `<phrase> (docs/differences.md: <section>)`.
fn parse_deliberate(note: &str, sections: &[String]) -> Result<Deliberate, String> {
    let (phrase, rest) = note
        .split_once(" (docs/differences.md: ")
        .ok_or("a deliberate note ends with `(docs/differences.md: <section>)`")?;
    let section = rest
        .strip_suffix(')')
        .ok_or("a deliberate note ends with `)`")?;
    let accepted = Accepted::PHRASES
        .iter()
        .find(|(p, _)| *p == phrase)
        .map(|(_, a)| a.clone())
        .ok_or_else(|| {
            format!(
                "unknown outcome {phrase:?}; one of: {}",
                Accepted::PHRASES.map(|(p, _)| p).join(", ")
            )
        })?;
    if !sections.iter().any(|s| s == section) {
        return Err(format!(
            "docs/differences.md has no section {section:?} (its headings: {})",
            sections.join(", ")
        ));
    }
    Ok(Deliberate {
        accepted,
        section: section.to_string(),
    })
}

/// The headings of docs/differences.md, without `#`s and backquotes.
fn difference_sections() -> Vec<String> {
    let text =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/differences.md"))
            .unwrap();
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().replace('`', ""))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Sample paths from globs
// ---------------------------------------------------------------------------------------

/// Paths that `glob` matches: `**` as no folder and as two folders, `*` as a name.
pub fn glob_samples(glob: &str) -> Vec<String> {
    let glob = glob.trim_start_matches("./").trim_start_matches('/');
    let segs: Vec<&str> = glob.split('/').filter(|s| !s.is_empty()).collect();
    let mut out = BTreeSet::new();
    for deep in [false, true] {
        let mut parts: Vec<String> = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            if *seg == "**" {
                if deep {
                    parts.push("sub".into());
                    parts.push("deep".into());
                }
                if last {
                    parts.push("any.yaml".into());
                }
            } else if *seg == "*" {
                parts.push(if last { "file.yaml" } else { "d" }.into());
            } else {
                parts.push(seg.replace('*', "x").replace('?', "q"));
            }
        }
        if !parts.is_empty() {
            out.insert(parts.join("/"));
        }
    }
    out.into_iter().collect()
}

/// A path next to what `glob` names that it does not match (its first folder renamed).
fn glob_near_miss(glob: &str) -> Option<String> {
    let s = glob_samples(glob).into_iter().next()?;
    let (first, rest) = s.split_once('/')?;
    if first.contains('x') {
        return None;
    }
    Some(format!("{first}-other/{rest}"))
}

/// Every file a source gets whatever the config says: names no glob in the corpus
/// asks for, a LICENSE (legalPaths), and an executable.
const ALWAYS: [&str; 6] = [
    "README.md",
    "LICENSE",
    "NOTICE",
    "docs/guide.md",
    ".github/workflows/ci.yml",
    "exec:scripts/build.sh",
];

fn filter_strings(content: &Value, key: &str) -> Vec<String> {
    content
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Files for a source read by `content`: what its include/exclude/ignore globs
/// match, near misses, files in and beside `newRootPath`.
fn content_files(content: &Value, out: &mut BTreeSet<String>) {
    for key in ["includePaths", "excludePaths", "ignorePaths", "legalPaths"] {
        for g in filter_strings(content, key) {
            out.extend(glob_samples(&g));
            if key == "includePaths" {
                out.extend(glob_near_miss(&g));
            }
        }
    }
    if let Some(root) = content.get("newRootPath").and_then(|v| v.as_str()) {
        let root = root.trim_matches('/');
        if !root.is_empty() && root != "." {
            out.insert(format!("{root}/root.yaml"));
            out.insert(format!("{root}/sub/nested.yaml"));
            out.insert(format!("{root}-sibling.txt"));
        }
    }
}

fn file_entries(files: &BTreeSet<String>, label: &str) -> Vec<(String, Vec<u8>)> {
    let mut all: BTreeSet<String> = files.clone();
    all.extend(ALWAYS.iter().map(|s| s.to_string()));
    all.into_iter()
        .filter(|f| !f.ends_with('/'))
        .map(|f| {
            let plain = f.strip_prefix("exec:").unwrap_or(&f).to_string();
            let exec = plain.ends_with(".sh") || plain.contains("/deep/");
            let name = if exec && !f.starts_with("exec:") {
                format!("exec:{plain}")
            } else {
                f.clone()
            };
            let body = if plain.ends_with(".sh") {
                format!("#!/bin/sh\necho {plain} at {label}\n")
            } else {
                format!("{plain} at {label}\n")
            };
            (name, body.into_bytes())
        })
        .collect()
}

fn as_refs(entries: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    entries
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect()
}

/// Drops files whose path is a folder of another (a glob sample `a` and `a/b`).
fn no_file_dir_clash(files: &mut BTreeSet<String>) {
    let all: Vec<String> = files.iter().cloned().collect();
    files.retain(|f| {
        let f = f.strip_prefix("exec:").unwrap_or(f);
        !all.iter().any(|o| {
            o.strip_prefix("exec:")
                .unwrap_or(o)
                .starts_with(&format!("{f}/"))
        })
    });
}

/// Semver tags for `refSelection`/`tagSelection` constraints: releases and
/// prereleases below, inside and above the ranges the corpus uses.
const SEMVER_TAGS: [&str; 14] = [
    "v0.1.0",
    "v0.2.0",
    "v0.2.1-rc.1",
    "v0.3.0",
    "v0.3.5",
    "v0.4.0-rc.1",
    "v0.9.0-beta.1",
    "v1.0.0",
    "v1.22.0",
    "v1.23.0",
    "v1.23.4",
    "v1.24.0",
    "v1.27.1",
    "v1.28.0-rc.1",
];

fn is_hex_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_branch(r: &str) -> bool {
    matches!(r, "main" | "master" | "default" | "develop") || r.ends_with(".x")
}

// ---------------------------------------------------------------------------------------
// The stand-ins
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct GitSpec {
    daemon: bool,
    refs: BTreeSet<String>,
    shas: Vec<String>,
    semver: bool,
    files: BTreeSet<String>,
}

#[derive(Default)]
struct ReleaseSpec {
    tags: BTreeSet<String>,
    semver: bool,
    assets: BTreeSet<String>,
    /// Archive assets (by name) and what goes in them.
    archives: BTreeMap<String, BTreeSet<String>>,
    /// `{tag}` http URLs (original).
    tag_urls: BTreeSet<String>,
    /// Tags whose release has exactly the assets a `checksums:` map names (a
    /// content without `assetNames` downloads every asset and needs a checksum
    /// for each).
    exact: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Default)]
struct ChartSpec {
    /// name -> versions
    charts: BTreeMap<String, BTreeSet<String>>,
    files: BTreeSet<String>,
}

struct Plan {
    git: BTreeMap<String, GitSpec>,
    hg: BTreeMap<String, GitSpec>,
    /// http URL -> files for archives
    http: BTreeMap<String, BTreeSet<String>>,
    releases: BTreeMap<String, ReleaseSpec>,
    helm: BTreeMap<String, ChartSpec>,
    oci_charts: BTreeMap<String, ChartSpec>,
    images: BTreeMap<String, (bool, BTreeSet<String>)>,
    /// Paths to create in both work dirs before syncing: (path, is_manual).
    local: Vec<(String, bool)>,
    /// Directories whose mode `permissions:` sets (directories and contents).
    permission_dirs: BTreeSet<String>,
    /// Paths of inline contents.
    inline_paths: BTreeSet<String>,
    /// checksums (original hex) -> (slug, tag, asset)
    checksums: BTreeMap<String, (String, String, String)>,
    /// http sha256 (original) -> url
    http_sha: BTreeMap<String, String>,
}

fn join_path(dir: &str, content: &str) -> String {
    let dir = dir.trim_start_matches("./").trim_end_matches('/');
    let c = content.trim_start_matches("./").trim_end_matches('/');
    if c.is_empty() || c == "." {
        dir.to_string()
    } else {
        format!("{dir}/{c}")
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(|x| x.as_str())
}

fn plan(config: &Value) -> Plan {
    let mut p = Plan {
        git: BTreeMap::new(),
        hg: BTreeMap::new(),
        http: BTreeMap::new(),
        releases: BTreeMap::new(),
        helm: BTreeMap::new(),
        oci_charts: BTreeMap::new(),
        images: BTreeMap::new(),
        local: Vec::new(),
        permission_dirs: BTreeSet::new(),
        inline_paths: BTreeSet::new(),
        checksums: BTreeMap::new(),
        http_sha: BTreeMap::new(),
    };
    let dirs = config["directories"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut earlier: Vec<String> = Vec::new();
    for d in &dirs {
        let dpath = s(d, "path").unwrap_or_default().to_string();
        if d.get("permissions").is_some() {
            p.permission_dirs.insert(join_path(&dpath, "."));
        }
        for c in d["contents"].as_array().cloned().unwrap_or_default() {
            let cpath = join_path(&dpath, s(&c, "path").unwrap_or("."));
            // vendir chmods each content's directory to the content's
            // `permissions`, else the directory's, and then the directory.
            if c.get("permissions").is_some() || d.get("permissions").is_some() {
                p.permission_dirs.insert(cpath.clone());
            }
            if let Some(g) = c.get("git") {
                let url = s(g, "url").unwrap_or_default().to_string();
                let spec = p.git.entry(url.clone()).or_default();
                spec.daemon = !url.starts_with("https://");
                if let Some(r) = s(g, "ref").map(|r| r.trim_start_matches("origin/")) {
                    if is_hex_sha(r) {
                        spec.shas.push(r.to_string());
                    } else {
                        spec.refs.insert(r.to_string());
                    }
                }
                spec.semver |= g.get("refSelection").is_some();
                content_files(&c, &mut spec.files);
            } else if let Some(h) = c.get("hg") {
                let spec =
                    p.hg.entry(s(h, "url").unwrap_or_default().into())
                        .or_default();
                if let Some(r) = s(h, "ref") {
                    if r.len() == 40 && is_hex_sha(r) {
                        spec.shas.push(r.to_string());
                    } else {
                        spec.refs.insert(r.to_string());
                    }
                }
                content_files(&c, &mut spec.files);
            } else if let Some(h) = c.get("http") {
                let url = s(h, "url").unwrap_or_default().to_string();
                if let Some(sum) = s(h, "sha256") {
                    p.http_sha.insert(sum.to_string(), url.clone());
                }
                content_files(&c, p.http.entry(url).or_default());
            } else if let Some(g) = c.get("githubRelease") {
                let slug = s(g, "slug").unwrap_or_default().to_string();
                let spec = p.releases.entry(slug.clone()).or_default();
                let tag = s(g, "tag").map(str::to_string);
                if let Some(t) = &tag {
                    spec.tags.insert(t.clone());
                }
                if g.get("latest").is_some() || tag.is_none() {
                    spec.semver = true;
                }
                for a in filter_strings(g, "assetNames") {
                    for sample in glob_samples(&a) {
                        spec.assets.insert(sample);
                    }
                }
                let mut inside = BTreeSet::new();
                content_files(&c, &mut inside);
                for f in &inside {
                    if !f.contains('/') {
                        spec.assets.insert(f.clone());
                    }
                }
                if let Some(arch) = g.get("unpackArchive").and_then(|u| s(u, "path")) {
                    spec.assets.insert(arch.to_string());
                    spec.archives
                        .entry(arch.to_string())
                        .or_default()
                        .extend(inside);
                }
                if let Some(sums) = g.get("checksums").and_then(|v| v.as_object()) {
                    if let (Some(t), None) = (&tag, g.get("assetNames")) {
                        spec.exact
                            .entry(t.clone())
                            .or_default()
                            .extend(sums.keys().cloned());
                    }
                    for (name, sum) in sums {
                        spec.assets.insert(name.clone());
                        if let (Some(sum), Some(t)) = (sum.as_str(), &tag) {
                            p.checksums
                                .insert(sum.to_string(), (slug.clone(), t.clone(), name.clone()));
                        }
                    }
                }
                if let Some(u) = g.get("http").and_then(|h| s(h, "url")) {
                    spec.tag_urls.insert(u.to_string());
                }
            } else if let Some(h) = c.get("helmChart") {
                let name = s(h, "name").unwrap_or_default();
                let name = name.rsplit('/').next().unwrap().to_string();
                let url = h
                    .get("repository")
                    .and_then(|r| s(r, "url"))
                    .unwrap_or_default()
                    .to_string();
                let spec = if url.starts_with("oci://") {
                    p.oci_charts.entry(url).or_default()
                } else {
                    p.helm.entry(url).or_default()
                };
                let versions = spec.charts.entry(name).or_default();
                versions.insert("0.0.1".into());
                match s(h, "version") {
                    Some(v) => {
                        versions.insert(v.to_string());
                    }
                    None => {
                        versions.insert("1.0.0".into());
                        versions.insert("1.1.0".into());
                    }
                }
                content_files(&c, &mut spec.files);
            } else if let Some(i) = c.get("image") {
                let e = p
                    .images
                    .entry(s(i, "url").unwrap_or_default().into())
                    .or_default();
                content_files(&c, &mut e.1);
            } else if let Some(i) = c.get("imgpkgBundle") {
                let e = p
                    .images
                    .entry(s(i, "image").unwrap_or_default().into())
                    .or_default();
                e.0 = true;
                content_files(&c, &mut e.1);
            } else if c.get("manual").is_some() {
                p.local.push((cpath.clone(), true));
            } else if let Some(dsrc) = c.get("directory") {
                let path = s(dsrc, "path").unwrap_or_default().trim_start_matches("./");
                let from_earlier = earlier
                    .iter()
                    .any(|e| path == e || path.starts_with(&format!("{e}/")));
                if !from_earlier {
                    p.local.push((path.to_string(), false));
                }
            } else if c.get("inline").is_some() {
                p.inline_paths.insert(cpath.clone());
            }
        }
        earlier.push(join_path(&dpath, "."));
    }
    p
}

/// Servers and rewrites for one file.
pub struct Standins {
    tmp: TempDir,
    pub rewrites: HashMap<String, String>,
    pub env: Vec<(String, String)>,
    plan: Plan,
    _git_http: Option<HttpServer>,
    _git_daemon: Option<GitDaemon>,
    _hg: Vec<HgServe>,
    _files: Option<HttpServer>,
    _github: Option<(FakeGithub, TestCa, TlsFront, ConnectProxy)>,
    _registry: Option<Registry>,
}

fn slug_of(url: &str) -> String {
    let path = url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(url)
        .replace(':', "/");
    let t: String = path
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    t
}

/// `https://host/a/b` -> `h/host/a/b` (where the file server keeps it).
fn http_path(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    format!("h/{rest}")
}

fn build_git(root: &Path, url: &str, spec: &GitSpec, rewrites: &mut HashMap<String, String>) {
    let mut files = spec.files.clone();
    no_file_dir_clash(&mut files);
    let repo = GitRepo::init(&root.join("work").join(slug_of(url)));
    // Symlinks: next to the always-present guide, and next to each shallow glob
    // sample (so filters see links they keep and links they drop).
    let mut links = vec![("docs/link.md".to_string(), "guide.md".to_string())];
    for f in &files {
        let (dir, name) = f.rsplit_once('/').unwrap_or(("", f.as_str()));
        if name == "any.yaml" || name == "file.yaml" {
            let at = if dir.is_empty() {
                format!("link-{name}")
            } else {
                format!("{dir}/link-{name}")
            };
            links.push((at, name.to_string()));
        }
    }
    for (at, target) in &links {
        let p = repo.work.join(at);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &p).unwrap();
    }
    let commit = |label: &str| {
        repo.commit(
            &as_refs(&file_entries(&files, label)),
            &format!("corpus: {label}"),
        )
    };
    commit("base");
    for sha in &spec.shas {
        let new = commit(&format!("sha {sha}"));
        rewrites.insert(sha.clone(), new[..sha.len()].to_string());
    }
    let mut tags: Vec<String> = spec
        .refs
        .iter()
        .filter(|r| !is_branch(r))
        .cloned()
        .collect();
    if spec.semver {
        tags.extend(SEMVER_TAGS.iter().map(|t| t.to_string()));
    }
    for t in &tags {
        commit(&format!("tag {t}"));
        if t.starts_with('v') {
            repo.tag_annotated(t, &format!("release {t}"));
        } else {
            repo.tag_lightweight(t);
        }
    }
    for b in spec.refs.iter().filter(|r| is_branch(r) && *r != "main") {
        commit(&format!("branch {b}"));
        git(&repo.work, &["branch", "-f", b]);
    }
    commit("main");
    repo.publish(&root.join("bare").join(format!("{}.git", slug_of(url))));
}

fn build_hg(repo: &Path, spec: &GitSpec, rewrites: &mut HashMap<String, String>) {
    let mut files = spec.files.clone();
    no_file_dir_clash(&mut files);
    fs::create_dir_all(repo).unwrap();
    hg(repo, &["init"]);
    let date = ["-d", "1704164645 0"];
    let commit = |label: &str| -> String {
        for (name, data) in file_entries(&files, label) {
            let (name, exec) = match name.strip_prefix("exec:") {
                Some(n) => (n.to_string(), true),
                None => (name, false),
            };
            let p = repo.join(&name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, data).unwrap();
            set_mode(&p, if exec { 0o755 } else { 0o644 });
        }
        hg(repo, &["addremove", "-q"]);
        hg(
            repo,
            &[
                &["commit", "-m", &format!("corpus: {label}")][..],
                &date[..],
            ]
            .concat(),
        );
        hg(repo, &["log", "-r", ".", "-T", "{node}"])
    };
    commit("base");
    for sha in &spec.shas {
        let new = commit(&format!("sha {sha}"));
        rewrites.insert(sha.clone(), new);
    }
    for t in spec.refs.iter().filter(|r| !is_branch(r)) {
        commit(&format!("tag {t}"));
        hg(
            repo,
            &[&["tag", "-m", &format!("tag {t}"), t][..], &date[..]].concat(),
        );
    }
    commit("default");
}

fn archive(name: &str, files: &BTreeSet<String>, label: &str) -> Option<Vec<u8>> {
    let mut files = files.clone();
    no_file_dir_clash(&mut files);
    let entries = file_entries(&files, label);
    let refs = as_refs(&entries);
    if name.ends_with(".zip") {
        Some(zip_of(&refs))
    } else if name.ends_with(".tgz") || name.ends_with(".tar.gz") {
        Some(tar_of(&refs).finish_gz())
    } else if name.ends_with(".tar") {
        Some(tar_of(&refs).finish())
    } else {
        None
    }
}

fn asset_bytes(spec: &ReleaseSpec, slug: &str, tag: &str, name: &str) -> Vec<u8> {
    let label = format!("{slug} {tag}");
    let files = spec.archives.get(name).cloned().unwrap_or_default();
    archive(name, &files, &label)
        .unwrap_or_else(|| format!("asset {name} of {slug} at {tag}\n").into_bytes())
}

fn chart_tgz(dir: &Path, name: &str, version: &str, files: &BTreeSet<String>) -> PathBuf {
    let src = write_chart(dir, name, version, "1.0");
    let mut files = files.clone();
    no_file_dir_clash(&mut files);
    for (f, data) in file_entries(&files, &format!("{name} {version}")) {
        let f = f.strip_prefix("exec:").unwrap_or(&f);
        if f.starts_with(".github") {
            continue;
        }
        let p = src.join(f);
        if p.exists() {
            continue;
        }
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
    }
    let out = dir.join("packages");
    fs::create_dir_all(&out).unwrap();
    run(helm_cmd(&dir.join("helm-home"))
        .arg("package")
        .arg(&src)
        .arg("-d")
        .arg(&out))
    .ok();
    out.join(format!("{name}-{version}.tgz"))
}

impl Standins {
    fn start(plan: Plan) -> Standins {
        let tmp = tempfile::Builder::new()
            .prefix("corpus-src")
            .tempdir()
            .unwrap();
        let root = tmp.path().to_path_buf();
        let mut rw = HashMap::new();
        let mut env = Vec::new();

        // git
        let (mut git_http, mut git_daemon) = (None, None);
        if !plan.git.is_empty() {
            for (url, spec) in &plan.git {
                build_git(&root.join("git"), url, spec, &mut rw);
            }
            let bare = root.join("git/bare");
            let h = GitHttp::start(&bare);
            let d = GitDaemon::start(&bare);
            for (url, spec) in &plan.git {
                let base = if spec.daemon { d.url() } else { h.url() };
                rw.insert(url.clone(), format!("{base}/{}.git", slug_of(url)));
            }
            git_http = Some(h);
            git_daemon = Some(d);
        }

        // hg
        let mut hgs = Vec::new();
        for (url, spec) in &plan.hg {
            let repo = root.join("hg").join(slug_of(url));
            build_hg(&repo, spec, &mut rw);
            let serve = HgServe::start(&repo);
            rw.insert(url.clone(), serve.url());
            hgs.push(serve);
        }

        // static files: http sources, {tag} urls, chart repositories
        let site = root.join("site");
        fs::create_dir_all(&site).unwrap();
        let need_files = !plan.http.is_empty()
            || !plan.helm.is_empty()
            || plan.releases.values().any(|r| !r.tag_urls.is_empty());
        let files_server = need_files.then(|| HttpServer::files(&site));
        let base = files_server.as_ref().map(|f| f.url()).unwrap_or_default();
        for (url, inside) in &plan.http {
            let name = url.rsplit('/').next().unwrap_or("file");
            let data = archive(name, inside, url)
                .unwrap_or_else(|| format!("served at {url}\n").into_bytes());
            let p = site.join(http_path(url));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            for (sum, u) in &plan.http_sha {
                if u == url {
                    rw.insert(sum.clone(), sha256_hex(&data));
                }
            }
            fs::write(&p, data).unwrap();
            rw.insert(url.clone(), format!("{base}/{}", http_path(url)));
        }
        for (i, (url, spec)) in plan.helm.iter().enumerate() {
            let repo = site.join(format!("helm/{i}"));
            fs::create_dir_all(&repo).unwrap();
            let work = root.join(format!("charts/{i}"));
            for (name, versions) in &spec.charts {
                for v in versions {
                    let tgz = chart_tgz(&work, name, v, &spec.files);
                    fs::copy(&tgz, repo.join(tgz.file_name().unwrap())).unwrap();
                }
            }
            run(helm_cmd(&work.join("helm-home"))
                .arg("repo")
                .arg("index")
                .arg(&repo))
            .ok();
            let slash = if url.ends_with('/') { "/" } else { "" };
            rw.insert(url.clone(), format!("{base}/helm/{i}{slash}"));
        }

        // registry: images, bundles, oci charts
        let registry =
            (!plan.images.is_empty() || !plan.oci_charts.is_empty()).then(Registry::start);
        if let Some(reg) = &registry {
            let host = reg.host();
            for (i, (url, spec)) in plan.oci_charts.iter().enumerate() {
                let path = url.trim_start_matches("oci://");
                let path = path.split_once('/').map(|(_, p)| p).unwrap_or("charts");
                let work = root.join(format!("oci-charts/{i}"));
                for (name, versions) in &spec.charts {
                    for v in versions {
                        let tgz = chart_tgz(&work, name, v, &spec.files);
                        run(helm_cmd(&work.join("helm-home"))
                            .arg("push")
                            .arg(&tgz)
                            .arg(format!("oci://{host}/{path}"))
                            .arg("--plain-http"))
                        .ok();
                    }
                }
                rw.insert(url.clone(), format!("oci://{host}/{path}"));
            }
            for (url, (bundle, inside)) in &plan.images {
                let (name, at) = split_image(url);
                let mut files = inside.clone();
                files.insert(".git/config".into());
                files.insert("chart/Chart.yaml".into());
                no_file_dir_clash(&mut files);
                let tag = at.strip_prefix(':').unwrap_or("latest");
                let tag = if tag.starts_with('@') { "latest" } else { tag };
                let reference = format!("{host}/{name}:{tag}");
                let entries = file_entries(&files, &reference);
                let digest = if *bundle {
                    let img = crane_image(
                        &format!("{host}/{name}-image:v1"),
                        &[tar_of(&[("etc/app.conf", b"app\n")]).finish()],
                        None,
                    );
                    push_bundle(
                        &reference,
                        &as_refs(&entries),
                        &[format!("{host}/{name}-image@{img}")],
                    )
                } else {
                    crane_image(&reference, &[tar_of(&as_refs(&entries)).finish()], None)
                };
                let new = if at.starts_with('@') {
                    format!("{host}/{name}@{digest}")
                } else {
                    format!("{host}/{name}{at}")
                };
                rw.insert(url.clone(), new);
            }
        }

        // GitHub releases, reached as api.github.com
        let mut github = None;
        if !plan.releases.is_empty() {
            let gh = FakeGithub::start(None);
            for (slug, spec) in &plan.releases {
                let mut tags: Vec<String> = spec.tags.iter().cloned().collect();
                if spec.semver {
                    tags.extend(SEMVER_TAGS.iter().map(|t| t.to_string()));
                }
                let mut assets = spec.assets.clone();
                assets.extend(["release.yml", "LICENSE", "other.txt"].map(String::from));
                for t in &tags {
                    let mut rel = FakeRelease::new(t);
                    for a in spec.exact.get(t).unwrap_or(&assets) {
                        rel = rel.asset(a, asset_bytes(spec, slug, t, a));
                    }
                    if t.contains('-') {
                        rel = rel.prerelease();
                    }
                    gh.add_release(slug, rel.with_checksums_in_notes());
                    for u in &spec.tag_urls {
                        let p = site.join(http_path(&u.replace("{tag}", t)));
                        fs::create_dir_all(p.parent().unwrap()).unwrap();
                        fs::write(&p, format!("{u} at {t}\n")).unwrap();
                    }
                }
                for u in &spec.tag_urls {
                    rw.insert(u.clone(), format!("{base}/{}", http_path(u)));
                }
            }
            for (sum, (slug, tag, name)) in &plan.checksums {
                let data = asset_bytes(&plan.releases[slug], slug, tag, name);
                rw.insert(sum.clone(), sha256_hex(&data));
            }
            let ca = TestCa::new(&["DNS:api.github.com"]);
            let tls = TlsFront::start(gh.http.addr(), &ca);
            let proxy = ConnectProxy::start(SocketAddr::from(([127, 0, 0, 1], tls.port())));
            env.push(("HTTPS_PROXY".into(), proxy.url()));
            env.push(("SSL_CERT_FILE".into(), ca.ca.display().to_string()));
            github = Some((gh, ca, tls, proxy));
        }

        Standins {
            tmp,
            rewrites: rw,
            env,
            plan,
            _git_http: git_http,
            _git_daemon: git_daemon,
            _hg: hgs,
            _files: files_server,
            _github: github,
            _registry: registry,
        }
    }
}

/// `index.docker.io/a/b@sha256:..` -> ("a/b", "@sha256:.."); `a/b:t` -> ("a/b", ":t").
fn split_image(url: &str) -> (String, String) {
    let (name, at) = match url.find('@') {
        Some(i) => (&url[..i], url[i..].to_string()),
        None => match url.rfind(':').filter(|&i| !url[i..].contains('/')) {
            Some(i) => (&url[..i], url[i..].to_string()),
            None => (url, String::new()),
        },
    };
    let name = match name.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') => rest,
        _ => name,
    };
    (name.to_string(), at)
}

/// The config text with every `key: value` whose value is in `rewrites` replaced.
pub fn rewrite(text: &str, rewrites: &HashMap<String, String>) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut done = false;
        if let Some(i) = line.find(": ") {
            let value = line[i + 2..].trim();
            let bare = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            if let Some(new) = rewrites.get(bare) {
                out.push_str(&format!("{}: \"{new}\"\n", &line[..i]));
                done = true;
            }
        }
        if !done {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Running one file
// ---------------------------------------------------------------------------------------

pub enum Verdict {
    Same,
    /// The deliberate note's outcome happened.
    Deliberate(Accepted),
    Fails(String),
}

pub struct FileRun {
    pub verdict: Verdict,
    /// Kept work dirs (VENDORAS_CORPUS_KEEP).
    pub kept: Option<PathBuf>,
}

fn write_local(root: &Path, rel: &str, manual: bool) {
    let d = root.join(rel);
    let files: &[(&str, &[u8])] = if manual {
        &[("kept.txt", b"kept by hand\n"), ("sub/kept.yml", b"a: 1\n")]
    } else {
        &[
            ("app.yaml", b"kind: App\n"),
            ("values.yaml", b"v: 1\n"),
            ("sub/more.yaml", b"more: 1\n"),
            ("notes.txt", b"notes\n"),
            ("LICENSE", b"license\n"),
            ("NOTICE", b"notice\n"),
            ("Chart.yaml", b"name: local\n"),
        ]
    };
    for (name, data) in files {
        let p = d.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
}

/// A corpus file ready to sync: its stand-ins serving, both work dirs holding
/// the rewritten config and the local files it reads.
struct Prepared {
    standins: Standins,
    pair: Pair,
}

impl Prepared {
    fn new(row: &Row) -> Result<Prepared, String> {
        let text = fs::read_to_string(corpus_dir().join("files").join(&row.file)).unwrap();
        let docs: Vec<Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| format!("not YAML: {e}"))?;
        let config = docs
            .iter()
            .find(|d| s(d, "kind") == Some("Config"))
            .cloned()
            .unwrap_or_default();
        let standins = Standins::start(plan(&config));
        let rewritten = rewrite(&text, &standins.rewrites);
        let mut pair = Pair::new();
        pair.config(&rewritten);
        for (k, v) in &standins.env {
            pair.vendir.env(k, v.clone());
        }
        for (rel, manual) in &standins.plan.local {
            pair.each(|root| write_local(root, rel, *manual));
        }
        Ok(Prepared { standins, pair })
    }

    /// `vendoras sync ARGS`, isolated from the user's git and hg as vendir's
    /// runs are, with the stand-ins' environment.
    fn ours(&self, args: &[&str]) -> Outcome {
        let mut cmd = self.pair.ours.cmd(args);
        isolate_vcs(&mut cmd);
        for (k, v) in &self.standins.env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    }
}

/// Runs one corpus file; `keep` leaves the work dirs and sources on disk.
pub fn run_file(row: &Row, keep: bool) -> FileRun {
    let p = match Prepared::new(row) {
        Ok(p) => p,
        Err(why) => {
            return FileRun {
                verdict: Verdict::Fails(why),
                kept: None,
            }
        }
    };
    let theirs = p.pair.vendir.sync(&[]);
    let ours = p.ours(&[]);
    let (standins, pair) = (&p.standins, &p.pair);
    let verdict = judge(row, pair, &standins.plan, &theirs, &ours);
    let kept = keep.then(|| {
        let dir = pair.vendir._tmp.path().parent().unwrap().join(format!(
            "corpus-{}-{}",
            row.number(),
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, from) in [
            ("vendir", &pair.vendir.dir),
            ("vendoras", &pair.ours.dir),
            ("sources", &standins.tmp.path().to_path_buf()),
        ] {
            run(Command::new("cp").arg("-a").arg(from).arg(dir.join(name))).ok();
        }
        fs::write(dir.join("vendir.out"), format!("{theirs:?}")).unwrap();
        fs::write(dir.join("vendoras.out"), format!("{ours:?}")).unwrap();
        dir
    });
    FileRun { verdict, kept }
}

/// Seconds one corpus file's syncs took: vendir's, and vendoras' cold (an
/// empty cache), warm (again, nothing changed) and `--locked`.
pub struct Timings {
    pub vendir: f64,
    pub cold: f64,
    pub warm: f64,
    pub locked: f64,
}

/// Times one corpus file's syncs, one after another (no other file running);
/// `Err` when a sync fails (the corpus test says why), so only files both
/// tools sync are counted.
pub fn time_file(row: &Row) -> Result<Timings, String> {
    let p = Prepared::new(row)?;
    let timed = |sync: &dyn Fn() -> Outcome, what: &str| {
        let started = std::time::Instant::now();
        let out = sync();
        let secs = started.elapsed().as_secs_f64();
        match out.success() {
            true => Ok(secs),
            false => Err(format!("{what}: {}", first_line(&out))),
        }
    };
    Ok(Timings {
        vendir: timed(&|| p.pair.vendir.sync(&[]), "vendir")?,
        cold: timed(&|| p.ours(&[]), "vendoras cold")?,
        warm: timed(&|| p.ours(&[]), "vendoras warm")?,
        locked: timed(&|| p.ours(&["--locked"]), "vendoras --locked")?,
    })
}

/// A tool's error on one line: from its first line that says "error" to the end
/// (vendir nests the cause below "Syncing directory ..."), truncated.
fn first_line(o: &Outcome) -> String {
    let text = format!("{}\n{}", o.stderr, o.stdout);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim().trim_start_matches('|').trim())
        .filter(|l| !l.is_empty())
        .collect();
    let from = lines
        .iter()
        .position(|l| l.to_lowercase().contains("error") || l.starts_with("panic"))
        .unwrap_or(0);
    let mut p = lines[from.min(lines.len())..].join(" ");
    if p.is_empty() {
        p = "(no output)".into();
    }
    if p.chars().count() > 500 {
        p = p.chars().take(500).collect::<String>() + "…";
    }
    p
}

fn judge(row: &Row, pair: &Pair, plan: &Plan, theirs: &Outcome, ours: &Outcome) -> Verdict {
    let outcome = match (theirs.success(), ours.success()) {
        (true, true) => None,
        (false, false) => Some(Accepted::BothFail),
        (false, true) => Some(Accepted::OnlyVendirFails),
        (true, false) => Some(Accepted::OnlyVendorasFails),
    };
    let errors = format!(
        "vendir: {}\n      vendoras: {}",
        if theirs.success() {
            "ok".into()
        } else {
            first_line(theirs)
        },
        if ours.success() {
            "ok".into()
        } else {
            first_line(ours)
        }
    );
    match (&row.deliberate, outcome) {
        (Some(d), Some(o)) if d.accepted == o => Verdict::Deliberate(o),
        (Some(d), o) => Verdict::Fails(format!(
            "its note says `{}` (docs/differences.md: {}), but {}: the note is stale\n      {errors}",
            d.accepted.phrase(),
            d.section,
            o.map(|o| o.phrase().to_string())
                .unwrap_or_else(|| "both succeed".into()),
        )),
        (None, Some(Accepted::BothFail)) => Verdict::Fails(format!(
            "both tools fail, so the file compares nothing; fix the stand-ins or add a \
             `deliberate: both fail` note\n      {errors}"
        )),
        (None, Some(o)) => Verdict::Fails(format!("{}\n      {errors}", o.phrase())),
        (None, None) => match compare(pair, plan) {
            Ok(()) => Verdict::Same,
            Err(e) => Verdict::Fails(e),
        },
    }
}

/// `.git`/`.hg` reduced to what docs/differences.md ("`git` and `hg`") compares:
/// `.git/HEAD`, `.hg/hgrc` and the work tree.
fn comparable(tree: &Tree) -> Tree {
    tree.iter()
        .filter(|(p, _)| {
            let parts: Vec<&str> = p.split('/').collect();
            match parts.iter().position(|s| *s == ".git" || *s == ".hg") {
                None => true,
                Some(i) => {
                    let rest = &parts[i + 1..];
                    rest.is_empty() || rest == ["HEAD"] || rest == ["hgrc"]
                }
            }
        })
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect()
}

fn modes(root: &Path, tree: &Tree) -> BTreeMap<String, u32> {
    tree.iter()
        .filter(|(_, e)| !matches!(e, Entry::Symlink { .. }))
        .map(|(p, _)| {
            let m = fs::symlink_metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777;
            (p.clone(), m)
        })
        .collect()
}

fn compare(pair: &Pair, plan: &Plan) -> Result<(), String> {
    let strip = |mut t: Tree| {
        t.remove("vendir.yml");
        t.remove("vendir.lock.yml");
        comparable(&t)
    };
    let theirs = strip(tree_snapshot(&pair.vendir.dir));
    let ours = strip(tree_snapshot(&pair.ours.dir));
    let diff = tree_diff("vendir", &theirs, "vendoras", &ours);
    if !diff.is_empty() {
        return Err(format!(
            "trees differ ({} paths), first: {}",
            diff.len(),
            diff[0].trim()
        ));
    }
    // Modes: exact, except what docs/differences.md ("Staging, files and modes")
    // documents: directories 0755 where vendir leaves 0700 (not under
    // `permissions:`), inline files 0644 where vendir writes 0600.
    let (mt, mo) = (
        modes(&pair.vendir.dir, &theirs),
        modes(&pair.ours.dir, &ours),
    );
    for (p, t) in &mt {
        let o = mo[p];
        if *t == o {
            continue;
        }
        let is_dir = matches!(theirs[p], Entry::Dir);
        let documented = if is_dir {
            *t == 0o700 && o == 0o755 && !plan.permission_dirs.contains(p)
        } else {
            *t == 0o600
                && o == 0o644
                && plan
                    .inline_paths
                    .iter()
                    .any(|i| p.starts_with(&format!("{i}/")))
        };
        if !documented {
            return Err(format!(
                "modes differ at {p}: vendir {t:04o}, vendoras {o:04o}"
            ));
        }
    }
    let (lt, lo) = (pair.vendir.lock(), pair.ours.lock());
    if lt != lo {
        let keys = std::panic::catch_unwind(|| lock_diff(&lt, &lo, &[]))
            .unwrap_or_else(|_| vec!["  (a lock is not YAML)".into()]);
        let line = lt
            .lines()
            .zip(lo.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| lt.lines().count().min(lo.lines().count()));
        let show = |s: &str| s.lines().nth(line).unwrap_or("(end of file)").to_string();
        return Err(format!(
            "locks differ from line {}: vendir {:?}, vendoras {:?}{}",
            line + 1,
            show(&lt),
            show(&lo),
            keys.first()
                .map(|k| format!("; first key: {}", k.trim()))
                .unwrap_or_default()
        ));
    }
    // Nothing synced is no comparison.
    let _ = yaml(&lt).map_err(|e| format!("vendir's lock is not YAML: {e}"))?;
    Ok(())
}
