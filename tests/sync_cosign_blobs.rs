//! `cosign:` on `http` and `githubRelease`: the downloaded file is verified against a
//! Sigstore bundle (`cosign sign-blob --bundle`) after its download and hash, before
//! anything is unpacked or placed. Key-based bundles are made by the real cosign CLI
//! (v3 Sigstore bundle, and cosign <= v2's format); keyless ones by the in-repo test
//! signer (go/cmd/testsigner) with its own trust root. Files are served by the static
//! HTTP server and the GitHub API fake.
//!
//! Every failure exits 1, names the content, the file, the bundle and what failed, and
//! leaves the tree, the lock and a sentinel sibling as they were.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::cosign::{cosign, key_pairs, testsigner};
use support::fixtures::*;
use support::servers::{FakeGithub, FakeRelease, HttpServer};
use support::sync::{assert_contains, Work};
use support::*;

const ID: &str = "https://github.com/acme/tool/.github/workflows/release.yml@refs/tags/v1.0.0";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SLUG: &str = "acme/tool";

/// Scratch space for keys, signed files and bundles, kept for the test process.
fn scratch() -> &'static Path {
    static S: OnceLock<PathBuf> = OnceLock::new();
    S.get_or_init(|| {
        let p = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("cosign-blobs-{}", std::process::id()));
        fs::create_dir_all(&p).unwrap();
        p
    })
}

/// Two cosign key pairs, `right` and `wrong`, generated once.
fn keys_dir() -> &'static Path {
    static K: OnceLock<PathBuf> = OnceLock::new();
    K.get_or_init(|| key_pairs(scratch().join("keys")))
}

/// A tar.gz holding `marker.txt` = `marker` (unpacked by `http`, and by
/// `githubRelease` with `unpackArchive`).
fn archive(marker: &str) -> Vec<u8> {
    tar_of(&[("marker.txt", marker.as_bytes())]).finish_gz()
}

/// `cosign sign-blob --key <key> --bundle` of `data` (offline: no transparency log);
/// `legacy` writes cosign <= v2's bundle format. Returns the bundle file's bytes.
fn sign_blob(data: &[u8], key: &str, legacy: bool) -> Vec<u8> {
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    let file = dir.path().join("blob");
    fs::write(&file, data).unwrap();
    let bundle = dir.path().join("out.bundle");
    let mut cmd = cosign();
    cmd.args(["sign-blob", "--key"])
        .arg(keys_dir().join(key).join("cosign.key"))
        .arg("--bundle")
        .arg(&bundle)
        .args(["--tlog-upload=false", "--use-signing-config=false", "--yes"]);
    if legacy {
        cmd.arg("--new-bundle-format=false");
    }
    run(cmd.arg(&file)).ok();
    fs::read(&bundle).unwrap()
}

/// The keyless test signer's blob bundles for `data`: (v3 bundle, cosign <= v2
/// bundle, directory holding trusted_root.json and untrusted_root.json).
fn sign_keyless(data: &[u8]) -> (Vec<u8>, Vec<u8>, PathBuf) {
    // Each call its own directory (and so its own test root): tests run in
    // parallel and may sign the same bytes.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = scratch().join(format!("keyless-{}-{n}", &sha256_hex(data)[..16]));
    run(Command::new(testsigner())
        .args(["-identity", ID, "-issuer", ISSUER])
        .arg("-digest")
        .arg(format!("sha256:{}", sha256_hex(data)))
        .args(["-name", "tool.tgz", "-out"])
        .arg(&out))
    .ok();
    (
        fs::read(out.join("blob.sigstore.json")).unwrap(),
        fs::read(out.join("blob.bundle")).unwrap(),
        out,
    )
}

/// Where the file and its bundle are served from.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Http,
    Github,
}

impl Kind {
    fn all() -> [Kind; 2] {
        [Kind::Http, Kind::Github]
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Github => "githubRelease",
        }
    }
}

/// One file (`tool.tgz`) with optional bundle files beside it, served by a fresh
/// static HTTP server or GitHub fake (release `v1.0.0` of acme/tool).
struct Served {
    kind: Kind,
    _root: tempfile::TempDir,
    http: Option<HttpServer>,
    github: Option<FakeGithub>,
}

