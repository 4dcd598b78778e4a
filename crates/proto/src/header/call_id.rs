//! `Call-ID` (RFC 3261 §20.8).

use std::fmt;

use crate::header::util::is_call_id;
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::text::trim;

/// A `Call-ID` value: `word [ "@" word ]`, compared byte for byte.
///
/// This parse checks the grammar strictly; [`crate::Headers::call_id`]
/// gives the text the message parser accepted (any value without white
/// space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId<'a>(pub &'a str);

impl<'a> CallId<'a> {
    /// The identifier.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl<'a> TypedHeader<'a> for CallId<'a> {
    const NAME: HeaderName = HeaderName::CallId;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let value = trim(value);
        if value.is_empty() {
            Err(HeaderError::Empty)
        } else if is_call_id(value) {
            Ok(Self(value))
        } else {
            Err(HeaderError::Syntax)
        }
    }
}

impl fmt::Display for CallId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn valid_forms_and_round_trip() {
        for v in [
            "a84b4c76e66710@pc33.atlanta.com",
            "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            r#"intmeth.word%ZK-!.*_+'@word`~()<>:\"/[]?{}"#,
            "0000",
        ] {
            assert_eq!(CallId::parse(v).unwrap().as_str(), v);
            assert_eq!(assert_round_trip!(CallId<'_>, v), v);
        }
        assert_eq!(CallId::parse("  x@y\t").unwrap().as_str(), "x@y");
        // Case is significant and kept.
        assert_ne!(CallId::parse("ABC").unwrap(), CallId::parse("abc").unwrap());
    }

    #[test]
    fn malformed() {
        assert_eq!(CallId::parse(""), Err(HeaderError::Empty));
        assert_eq!(CallId::parse("a b"), Err(HeaderError::Syntax));
        assert_eq!(CallId::parse("a@b@c"), Err(HeaderError::Syntax));
        assert_eq!(CallId::parse("@b"), Err(HeaderError::Syntax));
        assert_eq!(CallId::parse("a;b"), Err(HeaderError::Syntax));
        assert_eq!(CallId::parse("a,b"), Err(HeaderError::Syntax));
        assert_eq!(CallId::parse("caf\u{e9}"), Err(HeaderError::Syntax));
    }
}
