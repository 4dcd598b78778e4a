//! The stateful proxy (RFC 3261 §16) as the transaction user of an
//! endpoint.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use switchboard_core::resolve::{AttemptOutcome, Failover};
use switchboard_core::{Event, Source, TransactionId, Transport, shrink_after_peak};
use switchboard_proto::header::{Via, format_qvalue};
use switchboard_proto::{HeaderName, Message, Request, Response, ResponseBuilder, StatusCode, Uri};

use super::branch::{Branch, BranchState};
use super::call_update::{CallEnd, CallPhase, CallUpdate};
use super::challenge;
use super::config::{Mode, ProxyConfig};
use super::context::{BranchRef, Context};
use super::error::ProxyError;
use super::event::{AttemptReport, ExhaustCause, ProxyEvent, ResolveId};
use super::incoming::Incoming;
use super::legs::{DialogIds, Legs, Rewrite, Way};
use super::loop_check::{branch_with_hash, default_port, loop_hash, stateless_branch};
use super::session_answer::SessionAnswer;
use super::target::{Advance, NextHop, Target, TargetSet};
use super::validate::{self, Rejection};
use super::{record_route, routing};
use crate::storage::CarrierLeg;
use switchboard_core::TransactionLayer;

/// A proxy timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The current serial group rang long enough.
    Group,
    /// Timer C of a branch.
    C(usize),
    /// A branch had no provisional answer in its target's time.
    Provisional(usize),
}

/// What waits for a resolution.
#[derive(Debug)]
enum Resolving {
    Branch(BranchRef),
    Message(Box<Message>),
}

/// A stateful proxy: validation (§16.3), Route processing (§16.4),
/// forking to the targets the application found (§16.5, §16.6), the
/// response context with best-response selection (§16.7), Timer C
/// (§16.8), CANCEL (§16.10), and stateless relay of ACKs for 2xx and of
/// 2xx retransmissions.
///
/// It is sans-IO like the [`switchboard_core::Endpoint`] it sits on: every
/// method takes the current time and the endpoint (any
/// [`TransactionLayer`]), and nothing happens between calls. After any
/// call, drain the endpoint as usual, answer [`Proxy::poll_event`], and
/// call [`Proxy::handle_timeout`] at [`Proxy::poll_timeout`].
///
/// The application's loop:
///
/// ```text
/// Event::Request { tx, request, source } =>
///     match proxy.on_request(now, ep, tx, request, source) {
///         Err(_) => {}                              // answered (416/420/482/483)
///         Ok(incoming) if incoming.is_for_us() =>   // look the user up
///             proxy.forward(now, ep, incoming, TargetSet::from_bindings(..)),
///         Ok(incoming) => {                         // Route or other domain
///             let target = incoming.request_uri_target();
///             proxy.forward(now, ep, incoming, TargetSet::single(target))
///         }
///     }
/// Event::Ack { request, source } => proxy.on_ack(now, ep, request, source, None),
/// other => proxy.handle_event(now, ep, other),      // responses, CANCEL, timeouts
/// ```
#[derive(Debug)]
pub struct Proxy {
    config: ProxyConfig,
    /// Boxed: a context is large, and a table of them sized by a power
    /// of two would pay its size in every empty slot too.
    contexts: HashMap<TransactionId, Box<Context>>,
    clients: HashMap<TransactionId, BranchRef>,
    /// The CANCELs the proxy sent, whose events are its own.
    cancels: HashSet<TransactionId>,
    timers: BTreeSet<(Instant, TransactionId, Timer)>,
    resolving: HashMap<ResolveId, Resolving>,
    next_resolve: u64,
    events: VecDeque<ProxyEvent>,
    /// Contexts whose final response went upstream (they linger until
    /// their transactions end).
    answered: usize,
    /// Call-ID and CSeq translation of carriers' legs.
    legs: Legs,
}

