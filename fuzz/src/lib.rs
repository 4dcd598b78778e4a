//! Checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! Each check panics (which libFuzzer reports as a crash) when the parser
//! breaks its contract: it must never panic on any input, and a message it
//! accepted must print to bytes that parse again to an equal message.

use bytes::Bytes;
use switchboard_proto::header::{
    CSeq, Contact, From, HeaderName, NameAddr, Path, RecordRoute, ReferTo, ReferredBy, ReplyTo,
    Route, To, TypedHeader, Via,
};
use switchboard_proto::uri::Uri;
use switchboard_proto::validate::{Policy, Role, check_request};
use switchboard_proto::{
    Frame, Framing, Message, RequestBuilder, ResponseBuilder, StatusCode, StreamFramer,
    error_response, unescape, unquote,
};

/// The largest message the framer targets accept.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Parses `data` as a datagram and as a stream message and, for each that
/// parses, exercises the accessors and checks print → parse equality.
pub fn check_message(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    for framing in [Framing::Datagram, Framing::Stream] {
        match Message::parse(bytes.clone(), framing) {
            Ok(msg) => {
                touch_message(&msg);
                check_round_trip(&msg, framing);
            }
            Err(err) => {
                let _ = err.status();
                let _ = err.to_string();
                // The answer to a malformed request: must not panic. It is
                // not required to parse (it copies the peer's lines
                // verbatim, and one of them may be what was wrong).
                if let Some(resp) = error_response(data, &err, "fuzz")
                    && let Ok(m) = Message::parse_datagram(resp)
                {
                    touch_message(&m);
                }
            }
        }
    }
}

/// Print → parse with the same framing gives an equal message, and printing
/// again gives the same bytes. When the body is delimited by Content-Length
/// (or empty), the other framing and the stream framer agree too.
pub fn check_round_trip(msg: &Message, framing: Framing) {
    let printed = msg.to_bytes();
    let again = Message::parse(printed.clone(), framing).unwrap_or_else(|e| {
        panic!(
            "printed message does not parse ({framing:?}): {e}\nprinted: {:?}\nmessage: {msg:?}",
            String::from_utf8_lossy(&printed)
        )
    });
    assert_eq!(
        &again,
        msg,
        "round trip changed the message; printed: {:?}",
        String::from_utf8_lossy(&printed)
    );
    let reprinted = again.to_bytes();
    assert_eq!(reprinted, printed, "printing is not stable");

    let delimited = msg.headers().content_length().is_some() || msg.body().is_empty();
    if delimited {
        let other = match framing {
            Framing::Datagram => Framing::Stream,
            Framing::Stream => Framing::Datagram,
        };
        let again = Message::parse(printed.clone(), other)
            .unwrap_or_else(|e| panic!("printed message does not parse ({other:?}): {e}"));
        assert_eq!(
            &again, msg,
            "{other:?} parse of the printed message differs"
        );
    }
    // A printed message with a framer-readable Content-Length frames whole.
    let framer_cl_ok = msg
        .headers()
        .get(HeaderName::ContentLength)
        .is_none_or(|v| v.len() <= 10);
    if delimited && framer_cl_ok && printed.len() <= MAX_MESSAGE {
        let mut framer = StreamFramer::new(MAX_MESSAGE);
        framer.push(&printed);
        match framer.next_frame() {
            Some(Ok(Frame::Message(m))) => {
                assert_eq!(m, printed, "the framer cut the printed message differently");
            }
            other => panic!("framer on a printed message: {other:?}"),
        }
        assert_eq!(framer.next_frame(), None);
    }
}

