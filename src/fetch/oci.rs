//! The `ociArtifact` source: resolve → (verify) → fetch → extract.
//!
//! Layers are processed in manifest order after the `mediaTypes` filter.
//! Each blob streams from the shim (or the cache) through a hash into the
//! extractor; the stream is drained and its digest checked before the
//! content counts as fetched (docs/config.md "What lands on disk"; README "vendoras sync").

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine as _;

use super::{Counting, FetchContext, Fetched, Probed, Progress, Source};
use crate::cache::Tee;
use crate::config::{OciArtifact, OciLocation, Secret, Unpack};
use crate::digest::{Digest, HashingReader};
use crate::error::{Error, Result};
use crate::extract::layer::{extract_archive, extract_oras_directory, Compression};
use crate::extract::{self, Modes, RelPath, Root};
use crate::lock::{LockContent, LockOciArtifact};
use crate::oci::{Descriptor, Manifest, Platform, ANNOTATION_CONTENT_DIGEST, ANNOTATION_UNPACK};
use crate::reference::Reference;
use crate::registry::{Credential, RemoteOptions, Repository};
use crate::resolve::select_tag;
use crate::verify::Verified;

pub(super) struct OciSource<'a> {
    pub cfg: &'a OciArtifact,
    pub permissions: Option<u32>,
}

/// What resolving found.
struct Resolved {
    /// The manifest that will be extracted.
    manifest_desc: Descriptor,
    /// Its document, when it had to be (or was asked to be) fetched.
    manifest: Option<Manifest>,
    /// The index it was chosen from, if any.
    index: Option<Digest>,
    /// What verified the signature, with `cosign:`.
    verified: Option<Verified>,
}

/// Where the artifact lives and how it was named.
struct Located {
    repo: Repository,
    /// `registry/repository` or `oci-layout:<dir>`, for lock URLs.
    name: String,
    /// The tag or digest to resolve.
    object: String,
    /// The tag, when one was resolved (for the lock).
    tag: Option<String>,
    /// With a pinned entry that came from an index: that index's digest.
    index: Option<Digest>,
}

impl OciSource<'_> {
    /// The repository (opened once per sync), its name for lock URLs, and
    /// the tag and digest written in `image`.
    fn open(
        &self,
        ctx: &FetchContext<'_>,
    ) -> Result<(Repository, String, Option<String>, Option<Digest>)> {
        let cfg = self.cfg;
        Ok(match &cfg.location {
            OciLocation::Layout(layout) => {
                let path = ctx.workdir.join(layout);
                (
                    ctx.memo
                        .repository(&format!("layout:{}", path.display()), || {
                            Repository::open_layout(&path)
                        })?,
                    format!("oci-layout:{layout}"),
                    None,
                    None,
                )
            }
            OciLocation::Image(image) => {
                let reference: Reference =
                    image
                        .parse()
                        .map_err(|e: crate::reference::InvalidReference| {
                            Error::setting("ociArtifact.image", None, e.to_string())
                        })?;
                let options = RemoteOptions {
                    plain_http: cfg.plain_http,
                    insecure: cfg.dangerous_skip_tls_verify,
                    credential: match &cfg.secret_ref {
                        Some(r) => Some(credential_from_secret(
                            ctx.loaded.secrets.get(&r.name).ok_or_else(|| {
                                Error::setting(
                                    "ociArtifact.secretRef",
                                    Some(&r.name),
                                    "no such Secret",
                                )
                            })?,
                            &reference.registry,
                        )?),
                        None => None,
                    },
                    stall_timeout: ctx.stall_timeout,
                    mirrors: ctx.mirrors.cloned(),
                    ..RemoteOptions::default()
                };
                let name = reference.repository_url();
                // Everything that configures the connection is in the key; the
                // credential only as a digest.
                let key = format!(
                    "{name} {:?} {} {}",
                    options.plain_http,
                    options.insecure,
                    options.credential.as_ref().map_or_else(String::new, |c| {
                        let json = serde_json::to_vec(c).unwrap_or_default();
                        Digest::of(crate::digest::Algorithm::Sha256, &json).to_string()
                    })
                );
                (
                    ctx.memo
                        .repository(&key, || Repository::open_remote(&name, &options))?,
                    name,
                    reference.tag.clone(),
                    reference.digest.clone(),
                )
            }
        })
    }

    fn locate(&self, ctx: &FetchContext<'_>) -> Result<Located> {
        let cfg = self.cfg;
        let (repo, name, image_tag, image_digest) = self.open(ctx)?;

        // A pinned entry (--locked, or this sync's own probe): exactly
        // the recorded digest.
        if let Some(pinned) = ctx.pinned {
            let entry = pinned.oci_artifact.as_ref().ok_or_else(|| {
                lock_entry_error(format!(
                    "lock entry for content {:?} is not an ociArtifact; run sync without --locked",
                    pinned.path
                ))
            })?;
            let digest = entry
                .url
                .rsplit_once('@')
                .and_then(|(_, d)| d.parse::<Digest>().ok())
                .ok_or_else(|| {
                    lock_entry_error(format!("lock entry url {:?} has no digest", entry.url))
                })?;
            let index = match &entry.index {
                Some(i) => Some(
                    i.parse::<Digest>()
                        .map_err(|e| lock_entry_error(format!("lock entry index {i:?}: {e}")))?,
                ),
                None => None,
            };
            return Ok(Located {
                repo,
                name,
                object: digest.to_string(),
                tag: entry.tag.clone(),
                index,
            });
        }

        let tag = cfg.tag.clone().or(image_tag);
        let (object, tag) = match (&cfg.tag_selection, image_digest, tag) {
            (Some(sel), _, _) => {
                let tags = repo.tags(ctx.op)?;
                let t = select_tag(
                    &tags,
                    &sel.semver.constraints,
                    sel.semver.prerelease_identifiers.as_deref(),
                )?;
                (t.clone(), Some(t))
            }
            (None, Some(d), tag) => (d.to_string(), tag),
            (None, None, Some(t)) => (t.clone(), Some(t)),
            (None, None, None) => ("latest".to_string(), Some("latest".to_string())),
        };
        Ok(Located {
            repo,
            name,
            object,
            tag,
            index: None,
        })
    }
}

