//! The answered calls the server ends itself: a session interval that
//! passed without a refresh (RFC 4028 §10: the parties are gone and no
//! BYE came; the proxy acts at the expiry, the UAs' own BYE being due a
//! little earlier) and a call longer than its caller's group allows
//! (`[group_limits]`). Both end as the operator's hang-up does: a BYE to
//! each party, the record's hang-up side saying why.

use std::time::Duration;

use switchboard_core::{Now, TransactionLayer};

use super::Service;
use crate::call_timers::EndReason;
use crate::proxy::SessionAnswer;
use crate::storage::HangupSide;

impl Service {
    /// A 2xx to an INVITE or UPDATE passed: the session timer of an
    /// answered call starts or restarts (or stops, when a refresh's 2xx
    /// has no Session-Expires). Only for calls whose refreshes pass here
    /// (Record-Route on), and only with the policy on.
    pub(super) fn on_session_answer(&mut self, answer: &SessionAnswer) {
        if self.session_policy.session_expires.is_none() || !self.proxy.config().record_route {
            return;
        }
        if !self.calls.is_answered(&answer.call_id) {
            return; // an UPDATE in an early dialog: the 2xx to the INVITE decides
        }
        match answer.interval {
            Some(interval) if interval > 0 => {
                tracing::debug!(call_id = %answer.call_id, interval, refresher = ?answer.refresher, "session timer (re)started");
                self.timers.refreshed(
                    self.clock.instant(),
                    &answer.call_id,
                    Duration::from_secs(u64::from(interval)),
                    answer.refresher,
                );
            }
            _ if !answer.initial => self.timers.session_off(&answer.call_id),
            _ => {}
        }
    }

    /// `call_id` was answered: a caller in a group with a longest call
    /// (`[group_limits] max_call`) must hang up by then.
    pub(super) fn call_answered(&mut self, call_id: &str) {
        if self.timers.has_limit(call_id) {
            return; // another fork's 2xx, or a retransmission
        }
        let limit = self
            .records
            .open_record(call_id)
            .and_then(|record| record.caller_user.as_deref())
            .and_then(|user| user.split_once('@'))
            .and_then(|(name, domain)| {
                self.plan
                    .max_call(name, domain, self.users.groups(name, domain))
            });
        if let Some(limit) = limit {
            self.timers.limit(call_id, self.clock.instant() + limit);
        }
    }

    /// Ends the calls whose deadline passed.
    pub(super) fn call_deadlines(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        for (call_id, reason) in self.timers.expired(now.instant()) {
            let side = match reason {
                EndReason::SessionExpired => HangupSide::SessionExpired,
                EndReason::MaxDuration => HangupSide::MaxDuration,
            };
            if self.end_answered(now, ep, &call_id, side) {
                tracing::info!(call_id, reason = side.as_str(), "call ended by the server");
            } else {
                tracing::debug!(call_id, "deadline of a call no longer answered");
            }
        }
    }
}
