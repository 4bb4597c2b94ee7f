//! The `image` and `imgpkgBundle` sources (vendir's, which use imgpkg):
//! resolve → fetch the manifest by digest → apply the layers.
//!
//! Registry I/O goes through the same shim, cache and memo as
//! `ociArtifact`. What differs from vendir is written in
//! docs/differences.md: OCI layer semantics (upper layer wins, whiteouts
//! applied), an index refused with its platforms listed, and plain HTTP
//! chosen as go-containerregistry chooses it but with HTTPS tried first.

use std::collections::BTreeMap;
use std::io::Read;

use super::oci::credential_from_secret;
use super::{FetchContext, Fetched, Probed, Progress, Source};
use crate::cache::Tee;
use crate::config::{ImgpkgBundle, RegistryImage, Secret};
use crate::digest::{Algorithm, Digest, HashingReader};
use crate::error::{Error, Result};
use crate::extract::image::{apply_layer, ImageOptions, ImageTotals};
use crate::extract::layer::Compression;
use crate::extract::Root;
use crate::lock::{LockContent, LockImage, LockImgpkgBundle};
use crate::oci::{Descriptor, Manifest, MAX_MANIFEST_BYTES};
use crate::reference::{split_reference, Reference};
use crate::registry::{Credential, RemoteOptions, Repository};
use crate::resolve::select_tag;

/// imgpkg's bundle marker: a label in the image config.
pub const BUNDLE_LABEL: &str = "dev.carvel.imgpkg.bundle";

/// Which content kind, and what it adds.
#[derive(Clone, Copy)]
pub(super) enum Kind<'a> {
    Image,
    Bundle(&'a ImgpkgBundle),
}

pub(super) struct ImageSource<'a> {
    pub cfg: &'a RegistryImage,
    pub kind: Kind<'a>,
}

/// What probing found.
struct Located {
    repo: Repository,
    /// The repository as written (for the lock and messages).
    written: String,
    desc: Descriptor,
    tag: Option<String>,
}

