//! `vendoras sync` with `cosign:` (docs/config.md, `cosign`): the tag is resolved once, that digest's
//! signature is checked before any layer is fetched, then exactly that digest is pulled.
//! Signatures are made by the real cosign CLI (key-based, both layouts: the cosign <= v2
//! `sha256-<hex>.sig` tag and the cosign v3 bundle referrer) and by the in-repo keyless
//! test signer (`go/cmd/testsigner`, with its own `trusted_root.json`), fully offline.
//!
//! Every failure exits 1, says why, and leaves the work dir (tree and lock), the blob
//! cache and a sibling sentinel byte for byte as they were.
//!
//! One plain registry and one pair of cosign keys are shared by the tests of this file;
//! every test uses its own repositories.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;
use support::cosign::{cosign, key_pairs, sign_with_key, testsigner};
use support::*;

const ID: &str = "alice@example.com";
const ISSUER: &str = "https://issuer.example";

// ---------------------------------------------------------------------------------------
// Tools (as in tests/verify_cosign.rs)
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Shared registry, keys and artifacts
// ---------------------------------------------------------------------------------------

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(Registry::start)
}

/// Two cosign key pairs, `right` and `wrong`, generated once (in the registry's scratch
/// directory, removed with it).
fn keys_dir() -> &'static Path {
    static K: OnceLock<PathBuf> = OnceLock::new();
    K.get_or_init(|| key_pairs(registry().scratch().join("keys")))
}

fn private_key(name: &str) -> PathBuf {
    keys_dir().join(name).join("cosign.key")
}

fn public_key(name: &str) -> PathBuf {
    keys_dir().join(name).join("cosign.pub")
}

/// "127.0.0.1:PORT/repo"
fn repo_url(repo: &str) -> String {
    format!("{}/{repo}", registry().host())
}

/// `oras push repo:tag` of these files (made in a temp dir); returns the manifest digest.
fn push(repo: &str, tag: &str, files: &[(&str, &str)]) -> String {
    let src = tempfile::tempdir().unwrap();
    for (p, data) in files {
        let path = src.path().join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    }
    let names: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
    let digest = run(oras()
        .current_dir(src.path())
        .arg("push")
        .args(registry().access_flags())
        .arg(registry().reference(repo, tag))
        .args(&names)
        .args(["--format", "go-template={{.digest}}"]))
    .ok()
    .stdout
    .trim()
    .to_string();
    assert!(
        digest.starts_with("sha256:"),
        "oras push digest: {digest:?}"
    );
    digest
}

/// `oras resolve repo:tag`
fn resolve(repo: &str, tag: &str) -> String {
    run(oras()
        .arg("resolve")
        .args(registry().access_flags())
        .arg(registry().reference(repo, tag)))
    .ok()
    .stdout
    .trim()
    .to_string()
}

/// The layer digests of the manifest `repo@digest`.
fn layer_digests(repo: &str, digest: &str) -> Vec<String> {
    let out = run(oras()
        .args(["manifest", "fetch"])
        .args(registry().access_flags())
        .arg(registry().reference(repo, digest)))
    .ok();
    let m: Value = serde_json::from_str(&out.stdout).unwrap();
    let layers: Vec<String> = m["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    assert!(!layers.is_empty(), "{m}");
    layers
}

/// `cosign sign --key <name>` of `repo@digest` (see `support::cosign::sign_with_key`).
fn sign(repo: &str, digest: &str, key: &str, legacy: bool) {
    sign_with_key(
        &format!("{}@{digest}", repo_url(repo)),
        &private_key(key),
        legacy,
    );
}

/// `sha256-<hex>.sig`: where cosign <= v2 keeps the signature of `digest`.
fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// `sha256-<hex>`: the OCI 1.1 referrers tag-schema index of `digest`.
fn referrers_tag(digest: &str) -> String {
    digest.replace(':', "-")
}

fn tags(repo: &str) -> Vec<String> {
    run(oras()
        .args(["repo", "tags"])
        .args(registry().access_flags())
        .arg(repo_url(repo)))
    .ok()
    .stdout
    .lines()
    .map(str::to_string)
    .collect()
}

/// Removes the signature material of `digest` from `repo`: the `.sig` manifest (legacy)
/// or the referrers tag-schema index (bundle), by `oras manifest delete`.
fn delete_signature(repo: &str, digest: &str, legacy: bool) {
    let tag = if legacy {
        sig_tag(digest)
    } else {
        referrers_tag(digest)
    };
    assert!(
        tags(repo).contains(&tag),
        "expected tag {tag} in {repo}: {:?}",
        tags(repo)
    );
    run(oras()
        .args(["manifest", "delete", "--force"])
        .args(registry().access_flags())
        .arg(registry().reference(repo, &tag)))
    .ok();
    assert!(
        !tags(repo).contains(&tag),
        "tag {tag} still in {repo} after the delete"
    );
}

fn layout_name(legacy: bool) -> &'static str {
    if legacy {
        "cosign-v2-tag"
    } else {
        "bundle-referrer"
    }
}

fn layout_slug(legacy: bool) -> &'static str {
    if legacy {
        "legacy"
    } else {
        "bundle"
    }
}

