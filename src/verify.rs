//! Cosign signature verification (opt-in, per content).
//!
//! The checks themselves are sigstore-go code in the Go shim (`vdr_verify`,
//! `docs/ffi.md`); this module is the typed policy and answer. The order of
//! work is the caller's: resolve the tag once, [`verify`] that descriptor,
//! then pull exactly that digest, and write nothing when this fails.
//!
//! Both signature layouts are found: cosign ≤ v2 (`sha256-<hex>.sig` tag,
//! simplesigning payload) and cosign v3 Sigstore bundles attached as OCI 1.1
//! referrers (API or `sha256-<hex>` tag fallback). Any one valid signature
//! for the digest is enough.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::config::{Keyless, Matcher, Signers, SignersError};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi::Op;
use crate::oci::Descriptor;
use crate::registry::Repository;

/// A trusted public key: its PEM text and a name for messages (the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Where the key came from, e.g. `cosign.pub` or `secret/ns/name: a.pub`.
    pub name: String,
    /// The PEM-encoded public key (`-----BEGIN PUBLIC KEY-----`).
    pub pem: String,
}

impl PublicKey {
    /// Reads a PEM public key file.
    pub fn from_file(path: &Path) -> Result<PublicKey> {
        let pem = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(PublicKey {
            name: path.display().to_string(),
            pem,
        })
    }
}

/// What a signature must satisfy, with the trust material to check it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Who may have signed.
    pub signers: Signers<PublicKey>,
    /// A `trusted_root.json` for private or air-gapped Sigstore; when set,
    /// no network call is made for trust material. `None` = the Sigstore
    /// public-good root via TUF. Only keyless signatures use it.
    pub trusted_root: Option<PathBuf>,
    /// Where the TUF client caches the public-good root; `None` =
    /// [`default_tuf_cache_dir`].
    pub tuf_cache_dir: Option<PathBuf>,
}

impl Policy {
    /// A policy for `signers`, trusting the Sigstore public-good root
    /// (cached in [`default_tuf_cache_dir`]).
    pub fn new(signers: Signers<PublicKey>) -> Policy {
        Policy {
            signers,
            trusted_root: None,
            tuf_cache_dir: None,
        }
    }
}

/// The default TUF cache: `$XDG_CACHE_HOME/vendoras/sigstore-tuf`, else
/// `~/.cache/vendoras/sigstore-tuf`.
pub fn default_tuf_cache_dir() -> Option<PathBuf> {
    Some(
        crate::cache::user_cache_home()?
            .join("vendoras")
            .join("sigstore-tuf"),
    )
}

/// Which signature layout carried the signature that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Layout {
    /// cosign ≤ v2: the `sha256-<hex>.sig` tag, simplesigning payload.
    #[serde(rename = "cosign-v2-tag")]
    CosignTag,
    /// cosign v3: a Sigstore bundle attached as an OCI 1.1 referrer.
    #[serde(rename = "bundle-referrer")]
    BundleReferrer,
    /// A Sigstore bundle file beside a downloaded file (`cosign sign-blob
    /// --bundle`, cosign v3).
    #[serde(rename = "sigstore-bundle")]
    SigstoreBundle,
    /// cosign ≤ v2's own `sign-blob --bundle` file.
    #[serde(rename = "cosign-bundle")]
    CosignBundle,
    /// An attestation: a DSSE in-toto statement about a downloaded file
    /// (GitHub artifact attestations).
    #[serde(rename = "attestation")]
    Attestation,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::CosignTag => "cosign-v2-tag",
            Layout::BundleReferrer => "bundle-referrer",
            Layout::SigstoreBundle => "sigstore-bundle",
            Layout::CosignBundle => "cosign-bundle",
            Layout::Attestation => "attestation",
        })
    }
}

/// Who signed: a key or a certificate identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Signer {
    /// One of the policy's public keys.
    Key {
        /// The key's name (its file).
        name: String,
        /// `sha256:<hex>` of the key's DER SubjectPublicKeyInfo.
        fingerprint: String,
    },
    /// A Fulcio certificate.
    Identity {
        /// The certificate's identity (SAN).
        identity: String,
        /// The OIDC issuer.
        issuer: String,
    },
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Key { name, fingerprint } => write!(f, "key {name} ({fingerprint})"),
            Signer::Identity { identity, issuer } => {
                write!(f, "identity {identity} issued by {issuer}")
            }
        }
    }
}