impl OciSource<'_> {
    /// Resolves the tag (or tag selection, or digest) once, to the manifest
    /// that will be extracted: after platform selection, or the only
    /// manifest of a single-entry index.
    fn resolve(
        &self,
        ctx: &FetchContext<'_>,
        loc: &Located,
        check_signature: bool,
        need_manifest: bool,
    ) -> Result<Resolved> {
        let platform = match &self.cfg.platform {
            Some(p) => Some(
                p.parse::<Platform>()
                    .map_err(|e| Error::setting("ociArtifact.platform", None, e))?,
            ),
            None => None,
        };
        // The tag is resolved once; the signature is checked on the digest
        // it names (an index's signature covers the children it lists), and
        // the platform is then chosen from that very digest. A pinned entry
        // that came from an index goes through the index the same way.
        // This sync's probe already resolved (and verified) the pinned digest.
        if let (Some(_), None, false) = (ctx.pinned, &loc.index, check_signature) {
            let key = format!("{}@{}", loc.name, loc.object);
            if let Some((manifest_desc, manifest)) = ctx.memo.manifest(&key) {
                return Ok(Resolved {
                    manifest_desc,
                    manifest,
                    index: None,
                    verified: None,
                });
            }
        }
        let top_ref = loc
            .index
            .as_ref()
            .map_or_else(|| loc.object.clone(), Digest::to_string);
        // One GET answers both "which digest?" and "what does it say?".
        let (top, top_manifest) = loc.repo.fetch_reference(ctx.op, &top_ref)?;
        let verified = match check_signature {
            true => super::signature::check(
                ctx,
                &loc.repo,
                &top,
                self.cfg.cosign.as_ref(),
                "ociArtifact.cosign",
            )?,
            false => None,
        };
        let mut manifest_desc = match (&platform, ctx.pinned, &loc.index) {
            // Pinned through an index: the locked manifest must still be
            // one of the (verified) index's manifests.
            (_, Some(_), Some(_)) => top_manifest
                .manifests
                .iter()
                .find(|m| m.digest.to_string() == loc.object)
                .cloned()
                .ok_or_else(|| Error::Artifact {
                    reference: format!("{}@{}", loc.name, top.digest),
                    reason: format!(
                        "the locked manifest {} is not listed by this locked index",
                        loc.object
                    ),
                })?,
            (Some(p), None, _) => loc.repo.resolve(ctx.op, &top.digest.to_string(), Some(p))?,
            _ => top.clone(),
        };
        // The document is already here when no platform was chosen; a
        // platform's manifest is fetched only when the caller needs it.
        let known = (manifest_desc.digest == top.digest).then_some(top_manifest);
        let plain = matches!(
            manifest_desc.media_type.as_str(),
            crate::oci::MEDIA_TYPE_MANIFEST | crate::oci::MEDIA_TYPE_DOCKER_MANIFEST
        );
        if plain && known.is_none() && !need_manifest {
            let index = (manifest_desc.digest != top.digest).then(|| top.digest.clone());
            return Ok(Resolved {
                manifest_desc,
                manifest: None,
                index,
                verified,
            });
        }
        let mut manifest = match known {
            Some(m) => m,
            None => loc.repo.fetch_manifest(ctx.op, &manifest_desc)?.1,
        };
        if !manifest.manifests.is_empty() || manifest.config.is_none() {
            // An index without a platform: fine when it has one manifest.
            let platforms: Vec<String> = manifest
                .manifests
                .iter()
                .map(|m| {
                    m.platform
                        .as_ref()
                        .map_or_else(|| m.digest.to_string(), |p| p.to_string())
                })
                .collect();
            if manifest.manifests.len() != 1 {
                let sep = if loc.object.parse::<Digest>().is_ok() {
                    '@'
                } else {
                    ':'
                };
                return Err(Error::Artifact {
                    reference: format!("{}{sep}{}", loc.name, loc.object),
                    reason: format!(
                        "an index of {} manifests; set ociArtifact.platform to one of: {}",
                        manifest.manifests.len(),
                        platforms.join(", ")
                    ),
                });
            }
            manifest_desc = manifest.manifests[0].clone();
            manifest = loc.repo.fetch_manifest(ctx.op, &manifest_desc)?.1;
        }
        let index = (manifest_desc.digest != top.digest).then(|| top.digest.clone());
        Ok(Resolved {
            manifest_desc,
            manifest: Some(manifest),
            index,
            verified,
        })
    }

    fn lock_entry(loc: &Located, resolved: &Resolved) -> LockContent {
        LockContent {
            oci_artifact: Some(LockOciArtifact {
                url: format!("{}@{}", loc.name, resolved.manifest_desc.digest),
                tag: loc.tag.clone(),
                index: resolved.index.as_ref().map(Digest::to_string),
            }),
            ..LockContent::default()
        }
    }
}

