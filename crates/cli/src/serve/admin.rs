//! The admin API's questions, answered on the driver task from the
//! service's public getters: plain snapshots leave this task, never a
//! reference into the service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use switchboard_admin::AdminReply;
use switchboard_admin::{
    AdminAnswer, AdminConfig, AdminQuery, Call, CallMedia, CallMediaLeg, CallParty, Counts, Driver,
    Gateway, Group, HungUp, Limits, Listener, PlanReload, PlanSummary, PlanTrunk, Registration,
    ServerInfo, Tokens, Trunk, TrunkRegistration, UserFilter,
};
use switchboard_config::Settings;
use switchboard_core::{Endpoint, Now, Transport};
use switchboard_net::AppSender;
use switchboard_server::registrar::Aor;
use switchboard_server::service::HangupAction;
use switchboard_server::{LiveCall, LiveMediaLeg, Service, ServiceConfig};

use super::StartError;
use super::admin_thread::{AdminThread, ThreadError};
use super::aor_index::AorIndex;
use super::metrics::RuntimeMetrics;
use super::server::Done;
use switchboard_server::registrar::Binding;
use switchboard_server::trunks::{RegistrationState, TrunkStatus};

/// The answer to `query` now; a hang-up is carried out at once (its
/// BYEs or CANCEL go through `ep`, its record through the effects the
/// caller runs next).
pub(crate) fn answer(
    query: AdminQuery,
    service: &mut Service,
    ep: &mut Endpoint,
    metrics: &RuntimeMetrics,
    index: &mut AorIndex,
    now: Now,
) -> AdminAnswer {
    let unix_now = now.unix();
    match query {
        AdminQuery::Calls => {
            AdminAnswer::Calls(service.live_calls(now).into_iter().map(live_call).collect())
        }
        AdminQuery::HangUp { call_id } => {
            AdminAnswer::HungUp(match service.hang_up(now, ep, &call_id) {
                Ok(action) => Some(HungUp {
                    call_id,
                    action: match action {
                        HangupAction::Cancel => "cancel",
                        _ => "bye",
                    }
                    .to_owned(),
                }),
                Err(error) => {
                    tracing::debug!(%error, "admin: hang-up refused");
                    None
                }
            })
        }
        AdminQuery::Metrics => AdminAnswer::Metrics(metrics.render(service, ep)),
        AdminQuery::Dashboard => AdminAnswer::Dashboard(metrics.activity().snapshot(service, now)),
        AdminQuery::Counts => AdminAnswer::Counts(Counts {
            registrations: service.registrar().binding_count(),
            registered_users: service.registrar().aor_count(),
            transactions: ep.transaction_count(),
            subscriptions: service.subscription_count(),
            calls: service.calls().len(),
            users: service.user_count(),
        }),
        AdminQuery::Certificates => AdminAnswer::Certificates(metrics.certificates(unix_now)),
        AdminQuery::Cluster => AdminAnswer::Cluster(cluster_status(service)),
        AdminQuery::Registrations { user } => AdminAnswer::Registrations(
            service
                .registrar()
                .bindings(unix_now)
                .filter(|b| is_of(b, user.as_ref()))
                .map(|b| registration(b, unix_now))
                .collect(),
        ),
        AdminQuery::Trunks => {
            AdminAnswer::Trunks(service.trunks().states().into_iter().map(trunk).collect())
        }
        AdminQuery::RegistrationsPage { user, after, limit } => {
            AdminAnswer::RegistrationsPage(super::admin_views::registrations_page(
                service,
                index,
                now,
                user.as_ref(),
                after.as_deref(),
                limit,
            ))
        }
        AdminQuery::RemoveRegistrations { user, contact } => {
            AdminAnswer::RegistrationsRemoved(service.remove_bindings(now, ep, |b| {
                is_of(b, Some(&user)) && contact.as_deref().is_none_or(|c| b.contact == c)
            }))
        }
        AdminQuery::Groups => AdminAnswer::Groups(
            service
                .plan()
                .group_members()
                .into_iter()
                .map(|(name, members)| Group { name, members })
                .collect(),
        ),
        AdminQuery::Presence { user } => AdminAnswer::Presence(super::admin_views::presence(
            service,
            unix_now,
            user.as_ref(),
        )),
        // Asked again once the store was read (see `Done::UsersChanged`):
        // the changes went before it through the same channel.
        AdminQuery::ReloadUsers => AdminAnswer::UsersReloaded(service.user_count()),
        // Asked once the new plan went before it (see `reload_plan`).
        AdminQuery::ReloadPlan => AdminAnswer::PlanReloaded(PlanReload::Loaded {
            version: service.plan().version().to_owned(),
        }),
        AdminQuery::RouteTest(call) => super::admin_views::route_test(service, unix_now, &call),
        AdminQuery::Plan => {
            let plan = service.plan();
            AdminAnswer::Plan(PlanSummary {
                version: plan.version().to_owned(),
                trunks: plan
                    .trunks()
                    .iter()
                    .map(|t| PlanTrunk {
                        name: t.name.clone(),
                        gateways: t.gateways.iter().map(|g| g.uri.clone()).collect(),
                        registers: t.register.is_some(),
                        probed: t.probe.is_some(),
                    })
                    .collect(),
            })
        }
    }
}

