//! The blob cache and the working-directory lock (README, "vendoras sync"): a warm `--locked` sync
//! makes no blob requests, and two syncs in one directory never interleave.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::sync::*;
use support::*;

const TGZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[test]
fn a_warm_locked_sync_makes_no_blob_requests() {
    let registry = Registry::start();
    let proxy = FaultProxy::start(registry.addr());
    let tar = TarBuilder::new().file("a.txt", b"cached\n").finish_gz();
    let layer_digest = digest_of(&tar);
    Crafter::new(&registry, "cached").artifact("v1", vec![(layer(TGZ, &[]), tar)]);
    let w = Work::new();
    w.config(&simple_config(
        "vendor/c",
        &format!("{}/cached", proxy.host()),
        "v1",
        &[],
    ));
    w.sync(&[]).ok();
    let blob_path = format!("/v2/cached/blobs/{layer_digest}");
    assert_eq!(
        proxy.count_method("GET", &blob_path),
        1,
        "{}",
        proxy.seen_text()
    );

    // Remove the tree so the directory cannot be kept as it is: the content must be
    // extracted again, from the cache.
    std::fs::remove_dir_all(w.dir.join("vendor")).unwrap();
    w.sync(&["--locked"]).ok();
    assert_eq!(
        std::fs::read(w.dir.join("vendor/c/a.txt")).unwrap(),
        b"cached\n"
    );
    assert_eq!(
        proxy.count_method("GET", &blob_path),
        1,
        "the warm --locked sync fetched the blob again:\n{}",
        proxy.seen_text()
    );

    // And a damaged cache entry is not trusted: it is refetched.
    let entry = w
        .cache
        .join("blobs/sha256")
        .join(layer_digest.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&entry, bytes).unwrap();
    std::fs::remove_dir_all(w.dir.join("vendor")).unwrap();
    w.sync(&["--locked"]).ok();
    assert_eq!(
        std::fs::read(w.dir.join("vendor/c/a.txt")).unwrap(),
        b"cached\n"
    );
    assert_eq!(
        proxy.count_method("GET", &blob_path),
        2,
        "{}",
        proxy.seen_text()
    );
}

#[test]
fn two_syncs_in_one_directory_take_turns() {
    let registry = Registry::start();
    // 8 MiB through a 2 MiB/s proxy: the first sync holds the lock for ~4 s.
    let proxy = ThrottleProxy::start(registry.addr(), 2 << 20);
    let mut data = vec![0u8; 8 << 20];
    Prng::new(7).fill(&mut data);
    let tar = TarBuilder::new().file("big.bin", &data).finish_gz();
    Crafter::new(&registry, "slow").artifact("v1", vec![(layer(TGZ, &[]), tar)]);
    let w = Work::new();
    w.config(&simple_config(
        "vendor/s",
        &format!("{}/slow", proxy.host()),
        "v1",
        &[],
    ));

    let mut first = w
        .cmd(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first sync is downloading, so it holds the lock.
    assert!(
        proxy.wait_forwarded(1 << 20, Duration::from_secs(30)),
        "first sync never started"
    );
    let second = w.sync(&[]);
    let first_status = first.wait().unwrap();
    assert!(first_status.success());
    assert!(second.success(), "{second:?}");
    assert!(
        second.stderr.contains("waiting for another sync"),
        "the second sync should have waited for the first: {second:?}"
    );
    assert_eq!(std::fs::read(w.dir.join("vendor/s/big.bin")).unwrap(), data);
}
