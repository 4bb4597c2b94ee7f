//! Remote text as messages may show it: URLs without credentials, and any
//! name from a remote (entry names, tags, URLs, release notes, chart
//! metadata) without raw control characters. A leaf: config validation,
//! extraction, the HTTP layer, errors and the CLI all use it.

use std::borrow::Cow;
use std::fmt::Write;

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

/// `text` safe to print on a terminal: every control character (C0 with
/// newline and tab, DEL, C1) as `\xNN`, and the invisible format characters
/// that reorder or hide text (bidi overrides and isolates, zero-width
/// characters, line and paragraph separators, BOM) as `\u{NNNN}`.
/// Everything else, backslashes included, stays as it is, so escaping twice
/// changes nothing and ordinary names read as they are.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        for (raw, want) in [
            ("plain/name.txt", "plain/name.txt"),
            ("\x1b[31mRED\x1b[0m/../../x", "\\x1b[31mRED\\x1b[0m/../../x"),
            ("a\nb\rc\td\x7f", "a\\x0ab\\x0dc\\x09d\\x7f"),
            ("\u{9b}31m", "\\x9b31m"),
            ("evil\u{202e}txt.exe", "evil\\u{202e}txt.exe"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
            ("..\\..\\pwn.txt", "..\\..\\pwn.txt"),
            ("caf\u{e9} \u{1F600}", "caf\u{e9} \u{1F600}"),
        ] {
            assert_eq!(escape(raw), want, "{raw:?}");
            assert_eq!(escape(&escape(raw)), want, "twice: {raw:?}");
        }
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
    }

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
