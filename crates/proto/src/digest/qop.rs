//! The quality of protection (`qop`) values.

use std::fmt;
use std::str::FromStr;

use super::error::{DigestError, snippet};

/// A quality-of-protection value (RFC 7616 §3.3, RFC 3261 §25.1
/// `qop-value`), matched case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: authentication of the method and the request URI.
    Auth,
    /// `auth-int`: `auth` plus integrity of the message body.
    AuthInt,
}

impl Qop {
    /// Parses a `qop` token, ignoring ASCII case. Returns `None` for an
    /// unknown value.
    #[must_use]
    pub fn from_token(token: &str) -> Option<Self> {
        if token.eq_ignore_ascii_case("auth") {
            Some(Self::Auth)
        } else if token.eq_ignore_ascii_case("auth-int") {
            Some(Self::AuthInt)
        } else {
            None
        }
    }

    /// The token as it is sent: `"auth"` or `"auth-int"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Qop {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_token(s).ok_or_else(|| DigestError::UnknownQop { value: snippet(s) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        assert_eq!(Qop::from_token("auth"), Some(Qop::Auth));
        assert_eq!(Qop::from_token("AUTH-Int"), Some(Qop::AuthInt));
        assert_eq!(Qop::from_token("auth-conf"), None);
        assert_eq!(Qop::from_token(""), None);
        assert_eq!("auth-int".parse::<Qop>(), Ok(Qop::AuthInt));
        assert!(matches!(
            "x".parse::<Qop>(),
            Err(DigestError::UnknownQop { .. })
        ));
        assert_eq!(Qop::AuthInt.to_string(), "auth-int");
        assert_eq!(Qop::Auth.as_str(), "auth");
    }
}
