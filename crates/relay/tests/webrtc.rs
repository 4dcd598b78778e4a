//! WebRTC legs on a virtual clock: a second str0m `Rtc` plays the browser
//! (full ICE agent, DTLS), a plain RTP peer plays the SIP phone, and every
//! datagram between them goes through the `Relay` with fake addresses.
// Tests may unwrap and index: a panic is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction as RtcDirection, MediaKind, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Input, Output, Rtc};
use switchboard_media::rtp::RtpPacket;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};
use switchboard_proto::sdp::SessionDescription;
use switchboard_relay::anchor::{leg_offer, webrtc_answer_matching, webrtc_to_plain};
use switchboard_relay::{
    LegMedia, LegOffer, PeerCrypto, Relay, RelayConfig, RelayEvent, SessionId, Side, StreamOffer,
    Transmit,
};

const RELAY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
const BROWSER: &str = "192.0.2.30:50000";
const PHONE: &str = "192.0.2.40:4000";
const STRANGER: &str = "198.51.100.66:6666";
const SESSION: SessionId = SessionId(1);

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn relay() -> Relay {
    Relay::new(
        RelayConfig {
            ports: 40_000..=40_099,
            ..RelayConfig::default()
        },
        Box::new(StdRng::seed_from_u64(5)),
    )
}

fn rtp(seq: u16, payload: &'static [u8]) -> Bytes {
    RtpPacket::new(
        0,
        seq,
        u32::from(seq) * 160,
        0x0BAD_CAFE,
        Bytes::from_static(payload),
    )
    .to_bytes()
    .unwrap()
}

/// The browser: a full ICE agent (controlling), DTLS, G.711 only, RTP mode
/// so the test writes and reads whole RTP packets.
fn browser(now: Instant) -> Rtc {
    let mut config = Rtc::builder().set_rtp_mode(true).clear_codecs();
    config.codec_config().enable_pcmu(true, false);
    config.codec_config().enable_pcma(true, false);
    config.codec_config().enable_vp8(true);
    let mut rtc = config.build(now);
    rtc.add_local_candidate(Candidate::host(addr(BROWSER), "udp").unwrap());
    rtc
}

/// The test's network: the browser, the relay and the phone's inbox.
struct Call {
    now: Instant,
    browser: Rtc,
    relay: Relay,
    /// What the relay sent the phone.
    phone_inbox: Vec<Transmit>,
    /// The browser's events.
    events: Vec<Event>,
    /// The relay's WebRTC port (the browser's candidate pair's other end).
    webrtc_port: u16,
}

impl Call {
    /// Drains both sides and moves datagrams between them until quiet,
    /// then lets virtual time run for `span`.
    fn run(&mut self, span: Duration) {
        let end = self.now + span;
        loop {
            let browser_timeout = self.pump();
            let relay_timeout = self.relay.poll_timeout().unwrap_or(end);
            let next = browser_timeout.min(relay_timeout).min(end).max(self.now);
            if next >= end {
                self.now = end;
                self.browser.handle_input(Input::Timeout(end)).unwrap();
                self.relay.handle_timeout(end);
                self.pump();
                return;
            }
            // At least a millisecond per step: the loop always moves on.
            self.now = next.max(self.now + Duration::from_millis(1));
            self.browser.handle_input(Input::Timeout(self.now)).unwrap();
            self.relay.handle_timeout(self.now);
        }
    }

