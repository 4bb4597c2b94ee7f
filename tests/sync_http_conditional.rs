//! Conditional requests on warm syncs (issue 15 item 5): an `http` content
//! without `sha256` and a `githubRelease`'s release document are asked for
//! with the stored `ETag` / `Last-Modified`; on `304 Not Modified` the cached
//! body is reused (nothing downloaded again) and the tree and lock are those
//! of a full fetch; a `200` (the upstream changed) replaces the stored copy.

mod support;

use std::sync::{Arc, Mutex};

use support::fixtures::*;
use support::servers::*;
use support::sync::Work;
use support::*;

/// Files served: (path, body).
type Files = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An upstream whose files the test can change.
struct Upstream {
    server: HttpServer,
    files: Files,
}

impl Upstream {
    fn start(validator: Validator, files: &[(&str, Vec<u8>)]) -> Upstream {
        let files: Files = Arc::new(Mutex::new(
            files
                .iter()
                .map(|(p, b)| (p.to_string(), b.clone()))
                .collect::<Vec<_>>(),
        ));
        let f = files.clone();
        let handler: Handler = Arc::new(move |req: &HttpRequest| {
            let files = f.lock().unwrap();
            match files.iter().find(|(p, _)| p == req.path()) {
                Some((_, body)) => HttpResponse::new(200, "application/octet-stream", body.clone()),
                None => HttpResponse::not_found(),
            }
        });
        Upstream {
            server: HttpServer::start(with_validators(handler, validator)),
            files,
        }
    }

    fn set(&self, path: &str, body: Vec<u8>) {
        let mut files = self.files.lock().unwrap();
        files.iter_mut().find(|(p, _)| p == path).unwrap().1 = body;
    }

    /// (status, body bytes) of every request, in order.
    fn statuses(&self) -> Vec<(u16, u64)> {
        self.server
            .log()
            .iter()
            .map(|l| (l.status, l.bytes))
            .collect()
    }
}

fn archive(readme: &str) -> Vec<u8> {
    tar_of(&[
        ("pkg/README", readme.as_bytes()),
        ("pkg/bin/tool", b"#!/bin/sh\n"),
    ])
    .finish_gz()
}

fn http_config(base: &str) -> String {
    format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
         - path: vendor\n  contents:\n\
         \x20 - path: plain\n    http: {{url: {base}/files/tool.txt}}\n\
         \x20 - path: arch\n    http: {{url: {base}/files/pkg.tgz}}\n"
    )
}

fn http_round_trip(validator: Validator) {
    let up = Upstream::start(
        validator,
        &[
            ("/files/tool.txt", b"tool v1\n".to_vec()),
            ("/files/pkg.tgz", archive("v1\n")),
        ],
    );
    let config = http_config(&up.server.url());
    let w = Work::new();
    w.config(&config);
    w.sync(&[]).ok();
    let first = w.state();
    assert_eq!(up.statuses().iter().filter(|s| s.0 == 200).count(), 2);

    // Warm: both answered 304, no body sent, the same tree and lock.
    up.server.clear_log();
    w.sync(&[]).ok();
    assert_eq!(
        up.statuses(),
        vec![(304, 0), (304, 0)],
        "{}",
        up.server.log_text()
    );
    assert_eq!(w.state(), first);

    // Identical to a full fetch into a fresh directory with an empty cache.
    let cold = Work::new();
    cold.config(&config);
    cold.sync(&[]).ok();
    assert_eq!(cold.state(), first);

    // The upstream changes: a 200 with the new body, picked up.
    up.set("/files/pkg.tgz", archive("v2\n"));
    up.server.clear_log();
    w.sync(&[]).ok();
    let mut statuses = up.statuses();
    statuses.sort();
    assert_eq!(statuses[0], (200, archive("v2\n").len() as u64));
    assert_eq!(statuses[1], (304, 0));
    let readme = w.dir.join("vendor/arch/pkg/README");
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "v2\n");

    // The 200 replaced the stored copy: the next sync is 304s again and keeps v2.
    up.server.clear_log();
    w.sync(&[]).ok();
    assert_eq!(up.statuses(), vec![(304, 0), (304, 0)]);
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "v2\n");

    // A cache that lost its blobs asks unconditionally (never a 304 it cannot use).
    std::fs::remove_dir_all(w.cache.join("blobs")).unwrap();
    up.server.clear_log();
    w.sync(&[]).ok();
    assert!(
        up.statuses().iter().all(|s| s.0 == 200),
        "{}",
        up.server.log_text()
    );
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), "v2\n");
}

