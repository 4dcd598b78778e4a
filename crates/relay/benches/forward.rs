//! Packets per second forwarded through the relay core, one leg to the
//! other of a latched session: plain RTP to RTP (a lookup and a copy-free
//! hand-over) and SDES-SRTP to RTP (authentication and decryption of each
//! packet). Each packet is a 20 ms PCMU frame (172 bytes of RTP).
// Benchmarks may unwrap and index: a failure is a broken benchmark, not a crash.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::rtp::RtpPacket;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};
use switchboard_relay::{LegOffer, PeerCrypto, Relay, RelayConfig, SessionId, StreamOffer};

const CHUNK: u64 = 4_096;

fn leg(address: &str, crypto: Option<PeerCrypto>) -> LegOffer {
    let stream = StreamOffer::at(address.parse().unwrap());
    LegOffer::single(match crypto {
        Some(crypto) => stream.with_crypto(crypto),
        None => stream,
    })
}

fn packet(seq: u64) -> Bytes {
    RtpPacket::new(
        0,
        seq as u16,
        (seq as u32).wrapping_mul(160),
        7,
        Bytes::from(vec![0xD5; 160]),
    )
    .to_bytes()
    .unwrap()
}

/// A relay with one latched session A → B; returns it, A's port and A's address.
fn session(a_crypto: Option<PeerCrypto>) -> (Relay, u16, SocketAddr) {
    let mut relay = Relay::new(
        RelayConfig {
            max_packets_per_second: u32::MAX,
            media_timeout: Duration::from_secs(3600),
            ..RelayConfig::default()
        },
        Box::new(StdRng::seed_from_u64(1)),
    );
    let a: SocketAddr = "192.0.2.10:4000".parse().unwrap();
    let allocation = relay
        .allocate(
            Instant::now(),
            SessionId(1),
            leg("192.0.2.10:4000", a_crypto),
            leg("192.0.2.20:5000", None),
        )
        .unwrap();
    (relay, allocation.offerer.streams[0].rtp_port, a)
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("relay forward 20ms PCMU");
    group.throughput(Throughput::Elements(1));

    let (mut relay, port, source) = session(None);
    let now = Instant::now();
    let plain = packet(1);
    group.bench_function("RTP to RTP", |b| {
        b.iter(|| {
            relay.handle_packet(now, port, source, black_box(plain.clone()));
            black_box(relay.poll_transmit().unwrap())
        });
    });

    let key = MasterKey::generate(
        SrtpSuite::AesCm128HmacSha1_80,
        &mut StdRng::seed_from_u64(2),
    );
    let (mut relay, port, source) = session(Some(PeerCrypto {
        tag: 1,
        key: key.clone(),
    }));
    let mut sender = SrtpContext::new(&key);
    let mut seq = 0u64;
    group.bench_function("SRTP (AES_CM_128_HMAC_SHA1_80) to RTP", |b| {
        // Each SRTP packet is accepted once (replay protection): protect a
        // chunk outside the timing, then time the relay on it.
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let count = left.min(CHUNK);
                let chunk: Vec<Bytes> = (0..count)
                    .map(|_| {
                        seq += 1;
                        sender.protect_rtp(&packet(seq)).unwrap()
                    })
                    .collect();
                let start = Instant::now();
                for srtp in chunk {
                    relay.handle_packet(now, port, source, srtp);
                    black_box(relay.poll_transmit().unwrap());
                }
                elapsed += start.elapsed();
                left -= count;
            }
            elapsed
        });
    });
    group.finish();
}

criterion_group!(benches, forward);
criterion_main!(benches);
