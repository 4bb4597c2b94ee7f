//! `vendoras outdated`: per content with a movable reference, what the
//! config names, what the lock pins, the newest version inside the config's
//! own constraint and the newest overall.
//!
//! Nothing is fetched but listings: registry tags, a chart repository's
//! index, `git ls-remote`, an hg pull into the mirror the sync keeps, the
//! GitHub release list. Lookups run concurrently, and each repository is
//! listed once however many contents name it (`fetch::Memo::listing`).

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering as Atomic};
use std::sync::Arc;

use serde::Serialize;

use crate::cache::Cache;
use crate::config::{
    self, Content, GitRef, Input, LoadOptions, OciLocation, PathRules, ReleaseSelector,
    Source as SourceConfig,
};
use crate::error::{Error, Result};
use crate::fetch::{self, FetchContext, Memo, Progress};
use crate::ffi::Op;
use crate::lock::{LockConfig, LockContent, LockFile};
use crate::reference::split_reference;
use crate::resolve::select_tag;
use crate::semver_range::parse_version;
use crate::workers;

/// Options of `vendoras outdated`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutdatedOptions {
    /// The config documents (`-f`).
    pub inputs: Vec<Input>,
    /// The lock file, relative to `workdir`.
    pub lock_file: PathBuf,
    /// `-d`: only these contents (as `sync -d` names them: a content's
    /// directory path joined with its path, or a directory's path).
    pub only: Vec<String>,
    /// Lookups at once.
    pub jobs: usize,
    /// The working directory.
    pub workdir: PathBuf,
    /// The cache (the hg mirror lives there); `None` = a temporary one.
    pub cache_dir: Option<PathBuf>,
    /// No-progress timeout of each registry transfer.
    pub stall_timeout: Option<std::time::Duration>,
    /// Mirrors, as `sync` uses them.
    pub mirrors: Option<Arc<crate::mirrors::Mirrors>>,
    /// Directory paths may leave the project.
    pub allow_outside_paths: bool,
}

