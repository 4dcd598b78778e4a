//! SDP anchoring: what a party's description says about its leg, and the
//! description the other party receives, rewritten so that media flows
//! through the relay.
//!
//! The same rewrite serves the offer (the answerer's allocation, sent to
//! the answerer) and the answer (the offerer's allocation, sent to the
//! offerer): connection address, ports, `a=rtcp`, `a=rtcp-mux`, the
//! profile and `a=crypto` become the relay's, and ICE attributes, which
//! would lead the party around the relay, are removed.

use std::net::{IpAddr, SocketAddr};

use switchboard_media::srtp::{MasterKey, SrtpSuite};
use switchboard_proto::sdp::{
    Attribute, Crypto, InlineKey, MediaDescription, Protocol, SessionDescription,
};

use crate::{LegAllocation, LegMedia, LegOffer, PeerCrypto, RelayCrypto, StreamOffer};

/// The property attribute of RFC 5761.
const RTCP_MUX: &str = "rtcp-mux";

/// ICE attributes (RFC 8839): the relay is the only address either party
/// learns, so the party's own candidates go.
const ICE_ATTRIBUTES: [&str; 6] = [
    "candidate",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "end-of-candidates",
    "remote-candidates",
];

/// Why a description cannot be anchored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// An enabled stream with no `c=` line at either level.
    #[error("stream {0} has no connection address")]
    NoConnection(usize),
    /// An SRTP stream (`RTP/SAVP`) without an `a=crypto` line the relay can
    /// use (a known suite, one inline key of the right length without MKI,
    /// no session parameters).
    #[error("stream {0} is SRTP without a usable a=crypto line")]
    NoUsableCrypto(usize),
    /// The description and the allocation have different numbers of streams.
    #[error("the description has {sdp} streams, the allocation {allocated}")]
    StreamCount {
        /// `m=` lines in the description.
        sdp: usize,
        /// Streams in the allocation.
        allocated: usize,
    },
}

/// The leg a party's description (offer or answer) describes: its
/// addresses, rtcp-mux, directions and SDES keys, per `m=` line. A stream
/// with port 0 is disabled (no address). The leg is SDES when any stream
/// uses a secure profile.
///
/// # Errors
///
/// [`AnchorError::NoConnection`], [`AnchorError::NoUsableCrypto`].
pub fn leg_offer(sdp: &SessionDescription) -> Result<LegOffer, AnchorError> {
    let mut suite = None;
    let mut streams = Vec::with_capacity(sdp.media.len());
    for (index, media) in sdp.media.iter().enumerate() {
        let stream = stream_offer(sdp, index, media)?;
        if let Some(crypto) = &stream.crypto {
            suite.get_or_insert(crypto.key.suite());
        }
        streams.push(stream);
    }
    let secure = sdp.media.iter().any(|m| m.protocol.is_secure_rtp());
    let media = match suite {
        Some(suite) if secure => LegMedia::Sdes(suite),
        _ => LegMedia::Rtp,
    };
    Ok(LegOffer { media, streams })
}

fn stream_offer(
    sdp: &SessionDescription,
    index: usize,
    media: &MediaDescription,
) -> Result<StreamOffer, AnchorError> {
    let rtcp_mux = media.attribute(RTCP_MUX).is_some();
    let direction = sdp.media_direction(index).unwrap_or_default();
    let crypto = media.crypto().find_map(peer_crypto);
    if media.protocol.is_secure_rtp() && crypto.is_none() && media.port != 0 {
        return Err(AnchorError::NoUsableCrypto(index));
    }
    if media.port == 0 {
        return Ok(StreamOffer {
            direction,
            crypto,
            ..StreamOffer::pending(rtcp_mux)
        });
    }
    let ip = sdp
        .media_connection(index)
        .and_then(|c| c.ip_addr())
        .ok_or(AnchorError::NoConnection(index))?;
    let rtcp = match media.rtcp() {
        Some(rtcp) => SocketAddr::new(
            rtcp.connection
                .as_ref()
                .and_then(|c| c.ip_addr())
                .unwrap_or(ip),
            rtcp.port,
        ),
        None => SocketAddr::new(ip, media.port.saturating_add(1)),
    };
    Ok(StreamOffer {
        rtp: Some(SocketAddr::new(ip, media.port)),
        rtcp: Some(rtcp),
        rtcp_mux,
        direction,
        crypto,
    })
}

