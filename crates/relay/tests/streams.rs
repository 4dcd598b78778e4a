//! Streams added to and removed from a relayed session (a re-INVITE that
//! adds video, or disables a stream with port 0), on a virtual clock: new
//! streams get ports on both legs and carry media, the streams kept keep
//! their ports and latches, disabled ones give their ports back (to the
//! next call), a change that does not fit changes nothing, and an SDES
//! leg's new stream has the relay's key at once.
// Tests may unwrap and index: a panic is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::srtp::{MasterKey, SrtpSuite};
use switchboard_relay::{
    Allocation, LegMedia, LegOffer, PeerCrypto, Relay, RelayConfig, RelayError, SessionId, Side,
    StreamOffer, Transmit,
};

const SESSION: SessionId = SessionId(1);

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn relay(ports: RangeInclusive<u16>) -> Relay {
    let config = RelayConfig {
        ports,
        latch_window: Duration::from_secs(2),
        ..RelayConfig::default()
    };
    Relay::new(config, Box::new(StdRng::seed_from_u64(7)))
}

/// A plain leg with one stream at each address.
fn leg(addresses: &[&str]) -> LegOffer {
    LegOffer {
        media: LegMedia::Rtp,
        streams: addresses.iter().map(|a| StreamOffer::at(addr(a))).collect(),
    }
}

fn rtp(seq: u16) -> Bytes {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&[0; 8]);
    packet.extend_from_slice(&[0x55; 20]);
    packet.into()
}

/// `source` sends to the relay's `port`; where the relay sends it.
fn forward(relay: &mut Relay, now: Instant, port: u16, source: &str) -> Vec<(u16, SocketAddr)> {
    relay.handle_packet(now, port, addr(source), rtp(1));
    std::iter::from_fn(|| relay.poll_transmit())
        .map(|t: Transmit| (t.local_port, t.destination))
        .collect()
}

/// Session 1: one audio stream between 192.0.2.10:4000 and 192.0.2.20:5000.
fn audio_call(relay: &mut Relay, now: Instant) -> Allocation {
    let (a, b) = (leg(&["192.0.2.10:4000"]), leg(&["192.0.2.20:5000"]));
    relay.allocate(now, SESSION, a, b).unwrap()
}

#[test]
fn a_video_stream_added_gets_ports_on_both_legs_and_carries_media() {
    let t0 = Instant::now();
    let mut relay = relay(40_000..=40_099);
    let first = audio_call(&mut relay, t0);
    let (a_audio, b_audio) = (
        first.offerer.streams[0].rtp_port,
        first.answerer.streams[0].rtp_port,
    );
    assert_eq!(
        forward(&mut relay, t0, a_audio, "192.0.2.10:4000"),
        [(b_audio, addr("192.0.2.20:5000"))]
    );

    // Alice's re-INVITE adds video; bob's answer accepts it.
    relay.set_streams(t0, SESSION, &[true, true]).unwrap();
    assert_eq!(relay.enabled_streams(SESSION), Some(vec![true, true]));
    relay
        .update(
            t0,
            SESSION,
            Side::Offerer,
            leg(&["192.0.2.10:4000", "192.0.2.10:4002"]),
        )
        .unwrap();
    relay
        .update(
            t0,
            SESSION,
            Side::Answerer,
            leg(&["192.0.2.20:5000", "192.0.2.20:5002"]),
        )
        .unwrap();
    let both = relay.allocation(SESSION).unwrap();
    assert_eq!(
        both.offerer.streams[0].rtp_port, a_audio,
        "audio keeps its port"
    );
    assert_eq!(both.answerer.streams[0].rtp_port, b_audio);
    let (a_video, b_video) = (
        both.offerer.streams[1].rtp_port,
        both.answerer.streams[1].rtp_port,
    );
    let all = [a_audio, b_audio, a_video, b_video];
    assert!(
        all.iter()
            .all(|p| all.iter().filter(|q| *q == p).count() == 1),
        "{all:?}"
    );

    assert_eq!(
        forward(&mut relay, t0, a_video, "192.0.2.10:4002"),
        [(b_video, addr("192.0.2.20:5002"))]
    );
    assert_eq!(
        forward(&mut relay, t0, b_video, "192.0.2.20:5002"),
        [(a_video, addr("192.0.2.10:4002"))]
    );
    assert_eq!(
        forward(&mut relay, t0, b_audio, "192.0.2.20:5000"),
        [(a_audio, addr("192.0.2.10:4000"))],
        "audio still flows"
    );
}

#[test]
fn a_disabled_stream_frees_its_ports_for_the_next_call() {
    let t0 = Instant::now();
    // Four pairs: one call of audio and video fills the relay.
    let mut relay = relay(40_000..=40_007);
    audio_call(&mut relay, t0);
    relay.set_streams(t0, SESSION, &[true, true]).unwrap();
    let video = relay.allocation(SESSION).unwrap().offerer.streams[1].rtp_port;
    let next = || (leg(&["192.0.2.30:6000"]), leg(&["192.0.2.40:7000"]));
    let (a, b) = next();
    assert!(matches!(
        relay.allocate(t0, SessionId(2), a, b),
        Err(RelayError::PortsExhausted { .. })
    ));

    // Video removed with port 0: its ports go back; a packet to one of
    // them reaches no session.
    relay.set_streams(t0, SESSION, &[true, false]).unwrap();
    assert_eq!(relay.enabled_streams(SESSION), Some(vec![true, false]));
    let before = relay.unknown_port_drops();
    assert!(forward(&mut relay, t0, video, "192.0.2.10:4002").is_empty());
    assert_eq!(relay.unknown_port_drops(), before + 1);
    let (a, b) = next();
    relay.allocate(t0, SessionId(2), a, b).unwrap();

    // Enabled again, with no room: nothing changes.
    assert!(matches!(
        relay.set_streams(t0, SESSION, &[true, true]),
        Err(RelayError::PortsExhausted { .. })
    ));
    assert_eq!(relay.enabled_streams(SESSION), Some(vec![true, false]));

    // The session's release frees all it holds: two calls of one stream fit.
    relay.release(SESSION).unwrap();
    relay.release(SessionId(2)).unwrap();
    for id in [3, 4] {
        let (a, b) = next();
        relay.allocate(t0, SessionId(id), a, b).unwrap();
    }
}

#[test]
fn an_sdes_legs_new_stream_has_the_relays_key_at_once() {
    let t0 = Instant::now();
    let mut relay = relay(40_000..=40_099);
    let mut rng = StdRng::seed_from_u64(1);
    let key = MasterKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let sdes = LegOffer::single(
        StreamOffer::at(addr("192.0.2.10:4000")).with_crypto(PeerCrypto {
            tag: 1,
            key: key.clone(),
        }),
    );
    relay
        .allocate(t0, SESSION, sdes, leg(&["192.0.2.20:5000"]))
        .unwrap();
    // Bob (plain) adds video: alice's offer needs the relay's key for it.
    relay.set_streams(t0, SESSION, &[true, true]).unwrap();
    let allocation = relay.allocation(SESSION).unwrap();
    assert!(allocation.offerer.streams[1].crypto.is_some());
    assert!(allocation.answerer.streams[1].crypto.is_none());
}
