//! Decompression bombs (Helm CVE-2025-32386 style): a small layer that expands far
//! beyond `--max-layer-bytes` is refused with the entry's name, and the previous tree
//! and lock stay as they were. gzip tops out near 1032:1; zstd on zeros near 11000:1.

mod support;

use std::io::Write;

use support::*;

/// A tar stream holding one file of `size` zero bytes, compressed as it is written so
/// the test never holds the expanded bytes.
fn zero_tar(size: u64, mut out: impl Write) {
    let mut h = tar::Header::new_ustar();
    h.set_path("bomb.bin").unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    out.write_all(h.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        out.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    out.write_all(&[0u8; 1024]).unwrap();
}

fn gzip_bomb(size: u64) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    zero_tar(size, &mut enc);
    enc.finish().unwrap()
}

fn zstd_bomb(size: u64) -> Vec<u8> {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    zero_tar(size, &mut enc);
    enc.finish().unwrap()
}

fn sync(work: &std::path::Path, extra: &[&str]) -> Outcome {
    run(vendoras()
        .current_dir(work)
        .args(["sync", "--cache-dir"])
        .arg(work.join("../cache"))
        .args(extra))
}

#[test]
fn gzip_and_zstd_bombs_are_refused_and_keep_the_old_tree() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let host = registry.host();
    let yaml = |tag: &str, mt: &str| {
        format!(
            "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor/x\n  contents:\n  - path: .\n    ociArtifact:\n      image: {host}/bombs:{tag}\n      plainHTTP: true\n      mediaTypes: [{mt}]\n"
        )
    };
    const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    const ZST: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

    // A good artifact first: this is the tree that must survive.
    let good = TarBuilder::new().file("ok.txt", b"fine\n").finish_gz();
    Crafter::new(&registry, "bombs").artifact("good", vec![(layer(GZ, &[]), good)]);
    std::fs::write(work.join("vendir.yml"), yaml("good", GZ)).unwrap();
    sync(&work, &[]).ok();
    let before = (
        tree_snapshot(&work),
        std::fs::read(work.join("vendir.lock.yml")).unwrap(),
    );

    for (tag, mt, blob) in [
        ("gz", GZ, gzip_bomb(256 << 20)),
        ("zst", ZST, zstd_bomb(256 << 20)),
    ] {
        assert!(
            blob.len() < 1 << 20,
            "{tag} bomb is {} bytes compressed",
            blob.len()
        );
        Crafter::new(&registry, "bombs").artifact(tag, vec![(layer(mt, &[]), blob)]);
        std::fs::write(work.join("vendir.yml"), yaml(tag, mt)).unwrap();
        let out = sync(&work, &["--max-layer-bytes", "16M"]);
        assert!(!out.success(), "{tag} bomb was accepted: {out:?}");
        assert!(
            out.stderr.contains("bomb.bin") && out.stderr.contains("16777216"),
            "{tag}: the error should name the entry and the limit: {out:?}"
        );
        std::fs::write(work.join("vendir.yml"), yaml("good", GZ)).unwrap();
        let after = (
            tree_snapshot(&work),
            std::fs::read(work.join("vendir.lock.yml")).unwrap(),
        );
        assert_eq!(before.1, after.1, "{tag}: lock changed");
        assert_eq!(before.0, after.0, "{tag}: tree changed");
    }

    // The same bomb under a raised limit is just a big file: the limit is the only
    // thing that stopped it.
    std::fs::write(work.join("vendir.yml"), yaml("zst", ZST)).unwrap();
    sync(&work, &["--max-layer-bytes", "1G"]).ok();
    assert_eq!(
        std::fs::metadata(work.join("vendor/x/bomb.bin"))
            .unwrap()
            .len(),
        256 << 20
    );
}
