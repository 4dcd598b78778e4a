//! Dialog records in PostgreSQL (since schema version 7): SQLite's row
//! format (see `sqlite/dialogs.rs`: the same columns, a party's source as
//! one text, the route set one entry per line), written through the
//! event-state writer and loaded with the rest of the event state; the
//! conversion back shared.

use postgres::{Row, Statement, Transaction};
use switchboard_server::storage::{DialogParty, DialogRecord};

use super::get;
use super::row_batch::{Cell, SqlType, key_list_sql, upsert_rows_sql, write_rows};
use crate::error::StoreError;
use crate::sqlite::dialogs::{COLUMNS, RawDialog, RawParty, source_text};
use crate::sqlite::{join_lines, to_sql_u64};

/// The columns that are not text.
const BIG_COLUMNS: [&str; 6] = [
    "caller_cseq",
    "callee_cseq",
    "start_ms",
    "answer_ms",
    "updated_ms",
    "carrier_delta",
];
const FLAG_COLUMN: &str = "relayed";

/// SQLite's column list, one name each, with its type.
fn columns() -> Vec<(&'static str, SqlType)> {
    COLUMNS
        .split(", ")
        .map(|name| match name {
            FLAG_COLUMN => (name, SqlType::Flag),
            _ if BIG_COLUMNS.contains(&name) => (name, SqlType::Big),
            _ => (name, SqlType::Text),
        })
        .collect()
}

/// The key of a removal.
const REMOVE_KEY: [(&str, SqlType); 1] = [("id", SqlType::Text)];

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
            upsert_rows_sql("dialogs", &columns(), &["id"]),
            format!(
                "DELETE FROM dialogs USING {} WHERE dialogs.id = keys.id",
                key_list_sql(&REMOVE_KEY)
            ),
        ]
    }

    pub(super) fn new([put, remove]: [Statement; 2]) -> Self {
        Self { put, remove }
    }

    /// Writes `records` (each inserted, or replacing the same id) in one
    /// statement; their ids must be distinct.
    pub(super) fn put_all<'a>(
        &self,
        tx: &mut Transaction<'_>,
        records: impl IntoIterator<Item = &'a DialogRecord>,
    ) -> Result<(), StoreError> {
        let types: Vec<SqlType> = columns().into_iter().map(|(_, t)| t).collect();
        write_rows(tx, &self.put, &types, records.into_iter().map(row))?;
        Ok(())
    }

    /// Removes the records of `ids` in one statement.
    pub(super) fn remove_all<'a>(
        &self,
        tx: &mut Transaction<'_>,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        let rows = ids.into_iter().map(|id| [Cell::text(id)]);
        write_rows(tx, &self.remove, &REMOVE_KEY.map(|(_, t)| t), rows)?;
        Ok(())
    }
}

/// The cells of `record`, in the order of [`columns`].
fn row(record: &DialogRecord) -> Vec<Cell> {
    let leg = record.carrier_leg.as_ref();
    let sdp = record.relay_sdp.as_ref();
    let party = |party: &DialogParty| {
        [
            Cell::text(&party.uri),
            Cell::maybe_text(party.display.as_deref()),
            Cell::text(&party.tag),
            Cell::maybe_text(party.aor.as_deref()),
            Cell::maybe_text(party.contact.as_deref()),
            Cell::Text(party.source.map(source_text)),
            Cell::Big(party.cseq.map(i64::from)),
        ]
    };
    let mut cells = vec![Cell::text(&record.id), Cell::text(&record.call_id)];
    cells.extend(party(&record.caller));
    cells.extend(party(&record.callee));
    cells.extend([
        Cell::text(&record.dialled),
        Cell::Text(Some(join_lines(&record.route_set))),
        Cell::text(record.phase.as_str()),
        Cell::Big(Some(to_sql_u64(record.start_ms))),
        Cell::Big(record.answer_ms.map(to_sql_u64)),
        Cell::Big(Some(to_sql_u64(record.updated_ms))),
        Cell::maybe_text(record.caller_user.as_deref()),
        Cell::maybe_text(record.routed_number.as_deref()),
        Cell::maybe_text(record.rule.as_deref()),
        Cell::maybe_text(record.target.as_deref()),
        Cell::maybe_text(record.trunk.as_deref()),
        Cell::maybe_text(record.gateway.as_deref()),
        Cell::maybe_text(leg.map(|l| l.call_id.as_str())),
        Cell::Big(leg.map(|l| i64::from(l.cseq_delta))),
        Cell::Flag(record.relayed),
        Cell::maybe_text(sdp.map(|s| s.caller_sent.as_str())),
        Cell::maybe_text(sdp.map(|s| s.callee_sent.as_str())),
        Cell::maybe_text(sdp.map(|s| s.caller_received.as_str())),
        Cell::maybe_text(sdp.map(|s| s.callee_received.as_str())),
    ]);
    cells
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
