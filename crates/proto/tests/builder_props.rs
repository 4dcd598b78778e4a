//! Property tests of the builders: what `ResponseBuilder` and
//! `RequestBuilder` return is exactly what the parser makes of the bytes
//! they print (fields, hot values, the error when those bytes do not
//! parse), whatever the request they copy from (received, or changed by
//! code after parsing) and whatever lines the caller adds (valid or not,
//! with line breaks or stray white space).

// A test fails by panicking: unwrap, expect, indexing and panic! are the
// point here, unlike in the library (see the workspace lints).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::select;
use switchboard_proto::{
    BuildError, Framing, HeaderName, Message, Method, Request, RequestBuilder, ResponseBuilder,
    StatusCode,
};

/// Received requests: compact names, folding, several Vias on one line,
/// Record-Route, Timestamp, a tagged To, an addr-spec To, a body.
const REQUESTS: [&str; 4] = [
    "INVITE sip:bob@example.com SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-a1;rport, SIP/2.0/TCP 192.0.2.9;branch=z9hG4bK-b2\r\n\
     v: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-c3\r\n\
     Max-Forwards: 69\r\n\
     Record-Route: <sip:p1.example.com;lr>\r\n\
     f: \"Alice\" <sip:alice@example.com>;tag=88sja8x\r\n\
     t: <sip:bob@example.com>\r\n\
     i: a84b4c76e66710\r\n\
     CSeq: 314159 INVITE\r\n\
     Timestamp: 54\r\n\
     m: <sip:alice@192.0.2.1>\r\n\
     Content-Type: application/sdp\r\n\
     l: 4\r\n\r\nv=0\n",
    "REGISTER sip:example.com SIP/2.0\r\n\
     Via: SIP/2.0/UDP 198.51.100.7:5060;rport;branch=z9hG4bK-524287\r\n\
     From: <sip:carol@example.com>;tag=1e2d\r\n\
     To: <sip:carol@example.com>\r\n\
     Call-ID: reg-1@198.51.100.7\r\n\
     CSeq: 2 REGISTER\r\n\
     Contact: <sip:carol@198.51.100.7:5060>;expires=3600\r\n\
     Content-Length: 0\r\n\r\n",
    "BYE sip:alice@192.0.2.1 SIP/2.0\r\n\
     Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK-d4\r\n\
     From: sip:bob@example.com;tag=bbb\r\n\
     To: sip:alice@example.com;tag=aaa\r\n\
     Call-ID: folded-1\r\n\
     CSeq: 7\r\n   BYE\r\n\
     Content-Length: 0\r\n\r\n",
    "SUBSCRIBE sip:bob@example.com SIP/2.0\r\n\
     Via: SIP/2.0/TCP 192.0.2.5;branch=z9hG4bK-e5\r\n\
     From: <sip:alice@example.com>;tag=s1\r\n\
     To: <sip:bob@example.com>\r\n\
     Record-Route: <sip:p2.example.com;lr>, <sip:p3.example.com;lr>\r\n\
     Call-ID: sub-1\r\n\
     CSeq: 1 SUBSCRIBE\r\n\
     Event: presence\r\n\
     Content-Length: 0\r\n\r\n",
];

