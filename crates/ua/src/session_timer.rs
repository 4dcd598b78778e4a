//! Session timers (RFC 4028): the interval negotiated in each INVITE
//! transaction, who refreshes, and when a refresh (or the end of the
//! session) is due.

use std::time::{Duration, Instant};

use switchboard_proto::header::{Refresher, SessionExpires};
use switchboard_proto::{HeaderName, Headers};

/// The smallest interval RFC 4028 allows (Min-SE default, §4).
pub const MIN_SE: u32 = 90;

/// What is due when the timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// We are the refresher: send a re-INVITE.
    Refresh,
    /// The peer was to refresh and did not: the session is over (§10).
    Expire,
}

/// One dialog's session timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionTimer {
    /// The interval we ask for in our INVITEs (`None`: no session timer
    /// unless the peer asks).
    wanted: Option<u32>,
    /// The negotiated interval and whether we refresh.
    active: Option<(u32, bool)>,
    deadline: Option<Instant>,
    /// The Session-Expires value for the 2xx to an INVITE we received.
    answer: Option<String>,
}

fn has_timer(headers: &Headers, name: HeaderName) -> bool {
    headers
        .values(name)
        .any(|tag| tag.trim().eq_ignore_ascii_case("timer"))
}

impl SessionTimer {
    pub(crate) fn new(wanted: Option<u32>) -> Self {
        Self {
            wanted: wanted.map(|w| w.max(MIN_SE)),
            active: None,
            deadline: None,
            answer: None,
        }
    }

    /// The interval in force, and whether we refresh.
    pub(crate) fn active(&self) -> Option<(u32, bool)> {
        self.active
    }

    fn start(&mut self, now: Instant, interval: u32, we_refresh: bool) {
        self.active = Some((interval, we_refresh));
        let secs = u64::from(interval);
        let at = if we_refresh {
            secs / 2
        } else {
            // §10: BYE at the expiry minus the lesser of 32 s and a third.
            secs - (secs / 3).min(32)
        };
        self.deadline = Some(now + Duration::from_secs(at));
    }

    /// Headers of an INVITE (initial or re-INVITE) we send.
    pub(crate) fn request_headers(&self) -> Vec<(HeaderName, String)> {
        let mut out = vec![(HeaderName::Supported, "timer".to_owned())];
        let interval = self.active.map(|(i, _)| i).or(self.wanted);
        if let Some(interval) = interval {
            out.push((HeaderName::SessionExpires, interval.to_string()));
            out.push((HeaderName::MinSe, MIN_SE.to_string()));
        }
        out
    }

    /// A 2xx to an INVITE we sent (we are its UAC).
    pub(crate) fn on_response(&mut self, now: Instant, headers: &Headers) {
        match headers.typed::<SessionExpires<'_>>() {
            Some(Ok(se)) if se.delta > 0 => {
                // A response without refresher is not valid; take it as
                // the UAS refreshing (it decided on the interval).
                let we = se.refresher == Some(Refresher::Uac);
                self.start(now, se.delta, we);
            }
            _ => {
                // §7.2: no Session-Expires in the 2xx, no session timer.
                self.active = None;
                self.deadline = None;
            }
        }
    }

    /// A 422 to our INVITE: ask again for at least its Min-SE. `false`
    /// when that does not help (no Min-SE, or not above what we asked).
    pub(crate) fn on_too_small(&mut self, headers: &Headers) -> bool {
        let min = headers
            .get(HeaderName::MinSe)
            .and_then(|v| v.split(';').next())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let asked = self.active.map(|(i, _)| i).or(self.wanted).unwrap_or(0);
        match min {
            Some(min) if min > asked => {
                self.wanted = Some(min);
                if let Some((_, we)) = self.active {
                    self.active = Some((min, we));
                }
                true
            }
            _ => false,
        }
    }

    /// An INVITE we received (we are its UAS) and are about to accept:
    /// the session timer it asks for, started now; the 2xx then carries
    /// [`SessionTimer::response_headers`].
    pub(crate) fn on_request(&mut self, now: Instant, headers: &Headers) {
        self.answer = None;
        let Some(Ok(se)) = headers.typed::<SessionExpires<'_>>() else {
            self.active = None;
            self.deadline = None;
            return;
        };
        let interval = se.delta.max(MIN_SE);
        let uac_supports =
            has_timer(headers, HeaderName::Supported) || has_timer(headers, HeaderName::Require);
        // §9: the UAC's choice stands; without one, the UAC refreshes when
        // it supports the extension, else we do.
        let refresher = se.refresher.unwrap_or(if uac_supports {
            Refresher::Uac
        } else {
            Refresher::Uas
        });
        self.answer = Some(format!("{interval};refresher={refresher}"));
        self.start(now, interval, refresher == Refresher::Uas);
    }

    /// Headers for the 2xx to the INVITE given to
    /// [`SessionTimer::on_request`].
    pub(crate) fn response_headers(&self) -> Vec<(HeaderName, String)> {
        match &self.answer {
            Some(value) => {
                let mut out = vec![(HeaderName::SessionExpires, value.clone())];
                if value.ends_with("refresher=uac") {
                    out.push((HeaderName::Require, "timer".to_owned()));
                }
                out
            }
            None => Vec::new(),
        }
    }

    /// When the timer fires.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// What is due at `now`, if anything; the deadline is cleared (a
    /// refresh's 2xx or a peer's refresh sets the next one).
    pub(crate) fn take_due(&mut self, now: Instant) -> Option<Due> {
        let deadline = self.deadline?;
        if now < deadline {
            return None;
        }
        self.deadline = None;
        let (_, we_refresh) = self.active?;
        Some(if we_refresh {
            Due::Refresh
        } else {
            Due::Expire
        })
    }

    /// A refresh we sent failed for a reason that does not end the dialog:
    /// try again in a little while.
    pub(crate) fn retry(&mut self, now: Instant) {
        if self.active.is_some() {
            self.deadline = Some(now + Duration::from_secs(5));
        }
    }
}