/// What was verified, and by whom (`sync --json` shows it as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Verified {
    /// The repository (`registry/path`) the signature was found in; for a
    /// downloaded file, the file (redacted URL or `asset 'x'`).
    pub repository: String,
    /// The manifest digest (or the file's sha256) whose signature verified.
    pub digest: Digest,
    /// The key or identity that signed it.
    pub signer: Signer,
    /// Where the signature was found.
    pub layout: Layout,
    /// The digest of the signature manifest (the `.sig` tag or referrer),
    /// or of the bundle file.
    pub signature_digest: String,
    /// The bundle file (redacted URL or release asset), for a downloaded
    /// file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The signature was one that verified before under the same policy
    /// (a memo), found again where it was: still there, not read or checked
    /// again ([`verify_known`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remembered: bool,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.bundle {
            Some(b) => write!(
                f,
                "{} signed by {} ({} {b})",
                self.digest, self.signer, self.layout
            ),
            None => write!(
                f,
                "{} signed by {} ({} signature {}{})",
                self.digest,
                self.signer,
                self.layout,
                self.signature_digest,
                if self.remembered {
                    ", verified before"
                } else {
                    ""
                }
            ),
        }
    }
}

#[derive(Serialize)]
struct Request<'a> {
    digest: String,
    media_type: &'a str,
    size: u64,
    keys: Vec<&'a str>,
    certificate_identity: &'a str,
    certificate_identity_regexp: &'a str,
    certificate_oidc_issuer: &'a str,
    certificate_oidc_issuer_regexp: &'a str,
    trusted_root_json: String,
    tuf_cache_dir: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bundles: Vec<BundleText<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    known: Vec<KnownSignature<'a>>,
}

/// A signature that verified before, and where it was found.
#[derive(Serialize)]
struct KnownSignature<'a> {
    digest: &'a str,
    layout: Layout,
}

/// One candidate bundle of a downloaded file, for [`verify_blob`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BundleText<'a> {
    /// How messages name it (a redacted URL, or `asset 'x'`).
    pub name: &'a str,
    /// The bundle file's text.
    pub bundle: &'a str,
}

#[derive(Deserialize)]
struct Answer {
    layout: Layout,
    signature_digest: String,
    #[serde(default)]
    key_index: Option<usize>,
    #[serde(default)]
    key_fingerprint: String,
    #[serde(default)]
    identity: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    remembered: bool,
}

/// Verifies that `desc` (a resolved manifest or index) carries a cosign
/// signature satisfying `policy`. Fetches only signature material, never
/// the content's layers. A failed check is an [`Error::Registry`] whose
/// source has [`ErrorKind::Verification`] and says why (see
/// [`is_verification_failure`]).
pub fn verify(repo: &Repository, op: &Op, desc: &Descriptor, policy: &Policy) -> Result<Verified> {
    verify_known(repo, op, desc, policy, &[])
}

/// [`verify`], told which signatures verified `desc` under this very
/// `policy` before (`known`, a memo's): one of them found again where it
/// was answers without its material being read or checked again (it is
/// content-addressed by the signature manifest's digest), as that entry
/// with `remembered` set. A known signature that is gone counts for nothing.
pub fn verify_known(
    repo: &Repository,
    op: &Op,
    desc: &Descriptor,
    policy: &Policy,
    known: &[Verified],
) -> Result<Verified> {
    let (keys, mut req) = manifest_request(policy, desc)?;
    req.known = known
        .iter()
        .filter(|v| v.digest == desc.digest)
        .map(|v| KnownSignature {
            digest: &v.signature_digest,
            layout: v.layout,
        })
        .collect();
    let json = serde_json::to_string(&req).expect("request serialises");
    let out = repo.verify_signature(op, &json, &desc.digest)?;
    let answer: Answer = parse_answer(&out)?;
    if answer.remembered {
        return known
            .iter()
            .find(|v| {
                v.signature_digest == answer.signature_digest
                    && v.layout == answer.layout
                    && v.digest == desc.digest
            })
            .map(|v| Verified {
                remembered: true,
                ..v.clone()
            })
            .ok_or_else(|| {
                Error::Internal(format!(
                    "verify: the shim remembered signature {} it was not told of",
                    answer.signature_digest
                ))
            });
    }
    typed(keys, answer, repo.name(), &desc.digest, None)
}

/// What identifies a verification of `desc` in `repository` under
/// `policy` for a memo: the whole shim request (keys, identity, issuer,
/// trusted root text, digest) and the keys' names (which the answer shows),
/// so any change to them is another entry.
pub fn memo_key(repository: &str, desc: &Descriptor, policy: &Policy) -> Result<Digest> {
    let (keys, req) = manifest_request(policy, desc)?;
    let json = serde_json::to_string(&req).expect("request serialises");
    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    let names = serde_json::to_string(&names).expect("names serialise");
    Ok(Digest::of(
        crate::digest::Algorithm::Sha256,
        format!("vendoras verified v1\n{repository}\n{names}\n{json}").as_bytes(),
    ))
}