fn live_call(call: LiveCall) -> Call {
    let aor_text = |aor: Option<&Aor>| aor.map(ToString::to_string);
    Call {
        caller: CallParty {
            uri: call.caller.uri,
            display: call.caller.display,
            user: call
                .caller_user
                .or_else(|| aor_text(call.caller_aor.as_ref())),
            devices: call.caller_contact.into_iter().collect(),
        },
        callee: CallParty {
            uri: call.callee.uri,
            display: call.callee.display,
            user: aor_text(call.callee_aor.as_ref()),
            devices: call.callee_contacts,
        },
        call_id: call.call_id,
        dialled: call.dialled,
        state: call.state.as_str().to_owned(),
        start_ms: call.start_ms,
        answer_ms: call.answer_ms,
        duration_ms: call.duration_ms,
        rule: call.rule,
        trunk: call.trunk,
        media: call.media.map(|m| CallMedia {
            caller: media_leg(m.caller),
            callee: media_leg(m.callee),
        }),
    }
}

fn media_leg(leg: LiveMediaLeg) -> CallMediaLeg {
    let counters = leg.counters;
    CallMediaLeg {
        relay_ports: leg.relay_ports,
        packets_in: counters.packets_in,
        bytes_in: counters.bytes_in,
        packets_out: counters.packets_out,
        bytes_out: counters.bytes_out,
        lost: counters.lost,
        jitter: counters.jitter,
    }
}

pub(crate) fn is_of(binding: &Binding, user: Option<&UserFilter>) -> bool {
    user.is_none_or(|f| f.matches(binding.aor.user(), binding.aor.domain()))
}

pub(crate) fn registration(b: &Binding, unix_now: u64) -> Registration {
    Registration {
        aor: format!("sip:{}", b.aor),
        contact: b.contact.clone(),
        expires_in: b.remaining(unix_now),
        expires_at: b.expires_at,
        q: b.q.map(|q| f64::from(q) / 1000.0),
        transport: b.source.transport.as_lowercase_token().to_owned(),
        source: b.source.remote.to_string(),
        user_agent: b.user_agent.as_deref().map(str::to_owned),
        instance: b.instance.clone(),
        reg_id: b.reg_id,
        registered_at: b.registered_at,
        updated_at: b.updated_at,
    }
}

pub(super) fn trunk(status: TrunkStatus) -> Trunk {
    Trunk {
        name: status.name,
        gateways: status
            .gateways
            .into_iter()
            .map(|g| Gateway {
                uri: g.uri,
                health: g.health.as_str().to_owned(),
                probed: g.probed,
                successes: g.successes,
                failures: g.failures,
                changed_at: g.changed_at,
            })
            .collect(),
        registration: match status.registration {
            RegistrationState::Off => TrunkRegistration::Off,
            RegistrationState::Registering => TrunkRegistration::Registering,
            RegistrationState::Registered { until } => TrunkRegistration::Registered { until },
            RegistrationState::Failed { status, retry_at } => {
                TrunkRegistration::Failed { status, retry_at }
            }
        },
    }
}

