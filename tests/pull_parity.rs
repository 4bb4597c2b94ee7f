//! `vendoras pull` must do what `oras pull` (v1.3.6) does: for every artifact and flag
//! below, both CLIs pull into separate directories and must agree on success or refusal
//! and on the resulting tree (paths, bytes, exec bits, symlink targets).
//!
//! One registry and one pushed corpus are shared by all tests of this file.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use support::*;

const BIG_SIZE: u64 = 100 * 1024 * 1024 + 12_345;

// ---------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------

struct Corpus {
    registry: Registry,
    /// OCI layout made with `oras push --oci-layout`, tag `v1`.
    layout: PathBuf,
    files_digest: String,
    /// Where absolute titles of the `crafted:abs-title` artifact point (`-T`).
    abs_title_target: PathBuf,
    /// An absolute tar entry name that must never be created.
    abs_entry_target: PathBuf,
}

fn corpus() -> &'static Corpus {
    static CORPUS: OnceLock<Corpus> = OnceLock::new();
    CORPUS.get_or_init(build_corpus)
}

/// `oras push` run inside `dir` (so titles are the relative paths given).
fn oras_push(dir: &Path, flags: &[String], target: &str, paths: &[&str]) -> String {
    let out = run(oras()
        .current_dir(dir)
        .arg("push")
        .args(flags)
        .arg(target)
        .args(paths)
        .args(["--format", "go-template={{.digest}}"]))
    .ok();
    out.stdout.trim().to_string()
}

