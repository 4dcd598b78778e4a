//! Storage for Switchboard: users (with HA1 values, never passwords),
//! registration bindings and the event state (subscriptions, publications,
//! stored messages, call records, the calls in progress), on
//! `switchboard-server`'s own types.
//!
//! * The server defines the model ([`User`], [`Ha1Set`], the registrar's
//!   [`Binding`] and [`BindingChange`]) and the traits ([`UserStore`],
//!   [`BindingStore`], [`EventStateStore`]); this crate implements them.
//!   [`Store`] is all three with [`StoreError`]. Two back ends: SQLite
//!   ([`SqliteStore`], one file under the data directory, the embedded
//!   default) and PostgreSQL ([`PostgresStore`], a database named by URL,
//!   behind a small pool); [`StoreLocation`] picks one and [`AnyStore`] is
//!   either, with everything the binary uses.
//! * What the store refuses to write (empty or overlong text, control
//!   characters, q above 1000, ...) is checked by [`validate_user`],
//!   [`validate_binding`], [`validate_change`] and [`validate_state_change`],
//!   before writing and when a change is submitted to the [`GroupCommitter`].
//! * [`GroupCommitter`] is the write path of the server: a writer thread
//!   that commits many submissions (bindings and event state alike) in one
//!   transaction, so that "a 200 OK only once the binding is stored" costs
//!   one fsync per batch rather than per REGISTER.
//! * [`StoreError`] sorts failures by fault: environment
//!   ([`Io`](StoreError::Io), [`Sqlite`](StoreError::Sqlite),
//!   [`Postgres`](StoreError::Postgres), and
//!   [`Unavailable`](StoreError::Unavailable) when the database cannot be
//!   reached),
//!   [`Corrupt`](StoreError::Corrupt) data, the request
//!   ([`Conflict`](StoreError::Conflict), [`NotFound`](StoreError::NotFound),
//!   [`InvalidInput`](StoreError::InvalidInput)), and overload
//!   ([`QueueFull`](StoreError::QueueFull)).
//!
//! Everything is synchronous (the PostgreSQL client runs a runtime of its
//! own per connection, so never call it on a tokio thread): the server
//! calls it from its own threads, or from async code through
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

mod any;
mod commit;
mod error;
mod postgres;
mod sqlite;
mod traits;
mod validate;

pub use any::{AnyStore, StoreLocation};
pub use commit::{
    CommitResult, CommitStats, CommitterConfig, GroupCommitter, GroupStore, Submission, Ticket,
};
pub use error::StoreError;
pub use postgres::{
    ClusterFeed, ClusterFeedConfig, ClusterFeedHandle, DEFAULT_POOL_SIZE, MAX_ATTEMPTS,
    NodeSession, PostgresStore,
};
pub use sqlite::{AdminToken, BUSY_TIMEOUT, DB_FILE_NAME, RecordQuery, SqliteStore, UserWrite};
// The server's model and traits, for callers that only use the store.
pub use switchboard_server::registrar::{Binding, BindingChange};
pub use switchboard_server::storage::{
    BindingStore, CallRecord, CarrierLeg, DeviceSource, DialogParty, DialogPhase, DialogRecord,
    Disposition, EventStateStore, Ha1Set, HangupSide, ImportSummary, PublicationRecord,
    StateChange, StoredMessage, StoredState, SubscriptionRecord, User, UserStore,
};
pub use traits::Store;
pub use validate::{
    MAX_BODY_LEN, MAX_FIELD_LEN, MAX_PATH_ENTRIES, validate_binding, validate_change,
    validate_state_change, validate_user,
};
