//! `image:` side by side with vendir v0.44.0: the same vendir.yml through both,
//! trees and locks compared. Where vendoras differs on purpose (OCI layer
//! semantics, symlinks kept, the index refusal's wording), the test asserts the
//! documented difference instead (docs/differences.md).

mod support;

use std::fs;

use support::fixtures::*;
use support::sync::Work;
use support::vendir::*;
use support::*;

/// Both tools on one config; returns the two work dirs after a successful sync.
fn both(config: &str) -> (VendirWork, Work) {
    let v = VendirWork::new();
    v.config(config);
    v.sync(&[]).ok();
    let w = Work::new();
    w.config(config);
    w.sync(&[]).ok();
    (v, w)
}

fn image(dir: &str, url: &str, extra: &str) -> String {
    one_content(dir, &format!("image:\n  url: {url}\n{extra}"))
}

#[track_caller]
fn assert_parity(v: &VendirWork, w: &Work, dir: &str) {
    assert_same_tree(dir, "vendir", &v.tree(dir), "vendoras", &w.tree(dir));
}

#[test]
fn by_tag_by_digest_and_without_tag_match_vendir() {
    let registry = Registry::start();
    let layer = tar_of(&[
        ("etc/app.conf", b"conf\n"),
        ("exec:usr/bin/app", b"#!/bin/sh\n"),
    ])
    .finish();
    let digest = crane_image(
        &registry.reference("img/app", "v1"),
        std::slice::from_ref(&layer),
        None,
    );
    crane_image(&registry.reference("img/app", "latest"), &[layer], None);
    let config = vendir_config(
        &[
            image("vendor/tag", &registry.reference("img/app", "v1"), ""),
            image("vendor/digest", &registry.reference("img/app", &digest), ""),
            image("vendor/none", &format!("{}/img/app", registry.host()), ""),
        ],
        &[],
    );
    let (v, w) = both(&config);
    for d in ["vendor/tag", "vendor/digest", "vendor/none"] {
        assert_parity(&v, &w, d);
    }
    assert!(w.tree("vendor/tag").contains_key("usr/bin/app"));
    assert_same_lock("image by tag/digest/none", &v.lock(), &w.lock(), &[]);
    assert!(w
        .lock()
        .contains(&format!("{}/img/app@{digest}", registry.host())));
}

#[test]
fn tag_selection_picks_the_same_tag_as_vendir() {
    let registry = Registry::start();
    for t in ["1.0.0", "1.2.0", "2.0.0"] {
        crane_image(
            &registry.reference("img/sel", t),
            &[tar_of(&[("version", t.as_bytes())]).finish()],
            None,
        );
    }
    let config = vendir_config(
        &[image(
            "vendor/sel",
            &format!("{}/img/sel", registry.host()),
            "  tagSelection:\n    semver:\n      constraints: \"<2.0.0\"\n",
        )],
        &[],
    );
    let (v, w) = both(&config);
    assert_parity(&v, &w, "vendor/sel");
    assert_eq!(
        fs::read(w.dir.join("vendor/sel/version")).unwrap(),
        b"1.2.0"
    );
    assert_same_lock("tagSelection", &v.lock(), &w.lock(), &[]);
}

