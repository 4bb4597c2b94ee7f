//! The `githubRelease` source (vendir `fetch/githubrelease`): probe asks the
//! release API once (tag, latest, a tag chosen by semver, or a URL as given)
//! and pins the release's own API `url` and `tag`; fetch reads that pinned
//! release and downloads its selected assets (or the nested `http` source,
//! `{tag}` replaced), checking size and sha256 (from `checksums`, else
//! from the release notes), then unpacks `unpackArchive` if asked.
//!
//! The API base is `GITHUB_API_URL` when set (GitHub Enterprise, tests),
//! else `https://api.github.com`; vendir has the public API built in. The
//! token is the Secret's `token`, else `VENDIR_GITHUB_API_TOKEN`, else
//! `GITHUB_TOKEN` (vendir reads only the first two). All requests go
//! through the shim's transport, which never sends the token to another
//! host on a redirect (asset downloads redirect to a storage host).

use std::collections::BTreeMap;
use std::fs::File;

use serde::Deserialize;

use super::http::{cached_body, download, fetch_http, place_file, secret, unpack, BlobCosign};
use super::signature::{check_attestations, check_blob, BundleAt};
use super::{FetchContext, Fetched, Probed, Source};
use crate::config::{GithubRelease, ReleaseSelector};
use crate::digest::Digest;
use crate::error::{Error, HttpError, Result};
use crate::extract::download::{sniff, Kind};
use crate::extract::Root;
use crate::filter::IgnoreMatcher;
use crate::http::{HttpAuth, HttpClient, HttpOptions, Response};
use crate::lock::{LockContent, LockGithubRelease};
use crate::resolve::select_tag;

/// The environment variable that overrides the API base.
pub const GITHUB_API_URL_ENV: &str = "GITHUB_API_URL";

/// Assets of one release downloaded at once.
const ASSET_WORKERS: usize = 4;

/// Release documents are small; a larger answer is refused.
const MAX_API_BODY: u64 = 16 << 20;

pub(super) struct GithubSource<'a> {
    pub cfg: &'a GithubRelease,
}

/// The fields of a release vendir reads.
#[derive(Debug, Clone, Deserialize)]
struct Release {
    url: String,
    tag_name: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    assets: Vec<Asset>,
}

#[derive(Debug, Clone, Deserialize)]
struct Asset {
    url: String,
    name: String,
    size: u64,
}

/// The API base: `GITHUB_API_URL`, else the public API.
pub(crate) fn api_base() -> String {
    match std::env::var(GITHUB_API_URL_ENV) {
        Ok(v) if !v.trim().is_empty() => v.trim().trim_end_matches('/').to_string(),
        _ => "https://api.github.com".into(),
    }
}