/// The limits `/status` shows, read from the configuration before the
/// service takes it.
pub(crate) fn limits(config: &ServiceConfig, settings: &Settings) -> Limits {
    Limits {
        max_transactions: settings.transaction_limit(),
        max_bindings: config.registrar.max_bindings,
        max_contacts_per_aor: config.registrar.max_contacts_per_aor,
        min_expires: config.registrar.min_expires,
        max_expires: config.registrar.max_expires,
    }
}

/// Starts the admin API when configured. A port already taken only logs
/// a warning (several servers on one host, tests among them): the SIP
/// server runs without its API.
pub(crate) async fn start(
    settings: &Settings,
    listeners: &[(Transport, SocketAddr)],
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    done: &AppSender<Done>,
    config_file: Option<PathBuf>,
) -> Result<Option<AdminThread>, StartError> {
    let Some(addr) = settings.admin else {
        tracing::info!("admin: off");
        return Ok(None);
    };
    // Off the runtime's thread: see `store::blocking`. A handle for the
    // tokens (users changed through the API are read by the server's own).
    let tokens = crate::store::blocking(|| {
        let store = Arc::new(
            crate::store::location(&settings.data, settings.database.as_deref())
                .and_then(|at| at.open_secondary())?,
        );
        Tokens::load(store)
    })
    .map_err(StartError::AdminStore)?;
    let tokens = Arc::new(tokens);
    let info = ServerInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        listeners: listeners
            .iter()
            .map(|(transport, addr)| Listener {
                transport: transport.as_lowercase_token().to_owned(),
                address: addr.to_string(),
            })
            .collect(),
        domains: settings.domains.clone(),
        limits,
    };
    let done = done.clone();
    let driver = Driver::new(move |query, reply| match query {
        // Work off the driver first, then the question goes to it.
        AdminQuery::ReloadUsers => done.send(Done::UsersChanged(reply)),
        AdminQuery::ReloadPlan => {
            tokio::spawn(reload_plan(config_file.clone(), done.clone(), reply));
            true
        }
        query => done.send(Done::Admin(query, reply)),
    });
    let tls = if addr.ip().is_loopback() { None } else { tls };
    let token_count = tokens.len();
    match AdminThread::start(AdminConfig { addr, tls, info }, driver, tokens).await {
        Ok(server) => {
            tracing::info!(
                tokens = token_count,
                "admin: API on {}/api/v1 (switchboard token create NAME for a token)",
                server.url()
            );
            Ok(Some(server))
        }
        Err(ThreadError::Start(e @ switchboard_admin::StartError::Bind { .. })) => {
            tracing::warn!("admin: API not started, the server runs without it: {e}");
            Ok(None)
        }
        Err(e) => Err(StartError::Admin(e)),
    }
}

/// `POST /routes/reload`: the plan loaded as on SIGHUP (the same
/// function); a plan that does not load is refused with the reason.
async fn reload_plan(config: Option<PathBuf>, done: AppSender<Done>, reply: AdminReply) {
    match super::reload_plan(config, &done, "admin API").await {
        Ok(()) => {
            done.send(Done::Admin(AdminQuery::ReloadPlan, reply));
        }
        Err(detail) => {
            let _ = reply.send(AdminAnswer::PlanReloaded(PlanReload::Refused { detail }));
        }
    }
}

/// This node and the cluster's nodes as of the latest heartbeat (`None`:
/// alone).
fn cluster_status(service: &Service) -> Option<switchboard_admin::ClusterStatus> {
    let node = service.cluster_node()?.to_owned();
    let nodes = service
        .cluster_nodes()
        .iter()
        .map(|n| switchboard_admin::ClusterNode {
            name: n.name.clone(),
            sip_uri: n.sip_uri.clone(),
            admin_url: n.admin_url.clone(),
            started_ms: n.started_ms,
            heartbeat_ms: n.heartbeat_ms,
            alive: n.alive,
        })
        .collect();
    Some(switchboard_admin::ClusterStatus { node, nodes })
}
