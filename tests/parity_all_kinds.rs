//! One `vendir.yml` holding every source kind in one directory (git, hg, http,
//! githubRelease via `url:`, image, imgpkgBundle, helmChart from a chart repository,
//! ociArtifact, manual, inline), all served from loopback, run side by side through
//! vendir v0.44.0 and vendoras: synced, edited upstream and re-synced, then synced
//! `--locked` after upstream moved again.
//!
//! vendir has no `ociArtifact` source (docs/differences.md, "ociArtifact"), so its
//! side runs the same config without that one content; the lock comparison leaves
//! out only that entry. `.git`/`.hg` are compared as docs/differences.md ("git" and
//! "hg") says: same `HEAD` / `hgrc`, same work tree; the rest is bookkeeping. Every
//! other content is compared file by file (names, bytes, modes).

mod support;

use std::fs;
use std::path::Path;

use support::fixtures::*;
use support::servers::*;
use support::sync::{files_tree, oras_push_in, Work};
use support::vendir::*;
use support::*;

/// The ociArtifact content's path inside `vendor/`; the only lock entry vendir lacks.
const OCI: &str = "oci-artifact";
const OCI_LOCK_KEY: &str = "directories.vendor.contents.oci-artifact";

/// Content paths compared file by file (besides git and hg).
const PLAIN: [&str; 7] = [
    "http", "release", "image", "bundle", "chart", "inline", "manual",
];

/// Every upstream the config reads, each on its own loopback server.
struct Upstreams {
    tmp: tempfile::TempDir,
    registry: Registry,
    git: GitFixture,
    git_http: HttpServer,
    hg_repo: std::path::PathBuf,
    hg: HgServe,
    files: HttpServer,
    github: FakeGithub,
    charts: HttpServer,
}

impl Upstreams {
    fn start() -> Upstreams {
        let tmp = tempfile::tempdir().unwrap();
        let registry = Registry::start();

        let git = GitFixture::build(&tmp.path().join("git"));
        let git_http = GitHttp::start(&tmp.path().join("git"));

        let hg_fx = HgFixture::build(&tmp.path().join("hg"));
        let hg = HgServe::start(&hg_fx.repo);

        let site = tmp.path().join("site");
        fs::create_dir_all(&site).unwrap();
        let files = HttpServer::files(&site);

        let github = FakeGithub::start(None);
        github.add_release(
            "acme/tool",
            FakeRelease::new("v1.2.0")
                .asset("tool-linux-amd64", b"linux binary\n".to_vec())
                .asset("tool.txt", b"release notes file\n".to_vec())
                .with_checksums_in_notes(),
        );

        let repo = helm_repo(&tmp.path().join("helm"), &[("demo", "0.1.0", "1.0")]);
        let charts = HttpServer::files(&repo);

        let oci_src = tmp.path().join("oci-src");
        fs::create_dir_all(&oci_src).unwrap();
        fs::write(oci_src.join("policy.rego"), "package vendoras\n").unwrap();
        oras_push_in(
            &registry,
            &oci_src,
            &[],
            &registry.reference("policies", "v1"),
            &["policy.rego"],
        );

        let up = Upstreams {
            tmp,
            registry,
            git,
            git_http,
            hg_repo: hg_fx.repo,
            hg,
            files,
            github,
            charts,
        };
        up.http_asset("v1");
        up.image("v1");
        up.bundle("v1");
        up
    }

    fn site(&self) -> std::path::PathBuf {
        self.tmp.path().join("site")
    }

    /// (Re)writes the http archive, its contents saying `label`.
    fn http_asset(&self, label: &str) {
        let text = format!("http asset {label}\n");
        let tgz = tar_of(&[
            ("pkg/README", text.as_bytes()),
            ("pkg/conf/app.yml", b"replicas: 1\n"),
        ])
        .finish_gz();
        fs::write(self.site().join("pkg.tgz"), tgz).unwrap();
    }

    /// (Re)pushes `img/app:v1`, its layer saying `label`; returns the digest.
    fn image(&self, label: &str) -> String {
        let layer = tar_of(&[
            ("etc/app.conf", format!("image {label}\n").as_bytes()),
            ("exec:usr/bin/app", b"#!/bin/sh\n"),
        ])
        .finish();
        crane_image(&self.registry.reference("img/app", "v1"), &[layer], None)
    }

