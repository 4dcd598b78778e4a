//! A WWW-Authenticate / Proxy-Authenticate value of any scheme.

use std::borrow::Cow;
use std::fmt;

use super::digest_challenge::DigestChallenge;
use super::error::DigestError;
use super::syntax::{Lexer, write_raw};

/// The value of a WWW-Authenticate or Proxy-Authenticate header field:
/// a parsed `Digest` challenge, or another scheme kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge<'a> {
    /// The `Digest` scheme.
    Digest(DigestChallenge<'a>),
    /// Any other scheme, not interpreted.
    Other {
        /// The scheme name as received.
        scheme: Cow<'a, str>,
        /// Everything after the scheme and its white space, trimmed.
        data: Cow<'a, str>,
    },
}

impl<'a> Challenge<'a> {
    /// Parses a header value. The scheme is matched case-insensitively;
    /// the parameters of a scheme other than `Digest` are not parsed.
    ///
    /// # Errors
    ///
    /// The syntax or value error found; for another scheme, only a missing
    /// or malformed scheme token or an over-long value.
    pub fn parse(value: &'a str) -> Result<Self, DigestError> {
        let mut lexer = Lexer::new(value)?;
        let scheme = lexer.scheme()?;
        if scheme.eq_ignore_ascii_case(super::DIGEST_SCHEME) {
            DigestChallenge::from_params(lexer.params()?).map(Self::Digest)
        } else {
            Ok(Self::Other {
                scheme: Cow::Borrowed(scheme),
                data: Cow::Borrowed(lexer.rest()),
            })
        }
    }

    /// The scheme name (`"Digest"` for a digest challenge).
    #[must_use]
    pub fn scheme(&self) -> &str {
        match self {
            Self::Digest(_) => super::DIGEST_SCHEME,
            Self::Other { scheme, .. } => scheme,
        }
    }

    /// The digest challenge, if this is one.
    #[must_use]
    pub fn as_digest(&self) -> Option<&DigestChallenge<'a>> {
        match self {
            Self::Digest(c) => Some(c),
            Self::Other { .. } => None,
        }
    }

    /// Copies borrowed text so that the value outlives its input.
    #[must_use]
    pub fn into_owned(self) -> Challenge<'static> {
        match self {
            Self::Digest(c) => Challenge::Digest(c.into_owned()),
            Self::Other { scheme, data } => Challenge::Other {
                scheme: Cow::Owned(scheme.into_owned()),
                data: Cow::Owned(data.into_owned()),
            },
        }
    }
}

impl<'a> From<DigestChallenge<'a>> for Challenge<'a> {
    fn from(challenge: DigestChallenge<'a>) -> Self {
        Self::Digest(challenge)
    }
}

impl fmt::Display for Challenge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Digest(c) => c.fmt(f),
            Self::Other { scheme, data } => {
                write_raw(f, scheme)?;
                if !data.is_empty() {
                    f.write_str(" ")?;
                    write_raw(f, data)?;
                }
                Ok(())
            }
        }
    }
}