/// Keyless signature material of `digest` from the test signer, written to a fresh
/// directory: bundle.json, legacy_payload.json, legacy_annotations.json,
/// trusted_root.json, untrusted_root.json.
fn keyless_sign(digest: &str, identity: &str, issuer: &str, repo: &str) -> PathBuf {
    let out = registry()
        .scratch()
        .join(format!("keyless-{repo}-{}", &digest[7..19]));
    run(Command::new(testsigner())
        .args([
            "-identity",
            identity,
            "-issuer",
            issuer,
            "-digest",
            digest,
            "-name",
            &repo_url(repo),
            "-out",
        ])
        .arg(&out))
    .ok();
    out
}

const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// `oras attach` of a bundle to `repo@digest` (the registry has no referrers API: oras
/// maintains the sha256-<hex> tag-schema index, as cosign 3 does).
fn attach_bundle(repo: &str, digest: &str, bundle: &[u8]) {
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("bundle.json"), bundle).unwrap();
    run(oras()
        .current_dir(work.path())
        .args(["attach", "--artifact-type", BUNDLE_TYPE])
        .args(registry().access_flags())
        .arg(format!("{}@{digest}", repo_url(repo)))
        .arg(format!("bundle.json:{BUNDLE_TYPE}")))
    .ok();
}

/// Pushes a `.sig` manifest for `digest` in `repo`: one simplesigning layer with these
/// payload bytes and annotations.
fn push_legacy(repo: &str, digest: &str, payload: &[u8], annotations: &Value) {
    let mut c = Crafter::new(registry(), repo);
    let mut layer = c.blob(SIMPLESIGNING, payload);
    for (k, v) in annotations.as_object().unwrap() {
        layer = layer.annotate(k, v.as_str().unwrap());
    }
    let mut m = c.manifest("", &[layer]);
    m.as_object_mut().unwrap().remove("artifactType");
    c.push_manifest(&sig_tag(digest), &m);
}

// ---------------------------------------------------------------------------------------
// Sync helpers (in the style of tests/sync_*.rs)
// ---------------------------------------------------------------------------------------

/// A temp root holding `work/` (the working directory), `cache/` (blob cache) and
/// `sentinel/` (a sibling of the work dir that must never change).
struct Work {
    tmp: tempfile::TempDir,
    dir: PathBuf,
    cache: PathBuf,
    sentinel: PathBuf,
}

/// Everything a failed sync must leave as it was.
#[derive(Debug, PartialEq)]
struct State {
    /// The work dir minus vendir.yml (which tests rewrite).
    work: Tree,
    lock: String,
    /// The whole temp root (work dir, cache, sentinel) minus vendir.yml.
    root: Tree,
}

impl Work {
    fn new() -> Work {
        let tmp = tempfile::Builder::new()
            .prefix("vcosign")
            .tempdir()
            .unwrap();
        let dir = tmp.path().join("work");
        let cache = tmp.path().join("cache");
        let sentinel = tmp.path().join("sentinel");
        fs::create_dir_all(&dir).unwrap();
        fs::create_dir_all(&sentinel).unwrap();
        fs::write(sentinel.join("keep.txt"), "sentinel\n").unwrap();
        Work {
            tmp,
            dir,
            cache,
            sentinel,
        }
    }

    fn config(&self, yaml: &str) {
        fs::write(self.dir.join("vendir.yml"), yaml).unwrap();
    }

    /// Copies a file into the work dir (public keys, trusted roots).
    fn install(&self, from: &Path, name: &str) {
        fs::copy(from, self.dir.join(name)).unwrap();
    }

    fn sync(&self, args: &[&str]) -> Outcome {
        run(vendoras()
            .current_dir(&self.dir)
            .arg("sync")
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args))
    }

    fn lock(&self) -> String {
        fs::read_to_string(self.dir.join("vendir.lock.yml")).unwrap_or_default()
    }

    fn tree(&self, rel: &str) -> Tree {
        tree_snapshot(&self.dir.join(rel))
    }

    fn state(&self) -> State {
        let mut work = tree_snapshot(&self.dir);
        work.remove("vendir.yml");
        let mut root = tree_snapshot(self.tmp.path());
        root.remove("work/vendir.yml");
        State {
            work,
            lock: self.lock(),
            root,
        }
    }

    /// Syncs with `args`; asserts exit 1 with a vendoras error naming every needle, and
    /// that the work dir, the lock, the cache and the sentinel are exactly as before.
    #[track_caller]
    fn fails_and_keeps_everything(&self, args: &[&str], needles: &[&str]) -> Outcome {
        let before = self.state();
        assert!(self.sentinel.join("keep.txt").is_file());
        let out = self.sync(args);
        assert_eq!(
            out.code(),
            Some(1),
            "the sync must fail with exit 1\n{out:?}"
        );
        assert_contains(&out, &["vendoras: Error:"]);
        assert_contains(&out, needles);
        assert!(
            !out.stderr.contains(": verified "),
            "a failed verification must not report a verified signature\n{out:?}"
        );
        let after = self.state();
        assert_same_tree(
            "work dir after a failed sync",
            "before",
            &before.work,
            "after",
            &after.work,
        );
        assert_eq!(before.lock, after.lock, "the lock changed\n{out:?}");
        assert_same_tree(
            "temp root (work, cache, sentinel) after a failed sync",
            "before",
            &before.root,
            "after",
            &after.root,
        );
        out
    }
}

