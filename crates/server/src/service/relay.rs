//! Every request other than REGISTER: the relay rules around the
//! [`Proxy`](crate::Proxy) (who may send what where), the location lookup,
//! and the next hops of the devices the server knows.
//!
//! * Requests from local users (the From domain is served here) are
//!   challenged with 407, with the same lockout as REGISTER, and the
//!   authenticated user must be the From user (403 otherwise).
//! * Requests from other domains to local users are accepted without a
//!   challenge (`trust_foreign_callers`, default true).
//! * Nothing is relayed for someone who is not a local user: a request
//!   for another domain from a non-user gets 403 (no open relay).
//! * In-dialog requests (a To tag) that this server record-routed, or
//!   that go to a device it knows, are forwarded without a challenge; ACK
//!   and CANCEL are never challenged.
//! * A local user with no device: an authenticated caller learns whether
//!   the user exists (404) or is away (480); an unauthenticated one gets
//!   480 for both, so that names cannot be enumerated.

use switchboard_core::{Now, Source, TransactionId};
use switchboard_proto::digest::DigestCredentials;
use switchboard_proto::header::{NameAddr, Replaces, TypedHeader};
use switchboard_proto::{HeaderName, Method, Request, StatusCode, Uri};

use crate::auth::AuthResult;
use crate::bodies::Direction;
use crate::calls::{DialogMatch, ReplacesTarget};
use crate::proxy::{Incoming, Target, TargetSet, TransactionLayer};
use crate::registrar::{Aor, Binding};

use super::contacts::{hop_of, via_source};
use super::events::uri_of;
use super::users::Known;
use super::{ALLOW, Checked, Service, Waiting};
use crate::cluster::HomeRoute;

/// Who sent a request, as far as relaying is concerned.
pub(super) enum Caller {
    /// A local user who proved to be the From user.
    Local,
    /// Someone from another domain (not challenged).
    Foreign,
    /// Already answered (challenge, 403), or parked for a user lookup.
    Handled,
}

/// The URI of the first value of `name`, as text.
pub(super) fn first_uri(request: &Request, name: HeaderName) -> Option<String> {
    let value = request.headers().values(name).next()?;
    let addr = NameAddr::parse_value(value).ok()?;
    Some(addr.uri.to_string())
}

impl Service {
    /// A request other than REGISTER.
    pub(super) fn on_proxy_request(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        request: Request,
        source: Source,
    ) {
        // Before Route processing: did the request come along a route this
        // server put in (its top Route names us)?
        let routed_to_us = first_uri(&request, HeaderName::Route)
            .and_then(|u| {
                Uri::parse(&u)
                    .ok()
                    .map(|u| self.proxy.config().is_local(&u))
            })
            .unwrap_or(false);
        let Ok(incoming) = self
            .proxy
            .on_request(now.instant(), ep, tx, request, source)
        else {
            return; // answered: 416, 420, 482, 483
        };
        self.relay(now, ep, incoming, routed_to_us);
    }

