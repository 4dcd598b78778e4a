use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::Transport;
use switchboard_proto::digest::{self, Algorithm, Credentials as Creds};
use switchboard_proto::{HeaderName, Method, Request, ResponseBuilder, StatusCode};

use crate::{Action, Credentials, Failure, Pager, UaConfig};

fn config() -> UaConfig {
    let mut c = UaConfig::new(
        "sip:alice@127.0.0.1",
        Transport::Udp,
        "127.0.0.1:5070".parse().unwrap(),
    )
    .unwrap();
    c.credentials = Some(Credentials {
        username: "alice".into(),
        password: "secret".into(),
    });
    c
}

fn sent(p: &mut Pager) -> Request {
    match p.poll_action() {
        Some(Action::Send {
            mut request,
            destination,
        }) => {
            assert_eq!(
                destination,
                switchboard_core::Destination::Address {
                    transport: Transport::Udp,
                    remote: "127.0.0.1:5080".parse().unwrap()
                }
            );
            request.headers_mut().push_front(
                HeaderName::Via,
                "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKp",
            );
            request
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn message_with_proxy_challenge_is_delivered() {
    let now = Instant::now();
    let mut p = Pager::send(
        now,
        config(),
        "sip:bob@127.0.0.1:5080",
        "hello",
        Box::new(StdRng::seed_from_u64(1)),
    )
    .unwrap();
    let first = sent(&mut p);
    assert_eq!(first.method(), &Method::Message);
    assert_eq!(&first.body()[..], b"hello");
    let challenge =
        ResponseBuilder::from_request(&first, StatusCode::PROXY_AUTHENTICATION_REQUIRED)
            .to_tag("p")
            .header(
                HeaderName::ProxyAuthenticate,
                r#"Digest realm="127.0.0.1", nonce="n", qop="auth""#,
            )
            .build()
            .unwrap();
    p.handle_response(now, &challenge);
    let second = sent(&mut p);
    assert_eq!(second.headers().cseq().unwrap().seq, 2);
    assert_eq!(second.headers().call_id(), first.headers().call_id());
    assert_eq!(second.headers().values(HeaderName::Via).count(), 1);
    let Creds::Digest(c) = Creds::parse(
        second
            .headers()
            .get(HeaderName::ProxyAuthorization)
            .unwrap(),
    )
    .unwrap() else {
        panic!("not digest")
    };
    let ha1 = digest::ha1(Algorithm::Md5, "alice", "127.0.0.1", "secret");
    assert!(c.verify("MESSAGE", b"hello", &ha1).unwrap());
    assert!(p.result().is_none());
    let ok = ResponseBuilder::from_request(&second, StatusCode::OK)
        .to_tag("b")
        .build()
        .unwrap();
    p.handle_response(now, &ok);
    assert_eq!(p.result().unwrap().status, StatusCode::OK);
}

#[test]
fn message_timeout_is_408() {
    let now = Instant::now();
    let mut p = Pager::send(
        now,
        config(),
        "sip:bob@127.0.0.1:5080",
        "x",
        Box::new(StdRng::seed_from_u64(2)),
    )
    .unwrap();
    let _ = sent(&mut p);
    p.handle_failure(now, Failure::Timeout);
    assert_eq!(p.result().unwrap().status, StatusCode::REQUEST_TIMEOUT);
    assert!(
        Pager::send(
            now,
            config(),
            "mailto:x",
            "x",
            Box::new(StdRng::seed_from_u64(3))
        )
        .is_err()
    );
}
