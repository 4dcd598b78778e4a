//! Headers whose value is one number: `Expires`, `Min-Expires`,
//! `Content-Length`, `Max-Forwards` (RFC 3261 §20.19, §20.23, §20.14,
//! §20.22).

use std::fmt;

use crate::header::util::number_value;
use crate::header::{HeaderError, HeaderName, TypedHeader};

macro_rules! number_header {
    ($( $(#[$doc:meta])* $ty:ident => $name:ident, max $max:expr ; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct $ty(pub u32);

            impl $ty {
                /// The largest value this header accepts.
                pub const MAX: u32 = $max;

                /// The number.
                pub fn get(self) -> u32 {
                    self.0
                }
            }

            impl TypedHeader<'_> for $ty {
                const NAME: HeaderName = HeaderName::$name;
                fn parse(value: &str) -> Result<Self, HeaderError> {
                    number_value(value, Self::MAX).map(Self)
                }
            }

            impl fmt::Display for $ty {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    write!(f, "{}", self.0)
                }
            }
        )*
    };
}

number_header! {
    /// `Expires: delta-seconds` (RFC 3261 §20.19), up to 2**32-1.
    ///
    /// An overlarge value is an error ([`HeaderError::Number`]); RFC 4475
    /// §3.1.2.4 lets the element then use its default expiry.
    Expires => Expires, max u32::MAX;
    /// `Min-Expires: delta-seconds` (RFC 3261 §20.23).
    MinExpires => MinExpires, max u32::MAX;
    /// `Content-Length: 1*DIGIT` (RFC 3261 §20.14), in bytes.
    ContentLength => ContentLength, max u32::MAX;
    /// `Max-Forwards: 1*DIGIT` (RFC 3261 §20.22), 0 to 255 as the message
    /// parser also requires.
    MaxForwards => MaxForwards, max 255;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn valid_forms() {
        assert_eq!(Expires::parse("3600"), Ok(Expires(3600)));
        assert_eq!(Expires::parse(" \t0 "), Ok(Expires(0)));
        assert_eq!(Expires::parse("0000000000000000003600"), Ok(Expires(3600)));
        assert_eq!(Expires::parse("4294967295"), Ok(Expires(u32::MAX)));
        assert_eq!(MinExpires::parse("60").map(MinExpires::get), Ok(60));
        assert_eq!(ContentLength::parse("00"), Ok(ContentLength(0)));
        assert_eq!(MaxForwards::parse("70"), Ok(MaxForwards(70)));
        assert_eq!(MaxForwards::parse("255"), Ok(MaxForwards(255)));
        assert_eq!(MaxForwards::parse("0000255"), Ok(MaxForwards(255)));
    }

    #[test]
    fn display_and_round_trip() {
        assert_eq!(Expires::parse("007").unwrap().to_string(), "7");
        assert_eq!(MaxForwards(70).to_string(), "70");
        assert_eq!(assert_round_trip!(Expires, "0003600"), "3600");
        assert_eq!(assert_round_trip!(MinExpires, " 1800"), "1800");
        assert_eq!(assert_round_trip!(ContentLength, "0"), "0");
        assert_eq!(assert_round_trip!(MaxForwards, "069"), "69");
    }

    #[test]
    fn malformed() {
        assert_eq!(Expires::parse(""), Err(HeaderError::Empty));
        assert_eq!(Expires::parse("  "), Err(HeaderError::Empty));
        assert_eq!(Expires::parse("4294967296"), Err(HeaderError::Number));
        assert_eq!(
            Expires::parse("10000000000000000000000000000"),
            Err(HeaderError::Number)
        );
        assert_eq!(Expires::parse("-1"), Err(HeaderError::Number));
        assert_eq!(Expires::parse("1 2"), Err(HeaderError::Number));
        assert_eq!(Expires::parse("3600;x=1"), Err(HeaderError::Number));
        assert_eq!(
            Expires::parse("Thu, 01 Dec 1994 16:00:00 GMT"),
            Err(HeaderError::Number)
        );
        assert_eq!(MinExpires::parse("1.5"), Err(HeaderError::Number));
        assert_eq!(ContentLength::parse("0x10"), Err(HeaderError::Number));
        assert_eq!(MaxForwards::parse("256"), Err(HeaderError::Number));
        assert_eq!(MaxForwards::parse("300"), Err(HeaderError::Number));
        assert_eq!(MaxForwards::parse("٣"), Err(HeaderError::Number));
    }
}
