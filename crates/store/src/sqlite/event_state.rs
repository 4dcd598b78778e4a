//! [`EventStateStore`] for SQLite: subscriptions, publications and stored
//! messages, on the server's own records.
//!
//! The row format (since schema version 4):
//!
//! * `subscriptions`: one row per [`SubscriptionRecord`], keyed by its id;
//!   the route set one entry per line (validation refuses control
//!   characters in an entry), the source as the transport token in lower
//!   case and the address (both `NULL` when there is none), the flags as
//!   0 or 1;
//! * `publications`: one row per [`PublicationRecord`], keyed by its
//!   entity tag;
//! * `dialogs` (since version 7): see `dialogs.rs`;
//! * `messages`: one row per [`StoredMessage`], keyed by its id, with an
//!   insertion counter (`seq`) so that loading gives them oldest first
//!   even when two arrived in the same second; the body as a blob.
//!
//! A row whose text does not map back (an unknown transport, an address
//! that does not parse) is reported as [`StoreError::Corrupt`], never a
//! panic; so is a number out of range.

use std::net::SocketAddr;

use rusqlite::{CachedStatement, Connection, Row, params};
use switchboard_core::Transport;
use switchboard_server::storage::{
    EventStateStore, PublicationRecord, StateChange, StoredMessage, StoredState, SubscriptionRecord,
};

use super::{
    SqliteStore, call_records, dialogs, from_sql_u64, join_lines, split_lines, to_sql_u64,
};
use crate::error::StoreError;
use crate::validate::validate_state_change;

// The columns of each table (macros, so that the statements that write
// them are literals built at compile time, not formatted at every commit).
macro_rules! subscription_columns {
    () => {
        "id, event, resource, watcher, call_id, local_tag, remote_tag, remote_target, route_set, \
         local_cseq, transport, remote_addr, list, active, expires_unix, version"
    };
}
macro_rules! publication_columns {
    () => {
        "etag, aor, event, content_type, body, expires_unix"
    };
}
macro_rules! message_columns {
    () => {
        "id, aor, from_value, to_value, date, content_type, body, received_unix"
    };
}

const SUBSCRIPTION_COLUMNS: &str = subscription_columns!();
const PUBLICATION_COLUMNS: &str = publication_columns!();
const MESSAGE_COLUMNS: &str = message_columns!();

const PUT_SUBSCRIPTION_SQL: &str = concat!(
    "INSERT OR REPLACE INTO subscriptions (",
    subscription_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
);
const PUT_PUBLICATION_SQL: &str = concat!(
    "INSERT OR REPLACE INTO publications (",
    publication_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
);
/// An update keeps the row's place in the order (its seq).
const PUT_MESSAGE_SQL: &str = concat!(
    "INSERT INTO messages (",
    message_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
     ON CONFLICT (id) DO UPDATE SET
         aor = excluded.aor,
         from_value = excluded.from_value,
         to_value = excluded.to_value,
         date = excluded.date,
         content_type = excluded.content_type,
         body = excluded.body,
         received_unix = excluded.received_unix"
);

/// The statements that write the event state, from the connection's cache.
pub(super) struct StateWriter<'c> {
    put_subscription: CachedStatement<'c>,
    remove_subscription: CachedStatement<'c>,
    put_publication: CachedStatement<'c>,
    remove_publication: CachedStatement<'c>,
    put_message: CachedStatement<'c>,
    remove_message: CachedStatement<'c>,
    put_call_record: CachedStatement<'c>,
    expire_call_records: CachedStatement<'c>,
    put_dialog: CachedStatement<'c>,
    remove_dialog: CachedStatement<'c>,
}

