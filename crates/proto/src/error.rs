//! Why a message could not be parsed, and what a server answers to it.

use crate::StatusCode;
use crate::header::{HeaderError, HeaderName};
use crate::uri::UriError;

/// A message that could not be parsed: what was wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
}

/// The kinds of [`ParseError`]. All of them are the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Nothing but white space.
    #[error("empty message")]
    Empty,
    /// The header section is not valid UTF-8.
    #[error("header section is not UTF-8")]
    NotUtf8,
    /// No empty line ends the header section.
    #[error("header section not terminated by an empty line")]
    Unterminated,
    /// The request or status line is malformed.
    #[error("malformed start line")]
    StartLine,
    /// A SIP version other than 2.0.
    #[error("unsupported SIP version")]
    Version,
    /// The method is not a token.
    #[error("invalid method")]
    Method,
    /// The Request-URI is malformed.
    #[error("invalid Request-URI: {0}")]
    RequestUri(UriError),
    /// The status code is not three digits in 100..=699.
    #[error("invalid status code")]
    StatusCode,
    /// A header line has no `:` or an invalid name.
    #[error("malformed header line")]
    HeaderLine,
    /// A mandatory header is missing.
    #[error("missing {0} header")]
    MissingHeader(HeaderName),
    /// A header that may appear once appears several times.
    #[error("more than one {0} header")]
    DuplicateHeader(HeaderName),
    /// A header value is malformed.
    #[error("invalid {name} header: {error}")]
    InvalidHeader {
        /// The header.
        name: HeaderName,
        /// What was wrong with it.
        error: HeaderError,
    },
    /// The CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// Content-Length says more octets than the datagram holds.
    #[error("Content-Length exceeds the body")]
    BodyTruncated,
    /// The message is larger than the configured limit.
    #[error("message too large")]
    TooLarge,
}

impl ParseError {
    pub(crate) fn new(kind: ParseErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// The status a server sends back for a request that failed this way.
    /// Responses that fail to parse are dropped, never answered.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            ParseErrorKind::Version => StatusCode::VERSION_NOT_SUPPORTED,
            ParseErrorKind::TooLarge => StatusCode::REQUEST_ENTITY_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}
