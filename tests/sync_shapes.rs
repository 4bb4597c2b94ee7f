//! `vendoras sync` of the artifact shapes people vendor: Flux artifacts, Helm OCI
//! charts, oras-pushed files and directories, WASM modules, OPA bundles, zstd layers and
//! multi-platform indexes. Each lands on disk as docs/config.md ("What lands on disk") says and is pinned in the lock.
//!
//! One registry and one pushed corpus are shared by all tests of this file.

mod support;

use std::fs;
use std::sync::OnceLock;

use serde_json::json;
use support::sync::*;
use support::*;

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
