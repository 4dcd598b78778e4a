//! [`BindingStore`] for SQLite, on the registrar's own types.
//!
//! The row format (unchanged since schema version 1):
//!
//! * `aor` is `sip:` and the canonical AOR (`sip:alice@example.com`);
//! * `contact` holds the printed [`BindingKey`] (`contact:<uri>`,
//!   `instance:<urn>`, `flow:<reg-id>:<urn>`), so that a device that
//!   changes its contact URI under one instance-id updates its row instead
//!   of leaving one behind;
//! * `contact_header` holds `<uri>;params[;q=..]`
//!   ([`Binding::contact_with_params`]), what `switchboard registrations`
//!   prints; `q` is also a column (1000 when absent), for ordering;
//! * the source is the transport token in lower case and the two
//!   addresses; `flow_token` names the connection, which does not survive a
//!   restart: a loaded binding has no flow;
//! * `updated_unix` is `updated_at`, and comes back as `registered_at`
//!   too.

use rusqlite::{CachedStatement, Connection, Row, params};
use std::net::SocketAddr;
use switchboard_core::{Source, Transport};
use switchboard_server::registrar::{Aor, Binding, BindingChange, BindingKey};
use switchboard_server::storage::BindingStore;

use super::{SqliteStore, from_sql_u64, join_lines, split_lines, to_sql_u64};
use crate::error::StoreError;
use crate::validate::validate_change;

/// The columns of a row, in the order every statement names them (a macro,
/// so that the statements below are literals built at compile time).
macro_rules! columns {
    () => {
        "aor, contact, contact_header, q, expires_at, call_id, cseq, instance_id, reg_id, path, \
         transport, remote_addr, local_addr, flow_token, user_agent, updated_unix"
    };
}

const COLUMNS: &str = columns!();

/// Adds or replaces one binding: a literal, so that a commit looks it up in
/// the connection's statement cache without formatting it first.
const UPSERT_SQL: &str = concat!(
    "INSERT INTO bindings (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
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
);

const REMOVE_SQL: &str = "DELETE FROM bindings WHERE aor = ?1 AND contact = ?2";

/// The statements that write bindings, from the connection's cache
/// (prepared once per connection, not per commit).
pub(super) struct BindingWriter<'c> {
    upsert: CachedStatement<'c>,
    remove: CachedStatement<'c>,
}

impl<'c> BindingWriter<'c> {
    pub(super) fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Self {
            upsert: conn.prepare_cached(UPSERT_SQL)?,
            remove: conn.prepare_cached(REMOVE_SQL)?,
        })
    }

    fn change(&mut self, change: &BindingChange) -> Result<(), StoreError> {
        match change {
            BindingChange::Upsert(b) => {
                let text = BindingText::of(b);
                self.upsert.execute(params![
                    text.aor,
                    text.key,
                    text.contact_header,
                    b.q_or_default(),
                    to_sql_u64(b.expires_at),
                    b.call_id,
                    b.cseq,
                    b.instance,
                    b.reg_id,
                    text.path,
                    text.transport,
                    text.remote,
                    text.local,
                    text.flow,
                    b.user_agent,
                    to_sql_u64(b.updated_at),
                ])?;
            }
            BindingChange::Remove { aor, key, .. } => {
                self.remove
                    .execute(params![stored_aor(aor), key.to_string()])?;
            }
        }
        Ok(())
    }

    /// Validates every change, then writes them in order.
    pub(super) fn apply(&mut self, changes: &[BindingChange]) -> Result<(), StoreError> {
        for change in changes {
            validate_change(change)?;
        }
        changes.iter().try_for_each(|change| self.change(change))
    }
}

/// The text columns of a binding's row, built once per change for either
/// back end's upsert.
pub(crate) struct BindingText {
    pub(crate) aor: String,
    pub(crate) key: String,
    pub(crate) contact_header: String,
    pub(crate) path: String,
    pub(crate) transport: &'static str,
    pub(crate) remote: String,
    pub(crate) local: String,
    pub(crate) flow: Option<String>,
}

impl BindingText {
    pub(crate) fn of(b: &Binding) -> Self {
        Self {
            aor: stored_aor(&b.aor),
            key: b.key.to_string(),
            contact_header: b.contact_with_params(),
            path: join_lines(&b.path),
            transport: b.source.transport.as_lowercase_token(),
            remote: b.source.remote.to_string(),
            local: b.source.local.to_string(),
            flow: b.source.flow.map(|flow| flow.0.to_string()),
        }
    }
}

