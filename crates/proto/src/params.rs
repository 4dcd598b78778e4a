//! Parameter lists: `;name=value;flag` as found after URIs and header values.

use crate::text::{find_unquoted, is_token_byte, quoted_len, trim};

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
        let params = Self { text };
        let mut rest = text;
        while !rest.is_empty() {
            let body = trim(rest.strip_prefix(';')?);
            let end = find_unquoted(body, b';').unwrap_or(body.len());
            let (one, tail) = body.split_at(end);
            check_param(trim(one), syntax)?;
            rest = trim(tail);
        }
        Some(params)
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

fn check_param(one: &str, syntax: ParamSyntax) -> Option<()> {
    let (name, value) = match one.split_once('=') {
        Some((n, v)) => (trim(n), Some(trim(v))),
        None => (one, None),
    };
    let name_ok = match syntax {
        ParamSyntax::Header => crate::text::is_token(name),
        ParamSyntax::Uri => !name.is_empty() && name.bytes().all(is_uri_param_byte),
    };
    if !name_ok {
        return None;
    }
    let Some(value) = value else { return Some(()) };
    let ok = match syntax {
        ParamSyntax::Header => {
            if value.starts_with('"') {
                quoted_len(value) == Some(value.len())
            } else if value.starts_with('[') {
                value.ends_with(']')
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.' | b'[' | b']'))
            } else {
                !value.is_empty()
                    && value
                        .bytes()
                        .all(|b| is_token_byte(b) || b == b':' || b == b'[' || b == b']')
            }
        }
        ParamSyntax::Uri => value.bytes().all(is_uri_param_byte),
    };
    ok.then_some(())
}

/// `paramchar` of RFC 3261 (escapes are checked loosely: `%` is allowed).
pub(crate) fn is_uri_param_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'!'
                | b'~'
                | b'*'
                | b'\''
                | b'('
                | b')'
                | b'%'
                | b'['
                | b']'
                | b'/'
                | b':'
                | b'&'
                | b'+'
                | b'$'
        )
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
