//! Parameter lists: `;name=value;flag` as found after URIs and header values.

use crate::text::{class, find_unquoted, is, quoted_len_bytes, skip_class, skip_lws, trim};

/// A borrowed parameter list, kept as the text it was parsed from.
///
/// The text is empty or starts with `;`. Look-ups are case-insensitive on the
/// name, as RFC 3261 §7.3.1 says for header parameters. Values are returned
/// raw (quoted values keep their quotes: use [`crate::unquote`] if needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    text: &'a str,
}

/// One parameter: a name and an optional value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value as written, `None` for a flag such as `lr`.
    pub value: Option<&'a str>,
}

/// Which characters a parameter value may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamSyntax {
    /// Header parameters: `token`, `host` (incl. `[v6]`) or `quoted-string`.
    Header,
    /// URI parameters: `paramchar`s (unreserved, escaped, `[]/:&+$`).
    Uri,
}

impl<'a> Params<'a> {
    /// Checks `text` (empty or starting with `;`) and wraps it.
    pub(crate) fn parse(text: &'a str, syntax: ParamSyntax) -> Option<Self> {
        Self::parse_find(text, syntax, "").map(|(p, _)| p)
    }

    /// Checks `text` like [`Params::parse`] and, in the same pass, finds the
    /// first parameter named `want` (case-insensitive; `""` finds nothing):
    /// returns what [`Params::get`] would.
    pub(crate) fn parse_find(
        text: &'a str,
        syntax: ParamSyntax,
        want: &str,
    ) -> Option<(Self, Option<Option<&'a str>>)> {
        let (_, found, stop) = Self::scan(text, 0, syntax, want)?;
        (stop == text.len()).then_some((Self { text }, found))
    }

    /// Scans the parameters that start at byte `at` of `text` (at a `;`, or
    /// none when `at` holds anything else) and stops at the first byte after
    /// a parameter that is not `;` (for header parameters, after LWS).
    /// Returns the parameters (without trailing LWS), the first one named
    /// `want` as [`Params::parse_find`] does, and where the scan stopped:
    /// when that is the end of `text`, the parameters are what
    /// [`Params::parse_find`] accepts on `text[at..]` once trimmed.
    #[inline]
    pub(crate) fn scan(
        text: &'a str,
        at: usize,
        syntax: ParamSyntax,
        want: &str,
    ) -> Option<(Self, Option<Option<&'a str>>, usize)> {
        if text.as_bytes().get(at) != Some(&b';') {
            return Some((Self::default(), None, at));
        }
        Self::scan_some(text, at, syntax, want)
    }

    /// [`Params::scan`] when `text[at]` is `;`.
    fn scan_some(
        text: &'a str,
        at: usize,
        syntax: ParamSyntax,
        want: &str,
    ) -> Option<(Self, Option<Option<&'a str>>, usize)> {
        let b = text.as_bytes();
        let mut found = None;
        let mut i = at;
        let mut content_end = at;
        while b.get(i) == Some(&b';') {
            let (name, value, end, next) = match syntax {
                ParamSyntax::Header => header_param(b, i + 1)?,
                ParamSyntax::Uri => uri_param(b, i + 1)?,
            };
            if found.is_none() && !want.is_empty() {
                let name = b.get(name.0..name.1)?;
                if name.eq_ignore_ascii_case(want.as_bytes()) {
                    found = Some(match value {
                        Some((s, e)) => Some(text.get(s..e)?),
                        None => None,
                    });
                }
            }
            content_end = end;
            i = next;
        }
        Some((
            Self {
                text: text.get(at..content_end)?,
            },
            found,
            i,
        ))
    }

