//! Whatever a peer sends, nothing panics: bodies given to offer/answer,
//! responses and requests given to a call, and to the whole user agent.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::Transport;
use switchboard_proto::{Message, Request};

use crate::fuzzing::{Body, Command, HEADERS, METHODS, Op, Rig};
use crate::{Call, MediaPolicy, MediaSession, SrtpPolicy, UaConfig};

fn session(seed: u64) -> MediaSession {
    let policy = MediaPolicy {
        srtp: SrtpPolicy::Optional,
        ..MediaPolicy::default()
    };
    MediaSession::new(
        policy,
        "127.0.0.1:30000".parse().unwrap(),
        &mut StdRng::seed_from_u64(seed),
    )
}

/// SDP-like text: real lines mixed with noise.
fn sdp_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("v=0".to_owned()),
        Just("o=x 1 1 IN IP4 192.0.2.1".to_owned()),
        Just("s=-".to_owned()),
        Just("c=IN IP4 192.0.2.1".to_owned()),
        Just("t=0 0".to_owned()),
        "m=audio [0-9]{1,5} (RTP/AVP|RTP/SAVP|RTP/SAVPF|UDP/TLS/RTP/SAVP|x) [0-9 ]{0,12}",
        "a=rtpmap:[0-9]{1,3} (PCMU|PCMA|telephone-event|G722)/[0-9]{1,5}",
        "a=crypto:[0-9]{1,2} (AES_CM_128_HMAC_SHA1_80|AEAD_AES_128_GCM|X) inline:[A-Za-z0-9+/=]{0,60}",
        "a=(sendrecv|sendonly|recvonly|inactive|rtcp:[0-9]{1,5})",
        "[ -~]{0,40}",
    ];
    prop::collection::vec(line, 0..16).prop_map(|lines| lines.join("\r\n"))
}