/// Changes code makes to a parsed request before answering it.
#[derive(Debug, Clone)]
enum Edit {
    None,
    PushVia(&'static str),
    SetFrom(&'static str),
    PopVia,
    RemoveTo,
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => Just(Edit::None),
        1 => select(vec![
            "SIP/2.0/UDP 203.0.113.1;branch=z9hG4bK-new",
            "SIP/2.0/UDP 203.0.113.1",
            "not a via",
        ])
        .prop_map(Edit::PushVia),
        1 => select(vec!["<sip:x@example.com>;tag=new", "<sip:x@example.com>", "<<bad"])
            .prop_map(Edit::SetFrom),
        1 => Just(Edit::PopVia),
        1 => Just(Edit::RemoveTo),
    ]
}

fn request(index: usize, edit: &Edit) -> Request {
    let bytes = Bytes::from_static(REQUESTS[index].as_bytes());
    let Message::Request(mut request) = Message::parse_datagram(bytes).unwrap() else {
        panic!("a request");
    };
    let headers = request.headers_mut();
    match edit {
        Edit::None => {}
        Edit::PushVia(v) => headers.push_front(HeaderName::Via, *v),
        Edit::SetFrom(v) => headers.set(HeaderName::From, *v),
        Edit::PopVia => {
            headers.pop_front_value(HeaderName::Via);
        }
        Edit::RemoveTo => {
            headers.remove_all(HeaderName::To);
        }
    }
    request
}

/// A line the caller adds: a name (known, compact, unknown, not a token)
/// and a value (valid or not for hot headers, with breaks or white space).
fn extra_line() -> impl Strategy<Value = (String, String)> {
    (
        select(vec![
            "Contact",
            "Via",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Max-Forwards",
            "Content-Length",
            "Record-Route",
            "Date",
            "WWW-Authenticate",
            "m",
            "X-Custom",
            "Bad Name",
            "",
        ]),
        select(vec![
            "<sip:alice@192.0.2.1:5060>;expires=60",
            "SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK-x",
            "<sip:z@example.com>;tag=zz",
            "1 INVITE",
            "70",
            "300",
            "abc",
            "",
            " leading",
            "trailing\t",
            "two\r\nX-Injected: 1",
            "folded\r\n more",
            "Digest realm=\"example.com\", nonce=\"abc\", qop=\"auth\"",
        ]),
    )
        .prop_map(|(n, v)| (n.to_owned(), v.to_owned()))
}

/// What the builder returns must be what parsing its printed bytes gives.
fn same_as_parsed(built: &Result<Message, BuildError>, printed: &[u8]) {
    let parsed = Message::parse(Bytes::copy_from_slice(printed), Framing::Stream);
    match (built, &parsed) {
        (Ok(b), Ok(p)) => {
            assert_eq!(b, p);
            assert_eq!(b.to_bytes(), p.to_bytes());
            let (hb, hp) = (b.headers(), p.headers());
            assert_eq!(hb.call_id(), hp.call_id());
            assert_eq!(hb.cseq(), hp.cseq());
            assert_eq!(hb.from_tag(), hp.from_tag());
            assert_eq!(hb.to_tag(), hp.to_tag());
            assert_eq!(hb.top_branch(), hp.top_branch());
            assert_eq!(hb.max_forwards(), hp.max_forwards());
            assert_eq!(hb.content_length(), hp.content_length());
            assert_eq!(b.body(), p.body());
        }
        (Err(BuildError(b)), Err(p)) => assert_eq!(b, p),
        _ => panic!(
            "built {built:?}, parsed {parsed:?} from {:?}",
            String::from_utf8_lossy(printed)
        ),
    }
}

/// The response as the builder prints it (RFC 3261 §8.2.6.2's copies).
fn print_response(
    request: &Request,
    status: StatusCode,
    reason: &str,
    to_tag: &str,
    lines: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("SIP/2.0 {} {reason}\r\n", status.as_u16());
    let record_route = matches!(request.method(), Method::Invite | Method::Subscribe)
        && (101..300).contains(&status.as_u16());
    let tagged = request.headers().to_tag().is_some();
    // RFC 3261 §8.2.6.2, and §12.1.1 for Record-Route.
    let copied = [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Timestamp,
    ];
    for f in request.headers().iter() {
        if copied.contains(&f.name) || (f.name == HeaderName::RecordRoute && record_route) {
            out.push_str(&format!("{}: {}", f.name.as_str(), f.value));
            if f.name == HeaderName::To && !tagged {
                out.push_str(&format!(";tag={to_tag}"));
            }
            out.push_str("\r\n");
        }
    }
    print_rest(out, lines, body)
}

/// The caller's lines (Content-Length left out), Content-Length, the body.
fn print_rest(mut out: String, lines: &[(String, String)], body: &[u8]) -> Vec<u8> {
    for (name, value) in lines {
        if HeaderName::from_name(name) != HeaderName::ContentLength {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn response_is_what_its_bytes_parse_to(
        index in 0..REQUESTS.len(),
        edit in edit(),
        status in select(vec![100u16, 180, 200, 401, 486]),
        reason in select(vec!["", "Custom Reason", "Bad\r\nReason"]),
        to_tag in select(vec!["8d2f0a1c", "", "a b", "x;y=z"]),
        lines in proptest::collection::vec(extra_line(), 0..4),
        body in select(vec![&b""[..], &b"hello"[..]]),
    ) {
        let request = request(index, &edit);
        let status = StatusCode::new(status).unwrap();
        let mut builder = ResponseBuilder::from_request(&request, status).to_tag(to_tag);
        let reason = if reason.is_empty() {
            status.canonical_reason()
        } else {
            builder = builder.reason(reason);
            reason
        };
        for (name, value) in &lines {
            builder = match HeaderName::from_name(name) {
                HeaderName::Other => builder.header_other(name, value.as_str()),
                known if known.as_str() == name => builder.header(known, value.as_str()),
                _ => builder.header_other(name, value.as_str()),
            };
        }
        if !body.is_empty() {
            builder = builder.body("text/plain", Bytes::from_static(body));
        }
        let mut lines = lines;
        if !body.is_empty() {
            lines.push(("Content-Type".to_owned(), "text/plain".to_owned()));
        }
        let printed = print_response(&request, status, reason, to_tag, &lines, body);
        same_as_parsed(&builder.build().map(Message::from), &printed);
    }

    #[test]
    fn request_copy_is_what_its_bytes_parse_to(
        index in 0..REQUESTS.len(),
        edit in edit(),
        picks in proptest::collection::vec(any::<proptest::sample::Index>(), 0..9),
        lines in proptest::collection::vec(extra_line(), 0..3),
    ) {
        let request = request(index, &edit);
        // The names of some of the request's own fields.
        let names: Vec<HeaderName> = request.headers().iter().map(|f| f.name).collect();
        let kept: Vec<HeaderName> = picks.iter().map(|i| *i.get(&names)).collect();
        // A Via at the end: the parser, the reference here, requires one
        // in a received request, where a built one may go without.
        let mut lines = lines;
        lines.push(("Via".to_owned(), "SIP/2.0/UDP 192.0.2.99;branch=z9hG4bK-t".to_owned()));
        let mut builder = RequestBuilder::from_request_fields(&request, |n| kept.contains(&n));
        for (name, value) in &lines {
            builder = builder.header_other(name, value.as_str());
        }
        let mut out = format!("{} {} SIP/2.0\r\n", request.method(), request.uri_str());
        let copied: Vec<_> = request.headers().iter().filter(|f| kept.contains(&f.name)).collect();
        let has_max_forwards = copied.iter().any(|f| f.name == HeaderName::MaxForwards)
            || lines.iter().any(|(n, _)| HeaderName::from_name(n) == HeaderName::MaxForwards);
        if !has_max_forwards {
            out.push_str("Max-Forwards: 70\r\n");
        }
        // Content-Length is the builder's own.
        for f in copied.iter().filter(|f| f.name != HeaderName::ContentLength) {
            out.push_str(&format!("{}: {}\r\n", f.print_name(), f.value));
        }
        let printed = print_rest(out, &lines, b"");
        same_as_parsed(&builder.build().map(Message::from), &printed);
    }
}

/// The copies the builder trusts are the received ones: a header that code
/// changed after parsing is checked again, and refused when invalid.
#[test]
fn a_changed_header_is_checked_again() {
    let mut request = request(1, &Edit::None);
    request
        .headers_mut()
        .push_front(HeaderName::Via, "not a via");
    let built = ResponseBuilder::from_request(&request, StatusCode::OK)
        .to_tag("t")
        .build();
    assert!(built.is_err(), "{built:?}");
}
