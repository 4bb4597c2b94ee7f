//! Editing one scalar of a `vendir.yml` in place, by byte position: every
//! other byte (comments, quoting, key order, anchors, other documents)
//! stays as written. `vendoras update` uses it to move a reference.

use super::yaml::{self, Node, Value};

/// Where a content's reference lives: the `Config` document's directory
/// `dir`, its content `content`, and inside it `source.field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// The directory's `path`.
    pub dir: &'a str,
    /// The content's `path`.
    pub content: &'a str,
    /// The source key (`ociArtifact`, `git`, ...).
    pub source: &'a str,
    /// The key inside it (`tag`, `ref`, `url`, `version`, ...).
    pub field: &'a str,
}

/// `text` with the scalar at `at` rewritten: its last occurrence of `old`
/// (the whole value, or the tag at the end of `repo:tag`; empty: the end of
/// the value) becomes `new`.
/// Refused when the scalar is not written there (an alias or merge key: the
/// anchor would change every use), is not a plain, single- or
/// double-quoted one-line scalar, or does not read as expected afterwards.
pub fn replace_in_scalar(
    text: &str,
    at: &Field<'_>,
    old: &str,
    new: &str,
) -> Result<String, String> {
    let value = find(text, at)?;
    let Node::Scalar { text: current, .. } = &value.node else {
        return Err(format!("{}.{} is not a scalar", at.source, at.field));
    };
    let Some(pos) = current.rfind(old) else {
        return Err(format!(
            "{}.{} is {current:?}, which does not hold {old:?}",
            at.source, at.field
        ));
    };
    let Some((start, end)) = value.span else {
        return Err(format!(
            "{}.{} is written elsewhere (an alias or merge key); edit the anchor it comes from",
            at.source, at.field
        ));
    };
    let written = &text[start..end];
    if written.contains('\n') || written.starts_with(['|', '>']) {
        return Err(format!(
            "{}.{} is a multi-line scalar; edit it by hand",
            at.source, at.field
        ));
    }
    // The value's bytes inside the written form: after an opening quote.
    let body = match written.as_bytes().first() {
        Some(b'"') | Some(b'\'') => 1,
        _ => 0,
    };
    if written.get(body..body + current.len()) != Some(current.as_str()) {
        return Err(format!(
            "{}.{} is written with escapes ({written}); edit it by hand",
            at.source, at.field
        ));
    }
    let from = start + body + pos;
    let mut out = String::with_capacity(text.len() + new.len());
    out.push_str(&text[..from]);
    out.push_str(new);
    out.push_str(&text[from + old.len()..]);
    let expected = format!("{}{new}{}", &current[..pos], &current[pos + old.len()..]);
    match find(&out, at).map(|v| v.node) {
        Ok(Node::Scalar { text: t, .. }) if t == expected => Ok(out),
        _ => Err(format!(
            "{}.{}: writing {new:?} there would not read back as {expected:?}; edit it by hand",
            at.source, at.field
        )),
    }
}

