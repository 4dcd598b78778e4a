//! What an operator sets for one relay worker.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The limits and timers of a [`Relay`](crate::Relay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The local UDP ports the relay may hand out. RTP takes an even port
    /// and RTCP the odd one above it (RFC 3550 §11); a stream with
    /// rtcp-mux takes one port.
    pub ports: RangeInclusive<u16>,
    /// Most sessions (calls) relayed at once.
    pub max_sessions: usize,
    /// Most packets per second one leg may send into the relay (RTP and
    /// RTCP of all its streams); the rest are dropped. Only packets from
    /// the leg's own source count, so a stranger's flood cannot starve it.
    pub max_packets_per_second: u32,
    /// A session in which a party that has sent goes silent for this long
    /// (or nobody sends for this long after an SDP) is reported with
    /// [`RelayEvent::MediaTimeout`](crate::RelayEvent::MediaTimeout): one
    /// dead phone ends the call while the other still talks.
    pub media_timeout: Duration,
    /// The media timeout of a session on hold (no stream's SDP directions
    /// let media flow both ways: `sendonly` against `recvonly`,
    /// `inactive`), where silence is expected; `None`: never.
    pub hold_timeout: Option<Duration>,
    /// After an allocation or an update, how long a leg that has an SDP
    /// address but has not latched yet accepts its first packets from any
    /// address (NAT rewrites both address and port). Afterwards only the
    /// address in its SDP, or another port of the same IP, can latch it. A
    /// leg without an address (the callee before its answer) latches nobody.
    pub latch_window: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            ports: 30_000..=39_999,
            max_sessions: 2_000,
            max_packets_per_second: 400,
            media_timeout: Duration::from_secs(60),
            hold_timeout: Some(Duration::from_secs(3600)),
            latch_window: Duration::from_secs(3),
        }
    }
}