/// The `url:` values of a lock file, in order.
fn lock_urls(lock: &str) -> Vec<String> {
    lock.lines()
        .filter_map(|l| l.trim().strip_prefix("url: "))
        .map(|s| s.trim().trim_matches('"').trim_matches('\'').to_string())
        .collect()
}

/// A vendir.yml syncing `image:tag` into `vendor/x`, with these lines under `cosign:`
/// (none: no `cosign:` at all), plus extra YAML documents.
fn config(image: &str, tag: &str, cosign: &[&str], extra_docs: &str) -> String {
    let mut s = format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
         - path: vendor/x\n  contents:\n  - path: .\n    ociArtifact:\n      \
         image: {image}\n      tag: \"{tag}\"\n      plainHTTP: true\n"
    );
    if !cosign.is_empty() {
        s.push_str("      cosign:\n");
        for l in cosign {
            s.push_str(&format!("        {l}\n"));
        }
    }
    s.push_str(extra_docs);
    s
}

/// A tree from (path, content) pairs of regular non-executable files plus their dirs.
fn files_tree(files: &[(&str, &str)]) -> Tree {
    let mut t = Tree::new();
    for (p, data) in files {
        let parts: Vec<&str> = p.split('/').collect();
        for i in 1..parts.len() {
            t.insert(parts[..i].join("/"), Entry::Dir);
        }
        t.insert(
            p.to_string(),
            Entry::File {
                sha256: sha256_hex(data.as_bytes()),
                size: data.len() as u64,
                exec: false,
            },
        );
    }
    t
}

#[track_caller]
fn assert_contains(out: &Outcome, needles: &[&str]) {
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "stderr should mention {n:?}\n{out:?}"
        );
    }
}

/// The files of the artifacts pushed by these tests.
fn files_for(name: &str) -> Vec<(String, String)> {
    vec![
        (format!("{name}.txt"), format!("content of {name}\n")),
        ("sub/deep.txt".to_string(), format!("deep {name}\n")),
    ]
}

fn as_refs(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_str()))
        .collect()
}

/// Pushes `repo:tag` (files named after `name`) and signs it with `key`; returns the
/// digest and the files.
fn push_signed(
    repo: &str,
    tag: &str,
    name: &str,
    key: &str,
    legacy: bool,
) -> (String, Vec<(String, String)>) {
    let files = files_for(name);
    let digest = push(repo, tag, &as_refs(&files));
    sign(repo, &digest, key, legacy);
    (digest, files)
}

/// A work dir with `cosign.pub` (the right key) and `wrong.pub`, synced from the signed
/// `repo:v1` with `cosign: {key: cosign.pub}`. Checks what the sync reported and wrote.
fn synced_signed(repo: &str, legacy: bool) -> (Work, String) {
    let (digest, files) = push_signed(repo, "v1", repo, "right", legacy);
    let w = Work::new();
    w.install(&public_key("right"), "cosign.pub");
    w.install(&public_key("wrong"), "wrong.pub");
    w.config(&config(&repo_url(repo), "v1", &["key: cosign.pub"], ""));
    let out = w.sync(&[]).ok();
    assert_contains(
        &out,
        &[
            &format!(
                "vendor/x: verified {digest} signed by key {}",
                w.dir.join("cosign.pub").display()
            ),
            &format!("({} signature sha256:", layout_name(legacy)),
        ],
    );
    assert_same_tree(
        "synced signed artifact",
        "expected",
        &files_tree(&as_refs(&files)),
        "synced",
        &w.tree("vendor/x"),
    );
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}@{digest}", repo_url(repo))],
        "{}",
        w.lock()
    );
    (w, digest)
}

// ---------------------------------------------------------------------------------------
// 1, 2. Key-based, both layouts
// ---------------------------------------------------------------------------------------

#[test]
fn key_legacy_sig_layout_verifies_then_syncs_the_signed_digest() {
    let (w, digest) = synced_signed("key-legacy", true);
    assert!(tags("key-legacy").contains(&sig_tag(&digest)));
    // A second sync checks again (the probe always looks the signature up; the one
    // that verified last time is found again, see `remembered_signature`) and keeps
    // the tree.
    let before = w.state();
    let out = w.sync(&[]).ok();
    assert_contains(&out, &[&format!("vendor/x: verified {digest}")]);
    assert_eq!(w.state(), before);
}

