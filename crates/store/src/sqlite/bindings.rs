//! [`BindingStore`] for SQLite.

use std::time::Instant;

use rusqlite::{CachedStatement, Connection, Row, TransactionBehavior, params};

use super::{SqliteStore, from_sql_u64, to_sql_u64};
use crate::error::StoreError;
use crate::model::{Binding, BindingChange, BindingSource};
use crate::traits::BindingStore;

const COLUMNS: &str = "aor, contact, contact_header, q, expires_at, call_id, cseq, instance_id, \
                       reg_id, path, transport, remote_addr, local_addr, flow_token, user_agent, \
                       updated_unix";

/// Path entries are stored one per line: validation refuses control
/// characters in an entry, so a line break cannot occur inside one.
const PATH_SEPARATOR: char = '\n';

/// The statements of one write transaction, from the connection's cache
/// (prepared once per connection, not per commit).
struct Writer<'c> {
    upsert: CachedStatement<'c>,
    remove: CachedStatement<'c>,
    remove_aor: CachedStatement<'c>,
    savepoint: CachedStatement<'c>,
    release: CachedStatement<'c>,
    rollback_to: CachedStatement<'c>,
}

impl<'c> Writer<'c> {
    fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Self {
            upsert: conn.prepare_cached(&format!(
                "INSERT INTO bindings ({COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (aor, contact) DO UPDATE SET
                     contact_header = excluded.contact_header,
                     q = excluded.q,
                     expires_at = excluded.expires_at,
                     call_id = excluded.call_id,
                     cseq = excluded.cseq,
                     instance_id = excluded.instance_id,
                     reg_id = excluded.reg_id,
                     path = excluded.path,
                     transport = excluded.transport,
                     remote_addr = excluded.remote_addr,
                     local_addr = excluded.local_addr,
                     flow_token = excluded.flow_token,
                     user_agent = excluded.user_agent,
                     updated_unix = excluded.updated_unix"
            ))?,
            remove: conn.prepare_cached("DELETE FROM bindings WHERE aor = ?1 AND contact = ?2")?,
            remove_aor: conn.prepare_cached("DELETE FROM bindings WHERE aor = ?1")?,
            savepoint: conn.prepare_cached("SAVEPOINT grp")?,
            release: conn.prepare_cached("RELEASE grp")?,
            rollback_to: conn.prepare_cached("ROLLBACK TO grp")?,
        })
    }

    fn change(&mut self, change: &BindingChange) -> Result<(), StoreError> {
        match change {
            BindingChange::Upsert(b) => {
                let path = b.path.join(&PATH_SEPARATOR.to_string());
                self.upsert.execute(params![
                    b.aor,
                    b.contact,
                    b.contact_header,
                    b.q,
                    to_sql_u64(b.expires_at_unix),
                    b.call_id,
                    b.cseq,
                    b.instance_id,
                    b.reg_id,
                    path,
                    b.source.transport,
                    b.source.remote_addr,
                    b.source.local_addr,
                    b.source.flow_token,
                    b.user_agent,
                    to_sql_u64(b.updated_unix),
                ])?;
            }
            BindingChange::Remove { aor, contact } => {
                self.remove.execute(params![aor, contact])?;
            }
            BindingChange::RemoveAor { aor } => {
                self.remove_aor.execute([aor])?;
            }
        }
        Ok(())
    }

    /// One group inside a savepoint, so that it is atomic on its own.
    fn group(&mut self, changes: &[BindingChange]) -> Result<(), StoreError> {
        for change in changes {
            change.validate()?;
        }
        self.savepoint.execute([])?;
        let result = changes.iter().try_for_each(|change| self.change(change));
        if result.is_err() {
            self.rollback_to.execute([])?;
        }
        self.release.execute([])?;
        result
    }
}

/// A row as read, before conversion.
struct RawBinding {
    aor: String,
    contact: String,
    contact_header: String,
    q: i64,
    expires_at: i64,
    call_id: String,
    cseq: i64,
    instance_id: Option<String>,
    reg_id: Option<i64>,
    path: String,
    transport: String,
    remote_addr: String,
    local_addr: String,
    flow_token: Option<String>,
    user_agent: Option<String>,
    updated_unix: i64,
}

