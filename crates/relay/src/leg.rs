//! What the proxy tells the relay about each leg of a call.

use std::fmt;
use std::net::SocketAddr;

use switchboard_media::srtp::{MasterKey, SrtpSuite};
use switchboard_proto::sdp::Direction;

/// The id of a relayed session, chosen by the caller (the proxy keeps the
/// map from its calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One of the two legs of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The party that sent the first offer (the caller).
    Offerer,
    /// The party that answered it (the callee).
    Answerer,
}

impl Side {
    /// The other leg, where this leg's media goes.
    #[must_use]
    pub const fn other(self) -> Self {
        match self {
            Self::Offerer => Self::Answerer,
            Self::Answerer => Self::Offerer,
        }
    }
}

/// How a leg carries media. Each leg is set on its own, so any pair is
/// bridged (plain to SDES, SDES to SDES with different keys, WebRTC to
/// either, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegMedia {
    /// RTP/AVP (or AVPF): plain RTP and RTCP.
    Rtp,
    /// RTP/SAVP (or SAVPF) keyed by SDES (RFC 4568); the suite the relay
    /// offers when the leg has not sent keys yet.
    Sdes(SrtpSuite),
    /// WebRTC (`UDP/TLS/RTP/SAVPF`): ICE-lite, DTLS-SRTP keys from the
    /// handshake, rtcp-mux, every stream bundled on the first stream's
    /// port; negotiated through str0m ([`Relay::answer_webrtc`],
    /// [`Relay::offer_webrtc`]).
    ///
    /// [`Relay::answer_webrtc`]: crate::Relay::answer_webrtc
    /// [`Relay::offer_webrtc`]: crate::Relay::offer_webrtc
    WebRtc,
}

impl LegMedia {
    /// SDES with the suite every SRTP phone knows (`AES_CM_128_HMAC_SHA1_80`),
    /// for a leg the relay offers SRTP to first.
    pub const SDES: Self = Self::Sdes(SrtpSuite::AesCm128HmacSha1_80);
}

/// The key one party sends with, from its `a=crypto` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerCrypto {
    /// The line's tag: the answer to that party echoes it.
    pub tag: u32,
    /// The master key and salt (the suite is the key's).
    pub key: MasterKey,
}

/// One media stream (`m=` line) of a leg, as its SDP describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOffer {
    /// Where the party said it receives RTP; `None` while unknown (the
    /// callee before its answer) or for a disabled stream.
    pub rtp: Option<SocketAddr>,
    /// Where it receives RTCP when not multiplexed (`a=rtcp`, else RTP
    /// port + 1).
    pub rtcp: Option<SocketAddr>,
    /// `a=rtcp-mux`: RTP and RTCP share one port (RFC 5761).
    pub rtcp_mux: bool,
    /// The party's direction: `sendonly` or `inactive` put the other side
    /// on hold.
    pub direction: Direction,
    /// The party's SDES key, for an [`LegMedia::Sdes`] leg.
    pub crypto: Option<PeerCrypto>,
}

impl StreamOffer {
    /// A sendrecv stream at `rtp`, RTCP on the next port, no key.
    #[must_use]
    pub fn at(rtp: SocketAddr) -> Self {
        Self {
            rtp: Some(rtp),
            rtcp: Some(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))),
            rtcp_mux: false,
            direction: Direction::SendRecv,
            crypto: None,
        }
    }

    /// This stream with the party's SDES key.
    #[must_use]
    pub fn with_crypto(mut self, crypto: PeerCrypto) -> Self {
        self.crypto = Some(crypto);
        self
    }

    /// A stream whose party is not known yet (the callee at offer time):
    /// no address, no key, sendrecv.
    #[must_use]
    pub const fn pending(rtcp_mux: bool) -> Self {
        Self {
            rtp: None,
            rtcp: None,
            rtcp_mux,
            direction: Direction::SendRecv,
            crypto: None,
        }
    }
}

/// One leg: how it carries media and its streams, in `m=` order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegOffer {
    /// Plain RTP or SDES-SRTP.
    pub media: LegMedia,
    /// The streams; the two legs of a session have as many, paired by index.
    pub streams: Vec<StreamOffer>,
}

impl LegOffer {
    /// A leg of one stream: SDES with the stream key's suite when it has a
    /// key, plain RTP otherwise.
    #[must_use]
    pub fn single(stream: StreamOffer) -> Self {
        let media = stream
            .crypto
            .as_ref()
            .map_or(LegMedia::Rtp, |c| LegMedia::Sdes(c.key.suite()));
        Self {
            media,
            streams: vec![stream],
        }
    }
}
