//! The whole SIP server as one sans-IO machine: admission and protection,
//! digest authentication, the registrar, the proxy with its relay rules,
//! the NAT next hops of known devices and the dialogs it let through.
//!
//! [`Service`] is the transaction user of an endpoint and follows the
//! project's contract (see ARCHITECTURE.md):
//!
//! * inputs, each with the current time ([`Now`]: the monotonic instant and
//!   the wall clock, read together): [`Service::handle_event`] for what the
//!   endpoint reports, [`Service::handle_completion`] for the outcome of an
//!   effect, [`Service::handle_timeout`] once [`Service::poll_timeout`] has
//!   passed;
//! * outputs: what it sends goes through the transaction layer it is given
//!   (`&mut impl TransactionLayer`, the [`Endpoint`](switchboard_core::Endpoint));
//!   what the runtime must do for it (store bindings, look a user up,
//!   check for changed users, resolve a name) comes out of
//!   [`Service::poll_effect`] as an [`Effect`], and the result goes back
//!   in as a [`Completion`];
//! * after every input, drain `poll_effect` until `None`, then read
//!   `poll_timeout`.
//!
//! Nothing here blocks: a request that needs a user who is not in memory
//! waits (parked) for [`Effect::LookupUser`]; a REGISTER's 200 OK waits for
//! [`Effect::Store`], a SUBSCRIBE's or PUBLISH's for [`Effect::Save`]
//! (nothing acknowledged is lost). The server is the notifier of local
//! users' `presence`, `dialog` (from the calls it routes) and `reg`
//! events; [`Service::load_state`] takes the subscriptions back after a
//! restart.
//!
//! ```text
//! Event::Request ─► admission (rate, overload) ─┬─ REGISTER ─► auth (401) ─► registrar ─► Effect::Store ─► 200
//!                                               └─ other ─────► proxy §16 checks ─┬─ SUBSCRIBE/PUBLISH for a local user (events.rs, subscribe.rs, publish.rs):
//!                                                                                 │    auth (407), policy (403) ─► Effect::Save ─► 200, NOTIFY
//!                                                                                 └─ relay rules (407/403/404/480)
//!                                                                                      ─► location / NAT hops ─► Proxy::forward
//! ```

mod cluster;
mod config;
mod contacts;
mod deadlines;
mod dialog_records;
mod dialogs;
mod effect;
mod events;
mod late_offer;
mod live;
mod mailbox;
mod media;
mod media_restored;
mod media_stats;
mod messages;
mod notify;
mod operator;
mod publish;
mod register;
mod relay;
mod route;
mod subscribe;
mod transfer;
mod users;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use switchboard_core::{Event, Now, Source, TransactionId, shrink_after_peak};
use switchboard_proto::{HeaderName, Request, Response, StatusCode};
use switchboard_routing::Plan;

use crate::auth::{AuthResult, AuthSecret, Authenticator, Offered};
use crate::bodies::RegEvent;
use crate::call_timers::CallTimers;
use crate::calls::CallBook;
use crate::cdr::{CallRecords, unix_ms};
use crate::metrics::{Counters, Gauges, ServiceMetrics};
use crate::protect::{
    Admission, AuthGate, LoadSignal, OverloadState, Protection, RejectReason, service_unavailable,
};
use crate::proxy::{CallPhase, CallUpdate, Incoming, Proxy, ProxyEvent, TransactionLayer};
use crate::registrar::{Binding, BindingChange, PendingResponse, Registrar};
use crate::session_policy::SessionTimerPolicy;
use crate::storage::{StateChange, StoredState, User};
use crate::trunks::{AttemptResult, Health, Local, Trunks};

pub use config::{MailboxConfig, ServiceConfig};
pub use effect::{
    Completion, Effect, EffectError, LookupId, StoreId, StoreUnavailable, UserChange, UserDelta,
};
pub use live::{HangupAction, HangupError};

use contacts::Contacts;
use dialogs::Dialogs;
use mailbox::Mailbox;
use register::ContactChange;
use users::Known;
pub use users::UserDirectory;

/// Methods the server handles itself or proxies.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, PRACK, REFER, SUBSCRIBE, NOTIFY, PUBLISH";

