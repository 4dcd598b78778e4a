//! What a registrar does for every REGISTER besides parsing it: the 401
//! with its digest challenges, and the 200 OK, each built from the request
//! (`ResponseBuilder::build` checks it as the parser would). And what the
//! proxy does once per answered call: the INVITE it keeps after the answer,
//! cut down to the fields later answers read (`settle`).
//!
//! Run with `cargo bench -p switchboard-proto --bench answer`.

// A benchmark is not peer-facing code: the fixed inputs below are known to
// parse and build, and a failure must stop the run loudly rather than time an
// error path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_proto::digest::{Algorithm, DigestChallenge, Qop};
use switchboard_proto::{
    HeaderName, Message, Request, RequestBuilder, ResponseBuilder, StatusCode,
};

/// A first REGISTER, without credentials (the one that gets the 401).
fn register() -> Request {
    let text = "REGISTER sip:atlanta.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.168.1.34:52314;rport;branch=z9hG4bK-524287-1---7a1e90c3f2b84d61\r\n\
        Max-Forwards: 70\r\n\
        Contact: <sip:alice@192.168.1.34:52314;rinstance=8b3f2c1d9e0a7f64;transport=UDP>;expires=3600\r\n\
        To: <sip:alice@atlanta.example.com>\r\n\
        From: <sip:alice@atlanta.example.com>;tag=1e2d3c4b\r\n\
        Call-ID: NjJlMzA5ZDE4YTQ3ZjQ2YjFhMDk3YzU1ZTIxYmY0NzE\r\n\
        CSeq: 1 REGISTER\r\n\
        Expires: 3600\r\n\
        User-Agent: Z 5.6.1 v2.10.20.2\r\n\
        Content-Length: 0\r\n\r\n";
    match Message::parse_datagram(Bytes::from(text)).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => panic!("a request"),
    }
}

/// An INVITE with its SDP offer, as the proxy received it.
fn invite() -> Request {
    let sdp = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\ns=-\r\n\
        c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    let text = format!(
        "INVITE sip:bob@atlanta.example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 192.168.1.34:52314;rport;branch=z9hG4bK-524287-1---77ab\r\n\
        Max-Forwards: 70\r\n\
        Contact: <sip:alice@192.168.1.34:52314;transport=UDP>\r\n\
        To: <sip:bob@atlanta.example.com>\r\n\
        From: <sip:alice@atlanta.example.com>;tag=1e2d3c4b\r\n\
        Call-ID: YjQ5ZDE4YTQ3ZjQ2YjFhMDk3YzU1ZTIxYmY0NzE\r\n\
        CSeq: 2 INVITE\r\n\
        Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n\
        Supported: replaces, norefersub, timer\r\n\
        Session-Expires: 1800\r\n\
        User-Agent: Z 5.6.1 v2.10.20.2\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    match Message::parse_datagram(Bytes::from(text)).unwrap() {
        Message::Request(request) => request,
        Message::Response(_) => panic!("a request"),
    }
}

/// The fields a proxy's settled context keeps (`KEPT_AFTER_FINAL` in the
/// server's `proxy/context.rs`): of this INVITE, all but these.
fn kept(name: HeaderName) -> bool {
    !matches!(
        name,
        HeaderName::MaxForwards
            | HeaderName::Allow
            | HeaderName::UserAgent
            | HeaderName::ContentType
            | HeaderName::ContentLength
    )
}

/// The kept fields added one by one to a new request (before
/// `RequestBuilder::from_request_fields`).
fn settle_by_lines(request: &Request) -> Request {
    request
        .headers()
        .iter()
        .filter(|field| kept(field.name))
        .fold(
            RequestBuilder::new(request.method().clone(), request.uri_str()),
            |builder, field| builder.header(field.name, field.value),
        )
        .build()
        .unwrap()
}

/// The kept fields copied as received.
fn settle(request: &Request) -> Request {
    RequestBuilder::from_request_fields(request, kept)
        .build()
        .unwrap()
}

const NONCE: &str = "AAAAAGdSm0Vn3ZbXq1fQ0iTa9gHk2m4Rb7xY1cW8eJ0pL5sN3uQ";

/// The challenge values of a 401, MD5 then SHA-256, sharing one nonce.
fn challenges() -> Vec<String> {
    [Algorithm::Md5, Algorithm::Sha256]
        .into_iter()
        .map(|alg| {
            let mut c = DigestChallenge::new("atlanta.example.com", NONCE);
            c.algorithm = Some(alg);
            c.qop = vec![Qop::Auth];
            c.to_string()
        })
        .collect()
}

fn unauthorized(request: &Request, challenges: &[String]) -> Bytes {
    let mut builder =
        ResponseBuilder::from_request(request, StatusCode::UNAUTHORIZED).to_tag("8d2f0a1c");
    for value in challenges {
        builder = builder.header(HeaderName::WwwAuthenticate, value.as_str());
    }
    builder.build().unwrap().to_bytes()
}

fn ok(request: &Request) -> Bytes {
    ResponseBuilder::from_request(request, StatusCode::OK)
        .to_tag("8d2f0a1c")
        .header(
            HeaderName::Contact,
            "<sip:alice@192.168.1.34:52314;rinstance=8b3f2c1d9e0a7f64;transport=UDP>;expires=3600",
        )
        .header(HeaderName::Date, "Sun, 06 Dec 2026 15:30:00 GMT")
        .build()
        .unwrap()
        .to_bytes()
}

fn benches(c: &mut Criterion) {
    let request = register();
    let values = challenges();
    // Checked once before timing: the 401 carries both challenges and a To tag.
    let printed = unauthorized(&request, &values);
    let text = std::str::from_utf8(&printed).unwrap();
    assert!(text.starts_with("SIP/2.0 401 Unauthorized\r\n"));
    assert_eq!(text.matches("WWW-Authenticate: Digest realm=").count(), 2);
    assert!(text.contains("To: <sip:alice@atlanta.example.com>;tag=8d2f0a1c\r\n"));

    let mut group = c.benchmark_group("answer");
    group.bench_function("challenge_values", |b| b.iter(|| black_box(challenges())));
    group.bench_function("401", |b| {
        b.iter(|| black_box(unauthorized(black_box(&request), &values)));
    });
    group.bench_function("200", |b| b.iter(|| black_box(ok(black_box(&request)))));
    let invite = invite();
    assert_eq!(settle(&invite), settle_by_lines(&invite));
    assert!(settle(&invite).body().is_empty());
    group.bench_function("settle_by_lines", |b| {
        b.iter(|| black_box(settle_by_lines(black_box(&invite))));
    });
    group.bench_function("settle", |b| {
        b.iter(|| black_box(settle(black_box(&invite))))
    });
    group.finish();
}

criterion_group!(answer, benches);
criterion_main!(answer);
