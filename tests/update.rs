//! `vendoras update` against a loopback registry and git daemon: the reference is
//! rewritten in place (every byte outside the edited scalar kept: comments, quoting,
//! flow style, anchors, the other document), then only the moved contents are synced
//! and relocked, while contents that float (a `latest` tag, a branch) keep their pins.
//! Also a githubRelease tag and a helm chart version (stand-in GitHub API, static chart
//! repository).

mod support;

use std::fs;

use support::fixtures::*;
use support::servers::*;
use support::sync::{oras_push_text as push, Work};
use support::*;

fn config(host: &str, git: &str) -> String {
    format!(
        r#"# Vendored things, kept current by `vendoras update`.
apiVersion: v1
kind: Secret
metadata:
  name: unused   # a document before the config
data: {{}}
---
apiVersion: vendir.k14s.io/v1alpha1   # the config
kind: Config
directories:
- path: vendor
  contents:
  - path: app        # exact tag, double-quoted
    ociArtifact:
      plainHTTP: &plain true
      image: {host}/app
      tag: "v1.0.0"    # bump me
  - path: img
    ociArtifact: {{image: '{host}/app:v1.0.0', plainHTTP: *plain}}
  - path: moving
    ociArtifact:
      image: {host}/moving:latest
      plainHTTP: *plain
  - path: branch
    git:
      url: {git}/app.git
      ref: origin/main
  - path: tagged
    git:
      ref: 'v1.0.0'
      url: {git}/app.git
"#
    )
}

fn update(work: &Work, args: &[&str]) -> Outcome {
    run(vendoras()
        .current_dir(&work.dir)
        .args(["update", "--cache-dir"])
        .arg(&work.cache)
        .args(args))
}

fn read_config(work: &Work) -> String {
    fs::read_to_string(work.dir.join("vendir.yml")).unwrap()
}

fn entry(work: &Work, path: &str) -> vendoras::lock::LockContent {
    vendoras::lock::LockConfig::read(&work.dir.join("vendir.lock.yml"))
        .unwrap()
        .unwrap()
        .content("vendor", path)
        .unwrap()
        .clone()
}

