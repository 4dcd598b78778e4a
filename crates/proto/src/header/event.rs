//! SIP events (RFC 6665): `Event` and `Subscription-State`.

use std::fmt;

use crate::header::util::{is_event_type, number_param, split_params, token_param, write_param};
use crate::header::{HeaderError, HeaderName, TypedHeader};
use crate::params::Params;
use crate::text::is_token;

/// `Event: event-type *(;event-param)` (compact form `o`), RFC 6665 §8.2.1.
///
/// `params` holds every parameter as written, `id` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event type: a package with optional templates, separated by dots
    /// (`presence`, `presence.winfo`). Compared case-sensitively.
    pub package: &'a str,
    /// The `id` parameter (a token), which tells subscriptions in one dialog
    /// apart.
    pub id: Option<&'a str>,
    /// All parameters, `id` included.
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    /// The package without its templates (`presence` for `presence.winfo`).
    pub fn package_name(&self) -> &'a str {
        self.package.split('.').next().unwrap_or(self.package)
    }

    /// The templates after the package (`winfo` for `presence.winfo`).
    pub fn templates(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.package.split('.').skip(1)
    }
}

impl<'a> TypedHeader<'a> for Event<'a> {
    const NAME: HeaderName = HeaderName::Event;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (package, params) = split_params(value)?;
        if !is_event_type(package) {
            return Err(HeaderError::Syntax);
        }
        let id = token_param(&params, "id")?;
        Ok(Self {
            package,
            id,
            params,
        })
    }
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.package)?;
        write_param(f, &self.params, "id", self.id)?;
        f.write_str(self.params.as_str())
    }
}

/// The `substate-value` of `Subscription-State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubState<'a> {
    /// `active`
    Active,
    /// `pending`
    Pending,
    /// `terminated`
    Terminated,
    /// An extension state (a token), as written.
    Other(&'a str),
}

impl<'a> SubState<'a> {
    /// Recognises a state in any letter case; `None` when `s` is not a token.
    pub fn from_token(s: &'a str) -> Option<Self> {
        Some(if s.eq_ignore_ascii_case("active") {
            Self::Active
        } else if s.eq_ignore_ascii_case("pending") {
            Self::Pending
        } else if s.eq_ignore_ascii_case("terminated") {
            Self::Terminated
        } else if is_token(s) {
            Self::Other(s)
        } else {
            return None;
        })
    }

    /// The state as written on the wire (lower case for the known ones).
    pub fn as_str(&self) -> &'a str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Terminated => "terminated",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for SubState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `Subscription-State: substate-value *(;subexp-params)`, RFC 6665 §8.2.3.
///
/// `params` holds every parameter as written; `reason` (a token),
/// `expires` and `retry-after` (delta-seconds) are read from it and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// The state.
    pub state: SubState<'a>,
    /// The `expires` parameter, in seconds.
    pub expires: Option<u32>,
    /// The `reason` parameter as written (`deactivated`, `probation`,
    /// `rejected`, `timeout`, `giveup`, `noresource`, `invariant`, ...).
    pub reason: Option<&'a str>,
    /// The `retry-after` parameter, in seconds.
    pub retry_after: Option<u32>,
    /// All parameters, the ones above included.
    pub params: Params<'a>,
}

impl SubscriptionState<'_> {
    /// True for `terminated`.
    pub fn is_terminated(&self) -> bool {
        self.state == SubState::Terminated
    }
}

impl<'a> TypedHeader<'a> for SubscriptionState<'a> {
    const NAME: HeaderName = HeaderName::SubscriptionState;
    fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let (state, params) = split_params(value)?;
        let state = SubState::from_token(state).ok_or(HeaderError::Syntax)?;
        Ok(Self {
            state,
            expires: number_param(&params, "expires")?,
            reason: token_param(&params, "reason")?,
            retry_after: number_param(&params, "retry-after")?,
            params,
        })
    }
}

