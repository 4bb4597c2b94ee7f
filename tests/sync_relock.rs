//! `vendoras sync --relock-changed` against a loopback registry and git daemon: the
//! contents whose config changed since the lock was written are resolved again; every
//! other content is pulled exactly as its lock entry pins it, even when its tag or
//! branch has moved on the server since, and its lock entry stays byte for byte.

mod support;

use support::fixtures::*;
use support::servers::*;
use support::sync::*;
use support::*;

/// The lock entry of the content at `vendor/PATH`, as data.
fn entry(work: &Work, path: &str) -> vendoras::lock::LockContent {
    let lock = vendoras::lock::LockConfig::read(&work.dir.join("vendir.lock.yml"))
        .unwrap()
        .expect("a lock");
    lock.content("vendor", path)
        .unwrap_or_else(|| panic!("no lock entry for {path}:\n{}", work.lock()))
        .clone()
}

fn push(registry: &Registry, reference: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("file.txt"), text);
    oras_push_in(registry, dir.path(), &[], reference, &["file.txt"])
}

fn config(registry: &Registry, git: &str, app_tag: &str, git_tag: &str) -> String {
    let host = registry.host();
    [
        "apiVersion: vendir.k14s.io/v1alpha1",
        "kind: Config",
        "directories:",
        "- path: vendor",
        "  contents:",
        "  - path: app",
        "    ociArtifact:",
        &format!("      image: {host}/app"),
        &format!("      tag: {app_tag}"),
        "      plainHTTP: true",
        "  - path: moving",
        "    ociArtifact:",
        &format!("      image: {host}/moving:latest"),
        "      plainHTTP: true",
        "  - path: branch",
        "    git:",
        &format!("      url: {git}/app.git"),
        "      ref: origin/main",
        "  - path: tagged",
        "    git:",
        &format!("      url: {git}/app.git"),
        &format!("      ref: {git_tag}"),
        "",
    ]
    .join("\n")
}

#[test]
fn relock_changed_resolves_only_the_edited_contents_and_pins_the_rest() {
    let registry = Registry::start();
    let host = registry.host();
    let v1 = push(&registry, &format!("{host}/app:v1"), "app v1\n");
    let v2 = push(&registry, &format!("{host}/app:v2"), "app v2\n");
    let first = push(
        &registry,
        &format!("{host}/moving:latest"),
        "moving first\n",
    );

    let git_root = tempfile::tempdir().unwrap();
    let fixture = GitFixture::build(git_root.path());
    let daemon = GitDaemon::start(git_root.path());

    let work = Work::new();
    work.config(&config(&registry, &daemon.url(), "v1", "v1.0.0"));
    work.sync(&[]).ok();
    let before = work.lock();
    let pinned: Vec<_> = ["moving", "branch"].map(|p| entry(&work, p)).into();
    assert!(before.contains(&v1), "{before}");
    assert!(before.contains(&first), "{before}");

    // Upstream moves on: `latest` and `main` now point elsewhere.
    let second = push(
        &registry,
        &format!("{host}/moving:latest"),
        "moving second\n",
    );
    let moved = fixture.advance_main("moved upstream");
    assert_ne!(first, second);

    // The bot edits two references.
    work.config(&config(&registry, &daemon.url(), "v2", "v1.1.0"));
    let out = work.sync(&["--relock-changed"]).ok();
    assert_contains(
        &out,
        &[
            "vendor/app: config changed since the lock was written",
            "vendor/tagged: config changed since the lock was written",
        ],
    );
    assert!(
        !out.stderr.contains("vendor/moving: config changed")
            && !out.stderr.contains("vendor/branch: config changed"),
        "{out:?}"
    );
    let after = work.lock();

    // The edited contents are resolved again.
    let app = entry(&work, "app").oci_artifact.unwrap();
    assert_eq!(app.url, format!("{host}/app@{v2}"), "{after}");
    assert_eq!(app.tag.as_deref(), Some("v2"), "{after}");
    assert_eq!(
        entry(&work, "tagged").git.unwrap().sha,
        fixture.commits["second"],
        "v1.1.0 is the second commit\n{after}"
    );
    assert_eq!(
        std::fs::read_to_string(work.dir.join("vendor/app/file.txt")).unwrap(),
        "app v2\n"
    );
    assert_eq!(
        std::fs::read_to_string(work.dir.join("vendor/tagged/README.md")).unwrap(),
        "app v1.1\n"
    );

    // The others: lock entries byte for byte, trees as pinned, not as upstream is now.
    let now: Vec<_> = ["moving", "branch"].map(|p| entry(&work, p)).into();
    assert_eq!(pinned, now, "before:\n{before}\nafter:\n{after}");
    assert!(
        !after.contains(&second) && !after.contains(&moved),
        "{after}"
    );
    assert_eq!(
        std::fs::read_to_string(work.dir.join("vendor/moving/file.txt")).unwrap(),
        "moving first\n"
    );
    assert!(!work.dir.join("vendor/branch/moved.txt").exists());

    // Nothing changed since: a second relock resolves nothing again and keeps the lock.
    let again = work.sync(&["--relock-changed"]).ok();
    assert!(!again.stderr.contains("config changed"), "{again:?}");
    assert_eq!(work.lock(), after);

    // A plain sync, by contrast, drifts the floating references.
    work.sync(&[]).ok();
    let drifted = work.lock();
    assert!(
        drifted.contains(&second) && drifted.contains(&moved),
        "{drifted}"
    );
}

#[test]
fn relock_changed_and_locked_are_exclusive() {
    let work = Work::new();
    let out = work.sync(&["--relock-changed", "--locked"]);
    assert!(!out.success());
    assert!(out.stderr.contains("cannot be used with"), "{out:?}");
}
