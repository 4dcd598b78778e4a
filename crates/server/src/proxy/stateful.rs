//! The stateful proxy (RFC 3261 §16) as the transaction user of an
//! endpoint.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use switchboard_core::resolve::{AttemptOutcome, Failover};
use switchboard_core::{Event, Source, TransactionId, Transport};
use switchboard_proto::header::{Via, format_qvalue};
use switchboard_proto::{HeaderName, Message, Request, Response, ResponseBuilder, StatusCode, Uri};

use super::branch::{Branch, BranchState};
use super::call_update::{CallEnd, CallPhase, CallUpdate};
use super::config::{Mode, ProxyConfig};
use super::context::{BranchRef, Context, best_index, other_challenges};
use super::error::ProxyError;
use super::event::{ProxyEvent, ResolveId};
use super::incoming::Incoming;
use super::loop_check::{branch_with_hash, default_port, loop_hash, stateless_branch};
use super::target::{NextHop, Target, TargetSet};
use super::validate::{self, Rejection};
use super::{record_route, routing};
use switchboard_core::TransactionLayer;

/// A proxy timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The current serial group rang long enough.
    Group,
    /// Timer C of a branch.
    C(usize),
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
    contexts: HashMap<TransactionId, Context>,
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
        self.timers.first().map(|(at, _, _)| *at)
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
        let ctx = Context::new(incoming.request, incoming.source, incoming.loop_hash);
        if ctx.is_invite() && self.config.send_trying {
            // Sent now rather than by the endpoint 200 ms later: the
            // caller stops retransmitting at once. Never doubled: the
            // endpoint sends its own only when nothing was sent.
            let trying = ResponseBuilder::from_request(&ctx.request, StatusCode::TRYING).build()?;
            ep.respond(now, tx, trying)?;
        }
        let mut ctx = ctx;
        ctx.groups = targets.into_groups().into();
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
            .into_groups()
            .into_iter()
            .flatten()
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
        _now: Instant,
        ep: &mut impl TransactionLayer,
        mut request: Request,
        _source: Source,
        hop: Option<NextHop>,
    ) {
        if request.headers().max_forwards() == Some(0) {
            return;
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
                match (request, hops.next()) {
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
        branch.fallback.clear();
        branch.state = BranchState::Done;
        branch.cancel_pending = false;
        let mut next = Branch::new(branch.uri.clone());
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
                self.on_stray_response(ep, response);
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
        // Step 3: our Via goes.
        response.headers_mut().pop_front_value(HeaderName::Via);
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
        if branch.state == BranchState::Calling {
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
        response: Response,
        from: Option<Source>,
    ) {
        self.stop_timer_c(at);
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
        self.report_call(at.server, CallPhase::Confirmed, Some((&response, from)));
        // Every 2xx to an INVITE goes upstream: forks, retransmissions.
        self.send_upstream(now, ep, at.server, response);
        if first {
            self.stop_forking(now, ep, at.server, Some(at.index));
        }
    }

    fn on_final(
        &mut self,
        now: Instant,
        ep: &mut impl TransactionLayer,
        at: BranchRef,
        mut response: Response,
    ) {
        if self.fail_over(now, ep, at, AttemptOutcome::Final(response.status())) {
            return;
        }
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
        let mut recursed = Vec::new();
        if (300..400).contains(&code) && recurse && !ctx.stop {
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
        if code >= 600 {
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
        let outcome = match status {
            None => AttemptOutcome::Timeout,
            Some(_) => AttemptOutcome::TransportError,
        };
        if self.fail_over(now, ep, at, outcome) {
            return;
        }
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
    pub fn on_stray_response(&mut self, ep: &mut impl TransactionLayer, mut response: Response) {
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
            if let Some(ctx) = self.contexts.get_mut(&at.server) {
                ctx.live_clients = ctx.live_clients.saturating_sub(1);
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
    /// (§16.8) and the serial-forking group timeout.
    pub fn handle_timeout(&mut self, now: Instant, ep: &mut impl TransactionLayer) {
        while let Some(&(at, server, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::C(index) => self.on_timer_c(now, ep, BranchRef { server, index }),
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
            BranchState::Calling | BranchState::Resolving => {
                branch.cancel_pending = true;
                self.fail_branch(ep, at, None);
                self.advance(now, ep, at.server);
            }
            BranchState::Done => {}
        }
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
        if ctx.stop || ctx.final_sent {
            return;
        }
        tracing::debug!(%server, "serial group timed out, next group");
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
            let group_timeout = self.config.group_timeout;
            let Some(ctx) = self.contexts.get_mut(&server) else {
                return;
            };
            if ctx.final_sent || ctx.has_pending() {
                return;
            }
            let next = if ctx.stop {
                None
            } else {
                ctx.groups.pop_front()
            };
            let Some(group) = next else {
                self.send_best(now, ep, server);
                return;
            };
            let more = !ctx.groups.is_empty();
            let old = ctx.group_deadline.take();
            if more {
                ctx.group_deadline = Some(now + group_timeout);
            }
            if let Some(old) = old {
                self.timers.remove(&(old, server, Timer::Group));
            }
            if more {
                self.timers
                    .insert((now + group_timeout, server, Timer::Group));
            }
            for target in group {
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
        routing::preload(&mut request, &target.path);
        // The next hop is the first Route even when it is a strict router
        // (§16.6 step 7), whose URI then becomes the Request-URI.
        let next_uri = routing::next_hop_uri(&request);
        routing::fix_strict_next_hop(&mut request);
        let index = ctx.branches.len();
        ctx.branches.push(Branch::new(target.uri.clone()));
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
                    b.request = Some(request);
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
            .then(|| request.clone());
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
        let branch = branch_with_hash(&ep.new_branch(), &ctx.loop_hash);
        match ep.send_request_with_branch(now, request, hop.destination, &branch) {
            Ok(tx) => {
                ctx.live_clients += 1;
                if let Some(b) = ctx.branches.get_mut(at.index) {
                    b.tx = Some(tx);
                    b.state = BranchState::Calling;
                }
                self.clients.insert(tx, at);
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
        let invite = self
            .contexts
            .get(&at.server)
            .is_some_and(Context::is_invite);
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
        let chosen = best_index(&ctx.responses);
        let tag = ep.new_tag();
        let response = match chosen.and_then(|i| ctx.responses.get(i).map(|r| (i, r))) {
            Some((_, r)) if r.status() == StatusCode::SERVICE_UNAVAILABLE => {
                // §16.7 step 6: a 503 would tell the caller that we are
                // overloaded; it becomes 500.
                crate::util::response(
                    &ctx.request,
                    StatusCode::SERVER_INTERNAL_ERROR,
                    None,
                    &tag,
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
                crate::util::response(&ctx.request, status, None, &tag, &[]).ok()
            }
        };
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
        self.remove_if_finished(server);
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
            && self.contexts.get(&server).is_some_and(Context::is_invite);
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

    fn branch_mut(&mut self, at: BranchRef) -> Option<&mut Branch> {
        self.contexts
            .get_mut(&at.server)
            .and_then(|c| c.branches.get_mut(at.index))
    }

    fn stop_timer_c(&mut self, at: BranchRef) {
        if let Some(old) = self.branch_mut(at).and_then(|b| b.timer_c.take()) {
            self.timers.remove(&(old, at.server, Timer::C(at.index)));
        }
    }

    fn remove_if_finished(&mut self, server: TransactionId) {
        if !self.contexts.get(&server).is_some_and(Context::is_finished) {
            return;
        }
        if let Some(ctx) = self.contexts.remove(&server) {
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
            transport.as_via_token().to_ascii_lowercase()
        )),
    }
}

/// Max-Forwards one less, or 70 when absent (§16.6 step 3).
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
