//! Reliable provisional responses (RFC 3262): `RSeq` and `RAck`.

use std::fmt;

use crate::Method;
use crate::header::util::{number_u32, number_value};
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::text::{is_lws, trim};

/// `RSeq: response-num` (RFC 3262 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RSeq(pub u32);

impl RSeq {
    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TypedHeader<'_> for RSeq {
    const NAME: HeaderName = HeaderName::RSeq;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        number_value(value, u32::MAX).map(Self)
    }
}

impl fmt::Display for RSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `RAck: response-num LWS CSeq-num LWS Method` (RFC 3262 §7.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RAck {
    /// The `RSeq` of the response acknowledged.
    pub rseq: u32,
    /// The CSeq number of that response.
    pub cseq: u32,
    /// The CSeq method of that response (case-sensitive).
    pub method: Method,
}

impl TypedHeader<'_> for RAck {
    const NAME: HeaderName = HeaderName::RAck;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = trim(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let mut parts = value
            .split(|c: char| c.is_ascii() && is_lws(c as u8))
            .filter(|s| !s.is_empty());
        let mut next = || parts.next().ok_or(HeaderError::Syntax);
        let rseq = number_u32(next()?)?;
        let cseq = number_u32(next()?)?;
        let method = Method::from_token(next()?).ok_or(HeaderError::Syntax)?;
        if parts.next().is_some() {
            return Err(HeaderError::Syntax);
        }
        Ok(Self { rseq, cseq, method })
    }
}

impl fmt::Display for RAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.rseq, self.cseq, self.method)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn rseq() {
        assert_eq!(RSeq::parse("988789"), Ok(RSeq(988789)));
        assert_eq!(RSeq::parse(" 0001 "), Ok(RSeq(1)));
        assert_eq!(assert_round_trip!(RSeq, "0042"), "42");
        assert_eq!(RSeq::parse(""), Err(HeaderError::Empty));
        assert_eq!(RSeq::parse("1 2"), Err(HeaderError::Number));
        assert_eq!(RSeq::parse("4294967296"), Err(HeaderError::Number));
        assert_eq!(RSeq::parse("x"), Err(HeaderError::Number));
    }

    #[test]
    fn rack_forms() {
        let r = RAck::parse("776656 1 INVITE").unwrap();
        assert_eq!((r.rseq, r.cseq, r.method), (776656, 1, Method::Invite));
        let r = RAck::parse("  0001 \t 00314159   INVITE ").unwrap();
        assert_eq!((r.rseq, r.cseq), (1, 314159));
        let r = RAck::parse("1 2 invite").unwrap();
        assert_eq!(r.method, Method::Extension("invite".into()));
        let r = RAck::parse("1\r\n 2\r\n\tUPDATE").unwrap();
        assert_eq!(r.method, Method::Update);
        assert_eq!(
            assert_round_trip!(RAck, "0776656   01  INVITE"),
            "776656 1 INVITE"
        );
        assert_round_trip!(RAck, "4294967295 4294967295 FOO-BAR");
    }

    #[test]
    fn rack_malformed() {
        assert_eq!(RAck::parse(""), Err(HeaderError::Empty));
        assert_eq!(RAck::parse("1"), Err(HeaderError::Syntax));
        assert_eq!(RAck::parse("1 2"), Err(HeaderError::Syntax));
        assert_eq!(RAck::parse("1 2 INVITE x"), Err(HeaderError::Syntax));
        assert_eq!(RAck::parse("1 INVITE 2"), Err(HeaderError::Number));
        assert_eq!(RAck::parse("x 2 INVITE"), Err(HeaderError::Number));
        assert_eq!(RAck::parse("1 4294967296 INVITE"), Err(HeaderError::Number));
        assert_eq!(RAck::parse("1 2 INV/ITE"), Err(HeaderError::Syntax));
        assert_eq!(RAck::parse("1,2 INVITE"), Err(HeaderError::Number));
    }
}
