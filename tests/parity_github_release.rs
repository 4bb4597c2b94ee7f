//! The `githubRelease` source, side by side with vendir v0.44.0
//! (docs/dev/vendir-reference.md) against the loopback GitHub fake. vendir has the
//! public API built in, so both reach the fake through `url:`; vendoras also through
//! `GITHUB_API_URL` with `tag:`/`latest:` (a deliberate difference, docs/differences.md).
//! Trees and locks are compared; refusals must come from both and leave vendoras's
//! tree and lock byte-identical; tokens never appear in output.

mod support;

use std::fs;
use std::process::Command;

use support::fixtures::*;
use support::servers::*;
use support::sync::Work;
use support::vendir::*;
use support::*;

const TOKEN_ENV: [&str; 3] = ["GITHUB_TOKEN", "VENDIR_GITHUB_API_TOKEN", "GITHUB_API_URL"];

/// A command with the GitHub settings of the test runner's own environment
/// (CI sets GITHUB_TOKEN and GITHUB_API_URL) removed, then `env` applied.
fn clean(mut cmd: Command, env: &[(&str, &str)]) -> Outcome {
    for k in TOKEN_ENV {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

struct Pair {
    ours: Work,
    theirs: VendirWork,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            ours: Work::new(),
            theirs: VendirWork::new(),
        }
    }

    fn ours(&self, config: &str, env: &[(&str, &str)], args: &[&str]) -> Outcome {
        self.ours.config(config);
        clean(self.ours.cmd(args), env)
    }

    fn theirs(&self, config: &str, env: &[(&str, &str)], args: &[&str]) -> Outcome {
        self.theirs.config(config);
        clean(self.theirs.vendir(args), env)
    }

    fn both(&self, config: &str, env: &[(&str, &str)]) -> (Outcome, Outcome) {
        (self.ours(config, env, &[]), self.theirs(config, env, &[]))
    }

    #[track_caller]
    fn assert_same(&self, context: &str) {
        assert_same_tree(
            context,
            "vendoras",
            &self.ours.tree("vendor"),
            "vendir",
            &self.theirs.tree("vendor"),
        );
        assert_same_lock(context, &self.ours.lock(), &self.theirs.lock(), &[]);
    }
}

fn fixture(gh: &FakeGithub) -> (Vec<u8>, Vec<u8>) {
    let tgz = tar_of(&[
        ("tool/README", b"tool readme\n"),
        ("exec:tool/bin/tool", b"#!/bin/sh\n"),
    ])
    .finish_gz();
    let bin = b"linux binary\n".to_vec();
    for tag in ["v1.0.0", "v1.2.0"] {
        gh.add_release(
            "acme/tool",
            FakeRelease::new(tag)
                .asset("tool-linux-amd64.tgz", tgz.clone())
                .asset(
                    "tool-linux-amd64.zip",
                    zip_of(&[("z/zipped.txt", b"zipped\n")]),
                )
                .asset("tool-linux-amd64", bin.clone())
                .with_checksums_in_notes(),
        );
    }
    gh.add_release(
        "acme/nosums",
        FakeRelease::new("v1.0.0")
            .asset("a.txt", b"a\n".to_vec())
            .body("no sums here"),
    );
    (tgz, bin)
}

fn release(slug: &str, select: &str, extra: &str) -> String {
    format!("githubRelease:\n  slug: {slug}\n  {select}\n{extra}")
}