impl ImageSource<'_> {
    fn cosign_key(&self) -> &'static str {
        match self.kind {
            Kind::Image => "image.cosign",
            Kind::Bundle(_) => "imgpkgBundle.cosign",
        }
    }

    fn key(&self) -> &'static str {
        match self.kind {
            Kind::Image => "image.url",
            Kind::Bundle(_) => "imgpkgBundle.image",
        }
    }

    /// Opens the repository named `written` (as written: `host[:port]/path`).
    fn open(&self, ctx: &FetchContext<'_>, written: &str) -> Result<Remote> {
        let reference: Reference =
            written
                .parse()
                .map_err(|e: crate::reference::InvalidReference| {
                    Error::setting(self.key(), Some(written), e.to_string())
                })?;
        let (credential, anonymous) = self.credential(ctx, &reference)?;
        let ca_files = match self.kind {
            Kind::Bundle(b) => b
                .additional_ca_certificates
                .iter()
                .map(|c| ctx.workdir.join(c))
                .collect(),
            Kind::Image => Vec::new(),
        };
        let options = RemoteOptions {
            plain_http: None,
            insecure: self.cfg.dangerous_skip_tls_verify,
            ca_files,
            credential,
            // IMGPKG_ANON=true: no credential store at all.
            docker_config: anonymous.then(|| ctx.workdir.join(".vendoras-no-docker-config")),
            stall_timeout: ctx.stall_timeout.or(self
                .cfg
                .response_header_timeout
                .map(std::time::Duration::from_secs)),
            mirrors: ctx.mirrors.cloned(),
            ..RemoteOptions::default()
        };
        let name = reference.repository_url();
        let primary = match ctx.mirrors {
            Some(m) => m
                .registry_route(&name)
                .endpoints
                .into_iter()
                .find(|e| e.mirror.is_none())
                .map(|e| e.host().to_string()),
            None => Some(reference.registry.clone()),
        };
        Ok(Remote {
            name,
            primary,
            local: loopback_or_private(&reference.registry),
            options,
        })
    }

    /// secretRef, then imgpkg's `IMGPKG_*` variables; `None` leaves the
    /// Docker config to oras-go. The bool is `IMGPKG_ANON=true`.
    fn credential(
        &self,
        ctx: &FetchContext<'_>,
        reference: &Reference,
    ) -> Result<(Option<Credential>, bool)> {
        if let Some(r) = &self.cfg.secret_ref {
            let secret = ctx
                .loaded
                .secrets
                .get(&r.name)
                .ok_or_else(|| Error::setting("secretRef", Some(&r.name), "no such Secret"))?;
            if let Some(c) = secret_credential(secret, reference)? {
                return Ok((Some(c), false));
            }
        }
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("IMGPKG_"))
            .collect();
        Ok(env_credential(&env, reference))
    }

    /// Resolves what will be fetched: the lock's digest (pinned), or the
    /// tag / selected tag / digest of the config.
    fn locate(&self, ctx: &FetchContext<'_>) -> Result<(Located, Option<Manifest>)> {
        let written = split_reference(&self.cfg.reference);
        if let Some(pinned) = ctx.pinned {
            let (url, tag) = match self.kind {
                Kind::Image => pinned
                    .image
                    .as_ref()
                    .map(|i| (i.url.clone(), i.tag.clone())),
                Kind::Bundle(_) => pinned
                    .imgpkg_bundle
                    .as_ref()
                    .map(|b| (b.image.clone(), b.tag.clone())),
            }
            .ok_or_else(|| Error::Lock {
                file: None,
                line: None,
                message: format!(
                    "lock entry for content {:?} is not an {}; run sync without --locked",
                    pinned.path,
                    self.key().split('.').next().unwrap_or_default()
                ),
            })?;
            let locked = split_reference(&url);
            let digest = locked
                .digest
                .as_deref()
                .and_then(|d| d.parse::<Digest>().ok())
                .ok_or_else(|| Error::Lock {
                    file: None,
                    line: None,
                    message: format!("lock entry {url:?} has no digest"),
                })?;
            let remote = self.open(ctx, &locked.repository)?;
            let memo_key = format!("{}@{digest}", remote.name);
            if let Some((desc, Some(m))) = ctx.memo.manifest(&memo_key) {
                let repo = remote.repository(ctx)?;
                return Ok((
                    Located {
                        repo,
                        written: locked.repository,
                        desc,
                        tag,
                    },
                    Some(m),
                ));
            }
            let (repo, (desc, manifest)) =
                remote.call(ctx, |r| r.fetch_reference(ctx.op, &digest.to_string()))?;
            let loc = Located {
                repo,
                written: locked.repository,
                desc,
                tag,
            };
            self.check_image(ctx, &loc, &manifest)?;
            return Ok((loc, Some(manifest)));
        }
        let remote = self.open(ctx, &written.repository)?;
        let (object, tag) = match (&self.cfg.tag_selection, &written.digest, &written.tag) {
            (Some(sel), _, _) => {
                let (_, tags) = remote.call(ctx, |r| r.tags(ctx.op))?;
                let t = select_tag(
                    &tags,
                    &sel.semver.constraints,
                    sel.semver.prerelease_identifiers.as_deref(),
                )?;
                (t.clone(), Some(t))
            }
            (None, Some(d), tag) => (d.clone(), tag.clone()),
            (None, None, Some(t)) => (t.clone(), Some(t.clone())),
            // vendir records no tag when none was written.
            (None, None, None) => ("latest".to_string(), None),
        };
        let (repo, (desc, manifest)) = remote.call(ctx, |r| r.fetch_reference(ctx.op, &object))?;
        let loc = Located {
            repo,
            written: written.repository,
            desc,
            tag,
        };
        self.check_image(ctx, &loc, &manifest)?;
        Ok((loc, Some(manifest)))
    }

    /// An index is refused (as vendir refuses it), naming its platforms.
    fn check_image(
        &self,
        ctx: &FetchContext<'_>,
        loc: &Located,
        manifest: &Manifest,
    ) -> Result<()> {
        let desc = &loc.desc;
        let is_index = !manifest.manifests.is_empty()
            || desc.media_type.contains("index")
            || desc.media_type.contains("manifest.list");
        if !is_index {
            return Ok(());
        }
        let platforms: Vec<String> = manifest
            .manifests
            .iter()
            .map(|m| {
                let p = match m.platform.as_ref().map(ToString::to_string) {
                    Some(p) if p != "/" => p,
                    // An index may omit platforms (crane index append does);
                    // the child's config says it. Only on this error path.
                    _ => config_platform(ctx, &loc.repo, m)
                        .unwrap_or_else(|| "unknown platform".to_string()),
                };
                format!("{p} ({})", m.digest)
            })
            .collect();
        let reason = match self.kind {
            // imgpkg asks "is it a bundle?" first, and an index is not one.
            Kind::Bundle(_) => {
                "The provided image is not a bundle: it is an image index".to_string()
            }
            Kind::Image => format!(
                "Unable to pull non-images, such as image indexes. It lists: {}. Use an \
                 `ociArtifact` content with `platform:` to pick one, or give the digest of one \
                 platform's manifest in `url`",
                if platforms.is_empty() {
                    "no manifests".to_string()
                } else {
                    platforms.join(", ")
                }
            ),
        };
        Err(Error::Artifact {
            reference: format!("{}@{}", loc.written, loc.desc.digest),
            reason,
        })
    }

    fn lock_entry(&self, loc: &Located) -> LockContent {
        let url = format!("{}@{}", loc.written, loc.desc.digest);
        match self.kind {
            Kind::Image => LockContent {
                image: Some(LockImage {
                    url,
                    tag: loc.tag.clone(),
                }),
                ..LockContent::default()
            },
            Kind::Bundle(_) => LockContent {
                imgpkg_bundle: Some(LockImgpkgBundle {
                    image: url,
                    tag: loc.tag.clone(),
                }),
                ..LockContent::default()
            },
        }
    }
}

