//! Two media streams talking to each other in memory.
// Tests may unwrap and index: a panic here is a failing test, not a crash.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant, SystemTime};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::audio::{ToneGenerator, dominant_frequency, rms_dbfs};
use switchboard_media::g711::G711;
use switchboard_media::rtcp::{RtcpPacket, ntp_time};
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};
use switchboard_media::{FRAME_SAMPLES, Frame, MediaConfig, MediaEvent, MediaStream};

fn streams(codec: G711, suite: Option<SrtpSuite>) -> (MediaStream, MediaStream) {
    let mut rng = StdRng::seed_from_u64(42);
    let (a_tx, b_rx, b_tx, a_rx) = match suite {
        Some(suite) => {
            let a_key = MasterKey::generate(suite, &mut rng);
            let b_key = MasterKey::generate(suite, &mut rng);
            (
                Some(SrtpContext::new(&a_key)),
                Some(SrtpContext::new(&a_key)),
                Some(SrtpContext::new(&b_key)),
                Some(SrtpContext::new(&b_key)),
            )
        }
        None => (None, None, None, None),
    };
    let config = MediaConfig::new(codec);
    (
        MediaStream::new(config, &mut rng, a_tx, a_rx),
        MediaStream::new(config, &mut rng, b_tx, b_rx),
    )
}

/// Sends one second of a 1 kHz tone from `a` to `b`, swapping each pair of
/// packets when `reorder` is set; returns what `b` played.
fn play_tone(a: &mut MediaStream, b: &mut MediaStream, reorder: bool) -> Vec<i16> {
    let t0 = Instant::now();
    let mut tone = ToneGenerator::new(1000.0, 8000, -10.0);
    let packets: Vec<_> = (0..50)
        .map(|_| a.send_frame(&tone.samples(FRAME_SAMPLES)).unwrap())
        .collect();
    let mut heard = Vec::new();
    let mut held = None;
    for (i, packet) in packets.into_iter().enumerate() {
        let now = t0 + Duration::from_millis(20 * i as u64);
        if reorder && held.is_none() && i % 2 == 0 && i > 0 {
            held = Some(packet);
        } else {
            b.receive(now, &packet).unwrap();
            if let Some(p) = held.take() {
                b.receive(now, &p).unwrap();
            }
        }
        if let Some(frame) = b.poll_frame() {
            heard.extend_from_slice(frame.samples());
        }
    }
    for _ in 0..5 {
        heard.extend_from_slice(b.poll_frame().unwrap().samples());
    }
    heard
}

#[test]
fn tone_crosses_every_suite_and_codec() {
    for codec in [G711::Ulaw, G711::Alaw] {
        for suite in [
            None,
            Some(SrtpSuite::AesCm128HmacSha1_80),
            Some(SrtpSuite::AesCm128HmacSha1_32),
            Some(SrtpSuite::AeadAes128Gcm),
        ] {
            let (mut a, mut b) = streams(codec, suite);
            let heard = play_tone(&mut a, &mut b, suite.is_some());
            let f = dominant_frequency(&heard, 8000);
            assert!((f - 1000.0).abs() <= 10.0, "{codec:?} {suite:?}: {f} Hz");
            // Skip the playout delay's silence at the start.
            let level = rms_dbfs(&heard[3 * FRAME_SAMPLES..50 * FRAME_SAMPLES]);
            assert!(
                (level + 13.0).abs() < 0.5,
                "{codec:?} {suite:?}: {level} dBFS"
            );
            assert_eq!(b.receiver().cumulative_lost(), 0);
        }
    }
}

#[test]
fn lost_packets_become_missing_frames() {
    let (mut a, mut b) = streams(G711::Ulaw, Some(SrtpSuite::AeadAes128Gcm));
    let t0 = Instant::now();
    let silence = [0i16; FRAME_SAMPLES];
    let mut frames = Vec::new();
    for i in 0..20 {
        let packet = a.send_frame(&silence).unwrap();
        if i != 7 {
            b.receive(t0, &packet).unwrap();
        }
        frames.push(b.poll_frame().unwrap());
    }
    let missing: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f, Frame::Missing(_)))
        .map(|(i, _)| i)
        .collect();
    // The first 3 frames are the playout delay; packet 7 plays at frame 10.
    assert_eq!(missing, [0, 1, 2, 10]);
    assert_eq!(b.receiver().cumulative_lost(), 1);
}

