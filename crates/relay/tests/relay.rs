//! The relay core on a virtual clock: latching, hijack guard, NAT, SRTP
//! bridging, RTCP demultiplexing, media timeout, port exhaustion, rate
//! limit and hold, all without sockets.
// Tests may unwrap and index: a panic is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::rtcp::{ReceiverReport, ReportBlock, RtcpPacket};
use switchboard_media::rtp::RtpPacket;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};
use switchboard_proto::sdp::Direction;
use switchboard_relay::{
    Allocation, LegMedia, LegOffer, PeerCrypto, Relay, RelayConfig, RelayError, RelayEvent,
    SessionId, Side, StreamOffer, Transmit,
};

const A: &str = "192.0.2.10:4000";
const B: &str = "192.0.2.20:5000";
const STRANGER: &str = "198.51.100.66:6666";
const SESSION: SessionId = SessionId(1);

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn config() -> RelayConfig {
    RelayConfig {
        ports: 40_000..=40_099,
        max_sessions: 10,
        max_packets_per_second: 100,
        media_timeout: Duration::from_secs(30),
        hold_timeout: Some(Duration::from_secs(600)),
        latch_window: Duration::from_secs(2),
    }
}

fn relay(config: RelayConfig) -> Relay {
    Relay::new(config, Box::new(StdRng::seed_from_u64(7)))
}

fn stream(rtp: &str, rtcp_mux: bool) -> StreamOffer {
    StreamOffer {
        rtcp_mux,
        ..StreamOffer::at(addr(rtp))
    }
}

fn plain(rtp: &str) -> LegOffer {
    LegOffer::single(StreamOffer::at(addr(rtp)))
}

/// An SDES leg whose party sends with `key`.
fn sdes(rtp: &str, key: &MasterKey) -> LegOffer {
    LegOffer::single(StreamOffer::at(addr(rtp)).with_crypto(PeerCrypto {
        tag: 3,
        key: key.clone(),
    }))
}

fn rtp(seq: u16, payload: &'static [u8]) -> Bytes {
    RtpPacket::new(
        0,
        seq,
        u32::from(seq) * 160,
        0xA1B2_C3D4,
        Bytes::from_static(payload),
    )
    .to_bytes()
    .unwrap()
}

fn receiver_report(jitter: u32) -> Bytes {
    RtcpPacket::build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: 0x0BAD_CAFE,
        reports: vec![ReportBlock {
            ssrc: 0xA1B2_C3D4,
            fraction_lost: 12,
            cumulative_lost: 3,
            highest_sequence: 100,
            jitter,
            last_sr: 0,
            delay_since_last_sr: 0,
        }],
    })])
    .unwrap()
}

fn transmits(relay: &mut Relay) -> Vec<Transmit> {
    std::iter::from_fn(|| relay.poll_transmit()).collect()
}

fn events(relay: &mut Relay) -> Vec<RelayEvent> {
    std::iter::from_fn(|| relay.poll_event()).collect()
}

/// The relay ports A and B send their RTP to.
fn ports(allocation: &Allocation) -> (u16, u16) {
    (
        allocation.offerer.streams[0].rtp_port,
        allocation.answerer.streams[0].rtp_port,
    )
}

/// A session in which A and B have each sent one packet at `t0`
/// (both latched; the transmits and events not drained).
fn talking(t0: Instant) -> (Relay, u16, u16) {
    let mut relay = relay(config());
    let allocation = relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    let (a_port, b_port) = ports(&allocation);
    relay.handle_packet(t0, a_port, addr(A), rtp(1, b"a"));
    relay.handle_packet(t0, b_port, addr(B), rtp(1, b"b"));
    (relay, a_port, b_port)
}