    /// Moves every queued datagram; the browser's next timeout.
    fn pump(&mut self) -> Instant {
        loop {
            let mut moved = false;
            let timeout = loop {
                match self.browser.poll_output().unwrap() {
                    Output::Timeout(at) => break at,
                    Output::Transmit(t) => {
                        assert_eq!(t.destination, SocketAddr::new(RELAY_IP, self.webrtc_port));
                        let bytes = Bytes::from(Vec::from(t.contents));
                        self.relay
                            .handle_packet(self.now, self.webrtc_port, addr(BROWSER), bytes);
                        moved = true;
                    }
                    Output::Event(event) => self.events.push(event),
                }
            };
            while let Some(transmit) = self.relay.poll_transmit() {
                moved = true;
                if transmit.destination == addr(BROWSER) {
                    let source = SocketAddr::new(RELAY_IP, transmit.local_port);
                    let receive = Receive {
                        proto: Protocol::Udp,
                        source,
                        destination: addr(BROWSER),
                        contents: transmit.bytes.as_ref().try_into().unwrap(),
                    };
                    self.browser
                        .handle_input(Input::Receive(self.now, receive))
                        .unwrap();
                } else {
                    assert_eq!(transmit.destination, addr(PHONE));
                    self.phone_inbox.push(transmit);
                }
            }
            if !moved {
                return timeout;
            }
        }
    }

    /// The payloads of the plain RTP the phone got.
    fn phone_heard(&self) -> Vec<Bytes> {
        self.phone_inbox
            .iter()
            .filter_map(|t| RtpPacket::parse(t.bytes.clone()).ok())
            .map(|p| p.payload)
            .collect()
    }

    fn connected(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::Connected))
    }

    fn browser_rtp(&self) -> Vec<(u8, Vec<u8>)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::RtpPacket(p) => Some((*p.header.payload_type, p.payload.to_vec())),
                _ => None,
            })
            .collect()
    }

    /// The browser sends one RTP packet on its audio stream.
    fn browser_sends(&mut self, mid: Mid, seq: u64, payload: &[u8]) {
        self.browser_sends_as(mid, 0, seq, payload);
    }

    /// The browser sends one RTP packet of payload type `pt` on stream `mid`.
    fn browser_sends_as(&mut self, mid: Mid, pt: u8, seq: u64, payload: &[u8]) {
        let mut api = self.browser.direct_api();
        let tx = api.stream_tx_by_mid(mid, None).unwrap();
        let write = RtpWrite::new(
            Pt::from(pt),
            seq.into(),
            160 * seq as u32,
            self.now,
            payload.to_vec(),
        );
        tx.write_rtp(write);
    }
}

/// A browser offers, the relay answers through str0m: the session with
/// the browser as the offerer, the phone as the answerer.
fn call_from_browser() -> (Call, Mid, String) {
    let (call, mids, answer) = call_from_browser_with(&[MediaKind::Audio]);
    (call, mids[0], answer)
}

/// The same with one stream of each kind in `kinds` (a phone stream each).
fn call_from_browser_with(kinds: &[MediaKind]) -> (Call, Vec<Mid>, String) {
    let phone = LegOffer {
        media: LegMedia::Rtp,
        streams: vec![StreamOffer::at(addr(PHONE)); kinds.len()],
    };
    call_from_browser_to(kinds, phone)
}

/// The same with the phone's leg as given.
fn call_from_browser_to(kinds: &[MediaKind], phone: LegOffer) -> (Call, Vec<Mid>, String) {
    let now = Instant::now();
    let mut browser = browser(now);
    let mut change = browser.sdp_api();
    let mids: Vec<Mid> = kinds
        .iter()
        .map(|kind| change.add_media(*kind, RtcDirection::SendRecv, None, None, None))
        .collect();
    let (offer, pending) = change.apply().unwrap();
    let offer_text = offer.to_sdp_string();
    let offer_sdp = SessionDescription::parse(&offer_text).unwrap();
    let leg = leg_offer(&offer_sdp).unwrap();
    assert_eq!(leg.media, LegMedia::WebRtc);

    let mut relay = relay();
    let allocation = relay.allocate(now, SESSION, leg, phone).unwrap();
    let webrtc_port = allocation.offerer.streams[0].rtp_port;
    let answer = relay
        .answer_webrtc(now, SESSION, Side::Offerer, RELAY_IP, &offer_text)
        .unwrap();
    accept(&mut browser, pending, &answer);
    let call = Call {
        now,
        browser,
        relay,
        phone_inbox: Vec::new(),
        events: Vec::new(),
        webrtc_port,
    };
    (call, mids, answer)
}

