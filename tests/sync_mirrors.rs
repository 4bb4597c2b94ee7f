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

/// The manifest digest of `repo:tag` and its layers' digests.
fn artifact_digests(r: &Registry, repo: &str, tag: &str) -> Vec<String> {
    let desc = run(oras()
        .args(["manifest", "fetch", "--plain-http", "--descriptor"])
        .arg(r.reference(repo, tag)))
    .ok()
    .stdout;
    let manifest = run(oras()
        .args(["manifest", "fetch", "--plain-http"])
        .arg(r.reference(repo, tag)))
    .ok()
    .stdout;
    let desc: serde_json::Value = serde_json::from_str(&desc).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let mut out = vec![desc["digest"].as_str().unwrap().to_string()];
    for l in manifest["layers"].as_array().unwrap() {
        out.push(l["digest"].as_str().unwrap().to_string());
    }
    out
}

/// Waits (up to a minute) until the proxy stored everything of `repo:tag` it
/// served: it fetches again from the origin in the background to store it.
fn wait_stored(proxy: &Registry, repo: &str, digests: &[String]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !proxy.stores(repo, digests) {
        assert!(
            std::time::Instant::now() < deadline,
            "the proxy did not store {digests:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
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
    assert_eq!(
        fleet.lock(),
        plain.lock(),
        "the lock must not name the mirror"
    );
    assert!(fleet.lock().contains(&origin.host()), "{}", fleet.lock());
    assert!(!fleet.lock().contains(&proxy.host()), "{}", fleet.lock());
    assert_same_tree(
        "through the mirror",
        "plain",
        &plain.tree("vendor"),
        "fleet",
        &fleet.tree("vendor"),
    );

    // The origin goes away. A fresh machine (own cache) with the fleet's lock
    // syncs --locked from the mirror alone; without the mirror it cannot.
    wait_stored(&proxy, "app", &artifact_digests(&origin, "app", "v1"));
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
        &rule.replace(
            "\n\n[[registry.mirror]]",
            "\nmirror-only = true\n\n[[registry.mirror]]",
        ),
    );
    let out = sync_with(&only, Some(&mirrors), &[]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains(&dead),
        "the error names the mirror: {out:?}"
    );
    assert!(!only.dir.join("vendir.lock.yml").exists());

    // A blocked registry is refused before any connection.
    let blocked = Work::new();
    blocked.config(&config);
    let mirrors = write_mirrors(
        &blocked,
        &format!(
            "[[registry]]\nprefix = \"{}\"\nblocked = true\n",
            origin.host()
        ),
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

// ---- http ------------------------------------------------------------------

fn http_config(url: &str, sha256: &str, secret: Option<&str>) -> String {
    let mut content = format!(
        "- path: vendor\n  contents:\n  - path: file\n    http:\n      url: {url}\n      sha256: {sha256}\n"
    );
    let mut docs = Vec::new();
    if let Some(pw) = secret {
        content.push_str("      secretRef:\n        name: web\n");
        docs.push(support::vendir::secret_doc(
            "web",
            &[("username", "webuser"), ("password", pw)],
        ));
    }
    support::vendir::vendir_config(&[content], &docs)
}

/// A directory with `rel` holding `data`, served as static files.
fn serve_file(rel: &str, data: &[u8]) -> (tempfile::TempDir, support::servers::HttpServer) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, data).unwrap();
    let server = support::servers::HttpServer::files(dir.path());
    (dir, server)
}

fn url_rule(prefix: &str, mirrors: &[String], mirror_only: bool) -> String {
    let mut s = format!("[[url]]\nprefix = \"{prefix}\"\nmirror-only = {mirror_only}\n");
    for m in mirrors {
        s.push_str(&format!("\n[[url.mirror]]\nlocation = \"{m}\"\n"));
    }
    s
}

#[test]
fn http_mirror_serves_with_checksum_checked_and_origin_in_lock() {
    let data = b"release notes\n".repeat(100);
    let sha = sha256_hex(&data);
    let (_o, origin) = serve_file("dl/notes.txt", &data);
    let (_m, mirror) = serve_file("cache/dl/notes.txt", &data);
    let (_b, bad) = serve_file("cache/dl/notes.txt", b"something else\n");
    let url = format!("{}/dl/notes.txt", origin.url());
    let config = http_config(&url, &sha, None);

    let plain = Work::new();
    plain.config(&config);
    sync_with(&plain, None, &[]).ok();

    // The mirror answers; the origin is not asked.
    origin.clear_log();
    let fleet = Work::new();
    fleet.config(&config);
    let rule = url_rule(
        &format!("{}/", origin.url()),
        &[format!("{}/cache/", mirror.url())],
        false,
    );
    let mirrors = write_mirrors(&fleet, &rule);
    sync_with(&fleet, Some(&mirrors), &[]).ok();
    assert_eq!(fleet.lock(), plain.lock());
    assert_same_tree(
        "http mirror",
        "plain",
        &plain.tree("vendor"),
        "fleet",
        &fleet.tree("vendor"),
    );
    assert_eq!(
        mirror.count("/cache/dl/notes.txt"),
        1,
        "{}",
        mirror.log_text()
    );
    assert_eq!(origin.count("/dl/notes.txt"), 0, "{}", origin.log_text());

    // A mirror sending other bytes is passed over: the origin's are taken.
    let next = Work::new();
    next.config(&config);
    let rule = url_rule(
        &format!("{}/", origin.url()),
        &[format!("{}/cache/", bad.url())],
        false,
    );
    let mirrors = write_mirrors(&next, &rule);
    sync_with(&next, Some(&mirrors), &[]).ok();
    assert_eq!(next.lock(), plain.lock());
    assert_eq!(
        fs::read(next.dir.join("vendor/file/notes.txt")).unwrap(),
        data
    );
    assert_eq!(bad.count("/cache/dl/notes.txt"), 1, "{}", bad.log_text());

    // ... and with mirror-only, it is a checksum error, nothing written.
    let only = Work::new();
    only.config(&config);
    let mirrors = write_mirrors(
        &only,
        &rule.replace("mirror-only = false", "mirror-only = true"),
    );
    let out = sync_with(&only, Some(&mirrors), &[]);
    assert!(!out.success(), "{out:?}");
    assert!(
        out.stderr.contains(&sha),
        "names the expected checksum: {out:?}"
    );
    assert!(!only.dir.join("vendor").exists());
}

#[test]
fn http_credentials_go_only_to_the_origin() {
    let data = b"private\n".to_vec();
    let sha = sha256_hex(&data);
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("p")).unwrap();
    fs::write(dir.path().join("p/f.txt"), &data).unwrap();
    let origin = support::servers::HttpServer::start_with_basic_auth(
        support::servers::static_files(dir.path()),
        "webuser",
        "Mirror-Pa55",
    );
    // The mirror has nothing: every request is a 404, and logged.
    let (_m, mirror) = serve_file("other.txt", b"x");
    let config = http_config(
        &format!("{}/p/f.txt", origin.url()),
        &sha,
        Some("Mirror-Pa55"),
    );
    let work = Work::new();
    work.config(&config);
    let mirrors = write_mirrors(
        &work,
        &url_rule(
            &format!("{}/", origin.url()),
            &[format!("{}/", mirror.url())],
            false,
        ),
    );
    sync_with(&work, Some(&mirrors), &[]).ok();
    assert_eq!(fs::read(work.dir.join("vendor/file/f.txt")).unwrap(), data);
    let asked = mirror.log();
    assert_eq!(asked.len(), 1, "{}", mirror.log_text());
    assert!(
        asked.iter().all(|l| l.authorization.is_none()),
        "credentials reached the mirror: {}",
        mirror.log_text()
    );
    assert!(origin.log().iter().any(|l| l.authorization.is_some()));
}

