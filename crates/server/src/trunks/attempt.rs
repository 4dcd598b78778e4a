//! What became of one request sent to a gateway: a call attempt the proxy
//! made, or one of the server's own OPTIONS probes.

/// The outcome of one request to a gateway, as far as its health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptResult {
    /// A response with this status code came back.
    Response(u16),
    /// The message could not be delivered (a flow closed, a send failed).
    TransportError,
    /// No TCP or TLS connection could be opened.
    ConnectFailed,
    /// The gateway's name did not resolve (RFC 3263 gave no target).
    DnsFailed,
    /// No final response in time (Timer B or F).
    Timeout,
}

impl AttemptResult {
    /// Whether this outcome proves the gateway alive. Any response does for
    /// a call attempt: a 503 or 408 to an INVITE may be about the callee
    /// or a route behind the gateway, and the proxy fails over on it
    /// anyway. An OPTIONS probe asks about the gateway itself, so there a
    /// 503 (out of service, overloaded) or a 408 (the gateway, or a proxy
    /// in front of it, found nothing answering) says it cannot take calls.
    #[must_use]
    pub fn proves_alive(self, probe: bool) -> bool {
        match self {
            Self::Response(408 | 503) => !probe,
            Self::Response(_) => true,
            Self::TransportError | Self::ConnectFailed | Self::DnsFailed | Self::Timeout => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AttemptResult;

    #[test]
    fn any_answer_is_alive_but_a_probe_refused_as_unavailable_is_not() {
        assert!(AttemptResult::Response(404).proves_alive(true));
        assert!(AttemptResult::Response(486).proves_alive(false));
        assert!(AttemptResult::Response(503).proves_alive(false));
        assert!(!AttemptResult::Response(503).proves_alive(true));
        assert!(!AttemptResult::Response(408).proves_alive(true));
        assert!(!AttemptResult::DnsFailed.proves_alive(false));
        assert!(!AttemptResult::ConnectFailed.proves_alive(false));
        assert!(!AttemptResult::Timeout.proves_alive(true));
    }
}
