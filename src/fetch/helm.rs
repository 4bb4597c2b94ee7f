//! The `helmChart` source, natively: no helm binary (docs/config.md).
//!
//! A chart repository is read as helm reads it: `index.yaml` beneath the
//! repository URL, the chart version picked from it (helm's rules), then the
//! archive it names, checked against the index's `digest` when there is one.
//! An `oci://` chart is `registry/path/<name>:<version>` through the registry
//! bridge. Either way the archive's `<name>/` level is stripped, as
//! `helm pull --untar` + vendir do, and the extraction is the confined one.
//!
//! One sync reads each index once ([`IndexMemo`]): fifty charts from one
//! repository cost one `index.yaml`.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

use super::{Counting, FetchContext, Fetched, Probed, Progress, Source};
use crate::cache::Tee;
use crate::config::{HelmChart, HelmRepository, Secret};
use crate::digest::{Algorithm, Digest, HashingReader};
use crate::error::{Error, Result};
use crate::extract::layer::{extract_archive, Compression};
use crate::extract::{self, Modes, RelPath, Root};
use crate::http::{Body, HttpAuth, HttpClient, HttpOptions};
use crate::lock::{LockContent, LockHelmChart};
use crate::oci::{Descriptor, Manifest};
use crate::redact::redact_url;
use crate::reference::Reference;
use crate::registry::{RemoteOptions, Repository};
use crate::verify::Verified;

/// The chart layer of an OCI chart (helm's `ChartLayerMediaType`).
pub const MEDIA_TYPE_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The chart layer as charts pushed by helm before 3.7 (`LegacyChartLayerMediaType`).
const MEDIA_TYPE_CHART_LEGACY: &str = "application/tar+gzip";
/// The config of an OCI chart: Chart.yaml's metadata as JSON.
pub const MEDIA_TYPE_CHART_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
/// The largest chart config read while probing.
const MAX_CONFIG_BYTES: i64 = 1 << 20;
/// The largest `Chart.yaml` read for the lock.
const MAX_CHART_YAML_BYTES: u64 = 1 << 20;
/// The name the chart directory has while its contents move up a level;
/// a chart holding this very name at its top is refused.
const LIFT_DIR: &str = ".vendoras-chart-lift";
/// The media type a chart archive fetched over HTTP is named by in errors.
const CHART_ARCHIVE: &str = MEDIA_TYPE_CHART_LEGACY;

/// The `helmChart` source of one content.
pub(super) struct HelmSource<'a> {
    pub cfg: &'a HelmChart,
}

/// The chart indexes one sync read, by index URL and credential.
#[derive(Debug, Default)]
pub struct IndexMemo {
    #[allow(clippy::type_complexity)]
    slots: Mutex<HashMap<String, Arc<Mutex<Option<Arc<Index>>>>>>,
}

impl IndexMemo {
    /// The index under `key`, read by `load` once per sync: concurrent
    /// callers for the same key wait for the first one's answer. A failed
    /// load is not remembered (the next caller tries again).
    fn get(&self, key: &str, load: impl FnOnce() -> Result<Index>) -> Result<Arc<Index>> {
        let slot = self
            .slots
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .clone();
        let mut slot = slot.lock().unwrap();
        if let Some(index) = slot.as_ref() {
            return Ok(index.clone());
        }
        let index = Arc::new(load()?);
        *slot = Some(index.clone());
        Ok(index)
    }
}

// ---------------------------------------------------------------------------
// index.yaml
// ---------------------------------------------------------------------------

/// A chart repository's index: what vendoras reads of it.
#[derive(Debug, Default)]
pub struct Index {
    /// Chart name → its versions, as listed.
    entries: HashMap<String, Vec<ChartVersion>>,
}

/// One `entries.<name>[]` item.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChartVersion {
    #[serde(default)]
    version: Lenient,
    #[serde(default)]
    app_version: Lenient,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default)]
    digest: Lenient,
}

/// A scalar read as text whatever YAML type it has (`appVersion: 1.0` is a
/// float to YAML, a string to helm's index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Lenient(String);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Lenient;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v))
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Lenient, E> {
                Ok(Lenient(v.to_string()))
            }
            fn visit_unit<E>(self) -> std::result::Result<Lenient, E> {
                Ok(Lenient::default())
            }
            fn visit_none<E>(self) -> std::result::Result<Lenient, E> {
                Ok(Lenient::default())
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Deserialize)]
struct IndexDoc {
    #[serde(default)]
    entries: HashMap<String, Option<Vec<ChartVersion>>>,
}

/// Budgets for one index: real indexes reach tens of MiB (every chart
/// version of a big repository), far above a config's budget, but stay
/// bounded against a hostile server.
fn index_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(256 << 20);
    budget.max_events = 100_000_000;
    budget.max_nodes = 50_000_000;
    budget.max_total_scalar_bytes = 256 << 20;
    serde_saphyr::options! {
        budget: Some(budget),
        strict_booleans: true,
        with_snippet: false,
    }
}

