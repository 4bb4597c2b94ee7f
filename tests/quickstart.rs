//! The README's main job: syncing examples/quickstart offline.

use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn quickstart_syncs_offline_and_pins_the_layout_digest() {
    let work = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    for item in ["layout", "src"] {
        copy_dir(&example.join(item), &work.path().join(item));
    }
    std::fs::copy(example.join("vendir.yml"), work.path().join("vendir.yml")).unwrap();
    let cache = work.path().join("cache");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_vendoras"))
            .args(["sync", "--cache-dir"])
            .arg(&cache)
            .current_dir(work.path())
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vendor = work.path().join("vendor/quickstart");
    let cm = std::fs::read_to_string(vendor.join("configmap.yaml")).unwrap();
    assert!(cm.contains("hello from an OCI artifact"));
    assert!(vendor.join("namespace.yaml").is_file() && vendor.join("NOTICE").is_file());

    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("layout/index.json")).unwrap())
            .unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let lock = std::fs::read_to_string(work.path().join("vendir.lock.yml")).unwrap();
    assert!(
        lock.contains(&format!("url: oci-layout:layout@{digest}")),
        "{lock}"
    );
    assert!(lock.contains("tag: v1.0.0"), "{lock}");

    // A second sync leaves the lock's bytes alone and the tree identical,
    // and removes files vendoras does not manage.
    std::fs::write(vendor.join("stray.txt"), b"not managed").unwrap();
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("vendir.lock.yml")).unwrap(),
        lock
    );
    assert!(!vendor.join("stray.txt").exists());
    let leftovers: Vec<_> = std::fs::read_dir(work.path().join("vendor"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        vec!["quickstart".to_string()],
        "no staging directories left"
    );
}

#[test]
fn an_unchanged_directory_is_kept_and_a_local_edit_is_restored() {
    use std::os::unix::fs::MetadataExt;
    let work = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
    copy_dir(&example.join("layout"), &work.path().join("layout"));
    std::fs::copy(example.join("vendir.yml"), work.path().join("vendir.yml")).unwrap();
    let cache = work.path().join("cache");
    let sync = || {
        let out = Command::new(env!("CARGO_BIN_EXE_vendoras"))
            .args(["sync", "--json", "--cache-dir"])
            .arg(&cache)
            .current_dir(work.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["contents"][0].clone()
    };
    let file = work.path().join("vendor/quickstart/configmap.yaml");
    let first = sync();
    assert_eq!(first["skipped"], false);
    let original = std::fs::read(&file).unwrap();
    let inode = std::fs::metadata(&file).unwrap().ino();

    // Same digest, same tree: nothing is re-extracted (same inode).
    let second = sync();
    assert_eq!(second["skipped"], true, "{second}");
    assert_eq!(std::fs::metadata(&file).unwrap().ino(), inode);

    // A local edit changes the tree's fingerprint: the next sync restores it.
    std::fs::write(&file, b"edited locally\n").unwrap();
    let third = sync();
    assert_eq!(third["skipped"], false, "{third}");
    assert_eq!(std::fs::read(&file).unwrap(), original);

    // Without a cache there is no record of the tree, so it is rebuilt.
    let out = Command::new(env!("CARGO_BIN_EXE_vendoras"))
        .args(["sync", "--json", "--no-cache"])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["contents"][0]["skipped"], false);
}
