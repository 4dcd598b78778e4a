//! Media path cost per packet: protect + unprotect of one 20 ms PCMU frame
//! for each SRTP suite, and G.711 encoding of one frame.
// Benchmarks may unwrap: a failure is a broken benchmark, not a crash.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use switchboard_media::audio::ToneGenerator;
use switchboard_media::g711::G711;
use switchboard_media::rtp::RtpSender;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};

fn frame() -> Vec<i16> {
    ToneGenerator::new(1000.0, 8000, -10.0).samples(160)
}

fn srtp(c: &mut Criterion) {
    let mut payload = Vec::new();
    G711::Ulaw.encode(&frame(), &mut payload);
    let payload = Bytes::from(payload);
    let mut group = c.benchmark_group("srtp protect+unprotect 20ms PCMU");
    for suite in SrtpSuite::ALL {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let key = MasterKey::generate(suite, &mut rng);
        let (mut tx, mut rx) = (SrtpContext::new(&key), SrtpContext::new(&key));
        let mut sender = RtpSender::with_initial(1, 0, 0);
        group.bench_function(suite.name(), |b| {
            b.iter(|| {
                let packet = sender
                    .packet(0, false, 160, payload.clone())
                    .to_bytes()
                    .unwrap();
                let protected = tx.protect_rtp(black_box(&packet)).unwrap();
                rx.unprotect_rtp(black_box(&protected)).unwrap()
            });
        });
    }
    group.finish();
}

fn g711(c: &mut Criterion) {
    let pcm = frame();
    let mut out = Vec::with_capacity(160);
    c.bench_function("g711 ulaw encode 160 samples", |b| {
        b.iter(|| {
            out.clear();
            G711::Ulaw.encode(black_box(&pcm), &mut out);
            black_box(out.len())
        });
    });
    let mut encoded = Vec::new();
    G711::Ulaw.encode(&pcm, &mut encoded);
    let mut decoded = Vec::with_capacity(160);
    c.bench_function("g711 ulaw decode 160 samples", |b| {
        b.iter(|| {
            decoded.clear();
            G711::Ulaw.decode(black_box(&encoded), &mut decoded);
            black_box(decoded.len())
        });
    });
}

criterion_group!(benches, srtp, g711);
criterion_main!(benches);
