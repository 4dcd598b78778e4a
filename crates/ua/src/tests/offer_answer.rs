use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_media::g711::G711;
use switchboard_media::srtp::SrtpSuite;
use switchboard_proto::sdp::{Direction, SessionDescription};

use crate::{MediaPolicy, MediaSession, NegotiationError, SrtpPolicy};

fn session(srtp: SrtpPolicy, port: u16, seed: u64) -> MediaSession {
    let policy = MediaPolicy {
        srtp,
        ..MediaPolicy::default()
    };
    MediaSession::new(
        policy,
        format!("127.0.0.1:{port}").parse().unwrap(),
        &mut StdRng::seed_from_u64(seed),
    )
}

const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

fn offer(proto: &str, crypto: bool, formats: &str, extra: &str) -> String {
    let mut s = format!(
        "v=0\r\no=peer 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 40000 {proto} {formats}\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    );
    if crypto {
        s.push_str(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"
        ));
    }
    s.push_str(extra);
    s
}

#[test]
fn srtp_policy_matrix() {
    // (policy, offered protocol, offered crypto) -> Some(srtp used) or 488.
    let cases: [(SrtpPolicy, &str, bool, Option<bool>); 9] = [
        (SrtpPolicy::Off, "RTP/AVP", false, Some(false)),
        (SrtpPolicy::Off, "RTP/AVP", true, Some(false)),
        (SrtpPolicy::Off, "RTP/SAVP", true, None),
        (SrtpPolicy::Optional, "RTP/AVP", false, Some(false)),
        (SrtpPolicy::Optional, "RTP/AVP", true, Some(true)),
        (SrtpPolicy::Optional, "RTP/SAVP", true, Some(true)),
        (SrtpPolicy::Required, "RTP/AVP", false, None),
        (SrtpPolicy::Required, "RTP/AVP", true, Some(true)),
        (SrtpPolicy::Required, "RTP/SAVP", true, Some(true)),
    ];
    for (policy, proto, crypto, expected) in cases {
        let mut s = session(policy, 30000, 1);
        let result = s.answer_offer(offer(proto, crypto, "0 8 101", "").as_bytes());
        match (expected, result) {
            (Some(srtp), Ok((answer, n))) => {
                assert_eq!(n.srtp.is_some(), srtp, "{policy:?} {proto} {crypto}");
                let text = answer.to_string();
                assert!(
                    text.contains(&format!("m=audio 30000 {proto} 0 101")),
                    "{text}"
                );
                assert_eq!(
                    text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
                    srtp
                );
                if let Some(keys) = &n.srtp {
                    assert_eq!(keys.suite, SrtpSuite::AesCm128HmacSha1_80);
                    assert_eq!(keys.remote, KEY);
                    assert_ne!(keys.local, KEY);
                }
                assert_eq!(n.remote_rtp, "192.0.2.5:40000".parse().unwrap());
                assert_eq!(n.remote_rtcp, "192.0.2.5:40001".parse().unwrap());
                assert_eq!(n.codec, G711::Ulaw);
                assert_eq!(n.dtmf_payload_type, Some(101));
            }
            (None, Err(e)) => assert_eq!(e.status().as_u16(), 488, "{policy:?} {proto}"),
            (want, got) => panic!("{policy:?} {proto} {crypto}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn codecs_and_nothing_in_common() {
    let mut s = session(SrtpPolicy::Off, 30000, 2);
    let (answer, n) = s
        .answer_offer(offer("RTP/AVP", false, "8 0", "").as_bytes())
        .unwrap();
    assert_eq!(n.codec, G711::Alaw);
    assert_eq!(n.payload_type, 8);
    assert_eq!(n.dtmf_payload_type, None);
    assert!(answer.to_string().contains("m=audio 30000 RTP/AVP 8\r\n"));
    // G.722 only: 488.
    let g722 = "v=0\r\no=p 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n";
    assert_eq!(
        s.answer_offer(g722.as_bytes()).unwrap_err(),
        NegotiationError::NoCodec
    );
    // Video only, or garbage: 488.
    let video = "v=0\r\no=p 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n";
    assert_eq!(
        s.answer_offer(video.as_bytes()).unwrap_err(),
        NegotiationError::NoAudio
    );
    assert_eq!(
        s.answer_offer(b"hello").unwrap_err(),
        NegotiationError::Unparsable
    );
    // A dynamic payload type mapped to PCMU is PCMU.
    let dynamic = "v=0\r\no=p 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMU/8000\r\n";
    let (_, n) = s.answer_offer(dynamic.as_bytes()).unwrap();
    assert_eq!((n.codec, n.payload_type), (G711::Ulaw, 96));
}

#[test]
fn video_is_rejected_audio_accepted() {
    let mut s = session(SrtpPolicy::Off, 30000, 3);
    let two = "v=0\r\no=p 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n\
               m=video 5000 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 0\r\n";
    let (answer, n) = s.answer_offer(two.as_bytes()).unwrap();
    assert_eq!(answer.media.len(), 2);
    assert_eq!(answer.media[0].port, 0);
    assert_eq!(answer.media[1].port, 30000);
    assert_eq!(n.remote_rtp.port(), 4000);
}

#[test]
fn directions_for_hold_and_resume() {
    // Offered direction -> answered direction (we prefer sendrecv).
    for (offered, answered) in [
        ("sendrecv", Direction::SendRecv),
        ("sendonly", Direction::RecvOnly),
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
    ] {
        let mut s = session(SrtpPolicy::Off, 30000, 4);
        let (answer, n) = s
            .answer_offer(offer("RTP/AVP", false, "0", &format!("a={offered}\r\n")).as_bytes())
            .unwrap();
        assert_eq!(n.direction, answered, "{offered}");
        assert_eq!(answer.media_direction(0), Some(answered));
    }
    // We hold: our answer to a sendrecv offer is sendonly; to a sendonly
    // offer (both hold) inactive.
    let mut s = session(SrtpPolicy::Off, 30000, 5);
    s.set_hold(true);
    let (_, n) = s
        .answer_offer(offer("RTP/AVP", false, "0", "").as_bytes())
        .unwrap();
    assert_eq!(n.direction, Direction::SendOnly);
    let (_, n) = s
        .answer_offer(offer("RTP/AVP", false, "0", "a=sendonly\r\n").as_bytes())
        .unwrap();
    assert_eq!(n.direction, Direction::Inactive);
}

#[test]
fn offerer_and_answerer_agree() {
    for policy in [SrtpPolicy::Off, SrtpPolicy::Optional, SrtpPolicy::Required] {
        let mut a = session(policy, 30000, 6);
        let mut b = session(policy, 31000, 7);
        let o = a.create_offer().to_string();
        let (answer, nb) = b.answer_offer(o.as_bytes()).unwrap();
        let na = a.process_answer(answer.to_string().as_bytes()).unwrap();
        assert_eq!(na.codec, nb.codec);
        assert_eq!(na.remote_rtp.port(), 31000);
        assert_eq!(nb.remote_rtp.port(), 30000);
        match (na.srtp, nb.srtp) {
            (Some(ka), Some(kb)) => {
                assert_ne!(policy, SrtpPolicy::Off);
                assert_eq!(ka.suite, kb.suite);
                assert_eq!(ka.local, kb.remote);
                assert_eq!(ka.remote, kb.local);
            }
            (None, None) => assert_eq!(policy, SrtpPolicy::Off),
            other => panic!("{other:?}"),
        }
        // Hold by a: a sendonly, b recvonly.
        a.set_hold(true);
        let o = a.create_offer();
        assert_eq!(o.media_direction(0), Some(Direction::SendOnly));
        let (answer, nb) = b.answer_offer(o.to_string().as_bytes()).unwrap();
        assert_eq!(nb.direction, Direction::RecvOnly);
        let na = a.process_answer(answer.to_string().as_bytes()).unwrap();
        assert_eq!(na.direction, Direction::SendOnly);
        // Resume.
        a.set_hold(false);
        let o = a.create_offer();
        let (answer, nb) = b.answer_offer(o.to_string().as_bytes()).unwrap();
        let na = a.process_answer(answer.to_string().as_bytes()).unwrap();
        assert_eq!(
            (na.direction, nb.direction),
            (Direction::SendRecv, Direction::SendRecv)
        );
        // Versions in o= go up.
        let v1 = SessionDescription::parse(&a.create_offer().to_string())
            .unwrap()
            .origin
            .session_version;
        let v2 = a.create_offer().origin.session_version;
        assert!(v2 > v1);
    }
}

#[test]
fn answers_that_do_not_fit_are_refused() {
    let mut a = session(SrtpPolicy::Required, 30000, 8);
    let _ = a.create_offer();
    // Plain answer to a required-SRTP offer.
    let plain = "v=0\r\no=p 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n";
    assert_eq!(
        a.process_answer(plain.as_bytes()).unwrap_err(),
        NegotiationError::SecurityMismatch
    );
    // A crypto tag we never offered.
    let odd = format!("{plain}a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n");
    assert!(a.process_answer(odd.as_bytes()).is_err());
    // Stream refused.
    let zero = "v=0\r\no=p 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 0 RTP/SAVP 0\r\n";
    assert!(matches!(
        a.process_answer(zero.as_bytes()),
        Err(NegotiationError::AnswerMismatch(_))
    ));
    // Tag 2 is our second suite (AES_CM_128_HMAC_SHA1_32).
    let tag2 = format!("{plain}a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY}\r\n");
    let n = a.process_answer(tag2.as_bytes()).unwrap();
    assert_eq!(n.srtp.unwrap().suite, SrtpSuite::AesCm128HmacSha1_32);
}
