//! The one verify step of every registry source with `cosign:`
//! (`ociArtifact`, `image`, `imgpkgBundle`, `helmChart` on `oci://`): the
//! caller resolves the tag once, hands the descriptor here, and pulls
//! exactly that digest only when this returns `Ok`. The policy is built
//! from the config's [`Cosign`] the same way for every kind.

use super::FetchContext;
use crate::config::{Cosign, CosignKey};
use crate::error::{Error, Result};
use crate::oci::Descriptor;
use crate::registry::Repository;
use crate::verify::{verify, Policy, PublicKey, Verified};

/// The signature policy of `cosign`; `key` names the config key in
/// messages (`image.cosign`, ...).
pub(super) fn policy(ctx: &FetchContext<'_>, cosign: &Cosign, key: &str) -> Result<Policy> {
    let secret_key = format!("{key}.secretRef");
    let signers = cosign.signers.try_map_keys(|k| match k {
        CosignKey::File(path) => Ok(vec![PublicKey::from_file(&ctx.workdir.join(path))?]),
        CosignKey::Secret(r) => {
            let secret = ctx
                .loaded
                .secrets
                .get(&r.name)
                .ok_or_else(|| Error::setting(&secret_key, Some(&r.name), "no such Secret"))?;
            let keys: Vec<PublicKey> = secret
                .data
                .iter()
                .filter(|(k, _)| k.ends_with(".pub"))
                .map(|(k, v)| PublicKey {
                    name: format!("secret {}: {k}", r.name),
                    pem: String::from_utf8_lossy(v).into_owned(),
                })
                .collect();
            if keys.is_empty() {
                return Err(Error::setting(
                    &secret_key,
                    Some(&r.name),
                    "the Secret has no *.pub key",
                ));
            }
            Ok(keys)
        }
    })?;
    Ok(Policy {
        signers,
        trusted_root: cosign.trusted_root.as_ref().map(|t| ctx.workdir.join(t)),
        tuf_cache_dir: None,
    })
}

/// Verifies `desc` (resolved once by the caller) in `repo` against
/// `cosign`; `None` without `cosign:`. Fetches signature material only.
pub(super) fn check(
    ctx: &FetchContext<'_>,
    repo: &Repository,
    desc: &Descriptor,
    cosign: Option<&Cosign>,
    key: &str,
) -> Result<Option<Verified>> {
    let Some(c) = cosign else {
        return Ok(None);
    };
    let policy = policy(ctx, c, key)?;
    verify(repo, ctx.op, desc, &policy).map(Some)
}

/// What `sync` tells about a verified content (its note): the content's
/// own digest, then the repository of anything else that verified.
pub(super) fn note(verified: &[Verified]) -> Option<String> {
    let (first, rest) = verified.split_first()?;
    let mut s = format!("verified {first}");
    for v in rest {
        s.push_str(&format!("; verified {}@{v}", v.repository));
    }
    Some(s)
}