#[test]
fn key_bundle_layout_verifies_then_syncs_the_signed_digest() {
    let (_w, digest) = synced_signed("key-bundle", false);
    let t = tags("key-bundle");
    assert!(
        !t.contains(&sig_tag(&digest)),
        "cosign v3 should not write a .sig tag: {t:?}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. secretRef: every *.pub key of the Secret is tried
// ---------------------------------------------------------------------------------------

fn pem_block(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect()
}

fn secret_doc(name: &str, entries: &[(&str, String)]) -> String {
    let mut s =
        format!("---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n");
    for (k, block) in entries {
        s.push_str(&format!("  {k}: |\n{block}"));
    }
    s
}

#[test]
fn secret_ref_tries_every_pub_key_in_turn() {
    let repo = "secret-ref";
    let (digest, files) = push_signed(repo, "v1", repo, "right", true);
    let w = Work::new();
    // Sorted, the wrong key comes first; a non-.pub entry is not a key.
    let secret = secret_doc(
        "cosign-keys",
        &[
            ("a-wrong.pub", pem_block(&public_key("wrong"))),
            ("b-right.pub", pem_block(&public_key("right"))),
            ("notes.txt", "    not a key at all\n".to_string()),
        ],
    );
    w.config(&config(
        &repo_url(repo),
        "v1",
        &["secretRef:", "  name: cosign-keys"],
        &secret,
    ));
    let out = w.sync(&[]).ok();
    assert_contains(
        &out,
        &[&format!(
            "vendor/x: verified {digest} signed by key secret cosign-keys: b-right.pub"
        )],
    );
    assert_same_tree(
        "secretRef sync",
        "expected",
        &files_tree(&as_refs(&files)),
        "synced",
        &w.tree("vendor/x"),
    );
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}@{digest}", repo_url(repo))]
    );

    // The same Secret without the right key: nothing verifies, nothing changes.
    let only_wrong = secret_doc(
        "cosign-keys",
        &[
            ("a-wrong.pub", pem_block(&public_key("wrong"))),
            ("notes.txt", "    not a key at all\n".to_string()),
        ],
    );
    w.config(&config(
        &repo_url(repo),
        "v1",
        &["secretRef:", "  name: cosign-keys"],
        &only_wrong,
    ));
    w.fails_and_keeps_everything(&[], &["does not verify with the given public key"]);
}

// ---------------------------------------------------------------------------------------
// 4. Keyless with an offline trusted root
// ---------------------------------------------------------------------------------------

fn keyless_lines<'a>(identity: &'a str, issuer: &'a str, root: &'a str) -> Vec<String> {
    vec![
        format!("certificateIdentity: \"{identity}\""),
        format!("certificateOidcIssuer: \"{issuer}\""),
        format!("trustedRoot: {root}"),
    ]
}

fn keyless_config(repo: &str, identity: &str, issuer: &str, root: &str) -> String {
    let lines = keyless_lines(identity, issuer, root);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    config(&repo_url(repo), "v1", &lines, "")
}

/// Pushes `repo:v1`, signs it keyless (bundle or legacy layout), syncs it with the
/// right identity, issuer and trusted root; returns the work dir and the digest.
fn keyless_synced(repo: &str, legacy: bool) -> (Work, String) {
    let files = files_for(repo);
    let digest = push(repo, "v1", &as_refs(&files));
    let material = keyless_sign(&digest, ID, ISSUER, repo);
    if legacy {
        let ann: Value =
            serde_json::from_slice(&fs::read(material.join("legacy_annotations.json")).unwrap())
                .unwrap();
        push_legacy(
            repo,
            &digest,
            &fs::read(material.join("legacy_payload.json")).unwrap(),
            &ann,
        );
    } else {
        attach_bundle(
            repo,
            &digest,
            &fs::read(material.join("bundle.json")).unwrap(),
        );
    }
    let w = Work::new();
    w.install(&material.join("trusted_root.json"), "trusted_root.json");
    w.install(&material.join("untrusted_root.json"), "untrusted_root.json");
    w.config(&keyless_config(repo, ID, ISSUER, "trusted_root.json"));
    let out = w.sync(&[]).ok();
    assert_contains(
        &out,
        &[
            &format!("vendor/x: verified {digest} signed by identity {ID} issued by {ISSUER}"),
            &format!("({} signature sha256:", layout_name(legacy)),
        ],
    );
    assert_same_tree(
        "keyless sync",
        "expected",
        &files_tree(&as_refs(&files)),
        "synced",
        &w.tree("vendor/x"),
    );
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}@{digest}", repo_url(repo))]
    );
    (w, digest)
}

#[test]
fn keyless_bundle_with_trusted_root_syncs_and_rejects_identity_issuer_and_chain() {
    let repo = "keyless-bundle";
    let (w, _digest) = keyless_synced(repo, false);

    w.config(&keyless_config(
        repo,
        "bob@example.com",
        ISSUER,
        "trusted_root.json",
    ));
    w.fails_and_keeps_everything(
        &[],
        &[
            "certificate identity or issuer mismatch",
            "expected SAN value \"bob@example.com\", got \"alice@example.com\"",
        ],
    );

    w.config(&keyless_config(
        repo,
        ID,
        "https://other.example",
        "trusted_root.json",
    ));
    w.fails_and_keeps_everything(
        &[],
        &[
            "certificate identity or issuer mismatch",
            "https://other.example",
        ],
    );

    w.config(&keyless_config(repo, ID, ISSUER, "untrusted_root.json"));
    w.fails_and_keeps_everything(&[], &["untrusted certificate chain"]);

    // Regexps (unanchored, as cosign's) that do not match fail too.
    w.config(&config(
        &repo_url(repo),
        "v1",
        &[
            "certificateIdentityRegexp: \"^bob@\"",
            "certificateOidcIssuerRegexp: \"issuer\"",
            "trustedRoot: trusted_root.json",
        ],
        "",
    ));
    w.fails_and_keeps_everything(&[], &["certificate identity or issuer mismatch"]);

    // ... and matching ones verify (the fixture is sound after all the failures).
    w.config(&config(
        &repo_url(repo),
        "v1",
        &[
            "certificateIdentityRegexp: \"@example\\\\.com$\"",
            "certificateOidcIssuerRegexp: \"issuer\"",
            "trustedRoot: trusted_root.json",
        ],
        "",
    ));
    let out = w.sync(&[]).ok();
    assert_contains(&out, &[&format!("identity {ID} issued by {ISSUER}")]);
}