#[test]
fn two_legs_latch_and_forward_both_ways() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let allocation = relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    let (a_port, b_port) = ports(&allocation);
    assert_ne!(a_port, b_port);
    assert_eq!(allocation.offerer.streams[0].rtcp_port, Some(a_port + 1));

    relay.handle_packet(t0, a_port, addr(A), rtp(1, b"hello"));
    assert_eq!(
        transmits(&mut relay),
        [Transmit {
            local_port: b_port,
            destination: addr(B),
            bytes: rtp(1, b"hello"),
        }]
    );
    relay.handle_packet(t0, b_port, addr(B), rtp(9, b"hi back"));
    assert_eq!(
        transmits(&mut relay),
        [Transmit {
            local_port: a_port,
            destination: addr(A),
            bytes: rtp(9, b"hi back"),
        }]
    );
    let latched: Vec<_> = events(&mut relay)
        .into_iter()
        .map(|e| match e {
            RelayEvent::Latched {
                side,
                source,
                rtcp: false,
                ..
            } => (side, source),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        latched,
        [(Side::Offerer, addr(A)), (Side::Answerer, addr(B))]
    );

    let stats = relay.release(SESSION).unwrap();
    assert_eq!(
        (stats.offerer.packets_in, stats.offerer.packets_out),
        (1, 1)
    );
    assert_eq!(stats.offerer.bytes_in, rtp(1, b"hello").len() as u64);
    assert_eq!(stats.answerer.bytes_out, rtp(1, b"hello").len() as u64);
    assert_eq!(stats.offerer.dropped.total(), 0);
    // Released: its ports belong to no session.
    relay.handle_packet(t0, a_port, addr(A), rtp(2, b"late"));
    assert!(transmits(&mut relay).is_empty());
    assert_eq!(relay.unknown_port_drops(), 1);
}

#[test]
fn a_strangers_packets_never_reach_the_call() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let allocation = relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    let a_port = ports(&allocation).0;
    relay.handle_packet(t0, a_port, addr(A), rtp(1, b"a"));
    assert_eq!(transmits(&mut relay).len(), 1);
    events(&mut relay);

    // Latched: a stranger aiming at A's port is dropped, even within the window.
    for seq in 2..5 {
        relay.handle_packet(t0, a_port, addr(STRANGER), rtp(seq, b"evil"));
    }
    assert!(transmits(&mut relay).is_empty());
    assert_eq!(
        events(&mut relay),
        [RelayEvent::StrangerDropped {
            session: SESSION,
            side: Side::Offerer,
            stream: 0,
            source: addr(STRANGER),
        }]
    );
    // A still reaches B.
    relay.handle_packet(t0, a_port, addr(A), rtp(5, b"a"));
    assert_eq!(transmits(&mut relay)[0].destination, addr(B));
    assert_eq!(relay.stats(SESSION).unwrap().offerer.dropped.stranger, 3);

    // Before B latched and after the window, a stranger cannot latch B's leg.
    let b_port = ports(&allocation).1;
    let late = t0 + Duration::from_secs(3);
    relay.handle_packet(late, b_port, addr(STRANGER), rtp(1, b"evil"));
    assert!(transmits(&mut relay).is_empty());
    relay.handle_packet(late, b_port, addr(B), rtp(1, b"b"));
    assert_eq!(transmits(&mut relay)[0].destination, addr(A));
}

#[test]
fn nat_latching_learns_the_public_address() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let private = "10.0.0.5:4000";
    let public = addr("203.0.113.7:40000");
    let allocation = relay
        .allocate(t0, SESSION, plain(private), plain(B))
        .unwrap();
    let (a_port, b_port) = ports(&allocation);

    // B talks first: A's leg is not latched, so the relay sends to the SDP address.
    relay.handle_packet(t0, b_port, addr(B), rtp(1, b"b"));
    assert_eq!(transmits(&mut relay)[0].destination, addr(private));

    // A's packets come from its NAT within the latch window: latched.
    relay.handle_packet(
        t0 + Duration::from_millis(500),
        a_port,
        public,
        rtp(1, b"a"),
    );
    assert_eq!(transmits(&mut relay)[0].destination, addr(B));
    relay.handle_packet(
        t0 + Duration::from_millis(520),
        b_port,
        addr(B),
        rtp(2, b"b"),
    );
    assert_eq!(transmits(&mut relay)[0].destination, public);

    // After the window a NAT address cannot latch a new leg, the SDP's IP can.
    let mut late = relay_with_session(t0);
    let after = t0 + Duration::from_secs(5);
    late.0.handle_packet(after, late.1, public, rtp(1, b"a"));
    assert!(transmits(&mut late.0).is_empty());
    late.0
        .handle_packet(after, late.1, addr("10.0.0.5:4444"), rtp(2, b"a"));
    assert_eq!(transmits(&mut late.0).len(), 1);
}