#[test]
fn dtmf_goes_through_once_each() {
    let (mut a, mut b) = streams(G711::Alaw, Some(SrtpSuite::AesCm128HmacSha1_80));
    a.send_dtmf("1*9#").unwrap();
    assert!(a.send_dtmf("1x").is_err());
    let t0 = Instant::now();
    let silence = [0i16; FRAME_SAMPLES];
    for i in 0..60 {
        let packet = a.send_frame(&silence).unwrap();
        b.receive(t0 + Duration::from_millis(20 * i), &packet)
            .unwrap();
    }
    let mut digits = String::new();
    while let Some(MediaEvent::Dtmf(d)) = b.poll_event() {
        digits.push(d.digit);
        assert_eq!(d.duration, 800);
    }
    assert_eq!(digits, "1*9#");
}

#[test]
fn rtcp_reports_cross_srtcp() {
    let (mut a, mut b) = streams(G711::Ulaw, Some(SrtpSuite::AesCm128HmacSha1_32));
    let t0 = Instant::now();
    for i in 0..10 {
        let packet = a.send_frame(&[0; FRAME_SAMPLES]).unwrap();
        b.receive(t0 + Duration::from_millis(20 * i), &packet)
            .unwrap();
    }
    let sr = a
        .rtcp_report(
            t0,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            "alice@example.com",
        )
        .unwrap();
    let packets = b.receive_rtcp(t0, &sr).unwrap();
    let RtcpPacket::SenderReport(report) = &packets[0] else {
        panic!("{packets:?}")
    };
    assert_eq!(
        (report.ssrc, report.packet_count, report.octet_count),
        (a.ssrc(), 10, 1600)
    );
    let RtcpPacket::SourceDescription(sdes) = &packets[1] else {
        panic!("{packets:?}")
    };
    assert_eq!(sdes.cname_of(a.ssrc()).unwrap(), "alice@example.com");
    // b has sent nothing: a receiver report about a, with the LSR of a's SR.
    let rr = b
        .rtcp_report(t0 + Duration::from_secs(1), SystemTime::now(), "bob")
        .unwrap();
    let packets = a.receive_rtcp(t0, &rr).unwrap();
    let RtcpPacket::ReceiverReport(report) = &packets[0] else {
        panic!("{packets:?}")
    };
    assert_eq!(report.reports[0].ssrc, a.ssrc());
    assert_eq!(report.reports[0].cumulative_lost, 0);
    let sent_ntp = ntp_time(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    assert_eq!(report.reports[0].last_sr, (sent_ntp >> 16) as u32);
    assert_eq!(report.reports[0].delay_since_last_sr, 65536);
    // Replaying the SRTCP packet is refused.
    assert!(b.receive_rtcp(t0, &sr).is_err());
}

#[test]
fn a_new_source_restarts_playout() {
    let (mut a, mut b) = streams(G711::Ulaw, None);
    let t0 = Instant::now();
    for _ in 0..10 {
        b.receive(t0, &a.send_frame(&[1000; FRAME_SAMPLES]).unwrap())
            .unwrap();
        b.poll_frame();
    }
    // The peer's stream is replaced (a re-INVITE to another device).
    let mut rng = StdRng::seed_from_u64(7);
    let mut c = MediaStream::new(MediaConfig::new(G711::Ulaw), &mut rng, None, None);
    let mut audio = 0;
    for _ in 0..10 {
        b.receive(t0, &c.send_frame(&[1000; FRAME_SAMPLES]).unwrap())
            .unwrap();
        if let Some(Frame::Audio(_)) = b.poll_frame() {
            audio += 1;
        }
    }
    // The new source's first 3 frames are its playout delay.
    assert_eq!(audio, 7);
}
