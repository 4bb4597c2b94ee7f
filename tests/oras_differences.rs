//! Where vendoras deliberately differs from `oras pull` (v1.3.6), and where it keeps
//! oras's behaviour although `sync` does otherwise (docs/differences.md). Each test
//! runs both CLIs on the same hand-made artifact.

mod support;

use std::path::Path;

use support::sync::*;
use support::*;

const TGZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// `tool pull --plain-http -o out REF` in a fresh directory.
fn pull(tool: fn() -> std::process::Command, reference: &str) -> (tempfile::TempDir, Outcome) {
    let work = tempfile::tempdir().unwrap();
    let out =
        run(tool()
            .current_dir(work.path())
            .args(["pull", "--plain-http", "-o", "out", reference]));
    (work, out)
}

fn out_tree(work: &Path) -> Tree {
    tree_snapshot(&work.join("out"))
}

/// GNU tar and Python's tarfile pad an archive to whole 10 KiB records after the
/// end-of-archive blocks. oras-go hashes only the bytes its tar reader consumes (up to
/// the end marker), so `oras pull` finds the `io.deis.oras.content.digest` of the whole
/// padded tar a mismatch and refuses; vendoras hashes the whole decompressed stream,
/// which is what the annotation names, and accepts it.
#[test]
fn a_directory_tarball_padded_to_10_kib_records_is_refused_by_oras_and_accepted() {
    let r = Registry::start();
    let mut tar = TarBuilder::new();
    tar.dir("d")
        .file("d/a.txt", b"a\n")
        .dir("d/sub")
        .file("d/sub/b.txt", b"b\n");
    let mut raw = tar.finish();
    raw.resize(raw.len().div_ceil(10240) * 10240, 0);
    assert_eq!(raw.len(), 10240, "one 10 KiB record");
    let full = digest_of(&raw);
    let consumed = digest_of(&tar.finish());
    assert_ne!(full, consumed);
    let d = layer(
        TGZ,
        &[(TITLE, "d"), (UNPACK, "true"), (CONTENT_DIGEST, &full)],
    );
    Crafter::new(&r, "padded").artifact("v1", vec![(d, gzip(&raw))]);
    let reference = r.reference("padded", "v1");
    let expected = files_tree(&[("d/a.txt", b"a\n"), ("d/sub/b.txt", b"b\n")]);

    let (_o, oras_out) = pull(oras, &reference);
    assert!(!oras_out.success(), "oras should refuse\n{oras_out:?}");
    assert!(
        oras_out.stderr.contains("content digest mismatch"),
        "oras's refusal changed\n{oras_out:?}"
    );

    let (v, vendoras_out) = pull(vendoras, &reference);
    assert!(vendoras_out.success(), "{vendoras_out:?}");
    assert_same_tree(
        "pull",
        "expected",
        &expected,
        "vendoras",
        &out_tree(v.path()),
    );

    let w = Work::new();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/padded", r.host()),
        "v1",
        &[],
    ));
    w.sync(&[]).ok();
    assert_same_tree("sync", "expected", &expected, "synced", &w.tree("vendor/x"));
}

/// oras-go's `extractTarDirectory` has no whiteout rule: a `.wh.` entry in an oras
/// directory tarball is written as a plain file. `vendoras pull` keeps that parity,
/// while `sync` (an `ociArtifact` content) refuses the entry.
#[test]
fn pull_writes_whiteout_entries_as_files_like_oras_while_sync_refuses_them() {
    let r = Registry::start();
    let (d, gz) = oras_dir_layer(
        "d",
        TarBuilder::new()
            .dir("d")
            .file("d/a.txt", b"a\n")
            .file("d/.wh.gone.txt", b"")
            .dir("d/sub")
            .file("d/sub/.wh..wh..opq", b""),
    );
    Crafter::new(&r, "whiteouts").artifact("v1", vec![(d, gz)]);
    let reference = r.reference("whiteouts", "v1");

    let (o, oras_out) = pull(oras, &reference);
    let oras_out = oras_out.ok();
    let (v, vendoras_out) = pull(vendoras, &reference);
    vendoras_out.ok();
    let tree = out_tree(o.path());
    assert!(tree.contains_key("d/.wh.gone.txt"), "{oras_out:?}");
    assert!(tree.contains_key("d/sub/.wh..wh..opq"), "{oras_out:?}");
    assert_same_tree("pull", "oras", &tree, "vendoras", &out_tree(v.path()));

    let w = Work::new();
    w.config(&simple_config(
        "vendor/x",
        &format!("{}/whiteouts", r.host()),
        "v1",
        &[],
    ));
    let out = w.sync(&[]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert_contains(&out, &["d/.wh.gone.txt: whiteout entry refused"]);
    assert!(w.tree("vendor").is_empty());
}