/// The SIP server: see the [module documentation](self).
pub struct Service {
    registrar: Registrar,
    /// Subscriptions, publications, NOTIFYs.
    events: events::EventState,
    auth: Authenticator,
    protect: Protection,
    proxy: Proxy,
    /// The calls the proxy routes, by user (busy-lamp fields, pickup).
    calls: CallBook,
    /// The records of calls in progress (call detail records).
    records: CallRecords,
    /// Session timers asked of calls (RFC 4028).
    session_policy: SessionTimerPolicy,
    /// Answered calls the server ends at a deadline: session expiry, a
    /// group's longest call.
    timers: CallTimers,
    users: UserDirectory,
    contacts: Contacts,
    dialogs: Dialogs,
    /// The calls whose dialog record is in the store, by Call-ID.
    kept_dialogs: HashMap<Arc<str>, dialog_records::KeptDialog>,
    /// Offline messages.
    mailbox: Mailbox,
    /// The dial plan in force (swapped whole on reload; a call keeps the
    /// decision it was given).
    plan: Arc<Plan>,
    /// The plan's trunks: gateway health, registrations at providers.
    trunks: Trunks,
    /// The plan changed: its trunks are reconfigured at the next pass
    /// that has the endpoint.
    trunks_stale: bool,
    /// Calls taken back at start whose media the relay anchored: their
    /// relay sessions did not survive, they are ended at the first timeout.
    relay_lost: Vec<String>,
    /// Call records waiting for their batch's write, and when it is due.
    records_pending: Vec<StateChange>,
    records_flush_at: Option<Instant>,
    records_flush: Duration,
    /// Routed calls with a fallthrough still to take, by server
    /// transaction.
    fallthrough: HashMap<TransactionId, route::Fallthrough>,
    /// Carrier attempts under way: (server transaction, Request-URI) ->
    /// (trunk, gateway), for the gateways' health.
    attempts: HashMap<(TransactionId, String), (String, String)>,
    /// Transfers local users asked for, until the transferee calls.
    transfers: transfer::Transfers,
    trust_foreign: bool,
    /// The Route value requests for other domains go through.
    outbound: Option<String>,
    users_refresh: Duration,
    housekeeping: Duration,
    lookup_timeout: Duration,
    /// The time of the latest input.
    clock: Now,
    effects: VecDeque<Effect>,
    /// REGISTERs waiting for the store.
    registering: HashMap<StoreId, (TransactionId, PendingResponse)>,
    /// Removals of expired bindings being stored, and how many.
    expiring: HashMap<StoreId, usize>,
    /// Requests waiting for a user lookup.
    parked: HashMap<LookupId, Parked>,
    next_id: u64,
    next_housekeeping: Instant,
    next_users_check: Instant,
    checking_users: bool,
    /// What the operators' metrics count.
    counters: Counters,
    /// The media relay and the calls it anchors (`[media] relay` on).
    media: Option<crate::media::MediaRelay>,
    /// The other nodes sharing the store, and the bindings homed on them.
    cluster: crate::cluster::ClusterView,
}

/// Most record changes in one batch: a burst of calls is written before
/// the batch's time is up.
const RECORDS_BATCH: usize = 512;

/// A request waiting for [`Effect::LookupUser`].
#[derive(Debug)]
struct Parked {
    name: String,
    domain: String,
    deadline: Instant,
    waiting: Waiting,
}

/// Where a parked request resumes.
#[derive(Debug)]
enum Waiting {
    /// A REGISTER, before its credentials were checked.
    Register {
        tx: TransactionId,
        request: Request,
        source: Source,
    },
    /// A proxied request, before its caller's credentials were checked.
    Relay {
        incoming: Incoming,
        routed_to_us: bool,
    },
    /// A request for a local user with no device: 404 or 480 depending
    /// on whether the user exists (authenticated callers), or a MESSAGE
    /// kept for an existing user.
    NoDevice {
        incoming: Incoming,
        authenticated: bool,
    },
}