/// Calls every accessor a server would call on a parsed message.
pub fn touch_message(msg: &Message) {
    let h = msg.headers();
    // The parser checked these headers: reading them typed cannot fail.
    assert!(
        h.call_id().is_some() && h.cseq().is_some(),
        "Call-ID/CSeq missing"
    );
    assert!(
        matches!(h.top_via(), Some(Ok(_))),
        "top Via: {:?}",
        h.top_via()
    );
    assert!(
        matches!(h.typed::<From<'_>>(), Some(Ok(_))),
        "From does not parse"
    );
    assert!(
        matches!(h.typed::<To<'_>>(), Some(Ok(_))),
        "To does not parse"
    );
    assert!(
        h.typed_all::<Via<'_>>().all(|v| v.is_ok()),
        "a Via does not parse"
    );
    assert!(
        h.typed_all::<Contact<'_>>().all(|v| v.is_ok()),
        "a Contact does not parse"
    );
    assert!(
        h.typed_all::<Route<'_>>().all(|v| v.is_ok()),
        "a Route does not parse"
    );
    assert!(
        h.typed_all::<RecordRoute<'_>>().all(|v| v.is_ok()),
        "a Record-Route does not parse"
    );
    let _ = (
        h.call_id(),
        h.cseq(),
        h.from_tag(),
        h.to_tag(),
        h.top_branch(),
    );
    let _ = (h.max_forwards(), h.content_length(), h.len());
    if let Some(Ok(via)) = h.top_via() {
        touch_via(&via);
    }
    for via in h.typed_all::<Via<'_>>().flatten() {
        touch_via(&via);
    }
    for c in h.typed_all::<Contact<'_>>().flatten() {
        if let Some(a) = c.address() {
            touch_name_addr(a);
        }
        let _ = c.to_string();
    }
    typed_name_addrs::<From<'_>>(msg);
    typed_name_addrs::<To<'_>>(msg);
    typed_name_addrs::<Route<'_>>(msg);
    typed_name_addrs::<RecordRoute<'_>>(msg);
    typed_name_addrs::<Path<'_>>(msg);
    typed_name_addrs::<ReferTo<'_>>(msg);
    typed_name_addrs::<ReferredBy<'_>>(msg);
    typed_name_addrs::<ReplyTo<'_>>(msg);
    for c in h.typed_all::<CSeq>().flatten() {
        let _ = c.to_string();
    }
    for f in h.iter() {
        let _ = (f.print_name(), h.get_by_name(f.raw_name));
        if f.name.is_list() {
            let _ = h.values(f.name).count();
        }
    }
    match msg {
        Message::Request(req) => {
            let _ = req.method().as_str();
            touch_uri(&req.uri());
            for role in [Role::UserAgentServer, Role::Proxy] {
                let policy = Policy {
                    role,
                    ..Policy::default()
                };
                if let Err(r) = check_request(req, &policy) {
                    let _ = (r.status(), r.to_string());
                }
            }
            // Answering a request the parser accepted must always work.
            let resp = ResponseBuilder::from_request(req, StatusCode::OK)
                .to_tag("fuzz")
                .build();
            if let Err(e) = resp {
                panic!("cannot build a 200 to an accepted request: {e}\nrequest: {req:?}");
            }
            // Editing: a proxy pops/pushes Vias and re-prints.
            let mut edited = req.clone();
            let _ = edited.headers_mut().pop_front_value(HeaderName::Via);
            edited
                .headers_mut()
                .push_front(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfuzz");
            let _ = edited.to_bytes();
        }
        Message::Response(resp) => {
            let _ = (resp.status(), resp.reason());
        }
    }
}

fn typed_name_addrs<'a, T>(msg: &'a Message)
where
    T: TypedHeader<'a> + std::ops::Deref<Target = NameAddr<'a>> + 'a,
{
    for a in msg.headers().typed_all::<T>().flatten() {
        touch_name_addr(&a);
    }
}

fn touch_via(via: &Via<'_>) {
    let _ = (
        via.branch(),
        via.received(),
        via.rport(),
        via.maddr(),
        via.has_rfc3261_branch(),
    );
    let _ = (via.host.ip(), via.host.address(), via.host.kind());
    for p in via.params {
        let _ = (p.name, p.value);
    }
    // A parsed Via prints to text that parses to the same Via.
    let printed = via.to_string();
    let again = Via::parse_value(&printed)
        .unwrap_or_else(|e| panic!("printed Via {printed:?} does not parse: {e}"));
    assert_eq!(again.to_string(), printed, "Via print is not stable");
}

fn touch_name_addr(a: &NameAddr<'_>) {
    let _ = (a.display_name_unquoted(), a.tag(), a.expires(), a.q());
    if let Some(d) = a.display_name {
        let _ = unquote(d);
    }
    touch_uri(&a.uri);
    for p in a.params {
        let _ = (p.name, p.value);
    }
    let printed = a.to_string();
    let again = NameAddr::parse_value(&printed)
        .unwrap_or_else(|e| panic!("printed name-addr {printed:?} does not parse: {e}"));
    assert_eq!(again.to_string(), printed, "name-addr print is not stable");
}