impl Index {
    /// Parses an index as it streams in (one pass; only the fields used
    /// are kept).
    pub fn parse<R: Read>(reader: R) -> std::result::Result<Index, String> {
        let doc: IndexDoc = serde_saphyr::from_reader_with_options(reader, index_options())
            .map_err(|e| e.to_string())?;
        Ok(Index {
            entries: doc
                .entries
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
        })
    }

    /// The chart names the index lists.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The version helm's `IndexFile.Get` picks: none given = the newest
    /// version that is not a prerelease; otherwise an exact match of the
    /// text first, then the newest version matching it as a constraint.
    pub(crate) fn select(&self, name: &str, wanted: Option<&str>) -> Option<&ChartVersion> {
        let versions = self.entries.get(name)?;
        if let Some(w) = wanted {
            if let Some(v) = versions.iter().find(|v| v.version.0 == w) {
                return Some(v);
            }
        }
        let texts: Vec<String> = versions.iter().map(|v| v.version.0.clone()).collect();
        let picked = crate::resolve::select_tag(&texts, wanted.unwrap_or(">=0.0.0"), None).ok()?;
        versions.iter().find(|v| v.version.0 == picked)
    }
}

// ---------------------------------------------------------------------------
// URLs (helm's repo.ResolveReferenceURL)
// ---------------------------------------------------------------------------

/// `scheme://authority`, the path, and the query (without `?`) of `url`;
/// a fragment is dropped.
fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let url = url.split('#').next().unwrap_or(url);
    let scheme_end = url.find("://")?;
    let after = scheme_end + 3;
    let auth_end = url[after..]
        .find(['/', '?'])
        .map_or(url.len(), |i| after + i);
    let (origin, rest) = url.split_at(auth_end);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Some((origin, path, query))
}

/// Whether `s` starts with a URL scheme (`https:`, `oci:`, ...).
fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i > 0 => {
            let scheme = &s[..i];
            scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
        }
        _ => false,
    }
}

/// `reference` resolved against the repository URL `base` as helm does:
/// an absolute URL stays as it is; otherwise the base path is treated as a
/// directory (a `/` is added) and the base's query is kept.
pub fn resolve_reference_url(base: &str, reference: &str) -> String {
    if has_scheme(reference) {
        return reference.to_string();
    }
    let Some((origin, base_path, query)) = split_url(base) else {
        return reference.to_string();
    };
    let reference = reference.split('#').next().unwrap_or(reference);
    let reference = reference.split('?').next().unwrap_or(reference);
    let (origin, path) = if let Some(rest) = reference.strip_prefix("//") {
        let scheme = &origin[..origin.find("://").unwrap_or(0)];
        let (auth, p) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        (format!("{scheme}://{auth}"), p.to_string())
    } else if reference.starts_with('/') {
        (origin.to_string(), reference.to_string())
    } else {
        let dir = format!("{}/", base_path.trim_end_matches('/'));
        (origin.to_string(), format!("{dir}{reference}"))
    };
    let path = remove_dot_segments(&path);
    let mut out = format!("{origin}{path}");
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// RFC 3986 §5.2.4, on a path that starts with `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = false;
    for (i, s) in segments.iter().enumerate() {
        trailing = false;
        match *s {
            "." => trailing = i == last,
            ".." => {
                out.pop();
                trailing = i == last;
            }
            s => out.push(s),
        }
    }
    let mut p = format!("/{}", out.join("/"));
    if trailing && !p.ends_with('/') {
        p.push('/');
    }
    p
}

/// `scheme://host[:port]` of a URL, without user info: credentials go
/// only to the repository's own origin (helm without `--pass-credentials`).
fn origin(url: &str) -> Option<String> {
    let (o, _, _) = split_url(url)?;
    let (scheme, auth) = o.split_once("://")?;
    let host = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    ))
}

// ---------------------------------------------------------------------------
// The source
// ---------------------------------------------------------------------------

/// Basic-auth credentials for a chart repository, from `secretRef`.
#[derive(Clone)]
struct Basic {
    username: String,
    password: String,
}

/// What was picked from an index.
struct Picked {
    version: String,
    app_version: String,
    /// The archive's URL, resolved.
    url: String,
    /// The index's `digest`, when it gave one.
    digest: Option<Digest>,
}

