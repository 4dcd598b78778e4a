//! Checks a server makes on a parsed request before handling it, with the
//! error status each failure calls for: 416 for an unsupported URI scheme
//! (RFC 3261 §8.2.2.1, §16.3), 420 for unsupported required extensions
//! (§8.2.2.3, §16.3), 483 when Max-Forwards is exhausted (§16.3).

use crate::header::HeaderName;
use crate::{Request, StatusCode};

/// The role the checking element plays, which decides which extension
/// header it must honour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A user agent server (registrar, redirect server, endpoint): `Require`.
    UserAgentServer,
    /// A proxy: `Proxy-Require`, and Max-Forwards must be above zero.
    Proxy,
}

/// What this element supports.
#[derive(Debug, Clone)]
pub struct Policy<'a> {
    /// URI schemes accepted in the Request-URI (lower-case).
    pub schemes: &'a [&'a str],
    /// Option tags understood (lower-case compare).
    pub extensions: &'a [&'a str],
    /// The element's role.
    pub role: Role,
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Self {
            schemes: &["sip", "sips", "tel"],
            extensions: &[],
            role: Role::UserAgentServer,
        }
    }
}

/// A request the element must reject, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// 416: the Request-URI scheme is not one the element serves.
    #[error("unsupported URI scheme {0}")]
    UnsupportedScheme(String),
    /// 420: option tags required but not supported; list them in
    /// `Unsupported`.
    #[error("unsupported extensions: {}", .0.join(", "))]
    BadExtension(Vec<String>),
    /// 483: Max-Forwards reached zero at a proxy.
    #[error("too many hops")]
    TooManyHops,
}

impl Rejection {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedScheme(_) => StatusCode::UNSUPPORTED_URI_SCHEME,
            Self::BadExtension(_) => StatusCode::BAD_EXTENSION,
            Self::TooManyHops => StatusCode::TOO_MANY_HOPS,
        }
    }
}

/// Runs the checks in the order RFC 3261 gives them.
pub fn check_request(req: &Request, policy: &Policy<'_>) -> Result<(), Rejection> {
    let uri = req.uri();
    let scheme = uri.scheme();
    if !policy
        .schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        return Err(Rejection::UnsupportedScheme(scheme.to_owned()));
    }
    if policy.role == Role::Proxy && req.headers().max_forwards() == Some(0) {
        return Err(Rejection::TooManyHops);
    }
    // CANCEL and ACK never carry Require checks (RFC 3261 §8.2.2.3).
    if matches!(req.method(), crate::Method::Ack | crate::Method::Cancel) {
        return Ok(());
    }
    let header = match policy.role {
        Role::UserAgentServer => HeaderName::Require,
        Role::Proxy => HeaderName::ProxyRequire,
    };
    let unsupported: Vec<String> = req
        .headers()
        .values(header)
        .filter(|t| !t.is_empty() && !policy.extensions.iter().any(|e| e.eq_ignore_ascii_case(t)))
        .map(str::to_owned)
        .collect();
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(Rejection::BadExtension(unsupported))
    }
}
