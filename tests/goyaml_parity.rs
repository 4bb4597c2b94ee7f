//! `vendoras::goyaml` against `sigs.k8s.io/yaml` v1.4.0 itself (the library
//! vendir v0.44.0 writes its lock and hashes `lazy` configs with), through
//! the small Go program in `scripts/goyaml-ref/`: hand-picked strings, lock-
//! and config-shaped documents, and 20,000 random strings over an alphabet of
//! the characters that change quoting, folding and block styles.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use vendoras::goyaml::{self, Node};

fn node(v: &Value) -> Node {
    match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => Node::Int(n.as_i64().expect("integers only")),
        Value::String(s) => Node::Str(s.clone()),
        Value::Array(a) => Node::Seq(a.iter().map(node).collect()),
        Value::Object(o) => Node::Map(o.iter().map(|(k, v)| (k.clone(), node(v))).collect()),
    }
}

/// Runs the Go reference on `docs`, one YAML text per document.
fn reference(docs: &[Value]) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/goyaml-ref");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("goyaml-ref");
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&target)
        .arg(".")
        .current_dir(&dir)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("go is installed (make test installs it)");
    assert!(build.success(), "building scripts/goyaml-ref failed");
    let mut child = Command::new(&target)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for d in docs {
        input.push_str(&serde_json::to_string(d).unwrap());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_string(r: &mut Prng) -> String {
    const PIECES: &[&str] = &[
        "a",
        "b",
        "Z",
        "x",
        "0",
        "1",
        "9",
        " ",
        " ",
        " ",
        ":",
        "#",
        "-",
        ".",
        "'",
        "\"",
        "\\",
        "\n",
        "\t",
        "\r",
        "_",
        "/",
        "@",
        "!",
        "&",
        "*",
        "?",
        "[",
        "{",
        ",",
        "|",
        ">",
        "%",
        "`",
        "é",
        "\u{85}",
        "\u{a0}",
        "\u{2028}",
        "\u{feff}",
        "\u{1f600}",
        "\u{7}",
        "yes",
        "no",
        "on",
        "true",
        "null",
        "~",
        "0x1F",
        "0o17",
        "0b101",
        "1_000",
        "1.5",
        "1e3",
        ".5",
        "2024-01-02",
        "2024-1-2T10:20:30Z",
        "1:20",
        "---",
        "...",
        "  ",
        "Merge pull request #12 from some/branch",
        "word ",
        " word",
    ];
    let long = r.below(4) == 0;
    let n = if long { 10 + r.below(40) } else { r.below(6) };
    (0..n).map(|_| PIECES[r.below(PIECES.len())]).collect()
}

#[test]
fn goyaml_writes_what_sigs_k8s_io_yaml_writes() {
    let mut docs: Vec<Value> = Vec::new();
    let fixed = [
        "",
        ".",
        "1.10",
        "0755",
        "08",
        "yes",
        "Yes",
        "y",
        "n",
        "on",
        "off",
        "true",
        "null",
        "~",
        "1e5",
        "0x1F",
        "0b11",
        "-0b11",
        "1_000",
        "+1",
        "-",
        "- a",
        "-a",
        "a: b",
        "a:b",
        "a #b",
        "a#b",
        "it's",
        "'q",
        "a\tb",
        "@x",
        " a",
        "a ",
        "é",
        "2024-01-02",
        "2024-1-2",
        "2024-02-30",
        "2024-01-02T10:20:30Z",
        "2024-01-02 10:20:30",
        "2024-01-02t10:20:30.5+01:00",
        "1:20",
        "190:20:30.15",
        "-1:20",
        ".inf",
        ".5",
        ".x",
        "0.",
        "1.",
        "1e",
        "1e+5",
        "+.5",
        "<<",
        "a\nb",
        "a\nb\n",
        "a\nb\n\n",
        "\n",
        "\na",
        " a\nb",
        "a \nb",
        "a\n b",
        "x\r\ny",
        "\u{85}",
        "a\u{2028}b",
        "\u{feff}x",
        "../.github/workflows/vendor",
        "localhost:5000/a@sha256:ab",
    ];
    for s in fixed {
        docs.push(json!({ "k": s }));
        docs.push(json!({ s: "v" }));
        docs.push(json!({ "l": [s, [s, {"m": s}]] }));
    }
    let mut r = Prng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let s = random_string(&mut r);
        let doc = match r.below(4) {
            0 => json!({ "k": s }),
            1 => json!({ s.clone(): s }),
            2 => json!({ "directories": [{ "contents": [{ "git": {
                "commitTitle": s, "sha": "0123", "tags": [s] }, "path": "." }],
                "path": "vendor" }] }),
            _ => json!({ "inline": { "paths": { s.clone(): s, "b": {"c": [s]} } },
                "path": "x", "lazy": true, "depth": 1 }),
        };
        docs.push(doc);
    }
    let want = reference(&docs);
    assert_eq!(want.len(), docs.len());
    let mut failures = Vec::new();
    let mut unmarshallable = 0;
    for (doc, want) in docs.iter().zip(&want) {
        // go-yaml cannot read back the JSON of a string holding a raw NEL or
        // BOM, so vendir fails on those; anything else must not fail.
        let text = doc.to_string();
        if want.starts_with("\0error: ") {
            assert!(
                text.contains('\u{85}') || text.contains('\u{feff}'),
                "{doc}: {want}"
            );
            unmarshallable += 1;
            continue;
        }
        let got = goyaml::to_string(&node(doc));
        if &got != want {
            failures.push(format!("{doc}\n  go-yaml: {want:?}\n  ours:    {got:?}"));
        }
    }
    assert!(
        unmarshallable < docs.len() / 10,
        "{unmarshallable} documents not compared"
    );
    assert!(
        failures.is_empty(),
        "{} of {} documents differ; first ones:\n{}",
        failures.len(),
        docs.len(),
        failures[..failures.len().min(8)].join("\n")
    );
}