/// A repository not opened yet, and how: go-containerregistry speaks plain
/// HTTP to loopback, `*.local` and private (RFC 1918) registries; vendoras
/// tries HTTPS first there and falls back to plain HTTP only when the
/// server answers in plain HTTP, so a TLS registry on 127.0.0.1 works too.
/// Whether a server speaks TLS is a property of its `host:port`, so once one
/// repository's fallback worked, the sync's other repositories on that
/// registry go to plain HTTP at once: one failed handshake per registry, not
/// one per repository.
struct Remote {
    name: String,
    /// The primary location's `host[:port]` (a mirrors rule may move it;
    /// `None` when the rule is mirror-only): where plain HTTP goes, and so
    /// the key under which a plain HTTP answer is remembered.
    primary: Option<String>,
    local: bool,
    options: RemoteOptions,
}

impl Remote {
    fn memo_key(&self, plain: bool) -> String {
        let cred = self
            .options
            .credential
            .as_ref()
            .map_or_else(String::new, |c| {
                let json = serde_json::to_vec(c).unwrap_or_default();
                Digest::of(Algorithm::Sha256, &json).to_string()
            });
        format!(
            "image {} plain={plain} {} {:?} {:?} {:?} {cred}",
            self.name,
            self.options.insecure,
            self.options.ca_files,
            self.options.docker_config,
            self.options.stall_timeout
        )
    }

    fn open(&self, ctx: &FetchContext<'_>, plain: bool) -> Result<Repository> {
        let options = RemoteOptions {
            plain_http: Some(plain),
            ..self.options.clone()
        };
        ctx.memo.repository(&self.memo_key(plain), || {
            Repository::open_remote(&self.name, &options)
        })
    }

