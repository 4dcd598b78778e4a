//! The SQLite back end: one file, `switchboard.db`, in the data directory.
//!
//! Durability settings: WAL journal with `synchronous=FULL`, so a commit
//! that returned has reached the disk (the WAL is synced at every commit,
//! with `fdatasync`: the workspace's `.cargo/config.toml` builds the bundled
//! SQLite with `HAVE_FDATASYNC`) and survives a crash of the process or of
//! the machine. Group commit
//! ([`GroupCommitter`](crate::GroupCommitter)) keeps that affordable by
//! putting many REGISTERs into one commit.

pub(crate) mod bindings;
pub(crate) mod call_records;
pub(crate) mod dialogs;
pub(crate) mod event_state;
mod groups;
mod schema;
pub(crate) mod tokens;
pub(crate) mod user_writes;
pub(crate) mod users;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;
use switchboard_server::service::{UserDelta, UserDirectory};

use crate::error::StoreError;

pub use call_records::RecordQuery;
pub use tokens::AdminToken;
pub use user_writes::UserWrite;

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "switchboard.db";

/// How long a writer waits for another connection's write lock before
/// failing with a "database is locked" [`StoreError::Sqlite`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Users and bindings in SQLite. One connection behind a mutex: the methods
/// take `&self` and the store is `Send + Sync`. For write throughput, give a
/// second `SqliteStore` on the same directory to a
/// [`GroupCommitter`](crate::GroupCommitter); WAL mode lets readers on this
/// one go on while it writes.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl SqliteStore {
    /// Opens (creating it if needed) `dir/switchboard.db`, creating `dir`
    /// too (mode 0700 on Unix: the file holds HA1 values), and brings the
    /// schema up to date.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the directory cannot be created;
    /// [`StoreError::Corrupt`] if the file is not a Switchboard database or
    /// comes from a newer version; other SQLite errors.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        create_private_dir(dir)?;
        let path = dir.join(DB_FILE_NAME);
        let conn = Connection::open(&path)?;
        restrict_permissions(&path)?;
        Self::init(conn, Some(path))
    }

    /// A private database in memory, gone when the store is dropped. For
    /// tests; the settings are those of [`open`](Self::open) except that
    /// there is no WAL.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, None)
    }

    fn init(mut conn: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // `journal_mode` answers with the mode in effect ("memory" for an
        // in-memory database).
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if path.is_some() && !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "store: WAL journal mode not available");
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;",
        )?;
        let before = schema::migrate(&mut conn)?;
        match &path {
            Some(path) => tracing::info!(
                path = %path.display(),
                schema_version = schema::SCHEMA_VERSION,
                found_version = before,
                "store: opened SQLite database"
            ),
            None => tracing::debug!("store: opened in-memory SQLite database"),
        }
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file, or `None` in memory.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version this build uses.
    #[must_use]
    pub const fn schema_version() -> u32 {
        schema::SCHEMA_VERSION
    }

    /// A number that changes whenever a user is added, changed or removed
    /// (by any process): the server reloads its users when it moves.
    ///
    /// # Errors
    /// Environment errors.
    pub fn users_version(&self) -> Result<u64, StoreError> {
        let version: i64 = self.conn().query_row(
            "SELECT version FROM users_version WHERE id = 1",
            [],
            |row| row.get(0),
        )?;
        Ok(version.unsigned_abs())
    }

    /// Every user, as of the users version (read in the same transaction),
    /// read row by row into the directory the server keeps in memory (at
    /// start, and when the change log does not reach back).
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn user_directory(&self) -> Result<UserDirectory, StoreError> {
        users::directory(&mut self.conn())
    }

    /// Only the users changed since `version` (added, changed or removed,
    /// each once, as stored now), while the store's change log reaches
    /// back that far; `None` when it does not (pruned: read every user with
    /// [`SqliteStore::user_directory`]). An empty delta: nothing changed.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn user_changes_since(&self, version: u64) -> Result<Option<UserDelta>, StoreError> {
        users::changes_since(&mut self.conn(), version)
    }

    /// Runs SQLite's `quick_check` over the whole file (for an operator's
    /// check, or after a crash; it reads every page, so not on a hot path).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] with SQLite's findings; environment errors.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("PRAGMA quick_check")?;
        let findings = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if findings.len() == 1 && findings.first().is_some_and(|f| f == "ok") {
            Ok(())
        } else {
            Err(StoreError::Corrupt(findings.join("; ")))
        }
    }

    /// The connection. A panic while it was held cannot leave it mid
    /// transaction (rusqlite rolls back a dropped transaction), so a
    /// poisoned lock is taken over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|err| StoreError::io(dir, err))
}

/// Makes the database file readable by its owner only. SQLite gives the
/// `-wal` and `-shm` files the same permissions as the database.
fn restrict_permissions(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|err| StoreError::io(path, err))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|err| StoreError::io(path, err))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// A list of header values (a Path, a route set) as its column keeps it:
/// one per line (validation refuses control characters in a value, so a
/// line break cannot occur inside one).
pub(crate) fn join_lines(values: &[String]) -> String {
    values.join("\n")
}

/// The list [`join_lines`] stored.
pub(crate) fn split_lines(text: &str) -> Vec<String> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split('\n').map(str::to_owned).collect()
    }
}

/// `u64` seconds to SQLite's `i64`; validation has already refused values
/// past `i64::MAX`, so this only saturates on a caller that skipped it.
pub(crate) fn to_sql_u64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// SQLite's `i64` back to `u64`: a negative value is corruption.
pub(crate) fn from_sql_u64(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_settings_are_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = store.conn();
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })
            .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2", "FULL");
        assert_eq!(pragma("busy_timeout"), "5000");
        assert_eq!(SqliteStore::schema_version(), 13);
    }
}
