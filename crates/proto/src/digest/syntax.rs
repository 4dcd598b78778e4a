//! Lexer and printer for `auth-scheme` and `auth-param` lists
//! (RFC 3261 §25.1 and RFC 7235 §2.1).
//!
//! ```text
//! challenge   = auth-scheme LWS auth-param *(COMMA auth-param)
//! auth-param  = token EQUAL ( token / quoted-string )
//! COMMA       = SWS "," SWS          EQUAL = SWS "=" SWS
//! LWS         = [*WSP CRLF] 1*WSP    (a line fold)
//! ```
//!
//! The lexer works on bytes of a `&str` and only slices at ASCII delimiters
//! through `str::get`, so it can neither panic nor split a character.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use super::auth_param::AuthParam;
use super::error::DigestError;
use super::{MAX_HEADER_LEN, MAX_PARAMS};

/// `token` characters: the union of RFC 3261 §25.1 `token` and RFC 7230
/// `tchar` (which adds `#`, `$`, `&`, `^` and `|`).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'!'
                | b'%'
                | b'*'
                | b'_'
                | b'+'
                | b'`'
                | b'\''
                | b'~'
                | b'^'
                | b'|'
                | b'#'
                | b'$'
                | b'&'
        )
}

/// True when `s` is a non-empty token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// True for SP and HT.
fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A cursor over a header value.
#[derive(Debug)]
pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// Starts a lexer on `src` after checking its size.
    pub(crate) fn new(src: &'a str) -> Result<Self, DigestError> {
        if src.len() > MAX_HEADER_LEN {
            return Err(DigestError::TooLong {
                len: src.len(),
                max: MAX_HEADER_LEN,
            });
        }
        let mut lexer = Self { src, pos: 0 };
        lexer.skip_lws()?;
        if lexer.at_end() {
            return Err(DigestError::Empty);
        }
        Ok(lexer)
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.src
            .as_bytes()
            .get(self.pos.saturating_add(offset))
            .copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// The character at the cursor, for error reports.
    fn current_char(&self) -> char {
        self.src
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
            .unwrap_or('\u{fffd}')
    }

    fn unexpected(&self) -> DigestError {
        DigestError::UnexpectedChar {
            pos: self.pos,
            found: self.current_char(),
        }
    }

    /// Length of the line break at the cursor (CRLF, or a bare LF accepted
    /// leniently), or 0 when there is none. A bare CR counts as 1 so that
    /// the caller reports it as a bad fold.
    fn line_break_len(&self) -> usize {
        match (self.peek(), self.peek_at(1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(b'\r' | b'\n'), _) => 1,
            _ => 0,
        }
    }

    /// Skips white space including line folds. A line break must be
    /// followed by SP/HT, except at the very end of the value where a
    /// trailing CRLF is tolerated. Returns whether anything was skipped.
    fn skip_lws(&mut self) -> Result<bool, DigestError> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b) if is_wsp(b) => self.pos += 1,
                Some(b'\r' | b'\n') => {
                    let len = self.line_break_len();
                    if self.peek() == Some(b'\r') && len == 1 {
                        return Err(DigestError::BadLineFold { pos: self.pos });
                    }
                    match self.peek_at(len) {
                        None => self.pos += len,
                        Some(b) if is_wsp(b) => self.pos += len,
                        Some(_) => return Err(DigestError::BadLineFold { pos: self.pos }),
                    }
                }
                _ => break,
            }
        }
        Ok(self.pos > start)
    }

    /// Reads a token, or returns `None` without moving.
    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.peek().is_some_and(is_token_byte) {
            self.pos += 1;
        }
        if self.pos == start {
            None
        } else {
            self.src.get(start..self.pos)
        }
    }

    /// Reads the quoted string at the cursor (which is on `"`) and returns
    /// its content with escapes removed and line folds reduced to their
    /// white space. Borrows when there was nothing to remove.
    fn quoted_string(&mut self) -> Result<Cow<'a, str>, DigestError> {
        let open = self.pos;
        self.pos += 1;
        let mut segment_start = self.pos;
        let mut owned: Option<String> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(DigestError::UnterminatedQuote { pos: open });
            };
            match b {
                b'"' => {
                    let tail = self.slice(segment_start, self.pos)?;
                    self.pos += 1;
                    return Ok(match owned {
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                        None => Cow::Borrowed(tail),
                    });
                }
                b'\\' => {
                    let buf = owned.get_or_insert_with(String::new);
                    buf.push_str(self.slice(segment_start, self.pos)?);
                    let escaped = self
                        .src
                        .get(self.pos + 1..)
                        .and_then(|rest| rest.chars().next());
                    match escaped {
                        None => return Err(DigestError::UnterminatedQuote { pos: open }),
                        Some('\r' | '\n') => {
                            return Err(DigestError::InvalidEscape { pos: self.pos });
                        }
                        Some(c) => {
                            buf.push(c);
                            self.pos += 1 + c.len_utf8();
                        }
                    }
                    segment_start = self.pos;
                }
                b'\r' | b'\n' => {
                    let len = self.line_break_len();
                    let folded = !(b == b'\r' && len == 1) && self.peek_at(len).is_some_and(is_wsp);
                    if !folded {
                        return Err(DigestError::BadLineFold { pos: self.pos });
                    }
                    let buf = owned.get_or_insert_with(String::new);
                    buf.push_str(self.slice(segment_start, self.pos)?);
                    self.pos += len;
                    segment_start = self.pos;
                }
                b'\t' => self.pos += 1,
                b if b < 0x20 || b == 0x7f => return Err(self.unexpected()),
                _ => self.pos += 1,
            }
        }
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'a str, DigestError> {
        self.src.get(start..end).ok_or(DigestError::UnexpectedChar {
            pos: start,
            found: '\u{fffd}',
        })
    }

    /// Reads the authentication scheme and the white space after it.
    pub(crate) fn scheme(&mut self) -> Result<&'a str, DigestError> {
        let scheme = self.token().ok_or(DigestError::ExpectedToken {
            pos: self.pos,
            expected: "authentication scheme",
        })?;
        if !self.skip_lws()? && !self.at_end() {
            return Err(self.unexpected());
        }
        Ok(scheme)
    }

    /// The unparsed rest of the value without trailing white space, for
    /// schemes whose parameters are not interpreted.
    pub(crate) fn rest(&self) -> &'a str {
        self.src
            .get(self.pos..)
            .unwrap_or_default()
            .trim_end_matches([' ', '\t', '\r', '\n'])
    }

    /// Parses the comma-separated auth-param list up to the end of the
    /// value. Empty list elements are skipped (RFC 7230 §7); a parameter
    /// name that repeats (ignoring case) is an error.
    pub(crate) fn params(&mut self) -> Result<Vec<AuthParam<'a>>, DigestError> {
        let mut params: Vec<AuthParam<'a>> = Vec::new();
        loop {
            self.skip_lws()?;
            match self.peek() {
                None => return Ok(params),
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            if params.len() >= MAX_PARAMS {
                return Err(DigestError::TooManyParams { max: MAX_PARAMS });
            }
            let name = self.token().ok_or(DigestError::ExpectedToken {
                pos: self.pos,
                expected: "parameter name",
            })?;
            if params.iter().any(|p| p.name.eq_ignore_ascii_case(name)) {
                return Err(DigestError::DuplicateParam { name: name.into() });
            }
            self.skip_lws()?;
            if self.peek() != Some(b'=') {
                return Err(DigestError::MissingEquals { name: name.into() });
            }
            self.pos += 1;
            self.skip_lws()?;
            let value = match self.peek() {
                Some(b'"') => self.quoted_string()?,
                None | Some(b',') => return Err(DigestError::MissingValue { name: name.into() }),
                Some(_) => Cow::Borrowed(self.token().ok_or_else(|| self.unexpected())?),
            };
            params.push(AuthParam {
                name: Cow::Borrowed(name),
                value,
            });
            self.skip_lws()?;
            match self.peek() {
                None => return Ok(params),
                Some(b',') => self.pos += 1,
                Some(_) => return Err(self.unexpected()),
            }
        }
    }
}

