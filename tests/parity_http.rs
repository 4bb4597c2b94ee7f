//! The `http` source, side by side with vendir v0.44.0 (docs/dev/vendir-reference.md):
//! the same vendir.yml synced by both against a loopback file server, trees (names,
//! bytes, exec bits) and locks compared; failures refused by both, leaving vendoras's
//! tree and lock byte-identical; credentials never in output and never sent to
//! another host on a redirect.

mod support;

use std::fs;
use std::sync::Arc;

use support::fixtures::*;
use support::servers::*;
use support::sync::Work;
use support::vendir::*;
use support::*;

/// Both tools on the same config: (vendoras, vendir) outcomes.
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

    fn sync(&self, config: &str) -> (Outcome, Outcome) {
        self.ours.config(config);
        self.theirs.config(config);
        (self.ours.sync(&[]), self.theirs.sync(&[]))
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

const FILES: &[(&str, &[u8])] = &[
    ("a.txt", b"alpha\n"),
    ("exec:bin/tool", b"#!/bin/sh\necho tool\n"),
    ("d/e/f.txt", b"deep\n"),
];

struct Site {
    _dir: tempfile::TempDir,
    server: HttpServer,
    tgz: Vec<u8>,
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let tgz = tar_of(FILES).finish_gz();
    fs::write(dir.path().join("pkg.tgz"), &tgz).unwrap();
    fs::write(dir.path().join("pkg.tar"), tar_of(FILES).finish()).unwrap();
    fs::write(dir.path().join("pkg.zip"), zip_of(FILES)).unwrap();
    fs::write(dir.path().join("tool.bin"), b"plain bytes\n").unwrap();
    let server = HttpServer::files(dir.path());
    Site {
        _dir: dir,
        server,
        tgz,
    }
}

impl Site {
    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.server.url())
    }
}

#[test]
fn tgz_zip_tar_plain_and_disable_unpack_match_vendir() {
    let s = site();
    let config = vendir_config(
        &[
            one_content(
                "vendor/tgz",
                &format!(
                    "http:\n  url: {}\n  sha256: \"{}\"",
                    s.url("pkg.tgz"),
                    sha256_hex(&s.tgz)
                ),
            ),
            one_content("vendor/tar", &format!("http:\n  url: {}", s.url("pkg.tar"))),
            one_content("vendor/zip", &format!("http:\n  url: {}", s.url("pkg.zip"))),
            one_content(
                "vendor/plain",
                &format!("http:\n  url: {}", s.url("tool.bin")),
            ),
            one_content(
                "vendor/packed",
                &format!("http:\n  url: {}\n  disableUnpack: true", s.url("pkg.tgz")),
            ),
        ],
        &[],
    );
    let p = Pair::new();
    let (ours, theirs) = p.sync(&config);
    ours.ok();
    theirs.ok();
    p.assert_same("tgz, tar, zip, plain, disableUnpack");
    // Not vacuous: the archives were unpacked and the plain file kept its name.
    let tree = p.ours.tree("vendor");
    for f in [
        "tgz/a.txt",
        "tar/d/e/f.txt",
        "zip/bin/tool",
        "plain/tool.bin",
        "packed/pkg.tgz",
    ] {
        assert!(tree.contains_key(f), "{f} missing:\n{}", format_tree(&tree));
    }
    assert!(p.ours.lock().contains("http: {}"), "{}", p.ours.lock());

    // Re-sync: the sha256-pinned directory is kept without a request; the others
    // (a URL may serve other bytes tomorrow) are fetched again.
    let before = s.server.count("/pkg.tgz");
    let state = p.ours.state();
    p.ours.sync(&[]).ok();
    assert_eq!(p.ours.state(), state);
    assert_eq!(
        s.server.count("/pkg.tgz"),
        before + 1,
        "only disableUnpack's unpinned pkg.tgz is asked again:\n{}",
        s.server.log_text()
    );
}

#[test]
fn sha256_mismatch_and_404_are_refused_by_both_and_change_nothing() {
    let s = site();
    let good = vendir_config(
        &[one_content(
            "vendor/tgz",
            &format!("http:\n  url: {}", s.url("pkg.tgz")),
        )],
        &[],
    );
    let p = Pair::new();
    let (ours, theirs) = p.sync(&good);
    ours.ok();
    theirs.ok();
    let before = p.ours.state();

    let wrong = "ab".repeat(32);
    let bad_sum = vendir_config(
        &[one_content(
            "vendor/tgz",
            &format!("http:\n  url: {}\n  sha256: \"{wrong}\"", s.url("pkg.tgz")),
        )],
        &[],
    );
    let (ours, theirs) = p.sync(&bad_sum);
    assert!(!ours.success() && !theirs.success(), "{ours:?}\n{theirs:?}");
    assert!(
        theirs.stderr.contains("Expected digest to match"),
        "{theirs:?}"
    );
    // vendoras names both digests and the URL.
    for needle in [
        format!("sha256:{wrong}"),
        format!("sha256:{}", sha256_hex(&s.tgz)),
        s.url("pkg.tgz"),
    ] {
        assert!(ours.stderr.contains(&needle), "{needle} missing: {ours:?}");
    }
    assert_eq!(p.ours.state(), before);

    let missing = vendir_config(
        &[one_content(
            "vendor/tgz",
            &format!("http:\n  url: {}", s.url("missing.tgz")),
        )],
        &[],
    );
    let (ours, theirs) = p.sync(&missing);
    assert!(!ours.success() && !theirs.success(), "{ours:?}\n{theirs:?}");
    for out in [&ours, &theirs] {
        assert!(
            out.stderr
                .contains("Expected 200 OK, but was '404 Not Found'"),
            "{out:?}"
        );
    }
    assert!(ours.stderr.contains("missing.tgz"), "{ours:?}");
    assert_eq!(p.ours.state(), before);
}