/// `VENDIR_GITHUB_API_TOKEN`, else `GITHUB_TOKEN`.
pub(crate) fn env_token() -> Option<String> {
    ["VENDIR_GITHUB_API_TOKEN", "GITHUB_TOKEN"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// Where the attestations of the file with sha256 `digest` are listed, for
/// the repository `slug` (`owner/repo`).
pub(crate) fn attestations_url(slug: &str, digest: &Digest) -> String {
    format!(
        "{}/repos/{slug}/attestations/sha256:{}",
        api_base(),
        digest.hex()
    )
}

impl GithubSource<'_> {
    /// The secret's `token`, then `VENDIR_GITHUB_API_TOKEN`, then `GITHUB_TOKEN`.
    fn token(&self, ctx: &FetchContext<'_>) -> Result<Option<String>> {
        if let Some(r) = &self.cfg.secret_ref {
            let s = secret(ctx, &r.name, "githubRelease.secretRef")?;
            if let Some(t) = s.data.get("token") {
                return Ok(Some(String::from_utf8_lossy(t).into_owned()));
            }
        }
        Ok(env_token())
    }

    fn options(&self, ctx: &FetchContext<'_>, scheme: &str, accept: &str) -> Result<HttpOptions> {
        Ok(HttpOptions {
            auth: self
                .token(ctx)?
                .map(|t| HttpAuth::Header(format!("{scheme} {t}"))),
            headers: vec![("Accept".into(), accept.into())],
            stall_timeout: ctx.stall_timeout,
            max_size: MAX_API_BODY,
            ..HttpOptions::default()
        })
    }

    /// GETs an API document; a non-200 answer is an error in vendir's words.
    /// The answer is the body and the `Link` header. With `conditional` and
    /// a cache, a document cached with its validators is asked for with
    /// them, and reused on `304 Not Modified`; a `200` replaces it.
    fn api_get(
        &self,
        ctx: &FetchContext<'_>,
        url: &str,
        scheme: &str,
        conditional: bool,
    ) -> Result<(Vec<u8>, Option<String>)> {
        let op = std::sync::Arc::clone(ctx.op);
        let mut options = self.options(ctx, scheme, "application/vnd.github+json")?;
        let cache = ctx.cache.filter(|_| conditional);
        let stored = cache.and_then(|c| cached_body(c, url));
        if let Some((v, _, _)) = &stored {
            options.headers.extend(v.headers());
        }
        let resp = HttpClient::from_env().get(&op, url, &options)?;
        if let (304, Some((_, mut file, _))) = (resp.status, stored) {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes)
                .map_err(|e| Error::io("cached release document", e))?;
            return Ok((bytes, resp.header("link").map(str::to_string)));
        }
        if resp.status != 200 {
            let mut err = api_status_error(&resp, true);
            let body = resp.text_prefix(4096);
            if let Error::Http(h) = &mut err {
                if !body.trim().is_empty() {
                    h.detail.push_str(&format!(" (body: '{}')", body.trim()));
                }
            }
            return Err(err);
        }
        let link = resp.header("link").map(str::to_string);
        let etag = resp.header("etag").map(str::to_string);
        let last_modified = resp.header("last-modified").map(str::to_string);
        let bytes = resp.bytes()?;
        if let Some(cache) = cache {
            cache.record_validators(url, etag, last_modified, |c| c.put_bytes(&bytes));
        }
        Ok((bytes, link))
    }

    fn release_at(&self, ctx: &FetchContext<'_>, url: &str) -> Result<Release> {
        if let Some(doc) = ctx.memo.document(url) {
            if let Ok(r) = serde_json::from_slice(&doc) {
                return Ok(r);
            }
        }
        let (bytes, _) = self
            .api_get(ctx, url, "token", true)
            .map_err(|e| with_context(e, "release details"))?;
        let release: Release = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Http(Box::new(HttpError {
                url: crate::redact::redact_url(url),
                status: Some(200),
                code: None,
                detail: format!("not a GitHub release document: {e}"),
            }))
        })?;
        ctx.memo.put_document(url.to_string(), bytes.clone());
        // The fetch asks by the release's own url (the lock's): remember it
        // under that name too, so one sync asks the API once per release.
        ctx.memo.put_document(release.url.clone(), bytes);
        Ok(release)
    }

    /// The API URL of the release the config names.
    fn release_url(&self, ctx: &FetchContext<'_>) -> Result<String> {
        let base = format!("{}/repos/{}/releases", api_base(), self.cfg.slug);
        Ok(match &self.cfg.release {
            ReleaseSelector::Url(u) => u.clone(),
            ReleaseSelector::Tag(t) => format!("{base}/tags/{t}"),
            ReleaseSelector::Latest => format!("{base}/latest"),
            ReleaseSelector::TagSelection(semver) => {
                let tags = self.list_tags(ctx)?;
                let tag = select_tag(
                    &tags,
                    &semver.constraints,
                    semver.prerelease_identifiers.as_deref(),
                )?;
                format!("{base}/tags/{tag}")
            }
        })
    }

    /// The tags of the repository's published releases (drafts and
    /// releases marked prerelease left out), 100 a page.
    fn list_releases(&self, ctx: &FetchContext<'_>) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Listed {
            tag_name: String,
            #[serde(default)]
            draft: bool,
            #[serde(default)]
            prerelease: bool,
        }
        let url = format!(
            "{}/repos/{}/releases?per_page=100",
            api_base(),
            self.cfg.slug
        );
        let listed: Vec<Listed> = self.list_pages(ctx, url, "release")?;
        Ok(listed
            .into_iter()
            .filter(|r| !r.draft && !r.prerelease)
            .map(|r| r.tag_name)
            .collect())
    }

    /// Every tag, 40 a page, following `Link: rel="next"` (as go-github).
    fn list_tags(&self, ctx: &FetchContext<'_>) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tag {
            name: String,
        }
        let url = format!("{}/repos/{}/tags?per_page=40", api_base(), self.cfg.slug);
        let tags: Vec<Tag> = self.list_pages(ctx, url, "tag")?;
        Ok(tags.into_iter().map(|t| t.name).collect())
    }

    /// Every item of a paged API list (`what`: "release", "tag"), following
    /// `Link: rel="next"`, at most 1000 pages.
    fn list_pages<T: serde::de::DeserializeOwned>(
        &self,
        ctx: &FetchContext<'_>,
        first: String,
        what: &str,
    ) -> Result<Vec<T>> {
        let mut url = Some(first);
        let mut items = Vec::new();
        let mut pages = 0;
        while let Some(u) = url.take() {
            pages += 1;
            if pages > 1000 {
                return Err(Error::Internal(format!("more than 1000 pages of {what}s")));
            }
            let (bytes, link) = self
                .api_get(ctx, &u, "Bearer", false)
                .map_err(|e| with_context(e, &format!("{what} list")))?;
            let page: Vec<T> = serde_json::from_slice(&bytes).map_err(|e| {
                Error::Http(Box::new(HttpError {
                    url: crate::redact::redact_url(&u),
                    status: Some(200),
                    code: None,
                    detail: format!("not a GitHub {what} list: {e}"),
                }))
            })?;
            items.extend(page);
            url = link.as_deref().and_then(next_link);
        }
        Ok(items)
    }

    /// The checksum each selected asset must have, by name.
    fn checksums(&self, release: &Release, assets: &[&Asset]) -> Result<BTreeMap<String, String>> {
        let cfg = self.cfg;
        if !cfg.checksums.is_empty() {
            // vendir panics on a selected asset missing from `checksums`.
            if let Some(a) = assets.iter().find(|a| !cfg.checksums.contains_key(&a.name)) {
                return Err(Error::setting(
                    "githubRelease.checksums",
                    None,
                    format!("has no checksum for the selected asset '{}'", a.name),
                ));
            }
            return Ok(cfg.checksums.clone());
        }
        if cfg.disable_auto_checksum_validation {
            return Ok(BTreeMap::new());
        }
        let notes = release.body.as_deref().unwrap_or("");
        let mut found = BTreeMap::new();
        for a in assets {
            match notes.split('\n').find_map(|l| checksum_line(l, &a.name)) {
                Some(sum) => {
                    found.insert(a.name.clone(), sum.to_string());
                }
                None => {
                    return Err(Error::setting(
                        "githubRelease.disableAutoChecksumValidation",
                        None,
                        format!(
                            "Finding checksums in release notes: Expected to find sha256 checksum \
                             for file '{}' (add it to `checksums`, or set \
                             `disableAutoChecksumValidation: true`)",
                            a.name
                        ),
                    ))
                }
            }
        }
        Ok(found)
    }
}

