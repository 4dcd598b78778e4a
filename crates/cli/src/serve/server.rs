//! The effect executor: runs the sans-IO [`Service`] on the network
//! driver's task (an [`App`]: a request is answered in the same pass that
//! read it) and carries out what it asks for, off that task:
//!
//! * [`Effect::Store`] and [`Effect::Save`]: through the [`GroupCommitter`]
//!   (its own thread and SQLite connection, many REGISTERs, SUBSCRIBEs and
//!   kept MESSAGEs per fsync); its callback sends the outcome back through
//!   the app's channel, and only then does the service send the 200 OK (or
//!   the 202);
//! * [`Effect::LookupUser`] and [`Effect::CheckUsers`]: SQLite reads on a
//!   blocking thread (a second connection of the WAL database, where
//!   readers never wait for the writer);
//! * [`Effect::Resolve`]: an RFC 3263 lookup on its own task.
//!
//! The clocks are read here, once per input, into one [`Now`].

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_admin::{AdminQuery, AdminReply};

use super::aor_index::AorIndex;
use super::media_sockets::MediaSockets;
use super::metrics::RuntimeMetrics;
use switchboard_core::{Endpoint, Event, Now};
use switchboard_net::resolver::Resolver;
use switchboard_net::{App, AppSender, ReloadableCertificate};
use switchboard_server::Service;
use switchboard_server::protect::LoadSignal;
use switchboard_server::proxy::NextHop;
use switchboard_server::service::{Completion, Effect, EffectError, StoreId, StoreUnavailable};
use switchboard_store::{AnyStore, GroupCommitter, StoreError, Submission, UserStore};
use tokio::sync::oneshot;

/// Longest wait for one DNS resolution (RFC 3263).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(8);

/// What comes back to the driver task.
#[derive(Debug)]
pub(crate) enum Done {
    /// An effect's outcome.
    Completed(Completion),
    /// A store submission's outcome, `took` after it was submitted.
    Committed {
        completion: Completion,
        took: Duration,
    },
    /// Everything submitted before this is reported (shutdown).
    Barrier(oneshot::Sender<()>),
    /// The admin API changed users: the changes since the version the
    /// service holds are read off the driver and applied, then the
    /// question is answered.
    UsersChanged(AdminReply),
    /// A new dial plan (SIGHUP), loaded and checked off the driver.
    Reload(Arc<switchboard_routing::Plan>),
    /// A clean stop: the service says goodbye (the final NOTIFYs when
    /// configured), then the reply: how many subscriptions it ended.
    Shutdown(oneshot::Sender<usize>),
    /// A question of the admin API, answered from the service's getters.
    Admin(AdminQuery, AdminReply),
    /// What another node of the cluster changed.
    Cluster(switchboard_server::cluster::ClusterChange),
    /// A datagram read on the media relay's `local_port`.
    Media {
        local_port: u16,
        source: std::net::SocketAddr,
        bytes: bytes::Bytes,
    },
}