impl Proxy {
    /// A proxy with this configuration.
    pub fn new(config: ProxyConfig) -> Self {
        Self {
            config,
            contexts: HashMap::new(),
            clients: HashMap::new(),
            cancels: HashSet::new(),
            timers: BTreeSet::new(),
            resolving: HashMap::new(),
            next_resolve: 1,
            events: VecDeque::new(),
            answered: 0,
            legs: Legs::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// Requests being proxied (response contexts alive).
    pub fn context_count(&self) -> usize {
        self.contexts.len()
    }

    /// Whether the request of server transaction `tx` is being proxied
    /// (its response context is alive).
    pub fn is_proxying(&self, tx: TransactionId) -> bool {
        self.contexts.contains_key(&tx)
    }

    /// The caller's Call-ID of the call whose message has `call_id`: a
    /// carrier leg's own Call-ID maps back to the caller's; any other is
    /// its own.
    pub fn caller_call_id<'a>(&'a self, call_id: &'a str) -> &'a str {
        self.legs.caller_of(call_id).unwrap_or(call_id)
    }

    /// The Call-ID a carrier knows the caller's dialog `call_id` (the
    /// caller's tag, the carrier's tag) by, when its leg has one of its
    /// own: what a Replaces naming that dialog must say to the carrier.
    pub fn carrier_call_id(
        &mut self,
        now: Instant,
        call_id: &str,
        caller_tag: &str,
        carrier_tag: &str,
    ) -> Option<String> {
        let ids = DialogIds {
            call_id,
            from_tag: caller_tag,
            to_tag: carrier_tag,
        };
        match self.legs.way_of_request(now, ids)? {
            Way::ToCarrier { call_id, .. } => Some(call_id),
            Way::ToCaller { .. } => None,
        }
    }

    /// A request the server sends itself into a dialog in the caller's
    /// place (the operator's hang-up): on a carrier's leg it gets the
    /// carrier's Call-ID and CSeq numbering, and the leg is forgotten (a
    /// BYE ends the dialog).
    pub fn to_carrier_leg(&mut self, now: Instant, request: &mut Request) {
        let Some(way) =
            DialogIds::of(request.headers()).and_then(|ids| self.legs.way_of_request(now, ids))
        else {
            return;
        };
        if let Some(ids) = DialogIds::of(request.headers()) {
            self.legs.remove(ids);
        }
        if matches!(way, Way::ToCarrier { .. }) {
            way.rewrite().apply(request.headers_mut());
        }
    }

    /// The carrier's names of the dialog of `call_id` between the
    /// caller's tag `from_tag` and the answering side's `to_tag`, when the
    /// proxy translates them (for the dialog's record).
    pub fn carrier_leg(&self, call_id: &str, from_tag: &str, to_tag: &str) -> Option<CarrierLeg> {
        let ids = DialogIds {
            call_id,
            from_tag,
            to_tag,
        };
        let (carrier, cseq_delta) = self.legs.leg_of(ids)?;
        Some(CarrierLeg {
            call_id: carrier.to_owned(),
            cseq_delta,
        })
    }

    /// Takes a stored dialog's carrier leg back (at start), last used at
    /// `at`: the carrier's requests keep mapping to the caller's call.
    pub fn restore_carrier_leg(
        &mut self,
        at: Instant,
        call_id: &str,
        from_tag: &str,
        to_tag: &str,
        leg: &CarrierLeg,
    ) {
        let ids = DialogIds {
            call_id,
            from_tag,
            to_tag,
        };
        self.legs.insert(at, ids, &leg.call_id, leg.cseq_delta);
    }

    /// The server transaction of the initial INVITE `call_id` still
    /// without a final response (a call ringing), for a CANCEL of ours.
    pub fn ringing_invite(&self, call_id: &str) -> Option<TransactionId> {
        self.contexts.iter().find_map(|(tx, ctx)| {
            (ctx.is_initial_invite()
                && !ctx.final_sent
                && !ctx.cancelled
                && ctx.request.headers().call_id() == Some(call_id))
            .then_some(*tx)
        })
    }

    /// Requests being proxied that have no final response yet (calls
    /// ringing, requests waiting for a branch): the load measure for
    /// overload control. Answered contexts linger until their transactions
    /// end (32 s over UDP) and are not counted.
    pub fn pending_count(&self) -> usize {
        self.contexts.len().saturating_sub(self.answered)
    }

    /// The next thing the application must do for the proxy.
    pub fn poll_event(&mut self) -> Option<ProxyEvent> {
        self.events.pop_front()
    }

    /// When [`Proxy::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = self.timers.first().map(|(at, _, _)| *at);
        match (timer, self.legs.next_sweep()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Carriers' legs whose Call-ID or CSeq the proxy translates
    /// (established calls to trunks with `fresh_call_id` or an answered
    /// challenge).
    pub fn translated_leg_count(&self) -> usize {
        self.legs.len()
    }

    // ----- requests -----

    /// A new request from the endpoint (not ACK, not CANCEL: those come as
    /// their own events). Checks it (§16.3) and answers it when it must be
    /// refused; otherwise processes its Route (§16.4) and hands it back for
    /// the application to find targets.
    pub fn on_request(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        mut request: Request,
        source: Source,
    ) -> Result<Incoming, Rejection> {
        if let Err(rejection) = validate::check(&self.config, &request) {
            tracing::debug!(%rejection, %tx, "request refused");
            let tag = ep.new_tag();
            let lines = rejection.headers();
            match crate::util::response(&request, rejection.status(), None, &tag, &lines) {
                Ok(answer) => {
                    if let Err(error) = ep.respond(now, tx, answer) {
                        tracing::debug!(%error, "refusal not sent");
                    }
                }
                Err(error) => tracing::warn!(%error, "refusal did not build"),
            }
            return Err(rejection);
        }
        // In a carrier's translated dialog: the service sees the caller's
        // Call-ID either way; towards the caller it is restored here,
        // towards the carrier it changes on the branch.
        let mut upstream = None;
        let mut outbound = None;
        let way =
            DialogIds::of(request.headers()).and_then(|ids| self.legs.way_of_request(now, ids));
        match way {
            Some(Way::ToCarrier { call_id, delta }) => outbound = Some((call_id, delta)),
            Some(way @ Way::ToCaller { .. }) => {
                upstream = request.headers().call_id().map(str::to_owned);
                way.rewrite().apply(request.headers_mut());
            }
            None => {}
        }
        let loop_hash = loop_hash(&request);
        routing::preprocess(&self.config, &mut request);
        let body = request.body().len();
        with_content_length(request.headers_mut(), body);
        let for_us = request.headers().get(HeaderName::Route).is_none()
            && request
                .uri()
                .as_sip()
                .is_some_and(|u| u.params.value("maddr").is_none() && self.config.is_local_sip(u));
        Ok(Incoming {
            tx,
            request,
            source,
            loop_hash,
            for_us,
            upstream,
            outbound,
        })
    }

    /// Answers an accepted request itself (404, 480, 403, an OPTIONS to
    /// the server, ...), with a To tag.
    pub fn reply(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        status: StatusCode,
        headers: &[(HeaderName, String)],
    ) -> Result<(), ProxyError> {
        self.reply_with_reason(now, ep, incoming, status, None, headers)
    }

    /// [`Proxy::reply`] with a reason phrase of its own (a dial plan's
    /// refusal says why).
    pub fn reply_with_reason(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        status: StatusCode,
        reason: Option<&str>,
        headers: &[(HeaderName, String)],
    ) -> Result<(), ProxyError> {
        let tag = ep.new_tag();
        let response = crate::util::response(&incoming.request, status, reason, &tag, headers)?;
        ep.respond(now, incoming.tx, response)?;
        Ok(())
    }

    /// Forwards an accepted request to `targets` (§16.5, §16.6): the
    /// highest q first, all targets of equal q in parallel, lower ones when
    /// those fail or ring longer than [`ProxyConfig::group_timeout`]. With
    /// no targets it answers 480. In redirect mode a request for us gets a
    /// 302 with the targets as Contacts instead.
    pub fn forward(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        targets: TargetSet,
    ) -> Result<(), ProxyError> {
        let tx = incoming.tx;
        if self.contexts.contains_key(&tx) {
            return Err(ProxyError::AlreadyProxied(tx));
        }
        if targets.is_empty() {
            return self.reply(now, ep, &incoming, StatusCode::TEMPORARILY_UNAVAILABLE, &[]);
        }
        if self.config.mode == Mode::Redirect && incoming.for_us {
            return self.redirect(now, ep, &incoming, targets);
        }
        if *incoming.request.method() == switchboard_proto::Method::Bye
            && incoming.request.headers().to_tag().is_some()
        {
            let bye = CallPhase::Terminated(CallEnd::Bye);
            if let Some(update) = CallUpdate::of_request(&incoming.request, &incoming.source, bye) {
                self.events.push_back(ProxyEvent::Call(update));
            }
        }
        let mut ctx = Box::new(Context::new(
            incoming.request,
            incoming.source,
            incoming.loop_hash,
        ));
        ctx.upstream = incoming.upstream;
        ctx.outbound = incoming.outbound;
        if ctx.is_invite() && self.config.send_trying {
            // Sent now rather than by the endpoint 200 ms later: the
            // caller stops retransmitting at once. Never doubled: the
            // endpoint sends its own only when nothing was sent.
            let trying = ResponseBuilder::from_request(&ctx.request, StatusCode::TRYING).build()?;
            ep.respond(now, tx, trying)?;
        }
        ctx.hold_final = targets.holds_final();
        ctx.groups = targets.into_groups(self.config.group_timeout).into();
        self.contexts.insert(tx, ctx);
        self.report_call(tx, CallPhase::Trying, None);
        self.advance(now, ep, tx);
        Ok(())
    }

    fn redirect(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        targets: TargetSet,
    ) -> Result<(), ProxyError> {
        let lines: Vec<(HeaderName, String)> = targets
            .into_groups(self.config.group_timeout)
            .into_iter()
            .flat_map(|g| g.targets)
            .map(|t| {
                let q =
                    t.q.map(|q| format!(";q={}", format_qvalue(q)))
                        .unwrap_or_default();
                (HeaderName::Contact, format!("<{}>{q}", t.uri))
            })
            .collect();
        self.reply(now, ep, incoming, StatusCode::MOVED_TEMPORARILY, &lines)
    }

    /// An ACK outside any transaction (for a 2xx, or in a dialog): forwarded
    /// statelessly along its Route, else to its Request-URI, or to `hop`
    /// when the application knows better (a registered device's
    /// connection). An ACK for this server itself is dropped.
    pub fn on_ack(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        mut request: Request,
        _source: Source,
        hop: Option<NextHop>,
    ) {
        if request.headers().max_forwards() == Some(0) {
            return;
        }
        // The ACK of a carrier's 2xx goes with its Call-ID and CSeq.
        if let Some(way) =
            DialogIds::of(request.headers()).and_then(|ids| self.legs.way_of_request(now, ids))
        {
            way.rewrite().apply(request.headers_mut());
        }
        let branch = stateless_branch(&request);
        routing::preprocess(&self.config, &mut request);
        let body = request.body().len();
        with_content_length(request.headers_mut(), body);
        if request.headers().get(HeaderName::Route).is_none()
            && self.config.is_local(&request.uri())
        {
            tracing::debug!("ACK for this server dropped");
            return;
        }
        decrement_max_forwards(&mut request);
        let uri = routing::next_hop_uri(&request);
        routing::fix_strict_next_hop(&mut request);
        let hop = hop.or_else(|| routing::hop_for_uri(&uri));
        let transport = hop.map_or(Transport::Udp, |h| h.transport);
        let Some(listener) = self.config.listener(transport, None) else {
            tracing::warn!(%transport, "no listener to forward an ACK from");
            return;
        };
        let via = format!(
            "SIP/2.0/{} {}:{};branch={branch};rport",
            transport.as_via_token(),
            listener.host_text(),
            listener.addr.port()
        );
        request.headers_mut().push_front(HeaderName::Via, via);
        self.send_stateless_or_resolve(ep, request.into(), hop, uri);
    }

    fn send_stateless_or_resolve(
        &mut self,
        ep: &mut impl TransactionLayer,
        message: Message,
        hop: Option<NextHop>,
        uri: String,
    ) {
        match hop {
            Some(hop) => ep.send_stateless(&message, hop.destination),
            None => {
                let id = self.new_resolve();
                self.resolving
                    .insert(id, Resolving::Message(Box::new(message)));
                self.events.push_back(ProxyEvent::Resolve { id, uri });
            }
        }
    }

    fn new_resolve(&mut self) -> ResolveId {
        let id = ResolveId(self.next_resolve);
        self.next_resolve += 1;
        id
    }

    /// The answer to [`ProxyEvent::Resolve`]: where to send, every target
    /// in the order RFC 3263 gives, or none when the name did not resolve
    /// (the branch fails as with a 503). A branch whose target fails with a
    /// transport error, a timeout or a 503 goes on to the next target with
    /// a new client transaction (§4.3); only the last target's outcome
    /// enters the response context.
    pub fn resolved(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        id: ResolveId,
        hops: Vec<NextHop>,
    ) {
        let mut hops = hops.into_iter();
        match self.resolving.remove(&id) {
            Some(Resolving::Message(message)) => {
                if let Some(hop) = hops.next() {
                    ep.send_stateless(&message, hop.destination);
                }
            }
            Some(Resolving::Branch(at)) => {
                let Some(branch) = self.branch_mut(at) else {
                    return;
                };
                if branch.state != BranchState::Resolving {
                    return;
                }
                let request = branch.request.take();
                match (request.map(|r| *r), hops.next()) {
                    (Some(request), Some(hop)) => {
                        branch.fallback = hops.collect();
                        self.send_branch(now, ep, at, request, hop);
                    }
                    _ => {
                        self.fail_branch(ep, at, Some(StatusCode::SERVICE_UNAVAILABLE));
                        self.advance(now, ep, at.server);
                    }
                }
            }
            None => {}
        }
    }

    /// Fails a branch over to its next target (RFC 3263 §4.3) when its
    /// attempt failed that way (`outcome`, as [`Failover`] decides): the
    /// branch ends without a response of its own and a new one, with a new
    /// client transaction, takes the request to the next hop. False when it
    /// did not fail so, there is no next hop, or no new branch may start (a
    /// 2xx, a 6xx, a CANCEL came).
    fn fail_over(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        outcome: AttemptOutcome,
    ) -> bool {
        let timer_c = self.config.timer_c;
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return false;
        };
        if ctx.stop || ctx.cancelled || ctx.final_sent {
            return false;
        }
        let invite = ctx.is_invite();
        let index = ctx.branches.len();
        let Some(branch) = ctx.branches.get_mut(at.index) else {
            return false;
        };
        if branch.state == BranchState::Done || branch.fallback.is_empty() {
            return false;
        }
        // The walk along the request's next hops: those left, and whether
        // this attempt got a provisional response.
        let mut walk = Failover::new(branch.fallback.iter().copied());
        if branch.state == BranchState::Proceeding {
            walk.failed(AttemptOutcome::Provisional);
        }
        if !walk.failed(outcome) {
            return false;
        }
        let (Some(hop), Some(request)) = (walk.next_target(), branch.request.take()) else {
            return false;
        };
        let request = *request;
        branch.fallback.clear();
        branch.state = BranchState::Done;
        branch.cancel_pending = false;
        let mut next = branch.successor();
        next.fallback = walk.remaining().copied().collect();
        tracing::debug!(uri = %next.uri, destination = ?hop.destination, "failing over to the next target");
        ctx.branches.push(next);
        self.stop_timer_c(at);
        let next_at = BranchRef {
            server: at.server,
            index,
        };
        if invite {
            if let Some(b) = self.branch_mut(next_at) {
                b.timer_c = Some(now + timer_c);
            }
            self.timers
                .insert((now + timer_c, at.server, Timer::C(index)));
        }
        self.send_branch(now, ep, next_at, request, hop);
        true
    }

    // ----- endpoint events -----

    /// Takes the endpoint events that belong to the proxy: responses to
    /// its branches, stray 2xx (relayed upstream), CANCELs of proxied
    /// INVITEs, client timeouts and transport errors, ends of its
    /// transactions. Gives back the others (new requests, ACKs, events of
    /// transactions the proxy does not own).
    pub fn handle_event(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        event: Event,
    ) -> Option<Event> {
        match event {
            Event::Response {
                tx,
                response,
                source,
            } if self.clients.contains_key(&tx) => {
                self.on_response_from(now, ep, tx, response, Some(source));
                None
            }
            Event::StrayResponse { response, .. } => {
                self.on_stray_response(now, ep, response);
                None
            }
            Event::Cancelled { invite, .. } if self.contexts.contains_key(&invite) => {
                self.on_cancelled(now, ep, invite);
                None
            }
            Event::Timeout { tx } if self.clients.contains_key(&tx) => {
                self.on_branch_failed(now, ep, tx, None);
                None
            }
            Event::TransportError { tx } if self.clients.contains_key(&tx) => {
                self.on_branch_failed(now, ep, tx, Some(StatusCode::SERVICE_UNAVAILABLE));
                None
            }
            Event::Response { tx, .. } | Event::Timeout { tx } | Event::TransportError { tx }
                if self.cancels.contains(&tx) =>
            {
                None
            }
            Event::Terminated { tx } if self.cancels.remove(&tx) => None,
            Event::Terminated { tx }
                if self.clients.contains_key(&tx) || self.contexts.contains_key(&tx) =>
            {
                self.on_terminated(now, ep, tx);
                None
            }
            other => Some(other),
        }
    }

    /// A response on one of the proxy's client transactions (§16.7).
    pub fn on_response(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        response: Response,
    ) {
        self.on_response_from(now, ep, tx, response, None);
    }

    /// [`Proxy::on_response`], knowing where the response came from (the
    /// callee's device, for call pickup).
    fn on_response_from(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        mut response: Response,
        from: Option<Source>,
    ) {
        let Some(&at) = self.clients.get(&tx) else {
            return;
        };
        if self.is_stale(tx, at) {
            return; // the challenged request's transaction: answered already
        }
        // Step 3: our Via goes.
        response.headers_mut().pop_front_value(HeaderName::Via);
        if let Some(rewrite) = self.upstream_rewrite(at) {
            rewrite.apply(response.headers_mut());
        }
        if response.status() != StatusCode::TRYING {
            self.note_leg(now, at, &response);
        }
        let body = response.body().len();
        with_content_length(response.headers_mut(), body);
        let code = response.status().as_u16();
        match code {
            100..=199 => self.on_provisional(now, ep, at, response, from),
            200..=299 => self.on_success(now, ep, at, response, from),
            _ => self.on_final(now, ep, at, response),
        }
    }

    fn on_provisional(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        response: Response,
        from: Option<Source>,
    ) {
        let timer_c = self.config.timer_c;
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return;
        };
        let invite = ctx.is_invite();
        let final_sent = ctx.final_sent;
        let Some(branch) = ctx.branches.get_mut(at.index) else {
            return;
        };
        let live = branch.state != BranchState::Done;
        let first = branch.state == BranchState::Calling;
        if first {
            branch.state = BranchState::Proceeding;
        }
        let cancel = branch.cancel_pending && branch.tx.is_some();
        if cancel {
            branch.cancel_pending = false;
        }
        if live && invite {
            let old = branch.timer_c.replace(now + timer_c);
            if let Some(old) = old {
                self.timers.remove(&(old, at.server, Timer::C(at.index)));
            }
            self.timers
                .insert((now + timer_c, at.server, Timer::C(at.index)));
        }
        if first {
            self.stop_provisional_timer(at);
        }
        if cancel {
            self.cancel_branch(now, ep, at);
        }
        if live && !final_sent && response.status() != StatusCode::TRYING {
            let phase = if response.headers().to_tag().is_some() {
                CallPhase::Early
            } else {
                CallPhase::Proceeding
            };
            self.report_call(at.server, phase, Some((&response, from)));
            self.send_upstream(now, ep, at.server, response);
        }
    }

    fn on_success(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        mut response: Response,
        from: Option<Source>,
    ) {
        self.stop_timer_c(at);
        self.report_attempt(at, AttemptReport::Response(response.status().as_u16()));
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return;
        };
        let invite = ctx.is_invite();
        let first = !ctx.final_sent;
        if let Some(b) = ctx.branches.get_mut(at.index) {
            b.state = BranchState::Done;
            b.cancel_pending = false;
        }
        if !invite && !first {
            return; // a non-INVITE has one final response
        }
        ctx.final_sent = true;
        if first {
            self.answered += 1;
        }
        let session = self
            .contexts
            .get(&at.server)
            .and_then(|ctx| SessionAnswer::of(&ctx.request, &mut response));
        self.report_call(at.server, CallPhase::Confirmed, Some((&response, from)));
        if let Some(session) = session {
            self.events.push_back(ProxyEvent::Session(session));
        }
        // Every 2xx to an INVITE goes upstream: forks, retransmissions.
        self.send_upstream(now, ep, at.server, response);
        if first {
            self.stop_forking(now, ep, at.server, Some(at.index));
            self.settle(at.server);
        }
    }