impl Source for OciSource<'_> {
    fn versions(&self, ctx: &FetchContext<'_>) -> Result<Option<Vec<String>>> {
        let (repo, name, ..) = self.open(ctx)?;
        ctx.memo
            .listing(&format!("registry {name}"), || repo.tags(ctx.op))
            .map(Some)
    }

    fn probe(&self, ctx: &FetchContext<'_>) -> Result<Option<Probed>> {
        let loc = self.locate(ctx)?;
        let resolved = self.resolve(ctx, &loc, true, false)?;
        if resolved.index.is_none() {
            ctx.memo.put_manifest(
                format!("{}@{}", loc.name, resolved.manifest_desc.digest),
                resolved.manifest_desc.clone(),
                resolved.manifest.clone(),
            );
        }
        Ok(Some(Probed {
            lock: Self::lock_entry(&loc, &resolved),
            note: super::signature::note(resolved.verified.as_slice()),
            verified: resolved.verified.into_iter().collect(),
        }))
    }

    fn fetch(&self, ctx: &FetchContext<'_>, dest: &Root) -> Result<Fetched> {
        // Layers are only fetched for a digest that `probe` resolved (and
        // verified, with `cosign:`); without one, probe first.
        let mut slot = None;
        let ctx = &super::pinned(self, ctx, &mut slot)?;
        let loc = self.locate(ctx)?;
        let mut resolved = self.resolve(ctx, &loc, false, true)?;
        if resolved.manifest.is_none() {
            resolved.manifest = Some(loc.repo.fetch_manifest(ctx.op, &resolved.manifest_desc)?.1);
        }
        let manifest_desc = &resolved.manifest_desc;
        let manifest = resolved.manifest.as_ref().expect("fetched above");

        let mut layers: Vec<&Descriptor> = manifest.layers.iter().collect();
        if !self.cfg.media_types.is_empty() {
            layers.retain(|l| self.cfg.media_types.iter().any(|m| m == &l.media_type));
        }
        if layers.is_empty() {
            let have: Vec<String> = manifest
                .layers
                .iter()
                .map(|l| format!("{} ({})", l.media_type, l.digest))
                .collect();
            return Err(Error::Artifact {
                reference: format!("{}@{}", loc.name, manifest_desc.digest),
                reason: format!(
                    "no layer left after the mediaTypes filter; the artifact has: {}",
                    if have.is_empty() {
                        "no layers".to_string()
                    } else {
                        have.join(", ")
                    }
                ),
            });
        }

        (ctx.progress)(Progress::Expect(layers.iter().map(|l| l.size).sum()));
        let mut fetched = Fetched::default();
        let mut owners: BTreeMap<RelPath, String> = BTreeMap::new();
        for layer in layers {
            let what = format!("layer {} ({})", layer.digest, layer.media_type);
            let in_layer = |e: Error| e.in_layer(&layer.digest, &layer.media_type, None);
            let reference = format!("{}@{}", loc.name, manifest_desc.digest);
            let plan = plan_layer(layer, self.cfg.unpack, &reference).map_err(in_layer)?;
            let Some(plan) = plan else {
                fetched.warnings.push(format!(
                    "Skipped pulling layers without file name in \"org.opencontainers.image.title\": {what}"
                ));
                continue;
            };
            let (report_paths, warnings, bytes) = self
                .fetch_layer(ctx, &loc.repo, layer, &plan, dest)
                .map_err(in_layer)?;
            fetched.bytes += bytes;
            fetched
                .warnings
                .extend(warnings.into_iter().map(|w| format!("{what}: {w}")));
            for p in report_paths {
                if let Some(prev) = owners.insert(p.clone(), what.clone()) {
                    if prev != what {
                        return Err(Error::entry(
                            p.to_string(),
                            format!("written by both {prev} and {what}"),
                        ));
                    }
                }
            }
        }
        fetched.summary = format!("{}@{}", loc.name, manifest_desc.digest);
        fetched.files = Some(owners.len() as u64);
        fetched.lock = Self::lock_entry(&loc, &resolved);
        Ok(fetched)
    }
}

