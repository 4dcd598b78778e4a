//! Users changed through the admin API: several writes in one transaction
//! (all or nothing), a user's bindings removed with it, and the users read
//! a page at a time.

use rusqlite::{Connection, params};

use switchboard_server::storage::{Ha1Set, User};

use super::SqliteStore;
use super::users::{COLUMNS, RawUser, insert_user, update_groups, update_ha1, user_key};
use crate::error::StoreError;
use crate::validate::{checked_groups, validate_user};

/// One change of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserWrite {
    /// Create the user ([`StoreError::Conflict`] when it exists).
    Add(User),
    /// Replace the user's HA1 values ([`StoreError::NotFound`] when absent).
    SetHa1 {
        /// The user name.
        name: String,
        /// Its domain.
        domain: String,
        /// The new values.
        ha1: Ha1Set,
    },
    /// Replace the user's stored groups ([`StoreError::NotFound`] when
    /// absent, [`StoreError::InvalidInput`] for a name that is not a group
    /// name); sorted and deduplicated on the way in.
    SetGroups {
        /// The user name.
        name: String,
        /// Its domain.
        domain: String,
        /// The new groups (all of them: the old ones are dropped).
        groups: Vec<String>,
    },
    /// Remove the user and every binding of its address of record
    /// ([`StoreError::NotFound`] when absent).
    Remove {
        /// The user name.
        name: String,
        /// Its domain.
        domain: String,
    },
}

/// The address of record a user's bindings are stored under: as the
/// registrar writes it, the user part as is, the domain lower-cased.
pub(crate) fn binding_aor(name: &str, domain: &str) -> String {
    format!("sip:{name}@{}", domain.to_ascii_lowercase())
}

fn apply(conn: &Connection, write: &UserWrite) -> Result<(), StoreError> {
    match write {
        UserWrite::Add(user) => {
            validate_user(user)?;
            if insert_user(conn, user)? == 0 {
                return Err(StoreError::Conflict(user_key(&user.name, &user.domain)));
            }
        }
        UserWrite::SetHa1 { name, domain, ha1 } => {
            if update_ha1(conn, name, domain, ha1)? == 0 {
                return Err(StoreError::NotFound(user_key(name, domain)));
            }
        }
        UserWrite::SetGroups {
            name,
            domain,
            groups,
        } => {
            if update_groups(conn, name, domain, &checked_groups(groups)?)? == 0 {
                return Err(StoreError::NotFound(user_key(name, domain)));
            }
        }
        UserWrite::Remove { name, domain } => {
            let removed = conn.execute(
                "DELETE FROM users WHERE name = ?1 AND domain = ?2",
                params![name, domain],
            )?;
            if removed == 0 {
                return Err(StoreError::NotFound(user_key(name, domain)));
            }
            conn.execute(
                "DELETE FROM bindings WHERE aor = ?1",
                params![binding_aor(name, domain)],
            )?;
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Applies `writes` in one durable transaction: all of them, or none
    /// (the first error is returned).
    ///
    /// # Errors
    /// [`StoreError::Conflict`], [`StoreError::NotFound`] or
    /// [`StoreError::InvalidInput`] for the write that failed; SQLite's.
    pub fn write_users(&self, writes: &[UserWrite]) -> Result<(), StoreError> {
        self.write(|conn| writes.iter().try_for_each(|w| apply(conn, w)))?;
        tracing::info!(writes = writes.len(), "store: users changed");
        Ok(())
    }

    /// At most `limit` users in (domain, name) order, after the user
    /// `after` (`(domain, name)`), or from the first.
    ///
    /// # Errors
    /// SQLite's, [`StoreError::Corrupt`] for a row that does not read.
    pub fn users_page(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (domain, name) = after.unwrap_or(("", ""));
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM users WHERE (domain, name) > (?1, ?2)
             ORDER BY domain, name LIMIT ?3"
        ))?;
        let raws = stmt
            .query_map(params![domain, name, limit], RawUser::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawUser::into_user).collect()
    }

    /// The users named `name`: in `domain` only (compared without case),
    /// or in every domain, by domain.
    ///
    /// # Errors
    /// SQLite's, [`StoreError::Corrupt`] for a row that does not read.
    pub fn users_named(&self, name: &str, domain: Option<&str>) -> Result<Vec<User>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM users
             WHERE name = ?1 AND (?2 IS NULL OR lower(domain) = lower(?2))
             ORDER BY domain"
        ))?;
        let raws = stmt
            .query_map(params![name, domain], RawUser::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawUser::into_user).collect()
    }
}
