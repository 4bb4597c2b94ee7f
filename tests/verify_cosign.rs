//! `vendoras verify` against signatures made by the real cosign CLI (key-based, both
//! layouts) and by the in-repo keyless test signer (`go/cmd/testsigner`, a sigstore-go
//! VirtualSigstore), on a real registry, fully offline. Every key-based case is also run
//! through `cosign verify`, and the two must agree.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};
use support::cosign::{cosign, testsigner};
use support::{run, Crafter, Outcome, Registry};

const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

// ---------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------

struct Fixture {
    reg: Registry,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let f = Fixture {
            reg: Registry::start(),
            dir: tempfile::tempdir().unwrap(),
        };
        for name in ["right", "wrong"] {
            let d = f.dir.path().join(name);
            fs::create_dir_all(&d).unwrap();
            run(cosign().current_dir(&d).arg("generate-key-pair")).ok();
        }
        f
    }

    fn key(&self, name: &str) -> PathBuf {
        self.dir.path().join(name).join("cosign.key")
    }

    fn pubkey(&self, name: &str) -> PathBuf {
        self.dir.path().join(name).join("cosign.pub")
    }

    fn repo(&self, repo: &str) -> String {
        format!("{}/{repo}", self.reg.host())
    }

    /// `oras push` of one small file; returns the manifest digest.
    fn push(&self, repo: &str, tag: &str, content: &str) -> String {
        let work = tempfile::tempdir().unwrap();
        fs::write(work.path().join("file.txt"), content).unwrap();
        let reference = format!("{}:{tag}", self.repo(repo));
        run(support::oras().current_dir(work.path()).args([
            "push",
            "--plain-http",
            &reference,
            "file.txt",
        ]))
        .ok();
        self.resolve(&reference)
    }

    fn resolve(&self, reference: &str) -> String {
        run(support::oras().args(["resolve", "--plain-http", reference]))
            .ok()
            .stdout
            .trim()
            .to_string()
    }

    /// `oras cp` within the registry (same digest in another repository).
    fn copy(&self, from: &str, to: &str) {
        run(support::oras().args(["cp", "--from-plain-http", "--to-plain-http", from, to])).ok();
    }

    /// `cosign sign --key ... --tlog-upload=false` of `repo@digest`.
    fn sign(&self, repo: &str, digest: &str, key: &str, legacy: bool) {
        let mut cmd = cosign();
        cmd.args(["sign", "--key"]).arg(self.key(key)).args([
            "--tlog-upload=false",
            "--use-signing-config=false",
            "--yes",
            "--allow-http-registry",
            "--allow-insecure-registry",
        ]);
        if legacy {
            cmd.arg("--new-bundle-format=false");
        }
        cmd.arg(format!("{}@{digest}", self.repo(repo)));
        run(&mut cmd).ok();
    }

    fn vendoras_verify(&self, args: &[&str], reference: &str) -> Outcome {
        // Run where nothing else is, to show the command writes nothing.
        let cwd = tempfile::tempdir().unwrap();
        let out = run(support::vendoras()
            .current_dir(cwd.path())
            .args(["verify", "--plain-http"])
            .args(args)
            .arg(reference));
        assert_eq!(
            fs::read_dir(cwd.path()).unwrap().count(),
            0,
            "verify wrote files: {out:?}"
        );
        out
    }

    fn verify_key(&self, keys: &[&str], reference: &str) -> Outcome {
        let mut args = Vec::new();
        for k in keys {
            args.push("--key".to_string());
            args.push(self.pubkey(k).display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.vendoras_verify(&args, reference)
    }

    fn cosign_verify_key(&self, key: &str, reference: &str) -> Outcome {
        run(cosign()
            .args(["verify", "--key"])
            .arg(self.pubkey(key))
            .args([
                "--insecure-ignore-tlog",
                "--allow-http-registry",
                "--allow-insecure-registry",
                "-o",
                "json",
            ])
            .arg(reference))
    }

    /// `cosign verify` keyless against an offline trusted root (the test signer's Fulcio
    /// issues no SCTs, hence --insecure-ignore-sct).
    fn cosign_verify_keyless(
        &self,
        identity: &str,
        issuer: &str,
        root: &str,
        reference: &str,
    ) -> Outcome {
        run(cosign()
            .args(["verify", "--trusted-root", root])
            .args([
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                issuer,
            ])
            .args([
                "--insecure-ignore-sct",
                "--allow-http-registry",
                "--allow-insecure-registry",
            ])
            .arg(reference))
    }

    /// vendoras and cosign keyless; asserts they agree; returns vendoras' outcome.
    fn both_keyless(
        &self,
        identity: &str,
        issuer: &str,
        root: &str,
        reference: &str,
        expect_ok: bool,
    ) -> Outcome {
        let v = self.vendoras_verify(&keyless_args(identity, issuer, root), reference);
        let c = self.cosign_verify_keyless(identity, issuer, root, reference);
        assert_eq!(v.success(), expect_ok, "vendoras verify: {v:?}");
        assert_eq!(
            c.success(),
            expect_ok,
            "cosign verify disagrees with the expectation: {c:?}"
        );
        v
    }

    /// Runs both verifiers with one key; asserts they agree; returns vendoras' outcome.
    fn both(&self, key: &str, reference: &str, expect_ok: bool) -> Outcome {
        let v = self.verify_key(&[key], reference);
        let c = self.cosign_verify_key(key, reference);
        assert_eq!(v.success(), expect_ok, "vendoras verify: {v:?}");
        assert_eq!(
            c.success(),
            expect_ok,
            "cosign verify disagrees with the expectation: {c:?}"
        );
        if !expect_ok {
            assert_eq!(v.code(), Some(1), "{v:?}");
            assert!(v.stderr.starts_with("vendoras: Error: "), "{v:?}");
        }
        v
    }

    // -- raw signature material ---------------------------------------------------------

    fn fetch_manifest(&self, reference: &str) -> Value {
        let out = run(support::oras().args(["manifest", "fetch", "--plain-http", reference])).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    fn fetch_blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let file = self
            .dir
            .path()
            .join(format!("blob-{}", digest.replace(':', "-")));
        run(support::oras()
            .args(["blob", "fetch", "--plain-http", "--output"])
            .arg(&file)
            .arg(format!("{}@{digest}", self.repo(repo))))
        .ok();
        fs::read(file).unwrap()
    }

    /// The `.sig` manifest cosign <= v2 wrote for `digest`, and its first layer's bytes.
    fn legacy_signature(&self, repo: &str, digest: &str) -> (Value, Vec<u8>) {
        let tag = sig_tag(digest);
        let m = self.fetch_manifest(&format!("{}:{tag}", self.repo(repo)));
        let payload = self.fetch_blob(repo, m["layers"][0]["digest"].as_str().unwrap());
        (m, payload)
    }

    /// Pushes a `.sig` manifest for `digest` in `repo`: one simplesigning layer with
    /// these payload bytes and annotations.
    fn push_legacy(&self, repo: &str, digest: &str, payload: &[u8], annotations: &Value) {
        let mut c = Crafter::new(&self.reg, repo);
        let mut layer = c.blob(SIMPLESIGNING, payload);
        for (k, v) in annotations.as_object().unwrap() {
            layer = layer.annotate(k, v.as_str().unwrap());
        }
        let mut m = c.manifest("", &[layer]);
        m.as_object_mut().unwrap().remove("artifactType");
        c.push_manifest(&sig_tag(digest), &m);
    }

    /// The Sigstore bundle cosign v3 attached to `digest` (the first one found).
    fn bundle_of(&self, repo: &str, digest: &str) -> Value {
        let out = run(support::oras()
            .args(["discover", "--plain-http", "--format", "json"])
            .arg(format!("{}@{digest}", self.repo(repo))))
        .ok();
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        let referrers = v["referrers"]
            .as_array()
            .or(v["manifests"].as_array())
            .expect("referrers");
        let r = referrers
            .iter()
            .find(|r| r["artifactType"] == BUNDLE_TYPE)
            .expect("a bundle referrer");
        let m = self.fetch_manifest(&format!(
            "{}@{}",
            self.repo(repo),
            r["digest"].as_str().unwrap()
        ));
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        serde_json::from_slice(&self.fetch_blob(repo, layer)).unwrap()
    }

    /// Digests of the referrer manifests attached to `repo@digest` (`oras discover`).
    fn referrer_digests(&self, repo: &str, digest: &str) -> Vec<String> {
        let out = run(support::oras()
            .args(["discover", "--plain-http", "--format", "json"])
            .arg(format!("{}@{digest}", self.repo(repo))))
        .ok();
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        v["referrers"]
            .as_array()
            .or(v["manifests"].as_array())
            .expect("referrers")
            .iter()
            .map(|r| r["digest"].as_str().unwrap().to_string())
            .collect()
    }

    /// The in-toto statement signed in one referrer's bundle, as text.
    fn statement_of_referrer(&self, repo: &str, referrer: &str) -> String {
        let m = self.fetch_manifest(&format!("{}@{referrer}", self.repo(repo)));
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let bundle: Value = serde_json::from_slice(&self.fetch_blob(repo, layer)).unwrap();
        let payload = bundle["dsseEnvelope"]["payload"]
            .as_str()
            .expect("a DSSE bundle");
        String::from_utf8(b64_decode(payload)).unwrap()
    }

    /// `oras attach` of a bundle to `repo@digest` (the registry has no referrers API:
    /// oras maintains the sha256-<hex> tag-schema index, as cosign 3 does).
    fn attach_bundle(&self, repo: &str, digest: &str, bundle: &[u8]) {
        let work = tempfile::tempdir().unwrap();
        fs::write(work.path().join("bundle.json"), bundle).unwrap();
        run(support::oras()
            .current_dir(work.path())
            .args(["attach", "--plain-http", "--artifact-type", BUNDLE_TYPE])
            .arg(format!("{}@{digest}", self.repo(repo)))
            .arg(format!("bundle.json:{BUNDLE_TYPE}")))
        .ok();
    }
}

fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

fn assert_stderr(out: &Outcome, needle: &str) {
    assert!(
        out.stderr.contains(needle),
        "expected {needle:?} in stderr: {out:?}"
    );
}

// A few lines of standard base64 rather than a dev-dependency.
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&x| x == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn b64_flip(sig_b64: &str) -> String {
    let mut raw = b64_decode(sig_b64);
    let n = raw.len();
    raw[n - 3] ^= 0x01;
    b64_encode(&raw)
}

/// Changes the in-toto statement inside a bundle's DSSE envelope (the signature
/// then no longer matches).
fn tamper_payload(b: &mut Value) {
    let p = b64_decode(b["dsseEnvelope"]["payload"].as_str().unwrap());
    let p = String::from_utf8(p).unwrap();
    let changed = p.replacen("\"predicate\":{", "\"predicate\":{\"x\":1,", 1);
    assert_ne!(p, changed, "payload: {p}");
    b["dsseEnvelope"]["payload"] = json!(b64_encode(changed.as_bytes()));
}

/// `scratch@digest` copied to `repo:v1`, with `bundle` attached after its
/// payload (`what` = "payload") or else its signature was tampered with.
fn copy_with_tampered_bundle(f: &Fixture, repo: &str, digest: &str, bundle: &Value, what: &str) {
    f.copy(
        &format!("{}@{digest}", f.repo("scratch")),
        &format!("{}:v1", f.repo(repo)),
    );
    let mut b = bundle.clone();
    if what == "payload" {
        tamper_payload(&mut b);
    } else {
        let sig = b["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .unwrap()
            .to_string();
        b["dsseEnvelope"]["signatures"][0]["sig"] = json!(b64_flip(&sig));
    }
    assert_ne!(&b, bundle);
    f.attach_bundle(repo, digest, &serde_json::to_vec(&b).unwrap());
}

// ---------------------------------------------------------------------------------------
// Key-based, cosign-made signatures (cosign verify must agree)
// ---------------------------------------------------------------------------------------

#[test]
fn key_legacy_and_bundle_layouts_verify_like_cosign() {
    let f = Fixture::new();
    let d1 = f.push("app", "legacy", "one");
    f.sign("app", &d1, "right", true);
    let v = f.both("right", &format!("{}:legacy", f.repo("app")), true);
    assert!(
        v.stdout
            .contains(&format!("Verified {}@{d1}", f.repo("app"))),
        "{v:?}"
    );
    assert!(v.stdout.contains("cosign-v2-tag"), "{v:?}");
    assert!(
        v.stdout
            .contains(&format!("key {}", f.pubkey("right").display())),
        "{v:?}"
    );

    let d2 = f.push("app", "bundle", "two");
    f.sign("app", &d2, "right", false);
    let v = f.both("right", &format!("{}:bundle", f.repo("app")), true);
    assert!(v.stdout.contains("bundle-referrer"), "{v:?}");
    assert!(v.stdout.contains(&d2), "{v:?}");

    // Keys are tried in turn: any one of them is enough.
    let v = f.verify_key(&["wrong", "right"], &format!("{}:bundle", f.repo("app")));
    assert!(v.success(), "{v:?}");
    assert!(
        v.stdout.contains(&f.pubkey("right").display().to_string()),
        "{v:?}"
    );
}

#[test]
fn key_unsigned_wrong_key_and_moved_tag_fail_like_cosign() {
    let f = Fixture::new();
    let unsigned = f.push("app", "unsigned", "nobody signed this");
    let v = f.both("right", &format!("{}:unsigned", f.repo("app")), false);
    let hex = unsigned.trim_start_matches("sha256:");
    assert_stderr(
        &v,
        &format!(
            "no signature found for {unsigned} (looked for tag sha256-{hex}.sig and referrers)"
        ),
    );

    for (tag, legacy) in [("legacy", true), ("bundle", false)] {
        let d = f.push("app", tag, tag);
        f.sign("app", &d, "right", legacy);
        let reference = format!("{}:{tag}", f.repo("app"));
        let v = f.both("wrong", &reference, false);
        assert_stderr(&v, "does not verify with the given public key");

        // The tag moves to an unsigned digest after signing: the signature of the old
        // digest does not count for the new one.
        let moved = f.push("app", tag, &format!("{tag} replaced"));
        let v = f.both("right", &reference, false);
        assert_stderr(&v, &format!("no signature found for {moved}"));
    }
}

#[test]
fn key_claim_naming_another_digest_fails_like_cosign() {
    let f = Fixture::new();
    for (tag, legacy) in [("legacy", true), ("bundle", false)] {
        // Contents differ per layout: oras stamps a manifest with its creation time in
        // whole seconds, so equal contents pushed within one second are one manifest,
        // which would then carry both layouts' signatures.
        let signed = f.push("app", &format!("{tag}-signed"), &format!("{tag}: signed"));
        f.sign("app", &signed, "right", legacy);
        let other = f.push("app", &format!("{tag}-other"), &format!("{tag}: other"));
        if legacy {
            // The valid .sig manifest of `signed`, tagged for `other`.
            let (m, payload) = f.legacy_signature("app", &signed);
            f.push_legacy("app", &other, &payload, &m["layers"][0]["annotations"]);
        } else {
            let bundle = f.bundle_of("app", &signed);
            f.attach_bundle("app", &other, &serde_json::to_vec(&bundle).unwrap());
        }
        let v = f.both("right", &format!("{}:{tag}-other", f.repo("app")), false);
        assert_stderr(&v, &format!("the signed claim names {signed}, not {other}"));
    }
}

/// Several signatures that all fail equally far (each claim names another digest): the
/// one reported is the first by the documented order (docs/ffi.md): the `.sig` tag
/// before referrers, then by signature manifest digest. The same answer every run.
#[test]
fn equally_relevant_failures_report_the_first_signature_in_the_documented_order() {
    let f = Fixture::new();
    let by_tag = f.push("app", "signed-legacy", "signed in the .sig layout");
    f.sign("app", &by_tag, "right", true);
    let by_bundle = [
        f.push("app", "signed-bundle-1", "signed with a bundle, 1"),
        f.push("app", "signed-bundle-2", "signed with a bundle, 2"),
    ];
    for d in &by_bundle {
        f.sign("app", d, "right", false);
    }
    let other = f.push("app", "other", "other content");
    let reference = format!("{}:other", f.repo("app"));

    // Two bundle referrers, each valid but naming its own digest: the referrer manifest
    // with the smaller digest is reported, whichever was attached first.
    for d in by_bundle.iter().rev() {
        let bundle = f.bundle_of("app", d);
        f.attach_bundle("app", &other, &serde_json::to_vec(&bundle).unwrap());
    }
    let referrers = f.referrer_digests("app", &other);
    assert_eq!(referrers.len(), 2, "{referrers:?}");
    let first = referrers.iter().min().unwrap();
    let named = by_bundle
        .iter()
        .find(|d| {
            f.statement_of_referrer("app", first)
                .contains(d.trim_start_matches("sha256:"))
        })
        .expect("the first referrer names one of the signed digests");
    for _ in 0..3 {
        let v = f.both("right", &reference, false);
        assert_stderr(
            &v,
            &format!("none of the 2 signatures found for {other} verified; most relevant: "),
        );
        assert_stderr(
            &v,
            &format!(
                "signature {first} (bundle-referrer): the signed claim names {named}, not {other}"
            ),
        );
    }

    // A .sig tag naming yet another digest sorts before every referrer.
    let (m, payload) = f.legacy_signature("app", &by_tag);
    f.push_legacy("app", &other, &payload, &m["layers"][0]["annotations"]);
    for _ in 0..3 {
        let v = f.both("right", &reference, false);
        assert_stderr(&v, "none of the 3 signatures");
        assert_stderr(
            &v,
            &format!("(cosign-v2-tag): the signed claim names {by_tag}, not {other}"),
        );
    }
}

#[test]
fn key_tampered_payload_and_signature_fail_like_cosign() {
    let f = Fixture::new();

    // cosign <= v2 layout: edit the .sig manifest in place.
    let d = f.push("app", "legacy", "legacy content");
    f.sign("app", &d, "right", true);
    let (m, payload) = f.legacy_signature("app", &d);
    let ann = m["layers"][0]["annotations"].clone();
    let tampered = String::from_utf8(payload.clone()).unwrap().replace(
        "cosign container image signature\"",
        "cosign container image signature\",\"x\":1",
    );
    assert_ne!(tampered.as_bytes(), &payload[..]);
    f.push_legacy("app", &d, tampered.as_bytes(), &ann);
    let reference = format!("{}:legacy", f.repo("app"));
    let v = f.both("right", &reference, false);
    assert_stderr(&v, "does not verify with the given public key");

    let mut bad_sig = ann.clone();
    let sig = bad_sig["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_string();
    bad_sig["dev.cosignproject.cosign/signature"] = json!(b64_flip(&sig));
    f.push_legacy("app", &d, &payload, &bad_sig);
    let v = f.both("right", &reference, false);
    assert_stderr(&v, "does not verify with the given public key");

    // Restored, it verifies again (the fixture itself is sound).
    f.push_legacy("app", &d, &payload, &ann);
    f.both("right", &reference, true);

    // cosign v3 layout: sign in a scratch repository, copy the artifact (same digest)
    // and attach only a tampered bundle to the copy.
    let d = f.push("scratch", "bundle", "bundle content");
    f.sign("scratch", &d, "right", false);
    let bundle = f.bundle_of("scratch", &d);
    for (repo, what) in [
        ("tampered-payload", "payload"),
        ("tampered-signature", "signature"),
    ] {
        copy_with_tampered_bundle(&f, repo, &d, &bundle, what);
        let v = f.both("right", &format!("{}:v1", f.repo(repo)), false);
        assert_stderr(&v, "does not verify with the given public key");
    }
}

// ---------------------------------------------------------------------------------------
// Keyless (test signer + its trusted_root.json; cosign verify --trusted-root must agree)
// ---------------------------------------------------------------------------------------

struct Keyless {
    out: PathBuf,
}

impl Keyless {
    fn sign(f: &Fixture, digest: &str, identity: &str, issuer: &str, name: &str) -> Keyless {
        let out = f.dir.path().join(format!("keyless-{}", &digest[7..19]));
        run(Command::new(testsigner())
            .args([
                "-identity",
                identity,
                "-issuer",
                issuer,
                "-digest",
                digest,
                "-name",
                name,
                "-out",
            ])
            .arg(&out))
        .ok();
        Keyless { out }
    }

    fn file(&self, name: &str) -> Vec<u8> {
        fs::read(self.out.join(name)).unwrap()
    }

    fn root(&self) -> String {
        self.out.join("trusted_root.json").display().to_string()
    }

    fn untrusted_root(&self) -> String {
        self.out.join("untrusted_root.json").display().to_string()
    }

    fn attach_bundle(&self, f: &Fixture, repo: &str, digest: &str) {
        f.attach_bundle(repo, digest, &self.file("bundle.json"));
    }

    fn push_legacy(&self, f: &Fixture, repo: &str, digest: &str) {
        let ann: Value = serde_json::from_slice(&self.file("legacy_annotations.json")).unwrap();
        f.push_legacy(repo, digest, &self.file("legacy_payload.json"), &ann);
    }
}

const ID: &str = "alice@example.com";
const ISSUER: &str = "https://issuer.example";

fn keyless_args<'a>(identity: &'a str, issuer: &'a str, root: &'a str) -> Vec<&'a str> {
    vec![
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        "--trusted-root",
        root,
    ]
}

#[test]
fn keyless_both_layouts_and_the_negative_matrix() {
    let f = Fixture::new();
    for legacy in [false, true] {
        let repo = if legacy { "legacy" } else { "bundle" };
        let reference = format!("{}:v1", f.repo(repo));
        let d = f.push(repo, "v1", repo);
        let k = Keyless::sign(&f, &d, ID, ISSUER, &f.repo(repo));
        if legacy {
            k.push_legacy(&f, repo, &d);
        } else {
            k.attach_bundle(&f, repo, &d);
        }
        let root = k.root();

        let v = f.both_keyless(ID, ISSUER, &root, &reference, true);
        assert!(
            v.stdout
                .contains(&format!("identity {ID} issued by {ISSUER}")),
            "{v:?}"
        );
        assert!(
            v.stdout.contains(if legacy {
                "cosign-v2-tag"
            } else {
                "bundle-referrer"
            }),
            "{v:?}"
        );

        // Regexps (unanchored, as cosign's).
        let v = f.vendoras_verify(
            &[
                "--certificate-identity-regexp",
                "@example\\.com$",
                "--certificate-oidc-issuer-regexp",
                "issuer",
                "--trusted-root",
                &root,
            ],
            &reference,
        );
        assert!(v.success(), "{v:?}");

        let v = f.both_keyless("bob@example.com", ISSUER, &root, &reference, false);
        assert_stderr(&v, "certificate identity or issuer mismatch");
        assert_stderr(
            &v,
            "expected SAN value \"bob@example.com\", got \"alice@example.com\"",
        );

        let v = f.both_keyless(ID, "https://other.example", &root, &reference, false);
        assert_stderr(&v, "certificate identity or issuer mismatch");
        assert_stderr(&v, "https://other.example");

        let untrusted = k.untrusted_root();
        let v = f.both_keyless(ID, ISSUER, &untrusted, &reference, false);
        assert_stderr(&v, "untrusted certificate chain");

        // A valid keyless signature of another digest, attached to this one.
        let other = f.push(repo, "other", "other");
        if legacy {
            k.push_legacy(&f, repo, &other);
        } else {
            k.attach_bundle(&f, repo, &other);
        }
        let v = f.both_keyless(ID, ISSUER, &root, &format!("{}:other", f.repo(repo)), false);
        assert_stderr(&v, &format!("the signed claim names {d}, not {other}"));

        // Keyless policy on an unsigned digest.
        let bare = f.push(repo, "bare", "bare");
        let v = f.both_keyless(ID, ISSUER, &root, &format!("{}:bare", f.repo(repo)), false);
        assert_stderr(&v, &format!("no signature found for {bare}"));
    }
}

#[test]
fn keyless_tampered_payload_and_signature_fail() {
    let f = Fixture::new();
    let d = f.push("scratch", "v1", "keyless tamper");
    let k = Keyless::sign(&f, &d, ID, ISSUER, &f.repo("app"));
    let root = k.root();
    let bundle: Value = serde_json::from_slice(&k.file("bundle.json")).unwrap();
    for (repo, what) in [("payload", "payload"), ("signature", "signature")] {
        copy_with_tampered_bundle(&f, repo, &d, &bundle, what);
        let v = f.both_keyless(ID, ISSUER, &root, &format!("{}:v1", f.repo(repo)), false);
        assert_stderr(&v, "(bundle-referrer)");
        // sigstore-go checks the log entry first: it no longer matches the bundle.
        assert_stderr(&v, "does not match");
    }
}

#[test]
fn usage_errors_exit_1() {
    let f = Fixture::new();
    f.push("app", "v1", "x");
    let reference = format!("{}:v1", f.repo("app"));
    let v = f.vendoras_verify(&["--certificate-identity", ID], &reference);
    assert_eq!(v.code(), Some(1), "{v:?}");
    assert_stderr(&v, "--certificate-oidc-issuer");
    let v = f.vendoras_verify(&[], &reference);
    assert_eq!(v.code(), Some(1), "{v:?}");
}