#[test]
fn keyless_legacy_sig_layout_with_trusted_root_syncs() {
    let (w, digest) = keyless_synced("keyless-legacy", true);
    // A keyless signature over the digest does not help a key-based policy.
    w.install(&public_key("right"), "cosign.pub");
    w.config(&config(
        &repo_url("keyless-legacy"),
        "v1",
        &["key: cosign.pub"],
        "",
    ));
    w.fails_and_keeps_everything(&[], &[&digest, "does not verify with the given public key"]);
}

// ---------------------------------------------------------------------------------------
// 5. Key-based failures after a good sync
// ---------------------------------------------------------------------------------------

fn key_failures_keep_the_old_tree(legacy: bool) {
    let slug = layout_slug(legacy);
    let repo = format!("neg-{slug}");
    let (w, signed) = synced_signed(&repo, legacy);

    // An unsigned artifact.
    let unsigned_repo = format!("neg-{slug}-unsigned");
    let unsigned = push(&unsigned_repo, "v1", &as_refs(&files_for(&unsigned_repo)));
    w.config(&config(
        &repo_url(&unsigned_repo),
        "v1",
        &["key: cosign.pub"],
        "",
    ));
    let hex = unsigned.trim_start_matches("sha256:");
    w.fails_and_keeps_everything(
        &[],
        &[
            &format!("no signature found for {unsigned}"),
            &format!("sha256-{hex}.sig"),
        ],
    );

    // The signed artifact, the wrong key.
    w.config(&config(&repo_url(&repo), "v1", &["key: wrong.pub"], ""));
    w.fails_and_keeps_everything(&[], &["does not verify with the given public key", &signed]);

    // The tag moves to an unsigned digest after signing: the old digest's signature
    // does not count for the new one.
    let moved = push(
        &repo,
        "v1",
        &[("moved.txt", &format!("{repo} moved, not signed\n"))],
    );
    assert_ne!(moved, signed);
    assert_eq!(resolve(&repo, "v1"), moved);
    w.config(&config(&repo_url(&repo), "v1", &["key: cosign.pub"], ""));
    let out = w.fails_and_keeps_everything(&[], &[&format!("no signature found for {moved}")]);
    assert!(
        w.dir.join(format!("vendor/x/{repo}.txt")).is_file()
            && !w.dir.join("vendor/x/moved.txt").exists(),
        "the old tree must stay\n{out:?}"
    );

    // Without `cosign:` the very same config syncs the moved tag (so the failures above
    // are the signature check's).
    w.config(&config(&repo_url(&repo), "v1", &[], ""));
    w.sync(&[]).ok();
    assert!(w.dir.join("vendor/x/moved.txt").is_file());
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}@{moved}", repo_url(&repo))]
    );
}

#[test]
fn key_failures_keep_the_old_tree_legacy() {
    key_failures_keep_the_old_tree(true);
}

#[test]
fn key_failures_keep_the_old_tree_bundle() {
    key_failures_keep_the_old_tree(false);
}

// ---------------------------------------------------------------------------------------
// 6. --locked verifies the locked digest
// ---------------------------------------------------------------------------------------

fn locked_digest_must_still_verify(legacy: bool) {
    let repo = format!("locked-{}", layout_slug(legacy));
    let (w, old) = synced_signed(&repo, legacy);

    // The tag moves to a new, signed digest: --locked keeps the locked (still signed)
    // digest, verified again.
    let (new, new_files) = push_signed(&repo, "v1", &format!("{repo}-new"), "right", legacy);
    assert_ne!(new, old);
    let before = w.state();
    let out = w.sync(&["--locked"]).ok();
    assert_contains(&out, &[&format!("vendor/x: verified {old}")]);
    assert_eq!(
        w.state(),
        before,
        "--locked with a still-signed digest changes nothing"
    );

    // The locked digest's signature goes away: --locked no longer verifies it.
    delete_signature(&repo, &old, legacy);
    w.fails_and_keeps_everything(&["--locked"], &[&format!("no signature found for {old}")]);

    // Without --locked the tag's (signed) digest syncs: the failure was the locked one's.
    let out = w.sync(&[]).ok();
    assert_contains(&out, &[&format!("vendor/x: verified {new}")]);
    assert_same_tree(
        "after re-pointing",
        "expected",
        &files_tree(&as_refs(&new_files)),
        "synced",
        &w.tree("vendor/x"),
    );
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}@{new}", repo_url(&repo))]
    );
}

#[test]
fn locked_fails_when_the_locked_digest_lost_its_signature_legacy() {
    locked_digest_must_still_verify(true);
}

