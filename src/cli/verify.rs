//! `vendoras verify`: check a reference's cosign signature as
//! `cosign verify` would, with the same flags, so the two can be compared;
//! with `--bundle`, a local file against its Sigstore bundle, as `cosign
//! verify-blob --bundle` does.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use vendoras::reference::Reference;
use vendoras::registry::Repository;
use vendoras::verify::{self, Policy, PublicKey, Signers, SignersError};
use vendoras::Op;

#[derive(Args)]
pub struct VerifyArgs {
    /// `<registry>/<repository>{:<tag>|@<digest>}`; with `--bundle`, a local file
    reference: String,
    /// A Sigstore bundle (`cosign sign-blob --bundle` output) of the local file named
    /// instead of a reference (as `cosign verify-blob --bundle`)
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Path to a PEM public key (repeatable: any one may have signed)
    #[arg(long = "key")]
    keys: Vec<PathBuf>,
    /// The identity expected in a keyless signing certificate
    #[arg(long)]
    certificate_identity: Option<String>,
    /// A regular expression the certificate identity must match
    #[arg(long)]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer expected in a keyless signing certificate
    #[arg(long)]
    certificate_oidc_issuer: Option<String>,
    /// A regular expression the OIDC issuer must match
    #[arg(long)]
    certificate_oidc_issuer_regexp: Option<String>,
    /// A trusted_root.json (private or air-gapped Sigstore); default: the public-good root via TUF
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    #[command(flatten)]
    remote: super::RemoteArgs,
}

pub fn run(args: VerifyArgs, op: &Op) -> anyhow::Result<()> {
    let signers = Signers::from_parts(
        args.keys,
        args.certificate_identity,
        args.certificate_identity_regexp,
        args.certificate_oidc_issuer,
        args.certificate_oidc_issuer_regexp,
    )
    .map_err(|e| {
        anyhow::anyhow!(match e {
            SignersError::KeysAndKeyless =>
                "give either --key or a certificate identity and OIDC issuer, not both",
            SignersError::Nothing =>
                "give --key, or --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp]",
            SignersError::NoIssuer =>
                "keyless verification needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp",
            SignersError::NoIdentity =>
                "keyless verification needs --certificate-identity or --certificate-identity-regexp",
        })
    })?;
    let signers = signers
        .try_map_keys(|p| PublicKey::from_file(p).map(|k| vec![k]))
        .context("read public key")?;
    let mut policy = Policy::new(signers);
    policy.trusted_root = args.trusted_root;
    if let Some(bundle) = &args.bundle {
        return verify_file(Path::new(&args.reference), bundle, &policy, op);
    }
    let reference: Reference = args.reference.parse()?;
    let Some(object) = reference.object() else {
        bail!("no tag or digest specified in {:?}", args.reference);
    };
    let options = args.remote.options(None)?;
    let repo = Repository::open_remote(&reference.repository_url(), &options)?;
    // Resolved once; the signature is checked for exactly this digest.
    let desc = repo.resolve(op, &object, None)?;
    let verified = verify::verify(&repo, op, &desc, &policy)?;
    println!(
        "Verified {}@{}",
        reference.repository_url(),
        verified.digest
    );
    println!("Signed by: {}", super::shown(&verified.signer.to_string()));
    println!(
        "Signature: {} {}",
        verified.layout, verified.signature_digest
    );
    Ok(())
}

/// `--bundle`: the local `file` against `bundle`, by the file's sha256.
fn verify_file(file: &Path, bundle: &Path, policy: &Policy, op: &Op) -> anyhow::Result<()> {
    let verified = verify::verify_file(op, file, bundle, policy)?;
    println!("Verified {} ({})", file.display(), verified.digest);
    println!("Signed by: {}", super::shown(&verified.signer.to_string()));
    println!("Bundle: {} {}", verified.layout, bundle.display());
    Ok(())
}
