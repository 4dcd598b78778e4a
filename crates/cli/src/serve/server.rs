//! The server as a [`switchboard_net::App`]: it runs on the network
//! driver's task and owns the registrar, the authenticator and the
//! protections (no locks, no hand-off per request: a 401 is queued in the
//! same pass that read its REGISTER).
//!
//! * Bindings are written through the [`GroupCommitter`] (its own thread
//!   and SQLite connection); its callback sends [`Done`] back through the
//!   app's channel, and only then is the 200 OK sent.
//! * User lookups (one SQLite read by primary key, on a second connection
//!   of the WAL database, where readers never wait for the writer) are done
//!   inline: they take microseconds, less than handing them to another
//!   thread and back would.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_core::{Endpoint, Event, Source, TransactionId};
use switchboard_net::resolver::Resolver;
use switchboard_net::{App, AppSender};
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};
use switchboard_server::auth::Offered;
use switchboard_server::protect::{RejectReason, service_unavailable};
use switchboard_server::proxy::{NextHop, Proxy, ResolveId};
use switchboard_server::{
    Admission, AuthGate, AuthResult, Authenticator, Ha1Set, PendingResponse, Protection,
    RegisterOutcome, Registrar,
};
use switchboard_store::{
    CommitResult, GroupCommitter, SqliteStore, StoreError, UserDirectory, UserStore,
};
use tokio::sync::oneshot;

use super::contacts::Contacts;
use super::dialogs::Dialogs;

mod proxying;

/// Methods the server handles itself or proxies.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, PRACK, REFER, SUBSCRIBE, NOTIFY";
/// How often the users are checked for changes made by the `user` command.
const USERS_REFRESH: Duration = Duration::from_secs(1);
/// Longest wait between housekeeping rounds.
const HOUSEKEEPING: Duration = Duration::from_secs(30);

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the store's writer thread reports back.
#[derive(Debug)]
pub(crate) enum Done {
    /// The changes of REGISTER number `id` are stored (or not).
    Register { id: u64, result: CommitResult },
    /// Removals of expired bindings are stored (or not).
    Expired { count: usize, result: CommitResult },
    /// Everything submitted before this is reported (shutdown).
    Barrier(oneshot::Sender<()>),
    /// A next hop the proxy asked for is resolved (or not).
    Resolved { id: ResolveId, hops: Vec<NextHop> },
}

/// The server's state.
pub(crate) struct Server {
    pub(crate) registrar: Registrar,
    pub(crate) auth: Authenticator,
    pub(crate) protect: Protection,
    pub(crate) users: SqliteStore,
    pub(crate) committer: Arc<GroupCommitter>,
    done: AppSender<Done>,
    pending: HashMap<u64, (TransactionId, PendingResponse)>,
    next_id: u64,
    next_housekeeping: Instant,
    /// The users in memory (a SQLite read per request costs more than the
    /// rest of a REGISTER's authentication); the store is asked on a miss.
    directory: UserDirectory,
    /// When to check whether the users changed in the store.
    next_users_refresh: Instant,
    proxy: Proxy,
    /// Requests from other domains to local users need no challenge.
    trust_foreign: bool,
    /// The Route value (`<sip:...;lr>`) requests for other domains go
    /// through.
    outbound: Option<String>,
    resolver: Arc<Resolver>,
    contacts: Contacts,
    dialogs: Dialogs,
}

