//! A WebRTC leg (issue 16): one str0m `Rtc` per leg, ICE-lite and
//! DTLS-SRTP on one relay port (rtcp-mux, every `m=` line bundled), in RTP
//! mode, so the relay sees each of the browser's packets decrypted and
//! writes the other leg's packets in as they come (no transcoding).
//!
//! RTCP ends here: str0m sends the browser its own reports and feedback,
//! and the other leg's RTCP is not passed on. The browser's ICE checks
//! (short-term credentials from the SDP) are the guard against strangers:
//! a datagram the `Rtc` does not accept is dropped before it touches it.
//!
//! str0m draws its own randomness for the DTLS certificate, the ICE
//! credentials and the SSRCs of this leg (not the relay's injected RNG).
//!
//! str0m panics on what it takes for a bug of its own (fail-fast): the
//! inputs from the network and the clock run under `catch_unwind`, and a
//! leg that panicked is given up (it drops everything), not the server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use bytes::Bytes;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec, CodecConfig, FormatParams};
use str0m::media::{Direction as RtcDirection, Frequency, MediaKind, Mid, Pt};
use str0m::net::{Protocol as NetProtocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use switchboard_media::rtp::RtpPacket;
use switchboard_proto::sdp::{Direction, MediaDescription, MediaType, SessionDescription};

use crate::{ReceptionQuality, Transmit};

/// The clock rate of G.711 and of the telephone events sent with it.
const NARROWBAND: u32 = 8_000;
/// The clock rate of every video payload.
const VIDEO_CLOCK: u32 = 90_000;
/// How often str0m reports what the browser said of its reception (its
/// RTCP receiver reports), for the leg's [`ReceptionQuality`].
const STATS_INTERVAL: Duration = Duration::from_secs(5);
/// The payload type the relay proposes for telephone events when it
/// answers (an answer takes the offer's own number).
const TELEPHONE_EVENT_PT: u8 = 101;

/// Why str0m refused a description; logged, never shown to a party.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum WebRtcError {
    /// The SDP did not parse as str0m reads it.
    #[error("unreadable SDP: {0}")]
    Sdp(#[from] str0m::error::SdpError),
    /// The negotiation failed.
    #[error("negotiation refused: {0}")]
    Rtc(#[from] str0m::RtcError),
    /// An answer came with no offer of ours waiting for it.
    #[error("an answer with no offer pending")]
    NoPendingOffer,
    /// str0m made no offer (not even with an ICE restart).
    #[error("no offer made")]
    NoOffer,
    /// The relay's address is not a usable ICE candidate.
    #[error("the relay address is not a usable ICE candidate")]
    Candidate,
}

/// The browser's side of one relayed session.
pub(crate) struct WebRtcLeg {
    rtc: Rtc,
    /// The relay's address and port for this leg (the one ICE candidate).
    local: SocketAddr,
    /// The `a=mid` of each stream, in `m=` order, from the last negotiation.
    mids: Vec<Option<Mid>>,
    /// The last extended sequence number written to each stream.
    sent: Vec<Option<u64>>,
    /// Our offer waiting for the browser's answer.
    pending: Option<SdpPendingOffer>,
    /// When the `Rtc` wants its next timeout input.
    timeout: Option<Instant>,
    /// str0m panicked: the leg is given up.
    broken: bool,
    /// The browser's last report of how it receives the relay's packets.
    quality: Option<ReceptionQuality>,
}

impl std::fmt::Debug for WebRtcLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcLeg")
            .field("local", &self.local)
            .field("mids", &self.mids)
            .field("pending", &self.pending.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What one input to a WebRTC leg produced for the relay: datagrams for
/// the browser, and the browser's RTP (decrypted) for the other leg.
#[derive(Debug)]
pub(crate) struct Drained<'a> {
    pub(crate) transmits: &'a mut VecDeque<Transmit>,
    /// Plain RTP from the browser, with the stream (`m=` index) it belongs to.
    pub(crate) received: &'a mut Vec<(usize, Bytes)>,
}

impl Drained<'_> {
    /// The same queues, for one more drain.
    fn reborrow(&mut self) -> Drained<'_> {
        Drained {
            transmits: &mut *self.transmits,
            received: &mut *self.received,
        }
    }
}