fn write(path: &Path, data: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

fn symlink(target: &str, link: &Path) {
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn build_corpus() -> Corpus {
    let registry = Registry::start();
    let plain = registry.access_flags();
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    let mut rng = Prng::new(0x7e57_c0de);

    // Plain files: nested titles, an empty file, twins, unicode names.
    let files = s.join("files");
    write(&files.join("a.txt"), "hello from a\n");
    write(&files.join("bin.dat"), rng.bytes(200_000));
    write(&files.join("nested/deeper/c.txt"), "deep\n");
    write(&files.join("empty.txt"), "");
    write(&files.join("same-1.txt"), "identical content\n");
    write(&files.join("twins/same-2.txt"), "identical content\n");
    write(&files.join("ünïcødé ñame.txt"), "unicode\n");
    write(&files.join("日本語/ファイル.txt"), "japanese\n");
    write(&files.join("emoji-🚀.txt"), "rocket\n");
    let file_list = [
        "a.txt",
        "bin.dat",
        "nested/deeper/c.txt",
        "empty.txt",
        "same-1.txt",
        "twins/same-2.txt",
        "ünïcødé ñame.txt",
        "日本語/ファイル.txt",
        "emoji-🚀.txt",
    ];
    let files_digest = oras_push(
        &files,
        &plain,
        &registry.reference("files", "v1"),
        &file_list,
    );

    // A big file, pseudo-random bytes, streamed to disk.
    let big = s.join("big");
    fs::create_dir_all(&big).unwrap();
    write_random_file(&big.join("big.bin"), BIG_SIZE, 42);
    oras_push(&big, &plain, &registry.reference("big", "v1"), &["big.bin"]);
    fs::remove_file(big.join("big.bin")).unwrap();

    // Directories with symlinks, executables, empty dirs; plus a plain file beside them.
    let dirs = s.join("dirs");
    write(&dirs.join("tree/bin/run.sh"), "#!/bin/sh\necho run\n");
    set_mode(&dirs.join("tree/bin/run.sh"), 0o755);
    write(&dirs.join("tree/lib/data.txt"), "data\n");
    write(&dirs.join("tree/lib/deep/er/x.bin"), rng.bytes(5000));
    write(&dirs.join("tree/lib/mode-0600.txt"), "private\n");
    set_mode(&dirs.join("tree/lib/mode-0600.txt"), 0o600);
    write(&dirs.join("tree/lib/exec-0700"), "owner exec\n");
    set_mode(&dirs.join("tree/lib/exec-0700"), 0o700);
    symlink("lib/data.txt", &dirs.join("tree/link-to-file"));
    symlink("lib", &dirs.join("tree/link-to-dir"));
    symlink("../data.txt", &dirs.join("tree/lib/deep/up-link"));
    fs::create_dir_all(dirs.join("tree/empty-dir")).unwrap();
    write(&dirs.join("conf/app.yaml"), "key: value\n");
    write(&dirs.join("README.md"), "# dirs\n");
    oras_push(
        &dirs,
        &plain,
        &registry.reference("dirs", "v1"),
        &["tree", "conf", "README.md"],
    );

    // Directories whose symlinks point outside of them.
    let abs = s.join("abs-link");
    write(&abs.join("d/ok.txt"), "ok\n");
    symlink("/etc/hostname", &abs.join("d/abs"));
    oras_push(
        &abs,
        &plain,
        &registry.reference("dir-abs-link", "v1"),
        &["d"],
    );
    let up = s.join("up-link");
    write(&up.join("d/ok.txt"), "ok\n");
    symlink("../../outside", &up.join("d/up"));
    oras_push(
        &up,
        &plain,
        &registry.reference("dir-up-link", "v1"),
        &["d"],
    );

    // An index of two platforms (plus one file with the same content in both).
    let multi = s.join("multi");
    write(&multi.join("app-amd64"), "amd64 binary\n");
    write(&multi.join("app-arm64"), "arm64 binary\n");
    write(&multi.join("README.txt"), "common\n");
    for arch in ["amd64", "arm64"] {
        let mut flags = plain.clone();
        flags.extend(["--artifact-platform".to_string(), format!("linux/{arch}")]);
        let app = format!("app-{arch}");
        oras_push(
            &multi,
            &flags,
            &registry.reference("multi", arch),
            &[&app, "README.txt"],
        );
    }
    run(oras()
        .args(["manifest", "index", "create"])
        .args(&plain)
        .arg(registry.reference("multi", "v1"))
        .args(["amd64", "arm64"]))
    .ok();

    // An OCI layout made by oras itself.
    let layout = registry.scratch().join("layout");
    let lay_src = s.join("layout-src");
    write(&lay_src.join("one.txt"), "one\n");
    write(&lay_src.join("sub/two.txt"), "two\n");
    write(&lay_src.join("d/three.txt"), "three\n");
    oras_push(
        &lay_src,
        &["--oci-layout".to_string()],
        &format!("{}:v1", layout.display()),
        &["one.txt", "sub/two.txt", "d"],
    );

    // Crafted manifests.
    let abs_title_target = registry.scratch().join("abs-title/written-by-T.txt");
    let abs_entry_target = registry.scratch().join("abs-entry-must-not-exist.txt");
    craft(&registry, &abs_title_target, &abs_entry_target);

    Corpus {
        registry,
        layout,
        files_digest,
        abs_title_target,
        abs_entry_target,
    }
}

fn blob(media_type: &str, title: Option<&str>, data: &[u8]) -> (Desc, Vec<u8>) {
    let mut d = layer(media_type, &[]);
    if let Some(t) = title {
        d = d.title(t);
    }
    (d, data.to_vec())
}

const OCTET: &str = "application/octet-stream";
const TAR_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn craft(registry: &Registry, abs_title: &Path, abs_entry: &Path) {
    let mut c = Crafter::new(registry, "crafted");
    let one = b"one\n".as_slice();
    let two = b"two\n".as_slice();
    let small_tar = {
        let mut t = TarBuilder::new();
        t.file("inside-untitled.txt", b"untitled tar\n");
        t.finish_gz()
    };

    c.artifact(
        "untitled-mixed",
        vec![
            blob("application/vnd.oci.image.layer.v1.tar", None, one),
            blob(TAR_GZ, None, &small_tar),
            blob(OCTET, Some("titled.txt"), two),
        ],
    );
    c.artifact("untitled-only", vec![blob(TAR_GZ, None, &small_tar)]);
    c.artifact("trav-parent", vec![blob(OCTET, Some("../escape.txt"), one)]);
    c.artifact(
        "trav-nested",
        vec![blob(OCTET, Some("sub/../../escape-nested.txt"), one)],
    );
    c.artifact(
        "trav-inner-ok",
        vec![blob(OCTET, Some("sub/../inner.txt"), one)],
    );
    c.artifact(
        "abs-title",
        vec![blob(OCTET, Some(abs_title.to_str().unwrap()), one)],
    );
    c.artifact(
        "dup-diff",
        vec![
            blob(OCTET, Some("dup.txt"), one),
            blob(OCTET, Some("dup.txt"), two),
        ],
    );
    c.artifact(
        "dup-same",
        vec![
            blob(OCTET, Some("dup.txt"), one),
            blob(OCTET, Some("dup.txt"), one),
        ],
    );
    c.artifact(
        "dup-file-and-dir",
        vec![
            blob(OCTET, Some("x"), one),
            oras_dir_layer("x", TarBuilder::new().dir("x").file("x/y", two)),
        ],
    );

    // oras directory tarballs (title "d"), benign and hostile.
    let tarball = |tag: &str, t: &TarBuilder| {
        let mut c = Crafter::new(registry, "crafted");
        c.artifact(tag, vec![oras_dir_layer("d", t)]);
    };
    tarball(
        "tar-benign",
        TarBuilder::new()
            .dir("d")
            .file("d/a.txt", b"a\n")
            .dir("d/sub")
            .exec("d/sub/run", b"#!/bin/sh\n")
            .symlink("d/s", "a.txt")
            .symlink("d/sub/up", "../a.txt"),
    );
    // oras does not create parent directories that have no entry of their own.
    tarball(
        "tar-implicit-parents",
        TarBuilder::new()
            .dir("d")
            .file("d/implicit/parent/file.txt", b"implicit parents\n"),
    );
    tarball(
        "tar-outside-title",
        TarBuilder::new()
            .dir("d")
            .file("d/ok", one)
            .file("other/x", two),
    );
    tarball(
        "tar-dotdot",
        TarBuilder::new()
            .dir("d")
            .file("d/../../dotdot-escape.txt", two),
    );
    tarball(
        "tar-abs-entry",
        TarBuilder::new()
            .dir("d")
            .file(abs_entry.to_str().unwrap(), two),
    );
    tarball(
        "tar-symlink-up",
        TarBuilder::new()
            .dir("d")
            .symlink("d/evil", "../../outside"),
    );
    tarball(
        "tar-symlink-abs",
        TarBuilder::new().dir("d").symlink("d/evil", "/etc"),
    );
    tarball(
        "tar-write-through-symlink",
        TarBuilder::new()
            .dir("d")
            .symlink("d/l", "..")
            .file("d/l/through.txt", two),
    );
    tarball(
        "tar-hardlink-up",
        TarBuilder::new()
            .dir("d")
            .hardlink("d/h", "../../outside-file"),
    );
    tarball(
        "tar-hardlink-inside",
        TarBuilder::new()
            .dir("d")
            .file("d/a.txt", b"a\n")
            .hardlink("d/h", "d/a.txt"),
    );
    tarball(
        "tar-hardlink-sibling",
        TarBuilder::new()
            .dir("d")
            .file("d/a.txt", b"a\n")
            .hardlink("d/h", "a.txt"),
    );
    tarball(
        "tar-fifo",
        TarBuilder::new()
            .dir("d")
            .file("d/a.txt", b"a\n")
            .fifo("d/pipe"),
    );
    {
        let (mut d, gz) = oras_dir_layer("d", TarBuilder::new().dir("d").file("d/a.txt", b"a\n"));
        d.annotations
            .insert(CONTENT_DIGEST.into(), digest_of(b"something else"));
        c.artifact("tar-digest-mismatch", vec![(d, gz)]);
    }
    {
        let (mut d, gz) = oras_dir_layer("d", TarBuilder::new().dir("d").file("d/a.txt", b"a\n"));
        d.annotations.remove(CONTENT_DIGEST);
        c.artifact("tar-no-digest", vec![(d, gz)]);
    }
}

// ---------------------------------------------------------------------------------------
// Running one case on both CLIs
// ---------------------------------------------------------------------------------------

/// What one CLI did in its own work directory.
struct Side {
    work: tempfile::TempDir,
    outcome: Outcome,
}

impl Side {
    fn tree(&self) -> Tree {
        tree_snapshot(self.work.path())
    }
}

/// Expected outcome (what oras does; vendoras must do the same).
#[derive(Clone, Copy, Debug)]
enum Expect {
    Ok,
    /// Both fail; oras's error contains one of these phrases, and vendoras's error
    /// contains one of the matching `words` (case-insensitive).
    Refused {
        oras_says: &'static str,
        words: &'static [&'static str],
    },
    /// Both fail (network, not found, bad flags...); no wording checked.
    Fails,
}

const TRAVERSAL: Expect = Expect::Refused {
    oras_says: "path traversal disallowed",
    words: &["traversal"],
};
const DUPLICATE: Expect = Expect::Refused {
    oras_says: "duplicate name",
    words: &["duplicate"],
};
const OVERWRITE: Expect = Expect::Refused {
    oras_says: "overwrite disallowed",
    words: &["overwrite", "exists"],
};
const OUTSIDE: Expect = Expect::Refused {
    oras_says: "is outside of",
    words: &["outside", "escape"],
};

/// Runs `tool pull ARGS` in a fresh work dir (cwd) prepared by `setup`.
fn pull_side(tool: fn() -> std::process::Command, args: &[String], setup: &dyn Fn(&Path)) -> Side {
    let work = tempfile::Builder::new()
        .prefix("vendoras-parity-")
        .tempdir()
        .unwrap();
    setup(work.path());
    let outcome = run(tool().current_dir(work.path()).arg("pull").args(args));
    Side { work, outcome }
}

fn pull_both_with(args: &[String], setup: &dyn Fn(&Path)) -> (Side, Side) {
    let o = pull_side(oras, args, setup);
    let v = pull_side(vendoras, args, setup);
    (o, v)
}

/// Pulls with both CLIs and checks that they agree (and that oras does what `expect`
/// says, so the case tests what its name claims). Returns both sides for extra checks.
#[track_caller]
fn case_with(name: &str, args: &[String], setup: &dyn Fn(&Path), expect: Expect) -> (Side, Side) {
    let (o, v) = pull_both_with(args, setup);
    let context = format!("case `{name}`: pull {}", args.join(" "));
    let both = format!("--- oras: {:?}\n--- vendoras: {:?}", o.outcome, v.outcome);
    match expect {
        Expect::Ok => {
            assert!(
                o.outcome.success(),
                "{context}: oras failed (bad fixture?)\n{both}"
            );
            assert!(
                v.outcome.success(),
                "{context}: oras succeeded but vendoras failed\n{both}"
            );
            assert_same_tree(&context, "oras", &o.tree(), "vendoras", &v.tree());
        }
        Expect::Refused { .. } | Expect::Fails => {
            assert!(
                !o.outcome.success(),
                "{context}: oras succeeded (bad fixture?)\n{both}"
            );
            assert!(
                !v.outcome.success(),
                "{context}: oras refused but vendoras succeeded\n{both}\n--- vendoras tree:\n{}",
                format_tree(&v.tree())
            );
            assert_eq!(
                v.outcome.code(),
                Some(1),
                "{context}: vendoras must exit 1 on errors\n{both}"
            );
            assert!(
                v.outcome.stderr.contains("Error"),
                "{context}: vendoras's error should read `vendoras: Error: ...`\n{both}"
            );
            if let Expect::Refused { oras_says, words } = expect {
                assert!(
                    o.outcome.stderr.contains(oras_says),
                    "{context}: oras's refusal changed (expected `{oras_says}`)\n{both}"
                );
                let verr = v.outcome.stderr.to_lowercase();
                assert!(
                    words.iter().any(|w| verr.contains(w)),
                    "{context}: vendoras's error should say why (one of {words:?}, \
                     like oras's `{oras_says}`)\n{both}"
                );
            }
            // Nothing may land outside the output directory on a refusal, for either.
            let outside = |t: Tree| -> Tree {
                t.into_iter()
                    .filter(|(p, _)| p != "out" && !p.starts_with("out/"))
                    .collect()
            };
            assert_same_tree(
                &format!("{context} (outside -o after a refusal)"),
                "oras",
                &outside(o.tree()),
                "vendoras",
                &outside(v.tree()),
            );
        }
    }
    (o, v)
}

#[track_caller]
fn case(name: &str, args: &[String], expect: Expect) -> (Side, Side) {
    case_with(name, args, &|_| {}, expect)
}

/// `[--plain-http, -o, out, <flags>..., REF]`
fn args(reference: &str, flags: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = vec!["--plain-http".into(), "-o".into(), "out".into()];
    v.extend(flags.iter().map(|s| s.to_string()));
    v.push(reference.into());
    v
}

fn reg_ref(repo: &str, tag: &str) -> String {
    corpus().registry.reference(repo, tag)
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn plain_files_land_like_oras() {
    let r = reg_ref("files", "v1");
    let (o, _) = case(
        "plain files, nested titles, empty, twins, unicode",
        &args(&r, &[]),
        Expect::Ok,
    );
    // Guard the fixture: the tree has what the corpus pushed.
    let t = o.tree();
    for p in [
        "out/a.txt",
        "out/nested/deeper/c.txt",
        "out/empty.txt",
        "out/twins/same-2.txt",
        "out/日本語/ファイル.txt",
        "out/emoji-🚀.txt",
    ] {
        assert!(
            t.contains_key(p),
            "fixture: oras did not write {p}:\n{}",
            format_tree(&t)
        );
    }
    case(
        "by digest",
        &args(&reg_ref("files", &corpus().files_digest), &[]),
        Expect::Ok,
    );
    case(
        "--concurrency 1",
        &args(&r, &["--concurrency", "1"]),
        Expect::Ok,
    );
    case(
        "--concurrency 8",
        &args(&r, &["--concurrency", "8"]),
        Expect::Ok,
    );
    case(
        "--format text",
        &args(&r, &["--format", "text"]),
        Expect::Ok,
    );
    case(
        "-o a relative path that does not exist yet",
        &[
            "--plain-http".into(),
            "-o".into(),
            "out/x/y".into(),
            r.clone(),
        ],
        Expect::Ok,
    );
    case(
        "-o defaults to the current directory",
        &["--plain-http".into(), r.clone()],
        Expect::Ok,
    );
    let abs_args = |work: &Path| -> Vec<String> {
        vec![
            "--plain-http".into(),
            "-o".into(),
            work.join("out").display().to_string(),
            r.clone(),
        ]
    };
    // -o with an absolute path: each side gets its own work dir, so build args per side.
    let o = {
        let work = tempfile::tempdir().unwrap();
        let out = run(oras()
            .current_dir("/")
            .arg("pull")
            .args(abs_args(work.path())));
        (work, out)
    };
    let v = {
        let work = tempfile::tempdir().unwrap();
        let out = run(vendoras()
            .current_dir("/")
            .arg("pull")
            .args(abs_args(work.path())));
        (work, out)
    };
    assert!(o.1.success(), "{:?}", o.1);
    assert!(
        v.1.success(),
        "oras succeeded with an absolute -o, vendoras did not: {:?}",
        v.1
    );
    assert_same_tree(
        "-o absolute path",
        "oras",
        &tree_snapshot(o.0.path()),
        "vendoras",
        &tree_snapshot(v.0.path()),
    );
}

#[test]
fn a_100_mib_file_lands_byte_for_byte_like_oras() {
    let (o, _) = case(
        "100 MiB pseudo-random file",
        &args(&reg_ref("big", "v1"), &[]),
        Expect::Ok,
    );
    match o.tree().get("out/big.bin") {
        Some(Entry::File { size, .. }) => assert_eq!(*size, BIG_SIZE),
        other => panic!("fixture: oras did not write big.bin: {other:?}"),
    }
}

#[test]
fn directories_unpack_with_symlinks_and_exec_bits_like_oras() {
    let r = reg_ref("dirs", "v1");
    let (o, _) = case(
        "directories with symlinks and executables",
        &args(&r, &[]),
        Expect::Ok,
    );
    let t = o.tree();
    assert_eq!(
        t.get("out/tree/link-to-dir"),
        Some(&Entry::Symlink {
            target: "lib".into()
        }),
        "fixture:\n{}",
        format_tree(&t)
    );
    assert!(matches!(
        t.get("out/tree/bin/run.sh"),
        Some(Entry::File { exec: true, .. })
    ));
    case(
        "directories, --concurrency 1",
        &args(&r, &["--concurrency", "1"]),
        Expect::Ok,
    );
    case(
        "directory with an absolute symlink",
        &args(&reg_ref("dir-abs-link", "v1"), &[]),
        OUTSIDE,
    );
    case(
        "directory with a symlink leaving it",
        &args(&reg_ref("dir-up-link", "v1"), &[]),
        OUTSIDE,
    );
}

#[test]
fn image_index_pulls_all_platforms_or_the_one_asked_for_like_oras() {
    let r = reg_ref("multi", "v1");
    let (o, _) = case(
        "index without --platform: every child's files",
        &args(&r, &[]),
        Expect::Ok,
    );
    let t = o.tree();
    assert!(
        t.contains_key("out/app-amd64") && t.contains_key("out/app-arm64"),
        "{}",
        format_tree(&t)
    );
    let (o, _) = case(
        "index --platform linux/arm64",
        &args(&r, &["--platform", "linux/arm64"]),
        Expect::Ok,
    );
    let t = o.tree();
    assert!(
        t.contains_key("out/app-arm64") && !t.contains_key("out/app-amd64"),
        "{}",
        format_tree(&t)
    );
    case(
        "index --platform linux/amd64",
        &args(&r, &["--platform", "linux/amd64"]),
        Expect::Ok,
    );
    case(
        "index --platform with no match",
        &args(&r, &["--platform", "linux/s390x"]),
        Expect::Fails,
    );
    case(
        "platform manifest --platform matching",
        &args(&reg_ref("multi", "amd64"), &["--platform", "linux/amd64"]),
        Expect::Ok,
    );
    case(
        "platform manifest --platform not matching",
        &args(&reg_ref("multi", "amd64"), &["--platform", "linux/arm64"]),
        Expect::Fails,
    );
    case(
        "--platform on an artifact without a platform",
        &args(&reg_ref("files", "v1"), &["--platform", "linux/amd64"]),
        Expect::Fails,
    );
}

#[test]
fn oci_layout_pulls_like_oras() {
    let layout = corpus().layout.display().to_string();
    let lay = |r: String| vec!["--oci-layout".to_string(), "-o".into(), "out".into(), r];
    let (o, _) = case(
        "--oci-layout path:tag",
        &lay(format!("{layout}:v1")),
        Expect::Ok,
    );
    assert!(
        o.tree().contains_key("out/d/three.txt"),
        "{}",
        format_tree(&o.tree())
    );
    let index: Value =
        serde_json::from_slice(&fs::read(corpus().layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    case(
        "--oci-layout path@digest",
        &lay(format!("{layout}@{digest}")),
        Expect::Ok,
    );
    case(
        "--oci-layout missing tag",
        &lay(format!("{layout}:nope")),
        Expect::Fails,
    );
    case(
        "--oci-layout missing layout",
        &lay("/nonexistent/layout:v1".into()),
        Expect::Fails,
    );
}

#[test]
fn untitled_layers_are_skipped_like_oras() {
    let (o, _) = case(
        "untitled and titled layers",
        &args(&reg_ref("crafted", "untitled-mixed"), &[]),
        Expect::Ok,
    );
    assert_eq!(
        o.tree().keys().collect::<Vec<_>>(),
        ["out", "out/titled.txt"]
    );
    case(
        "only untitled layers",
        &args(&reg_ref("crafted", "untitled-only"), &[]),
        Expect::Ok,
    );
}

#[test]
fn traversal_titles_are_refused_unless_allowed_like_oras() {
    for tag in ["trav-parent", "trav-nested"] {
        let r = reg_ref("crafted", tag);
        case(&format!("{tag} refused"), &args(&r, &[]), TRAVERSAL);
        let (o, _) = case(&format!("{tag} with -T"), &args(&r, &["-T"]), Expect::Ok);
        // -T really writes outside -o (into the work dir that holds out/).
        assert!(
            o.tree().keys().any(|p| p.starts_with("escape")),
            "fixture: oras -T did not write outside -o:\n{}",
            format_tree(&o.tree())
        );
        case(
            &format!("{tag} with --allow-path-traversal"),
            &args(&r, &["--allow-path-traversal"]),
            Expect::Ok,
        );
    }
    case(
        "a title with .. that stays inside",
        &args(&reg_ref("crafted", "trav-inner-ok"), &[]),
        Expect::Ok,
    );

    // Absolute title: refused; with -T written to that absolute path. Both CLIs write the
    // same path, so run them one after the other and compare what each left there.
    let r = reg_ref("crafted", "abs-title");
    case("absolute title refused", &args(&r, &[]), TRAVERSAL);
    let target = &corpus().abs_title_target;
    let mut results = Vec::new();
    for (name, tool) in [
        ("oras", oras as fn() -> std::process::Command),
        ("vendoras", vendoras),
    ] {
        let _ = fs::remove_dir_all(target.parent().unwrap());
        let side = pull_side(tool, &args(&r, &["-T"]), &|_| {});
        assert!(
            side.outcome.success(),
            "absolute title with -T, {name}: {:?}",
            side.outcome
        );
        results.push((tree_snapshot(target.parent().unwrap()), side.tree()));
    }
    let _ = fs::remove_dir_all(target.parent().unwrap());
    assert!(
        results[0].0.contains_key("written-by-T.txt"),
        "fixture: {}",
        format_tree(&results[0].0)
    );
    assert_same_tree(
        "absolute title with -T (target dir)",
        "oras",
        &results[0].0,
        "vendoras",
        &results[1].0,
    );
    assert_same_tree(
        "absolute title with -T (work dir)",
        "oras",
        &results[0].1,
        "vendoras",
        &results[1].1,
    );
}

#[test]
fn duplicate_titles_are_refused_like_oras() {
    case(
        "same title, different content",
        &args(&reg_ref("crafted", "dup-diff"), &[]),
        DUPLICATE,
    );
    case(
        "same title, different content, --concurrency 1",
        &args(&reg_ref("crafted", "dup-diff"), &["--concurrency", "1"]),
        DUPLICATE,
    );
    let r = reg_ref("crafted", "dup-same");
    let (o, _) = pull_both_with(&args(&r, &[]), &|_| {});
    let expect = if o.outcome.success() {
        Expect::Ok
    } else {
        DUPLICATE
    };
    case("same title, same content", &args(&r, &[]), expect);
    case(
        "a file and a directory with one title",
        &args(&reg_ref("crafted", "dup-file-and-dir"), &[]),
        DUPLICATE,
    );
}

#[test]
fn directory_tarballs_unpack_or_are_refused_like_oras() {
    let c = |tag: &str, expect: Expect| {
        case(tag, &args(&reg_ref("crafted", tag), &[]), expect);
    };
    c("tar-benign", Expect::Ok);
    c("tar-no-digest", Expect::Ok);
    c("tar-fifo", Expect::Ok);
    // oras-go 2.7 resolves a hardlink's target from the extraction root (the directory
    // holding the title), like every other entry name: "d/a.txt" is inside, a bare
    // "a.txt" is outside of "d".
    c("tar-hardlink-inside", Expect::Ok);
    c("tar-hardlink-sibling", OUTSIDE);
    c("tar-implicit-parents", Expect::Fails);
    c("tar-outside-title", OUTSIDE);
    c("tar-dotdot", OUTSIDE);
    c("tar-abs-entry", OUTSIDE);
    c("tar-symlink-up", OUTSIDE);
    c("tar-symlink-abs", OUTSIDE);
    c("tar-write-through-symlink", OUTSIDE);
    c("tar-hardlink-up", OUTSIDE);
    c("tar-digest-mismatch", Expect::Fails);
    c("tar-benign", Expect::Ok);
    let (o, _) = case(
        "tar-benign, -k",
        &args(&reg_ref("crafted", "tar-benign"), &["-k"]),
        Expect::Ok,
    );
    assert!(matches!(
        o.tree().get("out/d/sub/run"),
        Some(Entry::File { exec: true, .. })
    ));
    assert!(
        !corpus().abs_entry_target.exists(),
        "an absolute tar entry was written to {}",
        corpus().abs_entry_target.display()
    );
}

#[test]
fn keep_old_files_refuses_to_overwrite_like_oras() {
    let r = reg_ref("files", "v1");
    let existing = |work: &Path| write(&work.join("out/a.txt"), "precious\n");
    let (o, v) = case_with(
        "-k with an existing file",
        &args(&r, &["-k"]),
        &existing,
        OVERWRITE,
    );
    for side in [&o, &v] {
        assert_eq!(
            fs::read_to_string(side.work.path().join("out/a.txt")).unwrap(),
            "precious\n",
            "-k: the existing file was changed ({})",
            side.outcome.what
        );
    }
    case_with(
        "--keep-old-files with an existing file",
        &args(&r, &["--keep-old-files"]),
        &existing,
        OVERWRITE,
    );
    case("-k without conflicts", &args(&r, &["-k"]), Expect::Ok);
    case_with(
        "-k with unrelated existing files",
        &args(&r, &["-k"]),
        &|w: &Path| write(&w.join("out/unrelated.txt"), "mine\n"),
        Expect::Ok,
    );
    let (o, _) = case_with(
        "without -k an existing file is overwritten",
        &args(&r, &[]),
        &existing,
        Expect::Ok,
    );
    assert_eq!(
        fs::read_to_string(o.work.path().join("out/a.txt")).unwrap(),
        "hello from a\n"
    );
    let dir_existing = |work: &Path| write(&work.join("out/d/a.txt"), "precious\n");
    case_with(
        "-k with an existing file inside a directory tarball",
        &args(&reg_ref("crafted", "tar-benign"), &["-k"]),
        &dir_existing,
        OVERWRITE,
    );
}

/// `--format json` with each side's absolute output dir replaced by `<out>`, files sorted.
fn normalized_json(side: &Side) -> Value {
    let mut v: Value = serde_json::from_str(&side.outcome.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", side.outcome));
    let out = side.work.path().join("out");
    let out = fs::canonicalize(&out).unwrap_or(out);
    let prefixes = [
        out.display().to_string(),
        side.work.path().join("out").display().to_string(),
    ];
    let files = v["files"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no files[]: {:?}", side.outcome));
    for f in files.iter_mut() {
        let path = f["path"].as_str().unwrap().to_string();
        assert!(
            Path::new(&path).is_absolute(),
            "files[].path must be absolute: {path}"
        );
        let rel = prefixes
            .iter()
            .find_map(|p| path.strip_prefix(p.as_str()))
            .unwrap_or_else(|| panic!("{path} is not under the output dir {}", prefixes[0]));
        f["path"] = Value::String(format!("<out>{rel}"));
    }
    files.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    v
}

#[test]
fn json_output_matches_oras() {
    for (name, r) in [
        ("files", reg_ref("files", "v1")),
        ("dirs", reg_ref("dirs", "v1")),
        ("untitled", reg_ref("crafted", "untitled-mixed")),
        ("untitled only", reg_ref("crafted", "untitled-only")),
        ("index", reg_ref("multi", "v1")),
        ("index --platform", reg_ref("multi", "v1")),
    ] {
        let mut flags = vec!["--format", "json"];
        if name == "index --platform" {
            flags.extend(["--platform", "linux/arm64"]);
        }
        let (o, v) = case(
            &format!("--format json: {name}"),
            &args(&r, &flags),
            Expect::Ok,
        );
        let (oj, vj) = (normalized_json(&o), normalized_json(&v));
        assert_eq!(
            oj,
            vj,
            "--format json ({name}) differs\n--- oras:\n{}\n--- vendoras:\n{}",
            serde_json::to_string_pretty(&oj).unwrap(),
            serde_json::to_string_pretty(&vj).unwrap()
        );
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&oj), keys(&vj));
    }
    // The layout form: references are the layout path as given.
    let layout = corpus().layout.display().to_string();
    let (o, v) = case(
        "--format json: --oci-layout",
        &[
            "--oci-layout".into(),
            "-o".into(),
            "out".into(),
            "--format".into(),
            "json".into(),
            format!("{layout}:v1"),
        ],
        Expect::Ok,
    );
    assert_eq!(
        normalized_json(&o),
        normalized_json(&v),
        "--format json with --oci-layout"
    );
}

#[test]
fn bad_references_and_transport_fail_like_oras() {
    let host = corpus().registry.host();
    case(
        "missing tag",
        &args(&reg_ref("files", "nope"), &[]),
        Expect::Fails,
    );
    case(
        "missing repository",
        &args(&reg_ref("nope", "v1"), &[]),
        Expect::Fails,
    );
    case(
        "missing digest",
        &args(
            &reg_ref("files", &format!("sha256:{}", "0".repeat(64))),
            &[],
        ),
        Expect::Fails,
    );
    case(
        "malformed reference",
        &args(&format!("{host}/Bad Repo:v1"), &[]),
        Expect::Fails,
    );
    case(
        "plain-http registry without --plain-http (HTTPS to 127.0.0.1)",
        &["-o".into(), "out".into(), reg_ref("files", "v1")],
        Expect::Fails,
    );
    case(
        "nothing listening",
        &args(&format!("127.0.0.1:{}/files:v1", free_port()), &[]),
        Expect::Fails,
    );
    case(
        "unknown --format",
        &args(&reg_ref("files", "v1"), &["--format", "yaml"]),
        Expect::Fails,
    );
    case(
        "bad --platform",
        &args(&reg_ref("multi", "v1"), &["--platform", "///"]),
        Expect::Fails,
    );
}
