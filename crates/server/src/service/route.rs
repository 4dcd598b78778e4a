//! New calls through the dial plan (`switchboard_routing::Plan`): who is
//! calling (a local user who authenticated, a trunk by its source network,
//! anyone else), the plan's decision, and its targets as the proxy's.
//!
//! Only initial INVITEs are routed by the plan (in-dialog requests follow
//! their route set; an INVITE with Replaces goes to the dialog it names).
//! A caller from another domain may reach local users and ring groups
//! only: a route to a trunk or a URI for a stranger would be an open relay
//! (toll fraud), so it gets 403.

use std::sync::Arc;

use std::time::Duration;

use switchboard_core::{Now, TransactionId};
use switchboard_proto::{HeaderName, Method, StatusCode, Uri};
use switchboard_routing::{
    CallFacts, CallerIdMode, CallerKind, Decision, Outcome, Plan, RingStrategy, Route, RouteTarget,
};

use crate::cdr::Routing;
use crate::proxy::{
    Advance, AttemptReport, ExhaustCause, GroupPolicy, Incoming, Target, TargetSet,
    TransactionLayer,
};
use crate::registrar::Aor;
use crate::trunks::AttemptResult;

use super::Service;
use super::relay::{Caller, first_uri};
use super::users::UserDirectory;

/// Who placed a call the plan routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RouteCaller {
    /// A local user who proved to be the From user, with the groups the
    /// store keeps for her.
    User {
        name: String,
        domain: String,
        groups: Vec<String>,
    },
    /// A trunk, by the network the call came from.
    Trunk(String),
    /// Anyone else.
    Foreign,
}

impl RouteCaller {
    /// Local user `aor`, or the trunk whose calls she places (a PBX or
    /// SBC that authenticates as a user: its calls are its trunk's, for
    /// DIDs and from_trunk rules).
    pub(super) fn of_user(plan: &Plan, users: &UserDirectory, aor: &Aor) -> Self {
        match plan.trunk_of_user(aor.user()) {
            Some(trunk) => Self::Trunk(trunk.name.clone()),
            None => Self::User {
                name: aor.user().to_owned(),
                domain: aor.domain().to_owned(),
                groups: users.groups(aor.user(), aor.domain()).to_vec(),
            },
        }
    }

    fn kind(&self) -> CallerKind<'_> {
        match self {
            Self::User {
                name,
                domain,
                groups,
            } => CallerKind::User {
                name,
                domain,
                groups,
            },
            Self::Trunk(name) => CallerKind::Trunk { name },
            Self::Foreign => CallerKind::Foreign,
        }
    }
}

impl Service {
    /// Puts a dial plan in force and returns the one it replaces. Calls in
    /// progress keep the decisions they were given.
    pub fn set_plan(&mut self, plan: Arc<Plan>) -> Arc<Plan> {
        tracing::info!(
            version = plan.version(),
            trunks = plan.trunks().len(),
            "dial plan in force"
        );
        // The trunks follow at the next pass (it has the endpoint to
        // send probes and REGISTERs through).
        self.trunks_stale = true;
        self.counters.plan_loaded();
        std::mem::replace(&mut self.plan, plan)
    }

    /// The dial plan in force.
    pub fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// The groups the store keeps for user `name` in `domain` (as last
    /// read; none for a user not held), which the plan adds to its own
    /// `[groups]` when she calls.
    pub fn stored_groups(&self, name: &str, domain: &str) -> &[String] {
        self.users.groups(name, domain)
    }

    /// Whether the plan decides this request: an initial INVITE (not a
    /// pickup with Replaces) while a plan is loaded.
    pub(super) fn plan_routes(&self, incoming: &Incoming) -> bool {
        let request = incoming.request();
        request.method() == &Method::Invite
            && request.headers().to_tag().is_none()
            && request.headers().get(HeaderName::Replaces).is_none()
            && !self.plan.is_empty()
    }

