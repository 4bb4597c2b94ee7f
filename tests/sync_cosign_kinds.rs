//! `cosign:` on `image`, `imgpkgBundle` and `helmChart` (`oci://`): the same rule and
//! the same resolve-once, verify, pull-that-digest step as `ociArtifact`
//! (tests/sync_cosign.rs). Images are pushed with crane, bundles as imgpkg lays them
//! out, charts with `helm push`; signatures are made by the real cosign CLI (key-based)
//! and by the in-repo keyless test signer (go/cmd/testsigner) with its own trust root.
//!
//! Every failure exits 1, names the content, the artifact and what failed, and leaves
//! the tree, the lock and a sentinel sibling as they were.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::cosign::{key_pairs, sign_with_key, testsigner};
use support::fixtures::*;
use support::sync::{assert_contains, Work};
use support::*;

const ID: &str = "alice@example.com";
const ISSUER: &str = "https://issuer.example";
const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::start)
}

/// Two cosign key pairs, `right` and `wrong`, generated once.
fn keys_dir() -> &'static Path {
    static K: OnceLock<PathBuf> = OnceLock::new();
    K.get_or_init(|| key_pairs(registry().scratch().join("keys")))
}

/// `cosign sign --key <key>` of `repository@digest` (see `support::cosign::sign_with_key`).
fn sign(repository: &str, digest: &str, key: &str, legacy: bool) {
    let key = keys_dir().join(key).join("cosign.key");
    sign_with_key(&format!("{repository}@{digest}"), &key, legacy);
}

/// Keyless: the test signer's bundle for `digest`, attached as a referrer; returns
/// the directory with its trusted_root.json.
fn sign_keyless(repository: &str, digest: &str) -> PathBuf {
    let out = registry()
        .scratch()
        .join(format!("keyless-{}", &digest[7..23]));
    run(Command::new(testsigner())
        .args([
            "-identity",
            ID,
            "-issuer",
            ISSUER,
            "-digest",
            digest,
            "-name",
            repository,
            "-out",
        ])
        .arg(&out))
    .ok();
    run(oras()
        .current_dir(&out)
        .args(["attach", "--artifact-type", BUNDLE_TYPE])
        .args(registry().access_flags())
        .arg(format!("{repository}@{digest}"))
        .arg(format!("bundle.json:{BUNDLE_TYPE}")))
    .ok();
    out
}

/// Puts `from`'s cosign <= v2 signature under `to`'s `.sig` tag: a real signature,
/// over another digest.
fn move_signature(repository: &str, from: &str, to: &str) {
    let tag = |d: &str| format!("{}.sig", d.replace(':', "-"));
    run(crane()
        .args(["copy", "--insecure"])
        .arg(format!("{repository}:{}", tag(from)))
        .arg(format!("{repository}:{}", tag(to))))
    .ok();
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Image,
    Bundle,
    Helm,
}

/// Pushes a bundle (imgpkg's layout and label) with a `marker.txt` holding `marker`,
/// listing `images`; returns its digest.
fn marked_bundle(reference: &str, marker: &str, images: &[String]) -> String {
    push_bundle(reference, &[("marker.txt", marker.as_bytes())], images)
}

