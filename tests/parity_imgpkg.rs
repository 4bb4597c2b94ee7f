//! `imgpkgBundle:` side by side with vendir v0.44.0 (which uses imgpkg as a
//! library): bundles built with crane (a layer holding `.imgpkg/bundle.yml` and
//! `.imgpkg/images.yml`, then the `dev.carvel.imgpkg.bundle` label).

mod support;

use std::fs;

use support::fixtures::*;
use support::sync::Work;
use support::vendir::*;
use support::*;

fn plain_image(registry: &Registry, repo: &str, tag: &str) -> String {
    let d = crane_image(
        &registry.reference(repo, tag),
        &[tar_of(&[("app", tag.as_bytes())]).finish()],
        None,
    );
    format!("{}/{repo}@{d}", registry.host())
}

fn both(config: &str) -> (VendirWork, Work) {
    let v = VendirWork::new();
    v.config(config);
    v.sync(&[]).ok();
    let w = Work::new();
    w.config(config);
    w.sync(&[]).ok();
    (v, w)
}

fn content(dir: &str, image: &str, extra: &str) -> String {
    one_content(dir, &format!("imgpkgBundle:\n  image: {image}\n{extra}"))
}

#[track_caller]
fn assert_parity(v: &VendirWork, w: &Work, dir: &str) {
    assert_same_tree(dir, "vendir", &v.tree(dir), "vendoras", &w.tree(dir));
    assert_eq!(
        fs::read(v.dir.join(dir).join(".imgpkg/images.yml")).unwrap(),
        fs::read(w.dir.join(dir).join(".imgpkg/images.yml")).unwrap(),
        "{dir}: images.yml bytes"
    );
}

#[test]
fn plain_bundle_and_images_yml_rewritten_when_the_bundle_repo_holds_every_image() {
    let registry = Registry::start();
    let app = plain_image(&registry, "other/app", "v1");
    push_bundle(
        &registry.reference("bundles/kept", "v1"),
        &[("config/app.yml", b"replicas: 1\n")],
        std::slice::from_ref(&app),
    );
    // The same bundle in a repository that also holds the image by digest.
    push_bundle(
        &registry.reference("bundles/moved", "v1"),
        &[("config/app.yml", b"replicas: 1\n")],
        std::slice::from_ref(&app),
    );
    run(crane()
        .args(["copy", "--insecure"])
        .arg(&app)
        .arg(registry.reference("bundles/moved", "app")))
    .ok();
    let config = vendir_config(
        &[
            content("vendor/kept", &registry.reference("bundles/kept", "v1"), ""),
            content(
                "vendor/moved",
                &registry.reference("bundles/moved", "v1"),
                "",
            ),
        ],
        &[],
    );
    let (v, w) = both(&config);
    assert_parity(&v, &w, "vendor/kept");
    assert_parity(&v, &w, "vendor/moved");
    let moved = fs::read_to_string(w.dir.join("vendor/moved/.imgpkg/images.yml")).unwrap();
    assert!(
        moved.contains(&format!("{}/bundles/moved@sha256:", registry.host())),
        "{moved}"
    );
    let kept = fs::read_to_string(w.dir.join("vendor/kept/.imgpkg/images.yml")).unwrap();
    assert!(kept.contains(&app), "{kept}");
    assert_same_lock("bundles", &v.lock(), &w.lock(), &[]);
}

#[test]
fn recursive_places_nested_bundles_where_vendir_does() {
    let registry = Registry::start();
    let app = plain_image(&registry, "other/app", "v1");
    let inner = push_bundle(
        &registry.reference("bundles/inner", "v1"),
        &[("inner.txt", b"inner\n")],
        std::slice::from_ref(&app),
    );
    let inner_ref = format!("{}/bundles/inner@{inner}", registry.host());
    push_bundle(
        &registry.reference("bundles/outer", "v1"),
        &[("outer.txt", b"outer\n")],
        &[inner_ref, app],
    );
    let config = vendir_config(
        &[content(
            "vendor/rec",
            &registry.reference("bundles/outer", "v1"),
            "  recursive: true\n",
        )],
        &[],
    );
    let (v, w) = both(&config);
    assert_parity(&v, &w, "vendor/rec");
    let nested = format!(
        "vendor/rec/.imgpkg/bundles/{}/inner.txt",
        inner.replace("sha256:", "sha256-")
    );
    assert_eq!(fs::read(w.dir.join(nested)).unwrap(), b"inner\n");
    assert_same_lock("recursive", &v.lock(), &w.lock(), &[]);
}

#[test]
fn a_plain_image_is_not_a_bundle() {
    let registry = Registry::start();
    let good = registry.reference("bundles/good", "v1");
    push_bundle(&good, &[("f", b"f\n")], &[]);
    let plain = plain_image(&registry, "other/plain", "v1");
    let (v, w) = both(&vendir_config(&[content("vendor/b", &good, "")], &[]));
    let vbefore = (v.tree("vendor"), v.lock());
    let wbefore = w.state();
    let bad = vendir_config(&[content("vendor/b", &plain, "")], &[]);
    v.config(&bad);
    w.config(&bad);
    let (vo, wo) = (v.sync(&[]), w.sync(&[]));
    let needle = "The provided image is not a bundle";
    assert!(
        !vo.success() && format!("{}{}", vo.stdout, vo.stderr).contains(needle),
        "{vo:?}"
    );
    assert!(!wo.success() && wo.stderr.contains(needle), "{wo:?}");
    assert!(wo.stderr.contains("other/plain@sha256:"), "{wo:?}");
    assert_eq!((v.tree("vendor"), v.lock()), vbefore);
    let mut after = w.state();
    after.0.remove("vendir.yml");
    let mut before = wbefore;
    before.0.remove("vendir.yml");
    assert_eq!(after, before);
}
