//! Sources: each turns one content's config into files plus a lock entry.
//!
//! The seam is [`Source`]: the staging and commit code never knows which
//! source it is handling (as in vendir's `pkg/vendir/fetch/<source>`).
//! `ociArtifact` is the headline source; `manual`, `directory` and `inline`
//! let a real vendir.yml mix local content with artifacts.

mod git;
mod github;
pub(crate) mod helm;
mod hg;
mod http;
pub mod image;
mod imgpkg;
mod local;
mod oci;
mod signature;
mod vcs;

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;

use crate::cache::Cache;
use crate::config::{Content, Loaded, Source as SourceConfig};
use crate::error::Result;
use crate::extract::{Limits, Root};
use crate::ffi::Op;
use crate::lock::LockContent;
use crate::oci::{Descriptor, Manifest};
use crate::registry::Repository;

/// One repository's listing, filled by the first asker.
type ListingSlot = Arc<Mutex<Option<Vec<String>>>>;

/// What one sync learns once and reuses: repositories opened (so their
/// connections and tokens are shared between the probe and the fetch) and
/// manifests resolved while probing (so the fetch does not ask again).
/// Manifests are keyed by `registry/repository@digest`: content-addressed,
/// never stale.
#[derive(Debug, Default)]
pub struct Memo {
    manifests: Mutex<HashMap<String, (Descriptor, Option<Manifest>)>>,
    repositories: Mutex<HashMap<String, Repository>>,
    /// Chart repository indexes read (`helmChart`).
    helm_indexes: helm::IndexMemo,
    /// Small documents fetched by URL (GitHub release JSON), so the fetch
    /// reuses what the probe read.
    documents: Mutex<HashMap<String, Vec<u8>>>,
    listings: Mutex<HashMap<String, ListingSlot>>,
    /// Registries (`host[:port]`) that answered a TLS attempt in plain
    /// HTTP (`image`, `imgpkgBundle`).
    plain_http: Mutex<HashSet<String>>,
}

impl Memo {
    /// Remembers a resolved (and verified) manifest, and its document when
    /// it was fetched.
    pub fn put_manifest(&self, key: String, desc: Descriptor, manifest: Option<Manifest>) {
        self.manifests.lock().unwrap().insert(key, (desc, manifest));
    }

    /// A manifest remembered under `key`.
    pub fn manifest(&self, key: &str) -> Option<(Descriptor, Option<Manifest>)> {
        self.manifests.lock().unwrap().get(key).cloned()
    }

    /// Remembers a document fetched from `url`.
    pub fn put_document(&self, url: String, bytes: Vec<u8>) {
        self.documents.lock().unwrap().insert(url, bytes);
    }

    /// Remembers that `registry` answered in plain HTTP where TLS was tried.
    pub fn put_plain_http(&self, registry: &str) {
        self.plain_http.lock().unwrap().insert(registry.to_string());
    }

    /// Whether `registry` answered in plain HTTP earlier in this sync.
    pub fn plain_http(&self, registry: &str) -> bool {
        self.plain_http.lock().unwrap().contains(registry)
    }

    /// A document remembered for `url`.
    pub fn document(&self, url: &str) -> Option<Vec<u8>> {
        self.documents.lock().unwrap().get(url).cloned()
    }

    /// The versions under `key` (a repository, an index, a remote), listed
    /// by `list` once however many contents, and threads, ask: a second
    /// asker waits for the first's answer. A failure is not kept.
    pub fn listing(
        &self,
        key: &str,
        list: impl FnOnce() -> Result<Vec<String>>,
    ) -> Result<Vec<String>> {
        let slot = Arc::clone(
            self.listings
                .lock()
                .unwrap()
                .entry(key.to_string())
                .or_default(),
        );
        let mut slot = slot.lock().unwrap();
        if let Some(v) = &*slot {
            return Ok(v.clone());
        }
        let v = list()?;
        *slot = Some(v.clone());
        Ok(v)
    }

