//! The trait a back end implements for registration bindings.

use crate::registrar::{Aor, Binding, BindingChange};

/// Registration bindings: the registrar's [`Binding`]s, written as the
/// [`BindingChange`]s it hands over. Writes are durable when the call
/// returns `Ok`. Blocking, `&self`.
///
/// The registrar keeps the location index in memory: the application loads
/// it with [`load_all`](Self::load_all) at start and writes every change
/// through, ideally batching many submissions into one
/// [`apply_groups`](Self::apply_groups) call (group commit).
///
/// What is kept of a binding: everything but the connection
/// ([`Source::flow`](switchboard_core::Source::flow)), which does not
/// survive a restart, and `registered_at`, which comes back as
/// `updated_at`.
pub trait BindingStore {
    /// What goes wrong in this back end.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies `changes` in order, in one transaction: all or nothing.
    ///
    /// # Errors
    /// When a change is refused by the back end's checks (nothing is
    /// written), or the back end fails.
    fn apply(&self, changes: &[BindingChange]) -> Result<(), Self::Error>;

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
    ) -> Result<Vec<Result<(), Self::Error>>, Self::Error>;

    /// Every stored binding, expired or not, ordered by AOR, then q
    /// (highest first), then key.
    ///
    /// # Errors
    /// When the back end fails or holds damaged data.
    fn load_all(&self) -> Result<Vec<Binding>, Self::Error>;

    /// The bindings of one AOR, expired or not, highest q first.
    ///
    /// # Errors
    /// When the back end fails or holds damaged data.
    fn bindings_for(&self, aor: &Aor) -> Result<Vec<Binding>, Self::Error>;

    /// Removes every binding with `expires_at <= now_unix`; returns how
    /// many.
    ///
    /// # Errors
    /// When the back end fails.
    fn purge_expired(&self, now_unix: u64) -> Result<u64, Self::Error>;
}
