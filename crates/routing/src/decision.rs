//! What the plan decided for a call, and why.

use std::time::Duration;

/// How a ring group rings its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingStrategy {
    /// All members at once.
    Parallel,
    /// One after another, each for the group's ring timeout.
    Sequential,
}

/// One carrier attempt: a trunk's gateway and the Request-URI sent there.
#[derive(Debug, Clone, PartialEq)]
pub struct TrunkAttempt {
    /// The trunk's name.
    pub trunk: String,
    /// The gateway's URI as written in the plan.
    pub gateway: String,
    /// The Request-URI to send (the routed number at the gateway).
    pub request_uri: String,
    /// What the health said when the plan decided (`None`: unknown,
    /// taken as up). Attempts on down gateways are not listed; this is for
    /// the trace.
    pub up: Option<bool>,
}

/// Where a call (or its fallthrough) goes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RouteTarget {
    /// A local user's devices.
    User {
        /// The user name.
        name: String,
        /// The domain (the request's, or the plan's default).
        domain: String,
    },
    /// A ring group's members (local users).
    RingGroup {
        /// The group's name (for the trace and records).
        name: String,
        /// Member user names with their domain, in order.
        members: Vec<(String, String)>,
        /// Parallel or sequential.
        strategy: RingStrategy,
        /// How long the group (parallel) or each member (sequential) rings.
        ring_timeout: Duration,
    },
    /// Forward to a URI.
    Uri(String),
    /// Carrier attempts in order (failover and least cost applied).
    Trunks(Vec<TrunkAttempt>),
}

/// A route: the target and what happens when it does not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// Where the call goes first.
    pub target: RouteTarget,
    /// When the target is busy (486, 600).
    pub on_busy: Option<RouteTarget>,
    /// When nobody answers within `no_answer_after`.
    pub on_no_answer: Option<RouteTarget>,
    /// How long the target rings before `on_no_answer`.
    pub no_answer_after: Option<Duration>,
    /// When the target cannot be reached (no device, 404, 480, 5xx, all
    /// gateways failed).
    pub on_unavailable: Option<RouteTarget>,
    /// Ring the callee's devices at the caller's site first.
    pub prefer_caller_site: bool,
}

/// The outcome of a decision.
// One decision per call, moved once: boxing the route would only add an
// allocation (and change the contract the server matches on).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// Route the call.
    Route(Route),
    /// Answer with this status and reason (a rule's `reject`, or a group
    /// the caller lacks: 403).
    Reject {
        /// The SIP status.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// Answer with a redirection (3xx) to this URI.
    Redirect {
        /// The SIP status (3xx).
        status: u16,
        /// The Contact.
        uri: String,
    },
    /// No rule matched: the server routes as it does without a plan (a
    /// local user's devices, or another domain by DNS).
    NoRoute,
}

/// A decision with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// What to do.
    pub outcome: Outcome,
    /// The rule that decided (`None`: none matched, or a DID map).
    pub rule: Option<String>,
    /// The number after the rule's rewrites (the dialled one when none).
    pub number: String,
    /// Every step, one line each: rules tried and why they matched or not,
    /// rewrites, the chosen target, the failover list, the health assumed.
    pub trace: Vec<String>,
}

impl Decision {
    /// Whether the call would be refused (for `route test`'s exit status).
    pub fn refuses(&self) -> bool {
        matches!(self.outcome, Outcome::Reject { .. })
    }
}
