//! [`BindingStore`] for PostgreSQL: SQLite's row format (see
//! `sqlite/bindings.rs`), its conversion back shared.

use postgres::{GenericClient, Row, Statement};
use switchboard_server::registrar::{Aor, Binding, BindingChange};
use switchboard_server::storage::BindingStore;

use super::{PostgresStore, big, classify, get, upsert_sql};
use crate::error::StoreError;
use crate::sqlite::bindings::{BindingText, RawBinding, stored_aor};
use crate::sqlite::to_sql_u64;
use crate::validate::validate_change;

const COLUMNS: [&str; 16] = [
    "aor",
    "contact",
    "contact_header",
    "q",
    "expires_at",
    "call_id",
    "cseq",
    "instance_id",
    "reg_id",
    "path",
    "transport",
    "remote_addr",
    "local_addr",
    "flow_token",
    "user_agent",
    "updated_unix",
];

/// Text columns sort bytewise, as in SQLite, whatever the database's
/// locale.
pub(super) const SELECT_SQL: &str = "SELECT aor, contact, contact_header, q, expires_at, call_id, cseq, \
                          instance_id, reg_id, path, transport, remote_addr, local_addr, \
                          flow_token, user_agent, updated_unix FROM bindings";

/// The statements that write bindings (prepared on the connection).
pub(super) struct BindingWriter {
    upsert: Statement,
    remove: Statement,
}

impl BindingWriter {
    pub(super) fn sql() -> [String; 2] {
        [
            upsert_sql("bindings", &COLUMNS, &["aor", "contact"]),
            "DELETE FROM bindings WHERE aor = $1 AND contact = $2".to_owned(),
        ]
    }

    pub(super) fn new([upsert, remove]: [Statement; 2]) -> Self {
        Self { upsert, remove }
    }

    /// Validates every change, then writes them in order through `tx` (a
    /// transaction, or the bare connection for a single change).
    pub(super) fn apply(
        &self,
        tx: &mut impl GenericClient,
        changes: &[BindingChange],
    ) -> Result<(), StoreError> {
        for change in changes {
            validate_change(change)?;
        }
        for change in changes {
            self.change(tx, change)?;
        }
        Ok(())
    }

    fn change(
        &self,
        tx: &mut impl GenericClient,
        change: &BindingChange,
    ) -> Result<(), StoreError> {
        match change {
            BindingChange::Upsert(b) => {
                let text = BindingText::of(b);
                tx.execute(
                    &self.upsert,
                    &[
                        &text.aor,
                        &text.key,
                        &text.contact_header,
                        &big(b.q_or_default()),
                        &to_sql_u64(b.expires_at),
                        &b.call_id,
                        &big(b.cseq),
                        &b.instance,
                        &b.reg_id.map(big),
                        &text.path,
                        &text.transport,
                        &text.remote,
                        &text.local,
                        &text.flow,
                        &b.user_agent.as_deref(),
                        &to_sql_u64(b.updated_at),
                    ],
                )
                .map_err(classify)?;
            }
            BindingChange::Remove { aor, key, .. } => {
                tx.execute(&self.remove, &[&stored_aor(aor), &key.to_string()])
                    .map_err(classify)?;
            }
        }
        Ok(())
    }
}

pub(super) fn read_binding(row: &Row) -> Result<Option<Binding>, StoreError> {
    RawBinding {
        aor: get(row, 0)?,
        contact: get(row, 1)?,
        contact_header: get(row, 2)?,
        q: get(row, 3)?,
        expires_at: get(row, 4)?,
        call_id: get(row, 5)?,
        cseq: get(row, 6)?,
        instance_id: get(row, 7)?,
        reg_id: get(row, 8)?,
        path: get(row, 9)?,
        transport: get(row, 10)?,
        remote_addr: get(row, 11)?,
        local_addr: get(row, 12)?,
        // Column 13, the flow token: not restored (see SQLite's).
        user_agent: get(row, 14)?,
        updated_unix: get(row, 15)?,
    }
    .into_binding()
}

impl PostgresStore {
    fn query_bindings(&self, sql: &str, aor: Option<&Aor>) -> Result<Vec<Binding>, StoreError> {
        let rows = self.run(|conn| {
            let select = conn.statement(sql)?;
            match aor {
                Some(aor) => conn.client.query(&select, &[&stored_aor(aor)]),
                None => conn.client.query(&select, &[]),
            }
            .map_err(classify)
        })?;
        let mut bindings = Vec::with_capacity(rows.len());
        for row in &rows {
            bindings.extend(read_binding(row)?);
        }
        Ok(bindings)
    }
}

impl BindingStore for PostgresStore {
    type Error = StoreError;

    fn apply(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        self.write(|writers, tx| writers.bindings.apply(tx, changes))
    }

    fn apply_groups(
        &self,
        groups: &[&[BindingChange]],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.commit_bindings(groups)
    }

    fn load_all(&self) -> Result<Vec<Binding>, StoreError> {
        self.query_bindings(
            &format!("{SELECT_SQL} ORDER BY aor COLLATE \"C\", q DESC, contact COLLATE \"C\""),
            None,
        )
    }

    fn bindings_for(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        self.query_bindings(
            &format!("{SELECT_SQL} WHERE aor = $1 ORDER BY q DESC, contact COLLATE \"C\""),
            Some(aor),
        )
    }

    fn purge_expired(&self, now_unix: u64) -> Result<u64, StoreError> {
        let removed = self.run(|conn| {
            let purge = conn.statement("DELETE FROM bindings WHERE expires_at <= $1")?;
            conn.client
                .execute(&purge, &[&to_sql_u64(now_unix)])
                .map_err(classify)
        })?;
        if removed > 0 {
            tracing::debug!(removed, "store: expired bindings purged");
        }
        Ok(removed)
    }
}
