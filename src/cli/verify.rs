//! `vendoras verify`: check a reference's cosign signature as
//! `cosign verify` would, with the same flags, so the two can be compared;
//! with `--bundle`, a local file against its Sigstore bundle, as `cosign
//! verify-blob --bundle` does; with `--github-attestations`, a local file
//! by its GitHub artifact attestations, as `gh attestation verify` does.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use vendoras::reference::Reference;
use vendoras::registry::Repository;
use vendoras::verify::{self, Policy, PublicKey, Signers, SignersError};
use vendoras::Op;

#[derive(Args)]
pub struct VerifyArgs {
    /// `<registry>/<repository>{:<tag>|@<digest>}`; with `--bundle` or
    /// `--github-attestations`, a local file
    reference: String,
    /// A Sigstore bundle (`cosign sign-blob --bundle` output) of the local file named
    /// instead of a reference (as `cosign verify-blob --bundle`)
    #[arg(long, conflicts_with = "github_attestations")]
    bundle: Option<PathBuf>,
    /// OWNER/REPO: verify the local file by that repository's GitHub artifact
    /// attestations for its sha256 (as `gh attestation verify FILE --repo OWNER/REPO`;
    /// the API is GITHUB_API_URL, the token GITHUB_TOKEN); give the signing workflow as
    /// --certificate-identity[-regexp] and --certificate-oidc-issuer
    #[arg(long, value_name = "OWNER/REPO")]
    github_attestations: Option<String>,
    /// With --github-attestations: the in-toto predicate type an attestation must have
    /// (default https://slsa.dev/provenance/v1)
    #[arg(long, requires = "github_attestations")]
    predicate_type: Option<String>,
    /// The reference is an imgpkg bundle: verify it, then every image its
    /// `.imgpkg/images.yml` lists, by digest (as an `imgpkgBundle` content with
    /// `cosign: {images: true}`); reads the bundle's layers, not the images'
    #[arg(long, conflicts_with_all = ["bundle", "github_attestations"])]
    images: bool,
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

pub fn run(args: VerifyArgs, op: &Arc<Op>) -> anyhow::Result<()> {
    let signers = Signers::from_parts(
        args.keys.clone(),
        args.certificate_identity.clone(),
        args.certificate_identity_regexp.clone(),
        args.certificate_oidc_issuer.clone(),
        args.certificate_oidc_issuer_regexp.clone(),
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
    policy.trusted_root = args.trusted_root.clone();
    if let Some(bundle) = &args.bundle {
        return verify_file(Path::new(&args.reference), bundle, &policy, op);
    }
    if let Some(slug) = &args.github_attestations {
        let file = Path::new(&args.reference);
        let verified = vendoras::attestation::verify_file(
            op,
            file,
            slug,
            args.predicate_type.as_deref(),
            &policy,
        )?;
        println!("Verified {} ({})", file.display(), verified.digest);
        println!("Signed by: {}", super::shown(&verified.signer.to_string()));
        if let Some(from) = &verified.bundle {
            println!("Attestation: {}", super::shown(from));
        }
        return Ok(());
    }
    let reference: Reference = args.reference.parse()?;
    if args.images {
        return verify_bundle_images(&args, op);
    }
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

/// `--images`: the bundle and every image it lists, by the rule of an
/// `imgpkgBundle` content with `cosign: {images: true}`: a sync of that one
/// content into a directory that is thrown away, so the check is the sync's
/// own, not a copy of it.
fn verify_bundle_images(args: &VerifyArgs, op: &Arc<Op>) -> anyhow::Result<()> {
    use serde_json::json;
    if args.remote.plain_http || args.remote.insecure || !args.remote.registry_configs.is_empty() {
        bail!(
            "--images reads the bundle as `sync` does, where --plain-http, --insecure and \
             --registry-config do not apply (plain HTTP is used for localhost, credentials \
             come from the Docker config)"
        );
    }
    let absolute = |p: &Path| std::path::absolute(p).with_context(|| format!("{}", p.display()));
    let mut cosign = serde_json::Map::new();
    cosign.insert("images".into(), json!(true));
    if let [key] = args.keys.as_slice() {
        cosign.insert("key".into(), json!(absolute(key)?.display().to_string()));
        return run_bundle_sync(args, op, cosign, None);
    }
    if !args.keys.is_empty() {
        // More than one key: a Secret holds them (`key:` takes one file), each
        // under its file's name so that the answer names it.
        let mut data = serde_json::Map::new();
        for (i, k) in args.keys.iter().enumerate() {
            let pem =
                std::fs::read_to_string(k).with_context(|| format!("read {}", k.display()))?;
            let name = k
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".pub") && !data.contains_key(n))
                .unwrap_or_else(|| format!("key{}.pub", i + 1));
            data.insert(name, json!(pem));
        }
        cosign.insert("secretRef".into(), json!({"name": "verify-keys"}));
        return run_bundle_sync(
            args,
            op,
            cosign,
            Some(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "verify-keys"}, "stringData": data,
            })),
        );
    }
    for (flag, key) in [
        (&args.certificate_identity, "certificateIdentity"),
        (
            &args.certificate_identity_regexp,
            "certificateIdentityRegexp",
        ),
        (&args.certificate_oidc_issuer, "certificateOidcIssuer"),
        (
            &args.certificate_oidc_issuer_regexp,
            "certificateOidcIssuerRegexp",
        ),
    ] {
        if let Some(v) = flag {
            cosign.insert(key.into(), json!(v));
        }
    }
    if let Some(root) = &args.trusted_root {
        cosign.insert(
            "trustedRoot".into(),
            json!(absolute(root)?.display().to_string()),
        );
    }
    run_bundle_sync(args, op, cosign, None)
}

