//! SDP anchoring: legs read from offers and answers, and the descriptions
//! each party receives rewritten with the relay's address, ports, rtcp-mux,
//! profile and keys (plain, SDES both ways, rtcp-mux).
// Tests may unwrap and index: a panic is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::srtp::{MasterKey, SrtpSuite};
use switchboard_proto::sdp::{Direction, SessionDescription};
use switchboard_relay::anchor::{AnchorError, anchor, leg_offer};
use switchboard_relay::{LegMedia, LegOffer, Relay, RelayConfig, SessionId, Side, StreamOffer};

const RELAY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));
const SESSION: SessionId = SessionId(1);
/// RFC 4568's example key (AES_CM_128_HMAC_SHA1_80).
const PHONE_KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

fn sdp(lines: &[&str]) -> SessionDescription {
    let text: String = lines.iter().map(|line| format!("{line}\r\n")).collect();
    SessionDescription::parse(&text).unwrap()
}

fn lines(sdp: &SessionDescription) -> Vec<String> {
    sdp.to_string().lines().map(str::to_owned).collect()
}

fn relay() -> Relay {
    Relay::new(
        RelayConfig {
            ports: 40_000..=40_099,
            ..RelayConfig::default()
        },
        Box::new(StdRng::seed_from_u64(3)),
    )
}

fn pending(media: LegMedia, rtcp_mux: bool) -> LegOffer {
    LegOffer {
        media,
        streams: vec![StreamOffer::pending(rtcp_mux)],
    }
}

fn offer_from_nat_phone() -> SessionDescription {
    sdp(&[
        "v=0",
        "o=alice 1 1 IN IP4 10.0.0.5",
        "s=-",
        "c=IN IP4 10.0.0.5",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0 101",
        "c=IN IP4 10.0.0.5",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=candidate:1 1 UDP 2130706431 10.0.0.5 4000 typ host",
        "a=sendrecv",
    ])
}

/// A description from a party at `ip`, with these media lines.
fn party(name: &str, ip: &str, media: &[&str]) -> SessionDescription {
    let origin = format!("o={name} 1 1 IN IP4 {ip}");
    let connection = format!("c=IN IP4 {ip}");
    let mut all = vec!["v=0", &origin, "s=-", &connection, "t=0 0"];
    all.extend_from_slice(media);
    sdp(&all)
}

fn alice(media: &[&str]) -> SessionDescription {
    party("alice", "192.0.2.10", media)
}

fn bob(media: &[&str]) -> SessionDescription {
    party("bob", "192.0.2.20", media)
}

fn plain_answer(port: u16, extra: &[&str]) -> SessionDescription {
    let m = format!("m=audio {port} RTP/AVP 0 101");
    let mut media = vec![
        m.as_str(),
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
    ];
    media.extend_from_slice(extra);
    bob(&media)
}

#[test]
fn plain_offer_and_answer_go_through_the_relay() {
    let t0 = Instant::now();
    let offer = offer_from_nat_phone();
    let leg = leg_offer(&offer).unwrap();
    assert_eq!(leg.media, LegMedia::Rtp);
    assert_eq!(leg.streams[0].rtp, Some("10.0.0.5:4000".parse().unwrap()));
    assert_eq!(leg.streams[0].rtcp, Some("10.0.0.5:4001".parse().unwrap()));
    let mut relay = relay();
    let allocation = relay
        .allocate(t0, SESSION, leg, pending(LegMedia::Rtp, false))
        .unwrap();
    let b_port = allocation.answerer.streams[0].rtp_port;

    let to_bob = anchor(&offer, RELAY_IP, &allocation.answerer).unwrap();
    assert_eq!(
        lines(&to_bob),
        [
            "v=0",
            "o=alice 1 1 IN IP4 10.0.0.5",
            "s=-",
            "c=IN IP4 203.0.113.1",
            "t=0 0",
            &format!("m=audio {b_port} RTP/AVP 0 101"),
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=sendrecv",
            &format!("a=rtcp:{}", b_port + 1),
        ]
    );

    let answer = plain_answer(5000, &[]);
    let a_side = relay
        .update(t0, SESSION, Side::Answerer, leg_offer(&answer).unwrap())
        .unwrap();
    assert_eq!(a_side.streams[0].rtp_port, b_port);
    let to_alice = anchor(&answer, RELAY_IP, &allocation.offerer).unwrap();
    let a_port = allocation.offerer.streams[0].rtp_port;
    assert_eq!(
        lines(&to_alice)[3..6],
        [
            "c=IN IP4 203.0.113.1".to_owned(),
            "t=0 0".to_owned(),
            format!("m=audio {a_port} RTP/AVP 0 101"),
        ]
    );
    assert!(lines(&to_alice).contains(&format!("a=rtcp:{}", a_port + 1)));
}

