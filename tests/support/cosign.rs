//! The cosign CLI (built by scripts/install-cosign.sh) and the in-repo keyless
//! test signer (go/cmd/testsigner), shared by tests/verify_cosign.rs and
//! tests/sync_cosign.rs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::run;

/// The password of the key pairs the tests generate.
pub const PASSWORD: &str = "vendoras-test";

pub fn cosign_path() -> PathBuf {
    let p = super::tools_dir().join("cosign");
    assert!(
        p.is_file(),
        "cosign not found at {}: run `make tools` (scripts/install-cosign.sh)",
        p.display()
    );
    p
}

/// cosign with an isolated HOME (no user config, no TUF cache) and the key password.
pub fn cosign() -> Command {
    let mut cmd = Command::new(cosign_path());
    let home = super::isolated_home();
    cmd.env("HOME", home)
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env("TUF_ROOT", home.join(".sigstore"))
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .stdin(std::process::Stdio::null());
    cmd
}

/// The keyless test signer, built once per test process.
pub fn testsigner() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("testsigner");
        let go_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
        run(
            Command::new(std::env::var("GO").unwrap_or_else(|_| "go".into()))
                .current_dir(&go_dir)
                .args(["build", "-o"])
                .arg(&out)
                .arg("./cmd/testsigner"),
        )
        .ok();
        out
    })
}

/// Two cosign key pairs, `right` and `wrong`, generated under `dir` (`dir/right/cosign.key`,
/// `dir/right/cosign.pub`, ...); returns `dir`.
pub fn key_pairs(dir: PathBuf) -> PathBuf {
    for name in ["right", "wrong"] {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        run(cosign().current_dir(&d).arg("generate-key-pair")).ok();
        assert!(d.join("cosign.pub").is_file() && d.join("cosign.key").is_file());
    }
    dir
}

/// `cosign sign --key <key> --tlog-upload=false` of `reference` (`repo@digest`; offline:
/// no transparency log). `legacy` writes the cosign <= v2 `.sig` tag, otherwise a v3
/// bundle referrer.
pub fn sign_with_key(reference: &str, key: &Path, legacy: bool) {
    let mut cmd = cosign();
    cmd.args(["sign", "--key"]).arg(key).args([
        "--tlog-upload=false",
        "--use-signing-config=false",
        "--yes",
        "--allow-http-registry",
        "--allow-insecure-registry",
    ]);
    if legacy {
        cmd.arg("--new-bundle-format=false");
    }
    run(cmd.arg(reference)).ok();
}
