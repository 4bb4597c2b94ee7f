//! `vendoras outdated` against real servers on loopback, one content of every kind with
//! a movable reference: ociArtifact (exact tag and `tagSelection`, one repository),
//! image and imgpkgBundle (registry tags), helmChart from a chart repository's index
//! and from OCI tags, git (a tag and a branch, git daemon), hg (hg serve), githubRelease
//! (the GitHub stand-in), and http (pinned by URL).

mod support;

use std::fs;

use serde_json::Value;
use support::fixtures::*;
use support::servers::*;
use support::sync::{oras_push_tag, Work};
use support::vendir::vendir_config;
use support::*;

struct Upstreams {
    _tmp: tempfile::TempDir,
    registry: Registry,
    git: GitDaemon,
    hg: HgServe,
    github: FakeGithub,
    charts: HttpServer,
    files: HttpServer,
}

impl Upstreams {
    fn start() -> Upstreams {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::start();
        for tag in ["v1.0.0", "v1.1.0", "v2.0.0-rc.1", "latest"] {
            oras_push_tag(&registry, "app", tag);
        }
        // `outdated` reads tag lists only: what the tags hold does not matter.
        for tag in ["1.0.0", "1.1.0"] {
            oras_push_tag(&registry, "img/app", tag);
            oras_push_tag(&registry, "bundles/app", tag);
        }
        for tag in ["0.1.0", "0.3.0"] {
            oras_push_tag(&registry, "charts/demo", tag);
        }
        GitFixture::build(&tmp.path().join("git"));
        let git = GitDaemon::start(&tmp.path().join("git"));
        let hg_fx = HgFixture::build(&tmp.path().join("hg"));
        hg(
            &hg_fx.repo,
            &[
                "tag",
                "-m",
                "tag v1.1.0",
                "-r",
                &hg_fx.changesets["second"],
                "v1.1.0",
                "-d",
                "1704164645 0",
            ],
        );
        let hg = HgServe::start(&hg_fx.repo);
        let github = FakeGithub::start(None);
        for r in [
            FakeRelease::new("v1.2.0"),
            FakeRelease::new("v1.3.0"),
            FakeRelease::new("v2.0.0-rc.1").prerelease(),
        ] {
            github.add_release("acme/tool", r.asset("tool.txt", b"tool\n".to_vec()));
        }
        // A chart repository's index as `helm repo index` writes it (only the
        // index is read).
        let repo = tmp.path().join("charts");
        fs::create_dir_all(&repo).unwrap();
        let mut index = String::from("apiVersion: v1\nentries:\n  demo:\n");
        for (v, app) in [("0.2.0", "2.0"), ("0.3.0-rc.1", "3.0"), ("0.1.0", "1.0")] {
            index.push_str(&format!(
                "  - apiVersion: v2\n    appVersion: \"{app}\"\n    name: demo\n    urls:\n    - demo-{v}.tgz\n    version: {v}\n"
            ));
        }
        fs::write(repo.join("index.yaml"), index).unwrap();
        let charts = HttpServer::files(&repo);
        let site = tmp.path().join("site");
        fs::create_dir_all(&site).unwrap();
        fs::write(site.join("a.txt"), "a\n").unwrap();
        let files = HttpServer::files(&site);
        Upstreams {
            _tmp: tmp,
            registry,
            git,
            hg,
            github,
            charts,
            files,
        }
    }

