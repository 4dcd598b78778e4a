//! Storage for Switchboard: users (with HA1 values, never passwords) and
//! registration bindings, behind back-end neutral traits.
//!
//! * [`UserStore`] and [`BindingStore`] are the traits (blocking, `&self`);
//!   [`Store`] is both. SQLite ([`SqliteStore`], one file under the data
//!   directory) is the back end today; PostgreSQL is to implement the same
//!   traits.
//! * [`GroupCommitter`] is the write path of the registrar: a writer thread
//!   that commits many submissions in one transaction, so that "a 200 OK
//!   only once the binding is stored" costs one fsync per batch rather than
//!   per REGISTER.
//! * [`StoreError`] sorts failures by fault: environment
//!   ([`Io`](StoreError::Io), [`Sqlite`](StoreError::Sqlite)),
//!   [`Corrupt`](StoreError::Corrupt) data, the request
//!   ([`Conflict`](StoreError::Conflict), [`NotFound`](StoreError::NotFound),
//!   [`InvalidInput`](StoreError::InvalidInput)), and overload
//!   ([`QueueFull`](StoreError::QueueFull)).
//!
//! Everything is synchronous (no async runtime): the server calls it from
//! its own threads, or from async code through
//! [`GroupCommitter::submit_with`], whose callback can complete a oneshot
//! channel.
//!
//! ```
//! use switchboard_store::{Ha1Set, SqliteStore, User, UserStore};
//!
//! let store = SqliteStore::open_in_memory()?;
//! store.add_user(&User::with_password("alice", "example.com", "secret", 1_700_000_000))?;
//! let alice = store.get_user("alice", "example.com")?.expect("just added");
//! assert_eq!(alice.ha1, Ha1Set::from_password("alice", "example.com", "secret"));
//! # Ok::<(), switchboard_store::StoreError>(())
//! ```
#![forbid(unsafe_code)]

mod commit;
mod directory;
mod error;
mod model;
mod sqlite;
mod traits;

pub use commit::{CommitResult, CommitStats, CommitterConfig, GroupCommitter, Ticket};
pub use directory::UserDirectory;
pub use error::StoreError;
pub use model::{
    Binding, BindingChange, BindingSource, Ha1Set, ImportSummary, MAX_FIELD_LEN, MAX_PATH_ENTRIES,
    User,
};
pub use sqlite::{BUSY_TIMEOUT, DB_FILE_NAME, SqliteStore};
pub use traits::{BindingStore, Store, UserStore};
