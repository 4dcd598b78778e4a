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
use switchboard_server::registrar::Aor;

use super::{classify, get, upsert_sql};
use crate::error::StoreError;
use crate::sqlite::bindings::stored_aor;

const COLUMNS: [&str; 16] = [
    "aor",
    "id",
    "call_id",
    "local_tag",
    "remote_tag",
    "direction",
    "state",
    "reason",
    "code",
    "local_identity",
    "local_display",
    "local_target",
    "remote_identity",
    "remote_display",
    "remote_target",
    "duration",
];

/// The statement reading the rows of some users (`$1`) that other nodes
/// than `$2` wrote, leaving out those of nodes that did not beat for `$3`
/// milliseconds (a dead node's calls died with it), by `db_now`'s clock.
pub(super) fn read_sql(db_now: &str) -> String {
    format!(
        "SELECT {} FROM call_states WHERE aor = ANY($1) AND node IS DISTINCT FROM $2 \
         AND (node IS NULL OR EXISTS (SELECT 1 FROM nodes WHERE nodes.name = call_states.node \
         AND nodes.heartbeat_at >= {db_now} - $3)) \
         ORDER BY aor, call_id, id",
        COLUMNS.join(", ")
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
            upsert_sql("call_states", &COLUMNS, &["aor", "id"]),
            "DELETE FROM call_states WHERE aor = $1 AND state = 'terminated' AND id <> $2"
                .to_owned(),
        ]
    }

    pub(super) fn new([put, forget_ended]: [Statement; 2]) -> Self {
        Self { put, forget_ended }
    }

    /// Writes `dialog` of `aor` (insert, or replace the same id); a
    /// terminated one replaces the user's earlier terminated ones.
    pub(super) fn put(
        &self,
        tx: &mut Transaction<'_>,
        aor: &Aor,
        dialog: &DialogEntry,
    ) -> Result<(), StoreError> {
        let aor = stored_aor(aor);
        let (reason, code) = match &dialog.state {
            DialogState::Terminated { reason, code } => {
                tx.execute(&self.forget_ended, &[&aor, &dialog.id])
                    .map_err(classify)?;
                (reason.as_deref(), code.map(i32::from))
            }
            _ => (None, None),
        };
        let duration = dialog
            .duration
            .map(|d| i64::try_from(d).unwrap_or(i64::MAX));
        tx.execute(
            &self.put,
            &[
                &aor,
                &dialog.id,
                &dialog.call_id,
                &dialog.local_tag,
                &dialog.remote_tag,
                &dialog.direction.as_str(),
                &dialog.state.as_str(),
                &reason,
                &code,
                &dialog.local_identity,
                &dialog.local_display,
                &dialog.local_target,
                &dialog.remote_identity,
                &dialog.remote_display,
                &dialog.remote_target,
                &duration,
            ],
        )
        .map_err(classify)?;
        Ok(())
    }
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