    fn config(&self) -> String {
        let host = self.registry.host();
        let contents = [
            ("oci", format!("ociArtifact:\n  image: {host}/app\n  tag: v1.0.0\n  plainHTTP: true")),
            (
                "oci-range",
                format!(
                    "ociArtifact:\n  image: {host}/app\n  plainHTTP: true\n  tagSelection:\n    semver:\n      constraints: \">=1.0.0 <2.0.0\""
                ),
            ),
            ("oci-pre", format!("ociArtifact:\n  image: {host}/app\n  plainHTTP: true\n  tagSelection:\n    semver:\n      constraints: \">=1.0.0\"\n      prereleases: {{}}")),
            ("oci-latest", format!("ociArtifact:\n  image: {host}/app:latest\n  plainHTTP: true")),
            ("image", format!("image:\n  url: {host}/img/app:1.0.0")),
            ("bundle", format!("imgpkgBundle:\n  image: {host}/bundles/app:1.1.0")),
            (
                "chart",
                format!("helmChart:\n  name: demo\n  version: 0.1.0\n  repository:\n    url: {}/", self.charts.url()),
            ),
            (
                "chart-oci",
                format!("helmChart:\n  name: demo\n  version: 0.1.0\n  repository:\n    url: oci://{host}/charts"),
            ),
            ("git", format!("git:\n  url: {}/app.git\n  ref: v1.0.0", self.git.url())),
            ("git-main", format!("git:\n  url: {}/app.git\n  ref: origin/main", self.git.url())),
            ("hg", format!("hg:\n  url: {}\n  ref: v1.0.0", self.hg.url())),
            ("release", "githubRelease:\n  slug: acme/tool\n  tag: v1.2.0\n  disableAutoChecksumValidation: true".to_string()),
            ("release-latest", "githubRelease:\n  slug: acme/tool\n  latest: true\n  disableAutoChecksumValidation: true".to_string()),
            ("http", format!("http:\n  url: {}/a.txt", self.files.url())),
            ("manual", "manual: {}".to_string()),
        ];
        let mut dir = String::from("- path: vendor\n  contents:\n");
        for (path, source) in contents {
            dir.push_str(&format!("  - path: {path}\n"));
            for l in source.lines() {
                dir.push_str(&format!("    {l}\n"));
            }
        }
        vendir_config(&[dir], &[])
    }
}

fn outdated(work: &Work, github: &FakeGithub, args: &[&str]) -> Outcome {
    let mut cmd = vendoras();
    cmd.current_dir(&work.dir)
        .env("GITHUB_API_URL", github.api_url())
        .env_remove("GITHUB_TOKEN")
        .env_remove("VENDIR_GITHUB_API_TOKEN")
        .args(["outdated", "--cache-dir"])
        .arg(&work.cache)
        .args(args);
    run(&mut cmd)
}

fn parse_rows(out: &Outcome) -> Vec<Value> {
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {out:?}"))
        .as_array()
        .unwrap()
        .clone()
}

fn row<'a>(rows: &'a [Value], path: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["path"] == format!("vendor/{path}"))
        .unwrap_or_else(|| panic!("no row for {path}: {rows:#?}"))
}

#[track_caller]
fn expect(
    rows: &[Value],
    path: &str,
    kind: &str,
    current: &str,
    wanted: Option<&str>,
    latest: Option<&str>,
    outdated: bool,
) {
    let r = row(rows, path);
    assert_eq!(r["kind"], kind, "{path}: {r:#}");
    assert_eq!(r["current"], current, "{path}: {r:#}");
    assert_eq!(r["wanted"].as_str(), wanted, "{path}: {r:#}");
    assert_eq!(r["latest"].as_str(), latest, "{path}: {r:#}");
    assert_eq!(r["outdated"], outdated, "{path}: {r:#}");
    assert!(r["error"].is_null(), "{path}: {r:#}");
}

