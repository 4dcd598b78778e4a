//! What the media relay saw of a relayed call, kept in its call record:
//! per party, the packets and bytes each way and what the party's own
//! RTCP reception reports said (loss and jitter of the media it received).
//! Operators debugging one-way audio look for the leg that receives
//! nothing.

/// The relay's counters of one party's leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaLeg {
    /// RTP and RTCP packets the party sent to the relay (accepted ones).
    pub packets_in: u64,
    /// Their bytes, as received.
    pub bytes_in: u64,
    /// Packets the relay sent to the party (the other party's media).
    pub packets_out: u64,
    /// Their bytes, as sent.
    pub bytes_out: u64,
    /// Packets the party reported lost of what it received (cumulative,
    /// from its last RTCP reception report); `None` when it sent none.
    pub lost: Option<i64>,
    /// The interarrival jitter the party reported, in RTP timestamp units
    /// (1/8 ms for G.711); `None` when it sent no report.
    pub jitter: Option<u32>,
}

/// Both legs of a call anchored on the media relay. A record with one was
/// relayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallMedia {
    /// The caller's leg (the offerer's).
    pub caller: MediaLeg,
    /// The callee's leg.
    pub callee: MediaLeg,
}

impl CallMedia {
    /// Flat names of whether a call was relayed and of each party's
    /// counters (`caller_packets_in`, ...), in the order the store's
    /// columns, the CDR's CSV and `/api/v1/records` give them.
    pub const FIELDS: [&'static str; 13] = [
        "relayed",
        "caller_packets_in",
        "caller_bytes_in",
        "caller_packets_out",
        "caller_bytes_out",
        "caller_lost",
        "caller_jitter",
        "callee_packets_in",
        "callee_bytes_in",
        "callee_packets_out",
        "callee_bytes_out",
        "callee_lost",
        "callee_jitter",
    ];
}
