//! Users changed through the admin API: several writes in one transaction
//! (all or nothing), a user's bindings removed with it, and the users read
//! a page at a time.

use rusqlite::{Connection, params};

use switchboard_server::storage::{Ha1Set, User};

use super::SqliteStore;
use super::users::{COLUMNS, RawUser, insert_user, update_ha1, user_key};
use crate::error::StoreError;
use crate::validate::validate_user;

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
    /// Remove the user and every binding of its address of record
    /// ([`StoreError::NotFound`] when absent).
    Remove {
        /// The user name.
        name: String,
        /// Its domain.
        domain: String,
    },
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
        UserWrite::Remove { name, domain } => {
            let removed = conn.execute(
                "DELETE FROM users WHERE name = ?1 AND domain = ?2",
                params![name, domain],
            )?;
            if removed == 0 {
                return Err(StoreError::NotFound(user_key(name, domain)));
            }
            // As the bindings store the registrar's AOR: the user part as
            // is, the domain lower-cased.
            let aor = format!("sip:{name}@{}", domain.to_ascii_lowercase());
            conn.execute("DELETE FROM bindings WHERE aor = ?1", params![aor])?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;
    use switchboard_server::storage::UserStore;

    fn user(name: &str) -> User {
        User::with_password(name, "Example.com", "pw", 1_700_000_000)
    }

    fn binding_count(store: &SqliteStore, aor: &str) -> i64 {
        store
            .conn()
            .query_row("SELECT COUNT(*) FROM bindings WHERE aor = ?1", [aor], |r| {
                r.get(0)
            })
            .unwrap()
    }

    #[test]
    fn writes_are_all_or_nothing_and_a_removed_user_loses_its_bindings() {
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .write_users(&[UserWrite::Add(user("alice")), UserWrite::Add(user("bob"))])
            .unwrap();
        for aor in ["sip:alice@example.com", "sip:bob@example.com"] {
            store
                .conn()
                .execute(
                    "INSERT INTO bindings (aor, contact, contact_header, q, expires_at, call_id,
                     cseq, path, transport, remote_addr, local_addr, updated_unix)
                     VALUES (?1, 'contact:sip:x@192.0.2.1', '<sip:x@192.0.2.1>', 1000, 1,
                     'c', 1, '', 'udp', '192.0.2.1:5060', '127.0.0.1:5060', 1)",
                    [aor],
                )
                .unwrap();
        }
        // Carol is new, alice exists: nothing is written.
        let refused =
            store.write_users(&[UserWrite::Add(user("carol")), UserWrite::Add(user("alice"))]);
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{refused:?}"
        );
        assert!(store.get_user("carol", "Example.com").unwrap().is_none());
        // Bob is removed with his binding; a missing user fails the whole.
        let missing = store.write_users(&[
            UserWrite::Remove {
                name: "bob".into(),
                domain: "Example.com".into(),
            },
            UserWrite::Remove {
                name: "dave".into(),
                domain: "Example.com".into(),
            },
        ]);
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
        assert_eq!(binding_count(&store, "sip:bob@example.com"), 1);
        store
            .write_users(&[UserWrite::Remove {
                name: "bob".into(),
                domain: "Example.com".into(),
            }])
            .unwrap();
        assert!(store.get_user("bob", "Example.com").unwrap().is_none());
        assert_eq!(binding_count(&store, "sip:bob@example.com"), 0);
        assert_eq!(binding_count(&store, "sip:alice@example.com"), 1);
        let ha1 = Ha1Set::from_password("alice", "Example.com", "new");
        store
            .write_users(&[UserWrite::SetHa1 {
                name: "alice".into(),
                domain: "Example.com".into(),
                ha1: ha1.clone(),
            }])
            .unwrap();
        assert_eq!(
            store.get_user("alice", "Example.com").unwrap().unwrap().ha1,
            ha1
        );
        assert_eq!(
            store
                .users_named("alice", Some("example.COM"))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.users_named("alice", None).unwrap().len(), 1);
    }

    #[test]
    fn users_are_read_a_page_at_a_time_in_domain_and_name_order() {
        let store = SqliteStore::open_in_memory().unwrap();
        let mut users = Vec::new();
        for (name, domain) in [
            ("b", "a.org"),
            ("a", "b.org"),
            ("a", "a.org"),
            ("c", "a.org"),
        ] {
            users.push(UserWrite::Add(User::with_password(name, domain, "pw", 1)));
        }
        store.write_users(&users).unwrap();
        let names = |page: Vec<User>| -> Vec<String> {
            page.into_iter()
                .map(|u| format!("{}@{}", u.name, u.domain))
                .collect()
        };
        assert_eq!(
            names(store.users_page(None, 2).unwrap()),
            ["a@a.org", "b@a.org"]
        );
        assert_eq!(
            names(store.users_page(Some(("a.org", "b")), 5).unwrap()),
            ["c@a.org", "a@b.org"]
        );
        assert!(
            store
                .users_page(Some(("b.org", "a")), 5)
                .unwrap()
                .is_empty()
        );
    }
}