/// Writes `s` as a quoted-string. `"` and `\` are escaped; CR and LF,
/// which a quoted-string cannot carry, are written as SP so that a value
/// can never end the header line; other control characters are escaped.
pub(crate) fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    write_runs(f, s, |b| match b {
        b'"' | b'\\' => Some(Escape::Backslash),
        b'\r' | b'\n' => Some(Escape::Space),
        b'\t' => None,
        b if b.is_ascii_control() => Some(Escape::Backslash),
        _ => None,
    })?;
    f.write_char('"')
}

/// How [`write_runs`] writes a byte that cannot go out as it is.
#[derive(Clone, Copy)]
enum Escape {
    /// A backslash, then the byte.
    Backslash,
    /// One SP instead.
    Space,
}

/// Writes `s`, with the ASCII bytes `escape` picks replaced: the text in
/// between goes out in runs (one `write_str` each, not one call per
/// character: challenges are written for every unauthenticated request).
fn write_runs(
    f: &mut fmt::Formatter<'_>,
    s: &str,
    escape: impl Fn(u8) -> Option<Escape>,
) -> fmt::Result {
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let Some(how) = escape(b) else {
            continue;
        };
        // `b` is ASCII, so `i` is a character boundary.
        f.write_str(s.get(run..i).unwrap_or_default())?;
        match how {
            Escape::Backslash => {
                f.write_char('\\')?;
                f.write_char(char::from(b))?;
            }
            Escape::Space => f.write_char(' ')?,
        }
        run = i + 1;
    }
    f.write_str(s.get(run..).unwrap_or_default())
}

