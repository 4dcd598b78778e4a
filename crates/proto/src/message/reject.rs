//! Answers to requests that could not be parsed.
//!
//! A server must answer a malformed request when it can (RFC 3261 §8.2.x,
//! §18.3), but a response needs the request's Via, From, To, Call-ID and
//! CSeq. This module copies those lines verbatim from the raw bytes, without
//! trusting the rest of the message, and builds the error response with a
//! `Warning` that says what was wrong.

use bytes::Bytes;

use crate::header::HeaderName;
use crate::{FramerError, ParseError, StatusCode};

/// Builds the response a server sends to the unparsable request `raw`, or
/// `None` when `raw` is a response (never answered) or lacks the headers a
/// response must copy (the request is then silently dropped).
///
/// `to_tag` is added to `To` when it has none (RFC 3261 §8.2.6.2); it should
/// come from the caller's RNG.
pub fn error_response(raw: &[u8], error: &ParseError, to_tag: &str) -> Option<Bytes> {
    answer(raw, error.status(), &error.to_string(), to_tag)
}

/// Builds the response a server sends before closing a connection whose
/// stream could not be framed (RFC 3261 §18.3: a bad or repeated
/// Content-Length, a message over the size limit). `raw` is what the framer
/// had not yet cut into messages ([`crate::StreamFramer::pending`]); the
/// rules are those of [`error_response`].
pub fn framing_error_response(raw: &[u8], error: &FramerError, to_tag: &str) -> Option<Bytes> {
    answer(raw, error.status(), &error.to_string(), to_tag)
}

/// The answer `status` to the request `raw`, its Warning saying `why`.
fn answer(raw: &[u8], status: StatusCode, why: &str, to_tag: &str) -> Option<Bytes> {
    let start = raw.iter().position(|b| !matches!(b, b'\r' | b'\n'))?;
    let raw = raw.get(start..)?;
    if raw
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        return None;
    }
    let head_end = memchr::memmem::find(raw, b"\r\n\r\n").unwrap_or(raw.len());
    let head = raw.get(..head_end)?;
    let mut lines = head.split(|b| *b == b'\n').skip(1).peekable();
    let mut copied: [Vec<Vec<u8>>; 5] = Default::default();
    const WANTED: [HeaderName; 5] = [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ];
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = std::str::from_utf8(line.get(..colon)?).ok()?.trim_end();
        let Some(slot) = WANTED
            .iter()
            .position(|w| *w == HeaderName::from_name(name))
            .and_then(|i| copied.get_mut(i))
        else {
            continue;
        };
        // Keep folded continuation lines with their header.
        let mut value = line.get(colon + 1..)?.to_vec();
        while let Some(next) = lines.peek() {
            if !next.starts_with(b" ") && !next.starts_with(b"\t") {
                break;
            }
            value.push(b' ');
            value.extend_from_slice(next.strip_suffix(b"\r").unwrap_or(next).trim_ascii());
            lines.next();
        }
        slot.push(value);
    }
    if copied.iter().any(Vec::is_empty) {
        return None;
    }
    let mut out = Vec::with_capacity(head.len() + 128);
    out.extend_from_slice(
        format!("SIP/2.0 {} {}\r\n", status, status.canonical_reason()).as_bytes(),
    );
    for (name, values) in WANTED.iter().zip(&copied) {
        for value in values {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b":");
            out.extend_from_slice(value);
            if *name == HeaderName::To && !has_tag(value) {
                out.extend_from_slice(b";tag=");
                out.extend_from_slice(to_tag.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    let warning = why.replace(['"', '\\'], "'");
    out.extend_from_slice(
        format!("Warning: 399 switchboard \"{warning}\"\r\nContent-Length: 0\r\n\r\n").as_bytes(),
    );
    Some(out.into())
}

fn has_tag(value: &[u8]) -> bool {
    value
        .windows(5)
        .any(|w| w.eq_ignore_ascii_case(b";tag=") || w.eq_ignore_ascii_case(b"; tag"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, StatusCode};

    #[test]
    fn answers_a_malformed_request_with_its_own_headers() {
        let raw = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContact: <sip:x>;;\r\n\
                    From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1\r\n INVITE\r\n\r\n";
        let err = Message::parse_datagram(raw.to_vec().into()).unwrap_err();
        let resp = error_response(raw, &err, "t1").unwrap();
        let resp = Message::parse_datagram(resp).unwrap();
        let resp = resp.as_response().unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(resp.headers().to_tag(), Some("t1"));
        assert_eq!(resp.headers().top_branch(), Some("z9hG4bK1"));
        assert_eq!(resp.headers().cseq().map(|c| c.seq), Some(1));
        assert!(
            resp.headers()
                .get(HeaderName::Warning)
                .unwrap()
                .contains("Contact")
        );
    }

    #[test]
    fn drops_what_cannot_be_answered() {
        let err = Message::parse_datagram(b"SIP/2.0 200 OK\r\n\r\n".to_vec().into()).unwrap_err();
        assert!(error_response(b"SIP/2.0 200 OK\r\n\r\n", &err, "t").is_none());
        assert!(error_response(b"INVITE sip:a SIP/2.0\r\nVia: x\r\n\r\n", &err, "t").is_none());
        assert!(error_response(b"", &err, "t").is_none());
    }
}
