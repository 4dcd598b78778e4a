//! The operator's view of the calls in progress and their hang-up
//! (`GET` and `DELETE /api/v1/calls`): the call book says where each call
//! stands and what its dialog is, the call records add the caller's user,
//! the rule and the trunk.

use switchboard_core::{Now, TransactionLayer};
use switchboard_proto::HeaderName;
use switchboard_proto::header::NameAddr;

use super::Service;
use crate::LiveCall;
use crate::hangup::{DialogBye, Hangup};
use crate::storage::HangupSide;

/// What the server did to end a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HangupAction {
    /// It sent a BYE to both parties of the answered call.
    Bye,
    /// It cancelled the ringing call; the caller gets 487.
    Cancel,
}

/// Why a call was not hung up: the operator named no call in progress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HangupError {
    /// No call in progress has this Call-ID.
    #[error("no call in progress has Call-ID {0:?}")]
    UnknownCall(String),
}

impl Service {
    /// The calls in progress at `now`, oldest first.
    pub fn live_calls(&self, now: Now) -> Vec<LiveCall> {
        let mut calls = self.calls.live(now);
        for call in &mut calls {
            if let Some(record) = self.records.open_record(&call.call_id) {
                call.caller_user.clone_from(&record.caller_user);
                call.rule.clone_from(&record.rule);
                call.trunk.clone_from(&record.trunk);
            }
            call.media = self.live_media(&call.call_id);
        }
        calls
    }

    /// Ends the call `call_id` for the operator: a BYE to each party of
    /// an answered call (the proxy record-routes it, so the parties'
    /// later requests would pass here too), the proxy's CANCEL of its
    /// branches for one ringing. The record's hang-up side is the server.
    ///
    /// # Errors
    /// [`HangupError::UnknownCall`] when no call in progress has that
    /// Call-ID.
    pub fn hang_up(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        call_id: &str,
    ) -> Result<HangupAction, HangupError> {
        self.clock = now;
        let action = match self.call_hangup(call_id) {
            None => return Err(HangupError::UnknownCall(call_id.to_owned())),
            Some(Hangup::Cancel) => {
                let Some(invite) = self.proxy.ringing_invite(call_id) else {
                    return Err(HangupError::UnknownCall(call_id.to_owned()));
                };
                tracing::info!(call_id, "call cancelled by the operator");
                self.records.ended_by_server(call_id);
                self.proxy.on_cancelled(now.instant(), ep, invite);
                HangupAction::Cancel
            }
            Some(Hangup::Bye {
                to_caller,
                to_callee,
            }) => {
                tracing::info!(call_id, "call ended by the operator");
                self.send_byes(
                    now,
                    ep,
                    call_id,
                    [*to_caller, *to_callee],
                    HangupSide::Server,
                );
                HangupAction::Bye
            }
        };
        self.drain_proxy(ep);
        Ok(action)
    }

    /// Ends the answered call `call_id` for `side` (a deadline passed):
    /// a BYE to both parties; `false` when it is not answered (or the
    /// proxy never learnt where its parties are).
    pub(super) fn end_answered(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        call_id: &str,
        side: HangupSide,
    ) -> bool {
        let Some(Hangup::Bye {
            to_caller,
            to_callee,
        }) = self.call_hangup(call_id)
        else {
            return false;
        };
        self.send_byes(now, ep, call_id, [*to_caller, *to_callee], side);
        true
    }

    /// How the server ends `call_id` (BYEs or CANCEL), when in progress.
    fn call_hangup(&self, call_id: &str) -> Option<Hangup> {
        let config = self.proxy.config();
        let is_ours =
            |value: &str| NameAddr::parse_value(value).is_ok_and(|a| config.is_local(&a.uri));
        self.calls.hangup(call_id, is_ours)
    }

    /// Sends `byes` (to the caller, then to the callee) in the parties'
    /// place, records the end as the server's (`side` says why), and ends
    /// the call in the book as the caller's BYE would.
    fn send_byes(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        call_id: &str,
        byes: [DialogBye; 2],
        side: HangupSide,
    ) {
        self.records.ended_by(call_id, side);
        self.counters.ended_by_server(side);
        self.timers.forget(call_id);
        for (bye, to_callee) in byes.into_iter().zip([false, true]) {
            let mut request = match bye.request() {
                Ok(request) => request,
                Err(error) => {
                    tracing::warn!(call_id, %error, "the server's BYE cannot be built");
                    continue;
                }
            };
            if let Some(reason) = reason_of(side) {
                request.headers_mut().set(HeaderName::Reason, reason);
            }
            if to_callee {
                self.proxy.to_carrier_leg(now.instant(), &mut request);
            }
            if let Err(error) = ep.send_request(now.instant(), request, bye.destination) {
                tracing::warn!(call_id, %error, "the server's BYE not sent");
            }
        }
        if let Some(update) = self.calls.bye_update(call_id) {
            self.on_call_update(ep, update);
        }
    }
}

/// The Reason of a BYE the server sends for `side` (`None`: the
/// operator's, which the BYE has already).
fn reason_of(side: HangupSide) -> Option<&'static str> {
    match side {
        HangupSide::SessionExpired => Some("SIP;cause=200;text=\"Session timer expired\""),
        HangupSide::MaxDuration => Some("SIP;cause=200;text=\"Maximum call duration reached\""),
        HangupSide::MediaTimeout => Some("SIP;cause=200;text=\"Media timeout\""),
        HangupSide::RelayLost => Some("SIP;cause=200;text=\"Media relay restarted\""),
        _ => None,
    }
}
