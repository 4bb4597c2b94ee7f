//! The validated config: what sync and the sources work from.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::signers::Signers;
use crate::relpath::RelPath;

/// A vendir `Config` document, validated.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// `minimumRequiredVersion`, as written (a vendir version).
    pub minimum_required_version: Option<String>,
    /// `directories`, in file order.
    pub directories: Vec<Directory>,
}

/// One `directories[]` entry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// `helmChart:`: a chart from a chart repository or an OCI registry.
    HelmChart(HelmChart),
    /// `http:`: one file from a URL, unpacked when it is an archive.
    Http(Http),
    /// `githubRelease:`: assets of a GitHub release.
    GithubRelease(Box<GithubRelease>),
    /// `git:`: a commit checked out with the installed `git`.
    Git(Git),
    /// `hg:`: a changeset checked out with the installed `hg`.
    Hg(Hg),
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
            Source::HelmChart(_) => "helmChart",
            Source::Http(_) => "http",
            Source::GithubRelease(_) => "githubRelease",
            Source::Git(_) => "git",
            Source::Hg(_) => "hg",
            Source::Image(_) => "image",
            Source::ImgpkgBundle(_) => "imgpkgBundle",
        }
    }
}

/// The `ociArtifact` source (docs/config.md).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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

/// The `helmChart` source (docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HelmChart {
    /// `name`: the chart's name in the repository's index, or the last
    /// component of its OCI repository.
    pub name: String,
    /// `version`: an exact version (or a constraint) on a chart repository,
    /// where `None` means the newest non-prerelease; always set for OCI.
    pub version: Option<String>,
    /// `repository.url`.
    pub repository: HelmRepository,
    /// `repository.secretRef`: basic auth on a chart repository, registry
    /// credentials on `oci://` (the Secret exists).
    pub secret_ref: Option<SecretRef>,
    /// `cosign` verification (`oci://` only; docs/config.md).
    pub cosign: Option<Cosign>,
}

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HelmRepository {
    /// An `https://` or `http://` chart repository (its base URL, as
    /// written): `index.yaml` lives beneath it.
    Http(String),
    /// `oci://registry/path`: the chart is `registry/path/<name>:<version>`.
    /// Holds the part after `oci://`, without a trailing `/`.
    Oci(String),
}

/// An image in a registry, as the `image` and `imgpkgBundle` sources name
/// it (docs/config.md).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
    /// `cosign` verification (docs/config.md).
    pub cosign: Option<Cosign>,
}

/// The `imgpkgBundle` source (docs/config.md).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub enum OciLocation {
    /// `image`: repository, possibly with `:tag` and/or `@digest` (unparsed).
    Image(String),
    /// `ociLayout`: a local OCI image layout directory (as written).
    Layout(String),
}

/// The `http` source (docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Http {
    /// `url` (`http://` or `https://`; in `githubRelease.http` it may hold
    /// `{tag}`).
    pub url: String,
    /// `sha256`: the expected digest, lower-case hex.
    pub sha256: Option<String>,
    /// `secretRef`: basic auth (`username`/`password` only; checked).
    pub secret_ref: Option<SecretRef>,
    /// `disableUnpack`: keep an archive as the downloaded file.
    pub disable_unpack: bool,
    /// `cosign` verification of the downloaded file (docs/config.md); never
    /// set on the `http` nested in `githubRelease` (that one's is the
    /// release's).
    pub cosign: Option<Cosign>,
}

/// The `githubRelease` source (docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GithubRelease {
    /// `slug`: `owner/repo`.
    pub slug: String,
    /// Which release.
    pub release: ReleaseSelector,
    /// `checksums`: asset name → sha256 hex.
    pub checksums: BTreeMap<String, String>,
    /// `disableAutoChecksumValidation`.
    pub disable_auto_checksum_validation: bool,
    /// `assetNames` globs; empty = every asset.
    pub asset_names: Vec<String>,
    /// `unpackArchive.path`: the asset to unpack (only its contents land).
    pub unpack_archive: Option<String>,
    /// `secretRef`: the API token (key `token` only; checked).
    pub secret_ref: Option<SecretRef>,
    /// `http`: fetch this instead of the assets (`{tag}` is replaced).
    pub http: Option<Http>,
    /// `cosign` verification of every downloaded asset, or of the `http`
    /// file (docs/config.md).
    pub cosign: Option<Cosign>,
}

/// Which GitHub release: exactly one of vendir's four keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReleaseSelector {
    /// `tag`.
    Tag(String),
    /// `latest: true`: the newest non-prerelease.
    Latest,
    /// `tagSelection.semver`: the highest tag matching.
    TagSelection(Semver),
    /// `url`: a release API URL, fetched as given.
    Url(String),
}

