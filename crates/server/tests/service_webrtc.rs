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
use switchboard_proto::sdp::{Direction, SessionDescription};
use switchboard_proto::{HeaderName, Method, ResponseBuilder, StatusCode};
use switchboard_relay::RelayConfig;
use switchboard_server::media::{MediaConfig, MediaPolicy};

const RELAY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

/// Chromium's offer as JsSIP sends it (cut down: Opus, G.722, G.711, CN,
/// telephone events; VP8 with RTX and H.264 on a bundled video line), the
/// relay's own test fixture.
fn chromium_offer() -> String {
    include_str!("../../relay/tests/data/chromium-offer.sdp").replace('\n', "\r\n")
}

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

/// Alice calls bob (registered as he is) offering `offer`: alice, and the
/// INVITE bob gets.
fn alice_calls_bob(
    h: &mut Server,
    bob: &mut Phone,
    offer: &str,
) -> (Phone, switchboard_proto::Request) {
    h.register(bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", offer.to_owned())
    });
    let invite = h.request_to(bob, Method::Invite);
    (alice, invite)
}

/// Bob's 200 OK to `invite` with `sdp`.
fn bob_answers(h: &mut Server, bob: &Phone, invite: &switchboard_proto::Request, sdp: &str) {
    let ok = ResponseBuilder::from_request(invite, StatusCode::OK)
        .to_tag("bob-tag")
        .header(HeaderName::Contact, bob.contact.clone())
        .body("application/sdp", sdp.to_owned())
        .build()
        .unwrap();
    h.send(bob, ok);
}

#[test]
fn a_phone_that_requires_srtp_is_offered_sdes_for_a_browsers_call() {
    let mut h = relaying_to(MediaPolicy::Always, true);
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    let (_, invite) = alice_calls_bob(&mut h, &mut bob, &chromium_offer());
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
    let (alice, invite) = alice_calls_bob(&mut h, &mut bob, &chromium_offer());

    // Bob is offered plain RTP at the relay, the browser's G.711 and
    // 8 kHz telephone events with their payload types, VP8 and H.264,
    // nothing of WebRTC.
    let offer = parse(invite.body());
    let text = offer.to_string();
    assert_eq!(offer.media.len(), 2);
    assert_eq!(offer.media[0].protocol.as_str(), "RTP/AVP", "{text}");
    assert_eq!(
        offer.media[0].payload_types().collect::<Vec<_>>(),
        vec![0, 8, 126]
    );
    assert_eq!(
        offer.media[1].payload_types().collect::<Vec<_>>(),
        vec![96, 102]
    );
    assert_eq!(offer.media_connection(0).unwrap().ip_addr(), Some(RELAY_IP));
    assert!((40_000..=40_099).contains(&offer.media[0].port));
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

    // Bob answers audio in plain RTP and refuses video; alice's browser
    // gets the relay's answer, its video inactive.
    let bob_sdp = plain_sdp_with_events("198.51.100.20", 5000, 126) + "m=video 0 RTP/AVP 96\r\n";
    bob_answers(&mut h, &bob, &invite, &bob_sdp);
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
    assert_eq!(browser_sdp.media_direction(1), Some(Direction::Inactive));
    assert!(
        answer.contains(&format!("{RELAY_IP} ")),
        "the relay is the candidate: {answer}"
    );
    assert!(answer.contains("a=rtcp-mux\r\n"));
    assert_eq!(h.service.metrics().relay_sessions, 1);

    // A retransmitted 200 gets the same answer (str0m is not asked twice).
    bob_answers(&mut h, &bob, &invite, &bob_sdp);
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
    let (alice, invite) = alice_calls_bob(&mut h, &mut bob, &plain_sdp("198.51.100.10", 4000));
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
    let offer = plain_sdp("198.51.100.10", 4000);
    let (_, invite) = alice_calls_bob(&mut h, &mut bob, &offer);
    assert_eq!(std::str::from_utf8(invite.body()).unwrap(), offer);
    assert_eq!(h.service.metrics().relay_sessions, 0);
}

