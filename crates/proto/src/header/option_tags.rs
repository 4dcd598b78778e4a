//! Token-list headers, one element per value: `Allow` (RFC 3261 §20.5),
//! `Supported`, `Require`, `Proxy-Require`, `Unsupported` (§20.37, §20.32,
//! §20.29, §20.40) and `Allow-Events` (RFC 6665 §8.2.2).
//!
//! These are list headers: [`crate::Headers::typed_all`] splits them on
//! commas and yields one value per element. `Allow` and `Supported` may be
//! empty (`Supported:` says no extension is supported): an empty header
//! reads as one [`HeaderError::Empty`] element, which callers of those two
//! headers should take as "none".

use std::fmt;

use crate::Method;
use crate::header::util::is_event_type;
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::text::{is_token, trim};

/// One `Allow` element: a method the sender supports.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Allow(pub Method);

impl TypedHeader<'_> for Allow {
    const NAME: HeaderName = HeaderName::Allow;
    fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = trim(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        Method::from_token(value)
            .map(Self)
            .ok_or(HeaderError::Syntax)
    }
}

impl fmt::Display for Allow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! token_header {
    ($( $(#[$doc:meta])* $ty:ident => $name:ident, $check:path ; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub struct $ty<'a>(pub &'a str);

            impl<'a> $ty<'a> {
                /// The token as written.
                pub fn as_str(&self) -> &'a str {
                    self.0
                }
            }

            impl<'a> TypedHeader<'a> for $ty<'a> {
                const NAME: HeaderName = HeaderName::$name;
                fn parse(value: &'a str) -> Result<Self, HeaderError> {
                    let value = trim(value);
                    if value.is_empty() {
                        Err(HeaderError::Empty)
                    } else if $check(value) {
                        Ok(Self(value))
                    } else {
                        Err(HeaderError::Syntax)
                    }
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

token_header! {
    /// One `Supported` element: an option tag (`100rel`, `timer`, ...).
    Supported => Supported, is_token;
    /// One `Require` element: an option tag the UAS must understand.
    Require => Require, is_token;
    /// One `Proxy-Require` element: an option tag proxies must understand.
    ProxyRequire => ProxyRequire, is_token;
    /// One `Unsupported` element: an option tag the sender does not support.
    Unsupported => Unsupported, is_token;
    /// One `Allow-Events` element: an event type (`presence`,
    /// `presence.winfo`), dots separating the package from its templates.
    AllowEvents => AllowEvents, is_event_type;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn allow() {
        assert_eq!(Allow::parse("INVITE"), Ok(Allow(Method::Invite)));
        assert_eq!(Allow::parse(" PRACK\t"), Ok(Allow(Method::Prack)));
        assert_eq!(
            Allow::parse("invite"),
            Ok(Allow(Method::Extension("invite".into())))
        );
        assert_eq!(assert_round_trip!(Allow, " SUBSCRIBE "), "SUBSCRIBE");
        assert_eq!(Allow::parse(""), Err(HeaderError::Empty));
        assert_eq!(Allow::parse("INVITE ACK"), Err(HeaderError::Syntax));
        assert_eq!(Allow::parse("IN;VITE"), Err(HeaderError::Syntax));
        assert_eq!(Allow::parse("INVITE,ACK"), Err(HeaderError::Syntax));
    }

    #[test]
    fn option_tags() {
        assert_eq!(Supported::parse("100rel").unwrap().as_str(), "100rel");
        assert_eq!(Require::parse(" Timer ").unwrap().as_str(), "Timer");
        assert_eq!(ProxyRequire::parse("sec-agree").unwrap().0, "sec-agree");
        assert_eq!(Unsupported::parse("foo.bar").unwrap().0, "foo.bar");
        assert_eq!(assert_round_trip!(Supported<'_>, "\tgruu "), "gruu");
        assert_eq!(assert_round_trip!(Require<'_>, "100rel"), "100rel");
        assert_eq!(
            assert_round_trip!(ProxyRequire<'_>, "x!%*_+`'~"),
            "x!%*_+`'~"
        );
        assert_eq!(assert_round_trip!(Unsupported<'_>, "nothere"), "nothere");
        assert_eq!(Supported::parse(""), Err(HeaderError::Empty));
        assert_eq!(Require::parse("a b"), Err(HeaderError::Syntax));
        assert_eq!(ProxyRequire::parse("a;b"), Err(HeaderError::Syntax));
        assert_eq!(Unsupported::parse("\"quoted\""), Err(HeaderError::Syntax));
        assert_eq!(Supported::parse("caf\u{e9}"), Err(HeaderError::Syntax));
    }

    #[test]
    fn allow_events() {
        assert_eq!(AllowEvents::parse("presence").unwrap().0, "presence");
        assert_eq!(
            AllowEvents::parse(" presence.winfo ").unwrap().0,
            "presence.winfo"
        );
        assert_eq!(assert_round_trip!(AllowEvents<'_>, "dialog"), "dialog");
        assert_eq!(AllowEvents::parse(""), Err(HeaderError::Empty));
        assert_eq!(AllowEvents::parse("presence."), Err(HeaderError::Syntax));
        assert_eq!(AllowEvents::parse(".winfo"), Err(HeaderError::Syntax));
        assert_eq!(AllowEvents::parse("a..b"), Err(HeaderError::Syntax));
        assert_eq!(AllowEvents::parse("a;id=1"), Err(HeaderError::Syntax));
    }
}
