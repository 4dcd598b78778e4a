//! A SIP response.

use bytes::Bytes;

use crate::StatusCode;
use crate::header::{Headers, Text};

/// A SIP response: status, reason phrase, headers and body.
#[derive(Debug, Clone)]
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) reason: Text,
    pub(crate) headers: Headers,
    pub(crate) body: Bytes,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase as received (may be empty).
    pub fn reason(&self) -> &str {
        self.reason.resolve(self.headers.buffer())
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to change them.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replaces the body, setting Content-Length and, when given,
    /// Content-Type.
    pub fn set_body(&mut self, content_type: Option<&str>, body: Bytes) {
        super::set_body(&mut self.headers, &mut self.body, content_type, body);
    }

    /// Prints the response into `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"SIP/2.0 ");
        let code = self.status.as_u16();
        out.extend_from_slice(&[
            b'0' + (code / 100 % 10) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ]);
        out.push(b' ');
        out.extend_from_slice(self.reason().as_bytes());
        out.extend_from_slice(b"\r\n");
        super::write_rest(&self.headers, &self.body, out);
    }

    /// Prints the response.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.headers.buffer().len() + self.body.len() + 64);
        self.write_to(&mut out);
        out.into()
    }
}

impl PartialEq for Response {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.reason() == other.reason()
            && self.headers == other.headers
            && self.body == other.body
    }
}

impl Eq for Response {}