    /// An initial INVITE routed by the plan.
    pub(super) fn route_call(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) {
        let ip = incoming.source().remote.ip();
        let caller = match self.plan.inbound_trunk(ip) {
            // A trunk's calls are recognised by their source network and
            // never challenged (a carrier cannot answer a 407).
            Some(trunk) => RouteCaller::Trunk(trunk.name.clone()),
            None => match self.caller(now, ep, &incoming, routed_to_us) {
                Caller::Handled => return,
                Caller::Local => {
                    self.learn_caller(now, &incoming);
                    match from_user(&incoming) {
                        Some(aor) => RouteCaller::of_user(&self.plan, &self.users, &aor),
                        None => RouteCaller::Foreign,
                    }
                }
                Caller::Foreign => RouteCaller::Foreign,
            },
        };
        self.route_as(now, ep, incoming, &caller);
    }

    /// An initial INVITE routed by the plan for `caller`.
    pub(super) fn route_as(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        caller: &RouteCaller,
    ) {
        let ip = incoming.source().remote.ip();
        let decision = self.decide(now, &incoming, caller);
        for line in &decision.trace {
            tracing::debug!(
                call_id = incoming.request().headers().call_id().unwrap_or_default(),
                "{line}"
            );
        }
        match decision.outcome {
            Outcome::NoRoute => self.route_default(now, ep, incoming, caller),
            Outcome::Reject { status, reason } => {
                tracing::info!(rule = decision.rule.as_deref().unwrap_or("-"), status, %reason, "call refused by the dial plan");
                let status = StatusCode::new(status).unwrap_or(StatusCode::FORBIDDEN);
                self.reply_with(now, ep, &incoming, status, Some(&reason), &[]);
            }
            Outcome::Redirect { status, uri } => {
                let status = StatusCode::new(status).unwrap_or(StatusCode::MOVED_TEMPORARILY);
                let contact = vec![(HeaderName::Contact, format!("<{uri}>"))];
                self.reply_with(now, ep, &incoming, status, None, &contact);
            }
            Outcome::Route(route) => {
                if *caller == RouteCaller::Foreign && !is_local(&route.target) {
                    tracing::info!(
                        rule = decision.rule.as_deref().unwrap_or("-"),
                        "a caller of another domain may not be routed beyond the local users: 403"
                    );
                    self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
                    return;
                }
                let site = route
                    .prefer_caller_site
                    .then(|| self.plan.site_of(ip).map(str::to_owned))
                    .flatten();
                let tx = incoming.tx();
                let mut targets = self.route_targets(
                    now,
                    Some(tx),
                    &route.target,
                    route.no_answer_after,
                    site.as_deref(),
                );
                let mut fallthrough = Fallthrough::of(&route);
                if targets.is_empty() {
                    // Nobody to ring: straight to the unavailable
                    // fallthrough, or the answer a user with no device
                    // gets.
                    match fallthrough.as_mut().and_then(|f| f.on_unavailable.take()) {
                        Some(next) => {
                            targets = self.route_targets(now, Some(tx), &next, None, None);
                            fallthrough = None;
                        }
                        None => {
                            self.reply(now, ep, &incoming, StatusCode::TEMPORARILY_UNAVAILABLE);
                            return;
                        }
                    }
                    if targets.is_empty() {
                        self.reply(now, ep, &incoming, StatusCode::TEMPORARILY_UNAVAILABLE);
                        return;
                    }
                }
                self.learn_dialog(now, &incoming);
                if let Some(call_id) = incoming.request().headers().call_id() {
                    let routing = Routing {
                        rule: decision.rule.clone(),
                        number: decision.number.clone(),
                        target: route.target.label(),
                    };
                    self.records.routed(call_id, tx, routing);
                }
                let targets = targets.hold_final(fallthrough.is_some());
                self.forward(now, ep, incoming, targets);
                if let Some(f) = fallthrough {
                    self.fallthrough.insert(tx, f);
                }
            }
            _ => self.reply(now, ep, &incoming, StatusCode::SERVER_INTERNAL_ERROR),
        }
    }

