//! [`EventStateStore`] for PostgreSQL: SQLite's row format (see
//! `sqlite/event_state.rs`; the flags are booleans, the message body a
//! `BYTEA`), its conversion back shared; call records and dialog records
//! in their own files.

use postgres::{Row, Statement, Transaction};
use switchboard_server::storage::{
    EventStateStore, PublicationRecord, StateChange, StoredMessage, StoredState, SubscriptionRecord,
};

use super::call_records::RecordWriter;
use super::call_states::CallStateWriter;
use super::dialogs::{self, DialogWriter};
use super::pending_rows::PendingRows;
use super::{PostgresStore, big, classify, get, upsert_sql};
use crate::error::StoreError;
use crate::sqlite::event_state::{RawSubscription, source_columns};
use crate::sqlite::{from_sql_u64, join_lines, to_sql_u64};
use crate::validate::validate_state_change;

const SUBSCRIPTION_COLUMNS: [&str; 16] = [
    "id",
    "event",
    "resource",
    "watcher",
    "call_id",
    "local_tag",
    "remote_tag",
    "remote_target",
    "route_set",
    "local_cseq",
    "transport",
    "remote_addr",
    "list",
    "active",
    "expires_unix",
    "version",
];
pub(super) const PUBLICATION_COLUMNS: [&str; 6] = [
    "etag",
    "aor",
    "event",
    "content_type",
    "body",
    "expires_unix",
];
const MESSAGE_COLUMNS: [&str; 8] = [
    "id",
    "aor",
    "from_value",
    "to_value",
    "date",
    "content_type",
    "body",
    "received_unix",
];

/// The rows this node loads back: its own (the session's
/// `switchboard.node`) and those no node named.
const OWNED: &str = "(node IS NULL OR node = cluster_node())";

/// The statements that write the event state.
pub(super) struct StateWriter {
    put_subscription: Statement,
    remove_subscription: Statement,
    put_publication: Statement,
    remove_publication: Statement,
    put_message: Statement,
    remove_message: Statement,
    records: RecordWriter,
    dialogs: DialogWriter,
    call_states: CallStateWriter,
}

impl StateWriter {
    pub(super) fn sql() -> [String; 12] {
        let [put_record, expire_records] = RecordWriter::sql();
        let [put_dialog, remove_dialog] = DialogWriter::sql();
        let [put_call_state, forget_ended] = CallStateWriter::sql();
        [
            upsert_sql("subscriptions", &SUBSCRIPTION_COLUMNS, &["id"]),
            "DELETE FROM subscriptions WHERE id = $1".to_owned(),
            upsert_sql("publications", &PUBLICATION_COLUMNS, &["etag"]),
            "DELETE FROM publications WHERE etag = $1".to_owned(),
            // An update keeps the row's place in the order (its seq).
            upsert_sql("messages", &MESSAGE_COLUMNS, &["id"]),
            "DELETE FROM messages WHERE id = $1".to_owned(),
            put_record,
            expire_records,
            put_dialog,
            remove_dialog,
            put_call_state,
            forget_ended,
        ]
    }

    pub(super) fn new(
        [
            put_subscription,
            remove_subscription,
            put_publication,
            remove_publication,
            put_message,
            remove_message,
            put_record,
            expire_records,
            put_dialog,
            remove_dialog,
            put_call_state,
            forget_ended,
        ]: [Statement; 12],
    ) -> Self {
        Self {
            put_subscription,
            remove_subscription,
            put_publication,
            remove_publication,
            put_message,
            remove_message,
            records: RecordWriter::new([put_record, expire_records]),
            dialogs: DialogWriter::new([put_dialog, remove_dialog]),
            call_states: CallStateWriter::new([put_call_state, forget_ended]),
        }
    }

