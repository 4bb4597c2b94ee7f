//! Mirrors: where to fetch from instead of (or before) the origin.
//!
//! One TOML file, named by `--mirrors` or `$VENDORAS_MIRRORS`. Registries
//! are configured as in containers' `registries.conf` v2 (`[[registry]]`
//! with `prefix`, `location`, `insecure`, `blocked`, `mirror-by-digest-only`
//! and `[[registry.mirror]]` entries), so the file a fleet already has for
//! podman or CRI-O works as it is. git and http sources use `[[url]]`
//! prefix rewrites of the same shape. Mirrors are tried in order, then the
//! origin, unless the rule says `mirror-only = true`.
//!
//! This module only reads the file and computes the candidates; whoever
//! opens a connection walks them (`registry`, `fetch::http`, `fetch::git`).
//! What is verified does not change with the host: digests and checksums
//! are checked against the config or the lock, and the lock names the
//! origin, never a mirror.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::config_error::ConfigError;

/// The environment variable naming the mirrors file (`--mirrors` wins).
pub const MIRRORS_ENV: &str = "VENDORAS_MIRRORS";

/// A loaded mirrors file; [`Mirrors::default`] has no rules (everything
/// goes to its origin).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mirrors {
    registries: Vec<RegistryRule>,
    urls: Vec<UrlRule>,
}

/// Which mirrors of a registry may answer a lookup
/// (`pull-from-mirror` in `registries.conf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullFrom {
    /// Lookups by tag and by digest.
    All,
    /// Only lookups by digest (a tag is resolved at the origin).
    DigestOnly,
    /// Only lookups by tag.
    TagOnly,
}

impl PullFrom {
    /// Whether a lookup of `kind` may go to a mirror with this setting.
    pub fn allows(self, kind: Lookup) -> bool {
        matches!(
            (self, kind),
            (PullFrom::All, _)
                | (PullFrom::DigestOnly, Lookup::Digest)
                | (PullFrom::TagOnly, Lookup::Tag)
        )
    }
}

/// What a registry call names: a tag (a name that can move) or a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Resolving a tag, listing tags.
    Tag,
    /// A manifest or blob by digest.
    Digest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RegistryRule {
    /// Without the `*.` of a wildcard.
    prefix: String,
    wildcard: bool,
    /// Empty for a wildcard: the host is kept.
    location: String,
    insecure: bool,
    blocked: bool,
    mirror_only: bool,
    mirrors: Vec<RegistryMirror>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RegistryMirror {
    location: String,
    insecure: bool,
    pull_from: PullFrom,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct UrlRule {
    prefix: String,
    mirror_only: bool,
    mirrors: Vec<String>,
}

/// Where a registry repository may be reached, in the order to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRoute {
    /// Mirrors first, then (unless `mirror-only`) the primary location.
    pub endpoints: Vec<RegistryEndpoint>,
    /// Set when a rule blocks the registry: the `prefix` that did.
    pub blocked: Option<String>,
}

/// One place to try for a registry repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryEndpoint {
    /// `host[:port]/repository` there.
    pub repository: String,
    /// `insecure = true`: TLS without verification, or plain HTTP.
    pub insecure: bool,
    /// A mirror (`None` for the primary location): which lookups it serves.
    pub mirror: Option<PullFrom>,
}

impl RegistryEndpoint {
    /// Whether a lookup of `kind` may go here.
    pub fn serves(&self, kind: Lookup) -> bool {
        self.mirror.is_none_or(|p| p.allows(kind))
    }

    /// The registry host (`host[:port]`).
    pub fn host(&self) -> &str {
        self.repository.split('/').next().unwrap_or_default()
    }
}

/// One URL to try for a git or http source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlCandidate {
    /// The URL to open.
    pub url: String,
    /// For a mirror: the rule's prefix and the mirror's replacement (git
    /// applies them as `url.<mirror>.insteadOf=<prefix>`); `None` for the
    /// origin.
    pub rewrite: Option<(String, String)>,
}