// ---- git -------------------------------------------------------------------

#[test]
fn git_mirror_serves_when_origin_is_down_and_lock_names_origin() {
    use support::fixtures::{git, GitRepo};
    let tmp = tempfile::tempdir().unwrap();
    let origin_root = tmp.path().join("origin");
    let mirror_root = tmp.path().join("mirror");
    let repo = GitRepo::init(&tmp.path().join("src/app"));
    repo.commit(&[("README.md", b"app v1\n")], "first commit");
    repo.tag_annotated("v1.0.0", "release 1");
    repo.commit(&[("README.md", b"app v2\n")], "second commit");
    let bare = repo.publish(&origin_root.join("app.git"));
    fs::create_dir_all(mirror_root.join("gh")).unwrap();
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--mirror",
            &bare.display().to_string(),
            &mirror_root.join("gh/app.git").display().to_string(),
        ],
    );
    let origin = support::servers::GitDaemon::start(&origin_root);
    let mirror = support::servers::GitDaemon::start(&mirror_root);
    let config = support::vendir::vendir_config(
        &[format!(
            "- path: vendor\n  contents:\n  - path: app\n    git:\n      url: {}/app.git\n      ref: v1.0.0\n  - path: main\n    git:\n      url: {}/app.git\n      ref: origin/main\n      depth: 1\n",
            origin.url(),
            origin.url()
        )],
        &[],
    );

    let plain = Work::new();
    plain.config(&config);
    sync_with(&plain, None, &[]).ok();

    // A dead mirror hands over to the origin (for ls-remote and fetch).
    let dead = format!("git://127.0.0.1:{}/", free_port());
    let fallback = Work::new();
    fallback.config(&config);
    let mirrors = write_mirrors(
        &fallback,
        &url_rule(&format!("{}/", origin.url()), &[dead], false),
    );
    sync_with(&fallback, Some(&mirrors), &[]).ok();
    assert_eq!(fallback.lock(), plain.lock());

    let rule = url_rule(
        &format!("{}/", origin.url()),
        &[format!("{}/gh/", mirror.url())],
        false,
    );
    drop(origin);
    let fleet = Work::new();
    fleet.config(&config);
    let alone = sync_with(&fleet, None, &[]);
    assert!(!alone.success(), "origin is down, yet: {alone:?}");
    let mirrors = write_mirrors(&fleet, &rule);
    sync_with(&fleet, Some(&mirrors), &[]).ok();
    assert_eq!(
        fleet.lock(),
        plain.lock(),
        "the lock must not name the mirror"
    );
    assert_same_tree(
        "git mirror",
        "plain",
        &checkout(&plain),
        "fleet",
        &checkout(&fleet),
    );

    let locked = Work::new();
    locked.config(&config);
    fs::write(locked.dir.join("vendir.lock.yml"), plain.lock()).unwrap();
    let mirrors = write_mirrors(&locked, &rule);
    sync_with(&locked, Some(&mirrors), &["--locked"]).ok();
    assert_eq!(locked.lock(), plain.lock());
    assert_same_tree(
        "git mirror --locked",
        "plain",
        &checkout(&plain),
        "locked",
        &checkout(&locked),
    );
}

