//! Builders for requests (RFC 3261 §8.1.1) and for responses made from a
//! request (§8.2.6, §12.1.1).
//!
//! A builder prints the message and parses it back, so whatever it returns
//! is exactly what a peer would parse, with Content-Length always right.

use bytes::Bytes;

use super::{Framing, Message, Request, Response};
use crate::header::HeaderName;
use crate::{Method, ParseError, StatusCode};

/// The message a builder was asked to make is not valid SIP: a fault of the
/// calling code, not of a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("built message is invalid: {0}")]
pub struct BuildError(pub ParseError);

#[derive(Debug, Clone)]
struct Line {
    name: HeaderName,
    raw_name: Option<String>,
    value: String,
}

impl Line {
    fn print_name(&self) -> &str {
        self.raw_name.as_deref().unwrap_or(self.name.as_str())
    }
}

/// Builds a request.
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    uri: String,
    lines: Vec<Line>,
    body: Bytes,
}

impl RequestBuilder {
    /// A request with this method and Request-URI.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Self {
            method,
            uri: uri.into(),
            lines: Vec::with_capacity(10),
            body: Bytes::new(),
        }
    }

    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.lines.push(Line {
            name,
            raw_name: None,
            value: value.into(),
        });
        self
    }

    /// Adds a header line with a name this crate does not know.
    pub fn header_other(mut self, name: &str, value: impl Into<String>) -> Self {
        self.lines.push(Line {
            name: HeaderName::from_name(name),
            raw_name: Some(name.to_owned()),
            value: value.into(),
        });
        self
    }

    /// Adds `Via: SIP/2.0/<transport> <sent_by>;branch=<branch>` (add
    /// `;rport` yourself through [`RequestBuilder::header`] if wanted).
    pub fn via(self, transport: &str, sent_by: &str, branch: &str) -> Self {
        self.header(
            HeaderName::Via,
            format!("SIP/2.0/{transport} {sent_by};branch={branch}"),
        )
    }

    /// Adds `From: <addr>;tag=<tag>`.
    pub fn from(self, addr: &str, tag: &str) -> Self {
        self.header(HeaderName::From, format!("{addr};tag={tag}"))
    }

    /// Adds `To: <addr>` (and `;tag=` when given, for in-dialog requests).
    pub fn to(self, addr: &str, tag: Option<&str>) -> Self {
        let value = match tag {
            Some(t) => format!("{addr};tag={t}"),
            None => addr.to_owned(),
        };
        self.header(HeaderName::To, value)
    }

    /// Adds `Call-ID`.
    pub fn call_id(self, id: &str) -> Self {
        self.header(HeaderName::CallId, id)
    }

    /// Adds `CSeq: <seq> <method>` with the request's method.
    pub fn cseq(self, seq: u32) -> Self {
        let value = format!("{seq} {}", self.method);
        self.header(HeaderName::CSeq, value)
    }

    /// Adds `Contact`.
    pub fn contact(self, addr: &str) -> Self {
        self.header(HeaderName::Contact, addr)
    }

    /// Sets the body and its Content-Type.
    pub fn body(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut b = self.header(HeaderName::ContentType, content_type);
        b.body = body.into();
        b
    }

    /// Prints and checks the request. Adds `Max-Forwards: 70` when missing
    /// and sets Content-Length. A request may be built without Via: the
    /// endpoint adds its own when it sends it.
    pub fn build(self) -> Result<Request, BuildError> {
        let mut out = Vec::with_capacity(
            self.method.as_str().len()
                + self.uri.len()
                + " SIP/2.0\r\nMax-Forwards: 70\r\n".len()
                + printed_len(&self.lines, &self.body),
        );
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.uri.as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        if !self.lines.iter().any(|l| l.name == HeaderName::MaxForwards) {
            out.extend_from_slice(b"Max-Forwards: 70\r\n");
        }
        finish(&mut out, &self.lines, &self.body);
        // Without a Via: the transaction layer adds it when it sends.
        match super::parse::parse_with(out.into(), Framing::Stream, false).map_err(BuildError)? {
            Message::Request(r) => Ok(r),
            Message::Response(_) => Err(BuildError(ParseError::new(
                crate::ParseErrorKind::StartLine,
                0,
            ))),
        }
    }
}