/// A relay with A (private address, SDP 10.0.0.5:4000) and B; returns A's port.
fn relay_with_session(t0: Instant) -> (Relay, u16) {
    let mut relay = relay(config());
    let allocation = relay
        .allocate(t0, SESSION, plain("10.0.0.5:4000"), plain(B))
        .unwrap();
    (relay, ports(&allocation).0)
}

#[test]
fn srtp_to_rtp_and_rtp_to_srtp_are_bridged() {
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(99);
    let a_key = MasterKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let mut a_tx = SrtpContext::new(&a_key);
    let mut relay = relay(config());
    let allocation = relay
        .allocate(t0, SESSION, sdes(A, &a_key), plain(B))
        .unwrap();
    let (a_port, b_port) = ports(&allocation);
    let relay_key = allocation.offerer.streams[0].crypto.clone().unwrap();
    assert_eq!(relay_key.tag, 3, "the answer to A echoes A's tag");
    assert_ne!(relay_key.key, a_key, "the relay has its own key for A");
    assert_eq!(allocation.answerer.streams[0].crypto, None);

    // SRTP from A arrives at B as plain RTP.
    let srtp = a_tx.protect_rtp(&rtp(1, b"secret voice")).unwrap();
    relay.handle_packet(t0, a_port, addr(A), srtp.clone());
    let sent = transmits(&mut relay);
    assert_eq!(sent[0].bytes, rtp(1, b"secret voice"));

    // Plain RTP from B arrives at A as SRTP under the relay's key.
    relay.handle_packet(t0, b_port, addr(B), rtp(7, b"plain voice"));
    let sent = transmits(&mut relay);
    assert_eq!(sent[0].destination, addr(A));
    assert_ne!(sent[0].bytes, rtp(7, b"plain voice"));
    let mut a_rx = SrtpContext::new(&relay_key.key);
    let decrypted = a_rx.unprotect_rtp(&sent[0].bytes).unwrap();
    assert_eq!(
        RtpPacket::parse(decrypted).unwrap().payload,
        Bytes::from_static(b"plain voice")
    );

    // SRTCP from A is decrypted too; B's RTCP is encrypted for A.
    let srtcp = a_tx.protect_rtcp(&receiver_report(80)).unwrap();
    relay.handle_packet(t0, a_port + 1, addr("192.0.2.10:4001"), srtcp);
    assert_eq!(transmits(&mut relay)[0].bytes, receiver_report(80));
    relay.handle_packet(t0, b_port + 1, addr("192.0.2.20:5001"), receiver_report(5));
    let sent = transmits(&mut relay);
    assert_eq!(
        a_rx.unprotect_rtcp(&sent[0].bytes).unwrap(),
        receiver_report(5)
    );

    // A replay and a tampered packet are dropped and counted.
    relay.handle_packet(t0, a_port, addr(A), srtp);
    let mut tampered = a_tx.protect_rtp(&rtp(2, b"secret voice")).unwrap().to_vec();
    tampered[14] ^= 1;
    relay.handle_packet(t0, a_port, addr(A), Bytes::from(tampered));
    assert!(transmits(&mut relay).is_empty());
    let dropped = relay.stats(SESSION).unwrap().offerer.dropped;
    assert_eq!((dropped.replayed, dropped.auth_failed), (1, 1));
}

#[test]
fn srtp_from_an_unknown_key_cannot_latch_the_leg() {
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(5);
    let a_key = MasterKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let other_key = MasterKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let mut relay = relay(config());
    let allocation = relay
        .allocate(t0, SESSION, sdes(A, &a_key), plain(B))
        .unwrap();
    let a_port = ports(&allocation).0;
    // Within the latch window, but not authenticated: no latch.
    let forged = SrtpContext::new(&other_key)
        .protect_rtp(&rtp(1, b"x"))
        .unwrap();
    relay.handle_packet(t0, a_port, addr(STRANGER), forged);
    assert!(transmits(&mut relay).is_empty());
    assert!(events(&mut relay).is_empty());
    let good = SrtpContext::new(&a_key).protect_rtp(&rtp(1, b"x")).unwrap();
    relay.handle_packet(t0, a_port, addr(A), good);
    assert_eq!(transmits(&mut relay).len(), 1);
}