impl HelmSource<'_> {
    fn secret<'c>(&self, ctx: &'c FetchContext<'_>) -> Result<Option<&'c Secret>> {
        match &self.cfg.secret_ref {
            None => Ok(None),
            Some(r) => ctx.loaded.secrets.get(&r.name).map(Some).ok_or_else(|| {
                Error::setting(
                    "helmChart.repository.secretRef",
                    Some(&r.name),
                    "no such Secret",
                )
            }),
        }
    }

    /// A chart repository's basic auth: vendir passes a Secret's
    /// `username` and `password` to helm and refuses any other key.
    fn basic(&self, ctx: &FetchContext<'_>) -> Result<Option<Basic>> {
        let Some(secret) = self.secret(ctx)? else {
            return Ok(None);
        };
        let bad =
            |why: String| Error::setting("helmChart.repository.secretRef", Some(&secret.name), why);
        if let Some(k) = secret
            .data
            .keys()
            .find(|k| *k != "username" && *k != "password")
        {
            return Err(bad(format!(
                "unknown key `{k}` in the Secret; a chart repository takes `username` and \
                 `password` (basic auth)"
            )));
        }
        let get = |k: &str| {
            secret
                .data
                .get(k)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        };
        Ok(Some(Basic {
            username: get("username").unwrap_or_default(),
            password: get("password").unwrap_or_default(),
        }))
    }

    /// The version to fetch: the pinned one (`--locked`, or this sync's
    /// probe), else the configured one (`None` = newest).
    fn wanted<'c>(&'c self, ctx: &'c FetchContext<'_>) -> Result<Option<&'c str>> {
        match ctx.pinned {
            Some(p) => {
                let entry = p.helm_chart.as_ref().ok_or_else(|| Error::Lock {
                    file: None,
                    line: None,
                    message: format!(
                        "lock entry for content {:?} is not a helmChart; run sync without --locked",
                        p.path
                    ),
                })?;
                Ok(Some(entry.version.as_str()))
            }
            None => Ok(self.cfg.version.as_deref()),
        }
    }

    // -- chart repositories ------------------------------------------------

    fn index(&self, ctx: &FetchContext<'_>, base: &str) -> Result<Arc<Index>> {
        let url = resolve_reference_url(base, "index.yaml");
        let auth = self.basic(ctx)?;
        let key = format!(
            "{url} {}",
            auth.as_ref().map_or_else(String::new, |a| Digest::of(
                Algorithm::Sha256,
                format!("{}\0{}", a.username, a.password).as_bytes()
            )
            .to_string())
        );
        ctx.memo.helm_indexes.get(&key, || {
            let mut body = http_get(
                ctx,
                &url,
                auth.as_ref(),
                base,
                "the chart repository's index",
                MAX_INDEX_BYTES,
            )?;
            let parsed = Index::parse(&mut body);
            if ctx.op.is_cancelled() {
                return Err(Error::Cancelled);
            }
            // Only a whole body counts: a cut one may still parse.
            body.finish()?;
            parsed.map_err(|why| Error::Artifact {
                reference: redact_url(&url),
                reason: format!("not a chart repository index: {why}"),
            })
        })
    }

    /// The chart's name in a chart repository's index: `name` without a leading
    /// `stable/` (helm v2's alias for its stable repository, still found in
    /// configs), which vendir drops too before it runs `helm fetch NAME --repo URL`.
    fn index_name(&self) -> &str {
        self.cfg
            .name
            .strip_prefix("stable/")
            .unwrap_or(&self.cfg.name)
    }

    fn pick(&self, ctx: &FetchContext<'_>, base: &str) -> Result<Picked> {
        let index = self.index(ctx, base)?;
        let name = self.index_name();
        let wanted = self.wanted(ctx)?;
        let Some(v) = index.select(name, wanted) else {
            let index_url = redact_url(&resolve_reference_url(base, "index.yaml"));
            let reason = match index.entries.get(name) {
                None => {
                    let mut names: Vec<&str> = index.entries.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    let more = names.len() > 20;
                    names.truncate(20);
                    format!(
                        "no chart named {name:?} in the index (charts: {}{})",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        },
                        if more { ", ..." } else { "" }
                    )
                }
                Some(versions) => {
                    let shown: Vec<&str> = versions
                        .iter()
                        .take(20)
                        .map(|v| v.version.0.as_str())
                        .collect();
                    format!(
                        "chart {name:?} version {:?} not found (versions: {}{})",
                        wanted.unwrap_or("newest, prereleases excluded"),
                        if shown.is_empty() {
                            "none".to_string()
                        } else {
                            shown.join(", ")
                        },
                        if versions.len() > 20 { ", ..." } else { "" }
                    )
                }
            };
            return Err(Error::Artifact {
                reference: index_url,
                reason,
            });
        };
        let Some(first) = v.urls.first() else {
            return Err(Error::Artifact {
                reference: redact_url(&resolve_reference_url(base, "index.yaml")),
                reason: format!("chart {name:?} version {} lists no urls", v.version.0),
            });
        };
        let digest = if v.digest.0.is_empty() {
            None
        } else {
            let d = &v.digest.0;
            let text = if d.contains(':') {
                d.clone()
            } else {
                format!("sha256:{d}")
            };
            Some(text.parse::<Digest>().map_err(|e| Error::Artifact {
                reference: redact_url(&resolve_reference_url(base, "index.yaml")),
                reason: format!(
                    "chart {name:?} version {}: digest {d:?} is not a sha256 hex digest ({e})",
                    v.version.0
                ),
            })?)
        };
        Ok(Picked {
            version: v.version.0.clone(),
            app_version: v.app_version.0.clone(),
            url: resolve_reference_url(base, first),
            digest,
        })
    }

    fn fetch_http(&self, ctx: &FetchContext<'_>, base: &str, dest: &Root) -> Result<Fetched> {
        let picked = self.pick(ctx, base)?;
        let auth = self.basic(ctx)?;
        let mut fetched = Fetched::default();
        // A cached archive is only trusted by the index's digest.
        if let (Some(cache), Some(d)) = (ctx.cache, &picked.digest) {
            if let Some(file) = cached(cache.open_any_size(d), d, None) {
                let (report, lock) = self
                    .extract(file, dest, ctx.limits)
                    .map_err(|e| e.in_layer(d, CHART_ARCHIVE, None))?;
                fetched.files = Some(report.paths.len() as u64);
                fetched.warnings = report.warnings;
                fetched.lock = lock;
                fetched.summary = summary(&redact_url(&picked.url), d);
                return Ok(fetched);
            }
            cache.evict(d);
        }
        let pending = match (ctx.cache, &picked.digest) {
            (Some(c), Some(d)) => c.begin(d).ok(),
            _ => None,
        };
        let what = format!("chart {} version {}", self.index_name(), picked.version);
        let body = http_get(
            ctx,
            &picked.url,
            auth.as_ref(),
            base,
            &what,
            MAX_CHART_BYTES,
        )?;
        let mut tee = Tee::new(
            Counting {
                inner: body,
                progress: ctx.progress,
            },
            pending,
        );
        let written = self.extract(&mut tee, dest, ctx.limits);
        if ctx.op.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let (counting, pending) = tee
            .finish()
            .map_err(|e| Error::io(redact_url(&picked.url), e))?;
        let info = counting.inner.finish()?;
        // The digest is checked before anything extracted counts; a wrong
        // one is refused whatever the extraction said.
        if let Some(want) = &picked.digest {
            if &info.sha256 != want {
                return Err(Error::Checksum {
                    subject: format!(
                        "{what} ({}): the digest in {}",
                        redact_url(&picked.url),
                        redact_url(&resolve_reference_url(base, "index.yaml"))
                    ),
                    expected: want.hex().to_string(),
                    actual: info.sha256.hex().to_string(),
                });
            }
        }
        let (report, lock) = written.map_err(|e| e.in_layer(&info.sha256, CHART_ARCHIVE, None))?;
        if let Some(p) = pending {
            let _ = p.commit(); // a cache that cannot be written is not an error
        }
        fetched.bytes = info.size;
        fetched.files = Some(report.paths.len() as u64);
        fetched.warnings = report.warnings;
        fetched.lock = lock;
        fetched.summary = summary(&redact_url(&picked.url), &info.sha256);
        Ok(fetched)
    }

    // -- OCI -------------------------------------------------------------

    fn oci_repository(&self, ctx: &FetchContext<'_>, path: &str) -> Result<(Repository, String)> {
        let raw = format!("{path}/{}", self.cfg.name);
        let reference: Reference =
            raw.parse()
                .map_err(|e: crate::reference::InvalidReference| {
                    Error::setting("helmChart.repository.url", Some(&raw), e.to_string())
                })?;
        let credential = match self.secret(ctx)? {
            Some(s) => Some(super::oci::credential_from_secret(s, &reference.registry)?),
            None => None,
        };
        let options = RemoteOptions {
            // helm reaches a plain-HTTP registry on the loopback interface
            // without a flag; so does vendoras (only there: see
            // docs/differences.md).
            plain_http: is_loopback(&reference.registry).then_some(true),
            credential,
            stall_timeout: ctx.stall_timeout,
            mirrors: ctx.mirrors.cloned(),
            ..RemoteOptions::default()
        };
        let name = reference.repository_url();
        let key = format!(
            "helm {name} {:?} {}",
            options.plain_http,
            options.credential.as_ref().map_or_else(String::new, |c| {
                let json = serde_json::to_vec(c).unwrap_or_default();
                Digest::of(Algorithm::Sha256, &json).to_string()
            })
        );
        let repo = ctx
            .memo
            .repository(&key, || Repository::open_remote(&name, &options))?;
        Ok((repo, name))
    }

    /// Resolves `version` to the chart's manifest and its chart layer.
    fn oci_resolve(
        &self,
        ctx: &FetchContext<'_>,
        repo: &Repository,
        name: &str,
        version: &str,
    ) -> Result<(Descriptor, Manifest, Descriptor)> {
        // helm stores `+` (semver build metadata) as `_` in tags.
        let tag = version.replace('+', "_");
        let (desc, manifest) = repo.fetch_reference(ctx.op, &tag)?;
        let layer = chart_layer(name, version, &desc, &manifest)?;
        Ok((desc, manifest, layer))
    }

    /// [`Self::oci_resolve`], and with `cosign:` the signature of that very
    /// manifest checked before anything else is read. `verify`: check now
    /// (the probe, which remembers the result for this sync); otherwise the
    /// fetch takes what its probe verified, or resolves and checks itself.
    fn oci_resolve_verified(
        &self,
        ctx: &FetchContext<'_>,
        repo: &Repository,
        name: &str,
        version: &str,
        verify: bool,
    ) -> Result<(Descriptor, Manifest, Descriptor, Option<Verified>)> {
        let Some(cosign) = &self.cfg.cosign else {
            let (desc, manifest, layer) = self.oci_resolve(ctx, repo, name, version)?;
            return Ok((desc, manifest, layer, None));
        };
        // Keyed by the policy too: another content may trust other signers.
        let key = format!("helm-cosign {name}:{version} {cosign:?}");
        if !verify {
            if let Some((desc, Some(manifest))) = ctx.memo.manifest(&key) {
                let layer = chart_layer(name, version, &desc, &manifest)?;
                return Ok((desc, manifest, layer, None));
            }
        }
        let (desc, manifest, layer) = self.oci_resolve(ctx, repo, name, version)?;
        let verified = super::signature::check(ctx, repo, &desc, Some(cosign), "helmChart.cosign")?;
        ctx.memo
            .put_manifest(key, desc.clone(), Some(manifest.clone()));
        Ok((desc, manifest, layer, verified))
    }

    fn probe_oci(
        &self,
        ctx: &FetchContext<'_>,
        path: &str,
    ) -> Result<(LockContent, Option<Verified>)> {
        let version = self.oci_version(ctx)?;
        let (repo, name) = self.oci_repository(ctx, path)?;
        let (desc, manifest, _, verified) =
            self.oci_resolve_verified(ctx, &repo, &name, &version, true)?;
        if let Some(p) = ctx.pinned.and_then(|p| p.helm_chart.as_ref()) {
            // --locked: the locked entry, now verified.
            let lock = LockContent {
                helm_chart: Some(p.clone()),
                ..LockContent::default()
            };
            return Ok((lock, verified));
        }
        // The chart's config is Chart.yaml as JSON: the lock entry without
        // downloading the chart.
        let config = manifest
            .config
            .as_ref()
            .filter(|c| c.media_type == MEDIA_TYPE_CHART_CONFIG);
        let meta = match config {
            Some(c) => {
                let bytes = repo.fetch_bytes(ctx.op, c, MAX_CONFIG_BYTES)?;
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Meta {
                    #[serde(default)]
                    version: String,
                    #[serde(default)]
                    app_version: String,
                }
                let m: Meta = serde_json::from_slice(&bytes).map_err(|e| Error::Artifact {
                    reference: format!("{name}@{}", desc.digest),
                    reason: format!("chart config {} is not JSON: {e}", c.digest),
                })?;
                (m.version, m.app_version)
            }
            None => (version.clone(), String::new()),
        };
        Ok((lock_entry(meta.0, meta.1), verified))
    }

    fn oci_version(&self, ctx: &FetchContext<'_>) -> Result<String> {
        self.wanted(ctx)?.map(str::to_string).ok_or_else(|| {
            Error::setting("helmChart.version", None, "an oci:// chart needs a version")
        })
    }

    fn fetch_oci(&self, ctx: &FetchContext<'_>, path: &str, dest: &Root) -> Result<Fetched> {
        let version = self.oci_version(ctx)?;
        let (repo, name) = self.oci_repository(ctx, path)?;
        let (desc, _, layer, _) = self.oci_resolve_verified(ctx, &repo, &name, &version, false)?;
        (ctx.progress)(Progress::Expect(layer.size));
        let in_layer = |e: Error| e.in_layer(&layer.digest, &layer.media_type, None);
        let mut fetched = Fetched {
            summary: format!("{name}@{}", desc.digest),
            ..Fetched::default()
        };
        if let Some(cache) = ctx.cache {
            let file = cache.open(&layer.digest, layer.size);
            if let Some(file) = cached(file, &layer.digest, Some(layer.size)) {
                let (report, lock) = self.extract(file, dest, ctx.limits).map_err(in_layer)?;
                (ctx.progress)(Progress::Received(layer.size));
                fetched.files = Some(report.paths.len() as u64);
                fetched.warnings = report.warnings;
                fetched.lock = lock;
                return Ok(fetched);
            }
            cache.evict(&layer.digest);
        }
        let pending = ctx.cache.and_then(|c| c.begin(&layer.digest).ok());
        let stream = repo.open_blob(ctx.op, &layer)?;
        let mut tee = Tee::new(
            Counting {
                inner: stream,
                progress: ctx.progress,
            },
            pending,
        );
        let written = self.extract(&mut tee, dest, ctx.limits);
        if ctx.op.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let (report, lock) = written.map_err(in_layer)?;
        let (counting, pending) = tee.finish().map_err(|e| Error::io("blob stream", e))?;
        counting.inner.finish()?;
        if let Some(p) = pending {
            let _ = p.commit();
        }
        fetched.bytes = layer.size;
        fetched.files = Some(report.paths.len() as u64);
        fetched.warnings = report.warnings;
        fetched.lock = lock;
        Ok(fetched)
    }

    // -- extraction --------------------------------------------------------

    /// Extracts a chart archive (`<name>/...`, gzipped) into `dest` without
    /// its `<name>/` level, and reads the lock entry from its Chart.yaml.
    /// Files land 0644 (helm writes every file so).
    fn extract<R: Read>(
        &self,
        reader: R,
        dest: &Root,
        limits: extract::Limits,
    ) -> Result<(extract::Report, LockContent)> {
        // The chart directory is the last component of the name
        // (`oci://r/charts` + `sub/demo` is chart `demo`).
        let top = self.cfg.name.rsplit('/').next().unwrap_or(&self.cfg.name);
        let within = RelPath::normalize(top)
            .filter(|r| !r.is_root())
            .ok_or_else(|| {
                Error::setting(
                    "helmChart.name",
                    Some(&self.cfg.name),
                    "not a chart directory name",
                )
            })?;
        let opts = extract::Options {
            within: within.clone(),
            final_root: None,
            modes: Modes::Normalized { files: Some(0o644) },
            limits,
            create_parents: true,
            refuse_whiteouts: false,
        };
        let (mut report, _) =
            extract_archive(reader, Compression::Gzip, dest, &opts).map_err(Error::from)?;
        lift(dest, &within)?;
        let depth = within.components().len();
        report.paths = report
            .paths
            .iter()
            .filter_map(|p| {
                RelPath::normalize(&p.components()[depth.min(p.components().len())..].join("/"))
            })
            .filter(|p| !p.is_root())
            .collect();
        let lock = read_chart_yaml(dest, &self.cfg.name)?;
        Ok((report, lock))
    }
}

