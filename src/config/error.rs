//! Wording for config errors. [`ConfigError`] itself is in
//! `crate::config_error`, below both this module and `crate::error`.

pub use crate::config_error::ConfigError;

/// The closest candidate to `word`, if any is close enough (case is
/// ignored: `plainHttp` → `plainHTTP`).
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
