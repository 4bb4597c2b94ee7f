//! The `configDigest` of a `lazy: true` content, as vendir v0.44.0 computes
//! it (`createConfigDigest` in `pkg/vendir/directory/directory.go`): the
//! lowercase hex SHA-256 of `yaml.Marshal` of the content's config struct.
//!
//! So the content as written is first read into vendir's `DirectoryContents`
//! (keys vendir does not know are dropped, `omitempty` fields at their zero
//! value vanish, the others stay even when empty), then written by
//! [`crate::goyaml`]. Under `sync --locked` vendir hashes the config after
//! `Config.Lock` has put the lock's pins in it (a git `ref` becomes the sha,
//! an image `url` the digest reference, ...), and so does
//! [`config_digest`] when it is given the lock entry. A lock written by
//! either tool therefore lets the other skip the content, as vendir would.
//!
//! `ociArtifact` is vendoras's own: its mapping is hashed as written, the
//! same way.

use serde_json::Value;

use crate::digest::{Algorithm, Digest};
use crate::goyaml::{self, Node};

use super::model::Content;

/// What `lock` pins, for `--locked`: the fields `Config.Lock` overwrites.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Pins<'a> {
    /// git/hg: the sha that becomes `ref`.
    pub sha: Option<&'a str>,
    /// image/imgpkgBundle/githubRelease: the URL (digest reference, release
    /// URL) that replaces the config's.
    pub url: Option<&'a str>,
    /// githubRelease: the tag that replaces the config's.
    pub tag: Option<&'a str>,
    /// helmChart: the version that replaces the config's.
    pub version: Option<&'a str>,
}

/// The content's `configDigest` (bare hex, as vendir writes it). `pins`:
/// the lock's entry under `--locked`.
pub fn config_digest(content: &Content, pins: Option<Pins<'_>>) -> String {
    let yaml = goyaml::to_string(&vendir_form(content, pins));
    Digest::of(Algorithm::Sha256, yaml.as_bytes())
        .hex()
        .to_string()
}

/// How a field of vendir's structs is marshalled.
#[derive(Clone, Copy)]
enum Field {
    /// `string` with `omitempty`.
    Str,
    /// `string` without `omitempty`: written even when empty.
    StrAlways,
    /// `bool`, `omitempty`.
    Bool,
    /// `int`, `omitempty`.
    Int,
    /// `[]string`, `omitempty`.
    List,
    /// `map[string]string`, `omitempty`.
    StrMap,
    /// A pointer to a struct, `omitempty`: written (maybe `{}`) when given.
    Obj(&'static [(&'static str, Field)]),
    /// A slice of structs, `omitempty`.
    ObjList(&'static [(&'static str, Field)]),
}

use Field::*;

