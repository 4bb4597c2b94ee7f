//! imgpkg bundles, as vendir pulls them (imgpkg v0.46 `bundle.Pull`):
//! the bundle image's files; `.imgpkg/images.yml` rewritten to the
//! bundle's repository when that repository holds every image it lists
//! (each checked by digest; 404, 401 and 403 mean "not there"); with
//! `recursive`, every listed image that is itself a bundle pulled into
//! `.imgpkg/bundles/sha256-<hex>/` of the top bundle, each once.
//!
//! Not done: imgpkg's "image locations" image (written by `imgpkg copy`),
//! which only saves the per-image checks; the result is the same.

use std::collections::{BTreeMap, HashSet};

use super::image::{config_labels, ImageSource, BUNDLE_LABEL};
use super::{FetchContext, Fetched};
use crate::error::{Error, Result};
use crate::extract::{RelPath, Root};
use crate::goyaml::{self, Node};
use crate::oci::Manifest;
use crate::reference::split_reference;
use crate::registry::Repository;

/// A bundle to pull: where it lives and its manifest.
pub(super) struct Bundle {
    pub repo: Repository,
    /// Its repository as written (in images.yml or the config).
    pub written: String,
    pub manifest: Manifest,
}

/// `.imgpkg/images.yml` as imgpkg reads it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImagesLock {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    images: Vec<ImageRef>,
}

#[derive(Debug, serde::Deserialize)]
struct ImageRef {
    #[serde(default)]
    image: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

const IMAGES_YML: &str = ".imgpkg/images.yml";

/// Pulls `top` into `dest` (and its nested bundles, with `recursive`).
pub(super) fn pull(
    source: &ImageSource<'_>,
    ctx: &FetchContext<'_>,
    top: Bundle,
    recursive: bool,
    dest: &Root,
    fetched: &mut Fetched,
) -> Result<()> {
    let mut seen = HashSet::new();
    pull_one(
        source,
        ctx,
        &top,
        recursive,
        dest,
        &RelPath::root(),
        &mut seen,
        fetched,
    )
}

/// One bundle at `at` beneath the top bundle's directory; nested bundles
/// depth-first in images.yml order, all in the top one's `.imgpkg/bundles`.
#[allow(clippy::too_many_arguments)]
fn pull_one(
    source: &ImageSource<'_>,
    ctx: &FetchContext<'_>,
    bundle: &Bundle,
    recursive: bool,
    dest: &Root,
    at: &RelPath,
    seen: &mut HashSet<String>,
    fetched: &mut Fetched,
) -> Result<()> {
    let sub;
    let root = if at.is_root() {
        dest
    } else {
        // imgpkg empties a nested bundle's directory before writing it.
        dest.remove_all(at)
            .map_err(|e| Error::io(at.to_string(), e))?;
        sub = dest.subroot(at).map_err(|e| Error::io(at.to_string(), e))?;
        &sub
    };
    let totals = source.apply_image(ctx, &bundle.repo, &bundle.manifest, root, fetched)?;
    fetched.warnings.extend(totals.warnings);
    let images = relocate(ctx, bundle, root)?;
    if let Some(c) = source.cfg.cosign.as_ref().filter(|c| c.images) {
        // Every listed image, before any nested bundle is pulled.
        for image in &images {
            let parts = split_reference(image);
            let Some(digest) = parts.digest.as_deref() else {
                return Err(Error::entry(
                    IMAGES_YML,
                    format!(
                        "{image}: imgpkgBundle.cosign.images needs every listed image by digest"
                    ),
                ));
            };
            let (repo, desc, _) = source.fetch_from(ctx, &parts.repository, digest)?;
            // The error names the repository and digest of the listed image.
            let v = super::signature::check(ctx, &repo, &desc, Some(c), "imgpkgBundle.cosign")?;
            fetched.verified.extend(v);
        }
    }
    if !recursive {
        return Ok(());
    }
    for image in images {
        let parts = split_reference(&image);
        let Some(digest) = parts.digest.clone() else {
            continue;
        };
        if !seen.insert(digest.clone()) {
            continue;
        }
        let Some(nested) = open_bundle(source, ctx, &parts.repository, &digest)? else {
            continue;
        };
        let dir = format!(".imgpkg/bundles/{}", digest.replace("sha256:", "sha256-"));
        let rel = RelPath::normalize(&dir)
            .ok_or_else(|| Error::entry(&dir, "not a path inside the bundle"))?;
        pull_one(source, ctx, &nested, recursive, dest, &rel, seen, fetched)?;
    }
    Ok(())
}

/// The bundle at `repository@digest`, or `None` when it is not a bundle.
fn open_bundle(
    source: &ImageSource<'_>,
    ctx: &FetchContext<'_>,
    repository: &str,
    digest: &str,
) -> Result<Option<Bundle>> {
    let (repo, desc, manifest) = source.fetch_from(ctx, repository, digest)?;
    if !manifest.manifests.is_empty() || desc.media_type.contains("index") {
        return Ok(None);
    }
    if !config_labels(ctx, &repo, &manifest)?.contains_key(BUNDLE_LABEL) {
        return Ok(None);
    }
    Ok(Some(Bundle {
        repo,
        written: repository.to_string(),
        manifest,
    }))
}

/// Rewrites `.imgpkg/images.yml` to the bundle's repository when it holds
/// every listed image; returns the images' locations (rewritten or not).
fn relocate(ctx: &FetchContext<'_>, bundle: &Bundle, root: &Root) -> Result<Vec<String>> {
    let rel = RelPath::normalize(IMAGES_YML).expect("a relative path");
    let Some(bytes) = root
        .read_file(&rel, 16 << 20)
        .map_err(|e| Error::io(IMAGES_YML, e))?
    else {
        return Err(Error::entry(
            IMAGES_YML,
            "a bundle must hold .imgpkg/images.yml (imgpkg refuses a bundle without it)",
        ));
    };
    let text = String::from_utf8_lossy(&bytes);
    let lock: ImagesLock = serde_saphyr::from_str(&text)
        .map_err(|e| Error::entry(IMAGES_YML, format!("not an ImagesLock: {e}")))?;
    let original: Vec<String> = lock.images.iter().map(|i| i.image.clone()).collect();
    let mut relocated = Vec::new();
    for image in &original {
        let Some(digest) = split_reference(image).digest else {
            return Ok(original);
        };
        match bundle.repo.resolve(ctx.op, &digest, None) {
            Ok(_) => relocated.push(format!("{}@{digest}", bundle.written)),
            Err(Error::Registry(e)) if matches!(e.status, Some(404 | 401 | 403)) => {
                return Ok(original)
            }
            Err(e) => return Err(e),
        }
    }
    // imgpkg rewrites the file in place (os.WriteFile keeps an existing
    // file's mode), so it keeps the mode the bundle layer gave it.
    let mode = root
        .open_file(&rel)
        .and_then(|f| f.metadata())
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .map_err(|e| Error::io(IMAGES_YML, e))?;
    let mut file = root
        .create_file(&rel, 0o600, None)
        .map_err(|e| Error::io(IMAGES_YML, e))?;
    let text = images_lock_yaml(&lock, &relocated);
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(IMAGES_YML, e))?;
    crate::extract::root::set_mode(&file, mode).map_err(|e| Error::io(IMAGES_YML, e))?;
    Ok(relocated)
}

