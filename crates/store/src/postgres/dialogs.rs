//! Dialog records in PostgreSQL (since schema version 7): SQLite's row
//! format (see `sqlite/dialogs.rs`: the same columns, a party's source as
//! one text, the route set one entry per line), written through the
//! event-state writer and loaded with the rest of the event state; the
//! conversion back shared.

use postgres::{Row, Statement, Transaction};
use switchboard_server::storage::{DialogParty, DialogRecord};

use super::{classify, get, upsert_sql};
use crate::error::StoreError;
use crate::sqlite::dialogs::{COLUMNS, RawDialog, RawParty, source_text};
use crate::sqlite::{join_lines, to_sql_u64};

/// SQLite's column list, one name each.
fn columns() -> Vec<&'static str> {
    COLUMNS.split(", ").collect()
}

/// The statement that loads every record, oldest call first (ids in
/// byte order, as SQLite compares them).
pub(super) fn load_sql() -> String {
    format!("SELECT {COLUMNS} FROM dialogs ORDER BY start_ms, id COLLATE \"C\"")
}

/// The statements that write records.
pub(super) struct DialogWriter {
    put: Statement,
    remove: Statement,
}

impl DialogWriter {
    pub(super) fn sql() -> [String; 2] {
        [
            upsert_sql("dialogs", &columns(), &["id"]),
            "DELETE FROM dialogs WHERE id = $1".to_owned(),
        ]
    }

    pub(super) fn new([put, remove]: [Statement; 2]) -> Self {
        Self { put, remove }
    }

    /// Writes `record` (insert, or replace the same id).
    pub(super) fn put(
        &self,
        tx: &mut Transaction<'_>,
        record: &DialogRecord,
    ) -> Result<(), StoreError> {
        let (caller, callee) = (&record.caller, &record.callee);
        let leg = record.carrier_leg.as_ref();
        let sdp = record.relay_sdp.as_ref();
        let source = |party: &DialogParty| party.source.map(source_text);
        let cseq = |party: &DialogParty| party.cseq.map(i64::from);
        tx.execute(
            &self.put,
            &[
                &record.id,
                &record.call_id,
                &caller.uri,
                &caller.display,
                &caller.tag,
                &caller.aor,
                &caller.contact,
                &source(caller),
                &cseq(caller),
                &callee.uri,
                &callee.display,
                &callee.tag,
                &callee.aor,
                &callee.contact,
                &source(callee),
                &cseq(callee),
                &record.dialled,
                &join_lines(&record.route_set),
                &record.phase.as_str(),
                &to_sql_u64(record.start_ms),
                &record.answer_ms.map(to_sql_u64),
                &to_sql_u64(record.updated_ms),
                &record.caller_user,
                &record.routed_number,
                &record.rule,
                &record.target,
                &record.trunk,
                &record.gateway,
                &leg.map(|l| l.call_id.as_str()),
                &leg.map(|l| i64::from(l.cseq_delta)),
                &record.relayed,
                &sdp.map(|s| s.caller_sent.as_str()),
                &sdp.map(|s| s.callee_sent.as_str()),
                &sdp.map(|s| s.caller_received.as_str()),
                &sdp.map(|s| s.callee_received.as_str()),
            ],
        )
        .map_err(classify)?;
        Ok(())
    }

    pub(super) fn remove(&self, tx: &mut Transaction<'_>, id: &str) -> Result<(), StoreError> {
        tx.execute(&self.remove, &[&id]).map_err(classify)?;
        Ok(())
    }
}

/// The seven columns of a party from `first` on.
fn read_party(row: &Row, first: usize) -> Result<RawParty, StoreError> {
    Ok(RawParty {
        party: DialogParty {
            uri: get(row, first)?,
            display: get(row, first + 1)?,
            tag: get(row, first + 2)?,
            aor: get(row, first + 3)?,
            contact: get(row, first + 4)?,
            source: None,
            cseq: None,
        },
        source: get(row, first + 5)?,
        cseq: get(row, first + 6)?,
    })
}

/// A row of [`load_sql`] as a record.
pub(super) fn read_dialog(row: &Row) -> Result<DialogRecord, StoreError> {
    RawDialog {
        id: get(row, 0)?,
        call_id: get(row, 1)?,
        caller: read_party(row, 2)?,
        callee: read_party(row, 9)?,
        dialled: get(row, 16)?,
        route_set: get(row, 17)?,
        phase: get(row, 18)?,
        start_ms: get(row, 19)?,
        answer_ms: get(row, 20)?,
        updated_ms: get(row, 21)?,
        caller_user: get(row, 22)?,
        routed_number: get(row, 23)?,
        rule: get(row, 24)?,
        target: get(row, 25)?,
        trunk: get(row, 26)?,
        gateway: get(row, 27)?,
        carrier_call_id: get(row, 28)?,
        carrier_delta: get(row, 29)?,
        relayed: get(row, 30)?,
        relay_sdp: [get(row, 31)?, get(row, 32)?, get(row, 33)?, get(row, 34)?],
    }
    .into_record()
}