const LOCAL_REF: &[(&str, Field)] = &[("name", Str)];
const VERSION_SELECTION: &[(&str, Field)] = &[(
    "semver",
    Obj(&[
        ("constraints", Str),
        ("prereleases", Obj(&[("identifiers", List)])),
    ]),
)];
const HTTP: &[(&str, Field)] = &[
    ("url", Str),
    ("sha256", Str),
    ("secretRef", Obj(LOCAL_REF)),
    ("disableUnpack", Bool),
];
const GIT: &[(&str, Field)] = &[
    ("url", Str),
    ("ref", Str),
    ("refSelection", Obj(VERSION_SELECTION)),
    (
        "verification",
        Obj(&[("publicKeysSecretRef", Obj(LOCAL_REF))]),
    ),
    ("secretRef", Obj(LOCAL_REF)),
    ("lfsSkipSmudge", Bool),
    ("dangerousSkipTLSVerify", Bool),
    ("skipInitSubmodules", Bool),
    ("depth", Int),
    ("forceHTTPBasicAuth", Bool),
];
const HG: &[(&str, Field)] = &[
    ("url", Str),
    ("ref", Str),
    ("evolve", Bool),
    ("secretRef", Obj(LOCAL_REF)),
];
const IMAGE: &[(&str, Field)] = &[
    ("url", Str),
    ("tagSelection", Obj(VERSION_SELECTION)),
    ("secretRef", Obj(LOCAL_REF)),
    ("responseHeaderTimeout", Int),
    ("dangerousSkipTLSVerify", Bool),
];
const IMGPKG_BUNDLE: &[(&str, Field)] = &[
    ("image", Str),
    ("tagSelection", Obj(VERSION_SELECTION)),
    ("secretRef", Obj(LOCAL_REF)),
    ("responseHeaderTimeout", Int),
    ("dangerousSkipTLSVerify", Bool),
    ("recursive", Bool),
    ("additionalCACertificates", List),
];
const GITHUB_RELEASE: &[(&str, Field)] = &[
    ("slug", StrAlways),
    ("tag", StrAlways),
    ("tagSelection", Obj(VERSION_SELECTION)),
    ("latest", Bool),
    ("url", Str),
    ("checksums", StrMap),
    ("disableAutoChecksumValidation", Bool),
    ("assetNames", List),
    ("unpackArchive", Obj(&[("path", StrAlways)])),
    ("secretRef", Obj(LOCAL_REF)),
    ("http", Obj(HTTP)),
];
const HELM_CHART: &[(&str, Field)] = &[
    ("name", Str),
    ("version", Str),
    (
        "repository",
        Obj(&[("url", Str), ("secretRef", Obj(LOCAL_REF))]),
    ),
    ("helmVersion", Str),
];
/// `DirectoryContentsInlineSourceRef` embeds `DirectoryContentsLocalRef`, so
/// `name` sits beside `directoryPath`.
const INLINE_REF: &[(&str, Field)] = &[("directoryPath", Str), ("name", Str)];
const INLINE: &[(&str, Field)] = &[
    ("paths", StrMap),
    (
        "pathsFrom",
        ObjList(&[
            ("secretRef", Obj(INLINE_REF)),
            ("configMapRef", Obj(INLINE_REF)),
        ]),
    ),
];
/// The source keys of `DirectoryContents`.
const SOURCES: &[(&str, Field)] = &[
    ("git", Obj(GIT)),
    ("hg", Obj(HG)),
    ("http", Obj(HTTP)),
    ("image", Obj(IMAGE)),
    ("imgpkgBundle", Obj(IMGPKG_BUNDLE)),
    ("githubRelease", Obj(GITHUB_RELEASE)),
    ("helmChart", Obj(HELM_CHART)),
    ("manual", Obj(&[])),
    ("directory", Obj(&[("path", StrAlways)])),
    ("inline", Obj(INLINE)),
];

/// The content as vendir's `DirectoryContents` marshals it.
fn vendir_form(content: &Content, pins: Option<Pins<'_>>) -> Node {
    let raw = &content.raw;
    let mut out = vec![("path".to_string(), Node::str(content.path.to_string()))];
    if content.lazy {
        out.push(("lazy".into(), Node::Bool(true)));
    }
    if let Some(oci) = raw.get("ociArtifact").filter(|v| !v.is_null()) {
        out.push(("ociArtifact".into(), as_written(oci)));
    }
    for (key, field) in SOURCES {
        if let Some(node) = raw.get(*key).and_then(|v| project(v, *field)) {
            let node = match pins {
                Some(p) => lock(key, node, p),
                None => node,
            };
            // vendoras's `cosign:` (vendir drops it): hashed as written, so
            // adding or changing it re-syncs a lazy content; without it the
            // digest stays vendir's.
            let node = match (node, raw[*key].get("cosign").filter(|v| !v.is_null())) {
                (Node::Map(mut fields), Some(c)) => {
                    fields.push(("cosign".into(), as_written(c)));
                    Node::Map(fields)
                }
                (node, _) => node,
            };
            out.push((key.to_string(), node));
        }
    }
    for key in ["includePaths", "excludePaths", "ignorePaths"] {
        if let Some(node) = raw.get(key).and_then(|v| project(v, List)) {
            out.push((key.into(), node));
        }
    }
    // `*[]string`: written whenever given, `[]` included.
    if let Some(Value::Array(items)) = raw.get("legalPaths") {
        out.push((
            "legalPaths".into(),
            Node::Seq(items.iter().map(text).collect()),
        ));
    }
    if let Some(root) = raw.get("newRootPath").and_then(|v| project(v, Str)) {
        out.push(("newRootPath".into(), root));
    }
    if let Some(mode) = content.permissions {
        out.push(("permissions".into(), Node::Int(i64::from(mode))));
    }
    Node::Map(out)
}