/// The checked-out files with `.git/HEAD` and `.git/config` (which must name the
/// origin, not the mirror); the rest of `.git` holds timestamps and fetch logs.
fn checkout(work: &Work) -> Tree {
    let mut t = work.tree("vendor");
    t.retain(|p, _| {
        !p.contains("/.git/") || p.ends_with("/.git/HEAD") || p.ends_with("/.git/config")
    });
    t
}

#[test]
fn a_blob_missing_on_the_mirror_comes_from_the_origin() {
    let origin = Registry::start();
    push_text(&origin, "app", "v1", "layer kept only at the origin\n");
    // The mirror holds the same manifest (copied, so the digests match) but
    // loses the layer blob: it resolves, then 404s on the blob.
    let mirror = Registry::start();
    run(oras()
        .args(["cp", "--from-plain-http", "--to-plain-http"])
        .arg(origin.reference("app", "v1"))
        .arg(mirror.reference("app", "v1")))
    .ok();
    let manifest: serde_json::Value = serde_json::from_str(
        &run(oras()
            .args(["manifest", "fetch", "--plain-http"])
            .arg(mirror.reference("app", "v1")))
        .ok()
        .stdout,
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let deleted = run(std::process::Command::new("curl").args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--noproxy",
        "*",
        "-X",
        "DELETE",
        &format!("{}/v2/app/blobs/{layer}", mirror.url()),
    ]))
    .ok();
    assert_eq!(deleted.stdout.trim(), "202", "{deleted:?}");

    let config = oci_config(&origin.host(), "app", "v1");
    let plain = Work::new();
    plain.config(&config);
    sync_with(&plain, None, &[]).ok();

    let work = Work::new();
    work.config(&config);
    let mirrors = write_mirrors(
        &work,
        &format!(
            "[[registry]]\nprefix = \"{}\"\n\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            origin.host(),
            mirror.host()
        ),
    );
    sync_with(&work, Some(&mirrors), &[]).ok();
    assert_eq!(work.lock(), plain.lock());
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/app/app.txt")).unwrap(),
        "layer kept only at the origin\n"
    );
}

