//! `vendoras sync` of the artifact shapes people vendor: Flux artifacts, Helm OCI
//! charts, oras-pushed files and directories, WASM modules, OPA bundles, zstd layers and
//! multi-platform indexes. Each lands on disk as SPEC §3 says and is pinned in the lock.
//!
//! One registry and one pushed corpus are shared by all tests of this file.

#![allow(dead_code)] // the sync helpers below are shared text across tests/sync_*.rs

mod support;

use std::fs;
use std::sync::OnceLock;

use serde_json::json;
use support::*;

// ---------------------------------------------------------------------------------------
// Sync helpers (shared text between tests/sync_*.rs)
// ---------------------------------------------------------------------------------------

/// A temp root holding `work/` (the working directory), `cache/` (blob cache) and
/// `sentinel/` (a sibling of the work dir that must never change).
struct Work {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    cache: std::path::PathBuf,
    sentinel: std::path::PathBuf,
}

impl Work {
    fn new() -> Work {
        let tmp = tempfile::Builder::new().prefix("vsync").tempdir().unwrap();
        let dir = tmp.path().join("work");
        let cache = tmp.path().join("cache");
        let sentinel = tmp.path().join("sentinel");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&sentinel).unwrap();
        std::fs::write(sentinel.join("keep.txt"), "sentinel\n").unwrap();
        Work {
            _tmp: tmp,
            dir,
            cache,
            sentinel,
        }
    }

    fn config(&self, yaml: &str) {
        std::fs::write(self.dir.join("vendir.yml"), yaml).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = vendoras();
        c.current_dir(&self.dir)
            .arg("sync")
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        c
    }

    fn sync(&self, args: &[&str]) -> Outcome {
        run(&mut self.cmd(args))
    }

    fn lock(&self) -> String {
        std::fs::read_to_string(self.dir.join("vendir.lock.yml")).unwrap_or_default()
    }

    fn tree(&self, rel: &str) -> Tree {
        tree_snapshot(&self.dir.join(rel))
    }

    /// Everything in the work dir except the config (which tests rewrite).
    fn state(&self) -> (Tree, String) {
        let mut t = tree_snapshot(&self.dir);
        t.remove("vendir.yml");
        (t, self.lock())
    }

    fn sentinel_tree(&self) -> Tree {
        tree_snapshot(&self.sentinel)
    }
}

/// The `url:` values of a lock file, in order.
fn lock_urls(lock: &str) -> Vec<String> {
    lock.lines()
        .filter_map(|l| l.trim().strip_prefix("url: "))
        .map(|s| s.trim().trim_matches('"').trim_matches('\'').to_string())
        .collect()
}

/// A vendir.yml of these `directories:` items (see [`dir_yaml`]) plus extra documents.
fn config_yaml(dirs: &[String], extra_docs: &str) -> String {
    format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n{}{extra_docs}",
        dirs.concat()
    )
}

/// One `directories:` item with these content items (see [`oci_yaml`]).
fn dir_yaml(path: &str, contents: &[String]) -> String {
    format!("- path: {path}\n  contents:\n{}", contents.concat())
}

/// One `contents:` item with an ociArtifact source. `extra` are lines of the
/// `ociArtifact` mapping (e.g. `mediaTypes: [x]`); `content_extra` lines of the content.
fn oci_yaml(
    path: &str,
    image: &str,
    tag: Option<&str>,
    extra: &[&str],
    content_extra: &[&str],
) -> String {
    let mut s = format!("  - path: {path}\n");
    for l in content_extra {
        s.push_str(&format!("    {l}\n"));
    }
    s.push_str(&format!("    ociArtifact:\n      image: {image}\n"));
    if let Some(t) = tag {
        s.push_str(&format!("      tag: \"{t}\"\n"));
    }
    for l in extra {
        s.push_str(&format!("      {l}\n"));
    }
    s
}

/// A one-directory, one-content config for `image:tag` on a plain-HTTP registry.
fn simple_config(dir: &str, image: &str, tag: &str, extra: &[&str]) -> String {
    let mut e = vec!["plainHTTP: true"];
    e.extend_from_slice(extra);
    config_yaml(
        &[dir_yaml(dir, &[oci_yaml(".", image, Some(tag), &e, &[])])],
        "",
    )
}

/// `oras resolve REF` (the manifest digest).
fn oras_resolve(registry: &Registry, reference: &str) -> String {
    run(oras()
        .arg("resolve")
        .args(registry.access_flags())
        .arg(reference))
    .ok()
    .stdout
    .trim()
    .to_string()
}

