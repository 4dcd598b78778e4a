//! [`UserStore`] for PostgreSQL.

use postgres::fallible_iterator::FallibleIterator;
use postgres::{GenericClient, IsolationLevel, Row, Statement, Transaction};
use switchboard_server::service::{UserDelta, UserDirectory};
use switchboard_server::storage::{Ha1Set, ImportSummary, User, UserStore};

use super::pool::Connection;
use super::{PostgresStore, classify, get, is_unique_violation};
use crate::error::StoreError;
use crate::sqlite::from_sql_u64;
use crate::sqlite::to_sql_u64;
use crate::sqlite::users::{CHANGED_SQL, RawUser, change_of, groups_column, log_reaches, user_key};
use crate::validate::validate_user;

pub(super) const VERSION_SQL: &str = "SELECT version FROM users_version WHERE id = 1";
pub(super) const INSERT_SQL: &str = "INSERT INTO users (name, domain, ha1_md5, ha1_sha256, ha1_sha512_256, \
                          created_unix, groups) VALUES ($1, $2, $3, $4, $5, $6, $7)";
pub(super) const SELECT_SQL: &str = "SELECT name, domain, ha1_md5, ha1_sha256, ha1_sha512_256, created_unix, \
                          groups FROM users";
pub(super) const SET_GROUPS_SQL: &str =
    "UPDATE users SET groups = $3 WHERE name = $1 AND domain = $2";
pub(super) const SET_HA1_SQL: &str = "UPDATE users SET ha1_md5 = $3, ha1_sha256 = $4, ha1_sha512_256 = $5 \
                           WHERE name = $1 AND domain = $2";

pub(super) fn read_user(row: &Row) -> Result<User, StoreError> {
    raw_user(row)?.into_user()
}

fn raw_user(row: &Row) -> Result<RawUser, StoreError> {
    Ok(RawUser {
        name: get(row, 0)?,
        domain: get(row, 1)?,
        md5: get(row, 2)?,
        sha256: get(row, 3)?,
        sha512_256: get(row, 4)?,
        created_unix: get(row, 5)?,
        groups: get(row, 6)?,
    })
}