// ---- pull ------------------------------------------------------------------

#[test]
fn pull_goes_through_the_proxy_and_keeps_static_credentials_for_their_registry() {
    // Through the proxy after the origin stopped.
    let origin = Registry::start();
    push_text(&origin, "app", "v1", "pulled through the cache\n");
    let proxy = Registry::start_proxy(&origin.url());
    let tmp = tempfile::tempdir().unwrap();
    let mirrors = tmp.path().join("mirrors.toml");
    fs::write(
        &mirrors,
        format!(
            "[[registry]]\nprefix = \"{}\"\n\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            origin.host(),
            proxy.host()
        ),
    )
    .unwrap();
    let first = tmp.path().join("first");
    run(vendoras()
        .env_remove("VENDORAS_MIRRORS")
        .args(["pull", "--plain-http", "--mirrors"])
        .arg(&mirrors)
        .arg(origin.reference("app", "v1"))
        .arg("-o")
        .arg(&first))
    .ok();
    let digests = artifact_digests(&origin, "app", "v1");
    let by_digest = origin.reference("app", &digests[0]);
    wait_stored(&proxy, "app", &digests);
    drop(origin);
    let again = tmp.path().join("again");
    run(vendoras()
        .env("VENDORAS_MIRRORS", &mirrors)
        .args(["pull", "--plain-http"])
        .arg(&by_digest)
        .arg("-o")
        .arg(&again))
    .ok();
    assert_eq!(
        fs::read_to_string(again.join("app.txt")).unwrap(),
        "pulled through the cache\n"
    );

    // A mirror that asks for credentials gets none of `-u/-p` (given for the
    // origin): it answers 401 and the origin serves.
    let secure = Registry::start_secure();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("s.txt"), "secret stuff\n").unwrap();
    let mut push = oras();
    push.current_dir(src.path())
        .arg("push")
        .args(secure.access_flags())
        .arg(secure.reference("private", "v1"))
        .arg("s.txt");
    run(&mut push).ok();
    let asking = support::servers::HttpServer::start(std::sync::Arc::new(|_req| {
        support::servers::HttpResponse::new(401, "application/json", "{}")
            .with_header("WWW-Authenticate", "Basic realm=\"mirror\"")
    }));
    let secure_host = secure.host();
    // `localhost`: plain HTTP by oras's rule (a TLS probe of `insecure` would
    // wait on this test server, which never answers a ClientHello).
    fs::write(
        &mirrors,
        format!(
            "[[registry]]\nprefix = \"{secure_host}\"\n\n[[registry.mirror]]\nlocation = \"localhost:{}\"\n",
            asking.addr().port()
        ),
    )
    .unwrap();
    let out = tmp.path().join("secure");
    run(vendoras()
        .env_remove("VENDORAS_MIRRORS")
        .arg("pull")
        .args(secure.access_flags())
        .arg("--mirrors")
        .arg(&mirrors)
        .arg(format!("{secure_host}/private:v1"))
        .arg("-o")
        .arg(&out))
    .ok();
    assert_eq!(
        fs::read_to_string(out.join("s.txt")).unwrap(),
        "secret stuff\n"
    );
    let asked = asking.log();
    assert!(!asked.is_empty(), "the mirror was not tried");
    assert!(
        asked.iter().all(|l| l.authorization.is_none()),
        "credentials reached the mirror: {}",
        asking.log_text()
    );
}

