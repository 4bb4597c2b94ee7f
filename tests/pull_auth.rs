//! `vendoras pull` against a registry with TLS (a test CA) and htpasswd basic auth:
//! every way of giving credentials that `oras pull` understands must work the same,
//! and wrong credentials must fail clearly without ever printing a password.

mod support;

use std::fs;
use std::process::Command;

use support::*;

/// Standard base64 (with padding), enough for docker `auth` fields.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Fixture {
    registry: Registry,
    reference: String,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let registry = Registry::start_secure();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("d/sub")).unwrap();
    fs::write(src.join("hello.txt"), "hello, authenticated world\n").unwrap();
    fs::write(src.join("d/sub/x.txt"), "x\n").unwrap();
    let reference = registry.reference("private/app", "v1");
    run(oras()
        .current_dir(&src)
        .arg("push")
        .args(registry.access_flags())
        .arg(&reference)
        .args(["hello.txt", "d"]))
    .ok();
    Fixture {
        registry,
        reference,
        dir,
    }
}

/// One CLI's pull in a fresh work dir (`-o out`), with extra env and optional stdin.
fn pull(
    tool: fn() -> Command,
    args: &[String],
    env: &[(&str, String)],
    stdin: Option<&str>,
) -> (tempfile::TempDir, Outcome) {
    let work = tempfile::Builder::new()
        .prefix("vendoras-auth-")
        .tempdir()
        .unwrap();
    let mut cmd = tool();
    cmd.current_dir(work.path())
        .args(["pull", "-o", "out"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_with_stdin(&mut cmd, stdin.map(str::as_bytes));
    (work, out)
}

/// Both CLIs succeed and write the same tree.
#[track_caller]
fn same_success(name: &str, args: &[String], env: &[(&str, String)], stdin: Option<&str>) {
    let (ow, o) = pull(oras, args, env, stdin);
    let (vw, v) = pull(vendoras, args, env, stdin);
    let both = format!("--- oras: {o:?}\n--- vendoras: {v:?}");
    assert!(o.success(), "{name}: oras failed (bad fixture?)\n{both}");
    assert!(
        v.success(),
        "{name}: oras succeeded, vendoras failed\n{both}"
    );
    let ot = tree_snapshot(ow.path());
    assert!(
        ot.contains_key("out/hello.txt") && ot.contains_key("out/d/sub/x.txt"),
        "{}",
        format_tree(&ot)
    );
    assert_same_tree(name, "oras", &ot, "vendoras", &tree_snapshot(vw.path()));
}

/// Both CLIs fail; returns vendoras's outcome for wording checks.
#[track_caller]
fn same_failure(
    name: &str,
    args: &[String],
    env: &[(&str, String)],
    stdin: Option<&str>,
) -> (Outcome, Outcome) {
    let (_ow, o) = pull(oras, args, env, stdin);
    let (vw, v) = pull(vendoras, args, env, stdin);
    let both = format!("--- oras: {o:?}\n--- vendoras: {v:?}");
    assert!(
        !o.success(),
        "{name}: oras succeeded (bad fixture?)\n{both}"
    );
    assert!(
        !v.success(),
        "{name}: oras failed, vendoras succeeded\n{both}"
    );
    assert_eq!(
        v.code(),
        Some(1),
        "{name}: vendoras must exit 1 on errors\n{both}"
    );
    let files: Vec<_> = tree_snapshot(vw.path())
        .into_iter()
        .filter(|(_, e)| !matches!(e, Entry::Dir))
        .collect();
    assert!(
        files.is_empty(),
        "{name}: vendoras wrote files although it failed: {files:?}"
    );
    (o, v)
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn every_credential_source_oras_knows_works_for_vendoras_too() {
    let f = fixture();
    let reg = &f.registry;
    let ca = reg.ca_path().display().to_string();
    let host = reg.host();
    let auth = base64(format!("{}:{}", reg.user(), reg.password()).as_bytes());

    // (a) --registry-config with `auths`
    let cfg = f.dir.path().join("registry-config.json");
    fs::write(
        &cfg,
        format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    same_success(
        "--registry-config with auths",
        &[
            s("--ca-file"),
            ca.clone(),
            s("--registry-config"),
            cfg.display().to_string(),
            f.reference.clone(),
        ],
        &[],
        None,
    );

    // (b) DOCKER_CONFIG/config.json with `auths`
    let docker_auths = f.dir.path().join("docker-auths");
    fs::create_dir_all(&docker_auths).unwrap();
    fs::write(docker_auths.join("config.json"), fs::read(&cfg).unwrap()).unwrap();
    same_success(
        "DOCKER_CONFIG auths",
        &[s("--ca-file"), ca.clone(), f.reference.clone()],
        &[("DOCKER_CONFIG", docker_auths.display().to_string())],
        None,
    );

    // (c) DOCKER_CONFIG/config.json with `credHelpers` -> docker-credential-vtest on PATH
    let helper_dir = f.dir.path().join("helper-bin");
    fs::create_dir_all(&helper_dir).unwrap();
    let calls = f.dir.path().join("helper-calls.log");
    let helper = helper_dir.join("docker-credential-vtest");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\n\
             read -r server\n\
             echo \"$1 $server\" >> '{calls}'\n\
             case \"$1\" in\n\
               get) printf '{{\"ServerURL\":\"%s\",\"Username\":\"%s\",\"Secret\":\"%s\"}}\\n' \"$server\" '{user}' '{pass}' ;;\n\
               *) echo 'unsupported' >&2; exit 1 ;;\n\
             esac\n",
            calls = calls.display(),
            user = reg.user(),
            pass = reg.password()
        ),
    )
    .unwrap();
    set_mode(&helper, 0o755);
    let docker_helpers = f.dir.path().join("docker-helpers");
    fs::create_dir_all(&docker_helpers).unwrap();
    fs::write(
        docker_helpers.join("config.json"),
        format!(r#"{{"credHelpers": {{"{host}": "vtest"}}}}"#),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        helper_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = [
        ("DOCKER_CONFIG", docker_helpers.display().to_string()),
        ("PATH", path),
    ];
    let (_w, o) = pull(
        oras,
        &[s("--ca-file"), ca.clone(), f.reference.clone()],
        &env,
        None,
    );
    assert!(o.success(), "credential helper, oras: {o:?}");
    let _ = fs::remove_file(&calls);
    same_success(
        "credHelpers",
        &[s("--ca-file"), ca.clone(), f.reference.clone()],
        &env,
        None,
    );
    let log = fs::read_to_string(&calls).unwrap_or_default();
    assert!(
        log.lines()
            .any(|l| l.starts_with("get ") && l.contains(&host)),
        "vendoras did not ask the credential helper for {host}; helper calls:\n{log}"
    );

    // (d) -u/-p and (e) -u/--password-stdin
    same_success(
        "-u/-p",
        &[
            s("--ca-file"),
            ca.clone(),
            s("-u"),
            s(reg.user()),
            s("-p"),
            s(reg.password()),
            f.reference.clone(),
        ],
        &[],
        None,
    );
    same_success(
        "--username/--password",
        &[
            s("--ca-file"),
            ca.clone(),
            s("--username"),
            s(reg.user()),
            s("--password"),
            s(reg.password()),
            f.reference.clone(),
        ],
        &[],
        None,
    );
    same_success(
        "--password-stdin",
        &[
            s("--ca-file"),
            ca.clone(),
            s("-u"),
            s(reg.user()),
            s("--password-stdin"),
            f.reference.clone(),
        ],
        &[],
        Some(&format!("{}\n", reg.password())),
    );

    // Flags win over stores: -u/-p right, config wrong.
    let wrong_cfg = f.dir.path().join("wrong-config.json");
    let wrong_auth = base64(format!("{}:not-the-password", reg.user()).as_bytes());
    fs::write(
        &wrong_cfg,
        format!(r#"{{"auths": {{"{host}": {{"auth": "{wrong_auth}"}}}}}}"#),
    )
    .unwrap();
    same_success(
        "-u/-p win over --registry-config",
        &[
            s("--ca-file"),
            ca.clone(),
            s("--registry-config"),
            wrong_cfg.display().to_string(),
            s("-u"),
            s(reg.user()),
            s("-p"),
            s(reg.password()),
            f.reference.clone(),
        ],
        &[],
        None,
    );
}

#[track_caller]
fn assert_clear_auth_error(name: &str, v: &Outcome, host: &str, secrets: &[&str]) {
    assert_auth_error_says(name, v, host, secrets, &["401", "unauthorized"]);
}

#[track_caller]
fn assert_auth_error_says(name: &str, v: &Outcome, host: &str, secrets: &[&str], words: &[&str]) {
    let err = v.stderr.to_lowercase();
    assert!(
        err.contains(host),
        "{name}: the error should name the registry {host}:\n{v:?}"
    );
    assert!(
        words.iter().any(|w| err.contains(w)),
        "{name}: the error should say one of {words:?}:\n{v:?}"
    );
    for secret in secrets {
        assert!(
            !v.stderr.contains(secret) && !v.stdout.contains(secret),
            "{name}: vendoras printed a password (`{secret}`):\n{v:?}"
        );
    }
}

#[test]
fn wrong_or_missing_credentials_fail_clearly_without_leaking_passwords() {
    let f = fixture();
    let reg = &f.registry;
    let ca = reg.ca_path().display().to_string();
    let host = reg.host();
    let wrong = "Wr0ng-Pa55word-zzz";
    let secrets = [wrong, reg.password()];

    let (o, v) = same_failure(
        "wrong -p",
        &[
            s("--ca-file"),
            ca.clone(),
            s("-u"),
            s(reg.user()),
            s("-p"),
            s(wrong),
            f.reference.clone(),
        ],
        &[],
        None,
    );
    assert!(
        o.stderr.to_lowercase().contains("unauthorized"),
        "oras's wording changed: {o:?}"
    );
    assert_clear_auth_error("wrong -p", &v, &host, &secrets);

    let (_, v) = same_failure(
        "wrong --password-stdin",
        &[
            s("--ca-file"),
            ca.clone(),
            s("-u"),
            s(reg.user()),
            s("--password-stdin"),
            f.reference.clone(),
        ],
        &[],
        Some(&format!("{wrong}\n")),
    );
    assert_clear_auth_error("wrong --password-stdin", &v, &host, &secrets);

    let cfg = f.dir.path().join("wrong.json");
    let auth = base64(format!("{}:{wrong}", reg.user()).as_bytes());
    fs::write(
        &cfg,
        format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    let (_, v) = same_failure(
        "wrong password in --registry-config",
        &[
            s("--ca-file"),
            ca.clone(),
            s("--registry-config"),
            cfg.display().to_string(),
            f.reference.clone(),
        ],
        &[],
        None,
    );
    assert_clear_auth_error(
        "wrong password in --registry-config",
        &v,
        &host,
        &[wrong, &auth, reg.password()],
    );

    // oras: `Error: basic credential not found` plus a hint naming the config file.
    let (_, v) = same_failure(
        "no credentials",
        &[s("--ca-file"), ca.clone(), f.reference.clone()],
        &[],
        None,
    );
    assert_auth_error_says(
        "no credentials",
        &v,
        &host,
        &secrets,
        &["401", "unauthorized", "credential"],
    );
}

#[test]
fn tls_needs_the_ca_or_insecure_like_oras() {
    let f = fixture();
    let reg = &f.registry;
    let creds = [s("-u"), s(reg.user()), s("-p"), s(reg.password())];
    let with = |extra: &[String]| -> Vec<String> {
        let mut v = creds.to_vec();
        v.extend_from_slice(extra);
        v.push(f.reference.clone());
        v
    };

    same_success(
        "--ca-file",
        &with(&[s("--ca-file"), reg.ca_path().display().to_string()]),
        &[],
        None,
    );
    same_success("--insecure", &with(&[s("--insecure")]), &[], None);

    let (o, v) = same_failure("neither --ca-file nor --insecure", &with(&[]), &[], None);
    for (who, out) in [("oras", &o), ("vendoras", &v)] {
        let err = out.stderr.to_lowercase();
        assert!(
            ["certificate", "x509", "tls"]
                .iter()
                .any(|w| err.contains(w)),
            "{who}: expected a TLS/certificate error:\n{out:?}"
        );
        assert!(
            !out.stderr.contains(reg.password()),
            "{who} printed the password"
        );
    }

    // A CA that did not sign the server's certificate.
    let other = f.dir.path().join("other-ca.pem");
    let key = f.dir.path().join("other-ca.key");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&other)
        .args(["-days", "1", "-subj", "/CN=unrelated CA"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    same_failure(
        "--ca-file with the wrong CA",
        &with(&[s("--ca-file"), other.display().to_string()]),
        &[],
        None,
    );

    // --plain-http against a TLS registry fails too.
    same_failure(
        "--plain-http against TLS",
        &with(&[s("--plain-http")]),
        &[],
        None,
    );
}