/// How one layer lands (docs/config.md, "What lands on disk").
enum Plan {
    /// An oras directory tarball, extracted under its title.
    Directory {
        title: RelPath,
        digest: Option<Digest>,
    },
    /// A plain file at its title.
    File { title: RelPath },
    /// A tar archive extracted into the content root.
    Archive(Compression),
}

/// `reference` is the manifest's (`registry/repository@digest`), for errors.
fn plan_layer(layer: &Descriptor, unpack: Unpack, reference: &str) -> Result<Option<Plan>> {
    let title = || {
        let t = layer.title().unwrap_or_default();
        RelPath::normalize(t)
            .filter(|r| !r.is_root())
            .ok_or_else(|| Error::entry(t, "the title must be a relative path inside the content"))
    };
    let archive = || {
        Compression::from_media_type(&layer.media_type).map(Plan::Archive).ok_or_else(|| {
            Error::Artifact {
                reference: reference.to_string(),
                reason: "not an archive: the media type names neither tar, tar+gzip nor tar+zstd, and the layer has no \
                 org.opencontainers.image.title to write it to; exclude it by listing the media types you want under mediaTypes"
                    .to_string(),
            }
        })
    };
    let unpack_dir = layer.annotations.get(ANNOTATION_UNPACK).map(String::as_str) == Some("true");
    Ok(match (unpack, layer.title().is_some()) {
        (Unpack::Archives, _) => Some(archive()?),
        (_, true) if unpack_dir => Some(Plan::Directory {
            title: title()?,
            digest: layer
                .annotations
                .get(ANNOTATION_CONTENT_DIGEST)
                .and_then(|d| d.parse().ok()),
        }),
        (_, true) => Some(Plan::File { title: title()? }),
        (Unpack::Files, false) => None,
        (Unpack::Auto, false) => Some(archive()?),
    })
}

