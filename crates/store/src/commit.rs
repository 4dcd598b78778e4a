//! Group commit: one writer thread turns many submissions into one
//! transaction and one durable commit.
//!
//! A durable commit costs an fsync, milliseconds on most disks. Doing one
//! per REGISTER would cap the registrar at a few hundred registrations per
//! second; the [`GroupCommitter`] instead lets submissions queue while a
//! commit is in flight, then takes everything queued (up to
//! [`CommitterConfig::max_groups_per_commit`]) into the next transaction.
//! A submission is binding changes or event-state changes
//! ([`Submission`]); each stays atomic on its own (a savepoint per group,
//! see [`GroupStore::apply_submissions`]), and its ticket completes only
//! after the commit that holds it returned: the 200 OK (or the 202 of a
//! stored MESSAGE) can go out then.

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use switchboard_server::registrar::BindingChange;
use switchboard_server::storage::StateChange;

use crate::error::StoreError;
use crate::validate::{validate_change, validate_state_change};

/// The result a ticket or callback receives.
pub type CommitResult = Result<(), StoreError>;

/// One submission to the [`GroupCommitter`]: registration bindings, or the
/// event state (subscriptions, publications, stored messages). Either kind
/// is applied in order and atomically, and shares the commit (the fsync)
/// with whatever else is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Submission {
    /// Binding changes (a REGISTER, expired bindings).
    Bindings(Vec<BindingChange>),
    /// Event-state changes (a SUBSCRIBE, a PUBLISH, a MESSAGE kept).
    State(Vec<StateChange>),
}

impl Submission {
    /// How many changes it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Bindings(changes) => changes.len(),
            Self::State(changes) => changes.len(),
        }
    }

    /// True for a barrier (no change).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The checks of the store, before queuing.
    fn validate(&self) -> Result<(), StoreError> {
        match self {
            Self::Bindings(changes) => changes.iter().try_for_each(validate_change),
            Self::State(changes) => changes.iter().try_for_each(validate_state_change),
        }
    }
}

/// What the writer thread of a [`GroupCommitter`] writes to: a back end
/// that applies many submissions in one transaction with one durable
/// commit.
pub trait GroupStore {
    /// Applies every submission in ONE transaction. Each one is atomic on
    /// its own: one that fails is rolled back alone and its error is
    /// returned in its slot, the others still commit.
    ///
    /// # Errors
    /// The outer error means nothing was committed (for example the commit
    /// itself failed): every submission failed with it.
    fn apply_submissions(&self, groups: &[&Submission]) -> Result<Vec<CommitResult>, StoreError>;
}

/// The debug line of a group committed by a back end.
pub(crate) fn log_committed<G>(
    groups: &[G],
    count: impl Fn(&G) -> usize,
    results: &[CommitResult],
    started: Instant,
) {
    tracing::debug!(
        groups = groups.len(),
        changes = groups.iter().map(count).sum::<usize>(),
        failed = results.iter().filter(|r| r.is_err()).count(),
        micros = started.elapsed().as_micros() as u64,
        "store: group committed"
    );
}

/// Settings of a [`GroupCommitter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitterConfig {
    /// Submissions that may wait for the writer; one more is refused with
    /// [`StoreError::QueueFull`] (back-pressure: answer 503).
    pub queue_capacity: usize,
    /// Most submissions in one transaction, so that one commit stays short.
    pub max_groups_per_commit: usize,
}

impl Default for CommitterConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 16 * 1024,
            max_groups_per_commit: 4 * 1024,
        }
    }
}

/// Counters of a [`GroupCommitter`], from [`GroupCommitter::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    /// Transactions committed.
    pub commits: u64,
    /// Transactions that failed as a whole.
    pub failed_commits: u64,
    /// Submissions completed (successfully or not).
    pub groups: u64,
    /// Changes (bindings and event state) in the completed submissions.
    pub changes: u64,
    /// Most submissions seen in one transaction.
    pub max_groups_in_commit: u64,
    /// Submissions refused because the queue was full.
    pub rejected_full: u64,
    /// Submissions waiting for the writer now.
    pub queued: usize,
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    failed_commits: AtomicU64,
    groups: AtomicU64,
    changes: AtomicU64,
    max_groups_in_commit: AtomicU64,
    rejected_full: AtomicU64,
    queued: AtomicUsize,
}