#[test]
fn layers_apply_as_crane_export_does_not_as_vendir() {
    let registry = Registry::start();
    let lower = tar_of(&[
        ("etc/app.conf", b"lower\n"),
        ("exec:usr/bin/app", b"#!/bin/sh\n"),
        ("opq/old", b"old\n"),
    ])
    .finish();
    let upper = tar_of(&[
        ("etc/app.conf", b"upper\n"),
        ("usr/bin/.wh.app", b""),
        ("opq/.wh..wh..opq", b""),
        ("opq/new", b"new\n"),
    ])
    .finish();
    let reference = registry.reference("img/layers", "v1");
    crane_image(&reference, &[lower, upper], None);

    // The reference: crane export (go-containerregistry's mutate.Extract).
    let exported = tempfile::tempdir().unwrap();
    let tar = exported.path().join("fs.tar");
    run(crane()
        .arg("export")
        .arg("--insecure")
        .arg(&reference)
        .arg(&tar))
    .ok();
    let fs_dir = exported.path().join("fs");
    fs::create_dir(&fs_dir).unwrap();
    run(std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&fs_dir))
    .ok();

    let config = vendir_config(&[image("vendor/img", &reference, "")], &[]);
    let (v, w) = both(&config);
    assert_same_tree(
        "OCI layer semantics",
        "crane export",
        &tree_snapshot(&fs_dir),
        "vendoras",
        &w.tree("vendor/img"),
    );
    assert_eq!(
        fs::read(w.dir.join("vendor/img/etc/app.conf")).unwrap(),
        b"upper\n"
    );
    // vendir (imgpkg): the lower layer wins and whiteouts are ignored.
    assert_eq!(
        fs::read(v.dir.join("vendor/img/etc/app.conf")).unwrap(),
        b"lower\n"
    );
    assert!(v.tree("vendor/img").contains_key("usr/bin/app"));
    assert!(!w.tree("vendor/img").contains_key("usr/bin/app"));
    assert!(!w.tree("vendor/img").contains_key("opq/old"));
    assert_same_lock("layers", &v.lock(), &w.lock(), &[]);
}

#[test]
fn links_and_modes() {
    let registry = Registry::start();
    let mut t = TarBuilder::new();
    t.dir("bin/")
        .exec("bin/tool", b"#!/bin/sh\n")
        .file("bin/data", b"data\n")
        .symlink("bin/alias", "tool")
        .hardlink("bin/hard", "bin/data")
        .symlink("bin/escape", "/etc/passwd");
    let reference = registry.reference("img/links", "v1");
    crane_image(&reference, &[t.finish()], None);
    let (v, w) = both(&vendir_config(&[image("vendor/l", &reference, "")], &[]));
    let (vt, wt) = (v.tree("vendor/l"), w.tree("vendor/l"));
    // Regular files: same bytes and exec bits as vendir.
    for f in ["bin/tool", "bin/data"] {
        assert_eq!(vt.get(f), wt.get(f), "{f}");
    }
    // vendir drops every link; vendoras keeps links that stay inside.
    assert!(!vt.contains_key("bin/alias") && !vt.contains_key("bin/hard"));
    assert_eq!(
        wt.get("bin/alias"),
        Some(&Entry::Symlink {
            target: "tool".into()
        })
    );
    assert_eq!(wt.get("bin/hard"), wt.get("bin/data"));
    assert!(!wt.contains_key("bin/escape"));
    assert_same_lock("links", &v.lock(), &w.lock(), &[]);
}

#[test]
fn locked_keeps_the_locked_digest_after_a_retag() {
    let registry = Registry::start();
    let reference = registry.reference("img/retag", "v1");
    crane_image(&reference, &[tar_of(&[("f", b"one\n")]).finish()], None);
    let config = vendir_config(&[image("vendor/r", &reference, "")], &[]);
    let (v, w) = both(&config);
    crane_image(&reference, &[tar_of(&[("f", b"two\n")]).finish()], None);
    v.sync(&["--locked"]).ok();
    w.sync(&["--locked"]).ok();
    assert_eq!(fs::read(w.dir.join("vendor/r/f")).unwrap(), b"one\n");
    assert_parity(&v, &w, "vendor/r");
    assert_same_lock("--locked", &v.lock(), &w.lock(), &[]);
    v.sync(&[]).ok();
    w.sync(&[]).ok();
    assert_eq!(fs::read(w.dir.join("vendor/r/f")).unwrap(), b"two\n");
    assert_same_lock("after the retag", &v.lock(), &w.lock(), &[]);
}