    /// The repository already chosen in this sync, the plain HTTP one when
    /// its registry answered in plain HTTP before, or the HTTPS one.
    fn repository(&self, ctx: &FetchContext<'_>) -> Result<Repository> {
        if self.local {
            if let Some(r) = ctx.memo.cached_repository(&self.memo_key(true)) {
                return Ok(r);
            }
            if self
                .primary
                .as_deref()
                .is_some_and(|p| ctx.memo.plain_http(p))
            {
                return self.open(ctx, true);
            }
        }
        self.open(ctx, false)
    }

    /// Runs `f` on the repository, switching a local registry to plain HTTP
    /// when it does not speak TLS.
    fn call<T>(
        &self,
        ctx: &FetchContext<'_>,
        f: impl Fn(&Repository) -> Result<T>,
    ) -> Result<(Repository, T)> {
        let repo = self.repository(ctx)?;
        match f(&repo) {
            Err(Error::Registry(e))
                if self.local
                    && e.source
                        .message
                        .contains("server gave HTTP response to HTTPS client") =>
            {
                let plain = self.open(ctx, true)?;
                let out = f(&plain)?;
                if let Some(p) = &self.primary {
                    ctx.memo.put_plain_http(p);
                }
                Ok((plain, out))
            }
            other => other.map(|v| (repo, v)),
        }
    }
}

/// go-containerregistry's `Registry.Scheme()` rule for "http".
fn loopback_or_private(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(registry, |(h, _)| h);
    if registry.starts_with("localhost:")
        || registry.contains("127.0.0.1")
        || registry.contains("::1")
        || host.ends_with(".local")
        || host.ends_with(".localhost")
    {
        return true;
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(ip) => ip.is_private(),
        Err(_) => false,
    }
}

/// Credentials from a Secret, with vendir's key rules: `username`,
/// `password`, `token`, `hostname` (then only for that registry), or a
/// `.dockerconfigjson`. Any other key is refused as vendir refuses it.
fn secret_credential(secret: &Secret, reference: &Reference) -> Result<Option<Credential>> {
    const KNOWN: &[&str] = &[
        "username",
        "password",
        "token",
        "hostname",
        ".dockerconfigjson",
    ];
    if let Some(k) = secret.data.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Error::setting(
            "secretRef",
            Some(&secret.name),
            format!("Unknown secret field '{k}' in secret '{}'", secret.name),
        ));
    }
    if let Some(h) = secret.data.get("hostname") {
        if !host_matches(&String::from_utf8_lossy(h), reference) {
            return Ok(None);
        }
    }
    credential_from_secret(secret, &reference.registry).map(Some)
}

/// Whether an imgpkg hostname (`[https://]host[/path]`) covers `reference`.
fn host_matches(hostname: &str, reference: &Reference) -> bool {
    let h = hostname
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let (host, path) = h.split_once('/').unwrap_or((h, ""));
    let path = path.trim_start_matches("v2/").trim_start_matches("v1/");
    let path = path.trim_end_matches('/');
    host == reference.registry
        && (path.is_empty()
            || reference.repository == path
            || reference.repository.starts_with(&format!("{path}/")))
}

