//! One relayed session: two legs, their streams, latches, keys and
//! counters, and the path of one packet from one leg to the other.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand_core::RngCore;
use switchboard_media::rtcp::RtcpPacket;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpError};
use switchboard_proto::sdp::Direction;

mod streams;

use crate::latch::{Admission, Latch};
use crate::rate::{Rate, RateWindow};
use crate::stats::{DropCounts, LegStats, ReceptionQuality};
use crate::webrtc::{Drained, WebRtcLeg};
use crate::{
    Allocation, LegAllocation, LegMedia, LegOffer, RelayConfig, RelayCrypto, RelayEvent, SessionId,
    Side, StreamAllocation, StreamOffer, Transmit,
};

/// RTP and RTCP both start with version 2 in the top bits.
const VERSION_2: u8 = 0x80;
const RTP_MIN_LEN: usize = 12;
const RTCP_MIN_LEN: usize = 8;

/// RFC 5761 §4: on a muxed port, a second byte of 192–223 is RTCP (the RTP
/// payload types 64–95 that would collide are not used).
fn looks_like_rtcp(bytes: &[u8]) -> bool {
    bytes.get(1).is_some_and(|b| (192..=223).contains(b))
}

fn is_version_2(bytes: &[u8], min_len: usize) -> bool {
    bytes.len() >= min_len && bytes.first().is_some_and(|b| b & 0xC0 == VERSION_2)
}

/// When a latch window opened now closes (at once if the configured
/// window does not fit the clock).
fn latch_deadline(now: Instant, config: &RelayConfig) -> Instant {
    now.checked_add(config.latch_window).unwrap_or(now)
}

/// Where a local port belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortOwner {
    pub(crate) session: SessionId,
    pub(crate) side: Side,
    pub(crate) stream: usize,
    pub(crate) rtcp: bool,
}

#[derive(Debug)]
struct StreamState {
    rtp_port: u16,
    rtcp_mux: bool,
    direction: Direction,
    rtp_latch: Latch,
    rtcp_latch: Latch,
    /// The party's key and the context that decrypts what it sends.
    peer_key: Option<MasterKey>,
    inbound: Option<SrtpContext>,
    /// The relay's key towards the party and the context that encrypts.
    relay_crypto: Option<RelayCrypto>,
    outbound: Option<SrtpContext>,
}

impl StreamState {
    fn rtcp_port(&self) -> u16 {
        self.rtp_port.saturating_add(1)
    }

    fn allocation(&self) -> StreamAllocation {
        StreamAllocation {
            rtp_port: self.rtp_port,
            rtcp_port: (!self.rtcp_mux).then(|| self.rtcp_port()),
            crypto: self.relay_crypto.clone(),
        }
    }

    /// Takes the party's (new) SDP: addresses, direction and keys. A latch
    /// starts again only if its address changed, and a key that did not
    /// change keeps its context (its rollover counter and replay window).
    fn apply(
        &mut self,
        offer: StreamOffer,
        media: LegMedia,
        open_until: Instant,
        rng: &mut dyn RngCore,
    ) {
        self.rtcp_mux = offer.rtcp_mux;
        self.direction = offer.direction;
        self.rtp_latch.renew(offer.rtp, open_until);
        self.rtcp_latch.renew(offer.rtcp, open_until);
        let LegMedia::Sdes(default_suite) = media else {
            self.peer_key = None;
            self.inbound = None;
            self.relay_crypto = None;
            self.outbound = None;
            return;
        };
        let peer = offer.crypto;
        let peer_key = peer.as_ref().map(|p| p.key.clone());
        if peer_key != self.peer_key {
            self.inbound = peer_key.as_ref().map(SrtpContext::new);
            self.peer_key = peer_key;
        }
        let suite = self
            .peer_key
            .as_ref()
            .map_or(default_suite, MasterKey::suite);
        let tag = peer.map_or(1, |p| p.tag);
        match &mut self.relay_crypto {
            Some(relay) if relay.key.suite() == suite => relay.tag = tag,
            _ => {
                let key = MasterKey::generate(suite, rng);
                self.outbound = Some(SrtpContext::new(&key));
                self.relay_crypto = Some(RelayCrypto { tag, key });
            }
        }
    }
}

