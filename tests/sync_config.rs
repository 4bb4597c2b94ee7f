//! Config rules as a user meets them through `vendoras sync` (docs/config.md):
//! keys vendir ignores are warnings (on stderr and in `--json`) and errors
//! under `--strict`; directory paths may climb above the working directory
//! but not out of the git work tree, unless `--allow-outside-paths`.
//!
//! The contents are `inline`, so no registry is needed: what is tested is the
//! config, and what a sync then leaves on disk.

mod support;

use std::fs;
use std::path::Path;

use support::*;

const HEAD: &str = "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\n";

fn config(path: &str, extra_content_line: &str) -> String {
    format!(
        "{HEAD}directories:\n- path: {path}\n  contents:\n  - path: .\n{extra_content_line}    inline:\n      paths:\n        hello.txt: hi\n"
    )
}

fn sync_in(dir: &Path, args: &[&str]) -> Outcome {
    run(vendoras()
        .current_dir(dir)
        .args(["sync", "--no-cache"])
        .args(args))
}

fn line_col(text: &str, needle: &str) -> String {
    let (n, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .unwrap();
    format!("{}:{}", n + 1, line.find(needle).unwrap() + 1)
}

#[test]
fn a_key_vendir_ignores_is_a_warning_and_an_error_with_strict() {
    let work = tempfile::tempdir().unwrap();
    let cfg = config("vendor/x", "    shallowClone: true\n");
    fs::write(work.path().join("vendir.yml"), &cfg).unwrap();
    let at = format!("vendir.yml:{}", line_col(&cfg, "shallowClone"));

    // --strict first: nothing is written
    let out = sync_in(work.path(), &["--strict"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "vendoras: Error: {at}: unknown key `shallowClone` in directories[0].contents[0]"
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("--strict"), "{out:?}");
    assert!(!work.path().join("vendor").exists());
    assert!(!work.path().join("vendir.lock.yml").exists());

    // without it: a warning naming the place, and the sync goes on
    let out = sync_in(work.path(), &[]).ok();
    assert!(
        out.stderr.contains(&format!(
            "vendoras: warning: {at}: unknown key `shallowClone` in directories[0].contents[0] is ignored"
        )),
        "{out:?}"
    );
    assert_eq!(
        fs::read_to_string(work.path().join("vendor/x/hello.txt")).unwrap(),
        "hi"
    );

    // and in --json
    let out = sync_in(work.path(), &["--json"]).ok();
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let w = &report["warnings"][0];
    assert_eq!(w["file"], "vendir.yml", "{report}");
    assert_eq!(
        format!("vendir.yml:{}:{}", w["line"], w["column"]),
        at,
        "{report}"
    );
    assert_eq!(w["key"], "shallowClone");
    assert_eq!(w["path"], "directories[0].contents[0].shallowClone");
}

#[test]
fn a_misspelt_key_warns_with_the_closest_one() {
    let work = tempfile::tempdir().unwrap();
    let cfg = config("vendor/x", "    lazzy: true\n");
    fs::write(work.path().join("vendir.yml"), &cfg).unwrap();
    let out = sync_in(work.path(), &[]).ok();
    assert!(out.stderr.contains("did you mean `lazy`?"), "{out:?}");
}

#[test]
fn a_directory_above_the_working_directory_syncs_inside_a_git_work_tree() {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir(repo.path().join(".git")).unwrap();
    let ci = repo.path().join("ci");
    fs::create_dir(&ci).unwrap();
    fs::write(
        ci.join("vendir.yml"),
        config("../.github/workflows/vendor", ""),
    )
    .unwrap();
    sync_in(&ci, &[]).ok();
    assert_eq!(
        fs::read_to_string(repo.path().join(".github/workflows/vendor/hello.txt")).unwrap(),
        "hi"
    );
    let lock = fs::read_to_string(ci.join("vendir.lock.yml")).unwrap();
    assert!(
        lock.contains("  path: ../.github/workflows/vendor\n"),
        "{lock}"
    );
    // a second sync finds it again (-d takes the same spelling)
    sync_in(&ci, &["-d", "../.github/workflows/./vendor/"]).ok();
}

#[test]
fn a_directory_leaving_the_project_is_refused_naming_the_flag() {
    let top = tempfile::tempdir().unwrap();
    let repo = top.path().join("repo");
    fs::create_dir_all(repo.join(".git")).unwrap();
    let cfg = config("../outside", "");
    fs::write(repo.join("vendir.yml"), &cfg).unwrap();

    let out = sync_in(&repo, &[]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "vendir.yml:{}: directories[0].path `../outside` leaves the project",
            line_col(&cfg, "../outside")
        )),
        "{out:?}"
    );
    assert!(out.stderr.contains("--allow-outside-paths"), "{out:?}");
    assert!(!top.path().join("outside").exists());

    // /usr is refused the same way
    fs::write(repo.join("vendir.yml"), config("/usr", "")).unwrap();
    let out = sync_in(&repo, &[]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("--allow-outside-paths"), "{out:?}");

    // with the flag, the user has said so
    fs::write(repo.join("vendir.yml"), &cfg).unwrap();
    sync_in(&repo, &["--allow-outside-paths"]).ok();
    assert_eq!(
        fs::read_to_string(top.path().join("outside/hello.txt")).unwrap(),
        "hi"
    );
}

#[test]
fn a_config_from_stdin_with_a_config_map_and_a_comment_only_first_document() {
    let work = tempfile::tempdir().unwrap();
    let text = format!(
        "# vendored files\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: files}}\ndata: {{a.txt: from-map}}\n---\n{HEAD}directories:\n- path: vendor/x\n  contents:\n  - path: .\n    inline:\n      pathsFrom:\n      - configMapRef: {{name: files}}\n"
    );
    let out = run_with_stdin(
        vendoras()
            .current_dir(work.path())
            .args(["sync", "--no-cache", "-f", "-"]),
        Some(text.as_bytes()),
    )
    .ok();
    assert!(!out.stderr.contains("warning"), "{out:?}");
    assert_eq!(
        fs::read_to_string(work.path().join("vendor/x/a.txt")).unwrap(),
        "from-map"
    );
}