/// Both clocks, read together.
pub(crate) fn now_at(instant: Instant) -> Now {
    Now::new(
        instant,
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    now_at(Instant::now()).unix()
}

/// The server on the driver task, and what carries out its effects.
#[derive(Debug)]
pub(crate) struct Server {
    service: Service,
    /// The reading connection (lookups, user reloads).
    users: Arc<AnyStore>,
    committer: Arc<GroupCommitter>,
    resolver: Arc<Resolver>,
    done: AppSender<Done>,
    /// Store commit latency, timer lag and UDP read passes, for `/metrics`.
    metrics: RuntimeMetrics,
    /// The users in order, for the admin API's pages of registrations.
    registrations: AorIndex,
    /// The media relay's sockets, when `[media] relay` is on.
    media: Option<MediaSockets>,
}

impl Server {
    pub(crate) fn new(
        service: Service,
        users: AnyStore,
        committer: Arc<GroupCommitter>,
        resolver: Arc<Resolver>,
        done: AppSender<Done>,
        certificates: Vec<Arc<ReloadableCertificate>>,
        media: Option<MediaSockets>,
    ) -> Self {
        Self {
            service,
            users: Arc::new(users),
            committer,
            resolver,
            done,
            metrics: RuntimeMetrics::new(certificates),
            registrations: AorIndex::default(),
            media,
        }
    }

    /// Carries out every effect the service asked for; a submission the
    /// store refuses at once is reported back at once.
    fn run_effects(&mut self, now: Now, ep: &mut Endpoint) {
        while let Some(effect) = self.service.poll_effect() {
            if let Some(failed) = self.start(effect) {
                self.service.handle_completion(now, ep, failed);
            }
        }
        while let Some(transmit) = self.service.poll_media_transmit() {
            if let Some(media) = &self.media {
                media.send(&transmit);
            }
        }
    }

    /// Queues a submission for the group commit; [`Completion::Stored`]
    /// comes back once it is durable, or at once when it is refused.
    fn commit(&self, id: StoreId, submission: Submission) -> Option<Completion> {
        let done = self.done.clone();
        let at = Instant::now();
        let submitted = self.committer.submit_any_with(submission, move |result| {
            done.send(Done::Committed {
                completion: Completion::Stored {
                    id,
                    result: result.map_err(effect_error),
                },
                took: at.elapsed(),
            });
        });
        submitted.err().map(|e| Completion::Stored {
            id,
            result: Err(effect_error(e)),
        })
    }

    /// Starts one effect; its outcome comes back as [`Done::Completed`],
    /// or is returned when it failed before it started.
    fn start(&self, effect: Effect) -> Option<Completion> {
        match effect {
            Effect::Store { id, changes } => self.commit(id, Submission::Bindings(changes)),
            Effect::Save { id, changes } => self.commit(id, Submission::State(changes)),
            Effect::LookupUser { id, name, domain } => {
                let (users, done) = (Arc::clone(&self.users), self.done.clone());
                tokio::task::spawn_blocking(move || {
                    let result = users.get_user(&name, &domain).map_err(effect_error);
                    done.send(Done::Completed(Completion::User { id, result }));
                });
                None
            }
            Effect::CheckUsers { version } => {
                let (users, done) = (Arc::clone(&self.users), self.done.clone());
                tokio::task::spawn_blocking(move || {
                    done.send(Done::Completed(users_since(&users, version)));
                });
                None
            }
            Effect::Resolve { id, uri } => {
                let (resolver, done) = (Arc::clone(&self.resolver), self.done.clone());
                tokio::spawn(async move {
                    // Every target, in RFC 3263 order: the proxy fails over
                    // along them (§4.3).
                    let hops =
                        match tokio::time::timeout(RESOLVE_TIMEOUT, resolver.resolve_str(&uri))
                            .await
                        {
                            Ok(Ok(targets)) => targets
                                .iter()
                                .map(|t| NextHop::address(t.transport, t.addr))
                                .collect(),
                            Ok(Err(e)) => {
                                tracing::debug!(%uri, error = %e, "next hop not resolved");
                                Vec::new()
                            }
                            Err(_) => {
                                tracing::debug!(%uri, "next hop resolution timed out");
                                Vec::new()
                            }
                        };
                    done.send(Done::Completed(Completion::Resolved { id, hops }));
                });
                None
            }
            other => {
                tracing::warn!(effect = ?other, "effect not carried out by this runtime");
                None
            }
        }
    }
}

impl App for Server {
    type Message = Done;

    fn on_event(&mut self, now: Instant, ep: &mut Endpoint, event: Event) {
        let now = now_at(now);
        self.metrics.sample(now, &self.service);
        self.service.handle_event(now, ep, event);
        self.run_effects(now, ep);
    }

    fn on_message(&mut self, now: Instant, ep: &mut Endpoint, done: Done) {
        let now = now_at(now);
        self.metrics.sample(now, &self.service);
        match done {
            Done::Completed(completion) => self.service.handle_completion(now, ep, completion),
            Done::Committed { completion, took } => {
                self.metrics.committed(took);
                // Only a commit that worked says how loaded the store is: a
                // failed one (the database unreachable) already answers 503
                // on its own path, and its seconds of waiting would keep the
                // gate shut after the database is back.
                if matches!(completion, Completion::Stored { result: Ok(()), .. }) {
                    self.service
                        .observe_load(now, LoadSignal::CommitLatency(took));
                }
                self.service.handle_completion(now, ep, completion);
            }
            Done::Reload(plan) => {
                // The old plan is freed off the driver (a big one takes
                // a while to drop).
                let old = self.service.set_plan(plan);
                tokio::task::spawn_blocking(move || drop(old));
            }
            Done::Barrier(reply) => {
                let _ = reply.send(());
            }
            Done::UsersChanged(reply) => {
                let (users, done) = (Arc::clone(&self.users), self.done.clone());
                let version = self.service.users_version();
                tokio::task::spawn_blocking(move || {
                    done.send(Done::Completed(users_since(&users, version)));
                    done.send(Done::Admin(AdminQuery::ReloadUsers, reply));
                });
            }
            Done::Admin(query, reply) => {
                let answer = super::admin::answer(
                    query,
                    &mut self.service,
                    ep,
                    &self.metrics,
                    &mut self.registrations,
                    now,
                );
                let _ = reply.send(answer);
            }
            Done::Cluster(change) => self.service.apply_cluster(now, ep, change),
            Done::Media {
                local_port,
                source,
                bytes,
            } => {
                if let Some(media) = &self.media {
                    media.handled();
                }
                self.service.handle_media(now, local_port, source, bytes);
            }
            Done::Shutdown(reply) => {
                let before = self.service.subscription_count();
                self.service.shutdown(now, ep);
                self.run_effects(now, ep);
                let ended = before.saturating_sub(self.service.subscription_count());
                let _ = reply.send(ended);
            }
        }
        self.run_effects(now, ep);
    }

    fn poll_timeout(&self, _now: Instant) -> Option<Instant> {
        self.service.poll_timeout()
    }

    fn handle_timeout(&mut self, now: Instant, ep: &mut Endpoint) {
        let now = now_at(now);
        self.metrics.sample(now, &self.service);
        self.service.handle_timeout(now, ep);
        self.run_effects(now, ep);
    }

    fn timer_fired(&mut self, late: Duration) {
        self.metrics.timer_fired(late);
        // The driver behind its input: the overload gate follows it.
        self.service
            .observe_load(now_at(Instant::now()), LoadSignal::TimerLag(late));
    }

    fn read_backlog(&mut self, now: Instant, datagrams: usize) {
        self.metrics.read_pass(datagrams);
        // Datagrams waiting in the socket: the gate closes before the
        // buffer overflows and clients retransmit.
        self.service
            .observe_load(now_at(now), LoadSignal::ReadBacklog(datagrams));
    }
}

/// What changed in the store's users since `version`: only the users
/// changed (the cost of one `user passwd` is one user, whatever the number
/// of users) while the change log reaches back that far; every user
/// otherwise (the log was pruned past it), built into a directory here.
/// Read off the driver.
fn users_since(store: &AnyStore, version: u64) -> Completion {
    match store.user_changes_since(version) {
        Ok(Some(delta)) => Completion::UserChanges(Ok(delta)),
        Ok(None) => {
            tracing::info!(
                version,
                "user change log pruned past the version held: reading every user"
            );
            match store.user_directory() {
                Ok(directory) => Completion::UserDirectory(Box::new(directory)),
                Err(error) => Completion::UserChanges(Err(error.into())),
            }
        }
        Err(error) => Completion::UserChanges(Err(error.into())),
    }
}

/// A store error as the service sees it: a database that cannot be reached
/// is [`StoreUnavailable`] (a REGISTER gets 503 with Retry-After, not 500).
fn effect_error(error: StoreError) -> EffectError {
    if matches!(error, StoreError::Unavailable(_)) {
        Box::new(StoreUnavailable(Box::new(error)))
    } else {
        Box::new(error)
    }
}