proptest! {
    #[test]
    fn offer_answer_never_panics(body in sdp_like(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut s = session(1);
        let _ = s.answer_offer(body.as_bytes());
        let _ = s.answer_offer(&bytes);
        let _ = s.create_offer();
        let _ = s.process_answer(body.as_bytes());
        let _ = s.process_answer(&bytes);
    }

    #[test]
    fn a_call_takes_any_response_or_request(
        status in 100u16..700,
        body in sdp_like(),
        to_tag in "[a-z0-9]{0,8}",
        contact in "(<sip:bob@192.0.2.9:5070>|<sips:x@[::1]>|<tel:123>|garbage|)",
        cseq in 0u32..5,
        method in "(INVITE|BYE|ACK|CANCEL|OPTIONS|UPDATE|FOO)",
    ) {
        let config = UaConfig::new("sip:alice@127.0.0.1", Transport::Udp, "127.0.0.1:5060".parse().unwrap()).unwrap();
        let now = Instant::now();
        let mut call = Call::outgoing(now, config, "sip:bob@127.0.0.1:5070", session(2), Box::new(StdRng::seed_from_u64(3))).unwrap();
        let invite = loop {
            match call.poll_action() {
                Some(crate::Action::Send { request, .. }) => break request,
                Some(_) => {}
                None => panic!("no INVITE"),
            }
        };
        let h = invite.headers();
        let call_id = h.call_id().unwrap().to_owned();
        let from = h.get(switchboard_proto::HeaderName::From).unwrap().to_owned();
        let tag = if to_tag.is_empty() { String::new() } else { format!(";tag={to_tag}") };
        let contact_line = if contact.is_empty() { String::new() } else { format!("Contact: {contact}\r\n") };
        let response = format!(
            "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa\r\nFrom: {from}\r\n\
             To: <sip:bob@127.0.0.1:5070>{tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
             {contact_line}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if let Ok(Message::Response(r)) = Message::parse_datagram(response.into_bytes().into()) {
            call.handle_response(now, &r);
        }
        let request = format!(
            "{method} sip:alice@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKb\r\n\
             From: <sip:bob@127.0.0.1:5070>{tag}\r\nTo: {from}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
             {contact_line}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if let Ok(Message::Request(r)) = Message::parse_datagram(request.into_bytes().into()) {
            let r: Request = r;
            if let Some(tx) = fake_tx(&r) {
                call.handle_request(now, tx, &r);
            }
            call.handle_ack(now, &r);
        }
        call.handle_cancel(now);
        call.hangup(now);
        let _ = call.set_hold(now, true);
        call.handle_timeout(now + Duration::from_secs(3600));
        while call.poll_action().is_some() {}
        while call.poll_event().is_some() {}
    }
}

/// A server transaction id, from a real endpoint fed the request.
pub(super) fn fake_tx(request: &Request) -> Option<switchboard_core::TransactionId> {
    use switchboard_core::{Endpoint, Event, Input, Source};
    let mut ep = Endpoint::new(
        switchboard_core::Config {
            via_addresses: vec![(Transport::Udp, "127.0.0.1:5060".parse().unwrap())],
            ..Default::default()
        },
        Box::new(StdRng::seed_from_u64(4)),
    );
    let source = Source {
        transport: Transport::Udp,
        remote: "192.0.2.9:5060".parse().unwrap(),
        local: "127.0.0.1:5060".parse().unwrap(),
        flow: None,
    };
    let now = Instant::now();
    ep.handle_input(
        now,
        Input::Datagram {
            source,
            bytes: request.to_bytes(),
        },
    );
    while let Some(event) = ep.poll_event() {
        if let Event::Request { tx, .. } = event {
            return Some(tx);
        }
    }
    None
}

/// One thing a peer (or the front end, or the clock) does to a user agent.
fn op() -> impl Strategy<Value = Op> {
    let tag = prop::option::of("[a-z0-9]{1,8}");
    let headers = prop::collection::vec((0usize..HEADERS.len(), "[ -~]{0,30}"), 0..3);
    let body = prop_oneof![
        Just(Body::Raw(Vec::new())),
        Just(Body::GoodSdp),
        sdp_like().prop_map(|s| Body::Raw(s.into_bytes())),
    ];
    let status = prop_oneof![
        prop::sample::select(vec![
            100u16, 180, 183, 200, 202, 401, 407, 408, 412, 422, 423, 481, 486, 489, 503
        ]),
        0u16..1000,
    ];
    let command = prop_oneof![
        (0u32..4000).prop_map(Command::Register),
        Just(Command::Dial),
        Just(Command::Message),
        Just(Command::Hangup),
        any::<bool>().prop_map(Command::Hold),
        Just(Command::Stop),
        any::<bool>().prop_map(Command::Answering),
        any::<bool>().prop_map(Command::Subscribe),
        any::<bool>().prop_map(Command::Publish),
        Just(Command::Unsubscribe),
    ];
    prop_oneof![
        3 => (any::<usize>(), status, tag.clone(), headers.clone(), body.clone()).prop_map(
            |(pick, status, to_tag, headers, body)| Op::Respond { pick, status, to_tag, headers, body }
        ),
        2 => (0usize..METHODS.len(), any::<usize>(), (tag.clone(), tag), 0u32..6, headers, body).prop_map(
            |(method, call, tags, cseq, headers, body)| Op::Request { method, call, tags, cseq, headers, body }
        ),
        1 => prop::collection::vec(any::<u8>(), 0..120).prop_map(Op::Datagram),
        1 => (0u64..40_000).prop_map(|ms| Op::Wait(Duration::from_millis(ms))),
        2 => command.prop_map(Op::Command),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Whatever the peer answers or asks, in any order and at any time,
    /// the user agent neither panics nor spins, and still answers an
    /// OPTIONS afterwards.
    #[test]
    fn a_user_agent_takes_any_responses_and_requests(
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut rig = Rig::new(seed);
        for op in [Op::Command(Command::Register(3600)), Op::Command(Command::Dial)] {
            prop_assert_eq!(rig.apply(op), Ok(()));
        }
        for op in ops {
            prop_assert_eq!(rig.apply(op), Ok(()));
        }
        prop_assert!(rig.answers_options(), "{:?}", rig);
    }
}
