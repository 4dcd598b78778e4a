//! Scripted loss and delay: act on exactly the chosen messages.

use std::fmt;
use std::time::Duration;

use crate::Packet;

/// A rule's handle, from [`crate::Network::add_rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub(crate) usize);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule{}", self.0)
    }
}

/// What a rule does to the packets it picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Drop,
    Delay(Duration),
}

type Predicate = Box<dyn FnMut(&Packet) -> bool>;

/// A scripted rule: among the packets matching a predicate, in the order
/// they are sent, act on the `nth` and the `times - 1` after it.
///
/// Every rule counts every matching packet a node sends (retransmissions
/// included, link duplicates excluded), whatever other rules do with it;
/// the first rule (in the order added) whose window holds the packet acts
/// on it. Rules apply before the link's random loss and on every transport.
///
/// ```
/// use switchboard_proto::Method;
/// use switchboard_testkit::Rule;
///
/// // Lose the first two ACKs.
/// let rule = Rule::drop(|p| p.is_request(&Method::Ack)).times(2);
/// // Lose the first retransmission of a 200 to INVITE.
/// let rule = Rule::drop(|p| p.is_response_to(200, &Method::Invite)).nth(2);
/// ```
pub struct Rule {
    pub(crate) predicate: Predicate,
    pub(crate) action: Action,
    pub(crate) first: usize,
    pub(crate) times: usize,
    pub(crate) seen: usize,
    pub(crate) hits: usize,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("action", &self.action)
            .field("first", &self.first)
            .field("times", &self.times)
            .field("seen", &self.seen)
            .field("hits", &self.hits)
            .finish_non_exhaustive()
    }
}

impl Rule {
    fn with(action: Action, predicate: impl FnMut(&Packet) -> bool + 'static) -> Self {
        Self {
            predicate: Box::new(predicate),
            action,
            first: 1,
            times: 1,
            seen: 0,
            hits: 0,
        }
    }

    /// Drops the first packet matching `predicate` (see [`Rule::nth`],
    /// [`Rule::times`]).
    pub fn drop(predicate: impl FnMut(&Packet) -> bool + 'static) -> Self {
        Self::with(Action::Drop, predicate)
    }

    /// Delays the first packet matching `predicate` by `extra` on top of
    /// the link's delay. On a datagram link this lets later packets overtake
    /// it; on a connection, later packets wait behind it.
    pub fn delay(extra: Duration, predicate: impl FnMut(&Packet) -> bool + 'static) -> Self {
        Self::with(Action::Delay(extra), predicate)
    }

    /// Starts at the `n`th matching packet (1-based; 0 counts as 1).
    #[must_use]
    pub fn nth(mut self, n: usize) -> Self {
        self.first = n.max(1);
        self
    }

    /// Acts on this many consecutive matching packets.
    #[must_use]
    pub fn times(mut self, count: usize) -> Self {
        self.times = count;
        self
    }

    /// Acts on every matching packet from the `nth` on.
    #[must_use]
    pub fn always(mut self) -> Self {
        self.times = usize::MAX;
        self
    }

    /// Counts `packet` if it matches; tells whether it falls in this rule's
    /// window.
    pub(crate) fn check(&mut self, packet: &Packet) -> bool {
        if !(self.predicate)(packet) {
            return false;
        }
        self.seen += 1;
        self.seen >= self.first && self.seen - self.first < self.times
    }
}
