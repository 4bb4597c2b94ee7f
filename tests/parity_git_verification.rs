//! `git.verification.publicKeysSecretRef` side by side with vendir v0.44.0: a
//! repository (served by `git http-backend`) with a GPG-signed commit, a signed
//! annotated tag on an unsigned commit, an unsigned annotated tag and unsigned
//! commits, signed with keys generated here by `gpg --batch --quick-gen-key` in a
//! temp GNUPGHOME. The good key is accepted, the wrong key and unsigned objects
//! refused, by both tools alike; refusals leave tree and lock byte-identical.
//! Where vendoras differs on purpose (a branch ref, `--locked` on a signed tag;
//! docs/differences.md, "git"), the test asserts the difference.
//!
//! RSA keys: vendir's Go openpgp package cannot read ed25519 keys.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::fixtures::*;
use support::pair::{assert_both_ok, Pair};
use support::servers::*;
use support::vendir::*;
use support::*;

/// A throwaway GNUPGHOME with two signing keys; its agent is stopped on drop.
struct Keys {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    good: String,
    good_fpr: String,
    other: String,
}

impl Keys {
    fn new() -> Keys {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("gnupg");
        std::fs::create_dir(&home).unwrap();
        set_mode(&home, 0o700);
        let gpg = |args: &[&str]| run(Self::cmd(&home).args(args)).ok().stdout;
        for uid in [
            "Good Signer <good@vendoras.invalid>",
            "Other Signer <other@vendoras.invalid>",
        ] {
            gpg(&[
                "--passphrase",
                "",
                "--quick-gen-key",
                uid,
                "rsa2048",
                "sign",
                "never",
            ]);
        }
        let good_fpr = gpg(&["--with-colons", "--list-keys", "good@vendoras.invalid"])
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .unwrap();
        Keys {
            good: gpg(&["--armor", "--export", "good@vendoras.invalid"]),
            other: gpg(&["--armor", "--export", "other@vendoras.invalid"]),
            good_fpr,
            home,
            _tmp: tmp,
        }
    }

    fn cmd(home: &Path) -> Command {
        let mut c = Command::new("gpg"); // Debian's gnupg (scripts/install-test-deps.sh)
        c.env("GNUPGHOME", home).args(["--batch", "--quiet"]);
        c
    }

    /// git in `dir` signing with the good key.
    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut c = git_cmd(dir);
        c.env("GNUPGHOME", &self.home)
            .args(["-c", &format!("user.signingkey={}", self.good_fpr)])
            .args(args);
        run(&mut c).ok().stdout.trim().to_string()
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        // Signing started an agent for this home; nothing else uses it.
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "all"])
            .status();
    }
}

/// The repository:
/// - `unsigned` (tag `unsigned-tag`), then the signed commit `signed` (branch
///   `main`, lightweight tag `lw-signed`);
/// - `signed-tag`: signed annotated tag on the unsigned commit;
/// - `ann-unsigned`: unsigned annotated tag on the signed commit.
struct Repo {
    _tmp: tempfile::TempDir,
    server: HttpServer,
    unsigned: String,
    signed: String,
}

impl Repo {
    fn new(keys: &Keys) -> Repo {
        let tmp = tempfile::tempdir().unwrap();
        let repo = GitRepo::init(&tmp.path().join("src/app"));
        let unsigned = repo.commit(&[("README.md", b"v1\n")], "unsigned commit");
        repo.tag_lightweight("unsigned-tag");
        std::fs::write(repo.work.join("README.md"), "v2\n").unwrap();
        keys.git(
            &repo.work,
            &["commit", "-q", "-a", "-S", "-m", "signed commit"],
        );
        let signed = repo.head();
        repo.tag_lightweight("lw-signed");
        keys.git(
            &repo.work,
            &["tag", "-s", "-m", "signed tag", "signed-tag", &unsigned],
        );
        repo.tag_annotated("ann-unsigned", "not signed");
        repo.publish(&tmp.path().join("app.git"));
        let server = GitHttp::start(tmp.path());
        Repo {
            _tmp: tmp,
            server,
            unsigned,
            signed,
        }
    }

    fn url(&self) -> String {
        format!("{}/app.git", self.server.url())
    }
}

fn config(url: &str, reference: &str, keys: &[&str]) -> String {
    let data: Vec<(String, &str)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("key{i}.asc"), *k))
        .collect();
    let data: Vec<(&str, &str)> = data.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    vendir_config(
        &[one_content(
            "vendor/app",
            &format!(
                "git:\n  url: {url}\n  ref: {reference}\n  verification:\n    \
                 publicKeysSecretRef:\n      name: signers"
            ),
        )],
        &[secret_doc("signers", &data)],
    )
}

fn states(p: &Pair) -> ((Tree, String), (Tree, String)) {
    ((p.vendir.tree("vendor"), p.vendir.lock()), p.ours.state())
}

/// Both succeed with the same work tree, `.git/HEAD` and lock.
#[track_caller]
fn assert_same(p: &Pair, context: &str, out: &(Outcome, Outcome)) {
    assert_both_ok(context, out);
    let work = |t: Tree| -> Tree {
        t.into_iter()
            .filter(|(p, _)| !p.starts_with(".git/") || p == ".git/HEAD")
            .collect()
    };
    assert_same_tree(
        context,
        "vendir",
        &work(p.vendir.tree("vendor/app")),
        "vendoras",
        &work(p.ours.tree("vendor/app")),
    );
    assert_same_lock(context, &p.vendir.lock(), &p.ours.lock(), &[]);
}

