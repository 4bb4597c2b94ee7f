//! The validated config: what sync and the sources work from.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::relpath::RelPath;
use crate::verify::Signers;

/// A vendir `Config` document, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `minimumRequiredVersion`, as written (a vendir version).
    pub minimum_required_version: Option<String>,
    /// `directories`, in file order.
    pub directories: Vec<Directory>,
}

/// One `directories[]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    /// The path relative to the working directory, normalised and
    /// `/`-separated. It may start with `../` when it stays inside the
    /// project, and be anything with `--allow-outside-paths`; it never
    /// contains the working directory.
    pub path: String,
    /// `permissions` (octal in the file), at most `0o777`.
    pub permissions: Option<u32>,
    /// `contents`, in file order; at least one.
    pub contents: Vec<Content>,
}

/// One `contents[]` entry of a directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Content {
    /// Path relative to the directory; the root is the directory itself.
    pub path: RelPath,
    /// `lazy`: skip when the content's config is unchanged since the last sync.
    pub lazy: bool,
    /// `includePaths` globs (validated).
    pub include_paths: Vec<String>,
    /// `excludePaths` globs (validated).
    pub exclude_paths: Vec<String>,
    /// `ignorePaths` globs (validated): existing files sync must keep.
    pub ignore_paths: Vec<String>,
    /// `legalPaths` globs; `None` means vendir's defaults, `Some(vec![])` none.
    pub legal_paths: Option<Vec<String>>,
    /// `newRootPath`; `None` when absent or `.`.
    pub new_root_path: Option<RelPath>,
    /// `permissions` (octal in the file), at most `0o777`.
    pub permissions: Option<u32>,
    /// The one source.
    pub source: Source,
    /// The content's mapping as given (after YAML merge keys), as JSON; the
    /// input to the `lazy` config digest.
    pub raw: serde_json::Value,
}

impl Content {
    /// The source's key in `vendir.yml`.
    pub fn source_kind(&self) -> &'static str {
        self.source.kind()
    }
}

/// A content's source: one variant per source kind vendoras fetches.
// Not boxed: the engine matches `Source::OciArtifact(o)` directly, and a
// handful of these per config costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `ociArtifact:`.
    OciArtifact(OciArtifact),
    /// `manual: {}`: files managed by hand, kept as they are.
    Manual,
    /// `directory: {path}`: copy a local directory.
    Directory {
        /// The local directory to copy (as written; may be outside).
        path: String,
    },
    /// `inline:`: files given in the config or from Secrets/ConfigMaps.
    Inline(Inline),
    /// `image:`: an image's filesystem (OCI layer semantics).
    Image(RegistryImage),
    /// `imgpkgBundle:`: an imgpkg bundle's files.
    ImgpkgBundle(ImgpkgBundle),
}

impl Source {
    /// The source's key in `vendir.yml`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::OciArtifact(_) => "ociArtifact",
            Source::Manual => "manual",
            Source::Directory { .. } => "directory",
            Source::Inline(_) => "inline",
            Source::Image(_) => "image",
            Source::ImgpkgBundle(_) => "imgpkgBundle",
        }
    }
}

/// The `ociArtifact` source (docs/config.md).
#[derive(Debug, Clone, PartialEq)]
pub struct OciArtifact {
    /// Where the artifact is: a registry or a local OCI layout.
    pub location: OciLocation,
    /// `tag`; `None` when not given (the engine applies `latest`).
    pub tag: Option<String>,
    /// `tagSelection` (excludes `tag` and a digest in `image`).
    pub tag_selection: Option<TagSelection>,
    /// `mediaTypes`: keep only layers with these media types; empty = all.
    pub media_types: Vec<String>,
    /// `platform`, e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// `unpack` mode.
    pub unpack: Unpack,
    /// `secretRef`: registry credentials (the Secret exists).
    pub secret_ref: Option<SecretRef>,
    /// `plainHTTP`; `None` when not given.
    pub plain_http: Option<bool>,
    /// `dangerousSkipTLSVerify`.
    pub dangerous_skip_tls_verify: bool,
    /// `cosign` verification (docs/config.md).
    pub cosign: Option<Cosign>,
}