/// Verifies that one of `bundles` (`cosign sign-blob --bundle` files, or
/// attestations) signs the file `subject` whose sha256 is `digest`, under
/// `policy`; `shown` names them in the answer and errors (one bundle: its
/// name; several: where they were listed). With `predicate_type`, a bundle
/// must be an attestation: a DSSE in-toto statement of that type naming
/// `digest`. When none verifies, an [`Error::Signature`] names the file,
/// `shown` and the most relevant failure.
pub fn verify_blob(
    op: &Op,
    subject: &str,
    digest: &Digest,
    bundles: &[BundleText<'_>],
    shown: &str,
    predicate_type: Option<&str>,
    policy: &Policy,
) -> Result<Verified> {
    let (keys, req) = request(policy, digest, "", 0, bundles.to_vec())?;
    let mut json = serde_json::to_string(&req).expect("request serialises");
    if let Some(p) = predicate_type {
        // The one field only an attestation check has.
        let mut v: serde_json::Value = serde_json::from_str(&json).expect("request is JSON");
        v["predicate_type"] = p.into();
        json = v.to_string();
    }
    let out = crate::ffi::verify_blob(op, &json).map_err(|e| match e.kind {
        ErrorKind::Cancelled => Error::Cancelled,
        ErrorKind::Verification => Error::Signature {
            subject: subject.to_string(),
            digest: digest.clone(),
            bundle: Some(shown.to_string()),
            reason: e.message,
        },
        ErrorKind::Invalid => Error::setting("cosign", None, e.message),
        // Fetching the public-good root: network trouble, named as such.
        ErrorKind::Network => Error::Signature {
            subject: subject.to_string(),
            digest: digest.clone(),
            bundle: Some(shown.to_string()),
            reason: e.message,
        },
        _ => Error::Internal(format!("verify {subject}: {}", e.message)),
    })?;
    typed(keys, parse_answer(&out)?, subject, digest, Some(shown))
}

/// Verifies the local `file` against the Sigstore bundle file `bundle` (by
/// the file's sha256), as `cosign verify-blob --bundle` does.
pub fn verify_file(op: &Op, file: &Path, bundle: &Path, policy: &Policy) -> Result<Verified> {
    let digest = file_sha256(file)?;
    let text = std::fs::read_to_string(bundle).map_err(|e| Error::io(bundle, e))?;
    let name = bundle.display().to_string();
    let b = BundleText {
        name: &name,
        bundle: &text,
    };
    let subject = file.display().to_string();
    verify_blob(op, &subject, &digest, &[b], &name, None, policy)
}

/// The sha256 of a local file, read in 1 MiB pieces.
pub fn file_sha256(file: &Path) -> Result<Digest> {
    use std::io::Read;
    let mut f = std::fs::File::open(file).map_err(|e| Error::io(file, e))?;
    let mut h = crate::digest::Hasher::new(crate::digest::Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(file, e))?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.update(&buf[..n]);
    }
}

/// The shim request for `policy`, and the keys it lists (in order).
/// The shim request for a manifest's signatures (no bundle texts).
fn manifest_request<'a>(
    policy: &'a Policy,
    desc: &'a Descriptor,
) -> Result<(&'a [PublicKey], Request<'a>)> {
    request(
        policy,
        &desc.digest,
        &desc.media_type,
        desc.size,
        Vec::new(),
    )
}

fn request<'a>(
    policy: &'a Policy,
    digest: &Digest,
    media_type: &'a str,
    size: u64,
    bundles: Vec<BundleText<'a>>,
) -> Result<(&'a [PublicKey], Request<'a>)> {
    let (keys, keyless) = match &policy.signers {
        Signers::Keys(keys) if keys.is_empty() => {
            return Err(Error::setting(
                "cosign",
                None,
                "no public key to verify with",
            ))
        }
        Signers::Keys(keys) => (keys.as_slice(), None),
        Signers::Keyless(k) => (&[][..], Some(k)),
    };
    let trusted_root_json = match (&policy.trusted_root, keyless) {
        (Some(p), Some(_)) => std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
        _ => String::new(),
    };
    let tuf_cache_dir = policy
        .tuf_cache_dir
        .clone()
        .or_else(default_tuf_cache_dir)
        .unwrap_or_default();
    let req = Request {
        digest: digest.to_string(),
        media_type,
        size,
        keys: keys.iter().map(|k| k.pem.as_str()).collect(),
        certificate_identity: keyless.and_then(|k| k.identity.exact()).unwrap_or_default(),
        certificate_identity_regexp: keyless
            .and_then(|k| k.identity.regexp())
            .unwrap_or_default(),
        certificate_oidc_issuer: keyless.and_then(|k| k.issuer.exact()).unwrap_or_default(),
        certificate_oidc_issuer_regexp: keyless.and_then(|k| k.issuer.regexp()).unwrap_or_default(),
        trusted_root_json,
        tuf_cache_dir: tuf_cache_dir.display().to_string(),
        bundles,
        known: Vec::new(),
    };
    Ok((keys, req))
}