#[test]
fn locked_fails_when_the_locked_digest_lost_its_signature_bundle() {
    locked_digest_must_still_verify(false);
}

// ---------------------------------------------------------------------------------------
// 7. The signature is checked before any layer is requested
// ---------------------------------------------------------------------------------------

fn no_layer_before_verification(legacy: bool) {
    let repo = format!("order-{}", layout_slug(legacy));
    let (signed, files) = push_signed(&repo, "signed", &repo, "right", legacy);
    let unsigned = push(
        &repo,
        "unsigned",
        &as_refs(&files_for(&format!("{repo}-unsigned"))),
    );
    let proxy = FaultProxy::start(registry().addr());
    let image = format!("{}/{repo}", proxy.host());
    let blob_path = |d: &str| format!("/v2/{repo}/blobs/{d}");

    let w = Work::new();
    w.install(&public_key("right"), "cosign.pub");
    w.install(&public_key("wrong"), "wrong.pub");

    // Unsigned, and signed with another key: no request at all for a content layer.
    for (tag, key, digest, why) in [
        (
            "unsigned",
            "cosign.pub",
            &unsigned,
            "no signature found for",
        ),
        (
            "signed",
            "wrong.pub",
            &signed,
            "does not verify with the given public key",
        ),
    ] {
        w.config(&config(&image, tag, &[&format!("key: {key}")], ""));
        let out = w.fails_and_keeps_everything(&[], &[why]);
        let layers = layer_digests(&repo, digest);
        for l in &layers {
            assert_eq!(
                proxy.count(&blob_path(l)),
                0,
                "{tag}: layer {l} was requested although verification failed\n{out:?}\nrequests:\n{}",
                proxy.seen_text()
            );
        }
        assert!(
            proxy.count(&format!("/v2/{repo}/manifests/{tag}")) > 0,
            "{tag}: the sync did not go through the proxy\n{}",
            proxy.seen_text()
        );
    }
    let signature_path = if legacy {
        format!("/v2/{repo}/manifests/{}", sig_tag(&signed))
    } else {
        format!("/v2/{repo}/manifests/{}", referrers_tag(&signed))
    };
    assert!(
        proxy.count(&signature_path) > 0,
        "the signature was never looked up at {signature_path}\n{}",
        proxy.seen_text()
    );

    // The right key: layers are fetched, and only after the last signature request.
    let first_request = proxy.seen().len();
    w.config(&config(&image, "signed", &["key: cosign.pub"], ""));
    let out = w.sync(&[]).ok();
    assert_contains(&out, &[&format!("vendor/x: verified {signed}")]);
    assert_same_tree(
        "synced through the proxy",
        "expected",
        &files_tree(&as_refs(&files)),
        "synced",
        &w.tree("vendor/x"),
    );
    let seen = &proxy.seen()[first_request..];
    let layers = layer_digests(&repo, &signed);
    let first_layer = seen
        .iter()
        .position(|s| layers.iter().any(|l| s.path == blob_path(l)))
        .unwrap_or_else(|| panic!("no layer was fetched\n{}", proxy.seen_text()));
    let last_signature = seen
        .iter()
        .rposition(|s| s.path == signature_path)
        .unwrap_or_else(|| panic!("no signature lookup\n{}", proxy.seen_text()));
    assert!(
        last_signature < first_layer,
        "a layer was requested before the signature was checked\n{}",
        proxy.seen_text()
    );
    for l in &layers {
        assert!(
            proxy.count_method("GET", &blob_path(l)) >= 1,
            "layer {l} was not fetched\n{}",
            proxy.seen_text()
        );
    }
}

#[test]
fn no_layer_is_requested_before_verification_legacy() {
    no_layer_before_verification(true);
}

#[test]
fn no_layer_is_requested_before_verification_bundle() {
    no_layer_before_verification(false);
}

// ---------------------------------------------------------------------------------------
// 8. A signature verified before is looked up again, not read again
// ---------------------------------------------------------------------------------------

/// The signature manifest digest a sync reported for `vendor/x`.
fn reported_signature(out: &Outcome) -> String {
    let at = out
        .stderr
        .find(" signature sha256:")
        .unwrap_or_else(|| panic!("no signature reported\n{out:?}"));
    out.stderr[at + " signature ".len()..][..71].to_string()
}

