//! The PostgreSQL back end: the same tables and the same behaviour as the
//! SQLite one, in a database the operator names by URL, so that several
//! nodes can share it later (issue 14).
//!
//! * A small bounded pool of connections ([`DEFAULT_POOL_SIZE`]), each
//!   with its prepared statements cached; a connection lost is replaced on
//!   the next use, so the store recovers by itself when the database is
//!   back ([`StoreError::Unavailable`] meanwhile).
//! * Serialization failures (SQLSTATE 40001, what CockroachDB returns under
//!   contention) and deadlocks (40P01) are retried [`MAX_ATTEMPTS`] times
//!   with a growing pause; every write is idempotent (upserts, deletes by
//!   key), so a retried one is safe.
//! * Group commit as in SQLite: the submissions of a batch in one
//!   transaction, each in a savepoint; the batch's call records, dialog
//!   records and call states written at its end, one statement per kind
//!   (`pending_rows.rs`).
//! * Durability is the server's: a commit that returned is on its WAL
//!   (`synchronous_commit` as the operator configured it).

mod bindings;
mod call_records;
mod call_states;
mod change_cursor;
mod cluster_feed;
mod dialogs;
mod event_state;
mod groups;
mod node_session;
mod pending_rows;
mod pool;
mod row_batch;
mod schema;
mod tokens;
mod user_writes;
mod users;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use postgres::Config;
use postgres::error::SqlState;
use switchboard_server::service::{UserDelta, UserDirectory};

use crate::error::StoreError;
use crate::sqlite::from_sql_u64;
use pool::{Connection, Pool};

pub use cluster_feed::{ClusterFeed, ClusterFeedConfig, ClusterFeedHandle};
pub use node_session::NodeSession;

/// Connections a [`PostgresStore`] opens at most unless told otherwise.
pub const DEFAULT_POOL_SIZE: usize = 3;

/// Tries of one operation that meets a serialization failure or a deadlock.
pub const MAX_ATTEMPTS: u32 = 5;

/// How long opening a connection may take when the URL does not say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long data sent may stay unacknowledged before the connection is
/// given up (TCP_USER_TIMEOUT), and how long an idle connection goes
/// unprobed (TCP keepalive, three probes `KEEPALIVE_INTERVAL` apart): a
/// database host that vanished without a word (powered off, a network
/// partition) fails the store's calls within seconds as
/// [`StoreError::Unavailable`] (a REGISTER gets 503) instead of holding
/// the store thread for the kernel's 15 minutes of retransmissions.
const DEAD_PEER_TIMEOUT: Duration = Duration::from_secs(10);
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(3);
const KEEPALIVE_RETRIES: u32 = 3;

/// `statement_timeout` of the sessions unless the URL's `options` set one:
/// a statement stuck on the server (a lock held by another client) is
/// cancelled rather than waited for without end.
const STATEMENT_TIMEOUT: &str = "-c statement_timeout=30s";