/// What the server needs for proxying.
pub(crate) struct ProxyParts {
    pub(crate) proxy: Proxy,
    pub(crate) trust_foreign: bool,
    pub(crate) outbound: Option<String>,
    pub(crate) resolver: Arc<Resolver>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("registrar", &self.registrar)
            .field("pending", &self.pending.len())
            .field("calls", &self.proxy.context_count())
            .field("contacts", &self.contacts.len())
            .field("dialogs", &self.dialogs.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(crate) fn new(
        registrar: Registrar,
        auth: Authenticator,
        protect: Protection,
        users: SqliteStore,
        committer: Arc<GroupCommitter>,
        done: AppSender<Done>,
        parts: ProxyParts,
    ) -> Self {
        let directory = UserDirectory::load(&users).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "users not loaded into memory: looking each one up in the store");
            UserDirectory::default()
        });
        Self {
            directory,
            next_users_refresh: Instant::now() + USERS_REFRESH,
            registrar,
            auth,
            protect,
            users,
            committer,
            done,
            pending: HashMap::new(),
            next_id: 0,
            next_housekeeping: Instant::now() + HOUSEKEEPING,
            proxy: parts.proxy,
            trust_foreign: parts.trust_foreign,
            outbound: parts.outbound,
            resolver: parts.resolver,
            contacts: Contacts::default(),
            dialogs: Dialogs::default(),
        }
    }

    fn send(
        ep: &mut Endpoint,
        now: Instant,
        tx: TransactionId,
        response: Result<Response, impl std::fmt::Display>,
    ) {
        match response {
            Ok(r) => {
                if let Err(e) = ep.respond(now, tx, r) {
                    tracing::debug!(error = %e, "response not sent");
                }
            }
            Err(e) => tracing::debug!(error = %e, "no response can be built for the request"),
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
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
        let load = self.pending.len() + self.proxy.pending_count();
        if self.protect.set_load(load) != was {
            if was {
                tracing::info!(load, "overload over: accepting requests again");
            } else {
                tracing::warn!(load, "overloaded: answering new requests with 503");
            }
        }
        let ip = source.remote.ip();
        match self.protect.admit(now, ip, request.method()) {
            Admission::Accept => {}
            Admission::Drop => return,
            Admission::Reject {
                reason: RejectReason::Overload,
                ..
            } if request.headers().to_tag().is_some() => {}
            Admission::Reject { retry_after, .. } => {
                let tag = ep.new_tag();
                Self::send(
                    ep,
                    now,
                    tx,
                    service_unavailable(&request, retry_after, &tag),
                );
                return;
            }
        }
        match request.method() {
            Method::Register => self.on_register(now, ep, tx, request, source, ip),
            _ => self.on_proxy_request(now, ep, tx, request, source, ip),
        }
    }

    /// The user's HA1 values in `realm`, `Ok(None)` for no such user: from
    /// memory, or from the store for a user added since the last refresh.
    fn lookup(&mut self, user: &str, realm: &str) -> Result<Option<Ha1Set>, StoreError> {
        let found = match self.directory.get(user, realm) {
            Some(u) => Some(u),
            None => match self.users.get_user(user, realm)? {
                Some(u) => {
                    self.directory.insert(u);
                    self.directory.get(user, realm)
                }
                None => None,
            },
        };
        Ok(found.map(|u| u.ha1.clone()))
    }

    /// Reloads the users when the store says they changed (a `user`
    /// command run meanwhile): a password change or removal takes effect
    /// within [`USERS_REFRESH`].
    fn refresh_users(&mut self) {
        match self.directory.refresh(&self.users) {
            Ok(true) => tracing::info!(users = self.directory.len(), "users reloaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "users not reloaded"),
        }
    }

    /// Checks the credentials `request` offers for `realm` (Authorization,
    /// or Proxy-Authorization for the proxy) behind the lockout gate, and
    /// records the outcome for the lockout. `Err`: the user store failed.
    fn check_auth(
        &mut self,
        now: Instant,
        request: &Request,
        realm: &str,
        ip: IpAddr,
        is_proxy: bool,
    ) -> Result<AuthResult, StoreError> {
        let unix = unix_now();
        let mut user = None;
        let result = match Authenticator::credentials(request, realm, is_proxy) {
            Offered::Digest(c) => {
                user = Some(c.username.to_string());
                match self.protect.auth_gate(now, ip, Some(&c.username)) {
                    AuthGate::Locked { scope, remaining } => {
                        tracing::debug!(?scope, ?remaining, user = %c.username, "authentication locked out");
                        self.auth.failure()
                    }
                    AuthGate::Proceed => {
                        let ha1 = self.lookup(&c.username, realm)?;
                        self.auth.verify(unix, request, &c, realm, ha1.as_ref())
                    }
                }
            }
            _ => self
                .auth
                .authenticate(unix, request, realm, is_proxy, |_| None),
        };
        for (scope, length) in self.protect.record_auth(now, ip, user.as_deref(), &result) {
            tracing::warn!(?scope, ?length, source = %ip, user = user.as_deref().unwrap_or("-"), "locked out after failed authentications");
        }
        Ok(result)
    }

    fn on_register(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        tx: TransactionId,
        request: Request,
        source: Source,
        ip: IpAddr,
    ) {
        let unix = unix_now();
        let Some(realm) = self.registrar.realm_for(&request).map(str::to_owned) else {
            // Not our domain: the registrar answers 404 (no challenge first).
            self.register(now, ep, tx, request, source, None);
            return;
        };
        let result = match self.check_auth(now, &request, &realm, ip, false) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "user lookup failed: answering 500");
                let tag = ep.new_tag();
                let answer =
                    ResponseBuilder::from_request(&request, StatusCode::SERVER_INTERNAL_ERROR)
                        .to_tag(&tag)
                        .header(HeaderName::RetryAfter, "5")
                        .build();
                Self::send(ep, now, tx, answer);
                return;
            }
        };
        match result {
            AuthResult::Ok { identity, .. } => {
                self.register(now, ep, tx, request, source, Some(&identity));
            }
            other => {
                if let Some(answer) = self.auth.respond(unix, &request, &realm, false, &other) {
                    Self::send(ep, now, tx, answer);
                }
            }
        }
    }

    fn register(
        &mut self,
        now: Instant,
        ep: &mut Endpoint,
        tx: TransactionId,
        request: Request,
        source: Source,
        identity: Option<&switchboard_server::Identity>,
    ) {
        let unix = unix_now();
        let outcome = match self
            .registrar
            .handle_register(unix, &request, &source, identity)
        {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(error = %e, "no response can be built for the REGISTER");
                return;
            }
        };
        match outcome {
            RegisterOutcome::Respond(r) | RegisterOutcome::Reject { response: r, .. } => {
                Self::send(ep, now, tx, Ok::<_, String>(r));
            }
            RegisterOutcome::Commit { changes, then } => {
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(id, (tx, then));
                let done = self.done.clone();
                let submitted = self.committer.submit_with(changes, move |result| {
                    done.send(Done::Register { id, result });
                });
                if let Err(e) = submitted {
                    tracing::warn!(error = %e, "bindings not queued for the store: answering 500");
                    self.finish(now, ep, id, Err(e));
                }
            }
        }
    }

    fn finish(&mut self, now: Instant, ep: &mut Endpoint, id: u64, result: CommitResult) {
        let Some((tx, pending)) = self.pending.remove(&id) else {
            return;
        };
        let answer = match result {
            Ok(()) => self.registrar.complete(pending, unix_now()),
            Err(e) => {
                tracing::error!(error = %e, "storing bindings failed: answering 500");
                self.registrar.abort(pending)
            }
        };
        Self::send(ep, now, tx, answer);
    }

    fn on_done(&mut self, now: Instant, ep: &mut Endpoint, done: Done) {
        match done {
            Done::Register { id, result } => self.finish(now, ep, id, result),
            Done::Barrier(reply) => {
                let _ = reply.send(());
            }
            Done::Resolved { id, hops } => self.proxy.resolved(now, ep, id, hops),
            Done::Expired { count, result } => match result {
                Ok(()) => tracing::debug!(count, "expired bindings removed from the store"),
                Err(e) => {
                    tracing::warn!(count, error = %e, "removing expired bindings from the store failed (they are swept again at the next start)")
                }
            },
        }
    }

    fn housekeeping(&mut self) {
        let unix = unix_now();
        let expired = self.registrar.poll_expired(unix);
        if !expired.is_empty() {
            let count = expired.len();
            let done = self.done.clone();
            if let Err(e) = self.committer.submit_with(expired, move |result| {
                done.send(Done::Expired { count, result });
            }) {
                tracing::warn!(count, error = %e, "expired bindings not queued for removal");
            }
        }
        let now = Instant::now();
        self.contacts.purge(now);
        self.dialogs.purge(now);
        self.protect.purge(now);
        self.auth.purge(unix);
        if self.pending.capacity() > 1024 && self.pending.len() < self.pending.capacity() / 4 {
            self.pending.shrink_to(1024.max(self.pending.len() * 2));
        }
    }
}

