//! The admin API's bearer tokens: a name and the token's SHA-256, never
//! the token itself (it is shown once, when created).

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, from_sql_u64, to_sql_u64};
use crate::error::StoreError;

/// The longest token name accepted.
const MAX_NAME_LEN: usize = 64;

/// One admin token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// The operator's name for it (`ci`, `dashboard`).
    pub name: String,
    /// SHA-256 of the token, lowercase hex (64 characters).
    pub hash: String,
    /// When it was created (Unix seconds).
    pub created: u64,
}

pub(crate) fn check_token(token: &AdminToken) -> Result<(), StoreError> {
    let name_ok = !token.name.is_empty()
        && token.name.len() <= MAX_NAME_LEN
        && !token
            .name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace());
    if !name_ok {
        return Err(StoreError::InvalidInput(format!(
            "token name {:?}: 1 to {MAX_NAME_LEN} characters, no spaces or control characters",
            token.name
        )));
    }
    let hash_ok = token.hash.len() == 64
        && token
            .hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hash_ok {
        return Err(StoreError::InvalidInput(
            "token hash: 64 lowercase hex digits (SHA-256)".into(),
        ));
    }
    Ok(())
}

impl SqliteStore {
    /// Stores a new token.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name (or the hash) is taken,
    /// [`StoreError::InvalidInput`] for a bad name or hash; environment
    /// errors.
    pub fn add_admin_token(&self, token: &AdminToken) -> Result<(), StoreError> {
        check_token(token)?;
        let result = self.conn().execute(
            "INSERT INTO admin_tokens (name, hash, created) VALUES (?1, ?2, ?3)",
            params![token.name, token.hash, to_sql_u64(token.created)],
        );
        match result {
            Ok(_) => {
                tracing::info!(name = %token.name, "store: admin token added");
                Ok(())
            }
            Err(err)
                if err.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
            {
                Err(StoreError::Conflict(format!("token {}", token.name)))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Every token, by name.
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT name, hash, created FROM admin_tokens ORDER BY name")?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(name, hash, created)| {
                Ok(AdminToken {
                    created: from_sql_u64("admin_tokens.created", created)?,
                    name,
                    hash,
                })
            })
            .collect()
    }

    /// The name of the token whose SHA-256 (hex) is `hash`, if any.
    ///
    /// # Errors
    /// Environment errors.
    pub fn admin_token_named_by_hash(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        let name = conn
            .prepare_cached("SELECT name FROM admin_tokens WHERE hash = ?1")?
            .query_row(params![hash], |row| row.get(0))
            .optional()?;
        Ok(name)
    }

    /// Removes the token `name`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none; environment errors.
    pub fn remove_admin_token(&self, name: &str) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .execute("DELETE FROM admin_tokens WHERE name = ?1", params![name])?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("token {name}")));
        }
        tracing::info!(name = %name, "store: admin token removed");
        Ok(())
    }
}