/// The outcome of checking a request's credentials.
enum Checked {
    Done(AuthResult),
    /// The user is not in memory: the request was parked.
    Parked,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("registrar", &self.registrar)
            .field("subscriptions", &self.events.subscriptions().len())
            .field("users", &self.users.len())
            .field("registering", &self.registering.len())
            .field("parked", &self.parked.len())
            .field("calls", &self.proxy.context_count())
            .field("contacts", &self.contacts.len())
            .field("dialogs", &self.dialogs.len())
            .field("call_deadlines", &self.timers.len())
            .field("messages", &self.mailbox.len())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// A server with these settings, started at `now`. `secret` keys its
    /// nonces; `rng` gives each part its own injected RNG.
    pub fn new(
        mut config: ServiceConfig,
        secret: AuthSecret,
        mut rng: impl FnMut() -> Box<dyn RngCore + Send>,
        now: Now,
    ) -> Self {
        // A digest uri naming this server is accepted (SIPp's habit).
        for listener in &config.proxy.listeners {
            config.auth.server_hosts.push(listener.host_text());
            config.auth.server_ports.push(listener.addr.port());
        }
        config
            .auth
            .server_hosts
            .extend(config.proxy.domains.iter().cloned());
        let outbound = config.outbound_route();
        let local = Local::new(&config.proxy);
        let relay_fallback = config
            .proxy
            .listeners
            .first()
            .map_or(IpAddr::from([127, 0, 0, 1]), |l| l.addr.ip());
        Self {
            registrar: Registrar::new(config.registrar, rng()),
            events: events::EventState::new(config.events),
            auth: Authenticator::new(config.auth, secret, rng()),
            protect: Protection::new(config.protect),
            proxy: Proxy::new(config.proxy),
            calls: CallBook::default(),
            records: CallRecords::new(config.records_keep),
            session_policy: config.session_timers,
            timers: CallTimers::default(),
            records_pending: Vec::new(),
            records_flush_at: None,
            records_flush: config.records_flush,
            users: UserDirectory::default(),
            contacts: Contacts::default(),
            dialogs: Dialogs::default(),
            kept_dialogs: HashMap::new(),
            mailbox: Mailbox::new(config.messages),
            plan: Arc::new(Plan::default()),
            trust_foreign: config.trust_foreign_callers,
            outbound,
            users_refresh: config.users_refresh,
            housekeeping: config.housekeeping,
            lookup_timeout: config.lookup_timeout,
            clock: now,
            effects: VecDeque::new(),
            registering: HashMap::new(),
            expiring: HashMap::new(),
            parked: HashMap::new(),
            next_id: 1,
            next_housekeeping: now.instant() + config.housekeeping,
            next_users_check: now.instant() + config.users_refresh,
            checking_users: false,
            // Last: the parts above keep the RNGs they always had.
            trunks: Trunks::new(local, rng()),
            trunks_stale: false,
            relay_lost: Vec::new(),
            fallthrough: HashMap::new(),
            attempts: HashMap::new(),
            transfers: transfer::Transfers::default(),
            counters: Counters::default(),
            // After the trunks: the parts above keep their RNGs.
            media: crate::media::MediaRelay::new(config.media, relay_fallback, rng()),
            cluster: crate::cluster::ClusterView::default(),
        }
    }

    /// Takes the stored bindings back (at start).
    pub fn load_bindings(&mut self, bindings: impl IntoIterator<Item = Binding>) {
        self.registrar.load(bindings);
    }

    /// Takes the stored event state back (at start, after the bindings):
    /// subscriptions keep being notified without the watchers subscribing
    /// again; offline messages are delivered to users with bindings at the
    /// first timeout; calls in progress keep passing (their in-dialog
    /// requests, the listing, the hang-up and their records), their times
    /// rebuilt with the clocks the service was built with.
    pub fn load_state(&mut self, state: StoredState) {
        self.load_events(&state);
        self.load_messages(state.messages);
        self.load_dialogs(state.dialogs);
    }

    /// Takes every user of the store as a directory built beforehand (at
    /// start, off the driver); returns the one held before, for the caller
    /// to drop where it does not stall anyone.
    pub fn set_user_directory(&mut self, directory: UserDirectory) -> UserDirectory {
        std::mem::replace(&mut self.users, directory)
    }

    /// The server stops: watchers are told when so configured
    /// ([`EventsConfig::terminate_on_shutdown`](crate::events::EventsConfig)).
    pub fn shutdown(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        self.clock = now;
        self.flush_records();
        self.shutdown_events(now, ep);
        // Registrations at providers are removed (Expires: 0).
        self.trunks.shutdown(now, ep);
        self.drain_proxy(ep);
    }

    /// Takes the plan's trunks (at start and on every reload): gateways
    /// whose trunk name and URI stay keep their health; registrations of
    /// removed trunks are removed at the provider.
    pub fn set_trunks(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        specs: &[switchboard_routing::TrunkSpec],
    ) {
        self.clock = now;
        self.trunks.reconfigure(now, ep, specs);
        self.drain_proxy(ep);
    }

    /// The trunks: gateway health (the plan's
    /// [`GatewayHealth`](switchboard_routing::GatewayHealth)) and
    /// registrations.
    pub fn trunks(&self) -> &Trunks {
        &self.trunks
    }

    /// The outcome of a call attempt sent to `gateway` of `trunk` (counts
    /// towards the gateway's health).
    pub fn report_attempt(&mut self, now: Now, trunk: &str, gateway: &str, result: AttemptResult) {
        self.clock = now;
        self.trunks.report_attempt(now, trunk, gateway, result);
    }

    /// How many subscriptions the server notifies.
    pub fn subscription_count(&self) -> usize {
        self.events.subscriptions().len()
    }

