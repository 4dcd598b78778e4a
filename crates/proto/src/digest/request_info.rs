//! The parts of a request that a client's digest covers.

/// The request a client is answering a challenge for: the inputs of HA2.
///
/// `uri` is the `digest-uri` sent in the credentials, normally the
/// Request-URI (RFC 3261 §22.4). `body` is only hashed with `qop=auth-int`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInfo<'r> {
    /// The request method, e.g. `"REGISTER"`.
    pub method: &'r str,
    /// The digest URI, e.g. `"sip:example.com"`.
    pub uri: &'r str,
    /// The message body as sent (empty when there is none).
    pub body: &'r [u8],
}

impl<'r> RequestInfo<'r> {
    /// A request without a body.
    #[must_use]
    pub const fn new(method: &'r str, uri: &'r str) -> Self {
        Self {
            method,
            uri,
            body: b"",
        }
    }

    /// The same request with `body`.
    #[must_use]
    pub const fn with_body(self, body: &'r [u8]) -> Self {
        Self { body, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder() {
        let r = RequestInfo::new("INVITE", "sip:bob@example.com").with_body(b"v=0");
        assert_eq!(r.method, "INVITE");
        assert_eq!(r.uri, "sip:bob@example.com");
        assert_eq!(r.body, b"v=0");
        assert!(RequestInfo::new("BYE", "sip:x").body.is_empty());
    }
}
