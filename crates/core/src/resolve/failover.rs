//! RFC 3263 §4.3 fail-over: one request tried on the targets of its next
//! hop in turn, each attempt a new client transaction (a new branch).

use std::collections::VecDeque;

use switchboard_proto::StatusCode;

/// What became of one attempt, as far as fail-over cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A provisional response: the target has the request.
    Provisional,
    /// A final response with this status.
    Final(StatusCode),
    /// The client transaction timed out (Timer B or F).
    Timeout,
    /// The request could not be sent, or the connection broke (refused,
    /// reset, RFC 5626 keep-alive unanswered).
    TransportError,
}

/// The targets of one request and the walk along them (RFC 3263 §4.3).
///
/// An attempt fails when it ends with a 503, or with a transport error or a
/// timeout before it got any response (a target that answered has the
/// request: sending it elsewhere could act on it twice). After a failure
/// the next target gets the request, with a new branch; any other outcome,
/// or [`Failover::stop`] (a CANCEL, a 2xx or 6xx elsewhere), ends the walk.
///
/// ```
/// use switchboard_core::resolve::{AttemptOutcome, Failover};
/// use switchboard_proto::StatusCode;
///
/// let mut walk = Failover::new(["a", "b", "c"]);
/// assert_eq!(walk.next_target(), Some("a"));
/// assert!(walk.failed(AttemptOutcome::Timeout));
/// assert_eq!(walk.next_target(), Some("b"));
/// walk.failed(AttemptOutcome::Provisional);
/// // It answered: a later timeout is not a reason to go on.
/// assert!(!walk.failed(AttemptOutcome::Timeout));
/// assert!(walk.failed(AttemptOutcome::Final(StatusCode::SERVICE_UNAVAILABLE)));
/// assert_eq!(walk.next_target(), Some("c"));
/// assert_eq!(walk.attempts(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover<T> {
    rest: VecDeque<T>,
    /// The current attempt got a response.
    answered: bool,
    attempts: usize,
    stopped: bool,
}

impl<T> Default for Failover<T> {
    fn default() -> Self {
        Self {
            rest: VecDeque::new(),
            answered: false,
            attempts: 0,
            stopped: false,
        }
    }
}

impl<T> Failover<T> {
    /// A walk along `targets`, in order.
    pub fn new(targets: impl IntoIterator<Item = T>) -> Self {
        Self {
            rest: targets.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Starts the next attempt: the target to send to, or `None` when none
    /// is left or the walk was stopped.
    pub fn next_target(&mut self) -> Option<T> {
        if self.stopped {
            return None;
        }
        let target = self.rest.pop_front()?;
        self.answered = false;
        self.attempts += 1;
        Some(target)
    }

    /// Records what the current attempt got; `true` when it failed in the
    /// §4.3 sense, so that the next target should get the request (when
    /// [`Failover::next_target`] has one).
    pub fn failed(&mut self, outcome: AttemptOutcome) -> bool {
        let failed = match outcome {
            AttemptOutcome::Provisional => false,
            AttemptOutcome::Final(status) => status == StatusCode::SERVICE_UNAVAILABLE,
            AttemptOutcome::Timeout | AttemptOutcome::TransportError => !self.answered,
        };
        if !matches!(
            outcome,
            AttemptOutcome::TransportError | AttemptOutcome::Timeout
        ) {
            self.answered = true;
        }
        failed
    }

    /// Ends the walk: no further target is tried.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Whether a failure now would find a next target.
    pub fn has_next(&self) -> bool {
        !self.stopped && !self.rest.is_empty()
    }

    /// How many attempts were started (1 for the first).
    pub fn attempts(&self) -> usize {
        self.attempts
    }

    /// Targets not tried yet, in order.
    pub fn remaining(&self) -> impl ExactSizeIterator<Item = &T> {
        self.rest.iter()
    }
}