/// Exercises a parsed URI's accessors.
pub fn touch_uri(u: &Uri<'_>) {
    let _ = (u.as_str(), u.scheme(), u.to_string());
    for p in u.params() {
        let _ = (p.name, p.value);
    }
    if let Some(s) = u.as_sip() {
        let _ = (s.user_unescaped(), s.transport(), s.is_loose_router());
        let _ = (s.host.ip(), s.host.address(), s.host.kind(), s.port);
        if let Some(p) = s.password {
            let _ = unescape(p);
        }
        if let Some(h) = s.headers {
            let _ = unescape(h);
        }
    }
    // The URI text parses again to the same URI.
    let text = u.as_str();
    if let Ok(again) = Uri::parse(text) {
        assert_eq!(&again, u, "URI reparse differs");
    }
}

/// Parses `text` as a URI and, when it parses, checks it.
pub fn check_uri(text: &str) {
    if let Ok(u) = Uri::parse(text) {
        touch_uri(&u);
        assert_eq!(u.as_str(), text, "a URI is its whole text");
        // A URI that parses is a valid Request-URI.
        let built = RequestBuilder::new(switchboard_proto::Method::Options, text)
            .via("UDP", "192.0.2.1", "z9hG4bKfuzz")
            .from("<sip:a@example.com>", "1")
            .to("<sip:b@example.com>", None)
            .call_id("fuzz")
            .cseq(1)
            .build();
        if let Err(e) = built {
            panic!("URI {text:?} parses but a request to it does not: {e}");
        }
    }
    // Wherever else a URI goes.
    let _ = NameAddr::parse_value(text);
    let _ = Contact::parse(text);
    let _ = Via::parse_value(text);
    let _ = CSeq::parse_value(text);
}

/// Pushes `pieces` into a framer one at a time, draining it after each,
/// parses every frame, and checks that the frames are consecutive pieces of
/// the input (the framer never invents or repeats bytes).
pub fn check_framer(pieces: &[&[u8]], max: usize) -> Vec<Frame> {
    let input: Vec<u8> = pieces.concat();
    let mut framer = StreamFramer::new(max);
    let mut frames = Vec::new();
    let mut pushed = 0usize;
    let mut cursor = 0usize; // how far into `input` the yielded frames reach
    'outer: for piece in pieces {
        framer.push(piece);
        pushed += piece.len();
        while let Some(next) = framer.next_frame() {
            let frame = match next {
                Ok(f) => f,
                Err(e) => {
                    // Errors are sticky.
                    let _ = e.to_string();
                    assert_eq!(
                        framer.next_frame(),
                        Some(Err(e)),
                        "framer error is not sticky"
                    );
                    break 'outer;
                }
            };
            // Bare LFs at the front of the buffer are dropped before
            // anything else is looked at.
            while input.get(cursor) == Some(&b'\n') {
                cursor += 1;
            }
            let expected: &[u8] = match &frame {
                Frame::Ping => b"\r\n\r\n",
                Frame::Pong => b"\r\n",
                Frame::Message(m) => {
                    assert!(
                        m.len() <= max,
                        "frame of {} octets over the limit {max}",
                        m.len()
                    );
                    if let Ok(msg) = Message::parse_stream(m.clone()) {
                        touch_message(&msg);
                        check_round_trip(&msg, Framing::Stream);
                    }
                    m
                }
            };
            let end = cursor + expected.len();
            assert!(
                end <= pushed,
                "framer yielded {end} octets of {pushed} pushed"
            );
            assert_eq!(
                input.get(cursor..end),
                Some(expected),
                "frame is not the next part of the input at {cursor}"
            );
            cursor = end;
            frames.push(frame);
        }
        // What is still buffered is the rest of the input, less skipped LFs.
        let rest = input.get(cursor..pushed).unwrap_or_default();
        let buffered = framer.buffered();
        assert!(
            buffered <= rest.len(),
            "framer holds {buffered} octets, only {} unread",
            rest.len()
        );
        let dropped = rest.len() - buffered;
        assert!(
            rest.iter().take(dropped).all(|b| *b == b'\n'),
            "framer dropped {dropped} octets that are not bare LFs"
        );
    }
    frames
}