#[test]
fn rtcp_is_demultiplexed_on_a_muxed_port() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let muxed = LegOffer {
        media: LegMedia::Rtp,
        streams: vec![stream(A, true)],
    };
    let allocation = relay.allocate(t0, SESSION, muxed, plain(B)).unwrap();
    assert_eq!(allocation.offerer.streams[0].rtcp_port, None);
    let (a_port, b_port) = ports(&allocation);

    // RTCP on A's one port goes to B's RTCP port, from the relay's RTCP port.
    relay.handle_packet(t0, a_port, addr(A), receiver_report(40));
    assert_eq!(
        transmits(&mut relay),
        [Transmit {
            local_port: b_port + 1,
            destination: addr("192.0.2.20:5001"),
            bytes: receiver_report(40),
        }]
    );
    // RTP on the same port goes to B's RTP port.
    relay.handle_packet(t0, a_port, addr(A), rtp(1, b"a"));
    assert_eq!(transmits(&mut relay)[0].local_port, b_port);
    // B's RTCP on its RTCP port reaches A on A's one port.
    relay.handle_packet(t0, b_port + 1, addr("192.0.2.20:5001"), receiver_report(7));
    assert_eq!(
        transmits(&mut relay),
        [Transmit {
            local_port: a_port,
            destination: addr(A),
            bytes: receiver_report(7),
        }]
    );
    // The receiver reports feed the statistics.
    let stats = relay.release(SESSION).unwrap();
    assert_eq!(stats.offerer.rtcp_in, 1);
    assert_eq!(stats.offerer.quality.unwrap().jitter, 40);
    assert_eq!(stats.answerer.quality.unwrap().jitter, 7);
    assert_eq!(stats.answerer.quality.unwrap().cumulative_lost, 3);
}

#[test]
fn silence_for_the_media_timeout_is_reported_once() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    assert_eq!(relay.poll_timeout(), None);
    let allocation = relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    assert_eq!(relay.poll_timeout(), Some(t0 + Duration::from_secs(30)));

    let t10 = t0 + Duration::from_secs(10);
    relay.handle_packet(t10, ports(&allocation).0, addr(A), rtp(1, b"a"));
    relay.handle_timeout(t0 + Duration::from_secs(30));
    assert!(
        events(&mut relay)
            .iter()
            .all(|e| !matches!(e, RelayEvent::MediaTimeout { .. }))
    );
    assert_eq!(relay.poll_timeout(), Some(t10 + Duration::from_secs(30)));

    relay.handle_timeout(t10 + Duration::from_secs(30));
    assert_eq!(
        events(&mut relay),
        [RelayEvent::MediaTimeout {
            session: SESSION,
            idle: Duration::from_secs(30),
        }]
    );
    assert_eq!(relay.poll_timeout(), None);
    relay.handle_timeout(t10 + Duration::from_secs(90));
    assert!(events(&mut relay).is_empty());
}

#[test]
fn port_exhaustion_is_a_typed_error_and_takes_nothing() {
    let t0 = Instant::now();
    // Five pairs: two one-stream sessions take four.
    let mut relay = relay(RelayConfig {
        ports: 40_000..=40_009,
        ..config()
    });
    relay
        .allocate(t0, SessionId(1), plain(A), plain(B))
        .unwrap();
    relay
        .allocate(t0, SessionId(2), plain(A), plain(B))
        .unwrap();
    assert_eq!(
        relay.allocate(t0, SessionId(3), plain(A), plain(B)),
        Err(RelayError::PortsExhausted { needed: 4, free: 2 })
    );
    assert_eq!(relay.session_count(), 2);
    relay.release(SessionId(1)).unwrap();
    relay
        .allocate(t0, SessionId(3), plain(A), plain(B))
        .unwrap();

    let mut small = self::relay(RelayConfig {
        max_sessions: 1,
        ..config()
    });
    small
        .allocate(t0, SessionId(1), plain(A), plain(B))
        .unwrap();
    assert_eq!(
        small.allocate(t0, SessionId(2), plain(A), plain(B)),
        Err(RelayError::TooManySessions(1))
    );
    assert_eq!(
        small.allocate(t0, SessionId(1), plain(A), plain(B)),
        Err(RelayError::DuplicateSession(SessionId(1)))
    );
}