impl fmt::Display for SubscriptionState<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.state.fmt(f)?;
        write_param(f, &self.params, "reason", self.reason)?;
        write_param(f, &self.params, "expires", self.expires)?;
        write_param(f, &self.params, "retry-after", self.retry_after)?;
        f.write_str(self.params.as_str())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::header::util::assert_round_trip;

    #[test]
    fn event_forms() {
        let e = Event::parse("presence").unwrap();
        assert_eq!((e.package, e.id), ("presence", None));
        let e = Event::parse("presence.winfo ; ID = 1234 ;x").unwrap();
        assert_eq!((e.package, e.id), ("presence.winfo", Some("1234")));
        assert_eq!(e.package_name(), "presence");
        assert_eq!(e.templates().collect::<Vec<_>>(), ["winfo"]);
        assert_eq!(e.params.get("x"), Some(None));
        let e = Event::parse("refer;id=93809824").unwrap();
        assert_eq!(e.id, Some("93809824"));
        let e = Event::parse("a.b.c").unwrap();
        assert_eq!(e.templates().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn event_round_trip() {
        assert_eq!(
            assert_round_trip!(Event<'_>, "dialog ;id=1; call-id=abc"),
            "dialog;id=1; call-id=abc"
        );
        assert_round_trip!(Event<'_>, "message-summary");
        let built = Event {
            package: "refer",
            id: Some("7"),
            params: Params::default(),
        };
        assert_eq!(built.to_string(), "refer;id=7");
    }

    #[test]
    fn event_malformed() {
        assert_eq!(Event::parse(""), Err(HeaderError::Empty));
        assert_eq!(Event::parse(";id=1"), Err(HeaderError::Syntax));
        assert_eq!(Event::parse("presence."), Err(HeaderError::Syntax));
        assert_eq!(Event::parse("pres ence"), Err(HeaderError::Syntax));
        assert_eq!(Event::parse("presence;id"), Err(HeaderError::Syntax));
        assert_eq!(Event::parse("presence;id=\"1\""), Err(HeaderError::Syntax));
        assert_eq!(Event::parse("presence;id=[::1]"), Err(HeaderError::Syntax));
        assert_eq!(Event::parse("presence;;id=1"), Err(HeaderError::Params));
        assert_eq!(Event::parse("presence,dialog"), Err(HeaderError::Syntax));
    }

    #[test]
    fn subscription_state_forms() {
        let s = SubscriptionState::parse("active;expires=3600").unwrap();
        assert_eq!((s.state, s.expires), (SubState::Active, Some(3600)));
        let s = SubscriptionState::parse("PENDING").unwrap();
        assert_eq!(s.state, SubState::Pending);
        let s = SubscriptionState::parse(
            "Terminated ; Reason = noresource ; retry-after=0000120;foo=bar",
        )
        .unwrap();
        assert!(s.is_terminated());
        assert_eq!(s.reason, Some("noresource"));
        assert_eq!(s.retry_after, Some(120));
        assert_eq!(s.expires, None);
        assert_eq!(s.params.value("foo"), Some("bar"));
        let s = SubscriptionState::parse("waiting").unwrap();
        assert_eq!(s.state, SubState::Other("waiting"));
    }

    #[test]
    fn subscription_state_round_trip() {
        assert_eq!(
            assert_round_trip!(SubscriptionState<'_>, "ACTIVE ;expires=0060"),
            "active;expires=0060"
        );
        assert_round_trip!(SubscriptionState<'_>, "terminated;reason=timeout");
        assert_round_trip!(SubscriptionState<'_>, "x-state;a;b=c");
        let built = SubscriptionState {
            state: SubState::Terminated,
            expires: None,
            reason: Some("giveup"),
            retry_after: Some(30),
            params: Params::default(),
        };
        assert_eq!(built.to_string(), "terminated;reason=giveup;retry-after=30");
    }

    #[test]
    fn subscription_state_malformed() {
        assert_eq!(SubscriptionState::parse(""), Err(HeaderError::Empty));
        assert_eq!(
            SubscriptionState::parse(";expires=1"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            SubscriptionState::parse("act ive"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            SubscriptionState::parse("active;expires=soon"),
            Err(HeaderError::Number)
        );
        assert_eq!(
            SubscriptionState::parse("active;expires=4294967296"),
            Err(HeaderError::Number)
        );
        assert_eq!(
            SubscriptionState::parse("active;expires"),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            SubscriptionState::parse("terminated;reason=\"x\""),
            Err(HeaderError::Syntax)
        );
        assert_eq!(
            SubscriptionState::parse("terminated;retry-after=-1"),
            Err(HeaderError::Number)
        );
        assert_eq!(
            SubscriptionState::parse("active;expires=1;"),
            Err(HeaderError::Params)
        );
    }
}