    fn on_final(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        mut response: Response,
    ) {
        if matches!(response.status().as_u16(), 401 | 407) {
            if self.answer_challenge(now, ep, at, &response) {
                return;
            }
            if let Some(refused) = self.refused_credentials(ep, at) {
                response = refused;
            }
        }
        if self.fail_over(now, ep, at, AttemptOutcome::Final(response.status())) {
            return;
        }
        self.report_attempt(at, AttemptReport::Response(response.status().as_u16()));
        self.stop_timer_c(at);
        let recurse = self.config.recurse_on_3xx;
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return;
        };
        let Some(branch) = ctx.branches.get_mut(at.index) else {
            return;
        };
        if branch.state == BranchState::Done {
            return; // given up earlier
        }
        branch.state = BranchState::Done;
        branch.cancel_pending = false;
        let code = response.status().as_u16();
        // A trunk's gateway that answered as the callee would (404, 486,
        // 6xx) ends the forwarding: the next gateway would say the same.
        let ends = ctx.advance == Advance::OnGatewayFailure && !is_gateway_failure(code);
        if ends {
            tracing::debug!(code, "final answer from a gateway: no fail-over");
            ctx.responses.clear();
        }
        let mut recursed = Vec::new();
        if (300..400).contains(&code) && recurse && !ctx.stop && !ends {
            recursed = contacts(&response)
                .into_iter()
                .filter(|t| !ctx.tried.contains(&t.uri.to_ascii_lowercase()))
                .collect();
            if !recursed.is_empty() {
                // §16.7 step 4: contacts recursed on leave the response.
                response.headers_mut().remove_all(HeaderName::Contact);
            }
        }
        if response.headers().to_tag().is_some() {
            // This fork's early dialog (if any) is over; others ring on.
            let end = CallPhase::Terminated(CallEnd::Status(code));
            self.report_call(at.server, end, Some((&response, None)));
        }
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return;
        };
        if recursed.is_empty() || !(300..400).contains(&code) {
            ctx.responses.push(response);
        } else {
            tracing::debug!(count = recursed.len(), "recursing on a 3xx");
        }
        if code >= 600 || ends {
            self.stop_forking(now, ep, at.server, None);
        }
        for target in recursed {
            self.start_branch(now, ep, at.server, target);
        }
        self.advance(now, ep, at.server);
    }

    /// A branch's client transaction timed out (`status` `None`: 408) or
    /// could not be sent (503).
    fn on_branch_failed(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        status: Option<StatusCode>,
    ) {
        let Some(&at) = self.clients.get(&tx) else {
            return;
        };
        if self.is_stale(tx, at) {
            return;
        }
        let outcome = match status {
            None => AttemptOutcome::Timeout,
            Some(_) => AttemptOutcome::TransportError,
        };
        if self.fail_over(now, ep, at, outcome) {
            return;
        }
        let report = match status {
            None => AttemptReport::Timeout,
            Some(_) => AttemptReport::TransportError,
        };
        self.report_attempt(at, report);
        if self
            .branch_mut(at)
            .is_some_and(|b| b.state != BranchState::Done)
        {
            self.fail_branch(ep, at, status);
        }
        self.advance(now, ep, at.server);
    }

    /// A response no client transaction matches: a 2xx to an INVITE whose
    /// transaction ended (retransmission, late fork) goes upstream along
    /// its Via when the top one is ours; anything else is dropped.
    pub fn on_stray_response(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        mut response: Response,
    ) {
        let is_invite_2xx = response.status().is_success()
            && response
                .headers()
                .cseq()
                .is_some_and(|c| c.method == switchboard_proto::Method::Invite);
        let ours = response
            .headers()
            .top_via()
            .and_then(Result::ok)
            .is_some_and(|v| {
                let port = v.port.unwrap_or(default_port(v.transport));
                self.config.is_local_host_port(v.host.as_str(), port)
            });
        if !is_invite_2xx || !ours {
            tracing::debug!(
                status = response.status().as_u16(),
                "stray response dropped"
            );
            return;
        }
        response.headers_mut().pop_front_value(HeaderName::Via);
        let rewrite =
            DialogIds::of(response.headers()).and_then(|ids| self.legs.response_rewrite(now, ids));
        if let Some(rewrite) = rewrite {
            rewrite.apply(response.headers_mut());
        }
        self.send_by_via(ep, response);
    }

    /// The caller cancelled the INVITE (§16.10): every pending branch is
    /// cancelled, no new one starts; the 487s come back through the
    /// response context.
    pub fn on_cancelled(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        invite: TransactionId,
    ) {
        let Some(ctx) = self.contexts.get_mut(&invite) else {
            return;
        };
        ctx.cancelled = true;
        if ctx.held {
            // Held after the targets were exhausted: the caller gets the
            // 487 its CANCEL asks for, not what the targets said.
            ctx.responses.clear();
        }
        if !ctx.final_sent {
            self.report_call(invite, CallPhase::Terminated(CallEnd::Cancelled), None);
        }
        self.stop_forking(now, ep, invite, None);
        self.advance(now, ep, invite);
    }

    /// A transaction ended.
    pub fn on_terminated(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
    ) {
        if let Some(at) = self.clients.remove(&tx) {
            shrink_after_peak(&mut self.clients);
            let stale = self.is_stale(tx, at);
            if let Some(ctx) = self.contexts.get_mut(&at.server) {
                ctx.live_clients = ctx.live_clients.saturating_sub(1);
            }
            if stale {
                self.remove_if_finished(at.server);
                return;
            }
            if let Some(ctx) = self.contexts.get_mut(&at.server) {
                if let Some(b) = ctx.branches.get_mut(at.index) {
                    b.tx = None;
                    b.cancel_pending = false;
                }
            }
            if !self.fail_over(now, ep, at, AttemptOutcome::TransportError)
                && self
                    .branch_mut(at)
                    .is_some_and(|b| b.state != BranchState::Done)
            {
                self.fail_branch(ep, at, None);
                self.advance(now, ep, at.server);
            }
            self.remove_if_finished(at.server);
            return;
        }
        if let Some(ctx) = self.contexts.get_mut(&tx) {
            ctx.server_alive = false;
            if !ctx.final_sent {
                // The caller is gone (its connection broke): stop ringing.
                ctx.final_sent = true;
                self.answered += 1;
                self.report_call(tx, CallPhase::Terminated(CallEnd::Gone), None);
                self.stop_forking(now, ep, tx, None);
            }
            self.remove_if_finished(tx);
        }
    }

    // ----- timers -----

    /// Fires the proxy's timers due at `now`: Timer C of INVITE branches
    /// (§16.8), the group timeouts, the targets' provisional timeouts, and
    /// the sweep of idle carriers' legs.
    pub fn handle_timeout(&mut self, now: Instant, ep: &mut impl TransactionLayer) {
        self.legs.sweep(now);
        while let Some(&(at, server, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::C(index) => self.on_timer_c(now, ep, BranchRef { server, index }),
                Timer::Provisional(index) => {
                    self.on_provisional_timeout(now, ep, BranchRef { server, index });
                }
                Timer::Group => self.on_group_timeout(now, ep, server),
            }
        }
    }

    fn on_timer_c(&mut self, now: Instant, ep: &mut impl TransactionLayer, at: BranchRef) {
        let Some(branch) = self.branch_mut(at) else {
            return;
        };
        branch.timer_c = None;
        tracing::debug!(uri = %branch.uri, "timer C fired");
        match branch.state {
            // §16.8: with a provisional response, CANCEL; the 487 (or
            // Timer B after the CANCEL) ends the branch.
            BranchState::Proceeding => self.cancel_branch(now, ep, at),
            // Without one: as if a 408 came (CANCEL follows a late 1xx).
            BranchState::Calling | BranchState::Resolving => self.give_up_silent(now, ep, at),
            BranchState::Done => {}
        }
    }

    /// The target had no provisional answer in its time (a trunk's
    /// `failover_after`): the branch fails as with a 408, and the next
    /// group may start.
    fn on_provisional_timeout(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
    ) {
        let Some(branch) = self.branch_mut(at) else {
            return;
        };
        branch.provisional_deadline = None;
        if branch.state == BranchState::Calling {
            tracing::debug!(uri = %branch.uri, "no provisional answer in time: next target");
            self.report_attempt(at, AttemptReport::Timeout);
            self.give_up_silent(now, ep, at);
        }
    }

    /// Reports how a branch's attempt ended, once, when its target asked.
    fn report_attempt(&mut self, at: BranchRef, result: AttemptReport) {
        let Some(branch) = self.branch_mut(at) else {
            return;
        };
        if !std::mem::take(&mut branch.reports) {
            return;
        }
        let uri = branch.uri.clone();
        self.events.push_back(ProxyEvent::Attempt {
            server: at.server,
            uri,
            result,
        });
    }

    /// Ends a branch that never answered as a 408 would; a 1xx arriving
    /// later is CANCELled so that it never rings.
    fn give_up_silent(&mut self, now: Instant, ep: &mut impl TransactionLayer, at: BranchRef) {
        if let Some(branch) = self.branch_mut(at) {
            branch.cancel_pending = true;
        }
        self.fail_branch(ep, at, None);
        self.advance(now, ep, at.server);
    }

    fn on_group_timeout(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        server: TransactionId,
    ) {
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        ctx.group_deadline = None;
        if ctx.stop || ctx.final_sent || ctx.held {
            return;
        }
        tracing::debug!(%server, "group rang long enough: its pending branches are cancelled");
        let pending: Vec<usize> = ctx
            .branches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_pending())
            .map(|(i, _)| i)
            .collect();
        for index in pending {
            let at = BranchRef { server, index };
            self.abandon(now, ep, at);
            if let Some(b) = self.branch_mut(at) {
                b.state = BranchState::Done;
            }
            self.stop_timer_c(at);
        }
        self.advance(now, ep, server);
    }

    // ----- forking -----

    /// Starts the next group of targets when nothing is pending, or sends
    /// the best response when nothing is left (§16.7 step 6).
    fn advance(&mut self, now: Instant, ep: &mut impl TransactionLayer, server: TransactionId) {
        loop {
            let Some(ctx) = self.contexts.get_mut(&server) else {
                return;
            };
            if ctx.final_sent || ctx.has_pending() || (ctx.held && !ctx.cancelled) {
                return;
            }
            let next = if ctx.stop {
                None
            } else {
                ctx.groups.pop_front()
            };
            let Some(group) = next else {
                if ctx.hold_final && !ctx.cancelled && ctx.server_alive {
                    self.report_exhausted(ep, server);
                } else {
                    self.send_best(now, ep, server);
                }
                return;
            };
            ctx.advance = group.policy.advance;
            let deadline = group.policy.timeout.map(|t| now + t);
            let old = std::mem::replace(&mut ctx.group_deadline, deadline);
            if let Some(old) = old {
                self.timers.remove(&(old, server, Timer::Group));
            }
            if let Some(at) = deadline {
                self.timers.insert((at, server, Timer::Group));
            }
            for target in group.targets {
                self.start_branch(now, ep, server, target);
            }
        }
    }

    fn start_branch(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        server: TransactionId,
        target: Target,
    ) {
        let max = self.config.max_branches;
        let timer_c = self.config.timer_c;
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        let key = target.uri.to_ascii_lowercase();
        if ctx.tried.contains(&key) || ctx.branches.len() >= max {
            tracing::debug!(uri = %target.uri, "target skipped (tried, or too many branches)");
            return;
        }
        ctx.tried.push(key);
        let Ok(uri) = Uri::parse(&target.uri) else {
            tracing::debug!(uri = %target.uri, "target URI does not parse");
            return;
        };
        let mut request = ctx.request.clone();
        request.set_uri(&uri);
        decrement_max_forwards(&mut request);
        present(&mut request, &target);
        routing::preload(&mut request, &target.path);
        // The next hop is the first Route even when it is a strict router
        // (§16.6 step 7), whose URI then becomes the Request-URI.
        let next_uri = routing::next_hop_uri(&request);
        routing::fix_strict_next_hop(&mut request);
        // The target's URI is not read again: the branch takes it.
        let mut branch = Branch::new(target.uri);
        branch.provisional_timeout = target.provisional_timeout;
        branch.credentials = target.credentials;
        branch.reports = target.reports;
        if let Some((call_id, delta)) = &ctx.outbound {
            // An in-dialog request on a carrier's leg: its Call-ID there,
            // and its CSeq as far ahead as the challenges answered made it.
            branch.call_id = Some(call_id.clone());
            branch.cseq_delta = *delta;
        } else if target.fresh_call_id && ctx.is_initial_invite() {
            branch.call_id = Some(ep.new_call_id());
        }
        Rewrite {
            call_id: branch.call_id.clone(),
            cseq_shift: i64::from(branch.cseq_delta),
        }
        .apply(request.headers_mut());
        let index = ctx.branches.len();
        // One at a time: most requests have one branch, and a doubling
        // Vec would hold room for four for the context's life.
        ctx.branches.reserve_exact(1);
        ctx.branches.push(branch);
        let at = BranchRef { server, index };
        if ctx.is_invite() {
            if let Some(b) = ctx.branches.get_mut(index) {
                b.timer_c = Some(now + timer_c);
            }
            self.timers.insert((now + timer_c, server, Timer::C(index)));
        }
        match target.next_hop.or_else(|| routing::hop_for_uri(&next_uri)) {
            Some(hop) => self.send_branch(now, ep, at, request, hop),
            None => {
                let id = self.new_resolve();
                if let Some(b) = self.branch_mut(at) {
                    b.request = Some(Box::new(request));
                }
                self.resolving.insert(id, Resolving::Branch(at));
                self.events
                    .push_back(ProxyEvent::Resolve { id, uri: next_uri });
            }
        }
    }

    fn send_branch(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        mut request: Request,
        hop: NextHop,
    ) {
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return;
        };
        // Kept, as it was before this hop's Record-Route, for fail-over.
        let keep = ctx
            .branches
            .get(at.index)
            .is_some_and(|b| !b.fallback.is_empty())
            .then(|| Box::new(request.clone()));
        if let Some(b) = ctx.branches.get_mut(at.index) {
            b.request = keep;
        }
        if self.config.record_route && record_route::creates_dialog(&request) {
            record_route::insert(
                &self.config,
                &mut request,
                ctx.source.transport,
                ctx.source.local,
                hop.transport,
            );
        }
        if let Some(b) = ctx
            .branches
            .get_mut(at.index)
            .filter(|b| b.credentials.is_some())
        {
            b.sent = Some(Box::new((request.clone(), hop)));
        }
        let branch = branch_with_hash(&ep.new_branch(), &ctx.loop_hash);
        match ep.send_request_with_branch(now, request, hop.destination, &branch) {
            Ok(tx) => {
                ctx.live_clients += 1;
                if let Some(b) = ctx.branches.get_mut(at.index) {
                    b.tx = Some(tx);
                    b.state = BranchState::Calling;
                }
                self.clients.insert(tx, at);
                self.arm_provisional_timer(now, at);
            }
            Err(error) => {
                tracing::warn!(%error, "branch not sent");
                if self.fail_over(now, ep, at, AttemptOutcome::TransportError) {
                    return;
                }
                self.fail_branch(ep, at, Some(StatusCode::SERVICE_UNAVAILABLE));
                self.advance(now, ep, at.server);
            }
        }
    }

    /// Ends a branch without a response from it: `status` is the response
    /// the proxy makes up for it (none: the default 408 applies).
    fn fail_branch(
        &mut self,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        status: Option<StatusCode>,
    ) {
        self.stop_timer_c(at);
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return;
        };
        if let Some(b) = ctx.branches.get_mut(at.index) {
            b.state = BranchState::Done;
            b.request = None;
        }
        if let Some(status) = status {
            let tag = ep.new_tag();
            if let Ok(r) = crate::util::response(&ctx.request, status, None, &tag, &[]) {
                ctx.responses.push(r);
            }
        }
    }

    /// No new branches; pending ones are cancelled (§16.7 step 5, §16.10),
    /// all but `except`.
    fn stop_forking(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        server: TransactionId,
        except: Option<usize>,
    ) {
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        ctx.stop = true;
        ctx.groups.clear();
        if let Some(old) = ctx.group_deadline.take() {
            self.timers.remove(&(old, server, Timer::Group));
        }
        let pending: Vec<usize> = ctx
            .branches
            .iter()
            .enumerate()
            .filter(|(i, b)| b.is_pending() && Some(*i) != except)
            .map(|(i, _)| i)
            .collect();
        for index in pending {
            self.abandon(now, ep, BranchRef { server, index });
        }
    }

    /// Cancels a branch: at once when it had a provisional response, at
    /// the first one otherwise (§9.1); a branch still resolving just ends.
    fn abandon(&mut self, now: Instant, ep: &mut impl TransactionLayer, at: BranchRef) {
        let invite = self.contexts.get(&at.server).is_some_and(|c| c.is_invite());
        let Some(branch) = self.branch_mut(at) else {
            return;
        };
        match branch.state {
            BranchState::Resolving => {
                branch.state = BranchState::Done;
                branch.request = None;
                self.stop_timer_c(at);
            }
            BranchState::Calling if invite => branch.cancel_pending = true,
            BranchState::Proceeding if invite => self.cancel_branch(now, ep, at),
            _ => {}
        }
    }

    fn cancel_branch(&mut self, now: Instant, ep: &mut impl TransactionLayer, at: BranchRef) {
        let Some(branch) = self.branch_mut(at) else {
            return;
        };
        if branch.cancelled {
            return;
        }
        let Some(tx) = branch.tx else {
            return;
        };
        match ep.cancel(now, tx) {
            Ok(cancel) => {
                branch.cancelled = true;
                self.cancels.insert(cancel);
            }
            Err(error) => tracing::debug!(%error, "branch not cancelled"),
        }
    }

    fn send_best(&mut self, now: Instant, ep: &mut impl TransactionLayer, server: TransactionId) {
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        if !ctx.final_sent {
            self.answered += 1;
        }
        ctx.final_sent = true;
        ctx.held = false;
        let tag = ep.new_tag();
        let response = ctx.best_response(&tag);
        tracing::debug!(
            %server,
            status = response.as_ref().map(|r| r.status().as_u16()),
            "best response"
        );
        ctx.responses.clear();
        if let Some(response) = response {
            let end = CallEnd::Status(response.status().as_u16());
            self.report_call(server, CallPhase::Terminated(end), None);
            self.send_upstream(now, ep, server, response);
        }
        self.settle(server);
        self.remove_if_finished(server);
    }

    /// Every target is exhausted and the final answer is held: tells the
    /// application ([`ProxyEvent::Exhausted`]), once.
    fn report_exhausted(&mut self, ep: &mut impl TransactionLayer, server: TransactionId) {
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        if ctx.held {
            return;
        }
        ctx.held = true;
        let tag = ep.new_tag();
        let status = ctx
            .best_response(&tag)
            .map_or(StatusCode::REQUEST_TIMEOUT, |r| r.status());
        let cause = ExhaustCause::of(status);
        tracing::debug!(%server, status = status.as_u16(), ?cause, "targets exhausted, answer held");
        self.events.push_back(ProxyEvent::Exhausted {
            server,
            status,
            cause,
        });
    }

    /// Continues a request reported [`ProxyEvent::Exhausted`] with more
    /// targets (fallthrough: voicemail on busy, another user on no
    /// answer): targets tried before are not tried again, and the
    /// responses so far still count for the best one.
    ///
    /// # Errors
    ///
    /// [`ProxyError::NotHeld`] when the request is not waiting (answered,
    /// cancelled by the caller meanwhile, or never held).
    pub fn forward_more(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        server: TransactionId,
        targets: TargetSet,
    ) -> Result<(), ProxyError> {
        let q_timeout = self.config.group_timeout;
        let ctx = self.held_context(server)?;
        ctx.held = false;
        ctx.stop = false;
        ctx.hold_final = targets.holds_final();
        ctx.groups = targets.into_groups(q_timeout).into();
        self.advance(now, ep, server);
        Ok(())
    }

    /// Answers a request reported [`ProxyEvent::Exhausted`] with the best
    /// response collected (RFC 3261 §16.7 step 6).
    ///
    /// # Errors
    ///
    /// [`ProxyError::NotHeld`] as for [`Proxy::forward_more`].
    pub fn release(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        server: TransactionId,
    ) -> Result<(), ProxyError> {
        self.held_context(server)?;
        self.send_best(now, ep, server);
        Ok(())
    }

    fn held_context(&mut self, server: TransactionId) -> Result<&mut Context, ProxyError> {
        self.contexts
            .get_mut(&server)
            .map(|c| &mut **c)
            .filter(|c| c.held && !c.final_sent)
            .ok_or(ProxyError::NotHeld(server))
    }

    /// Sends a response on the server transaction; a 2xx to an INVITE whose
    /// server transaction is gone goes statelessly along its Via.
    fn send_upstream(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        server: TransactionId,
        response: Response,
    ) {
        let alive = self.contexts.get(&server).is_some_and(|c| c.server_alive);
        let invite_2xx = response.status().is_success()
            && self.contexts.get(&server).is_some_and(|c| c.is_invite());
        if alive {
            match ep.respond(now, server, response.clone()) {
                Ok(()) => return,
                Err(error) => tracing::debug!(%error, "response not sent on the transaction"),
            }
        }
        if invite_2xx {
            self.send_by_via(ep, response);
        }
    }

    /// Sends a response to where its top Via says (§18.2.2: `received`,
    /// `rport`, sent-by).
    fn send_by_via(&mut self, ep: &mut impl TransactionLayer, response: Response) {
        let target = response
            .headers()
            .top_via()
            .and_then(Result::ok)
            .map(|v| via_target(&v));
        match target {
            Some(ViaTarget::Hop(hop)) => ep.send_stateless(&response.into(), hop.destination),
            Some(ViaTarget::Name(uri)) => {
                self.send_stateless_or_resolve(ep, response.into(), None, uri);
            }
            None => tracing::debug!("response without a usable Via dropped"),
        }
    }

    // ----- carriers' legs -----

    /// Answers a 401/407 on a branch with credentials, once: the request
    /// goes again in a new client transaction, CSeq + 1, with the
    /// Authorization or Proxy-Authorization. False when it is not
    /// answered (no credentials, answered before, no usable challenge).
    fn answer_challenge(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        response: &Response,
    ) -> bool {
        let cnonce = ep.new_call_id();
        let Some(ctx) = self.contexts.get_mut(&at.server) else {
            return false;
        };
        if ctx.stop || ctx.cancelled || ctx.final_sent {
            return false;
        }
        let Some(branch) = ctx.branches.get_mut(at.index) else {
            return false;
        };
        if branch.state == BranchState::Done || branch.cancel_pending {
            return false;
        }
        // `sent` goes with the first answer: a challenge is answered once.
        let (Some(credentials), Some(sent)) = (branch.credentials.as_ref(), branch.sent.take())
        else {
            return false;
        };
        let (mut request, hop) = *sent;
        let Some((name, value)) =
            challenge::authorization(response, &request, credentials, &cnonce)
        else {
            return false;
        };
        let next = Rewrite {
            call_id: None,
            cseq_shift: 1,
        };
        next.apply(request.headers_mut());
        request.headers_mut().push(name, value.clone());
        if let Some(kept) = branch.request.as_mut() {
            // The copy kept for RFC 3263 fail-over goes the same way.
            next.apply(kept.headers_mut());
            kept.headers_mut().push(name, value);
        }
        branch.cseq_delta = branch.cseq_delta.saturating_add(1);
        let via_branch = branch_with_hash(&ep.new_branch(), &ctx.loop_hash);
        match ep.send_request_with_branch(now, request, hop.destination, &via_branch) {
            Ok(tx) => {
                tracing::debug!(uri = %branch.uri, status = response.status().as_u16(), "challenge answered");
                branch.tx = Some(tx);
                branch.state = BranchState::Calling;
                ctx.live_clients += 1;
                self.clients.insert(tx, at);
                self.arm_provisional_timer(now, at);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "answer to a challenge not sent");
                false
            }
        }
    }

    /// A challenge the branch's credentials could not answer (again after
    /// an answer, or for another realm): the provider refused them, which
    /// the caller must not see as a challenge of its own. It counts as the
    /// gateway failing (503: the next gateway is tried).
    fn refused_credentials(
        &mut self,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
    ) -> Option<Response> {
        let ctx = self.contexts.get(&at.server).filter(|c| !c.cancelled)?;
        let branch = ctx.branches.get(at.index)?;
        branch.credentials.as_ref()?;
        tracing::warn!(uri = %branch.uri, "the provider refused the trunk's credentials");
        let tag = ep.new_tag();
        crate::util::response(
            &ctx.request,
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &tag,
            &[],
        )
        .ok()
    }

    /// A transaction of a branch that has moved on to another (the request
    /// that was challenged).
    fn is_stale(&self, tx: TransactionId, at: BranchRef) -> bool {
        self.contexts
            .get(&at.server)
            .and_then(|c| c.branches.get(at.index))
            .and_then(|b| b.tx)
            .is_some_and(|current| current != tx)
    }

    /// How a response on branch `at` becomes the server transaction's:
    /// its Call-ID and CSeq as upstream sent them.
    fn upstream_rewrite(&self, at: BranchRef) -> Option<Rewrite> {
        let ctx = self.contexts.get(&at.server)?;
        if let Some(call_id) = &ctx.upstream {
            return Some(Rewrite {
                call_id: Some(call_id.clone()),
                cseq_shift: 0,
            });
        }
        let branch = ctx.branches.get(at.index)?;
        if !branch.is_translated() {
            return None;
        }
        Some(Rewrite {
            call_id: branch
                .call_id
                .as_ref()
                .and(ctx.request.headers().call_id().map(str::to_owned)),
            cseq_shift: -i64::from(branch.cseq_delta),
        })
    }

    /// A response on branch `at` (restored to the caller's ids): a
    /// translated branch's early dialog or answered call keeps its leg, a
    /// failure of its INVITE ends it; a BYE answered 2xx ends the leg of
    /// its dialog.
    fn note_leg(&mut self, now: Instant, at: BranchRef, response: &Response) {
        let Some(ctx) = self.contexts.get(&at.server) else {
            return;
        };
        let success = response.status().is_success();
        let translated = ctx.upstream.is_some() || ctx.outbound.is_some();
        if *ctx.request.method() == switchboard_proto::Method::Bye && translated && success {
            if let Some(ids) = DialogIds::of(ctx.request.headers()) {
                self.legs.remove(ids);
            }
            return;
        }
        let Some(branch) = ctx.branches.get(at.index) else {
            return;
        };
        if !ctx.is_initial_invite() || !branch.is_translated() {
            return;
        }
        let (Some(call_id), Some(from_tag), Some(to_tag)) = (
            ctx.request.headers().call_id(),
            ctx.request.headers().from_tag(),
            response.headers().to_tag(),
        ) else {
            return;
        };
        let ids = DialogIds {
            call_id,
            from_tag,
            to_tag,
        };
        if response.status().as_u16() >= 300 {
            self.legs.remove(ids);
            return;
        }
        let carrier = branch.call_id.as_deref().unwrap_or(call_id);
        self.legs.insert(now, ids, carrier, branch.cseq_delta);
    }

    // ----- bookkeeping -----

    /// Tells the application that the call of the initial INVITE `server`
    /// is now in `phase` (with the response that says so, and where it
    /// came from): [`ProxyEvent::Call`].
    fn report_call(
        &mut self,
        server: TransactionId,
        phase: CallPhase,
        response: Option<(&Response, Option<Source>)>,
    ) {
        let Some(ctx) = self.contexts.get(&server) else {
            return;
        };
        if !ctx.is_initial_invite() {
            return;
        }
        let Some(mut update) = CallUpdate::of_request(&ctx.request, &ctx.source, phase) else {
            return;
        };
        if let Some((response, from)) = response {
            update = update.answered_by(response, from);
        }
        self.events.push_back(ProxyEvent::Call(update));
    }

    /// The context of `server` answered: see [`Context::settle`].
    fn settle(&mut self, server: TransactionId) {
        if let Some(ctx) = self.contexts.get_mut(&server) {
            ctx.settle();
        }
    }

    fn branch_mut(&mut self, at: BranchRef) -> Option<&mut Branch> {
        self.contexts
            .get_mut(&at.server)
            .and_then(|c| c.branches.get_mut(at.index))
    }

    /// Stops the branch's Timer C and its provisional timer.
    fn stop_timer_c(&mut self, at: BranchRef) {
        if let Some(old) = self.branch_mut(at).and_then(|b| b.timer_c.take()) {
            self.timers.remove(&(old, at.server, Timer::C(at.index)));
        }
        self.stop_provisional_timer(at);
    }

    fn stop_provisional_timer(&mut self, at: BranchRef) {
        if let Some(old) = self
            .branch_mut(at)
            .and_then(|b| b.provisional_deadline.take())
        {
            self.timers
                .remove(&(old, at.server, Timer::Provisional(at.index)));
        }
    }

    /// Starts the provisional timer of a branch just sent, when its target
    /// has one.
    fn arm_provisional_timer(&mut self, now: Instant, at: BranchRef) {
        self.stop_provisional_timer(at);
        let Some(branch) = self.branch_mut(at) else {
            return;
        };
        if let Some(after) = branch.provisional_timeout {
            branch.provisional_deadline = Some(now + after);
            self.timers
                .insert((now + after, at.server, Timer::Provisional(at.index)));
        }
    }

    fn remove_if_finished(&mut self, server: TransactionId) {
        if !self.contexts.get(&server).is_some_and(|c| c.is_finished()) {
            return;
        }
        if let Some(ctx) = self.contexts.remove(&server) {
            shrink_after_peak(&mut self.contexts);
            if ctx.final_sent {
                self.answered = self.answered.saturating_sub(1);
            }
            if let Some(at) = ctx.group_deadline {
                self.timers.remove(&(at, server, Timer::Group));
            }
            for (index, b) in ctx.branches.iter().enumerate() {
                if let Some(at) = b.timer_c {
                    self.timers.remove(&(at, server, Timer::C(index)));
                }
                if let Some(at) = b.provisional_deadline {
                    self.timers.remove(&(at, server, Timer::Provisional(index)));
                }
            }
        }
    }
}

