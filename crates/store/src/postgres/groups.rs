//! Writes in PostgreSQL: one submission in one transaction, or group
//! commit: many submissions in ONE transaction, each atomic on its own so
//! that a failing one rolls back alone (as in SQLite), with as few round
//! trips as that allows (see [`PostgresStore::commit_groups`]). A
//! serialization failure or a deadlock anywhere runs the whole batch
//! again.

use std::sync::Arc;
use std::time::Instant;

use postgres::Transaction;
use switchboard_server::registrar::BindingChange;

use super::bindings::BindingWriter;
use super::event_state::StateWriter;
use super::pending_rows::PendingRows;
use super::pool::Connection;
use super::{PostgresStore, classify};
use crate::commit::{CommitResult, GroupStore, Submission};
use crate::error::StoreError;

/// The statements of every write, prepared before the transaction starts
/// and kept with the connection: a batch does not build their dozen SQL
/// texts and look each up again.
pub(super) struct Writers {
    pub(super) bindings: BindingWriter,
    pub(super) state: StateWriter,
}

impl Writers {
    /// The writers of `conn`, prepared on its first write.
    pub(super) fn of(conn: &mut Connection) -> Result<Arc<Self>, StoreError> {
        if let Some(writers) = &conn.writers {
            return Ok(Arc::clone(writers));
        }
        let writers = Arc::new(Self::prepare(conn)?);
        conn.writers = Some(Arc::clone(&writers));
        Ok(writers)
    }

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
            let writers = Writers::of(conn)?;
            let mut tx = conn.client.transaction().map_err(classify)?;
            apply(&writers, &mut tx)?;
            tx.commit().map_err(classify)
        })
    }

    /// Applies `groups` in one transaction, each group atomic on its own;
    /// the outer error means nothing was committed.
    ///
    /// A savepoint per group costs two round trips each (SAVEPOINT,
    /// RELEASE) and a group seldom fails: the batch runs without them
    /// first, and only when a group of several fails is it rolled back and
    /// run again with one savepoint per group, so that the failing one
    /// rolls back alone. A batch of one group needs none: its failure
    /// rolls the whole transaction back.
    ///
    /// The call records and dialog records of the groups are held back in
    /// a [`PendingRows`] and written once at the end (of the batch, or of
    /// the group in its savepoint).
    pub(super) fn commit_groups<'a, G>(
        &self,
        groups: &'a [G],
        count: impl Fn(&G) -> usize,
        apply: impl Fn(
            &Writers,
            &mut Transaction<'_>,
            &mut PendingRows<'a>,
            &'a G,
        ) -> Result<(), StoreError>,
    ) -> Result<Vec<CommitResult>, StoreError> {
        let started = Instant::now();
        let results = self.run(|conn| {
            let writers = Writers::of(conn)?;
            match apply_all(conn, &writers, groups, &apply, Isolation::Together)? {
                Some(results) => Ok(results),
                None => apply_all(conn, &writers, groups, &apply, Isolation::Savepoints)?
                    .ok_or_else(|| StoreError::InvalidInput("savepoint batch gave up".into())),
            }
        })?;
        crate::commit::log_committed(groups, count, &results, started);
        Ok(results)
    }

    /// A batch of ONE binding change: the statement on its own commits
    /// atomically with its trigger's rows (PostgreSQL's implicit
    /// transaction), one round trip instead of BEGIN, the statement and
    /// COMMIT. The common case of group commit: one REGISTER at a time.
    fn commit_one_change(
        &self,
        changes: &[BindingChange],
    ) -> Result<Vec<CommitResult>, StoreError> {
        let started = Instant::now();
        let result = self.run(|conn| {
            let writers = Writers::of(conn)?;
            match writers.bindings.apply(&mut conn.client, changes) {
                Err(err) if aborts_batch(&err) => Err(err),
                other => Ok(other),
            }
        })?;
        let results = vec![result];
        crate::commit::log_committed(&[changes], |group| group.len(), &results, started);
        Ok(results)
    }

    /// The batch of `groups` to commit, by the cheapest way that keeps
    /// each group atomic.
    pub(super) fn commit_bindings(
        &self,
        groups: &[&[BindingChange]],
    ) -> Result<Vec<CommitResult>, StoreError> {
        match groups {
            [changes] if changes.len() == 1 => self.commit_one_change(changes),
            _ => self.commit_groups(
                groups,
                |group| group.len(),
                |writers, tx, _, group| writers.bindings.apply(tx, group),
            ),
        }
    }
}

/// How the groups of a batch are kept apart in its transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// No savepoints: a failing group (of several) gives the batch up.
    Together,
    /// One savepoint per group: a failing group rolls back alone.
    Savepoints,
}

/// Applies `groups` in one transaction on `conn` and commits it; `None`
/// when `isolation` is [`Isolation::Together`] and a group of several
/// failed (the transaction rolled back: run the batch again with
/// savepoints).
fn apply_all<'a, G>(
    conn: &mut Connection,
    writers: &Writers,
    groups: &'a [G],
    apply: &impl Fn(
        &Writers,
        &mut Transaction<'_>,
        &mut PendingRows<'a>,
        &'a G,
    ) -> Result<(), StoreError>,
    isolation: Isolation,
) -> Result<Option<Vec<CommitResult>>, StoreError> {
    let mut tx = conn.client.transaction().map_err(classify)?;
    let mut results = Vec::with_capacity(groups.len());
    // The whole batch's rows when together, one group's in a savepoint.
    let mut pending = PendingRows::default();
    for group in groups {
        let result = if isolation == Isolation::Savepoints {
            let mut savepoint = tx.savepoint("grp").map_err(classify)?;
            let mut own = PendingRows::default();
            let result = apply(writers, &mut savepoint, &mut own, group)
                .and_then(|()| writers.state.flush(&mut savepoint, &mut own));
            match &result {
                Ok(()) => savepoint.commit().map_err(classify)?,
                Err(err) if aborts_batch(err) => return Err(err.clone()),
                Err(_) => savepoint.rollback().map_err(classify)?,
            }
            result
        } else {
            if let Err(err) = apply(writers, &mut tx, &mut pending, group) {
                return give_up(tx, groups.len(), err);
            }
            Ok(())
        };
        results.push(result);
    }
    if let Err(err) = writers.state.flush(&mut tx, &mut pending) {
        return give_up(tx, groups.len(), err);
    }
    tx.commit().map_err(classify)?;
    Ok(Some(results))
}

/// A batch without savepoints that failed: the error when the whole
/// transaction must go, else rolled back, and the error of its only group
/// or `None` (run it again with savepoints).
fn give_up(
    tx: Transaction<'_>,
    groups: usize,
    err: StoreError,
) -> Result<Option<Vec<CommitResult>>, StoreError> {
    if aborts_batch(&err) {
        return Err(err);
    }
    tx.rollback().map_err(classify)?;
    Ok((groups == 1).then(|| vec![Err(err)]))
}

impl GroupStore for PostgresStore {
    fn apply_submissions(&self, groups: &[&Submission]) -> Result<Vec<CommitResult>, StoreError> {
        if let [Submission::Bindings(changes)] = groups {
            return self.commit_bindings(&[changes.as_slice()]);
        }
        self.commit_groups(
            groups,
            |group| group.len(),
            |writers, tx, pending, group| match group {
                Submission::Bindings(changes) => writers.bindings.apply(tx, changes),
                Submission::State(changes) => writers.state.apply(tx, pending, changes),
            },
        )
    }
}
