//! Choosing what to pull: a tag, a digest, or the highest tag matching a
//! vendir `tagSelection.semver` constraint.
//!
//! Constraint syntax is vendir's (blang/semver ranges): comparators
//! `=`, `!=`, `>`, `>=`, `<`, `<=` (bare versions mean `=`) joined by spaces
//! (AND) and `||` (OR). Tags may carry a `v` prefix. Prereleases are
//! ignored unless `prereleases` is set; with identifiers, only prereleases
//! that contain one of them count.

use semver::Version;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed semver range.
#[derive(Debug, Clone)]
pub struct Range {
    any_of: Vec<Vec<(Op, Version)>>,
}

fn parse_version(s: &str) -> Option<Version> {
    let s = s.strip_prefix('v').unwrap_or(s);
    Version::parse(s).ok().or_else(|| {
        // Relaxed like vendir: "1.2" → 1.2.0, "1" → 1.0.0.
        let (core, rest) = s.split_at(s.find(['-', '+']).unwrap_or(s.len()));
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty()
            || parts.len() > 2
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let full = format!("{}.{}.0{rest}", parts[0], parts.get(1).unwrap_or(&"0"));
        let full = if parts.len() == 1 {
            format!("{}.0.0{rest}", parts[0])
        } else {
            full
        };
        Version::parse(&full).ok()
    })
}

impl Range {
    /// Parses a constraint such as `>=1.2.0 <2.0.0 || 3.0.0`.
    pub fn parse(constraints: &str) -> Result<Range> {
        let bad =
            |why: String| Error::setting("tagSelection.semver.constraints", Some(constraints), why);
        let mut any_of = Vec::new();
        for alternative in constraints.split("||") {
            let mut all = Vec::new();
            for token in alternative.split([' ', ',']).filter(|t| !t.is_empty()) {
                let (op, rest) = [
                    (">=", Op::Ge),
                    ("<=", Op::Le),
                    ("!=", Op::Ne),
                    ("==", Op::Eq),
                    (">", Op::Gt),
                    ("<", Op::Lt),
                    ("=", Op::Eq),
                ]
                .iter()
                .find_map(|(p, op)| token.strip_prefix(p).map(|r| (*op, r)))
                .unwrap_or((Op::Eq, token));
                let v = parse_version(rest.trim())
                    .ok_or_else(|| bad(format!("{token:?} is not a comparator with a version")))?;
                all.push((op, v));
            }
            if all.is_empty() {
                return Err(bad("empty alternative".into()));
            }
            any_of.push(all);
        }
        Ok(Range { any_of })
    }

    /// Whether `v` satisfies the range.
    pub fn matches(&self, v: &Version) -> bool {
        self.any_of.iter().any(|all| {
            all.iter().all(|(op, c)| match op {
                Op::Eq => v == c,
                Op::Ne => v != c,
                Op::Gt => v > c,
                Op::Ge => v >= c,
                Op::Lt => v < c,
                Op::Le => v <= c,
            })
        })
    }
}

/// Picks the highest tag matching `constraints`. `prereleases` is `None`
/// to exclude prereleases, `Some(&[])` to allow any, or identifiers to
/// allow only prereleases containing one of them.
pub fn select_tag(
    tags: &[String],
    constraints: &str,
    prereleases: Option<&[String]>,
) -> Result<String> {
    let range = Range::parse(constraints)?;
    let best = tags
        .iter()
        .filter_map(|t| parse_version(t).map(|v| (v, t)))
        .filter(|(v, _)| {
            if v.pre.is_empty() {
                return true;
            }
            match prereleases {
                None => false,
                Some([]) => true,
                Some(ids) => v
                    .pre
                    .as_str()
                    .split('.')
                    .any(|p| ids.iter().any(|id| id == p)),
            }
        })
        .filter(|(v, _)| range.matches(v))
        .max_by(|a, b| a.0.cmp(&b.0));
    match best {
        Some((_, t)) => Ok(t.clone()),
        None => {
            let mut shown: Vec<&str> = tags.iter().map(String::as_str).take(20).collect();
            if tags.len() > 20 {
                shown.push("...");
            }
            Err(Error::setting(
                "tagSelection.semver.constraints",
                Some(constraints),
                format!(
                    "no tag matches{} (tags: {})",
                    if prereleases.is_none() {
                        " (prereleases excluded)"
                    } else {
                        ""
                    },
                    if shown.is_empty() {
                        "none".to_string()
                    } else {
                        shown.join(", ")
                    }
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_highest_in_range() {
        let t = tags(&[
            "1.0.0",
            "v1.2.0",
            "1.10.1",
            "2.0.0",
            "latest",
            "1.11.0-rc.1",
        ]);
        assert_eq!(select_tag(&t, ">=1.2.0 <2.0.0", None).unwrap(), "1.10.1");
        assert_eq!(
            select_tag(&t, ">=1.2.0 <2.0.0", Some(&["rc".into()])).unwrap(),
            "1.11.0-rc.1"
        );
        assert_eq!(
            select_tag(&t, ">=1.2.0 <2.0.0", Some(&["beta".into()])).unwrap(),
            "1.10.1"
        );
        assert_eq!(select_tag(&t, "<1.1.0 || >=2.0.0", None).unwrap(), "2.0.0");
        assert_eq!(select_tag(&t, "1.0.0", None).unwrap(), "1.0.0");
        let err = select_tag(&t, ">=3.0.0", None).unwrap_err().to_string();
        assert!(
            err.contains("no tag matches") && err.contains("latest"),
            "{err}"
        );
        assert!(Range::parse(">=x").is_err());
    }
}