impl WebRtcLeg {
    /// A leg that answers a browser's offer: G.711, telephone events, VP8
    /// and H.264 only, so audio payloads pass to a SIP phone untouched.
    pub(crate) fn answering(now: Instant, local: SocketAddr) -> Result<Self, WebRtcError> {
        let mut config = base_config();
        let codecs = config.codec_config();
        codecs.enable_pcmu(true, false);
        codecs.enable_pcma(true, false);
        add_codec(codecs, TELEPHONE_EVENT_PT, Codec::Tele, NARROWBAND, None);
        codecs.enable_vp8(true);
        codecs.enable_h264(true);
        Self::new(now, local, config)
    }

    /// A leg that offers the browser what a SIP phone offered (`model`):
    /// the phone's payload types of the codecs that pass untouched.
    pub(crate) fn offering(
        now: Instant,
        local: SocketAddr,
        model: &SessionDescription,
    ) -> Result<Self, WebRtcError> {
        let mut config = base_config();
        let codecs = config.codec_config();
        let mut added = Vec::new();
        for media in &model.media {
            for pt in media.payload_types() {
                if added.contains(&pt) {
                    continue;
                }
                if let Some((codec, clock)) = passable_codec(media, pt) {
                    let format = media
                        .fmtp(pt)
                        .map(|fmtp| FormatParams::parse_line(&fmtp.params))
                        .unwrap_or_default();
                    // No channel count: "PCMU/8000", as browsers write it.
                    if let Some(clock) = Frequency::new(clock) {
                        codecs.add_config(Pt::from(pt), None, codec, clock, None, format);
                        added.push(pt);
                    }
                }
            }
        }
        Self::new(now, local, config)
    }

    fn new(now: Instant, local: SocketAddr, config: RtcConfig) -> Result<Self, WebRtcError> {
        let mut rtc = config.build(now);
        let candidate = Candidate::host(local, "udp").map_err(|_| WebRtcError::Candidate)?;
        rtc.add_local_candidate(candidate);
        Ok(Self {
            rtc,
            local,
            mids: Vec::new(),
            sent: Vec::new(),
            pending: None,
            timeout: None,
            broken: false,
            quality: None,
        })
    }

    /// Whether an offer of ours waits for the browser's answer.
    pub(crate) fn has_pending_offer(&self) -> bool {
        self.pending.is_some()
    }

    /// The browser's reception as its last RTCP receiver report told.
    pub(crate) fn quality(&self) -> Option<ReceptionQuality> {
        self.quality
    }

    /// When the leg wants [`Self::handle_timeout`] next.
    pub(crate) fn timeout(&self) -> Option<Instant> {
        self.timeout
    }

    /// The browser's offer (initial or re-INVITE): str0m's answer.
    pub(crate) fn accept_offer(
        &mut self,
        offer: &str,
        out: Drained<'_>,
    ) -> Result<String, WebRtcError> {
        let parsed = SdpOffer::from_sdp_string(offer)?;
        self.pending = None;
        let result = self.rtc.sdp_api().accept_offer(parsed);
        self.drain(out);
        let answer = self.addressed(result?.to_sdp_string());
        self.learn_mids(&answer);
        Ok(answer)
    }

