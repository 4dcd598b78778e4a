//! The storage traits every back end implements (SQLite now, PostgreSQL
//! later). All methods are blocking and take `&self`: a back end does its
//! own locking (a mutex around one connection, or a pool).

use crate::error::StoreError;
use crate::model::{Binding, BindingChange, Ha1Set, ImportSummary, User};

/// Users and their HA1 values. Passwords never reach a `UserStore`: it
/// takes only [`Ha1Set`]s.
pub trait UserStore {
    /// Adds a user.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if `(name, domain)` exists;
    /// [`StoreError::InvalidInput`] (see [`User::validate`]); environment
    /// errors.
    fn add_user(&self, user: &User) -> Result<(), StoreError>;

    /// Replaces a user's HA1 values (`user passwd`).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if there is no such user; environment
    /// errors.
    fn set_ha1(&self, name: &str, domain: &str, ha1: &Ha1Set) -> Result<(), StoreError>;

    /// Removes a user.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] if there is no such user; environment
    /// errors.
    fn remove_user(&self, name: &str, domain: &str) -> Result<(), StoreError>;

    /// The user `(name, domain)`, if any.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    fn get_user(&self, name: &str, domain: &str) -> Result<Option<User>, StoreError>;

    /// Every user, or those of one domain, ordered by domain then name.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>, StoreError>;

    /// Writes many users in one transaction (`user import`): new users are
    /// added, existing ones get the new HA1 values and keep their
    /// `created_unix`. All or nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] naming the first bad record (nothing is
    /// written); environment errors.
    fn import_users(&self, users: &[User]) -> Result<ImportSummary, StoreError>;

    /// How many users there are, in all or in one domain.
    ///
    /// # Errors
    /// Environment errors.
    fn count_users(&self, domain: Option<&str>) -> Result<u64, StoreError>;
}

/// Registration bindings. Writes are durable when the call returns `Ok`.
///
/// The server keeps an in-memory index in front of this store: it loads it
/// with [`load_all`](Self::load_all) at start and writes through
/// [`GroupCommitter`](crate::GroupCommitter), which batches many
/// submissions into one [`apply_groups`](Self::apply_groups) call.
pub trait BindingStore {
    /// Applies `changes` in order, in one transaction: all or nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (see [`BindingChange::validate`]);
    /// environment errors.
    fn apply(&self, changes: &[BindingChange]) -> Result<(), StoreError>;

    /// Group commit: applies several independent groups of changes in ONE
    /// transaction with one durable commit. Each group is atomic on its own:
    /// a group that fails is rolled back alone and its error is returned in
    /// its slot, the others still commit.
    ///
    /// # Errors
    /// The outer error means nothing was committed (for example the commit
    /// itself failed): every group failed with it.
    fn apply_groups(
        &self,
        groups: &[&[BindingChange]],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;

    /// Every stored binding, expired or not, ordered by AOR, then q
    /// (highest first), then contact.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    fn load_all(&self) -> Result<Vec<Binding>, StoreError>;

    /// The bindings of one AOR, expired or not, highest q first.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    fn bindings_for(&self, aor: &str) -> Result<Vec<Binding>, StoreError>;

    /// Removes every binding with `expires_at_unix <= now_unix`; returns how
    /// many.
    ///
    /// # Errors
    /// Environment errors.
    fn purge_expired(&self, now_unix: u64) -> Result<u64, StoreError>;
}

/// A complete back end, for `Box<dyn Store>` / `Arc<dyn Store>`.
pub trait Store: UserStore + BindingStore + Send + Sync {}

impl<T: UserStore + BindingStore + Send + Sync> Store for T {}
