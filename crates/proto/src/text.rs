//! Lexical rules of RFC 3261 §25.1 shared by every parser in this crate.
//!
//! All helpers work on `&str` and never panic: positions are found with
//! iterators and `split_at` only at char boundaries of ASCII delimiters.

/// `token` characters (RFC 3261 §25.1).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// True when `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Linear white space as it appears inside header values after unfolding,
/// plus CR/LF so that values that still hold a fold are handled too.
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims LWS on both sides.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii() && is_lws(c as u8))
}

/// Trims LWS at the start.
pub(crate) fn trim_start(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_lws(c as u8))
}

/// Byte length of the quoted string at the start of `s` (which must start
/// with `"`), including both quotes, or `None` when it is unterminated.
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Removes the quotes and backslash escapes of a quoted string. Borrows when
/// there is no escape.
pub(crate) fn unquote(s: &str) -> std::borrow::Cow<'_, str> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    if !inner.contains('\\') {
        return std::borrow::Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Finds the first occurrence of `needle` in `s` that is outside quoted
/// strings and outside `<...>`. Returns its byte index.
pub(crate) fn find_unquoted(s: &str, needle: u8) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut in_angle = false;
    while let Some(&b) = bytes.get(i) {
        if b == needle && !in_angle {
            return Some(i);
        }
        match b {
            b'"' if !in_angle => {
                let rest = s.get(i..)?;
                i += quoted_len(rest)?;
                continue;
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Splits a header value on top-level commas (not inside quotes or `<>`).
///
/// Yields trimmed pieces; an unterminated quote makes the last piece run to
/// the end of the value (the element parser then reports it).
#[derive(Debug, Clone)]
pub(crate) struct CommaSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Self { rest: Some(s) }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match find_unquoted(rest, b',') {
            Some(i) => {
                let (head, tail) = rest.split_at(i);
                self.rest = tail.get(1..);
                Some(trim(head))
            }
            None => {
                self.rest = None;
                Some(trim(rest))
            }
        }
    }
}

/// Parses a decimal number that must fit `u32` (RFC 3261 limits CSeq,
/// Expires and the like to 2**32-1).
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().and_then(|v| u32::try_from(v).ok())
}

/// Byte offset of `inner` inside `outer`, when `inner` is a sub-slice of it.
pub(crate) fn offset_in(outer: &str, inner: &str) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

/// Percent-decodes `s` (RFC 3261 `escaped`). Invalid escapes are kept
/// literally, as RFC 4475 §3.1.1.5 asks. Borrows when there is no `%`.
pub fn unescape(s: &str) -> std::borrow::Cow<'_, [u8]> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s.as_bytes());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16));
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_split_respects_quotes_and_angles() {
        let v: Vec<_> =
            CommaSplit::new(r#""a,b" <sip:x@y;p=1,2>;q=1 , <sip:z>, "esc\",aped" <sip:w>"#)
                .collect();
        assert_eq!(
            v,
            [
                r#""a,b" <sip:x@y;p=1,2>;q=1"#,
                "<sip:z>",
                r#""esc\",aped" <sip:w>"#
            ]
        );
    }

    #[test]
    fn quoted_len_handles_escapes_and_unterminated() {
        assert_eq!(quoted_len(r#""ab\"c" rest"#), Some(7));
        assert_eq!(quoted_len(r#""ab"#), None);
        assert_eq!(quoted_len(r#""ab\"#), None);
    }

    #[test]
    fn unescape_keeps_invalid_escapes() {
        assert_eq!(&*unescape("RE%47IST%45R"), b"REGISTER");
        assert_eq!(&*unescape("%Z%45"), b"%ZE");
        assert_eq!(&*unescape("a%4"), b"a%4");
        assert_eq!(&*unescape("value%2541"), b"value%41");
    }

    #[test]
    fn u32_range() {
        assert_eq!(parse_u32("4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32("0009"), Some(9));
        assert_eq!(parse_u32("-1"), None);
        assert_eq!(parse_u32(""), None);
    }
}