#[test]
fn update_edits_only_the_reference_and_relocks_only_what_moved() {
    let registry = Registry::start();
    let host = registry.host();
    push(&registry, "app", "v1.0.0", "app 1.0\n");
    push(&registry, "app", "v1.1.0", "app 1.1\n");
    let v2 = push(&registry, "app", "v2.0.0", "app 2.0\n");
    let first = push(&registry, "moving", "latest", "moving first\n");
    let git_root = tempfile::tempdir().unwrap();
    let fixture = GitFixture::build(git_root.path());
    let daemon = GitDaemon::start(git_root.path());

    let work = Work::new();
    let original = config(&host, &daemon.url());
    work.config(&original);
    work.sync(&[]).ok();
    let branch_before = entry(&work, "branch");

    // Upstream moves on.
    push(&registry, "moving", "latest", "moving second\n");
    fixture.advance_main("moved upstream");

    // A dry run changes nothing.
    let dry = update(&work, &["--dry-run", "--latest", "vendor/app"]).ok();
    assert!(
        dry.stdout.contains("vendor/app: v1.0.0 → v2.0.0 (dry run)"),
        "{dry:?}"
    );
    assert_eq!(read_config(&work), original);

    // Two contents to the newest release.
    let out = update(&work, &["--latest", "vendor/app", "vendor/img"]).ok();
    let expected = original
        .replace("tag: \"v1.0.0\"", "tag: \"v2.0.0\"")
        .replace(
            &format!("'{host}/app:v1.0.0'"),
            &format!("'{host}/app:v2.0.0'"),
        );
    assert_eq!(
        read_config(&work),
        expected,
        "byte for byte outside the edited scalars"
    );
    assert!(
        out.stdout
            .contains(&format!("vendor/app: v1.0.0 → v2.0.0 ({v2})")),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("vendor/img: v1.0.0 → v2.0.0 ({v2})")),
        "{out:?}"
    );
    for path in ["app", "img"] {
        assert_eq!(
            entry(&work, path).oci_artifact.unwrap().url,
            format!("{host}/app@{v2}")
        );
        assert_eq!(
            fs::read_to_string(work.dir.join(format!("vendor/{path}/file.txt"))).unwrap(),
            "app 2.0\n"
        );
    }
    // The floating ones keep their pins and their trees.
    assert!(entry(&work, "moving")
        .oci_artifact
        .unwrap()
        .url
        .ends_with(&first));
    assert_eq!(entry(&work, "branch"), branch_before);
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/moving/file.txt")).unwrap(),
        "moving first\n"
    );

    // A git tag, single-quoted, to a named version.
    let before = read_config(&work);
    let out = update(&work, &["vendor/tagged", "--to", "v1.1.0"]).ok();
    assert_eq!(
        read_config(&work),
        before.replace("ref: 'v1.0.0'", "ref: 'v1.1.0'")
    );
    let sha = &fixture.commits["second"];
    assert!(
        out.stdout
            .contains(&format!("vendor/tagged: v1.0.0 → v1.1.0 ({sha})")),
        "{out:?}"
    );
    assert_eq!(&entry(&work, "tagged").git.unwrap().sha, sha);
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/tagged/README.md")).unwrap(),
        "app v1.1\n"
    );

    // Exact references without --latest are where they want to be.
    let none = update(&work, &["vendor/app"]).ok();
    assert!(none.stdout.contains("Nothing to update"), "{none:?}");

    // A version that does not exist: the sync fails and the config is put back.
    let before = read_config(&work);
    let lock_before = work.lock();
    let bad = update(&work, &["vendor/app", "--to", "v9.9.9"]);
    assert_eq!(bad.code(), Some(1), "{bad:?}");
    assert!(
        bad.stderr.contains("vendir.yml is back as it was"),
        "{bad:?}"
    );
    assert_eq!(read_config(&work), before);
    assert_eq!(work.lock(), lock_before);
}

#[test]
fn a_reference_behind_an_alias_is_refused_naming_the_anchor() {
    let registry = Registry::start();
    let host = registry.host();
    push(&registry, "app", "v1.0.0", "app 1.0\n");
    push(&registry, "app", "v1.1.0", "app 1.1\n");
    let work = Work::new();
    let text = format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor\n  contents:\n  - path: a\n    ociArtifact:\n      image: {host}/app\n      tag: &t v1.0.0\n      plainHTTP: true\n  - path: b\n    ociArtifact:\n      image: {host}/app\n      tag: *t\n      plainHTTP: true\n"
    );
    work.config(&text);
    let out = update(&work, &["vendor/b", "--to", "v1.1.0"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("alias") && out.stderr.contains("vendor/b"),
        "{out:?}"
    );
    assert_eq!(read_config(&work), text);
}

/// A chart archive as `helm package` lays it out (`demo/Chart.yaml`, ...), made
/// with tar: what vendoras reads is the same.
fn chart_tgz(version: &str) -> Vec<u8> {
    let chart =
        format!("apiVersion: v2\nname: demo\nversion: {version}\nappVersion: \"{version}\"\n");
    let values = format!("greeting: hello from {version}\n");
    tar_of(&[
        ("demo/Chart.yaml", chart.as_bytes()),
        ("demo/values.yaml", values.as_bytes()),
    ])
    .finish_gz()
}