/// Builds a response to a request.
#[derive(Debug, Clone)]
pub struct ResponseBuilder {
    status: StatusCode,
    reason: Option<String>,
    lines: Vec<Line>,
    body: Bytes,
    /// The request's To already has a tag (read from its parsed headers, so
    /// that [`ResponseBuilder::to_tag`] does not parse the To value again).
    to_tagged: bool,
}

impl ResponseBuilder {
    /// A response to `req` (RFC 3261 §8.2.6.2): copies Via, From, To,
    /// Call-ID, CSeq and Timestamp, and Record-Route when the response can
    /// establish a dialog (§12.1.1).
    pub fn from_request(req: &Request, status: StatusCode) -> Self {
        let copies_record_route = matches!(
            req.method(),
            Method::Invite | Method::Subscribe | Method::Refer | Method::Notify
        ) && status.as_u16() > 100
            && status.as_u16() < 300;
        let mut lines = Vec::with_capacity(10);
        for f in req.headers().iter() {
            let keep = match f.name {
                HeaderName::Via
                | HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::Timestamp => true,
                HeaderName::RecordRoute => copies_record_route,
                _ => false,
            };
            if keep {
                lines.push(Line {
                    name: f.name,
                    raw_name: None,
                    value: f.value.to_owned(),
                });
            }
        }
        Self {
            status,
            reason: None,
            lines,
            body: Bytes::new(),
            to_tagged: req.headers().to_tag().is_some(),
        }
    }

    /// Adds `;tag=<tag>` to To unless it already has a tag.
    pub fn to_tag(mut self, tag: &str) -> Self {
        if self.to_tagged {
            return self;
        }
        if let Some(line) = self.lines.iter_mut().find(|l| l.name == HeaderName::To) {
            line.value.push_str(";tag=");
            line.value.push_str(tag);
            self.to_tagged = true;
        }
        self
    }

    /// Sets the reason phrase (default: the canonical one).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Adds a header line.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.lines.push(Line {
            name,
            raw_name: None,
            value: value.into(),
        });
        self
    }

    /// Adds a header line with a name this crate does not know.
    pub fn header_other(mut self, name: &str, value: impl Into<String>) -> Self {
        self.lines.push(Line {
            name: HeaderName::from_name(name),
            raw_name: Some(name.to_owned()),
            value: value.into(),
        });
        self
    }

    /// Sets the body and its Content-Type.
    pub fn body(self, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut b = self.header(HeaderName::ContentType, content_type);
        b.body = body.into();
        b
    }

    /// Prints and checks the response; sets Content-Length.
    pub fn build(self) -> Result<Response, BuildError> {
        let reason = self
            .reason
            .as_deref()
            .unwrap_or(self.status.canonical_reason());
        // Sized once: a 401 with its challenges is past any fixed guess.
        let mut out = Vec::with_capacity(
            "SIP/2.0 000 \r\n".len() + reason.len() + printed_len(&self.lines, &self.body),
        );
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        finish(&mut out, &self.lines, &self.body);
        match Message::parse(out.into(), Framing::Stream).map_err(BuildError)? {
            Message::Response(r) => Ok(r),
            Message::Request(_) => Err(BuildError(ParseError::new(
                crate::ParseErrorKind::StartLine,
                0,
            ))),
        }
    }
}

/// The bytes [`finish`] appends, at most.
fn printed_len(lines: &[Line], body: &Bytes) -> usize {
    let head: usize = lines
        .iter()
        .map(|l| l.print_name().len() + ": \r\n".len() + l.value.len())
        .sum();
    head + "Content-Length: 4294967295\r\n\r\n".len() + body.len()
}

fn finish(out: &mut Vec<u8>, lines: &[Line], body: &Bytes) {
    for line in lines.iter().filter(|l| l.name != HeaderName::ContentLength) {
        out.extend_from_slice(line.print_name().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(line.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}