#[test]
fn a_leg_over_its_packet_rate_is_cut_for_the_rest_of_the_second() {
    let t0 = Instant::now();
    let mut relay = relay(RelayConfig {
        max_packets_per_second: 5,
        ..config()
    });
    let allocation = relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    let a_port = ports(&allocation).0;
    for seq in 0..8 {
        relay.handle_packet(
            t0 + Duration::from_millis(seq.into()),
            a_port,
            addr(A),
            rtp(seq, b"a"),
        );
    }
    assert_eq!(transmits(&mut relay).len(), 5);
    let limited = events(&mut relay)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                RelayEvent::RateLimited {
                    side: Side::Offerer,
                    ..
                }
            )
        })
        .count();
    assert_eq!(limited, 1);
    assert_eq!(
        relay.stats(SESSION).unwrap().offerer.dropped.rate_limited,
        3
    );
    let t1 = t0 + Duration::from_secs(1);
    relay.handle_packet(t1, a_port, addr(A), rtp(9, b"a"));
    assert_eq!(transmits(&mut relay).len(), 1, "a new second, a new budget");

    // A stranger's flood does not use up A's budget.
    for seq in 0..50 {
        relay.handle_packet(t1, a_port, addr(STRANGER), rtp(seq, b"evil"));
    }
    relay.handle_packet(t1, a_port, addr(A), rtp(100, b"a"));
    assert_eq!(transmits(&mut relay).len(), 1);
}

#[test]
fn hold_resume_and_a_new_address_through_update() {
    let t0 = Instant::now();
    let (mut relay, a_port, b_port) = talking(t0);
    assert_eq!(transmits(&mut relay).len(), 2);

    // A puts B on hold (sendonly): A's music reaches B, B's audio is not sent to A.
    let t1 = t0 + Duration::from_secs(10);
    let mut hold = plain(A);
    hold.streams[0].direction = Direction::SendOnly;
    relay.update(t1, SESSION, Side::Offerer, hold).unwrap();
    relay.handle_packet(t1, a_port, addr(A), rtp(2, b"music"));
    relay.handle_packet(t1, b_port, addr(B), rtp(2, b"b"));
    let sent = transmits(&mut relay);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].destination, addr(B));
    assert_eq!(relay.stats(SESSION).unwrap().answerer.dropped.on_hold, 1);

    // A resumes with the same SDP: the latch stays, no window opens for a stranger.
    relay.update(t1, SESSION, Side::Offerer, plain(A)).unwrap();
    relay.handle_packet(t1, a_port, addr(STRANGER), rtp(3, b"evil"));
    relay.handle_packet(t1, b_port, addr(B), rtp(3, b"b"));
    let sent = transmits(&mut relay);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].destination, addr(A));

    // A moves to a new address (new SDP): it latches again, the old one is a stranger.
    let t2 = t0 + Duration::from_secs(20);
    let moved = "192.0.2.11:4100";
    relay
        .update(t2, SESSION, Side::Offerer, plain(moved))
        .unwrap();
    relay.handle_packet(t2, a_port, addr(moved), rtp(3, b"a"));
    relay.handle_packet(t2, a_port, addr(A), rtp(4, b"old"));
    relay.handle_packet(t2, b_port, addr(B), rtp(4, b"b"));
    let sent = transmits(&mut relay);
    assert_eq!(
        sent.iter().map(|t| t.destination).collect::<Vec<_>>(),
        [addr(B), addr(moved)]
    );
    assert_eq!(
        relay.update(
            t2,
            SESSION,
            Side::Offerer,
            LegOffer {
                media: LegMedia::Rtp,
                streams: vec![]
            }
        ),
        Err(RelayError::StreamCount {
            expected: 1,
            got: 0
        })
    );
}

#[test]
fn garbage_and_unknown_ports_are_dropped() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let allocation = relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    let a_port = ports(&allocation).0;
    relay.handle_packet(t0, a_port, addr(A), Bytes::from_static(b"GET / HTTP/1.1"));
    relay.handle_packet(t0, a_port, addr(A), Bytes::new());
    relay.handle_packet(t0, 40_099 - 1, addr(A), rtp(1, b"a"));
    assert!(transmits(&mut relay).is_empty());
    assert!(events(&mut relay).is_empty(), "garbage latches nothing");
    assert_eq!(relay.stats(SESSION).unwrap().offerer.dropped.malformed, 2);
    assert_eq!(relay.unknown_port_drops(), 1);
}

