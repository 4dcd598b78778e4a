//! What the proxy asks of the application, and what it tells it.

use switchboard_core::TransactionId;
use switchboard_proto::StatusCode;

use super::call_update::CallUpdate;
use super::session_answer::SessionAnswer;

/// Names one pending resolution, to answer with
/// [`super::Proxy::resolved`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResolveId(pub(crate) u64);

/// Something the application must do for the proxy, from
/// [`super::Proxy::poll_event`].
// Call updates are the common event and short-lived (drained after each
// input): boxing them would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyEvent {
    /// The next hop is a host name: resolve `uri` (RFC 3263) and answer
    /// with [`super::Proxy::resolved`]: every target in order, the later
    /// ones tried when one fails (RFC 3263 §4.3); none fails the branch as
    /// a 503 would.
    Resolve {
        /// Which resolution.
        id: ResolveId,
        /// The URI to resolve (a Route or the target).
        uri: String,
    },
    /// Every target of a request forwarded with
    /// [`TargetSet::hold_final`](super::TargetSet::hold_final) failed
    /// without a 2xx: nothing went upstream yet. Answer with
    /// [`super::Proxy::forward_more`] (fallthrough) or
    /// [`super::Proxy::release`] (the best response goes up).
    Exhausted {
        /// The request's server transaction.
        server: TransactionId,
        /// The best final status collected (what a release sends; 408
        /// when no target answered).
        status: StatusCode,
        /// What that status means for the dial plan's fallthrough.
        cause: ExhaustCause,
    },
    /// A call the proxy routes changed state (for busy-lamp fields and
    /// pickup): nothing to answer.
    Call(CallUpdate),
    /// A 2xx to an INVITE or UPDATE went upstream: the session timer it
    /// set (RFC 4028), for the application's dead-call sweep.
    Session(SessionAnswer),
    /// A target forwarded [`Target::with_report`](super::Target::with_report)
    /// ended its attempt (a gateway's health learns from it).
    Attempt {
        /// The request's server transaction.
        server: TransactionId,
        /// The target's URI.
        uri: String,
        /// How it ended.
        result: AttemptReport,
    },
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptReport {
    /// A final response (the gateway is alive, whatever it said).
    Response(u16),
    /// No final response (Timer B), or no provisional one in the target's
    /// time.
    Timeout,
    /// The request could not be sent (connection refused, no address).
    TransportError,
}

/// Why the targets of a request are exhausted, as a dial plan's
/// fallthrough (`on_busy`, `on_no_answer`, `on_unavailable`) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExhaustCause {
    /// The callee is busy (486, 600).
    Busy,
    /// Nobody answered in time (408, 480, a ring timeout).
    NoAnswer,
    /// Anything else: not found, rejected, the gateways failed.
    Unavailable,
}

impl ExhaustCause {
    /// The cause a best final status stands for.
    pub fn of(status: StatusCode) -> Self {
        match status.as_u16() {
            486 | 600 => Self::Busy,
            408 | 480 => Self::NoAnswer,
            _ => Self::Unavailable,
        }
    }
}
