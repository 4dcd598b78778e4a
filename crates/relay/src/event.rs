//! The relay's outputs: datagrams to send and events for the application.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::{SessionId, Side};

/// A datagram to send from one of the relay's ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local port to send from (the port the party sends to, so that
    /// its NAT and symmetric-RTP checks see one address).
    pub local_port: u16,
    /// Where to.
    pub destination: SocketAddr,
    /// The datagram.
    pub bytes: Bytes,
}

/// What the application must know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayEvent {
    /// A leg's real source was learnt from its first good packet.
    Latched {
        /// The session.
        session: SessionId,
        /// Whose packet.
        side: Side,
        /// The stream (`m=` index).
        stream: usize,
        /// Whether on the RTCP port (muxed RTCP shares the RTP latch).
        rtcp: bool,
        /// The source latched.
        source: SocketAddr,
    },
    /// A packet from a source other than the latched one was dropped
    /// (reported once per latch; [`LegStats`](crate::LegStats) counts them all).
    StrangerDropped {
        /// The session.
        session: SessionId,
        /// The leg whose port it hit.
        side: Side,
        /// The stream.
        stream: usize,
        /// The stranger.
        source: SocketAddr,
    },
    /// A leg went over its packet rate (once per one-second window).
    RateLimited {
        /// The session.
        session: SessionId,
        /// The leg.
        side: Side,
    },
    /// A party that has sent went silent for the configured media timeout
    /// (on hold: both parties for the hold timeout): the application ends
    /// the call. Reported once, until an update.
    MediaTimeout {
        /// The session.
        session: SessionId,
        /// How long since the last packet.
        idle: Duration,
    },
}
