//! Addresses-of-record in the canonical form that indexes the location
//! service (RFC 3261 §10.3 step 5).

use std::fmt;
use std::sync::Arc;

use switchboard_proto::Uri;

/// An address-of-record in canonical form: the user part with its escapes
/// decoded (compared case-sensitively) and the host in lower case, without
/// scheme, port or parameters. `sip:Alice@Example.COM:5060;user=phone` and
/// `sips:%41lice@example.com` both give `Alice@example.com`.
///
/// The scheme is dropped on purpose: a user registered over TLS with a SIPS
/// AOR is still the same user.
///
/// A clone shares the text: the location index keys its map, its expiry
/// index and every binding of an AOR with one allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aor {
    text: Arc<str>,
    at: usize,
}

/// Why a URI is not an address-of-record this registrar can index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AorError {
    /// Not a `sip:` or `sips:` URI.
    #[error("an address-of-record must be a SIP or SIPS URI")]
    NotSip,
    /// The URI has no user part.
    #[error("the address-of-record has no user part")]
    NoUser,
    /// The unescaped user part is not UTF-8, or holds control characters.
    #[error("the user part of the address-of-record is not printable UTF-8")]
    BadUser,
}

impl Aor {
    /// The AOR of `user` at `domain` (the domain is lower-cased).
    ///
    /// # Errors
    ///
    /// [`AorError::NoUser`] for an empty user, [`AorError::BadUser`] for one
    /// with control characters.
    pub fn new(user: &str, domain: &str) -> Result<Self, AorError> {
        if user.is_empty() {
            return Err(AorError::NoUser);
        }
        if user.chars().any(char::is_control) {
            return Err(AorError::BadUser);
        }
        let mut text = String::with_capacity(user.len() + 1 + domain.len());
        text.push_str(user);
        text.push('@');
        text.push_str(&domain.to_ascii_lowercase());
        Ok(Self {
            at: user.len(),
            text: text.into(),
        })
    }

    /// The canonical AOR of a parsed URI.
    ///
    /// # Errors
    ///
    /// When the URI is not SIP/SIPS or has no usable user part.
    pub fn from_uri(uri: &Uri<'_>) -> Result<Self, AorError> {
        let sip = uri.as_sip().ok_or(AorError::NotSip)?;
        let user = sip.user_unescaped().ok_or(AorError::NoUser)?;
        let user = std::str::from_utf8(&user).map_err(|_| AorError::BadUser)?;
        Self::new(user, sip.host.as_str())
    }

    /// Parses a URI's text and canonicalizes it.
    ///
    /// # Errors
    ///
    /// As [`Aor::from_uri`], and [`AorError::NotSip`] for text that is no URI.
    pub fn parse(uri: &str) -> Result<Self, AorError> {
        Self::from_uri(&Uri::parse(uri).map_err(|_| AorError::NotSip)?)
    }

    /// `user@domain`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `self` and `other` share one text (clones of one another).
    #[must_use]
    pub(crate) fn shares_text_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.text, &other.text)
    }

    /// The user part, unescaped.
    #[must_use]
    pub fn user(&self) -> &str {
        self.text.get(..self.at).unwrap_or_default()
    }

    /// The domain, lower case.
    #[must_use]
    pub fn domain(&self) -> &str {
        self.text.get(self.at + 1..).unwrap_or_default()
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form() {
        let a = Aor::parse("sip:Alice@Example.COM:5060;user=phone").unwrap();
        assert_eq!(a.as_str(), "Alice@example.com");
        assert_eq!(a.user(), "Alice");
        assert_eq!(a.domain(), "example.com");
        assert_eq!(Aor::parse("sips:%41lice@example.com").unwrap(), a);
        assert_ne!(Aor::parse("sip:alice@example.com").unwrap(), a);
        assert_eq!(Aor::new("Alice", "EXAMPLE.com").unwrap(), a);
    }

    #[test]
    fn refusals() {
        assert_eq!(Aor::parse("sip:example.com"), Err(AorError::NoUser));
        assert_eq!(Aor::parse("tel:+123"), Err(AorError::NotSip));
        assert_eq!(Aor::parse("not a uri"), Err(AorError::NotSip));
        assert_eq!(Aor::parse("sip:a%00b@example.com"), Err(AorError::BadUser));
        assert_eq!(Aor::parse("sip:a%ffb@example.com"), Err(AorError::BadUser));
    }
}
