//! The schema in PostgreSQL: the same versions as SQLite's, step by step
//! (`MIGRATIONS[i]` here is `sqlite::schema`'s `MIGRATIONS[i]` in
//! PostgreSQL's words; a test checks that both lists have the same
//! length), and the same `schema_version` row.
//!
//! Types: every SQLite `INTEGER` is a `BIGINT` (read back as `i64`, as
//! from SQLite), the flags are `BOOLEAN`, a message body is `BYTEA`.

use postgres::Transaction;

use super::classify;
use super::pool::Connection;
use crate::error::StoreError;

/// Migrations, in order; append only, and always with the SQLite step of
/// the same number.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: users and bindings.
    "CREATE TABLE users (
        name            TEXT NOT NULL,
        domain          TEXT NOT NULL,
        ha1_md5         TEXT NOT NULL,
        ha1_sha256      TEXT NOT NULL,
        ha1_sha512_256  TEXT NOT NULL,
        created_unix    BIGINT NOT NULL,
        PRIMARY KEY (domain, name)
    );
    CREATE TABLE bindings (
        aor             TEXT NOT NULL,
        contact         TEXT NOT NULL,
        contact_header  TEXT NOT NULL,
        q               BIGINT NOT NULL,
        expires_at      BIGINT NOT NULL,
        call_id         TEXT NOT NULL,
        cseq            BIGINT NOT NULL,
        instance_id     TEXT,
        reg_id          BIGINT,
        path            TEXT NOT NULL,
        transport       TEXT NOT NULL,
        remote_addr     TEXT NOT NULL,
        local_addr      TEXT NOT NULL,
        flow_token      TEXT,
        user_agent      TEXT,
        updated_unix    BIGINT NOT NULL,
        PRIMARY KEY (aor, contact)
    );
    CREATE INDEX bindings_by_expiry ON bindings (expires_at);",
    // 2: no expiry index (see the SQLite step).
    "DROP INDEX bindings_by_expiry;",
    // 3: the users' change counter, bumped by a trigger.
    "CREATE TABLE users_version (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        version  BIGINT NOT NULL
    );
    INSERT INTO users_version (id, version) VALUES (1, 0);
    CREATE FUNCTION users_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE users_version SET version = version + 1 WHERE id = 1;
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users
        FOR EACH ROW EXECUTE FUNCTION users_version_bump();",
    // 4: the event state.
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
        local_cseq      BIGINT NOT NULL,
        transport       TEXT,
        remote_addr     TEXT,
        list            BOOLEAN NOT NULL,
        active          BOOLEAN NOT NULL,
        expires_unix    BIGINT NOT NULL,
        version         BIGINT NOT NULL
    );
    CREATE TABLE publications (
        etag            TEXT NOT NULL PRIMARY KEY,
        aor             TEXT NOT NULL,
        event           TEXT NOT NULL,
        content_type    TEXT NOT NULL,
        body            TEXT NOT NULL,
        expires_unix    BIGINT NOT NULL
    );
    CREATE TABLE messages (
        seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        aor             TEXT NOT NULL,
        from_value      TEXT NOT NULL,
        to_value        TEXT NOT NULL,
        date            TEXT NOT NULL,
        content_type    TEXT NOT NULL,
        body            BYTEA NOT NULL,
        received_unix   BIGINT NOT NULL
    );",
    // 5: the admin API's bearer tokens.
    "CREATE TABLE admin_tokens (
        name            TEXT NOT NULL PRIMARY KEY,
        hash            TEXT NOT NULL UNIQUE,
        created         BIGINT NOT NULL
    );",
    // 6: call detail records.
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
        start_ms        BIGINT NOT NULL,
        answer_ms       BIGINT,
        end_ms          BIGINT,
        duration_ms     BIGINT,
        disposition     TEXT NOT NULL,
        status          BIGINT,
        hangup          TEXT
    );
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
        caller_cseq     BIGINT,
        callee_uri      TEXT NOT NULL,
        callee_display  TEXT,
        callee_tag      TEXT NOT NULL,
        callee_aor      TEXT,
        callee_contact  TEXT,
        callee_source   TEXT,
        callee_cseq     BIGINT,
        dialled         TEXT NOT NULL,
        route_set       TEXT NOT NULL,
        phase           TEXT NOT NULL,
        start_ms        BIGINT NOT NULL,
        answer_ms       BIGINT,
        updated_ms      BIGINT NOT NULL,
        caller_user     TEXT,
        routed_number   TEXT,
        rule            TEXT,
        target          TEXT,
        trunk           TEXT,
        gateway         TEXT,
        carrier_call_id TEXT,
        carrier_delta   BIGINT
    );",
    // 8: the caller groups kept with each user (see the SQLite step).
    "ALTER TABLE users ADD COLUMN groups TEXT NOT NULL DEFAULT '';",
    // 9: the cluster (see the SQLite step). Triggers keep the change log
    // in the SAME transaction as the change it announces, whoever writes
    // (group commit, the admin API, `registrations`), and NOTIFY the other
    // nodes at commit; the writing node names itself in its session
    // (`switchboard.node`, set when it connects) and may turn the NOTIFY
    // off (`switchboard.notify = off`: polling only). A binding written
    // by a node is homed there (it holds the device's flow).
    "CREATE TABLE nodes (
        name            TEXT NOT NULL PRIMARY KEY,
        sip_uri         TEXT NOT NULL,
        admin_url       TEXT,
        started_at      BIGINT NOT NULL,
        heartbeat_at    BIGINT NOT NULL
    );
    ALTER TABLE bindings ADD COLUMN node TEXT;
    CREATE TABLE cluster_changes (
        seq             BIGSERIAL PRIMARY KEY,
        kind            TEXT NOT NULL,
        key             TEXT NOT NULL,
        node            TEXT,
        at              BIGINT NOT NULL
    );
    CREATE FUNCTION cluster_node() RETURNS TEXT LANGUAGE sql STABLE AS $$
        SELECT NULLIF(current_setting('switchboard.node', true), '')
    $$;
    CREATE FUNCTION row_node() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.node := cluster_node();
        RETURN NEW;
    END
    $$;
    CREATE TRIGGER bindings_home BEFORE INSERT OR UPDATE ON bindings
        FOR EACH ROW EXECUTE FUNCTION row_node();
    ALTER TABLE subscriptions ADD COLUMN node TEXT;
    ALTER TABLE messages ADD COLUMN node TEXT;
    ALTER TABLE dialogs ADD COLUMN node TEXT;
    CREATE TRIGGER subscriptions_node BEFORE INSERT OR UPDATE ON subscriptions
        FOR EACH ROW EXECUTE FUNCTION row_node();
    CREATE TRIGGER messages_node BEFORE INSERT OR UPDATE ON messages
        FOR EACH ROW EXECUTE FUNCTION row_node();
    CREATE TRIGGER dialogs_node BEFORE INSERT OR UPDATE ON dialogs
        FOR EACH ROW EXECUTE FUNCTION row_node();
    CREATE FUNCTION cluster_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changed TEXT;
    BEGIN
        IF TG_OP = 'DELETE' THEN changed := OLD.aor; ELSE changed := NEW.aor; END IF;
        INSERT INTO cluster_changes (kind, key, node, at)
            VALUES (TG_ARGV[0], changed, cluster_node(),
                    (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT);
        IF current_setting('switchboard.notify', true) IS DISTINCT FROM 'off' THEN
            PERFORM pg_notify('switchboard_changes', '');
        END IF;
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER bindings_changed AFTER INSERT OR UPDATE OR DELETE ON bindings
        FOR EACH ROW EXECUTE FUNCTION cluster_change('bindings');
    CREATE TRIGGER publications_changed AFTER INSERT OR UPDATE OR DELETE ON publications
        FOR EACH ROW EXECUTE FUNCTION cluster_change('publications');",
    // 10: the media relay's counters (see the SQLite step).
    "ALTER TABLE call_records ADD COLUMN relayed BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE call_records ADD COLUMN caller_packets_in BIGINT;
    ALTER TABLE call_records ADD COLUMN caller_bytes_in BIGINT;
    ALTER TABLE call_records ADD COLUMN caller_packets_out BIGINT;
    ALTER TABLE call_records ADD COLUMN caller_bytes_out BIGINT;
    ALTER TABLE call_records ADD COLUMN caller_lost BIGINT;
    ALTER TABLE call_records ADD COLUMN caller_jitter BIGINT;
    ALTER TABLE call_records ADD COLUMN callee_packets_in BIGINT;
    ALTER TABLE call_records ADD COLUMN callee_bytes_in BIGINT;
    ALTER TABLE call_records ADD COLUMN callee_packets_out BIGINT;
    ALTER TABLE call_records ADD COLUMN callee_bytes_out BIGINT;
    ALTER TABLE call_records ADD COLUMN callee_lost BIGINT;
    ALTER TABLE call_records ADD COLUMN callee_jitter BIGINT;
    ALTER TABLE dialogs ADD COLUMN relayed BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE dialogs ADD COLUMN caller_sdp TEXT;
    ALTER TABLE dialogs ADD COLUMN callee_sdp TEXT;
    ALTER TABLE dialogs ADD COLUMN caller_relay_sdp TEXT;
    ALTER TABLE dialogs ADD COLUMN callee_relay_sdp TEXT;",
    // 11: the dialogs of the calls each node routes, for the other
    // nodes' busy-lamp watchers (see the SQLite step); each row is named
    // by its writing node and announced in the change log (kind `calls`).
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
        duration        BIGINT,
        node            TEXT,
        PRIMARY KEY (aor, id)
    );
    CREATE TRIGGER call_states_node BEFORE INSERT OR UPDATE ON call_states
        FOR EACH ROW EXECUTE FUNCTION row_node();
    CREATE TRIGGER call_states_changed AFTER INSERT OR UPDATE OR DELETE ON call_states
        FOR EACH ROW EXECUTE FUNCTION cluster_change('calls');",
    // 12: the NOTIFY names the writing node (its payload), so that a
    // node's feed lets its own notifications go without reading the
    // change log; otherwise as migration 9's function (an older node's
    // empty payload still wakes every feed).
    "CREATE OR REPLACE FUNCTION cluster_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changed TEXT;
    BEGIN
        IF TG_OP = 'DELETE' THEN changed := OLD.aor; ELSE changed := NEW.aor; END IF;
        INSERT INTO cluster_changes (kind, key, node, at)
            VALUES (TG_ARGV[0], changed, cluster_node(),
                    (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT);
        IF current_setting('switchboard.notify', true) IS DISTINCT FROM 'off' THEN
            PERFORM pg_notify('switchboard_changes', COALESCE(cluster_node(), ''));
        END IF;
        RETURN NULL;
    END
    $$;",
    // 13: the users' change log (see the SQLite step): the version bump
    // names the user it was for, and drops the change 100,000 before it.
    "CREATE TABLE user_changes (
        version         BIGINT PRIMARY KEY,
        domain          TEXT NOT NULL,
        name            TEXT NOT NULL
    );
    CREATE OR REPLACE FUNCTION users_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        bumped BIGINT;
    BEGIN
        UPDATE users_version SET version = version + 1 WHERE id = 1
            RETURNING version INTO bumped;
        IF TG_OP = 'DELETE' THEN
            INSERT INTO user_changes (version, domain, name)
                VALUES (bumped, OLD.domain, OLD.name);
        ELSE
            INSERT INTO user_changes (version, domain, name)
                VALUES (bumped, NEW.domain, NEW.name);
        END IF;
        DELETE FROM user_changes WHERE version = bumped - 100000;
        RETURN NULL;
    END
    $$;",
];

