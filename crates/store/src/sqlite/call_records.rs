//! Call detail records in SQLite (since schema version 6): one row of
//! `call_records` per [`CallRecord`], keyed by its id, written through the
//! event-state writer (so in the group commit) and read here by start
//! time. The disposition and the side that hung up are kept by name
//! ([`Disposition::as_str`], [`HangupSide::as_str`]); the duration is
//! kept too, for queries. A row that does not map back is
//! [`StoreError::Corrupt`]. Since version 10, a relayed call's media
//! counters follow ([`MEDIA_COLUMNS`]).

use rusqlite::{CachedStatement, Row, params};
use switchboard_server::storage::{CallMedia, CallRecord, Disposition, HangupSide, MediaLeg};

use super::{SqliteStore, from_sql_u64, to_sql_u64};
use crate::error::StoreError;

const COLUMNS: &str = "id, call_id, caller, caller_user, callee, dialled, routed_number, rule, \
                       target, trunk, gateway, source, start_ms, answer_ms, end_ms, disposition, \
                       status, hangup, relayed, caller_packets_in, caller_bytes_in, \
                       caller_packets_out, caller_bytes_out, caller_lost, caller_jitter, \
                       callee_packets_in, callee_bytes_in, callee_packets_out, callee_bytes_out, \
                       callee_lost, callee_jitter";

/// Where the media columns start in a row read with `COLUMNS`.
const MEDIA_AT: usize = 18;

/// The media relay's columns (migration 10): whether the call was relayed,
/// then each party's counters in [`MediaColumns::counters`] order.
pub(crate) const MEDIA_COLUMNS: [&str; 13] = CallMedia::FIELDS;

/// The statement that writes a record (insert, or replace the same id).
pub(super) const PUT_SQL: &str = "INSERT OR REPLACE INTO call_records (id, call_id, caller, \
     caller_user, callee, dialled, routed_number, rule, target, trunk, gateway, source, start_ms, \
     answer_ms, end_ms, disposition, status, hangup, duration_ms, relayed, caller_packets_in, \
     caller_bytes_in, caller_packets_out, caller_bytes_out, caller_lost, caller_jitter, \
     callee_packets_in, callee_bytes_in, callee_packets_out, callee_bytes_out, callee_lost, \
     callee_jitter)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
     ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32)";

/// The statement of retention: records that started before `?1`.
pub(super) const EXPIRE_SQL: &str = "DELETE FROM call_records WHERE start_ms < ?1";

/// Which records to read: those that started in `[since_ms, until_ms)`,
/// oldest first, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordQuery {
    /// The earliest start (Unix milliseconds), inclusive.
    pub since_ms: Option<u64>,
    /// The latest start (Unix milliseconds), exclusive.
    pub until_ms: Option<u64>,
    /// Most records returned.
    pub limit: Option<usize>,
}

/// Writes `record` with the cached statement of [`PUT_SQL`].
pub(super) fn put(
    statement: &mut CachedStatement<'_>,
    record: &CallRecord,
) -> Result<(), StoreError> {
    let optional = |value: Option<u64>| value.map(to_sql_u64);
    let media = MediaColumns::of(record.media.as_deref());
    let [a, b, c, d, e, f, g, h, i, j, k, l] = media.counters;
    statement.execute(params![
        record.id,
        record.call_id,
        record.caller,
        record.caller_user,
        record.callee,
        record.dialled,
        record.routed_number,
        record.rule,
        record.target,
        record.trunk,
        record.gateway,
        record.source,
        to_sql_u64(record.start_ms),
        optional(record.answer_ms),
        optional(record.end_ms),
        record.disposition.as_str(),
        record.status,
        record.hangup.map(HangupSide::as_str),
        optional(record.duration_ms()),
        media.relayed,
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
    ])?;
    Ok(())
}

impl SqliteStore {
    /// The call records `query` selects, by start time.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`] for a row that does not
    /// map back.
    pub fn call_records(&self, query: &RecordQuery) -> Result<Vec<CallRecord>, StoreError> {
        let conn = self.conn();
        let mut statement = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM call_records WHERE start_ms >= ?1 AND start_ms < ?2
             ORDER BY start_ms, id LIMIT ?3"
        ))?;
        let since = to_sql_u64(query.since_ms.unwrap_or(0));
        let until = query.until_ms.map_or(i64::MAX, to_sql_u64);
        let limit = query
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let raw = statement
            .query_map(params![since, until, limit], RawRecord::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(RawRecord::into_record).collect()
    }
}

/// A row as read, before its numbers and names are checked.
pub(crate) struct RawRecord {
    pub(crate) record: CallRecord,
    pub(crate) start_ms: i64,
    pub(crate) answer_ms: Option<i64>,
    pub(crate) end_ms: Option<i64>,
    pub(crate) disposition: String,
    pub(crate) status: Option<i64>,
    pub(crate) hangup: Option<String>,
    pub(crate) media: MediaColumns,
}

