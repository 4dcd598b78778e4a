//! A session taken back after a restart (`Relay::restore`): the new relay
//! holds the ports and keys the old one gave each party, so media flows
//! again; a port already taken refuses it and takes nothing.
// Tests may unwrap and index: a panic is a failing test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::srtp::{MasterKey, SrtpSuite};
use switchboard_relay::{
    LegAllocation, LegOffer, PeerCrypto, Relay, RelayConfig, RelayError, SessionId, StreamOffer,
};

const SESSION: SessionId = SessionId(1);
const RELAY_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 1));

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn relay(seed: u64) -> Relay {
    let config = RelayConfig {
        ports: 40_000..=40_099,
        latch_window: Duration::from_secs(2),
        ..RelayConfig::default()
    };
    Relay::new(config, Box::new(StdRng::seed_from_u64(seed)))
}

/// What a party received from the relay, as a leg: the relay's ports and
/// keys toward it.
fn relay_side(leg: &LegAllocation) -> LegOffer {
    LegOffer {
        media: leg.media,
        streams: leg
            .streams
            .iter()
            .map(|s| {
                let stream = StreamOffer::at(SocketAddr::new(RELAY_IP, s.rtp_port));
                match &s.crypto {
                    Some(c) => stream.with_crypto(PeerCrypto {
                        tag: c.tag,
                        key: c.key.clone(),
                    }),
                    None => stream,
                }
            })
            .collect(),
    }
}

fn parties() -> [LegOffer; 2] {
    let key = MasterKey::generate(
        SrtpSuite::AesCm128HmacSha1_80,
        &mut StdRng::seed_from_u64(3),
    );
    let alice = LegOffer::single(
        StreamOffer::at(addr("192.0.2.10:4000")).with_crypto(PeerCrypto { tag: 1, key }),
    );
    let bob = LegOffer::single(StreamOffer::at(addr("192.0.2.20:5000")));
    [alice, bob]
}

#[test]
fn a_session_comes_back_on_its_ports_and_keys_and_forwards() {
    let t0 = Instant::now();
    let mut old = relay(7);
    let [alice, bob] = parties();
    let before = old.allocate(t0, SESSION, alice, bob).unwrap();

    // The restart: another relay (another RNG), the same ports and keys.
    let mut new = relay(99);
    let sides = [relay_side(&before.offerer), relay_side(&before.answerer)];
    new.restore(t0, SESSION, parties(), sides).unwrap();
    assert_eq!(new.allocation(SESSION).unwrap(), before);

    let b_port = before.answerer.streams[0].rtp_port;
    let mut packet = vec![0x80, 0x00, 0, 1];
    packet.extend_from_slice(&[0; 8]);
    packet.extend_from_slice(&[0x55; 20]);
    new.handle_packet(t0, b_port, addr("192.0.2.20:5000"), Bytes::from(packet));
    let out = new.poll_transmit().expect("bob's packet goes to alice");
    assert_eq!(out.destination, addr("192.0.2.10:4000"));
    assert_eq!(out.local_port, before.offerer.streams[0].rtp_port);
}

#[test]
fn a_port_taken_meanwhile_refuses_the_session_and_takes_nothing() {
    let t0 = Instant::now();
    let mut old = relay(7);
    let [alice, bob] = parties();
    let before = old.allocate(t0, SESSION, alice, bob).unwrap();

    let mut new = relay(7);
    // Another call got the first ports after the restart.
    let [alice, bob] = parties();
    new.allocate(t0, SessionId(2), alice, bob).unwrap();
    let sides = [relay_side(&before.offerer), relay_side(&before.answerer)];
    assert!(matches!(
        new.restore(t0, SESSION, parties(), sides),
        Err(RelayError::PortsExhausted { .. })
    ));
    assert!(new.allocation(SESSION).is_none());
    assert_eq!(new.session_count(), 1);
}