    /// (Re)pushes the bundle `bundles/app:v1` (labelled as imgpkg does) whose
    /// images.yml lists `img/app`'s current digest.
    fn bundle(&self, label: &str) {
        let image = format!(
            "{}/img/app@{}",
            self.registry.host(),
            crane_digest(&self.registry.reference("img/app", "v1"))
        );
        let images = format!(
            "---\napiVersion: imgpkg.carvel.dev/v1alpha1\nimages:\n- annotations:\n    \
             kbld.carvel.dev/id: app\n  image: {image}\nkind: ImagesLock\n"
        );
        let config = format!("bundle: {label}\n");
        let reference = self.registry.reference("bundles/app", "v1");
        crane_image(
            &reference,
            &[tar_of(&[
                (
                    ".imgpkg/bundle.yml",
                    b"apiVersion: imgpkg.carvel.dev/v1alpha1\nkind: Bundle\n",
                ),
                (".imgpkg/images.yml", images.as_bytes()),
                ("config/app.yml", config.as_bytes()),
            ])
            .finish()],
            None,
        );
        run(crane()
            .args([
                "mutate",
                "--insecure",
                "--label",
                "dev.carvel.imgpkg.bundle=true",
                "-t",
            ])
            .arg(&reference)
            .arg(&reference))
        .ok();
    }

    fn add_chart(&self, version: &str, app: &str) {
        helm_repo(&self.tmp.path().join("helm"), &[("demo", version, app)]);
    }

    /// A new changeset on hg's `default`.
    fn advance_hg(&self, label: &str) {
        let repo = &self.hg_repo;
        hg(repo, &["update", "-q", "default"]);
        fs::write(repo.join("moved.txt"), format!("hg {label}\n")).unwrap();
        hg(repo, &["add", "-q", "moved.txt"]);
        hg(
            repo,
            &["commit", "-m", &format!("hg {label}"), "-d", "1704164645 0"],
        );
    }

    /// The config; `with_oci` false gives vendir's side (no `ociArtifact`),
    /// every content `lazy: true` when `lazy`.
    fn config_with(&self, with_oci: bool, lazy: bool) -> String {
        let host = self.registry.host();
        let mut contents = vec![
            (
                "git",
                format!("git:\n  url: {}/app.git\n  ref: main", self.git_http.url()),
            ),
            (
                "hg",
                format!("hg:\n  url: {}\n  ref: default", self.hg.url()),
            ),
            (
                "http",
                format!("http:\n  url: {}/pkg.tgz", self.files.url()),
            ),
            (
                "release",
                format!(
                    "githubRelease:\n  slug: acme/tool\n  url: {}",
                    self.github.release_url("acme/tool", "v1.2.0")
                ),
            ),
            ("image", format!("image:\n  url: {host}/img/app:v1")),
            (
                "bundle",
                format!("imgpkgBundle:\n  image: {host}/bundles/app:v1"),
            ),
            (
                "chart",
                format!(
                    "helmChart:\n  name: demo\n  repository:\n    url: {}/",
                    self.charts.url()
                ),
            ),
            ("manual", "manual: {}".to_string()),
            (
                "inline",
                "inline:\n  paths:\n    notes/README.md: |\n      written inline\n    \
                 values.yml: \"a: 1\\n\""
                    .to_string(),
            ),
        ];
        if with_oci {
            contents.insert(
                7,
                (
                    OCI,
                    format!("ociArtifact:\n  image: {host}/policies\n  tag: v1\n  plainHTTP: true"),
                ),
            );
        }
        let mut dir = String::from("- path: vendor\n  contents:\n");
        for (path, source) in contents {
            dir.push_str(&format!("  - path: {path}\n"));
            if lazy {
                dir.push_str("    lazy: true\n");
            }
            for l in source.lines() {
                dir.push_str(&format!("    {l}\n"));
            }
        }
        vendir_config(&[dir], &[])
    }
}

/// vendir and vendoras in two work dirs, both in the isolated environment.
struct Pair {
    vendir: VendirWork,
    ours: Work,
}

impl Pair {
    fn new(up: &Upstreams) -> Pair {
        Pair::with(up, false)
    }

    fn with(up: &Upstreams, lazy: bool) -> Pair {
        let p = Pair {
            vendir: VendirWork::new(),
            ours: Work::new(),
        };
        p.vendir.config(&up.config_with(false, lazy));
        p.ours.config(&up.config_with(true, lazy));
        // `manual` keeps what is already there, in both tools.
        for root in [&p.vendir.dir, &p.ours.dir] {
            let hand = root.join("vendor/manual");
            fs::create_dir_all(hand.join("sub")).unwrap();
            fs::write(hand.join("notes.md"), "kept by hand\n").unwrap();
            fs::write(hand.join("sub/data.bin"), [0u8, 1, 2, 255]).unwrap();
        }
        p
    }