/// imgpkg's environment credentials (`IMGPKG_REGISTRY_HOSTNAME[_N]` with
/// `_USERNAME`, `_PASSWORD`, `_IDENTITY_TOKEN`, `_REGISTRY_TOKEN`; then
/// `IMGPKG_USERNAME`/`IMGPKG_PASSWORD` or `IMGPKG_TOKEN` for any registry;
/// `IMGPKG_ANON=true`), as vendir reads them.
fn env_credential(
    env: &BTreeMap<String, String>,
    reference: &Reference,
) -> (Option<Credential>, bool) {
    const PREFIX: &str = "IMGPKG_REGISTRY_";
    let mut groups: BTreeMap<String, BTreeMap<&str, &str>> = BTreeMap::new();
    for (k, v) in env {
        let Some(rest) = k.strip_prefix(PREFIX) else {
            continue;
        };
        for field in [
            "HOSTNAME",
            "USERNAME",
            "PASSWORD",
            "IDENTITY_TOKEN",
            "REGISTRY_TOKEN",
        ] {
            if rest == field {
                groups.entry(String::new()).or_default().insert(field, v);
            } else if let Some(suffix) = rest.strip_prefix(&format!("{field}_")) {
                groups
                    .entry(suffix.to_string())
                    .or_default()
                    .insert(field, v);
            }
        }
    }
    for g in groups.values() {
        if g.get("HOSTNAME")
            .is_some_and(|h| host_matches(h, reference))
        {
            let get = |f: &str| g.get(f).map(|s| s.to_string()).unwrap_or_default();
            return (
                Some(Credential {
                    username: get("USERNAME"),
                    password: get("PASSWORD"),
                    refresh_token: get("IDENTITY_TOKEN"),
                    access_token: get("REGISTRY_TOKEN"),
                }),
                false,
            );
        }
    }
    let get = |k: &str| env.get(k).filter(|v| !v.is_empty()).cloned();
    if let Some(username) = get("IMGPKG_USERNAME") {
        let password = get("IMGPKG_PASSWORD").unwrap_or_default();
        return (
            Some(Credential {
                username,
                password,
                ..Credential::default()
            }),
            false,
        );
    }
    if let Some(token) = get("IMGPKG_TOKEN") {
        return (
            Some(Credential {
                access_token: token,
                ..Credential::default()
            }),
            false,
        );
    }
    (None, get("IMGPKG_ANON").as_deref() == Some("true"))
}

impl Source for ImageSource<'_> {
    fn versions(&self, ctx: &FetchContext<'_>) -> Result<Option<Vec<String>>> {
        let written = split_reference(&self.cfg.reference);
        let remote = self.open(ctx, &written.repository)?;
        ctx.memo
            .listing(&format!("registry {}", remote.name), || {
                remote.call(ctx, |r| r.tags(ctx.op)).map(|(_, t)| t)
            })
            .map(Some)
    }

    fn probe(&self, ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        let (loc, manifest) = self.locate(ctx)?;
        let manifest = manifest.expect("located with its manifest");
        // The digest just resolved is the one verified, and (through the
        // lock entry that pins the fetch) the one pulled.
        let verified = super::signature::check(
            ctx,
            &loc.repo,
            &loc.desc,
            self.cfg.cosign.as_ref(),
            self.cosign_key(),
        )?;
        if let Kind::Bundle(_) = self.kind {
            check_bundle(ctx, &loc, &manifest)?;
        }
        ctx.memo.put_manifest(
            format!("{}@{}", loc.repo.name(), loc.desc.digest),
            loc.desc.clone(),
            Some(manifest),
        );
        let verified: Vec<_> = verified.into_iter().collect();
        Ok(Some(Probed {
            lock: self.lock_entry(&loc),
            note: super::signature::note(&verified),
            verified,
        }))
    }

    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        // Layers are only fetched for a digest that `probe` resolved (and
        // verified, with `cosign:`); without one, probe first.
        let mut slot = None;
        let ctx = &super::pinned(self, ctx, &mut slot)?;
        let (loc, manifest) = self.locate(ctx)?;
        let manifest = manifest.expect("located with its manifest");
        #[allow(unused_mut)]
        let mut fetched = Fetched::default();
        match self.kind {
            Kind::Image => {
                let totals = self.apply_image(ctx, &loc.repo, &manifest, dest, &mut fetched)?;
                fetched.warnings.extend(totals.warnings);
            }
            Kind::Bundle(b) => {
                check_bundle(ctx, &loc, &manifest)?;
                let bundle = super::imgpkg::Bundle {
                    repo: loc.repo.clone(),
                    written: loc.written.clone(),
                    manifest,
                };
                super::imgpkg::pull(self, ctx, bundle, b.recursive, dest, &mut fetched)?;
                fetched.summary = format!("{}@{}", loc.written, loc.desc.digest);
                fetched.lock = self.lock_entry(&loc);
                return Ok(fetched);
            }
        }
        fetched.summary = format!("{}@{}", loc.written, loc.desc.digest);
        fetched.lock = self.lock_entry(&loc);
        Ok(fetched)
    }
}