/// Writes `s` bare when it is a token, quoted otherwise.
pub(crate) fn write_token_or_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if is_token(s) {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

/// Writes text that is not a quoted-string (a scheme or an uninterpreted
/// parameter list) with CR and LF replaced by SP.
pub(crate) fn write_raw(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    write_runs(f, s, |b| {
        matches!(b, b'\r' | b'\n').then_some(Escape::Space)
    })
}

/// Writes `sep name=` and then the value with `write_value`, and turns the
/// separator into `", "` for the next parameter.
pub(crate) struct ParamWriter<'f, 'g> {
    f: &'f mut fmt::Formatter<'g>,
    sep: &'static str,
}

impl fmt::Debug for ParamWriter<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParamWriter")
            .field("sep", &self.sep)
            .finish()
    }
}

impl<'f, 'g> ParamWriter<'f, 'g> {
    /// Starts a list; `first_sep` goes before the first parameter (`" "`
    /// after a scheme, `""` for Authentication-Info).
    pub(crate) fn new(f: &'f mut fmt::Formatter<'g>, first_sep: &'static str) -> Self {
        Self { f, sep: first_sep }
    }

    fn name(&mut self, name: &str) -> fmt::Result {
        self.f.write_str(self.sep)?;
        self.sep = ", ";
        write_raw(self.f, name)?;
        self.f.write_char('=')
    }

    /// `name="value"`.
    pub(crate) fn quoted(&mut self, name: &str, value: &str) -> fmt::Result {
        self.name(name)?;
        write_quoted(self.f, value)
    }

    /// `name="value"` when `value` is present.
    pub(crate) fn quoted_opt(&mut self, name: &str, value: Option<&str>) -> fmt::Result {
        value.map_or(Ok(()), |v| self.quoted(name, v))
    }

    /// `name=value` for a value known to be a token.
    pub(crate) fn bare(&mut self, name: &str, value: &str) -> fmt::Result {
        self.name(name)?;
        self.f.write_str(value)
    }