    /// The repository opened under `key`, if one was.
    pub fn cached_repository(&self, key: &str) -> Option<Repository> {
        self.repositories.lock().unwrap().get(key).cloned()
    }

    /// The repository opened under `key` (which must capture everything
    /// that configures it), opening it on first use.
    pub fn repository(
        &self,
        key: &str,
        open: impl FnOnce() -> Result<Repository>,
    ) -> Result<Repository> {
        if let Some(r) = self.repositories.lock().unwrap().get(key) {
            return Ok(r.clone());
        }
        let repo = open()?;
        self.repositories
            .lock()
            .unwrap()
            .insert(key.to_string(), repo.clone());
        Ok(repo)
    }
}

/// What a source needs besides its own config.
#[derive(Clone, Copy)]
pub struct FetchContext<'a> {
    /// Cancels registry I/O (Ctrl-C).
    pub op: &'a Arc<Op>,
    /// Blob cache, if enabled.
    pub cache: Option<&'a Cache>,
    /// Secrets and config maps from the input documents.
    pub loaded: &'a Loaded,
    /// The working directory (relative paths in the config start here).
    pub workdir: &'a Path,
    /// The entry this content must reproduce exactly: the lock's with
    /// `--locked`, or what [`Source::probe`] resolved earlier in this sync
    /// (so a tag is resolved once, and what was verified is what is pulled).
    pub pinned: Option<&'a LockContent>,
    /// Extraction limits.
    pub limits: Limits,
    /// No-progress timeout of registry transfers; `None` = the default.
    pub stall_timeout: Option<std::time::Duration>,
    /// Where to reach registries and URLs instead of (or before) their
    /// origin; `None` = no mirrors.
    pub mirrors: Option<&'a Arc<crate::mirrors::Mirrors>>,
    /// Manifests this sync already fetched.
    pub memo: &'a Memo,
    /// What the content keeps of the fetched tree, when a fetcher may fetch
    /// only that (git's partial clone); `None` = everything.
    pub keeps: Option<&'a crate::filter::ContentPaths>,
    /// Told how many bytes to expect, then how many arrived.
    pub progress: &'a (dyn Fn(Progress) + Sync),
}

/// Progress of one content's fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The total bytes of the layers to read (known once the manifest is).
    Expect(u64),
    /// More bytes were read (from the registry or the cache).
    Received(u64),
}

/// A reader that tells the progress callback how many bytes passed.
pub(crate) struct Counting<'a, R> {
    pub(crate) inner: R,
    pub(crate) progress: &'a (dyn Fn(Progress) + Sync),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(Progress::Received(n as u64));
        Ok(n)
    }
}

/// What a source fetched.
#[derive(Debug, Default)]
pub struct Fetched {
    /// The lock entry (its `path` is filled in by the caller).
    pub lock: LockContent,
    /// Bytes downloaded or read.
    pub bytes: u64,
    /// Files and links written, when the source counted them.
    pub files: Option<u64>,
    /// Warnings to show (skipped entries, untitled layers, ...).
    pub warnings: Vec<String>,
    /// One line saying what was fetched (`ghcr.io/x@sha256:…`), for output.
    pub summary: String,
    /// Signatures verified while fetching (an imgpkg bundle's listed
    /// images, with `cosign.images`), besides the probe's.
    pub verified: Vec<crate::verify::Verified>,
}

/// What [`Source::probe`] resolved.
#[derive(Debug, Clone)]
pub struct Probed {
    /// The lock entry a fetch will reproduce.
    pub lock: LockContent,
    /// Something to tell the user (what verified the signature).
    pub note: Option<String>,
    /// The signatures that verified (`cosign:`), for `sync --json`.
    pub verified: Vec<crate::verify::Verified>,
}

/// A content source.
pub trait Source {
    /// Resolves what `fetch` would pull, without fetching it: the lock
    /// entry, or `None` when only a full fetch can tell (local sources).
    fn probe(&self, ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        let _ = ctx;
        Ok(None)
    }

