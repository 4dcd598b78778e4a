//! The schema: a version table and migrations applied in order.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::StoreError;

/// Migrations, in order: `MIGRATIONS[i]` takes the schema from version `i`
/// to `i + 1`. Append only; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: users and bindings.
    "CREATE TABLE users (
        name            TEXT NOT NULL,
        domain          TEXT NOT NULL,
        ha1_md5         TEXT NOT NULL,
        ha1_sha256      TEXT NOT NULL,
        ha1_sha512_256  TEXT NOT NULL,
        created_unix    INTEGER NOT NULL,
        PRIMARY KEY (domain, name)
    ) WITHOUT ROWID;
    CREATE TABLE bindings (
        aor             TEXT NOT NULL,
        contact         TEXT NOT NULL,
        contact_header  TEXT NOT NULL,
        q               INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        call_id         TEXT NOT NULL,
        cseq            INTEGER NOT NULL,
        instance_id     TEXT,
        reg_id          INTEGER,
        path            TEXT NOT NULL,
        transport       TEXT NOT NULL,
        remote_addr     TEXT NOT NULL,
        local_addr      TEXT NOT NULL,
        flow_token      TEXT,
        user_agent      TEXT,
        updated_unix    INTEGER NOT NULL,
        PRIMARY KEY (aor, contact)
    ) WITHOUT ROWID;
    CREATE INDEX bindings_by_expiry ON bindings (expires_at);",
    // 2: no expiry index. Every refresh moved the binding's entry in it (two
    // more pages written per REGISTER); expired bindings are removed by key
    // from the in-memory registrar, and the rare purge scans the table.
    "DROP INDEX bindings_by_expiry;",
    // 3: a counter every change of the users table bumps, so a server can
    // keep the users in memory and reload them only when they changed.
    "CREATE TABLE users_version (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        version  INTEGER NOT NULL
    );
    INSERT INTO users_version (id, version) VALUES (1, 0);
    CREATE TRIGGER users_inserted AFTER INSERT ON users
        BEGIN UPDATE users_version SET version = version + 1 WHERE id = 1; END;
    CREATE TRIGGER users_updated AFTER UPDATE ON users
        BEGIN UPDATE users_version SET version = version + 1 WHERE id = 1; END;
    CREATE TRIGGER users_deleted AFTER DELETE ON users
        BEGIN UPDATE users_version SET version = version + 1 WHERE id = 1; END;",
    // 4: the event state: subscriptions the server notifies, publications
    // it holds, messages kept for users with no device (offline messages).
    "CREATE TABLE subscriptions (
        id              TEXT NOT NULL PRIMARY KEY,
        event           TEXT NOT NULL,
        resource        TEXT NOT NULL,
        watcher         TEXT NOT NULL,
        call_id         TEXT NOT NULL,
        local_tag       TEXT NOT NULL,
        remote_tag      TEXT NOT NULL,
        remote_target   TEXT NOT NULL,
        route_set       TEXT NOT NULL,
        local_cseq      INTEGER NOT NULL,
        transport       TEXT,
        remote_addr     TEXT,
        list            INTEGER NOT NULL,
        active          INTEGER NOT NULL,
        expires_unix    INTEGER NOT NULL,
        version         INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE publications (
        etag            TEXT NOT NULL PRIMARY KEY,
        aor             TEXT NOT NULL,
        event           TEXT NOT NULL,
        content_type    TEXT NOT NULL,
        body            TEXT NOT NULL,
        expires_unix    INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT NOT NULL UNIQUE,
        aor             TEXT NOT NULL,
        from_value      TEXT NOT NULL,
        to_value        TEXT NOT NULL,
        date            TEXT NOT NULL,
        content_type    TEXT NOT NULL,
        body            BLOB NOT NULL,
        received_unix   INTEGER NOT NULL
    );",
    // 5: the admin API's bearer tokens: only each token's SHA-256 (hex) is
    // kept, under the name the operator gave it.
    "CREATE TABLE admin_tokens (
        name            TEXT NOT NULL PRIMARY KEY,
        hash            TEXT NOT NULL UNIQUE,
        created         INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 6: call detail records, one per call attempt, keyed by Call-ID and
    // From tag; read by start time (queries and retention).
    "CREATE TABLE call_records (
        id              TEXT NOT NULL PRIMARY KEY,
        call_id         TEXT NOT NULL,
        caller          TEXT NOT NULL,
        caller_user     TEXT,
        callee          TEXT NOT NULL,
        dialled         TEXT NOT NULL,
        routed_number   TEXT,
        rule            TEXT,
        target          TEXT,
        trunk           TEXT,
        gateway         TEXT,
        source          TEXT NOT NULL,
        start_ms        INTEGER NOT NULL,
        answer_ms       INTEGER,
        end_ms          INTEGER,
        duration_ms     INTEGER,
        disposition     TEXT NOT NULL,
        status          INTEGER,
        hangup          TEXT
    ) WITHOUT ROWID;
    CREATE INDEX call_records_by_start ON call_records (start_ms);",
    // 7: the calls in progress (record-routed, answered), keyed by Call-ID
    // and the caller's tag, so that a restart keeps them passing.
    "CREATE TABLE dialogs (
        id              TEXT NOT NULL PRIMARY KEY,
        call_id         TEXT NOT NULL,
        caller_uri      TEXT NOT NULL,
        caller_display  TEXT,
        caller_tag      TEXT NOT NULL,
        caller_aor      TEXT,
        caller_contact  TEXT,
        caller_source   TEXT,
        caller_cseq     INTEGER,
        callee_uri      TEXT NOT NULL,
        callee_display  TEXT,
        callee_tag      TEXT NOT NULL,
        callee_aor      TEXT,
        callee_contact  TEXT,
        callee_source   TEXT,
        callee_cseq     INTEGER,
        dialled         TEXT NOT NULL,
        route_set       TEXT NOT NULL,
        phase           TEXT NOT NULL,
        start_ms        INTEGER NOT NULL,
        answer_ms       INTEGER,
        updated_ms      INTEGER NOT NULL,
        caller_user     TEXT,
        routed_number   TEXT,
        rule            TEXT,
        target          TEXT,
        trunk           TEXT,
        gateway         TEXT,
        carrier_call_id TEXT,
        carrier_delta   INTEGER
    ) WITHOUT ROWID;",
    // 8: the caller groups kept with each user (on top of the dial plan's
    // `[groups]`), names with `,` between, empty for none.
    "ALTER TABLE users ADD COLUMN groups TEXT NOT NULL DEFAULT '';",
    // 9: the cluster (issue 14): the nodes sharing a database, each
    // binding's home node (the one holding its flow), and the change log
    // other nodes follow. A SQLite node is alone: the tables stay empty;
    // they exist so that both back ends keep one numbering.
    "CREATE TABLE nodes (
        name            TEXT NOT NULL PRIMARY KEY,
        sip_uri         TEXT NOT NULL,
        admin_url       TEXT,
        started_at      INTEGER NOT NULL,
        heartbeat_at    INTEGER NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE bindings ADD COLUMN node TEXT;
    ALTER TABLE subscriptions ADD COLUMN node TEXT;
    ALTER TABLE messages ADD COLUMN node TEXT;
    ALTER TABLE dialogs ADD COLUMN node TEXT;
    CREATE TABLE cluster_changes (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        kind            TEXT NOT NULL,
        key             TEXT NOT NULL,
        node            TEXT,
        at              INTEGER NOT NULL
    );",
    // 10: the media relay's counters of a relayed call, per party: the
    // packets and bytes it sent in and was sent, and the loss and jitter
    // its RTCP reports gave (NULL without a report, or unrelayed); and
    // whether a call in progress is anchored on the relay, with the SDP each
    // party sent and received (what the relay takes it back with after a
    // restart; without them a restart ends it).
    "ALTER TABLE call_records ADD COLUMN relayed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE call_records ADD COLUMN caller_packets_in INTEGER;
    ALTER TABLE call_records ADD COLUMN caller_bytes_in INTEGER;
    ALTER TABLE call_records ADD COLUMN caller_packets_out INTEGER;
    ALTER TABLE call_records ADD COLUMN caller_bytes_out INTEGER;
    ALTER TABLE call_records ADD COLUMN caller_lost INTEGER;
    ALTER TABLE call_records ADD COLUMN caller_jitter INTEGER;
    ALTER TABLE call_records ADD COLUMN callee_packets_in INTEGER;
    ALTER TABLE call_records ADD COLUMN callee_bytes_in INTEGER;
    ALTER TABLE call_records ADD COLUMN callee_packets_out INTEGER;
    ALTER TABLE call_records ADD COLUMN callee_bytes_out INTEGER;
    ALTER TABLE call_records ADD COLUMN callee_lost INTEGER;
    ALTER TABLE call_records ADD COLUMN callee_jitter INTEGER;
    ALTER TABLE dialogs ADD COLUMN relayed INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE dialogs ADD COLUMN caller_sdp TEXT;
    ALTER TABLE dialogs ADD COLUMN callee_sdp TEXT;
    ALTER TABLE dialogs ADD COLUMN caller_relay_sdp TEXT;
    ALTER TABLE dialogs ADD COLUMN callee_relay_sdp TEXT;",
    // 11: the dialogs of the calls each cluster node routes (the user's
    // AOR, the dialog as dialog-info shows it to that user, the node that
    // wrote it), for the other nodes' busy-lamp watchers. A SQLite node is
    // alone: the table stays empty, as migration 9's.
    "CREATE TABLE call_states (
        aor             TEXT NOT NULL,
        id              TEXT NOT NULL,
        call_id         TEXT NOT NULL,
        local_tag       TEXT,
        remote_tag      TEXT,
        direction       TEXT NOT NULL,
        state           TEXT NOT NULL,
        reason          TEXT,
        code            INTEGER,
        local_identity  TEXT NOT NULL,
        local_display   TEXT,
        local_target    TEXT,
        remote_identity TEXT NOT NULL,
        remote_display  TEXT,
        remote_target   TEXT,
        duration        INTEGER,
        node            TEXT,
        PRIMARY KEY (aor, id)
    ) WITHOUT ROWID;",
    // 12: nothing here: PostgreSQL's change notifications name the
    // writing node (a SQLite node is alone).
    "-- no change",
    // 13: a change log of the users (issue 15): each bump of the users
    // version names the user it was for (deletions included), so that a
    // running server reads only the users changed since the version it
    // holds rather than all of them. The last 100,000 changes are kept
    // (each change drops the one that many before it); a server further
    // behind reads every user again.
    "CREATE TABLE user_changes (
        version         INTEGER PRIMARY KEY,
        domain          TEXT NOT NULL,
        name            TEXT NOT NULL
    );
    DROP TRIGGER users_inserted;
    DROP TRIGGER users_updated;
    DROP TRIGGER users_deleted;
    CREATE TRIGGER users_inserted AFTER INSERT ON users BEGIN
        UPDATE users_version SET version = version + 1 WHERE id = 1;
        INSERT INTO user_changes (version, domain, name)
            SELECT version, NEW.domain, NEW.name FROM users_version WHERE id = 1;
    END;
    CREATE TRIGGER users_updated AFTER UPDATE ON users BEGIN
        UPDATE users_version SET version = version + 1 WHERE id = 1;
        INSERT INTO user_changes (version, domain, name)
            SELECT version, NEW.domain, NEW.name FROM users_version WHERE id = 1;
    END;
    CREATE TRIGGER users_deleted AFTER DELETE ON users BEGIN
        UPDATE users_version SET version = version + 1 WHERE id = 1;
        INSERT INTO user_changes (version, domain, name)
            SELECT version, OLD.domain, OLD.name FROM users_version WHERE id = 1;
    END;
    CREATE TRIGGER user_changes_pruned AFTER INSERT ON user_changes BEGIN
        DELETE FROM user_changes WHERE version = NEW.version - 100000;
    END;",
];

