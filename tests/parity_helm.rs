//! `helmChart:` side by side with vendir v0.44.0 (which runs the real helm
//! v3.22.0): chart repositories served from loopback, OCI charts pushed with
//! `helm push` to the loopback docker-registry. Each case runs one vendir.yml
//! through both tools and compares trees (names, bytes, modes) and locks;
//! where vendoras differs on purpose (docs/differences.md, "helmChart") the
//! case asserts the difference.

mod support;

use std::fs;
use std::path::Path;

use support::fixtures::*;
use support::pair::{assert_both_ok, Pair};
use support::servers::*;
use support::sync::Work;
use support::vendir::*;
use support::*;

/// Both succeed, with the same tree under `dir` and the same lock bytes.
#[track_caller]
fn assert_same(both: &Pair, context: &str, out: &(Outcome, Outcome), dir: &str) {
    assert_both_ok(context, out);
    both.assert_same(context, &[dir]);
}

fn chart_src(name: &str, version: Option<&str>, url: &str, extra: &str) -> String {
    let version = version.map_or_else(String::new, |v| format!("  version: {v}\n"));
    format!("helmChart:\n  name: {name}\n{version}  repository:\n    url: {url}\n{extra}")
}

/// The files a chart made by `write_chart` lands as (helm --untar layout).
const CHART_FILES: [&str; 5] = [
    ".helmignore",
    "Chart.yaml",
    "templates",
    "templates/configmap.yaml",
    "values.yaml",
];

fn names(t: &Tree) -> Vec<&str> {
    t.keys().map(String::as_str).collect()
}