#[test]
fn every_kind_reports_current_wanted_and_latest_from_its_server() {
    let up = Upstreams::start();
    let work = Work::new();
    work.config(&up.config());
    // Lock two contents: the range resolves to v1.1.0.
    let mut sync = work.cmd(&["-d", "vendor/oci-range", "-d", "vendor/git-main"]);
    run(&mut sync).ok();

    let out = outdated(&work, &up.github, &["--json"]).ok();
    let rows = parse_rows(&out);
    expect(
        &rows,
        "oci",
        "ociArtifact",
        "v1.0.0",
        Some("v1.0.0"),
        Some("v1.1.0"),
        true,
    );
    expect(
        &rows,
        "oci-range",
        "ociArtifact",
        ">=1.0.0 <2.0.0",
        Some("v1.1.0"),
        Some("v1.1.0"),
        false,
    );
    assert_eq!(row(&rows, "oci-range")["locked"], "v1.1.0");
    expect(
        &rows,
        "oci-pre",
        "ociArtifact",
        ">=1.0.0",
        Some("v2.0.0-rc.1"),
        Some("v2.0.0-rc.1"),
        false,
    );
    expect(
        &rows,
        "oci-latest",
        "ociArtifact",
        "latest",
        Some("latest"),
        Some("v1.1.0"),
        false,
    );
    expect(
        &rows,
        "image",
        "image",
        "1.0.0",
        Some("1.0.0"),
        Some("1.1.0"),
        true,
    );
    expect(
        &rows,
        "bundle",
        "imgpkgBundle",
        "1.1.0",
        Some("1.1.0"),
        Some("1.1.0"),
        false,
    );
    expect(
        &rows,
        "chart",
        "helmChart",
        "0.1.0",
        Some("0.1.0"),
        Some("0.2.0"),
        true,
    );
    expect(
        &rows,
        "chart-oci",
        "helmChart",
        "0.1.0",
        Some("0.1.0"),
        Some("0.3.0"),
        true,
    );
    expect(
        &rows,
        "git",
        "git",
        "v1.0.0",
        Some("v1.0.0"),
        Some("v1.1.0"),
        true,
    );
    expect(
        &rows,
        "git-main",
        "git",
        "origin/main",
        None,
        Some("v1.1.0"),
        false,
    );
    assert_eq!(row(&rows, "git-main")["locked"].as_str().unwrap().len(), 12);
    expect(
        &rows,
        "hg",
        "hg",
        "v1.0.0",
        Some("v1.0.0"),
        Some("v1.1.0"),
        true,
    );
    expect(
        &rows,
        "release",
        "githubRelease",
        "v1.2.0",
        Some("v1.2.0"),
        Some("v1.3.0"),
        true,
    );
    expect(
        &rows,
        "release-latest",
        "githubRelease",
        "latest",
        Some("v1.3.0"),
        Some("v1.3.0"),
        false,
    );
    let http = row(&rows, "http");
    assert_eq!(http["pinned"], true, "{http:#}");
    assert_eq!(http["outdated"], false, "{http:#}");
    assert!(
        rows.iter().all(|r| r["path"] != "vendor/manual"),
        "{rows:#?}"
    );

    // One release listing for the two contents of the same repository.
    assert_eq!(
        up.github.http.count("/repos/acme/tool/releases"),
        1,
        "{}",
        up.github.http.log_text()
    );

    // A new tag inside the range: the lock now lags behind `wanted`.
    oras_push_tag(&up.registry, "app", "v1.2.0");
    let out = outdated(&work, &up.github, &["--json", "-d", "vendor/oci-range"]).ok();
    let rows = parse_rows(&out);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    expect(
        &rows,
        "oci-range",
        "ociArtifact",
        ">=1.0.0 <2.0.0",
        Some("v1.2.0"),
        Some("v1.2.0"),
        true,
    );
    assert_eq!(rows[0]["locked"], "v1.1.0");

    // The table, and --exit-code.
    let table = outdated(&work, &up.github, &["-d", "vendor/bundle"]).ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].contains("KIND") && lines[0].contains("LATEST"),
        "{table:?}"
    );
    assert!(
        lines[1].contains("vendor/bundle") && lines[1].starts_with(' '),
        "{table:?}"
    );
    outdated(&work, &up.github, &["--exit-code", "-d", "vendor/bundle"]).ok();
    let failing = outdated(&work, &up.github, &["--exit-code", "-d", "vendor/image"]);
    assert_eq!(failing.code(), Some(1), "{failing:?}");
    assert!(
        failing.stdout.lines().nth(1).unwrap().starts_with('*'),
        "{failing:?}"
    );
    // Without --exit-code, outdated contents are not a failure.
    outdated(&work, &up.github, &["-d", "vendor/image"]).ok();
}

#[test]
fn an_unknown_content_is_refused_by_name() {
    let work = Work::new();
    work.config(&vendir_config(
        &["- path: vendor\n  contents:\n  - path: a\n    manual: {}\n".to_string()],
        &[],
    ));
    let out = run(vendoras()
        .current_dir(&work.dir)
        .args(["outdated", "-d", "vendor/nope"]));
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("vendor/nope"), "{out:?}");
}
