//! The admin API's bearer tokens in PostgreSQL (see `sqlite/tokens.rs`).

use super::{PostgresStore, classify, get, is_unique_violation};
use crate::error::StoreError;
use crate::sqlite::tokens::check_token;
use crate::sqlite::{AdminToken, from_sql_u64, to_sql_u64};

impl PostgresStore {
    /// As [`SqliteStore::add_admin_token`](crate::SqliteStore::add_admin_token).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name (or the hash) is taken,
    /// [`StoreError::InvalidInput`] for a bad name or hash; environment
    /// errors.
    pub fn add_admin_token(&self, token: &AdminToken) -> Result<(), StoreError> {
        check_token(token)?;
        let result = self.run(|conn| {
            let insert = conn
                .statement("INSERT INTO admin_tokens (name, hash, created) VALUES ($1, $2, $3)")?;
            conn.client
                .execute(
                    &insert,
                    &[&token.name, &token.hash, &to_sql_u64(token.created)],
                )
                .map_err(classify)
        });
        match result {
            Ok(_) => {
                tracing::info!(name = %token.name, "store: admin token added");
                Ok(())
            }
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::Conflict(format!("token {}", token.name)))
            }
            Err(err) => Err(err),
        }
    }

    /// As [`SqliteStore::admin_tokens`](crate::SqliteStore::admin_tokens).
    ///
    /// # Errors
    /// Environment errors, [`StoreError::Corrupt`].
    pub fn admin_tokens(&self) -> Result<Vec<AdminToken>, StoreError> {
        let rows = self.run(|conn| {
            let select = conn.statement(
                "SELECT name, hash, created FROM admin_tokens ORDER BY name COLLATE \"C\"",
            )?;
            conn.client.query(&select, &[]).map_err(classify)
        })?;
        rows.iter()
            .map(|row| {
                Ok(AdminToken {
                    name: get(row, 0)?,
                    hash: get(row, 1)?,
                    created: from_sql_u64("admin_tokens.created", get(row, 2)?)?,
                })
            })
            .collect()
    }

    /// As [`SqliteStore::admin_token_named_by_hash`](crate::SqliteStore::admin_token_named_by_hash).
    ///
    /// # Errors
    /// Environment errors.
    pub fn admin_token_named_by_hash(&self, hash: &str) -> Result<Option<String>, StoreError> {
        let row = self.run(|conn| {
            let select = conn.statement("SELECT name FROM admin_tokens WHERE hash = $1")?;
            conn.client.query_opt(&select, &[&hash]).map_err(classify)
        })?;
        row.map(|row| get(&row, 0)).transpose()
    }

    /// As [`SqliteStore::remove_admin_token`](crate::SqliteStore::remove_admin_token).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none; environment errors.
    pub fn remove_admin_token(&self, name: &str) -> Result<(), StoreError> {
        let changed = self.run(|conn| {
            let delete = conn.statement("DELETE FROM admin_tokens WHERE name = $1")?;
            conn.client.execute(&delete, &[&name]).map_err(classify)
        })?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("token {name}")));
        }
        tracing::info!(name = %name, "store: admin token removed");
        Ok(())
    }
}
