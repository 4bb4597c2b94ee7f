//! examples/pull.rs, the library's example program, built and run against
//! the OCI layout in examples/quickstart (offline).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the example once per test binary (cargo only links it when the
/// library is already built) and returns its path, as cargo reports it.
fn example() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "--example", "pull", "--message-format=json"])
            .current_dir(manifest_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cargo build --example pull:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "pull")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported the example's executable")
    })
}

fn pull(args: &[&str], cwd: &Path) -> Output {
    Command::new(example())
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The digest index.json tags `v1.0.0` with, read rather than written here
/// so that rebuilding the layout does not break the test.
fn tagged_digest(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let m = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v1.0.0")
        .expect("v1.0.0 in index.json");
    m["digest"].as_str().unwrap().to_string()
}

#[test]
fn example_pull_writes_the_titled_file_of_the_quickstart_layout() {
    let work = tempfile::tempdir().unwrap();
    let layout = manifest_dir().join("examples/quickstart/layout");
    let reference = format!("{}:v1.0.0", layout.display());
    let out = pull(&["--oci-layout", &reference, "out"], work.path());
    assert!(out.status.success(), "{}", text(&out.stderr));

    // What oras writes for this artifact: the one titled layer, byte for
    // byte; the untitled Flux layer and the config are skipped.
    let notice = manifest_dir().join("examples/quickstart/src/NOTICE");
    let files: Vec<_> = std::fs::read_dir(work.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files, ["NOTICE"]);
    assert_eq!(
        std::fs::read(work.path().join("out/NOTICE")).unwrap(),
        std::fs::read(notice).unwrap()
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Digest: {}\n", tagged_digest(&layout))),
        "{stdout}"
    );
    assert!(
        stdout.contains("Skipped pulling layers without file name"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("Downloaded ") && l.ends_with(" NOTICE")),
        "{stdout}"
    );
}

#[test]
fn example_pull_names_a_missing_tag_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let layout = manifest_dir().join("examples/quickstart/layout");
    let reference = format!("{}:v9.9.9", layout.display());
    let out = pull(&["--oci-layout", &reference, "out"], work.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("v9.9.9") && stderr.contains("not found"),
        "{stderr}"
    );
    assert!(!work.path().join("out").exists());
}

#[test]
fn example_pull_refuses_a_reference_without_tag_or_digest() {
    let work = tempfile::tempdir().unwrap();
    let layout = manifest_dir().join("examples/quickstart/layout");
    let out = pull(
        &["--oci-layout", layout.to_str().unwrap(), "out"],
        work.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no tag or digest"),
        "{}",
        text(&out.stderr)
    );
    let out = pull(&["only-one-argument"], work.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