    /// The plan's decision for this call.
    fn decide(&self, now: Now, incoming: &Incoming, caller: &RouteCaller) -> Decision {
        let request = incoming.request();
        let uri = request.uri();
        let (to, to_domain) = match uri.as_sip() {
            Some(sip) => (sip.user.unwrap_or_default(), sip.host.as_str()),
            None => (request.uri_str(), ""),
        };
        // A provider we register to sends calls to the registered Contact
        // (its user is the account name); the number dialled is in To.
        let to_header = first_uri(request, HeaderName::To);
        let to_number = match caller {
            RouteCaller::Trunk(name) if self.is_account_of(name, to) => to_header
                .as_deref()
                .and_then(|t| Uri::parse(t).ok())
                .and_then(|u| u.as_sip().and_then(|s| s.user).map(str::to_owned)),
            _ => None,
        };
        let to = to_number.as_deref().unwrap_or(to);
        // A trunk may assert the caller (P-Asserted-Identity); phones
        // may not: their identity is the From they authenticated.
        let asserted = matches!(caller, RouteCaller::Trunk(_))
            .then(|| first_uri(request, HeaderName::PAssertedIdentity))
            .flatten();
        let from = first_uri(request, HeaderName::From).unwrap_or_default();
        let from_uri = asserted.unwrap_or(from);
        let anonymous = is_anonymous(&from_uri)
            || request
                .headers()
                .values(HeaderName::Privacy)
                .any(|v| v.trim().eq_ignore_ascii_case("id"));
        let transport = incoming.source().transport.as_lowercase_token();
        let facts = CallFacts {
            to,
            to_domain,
            from_uri: &from_uri,
            anonymous,
            caller: caller.kind(),
            source: incoming.source().remote.ip(),
            transport,
            at_unix: i64::try_from(now.unix()).unwrap_or(i64::MAX),
        };
        // The trace costs allocations: built only when someone reads it.
        if tracing::enabled!(tracing::Level::DEBUG) {
            self.plan.decide(&facts, &self.trunks)
        } else {
            self.plan.decide_untraced(&facts, &self.trunks)
        }
    }

    /// Whether `user` is the account name the server registers with at
    /// trunk `trunk`.
    fn is_account_of(&self, trunk: &str, user: &str) -> bool {
        self.plan
            .trunks()
            .iter()
            .find(|t| t.name == trunk)
            .and_then(|t| t.credentials.as_ref())
            .is_some_and(|c| c.username == user)
    }

    /// No rule matched: what the server does without a plan.
    pub(super) fn route_default(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        caller: &RouteCaller,
    ) {
        let local = matches!(caller, RouteCaller::User { .. });
        if incoming.is_for_us() {
            if caller == &RouteCaller::Foreign && !self.trust_foreign {
                self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
                return;
            }
            match Aor::from_uri(&incoming.request().uri()) {
                Ok(aor) => self.deliver_local(now, ep, incoming, aor, local),
                Err(_) => self.reply(now, ep, &incoming, StatusCode::NOT_FOUND),
            }
            return;
        }
        if !local {
            tracing::debug!(uri = %incoming.request().uri_str(), "relay refused: the caller is not a local user");
            self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
            return;
        }
        self.learn_dialog(now, &incoming);
        let mut target = incoming.request_uri_target();
        if let Some(outbound) = self.outbound.clone() {
            target = target.with_path(vec![outbound]);
        }
        self.forward(now, ep, incoming, TargetSet::single(target));
    }