/// Moves the contents of `dest/<top>` up into `dest` (which holds nothing
/// else): first out of the way under a name the chart cannot use, so a
/// chart holding its own name (`demo/demo/...`) still lands right.
fn lift(dest: &Root, top: &RelPath) -> Result<()> {
    let io = |e: io::Error| Error::io(dest.path(), e);
    if dest.existing(top).map_err(io)? != extract::root::Existing::Dir {
        return Err(Error::entry(
            top.to_string(),
            "the chart archive has no such directory (helm charts are `<name>/Chart.yaml`, ...)",
        ));
    }
    let lift = RelPath::normalize(LIFT_DIR).expect("a plain name");
    dest.merge_into(top, dest, &lift).map_err(io)?;
    let inner = lift.join(LIFT_DIR).expect("a plain name");
    if dest.existing(&inner).map_err(io)? != extract::root::Existing::Absent {
        return Err(Error::entry(
            format!("{top}/{LIFT_DIR}"),
            "this name is reserved while vendoras unpacks a chart",
        ));
    }
    dest.merge_into(&lift, dest, &RelPath::root()).map_err(io)?;
    dest.remove_empty_dir(&lift).map_err(io)
}

/// A cache entry, rewound, when it hashes to `digest` (and has `size`).
/// Charts are small, so checking before extracting costs little and keeps
/// a damaged entry from writing anything.
fn cached(
    file: Option<std::fs::File>,
    digest: &Digest,
    size: Option<u64>,
) -> Option<std::fs::File> {
    use std::io::Seek;
    let reader = HashingReader::new(file?, digest.algorithm());
    let (got, n, mut file) = reader.drain().ok()?;
    if &got != digest || size.is_some_and(|s| s != n) {
        return None;
    }
    file.rewind().ok()?;
    Some(file)
}

