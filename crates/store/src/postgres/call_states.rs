//! The dialogs of the calls each cluster node routes (since schema
//! version 11), one row per user and dialog, for the other nodes'
//! busy-lamp watchers: written in the event-state batch by the routing
//! node (its name set on the row by trigger; the user as `sip:user@domain`,
//! as bindings have it), read back by the others'
//! change feeds. A terminated dialog stays until the user's next one
//! ends, so that a feed reading late still sees how it ended.

use std::collections::HashMap;

use postgres::{Row, Statement, Transaction};
use switchboard_server::bodies::{DialogEntry, DialogState, Direction};

use super::get;
use super::row_batch::{Cell, SqlType, key_list_sql, upsert_rows_sql, write_rows};
use crate::error::StoreError;

const COLUMNS: [(&str, SqlType); 16] = [
    ("aor", SqlType::Text),
    ("id", SqlType::Text),
    ("call_id", SqlType::Text),
    ("local_tag", SqlType::Text),
    ("remote_tag", SqlType::Text),
    ("direction", SqlType::Text),
    ("state", SqlType::Text),
    ("reason", SqlType::Text),
    ("code", SqlType::Big),
    ("local_identity", SqlType::Text),
    ("local_display", SqlType::Text),
    ("local_target", SqlType::Text),
    ("remote_identity", SqlType::Text),
    ("remote_display", SqlType::Text),
    ("remote_target", SqlType::Text),
    ("duration", SqlType::Big),
];

/// The key of a row.
const KEY: [(&str, SqlType); 2] = [("aor", SqlType::Text), ("id", SqlType::Text)];

/// The statement reading the rows of some users (`$1`) that other nodes
/// than `$2` wrote, leaving out those of nodes that did not beat for `$3`
/// milliseconds (a dead node's calls died with it), by `db_now`'s clock.
pub(super) fn read_sql(db_now: &str) -> String {
    format!(
        "SELECT {} FROM call_states WHERE aor = ANY($1) AND node IS DISTINCT FROM $2 \
         AND (node IS NULL OR EXISTS (SELECT 1 FROM nodes WHERE nodes.name = call_states.node \
         AND nodes.heartbeat_at >= {db_now} - $3)) \
         ORDER BY aor, call_id, id",
        COLUMNS.map(|(name, _)| name).join(", ")
    )
}

/// The statements that write the rows.
pub(super) struct CallStateWriter {
    put: Statement,
    forget_ended: Statement,
}

impl CallStateWriter {
    pub(super) fn sql() -> [String; 2] {
        [
            upsert_rows_sql("call_states", &COLUMNS, &["aor", "id"]),
            format!(
                "DELETE FROM call_states USING {} WHERE call_states.aor = keys.aor \
                 AND call_states.state = 'terminated' AND call_states.id <> keys.id",
                key_list_sql(&KEY)
            ),
        ]
    }

    pub(super) fn new([put, forget_ended]: [Statement; 2]) -> Self {
        Self { put, forget_ended }
    }

    /// Writes the `dialogs` (each inserted, or replacing the same user and
    /// id) in one statement; their keys must be distinct.
    pub(super) fn put_all<'a>(
        &self,
        tx: &mut Transaction<'_>,
        dialogs: impl IntoIterator<Item = (&'a str, &'a DialogEntry)>,
    ) -> Result<(), StoreError> {
        let rows = dialogs.into_iter().map(|(aor, dialog)| row(aor, dialog));
        write_rows(tx, &self.put, &COLUMNS.map(|(_, t)| t), rows)?;
        Ok(())
    }

    /// Deletes each user's terminated dialogs but the one named (the one
    /// that ended last), in one statement.
    pub(super) fn forget_ended_but<'a>(
        &self,
        tx: &mut Transaction<'_>,
        kept: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), StoreError> {
        let rows = kept
            .into_iter()
            .map(|(aor, id)| [Cell::text(aor), Cell::text(id)]);
        write_rows(tx, &self.forget_ended, &KEY.map(|(_, t)| t), rows)?;
        Ok(())
    }
}

/// The cells of `dialog` of the user stored as `aor`, in the order of
/// [`COLUMNS`].
fn row(aor: &str, dialog: &DialogEntry) -> Vec<Cell> {
    let (reason, code) = match &dialog.state {
        DialogState::Terminated { reason, code } => (reason.as_deref(), code.map(i64::from)),
        _ => (None, None),
    };
    let duration = dialog
        .duration
        .map(|d| i64::try_from(d).unwrap_or(i64::MAX));
    vec![
        Cell::text(aor),
        Cell::text(&dialog.id),
        Cell::text(&dialog.call_id),
        Cell::maybe_text(dialog.local_tag.as_deref()),
        Cell::maybe_text(dialog.remote_tag.as_deref()),
        Cell::text(dialog.direction.as_str()),
        Cell::text(dialog.state.as_str()),
        Cell::maybe_text(reason),
        Cell::Big(code),
        Cell::text(&dialog.local_identity),
        Cell::maybe_text(dialog.local_display.as_deref()),
        Cell::maybe_text(dialog.local_target.as_deref()),
        Cell::text(&dialog.remote_identity),
        Cell::maybe_text(dialog.remote_display.as_deref()),
        Cell::maybe_text(dialog.remote_target.as_deref()),
        Cell::Big(duration),
    ]
}

/// Rows of [`read_sql`] by user.
pub(super) fn group(rows: &[Row]) -> Result<HashMap<String, Vec<DialogEntry>>, StoreError> {
    let mut by_aor: HashMap<String, Vec<DialogEntry>> = HashMap::new();
    for row in rows {
        let aor: String = get(row, 0)?;
        by_aor.entry(aor).or_default().push(entry(row)?);
    }
    Ok(by_aor)
}

fn entry(row: &Row) -> Result<DialogEntry, StoreError> {
    let direction: String = get(row, 5)?;
    let state: String = get(row, 6)?;
    let code: Option<i32> = get(row, 8)?;
    let code = code.and_then(|c| u16::try_from(c).ok());
    let duration: Option<i64> = get(row, 15)?;
    Ok(DialogEntry {
        id: get(row, 1)?,
        call_id: get(row, 2)?,
        local_tag: get(row, 3)?,
        remote_tag: get(row, 4)?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("dialog direction {direction:?}")))?,
        state: DialogState::parse(&state, get(row, 7)?, code)
            .ok_or_else(|| StoreError::Corrupt(format!("dialog state {state:?}")))?,
        local_identity: get(row, 9)?,
        local_display: get(row, 10)?,
        local_target: get(row, 11)?,
        remote_identity: get(row, 12)?,
        remote_display: get(row, 13)?,
        remote_target: get(row, 14)?,
        duration: duration.and_then(|d| u64::try_from(d).ok()),
    })
}