#[test]
fn a_re_invite_with_new_keys_rekeys_and_the_same_key_keeps_the_context() {
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(11);
    let old_key = MasterKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let new_key = MasterKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let mut relay = relay(config());
    let allocation = relay
        .allocate(t0, SESSION, sdes(A, &old_key), plain(B))
        .unwrap();
    let (a_port, _) = ports(&allocation);
    let mut old_tx = SrtpContext::new(&old_key);
    let first = old_tx.protect_rtp(&rtp(1, b"one")).unwrap();
    relay.handle_packet(t0, a_port, addr(A), first.clone());
    assert_eq!(transmits(&mut relay).len(), 1);

    // Same key again (a re-INVITE for hold/resume): the replay window survives.
    let a_side = relay
        .update(t0, SESSION, Side::Offerer, sdes(A, &old_key))
        .unwrap();
    assert_eq!(
        a_side.streams[0].crypto,
        allocation.offerer.streams[0].crypto
    );
    relay.handle_packet(t0, a_port, addr(A), first);
    assert!(transmits(&mut relay).is_empty());
    assert_eq!(relay.stats(SESSION).unwrap().offerer.dropped.replayed, 1);

    // New key: packets under the old one fail, under the new one pass.
    relay
        .update(t0, SESSION, Side::Offerer, sdes(A, &new_key))
        .unwrap();
    relay.handle_packet(
        t0,
        a_port,
        addr(A),
        old_tx.protect_rtp(&rtp(2, b"old")).unwrap(),
    );
    assert!(transmits(&mut relay).is_empty());
    let mut new_tx = SrtpContext::new(&new_key);
    relay.handle_packet(
        t0,
        a_port,
        addr(A),
        new_tx.protect_rtp(&rtp(3, b"new")).unwrap(),
    );
    assert_eq!(transmits(&mut relay)[0].bytes, rtp(3, b"new"));
    assert_eq!(relay.stats(SESSION).unwrap().offerer.dropped.auth_failed, 1);
}

#[test]
fn the_callee_leg_latches_nobody_before_its_answer() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let pending = LegOffer {
        media: LegMedia::Rtp,
        streams: vec![StreamOffer::pending(false)],
    };
    let allocation = relay.allocate(t0, SESSION, plain(A), pending).unwrap();
    let (a_port, b_port) = ports(&allocation);
    // A stranger guessing B's port within the window gets nothing of A's media.
    relay.handle_packet(t0, b_port, addr(STRANGER), rtp(1, b"evil"));
    relay.handle_packet(t0, a_port, addr(A), rtp(1, b"early"));
    assert!(transmits(&mut relay).is_empty());
    let dropped = relay.stats(SESSION).unwrap();
    assert_eq!(dropped.answerer.dropped.stranger, 1);
    assert_eq!(dropped.offerer.dropped.no_destination, 1);

    // The answer gives B's address: B latches, A reaches B.
    let t1 = t0 + Duration::from_secs(20);
    relay.update(t1, SESSION, Side::Answerer, plain(B)).unwrap();
    relay.handle_packet(t1, b_port, addr(B), rtp(2, b"b"));
    relay.handle_packet(t1, a_port, addr(A), rtp(2, b"a"));
    let sent = transmits(&mut relay);
    assert_eq!(
        sent.iter().map(|t| t.destination).collect::<Vec<_>>(),
        [addr(A), addr(B)]
    );
}

