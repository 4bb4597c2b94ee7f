//! The config's tests: every error class, positioned.

use super::signers::{Keyless, Matcher, Signers};
use super::validate::parse_permissions;
use super::*;
use crate::relpath::RelPath;

fn rel(s: &str) -> RelPath {
    RelPath::normalize(s).unwrap()
}

fn input(name: &str, text: &str) -> Input {
    Input {
        name: name.to_string(),
        text: text.to_string(),
    }
}

/// A project at /w/p with the working directory at its top.
fn rules() -> PathRules {
    PathRules {
        workdir: "/w/p".into(),
        project: "/w/p".into(),
        allow_outside: false,
    }
}

fn opts() -> LoadOptions {
    LoadOptions {
        paths: rules(),
        strict: false,
    }
}

fn load_all(inputs: &[Input]) -> Result<Loaded, ConfigError> {
    load(inputs, &opts())
}

fn load1(text: &str) -> Result<Loaded, ConfigError> {
    load_all(&[input("vendir.yml", text)])
}

fn err(text: &str) -> ConfigError {
    match load1(text) {
        Ok(l) => panic!("expected an error, got {:#?}", l.config),
        Err(e) => e,
    }
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} not in text"))
        + 1
}

/// 1-based column of `needle` on its line.
fn col_of(text: &str, needle: &str) -> usize {
    let line = text.lines().find(|l| l.contains(needle)).unwrap();
    line.find(needle).unwrap() + 1
}

fn assert_at(e: &ConfigError, text: &str, needle: &str) {
    assert_eq!(e.file, "vendir.yml", "{e}");
    assert_eq!(e.line, Some(line_of(text, needle)), "{e}");
    assert_eq!(e.column, Some(col_of(text, needle)), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "vendir.yml:{}:{}: ",
            line_of(text, needle),
            col_of(text, needle)
        )),
        "{e}"
    );
}

const HEAD: &str = "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\n";

/// A Config with one directory `vendor/a` and the given content lines
/// (indented as list items of `contents`).
fn one(content: &str) -> String {
    format!("{HEAD}directories:\n- path: vendor/a\n  contents:\n{content}")
}

const FULL: &str = r#"# leading comment
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: ignored
type: kubernetes.io/dockerconfigjson
data:
  username: dXNlcg==
  password: b2xk
stringData:
  password: new
---
apiVersion: v1
kind: ConfigMap
metadata: {name: files}
data:
  a.txt: hello
  n: 12