impl<'c> StateWriter<'c> {
    pub(super) fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Self {
            put_subscription: conn.prepare_cached(PUT_SUBSCRIPTION_SQL)?,
            remove_subscription: conn.prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?,
            put_publication: conn.prepare_cached(PUT_PUBLICATION_SQL)?,
            remove_publication: conn.prepare_cached("DELETE FROM publications WHERE etag = ?1")?,
            put_message: conn.prepare_cached(PUT_MESSAGE_SQL)?,
            remove_message: conn.prepare_cached("DELETE FROM messages WHERE id = ?1")?,
            put_call_record: conn.prepare_cached(call_records::PUT_SQL)?,
            expire_call_records: conn.prepare_cached(call_records::EXPIRE_SQL)?,
            put_dialog: conn.prepare_cached(dialogs::PUT_SQL)?,
            remove_dialog: conn.prepare_cached(dialogs::REMOVE_SQL)?,
        })
    }

    /// Validates every change, then writes them in order.
    pub(super) fn apply(&mut self, changes: &[StateChange]) -> Result<(), StoreError> {
        for change in changes {
            validate_state_change(change)?;
        }
        changes.iter().try_for_each(|change| self.change(change))
    }

    fn change(&mut self, change: &StateChange) -> Result<(), StoreError> {
        match change {
            StateChange::PutSubscription(s) => {
                let (transport, remote) = source_columns(s.source);
                self.put_subscription.execute(params![
                    s.id,
                    s.event,
                    s.resource,
                    s.watcher,
                    s.call_id,
                    s.local_tag,
                    s.remote_tag,
                    s.remote_target,
                    join_lines(&s.route_set),
                    s.local_cseq,
                    transport,
                    remote,
                    s.list,
                    s.active,
                    to_sql_u64(s.expires_unix),
                    s.version,
                ])?;
            }
            StateChange::RemoveSubscription { id } => {
                self.remove_subscription.execute([id])?;
            }
            StateChange::PutPublication(p) => {
                self.put_publication.execute(params![
                    p.etag,
                    p.aor,
                    p.event,
                    p.content_type,
                    p.body,
                    to_sql_u64(p.expires_unix),
                ])?;
            }
            StateChange::RemovePublication { etag } => {
                self.remove_publication.execute([etag])?;
            }
            StateChange::PutMessage(m) => {
                self.put_message.execute(params![
                    m.id,
                    m.aor,
                    m.from,
                    m.to,
                    m.date,
                    m.content_type,
                    m.body,
                    to_sql_u64(m.received_unix),
                ])?;
            }
            StateChange::RemoveMessage { id } => {
                self.remove_message.execute([id])?;
            }
            StateChange::PutCallRecord(record) => {
                call_records::put(&mut self.put_call_record, record)?;
            }
            StateChange::RemoveCallRecordsBefore { start_ms } => {
                let removed = self.expire_call_records.execute([to_sql_u64(*start_ms)])?;
                if removed > 0 {
                    tracing::info!(removed, "store: expired call records deleted");
                }
            }
            StateChange::PutDialog(record) => dialogs::put(&mut self.put_dialog, record)?,
            StateChange::RemoveDialog { id } => {
                self.remove_dialog.execute([id])?;
            }
            // Only a cluster node shares its calls' states (PostgreSQL): a
            // SQLite node is alone.
            StateChange::PutCallState { .. } => {}
            // Refused by validation before anything is written.
            _ => {
                return Err(StoreError::InvalidInput(
                    "a state change this store does not know".into(),
                ));
            }
        }
        Ok(())
    }
}

/// A subscription's source as its two columns: the transport token in
/// lower case and the address, or both `NULL`.
pub(crate) fn source_columns(
    source: Option<(Transport, SocketAddr)>,
) -> (Option<String>, Option<String>) {
    match source {
        Some((transport, remote)) => (
            Some(transport.as_lowercase_token().to_owned()),
            Some(remote.to_string()),
        ),
        None => (None, None),
    }
}

/// A subscription row as read, before conversion.
pub(crate) struct RawSubscription {
    pub(crate) record: SubscriptionRecord,
    pub(crate) route_set: String,
    pub(crate) local_cseq: i64,
    pub(crate) transport: Option<String>,
    pub(crate) remote_addr: Option<String>,
    pub(crate) expires_unix: i64,
    pub(crate) version: i64,
}

