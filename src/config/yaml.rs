//! YAML documents as trees that remember where each node was written, and a
//! serde `Deserializer` over them.
//!
//! serde-saphyr parses the text (merge keys, anchors, duplicate keys and the
//! alias-bomb budget are its job) into [`Value`] trees. The input types
//! (`input.rs`) are then deserialised from a `Value` by [`from_value`],
//! which knows at every step the key path and the position, so every error
//! carries both, and which sees the field names serde passes to
//! `deserialize_struct`, so keys a type does not read are reported
//! ([`Seen::unknown`]) instead of silently skipped.
//!
//! Why not serde-saphyr's own deserializer wrapped in `serde_ignored` and
//! `serde_path_to_error` (tried with serde-saphyr 1.3.0, serde_ignored
//! 0.1.14, serde_path_to_error 0.1.20, on a cut-down copy of `input.rs`):
//! plain structs worked (a wrong type at `lazy: [1]` kept its line:column
//! and path, an unknown key came back as the path `directories.0.pathh`,
//! `0755` stayed text). But the "one source key beside the content's keys"
//! shape, which [`WithKind`] reads by splitting one mapping, can only be
//! had from a streaming deserializer with `#[serde(flatten)]`, which
//! buffers the mapping: then (1) an error inside the source lost its place
//! (`url: [1]` three lines into `http:` was reported at the `http:` key
//! with the path cut at `contents[0]`), and (2) unknown keys beside or
//! inside the source (`bogus:` next to `git:`, `extra:` inside it) were
//! silently accepted, with no callback from `serde_ignored`. Unknown keys
//! also come back as paths only, so the positioned tree below would still
//! be parsed (validation locates its own errors in it), and
//! `with_deserializer_*` reads a single document where a config file has
//! several. What would go is the `De` walk and `WithKind` (about 650
//! lines); the price is wrong positions and missing warnings in
//! `contents`, so it stays.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::Deserialize;
use serde_saphyr::Spanned;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(l: serde_saphyr::Location) -> Option<Pos> {
        (l.line() > 0).then(|| Pos {
            line: l.line() as usize,
            column: l.column() as usize,
        })
    }
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A key path inside one document: `directories[0].contents[1].path`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn k(&self, key: &str) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Key(key.to_string()));
        KeyPath(v)
    }
    pub fn i(&self, index: usize) -> KeyPath {
        let mut v = self.0.clone();
        v.push(Seg::Index(index));
        KeyPath(v)
    }
    pub fn parent(&self) -> KeyPath {
        KeyPath(self.0[..self.0.len().saturating_sub(1)].to_vec())
    }
    pub fn last_key(&self) -> Option<&str> {
        match self.0.last() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// A scalar's YAML 1.2 core type; the text is kept as written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScalarKind {
    Str,
    Bool(bool),
    Int,
    Float,
}

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    /// `text` is the string's value, or a number's or boolean's text as
    /// written (`0755`, `1.10`), which typing would lose.
    Scalar {
        text: String,
        kind: ScalarKind,
    },
    Seq(Vec<Value>),
    Map(Vec<Entry>),
}

/// A node and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub pos: Option<Pos>,
    pub node: Node,
    /// The bytes where the node was written (`start..end` of the text,
    /// quotes included), when the parser says; `None` also for a node
    /// reached through an alias or merge key, written elsewhere.
    pub span: Option<(usize, usize)>,
}

/// One mapping entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_pos: Option<Pos>,
    pub value: Value,
}

