//! The one error type of the store, split by whose fault it is.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What went wrong, split by fault so that the caller can pick a reaction:
///
/// | variant | fault | typical reaction |
/// | --- | --- | --- |
/// | [`Io`](Self::Io), [`Sqlite`](Self::Sqlite), [`Postgres`](Self::Postgres) | the environment (disk, permissions, locks) | 500 / 503, log, retry later |
/// | [`Unavailable`](Self::Unavailable) | the environment: the database server cannot be reached | 503 with Retry-After |
/// | [`Corrupt`](Self::Corrupt) | the stored data | stop, tell the operator |
/// | [`Conflict`](Self::Conflict) | the request: the thing already exists | tell the user |
/// | [`NotFound`](Self::NotFound) | the request: no such thing | tell the user |
/// | [`InvalidInput`](Self::InvalidInput) | the caller passed a value the store refuses | fix the caller |
/// | [`QueueFull`](Self::QueueFull) | overload: the group committer's queue is full | 503 with Retry-After |
/// | [`Closed`](Self::Closed) | the group committer stopped (shut down, or its thread died) | shutting down |
///
/// The error is `Clone` (sources are behind [`Arc`]) because one failed
/// group commit is reported to every ticket in the group.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file-system operation on the data directory failed.
    #[error("i/o error on {}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: Arc<io::Error>,
    },
    /// SQLite failed for a reason that is not corruption (disk full, I/O
    /// error, database locked beyond the busy timeout, ...).
    #[error("sqlite: {0}")]
    Sqlite(#[source] Arc<rusqlite::Error>),
    /// PostgreSQL refused or failed a statement for a reason that is not
    /// the connection (a statement timeout, a serialization failure still
    /// there after the retries, a disk full on the server, ...).
    #[error("postgres: {0}")]
    Postgres(#[source] Arc<postgres::Error>),
    /// The database server cannot be reached: the connection could not be
    /// opened, or was lost. The pool opens a new one on the next use, so
    /// the same request succeeds once the database is back.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Arc<postgres::Error>),
    /// The database is damaged, is not a Switchboard database, comes from a
    /// newer version of Switchboard, or holds a value this version cannot
    /// read.
    #[error("corrupt database: {0}")]
    Corrupt(String),
    /// The thing to create already exists (for example `user add` of an
    /// existing user).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The thing to change or remove does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A value the store refuses: empty name, control characters, an HA1
    /// that is not lowercase hex of the right length, q above 1000, ...
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The group committer's queue is full: back-pressure, try later.
    #[error("commit queue full ({capacity} submissions waiting)")]
    QueueFull {
        /// The queue's capacity.
        capacity: usize,
    },
    /// The group committer no longer accepts or completes work.
    #[error("group committer closed")]
    Closed,
}

impl StoreError {
    /// True when the environment is at fault ([`Io`](Self::Io),
    /// [`Sqlite`](Self::Sqlite), [`Postgres`](Self::Postgres),
    /// [`Unavailable`](Self::Unavailable)) or the committer is overloaded
    /// ([`QueueFull`](Self::QueueFull)): the same request may succeed later.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Io { .. }
                | Self::Sqlite(_)
                | Self::Postgres(_)
                | Self::Unavailable(_)
                | Self::QueueFull { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    /// Sorts SQLite's errors: corruption and "not a database" become
    /// [`StoreError::Corrupt`], everything else [`StoreError::Sqlite`].
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
                Self::Corrupt(err.to_string())
            }
            _ => match err {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
                | rusqlite::Error::InvalidColumnType(..) => Self::Corrupt(err.to_string()),
                other => Self::Sqlite(Arc::new(other)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_is_sorted_out() {
        let err = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_NOTADB),
            None,
        );
        assert!(matches!(StoreError::from(err), StoreError::Corrupt(_)));
        let err = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        let err = StoreError::from(err);
        assert!(matches!(err, StoreError::Sqlite(_)));
        assert!(err.is_transient());
    }
}