/// Where a Via sends a response.
enum ViaTarget {
    Hop(NextHop),
    Name(String),
}

fn via_target(via: &Via<'_>) -> ViaTarget {
    let transport = Transport::from_token(via.transport).unwrap_or(Transport::Udp);
    let port = match via.rport() {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or(default_port(via.transport)),
    };
    let ip: Option<IpAddr> = via
        .received()
        .and_then(|r| r.parse().ok())
        .or_else(|| via.host.ip());
    match ip {
        Some(ip) => ViaTarget::Hop(NextHop::address(transport, SocketAddr::new(ip, port))),
        None => ViaTarget::Name(format!(
            "sip:{}:{port};transport={}",
            via.host.as_str(),
            transport.as_lowercase_token().to_owned()
        )),
    }
}

/// Max-Forwards one less, or 70 when absent (§16.6 step 3).
/// A target's presentation on its branch: the From user part and header
/// fields of its own (a trunk's caller ID).
fn present(request: &mut Request, target: &Target) {
    let headers = request.headers_mut();
    if let Some(user) = &target.from_user {
        let from = headers.get(HeaderName::From).map(|f| with_user(f, user));
        if let Some(Some(from)) = from {
            headers.set(HeaderName::From, from.as_str());
        }
    }
    for (name, value) in &target.headers {
        headers.set(*name, value.as_str());
    }
}