/// The lock entry from the extracted `Chart.yaml`, as vendir reads it.
fn read_chart_yaml(dest: &Root, name: &str) -> Result<LockContent> {
    let rel = RelPath::normalize("Chart.yaml").expect("a plain name");
    let missing = || Error::Artifact {
        reference: format!("chart {name}"),
        reason: "the chart archive has no Chart.yaml at its top (`<name>/Chart.yaml`)".into(),
    };
    let mut file = match dest.open_file(&rel) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => return Err(Error::io("Chart.yaml", e)),
    };
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_CHART_YAML_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("Chart.yaml", e))?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        #[serde(default)]
        version: Lenient,
        #[serde(default)]
        app_version: Lenient,
    }
    let meta: Meta =
        serde_saphyr::from_slice_with_options(&bytes, chart_yaml_options()).map_err(|e| {
            Error::Artifact {
                reference: format!("chart {name}"),
                reason: format!("Chart.yaml does not parse: {e}"),
            }
        })?;
    if meta.version.0.is_empty() {
        return Err(Error::Artifact {
            reference: format!("chart {name}"),
            reason: "Chart.yaml has no version (vendir: \"Expected non-empty chart version\")"
                .into(),
        });
    }
    Ok(lock_entry(meta.version.0, meta.app_version.0))
}

