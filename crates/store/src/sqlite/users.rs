//! [`UserStore`] for SQLite.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use switchboard_server::service::{UserChange, UserDelta, UserDirectory};
use switchboard_server::storage::{Ha1Set, ImportSummary, User, UserStore};

use super::{SqliteStore, from_sql_u64, to_sql_u64};
use crate::error::StoreError;
use crate::validate::validate_user;

pub(super) const COLUMNS: &str =
    "name, domain, ha1_md5, ha1_sha256, ha1_sha512_256, created_unix, groups";

/// A row as read, before validation.
pub(crate) struct RawUser {
    pub(crate) name: String,
    pub(crate) domain: String,
    pub(crate) md5: String,
    pub(crate) sha256: String,
    pub(crate) sha512_256: String,
    pub(crate) created_unix: i64,
    /// The stored groups, `,` between names (see [`groups_column`]).
    pub(crate) groups: String,
}

impl RawUser {
    pub(super) fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            name: row.get(0)?,
            domain: row.get(1)?,
            md5: row.get(2)?,
            sha256: row.get(3)?,
            sha512_256: row.get(4)?,
            created_unix: row.get(5)?,
            groups: row.get(6)?,
        })
    }

    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        let ha1 = Ha1Set::new(&self.md5, &self.sha256, &self.sha512_256).map_err(|err| {
            StoreError::Corrupt(format!("user {}@{}: {err}", self.name, self.domain))
        })?;
        let groups = User::sorted_groups(self.groups.split(',').filter(|g| !g.is_empty()))
            .map_err(|err| {
                StoreError::Corrupt(format!("user {}@{}: {err}", self.name, self.domain))
            })?;
        Ok(User {
            created_unix: from_sql_u64("created_unix", self.created_unix)?,
            name: self.name,
            domain: self.domain,
            ha1,
            groups,
        })
    }
}

/// A user's groups as the `groups` column holds them: the names with `,`
/// between (a group name has no `,`), empty for none.
pub(crate) fn groups_column(groups: &[String]) -> String {
    groups.join(",")
}

/// Every user the change log names after version `$1`, once, as stored
/// now: the user's columns as [`COLUMNS`] (NULL: removed), then the logged
/// name and domain. The same text for both back ends.
pub(crate) const CHANGED_SQL: &str = "SELECT u.name, u.domain, u.ha1_md5, u.ha1_sha256, \
     u.ha1_sha512_256, u.created_unix, u.groups, c.name, c.domain \
     FROM (SELECT DISTINCT domain, name FROM user_changes WHERE version > $1) c \
     LEFT JOIN users u ON u.domain = c.domain AND u.name = c.name";

/// Whether a change log whose oldest entry is `oldest` holds every change
/// after `since` up to `version` (not when it was pruned past `since`, or
/// the store went back: a new database).
pub(crate) fn log_reaches(since: u64, version: u64, oldest: Option<i64>) -> bool {
    since < version && oldest.is_some_and(|o| o.saturating_sub(1) <= to_sql_u64(since))
}

/// One row of [`CHANGED_SQL`]: the user as stored, or its tombstone.
pub(crate) fn change_of(
    stored: Option<RawUser>,
    name: String,
    domain: String,
) -> Result<UserChange, StoreError> {
    match stored {
        Some(raw) => raw.into_user().map(UserChange::Stored),
        None => Ok(UserChange::Removed { name, domain }),
    }
}