#[test]
fn sdes_caller_to_plain_phone_and_back() {
    let t0 = Instant::now();
    let offer = alice(&[
        "m=audio 4000 RTP/SAVP 0",
        "a=rtpmap:0 PCMU/8000",
        "a=crypto:1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4",
        "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTCP",
        &format!("a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:{PHONE_KEY}|2^20"),
    ]);
    let leg = leg_offer(&offer).unwrap();
    assert_eq!(leg.media, LegMedia::Sdes(SrtpSuite::AesCm128HmacSha1_80));
    let peer = leg.streams[0].crypto.clone().unwrap();
    assert_eq!(
        peer.tag, 4,
        "an unknown suite, an MKI and session parameters are skipped"
    );
    assert_eq!(peer.key.to_base64(), PHONE_KEY);

    let mut relay = relay();
    let allocation = relay
        .allocate(t0, SESSION, leg, pending(LegMedia::Rtp, false))
        .unwrap();
    let to_bob = anchor(&offer, RELAY_IP, &allocation.answerer).unwrap();
    let text = to_bob.to_string();
    assert!(text.contains(" RTP/AVP 0\r\n"), "{text}");
    assert!(!text.contains("a=crypto"), "{text}");

    // The answer to Alice carries the relay's own key, under Alice's tag.
    let to_alice = anchor(&plain_answer(5000, &[]), RELAY_IP, &allocation.offerer).unwrap();
    let media = &to_alice.media[0];
    assert_eq!(media.protocol.as_str(), "RTP/SAVP");
    let cryptos: Vec<_> = media.crypto().collect();
    assert_eq!(cryptos.len(), 1);
    assert_eq!(
        (cryptos[0].tag, cryptos[0].suite.as_str()),
        (4, "AES_CM_128_HMAC_SHA1_80")
    );
    let inline = cryptos[0].inline_keys().next().unwrap();
    let relay_key =
        MasterKey::from_base64(SrtpSuite::AesCm128HmacSha1_80, &inline.key_salt).unwrap();
    assert_ne!(relay_key.to_base64(), PHONE_KEY);
    assert_eq!(
        Some(relay_key),
        allocation.offerer.streams[0].crypto.clone().map(|c| c.key)
    );
}

#[test]
fn plain_caller_to_sdes_phone_gets_a_relay_key_offered() {
    let t0 = Instant::now();
    let offer = offer_from_nat_phone();
    let mut relay = relay();
    let allocation = relay
        .allocate(
            t0,
            SESSION,
            leg_offer(&offer).unwrap(),
            pending(LegMedia::Sdes(SrtpSuite::AesCm128HmacSha1_80), false),
        )
        .unwrap();
    let to_bob = anchor(&offer, RELAY_IP, &allocation.answerer).unwrap();
    assert_eq!(to_bob.media[0].protocol.as_str(), "RTP/SAVP");
    let offered: Vec<_> = to_bob.media[0].crypto().collect();
    assert_eq!(offered.len(), 1);
    assert_eq!(offered[0].tag, 1);

    // Bob answers with his key under tag 1: the relay decrypts with it.
    let answer = bob(&[
        "m=audio 5000 RTP/SAVP 0",
        &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{PHONE_KEY}"),
    ]);
    let bob = leg_offer(&answer).unwrap();
    assert_eq!(
        bob.streams[0].crypto.as_ref().unwrap().key.to_base64(),
        PHONE_KEY
    );
    relay.update(t0, SESSION, Side::Answerer, bob).unwrap();
    // Alice's answer stays plain.
    let to_alice = anchor(&answer, RELAY_IP, &allocation.offerer).unwrap();
    assert_eq!(to_alice.media[0].protocol.as_str(), "RTP/AVP");
    assert_eq!(to_alice.media[0].crypto().count(), 0);
}