#[test]
fn auto_checksums_asset_names_and_unpack_archive_match_vendir() {
    let gh = FakeGithub::start(None);
    fixture(&gh);
    let url = format!("url: {}", gh.release_url("acme/tool", "v1.2.0"));
    let config = vendir_config(
        &[
            one_content("vendor/all", &release("acme/tool", &url, "")),
            one_content(
                "vendor/tgz",
                &release(
                    "acme/tool",
                    &url,
                    "  assetNames: [\"*.tgz\"]\n  unpackArchive:\n    path: tool-linux-amd64.tgz",
                ),
            ),
            one_content(
                "vendor/zip",
                &release(
                    "acme/tool",
                    &url,
                    "  assetNames: [\"*.zip\", \"*.tgz\"]\n  unpackArchive:\n    path: tool-linux-amd64.zip",
                ),
            ),
        ],
        &[],
    );
    let p = Pair::new();
    let (ours, theirs) = p.both(&config, &[]);
    ours.ok();
    theirs.ok();
    p.assert_same("auto checksums, assetNames, unpackArchive");
    let tree = p.ours.tree("vendor");
    for f in [
        "all/tool-linux-amd64",
        "all/tool-linux-amd64.tgz",
        "tgz/tool/bin/tool",
        "zip/z/zipped.txt",
    ] {
        assert!(tree.contains_key(f), "{f} missing:\n{}", format_tree(&tree));
    }
    assert!(!tree.contains_key("tgz/tool-linux-amd64.tgz"));

    // vendoras through GITHUB_API_URL with `tag:`: the same tree and lock (the
    // lock's url is the release's own API url either way).
    let ours2 = Work::new();
    ours2.config(&config.replace(&url, "tag: v1.2.0"));
    clean(ours2.cmd(&[]), &[("GITHUB_API_URL", &gh.api_url())]).ok();
    assert_same_tree("GITHUB_API_URL", "tag", &ours2.tree("vendor"), "url", &tree);
    assert_same_lock("GITHUB_API_URL", &ours2.lock(), &p.ours.lock(), &[]);
    let e = lock_entry(&yaml(&ours2.lock()).unwrap(), "vendor/all", ".").unwrap();
    assert_eq!(
        field(&e, "githubRelease", "url").unwrap(),
        gh.release_id_url(&gh.api_url(), "acme/tool", "v1.2.0")
    );
    assert_eq!(field(&e, "githubRelease", "tag").unwrap(), "v1.2.0");
}

#[test]
fn checksum_mismatch_missing_archive_and_missing_checksum_are_refused_by_both() {
    let gh = FakeGithub::start(None);
    let (_, bin) = fixture(&gh);
    let url = format!("url: {}", gh.release_url("acme/tool", "v1.2.0"));
    let p = Pair::new();
    let good = vendir_config(
        &[one_content(
            "vendor/all",
            &release("acme/tool", &url, "  assetNames: [tool-linux-amd64]"),
        )],
        &[],
    );
    let (ours, theirs) = p.both(&good, &[]);
    ours.ok();
    theirs.ok();
    let before = p.ours.state();

    let wrong = "1".repeat(64);
    let cases = [
        (
            release(
                "acme/tool",
                &url,
                &format!("  assetNames: [tool-linux-amd64]\n  checksums:\n    tool-linux-amd64: \"{wrong}\""),
            ),
            vec![
                "asset 'tool-linux-amd64'".to_string(),
                format!("sha256:{wrong}"),
                format!("sha256:{}", sha256_hex(&bin)),
            ],
            "Expected file checksum to be",
        ),
        (
            release(
                "acme/tool",
                &url,
                "  assetNames: [tool-linux-amd64]\n  unpackArchive:\n    path: nope.tgz",
            ),
            vec!["Unpacking archive 'nope.tgz' is not part of the github release".to_string()],
            "Unpacking archive 'nope.tgz' is not part of the github release",
        ),
        (
            release(
                "acme/nosums",
                &format!("url: {}", gh.release_url("acme/nosums", "v1.0.0")),
                "",
            ),
            vec!["Expected to find sha256 checksum for file 'a.txt'".to_string()],
            "Expected to find sha256 checksum for file 'a.txt'",
        ),
        (
            release("acme/tool", "tag: v9.9.9", ""),
            vec!["404".to_string()],
            "404",
        ),
    ];
    for (source, ours_says, theirs_says) in cases {
        let config = vendir_config(&[one_content("vendor/all", &source)], &[]);
        // vendir reaches the fake only by url; for `tag:` it would ask api.github.com.
        let theirs = if source.contains("tag: v9.9.9") {
            None
        } else {
            Some(p.theirs(&config, &[], &[]))
        };
        let ours = p.ours(&config, &[("GITHUB_API_URL", &gh.api_url())], &[]);
        assert!(!ours.success(), "{source}: {ours:?}");
        for n in &ours_says {
            assert!(ours.stderr.contains(n.as_str()), "{n} missing: {ours:?}");
        }
        if let Some(theirs) = theirs {
            assert!(!theirs.success(), "{source}: {theirs:?}");
            assert!(theirs.stderr.contains(theirs_says), "{theirs:?}");
        }
        assert_eq!(p.ours.state(), before, "{source}");
    }

    // ... and a missing checksum passes once auto validation is off.
    let off = vendir_config(
        &[one_content(
            "vendor/all",
            &release(
                "acme/nosums",
                &format!("url: {}", gh.release_url("acme/nosums", "v1.0.0")),
                "  disableAutoChecksumValidation: true",
            ),
        )],
        &[],
    );
    let (ours, theirs) = p.both(&off, &[]);
    ours.ok();
    theirs.ok();
    p.assert_same("disableAutoChecksumValidation");
}