/// The key of a crypto line the relay can use: a suite it knows, one
/// inline key without MKI, no session parameters (media's SRTP contexts
/// carry no MKI and know no `UNENCRYPTED_SRTCP`, `KDR`, ...: such packets
/// would all fail authentication).
fn peer_crypto(crypto: &Crypto) -> Option<PeerCrypto> {
    let suite = crypto.suite.parse::<SrtpSuite>().ok()?;
    if !crypto.session_params.is_empty() || crypto.key_params.len() != 1 {
        return None;
    }
    let inline = crypto
        .inline_keys()
        .next()
        .filter(|key| key.mki.is_none())?;
    let key = MasterKey::from_base64(suite, &inline.key_salt).ok()?;
    Some(PeerCrypto {
        tag: crypto.tag,
        key,
    })
}

/// `sdp` (one party's offer or answer) as the other party must receive it:
/// `relay_ip` in `c=`, the allocation's ports in `m=` and `a=rtcp` (or
/// `a=rtcp-mux`), the profile of the receiving leg (`RTP/AVP` or
/// `RTP/SAVP`, keeping feedback `F`), and the relay's `a=crypto` for that
/// leg in place of the party's. Disabled streams (port 0) stay disabled.
///
/// # Errors
///
/// [`AnchorError::StreamCount`] when the allocation is for another number
/// of streams.
pub fn anchor(
    sdp: &SessionDescription,
    relay_ip: IpAddr,
    leg: &LegAllocation,
) -> Result<SessionDescription, AnchorError> {
    if sdp.media.len() != leg.streams.len() {
        return Err(AnchorError::StreamCount {
            sdp: sdp.media.len(),
            allocated: leg.streams.len(),
        });
    }
    let mut anchored = sdp.clone();
    anchored.set_connection_address(relay_ip);
    anchored
        .attributes
        .retain(|a| !ICE_ATTRIBUTES.contains(&a.name()));
    for (media, stream) in anchored.media.iter_mut().zip(&leg.streams) {
        media.connections.clear();
        media.attributes.retain(|a| {
            !matches!(a, Attribute::Rtcp(_) | Attribute::Crypto(_))
                && a.name() != RTCP_MUX
                && !ICE_ATTRIBUTES.contains(&a.name())
        });
        if media.port == 0 {
            continue;
        }
        media.set_port(stream.rtp_port);
        match stream.rtcp_port {
            Some(port) => media
                .attributes
                .push(Attribute::Rtcp(switchboard_proto::sdp::Rtcp::new(port))),
            None => media.attributes.push(Attribute::property(RTCP_MUX)),
        }
        if media.protocol.is_rtp() {
            media.protocol = profile(&media.protocol, leg.media);
        }
        if let Some(crypto) = &stream.crypto {
            media
                .attributes
                .push(Attribute::Crypto(crypto_line(crypto)));
        }
    }
    Ok(anchored)
}

/// The RTP profile a leg uses, keeping whether the party asked for RTCP
/// feedback (AVPF/SAVPF).
fn profile(original: &Protocol, media: LegMedia) -> Protocol {
    let feedback = original.as_str().ends_with('F') || original.as_str().ends_with('f');
    match (media, feedback) {
        (LegMedia::Sdes(_), false) => Protocol::RtpSavp,
        (LegMedia::Sdes(_), true) => Protocol::RtpSavpf,
        (_, false) => Protocol::RtpAvp,
        (_, true) => Protocol::RtpAvpf,
    }
}

fn crypto_line(crypto: &RelayCrypto) -> Crypto {
    Crypto::new(
        crypto.tag,
        crypto.key.suite().name(),
        InlineKey::new(crypto.key.to_base64()),
    )
}