#[test]
fn unpinned_http_with_etag_is_reused_on_304_and_refetched_on_change() {
    http_round_trip(Validator::ETag);
}

#[test]
fn unpinned_http_with_last_modified_is_reused_on_304_and_refetched_on_change() {
    http_round_trip(Validator::LastModified);
}

#[test]
fn pinned_http_sends_no_conditional_request() {
    // With sha256 the cached blob is used without asking at all (as before).
    let body = b"pinned\n".to_vec();
    let up = Upstream::start(Validator::ETag, &[("/files/p.txt", body.clone())]);
    let w = Work::new();
    w.config(&format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
         - path: vendor\n  contents:\n\
         \x20 - path: p\n    http: {{url: {}/files/p.txt, sha256: \"{}\"}}\n",
        up.server.url(),
        sha256_hex(&body)
    ));
    w.sync(&[]).ok();
    up.server.clear_log();
    w.sync(&[]).ok();
    assert_eq!(up.statuses(), vec![], "{}", up.server.log_text());
}

fn gh_cmd(w: &Work, gh: &FakeGithub) -> std::process::Command {
    let mut c = w.cmd(&[]);
    c.env("GITHUB_API_URL", gh.api_url())
        .env_remove("GITHUB_TOKEN")
        .env_remove("VENDIR_GITHUB_API_TOKEN");
    c
}

#[test]
fn release_document_is_reused_on_304_and_a_new_release_is_picked_up() {
    let gh = FakeGithub::start_with_etags(None);
    let assets = |tag: &str| {
        (0..6)
            .map(|i| {
                (
                    format!("tool-{i}.bin"),
                    format!("{tag} asset {i}\n").into_bytes(),
                )
            })
            .collect::<Vec<_>>()
    };
    let release = |tag: &str| {
        let mut r = FakeRelease::new(tag);
        for (n, d) in assets(tag) {
            r = r.asset(&n, d);
        }
        r.with_checksums_in_notes()
    };
    gh.add_release("o/r", release("v1.0.0"));
    let w = Work::new();
    // Assets unpinned too (no checksums), so a fetch would download them again.
    let config = "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
         - path: vendor\n  contents:\n\
         \x20 - path: latest\n    githubRelease: {slug: o/r, latest: true, \
         disableAutoChecksumValidation: true}\n\
         \x20 - path: pinned\n    githubRelease: {slug: o/r, tag: v1.0.0}\n";
    w.config(config);
    run(&mut gh_cmd(&w, &gh)).ok();
    let first = w.state();
    for (n, d) in assets("v1.0.0") {
        assert_eq!(
            std::fs::read(w.dir.join("vendor/latest").join(&n)).unwrap(),
            d
        );
    }

    gh.http.clear_log();
    run(&mut gh_cmd(&w, &gh)).ok();
    let log = gh.http.log();
    let text = gh.http.log_text();
    assert!(
        log.iter()
            .any(|l| l.target.ends_with("/releases/latest") && l.status == 304),
        "{text}"
    );
    assert!(
        log.iter()
            .any(|l| l.target.ends_with("/releases/tags/v1.0.0") && l.status == 304),
        "{text}"
    );
    assert!(log.iter().all(|l| l.bytes == 0), "re-downloaded:\n{text}");
    assert_eq!(w.state(), first);

    // The same as a cold sync.
    let cold = Work::new();
    cold.config(config);
    run(&mut gh_cmd(&cold, &gh)).ok();
    assert_eq!(cold.state(), first);

    // A new latest release: the document is a 200 and its assets arrive.
    gh.add_release("o/r", release("v2.0.0"));
    gh.http.clear_log();
    run(&mut gh_cmd(&w, &gh)).ok();
    assert!(w.lock().contains("tag: v2.0.0"), "{}", w.lock());
    for (n, d) in assets("v2.0.0") {
        assert_eq!(
            std::fs::read(w.dir.join("vendor/latest").join(&n)).unwrap(),
            d
        );
    }
    assert!(gh
        .http
        .log()
        .iter()
        .any(|l| l.target.ends_with("/releases/latest") && l.status == 200));
}