/// A row as read, before conversion (by either back end).
pub(crate) struct RawBinding {
    pub(crate) aor: String,
    pub(crate) contact: String,
    pub(crate) contact_header: String,
    pub(crate) q: i64,
    pub(crate) expires_at: i64,
    pub(crate) call_id: String,
    pub(crate) cseq: i64,
    pub(crate) instance_id: Option<String>,
    pub(crate) reg_id: Option<i64>,
    pub(crate) path: String,
    pub(crate) transport: String,
    pub(crate) remote_addr: String,
    pub(crate) local_addr: String,
    pub(crate) user_agent: Option<String>,
    pub(crate) updated_unix: i64,
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
            // Column 13, the flow token, names a connection of the
            // process that wrote it: not restored.
            user_agent: row.get(14)?,
            updated_unix: row.get(15)?,
        })
    }

    /// The binding the row holds; `None` (with a warning) for a row whose
    /// text does not map to one, so that one odd row does not stop the
    /// server from starting; numbers out of range are corruption.
    pub(crate) fn into_binding(self) -> Result<Option<Binding>, StoreError> {
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
        let expires_at = from_sql_u64("expires_at", self.expires_at)?;
        let updated_at = from_sql_u64("updated_unix", self.updated_unix)?;
        match self.fields() {
            Ok(fields) => Ok(Some(Binding {
                aor: fields.aor,
                key: fields.key,
                contact: fields.contact,
                params: fields.params,
                q: fields.has_q.then_some(q),
                expires_at,
                call_id: self.call_id,
                cseq,
                path: split_lines(&self.path),
                instance: self.instance_id,
                reg_id,
                source: fields.source,
                user_agent: self.user_agent.map(Into::into),
                registered_at: updated_at,
                updated_at,
            })),
            Err(why) => {
                tracing::warn!(aor = %self.aor, key = %self.contact, why, "store: binding skipped");
                Ok(None)
            }
        }
    }

    /// The fields kept as text that must parse.
    fn fields(&self) -> Result<TextFields, &'static str> {
        const NOT_AN_AOR: &str = "the AOR is not sip:user@domain";
        let (user, domain) = self
            .aor
            .strip_prefix("sip:")
            .and_then(|aor| aor.rsplit_once('@'))
            .ok_or(NOT_AN_AOR)?;
        let aor = Aor::new(user, domain).map_err(|_| NOT_AN_AOR)?;
        let key: BindingKey = self.contact.parse().map_err(|_| "the key does not parse")?;
        let (contact, params) = self
            .contact_header
            .strip_prefix('<')
            .and_then(|rest| rest.split_once('>'))
            .ok_or("the contact is not <uri>")?;
        // `q` was appended last when the UA gave one.
        let (params, has_q) = match params.rfind(";q=") {
            Some(at) if params.get(at + 3..).is_some_and(|q| !q.contains(';')) => {
                (params.get(..at).unwrap_or_default(), true)
            }
            _ => (params, false),
        };
        let transport = Transport::from_token(&self.transport).ok_or("unknown transport")?;
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Ok(TextFields {
            aor,
            key,
            contact: contact.to_owned(),
            params: params.to_owned(),
            has_q,
            source: Source {
                transport,
                remote: self.remote_addr.parse().unwrap_or(unspecified),
                local: self.local_addr.parse().unwrap_or(unspecified),
                flow: None,
            },
        })
    }
}

/// What [`RawBinding::fields`] reads out of the text columns.
struct TextFields {
    aor: Aor,
    key: BindingKey,
    contact: String,
    params: String,
    has_q: bool,
    source: Source,
}

/// `sip:user@domain`: the AOR as the `aor` column keeps it.
pub(crate) fn stored_aor(aor: &Aor) -> String {
    let aor = aor.as_str();
    let mut stored = String::with_capacity(4 + aor.len());
    stored.push_str("sip:");
    stored.push_str(aor);
    stored
}

impl SqliteStore {
    fn query_bindings(&self, sql: &str, aor: Option<&Aor>) -> Result<Vec<Binding>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(sql)?;
        let raws = match aor {
            Some(aor) => stmt.query_map([stored_aor(aor)], RawBinding::read)?,
            None => stmt.query_map([], RawBinding::read)?,
        }
        .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut bindings = Vec::with_capacity(raws.len());
        for raw in raws {
            bindings.extend(raw.into_binding()?);
        }
        Ok(bindings)
    }
}

impl BindingStore for SqliteStore {
    type Error = StoreError;

    fn apply(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        self.write(|tx| BindingWriter::new(tx)?.apply(changes))
    }

    fn apply_groups(
        &self,
        groups: &[&[BindingChange]],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        self.commit_groups(
            groups,
            |group| group.len(),
            |writers, group| writers.bindings()?.apply(group),
        )
    }

    fn load_all(&self) -> Result<Vec<Binding>, StoreError> {
        self.query_bindings(
            &format!("SELECT {COLUMNS} FROM bindings ORDER BY aor, q DESC, contact"),
            None,
        )
    }

    fn bindings_for(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
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
