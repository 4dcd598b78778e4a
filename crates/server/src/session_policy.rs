//! Session timers as a proxy (RFC 4028 §8.1): what the server does to
//! the Session-Expires and Min-SE of an initial INVITE before it goes on,
//! so that every call it record-routes is refreshed at most
//! `session_expires` apart and a call whose parties vanished is noticed.

use switchboard_proto::header::{MinSe, SessionExpires};
use switchboard_proto::{HeaderName, Headers, Request};

/// The server's session timer policy (`[proxy] session_expires` and
/// `min_se`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionTimerPolicy {
    /// The longest session interval the server wants, in seconds: inserted
    /// into INVITEs without one, and the larger ones lowered to it. `None`:
    /// session timers off (requests pass untouched, no session is swept).
    pub session_expires: Option<u32>,
    /// The shortest session interval accepted, in seconds (Min-SE).
    pub min_se: u32,
}

impl Default for SessionTimerPolicy {
    fn default() -> Self {
        Self {
            session_expires: Some(1800),
            min_se: 90,
        }
    }
}

impl SessionTimerPolicy {
    /// A policy with these values (`session_expires` 0: off).
    #[must_use]
    pub fn new(session_expires: u32, min_se: u32) -> Self {
        Self {
            session_expires: (session_expires > 0).then_some(session_expires),
            min_se,
        }
    }
}

/// The INVITE's interval is below the server's Min-SE and its UAC
/// supports session timers: it gets 422 with this Min-SE (RFC 4028 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooSmall {
    pub(crate) min_se: u32,
}

impl SessionTimerPolicy {
    /// Applies the policy to an initial INVITE on its way: a UAC that
    /// supports the extension and asks for less than `min_se` is refused
    /// ([`TooSmall`]); one that does not cannot usefully be refused, so
    /// its interval is raised instead. A Min-SE below ours is raised; an
    /// INVITE without Session-Expires gets ours (a UAC without `Supported:
    /// timer` still works: the UAS refreshes, §8.1); a larger interval is
    /// lowered to ours, never below the request's Min-SE.
    pub(crate) fn apply(&self, request: &mut Request) -> Result<(), TooSmall> {
        let Some(wanted) = self.session_expires else {
            return Ok(());
        };
        let headers = request.headers();
        let their_min = match headers.typed::<MinSe<'_>>() {
            Some(Ok(min)) => Some(min.delta),
            Some(Err(_)) => return Ok(()), // malformed: the UAS answers 400
            None => None,
        };
        let min_se = their_min.map_or(self.min_se, |m| m.max(self.min_se));
        let interval = match headers.typed::<SessionExpires<'_>>() {
            Some(Err(_)) => return Ok(()),
            Some(Ok(asked)) if asked.delta < self.min_se => {
                if has_timer(headers) {
                    return Err(TooSmall {
                        min_se: self.min_se,
                    });
                }
                Some((min_se, asked.refresher))
            }
            Some(Ok(asked)) if asked.delta > wanted => Some((wanted.max(min_se), asked.refresher)),
            Some(Ok(asked)) if their_min.is_some_and(|m| m < self.min_se) => {
                Some((asked.delta.max(min_se), asked.refresher))
            }
            Some(Ok(_)) => None,
            None => Some((wanted.max(min_se), None)),
        };
        let Some((delta, refresher)) = interval else {
            return Ok(());
        };
        let value = match refresher {
            Some(refresher) => format!("{delta};refresher={refresher}"),
            None => delta.to_string(),
        };
        let headers = request.headers_mut();
        headers.set(HeaderName::SessionExpires, value);
        headers.set(HeaderName::MinSe, min_se.to_string());
        Ok(())
    }
}

/// Whether `Supported` lists the `timer` option tag.
pub(crate) fn has_timer(headers: &Headers) -> bool {
    headers
        .values(HeaderName::Supported)
        .any(|tag| tag.trim().eq_ignore_ascii_case("timer"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use switchboard_proto::{Method, RequestBuilder};

    use super::*;

    fn invite(lines: &[(HeaderName, &str)]) -> Request {
        let mut b = RequestBuilder::new(Method::Invite, "sip:bob@example.com")
            .from("<sip:alice@example.com>", "a1")
            .to("<sip:bob@example.com>", None)
            .call_id("c1")
            .cseq(1);
        for (name, value) in lines {
            b = b.header(*name, *value);
        }
        b.build().unwrap()
    }

    fn applied(lines: &[(HeaderName, &str)]) -> Result<(Option<String>, Option<String>), TooSmall> {
        let mut request = invite(lines);
        SessionTimerPolicy::new(1800, 120).apply(&mut request)?;
        let h = request.headers();
        Ok((
            h.get(HeaderName::SessionExpires).map(str::to_owned),
            h.get(HeaderName::MinSe).map(str::to_owned),
        ))
    }

    fn some(se: &str, min: &str) -> Result<(Option<String>, Option<String>), TooSmall> {
        Ok((Some(se.to_owned()), Some(min.to_owned())))
    }

    #[test]
    fn an_interval_too_small_is_refused_only_when_the_uac_supports_timers() {
        let small = (HeaderName::SessionExpires, "100");
        let timer = (HeaderName::Supported, "100rel, timer");
        assert_eq!(applied(&[small, timer]), Err(TooSmall { min_se: 120 }));
        assert_eq!(applied(&[small]), some("120", "120"), "raised instead");
    }

    #[test]
    fn ours_is_inserted_a_low_min_se_raised_a_long_interval_lowered() {
        assert_eq!(applied(&[]), some("1800", "120"));
        assert_eq!(
            applied(&[(HeaderName::MinSe, "600")]),
            some("1800", "600"),
            "their higher Min-SE kept"
        );
        assert_eq!(
            applied(&[
                (HeaderName::SessionExpires, "300;refresher=uac"),
                (HeaderName::MinSe, "90")
            ]),
            some("300;refresher=uac", "120")
        );
        assert_eq!(
            applied(&[(HeaderName::SessionExpires, "7200;refresher=uas")]),
            some("1800;refresher=uas", "120")
        );
        let fine = (HeaderName::SessionExpires, "600");
        assert_eq!(
            applied(&[fine]),
            Ok((Some("600".to_owned()), None)),
            "untouched"
        );
    }

    #[test]
    fn off_leaves_every_request_alone() {
        let mut request = invite(&[(HeaderName::SessionExpires, "10")]);
        let before = request.to_bytes();
        SessionTimerPolicy::new(0, 90).apply(&mut request).unwrap();
        assert_eq!(request.to_bytes(), before);
        let mut bare = invite(&[]);
        SessionTimerPolicy::new(0, 90).apply(&mut bare).unwrap();
        assert_eq!(bare.headers().get(HeaderName::SessionExpires), None);
    }
}
