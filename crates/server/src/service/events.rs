//! The event server: this server is the notifier (RFC 6665) of local
//! users' `presence` (RFC 3856, with PUBLISH, RFC 3903), `dialog` (RFC
//! 4235) and `reg` (RFC 3680) events, and of resource lists (RFC 4662).
//! Its parts, one job a file:
//!
//! * events.rs (here): its state in the [`Service`], which SUBSCRIBE or
//!   PUBLISH it answers itself ([`Service::event_request`]), what both
//!   share (user lookup, Expires ranges, answers), and the store side: a
//!   subscription or publication is acknowledged only once
//!   [`Effect::Save`] made it durable ([`Service::on_saved`]), expiries,
//!   and the load after a restart, after which the subscriptions go on
//!   (no phone has to subscribe again).
//! * subscribe.rs: SUBSCRIBE, its refreshes and unsubscriptions (watcher
//!   authentication and policy, 406 for an Accept that excludes the
//!   NOTIFY documents).
//! * publish.rs: PUBLISH of a user's presence, by the user himself.
//! * notify.rs: the NOTIFYs: one in flight per subscription; changes
//!   meanwhile are coalesced into the next one. A NOTIFY answered 481
//!   (404, 410) ends the subscription; one that fails otherwise keeps it,
//!   and the next one carries the full state.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use switchboard_core::{Now, Source, TransactionId};
use switchboard_proto::header::Expires;
use switchboard_proto::{HeaderName, Method, Request, StatusCode};

use crate::events::{
    ALLOW_EVENTS, EndReason, EventsConfig, ExpiresRange, PRESENCE, Publications, Subscription,
    Subscriptions,
};
use crate::proxy::{Incoming, TransactionLayer};
use crate::registrar::Aor;
use crate::storage::{PublicationRecord, StateChange, StoredState};

use super::effect::STORE_RETRY_AFTER;
use super::users::Known;
use super::{
    Effect, EffectError, Service, StoreId, StoreUnavailable, Waiting, answer, answer_request,
};

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
pub(super) enum Saving {
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
pub(super) fn expires_of(request: &Request) -> Option<u32> {
    request
        .headers()
        .typed::<Expires>()
        .and_then(Result::ok)
        .map(Expires::get)
}

/// The event package a request names.
pub(super) fn package_of(request: &Request) -> Option<String> {
    request
        .headers()
        .typed::<switchboard_proto::header::Event<'_>>()
        .and_then(Result::ok)
        .map(|e| e.package_name().to_ascii_lowercase())
}

/// The SIP URI of an AOR, as records and documents name it.
pub(super) fn uri_of(aor: &Aor) -> String {
    format!("sip:{}", aor.as_str())
}

/// The AOR of the URI of header `name` (From, To) or of the
/// Request-URI (`None`).
pub(super) fn aor_of(request: &Request, name: Option<HeaderName>) -> Option<Aor> {
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
                    answer(
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

    /// 489 with what is served.
    pub(super) fn bad_event(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
    ) {
        let lines = [(HeaderName::AllowEvents, ALLOW_EVENTS.to_owned())];
        answer(now, ep, incoming, StatusCode::BAD_EVENT, None, &lines);
    }

    /// Whether the user of `aor` exists; `None` when they are not in
    /// memory: the request was parked (`park` builds what resumes it) until
    /// the store answers.
    pub(super) fn user_exists(
        &mut self,
        now: Now,
        aor: &Aor,
        park: impl FnOnce() -> Waiting,
    ) -> Option<bool> {
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
    pub(super) fn granted(
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
                answer(now, ep, incoming, status, None, &lines);
                None
            }
        }
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
    pub(super) fn save_background(&mut self, changes: Vec<StateChange>) {
        if changes.is_empty() {
            return;
        }
        self.save_events(changes, Saving::Background);
    }

    /// Submits `changes` to the store; `saving` says what their completion
    /// ([`Service::on_saved`]) finishes.
    pub(super) fn save_events(&mut self, changes: Vec<StateChange>, saving: Saving) {
        let id = StoreId(self.next_id());
        self.effects.push_back(Effect::Save { id, changes });
        self.events.saving.insert(id, saving);
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
        // 503 when the store is unreachable for now, 500 otherwise.
        let failed = result.as_ref().err().map(StoreUnavailable::status_of);
        if let Err(error) = &result {
            match &saving {
                Saving::Background => {
                    tracing::warn!(%error, "storing event state failed (swept at the next start)");
                }
                _ => tracing::error!(%error, ?failed, "storing event state failed"),
            }
        }
        match saving {
            Saving::Background => {}
            Saving::Subscribe { tx, request, .. }
            | Saving::Refresh { tx, request, .. }
            | Saving::Publish { tx, request, .. }
            | Saving::Unpublish { tx, request, .. }
                if failed.is_some() =>
            {
                let lines = [(HeaderName::RetryAfter, STORE_RETRY_AFTER.to_owned())];
                let status = failed.unwrap_or(StatusCode::SERVER_INTERNAL_ERROR);
                answer_request(now, ep, tx, &request, status, None, &lines);
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
                        let status = StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST;
                        answer_request(now, ep, tx, &request, status, None, &[]);
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
                answer_request(now, ep, tx, &request, StatusCode::OK, None, &lines);
                self.notify_resource(now, ep, PRESENCE, &aor);
            }
            Saving::Unpublish { tx, request, etag } => {
                let removed = self.events.publications.remove(&etag);
                let lines = [(HeaderName::Expires, "0".to_owned())];
                answer_request(now, ep, tx, &request, StatusCode::OK, None, &lines);
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