impl RawSubscription {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            record: SubscriptionRecord {
                id: row.get(0)?,
                event: row.get(1)?,
                resource: row.get(2)?,
                watcher: row.get(3)?,
                call_id: row.get(4)?,
                local_tag: row.get(5)?,
                remote_tag: row.get(6)?,
                remote_target: row.get(7)?,
                route_set: Vec::new(),
                local_cseq: 0,
                source: None,
                list: row.get(12)?,
                active: row.get(13)?,
                expires_unix: 0,
                version: 0,
            },
            route_set: row.get(8)?,
            local_cseq: row.get(9)?,
            transport: row.get(10)?,
            remote_addr: row.get(11)?,
            expires_unix: row.get(14)?,
            version: row.get(15)?,
        })
    }

    pub(crate) fn into_record(self) -> Result<SubscriptionRecord, StoreError> {
        let id = &self.record.id;
        let corrupt = |what: &str| StoreError::Corrupt(format!("subscription {id}: {what}"));
        let local_cseq = u32::try_from(self.local_cseq)
            .map_err(|_| corrupt(&format!("local CSeq is {}", self.local_cseq)))?;
        let version = u32::try_from(self.version)
            .map_err(|_| corrupt(&format!("version is {}", self.version)))?;
        let source = match (&self.transport, &self.remote_addr) {
            (None, None) => None,
            (Some(transport), Some(remote)) => {
                let transport = Transport::from_token(transport)
                    .ok_or_else(|| corrupt(&format!("unknown transport {transport:?}")))?;
                let remote: SocketAddr = remote
                    .parse()
                    .map_err(|_| corrupt(&format!("source address {remote:?}")))?;
                Some((transport, remote))
            }
            _ => return Err(corrupt("a source with only one of transport and address")),
        };
        let expires_unix = from_sql_u64("subscription expires_unix", self.expires_unix)?;
        Ok(SubscriptionRecord {
            route_set: split_lines(&self.route_set),
            local_cseq,
            source,
            expires_unix,
            version,
            ..self.record
        })
    }
}

fn read_publication(row: &Row<'_>) -> rusqlite::Result<(PublicationRecord, i64)> {
    Ok((
        PublicationRecord {
            etag: row.get(0)?,
            aor: row.get(1)?,
            event: row.get(2)?,
            content_type: row.get(3)?,
            body: row.get(4)?,
            expires_unix: 0,
        },
        row.get(5)?,
    ))
}

fn read_message(row: &Row<'_>) -> rusqlite::Result<(StoredMessage, i64)> {
    Ok((
        StoredMessage {
            id: row.get(0)?,
            aor: row.get(1)?,
            from: row.get(2)?,
            to: row.get(3)?,
            date: row.get(4)?,
            content_type: row.get(5)?,
            body: row.get(6)?,
            received_unix: 0,
        },
        row.get(7)?,
    ))
}

/// Every row `sql` selects, read by `read`, then converted by `convert`
/// (which reports a value out of range as corruption).
fn load<R, T>(
    conn: &Connection,
    sql: &str,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<R>,
    convert: impl FnMut(R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    conn.prepare(sql)?
        .query_map([], read)?
        .collect::<rusqlite::Result<Vec<R>>>()?
        .into_iter()
        .map(convert)
        .collect()
}

impl EventStateStore for SqliteStore {
    type Error = StoreError;

    fn apply_state(&self, changes: &[StateChange]) -> Result<(), StoreError> {
        self.write(|tx| StateWriter::new(tx)?.apply(changes))
    }

    fn load_state(&self) -> Result<StoredState, StoreError> {
        let conn = self.conn();
        // One read transaction: the tables as of one moment.
        let tx = conn.unchecked_transaction()?;
        let subscriptions = load(
            &tx,
            &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions ORDER BY id"),
            RawSubscription::read,
            RawSubscription::into_record,
        )?;
        let publications = load(
            &tx,
            &format!("SELECT {PUBLICATION_COLUMNS} FROM publications ORDER BY aor, etag"),
            read_publication,
            |(p, expires)| {
                Ok(PublicationRecord {
                    expires_unix: from_sql_u64("publication expires_unix", expires)?,
                    ..p
                })
            },
        )?;
        let messages = load(
            &tx,
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY received_unix, seq"),
            read_message,
            |(m, received)| {
                Ok(StoredMessage {
                    received_unix: from_sql_u64("message received_unix", received)?,
                    ..m
                })
            },
        )?;
        let dialogs = load(
            &tx,
            &dialogs::load_sql(),
            dialogs::RawDialog::read,
            dialogs::RawDialog::into_record,
        )?;
        tx.finish()?;
        Ok(StoredState {
            subscriptions,
            publications,
            messages,
            dialogs,
        })
    }
}
