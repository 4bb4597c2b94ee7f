//! `make install` / `make uninstall`: the binary, its man pages and the shell
//! completions land where `man -M` and the shells look, and uninstall takes
//! exactly them away. Runs the debug binary (`BIN=`), so no release build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn make(args: &[&str]) -> Output {
    let out = Command::new("make")
        .arg("--no-print-directory")
        .arg("-C")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_vendoras")))
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    found.sort();
    found
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn install_puts_files_where_man_and_shells_find_them_and_uninstall_removes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    let prefix_arg = format!("PREFIX={}", prefix.display());
    make(&["install", &prefix_arg]);

    let installed = files_under(&prefix);
    let names: Vec<String> = installed.iter().map(|p| p.display().to_string()).collect();
    for expected in [
        "bin/vendoras",
        "share/man/man1/vendoras.1",
        "share/man/man1/vendoras-sync.1",
        "share/man/man1/vendoras-pull.1",
        "share/man/man1/vendoras-verify.1",
        "share/bash-completion/completions/vendoras",
        "share/zsh/site-functions/_vendoras",
        "share/fish/vendor_completions.d/vendoras.fish",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not installed; got {names:?}"
        );
    }
    // The hidden `generate` command gets no page of its own.
    assert!(!names.iter().any(|n| n.contains("generate")), "{names:?}");

    let version = run_ok(Command::new(prefix.join("bin/vendoras")).arg("--version"));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");

    // man finds the page by name through -M and renders it.
    let page = run_ok(
        Command::new("man")
            .arg("-M")
            .arg(prefix.join("share/man"))
            .arg("vendoras-sync")
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100"),
    );
    assert!(page.contains("vendoras-sync"), "{page}");
    assert!(page.contains("--locked"), "{page}");

    // bash loads the completion and binds it to the command.
    let bash = prefix.join("share/bash-completion/completions/vendoras");
    let complete = run_ok(Command::new("bash").arg("-c").arg(format!(
        "source '{}' && complete -p vendoras",
        bash.display()
    )));
    assert!(complete.contains("vendoras"), "{complete}");

    // zsh and fish parse theirs (checked only where those shells exist).
    for (shell, file) in [
        ("zsh", "share/zsh/site-functions/_vendoras"),
        ("fish", "share/fish/vendor_completions.d/vendoras.fish"),
    ] {
        if have(shell) {
            run_ok(Command::new(shell).arg("-n").arg(prefix.join(file)));
        }
    }

    make(&["uninstall", &prefix_arg]);
    let left = files_under(&prefix);
    assert!(left.is_empty(), "uninstall left {left:?}");
}

#[test]
fn install_honours_destdir() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pkgroot");
    let destdir = format!("DESTDIR={}", root.display());
    make(&["install", &destdir, "PREFIX=/opt/vendoras"]);
    let installed = files_under(&root);
    assert!(
        installed.contains(&PathBuf::from("opt/vendoras/bin/vendoras")),
        "{installed:?}"
    );
    assert!(
        installed.contains(&PathBuf::from(
            "opt/vendoras/share/man/man1/vendoras-pull.1"
        )),
        "{installed:?}"
    );
    make(&["uninstall", &destdir, "PREFIX=/opt/vendoras"]);
    let left = files_under(&root);
    assert!(left.is_empty(), "uninstall left {left:?}");
}
