//! The shipped Renovate preset (renovate/vendoras.json) with the real Renovate 44
//! (scripts/install-renovate.sh), offline against a loopback registry: Renovate's
//! `local` platform extracts the dependencies the preset's JSONata manager finds in a
//! `vendir.yml` (ociArtifact with `tag:` before `image:` and quoted, ociArtifact with the
//! tag inside `image:` in flow style, image, imgpkgBundle; a `tagSelection` content is
//! left alone) and looks each up in the registry's tag list: the bump it proposes is
//! the newest tag.
//!
//! Then through Renovate's `gitea` platform (a loopback stand-in of its API, the clone
//! URL a local bare repository): each branch Renovate pushes carries the bumped tag,
//! the lock relocked by the preset's post-upgrade step (the registry's digest for the
//! new tag), the new content, and every other lock entry unchanged; and Renovate opens
//! one pull request per bump from that branch into `main` (`prCreation: immediate`,
//! the stand-in answering Gitea's pull-request endpoints).
//!
//! Both run in a network namespace holding only loopback (`unshare -n`, as root).
//! Skipped, saying so, only when Renovate is not installed and `CI` is not set.

mod support;

use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use support::sync::{oras_push_in, oras_push_tag};
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

/// Runs `body` in a network namespace that has only loopback: the test binary runs
/// this one test again under `unshare -n` (root), where the servers, Renovate and
/// vendoras all live. Without `unshare` (not root) it runs on the host's loopback and
/// says so, except in CI, where that is a failure.
fn offline(test: &str, body: impl FnOnce()) {
    if std::env::var_os("VENDORAS_TEST_NETNS").is_some() {
        // /proc/net is this namespace's (sysfs would still show the host's).
        let links: Vec<String> = fs::read_to_string("/proc/net/dev")
            .unwrap()
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(|n| n.trim().to_string())
            .collect();
        assert_eq!(links, ["lo"], "the namespace should hold loopback only");
        body();
        return;
    }
    let probe = std::process::Command::new("unshare")
        .args(["-n", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "`unshare -n` is needed (root) to run Renovate offline"
        );
        eprintln!("note: no network namespace (`unshare -n` needs root): loopback of the host");
        body();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = run(std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("VENDORAS_TEST_NETNS", "1"));
    assert!(
        out.success() && out.stdout.contains("1 passed"),
        "{test} in a network namespace: {out:?}"
    );
}

/// A test that finds the real Renovate (or skips, outside CI) and runs `$body`
/// with it under [`offline`].
macro_rules! renovate_test {
    ($name:ident, $body:ident) => {
        #[test]
        fn $name() {
            let Some(renovate) = renovate() else { return };
            offline(stringify!($name), || $body(&renovate));
        }
    };
}

/// A registry holding one small artifact at each `(repository, tag)`.
fn registry_with(tags: &[(&str, &str)]) -> Registry {
    let registry = Registry::start();
    for (repo, tag) in tags {
        oras_push_tag(&registry, repo, tag);
    }
    registry
}

renovate_test!(
    the_preset_tracks_oci_artifact_image_and_bundle_tags_with_the_real_renovate,
    preset_lookup
);

fn preset_lookup(renovate: &std::path::Path) {
    let registry = registry_with(
        &[
            TRACKED_TAGS.as_slice(),
            &[
                ("img/app", "1.0.0"),
                ("img/app", "1.0.1"),
                ("bundles/app", "2.0.0"),
                ("bundles/app", "3.0.0"),
            ],
        ]
        .concat(),
    );
    let host = registry.host();

    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    fs::create_dir_all(&repo).unwrap();
    fs::write(
        repo.join("vendir.yml"),
        two_tracked_artifacts(&host)
            + &format!(
                r#"  - path: img
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
    let mut config = shipped_preset();
    let obj = config.as_object_mut().unwrap();
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
    let mut cmd = std::process::Command::new(renovate);
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

/// A stand-in for the Gitea API calls Renovate's `gitea` platform makes on one
/// repository whose clone URL is a local bare repository (`file://`). Renovate pushes
/// its branches there. Issues, labels and commit statuses are empty. Pull requests are
/// kept in memory, shaped like Gitea's `PullRequest`:
/// - `POST /repos/{owner}/{repo}/pulls` opens one (`base`, `head`, `title`, `body`);
///   the head's sha is the branch's tip in the bare repository;
/// - `GET .../pulls` lists them, `GET .../pulls/{index}` and
///   `GET .../pulls/{base}/{head}` find one, `PATCH .../pulls/{index}` edits one.
struct FakeGitea {
    server: support::servers::HttpServer,
    /// Every pull request opened, in order.
    pulls: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    /// Every request, as `METHOD path`.
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn fake_gitea(bare: &std::path::Path) -> FakeGitea {
    use serde_json::json;
    use support::servers::{HttpResponse, HttpServer};
    let clone_url = format!("file://{}", bare.display());
    let bare = bare.to_path_buf();
    let pulls = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let state = pulls.clone();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = requests.clone();
    let repo = json!({"id": 1, "name": "app", "full_name": "acme/app",
        "owner": {"id": 2, "login": "acme", "username": "acme"}});
    let server = HttpServer::start(std::sync::Arc::new(move |req| {
        let path = req.path().trim_end_matches('/').to_string();
        let json_status = |status: u16, v: &Value| HttpResponse {
            status,
            ..HttpResponse::json(v)
        };
        let ok = |v: &Value| json_status(200, v);
        let pulls_path = "/api/v1/repos/acme/app/pulls";
        seen.lock()
            .unwrap()
            .push(format!("{} {}", req.method, req.path()));
        let mut pulls = state.lock().unwrap();
        match (req.method.as_str(), path.as_str()) {
            ("GET", "/api/v1/version") => ok(&json!({"version": "1.21.0"})),
            ("GET", "/api/v1/user") => ok(&json!({
                "id": 1, "login": "renovate", "username": "renovate",
                "full_name": "Renovate", "email": "renovate@localhost"
            })),
            ("GET", "/api/v1/repos/acme/app") => ok(&json!({
                "id": 1, "name": "app", "full_name": "acme/app",
                "owner": {"id": 2, "login": "acme", "username": "acme"},
                "clone_url": clone_url, "ssh_url": "", "html_url": "http://127.0.0.1/acme/app",
                "default_branch": "main", "archived": false, "mirror": false, "empty": false,
                "fork": false, "has_pull_requests": true, "has_issues": true,
                "allow_merge_commits": true, "allow_rebase": true, "allow_rebase_explicit": true,
                "allow_squash_merge": true, "default_merge_style": "merge",
                "permissions": {"admin": true, "push": true, "pull": true}
            })),
            ("POST", p) if p == pulls_path => {
                let Ok(asked) = serde_json::from_slice::<Value>(&req.body) else {
                    return json_status(422, &json!({"message": "body is not JSON"}));
                };
                let (Some(base), Some(head)) = (asked["base"].as_str(), asked["head"].as_str())
                else {
                    return json_status(422, &json!({"message": "base and head are required"}));
                };
                if pulls.iter().any(|p| {
                    p["head"]["ref"] == head && p["base"]["ref"] == base && p["state"] == "open"
                }) {
                    return json_status(409, &json!({"message": "pull request already exists"}));
                }
                let tip = |branch: &str| {
                    run(support::fixtures::git_cmd(&bare)
                        .args(["rev-parse", "--verify", "-q"])
                        .arg(format!("refs/heads/{branch}")))
                };
                let (head_tip, base_tip) = (tip(head), tip(base));
                if !head_tip.success() || !base_tip.success() {
                    return json_status(404, &json!({"message": "branch does not exist"}));
                }
                let number = pulls.len() as u64 + 1;
                let now = "2026-01-01T00:00:00Z";
                let pr = json!({
                    "id": number, "number": number, "state": "open",
                    "title": asked["title"], "body": asked["body"].as_str().unwrap_or_default(),
                    "user": {"id": 1, "login": "renovate"},
                    "labels": [], "assignees": [], "mergeable": true, "merged": false,
                    "created_at": now, "updated_at": now,
                    "base": {"label": base, "ref": base, "sha": base_tip.stdout.trim(), "repo": repo},
                    "head": {"label": head, "ref": head, "sha": head_tip.stdout.trim(), "repo": repo},
                });
                pulls.push(pr.clone());
                json_status(201, &pr)
            }
            ("GET", p) if p == pulls_path => {
                let wanted = req.param("state").unwrap_or("open");
                let poster = req.param("poster");
                let mut list: Vec<Value> = pulls
                    .iter()
                    .filter(|p| wanted == "all" || p["state"] == wanted)
                    .filter(|p| poster.is_none_or(|u| p["user"]["login"] == u))
                    .cloned()
                    .collect();
                list.reverse();
                ok(&Value::Array(list))
            }
            (method, p) if p.starts_with(pulls_path) => {
                let rest = &p[pulls_path.len()..];
                let found = match rest.trim_start_matches('/').split_once('/') {
                    // `pulls/{base}/{head}`: the head may hold slashes.
                    Some((base, head)) => pulls
                        .iter()
                        .position(|p| p["base"]["ref"] == base && p["head"]["ref"] == head),
                    None => rest[1..]
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| pulls.iter().position(|p| p["number"] == n)),
                };
                let Some(i) = found else {
                    return HttpResponse::not_found();
                };
                match method {
                    "GET" => ok(&pulls[i]),
                    "PATCH" => {
                        let Ok(Value::Object(edit)) = serde_json::from_slice(&req.body) else {
                            return json_status(
                                422,
                                &json!({"message": "body is not a JSON object"}),
                            );
                        };
                        for (k, v) in edit {
                            if ["title", "body", "state"].contains(&k.as_str()) {
                                pulls[i][k] = v;
                            }
                        }
                        ok(&pulls[i])
                    }
                    _ => HttpResponse::not_found(),
                }
            }
            ("GET", p)
                if p.ends_with("/statuses") || p.ends_with("/issues") || p.ends_with("/labels") =>
            {
                ok(&json!([]))
            }
            ("GET", p) if p.ends_with("/status") => ok(&json!({
                "state": "", "statuses": [], "total_count": 0
            })),
            _ => HttpResponse::not_found(),
        }
    }));
    FakeGitea {
        server,
        pulls,
        requests,
    }
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    run(support::fixtures::git_cmd(dir).args(args)).ok().stdout
}

renovate_test!(
    renovate_branches_carry_the_bump_its_relocked_digest_and_content_only,
    forge_branches
);

fn forge_branches(renovate: &std::path::Path) {
    let registry = registry_with(&[TRACKED_TAGS.as_slice(), &[("moving", "latest")]].concat());
    let host = registry.host();
    let tmp = tempfile::tempdir().unwrap();
    // The config lives in a subdirectory: the post-upgrade step must run there.
    let work = tmp.path().join("work");
    let project = work.join("deploy");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("vendir.yml"),
        two_tracked_artifacts(&host)
            + &format!(
                r#"  - path: moving   # floats: must keep its pin in every branch
    ociArtifact:
      image: {host}/moving:latest
      plainHTTP: true
"#
            ),
    )
    .unwrap();
    run(vendoras()
        .current_dir(&project)
        .args(["sync", "--no-cache"]))
    .ok();
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "vendor"]);
    let bare = tmp.path().join("origin.git");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let lock_before: vendoras::lock::LockConfig =
        vendoras::lock::LockConfig::read(&project.join("vendir.lock.yml"))
            .unwrap()
            .unwrap();

    // Upstream `latest` moves: a plain sync in a branch would drift it.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file.txt"), "moving second\n").unwrap();
    oras_push_in(
        &registry,
        dir.path(),
        &[],
        &registry.reference("moving", "latest"),
        &["file.txt"],
    );

    let gitea = fake_gitea(&bare);
    let mut config = shipped_preset();
    let obj = config.as_object_mut().unwrap();
    for (k, v) in [
        ("platform", serde_json::json!("gitea")),
        (
            "endpoint",
            serde_json::json!(format!("{}/", gitea.server.url())),
        ),
        ("token", serde_json::json!("test-token")),
        ("repositories", serde_json::json!(["acme/app"])),
        ("onboarding", serde_json::json!(false)),
        ("requireConfig", serde_json::json!("optional")),
        ("dependencyDashboard", serde_json::json!(false)),
        ("prCreation", serde_json::json!("immediate")),
        ("repositoryCache", serde_json::json!("disabled")),
        (
            "gitAuthor",
            serde_json::json!("Renovate <renovate@localhost>"),
        ),
        (
            "allowedCommands",
            serde_json::json!(["^vendoras sync --relock-changed --chdir \\./[^ ]*$"]),
        ),
        (
            "hostRules",
            serde_json::json!([{ "matchHost": host, "insecureRegistry": true }]),
        ),
    ] {
        obj.insert(k.into(), v);
    }
    let config_file = tmp.path().join("config.json");
    fs::write(&config_file, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let home = tmp.path().join("home");
    fs::create_dir_all(&home).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vendoras"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = std::process::Command::new(renovate);
    cmd.current_dir(tmp.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("RENOVATE_CONFIG_FILE", &config_file)
        .env("RENOVATE_BASE_DIR", tmp.path().join("base"))
        .env("VENDORAS_CACHE_DIR", tmp.path().join("cache"))
        .env("LOG_LEVEL", "debug")
        .env("LOG_FORMAT", "json");
    let out = run(&mut cmd);
    let log_file = tmp.path().join("renovate.log");
    fs::write(&log_file, &out.stdout).unwrap();
    assert!(out.success(), "renovate failed: {}", out.stderr);

    let branches: Vec<String> = git(
        &bare,
        &[
            "for-each-ref",
            "--format=%(refname:short)",
            "refs/heads/renovate/",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    let tail: String = out
        .stdout
        .lines()
        .rev()
        .take(80)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(branches.len(), 2, "branches {branches:?}\n{tail}");
    // One pull request per bump, opened at once (`prCreation: immediate`), from the
    // bumped branch (at its pushed tip) into main.
    let pulls = gitea.pulls.lock().unwrap().clone();
    assert_eq!(pulls.len(), 2, "pull requests {pulls:#?}\n{tail}");
    let mut heads: Vec<&str> = pulls
        .iter()
        .map(|p| p["head"]["ref"].as_str().unwrap())
        .collect();
    heads.sort_unstable();
    let mut sorted = branches.clone();
    sorted.sort_unstable();
    assert_eq!(heads, sorted, "{pulls:#?}");
    for pr in &pulls {
        let head = pr["head"]["ref"].as_str().unwrap();
        assert_eq!(pr["base"]["ref"], "main", "{pr:#}");
        assert_eq!(pr["state"], "open", "{pr:#}");
        assert_eq!(
            pr["head"]["sha"].as_str().unwrap(),
            git(&bare, &["rev-parse", head]).trim(),
            "{pr:#}"
        );
    }
    let original = fs::read_to_string(project.join("vendir.yml")).unwrap();
    for (repo, old, new, was, now) in [
        (
            "policies",
            "v1.0.0",
            "v1.1.0",
            "tag: \"v1.0.0\"",
            "tag: \"v1.1.0\"",
        ),
        (
            "schemas",
            "1.0.0",
            "1.2.0",
            "schemas:1.0.0'",
            "schemas:1.2.0'",
        ),
    ] {
        let branch = branches
            .iter()
            .find(|b| b.contains(repo))
            .unwrap_or_else(|| panic!("no branch for {repo}: {branches:?}"));
        let show = |file: &str| git(&bare, &["show", &format!("{branch}:{file}")]);
        let config = show("deploy/vendir.yml");
        // The bump, in place: quoting and comments kept.
        assert_eq!(config, original.replace(was, now), "{old} -> {new}");
        let lock_text = show("deploy/vendir.lock.yml");
        let lock_path = tmp.path().join(format!("{repo}.lock.yml"));
        fs::write(&lock_path, &lock_text).unwrap();
        let lock = vendoras::lock::LockConfig::read(&lock_path)
            .unwrap()
            .unwrap();
        let digest = support::sync::oras_resolve(&registry, &registry.reference(repo, new));
        let entry = lock
            .content("vendor", repo)
            .unwrap()
            .oci_artifact
            .clone()
            .unwrap();
        assert_eq!(entry.url, format!("{host}/{repo}@{digest}"), "{lock_text}");
        assert_eq!(
            show(&format!("deploy/vendor/{repo}/file.txt")),
            format!("{repo} {new}\n")
        );
        // Every other entry as it was.
        for other in ["policies", "schemas", "moving"]
            .iter()
            .filter(|o| **o != repo)
        {
            assert_eq!(
                lock.content("vendor", other),
                lock_before.content("vendor", other),
                "{other} in {branch}\n{lock_text}"
            );
        }
        assert_eq!(show("deploy/vendor/moving/file.txt"), "moving latest\n");
    }

    // A second run finds its pull requests through the list endpoint and opens none.
    let opened = |requests: &[String]| {
        requests
            .iter()
            .filter(|r| *r == "POST /api/v1/repos/acme/app/pulls")
            .count()
    };
    let first_run = gitea.requests.lock().unwrap().len();
    let again = run(&mut cmd);
    assert!(again.success(), "renovate failed again: {}", again.stderr);
    let requests = gitea.requests.lock().unwrap().clone();
    assert!(
        requests[first_run..].contains(&"GET /api/v1/repos/acme/app/pulls".to_string()),
        "{requests:#?}"
    );
    assert_eq!(opened(&requests), 2, "{requests:#?}");
    assert_eq!(gitea.pulls.lock().unwrap().len(), 2);
}

/// The head of both tests' `vendir.yml`: two ociArtifacts Renovate must track,
/// one with `tag:` before `image:` (quoted), one in flow style with the tag in
/// `image:`.
/// renovate/vendoras.json as shipped, less the keys a repository config may
/// not carry (`$schema`, `description`).
fn shipped_preset() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/renovate/vendoras.json");
    let mut preset: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let obj = preset.as_object_mut().unwrap();
    obj.remove("$schema");
    obj.remove("description");
    preset
}

/// The tags [`two_tracked_artifacts`] starts from (1.0.0) and the newer one
/// Renovate must find for each.
const TRACKED_TAGS: [(&str, &str); 4] = [
    ("policies", "v1.0.0"),
    ("policies", "v1.1.0"),
    ("schemas", "1.0.0"),
    ("schemas", "1.2.0"),
];

fn two_tracked_artifacts(host: &str) -> String {
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
"#
    )
}