fn accept(browser: &mut Rtc, pending: SdpPendingOffer, answer: &str) {
    browser
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(answer).unwrap())
        .unwrap();
}

#[test]
fn browser_and_phone_talk_through_the_relay_both_ways() {
    let (mut call, mid, _) = call_from_browser();
    call.run(Duration::from_secs(3));
    assert!(call.connected(), "ICE and DTLS through the relay");

    call.browser_sends(mid, 1, b"from-the-browser");
    call.run(Duration::from_millis(100));
    let phone_port = call.relay.allocation(SESSION).unwrap().answerer.streams[0].rtp_port;
    let to_phone: Vec<_> = call
        .phone_inbox
        .iter()
        .filter_map(|t| RtpPacket::parse(t.bytes.clone()).ok())
        .collect();
    assert_eq!(to_phone.len(), 1, "one plain RTP packet at the phone");
    assert_eq!(to_phone[0].payload_type, 0);
    assert_eq!(&to_phone[0].payload[..], b"from-the-browser");
    assert!(call.phone_inbox.iter().all(|t| t.local_port == phone_port));

    // The phone answers from its SDP address, in plain RTP.
    call.relay
        .handle_packet(call.now, phone_port, addr(PHONE), rtp(7, b"from-the-phone"));
    call.run(Duration::from_millis(100));
    assert_eq!(call.browser_rtp(), vec![(0, b"from-the-phone".to_vec())]);

    let stats = call.relay.stats(SESSION).unwrap();
    assert_eq!(stats.answerer.packets_in, 1);
    assert!(stats.offerer.packets_in > 1, "STUN, DTLS and SRTP counted");
    assert_eq!(stats.offerer.dropped.total(), 0);
}

#[test]
fn a_strangers_packets_to_the_webrtc_port_do_nothing() {
    let (mut call, mid, _) = call_from_browser();
    call.run(Duration::from_secs(3));
    assert!(call.connected());
    let _ = std::iter::from_fn(|| call.relay.poll_event()).count();

    call.relay.handle_packet(
        call.now,
        call.webrtc_port,
        addr(STRANGER),
        rtp(1, b"hijack"),
    );
    call.relay.handle_packet(
        call.now,
        call.webrtc_port,
        addr(STRANGER),
        Bytes::from_static(&[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    );
    assert_eq!(call.relay.poll_transmit(), None);
    let events: Vec<_> = std::iter::from_fn(|| call.relay.poll_event()).collect();
    assert_eq!(
        events,
        vec![RelayEvent::StrangerDropped {
            session: SESSION,
            side: Side::Offerer,
            stream: 0,
            source: addr(STRANGER),
        }]
    );
    let stats = call.relay.stats(SESSION).unwrap();
    assert_eq!(stats.offerer.dropped.stranger, 2);
    assert!(call.phone_inbox.is_empty());

    // The browser still gets through.
    call.browser_sends(mid, 1, b"still-here");
    call.run(Duration::from_millis(100));
    assert_eq!(call.phone_inbox.len(), 1);
}

#[test]
fn the_answer_to_the_browser_is_ice_lite_with_the_relay_as_the_candidate() {
    let (call, _, answer) = call_from_browser();
    let lines: Vec<&str> = answer.lines().collect();
    assert!(lines.contains(&"a=ice-lite"), "{answer}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("a=fingerprint:sha-256 "))
    );
    let candidate = format!("{RELAY_IP} {} typ host", call.webrtc_port);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("a=candidate:") && l.contains(&candidate)),
        "{answer}"
    );
    assert!(lines.contains(&"a=rtcp-mux"));
    assert!(lines.iter().any(|l| l.starts_with("a=setup:")));
    let m_line = format!("m=audio {} UDP/TLS/RTP/SAVPF", call.webrtc_port);
    assert!(lines.iter().any(|l| l.starts_with(&m_line)), "{answer}");
    let connection = format!("c=IN IP4 {RELAY_IP}");
    assert!(lines.contains(&connection.as_str()), "{answer}");
}

