//! The dialog records of the calls in progress: written to the store when
//! a record-routed call is answered, removed when it ends (its BYE passed,
//! the operator hung it up, or it was forgotten idle), and taken back at
//! start, so that after a restart (even a kill -9) the call's in-dialog
//! requests still pass without a challenge, `GET /api/v1/calls` lists it,
//! the operator can hang it up, a carrier's BYE still maps to the caller's
//! Call-ID, and the BYE completes the call's record.

use std::sync::Arc;

use switchboard_proto::Method;

use crate::cdr::{instant_of_unix_ms, unix_ms};
use crate::proxy::{CallEnd, CallPhase, CallUpdate};
use crate::storage::{DialogRecord, StateChange};

use super::Service;
use super::contacts::{hop_of, via_source};

/// A call whose record is in the store (or on its way there).
#[derive(Debug)]
pub(super) struct KeptDialog {
    /// The record's id.
    id: String,
    /// Versions of the record put: one at the answer (or the stored one
    /// of a call taken back), one more for each later request in the
    /// dialog.
    puts: u32,
}

impl Service {
    /// The Call-ID of an update that may start or end a kept dialog.
    pub(super) fn dialog_change(update: &CallUpdate) -> Option<String> {
        matches!(
            update.state,
            CallPhase::Confirmed | CallPhase::Terminated(CallEnd::Bye)
        )
        .then(|| update.call_id.clone())
    }

    /// After a call update of `call_id` (the call book already has it): an
    /// answered call gets its record, one whose BYE passed loses it.
    ///
    /// The record goes with the next batch of call records, through the
    /// same group commit as the rest. The 2xx is relayed without waiting
    /// for it: the call exists whether or not the record is durable (the
    /// parties have their dialog), and nothing is promised on it; a crash
    /// before the write loses only what a server without records would.
    pub(super) fn keep_dialog(&mut self, call_id: &str) {
        if !self.proxy.config().record_route {
            return; // the dialog's requests never pass here
        }
        let up = self.calls.is_up(call_id);
        match self.kept_dialogs.get(call_id) {
            None if up => self.put_dialog(call_id),
            Some(_) if !up => self.drop_dialog(call_id),
            _ => {}
        }
    }

    /// A request in the dialog of `call_id` (the caller's Call-ID) passed:
    /// the call whose record must be written again ([`Service::put_dialog`])
    /// with the CSeq numbers it raised (a hang-up after a restart numbers
    /// its BYEs above them) and the time of this activity (the idle limit
    /// at load). Not for its BYE, which ends it.
    pub(super) fn dialog_request_seen(&self, call_id: &str, method: &Method) -> Option<String> {
        (method != &Method::Bye && self.kept_dialogs.contains_key(call_id))
            .then(|| call_id.to_owned())
    }

    /// Writes the record of the call `call_id` (again).
    pub(super) fn put_dialog(&mut self, call_id: &str) {
        let Some(record) = self.dialog_record(call_id) else {
            return;
        };
        let kept = self
            .kept_dialogs
            .entry(self.shared_call_id(call_id))
            .or_insert_with(|| KeptDialog {
                id: record.id.clone(),
                puts: 0,
            });
        kept.puts = kept.puts.saturating_add(1);
        self.queue_record(StateChange::PutDialog(Box::new(record)));
    }

    /// The record of the answered call `call_id`: the call book's dialog,
    /// the dial plan's part from its call record, the carrier's names from
    /// the proxy.
    fn dialog_record(&self, call_id: &str) -> Option<DialogRecord> {
        let mut record = self.calls.dialog_record(call_id, self.clock)?;
        if let Some(open) = self.records.open_record(call_id) {
            record.caller_user.clone_from(&open.caller_user);
            record.routed_number.clone_from(&open.routed_number);
            record.rule.clone_from(&open.rule);
            record.target.clone_from(&open.target);
            record.trunk.clone_from(&open.trunk);
            record.gateway.clone_from(&open.gateway);
        }
        record.carrier_leg =
            self.proxy
                .carrier_leg(call_id, &record.caller.tag, &record.callee.tag);
        record.relayed = self.is_relayed(call_id);
        record.relay_sdp = self.media.as_ref().and_then(|m| m.relay_sdp(call_id));
        Some(record)
    }

    /// The record of `call_id` goes. A call that ends before its one put
    /// was written is never written at all (a short call costs no dialog
    /// write).
    fn drop_dialog(&mut self, call_id: &str) {
        let Some(KeptDialog { id, puts }) = self.kept_dialogs.remove(call_id) else {
            return;
        };
        let queued = self.records_pending.len();
        self.records_pending
            .retain(|c| !matches!(c, StateChange::PutDialog(d) if d.id == id));
        if puts > 1 || self.records_pending.len() == queued {
            self.queue_record(StateChange::RemoveDialog { id });
        }
    }

    /// Housekeeping: the records of calls the book forgot (idle beyond its
    /// limits) go too.
    pub(super) fn forget_idle_dialogs(&mut self) {
        let gone: Vec<Arc<str>> = self
            .kept_dialogs
            .keys()
            .filter(|call_id| !self.calls.is_up(call_id))
            .map(Arc::clone)
            .collect();
        for call_id in gone {
            tracing::debug!(%call_id, "dialog record dropped: the call was idle too long");
            self.drop_dialog(&call_id);
        }
    }

    /// Takes the stored calls in progress back (at start, with the clocks
    /// the service was built with): each one's relay permission, its
    /// entry in the call book, its open call record, its carrier leg and
    /// the caller's NAT hop. A record idle beyond the call book's limits
    /// is removed from the store instead.
    pub(super) fn load_dialogs(&mut self, dialogs: Vec<DialogRecord>) {
        let now = self.clock;
        for record in dialogs {
            if !self.calls.restore(now, &record) {
                tracing::info!(call_id = %record.call_id, "stored call not taken back: idle too long");
                self.queue_record(StateChange::RemoveDialog { id: record.id });
                continue;
            }
            let at = instant_of_unix_ms(now, record.updated_ms);
            self.dialogs.learn(at, &record.call_id);
            let call_id = self.shared_call_id(&record.call_id);
            self.records.restore(at, &record, Arc::clone(&call_id));
            self.relay_lost_at_load(&record);
            if let Some(leg) = &record.carrier_leg {
                self.proxy.restore_carrier_leg(
                    at,
                    &record.call_id,
                    &record.caller.tag,
                    &record.callee.tag,
                    leg,
                );
            }
            if let (Some(contact), Some(source)) = (&record.caller.contact, record.caller.source) {
                let source = source.to_source();
                if via_source(contact, &source) {
                    self.contacts.learn(at, contact, hop_of(&source));
                }
            }
            tracing::debug!(call_id = %record.call_id, age_ms = unix_ms(now).saturating_sub(record.updated_ms), "call in progress taken back");
            self.kept_dialogs.insert(
                call_id,
                KeptDialog {
                    id: record.id,
                    puts: 1,
                },
            );
        }
        if !self.kept_dialogs.is_empty() {
            tracing::info!(
                calls = self.kept_dialogs.len(),
                "calls in progress taken back from the store"
            );
        }
    }
}
