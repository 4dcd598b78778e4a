//! Session timers (RFC 4028): `Session-Expires` and `Min-SE`.

use std::fmt;

use crate::header::util::{number_u32, split_params, valued_param, write_param};
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;

/// Which side refreshes the session (`refresher=uac|uas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// `uac`: the side that sent the request.
    Uac,
    /// `uas`: the side that answered it.
    Uas,
}

impl Refresher {
    /// Recognises `uac` / `uas` in any letter case.
    pub fn from_token(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("uac") {
            Some(Self::Uac)
        } else if s.eq_ignore_ascii_case("uas") {
            Some(Self::Uas)
        } else {
            None
        }
    }

    /// `uac` or `uas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uac => "uac",
            Self::Uas => "uas",
        }
    }
}

impl fmt::Display for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Session-Expires: delta-seconds *(;se-params)` (RFC 4028 §4).
///
/// `params` holds every parameter as written, `refresher` included;
/// `refresher` is read from it. A `refresher` that is not `uac` or `uas`, or
/// has no value, is an error. The 90 s floor of RFC 4028 is the caller's to
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires<'a> {
    /// The session interval in seconds.
    pub delta: u32,
    /// The `refresher` parameter.
    pub refresher: Option<Refresher>,
    /// All parameters, `refresher` included.
    pub params: Params<'a>,
}

impl<'a> TypedHeader<'a> for SessionExpires<'a> {
    const NAME: HeaderName = HeaderName::SessionExpires;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (head, params) = split_params(value)?;
        let delta = number_u32(head)?;
        let refresher = valued_param(&params, "refresher")?
            .map(|r| Refresher::from_token(r).ok_or(HeaderError::Syntax))
            .transpose()?;
        Ok(Self {
            delta,
            refresher,
            params,
        })
    }
}

impl fmt::Display for SessionExpires<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.delta)?;
        write_param(f, &self.params, "refresher", self.refresher)?;
        f.write_str(self.params.as_str())
    }
}

/// `Min-SE: delta-seconds *(;generic-param)` (RFC 4028 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSe<'a> {
    /// The smallest session interval accepted, in seconds.
    pub delta: u32,
    /// Extension parameters.
    pub params: Params<'a>,
}

impl<'a> TypedHeader<'a> for MinSe<'a> {
    const NAME: HeaderName = HeaderName::MinSe;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (head, params) = split_params(value)?;
        Ok(Self {
            delta: number_u32(head)?,
            params,
        })
    }
}

impl fmt::Display for MinSe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.delta, self.params.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn session_expires_forms() {
        let s = SessionExpires::parse("4000;refresher=uac").unwrap();
        assert_eq!((s.delta, s.refresher), (4000, Some(Refresher::Uac)));
        let s = SessionExpires::parse("  01800 ;  REFRESHER = UAS ; x=y").unwrap();
        assert_eq!((s.delta, s.refresher), (1800, Some(Refresher::Uas)));
        assert_eq!(s.params.value("x"), Some("y"));
        let s = SessionExpires::parse("90").unwrap();
        assert_eq!((s.delta, s.refresher), (90, None));
        assert!(s.params.is_empty());
        let s = SessionExpires::parse("90;foo").unwrap();
        assert_eq!(s.params.get("foo"), Some(None));
    }

    #[test]
    fn session_expires_round_trip() {
        assert_eq!(
            assert_round_trip!(SessionExpires<'_>, "4000;refresher=uac"),
            "4000;refresher=uac"
        );
        assert_eq!(
            assert_round_trip!(SessionExpires<'_>, "0090 ; refresher=UAS;x"),
            "90; refresher=UAS;x"
        );
        assert_round_trip!(SessionExpires<'_>, "1800");
        let built = SessionExpires {
            delta: 600,
            refresher: Some(Refresher::Uas),
            params: Params::default(),
        };
        assert_eq!(built.to_string(), "600;refresher=uas");
        let again = SessionExpires::parse("600;refresher=uas").unwrap();
        assert_eq!(again.refresher, built.refresher);
    }

    #[test]
    fn session_expires_malformed() {
        assert_eq!(SessionExpires::parse(""), Err(HeaderError::Empty));
        assert_eq!(
            SessionExpires::parse(";refresher=uac"),
            Err(HeaderError::Number)
        );
        assert_eq!(SessionExpires::parse("abc"), Err(HeaderError::Number));
        assert_eq!(
            SessionExpires::parse("4294967296"),
            Err(HeaderError::Number)
        );
        assert_eq!(SessionExpires::parse("90 60"), Err(HeaderError::Number));
        assert_eq!(
            SessionExpires::parse("90;refresher=proxy"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            SessionExpires::parse("90;refresher"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(SessionExpires::parse("90;;x"), Err(HeaderError::Params));
        assert_eq!(SessionExpires::parse("90;x="), Err(HeaderError::Params));
        assert_eq!(SessionExpires::parse("90;"), Err(HeaderError::Params));
    }

    #[test]
    fn min_se() {
        let m = MinSe::parse("00090").unwrap();
        assert_eq!(m.delta, 90);
        assert_eq!(assert_round_trip!(MinSe<'_>, "90 ;x=1"), "90;x=1");
        assert_eq!(MinSe::parse(" ").unwrap_err(), HeaderError::Empty);
        assert_eq!(MinSe::parse("9a").unwrap_err(), HeaderError::Number);
        assert_eq!(MinSe::parse("90;=1").unwrap_err(), HeaderError::Params);
        assert_eq!(MinSe::parse("90;x=\"a").unwrap_err(), HeaderError::Params);
    }
}
