//! `Replaces` (RFC 3891 §6.1).

use std::fmt;

use crate::header::util::{is_call_id, token_param, write_param};
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::{ParamSyntax, Params};
use crate::text::trim;

/// `Replaces: callid *(;replaces-param)`: the dialog to replace.
///
/// `to-tag` and `from-tag` are mandatory; `params` holds every parameter as
/// written, those two and `early-only` included. The tags and the Call-ID
/// compare byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaces<'a> {
    /// The Call-ID of the dialog.
    pub call_id: &'a str,
    /// The `to-tag` parameter.
    pub to_tag: &'a str,
    /// The `from-tag` parameter.
    pub from_tag: &'a str,
    /// True when `early-only` is present: only replace an early dialog.
    pub early_only: bool,
    /// All parameters, the ones above included.
    pub params: Params<'a>,
}

impl<'a> TypedHeader<'a> for Replaces<'a> {
    const NAME: HeaderName = HeaderName::Replaces;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let value = trim(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        // A Call-ID holds no ';' but may hold quotes and angle brackets, so
        // the split is on the first ';' whatever comes before it.
        let end = value.find(';').unwrap_or(value.len());
        let (call_id, params) = value.split_at(end);
        let call_id = trim(call_id);
        if !is_call_id(call_id) {
            return Err(HeaderError::Syntax);
        }
        let params = Params::parse(trim(params), ParamSyntax::Header).ok_or(HeaderError::Params)?;
        let to_tag = token_param(&params, "to-tag")?.ok_or(HeaderError::Syntax)?;
        let from_tag = token_param(&params, "from-tag")?.ok_or(HeaderError::Syntax)?;
        Ok(Self {
            call_id,
            to_tag,
            from_tag,
            early_only: params.has("early-only"),
            params,
        })
    }
}

impl fmt::Display for Replaces<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.call_id)?;
        write_param(f, &self.params, "to-tag", Some(self.to_tag))?;
        write_param(f, &self.params, "from-tag", Some(self.from_tag))?;
        if self.early_only && !self.params.has("early-only") {
            f.write_str(";early-only")?;
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
        let r = Replaces::parse("425928@bobster.example.org;to-tag=7743;from-tag=6472").unwrap();
        assert_eq!(r.call_id, "425928@bobster.example.org");
        assert_eq!(
            (r.to_tag, r.from_tag, r.early_only),
            ("7743", "6472", false)
        );
        let r = Replaces::parse(
            "  98732@sip.example.com \t; FROM-TAG = r33th4x0r ;To-Tag=ff87ff ; early-only ;x=1",
        )
        .unwrap();
        assert_eq!(r.call_id, "98732@sip.example.com");
        assert_eq!((r.to_tag, r.from_tag), ("ff87ff", "r33th4x0r"));
        assert!(r.early_only);
        assert_eq!(r.params.value("x"), Some("1"));
        // Call-ID characters that look like quoting.
        let r = Replaces::parse(r#"a"b<c@d>;to-tag=1;from-tag=2"#).unwrap();
        assert_eq!(r.call_id, r#"a"b<c@d>"#);
        let r = Replaces::parse("abc;to-tag=0;from-tag=0").unwrap();
        assert_eq!(r.call_id, "abc");
    }

    #[test]
    fn round_trip() {
        assert_eq!(
            assert_round_trip!(Replaces<'_>, "12345@host ; to-tag=a;from-tag=b;early-only"),
            "12345@host; to-tag=a;from-tag=b;early-only"
        );
        assert_round_trip!(Replaces<'_>, r#"x"y;from-tag=1;to-tag=2"#);
        let built = Replaces {
            call_id: "c@h",
            to_tag: "t",
            from_tag: "f",
            early_only: true,
            params: Params::default(),
        };
        assert_eq!(built.to_string(), "c@h;to-tag=t;from-tag=f;early-only");
        let again = Replaces::parse("c@h;to-tag=t;from-tag=f;early-only").unwrap();
        assert_eq!(
            (
                again.call_id,
                again.to_tag,
                again.from_tag,
                again.early_only
            ),
            ("c@h", "t", "f", true)
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(Replaces::parse(""), Err(HeaderError::Empty));
        assert_eq!(Replaces::parse("abc"), Err(HeaderError::Syntax));
        assert_eq!(Replaces::parse("abc;to-tag=1"), Err(HeaderError::Syntax));
        assert_eq!(Replaces::parse("abc;from-tag=1"), Err(HeaderError::Syntax));
        assert_eq!(
            Replaces::parse(";to-tag=1;from-tag=2"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            Replaces::parse("a b;to-tag=1;from-tag=2"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            Replaces::parse("a@b@c;to-tag=1;from-tag=2"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            Replaces::parse("abc;to-tag;from-tag=2"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            Replaces::parse("abc;to-tag=\"1\";from-tag=2"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            Replaces::parse("abc;to-tag=1;;from-tag=2"),
            Err(HeaderError::Params)
        );
        assert_eq!(
            Replaces::parse("abc;to-tag=1;from-tag=2;"),
            Err(HeaderError::Params)
        );
    }
}