/// `Config.Lock` for one content: the lock's pins over the config's refs.
fn lock(kind: &str, node: Node, pins: Pins<'_>) -> Node {
    let Node::Map(mut fields) = node else {
        return node;
    };
    let mut set = |key: &str, value: Option<&str>| {
        if let Some(v) = value {
            fields.retain(|(k, _)| k != key);
            if !v.is_empty() {
                fields.push((key.to_string(), Node::str(v)));
            }
        }
    };
    match kind {
        "git" | "hg" => set("ref", pins.sha),
        "image" => {
            set("url", pins.url);
            fields.retain(|(k, _)| k != "tagSelection");
        }
        "imgpkgBundle" => {
            set("image", pins.url);
            fields.retain(|(k, _)| k != "tagSelection");
        }
        "githubRelease" => {
            set("url", pins.url);
            // `tag` has no omitempty: it stays, empty or not.
            if let Some(tag) = pins.tag {
                fields.retain(|(k, _)| k != "tag");
                fields.push(("tag".into(), Node::str(tag)));
            }
        }
        "helmChart" => set("version", pins.version),
        _ => {}
    }
    Node::Map(fields)
}

/// A raw value read into a field of type `field`; `None` when vendir's
/// `omitempty` drops it.
fn project(v: &Value, field: Field) -> Option<Node> {
    if v.is_null() {
        return None;
    }
    match field {
        Str => Some(text(v)).filter(|n| *n != Node::str("")),
        StrAlways => Some(text(v)),
        Bool => (v.as_bool() == Some(true)).then_some(Node::Bool(true)),
        Int => v.as_i64().filter(|&i| i != 0).map(Node::Int),
        List => match v {
            Value::Array(items) if !items.is_empty() => {
                Some(Node::Seq(items.iter().map(text).collect()))
            }
            _ => None,
        },
        StrMap => match v {
            Value::Object(m) if !m.is_empty() => Some(Node::Map(
                m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
            )),
            _ => None,
        },
        Obj(fields) => {
            let Value::Object(m) = v else {
                return None;
            };
            let mut out = Vec::new();
            for (key, field) in fields {
                // StrAlways fields exist even when the key is missing.
                match (m.get(*key), field) {
                    (None, StrAlways) => out.push((key.to_string(), Node::str(""))),
                    (Some(v), f) => {
                        if let Some(n) = project(v, *f) {
                            out.push((key.to_string(), n));
                        } else if matches!(f, StrAlways) {
                            out.push((key.to_string(), Node::str("")));
                        }
                    }
                    (None, _) => {}
                }
            }
            Some(Node::Map(out))
        }
        ObjList(fields) => match v {
            Value::Array(items) if !items.is_empty() => Some(Node::Seq(
                items
                    .iter()
                    .map(|i| project(i, Obj(fields)).unwrap_or(Node::Map(Vec::new())))
                    .collect(),
            )),
            _ => None,
        },
    }
}

/// A scalar as the string vendir holds. The loader accepts a plain number
/// where vendir wants a string (vendir refuses it); its text stands in.
fn text(v: &Value) -> Node {
    match v {
        Value::String(s) => Node::str(s),
        Value::Null => Node::str(""),
        other => Node::str(other.to_string()),
    }
}

/// vendoras's own kinds: the mapping as written.
fn as_written(v: &Value) -> Node {
    match v {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Node::str(n.to_string()), Node::Int),
        Value::String(s) => Node::str(s),
        Value::Array(a) => Node::Seq(a.iter().map(as_written).collect()),
        Value::Object(o) => Node::Map(o.iter().map(|(k, v)| (k.clone(), as_written(v))).collect()),
    }
}
