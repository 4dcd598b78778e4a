//! The operator's view of the calls in progress and their hang-up
//! (`GET` and `DELETE /api/v1/calls`): the call book says where each call
//! stands and what its dialog is, the call records add the caller's user,
//! the rule and the trunk.

use switchboard_core::{Now, TransactionLayer};
use switchboard_proto::header::NameAddr;

use super::Service;
use crate::LiveCall;
use crate::hangup::Hangup;

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
        let config = self.proxy.config();
        let is_ours =
            |value: &str| NameAddr::parse_value(value).is_ok_and(|a| config.is_local(&a.uri));
        let Some(hangup) = self.calls.hangup(call_id, is_ours) else {
            return Err(HangupError::UnknownCall(call_id.to_owned()));
        };
        let action = match hangup {
            Hangup::Cancel => {
                let Some(invite) = self.proxy.ringing_invite(call_id) else {
                    return Err(HangupError::UnknownCall(call_id.to_owned()));
                };
                tracing::info!(call_id, "call cancelled by the operator");
                self.records.ended_by_server(call_id);
                self.proxy.on_cancelled(now.instant(), ep, invite);
                HangupAction::Cancel
            }
            Hangup::Bye {
                to_caller,
                to_callee,
            } => {
                tracing::info!(call_id, "call ended by the operator");
                self.records.ended_by_server(call_id);
                for (bye, to_callee) in [(to_caller, false), (to_callee, true)] {
                    let mut request = match bye.request() {
                        Ok(request) => request,
                        Err(error) => {
                            tracing::warn!(call_id, %error, "the operator's BYE cannot be built");
                            continue;
                        }
                    };
                    if to_callee {
                        self.proxy.to_carrier_leg(now.instant(), &mut request);
                    }
                    if let Err(error) = ep.send_request(now.instant(), request, bye.destination) {
                        tracing::warn!(call_id, %error, "the operator's BYE not sent");
                    }
                }
                if let Some(update) = self.calls.bye_update(call_id) {
                    self.on_call_update(ep, update);
                }
                HangupAction::Bye
            }
        };
        self.drain_proxy(ep);
        Ok(action)
    }
}