#[derive(Debug)]
struct LegState {
    media: LegMedia,
    streams: Vec<StreamState>,
    rate: RateWindow,
    stats: LegStats,
    /// When the party's last packet came (RTP or RTCP); `None` until its
    /// first.
    last_packet: Option<Instant>,
    /// The browser's `Rtc` of a WebRTC leg, once negotiated.
    webrtc: Option<Box<WebRtcLeg>>,
}

impl LegState {
    fn new(offer: LegOffer, ports: &[u16], open_until: Instant, rng: &mut dyn RngCore) -> Self {
        let streams = offer
            .streams
            .into_iter()
            .zip(ports)
            .map(|(stream, port)| {
                let mut state = StreamState::blank(*port, open_until);
                state.apply(stream, offer.media, open_until, rng);
                state
            })
            .collect();
        Self {
            media: offer.media,
            streams,
            rate: RateWindow::default(),
            stats: LegStats::default(),
            last_packet: None,
            webrtc: None,
        }
    }

    fn allocation(&self) -> LegAllocation {
        LegAllocation {
            media: self.media,
            streams: self.streams.iter().map(StreamState::allocation).collect(),
        }
    }
}

/// A datagram read on one of the relay's ports.
#[derive(Debug)]
pub(crate) struct Arrival {
    pub(crate) now: Instant,
    pub(crate) owner: PortOwner,
    pub(crate) source: SocketAddr,
    pub(crate) bytes: Bytes,
}

/// The relay's output queues.
#[derive(Debug)]
pub(crate) struct Outputs<'a> {
    pub(crate) transmits: &'a mut VecDeque<Transmit>,
    pub(crate) events: &'a mut VecDeque<RelayEvent>,
}

#[derive(Debug)]
pub(crate) struct Session {
    id: SessionId,
    legs: [LegState; 2],
    /// The allocation or the last update (an SDP from either party).
    last_update: Instant,
    pub(crate) timed_out: bool,
    /// The deadline of this session's live entry in the relay's heap.
    pub(crate) scheduled: Option<Instant>,
    /// The same for the WebRTC legs' timeouts.
    pub(crate) rtc_scheduled: Option<Instant>,
}

impl Session {
    pub(crate) fn new(
        id: SessionId,
        now: Instant,
        offers: [(LegOffer, &[u16]); 2],
        config: &RelayConfig,
        rng: &mut dyn RngCore,
    ) -> Self {
        let open_until = latch_deadline(now, config);
        let [(offerer, offerer_ports), (answerer, answerer_ports)] = offers;
        Self {
            id,
            legs: [
                LegState::new(offerer, offerer_ports, open_until, rng),
                LegState::new(answerer, answerer_ports, open_until, rng),
            ],
            last_update: now,
            timed_out: false,
            scheduled: None,
            rtc_scheduled: None,
        }
    }

    pub(crate) const fn id(&self) -> SessionId {
        self.id
    }

    /// Both legs' ports and keys.
    pub(crate) fn allocation(&self) -> Allocation {
        Allocation {
            session: self.id,
            offerer: self.leg(Side::Offerer).allocation(),
            answerer: self.leg(Side::Answerer).allocation(),
        }
    }

    fn leg(&self, side: Side) -> &LegState {
        let [offerer, answerer] = &self.legs;
        match side {
            Side::Offerer => offerer,
            Side::Answerer => answerer,
        }
    }

    /// This leg and the other one, both mutable.
    fn legs_mut(&mut self, side: Side) -> (&mut LegState, &mut LegState) {
        let [offerer, answerer] = &mut self.legs;
        match side {
            Side::Offerer => (offerer, answerer),
            Side::Answerer => (answerer, offerer),
        }
    }