    /// The targets of a routed call failed (`cause`): its fallthrough
    /// target when the route has one for that cause, else the best
    /// answer goes upstream.
    pub(super) fn on_exhausted(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        server: TransactionId,
        cause: ExhaustCause,
    ) {
        let next = self.fallthrough.remove(&server).and_then(|f| match cause {
            ExhaustCause::Busy => f.on_busy,
            ExhaustCause::NoAnswer => f.on_no_answer,
            _ => f.on_unavailable,
        });
        if let Some(next) = next {
            let targets = self.route_targets(now, Some(server), &next, None, None);
            if !targets.is_empty() {
                tracing::debug!(?cause, target = %next.label(), "fallthrough");
                match self.proxy.forward_more(now.instant(), ep, server, targets) {
                    Ok(()) => return,
                    Err(error) => tracing::debug!(%error, "fallthrough not taken"),
                }
            }
        }
        if let Err(error) = self.proxy.release(now.instant(), ep, server) {
            tracing::debug!(%error, "exhausted request not released");
        }
    }

    /// The proxy's targets for a plan's target: a user's devices (those
    /// at the caller's `site` first, when given) ringing for
    /// `no_answer_after`, a ring group's members together or in turn, a
    /// URI, or the carrier attempts one after another (the next only when
    /// a gateway fails: 408, 5xx, silence for the trunk's
    /// `failover_after`), each with its trunk's credentials.
    fn route_targets(
        &mut self,
        now: Now,
        server: Option<TransactionId>,
        target: &RouteTarget,
        no_answer_after: Option<Duration>,
        site: Option<&str>,
    ) -> TargetSet {
        let mut set = TargetSet::new();
        let ring = GroupPolicy {
            timeout: no_answer_after,
            ..GroupPolicy::default()
        };
        match target {
            RouteTarget::User { name, domain } => {
                let Ok(aor) = Aor::new(name, &self.served_domain(domain)) else {
                    return set;
                };
                let (near, far) = self.devices_by_site(now, &aor, site);
                // The devices at the caller's site ring alone for the
                // proxy's serial-forking time (`[proxy] group_timeout`);
                // then they are cancelled and the others ring for the
                // call's ring time.
                let first = GroupPolicy {
                    timeout: Some(self.proxy.config().group_timeout),
                    ..GroupPolicy::default()
                };
                set.push_group(near, if far.is_empty() { ring } else { first });
                set.push_group(far, ring);
            }
            RouteTarget::RingGroup {
                members,
                strategy,
                ring_timeout,
                ..
            } => {
                let policy = GroupPolicy {
                    timeout: Some(*ring_timeout),
                    ..GroupPolicy::default()
                };
                let mut all = Vec::new();
                for (name, domain) in members {
                    let Ok(aor) = Aor::new(name, &self.served_domain(domain)) else {
                        continue;
                    };
                    let devices = self.device_targets(now, &aor);
                    match strategy {
                        RingStrategy::Sequential => set.push_group(devices, policy),
                        _ => all.extend(devices),
                    }
                }
                set.push_group(all, policy);
            }
            RouteTarget::Uri(uri) => set.push_group(vec![Target::new(uri.as_str())], ring),
            RouteTarget::Trunks(attempts) => {
                let gateway = GroupPolicy {
                    timeout: None,
                    advance: Advance::OnGatewayFailure,
                };
                for attempt in attempts {
                    let Some(trunk) = self.plan.trunks().iter().find(|t| t.name == attempt.trunk)
                    else {
                        continue;
                    };
                    let mut target = Target::new(attempt.request_uri.as_str())
                        .with_provisional_timeout(trunk.failover_after)
                        .with_fresh_call_id(trunk.fresh_call_id)
                        .with_report();
                    if let Some(credentials) = &trunk.credentials {
                        target = target.with_credentials(credentials.clone());
                    }
                    match &trunk.caller_id {
                        CallerIdMode::Replace(number) => {
                            target = target.with_from_user(number.as_str());
                        }
                        CallerIdMode::Assert(number) => {
                            let host = gateway_host(&attempt.gateway);
                            target = target.with_header(
                                HeaderName::PAssertedIdentity,
                                format!("<sip:{number}@{host}>"),
                            );
                        }
                        _ => {}
                    }
                    if let Some(server) = server {
                        self.attempts.insert(
                            (server, attempt.request_uri.clone()),
                            (attempt.trunk.clone(), attempt.gateway.clone()),
                        );
                    }
                    set.push_group(vec![target], gateway);
                }
            }
            _ => {}
        }
        set
    }