fn chart_yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    }
}

fn lock_entry(version: String, app_version: String) -> LockContent {
    LockContent {
        helm_chart: Some(LockHelmChart {
            version,
            app_version,
        }),
        ..LockContent::default()
    }
}

fn summary(url: &str, digest: &Digest) -> String {
    format!("{url}@{digest}")
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The largest `index.yaml` accepted.
const MAX_INDEX_BYTES: u64 = 256 << 20;
/// The largest chart archive accepted (helm's own bound on a whole chart
/// is 100 MiB decompressed).
const MAX_CHART_BYTES: u64 = 1 << 30;

/// A GET through the shim's HTTP transport (TLS, proxies, CA files,
/// retries, stall timeout). `auth` goes only to requests for `base`'s
/// origin, as helm sends it without `--pass-credentials`; `what` names the
/// object in a status error.
fn http_get(
    ctx: &FetchContext<'_>,
    url: &str,
    auth: Option<&Basic>,
    base: &str,
    what: &str,
    max_size: u64,
) -> Result<Body> {
    // Mirrors (`[[url]]` rules) first, then the URL itself; a mirror is of
    // another origin than `base`, so it gets no credentials.
    let Some(mirrors) = ctx.mirrors else {
        return http_get_at(ctx, url, auth, base, what, max_size);
    };
    let mut last = None;
    for c in mirrors.url_candidates(url) {
        match http_get_at(ctx, &c.url, auth, base, what, max_size) {
            Ok(body) => return Ok(body),
            Err(e) if e.is_cancelled() || ctx.op.is_cancelled() => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Internal(format!("no URL to try for {url}"))))
}

/// One attempt of [`http_get`], at `url`.
fn http_get_at(
    ctx: &FetchContext<'_>,
    url: &str,
    auth: Option<&Basic>,
    base: &str,
    what: &str,
    max_size: u64,
) -> Result<Body> {
    let same_origin = origin(url).is_some() && origin(url) == origin(base);
    let options = HttpOptions {
        auth: auth.filter(|_| same_origin).map(|a| HttpAuth::Basic {
            username: a.username.clone(),
            password: a.password.clone(),
        }),
        stall_timeout: ctx.stall_timeout,
        max_size,
        ..HttpOptions::default()
    };
    let resp = HttpClient::from_env().get(ctx.op, url, &options)?;
    if !resp.is_success() {
        let hint = match resp.status {
            401 | 403 if auth.is_none() => {
                "; set helmChart.repository.secretRef to a Secret with username and password"
            }
            401 | 403 => "; check the username and password of helmChart.repository.secretRef",
            _ => "",
        };
        let detail = format!("{what}: {}{hint}", resp.status_text);
        return Err(resp.status_error(detail));
    }
    resp.into_body()
}

/// The chart layer of the manifest `desc` (`name:version`, for errors).
fn chart_layer(
    name: &str,
    version: &str,
    desc: &Descriptor,
    manifest: &Manifest,
) -> Result<Descriptor> {
    let tag = version.replace('+', "_");
    manifest
        .layers
        .iter()
        .find(|l| l.media_type == MEDIA_TYPE_CHART || l.media_type == MEDIA_TYPE_CHART_LEGACY)
        .cloned()
        .ok_or_else(|| {
            let have: Vec<String> = manifest
                .layers
                .iter()
                .map(|l| format!("{} ({})", l.media_type, l.digest))
                .collect();
            Error::Artifact {
                reference: format!("{name}:{tag}@{}", desc.digest),
                reason: format!(
                    "not a helm chart: no {MEDIA_TYPE_CHART} layer (layers: {})",
                    if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    }
                ),
            }
        })
}

