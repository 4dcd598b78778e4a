//! What the relay gives back for a session: its ports and keys, which the
//! SDP helpers write into the descriptions each party receives.

use switchboard_media::srtp::MasterKey;

use crate::{LegMedia, SessionId};

/// The relay's side of one stream towards one party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamAllocation {
    /// The local port the party sends RTP (and muxed RTCP) to.
    pub rtp_port: u16,
    /// The local RTCP port, `None` with rtcp-mux.
    pub rtcp_port: Option<u16>,
    /// The key the relay encrypts with towards this party (SDES legs), and
    /// the tag to put on its `a=crypto` line.
    pub crypto: Option<RelayCrypto>,
}

/// The relay's SDES key for one stream of one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayCrypto {
    /// The tag of the `a=crypto` line: 1 in an offer, the party's own tag
    /// in an answer to it.
    pub tag: u32,
    /// The key, generated from the relay's RNG.
    pub key: MasterKey,
}

/// The relay's side of one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegAllocation {
    /// How this leg carries media.
    pub media: LegMedia,
    /// One per stream, in `m=` order.
    pub streams: Vec<StreamAllocation>,
}

/// The relay's ports and keys for both legs of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The session.
    pub session: SessionId,
    /// Towards the offerer: what the answer it receives advertises.
    pub offerer: LegAllocation,
    /// Towards the answerer: what the offer it receives advertises.
    pub answerer: LegAllocation,
}
