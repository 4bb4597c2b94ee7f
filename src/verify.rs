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

use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Operation, Result};
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

/// What a signature must satisfy: signed by one of `keys` (key-based), or
/// by a Fulcio certificate for a matching identity and issuer (keyless).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Public keys tried in turn (cosign `--key`, Flux's secret `*.pub`).
    /// No transparency-log entry is required for key-based signatures.
    pub keys: Vec<PublicKey>,
    /// The certificate's identity (SAN), exactly (`--certificate-identity`).
    pub certificate_identity: Option<String>,
    /// The certificate's identity as a regular expression (unanchored, as
    /// cosign's `--certificate-identity-regexp`).
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer, exactly (`--certificate-oidc-issuer`).
    pub certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer as a regular expression.
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// A `trusted_root.json` for private or air-gapped Sigstore; when set,
    /// no network call is made for trust material. `None` = the Sigstore
    /// public-good root via TUF.
    pub trusted_root: Option<PathBuf>,
    /// Where the TUF client caches the public-good root; `None` =
    /// [`default_tuf_cache_dir`].
    pub tuf_cache_dir: Option<PathBuf>,
}

impl Policy {
    /// Whether this is a keyless (certificate identity) policy.
    pub fn is_keyless(&self) -> bool {
        self.certificate_identity.is_some()
            || self.certificate_identity_regexp.is_some()
            || self.certificate_oidc_issuer.is_some()
            || self.certificate_oidc_issuer_regexp.is_some()
    }

    /// Checks that the policy is complete and not contradictory: keys, or
    /// one of each identity and issuer pair — not both, not neither.
    pub fn validate(&self) -> Result<()> {
        let keyless = self.is_keyless();
        if !self.keys.is_empty() && keyless {
            return Err(Error::setting(
                "cosign",
                None,
                "give either public keys or a certificate identity and OIDC issuer, not both",
            ));
        }
        if self.keys.is_empty() && !keyless {
            return Err(Error::setting(
                "cosign",
                None,
                "give a public key, or certificateIdentity[Regexp] and certificateOidcIssuer[Regexp]",
            ));
        }
        if keyless {
            if self.certificate_identity.is_none() && self.certificate_identity_regexp.is_none() {
                return Err(Error::setting(
                    "cosign",
                    None,
                    "keyless verification needs certificateIdentity or certificateIdentityRegexp",
                ));
            }
            if self.certificate_oidc_issuer.is_none()
                && self.certificate_oidc_issuer_regexp.is_none()
            {
                return Err(Error::setting(
                    "cosign",
                    None,
                    "keyless verification needs certificateOidcIssuer or certificateOidcIssuerRegexp",
                ));
            }
        }
        Ok(())
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
pub enum Layout {
    /// cosign ≤ v2: the `sha256-<hex>.sig` tag, simplesigning payload.
    #[serde(rename = "cosign-v2-tag")]
    CosignTag,
    /// cosign v3: a Sigstore bundle attached as an OCI 1.1 referrer.
    #[serde(rename = "bundle-referrer")]
    BundleReferrer,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::CosignTag => "cosign-v2-tag",
            Layout::BundleReferrer => "bundle-referrer",
        })
    }
}

/// Who signed: a key or a certificate identity.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// What was verified, and by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The manifest digest whose signature verified.
    pub digest: Digest,
    /// The key or identity that signed it.
    pub signer: Signer,
    /// Where the signature was found.
    pub layout: Layout,
    /// The digest of the signature manifest (the `.sig` tag or referrer).
    pub signature_digest: String,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} signed by {} ({} signature {})",
            self.digest, self.signer, self.layout, self.signature_digest
        )
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
}

/// Verifies that `desc` (a resolved manifest or index) carries a cosign
/// signature satisfying `policy`. Fetches only signature material, never
/// the content's layers. A failed check is an [`Error::Registry`] whose
/// source has [`ErrorKind::Verification`] and says why (see
/// [`is_verification_failure`]).
pub fn verify(repo: &Repository, op: &Op, desc: &Descriptor, policy: &Policy) -> Result<Verified> {
    policy.validate()?;
    let trusted_root_json = match &policy.trusted_root {
        Some(p) if policy.is_keyless() => {
            std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?
        }
        _ => String::new(),
    };
    let tuf_cache_dir = policy
        .tuf_cache_dir
        .clone()
        .or_else(default_tuf_cache_dir)
        .unwrap_or_default();
    let none = String::new();
    let req = Request {
        digest: desc.digest.to_string(),
        media_type: &desc.media_type,
        size: desc.size,
        keys: policy.keys.iter().map(|k| k.pem.as_str()).collect(),
        certificate_identity: policy.certificate_identity.as_ref().unwrap_or(&none),
        certificate_identity_regexp: policy.certificate_identity_regexp.as_ref().unwrap_or(&none),
        certificate_oidc_issuer: policy.certificate_oidc_issuer.as_ref().unwrap_or(&none),
        certificate_oidc_issuer_regexp: policy
            .certificate_oidc_issuer_regexp
            .as_ref()
            .unwrap_or(&none),
        trusted_root_json,
        tuf_cache_dir: tuf_cache_dir.display().to_string(),
    };
    let json = serde_json::to_string(&req).expect("request serialises");
    let out = repo
        .target()
        .verify(op, &json)
        .map_err(|e| repo.shim_error(Operation::VerifySignature, &desc.digest, e))?;
    let answer: Answer = serde_json::from_str(&out).map_err(|e| {
        Error::Internal(format!(
            "verify: unexpected answer from the registry shim: {e}"
        ))
    })?;
    let signer = match answer.key_index {
        Some(i) => Signer::Key {
            name: policy
                .keys
                .get(i)
                .map(|k| k.name.clone())
                .unwrap_or_default(),
            fingerprint: answer.key_fingerprint,
        },
        None => Signer::Identity {
            identity: answer.identity,
            issuer: answer.issuer,
        },
    };
    Ok(Verified {
        digest: desc.digest.clone(),
        signer,
        layout: answer.layout,
        signature_digest: answer.signature_digest,
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
    fn policy_needs_keys_or_a_full_identity() {
        assert!(Policy::default().validate().is_err());
        let key = PublicKey {
            name: "k.pub".into(),
            pem: "x".into(),
        };
        let keyed = Policy {
            keys: vec![key.clone()],
            ..Policy::default()
        };
        assert!(keyed.validate().is_ok());
        let only_identity = Policy {
            certificate_identity: Some("me@example.com".into()),
            ..Policy::default()
        };
        let err = only_identity.validate().unwrap_err().to_string();
        assert!(err.contains("certificateOidcIssuer"), "{err}");
        let full = Policy {
            certificate_identity_regexp: Some(".*".into()),
            certificate_oidc_issuer: Some("https://issuer".into()),
            ..Policy::default()
        };
        assert!(full.validate().is_ok());
        let both = Policy {
            keys: vec![key],
            ..full
        };
        assert!(both
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not both"));
    }

    #[test]
    fn layout_names_match_the_shim() {
        let l: Layout = serde_json::from_str("\"cosign-v2-tag\"").unwrap();
        assert_eq!(l, Layout::CosignTag);
        assert_eq!(Layout::BundleReferrer.to_string(), "bundle-referrer");
    }
}