impl OciSource<'_> {
    /// Fetches one layer (from the cache when it holds it) and writes it.
    fn fetch_layer(
        &self,
        ctx: &FetchContext<'_>,
        repo: &Repository,
        layer: &Descriptor,
        plan: &Plan,
        dest: &Root,
    ) -> Result<(Vec<RelPath>, Vec<String>, u64)> {
        if let Some(file) = ctx.cache.and_then(|c| c.open(&layer.digest, layer.size)) {
            let mut reader = HashingReader::new(file, layer.digest.algorithm());
            let written = self.write_layer(&mut reader, plan, dest, ctx.limits);
            let (digest, size, _) = reader.drain().map_err(|e| Error::io("cache", e))?;
            if digest == layer.digest && size == layer.size {
                (ctx.progress)(Progress::Received(size));
                return written.map(|(paths, warnings)| (paths, warnings, 0));
            }
            // A damaged cache entry: forget it and fetch for real. What was
            // written is overwritten entry by entry below.
            ctx.cache.expect("cache present").evict(&layer.digest);
        }
        let pending = match ctx.cache {
            Some(c) => c.begin(&layer.digest).ok(),
            None => None,
        };
        let stream = repo.open_blob(ctx.op, layer)?;
        let mut tee = Tee::new(
            Counting {
                inner: stream,
                progress: ctx.progress,
            },
            pending,
        );
        let written = self.write_layer(&mut tee, plan, dest, ctx.limits);
        if ctx.op.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let (paths, warnings) = written?;
        let (counting, pending) = tee.finish().map_err(|e| Error::io("blob stream", e))?;
        counting.inner.finish()?;
        if let Some(p) = pending {
            let _ = p.commit(); // a cache that cannot be written is not an error
        }
        Ok((paths, warnings, layer.size))
    }

    fn write_layer<R: Read>(
        &self,
        reader: &mut R,
        plan: &Plan,
        dest: &Root,
        limits: extract::Limits,
    ) -> Result<(Vec<RelPath>, Vec<String>)> {
        let opts = |within: RelPath| extract::Options {
            within,
            final_root: None,
            modes: Modes::Normalized {
                files: self.permissions,
            },
            limits,
            create_parents: true,
            refuse_whiteouts: true,
        };
        match plan {
            Plan::File { title } => {
                let mut file = dest
                    .create_file(title, 0o600, Some(0o755))
                    .map_err(|e| Error::io(title.to_string(), e))?;
                crate::extract::archive::copy(reader, &mut file, &mut vec![0u8; 1 << 20])
                    .map_err(|e| Error::io(title.to_string(), e))?;
                extract::root::set_mode(&file, self.permissions.unwrap_or(0o644))
                    .map_err(|e| Error::io(title.to_string(), e))?;
                Ok((vec![title.clone()], Vec::new()))
            }
            Plan::Directory { title, digest } => {
                let (report, _) =
                    extract_oras_directory(reader, digest.as_ref(), dest, &opts(title.clone()))
                        .map_err(Error::from)?;
                Ok((report.paths, report.warnings))
            }
            Plan::Archive(compression) => {
                let (report, _) =
                    extract_archive(reader, *compression, dest, &opts(RelPath::root()))
                        .map_err(Error::from)?;
                Ok((report.paths, report.warnings))
            }
        }
    }
}

/// Credentials from a vendir-style Secret: `username`/`password`, `token`,
/// or a `.dockerconfigjson` holding an entry for `registry`.
pub(super) fn credential_from_secret(secret: &Secret, registry: &str) -> Result<Credential> {
    let get = |k: &str| {
        secret
            .data
            .get(k)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    if let Some(json) = secret.data.get(".dockerconfigjson") {
        #[derive(serde::Deserialize)]
        struct Auth {
            #[serde(default)]
            auth: String,
            #[serde(default)]
            username: String,
            #[serde(default)]
            password: String,
            #[serde(default, rename = "identitytoken")]
            identity_token: String,
        }
        #[derive(serde::Deserialize)]
        struct DockerConfig {
            #[serde(default)]
            auths: BTreeMap<String, Auth>,
        }
        let cfg: DockerConfig = serde_json::from_slice(json).map_err(|e| {
            Error::setting(
                "secret",
                Some(&secret.name),
                format!(".dockerconfigjson is not valid JSON: {e}"),
            )
        })?;
        let entry = cfg
            .auths
            .iter()
            .find(|(k, _)| {
                let k = k
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                k.split('/').next() == Some(registry)
            })
            .map(|(_, v)| v)
            .ok_or_else(|| {
                Error::setting(
                    "secret",
                    Some(&secret.name),
                    format!(".dockerconfigjson has no entry for {registry}"),
                )
            })?;
        let (mut username, mut password) = (entry.username.clone(), entry.password.clone());
        if !entry.auth.is_empty() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(entry.auth.trim())
                .map_err(|_| {
                    Error::setting(
                        "secret",
                        Some(&secret.name),
                        format!("bad auth field for {registry}"),
                    )
                })?;
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            let (u, p) = decoded.split_once(':').unwrap_or((&decoded, ""));
            (username, password) = (u.to_string(), p.to_string());
        }
        return Ok(Credential {
            username,
            password,
            refresh_token: entry.identity_token.clone(),
            ..Credential::default()
        });
    }
    if let Some(token) = get("token") {
        return Ok(Credential {
            access_token: token,
            ..Credential::default()
        });
    }
    match (get("username"), get("password")) {
        (Some(username), Some(password)) => Ok(Credential {
            username,
            password,
            ..Credential::default()
        }),
        _ => Err(Error::setting(
            "secret",
            Some(&secret.name),
            "expected keys username and password, token, or .dockerconfigjson",
        )),
    }
}

/// A lock entry handed down by `--locked` (or this sync's probe) that does
/// not describe an `ociArtifact`; the sync engine adds which content.
fn lock_entry_error(message: String) -> Error {
    Error::Lock {
        file: None,
        line: None,
        message,
    }
}
