//! `gh attestation verify` as a library call: a local file's GitHub
//! artifact attestations, looked up by the file's sha256 and checked by the
//! same rule as a `githubRelease` content with `cosign: {githubAttestations:
//! true}` (docs/config.md, "GitHub artifact attestations").

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::ffi::Op;
use crate::verify::{file_sha256, Policy, Verified};

/// Verifies `file` by the attestations that the GitHub repository `slug`
/// (`owner/repo`) holds for its sha256: one whose DSSE signature, identity
/// and issuer verify under `policy`, whose in-toto statement has
/// `predicate_type` (default SLSA provenance v1) and names the file's
/// digest, is enough. The API is `GITHUB_API_URL` (default
/// `https://api.github.com`); a token comes from `VENDIR_GITHUB_API_TOKEN`
/// or `GITHUB_TOKEN`.
pub fn verify_file(
    op: &Arc<Op>,
    file: &Path,
    slug: &str,
    predicate_type: Option<&str>,
    policy: &Policy,
) -> Result<Verified> {
    let digest = file_sha256(file)?;
    let subject = file.display().to_string();
    crate::fetch::verify_attestations(op, &subject, &digest, slug, predicate_type, policy)
}