    fn ours_sync(&self, args: &[&str]) -> Outcome {
        let mut cmd = self.ours.cmd(args);
        isolate_vcs(&mut cmd);
        run(&mut cmd)
    }

    /// Both tools sync with `args`; both must succeed.
    #[track_caller]
    fn sync(&self, context: &str, args: &[&str]) {
        let theirs = self.vendir.sync(args);
        assert!(theirs.success(), "{context}: vendir failed: {theirs:?}");
        let ours = self.ours_sync(args);
        assert!(ours.success(), "{context}: vendoras failed: {ours:?}");
    }

    /// Every content as docs/differences.md says it compares, and the locks.
    #[track_caller]
    fn assert_same(&self, context: &str, up: &Upstreams, locked: bool) {
        let (theirs, ours) = (self.vendir.tree("vendor"), self.ours.tree("vendor"));
        let top = |t: &Tree| -> Vec<String> {
            t.keys()
                .filter(|k| !k.contains('/') && k.as_str() != OCI)
                .cloned()
                .collect()
        };
        assert_eq!(top(&theirs), top(&ours), "{context}: contents");
        for c in PLAIN {
            let t = self.vendir.tree(&format!("vendor/{c}"));
            assert!(!t.is_empty(), "{context}: vendir wrote nothing in {c}");
            assert_same_tree(
                &format!("{context}: {c}"),
                "vendir",
                &t,
                "vendoras",
                &self.ours.tree(&format!("vendor/{c}")),
            );
        }
        for (c, meta, kept) in [("git", ".git", "HEAD"), ("hg", ".hg", "hgrc")] {
            assert_same_tree(
                &format!("{context}: {c}"),
                "vendir",
                &work_tree(&self.vendir.tree(&format!("vendor/{c}")), meta),
                "vendoras",
                &work_tree(&self.ours.tree(&format!("vendor/{c}")), meta),
            );
            let read = |root: &Path| {
                fs::read_to_string(root.join("vendor").join(c).join(meta).join(kept)).unwrap()
            };
            let (theirs, ours) = (read(&self.vendir.dir), read(&self.ours.dir));
            if c == "git" && locked {
                // docs/differences.md ("git"): under --locked vendir detaches at the
                // locked sha; vendoras stays on the branch, which in its mirror still
                // points at the locked commit (--locked fetches nothing).
                let sha = self.pinned("git", "git", "sha");
                assert_eq!(theirs, format!("{sha}\n"), "{context}: vendir git HEAD");
                assert_eq!(ours, "ref: refs/heads/main\n", "{context}: git HEAD");
                assert_eq!(
                    git(&self.ours.dir.join("vendor/git"), &["rev-parse", "HEAD"]),
                    sha,
                    "{context}: git HEAD"
                );
            } else {
                assert_eq!(theirs, ours, "{context}: {c}/{meta}/{kept}");
            }
        }
        // vendoras alone: the ociArtifact content and its lock entry.
        assert_same_tree(
            &format!("{context}: {OCI}"),
            "pushed",
            &files_tree(&[("policy.rego", b"package vendoras\n")]),
            "vendoras",
            &self.ours.tree(&format!("vendor/{OCI}")),
        );
        let lock = yaml(&self.ours.lock()).unwrap();
        let oci = lock_entry(&lock, "vendor", OCI).expect("ociArtifact lock entry");
        let url = field(&oci, "ociArtifact", "url").unwrap_or_default();
        assert!(
            url.starts_with(&format!("{}/policies@sha256:", up.registry.host())),
            "{context}: {}",
            self.ours.lock()
        );
        assert_same_lock(
            context,
            &self.vendir.lock(),
            &self.ours.lock(),
            &[OCI_LOCK_KEY],
        );
        // Byte for byte once the entry vendir lacks is left out.
        assert_same_lock(
            context,
            &self.vendir.lock(),
            &without_oci(&self.ours.lock()),
            &[],
        );
    }

    /// The locked identity of content `c`: `kind.key` from vendoras' lock.
    fn pinned(&self, c: &str, kind: &str, key: &str) -> String {
        let lock = yaml(&self.ours.lock()).unwrap();
        let e = lock_entry(&lock, "vendor", c).unwrap_or_else(|| panic!("{c}"));
        field(&e, kind, key).unwrap_or_else(|| panic!("{c}: {kind}.{key}"))
    }

    fn read(&self, rel: &str) -> (String, String) {
        let r = |root: &Path| fs::read_to_string(root.join(rel)).unwrap();
        (r(&self.vendir.dir), r(&self.ours.dir))
    }