impl Value {
    /// The entry for `key`, when this is a mapping holding it.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.node {
            Node::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// A string at `key` (a scalar's text).
    pub fn str_at(&self, key: &str) -> Option<&str> {
        match &self.entry(key)?.value.node {
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The node at `path`, and the position of the key that ends it.
    fn walk(&self, path: &[Seg]) -> Option<(&Value, Option<Pos>)> {
        let mut cur = self;
        let mut key_pos = None;
        for seg in path {
            match (seg, &cur.node) {
                (Seg::Key(k), Node::Map(entries)) => {
                    let e = entries.iter().find(|e| &e.key == k)?;
                    key_pos = e.key_pos;
                    cur = &e.value;
                }
                (Seg::Index(i), Node::Seq(items)) => {
                    cur = items.get(*i)?;
                    key_pos = None;
                }
                _ => return None,
            }
        }
        Some((cur, key_pos))
    }

    /// The node at `path`.
    pub fn walk_value(&self, path: &KeyPath) -> Option<&Value> {
        self.walk(&path.0).map(|(v, _)| v)
    }

    /// Where the node at `path` was written (its key's position with
    /// `key`), else its nearest ancestor.
    pub fn locate(&self, path: &KeyPath, key: bool) -> Option<Pos> {
        if let Some((v, key_pos)) = self.walk(&path.0) {
            if key && key_pos.is_some() {
                return key_pos;
            }
            if v.pos.is_some() {
                return v.pos;
            }
        }
        (0..path.0.len())
            .rev()
            .find_map(|n| self.walk(&path.0[..n]).and_then(|(v, _)| v.pos))
    }

    /// A mapping, sequence or scalar as JSON (for digests of a config).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.node {
            Node::Null => J::Null,
            Node::Scalar { text, kind } => match kind {
                ScalarKind::Str => J::String(text.clone()),
                ScalarKind::Bool(b) => J::Bool(*b),
                ScalarKind::Int | ScalarKind::Float => {
                    serde_json::from_str::<serde_json::Number>(text)
                        .map(J::Number)
                        .unwrap_or_else(|_| J::String(text.clone()))
                }
            },
            Node::Seq(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Node::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// What the node is, for messages: `a mapping`, or a scalar's text.
    pub fn describe(&self) -> String {
        match &self.node {
            Node::Null => "null".into(),
            Node::Scalar { text, .. } => format!("`{text}`"),
            Node::Seq(_) => "a list".into(),
            Node::Map(_) => "a mapping".into(),
        }
    }
}

/// A YAML syntax error, or a document over budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub pos: Option<Pos>,
    pub message: String,
}

/// Most nodes and alias replays one input may produce. A real vendir.yml
/// has hundreds of nodes; an alias or merge-key bomb has billions, and is
/// refused as soon as it passes these.
const MAX_NODES: usize = 50_000;
const MAX_REPLAYED_EVENTS: usize = 50_000;

/// Parses every document of `text`. Empty documents (nothing, or only
/// comments) are left out.
pub(crate) fn documents(text: &str) -> Result<Vec<Value>, SyntaxError> {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_NODES;
    let mut aliases = serde_saphyr::options::AliasLimits::default();
    aliases.max_total_replayed_events = MAX_REPLAYED_EVENTS;
    let options = serde_saphyr::options! {
        budget: Some(budget),
        alias_limits: aliases,
        // YAML 1.2: `yes` and `on` are strings, as serde_yaml read them.
        strict_booleans: true,
        with_snippet: false,
    };
    let docs: Vec<Spanned<Raw>> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(syntax_error)?;
    Ok(docs.into_iter().map(|d| convert(d, text)).collect())
}

fn syntax_error(e: serde_saphyr::Error) -> SyntaxError {
    use serde_saphyr::Error as E;
    let pos = e.location().and_then(Pos::of);
    let e = e.without_snippet();
    let bomb = match e {
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => true,
        // A limit hit while replaying an alias comes wrapped with the
        // alias's locations.
        E::AliasError { msg, .. } => msg.contains("limit exceeded") || msg.contains("budget"),
        _ => false,
    };
    let message = if bomb {
        format!(
            "its aliases and merge keys expand to more than {MAX_NODES} nodes; refusing what \
             looks like an alias or merge-key bomb (\"billion laughs\")"
        )
    } else {
        // The user-facing wording (the default one names library options),
        // without the position, which is reported apart.
        use serde_saphyr::MessageFormatter as _;
        serde_saphyr::UserMessageFormatter
            .format_message(e)
            .into_owned()
    };
    SyntaxError { pos, message }
}

/// What serde-saphyr produces; converted to [`Value`] with the raw text.
enum Raw {
    Null,
    Bool(bool),
    Int,
    Float,
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Raw, E> {
        Ok(Raw::Int)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Raw, E> {
        Ok(Raw::Int)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Raw, E> {
        Ok(Raw::Int)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Raw, E> {
        Ok(Raw::Int)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Raw, E> {
        Ok(Raw::Float)
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_string()))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        String::from_utf8(v.to_vec())
            .map(Raw::Str)
            .map_err(|_| E::custom("binary data is not UTF-8"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = a.next_key::<Spanned<String>>()? {
            entries.push((key, a.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}

fn convert(raw: Spanned<Raw>, text: &str) -> Value {
    let pos = Pos::of(raw.referenced);
    let (r, d) = (raw.referenced.span(), raw.defined.span());
    let span = match (r.byte_offset().zip(r.byte_len()), d.byte_offset()) {
        (Some((o, l)), Some(def)) if o == def => Some((o as usize, (o + l) as usize)),
        _ => None,
    };
    // A number's text as written: where it was defined (an alias points
    // elsewhere).
    let written = |kind| {
        let span = raw.defined.span();
        let slice = span
            .byte_offset()
            .zip(span.byte_len())
            .and_then(|(o, l)| text.get(o as usize..(o + l) as usize));
        Node::Scalar {
            text: slice.unwrap_or_default().trim().to_string(),
            kind,
        }
    };
    let node = match raw.value {
        Raw::Null => Node::Null,
        Raw::Bool(b) => written(ScalarKind::Bool(b)),
        Raw::Int => written(ScalarKind::Int),
        Raw::Float => written(ScalarKind::Float),
        Raw::Str(s) => Node::Scalar {
            text: s,
            kind: ScalarKind::Str,
        },
        Raw::Seq(items) => Node::Seq(items.into_iter().map(|i| convert(i, text)).collect()),
        Raw::Map(entries) => Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| Entry {
                    key_pos: Pos::of(k.referenced),
                    key: k.value,
                    value: convert(v, text),
                })
                .collect(),
        ),
    };
    Value { pos, node, span }
}

// ---------------------------------------------------------------------------
// Deserializing input types from a Value

/// What went wrong, as data; `config` turns it into a message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DeErrorKind {
    /// A type's own message.
    Message(String),
    /// A key a `deny_unknown_fields` type does not have.
    UnknownKey {
        key: String,
        expected: &'static [&'static str],
    },
    /// A value outside an enum's names (`unpack: file`).
    UnknownValue {
        value: String,
        expected: &'static [&'static str],
    },
    Missing(&'static str),
    WrongType {
        expected: String,
        found: String,
    },
    /// A [`WithKind`] mapping without any of its kind keys.
    NoKind {
        expected: &'static [&'static str],
    },
    /// A [`WithKind`] mapping with two kind keys.
    TwoKinds {
        first: String,
        second: String,
    },
}

/// A deserialisation error, positioned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeError {
    pub kind: DeErrorKind,
    /// The key path of the node (or key) it is about.
    pub path: KeyPath,
    pub pos: Option<Pos>,
    placed: bool,
}

impl DeError {
    fn new(kind: DeErrorKind) -> DeError {
        DeError {
            kind,
            path: KeyPath::default(),
            pos: None,
            placed: false,
        }
    }

    fn at(mut self, path: &KeyPath, pos: Option<Pos>) -> DeError {
        if !self.placed {
            self.path = path.clone();
            self.pos = pos;
            self.placed = true;
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.path, self.kind)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(DeErrorKind::Message(msg.to_string()))
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(DeErrorKind::UnknownKey {
            key: field.to_string(),
            expected,
        })
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(DeErrorKind::UnknownValue {
            value: variant.to_string(),
            expected,
        })
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::new(DeErrorKind::Missing(field))
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(DeErrorKind::WrongType {
            expected: exp.to_string(),
            found: unexp.to_string(),
        })
    }
}

/// A key that the type deserialised from its mapping does not read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unknown {
    /// The key's path (its last segment is the key).
    pub path: KeyPath,
    pub pos: Option<Pos>,
    /// The keys the type does read.
    pub expected: &'static [&'static str],
    /// Keys read beside the type's (a [`WithKind`]'s kind keys).
    pub also: &'static [&'static str],
}

/// What deserialising noticed besides errors.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub unknown: RefCell<Vec<Unknown>>,
}

