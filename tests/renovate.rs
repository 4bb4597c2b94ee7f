//! The shipped Renovate preset (renovate/vendoras.json) with the real Renovate 44
//! (scripts/install-renovate.sh), offline against a loopback registry: Renovate's
//! `local` platform extracts the dependencies the preset's JSONata manager finds in a
//! `vendir.yml` (ociArtifact with `tag:` before `image:` and quoted, ociArtifact with the
//! tag inside `image:` in flow style, image, imgpkgBundle; a `tagSelection` content is
//! left alone) and looks each up in the registry's tag list: the bump it proposes is
//! the newest tag.
//!
//! Skipped, saying so, only when Renovate is not installed and `CI` is not set.

mod support;

use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use support::sync::oras_push_in;
use support::*;

fn renovate() -> Option<PathBuf> {
    let path = tools_dir().join("renovate");
    if path.is_file() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "renovate not found at {}: scripts/install-renovate.sh (run by \
             scripts/install-test-deps.sh) installs it",
            path.display()
        );
    }
    eprintln!(
        "skipped: renovate not found at {} (scripts/install-renovate.sh installs it; \
         in CI this is a failure)",
        path.display()
    );
    None
}

fn push(registry: &Registry, repo: &str, tag: &str) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file.txt"), format!("{repo} {tag}\n")).unwrap();
    oras_push_in(
        registry,
        dir.path(),
        &[],
        &registry.reference(repo, tag),
        &["file.txt"],
    );
}

/// Every dependency of the `packageFiles with updates` log record, as
/// (depType, depName, currentValue, newest proposed newValue).
fn deps(log: &str) -> Vec<(String, String, String, Option<String>)> {
    let record = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["msg"] == "packageFiles with updates")
        .unwrap_or_else(|| panic!("no `packageFiles with updates` in the log:\n{log}"));
    let mut out = Vec::new();
    for files in record["config"].as_object().unwrap().values() {
        for file in files.as_array().unwrap() {
            for dep in file["deps"].as_array().unwrap() {
                let newest = dep["updates"]
                    .as_array()
                    .and_then(|u| u.iter().filter_map(|u| u["newValue"].as_str()).next_back())
                    .map(str::to_string);
                out.push((
                    dep["depType"].as_str().unwrap_or_default().to_string(),
                    dep["depName"].as_str().unwrap_or_default().to_string(),
                    dep["currentValue"].as_str().unwrap_or_default().to_string(),
                    newest,
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_preset_tracks_oci_artifact_image_and_bundle_tags_with_the_real_renovate() {
    let Some(renovate) = renovate() else { return };
    let registry = Registry::start();
    let host = registry.host();
    for (repo, tags) in [
        ("policies", ["v1.0.0", "v1.1.0"]),
        ("schemas", ["1.0.0", "1.2.0"]),
        ("img/app", ["1.0.0", "1.0.1"]),
        ("bundles/app", ["2.0.0", "3.0.0"]),
    ] {
        for t in tags {
            push(&registry, repo, t);
        }
    }

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    fs::write(
        repo.join("vendir.yml"),
        format!(
            r#"apiVersion: vendir.k14s.io/v1alpha1
kind: Config
directories:
- path: vendor
  contents:
  - path: policies
    ociArtifact:
      tag: "v1.0.0"        # before image:, quoted
      image: {host}/policies
      plainHTTP: true
  - path: schemas
    ociArtifact: {{image: '{host}/schemas:1.0.0', plainHTTP: true}}
  - path: img
    image:
      url: {host}/img/app:1.0.0
  - path: bundle
    imgpkgBundle:
      image: "{host}/bundles/app:2.0.0"
  - path: ranged   # a tagSelection is vendoras's to resolve, not Renovate's
    ociArtifact:
      image: {host}/policies
      tagSelection: {{semver: {{constraints: ">=1.0.0"}}}}
"#
        ),
    )
    .unwrap();

    // The preset as shipped, plus what this loopback setup needs.
    let preset: Value = serde_json::from_str(
        &fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/renovate/vendoras.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut config = preset.clone();
    let obj = config.as_object_mut().unwrap();
    obj.remove("$schema");
    obj.remove("description");
    obj.insert("onboarding".into(), false.into());
    obj.insert("requireConfig".into(), "optional".into());
    obj.insert("repositoryCache".into(), "disabled".into());
    obj.insert(
        "hostRules".into(),
        serde_json::json!([{ "matchHost": host, "insecureRegistry": true }]),
    );
    let config_file = tmp.path().join("config.json");
    fs::write(&config_file, serde_json::to_vec_pretty(&config).unwrap()).unwrap();

    let home = tmp.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let mut cmd = std::process::Command::new(&renovate);
    cmd.current_dir(&repo)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("RENOVATE_PLATFORM", "local")
        .env("RENOVATE_CONFIG_FILE", &config_file)
        .env("RENOVATE_BASE_DIR", tmp.path().join("base"))
        .env("LOG_LEVEL", "debug")
        .env("LOG_FORMAT", "json");
    let out = run(&mut cmd);
    assert!(out.success(), "renovate failed: {out:?}");
    let found = deps(&out.stdout);
    let want = |t: &str, name: &str, cur: &str, new: &str| {
        (
            t.to_string(),
            format!("{host}/{name}"),
            cur.to_string(),
            Some(new.to_string()),
        )
    };
    assert_eq!(
        found,
        vec![
            want("image", "img/app", "1.0.0", "1.0.1"),
            want("imgpkgBundle", "bundles/app", "2.0.0", "3.0.0"),
            want("ociArtifact", "policies", "v1.0.0", "v1.1.0"),
            want("ociArtifact", "schemas", "1.0.0", "1.2.0"),
        ],
        "\n{}",
        out.stdout
    );
}