    /// Writes the content's files beneath `dest` (an empty directory).
    /// Every version this source's reference could move to (tags, chart
    /// versions, release tags), for `vendoras outdated`; listed once per
    /// repository through [`Memo::listing`]. `None` for a source that
    /// names no version (http, local ones).
    fn versions(&self, ctx: &FetchContext<'_>) -> Result<Option<Vec<String>>> {
        let _ = ctx;
        Ok(None)
    }

    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched>;
}

/// `ctx` pinned to what `source` resolves, when the caller pinned nothing:
/// a registry source fetches exactly the digest it would lock (and, with
/// `cosign:`, the one it verified). `slot` holds that entry for the
/// returned context.
pub(crate) fn pinned<'a>(
    source: &(impl Source + ?Sized),
    ctx: &FetchContext<'a>,
    slot: &'a mut Option<LockContent>,
) -> Result<FetchContext<'a>> {
    if ctx.pinned.is_some() {
        return Ok(*ctx);
    }
    *slot = source.probe(ctx)?.map(|p| p.lock);
    let slot: &'a Option<LockContent> = slot;
    Ok(FetchContext {
        pinned: slot.as_ref(),
        ..*ctx
    })
}

/// The source for a content. A content's `permissions` is the mode of every
/// file only for `ociArtifact` (vendoras's own kind); for vendir's kinds it is
/// the mode of the content's path, which sync sets as vendir does (`chmod` of
/// the content directory, files keep theirs), so their sources do not take it.
pub fn source_for(content: &Content) -> Box<dyn Source + '_> {
    match &content.source {
        SourceConfig::OciArtifact(cfg) => Box::new(oci::OciSource {
            cfg,
            permissions: content.permissions,
        }),
        SourceConfig::Manual => Box::new(local::Manual),
        SourceConfig::Directory { path } => Box::new(local::Directory {
            path,
            overlays: &[],
        }),
        SourceConfig::Inline(cfg) => Box::new(local::Inline { cfg }),
        SourceConfig::HelmChart(cfg) => Box::new(helm::HelmSource { cfg }),
        SourceConfig::Http(cfg) => Box::new(http::HttpSource { cfg }),
        SourceConfig::GithubRelease(cfg) => Box::new(github::GithubSource { cfg }),
        SourceConfig::Git(cfg) => Box::new(git::GitSource { cfg }),
        SourceConfig::Hg(cfg) => Box::new(hg::HgSource { cfg }),
        SourceConfig::Image(cfg) => Box::new(image::ImageSource {
            cfg,
            kind: image::Kind::Image,
        }),
        SourceConfig::ImgpkgBundle(b) => Box::new(image::ImageSource {
            cfg: &b.image,
            kind: image::Kind::Bundle(b),
        }),
    }
}

/// A `directory` source for a local path (`sync -d path=local-dir`, or a
/// path this sync staged). `overlays` are subtrees of `path` to read from
/// elsewhere (what this sync already staged for them).
pub fn directory_source<'a>(
    path: &'a str,
    overlays: &'a [(crate::extract::RelPath, std::path::PathBuf)],
) -> Box<dyn Source + 'a> {
    Box::new(local::Directory { path, overlays })
}

/// `gh attestation verify FILE --repo SLUG` for a local file already hashed
/// (`digest`): its GitHub artifact attestations, listed by the API
/// (`GITHUB_API_URL`, token from `VENDIR_GITHUB_API_TOKEN` or
/// `GITHUB_TOKEN`), checked by the rule `githubRelease` contents use.
pub(crate) fn verify_attestations(
    op: &Arc<Op>,
    subject: &str,
    digest: &crate::digest::Digest,
    slug: &str,
    predicate: Option<&str>,
    policy: &crate::verify::Policy,
) -> Result<crate::verify::Verified> {
    let options = crate::http::HttpOptions {
        auth: github::env_token().map(|t| crate::http::HttpAuth::Header(format!("Bearer {t}"))),
        headers: vec![("Accept".into(), "application/vnd.github+json".into())],
        ..Default::default()
    };
    let url = github::attestations_url(slug, digest);
    signature::attestations(op, policy, predicate, subject, digest, &url, &options)
}
