//! Requests and responses: the parsed form, printing and building.

mod builder;
mod parse;
mod reject;
mod request;
mod response;

pub use builder::{BuildError, RequestBuilder, ResponseBuilder};
pub use reject::{error_response, framing_error_response};
pub use request::Request;
pub use response::Response;

use bytes::Bytes;

use crate::ParseError;
use crate::header::Headers;

/// How the bytes given to the parser were framed, which decides how the body
/// is delimited (RFC 3261 §18.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One UDP datagram: a missing Content-Length means "the rest of the
    /// datagram"; octets beyond Content-Length are discarded; a
    /// Content-Length larger than the datagram is an error.
    Datagram,
    /// One message cut out of a stream by [`crate::StreamFramer`]: the body
    /// is exactly Content-Length octets (0 when absent).
    Stream,
}

/// A SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// Parses one message received in one datagram.
    pub fn parse_datagram(bytes: Bytes) -> Result<Self, ParseError> {
        parse::parse(bytes, Framing::Datagram)
    }

    /// Parses one message framed by [`crate::StreamFramer`].
    pub fn parse_stream(bytes: Bytes) -> Result<Self, ParseError> {
        parse::parse(bytes, Framing::Stream)
    }

    /// Parses with the given framing.
    pub fn parse(bytes: Bytes, framing: Framing) -> Result<Self, ParseError> {
        parse::parse(bytes, framing)
    }

    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Self::Request(r) => Some(r),
            Self::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Self::Response(r) => Some(r),
            Self::Request(_) => None,
        }
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Self::Request(r) => r.headers(),
            Self::Response(r) => r.headers(),
        }
    }

    /// The header fields, to change them.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Self::Request(r) => r.headers_mut(),
            Self::Response(r) => r.headers_mut(),
        }
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        match self {
            Self::Request(r) => r.body(),
            Self::Response(r) => r.body(),
        }
    }

    /// Prints the message into `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Self::Request(r) => r.write_to(out),
            Self::Response(r) => r.write_to(out),
        }
    }

    /// Prints the message.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.headers().buffer().len() + self.body().len() + 64);
        self.write_to(&mut out);
        out.into()
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Self::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Self {
        Self::Response(r)
    }
}

/// Writes headers, the empty line and the body.
fn write_rest(headers: &Headers, body: &Bytes, out: &mut Vec<u8>) {
    headers.write_to(out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Replaces the body and keeps Content-Length (and Content-Type) in step.
fn set_body(headers: &mut Headers, body_slot: &mut Bytes, content_type: Option<&str>, body: Bytes) {
    headers.set(crate::HeaderName::ContentLength, body.len().to_string());
    match content_type {
        Some(ct) => headers.set(crate::HeaderName::ContentType, ct),
        None if body.is_empty() => {
            headers.remove_all(crate::HeaderName::ContentType);
        }
        None => {}
    }
    *body_slot = body;
}
