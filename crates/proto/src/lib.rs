//! The SIP message core of Switchboard: message model, parser, printer,
//! stream framer, SDP and digest math.
//!
//! This crate does no I/O, reads no clock and takes no randomness: it turns
//! bytes into messages and messages into bytes. Parsing never panics; every
//! malformed input yields a [`ParseError`] that says what was wrong, where,
//! and which status ([`ParseError::status`]) a server should answer.
//!
//! A parsed [`Message`] keeps the received bytes in one shared buffer: header
//! values are slices of it, the hot headers are parsed once, the others are
//! parsed on demand into typed values ([`header`]).
//!
//! ```
//! use switchboard_proto::{Message, Method};
//!
//! let raw = "OPTIONS sip:example.com SIP/2.0\r\n\
//!            Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
//!            From: <sip:a@example.com>;tag=1\r\nTo: <sip:example.com>\r\n\
//!            Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n";
//! let msg = Message::parse_datagram(raw.as_bytes().to_vec().into()).unwrap();
//! let req = msg.as_request().unwrap();
//! assert_eq!(req.method(), &Method::Options);
//! assert_eq!(req.headers().top_branch(), Some("z9hG4bK1"));
//! ```
#![forbid(unsafe_code)]

pub mod digest;
mod error;
pub mod framer;
pub mod header;
mod message;
mod method;
mod params;
pub mod sdp;
mod status;
mod text;
pub mod uri;
pub mod validate;

pub use error::{ParseError, ParseErrorKind};
pub use framer::{Frame, FramerError, StreamFramer};
pub use header::{HeaderName, Headers};
pub use message::{
    BuildError, Framing, Message, Request, RequestBuilder, Response, ResponseBuilder,
    error_response, framing_error_response,
};
pub use method::Method;
pub use params::{Param, ParamIter, Params};
pub use status::StatusCode;
pub use text::unescape;
pub use uri::{Host, SipUri, Uri};

/// Removes the quotes and backslash escapes of a quoted string.
pub fn unquote(s: &str) -> std::borrow::Cow<'_, str> {
    text::unquote(s)
}
