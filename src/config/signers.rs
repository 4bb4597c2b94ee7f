//! Who may sign a content: the [`Signers`] policy as data, built from
//! config keys or command-line flags. The checks themselves (registry I/O,
//! the shim) are in [`crate::verify`], which re-exports these types.

/// Who may have signed: public keys, or a keyless certificate identity.
/// The one place the key-versus-keyless rule lives: config, the `verify`
/// command and the shim request all go through [`Signers::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signers<K> {
    /// Key-based: any one of these keys (no transparency-log entry needed).
    Keys(Vec<K>),
    /// Keyless: a Fulcio certificate for this identity and issuer.
    Keyless(Keyless),
}

/// A keyless signer: who (the certificate's SAN) and which OIDC issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyless {
    /// `certificateIdentity` / `certificateIdentityRegexp`.
    pub identity: Matcher,
    /// `certificateOidcIssuer` / `certificateOidcIssuerRegexp`.
    pub issuer: Matcher,
}

/// A value matched exactly, by an (unanchored, as cosign) regular
/// expression, or both (then both must match, as in sigstore-go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// Equal to this.
    Exact(String),
    /// Matching this regular expression.
    Regexp(String),
    /// Equal to `exact` and matching `regexp`.
    Both {
        /// The exact value.
        exact: String,
        /// The regular expression.
        regexp: String,
    },
}

impl Matcher {
    /// From the optional exact and regexp forms; `None` when neither is set.
    pub fn from_parts(exact: Option<String>, regexp: Option<String>) -> Option<Matcher> {
        match (exact, regexp) {
            (Some(exact), Some(regexp)) => Some(Matcher::Both { exact, regexp }),
            (Some(exact), None) => Some(Matcher::Exact(exact)),
            (None, Some(regexp)) => Some(Matcher::Regexp(regexp)),
            (None, None) => None,
        }
    }

    /// The exact form, if any.
    pub fn exact(&self) -> Option<&str> {
        match self {
            Matcher::Exact(e) | Matcher::Both { exact: e, .. } => Some(e),
            Matcher::Regexp(_) => None,
        }
    }

    /// The regexp form, if any.
    pub fn regexp(&self) -> Option<&str> {
        match self {
            Matcher::Regexp(r) | Matcher::Both { regexp: r, .. } => Some(r),
            Matcher::Exact(_) => None,
        }
    }
}

/// Why parts do not make a [`Signers`]; callers word it in their own
/// terms (config keys or command-line flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignersError {
    /// Keys and a certificate identity or issuer.
    KeysAndKeyless,
    /// Neither keys nor any identity or issuer.
    Nothing,
    /// An identity without an issuer.
    NoIssuer,
    /// An issuer without an identity.
    NoIdentity,
}

impl<K> Signers<K> {
    /// Keys, or one of each identity and issuer pair: not both, not
    /// neither.
    pub fn from_parts(
        keys: Vec<K>,
        identity: Option<String>,
        identity_regexp: Option<String>,
        issuer: Option<String>,
        issuer_regexp: Option<String>,
    ) -> Result<Signers<K>, SignersError> {
        let identity = Matcher::from_parts(identity, identity_regexp);
        let issuer = Matcher::from_parts(issuer, issuer_regexp);
        match (keys.is_empty(), identity, issuer) {
            (false, None, None) => Ok(Signers::Keys(keys)),
            (false, _, _) => Err(SignersError::KeysAndKeyless),
            (true, Some(identity), Some(issuer)) => {
                Ok(Signers::Keyless(Keyless { identity, issuer }))
            }
            (true, Some(_), None) => Err(SignersError::NoIssuer),
            (true, None, Some(_)) => Err(SignersError::NoIdentity),
            (true, None, None) => Err(SignersError::Nothing),
        }
    }

    /// The same signers with each key turned into another form (a path
    /// into its PEM text); the first failure stops.
    pub fn try_map_keys<L, E>(
        &self,
        mut f: impl FnMut(&K) -> std::result::Result<Vec<L>, E>,
    ) -> std::result::Result<Signers<L>, E> {
        Ok(match self {
            Signers::Keys(keys) => {
                let mut out = Vec::new();
                for k in keys {
                    out.extend(f(k)?);
                }
                Signers::Keys(out)
            }
            Signers::Keyless(k) => Signers::Keyless(k.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signers_are_keys_or_a_full_identity() {
        let s =
            |keys: Vec<&'static str>, id: Option<&str>, idr: Option<&str>, iss: Option<&str>| {
                Signers::from_parts(
                    keys,
                    id.map(Into::into),
                    idr.map(Into::into),
                    iss.map(Into::into),
                    None,
                )
            };
        assert_eq!(s(vec![], None, None, None), Err(SignersError::Nothing));
        assert_eq!(s(vec!["k"], None, None, None), Ok(Signers::Keys(vec!["k"])));
        assert_eq!(
            s(vec![], Some("me"), None, None),
            Err(SignersError::NoIssuer)
        );
        assert_eq!(
            s(vec![], None, None, Some("iss")),
            Err(SignersError::NoIdentity)
        );
        assert_eq!(
            s(vec!["k"], None, None, Some("iss")),
            Err(SignersError::KeysAndKeyless)
        );
        assert_eq!(
            s(vec![], Some("me"), Some(".*"), Some("iss")),
            Ok(Signers::Keyless(Keyless {
                identity: Matcher::Both {
                    exact: "me".into(),
                    regexp: ".*".into()
                },
                issuer: Matcher::Exact("iss".into()),
            }))
        );
    }
}