    /// `name=value` for a token, `name="value"` otherwise.
    pub(crate) fn token_or_quoted(&mut self, name: &str, value: &str) -> fmt::Result {
        self.name(name)?;
        write_token_or_quoted(self.f, value)
    }

    /// `nc=0000000a`.
    pub(crate) fn nc(&mut self, nc: Option<u32>) -> fmt::Result {
        match nc {
            Some(nc) => {
                self.name("nc")?;
                write!(self.f, "{nc:08x}")
            }
            None => Ok(()),
        }
    }

    /// Unknown parameters, each as token or quoted-string.
    pub(crate) fn extra(&mut self, params: &[AuthParam<'_>]) -> fmt::Result {
        params
            .iter()
            .try_for_each(|p| self.token_or_quoted(&p.name, &p.value))
    }
}

/// Parses `true` / `false` (any case).
pub(crate) fn parse_bool(name: &'static str, value: &str) -> Result<bool, DigestError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(DigestError::InvalidValue {
            name,
            value: super::error::snippet(value),
        })
    }
}

/// Parses an `nc` value: exactly 8 hex digits (RFC 7616 §3.4).
pub(crate) fn parse_nc(value: &str) -> Result<u32, DigestError> {
    if value.len() == 8 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        u32::from_str_radix(value, 16).map_err(|_| invalid_nc(value))
    } else {
        Err(invalid_nc(value))
    }
}