impl Kind {
    fn all() -> [Kind; 3] {
        [Kind::Image, Kind::Bundle, Kind::Helm]
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Bundle => "imgpkgBundle",
            Kind::Helm => "helmChart",
        }
    }

    /// The repository (`host/path`) of `name`'s artifacts.
    fn repository(self, name: &str) -> String {
        match self {
            Kind::Helm => format!("{}/{name}/demo", registry().host()),
            _ => format!("{}/{name}", registry().host()),
        }
    }

    /// Pushes version `version` of `name`; returns its manifest digest.
    fn push(self, name: &str, version: &str) -> String {
        let reference = registry().reference(name, version);
        match self {
            Kind::Image => crane_image(
                &reference,
                &[tar_of(&[("marker.txt", version.as_bytes())]).finish()],
                None,
            ),
            Kind::Bundle => marked_bundle(&reference, version, &[]),
            Kind::Helm => {
                let dir = registry().scratch().join(format!("chart-{name}-{version}"));
                fs::create_dir_all(&dir).unwrap();
                let home = dir.join("helm-home");
                let src = write_chart(&dir, "demo", version, "1.0");
                run(helm_cmd(&home).arg("package").arg(&src).arg("-d").arg(&dir)).ok();
                run(helm_cmd(&home)
                    .arg("push")
                    .arg(dir.join(format!("demo-{version}.tgz")))
                    .arg(format!("oci://{}/{name}", registry().host()))
                    .arg("--plain-http"))
                .ok();
                crane_digest(&format!("{}:{version}", self.repository(name)))
            }
        }
    }

    /// A vendir.yml syncing `name`@`version` into vendor/x with these `cosign:` lines
    /// (none: no `cosign:`).
    fn config(self, name: &str, version: &str, cosign: &[&str]) -> String {
        self.config_at(&registry().host(), name, version, cosign)
    }

    /// [`Kind::config`] through the registry (or proxy) at `host`.
    fn config_at(self, host: &str, name: &str, version: &str, cosign: &[&str]) -> String {
        let mut s = String::from(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
             - path: vendor/x\n  contents:\n  - path: .\n",
        );
        s.push_str(&match self {
            Kind::Image => format!("    image:\n      url: {host}/{name}:{version}\n"),
            Kind::Bundle => format!("    imgpkgBundle:\n      image: {host}/{name}:{version}\n"),
            Kind::Helm => format!(
                "    helmChart:\n      name: demo\n      version: \"{version}\"\n      \
                 repository:\n        url: oci://{host}/{name}\n"
            ),
        });
        if !cosign.is_empty() {
            s.push_str("      cosign:\n");
            for l in cosign {
                s.push_str(&format!("        {l}\n"));
            }
        }
        s
    }

    /// Whether vendor/x holds version `version`.
    fn holds(self, w: &Work, version: &str) -> bool {
        match self {
            Kind::Helm => fs::read_to_string(w.dir.join("vendor/x/values.yaml"))
                .is_ok_and(|s| s == format!("greeting: hello from {version}\n")),
            _ => fs::read_to_string(w.dir.join("vendor/x/marker.txt")).is_ok_and(|s| s == version),
        }
    }
}

/// Syncs with `args`; asserts exit 1 with an error naming the content, every needle,
/// no "verified" note, and the work dir, lock and sentinel exactly as before.
#[track_caller]
fn fails_and_keeps_everything(w: &Work, kind: Kind, args: &[&str], needles: &[&str]) -> Outcome {
    let out = fails_and_keeps(w, kind, args, needles);
    assert!(!out.stderr.contains(": verified "), "{kind:?}\n{out:?}");
    out
}

/// [`fails_and_keeps_everything`], but a note may say what did verify.
#[track_caller]
fn fails_and_keeps(w: &Work, kind: Kind, args: &[&str], needles: &[&str]) -> Outcome {
    let before = (w.state(), w.sentinel_tree());
    let out = w.sync(args);
    assert_eq!(out.code(), Some(1), "{kind:?}: the sync must fail\n{out:?}");
    assert_contains(
        &out,
        &[
            "vendoras: Error:",
            "directory \"vendor/x\"",
            &format!("({})", kind.name()),
        ],
    );
    assert_contains(&out, needles);
    assert_eq!(
        before,
        (w.state(), w.sentinel_tree()),
        "{kind:?}: changed\n{out:?}"
    );
    out
}

