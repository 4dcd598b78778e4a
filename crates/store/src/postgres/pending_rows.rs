//! The call records, dialog records and cluster call states of a batch,
//! held back and written at its end in one statement per kind (see
//! `row_batch.rs`): each call writes several such rows, and one round trip
//! per row put PostgreSQL's commit latency over the overload gate's mark
//! from ~1,000 calls/s.
//!
//! Only the last change of each key is kept, which is what applying the
//! changes in order leaves: a later put replaces an earlier one, a removal
//! after a put removes, a put after a removal puts. A terminated call
//! state deletes its user's other terminated ones: done once per user
//! after the puts, keeping the one that ended last (what the deletes
//! before each put would have left). The keys are written in order (a
//! `BTreeMap`), so that two writers never lock rows in opposite orders.

use std::collections::BTreeMap;

use postgres::Transaction;
use switchboard_server::bodies::{DialogEntry, DialogState};
use switchboard_server::registrar::Aor;
use switchboard_server::storage::{CallRecord, DialogRecord};

use super::call_records::RecordWriter;
use super::call_states::CallStateWriter;
use super::dialogs::DialogWriter;
use crate::error::StoreError;
use crate::sqlite::bindings::stored_aor;

/// The rows held back, borrowed from the batch's submissions.
#[derive(Debug, Default)]
pub(super) struct PendingRows<'a> {
    records: BTreeMap<&'a str, &'a CallRecord>,
    /// `None`: removed.
    dialogs: BTreeMap<&'a str, Option<&'a DialogRecord>>,
    /// By the user as stored and the dialog's id.
    call_states: BTreeMap<(String, &'a str), &'a DialogEntry>,
    /// The dialog of each user that terminated last.
    ended: BTreeMap<String, &'a str>,
}

impl<'a> PendingRows<'a> {
    pub(super) fn put_record(&mut self, record: &'a CallRecord) {
        self.records.insert(&record.id, record);
    }

    pub(super) fn put_dialog(&mut self, record: &'a DialogRecord) {
        self.dialogs.insert(&record.id, Some(record));
    }

    pub(super) fn remove_dialog(&mut self, id: &'a str) {
        self.dialogs.insert(id, None);
    }

    pub(super) fn put_call_state(&mut self, aor: &Aor, dialog: &'a DialogEntry) {
        let aor = stored_aor(aor);
        if matches!(dialog.state, DialogState::Terminated { .. }) {
            self.ended.insert(aor.clone(), &dialog.id);
        }
        self.call_states.insert((aor, &dialog.id), dialog);
    }

    /// True when a call record is held back: it must be written before a
    /// statement that reads or deletes records.
    pub(super) fn has_records(&self) -> bool {
        !self.records.is_empty()
    }

    /// Writes what is held back (at most five statements) and forgets it.
    pub(super) fn flush(
        &mut self,
        tx: &mut Transaction<'_>,
        records: &RecordWriter,
        dialogs: &DialogWriter,
        call_states: &CallStateWriter,
    ) -> Result<(), StoreError> {
        records.put_all(tx, self.records.values().copied())?;
        dialogs.put_all(tx, self.dialogs.values().copied().flatten())?;
        let removed = self
            .dialogs
            .iter()
            .filter(|(_, put)| put.is_none())
            .map(|(id, _)| *id);
        dialogs.remove_all(tx, removed)?;
        let states = self.call_states.iter();
        call_states.put_all(tx, states.map(|((aor, _), dialog)| (aor.as_str(), *dialog)))?;
        let ended = self.ended.iter();
        call_states.forget_ended_but(tx, ended.map(|(aor, id)| (aor.as_str(), *id)))?;
        self.records.clear();
        self.dialogs.clear();
        self.call_states.clear();
        self.ended.clear();
        Ok(())
    }
}
