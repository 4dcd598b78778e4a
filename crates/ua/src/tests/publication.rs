//! The publisher (RFC 3903) on a virtual clock: the ETag cycle (publish,
//! refresh without a body, modify, remove), digest retry, 412 recovery.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};

use super::registration::config;
use crate::{Action, Presence, Publication, PublicationEvent};

fn sent(p: &mut Publication) -> Request {
    match p.poll_action() {
        Some(Action::Send { mut request, .. }) => {
            assert!(p.poll_action().is_none());
            request.headers_mut().push_front(
                HeaderName::Via,
                "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKpub",
            );
            request
        }
        other => panic!("expected a request, got {other:?}"),
    }
}

fn answer(req: &Request, status: StatusCode, etag: Option<&str>, expires: u32) -> Response {
    let mut b = ResponseBuilder::from_request(req, status)
        .to_tag("pa")
        .header(HeaderName::Expires, expires.to_string());
    if let Some(etag) = etag {
        b = b.header(HeaderName::SipETag, etag);
    }
    if status == StatusCode::UNAUTHORIZED {
        b = b.header(
            HeaderName::WwwAuthenticate,
            r#"Digest realm="example.com", nonce="n1", qop="auth""#,
        );
    }
    b.build().unwrap()
}

fn body(req: &Request) -> String {
    String::from_utf8_lossy(req.body()).into_owned()
}

fn published(p: &mut Publication) -> (u32, String) {
    match p.poll_event() {
        Some(PublicationEvent::Published { expires, etag }) => (expires, etag),
        other => panic!("expected Published, got {other:?}"),
    }
}

/// A publication of `status` for 60 s.
fn publication(status: &str, seed: u64) -> Publication {
    Publication::new(
        Instant::now(),
        config("secret"),
        Presence::from_status(status),
        60,
        Box::new(StdRng::seed_from_u64(seed)),
    )
    .unwrap()
}

#[test]
fn the_etag_cycle_publish_refresh_modify_remove() {
    let t0 = Instant::now();
    let away = Presence::from_status("away").with_note(Some("at lunch".into()));
    let mut p = Publication::new(
        t0,
        config("secret"),
        away,
        300,
        Box::new(StdRng::seed_from_u64(3)),
    )
    .unwrap();
    let first = sent(&mut p);
    let h = first.headers();
    assert_eq!(first.method(), &Method::Publish);
    assert_eq!(first.uri_str(), "sip:alice@example.com");
    assert_eq!(h.get(HeaderName::Event), Some("presence"));
    assert_eq!(h.get(HeaderName::Expires), Some("300"));
    assert_eq!(h.get(HeaderName::ContentType), Some("application/pidf+xml"));
    assert!(h.get(HeaderName::SipIfMatch).is_none());
    // What we publish reads back as what we meant.
    let read = Presence::from_pidf(&body(&first)).unwrap();
    assert_eq!(read.open, Some(true));
    assert_eq!(read.activity.as_deref(), Some("away"));
    assert_eq!(read.note.as_deref(), Some("at lunch"));
    assert_eq!(read.entity.as_deref(), Some("sip:alice@example.com"));

    // 401, then the same PUBLISH with credentials and the body.
    p.handle_response(t0, &answer(&first, StatusCode::UNAUTHORIZED, None, 300));
    let retry = sent(&mut p);
    assert!(retry.headers().get(HeaderName::Authorization).is_some());
    assert_eq!(body(&retry), body(&first));
    p.handle_response(t0, &answer(&retry, StatusCode::OK, Some("e1"), 60));
    assert_eq!(published(&mut p), (60, "e1".into()));
    assert_eq!(p.etag(), Some("e1"));
    assert_eq!(p.poll_timeout(), Some(t0 + Duration::from_secs(54)));
    p.handle_timeout(t0 + Duration::from_secs(53));
    assert!(p.poll_action().is_none());

    // Refresh: SIP-If-Match, no body; the agent may change the tag.
    let t1 = t0 + Duration::from_secs(54);
    p.handle_timeout(t1);
    let refresh = sent(&mut p);
    assert_eq!(refresh.headers().get(HeaderName::SipIfMatch), Some("e1"));
    assert!(refresh.body().is_empty());
    assert!(refresh.headers().get(HeaderName::ContentType).is_none());
    p.handle_response(t1, &answer(&refresh, StatusCode::OK, Some("e2"), 60));
    assert_eq!(published(&mut p), (60, "e2".into()));

    // Modify: the new body under the current tag.
    p.modify(t1, Presence::from_status("closed"));
    let modify = sent(&mut p);
    assert_eq!(modify.headers().get(HeaderName::SipIfMatch), Some("e2"));
    assert_eq!(
        Presence::from_pidf(&body(&modify)).unwrap().open,
        Some(false)
    );
    p.handle_response(t1, &answer(&modify, StatusCode::OK, Some("e3"), 60));
    assert_eq!(published(&mut p), (60, "e3".into()));

    // Remove: Expires 0 under the tag, no body.
    p.stop(t1);
    let remove = sent(&mut p);
    assert_eq!(remove.headers().get(HeaderName::Expires), Some("0"));
    assert_eq!(remove.headers().get(HeaderName::SipIfMatch), Some("e3"));
    assert!(remove.body().is_empty());
    p.handle_response(t1, &answer(&remove, StatusCode::OK, None, 0));
    assert_eq!(p.poll_event(), Some(PublicationEvent::Removed));
    assert!(p.is_removed());
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn a_412_publishes_again_from_scratch() {
    let t0 = Instant::now();
    let mut p = publication("open", 4);
    let first = sent(&mut p);
    p.handle_response(t0, &answer(&first, StatusCode::OK, Some("e1"), 60));
    let _ = published(&mut p);
    let t1 = t0 + Duration::from_secs(54);
    p.handle_timeout(t1);
    let refresh = sent(&mut p);
    // The agent restarted and forgot our tag.
    p.handle_response(
        t1,
        &answer(&refresh, StatusCode::CONDITIONAL_REQUEST_FAILED, None, 0),
    );
    let again = sent(&mut p);
    assert!(again.headers().get(HeaderName::SipIfMatch).is_none());
    assert_eq!(Presence::from_pidf(&body(&again)).unwrap().open, Some(true));
    p.handle_response(t1, &answer(&again, StatusCode::OK, Some("f1"), 60));
    assert_eq!(published(&mut p), (60, "f1".into()));
}

#[test]
fn a_modify_while_a_publish_is_out_follows_its_answer() {
    let t0 = Instant::now();
    let mut p = publication("open", 5);
    let first = sent(&mut p);
    p.modify(t0, Presence::from_status("busy"));
    assert!(p.poll_action().is_none());
    p.handle_response(t0, &answer(&first, StatusCode::OK, Some("e1"), 60));
    let _ = published(&mut p);
    let modify = sent(&mut p);
    assert_eq!(modify.headers().get(HeaderName::SipIfMatch), Some("e1"));
    let read = Presence::from_pidf(&body(&modify)).unwrap();
    assert_eq!(read.activity.as_deref(), Some("busy"));
}
