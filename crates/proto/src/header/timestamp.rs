//! `Timestamp` (RFC 3261 §20.38).

use std::fmt;

use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::text::{is_lws, trim};

/// `Timestamp: 1*DIGIT ["." *DIGIT] [ LWS delay ]`, with
/// `delay = *DIGIT ["." *DIGIT]`.
///
/// Both numbers are kept as written (the client echoes them back
/// verbatim); [`Timestamp::time_secs`] and [`Timestamp::delay_secs`] read
/// them as seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp<'a> {
    /// The time the request was sent, as written (`54`, `1.5`, `3.`).
    pub time: &'a str,
    /// The delay added by the answering side, as written (`0.25`, `.5`).
    pub delay: Option<&'a str>,
}

impl Timestamp<'_> {
    /// The time as a number of seconds.
    pub fn time_secs(&self) -> Option<f64> {
        self.time.parse().ok()
    }

    /// The delay as a number of seconds.
    pub fn delay_secs(&self) -> Option<f64> {
        self.delay.and_then(|d| d.parse().ok())
    }
}

/// `1*DIGIT ["." *DIGIT]`.
fn is_time(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// `*DIGIT ["." *DIGIT]` with at least one digit.
fn is_delay(s: &str) -> bool {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

impl<'a> TypedHeader<'a> for Timestamp<'a> {
    const NAME: HeaderName = HeaderName::Timestamp;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let value = trim(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let mut parts = value
            .split(|c: char| c.is_ascii() && is_lws(c as u8))
            .filter(|s| !s.is_empty());
        let time = parts.next().ok_or(HeaderError::Empty)?;
        let delay = parts.next();
        if parts.next().is_some() {
            return Err(HeaderError::Syntax);
        }
        if !is_time(time) || !delay.is_none_or(is_delay) {
            return Err(HeaderError::Number);
        }
        Ok(Self { time, delay })
    }
}

impl fmt::Display for Timestamp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.time)?;
        if let Some(d) = self.delay {
            write!(f, " {d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn valid_forms() {
        let t = Timestamp::parse("54").unwrap();
        assert_eq!((t.time, t.delay), ("54", None));
        assert_eq!(t.time_secs(), Some(54.0));
        let t = Timestamp::parse(" 0054.250 \t\r\n 0.5 ").unwrap();
        assert_eq!((t.time, t.delay), ("0054.250", Some("0.5")));
        assert_eq!(t.delay_secs(), Some(0.5));
        let t = Timestamp::parse("3. .5").unwrap();
        assert_eq!((t.time, t.delay), ("3.", Some(".5")));
        assert_eq!((t.time_secs(), t.delay_secs()), (Some(3.0), Some(0.5)));
        let t = Timestamp::parse("1 2.").unwrap();
        assert_eq!(t.delay, Some("2."));
        // Longer than any integer type: kept as text.
        let t = Timestamp::parse("123456789012345678901234567890.1").unwrap();
        assert_eq!(t.time.len(), 32);
    }

    #[test]
    fn round_trip() {
        assert_eq!(assert_round_trip!(Timestamp<'_>, "54"), "54");
        assert_eq!(
            assert_round_trip!(Timestamp<'_>, "0054.250 \t  .5"),
            "0054.250 .5"
        );
        assert_round_trip!(Timestamp<'_>, "1. 2.");
    }

    #[test]
    fn malformed() {
        assert_eq!(Timestamp::parse(""), Err(HeaderError::Empty));
        assert_eq!(Timestamp::parse(".5"), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("1 ."), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("1.2.3"), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("1 2.3.4"), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("-1"), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("1e5"), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("1,5"), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("abc"), Err(HeaderError::Number));
        assert_eq!(Timestamp::parse("1 2 3"), Err(HeaderError::Syntax));
        assert_eq!(Timestamp::parse("1;x=2"), Err(HeaderError::Number));
    }
}
