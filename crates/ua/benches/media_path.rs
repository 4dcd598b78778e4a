//! What one call costs the user agent, without the sockets:
//!
//! * `offer/answer`: one SDP offer made, answered and the answer taken
//!   (SRTP required: three `a=crypto` lines offered, one chosen), as a call
//!   set-up does;
//! * `media tick`: one 20 ms tick of one negotiated SRTP stream in both
//!   directions (a frame of PCM encoded, protected, unprotected by the
//!   peer, through its jitter buffer and decoded back to PCM; and the same
//!   the other way). Fifty ticks are one second of one call, so
//!   `50 x tick` is the media-path CPU of one concurrent SRTP call.
// Benchmarks may unwrap: a failure is a broken benchmark, not a crash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::audio::ToneGenerator;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};
use switchboard_media::{MediaConfig, MediaStream};
use switchboard_ua::{MediaPolicy, MediaSession, Negotiated, SrtpPolicy};

fn sessions(srtp: SrtpPolicy, suites: Vec<SrtpSuite>) -> (MediaSession, MediaSession) {
    let policy = MediaPolicy {
        srtp,
        suites,
        ..MediaPolicy::default()
    };
    let mut rng = StdRng::seed_from_u64(7);
    (
        MediaSession::new(policy.clone(), "127.0.0.1:30000".parse().unwrap(), &mut rng),
        MediaSession::new(policy, "127.0.0.1:31000".parse().unwrap(), &mut rng),
    )
}

fn negotiate(a: &mut MediaSession, b: &mut MediaSession) -> (Negotiated, Negotiated) {
    let offer = a.create_offer().to_string();
    let (answer, nb) = b.answer_offer(offer.as_bytes()).unwrap();
    let na = a.process_answer(answer.to_string().as_bytes()).unwrap();
    (na, nb)
}

fn stream(n: &Negotiated, rng: &mut StdRng) -> MediaStream {
    let config = MediaConfig {
        payload_type: n.payload_type,
        dtmf_payload_type: n.dtmf_payload_type,
        ..MediaConfig::new(n.codec)
    };
    let (tx, rx) = match &n.srtp {
        Some(k) => (
            Some(SrtpContext::new(
                &MasterKey::from_base64(k.suite, &k.local).unwrap(),
            )),
            Some(SrtpContext::new(
                &MasterKey::from_base64(k.suite, &k.remote).unwrap(),
            )),
        ),
        None => (None, None),
    };
    MediaStream::new(config, rng, tx, rx)
}

fn offer_answer(c: &mut Criterion) {
    let (mut a, mut b) = sessions(SrtpPolicy::Required, MediaPolicy::default().suites);
    c.bench_function("offer/answer (SRTP required, 3 suites offered)", |bench| {
        bench.iter(|| black_box(negotiate(&mut a, &mut b)));
    });
}

fn media_tick(c: &mut Criterion) {
    let mut group = c.benchmark_group("media tick: one SRTP call, both directions, 20 ms");
    let cases = [
        (
            "AES_CM_128_HMAC_SHA1_80",
            SrtpPolicy::Required,
            SrtpSuite::AesCm128HmacSha1_80,
        ),
        (
            "AEAD_AES_128_GCM",
            SrtpPolicy::Required,
            SrtpSuite::AeadAes128Gcm,
        ),
        ("plain RTP", SrtpPolicy::Off, SrtpSuite::AesCm128HmacSha1_80),
    ];
    for (name, policy, suite) in cases {
        let (mut a, mut b) = sessions(policy, vec![suite]);
        let (na, nb) = negotiate(&mut a, &mut b);
        let mut rng = StdRng::seed_from_u64(9);
        let (mut sa, mut sb) = (stream(&na, &mut rng), stream(&nb, &mut rng));
        let frame = ToneGenerator::new(1000.0, 8000, -12.0).samples(160);
        // Arrival times advance 20 ms a tick, as on the wire.
        let mut now = Instant::now();
        group.bench_function(name, |bench| {
            bench.iter(|| {
                now += Duration::from_millis(20);
                let to_b = sa.send_frame(black_box(&frame)).unwrap();
                let to_a = sb.send_frame(black_box(&frame)).unwrap();
                sb.receive(now, &to_b).unwrap();
                sa.receive(now, &to_a).unwrap();
                black_box((sa.poll_frame(), sb.poll_frame()))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, offer_answer, media_tick);
criterion_main!(benches);
