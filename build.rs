//! Builds the Go shim in `go/` as a c-archive and links it.
//!
//! The archive holds oras-go (registry I/O) and the sigstore code: a binary
//! can link only one Go runtime, so everything Go lives in this one archive.
//! The C ABI is documented in `docs/ffi.md`.
//!
//! The Rust declarations of the archive's exports are bindgen's output,
//! committed as `src/ffi/bindings.rs` (the usual `-sys` crate practice), so a
//! build needs no libclang. The `regenerate-bindings` feature runs bindgen on
//! the header this build wrote: it fails the build when the committed file
//! disagrees (`make lint`), or rewrites it (`make bindings`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIB: &str = "vendoras_shim";
/// oras-go v2.7.0 declares `go 1.26.0`.
const GO_MIN: (u32, u32) = (1, 26);

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    // VENDORAS_SHIM_DIR builds the shim from another checkout of `go/`
    // (handy while the Go side is being changed separately).
    println!("cargo:rerun-if-env-changed=VENDORAS_SHIM_DIR");
    let go_dir =
        env::var_os("VENDORAS_SHIM_DIR").map_or_else(|| manifest_dir.join("go"), PathBuf::from);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());

    // Rebuild the archive only when the Go sources change.
    rerun_if_go_changed(&go_dir);
    for var in ["GO", "GOFLAGS", "GOPROXY", "CC", "CMAKE"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let go = env::var("GO").unwrap_or_else(|_| "go".to_string());
    check_tools(&go);

    let archive = out_dir.join(format!("lib{LIB}.a"));
    let status = Command::new(&go)
        .current_dir(&go_dir)
        .env("CGO_ENABLED", "1")
        // -trimpath, -buildid= and no VCS stamp keep the archive free of
        // paths, build ids and checkout state: `make dist` is reproducible.
        .args([
            "build",
            "-buildmode=c-archive",
            "-trimpath",
            "-buildvcs=false",
        ])
        // The pure-Go resolver and user lookup keep the archive free of
        // libc NSS calls, which misbehave when linked statically.
        .args(["-tags", "netgo,osusergo"])
        // -w drops the DWARF data (the archive falls from 56 to 26 MB);
        // -s changes nothing in a c-archive but costs nothing either.
        .arg("-ldflags=-s -w -buildid=")
        .arg("-o")
        .arg(&archive)
        .arg(".")
        .status()
        .unwrap_or_else(|e| missing("go", &format!("could not run `{go}` ({e})")));
    if !status.success() {
        panic!("vendoras: `go build -buildmode=c-archive` in {} failed ({status}); see the output above", go_dir.display());
    }

    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static={LIB}");
    // The Go runtime needs threads and, for the resolver fallbacks, libresolv.
    println!("cargo:rustc-link-lib=dylib=pthread");
    println!("cargo:rustc-link-lib=dylib=resolv");

    #[cfg(feature = "regenerate-bindings")]
    bindings::regenerate(
        &out_dir.join(format!("lib{LIB}.h")),
        &manifest_dir.join("src/ffi/bindings.rs"),
    );
}

/// Fails early, naming the package, when a tool the build needs is missing:
/// Go (the shim), a C compiler (cgo, and the final link) and cmake
/// (flate2's zlib-ng backend).
fn check_tools(go: &str) {
    let version = run(go, &["env", "GOVERSION"])
        .unwrap_or_else(|e| missing("go", &format!("could not run `{go}` ({e})")));
    // "go1.26.8", "go1.27rc1", "devel go1.27-..." (a source build: assume new enough).
    let numbers = version.trim().strip_prefix("go").map(|v| {
        let mut parts = v.split(|c: char| !c.is_ascii_digit());
        let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        (major, minor)
    });
    if numbers.is_some_and(|v: (u32, u32)| v < GO_MIN) {
        missing(
            "go",
            &format!(
                "`{go}` is {}, older than go{}.{}",
                version.trim(),
                GO_MIN.0,
                GO_MIN.1
            ),
        );
    }

    // cgo compiles with `go env CC` (which honours $CC); Rust links with cc.
    let cc = run(go, &["env", "CC"]).unwrap_or_default();
    let cc = cc.split_whitespace().next().unwrap_or("gcc").to_string();
    for compiler in [cc.as_str(), "cc"] {
        if let Err(e) = run(compiler, &["--version"]) {
            missing(
                "cc",
                &format!("could not run the C compiler `{compiler}` ({e})"),
            );
        }
    }

    // libz-ng-sys builds zlib-ng with cmake (and reads $CMAKE the same way).
    let cmake = env::var("CMAKE").unwrap_or_else(|_| "cmake".to_string());
    if let Err(e) = run(&cmake, &["--version"]) {
        missing("cmake", &format!("could not run `{cmake}` ({e})"));
    }
}

