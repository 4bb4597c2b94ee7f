//! Choosing what to pull: a tag, a digest, or the highest tag matching a
//! vendir `tagSelection.semver` constraint.
//!
//! Constraint syntax is vendir's (blang/semver ranges, parsed in
//! `crate::semver_range`). Tags may carry a `v` prefix. Prereleases are
//! ignored unless `prereleases` is set; with identifiers, only prereleases
//! that contain one of them count.

use crate::error::{Error, Result};
use crate::semver_range::{parse_version, Range, RangeError};

/// Picks the highest tag matching `constraints`. `prereleases` is `None`
/// to exclude prereleases, `Some(&[])` to allow any, or identifiers to
/// allow only prereleases containing one of them.
pub fn select_tag(
    tags: &[String],
    constraints: &str,
    prereleases: Option<&[String]>,
) -> Result<String> {
    let range = Range::parse(constraints)
        .map_err(|e: RangeError| Error::setting(RangeError::KEY, Some(&e.constraints), e.reason))?;
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
