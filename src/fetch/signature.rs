//! The one verify step of every source with `cosign:`. Registry sources
//! (`ociArtifact`, `image`, `imgpkgBundle`, `helmChart` on `oci://`): the
//! caller resolves the tag once, hands the descriptor here, and pulls
//! exactly that digest only when this returns `Ok`. Downloads (`http`,
//! `githubRelease`): the caller downloads and hashes the file, and unpacks
//! or places it only when [`check_blob`] returns `Ok`. The policy is built
//! from the config's [`Cosign`] the same way for every kind.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::FetchContext;
use crate::cache::Cache;
use crate::config::{Cosign, CosignKey};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::ffi::Op;
use crate::http::{HttpClient, HttpOptions};
use crate::mirrors::url_origin;
use crate::oci::Descriptor;
use crate::redact::redact_url;
use crate::registry::Repository;
use crate::verify::{
    memo_key, verify, verify_blob, verify_known, BundleText, Policy, PublicKey, Verified,
};

/// The most a bundle file may be (the shim's bound too).
const MAX_BUNDLE_BYTES: u64 = 1 << 20;

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
    let Some(cache) = ctx.cache else {
        return verify(repo, ctx.op, desc, &policy).map(Some);
    };
    let memo = memo_key(repo.name(), desc, &policy)?;
    let known = remembered(cache, &memo, SystemTime::now());
    let verified = verify_known(repo, ctx.op, desc, &policy, &known)?;
    if !verified.remembered {
        remember(cache, &memo, known, &verified, SystemTime::now());
    }
    Ok(Some(verified))
}

/// How long a remembered verification counts: after that the signature is
/// read and checked again, so a trust root that TUF updated (keyless with
/// the public-good root, whose text is not in the memo key) is used within
/// a day.
const REMEMBER_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// At most this many signatures are remembered per key.
const REMEMBER_AT_MOST: usize = 8;