/// A warm sync finds the signature that verified last time where it was (the `.sig`
/// tag or the referrers listing is asked again) but does not read its manifest or
/// blobs again: they are named by that digest, and the cache remembers that they
/// verified under this very policy. Another key is not helped by that memory, and a
/// signature that went away is not either (`locked_fails_when_...` above).
fn remembered_signature(legacy: bool) {
    let repo = format!("memo-{}", layout_slug(legacy));
    let (signed, _) = push_signed(&repo, "v1", &repo, "right", legacy);
    let proxy = FaultProxy::start(registry().addr());
    let image = format!("{}/{repo}", proxy.host());
    let w = Work::new();
    w.install(&public_key("right"), "cosign.pub");
    w.install(&public_key("wrong"), "wrong.pub");
    w.config(&config(&image, "v1", &["key: cosign.pub"], ""));

    let read_again = |from: usize, sig: &str| -> Vec<String> {
        proxy.seen()[from..]
            .iter()
            .filter(|s| s.path.contains("/blobs/") || s.path.ends_with(sig))
            .map(|s| s.to_string())
            .collect()
    };
    let first = w.sync(&[]).ok();
    let sig = reported_signature(&first);
    assert!(!first.stderr.contains("verified before"), "{first:?}");
    assert!(
        !read_again(0, &sig).is_empty(),
        "the first sync must read the signature\n{}",
        proxy.seen_text()
    );

    let from = proxy.seen().len();
    let before = w.state();
    let out = w.sync(&[]).ok();
    assert_contains(
        &out,
        &[
            &format!(
                "vendor/x: verified {signed} signed by key {}",
                w.dir.join("cosign.pub").display()
            ),
            &format!("({} signature {sig}, verified before)", layout_name(legacy)),
        ],
    );
    assert_eq!(w.state(), before);
    let lookup = if legacy {
        sig_tag(&signed)
    } else {
        referrers_tag(&signed)
    };
    assert!(
        proxy.seen()[from..]
            .iter()
            .any(|s| s.path == format!("/v2/{repo}/manifests/{lookup}")),
        "the signature must still be looked up\n{}",
        proxy.seen_text()
    );
    assert_eq!(
        read_again(from, &sig),
        Vec::<String>::new(),
        "a remembered signature was read again"
    );

    // `--locked` finds it again too; another key reads and checks it, and fails.
    w.sync(&["--locked"]).ok();
    w.config(&config(&image, "v1", &["key: wrong.pub"], ""));
    w.fails_and_keeps_everything(&[], &["does not verify with the given public key", &signed]);
}

#[test]
fn remembered_signature_legacy() {
    remembered_signature(true);
}

#[test]
fn remembered_signature_bundle() {
    remembered_signature(false);
}

// ---------------------------------------------------------------------------------------
// An index signed at the index: the lock records the child manifest
// ---------------------------------------------------------------------------------------

/// A one-manifest index, signed (as `cosign sign` does by default) at the index digest:
/// the sync verifies the index and pulls its only manifest; the lock records that child
/// manifest and, as `index`, the index it came from. `sync --locked` must then accept
/// what the plain sync accepted, by verifying that index again.
#[test]
fn locked_resync_of_a_signed_single_manifest_index() {
    let repo = "index-locked";
    let mut c = Crafter::new(registry(), repo);
    let data = b"inside an index\n";
    let l = c
        .blob("application/octet-stream", data)
        .title("in-index.txt");
    let m = c.manifest("application/vnd.vendoras.test", &[l]);
    let m_len = serde_json::to_vec(&m).unwrap().len();
    let child = c.push_manifest("child", &m);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [{"mediaType": MANIFEST_MEDIA_TYPE, "digest": child, "size": m_len}],
    });
    let idx = c.push_manifest("v1", &index);
    sign(repo, &idx, "right", true);

    let w = Work::new();
    w.install(&public_key("right"), "cosign.pub");
    w.config(&config(&repo_url(repo), "v1", &["key: cosign.pub"], ""));
    let out = w.sync(&[]).ok();
    assert_contains(&out, &[&format!("vendor/x: verified {idx}")]);
    assert!(w.dir.join("vendor/x/in-index.txt").is_file());
    assert_eq!(
        lock_urls(&w.lock()),
        vec![format!("{}@{child}", repo_url(repo))],
        "the lock names the pulled (child) manifest"
    );

    let before = w.state();
    let out = w.sync(&["--locked"]);
    assert!(
        out.success(),
        "--locked rejects what the plain sync verified (the index is signed; the lock \
         names its child manifest)\nlock:\n{}\n{out:?}",
        w.lock()
    );
    assert_eq!(w.state(), before);
}

// ---------------------------------------------------------------------------------------
// 7. vendir issue #446's example: an issuer alone is refused with the lines to add
// ---------------------------------------------------------------------------------------

/// The config of vendir issue #446, exactly as its author wrote it.
const ISSUE_446: &str = "apiVersion: vendir.k14s.io/v1alpha1
kind: Config
directories:
- path: vendor/k8s-schemas
  contents:
    - path: .
      ociArtifact:
        image: ghcr.io/home-operations/k8s-schemas
        tag: latest
        mediaTypes:
          - application/vnd.cncf.flux.content.v1.tar+gzip
        cosign:
          certificateOidcIssuer: https://token.actions.githubusercontent.com
";

const GITHUB_ACTIONS: &str = "https://token.actions.githubusercontent.com";

/// ISSUE_446 with the image on the loopback registry (plain HTTP), `line` added under
/// `cosign:` and the test signer's trusted root; everything else as written.
fn issue_446_with(line: &str) -> String {
    ISSUE_446
        .replace("ghcr.io/", &format!("{}/", registry().host()))
        .replace("tag: latest\n", "tag: latest\n        plainHTTP: true\n")
        .replace(
            &format!("certificateOidcIssuer: {GITHUB_ACTIONS}\n"),
            &format!(
                "certificateOidcIssuer: {GITHUB_ACTIONS}\n          {line}\n          \
                 trustedRoot: trusted_root.json\n"
            ),
        )
}

