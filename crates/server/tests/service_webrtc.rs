//! A browser (WebRTC: `UDP/TLS/RTP/SAVPF`, ICE, DTLS, BUNDLE) and a SIP
//! phone (plain `RTP/AVP`) through the media relay, in the service on a
//! virtual clock: the phone is offered plain RTP at the relay with the
//! browser's G.711 payload types, and the browser gets the relay's own
//! ICE-lite answer; a phone calling a browser's binding (`.invalid` host)
//! makes the relay offer WebRTC; `auto` anchors both.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use service_harness::{Phone, Server};
use str0m::Rtc;
use str0m::change::SdpOffer;
use switchboard_proto::sdp::SessionDescription;
use switchboard_proto::{HeaderName, Method, ResponseBuilder, StatusCode};
use switchboard_relay::RelayConfig;
use switchboard_server::media::{MediaConfig, MediaPolicy};

const RELAY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

/// Chromium's offer as JsSIP sends it, cut down: Opus, G.722, G.711, CN
/// and telephone events on one bundled audio line.
const CHROMIUM_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 50000 UDP/TLS/RTP/SAVPF 111 9 0 8 13 110 126\r\n\
c=IN IP4 192.0.2.30\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1467250027 1 udp 2122260223 192.0.2.30 50000 typ host generation 0\r\n\
a=ice-ufrag:Fc1q\r\n\
a=ice-pwd:FO0NvbQFQtJQ+xbJ1dPZKqbY\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 5D:F8:A5:25:4B:CB:07:67:93:67:8C:F4:94:90:84:47:1D:EC:5B:91:36:6C:49:6C:8C:BE:12:54:E1:3A:43:3B\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=msid:stream track-a\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3735928559 cname:abcdefgh\r\n";

fn relaying(policy: MediaPolicy) -> Server {
    relaying_to(policy, false)
}

/// With `sdes`, a browser's callee is offered SDES-SRTP.
fn relaying_to(policy: MediaPolicy, sdes: bool) -> Server {
    Server::with(|config| {
        let relay = RelayConfig {
            ports: 40_000..=40_099,
            ..RelayConfig::default()
        };
        config.media = MediaConfig::new(policy, relay, Some(RELAY_IP)).with_webrtc_phone_sdes(sdes);
    })
}

/// Alice's browser calls bob with Chromium's offer; the INVITE bob gets.
fn browser_calls_bob(h: &mut Server, bob: &mut Phone) -> switchboard_proto::Request {
    h.register(bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", CHROMIUM_OFFER)
    });
    h.request_to(bob, Method::Invite)
}

#[test]
fn a_phone_that_requires_srtp_is_offered_sdes_for_a_browsers_call() {
    let mut h = relaying_to(MediaPolicy::Always, true);
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    let invite = browser_calls_bob(&mut h, &mut bob);
    let offer = parse(invite.body());
    let text = offer.to_string();
    assert_eq!(offer.media[0].protocol.as_str(), "RTP/SAVP", "{text}");
    assert_eq!(offer.media[0].crypto().count(), 1, "{text}");
    assert!(text.contains("AES_CM_128_HMAC_SHA1_80 inline:"), "{text}");
    assert!(!text.contains("fingerprint"), "{text}");
}

fn parse(body: &[u8]) -> SessionDescription {
    SessionDescription::parse(std::str::from_utf8(body).unwrap()).unwrap()
}

fn plain_sdp(ip: &str, port: u16) -> String {
    plain_sdp_with_events(ip, port, 101)
}

/// A phone's SDP with telephone events at payload type `events` (an answer
/// takes the offer's number).
fn plain_sdp_with_events(ip: &str, port: u16, events: u8) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 8 {events}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{events} telephone-event/8000\r\na=sendrecv\r\n"
    )
}