fn read(work: &Work, rel: &str) -> String {
    fs::read_to_string(work.dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `helmChart.<key>` of directory `dir`'s content `.`, as a string.
#[track_caller]
fn locked(work: &Work, dir: &str, key: &str) -> String {
    let lock = work.lock();
    let value = yaml(&lock).unwrap_or_else(|e| panic!("{e}:\n{lock}"));
    let entry = lock_entry(&value, dir, ".").unwrap_or_else(|| panic!("no {dir}:\n{lock}"));
    field(&entry, "helmChart", key).unwrap_or_else(|| panic!("no {key}:\n{lock}"))
}

#[track_caller]
fn assert_refused(out: &Outcome, needles: &[&str]) {
    assert!(!out.success(), "expected a refusal: {out:?}");
    let text = format!("{}{}", out.stdout, out.stderr);
    for n in needles {
        assert!(text.contains(n), "missing {n:?} in: {out:?}");
    }
}

// ---------------------------------------------------------------------------------------
// chart repositories
// ---------------------------------------------------------------------------------------

#[test]
fn chart_from_repository_by_version_and_newest_then_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = helm_repo(
        tmp.path(),
        &[
            ("demo", "0.1.0", "1.0"),
            ("demo", "0.2.0", "2.0"),
            // helm skips prereleases when no version is given
            ("demo", "0.3.0-rc.1", "3.0-rc"),
        ],
    );
    let server = HttpServer::files(&repo);
    let url = format!("{}/", server.url());
    let both = Pair::new();
    both.config(&vendir_config(
        &[
            one_content("vendor/pinned", &chart_src("demo", Some("0.1.0"), &url, "")),
            one_content("vendor/newest", &chart_src("demo", None, &url, "")),
        ],
        &[],
    ));
    let theirs = both.vendir.sync(&[]);
    server.clear_log();
    let out = (theirs, both.ours_sync(&[]));
    // Two charts from one repository: vendoras reads the index once (vendir
    // runs helm per chart, each reading it).
    assert_eq!(server.count("/index.yaml"), 1, "{}", server.log_text());
    assert_same(&both, "by version and newest", &out, "vendor");
    assert_eq!(names(&both.ours.tree("vendor/pinned")), CHART_FILES);
    assert_eq!(
        read(&both.ours, "vendor/newest/values.yaml"),
        "greeting: hello from 0.2.0\n"
    );
    assert_eq!(locked(&both.ours, "vendor/pinned", "appVersion"), "1.0");
    assert_eq!(locked(&both.ours, "vendor/newest", "version"), "0.2.0");

    // A newer release appears: --locked keeps both at what the lock says.
    helm_repo(tmp.path(), &[("demo", "0.4.0", "4.0")]);
    let out = both.syncs(&["--locked"]);
    assert_same(&both, "--locked", &out, "vendor");
    assert_eq!(
        read(&both.ours, "vendor/newest/values.yaml"),
        "greeting: hello from 0.2.0\n"
    );
    // Without it, the newest moves on.
    let out = both.syncs(&[]);
    assert_same(&both, "newest again", &out, "vendor");
    assert_eq!(
        read(&both.ours, "vendor/newest/values.yaml"),
        "greeting: hello from 0.4.0\n"
    );

    // A version the index does not have: both refuse, nothing changes.
    let before = (both.vendir.tree("vendor"), both.ours.state());
    both.config(&vendir_config(
        &[one_content(
            "vendor/pinned",
            &chart_src("demo", Some("9.9.9"), &url, ""),
        )],
        &[],
    ));
    let out = both.syncs(&[]);
    assert_refused(&out.0, &["chart \"demo\" version \"9.9.9\" not found"]);
    assert_refused(
        &out.1,
        &[
            "index.yaml",
            "chart \"demo\" version \"9.9.9\" not found",
            "0.4.0",
        ],
    );
    assert_eq!(both.vendir.tree("vendor"), before.0);
    assert_eq!(both.ours.state(), before.1);
}

/// `name: stable/NAME` (helm v2's repository alias, still in real configs): vendir
/// drops the `stable/` prefix and fetches chart NAME from `repository.url`
/// (tests/corpus file 28).
#[test]
fn stable_prefix_names_the_chart_in_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = helm_repo(
        tmp.path(),
        &[("redis", "1.0.0", "1.0"), ("redis", "1.1.0", "1.1")],
    );
    let server = HttpServer::files(&repo);
    let both = Pair::new();
    both.config(&vendir_config(
        &[
            one_content(
                "vendor/newest",
                &chart_src("stable/redis", None, &server.url(), ""),
            ),
            one_content(
                "vendor/pinned",
                &chart_src("stable/redis", Some("1.0.0"), &server.url(), ""),
            ),
        ],
        &[],
    ));
    let out = both.syncs(&[]);
    assert_same(&both, "stable/ prefix", &out, "vendor");
    assert_eq!(names(&both.ours.tree("vendor/newest")), CHART_FILES);
    assert_eq!(locked(&both.ours, "vendor/newest", "version"), "1.1.0");
    assert_eq!(locked(&both.ours, "vendor/pinned", "version"), "1.0.0");
}

#[test]
fn basic_auth_on_the_chart_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = helm_repo(tmp.path(), &[("demo", "1.2.3", "1.0")]);
    let (user, password) = ("chart-user", "S3cret-chart-pw-77");
    let server = HttpServer::start_with_basic_auth(static_files(&repo), user, password);
    let url = server.url();
    let cfg = |password: &str| {
        vendir_config(
            &[one_content(
                "vendor/chart",
                &chart_src(
                    "demo",
                    Some("1.2.3"),
                    &url,
                    "    secretRef:\n      name: creds\n",
                ),
            )],
            &[secret_doc(
                "creds",
                &[("username", user), ("password", password)],
            )],
        )
    };
    let both = Pair::new();
    both.config(&cfg(password));
    let out = both.syncs(&[]);
    assert_same(&both, "basic auth", &out, "vendor");
    for o in [&out.0, &out.1] {
        assert!(!o.stdout.contains(password) && !o.stderr.contains(password));
    }

    // A wrong password: both refuse; vendoras names the status, not the password.
    let before = (both.vendir.tree("vendor"), both.ours.state());
    let wrong = "Wr0ng-chart-pw-zz9";
    both.config(&cfg(wrong));
    let out = both.syncs(&[]);
    assert_refused(&out.0, &[]);
    assert_refused(&out.1, &["401", "index.yaml"]);
    assert!(
        !out.1.stdout.contains(wrong) && !out.1.stderr.contains(wrong),
        "{:?}",
        out.1
    );
    assert_eq!(both.vendir.tree("vendor"), before.0);
    assert_eq!(both.ours.state(), before.1);
}