/// The value of the scalar at `at`, when there is one.
pub fn scalar(text: &str, at: &Field<'_>) -> Option<String> {
    match find(text, at).ok()?.node {
        Node::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

/// Whether the content has `source.field` at all.
pub fn has_field(text: &str, at: &Field<'_>) -> bool {
    find(text, at).is_ok()
}

fn find(text: &str, at: &Field<'_>) -> Result<Value, String> {
    let docs = yaml::documents(text).map_err(|e| match e.pos {
        Some(p) => format!("{}:{}: {}", p.line, p.column, e.message),
        None => e.message,
    })?;
    let config = docs
        .into_iter()
        .find(|d| d.str_at("kind") == Some("Config"))
        .ok_or("no `kind: Config` document")?;
    let dirs = match config.entry("directories").map(|e| &e.value.node) {
        Some(Node::Seq(dirs)) => dirs,
        _ => return Err("no directories".into()),
    };
    let dir = dirs
        .iter()
        .find(|d| d.str_at("path").map(trim_dot) == Some(trim_dot(at.dir)))
        .ok_or_else(|| format!("no directory {:?}", at.dir))?;
    let contents = match dir.entry("contents").map(|e| &e.value.node) {
        Some(Node::Seq(c)) => c,
        _ => return Err(format!("directory {:?} has no contents", at.dir)),
    };
    let content = contents
        .iter()
        .find(|c| c.str_at("path").map(trim_dot) == Some(trim_dot(at.content)))
        .ok_or_else(|| format!("no content {:?} in {:?}", at.content, at.dir))?;
    let source = &content
        .entry(at.source)
        .ok_or_else(|| format!("content {:?} has no {}", at.content, at.source))?
        .value;
    Ok(source
        .entry(at.field)
        .ok_or_else(|| format!("{} has no {}", at.source, at.field))?
        .value
        .clone())
}

fn trim_dot(p: &str) -> &str {
    let p = p.trim_end_matches('/');
    p.strip_prefix("./").unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"# leading comment
apiVersion: v1
kind: Secret   # another document first
metadata: {name: x}
---
apiVersion: vendir.k14s.io/v1alpha1
kind: Config
x-common: &reg
  plainHTTP: true    # kept
directories:
- path: vendor   # the only directory
  contents:
  - path: plain
    ociArtifact:
      image: localhost:5000/app:v1.0.0   # tag inside the image
      <<: *reg
  - path: double
    ociArtifact: {image: "localhost:5000/app", tag: "v1.0.0"}
  - path: single
    git:
      ref: 'v1.0.0'
      url: git://x/app.git
  - path: anchored
    helmChart:
      version: &v 0.1.0
      name: demo
  - path: aliased
    helmChart:
      version: *v
      name: demo
"#;

    fn at<'a>(content: &'a str, source: &'a str, field: &'a str) -> Field<'a> {
        Field {
            dir: "vendor",
            content,
            source,
            field,
        }
    }

    /// Every byte but the edited ones is as it was.
    fn changed_only(before: &str, after: &str, old: &str, new: &str) {
        let i = before
            .bytes()
            .zip(after.bytes())
            .position(|(a, b)| a != b)
            .unwrap();
        assert_eq!(&before[..i], &after[..i]);
        assert_eq!(&before[i + old.len()..], &after[i + new.len()..]);
    }

    #[test]
    fn plain_quoted_and_anchored_scalars_change_in_place() {
        for (content, source, field, old, new) in [
            ("plain", "ociArtifact", "image", "v1.0.0", "v1.2.0"),
            ("double", "ociArtifact", "tag", "v1.0.0", "v1.2.0"),
            ("single", "git", "ref", "v1.0.0", "v10.0.0"),
            ("anchored", "helmChart", "version", "0.1.0", "0.2.0"),
        ] {
            let out = replace_in_scalar(CONFIG, &at(content, source, field), old, new).unwrap();
            changed_only(CONFIG, &out, old, new);
        }
    }

    #[test]
    fn an_empty_old_appends_inside_the_quotes() {
        let at = at("double", "ociArtifact", "image");
        assert_eq!(scalar(CONFIG, &at).as_deref(), Some("localhost:5000/app"));
        let out = replace_in_scalar(CONFIG, &at, "", ":v2").unwrap();
        assert_eq!(
            out,
            CONFIG.replace("\"localhost:5000/app\"", "\"localhost:5000/app:v2\"")
        );
    }

    #[test]
    fn an_alias_or_a_missing_value_is_refused() {
        let e = replace_in_scalar(
            CONFIG,
            &at("aliased", "helmChart", "version"),
            "0.1.0",
            "0.2.0",
        )
        .unwrap_err();
        assert!(e.contains("alias"), "{e}");
        let e = replace_in_scalar(CONFIG, &at("plain", "ociArtifact", "image"), "v9", "v10")
            .unwrap_err();
        assert!(e.contains("does not hold"), "{e}");
        assert!(!has_field(CONFIG, &at("plain", "ociArtifact", "tag")));
    }
}