/// B sends for 5 s and then dies (no RTP, no RTCP) while A goes on
/// talking: the call is dead once B has been silent for the media timeout,
/// although packets from A still arrive.
#[test]
fn a_party_gone_silent_times_the_call_out_while_the_other_still_sends() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let allocation = relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    let (a_port, b_port) = ports(&allocation);
    for second in 0..=60_u16 {
        let now = t0 + Duration::from_secs(u64::from(second));
        relay.handle_packet(now, a_port, addr(A), rtp(second, b"a"));
        if second <= 5 {
            relay.handle_packet(now, b_port, addr(B), rtp(second, b"b"));
        }
        if relay.poll_timeout().is_some_and(|due| due <= now) {
            relay.handle_timeout(now);
        }
        let timed_out: Vec<_> = events(&mut relay)
            .into_iter()
            .filter(|e| matches!(e, RelayEvent::MediaTimeout { .. }))
            .collect();
        if second == 35 {
            assert_eq!(
                timed_out,
                [RelayEvent::MediaTimeout {
                    session: SESSION,
                    idle: Duration::from_secs(30),
                }]
            );
        } else {
            assert!(timed_out.is_empty(), "{timed_out:?} at {second} s");
        }
    }
}

/// A holds with `sendonly`, B answers `recvonly`, and neither sends (as
/// baresip does while holding): the call is on hold, not dead. The hold
/// timeout applies, not the media timeout that ended such calls after
/// 30 s; resume brings the media timeout back.
#[test]
fn a_call_held_one_way_with_nobody_sending_gets_the_hold_timeout() {
    let t0 = Instant::now();
    let (mut relay, _, _) = talking(t0);
    assert_eq!(relay.packets_relayed(), 2);
    events(&mut relay); // both latched

    let t1 = t0 + Duration::from_secs(5);
    let mut sendonly = plain(A);
    sendonly.streams[0].direction = Direction::SendOnly;
    let mut recvonly = plain(B);
    recvonly.streams[0].direction = Direction::RecvOnly;
    relay.update(t1, SESSION, Side::Offerer, sendonly).unwrap();
    relay.update(t1, SESSION, Side::Answerer, recvonly).unwrap();

    // Silent on hold for 10 media timeouts: nothing is reported.
    for seconds in [25, 30, 60, 120, 299] {
        relay.handle_timeout(t1 + Duration::from_secs(seconds));
        assert!(events(&mut relay).is_empty(), "timed out at {seconds} s");
    }
    assert_eq!(relay.poll_timeout(), Some(t1 + Duration::from_secs(600)));

    // Resumed: silence is a dead call again after the media timeout.
    let t2 = t1 + Duration::from_secs(400);
    relay.update(t2, SESSION, Side::Offerer, plain(A)).unwrap();
    relay.update(t2, SESSION, Side::Answerer, plain(B)).unwrap();
    relay.handle_timeout(t2 + Duration::from_secs(30));
    assert_eq!(
        events(&mut relay),
        [RelayEvent::MediaTimeout {
            session: SESSION,
            idle: Duration::from_secs(30),
        }]
    );
    assert_eq!(relay.packets_relayed(), 2, "only forwarded packets count");
}

#[test]
fn a_call_on_hold_both_ways_gets_the_hold_timeout_and_resume_the_media_timeout() {
    let t0 = Instant::now();
    let mut relay = relay(config());
    let mut inactive = plain(A);
    inactive.streams[0].direction = Direction::Inactive;
    relay.allocate(t0, SESSION, plain(A), plain(B)).unwrap();
    relay.update(t0, SESSION, Side::Offerer, inactive).unwrap();

    // Held both ways: 30 s of silence is expected, 600 s is not.
    relay.handle_timeout(t0 + Duration::from_secs(30));
    assert!(events(&mut relay).is_empty());
    assert_eq!(relay.poll_timeout(), Some(t0 + Duration::from_secs(600)));

    // Resumed at 100 s: the media timeout counts again, from the update.
    let t100 = t0 + Duration::from_secs(100);
    relay
        .update(t100, SESSION, Side::Offerer, plain(A))
        .unwrap();
    assert_eq!(relay.poll_timeout(), Some(t100 + Duration::from_secs(30)));
    relay.handle_timeout(t100 + Duration::from_secs(30));
    assert_eq!(
        events(&mut relay),
        [RelayEvent::MediaTimeout {
            session: SESSION,
            idle: Duration::from_secs(30),
        }]
    );

    // With no hold timeout, a held call is never timed out.
    let mut relay = self::relay(RelayConfig {
        hold_timeout: None,
        ..config()
    });
    let mut inactive = plain(A);
    inactive.streams[0].direction = Direction::Inactive;
    relay.allocate(t0, SESSION, inactive, plain(B)).unwrap();
    assert_eq!(relay.poll_timeout(), None);
}