    /// Our offer to the browser, made from a SIP phone's description
    /// (`model`): a stream per `m=` line the first time, the phone's
    /// directions on a re-offer. When nothing changed (a session refresh)
    /// str0m makes no offer by itself: an ICE restart on the same
    /// candidate makes one (the browser checks again, DTLS and SRTP stay).
    pub(crate) fn create_offer(
        &mut self,
        model: &SessionDescription,
        mut out: Drained<'_>,
    ) -> Option<String> {
        let mut api = self.rtc.sdp_api();
        for (index, media) in model.media.iter().enumerate() {
            let direction = rtc_direction(model, index, media);
            match self.mids.get(index).copied().flatten() {
                Some(mid) => api.set_direction(mid, direction),
                None => {
                    let kind = match media.media {
                        MediaType::Video => MediaKind::Video,
                        _ => MediaKind::Audio,
                    };
                    let mid = api.add_media(kind, direction, None, None, None);
                    set_slot(&mut self.mids, index, Some(mid));
                }
            }
        }
        let mut applied = api.apply();
        self.drain(out.reborrow());
        if applied.is_none() {
            let mut api = self.rtc.sdp_api();
            api.ice_restart(true);
            applied = api.apply();
            self.drain(out);
        }
        let (offer, pending) = applied?;
        let text = self.addressed(offer.to_sdp_string());
        self.pending = Some(pending);
        Some(text)
    }

    /// The browser's answer to our offer.
    pub(crate) fn accept_answer(
        &mut self,
        answer: &str,
        out: Drained<'_>,
    ) -> Result<(), WebRtcError> {
        let parsed = SdpAnswer::from_sdp_string(answer)?;
        let pending = self.pending.take().ok_or(WebRtcError::NoPendingOffer)?;
        let result = self.rtc.sdp_api().accept_answer(pending, parsed);
        self.drain(out);
        result?;
        Ok(())
    }

    /// Whether a datagram from `source` belongs to this leg: STUN with our
    /// credentials, or anything from an address ICE validated.
    pub(crate) fn accepts(&self, now: Instant, source: SocketAddr, bytes: &[u8]) -> bool {
        !self.broken
            && self
                .input(now, source, bytes)
                .is_some_and(|input| self.rtc.accepts(&input))
    }