impl Served {
    fn new(kind: Kind, files: &[(&str, &[u8])]) -> Served {
        let root = tempfile::tempdir_in(scratch()).unwrap();
        match kind {
            Kind::Http => {
                for (name, data) in files {
                    fs::write(root.path().join(name), data).unwrap();
                }
                let http = HttpServer::files(root.path());
                Served {
                    kind,
                    _root: root,
                    http: Some(http),
                    github: None,
                }
            }
            Kind::Github => {
                let gh = FakeGithub::start(None);
                let mut release = FakeRelease::new("v1.0.0");
                for (name, data) in files {
                    release = release.asset(name, data.to_vec());
                }
                gh.add_release(SLUG, release.with_checksums_in_notes());
                Served {
                    kind,
                    _root: root,
                    http: None,
                    github: Some(gh),
                }
            }
        }
    }

    /// The file's URL (http) or how errors name the asset (githubRelease).
    fn subject(&self) -> String {
        match self.kind {
            Kind::Http => format!("{}/tool.tgz", self.http.as_ref().unwrap().url()),
            Kind::Github => "asset 'tool.tgz'".into(),
        }
    }

    /// How errors name the bundle `name` beside the file.
    fn bundle_name(&self, name: &str) -> String {
        match self.kind {
            Kind::Http => format!("{}/{name}", self.http.as_ref().unwrap().url()),
            Kind::Github => format!("asset '{name}'"),
        }
    }

    /// vendir.yml syncing tool.tgz (unpacked) into vendor/x with these `cosign:`
    /// lines (none: no `cosign:`); `extra` lines go in the source.
    fn config(&self, cosign: &[&str], extra: &[&str]) -> String {
        let mut s = String::from(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
             - path: vendor/x\n  contents:\n  - path: .\n",
        );
        match self.kind {
            Kind::Http => s.push_str(&format!(
                "    http:\n      url: {}/tool.tgz\n",
                self.http.as_ref().unwrap().url()
            )),
            Kind::Github => s.push_str(&format!(
                "    githubRelease:\n      slug: {SLUG}\n      tag: v1.0.0\n      \
                 assetNames: [tool.tgz]\n      unpackArchive:\n        path: tool.tgz\n"
            )),
        }
        for l in extra {
            s.push_str(&format!("      {l}\n"));
        }
        if !cosign.is_empty() {
            s.push_str("      cosign:\n");
            for l in cosign {
                s.push_str(&format!("        {l}\n"));
            }
        }
        s
    }

    fn sync(&self, w: &Work, args: &[&str]) -> Outcome {
        let mut cmd = w.cmd(args);
        for k in ["GITHUB_TOKEN", "VENDIR_GITHUB_API_TOKEN"] {
            cmd.env_remove(k);
        }
        match &self.github {
            Some(gh) => cmd.env("GITHUB_API_URL", gh.api_url()),
            None => cmd.env_remove("GITHUB_API_URL"),
        };
        run(&mut cmd)
    }
}

/// A work dir with the right and wrong public keys beside its config.
fn work() -> Work {
    let w = Work::new();
    for (key, name) in [("right", "cosign.pub"), ("wrong", "wrong.pub")] {
        fs::copy(keys_dir().join(key).join("cosign.pub"), w.dir.join(name)).unwrap();
    }
    w
}

fn holds(w: &Work, marker: &str) -> bool {
    fs::read_to_string(w.dir.join("vendor/x/marker.txt")).is_ok_and(|s| s == marker)
}