impl OutdatedOptions {
    /// `vendir.lock.yml`, every content, 16 lookups at once, no cache.
    pub fn new(workdir: impl Into<PathBuf>, inputs: Vec<Input>) -> OutdatedOptions {
        OutdatedOptions {
            inputs,
            lock_file: PathBuf::from("vendir.lock.yml"),
            only: Vec::new(),
            jobs: 16,
            workdir: workdir.into(),
            cache_dir: None,
            stall_timeout: None,
            mirrors: None,
            allow_outside_paths: false,
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Row {
    /// The source kind (`ociArtifact`, `git`, ...).
    pub kind: String,
    /// The content, as `sync -d` names it.
    pub path: String,
    /// Its directory's `path`.
    #[serde(skip)]
    pub directory: String,
    /// Its own `path`.
    #[serde(skip)]
    pub content: String,
    /// How the config names the version: `exact` (a tag, ref or version),
    /// `range` (a semver selection), `newest` (`latest: true`, a chart
    /// without version), `branch` (a ref that moves by itself), `pinned`
    /// (a digest, sha or URL).
    pub selection: &'static str,
    /// What the config names: a tag, ref, version, constraint, or URL.
    pub current: String,
    /// What the lock pins for it (a tag or version; a short sha or digest
    /// where there is none); `None` without a lock entry.
    pub locked: Option<String>,
    /// The newest version inside the config's own constraint (the tag
    /// itself for an exact one); `None` for a branch or a pin.
    pub wanted: Option<String>,
    /// The newest version overall (semver order; prereleases only when the
    /// config allows them); `None` when no listed version is semver.
    pub latest: Option<String>,
    /// `latest` is newer than what the content is at, or the lock lags
    /// behind `wanted`.
    pub outdated: bool,
    /// Pinned by URL or digest: nothing to compare (`http`, a digest).
    pub pinned: bool,
    /// Why the lookup failed, when it did.
    pub error: Option<String>,
}

/// How a content names its version.
enum Wants {
    /// An exact tag or version.
    Exact(String),
    /// A semver constraint, and its prerelease rule (see [`select_tag`]).
    Range(String, Option<Vec<String>>),
    /// The newest release (`latest: true`, a helm chart without version).
    Newest,
    /// A branch, or a ref the listing does not name: moves by itself.
    Branch(String),
    /// A digest or URL.
    Pinned(String),
}

/// The rows, in config order. `progress` is told (done, total) after each
/// lookup.
pub fn outdated(
    opts: &OutdatedOptions,
    op: &Arc<Op>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<Row>> {
    let load = LoadOptions {
        paths: PathRules::discover(&opts.workdir, opts.allow_outside_paths),
        strict: false,
    };
    let loaded = config::load(&opts.inputs, &load).map_err(Error::from)?;
    let lock = match LockConfig::load(&opts.workdir.join(&opts.lock_file))? {
        LockFile::Valid(l) => Some(l),
        _ => None,
    };
    let mut items: Vec<(String, &str, &Content)> = Vec::new();
    for dir in &loaded.config.directories {
        for content in &dir.contents {
            let id = if content.path.is_root() {
                dir.path.clone()
            } else {
                format!("{}/{}", dir.path, content.path)
            };
            let chosen =
                opts.only.is_empty() || opts.only.iter().any(|o| *o == id || *o == dir.path);
            let movable = !matches!(
                content.source,
                SourceConfig::Manual | SourceConfig::Directory { .. } | SourceConfig::Inline(_)
            );
            if chosen && movable {
                items.push((id, &dir.path, content));
            }
        }
    }
    for o in &opts.only {
        let known = loaded.config.directories.iter().any(|d| {
            d.path == *o
                || d.contents.iter().any(|c| {
                    format!("{}/{}", d.path, c.path) == *o || (c.path.is_root() && d.path == *o)
                })
        });
        if !known {
            return Err(Error::setting(
                "-d",
                Some(o),
                "no content or directory of that path in the config",
            ));
        }
    }
    let temp_cache;
    let cache_dir = match &opts.cache_dir {
        Some(d) => d.clone(),
        None => {
            temp_cache = tempfile::Builder::new()
                .prefix("vendoras-outdated")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            temp_cache.path().to_path_buf()
        }
    };
    let cache = Cache::new(&cache_dir);
    let memo = Memo::default();
    let silent = |_: Progress| {};
    let ctx = FetchContext {
        op,
        cache: Some(&cache),
        loaded: &loaded,
        workdir: &opts.workdir,
        pinned: None,
        limits: crate::extract::Limits::default(),
        stall_timeout: opts.stall_timeout,
        mirrors: opts.mirrors.as_ref(),
        memo: &memo,
        keeps: None,
        progress: &silent,
    };
    let done = AtomicUsize::new(0);
    let total = items.len();
    progress(0, total);
    let rows = workers::run(opts.jobs.max(1), &items, |(id, dir, content)| {
        let entry = lock
            .as_ref()
            .and_then(|l| l.content(dir, &content.path.to_string()));
        let row = row(&ctx, (id, dir), content, entry);
        if op.is_cancelled() {
            return Err(Error::Cancelled);
        }
        progress(done.fetch_add(1, Atomic::SeqCst) + 1, total);
        Ok(row)
    })?;
    Ok(rows)
}

fn row(
    ctx: &FetchContext<'_>,
    (id, dir): (&str, &str),
    content: &Content,
    entry: Option<&LockContent>,
) -> Row {
    let wants = wants(content);
    let locked = entry.and_then(|e| locked_text(e, &wants));
    let current = match &wants {
        Wants::Exact(t) | Wants::Branch(t) | Wants::Pinned(t) => t.clone(),
        Wants::Range(c, _) => c.clone(),
        Wants::Newest => "latest".to_string(),
    };
    let mut row = Row {
        kind: content.source_kind().to_string(),
        path: id.to_string(),
        directory: dir.to_string(),
        content: content.path.to_string(),
        selection: match wants {
            Wants::Exact(_) => "exact",
            Wants::Range(..) => "range",
            Wants::Newest => "newest",
            Wants::Branch(_) => "branch",
            Wants::Pinned(_) => "pinned",
        },
        current,
        locked,
        wanted: None,
        latest: None,
        outdated: false,
        pinned: matches!(wants, Wants::Pinned(_)),
        error: None,
    };
    if row.pinned {
        return row;
    }
    let versions = match fetch::source_for(content).versions(ctx) {
        Ok(Some(v)) => v,
        Ok(None) => {
            row.pinned = true;
            return row;
        }
        Err(e) => {
            row.error = Some(e.to_string());
            return row;
        }
    };
    let pre = match &wants {
        Wants::Range(_, pre) => pre.clone(),
        _ => None,
    };
    row.latest = select_tag(&versions, ">=0.0.0", pre.as_deref()).ok();
    row.wanted = match &wants {
        Wants::Exact(t) => Some(t.clone()),
        Wants::Range(c, pre) => select_tag(&versions, c, pre.as_deref()).ok(),
        Wants::Newest => row.latest.clone(),
        Wants::Branch(_) | Wants::Pinned(_) => None,
    };
    // Where the content is: its exact tag, else what the lock pins.
    let at = match &wants {
        Wants::Exact(t) => Some(t.clone()),
        _ => row.locked.clone(),
    };
    row.outdated = newer(row.latest.as_deref(), at.as_deref())
        || newer(row.wanted.as_deref(), row.locked.as_deref());
    row
}

/// `a` is a semver version above `b`.
fn newer(a: Option<&str>, b: Option<&str>) -> bool {
    match (a.and_then(parse_version), b.and_then(parse_version)) {
        (Some(a), Some(b)) => a.cmp(&b) == Ordering::Greater,
        _ => false,
    }
}

fn wants(content: &Content) -> Wants {
    let range =
        |s: &config::Semver| Wants::Range(s.constraints.clone(), s.prerelease_identifiers.clone());
    let written = |reference: &str, sel: &Option<config::TagSelection>| match sel {
        Some(sel) => range(&sel.semver),
        None => {
            let w = split_reference(reference);
            match (w.digest, w.tag) {
                (Some(d), _) => Wants::Pinned(d),
                (None, Some(t)) => Wants::Exact(t),
                (None, None) => Wants::Exact("latest".into()),
            }
        }
    };
    match &content.source {
        SourceConfig::OciArtifact(o) => match (&o.tag_selection, &o.location) {
            (Some(sel), _) => range(&sel.semver),
            (None, OciLocation::Image(image)) => match &o.tag {
                Some(t) => Wants::Exact(t.clone()),
                None => written(image, &None),
            },
            (None, OciLocation::Layout(layout)) => match &o.tag {
                Some(t) => Wants::Exact(t.clone()),
                None => Wants::Pinned(layout.clone()),
            },
        },
        SourceConfig::Image(i) => written(&i.reference, &i.tag_selection),
        SourceConfig::ImgpkgBundle(b) => written(&b.image.reference, &b.image.tag_selection),
        SourceConfig::HelmChart(h) => match &h.version {
            None => Wants::Newest,
            Some(v) if parse_version(v).is_some() => Wants::Exact(v.clone()),
            Some(v) => Wants::Range(v.clone(), None),
        },
        SourceConfig::GithubRelease(g) => match &g.release {
            ReleaseSelector::Tag(t) => Wants::Exact(t.clone()),
            ReleaseSelector::Latest => Wants::Newest,
            ReleaseSelector::TagSelection(s) => range(s),
            ReleaseSelector::Url(u) => Wants::Pinned(u.clone()),
        },
        SourceConfig::Git(g) => match &g.reference {
            GitRef::Semver {
                constraints,
                prerelease_identifiers,
            } => Wants::Range(constraints.clone(), prerelease_identifiers.clone()),
            GitRef::Named(r) => {
                let r = r.strip_prefix("refs/tags/").unwrap_or(r);
                if r.len() >= 7 && r.len() <= 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Wants::Pinned(r.to_string())
                } else if parse_version(r).is_some() {
                    Wants::Exact(r.to_string())
                } else {
                    Wants::Branch(r.to_string())
                }
            }
        },
        SourceConfig::Hg(h) => {
            let r = &h.reference;
            if r.len() >= 12 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
                Wants::Pinned(r.clone())
            } else if parse_version(r).is_some() {
                Wants::Exact(r.clone())
            } else {
                Wants::Branch(r.clone())
            }
        }
        SourceConfig::Http(h) => Wants::Pinned(crate::redact::redact_url(&h.url)),
        _ => Wants::Pinned(String::new()),
    }
}

/// What the lock entry pins, in the terms of the config: a tag or version
/// when it records one, else a short sha or digest.
fn locked_text(e: &LockContent, wants: &Wants) -> Option<String> {
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let digest = |url: &str| url.rsplit_once('@').map(|(_, d)| d.to_string());
    if let Some(o) = &e.oci_artifact {
        return o.tag.clone().or_else(|| digest(&o.url));
    }
    if let Some(i) = &e.image {
        return i.tag.clone().or_else(|| digest(&i.url));
    }
    if let Some(b) = &e.imgpkg_bundle {
        return b.tag.clone().or_else(|| digest(&b.image));
    }
    if let Some(h) = &e.helm_chart {
        return Some(h.version.clone());
    }
    if let Some(r) = &e.github_release {
        return Some(r.tag.clone());
    }
    if let Some(g) = &e.git {
        // `git describe --tags`: a tag when the commit is exactly at one.
        let exact = g.tags.first().filter(|t| parse_version(t).is_some());
        return Some(match (exact, wants) {
            (Some(t), Wants::Exact(_) | Wants::Range(..)) => t.clone(),
            _ => short(&g.sha),
        });
    }
    if let Some(h) = &e.hg {
        return Some(match wants {
            Wants::Exact(t) => t.clone(),
            _ => short(&h.sha),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_is_semver_order_and_false_for_non_versions() {
        assert!(newer(Some("v1.10.0"), Some("1.9.0")));
        assert!(!newer(Some("1.9.0"), Some("v1.10.0")));
        assert!(!newer(Some("latest"), Some("1.0.0")));
        assert!(!newer(Some("1.0.0"), None));
        assert!(newer(Some("2.0.0"), Some("2.0.0-rc.1")));
    }
}