#[test]
fn a_wrong_digest_in_the_index_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = helm_repo(tmp.path(), &[("demo", "1.0.0", "1.0")]);
    let server = HttpServer::files(&repo);
    let both = Pair::new();
    let cfg = |version: &str| {
        vendir_config(
            &[one_content(
                "vendor/chart",
                &chart_src("demo", Some(version), &server.url(), ""),
            )],
            &[],
        )
    };
    both.config(&cfg("1.0.0"));
    let out = both.syncs(&[]);
    assert_same(&both, "before", &out, "vendor");
    let before = both.ours.state();

    // 1.1.0 is published, and the index promises other bytes than its archive has.
    helm_repo(tmp.path(), &[("demo", "1.1.0", "1.1")]);
    let index = fs::read_to_string(repo.join("index.yaml")).unwrap();
    let real = sha256_hex(&fs::read(repo.join("demo-1.1.0.tgz")).unwrap());
    assert!(index.contains(&real), "{index}");
    let bogus = "ab".repeat(32);
    fs::write(repo.join("index.yaml"), index.replace(&real, &bogus)).unwrap();
    both.config(&cfg("1.1.0"));
    let out = both.syncs(&[]);
    // helm (so vendir) does not check an index digest; vendoras does
    // (docs/differences.md, "helmChart"), naming both digests.
    assert!(out.0.success(), "{:?}", out.0);
    assert_refused(
        &out.1,
        &[
            "demo-1.1.0.tgz",
            "index.yaml",
            &format!("expected sha256:{bogus}"),
            &format!("sha256:{real}"),
        ],
    );
    assert_eq!(both.ours.state(), before, "a refused chart changes nothing");
}

// ---------------------------------------------------------------------------------------
// OCI
// ---------------------------------------------------------------------------------------

/// Packages `name`/`version` with helm and pushes it to `oci://<registry>/charts`.
fn push_chart(registry: &Registry, dir: &Path, name: &str, version: &str, app: &str) {
    let home = dir.join("helm-home");
    let src = write_chart(dir, name, version, app);
    let out_dir = dir.join("packages");
    fs::create_dir_all(&out_dir).unwrap();
    run(helm_cmd(&home)
        .arg("package")
        .arg(&src)
        .arg("-d")
        .arg(&out_dir))
    .ok();
    run(helm_cmd(&home)
        .arg("push")
        .arg(out_dir.join(format!("{name}-{version}.tgz")))
        .arg(format!("oci://{}/charts", registry.host()))
        .arg("--plain-http"))
    .ok();
}

#[test]
fn chart_over_oci_and_oci_without_a_version_refused() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    push_chart(&registry, tmp.path(), "demo", "0.5.0", "5.0");
    push_chart(&registry, tmp.path(), "demo", "0.6.0+build.1", "6.0");
    let url = format!("oci://{}/charts", registry.host());
    let both = Pair::new();
    both.config(&vendir_config(
        &[
            one_content("vendor/a", &chart_src("demo", Some("0.5.0"), &url, "")),
            // `+` is stored as `_` in the tag
            one_content(
                "vendor/b",
                &chart_src("demo", Some("0.6.0+build.1"), &url, ""),
            ),
        ],
        &[],
    ));
    // helm v3 reaches a plain-HTTP registry on 127.0.0.1 without a flag; so
    // does vendoras (loopback only).
    let out = both.syncs(&[]);
    assert_same(&both, "oci", &out, "vendor");
    assert_eq!(names(&both.ours.tree("vendor/a")), CHART_FILES);
    assert_eq!(
        read(&both.ours, "vendor/b/values.yaml"),
        "greeting: hello from 0.6.0+build.1\n"
    );
    assert_eq!(locked(&both.ours, "vendor/b", "version"), "0.6.0+build.1");
    assert_eq!(locked(&both.ours, "vendor/a", "appVersion"), "5.0");

    // --locked fetches exactly the locked versions again.
    let out = both.syncs(&["--locked"]);
    assert_same(&both, "oci --locked", &out, "vendor");

    // No version: vendir refuses when it fetches, vendoras when it reads
    // the config, naming the key; nothing changes.
    let before = (both.vendir.tree("vendor"), both.ours.state());
    both.config(&vendir_config(
        &[one_content("vendor/a", &chart_src("demo", None, &url, ""))],
        &[],
    ));
    let out = both.syncs(&[]);
    assert_refused(&out.0, &["Expected non-empty version"]);
    assert_refused(
        &out.1,
        &["vendir.yml:", "missing required key `version`", "oci://"],
    );
    assert_eq!(both.vendir.tree("vendor"), before.0);
    assert_eq!(both.ours.state(), before.1);

    // A version the registry does not have: both refuse.
    both.config(&vendir_config(
        &[one_content(
            "vendor/a",
            &chart_src("demo", Some("9.9.9"), &url, ""),
        )],
        &[],
    ));
    let out = both.syncs(&[]);
    assert_refused(&out.0, &[]);
    assert_refused(&out.1, &["charts/demo", "9.9.9"]);
    assert_eq!(both.ours.state(), before.1);
}

