//! Builds the Go shim in `go/` as a c-archive and generates its Rust bindings.
//!
//! The archive holds oras-go (registry I/O) and, later, the sigstore code: a
//! binary can link only one Go runtime, so everything Go lives in this one
//! archive. The C ABI is documented in `docs/ffi.md`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const LIB: &str = "vendoras_shim";

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
    for var in ["GO", "GOFLAGS", "GOPROXY", "CC"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let go = env::var("GO").unwrap_or_else(|_| "go".to_string());
    let archive = out_dir.join(format!("lib{LIB}.a"));
    let status = Command::new(&go)
        .current_dir(&go_dir)
        .env("CGO_ENABLED", "1")
        .args(["build", "-buildmode=c-archive", "-trimpath"])
        // The pure-Go resolver and user lookup keep the archive free of
        // libc NSS calls, which misbehave when linked statically.
        .args(["-tags", "netgo,osusergo", "-ldflags=-s -w"])
        .arg("-o")
        .arg(&archive)
        .arg(".")
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "\n\nvendoras: could not run `{go}` ({e}).\n\
                 The registry shim is Go code: install Go >= 1.26 \
                 (Debian: `apt-get install golang-go`, or from go.dev) \
                 and make sure `go` is on PATH, or set GO=/path/to/go.\n"
            )
        });
    if !status.success() {
        panic!("vendoras: `go build -buildmode=c-archive` in {} failed ({status}); see the output above", go_dir.display());
    }

    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static={LIB}");
    // The Go runtime needs threads and, for the resolver fallbacks, libresolv.
    println!("cargo:rustc-link-lib=dylib=pthread");
    println!("cargo:rustc-link-lib=dylib=resolv");

    let header = out_dir.join(format!("lib{LIB}.h"));
    generate_bindings(&header, &out_dir.join("shim.rs"));
}

fn generate_bindings(header: &Path, out: &Path) {
    // bindgen loads libclang at run time and panics when it is missing;
    // turn that into a message that says what to install.
    let header = header.to_path_buf();
    let result = std::panic::catch_unwind(move || {
        bindgen::Builder::default()
            .header(header.to_string_lossy())
            .allowlist_function("vdr_.*")
            .layout_tests(false)
            .generate()
    });
    match result {
        Ok(Ok(bindings)) => bindings.write_to_file(out).expect("write bindings"),
        Ok(Err(e)) => panic!("vendoras: bindgen could not read the shim header: {e}"),
        Err(_) => panic!(
            "\n\nvendoras: bindgen needs libclang to read the Go shim's C header.\n\
             Install it (Debian/Ubuntu: `apt-get install libclang-dev`, Fedora: \
             `dnf install clang-devel`) or point LIBCLANG_PATH at the directory \
             holding libclang.so.\n"
        ),
    }
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