#[test]
fn update_moves_a_github_release_tag_and_a_chart_version() {
    let github = FakeGithub::start(None);
    for tag in ["v1.2.0", "v1.3.0"] {
        github.add_release(
            "acme/tool",
            FakeRelease::new(tag).asset("tool.txt", format!("tool {tag}\n").into_bytes()),
        );
    }
    let site = tempfile::tempdir().unwrap();
    let mut index = String::from("apiVersion: v1\nentries:\n  demo:\n");
    for v in ["0.2.0", "0.1.0"] {
        fs::write(site.path().join(format!("demo-{v}.tgz")), chart_tgz(v)).unwrap();
        index.push_str(&format!(
            "  - apiVersion: v2\n    name: demo\n    version: {v}\n    urls:\n    - demo-{v}.tgz\n"
        ));
    }
    fs::write(site.path().join("index.yaml"), index).unwrap();
    let charts = HttpServer::files(site.path());

    let work = Work::new();
    let original = format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor\n  contents:\n  \
         - path: release\n    githubRelease:\n      slug: acme/tool\n      tag: v1.2.0   # pinned\n      \
         disableAutoChecksumValidation: true\n  - path: chart\n    helmChart:\n      name: demo\n      \
         version: \"0.1.0\"\n      repository:\n        url: {}/\n",
        charts.url()
    );
    work.config(&original);
    let with_github = |cmd: &mut std::process::Command| {
        cmd.env("GITHUB_API_URL", github.api_url())
            .env_remove("GITHUB_TOKEN")
            .env_remove("VENDIR_GITHUB_API_TOKEN");
    };
    let mut sync = work.cmd(&[]);
    with_github(&mut sync);
    run(&mut sync).ok();

    let mut cmd = vendoras();
    cmd.current_dir(&work.dir)
        .args(["update", "--latest", "--cache-dir"])
        .arg(&work.cache);
    with_github(&mut cmd);
    let out = run(&mut cmd).ok();
    assert_eq!(
        read_config(&work),
        original
            .replace("tag: v1.2.0   # pinned", "tag: v1.3.0   # pinned")
            .replace("version: \"0.1.0\"", "version: \"0.2.0\"")
    );
    assert!(
        out.stdout
            .contains("vendor/release: v1.2.0 → v1.3.0 (v1.3.0)"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("vendor/chart: 0.1.0 → 0.2.0 (0.2.0)"),
        "{out:?}"
    );
    assert_eq!(
        entry(&work, "release").github_release.unwrap().tag,
        "v1.3.0"
    );
    assert_eq!(entry(&work, "chart").helm_chart.unwrap().version, "0.2.0");
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/release/tool.txt")).unwrap(),
        "tool v1.3.0\n"
    );
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/chart/values.yaml")).unwrap(),
        "greeting: hello from 0.2.0\n"
    );
}

/// An image as `crane append` makes it: one layer holding `file.txt`.
fn push_image(registry: &Registry, repo: &str, tag: &str, text: &str) -> String {
    crane_image(
        &registry.reference(repo, tag),
        &[tar_of(&[("file.txt", text.as_bytes())]).finish()],
        None,
    )
}