    /// The text, empty or starting with `;`.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// True when there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Iterates the parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { rest: self.text }
    }

    /// The parameter named `name` (case-insensitive): `Some(None)` for a flag.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    /// The value of `name`, `None` when absent or a flag.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).flatten()
    }

    /// True when a parameter `name` is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Params`].
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        loop {
            let body = trim(self.rest.strip_prefix(';').or_else(|| {
                // Not at a separator: skip to the next one (never for checked text).
                let i = find_unquoted(self.rest, b';')?;
                self.rest.get(i + 1..)
            })?);
            let end = find_unquoted(body, b';').unwrap_or(body.len());
            let (one, tail) = body.split_at(end);
            self.rest = tail;
            let one = trim(one);
            if one.is_empty() {
                if self.rest.is_empty() {
                    return None;
                }
                continue;
            }
            return Some(match one.split_once('=') {
                Some((n, v)) => Param {
                    name: trim(n),
                    value: Some(trim(v)),
                },
                None => Param {
                    name: one,
                    value: None,
                },
            });
        }
    }
}

/// Name span, value span, where the parameter ends and where the scan
/// goes on (the next byte that is not LWS for header parameters).
type Scanned = ((usize, usize), Option<(usize, usize)>, usize, usize);

/// One header parameter starting after its `;` at `i`:
/// `LWS token LWS [= LWS (token-ish | [v6] | quoted-string)] LWS`. Same
/// acceptance as splitting on unquoted `;` and `=` and trimming each part
/// when the next byte is `;` or the end.
#[inline]
fn header_param(b: &[u8], i: usize) -> Option<Scanned> {
    let ns = skip_lws(b, i);
    let ne = skip_class(b, ns, class::TOKEN);
    if ne == ns {
        return None;
    }
    let j = skip_lws(b, ne);
    if b.get(j) != Some(&b'=') {
        return Some(((ns, ne), None, ne, j));
    }
    let vs = skip_lws(b, j + 1);
    let ve = match b.get(vs) {
        Some(b'"') => vs + quoted_len_bytes(b.get(vs..)?)?,
        Some(b'[') => {
            let ve = skip_class(b, vs, class::IPV6 | class::PARAM_VALUE);
            // `[` ... `]` holding only hex digits, `:`, `.` and brackets.
            let v = b.get(vs..ve)?;
            if v.last() != Some(&b']')
                || !v
                    .iter()
                    .all(|&c| is(c, class::IPV6) || c == b'[' || c == b']')
            {
                return None;
            }
            ve
        }
        _ => skip_class(b, vs, class::PARAM_VALUE),
    };
    if ve == vs {
        return None;
    }
    Some(((ns, ne), Some((vs, ve)), ve, skip_lws(b, ve)))
}

/// One URI parameter starting after its `;` at `i` (the URI holds no white
/// space): `1*paramchar [= *paramchar]`.
#[inline]
fn uri_param(b: &[u8], i: usize) -> Option<Scanned> {
    let ne = skip_class(b, i, class::URI_PARAM);
    if ne == i {
        return None;
    }
    let (value, j) = if b.get(ne) == Some(&b'=') {
        let ve = skip_class(b, ne + 1, class::URI_PARAM);
        (Some((ne + 1, ve)), ve)
    } else {
        (None, ne)
    };
    Some(((i, ne), value, j, j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_params() {
        let p = Params::parse(
            r#";branch=z9hG4bK1 ; rport;received=[2001:db8::1];x="a;b""#,
            ParamSyntax::Header,
        )
        .unwrap();
        assert_eq!(p.value("BRANCH"), Some("z9hG4bK1"));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.value("received"), Some("[2001:db8::1]"));
        assert_eq!(p.value("x"), Some(r#""a;b""#));
        assert_eq!(p.iter().count(), 4);
    }

    #[test]
    fn rejects_empty_params() {
        assert!(Params::parse(";;a", ParamSyntax::Header).is_none());
        assert!(Params::parse(";a=", ParamSyntax::Header).is_none());
        assert!(Params::parse(";", ParamSyntax::Header).is_none());
        assert!(Params::parse(r#";a="unterminated"#, ParamSyntax::Header).is_none());
    }
}