    /// The registrar (bindings, for listings).
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// The proxy (calls in progress).
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// The calls the proxy routes, by user (busy-lamp fields, pickup).
    pub fn calls(&self) -> &CallBook {
        &self.calls
    }

    /// The records of the calls in progress.
    pub fn records(&self) -> &CallRecords {
        &self.records
    }

    /// How many users are held in memory.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The store's users version the users in memory reflect (what a
    /// [`UserDelta`] for this service starts from).
    pub fn users_version(&self) -> u64 {
        self.users.version()
    }

    /// The counters and gauges for the operators' metrics, now.
    pub fn metrics(&self) -> ServiceMetrics {
        let mut gauges = Gauges {
            bindings: self.registrar.binding_count(),
            registered_users: self.registrar.aor_count(),
            calls: self.calls.len(),
            proxy_contexts: self.proxy.context_count(),
            subscriptions: self.events.subscriptions().len(),
            relay_sessions: self.media.as_ref().map_or(0, |m| m.call_count()),
            relay_dropped: self.media.as_ref().map_or(0, |m| m.dropped()),
            relay_packets: self.media.as_ref().map_or(0, |m| m.relayed()),
            relay_refused: self.media.as_ref().map_or(0, |m| m.refused()),
            ..Gauges::default()
        };
        for gateway in self.trunks.states().iter().flat_map(|t| &t.gateways) {
            match gateway.health {
                Health::Up => gauges.gateways_up += 1,
                Health::Down => gauges.gateways_down += 1,
                Health::Unknown => gauges.gateways_unknown += 1,
            }
        }
        self.counters.snapshot(gauges)
    }

    // ----- inputs -----

    /// A measure only the runtime takes (the driver's timer lag, the
    /// store's commit latency, the read backlog), for the overload gate:
    /// over its mark, new requests get 503 with Retry-After.
    pub fn observe_load(&mut self, now: Now, signal: LoadSignal) {
        self.protect.observe(now.instant(), signal);
    }

    /// What holds the overload gate closed, if anything.
    pub fn overload_state(&self) -> OverloadState {
        self.protect.overload_state()
    }

    /// An endpoint event: a request, an ACK, and everything about the
    /// proxy's own transactions.
    pub fn handle_event(&mut self, now: Now, ep: &mut impl TransactionLayer, event: Event) {
        self.clock = now;
        match event {
            Event::Request {
                tx,
                request,
                source,
            } => self.on_request(now, ep, tx, request, source),
            Event::Ack { request, source } => self.on_ack(now, ep, request, source),
            mut other => {
                self.anchor_response(now, &mut other);
                // Responses, CANCELs, timeouts of the proxy's transactions;
                // what is left is not the proxy's (a CANCEL of a request
                // answered here, a stray response) and needs nothing.
                if let Some(left) = self.proxy.handle_event(now.instant(), ep, other) {
                    if !self.trunks.handle_event(now, ep, &left)
                        && !self.on_notify_event(now, ep, &left)
                    {
                        self.delivery_event(now, ep, left);
                    }
                }
            }
        }
        self.drain_proxy(ep);
    }