    /// The RTP ports of every stream of both legs (each with its RTCP
    /// port above); a disabled stream has none.
    pub(crate) fn ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.legs
            .iter()
            .flat_map(|leg| leg.streams.iter().map(|s| s.rtp_port))
            .filter(|port| *port != streams::NO_PORT)
    }

    /// Whether the SDP directions let media flow both ways on no stream: a
    /// call on hold. The holder (`sendonly`, or `inactive`) may send music
    /// or nothing at all (baresip and many desk phones stop sending), so
    /// its silence is no sign of a dead call.
    fn held(&self) -> bool {
        let [offerer, answerer] = &self.legs;
        let both_ways = |s: &StreamState| s.direction == Direction::SendRecv;
        !offerer
            .streams
            .iter()
            .zip(&answerer.streams)
            .any(|(a, b)| both_ways(a) && both_ways(b))
    }

    /// Since when the session counts as silent. On hold: since anyone's
    /// last packet (or the last SDP). Otherwise since the last packet of
    /// the quieter of the parties that have sent: a phone that sent and
    /// then stopped (it died, or lost its network) leaves a dead call even
    /// while the other goes on talking into the void. A party that never
    /// sent does not count (one-way media, or none yet).
    pub(crate) fn silent_since(&self) -> Instant {
        let [offerer, answerer] = &self.legs;
        let legs = [offerer.last_packet, answerer.last_packet]
            .into_iter()
            .flatten()
            .map(|last| last.max(self.last_update));
        let since = if self.held() { legs.max() } else { legs.min() };
        since.unwrap_or(self.last_update)
    }

    /// When silence ends this session, if it does.
    pub(crate) fn media_deadline(&self, config: &RelayConfig) -> Option<Instant> {
        let timeout = if self.held() {
            config.hold_timeout?
        } else {
            config.media_timeout
        };
        // A timeout too large for the clock means never.
        self.silent_since().checked_add(timeout)
    }

    pub(crate) fn stream_count(&self) -> usize {
        self.leg(Side::Offerer).streams.len()
    }

    /// A new SDP from one party (re-INVITE, or the callee's answer).
    pub(crate) fn update(
        &mut self,
        now: Instant,
        side: Side,
        offer: LegOffer,
        config: &RelayConfig,
        rng: &mut dyn RngCore,
    ) -> LegAllocation {
        let open_until = latch_deadline(now, config);
        let (leg, _) = self.legs_mut(side);
        leg.media = offer.media;
        for (state, stream) in leg.streams.iter_mut().zip(offer.streams) {
            state.apply(stream, offer.media, open_until, rng);
        }
        let allocation = leg.allocation();
        self.last_update = now;
        self.timed_out = false;
        allocation
    }

    pub(crate) fn stats(&self) -> crate::SessionStats {
        crate::SessionStats {
            session: self.id,
            offerer: self.leg(Side::Offerer).stats,
            answerer: self.leg(Side::Answerer).stats,
        }
    }

    /// One datagram that arrived on one of this session's ports.
    pub(crate) fn handle_packet(
        &mut self,
        arrival: Arrival,
        config: &RelayConfig,
        mut out: Outputs<'_>,
    ) {
        let (id, owner, now) = (self.id, arrival.owner, arrival.now);
        let (inbound, outbound) = self.legs_mut(owner.side);
        if inbound.webrtc.is_some() {
            let mut received = Vec::new();
            accept_webrtc(id, arrival, inbound, config, &mut received, &mut out);
            self.forward_received(now, owner.side, received, out.transmits);
            return;
        }
        let Some(accepted) = accept(id, arrival, inbound, config, out.events) else {
            return;
        };
        inbound.last_packet = Some(now);
        forward(now, owner, accepted, inbound, outbound, out.transmits);
    }

    /// The browser's RTP (decrypted by the WebRTC leg `side`) to the other leg.
    fn forward_received(
        &mut self,
        now: Instant,
        side: Side,
        received: Vec<(usize, Bytes)>,
        transmits: &mut VecDeque<Transmit>,
    ) {
        if received.is_empty() {
            return;
        }
        let session = self.id;
        let (inbound, outbound) = self.legs_mut(side);
        for (stream, plain) in received {
            let sends = inbound
                .streams
                .get(stream)
                .is_some_and(|s| s.direction.sends());
            let owner = PortOwner {
                session,
                side,
                stream,
                rtcp: false,
            };
            let packet = Accepted {
                plain,
                rtcp: false,
                sends,
            };
            forward(now, owner, packet, inbound, outbound, transmits);
        }
        inbound.last_packet = Some(now);
    }

    /// The WebRTC leg of `side`, made the first time by `make` for the
    /// leg's first port (where every stream is bundled); `None` when the
    /// leg is not WebRTC or `make` failed.
    pub(crate) fn webrtc_leg(
        &mut self,
        side: Side,
        make: impl FnOnce(u16) -> Option<WebRtcLeg>,
    ) -> Option<&mut WebRtcLeg> {
        let (leg, _) = self.legs_mut(side);
        if leg.media != LegMedia::WebRtc {
            return None;
        }
        if leg.webrtc.is_none() {
            let port = leg.streams.first()?.rtp_port;
            leg.webrtc = Some(Box::new(make(port)?));
        }
        leg.webrtc.as_deref_mut()
    }

    /// Whether the WebRTC leg `side` waits for the browser's answer.
    pub(crate) fn webrtc_pending(&self, side: Side) -> bool {
        self.leg(side)
            .webrtc
            .as_ref()
            .is_some_and(|w| w.has_pending_offer())
    }

    /// The earliest timeout of the session's WebRTC legs.
    pub(crate) fn rtc_timeout(&self) -> Option<Instant> {
        self.legs
            .iter()
            .filter_map(|leg| leg.webrtc.as_ref()?.timeout())
            .min()
    }

    /// Time passed for the WebRTC legs: their retransmissions, consent
    /// checks and reports, and RTP str0m held back.
    pub(crate) fn handle_rtc_timeout(&mut self, now: Instant, out: Outputs<'_>) {
        for side in [Side::Offerer, Side::Answerer] {
            let (leg, _) = self.legs_mut(side);
            let Some(webrtc) = leg.webrtc.as_deref_mut() else {
                continue;
            };
            let mut received = Vec::new();
            let before = out.transmits.len();
            webrtc.handle_timeout(
                now,
                Drained {
                    transmits: &mut *out.transmits,
                    received: &mut received,
                },
            );
            count_out(&mut leg.stats, out.transmits, before);
            leg.stats.quality = webrtc.quality().or(leg.stats.quality);
            self.forward_received(now, side, received, &mut *out.transmits);
        }
    }
}

