//! YAML text exactly as vendir writes it: `sigs.k8s.io/yaml` v1.4.0, which
//! marshals a struct to JSON, reads the JSON back as untyped YAML values and
//! marshals those with its copy of go-yaml v2. Two vendir outputs depend on
//! those bytes: `vendir.lock.yml`, and the `configDigest` of a `lazy` content
//! (the SHA-256 of the content's config marshalled that way).
//!
//! What that pipeline does, and so what this module does:
//! * Mappings are block style with their keys sorted by go-yaml's key order
//!   ([`key_less`]: letters by code point, runs of digits by value, a letter
//!   before anything else); empty ones are written `{}`, empty sequences `[]`.
//! * A sequence that is a mapping value is not indented (`key:\n- item`).
//! * A string is plain unless plain would read back as something else (go-yaml
//!   v2 resolves YAML 1.1 booleans such as `yes`/`on`/`n`, numbers, `0x`/`0o`/
//!   `0b` integers, `1_000`, timestamps and sexagesimal floats); then it is
//!   double-quoted. A string holding `\n` is a literal block (`|`, `|-`, `|+`).
//!   The emitter then downgrades a style the text does not allow: plain to
//!   single-quoted (indicators, leading or trailing spaces), single-quoted or
//!   literal to double-quoted (non-printable characters, spaces next to line
//!   breaks).
//! * Plain and quoted scalars are folded at spaces past column 80, as
//!   go-yaml's emitter does with its default width; a long `commitTitle` in a
//!   lock wraps onto the next line, indented.
//!
//! `tests/goyaml_parity.rs` checks this module against `sigs.k8s.io/yaml`
//! itself (a small Go program in `scripts/goyaml-ref/`).

use std::cmp::Ordering;

/// A value as go-yaml v2 sees it after the JSON round trip.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string (always a string: it was quoted in the JSON).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping; written with its keys sorted, whatever order they are in here.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A string node.
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }
}

/// The document text, as `yaml.Marshal` writes it (ends with a newline).
pub fn to_string(node: &Node) -> String {
    let mut e = Emitter::default();
    match node {
        Node::Map(entries) if !entries.is_empty() => e.mapping(entries, 0),
        Node::Seq(items) if !items.is_empty() => e.sequence(items, 0),
        other => e.scalar_node(other, 0, Context::Value),
    }
    // The document ends on a fresh line (a block scalar already did that).
    e.write_indent(0);
    e.out
}