/// The phone's re-INVITE (CSeq `cseq`) in the call of `invite`, with `sdp`;
/// the browser (`browser`, alice) answers the offer it gets. Returns that
/// offer and the 200 OK bob gets.
fn bob_reoffers(
    h: &mut Server,
    (alice, bob): (&Phone, &Phone),
    browser: &mut Rtc,
    invite: &switchboard_proto::Request,
    cseq: u32,
    sdp: &str,
) -> (String, switchboard_proto::Response) {
    let reinvite = service_harness::from_callee(bob, invite, Method::Invite, cseq)
        .body("application/sdp", sdp.to_owned())
        .build()
        .unwrap();
    h.send(bob, reinvite);
    let at_alice = h.request_to(alice, Method::Invite);
    let offer = std::str::from_utf8(at_alice.body()).unwrap().to_owned();
    let answer = browser
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&offer).unwrap())
        .unwrap()
        .to_sdp_string();
    let ok = ResponseBuilder::from_request(&at_alice, StatusCode::OK)
        .header(HeaderName::Contact, alice.contact.clone())
        .body("application/sdp", answer)
        .build()
        .unwrap();
    h.send(alice, ok);
    let at_bob = h
        .responses(bob)
        .into_iter()
        .find(|r| r.status() == StatusCode::OK)
        .expect("the 200 OK reaches bob");
    (offer, at_bob)
}

#[test]
fn the_phone_holds_a_browser_and_refreshes_the_session_with_re_invites() {
    let mut h = relaying(MediaPolicy::Auto);
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    let mut config = Rtc::builder().clear_codecs();
    config.codec_config().enable_pcmu(true, false);
    config.codec_config().enable_pcma(true, false);
    let mut browser = config.build(Instant::now());
    let mut change = browser.sdp_api();
    change.add_media(
        str0m::media::MediaKind::Audio,
        str0m::media::Direction::SendRecv,
        None,
        None,
        None,
    );
    let (offer, pending) = change.apply().unwrap();
    let (mut alice, invite) = alice_calls_bob(&mut h, &mut bob, &offer.to_sdp_string());
    bob_answers(&mut h, &bob, &invite, &plain_sdp("198.51.100.20", 5000));
    let ok = h.final_response(&alice);
    let answer = std::str::from_utf8(ok.body()).unwrap();
    browser
        .sdp_api()
        .accept_answer(
            pending,
            str0m::change::SdpAnswer::from_sdp_string(answer).unwrap(),
        )
        .unwrap();
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(&alice, ack);
    h.request_to(&bob, Method::Ack);

    // Hold: the browser is offered sendonly by the relay, answers
    // recvonly, and bob gets that answer as plain RTP at the relay.
    let held = plain_sdp("198.51.100.20", 5000).replace("a=sendrecv", "a=sendonly");
    let (offer, at_bob) = bob_reoffers(&mut h, (&alice, &bob), &mut browser, &invite, 2, &held);
    assert!(offer.contains("UDP/TLS/RTP/SAVPF"), "{offer}");
    assert!(offer.contains("a=sendonly\r\n") && offer.contains("a=setup:actpass\r\n"));
    let plain = parse(at_bob.body());
    assert_eq!(plain.media[0].protocol.as_str(), "RTP/AVP", "{plain}");
    assert_eq!(plain.media_connection(0).unwrap().ip_addr(), Some(RELAY_IP));
    assert_eq!(plain.media_direction(0), Some(Direction::RecvOnly));

    // The same SDP again (a session refresh) is a new offer all the same:
    // the relay restarts ICE on its candidate rather than repeat an answer.
    let (refresh, at_bob) = bob_reoffers(&mut h, (&alice, &bob), &mut browser, &invite, 3, &held);
    let ufrag = |sdp: &str| {
        sdp.lines()
            .find(|l| l.starts_with("a=ice-ufrag:"))
            .map(str::to_owned)
    };
    assert!(refresh.contains("a=setup:actpass\r\n"), "{refresh}");
    assert_ne!(ufrag(&refresh), ufrag(&offer));
    assert_eq!(parse(at_bob.body()).media[0].protocol.as_str(), "RTP/AVP");
}