/// The ImagesLock as imgpkg writes it: `---`, then sigs.k8s.io/yaml's text
/// ([`goyaml`]) of its struct (`images` and `annotations` omitted when empty).
fn images_lock_yaml(lock: &ImagesLock, images: &[String]) -> String {
    let mut doc = vec![
        ("apiVersion".to_string(), Node::str(&lock.api_version)),
        ("kind".to_string(), Node::str(&lock.kind)),
    ];
    let refs: Vec<Node> = images
        .iter()
        .zip(&lock.images)
        .map(|(img, orig)| {
            let mut entry = vec![("image".to_string(), Node::str(img))];
            if !orig.annotations.is_empty() {
                let annotations = orig
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), Node::str(v)))
                    .collect();
                entry.push(("annotations".to_string(), Node::Map(annotations)));
            }
            Node::Map(entry)
        })
        .collect();
    if !refs.is_empty() {
        doc.push(("images".to_string(), Node::Seq(refs)));
    }
    format!("---\n{}", goyaml::to_string(&Node::Map(doc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_lock_is_written_as_imgpkg_writes_it() {
        let lock = ImagesLock {
            api_version: "imgpkg.carvel.dev/v1alpha1".into(),
            kind: "ImagesLock".into(),
            images: vec![ImageRef {
                image: "a.io/x@sha256:00".into(),
                annotations: [("kbld.carvel.dev/id".to_string(), "1.0".to_string())].into(),
            }],
        };
        assert_eq!(
            images_lock_yaml(&lock, &["b.io/y@sha256:00".to_string()]),
            "---\napiVersion: imgpkg.carvel.dev/v1alpha1\nimages:\n- annotations:\n    \
             kbld.carvel.dev/id: \"1.0\"\n  image: b.io/y@sha256:00\nkind: ImagesLock\n"
        );
    }
}
