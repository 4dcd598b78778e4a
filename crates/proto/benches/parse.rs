//! Parser and printer benchmarks: switchboard-proto against rsip on three
//! realistic messages (see README.md beside this file).
//!
//! Run with `cargo bench -p switchboard-proto --bench parse`.

// A benchmark is not peer-facing code: the fixed inputs below are known to
// parse, and a failure must stop the run loudly rather than time an error path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rsip::prelude::{HeadersExt, ToTypedHeader, UntypedHeader};
use switchboard_proto::Message;

/// Joins header lines and a body into one message with a right
/// Content-Length (appended as the last header, as most softphones do).
fn message(head: &[&str], body: &str) -> Bytes {
    let mut out = String::with_capacity(1024);
    for line in head {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    out.push_str(body);
    Bytes::from(out)
}

/// The SDP offer of a softphone: Opus, G.722, G.711, GSM, telephone-event.
const OFFER_SDP: &str = "v=0\r\n\
o=Z 1716392871324 1 IN IP4 192.168.1.34\r\n\
s=Z\r\n\
c=IN IP4 192.168.1.34\r\n\
t=0 0\r\n\
m=audio 52330 RTP/AVP 106 9 101 0 8 3\r\n\
a=rtpmap:106 opus/48000/2\r\n\
a=fmtp:106 sprop-maxcapturerate=16000; minptime=20; useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n";

/// The SDP answer of the callee.
const ANSWER_SDP: &str = "v=0\r\n\
o=- 3925218432 3925218433 IN IP4 198.51.100.20\r\n\
s=-\r\n\
c=IN IP4 198.51.100.20\r\n\
t=0 0\r\n\
m=audio 16432 RTP/AVP 106 101\r\n\
a=rtpmap:106 opus/48000/2\r\n\
a=fmtp:106 useinbandfec=1\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n";

/// An INVITE with SDP as a softphone sends it (~900 bytes).
fn invite() -> Bytes {
    message(
        &[
            "INVITE sip:bob@biloxi.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 192.168.1.34:52314;rport;branch=z9hG4bK-524287-1---4d2c1f0a8b7e6d5c",
            "Max-Forwards: 70",
            "Contact: <sip:alice@192.168.1.34:52314;transport=UDP>;expires=3600",
            "To: <sip:bob@biloxi.example.com>",
            "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl",
            "Call-ID: ZTc2MDAzZjQ1YjQ4NzE2ODQ1NmVhNDk2NDA1OTMzMmU",
            "CSeq: 1 INVITE",
            "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE",
            "Content-Type: application/sdp",
            "Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri",
            "User-Agent: Z 5.6.1 v2.10.20.2",
        ],
        OFFER_SDP,
    )
}

/// The 200 OK to that INVITE, back through two record-routing proxies.
fn ok200() -> Bytes {
    message(
        &[
            "SIP/2.0 200 OK",
            "Via: SIP/2.0/UDP 192.168.1.34:52314;rport=41203;received=203.0.113.7;branch=z9hG4bK-524287-1---4d2c1f0a8b7e6d5c",
            "Record-Route: <sip:p2.biloxi.example.com;lr>, <sip:p1.atlanta.example.com;lr;ftag=9fxced76sl>",
            "Contact: <sip:bob@198.51.100.20:5060;transport=udp>",
            "To: <sip:bob@biloxi.example.com>;tag=as6f2b1c07",
            "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl",
            "Call-ID: ZTc2MDAzZjQ1YjQ4NzE2ODQ1NmVhNDk2NDA1OTMzMmU",
            "CSeq: 1 INVITE",
            "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY",
            "Supported: replaces, timer",
            "Server: Biloxi PBX 18.4.0",
            "Content-Type: application/sdp",
        ],
        ANSWER_SDP,
    )
}

/// A REGISTER answering a 401 challenge with digest credentials.
fn register() -> Bytes {
    message(
        &[
            "REGISTER sip:atlanta.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 192.168.1.34:52314;rport;branch=z9hG4bK-524287-1---7a1e90c3f2b84d61",
            "Max-Forwards: 70",
            "Contact: <sip:alice@192.168.1.34:52314;rinstance=8b3f2c1d9e0a7f64;transport=UDP>;expires=3600",
            "To: <sip:alice@atlanta.example.com>",
            "From: <sip:alice@atlanta.example.com>;tag=1e2d3c4b",
            "Call-ID: NjJlMzA5ZDE4YTQ3ZjQ2YjFhMDk3YzU1ZTIxYmY0NzE",
            "CSeq: 2 REGISTER",
            "Expires: 3600",
            "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE",
            "Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri",
            "User-Agent: Z 5.6.1 v2.10.20.2",
            "Authorization: Digest username=\"alice\",realm=\"atlanta.example.com\",\
             nonce=\"Zk3Jq2ZNyX7p0mX1b2c3d4e5f6a7b8c9\",uri=\"sip:atlanta.example.com\",\
             response=\"6629fae49393a05397450978507c4ef1\",cnonce=\"0a4f113b\",nc=00000001,\
             qop=auth,algorithm=MD5",
            "Allow-Events: presence, kpml, talk",
        ],
        "",
    )
}

/// The fields a transaction layer reads first, through our API.
fn access_ours(m: &Message) -> (Option<&str>, Option<&str>, Option<u32>, Option<&str>) {
    let h = m.headers();
    (
        h.top_branch(),
        h.call_id(),
        h.cseq().map(|c| c.seq),
        h.from_tag(),
    )
}

/// The same fields through rsip: its headers are strings until asked, so the
/// top Via, the CSeq and the From are parsed here.
fn access_rsip(
    m: &rsip::SipMessage,
) -> (
    Option<rsip::param::Branch>,
    &str,
    u32,
    Option<rsip::param::Tag>,
) {
    let branch = m.via_header().unwrap().typed().unwrap().branch().cloned();
    let call_id = m.call_id_header().unwrap().value();
    let seq = m.cseq_header().unwrap().seq().unwrap();
    let tag = m.from_header().unwrap().tag().unwrap();
    (branch, call_id, seq, tag)
}

/// Checks, once and outside the timed loops, that both parsers accept the
/// message and agree on the fields the access benchmarks read.
fn check(raw: &Bytes) {
    let ours = Message::parse_datagram(raw.clone()).unwrap();
    let theirs = rsip::SipMessage::try_from(&raw[..]).unwrap();
    let (b, c, s, t) = access_ours(&ours);
    let (rb, rc, rs, rt) = access_rsip(&theirs);
    assert_eq!(b, rb.as_ref().map(|b| b.value()));
    assert_eq!(c, Some(rc));
    assert_eq!(s, Some(rs));
    assert_eq!(t, rt.as_ref().map(|t| t.value()));
    assert!(b.is_some() && t.is_some());
    // Both printers give back a message of the same size.
    assert_eq!(ours.to_bytes().len(), raw.len());
    assert_eq!(theirs.to_string().len(), raw.len());
}

fn bench_message(c: &mut Criterion, group: &str, raw: &Bytes) {
    check(raw);
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(raw.len() as u64));

    g.bench_function("switchboard/parse", |b| {
        b.iter(|| Message::parse_datagram(black_box(raw.clone())).unwrap())
    });
    g.bench_function("rsip/parse", |b| {
        b.iter(|| rsip::SipMessage::try_from(black_box(&raw[..])).unwrap())
    });

    let ours = Message::parse_datagram(raw.clone()).unwrap();
    let theirs = rsip::SipMessage::try_from(&raw[..]).unwrap();
    g.bench_function("switchboard/print", |b| {
        b.iter(|| black_box(&ours).to_bytes())
    });
    g.bench_function("rsip/print", |b| b.iter(|| black_box(&theirs).to_string()));

    g.bench_function("switchboard/parse+access", |b| {
        b.iter(|| {
            let m = Message::parse_datagram(black_box(raw.clone())).unwrap();
            black_box(access_ours(&m));
        })
    });
    g.bench_function("rsip/parse+access", |b| {
        b.iter(|| {
            let m = rsip::SipMessage::try_from(black_box(&raw[..])).unwrap();
            black_box(access_rsip(&m));
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_message(c, "invite", &invite());
    bench_message(c, "ok200", &ok200());
    bench_message(c, "register", &register());
}

criterion_group!(parse, benches);
criterion_main!(parse);
