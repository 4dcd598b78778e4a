//! Writes in PostgreSQL: one submission in one transaction, or group
//! commit: many submissions in ONE transaction, each in a savepoint so
//! that a failing one rolls back alone (as in SQLite). A serialization
//! failure or a deadlock anywhere runs the whole batch again.

use std::time::Instant;

use postgres::Transaction;

use super::bindings::BindingWriter;
use super::event_state::StateWriter;
use super::pool::Connection;
use super::{PostgresStore, classify};
use crate::commit::{CommitResult, GroupStore, Submission};
use crate::error::StoreError;

/// The statements of every write, prepared (from the connection's cache)
/// before the transaction starts.
pub(super) struct Writers {
    pub(super) bindings: BindingWriter,
    pub(super) state: StateWriter,
}

impl Writers {
    fn prepare(conn: &mut Connection) -> Result<Self, StoreError> {
        let bindings = BindingWriter::sql().map(|sql| conn.statement(&sql));
        let state = StateWriter::sql().map(|sql| conn.statement(&sql));
        Ok(Self {
            bindings: BindingWriter::new(all(bindings)?),
            state: StateWriter::new(all(state)?),
        })
    }
}

/// The statements, or the first error.
fn all<const N: usize>(
    prepared: [Result<postgres::Statement, StoreError>; N],
) -> Result<[postgres::Statement; N], StoreError> {
    let mut statements = Vec::with_capacity(N);
    for statement in prepared {
        statements.push(statement?);
    }
    statements
        .try_into()
        .map_err(|_| StoreError::InvalidInput("statement count".into()))
}

/// True when an error inside a savepoint means the whole transaction must
/// go (the connection is gone, or PostgreSQL asks for a retry).
fn aborts_batch(err: &StoreError) -> bool {
    match err {
        StoreError::Unavailable(_) => true,
        StoreError::Postgres(err) => super::is_retryable(err),
        _ => false,
    }
}

impl PostgresStore {
    /// Runs `apply` in one transaction: all or nothing.
    pub(super) fn write(
        &self,
        apply: impl Fn(&Writers, &mut Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.run(|conn| {
            let writers = Writers::prepare(conn)?;
            let mut tx = conn.client.transaction().map_err(classify)?;
            apply(&writers, &mut tx)?;
            tx.commit().map_err(classify)
        })
    }

    /// Applies `groups` in one transaction, each group by `apply` inside
    /// its own savepoint; the outer error means nothing was committed.
    pub(super) fn commit_groups<G>(
        &self,
        groups: &[G],
        count: impl Fn(&G) -> usize,
        apply: impl Fn(&Writers, &mut Transaction<'_>, &G) -> Result<(), StoreError>,
    ) -> Result<Vec<CommitResult>, StoreError> {
        let started = Instant::now();
        let results = self.run(|conn| {
            let writers = Writers::prepare(conn)?;
            let mut tx = conn.client.transaction().map_err(classify)?;
            let mut results = Vec::with_capacity(groups.len());
            for group in groups {
                let mut savepoint = tx.savepoint("grp").map_err(classify)?;
                let result = apply(&writers, &mut savepoint, group);
                match &result {
                    Ok(()) => savepoint.commit().map_err(classify)?,
                    Err(err) if aborts_batch(err) => return Err(err.clone()),
                    Err(_) => savepoint.rollback().map_err(classify)?,
                }
                results.push(result);
            }
            tx.commit().map_err(classify)?;
            Ok(results)
        })?;
        crate::commit::log_committed(groups, count, &results, started);
        Ok(results)
    }
}

impl GroupStore for PostgresStore {
    fn apply_submissions(&self, groups: &[&Submission]) -> Result<Vec<CommitResult>, StoreError> {
        self.commit_groups(
            groups,
            |group| group.len(),
            |writers, tx, group| match group {
                Submission::Bindings(changes) => writers.bindings.apply(tx, changes),
                Submission::State(changes) => writers.state.apply(tx, changes),
            },
        )
    }
}
