//! The serve loop: one task owns the registrar, the authenticator and the
//! protections (no locks), takes requests from the network driver, and
//! takes the store's answers back through a channel.
//!
//! * Bindings are written through the [`GroupCommitter`] (its own thread
//!   and SQLite connection); its callback wakes this task through an
//!   unbounded tokio channel, and only then is the 200 OK sent.
//! * User lookups (one SQLite read by primary key, on a second connection
//!   of the WAL database, where readers never wait for the writer) are done
//!   inline on this task: they take microseconds, less than handing them
//!   to another thread and back would. A slow disk would stall this task
//!   only, never the network driver, which runs on its own task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_core::{Source, TransactionId};
use switchboard_net::{Handle, Incoming};
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};
use switchboard_server::auth::Offered;
use switchboard_server::protect::service_unavailable;
use switchboard_server::{
    Admission, AuthGate, AuthResult, Authenticator, Ha1Set, PendingResponse, Protection,
    RegisterOutcome, Registrar,
};
use switchboard_store::{CommitResult, GroupCommitter, SqliteStore, StoreError, UserStore};
use tokio::sync::mpsc;

use super::convert;

/// Methods answered today.
const ALLOW: &str = "REGISTER, OPTIONS";
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
enum Done {
    /// The changes of REGISTER number `id` are stored (or not).
    Register { id: u64, result: CommitResult },
    /// Removals of expired bindings are stored (or not).
    Expired { count: usize, result: CommitResult },
}

