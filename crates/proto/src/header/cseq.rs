//! `CSeq` (RFC 3261 §20.16).

use std::fmt;

use crate::Method;
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::text::{is_lws, parse_u32, skip_lws};

/// A `CSeq` value: sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number, below 2**31 when generated, up to 2**32-1 accepted.
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1234 INVITE`.
    pub fn parse_value(value: &str) -> Result<Self, HeaderError> {
        // Words separated by LWS, as `split(is_lws)` without the empty ones.
        let b = value.as_bytes();
        let word = |from: usize| -> Option<(usize, usize)> {
            let s = skip_lws(b, from);
            let e = s + b
                .get(s..)?
                .iter()
                .position(|&c| is_lws(c))
                .unwrap_or(b.len() - s);
            (e > s).then_some((s, e))
        };
        let (s, e) = word(0).ok_or(HeaderError::Empty)?;
        let seq = parse_u32(value.get(s..e).unwrap_or("")).ok_or(HeaderError::Number)?;
        let (ms, me) = word(e).ok_or(HeaderError::Syntax)?;
        let method =
            Method::from_token(value.get(ms..me).unwrap_or("")).ok_or(HeaderError::Syntax)?;
        if word(me).is_some() {
            return Err(HeaderError::Syntax);
        }
        Ok(Self { seq, method })
    }
}

impl TypedHeader<'_> for CSeq {
    const NAME: HeaderName = HeaderName::CSeq;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        Self::parse_value(value)
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_limits() {
        let c = CSeq::parse_value("0009999\t INVITE").unwrap();
        assert_eq!((c.seq, c.method), (9999, Method::Invite));
        assert_eq!(
            CSeq::parse_value("36893488147419103232 REGISTER"),
            Err(HeaderError::Number)
        );
        assert_eq!(CSeq::parse_value("1"), Err(HeaderError::Syntax));
        assert_eq!(CSeq::parse_value("1 INVITE x"), Err(HeaderError::Syntax));
    }
}