/// Runs `program args`, returning its stdout or why it could not run.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn missing(tool: &str, why: &str) -> ! {
    let install = match tool {
        "go" => {
            "Go >= 1.26 (Debian/Ubuntu: `apt-get install golang-go` if its version is new \
             enough, otherwise from go.dev), then put `go` on PATH or set GO=/path/to/go"
        }
        "cc" => {
            "a C compiler (Debian/Ubuntu: `apt-get install build-essential`, Fedora: \
             `dnf install gcc`), or set CC"
        }
        _ => "cmake (Debian/Ubuntu: `apt-get install cmake`, Fedora: `dnf install cmake`)",
    };
    panic!("\n\nvendoras: {why}.\nThe build needs it: install {install}.\n")
}

fn rerun_if_go_changed(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rerun_if_go_changed(&path);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("go" | "mod" | "sum" | "c" | "h")
        ) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

#[cfg(feature = "regenerate-bindings")]
mod bindings {
    use std::path::Path;

    /// Runs bindgen on the shim's header and compares its output with the
    /// committed file; `VENDORAS_BINDINGS=write` rewrites the file instead.
    pub fn regenerate(header: &Path, committed: &Path) {
        println!("cargo:rerun-if-env-changed=VENDORAS_BINDINGS");
        println!("cargo:rerun-if-changed={}", committed.display());
        let fresh = generate(header);
        let current = std::fs::read_to_string(committed).unwrap_or_default();
        if std::env::var("VENDORAS_BINDINGS").as_deref() == Ok("write") {
            if current != fresh {
                std::fs::write(committed, &fresh)
                    .unwrap_or_else(|e| panic!("write {}: {e}", committed.display()));
                println!("cargo:warning=rewrote {}", committed.display());
            }
        } else if normalize(&current) != normalize(&fresh) {
            panic!(
                "\n\nvendoras: {} does not match the exports of the Go shim's header \
                 ({}).\nRun `make bindings` and commit the result.\n\nbindgen now \
                 writes:\n{fresh}",
                committed.display(),
                header.display()
            );
        }
    }

    /// What the check compares: the declarations without whitespace and
    /// comments, so neither a different rustfmt nor bindgen's version
    /// banner fails it. Header text outside the `vdr_` exports (the Go
    /// runtime's typedefs, which move between Go releases) never reaches
    /// bindgen's output: the allowlist keeps only the exports and the types
    /// they use.
    fn normalize(text: &str) -> String {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("//") && !l.starts_with("/*"))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect()
    }

    fn generate(header: &Path) -> String {
        // bindgen loads libclang at run time and panics when it is missing;
        // turn that into a message that says what to install.
        let header = header.to_path_buf();
        let result = std::panic::catch_unwind(move || {
            bindgen::Builder::default()
                .header(header.to_string_lossy())
                .allowlist_function("vdr_.*")
                .layout_tests(false)
                .raw_line("// Generated by bindgen from the Go shim's header: `make bindings`.")
                .raw_line("// Do not edit; `make lint` checks it against go/.")
                .generate()
        });
        match result {
            Ok(Ok(bindings)) => bindings.to_string(),
            Ok(Err(e)) => panic!("vendoras: bindgen could not read the shim header: {e}"),
            Err(_) => panic!(
                "\n\nvendoras: bindgen needs libclang to read the Go shim's C header \
                 (only `make bindings` and `make lint` run it).\n\
                 Install it (Debian/Ubuntu: `apt-get install libclang-dev`, Fedora: \
                 `dnf install clang-devel`) or point LIBCLANG_PATH at the directory \
                 holding libclang.so.\n"
            ),
        }
    }
}