/// The server's state.
pub(crate) struct Server {
    pub(crate) handle: Handle,
    pub(crate) registrar: Registrar,
    pub(crate) auth: Authenticator,
    pub(crate) protect: Protection,
    pub(crate) users: SqliteStore,
    pub(crate) committer: Arc<GroupCommitter>,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: Option<mpsc::UnboundedReceiver<Done>>,
    pending: HashMap<u64, (TransactionId, PendingResponse)>,
    next_id: u64,
    warned_unimplemented: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("registrar", &self.registrar)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl Server {
    pub(crate) fn new(
        handle: Handle,
        registrar: Registrar,
        auth: Authenticator,
        protect: Protection,
        users: SqliteStore,
        committer: Arc<GroupCommitter>,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Self {
            handle,
            registrar,
            auth,
            protect,
            users,
            committer,
            done_tx,
            done_rx: Some(done_rx),
            pending: HashMap::new(),
            next_id: 0,
            warned_unimplemented: false,
        }
    }

    /// Runs until the incoming stream ends or `stop` fires.
    pub(crate) async fn run(
        mut self,
        mut incoming: mpsc::Receiver<Incoming>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) {
        let Some(mut done_rx) = self.done_rx.take() else {
            return;
        };
        loop {
            let now = Instant::now();
            let deadline = self
                .registrar
                .poll_timeout(now, unix_now())
                .map_or(now + HOUSEKEEPING, |d| d.min(now + HOUSEKEEPING))
                // Whole seconds: a binding expires at the end of its second.
                + Duration::from_millis(10);
            tokio::select! {
                event = incoming.recv() => match event {
                    Some(Incoming::Request { tx, request, source }) => {
                        // Load: requests waiting here and REGISTERs waiting
                        // for the store. Over the watermark, new requests
                        // get 503 with Retry-After (Protection::admit).
                        let was = self.protect.is_overloaded();
                        let load = incoming.len() + self.pending.len();
                        if self.protect.set_load(load) != was {
                            if was {
                                tracing::info!(load, "overload over: accepting requests again");
                            } else {
                                tracing::warn!(load, "overloaded: answering new requests with 503");
                            }
                        }
                        self.on_request(tx, request, source).await;
                    }
                    Some(_) => {}
                    None => break,
                },
                Some(done) = done_rx.recv() => self.on_done(done).await,
                () = tokio::time::sleep_until(deadline.into()) => self.housekeeping(),
                _ = &mut stop => break,
            }
        }
        // Answer what the store still has in hand before the driver stops.
        // An empty submission is a barrier: it completes after everything
        // queued before it.
        let (barrier_tx, barrier_rx) = tokio::sync::oneshot::channel();
        if self
            .committer
            .submit_with(Vec::new(), move |_| {
                let _ = barrier_tx.send(());
            })
            .is_ok()
        {
            let _ = tokio::time::timeout(Duration::from_secs(10), barrier_rx).await;
        }
        while let Ok(done) = done_rx.try_recv() {
            self.on_done(done).await;
        }
    }

    async fn send(&self, tx: TransactionId, response: Result<Response, impl std::fmt::Display>) {
        match response {
            Ok(r) => {
                if let Err(e) = self.handle.respond(tx, r).await {
                    tracing::debug!(error = %e, "response not sent");
                }
            }
            Err(e) => tracing::debug!(error = %e, "no response can be built for the request"),
        }
    }

    async fn on_request(&mut self, tx: TransactionId, request: Request, source: Source) {
        let now = Instant::now();
        let ip = source.remote.ip();
        match self.protect.admit(now, ip, request.method()) {
            Admission::Accept => {}
            Admission::Drop => return,
            Admission::Reject { retry_after, .. } => {
                let tag = self.handle.new_tag().await.unwrap_or_default();
                self.send(tx, service_unavailable(&request, retry_after, &tag))
                    .await;
                return;
            }
        }
        match request.method() {
            Method::Register => self.on_register(tx, request, source, ip).await,
            Method::Options if is_for_server(&request) => {
                let tag = self.handle.new_tag().await.unwrap_or_default();
                let ok = ResponseBuilder::from_request(&request, StatusCode::OK)
                    .to_tag(&tag)
                    .header(HeaderName::Allow, ALLOW)
                    .header(HeaderName::Accept, "application/sdp")
                    .header(HeaderName::Supported, "path, outbound")
                    .build();
                self.send(tx, ok).await;
            }
            method => {
                if !self.warned_unimplemented {
                    self.warned_unimplemented = true;
                    tracing::info!(
                        %method,
                        "answering 501 Not Implemented: this version is a registrar only; proxying comes later"
                    );
                }
                let tag = self.handle.new_tag().await.unwrap_or_default();
                let answer = ResponseBuilder::from_request(&request, StatusCode::NOT_IMPLEMENTED)
                    .to_tag(&tag)
                    .header(HeaderName::Allow, ALLOW)
                    .build();
                self.send(tx, answer).await;
            }
        }
    }

    /// The user's HA1 values in `realm`, `Ok(None)` for no such user.
    fn lookup(&self, user: &str, realm: &str) -> Result<Option<Ha1Set>, StoreError> {
        Ok(self.users.get_user(user, realm)?.map(|u| Ha1Set {
            md5: Some(u.ha1.md5().to_owned()),
            sha256: Some(u.ha1.sha256().to_owned()),
            sha512_256: Some(u.ha1.sha512_256().to_owned()),
        }))
    }

    async fn on_register(
        &mut self,
        tx: TransactionId,
        request: Request,
        source: Source,
        ip: IpAddr,
    ) {
        let now = Instant::now();
        let unix = unix_now();
        let Some(realm) = self.registrar.realm_for(&request).map(str::to_owned) else {
            // Not our domain: the registrar answers 404 (no challenge first).
            self.register(tx, request, source, None).await;
            return;
        };
        let mut user = None;
        let result = match Authenticator::credentials(&request, &realm, false) {
            Offered::Digest(c) => {
                user = Some(c.username.to_string());
                match self.protect.auth_gate(now, ip, Some(&c.username)) {
                    AuthGate::Locked { scope, remaining } => {
                        tracing::debug!(?scope, ?remaining, user = %c.username, "authentication locked out");
                        self.auth.failure()
                    }
                    AuthGate::Proceed => match self.lookup(&c.username, &realm) {
                        Ok(ha1) => self.auth.verify(unix, &request, &c, &realm, ha1.as_ref()),
                        Err(e) => {
                            tracing::error!(error = %e, "user lookup failed: answering 500");
                            let tag = self.handle.new_tag().await.unwrap_or_default();
                            let answer = ResponseBuilder::from_request(
                                &request,
                                StatusCode::SERVER_INTERNAL_ERROR,
                            )
                            .to_tag(&tag)
                            .header(HeaderName::RetryAfter, "5")
                            .build();
                            self.send(tx, answer).await;
                            return;
                        }
                    },
                }
            }
            _ => self
                .auth
                .authenticate(unix, &request, &realm, false, |_| None),
        };
        for (scope, length) in self.protect.record_auth(now, ip, user.as_deref(), &result) {
            tracing::warn!(?scope, ?length, source = %ip, user = user.as_deref().unwrap_or("-"), "locked out after failed authentications");
        }
        match result {
            AuthResult::Ok { identity, .. } => {
                self.register(tx, request, source, Some(&identity)).await;
            }
            other => {
                if let Some(answer) = self.auth.respond(unix, &request, &realm, false, &other) {
                    self.send(tx, answer).await;
                }
            }
        }
    }

    async fn register(
        &mut self,
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
                self.send(tx, Ok::<_, String>(r)).await;
            }
            RegisterOutcome::Commit { changes, then } => {
                let stored: Vec<_> = changes.iter().map(convert::change_to_store).collect();
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(id, (tx, then));
                let done = self.done_tx.clone();
                let submitted = self.committer.submit_with(stored, move |result| {
                    let _ = done.send(Done::Register { id, result });
                });
                if let Err(e) = submitted {
                    tracing::warn!(error = %e, "bindings not queued for the store: answering 500");
                    self.finish(id, Err(e)).await;
                }
            }
        }
    }

    async fn finish(&mut self, id: u64, result: CommitResult) {
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
        self.send(tx, answer).await;
    }

    async fn on_done(&mut self, done: Done) {
        match done {
            Done::Register { id, result } => self.finish(id, result).await,
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
            let stored: Vec<_> = expired.iter().map(convert::change_to_store).collect();
            let done = self.done_tx.clone();
            if let Err(e) = self.committer.submit_with(stored, move |result| {
                let _ = done.send(Done::Expired { count, result });
            }) {
                tracing::warn!(count, error = %e, "expired bindings not queued for removal");
            }
        }
        let now = Instant::now();
        self.protect.purge(now);
        self.auth.purge(unix);
        if self.pending.capacity() > 1024 && self.pending.len() < self.pending.capacity() / 4 {
            self.pending.shrink_to(1024.max(self.pending.len() * 2));
        }
    }
}

/// An OPTIONS the server answers itself: its Request-URI names no user.
fn is_for_server(request: &Request) -> bool {
    request.uri().as_sip().is_none_or(|s| s.user.is_none())
}