    /// The outcome of an [`Effect`].
    pub fn handle_completion(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        completion: Completion,
    ) {
        self.clock = now;
        match completion {
            Completion::Stored { id, result } if self.records.is_saving(id) => {
                self.records.saved(id);
                if let Err(error) = result {
                    tracing::error!(%error, "call records not stored");
                }
            }
            Completion::Stored { id, result } if self.events.is_saving(id) => {
                self.on_saved(now, ep, id, result);
            }
            Completion::Stored { id, result } => {
                // A REGISTER's bindings stored: their watchers learn it.
                // With no subscription at all there is no one to tell, and
                // the REGISTER path does none of that work.
                let watched = !self.events.subscriptions().is_empty();
                let registered = self
                    .registering
                    .get(&id)
                    .filter(|_| watched && result.is_ok())
                    .map(|(_, pending)| (pending.aor().clone(), ContactChange::of(pending)));
                self.on_stored(now, ep, id, result);
                if let Some((aor, changes)) = registered {
                    let events = self.registration_events(now, &aor, changes);
                    self.bindings_changed(now, ep, &aor, &events);
                }
            }
            Completion::User { id, result } => self.on_user(now, ep, id, result),
            Completion::UserDirectory(directory) => {
                self.checking_users = false;
                self.users = *directory;
                tracing::info!(users = self.users.len(), "users reloaded");
            }
            Completion::UserChanges(result) => {
                self.checking_users = false;
                match result {
                    Ok(delta) => {
                        let changed = delta.changes.len();
                        if self.users.apply(delta) {
                            tracing::info!(changed, "user changes applied");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "user changes not read"),
                }
            }
            Completion::Resolved { id, hops } if self.trunks.owns_resolve(id) => {
                self.trunks.resolved(now, ep, id, hops);
            }
            Completion::Resolved { id, hops } => {
                self.proxy.resolved(now.instant(), ep, id, hops);
            }
        }
        self.drain_proxy(ep);
    }

    /// Called once `now` has reached [`Service::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        self.clock = now;
        let at = now.instant();
        if self.proxy.poll_timeout().is_some_and(|p| p <= at) {
            self.proxy.handle_timeout(at, ep);
        }
        if self.records_flush_at.is_some_and(|t| t <= at) {
            self.flush_records();
        }
        if self.timers.poll_timeout().is_some_and(|t| t <= at) {
            self.call_deadlines(now, ep);
        }
        if self
            .media
            .as_ref()
            .and_then(|m| m.poll_timeout())
            .is_some_and(|t| t <= at)
        {
            self.media_timeout(now, ep);
        }
        self.end_relay_lost(now, ep);
        if self.trunks_stale {
            self.trunks_stale = false;
            let plan = Arc::clone(&self.plan);
            self.trunks.reconfigure(now, ep, plan.trunks());
        }
        if self.trunks.poll_timeout().is_some_and(|t| t <= at) {
            self.trunks.handle_timeout(now, ep);
        }
        let expiry_due = self.registrar.poll_timeout(now).is_some_and(|d| d <= at);
        if self.events_deadline(now).is_some_and(|d| d <= at) {
            self.events_timeout(now, ep);
        }
        if expiry_due || at >= self.next_housekeeping {
            self.housekeeping(now, ep);
            self.next_housekeeping = at + self.housekeeping;
        }
        if at >= self.next_users_check && !self.checking_users {
            self.checking_users = true;
            self.effects.push_back(Effect::CheckUsers {
                version: self.users.version(),
            });
            self.next_users_check = at + self.users_refresh;
        }
        self.messages_timeout(now, ep);
        let late: Vec<LookupId> = self
            .parked
            .iter()
            .filter(|(_, p)| p.deadline <= at)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            tracing::warn!("user lookup timed out: answering 500");
            if let Some(parked) = self.parked.remove(&id) {
                let status = StatusCode::SERVER_INTERNAL_ERROR;
                self.fail_parked(now, ep, parked.waiting, status);
            }
        }
        self.drain_proxy(ep);
    }

    // ----- outputs -----

    /// The next thing the runtime must do.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When [`Service::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.next_housekeeping;
        if self.trunks_stale || !self.relay_lost.is_empty() {
            return Some(self.clock.instant());
        }
        if !self.checking_users {
            next = next.min(self.next_users_check);
        }
        let candidates = [
            self.events_deadline(self.clock),
            self.proxy.poll_timeout(),
            self.registrar.poll_timeout(self.clock),
            self.parked.values().map(|p| p.deadline).min(),
            self.mailbox.poll_timeout(),
            self.trunks.poll_timeout(),
            self.records_flush_at,
            self.timers.poll_timeout(),
            self.media.as_ref().and_then(|m| m.poll_timeout()),
        ];
        Some(candidates.into_iter().flatten().fold(next, Instant::min))
    }

    // ----- requests -----

    fn on_request(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        request: Request,
        source: Source,
    ) {
        // Load: REGISTERs waiting for the store and proxied requests
        // waiting for a final response (answered ones linger 32 s for
        // their transactions and cost no work). Over the watermark, new
        // requests get 503 with Retry-After (Protection::admit); requests
        // inside established dialogs (a To tag) still pass. The endpoint's
        // max_transactions bounds memory on its own (503 too).
        let was = self.protect.is_overloaded();
        let load = self.registering.len()
            + self.parked.len()
            + self.proxy.pending_count()
            + self.mailbox.saving_count()
            + self.events.waiting();
        if self.protect.set_load_at(now.instant(), load) != was {
            if was {
                tracing::info!(load, "overload over: accepting requests again");
            } else {
                tracing::warn!(load, "overloaded: answering new requests with 503");
            }
        }
        let ip = source.remote.ip();
        // A peer node's requests are its callers' (already admitted
        // there): no per-address rate limit on them.
        let admission = if self.plan.is_trusted(ip) || self.cluster.is_peer(source.remote) {
            self.protect.admit_trusted(request.method())
        } else {
            self.protect.admit(now.instant(), ip, request.method())
        };
        match admission {
            Admission::Accept => {}
            Admission::Drop => return,
            Admission::Reject {
                reason: RejectReason::Overload,
                ..
            } if request.headers().to_tag().is_some()
                || (answers_challenge(&request)
                    && self.protect.overload_state().lets_flows_finish()) => {}
            Admission::Reject {
                retry_after,
                reason,
            } => {
                self.counters.refused(reason);
                let tag = ep.new_tag();
                send(
                    ep,
                    now,
                    tx,
                    service_unavailable(&request, retry_after, &tag),
                );
                return;
            }
        }
        if request.method() == &switchboard_proto::Method::Register {
            self.on_register(now, ep, tx, request, source);
        } else {
            self.on_proxy_request(now, ep, tx, request, source);
        }
    }

    /// Checks the credentials `request` offers for `realm` (Authorization,
    /// or Proxy-Authorization for the proxy) behind the lockout gate, and
    /// records the outcome for the lockout. A user not in memory parks the
    /// request (`park` builds what resumes it) until the store answers.
    fn check_auth(
        &mut self,
        now: Now,
        request: &Request,
        realm: &str,
        ip: IpAddr,
        is_proxy: bool,
        park: impl FnOnce() -> Waiting,
    ) -> Checked {
        let unix = now.unix();
        let mut user = None;
        let mut locked = false;
        let result = match Authenticator::credentials(request, realm, is_proxy) {
            Offered::Digest(c) => {
                user = Some(c.username.to_string());
                match self.protect.auth_gate(now.instant(), ip, Some(&c.username)) {
                    AuthGate::Locked { scope, remaining } => {
                        tracing::debug!(?scope, ?remaining, user = %c.username, "authentication locked out");
                        locked = true;
                        self.auth.failure()
                    }
                    AuthGate::Proceed => match self.users.get(&c.username, realm) {
                        // Disjoint fields: the HA1s are read in place.
                        Known::Found(ha1) => self.auth.verify(unix, request, &c, realm, Some(ha1)),
                        Known::Absent => self.auth.verify(unix, request, &c, realm, None),
                        Known::Unknown => {
                            let name = c.username.to_string();
                            self.park(now, name, realm.to_owned(), park());
                            return Checked::Parked;
                        }
                    },
                }
            }
            _ => self
                .auth
                .authenticate(unix, request, realm, is_proxy, |_| None),
        };
        let lockouts = self
            .protect
            .record_auth(now.instant(), ip, user.as_deref(), &result);
        self.counters.auth(&result, locked, lockouts.len());
        for (scope, length) in lockouts {
            tracing::warn!(?scope, ?length, source = %ip, user = user.as_deref().unwrap_or("-"), "locked out after failed authentications");
        }
        Checked::Done(result)
    }

    /// Answers a challenge or 403 for a failed authentication.
    fn refuse(
        &mut self,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        request: &Request,
        realm: &str,
        is_proxy: bool,
        result: &AuthResult,
    ) {
        let now = self.clock;
        if let Some(answer) = self
            .auth
            .respond(now.unix(), request, realm, is_proxy, result)
        {
            send(ep, now, tx, answer);
        }
    }

    // ----- user lookups -----

    fn park(&mut self, now: Now, name: String, domain: String, waiting: Waiting) {
        let id = LookupId(self.next_id());
        self.effects.push_back(Effect::LookupUser {
            id,
            name: name.clone(),
            domain: domain.clone(),
        });
        self.parked.insert(
            id,
            Parked {
                name,
                domain,
                deadline: now.instant() + self.lookup_timeout,
                waiting,
            },
        );
    }

    fn on_user(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: LookupId,
        result: Result<Option<User>, EffectError>,
    ) {
        let Some(parked) = self.parked.remove(&id) else {
            return; // timed out meanwhile
        };
        match result {
            Ok(Some(user)) => {
                self.users.insert(user);
                // Never park twice for one name: a user stored under
                // another spelling counts as missing here.
                if self.users.get(&parked.name, &parked.domain) == Known::Unknown {
                    self.users.mark_absent(&parked.name, &parked.domain);
                }
            }
            Ok(None) => self.users.mark_absent(&parked.name, &parked.domain),
            Err(error) => {
                let status = StoreUnavailable::status_of(&error);
                tracing::error!(%error, ?status, "user lookup failed");
                self.fail_parked(now, ep, parked.waiting, status);
                return;
            }
        }
        // The user is known now (found or absent): run the request again
        // from where it stopped.
        match parked.waiting {
            Waiting::Register {
                tx,
                request,
                source,
            } => self.on_register(now, ep, tx, request, source),
            Waiting::Relay {
                incoming,
                routed_to_us,
            } => self.relay(now, ep, incoming, routed_to_us),
            Waiting::NoDevice {
                incoming,
                authenticated,
            } => self.no_device(now, ep, &incoming, authenticated),
        }
    }

    /// A parked request whose user could not be looked up: `status` (500,
    /// or 503 when the store is unreachable) with Retry-After.
    fn fail_parked(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        waiting: Waiting,
        status: StatusCode,
    ) {
        let (tx, request) = match &waiting {
            Waiting::Register { tx, request, .. } => (*tx, request),
            Waiting::Relay { incoming, .. } | Waiting::NoDevice { incoming, .. } => {
                (incoming.tx(), incoming.request())
            }
        };
        let lines = [(HeaderName::RetryAfter, effect::STORE_RETRY_AFTER.to_owned())];
        answer_request(now, ep, tx, request, status, None, &lines);
    }

    // ----- housekeeping -----

    fn housekeeping(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        // Fallthroughs of calls that were answered or cancelled.
        let proxy = &self.proxy;
        self.fallthrough.retain(|tx, _| proxy.is_proxying(*tx));
        self.attempts.retain(|(tx, _), _| proxy.is_proxying(*tx));
        let expired = self.registrar.poll_expired_bindings(now.unix());
        if !expired.is_empty() {
            // Watchers of the users whose bindings expired (none to tell
            // when nobody subscribes).
            let mut aors: Vec<_> = if self.events.subscriptions().is_empty() {
                Vec::new()
            } else {
                expired.iter().map(|b| b.aor.clone()).collect()
            };
            aors.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
            aors.dedup();
            for aor in &aors {
                let events: Vec<_> = expired
                    .iter()
                    .filter(|b| &b.aor == aor)
                    .map(|b| (b.clone(), RegEvent::Expired))
                    .collect();
                self.bindings_changed(now, ep, aor, &events);
            }
            // A binding homed on another live node is removed by that
            // node (one write, not one per node).
            let expired: Vec<_> = expired
                .into_iter()
                .filter(|b| self.cluster.removes_expired(b))
                .map(BindingChange::expiry_of)
                .collect();
            if !expired.is_empty() {
                let id = StoreId(self.next_id());
                self.expiring.insert(id, expired.len());
                self.effects.push_back(Effect::Store {
                    id,
                    changes: expired,
                });
            }
        }
        self.expire_messages(now);
        let at = now.instant();
        self.contacts.purge(at);
        self.dialogs.purge(at);
        self.calls.purge(at);
        self.forget_idle_dialogs();
        self.counters.purge(at);
        self.records.purge(at);
        if let Some(change) = self.records.retention(at, unix_ms(now)) {
            self.save_records(vec![change]);
        }
        self.protect.purge(at);
        self.transfers.purge(at);
        self.auth.purge(now.unix());
        shrink_after_peak(&mut self.registering);
    }

    /// Submits call records (or their retention) to the store; nobody
    /// waits for them.
    /// Queues a record change for the next batch (written at once when
    /// `records_flush` is zero).
    fn queue_record(&mut self, change: StateChange) {
        self.records_pending.push(change);
        if self.records_flush.is_zero() || self.records_pending.len() >= RECORDS_BATCH {
            self.flush_records();
        } else if self.records_flush_at.is_none() {
            self.records_flush_at = Some(self.clock.instant() + self.records_flush);
        }
    }

    /// Writes the queued record changes in one save; of several versions
    /// of one record only the latest is written (a short call's answer and
    /// end in one row write).
    fn flush_records(&mut self) {
        self.records_flush_at = None;
        if self.records_pending.is_empty() {
            return;
        }
        let mut seen = std::collections::HashSet::new();
        // A dialog's record has the same id as its call record's.
        let mut dialogs = std::collections::HashSet::new();
        let mut changes: Vec<StateChange> = std::mem::take(&mut self.records_pending)
            .into_iter()
            .rev()
            .filter(|c| match c {
                StateChange::PutCallRecord(r) => seen.insert(r.id.clone()),
                StateChange::PutDialog(d) => dialogs.insert(d.id.clone()),
                _ => true,
            })
            .collect();
        changes.reverse();
        self.save_records(changes);
    }

    fn save_records(&mut self, changes: Vec<StateChange>) {
        let id = StoreId(self.next_id());
        self.records.saving(id);
        self.effects.push_back(Effect::Save { id, changes });
    }

    /// One string for a call's Call-ID in every table that files the call
    /// (call book, call records, dialog records, relayed dialogs): the one
    /// already kept, else a new one.
    fn shared_call_id(&self, call_id: &str) -> Arc<str> {
        self.calls
            .shared_id(call_id)
            .or_else(|| self.dialogs.shared_id(call_id))
            .unwrap_or_else(|| Arc::from(call_id))
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// A call changed state: its counters, its record, the call book and
    /// the dialog watchers of the users involved.
    fn on_call_update(&mut self, ep: &mut impl TransactionLayer, update: CallUpdate) {
        let at = self.clock.instant();
        let call_id = self.shared_call_id(&update.call_id);
        self.counters.call(at, &update, &call_id);
        self.note_media_counters(&update.call_id);
        // A call a peer node relayed here: the peer keeps its records.
        let relayed = self.cluster.is_relayed(&update.call_id);
        if relayed && matches!(update.state, CallPhase::Terminated(_)) {
            self.cluster.call_ended(&update.call_id);
        }
        let record = (!relayed)
            .then(|| {
                self.records
                    .apply(at, unix_ms(self.clock), &update, &call_id)
            })
            .flatten();
        if let Some(record) = record {
            self.queue_record(StateChange::PutCallRecord(record));
        }
        if update.state == CallPhase::Confirmed {
            self.call_answered(&update.call_id);
        }
        let ended =
            matches!(update.state, CallPhase::Terminated(_)).then(|| update.call_id.clone());
        let kept = Self::dialog_change(&update).filter(|_| !relayed);
        let changed = self.calls.apply_shared(at, call_id, update);
        if let Some(call_id) = kept {
            self.keep_dialog(&call_id);
        }
        if let Some(call_id) = ended.filter(|id| !self.calls.is_in_progress(id)) {
            self.timers.forget(&call_id);
            self.release_media(&call_id);
        }
        // Read before the next apply: ended dialogs are reported once.
        for aor in changed {
            if !relayed {
                self.share_call_states(&aor);
            }
            self.calls_changed(self.clock, ep, &aor);
        }
    }

    /// Moves what the proxy asked for into the effects; call states go to
    /// the call book and the dialog watchers of the users involved.
    fn drain_proxy(&mut self, ep: &mut impl TransactionLayer) {
        while let Some(event) = self.proxy.poll_event() {
            match event {
                ProxyEvent::Resolve { id, uri } => {
                    self.effects.push_back(Effect::Resolve { id, uri });
                }
                ProxyEvent::Call(update) => self.on_call_update(ep, update),
                ProxyEvent::Session(answer) => self.on_session_answer(&answer),
                // A routed call whose targets failed: its fallthrough
                // (route.rs), or the best answer goes up.
                ProxyEvent::Exhausted { server, cause, .. } => {
                    self.on_exhausted(self.clock, ep, server, cause);
                }
                ProxyEvent::Attempt {
                    server,
                    uri,
                    result,
                } => self.on_attempt(server, &uri, result),
            }
        }
        // The trunks' probes and REGISTERs resolve names the same way.
        while let Some((id, uri)) = self.trunks.poll_resolve() {
            self.effects.push_back(Effect::Resolve { id, uri });
        }
    }
}

