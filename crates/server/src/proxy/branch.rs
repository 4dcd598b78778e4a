//! One branch of a forked request: one target, one client transaction.

use std::time::Instant;

use switchboard_core::TransactionId;
use switchboard_proto::Request;

use super::target::NextHop;

/// Where a branch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BranchState {
    /// Waiting for the application to resolve the next hop.
    Resolving,
    /// Sent, no provisional response yet.
    Calling,
    /// A provisional response came.
    Proceeding,
    /// A final response came, or the branch was given up.
    Done,
}

#[derive(Debug)]
pub(crate) struct Branch {
    /// The target URI (the branch's Request-URI).
    pub(crate) uri: String,
    pub(crate) state: BranchState,
    /// Its client transaction, once sent.
    pub(crate) tx: Option<TransactionId>,
    /// The request, kept while the next hop is being resolved, and after
    /// it is sent while `fallback` has targets to fail over to.
    pub(crate) request: Option<Request>,
    /// The next hops still to try, in order, when this one fails with a
    /// transport error, a timeout or a 503 (RFC 3263 §4.3).
    pub(crate) fallback: Vec<NextHop>,
    /// When Timer C fires (INVITE only).
    pub(crate) timer_c: Option<Instant>,
    /// A CANCEL is wanted but must wait for a provisional response (§9.1).
    pub(crate) cancel_pending: bool,
    /// A CANCEL was sent.
    pub(crate) cancelled: bool,
}

impl Branch {
    pub(crate) fn new(uri: String) -> Self {
        Self {
            uri,
            state: BranchState::Resolving,
            tx: None,
            request: None,
            fallback: Vec::new(),
            timer_c: None,
            cancel_pending: false,
            cancelled: false,
        }
    }

    /// Still waiting for a final response.
    pub(crate) fn is_pending(&self) -> bool {
        self.state != BranchState::Done
    }
}