fn json_verified(out: &Outcome) -> Vec<Value> {
    let v: Value = serde_json::from_str(&out.stdout).expect("--json output");
    v["contents"][0]["verified"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Key-based: the signed version syncs (and the lock is the one without `cosign:`),
/// `--json` and `--locked` say and check the same; the wrong key, an unsigned version
/// and a signature over another digest fail and change nothing.
fn key_based(kind: Kind) {
    let name = format!("key-{}", kind.name().to_lowercase());
    let repository = kind.repository(&name);
    let signed = kind.push(&name, "1.0.0");
    sign(&repository, &signed, "right", true);

    let w = Work::new();
    fs::copy(
        keys_dir().join("right/cosign.pub"),
        w.dir.join("cosign.pub"),
    )
    .unwrap();
    fs::copy(keys_dir().join("wrong/cosign.pub"), w.dir.join("wrong.pub")).unwrap();
    w.config(&kind.config(&name, "1.0.0", &["key: cosign.pub"]));
    let out = w.sync(&[]).ok();
    assert_contains(
        &out,
        &[&format!(
            "vendor/x: verified {signed} signed by key {}",
            w.dir.join("cosign.pub").display()
        )],
    );
    assert!(kind.holds(&w, "1.0.0"), "{kind:?}\n{out:?}");

    // The lock does not record the verification: the same as without `cosign:`.
    let plain = Work::new();
    plain.config(&kind.config(&name, "1.0.0", &[]));
    plain.sync(&[]).ok();
    assert_eq!(w.lock(), plain.lock(), "{kind:?}");

    // --json says what verified and by which key.
    let out = w.sync(&["--json"]).ok();
    let v = json_verified(&out);
    assert_eq!(v.len(), 1, "{kind:?}\n{out:?}");
    assert_eq!(v[0]["digest"], signed.as_str());
    assert_eq!(v[0]["repository"], repository.as_str());
    assert_eq!(v[0]["signer"]["kind"], "key");
    assert!(v[0]["signer"]["fingerprint"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(v[0]["layout"], "cosign-v2-tag");
    // Without cosign, --json has no `verified`.
    let out = plain.sync(&["--json"]).ok();
    assert!(!out.stdout.contains("\"verified\""), "{out:?}");

    // --locked checks the locked digest again.
    let out = w.sync(&["--locked"]).ok();
    assert_contains(&out, &[&format!("vendor/x: verified {signed}")]);

    // The wrong key.
    w.config(&kind.config(&name, "1.0.0", &["key: wrong.pub"]));
    fails_and_keeps_everything(
        &w,
        kind,
        &[],
        &[
            "does not verify with the given public key",
            &signed,
            &repository,
        ],
    );

    // An unsigned version.
    let unsigned = kind.push(&name, "2.0.0");
    w.config(&kind.config(&name, "2.0.0", &["key: cosign.pub"]));
    fails_and_keeps_everything(
        &w,
        kind,
        &[],
        &[&format!("no signature found for {unsigned}"), &repository],
    );

    // A real signature, made over another digest.
    move_signature(&repository, &signed, &unsigned);
    let out = fails_and_keeps_everything(
        &w,
        kind,
        &[],
        &[
            &repository,
            &format!("the signed claim names {signed}, not {unsigned}"),
        ],
    );
    assert!(kind.holds(&w, "1.0.0"), "{out:?}");

    // Without `cosign:` 2.0.0 syncs: the failures above are the signature check's.
    w.config(&kind.config(&name, "2.0.0", &[]));
    w.sync(&[]).ok();
    assert!(kind.holds(&w, "2.0.0"));
}

#[test]
fn key_based_image() {
    key_based(Kind::Image);
}

#[test]
fn key_based_imgpkg_bundle() {
    key_based(Kind::Bundle);
}

#[test]
fn key_based_helm_chart_oci() {
    key_based(Kind::Helm);
}

/// Keyless with a private trust root: the right identity verifies, another identity,
/// another issuer and an untrusted root fail.
#[test]
fn keyless_every_kind() {
    for kind in Kind::all() {
        let name = format!("keyless-{}", kind.name().to_lowercase());
        let repository = kind.repository(&name);
        let digest = kind.push(&name, "1.0.0");
        let material = sign_keyless(&repository, &digest);
        let w = Work::new();
        for f in ["trusted_root.json", "untrusted_root.json"] {
            fs::copy(material.join(f), w.dir.join(f)).unwrap();
        }
        let lines = |id: &str, iss: &str, root: &str| {
            kind.config(
                &name,
                "1.0.0",
                &[
                    &format!("certificateIdentity: \"{id}\""),
                    &format!("certificateOidcIssuer: \"{iss}\""),
                    &format!("trustedRoot: {root}"),
                ],
            )
        };
        w.config(&lines(ID, ISSUER, "trusted_root.json"));
        let out = w.sync(&["--json"]).ok();
        let v = json_verified(&out);
        assert_eq!(v.len(), 1, "{kind:?}\n{out:?}");
        assert_eq!(v[0]["signer"]["kind"], "identity");
        assert_eq!(v[0]["signer"]["identity"], ID);
        assert_eq!(v[0]["signer"]["issuer"], ISSUER);
        assert_eq!(v[0]["layout"], "bundle-referrer");
        assert!(kind.holds(&w, "1.0.0"));
        let out = w.sync(&[]).ok();
        assert_contains(
            &out,
            &[&format!(
                "vendor/x: verified {digest} signed by identity {ID} issued by {ISSUER}"
            )],
        );

        w.config(&lines("bob@example.com", ISSUER, "trusted_root.json"));
        fails_and_keeps_everything(
            &w,
            kind,
            &[],
            &[
                "certificate identity or issuer mismatch",
                "bob@example.com",
                &digest,
            ],
        );
        w.config(&lines(ID, "https://other.example", "trusted_root.json"));
        fails_and_keeps_everything(
            &w,
            kind,
            &[],
            &[
                "certificate identity or issuer mismatch",
                "https://other.example",
            ],
        );
        w.config(&lines(ID, ISSUER, "untrusted_root.json"));
        fails_and_keeps_everything(&w, kind, &[], &["untrusted certificate chain"]);
    }
}

/// `cosign.images` on a bundle: off by default (a listed unsigned image is not looked
/// at); on, every image images.yml lists must verify, nested bundles of `recursive`
/// included, before any nested bundle is pulled.
#[test]
fn bundle_listed_images() {
    let host = registry().host();
    let image = |repo: &str, marker: &str| {
        let d = crane_image(
            &registry().reference(repo, "1.0.0"),
            &[tar_of(&[("app", marker.as_bytes())]).finish()],
            None,
        );
        format!("{host}/{repo}@{d}")
    };
    let signed_img = image("listed-signed", "signed");
    let unsigned_img = image("listed-unsigned", "unsigned");
    let repo_of = |r: &str| {
        let (a, b) = r.split_once('@').unwrap();
        (a.to_string(), b.to_string())
    };
    let (r, d) = repo_of(&signed_img);
    sign(&r, &d, "right", false);

    let nested_ref = registry().reference("listed-nested", "1.0.0");
    let nested_d = marked_bundle(&nested_ref, "nested", &[]);
    let nested = format!("{host}/listed-nested@{nested_d}");
    sign(&format!("{host}/listed-nested"), &nested_d, "right", false);

    let top_ok = marked_bundle(
        &registry().reference("listed-top", "ok"),
        "ok",
        &[signed_img.clone(), nested.clone()],
    );
    let top_bad = marked_bundle(
        &registry().reference("listed-top", "bad"),
        "bad",
        &[signed_img.clone(), unsigned_img.clone()],
    );
    for d in [&top_ok, &top_bad] {
        sign(&format!("{host}/listed-top"), d, "right", false);
    }
    let config = |tag: &str, images: bool| {
        let mut s = format!(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
             - path: vendor/x\n  contents:\n  - path: .\n    imgpkgBundle:\n      \
             image: {host}/listed-top:{tag}\n      recursive: true\n      cosign:\n        \
             key: cosign.pub\n"
        );
        if images {
            s.push_str("        images: true\n");
        }
        s
    };
    let w = Work::new();
    fs::copy(
        keys_dir().join("right/cosign.pub"),
        w.dir.join("cosign.pub"),
    )
    .unwrap();

    // Default: only the bundle itself.
    w.config(&config("bad", false));
    let out = w.sync(&["--json"]).ok();
    assert_eq!(json_verified(&out).len(), 1, "{out:?}");

    // images: true and an unsigned listed image: refused, nothing changes.
    w.config(&config("bad", true));
    let (ur, ud) = repo_of(&unsigned_img);
    let out = fails_and_keeps(
        &w,
        Kind::Bundle,
        &[],
        &[&format!("no signature found for {ud}"), &ur],
    );
    // The bundle itself verified (its note says so); the unsigned image did not.
    assert_contains(&out, &[&format!("vendor/x: verified {top_bad}")]);
    assert!(!out.stderr.contains(&format!("verified {ur}")), "{out:?}");

    // Every listed image signed (the nested bundle too): all verified and reported.
    w.config(&config("ok", true));
    let out = w.sync(&["--json"]).ok();
    let v = json_verified(&out);
    let digests: Vec<&str> = v.iter().map(|e| e["digest"].as_str().unwrap()).collect();
    assert_eq!(digests, vec![top_ok.as_str(), &d, &nested_d], "{out:?}");
    let hex = nested_d.trim_start_matches("sha256:");
    assert!(w
        .dir
        .join(format!("vendor/x/.imgpkg/bundles/sha256-{hex}/marker.txt"))
        .is_file());
    // A tree kept as last synced (same config, same digest) is not fetched again: the
    // bundle is verified again, its listed images were when the tree was made.
    let out = w.sync(&["--json"]).ok();
    assert_eq!(json_verified(&out).len(), 1, "{out:?}");
    let fresh = Work::new();
    fs::copy(
        keys_dir().join("right/cosign.pub"),
        fresh.dir.join("cosign.pub"),
    )
    .unwrap();
    fresh.config(&config("ok", true));
    let out = fresh.sync(&[]).ok();
    assert_contains(
        &out,
        &[
            &format!("vendor/x: verified {top_ok} signed by key"),
            &format!("vendor/x: verified {r}@{d} signed by key"),
            &format!("vendor/x: verified {host}/listed-nested@{nested_d} signed by key"),
        ],
    );

    // `vendoras verify --images`: the same rule from the command line. Without it only
    // the bundle is checked; with it, every listed image, and an unsigned one fails
    // (read as a sync reads it: plain HTTP for loopback, no --plain-http).
    let key = keys_dir().join("right/cosign.pub");
    let verify = |args: &[&str], tag: &str| {
        run(vendoras()
            .arg("verify")
            .arg("--key")
            .arg(&key)
            .args(args)
            .arg(format!("{host}/listed-top:{tag}")))
    };
    let out = verify(&["--plain-http"], "bad").ok();
    assert_eq!(out.stdout.matches("Verified ").count(), 1, "{out:?}");
    let out = verify(&["--images"], "ok").ok();
    for line in [
        format!("Signed by: key {}", key.display()),
        format!("Verified {host}/listed-top:ok@{top_ok}"),
        format!("Verified image {r}@{d}"),
        format!("Verified image {host}/listed-nested@{nested_d}"),
    ] {
        assert!(out.stdout.contains(&line), "{line:?} not in\n{out:?}");
    }
    // Several keys: any one may have signed each.
    let wrong = keys_dir().join("wrong/cosign.pub");
    let out = verify(&["--key", wrong.to_str().unwrap(), "--images"], "ok").ok();
    assert_eq!(out.stdout.matches("Verified ").count(), 3, "{out:?}");
    let out = verify(&["--images"], "bad");
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!("no signature found for {ud}"))
            && out.stderr.contains(&ur)
            && !out.stderr.contains("content"),
        "{out:?}"
    );
}

/// The blobs (config and layers) of the manifest `repository@digest`.
fn content_blobs(repository: &str, digest: &str) -> Vec<String> {
    let out = run(crane()
        .args(["manifest", "--insecure"])
        .arg(format!("{repository}@{digest}")))
    .ok();
    let m: Value = serde_json::from_str(&out.stdout).unwrap();
    let mut blobs = vec![m["config"]["digest"].as_str().unwrap().to_string()];
    for l in m["layers"].as_array().unwrap() {
        blobs.push(l["digest"].as_str().unwrap().to_string());
    }
    blobs
}

/// Through a proxy that records every request: a failed check requests none of the
/// content's blobs (config or layers); a good one requests them only after the last
/// signature lookup. For every kind.
#[test]
fn no_content_blob_before_verification() {
    for kind in Kind::all() {
        let name = format!("order-{}", kind.name().to_lowercase());
        let repository = kind.repository(&name);
        let path = repository.split_once('/').unwrap().1.to_string();
        let signed = kind.push(&name, "1.0.0");
        sign(&repository, &signed, "right", true);
        let unsigned = kind.push(&name, "2.0.0");
        let proxy = FaultProxy::start(registry().addr());
        let blob_path = |d: &str| format!("/v2/{path}/blobs/{d}");
        let w = Work::new();
        fs::copy(
            keys_dir().join("right/cosign.pub"),
            w.dir.join("cosign.pub"),
        )
        .unwrap();
        fs::copy(keys_dir().join("wrong/cosign.pub"), w.dir.join("wrong.pub")).unwrap();

        for (version, key, digest, why) in [
            ("2.0.0", "cosign.pub", &unsigned, "no signature found for"),
            (
                "1.0.0",
                "wrong.pub",
                &signed,
                "does not verify with the given public key",
            ),
        ] {
            let key_line = format!("key: {key}");
            w.config(&kind.config_at(&proxy.host(), &name, version, &[&key_line]));
            let out = fails_and_keeps_everything(&w, kind, &[], &[why]);
            assert!(
                proxy.count(&format!("/v2/{path}/manifests/{version}")) > 0,
                "{kind:?}: the sync did not go through the proxy\n{}",
                proxy.seen_text()
            );
            for b in content_blobs(&repository, digest) {
                assert_eq!(
                    proxy.count(&blob_path(&b)),
                    0,
                    "{kind:?} {version}: blob {b} requested although verification failed\n{out:?}\n{}",
                    proxy.seen_text()
                );
            }
        }

        let signature_path = format!("/v2/{path}/manifests/{}.sig", signed.replace(':', "-"));
        let first = proxy.seen().len();
        w.config(&kind.config_at(&proxy.host(), &name, "1.0.0", &["key: cosign.pub"]));
        let out = w.sync(&[]).ok();
        assert!(kind.holds(&w, "1.0.0"), "{kind:?}\n{out:?}");
        let seen = &proxy.seen()[first..];
        let blobs = content_blobs(&repository, &signed);
        let first_blob = seen
            .iter()
            .position(|s| s.method == "GET" && blobs.iter().any(|b| s.path == blob_path(b)))
            .unwrap_or_else(|| panic!("{kind:?}: no blob fetched\n{}", proxy.seen_text()));
        let last_signature = seen
            .iter()
            .rposition(|s| s.path == signature_path)
            .unwrap_or_else(|| panic!("{kind:?}: no signature lookup\n{}", proxy.seen_text()));
        assert!(
            last_signature < first_blob,
            "{kind:?}: a content blob was requested before the signature was checked\n{}",
            proxy.seen_text()
        );
    }
}