/// Answers transaction `tx` of `request` with `status` (and `reason`
/// instead of its usual phrase), a fresh To tag and `lines`.
fn answer_request(
    now: Now,
    ep: &mut impl TransactionLayer,
    tx: TransactionId,
    request: &Request,
    status: StatusCode,
    reason: Option<&str>,
    lines: &[(HeaderName, String)],
) {
    let tag = ep.new_tag();
    let response = crate::util::response(request, status, reason, &tag, lines);
    send(ep, now, tx, response);
}

/// [`answer_request`] for a request the service took in.
fn answer(
    now: Now,
    ep: &mut impl TransactionLayer,
    incoming: &Incoming,
    status: StatusCode,
    reason: Option<&str>,
    lines: &[(HeaderName, String)],
) {
    answer_request(
        now,
        ep,
        incoming.tx(),
        incoming.request(),
        status,
        reason,
        lines,
    );
}

/// Whether `request` carries credentials: the second half of a flow the
/// server began with its challenge.
fn answers_challenge(request: &Request) -> bool {
    let headers = request.headers();
    headers.get(HeaderName::Authorization).is_some()
        || headers.get(HeaderName::ProxyAuthorization).is_some()
}

/// Sends a response, or logs why there is none.
fn send(
    ep: &mut impl TransactionLayer,
    now: Now,
    tx: TransactionId,
    response: Result<Response, impl std::fmt::Display>,
) {
    match response {
        Ok(r) => {
            if let Err(e) = ep.respond(now.instant(), tx, r) {
                tracing::debug!(error = %e, "response not sent");
            }
        }
        Err(e) => tracing::debug!(error = %e, "no response can be built for the request"),
    }
}
