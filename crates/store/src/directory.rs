//! The users, in memory, for the authentication hot path.
//!
//! A SQLite read per request is not free in a database that a writer
//! commits to hundreds of times a second: every commit makes the reader's
//! page cache stale, so each lookup takes a lock and re-reads its pages. A
//! server looks users up here instead, and calls [`UserDirectory::refresh`]
//! now and then (once a second): it reloads everything only when the
//! store's users version moved (a `user add`, `passwd` or `remove` from the
//! command line, in another process).

use std::collections::HashMap;

use switchboard_server::storage::{User, UserStore};

use crate::{SqliteStore, StoreError};

/// Every user of the store, by domain and name.
#[derive(Debug, Default)]
pub struct UserDirectory {
    by_domain: HashMap<Box<str>, HashMap<Box<str>, User>>,
    version: u64,
    count: usize,
}

impl UserDirectory {
    /// Loads every user of `store`.
    ///
    /// # Errors
    /// The store's.
    pub fn load(store: &SqliteStore) -> Result<Self, StoreError> {
        // The version first: a change made while loading moves it again,
        // and the next refresh reloads.
        let version = store.users_version()?;
        let mut directory = Self {
            version,
            ..Self::default()
        };
        for user in store.list_users(None)? {
            directory.insert(user);
        }
        Ok(directory)
    }

    /// The user `name` of `domain` (exact match, as stored).
    #[must_use]
    pub fn get(&self, name: &str, domain: &str) -> Option<&User> {
        self.by_domain.get(domain)?.get(name)
    }

    /// Adds or replaces a user (one found in the store after a miss here).
    pub fn insert(&mut self, user: User) {
        let users = self
            .by_domain
            .entry(user.domain.as_str().into())
            .or_default();
        if users.insert(user.name.as_str().into(), user).is_none() {
            self.count += 1;
        }
    }

    /// How many users are held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no user is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Reloads every user when the store's users changed since the last
    /// load; `true` when it did.
    ///
    /// # Errors
    /// The store's; the directory is then unchanged.
    pub fn refresh(&mut self, store: &SqliteStore) -> Result<bool, StoreError> {
        if store.users_version()? == self.version {
            return Ok(false);
        }
        *self = Self::load(store)?;
        Ok(true)
    }
}