impl ImageSource<'_> {
    /// Fetches the manifest `object` of `repository` (as written), with
    /// this content's transport and credentials.
    pub(super) fn fetch_from(
        &self,
        ctx: &FetchContext<'_>,
        repository: &str,
        object: &str,
    ) -> Result<(Repository, Descriptor, Manifest)> {
        let remote = self.open(ctx, repository)?;
        let (repo, (desc, manifest)) = remote.call(ctx, |r| r.fetch_reference(ctx.op, object))?;
        Ok((repo, desc, manifest))
    }

    /// Applies every layer of `manifest` beneath `dest`, in order.
    pub(super) fn apply_image(
        &self,
        ctx: &FetchContext<'_>,
        repo: &Repository,
        manifest: &Manifest,
        dest: &Root,
        fetched: &mut Fetched,
    ) -> Result<ImageTotals> {
        (ctx.progress)(Progress::Expect(
            manifest.layers.iter().map(|l| l.size).sum(),
        ));
        let opts = ImageOptions {
            files: None,
            limits: ctx.limits,
        };
        let mut totals = ImageTotals::default();
        for layer in &manifest.layers {
            let in_layer = |e: Error| e.in_layer(&layer.digest, &layer.media_type, None);
            let compression = Compression::from_media_type(&layer.media_type).ok_or_else(|| {
                in_layer(Error::Artifact {
                    reference: format!("{}@{}", repo.name(), layer.digest),
                    reason: "an image layer must be a tar, tar+gzip or tar+zstd archive"
                        .to_string(),
                })
            })?;
            fetched.bytes += fetch_layer(ctx, repo, layer, |r| {
                apply_layer(r, compression, dest, &opts, &mut totals)
                    .map(|_| ())
                    .map_err(Error::from)
            })
            .map_err(in_layer)?;
        }
        Ok(totals)
    }
}

/// Streams one blob (from the cache when it holds it) through `write`,
/// verifying digest and size before returning. Returns bytes downloaded.
pub(super) fn fetch_layer(
    ctx: &FetchContext<'_>,
    repo: &Repository,
    layer: &Descriptor,
    mut write: impl FnMut(&mut dyn Read) -> Result<()>,
) -> Result<u64> {
    if let Some(file) = ctx.cache.and_then(|c| c.open(&layer.digest, layer.size)) {
        let mut reader = HashingReader::new(file, layer.digest.algorithm());
        let written = write(&mut reader);
        let (digest, size, _) = reader.drain().map_err(|e| Error::io("cache", e))?;
        if digest == layer.digest && size == layer.size {
            (ctx.progress)(Progress::Received(size));
            return written.map(|()| 0);
        }
        // A damaged cache entry: forget it and fetch for real; the layer is
        // applied again over what was written (same paths, upper wins).
        ctx.cache.expect("cache present").evict(&layer.digest);
    }
    let pending = ctx.cache.and_then(|c| c.begin(&layer.digest).ok());
    let stream = repo.open_blob(ctx.op, layer)?;
    let mut tee = Tee::new(stream, pending);
    let written = write(&mut tee);
    if ctx.op.is_cancelled() {
        return Err(Error::Cancelled);
    }
    written?;
    let (stream, pending) = tee.finish().map_err(|e| Error::io("blob stream", e))?;
    let received = stream.received();
    stream.finish()?;
    (ctx.progress)(Progress::Received(received));
    if let Some(p) = pending {
        let _ = p.commit();
    }
    Ok(layer.size)
}