fn run_bundle_sync(
    args: &VerifyArgs,
    op: &Arc<Op>,
    cosign: serde_json::Map<String, serde_json::Value>,
    secret: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    use serde_json::json;
    use vendoras::config::Input;
    use vendoras::sync::{sync, SyncOptions};
    let ca_files: Vec<String> = args
        .remote
        .ca_files
        .iter()
        .map(|p| std::path::absolute(p).map(|p| p.display().to_string()))
        .collect::<std::io::Result<_>>()
        .context("--ca-file")?;
    let config = json!({
        "apiVersion": "vendir.k14s.io/v1alpha1",
        "kind": "Config",
        "directories": [{"path": "bundle", "contents": [{
            "path": ".",
            "imgpkgBundle": {
                "image": args.reference,
                "cosign": cosign,
                "additionalCACertificates": ca_files,
            },
        }]}],
    });
    // JSON is YAML: one document per input.
    let mut inputs = vec![Input {
        name: "<vendoras verify --images>".into(),
        text: config.to_string(),
    }];
    if let Some(s) = secret {
        inputs.push(Input {
            name: "<vendoras verify --key>".into(),
            text: s.to_string(),
        });
    }
    let work = tempfile::Builder::new()
        .prefix("vendoras-verify-")
        .tempdir()
        .context("create a temporary directory")?;
    let remote = args.remote.options(None)?;
    // No blob cache: the cache also remembers earlier checks, and this command
    // checks every signature in full.
    let mut opts = SyncOptions::new(work.path(), inputs);
    opts.stall_timeout = remote.stall_timeout;
    opts.mirrors = remote.mirrors;
    // The throwaway directory and content are this command's, not the user's:
    // their names are left out of an error.
    let report = sync(&opts, op, &|_| {}).map_err(|e| match e {
        vendoras::Error::Content { source, .. } => *source,
        e => e,
    })?;
    let verified: Vec<_> = report.contents.iter().flat_map(|c| &c.verified).collect();
    for (i, v) in verified.iter().enumerate() {
        let what = match i {
            0 => args.reference.clone(),
            _ => format!("image {}", v.repository),
        };
        println!("Verified {}@{}", super::shown(&what), v.digest);
        println!("Signed by: {}", super::shown(&v.signer.to_string()));
        println!("Signature: {} {}", v.layout, v.signature_digest);
    }
    Ok(())
}
