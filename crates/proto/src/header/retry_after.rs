//! `Retry-After` (RFC 3261 §20.33).

use std::fmt;

use crate::header::util::{number_param, number_u32, write_param};
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::{ParamSyntax, Params};
use crate::text::{trim, trim_start};

/// `Retry-After: delta-seconds [ comment ] *( ;retry-param )`.
///
/// `params` holds every parameter as written, `duration` included;
/// `duration` is read from it and must be `delta-seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    /// Seconds to wait before retrying.
    pub seconds: u32,
    /// The comment's text between its outer parentheses, as written (nested
    /// comments and backslash escapes kept).
    pub comment: Option<&'a str>,
    /// The `duration` parameter: how long the callee will be available.
    pub duration: Option<u32>,
    /// All parameters, `duration` included.
    pub params: Params<'a>,
}

impl<'a> TypedHeader<'a> for RetryAfter<'a> {
    const NAME: HeaderName = HeaderName::RetryAfter;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let value = trim(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let digits = value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len());
        let (seconds, rest) = value.split_at(digits);
        let seconds = number_u32(seconds)?;
        let rest = trim_start(rest);
        let (comment, rest) = if rest.starts_with('(') {
            let len = comment_len(rest)?;
            let (comment, rest) = rest.split_at(len);
            let inner = comment
                .get(1..len.saturating_sub(1))
                .ok_or(HeaderError::Syntax)?;
            (Some(inner), trim(rest))
        } else {
            (None, rest)
        };
        if !rest.is_empty() && !rest.starts_with(';') {
            return Err(HeaderError::Syntax);
        }
        let params = Params::parse(rest, ParamSyntax::Header).ok_or(HeaderError::Params)?;
        let duration = number_param(&params, "duration")?;
        Ok(Self {
            seconds,
            comment,
            duration,
            params,
        })
    }
}

impl fmt::Display for RetryAfter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seconds)?;
        if let Some(c) = self.comment {
            write!(f, " ({c})")?;
        }
        write_param(f, &self.params, "duration", self.duration)?;
        f.write_str(self.params.as_str())
    }
}

/// Byte length of the comment at the start of `s` (which starts with `(`),
/// parentheses included: nested comments and quoted pairs are allowed,
/// control characters other than LWS are not.
fn comment_len(s: &str) -> Result<usize, HeaderError> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => {
                match bytes.get(i + 1) {
                    Some(b'\r' | b'\n') | None => return Err(HeaderError::Unterminated),
                    Some(_) => {}
                }
                i += 2;
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            b'\t' | b'\r' | b'\n' => {}
            0..=0x1f | 0x7f => return Err(HeaderError::Syntax),
            _ => {}
        }
        i += 1;
    }
    Err(HeaderError::Unterminated)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn valid_forms() {
        let r = RetryAfter::parse("18000;duration=3600").unwrap();
        assert_eq!(
            (r.seconds, r.comment, r.duration),
            (18000, None, Some(3600))
        );
        let r = RetryAfter::parse("120 (I'm in a meeting)").unwrap();
        assert_eq!((r.seconds, r.comment), (120, Some("I'm in a meeting")));
        let r = RetryAfter::parse("0120(a (nested; \\) one), ok)  ;DURATION=0007;x").unwrap();
        assert_eq!(r.seconds, 120);
        assert_eq!(r.comment, Some("a (nested; \\) one), ok"));
        assert_eq!(r.duration, Some(7));
        assert_eq!(r.params.get("x"), Some(None));
        let r = RetryAfter::parse("5 ()").unwrap();
        assert_eq!(r.comment, Some(""));
        let r = RetryAfter::parse("5 ( caf\u{e9} \"q\" )").unwrap();
        assert_eq!(r.comment, Some(" caf\u{e9} \"q\" "));
        let r = RetryAfter::parse("5 ; x = y").unwrap();
        assert_eq!((r.comment, r.params.value("x")), (None, Some("y")));
    }

    #[test]
    fn round_trip() {
        assert_eq!(
            assert_round_trip!(RetryAfter<'_>, "18000;duration=3600"),
            "18000;duration=3600"
        );
        assert_eq!(
            assert_round_trip!(RetryAfter<'_>, "0120   (I'm in a meeting)  ;duration=60"),
            "120 (I'm in a meeting);duration=60"
        );
        assert_round_trip!(RetryAfter<'_>, r"1 (a\ )");
        assert_round_trip!(RetryAfter<'_>, "1 ((()))");
        assert_round_trip!(RetryAfter<'_>, "1");
        let built = RetryAfter {
            seconds: 30,
            comment: Some("busy"),
            duration: Some(10),
            params: Params::default(),
        };
        assert_eq!(built.to_string(), "30 (busy);duration=10");
    }

    #[test]
    fn malformed() {
        assert_eq!(RetryAfter::parse(""), Err(HeaderError::Empty));
        assert_eq!(RetryAfter::parse("(x) 5"), Err(HeaderError::Number));
        assert_eq!(RetryAfter::parse("-5"), Err(HeaderError::Number));
        assert_eq!(RetryAfter::parse("4294967296"), Err(HeaderError::Number));
        assert_eq!(RetryAfter::parse("5 (open"), Err(HeaderError::Unterminated));
        assert_eq!(
            RetryAfter::parse("5 (a (b)"),
            Err(HeaderError::Unterminated)
        );
        assert_eq!(RetryAfter::parse(r"5 (a\"), Err(HeaderError::Unterminated));
        assert_eq!(RetryAfter::parse(r"5 (a\)"), Err(HeaderError::Unterminated));
        assert_eq!(RetryAfter::parse("5 (a\u{1}b)"), Err(HeaderError::Syntax));
        assert_eq!(RetryAfter::parse("5 (a) (b)"), Err(HeaderError::Syntax));
        assert_eq!(RetryAfter::parse("5 x"), Err(HeaderError::Syntax));
        assert_eq!(RetryAfter::parse("5.5"), Err(HeaderError::Syntax));
        assert_eq!(RetryAfter::parse("5;duration"), Err(HeaderError::Syntax));
        assert_eq!(RetryAfter::parse("5;duration=x"), Err(HeaderError::Number));
        assert_eq!(
            RetryAfter::parse("5;duration=99999999999"),
            Err(HeaderError::Number)
        );
        assert_eq!(RetryAfter::parse("5;;a"), Err(HeaderError::Params));
        assert_eq!(RetryAfter::parse("5 (c);"), Err(HeaderError::Params));
    }
}
