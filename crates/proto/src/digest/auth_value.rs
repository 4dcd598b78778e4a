//! A header value of the HTTP authentication framework (RFC 7235) in any
//! scheme: a challenge (WWW-Authenticate / Proxy-Authenticate) or
//! credentials (Authorization / Proxy-Authorization). Both have the same
//! shape: `Digest` parameters parsed, any other scheme kept as text.

use std::borrow::Cow;
use std::fmt;

use super::auth_param::AuthParam;
use super::digest_challenge::DigestChallenge;
use super::digest_credentials::DigestCredentials;
use super::error::DigestError;
use super::syntax::{Lexer, write_raw};

/// What the `Digest` scheme's parameters parse into: [`DigestChallenge`]
/// or [`DigestCredentials`]. Sealed: implemented only here.
pub trait DigestParams<'a>: Sized + fmt::Display {
    /// The same value owning its text.
    type Owned: DigestParams<'static>;
    /// Builds the value from the parsed parameter list.
    #[doc(hidden)]
    fn from_param_list(list: Vec<AuthParam<'a>>) -> Result<Self, DigestError>;
    /// Copies borrowed text.
    #[doc(hidden)]
    fn to_owned_params(self) -> Self::Owned;
}

impl<'a> DigestParams<'a> for DigestChallenge<'a> {
    type Owned = DigestChallenge<'static>;
    fn from_param_list(list: Vec<AuthParam<'a>>) -> Result<Self, DigestError> {
        Self::from_params(list)
    }
    fn to_owned_params(self) -> Self::Owned {
        self.into_owned()
    }
}

impl<'a> DigestParams<'a> for DigestCredentials<'a> {
    type Owned = DigestCredentials<'static>;
    fn from_param_list(list: Vec<AuthParam<'a>>) -> Result<Self, DigestError> {
        Self::from_params(list)
    }
    fn to_owned_params(self) -> Self::Owned {
        self.into_owned()
    }
}

/// The value of an authentication header field: `Digest` parameters
/// parsed into `D`, or another scheme kept as text. Used through
/// [`Challenge`] and [`Credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthValue<'a, D> {
    /// The `Digest` scheme.
    Digest(D),
    /// Any other scheme, not interpreted.
    Other {
        /// The scheme name as received.
        scheme: Cow<'a, str>,
        /// Everything after the scheme and its white space, trimmed.
        data: Cow<'a, str>,
    },
}

/// The value of a WWW-Authenticate or Proxy-Authenticate header field.
pub type Challenge<'a> = AuthValue<'a, DigestChallenge<'a>>;

/// The value of an Authorization or Proxy-Authorization header field.
pub type Credentials<'a> = AuthValue<'a, DigestCredentials<'a>>;

impl<'a, D: DigestParams<'a>> AuthValue<'a, D> {
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
            D::from_param_list(lexer.params()?).map(Self::Digest)
        } else {
            Ok(Self::Other {
                scheme: Cow::Borrowed(scheme),
                data: Cow::Borrowed(lexer.rest()),
            })
        }
    }

    /// The scheme name (`"Digest"` for the digest scheme).
    #[must_use]
    pub fn scheme(&self) -> &str {
        match self {
            Self::Digest(_) => super::DIGEST_SCHEME,
            Self::Other { scheme, .. } => scheme,
        }
    }

    /// The digest parameters, if the scheme is `Digest`.
    #[must_use]
    pub fn as_digest(&self) -> Option<&D> {
        match self {
            Self::Digest(d) => Some(d),
            Self::Other { .. } => None,
        }
    }

    /// Copies borrowed text so that the value outlives its input.
    #[must_use]
    pub fn into_owned(self) -> AuthValue<'static, D::Owned> {
        match self {
            Self::Digest(d) => AuthValue::Digest(d.to_owned_params()),
            Self::Other { scheme, data } => AuthValue::Other {
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

impl<'a> From<DigestCredentials<'a>> for Credentials<'a> {
    fn from(credentials: DigestCredentials<'a>) -> Self {
        Self::Digest(credentials)
    }
}

impl<D: fmt::Display> fmt::Display for AuthValue<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Digest(d) => d.fmt(f),
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
