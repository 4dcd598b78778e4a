use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::Transport;
use switchboard_proto::digest::{self, Algorithm, Credentials as Creds};
use switchboard_proto::{HeaderName, Method, Request, ResponseBuilder, StatusCode};

use crate::{
    Action, Backoff, Credentials, Failure, Registration, RegistrationEvent, UaConfig, refresh_after,
};

pub(super) fn config(password: &str) -> UaConfig {
    let mut c = UaConfig::new(
        "sip:alice@example.com",
        Transport::Udp,
        "127.0.0.1:5070".parse().unwrap(),
    )
    .unwrap();
    c.credentials = Some(Credentials {
        username: "alice".into(),
        password: password.into(),
    });
    c.outbound_proxy = Some("127.0.0.1:5060".parse().unwrap());
    c
}

fn sent(reg: &mut Registration) -> Request {
    match reg.poll_action() {
        Some(Action::Send { mut request, .. }) => {
            assert!(reg.poll_action().is_none());
            // What the endpoint adds.
            request.headers_mut().push_front(
                HeaderName::Via,
                "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKtest",
            );
            request
        }
        other => panic!("expected a request, got {other:?}"),
    }
}

fn challenge(req: &Request) -> switchboard_proto::Response {
    ResponseBuilder::from_request(req, StatusCode::UNAUTHORIZED)
        .to_tag("srv")
        .header(
            HeaderName::WwwAuthenticate,
            r#"Digest realm="example.com", nonce="abc", algorithm=MD5, qop="auth""#,
        )
        .header(
            HeaderName::WwwAuthenticate,
            r#"Digest realm="example.com", nonce="abc", algorithm=SHA-256, qop="auth""#,
        )
        .build()
        .unwrap()
}

/// The registrar's check: the digest in `req` is right for alice/secret.
fn verify(req: &Request) -> bool {
    let value = req.headers().get(HeaderName::Authorization).unwrap();
    let Creds::Digest(c) = Creds::parse(value).unwrap() else {
        panic!("not digest")
    };
    assert_eq!(c.algorithm_or_default(), Algorithm::Sha256);
    assert_eq!(&*c.uri, "sip:example.com");
    let ha1 = digest::ha1(Algorithm::Sha256, "alice", "example.com", "secret");
    c.verify("REGISTER", b"", &ha1).unwrap()
}

fn ok(req: &Request, expires: u32) -> switchboard_proto::Response {
    let contact =
        format!("<sip:alice@127.0.0.1:5070>;expires={expires}, <sip:alice@192.0.2.9>;expires=3600");
    ResponseBuilder::from_request(req, StatusCode::OK)
        .to_tag("srv")
        .header(HeaderName::Contact, contact)
        .build()
        .unwrap()
}

fn rng(seed: u64) -> Box<StdRng> {
    Box::new(StdRng::seed_from_u64(seed))
}

#[test]
fn refresh_schedule() {
    assert_eq!(refresh_after(3600), Duration::from_secs(3240));
    assert_eq!(refresh_after(60), Duration::from_secs(54));
    assert_eq!(refresh_after(30), Duration::from_secs(25));
    assert_eq!(refresh_after(8), Duration::from_secs(4));
    assert_eq!(refresh_after(1), Duration::from_secs(1));
}