/// A packet accepted from a party: decrypted, its kind known.
struct Accepted {
    plain: Bytes,
    rtcp: bool,
    sends: bool,
}

/// Rate limit, latch check, decryption and counting of one packet from the
/// `inbound` leg; `None` when dropped (counted).
fn accept(
    session: SessionId,
    arrival: Arrival,
    leg: &mut LegState,
    config: &RelayConfig,
    events: &mut VecDeque<RelayEvent>,
) -> Option<Accepted> {
    let Arrival {
        now,
        owner,
        source,
        bytes,
    } = arrival;
    let side = owner.side;
    let dropped = &mut leg.stats.dropped;
    let stream = leg.streams.get_mut(owner.stream)?;
    let rtcp = owner.rtcp || looks_like_rtcp(&bytes);
    let rtp_ip = stream.rtp_latch.latched().map(|a| a.ip());
    let (latch, also_ip) = if owner.rtcp {
        (&mut stream.rtcp_latch, rtp_ip)
    } else {
        (&mut stream.rtp_latch, None)
    };
    let admission = latch.admit(now, source, also_ip);
    if admission == Admission::Stranger {
        drop_stranger(session, owner, source, latch, dropped, events);
        return None;
    }
    // After the source check, so that a stranger's flood (dropped cheaply
    // above) does not eat the party's budget.
    if !within_rate(session, side, now, &mut leg.rate, config, dropped, events) {
        return None;
    }
    let wire_len = bytes.len();
    let plain = match (&leg.media, &mut stream.inbound) {
        (LegMedia::Sdes(_), None) => Err(Drop::NoKey),
        (LegMedia::Sdes(_), Some(context)) => {
            let result = if rtcp {
                context.unprotect_rtcp(&bytes)
            } else {
                context.unprotect_rtp(&bytes)
            };
            result.map_err(Drop::from)
        }
        (_, _) => {
            let min_len = if rtcp { RTCP_MIN_LEN } else { RTP_MIN_LEN };
            if is_version_2(&bytes, min_len) {
                Ok(bytes)
            } else {
                Err(Drop::Malformed)
            }
        }
    };
    let plain = match plain {
        Ok(plain) => plain,
        Err(reason) => {
            reason.count(dropped);
            return None;
        }
    };
    if admission == Admission::Candidate {
        latch.latch(source);
        tracing::debug!(%session, ?side, %source, rtcp = owner.rtcp, "leg latched");
        events.push_back(RelayEvent::Latched {
            session,
            side,
            stream: owner.stream,
            rtcp: owner.rtcp,
            source,
        });
    }
    let stats = &mut leg.stats;
    stats.packets_in += 1;
    stats.bytes_in += wire_len as u64;
    if rtcp {
        stats.rtcp_in += 1;
        if let Some(quality) = reception_quality(&plain) {
            stats.quality = Some(quality);
        }
    }
    Some(Accepted {
        plain,
        rtcp,
        sends: stream.direction.sends(),
    })
}

