//! Symmetric latching of one port's remote party: where its packets really
//! come from, learnt from the first ones, and the guard against a third
//! party taking the stream over.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// Whether a packet's source may feed the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The latched source.
    Known,
    /// Not latched yet, and this source may latch once the packet proves
    /// good (parses, and authenticates on an SRTP leg).
    Candidate,
    /// Anyone else: dropped.
    Stranger,
}

#[derive(Debug, Clone)]
pub(crate) struct Latch {
    /// From the party's SDP; an unspecified address (old-style hold,
    /// `c=0.0.0.0`) counts as none.
    expected: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    /// Until then any source may latch (NAT rewrites address and port).
    open_until: Instant,
    /// A stranger was reported since the last (re)start; later ones are
    /// only counted.
    pub(crate) stranger_reported: bool,
}

impl Latch {
    pub(crate) fn new(expected: Option<SocketAddr>, open_until: Instant) -> Self {
        Self {
            expected: expected.filter(|addr| !addr.ip().is_unspecified() && addr.port() != 0),
            latched: None,
            open_until,
            stranger_reported: false,
        }
    }

    /// `also_ip`: another IP this party is known to send from (its latched
    /// RTP source, for its RTCP port).
    pub(crate) fn admit(
        &self,
        now: Instant,
        source: SocketAddr,
        also_ip: Option<IpAddr>,
    ) -> Admission {
        if let Some(latched) = self.latched {
            return if latched == source {
                Admission::Known
            } else {
                Admission::Stranger
            };
        }
        // No address yet (the callee before its answer, or `c=0.0.0.0`): the
        // party sends nothing, so whoever does is not it.
        let Some(expected) = self.expected else {
            return Admission::Stranger;
        };
        let same_ip = expected.ip() == source.ip() || also_ip == Some(source.ip());
        if same_ip || now < self.open_until {
            Admission::Candidate
        } else {
            Admission::Stranger
        }
    }

    /// A new SDP from the party. The same address keeps a latch (a session
    /// refresh or a hold re-INVITE reopens no window for a hijacker, and a
    /// NAT-latched source survives resume); another address, or no latch
    /// yet, starts latching again.
    pub(crate) fn renew(&mut self, expected: Option<SocketAddr>, open_until: Instant) {
        let renewed = Self::new(expected, open_until);
        if renewed.expected != self.expected || self.latched.is_none() {
            *self = renewed;
        }
    }

    pub(crate) fn latch(&mut self, source: SocketAddr) {
        self.latched = Some(source);
    }

    pub(crate) fn latched(&self) -> Option<SocketAddr> {
        self.latched
    }

    /// Where to send to this party: its real source once latched, else
    /// what its SDP says.
    pub(crate) fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.expected)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn window_then_same_ip_only_then_latched_source_only() {
        let start = Instant::now();
        let open_until = start + Duration::from_secs(2);
        let latch = Latch::new(Some(addr("10.0.0.5:4000")), open_until);
        let nat = addr("203.0.113.7:40000");
        assert_eq!(latch.admit(start, nat, None), Admission::Candidate);
        let later = open_until + Duration::from_millis(1);
        assert_eq!(latch.admit(later, nat, None), Admission::Stranger);
        assert_eq!(
            latch.admit(later, addr("10.0.0.5:4002"), None),
            Admission::Candidate
        );
        assert_eq!(
            latch.admit(later, nat, Some(nat.ip())),
            Admission::Candidate
        );
        let mut latched = latch;
        latched.latch(nat);
        assert_eq!(latched.admit(later, nat, None), Admission::Known);
        assert_eq!(
            latched.admit(start, addr("10.0.0.5:4000"), None),
            Admission::Stranger
        );
        assert_eq!(latched.destination(), Some(nat));
    }

    #[test]
    fn unspecified_sdp_address_expects_nothing_and_latches_nobody() {
        let now = Instant::now();
        let latch = Latch::new(Some(addr("0.0.0.0:4000")), now + Duration::from_secs(2));
        assert_eq!(latch.destination(), None);
        assert_eq!(
            latch.admit(now, addr("192.0.2.1:4000"), None),
            Admission::Stranger
        );
    }
}