/// Fetches the image config and requires imgpkg's bundle label; returns
/// the config's labels.
fn check_bundle(ctx: &FetchContext<'_>, loc: &Located, manifest: &Manifest) -> Result<()> {
    if !config_labels(ctx, &loc.repo, manifest)?.contains_key(BUNDLE_LABEL) {
        return Err(Error::Artifact {
            reference: format!("{}@{}", loc.written, loc.desc.digest),
            reason: format!(
                "The provided image is not a bundle (its config has no `{BUNDLE_LABEL}` label); \
                 use an `image:` content for a plain image"
            ),
        });
    }
    Ok(())
}

/// `os/architecture[/variant]` from a child manifest's config, if it has one.
fn config_platform(
    ctx: &FetchContext<'_>,
    repo: &Repository,
    child: &Descriptor,
) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Config {
        os: Option<String>,
        architecture: Option<String>,
        variant: Option<String>,
    }
    let (_, manifest) = repo.fetch_manifest(ctx.op, child).ok()?;
    let bytes = repo
        .fetch_bytes(ctx.op, manifest.config.as_ref()?, MAX_MANIFEST_BYTES)
        .ok()?;
    let c: Config = serde_json::from_slice(&bytes).ok()?;
    let (os, arch) = (
        c.os.filter(|s| !s.is_empty())?,
        c.architecture.filter(|s| !s.is_empty())?,
    );
    let mut p = format!("{os}/{arch}");
    if let Some(v) = c.variant {
        p.push('/');
        p.push_str(&v);
    }
    Some(p)
}

/// The `config.Labels` of an image's config blob.
pub(super) fn config_labels(
    ctx: &FetchContext<'_>,
    repo: &Repository,
    manifest: &Manifest,
) -> Result<BTreeMap<String, String>> {
    #[derive(serde::Deserialize, Default)]
    struct Inner {
        #[serde(default, rename = "Labels")]
        labels: Option<BTreeMap<String, String>>,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        config: Option<Inner>,
    }
    let Some(desc) = &manifest.config else {
        return Ok(BTreeMap::new());
    };
    let bytes = repo.fetch_bytes(ctx.op, desc, MAX_MANIFEST_BYTES)?;
    let cfg: Config = serde_json::from_slice(&bytes).map_err(|e| Error::Verify {
        object: "config",
        digest: desc.digest.clone(),
        media_type: desc.media_type.clone(),
        repository: Some(repo.name().to_string()),
        detail: format!("not valid JSON: {e}"),
    })?;
    Ok(cfg.config.and_then(|c| c.labels).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_follows_go_containerregistry() {
        for (r, want) in [
            ("127.0.0.1:5000", true),
            ("localhost:5000", true),
            ("[::1]:5000", true),
            ("registry.local", true),
            ("10.1.2.3:5000", true),
            ("192.168.1.1", true),
            ("ghcr.io", false),
            ("8.8.8.8:443", false),
        ] {
            assert_eq!(loopback_or_private(r), want, "{r}");
        }
    }

    #[test]
    fn env_credentials_as_imgpkg_reads_them() {
        let reference: Reference = "r.io:5000/team/app".parse().unwrap();
        let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (c, anon) = env_credential(
            &env(&[
                ("IMGPKG_REGISTRY_HOSTNAME_0", "other.io"),
                ("IMGPKG_REGISTRY_USERNAME_0", "no"),
                ("IMGPKG_REGISTRY_HOSTNAME_1", "https://r.io:5000/team"),
                ("IMGPKG_REGISTRY_USERNAME_1", "yes"),
                ("IMGPKG_REGISTRY_PASSWORD_1", "pw"),
                ("IMGPKG_USERNAME", "general"),
            ]),
            &reference,
        );
        assert_eq!(c.unwrap().username, "yes");
        assert!(!anon);
        let (c, _) = env_credential(&env(&[("IMGPKG_USERNAME", "general")]), &reference);
        assert_eq!(c.unwrap().username, "general");
        let (c, anon) = env_credential(&env(&[("IMGPKG_ANON", "true")]), &reference);
        assert!(c.is_none() && anon);
    }
}