fn invalid_nc(value: &str) -> DigestError {
    DigestError::InvalidValue {
        name: "nc",
        value: super::error::snippet(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Result<Vec<(String, String)>, DigestError> {
        let mut lexer = Lexer::new(s)?;
        Ok(lexer
            .params()?
            .into_iter()
            .map(|p| (p.name.into_owned(), p.value.into_owned()))
            .collect())
    }

    fn pair(n: &str, v: &str) -> (String, String) {
        (n.to_owned(), v.to_owned())
    }

    #[test]
    fn tokens_and_quoted_strings() -> Result<(), DigestError> {
        assert_eq!(
            params(r#"a=b, c="d e", f = "g\"h\\i" ,j=k"#)?,
            vec![
                pair("a", "b"),
                pair("c", "d e"),
                pair("f", r#"g"h\i"#),
                pair("j", "k")
            ]
        );
        Ok(())
    }

    #[test]
    fn borrows_when_nothing_to_unescape() -> Result<(), DigestError> {
        let mut lexer = Lexer::new(r#"a="plain", b="esc\"aped""#)?;
        let list = lexer.params()?;
        assert!(matches!(
            list.first().map(|p| &p.value),
            Some(Cow::Borrowed("plain"))
        ));
        assert!(matches!(list.get(1).map(|p| &p.value), Some(Cow::Owned(_))));
        Ok(())
    }

    #[test]
    fn line_folds_are_white_space() -> Result<(), DigestError> {
        assert_eq!(
            params("a=b,\r\n c=d\r\n\t,e\r\n =\r\n \"x\r\n y\"")?,
            vec![pair("a", "b"), pair("c", "d"), pair("e", "x y")]
        );
        assert_eq!(params("a=b\r\n")?, vec![pair("a", "b")]);
        assert_eq!(
            params("a=b,\r\nc=d"),
            Err(DigestError::BadLineFold { pos: 4 })
        );
        assert_eq!(params("a=b\rc"), Err(DigestError::BadLineFold { pos: 3 }));
        assert_eq!(
            params("a=\"x\r\ny\""),
            Err(DigestError::BadLineFold { pos: 4 })
        );
        Ok(())
    }

    #[test]
    fn empty_elements_are_skipped() -> Result<(), DigestError> {
        assert_eq!(
            params(", a=b,, ,c=d,")?,
            vec![pair("a", "b"), pair("c", "d")]
        );
        Ok(())
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(params(""), Err(DigestError::Empty));
        assert_eq!(params(" \r\n "), Err(DigestError::Empty));
        assert_eq!(
            params("a=\"open"),
            Err(DigestError::UnterminatedQuote { pos: 2 })
        );
        assert_eq!(
            params("a=\"open\\"),
            Err(DigestError::UnterminatedQuote { pos: 2 })
        );
        assert_eq!(
            params("a=\"x\\\r\n y\""),
            Err(DigestError::InvalidEscape { pos: 4 })
        );
        assert_eq!(
            params("a b"),
            Err(DigestError::MissingEquals { name: "a".into() })
        );
        assert_eq!(
            params("a="),
            Err(DigestError::MissingValue { name: "a".into() })
        );
        assert_eq!(
            params("a=,b=c"),
            Err(DigestError::MissingValue { name: "a".into() })
        );
        assert_eq!(
            params("a=b c=d"),
            Err(DigestError::UnexpectedChar { pos: 4, found: 'c' })
        );
        assert_eq!(
            params("=b"),
            Err(DigestError::ExpectedToken {
                pos: 0,
                expected: "parameter name"
            })
        );
        assert_eq!(
            params("a=\"x\u{0}\""),
            Err(DigestError::UnexpectedChar {
                pos: 4,
                found: '\u{0}'
            })
        );
        assert_eq!(
            params("a=@"),
            Err(DigestError::UnexpectedChar { pos: 2, found: '@' })
        );
        assert_eq!(
            params("A=1, a=2"),
            Err(DigestError::DuplicateParam { name: "a".into() })
        );
    }

    #[test]
    fn non_ascii_is_kept_in_quoted_strings() -> Result<(), DigestError> {
        assert_eq!(
            params("a=\"J\u{e4}s\u{f8}n \\\u{e4}\"")?,
            vec![pair("a", "J\u{e4}s\u{f8}n \u{e4}")]
        );
        assert!(matches!(
            params("a=\u{e4}"),
            Err(DigestError::UnexpectedChar {
                pos: 2,
                found: '\u{e4}'
            })
        ));
        Ok(())
    }

    #[test]
    fn limits() {
        let long = "a".repeat(MAX_HEADER_LEN + 1);
        assert_eq!(
            params(&long),
            Err(DigestError::TooLong {
                len: MAX_HEADER_LEN + 1,
                max: MAX_HEADER_LEN
            })
        );
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        assert_eq!(
            params(&many.join(",")),
            Err(DigestError::TooManyParams { max: MAX_PARAMS })
        );
    }

    #[test]
    fn scheme_needs_white_space() -> Result<(), DigestError> {
        let mut lexer = Lexer::new("Digest\r\n realm=x")?;
        assert_eq!(lexer.scheme()?, "Digest");
        assert_eq!(lexer.rest(), "realm=x");
        let mut lexer = Lexer::new("Digest")?;
        assert_eq!(lexer.scheme()?, "Digest");
        assert_eq!(lexer.rest(), "");
        let mut lexer = Lexer::new("Digest\"x\"")?;
        assert_eq!(
            lexer.scheme(),
            Err(DigestError::UnexpectedChar { pos: 6, found: '"' })
        );
        let mut lexer = Lexer::new("\"Digest\"")?;
        assert!(matches!(
            lexer.scheme(),
            Err(DigestError::ExpectedToken { pos: 0, .. })
        ));
        Ok(())
    }

    #[test]
    fn nc_and_bool() {
        assert_eq!(parse_nc("00000001"), Ok(1));
        assert_eq!(parse_nc("FFFFFFFF"), Ok(u32::MAX));
        assert_eq!(parse_nc("0000000a"), Ok(10));
        for bad in ["1", "000000001", "0000000g", "+0000001", "", "0000 001"] {
            assert!(parse_nc(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_bool("stale", "TRUE"), Ok(true));
        assert_eq!(parse_bool("stale", "false"), Ok(false));
        assert!(parse_bool("stale", "yes").is_err());
    }
}
