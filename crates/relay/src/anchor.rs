//! SDP anchoring: what a party's description says about its leg, and the
//! description the other party receives, rewritten so that media flows
//! through the relay.
//!
//! The same rewrite serves the offer (the answerer's allocation, sent to
//! the answerer) and the answer (the offerer's allocation, sent to the
//! offerer): connection address, ports, `a=rtcp`, `a=rtcp-mux`, the
//! profile and `a=crypto` become the relay's, and ICE attributes, which
//! would lead the party around the relay, are removed.
//!
//! A WebRTC description (`UDP/TLS/RTP/SAVPF`, or any `a=fingerprint`) is
//! a [`LegMedia::WebRtc`] leg: the browser gets str0m's descriptions from
//! the relay, and the plain party gets [`webrtc_to_plain`]'s.

use std::net::{IpAddr, SocketAddr};

use switchboard_media::srtp::{MasterKey, SrtpSuite};
use switchboard_proto::sdp::{
    Attribute, Crypto, Direction, InlineKey, MediaDescription, Protocol, SessionDescription,
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

/// DTLS-SRTP's attribute (RFC 8122): its presence makes a leg WebRTC.
const FINGERPRINT: &str = "fingerprint";

/// The encodings of a WebRTC `m=` line that are not media a SIP phone
/// plays: retransmission, redundancy and forward error correction.
const REPAIR_ENCODINGS: [&str; 4] = ["rtx", "red", "ulpfec", "flexfec-03"];

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
    if is_webrtc(sdp) {
        return Ok(webrtc_leg_offer(sdp));
    }
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

/// Whether a description is a browser's: a DTLS-SRTP profile
/// (`UDP/TLS/RTP/SAVP(F)`) or an `a=fingerprint` line.
#[must_use]
pub fn is_webrtc(sdp: &SessionDescription) -> bool {
    sdp.attribute(FINGERPRINT).is_some()
        || sdp.media.iter().any(|media| {
            matches!(
                media.protocol,
                Protocol::UdpTlsRtpSavp | Protocol::UdpTlsRtpSavpf
            ) || media.attribute(FINGERPRINT).is_some()
        })
}

/// A WebRTC leg: rtcp-mux and the directions of each `m=` line; no
/// address (ICE finds it) and no SDES key (DTLS makes them).
fn webrtc_leg_offer(sdp: &SessionDescription) -> LegOffer {
    let streams = sdp
        .media
        .iter()
        .enumerate()
        .map(|(index, media)| StreamOffer {
            direction: if media.port == 0 {
                Direction::Inactive
            } else {
                sdp.media_direction(index).unwrap_or_default()
            },
            ..StreamOffer::pending(true)
        })
        .collect();
    LegOffer {
        media: LegMedia::WebRtc,
        streams,
    }
}

/// A browser's description (`webrtc`: its offer, or its answer to the
/// relay's offer) as the plain or SDES party receives it: `relay_ip` and
/// the allocation's ports, `RTP/AVP` (or `RTP/SAVP` with the relay's key),
/// the browser's directions, and of its formats only those the relay's
/// side took (`accepted`: str0m's answer to that offer; `None`: all) minus
/// retransmission and error correction. Everything of WebRTC's own
/// (ICE, DTLS, BUNDLE, `a=mid`, `a=ssrc`, `a=extmap`, `a=rtcp-fb`) goes;
/// a stream that is not RTP or kept no format is disabled (port 0).
///
/// # Errors
///
/// [`AnchorError::StreamCount`] when the allocation is for another number
/// of streams.
pub fn webrtc_to_plain(
    webrtc: &SessionDescription,
    relay_ip: IpAddr,
    leg: &LegAllocation,
    accepted: Option<&SessionDescription>,
) -> Result<SessionDescription, AnchorError> {
    if webrtc.media.len() != leg.streams.len() {
        return Err(AnchorError::StreamCount {
            sdp: webrtc.media.len(),
            allocated: leg.streams.len(),
        });
    }
    let mut plain = webrtc.clone();
    plain.set_connection_address(relay_ip);
    plain
        .attributes
        .retain(|a| matches!(a, Attribute::Direction(_)));
    for (index, (media, stream)) in plain.media.iter_mut().zip(&leg.streams).enumerate() {
        let direction = webrtc.media_direction(index).unwrap_or_default();
        let taken = accepted.map(|answer| {
            answer
                .media
                .get(index)
                .filter(|m| m.port != 0)
                .map(|m| m.payload_types().collect::<Vec<_>>())
                .unwrap_or_default()
        });
        let formats: Vec<String> = media
            .payload_types()
            .filter(|pt| taken.as_ref().is_none_or(|taken| taken.contains(pt)))
            .filter(|pt| {
                media.rtpmap(*pt).is_none_or(|map| {
                    !REPAIR_ENCODINGS
                        .iter()
                        .any(|name| map.encoding_name.eq_ignore_ascii_case(name))
                })
            })
            .map(|pt| pt.to_string())
            .collect();
        media.connections.clear();
        media.bandwidths.clear();
        let usable = media.port != 0 && media.protocol.is_rtp() && !formats.is_empty();
        media.attributes.retain(|a| match a {
            Attribute::RtpMap(map) => formats.contains(&map.payload_type.to_string()),
            Attribute::Fmtp(fmtp) => formats.contains(&fmtp.format),
            Attribute::Ptime(_) | Attribute::MaxPtime(_) => true,
            _ => false,
        });
        if !usable {
            media.set_port(0);
            media.protocol = profile(&Protocol::RtpAvp, leg.media);
            media.attributes.clear();
            continue;
        }
        media.formats = formats;
        media.set_port(stream.rtp_port);
        media.protocol = profile(&Protocol::RtpAvp, leg.media);
        media.set_direction(direction);
        match stream.rtcp_port {
            Some(port) => media
                .attributes
                .push(Attribute::Rtcp(switchboard_proto::sdp::Rtcp::new(port))),
            None => media.attributes.push(Attribute::property(RTCP_MUX)),
        }
        if let Some(crypto) = &stream.crypto {
            media
                .attributes
                .push(Attribute::Crypto(crypto_line(crypto)));
        }
    }
    Ok(plain)
}

/// The relay's answer to a browser (str0m's, `answer`) made to match what
/// the other party answered (`other`): its directions (a stream it holds
/// or refused is `inactive`, `sendonly` or `recvonly` for the browser too)
/// and, when it kept some of them, only the payload types it kept (with
/// their `a=rtpmap`, `a=fmtp` and `a=rtcp-fb`), so the browser sends only
/// what the phone takes. The text is returned as it is when nothing
/// changes.
#[must_use]
pub fn webrtc_answer_matching(answer: &str, other: &SessionDescription) -> String {
    let Ok(mut parsed) = SessionDescription::parse(answer) else {
        return answer.to_owned();
    };
    let mut changed = false;
    for (index, media) in parsed.media.iter_mut().enumerate() {
        if media.port == 0 {
            continue;
        }
        let Some(theirs) = other.media.get(index) else {
            continue;
        };
        let wanted = if theirs.port == 0 {
            Direction::Inactive
        } else {
            other.media_direction(index).unwrap_or_default()
        };
        if media.direction().unwrap_or_default() != wanted {
            media.set_direction(wanted);
            changed = true;
        }
        let kept: Vec<u8> = theirs.payload_types().collect();
        let ours: Vec<u8> = media.payload_types().collect();
        let common: Vec<u8> = ours
            .iter()
            .copied()
            .filter(|pt| kept.contains(pt))
            .collect();
        if theirs.port == 0 || common.is_empty() || common.len() == ours.len() {
            continue;
        }
        media.formats = common.iter().map(u8::to_string).collect();
        media.attributes.retain(|a| match a {
            Attribute::RtpMap(map) => common.contains(&map.payload_type),
            Attribute::Fmtp(fmtp) => fmtp.payload_type().is_none_or(|pt| common.contains(&pt)),
            Attribute::Value { name, value } if name == "rtcp-fb" => value
                .split_whitespace()
                .next()
                .and_then(|pt| pt.parse::<u8>().ok())
                .is_none_or(|pt| common.contains(&pt)),
            _ => true,
        });
        changed = true;
    }
    if changed {
        parsed.to_string()
    } else {
        answer.to_owned()
    }
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