#[test]
fn secret_ref_username_password_and_dockerconfigjson() {
    // vendir cannot reach a TLS registry on 127.0.0.1 (go-containerregistry
    // speaks plain HTTP to loopback), so this case checks vendoras alone.
    let registry = Registry::start_secure();
    let reference = registry.reference("private/app", "v1");
    let mut c = crane();
    c.arg("append")
        .arg("-t")
        .arg(&reference)
        .arg("--insecure")
        .arg("-f");
    let tmp = tempfile::tempdir().unwrap();
    let layer = tmp.path().join("l.tar");
    fs::write(&layer, tar_of(&[("secret.txt", b"behind auth\n")]).finish()).unwrap();
    c.arg(&layer);
    let auth = tmp.path().join("docker");
    fs::create_dir(&auth).unwrap();
    let b64 = support::servers::base64_encode(
        format!("{}:{}", registry.user(), registry.password()).as_bytes(),
    );
    fs::write(
        auth.join("config.json"),
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{b64}\"}}}}}}",
            registry.host()
        ),
    )
    .unwrap();
    c.env("DOCKER_CONFIG", &auth);
    run(&mut c).ok();

    let plain = secret_doc(
        "creds",
        &[
            ("username", registry.user()),
            ("password", registry.password()),
        ],
    );
    let docker = format!(
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\nmetadata:\n  name: creds\n\
         stringData:\n  .dockerconfigjson: '{{\"auths\":{{\"{}\":{{\"auth\":\"{b64}\"}}}}}}'\n",
        registry.host()
    );
    for secret in [plain, docker] {
        let w = Work::new();
        w.config(&vendir_config(
            &[image(
                "vendor/p",
                &reference,
                "  secretRef:\n    name: creds\n  dangerousSkipTLSVerify: true\n",
            )],
            &[secret],
        ));
        let out = w.sync(&[]).ok();
        assert!(!format!("{}{}", out.stdout, out.stderr).contains(registry.password()));
        assert_eq!(
            fs::read(w.dir.join("vendor/p/secret.txt")).unwrap(),
            b"behind auth\n"
        );
    }
    // Without credentials: refused, nothing written.
    let w = Work::new();
    w.config(&vendir_config(
        &[image(
            "vendor/p",
            &reference,
            "  dangerousSkipTLSVerify: true\n",
        )],
        &[],
    ));
    let out = w.sync(&[]);
    assert!(!out.success());
    assert!(out.stderr.contains(&registry.host()), "{out:?}");
    assert!(!w.dir.join("vendor/p").exists());
}

#[test]
fn a_plain_loopback_registry_costs_one_tls_attempt_per_sync_not_per_image() {
    // vendoras tries HTTPS first on loopback (so a TLS registry on 127.0.0.1
    // works, docs/differences.md) and falls back when the server answers in
    // plain HTTP; the sync remembers that answer for the registry, so the
    // other repositories on it go to plain HTTP at once.
    let registry = Registry::start();
    let proxy = ThrottleProxy::start(registry.addr(), 1 << 30);
    let mut contents = Vec::new();
    for name in ["a", "b", "c"] {
        let layer = tar_of(&[("f.txt", format!("{name}\n").as_bytes())]).finish();
        crane_image(
            &registry.reference(&format!("img/{name}"), "v1"),
            &[layer],
            None,
        );
        contents.push(image(
            &format!("vendor/{name}"),
            &format!("{}/img/{name}:v1", proxy.host()),
            "",
        ));
    }
    let w = Work::new();
    w.config(&vendir_config(&contents, &[]));
    // One job: with several, each of the first contents may try TLS at once.
    w.sync(&["--jobs", "1"]).ok();
    for name in ["a", "b", "c"] {
        assert_eq!(
            fs::read(w.dir.join(format!("vendor/{name}/f.txt"))).unwrap(),
            format!("{name}\n").as_bytes()
        );
    }
    assert_eq!(
        proxy.tls_attempts(),
        1,
        "one HTTPS attempt for the registry"
    );
}