/// The schema version this build writes and reads.
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database to [`SCHEMA_VERSION`], one transaction per
/// migration, and returns the version found before.
///
/// `BEGIN IMMEDIATE` takes the write lock first, so two processes opening a
/// new database at once do not both migrate it.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let mut found = None;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_version (
                 id      INTEGER PRIMARY KEY CHECK (id = 1),
                 version INTEGER NOT NULL
             );
             INSERT OR IGNORE INTO schema_version (id, version) VALUES (1, 0);",
        )?;
        let version: i64 = tx
            .query_row(
                "SELECT version FROM schema_version WHERE id = 1",
                [],
                |row| row.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::Corrupt("schema_version has no row".into()))?;
        let version = u32::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {version}")))?;
        let first = *found.get_or_insert(version);
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this build's {SCHEMA_VERSION}: \
                 upgrade Switchboard"
            )));
        }
        let Some(sql) = MIGRATIONS.get(version as usize) else {
            tx.commit()?;
            return Ok(first);
        };
        tx.execute_batch(sql)?;
        tx.execute(
            "UPDATE schema_version SET version = ?1 WHERE id = 1",
            [version + 1],
        )?;
        tx.commit()?;
        tracing::info!(from = version, to = version + 1, "store: schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
        conn.execute("UPDATE schema_version SET version = 99", [])
            .unwrap();
        assert!(matches!(migrate(&mut conn), Err(StoreError::Corrupt(_))));
    }
}