impl RawRecord {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            record: CallRecord {
                id: row.get(0)?,
                call_id: row.get(1)?,
                caller: row.get(2)?,
                caller_user: row.get(3)?,
                callee: row.get(4)?,
                dialled: row.get(5)?,
                routed_number: row.get(6)?,
                rule: row.get(7)?,
                target: row.get(8)?,
                trunk: row.get(9)?,
                gateway: row.get(10)?,
                source: row.get(11)?,
                start_ms: 0,
                answer_ms: None,
                end_ms: None,
                disposition: Disposition::Failed,
                status: None,
                hangup: None,
                media: None,
            },
            start_ms: row.get(12)?,
            answer_ms: row.get(13)?,
            end_ms: row.get(14)?,
            disposition: row.get(15)?,
            status: row.get(16)?,
            hangup: row.get(17)?,
            media: MediaColumns::read(row.get(MEDIA_AT)?, |index| row.get(MEDIA_AT + 1 + index))?,
        })
    }

    pub(crate) fn into_record(self) -> Result<CallRecord, StoreError> {
        let optional =
            |what: &str, value: Option<i64>| value.map(|v| from_sql_u64(what, v)).transpose();
        let disposition = Disposition::parse(&self.disposition).ok_or_else(|| {
            StoreError::Corrupt(format!("call record disposition {:?}", self.disposition))
        })?;
        let hangup = self
            .hangup
            .map(|h| {
                HangupSide::parse(&h)
                    .ok_or_else(|| StoreError::Corrupt(format!("call record hangup {h:?}")))
            })
            .transpose()?;
        let status = self
            .status
            .map(|s| {
                u16::try_from(s).map_err(|_| StoreError::Corrupt(format!("call record status {s}")))
            })
            .transpose()?;
        Ok(CallRecord {
            start_ms: from_sql_u64("call record start_ms", self.start_ms)?,
            answer_ms: optional("call record answer_ms", self.answer_ms)?,
            end_ms: optional("call record end_ms", self.end_ms)?,
            disposition,
            status,
            hangup,
            media: self.media.into_media()?.map(Box::new),
            ..self.record
        })
    }
}

/// A record's media columns as stored: whether the call was relayed, and
/// the caller's then the callee's packets in, bytes in, packets out,
/// bytes out, loss and jitter (`NULL` when not relayed, and loss and
/// jitter without an RTCP report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MediaColumns {
    pub(crate) relayed: bool,
    pub(crate) counters: [Option<i64>; 12],
}

impl MediaColumns {
    /// The columns of `media` (`None`: not relayed).
    pub(crate) fn of(media: Option<&CallMedia>) -> Self {
        let Some(media) = media else {
            return Self {
                relayed: false,
                counters: [None; 12],
            };
        };
        let leg = |l: &MediaLeg| {
            [
                Some(to_sql_u64(l.packets_in)),
                Some(to_sql_u64(l.bytes_in)),
                Some(to_sql_u64(l.packets_out)),
                Some(to_sql_u64(l.bytes_out)),
                l.lost,
                l.jitter.map(i64::from),
            ]
        };
        let [a, b, c, d, e, f] = leg(&media.caller);
        let [g, h, i, j, k, l] = leg(&media.callee);
        Self {
            relayed: true,
            counters: [a, b, c, d, e, f, g, h, i, j, k, l],
        }
    }

    /// The columns read: the flag, and the twelve counters with `get(i)`
    /// (`i` from 0, in [`MEDIA_COLUMNS`] order after the flag).
    pub(crate) fn read<E>(
        relayed: bool,
        get: impl Fn(usize) -> Result<Option<i64>, E>,
    ) -> Result<Self, E> {
        let mut counters = [None; 12];
        for (index, counter) in counters.iter_mut().enumerate() {
            *counter = get(index)?;
        }
        Ok(Self { relayed, counters })
    }

    /// The counters back; a relayed row without its packet counts, or
    /// with a negative or oversized one, is corruption.
    pub(crate) fn into_media(self) -> Result<Option<CallMedia>, StoreError> {
        if !self.relayed {
            return Ok(None);
        }
        let [a, b, c, d, e, f, g, h, i, j, k, l] = self.counters;
        let leg = |[packets_in, bytes_in, packets_out, bytes_out]: [Option<i64>; 4],
                   lost: Option<i64>,
                   jitter: Option<i64>|
         -> Result<MediaLeg, StoreError> {
            let count = |value: Option<i64>| {
                value
                    .ok_or_else(|| {
                        StoreError::Corrupt("relayed call record without counters".into())
                    })
                    .and_then(|v| from_sql_u64("call record media counter", v))
            };
            let jitter = jitter
                .map(|j| {
                    u32::try_from(j)
                        .map_err(|_| StoreError::Corrupt(format!("call record jitter {j}")))
                })
                .transpose()?;
            Ok(MediaLeg {
                packets_in: count(packets_in)?,
                bytes_in: count(bytes_in)?,
                packets_out: count(packets_out)?,
                bytes_out: count(bytes_out)?,
                lost,
                jitter,
            })
        };
        Ok(Some(CallMedia {
            caller: leg([a, b, c, d], e, f)?,
            callee: leg([g, h, i, j], k, l)?,
        }))
    }
}