/// Pushes a Flux-style artifact (one untitled tar+gzip layer) as
/// home-operations/k8s-schemas:latest and attaches a keyless bundle signed for
/// `identity` by GitHub Actions' issuer; returns the digest, the files and the signing
/// material directory.
fn push_schemas(identity: &str, version: &str) -> (String, Vec<(String, String)>, PathBuf) {
    let repo = "home-operations/k8s-schemas";
    let files = vec![
        (
            "deployment-apps-v1.json".to_string(),
            format!("{{\"version\": \"{version}\"}}\n"),
        ),
        ("crds/kustomization.json".to_string(), "{}\n".to_string()),
    ];
    let mut tar = TarBuilder::new();
    for (p, d) in &files {
        tar.file(p, d.as_bytes());
    }
    let mut c = Crafter::new(registry(), repo);
    let digest = c.artifact(
        "latest",
        vec![(
            layer("application/vnd.cncf.flux.content.v1.tar+gzip", &[]),
            tar.finish_gz(),
        )],
    );
    let material = keyless_sign(&digest, identity, GITHUB_ACTIONS, repo);
    attach_bundle(
        repo,
        &digest,
        &fs::read(material.join("bundle.json")).unwrap(),
    );
    (digest, files, material)
}

/// `cosign verify` of `repo@digest` keyless with the regexp of a suggested
/// `certificateIdentityRegexp: '...'` line and GitHub Actions' issuer: the reference
/// for what that line accepts (the test signer's Fulcio issues no SCTs).
#[track_caller]
fn cosign_agrees(line: &str, root: &Path, repo: &str, digest: &str, expect_ok: bool) {
    let re = line
        .strip_prefix("certificateIdentityRegexp: '")
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("not a single-quoted regexp line: {line}"))
        .replace("''", "'");
    let out = run(cosign()
        .args(["verify", "--trusted-root"])
        .arg(root)
        .args(["--certificate-identity-regexp", &re])
        .args(["--certificate-oidc-issuer", GITHUB_ACTIONS])
        .args([
            "--insecure-ignore-sct",
            "--allow-http-registry",
            "--allow-insecure-registry",
        ])
        .arg(format!("{}@{digest}", repo_url(repo))));
    assert_eq!(
        out.success(),
        expect_ok,
        "cosign verify with {re:?}: {out:?}"
    );
}

#[test]
fn issue_446_issuer_only_is_refused_then_the_suggested_identity_verifies() {
    // (a) As written: refused at load, with the position and the lines to add.
    let w = Work::new();
    w.config(ISSUE_446);
    let out = w.fails_and_keeps_everything(
        &[],
        &[
            "vendir.yml:13:11: directories[0].contents[0].ociArtifact.cosign needs",
            "the identity is missing",
            "any GitHub Actions workflow of any repository",
        ],
    );
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("certificateIdentityRegexp:"))
        .collect();
    assert_eq!(
        lines,
        [
            r"certificateIdentityRegexp: '(?i)^https://github\.com/home-operations/'",
            r"certificateIdentityRegexp: '(?i)^https://github\.com/home-operations/k8s-schemas/\.github/workflows/'",
        ],
        "{out:?}"
    );

    // (b) Each line pasted in: a signature by the repository's release workflow (a URI
    // SAN, as Fulcio issues for GitHub Actions) verifies against the test trust root.
    let repo = "home-operations/k8s-schemas";
    let id = "https://github.com/home-operations/k8s-schemas/.github/workflows/release.yaml@refs/heads/main";
    let (digest, files, material) = push_schemas(id, "good");
    w.install(&material.join("trusted_root.json"), "trusted_root.json");
    for line in &lines {
        cosign_agrees(
            line,
            &material.join("trusted_root.json"),
            repo,
            &digest,
            true,
        );
        w.config(&issue_446_with(line));
        let out = w.sync(&[]).ok();
        assert_contains(
            &out,
            &[&format!(
                "vendor/k8s-schemas: verified {digest} signed by identity {id} issued by \
                 {GITHUB_ACTIONS}"
            )],
        );
        assert_same_tree(
            "keyless sync of the issue #446 example",
            "expected",
            &files_tree(&as_refs(&files)),
            "synced",
            &w.tree("vendor/k8s-schemas"),
        );
        assert_eq!(
            lock_urls(&w.lock()),
            vec![format!("{}@{digest}", repo_url(repo))]
        );
    }

    // A new `latest` signed by another owner's workflow (whose name starts like this
    // one's) is refused by both lines; the verified tree stays.
    let evil = "https://github.com/home-operations-evil/k8s-schemas/.github/workflows/release.yaml@refs/heads/main";
    let (evil_digest, _, evil_material) = push_schemas(evil, "evil");
    assert_ne!(evil_digest, digest);
    // Its own run's root: the chain is trusted, only the identity is wrong.
    w.install(
        &evil_material.join("trusted_root.json"),
        "trusted_root.json",
    );
    for line in &lines {
        let root = evil_material.join("trusted_root.json");
        cosign_agrees(line, &root, repo, &evil_digest, false);
        w.config(&issue_446_with(line));
        w.fails_and_keeps_everything(
            &[],
            &[
                &evil_digest,
                "certificate identity or issuer mismatch",
                evil,
            ],
        );
    }
}
