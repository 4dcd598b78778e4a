//! Cuts SIP messages out of a byte stream (TCP, TLS): RFC 3261 §18.3
//! framing by Content-Length, and the RFC 5626 §4.4.1 CRLF keep-alives.
//!
//! ```
//! use switchboard_proto::{Frame, StreamFramer};
//!
//! let mut framer = StreamFramer::new(64 * 1024);
//! framer.push(b"\r\n\r\nOPTIONS sip:a SIP/2.0\r\nContent-Length: 2\r\n\r\nhi");
//! assert_eq!(framer.next_frame(), Some(Ok(Frame::Ping)));
//! assert!(matches!(framer.next_frame(), Some(Ok(Frame::Message(m))) if m.ends_with(b"hi")));
//! assert_eq!(framer.next_frame(), None);
//! ```

use bytes::{Bytes, BytesMut};
use memchr::memmem;

/// What the framer found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One whole message (headers and exactly Content-Length body octets),
    /// ready for [`crate::Message::parse_stream`].
    Message(Bytes),
    /// A double-CRLF keep-alive ping: answer with a single CRLF.
    Ping,
    /// A single-CRLF keep-alive pong.
    Pong,
}

/// The stream cannot be framed any further: the connection must be closed
/// (after a 413 or 400 where the caller can still send one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramerError {
    /// No end of headers within the size limit.
    #[error("header section larger than {limit} octets")]
    HeadersTooLarge {
        /// The limit.
        limit: usize,
    },
    /// Headers plus Content-Length exceed the limit.
    #[error("message of {size} octets exceeds the limit of {limit}")]
    MessageTooLarge {
        /// Header section plus declared body.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Content-Length is not a number, negative, or given twice.
    #[error("invalid Content-Length")]
    BadContentLength,
}

impl FramerError {
    /// The status a server answers with before closing the connection:
    /// 413 for a message over the limit, 400 for a bad Content-Length.
    pub fn status(&self) -> crate::StatusCode {
        match self {
            Self::HeadersTooLarge { .. } | Self::MessageTooLarge { .. } => {
                crate::StatusCode::REQUEST_ENTITY_TOO_LARGE
            }
            Self::BadContentLength => crate::StatusCode::BAD_REQUEST,
        }
    }
}

/// Accumulates stream bytes and yields whole messages.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    max_message: usize,
    /// Where to resume the search for the end of headers.
    scanned: usize,
    failed: Option<FramerError>,
}

impl StreamFramer {
    /// A framer that refuses messages larger than `max_message` octets.
    pub fn new(max_message: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_message,
            scanned: 0,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Octets buffered but not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The octets buffered but not yet returned: after an error, the
    /// message that could not be framed (and whatever followed it), from
    /// which [`crate::framing_error_response`] builds the answer.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// The next frame, `None` when more bytes are needed. After an error
    /// every call returns the same error.
    pub fn next_frame(&mut self) -> Option<Result<Frame, FramerError>> {
        if let Some(e) = self.failed {
            return Some(Err(e));
        }
        let result = self.frame();
        if let Some(Err(e)) = result {
            self.failed = Some(e);
        }
        result
    }

    fn frame(&mut self) -> Option<Result<Frame, FramerError>> {
        if self.buf.starts_with(b"\r\n") {
            self.scanned = 0;
            if self.buf.starts_with(b"\r\n\r\n") {
                let _ = self.buf.split_to(4);
                return Some(Ok(Frame::Ping));
            }
            if self.buf.len() == 2 || self.buf.get(2) != Some(&b'\r') {
                let _ = self.buf.split_to(2);
                return Some(Ok(Frame::Pong));
            }
            // "\r\n\r" : wait for the rest of a ping.
            return None;
        }
        while self.buf.first() == Some(&b'\n') {
            let _ = self.buf.split_to(1);
        }
        let from = self.scanned.saturating_sub(3);
        let Some(end) = self
            .buf
            .get(from..)
            .and_then(|tail| memmem::find(tail, b"\r\n\r\n"))
            .map(|i| from + i + 4)
        else {
            self.scanned = self.buf.len();
            if self.buf.len() > self.max_message {
                return Some(Err(FramerError::HeadersTooLarge {
                    limit: self.max_message,
                }));
            }
            return None;
        };
        let head = self.buf.get(..end).unwrap_or_default();
        let content_length = match content_length(head) {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        let size = end.saturating_add(content_length);
        if size > self.max_message {
            return Some(Err(FramerError::MessageTooLarge {
                size,
                limit: self.max_message,
            }));
        }
        if self.buf.len() < size {
            return None;
        }
        self.scanned = 0;
        Some(Ok(Frame::Message(self.buf.split_to(size).freeze())))
    }
}

/// Finds Content-Length (or `l`) in a header block; 0 when absent.
fn content_length(head: &[u8]) -> Result<usize, FramerError> {
    let mut found: Option<usize> = None;
    for line in head.split(|b| *b == b'\n').skip(1) {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = line.get(..colon).unwrap_or_default();
        let name = name.trim_ascii_end();
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = line.get(colon + 1..).unwrap_or_default().trim_ascii();
        if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
            return Err(FramerError::BadContentLength);
        }
        let n = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or(FramerError::BadContentLength)?;
        if found.replace(n).is_some() {
            return Err(FramerError::BadContentLength);
        }
    }
    Ok(found.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MESSAGE sip:a SIP/2.0\r\nl: 5\r\nX: y\r\n\r\nhello";

    #[test]
    fn frames_byte_by_byte() {
        let mut f = StreamFramer::new(1024);
        let mut frames = Vec::new();
        let stream = [MSG, MSG].concat();
        for b in &stream {
            f.push(std::slice::from_ref(b));
            while let Some(fr) = f.next_frame() {
                frames.push(fr.unwrap());
            }
        }
        assert_eq!(frames, vec![Frame::Message(Bytes::from_static(MSG)); 2]);
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn keepalives() {
        let mut f = StreamFramer::new(1024);
        f.push(b"\r\n\r\n\r\n");
        assert_eq!(f.next_frame(), Some(Ok(Frame::Ping)));
        assert_eq!(f.next_frame(), Some(Ok(Frame::Pong)));
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn limits_and_bad_lengths() {
        let mut f = StreamFramer::new(40);
        f.push(MSG);
        assert!(matches!(
            f.next_frame(),
            Some(Err(FramerError::MessageTooLarge { .. }))
        ));
        let mut f = StreamFramer::new(16);
        f.push(b"INVITE sip:a SIP/2.0\r\nVia: x");
        assert!(matches!(
            f.next_frame(),
            Some(Err(FramerError::HeadersTooLarge { .. }))
        ));
        for bad in [
            &b"A sip:a SIP/2.0\r\nContent-Length: -999\r\n\r\n"[..],
            b"A sip:a SIP/2.0\r\nl: 1\r\nContent-Length: 1\r\n\r\nx",
        ] {
            let mut f = StreamFramer::new(1024);
            f.push(bad);
            assert_eq!(f.next_frame(), Some(Err(FramerError::BadContentLength)));
            assert_eq!(f.next_frame(), Some(Err(FramerError::BadContentLength)));
            assert_eq!(f.pending(), bad, "the unframed message is kept");
        }
    }
}
