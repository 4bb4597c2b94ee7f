//! OCI image-spec types: descriptors, manifests, indexes, platforms.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

/// `org.opencontainers.image.title`: the file name oras gives a layer.
pub const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
/// `io.deis.oras.content.unpack`: "true" on oras directory tarballs.
pub const ANNOTATION_UNPACK: &str = "io.deis.oras.content.unpack";
/// `io.deis.oras.content.digest`: digest of the uncompressed tar of a directory.
pub const ANNOTATION_CONTENT_DIGEST: &str = "io.deis.oras.content.digest";

/// OCI image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 2 manifest.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// The empty JSON config `{}`.
pub const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// Manifests and indexes larger than this are refused (oras-go's default).
pub const MAX_MANIFEST_BYTES: i64 = 4 * 1024 * 1024;

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Descriptor {
    /// The media type of the referenced content.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Alternate download locations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The platform, for index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type, for index entries and referrers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor with just the three required fields.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }

    /// The title annotation, when present and non-empty.
    pub fn title(&self) -> Option<&str> {
        self.annotations
            .get(ANNOTATION_TITLE)
            .map(String::as_str)
            .filter(|t| !t.is_empty())
    }

    /// Whether this is oras's empty config `{}` (the annotations aside).
    pub(crate) fn is_empty_json(&self) -> bool {
        self.media_type == MEDIA_TYPE_EMPTY
            && self.size == 2
            && self.digest.to_string()
                == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    }

    /// Whether the media type names a manifest or an index (content with
    /// successors).
    pub fn is_manifest(&self) -> bool {
        is_manifest_media_type(&self.media_type)
    }

    /// Identity of the content, ignoring annotations and platform: what
    /// oras-go's copy de-duplicates on.
    pub(crate) fn content_key(&self) -> (String, Digest, u64) {
        (self.media_type.clone(), self.digest.clone(), self.size)
    }
}

/// Whether `media_type` is an OCI or Docker manifest or index.
pub fn is_manifest_media_type(media_type: &str) -> bool {
    matches!(
        media_type,
        MEDIA_TYPE_MANIFEST
            | MEDIA_TYPE_INDEX
            | MEDIA_TYPE_DOCKER_MANIFEST
            | MEDIA_TYPE_DOCKER_LIST
    )
}

/// A platform `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// Architecture, e.g. `amd64`.
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// OS version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl FromStr for Platform {
    type Err = String;
    /// Parses `os/arch[/variant]` (as `oras --platform` does; an
    /// `:os.version` suffix is accepted too).
    fn from_str(s: &str) -> Result<Platform, String> {
        let (main, os_version) = match s.split_once(':') {
            Some((m, v)) => (m, Some(v.to_string())),
            None => (s, None),
        };
        let parts: Vec<&str> = main.split('/').collect();
        if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "failed to parse platform {s:?}: expected format os/arch[/variant]"
            ));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
            os_version,
            os_features: Vec::new(),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest (or the manifest-shaped parts of any manifest or index
/// document; unknown fields are ignored as the spec requires).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Manifest {
    /// Always 2.
    #[serde(default)]
    pub schema_version: u32,
    /// The manifest's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob (absent in an index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Descriptor>,
    /// Layers (absent in an index).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Descriptor>,
    /// Child manifests (index only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// Parses a manifest or index document.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_parsing() {
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()),
            ("linux", "arm64", Some("v8"))
        );
        assert_eq!(p.to_string(), "linux/arm64/v8");
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//".parse::<Platform>().is_err());
    }

    #[test]
    fn empty_config_is_recognised() {
        let d: Descriptor = serde_json::from_str(
            r#"{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}"#,
        )
        .unwrap();
        assert!(d.is_empty_json());
        assert_eq!(d.title(), None);
    }
}
