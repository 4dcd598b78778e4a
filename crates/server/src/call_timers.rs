//! The deadlines of answered calls that the server itself ends: the
//! session interval (RFC 4028 §10: a call not refreshed in time is dead,
//! its parties gone without a BYE) and a group's longest call.
//!
//! Keyed by Call-ID; the deadlines sit in one ordered index, so the next
//! one is found without a walk over every call.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use switchboard_proto::header::Refresher;

/// Why the server ends a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum EndReason {
    /// The session interval passed without a refresh.
    SessionExpired,
    /// The call lasted longer than its caller's group allows.
    MaxDuration,
}

/// One call's deadlines.
#[derive(Debug, Default)]
struct Deadlines {
    /// When the session expires, and who refreshes (for the logs).
    session: Option<(Instant, Option<Refresher>)>,
    /// When the call has lasted too long.
    limit: Option<Instant>,
}

/// The answered calls with a deadline.
#[derive(Debug, Default)]
pub(crate) struct CallTimers {
    calls: HashMap<String, Deadlines>,
    index: BTreeSet<(Instant, EndReason, String)>,
}

impl CallTimers {
    /// The session of `call_id` was set or refreshed at `at` with
    /// `interval`: it expires then unless refreshed again.
    pub(crate) fn refreshed(
        &mut self,
        at: Instant,
        call_id: &str,
        interval: Duration,
        refresher: Option<Refresher>,
    ) {
        let deadlines = self.calls.entry(call_id.to_owned()).or_default();
        if let Some((old, _)) = deadlines.session.take() {
            self.index
                .remove(&(old, EndReason::SessionExpired, call_id.to_owned()));
        }
        let expiry = at + interval;
        deadlines.session = Some((expiry, refresher));
        self.index
            .insert((expiry, EndReason::SessionExpired, call_id.to_owned()));
    }

    /// A refresh of `call_id` switched its session timer off (its 2xx has
    /// no Session-Expires).
    pub(crate) fn session_off(&mut self, call_id: &str) {
        let Some(deadlines) = self.calls.get_mut(call_id) else {
            return;
        };
        if let Some((old, _)) = deadlines.session.take() {
            self.index
                .remove(&(old, EndReason::SessionExpired, call_id.to_owned()));
        }
        if deadlines.limit.is_none() {
            self.calls.remove(call_id);
        }
    }

    /// `call_id` must end by `until`.
    pub(crate) fn limit(&mut self, call_id: &str, until: Instant) {
        let deadlines = self.calls.entry(call_id.to_owned()).or_default();
        if let Some(old) = deadlines.limit.replace(until) {
            self.index
                .remove(&(old, EndReason::MaxDuration, call_id.to_owned()));
        }
        self.index
            .insert((until, EndReason::MaxDuration, call_id.to_owned()));
    }

    /// Whether `call_id` has a longest-call deadline.
    pub(crate) fn has_limit(&self, call_id: &str) -> bool {
        self.calls.get(call_id).is_some_and(|d| d.limit.is_some())
    }

    /// `call_id` ended: no deadline any more.
    pub(crate) fn forget(&mut self, call_id: &str) {
        let Some(deadlines) = self.calls.remove(call_id) else {
            return;
        };
        if let Some((at, _)) = deadlines.session {
            self.index
                .remove(&(at, EndReason::SessionExpired, call_id.to_owned()));
        }
        if let Some(at) = deadlines.limit {
            self.index
                .remove(&(at, EndReason::MaxDuration, call_id.to_owned()));
        }
    }

    /// The next deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.index.first().map(|(at, _, _)| *at)
    }

    /// The calls whose deadline is `at` or earlier, and why; they are
    /// forgotten.
    pub(crate) fn expired(&mut self, at: Instant) -> Vec<(String, EndReason)> {
        let mut due = Vec::new();
        while let Some((when, reason, call_id)) = self.index.first().cloned() {
            if when > at {
                break;
            }
            self.forget(&call_id);
            due.push((call_id, reason));
        }
        due
    }

    /// Calls with a deadline.
    pub(crate) fn len(&self) -> usize {
        self.calls.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_moves_the_expiry_and_the_first_deadline_wins() {
        let t0 = Instant::now();
        let mut timers = CallTimers::default();
        let minute = Duration::from_secs(60);
        timers.refreshed(t0, "a", minute, Some(Refresher::Uac));
        timers.limit("a", t0 + 10 * minute);
        timers.refreshed(t0, "b", 2 * minute, None);
        assert_eq!(timers.poll_timeout(), Some(t0 + minute));
        timers.refreshed(t0 + Duration::from_secs(30), "a", minute, None);
        assert_eq!(timers.poll_timeout(), Some(t0 + Duration::from_secs(90)));
        assert!(timers.expired(t0 + Duration::from_secs(89)).is_empty());
        assert_eq!(
            timers.expired(t0 + 2 * minute),
            [
                ("a".to_owned(), EndReason::SessionExpired),
                ("b".to_owned(), EndReason::SessionExpired)
            ]
        );
        assert_eq!(timers.len(), 0, "the limit of a went with it");
        assert_eq!(timers.poll_timeout(), None);
    }

    #[test]
    fn a_call_that_ended_or_dropped_its_timer_is_not_due() {
        let t0 = Instant::now();
        let mut timers = CallTimers::default();
        timers.refreshed(t0, "a", Duration::from_secs(60), None);
        timers.limit("b", t0 + Duration::from_secs(30));
        timers.refreshed(t0, "b", Duration::from_secs(90), None);
        timers.session_off("a");
        timers.session_off("b");
        assert_eq!(
            timers.expired(t0 + Duration::from_secs(600)),
            [("b".to_owned(), EndReason::MaxDuration)]
        );
        timers.limit("c", t0);
        timers.forget("c");
        assert_eq!(timers.poll_timeout(), None);
    }
}