/// Both refuse, each saying `needle`; nothing changed on either side.
#[track_caller]
fn assert_refused(p: &Pair, context: &str, needle: &str, ours_too: &[&str]) {
    let before = states(p);
    let (theirs, ours) = p.syncs(&[]);
    assert!(!theirs.success(), "{context}: vendir accepted: {theirs:?}");
    assert!(!ours.success(), "{context}: vendoras accepted: {ours:?}");
    let text = |o: &Outcome| format!("{}{}", o.stdout, o.stderr);
    assert!(text(&theirs).contains(needle), "{context}: {theirs:?}");
    for n in std::iter::once(&needle).chain(ours_too) {
        assert!(
            text(&ours).contains(n),
            "{context}: missing {n:?}: {ours:?}"
        );
    }
    assert_eq!(states(p), before, "{context}: a refusal changed something");
}

fn lock_sha(lock: &str) -> String {
    let entry = lock_entry(&yaml(lock).unwrap(), "vendor/app", ".").unwrap();
    field(&entry, "git", "sha").unwrap()
}

#[test]
fn good_key_accepted_wrong_key_and_unsigned_refused_as_vendir_does() {
    let keys = Keys::new();
    let repo = Repo::new(&keys);
    let url = repo.url();
    let p = Pair::new();

    // A signed annotated tag (its commit is unsigned): the tag is what counts.
    p.config(&config(&url, "signed-tag", &[&keys.good]));
    let out = p.syncs(&[]);
    assert_same(&p, "signed tag, good key", &out);
    assert_eq!(lock_sha(&p.ours.lock()), repo.unsigned);

    // The signed commit, by sha and by a lightweight tag; the good key among others.
    for r in [repo.signed.as_str(), "lw-signed"] {
        p.config(&config(&url, r, &[&keys.other, &keys.good]));
        let out = p.syncs(&[]);
        assert_same(&p, &format!("signed commit via {r}"), &out);
        assert_eq!(lock_sha(&p.ours.lock()), repo.signed);
    }

    // Refusals, from a synced state that must survive each of them.
    let unknown = "signature made by unknown entity (hint: provided public key does not match \
                   signature)";
    for r in ["signed-tag", repo.signed.as_str()] {
        p.config(&config(&url, r, &[&keys.other]));
        assert_refused(&p, &format!("{r}, wrong key"), unknown, &[&url, r]);
    }
    p.config(&config(&url, "unsigned-tag", &[&keys.good]));
    assert_refused(
        &p,
        "unsigned commit",
        "Expected to find commit signature",
        &["unsigned-tag"],
    );
    // An unsigned annotated tag is refused even though its commit is signed.
    p.config(&config(&url, "ann-unsigned", &[&keys.good]));
    assert_refused(
        &p,
        "unsigned annotated tag",
        "Expected to find tag signature",
        &[],
    );
    p.config(&config(&url, "lw-signed", &["not a key"]));
    assert_refused(&p, "no key in the Secret", "armored", &[]);
}

#[test]
fn branch_refs_and_locked_tags_are_verified_where_vendir_cannot() {
    let keys = Keys::new();
    let repo = Repo::new(&keys);
    let url = repo.url();
    let p = Pair::new();

    // A branch: vendir asks `git cat-file commit main`, which does not resolve in
    // its fresh clone, so it always fails; vendoras checks the branch's commit
    // (docs/differences.md, "git").
    p.config(&config(&url, "main", &[&keys.good]));
    let (theirs, ours) = p.syncs(&[]);
    assert!(!theirs.success(), "{theirs:?}");
    assert!(
        theirs.stderr.contains("Not a valid object name main"),
        "{theirs:?}"
    );
    assert!(ours.success(), "{ours:?}");
    assert_eq!(lock_sha(&p.ours.lock()), repo.signed);
    p.config(&config(&url, "main", &[&keys.other]));
    let before = p.ours.state();
    let out = p.ours_sync(&[]);
    assert!(
        !out.success() && out.stderr.contains("unknown entity"),
        "{out:?}"
    );
    assert_eq!(p.ours.state(), before);

    // --locked on a signed tag: vendir checks the locked sha as a commit (unsigned
    // here) and fails; vendoras checks the tag, which still names that commit.
    p.config(&config(&url, "signed-tag", &[&keys.good]));
    let out = p.syncs(&[]);
    assert_same(&p, "signed tag", &out);
    let lock = p.ours.lock();
    // A changed tree makes vendoras fetch (and verify) again rather than keep it.
    std::fs::write(p.ours.dir.join("vendor/app/stray"), "x").unwrap();
    let (theirs, ours) = p.syncs(&["--locked"]);
    assert!(
        !theirs.success() && theirs.stderr.contains("Expected to find commit signature"),
        "{theirs:?}"
    );
    assert!(ours.success(), "{ours:?}");
    assert_eq!(p.ours.lock(), lock);
    assert!(!p.ours.dir.join("vendor/app/stray").exists());
}
