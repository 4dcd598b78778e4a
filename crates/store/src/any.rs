//! "The store" whichever back end the operator chose: a data directory
//! (SQLite, the embedded default) or a `postgres://` URL. The binary opens
//! it in one place ([`StoreLocation::open`]) and every command uses the
//! same [`AnyStore`].

use std::path::{Path, PathBuf};

use switchboard_server::registrar::{Aor, Binding, BindingChange};
use switchboard_server::service::{UserDelta, UserDirectory};
use switchboard_server::storage::{
    BindingStore, CallRecord, EventStateStore, Ha1Set, ImportSummary, StateChange, StoredState,
    User, UserStore,
};

use crate::commit::{CommitResult, GroupStore, Submission};
use crate::error::StoreError;
use crate::postgres::{DEFAULT_POOL_SIZE, NodeSession, PostgresStore};
use crate::sqlite::{AdminToken, RecordQuery, SqliteStore, UserWrite};

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreLocation {
    /// SQLite, `switchboard.db` in this data directory.
    Sqlite(PathBuf),
    /// PostgreSQL at this URL (`postgres://` or `postgresql://`).
    Postgres(String),
}

impl StoreLocation {
    /// The location the settings name: `url` when given (`--database`,
    /// `[store] url`), the data directory's SQLite file otherwise.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a URL of another scheme.
    pub fn new(data: &Path, url: Option<&str>) -> Result<Self, StoreError> {
        match url {
            None => Ok(Self::Sqlite(data.to_path_buf())),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(url.to_owned()))
            }
            Some(url) => Err(StoreError::InvalidInput(format!(
                "database URL {:?}: only postgres:// URLs are supported (omit it for SQLite)",
                url.split_once("://").map_or("", |(scheme, _)| scheme)
            ))),
        }
    }

    /// Opens the store (creating or migrating the schema).
    ///
    /// # Errors
    /// As [`SqliteStore::open`] or [`PostgresStore::connect`].
    pub fn open(&self) -> Result<AnyStore, StoreError> {
        match self {
            Self::Sqlite(dir) => SqliteStore::open(dir).map(AnyStore::Sqlite),
            Self::Postgres(url) => PostgresStore::connect(url).map(AnyStore::from),
        }
    }

    /// Opens a second handle with a single connection, for the
    /// [`GroupCommitter`](crate::GroupCommitter)'s writer or the admin API:
    /// its own SQLite connection, or a pool of one PostgreSQL connection.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_secondary(&self) -> Result<AnyStore, StoreError> {
        match self {
            Self::Sqlite(dir) => SqliteStore::open(dir).map(AnyStore::Sqlite),
            Self::Postgres(url) => PostgresStore::connect_with_pool(url, 1).map(AnyStore::from),
        }
    }

    /// [`open`](Self::open) (`secondary`: [`open_secondary`](Self::open_secondary))
    /// as a node of a cluster (PostgreSQL; SQLite ignores `session`).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_as(&self, session: &NodeSession, secondary: bool) -> Result<AnyStore, StoreError> {
        match self {
            Self::Sqlite(dir) => SqliteStore::open(dir).map(AnyStore::Sqlite),
            Self::Postgres(url) => {
                let pool = if secondary { 1 } else { DEFAULT_POOL_SIZE };
                PostgresStore::connect_as(url, pool, Some(session)).map(AnyStore::from)
            }
        }
    }

    /// For logs: the SQLite file's directory, or the database without
    /// credentials.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("SQLite in {}", dir.display()),
            Self::Postgres(url) => {
                // Neither the user and password before `@` nor the
                // parameters after `?` (a `password=` may be there).
                let rest = url.rsplit_once('@').map_or_else(
                    || url.split_once("://").map_or(url.as_str(), |(_, rest)| rest),
                    |(_, rest)| rest,
                );
                let rest = rest.split_once('?').map_or(rest, |(rest, _)| rest);
                format!("PostgreSQL at {rest}")
            }
        }
    }
}

/// One of the back ends, with everything the binary uses of either.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyStore {
    /// The embedded SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database (boxed: its pool is larger than a SQLite
    /// connection).
    Postgres(Box<PostgresStore>),
}

