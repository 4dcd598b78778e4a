//! Lexical rules of RFC 3261 §25.1 shared by every parser in this crate.
//!
//! All helpers work on `&str` and never panic: positions are found with
//! iterators and `split_at` only at char boundaries of ASCII delimiters.

/// Byte classes, one bit each, looked up in [`CLASS`].
pub(crate) mod class {
    /// `token` (RFC 3261 §25.1).
    pub(crate) const TOKEN: u16 = 1;
    /// LWS after unfolding, plus CR/LF: SP, HT, CR, LF.
    pub(crate) const LWS: u16 = 1 << 1;
    /// Not allowed anywhere in a URI: ASCII white space, controls, `<>"`.
    pub(crate) const URI_BAD: u16 = 1 << 2;
    /// URI `user` characters (unreserved, escaped, user-unreserved).
    pub(crate) const USER: u16 = 1 << 3;
    /// URI `password` characters.
    pub(crate) const PASSWORD: u16 = 1 << 4;
    /// URI `hname` / `hvalue` characters.
    pub(crate) const URI_HEADER: u16 = 1 << 5;
    /// URI `paramchar`s (escapes checked loosely: `%` is allowed).
    pub(crate) const URI_PARAM: u16 = 1 << 6;
    /// Domain name characters: alphanumeric, `-`, `.`, `_`.
    pub(crate) const DOMAIN: u16 = 1 << 7;
    /// Inside `[...]` of an IPv6 reference: hex digits, `:`, `.`.
    pub(crate) const IPV6: u16 = 1 << 8;
    /// Header parameter value characters outside quotes: token, `:`, `[`, `]`.
    pub(crate) const PARAM_VALUE: u16 = 1 << 9;
    /// ASCII digits and `.` (what may be a dotted quad).
    pub(crate) const DIGIT_DOT: u16 = 1 << 10;
    /// ASCII white space as `u8::is_ascii_whitespace` sees it.
    pub(crate) const ASCII_WS: u16 = 1 << 11;
    /// [`USER`] characters other than `;` and `?`.
    pub(crate) const USER_PLAIN: u16 = 1 << 12;
}

const fn is_token_byte_slow(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

const fn classify(b: u8) -> u16 {
    use class::*;
    let mut c = 0;
    if is_token_byte_slow(b) {
        c |= TOKEN | PARAM_VALUE;
    }
    if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
        c |= LWS;
    }
    if b.is_ascii_whitespace() {
        c |= ASCII_WS;
    }
    if b.is_ascii_whitespace() || b.is_ascii_control() || matches!(b, b'<' | b'>' | b'"') {
        c |= URI_BAD;
    }
    if is_unreserved(b)
        || matches!(
            b,
            b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/'
        )
    {
        c |= USER;
    }
    if is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b'/') {
        c |= USER_PLAIN;
    }
    if is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',') {
        c |= PASSWORD;
    }
    if is_unreserved(b)
        || matches!(
            b,
            b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'@'
        )
    {
        c |= URI_HEADER;
    }
    if is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
        c |= URI_PARAM;
    }
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
        c |= DOMAIN;
    }
    if b.is_ascii_hexdigit() || matches!(b, b':' | b'.') {
        c |= IPV6;
    }
    if matches!(b, b':' | b'[' | b']') {
        c |= PARAM_VALUE;
    }
    if b.is_ascii_digit() || b == b'.' {
        c |= DIGIT_DOT;
    }
    c
}

/// The class bits of every byte value.
static CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        #[allow(clippy::indexing_slicing)] // i < 256, evaluated at compile time
        {
            t[i] = classify(i as u8);
        }
        i += 1;
    }
    t
};

/// The class bits of `b`.
#[inline(always)]
pub(crate) fn class_of(b: u8) -> u16 {
    CLASS.get(usize::from(b)).copied().unwrap_or(0)
}

/// True when `b` is in any of the classes `mask`.
#[inline(always)]
pub(crate) fn is(b: u8, mask: u16) -> bool {
    class_of(b) & mask != 0
}

/// True when every byte of `s` is in one of the classes `mask`.
#[inline]
pub(crate) fn all(s: &[u8], mask: u16) -> bool {
    s.iter().all(|&b| is(b, mask))
}

