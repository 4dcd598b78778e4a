//! What the runtime does for the service, and what it reports back.
//!
//! The service never blocks: what needs a disk, a database or the network
//! comes out of [`Service::poll_effect`](super::Service::poll_effect) as an
//! [`Effect`], which the runtime carries out on its own threads or tasks;
//! its outcome comes back through
//! [`Service::handle_completion`](super::Service::handle_completion) as a
//! [`Completion`] naming the same id.

use std::error::Error;

use switchboard_proto::StatusCode;

use crate::proxy::{NextHop, ResolveId};
use crate::registrar::BindingChange;

use crate::storage::{StateChange, User};

/// Why the runtime could not do what an effect asked: its own error (a
/// database failure, a full queue), kept for the log.
pub type EffectError = Box<dyn Error + Send + Sync>;

/// A store failure the runtime reports as temporary: the database cannot
/// be reached (yet). A REGISTER that needed the write is answered 503 with
/// `Retry-After` rather than 500; the client tries again later, when the
/// store has recovered by itself.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreUnavailable(#[source] pub EffectError);

/// `Retry-After` seconds of a request refused because the store failed.
pub(crate) const STORE_RETRY_AFTER: &str = "5";

impl StoreUnavailable {
    /// The status of a request whose store write or lookup failed with
    /// `error`: 503 when the store cannot be reached for now (the client
    /// tries again after `Retry-After`; nothing about the request was
    /// wrong), 500 for any other failure.
    pub(crate) fn status_of(error: &EffectError) -> StatusCode {
        if error.is::<Self>() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::SERVER_INTERNAL_ERROR
        }
    }
}

/// Names one [`Effect::Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreId(pub(crate) u64);

/// Names one [`Effect::LookupUser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub(crate) u64);

/// Something the runtime must do for the service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// Make `changes` durable, in order, all or nothing; then report
    /// [`Completion::Stored`]. A REGISTER's 200 OK waits for it.
    Store {
        /// Which submission.
        id: StoreId,
        /// Bindings added, refreshed or removed.
        changes: Vec<BindingChange>,
    },
    /// Make `changes` of the event state (subscriptions, publications,
    /// stored messages) durable, in order, all or nothing; then report
    /// [`Completion::Stored`] with the same id. The 2xx that promises them
    /// waits for it.
    Save {
        /// Which submission (the same numbering as [`Effect::Store`]).
        id: StoreId,
        /// What changed.
        changes: Vec<StateChange>,
    },
    /// A user not in memory: look `name` of `domain` up in the store and
    /// report [`Completion::User`].
    LookupUser {
        /// Which lookup.
        id: LookupId,
        /// The user part.
        name: String,
        /// The domain (realm).
        domain: String,
    },
    /// Check whether the store's users changed since `version` (someone
    /// ran `user add` or `passwd`); report [`Completion::UserChanges`] (or
    /// [`Completion::UserDirectory`] when the change log does not reach
    /// back that far).
    CheckUsers {
        /// The version the service holds.
        version: u64,
    },
    /// Resolve `uri` (RFC 3263) and report [`Completion::Resolved`].
    Resolve {
        /// Which resolution.
        id: ResolveId,
        /// The URI to resolve (a Route or the target; a trunk's gateway or
        /// registrar for its probes and REGISTERs).
        uri: String,
    },
}

/// One user's entry in the store's change log, as it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserChange {
    /// Added or changed: the user as stored now.
    Stored(User),
    /// Removed (a tombstone).
    Removed {
        /// The user part.
        name: String,
        /// The domain.
        domain: String,
    },
}

/// The users that changed in the store between two users versions: what a
/// running service applies instead of reloading every user (so that one
/// `user passwd` costs one user, whatever the number of users).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserDelta {
    /// The version the changes start from (the one the service held).
    pub since: u64,
    /// The store's users version the changes bring the service to.
    pub version: u64,
    /// Each changed user once.
    pub changes: Vec<UserChange>,
}

/// The outcome of an [`Effect`].
#[derive(Debug)]
#[non_exhaustive]
// A user's HA1 values are inline (160 bytes, so that a million users in
// memory cost no allocation each); a completion is moved once, from the
// runtime to the service, so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Completion {
    /// An [`Effect::Store`] or [`Effect::Save`] is durable (or failed: nothing of it stored).
    Stored {
        /// Which submission.
        id: StoreId,
        /// `Ok` once on disk.
        result: Result<(), EffectError>,
    },
    /// An [`Effect::LookupUser`] answered: the user, or `None` when there
    /// is no such user.
    User {
        /// Which lookup.
        id: LookupId,
        /// What the store said.
        result: Result<Option<User>, EffectError>,
    },
    /// An [`Effect::CheckUsers`] answered with only the users that changed
    /// (the store's change log reaches back to the version asked about;
    /// none when nothing changed), or why the store could not say.
    UserChanges(Result<UserDelta, EffectError>),
    /// An [`Effect::CheckUsers`] answered with every user, already built
    /// into a directory off the driver (the change log did not reach back:
    /// a bulk import); it replaces the one held.
    UserDirectory(Box<super::UserDirectory>),
    /// An [`Effect::Resolve`] answered: every target in RFC 3263 order
    /// (none: the name did not resolve).
    Resolved {
        /// Which resolution.
        id: ResolveId,
        /// The next hops.
        hops: Vec<NextHop>,
    },
}