impl Source for HelmSource<'_> {
    /// The chart's versions: from the repository's index, or the OCI
    /// repository's tags (helm writes `+` as `_` in a tag).
    fn versions(&self, ctx: &FetchContext<'_>) -> Result<Option<Vec<String>>> {
        match &self.cfg.repository {
            HelmRepository::Http(base) => {
                let index = self.index(ctx, base)?;
                Ok(Some(
                    index
                        .entries
                        .get(&self.cfg.name)
                        .map(|vs| vs.iter().map(|v| v.version.0.clone()).collect())
                        .unwrap_or_default(),
                ))
            }
            HelmRepository::Oci(path) => {
                let (repo, name) = self.oci_repository(ctx, path)?;
                let tags = ctx
                    .memo
                    .listing(&format!("registry {name}"), || repo.tags(ctx.op))?;
                Ok(Some(
                    tags.into_iter().map(|t| t.replace('_', "+")).collect(),
                ))
            }
        }
    }

    fn probe(&self, ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        let (lock, verified) = match (&self.cfg.repository, ctx.pinned) {
            // With `cosign:`, a locked version is verified too.
            (HelmRepository::Oci(path), _) if self.cfg.cosign.is_some() => {
                self.probe_oci(ctx, path)?
            }
            // --locked: the locked version is what will be fetched.
            (_, Some(p)) if p.helm_chart.is_some() => (
                LockContent {
                    helm_chart: p.helm_chart.clone(),
                    ..LockContent::default()
                },
                None,
            ),
            (HelmRepository::Http(base), _) => {
                let picked = self.pick(ctx, base)?;
                (lock_entry(picked.version, picked.app_version), None)
            }
            (HelmRepository::Oci(path), _) => self.probe_oci(ctx, path)?,
        };
        let verified: Vec<Verified> = verified.into_iter().collect();
        Ok(Some(Probed {
            lock,
            note: super::signature::note(&verified),
            verified,
        }))
    }

    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        match &self.cfg.repository {
            HelmRepository::Http(base) => self.fetch_http(ctx, base, dest),
            HelmRepository::Oci(path) => self.fetch_oci(ctx, path, dest),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = r#"apiVersion: v1
entries:
  demo:
  - apiVersion: v2
    appVersion: "2.0"
    created: "2024-01-01T00:00:00Z"
    digest: 0f0e
    name: demo
    urls:
    - demo-0.2.0.tgz
    version: 0.2.0
  - appVersion: 3.0.0-rc.1
    name: demo
    urls: [demo-0.3.0-rc.1.tgz]
    version: 0.3.0-rc.1
  - appVersion: 1.0
    name: demo
    urls: [https://cdn.example/demo-0.1.0.tgz]
    version: 0.1.0
  empty: null
generated: "2024-01-01T00:00:00Z"
"#;

    #[test]
    fn selects_as_helm_does() {
        let index = Index::parse(INDEX.as_bytes()).unwrap();
        let v = |w: Option<&str>| index.select("demo", w).map(|c| c.version.0.as_str());
        assert_eq!(v(None), Some("0.2.0"), "newest, prerelease excluded");
        assert_eq!(v(Some("0.1.0")), Some("0.1.0"));
        assert_eq!(v(Some("0.3.0-rc.1")), Some("0.3.0-rc.1"), "exact text wins");
        assert_eq!(v(Some("<0.2.0")), Some("0.1.0"), "a constraint");
        assert_eq!(v(Some("9.9.9")), None);
        assert!(index.select("nope", None).is_none());
        assert!(index.select("empty", None).is_none());
        let old = index.select("demo", Some("0.1.0")).unwrap();
        assert_eq!(old.app_version.0, "1.0", "a plain scalar read as written");
        assert_eq!(index.select("demo", None).unwrap().app_version.0, "2.0");
    }

    #[test]
    fn scalars_are_read_as_written() {
        let zeros = "0".repeat(64);
        let text = format!(
            "entries:\n  d:\n  - {{version: 1.10, appVersion: 007, digest: {zeros}, urls: [x]}}\n"
        );
        let index = Index::parse(text.as_bytes()).unwrap();
        let v = &index.entries["d"][0];
        assert_eq!(
            (
                v.version.0.as_str(),
                v.app_version.0.as_str(),
                v.digest.0.as_str()
            ),
            ("1.10", "007", zeros.as_str())
        );
    }

    #[test]
    fn a_broken_index_is_an_error_not_a_panic() {
        assert!(Index::parse("entries: [".as_bytes()).is_err());
        assert!(Index::parse("entries: {demo: 3}".as_bytes()).is_err());
        assert!(Index::parse("".as_bytes()).is_ok_and(|i| i.entries.is_empty()));
    }

    #[test]
    fn urls_resolve_as_helm_resolves_them() {
        let r = resolve_reference_url;
        assert_eq!(
            r("https://h/charts", "index.yaml"),
            "https://h/charts/index.yaml"
        );
        assert_eq!(
            r("https://h/charts/", "index.yaml"),
            "https://h/charts/index.yaml"
        );
        assert_eq!(r("https://h", "index.yaml"), "https://h/index.yaml");
        assert_eq!(
            r("https://h/charts?sig=1", "demo-0.1.0.tgz"),
            "https://h/charts/demo-0.1.0.tgz?sig=1"
        );
        assert_eq!(r("https://h/a/b", "../c/x.tgz"), "https://h/a/c/x.tgz");
        assert_eq!(r("https://h/a/b", "/x.tgz"), "https://h/x.tgz");
        assert_eq!(r("https://h/a", "//cdn/x.tgz"), "https://cdn/x.tgz");
        assert_eq!(r("https://h/a", "http://o/x.tgz"), "http://o/x.tgz");
        assert_eq!(r("http://h:8080/a", "./x.tgz"), "http://h:8080/a/x.tgz");
    }

    #[test]
    fn credentials_stay_with_their_origin() {
        assert_eq!(
            origin("https://u:p@Repo.example:8443/x?y").unwrap(),
            "https://repo.example:8443"
        );
        assert_ne!(origin("https://h/a"), origin("http://h/a"));
        assert_ne!(origin("https://h/a"), origin("https://h:8443/a"));
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example:5000",
            "[fd00::2]:5000",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