/// Syncs; asserts exit 1 with an error naming the content and kind, the file, every
/// needle, no "verified" note, and the work dir, lock and sentinel exactly as before.
#[track_caller]
fn fails_and_keeps_everything(s: &Served, w: &Work, needles: &[&str]) -> Outcome {
    let before = (w.state(), w.sentinel_tree());
    let out = s.sync(w, &[]);
    assert_eq!(
        out.code(),
        Some(1),
        "{:?}: the sync must fail\n{out:?}",
        s.kind
    );
    assert_contains(
        &out,
        &[
            "vendoras: Error:",
            "directory \"vendor/x\"",
            &format!("({})", s.kind.name()),
            &s.subject(),
            "signature not verified",
        ],
    );
    assert_contains(&out, needles);
    assert!(!out.stderr.contains(": verified "), "{:?}\n{out:?}", s.kind);
    assert_eq!(
        before,
        (w.state(), w.sentinel_tree()),
        "{:?}: changed\n{out:?}",
        s.kind
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

/// Key-based, with real `cosign sign-blob --bundle` output: the signed file syncs and
/// says by which key (the lock is the one without `cosign:`); the wrong key, a missing
/// bundle and a file changed after signing fail and change nothing.
fn key_based(kind: Kind) {
    let good = archive("signed v1");
    let bundle = sign_blob(&good, "right", false);
    let s = Served::new(
        kind,
        &[("tool.tgz", &good), ("tool.tgz.sigstore.json", &bundle)],
    );
    let w = work();
    w.config(&s.config(&["key: cosign.pub"], &[]));
    let out = s.sync(&w, &[]).ok();
    let sum = format!("sha256:{}", sha256_hex(&good));
    assert_contains(
        &out,
        &[&format!(
            "verified {}@{sum} signed by key {}",
            s.subject(),
            w.dir.join("cosign.pub").display()
        )],
    );
    assert_contains(
        &out,
        &[&format!(
            "(sigstore-bundle {})",
            s.bundle_name("tool.tgz.sigstore.json")
        )],
    );
    assert!(holds(&w, "signed v1"), "{kind:?}\n{out:?}");
    // The lock does not record the verification: the same as without `cosign:`.
    let plain = work();
    plain.config(&s.config(&[], &[]));
    s.sync(&plain, &[]).ok();
    assert_eq!(w.lock(), plain.lock(), "{kind:?}");
    // --json says what verified, by which key, from which bundle (a fresh work dir:
    // a githubRelease directory left as its last sync made it is kept, not fetched).
    let j = work();
    j.config(&s.config(&["key: cosign.pub"], &[]));
    let out = s.sync(&j, &["--json"]).ok();
    let v = json_verified(&out);
    assert_eq!(v.len(), 1, "{kind:?}\n{out:?}");
    assert_eq!(v[0]["digest"], sum.as_str());
    assert_eq!(v[0]["repository"], s.subject().as_str());
    assert_eq!(v[0]["signer"]["kind"], "key");
    assert_eq!(v[0]["layout"], "sigstore-bundle");
    assert_eq!(
        v[0]["bundle"],
        s.bundle_name("tool.tgz.sigstore.json").as_str()
    );
    // The wrong key.
    w.config(&s.config(&["key: wrong.pub"], &[]));
    fails_and_keeps_everything(
        &s,
        &w,
        &[
            &format!("bundle {}", s.bundle_name("tool.tgz.sigstore.json")),
            "does not verify with the given public key",
        ],
    );
    assert!(holds(&w, "signed v1"));
}

#[test]
fn key_based_http() {
    key_based(Kind::Http);
}

#[test]
fn key_based_github_release() {
    key_based(Kind::Github);
}

/// cosign <= v2's sign-blob bundle format, found as `{file}.bundle` when there is no
/// `.sigstore.json`.
#[test]
fn key_based_cosign_v2_bundle_format() {
    for kind in Kind::all() {
        let good = archive("signed, old format");
        let bundle = sign_blob(&good, "right", true);
        let s = Served::new(kind, &[("tool.tgz", &good), ("tool.tgz.bundle", &bundle)]);
        let w = work();
        w.config(&s.config(&["key: cosign.pub"], &[]));
        let out = s.sync(&w, &[]).ok();
        assert_contains(
            &out,
            &[&format!(
                "(cosign-bundle {})",
                s.bundle_name("tool.tgz.bundle")
            )],
        );
        assert!(holds(&w, "signed, old format"), "{kind:?}\n{out:?}");
        w.config(&s.config(&["key: wrong.pub"], &[]));
        fails_and_keeps_everything(&s, &w, &["does not verify with the given public key"]);
    }
}

/// No bundle anywhere: the error says where it looked; without `cosign:` the same
/// file syncs.
#[test]
fn unsigned_fails() {
    for kind in Kind::all() {
        let data = archive("unsigned");
        let s = Served::new(kind, &[("tool.tgz", &data)]);
        let w = work();
        w.config(&s.config(&["key: cosign.pub"], &[]));
        fails_and_keeps_everything(
            &s,
            &w,
            &[
                "no Sigstore bundle found",
                &s.bundle_name("tool.tgz.sigstore.json"),
                &s.bundle_name("tool.tgz.bundle"),
            ],
        );
        w.config(&s.config(&[], &[]));
        s.sync(&w, &[]).ok();
        assert!(holds(&w, "unsigned"));
    }
}

/// A file changed after it was signed: its bundle (a real one, for the original
/// bytes) is refused as another file's, for keys and for keyless.
#[test]
fn tampered_file_fails() {
    for kind in Kind::all() {
        let original = archive("original");
        let tampered = archive("tampered");
        let bundle = sign_blob(&original, "right", false);
        let (keyless, _, roots) = sign_keyless(&original);
        for (bundle, cosign) in [
            (bundle, vec!["key: cosign.pub".to_string()]),
            (
                keyless,
                vec![
                    format!("certificateIdentity: {ID}"),
                    format!("certificateOidcIssuer: {ISSUER}"),
                    format!("trustedRoot: {}", roots.join("trusted_root.json").display()),
                ],
            ),
        ] {
            let s = Served::new(
                kind,
                &[("tool.tgz", &tampered), ("tool.tgz.sigstore.json", &bundle)],
            );
            let w = work();
            let lines: Vec<&str> = cosign.iter().map(String::as_str).collect();
            w.config(&s.config(&lines, &[]));
            fails_and_keeps_everything(
                &s,
                &w,
                &[
                    &format!("it signs sha256:{}", sha256_hex(&original)),
                    &format!("not this file (sha256:{})", sha256_hex(&tampered)),
                    "the file was changed after signing",
                ],
            );
        }
    }
}

/// Keyless with a private trust root, both bundle formats: the right identity
/// verifies (and says who); another identity, another issuer and an untrusted root
/// fail; a key policy refuses a certificate signature.
#[test]
fn keyless() {
    for kind in Kind::all() {
        let data = archive("keyless");
        let (v3, v2, roots) = sign_keyless(&data);
        let trusted = format!("trustedRoot: {}", roots.join("trusted_root.json").display());
        let untrusted = format!(
            "trustedRoot: {}",
            roots.join("untrusted_root.json").display()
        );
        let id = format!("certificateIdentity: {ID}");
        let issuer = format!("certificateOidcIssuer: {ISSUER}");
        for (name, bundle, layout) in [
            ("tool.tgz.sigstore.json", &v3, "sigstore-bundle"),
            ("tool.tgz.bundle", &v2, "cosign-bundle"),
        ] {
            let s = Served::new(kind, &[("tool.tgz", &data), (name, bundle)]);
            let w = work();
            w.config(&s.config(&[&id, &issuer, &trusted], &[]));
            let out = s.sync(&w, &["--json"]).ok();
            let v = json_verified(&out);
            assert_eq!(v.len(), 1, "{kind:?} {layout}\n{out:?}");
            assert_eq!(v[0]["signer"]["kind"], "identity");
            assert_eq!(v[0]["signer"]["identity"], ID);
            assert_eq!(v[0]["signer"]["issuer"], ISSUER);
            assert_eq!(v[0]["layout"], layout);
            assert!(holds(&w, "keyless"));

            let other = "certificateIdentity: https://github.com/evil/tool/.github/workflows/release.yml@refs/tags/v1.0.0";
            w.config(&s.config(&[other, &issuer, &trusted], &[]));
            fails_and_keeps_everything(
                &s,
                &w,
                &[
                    &format!("bundle {}", s.bundle_name(name)),
                    "certificate identity or issuer mismatch",
                ],
            );
            w.config(&s.config(
                &[&id, "certificateOidcIssuer: https://gitlab.com", &trusted],
                &[],
            ));
            fails_and_keeps_everything(&s, &w, &["certificate identity or issuer mismatch"]);
            w.config(&s.config(&[&id, &issuer, &untrusted], &[]));
            fails_and_keeps_everything(&s, &w, &["untrusted certificate chain"]);
            w.config(&s.config(&["key: cosign.pub"], &[]));
            fails_and_keeps_everything(&s, &w, &[&format!("bundle {}", s.bundle_name(name))]);
        }
    }
}

/// `bundleURL` (http) and `bundleAsset` (githubRelease, `{asset}` replaced) name the
/// bundle; the default places are then not looked at.
#[test]
fn named_bundle_locations() {
    let data = archive("named");
    let bundle = sign_blob(&data, "right", false);
    // http: bundleURL.
    let s = Served::new(
        Kind::Http,
        &[("tool.tgz", &data), ("sigs-tool.json", &bundle)],
    );
    let w = work();
    let url = format!("bundleURL: {}", s.bundle_name("sigs-tool.json"));
    w.config(&s.config(&["key: cosign.pub", &url], &[]));
    let out = s.sync(&w, &[]).ok();
    assert_contains(
        &out,
        &[&format!(
            "(sigstore-bundle {})",
            s.bundle_name("sigs-tool.json")
        )],
    );
    let missing = format!("bundleURL: {}", s.bundle_name("nope.json"));
    w.config(&s.config(&["key: cosign.pub", &missing], &[]));
    fails_and_keeps_everything(&s, &w, &["no Sigstore bundle found", "nope.json"]);

    // githubRelease: bundleAsset with {asset}.
    let s = Served::new(
        Kind::Github,
        &[("tool.tgz", &data), ("tool.tgz.sig.json", &bundle)],
    );
    let w = work();
    w.config(&s.config(&["key: cosign.pub", "bundleAsset: '{asset}.sig.json'"], &[]));
    let out = s.sync(&w, &[]).ok();
    assert_contains(&out, &["(sigstore-bundle asset 'tool.tgz.sig.json')"]);
    w.config(&s.config(&["key: cosign.pub", "bundleAsset: other.json"], &[]));
    fails_and_keeps_everything(&s, &w, &["asset 'other.json' (no such asset)"]);
}

/// githubRelease without `assetNames`: every asset lands, each file verified against
/// its own bundle, the bundle assets themselves placed unverified; one unsigned asset
/// fails the content before anything is placed.
#[test]
fn github_release_every_asset() {
    let a = b"binary a\n".to_vec();
    let b = b"binary b\n".to_vec();
    let (sa, sb) = (sign_blob(&a, "right", false), sign_blob(&b, "right", false));
    let gh = FakeGithub::start(None);
    gh.add_release(
        SLUG,
        FakeRelease::new("v1.0.0")
            .asset("a", a.clone())
            .asset("a.sigstore.json", sa.clone())
            .asset("b", b.clone())
            .asset("b.sigstore.json", sb.clone())
            .with_checksums_in_notes(),
    );
    gh.add_release(
        SLUG,
        FakeRelease::new("v2.0.0")
            .asset("a", a.clone())
            .asset("a.sigstore.json", sa)
            .asset("c", b"unsigned\n".to_vec())
            .with_checksums_in_notes(),
    );
    let config = |tag: &str| {
        format!(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
             - path: vendor/x\n  contents:\n  - path: .\n    githubRelease:\n      \
             slug: {SLUG}\n      tag: {tag}\n      cosign:\n        key: cosign.pub\n"
        )
    };
    let w = work();
    w.config(&config("v1.0.0"));
    let mut cmd = w.cmd(&["--json"]);
    cmd.env("GITHUB_API_URL", gh.api_url())
        .env_remove("GITHUB_TOKEN")
        .env_remove("VENDIR_GITHUB_API_TOKEN");
    let out = run(&mut cmd).ok();
    let v = json_verified(&out);
    let names: Vec<&str> = v
        .iter()
        .map(|v| v["repository"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["asset 'a'", "asset 'b'"], "{out:?}");
    for f in ["a", "a.sigstore.json", "b", "b.sigstore.json"] {
        assert!(w.dir.join("vendor/x").join(f).is_file(), "{f}\n{out:?}");
    }
    w.config(&config("v2.0.0"));
    let before = (w.state(), w.sentinel_tree());
    let mut cmd = w.cmd(&[]);
    cmd.env("GITHUB_API_URL", gh.api_url())
        .env_remove("GITHUB_TOKEN")
        .env_remove("VENDIR_GITHUB_API_TOKEN");
    let out = run(&mut cmd);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(
        &out,
        &[
            "asset 'c'",
            "no Sigstore bundle found",
            "asset 'c.sigstore.json'",
        ],
    );
    assert_eq!(before, (w.state(), w.sentinel_tree()));
}

/// githubRelease with `http:`: the file at the URL is verified, its bundle beside it
/// or at `bundleURL` with `{tag}` replaced.
#[test]
fn github_release_http_bundle_url() {
    let data = archive("via http");
    let bundle = sign_blob(&data, "right", false);
    let files = tempfile::tempdir_in(scratch()).unwrap();
    fs::create_dir_all(files.path().join("v1.0.0")).unwrap();
    fs::write(files.path().join("v1.0.0/tool.tgz"), &data).unwrap();
    fs::write(files.path().join("v1.0.0/sig.json"), &bundle).unwrap();
    let http = HttpServer::files(files.path());
    let gh = FakeGithub::start(None);
    gh.add_release(SLUG, FakeRelease::new("v1.0.0"));
    let w = work();
    w.config(&format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
         - path: vendor/x\n  contents:\n  - path: .\n    githubRelease:\n      \
         slug: {SLUG}\n      tag: v1.0.0\n      http:\n        url: {0}/{{tag}}/tool.tgz\n      \
         cosign:\n        key: cosign.pub\n        bundleURL: {0}/{{tag}}/sig.json\n",
        http.url()
    ));
    let mut cmd = w.cmd(&[]);
    cmd.env("GITHUB_API_URL", gh.api_url())
        .env_remove("GITHUB_TOKEN")
        .env_remove("VENDIR_GITHUB_API_TOKEN");
    let out = run(&mut cmd).ok();
    assert_contains(
        &out,
        &[&format!("(sigstore-bundle {}/v1.0.0/sig.json)", http.url())],
    );
    assert!(holds(&w, "via http"));
}

/// With a `mirror-only` `[[url]]` rule the bundle comes from the mirror, as the file
/// does: the origin is never asked for either.
#[test]
fn bundle_through_url_mirror() {
    let data = archive("mirrored");
    let bundle = sign_blob(&data, "right", false);
    let origin = Served::new(
        Kind::Http,
        &[("tool.tgz", &data), ("tool.tgz.sigstore.json", &bundle)],
    );
    let mirror_root = tempfile::tempdir_in(scratch()).unwrap();
    fs::create_dir_all(mirror_root.path().join("m")).unwrap();
    fs::write(mirror_root.path().join("m/tool.tgz"), &data).unwrap();
    fs::write(mirror_root.path().join("m/tool.tgz.sigstore.json"), &bundle).unwrap();
    let mirror = HttpServer::files(mirror_root.path());
    let w = work();
    w.config(&origin.config(&["key: cosign.pub"], &[]));
    let rules = w.dir.join("mirrors.toml");
    fs::write(
        &rules,
        format!(
            "[[url]]\nprefix = \"{}/\"\nmirror-only = true\n\n[[url.mirror]]\nlocation = \"{}/m/\"\n",
            origin.http.as_ref().unwrap().url(),
            mirror.url()
        ),
    )
    .unwrap();
    let rules = rules.display().to_string();
    let out = origin.sync(&w, &["--mirrors", &rules]).ok();
    assert!(holds(&w, "mirrored"), "{out:?}");
    assert_eq!(
        mirror.count("/m/tool.tgz.sigstore.json"),
        1,
        "{}",
        mirror.log_text()
    );
    let asked = origin.http.as_ref().unwrap();
    assert_eq!(asked.count("/"), 0, "{}", asked.log_text());
}

/// GitHub artifact attestations (`githubAttestations: true`), from the API's listing
/// for the asset's sha256 (the GitHub fake, built as GitHub documents it; the
/// attestation made by the test signer as actions/attest-build-provenance makes one):
/// the workflow's identity verifies; another identity, an attestation whose subject is
/// another file, another predicate type and no attestation at all fail.
#[test]
fn github_attestations() {
    let data = archive("attested");
    let other = archive("another build");
    let (_, _, signed) = sign_keyless(&data);
    let (_, _, signed_other) = sign_keyless(&other);
    let attestation = |dir: &Path| -> Value {
        serde_json::from_slice(&fs::read(dir.join("attestation.json")).unwrap()).unwrap()
    };
    let s = Served::new(Kind::Github, &[("tool.tgz", &data)]);
    let gh = s.github.as_ref().unwrap();
    let digest = format!("sha256:{}", sha256_hex(&data));
    let trusted = format!(
        "trustedRoot: {}",
        signed.join("trusted_root.json").display()
    );
    let id = format!("certificateIdentity: {ID}");
    let issuer = format!("certificateOidcIssuer: {ISSUER}");
    let w = work();

    // None yet.
    w.config(&s.config(&[&id, &issuer, &trusted, "githubAttestations: true"], &[]));
    fails_and_keeps_everything(
        &s,
        &w,
        &[
            "no GitHub artifact attestation found",
            &format!("/repos/{SLUG}/attestations/{digest}"),
        ],
    );

    // One whose subject is another file, served under this file's digest.
    gh.add_attestation(SLUG, &digest, attestation(&signed_other));
    let other_root = format!(
        "trustedRoot: {}",
        signed_other.join("trusted_root.json").display()
    );
    w.config(&s.config(
        &[&id, &issuer, &other_root, "githubAttestations: true"],
        &[],
    ));
    fails_and_keeps_everything(
        &s,
        &w,
        &[
            "attestation #1",
            &format!("the signed claim names sha256:{}", sha256_hex(&other)),
        ],
    );

    // The right one (listed second): verified, said so, placed.
    gh.add_attestation(SLUG, &digest, attestation(&signed));
    w.config(&s.config(&[&id, &issuer, &trusted, "githubAttestations: true"], &[]));
    let out = s.sync(&w, &["--json"]).ok();
    let v = json_verified(&out);
    assert_eq!(v.len(), 1, "{out:?}");
    assert_eq!(v[0]["layout"], "attestation");
    assert_eq!(v[0]["signer"]["identity"], ID);
    assert_eq!(v[0]["digest"], digest.as_str());
    assert!(holds(&w, "attested"));

    // Another workflow's identity, another predicate type.
    let evil = "certificateIdentity: https://github.com/evil/tool/.github/workflows/release.yml@refs/tags/v1.0.0";
    w.config(&s.config(&[evil, &issuer, &trusted, "githubAttestations: true"], &[]));
    fails_and_keeps_everything(
        &s,
        &w,
        &[
            "none of the 2 bundles verified",
            "certificate identity or issuer mismatch",
        ],
    );
    w.config(&s.config(
        &[
            &id,
            &issuer,
            &trusted,
            "githubAttestations: true",
            "predicateType: https://spdx.dev/Document/v2.3",
        ],
        &[],
    ));
    fails_and_keeps_everything(&s, &w, &["not \"https://spdx.dev/Document/v2.3\""]);
    assert!(holds(&w, "attested"));
}

/// `vendoras verify --github-attestations SLUG` of `file` against the GitHub API at
/// `api` (with `token` as `GITHUB_TOKEN`, or none), for the workflow `identity`
/// under `root`, plus `extra` flags.
fn verify_attestations(
    api: &str,
    token: Option<&str>,
    identity: &str,
    root: &Path,
    extra: &[&str],
    file: &Path,
) -> Outcome {
    let mut cmd = vendoras();
    cmd.env("GITHUB_API_URL", api)
        .env_remove("GITHUB_TOKEN")
        .env_remove("VENDIR_GITHUB_API_TOKEN");
    if let Some(t) = token {
        cmd.env("GITHUB_TOKEN", t);
    }
    cmd.arg("verify")
        .args(["--github-attestations", SLUG])
        .args(["--certificate-identity", identity])
        .args(["--certificate-oidc-issuer", ISSUER])
        .arg("--trusted-root")
        .arg(root)
        .args(extra)
        .arg(file);
    run(&mut cmd)
}

/// `vendoras verify --github-attestations OWNER/REPO FILE` (as `gh attestation verify
/// FILE --repo OWNER/REPO`) checks a local file by the attestations the GitHub API
/// lists for its sha256, by the rule `githubRelease` contents use: none, another
/// identity, another predicate type and a changed file fail; the workflow's identity
/// verifies.
#[test]
fn verify_command_checks_github_attestations() {
    let data = archive("attested on disk");
    let (_, _, signed) = sign_keyless(&data);
    let s = Served::new(Kind::Github, &[("tool.tgz", &data)]);
    let gh = s.github.as_ref().unwrap();
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    let file = dir.path().join("tool.tgz");
    let changed = dir.path().join("changed.tgz");
    fs::write(&file, &data).unwrap();
    fs::write(&changed, archive("changed on disk")).unwrap();
    let digest = format!("sha256:{}", sha256_hex(&data));
    let root = signed.join("trusted_root.json");
    let verify = |identity: &str, extra: &[&str], f: &Path| {
        verify_attestations(&gh.api_url(), None, identity, &root, extra, f)
    };
    let fails = |out: &Outcome, needles: &[&str]| {
        assert_eq!(out.code(), Some(1), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        for n in needles {
            assert!(out.stderr.contains(n), "{n:?} not in\n{out:?}");
        }
    };

    fails(
        &verify(ID, &[], &file),
        &[
            "no GitHub artifact attestation found",
            &format!("/repos/{SLUG}/attestations/{digest}"),
        ],
    );
    gh.add_attestation(SLUG, &digest, {
        let text = fs::read(signed.join("attestation.json")).unwrap();
        serde_json::from_slice(&text).unwrap()
    });
    let out = verify(ID, &[], &file).ok();
    assert!(
        out.stdout
            .contains(&format!("Verified {} ({digest})", file.display())),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("identity {ID} issued by {ISSUER}")),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("/repos/{SLUG}/attestations/{digest}")),
        "{out:?}"
    );
    fails(
        &verify(
            "https://github.com/evil/tool/.github/workflows/release.yml@refs/tags/v1.0.0",
            &[],
            &file,
        ),
        &["certificate identity or issuer mismatch"],
    );
    fails(
        &verify(
            ID,
            &["--predicate-type", "https://spdx.dev/Document/v2.3"],
            &file,
        ),
        &["not \"https://spdx.dev/Document/v2.3\""],
    );
    fails(
        &verify(ID, &[], &changed),
        &["no GitHub artifact attestation found"],
    );
}

/// GitHub now lists an attestation as `"bundle": null` plus a `bundle_url` to blob
/// storage, whose answer is the bundle snappy-compressed (what `gh attestation verify`
/// reads). The token the API needs does not go to that other origin; a blob that is
/// not snappy data fails naming its URL; a bundle over another file still fails.
#[test]
fn attestations_behind_bundle_url() {
    let data = archive("attested behind a URL");
    let other = archive("another build");
    let (_, _, signed) = sign_keyless(&data);
    let (_, _, signed_other) = sign_keyless(&other);
    let attestation = |dir: &Path| -> Value {
        serde_json::from_slice(&fs::read(dir.join("attestation.json")).unwrap()).unwrap()
    };
    let gh = FakeGithub::start(Some("s3cret-token"));
    gh.add_release(
        SLUG,
        FakeRelease::new("v1.0.0").asset("tool.tgz", data.clone()),
    );
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    let file = dir.path().join("tool.tgz");
    fs::write(&file, &data).unwrap();
    let digest = format!("sha256:{}", sha256_hex(&data));
    let verify = |root: &Path| {
        verify_attestations(&gh.api_url(), Some("s3cret-token"), ID, root, &[], &file)
    };

    // Another file's bundle behind the URL: fetched, read, refused for its subject.
    gh.add_attestation_behind_url(SLUG, &digest, attestation(&signed_other));
    let out = verify(&signed_other.join("trusted_root.json"));
    assert_contains(
        &out,
        &[&format!(
            "the signed claim names sha256:{}",
            sha256_hex(&other)
        )],
    );
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_eq!(
        gh.blob_requests(),
        [false],
        "the token went to blob storage"
    );

    // This file's, listed second: verified.
    gh.add_attestation_behind_url(SLUG, &digest, attestation(&signed));
    let out = verify(&signed.join("trusted_root.json")).ok();
    for want in [
        format!("Verified {} ({digest})", file.display()),
        format!("identity {ID} issued by {ISSUER}"),
    ] {
        assert!(out.stdout.contains(&want), "{want:?} not in {out:?}");
    }
    assert_eq!(gh.blob_requests(), [false, false, false]);
    assert!(!out.stderr.contains("s3cret") && !out.stdout.contains("s3cret"));

    // A blob that is plain JSON, not snappy data (gh refuses it too): named, refused.
    let gh2 = FakeGithub::start(None);
    gh2.add_release(
        SLUG,
        FakeRelease::new("v1.0.0").asset("tool.tgz", data.clone()),
    );
    gh2.add_attestation_blob(SLUG, &digest, attestation(&signed).to_string().into_bytes());
    let out = verify_attestations(
        &gh2.api_url(),
        None,
        ID,
        &signed.join("trusted_root.json"),
        &[],
        &file,
    );
    assert_contains(&out, &["/attestation-blobs/0", "is not snappy-compressed"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
}

/// `vendoras verify --bundle B FILE` agrees with `cosign verify-blob --bundle B FILE`
/// on real sign-blob output (both formats): the signed file verifies, another key and
/// a changed file do not. Keyless, with the test signer's root, it verifies too.
#[test]
fn verify_command_agrees_with_cosign_verify_blob() {
    let dir = tempfile::tempdir_in(scratch()).unwrap();
    let file = dir.path().join("tool.tgz");
    let changed = dir.path().join("changed.tgz");
    let data = archive("cli");
    fs::write(&file, &data).unwrap();
    fs::write(&changed, archive("changed")).unwrap();
    let key = |k: &str| keys_dir().join(k).join("cosign.pub");
    for legacy in [false, true] {
        let bundle = dir.path().join(format!("b-{legacy}.json"));
        fs::write(&bundle, sign_blob(&data, "right", legacy)).unwrap();
        for (k, f, ok) in [
            ("right", &file, true),
            ("wrong", &file, false),
            ("right", &changed, false),
        ] {
            let ours = run(vendoras()
                .arg("verify")
                .arg("--key")
                .arg(key(k))
                .arg("--bundle")
                .arg(&bundle)
                .arg(f));
            let theirs = run(cosign()
                .arg("verify-blob")
                .arg("--key")
                .arg(key(k))
                .arg("--bundle")
                .arg(&bundle)
                .arg("--insecure-ignore-tlog=true")
                .arg(f));
            assert_eq!(ours.success(), ok, "legacy={legacy} {k} {f:?}\n{ours:?}");
            assert_eq!(
                theirs.success(),
                ok,
                "legacy={legacy} {k} {f:?}\n{theirs:?}"
            );
            if ok {
                assert!(ours.stdout.contains("Verified"), "{ours:?}");
            } else {
                assert_eq!(ours.code(), Some(1), "{ours:?}");
                assert!(ours.stderr.contains("signature not verified"), "{ours:?}");
            }
        }
    }
    let (v3, _, roots) = sign_keyless(&data);
    let bundle = dir.path().join("keyless.json");
    fs::write(&bundle, v3).unwrap();
    let out = run(vendoras()
        .arg("verify")
        .args([
            "--certificate-identity",
            ID,
            "--certificate-oidc-issuer",
            ISSUER,
        ])
        .arg("--trusted-root")
        .arg(roots.join("trusted_root.json"))
        .arg("--bundle")
        .arg(&bundle)
        .arg(&file))
    .ok();
    assert!(
        out.stdout
            .contains(&format!("identity {ID} issued by {ISSUER}")),
        "{out:?}"
    );
}