fn parse_answer(out: &str) -> Result<Answer> {
    serde_json::from_str(out).map_err(|e| {
        Error::Internal(format!(
            "verify: unexpected answer from the registry shim: {e}"
        ))
    })
}

/// Types the shim's answer.
fn typed(
    keys: &[PublicKey],
    answer: Answer,
    repository: &str,
    digest: &Digest,
    bundle: Option<&str>,
) -> Result<Verified> {
    let signer = match answer.key_index {
        Some(i) => Signer::Key {
            name: keys.get(i).map(|k| k.name.clone()).unwrap_or_default(),
            fingerprint: answer.key_fingerprint,
        },
        None => Signer::Identity {
            identity: answer.identity,
            issuer: answer.issuer,
        },
    };
    Ok(Verified {
        repository: repository.to_string(),
        digest: digest.clone(),
        signer,
        layout: answer.layout,
        signature_digest: answer.signature_digest,
        bundle: bundle.map(str::to_string),
        remembered: false,
    })
}

/// Whether `e` is a signature that did not verify (as opposed to a registry,
/// network or local problem while looking for it).
pub fn is_verification_failure(e: &Error) -> bool {
    matches!(e.cause(), Error::Registry(r) if r.source.kind == ErrorKind::Verification)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_key_covers_the_whole_policy_and_the_digest() {
        let key = |pem: &str| PublicKey {
            name: "k.pub".into(),
            pem: pem.into(),
        };
        let desc = |d: &[u8]| {
            Descriptor::new(
                crate::oci::MEDIA_TYPE_MANIFEST,
                Digest::of(crate::digest::Algorithm::Sha256, d),
                10,
            )
        };
        let a = Policy::new(Signers::Keys(vec![key("A")]));
        let base = memo_key("r/app", &desc(b"x"), &a).unwrap();
        let renamed = Policy::new(Signers::Keys(vec![PublicKey {
            name: "renamed.pub".into(),
            pem: "A".into(),
        }]));
        assert_eq!(base, memo_key("r/app", &desc(b"x"), &a).unwrap());
        let b = Policy::new(Signers::Keys(vec![key("B")]));
        let ab = Policy::new(Signers::Keys(vec![key("A"), key("B")]));
        for other in [
            memo_key("r/other", &desc(b"x"), &a),
            memo_key("r/app", &desc(b"y"), &a),
            memo_key("r/app", &desc(b"x"), &b),
            memo_key("r/app", &desc(b"x"), &ab),
            memo_key("r/app", &desc(b"x"), &renamed),
        ] {
            assert_ne!(other.unwrap(), base);
        }
        // Keyless: the trusted root's text is part of the key.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("trusted_root.json");
        let keyless = |root: &Path| {
            let mut p = Policy::new(
                Signers::<PublicKey>::from_parts(
                    Vec::new(),
                    Some("alice@example.com".into()),
                    None,
                    Some("https://issuer.example".into()),
                    None,
                )
                .unwrap(),
            );
            p.trusted_root = Some(root.to_path_buf());
            p
        };
        std::fs::write(&root, "{\"one\": 1}").unwrap();
        let first = memo_key("r/app", &desc(b"x"), &keyless(&root)).unwrap();
        std::fs::write(&root, "{\"two\": 2}").unwrap();
        assert_ne!(
            memo_key("r/app", &desc(b"x"), &keyless(&root)).unwrap(),
            first
        );
    }

    #[test]
    fn layout_names_match_the_shim() {
        let l: Layout = serde_json::from_str("\"cosign-v2-tag\"").unwrap();
        assert_eq!(l, Layout::CosignTag);
        assert_eq!(Layout::BundleReferrer.to_string(), "bundle-referrer");
    }
}
