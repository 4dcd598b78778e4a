//! `User-Agent` and `Server` (RFC 3261 §20.41, §20.35): product tokens and
//! comments, kept verbatim.

use std::fmt;

use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::text::trim;

/// Checks a product/comment text: non-empty, no control character other
/// than HTAB. The `product / comment` grammar is not enforced, since real
/// agents often stray from it.
fn check(value: &str) -> Result<&str, HeaderError> {
    let value = trim(value);
    if value.is_empty() {
        Err(HeaderError::Empty)
    } else if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        Err(HeaderError::Syntax)
    } else {
        Ok(value)
    }
}

macro_rules! product_header {
    ($( $(#[$doc:meta])* $ty:ident => $name:ident ; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub struct $ty<'a>(pub &'a str);

            impl<'a> $ty<'a> {
                /// The text as written.
                pub fn as_str(&self) -> &'a str {
                    self.0
                }
            }

            impl<'a> TypedHeader<'a> for $ty<'a> {
                const NAME: HeaderName = HeaderName::$name;
                fn parse(value: &'a str) -> Result<Self, HeaderError> {
                    check(value).map(Self)
                }
            }

            impl fmt::Display for $ty<'_> {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(self.0)
                }
            }
        )*
    };
}

product_header! {
    /// `User-Agent`: the software of the client, verbatim
    /// (`Softphone/Beta1.5 (Windows)`).
    UserAgent => UserAgent;
    /// `Server`: the software of the server, verbatim
    /// (`HomeServer v2`).
    Server => Server;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn valid_forms_and_round_trip() {
        for v in [
            "Softphone/Beta1.5",
            "HomeServer v2",
            "Linphone Desktop/4.4.0 (Ubuntu 20.04.1 LTS, Qt 5.12.8) LinphoneCore/4.5.0",
            "FPBX-15.0.16.75(16.13.0)",
            "caf\u{e9}/1\t(x)",
        ] {
            assert_eq!(UserAgent::parse(v).unwrap().as_str(), v);
            assert_eq!(assert_round_trip!(UserAgent<'_>, v), v);
            assert_eq!(assert_round_trip!(Server<'_>, v), v);
        }
        assert_eq!(
            Server::parse("  Asterisk PBX \t").unwrap().0,
            "Asterisk PBX"
        );
    }

    #[test]
    fn malformed() {
        assert_eq!(UserAgent::parse(""), Err(HeaderError::Empty));
        assert_eq!(Server::parse(" \t "), Err(HeaderError::Empty));
        assert_eq!(UserAgent::parse("a\u{0}b"), Err(HeaderError::Syntax));
        assert_eq!(Server::parse("a\r\nb"), Err(HeaderError::Syntax));
        assert_eq!(Server::parse("a\u{7f}"), Err(HeaderError::Syntax));
    }
}
