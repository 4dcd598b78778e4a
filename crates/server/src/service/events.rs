//! SUBSCRIBE, PUBLISH and NOTIFY for local users' addresses: the server
//! is the notifier (RFC 6665) of `presence` (RFC 3856, with PUBLISH, RFC
//! 3903), `dialog` (RFC 4235) and `reg` (RFC 3680), and of resource lists
//! (RFC 4662).
//!
//! * A subscription or publication is acknowledged (200) only once
//!   [`Effect::Save`] made it durable; a SUBSCRIBE's first NOTIFY, with
//!   the full state, follows its 200.
//! * Watchers authenticate (407) as local users; watchers from other
//!   domains only when configured; the watch policy refuses with 403. A
//!   refresh from another address than the watcher's is challenged again.
//! * A SUBSCRIBE whose Accept excludes what the NOTIFYs carry gets 406.
//!   PUBLISH only by the user himself.
//! * NOTIFYs (notify.rs): one in flight per subscription; changes
//!   meanwhile are coalesced into the next one. A NOTIFY answered 481
//!   (404, 410) ends the subscription; one that fails otherwise keeps it,
//!   and the next one carries the full state.
//! * After a restart ([`Service::load_state`](super::Service::load_state))
//!   the subscriptions go on: no phone has to subscribe again.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use switchboard_core::{Now, Source, TransactionId};
use switchboard_proto::header::{Accept, ContentType, Expires, Supported};
use switchboard_proto::{HeaderName, Method, Request, StatusCode};

use crate::bodies;
use crate::events::{
    ALLOW_EVENTS, DIALOG, EndReason, EventsConfig, ExpiresRange, LimitError, PIDF, PRESENCE,
    Publications, Subscription, Subscriptions,
};
use crate::proxy::{Incoming, TransactionLayer};
use crate::registrar::Aor;
use crate::storage::{PublicationRecord, StateChange, StoredState, SubscriptionRecord};

use super::contacts::via_source;
use super::relay::Caller;
use super::users::Known;
use super::{Effect, EffectError, Service, StoreId, Waiting, send};

/// CSeq numbers and document versions move on by this much at a restart:
/// more than the NOTIFYs sent since the record was last stored.
const RESTART_MARGIN: u32 = 10_000;
/// After a restart every watcher gets the current state (bindings may have
/// expired meanwhile), this many at a time...
const RESYNC_BATCH: usize = 200;
/// ...this far apart, so that a large table is not one burst.
const RESYNC_PACE: Duration = Duration::from_millis(20);

/// The event server's state inside the [`Service`].
#[derive(Debug)]
pub(super) struct EventState {
    pub(super) config: EventsConfig,
    pub(super) subscriptions: Subscriptions,
    pub(super) publications: Publications,
    /// The lists each member (lower case) belongs to.
    pub(super) lists_of: HashMap<String, Vec<String>>,
    /// Submissions of the event state waiting for the store.
    saving: HashMap<StoreId, Saving>,
    /// Subscriptions loaded at start that still get their first NOTIFY.
    resync: VecDeque<String>,
    /// When the next batch of them goes out.
    next_resync: Option<Instant>,
}

impl EventState {
    pub(super) fn new(config: EventsConfig) -> Self {
        let mut lists_of: HashMap<String, Vec<String>> = HashMap::new();
        for list in &config.lists {
            for member in &list.members {
                lists_of
                    .entry(member.to_ascii_lowercase())
                    .or_default()
                    .push(list.uri.clone());
            }
        }
        Self {
            subscriptions: Subscriptions::new(config.max_per_user, config.max_total),
            publications: Publications::default(),
            lists_of,
            config,
            saving: HashMap::new(),
            resync: VecDeque::new(),
            next_resync: None,
        }
    }

    /// Whether `id` is a submission of the event state.
    pub(super) fn is_saving(&self, id: StoreId) -> bool {
        self.saving.contains_key(&id)
    }

    /// How many requests wait for the store (load).
    pub(super) fn waiting(&self) -> usize {
        self.saving.len()
    }