    /// A carrier attempt ended: its gateway's health learns from it.
    pub(super) fn on_attempt(&mut self, server: TransactionId, uri: &str, result: AttemptReport) {
        let Some((trunk, gateway)) = self.attempts.remove(&(server, uri.to_owned())) else {
            return;
        };
        self.records.attempted(server, &trunk, &gateway);
        let result = match result {
            AttemptReport::Response(code) => AttemptResult::Response(code),
            AttemptReport::TransportError => AttemptResult::TransportError,
            _ => AttemptResult::Timeout,
        };
        self.trunks
            .report_attempt(self.clock, &trunk, &gateway, result);
    }

    /// The domain a plan's user lives in: `domain` when this server
    /// serves it, else its first domain (a carrier's call names the
    /// server's address, not the users' domain).
    fn served_domain(&self, domain: &str) -> String {
        let domains = &self.registrar.config().domains;
        domains
            .iter()
            .find(|d| d.eq_ignore_ascii_case(domain))
            .or(domains.first())
            .cloned()
            .unwrap_or_else(|| domain.to_owned())
    }

    /// A user's devices, split into those at `site` (by the address they
    /// registered from) and the others; all in the second list without a
    /// site.
    fn devices_by_site(
        &mut self,
        now: Now,
        aor: &Aor,
        site: Option<&str>,
    ) -> (Vec<Target>, Vec<Target>) {
        let plan = Arc::clone(&self.plan);
        self.device_targets_split(now, aor, |b| {
            site.is_some_and(|s| plan.site_of(b.source.remote.ip()) == Some(s))
        })
    }
}

/// The fallthrough targets of a routed call, kept until its targets are
/// exhausted or it is answered.
#[derive(Debug, Clone)]
pub(super) struct Fallthrough {
    on_busy: Option<RouteTarget>,
    on_no_answer: Option<RouteTarget>,
    on_unavailable: Option<RouteTarget>,
}

impl Fallthrough {
    /// The route's fallthrough, when it has one.
    fn of(route: &Route) -> Option<Self> {
        let f = Self {
            on_busy: route.on_busy.clone(),
            on_no_answer: route.on_no_answer.clone(),
            on_unavailable: route.on_unavailable.clone(),
        };
        (f.on_busy.is_some() || f.on_no_answer.is_some() || f.on_unavailable.is_some()).then_some(f)
    }
}

/// The host (and port) of a gateway URI, for the identity asserted on it.
fn gateway_host(gateway: &str) -> String {
    Uri::parse(gateway)
        .ok()
        .and_then(|u| {
            u.as_sip().map(|sip| match sip.port {
                Some(port) => format!("{}:{port}", sip.host),
                None => sip.host.to_string(),
            })
        })
        .unwrap_or_else(|| gateway.to_owned())
}

/// Whether a target stays with the local users.
fn is_local(target: &RouteTarget) -> bool {
    matches!(
        target,
        RouteTarget::User { .. } | RouteTarget::RingGroup { .. }
    )
}

/// The From user of a request, as an address of record.
fn from_user(incoming: &Incoming) -> Option<Aor> {
    let from = first_uri(incoming.request(), HeaderName::From)?;
    let uri = Uri::parse(&from).ok()?;
    Aor::from_uri(&uri).ok()
}

/// An anonymous caller ID (RFC 3323 §4.1.1.3).
fn is_anonymous(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase();
    lower.contains("anonymous.invalid") || lower.starts_with("sip:anonymous@")
}