/// The schema version this build writes and reads.
pub(super) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The advisory lock every migration transaction takes first, so that two
/// nodes starting at once on a new database do not both migrate it.
const MIGRATION_LOCK: i64 = 0x5357_4244_4d49_4752; // "SWBDMIGR"

/// Brings the database to [`SCHEMA_VERSION`], one transaction per
/// migration (PostgreSQL's DDL is transactional), and returns the version
/// found before.
pub(super) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let mut found = None;
    loop {
        let mut tx = conn.client.transaction().map_err(classify)?;
        // No statement timeout here: a migration of a large table, or the
        // wait for another node's, takes as long as it takes.
        tx.batch_execute("SET LOCAL statement_timeout = 0")
            .map_err(classify)?;
        let version = current_version(&mut tx)?;
        let first = *found.get_or_insert(version);
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this build's {SCHEMA_VERSION}: \
                 upgrade Switchboard"
            )));
        }
        let Some(sql) = MIGRATIONS.get(version as usize) else {
            tx.commit().map_err(classify)?;
            return Ok(first);
        };
        tx.batch_execute(sql).map_err(classify)?;
        tx.execute(
            "UPDATE schema_version SET version = $1 WHERE id = 1",
            &[&i64::from(version + 1)],
        )
        .map_err(classify)?;
        tx.commit().map_err(classify)?;
        tracing::info!(from = version, to = version + 1, "store: schema migrated");
    }
}

/// The version row (created at 0 on a new database), under the lock.
fn current_version(tx: &mut Transaction<'_>) -> Result<u32, StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(classify)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL
         );
         INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )
    .map_err(classify)?;
    let row = tx
        .query_opt("SELECT version FROM schema_version WHERE id = 1", &[])
        .map_err(classify)?
        .ok_or_else(|| StoreError::Corrupt("schema_version has no row".into()))?;
    let version: i64 = super::get(&row, 0)?;
    u32::try_from(version).map_err(|_| StoreError::Corrupt(format!("schema version {version}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sqlite_step_has_its_postgres_step() {
        assert_eq!(
            SCHEMA_VERSION,
            crate::sqlite::SqliteStore::schema_version(),
            "a migration added to one back end and not the other"
        );
    }
}