    /// The next expiry of a subscription or publication (Unix seconds).
    fn next_expiry(&self) -> Option<u64> {
        [
            self.subscriptions.next_expiry(),
            self.publications.next_expiry(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The subscriptions (for listings and tests).
    pub(super) fn subscriptions(&self) -> &Subscriptions {
        &self.subscriptions
    }
}

/// What a submission of the event state completes.
#[derive(Debug)]
enum Saving {
    /// A new subscription: the 200, then the first NOTIFY.
    Subscribe {
        tx: TransactionId,
        request: Request,
        sub: Box<Subscription>,
    },
    /// A refresh of subscription `id` until `expires_unix`.
    Refresh {
        tx: TransactionId,
        request: Request,
        id: String,
        expires_unix: u64,
    },
    /// A publication created, refreshed or modified (replacing those of
    /// `old`).
    Publish {
        tx: TransactionId,
        request: Request,
        record: Box<PublicationRecord>,
        old: Vec<String>,
    },
    /// A publication removed.
    Unpublish {
        tx: TransactionId,
        request: Request,
        etag: String,
    },
    /// Nobody waits (removals, restart clean-up).
    Background,
}

/// The value of a header as a number.
fn expires_of(request: &Request) -> Option<u32> {
    request
        .headers()
        .typed::<Expires>()
        .and_then(Result::ok)
        .map(Expires::get)
}

/// The event package a request names.
fn package_of(request: &Request) -> Option<String> {
    request
        .headers()
        .typed::<switchboard_proto::header::Event<'_>>()
        .and_then(Result::ok)
        .map(|e| e.package_name().to_ascii_lowercase())
}

/// The media types a SUBSCRIBE for `event` must accept: the package's
/// document, or for a list the RLMI multipart (RFC 4662 §5.2; the members'
/// documents inside need not be named, some phones list only these).
fn required_types(event: &str, list: bool) -> Vec<(&'static str, &'static str)> {
    if list {
        return vec![("multipart", "related"), ("application", "rlmi+xml")];
    }
    match event {
        PRESENCE => vec![("application", "pidf+xml")],
        DIALOG => vec![("application", "dialog-info+xml")],
        _ => vec![("application", "reginfo+xml")],
    }
}

/// The Accept value of a 406: what the NOTIFYs of `event` carry.
fn document_types(event: &str, list: bool) -> String {
    required_types(event, list)
        .iter()
        .map(|(main, sub)| format!("{main}/{sub}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a SUBSCRIBE accepts the bodies its NOTIFYs would carry (RFC
/// 6665 §3.1.1, §4.1.3): no Accept means the package's default;
/// otherwise every required type must be covered (wildcards count, `q=0`
/// refuses).
fn accepts_notify_bodies(request: &Request, event: &str, list: bool) -> bool {
    let ranges: Vec<Accept<'_>> = request
        .headers()
        .typed_all::<Accept<'_>>()
        .filter_map(Result::ok)
        .collect();
    if ranges.is_empty() && !Accept::nothing_acceptable(request.headers()) {
        return true;
    }
    required_types(event, list).iter().all(|(main, sub)| {
        ranges
            .iter()
            .any(|range| range.matches(main, sub) && range.q() > 0)
    })
}

/// The SIP URI of an AOR, as records and documents name it.
pub(super) fn uri_of(aor: &Aor) -> String {
    format!("sip:{}", aor.as_str())
}

/// The AOR of the URI of header `name` (From, To) or of the
/// Request-URI (`None`).
fn aor_of(request: &Request, name: Option<HeaderName>) -> Option<Aor> {
    match name {
        None => Aor::from_uri(&request.uri()).ok(),
        Some(name) => {
            let value = request.headers().get(name)?;
            let addr = switchboard_proto::header::NameAddr::parse_value(value).ok()?;
            Aor::from_uri(&addr.uri).ok()
        }
    }
}

impl Service {
    /// SUBSCRIBE and PUBLISH this server answers itself: out of dialog
    /// for a local user or list, in dialog for a subscription it holds.
    /// Anything else is given back for the relay.
    pub(super) fn event_request(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) -> Option<Incoming> {
        let request = incoming.request();
        let method = request.method().clone();
        if !matches!(method, Method::Subscribe | Method::Publish) {
            return Some(incoming);
        }
        let has_user = request.uri().as_sip().is_some_and(|s| s.user.is_some());
        let h = request.headers();
        if let Some(to_tag) = h.to_tag() {
            if method == Method::Subscribe {
                let call_id = h.call_id().unwrap_or_default();
                let from_tag = h.from_tag().unwrap_or_default();
                let found = self
                    .events
                    .subscriptions
                    .find_dialog(call_id, to_tag, from_tag)
                    .map(str::to_owned);
                if let Some(id) = found {
                    self.resubscribe(now, ep, &incoming, &id, routed_to_us);
                    return None;
                }
                if incoming.is_for_us() && !has_user {
                    // Addressed to this server's own Contact: a dialog it
                    // no longer holds. The watcher subscribes anew.
                    self.answer_event(
                        now,
                        ep,
                        &incoming,
                        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                        None,
                        &[],
                    );
                    return None;
                }
            }
            return Some(incoming);
        }
        if !incoming.is_for_us() || !has_user {
            return Some(incoming);
        }
        match method {
            Method::Subscribe => self.subscribe(now, ep, incoming, routed_to_us),
            _ => self.publish(now, ep, incoming, routed_to_us),
        }
        None
    }

    /// Answers a request the event server handles, with a fresh To tag
    /// (and `reason` instead of the status's usual phrase).
    fn answer_event(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        status: StatusCode,
        reason: Option<&str>,
        lines: &[(HeaderName, String)],
    ) {
        let tag = ep.new_tag();
        let response = crate::util::response(incoming.request(), status, reason, &tag, lines);
        send(ep, now, incoming.tx(), response);
    }

    /// 489 with what is served.
    fn bad_event(&mut self, now: Now, ep: &mut impl TransactionLayer, incoming: &Incoming) {
        let lines = [(HeaderName::AllowEvents, ALLOW_EVENTS.to_owned())];
        self.answer_event(now, ep, incoming, StatusCode::BAD_EVENT, None, &lines);
    }

    /// Whether the user of `aor` exists; `None` when they are not in
    /// memory: the request was parked (`park` builds what resumes it) until
    /// the store answers.
    fn user_exists(&mut self, now: Now, aor: &Aor, park: impl FnOnce() -> Waiting) -> Option<bool> {
        match self.users.get(aor.user(), aor.domain()) {
            Known::Found(_) => Some(true),
            Known::Absent => Some(false),
            Known::Unknown => {
                let (name, domain) = (aor.user().to_owned(), aor.domain().to_owned());
                self.park(now, name, domain, park());
                None
            }
        }
    }

    /// The Expires `range` grants the request (0: an unsubscribe, a fetch
    /// or a removal); `None` when it was answered: 423 with Min-Expires
    /// below the minimum, 489 for a package without a range.
    fn granted(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        range: Option<ExpiresRange>,
    ) -> Option<u32> {
        let Some(range) = range else {
            self.bad_event(now, ep, incoming);
            return None;
        };
        match range.grant(expires_of(incoming.request())) {
            Ok(granted) => Some(granted),
            Err(min) => {
                let lines = [(HeaderName::MinExpires, min.to_string())];
                let status = StatusCode::INTERVAL_TOO_BRIEF;
                self.answer_event(now, ep, incoming, status, None, &lines);
                None
            }
        }
    }

    // ----- SUBSCRIBE -----

    /// An out-of-dialog SUBSCRIBE for a local user or a resource list.
    fn subscribe(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) {
        let request = incoming.request();
        let Some(event) = package_of(request).filter(|p| self.events.config.range_of(p).is_some())
        else {
            self.bad_event(now, ep, &incoming);
            return;
        };
        let Some(resource) = aor_of(request, None) else {
            self.answer_event(now, ep, &incoming, StatusCode::NOT_FOUND, None, &[]);
            return;
        };
        let list = self.events.config.list(&uri_of(&resource)).cloned();
        if !accepts_notify_bodies(request, &event, list.is_some()) {
            let lines = [(HeaderName::Accept, document_types(&event, list.is_some()))];
            let status = StatusCode::NOT_ACCEPTABLE;
            self.answer_event(now, ep, &incoming, status, None, &lines);
            return;
        }
        // Looked up before the challenge, so that whether a user exists
        // is told only to an authenticated watcher.
        let exists = if list.is_some() {
            true
        } else {
            let exists = self.user_exists(now, &resource, || Waiting::Relay {
                incoming: incoming.clone(),
                routed_to_us,
            });
            match exists {
                Some(e) => e,
                None => return,
            }
        };
        let watcher = match self.caller(now, ep, &incoming, routed_to_us) {
            Caller::Handled => return,
            Caller::Foreign if !self.events.config.foreign_watchers => {
                tracing::debug!(%resource, "watcher from another domain refused");
                self.answer_event(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
                return;
            }
            Caller::Local | Caller::Foreign => {
                match aor_of(incoming.request(), Some(HeaderName::From)) {
                    Some(w) => w,
                    None => {
                        self.answer_event(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]);
                        return;
                    }
                }
            }
        };
        let allowed = match &list {
            Some(l) => Aor::parse(&l.owner).is_ok_and(|o| o == watcher),
            None => self
                .events
                .config
                .policy
                .allows(&uri_of(&watcher), &uri_of(&resource)),
        };
        if !exists {
            self.answer_event(now, ep, &incoming, StatusCode::NOT_FOUND, None, &[]);
            return;
        }
        if !allowed {
            tracing::debug!(%watcher, %resource, "watcher refused by the policy");
            self.answer_event(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
            return;
        }
        if list.is_some() {
            let eventlist = incoming
                .request()
                .headers()
                .typed_all::<Supported<'_>>()
                .filter_map(Result::ok)
                .any(|s| s.as_str().eq_ignore_ascii_case("eventlist"));
            if !eventlist {
                let lines = [(HeaderName::Require, "eventlist".to_owned())];
                self.answer_event(
                    now,
                    ep,
                    &incoming,
                    StatusCode::EXTENSION_REQUIRED,
                    None,
                    &lines,
                );
                return;
            }
        }
        let range = self.events.config.range_of(&event);
        let Some(granted) = self.granted(now, ep, &incoming, range) else {
            return;
        };
        if granted > 0 {
            match self.events.subscriptions.check_limit(&uri_of(&watcher)) {
                Ok(()) => {}
                Err(LimitError::Total(n)) => {
                    tracing::warn!(subscriptions = n, "subscription limit reached: 503");
                    let lines = [(HeaderName::RetryAfter, "60".to_owned())];
                    self.answer_event(
                        now,
                        ep,
                        &incoming,
                        StatusCode::SERVICE_UNAVAILABLE,
                        None,
                        &lines,
                    );
                    return;
                }
                Err(e) => {
                    tracing::debug!(%watcher, error = %e, "subscription limit of the watcher: 403");
                    let reason = Some("Too Many Subscriptions");
                    self.answer_event(now, ep, &incoming, StatusCode::FORBIDDEN, reason, &[]);
                    return;
                }
            }
        }
        let Some(sub) = self.new_subscription(
            now,
            ep,
            &incoming,
            event,
            &uri_of(&resource),
            &uri_of(&watcher),
            list.is_some(),
            granted,
        ) else {
            self.answer_event(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]);
            return;
        };
        if granted == 0 {
            // A fetch (RFC 6665 §4.4.3): the state once, nothing kept.
            let mut sub = sub;
            self.ok_subscribe(now, ep, incoming.tx(), incoming.request(), &sub, 0);
            self.transmit(now, ep, &mut sub, Some(EndReason::Timeout), None);
            return;
        }
        let id = StoreId(self.next_id());
        self.effects.push_back(Effect::Save {
            id,
            changes: vec![StateChange::PutSubscription(sub.record().clone())],
        });
        self.events.saving.insert(
            id,
            Saving::Subscribe {
                tx: incoming.tx(),
                request: incoming.request().clone(),
                sub: Box::new(sub),
            },
        );
    }

    /// The subscription a SUBSCRIBE asks for (`None`: no From tag or
    /// Contact to build a dialog from).
    #[allow(clippy::too_many_arguments)]
    fn new_subscription(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        event: String,
        resource: &str,
        watcher: &str,
        list: bool,
        granted: u32,
    ) -> Option<Subscription> {
        let request = incoming.request();
        let source = incoming.source();
        let h = request.headers();
        let remote_tag = h.from_tag()?.to_owned();
        let contact = h.get(HeaderName::Contact)?;
        let remote_target = switchboard_proto::header::NameAddr::parse_value(contact)
            .ok()?
            .uri
            .to_string();
        let route_set: Vec<String> = h
            .values(HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        let nat = route_set.is_empty() && via_source(&remote_target, source);
        let local_tag = ep.new_tag();
        let record = SubscriptionRecord {
            id: local_tag.clone(),
            event,
            resource: resource.to_owned(),
            watcher: watcher.to_owned(),
            call_id: h.call_id()?.to_owned(),
            local_tag,
            remote_tag,
            remote_target,
            route_set,
            local_cseq: 0,
            source: nat.then_some((source.transport, source.remote)),
            list,
            active: true,
            expires_unix: now.unix() + u64::from(granted),
            version: 0,
        };
        let contact = self.local_contact(source);
        let mut sub = Subscription::new(record, contact, if nat { source.flow } else { None });
        sub.set_origin(source.remote.ip());
        Some(sub)
    }

    /// The server's Contact for a dialog with a peer that reached `source`.
    fn local_contact(&self, source: &Source) -> String {
        let transport = source.transport;
        let listener = self.proxy.config().listener(transport, Some(source.local));
        let (host, port) = match listener {
            Some(l) => (l.host_text(), l.addr.port()),
            None => (source.local.ip().to_string(), source.local.port()),
        };
        let param = match transport {
            switchboard_core::Transport::Udp => String::new(),
            t => format!(";transport={}", t.as_via_token().to_ascii_lowercase()),
        };
        format!("<sip:{host}:{port}{param}>")
    }

    /// The 200 to a SUBSCRIBE: the dialog's To tag, Expires, Contact.
    fn ok_subscribe(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        request: &Request,
        sub: &Subscription,
        expires: u64,
    ) {
        let lines = [
            (HeaderName::Expires, expires.to_string()),
            (HeaderName::Contact, sub.local_contact().to_owned()),
        ];
        let response = crate::util::response(request, StatusCode::OK, None, sub.id(), &lines);
        send(ep, now, tx, response);
    }

    /// A SUBSCRIBE inside a subscription dialog: a refresh, or Expires: 0
    /// ending it.
    fn resubscribe(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        id: &str,
        routed_to_us: bool,
    ) {
        let request = incoming.request();
        let Some(sub) = self.events.subscriptions.get(id) else {
            return;
        };
        if package_of(request).as_deref() != Some(sub.event()) {
            self.bad_event(now, ep, incoming);
            return;
        }
        let range = self.events.config.range_of(sub.event());
        let known = sub.origin() == Some(incoming.source().remote.ip());
        if !known && !self.watcher_proven(now, ep, incoming, id, routed_to_us) {
            return;
        }
        let Some(granted) = self.granted(now, ep, incoming, range) else {
            return;
        };
        let flow = incoming.source().flow;
        if let Some(sub) = self.events.subscriptions.get_mut(id) {
            sub.set_flow(flow);
        }
        if granted == 0 {
            // Unsubscribed: the 200 promises nothing durable; the final
            // NOTIFY, then the record goes.
            if let Some(sub) = self.events.subscriptions.get(id) {
                let sub = sub.clone();
                self.ok_subscribe(now, ep, incoming.tx(), request, &sub, 0);
            }
            self.end_subscription(now, ep, id, Some(EndReason::Timeout));
            return;
        }
        let expires_unix = now.unix() + u64::from(granted);
        let Some(mut record) = self
            .events
            .subscriptions
            .get(id)
            .map(|s| s.record().clone())
        else {
            return;
        };
        record.expires_unix = expires_unix;
        let store_id = StoreId(self.next_id());
        self.effects.push_back(Effect::Save {
            id: store_id,
            changes: vec![StateChange::PutSubscription(record)],
        });
        self.events.saving.insert(
            store_id,
            Saving::Refresh {
                tx: incoming.tx(),
                request: request.clone(),
                id: id.to_owned(),
                expires_unix,
            },
        );
    }

    /// A request in subscription `id`'s dialog from an address its watcher
    /// did not authenticate from: challenged like the first SUBSCRIBE (the
    /// dialog's Call-ID and tags alone prove nothing). Whether it may go
    /// on; otherwise it was answered (407, 403) or parked.
    fn watcher_proven(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        id: &str,
        routed_to_us: bool,
    ) -> bool {
        let caller = self.caller(now, ep, incoming, routed_to_us);
        let allowed = match caller {
            Caller::Handled => return false,
            Caller::Local => true,
            Caller::Foreign => self.events.config.foreign_watchers,
        };
        let from = aor_of(incoming.request(), Some(HeaderName::From)).map(|a| uri_of(&a));
        let own = self
            .events
            .subscriptions
            .get(id)
            .is_some_and(|sub| from.is_some_and(|f| f.eq_ignore_ascii_case(sub.watcher())));
        if !(allowed && own) {
            tracing::debug!(id, "refresh by someone else than the watcher: 403");
            self.answer_event(now, ep, incoming, StatusCode::FORBIDDEN, None, &[]);
            return false;
        }
        if let Some(sub) = self.events.subscriptions.get_mut(id) {
            sub.set_origin(incoming.source().remote.ip());
        }
        true
    }

    /// Ends subscription `id`: the final NOTIFY (with `reason`, none when
    /// the watcher is gone), and its removal from the store.
    pub(super) fn end_subscription(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: &str,
        reason: Option<EndReason>,
    ) {
        let Some(mut sub) = self.events.subscriptions.remove(id) else {
            return;
        };
        if reason.is_some() {
            self.transmit(now, ep, &mut sub, reason, None);
        }
        self.save_background(vec![StateChange::RemoveSubscription { id: id.to_owned() }]);
    }

    /// Submits `changes` nobody waits for.
    fn save_background(&mut self, changes: Vec<StateChange>) {
        if changes.is_empty() {
            return;
        }
        let id = StoreId(self.next_id());
        self.effects.push_back(Effect::Save { id, changes });
        self.events.saving.insert(id, Saving::Background);
    }

    // ----- PUBLISH -----

    /// A PUBLISH of a local user's presence (RFC 3903).
    fn publish(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) {
        let request = incoming.request();
        if package_of(request).as_deref() != Some(PRESENCE) {
            let lines = [(HeaderName::AllowEvents, PRESENCE.to_owned())];
            self.answer_event(now, ep, &incoming, StatusCode::BAD_EVENT, None, &lines);
            return;
        }
        let Some(aor) = aor_of(request, None) else {
            self.answer_event(now, ep, &incoming, StatusCode::NOT_FOUND, None, &[]);
            return;
        };
        match self.caller(now, ep, &incoming, routed_to_us) {
            Caller::Handled => return,
            Caller::Foreign => {
                self.answer_event(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
                return;
            }
            Caller::Local => {}
        }
        let request = incoming.request();
        // The caller proved to be the From user; only he publishes for
        // himself.
        if aor_of(request, Some(HeaderName::From)).as_ref() != Some(&aor) {
            tracing::debug!(%aor, "PUBLISH for someone else: 403");
            self.answer_event(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
            return;
        }
        let range = Some(self.events.config.publish);
        let Some(granted) = self.granted(now, ep, &incoming, range) else {
            return;
        };
        let request = incoming.request();
        let if_match = request.headers().get(HeaderName::SipIfMatch).map(str::trim);
        let old = match if_match {
            Some(etag) => {
                let found = self
                    .events
                    .publications
                    .get(etag)
                    .filter(|r| r.event == PRESENCE && Aor::parse(&r.aor).is_ok_and(|a| a == aor))
                    .cloned();
                match found {
                    Some(r) => Some(r),
                    None => {
                        tracing::debug!(%aor, etag, "PUBLISH for an unknown entity tag: 412");
                        self.answer_event(
                            now,
                            ep,
                            &incoming,
                            StatusCode::CONDITIONAL_REQUEST_FAILED,
                            None,
                            &[],
                        );
                        return;
                    }
                }
            }
            None => None,
        };
        let has_body = !request.body().is_empty();
        if granted == 0 {
            match old {
                Some(old) => {
                    let id = StoreId(self.next_id());
                    self.effects.push_back(Effect::Save {
                        id,
                        changes: vec![StateChange::RemovePublication {
                            etag: old.etag.clone(),
                        }],
                    });
                    self.events.saving.insert(
                        id,
                        Saving::Unpublish {
                            tx: incoming.tx(),
                            request: request.clone(),
                            etag: old.etag,
                        },
                    );
                }
                None => self.answer_event(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]),
            }
            return;
        }
        let (content_type, body) = if has_body {
            match self.published_body(request) {
                Ok(b) => b,
                Err(status) => {
                    let lines = [(HeaderName::Accept, PIDF.to_owned())];
                    let lines = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                        &lines[..]
                    } else {
                        &[]
                    };
                    self.answer_event(now, ep, &incoming, status, None, lines);
                    return;
                }
            }
        } else {
            match &old {
                // A refresh: the document stays.
                Some(o) => (o.content_type.clone(), o.body.clone()),
                None => {
                    self.answer_event(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]);
                    return;
                }
            }
        };
        // A device publishing anew without its entity tag (it restarted,
        // or lost the tag) replaces its own earlier publication: the same
        // tuples. Otherwise the old one would show until it expires.
        let old: Vec<String> = match old {
            Some(o) => vec![o.etag],
            None => self.superseded(&uri_of(&aor), &body),
        };
        if old.is_empty()
            && self.events.publications.count_of(&uri_of(&aor), PRESENCE)
                >= self.events.config.max_publications_per_user
        {
            tracing::debug!(%aor, "too many publications: 403");
            self.answer_event(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
            return;
        }
        // A new entity tag at every change (RFC 3903 §6).
        let record = PublicationRecord {
            etag: ep.new_tag(),
            aor: uri_of(&aor),
            event: PRESENCE.to_owned(),
            content_type,
            body,
            expires_unix: now.unix() + u64::from(granted),
        };
        let mut changes: Vec<StateChange> = old
            .iter()
            .map(|etag| StateChange::RemovePublication { etag: etag.clone() })
            .collect();
        changes.push(StateChange::PutPublication(record.clone()));
        let id = StoreId(self.next_id());
        self.effects.push_back(Effect::Save { id, changes });
        self.events.saving.insert(
            id,
            Saving::Publish {
                tx: incoming.tx(),
                request: request.clone(),
                record: Box::new(record),
                old,
            },
        );
    }

    /// The entity tags of `uri`'s publications whose tuples all reappear
    /// in the new document `body`.
    fn superseded(&self, uri: &str, body: &str) -> Vec<String> {
        let tuples = |text: &str| -> Vec<String> {
            bodies::parse_pidf(text)
                .map(|doc| {
                    doc.elements()
                        .filter(|e| e.kind() == bodies::ElementKind::Tuple)
                        .filter_map(|e| e.id().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let new = tuples(body);
        self.events
            .publications
            .of(uri, PRESENCE)
            .into_iter()
            .filter(|p| {
                let ids = tuples(&p.body);
                !ids.is_empty() && ids.iter().all(|id| new.contains(id))
            })
            .map(|p| p.etag.clone())
            .collect()
    }

    /// The content type and document of a PUBLISH, checked: 415 for
    /// another type, 400 for a document that is not one.
    fn published_body(&self, request: &Request) -> Result<(String, String), StatusCode> {
        let content_type = request
            .headers()
            .typed::<ContentType<'_>>()
            .and_then(Result::ok)
            .filter(|c| c.is("application", "pidf+xml"))
            .ok_or(StatusCode::UNSUPPORTED_MEDIA_TYPE)?;
        let _ = content_type;
        let text = std::str::from_utf8(request.body()).map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Err(error) = bodies::parse_pidf(text) {
            tracing::debug!(%error, "PUBLISH with a bad document");
            return Err(error.status());
        }
        Ok((PIDF.to_owned(), text.to_owned()))
    }

    // ----- the store -----

    /// A submission of the event state finished.
    pub(super) fn on_saved(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: StoreId,
        result: Result<(), EffectError>,
    ) {
        let Some(saving) = self.events.saving.remove(&id) else {
            return;
        };
        if let Err(error) = &result {
            match &saving {
                Saving::Background => {
                    tracing::warn!(%error, "storing event state failed (swept at the next start)");
                }
                _ => tracing::error!(%error, "storing event state failed: answering 500"),
            }
        }
        let failed = result.is_err();
        match saving {
            Saving::Background => {}
            Saving::Subscribe { tx, request, .. }
            | Saving::Refresh { tx, request, .. }
            | Saving::Publish { tx, request, .. }
            | Saving::Unpublish { tx, request, .. }
                if failed =>
            {
                let tag = ep.new_tag();
                let answer = crate::util::response(
                    &request,
                    StatusCode::SERVER_INTERNAL_ERROR,
                    None,
                    &tag,
                    &[(HeaderName::RetryAfter, "5".to_owned())],
                );
                send(ep, now, tx, answer);
            }
            Saving::Subscribe { tx, request, sub } => {
                let id = sub.id().to_owned();
                let expires = sub.remaining(now.unix());
                self.ok_subscribe(now, ep, tx, &request, &sub, expires);
                self.events.subscriptions.insert(*sub);
                self.notify_one(now, ep, &id, None, None);
            }
            Saving::Refresh {
                tx,
                request,
                id,
                expires_unix,
            } => {
                self.events.subscriptions.set_expires(&id, expires_unix);
                // A refresh gets the full state (RFC 6665 §4.2.2).
                if let Some(sub) = self.events.subscriptions.get_mut(&id) {
                    sub.want_full();
                }
                let sub = self.events.subscriptions.get(&id).cloned();
                match sub {
                    Some(sub) => {
                        let expires = sub.remaining(now.unix());
                        self.ok_subscribe(now, ep, tx, &request, &sub, expires);
                        self.notify_one(now, ep, &id, None, None);
                    }
                    None => {
                        // Ended meanwhile (expired, 481).
                        let tag = ep.new_tag();
                        let answer = crate::util::response(
                            &request,
                            StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                            None,
                            &tag,
                            &[],
                        );
                        send(ep, now, tx, answer);
                        self.save_background(vec![StateChange::RemoveSubscription { id }]);
                    }
                }
            }
            Saving::Publish {
                tx,
                request,
                record,
                old,
            } => {
                for etag in old {
                    self.events.publications.remove(&etag);
                }
                let lines = [
                    (HeaderName::SipETag, record.etag.clone()),
                    (
                        HeaderName::Expires,
                        record.expires_unix.saturating_sub(now.unix()).to_string(),
                    ),
                ];
                let aor = record.aor.clone();
                self.events.publications.put(*record);
                let tag = ep.new_tag();
                let answer = crate::util::response(&request, StatusCode::OK, None, &tag, &lines);
                send(ep, now, tx, answer);
                self.notify_resource(now, ep, PRESENCE, &aor);
            }
            Saving::Unpublish { tx, request, etag } => {
                let removed = self.events.publications.remove(&etag);
                let tag = ep.new_tag();
                let lines = [(HeaderName::Expires, "0".to_owned())];
                let answer = crate::util::response(&request, StatusCode::OK, None, &tag, &lines);
                send(ep, now, tx, answer);
                if let Some(r) = removed {
                    self.notify_resource(now, ep, PRESENCE, &r.aor);
                }
            }
        }
    }

    // ----- time, start, shutdown -----

    /// When the next subscription or publication expires.
    pub(super) fn events_deadline(&self, now: Now) -> Option<Instant> {
        let expiry = self.events.next_expiry().map(|u| now.instant_at_unix(u));
        [expiry, self.events.next_resync]
            .into_iter()
            .flatten()
            .min()
    }

    /// Ends the expired subscriptions (NOTIFY with `terminated;
    /// reason=timeout`) and publications (their user's watchers learn it).
    pub(super) fn events_timeout(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        if self
            .events
            .next_resync
            .is_some_and(|at| at <= now.instant())
        {
            let batch = RESYNC_BATCH.min(self.events.resync.len());
            let ids: Vec<String> = self.events.resync.drain(..batch).collect();
            for id in ids {
                self.notify_one(now, ep, &id, None, None);
            }
            self.events.next_resync =
                (!self.events.resync.is_empty()).then(|| now.instant() + RESYNC_PACE);
        }
        let unix = now.unix();
        for id in self.events.subscriptions.expired(unix) {
            tracing::debug!(id, "subscription expired");
            self.end_subscription(now, ep, &id, Some(EndReason::Timeout));
        }
        let expired = self.events.publications.take_expired(unix);
        if expired.is_empty() {
            return;
        }
        let changes = expired
            .iter()
            .map(|r| StateChange::RemovePublication {
                etag: r.etag.clone(),
            })
            .collect();
        self.save_background(changes);
        let mut aors: Vec<String> = expired.into_iter().map(|r| r.aor).collect();
        aors.sort_unstable();
        aors.dedup();
        for aor in aors {
            self.notify_resource(now, ep, PRESENCE, &aor);
        }
    }

    /// Takes the stored subscriptions and publications back (at start):
    /// expired ones dropped (and removed from the store), CSeq numbers and
    /// versions moved on; every watcher gets the current state soon after
    /// (paced).
    pub(super) fn load_events(&mut self, state: &StoredState) {
        let unix = self.clock.unix();
        let mut stale = Vec::new();
        for record in &state.subscriptions {
            // A package or list no longer served ends too.
            let range = self.events.config.range_of(&record.event);
            let served = !record.list || self.events.config.list(&record.resource).is_some();
            let Some(range) = range.filter(|_| served && record.expires_unix > unix) else {
                stale.push(StateChange::RemoveSubscription {
                    id: record.id.clone(),
                });
                continue;
            };
            let transport = record
                .source
                .map_or(switchboard_core::Transport::Udp, |(t, _)| t);
            let local = self
                .proxy
                .config()
                .listener(transport, None)
                .map(|l| l.addr);
            let contact = match local {
                Some(addr) => self.local_contact(&Source {
                    transport,
                    remote: addr,
                    local: addr,
                    flow: None,
                }),
                None => String::new(),
            };
            let mut record = record.clone();
            // Never further away than the longest grant (a damaged record).
            record.expires_unix = record.expires_unix.min(unix + u64::from(range.max));
            let mut sub = Subscription::new(record, contact, None);
            sub.bump(RESTART_MARGIN);
            self.events.resync.push_back(sub.id().to_owned());
            self.events.subscriptions.insert(sub);
        }
        for record in &state.publications {
            if record.expires_unix <= unix {
                stale.push(StateChange::RemovePublication {
                    etag: record.etag.clone(),
                });
                continue;
            }
            let mut record = record.clone();
            let longest = unix + u64::from(self.events.config.publish.max);
            record.expires_unix = record.expires_unix.min(longest);
            self.events.publications.put(record);
        }
        if !self.events.resync.is_empty() {
            self.events.next_resync = Some(self.clock.instant());
        }
        tracing::info!(
            subscriptions = self.events.subscriptions.len(),
            publications = self.events.publications.len(),
            dropped = stale.len(),
            "event state loaded"
        );
        self.save_background(stale);
    }

    /// At shutdown: every watcher gets `terminated;reason=deactivated`
    /// when so configured; otherwise the subscriptions stay (durable).
    pub(super) fn shutdown_events(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        if !self.events.config.terminate_on_shutdown {
            return;
        }
        for id in self.events.subscriptions.ids() {
            self.end_subscription(now, ep, &id, Some(EndReason::Deactivated));
        }
    }
}