/// Chromium's offer (`tests/data/chromium-offer.sdp`, cut down): Opus,
/// RED, G.722, G.711, CN and two telephone-event rates; VP8 with RTX and
/// H.264 on a bundled video line.
fn chromium_offer() -> String {
    include_str!("data/chromium-offer.sdp").replace('\n', "\r\n")
}

#[test]
fn a_chromium_offer_gets_g711_and_video_and_the_phone_a_plain_offer() {
    let now = Instant::now();
    let offer = SessionDescription::parse(&chromium_offer()).unwrap();
    let leg = leg_offer(&offer).unwrap();
    assert_eq!(leg.media, LegMedia::WebRtc);
    assert_eq!(leg.streams.len(), 2);
    let mut relay = relay();
    let pending = LegOffer {
        media: LegMedia::Rtp,
        streams: vec![StreamOffer::pending(false); 2],
    };
    let allocation = relay.allocate(now, SESSION, leg, pending).unwrap();
    let answer = relay
        .answer_webrtc(now, SESSION, Side::Offerer, RELAY_IP, &chromium_offer())
        .unwrap();
    SdpAnswer::from_sdp_string(&answer).unwrap();
    let parsed = SessionDescription::parse(&answer).unwrap();
    let audio: Vec<u8> = parsed.media[0].payload_types().collect();
    assert_eq!(audio, vec![0, 8, 126], "{answer}");
    assert!(answer.contains("a=group:BUNDLE 0 1"), "{answer}");
    let video: Vec<u8> = parsed.media[1].payload_types().collect();
    assert!(video.contains(&96) && video.contains(&102), "{answer}");

    // What the phone is offered: plain RTP at the relay, the same payload
    // types, nothing of WebRTC's.
    let plain = webrtc_to_plain(&offer, RELAY_IP, &allocation.answerer, Some(&parsed)).unwrap();
    let text = plain.to_string();
    let phone_audio = allocation.answerer.streams[0].rtp_port;
    let phone_video = allocation.answerer.streams[1].rtp_port;
    assert!(
        text.contains(&format!("m=audio {phone_audio} RTP/AVP 0 8 126\r\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("m=video {phone_video} RTP/AVP 96 102\r\n")),
        "{text}"
    );
    assert!(text.contains(&format!("c=IN IP4 {RELAY_IP}\r\n")));
    assert!(text.contains(&format!("a=rtcp:{}\r\n", phone_audio + 1)));
    for gone in [
        "ice-",
        "candidate",
        "fingerprint",
        "setup",
        "BUNDLE",
        "ssrc",
        "extmap",
        "rtcp-fb",
        "rtx",
        "opus",
        "a=mid",
        "rtcp-mux",
    ] {
        assert!(!text.contains(gone), "{gone} in {text}");
    }
}

#[test]
fn a_phone_offer_becomes_a_webrtc_offer_with_its_payload_types() {
    let now = Instant::now();
    let phone_offer = SessionDescription::parse(
        "v=0\r\no=phone 1 1 IN IP4 192.0.2.40\r\ns=-\r\nc=IN IP4 192.0.2.40\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 8 0 18 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n",
    )
    .unwrap();
    let mut relay = relay();
    let webrtc = LegOffer {
        media: LegMedia::WebRtc,
        streams: vec![StreamOffer::pending(true)],
    };
    let allocation = relay
        .allocate(now, SESSION, leg_offer(&phone_offer).unwrap(), webrtc)
        .unwrap();
    let offer = relay
        .offer_webrtc(now, SESSION, Side::Answerer, RELAY_IP, &phone_offer)
        .unwrap();
    assert!(relay.webrtc_offer_pending(SESSION, Side::Answerer));
    let parsed = SessionDescription::parse(&offer).unwrap();
    let pts: Vec<u8> = parsed.media[0].payload_types().collect();
    assert_eq!(pts, vec![8, 0, 101], "{offer}");
    assert!(offer.contains("a=ice-lite"));
    assert!(offer.contains("UDP/TLS/RTP/SAVPF"));

    // The browser answers; the phone gets that answer as plain RTP.
    let mut browser = browser(now);
    let answer = browser
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&offer).unwrap())
        .unwrap()
        .to_sdp_string();
    relay
        .accept_webrtc_answer(now, SESSION, Side::Answerer, &answer)
        .unwrap();
    assert!(!relay.webrtc_offer_pending(SESSION, Side::Answerer));
    let browser_answer = SessionDescription::parse(&answer).unwrap();
    let plain = webrtc_to_plain(&browser_answer, RELAY_IP, &allocation.offerer, None).unwrap();
    let port = allocation.offerer.streams[0].rtp_port;
    assert_eq!(plain.media[0].port, port);
    assert_eq!(plain.media[0].protocol.as_str(), "RTP/AVP");
    let mut pts: Vec<u8> = plain.media[0].payload_types().collect();
    pts.sort_unstable();
    assert_eq!(pts, vec![0, 8], "the browser's choice among the phone's");
}

