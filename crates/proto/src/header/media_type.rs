//! Media types: `Content-Type` (RFC 3261 §20.15) and `Accept` (§20.1).

use std::borrow::Cow;
use std::fmt;

use crate::header::name_addr::parse_qvalue;
use crate::header::util::split_params;
use crate::header::{HeaderError, HeaderName, Headers, TypedHeader};
use crate::params::Params;
use crate::text::{is_token, trim, unquote};

/// `type/subtype *(;parameter)`. LWS around the `/` is allowed on input and
/// dropped on output. Type, subtype and parameter names compare without
/// regard to case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// The top-level type as written (`application`, `*`).
    pub main_type: &'a str,
    /// The subtype as written (`sdp`, `*`).
    pub subtype: &'a str,
    /// The parameters (`;charset=utf-8`); values are raw, quotes kept.
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses `type/subtype;params`. With `wildcards`, `*/*` and `type/*`
    /// are allowed (media ranges of `Accept`).
    fn parse_value(value: &'a str, wildcards: bool) -> Result<Self, HeaderError> {
        let (head, params) = split_params(value)?;
        let (main_type, subtype) = head.split_once('/').ok_or(HeaderError::Syntax)?;
        let (main_type, subtype) = (trim(main_type), trim(subtype));
        if !is_token(main_type) || !is_token(subtype) {
            return Err(HeaderError::Syntax);
        }
        let ok = match (main_type == "*", subtype == "*") {
            (false, false) => true,
            (true, false) => false,
            (_, true) => wildcards,
        };
        if !ok {
            return Err(HeaderError::Syntax);
        }
        Ok(Self {
            main_type,
            subtype,
            params,
        })
    }

    /// True when this is `main_type/subtype`, in any letter case. Wildcards
    /// are not expanded: see [`Accept::matches`].
    pub fn is(&self, main_type: &str, subtype: &str) -> bool {
        self.main_type.eq_ignore_ascii_case(main_type) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The value of parameter `name` (case-insensitive), unquoted.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params.value(name).map(unquote)
    }
}

impl fmt::Display for MediaType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}{}",
            self.main_type,
            self.subtype,
            self.params.as_str()
        )
    }
}

/// `Content-Type` (compact form `c`): the media type of the body. Every
/// parameter must have a value (`m-parameter = m-attribute EQUAL m-value`)
/// and wildcards are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentType<'a>(pub MediaType<'a>);

impl<'a> TypedHeader<'a> for ContentType<'a> {
    const NAME: HeaderName = HeaderName::ContentType;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let m = MediaType::parse_value(value, false)?;
        if m.params.iter().any(|p| p.value.is_none()) {
            return Err(HeaderError::Params);
        }
        Ok(Self(m))
    }
}

impl<'a> std::ops::Deref for ContentType<'a> {
    type Target = MediaType<'a>;
    fn deref(&self) -> &MediaType<'a> {
        &self.0
    }
}

impl fmt::Display for ContentType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One `Accept` element: a media range (`*/*`, `application/*`,
/// `application/sdp`) with parameters and an optional `q`.
///
/// An `Accept` header with an empty value means that nothing is acceptable
/// (RFC 3261 §20.1): its one element parses as [`HeaderError::Empty`], so
/// `headers.typed::<Accept>()` is `Some(Err(HeaderError::Empty))`; see also
/// [`Accept::nothing_acceptable`]. No `Accept` header at all (`None`) means
/// `application/sdp` for INVITE-style requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accept<'a>(pub MediaType<'a>);

impl Accept<'_> {
    /// True when this range covers `main_type/subtype` (case-insensitive,
    /// `*` matching anything).
    pub fn matches(&self, main_type: &str, subtype: &str) -> bool {
        let m = &self.0;
        if m.main_type == "*" {
            return true;
        }
        m.main_type.eq_ignore_ascii_case(main_type)
            && (m.subtype == "*" || m.subtype.eq_ignore_ascii_case(subtype))
    }

    /// The `q` parameter in thousandths (`q=0.5` is 500); 1000 when absent.
    pub fn q(&self) -> u16 {
        self.0
            .params
            .value("q")
            .and_then(parse_qvalue)
            .unwrap_or(1000)
    }

    /// True when the message has an `Accept` header and every value of it
    /// is empty: the sender accepts no body at all (RFC 3261 §20.1).
    pub fn nothing_acceptable(headers: &Headers) -> bool {
        let mut lines = headers.get_all(HeaderName::Accept).peekable();
        lines.peek().is_some() && lines.all(|v| trim(v).is_empty())
    }
}

impl<'a> TypedHeader<'a> for Accept<'a> {
    const NAME: HeaderName = HeaderName::Accept;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let m = MediaType::parse_value(value, true)?;
        if let Some(q) = m.params.get("q") {
            if q.and_then(parse_qvalue).is_none() {
                return Err(HeaderError::Params);
            }
        }
        Ok(Self(m))
    }
}