// ---- The file, as TOML ----------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct FileToml {
    #[serde(default)]
    registry: Vec<RegistryToml>,
    #[serde(default)]
    url: Vec<UrlToml>,
    /// The v1 format (`[registries.search]`), refused with a hint.
    registries: Option<Spanned<toml::Value>>,
    // Other registries.conf keys (`unqualified-search-registries`,
    // `short-name-mode`, `[aliases]`, `credential-helpers`) are about short
    // names and credentials, not routing; they are accepted and ignored so
    // that an existing file loads.
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RegistryToml {
    prefix: Option<Spanned<String>>,
    location: Option<Spanned<String>>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    /// vendoras's own key: never fall back to the primary location.
    #[serde(default)]
    mirror_only: bool,
    #[serde(default)]
    mirror: Vec<RegistryMirrorToml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RegistryMirrorToml {
    location: Spanned<String>,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<Spanned<PullFrom>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct UrlToml {
    prefix: Spanned<String>,
    #[serde(default)]
    mirror_only: bool,
    #[serde(default)]
    mirror: Vec<UrlMirrorToml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct UrlMirrorToml {
    location: Spanned<String>,
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Positioner<'a> {
    file: &'a str,
    text: &'a str,
}

impl Positioner<'_> {
    fn at(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
    ) -> Box<ConfigError> {
        let mut e = ConfigError::file(self.file, message);
        if let Some(s) = span {
            let (l, c) = line_col(self.text, s.start);
            e.line = Some(l);
            e.column = Some(c);
        }
        Box::new(e)
    }
}

/// A registry prefix or location: `host[:port][/path]`, no scheme, no tag.
fn check_location(
    p: &Positioner<'_>,
    what: &str,
    v: &Spanned<String>,
) -> Result<(), Box<ConfigError>> {
    let s = v.get_ref();
    let bad = if s.is_empty() {
        Some("is empty")
    } else if s.contains("://") {
        Some("has a scheme; write host[:port][/path] (use insecure = true for plain HTTP)")
    } else if s.ends_with('/') || s.contains("//") {
        Some("has an empty path segment")
    } else if s.contains('@')
        || (s.contains('/') && s.rsplit('/').next().is_some_and(|last| last.contains(':')))
    {
        Some("names a tag or digest; a prefix or location is a registry or repository")
    } else {
        None
    };
    match bad {
        Some(why) => Err(p.at(Some(v.span()), format!("{what} {s:?} {why}"))),
        None => Ok(()),
    }
}

impl Mirrors {
    /// Reads the mirrors file at `path`.
    pub fn load(path: &Path) -> Result<Mirrors, Box<ConfigError>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Box::new(ConfigError::file(
                &name,
                format!("cannot read the mirrors file: {e}"),
            ))
        })?;
        Mirrors::parse(&text, &name)
    }

    /// Parses a mirrors file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Mirrors, Box<ConfigError>> {
        let p = Positioner { file, text };
        let doc: FileToml = toml::from_str(text).map_err(|e| {
            let msg = e.message().trim().to_string();
            p.at(e.span(), msg)
        })?;
        if let Some(v1) = &doc.registries {
            return Err(p.at(
                Some(v1.span()),
                "this is the registries.conf v1 format ([registries.search] and friends); \
                 mirrors need v2 [[registry]] tables",
            ));
        }
        let mut registries: Vec<RegistryRule> = Vec::new();
        for r in doc.registry {
            let (prefix, location) = match (&r.prefix, &r.location) {
                (Some(pre), loc) => (pre, loc.as_ref()),
                (None, Some(loc)) => (loc, Some(loc)),
                (None, None) => {
                    return Err(p.at(None, "a [[registry]] needs a prefix or a location"));
                }
            };
            let wildcard = prefix.get_ref().starts_with("*.");
            if wildcard {
                let rest = &prefix.get_ref()[2..];
                if rest.is_empty() || rest.contains(['/', '*', ':']) {
                    return Err(p.at(
                        Some(prefix.span()),
                        format!(
                            "wildcard prefix {:?}: only a host suffix may follow `*.`",
                            prefix.get_ref()
                        ),
                    ));
                }
                if let Some(loc) = &r.location {
                    return Err(p.at(
                        Some(loc.span()),
                        "a wildcard prefix keeps the host: location must not be set",
                    ));
                }
            } else {
                check_location(&p, "prefix", prefix)?;
            }
            if let Some(loc) = location.filter(|_| !wildcard) {
                check_location(&p, "location", loc)?;
            }
            let stripped = prefix.get_ref().trim_start_matches("*.").to_string();
            if registries
                .iter()
                .any(|o| o.prefix == stripped && o.wildcard == wildcard)
            {
                return Err(p.at(
                    Some(prefix.span()),
                    format!("prefix {:?} is configured twice", prefix.get_ref()),
                ));
            }
            let mut mirrors = Vec::new();
            for m in &r.mirror {
                check_location(&p, "mirror location", &m.location)?;
                let pull_from = match (&m.pull_from_mirror, r.mirror_by_digest_only) {
                    (Some(pf), true) if *pf.get_ref() != PullFrom::DigestOnly => {
                        return Err(p.at(
                            Some(pf.span()),
                            "pull-from-mirror contradicts mirror-by-digest-only = true \
                             (only digest-only fits)",
                        ));
                    }
                    (_, true) => PullFrom::DigestOnly,
                    (Some(pf), false) => *pf.get_ref(),
                    (None, false) => PullFrom::All,
                };
                mirrors.push(RegistryMirror {
                    location: m.location.get_ref().clone(),
                    insecure: m.insecure,
                    pull_from,
                });
            }
            if r.mirror_only && mirrors.is_empty() {
                return Err(p.at(
                    Some(prefix.span()),
                    format!(
                        "prefix {:?}: mirror-only = true needs at least one [[registry.mirror]]",
                        prefix.get_ref()
                    ),
                ));
            }
            registries.push(RegistryRule {
                prefix: stripped,
                wildcard,
                location: if wildcard {
                    String::new()
                } else {
                    location.map_or_else(|| prefix.get_ref().clone(), |l| l.get_ref().clone())
                },
                insecure: r.insecure,
                blocked: r.blocked,
                mirror_only: r.mirror_only,
                mirrors,
            });
        }
        let mut urls: Vec<UrlRule> = Vec::new();
        for u in doc.url {
            let prefix = u.prefix.get_ref();
            if prefix.is_empty() {
                return Err(p.at(Some(u.prefix.span()), "url prefix is empty"));
            }
            if urls.iter().any(|o| &o.prefix == prefix) {
                return Err(p.at(
                    Some(u.prefix.span()),
                    format!("url prefix {prefix:?} is configured twice"),
                ));
            }
            if u.mirror.is_empty() {
                return Err(p.at(
                    Some(u.prefix.span()),
                    format!("url prefix {prefix:?} has no [[url.mirror]]"),
                ));
            }
            for m in &u.mirror {
                if m.location.get_ref().is_empty() {
                    return Err(p.at(Some(m.location.span()), "mirror location is empty"));
                }
            }
            urls.push(UrlRule {
                prefix: prefix.clone(),
                mirror_only: u.mirror_only,
                mirrors: u
                    .mirror
                    .iter()
                    .map(|m| m.location.get_ref().clone())
                    .collect(),
            });
        }
        Ok(Mirrors { registries, urls })
    }

    /// The mirrors file named by `explicit` (`--mirrors`) or else by
    /// `$VENDORAS_MIRRORS`; no rules when neither is set.
    pub fn from_flag_or_env(explicit: Option<&Path>) -> Result<Mirrors, Box<ConfigError>> {
        if let Some(p) = explicit {
            return Mirrors::load(p);
        }
        match std::env::var_os(MIRRORS_ENV) {
            Some(v) if !v.is_empty() => Mirrors::load(Path::new(&v)).map_err(|mut e| {
                if e.line.is_none() {
                    e.message = format!("{} (named by ${MIRRORS_ENV})", e.message);
                }
                e
            }),
            _ => Ok(Mirrors::default()),
        }
    }

    /// Whether there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.registries.is_empty() && self.urls.is_empty()
    }

    /// The rule for `repository` (`host[:port]/path`) and how many bytes of
    /// it the rule's prefix covers: the longest prefix that ends at a path
    /// boundary wins, as in containers/image; a wildcard (`*.example.com`)
    /// matches hosts under that domain and loses to any exact prefix.
    fn registry_rule(&self, repository: &str) -> Option<(&RegistryRule, usize)> {
        let host = repository.split('/').next().unwrap_or_default();
        let exact = self
            .registries
            .iter()
            .filter(|r| !r.wildcard)
            .filter(|r| {
                repository == r.prefix
                    || repository
                        .strip_prefix(r.prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .max_by_key(|r| r.prefix.len())
            .map(|r| (r, r.prefix.len()));
        exact.or_else(|| {
            let hostname = host.split(':').next().unwrap_or_default();
            self.registries
                .iter()
                .filter(|r| r.wildcard)
                .filter(|r| {
                    hostname
                        .strip_suffix(r.prefix.as_str())
                        .is_some_and(|sub| sub.ends_with('.') && sub.len() > 1)
                })
                .max_by_key(|r| r.prefix.len())
                .map(|r| (r, host.len()))
        })
    }

    /// Where to reach `repository` (`host[:port]/path`, no tag or digest).
    /// Without a matching rule: only the repository itself.
    pub fn registry_route(&self, repository: &str) -> RegistryRoute {
        let Some((rule, covered)) = self.registry_rule(repository) else {
            return RegistryRoute {
                endpoints: vec![RegistryEndpoint {
                    repository: repository.to_string(),
                    insecure: false,
                    mirror: None,
                }],
                blocked: None,
            };
        };
        let rest = &repository[covered..];
        let mut endpoints: Vec<RegistryEndpoint> = rule
            .mirrors
            .iter()
            .map(|m| RegistryEndpoint {
                repository: format!("{}{rest}", m.location),
                insecure: m.insecure,
                mirror: Some(m.pull_from),
            })
            .collect();
        if !rule.mirror_only {
            endpoints.push(RegistryEndpoint {
                repository: if rule.wildcard {
                    repository.to_string()
                } else {
                    format!("{}{rest}", rule.location)
                },
                insecure: rule.insecure,
                mirror: None,
            });
        }
        RegistryRoute {
            endpoints,
            blocked: rule.blocked.then(|| {
                if rule.wildcard {
                    format!("*.{}", rule.prefix)
                } else {
                    rule.prefix.clone()
                }
            }),
        }
    }

    /// The URLs to try for a git or http source's `url`, in order: the
    /// longest matching `[[url]]` prefix's mirrors (the prefix replaced by
    /// each mirror's location, as git's `insteadOf` does), then `url`
    /// itself unless the rule is `mirror-only`.
    pub fn url_candidates(&self, url: &str) -> Vec<UrlCandidate> {
        let rule = self
            .urls
            .iter()
            .filter(|r| url.starts_with(r.prefix.as_str()))
            .max_by_key(|r| r.prefix.len());
        let Some(rule) = rule else {
            return vec![UrlCandidate {
                url: url.to_string(),
                rewrite: None,
            }];
        };
        let rest = &url[rule.prefix.len()..];
        let mut out: Vec<UrlCandidate> = rule
            .mirrors
            .iter()
            .map(|m| UrlCandidate {
                url: format!("{m}{rest}"),
                rewrite: Some((rule.prefix.clone(), m.clone())),
            })
            .collect();
        if !rule.mirror_only {
            out.push(UrlCandidate {
                url: url.to_string(),
                rewrite: None,
            });
        }
        out
    }
}

/// The origin (`scheme://host[:port]`) of a URL, to decide whether
/// credentials meant for one URL may go to another.
pub fn url_origin(url: &str) -> String {
    let redacted = crate::redact::redact_url(url);
    match redacted.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or_default();
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            )
        }
        None => redacted,
    }
}

#[cfg(test)]
mod tests;