/// As the SQLite store's: the users changed since `since`, in one
/// repeatable-read transaction (the version, the log and the rows agree).
pub(super) fn changes_since(
    conn: &mut Connection,
    since: u64,
) -> Result<Option<UserDelta>, StoreError> {
    let [current, oldest, changed] = conn.statements([
        VERSION_SQL,
        "SELECT MIN(version) FROM user_changes",
        CHANGED_SQL,
    ])?;
    let mut tx = read_snapshot(conn)?;
    let version = users_version(&mut tx, &current)?;
    if version == since {
        return Ok(Some(UserDelta {
            since,
            version,
            changes: Vec::new(),
        }));
    }
    let row = tx.query_one(&oldest, &[]).map_err(classify)?;
    if !log_reaches(since, version, get(&row, 0)?) {
        return Ok(None);
    }
    let rows = tx
        .query(&changed, &[&to_sql_u64(since)])
        .map_err(classify)?;
    tx.commit().map_err(classify)?;
    let changes = rows
        .iter()
        .map(|row| {
            let present: Option<String> = get(row, 0)?;
            let stored = present.map(|_| raw_user(row)).transpose()?;
            change_of(stored, get(row, 7)?, get(row, 8)?)
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(UserDelta {
        since,
        version,
        changes,
    }))
}

/// Every user, streamed row by row into a directory in one repeatable-read
/// transaction (the version and the rows agree), as the SQLite store
/// reads them: a million users are never all held twice.
pub(super) fn directory(conn: &mut Connection) -> Result<UserDirectory, StoreError> {
    let [current, select] = conn.statements([VERSION_SQL, SELECT_SQL])?;
    let mut tx = read_snapshot(conn)?;
    let mut directory = UserDirectory::new(users_version(&mut tx, &current)?);
    let no_params: [&(dyn postgres::types::ToSql + Sync); 0] = [];
    let mut rows = tx.query_raw(&select, no_params).map_err(classify)?;
    while let Some(row) = rows.next().map_err(classify)? {
        directory.insert(read_user(&row)?);
    }
    drop(rows);
    tx.commit().map_err(classify)?;
    Ok(directory)
}

/// A read-only transaction that sees one snapshot of the database.
fn read_snapshot(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    conn.client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .map_err(classify)
}

/// The users version, by the statement of [`VERSION_SQL`].
fn users_version(tx: &mut Transaction<'_>, current: &Statement) -> Result<u64, StoreError> {
    let row = tx.query_one(current, &[]).map_err(classify)?;
    from_sql_u64("users_version", get(&row, 0)?)
}

/// Inserts `user` with the statement of [`INSERT_SQL`] (or its `ON
/// CONFLICT DO NOTHING` form); the rows inserted.
pub(super) fn insert_user(
    client: &mut impl GenericClient,
    insert: &Statement,
    user: &User,
) -> Result<u64, StoreError> {
    client
        .execute(
            insert,
            &[
                &user.name,
                &user.domain,
                &user.ha1.md5(),
                &user.ha1.sha256(),
                &user.ha1.sha512_256(),
                &to_sql_u64(user.created_unix),
                &groups_column(&user.groups),
            ],
        )
        .map_err(classify)
}

/// Replaces a user's HA1 values with the statement of [`SET_HA1_SQL`];
/// the rows changed.
pub(super) fn update_ha1(
    client: &mut impl GenericClient,
    update: &Statement,
    name: &str,
    domain: &str,
    ha1: &Ha1Set,
) -> Result<u64, StoreError> {
    client
        .execute(
            update,
            &[&name, &domain, &ha1.md5(), &ha1.sha256(), &ha1.sha512_256()],
        )
        .map_err(classify)
}

impl UserStore for PostgresStore {
    type Error = StoreError;

    fn add_user(&self, user: &User) -> Result<(), StoreError> {
        validate_user(user)?;
        let result = self.run(|conn| {
            let insert = conn.statement(INSERT_SQL)?;
            insert_user(&mut conn.client, &insert, user)
        });
        match result {
            Ok(_) => {
                tracing::info!(user = %user.name, domain = %user.domain, "store: user added");
                Ok(())
            }
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::Conflict(user_key(&user.name, &user.domain)))
            }
            Err(err) => Err(err),
        }
    }

    fn set_ha1(&self, name: &str, domain: &str, ha1: &Ha1Set) -> Result<(), StoreError> {
        let changed = self.run(|conn| {
            let update = conn.statement(SET_HA1_SQL)?;
            update_ha1(&mut conn.client, &update, name, domain, ha1)
        })?;
        if changed == 0 {
            return Err(StoreError::NotFound(user_key(name, domain)));
        }
        tracing::info!(user = %name, domain = %domain, "store: user HA1 replaced");
        Ok(())
    }

    fn remove_user(&self, name: &str, domain: &str) -> Result<(), StoreError> {
        let changed = self.run(|conn| {
            let delete = conn.statement("DELETE FROM users WHERE name = $1 AND domain = $2")?;
            conn.client
                .execute(&delete, &[&name, &domain])
                .map_err(classify)
        })?;
        if changed == 0 {
            return Err(StoreError::NotFound(user_key(name, domain)));
        }
        tracing::info!(user = %name, domain = %domain, "store: user removed");
        Ok(())
    }

    fn get_user(&self, name: &str, domain: &str) -> Result<Option<User>, StoreError> {
        let row = self.run(|conn| {
            let select =
                conn.statement(&format!("{SELECT_SQL} WHERE name = $1 AND domain = $2"))?;
            conn.client
                .query_opt(&select, &[&name, &domain])
                .map_err(classify)
        })?;
        row.as_ref().map(read_user).transpose()
    }

    fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>, StoreError> {
        let rows = self.run(|conn| {
            let select = conn.statement(&format!(
                "{SELECT_SQL} WHERE $1::TEXT IS NULL OR domain = $1 ORDER BY domain, name"
            ))?;
            conn.client.query(&select, &[&domain]).map_err(classify)
        })?;
        rows.iter().map(read_user).collect()
    }

    fn import_users(&self, users: &[User]) -> Result<ImportSummary, StoreError> {
        for (i, user) in users.iter().enumerate() {
            validate_user(user).map_err(|err| {
                StoreError::InvalidInput(format!("record {} ({}): {err}", i + 1, user.name))
            })?;
        }
        let summary = self.run(|conn| {
            let [insert, update] = conn.statements([
                &format!("{INSERT_SQL} ON CONFLICT (domain, name) DO NOTHING"),
                SET_HA1_SQL,
            ])?;
            let mut tx = conn.client.transaction().map_err(classify)?;
            let mut summary = ImportSummary::default();
            for user in users {
                if insert_user(&mut tx, &insert, user)? == 1 {
                    summary.added += 1;
                } else {
                    update_ha1(&mut tx, &update, &user.name, &user.domain, &user.ha1)?;
                    summary.updated += 1;
                }
            }
            tx.commit().map_err(classify)?;
            Ok(summary)
        })?;
        tracing::info!(
            added = summary.added,
            updated = summary.updated,
            "store: users imported"
        );
        Ok(summary)
    }

    fn count_users(&self, domain: Option<&str>) -> Result<u64, StoreError> {
        let count: i64 = self.run(|conn| {
            let count =
                conn.statement("SELECT COUNT(*) FROM users WHERE $1::TEXT IS NULL OR domain = $1")?;
            let row = conn
                .client
                .query_one(&count, &[&domain])
                .map_err(classify)?;
            get(&row, 0)
        })?;
        from_sql_u64("user count", count)
    }
}