/// An image in a registry, as the `image` and `imgpkgBundle` sources name
/// it (docs/config.md).
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryImage {
    /// `url` (`image` for a bundle): repository, optionally `:tag` or
    /// `@digest`; neither means `latest`.
    pub reference: String,
    /// `tagSelection` (no tag or digest in `reference` then).
    pub tag_selection: Option<TagSelection>,
    /// `secretRef`: registry credentials (the Secret exists).
    pub secret_ref: Option<SecretRef>,
    /// `responseHeaderTimeout` in seconds: this content's stall timeout
    /// unless `--stall-timeout` or its variable is set.
    pub response_header_timeout: Option<u64>,
    /// `dangerousSkipTLSVerify`.
    pub dangerous_skip_tls_verify: bool,
}

/// The `imgpkgBundle` source (docs/config.md).
#[derive(Debug, Clone, PartialEq)]
pub struct ImgpkgBundle {
    /// The bundle image and how to reach it.
    pub image: RegistryImage,
    /// `recursive`: also pull nested bundles into `.imgpkg/bundles/`.
    pub recursive: bool,
    /// `additionalCACertificates`: PEM files (as written, relative to the
    /// working directory).
    pub additional_ca_certificates: Vec<String>,
}

/// `image` or `ociLayout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciLocation {
    /// `image`: repository, possibly with `:tag` and/or `@digest` (unparsed).
    Image(String),
    /// `ociLayout`: a local OCI image layout directory (as written).
    Layout(String),
}

/// How layers land on disk (docs/config.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unpack {
    /// `auto` (default).
    #[default]
    Auto,
    /// `files`: exactly what `oras pull` writes.
    Files,
    /// `archives`: every selected layer is an archive, extracted.
    Archives,
}

/// `tagSelection` (vendir's `VersionSelection`).
#[derive(Debug, Clone, PartialEq)]
pub struct TagSelection {
    /// `semver`.
    pub semver: Semver,
}

/// `tagSelection.semver`.
#[derive(Debug, Clone, PartialEq)]
pub struct Semver {
    /// `constraints`, e.g. `>=1.2.0 <2.0.0`.
    pub constraints: String,
    /// `prereleases.identifiers`: `None` = no prereleases; `Some(vec![])`
    /// (`prereleases: {}`) = all prereleases; otherwise only those whose
    /// prerelease part has one of these identifiers.
    pub prerelease_identifiers: Option<Vec<String>>,
}

/// A reference to a `Secret` document by name (it exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// `metadata.name` of the Secret.
    pub name: String,
}

/// `cosign:` (docs/config.md): who may have signed, and the trust root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosign {
    /// Key-based (a key file or a Secret's `*.pub` keys) or keyless.
    pub signers: Signers<CosignKey>,
    /// `trustedRoot`: a `trusted_root.json` for private Sigstore (as written).
    pub trusted_root: Option<String>,
}

/// Where a cosign public key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CosignKey {
    /// `key`: a PEM file (as written, relative to the working directory).
    File(String),
    /// `secretRef`: every `*.pub` key of this Secret.
    Secret(SecretRef),
}

/// The `inline` source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inline {
    /// `paths`: file path → content.
    pub paths: BTreeMap<RelPath, String>,
    /// `pathsFrom`.
    pub paths_from: Vec<InlineFrom>,
}

/// One `inline.pathsFrom[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InlineFrom {
    /// `secretRef`: every key of the Secret becomes a file.
    Secret(InlineRef),
    /// `configMapRef`: every key of the ConfigMap becomes a file.
    ConfigMap(InlineRef),
}

/// A `secretRef` / `configMapRef` in `inline.pathsFrom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineRef {
    /// The Secret's or ConfigMap's `metadata.name` (it exists).
    pub name: String,
    /// `directoryPath`: subdirectory for the files (the root when absent).
    pub directory_path: RelPath,
}

/// A `v1` `Secret` document.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    /// `metadata.name`.
    pub name: String,
    /// `data` (base64-decoded) merged with `stringData` (which wins).
    pub data: BTreeMap<String, Vec<u8>>,
}

/// Names the keys, never the values: a Secret holds credentials.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A `v1` `ConfigMap` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMap {
    /// `metadata.name`.
    pub name: String,
    /// `data`.
    pub data: BTreeMap<String, String>,
}