/// Deserialises `T` from `value`, which sits at `path` in its document.
pub(crate) fn from_value<T: DeserializeOwned>(
    value: &Value,
    path: &KeyPath,
    seen: &Seen,
) -> Result<T, DeError> {
    T::deserialize(De {
        v: value,
        path: path.clone(),
        seen,
        hide: &[],
    })
    .map_err(|e| e.at(path, value.pos))
}

struct De<'a> {
    v: &'a Value,
    path: KeyPath,
    seen: &'a Seen,
    /// Keys of this mapping that belong to someone else (a [`WithKind`]'s
    /// kind key).
    hide: &'static [&'static str],
}

impl<'a> De<'a> {
    fn child(&self, v: &'a Value, path: KeyPath) -> De<'a> {
        De {
            v,
            path,
            seen: self.seen,
            hide: &[],
        }
    }

    fn wrong(&self, expected: &str) -> DeError {
        DeError::new(DeErrorKind::WrongType {
            expected: expected.to_string(),
            found: self.v.describe(),
        })
        .at(&self.path, self.v.pos)
    }

    fn place<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| e.at(&self.path, self.v.pos))
    }

    fn entries(&self) -> Vec<&'a Entry> {
        match &self.v.node {
            Node::Map(entries) => entries
                .iter()
                .filter(|e| !self.hide.contains(&e.key.as_str()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn with_kind<'de, V: Visitor<'de>>(
        self,
        kinds: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let Node::Map(entries) = &self.v.node else {
            return Err(self.wrong("a mapping"));
        };
        let mut found = entries.iter().filter(|e| kinds.contains(&e.key.as_str()));
        let kind = found.next();
        if let Some(second) = found.next() {
            let first = kind.map(|e| e.key.clone()).unwrap_or_default();
            return Err(DeError::new(DeErrorKind::TwoKinds {
                first,
                second: second.key.clone(),
            })
            .at(&self.path.k(&second.key), second.key_pos));
        }
        let fields = De {
            v: self.v,
            path: self.path.clone(),
            seen: self.seen,
            hide: kinds,
        };
        let access = WithKindAccess {
            fields: Some(fields),
            kind: kind.map(|e| (e, self.child(&e.value, self.path.k(&e.key)))),
            kinds,
            at: (self.path.clone(), self.v.pos),
            state: 0,
        };
        self.place(visitor.visit_map(access))
    }
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.v.node {
            Node::Null => visitor.visit_unit(),
            Node::Scalar { text, kind } => match kind {
                ScalarKind::Bool(b) => visitor.visit_bool(*b),
                ScalarKind::Int => match text.parse::<i64>() {
                    Ok(i) => visitor.visit_i64(i),
                    Err(_) => visitor.visit_str(text),
                },
                ScalarKind::Float => match text.parse::<f64>() {
                    Ok(f) => visitor.visit_f64(f),
                    Err(_) => visitor.visit_str(text),
                },
                ScalarKind::Str => visitor.visit_str(text),
            },
            Node::Seq(_) => return self.deserialize_seq(visitor),
            Node::Map(_) => return self.deserialize_map(visitor),
        };
        self.place(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.node {
            Node::Scalar {
                kind: ScalarKind::Bool(b),
                ..
            } => self.place(visitor.visit_bool(*b)),
            _ => Err(self.wrong("true or false")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.node {
            Node::Scalar { text, .. } => self.place(visitor.visit_str(text)),
            Node::Null => self.place(visitor.visit_str("")),
            _ => Err(self.wrong("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.node {
            Node::Null => self.place(visitor.visit_none()),
            _ => {
                let (path, pos) = (self.path.clone(), self.v.pos);
                visitor.visit_some(self).map_err(|e| e.at(&path, pos))
            }
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (path, pos) = (self.path.clone(), self.v.pos);
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(&path, pos))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.node {
            Node::Seq(items) => {
                let access = Items {
                    items: items.iter().enumerate(),
                    parent: &self,
                };
                self.place(visitor.visit_seq(access))
            }
            Node::Null => self.place(visitor.visit_seq(Items {
                items: [].iter().enumerate(),
                parent: &self,
            })),
            _ => Err(self.wrong("a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.v.node {
            Node::Map(_) | Node::Null => {
                let access = Entries {
                    entries: self.entries().into_iter(),
                    parent: &self,
                    value: None,
                };
                self.place(visitor.visit_map(access))
            }
            _ => Err(self.wrong("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == WITH_KIND {
            return self.with_kind(fields, visitor);
        }
        if !matches!(self.v.node, Node::Map(_) | Node::Null) {
            return Err(self.wrong("a mapping"));
        }
        for e in self.entries() {
            if !fields.contains(&e.key.as_str()) {
                self.seen.unknown.borrow_mut().push(Unknown {
                    path: self.path.k(&e.key),
                    pos: e.key_pos,
                    expected: fields,
                    also: self.hide,
                });
            }
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.v.node {
            Node::Scalar { .. } => self.place(visitor.visit_enum(Variant {
                name: (self.v, self.path.clone()),
                value: None,
            })),
            Node::Map(entries) if entries.len() == 1 => {
                let e = &entries[0];
                let value = self.child(&e.value, self.path.k(&e.key));
                self.place(visitor.visit_enum(Variant {
                    name: (self.v, self.path.clone()),
                    value: Some((e, value)),
                }))
            }
            _ => Err(self.wrong("one of its names")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.place(visitor.visit_unit())
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit_struct tuple tuple_struct
    }
}

struct Items<'p, 'a, I> {
    items: I,
    parent: &'p De<'a>,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Value)>> SeqAccess<'de> for Items<'_, 'a, I> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((i, v)) = self.items.next() else {
            return Ok(None);
        };
        let path = self.parent.path.i(i);
        seed.deserialize(self.parent.child(v, path.clone()))
            .map(Some)
            .map_err(|e| e.at(&path, v.pos))
    }
}

struct Entries<'p, 'a, I> {
    entries: I,
    parent: &'p De<'a>,
    value: Option<&'a Entry>,
}

impl<'de, 'a, I: Iterator<Item = &'a Entry>> MapAccess<'de> for Entries<'_, 'a, I> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(e) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(e);
        let key: de::value::StrDeserializer<'_, DeError> = e.key.as_str().into_deserializer();
        seed.deserialize(key)
            .map(Some)
            .map_err(|err| err.at(&self.parent.path.k(&e.key), e.key_pos))
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        let e = self.value.take().expect("a key before its value");
        let path = self.parent.path.k(&e.key);
        seed.deserialize(self.parent.child(&e.value, path.clone()))
            .map_err(|err| err.at(&path, e.value.pos))
    }
}

struct Variant<'a> {
    /// The node naming the variant (a scalar, or the one-entry mapping).
    name: (&'a Value, KeyPath),
    value: Option<(&'a Entry, De<'a>)>,
}

impl<'de, 'a> EnumAccess<'de> for Variant<'a> {
    type Error = DeError;
    type Variant = VariantValue<'a>;
    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, VariantValue<'a>), DeError> {
        let (name, pos, path) = match &self.value {
            Some((e, _)) => (e.key.as_str(), e.key_pos, self.name.1.k(&e.key)),
            None => match &self.name.0.node {
                Node::Scalar { text, .. } => (text.as_str(), self.name.0.pos, self.name.1.clone()),
                _ => ("", self.name.0.pos, self.name.1.clone()),
            },
        };
        let key: de::value::StrDeserializer<'_, DeError> = name.into_deserializer();
        let v = seed.deserialize(key).map_err(|e| e.at(&path, pos))?;
        Ok((v, VariantValue(self.value.map(|(_, de)| de))))
    }
}

/// A variant's value: absent for a unit variant named by a scalar.
struct VariantValue<'a>(Option<De<'a>>);

impl<'de> VariantAccess<'de> for VariantValue<'_> {
    type Error = DeError;
    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.0 {
            Some(de) => {
                let (path, pos) = (de.path.clone(), de.v.pos);
                seed.deserialize(de).map_err(|e| e.at(&path, pos))
            }
            None => Err(DeError::new(DeErrorKind::Message(
                "expected a mapping under the name".into(),
            ))),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::new(DeErrorKind::Message(
            "tuple variants are not used".into(),
        )))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Some(de) => de::Deserializer::deserialize_struct(de, "", fields, visitor),
            None => Err(DeError::new(DeErrorKind::Message(
                "expected a mapping under the name".into(),
            ))),
        }
    }
}

// ---------------------------------------------------------------------------
// WithKind: "exactly one of" sibling keys, as an enum

const WITH_KIND: &str = "$vendoras::WithKind";

/// A mapping holding the keys of `F` plus exactly one key naming a variant
/// of the externally tagged enum `K`: vendir's "exactly one source" shape
/// (`path: x` beside `ociArtifact: {...}`), read as a struct and an enum.
/// Adding a variant to `K` is all it takes to accept another key.
#[derive(Debug)]
pub(crate) struct WithKind<F, K> {
    pub fields: F,
    /// The kind, with its key (a variant name of `K`).
    pub kind: K,
    pub key: String,
}

impl<'de, F: Deserialize<'de>, K: Deserialize<'de>> Deserialize<'de> for WithKind<F, K> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(
            WITH_KIND,
            variants::<K>(),
            WithKindVisitor(Default::default()),
        )
    }
}

struct WithKindVisitor<F, K>(std::marker::PhantomData<(F, K)>);

impl<'de, F: Deserialize<'de>, K: Deserialize<'de>> Visitor<'de> for WithKindVisitor<F, K> {
    type Value = WithKind<F, K>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // The deserializer hands out the fields first (so keys they do not
        // read are already recorded when a missing kind is reported), then
        // the kind's key and the kind.
        let _: Option<String> = map.next_key()?;
        let fields = map.next_value()?;
        let key: String = map
            .next_key()?
            .ok_or_else(|| de::Error::custom("no kind"))?;
        let kind = map.next_value()?;
        Ok(WithKind { fields, kind, key })
    }
}

