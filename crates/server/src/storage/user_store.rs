//! The trait a back end implements for users.

use super::{Ha1Set, User};

/// Users and their HA1 values. Passwords never reach a `UserStore`: it
/// takes only [`Ha1Set`]s. Blocking, `&self`: a back end does its own
/// locking (a mutex around one connection, or a pool).
pub trait UserStore {
    /// What goes wrong in this back end.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Adds a user.
    ///
    /// # Errors
    /// When `(name, domain)` exists, the user is refused by the back end's
    /// checks, or the back end fails.
    fn add_user(&self, user: &User) -> Result<(), Self::Error>;

    /// Replaces a user's HA1 values (`user passwd`).
    ///
    /// # Errors
    /// When there is no such user, or the back end fails.
    fn set_ha1(&self, name: &str, domain: &str, ha1: &Ha1Set) -> Result<(), Self::Error>;

    /// Removes a user.
    ///
    /// # Errors
    /// When there is no such user, or the back end fails.
    fn remove_user(&self, name: &str, domain: &str) -> Result<(), Self::Error>;

    /// The user `(name, domain)`, if any.
    ///
    /// # Errors
    /// When the back end fails or holds damaged data.
    fn get_user(&self, name: &str, domain: &str) -> Result<Option<User>, Self::Error>;

    /// Every user, or those of one domain, ordered by domain then name.
    ///
    /// # Errors
    /// When the back end fails or holds damaged data.
    fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>, Self::Error>;

    /// Writes many users in one transaction (`user import`): new users are
    /// added, existing ones get the new HA1 values and keep their
    /// `created_unix`. All or nothing.
    ///
    /// # Errors
    /// Naming the first refused record (nothing is written), or when the
    /// back end fails.
    fn import_users(&self, users: &[User]) -> Result<ImportSummary, Self::Error>;

    /// How many users there are, in all or in one domain.
    ///
    /// # Errors
    /// When the back end fails.
    fn count_users(&self, domain: Option<&str>) -> Result<u64, Self::Error>;
}

/// What [`UserStore::import_users`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportSummary {
    /// Users that did not exist before.
    pub added: u64,
    /// Users that existed and whose HA1 values were replaced (their
    /// `created_unix` is kept). A name repeated in the input counts here
    /// from its second occurrence on; the last occurrence wins.
    pub updated: u64,
}

impl ImportSummary {
    /// `added + updated`: the number of users written.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.added + self.updated
    }
}
