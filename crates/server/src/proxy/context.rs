//! The response context of one proxied request (RFC 3261 §16.7): its
//! branches, the targets still to try, the final responses collected and
//! the choice of the best one.

use std::collections::VecDeque;
use std::time::Instant;

use switchboard_core::{Source, TransactionId};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response, StatusCode};

use super::branch::Branch;
use super::target::{Advance, TargetGroup};

#[derive(Debug)]
pub(crate) struct Context {
    /// The request as forwarded (before the per-branch changes).
    pub(crate) request: Request,
    pub(crate) source: Source,
    pub(crate) loop_hash: String,
    pub(crate) branches: Vec<Branch>,
    /// Groups of targets still to try, in order.
    pub(crate) groups: VecDeque<TargetGroup>,
    /// When the group ringing now hands over to the next.
    pub(crate) advance: Advance,
    /// Exhausted targets are reported, not answered (fallthrough).
    pub(crate) hold_final: bool,
    /// Reported exhausted: waiting for more targets or the release.
    pub(crate) held: bool,
    /// The Call-ID of the server transaction when the request was
    /// translated on its way in (from a carrier's leg): responses going
    /// upstream get it back.
    pub(crate) upstream: Option<String>,
    /// The leg the request goes out on (an in-dialog request towards a
    /// carrier): its Call-ID and CSeq delta.
    pub(crate) outbound: Option<(String, u32)>,
    /// Every target URI tried (lower case), so 3xx recursion never loops.
    pub(crate) tried: Vec<String>,
    /// Final non-2xx responses (our Via removed) and the ones the proxy made
    /// up for branches that failed.
    pub(crate) responses: Vec<Response>,
    /// A final response went upstream (for INVITE, later 2xx still do).
    pub(crate) final_sent: bool,
    /// No new branches: CANCEL, a 2xx or a 6xx came.
    pub(crate) stop: bool,
    /// The caller cancelled.
    pub(crate) cancelled: bool,
    /// When the current serial group is given up.
    pub(crate) group_deadline: Option<Instant>,
    /// The server transaction still exists.
    pub(crate) server_alive: bool,
    /// Client transactions of this context still alive.
    pub(crate) live_clients: usize,
}

impl Context {
    pub(crate) fn new(request: Request, source: Source, loop_hash: String) -> Self {
        Self {
            request,
            source,
            loop_hash,
            branches: Vec::new(),
            groups: VecDeque::new(),
            advance: Advance::AfterFailure,
            hold_final: false,
            held: false,
            upstream: None,
            outbound: None,
            tried: Vec::new(),
            responses: Vec::new(),
            final_sent: false,
            stop: false,
            cancelled: false,
            group_deadline: None,
            server_alive: true,
            live_clients: 0,
        }
    }

    pub(crate) fn is_invite(&self) -> bool {
        *self.request.method() == Method::Invite
    }

    /// An INVITE that starts a call (no To tag): the calls the proxy
    /// reports.
    pub(crate) fn is_initial_invite(&self) -> bool {
        self.is_invite() && self.request.headers().to_tag().is_none()
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.branches.iter().any(Branch::is_pending)
    }

    /// The final response §16.7 step 6 chooses from those collected (none:
    /// 408, or 487 when the caller cancelled).
    pub(crate) fn best_response(&self, tag: &str) -> Option<Response> {
        let ctx = self;
        let chosen = best_index(&ctx.responses);
        match chosen.and_then(|i| ctx.responses.get(i).map(|r| (i, r))) {
            Some((_, r)) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {
                // §16.7 step 6: a 503 would tell the caller that we are
                // overloaded; it becomes 500.
                crate::util::response(
                    &ctx.request,
                    StatusCode::SERVER_INTERNAL_ERROR,
                    None,
                    tag,
                    &[],
                )
                .ok()
            }
            Some((i, r)) if matches!(r.status().as_u16(), 401 | 407) => {
                let mut r = r.clone();
                for (name, value) in other_challenges(&ctx.responses, i) {
                    r.headers_mut().push(name, value);
                }
                Some(r)
            }
            Some((_, r)) => Some(r.clone()),
            None => {
                let status = if ctx.cancelled {
                    StatusCode::REQUEST_TERMINATED
                } else {
                    StatusCode::REQUEST_TIMEOUT
                };
                crate::util::response(&ctx.request, status, None, tag, &[]).ok()
            }
        }
    }

    /// A final response went upstream: nothing is forked, failed over,
    /// challenged or chosen any more. The context lingers as long as its
    /// transactions (32 s over UDP) only to pass later 2xx and report the
    /// call, so it keeps a copy of the request with just the fields those
    /// read, and drops the rest.
    pub(crate) fn settle(&mut self) {
        if let Some(slim) = answered_request(&self.request) {
            self.request = slim;
        }
        self.loop_hash = String::new();
        self.tried = Vec::new();
        self.groups = VecDeque::new();
        self.responses = Vec::new();
        for branch in &mut self.branches {
            branch.settle();
        }
        self.branches.shrink_to_fit();
    }

    /// The context can go: nothing more will arrive for it.
    pub(crate) fn is_finished(&self) -> bool {
        !self.server_alive && self.live_clients == 0
    }
}

/// The header fields a settled context still reads: the call reports
/// (From, To, Contact, Call-ID, CSeq), the session timer of a later 2xx
/// (Session-Expires, Supported) and a response made up for a branch
/// (Via, Timestamp).
const KEPT_AFTER_FINAL: [HeaderName; 9] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::Contact,
    HeaderName::SessionExpires,
    HeaderName::Supported,
    HeaderName::Timestamp,
];

/// `request` with only [`KEPT_AFTER_FINAL`], in a buffer of its own (the
/// received one, with its body, is freed); `None` when it does not build.
/// The kept lines are copied as received, so they are not checked again.
fn answered_request(request: &Request) -> Option<Request> {
    RequestBuilder::from_request_fields(request, |name| KEPT_AFTER_FINAL.contains(&name))
        .build()
        .ok()
}

/// How good a final response is for §16.7 step 6, lower is better: 6xx
/// first, then the lowest class; within 4xx, the ones that tell the caller
/// what to do (401, 407, 415, 420, 484) first.
fn rank(status: StatusCode) -> (u8, u8) {
    let code = status.as_u16();
    let class = match code / 100 {
        6 => 0,
        c => u8::try_from(c).unwrap_or(9),
    };
    let preferred = matches!(code, 401 | 407 | 415 | 420 | 484);
    (class, u8::from(!preferred))
}

/// The index of the best final response, the first of equal rank.
pub(crate) fn best_index(responses: &[Response]) -> Option<usize> {
    responses
        .iter()
        .enumerate()
        .min_by_key(|(i, r)| (rank(r.status()), *i))
        .map(|(i, _)| i)
}

/// The challenges of every 401 and 407 but `chosen`, to add to the chosen
/// one (§16.7 step 7).
pub(crate) fn other_challenges(responses: &[Response], chosen: usize) -> Vec<(HeaderName, String)> {
    responses
        .iter()
        .enumerate()
        .filter(|(i, r)| *i != chosen && matches!(r.status().as_u16(), 401 | 407))
        .flat_map(|(_, r)| {
            [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate]
                .into_iter()
                .flat_map(move |name| r.headers().get_all(name).map(move |v| (name, v.to_owned())))
        })
        .collect()
}

/// The server transaction a client transaction serves, and which branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BranchRef {
    pub(crate) server: TransactionId,
    pub(crate) index: usize,
}