#[test]
fn helm_chart_repository_mirror_serves_index_and_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = support::fixtures::helm_repo(tmp.path(), &[("demo", "0.1.0", "1.0")]);
    let mirror_root = tmp.path().join("mirror");
    fs::create_dir_all(mirror_root.join("charts")).unwrap();
    for e in fs::read_dir(&repo).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), mirror_root.join("charts").join(e.file_name())).unwrap();
    }
    let origin = support::servers::HttpServer::files(&repo);
    let mirror = support::servers::HttpServer::files(&mirror_root);
    let config = support::vendir::vendir_config(
        &[format!(
            "- path: vendor\n  contents:\n  - path: demo\n    helmChart:\n      name: demo\n      repository:\n        url: {}\n",
            origin.url()
        )],
        &[],
    );
    let plain = Work::new();
    plain.config(&config);
    sync_with(&plain, None, &[]).ok();

    let rule = url_rule(
        &format!("{}/", origin.url()),
        &[format!("{}/charts/", mirror.url())],
        false,
    );
    drop(origin);
    let fleet = Work::new();
    fleet.config(&config);
    let alone = sync_with(&fleet, None, &[]);
    assert!(!alone.success(), "origin is down, yet: {alone:?}");
    let mirrors = write_mirrors(&fleet, &rule);
    sync_with(&fleet, Some(&mirrors), &[]).ok();
    assert_eq!(fleet.lock(), plain.lock());
    assert_same_tree(
        "helm mirror",
        "plain",
        &plain.tree("vendor"),
        "fleet",
        &fleet.tree("vendor"),
    );
    assert_eq!(
        mirror.count("/charts/index.yaml"),
        1,
        "{}",
        mirror.log_text()
    );
    assert_eq!(
        mirror.count("/charts/demo-0.1.0.tgz"),
        1,
        "{}",
        mirror.log_text()
    );
}

#[test]
fn an_image_moved_to_a_tls_location_stays_on_tls_after_its_registry_answered_plain() {
    // `image:` remembers for the sync that a registry answered in plain HTTP,
    // so its other repositories skip the HTTPS attempt (fetch/image.rs). A
    // rule's `location` moves one prefix's primary location to another
    // server, here a TLS one: it must not inherit the written registry's
    // plain HTTP answer.
    let registry = Registry::start();
    let ca = support::servers::TestCa::new(&["IP:127.0.0.1"]);
    let tls = support::servers::TlsFront::start(registry.addr(), &ca);
    let mut contents = Vec::new();
    for repo in ["plain/a", "moved/b"] {
        let layer = support::fixtures::tar_of(&[("f.txt", repo.as_bytes())]).finish();
        support::fixtures::crane_image(&registry.reference(repo, "v1"), &[layer], None);
        contents.push(support::vendir::one_content(
            &format!("vendor/{repo}"),
            &format!(
                "image:\n  url: {}\n  dangerousSkipTLSVerify: true\n",
                registry.reference(repo, "v1")
            ),
        ));
    }
    let w = Work::new();
    w.config(&support::vendir::vendir_config(&contents, &[]));
    let mirrors = write_mirrors(
        &w,
        &format!(
            "[[registry]]\nprefix = \"{}/moved\"\nlocation = \"127.0.0.1:{}/moved\"\n",
            registry.host(),
            tls.port()
        ),
    );
    // One job, in order: plain/a answers in plain HTTP before moved/b is asked.
    sync_with(&w, Some(&mirrors), &["--jobs", "1"]).ok();
    for repo in ["plain/a", "moved/b"] {
        assert_eq!(
            fs::read(w.dir.join(format!("vendor/{repo}/f.txt"))).unwrap(),
            repo.as_bytes()
        );
    }
    // moved/b has no other place than the TLS front: it was reached over TLS.
}