#[test]
fn the_browser_puts_the_phone_on_hold_with_a_re_offer_on_the_same_rtc() {
    let (mut call, mid, _) = call_from_browser();
    call.run(Duration::from_secs(3));
    assert!(call.connected());

    // The browser re-offers sendonly; the relay answers on the same Rtc and
    // learns the direction, the phone is told sendonly.
    let mut change = call.browser.sdp_api();
    change.set_direction(mid, RtcDirection::SendOnly);
    let (offer, pending) = change.apply().unwrap();
    let offer_text = offer.to_sdp_string();
    let offer_sdp = SessionDescription::parse(&offer_text).unwrap();
    let answer = call
        .relay
        .answer_webrtc(call.now, SESSION, Side::Offerer, RELAY_IP, &offer_text)
        .unwrap();
    call.relay
        .update(
            call.now,
            SESSION,
            Side::Offerer,
            leg_offer(&offer_sdp).unwrap(),
        )
        .unwrap();
    accept(&mut call.browser, pending, &answer);
    let toward_phone = call.relay.allocation(SESSION).unwrap().answerer;
    let plain = webrtc_to_plain(&offer_sdp, RELAY_IP, &toward_phone, None).unwrap();
    assert!(plain.to_string().contains("a=sendonly\r\n"), "{plain}");
    call.run(Duration::from_millis(200));
    assert!(
        call.browser.is_connected(),
        "no new ICE or DTLS: the same Rtc"
    );

    // The phone's audio is held back; the browser's still reaches it.
    let phone_port = toward_phone.streams[0].rtp_port;
    call.relay
        .handle_packet(call.now, phone_port, addr(PHONE), rtp(9, b"held"));
    call.run(Duration::from_millis(100));
    assert!(call.browser_rtp().is_empty());
    assert_eq!(
        call.relay.stats(SESSION).unwrap().answerer.dropped.on_hold,
        1
    );
    call.browser_sends(mid, 2, b"music-on-hold");
    call.run(Duration::from_millis(100));
    let heard = call.phone_heard();
    assert_eq!(heard, vec![Bytes::from_static(b"music-on-hold")]);
}

