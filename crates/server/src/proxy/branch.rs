//! One branch of a forked request: one target, one client transaction.

use std::time::{Duration, Instant};

use switchboard_core::TransactionId;
use switchboard_proto::Request;
use switchboard_routing::Credentials;

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
    /// it is sent while `fallback` has targets to fail over to. Boxed, like
    /// `sent`: most branches never keep one, and an answered call's
    /// context holds its branches for 32 s.
    pub(crate) request: Option<Box<Request>>,
    /// The next hops still to try, in order, when this one fails with a
    /// transport error, a timeout or a 503 (RFC 3263 §4.3).
    pub(crate) fallback: Vec<NextHop>,
    /// When Timer C fires (INVITE only).
    pub(crate) timer_c: Option<Instant>,
    /// A CANCEL is wanted but must wait for a provisional response (§9.1).
    pub(crate) cancel_pending: bool,
    /// A CANCEL was sent.
    pub(crate) cancelled: bool,
    /// How long it may stay without a provisional answer.
    pub(crate) provisional_timeout: Option<Duration>,
    /// When it is given up for want of a provisional answer.
    pub(crate) provisional_deadline: Option<Instant>,
    /// Answer one 401/407 with these.
    pub(crate) credentials: Option<Credentials>,
    /// The request as sent and where, kept to answer a challenge.
    pub(crate) sent: Option<Box<(Request, NextHop)>>,
    /// The Call-ID of its own it goes out with (a carrier attempt).
    pub(crate) call_id: Option<String>,
    /// What its CSeq numbers are ahead of the caller's (1 after a
    /// challenge was answered).
    pub(crate) cseq_delta: u32,
    /// Its end is reported ([`super::ProxyEvent::Attempt`]) until it was.
    pub(crate) reports: bool,
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
            provisional_timeout: None,
            provisional_deadline: None,
            credentials: None,
            sent: None,
            call_id: None,
            cseq_delta: 0,
            reports: false,
        }
    }

    /// The branch that takes its request to the next hop (RFC 3263
    /// fail-over): the same target, credentials and translation.
    pub(crate) fn successor(&self) -> Self {
        let mut next = Self::new(self.uri.clone());
        next.provisional_timeout = self.provisional_timeout;
        next.credentials = self.credentials.clone();
        next.call_id = self.call_id.clone();
        next.cseq_delta = self.cseq_delta;
        next
    }

    /// A final answer went upstream: no fail-over or answer to a
    /// challenge will need the copies kept for them.
    pub(crate) fn settle(&mut self) {
        self.request = None;
        self.sent = None;
        self.fallback = Vec::new();
    }

    /// Its request leaves with another Call-ID or CSeq than the caller's.
    pub(crate) fn is_translated(&self) -> bool {
        self.call_id.is_some() || self.cseq_delta > 0
    }

    /// Still waiting for a final response.
    pub(crate) fn is_pending(&self) -> bool {
        self.state != BranchState::Done
    }
}