#[test]
fn a_browser_calls_a_phone_through_the_relay_in_auto() {
    let mut h = relaying(MediaPolicy::Auto);
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", CHROMIUM_OFFER)
    });

    // Bob is offered plain RTP at the relay, the browser's G.711 and
    // 8 kHz telephone events with their payload types, nothing of WebRTC.
    let invite = h.request_to(&bob, Method::Invite);
    let offer = parse(invite.body());
    let text = offer.to_string();
    assert_eq!(offer.media.len(), 1);
    assert_eq!(offer.media[0].protocol.as_str(), "RTP/AVP", "{text}");
    assert_eq!(
        offer.media[0].payload_types().collect::<Vec<_>>(),
        vec![0, 8, 126]
    );
    assert_eq!(offer.media_connection(0).unwrap().ip_addr(), Some(RELAY_IP));
    let to_bob = offer.media[0].port;
    assert!((40_000..=40_099).contains(&to_bob));
    for gone in [
        "fingerprint",
        "ice-",
        "candidate",
        "BUNDLE",
        "rtcp-mux",
        "ssrc",
    ] {
        assert!(!text.contains(gone), "{gone} in {text}");
    }

    // Bob answers in plain RTP; alice's browser gets the relay's answer.
    let ok = ResponseBuilder::from_request(&invite, StatusCode::OK)
        .to_tag("bob-tag")
        .header(HeaderName::Contact, bob.contact.clone())
        .body(
            "application/sdp",
            plain_sdp_with_events("198.51.100.20", 5000, 126),
        )
        .build()
        .unwrap();
    h.send(&bob, ok);
    let ok = h.final_response(&alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let answer = std::str::from_utf8(ok.body()).unwrap().to_owned();
    assert!(answer.contains("a=ice-lite\r\n"), "{answer}");
    assert!(answer.contains("a=fingerprint:sha-256 "), "{answer}");
    let browser_sdp = parse(ok.body());
    assert_eq!(browser_sdp.media[0].protocol.as_str(), "UDP/TLS/RTP/SAVPF");
    assert_eq!(
        browser_sdp.media[0].payload_types().collect::<Vec<_>>(),
        vec![0, 8, 126]
    );
    assert!(
        (40_000..=40_099).contains(&browser_sdp.media[0].port),
        "{answer}"
    );
    assert_eq!(
        browser_sdp.media_connection(0).unwrap().ip_addr(),
        Some(RELAY_IP)
    );
    assert!(
        answer.contains(&format!("{RELAY_IP} ")),
        "the relay is the candidate: {answer}"
    );
    assert!(answer.contains("a=rtcp-mux\r\n"));
    assert_eq!(h.service.metrics().relay_sessions, 1);

    // A retransmitted 200 gets the same answer (str0m is not asked twice).
    let again = ResponseBuilder::from_request(&invite, StatusCode::OK)
        .to_tag("bob-tag")
        .header(HeaderName::Contact, bob.contact.clone())
        .body(
            "application/sdp",
            plain_sdp_with_events("198.51.100.20", 5000, 126),
        )
        .build()
        .unwrap();
    h.send(&bob, again);
    let resent: Vec<_> = h.responses(&alice);
    assert_eq!(resent.len(), 1, "a 2xx retransmission is forwarded");
    assert_eq!(std::str::from_utf8(resent[0].body()).unwrap(), answer);
}

#[test]
fn a_phone_calls_a_browser_binding_and_the_relay_offers_webrtc() {
    let mut h = relaying(MediaPolicy::Auto);
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.connect_tcp(&mut bob);
    // JsSIP's Contact: a made-up `.invalid` host (RFC 7118 §5).
    bob.contact = "<sip:x8k2q1@df7jal23ls0d.invalid;transport=tcp>".to_owned();
    h.register(&mut bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    let offer = plain_sdp("198.51.100.10", 4000);
    h.authenticate(&mut alice, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", offer.clone())
    });

    let invite = h.request_to(&bob, Method::Invite);
    let webrtc_offer = std::str::from_utf8(invite.body()).unwrap().to_owned();
    assert!(
        webrtc_offer.contains("UDP/TLS/RTP/SAVPF 0 8 101"),
        "{webrtc_offer}"
    );
    assert!(webrtc_offer.contains("a=ice-lite\r\n"));
    assert!(webrtc_offer.contains("a=setup:actpass\r\n"));

    // The browser (str0m as a full ICE agent) answers the relay's offer.
    let mut config = Rtc::builder().clear_codecs();
    config.codec_config().enable_pcmu(true, false);
    config.codec_config().enable_pcma(true, false);
    let mut browser = config.build(Instant::now());
    let browser_answer = browser
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&webrtc_offer).unwrap())
        .unwrap()
        .to_sdp_string();
    let ok = ResponseBuilder::from_request(&invite, StatusCode::OK)
        .to_tag("browser-tag")
        .header(HeaderName::Contact, bob.contact.clone())
        .body("application/sdp", browser_answer)
        .build()
        .unwrap();
    h.send(&bob, ok);
    let ok = h.final_response(&alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let answer = parse(ok.body());
    let text = answer.to_string();
    assert_eq!(answer.media[0].protocol.as_str(), "RTP/AVP", "{text}");
    assert_eq!(
        answer.media_connection(0).unwrap().ip_addr(),
        Some(RELAY_IP)
    );
    assert!(
        !text.contains("fingerprint") && !text.contains("ice-"),
        "{text}"
    );
    let pts: Vec<u8> = answer.media[0].payload_types().collect();
    assert!(
        !pts.is_empty() && pts.iter().all(|pt| [0, 8, 101].contains(pt)),
        "{text}"
    );
}

#[test]
fn a_phone_calling_a_phone_in_auto_is_not_anchored_for_webrtc_reasons() {
    let mut h = relaying(MediaPolicy::Auto);
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    let offer = plain_sdp("198.51.100.10", 4000);
    h.authenticate(&mut alice, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", offer.clone())
    });
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(std::str::from_utf8(invite.body()).unwrap(), offer);
    assert_eq!(h.service.metrics().relay_sessions, 0);
}