struct WithKindAccess<'a> {
    fields: Option<De<'a>>,
    kind: Option<(&'a Entry, De<'a>)>,
    kinds: &'static [&'static str],
    at: (KeyPath, Option<Pos>),
    state: u8,
}

impl<'de, 'a> MapAccess<'de> for WithKindAccess<'a> {
    type Error = DeError;
    fn next_key_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.state += 1;
        let key = match self.state {
            1 => "fields".to_string(),
            2 => match &self.kind {
                Some((e, _)) => e.key.clone(),
                None => {
                    return Err(DeError::new(DeErrorKind::NoKind {
                        expected: self.kinds,
                    })
                    .at(&self.at.0, self.at.1))
                }
            },
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }
    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, DeError> {
        if let Some(fields) = self.fields.take() {
            return seed.deserialize(fields);
        }
        let (e, de) = self.kind.take().expect("a kind key before its value");
        // The kind's value becomes `K`'s variant, named by its key.
        let pos = e.key_pos;
        let path = de.path.clone();
        seed.deserialize(KindDe {
            entry: e,
            value: de,
        })
        .map_err(|err| err.at(&path, pos))
    }
}

/// Deserialises the enum `K` from one entry: the key names the variant.
struct KindDe<'a> {
    entry: &'a Entry,
    value: De<'a>,
}