impl<'a> std::ops::Deref for Accept<'a> {
    type Target = MediaType<'a>;
    fn deref(&self) -> &MediaType<'a> {
        &self.0
    }
}

impl fmt::Display for Accept<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn content_type_forms() {
        let c = ContentType::parse("application/sdp").unwrap();
        assert!(c.is("application", "sdp"));
        assert!(c.is("APPLICATION", "SDP"));
        assert!(!c.is("application", "pidf+xml"));
        let c = ContentType::parse("Application / SDP").unwrap();
        assert_eq!((c.main_type, c.subtype), ("Application", "SDP"));
        assert!(c.is("application", "sdp"));
        let c = ContentType::parse("text/html ; charset = \"ISO-8859-4\"").unwrap();
        assert_eq!(c.param("CHARSET").as_deref(), Some("ISO-8859-4"));
        let c = ContentType::parse("multipart/mixed;boundary=\"a;b,c\"").unwrap();
        assert_eq!(c.param("boundary").as_deref(), Some("a;b,c"));
        let c = ContentType::parse("application/vnd.3gpp.sms+xml").unwrap();
        assert_eq!(c.subtype, "vnd.3gpp.sms+xml");
    }

    #[test]
    fn content_type_round_trip() {
        assert_eq!(
            assert_round_trip!(ContentType<'_>, "application / sdp"),
            "application/sdp"
        );
        assert_eq!(
            assert_round_trip!(ContentType<'_>, "text/plain ;charset=utf-8"),
            "text/plain;charset=utf-8"
        );
        assert_round_trip!(ContentType<'_>, "multipart/mixed; boundary=\"x;y\"");
    }

    #[test]
    fn content_type_malformed() {
        assert_eq!(ContentType::parse(""), Err(HeaderError::Empty));
        assert_eq!(ContentType::parse("application"), Err(HeaderError::Syntax));
        assert_eq!(ContentType::parse("application/"), Err(HeaderError::Syntax));
        assert_eq!(ContentType::parse("/sdp"), Err(HeaderError::Syntax));
        assert_eq!(ContentType::parse("a/b/c"), Err(HeaderError::Syntax));
        assert_eq!(ContentType::parse("*/*"), Err(HeaderError::Syntax));
        assert_eq!(ContentType::parse("text/*"), Err(HeaderError::Syntax));
        assert_eq!(
            ContentType::parse("app lication/sdp"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            ContentType::parse("text/plain;flag"),
            Err(HeaderError::Params)
        );
        assert_eq!(
            ContentType::parse("text/plain;a=\"x"),
            Err(HeaderError::Params)
        );
        assert_eq!(ContentType::parse("text/plain;"), Err(HeaderError::Params));
        assert_eq!(ContentType::parse(";a=b"), Err(HeaderError::Syntax));
    }

    #[test]
    fn accept_forms() {
        let a = Accept::parse("*/*").unwrap();
        assert!(a.matches("application", "sdp"));
        assert!(a.is("*", "*"));
        let a = Accept::parse("application/*;q=0.5").unwrap();
        assert!(a.matches("Application", "pidf+xml"));
        assert!(!a.matches("text", "plain"));
        assert_eq!(a.q(), 500);
        let a = Accept::parse("Application/SDP ; level=1;Q=1").unwrap();
        assert!(a.matches("application", "sdp"));
        assert!(!a.matches("application", "sdpx"));
        assert_eq!(a.q(), 1000);
        assert_eq!(a.params.value("level"), Some("1"));
        let a = Accept::parse("text/plain;flag").unwrap();
        assert_eq!(a.q(), 1000);
        assert_eq!(
            assert_round_trip!(Accept<'_>, "application / * ; q=0.1"),
            "application/*; q=0.1"
        );
        assert_eq!(assert_round_trip!(Accept<'_>, "*/*"), "*/*");
    }

    #[test]
    fn accept_malformed() {
        assert_eq!(Accept::parse(""), Err(HeaderError::Empty));
        assert_eq!(Accept::parse("  "), Err(HeaderError::Empty));
        assert_eq!(Accept::parse("*/sdp"), Err(HeaderError::Syntax));
        assert_eq!(Accept::parse("*"), Err(HeaderError::Syntax));
        assert_eq!(
            Accept::parse("application/sdp;q=2"),
            Err(HeaderError::Params)
        );
        assert_eq!(Accept::parse("application/sdp;q"), Err(HeaderError::Params));
        assert_eq!(
            Accept::parse("application/sdp;q=0.1234"),
            Err(HeaderError::Params)
        );
        assert_eq!(Accept::parse("application/sdp;;"), Err(HeaderError::Params));
    }
}
