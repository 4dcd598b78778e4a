//! `Reason` (RFC 3326 §2).

use std::borrow::Cow;
use std::fmt;

use crate::header::util::{number_u16, split_params, valued_param, write_quoted};
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::text::{is_token, unquote};

/// One `Reason` element: `protocol *(;reason-params)`, e.g.
/// `SIP ;cause=200 ;text="Call completed elsewhere"` or `Q.850;cause=16`.
///
/// `params` holds every parameter as written, `cause` and `text` included.
/// `text` should be a quoted string; a bare token is accepted too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason<'a> {
    /// The protocol (`SIP`, `Q.850`, or another token), as written.
    pub protocol: &'a str,
    /// The `cause` parameter: a SIP status code or a Q.850 cause value.
    pub cause: Option<u16>,
    /// The `text` parameter, without quotes and escapes.
    pub text: Option<Cow<'a, str>>,
    /// All parameters, `cause` and `text` included.
    pub params: Params<'a>,
}

impl Reason<'_> {
    /// True when the protocol is `protocol` (case-insensitive).
    pub fn is_protocol(&self, protocol: &str) -> bool {
        self.protocol.eq_ignore_ascii_case(protocol)
    }
}

impl<'a> TypedHeader<'a> for Reason<'a> {
    const NAME: HeaderName = HeaderName::Reason;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (protocol, params) = split_params(value)?;
        if !is_token(protocol) {
            return Err(HeaderError::Syntax);
        }
        let cause = valued_param(&params, "cause")?
            .map(number_u16)
            .transpose()?;
        let text = match valued_param(&params, "text")? {
            None => None,
            Some(t) if t.starts_with('"') => Some(unquote(t)),
            Some(t) if is_token(t) => Some(Cow::Borrowed(t)),
            Some(_) => return Err(HeaderError::Syntax),
        };
        Ok(Self {
            protocol,
            cause,
            text,
            params,
        })
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.protocol)?;
        if let Some(c) = self.cause.filter(|_| !self.params.has("cause")) {
            write!(f, ";cause={c}")?;
        }
        if let Some(t) = self.text.as_deref().filter(|_| !self.params.has("text")) {
            f.write_str(";text=")?;
            write_quoted(f, t)?;
        }
        f.write_str(self.params.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn valid_forms() {
        let r = Reason::parse("SIP ;cause=200 ;text=\"Call completed elsewhere\"").unwrap();
        assert_eq!(r.protocol, "SIP");
        assert!(r.is_protocol("sip"));
        assert_eq!(r.cause, Some(200));
        assert_eq!(r.text.as_deref(), Some("Call completed elsewhere"));
        assert!(matches!(r.text, Some(Cow::Borrowed(_))));
        let r = Reason::parse("Q.850 ; CAUSE = 0016 ; TEXT=\"Terminated \\\"normally\\\", ok\"")
            .unwrap();
        assert_eq!(r.cause, Some(16));
        assert_eq!(r.text.as_deref(), Some("Terminated \"normally\", ok"));
        let r = Reason::parse("preemption;cause=1;text=UA-preemption").unwrap();
        assert_eq!(r.text.as_deref(), Some("UA-preemption"));
        let r = Reason::parse("SIP").unwrap();
        assert_eq!((r.cause, r.text), (None, None));
        let r = Reason::parse("SIP;cause=480;x-ext").unwrap();
        assert_eq!(r.params.get("x-ext"), Some(None));
    }

    #[test]
    fn round_trip() {
        assert_eq!(
            assert_round_trip!(
                Reason<'_>,
                "SIP ;cause=200 ;text=\"Call completed elsewhere\""
            ),
            "SIP;cause=200 ;text=\"Call completed elsewhere\""
        );
        assert_round_trip!(Reason<'_>, "Q.850;cause=16;text=\"a \\\"b\\\" c\"");
        assert_round_trip!(Reason<'_>, "SIP;cause=0001");
        let built = Reason {
            protocol: "SIP",
            cause: Some(603),
            text: Some(Cow::Borrowed("Say \"no\" \\ bye")),
            params: Params::default(),
        };
        let printed = built.to_string();
        assert_eq!(printed, r#"SIP;cause=603;text="Say \"no\" \\ bye""#);
        let again = Reason::parse(&printed).unwrap();
        assert_eq!((again.cause, again.text), (built.cause, built.text));
    }

    #[test]
    fn malformed() {
        assert_eq!(Reason::parse(""), Err(HeaderError::Empty));
        assert_eq!(Reason::parse(";cause=1"), Err(HeaderError::Syntax));
        assert_eq!(Reason::parse("S I P;cause=1"), Err(HeaderError::Syntax));
        assert_eq!(Reason::parse("SIP;cause"), Err(HeaderError::Syntax));
        assert_eq!(Reason::parse("SIP;cause=abc"), Err(HeaderError::Number));
        assert_eq!(Reason::parse("SIP;cause=70000"), Err(HeaderError::Number));
        assert_eq!(Reason::parse("SIP;text"), Err(HeaderError::Syntax));
        assert_eq!(Reason::parse("SIP;text=[::1]"), Err(HeaderError::Syntax));
        assert_eq!(Reason::parse("SIP;text=\"open"), Err(HeaderError::Params));
        assert_eq!(Reason::parse("SIP;;cause=1"), Err(HeaderError::Params));
    }
}
