//! Semver ranges as vendir writes them (blang/semver): the type and its
//! parser. A leaf, so that config validation can check a constraint without
//! reaching up into tag selection (`resolve`).
//!
//! Syntax: comparators `=`, `!=`, `>`, `>=`, `<`, `<=` (bare versions mean
//! `=`) joined by spaces (AND) and `||` (OR). Versions may carry a `v`
//! prefix and may be short (`1.2` is `1.2.0`).

use std::fmt;

use semver::Version;

/// A constraint that does not parse. Shown as the `Error::Setting` it
/// becomes (`tagSelection.semver.constraints "<value>": <reason>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeError {
    /// The constraint as written.
    pub constraints: String,
    /// Why it is not a range.
    pub reason: String,
}

impl RangeError {
    /// The config key a constraint is written under.
    pub const KEY: &'static str = "tagSelection.semver.constraints";
}

impl fmt::Display for RangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}: {}", Self::KEY, self.constraints, self.reason)
    }
}

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

pub(crate) fn parse_version(s: &str) -> Option<Version> {
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
    pub fn parse(constraints: &str) -> Result<Range, RangeError> {
        let bad = |reason: String| RangeError {
            constraints: constraints.to_string(),
            reason,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_ranges() {
        let e = Range::parse(">=x").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"tagSelection.semver.constraints ">=x": ">=x" is not a comparator with a version"#
        );
    }
}