/// The users changed since `since`, read in one transaction (the version,
/// the log and the rows agree); `None` when the log does not reach back
/// that far (read every user instead).
pub(super) fn changes_since(
    conn: &mut Connection,
    since: u64,
) -> Result<Option<UserDelta>, StoreError> {
    let tx = conn.transaction()?;
    let current: i64 = tx
        .prepare_cached("SELECT version FROM users_version WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    let version = from_sql_u64("users_version", current)?;
    if version == since {
        return Ok(Some(UserDelta {
            since,
            version,
            changes: Vec::new(),
        }));
    }
    let oldest: Option<i64> = tx
        .prepare_cached("SELECT MIN(version) FROM user_changes")?
        .query_row([], |row| row.get(0))?;
    if !log_reaches(since, version, oldest) {
        return Ok(None);
    }
    let mut select = tx.prepare_cached(CHANGED_SQL)?;
    let rows = select
        .query_map([to_sql_u64(since)], |row| {
            let present: Option<String> = row.get(0)?;
            let stored = present.map(|_| RawUser::read(row)).transpose()?;
            Ok((stored, row.get::<_, String>(7)?, row.get::<_, String>(8)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let changes = rows
        .into_iter()
        .map(|(stored, name, domain)| change_of(stored, name, domain))
        .collect::<Result<_, _>>()?;
    Ok(Some(UserDelta {
        since,
        version,
        changes,
    }))
}

/// Every user, read into a directory row by row in one transaction (a
/// million users are never all held twice: each row's text is freed before
/// the next is read).
pub(super) fn directory(conn: &mut Connection) -> Result<UserDirectory, StoreError> {
    let tx = conn.transaction()?;
    let version: i64 = tx
        .prepare_cached("SELECT version FROM users_version WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    let mut directory = UserDirectory::new(from_sql_u64("users_version", version)?);
    let mut select = tx.prepare(&format!("SELECT {COLUMNS} FROM users"))?;
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        directory.insert(RawUser::read(row)?.into_user()?);
    }
    Ok(directory)
}

pub(crate) fn user_key(name: &str, domain: &str) -> String {
    format!("user {name}@{domain}")
}

/// Inserts `user` unless its name exists in its domain: the rows written
/// (0 or 1).
pub(super) fn insert_user(conn: &Connection, user: &User) -> rusqlite::Result<usize> {
    conn.prepare_cached(&format!(
        "INSERT INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (domain, name) DO NOTHING"
    ))?
    .execute(params![
        user.name,
        user.domain,
        user.ha1.md5(),
        user.ha1.sha256(),
        user.ha1.sha512_256(),
        to_sql_u64(user.created_unix),
        groups_column(&user.groups),
    ])
}

/// Replaces the stored groups of `name` in `domain` (checked by the
/// caller): the rows changed (0 or 1).
pub(super) fn update_groups(
    conn: &Connection,
    name: &str,
    domain: &str,
    groups: &[String],
) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE users SET groups = ?3 WHERE name = ?1 AND domain = ?2")?
        .execute(params![name, domain, groups_column(groups)])
}

/// Replaces the HA1 values of `name` in `domain`: the rows changed (0 or 1).
pub(super) fn update_ha1(
    conn: &Connection,
    name: &str,
    domain: &str,
    ha1: &Ha1Set,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE users SET ha1_md5 = ?3, ha1_sha256 = ?4, ha1_sha512_256 = ?5
         WHERE name = ?1 AND domain = ?2",
    )?
    .execute(params![
        name,
        domain,
        ha1.md5(),
        ha1.sha256(),
        ha1.sha512_256()
    ])
}

impl UserStore for SqliteStore {
    type Error = StoreError;

    fn add_user(&self, user: &User) -> Result<(), StoreError> {
        validate_user(user)?;
        if insert_user(&self.conn(), user)? == 0 {
            return Err(StoreError::Conflict(user_key(&user.name, &user.domain)));
        }
        tracing::info!(user = %user.name, domain = %user.domain, "store: user added");
        Ok(())
    }

    fn set_ha1(&self, name: &str, domain: &str, ha1: &Ha1Set) -> Result<(), StoreError> {
        if update_ha1(&self.conn(), name, domain, ha1)? == 0 {
            return Err(StoreError::NotFound(user_key(name, domain)));
        }
        tracing::info!(user = %name, domain = %domain, "store: user HA1 replaced");
        Ok(())
    }

    fn remove_user(&self, name: &str, domain: &str) -> Result<(), StoreError> {
        let changed = self.conn().execute(
            "DELETE FROM users WHERE name = ?1 AND domain = ?2",
            params![name, domain],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(user_key(name, domain)));
        }
        tracing::info!(user = %name, domain = %domain, "store: user removed");
        Ok(())
    }

    fn get_user(&self, name: &str, domain: &str) -> Result<Option<User>, StoreError> {
        let conn = self.conn();
        let raw = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM users WHERE name = ?1 AND domain = ?2"
            ))?
            .query_row(params![name, domain], RawUser::read)
            .optional()?;
        raw.map(RawUser::into_user).transpose()
    }

    fn list_users(&self, domain: Option<&str>) -> Result<Vec<User>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM users WHERE ?1 IS NULL OR domain = ?1 ORDER BY domain, name"
        ))?;
        let raws = stmt
            .query_map([domain], RawUser::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawUser::into_user).collect()
    }

    fn import_users(&self, users: &[User]) -> Result<ImportSummary, StoreError> {
        for (i, user) in users.iter().enumerate() {
            validate_user(user).map_err(|err| {
                StoreError::InvalidInput(format!("record {} ({}): {err}", i + 1, user.name))
            })?;
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut summary = ImportSummary::default();
        for user in users {
            if insert_user(&tx, user)? == 1 {
                summary.added += 1;
            } else {
                update_ha1(&tx, &user.name, &user.domain, &user.ha1)?;
                summary.updated += 1;
            }
        }
        tx.commit()?;
        tracing::info!(
            added = summary.added,
            updated = summary.updated,
            "store: users imported"
        );
        Ok(summary)
    }

    fn count_users(&self, domain: Option<&str>) -> Result<u64, StoreError> {
        let count: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM users WHERE ?1 IS NULL OR domain = ?1",
            [domain],
            |row| row.get(0),
        )?;
        from_sql_u64("user count", count)
    }
}
