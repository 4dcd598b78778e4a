//! Writes in SQLite: one submission in one transaction, or group commit:
//! many independent submissions (binding changes, event-state changes, or
//! both) in ONE transaction and one durable commit, each atomic on its own
//! inside a savepoint.

use std::time::Instant;

use rusqlite::{CachedStatement, Connection, TransactionBehavior};

use super::SqliteStore;
use super::bindings::BindingWriter;
use super::event_state::StateWriter;
use crate::commit::{CommitResult, GroupStore, Submission};
use crate::error::StoreError;

/// The writers of one transaction, each prepared when first needed.
pub(super) struct Writers<'c> {
    conn: &'c Connection,
    bindings: Option<BindingWriter<'c>>,
    state: Option<StateWriter<'c>>,
}

impl<'c> Writers<'c> {
    pub(super) fn bindings(&mut self) -> Result<&mut BindingWriter<'c>, StoreError> {
        match &mut self.bindings {
            Some(writer) => Ok(writer),
            slot => Ok(slot.insert(BindingWriter::new(self.conn)?)),
        }
    }

    pub(super) fn state(&mut self) -> Result<&mut StateWriter<'c>, StoreError> {
        match &mut self.state {
            Some(writer) => Ok(writer),
            slot => Ok(slot.insert(StateWriter::new(self.conn)?)),
        }
    }
}

/// The savepoint statements around one group.
struct Savepoint<'c> {
    begin: CachedStatement<'c>,
    release: CachedStatement<'c>,
    rollback_to: CachedStatement<'c>,
}

impl<'c> Savepoint<'c> {
    fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Self {
            begin: conn.prepare_cached("SAVEPOINT grp")?,
            release: conn.prepare_cached("RELEASE grp")?,
            rollback_to: conn.prepare_cached("ROLLBACK TO grp")?,
        })
    }

    /// Runs `group` inside the savepoint: rolled back alone if it fails.
    fn run(&mut self, group: impl FnOnce() -> Result<(), StoreError>) -> Result<(), StoreError> {
        self.begin.execute([])?;
        let result = group();
        if result.is_err() {
            self.rollback_to.execute([])?;
        }
        self.release.execute([])?;
        result
    }
}

/// A write transaction begun and committed through cached statements: the
/// group commit opens one per commit, and `Connection::transaction` would
/// have SQLite parse `BEGIN IMMEDIATE` and `COMMIT` again each time.
/// Dropped without [`commit`](Self::commit), it rolls back.
struct WriteTransaction<'c> {
    conn: &'c Connection,
}

impl<'c> WriteTransaction<'c> {
    fn begin(conn: &'c Connection) -> Result<Self, StoreError> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self { conn })
    }

    fn commit(self) -> Result<(), StoreError> {
        // A failed COMMIT leaves the transaction open: the drop rolls it back.
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }

    /// True when SQLite already rolled the whole transaction back (some
    /// errors, such as a full disk or an I/O error, do).
    fn aborted(&self) -> bool {
        self.conn.is_autocommit()
    }
}

impl Drop for WriteTransaction<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            if let Err(err) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %err, "store: rollback failed");
            }
        }
    }
}

impl SqliteStore {
    /// Runs `apply` in one write transaction: all or nothing.
    pub(super) fn write(
        &self,
        apply: impl FnOnce(&Connection) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        apply(&tx)?;
        tx.commit()?;
        Ok(())
    }

    /// Applies `groups` in one transaction, each group by `apply` inside
    /// its own savepoint; the outer error means nothing was committed.
    pub(super) fn commit_groups<G>(
        &self,
        groups: &[G],
        count: impl Fn(&G) -> usize,
        mut apply: impl FnMut(&mut Writers<'_>, &G) -> Result<(), StoreError>,
    ) -> Result<Vec<CommitResult>, StoreError> {
        let started = Instant::now();
        let conn = self.conn();
        let tx = WriteTransaction::begin(&conn)?;
        let mut results = Vec::with_capacity(groups.len());
        {
            let mut writers = Writers {
                conn: &conn,
                bindings: None,
                state: None,
            };
            if let [group] = groups {
                // One group (every commit at a low rate): the transaction
                // is its savepoint, rolled back whole when it fails.
                let result = apply(&mut writers, group);
                if let Err(err) = &result {
                    if tx.aborted() {
                        tracing::warn!(error = %err, "store: group commit aborted");
                        return Err(err.clone());
                    }
                    // Dropping `tx` rolls the group back.
                    return Ok(vec![result]);
                }
                results.push(result);
            } else {
                let mut savepoint = Savepoint::new(&conn)?;
                for group in groups {
                    let result = savepoint.run(|| apply(&mut writers, group));
                    if let Err(err) = &result {
                        // Some errors (disk full, I/O) make SQLite roll back
                        // the whole transaction: then nothing of this batch
                        // can commit, and later statements must not run
                        // outside it.
                        if tx.aborted() {
                            tracing::warn!(error = %err, "store: group commit aborted");
                            return Err(err.clone());
                        }
                    }
                    results.push(result);
                }
            }
        }
        tx.commit()?;
        crate::commit::log_committed(groups, count, &results, started);
        Ok(results)
    }
}

impl GroupStore for SqliteStore {
    fn apply_submissions(&self, groups: &[&Submission]) -> Result<Vec<CommitResult>, StoreError> {
        self.commit_groups(
            groups,
            |group| group.len(),
            |writers, group| match group {
                Submission::Bindings(changes) => writers.bindings()?.apply(changes),
                Submission::State(changes) => writers.state()?.apply(changes),
            },
        )
    }
}
