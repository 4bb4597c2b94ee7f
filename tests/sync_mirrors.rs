//! Mirrors (docs/mirrors.md): a fleet reaches registries, git and http through
//! pull-through caches named in one file (`--mirrors`, `$VENDORAS_MIRRORS`).
//! The registry mirror is the real distribution registry in proxy mode in front
//! of the origin registry; the lock must be byte-identical to a sync without the
//! mirror, and once the origin is stopped, `--locked` must still sync from what
//! the mirror cached.

mod support;

use std::fs;
use std::path::Path;

use support::sync::*;
use support::*;

/// Pushes `name.txt` holding `text` to `repo:tag`.
fn push_text(r: &Registry, repo: &str, tag: &str, text: &str) {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join(format!("{repo}.txt")), text).unwrap();
    oras_push_in(
        r,
        src.path(),
        &[],
        &r.reference(repo, tag),
        &[&format!("{repo}.txt")],
    );
}

fn oci_config(origin: &str, repo: &str, tag: &str) -> String {
    format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
         - path: vendor\n  contents:\n  - path: {repo}\n    ociArtifact:\n      \
         image: {origin}/{repo}\n      tag: {tag}\n      plainHTTP: true\n"
    )
}

fn write_mirrors(work: &Work, text: &str) -> std::path::PathBuf {
    let p = work.dir.parent().unwrap().join("mirrors.toml");
    fs::write(&p, text).unwrap();
    p
}

fn sync_with(work: &Work, mirrors: Option<&Path>, args: &[&str]) -> Outcome {
    let mut c = work.cmd(args);
    c.env_remove("VENDORAS_MIRRORS");
    if let Some(m) = mirrors {
        c.arg("--mirrors").arg(m);
    }
    run(&mut c)
}

#[test]
fn registry_proxy_serves_locked_sync_after_origin_stops_and_lock_names_origin() {
    let origin = Registry::start();
    push_text(&origin, "app", "v1", "hello from the origin\n");
    let proxy = Registry::start_proxy(&origin.url());
    let config = oci_config(&origin.host(), "app", "v1");

    // Reference: no mirror at all.
    let plain = Work::new();
    plain.config(&config);
    sync_with(&plain, None, &[]).ok();

    // Through the pull-through cache.
    let fleet = Work::new();
    fleet.config(&config);
    let mirrors = write_mirrors(
        &fleet,
        &format!(
            "unqualified-search-registries = []\n\n[[registry]]\nprefix = \"{}\"\n\n\
             [[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            origin.host(),
            proxy.host()
        ),
    );
    sync_with(&fleet, Some(&mirrors), &[]).ok();
    assert_eq!(fleet.lock(), plain.lock(), "the lock must not name the mirror");
    assert!(fleet.lock().contains(&origin.host()), "{}", fleet.lock());
    assert!(!fleet.lock().contains(&proxy.host()), "{}", fleet.lock());
    assert_same_tree("through the mirror", "plain", &plain.tree("vendor"), "fleet", &fleet.tree("vendor"));

    // The origin goes away. A fresh machine (own cache) with the fleet's lock
    // syncs --locked from the mirror alone; without the mirror it cannot.
    drop(origin);
    let later = Work::new();
    later.config(&config);
    fs::write(later.dir.join("vendir.lock.yml"), fleet.lock()).unwrap();
    let alone = sync_with(&later, None, &["--locked"]);
    assert!(!alone.success(), "origin is down, yet: {alone:?}");
    let mirrors = write_mirrors(
        &later,
        &format!(
            "[[registry]]\nprefix = \"{}\"\n\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            config_host(&config),
            proxy.host()
        ),
    );
    sync_with(&later, Some(&mirrors), &["--locked"]).ok();
    assert_eq!(later.lock(), plain.lock());
    assert_eq!(
        fs::read_to_string(later.dir.join("vendor/app/app.txt")).unwrap(),
        "hello from the origin\n"
    );
    // The environment variable names the same file.
    let env = Work::new();
    env.config(&config);
    fs::write(env.dir.join("vendir.lock.yml"), fleet.lock()).unwrap();
    let mut c = env.cmd(&["--locked"]);
    c.env("VENDORAS_MIRRORS", &mirrors);
    run(&mut c).ok();
    assert_eq!(env.lock(), plain.lock());
}

/// `127.0.0.1:PORT` of the image in an `oci_config`.
fn config_host(config: &str) -> String {
    let image = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("image: "))
        .unwrap();
    image.split('/').next().unwrap().to_string()
}

#[test]
fn dead_mirror_falls_back_to_origin_unless_mirror_only() {
    let origin = Registry::start();
    push_text(&origin, "app", "v1", "origin only\n");
    let config = oci_config(&origin.host(), "app", "v1");
    let dead = format!("127.0.0.1:{}", free_port());

    let plain = Work::new();
    plain.config(&config);
    sync_with(&plain, None, &[]).ok();

    let work = Work::new();
    work.config(&config);
    let rule = format!(
        "[[registry]]\nprefix = \"{}\"\n\n[[registry.mirror]]\nlocation = \"{dead}\"\ninsecure = true\n",
        origin.host()
    );
    let mirrors = write_mirrors(&work, &rule);
    sync_with(&work, Some(&mirrors), &[]).ok();
    assert_eq!(work.lock(), plain.lock());

    let only = Work::new();
    only.config(&config);
    let mirrors = write_mirrors(
        &only,
        &rule.replace("\n\n[[registry.mirror]]", "\nmirror-only = true\n\n[[registry.mirror]]"),
    );
    let out = sync_with(&only, Some(&mirrors), &[]);
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains(&dead), "the error names the mirror: {out:?}");
    assert!(!only.dir.join("vendir.lock.yml").exists());

    // A blocked registry is refused before any connection.
    let blocked = Work::new();
    blocked.config(&config);
    let mirrors = write_mirrors(
        &blocked,
        &format!("[[registry]]\nprefix = \"{}\"\nblocked = true\n", origin.host()),
    );
    let out = sync_with(&blocked, Some(&mirrors), &[]);
    assert!(!out.success(), "{out:?}");
    assert!(out.stderr.contains("blocked"), "{out:?}");
}

#[test]
fn a_bad_mirrors_file_is_a_positioned_error() {
    let work = Work::new();
    work.config(&oci_config("127.0.0.1:1", "app", "v1"));
    let mirrors = write_mirrors(
        &work,
        "[[registry]]\nprefix = \"a.io\"\n[[registry.mirror]]\nlocation = \"b.io\"\npull-from = \"all\"\n",
    );
    let out = sync_with(&work, Some(&mirrors), &[]);
    assert!(!out.success(), "{out:?}");
    let want = format!("{}:5:1", mirrors.display());
    assert!(out.stderr.contains(&want), "want {want}: {out:?}");
    assert!(out.stderr.contains("pull-from"), "{out:?}");
}
