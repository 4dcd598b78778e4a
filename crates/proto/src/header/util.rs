//! Lexical helpers shared by the typed headers parsed on demand.

use std::fmt;

use crate::header::HeaderError;
use crate::params::{ParamSyntax, Params};
use crate::text::{is_token_byte, parse_u32, trim};

/// A `1*DIGIT` number (`delta-seconds`, `response-num`, ...) that must fit
/// `u32`. Leading zeros are allowed, however many.
pub(crate) fn number_u32(s: &str) -> Result<u32, HeaderError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::Number);
    }
    let digits = s.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    parse_u32(digits).ok_or(HeaderError::Number)
}

/// A `1*DIGIT` number that must fit `u16`.
pub(crate) fn number_u16(s: &str) -> Result<u16, HeaderError> {
    number_u32(s).and_then(|n| u16::try_from(n).map_err(|_| HeaderError::Number))
}

/// A whole header value that is one number: trims it, `Empty` when there is
/// nothing, `Number` when it is not a number or above `max`.
pub(crate) fn number_value(value: &str, max: u32) -> Result<u32, HeaderError> {
    let value = trim(value);
    if value.is_empty() {
        return Err(HeaderError::Empty);
    }
    number_u32(value).and_then(|n| {
        if n > max {
            Err(HeaderError::Number)
        } else {
            Ok(n)
        }
    })
}

/// Splits `head *(SEMI param)` at the first `;` (the heads of the headers
/// that use this never hold one) and checks the parameters.
///
/// Returns the trimmed head and the parameters; `Empty` when the whole value
/// is empty.
pub(crate) fn split_params(value: &str) -> Result<(&str, Params<'_>), HeaderError> {
    let value = trim(value);
    if value.is_empty() {
        return Err(HeaderError::Empty);
    }
    let end = value.find(';').unwrap_or(value.len());
    let (head, params) = value.split_at(end);
    let params = Params::parse(trim(params), ParamSyntax::Header).ok_or(HeaderError::Params)?;
    Ok((trim(head), params))
}

/// The value of parameter `name` when present: `Syntax` when it is a flag
/// (the grammar wants `name=value`), `None` when absent.
pub(crate) fn valued_param<'a>(
    params: &Params<'a>,
    name: &str,
) -> Result<Option<&'a str>, HeaderError> {
    match params.get(name) {
        None => Ok(None),
        Some(None) => Err(HeaderError::Syntax),
        Some(Some(v)) => Ok(Some(v)),
    }
}

/// A parameter whose value must be a `token`.
pub(crate) fn token_param<'a>(
    params: &Params<'a>,
    name: &str,
) -> Result<Option<&'a str>, HeaderError> {
    match valued_param(params, name)? {
        Some(v) if !crate::text::is_token(v) => Err(HeaderError::Syntax),
        other => Ok(other),
    }
}

/// A parameter whose value must be `delta-seconds`.
pub(crate) fn number_param(params: &Params<'_>, name: &str) -> Result<Option<u32>, HeaderError> {
    valued_param(params, name)?.map(number_u32).transpose()
}

/// `event-type` of RFC 6665: `token-nodot *("." token-nodot)`.
pub(crate) fn is_event_type(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(is_token_byte))
}

/// `word` characters of RFC 3261 §25.1 (Call-ID).
fn is_word_byte(b: u8) -> bool {
    is_token_byte(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// `callid = word [ "@" word ]`.
pub(crate) fn is_call_id(s: &str) -> bool {
    let is_word = |w: &str| !w.is_empty() && w.bytes().all(is_word_byte);
    match s.split_once('@') {
        Some((a, b)) => is_word(a) && is_word(b),
        None => is_word(s),
    }
}

/// Writes `;name=value` unless `params` already holds a parameter `name`:
/// how the typed headers print a field that was set by hand.
pub(crate) fn write_param(
    f: &mut fmt::Formatter<'_>,
    params: &Params<'_>,
    name: &str,
    value: Option<impl fmt::Display>,
) -> fmt::Result {
    match value {
        Some(v) if !params.has(name) => write!(f, ";{name}={v}"),
        _ => Ok(()),
    }
}

/// Writes `s` as a quoted string, escaping `"` and `\`; CR and LF (which a
/// quoted string cannot hold) become spaces.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write;
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            '\r' | '\n' => f.write_char(' ')?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// Parses `$v` as `$ty`, prints it, parses the print and checks both parses
/// are equal; evaluates to the printed text.
#[cfg(test)]
macro_rules! assert_round_trip {
    ($ty:ty, $v:expr) => {{
        let v: &str = $v;
        let x = <$ty as $crate::header::TypedHeader<'_>>::parse(v)
            .unwrap_or_else(|e| panic!("{v:?}: {e}"));
        let printed = x.to_string();
        let again = <$ty as $crate::header::TypedHeader<'_>>::parse(&printed)
            .unwrap_or_else(|e| panic!("{v:?} printed as {printed:?}: {e}"));
        assert_eq!(again, x, "{v:?} printed as {printed:?}");
        printed
    }};
}
#[cfg(test)]
pub(crate) use assert_round_trip;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number_u32("0"), Ok(0));
        assert_eq!(number_u32("0000000000000000000042"), Ok(42));
        assert_eq!(number_u32("4294967295"), Ok(u32::MAX));
        assert_eq!(number_u32("4294967296"), Err(HeaderError::Number));
        assert_eq!(number_u32(""), Err(HeaderError::Number));
        assert_eq!(number_u32("+1"), Err(HeaderError::Number));
        assert_eq!(number_u32("1 2"), Err(HeaderError::Number));
        assert_eq!(number_u16("65535"), Ok(65535));
        assert_eq!(number_u16("65536"), Err(HeaderError::Number));
        assert_eq!(number_value("  7 ", 10), Ok(7));
        assert_eq!(number_value("11", 10), Err(HeaderError::Number));
        assert_eq!(number_value(" ", 10), Err(HeaderError::Empty));
    }

    #[test]
    fn event_types_and_call_ids() {
        assert!(is_event_type("presence"));
        assert!(is_event_type("presence.winfo"));
        assert!(!is_event_type("presence."));
        assert!(!is_event_type(".winfo"));
        assert!(!is_event_type("a..b"));
        assert!(!is_event_type(""));
        assert!(is_call_id(r#"intmeth.word%ZK-!.*_+'@word`~()<>:\"/[]?{}"#));
        assert!(!is_call_id("a@b@c"));
        assert!(!is_call_id("a@"));
        assert!(!is_call_id("a b"));
        assert!(!is_call_id("a;b"));
        assert!(!is_call_id(""));
    }
}