#[test]
fn rtcp_mux_offered_and_refused() {
    let t0 = Instant::now();
    let offer = alice(&[
        "m=audio 4000 RTP/AVPF 0",
        "a=rtcp:4000",
        "a=rtcp-mux",
        "a=inactive",
    ]);
    let leg = leg_offer(&offer).unwrap();
    assert!(leg.streams[0].rtcp_mux);
    assert_eq!(leg.streams[0].direction, Direction::Inactive);
    let mut relay = relay();
    let allocation = relay
        .allocate(t0, SESSION, leg, pending(LegMedia::Rtp, true))
        .unwrap();
    let to_bob = anchor(&offer, RELAY_IP, &allocation.answerer).unwrap();
    let text = to_bob.to_string();
    assert!(text.contains("a=rtcp-mux\r\n"), "{text}");
    assert!(!text.contains("a=rtcp:"), "{text}");
    assert!(text.contains(" RTP/AVPF 0\r\n"), "feedback kept: {text}");

    // Bob does not mux: his leg gets its RTCP port back.
    let answer = plain_answer(5000, &["a=rtcp:5009"]);
    let bob = leg_offer(&answer).unwrap();
    assert!(!bob.streams[0].rtcp_mux);
    assert_eq!(
        bob.streams[0].rtcp,
        Some(SocketAddr::from(([192, 0, 2, 20], 5009)))
    );
    let b_side = relay.update(t0, SESSION, Side::Answerer, bob).unwrap();
    let b_port = b_side.streams[0].rtp_port;
    assert_eq!(b_side.streams[0].rtcp_port, Some(b_port + 1));
    assert_eq!(relay.allocation(SESSION).unwrap().answerer, b_side);
    assert_eq!(
        relay.allocation(SESSION).unwrap().offerer,
        allocation.offerer
    );
    // Alice muxes, so her answer says so.
    let to_alice = anchor(&answer, RELAY_IP, &allocation.offerer).unwrap();
    let text = to_alice.to_string();
    assert!(
        text.contains("a=rtcp-mux\r\n") && !text.contains("a=rtcp:"),
        "{text}"
    );
}

#[test]
fn disabled_streams_and_refusals() {
    let offer = alice(&["m=audio 4000 RTP/AVP 0", "m=video 0 RTP/AVP 96"]);
    let leg = leg_offer(&offer).unwrap();
    assert_eq!(leg.streams[1].rtp, None);
    let mut relay = relay();
    let allocation = relay
        .allocate(
            Instant::now(),
            SESSION,
            leg,
            LegOffer {
                media: LegMedia::Rtp,
                streams: vec![StreamOffer::pending(false), StreamOffer::pending(false)],
            },
        )
        .unwrap();
    let to_bob = anchor(&offer, RELAY_IP, &allocation.answerer).unwrap();
    assert_eq!(to_bob.media[1].port, 0);
    assert_eq!(
        anchor(&offer_from_nat_phone(), RELAY_IP, &allocation.answerer),
        Err(AnchorError::StreamCount {
            sdp: 1,
            allocated: 2
        })
    );

    let keyless = alice(&["m=audio 4000 RTP/SAVP 0"]);
    assert_eq!(leg_offer(&keyless), Err(AnchorError::NoUsableCrypto(0)));
    let no_address = sdp(&[
        "v=0",
        "o=a 1 1 IN IP4 192.0.2.10",
        "s=-",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0",
    ]);
    assert_eq!(leg_offer(&no_address), Err(AnchorError::NoConnection(0)));
}