impl Source for GithubSource<'_> {
    fn versions(&self, ctx: &FetchContext<'_>) -> Result<Option<Vec<String>>> {
        ctx.memo
            .listing(&format!("github {}", self.cfg.slug), || {
                self.list_releases(ctx)
            })
            .map(Some)
    }

    /// One API call (plus the tag list for `tagSelection`) pins the release.
    /// With `--locked` the lock's entry is the pin and nothing is asked.
    fn probe(&self, ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        if let Some(pinned) = ctx.pinned.and_then(|p| p.github_release.as_ref()) {
            return Ok(Some(Probed {
                lock: entry(pinned.url.clone(), pinned.tag.clone()),
                note: None,
                verified: Vec::new(),
            }));
        }
        let url = self.release_url(ctx)?;
        let release = self.release_at(ctx, &url)?;
        Ok(Some(Probed {
            lock: entry(release.url, release.tag_name),
            note: None,
            verified: Vec::new(),
        }))
    }

    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        let cfg = self.cfg;
        let release = match ctx.pinned.and_then(|p| p.github_release.as_ref()) {
            Some(pinned) => {
                let r = self.release_at(ctx, &pinned.url)?;
                if r.tag_name != pinned.tag {
                    return Err(Error::Lock {
                        file: None,
                        line: None,
                        message: format!(
                            "githubRelease {}: the locked release {} now has tag '{}', not '{}'",
                            cfg.slug, pinned.url, r.tag_name, pinned.tag
                        ),
                    });
                }
                r
            }
            None => {
                let url = self.release_url(ctx)?;
                self.release_at(ctx, &url)?
            }
        };
        let lock = entry(release.url.clone(), release.tag_name.clone());
        let summary = format!("{}@{}", cfg.slug, release.tag_name);

        if let Some(http) = &cfg.http {
            let url = http.url.replace("{tag}", &release.tag_name);
            let verify = cfg.cosign.as_ref().map(|c| BlobCosign {
                cosign: c,
                key: "githubRelease.cosign",
                bundle_url: c
                    .bundle_url
                    .as_ref()
                    .map(|u| u.replace("{tag}", &release.tag_name)),
            });
            let (files, bytes, warnings, verified) = fetch_http(ctx, http, &url, dest, verify)?;
            return Ok(Fetched {
                lock,
                bytes,
                files: Some(files),
                warnings,
                summary,
                verified: verified.into_iter().collect(),
            });
        }

        let matcher = IgnoreMatcher::new(&cfg.asset_names)
            .map_err(|e| Error::setting("githubRelease.assetNames", None, e))?;
        let assets: Vec<&Asset> = release
            .assets
            .iter()
            .filter(|a| cfg.asset_names.is_empty() || matcher.is_ignored(&a.name))
            .collect();
        let sums = self.checksums(&release, &assets)?;
        let options = self.options(ctx, "token", "application/octet-stream")?;
        // With `cosign:`, every selected asset must verify except the
        // bundles themselves (an asset some release asset's bundle names).
        let bundle_names: Vec<String> = match &cfg.cosign {
            Some(c) if c.github_attestations => Vec::new(),
            Some(c) => release
                .assets
                .iter()
                .flat_map(|a| bundle_asset_names(c.bundle_asset.as_deref(), &a.name))
                .collect(),
            None => Vec::new(),
        };
        let mut archive: Option<(File, Digest)> = None;
        let mut bytes = 0;
        let mut files = 0;
        let mut verified = Vec::new();
        // Every asset is downloaded, hashed and verified before any is
        // placed or unpacked.
        let mut downloaded: Vec<(&Asset, File, Digest)> = Vec::new();
        let mut wanted: Vec<(&Asset, Option<Digest>)> = Vec::new();
        for a in &assets {
            let expected = sums
                .get(&a.name)
                .map(|h| format!("sha256:{}", h.to_ascii_lowercase()).parse::<Digest>())
                .transpose()
                .map_err(|_| {
                    Error::setting(
                        "githubRelease.checksums",
                        None,
                        format!("bad sha256 for '{}'", a.name),
                    )
                })?;
            wanted.push((a, expected));
        }
        // The downloads run side by side; checks and verification follow in
        // asset order.
        let fetched = crate::workers::run(ASSET_WORKERS, &wanted, |(a, expected)| {
            let opts = HttpOptions {
                max_size: a.size,
                ..options.clone()
            };
            download(
                ctx,
                &a.url,
                &opts,
                expected.as_ref(),
                Some(a.size),
                |resp| {
                    if resp.status == 200 {
                        Ok(())
                    } else {
                        Err(api_status_error(resp, false))
                    }
                },
            )
            .map_err(|e| asset_context(e, &a.name))
        })?;
        for ((a, expected), dl) in wanted.iter().zip(fetched) {
            let a: &Asset = a;
            if let Some(want) = &expected {
                if &dl.sha256 != want {
                    return Err(Error::Checksum {
                        subject: format!("asset '{}'", a.name),
                        expected: want.hex().to_string(),
                        actual: dl.sha256.hex().to_string(),
                    });
                }
            }
            bytes += dl.fetched;
            if let Some(c) = cfg.cosign.as_ref().filter(|c| c.github_attestations) {
                let url = attestations_url(&cfg.slug, &dl.sha256);
                let api = self.options(ctx, "Bearer", "application/vnd.github+json")?;
                verified.push(check_attestations(
                    ctx,
                    c,
                    "githubRelease.cosign",
                    &format!("asset '{}'", a.name),
                    &dl.sha256,
                    &url,
                    &api,
                )?);
            } else if !bundle_names.contains(&a.name) {
                let places: Vec<BundleAt> = cfg
                    .cosign
                    .iter()
                    .flat_map(|c| bundle_asset_names(c.bundle_asset.as_deref(), &a.name))
                    .map(|name| BundleAt {
                        url: release
                            .assets
                            .iter()
                            .find(|b| b.name == name)
                            .map(|b| b.url.clone()),
                        name: format!("asset '{name}'"),
                    })
                    .collect();
                let subject = format!("asset '{}'", a.name);
                let v = check_blob(
                    ctx,
                    cfg.cosign.as_ref(),
                    "githubRelease.cosign",
                    &subject,
                    &dl.sha256,
                    &places,
                    &options,
                )?;
                verified.extend(v);
            }
            downloaded.push((a, dl.file, dl.sha256));
        }
        for (a, mut file, digest) in downloaded {
            match &cfg.unpack_archive {
                Some(p) if *p == a.name => archive = Some((file, digest)),
                Some(_) => {}
                None => {
                    place_file(&mut file, &a.name, dest, 0o644)?;
                    files += 1;
                }
            }
        }
        let mut warnings = Vec::new();
        if let Some(p) = &cfg.unpack_archive {
            let (mut file, digest) = archive.ok_or_else(|| {
                Error::setting(
                    "githubRelease.unpackArchive.path",
                    Some(p),
                    format!(
                        "Unpacking archive '{p}' is not part of the github release (selected \
                         assets: {})",
                        assets
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            let kind = sniff(&mut file).map_err(|e| Error::io("download", e))?;
            if kind == Kind::Plain {
                return Err(Error::setting(
                    "githubRelease.unpackArchive.path",
                    Some(p),
                    "Expected known archive type (zip, tgz, tar)",
                ));
            }
            let report = unpack(&mut file, kind, &digest, dest, ctx.limits)?;
            files = report.paths.len() as u64;
            warnings = report.warnings;
        }
        Ok(Fetched {
            lock,
            bytes,
            files: Some(files),
            warnings,
            summary,
            verified,
        })
    }
}

/// The release assets that may hold `asset`'s bundle, in the order they are
/// tried: `bundleAsset` (`{asset}` replaced by the name) when set, else
/// `<asset>.sigstore.json` then `<asset>.bundle`.
fn bundle_asset_names(bundle_asset: Option<&str>, asset: &str) -> Vec<String> {
    match bundle_asset {
        Some(b) => vec![b.replace("{asset}", asset)],
        None => vec![format!("{asset}.sigstore.json"), format!("{asset}.bundle")],
    }
}

fn entry(url: String, tag: String) -> LockContent {
    LockContent {
        github_release: Some(LockGithubRelease { url, tag }),
        ..LockContent::default()
    }
}

/// vendir's wording of a refused API answer, with its hints.
fn api_status_error(resp: &Response, release_lookup: bool) -> Error {
    let mut detail = format!("Expected response status 200, but was '{}'", resp.status);
    match resp.status {
        401 | 403 => detail.push_str(
            " (hint: set a secretRef with `token`, or VENDIR_GITHUB_API_TOKEN or GITHUB_TOKEN, \
             for private repositories and higher API rate limits)",
        ),
        404 if release_lookup => detail.push_str(
            " (hint: if you are using 'latest: true', there may not be any non-pre-release \
             releases)",
        ),
        _ => {}
    }
    resp.status_error(detail)
}

/// The GET already names the URL; say what it was for.
fn with_context(e: Error, what: &str) -> Error {
    match e {
        Error::Http(mut h) => {
            h.detail = format!("{what}: {}", h.detail);
            Error::Http(h)
        }
        e => e,
    }
}

fn asset_context(e: Error, name: &str) -> Error {
    match e {
        Error::Http(mut h) => {
            h.detail = format!("Downloading asset '{name}': {}", h.detail);
            Error::Http(h)
        }
        e => e,
    }
}

/// vendir's release-notes line: `^\s*<64 lower hex>\s+(/|./)?<name>\s*$`.
fn checksum_line<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c');
    let l = line.trim_start_matches(ws);
    let sum = l.get(..64)?;
    if !sum
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let rest = &l[64..];
    let after = rest.trim_start_matches(ws);
    if after.len() == rest.len() {
        return None; // no separating whitespace
    }
    let candidates = [
        after,
        after.strip_prefix('/').unwrap_or(after),
        after.strip_prefix("./").unwrap_or(after),
    ];
    candidates
        .iter()
        .any(|c| {
            c.strip_prefix(name)
                .is_some_and(|t| t.trim_start_matches(ws).is_empty())
        })
        .then_some(sum)
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (u, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                u.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_note_checksum_lines() {
        let sum = "a".repeat(64);
        for (line, ok) in [
            (format!("{sum}  tool.tgz"), true),
            (format!("  {sum}\t./tool.tgz  "), true),
            (format!("{sum} /tool.tgz\r"), true),
            (format!("{sum}tool.tgz"), false),
            (format!("{sum}  tool.tgz.sig"), false),
            (format!("{}  tool.tgz", "A".repeat(64)), false),
            (format!("x{sum}  tool.tgz"), false),
        ] {
            assert_eq!(checksum_line(&line, "tool.tgz").is_some(), ok, "{line:?}");
        }
    }

    #[test]
    fn link_header_next() {
        let h = r#"<https://api/x?page=2>; rel="next", <https://api/x?page=5>; rel="last""#;
        assert_eq!(next_link(h).as_deref(), Some("https://api/x?page=2"));
        assert_eq!(next_link(r#"<https://api/x?page=1>; rel="prev""#), None);
    }
}