#[test]
fn update_moves_an_image_url_a_bundle_image_and_an_hg_ref() {
    let registry = Registry::start();
    let host = registry.host();
    push_image(&registry, "img/app", "1.0.0", "image 1.0\n");
    let image_new = push_image(&registry, "img/app", "1.1.0", "image 1.1\n");
    let bundle = |tag: &str, text: &str| {
        push_bundle(
            &registry.reference("bundles/app", tag),
            &[("config.yml", text.as_bytes())],
            &[],
        )
    };
    bundle("1.0.0", "bundle: 1.0\n");
    let bundle_new = bundle("1.1.0", "bundle: 1.1\n");
    let hg_root = tempfile::tempdir().unwrap();
    let fx = HgFixture::build(&hg_root.path().join("repo"));
    let second = fx.changesets["second"].clone();
    hg(
        &fx.repo,
        &[
            "tag",
            "-m",
            "tag v1.1.0",
            "-r",
            &second,
            "v1.1.0",
            "-d",
            "1704164645 0",
        ],
    );
    let server = HgServe::start(&fx.repo);

    let work = Work::new();
    let original = format!(
        r#"apiVersion: vendir.k14s.io/v1alpha1
kind: Config
directories:
- path: vendor
  contents:
  # An image by URL, a comment after it.
  - path: image
    image:
      url: {host}/img/app:1.0.0   # bump me
  - path: bundle
    imgpkgBundle: {{ image: "{host}/bundles/app:1.0.0" }}
  - path: hg
    hg:
      ref: 'v1.0.0'
      url: {url}
"#,
        url = server.url()
    );
    work.config(&original);
    work.sync(&[]).ok();
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/image/file.txt")).unwrap(),
        "image 1.0\n"
    );
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/hg/README.md")).unwrap(),
        "hg v1\n"
    );

    let out = update(&work, &["--latest"]).ok();
    assert_eq!(
        read_config(&work),
        original
            .replace(
                &format!("url: {host}/img/app:1.0.0   # bump me"),
                &format!("url: {host}/img/app:1.1.0   # bump me"),
            )
            .replace(
                &format!("\"{host}/bundles/app:1.0.0\""),
                &format!("\"{host}/bundles/app:1.1.0\""),
            )
            .replace("ref: 'v1.0.0'", "ref: 'v1.1.0'"),
        "byte for byte outside the edited scalars"
    );
    for line in [
        format!("vendor/image: 1.0.0 → 1.1.0 ({image_new})"),
        format!("vendor/bundle: 1.0.0 → 1.1.0 ({bundle_new})"),
        format!("vendor/hg: v1.0.0 → v1.1.0 ({second})"),
    ] {
        assert!(out.stdout.contains(&line), "{line}\n{out:?}");
    }

    let image = entry(&work, "image").image.unwrap();
    assert_eq!(image.url, format!("{host}/img/app@{image_new}"));
    assert_eq!(image.tag.as_deref(), Some("1.1.0"));
    let bundle = entry(&work, "bundle").imgpkg_bundle.unwrap();
    assert_eq!(bundle.image, format!("{host}/bundles/app@{bundle_new}"));
    assert_eq!(entry(&work, "hg").hg.unwrap().sha, second);

    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/image/file.txt")).unwrap(),
        "image 1.1\n"
    );
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/bundle/config.yml")).unwrap(),
        "bundle: 1.1\n"
    );
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/hg/README.md")).unwrap(),
        "hg v2\n"
    );

    // Now current: nothing moves, nothing is written.
    let before = read_config(&work);
    let none = update(&work, &["--latest"]).ok();
    assert!(none.stdout.contains("Nothing to update"), "{none:?}");
    assert_eq!(read_config(&work), before);
}

#[test]
fn a_tagless_image_url_gets_the_tag_it_moves_to() {
    let registry = Registry::start();
    let host = registry.host();
    push_image(&registry, "img/app", "latest", "image latest\n");
    let new = push_image(&registry, "img/app", "1.1.0", "image 1.1\n");
    let work = Work::new();
    let original = format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor\n  contents:\n  - path: image\n    image:\n      url: \"{host}/img/app\"  # no tag: latest\n"
    );
    work.config(&original);
    work.sync(&[]).ok();
    let out = update(&work, &["--latest", "vendor/image"]).ok();
    assert_eq!(
        read_config(&work),
        original.replace(
            &format!("\"{host}/img/app\""),
            &format!("\"{host}/img/app:1.1.0\"")
        )
    );
    assert!(
        out.stdout
            .contains(&format!("vendor/image: latest → 1.1.0 ({new})")),
        "{out:?}"
    );
    assert_eq!(
        entry(&work, "image").image.unwrap().url,
        format!("{host}/img/app@{new}")
    );
    assert_eq!(
        fs::read_to_string(work.dir.join("vendor/image/file.txt")).unwrap(),
        "image 1.1\n"
    );
}