/// True when `s` holds ASCII white space (`u8::is_ascii_whitespace`).
/// Eight bytes at a time: a word without a byte below `!` holds none.
#[inline]
pub(crate) fn any_ascii_ws(s: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        if let Ok(bytes) = <[u8; 8]>::try_from(chunk) {
            let w = u64::from_le_bytes(bytes);
            let below = w.wrapping_sub(0x21 * ONES) & !w & (0x80 * ONES);
            if below != 0 && chunk.iter().any(|&b| is(b, class::ASCII_WS)) {
                return true;
            }
        }
    }
    chunks.remainder().iter().any(|&b| is(b, class::ASCII_WS))
}

/// `token` characters (RFC 3261 §25.1).
#[inline(always)]
pub(crate) fn is_token_byte(b: u8) -> bool {
    is(b, class::TOKEN)
}

/// True when `s` is a non-empty `token`.
#[inline]
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && all(s.as_bytes(), class::TOKEN)
}

/// Linear white space as it appears inside header values after unfolding,
/// plus CR/LF so that values that still hold a fold are handled too.
#[inline(always)]
pub(crate) fn is_lws(b: u8) -> bool {
    is(b, class::LWS)
}

/// Below this length a plain loop finds a byte in fewer instructions than
/// `memchr`, whose set-up costs some fifty.
const SHORT: usize = 32;

/// Index of the first `needle` in `b`.
#[inline]
pub(crate) fn find_in(b: &[u8], needle: u8) -> Option<usize> {
    if b.len() <= SHORT {
        b.iter().position(|&c| c == needle)
    } else {
        memchr::memchr(needle, b)
    }
}

/// Index of the first `n1` or `n2` in `b`.
#[inline]
pub(crate) fn find2_in(b: &[u8], n1: u8, n2: u8) -> Option<usize> {
    if b.len() <= SHORT {
        b.iter().position(|&c| c == n1 || c == n2)
    } else {
        memchr::memchr2(n1, n2, b)
    }
}

/// Index of the first `n1`, `n2` or `n3` in `b`.
#[inline]
fn find3_in(b: &[u8], n1: u8, n2: u8, n3: u8) -> Option<usize> {
    if b.len() <= SHORT {
        b.iter().position(|&c| c == n1 || c == n2 || c == n3)
    } else {
        memchr::memchr3(n1, n2, n3, b)
    }
}

/// Index of the first `needle` in `s`.
#[inline]
pub(crate) fn find_byte(s: &str, needle: u8) -> Option<usize> {
    find_in(s.as_bytes(), needle)
}

/// Splits `s` around the first `needle` (which must be ASCII).
#[inline]
pub(crate) fn split_once_byte(s: &str, needle: u8) -> Option<(&str, &str)> {
    let i = find_byte(s, needle)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Trims LWS on both sides.
#[inline]
pub(crate) fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let Some(start) = b.iter().position(|&c| !is_lws(c)) else {
        return s.get(..0).unwrap_or("");
    };
    let end = b.iter().rposition(|&c| !is_lws(c)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or("")
}

/// Trims LWS at the start.
#[inline]
pub(crate) fn trim_start(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| !is_lws(c)).unwrap_or(b.len());
    s.get(start..).unwrap_or("")
}

/// Index of the first byte at or after `i` that is not LWS (or the length).
#[inline]
pub(crate) fn skip_lws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_lws(c)) {
        i += 1;
    }
    i
}

/// Index of the first byte at or after `i` not in classes `mask`.
#[inline(always)]
pub(crate) fn skip_class(b: &[u8], i: usize, mask: u16) -> usize {
    skip_class_acc(b, i, mask).0
}

/// [`skip_class`], and the class bits that all the skipped bytes share.
/// A one-class `mask` is tested four bytes at a time.
#[inline(always)]
pub(crate) fn skip_class_acc(b: &[u8], mut i: usize, mask: u16) -> (usize, u16) {
    let mut acc = u16::MAX;
    if mask.is_power_of_two() {
        while let Some(&[c0, c1, c2, c3]) = b.get(i..i + 4) {
            let k = class_of(c0) & class_of(c1) & class_of(c2) & class_of(c3);
            if k & mask == 0 {
                break;
            }
            acc &= k;
            i += 4;
        }
    }
    while let Some(&c) = b.get(i) {
        let k = class_of(c);
        if k & mask == 0 {
            break;
        }
        acc &= k;
        i += 1;
    }
    (i, acc)
}