    /// Tree and lock of both sides, `.git`/`.hg` bookkeeping left out.
    fn states(&self) -> ((Tree, String), (Tree, String)) {
        let state = |t: Tree, lock: String| (comparable(t), lock);
        (
            state(self.vendir.tree("vendor"), self.vendir.lock()),
            state(self.ours.tree("vendor"), self.ours.lock()),
        )
    }
}

/// vendoras' lock text without the ociArtifact entry, as vendoras writes it.
fn without_oci(lock: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vendir.lock.yml");
    fs::write(&path, lock).unwrap();
    let mut lock = vendoras::lock::LockConfig::read(&path).unwrap().unwrap();
    for d in &mut lock.directories {
        d.contents.retain(|c| c.path != OCI);
    }
    lock.to_yaml()
}

/// `t` without the files under `.git/`/`.hg/` except `HEAD`/`hgrc` (packs, index and
/// logs are rewritten by every clone).
fn comparable(t: Tree) -> Tree {
    t.into_iter()
        .filter(|(p, _)| {
            let inside = |c: &str, meta: &str, kept: &str| {
                p.starts_with(&format!("{c}/{meta}/")) && *p != format!("{c}/{meta}/{kept}")
            };
            !inside("git", ".git", "HEAD") && !inside("hg", ".hg", "hgrc")
        })
        .collect()
}

/// A checkout's work tree: `meta` (`.git`/`.hg`) must exist; its contents are left out.
fn work_tree(t: &Tree, meta: &str) -> Tree {
    assert!(
        matches!(t.get(meta), Some(Entry::Dir)),
        "no {meta} kept:\n{}",
        format_tree(t)
    );
    t.iter()
        .filter(|(p, _)| !p.starts_with(&format!("{meta}/")))
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect()
}