impl RawBinding {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            aor: row.get(0)?,
            contact: row.get(1)?,
            contact_header: row.get(2)?,
            q: row.get(3)?,
            expires_at: row.get(4)?,
            call_id: row.get(5)?,
            cseq: row.get(6)?,
            instance_id: row.get(7)?,
            reg_id: row.get(8)?,
            path: row.get(9)?,
            transport: row.get(10)?,
            remote_addr: row.get(11)?,
            local_addr: row.get(12)?,
            flow_token: row.get(13)?,
            user_agent: row.get(14)?,
            updated_unix: row.get(15)?,
        })
    }

    fn into_binding(self) -> Result<Binding, StoreError> {
        let corrupt = |what: &str, value: i64| {
            StoreError::Corrupt(format!(
                "binding {} -> {}: {what} is {value}",
                self.aor, self.contact
            ))
        };
        let q = u16::try_from(self.q)
            .ok()
            .filter(|q| *q <= 1000)
            .ok_or_else(|| corrupt("q", self.q))?;
        let cseq = u32::try_from(self.cseq).map_err(|_| corrupt("cseq", self.cseq))?;
        let reg_id = self
            .reg_id
            .map(|id| u32::try_from(id).map_err(|_| corrupt("reg-id", id)))
            .transpose()?;
        let path = if self.path.is_empty() {
            Vec::new()
        } else {
            self.path.split(PATH_SEPARATOR).map(str::to_owned).collect()
        };
        Ok(Binding {
            q,
            expires_at_unix: from_sql_u64("expires_at", self.expires_at)?,
            cseq,
            reg_id,
            path,
            updated_unix: from_sql_u64("updated_unix", self.updated_unix)?,
            aor: self.aor,
            contact: self.contact,
            contact_header: self.contact_header,
            call_id: self.call_id,
            instance_id: self.instance_id,
            source: BindingSource {
                transport: self.transport,
                remote_addr: self.remote_addr,
                local_addr: self.local_addr,
                flow_token: self.flow_token,
            },
            user_agent: self.user_agent,
        })
    }
}

impl SqliteStore {
    fn query_bindings(&self, sql: &str, aor: Option<&str>) -> Result<Vec<Binding>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let raws = match aor {
            Some(aor) => stmt.query_map([aor], RawBinding::read)?,
            None => stmt.query_map([], RawBinding::read)?,
        }
        .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawBinding::into_binding).collect()
    }
}

impl BindingStore for SqliteStore {
    fn apply(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        for change in changes {
            change.validate()?;
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut writer = Writer::new(&tx)?;
            for change in changes {
                writer.change(change)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn apply_groups(
        &self,
        groups: &[&[BindingChange]],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let started = Instant::now();
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut results = Vec::with_capacity(groups.len());
        {
            let mut writer = Writer::new(&tx)?;
            for group in groups {
                let result = writer.group(group);
                if let Err(err) = &result {
                    // Some errors (disk full, I/O) make SQLite roll back
                    // the whole transaction: then nothing of this batch
                    // can commit, and later statements must not run
                    // outside it.
                    if tx.is_autocommit() {
                        tracing::warn!(error = %err, "store: group commit aborted");
                        return Err(err.clone());
                    }
                }
                results.push(result);
            }
        }
        tx.commit()?;
        tracing::debug!(
            groups = groups.len(),
            changes = groups.iter().map(|g| g.len()).sum::<usize>(),
            failed = results.iter().filter(|r| r.is_err()).count(),
            micros = started.elapsed().as_micros() as u64,
            "store: group committed"
        );
        Ok(results)
    }

    fn load_all(&self) -> Result<Vec<Binding>, StoreError> {
        self.query_bindings(
            &format!("SELECT {COLUMNS} FROM bindings ORDER BY aor, q DESC, contact"),
            None,
        )
    }

    fn bindings_for(&self, aor: &str) -> Result<Vec<Binding>, StoreError> {
        self.query_bindings(
            &format!("SELECT {COLUMNS} FROM bindings WHERE aor = ?1 ORDER BY q DESC, contact"),
            Some(aor),
        )
    }

    fn purge_expired(&self, now_unix: u64) -> Result<u64, StoreError> {
        let removed = self.conn().execute(
            "DELETE FROM bindings WHERE expires_at <= ?1",
            [to_sql_u64(now_unix)],
        )?;
        if removed > 0 {
            tracing::debug!(removed, "store: expired bindings purged");
        }
        Ok(removed as u64)
    }
}
