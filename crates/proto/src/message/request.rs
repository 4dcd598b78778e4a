//! A SIP request.

use bytes::Bytes;

use crate::Method;
use crate::header::{Headers, Text};
use crate::uri::{AbsoluteUri, Uri};

/// A SIP request: method, Request-URI, headers and body.
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) uri: Text,
    pub(crate) headers: Headers,
    pub(crate) body: Bytes,
}

impl Request {
    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The Request-URI as written.
    pub fn uri_str(&self) -> &str {
        self.uri.resolve(self.headers.buffer())
    }

    /// The Request-URI, parsed (it was checked when the request was made).
    pub fn uri(&self) -> Uri<'_> {
        let text = self.uri_str();
        Uri::parse(text).unwrap_or(Uri::Absolute(AbsoluteUri::opaque(text)))
    }

    /// Replaces the Request-URI (a proxy retargeting the request).
    pub fn set_uri(&mut self, uri: &Uri<'_>) {
        self.uri = Text::Owned(uri.as_str().into());
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

    /// Prints the request into `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.uri_str().as_bytes());
        out.extend_from_slice(b" SIP/2.0\r\n");
        super::write_rest(&self.headers, &self.body, out);
    }

    /// Prints the request.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.headers.buffer().len() + self.body.len() + 64);
        self.write_to(&mut out);
        out.into()
    }
}

impl PartialEq for Request {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method
            && self.uri_str() == other.uri_str()
            && self.headers == other.headers
            && self.body == other.body
    }
}

impl Eq for Request {}
