//! URLs as messages may show them. A leaf: config validation and the HTTP
//! layer both redact, so this lives below both.

/// `url` without userinfo, query or fragment: what messages may show.
pub fn redact_url(url: &str) -> String {
    let (base, _) = url.split_once(['?', '#']).unwrap_or((url, ""));
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        for (url, want) in [
            ("https://u:p@h:1/a/b?x=1#f", "https://h:1/a/b"),
            ("http://h/a", "http://h/a"),
            ("http://h", "http://h"),
        ] {
            assert_eq!(redact_url(url), want);
        }
    }
}