/// A From/To value with the user part of its SIP URI replaced (added when
/// it has none); `None` when it holds no SIP URI.
fn with_user(value: &str, user: &str) -> Option<String> {
    let start = value.find("sip:").or_else(|| value.find("sips:"))?;
    let scheme_end = start + value.get(start..)?.find(':')? + 1;
    let rest = value.get(scheme_end..)?;
    let uri_end = rest.find(['>', ';', ' ']).unwrap_or(rest.len());
    let host_start = match rest.get(..uri_end)?.find('@') {
        Some(at) => scheme_end + at + 1,
        None => scheme_end,
    };
    Some(format!(
        "{}{user}@{}",
        value.get(..scheme_end)?,
        value.get(host_start..)?
    ))
}

fn decrement_max_forwards(request: &mut Request) {
    let mf = request
        .headers()
        .max_forwards()
        .map_or(70, |m| m.saturating_sub(1));
    request
        .headers_mut()
        .set(HeaderName::MaxForwards, mf.to_string());
}

/// The Contacts of a 3xx as targets.
fn contacts(response: &Response) -> Vec<Target> {
    response
        .headers()
        .typed_all::<switchboard_proto::header::Contact<'_>>()
        .flatten()
        .filter_map(|c| {
            let a = c.address()?;
            let mut t = Target::new(a.uri.as_str());
            t.q = a.q();
            Some(t)
        })
        .collect()
}