#[test]
fn an_index_is_refused_listing_its_platforms() {
    let registry = Registry::start();
    crane_image(
        &registry.reference("img/multi", "amd"),
        &[tar_of(&[("a", b"a")]).finish()],
        Some("linux/amd64"),
    );
    crane_image(
        &registry.reference("img/multi", "arm"),
        &[tar_of(&[("b", b"b")]).finish()],
        Some("linux/arm64"),
    );
    // Give each child a platform in its config, as a real multi-arch build does.
    let set = |tag: &str, platform: &str| {
        run(crane()
            .args(["mutate", "--insecure", "--set-platform", platform, "-t"])
            .arg(registry.reference("img/multi", tag))
            .arg(registry.reference("img/multi", tag)))
        .ok();
        crane_digest(&registry.reference("img/multi", tag))
    };
    let (amd, arm) = (set("amd", "linux/amd64"), set("arm", "linux/arm64"));
    crane_index(
        &registry.reference("img/multi", "v1"),
        &[
            registry.reference("img/multi", &amd),
            registry.reference("img/multi", &arm),
        ],
    );
    let ok = vendir_config(
        &[image(
            "vendor/m",
            &registry.reference("img/multi", "amd"),
            "",
        )],
        &[],
    );
    let (v, w) = both(&ok);
    let before = (v.tree("vendor"), v.lock());
    let wbefore = w.state();
    let bad = vendir_config(
        &[image(
            "vendor/m",
            &registry.reference("img/multi", "v1"),
            "",
        )],
        &[],
    );
    v.config(&bad);
    w.config(&bad);
    let (vo, wo) = (v.sync(&[]), w.sync(&[]));
    assert!(!vo.success() && !wo.success());
    let needle = "Unable to pull non-images, such as image indexes.";
    assert!(
        vo.stderr.contains(needle) || vo.stdout.contains(needle),
        "{vo:?}"
    );
    for n in [
        needle,
        "linux/amd64",
        "linux/arm64",
        "ociArtifact",
        "platform:",
    ] {
        assert!(wo.stderr.contains(n), "missing {n:?}: {wo:?}");
    }
    assert_eq!((v.tree("vendor"), v.lock()), before);
    let mut wafter = w.state();
    wafter.0.remove("vendir.yml");
    assert_eq!(wafter, wbefore);
}

#[test]
fn one_directory_mixes_image_oci_artifact_and_manual() {
    let registry = Registry::start();
    let reference = registry.reference("img/mix", "v1");
    crane_image(
        &reference,
        &[tar_of(&[("from-image", b"i\n")]).finish()],
        None,
    );
    let w = Work::new();
    fs::create_dir_all(w.dir.join("vendor/mix/hand")).unwrap();
    fs::write(w.dir.join("vendor/mix/hand/notes"), "mine\n").unwrap();
    w.config(&format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor/mix\n  contents:\n\
         \x20 - path: img\n    image:\n      url: {reference}\n\
         \x20 - path: oci\n    ociArtifact:\n      image: {}/img/mix\n      tag: v1\n      plainHTTP: true\n\
         \x20 - path: hand\n    manual: {{}}\n",
        registry.host()
    ));
    w.sync(&[]).ok();
    assert_eq!(
        fs::read(w.dir.join("vendor/mix/img/from-image")).unwrap(),
        b"i\n"
    );
    assert_eq!(
        fs::read(w.dir.join("vendor/mix/oci/from-image")).unwrap(),
        b"i\n"
    );
    assert_eq!(
        fs::read(w.dir.join("vendor/mix/hand/notes")).unwrap(),
        b"mine\n"
    );
    let lock = w.lock();
    for k in ["image:", "ociArtifact:", "manual: {}"] {
        assert!(lock.contains(k), "{k} missing:\n{lock}");
    }
}
