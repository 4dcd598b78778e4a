//! A small bounded pool of PostgreSQL connections, each with its own cache
//! of prepared statements.
//!
//! A connection that failed at the connection level (closed by the server,
//! the network gone) is dropped instead of going back to the pool; the next
//! checkout opens a new one. So the pool recovers by itself once the
//! database is back, without a reconnect loop of its own.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use postgres::{Client, Config, NoTls, Statement};

use super::classify;
use super::groups::Writers;
use crate::error::StoreError;

/// One connection and the statements prepared on it (by their SQL text):
/// PostgreSQL keeps a prepared statement per session, so the cache lives
/// as long as the connection.
pub(super) struct Connection {
    pub(super) client: Client,
    statements: HashMap<String, Statement>,
    /// The statements of every write, once prepared (see
    /// [`Writers::of`]).
    pub(super) writers: Option<Arc<Writers>>,
    /// Set when a call on it failed at the connection level.
    broken: bool,
}

impl Connection {
    /// The prepared statement for `sql`, prepared on first use.
    pub(super) fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(classify)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// The statements for every text of `sqls`, in order (prepared before a
    /// transaction borrows the client).
    pub(super) fn statements<const N: usize>(
        &mut self,
        sqls: [&str; N],
    ) -> Result<[Statement; N], StoreError> {
        let mut prepared = Vec::with_capacity(N);
        for sql in sqls {
            prepared.push(self.statement(sql)?);
        }
        prepared
            .try_into()
            .map_err(|_| StoreError::InvalidInput("statement count".into()))
    }
}

#[derive(Default)]
struct State {
    idle: Vec<Connection>,
    /// Connections handed out or idle (at most the pool's size).
    open: usize,
}

/// At most `size` connections to one database.
pub(super) struct Pool {
    config: Config,
    size: usize,
    state: Mutex<State>,
    returned: Condvar,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("open", &state.open)
            .field("idle", &state.idle.len())
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub(super) fn new(config: Config, size: usize) -> Self {
        Self {
            config,
            size: size.max(1),
            state: Mutex::new(State::default()),
            returned: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` on an idle connection, or a new one while fewer than
    /// `size` are open (otherwise waits for one to come back), and puts the
    /// connection back unless it broke. `fresh` skips the idle ones (after
    /// a reused connection turned out dead: they may be as stale). Gives
    /// `work`'s result and whether the connection had been used before.
    pub(super) fn with<T>(
        &self,
        fresh: bool,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> (Result<T, StoreError>, bool) {
        let (mut conn, reused) = match self.checkout(fresh) {
            Ok(found) => found,
            Err(err) => return (Err(err), false),
        };
        let result = work(&mut conn);
        if let Err(err) = &result {
            if matches!(err, StoreError::Unavailable(_)) {
                conn.broken = true;
            }
        }
        self.give_back(conn);
        (result, reused)
    }

    fn checkout(&self, fresh: bool) -> Result<(Connection, bool), StoreError> {
        if fresh {
            let stale = {
                let mut state = self.lock();
                let stale = std::mem::take(&mut state.idle);
                state.open = state.open.saturating_sub(stale.len());
                stale
            };
            // Closed outside the lock: closing may wait on the network.
            drop(stale);
        }
        let mut state = self.lock();
        loop {
            while let Some(conn) = state.idle.pop() {
                if conn.client.is_closed() {
                    state.open = state.open.saturating_sub(1);
                    continue;
                }
                return Ok((conn, true));
            }
            if state.open < self.size {
                state.open += 1;
                drop(state);
                return match self.config.connect(NoTls) {
                    Ok(client) => Ok((
                        Connection {
                            client,
                            statements: HashMap::new(),
                            writers: None,
                            broken: false,
                        },
                        false,
                    )),
                    Err(err) => {
                        self.release_slot();
                        tracing::warn!(error = %err, "store: cannot connect to PostgreSQL");
                        Err(StoreError::Unavailable(Arc::new(err)))
                    }
                };
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, conn: Connection) {
        if conn.broken || conn.client.is_closed() {
            self.release_slot();
            return;
        }
        self.lock().idle.push(conn);
        self.returned.notify_one();
    }

    fn release_slot(&self) {
        let mut state = self.lock();
        state.open = state.open.saturating_sub(1);
        drop(state);
        self.returned.notify_one();
    }
}

impl Drop for Pool {
    /// Closes the idle connections on a thread of their own: closing one
    /// blocks on the client's own runtime, which tokio refuses when the
    /// store is dropped on one of its threads (as `serve` does at exit).
    fn drop(&mut self) {
        let idle = std::mem::take(&mut self.lock().idle);
        if idle.is_empty() {
            return;
        }
        let closing = std::thread::Builder::new()
            .name("store-close".into())
            .spawn(move || drop(idle));
        if let Err(err) = closing {
            tracing::warn!(error = %err, "store: cannot close the PostgreSQL connections");
        }
    }
}