/// `{tag}` in a nested http url, with a token: vendir through `url:` with
/// VENDIR_GITHUB_API_TOKEN; vendoras the same, and also through GITHUB_API_URL
/// with GITHUB_TOKEN. The token never shows, and 401 without it.
#[test]
fn tag_template_with_a_token() {
    let token = "ghp-T0ken-s3cret";
    let gh = FakeGithub::start(Some(token));
    fixture(&gh);
    let site = tempfile::tempdir().unwrap();
    fs::create_dir_all(site.path().join("v1.2.0")).unwrap();
    fs::write(
        site.path().join("v1.2.0/extra.tgz"),
        tar_of(&[("e/x.txt", b"extra\n")]).finish_gz(),
    )
    .unwrap();
    let files = HttpServer::files(site.path());
    let templated = |select: &str| {
        vendir_config(
            &[
                one_content(
                    "vendor/templated",
                    &release(
                        "acme/tool",
                        select,
                        &format!("  http:\n    url: {}/{{tag}}/extra.tgz", files.url()),
                    ),
                ),
                one_content(
                    "vendor/assets",
                    &release("acme/tool", select, "  assetNames: [\"*.tgz\"]"),
                ),
            ],
            &[],
        )
    };
    let by_url = templated(&format!("url: {}", gh.release_url("acme/tool", "v1.2.0")));
    let p = Pair::new();
    let (ours, theirs) = p.both(&by_url, &[("VENDIR_GITHUB_API_TOKEN", token)]);
    let ours = ours.ok();
    theirs.ok();
    p.assert_same("{tag} template with a token");
    assert!(p.ours.tree("vendor").contains_key("templated/e/x.txt"));

    let api = gh.api_url();
    let env_gh = [("GITHUB_API_URL", api.as_str()), ("GITHUB_TOKEN", token)];
    let ours2 = p.ours(&templated("tag: v1.2.0"), &env_gh, &[]).ok();
    assert_same_tree(
        "GITHUB_API_URL",
        "tag",
        &p.ours.tree("vendor"),
        "vendir",
        &p.theirs.tree("vendor"),
    );
    assert_same_lock("GITHUB_API_URL", &p.ours.lock(), &p.theirs.lock(), &[]);
    // Release lookups and asset downloads carried the token as vendir sends it.
    let log = gh.http.log();
    assert!(log
        .iter()
        .any(|l| l.target == "/repos/acme/tool/releases/tags/v1.2.0"
            && l.authorization.as_deref() == Some(format!("token {token}").as_str())));

    // No token: 401, with the hint, and nothing changed.
    let before = p.ours.state();
    let anon = p.ours(&templated("tag: v1.2.0"), &[("GITHUB_API_URL", &api)], &[]);
    assert!(!anon.success());
    assert!(
        anon.stderr.contains("'401'") && anon.stderr.contains("GITHUB_TOKEN"),
        "{anon:?}"
    );
    assert_eq!(p.ours.state(), before);
    // A secret's token wins and works too.
    let with_secret = templated("tag: v1.2.0").replace(
        "      slug: acme/tool\n",
        "      slug: acme/tool\n      secretRef:\n        name: gh\n",
    ) + &format!("---\n{}", secret_doc("gh", &[("token", token)]));
    let sec = p
        .ours(
            &with_secret,
            &[("GITHUB_API_URL", &api), ("GITHUB_TOKEN", "wrong-token")],
            &[],
        )
        .ok();

    for out in [&ours, &ours2, &anon, &sec] {
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(!text.contains(token), "token leaked: {out:?}");
    }
}