/// How layers land on disk (docs/config.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct TagSelection {
    /// `semver`.
    pub semver: Semver,
}

/// `tagSelection.semver`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct SecretRef {
    /// `metadata.name` of the Secret.
    pub name: String,
}

/// `cosign:` (docs/config.md): who may have signed, and the trust root.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cosign {
    /// Key-based (a key file or a Secret's `*.pub` keys) or keyless.
    pub signers: Signers<CosignKey>,
    /// `trustedRoot`: a `trusted_root.json` for private Sigstore (as written).
    pub trusted_root: Option<String>,
    /// `images` (imgpkgBundle only): every image `.imgpkg/images.yml`
    /// lists (nested bundles included) must verify too. Default false.
    pub images: bool,
    /// `bundleURL` (`http`, `githubRelease` with `http`): the Sigstore
    /// bundle's URL (`{tag}` replaced in a release); `None` = beside the
    /// file, `{url}.sigstore.json` then `{url}.bundle`.
    pub bundle_url: Option<String>,
    /// `bundleAsset` (`githubRelease` assets): the release asset holding the
    /// bundle (`{asset}` replaced by the asset's name); `None` =
    /// `<asset>.sigstore.json` then `<asset>.bundle`.
    pub bundle_asset: Option<String>,
    /// `githubAttestations` (`githubRelease` assets, keyless): verify each
    /// asset by its GitHub artifact attestations (the API's, for its
    /// sha256) instead of bundle assets. Default false.
    pub github_attestations: bool,
    /// `predicateType` (with `githubAttestations`): the in-toto predicate
    /// type an attestation must carry; `None` = SLSA provenance v1.
    pub predicate_type: Option<String>,
}

/// Where a cosign public key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CosignKey {
    /// `key`: a PEM file (as written, relative to the working directory).
    File(String),
    /// `secretRef`: every `*.pub` key of this Secret.
    Secret(SecretRef),
}

/// The `git` source (docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Git {
    /// `url`: anything `git` accepts (https, http, ssh, git://, a path).
    pub url: String,
    /// What to check out.
    pub reference: GitRef,
    /// `depth`: a shallow fetch of this many commits; 0 = full history.
    pub depth: u32,
    /// `skipInitSubmodules`.
    pub skip_init_submodules: bool,
    /// `lfsSkipSmudge`: `GIT_LFS_SKIP_SMUDGE=1`.
    pub lfs_skip_smudge: bool,
    /// `dangerousSkipTLSVerify`: `GIT_SSL_NO_VERIFY=true`.
    pub dangerous_skip_tls_verify: bool,
    /// `forceHTTPBasicAuth`: send the credentials up front in a header.
    pub force_http_basic_auth: bool,
    /// `secretRef`: `ssh-privatekey`, `ssh-knownhosts`, `username`,
    /// `password` (the Secret exists).
    pub secret_ref: Option<SecretRef>,
    /// `verification.publicKeysSecretRef`: armored GPG public keys that
    /// must have signed the commit or tag (the Secret exists).
    pub public_keys: Option<SecretRef>,
}

/// `git.ref` or `git.refSelection`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitRef {
    /// `ref`: a branch, tag, sha or `origin/<name>`, as written.
    Named(String),
    /// `refSelection.semver`: the highest matching tag.
    Semver {
        /// `constraints`.
        constraints: String,
        /// As [`Semver::prerelease_identifiers`].
        prerelease_identifiers: Option<Vec<String>>,
    },
}

/// The `hg` source (docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hg {
    /// `url`.
    pub url: String,
    /// `ref`: a changeset id, tag, branch or bookmark.
    pub reference: String,
    /// `evolve`: enable the `evolve` and `topic` extensions.
    pub evolve: bool,
    /// `secretRef`: as for git (the Secret exists).
    pub secret_ref: Option<SecretRef>,
}

/// The `inline` source.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inline {
    /// `paths`: file path → content.
    pub paths: BTreeMap<RelPath, String>,
    /// `pathsFrom`.
    pub paths_from: Vec<InlineFrom>,
}

/// One `inline.pathsFrom[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InlineFrom {
    /// `secretRef`: every key of the Secret becomes a file.
    Secret(InlineRef),
    /// `configMapRef`: every key of the ConfigMap becomes a file.
    ConfigMap(InlineRef),
}

/// A `secretRef` / `configMapRef` in `inline.pathsFrom`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InlineRef {
    /// The Secret's or ConfigMap's `metadata.name` (it exists).
    pub name: String,
    /// `directoryPath`: subdirectory for the files (the root when absent).
    pub directory_path: RelPath,
}

/// A `v1` `Secret` document.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct ConfigMap {
    /// `metadata.name`.
    pub name: String,
    /// `data`.
    pub data: BTreeMap<String, String>,
}