/// One remembered verification, and when it was checked (seconds since the
/// epoch).
#[derive(serde::Serialize, serde::Deserialize)]
struct Remembered {
    at: u64,
    verified: Verified,
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The verifications stored under `memo` that still count at `now` (not
/// older than [`REMEMBER_FOR`], not from the future); an unreadable record
/// counts for nothing.
fn remembered(cache: &Cache, memo: &Digest, now: SystemTime) -> Vec<Verified> {
    let Some(bytes) = cache.verified(memo) else {
        return Vec::new();
    };
    let Ok(all) = serde_json::from_slice::<Vec<Remembered>>(&bytes) else {
        return Vec::new();
    };
    let now = seconds(now);
    all.into_iter()
        .filter(|r| r.at <= now && now - r.at < REMEMBER_FOR.as_secs())
        .map(|r| r.verified)
        .collect()
}

/// Adds `verified` (checked now) to the record under `memo`, newest first,
/// keeping the `known` ones that still count.
fn remember(
    cache: &Cache,
    memo: &Digest,
    known: Vec<Verified>,
    verified: &Verified,
    now: SystemTime,
) {
    let at = seconds(now);
    let mut all = vec![Remembered {
        at,
        verified: verified.clone(),
    }];
    // The others keep their own time: re-read rather than re-stamped.
    let older = cache
        .verified(memo)
        .and_then(|b| serde_json::from_slice::<Vec<Remembered>>(&b).ok())
        .unwrap_or_default();
    all.extend(older.into_iter().filter(|r| {
        r.verified.signature_digest != verified.signature_digest
            && known
                .iter()
                .any(|k| k.signature_digest == r.verified.signature_digest)
    }));
    all.truncate(REMEMBER_AT_MOST);
    if let Ok(bytes) = serde_json::to_vec(&all) {
        cache.record_verified(memo, &bytes);
    }
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

/// One place a downloaded file's Sigstore bundle may be: how messages name
/// it, and its URL (`None`: a release asset the release does not have).
pub(super) struct BundleAt {
    pub name: String,
    pub url: Option<String>,
}

/// The places beside `url`: `{url}.sigstore.json`, then `{url}.bundle`
/// (cosign sign-blob's usual names), or `bundle_url` alone when given.
pub(super) fn beside(url: &str, bundle_url: Option<&str>) -> Vec<BundleAt> {
    let urls = match bundle_url {
        Some(u) => vec![u.to_string()],
        None => vec![format!("{url}.sigstore.json"), format!("{url}.bundle")],
    };
    urls.into_iter()
        .map(|u| BundleAt {
            name: redact_url(&u),
            url: Some(u),
        })
        .collect()
}

/// Verifies the downloaded file `subject` (sha256 `digest`) against
/// `cosign` with the first bundle found among `places` (a 404 moves on to
/// the next; `options` are the download's, credentials for its origin
/// only). `None` without `cosign:`.
pub(super) fn check_blob(
    ctx: &FetchContext<'_>,
    cosign: Option<&Cosign>,
    key: &str,
    subject: &str,
    digest: &Digest,
    places: &[BundleAt],
    options: &HttpOptions,
) -> Result<Option<Verified>> {
    let Some(c) = cosign else {
        return Ok(None);
    };
    let policy = policy(ctx, c, key)?;
    for place in places {
        let Some(url) = &place.url else { continue };
        let Some(text) = fetch_bundle(ctx, url, options)? else {
            continue;
        };
        let bundle = BundleText {
            name: &place.name,
            bundle: &text,
        };
        return verify_blob(
            ctx.op,
            subject,
            digest,
            &[bundle],
            &place.name,
            None,
            &policy,
        )
        .map(Some);
    }
    let looked: Vec<String> = places
        .iter()
        .map(|p| match p.url {
            Some(_) => p.name.clone(),
            None => format!("{} (no such asset)", p.name),
        })
        .collect();
    Err(Error::Signature {
        subject: subject.to_string(),
        digest: digest.clone(),
        bundle: None,
        reason: format!(
            "no Sigstore bundle found (looked for {}); sign it with `cosign sign-blob \
             --bundle`, or name the bundle with `{key}.bundleURL`{}",
            looked.join(", "),
            if key.starts_with("githubRelease") {
                " / `bundleAsset`"
            } else {
                ""
            }
        ),
    })
}

/// GETs one bundle: its text, `None` on 404 or 410, an error otherwise.
/// With `[[url]]` mirror rules the mirrors are asked first, as for the file
/// itself (the origin last, or never for `mirror-only`); one that fails or
/// lacks the bundle hands over to the next. Credentials go to the origin
/// (scheme, host, port) they were given for only.
fn fetch_bundle(
    ctx: &FetchContext<'_>,
    url: &str,
    options: &HttpOptions,
) -> Result<Option<String>> {
    let candidates = match ctx.mirrors {
        Some(m) => m.url_candidates(url),
        None => vec![crate::mirrors::UrlCandidate {
            url: url.to_string(),
            rewrite: None,
        }],
    };
    let origin = url_origin(url);
    let count = candidates.len();
    for (i, c) in candidates.into_iter().enumerate() {
        let options = HttpOptions {
            max_size: MAX_BUNDLE_BYTES,
            auth: match url_origin(&c.url) == origin {
                true => options.auth.clone(),
                false => None,
            },
            ..options.clone()
        };
        match fetch_bundle_from(ctx, &c.url, &options) {
            Ok(Some(text)) => return Ok(Some(text)),
            Ok(None) => {}
            Err(e) if e.is_cancelled() || ctx.op.is_cancelled() => return Err(e),
            Err(e) if i + 1 == count => return Err(e),
            Err(_) => {}
        }
    }
    Ok(None)
}

fn fetch_bundle_from(
    ctx: &FetchContext<'_>,
    url: &str,
    options: &HttpOptions,
) -> Result<Option<String>> {
    let op = Arc::clone(ctx.op);
    let resp = HttpClient::from_env().get(&op, url, options)?;
    match resp.status {
        200 => {}
        404 | 410 => return Ok(None),
        s => {
            return Err(resp.status_error(format!(
                "Sigstore bundle: expected 200 OK or 404, but was '{s}'"
            )))
        }
    }
    let bytes = resp.bytes()?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The predicate type `gh attestation verify` asks for by default.
pub(super) const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// At most this many attestations of one file are tried.
const MAX_ATTESTATIONS: usize = 32;

/// Verifies the release asset `subject` (sha256 `digest`) by its GitHub
/// artifact attestations listed at `url`, under `cosign` ([`attestations`]).
pub(super) fn check_attestations(
    ctx: &FetchContext<'_>,
    cosign: &Cosign,
    key: &str,
    subject: &str,
    digest: &Digest,
    url: &str,
    options: &HttpOptions,
) -> Result<Verified> {
    let policy = policy(ctx, cosign, key)?;
    attestations(
        ctx.op,
        &policy,
        cosign.predicate_type.as_deref(),
        subject,
        digest,
        url,
        options,
    )
}

/// Verifies the file `subject` (sha256 `digest`) by its GitHub artifact
/// attestations, listed at `url` (`GET
/// /repos/{owner}/{repo}/attestations/sha256:{hex}`): any one whose DSSE
/// signature, certificate identity and issuer verify under `policy`, whose
/// in-toto statement has `predicate` (default SLSA provenance v1) and names
/// `digest`, is enough. `gh attestation verify`'s checks, with the identity
/// given as for `cosign:`; the one rule for `githubRelease` contents and
/// `vendoras verify --github-attestations`.
pub(crate) fn attestations(
    op: &Arc<Op>,
    policy: &Policy,
    predicate: Option<&str>,
    subject: &str,
    digest: &Digest,
    url: &str,
    options: &HttpOptions,
) -> Result<Verified> {
    #[derive(serde::Deserialize)]
    struct Listing {
        #[serde(default)]
        attestations: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        bundle: Option<serde_json::Value>,
        #[serde(default)]
        bundle_url: Option<String>,
    }
    let predicate = predicate.unwrap_or(SLSA_PROVENANCE_V1);
    let shown = redact_url(url);
    let none = |reason: String| Error::Signature {
        subject: subject.to_string(),
        digest: digest.clone(),
        bundle: None,
        reason,
    };
    let options = HttpOptions {
        max_size: 16 << 20,
        ..options.clone()
    };
    let resp = HttpClient::from_env().get(op, url, &options)?;
    match resp.status {
        200 => {}
        404 => {
            return Err(none(format!(
                "no GitHub artifact attestation found ({shown} answered 404)"
            )))
        }
        s => {
            return Err(resp.status_error(format!(
                "attestations: expected 200 OK or 404, but was '{s}'"
            )))
        }
    }
    let bytes = resp.bytes()?;
    let listing: Listing = serde_json::from_slice(&bytes)
        .map_err(|e| none(format!("{shown} is not a GitHub attestation listing: {e}")))?;
    // The inline bundle when there is one (no second request); otherwise
    // the one behind `bundle_url`, which `gh` reads first.
    let mut bundles = Vec::new();
    for a in &listing.attestations {
        if bundles.len() == MAX_ATTESTATIONS {
            break;
        }
        match (&a.bundle, a.bundle_url.as_deref()) {
            (Some(b), _) if b.is_object() => bundles.push(b.to_string()),
            (_, Some(u)) if !u.is_empty() => {
                bundles.push(bundle_behind(op, u, url, &options, &none)?)
            }
            _ => {}
        }
    }
    if bundles.is_empty() {
        return Err(none(format!(
            "no GitHub artifact attestation with a bundle or bundle_url found at {shown}"
        )));
    }
    let names: Vec<String> = (1..=bundles.len())
        .map(|i| format!("attestation #{i}"))
        .collect();
    let texts: Vec<BundleText<'_>> = names
        .iter()
        .zip(&bundles)
        .map(|(name, bundle)| BundleText { name, bundle })
        .collect();
    verify_blob(op, subject, digest, &texts, &shown, Some(predicate), policy)
}

/// GETs an attestation's `bundle_url` (blob storage, on GitHub another
/// host: the listing's credentials go only to the listing's own origin)
/// and undoes its snappy compression (the raw block format, as `gh`
/// reads it): the bundle's JSON text. `none` makes what is wrong with the
/// bundle an error. Limits as for the listing (`options.max_size`), which
/// also holds whole bundles, SBOM attestations among them.
fn bundle_behind(
    op: &Arc<Op>,
    url: &str,
    listing: &str,
    options: &HttpOptions,
    none: &dyn Fn(String) -> Error,
) -> Result<String> {
    let shown = redact_url(url);
    let options = HttpOptions {
        auth: options
            .auth
            .clone()
            .filter(|_| url_origin(url) == url_origin(listing)),
        headers: Vec::new(),
        ..options.clone()
    };
    let resp = HttpClient::from_env().get(op, url, &options)?;
    if resp.status != 200 {
        let s = resp.status;
        return Err(resp.status_error(format!(
            "attestation bundle_url: expected 200 OK, but was '{s}'"
        )));
    }
    let packed = resp.bytes()?;
    let bad = |why: String| none(format!("the attestation bundle at {shown} {why}"));
    // The length the block announces bounds what it may expand to.
    match snap::raw::decompress_len(&packed) {
        Ok(n) if n as u64 <= options.max_size.saturating_mul(4) => {}
        Ok(n) => return Err(bad(format!("would expand to {n} bytes"))),
        Err(e) => return Err(bad(format!("is not snappy-compressed: {e}"))),
    }
    let json = snap::raw::Decoder::new()
        .decompress_vec(&packed)
        .map_err(|e| bad(format!("is not snappy-compressed: {e}")))?;
    match serde_json::from_slice::<serde_json::Value>(&json) {
        Ok(v) if v.is_object() => Ok(v.to_string()),
        Ok(_) => Err(bad("is not a JSON object".to_string())),
        Err(e) => Err(bad(format!("is not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Layout, Signer};

    fn verified(sig: &str) -> Verified {
        Verified {
            repository: "r.example/app".into(),
            digest: Digest::of(crate::digest::Algorithm::Sha256, b"subject"),
            signer: Signer::Key {
                name: "cosign.pub".into(),
                fingerprint: "sha256:00".into(),
            },
            layout: Layout::BundleReferrer,
            signature_digest: sig.into(),
            bundle: None,
            remembered: false,
        }
    }

    fn sigs(v: &[Verified]) -> Vec<&str> {
        v.iter().map(|v| v.signature_digest.as_str()).collect()
    }

    #[test]
    fn a_verification_is_remembered_for_a_day_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let memo = Digest::of(crate::digest::Algorithm::Sha256, b"policy");
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hour = Duration::from_secs(3600);
        assert!(remembered(&cache, &memo, t0).is_empty());

        remember(&cache, &memo, Vec::new(), &verified("sha256:a"), t0);
        assert_eq!(sigs(&remembered(&cache, &memo, t0 + hour)), ["sha256:a"]);
        // Not from the future, not after a day.
        assert!(remembered(&cache, &memo, t0 - hour).is_empty());
        assert!(remembered(&cache, &memo, t0 + REMEMBER_FOR).is_empty());

        // A second signature: newest first, the first keeps its own time.
        let known = remembered(&cache, &memo, t0 + hour);
        remember(&cache, &memo, known, &verified("sha256:b"), t0 + 2 * hour);
        assert_eq!(
            sigs(&remembered(&cache, &memo, t0 + 3 * hour)),
            ["sha256:b", "sha256:a"]
        );
        assert_eq!(
            sigs(&remembered(&cache, &memo, t0 + REMEMBER_FOR + hour)),
            ["sha256:b"]
        );

        // Another key (policy) has its own record; a damaged record counts for nothing.
        let other = Digest::of(crate::digest::Algorithm::Sha256, b"another policy");
        assert!(remembered(&cache, &other, t0 + hour).is_empty());
        cache.record_verified(&memo, b"{not json");
        assert!(remembered(&cache, &memo, t0 + hour).is_empty());
    }
}