// ---------------------------------------------------------------------------------------
// mixed
// ---------------------------------------------------------------------------------------

#[test]
fn one_directory_mixing_helm_chart_oci_artifact_and_manual() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    push_chart(&registry, tmp.path(), "mixed", "1.0.0", "1.0");
    let repo = helm_repo(tmp.path(), &[("demo", "0.1.0", "1.0")]);
    let server = HttpServer::files(&repo);
    let files = tempfile::tempdir().unwrap();
    fs::write(files.path().join("policy.rego"), "package x\n").unwrap();
    support::sync::oras_push_in(
        &registry,
        files.path(),
        &[],
        &registry.reference("policies", "v1"),
        &["policy.rego"],
    );

    let helm_oci = chart_src(
        "mixed",
        Some("1.0.0"),
        &format!("oci://{}/charts", registry.host()),
        "",
    );
    let helm_http = chart_src("demo", None, &server.url(), "");
    let indent = |s: &str| -> String { s.lines().map(|l| format!("    {l}\n")).collect() };
    let config = vendir_config(
        &[format!(
            "- path: vendor\n  contents:\n  - path: oci-chart\n{}  - path: repo-chart\n{}  - path: policies\n    ociArtifact:\n      image: {}\n      tag: v1\n      plainHTTP: true\n  - path: local\n    manual: {{}}\n",
            indent(&helm_oci),
            indent(&helm_http),
            format_args!("{}/policies", registry.host()),
        )],
        &[],
    );
    let work = Work::new();
    fs::create_dir_all(work.dir.join("vendor/local")).unwrap();
    fs::write(work.dir.join("vendor/local/notes.md"), "by hand\n").unwrap();
    work.config(&config);
    let out = work.sync(&[]).ok();
    assert!(out.success());
    let t = work.tree("vendor");
    for f in CHART_FILES {
        assert!(
            t.contains_key(&format!("oci-chart/{f}")),
            "{}",
            format_tree(&t)
        );
        assert!(
            t.contains_key(&format!("repo-chart/{f}")),
            "{}",
            format_tree(&t)
        );
    }
    assert_eq!(read(&work, "vendor/policies/policy.rego"), "package x\n");
    assert_eq!(read(&work, "vendor/local/notes.md"), "by hand\n");

    // The charts are what vendir makes of each alone.
    let theirs = VendirWork::new();
    theirs.config(&vendir_config(
        &[
            one_content("vendor/oci-chart", &helm_oci),
            one_content("vendor/repo-chart", &helm_http),
        ],
        &[],
    ));
    let o = theirs.sync(&[]);
    assert!(o.success(), "{o:?}");
    for d in ["vendor/oci-chart", "vendor/repo-chart"] {
        assert_same_tree(d, "vendir", &theirs.tree(d), "vendoras", &work.tree(d));
    }
}
