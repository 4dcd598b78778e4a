//! Peer input never panics: any bytes into every parser and unprotect.
// The fixtures may unwrap: a panic there is a failing test, not a crash.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use proptest::prelude::*;
use switchboard_media::dtmf::TelephoneEvent;
use switchboard_media::rtcp::RtcpPacket;
use switchboard_media::rtp::RtpPacket;
use switchboard_media::srtp::{SrtpContext, SrtpSuite};

fn contexts() -> Vec<SrtpContext> {
    SrtpSuite::ALL
        .into_iter()
        .map(|suite| SrtpContext::from_inline_key(suite, &vec![7; suite.master_len()]).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = RtpPacket::parse(Bytes::from(bytes.clone()));
        let _ = RtcpPacket::parse_compound(&Bytes::from(bytes.clone()));
        let _ = TelephoneEvent::parse(&bytes);
        for mut ctx in contexts() {
            let _ = ctx.unprotect_rtp(&bytes);
            let _ = ctx.unprotect_rtcp(&bytes);
        }
    }

    /// Bytes that look like RTP/RTCP (version 2) go deeper into the parsers.
    #[test]
    fn version_2_bytes_never_panic(first in 0x80u8..0xC0, second in any::<u8>(), rest in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut bytes = vec![first, second];
        bytes.extend(rest);
        if let Ok(packet) = RtpPacket::parse(Bytes::from(bytes.clone())) {
            // What parses serializes back to the same bytes.
            prop_assert_eq!(packet.to_bytes().unwrap().len(), packet.len());
        }
        let _ = RtcpPacket::parse_compound(&Bytes::from(bytes.clone()));
        for mut ctx in contexts() {
            let _ = ctx.unprotect_rtp(&bytes);
            let _ = ctx.unprotect_rtcp(&bytes);
        }
    }
}

proptest! {
    #[test]
    fn media_stream_takes_any_datagram(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..20)) {
        use rand::SeedableRng;
        use switchboard_media::{MediaConfig, MediaStream, g711::G711};
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut stream = MediaStream::new(MediaConfig::new(G711::Ulaw), &mut rng, None, None);
        let now = std::time::Instant::now();
        for d in &datagrams {
            let _ = stream.receive(now, d);
            let _ = stream.receive_rtcp(now, d);
            let _ = stream.poll_frame();
            while stream.poll_event().is_some() {}
        }
    }
}