/// Byte length of the quoted string at the start of `s` (which must start
/// with `"`), including both quotes, or `None` when it is unterminated.
#[inline]
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    quoted_len_bytes(s.as_bytes())
}

/// [`quoted_len`] on bytes.
pub(crate) fn quoted_len_bytes(bytes: &[u8]) -> Option<usize> {
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    loop {
        i += find2_in(bytes.get(i..)?, b'"', b'\\')?;
        match bytes.get(i)? {
            b'\\' => i += 2,
            _ => return Some(i + 1),
        }
    }
}

/// Removes the quotes and backslash escapes of a quoted string. Borrows when
/// there is no escape.
pub(crate) fn unquote(s: &str) -> std::borrow::Cow<'_, str> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s);
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
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
#[inline]
pub(crate) fn find_unquoted(s: &str, needle: u8) -> Option<usize> {
    find_unquoted_bytes(s.as_bytes(), needle)
}

/// [`find_unquoted`] on bytes.
pub(crate) fn find_unquoted_bytes(bytes: &[u8], needle: u8) -> Option<usize> {
    let mut i = 0;
    loop {
        i += find3_in(bytes.get(i..)?, needle, b'"', b'<')?;
        let b = *bytes.get(i)?;
        if b == needle {
            return Some(i);
        }
        if b == b'"' {
            i += quoted_len_bytes(bytes.get(i..)?)?;
        } else {
            // Inside `<...>` only the closing `>` matters.
            i += 1;
            i += find_in(bytes.get(i..)?, b'>')? + 1;
        }
    }
}

/// Splits a header value on top-level commas (not inside quotes or `<>`).
///
/// Yields trimmed pieces; an unterminated quote makes the last piece run to
/// the end of the value (the element parser then reports it).
#[derive(Debug, Clone)]
pub(crate) struct CommaSplit<'a> {
    rest: Option<&'a str>,
    /// `rest` holds no comma at all: it is the last piece.
    last: bool,
}

impl<'a> CommaSplit<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Self {
            rest: Some(s),
            last: false,
        }
    }

    /// The split of `s` when the caller knows it holds no comma.
    pub(crate) fn single(s: &'a str) -> Self {
        Self {
            rest: Some(s),
            last: true,
        }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        if self.last {
            self.rest = None;
            return Some(trim(rest));
        }
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
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s.as_bytes() {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    u32::try_from(v).ok()
}

/// Byte offset of `inner` inside `outer`, when `inner` is a sub-slice of it.
pub(crate) fn offset_in(outer: &str, inner: &str) -> Option<usize> {
    let start = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (start + inner.len() <= outer.len()).then_some(start)
}

/// Percent-decodes `s` (RFC 3261 `escaped`). Invalid escapes are kept
/// literally, as RFC 4475 §3.1.1.5 asks. Borrows when there is no `%`.
pub fn unescape(s: &str) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr(b'%', s.as_bytes()).is_none() {
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
    fn class_relations() {
        for b in 0..=255u8 {
            let c = class_of(b);
            // Scanners rely on these inclusions.
            if c & class::DIGIT_DOT != 0 {
                assert!(c & class::DOMAIN != 0, "{b}");
            }
            let plain = c & class::USER != 0 && b != b';' && b != b'?';
            assert_eq!(c & class::USER_PLAIN != 0, plain, "{b}");
        }
        let s = b"abc.def-ghi;x";
        for i in 0..s.len() {
            let slow = (i..s.len())
                .find(|&j| !is(s[j], class::DOMAIN))
                .unwrap_or(s.len());
            let acc = s[i..slow].iter().fold(u16::MAX, |a, &c| a & class_of(c));
            assert_eq!(skip_class_acc(s, i, class::DOMAIN), (slow, acc));
        }
    }

    #[test]
    fn ascii_ws_by_words() {
        for b in 0..=255u8 {
            for at in [0, 3, 7, 8, 12, 16, 19] {
                let mut s = vec![b'x'; 20];
                s[at] = b;
                assert_eq!(any_ascii_ws(&s), b.is_ascii_whitespace(), "{b} at {at}");
                s[at] = 0xFF;
                s[(at + 5) % 20] = b;
                assert_eq!(any_ascii_ws(&s), b.is_ascii_whitespace(), "{b} at {at}");
            }
        }
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