#[test]
fn basic_auth_secret_matches_vendir_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = tar_of(&[("x.txt", b"x\n")]).finish_gz();
    fs::write(dir.path().join("x.tgz"), &tgz).unwrap();
    let password = "web-Pa55-s3cret";
    let server = HttpServer::start_with_basic_auth(static_files(dir.path()), "webuser", password);
    let url = format!("{}/x.tgz", server.url());
    let with = |data: &[(&str, &str)]| {
        vendir_config(
            &[one_content(
                "vendor/x",
                &format!("http:\n  url: {url}\n  secretRef:\n    name: web"),
            )],
            &[secret_doc("web", data)],
        )
    };
    let p = Pair::new();
    let (ours, theirs) = p.sync(&with(&[("username", "webuser"), ("password", password)]));
    let ours = ours.ok();
    theirs.ok();
    p.assert_same("basic auth");
    assert!(p.ours.tree("vendor").contains_key("x/x.txt"));
    let before = p.ours.state();

    // Wrong password: both refused with the status, and the secret shown nowhere.
    let (bad, theirs) = p.sync(&with(&[
        ("username", "webuser"),
        ("password", "nope-Wr0ng"),
    ]));
    assert!(!bad.success() && !theirs.success());
    assert!(bad.stderr.contains("401 Unauthorized"), "{bad:?}");
    // No secret: the same.
    let none = vendir_config(
        &[one_content("vendor/x", &format!("http:\n  url: {url}"))],
        &[],
    );
    let (anon, theirs) = p.sync(&none);
    assert!(!anon.success() && !theirs.success());
    assert!(
        anon.stderr
            .contains("Expected 200 OK, but was '401 Unauthorized'"),
        "{anon:?}"
    );
    // A key vendir does not know in the Secret: refused by both, by name.
    let (unknown, theirs) = p.sync(&with(&[("token", "tok-Secret-9")]));
    assert!(!unknown.success() && !theirs.success());
    for out in [&unknown, &theirs] {
        assert!(
            out.stderr
                .contains("Unknown secret field 'token' in secret 'web'"),
            "{out:?}"
        );
    }
    assert_eq!(p.ours.state(), before);
    for out in [&ours, &bad, &anon, &unknown] {
        let text = format!("{}{}", out.stdout, out.stderr);
        for secret in [password, "nope-Wr0ng", "tok-Secret-9"] {
            assert!(!text.contains(secret), "{secret} leaked: {out:?}");
        }
    }
    // --json output too.
    p.ours.config(&with(&[
        ("username", "webuser"),
        ("password", "nope-Wr0ng"),
    ]));
    let json = p.ours.sync(&["--json"]);
    assert!(!json.success());
    assert!(!format!("{}{}", json.stdout, json.stderr).contains("nope-Wr0ng"));
}

/// Credentials go to the URL's own origin only. A redirect to another host
/// (`localhost` vs `127.0.0.1`) or another port of the same host arrives
/// without the Authorization header.
#[test]
fn a_redirect_to_another_host_or_port_does_not_carry_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let tgz = tar_of(&[("x.txt", b"x\n")]).finish_gz();
    fs::write(dir.path().join("x.tgz"), &tgz).unwrap();
    let other = HttpServer::files(dir.path());
    let other_port = other.addr().port();
    let origin = HttpServer::start_with_basic_auth(
        Arc::new(move |req: &HttpRequest| {
            let host = if req.path().starts_with("/by-name/") {
                "localhost"
            } else {
                "127.0.0.1"
            };
            HttpResponse::redirect(&format!("http://{host}:{other_port}/x.tgz"))
        }),
        "webuser",
        "redirect-Pa55",
    );
    let work = Work::new();
    for path in ["by-name/x.tgz", "by-port/x.tgz"] {
        work.config(&vendir_config(
            &[one_content(
                "vendor/x",
                &format!(
                    "http:\n  url: {}/{path}\n  secretRef:\n    name: web",
                    origin.url()
                ),
            )],
            &[secret_doc(
                "web",
                &[("username", "webuser"), ("password", "redirect-Pa55")],
            )],
        ));
        work.sync(&[]).ok();
        assert!(work.tree("vendor").contains_key("x/x.txt"));
    }
    let first = origin.log();
    assert_eq!(first.len(), 2, "{}", origin.log_text());
    assert!(first.iter().all(|l| l.authorization.is_some()));
    let log = other.log();
    assert_eq!(log.len(), 2, "{}", other.log_text());
    assert_eq!(
        log[0].host.as_deref(),
        Some(format!("localhost:{other_port}").as_str())
    );
    for l in &log {
        assert_eq!(
            l.authorization, None,
            "credentials followed the redirect: {l}"
        );
    }
}