#[test]
fn video_payloads_pass_as_they_come_on_the_bundled_port() {
    let (mut call, mids, answer) = call_from_browser_with(&[MediaKind::Audio, MediaKind::Video]);
    let answer = SessionDescription::parse(&answer).unwrap();
    let vp8 = answer.media[1]
        .rtpmaps()
        .find(|map| map.encoding_name.eq_ignore_ascii_case("VP8"))
        .unwrap()
        .payload_type;
    call.run(Duration::from_secs(3));
    assert!(call.connected());

    // A VP8 payload (descriptor and all) on the video stream: out of the
    // phone's video port, the bytes unchanged.
    let frame = b"\x10\x00\x00\x9d\x01\x2a-a-vp8-keyframe";
    call.browser_sends_as(mids[1], vp8, 1, frame);
    call.run(Duration::from_millis(100));
    let video_port = call.relay.allocation(SESSION).unwrap().answerer.streams[1].rtp_port;
    let to_phone: Vec<_> = call
        .phone_inbox
        .iter()
        .filter(|t| t.local_port == video_port)
        .filter_map(|t| RtpPacket::parse(t.bytes.clone()).ok())
        .collect();
    assert_eq!(to_phone.len(), 1, "{:?}", call.phone_inbox);
    assert_eq!(to_phone[0].payload_type, vp8);
    assert_eq!(&to_phone[0].payload[..], frame);
}

#[test]
fn the_browser_gets_the_phones_choice_of_codecs_and_directions() {
    let now = Instant::now();
    let offer = SessionDescription::parse(&chromium_offer()).unwrap();
    let mut relay = relay();
    let pending = LegOffer {
        media: LegMedia::Rtp,
        streams: vec![StreamOffer::pending(false); 2],
    };
    relay
        .allocate(now, SESSION, leg_offer(&offer).unwrap(), pending)
        .unwrap();
    let answer = relay
        .answer_webrtc(now, SESSION, Side::Offerer, RELAY_IP, &chromium_offer())
        .unwrap();
    // The phone keeps PCMA and telephone events, holds, and refuses video.
    let phone = SessionDescription::parse(
        "v=0\r\no=phone 1 1 IN IP4 192.0.2.40\r\ns=-\r\nc=IN IP4 192.0.2.40\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 8 126\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n\
a=sendonly\r\nm=video 0 RTP/AVP 96\r\n",
    )
    .unwrap();
    let matched = webrtc_answer_matching(&answer, &phone);
    SdpAnswer::from_sdp_string(&matched).unwrap();
    let parsed = SessionDescription::parse(&matched).unwrap();
    assert_eq!(
        parsed.media[0].payload_types().collect::<Vec<_>>(),
        vec![8, 126]
    );
    assert!(parsed.media[0].rtpmap(0).is_none(), "{matched}");
    assert_eq!(
        parsed.media_direction(0),
        Some(switchboard_proto::sdp::Direction::SendOnly)
    );
    assert_eq!(
        parsed.media_direction(1),
        Some(switchboard_proto::sdp::Direction::Inactive)
    );
    assert!(matched.contains("a=fingerprint:") && matched.contains("a=ice-lite"));
    // A phone that takes everything as offered leaves the answer alone.
    let formats = |index: usize| -> String {
        SessionDescription::parse(&answer).unwrap().media[index]
            .formats
            .join(" ")
    };
    let everything = SessionDescription::parse(&format!(
        "v=0\r\no=phone 1 1 IN IP4 192.0.2.40\r\ns=-\r\nc=IN IP4 192.0.2.40\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP {}\r\na=sendrecv\r\nm=video 4002 RTP/AVP {}\r\na=sendrecv\r\n",
        formats(0),
        formats(1)
    ))
    .unwrap();
    assert_eq!(webrtc_answer_matching(&answer, &everything), answer);
}

