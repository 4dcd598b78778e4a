//! Call detail records in PostgreSQL: SQLite's row format (see
//! `sqlite/call_records.rs`), written through the event-state writer and
//! read by start time; the conversion back shared.

use postgres::{Row, Statement, Transaction};
use switchboard_server::storage::{CallRecord, Disposition, HangupSide};

use super::{PostgresStore, classify, get, upsert_sql};
use crate::error::StoreError;
use crate::sqlite::RecordQuery;
use crate::sqlite::call_records::{MEDIA_COLUMNS, MediaColumns, RawRecord};
use crate::sqlite::to_sql_u64;

/// The columns before the media relay's ([`MEDIA_COLUMNS`], which follow
/// in every statement).
const COLUMNS: [&str; 19] = [
    "id",
    "call_id",
    "caller",
    "caller_user",
    "callee",
    "dialled",
    "routed_number",
    "rule",
    "target",
    "trunk",
    "gateway",
    "source",
    "start_ms",
    "answer_ms",
    "end_ms",
    "disposition",
    "status",
    "hangup",
    "duration_ms",
];

/// Where the media columns start in a row.
const MEDIA_AT: usize = COLUMNS.len();

/// Every column, in the order of the statements.
fn all_columns() -> Vec<&'static str> {
    COLUMNS.iter().chain(&MEDIA_COLUMNS).copied().collect()
}

/// The statements that write records.
pub(super) struct RecordWriter {
    put: Statement,
    expire: Statement,
}

impl RecordWriter {
    pub(super) fn sql() -> [String; 2] {
        [
            upsert_sql("call_records", &all_columns(), &["id"]),
            "DELETE FROM call_records WHERE start_ms < $1".to_owned(),
        ]
    }

    pub(super) fn new([put, expire]: [Statement; 2]) -> Self {
        Self { put, expire }
    }

    pub(super) fn put(
        &self,
        tx: &mut Transaction<'_>,
        record: &CallRecord,
    ) -> Result<(), StoreError> {
        let optional = |value: Option<u64>| value.map(to_sql_u64);
        let media = MediaColumns::of(record.media.as_deref());
        let [a, b, c, d, e, f, g, h, i, j, k, l] = &media.counters;
        tx.execute(
            &self.put,
            &[
                &record.id,
                &record.call_id,
                &record.caller,
                &record.caller_user,
                &record.callee,
                &record.dialled,
                &record.routed_number,
                &record.rule,
                &record.target,
                &record.trunk,
                &record.gateway,
                &record.source,
                &to_sql_u64(record.start_ms),
                &optional(record.answer_ms),
                &optional(record.end_ms),
                &record.disposition.as_str(),
                &record.status.map(i64::from),
                &record.hangup.map(HangupSide::as_str),
                &optional(record.duration_ms()),
                &media.relayed,
                a,
                b,
                c,
                d,
                e,
                f,
                g,
                h,
                i,
                j,
                k,
                l,
            ],
        )
        .map_err(classify)?;
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