#[test]
fn every_kind_in_one_directory_synced_edited_resynced_and_locked() {
    let up = Upstreams::start();
    let p = Pair::new(&up);

    // 1. First sync.
    p.sync("first sync", &[]);
    p.assert_same("first sync", &up, false);
    assert_eq!(p.pinned("git", "git", "sha"), up.git.commits["third"]);
    assert_eq!(p.pinned("chart", "helmChart", "version"), "0.1.0");
    assert_eq!(
        p.read("vendor/manual/notes.md"),
        ("kept by hand\n".into(), "kept by hand\n".into())
    );
    let first = p.ours.lock();

    // 2. Edit every moving upstream: a new http asset, main moved on, the image
    // retagged (and the bundle with it), a newer chart, a new hg changeset.
    up.http_asset("v2");
    let moved = up.git.advance_main("moved on");
    let image_v2 = up.image("v2");
    up.bundle("v2");
    up.add_chart("0.2.0", "2.0");
    up.advance_hg("v2");
    p.sync("after the edit", &[]);
    p.assert_same("after the edit", &up, false);
    assert_ne!(p.ours.lock(), first);
    assert_eq!(p.pinned("git", "git", "sha"), moved);
    assert_eq!(
        p.pinned("image", "image", "url"),
        format!("{}/img/app@{image_v2}", up.registry.host())
    );
    assert_eq!(p.pinned("chart", "helmChart", "version"), "0.2.0");
    assert_eq!(
        p.read("vendor/http/pkg/README"),
        ("http asset v2\n".into(), "http asset v2\n".into())
    );
    assert_eq!(
        p.read("vendor/image/etc/app.conf"),
        ("image v2\n".into(), "image v2\n".into())
    );
    let edited = p.states();

    // 3. Upstream moves again (the http asset stays: neither tool pins an http
    // source without sha256, its lock entry is `http: {}`). A stray file in each
    // tree makes both rebuild the directory rather than keep it, so --locked has to
    // fetch exactly what the lock says.
    up.git.advance_main("moved again");
    up.image("v3");
    up.bundle("v3");
    up.add_chart("0.3.0", "3.0");
    up.advance_hg("v3");
    for root in [&p.vendir.dir, &p.ours.dir] {
        fs::write(root.join("vendor/stray.txt"), "not managed\n").unwrap();
    }
    p.sync("--locked", &["--locked"]);
    p.assert_same("--locked", &up, true);
    let locked = p.states();
    // vendir's checkout is detached at the sha now (its HEAD was the branch).
    let no_head = |t: &Tree| -> Tree {
        let mut t = t.clone();
        t.remove("git/.git/HEAD");
        t
    };
    assert_same_tree(
        "vendir --locked reproduces",
        "before",
        &no_head(&edited.0 .0),
        "after",
        &no_head(&locked.0 .0),
    );
    assert_same_tree(
        "vendoras --locked reproduces",
        "before",
        &edited.1 .0,
        "after",
        &locked.1 .0,
    );
    assert_eq!(locked.1 .1, edited.1 .1, "vendoras lock not byte-identical");
    assert_same_lock("vendir --locked", &edited.0 .1, &locked.0 .1, &[]);

    // 4. A plain sync moves on again, side by side.
    p.sync("after --locked", &[]);
    p.assert_same("after --locked", &up, false);
    assert_eq!(p.pinned("chart", "helmChart", "version"), "0.3.0");

    // The report names what each content is pinned to: once fetched (a stray
    // file forces it), once kept unchanged.
    for stray in [true, false] {
        if stray {
            fs::write(p.ours.dir.join("vendor/stray.txt"), "x").unwrap();
        }
        let out = p.ours_sync(&["--json"]);
        assert!(out.success(), "{out:?}");
        let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let reported = |c: &str| -> Option<String> {
            let entry = report["contents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["path"] == format!("vendor/{c}"))
                .unwrap_or_else(|| panic!("{c} not in {report}"));
            entry["digest"].as_str().map(str::to_string)
        };
        let digest_of = |c: &str, kind: &str, key: &str| {
            let v = p.pinned(c, kind, key);
            Some(v.rsplit_once('@').map_or(v.clone(), |(_, d)| d.to_string()))
        };
        for (c, kind, key) in [
            ("git", "git", "sha"),
            ("hg", "hg", "sha"),
            ("release", "githubRelease", "tag"),
            ("image", "image", "url"),
            ("bundle", "imgpkgBundle", "image"),
            ("chart", "helmChart", "version"),
            (OCI, "ociArtifact", "url"),
        ] {
            let want = digest_of(c, kind, key);
            assert_eq!(reported(c), want, "{c} (stray: {stray})");
            if matches!(c, "image" | "bundle" | OCI) {
                assert!(want.unwrap().starts_with("sha256:"), "{c}");
            }
        }
        for c in ["http", "manual", "inline"] {
            assert_eq!(reported(c), None, "{c}");
        }
    }
}

/// `lazy: true` on every kind: both tools write the same `configDigest`s (vendir's
/// hex SHA-256 of its marshalled content config), so the locks are byte-identical;
/// under `--locked` vendir hashes the config with the lock's pins applied, and so
/// does vendoras. Each tool then skips what its own lock says is unchanged.
#[test]
fn lazy_contents_lock_the_config_digests_vendir_writes() {
    let up = Upstreams::start();
    let p = Pair::with(&up, true);
    p.sync("lazy: first sync", &[]);
    p.assert_same("lazy: first sync", &up, false);
    let lock = p.ours.lock();
    assert_eq!(lock.matches("configDigest: ").count(), 10, "{lock}");

    // Upstream moves; the config does not: both skip every content.
    up.http_asset("v2");
    up.add_chart("0.2.0", "2.0");
    p.sync("lazy: unchanged config", &[]);
    p.assert_same("lazy: unchanged config", &up, false);
    assert_eq!(p.ours.lock(), lock);
    assert_eq!(
        p.read("vendor/http/pkg/README"),
        ("http asset v1\n".into(), "http asset v1\n".into())
    );

    // --locked: the digests of the locked configs, in both.
    p.sync("lazy: --locked", &["--locked"]);
    p.assert_same("lazy: --locked", &up, true);
    assert_ne!(
        p.ours.lock(),
        lock,
        "--locked digests differ from plain ones"
    );
}

/// The README's drop-in example is a config vendoras reads without a warning. Every
/// proxy points at a closed loopback port, so nothing leaves the machine: the sync
/// must get past loading the config and fail on the network, not on a key.
#[test]
fn readme_drop_in_example_loads_without_warnings() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("## A drop-in vendir").expect("drop-in section")..];
    let start = section.find("```yaml\n").expect("yaml example") + "```yaml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    for kind in [
        "git:",
        "githubRelease:",
        "helmChart:",
        "image:",
        "ociArtifact:",
    ] {
        assert!(example.contains(kind), "README example lacks {kind}");
    }
    let w = Work::new();
    w.config(example);
    let mut cmd = w.cmd(&["--json", "--jobs", "1"]);
    isolate_vcs(&mut cmd);
    for k in ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"] {
        cmd.env(k, "http://127.0.0.1:1");
    }
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
    let out = run(&mut cmd);
    assert!(!out.success(), "{out:?}");
    let report: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let kind = report["error"]["kind"].as_str().unwrap_or_default();
    assert!(!matches!(kind, "config" | "setting" | "usage"), "{out:?}");
    assert!(!out.stderr.to_lowercase().contains("warning"), "{out:?}");
    assert_eq!(w.lock(), "", "nothing may be written");
}