    /// A datagram [`Self::accepts`] took: STUN, DTLS or SRTP, demultiplexed
    /// by str0m.
    pub(crate) fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        bytes: &[u8],
        out: Drained<'_>,
    ) {
        if let Some(input) = self.input(now, source, bytes) {
            if let Some(Err(error)) = self.guarded(|rtc| rtc.handle_input(input)) {
                tracing::debug!(%source, %error, "WebRTC datagram refused");
            }
        }
        self.drain(out);
    }

    /// The leg's timeout passed (ICE consent, DTLS retransmission, RTCP).
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: Drained<'_>) {
        if let Some(Err(error)) = self.guarded(|rtc| rtc.handle_input(Input::Timeout(now))) {
            tracing::debug!(%error, "WebRTC timeout failed");
        }
        self.drain(out);
    }

    /// Writes a plain RTP packet from the other leg into stream `stream`
    /// (str0m encrypts it and sends it with its own SSRC). `false`: not
    /// sent (no such stream, a payload type the browser did not take, or
    /// not RTP).
    pub(crate) fn write_rtp(
        &mut self,
        now: Instant,
        stream: usize,
        plain: &Bytes,
        mut out: Drained<'_>,
    ) -> bool {
        if self.broken {
            return false;
        }
        let Ok(packet) = RtpPacket::parse(plain.clone()) else {
            return false;
        };
        let Some(mid) = self.mids.get(stream).copied().flatten() else {
            return false;
        };
        let pt = Pt::from(packet.payload_type);
        let negotiated = self
            .rtc
            .media(mid)
            .is_some_and(|media| media.remote_pts().contains(&pt));
        if !negotiated {
            return false;
        }
        let last = self.sent.get(stream).copied().flatten();
        let seq = extend_sequence(last, packet.sequence);
        let mut api = self.rtc.direct_api();
        let Some(tx) = api.stream_tx_by_mid(mid, None) else {
            return false;
        };
        let write = RtpWrite::new(
            pt,
            seq.into(),
            packet.timestamp,
            now,
            packet.payload.to_vec(),
        )
        .marker(packet.marker);
        tx.write_rtp(write);
        set_slot(&mut self.sent, stream, Some(seq));
        self.drain(out.reborrow());
        // str0m's pacer releases what was written at the next time input.
        if let Some(Err(error)) = self.guarded(|rtc| rtc.handle_input(Input::Timeout(now))) {
            tracing::debug!(%error, "WebRTC write failed");
        }
        self.drain(out);
        true
    }

    fn input<'a>(&self, now: Instant, source: SocketAddr, bytes: &'a [u8]) -> Option<Input<'a>> {
        let contents = bytes.try_into().ok()?;
        Some(Input::Receive(
            now,
            Receive {
                proto: NetProtocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        ))
    }

    /// Reads the `Rtc`'s outputs until its next timeout (str0m's rule: after
    /// every input or change).
    fn drain(&mut self, out: Drained<'_>) {
        loop {
            let Some(output) = self.guarded(Rtc::poll_output) else {
                return;
            };
            match output {
                Ok(Output::Timeout(at)) => {
                    self.timeout = Some(at);
                    return;
                }
                Ok(Output::Transmit(transmit)) => out.transmits.push_back(Transmit {
                    local_port: self.local.port(),
                    destination: transmit.destination,
                    bytes: Bytes::from(Vec::from(transmit.contents)),
                }),
                Ok(Output::Event(event)) => self.on_event(event, out.received),
                Err(error) => {
                    tracing::debug!(%error, "WebRTC leg failed");
                    self.timeout = None;
                    return;
                }
            }
        }
    }

    /// Runs `f` on the `Rtc`, unless the leg was given up; a panic gives
    /// it up (`None`).
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Rtc) -> T) -> Option<T> {
        if self.broken {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(|| f(&mut self.rtc))) {
            Ok(value) => Some(value),
            Err(_) => {
                self.broken = true;
                self.timeout = None;
                tracing::error!(local = %self.local, "str0m panicked: the WebRTC leg is given up");
                None
            }
        }
    }

    fn on_event(&mut self, event: Event, received: &mut Vec<(usize, Bytes)>) {
        match event {
            Event::RtpPacket(packet) => {
                let ssrc = packet.header.ssrc;
                let mid = self.rtc.direct_api().stream_rx(&ssrc).map(|rx| rx.mid());
                let Some(stream) = mid.and_then(|mid| self.stream_of(mid)) else {
                    return;
                };
                let header = &packet.header;
                let mut plain = RtpPacket::new(
                    *header.payload_type,
                    header.sequence_number,
                    header.timestamp,
                    *header.ssrc,
                    Bytes::from(packet.payload.to_vec()),
                );
                plain.marker = header.marker;
                if let Ok(bytes) = plain.to_bytes() {
                    received.push((stream, bytes));
                }
            }
            Event::IceConnectionStateChange(state) => {
                tracing::debug!(local = %self.local, ?state, "WebRTC ICE state");
                if state == IceConnectionState::Disconnected {
                    tracing::info!(local = %self.local, "WebRTC leg disconnected");
                }
            }
            Event::Connected => tracing::debug!(local = %self.local, "WebRTC leg connected"),
            Event::MediaEgressStats(stats) => {
                if let Some(remote) = stats.remote {
                    // str0m gives the fraction as a float; RTCP's is in 1/256.
                    let fraction = stats.loss.unwrap_or(0.0).clamp(0.0, 1.0) * 255.0;
                    self.quality = Some(ReceptionQuality {
                        fraction_lost: fraction as u8,
                        cumulative_lost: i32::try_from(remote.packets_lost).unwrap_or(i32::MAX),
                        jitter: remote.jitter,
                    });
                }
            }
            _ => {}
        }
    }

    /// str0m writes port 9 and `0.0.0.0` in `m=` and `c=` (the candidate
    /// carries the address); the relay's own go there too, for the SIP
    /// middleboxes and phones' stacks that read them.
    fn addressed(&self, sdp: String) -> String {
        let Ok(mut parsed) = SessionDescription::parse(&sdp) else {
            return sdp;
        };
        for media in &mut parsed.media {
            if media.port != 0 {
                media.set_port(self.local.port());
                media.set_connection_address(self.local.ip());
            }
        }
        parsed.to_string()
    }

    fn stream_of(&self, mid: Mid) -> Option<usize> {
        self.mids.iter().position(|m| *m == Some(mid))
    }

    /// The `a=mid` of each `m=` line of a description we gave.
    fn learn_mids(&mut self, sdp: &str) {
        let Ok(parsed) = SessionDescription::parse(sdp) else {
            return;
        };
        self.mids = parsed
            .media
            .iter()
            .map(|media| media.mid().map(Mid::from))
            .collect();
    }
}