/// A final status after which a trunk's next gateway is tried: the
/// gateway, not the callee, failed (408, 5xx).
fn is_gateway_failure(code: u16) -> bool {
    code == 408 || (500..600).contains(&code)
}

/// Adds `Content-Length` to a message that came without one (allowed over
/// UDP only, RFC 3261 §20.14): the proxy may pass it on over a stream
/// (TCP, TLS, WebSocket), where it frames the message.
fn with_content_length(headers: &mut switchboard_proto::Headers, body: usize) {
    if headers.get(HeaderName::ContentLength).is_none() {
        headers.set(HeaderName::ContentLength, body.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_without_content_length_gets_one_before_a_stream() {
        // linphonec's ACK over UDP has none; forwarded over TCP as it was,
        // baresip could not frame it and the call never got its ACK.
        let ack = "ACK sip:a@127.0.0.1:5070;transport=tcp SIP/2.0\r\n\
                   Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1\r\n\
                   From: <sip:b@d>;tag=1\r\nTo: <sip:a@d>;tag=2\r\n\
                   Call-ID: c\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\n\r\n";
        let Ok(Message::Request(mut request)) = Message::parse_datagram(ack.into()) else {
            panic!("parse");
        };
        assert!(request.headers().get(HeaderName::ContentLength).is_none());
        let body = request.body().len();
        with_content_length(request.headers_mut(), body);
        assert_eq!(request.headers().get(HeaderName::ContentLength), Some("0"));
        // One already there is left alone.
        request.headers_mut().set(HeaderName::ContentLength, "0");
        with_content_length(request.headers_mut(), 5);
        assert_eq!(request.headers().get(HeaderName::ContentLength), Some("0"));
    }
}
