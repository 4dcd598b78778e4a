//! Per-session counters for the call record.

use crate::SessionId;

/// Why packets were dropped, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DropCounts {
    /// From a source other than the latched one (or, before latching,
    /// neither the SDP's address nor within the latch window).
    pub stranger: u64,
    /// Over the leg's packet rate.
    pub rate_limited: u64,
    /// Not RTP or RTCP.
    pub malformed: u64,
    /// SRTP or SRTCP authentication failed (wrong key, tampered).
    pub auth_failed: u64,
    /// SRTP or SRTCP replayed.
    pub replayed: u64,
    /// An SRTP leg whose party has not given its key yet.
    pub no_key: u64,
    /// The other party's address is not known yet.
    pub no_destination: u64,
    /// Media the SDP directions say not to send (hold).
    pub on_hold: u64,
}

impl DropCounts {
    /// All drops.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.stranger
            + self.rate_limited
            + self.malformed
            + self.auth_failed
            + self.replayed
            + self.no_key
            + self.no_destination
            + self.on_hold
    }
}

/// The last reception report (RFC 3550 §6.4.1) a party sent about the media
/// it receives through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceptionQuality {
    /// Fraction lost since its previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the stream started.
    pub cumulative_lost: i32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
}

/// The counters of one leg: what its party sent in, what the relay sent to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegStats {
    /// RTP and RTCP packets received from the party and accepted.
    pub packets_in: u64,
    /// Their bytes, as received.
    pub bytes_in: u64,
    /// Packets sent to the party.
    pub packets_out: u64,
    /// Their bytes, as sent.
    pub bytes_out: u64,
    /// RTCP packets among `packets_in`.
    pub rtcp_in: u64,
    /// Packets from this party's side dropped, by reason.
    pub dropped: DropCounts,
    /// The party's last receiver report, if it sent RTCP.
    pub quality: Option<ReceptionQuality>,
}

/// Both legs' counters, returned by [`Relay::release`](crate::Relay::release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStats {
    /// The session.
    pub session: SessionId,
    /// The offerer's leg.
    pub offerer: LegStats,
    /// The answerer's leg.
    pub answerer: LegStats,
}