/// Calls the same method on whichever back end.
macro_rules! either {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl AnyStore {
    /// See [`SqliteStore::users_version`].
    ///
    /// # Errors
    /// Environment errors.
    pub fn users_version(&self) -> Result<u64, StoreError> {
        either!(self, s => s.users_version())
    }

    /// See [`SqliteStore::user_directory`].
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn user_directory(&self) -> Result<UserDirectory, StoreError> {
        either!(self, s => s.user_directory())
    }

    /// See [`SqliteStore::user_changes_since`].
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn user_changes_since(&self, version: u64) -> Result<Option<UserDelta>, StoreError> {
        either!(self, s => s.user_changes_since(version))
    }

    /// See [`SqliteStore::call_records`].
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn call_records(&self, query: &RecordQuery) -> Result<Vec<CallRecord>, StoreError> {
        either!(self, s => s.call_records(query))
    }

    /// See [`SqliteStore::add_admin_token`].
    ///
    /// # Errors
    /// [`StoreError::Conflict`], [`StoreError::InvalidInput`], environment
    /// errors.
    pub fn add_admin_token(&self, token: &AdminToken) -> Result<(), StoreError> {
        either!(self, s => s.add_admin_token(token))
    }

    /// See [`SqliteStore::admin_tokens`].
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        either!(self, s => s.admin_tokens())
    }

    /// See [`SqliteStore::admin_token_named_by_hash`].
    ///
    /// # Errors
    /// Environment errors.
    pub fn admin_token_named_by_hash(&self, hash: &str) -> Result<Option<String>, StoreError> {
        either!(self, s => s.admin_token_named_by_hash(hash))
    }

    /// See [`SqliteStore::write_users`].
    ///
    /// # Errors
    /// [`StoreError::Conflict`], [`StoreError::NotFound`] or
    /// [`StoreError::InvalidInput`] for the write that failed; environment
    /// errors.
    pub fn write_users(&self, writes: &[UserWrite]) -> Result<(), StoreError> {
        either!(self, s => s.write_users(writes))
    }

    /// See [`SqliteStore::users_page`].
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn users_page(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        either!(self, s => s.users_page(after, limit))
    }

    /// See [`SqliteStore::users_named`].
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn users_named(&self, name: &str, domain: Option<&str>) -> Result<Vec<User>, StoreError> {
        either!(self, s => s.users_named(name, domain))
    }

    /// See [`SqliteStore::remove_admin_token`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`], environment errors.
    pub fn remove_admin_token(&self, name: &str) -> Result<(), StoreError> {
        either!(self, s => s.remove_admin_token(name))
    }
}

impl UserStore for AnyStore {
    type Error = StoreError;

    fn add_user(&self, user: &User) -> Result<(), StoreError> {
        either!(self, s => s.add_user(user))
    }

    fn set_ha1(&self, name: &str, domain: &str, ha1: &Ha1Set) -> Result<(), StoreError> {
        either!(self, s => s.set_ha1(name, domain, ha1))
    }

    fn remove_user(&self, name: &str, domain: &str) -> Result<(), StoreError> {
        either!(self, s => s.remove_user(name, domain))
    }

    fn get_user(&self, name: &str, domain: &str) -> Result<Option<User>, StoreError> {
        either!(self, s => s.get_user(name, domain))
    }

    fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>, StoreError> {
        either!(self, s => s.list_users(domain))
    }

    fn import_users(&self, users: &[User]) -> Result<ImportSummary, StoreError> {
        either!(self, s => s.import_users(users))
    }

    fn count_users(&self, domain: Option<&str>) -> Result<u64, StoreError> {
        either!(self, s => s.count_users(domain))
    }
}

impl BindingStore for AnyStore {
    type Error = StoreError;

    fn apply(&self, changes: &[BindingChange]) -> Result<(), StoreError> {
        either!(self, s => s.apply(changes))
    }

    fn apply_groups(
        &self,
        groups: &[&[BindingChange]],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        either!(self, s => s.apply_groups(groups))
    }

    fn load_all(&self) -> Result<Vec<Binding>, StoreError> {
        either!(self, s => s.load_all())
    }

    fn bindings_for(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        either!(self, s => s.bindings_for(aor))
    }

    fn purge_expired(&self, now_unix: u64) -> Result<u64, StoreError> {
        either!(self, s => s.purge_expired(now_unix))
    }
}

impl EventStateStore for AnyStore {
    type Error = StoreError;

    fn apply_state(&self, changes: &[StateChange]) -> Result<(), StoreError> {
        either!(self, s => s.apply_state(changes))
    }

    fn load_state(&self) -> Result<StoredState, StoreError> {
        either!(self, s => s.load_state())
    }
}

impl GroupStore for AnyStore {
    fn apply_submissions(&self, groups: &[&Submission]) -> Result<Vec<CommitResult>, StoreError> {
        either!(self, s => s.apply_submissions(groups))
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

impl From<PostgresStore> for AnyStore {
    fn from(store: PostgresStore) -> Self {
        Self::Postgres(Box::new(store))
    }
}
