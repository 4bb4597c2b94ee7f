//! The documents as written: serde-derived, no rules beyond their shape.
//!
//! Types that vendir also reads ignore keys they do not know (vendir does);
//! `yaml::from_value` reports those keys, and `validate` turns them into
//! warnings. Types only vendoras reads (`ociArtifact` and below) have
//! `deny_unknown_fields`: there a stray key is an error.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::model::Unpack;
use super::yaml::WithKind;

/// The `Config` document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigDoc {
    #[allow(dead_code)] // read by the loader from the tree, listed so it is known
    pub api_version: IgnoredAny,
    #[allow(dead_code)]
    pub kind: IgnoredAny,
    pub minimum_required_version: Option<String>,
    #[serde(default)]
    pub directories: Vec<DirectoryInput>,
}

/// A `directories[]` entry.
#[derive(Debug, Deserialize)]
pub(crate) struct DirectoryInput {
    pub path: String,
    pub permissions: Option<String>,
    #[serde(default)]
    pub contents: Vec<ContentInput>,
}

/// A `contents[]` entry: its own keys plus exactly one source key.
pub(crate) type ContentInput = WithKind<ContentFields, SourceInput>;

/// A content's keys other than its source.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContentFields {
    pub path: String,
    #[serde(default)]
    pub lazy: bool,
    pub include_paths: Option<Vec<String>>,
    pub exclude_paths: Option<Vec<String>>,
    pub ignore_paths: Option<Vec<String>>,
    pub legal_paths: Option<Vec<String>>,
    pub new_root_path: Option<String>,
    pub permissions: Option<String>,
}

/// The source of a content, by its key. A kind vendoras cannot fetch yet
/// is recognised (and refused, naming it) but not parsed.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum SourceInput {
    OciArtifact(Box<OciArtifactInput>),
    Manual(ManualInput),
    Directory(DirectorySourceInput),
    Inline(InlineInput),
    Git(Box<GitInput>),
    Hg(HgInput),
    Http(HttpInput),
    Image(ImageInput),
    ImgpkgBundle(ImgpkgBundleInput),
    GithubRelease(Box<GithubReleaseInput>),
    HelmChart(HelmChartInput),
}

/// `ociArtifact:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct OciArtifactInput {
    pub image: Option<String>,
    pub oci_layout: Option<String>,
    pub tag: Option<String>,
    pub tag_selection: Option<TagSelectionInput>,
    pub media_types: Option<Vec<String>>,
    pub platform: Option<String>,
    #[serde(default)]
    pub unpack: Unpack,
    pub secret_ref: Option<SecretRefInput>,
    #[serde(rename = "plainHTTP")]
    pub plain_http: Option<bool>,
    #[serde(rename = "dangerousSkipTLSVerify", default)]
    pub dangerous_skip_tls_verify: bool,
    pub cosign: Option<CosignInput>,
}

/// `image:` (vendir's keys; unknown ones are warnings, as vendir ignores them).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageInput {
    pub url: Option<String>,
    pub tag_selection: Option<TagSelectionInput>,
    pub secret_ref: Option<SecretRefInput>,
    pub response_header_timeout: Option<u64>,
    #[serde(rename = "dangerousSkipTLSVerify", default)]
    pub dangerous_skip_tls_verify: bool,
    /// vendoras's own (vendir has no cosign).
    pub cosign: Option<CosignInput>,
}

/// `imgpkgBundle:` (vendir's keys; unknown ones are warnings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImgpkgBundleInput {
    pub image: Option<String>,
    pub tag_selection: Option<TagSelectionInput>,
    pub secret_ref: Option<SecretRefInput>,
    pub response_header_timeout: Option<u64>,
    #[serde(rename = "dangerousSkipTLSVerify", default)]
    pub dangerous_skip_tls_verify: bool,
    #[serde(default)]
    pub recursive: bool,
    pub additional_ca_certificates: Option<Vec<String>>,
    /// vendoras's own (vendir has no cosign).
    pub cosign: Option<CosignInput>,
}

/// `tagSelection:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TagSelectionInput {
    pub semver: SemverInput,
}

/// `tagSelection.semver:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SemverInput {
    pub constraints: String,
    pub prereleases: Option<PrereleasesInput>,
}

/// `tagSelection.semver.prereleases:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrereleasesInput {
    #[serde(default)]
    pub identifiers: Vec<String>,
}

/// `secretRef: {name}` inside `ociArtifact`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretRefInput {
    pub name: String,
}

/// `cosign:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CosignInput {
    pub key: Option<String>,
    pub secret_ref: Option<SecretRefInput>,
    pub certificate_identity: Option<String>,
    pub certificate_identity_regexp: Option<String>,
    pub certificate_oidc_issuer: Option<String>,
    pub certificate_oidc_issuer_regexp: Option<String>,
    pub trusted_root: Option<String>,
    /// imgpkgBundle only: also verify every image `.imgpkg/images.yml` lists.
    pub images: Option<bool>,
    /// http and githubRelease (with `http:`) only: where the Sigstore bundle is.
    #[serde(rename = "bundleURL")]
    pub bundle_url: Option<String>,
    /// githubRelease (assets) only: the release asset holding the bundle.
    pub bundle_asset: Option<String>,
    /// githubRelease (assets) only: verify GitHub artifact attestations.
    pub github_attestations: Option<bool>,
    /// With `githubAttestations`: the in-toto predicate type required.
    pub predicate_type: Option<String>,
}

