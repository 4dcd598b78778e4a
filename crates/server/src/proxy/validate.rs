//! Request validation (RFC 3261 §16.3): what the proxy refuses to forward
//! and the status it answers with.

use switchboard_proto::validate::{self, Policy, Role};
use switchboard_proto::{HeaderName, Request, StatusCode};

use super::config::ProxyConfig;
use super::loop_check::has_looped;

/// A request the proxy will not forward: the peer's fault, answered with
/// [`Rejection::status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// 416: the Request-URI scheme is not `sip`, `sips` or `tel`.
    #[error("unsupported URI scheme {0}")]
    UnsupportedScheme(String),
    /// 483: Max-Forwards is zero.
    #[error("too many hops")]
    TooManyHops,
    /// 482: the request came back to us unchanged.
    #[error("loop detected")]
    Loop,
    /// 420: Proxy-Require names extensions the proxy lacks.
    #[error("unsupported extensions: {}", .0.join(", "))]
    BadExtension(Vec<String>),
}

impl Rejection {
    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedScheme(_) => StatusCode::UNSUPPORTED_URI_SCHEME,
            Self::TooManyHops => StatusCode::TOO_MANY_HOPS,
            Self::Loop => StatusCode::LOOP_DETECTED,
            Self::BadExtension(_) => StatusCode::BAD_EXTENSION,
        }
    }

    /// Header lines the answer carries (`Unsupported` for 420).
    pub(crate) fn headers(&self) -> Vec<(HeaderName, String)> {
        match self {
            Self::BadExtension(tags) => vec![(HeaderName::Unsupported, tags.join(", "))],
            _ => Vec::new(),
        }
    }
}

/// The checks of §16.3 in their order: URI scheme, Max-Forwards, loop,
/// Proxy-Require. (Syntax was checked by the parser; Proxy-Authorization
/// is the application's.)
pub(crate) fn check(config: &ProxyConfig, request: &Request) -> Result<(), Rejection> {
    let extensions: Vec<&str> = config.extensions.iter().map(String::as_str).collect();
    let policy = Policy {
        schemes: &["sip", "sips", "tel"],
        extensions: &extensions,
        role: Role::Proxy,
    };
    let late = match validate::check_request(request, &policy) {
        Ok(()) => None,
        Err(validate::Rejection::UnsupportedScheme(s)) => {
            return Err(Rejection::UnsupportedScheme(s));
        }
        Err(validate::Rejection::TooManyHops) => return Err(Rejection::TooManyHops),
        Err(validate::Rejection::BadExtension(tags)) => Some(Rejection::BadExtension(tags)),
        Err(other) => {
            tracing::debug!(%other, "request refused by a check the proxy does not know");
            return Err(Rejection::BadExtension(Vec::new()));
        }
    };
    if has_looped(config, request) {
        return Err(Rejection::Loop);
    }
    late.map_or(Ok(()), Err)
}
