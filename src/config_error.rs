//! [`ConfigError`]: what is wrong in a config, and exactly where. A leaf:
//! `config` produces it and `crate::error` wraps it, so it lives below both
//! (public as `config::ConfigError`).

use std::fmt;

/// A configuration error (or warning), positioned:
/// `file:line:column: message; did you mean `x`?`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[non_exhaustive]
pub struct ConfigError {
    /// The input's name (`<stdin>` for `-`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// The key the error is about, when there is one (the last segment of
    /// `path`, or a missing key's name).
    pub key: Option<String>,
    /// The key path of the node it is about
    /// (`directories[0].contents[1].path`); empty for a whole document.
    pub path: String,
    /// What is wrong (without the position or the suggestion).
    pub message: String,
    /// The closest valid key or value, when there is one close enough.
    pub suggestion: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position(), self.text())
    }
}

impl ConfigError {
    /// `file:line:column` (as much as is known).
    pub fn position(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", self.file),
            (Some(l), None) => format!("{}:{l}", self.file),
            _ => self.file.clone(),
        }
    }

    /// The message with its suggestion, without the position.
    pub fn text(&self) -> String {
        match &self.suggestion {
            Some(s) => format!("{}; did you mean `{s}`?", self.message),
            None => self.message.clone(),
        }
    }

    /// An error about a whole input (no position).
    pub(crate) fn file(file: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_string(),
            line: None,
            column: None,
            key: None,
            path: String::new(),
            message: message.into(),
            suggestion: None,
        }
    }
}