/// go-yaml v2's order of string keys (`keyList.Less`): equal runes skipped;
/// two letters compare by code point; a letter sorts before a non-letter;
/// otherwise the runs of digits starting there compare by value (a run
/// following non-zero digits keeps its leading zeros significant), then by
/// length, then by rune.
pub fn key_less(a: &str, b: &str) -> bool {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            // A zero inside a number that started earlier is a digit like any other.
            if ar[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .any(|&c| c != '0')
            {
                an = 1;
                bn = 1;
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an.wrapping_mul(10).wrapping_add(ar[ai] as i64 - '0' as i64);
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn.wrapping_mul(10).wrapping_add(br[bi] as i64 - '0' as i64);
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

fn sorted(entries: &[(String, Node)]) -> Vec<&(String, Node)> {
    let mut v: Vec<&(String, Node)> = entries.iter().collect();
    v.sort_by(|a, b| {
        if key_less(&a.0, &b.0) {
            Ordering::Less
        } else if key_less(&b.0, &a.0) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
    v
}

#[derive(Clone, Copy, PartialEq)]
enum Context {
    Key,
    Value,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

const WIDTH: usize = 80;
const INDENT: usize = 2;

/// The writer's state, as go-yaml's emitter keeps it: the column, and
/// whether the last thing written was white space or indentation.
struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Default for Emitter {
    fn default() -> Emitter {
        Emitter {
            out: String::new(),
            column: 0,
            whitespace: true,
            indention: true,
        }
    }
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(&mut self, text: &str, need_whitespace: bool, is_whitespace: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in text.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = false;
    }

    /// A block mapping whose keys sit at `indent`. After a sequence's dash
    /// the first key stays on the dash's line (`write_indent` pads instead of
    /// breaking while the line is still indentation).
    fn mapping(&mut self, entries: &[(String, Node)], indent: usize) {
        for (key, value) in sorted(entries) {
            self.write_indent(indent);
            if simple_key(&json_round_trip(key)) {
                self.scalar(key, indent + INDENT, Context::Key);
                self.indicator(":", false, false);
            } else {
                // `? key` / `: value`, as go-yaml writes a key that cannot be
                // a simple key.
                let indention = self.indention;
                self.indicator("?", true, false);
                self.indention = indention;
                self.scalar(key, indent + INDENT, Context::Value);
                self.write_indent(indent);
                let indention = self.indention;
                self.indicator(":", true, false);
                self.indention = indention;
            }
            match value {
                Node::Map(m) if !m.is_empty() => self.mapping(m, indent + INDENT),
                // A sequence that is a mapping's value is not indented.
                Node::Seq(s) if !s.is_empty() => self.sequence(s, indent),
                other => self.scalar_node(other, indent + INDENT, Context::Value),
            }
        }
    }

    /// A block sequence whose dashes sit at `indent`.
    fn sequence(&mut self, items: &[Node], indent: usize) {
        for item in items {
            self.write_indent(indent);
            // The dash counts as indentation: what follows may start on its line.
            let indention = self.indention;
            self.indicator("-", true, false);
            self.indention = indention;
            match item {
                Node::Map(m) if !m.is_empty() => self.mapping(m, indent + INDENT),
                Node::Seq(s) if !s.is_empty() => self.sequence(s, indent + INDENT),
                other => self.scalar_node(other, indent + INDENT, Context::Value),
            }
        }
    }

    fn scalar_node(&mut self, node: &Node, indent: usize, ctx: Context) {
        match node {
            Node::Null => self.write_plain("null", indent, true),
            Node::Bool(b) => self.write_plain(if *b { "true" } else { "false" }, indent, true),
            Node::Int(i) => self.write_plain(&i.to_string(), indent, true),
            Node::Str(s) => self.scalar(s, indent, ctx),
            Node::Map(_) => self.flow_empty("{}"),
            Node::Seq(_) => self.flow_empty("[]"),
        }
    }

    fn flow_empty(&mut self, text: &str) {
        self.indicator(&text[..1], true, true);
        self.indicator(&text[1..], false, false);
    }

    /// A string, in the style go-yaml picks and its emitter allows.
    fn scalar(&mut self, s: &str, indent: usize, ctx: Context) {
        let s = &*json_round_trip(s);
        let wanted = if s.contains('\n') {
            Style::Literal
        } else if resolves_to_str(s) && !is_base60_float(s) {
            Style::Plain
        } else {
            Style::Double
        };
        let a = analyze(s);
        let mut style = wanted;
        if ctx == Context::Key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain
            && (!a.block_plain_allowed || (s.is_empty() && ctx == Context::Key))
        {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || ctx == Context::Key) {
            style = Style::Double;
        }
        // A simple key is never folded.
        let breaks = ctx != Context::Key;
        match style {
            Style::Plain => self.write_plain(s, indent, breaks),
            Style::Single => self.write_single(s, indent, breaks),
            Style::Double => self.write_double(s, indent, breaks),
            Style::Literal => self.write_literal(s, indent),
        }
    }

    fn write_plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        self.write_folding(s, indent, allow_breaks, false);
    }

    fn write_single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.indicator("'", true, false);
        self.write_folding(s, indent, allow_breaks, true);
        self.indicator("'", false, false);
        self.whitespace = false;
        self.indention = false;
    }

    /// The body of a plain or single-quoted scalar: a space past the width
    /// (not the first or last character, not before another space) becomes
    /// a line break; `quotes` doubles single quotes.
    fn write_folding(&mut self, s: &str, indent: usize, allow_breaks: bool, quotes: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > WIDTH
                    && i > 0
                    && i < chars.len() - 1
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                if quotes && c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn write_double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        self.indicator("\"", true, false);
        let bom = s.starts_with('\u{feff}');
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || bom || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let esc = match c {
                    '\0' => Some('0'),
                    '\u{7}' => Some('a'),
                    '\u{8}' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\u{b}' => Some('v'),
                    '\u{c}' => Some('f'),
                    '\r' => Some('r'),
                    '\u{1b}' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match esc {
                    Some(e) => self.put(e),
                    None => {
                        let v = c as u32;
                        let text = if v <= 0xff {
                            format!("x{v:02X}")
                        } else if v <= 0xffff {
                            format!("u{v:04X}")
                        } else {
                            format!("U{v:08X}")
                        };
                        text.chars().for_each(|c| self.put(c));
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > WIDTH && i > 0 && i < chars.len() - 1 {
                    self.write_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.indicator("\"", false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_literal(&mut self, s: &str, indent: usize) {
        self.indicator("|", true, false);
        let chars: Vec<char> = s.chars().collect();
        if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
            self.indicator(&INDENT.to_string(), false, false);
        }
        let chomp = match chars.last() {
            None => Some("-"),
            Some(&c) if !is_break(c) => Some("-"),
            Some(_) if chars.len() == 1 => Some("+"),
            Some(_) if is_break(chars[chars.len() - 2]) => Some("+"),
            Some(_) => None,
        };
        if let Some(ch) = chomp {
            self.indicator(ch, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for &c in &chars {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

/// go-yaml's `yaml_emitter_check_simple_key` for a string key: one line,
/// at most 128 bytes.
fn simple_key(key: &str) -> bool {
    key.len() <= 128 && !key.chars().any(is_break)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// go-yaml's `is_printable`: it looks at UTF-8 lead bytes only up to three
/// bytes, so characters past U+FFFF (emoji) are not printable and get
/// escaped.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        && c != '\u{feff}'
}

/// The string go-yaml reads back from the JSON that `encoding/json` wrote
/// for `s`. JSON escapes every line break but NEL (U+0085), so a raw NEL is
/// a line break inside a double-quoted scalar and is folded: the spaces
/// around a run of them go, one NEL becomes a space, `n` of them `n - 1`
/// newlines.
fn json_round_trip(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\u{85}') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' || chars[i] == '\u{85}' {
            let mut j = i;
            let mut breaks = 0;
            while j < chars.len() && (chars[j] == ' ' || chars[j] == '\u{85}') {
                breaks += usize::from(chars[j] == '\u{85}');
                j += 1;
            }
            if breaks == 0 {
                out.extend(&chars[i..j]);
            } else if breaks == 1 {
                out.push(' ');
            } else {
                out.extend(std::iter::repeat_n('\n', breaks - 1));
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.into()
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

/// What the emitter allows for a scalar (`yaml_emitter_analyze_scalar`,
/// block context).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = chars.get(i + 1).is_none_or(|&n| n == ' ' || n == '\t');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_whitespace => block_indicators = true,
                '#' if preceded_by_whitespace => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        let last = i + 1 == chars.len();
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = matches!(c, ' ' | '\t' | '\0') || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Whether go-yaml v2 reads the plain scalar `s` back as a string
/// (`resolve`): not null, a YAML 1.1 boolean, a number, or a timestamp.
fn resolves_to_str(s: &str) -> bool {
    const NON_STR: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if NON_STR.contains(&s) {
        return false;
    }
    let first = s.as_bytes()[0];
    match first {
        b'.' => go_parse_float(s).is_none(),
        b'0'..=b'9' | b'+' | b'-' => {
            if is_timestamp(s) {
                return false;
            }
            let plain = s.replace('_', "");
            if go_parse_int(&plain) || go_float(&plain) {
                return false;
            }
            if let Some(bits) = plain
                .strip_prefix("0b")
                .or_else(|| plain.strip_prefix("-0b"))
            {
                if !bits.is_empty() && i64::from_str_radix(bits, 2).is_ok() {
                    return false;
                }
            }
            true
        }
        _ => true,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds
/// (underscores already removed by the caller).
fn go_parse_int(s: &str) -> bool {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if let Some(r) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, r)
        } else if let Some(r) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, r)
        } else if let Some(r) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, r)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return false;
    }
    match u64::from_str_radix(digits, radix) {
        Ok(v) if neg => v <= 1 << 63,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (go-yaml's
/// `yamlStyleFloat`); Go's ParseFloat accepts every such string.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for strings starting with `.`: a
/// decimal fraction with an optional exponent (`.5`, `.5e3`), where an
/// underscore may stand between two digits (`.5_1`).
fn go_parse_float(s: &str) -> Option<()> {
    let b = s.as_bytes();
    let underscores_ok = b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    });
    (underscores_ok && go_float(&s.replace('_', ""))).then_some(())
}

/// A float go-yaml accepts: its syntax, and finite (Go's ParseFloat fails
/// with ErrRange past the largest float).
fn go_float(s: &str) -> bool {
    yaml_style_float(s) && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// go-yaml's `parseTimestamp`: `YYYY-M-D`, optionally followed by `T`/`t`/
/// space and a time, with optional fraction and zone.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    // The date: four digits, '-', then go's layouts parse 1–2 digit month/day.
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i != 4 || i >= b.len() || b[i] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let parse_num = |t: &str, max: u32| -> Option<(u32, usize)> {
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 2 {
            return None;
        }
        let v: u32 = t[..n].parse().ok()?;
        (v >= 1 && v <= max).then_some((v, n))
    };
    let Some((month, m)) = parse_num(rest, 12) else {
        return false;
    };
    let rest = &rest[m..];
    let Some(rest) = rest.strip_prefix('-') else {
        return false;
    };
    let Some((day, d)) = parse_num(rest, 31) else {
        return false;
    };
    let year: u32 = s[..4].parse().unwrap_or(0);
    if day > days_in_month(year, month) {
        return false;
    }
    let rest = &rest[d..];
    if rest.is_empty() {
        return true;
    }
    let Some(time) = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix('t'))
        .or_else(|| rest.strip_prefix(' '))
    else {
        return false;
    };
    let zoned = !rest.starts_with(' ');
    is_time(time, zoned)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `15:4:5.999999999` then, when `zoned`, `Z07:00` (a `Z` or `±hh:mm`).
fn is_time(t: &str, zoned: bool) -> bool {
    let mut rest = t;
    for (n, max) in [(0, 23u32), (1, 59), (2, 59)] {
        let k = rest.bytes().take_while(u8::is_ascii_digit).count();
        if k == 0 || k > 2 || rest[..k].parse::<u32>().map_or(true, |v| v > max) {
            return false;
        }
        rest = &rest[k..];
        if n < 2 {
            let Some(r) = rest.strip_prefix(':') else {
                return false;
            };
            rest = r;
        }
    }
    if let Some(r) = rest.strip_prefix('.') {
        let k = r.bytes().take_while(u8::is_ascii_digit).count();
        if k == 0 {
            return false;
        }
        rest = &r[k..];
    }
    if !zoned {
        return rest.is_empty();
    }
    if rest == "Z" {
        return true;
    }
    let b = rest.as_bytes();
    b.len() == 6
        && (b[0] == b'+' || b[0] == b'-')
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b':'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
}

/// go-yaml's `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let group = &b[start..i];
        let ok = match group.len() {
            1 => true,
            2 => group[0] <= b'5',
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, Node)]) -> Node {
        Node::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    // The expected texts below are sigs.k8s.io/yaml v1.4.0's output for the
    // same values (scripts/goyaml-ref); tests/goyaml_parity.rs runs it.
    #[test]
    fn keys_sort_as_go_yaml_sorts_them() {
        let mut keys = vec![
            "path",
            "git",
            "configDigest",
            "a10",
            "a2",
            "a",
            "B",
            "_x",
            "1",
        ];
        keys.sort_by(|a, b| {
            if key_less(a, b) {
                Ordering::Less
            } else if key_less(b, a) {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        });
        assert_eq!(
            keys,
            [
                "_x",
                "1",
                "B",
                "a",
                "a2",
                "a10",
                "configDigest",
                "git",
                "path"
            ]
        );
    }

    #[test]
    fn a_lock_shaped_document() {
        let doc = map(&[
            ("kind", Node::str("LockConfig")),
            ("apiVersion", Node::str("vendir.k14s.io/v1alpha1")),
            (
                "directories",
                Node::Seq(vec![map(&[
                    ("path", Node::str("vendor")),
                    (
                        "contents",
                        Node::Seq(vec![map(&[
                            ("path", Node::str(".")),
                            ("manual", Node::Map(vec![])),
                            (
                                "git",
                                map(&[
                                    ("tags", Node::Seq(vec![Node::str("v1.0")])),
                                    ("sha", Node::str("abc")),
                                ]),
                            ),
                        ])]),
                    ),
                ])]),
            ),
        ]);
        assert_eq!(
            to_string(&doc),
            "apiVersion: vendir.k14s.io/v1alpha1\ndirectories:\n- contents:\n  - git:\n      sha: abc\n      tags:\n      - v1.0\n    manual: {}\n    path: .\n  path: vendor\nkind: LockConfig\n"
        );
    }

    #[test]
    fn strings_that_read_back_as_other_types_are_double_quoted() {
        for s in [
            "1.0",
            "yes",
            "on",
            "N",
            "0755",
            "08",
            "1_000",
            "2024-01-02",
            "1:20",
            ".5",
            "",
        ] {
            let out = to_string(&map(&[("k", Node::str(s))]));
            assert_eq!(out, format!("k: \"{s}\"\n"), "{s:?}");
        }
        for s in [
            "v1.0",
            "1.0.0",
            "0x",
            "abc",
            "1e",
            "2024-13-01",
            "yes please",
        ] {
            assert_eq!(
                to_string(&map(&[("k", Node::str(s))])),
                format!("k: {s}\n"),
                "{s:?}"
            );
        }
    }

    #[test]
    fn indicators_make_single_quotes_and_breaks_make_literals() {
        assert_eq!(to_string(&map(&[("k", Node::str("a: b"))])), "k: 'a: b'\n");
        assert_eq!(
            to_string(&map(&[("k", Node::str("it's - x"))])),
            "k: it's - x\n"
        );
        assert_eq!(to_string(&map(&[("k", Node::str("- x"))])), "k: '- x'\n");
        assert_eq!(
            to_string(&map(&[("k", Node::str("a\nb\n"))])),
            "k: |\n  a\n  b\n"
        );
        assert_eq!(
            to_string(&map(&[("k", Node::str("a\n\nb"))])),
            "k: |-\n  a\n\n  b\n"
        );
        assert_eq!(
            to_string(&map(&[("k", Node::str("a \nb"))])),
            "k: \"a \\nb\"\n"
        );
        assert_eq!(to_string(&map(&[("k", Node::str("\tx"))])), "k: \"\\tx\"\n");
    }

    #[test]
    fn long_plain_scalars_fold_past_column_80() {
        let title = "Merge pull request 1234 from someone/some-branch-name to make the frobnicator faster again";
        let out = to_string(&map(&[("commitTitle", Node::str(title))]));
        assert_eq!(
            out,
            "commitTitle: Merge pull request 1234 from someone/some-branch-name to make the frobnicator\n  faster again\n"
        );
        // ` #` is a comment indicator: single quotes, folded all the same.
        let out = to_string(&map(&[(
            "commitTitle",
            Node::str(title.replace(" 1234", " #1234")),
        )]));
        assert_eq!(
            out,
            "commitTitle: 'Merge pull request #1234 from someone/some-branch-name to make the frobnicator\n  faster again'\n"
        );
    }
}