/// `helmChart:` (vendir's keys; unknown ones are warnings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmChartInput {
    pub name: String,
    pub version: Option<String>,
    pub repository: Option<HelmRepositoryInput>,
    /// Accepted and ignored: vendoras does not run helm.
    #[allow(dead_code)]
    pub helm_version: Option<IgnoredAny>,
    /// vendoras's own, `oci://` repositories only.
    pub cosign: Option<CosignInput>,
}

/// `helmChart.repository:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmRepositoryInput {
    pub url: Option<String>,
    pub secret_ref: Option<NameInput>,
}

/// `http:` (vendir's keys; unknown keys are warnings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpInput {
    pub url: String,
    pub sha256: Option<String>,
    pub secret_ref: Option<NameInput>,
    #[serde(default)]
    pub disable_unpack: bool,
    /// vendoras's own (vendir has no cosign).
    pub cosign: Option<CosignInput>,
}

/// `{name}` of a `secretRef` outside `ociArtifact` (unknown keys are warnings).
#[derive(Debug, Deserialize)]
pub(crate) struct NameInput {
    pub name: String,
}

/// `githubRelease:` (vendir's keys; unknown keys are warnings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GithubReleaseInput {
    pub slug: Option<String>,
    pub tag: Option<String>,
    pub tag_selection: Option<VersionSelectionInput>,
    #[serde(default)]
    pub latest: bool,
    pub url: Option<String>,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    #[serde(default)]
    pub disable_auto_checksum_validation: bool,
    #[serde(default)]
    pub asset_names: Vec<String>,
    pub unpack_archive: Option<UnpackArchiveInput>,
    pub secret_ref: Option<NameInput>,
    pub http: Option<HttpInput>,
    /// vendoras's own (vendir has no cosign).
    pub cosign: Option<CosignInput>,
}

/// vendir's `VersionSelection` (`tagSelection`) outside `ociArtifact`.
#[derive(Debug, Deserialize)]
pub(crate) struct VersionSelectionInput {
    pub semver: Option<LenientSemverInput>,
}

/// `semver:` of a vendir `VersionSelection`.
#[derive(Debug, Deserialize)]
pub(crate) struct LenientSemverInput {
    #[serde(default)]
    pub constraints: String,
    pub prereleases: Option<LenientPrereleasesInput>,
}

/// `prereleases:` of a vendir `VersionSelection`.
#[derive(Debug, Deserialize)]
pub(crate) struct LenientPrereleasesInput {
    #[serde(default)]
    pub identifiers: Vec<String>,
}

/// `unpackArchive: {path}`.
#[derive(Debug, Deserialize)]
pub(crate) struct UnpackArchiveInput {
    pub path: String,
}

/// `git:` (vendir reads it, so unknown keys are warnings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GitInput {
    #[serde(default)]
    pub url: String,
    #[serde(rename = "ref")]
    pub ref_: Option<String>,
    pub ref_selection: Option<VersionSelectionInput>,
    pub depth: Option<i64>,
    #[serde(default)]
    pub skip_init_submodules: bool,
    #[serde(rename = "lfsSkipSmudge", default)]
    pub lfs_skip_smudge: bool,
    #[serde(rename = "dangerousSkipTLSVerify", default)]
    pub dangerous_skip_tls_verify: bool,
    #[serde(rename = "forceHTTPBasicAuth", default)]
    pub force_http_basic_auth: bool,
    pub secret_ref: Option<NameInput>,
    pub verification: Option<GitVerificationInput>,
}

/// `git.verification:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GitVerificationInput {
    pub public_keys_secret_ref: Option<NameInput>,
}

/// `hg:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HgInput {
    #[serde(default)]
    pub url: String,
    #[serde(rename = "ref")]
    pub ref_: Option<String>,
    #[serde(default)]
    pub evolve: bool,
    pub secret_ref: Option<NameInput>,
}

/// `manual: {}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ManualInput {}

/// `directory: {path}`.
#[derive(Debug, Deserialize)]
pub(crate) struct DirectorySourceInput {
    pub path: String,
}

/// `inline:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InlineInput {
    #[serde(default)]
    pub paths: BTreeMap<String, String>,
    #[serde(default)]
    pub paths_from: Vec<PathsFromInput>,
}

/// An `inline.pathsFrom[]` entry: exactly one of its two refs.
pub(crate) type PathsFromInput = WithKind<NoFields, PathsFromKind>;

/// A mapping with no keys of its own besides a kind.
#[derive(Debug, Deserialize)]
pub(crate) struct NoFields {}

/// `secretRef` or `configMapRef` in `inline.pathsFrom[]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum PathsFromKind {
    SecretRef(InlineRefInput),
    ConfigMapRef(InlineRefInput),
}

/// `{name, directoryPath}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InlineRefInput {
    pub name: String,
    pub directory_path: Option<String>,
}

/// A `v1` `Secret` document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretDoc {
    #[allow(dead_code)]
    pub api_version: IgnoredAny,
    #[allow(dead_code)]
    pub kind: IgnoredAny,
    pub metadata: Metadata,
    #[allow(dead_code)]
    #[serde(rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    #[serde(default)]
    pub string_data: BTreeMap<String, String>,
    #[allow(dead_code)]
    pub immutable: Option<bool>,
}

/// A `v1` `ConfigMap` document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigMapDoc {
    #[allow(dead_code)]
    pub api_version: IgnoredAny,
    #[allow(dead_code)]
    pub kind: IgnoredAny,
    pub metadata: Metadata,
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    #[allow(dead_code)]
    pub immutable: Option<bool>,
}

/// Kubernetes `metadata`; only `name` is used.
#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    pub name: String,
    #[allow(dead_code)]
    pub namespace: Option<String>,
    #[allow(dead_code)]
    pub labels: Option<IgnoredAny>,
    #[allow(dead_code)]
    pub annotations: Option<IgnoredAny>,
}