/// ICE-lite, RTP mode, no codecs yet.
fn base_config() -> RtcConfig {
    Rtc::builder()
        .set_ice_lite(true)
        .set_rtp_mode(true)
        .set_stats_interval(Some(STATS_INTERVAL))
        .clear_codecs()
}

fn add_codec(codecs: &mut CodecConfig, pt: u8, codec: Codec, clock: u32, channels: Option<u8>) {
    if let Some(clock) = Frequency::new(clock) {
        codecs.add_config(
            Pt::from(pt),
            None,
            codec,
            clock,
            channels,
            FormatParams::default(),
        );
    }
}

/// A payload type of the phone's that passes to a browser as it is: G.711,
/// telephone events, VP8, H.264; with its codec and clock rate.
fn passable_codec(media: &MediaDescription, pt: u8) -> Option<(Codec, u32)> {
    let Some(rtpmap) = media.rtpmap(pt) else {
        return match pt {
            0 => Some((Codec::PCMU, NARROWBAND)),
            8 => Some((Codec::PCMA, NARROWBAND)),
            _ => None,
        };
    };
    let name = rtpmap.encoding_name.to_ascii_lowercase();
    let codec = match name.as_str() {
        "pcmu" => Codec::PCMU,
        "pcma" => Codec::PCMA,
        "telephone-event" => Codec::Tele,
        "vp8" => Codec::Vp8,
        "h264" => Codec::H264,
        _ => return None,
    };
    let clock = if codec.is_video() {
        VIDEO_CLOCK
    } else {
        rtpmap.clock_rate
    };
    Some((codec, clock))
}

/// The direction the relay takes towards the browser: the phone's own
/// (it sends what the phone sends).
fn rtc_direction(
    model: &SessionDescription,
    index: usize,
    media: &MediaDescription,
) -> RtcDirection {
    if media.port == 0 {
        return RtcDirection::Inactive;
    }
    match model.media_direction(index).unwrap_or_default() {
        Direction::SendRecv => RtcDirection::SendRecv,
        Direction::SendOnly => RtcDirection::SendOnly,
        Direction::RecvOnly => RtcDirection::RecvOnly,
        Direction::Inactive => RtcDirection::Inactive,
    }
}

/// The 64-bit sequence number closest to `last` whose low 16 bits are `seq`.
fn extend_sequence(last: Option<u64>, seq: u16) -> u64 {
    let Some(last) = last else {
        return u64::from(seq);
    };
    let step = seq.wrapping_sub(last as u16) as i16;
    last.saturating_add_signed(i64::from(step))
}

fn set_slot<T: Copy>(slots: &mut Vec<Option<T>>, index: usize, value: Option<T>) {
    if slots.len() <= index {
        slots.resize(index + 1, None);
    }
    if let Some(slot) = slots.get_mut(index) {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_extend_across_the_wrap() {
        assert_eq!(extend_sequence(None, 65_535), 65_535);
        assert_eq!(extend_sequence(Some(65_535), 0), 65_536);
        assert_eq!(extend_sequence(Some(65_536), 65_535), 65_535);
        assert_eq!(extend_sequence(Some(10), 12), 12);
        assert_eq!(extend_sequence(Some(3), 65_534), 0);
    }
}