    /// The relay rules for an accepted request (run again when a user
    /// lookup it waited for is answered).
    pub(super) fn relay(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) {
        // SUBSCRIBE and PUBLISH this server answers itself.
        let Some(incoming) = self.event_request(now, ep, incoming, routed_to_us) else {
            return;
        };
        let at = now.instant();
        let request = incoming.request();
        let in_dialog = request.headers().to_tag().is_some();
        let known_hop = self.contacts.find(at, request.uri_str());
        let call_id = request.headers().call_id().unwrap_or_default().to_owned();
        // A REFER in a call the proxy routes comes from one party to the
        // other, or from nobody (transfer.rs).
        let refer_from = match request.method() {
            Method::Refer if in_dialog => match self.refer_sender(&incoming) {
                DialogMatch::NotAParty => {
                    tracing::info!(%call_id, "REFER with the tags of no dialog of the call: 403");
                    self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
                    return;
                }
                DialogMatch::Party(parties) => Some(parties),
                _ => None,
            },
            _ => None,
        };
        if in_dialog
            && (known_hop.is_some()
                || (routed_to_us
                    && (self.dialogs.touch(at, &call_id)
                        || self.local_domain(request, HeaderName::To).is_some())))
        {
            // A dialog this server let through (or one towards a local
            // user, who may be called without a challenge anyway), or a
            // device it knows: relayed without a challenge.
            if request.method() == &Method::Bye {
                self.dialogs.end(&call_id);
            }
            if let Some(parties) = &refer_from {
                self.note_transfer(now, &incoming, parties);
            }
            let target = incoming.request_uri_target();
            let target =
                match known_hop.filter(|_| request.headers().get(HeaderName::Route).is_none()) {
                    Some(hop) => target.with_next_hop(hop),
                    None => target,
                };
            self.forward(now, ep, incoming, TargetSet::single(target));
            return;
        }
        if !in_dialog && incoming.is_for_us() && self.cluster.is_peer(incoming.source().remote) {
            self.deliver_for_peer(now, ep, incoming);
            return;
        }
        let Some(incoming) = self.transferred_invite(now, ep, incoming) else {
            return;
        };
        if self.plan_routes(&incoming) {
            self.route_call(now, ep, incoming, routed_to_us);
            return;
        }
        if incoming.is_for_us() {
            self.for_us(now, ep, incoming, routed_to_us);
            return;
        }
        // On its way elsewhere: only for our own users.
        match self.caller(now, ep, &incoming, routed_to_us) {
            Caller::Local => {
                self.learn_caller(now, &incoming);
                self.learn_dialog(now, &incoming);
                let mut target = incoming.request_uri_target();
                let routed = incoming
                    .request()
                    .headers()
                    .get(HeaderName::Route)
                    .is_some();
                if let Some(outbound) = self.outbound.clone().filter(|_| !routed) {
                    target = target.with_path(vec![outbound]);
                }
                self.forward(now, ep, incoming, TargetSet::single(target));
            }
            Caller::Foreign => {
                tracing::debug!(uri = %incoming.request().uri_str(), "relay refused: the caller is not a local user");
                self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
            }
            Caller::Handled => {}
        }
    }