    /// Validates every change, then writes them in order in `tx`; call
    /// records, dialog records and call states go to `pending`, written by
    /// [`flush`](Self::flush) at the end of the batch.
    pub(super) fn apply<'a>(
        &self,
        tx: &mut Transaction<'_>,
        pending: &mut PendingRows<'a>,
        changes: &'a [StateChange],
    ) -> Result<(), StoreError> {
        for change in changes {
            validate_state_change(change)?;
        }
        for change in changes {
            self.change(tx, pending, change)?;
        }
        Ok(())
    }

    /// Writes the rows `pending` holds back.
    pub(super) fn flush(
        &self,
        tx: &mut Transaction<'_>,
        pending: &mut PendingRows<'_>,
    ) -> Result<(), StoreError> {
        pending.flush(tx, &self.records, &self.dialogs, &self.call_states)
    }

    fn change<'a>(
        &self,
        tx: &mut Transaction<'_>,
        pending: &mut PendingRows<'a>,
        change: &'a StateChange,
    ) -> Result<(), StoreError> {
        match change {
            StateChange::PutSubscription(s) => {
                let (transport, remote) = source_columns(s.source);
                tx.execute(
                    &self.put_subscription,
                    &[
                        &s.id,
                        &s.event,
                        &s.resource,
                        &s.watcher,
                        &s.call_id,
                        &s.local_tag,
                        &s.remote_tag,
                        &s.remote_target,
                        &join_lines(&s.route_set),
                        &big(s.local_cseq),
                        &transport,
                        &remote,
                        &s.list,
                        &s.active,
                        &to_sql_u64(s.expires_unix),
                        &big(s.version),
                    ],
                )
                .map_err(classify)?;
            }
            StateChange::RemoveSubscription { id } => {
                tx.execute(&self.remove_subscription, &[id])
                    .map_err(classify)?;
            }
            StateChange::PutPublication(p) => {
                tx.execute(
                    &self.put_publication,
                    &[
                        &p.etag,
                        &p.aor,
                        &p.event,
                        &p.content_type,
                        &p.body,
                        &to_sql_u64(p.expires_unix),
                    ],
                )
                .map_err(classify)?;
            }
            StateChange::RemovePublication { etag } => {
                tx.execute(&self.remove_publication, &[etag])
                    .map_err(classify)?;
            }
            StateChange::PutMessage(m) => {
                tx.execute(
                    &self.put_message,
                    &[
                        &m.id,
                        &m.aor,
                        &m.from,
                        &m.to,
                        &m.date,
                        &m.content_type,
                        &m.body,
                        &to_sql_u64(m.received_unix),
                    ],
                )
                .map_err(classify)?;
            }
            StateChange::RemoveMessage { id } => {
                tx.execute(&self.remove_message, &[id]).map_err(classify)?;
            }
            StateChange::PutCallRecord(record) => pending.put_record(record),
            StateChange::RemoveCallRecordsBefore { start_ms } => {
                // The records put before it are old enough to go too.
                if pending.has_records() {
                    self.flush(tx, pending)?;
                }
                self.records.expire(tx, *start_ms)?;
            }
            StateChange::PutDialog(record) => pending.put_dialog(record),
            StateChange::RemoveDialog { id } => pending.remove_dialog(id),
            StateChange::PutCallState { aor, dialog } => pending.put_call_state(aor, dialog),
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

fn read_subscription(row: &Row) -> Result<SubscriptionRecord, StoreError> {
    RawSubscription {
        record: SubscriptionRecord {
            id: get(row, 0)?,
            event: get(row, 1)?,
            resource: get(row, 2)?,
            watcher: get(row, 3)?,
            call_id: get(row, 4)?,
            local_tag: get(row, 5)?,
            remote_tag: get(row, 6)?,
            remote_target: get(row, 7)?,
            route_set: Vec::new(),
            local_cseq: 0,
            source: None,
            list: get(row, 12)?,
            active: get(row, 13)?,
            expires_unix: 0,
            version: 0,
        },
        route_set: get(row, 8)?,
        local_cseq: get(row, 9)?,
        transport: get(row, 10)?,
        remote_addr: get(row, 11)?,
        expires_unix: get(row, 14)?,
        version: get(row, 15)?,
    }
    .into_record()
}

pub(super) fn read_publication(row: &Row) -> Result<PublicationRecord, StoreError> {
    Ok(PublicationRecord {
        etag: get(row, 0)?,
        aor: get(row, 1)?,
        event: get(row, 2)?,
        content_type: get(row, 3)?,
        body: get(row, 4)?,
        expires_unix: from_sql_u64("publication expires_unix", get(row, 5)?)?,
    })
}

fn read_message(row: &Row) -> Result<StoredMessage, StoreError> {
    Ok(StoredMessage {
        id: get(row, 0)?,
        aor: get(row, 1)?,
        from: get(row, 2)?,
        to: get(row, 3)?,
        date: get(row, 4)?,
        content_type: get(row, 5)?,
        body: get(row, 6)?,
        received_unix: from_sql_u64("message received_unix", get(row, 7)?)?,
    })
}

impl EventStateStore for PostgresStore {
    type Error = StoreError;

    fn apply_state(&self, changes: &[StateChange]) -> Result<(), StoreError> {
        self.write(|writers, tx| {
            let mut pending = PendingRows::default();
            writers.state.apply(tx, &mut pending, changes)?;
            writers.state.flush(tx, &mut pending)
        })
    }

    fn load_state(&self) -> Result<StoredState, StoreError> {
        let (subscriptions, publications, messages, dialogs) = self.run(|conn| {
            // In a cluster a node takes back only its own subscriptions,
            // messages and calls (and those no node named); the
            // publications are everybody's.
            let [subscriptions, publications, messages, dialogs] = conn.statements([
                &format!(
                    "SELECT {} FROM subscriptions WHERE {OWNED} ORDER BY id COLLATE \"C\"",
                    SUBSCRIPTION_COLUMNS.join(", ")
                ),
                &format!(
                    "SELECT {} FROM publications ORDER BY aor COLLATE \"C\", etag COLLATE \"C\"",
                    PUBLICATION_COLUMNS.join(", ")
                ),
                &format!(
                    "SELECT {} FROM messages WHERE {OWNED} ORDER BY received_unix, seq",
                    MESSAGE_COLUMNS.join(", ")
                ),
                &dialogs::load_sql().replacen(" ORDER BY", &format!(" WHERE {OWNED} ORDER BY"), 1),
            ])?;
            // One read-only snapshot: the four tables as of one moment.
            let mut tx = conn
                .client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(classify)?;
            let rows = (
                tx.query(&subscriptions, &[]).map_err(classify)?,
                tx.query(&publications, &[]).map_err(classify)?,
                tx.query(&messages, &[]).map_err(classify)?,
                tx.query(&dialogs, &[]).map_err(classify)?,
            );
            tx.commit().map_err(classify)?;
            Ok(rows)
        })?;
        Ok(StoredState {
            subscriptions: subscriptions
                .iter()
                .map(read_subscription)
                .collect::<Result<_, _>>()?,
            publications: publications
                .iter()
                .map(read_publication)
                .collect::<Result<_, _>>()?,
            messages: messages
                .iter()
                .map(read_message)
                .collect::<Result<_, _>>()?,
            dialogs: dialogs
                .iter()
                .map(dialogs::read_dialog)
                .collect::<Result<_, _>>()?,
        })
    }
}