/// The API reached as `localhost`; GitHub's asset URL redirects to another host
/// (here 127.0.0.1, GitHub's storage host in real life): the token stays behind.
#[test]
fn the_token_is_not_sent_to_the_download_host() {
    let token = "ghp-Redirect-T0ken";
    let gh = FakeGithub::start(Some(token));
    fixture(&gh);
    let api = format!("http://localhost:{}", gh.http.addr().port());
    let ours = Work::new();
    ours.config(&vendir_config(
        &[one_content(
            "vendor/x",
            &release(
                "acme/tool",
                "tag: v1.2.0",
                "  assetNames: [tool-linux-amd64]",
            ),
        )],
        &[],
    ));
    clean(
        ours.cmd(&[]),
        &[("GITHUB_API_URL", &api), ("GITHUB_TOKEN", token)],
    )
    .ok();
    let log = gh.http.log();
    let asset = log
        .iter()
        .find(|l| l.target.contains("/releases/assets/"))
        .unwrap_or_else(|| panic!("{}", gh.http.log_text()));
    assert!(asset.authorization.is_some(), "{}", gh.http.log_text());
    let download = log
        .iter()
        .find(|l| l.target.contains("/releases/download/"))
        .unwrap_or_else(|| panic!("{}", gh.http.log_text()));
    assert_eq!(
        download.host.as_deref().map(|h| h.starts_with("127.0.0.1")),
        Some(true)
    );
    assert_eq!(download.authorization, None, "{}", gh.http.log_text());
}

/// `--locked` fetches the locked release even after a newer one appeared;
/// a plain sync moves to it. As vendir.
#[test]
fn locked_pins_the_release() {
    let gh = FakeGithub::start(None);
    fixture(&gh);
    let config = vendir_config(
        &[one_content(
            "vendor/x",
            &release(
                "acme/tool",
                "tag: v1.2.0",
                "  assetNames: [tool-linux-amd64]",
            ),
        )],
        &[],
    )
    .replace("tag: v1.2.0", "latest: true");
    let env = [("GITHUB_API_URL", gh.api_url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = Pair::new();
    p.ours(&config, &env, &[]).ok();
    let lock = p.ours.lock();
    assert!(lock.contains("tag: v1.2.0"), "{lock}");
    gh.add_release(
        "acme/tool",
        FakeRelease::new("v1.3.0")
            .asset("tool-linux-amd64", b"newer\n".to_vec())
            .with_checksums_in_notes(),
    );
    let state = p.ours.state();
    p.ours(&config, &env, &["--locked"]).ok();
    assert_eq!(p.ours.state(), state);
    p.ours(&config, &env, &[]).ok();
    assert!(p.ours.lock().contains("tag: v1.3.0"), "{}", p.ours.lock());
    assert_eq!(
        fs::read(p.ours.dir.join("vendor/x/tool-linux-amd64")).unwrap(),
        b"newer\n"
    );
}