impl<'de, 'a> de::Deserializer<'de> for KindDe<'a> {
    type Error = DeError;
    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::new(DeErrorKind::Message(
            "expected an enum".into(),
        )))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let parent = self.value.path.parent();
        visitor.visit_enum(Variant {
            name: (&self.entry.value, parent),
            value: Some((self.entry, self.value)),
        })
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

/// The variant names of the enum `K`, as serde's derive lists them.
fn variants<'de, K: Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct Found(Option<&'static [&'static str]>);
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("probe")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<T: fmt::Display>(_: T) -> Self {
            Found(None)
        }
    }
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(None))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(Some(variants)))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }
    match K::deserialize(Probe) {
        Err(Found(Some(v))) => v,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_raw_text_and_merge_keys() {
        let text = "# c\n---\nbase: &b {x: 1, y: two}\nm:\n  <<: *b\n  z: 0755\nt: 1.10\n";
        let docs = documents(text).unwrap();
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        let m = &d.entry("m").unwrap().value;
        assert_eq!(m.str_at("x"), Some("1"), "merged");
        assert_eq!(m.str_at("y"), Some("two"));
        assert_eq!(m.str_at("z"), Some("0755"), "as written");
        assert_eq!(d.str_at("t"), Some("1.10"));
        let p = KeyPath::default().k("m").k("z");
        assert_eq!(d.locate(&p, true), Some(Pos { line: 6, column: 3 }));
        assert_eq!(d.locate(&p, false), Some(Pos { line: 6, column: 6 }));
        assert_eq!(
            d.locate(&KeyPath::default().k("m").k("nope"), false),
            Some(Pos { line: 5, column: 3 }),
            "nearest ancestor"
        );
    }
}