/// The first pause before a retry; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// Users, bindings and the event state in PostgreSQL, behind a pool:
/// `&self` everywhere, `Send + Sync`. As with SQLite, give the
/// [`GroupCommitter`](crate::GroupCommitter) a store of its own
/// ([`PostgresStore::connect_with_pool`] with one connection).
pub struct PostgresStore {
    pool: Pool,
    /// The URL without its password, for logs.
    shown: String,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.shown)
            .field("pool", &self.pool)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`,
    /// or the key=value form) with [`DEFAULT_POOL_SIZE`] connections, and
    /// brings the schema up to date.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a URL that does not parse;
    /// [`StoreError::Unavailable`] if the database cannot be reached;
    /// [`StoreError::Corrupt`] if its schema is newer than this build's.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_pool(url, DEFAULT_POOL_SIZE)
    }

    /// [`connect`](Self::connect) with at most `pool_size` connections.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_with_pool(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        Self::connect_as(url, pool_size, None)
    }

    /// [`connect_with_pool`](Self::connect_with_pool) for a node of a
    /// cluster: its sessions name it (the change log and the bindings'
    /// home node record it) and say whether the triggers NOTIFY.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_as(
        url: &str,
        pool_size: usize,
        session: Option<&NodeSession>,
    ) -> Result<Self, StoreError> {
        let mut config = Config::from_str(url)
            .map_err(|err| StoreError::InvalidInput(format!("database URL: {err}")))?;
        bound_waits(&mut config);
        if let Some(session) = session {
            session.apply(&mut config);
        }
        config.application_name("switchboard");
        let shown = shown_url(&config);
        let store = Self {
            pool: Pool::new(config, pool_size),
            shown,
        };
        let before = store.run(schema::migrate)?;
        tracing::info!(
            database = %store.shown,
            schema_version = schema::SCHEMA_VERSION,
            found_version = before,
            pool_size,
            "store: opened PostgreSQL database"
        );
        Ok(store)
    }

    /// The database, as `host:port/name` (no user or password).
    #[must_use]
    pub fn database(&self) -> &str {
        &self.shown
    }

    /// The schema version this build uses.
    #[must_use]
    pub const fn schema_version() -> u32 {
        schema::SCHEMA_VERSION
    }

    /// As [`SqliteStore::users_version`](crate::SqliteStore::users_version).
    ///
    /// # Errors
    /// Environment errors.
    pub fn users_version(&self) -> Result<u64, StoreError> {
        self.run(|conn| {
            let statement = conn.statement(users::VERSION_SQL)?;
            let row = conn.client.query_one(&statement, &[]).map_err(classify)?;
            from_sql_u64("users_version", get(&row, 0)?)
        })
    }

    /// As [`SqliteStore::user_directory`](crate::SqliteStore::user_directory):
    /// the rows streamed from the server into the directory one by one.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn user_directory(&self) -> Result<UserDirectory, StoreError> {
        self.run(users::directory)
    }

    /// As [`SqliteStore::user_changes_since`](crate::SqliteStore::user_changes_since).
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn user_changes_since(&self, version: u64) -> Result<Option<UserDelta>, StoreError> {
        self.run(|conn| users::changes_since(conn, version))
    }

    /// Runs `work` on a pooled connection: again after a pause on a
    /// serialization failure or a deadlock (up to [`MAX_ATTEMPTS`] in
    /// all), and once more on a new connection when a reused one turns out
    /// dead (the database restarted since it was opened).
    fn run<T>(
        &self,
        mut work: impl FnMut(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0;
        let mut fresh = false;
        loop {
            attempt += 1;
            let (result, reused) = self.pool.with(fresh, &mut work);
            match result {
                Err(StoreError::Unavailable(_)) if reused && !fresh => {
                    tracing::debug!("store: pooled connection lost, reconnecting");
                    fresh = true;
                }
                Err(StoreError::Postgres(err)) if is_retryable(&err) && attempt < MAX_ATTEMPTS => {
                    let pause = FIRST_BACKOFF * 2_u32.pow(attempt - 1);
                    tracing::debug!(error = %err, attempt, ?pause, "store: retrying");
                    std::thread::sleep(pause);
                }
                other => return other,
            }
        }
    }
}

/// Bounds every wait on the database that the URL does not bound itself
/// (see [`DEAD_PEER_TIMEOUT`]).
fn bound_waits(config: &mut Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(DEAD_PEER_TIMEOUT);
    }
    match config.get_options() {
        Some(theirs) if theirs.contains("statement_timeout") => {}
        Some(theirs) if !theirs.is_empty() => {
            let options = format!("{theirs} {STATEMENT_TIMEOUT}");
            config.options(&options);
        }
        _ => {
            config.options(STATEMENT_TIMEOUT);
        }
    }
    config
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .keepalives_interval(KEEPALIVE_INTERVAL)
        .keepalives_retries(KEEPALIVE_RETRIES);
}

/// `host:port/dbname` of `config`, for logs (never the password).
fn shown_url(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let name = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or_default();
    format!("{host}:{port}/{name}")
}

/// True for the errors worth running the transaction again.
fn is_retryable(err: &postgres::Error) -> bool {
    matches!(
        err.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE | &SqlState::T_R_DEADLOCK_DETECTED)
    )
}

/// Sorts PostgreSQL's errors: the connection (cannot connect, lost, the
/// server shutting down) is [`StoreError::Unavailable`], everything else
/// [`StoreError::Postgres`].
pub(crate) fn classify(err: postgres::Error) -> StoreError {
    let connection_gone = match err.code() {
        Some(code) => {
            code.code().starts_with("08")
                || matches!(
                    code,
                    &SqlState::ADMIN_SHUTDOWN
                        | &SqlState::CRASH_SHUTDOWN
                        | &SqlState::CANNOT_CONNECT_NOW
                )
        }
        None => {
            err.is_closed()
                || std::error::Error::source(&err)
                    .is_some_and(|source| source.is::<std::io::Error>())
        }
    };
    if connection_gone {
        StoreError::Unavailable(Arc::new(err))
    } else {
        StoreError::Postgres(Arc::new(err))
    }
}

/// True when `err` is a unique-key violation (the thing already exists).
fn is_unique_violation(err: &StoreError) -> bool {
    matches!(err, StoreError::Postgres(err) if err.code() == Some(&SqlState::UNIQUE_VIOLATION))
}

/// Column `index` of `row`; a value of the wrong type is corruption.
fn get<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|err| StoreError::Corrupt(format!("column {index}: {err}")))
}

/// `u32` to PostgreSQL's `BIGINT`.
fn big(value: impl Into<i64>) -> i64 {
    value.into()
}

/// `INSERT INTO table (columns) VALUES ($1, ..) ON CONFLICT (key) DO
/// UPDATE SET` every other column: PostgreSQL's form of SQLite's
/// `INSERT OR REPLACE`.
fn upsert_sql(table: &str, columns: &[&str], key: &[&str]) -> String {
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    upsert_rows_from(
        table,
        columns,
        &format!("VALUES ({})", placeholders.join(", ")),
        key,
    )
}

/// `INSERT INTO table (columns) rows ON CONFLICT (key) DO UPDATE SET`
/// every other column, `rows` a `VALUES` list or a `SELECT`.
fn upsert_rows_from(table: &str, columns: &[&str], rows: &str, key: &[&str]) -> String {
    let updates: Vec<String> = columns
        .iter()
        .filter(|column| !key.contains(column))
        .map(|column| format!("{column} = EXCLUDED.{column}"))
        .collect();
    format!(
        "INSERT INTO {table} ({}) {rows} ON CONFLICT ({}) DO UPDATE SET {}",
        columns.join(", "),
        key.join(", "),
        updates.join(", ")
    )
}