/// One datagram to a WebRTC leg's port: the `Rtc` decides whether it
/// belongs to the browser (ICE credentials, validated address); what it
/// decrypts lands in `received`.
fn accept_webrtc(
    session: SessionId,
    arrival: Arrival,
    leg: &mut LegState,
    config: &RelayConfig,
    received: &mut Vec<(usize, Bytes)>,
    out: &mut Outputs<'_>,
) {
    let Arrival {
        now,
        owner,
        source,
        bytes,
    } = arrival;
    let side = owner.side;
    let (Some(webrtc), Some(stream)) = (leg.webrtc.as_deref_mut(), leg.streams.first_mut()) else {
        return;
    };
    // Every stream is bundled on the first port; the others hear nobody.
    let ours = owner.stream == 0 && !owner.rtcp && webrtc.accepts(now, source, &bytes);
    let latch = &mut stream.rtp_latch;
    let dropped = &mut leg.stats.dropped;
    if !ours {
        drop_stranger(session, owner, source, latch, dropped, out.events);
        return;
    }
    if !within_rate(
        session,
        side,
        now,
        &mut leg.rate,
        config,
        dropped,
        out.events,
    ) {
        return;
    }
    if latch.latched() != Some(source) {
        latch.latch(source);
        tracing::debug!(%session, ?side, %source, "WebRTC leg latched");
        out.events.push_back(RelayEvent::Latched {
            session,
            side,
            stream: 0,
            rtcp: false,
            source,
        });
    }
    leg.stats.packets_in += 1;
    leg.stats.bytes_in += bytes.len() as u64;
    let before = out.transmits.len();
    webrtc.handle_datagram(
        now,
        source,
        &bytes,
        Drained {
            transmits: &mut *out.transmits,
            received,
        },
    );
    count_out(&mut leg.stats, out.transmits, before);
    leg.stats.quality = webrtc.quality().or(leg.stats.quality);
}

/// Counts a stranger's packet, reported once per latch.
fn drop_stranger(
    session: SessionId,
    owner: PortOwner,
    source: SocketAddr,
    latch: &mut Latch,
    dropped: &mut DropCounts,
    events: &mut VecDeque<RelayEvent>,
) {
    dropped.stranger += 1;
    if !latch.stranger_reported {
        latch.stranger_reported = true;
        let side = owner.side;
        tracing::debug!(%session, ?side, %source, "packet from a stranger dropped");
        events.push_back(RelayEvent::StrangerDropped {
            session,
            side,
            stream: owner.stream,
            source,
        });
    }
}

/// Whether the leg's party is within its packet rate; over it the packet
/// is counted (and the first excess of the second reported).
fn within_rate(
    session: SessionId,
    side: Side,
    now: Instant,
    rate: &mut RateWindow,
    config: &RelayConfig,
    dropped: &mut DropCounts,
    events: &mut VecDeque<RelayEvent>,
) -> bool {
    match rate.check(now, config.max_packets_per_second) {
        Rate::Allowed => true,
        Rate::FirstExcess => {
            dropped.rate_limited += 1;
            events.push_back(RelayEvent::RateLimited { session, side });
            false
        }
        Rate::Excess => {
            dropped.rate_limited += 1;
            false
        }
    }
}

