//! Artifact references: `registry/repository[:tag][@digest]`.
//!
//! The one parser for references in the crate. Like oras (and unlike
//! docker) there is no implicit `docker.io`: the first path component is
//! always the registry.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// A parsed remote reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host, with port if any (`localhost:5000`, `ghcr.io`).
    pub registry: String,
    /// Repository path inside the registry.
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest, if given (wins over the tag when both are).
    pub digest: Option<Digest>,
}

/// A reference that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference {input:?}: {reason}")]
pub struct InvalidReference {
    /// What the user wrote.
    pub input: String,
    /// Why it is not a reference.
    pub reason: String,
}

impl Reference {
    /// `registry/repository`, without tag or digest.
    pub fn repository_url(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag or digest to resolve: the digest when present, else the tag.
    pub fn object(&self) -> Option<String> {
        match (&self.digest, &self.tag) {
            (Some(d), _) => Some(d.to_string()),
            (None, Some(t)) => Some(t.clone()),
            (None, None) => None,
        }
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_repository(r: &str) -> bool {
    // path-component ("/" path-component)*, lowercase alnum separated by . _ __ -
    !r.is_empty()
        && r.split('/').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        })
}

impl FromStr for Reference {
    type Err = InvalidReference;
    fn from_str(input: &str) -> Result<Reference, InvalidReference> {
        let err = |reason: &str| InvalidReference {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (
                r,
                Some(d.parse::<Digest>().map_err(|e| err(&e.to_string()))?),
            ),
            None => (input, None),
        };
        let (registry, path) = rest.split_once('/').ok_or_else(|| {
            err("missing registry or repository (expected registry/repository[:tag][@digest])")
        })?;
        if registry.is_empty() || registry.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(err("invalid registry"));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) => (r, Some(t)),
            None => (path, None),
        };
        if !valid_repository(repository) {
            return Err(err(
                "invalid repository (lowercase letters, digits and . _ - separated by /)",
            ));
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(err("invalid tag"));
            }
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository_url())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Splits an OCI layout reference `path[:tag|@digest]` as oras does: at the
/// last `@` when there is one, else at the last `:`.
pub fn split_layout_reference(raw: &str) -> Result<(String, Option<String>), InvalidReference> {
    let (path, object) = if let Some(i) = raw.rfind('@') {
        (&raw[..i], Some(raw[i + 1..].to_string()))
    } else if let Some(i) = raw.rfind(':') {
        (&raw[..i], Some(raw[i + 1..].to_string()))
    } else {
        (raw, None)
    };
    if path.is_empty() {
        return Err(InvalidReference {
            input: raw.to_string(),
            reason: format!("found empty file path in {raw:?}"),
        });
    }
    Ok((path.to_string(), object.filter(|o| !o.is_empty())))
}

/// A reference split as vendir guesses it (`GuessedRefParts`): the
/// repository as written, then an optional `:tag`, then `@digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenRef {
    /// Everything before the tag and digest.
    pub repository: String,
    /// The tag, without `:`.
    pub tag: Option<String>,
    /// The digest, without `@`.
    pub digest: Option<String>,
}

/// Splits `repo[:tag][@digest]` keeping the repository's spelling.
pub(crate) fn split_reference(s: &str) -> WrittenRef {
    let (rest, digest) = match s.rsplit_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (s, None),
    };
    let last = rest.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match rest[last..].rfind(':') {
        Some(i)
            if rest[last + i + 1..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                && i + 1 < rest.len() - last =>
        {
            (
                rest[..last + i].to_string(),
                Some(rest[last + i + 1..].to_string()),
            )
        }
        _ => (rest.to_string(), None),
    };
    WrittenRef {
        repository,
        tag,
        digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let r: Reference = "localhost:5000/hello:v1".parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "hello", Some("v1"))
        );
        let d = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        let r: Reference = format!("ghcr.io/a/b/c:latest@{d}").parse().unwrap();
        assert_eq!(r.repository, "a/b/c");
        assert_eq!(r.object().unwrap(), d);
        assert_eq!(r.to_string(), format!("ghcr.io/a/b/c:latest@{d}"));
        let r: Reference = "127.0.0.1:5000/x".parse().unwrap();
        assert_eq!(r.tag, None);
    }

    #[test]
    fn refuses_bad_references() {
        for s in [
            "hello",
            "localhost:5000/Hello:v1",
            "r/x:",
            "r/x:bad tag",
            "r/x@sha256:abc",
            "/x",
        ] {
            assert!(s.parse::<Reference>().is_err(), "{s}");
        }
    }

    #[test]
    fn layout_references() {
        assert_eq!(
            split_layout_reference("dir:v1").unwrap(),
            ("dir".into(), Some("v1".into()))
        );
        assert_eq!(
            split_layout_reference("a/b@sha256:00").unwrap(),
            ("a/b".into(), Some("sha256:00".into()))
        );
        assert_eq!(split_layout_reference("dir").unwrap(), ("dir".into(), None));
        assert!(split_layout_reference(":v1").is_err());
    }

    #[test]
    fn references_split_as_vendir_guesses_them() {
        let s = |r: &str| {
            let w = split_reference(r);
            (w.repository, w.tag, w.digest)
        };
        assert_eq!(
            s("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000/a/b".into(), None, None)
        );
        assert_eq!(
            s("127.0.0.1:5000/a/b:v1"),
            ("127.0.0.1:5000/a/b".into(), Some("v1".into()), None)
        );
        assert_eq!(
            s("r.io/a@sha256:00"),
            ("r.io/a".into(), None, Some("sha256:00".into()))
        );
        assert_eq!(
            s("r.io/a:v1@sha256:00"),
            ("r.io/a".into(), Some("v1".into()), Some("sha256:00".into()))
        );
    }
}