#[test]
fn registers_with_digest_refreshes_and_unregisters() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config("secret"), 60, rng(1)).unwrap();
    reg.start(t0);
    let first = sent(&mut reg);
    assert_eq!(first.method(), &Method::Register);
    assert_eq!(first.uri_str(), "sip:example.com");
    assert_eq!(first.headers().get(HeaderName::Expires), Some("60"));
    assert!(first.headers().get(HeaderName::Authorization).is_none());
    reg.handle_response(t0, &challenge(&first));
    let second = sent(&mut reg);
    assert_eq!(second.headers().cseq().unwrap().seq, 2);
    assert_eq!(second.headers().call_id(), first.headers().call_id());
    assert!(verify(&second));
    // A late response to the first REGISTER is ignored.
    reg.handle_response(t0, &challenge(&first));
    assert!(reg.poll_action().is_none());
    // The registrar grants 30 s to our contact (another contact has 3600).
    reg.handle_response(t0, &ok(&second, 30));
    assert_eq!(
        reg.poll_event(),
        Some(RegistrationEvent::Registered { expires: 30 })
    );
    assert!(reg.is_registered());
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(25)));
    // Nothing happens before the refresh time.
    reg.handle_timeout(t0 + Duration::from_secs(24));
    assert!(reg.poll_action().is_none());
    let t1 = t0 + Duration::from_secs(25);
    reg.handle_timeout(t1);
    let refresh = sent(&mut reg);
    assert_eq!(refresh.headers().cseq().unwrap().seq, 3);
    assert!(refresh.headers().get(HeaderName::Authorization).is_none());
    reg.handle_response(t1, &challenge(&refresh));
    let refresh = sent(&mut reg);
    assert!(verify(&refresh));
    reg.handle_response(t1, &ok(&refresh, 60));
    assert_eq!(
        reg.poll_event(),
        Some(RegistrationEvent::Registered { expires: 60 })
    );
    assert_eq!(reg.poll_timeout(), Some(t1 + Duration::from_secs(54)));
    // Stop: Expires 0, answered after a challenge.
    reg.stop(t1);
    let bye = sent(&mut reg);
    assert_eq!(bye.headers().get(HeaderName::Expires), Some("0"));
    reg.handle_response(t1, &challenge(&bye));
    let bye = sent(&mut reg);
    assert_eq!(bye.headers().get(HeaderName::Expires), Some("0"));
    assert!(verify(&bye));
    reg.handle_response(t1, &ok(&bye, 0));
    assert_eq!(reg.poll_event(), Some(RegistrationEvent::Unregistered));
    assert!(reg.is_stopped());
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn wrong_password_fails_and_retries_with_backoff() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config("wrong"), 3600, rng(2)).unwrap();
    reg.set_backoff(Backoff {
        min: Duration::from_secs(2),
        max: Duration::from_secs(10),
    });
    reg.start(t0);
    let mut now = t0;
    let mut delays = Vec::new();
    for _ in 0..5 {
        let req = sent(&mut reg);
        reg.handle_response(now, &challenge(&req));
        let retry = sent(&mut reg);
        assert!(!verify(&retry));
        // Challenged again, not stale: the password is wrong.
        reg.handle_response(now, &challenge(&retry));
        assert!(reg.poll_action().is_none());
        match reg.poll_event() {
            Some(RegistrationEvent::Failed {
                status, retry_in, ..
            }) => {
                assert_eq!(status, StatusCode::UNAUTHORIZED);
                delays.push(retry_in.as_secs());
            }
            other => panic!("{other:?}"),
        }
        let at = reg.poll_timeout().unwrap();
        now = at;
        reg.handle_timeout(now);
    }
    assert_eq!(delays, vec![2, 4, 8, 10, 10]);
}

#[test]
fn timeout_retries_then_success_resets_backoff_and_423_raises_expiry() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config("secret"), 20, rng(3)).unwrap();
    reg.start(t0);
    let _ = sent(&mut reg);
    reg.handle_failure(t0, Failure::Timeout);
    match reg.poll_event() {
        Some(RegistrationEvent::Failed {
            status, retry_in, ..
        }) => {
            assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
            assert_eq!(retry_in, Duration::from_secs(2));
        }
        other => panic!("{other:?}"),
    }
    let t1 = t0 + Duration::from_secs(2);
    reg.handle_timeout(t1);
    let req = sent(&mut reg);
    let too_brief = ResponseBuilder::from_request(&req, StatusCode::INTERVAL_TOO_BRIEF)
        .to_tag("x")
        .header(HeaderName::MinExpires, "120")
        .build()
        .unwrap();
    reg.handle_response(t1, &too_brief);
    let req = sent(&mut reg);
    assert_eq!(req.headers().get(HeaderName::Expires), Some("120"));
    let plain_ok = ResponseBuilder::from_request(&req, StatusCode::OK)
        .to_tag("x")
        .header(HeaderName::Expires, "120")
        .build()
        .unwrap();
    reg.handle_response(t1, &plain_ok);
    assert_eq!(
        reg.poll_event(),
        Some(RegistrationEvent::Registered { expires: 120 })
    );
    assert_eq!(reg.poll_timeout(), Some(t1 + Duration::from_secs(108)));
}

#[test]
fn stop_before_registered_just_stops() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config("secret"), 60, rng(4)).unwrap();
    reg.stop(t0);
    assert_eq!(reg.poll_event(), Some(RegistrationEvent::Unregistered));
    assert!(reg.poll_action().is_none());
    // A host name without an outbound proxy has no route.
    let mut c = config("x");
    c.outbound_proxy = None;
    assert!(Registration::new(c, 60, rng(5)).is_err());
}
