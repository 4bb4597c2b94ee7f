//! Decompression bombs (Helm CVE-2025-32386 style): a small layer that expands far
//! beyond `--max-layer-bytes` is refused with the entry's name, and the previous tree
//! and lock stay as they were. gzip tops out near 1032:1; zstd on zeros near 11000:1.

mod support;

use std::io::Write;

use support::servers::HttpServer;
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

    // The same bomb under raised limits is just a big file: the limits are the only
    // thing that stopped it (past 100 MiB, the default 200:1 ratio stops it too).
    std::fs::write(work.join("vendir.yml"), yaml("zst", ZST)).unwrap();
    let out = sync(&work, &["--max-layer-bytes", "1G"]);
    assert!(
        !out.success() && out.stderr.contains("--max-expansion-ratio"),
        "{out:?}"
    );
    sync(
        &work,
        &["--max-layer-bytes", "1G", "--max-expansion-ratio", "0"],
    )
    .ok();
    assert_eq!(
        std::fs::metadata(work.join("vendor/x/bomb.bin"))
            .unwrap()
            .len(),
        256 << 20
    );
}

// -- the expansion ratio, through `http` sources --------------------------------------
//
// Past 100 MiB expanded, more than 200 bytes per compressed byte is refused by default
// (gzip of zeros reaches about 1030:1; real archives stay far below 200:1), naming the
// download's digest and kind, the ratio and the flag that raises it.

/// A zip of one deflated entry of `size` zero bytes.
fn zip_bomb(size: u64) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(size >= u32::MAX as u64);
    w.start_file("bomb.bin", o).unwrap();
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        w.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    w.finish().unwrap().into_inner()
}

/// The "non-recursive zip bomb": one local entry (1 MiB of zeros, deflated) and
/// `copies` central-directory entries that all point at it, each under its own name.
fn overlapping_zip(copies: usize) -> Vec<u8> {
    let data = vec![0u8; 1 << 20];
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&data).unwrap();
    let deflated = enc.finish().unwrap();
    let mut crc = flate2::Crc::new();
    crc.update(&data);
    let (crc, csize, usize_) = (crc.sum(), deflated.len() as u32, data.len() as u32);
    let common = |out: &mut Vec<u8>| {
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&8u16.to_le_bytes()); // deflate
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&csize.to_le_bytes());
        out.extend_from_slice(&usize_.to_le_bytes());
    };
    let mut out = Vec::new();
    out.extend_from_slice(&0x04034b50u32.to_le_bytes());
    common(&mut out);
    out.extend_from_slice(&1u16.to_le_bytes()); // name length
    out.extend_from_slice(&0u16.to_le_bytes()); // extra length
    out.extend_from_slice(b"a");
    out.extend_from_slice(&deflated);
    let cd_start = out.len() as u32;
    for i in 0..copies {
        let name = format!("f{i:04}");
        out.extend_from_slice(&0x02014b50u32.to_le_bytes());
        out.extend_from_slice(&0x031eu16.to_le_bytes()); // made by unix
        common(&mut out);
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0u8; 2 + 2 + 2 + 2]); // extra, comment, disk, internal
        out.extend_from_slice(&((0o100644u32) << 16).to_le_bytes()); // external attrs
        out.extend_from_slice(&0u32.to_le_bytes()); // local header at 0, for all
        out.extend_from_slice(name.as_bytes());
    }
    let cd_size = out.len() as u32 - cd_start;
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]); // disk numbers
    out.extend_from_slice(&(copies as u16).to_le_bytes());
    out.extend_from_slice(&(copies as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn http_yaml(url: &str) -> String {
    format!(
        "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor/x\n  contents:\n  - path: bombs\n    http:\n      url: {url}\n"
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn http_archives_past_the_expansion_ratio_are_refused_by_default() {
    let files = tempfile::tempdir().unwrap();
    let tgz = gzip_bomb(120 << 20);
    let zip = zip_bomb(120 << 20);
    assert!(tgz.len() < 1 << 20 && zip.len() < 1 << 20);
    std::fs::write(files.path().join("bomb.tgz"), &tgz).unwrap();
    std::fs::write(files.path().join("bomb.zip"), &zip).unwrap();
    let server = HttpServer::files(files.path());
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();

    for (name, bytes, media_type) in [
        ("bomb.tgz", &tgz, "application/gzip"),
        ("bomb.zip", &zip, "application/zip"),
    ] {
        let url = format!("{}/{name}", server.url());
        std::fs::write(work.join("vendir.yml"), http_yaml(&url)).unwrap();
        let out = sync(&work, &[]);
        assert!(!out.success(), "{name} was accepted: {out:?}");
        for want in [
            "vendor/x",
            &format!("sha256:{}", sha256_hex(bytes)),
            media_type,
            "bomb.bin",
            "beyond the 200:1 allowed once past 104857600 bytes",
            "--max-expansion-ratio",
        ] {
            assert!(out.stderr.contains(want), "{name}: no {want:?} in {out:?}");
        }
        assert!(!work.join("vendor").exists(), "{name}: left a tree behind");

        // The flag is what stopped it: raised, the same archive is just a big file.
        let out = sync(&work, &["--max-expansion-ratio", "5000"]);
        assert!(out.success(), "{name} with the ratio raised: {out:?}");
        assert_eq!(
            std::fs::metadata(work.join("vendor/x/bombs/bomb.bin"))
                .unwrap()
                .len(),
            120 << 20,
            "{name}"
        );
        std::fs::remove_dir_all(work.join("vendor")).unwrap();
        std::fs::remove_file(work.join("vendir.lock.yml")).unwrap();
    }
}

#[test]
fn overlapping_zip_entries_are_refused() {
    let files = tempfile::tempdir().unwrap();
    let zip = overlapping_zip(64);
    // 64 MiB of output from a file of a few KiB, below every other limit.
    assert!(zip.len() < 16 << 10, "{} bytes", zip.len());
    std::fs::write(files.path().join("overlap.zip"), &zip).unwrap();
    let server = HttpServer::files(files.path());
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let url = format!("{}/overlap.zip", server.url());
    std::fs::write(work.join("vendir.yml"), http_yaml(&url)).unwrap();
    let out = sync(&work, &[]);
    assert!(!out.success(), "the overlapping zip was accepted: {out:?}");
    for want in [
        "vendor/x",
        "application/zip",
        "zip entries overlap",
        "non-recursive zip bomb",
    ] {
        assert!(out.stderr.contains(want), "no {want:?} in {out:?}");
    }
    assert!(!work.join("vendor").exists());
}