#[test]
fn a_re_offer_with_nothing_new_restarts_ice_and_media_goes_on() {
    let (mut call, mid, _) = call_from_browser();
    call.run(Duration::from_secs(3));
    assert!(call.connected());

    // The phone's session refresh: the same sendrecv audio. The relay
    // (the answerer so far) offers, restarting ICE on its candidate.
    let phone_sdp = SessionDescription::parse(
        "v=0\r\no=phone 1 2 IN IP4 192.0.2.40\r\ns=-\r\nc=IN IP4 192.0.2.40\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
    )
    .unwrap();
    let offer = call
        .relay
        .offer_webrtc(call.now, SESSION, Side::Offerer, RELAY_IP, &phone_sdp)
        .unwrap();
    assert!(offer.contains("a=setup:actpass"), "{offer}");
    let answer = call
        .browser
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&offer).unwrap())
        .unwrap()
        .to_sdp_string();
    call.relay
        .accept_webrtc_answer(call.now, SESSION, Side::Offerer, &answer)
        .unwrap();
    call.run(Duration::from_secs(3));

    call.browser_sends(mid, 5, b"after-the-refresh");
    call.run(Duration::from_millis(100));
    let heard = call.phone_heard();
    assert_eq!(heard, vec![Bytes::from_static(b"after-the-refresh")]);
    let phone_port = call.relay.allocation(SESSION).unwrap().answerer.streams[0].rtp_port;
    call.relay
        .handle_packet(call.now, phone_port, addr(PHONE), rtp(11, b"still-heard"));
    call.run(Duration::from_millis(100));
    assert_eq!(call.browser_rtp(), vec![(0, b"still-heard".to_vec())]);
}

#[test]
fn an_sdes_phone_and_a_browser_hear_each_other_through_both_kinds_of_srtp() {
    let phone_key = MasterKey::generate(
        SrtpSuite::AesCm128HmacSha1_80,
        &mut StdRng::seed_from_u64(11),
    );
    let phone = LegOffer::single(StreamOffer::at(addr(PHONE)).with_crypto(PeerCrypto {
        tag: 1,
        key: phone_key.clone(),
    }));
    let (mut call, mids, _) = call_from_browser_to(&[MediaKind::Audio], phone);
    call.run(Duration::from_secs(3));
    assert!(call.connected());
    let toward_phone = call.relay.allocation(SESSION).unwrap().answerer;
    let relay_key = toward_phone.streams[0].crypto.clone().unwrap().key;

    // The browser's audio reaches the phone as SRTP under the relay's key.
    call.browser_sends(mids[0], 1, b"dtls-to-sdes");
    call.run(Duration::from_millis(100));
    assert_eq!(call.phone_inbox.len(), 1);
    let mut phone_rx = SrtpContext::new(&relay_key);
    let plain = phone_rx.unprotect_rtp(&call.phone_inbox[0].bytes).unwrap();
    assert_eq!(
        &RtpPacket::parse(plain).unwrap().payload[..],
        b"dtls-to-sdes"
    );

    // The phone's SRTP, under its own key, reaches the browser decrypted.
    let mut phone_tx = SrtpContext::new(&phone_key);
    let protected = phone_tx.protect_rtp(&rtp(3, b"sdes-to-dtls")).unwrap();
    call.relay.handle_packet(
        call.now,
        toward_phone.streams[0].rtp_port,
        addr(PHONE),
        protected,
    );
    call.run(Duration::from_millis(100));
    assert_eq!(call.browser_rtp(), vec![(0, b"sdes-to-dtls".to_vec())]);
}

#[test]
fn the_browsers_receiver_reports_give_its_legs_reception_quality() {
    let (mut call, _, _) = call_from_browser();
    call.run(Duration::from_secs(3));
    assert!(call.connected());
    assert_eq!(call.relay.stats(SESSION).unwrap().offerer.quality, None);

    // The phone talks for two seconds, one packet lost on the way in.
    let phone_port = call.relay.allocation(SESSION).unwrap().answerer.streams[0].rtp_port;
    for seq in (1..=100).filter(|seq| *seq != 50) {
        call.relay
            .handle_packet(call.now, phone_port, addr(PHONE), rtp(seq, b"talk"));
        call.run(Duration::from_millis(20));
    }
    call.run(Duration::from_secs(8));
    let quality = call.relay.stats(SESSION).unwrap().offerer.quality;
    let quality = quality.expect("the browser's receiver report, through str0m's stats");
    assert_eq!(quality.cumulative_lost, 1, "{quality:?}");
}