/// Counts the datagrams a leg queued after `before` as sent to its party.
fn count_out(stats: &mut LegStats, transmits: &VecDeque<Transmit>, before: usize) {
    for transmit in transmits.iter().skip(before) {
        stats.packets_out += 1;
        stats.bytes_out += transmit.bytes.len() as u64;
    }
}

/// Sends an accepted packet to the other leg's party, encrypted for it if
/// its leg is SRTP, through str0m if it is WebRTC.
fn forward(
    now: Instant,
    owner: PortOwner,
    packet: Accepted,
    inbound: &mut LegState,
    outbound: &mut LegState,
    transmits: &mut VecDeque<Transmit>,
) {
    let dropped = &mut inbound.stats.dropped;
    let Some(stream) = outbound.streams.get_mut(owner.stream) else {
        dropped.no_destination += 1;
        return;
    };
    if packet.rtcp && outbound.webrtc.is_some() {
        // RTCP ends at a WebRTC leg: str0m reports to the browser itself.
        return;
    }
    // Hold (RFC 3264 §8.4): media flows only where the sender sends and the
    // receiver receives; RTCP flows regardless.
    let flows = packet.rtcp || (packet.sends && stream.direction.receives());
    if !flows {
        dropped.on_hold += 1;
        return;
    }
    if let Some(webrtc) = outbound.webrtc.as_deref_mut() {
        let before = transmits.len();
        let mut received = Vec::new();
        let out = Drained {
            transmits,
            received: &mut received,
        };
        if webrtc.write_rtp(now, owner.stream, &packet.plain, out) {
            count_out(&mut outbound.stats, transmits, before);
        } else {
            dropped.no_destination += 1;
        }
        return;
    }
    let separate_rtcp = packet.rtcp && !stream.rtcp_mux;
    let (destination, local_port) = if separate_rtcp {
        (stream.rtcp_latch.destination(), stream.rtcp_port())
    } else {
        (stream.rtp_latch.destination(), stream.rtp_port)
    };
    let Some(destination) = destination else {
        dropped.no_destination += 1;
        return;
    };
    let bytes = match &mut stream.outbound {
        Some(context) => {
            let protected = if packet.rtcp {
                context.protect_rtcp(&packet.plain)
            } else {
                context.protect_rtp(&packet.plain)
            };
            match protected {
                Ok(bytes) => bytes,
                Err(_) => {
                    dropped.malformed += 1;
                    return;
                }
            }
        }
        None => packet.plain,
    };
    let stats = &mut outbound.stats;
    stats.packets_out += 1;
    stats.bytes_out += bytes.len() as u64;
    transmits.push_back(Transmit {
        local_port,
        destination,
        bytes,
    });
}

/// The last report block of a compound RTCP packet's SR or RR.
fn reception_quality(plain: &Bytes) -> Option<ReceptionQuality> {
    let packets = RtcpPacket::parse_compound(plain).ok()?;
    packets
        .iter()
        .filter_map(|packet| match packet {
            RtcpPacket::SenderReport(sr) => sr.reports.last(),
            RtcpPacket::ReceiverReport(rr) => rr.reports.last(),
            _ => None,
        })
        .last()
        .map(|block| ReceptionQuality {
            fraction_lost: block.fraction_lost,
            cumulative_lost: block.cumulative_lost,
            jitter: block.jitter,
        })
}

/// Why an accepted-source packet is still dropped.
enum Drop {
    NoKey,
    Malformed,
    AuthFailed,
    Replayed,
}

impl Drop {
    fn count(self, dropped: &mut DropCounts) {
        let counter = match self {
            Self::NoKey => &mut dropped.no_key,
            Self::Malformed => &mut dropped.malformed,
            Self::AuthFailed => &mut dropped.auth_failed,
            Self::Replayed => &mut dropped.replayed,
        };
        *counter += 1;
    }
}

impl From<SrtpError> for Drop {
    fn from(error: SrtpError) -> Self {
        match error {
            SrtpError::AuthenticationFailed => Self::AuthFailed,
            SrtpError::Replayed | SrtpError::TooOld => Self::Replayed,
            _ => Self::Malformed,
        }
    }
}
