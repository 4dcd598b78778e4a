//! Call detail records in PostgreSQL: SQLite's row format (see
//! `sqlite/call_records.rs`), written through the event-state writer and
//! read by start time; the conversion back shared.

use postgres::{Row, Statement, Transaction};
use switchboard_server::storage::{CallRecord, Disposition, HangupSide};

use super::row_batch::{Cell, SqlType, upsert_rows_sql, write_rows};
use super::{PostgresStore, classify, get};
use crate::error::StoreError;
use crate::sqlite::RecordQuery;
use crate::sqlite::call_records::{MEDIA_COLUMNS, MediaColumns, RawRecord};
use crate::sqlite::to_sql_u64;

/// The columns before the media relay's ([`MEDIA_COLUMNS`], which follow
/// in every statement).
const COLUMNS: [(&str, SqlType); 19] = [
    ("id", SqlType::Text),
    ("call_id", SqlType::Text),
    ("caller", SqlType::Text),
    ("caller_user", SqlType::Text),
    ("callee", SqlType::Text),
    ("dialled", SqlType::Text),
    ("routed_number", SqlType::Text),
    ("rule", SqlType::Text),
    ("target", SqlType::Text),
    ("trunk", SqlType::Text),
    ("gateway", SqlType::Text),
    ("source", SqlType::Text),
    ("start_ms", SqlType::Big),
    ("answer_ms", SqlType::Big),
    ("end_ms", SqlType::Big),
    ("disposition", SqlType::Text),
    ("status", SqlType::Big),
    ("hangup", SqlType::Text),
    ("duration_ms", SqlType::Big),
];

/// Where the media columns start in a row.
const MEDIA_AT: usize = COLUMNS.len();

/// Every column with its type, in the order of the statements: the
/// media relay's flag, then its counters.
fn typed_columns() -> Vec<(&'static str, SqlType)> {
    let media = MEDIA_COLUMNS.iter().enumerate().map(|(index, name)| {
        let sql_type = if index == 0 {
            SqlType::Flag
        } else {
            SqlType::Big
        };
        (*name, sql_type)
    });
    COLUMNS.iter().copied().chain(media).collect()
}

/// Every column, in the order of the statements.
fn all_columns() -> Vec<&'static str> {
    typed_columns().into_iter().map(|(name, _)| name).collect()
}

/// The type of each column of [`all_columns`], in order.
fn column_types() -> Vec<SqlType> {
    typed_columns()
        .into_iter()
        .map(|(_, sql_type)| sql_type)
        .collect()
}

/// The statements that write records.
pub(super) struct RecordWriter {
    put: Statement,
    expire: Statement,
}

impl RecordWriter {
    pub(super) fn sql() -> [String; 2] {
        [
            upsert_rows_sql("call_records", &typed_columns(), &["id"]),
            "DELETE FROM call_records WHERE start_ms < $1".to_owned(),
        ]
    }

    pub(super) fn new([put, expire]: [Statement; 2]) -> Self {
        Self { put, expire }
    }

    /// Writes `records` (each inserted, or replacing the same id) in one
    /// statement; their ids must be distinct.
    pub(super) fn put_all<'a>(
        &self,
        tx: &mut Transaction<'_>,
        records: impl IntoIterator<Item = &'a CallRecord>,
    ) -> Result<(), StoreError> {
        write_rows(tx, &self.put, &column_types(), records.into_iter().map(row))?;
        Ok(())
    }

    pub(super) fn expire(&self, tx: &mut Transaction<'_>, start_ms: u64) -> Result<(), StoreError> {
        let removed = tx
            .execute(&self.expire, &[&to_sql_u64(start_ms)])
            .map_err(classify)?;
        if removed > 0 {
            tracing::info!(removed, "store: expired call records deleted");
        }
        Ok(())
    }
}

/// The cells of `record`, in the order of [`all_columns`].
fn row(record: &CallRecord) -> Vec<Cell> {
    let optional = |value: Option<u64>| Cell::Big(value.map(to_sql_u64));
    let media = MediaColumns::of(record.media.as_deref());
    let mut cells = vec![
        Cell::text(&record.id),
        Cell::text(&record.call_id),
        Cell::text(&record.caller),
        Cell::maybe_text(record.caller_user.as_deref()),
        Cell::text(&record.callee),
        Cell::text(&record.dialled),
        Cell::maybe_text(record.routed_number.as_deref()),
        Cell::maybe_text(record.rule.as_deref()),
        Cell::maybe_text(record.target.as_deref()),
        Cell::maybe_text(record.trunk.as_deref()),
        Cell::maybe_text(record.gateway.as_deref()),
        Cell::text(&record.source),
        Cell::Big(Some(to_sql_u64(record.start_ms))),
        optional(record.answer_ms),
        optional(record.end_ms),
        Cell::text(record.disposition.as_str()),
        Cell::Big(record.status.map(i64::from)),
        Cell::maybe_text(record.hangup.map(HangupSide::as_str)),
        optional(record.duration_ms()),
        Cell::Flag(media.relayed),
    ];
    cells.extend(media.counters.iter().map(|counter| Cell::Big(*counter)));
    cells
}

fn read_record(row: &Row) -> Result<CallRecord, StoreError> {
    RawRecord {
        record: CallRecord {
            id: get(row, 0)?,
            call_id: get(row, 1)?,
            caller: get(row, 2)?,
            caller_user: get(row, 3)?,
            callee: get(row, 4)?,
            dialled: get(row, 5)?,
            routed_number: get(row, 6)?,
            rule: get(row, 7)?,
            target: get(row, 8)?,
            trunk: get(row, 9)?,
            gateway: get(row, 10)?,
            source: get(row, 11)?,
            start_ms: 0,
            answer_ms: None,
            end_ms: None,
            disposition: Disposition::Failed,
            status: None,
            hangup: None,
            media: None,
        },
        start_ms: get(row, 12)?,
        answer_ms: get(row, 13)?,
        end_ms: get(row, 14)?,
        disposition: get(row, 15)?,
        status: get(row, 16)?,
        hangup: get(row, 17)?,
        media: MediaColumns::read(get(row, MEDIA_AT)?, |index| get(row, MEDIA_AT + 1 + index))?,
    }
    .into_record()
}

impl PostgresStore {
    /// As [`SqliteStore::call_records`](crate::SqliteStore::call_records).
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`] for a row that does not
    /// map back.
    pub fn call_records(&self, query: &RecordQuery) -> Result<Vec<CallRecord>, StoreError> {
        let since = to_sql_u64(query.since_ms.unwrap_or(0));
        let until = query.until_ms.map_or(i64::MAX, to_sql_u64);
        // `LIMIT NULL` is no limit.
        let limit = query.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self.run(|conn| {
            let select = conn.statement(&format!(
                "SELECT {} FROM call_records WHERE start_ms >= $1 AND start_ms < $2
                 ORDER BY start_ms, id COLLATE \"C\" LIMIT $3",
                all_columns().join(", ")
            ))?;
            conn.client
                .query(&select, &[&since, &until, &limit])
                .map_err(classify)
        })?;
        rows.iter().map(read_record).collect()
    }
}