/// Where one submission's result goes.
enum Notify {
    Ticket(Arc<Slot>),
    Callback(Box<dyn FnOnce(CommitResult) + Send>),
}

/// Delivers exactly once: a completion dropped without result (the writer
/// died, or the job was never run) delivers [`StoreError::Closed`].
struct Completion(Option<Notify>);

impl Completion {
    fn complete(mut self, result: CommitResult) {
        if let Some(notify) = self.0.take() {
            deliver(notify, result);
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if let Some(notify) = self.0.take() {
            deliver(notify, Err(StoreError::Closed));
        }
    }
}

fn deliver(notify: Notify, result: CommitResult) {
    match notify {
        Notify::Ticket(slot) => slot.fill(result),
        Notify::Callback(callback) => {
            // A panicking callback must not take the writer down with it.
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| callback(result))) {
                tracing::error!(
                    panic = panic_message(&*panic),
                    "store: commit callback panicked"
                );
            }
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[derive(Default)]
struct Slot {
    result: Mutex<Option<CommitResult>>,
    ready: Condvar,
}

impl Slot {
    fn fill(&self, result: CommitResult) {
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        self.ready.notify_all();
    }
}

/// The pending result of one [`GroupCommitter::submit`]: wait on it, then
/// acknowledge (send the 200 OK).
#[must_use = "a submission is durable only once its ticket says so"]
pub struct Ticket {
    slot: Arc<Slot>,
}

impl Ticket {
    /// Blocks until the submission is committed (`Ok`) or has failed.
    ///
    /// # Errors
    /// The submission's error: environment errors of the commit,
    /// [`StoreError::Closed`] if the committer stopped without running it.
    pub fn wait(self) -> CommitResult {
        let mut guard = self
            .slot
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(result) = guard.take() {
                return result;
            }
            guard = self
                .slot
                .ready
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Like [`wait`](Self::wait) for at most `timeout`; gives the ticket
    /// back if the result is not there yet.
    ///
    /// # Errors
    /// `Err(self)` on time-out.
    pub fn wait_timeout(self, timeout: Duration) -> Result<CommitResult, Self> {
        let deadline = Instant::now() + timeout;
        {
            let mut guard = self
                .slot
                .result
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(result) = guard.take() {
                    return Ok(result);
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                guard = self
                    .slot
                    .ready
                    .wait_timeout(guard, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        Err(self)
    }

    /// True once the result is there ([`wait`](Self::wait) will not
    /// block).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.slot
            .result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("done", &self.is_done())
            .finish()
    }
}

struct Job {
    submission: Submission,
    done: Completion,
}

/// A dedicated writer thread with its own [`GroupStore`] (for SQLite, its
/// own connection) that commits queued submissions in groups: binding
/// changes and event-state changes alike, in the same transactions.
///
/// Shared by reference (`&self` everywhere; put it in an `Arc`). Submitting
/// never blocks: a full queue is refused with [`StoreError::QueueFull`].
/// [`shutdown`](Self::shutdown) (also run on drop) stops taking
/// submissions, commits everything already queued, and joins the thread.
///
/// ```
/// use switchboard_server::registrar::{Aor, BindingChange, BindingKey, RemoveReason};
/// use switchboard_store::{CommitterConfig, GroupCommitter, SqliteStore};
///
/// let dir = tempfile::tempdir()?;
/// let committer = GroupCommitter::start(SqliteStore::open(dir.path())?, CommitterConfig::default())?;
/// let ticket = committer.submit(vec![BindingChange::Remove {
///     aor: Aor::new("alice", "example.com")?,
///     key: BindingKey::Contact("sip:alice@192.0.2.1".into()),
///     reason: RemoveReason::Unregistered,
/// }])?;
/// ticket.wait()?; // durable now: acknowledge
/// committer.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct GroupCommitter {
    sender: RwLock<Option<SyncSender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    capacity: usize,
}

impl GroupCommitter {
    /// Starts the writer thread (named `store-writer`), which owns `store`.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a zero capacity or batch size;
    /// [`StoreError::Io`] if the thread cannot be spawned.
    pub fn start<S>(store: S, config: CommitterConfig) -> Result<Self, StoreError>
    where
        S: GroupStore + Send + 'static,
    {
        if config.queue_capacity == 0 || config.max_groups_per_commit == 0 {
            return Err(StoreError::InvalidInput(
                "queue capacity and batch size must be at least 1".into(),
            ));
        }
        let (sender, receiver) = mpsc::sync_channel(config.queue_capacity);
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let max_groups = config.max_groups_per_commit;
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer(&store, &receiver, max_groups, &thread_counters))
            .map_err(|err| StoreError::io(PathBuf::from("<store-writer thread>"), err))?;
        tracing::info!(
            queue_capacity = config.queue_capacity,
            max_groups_per_commit = max_groups,
            "store: group committer started"
        );
        Ok(Self {
            sender: RwLock::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            counters,
            capacity: config.queue_capacity,
        })
    }

    /// Queues `changes` (applied in order, atomically) for the next group
    /// commit. [`Ticket::wait`] returns once they are on disk.
    ///
    /// An empty `changes` is a barrier: its ticket completes after every
    /// submission queued before it.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] (checked here, before queuing),
    /// [`StoreError::QueueFull`], [`StoreError::Closed`].
    pub fn submit(&self, changes: Vec<BindingChange>) -> Result<Ticket, StoreError> {
        self.submit_any(Submission::Bindings(changes))
    }

    /// Like [`submit`](Self::submit) for any kind of [`Submission`].
    ///
    /// # Errors
    /// As [`submit`](Self::submit).
    pub fn submit_any(&self, submission: Submission) -> Result<Ticket, StoreError> {
        let slot = Arc::new(Slot::default());
        self.enqueue(submission, Notify::Ticket(Arc::clone(&slot)))?;
        Ok(Ticket { slot })
    }

    /// Like [`submit`](Self::submit), but `on_done` is called with the
    /// result on the writer thread (for example to send on a tokio oneshot
    /// channel, waking an async task). It is called exactly once if this
    /// returns `Ok`, never if it returns `Err`. Keep it short: the writer
    /// completes the rest of the group after it.
    ///
    /// # Errors
    /// As [`submit`](Self::submit).
    pub fn submit_with<F>(&self, changes: Vec<BindingChange>, on_done: F) -> Result<(), StoreError>
    where
        F: FnOnce(CommitResult) + Send + 'static,
    {
        self.submit_any_with(Submission::Bindings(changes), on_done)
    }

    /// Like [`submit_with`](Self::submit_with) for changes of the event
    /// state: they share the next commit with the bindings queued.
    ///
    /// # Errors
    /// As [`submit`](Self::submit).
    pub fn submit_state_with<F>(
        &self,
        changes: Vec<StateChange>,
        on_done: F,
    ) -> Result<(), StoreError>
    where
        F: FnOnce(CommitResult) + Send + 'static,
    {
        self.submit_any_with(Submission::State(changes), on_done)
    }

    /// Like [`submit_with`](Self::submit_with) for any kind of
    /// [`Submission`].
    ///
    /// # Errors
    /// As [`submit`](Self::submit).
    pub fn submit_any_with<F>(&self, submission: Submission, on_done: F) -> Result<(), StoreError>
    where
        F: FnOnce(CommitResult) + Send + 'static,
    {
        self.enqueue(submission, Notify::Callback(Box::new(on_done)))
    }

    fn enqueue(&self, submission: Submission, notify: Notify) -> Result<(), StoreError> {
        submission.validate()?;
        let sender = self.sender.read().unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = sender.as_ref() else {
            // The caller learns of it from the return value: the notifier
            // is dropped unused.
            drop(notify);
            return Err(StoreError::Closed);
        };
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        let job = Job {
            submission,
            done: Completion(Some(notify)),
        };
        match sender.try_send(job) {
            Ok(()) => Ok(()),
            Err(err) => {
                self.counters.queued.fetch_sub(1, Ordering::Relaxed);
                let (mut job, error) = match err {
                    TrySendError::Full(job) => {
                        self.counters.rejected_full.fetch_add(1, Ordering::Relaxed);
                        (
                            job,
                            StoreError::QueueFull {
                                capacity: self.capacity,
                            },
                        )
                    }
                    TrySendError::Disconnected(job) => (job, StoreError::Closed),
                };
                // The caller learns of the failure from the return value.
                job.done.0 = None;
                Err(error)
            }
        }
    }

    /// Blocks until everything submitted before the call is committed.
    ///
    /// # Errors
    /// [`StoreError::QueueFull`], [`StoreError::Closed`].
    pub fn flush(&self) -> CommitResult {
        self.submit(Vec::new())?.wait()
    }

    /// The counters so far.
    #[must_use]
    pub fn stats(&self) -> CommitStats {
        let c = &self.counters;
        CommitStats {
            commits: c.commits.load(Ordering::Relaxed),
            failed_commits: c.failed_commits.load(Ordering::Relaxed),
            groups: c.groups.load(Ordering::Relaxed),
            changes: c.changes.load(Ordering::Relaxed),
            max_groups_in_commit: c.max_groups_in_commit.load(Ordering::Relaxed),
            rejected_full: c.rejected_full.load(Ordering::Relaxed),
            queued: c.queued.load(Ordering::Relaxed),
        }
    }

    /// Stops taking submissions ([`StoreError::Closed`] from now on),
    /// commits everything already queued, completes its tickets, and joins
    /// the writer thread. Later calls do nothing.
    ///
    /// # Errors
    /// [`StoreError::Closed`] if the writer thread had panicked (its
    /// pending tickets got [`StoreError::Closed`] too).
    pub fn shutdown(&self) -> CommitResult {
        // Taking the write lock waits out every `enqueue` in progress;
        // dropping the last sender lets the writer drain the queue and stop.
        drop(
            self.sender
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.thread().id() == std::thread::current().id() {
                // Dropped from a callback on the writer thread itself: the
                // queue is closed and the thread ends when the callback
                // returns and the queue is drained; it cannot join itself.
                return Ok(());
            }
            if thread.join().is_err() {
                tracing::error!("store: writer thread panicked");
                return Err(StoreError::Closed);
            }
            let stats = self.stats();
            tracing::info!(
                commits = stats.commits,
                groups = stats.groups,
                changes = stats.changes,
                "store: group committer stopped"
            );
        }
        Ok(())
    }
}

impl Drop for GroupCommitter {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl fmt::Debug for GroupCommitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCommitter")
            .field("capacity", &self.capacity)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The writer thread: block for one submission, take whatever else is
/// queued, commit it all at once, complete every ticket; until every
/// sender is gone and the queue is empty.
fn writer(
    store: &dyn GroupStore,
    receiver: &Receiver<Job>,
    max_groups: usize,
    counters: &Counters,
) {
    tracing::debug!("store: writer thread running");
    // One list for every commit: a commit does not allocate its own.
    let mut jobs = Vec::new();
    while let Ok(first) = receiver.recv() {
        jobs.push(first);
        while jobs.len() < max_groups {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        counters.queued.fetch_sub(jobs.len(), Ordering::Relaxed);
        commit(store, &mut jobs, counters);
    }
    tracing::debug!("store: writer thread done");
}

/// Commits `jobs` and completes each; leaves `jobs` empty.
fn commit(store: &dyn GroupStore, jobs: &mut Vec<Job>, counters: &Counters) {
    let groups: Vec<&Submission> = jobs.iter().map(|job| &job.submission).collect();
    let outcome = store.apply_submissions(&groups);
    let changes: usize = groups.iter().map(|group| group.len()).sum();
    drop(groups);
    let count = jobs.len() as u64;
    counters.groups.fetch_add(count, Ordering::Relaxed);
    counters
        .changes
        .fetch_add(changes as u64, Ordering::Relaxed);
    counters
        .max_groups_in_commit
        .fetch_max(count, Ordering::Relaxed);
    match outcome {
        Ok(results) => {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            let mut results = results.into_iter();
            for job in jobs.drain(..) {
                // A back end that returned too few results: treat the
                // missing ones as not committed.
                let result = results.next().unwrap_or(Err(StoreError::Closed));
                if let Err(err) = &result {
                    tracing::warn!(error = %err, "store: submission refused");
                }
                job.done.complete(result);
            }
        }
        Err(err) => {
            counters.failed_commits.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %err, groups = count, "store: group commit failed");
            for job in jobs.drain(..) {
                job.done.complete(Err(err.clone()));
            }
        }
    }
}
