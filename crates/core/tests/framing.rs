//! A stream whose framing is broken (RFC 4475 §3.1.2.11 `ncl.dat`, a
//! negative Content-Length, and §3.1.2.12 `mcl01.dat`, several
//! Content-Lengths) gets its 400 down the connection before the connection
//! is closed: the peer learns why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod util;

use bytes::Bytes;
use switchboard_core::{Destination, FlowId, Input, Transport};
use switchboard_proto::{HeaderName, Message};
use util::*;

const NCL: &[u8] = include_bytes!("../../proto/tests/data/rfc4475/ncl.dat");
const MCL01: &[u8] = include_bytes!("../../proto/tests/data/rfc4475/mcl01.dat");

/// The raw value of a header line in `raw`.
fn raw_header<'a>(raw: &'a [u8], name: &str) -> &'a str {
    std::str::from_utf8(raw)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap()
        .trim()
}

#[test]
fn broken_content_length_over_tcp_is_answered_400_then_closed() {
    for (name, raw) in [("ncl.dat", NCL), ("mcl01.dat", MCL01)] {
        let mut h = Harness::new();
        let flow = FlowId(9);
        let now = h.now;
        h.ep.handle_input(
            now,
            Input::FlowOpened {
                flow,
                transport: Transport::Tcp,
                local: addr(LOCAL),
                remote: addr(PEER),
            },
        );
        // In two pieces, as a stream may deliver it.
        let (first, rest) = raw.split_at(40);
        for piece in [first, rest] {
            h.ep.handle_input(
                now,
                Input::StreamData {
                    flow,
                    bytes: Bytes::copy_from_slice(piece),
                },
            );
        }
        h.drain();

        assert_eq!(h.sent.len(), 1, "{name}: one answer");
        let answer = &h.sent[0].1;
        assert_eq!(answer.destination, Destination::Flow(flow), "{name}");
        let message = Message::parse_stream(answer.bytes.clone()).unwrap();
        let response = message.as_response().unwrap();
        assert_eq!(response.status().as_u16(), 400, "{name}");
        let headers = response.headers();
        assert_eq!(
            headers.get(HeaderName::CallId),
            Some(raw_header(raw, "Call-ID")),
            "{name}"
        );
        assert_eq!(
            headers.get(HeaderName::CSeq),
            Some(raw_header(raw, "CSeq")),
            "{name}"
        );
        assert!(
            headers.to_tag().is_some(),
            "{name}: the answer has a To tag"
        );

        assert_eq!(h.ep.poll_close(), Some(flow), "{name}: then closed");
        assert_eq!(h.ep.poll_close(), None);
        // The flow is gone: more bytes on it are ignored.
        h.ep.handle_input(
            now,
            Input::StreamData {
                flow,
                bytes: Bytes::from_static(b"OPTIONS sip:a SIP/2.0\r\n\r\n"),
            },
        );
        h.drain();
        assert_eq!(h.sent.len(), 1, "{name}: nothing more");
    }
}
