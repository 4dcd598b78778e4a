//! Users changed through the admin API in PostgreSQL, as in SQLite (see
//! `sqlite/user_writes.rs`): several writes in one transaction, a user's
//! bindings removed with it, the users read a page at a time.

use postgres::{Statement, Transaction};
use switchboard_server::storage::User;

use super::users::{
    INSERT_SQL, SELECT_SQL, SET_GROUPS_SQL, SET_HA1_SQL, insert_user, read_user, update_ha1,
};
use super::{PostgresStore, classify};
use crate::error::StoreError;
use crate::sqlite::UserWrite;
use crate::sqlite::user_writes::binding_aor;
use crate::sqlite::users::{groups_column, user_key};
use crate::validate::{checked_groups, validate_user};

/// The statements of a write.
struct Statements {
    insert: Statement,
    update: Statement,
    set_groups: Statement,
    remove: Statement,
    remove_bindings: Statement,
}

fn apply(
    tx: &mut Transaction<'_>,
    statements: &Statements,
    write: &UserWrite,
) -> Result<(), StoreError> {
    match write {
        UserWrite::Add(user) => {
            validate_user(user)?;
            if insert_user(tx, &statements.insert, user)? == 0 {
                return Err(StoreError::Conflict(user_key(&user.name, &user.domain)));
            }
        }
        UserWrite::SetHa1 { name, domain, ha1 } => {
            if update_ha1(tx, &statements.update, name, domain, ha1)? == 0 {
                return Err(StoreError::NotFound(user_key(name, domain)));
            }
        }
        UserWrite::SetGroups {
            name,
            domain,
            groups,
        } => {
            let groups = groups_column(&checked_groups(groups)?);
            let changed = tx
                .execute(&statements.set_groups, &[name, domain, &groups])
                .map_err(classify)?;
            if changed == 0 {
                return Err(StoreError::NotFound(user_key(name, domain)));
            }
        }
        UserWrite::Remove { name, domain } => {
            let removed = tx
                .execute(&statements.remove, &[name, domain])
                .map_err(classify)?;
            if removed == 0 {
                return Err(StoreError::NotFound(user_key(name, domain)));
            }
            tx.execute(&statements.remove_bindings, &[&binding_aor(name, domain)])
                .map_err(classify)?;
        }
    }
    Ok(())
}

impl PostgresStore {
    /// As [`SqliteStore::write_users`](crate::SqliteStore::write_users):
    /// all of `writes` in one transaction, or none (the first error is
    /// returned).
    ///
    /// # Errors
    /// [`StoreError::Conflict`], [`StoreError::NotFound`] or
    /// [`StoreError::InvalidInput`] for the write that failed; environment
    /// errors.
    pub fn write_users(&self, writes: &[UserWrite]) -> Result<(), StoreError> {
        self.run(|conn| {
            let [insert, update, set_groups, remove, remove_bindings] = conn.statements([
                &format!("{INSERT_SQL} ON CONFLICT (domain, name) DO NOTHING"),
                SET_HA1_SQL,
                SET_GROUPS_SQL,
                "DELETE FROM users WHERE name = $1 AND domain = $2",
                "DELETE FROM bindings WHERE aor = $1",
            ])?;
            let statements = Statements {
                insert,
                update,
                set_groups,
                remove,
                remove_bindings,
            };
            let mut tx = conn.client.transaction().map_err(classify)?;
            for write in writes {
                apply(&mut tx, &statements, write)?;
            }
            tx.commit().map_err(classify)
        })?;
        tracing::info!(writes = writes.len(), "store: users changed");
        Ok(())
    }

    /// As [`SqliteStore::users_page`](crate::SqliteStore::users_page): at
    /// most `limit` users in (domain, name) order, byte by byte as SQLite
    /// compares them, after the user `after` (`(domain, name)`).
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`] for a row that does not
    /// read.
    pub fn users_page(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (domain, name) = after.unwrap_or(("", ""));
        let rows = self.run(|conn| {
            let select = conn.statement(&format!(
                "{SELECT_SQL} WHERE (domain COLLATE \"C\", name COLLATE \"C\") > ($1, $2)
                 ORDER BY domain COLLATE \"C\", name COLLATE \"C\" LIMIT $3"
            ))?;
            conn.client
                .query(&select, &[&domain, &name, &limit])
                .map_err(classify)
        })?;
        rows.iter().map(read_user).collect()
    }

    /// As [`SqliteStore::users_named`](crate::SqliteStore::users_named):
    /// the users named `name`, in `domain` only (compared without case) or
    /// in every domain, by domain.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`] for a row that does not
    /// read.
    pub fn users_named(&self, name: &str, domain: Option<&str>) -> Result<Vec<User>, StoreError> {
        let rows = self.run(|conn| {
            let select = conn.statement(&format!(
                "{SELECT_SQL} WHERE name = $1 AND ($2::TEXT IS NULL OR lower(domain) = lower($2))
                 ORDER BY domain COLLATE \"C\""
            ))?;
            conn.client
                .query(&select, &[&name, &domain])
                .map_err(classify)
        })?;
        rows.iter().map(read_user).collect()
    }
}
