//! What a 2xx to an INVITE or UPDATE says of the session timer (RFC 4028
//! §8.2): the interval and who refreshes, reported to the application as
//! [`ProxyEvent::Session`](super::ProxyEvent::Session) so that a call
//! whose refreshes stop can be ended.

use switchboard_proto::header::{Refresher, SessionExpires};
use switchboard_proto::{HeaderName, Method, Request, Response};

use crate::session_policy::has_timer;

/// The session timer a 2xx to an INVITE or UPDATE set (or switched off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAnswer {
    /// The Call-ID (the caller's, on a carrier's translated leg).
    pub call_id: String,
    /// The request's From tag.
    pub from_tag: String,
    /// The 2xx's To tag.
    pub to_tag: Option<String>,
    /// The request was the initial INVITE (else a refresh in the dialog).
    pub initial: bool,
    /// The session interval in seconds; `None`: no session timer (the 2xx
    /// carries no Session-Expires).
    pub interval: Option<u32>,
    /// Who refreshes, relative to the request.
    pub refresher: Option<Refresher>,
}

impl SessionAnswer {
    /// The session timer of `response`, a 2xx to `request` (INVITE or
    /// UPDATE; `None` for other methods). When the UAS does not do session
    /// timers but the UAC does and the request asked for an interval, the
    /// UAC refreshes: `Session-Expires: N;refresher=uac` and `Require:
    /// timer` are added to the 2xx (§8.2).
    pub(crate) fn of(request: &Request, response: &mut Response) -> Option<Self> {
        if !matches!(request.method(), Method::Invite | Method::Update) {
            return None;
        }
        let asked = request
            .headers()
            .typed::<SessionExpires<'_>>()
            .and_then(Result::ok)
            .map(|s| s.delta);
        if response.headers().get(HeaderName::SessionExpires).is_none() {
            if let Some(delta) = asked.filter(|_| has_timer(request.headers())) {
                let headers = response.headers_mut();
                headers.push(HeaderName::SessionExpires, format!("{delta};refresher=uac"));
                headers.push(HeaderName::Require, "timer");
            }
        }
        let session = response
            .headers()
            .typed::<SessionExpires<'_>>()
            .and_then(Result::ok);
        Some(Self {
            call_id: request.headers().call_id()?.to_owned(),
            from_tag: request.headers().from_tag()?.to_owned(),
            to_tag: response.headers().to_tag().map(str::to_owned),
            initial: request.headers().to_tag().is_none(),
            interval: session.map(|s| s.delta),
            refresher: session.and_then(|s| s.refresher),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use switchboard_proto::{RequestBuilder, ResponseBuilder, StatusCode};

    use super::*;

    fn request(method: Method, lines: &[(HeaderName, &str)]) -> Request {
        let mut b = RequestBuilder::new(method, "sip:bob@example.com")
            .from("<sip:alice@example.com>", "a1")
            .to("<sip:bob@example.com>", None)
            .call_id("c1")
            .cseq(1)
            .header(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
        for (name, value) in lines {
            b = b.header(*name, *value);
        }
        b.build().unwrap()
    }

    fn ok(request: &Request, lines: &[(HeaderName, &str)]) -> Response {
        let mut b = ResponseBuilder::from_request(request, StatusCode::OK).to_tag("b1");
        for (name, value) in lines {
            b = b.header(*name, *value);
        }
        b.build().unwrap()
    }

    #[test]
    fn the_interval_and_refresher_come_from_the_2xx() {
        let invite = request(Method::Invite, &[(HeaderName::SessionExpires, "1800")]);
        let mut response = ok(
            &invite,
            &[(HeaderName::SessionExpires, "600;refresher=uas")],
        );
        let answer = SessionAnswer::of(&invite, &mut response).unwrap();
        assert_eq!(answer.interval, Some(600));
        assert_eq!(answer.refresher, Some(Refresher::Uas));
        assert!(answer.initial);
        assert_eq!(answer.to_tag.as_deref(), Some("b1"));
    }

    #[test]
    fn a_uas_without_timers_leaves_the_refresh_to_a_uac_that_has_them() {
        let timer = (HeaderName::Supported, "timer");
        let invite = request(
            Method::Invite,
            &[(HeaderName::SessionExpires, "900"), timer],
        );
        let mut response = ok(&invite, &[]);
        let answer = SessionAnswer::of(&invite, &mut response).unwrap();
        assert_eq!(
            (answer.interval, answer.refresher),
            (Some(900), Some(Refresher::Uac))
        );
        let h = response.headers();
        assert_eq!(h.get(HeaderName::SessionExpires), Some("900;refresher=uac"));
        assert_eq!(h.get(HeaderName::Require), Some("timer"));

        // Neither side does session timers: none.
        let invite = request(Method::Invite, &[(HeaderName::SessionExpires, "900")]);
        let mut response = ok(&invite, &[]);
        let answer = SessionAnswer::of(&invite, &mut response).unwrap();
        assert_eq!(answer.interval, None);
        assert_eq!(response.headers().get(HeaderName::Require), None);

        let info = request(Method::Info, &[]);
        assert_eq!(SessionAnswer::of(&info, &mut ok(&info, &[])), None);
    }
}