---
---
apiVersion: vendir.k14s.io/v1alpha1
kind: Config
minimumRequiredVersion: 0.40.0
directories:
- path: ./vendor/k8s-schemas/
  permissions: 0755
  contents:
  - path: .
    lazy: true
    includePaths: ["**/*.json", "crds/*.yaml"]
    excludePaths: [test/**]
    ignorePaths: [local/**]
    legalPaths: [COPYING]
    newRootPath: ./schemas/
    permissions: 0o644
    ociArtifact:
      image: ghcr.io/home-operations/k8s-schemas
      tag: 1.10
      mediaTypes:
      - application/vnd.cncf.flux.content.v1.tar+gzip
      platform: linux/amd64
      unpack: archives
      secretRef: {name: creds}
      plainHTTP: false
      dangerousSkipTLSVerify: true
      cosign:
        certificateOidcIssuer: https://token.actions.githubusercontent.com
        certificateIdentityRegexp: ^https://github.com/home-operations/
        trustedRoot: trusted_root.json
- path: vendor/more
  permissions: 750
  contents:
  - path: sel
    ociArtifact:
      ociLayout: ./layout
      tagSelection:
        semver:
          constraints: ">=1.2.0 <2.0.0"
          prereleases: {identifiers: [rc, beta]}
      cosign: {key: cosign.pub}
  - path: all-pre
    legalPaths: []
    ociArtifact:
      image: localhost:5000/x
      tagSelection: {semver: {constraints: ">=1", prereleases: {}}}
      cosign: {secretRef: {name: creds}}
  - path: by-hand
    manual: {}
  - path: copied
    directory: {path: ../elsewhere}
  - path: inl
    inline:
      paths:
        ./dir/file.txt: |
          text
      pathsFrom:
      - secretRef: {name: creds, directoryPath: ./sec/}
      - configMapRef: {name: files}
"#;

#[test]
fn full_config() {
    let l = load1(FULL).unwrap();
    let c = &l.config;
    assert_eq!(c.minimum_required_version.as_deref(), Some("0.40.0"));
    assert_eq!(c.directories.len(), 2);
    let d = &c.directories[0];
    assert_eq!(d.path, "vendor/k8s-schemas");
    assert_eq!(d.permissions, Some(0o755));
    let ct = &d.contents[0];
    assert!(ct.path.is_root());
    assert!(ct.lazy);
    assert_eq!(ct.include_paths, vec!["**/*.json", "crds/*.yaml"]);
    assert_eq!(ct.exclude_paths, vec!["test/**"]);
    assert_eq!(ct.ignore_paths, vec!["local/**"]);
    assert_eq!(ct.legal_paths, Some(vec!["COPYING".to_string()]));
    assert_eq!(ct.new_root_path, Some(rel("schemas")));
    assert_eq!(ct.permissions, Some(0o644));
    assert_eq!(ct.source_kind(), "ociArtifact");
    assert_eq!(
        ct.raw["ociArtifact"]["image"],
        "ghcr.io/home-operations/k8s-schemas"
    );
    assert_eq!(ct.raw["lazy"], true);
    let Source::OciArtifact(o) = &ct.source else {
        panic!()
    };
    assert_eq!(
        o,
        &OciArtifact {
            location: OciLocation::Image("ghcr.io/home-operations/k8s-schemas".into()),
            tag: Some("1.10".into()),
            tag_selection: None,
            media_types: vec!["application/vnd.cncf.flux.content.v1.tar+gzip".into()],
            platform: Some("linux/amd64".into()),
            unpack: Unpack::Archives,
            secret_ref: Some(SecretRef {
                name: "creds".into()
            }),
            plain_http: Some(false),
            dangerous_skip_tls_verify: true,
            cosign: Some(Cosign {
                signers: Signers::Keyless(Keyless {
                    identity: Matcher::Regexp("^https://github.com/home-operations/".into()),
                    issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
                }),
                trusted_root: Some("trusted_root.json".into()),
                images: false,
                bundle_url: None,
                bundle_asset: None,
                github_attestations: false,
                predicate_type: None,
            }),
        }
    );

    let d = &c.directories[1];
    assert_eq!(d.permissions, Some(0o750));
    let kinds: Vec<_> = d.contents.iter().map(Content::source_kind).collect();
    assert_eq!(
        kinds,
        [
            "ociArtifact",
            "ociArtifact",
            "manual",
            "directory",
            "inline"
        ]
    );
    let Source::OciArtifact(o) = &d.contents[0].source else {
        panic!()
    };
    assert_eq!(o.location, OciLocation::Layout("./layout".into()));
    assert_eq!(o.tag, None);
    assert_eq!(o.unpack, Unpack::Auto);
    assert_eq!(o.plain_http, None);
    assert!(!o.dangerous_skip_tls_verify);
    assert_eq!(
        o.tag_selection,
        Some(TagSelection {
            semver: Semver {
                constraints: ">=1.2.0 <2.0.0".into(),
                prerelease_identifiers: Some(vec!["rc".into(), "beta".into()]),
            }
        })
    );
    assert_eq!(
        o.cosign.as_ref().unwrap().signers,
        Signers::Keys(vec![CosignKey::File("cosign.pub".into())])
    );
    assert_eq!(d.contents[0].legal_paths, None);
    let Source::OciArtifact(o) = &d.contents[1].source else {
        panic!()
    };
    assert_eq!(
        o.tag_selection
            .as_ref()
            .unwrap()
            .semver
            .prerelease_identifiers,
        Some(vec![])
    );
    assert_eq!(
        o.cosign.as_ref().unwrap().signers,
        Signers::Keys(vec![CosignKey::Secret(SecretRef {
            name: "creds".into()
        })])
    );
    assert_eq!(d.contents[1].legal_paths, Some(vec![]));
    assert_eq!(d.contents[2].source, Source::Manual);
    assert_eq!(
        d.contents[3].source,
        Source::Directory {
            path: "../elsewhere".into()
        }
    );
    let Source::Inline(i) = &d.contents[4].source else {
        panic!()
    };
    assert_eq!(i.paths[&rel("dir/file.txt")], "text\n");
    assert_eq!(
        i.paths_from,
        [
            InlineFrom::Secret(InlineRef {
                name: "creds".into(),
                directory_path: rel("sec"),
            }),
            InlineFrom::ConfigMap(InlineRef {
                name: "files".into(),
                directory_path: RelPath::root(),
            }),
        ]
    );

    let s = &l.secrets["creds"];
    assert_eq!(s.data["username"], b"user");
    assert_eq!(s.data["password"], b"new", "stringData wins over data");
    assert_eq!(l.config_maps["files"].data["a.txt"], "hello");
    assert_eq!(l.config_maps["files"].data["n"], "12");
}

#[test]
fn multi_file_with_secret_and_positions_relative_to_file() {
    let secrets = "apiVersion: v1\nkind: Secret\nmetadata: {name: reg}\ndata: {token: dG9r}\n";
    let cfg = format!(
        "# comment\n---\n{HEAD}directories:\n- path: v\n  contents:\n  - path: .\n    \
         ociArtifact: {{image: r/x, secretRef: {{name: reg}}}}\n"
    );
    let l = load_all(&[input("secrets.yml", secrets), input("-", &cfg)]).unwrap();
    assert_eq!(l.secrets["reg"].data["token"], b"tok");
    assert_eq!(l.config.directories[0].path, "v");

    // the Config is the second document of stdin: line counts from the
    // start of the input, and stdin is called <stdin>.
    let bad = cfg.replace("image: r/x", "imagee: r/x");
    let e = load_all(&[input("secrets.yml", secrets), input("-", &bad)]).unwrap_err();
    assert_eq!(e.file, "<stdin>");
    assert_eq!(e.line, Some(line_of(&bad, "imagee")));
    assert_eq!(e.column, Some(col_of(&bad, "imagee")));
    assert_eq!(e.key.as_deref(), Some("imagee"));
    assert!(e.to_string().contains("did you mean `image`?"), "{e}");

    // secretRef to a Secret defined nowhere
    let bad = cfg.replace("name: reg", "name: nope");
    let e = load_all(&[input("secrets.yml", secrets), input("c.yml", &bad)]).unwrap_err();
    assert_eq!(e.file, "c.yml");
    assert_eq!(e.line, Some(line_of(&bad, "nope")));
    assert!(e.message.contains("Secret `nope`"), "{e}");
    assert!(e.message.contains("defined Secrets: reg"), "{e}");
}

/// The one warning `text` loads with, and the error `--strict` makes of it.
fn warning(text: &str) -> (ConfigError, ConfigError) {
    let l = load1(text).unwrap_or_else(|e| panic!("expected warnings, got {e}"));
    assert_eq!(l.warnings.len(), 1, "{:#?}", l.warnings);
    let strict = LoadOptions {
        strict: true,
        ..opts()
    };
    let e = load(&[input("vendir.yml", text)], &strict).expect_err("--strict refuses it");
    (l.warnings[0].clone(), e)
}

#[test]
fn unknown_keys_under_oci_artifact_are_errors() {
    let t = one("  - path: .\n    ociArtifact:\n      image: r/x\n      plainHttp: true\n");
    let e = err(&t);
    assert_at(&e, &t, "plainHttp");
    assert_eq!(e.key.as_deref(), Some("plainHttp"));
    assert_eq!(e.path, "directories[0].contents[0].ociArtifact.plainHttp");
    assert_eq!(e.suggestion.as_deref(), Some("plainHTTP"));
    assert!(e.to_string().contains("did you mean `plainHTTP`?"), "{e}");

    let t = one(
        "  - path: .\n    ociArtifact:\n      image: r/x\n      cosign:\n        \
         certificateIssuer: x\n",
    );
    let e = err(&t);
    assert_at(&e, &t, "certificateIssuer");
    assert!(
        e.to_string()
            .contains("did you mean `certificateOidcIssuer"),
        "{e}"
    );

    let t = one("  - path: .\n    ociArtifact:\n      image: r/x\n      tagSelection: {semver: {constraints: '>1', prerelease: {}}}\n");
    let e = err(&t);
    assert_at(&e, &t, "prerelease:");
    assert!(e.to_string().contains("did you mean `prereleases`?"), "{e}");
}

#[test]
fn keys_vendir_ignores_are_warnings_and_strict_errors() {
    let t = one("  - path: .\n    manual: {}\n    zzz: 1\n");
    let (w, e) = warning(&t);
    assert_at(&w, &t, "zzz");
    assert!(
        w.to_string()
            .contains("unknown key `zzz` in directories[0].contents[0] is ignored"),
        "{w}"
    );
    assert!(w.to_string().contains("valid keys: path, lazy"), "{w}");
    assert_at(&e, &t, "zzz");
    assert!(e.to_string().contains("--strict"), "{e}");

    let t = format!("{HEAD}directory:\n- path: a\n");
    let (w, _) = warning(&t);
    assert_at(&w, &t, "directory:");
    assert!(w.to_string().contains("did you mean `directories`?"), "{w}");
    assert!(w.message.contains("in the Config"), "{w}");

    // a stray key on a directory
    let t = format!(
        "{HEAD}directories:\n- path: a\n  lazy: true\n  contents: [{{path: ., manual: {{}}}}]\n"
    );
    let (w, e) = warning(&t);
    assert_at(&w, &t, "lazy");
    assert_eq!(w.path, "directories[0].lazy");
    assert_at(&e, &t, "lazy");

    let t = one("  - path: x\n    manual: {a: 1}\n");
    let (w, _) = warning(&t);
    assert_at(&w, &t, "a: 1");

    // a Secret is a Kubernetes document vendir reads: same rule
    let t = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringdata: {{a: b}}\n---\n{HEAD}"
    );
    let (w, _) = warning(&t);
    assert_eq!(w.line, Some(4));
    assert!(w.to_string().contains("did you mean `stringData`?"), "{w}");

    // flow style
    let t = format!(
        "{HEAD}directories: [{{path: a, contents: [{{path: ., manual: {{}}, lazzy: true}}]}}]\n"
    );
    let (w, _) = warning(&t);
    assert_at(&w, &t, "lazzy");
    assert_eq!(w.suggestion.as_deref(), Some("lazy"));
}

#[test]
fn a_misspelt_required_key_is_named_in_the_error() {
    let t = one("  - pathh: y\n    manual: {}\n");
    let e = err(&t);
    assert_at(&e, &t, "pathh");
    assert_eq!(
        e.to_string(),
        format!(
            "vendir.yml:{}:5: missing required key `path` in directories[0].contents[0] (`pathh` \
             is not a key there); did you mean `path`?",
            line_of(&t, "pathh")
        )
    );
    // beside `path`, it is only a stray key
    let t = one("  - path: x\n    pathh: y\n    manual: {}\n");
    let (w, _) = warning(&t);
    assert_at(&w, &t, "pathh");

    let t = format!("{HEAD}directories:\n- path: a\n  contens: []\n");
    let e = err(&t);
    assert_at(&e, &t, "contens");
    assert!(e.to_string().contains("has no contents"), "{e}");
    assert!(e.to_string().contains("did you mean `contents`?"), "{e}");

    let t = one("  - path: x\n    ociArtefact: {image: r/x}\n");
    let e = err(&t);
    assert_at(&e, &t, "ociArtefact");
    assert!(e.to_string().contains("has no source"), "{e}");
    assert!(e.to_string().contains("did you mean `ociArtifact`?"), "{e}");
}

#[test]
fn envelope_errors() {
    let t = "apiVersion: vendir.k14s.io/v1beta1\nkind: Config\n";
    let e = err(t);
    assert_eq!((e.line, e.column), (Some(1), Some(13)), "{e}");
    assert!(e.message.contains("unsupported apiVersion"), "{e}");

    let t = "apiVersion: vendir.k14s.io/v1alpha1\nkind: config\n";
    let e = err(t);
    assert_eq!(e.line, Some(2));
    assert!(e.to_string().contains("did you mean `Config`?"), "{e}");

    let t = "apiVersion: apps/v1\nkind: Deployment\n";
    let e = err(t);
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("unsupported document"), "{e}");

    let e = err("apiVersion: v2\nkind: Secret\n");
    assert_eq!(e.line, Some(1));

    let e = err("foo: bar\n");
    assert_eq!(e.line, Some(1));
    assert!(e.message.contains("no `apiVersion`"), "{e}");

    let e = err("- a\n- b\n");
    assert!(e.message.contains("found a list"), "{e}");

    let e = err("apiVersion: vendir.k14s.io/v1alpha1\nkind: LockConfig\n");
    assert!(e.message.contains("lock file"), "{e}");

    // none at all
    let e = load_all(&[input("a.yml", "---\n---\n"), input("b.yml", "")]).unwrap_err();
    assert_eq!(e.file, "a.yml, b.yml");
    assert!(e.message.contains("no Config document"), "{e}");

    // two
    let t = format!("{HEAD}---\n{HEAD}");
    let e = err(&t);
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.message.contains("vendir.yml:2"), "{e}");
    let e = load_all(&[input("a.yml", HEAD), input("b.yml", HEAD)]).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("b.yml", Some(2)));
    assert!(e.message.contains("a.yml:2"), "{e}");
}

#[test]
fn syntax_errors_are_positioned() {
    let t = format!("{HEAD}---\n{HEAD}directories:\n- path: [unclosed\n");
    let e = err(&t);
    assert_eq!(e.file, "vendir.yml");
    assert!(e.line.unwrap() >= 7, "{e}");
    assert!(e.message.starts_with("invalid YAML"), "{e}");
    assert!(!e.message.contains(" at line "), "{e}");

    let t = format!("{HEAD}directories:\n- path: a\n  path: b\n");
    let e = err(&t);
    assert!(e.line.is_some(), "{e}");
    assert!(e.message.contains("duplicate"), "{e}");
}

#[test]
fn empty_documents_are_ignored() {
    let t = format!("---\n# only a comment\n---\n{HEAD}directories: []\n---\n");
    assert!(load1(&t).unwrap().config.directories.is_empty());
}

#[test]
fn sources() {
    let t = one("  - path: x\n    lazy: true\n");
    let e = err(&t);
    assert_at(&e, &t, "path: x");
    assert!(e.message.contains("has no source"), "{e}");

    let t = one("  - path: x\n    manual: {}\n    directory: {path: y}\n");
    let e = err(&t);
    assert_at(&e, &t, "directory");
    assert!(e.message.contains("`manual` and `directory`"), "{e}");

    let t = one("  - path: x\n    manual: {}\n    includePaths: [a]\n");
    let e = err(&t);
    assert_at(&e, &t, "includePaths");

    let t = one("  - path: x\n    directory: {}\n");
    let e = err(&t);
    assert!(e.message.contains("missing required key `path`"), "{e}");

    let t = one("  - path: x\n    inline: {}\n");
    let e = err(&t);
    assert!(e.message.contains("nothing to write"), "{e}");

    let t = one("  - path: x\n    inline: {paths: {../evil: x}}\n");
    let e = err(&t);
    assert_at(&e, &t, "../evil");

    let t = one("  - path: x\n    inline:\n      pathsFrom:\n      - configMapRef: {name: nope}\n");
    let e = err(&t);
    assert_at(&e, &t, "nope");
    assert!(e.message.contains("ConfigMap `nope`"), "{e}");

    let t = one("  - path: x\n    inline:\n      pathsFrom:\n      - {}\n");
    let e = err(&t);
    assert!(e
        .message
        .contains("exactly one of `secretRef` and `configMapRef`"));
}

#[test]
fn oci_artifact_rules() {
    let oci = |body: &str| one(&format!("  - path: .\n    ociArtifact:\n{body}"));

    let t = oci("      tag: v1\n");
    let e = err(&t);
    assert_at(&e, &t, "tag: v1");
    assert!(e.message.contains("needs `image`"), "{e}");

    let t = oci("      image: r/x\n      ociLayout: ./l\n");
    let e = err(&t);
    assert_at(&e, &t, "ociLayout");

    let t =
        oci("      image: r/x\n      tag: v1\n      tagSelection: {semver: {constraints: '>1'}}\n");
    let e = err(&t);
    assert_at(&e, &t, "tagSelection");
    assert!(e.message.contains("exclude each other"), "{e}");

    let t = oci("      image: r/x@sha256:abc\n      tagSelection: {semver: {constraints: '>1'}}\n");
    let e = err(&t);
    assert_at(&e, &t, "tagSelection");
    assert!(e.message.contains("digest"), "{e}");

    let t = oci("      image: r/x\n      tagSelection: {semver: {}}\n");
    let e = err(&t);
    assert!(e.message.contains("`constraints`"), "{e}");

    let t = oci("      image: r/x\n      tag: ''\n");
    let e = err(&t);
    assert_at(&e, &t, "''");

    let t = oci("      image: r/x\n      unpack: file\n");
    let e = err(&t);
    assert_at(&e, &t, "file");
    assert!(e.to_string().contains("did you mean `files`?"), "{e}");

    let t = oci("      image: r/x\n      plainHTTP: yes\n");
    let e = err(&t);
    assert_at(&e, &t, "yes");
    assert!(e.message.contains("true or false"), "{e}");

    // image keeps tag and digest unparsed
    let t = oci("      image: localhost:5000/r/x:v1@sha256:abc\n");
    let Source::OciArtifact(o) = &load1(&t).unwrap().config.directories[0].contents[0].source
    else {
        panic!()
    };
    assert_eq!(
        o.location,
        OciLocation::Image("localhost:5000/r/x:v1@sha256:abc".into())
    );
}

#[test]
fn cosign_rules() {
    let cos = |body: &str| {
        one(&format!(
            "  - path: .\n    ociArtifact:\n      image: r/x\n      cosign:\n{body}"
        ))
    };
    let t = cos("        trustedRoot: t.json\n");
    let e = err(&t);
    assert_at(&e, &t, "trustedRoot");
    assert!(e.message.contains("needs `key` or `secretRef`"), "{e}");

    let t = cos("        certificateIdentity: me\n");
    let e = err(&t);
    assert!(e.message.contains("the issuer is missing"), "{e}");

    let t = cos("        certificateOidcIssuerRegexp: .*\n");
    let e = err(&t);
    assert!(e.message.contains("the identity is missing"), "{e}");

    let t = cos("        key: k.pub\n        certificateIdentity: me\n");
    let e = err(&t);
    assert_at(&e, &t, "certificateIdentity");
    assert!(e.message.contains("mixes key-based"), "{e}");

    let t = cos("        secretRef: {name: missing}\n");
    let e = err(&t);
    assert_at(&e, &t, "missing");
    assert!(e.message.contains("Secret `missing`"), "{e}");

    let t = cos("        certificateIdentity: me\n        certificateOidcIssuer: iss\n");
    assert!(load1(&t).is_ok());
}

/// The `certificateIdentity…:` lines a hint proposes, as written.
fn hint_lines(hint: &str) -> Vec<&str> {
    hint.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("certificateIdentity"))
        .collect()
}

/// Loads a config with `image` and `line` under `cosign:` next to `issuer`; returns
/// the identity matcher (the line must paste as it is written).
fn pasted(image: &str, issuer: &str, line: &str) -> Matcher {
    let t = one(&format!(
        "  - path: .\n    ociArtifact:\n      image: {image}\n      cosign:\n        \
         certificateOidcIssuer: {issuer}\n        {line}\n"
    ));
    let l = load1(&t).unwrap_or_else(|e| panic!("{line}: {e}"));
    let Source::OciArtifact(o) = &l.config.directories[0].contents[0].source else {
        panic!()
    };
    let Some(Cosign {
        signers: Signers::Keyless(k),
        ..
    }) = &o.cosign
    else {
        panic!("{:?}", o.cosign)
    };
    k.identity.clone()
}

#[test]
fn identity_hint_derives_lines_from_the_reference() {
    use super::validate::identity_hint;
    const GH: &str = "https://token.actions.githubusercontent.com";
    const GL: &str = "https://gitlab.com";

    let image = "ghcr.io/home-operations/k8s-schemas";
    let h = identity_hint(Some(GH), Some(image));
    assert!(
        h.contains("any GitHub Actions workflow of any repository"),
        "{h}"
    );
    assert!(h.contains("the path segment after the owner"), "{h}");
    let lines = hint_lines(&h);
    assert_eq!(
        lines,
        [
            r"certificateIdentityRegexp: '(?i)^https://github\.com/home-operations/'",
            r"certificateIdentityRegexp: '(?i)^https://github\.com/home-operations/k8s-schemas/\.github/workflows/'",
        ],
        "{h}"
    );
    // Each pastes as it is, the backslashes kept.
    assert_eq!(
        pasted(image, GH, lines[0]),
        Matcher::Regexp(r"(?i)^https://github\.com/home-operations/".into())
    );
    assert_eq!(
        pasted(image, GH, lines[1]),
        Matcher::Regexp(
            r"(?i)^https://github\.com/home-operations/k8s-schemas/\.github/workflows/".into()
        )
    );
    // A tag, a digest, a deeper path and dots.
    let h = identity_hint(Some(GH), Some("GHCR.io/my.org/my.repo/sub:v1@sha256:abc"));
    assert_eq!(
        hint_lines(&h),
        [
            r"certificateIdentityRegexp: '(?i)^https://github\.com/my\.org/'",
            r"certificateIdentityRegexp: '(?i)^https://github\.com/my\.org/my\.repo/\.github/workflows/'",
        ],
        "{h}"
    );
    // Only an owner (or an empty repository segment): no narrower line. The tag is not
    // part of it.
    for image in ["ghcr.io/owner:v1", "ghcr.io/owner/"] {
        let h = identity_hint(Some(GH), Some(image));
        assert_eq!(
            hint_lines(&h),
            [r"certificateIdentityRegexp: '(?i)^https://github\.com/owner/'"],
            "{h}"
        );
    }
    // Not on ghcr.io, an empty owner, or an OCI layout: a placeholder example, still
    // valid YAML.
    for image in [
        Some("docker.io/home-operations/k8s-schemas"),
        Some("ghcr.io//x"),
        None,
    ] {
        let h = identity_hint(Some(GH), image);
        let lines = hint_lines(&h);
        assert_eq!(
            lines,
            [
                r"certificateIdentityRegexp: '^https://github\.com/OWNER/PROJECT/\.github/workflows/'"
            ],
            "{h}"
        );
        pasted("r/x", GH, lines[0]);
    }

    // GitLab: the identity is https://gitlab.com/NS/PROJECT//<ci file>@<ref>.
    let image = "registry.gitlab.com/group/project/image:1.0";
    let h = identity_hint(Some(GL), Some(image));
    assert!(
        h.contains("any GitLab CI pipeline of any project on gitlab.com"),
        "{h}"
    );
    let lines = hint_lines(&h);
    assert_eq!(
        lines,
        [
            r"certificateIdentityRegexp: '(?i)^https://gitlab\.com/group/'",
            r"certificateIdentityRegexp: '(?i)^https://gitlab\.com/group/project//'",
        ],
        "{h}"
    );
    for l in lines {
        pasted(image, GL, l);
    }

    // Any other issuer (or an issuer regexp): an exact-identity example.
    for issuer in [
        Some("https://accounts.google.com"),
        Some("https://token.actions.githubusercontent.com/"),
        None,
    ] {
        let h = identity_hint(issuer, Some("ghcr.io/o/r"));
        assert!(h.contains("accepts anyone that issuer vouches for"), "{h}");
        let lines = hint_lines(&h);
        assert_eq!(
            lines,
            ["certificateIdentity: release-bot@example.com"],
            "{h}"
        );
        assert_eq!(
            pasted("r/x", "iss", lines[0]),
            Matcher::Exact("release-bot@example.com".into())
        );
    }
}

#[test]
fn issuer_only_is_refused_with_the_lines_to_add() {
    // vendir issue #446's example, as its author wrote it.
    let t = "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n\
             - path: vendor/k8s-schemas\n  contents:\n    - path: .\n      ociArtifact:\n        \
             image: ghcr.io/home-operations/k8s-schemas\n        tag: latest\n        \
             mediaTypes:\n          - application/vnd.cncf.flux.content.v1.tar+gzip\n        \
             cosign:\n          certificateOidcIssuer: https://token.actions.githubusercontent.com\n";
    let e = err(t);
    assert_at(&e, t, "certificateOidcIssuer");
    assert_eq!(e.path, "directories[0].contents[0].ociArtifact.cosign");
    assert!(e.message.contains("the identity is missing"), "{e}");
    assert_eq!(
        hint_lines(&e.message),
        [
            r"certificateIdentityRegexp: '(?i)^https://github\.com/home-operations/'",
            r"certificateIdentityRegexp: '(?i)^https://github\.com/home-operations/k8s-schemas/\.github/workflows/'",
        ],
        "{e}"
    );
}

#[test]
fn octal_permissions() {
    for (raw, want) in [
        ("0755", 0o755),
        ("755", 0o755),
        ("0o755", 0o755),
        ("\"0644\"", 0o644),
        ("'0o600'", 0o600),
        ("0", 0),
        ("0777", 0o777),
        ("00644", 0o644),
    ] {
        let t = format!("{HEAD}directories:\n- path: a\n  permissions: {raw}\n  contents:\n  - path: .\n    manual: {{}}\n");
        let d = &load1(&t)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .config
            .directories[0];
        assert_eq!(d.permissions, Some(want), "{raw}");
    }
    for raw in [
        "0758", "789", "0o1000", "1777", "04755", "0x1ed", "rwx", "-1", "true",
    ] {
        let t = one(&format!(
            "  - path: .\n    permissions: {raw}\n    manual: {{}}\n"
        ));
        let e = err(&t);
        assert_at(&e, &t, &format!("permissions: {raw}")[13..]);
        assert_eq!(e.key.as_deref(), Some("permissions"));
    }
    assert_eq!(parse_permissions("0o644"), Ok(0o644));
    assert!(parse_permissions("99999999999999999999").is_err());
}

#[test]
fn path_normalisation() {
    // (RelPath, used for content paths, is tested in src/relpath.rs.)
    for (raw, want) in [
        ("a/./b/", "a/b"),
        ("./a//b", "a/b"),
        ("a/x/../b", "a/b"),
        ("a/..", "."),
        ("x/../../y", "../y"),
        ("../../a/", "../../a"),
        ("/a/../b", "/b"),
    ] {
        assert_eq!(normalize_directory_path(raw), want, "{raw}");
    }

    let t = format!("{HEAD}directories:\n- path: a/./b/\n  contents:\n  - path: ./c/\n    newRootPath: x/./y/\n    directory: {{path: s}}\n");
    let l = load1(&t).unwrap();
    let d = &l.config.directories[0];
    assert_eq!(d.path, "a/b");
    assert_eq!(d.contents[0].path, rel("c"));
    assert_eq!(d.contents[0].new_root_path, Some(rel("x/y")));
}

#[test]
fn path_refusals() {
    for (raw, why) in [
        (
            "/usr",
            "absolute paths are refused; --allow-outside-paths allows them",
        ),
        (
            "../x",
            "leaves the project (the working directory /w/p); --allow-outside-paths",
        ),
        ("a/../../x", "leaves the project"),
        ("..", "contains the working directory"),
        (".", "working directory itself"),
        ("a/..", "working directory itself"),
        ("./", "working directory itself"),
    ] {
        let t = format!(
            "{HEAD}directories:\n- path: {raw}\n  contents:\n  - path: .\n    manual: {{}}\n"
        );
        let e = err(&t);
        assert_eq!(e.line, Some(4), "{raw}: {e}");
        assert_eq!(e.column, Some(9), "{raw}: {e}");
        assert_eq!(e.key.as_deref(), Some("path"));
        assert!(e.message.contains(why), "{raw}: {e}");
    }
    let t = format!("{HEAD}directories:\n- contents: []\n");
    assert!(err(&t).message.contains("missing required key `path`"));

    let t = one("  - path: /etc\n    manual: {}\n");
    let e = err(&t);
    assert_at(&e, &t, "/etc");
    let t = one("  - path: a/../../b\n    manual: {}\n");
    let e = err(&t);
    assert_at(&e, &t, "a/../../b");
    let t = one("  - path: x\n    newRootPath: ../up\n    directory: {path: s}\n");
    let e = err(&t);
    assert_at(&e, &t, "../up");
    assert!(e.message.contains("newRootPath"), "{e}");
    let t = one("  - path: x\n    newRootPath: .\n    directory: {path: s}\n");
    assert_eq!(
        load1(&t).unwrap().config.directories[0].contents[0].new_root_path,
        None
    );
    let t = format!("{HEAD}directories:\n- path: a\n  contents: []\n");
    assert!(err(&t).message.contains("has no contents"));
}

#[test]
fn overlapping_directories() {
    let t = format!("{HEAD}directories:\n- path: vendor\n  contents: [{{path: ., manual: {{}}}}]\n- path: vendor/x/\n  contents: [{{path: ., manual: {{}}}}]\n");
    let e = err(&t);
    assert_at(&e, &t, "vendor/x/");
    assert!(e.message.contains("`vendor/x`"), "{e}");
    assert!(e.message.contains("`vendor`"), "{e}");
    assert!(e.message.contains("vendir.yml:4"), "{e}");

    let t = format!("{HEAD}directories:\n- path: a/b\n  contents: [{{path: ., manual: {{}}}}]\n- path: ./a/./b\n  contents: [{{path: ., manual: {{}}}}]\n");
    let e = err(&t);
    assert!(e.message.contains("overlaps"), "{e}");

    // siblings with a common prefix are fine
    let t = format!("{HEAD}directories:\n- path: vendor/app\n  contents: [{{path: ., manual: {{}}}}]\n- path: vendor/application\n  contents: [{{path: ., manual: {{}}}}]\n");
    assert!(load1(&t).is_ok());
}

#[test]
fn overlapping_contents() {
    let t = one("  - path: .\n    manual: {}\n  - path: x\n    manual: {}\n");
    let e = err(&t);
    assert_eq!(e.line, Some(line_of(&t, "path: x")), "{e}");
    assert!(
        e.message.contains("`x`") && e.message.contains("`.`"),
        "{e}"
    );
    assert!(e.message.contains("whole directory"), "{e}");

    let t = one("  - path: x\n    manual: {}\n  - path: x/y\n    manual: {}\n");
    let e = err(&t);
    assert_at(&e, &t, "x/y");
    assert!(
        e.message.contains("`x/y`") && e.message.contains("`x`"),
        "{e}"
    );

    let t = one("  - path: x\n    manual: {}\n  - path: ./x/\n    manual: {}\n");
    assert!(err(&t).message.contains("overlaps"));

    let t = one("  - path: x\n    manual: {}\n  - path: xy\n    manual: {}\n");
    assert_eq!(load1(&t).unwrap().config.directories[0].contents.len(), 2);
}

#[test]
fn value_errors() {
    let t = one("  - path: x\n    lazy: sometimes\n    manual: {}\n");
    let e = err(&t);
    assert_at(&e, &t, "sometimes");

    let t = one("  - path: x\n    includePaths: [ok, 'a[b']\n    manual: {}\n");
    let e = err(&t);
    // globs are checked before the manual-content rule
    assert!(e.message.contains("`a[b`"), "{e}");

    let t = one("  - path: x\n    excludePaths: '*.md'\n    directory: {path: s}\n");
    let e = err(&t);
    assert!(e.message.contains("must be a list"), "{e}");

    let t = format!("{HEAD}minimumRequiredVersion: v0.1.0\n");
    let e = err(&t);
    assert_eq!(e.line, Some(3));

    let t = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: '%%%'}\n";
    let e = err(t);
    assert_eq!(e.line, Some(4));
    assert!(e.message.contains("base64"), "{e}");

    let t = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: x}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: y}\n";
    let e = err(t);
    assert_eq!(e.line, Some(8));
    assert!(e.message.contains("defined twice"), "{e}");
}

#[test]
fn display_format() {
    let e = ConfigError {
        file: "vendir.yml".into(),
        line: Some(12),
        column: Some(7),
        key: Some("pathh".into()),
        path: "directories[0].pathh".into(),
        message: "unknown key `pathh`".into(),
        suggestion: Some("path".into()),
    };
    assert_eq!(
        e.to_string(),
        "vendir.yml:12:7: unknown key `pathh`; did you mean `path`?"
    );
    let e = ConfigError {
        suggestion: None,
        ..e
    };
    assert_eq!(e.to_string(), "vendir.yml:12:7: unknown key `pathh`");
    let e = ConfigError {
        line: None,
        column: None,
        ..e
    };
    assert_eq!(e.to_string(), "vendir.yml: unknown key `pathh`");
}

#[test]
fn merge_keys_and_anchors_work() {
    let t = format!(
        "{HEAD}x-defaults: &oci {{image: r/x, plainHTTP: true}}\ndirectories:\n- path: a\n  contents:\n  - path: one\n    ociArtifact:\n      <<: *oci\n      tag: v1\n  - path: two\n    ociArtifact: *oci\n"
    );
    // `x-defaults` is a stray top-level key: a warning, as in vendir.
    let l = load1(&t).unwrap();
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    let c = &l.config.directories[0].contents;
    let Source::OciArtifact(one) = &c[0].source else {
        panic!()
    };
    assert_eq!(one.location, OciLocation::Image("r/x".into()));
    assert_eq!(one.plain_http, Some(true));
    assert_eq!(one.tag.as_deref(), Some("v1"));
    let Source::OciArtifact(two) = &c[1].source else {
        panic!()
    };
    assert_eq!(two.tag, None);
    assert_eq!(
        c[0].raw["ociArtifact"]["image"], "r/x",
        "merged into the digest input"
    );

    // An error inside merged values still has a position.
    let t = format!(
        "{HEAD}x: &oci {{image: r/x, plainHttp: true}}\ndirectories:\n- path: a\n  contents:\n  - path: .\n    ociArtifact:\n      <<: *oci\n"
    );
    let e = err(&t);
    assert!(e.line.is_some(), "{e}");
    assert!(e.to_string().contains("did you mean `plainHTTP`?"), "{e}");
}

#[test]
fn alias_and_merge_key_bombs_are_refused() {
    // "billion laughs": 9 levels of 9 aliases each
    let mut t = format!("{HEAD}a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        t.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    t.push_str("directories: []\n");
    let e = err(&t);
    assert!(e.message.starts_with("invalid YAML"), "{e}");
    assert!(e.message.contains("alias or merge-key bomb"), "{e}");
    assert!(e.line.is_some(), "{e}");

    // the same with merge keys: each level merges the previous one 9 times
    // under new keys
    let mut t = format!("{HEAD}m0: &m0 {{k0: lol, k1: lol, k2: lol, k3: lol, k4: lol, k5: lol, k6: lol, k7: lol, k8: lol}}\n");
    for i in 1..10 {
        let entries: Vec<String> = (0..9).map(|j| format!("n{j}: *m{}", i - 1)).collect();
        t.push_str(&format!(
            "m{i}: &m{i} {{<<: *m{}, {}}}\n",
            i - 1,
            entries.join(", ")
        ));
    }
    t.push_str("directories: []\n");
    let e = err(&t);
    assert!(e.message.contains("alias or merge-key bomb"), "{e}");
}

#[test]
fn several_documents_stdin_secrets_and_config_maps() {
    let secrets = "# credentials\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: reg}\nstringData: {username: u, password: p}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: files}\ndata: {a.txt: hi}\n";
    let cfg = format!(
        "{HEAD}directories:\n- path: v\n  contents:\n  - path: o\n    ociArtifact: {{image: r/x, secretRef: {{name: reg}}}}\n  - path: i\n    inline:\n      pathsFrom:\n      - configMapRef: {{name: files, directoryPath: d}}\n"
    );
    let l = load_all(&[input("-", secrets), input("c.yml", &cfg)]).unwrap();
    assert_eq!(l.secrets["reg"].data["password"], b"p");
    assert_eq!(l.config_maps["files"].data["a.txt"], "hi");
    assert!(l.warnings.is_empty());
    // an error in stdin names <stdin>, with the line in the whole input
    let bad = secrets.replace("kind: ConfigMap", "kind: ConfigMap\nbogus: 1");
    let l = load_all(&[input("-", &bad), input("c.yml", &cfg)]).unwrap();
    assert_eq!(l.warnings[0].file, "<stdin>");
    assert_eq!(l.warnings[0].line, Some(line_of(&bad, "bogus")));
    // both refs kinds at once
    let t = one(
        "  - path: i\n    inline:\n      pathsFrom:\n      - {secretRef: {name: a}, configMapRef: {name: b}}\n",
    );
    let e = err(&t);
    assert!(
        e.message
            .contains("more than one of `secretRef` and `configMapRef`"),
        "{e}"
    );
}

#[test]
fn a_comment_only_first_document_is_skipped() {
    let t = format!("# Generated by hand\n# nothing here\n---\n{HEAD}directories: []\n");
    assert!(load1(&t).unwrap().config.directories.is_empty());
    let t = format!("# leading comment only\n{HEAD}directories: []\n");
    assert!(load1(&t).is_ok());
}

/// A git work tree at `root` (a `.git` directory is all it takes).
fn work_tree() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join(".git")).unwrap();
    std::fs::create_dir_all(root.path().join("ci")).unwrap();
    root
}

fn load_in(
    workdir: &std::path::Path,
    text: &str,
    allow_outside: bool,
) -> Result<Loaded, ConfigError> {
    let options = LoadOptions {
        paths: PathRules::discover(workdir, allow_outside),
        strict: false,
    };
    load(&[input("vendir.yml", text)], &options)
}

fn dir_config(path: &str) -> String {
    format!("{HEAD}directories:\n- path: {path}\n  contents:\n  - path: .\n    manual: {{}}\n")
}

#[test]
fn managed_paths_may_leave_the_working_directory_but_not_the_git_work_tree() {
    let root = work_tree();
    let ci = root.path().join("ci");
    let rules = PathRules::discover(&ci, false);
    assert_eq!(rules.project, std::fs::canonicalize(root.path()).unwrap());

    let l = load_in(&ci, &dir_config("../.github/workflows/vendor"), false).unwrap();
    assert_eq!(l.config.directories[0].path, "../.github/workflows/vendor");
    let l = load_in(&ci, &dir_config("./x/../../.github//vendor/"), false).unwrap();
    assert_eq!(l.config.directories[0].path, "../.github/vendor");

    for outside in ["../../elsewhere", "/usr"] {
        let t = dir_config(outside);
        let e = load_in(&ci, &t, false).unwrap_err();
        assert_at(&e, &t, outside);
        assert!(e.message.contains("--allow-outside-paths"), "{e}");
        let l = load_in(&ci, &t, true).unwrap();
        assert!(l.config.directories[0].path.ends_with("elsewhere") || outside == "/usr");
    }
    // never the project root or the working directory, flag or not
    for above in ["..", "../ci", "/"] {
        let e = load_in(&ci, &dir_config(above), true).unwrap_err();
        assert!(e.message.contains("working directory"), "{above}: {e}");
    }

    // a git worktree has a `.git` file
    let wt = tempfile::tempdir().unwrap();
    std::fs::write(wt.path().join(".git"), "gitdir: /elsewhere\n").unwrap();
    std::fs::create_dir(wt.path().join("sub")).unwrap();
    let l = load_in(&wt.path().join("sub"), &dir_config("../v"), false).unwrap();
    assert_eq!(l.config.directories[0].path, "../v");

    // no work tree: the working directory is the project
    let plain = tempfile::tempdir().unwrap();
    let t = dir_config("../v");
    let e = load_in(plain.path(), &t, false).unwrap_err();
    assert!(
        e.message
            .contains("leaves the project (the working directory"),
        "{e}"
    );
}

#[test]
fn overlapping_paths_above_the_working_directory_are_refused() {
    let root = work_tree();
    let ci = root.path().join("ci");
    let t = format!(
        "{HEAD}directories:\n- path: ../vendor\n  contents: [{{path: ., manual: {{}}}}]\n- path: ../ci/../vendor/x\n  contents: [{{path: ., manual: {{}}}}]\n"
    );
    let e = load_in(&ci, &t, false).unwrap_err();
    assert_at(&e, &t, "../ci/../vendor/x");
    assert!(
        e.message
            .contains("`../vendor/x` overlaps directories[0].path `../vendor`"),
        "{e}"
    );
    assert!(e.message.contains("vendir.yml:4"), "{e}");
}

#[test]
fn helm_chart_keys() {
    let t = one(
        "  - path: x\n    helmChart:\n      name: c\n      helmVersion: 3\n      \
         repository: {url: https://charts.example/x/}\n",
    );
    let l = load1(&t).unwrap();
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.config.directories[0].contents[0];
    assert_eq!(c.source_kind(), "helmChart");
    assert_eq!(
        c.source,
        Source::HelmChart(HelmChart {
            name: "c".into(),
            version: None,
            repository: HelmRepository::Http("https://charts.example/x/".into()),
            secret_ref: None,
            cosign: None,
        })
    );

    // vendir ignores keys it does not know: a warning
    let t =
        one("  - path: x\n    helmChart: {name: c, latest: true, repository: {url: https://x}}\n");
    let (w, _) = warning(&t);
    assert_at(&w, &t, "latest");
    assert!(w.message.contains("unknown key `latest`"), "{w}");

    // oci:// needs a version: refused naming the key
    let t = one(
        "  - path: x\n    helmChart:\n      name: c\n      repository: {url: oci://r.example/charts}\n",
    );
    let e = err(&t);
    assert_at(&e, &t, "helmChart");
    assert_eq!(e.key.as_deref(), Some("version"));
    assert!(e.message.contains("missing required key `version`"), "{e}");
    let t = t.replace("name: c\n", "name: c\n      version: 1.0.0\n");
    let l = load1(&t).unwrap();
    assert!(matches!(
        &l.config.directories[0].contents[0].source,
        Source::HelmChart(HelmChart { repository: HelmRepository::Oci(r), version: Some(v), .. })
            if r == "r.example/charts" && v == "1.0.0"
    ));

    // a URL that is neither a chart repository nor oci://
    let t = one("  - path: x\n    helmChart:\n      name: c\n      repository: {url: git://x/y}\n");
    let e = err(&t);
    assert_at(&e, &t, "git://");
    assert!(
        e.message
            .contains("must start with https://, http:// or oci://"),
        "{e}"
    );

    // no repository at all
    let t = one("  - path: x\n    helmChart: {name: c}\n");
    let e = err(&t);
    assert_eq!(e.key.as_deref(), Some("repository"));
    // a secretRef to nothing
    let t = one(
        "  - path: x\n    helmChart: {name: c, repository: {url: https://x, secretRef: {name: nope}}}\n",
    );
    assert!(err(&t).message.contains("Secret `nope`"));
}

#[test]
fn debug_output_never_shows_secret_values() {
    let text = "apiVersion: vendir.k14s.io/v1alpha1\nkind: Config\ndirectories:\n- path: vendor/x\n  contents:\n  - path: .\n    manual: {}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: hunter2-secret}\n";
    let input = Input {
        name: "vendir.yml".into(),
        text: text.into(),
    };
    let loaded = load(std::slice::from_ref(&input), &opts()).unwrap();
    // A derived Debug would print the value as text (Input) or as bytes (Secret).
    let as_bytes = format!("{:?}", b"hunter2-secret".to_vec());
    let as_bytes = as_bytes.trim_matches(|c| c == '[' || c == ']');
    for shown in [format!("{input:?}"), format!("{loaded:?}")] {
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(!shown.contains(as_bytes), "{shown}");
    }
    assert!(format!("{loaded:?}").contains("password"), "keys are named");
}

#[test]
fn http_and_github_release_sources() {
    let sec = |name: &str, data: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {data}\n---\n"
        )
    };
    // Everything vendir reads, typed; an unknown key is a warning.
    let text = format!(
        "{}{}",
        sec("web", "{username: u, password: p}"),
        one("  - path: x\n    http:\n      url: https://h/a.tgz\n      sha256: \"ABCDEF0000000000000000000000000000000000000000000000000000000000\"\n      secretRef: {name: web}\n      disableUnpack: true\n      unpackArchive: {path: a}\n")
    );
    let l = load1(&text).unwrap();
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    match &l.config.directories[0].contents[0].source {
        Source::Http(h) => {
            assert_eq!(h.url, "https://h/a.tgz");
            assert_eq!(
                h.sha256.as_deref(),
                Some("abcdef0000000000000000000000000000000000000000000000000000000000")
            );
            assert!(h.disable_unpack);
            assert_eq!(h.secret_ref.as_ref().unwrap().name, "web");
        }
        other => panic!("{other:?}"),
    }
    // vendir refuses any secret key but username/password (here at load).
    let text = format!(
        "{}{}",
        sec("web", "{token: t}"),
        one("  - path: x\n    http: {url: 'https://h/a', secretRef: {name: web}}\n")
    );
    let e = load1(&text).unwrap_err();
    assert!(
        e.message
            .contains("Unknown secret field 'token' in secret 'web'"),
        "{e}"
    );
    assert!(!e.to_string().contains(": t"), "{e}");
    for (content, needle, says) in [
        ("http: {url: 'ftp://h/a'}", "url", "http:// or https://"),
        (
            "http: {url: 'https://h/a', sha256: abc}",
            "sha256",
            "64 hex digits",
        ),
        ("githubRelease: {slug: acme}", "slug", "owner/repo"),
        (
            "githubRelease: {slug: a/b}",
            "githubRelease",
            "exactly one of",
        ),
        (
            "githubRelease: {slug: a/b, tag: v1, latest: true}",
            "latest",
            "both `tag` and `latest`",
        ),
        (
            "githubRelease: {slug: a/b, tagSelection: {semver: {constraints: '>=x'}}}",
            "constraints",
            "constraints",
        ),
        (
            "githubRelease: {slug: a/b, tag: v1, checksums: {a: '1'}}",
            "a: '1'",
            "64 hex digits",
        ),
    ] {
        let t = one(&format!("  - path: x\n    {content}\n"));
        let e = err(&t);
        assert!(e.message.contains(says), "{content}: {e}");
        assert!(e.line.is_some(), "{content}: {e}");
        let _ = needle;
    }
    let text = format!(
        "{}{}",
        sec("gh", "{token: t}"),
        one("  - path: x\n    githubRelease:\n      slug: a/b\n      tagSelection: {semver: {constraints: '>=1.0.0', prereleases: {identifiers: [rc]}}}\n      assetNames: ['*.tgz']\n      unpackArchive: {path: a.tgz}\n      secretRef: {name: gh}\n      http: {url: 'https://h/{tag}/x'}\n")
    );
    let l = load1(&text).unwrap();
    match &l.config.directories[0].contents[0].source {
        Source::GithubRelease(g) => {
            assert_eq!(g.slug, "a/b");
            assert_eq!(
                g.release,
                ReleaseSelector::TagSelection(Semver {
                    constraints: ">=1.0.0".into(),
                    prerelease_identifiers: Some(vec!["rc".into()]),
                })
            );
            assert_eq!(g.asset_names, vec!["*.tgz".to_string()]);
            assert_eq!(g.unpack_archive.as_deref(), Some("a.tgz"));
            assert_eq!(g.http.as_ref().unwrap().url, "https://h/{tag}/x");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn git_and_hg_contents_are_read_with_vendirs_keys() {
    let t = one("  - path: .\n    git:\n      url: https://h/x.git\n      refSelection:\n        semver:\n          constraints: \">=1.0.0\"\n          prereleases: {identifiers: [rc]}\n      depth: 1\n      skipInitSubmodules: true\n      shallow: true\n");
    let l = load1(&t).unwrap();
    let Source::Git(g) = &l.config.directories[0].contents[0].source else {
        panic!("not git")
    };
    assert_eq!(g.depth, 1);
    assert!(g.skip_init_submodules);
    assert_eq!(
        g.reference,
        GitRef::Semver {
            constraints: ">=1.0.0".into(),
            prerelease_identifiers: Some(vec!["rc".into()])
        }
    );
    // A key vendir ignores is a warning, as for every kind vendir reads.
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    assert_eq!(l.warnings[0].key.as_deref(), Some("shallow"));

    let both = one("  - path: .\n    git: {url: u, ref: main, refSelection: {semver: {constraints: \">1\"}}}\n");
    assert!(
        err(&both).message.contains("exclude each other"),
        "{}",
        err(&both)
    );
    let neither = one("  - path: .\n    git: {url: u}\n");
    assert!(
        err(&neither).message.contains("needs `ref`"),
        "{}",
        err(&neither)
    );
    let negative = one("  - path: .\n    git: {url: u, ref: main, depth: -1}\n");
    assert!(
        err(&negative).message.contains("depth"),
        "{}",
        err(&negative)
    );
    // The keys' Secret must exist; `publicKeysSecretRef` is required.
    let gpg = one("  - path: .\n    git: {url: u, ref: main, verification: {publicKeysSecretRef: {name: k}}}\n");
    assert!(err(&gpg).message.contains("`k`"), "{}", err(&gpg));
    let gpg = one("  - path: .\n    git: {url: u, ref: main, verification: {}}\n");
    assert!(
        err(&gpg).message.contains("needs `publicKeysSecretRef`"),
        "{}",
        err(&gpg)
    );
    let secret = format!(
        "{}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{token: x}}\n",
        one("  - path: .\n    git: {url: u, ref: main, secretRef: {name: s}}\n")
    );
    let e = err(&secret);
    assert!(
        e.message
            .contains("Unknown secret field 'token' in secret 's'"),
        "{e}"
    );
    assert!(!e.message.contains(": x"), "{e}");
    let hg = one("  - path: .\n    hg: {url: u}\n");
    assert!(err(&hg).message.contains("non-empty `ref`"), "{}", err(&hg));
}

#[test]
fn bytes_that_are_not_utf8_are_refused_at_their_line_and_column() {
    let mut bytes = one("  - path: x\n    inline:\n      paths:\n        a: \"caf").into_bytes();
    bytes.extend_from_slice(b"\xe9\"\n");
    let e = Input::from_bytes("vendir.yml", bytes).unwrap_err();
    assert_eq!((e.line, e.column), (Some(9), Some(16)), "{e}");
    assert!(
        e.to_string()
            .starts_with("vendir.yml:9:16: not UTF-8 text: byte 0xe9"),
        "{e}"
    );
    let e = Input::from_bytes("-", b"\xff".to_vec()).unwrap_err();
    assert_eq!(e.position(), "<stdin>:1:1");
    let ok = Input::from_bytes("vendir.yml", "é: ü\n".as_bytes().to_vec()).unwrap();
    assert_eq!(ok.text, "é: ü\n");
}

#[test]
fn paths_too_long_for_the_file_system_are_refused_when_read() {
    // A 20 KB directory path: refused at its key, the message cut short.
    let long = "a".repeat(20_000);
    let t = format!(
        "{HEAD}directories:\n- path: vendor/{long}\n  contents:\n  - path: .\n    manual: {{}}\n"
    );
    let e = err(&t);
    assert_at(&e, &t, "vendor/");
    assert!(e.message.contains("20007 bytes long"), "{e}");
    assert!(e.to_string().len() < 400, "the path is not echoed whole");
    // A name past 229 bytes leaves no room for the staging directory beside it.
    let t = format!(
        "{HEAD}directories:\n- path: vendor/{}\n  contents:\n  - path: .\n    manual: {{}}\n",
        "d".repeat(230)
    );
    assert!(
        err(&t).message.contains("at most 229 bytes fit"),
        "{}",
        err(&t)
    );
    let t = format!(
        "{HEAD}directories:\n- path: vendor/{}\n  contents:\n  - path: .\n    manual: {{}}\n",
        "d".repeat(229)
    );
    load1(&t).unwrap();
    // A content path's names: the file system's 255.
    let t = one(&format!(
        "  - path: {}\n    manual: {{}}\n",
        "c".repeat(256)
    ));
    let e = err(&t);
    assert_at(&e, &t, &"c".repeat(256));
    assert!(e.message.contains("at most 255 bytes fit"), "{e}");
    load1(&one(&format!(
        "  - path: {}\n    manual: {{}}\n",
        "c".repeat(255)
    )))
    .unwrap();
}

/// `cosign:` on image, imgpkgBundle and an oci:// helmChart: the ociArtifact rule,
/// read (not a warning), and `images` on a bundle only.
#[test]
fn cosign_on_registry_kinds() {
    let kinds = [
        "    image:\n      url: r.io/x:v1\n",
        "    imgpkgBundle:\n      image: r.io/x:v1\n",
        "    helmChart:\n      name: demo\n      version: 1.0.0\n      repository:\n        url: oci://r.io/charts\n",
    ];
    for kind in kinds {
        let with = |body: &str| one(&format!("  - path: .\n{kind}      cosign:\n{body}"));
        let l = load1(&with("        key: k.pub\n")).unwrap();
        assert!(l.warnings.is_empty(), "{kind}: {:#?}", l.warnings);
        let cosign = match &l.config.directories[0].contents[0].source {
            Source::Image(i) => i.cosign.clone(),
            Source::ImgpkgBundle(b) => b.image.cosign.clone(),
            Source::HelmChart(h) => h.cosign.clone(),
            other => panic!("{other:?}"),
        };
        let cosign = cosign.expect("cosign read");
        assert_eq!(
            cosign.signers,
            Signers::Keys(vec![CosignKey::File("k.pub".into())])
        );
        assert!(!cosign.images);

        // The same rule as ociArtifact's.
        let t = with("        key: k.pub\n        certificateIdentity: me\n");
        let e = err(&t);
        assert_at(&e, &t, "certificateIdentity");
        assert!(e.message.contains("mixes key-based"), "{e}");
        let t = with("        trustedRoot: t.json\n");
        assert!(
            err(&t).message.contains("needs `key` or `secretRef`"),
            "{kind}"
        );

        let t = with("        key: k.pub\n        images: true\n");
        if kind.contains("imgpkgBundle") {
            let l = load1(&t).unwrap();
            let Source::ImgpkgBundle(b) = &l.config.directories[0].contents[0].source else {
                panic!()
            };
            assert!(b.image.cosign.as_ref().unwrap().images);
        } else {
            let e = err(&t);
            assert_at(&e, &t, "images");
            assert!(e.message.contains("applies only to imgpkgBundle"), "{e}");
        }
    }
    let t = one(
        "  - path: .\n    ociArtifact:\n      image: r/x\n      cosign:\n        key: k.pub\n        images: true\n",
    );
    assert!(err(&t).message.contains("applies only to imgpkgBundle"));

    // A chart repository serves archives, not signed OCI manifests.
    let t = one("  - path: .\n    helmChart:\n      name: demo\n      repository:\n        url: https://charts.example\n      cosign:\n        key: k.pub\n");
    let e = err(&t);
    assert_at(&e, &t, "cosign");
    assert!(e.message.contains("needs an oci:// repository"), "{e}");
}

/// `cosign:` on http and githubRelease: the same rule, plus `bundleURL` (http, and a
/// githubRelease with `http:`) and `bundleAsset` (githubRelease assets) only there.
#[test]
fn cosign_on_download_kinds() {
    let http = "    http:\n      url: https://x.example/tool.tgz\n";
    let gh = "    githubRelease:\n      slug: o/r\n      tag: v1\n";
    let gh_http = "    githubRelease:\n      slug: o/r\n      tag: v1\n      http:\n        url: https://x.example/{tag}/tool.tgz\n";
    let with = |kind: &str, body: &str| one(&format!("  - path: .\n{kind}      cosign:\n{body}"));
    let read = |t: &str| {
        let l = load1(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert!(l.warnings.is_empty(), "{:#?}", l.warnings);
        match &l.config.directories[0].contents[0].source {
            Source::Http(h) => h.cosign.clone().expect("cosign read"),
            Source::GithubRelease(g) => g.cosign.clone().expect("cosign read"),
            other => panic!("{other:?}"),
        }
    };
    let c = read(&with(
        http,
        "        key: k.pub\n        bundleURL: https://x.example/tool.tgz.bundle\n",
    ));
    assert_eq!(
        c.signers,
        Signers::Keys(vec![CosignKey::File("k.pub".into())])
    );
    assert_eq!(
        c.bundle_url.as_deref(),
        Some("https://x.example/tool.tgz.bundle")
    );
    let c = read(&with(gh, "        certificateIdentity: me@example.com\n        certificateOidcIssuer: https://i.example\n        bundleAsset: '{asset}.sig.json'\n"));
    assert_eq!(c.bundle_asset.as_deref(), Some("{asset}.sig.json"));
    let c = read(&with(
        gh_http,
        "        key: k.pub\n        bundleURL: https://x.example/{tag}/b.json\n",
    ));
    assert_eq!(
        c.bundle_url.as_deref(),
        Some("https://x.example/{tag}/b.json")
    );

    // The same rule as ociArtifact's.
    let t = with(
        http,
        "        key: k.pub\n        certificateIdentity: me\n",
    );
    let e = err(&t);
    assert_at(&e, &t, "certificateIdentity");
    assert!(e.message.contains("mixes key-based"), "{e}");
    // Keys that belong elsewhere.
    for (kind, body, key, says) in [
        (
            http,
            "        key: k.pub\n        bundleAsset: b.json\n",
            "bundleAsset",
            "only to githubRelease assets",
        ),
        (
            gh,
            "        key: k.pub\n        bundleURL: https://x.example/b\n",
            "bundleURL",
            "name the bundle's asset with `bundleAsset`",
        ),
        (
            gh_http,
            "        key: k.pub\n        bundleAsset: b.json\n",
            "bundleAsset",
            "only to githubRelease assets",
        ),
        (
            http,
            "        key: k.pub\n        images: true\n",
            "images",
            "only to imgpkgBundle",
        ),
    ] {
        let t = with(kind, body);
        let e = err(&t);
        assert_at(&e, &t, key);
        assert!(e.message.contains(says), "{e}");
    }
    let t = with(http, "        key: k.pub\n        bundleURL: ftp://x/b\n");
    assert!(err(&t)
        .message
        .contains("must be an http:// or https:// URL"));
    let t = one("  - path: .\n    ociArtifact:\n      image: r/x\n      cosign:\n        key: k.pub\n        bundleURL: https://x/b\n");
    assert!(err(&t)
        .message
        .contains("applies only to http and githubRelease"));
    // GitHub artifact attestations: keyless, on release assets only.
    let c = read(&with(gh, "        certificateIdentityRegexp: '^https://github.com/o/r/'\n        certificateOidcIssuer: https://token.actions.githubusercontent.com\n        githubAttestations: true\n        predicateType: https://slsa.dev/provenance/v1\n"));
    assert!(c.github_attestations);
    assert_eq!(
        c.predicate_type.as_deref(),
        Some("https://slsa.dev/provenance/v1")
    );
    for (kind, body, key, says) in [
        (gh, "        key: k.pub\n        githubAttestations: true\n", "key", "signed keyless"),
        (http, "        certificateIdentity: a\n        certificateOidcIssuer: b\n        githubAttestations: true\n", "githubAttestations", "only to githubRelease assets"),
        (gh_http, "        certificateIdentity: a\n        certificateOidcIssuer: b\n        githubAttestations: true\n", "githubAttestations", "only to githubRelease assets"),
        (gh, "        certificateIdentity: a\n        certificateOidcIssuer: b\n        predicateType: x\n", "predicateType", "only with `githubAttestations: true`"),
        (gh, "        certificateIdentity: a\n        certificateOidcIssuer: b\n        githubAttestations: true\n        bundleAsset: x\n", "bundleAsset", "come from the API"),
    ] {
        let t = with(kind, body);
        let e = err(&t);
        assert_at(&e, &t, key);
        assert!(e.message.contains(says), "{e}");
    }
    // Inside githubRelease.http: the release's own `cosign:` is the place.
    let t = one("  - path: .\n    githubRelease:\n      slug: o/r\n      tag: v1\n      http:\n        url: https://x/{tag}\n        cosign:\n          key: k.pub\n");
    let e = err(&t);
    assert_at(&e, &t, "cosign");
    assert!(e.message.contains("on the githubRelease itself"), "{e}");
}

/// The configDigest of a lazy content is vendir's without `cosign:`, and changes
/// with it (so adding `cosign:` fetches and verifies again).
#[test]
fn cosign_is_in_the_config_digest() {
    let digest = |extra: &str| {
        let t = one(&format!(
            "  - path: .\n    lazy: true\n    image:\n      url: r.io/x:v1\n{extra}"
        ));
        let l = load1(&t).unwrap();
        config_digest(&l.config.directories[0].contents[0], None)
    };
    let plain = digest("");
    let keyed = digest("      cosign:\n        key: k.pub\n");
    let other = digest("      cosign:\n        key: other.pub\n");
    assert_ne!(plain, keyed);
    assert_ne!(keyed, other);
    // Without cosign the digest is what it was (vendir's; the parity suites compare).
    assert_eq!(plain, digest(""));
}