/// `oras push` inside `dir`; returns the manifest digest.
fn oras_push_in(
    registry: &Registry,
    dir: &std::path::Path,
    flags: &[&str],
    reference: &str,
    paths: &[&str],
) -> String {
    run(oras()
        .current_dir(dir)
        .arg("push")
        .args(registry.access_flags())
        .args(flags)
        .arg(reference)
        .args(paths)
        .args(["--format", "go-template={{.digest}}"]))
    .ok()
    .stdout
    .trim()
    .to_string()
}

fn write_file(path: &std::path::Path, data: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// A tree from (path, content) pairs of regular non-executable files plus their dirs.
fn files_tree(files: &[(&str, &[u8])]) -> Tree {
    let mut t = Tree::new();
    for (p, data) in files {
        let mut acc = String::new();
        let parts: Vec<&str> = p.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            t.insert(acc.clone(), Entry::Dir);
        }
        t.insert(
            p.to_string(),
            Entry::File {
                sha256: sha256_hex(data),
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

const FLUX_CONFIG: &str = "application/vnd.cncf.flux.config.v1+json";
const FLUX_CONTENT: &str = "application/vnd.cncf.flux.content.v1.tar+gzip";
const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const HELM_PROV: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";
const OPA_LAYER: &str = "application/vnd.cncf.openpolicyagent.layer.v1.tar+gzip";
const ZSTD_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";

struct Corpus {
    registry: Registry,
    prov_digest: String,
    wasm: Vec<u8>,
    /// None when the `zstd` CLI is missing.
    zstd: Option<()>,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(build)
}

/// A manifest with a real (non-empty-type) config blob.
fn push_with_config(
    c: &mut Crafter,
    config_type: &str,
    config: &[u8],
    tag: &str,
    layers: Vec<(Desc, Vec<u8>)>,
) -> String {
    let cfg = c.blob(config_type, config);
    let mut descs = Vec::new();
    for (t, data) in layers {
        let mut d = c.blob(&t.media_type, &data);
        d.annotations = t.annotations;
        descs.push(d);
    }
    let m = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": cfg.to_json(),
        "layers": descs.iter().map(Desc::to_json).collect::<Vec<_>>(),
    });
    c.push_manifest(tag, &m)
}

fn flux_tar() -> TarBuilder {
    let mut t = TarBuilder::new();
    t.file("kustomization.yaml", b"resources: [apps/app.yaml]\n")
        .dir("apps")
        .file("apps/app.yaml", b"kind: ConfigMap\n");
    t
}

fn build() -> Corpus {
    let registry = Registry::start();

    // Flux artifact (what `flux push artifact` makes).
    let mut c = Crafter::new(&registry, "flux");
    push_with_config(
        &mut c,
        FLUX_CONFIG,
        b"{}",
        "v1",
        vec![(layer(FLUX_CONTENT, &[]), flux_tar().finish_gz())],
    );

    // Helm chart + provenance (what `helm push` makes of a signed chart).
    let mut chart = TarBuilder::new();
    chart
        .file(
            "mychart/Chart.yaml",
            b"apiVersion: v2\nname: mychart\nversion: 0.1.0\n",
        )
        .file("mychart/values.yaml", b"replicas: 1\n")
        .file("mychart/templates/cm.yaml", b"kind: ConfigMap\n");
    let prov = b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: mychart\n".to_vec();
    let prov_digest = digest_of(&prov);
    let mut c = Crafter::new(&registry, "chart");
    push_with_config(
        &mut c,
        HELM_CONFIG,
        br#"{"name":"mychart","version":"0.1.0","apiVersion":"v2"}"#,
        "0.1.0",
        vec![
            (layer(HELM_CHART, &[]), chart.finish_gz()),
            (layer(HELM_PROV, &[]), prov),
        ],
    );

    // oras-pushed files and a directory.
    let src = tempfile::tempdir().unwrap();
    write_file(&src.path().join("README.md"), "# readme\n");
    write_file(&src.path().join("conf/app.yaml"), "k: v\n");
    write_file(&src.path().join("conf/sub/run.sh"), "#!/bin/sh\necho hi\n");
    set_mode(&src.path().join("conf/sub/run.sh"), 0o755);
    write_file(&src.path().join("nested/file.txt"), "nested file\n");
    oras_push_in(
        &registry,
        src.path(),
        &[],
        &registry.reference("orasfiles", "v1"),
        &["README.md", "conf", "nested/file.txt"],
    );

    // WASM module: a titled layer.
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend(Prng::new(9).bytes(10_000));
    let mut c = Crafter::new(&registry, "wasm");
    push_with_config(
        &mut c,
        "application/vnd.wasm.config.v0+json",
        br#"{"architecture":"wasm","os":"wasip1"}"#,
        "v1",
        vec![(layer(WASM_LAYER, &[(TITLE, "module.wasm")]), wasm.clone())],
    );

    // OPA bundle.
    let mut opa = TarBuilder::new();
    opa.file(".manifest", b"{\"roots\":[\"authz\"]}\n")
        .file(
            "authz/policy.rego",
            b"package authz\ndefault allow := false\n",
        )
        .file("data.json", b"{}\n");
    let mut c = Crafter::new(&registry, "opa");
    push_with_config(
        &mut c,
        "application/vnd.oci.image.config.v1+json",
        b"{}",
        "v1",
        vec![(layer(OPA_LAYER, &[]), opa.finish_gz())],
    );

    // zstd layer, compressed with the zstd CLI.
    let zstd = std::process::Command::new("zstd")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ());
    if zstd.is_some() {
        let mut t = TarBuilder::new();
        t.file("zstd/hello.txt", b"hello zstd\n");
        let raw = src.path().join("layer.tar");
        fs::write(&raw, t.finish()).unwrap();
        let out = std::process::Command::new("zstd")
            .args(["-q", "-c"])
            .arg(&raw)
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut c = Crafter::new(&registry, "zstd");
        c.artifact("v1", vec![(layer(ZSTD_LAYER, &[]), out.stdout)]);
    } else {
        eprintln!("zstd CLI not found: the zstd shape is not tested");
    }

    // A two-platform index.
    let multi = tempfile::tempdir().unwrap();
    write_file(&multi.path().join("app-amd64"), "amd64\n");
    write_file(&multi.path().join("app-arm64"), "arm64\n");
    for arch in ["amd64", "arm64"] {
        let app = format!("app-{arch}");
        oras_push_in(
            &registry,
            multi.path(),
            &["--artifact-platform", &format!("linux/{arch}")],
            &registry.reference("multi", arch),
            &[&app],
        );
    }
    run(oras()
        .args(["manifest", "index", "create"])
        .args(registry.access_flags())
        .arg(registry.reference("multi", "v1"))
        .args(["amd64", "arm64"]))
    .ok();

    Corpus {
        registry,
        prov_digest,
        wasm,
        zstd,
    }
}

fn image(repo: &str) -> String {
    format!("{}/{repo}", corpus().registry.host())
}

/// Syncs `repo:tag` into `vendor/x` and checks the lock pins what `oras resolve` says.
fn sync_ok(repo: &str, tag: &str, extra: &[&str]) -> (Work, Tree) {
    let w = Work::new();
    w.config(&simple_config("vendor/x", &image(repo), tag, extra));
    w.sync(&[]).ok();
    let tree = w.tree("vendor/x");
    (w, tree)
}

#[track_caller]
fn assert_lock_pins(w: &Work, reference_for_resolve: &str, expected_tag: &str) {
    let r = &corpus().registry;
    let digest = oras_resolve(r, reference_for_resolve);
    let (name, _) = reference_for_resolve.rsplit_once(':').unwrap();
    let lock = w.lock();
    assert_eq!(
        lock_urls(&lock),
        vec![format!("{name}@{digest}")],
        "lock url\n{lock}"
    );
    assert!(
        lock.lines().any(
            |l| l.trim().trim_matches('"') == format!("tag: {expected_tag}")
                || l.trim() == format!("tag: \"{expected_tag}\"")
        ),
        "lock should record tag {expected_tag}\n{lock}"
    );
}

#[test]
fn a_flux_artifact_lands_extracted_and_pinned() {
    let (w, tree) = sync_ok("flux", "v1", &[]);
    let expected = files_tree(&[
        ("kustomization.yaml", b"resources: [apps/app.yaml]\n"),
        ("apps/app.yaml", b"kind: ConfigMap\n"),
    ]);
    assert_same_tree("flux artifact", "expected", &expected, "synced", &tree);
    assert_lock_pins(&w, &corpus().registry.reference("flux", "v1"), "v1");
}

#[test]
fn a_helm_chart_with_provenance_needs_media_types_and_then_lands() {
    let c = corpus();
    let w = Work::new();
    w.config(&simple_config("vendor/x", &image("chart"), "0.1.0", &[]));
    let out = w.sync(&[]);
    assert!(
        !out.success(),
        "an untitled provenance layer must be refused\n{out:?}"
    );
    assert_contains(
        &out,
        &["vendoras: Error:", &c.prov_digest, HELM_PROV, "mediaTypes"],
    );
    assert!(
        w.tree("vendor").is_empty(),
        "nothing may land on failure: {:?}",
        w.tree("vendor")
    );
    assert_eq!(w.lock(), "", "no lock on failure");

    w.config(&simple_config(
        "vendor/x",
        &image("chart"),
        "0.1.0",
        &[&format!("mediaTypes: [{HELM_CHART}]")],
    ));
    w.sync(&[]).ok();
    let expected = files_tree(&[
        (
            "mychart/Chart.yaml",
            b"apiVersion: v2\nname: mychart\nversion: 0.1.0\n",
        ),
        ("mychart/values.yaml", b"replicas: 1\n"),
        ("mychart/templates/cm.yaml", b"kind: ConfigMap\n"),
    ]);
    assert_same_tree(
        "helm chart",
        "expected",
        &expected,
        "synced",
        &w.tree("vendor/x"),
    );
    assert_lock_pins(&w, &c.registry.reference("chart", "0.1.0"), "0.1.0");
}

#[test]
fn oras_pushed_files_and_directories_land_as_oras_pull_would() {
    let r = &corpus().registry;
    let (w, tree) = sync_ok("orasfiles", "v1", &[]);
    let pulled = tempfile::tempdir().unwrap();
    run(oras()
        .current_dir(pulled.path())
        .arg("pull")
        .args(r.access_flags())
        .args(["-o", "out"])
        .arg(r.reference("orasfiles", "v1")))
    .ok();
    let oras_tree = tree_snapshot(&pulled.path().join("out"));
    assert!(
        oras_tree.contains_key("conf/sub/run.sh"),
        "corpus sanity: {oras_tree:?}"
    );
    assert_same_tree(
        "oras files + directory",
        "oras pull",
        &oras_tree,
        "vendoras sync",
        &tree,
    );
    assert_lock_pins(&w, &r.reference("orasfiles", "v1"), "v1");
}

#[test]
fn a_wasm_module_lands_byte_for_byte() {
    let (_w, tree) = sync_ok("wasm", "v1", &[]);
    let expected = files_tree(&[("module.wasm", &corpus().wasm)]);
    assert_same_tree("wasm module", "expected", &expected, "synced", &tree);
}

#[test]
fn an_opa_bundle_lands_extracted() {
    let (_w, tree) = sync_ok("opa", "v1", &[]);
    let expected = files_tree(&[
        (".manifest", b"{\"roots\":[\"authz\"]}\n"),
        (
            "authz/policy.rego",
            b"package authz\ndefault allow := false\n",
        ),
        ("data.json", b"{}\n"),
    ]);
    assert_same_tree("opa bundle", "expected", &expected, "synced", &tree);
}

#[test]
fn a_zstd_layer_lands_extracted() {
    if corpus().zstd.is_none() {
        eprintln!("SKIPPED: zstd CLI not found");
        return;
    }
    let (_w, tree) = sync_ok("zstd", "v1", &[]);
    let expected = files_tree(&[("zstd/hello.txt", b"hello zstd\n")]);
    assert_same_tree("zstd layer", "expected", &expected, "synced", &tree);
}

#[test]
fn a_multi_platform_index_needs_a_platform_and_pins_the_platform_manifest() {
    let r = &corpus().registry;
    let w = Work::new();
    w.config(&simple_config("vendor/x", &image("multi"), "v1", &[]));
    let out = w.sync(&[]);
    assert!(
        !out.success(),
        "an index of 2 manifests without platform must fail\n{out:?}"
    );
    assert_contains(
        &out,
        &["vendoras: Error:", "linux/amd64", "linux/arm64", "platform"],
    );
    assert!(w.tree("vendor").is_empty());

    w.config(&simple_config(
        "vendor/x",
        &image("multi"),
        "v1",
        &["platform: linux/arm64"],
    ));
    w.sync(&[]).ok();
    let expected = files_tree(&[("app-arm64", b"arm64\n")]);
    assert_same_tree(
        "linux/arm64 of the index",
        "expected",
        &expected,
        "synced",
        &w.tree("vendor/x"),
    );
    let arm = oras_resolve(r, &r.reference("multi", "arm64"));
    let index = oras_resolve(r, &r.reference("multi", "v1"));
    assert_ne!(arm, index);
    let lock = w.lock();
    assert_eq!(
        lock_urls(&lock),
        vec![format!("{}@{arm}", image("multi"))],
        "the lock pins the platform manifest\n{lock}"
    );
}