impl App for Server {
    type Message = Done;

    fn on_event(&mut self, now: Instant, ep: &mut Endpoint, event: Event) {
        match event {
            Event::Request {
                tx,
                request,
                source,
            } => self.on_request(now, ep, tx, request, source),
            Event::Ack { request, source } => self.on_ack(now, ep, request, source),
            other => {
                // Responses, CANCELs, timeouts of the proxy's transactions;
                // what is left is not the proxy's (a CANCEL of a request
                // answered here, a stray response) and needs nothing.
                if let Some(left) = self.proxy.handle_event(now, ep, other) {
                    tracing::trace!(event = ?left, "event not for the proxy");
                }
            }
        }
        self.drain_proxy();
    }

    fn on_message(&mut self, now: Instant, ep: &mut Endpoint, done: Done) {
        self.on_done(now, ep, done);
        self.drain_proxy();
    }

    fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let expiry = self
            .registrar
            .poll_timeout(now, unix_now())
            // Whole seconds: a binding expires at the end of its second.
            .map(|d| {
                if d > now {
                    d + Duration::from_millis(10)
                } else {
                    d
                }
            });
        let own = expiry.map_or(self.next_housekeeping, |d| d.min(self.next_housekeeping));
        let own = own.min(self.next_users_refresh);
        Some(self.proxy.poll_timeout().map_or(own, |p| p.min(own)))
    }

    fn handle_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        if self.proxy.poll_timeout().is_some_and(|p| p <= now) {
            self.proxy.handle_timeout(now, ep);
            self.drain_proxy();
        }
        let expiry_due = self
            .registrar
            .poll_timeout(now, unix_now())
            .is_some_and(|d| d <= now);
        if expiry_due || now >= self.next_housekeeping {
            self.housekeeping();
            self.next_housekeeping = now + HOUSEKEEPING;
        }
        if now >= self.next_users_refresh {
            self.refresh_users();
            self.next_users_refresh = now + USERS_REFRESH;
        }
    }
}