    /// A request for this server or one of its users.
    fn for_us(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) {
        let uri = incoming.request().uri();
        let has_user = uri.as_sip().is_some_and(|s| s.user.is_some());
        if !has_user {
            if incoming.request().method() == &Method::Options {
                let headers = [
                    (HeaderName::Allow, ALLOW.to_owned()),
                    (HeaderName::Accept, "application/sdp".to_owned()),
                    (
                        HeaderName::Supported,
                        "path, outbound, eventlist".to_owned(),
                    ),
                    (
                        HeaderName::AllowEvents,
                        crate::events::ALLOW_EVENTS.to_owned(),
                    ),
                ];
                if let Err(e) =
                    self.proxy
                        .reply(now.instant(), ep, &incoming, StatusCode::OK, &headers)
                {
                    tracing::debug!(error = %e, "OPTIONS answer not sent");
                }
            } else {
                self.reply(now, ep, &incoming, StatusCode::NOT_FOUND);
            }
            return;
        }
        let aor = match Aor::from_uri(&uri) {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!(error = %e, "no user in the Request-URI");
                self.reply(now, ep, &incoming, StatusCode::NOT_FOUND);
                return;
            }
        };
        let authenticated = match self.caller(now, ep, &incoming, routed_to_us) {
            Caller::Handled => return,
            Caller::Foreign if !self.trust_foreign => {
                tracing::debug!(%aor, "request from another domain refused (trust_foreign_callers = false)");
                self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
                return;
            }
            Caller::Local => {
                self.learn_caller(now, &incoming);
                true
            }
            Caller::Foreign => false,
        };
        self.deliver_local(now, ep, incoming, aor, authenticated);
    }

    /// Delivers a request for a local user (`aor`) to her devices, once
    /// the caller is known (`authenticated`: a local user who proved it).
    pub(super) fn deliver_local(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        aor: Aor,
        authenticated: bool,
    ) {
        if let Some(pickup) = self.replaces_target(&incoming) {
            // An answered call is replaced on the device that holds it
            // whoever asks (its Call-ID and tags are known to its parties
            // and those they gave them to; the device decides, RFC 3891).
            if authenticated || !pickup.early {
                self.deliver_replaces(now, ep, incoming, pickup);
                return;
            }
            // Only local users may take a ringing call: a stranger's
            // pickup would otherwise ring the callee's phones again.
            tracing::debug!(%aor, "pickup with Replaces from another domain refused");
            self.reply(now, ep, &incoming, StatusCode::FORBIDDEN);
            return;
        }
        if self.keeps(incoming.request()) && self.mailbox.has_waiting(&aor) {
            // Delivery of kept messages is under way: this one joins the
            // queue so that it does not overtake them (202 once stored).
            self.keep_message(now, ep, &incoming, aor);
            return;
        }
        let targets = self.device_targets(now, &aor);
        if targets.is_empty() {
            self.no_device(now, ep, &incoming, authenticated);
            return;
        }
        let targets: TargetSet = targets.into_iter().collect();
        self.learn_dialog(now, &incoming);
        self.forward(now, ep, incoming, targets);
    }

    /// The targets of a local user's devices (their next hops learnt).
    pub(super) fn device_targets(&mut self, now: Now, aor: &Aor) -> Vec<Target> {
        self.device_targets_split(now, aor, |_| false).1
    }

    /// The same, split by `first` on each binding: (those it picks, the
    /// others), from one lookup.
    pub(super) fn device_targets_split(
        &mut self,
        now: Now,
        aor: &Aor,
        first: impl Fn(&Binding) -> bool,
    ) -> (Vec<Target>, Vec<Target>) {
        let (mut picked, mut others) = (Vec::new(), Vec::new());
        // Bindings whose flow another live node holds: one target per
        // such node, through it (home-node routing).
        let mut homes: Vec<String> = Vec::new();
        for b in self.registrar.lookup(aor, now.unix()) {
            let through_flow = b.is_outbound_flow() || via_source(&b.contact, &b.source);
            let target = match self.cluster.route_of(b, through_flow) {
                HomeRoute::Direct => binding_target(b, through_flow),
                HomeRoute::Dead => continue,
                HomeRoute::Through(route) if homes.contains(&route) => continue,
                HomeRoute::Through(route) => {
                    homes.push(route.clone());
                    let mut target = Target::new(uri_of(aor)).with_path(vec![route]);
                    target.q = b.q;
                    target
                }
            };
            if first(b) {
                picked.push(target);
            } else {
                others.push(target);
            }
        }
        for t in picked.iter().chain(&others) {
            if let Some(hop) = t.next_hop {
                self.contacts.learn(now.instant(), &t.uri, hop);
            }
        }
        (picked, others)
    }

    /// A request another node of the cluster sent here for a local user:
    /// delivered down the flows this node holds (the other node reached
    /// the rest itself). The peer authenticated the caller.
    fn deliver_for_peer(&mut self, now: Now, ep: &mut impl TransactionLayer, incoming: Incoming) {
        let Ok(aor) = Aor::from_uri(&incoming.request().uri()) else {
            self.reply(now, ep, &incoming, StatusCode::NOT_FOUND);
            return;
        };
        let mut targets = Vec::new();
        for b in self.registrar.lookup(&aor, now.unix()) {
            let through_flow = b.is_outbound_flow() || via_source(&b.contact, &b.source);
            if through_flow && self.cluster.homed_here(b) {
                targets.push(binding_target(b, true));
            }
        }
        for t in &targets {
            if let Some(hop) = t.next_hop {
                self.contacts.learn(now.instant(), &t.uri, hop);
            }
        }
        if targets.is_empty() {
            tracing::debug!(%aor, "request from a peer node for a flow no longer here: 480");
            self.reply(now, ep, &incoming, StatusCode::TEMPORARILY_UNAVAILABLE);
            return;
        }
        if incoming.request().method() == &Method::Invite {
            if let Some(call_id) = incoming.request().headers().call_id() {
                self.cluster.relaying(call_id);
            }
        }
        self.learn_dialog(now, &incoming);
        self.forward(now, ep, incoming, targets.into_iter().collect());
    }

    /// The device an INVITE with Replaces (RFC 3891) must reach, when it
    /// names a call the server routes: for a ringing call the caller's
    /// device, since only the UAC of an early dialog accepts Replaces
    /// (call pickup).
    pub(super) fn replaces_target(&self, incoming: &Incoming) -> Option<ReplacesTarget> {
        let request = incoming.request();
        if request.method() != &Method::Invite || request.headers().to_tag().is_some() {
            return None;
        }
        let replaces = request.headers().typed::<Replaces<'_>>()?.ok()?;
        self.calls
            .replaces_target(replaces.call_id, replaces.to_tag, replaces.from_tag)
    }

    /// Forwards an INVITE with Replaces to the device of the dialog it
    /// names, with the Replaces as that device sees the dialog.
    pub(super) fn deliver_replaces(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        mut incoming: Incoming,
        pickup: ReplacesTarget,
    ) {
        tracing::debug!(contact = %pickup.contact, early = pickup.early, "INVITE with Replaces delivered to the dialog's device");
        let early_only = match incoming.request().headers().typed::<Replaces<'_>>() {
            Some(Ok(replaced)) => {
                if !pickup.early {
                    // An answered call handed on (attended transfer): its
                    // record says so when it ends.
                    let call_id = replaced.call_id.to_owned();
                    self.records.transferred(&call_id);
                }
                replaced.early_only
            }
            _ => false,
        };
        let mut replaces = self.replaces_for_device(now, &pickup);
        if early_only {
            replaces.push_str(";early-only");
        }
        incoming
            .request
            .headers_mut()
            .set(HeaderName::Replaces, replaces);
        // Addressed to the device's user: the call book (and so the busy
        // lamps) files the new call under her, not under the user whose
        // call was picked up.
        if let Some(uri) = pickup.aor.as_ref().map(uri_of) {
            if let Ok(uri) = Uri::parse(&uri) {
                incoming.request.set_uri(&uri);
            }
        }
        let mut target = Target::new(pickup.contact.as_str());
        if via_source(&pickup.contact, &pickup.source) {
            target = target.with_next_hop(hop_of(&pickup.source));
        }
        self.learn_dialog(now, &incoming);
        self.forward(now, ep, incoming, TargetSet::single(target));
    }

    /// The Replaces value the device of `pickup` knows its dialog by: a
    /// carrier's leg has a Call-ID of its own (`fresh_call_id`).
    fn replaces_for_device(&mut self, now: Now, pickup: &ReplacesTarget) -> String {
        let carrier = match Replaces::parse(&pickup.replaces) {
            Ok(r) if pickup.side == Direction::Recipient => self
                .proxy
                .carrier_call_id(now.instant(), r.call_id, r.from_tag, r.to_tag)
                .map(|id| format!("{id};to-tag={};from-tag={}", r.to_tag, r.from_tag)),
            _ => None,
        };
        carrier.unwrap_or_else(|| pickup.replaces.clone())
    }

    /// A request for a local user with no device. An authenticated caller
    /// gets 404 for a name that does not exist and 480 for a user who is
    /// away (the user may be looked up first); anyone else gets 480 for
    /// both, so that unauthenticated requests cannot tell them apart. A
    /// MESSAGE to a user who exists is kept instead (offline messages,
    /// messages.rs): 202 to an authenticated caller, and to callers of
    /// other domains only when `from_other_domains` says so (a 202 only
    /// for users who exist would tell strangers the names).
    pub(super) fn no_device(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        authenticated: bool,
    ) {
        let keeps = self.keeps(incoming.request())
            && (authenticated || self.mailbox.keeps_from_other_domains());
        if !authenticated && !keeps {
            self.reply(now, ep, incoming, StatusCode::TEMPORARILY_UNAVAILABLE);
            return;
        }
        let unknown = if authenticated {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::TEMPORARILY_UNAVAILABLE
        };
        let Ok(aor) = Aor::from_uri(&incoming.request().uri()) else {
            self.reply(now, ep, incoming, unknown);
            return;
        };
        let status = match self.users.get(aor.user(), aor.domain()) {
            Known::Found(_) if keeps => {
                self.keep_message(now, ep, incoming, aor);
                return;
            }
            Known::Found(_) => StatusCode::TEMPORARILY_UNAVAILABLE,
            Known::Absent => unknown,
            Known::Unknown => {
                let (name, domain) = (aor.user().to_owned(), aor.domain().to_owned());
                self.park(
                    now,
                    name,
                    domain,
                    Waiting::NoDevice {
                        incoming: incoming.clone(),
                        authenticated,
                    },
                );
                return;
            }
        };
        self.reply(now, ep, incoming, status);
    }

    /// Authenticates a caller whose From domain is served here; others
    /// are [`Caller::Foreign`]. ACK never gets here; CANCEL neither.
    pub(super) fn caller(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        routed_to_us: bool,
    ) -> Caller {
        let request = incoming.request();
        let Some((from, realm)) = self.local_domain(request, HeaderName::From) else {
            return Caller::Foreign;
        };
        let from_user = Uri::parse(&from).ok().and_then(|u| Aor::from_uri(&u).ok());
        let ip = incoming.source().remote.ip();
        let checked = self.check_auth(now, request, &realm, ip, true, || Waiting::Relay {
            incoming: incoming.clone(),
            routed_to_us,
        });
        match checked {
            Checked::Parked => Caller::Handled,
            Checked::Done(AuthResult::Ok { identity, .. }) => {
                let owns = from_user.is_some_and(|a| {
                    Aor::new(&identity.user, &identity.realm).is_ok_and(|id| id == a)
                });
                if owns {
                    if request.method() == &Method::Invite && request.headers().to_tag().is_none() {
                        if let Some(call_id) = request.headers().call_id() {
                            let user = format!("{}@{}", identity.user, identity.realm);
                            self.records.authenticated(call_id, user);
                        }
                    }
                    Caller::Local
                } else {
                    tracing::debug!(user = %identity.user, %from, "authenticated user is not the From user: 403");
                    self.reply(now, ep, incoming, StatusCode::FORBIDDEN);
                    Caller::Handled
                }
            }
            Checked::Done(other) => {
                self.refuse(ep, incoming.tx(), request, &realm, true, &other);
                Caller::Handled
            }
        }
    }

    /// The URI of `header` (From, To) and the served domain it names, when
    /// it names one.
    pub(super) fn local_domain(
        &self,
        request: &Request,
        header: HeaderName,
    ) -> Option<(String, String)> {
        let uri = first_uri(request, header)?;
        let parsed = Uri::parse(&uri).ok()?;
        let host = parsed.as_sip()?.host.as_str();
        let host = host.strip_suffix('.').unwrap_or(host);
        let domain = self
            .registrar
            .config()
            .domains
            .iter()
            .find(|d| d.strip_suffix('.').unwrap_or(d).eq_ignore_ascii_case(host))?
            .clone();
        Some((uri, domain))
    }

    /// Remembers the dialog a forwarded dialog-creating request starts.
    pub(super) fn learn_dialog(&mut self, now: Now, incoming: &Incoming) {
        let request = incoming.request();
        if matches!(
            request.method(),
            Method::Invite | Method::Subscribe | Method::Refer
        ) {
            if let Some(call_id) = request.headers().call_id() {
                self.dialogs.learn(now.instant(), call_id);
            }
        }
    }

    /// Remembers where an authenticated caller's Contact is reached: where
    /// its request came from.
    pub(super) fn learn_caller(&mut self, now: Now, incoming: &Incoming) {
        if let Some(contact) = first_uri(incoming.request(), HeaderName::Contact) {
            if via_source(&contact, incoming.source()) {
                self.contacts
                    .learn(now.instant(), &contact, hop_of(incoming.source()));
            }
        }
    }

    pub(super) fn forward(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        mut incoming: Incoming,
        targets: TargetSet,
    ) {
        if incoming.request.method() == &Method::Invite
            && incoming.request.headers().to_tag().is_none()
        {
            if let Err(small) = self.session_policy.apply(&mut incoming.request) {
                let min_se = [(HeaderName::MinSe, small.min_se.to_string())];
                tracing::debug!(min_se = small.min_se, "session interval too small: 422");
                let status = StatusCode::SESSION_INTERVAL_TOO_SMALL;
                if let Err(e) = self
                    .proxy
                    .reply(now.instant(), ep, &incoming, status, &min_se)
                {
                    tracing::debug!(error = %e, "422 not sent");
                }
                return;
            }
        }
        if !self.anchor_request(now, ep, &mut incoming, &targets) {
            return; // the media relay is full: 503, no half call
        }
        self.consume_credentials(&mut incoming.request);
        let headers = incoming.request.headers();
        if let (Some(call_id), Some(from_tag), Some(to_tag), Some(cseq)) = (
            headers.call_id(),
            headers.from_tag(),
            headers.to_tag(),
            headers.cseq(),
        ) {
            // A hang-up by the operator numbers its BYEs above these.
            let call_id = self.proxy.caller_call_id(call_id);
            self.calls.saw_request(call_id, from_tag, to_tag, cseq.seq);
            let kept = self.dialog_request_seen(call_id, &cseq.method);
            if let Some(call_id) = kept {
                self.put_dialog(&call_id);
            }
        }
        let initial = (self.media.is_some()
            && incoming.request.method() == &Method::Invite
            && incoming.request.headers().to_tag().is_none())
        .then(|| incoming.request.headers().call_id().map(str::to_owned))
        .flatten();
        if let Err(e) = self.proxy.forward(now.instant(), ep, incoming, targets) {
            tracing::debug!(error = %e, "request not forwarded");
            // No call follows: its relay session (if any) goes now.
            if let Some(call_id) = initial {
                self.release_media(&call_id);
            }
        }
    }

    /// Removes the Proxy-Authorization values meant for this server's
    /// realms before a request goes on: a caller's digest response is
    /// ours to check, and in a carrier's or another domain's hands it
    /// could be attacked offline. Credentials for other realms stay (a
    /// proxy further on may want them).
    fn consume_credentials(&self, request: &mut Request) {
        let domains = &self.registrar.config().domains;
        let ours = |value: &str| {
            DigestCredentials::parse(value)
                .is_ok_and(|c| domains.iter().any(|d| d.eq_ignore_ascii_case(&c.realm)))
        };
        // Each value parsed once: this runs on every forwarded request.
        let (mine, keep): (Vec<&str>, Vec<&str>) = request
            .headers()
            .get_all(HeaderName::ProxyAuthorization)
            .partition(|v| ours(v));
        if mine.is_empty() {
            return;
        }
        let keep: Vec<String> = keep.into_iter().map(str::to_owned).collect();
        let headers = request.headers_mut();
        headers.remove_all(HeaderName::ProxyAuthorization);
        for value in keep {
            headers.push(HeaderName::ProxyAuthorization, value);
        }
    }

    pub(super) fn reply(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        status: StatusCode,
    ) {
        self.reply_with(now, ep, incoming, status, None, &[]);
    }

    /// Answers with a reason phrase of its own and extra header lines.
    pub(super) fn reply_with(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        status: StatusCode,
        reason: Option<&str>,
        headers: &[(HeaderName, String)],
    ) {
        let sent =
            self.proxy
                .reply_with_reason(now.instant(), ep, incoming, status, reason, headers);
        if let Err(e) = sent {
            tracing::debug!(error = %e, %status, "answer not sent");
        }
    }

    /// An ACK outside a transaction (for a 2xx): relayed along its route
    /// when this server record-routed it or knows its target, else dropped
    /// (an ACK is never answered, and never relayed for strangers).
    pub(super) fn on_ack(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        request: Request,
        source: Source,
    ) {
        let at = now.instant();
        let config = self.proxy.config();
        let mut routed_to_us = false;
        let mut remote_route = false;
        for (i, value) in request.headers().values(HeaderName::Route).enumerate() {
            let local = NameAddr::parse_value(value).is_ok_and(|a| config.is_local(&a.uri));
            if i == 0 {
                routed_to_us = local;
            }
            remote_route |= !local;
        }
        let known = self.contacts.find(at, request.uri_str());
        let call_id = request.headers().call_id().unwrap_or_default();
        let ours = routed_to_us
            && (self.dialogs.touch(at, call_id)
                || self.local_domain(&request, HeaderName::To).is_some());
        if !ours && known.is_none() {
            tracing::trace!("ACK not for a dialog of ours: dropped");
            return;
        }
        let hop = if remote_route { None } else { known };
        self.proxy.on_ack(at, ep, request, source, hop);
    }
}

/// The target of a binding reached from this node: down its flow or to
/// its source when `through_flow`, at its contact otherwise.
fn binding_target(b: &Binding, through_flow: bool) -> Target {
    let mut target = Target::from_binding(b);
    if !through_flow {
        target.next_hop = None;
    }
    target
}
