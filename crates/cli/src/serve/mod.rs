//! `switchboard serve`: the registrar on UDP and TCP (and TLS, WS, WSS when
//! configured), with users and bindings in SQLite under the data directory.
//!
//! This module turns the settings into running parts and logs one line per
//! startup fact; [`server`] is the serve loop. The binary is the only place
//! besides `switchboard-net` that uses tokio.

mod config;
mod server;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_net::resolver::Resolver;
use switchboard_net::{Listen, TlsServer, app_channel};
use switchboard_server::proxy::{Listener, Mode, ProxyConfig};
use switchboard_server::registrar::RegistrarConfig;
use switchboard_server::{AuthConfig, AuthSecret, ProtectConfig, Service, ServiceConfig};
use switchboard_store::{BindingStore, CommitterConfig, GroupCommitter, SqliteStore, UserStore};

pub(crate) use config::{DEFAULT_DATA, Flags, default_domains, default_listeners};
use server::now_at;
pub(crate) use server::unix_now;

use crate::{EXIT_FAILURE, EXIT_UNAVAILABLE, Error};

/// Live transactions before new requests get 503. Over UDP an answered
/// transaction lives 32 s (RFC 3261 Timers J and K), and a proxied call
/// keeps about three: 300,000 carries some 3,000 calls or 4,500
/// registrations a second, and bounds their memory to well under 1 GB.
const DEFAULT_MAX_TRANSACTIONS: usize = 300_000;

/// Runs the server until SIGINT or SIGTERM. Invalid settings: one line
/// naming the key, exit code 2.
pub(crate) fn serve(flags: &Flags, err: &mut dyn Write) -> Result<ExitCode, Error> {
    let settings = match config::resolve(flags) {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(ExitCode::from(EXIT_UNAVAILABLE));
        }
    };
    // One thread runs the network driver and the server on it (see
    // server.rs); the store writes on its own thread. A second runtime
    // worker measured worse: every datagram then crossed threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    match runtime.block_on(run(settings)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("cannot open the data directory {path}: {source}")]
    Store {
        path: String,
        source: switchboard_store::StoreError,
    },
    #[error("cannot load the TLS certificate or key: {0}")]
    Tls(#[from] switchboard_net::TlsError),
    #[error("cannot start the listeners: {0}")]
    Net(#[from] switchboard_net::StartError),
}

async fn run(settings: config::Settings) -> Result<(), StartError> {
    let data = settings.data.clone();
    let store_err = |source| StartError::Store {
        path: data.display().to_string(),
        source,
    };
    let users = SqliteStore::open(&settings.data).map_err(store_err)?;
    let db_path = users.path().map_or_else(
        || settings.data.display().to_string(),
        |p| p.display().to_string(),
    );
    tracing::info!("data: {db_path} (SQLite, WAL, synchronous=FULL)");
    let user_count = users.count_users(None).map_err(store_err)?;
    tracing::info!("users: {user_count} in the store");

    let mut rng = StdRng::from_os_rng();
    let mut rconfig = RegistrarConfig {
        domains: settings.domains.clone(),
        ..RegistrarConfig::default()
    };
    let r = &settings.registrar;
    if let Some(v) = r.min_expires {
        rconfig.min_expires = v;
    }
    if let Some(v) = r.max_expires {
        rconfig.max_expires = v;
    }
    if let Some(v) = r.default_expires {
        rconfig.default_expires = v;
    }
    if let Some(v) = r.max_contacts_per_aor {
        rconfig.max_contacts_per_aor = v;
    }
    if let Some(v) = r.max_bindings {
        rconfig.max_bindings = v;
    }
    let bindings = users.load_all().map_err(store_err)?;
    let unix = unix_now();
    let loaded = bindings.len();
    let live = bindings.iter().filter(|b| !b.is_expired(unix)).count();
    tracing::info!(
        "bindings: {live} live loaded from the store ({} expired while stopped, to be removed)",
        loaded - live
    );
    let committer = Arc::new(
        GroupCommitter::start(
            SqliteStore::open(&settings.data).map_err(store_err)?,
            CommitterConfig::default(),
        )
        .map_err(store_err)?,
    );

    let mut pconfig = ProtectConfig::default();
    let p = &settings.protection;
    if let Some(v) = p.rate_limit {
        pconfig.rate.enabled = v;
    }
    if let Some(v) = p.rate {
        pconfig.rate.rate = v;
    }
    if let Some(v) = p.burst {
        pconfig.rate.burst = v;
    }
    if let Some(v) = p.lockout {
        pconfig.lockout.enabled = v;
    }
    if let Some(v) = p.user_failures {
        pconfig.lockout.user_threshold = v;
    }
    if let Some(v) = p.source_failures {
        pconfig.lockout.source_threshold = v;
    }
    if pconfig.rate.enabled {
        tracing::info!(
            "protection: {} requests/s per source (bursts of {}), lockout {}",
            pconfig.rate.rate,
            pconfig.rate.burst,
            if pconfig.lockout.enabled { "on" } else { "off" }
        );
    } else {
        tracing::info!(
            "protection: no rate limit, lockout {}",
            if pconfig.lockout.enabled { "on" } else { "off" }
        );
    }
    let mut aconfig = AuthConfig::default();
    if let Some(v) = settings.auth.check_uri {
        aconfig.check_uri = v;
    }
    if let Some(algs) = &settings.auth.algorithms {
        // Checked when the configuration was read.
        aconfig.algorithms = algs.iter().filter_map(|a| a.parse().ok()).collect();
    }
    if let Some(v) = settings.auth.nonce_lifetime {
        aconfig.nonce_lifetime = v;
    }
    if let Some(agents) = &settings.auth.md5_only_user_agents {
        aconfig.md5_only_user_agents.clone_from(agents);
    }
    if !aconfig.check_uri {
        tracing::info!("auth: the digest uri is not checked against the Request-URI");
    }

    let mut net = switchboard_net::Config {
        listen: settings
            .listen
            .iter()
            .map(|&(t, a)| Listen::new(t, a))
            .collect(),
        ..switchboard_net::Config::default()
    };
    net.endpoint.max_transactions = settings
        .max_transactions
        .unwrap_or(DEFAULT_MAX_TRANSACTIONS);
    if let Some((cert, key)) = &settings.tls {
        net.tls_server = Some(TlsServer::from_pem_files(cert, key)?);
        tracing::info!("tls: certificate {}, key {}", cert.display(), key.display());
    }
    let (proxy_config, proxy_summary) = proxy_config(&settings);
    let mut config = ServiceConfig::new(rconfig, aconfig, pconfig, proxy_config);
    config.trust_foreign_callers = settings.proxy.trust_foreign_callers.unwrap_or(true);
    config
        .outbound_proxy
        .clone_from(&settings.proxy.outbound_proxy);
    let secret = AuthSecret::generate(&mut rng);
    let mut service = Service::new(
        config,
        secret,
        || Box::new(StdRng::from_rng(&mut rng)),
        now_at(std::time::Instant::now()),
    );
    service.load_bindings(bindings);
    match users.user_snapshot() {
        Ok(snapshot) => service.load_users(snapshot),
        Err(e) => {
            tracing::warn!(error = %e, "users not loaded into memory: looking each one up in the store")
        }
    }
    let resolver = match Resolver::from_system_conf() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "no DNS configuration: only numeric hosts and the hosts file resolve");
            Resolver::offline()
        }
    };
    let (done, done_rx) = app_channel();
    let server = server::Server::new(
        service,
        users,
        Arc::clone(&committer),
        Arc::new(resolver),
        done.clone(),
    );
    let handle =
        switchboard_net::start_app(net, Box::new(StdRng::from_rng(&mut rng)), server, done_rx)
            .await?;
    for (transport, addr) in handle.local_addrs() {
        tracing::info!(
            "listening: {} {addr}",
            transport.as_via_token().to_ascii_lowercase()
        );
    }
    tracing::info!("domains: {}", settings.domains.join(", "));
    tracing::info!(
        "serving: REGISTER (digest authentication, registrar), OPTIONS, and every other request {proxy_summary}"
    );
    tracing::info!("ready");
    wait_for_signal().await;
    tracing::info!("stopping");
    // Answer what the store still has in hand before the driver stops. An
    // empty submission is a barrier: its report comes after every report
    // of what was queued before it.
    let (barrier_tx, barrier_rx) = tokio::sync::oneshot::channel();
    if committer
        .submit_with(Vec::new(), move |_| {
            done.send(server::Done::Barrier(barrier_tx));
        })
        .is_ok()
    {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), barrier_rx).await;
    }
    handle.shutdown().await;
    if let Err(e) = committer.shutdown() {
        tracing::warn!(error = %e, "store writer stopped with an error");
    }
    Ok(())
}

/// The proxy's configuration from the settings, and how the startup log
/// describes it.
fn proxy_config(settings: &config::Settings) -> (ProxyConfig, String) {
    let mut listeners = Vec::new();
    for &(transport, addr) in &settings.listen {
        if addr.ip().is_unspecified() {
            // Record-Route needs an address peers can reach: the host's
            // own, then loopback.
            let mut hosts: Vec<String> = Vec::new();
            if let Some(ip) = config::primary_ip() {
                hosts.push(match ip {
                    std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                    std::net::IpAddr::V4(v4) => v4.to_string(),
                });
            }
            hosts.push(if addr.is_ipv6() { "[::1]" } else { "127.0.0.1" }.to_owned());
            for host in hosts {
                listeners.push(Listener {
                    transport,
                    addr,
                    host: Some(host),
                });
            }
        } else {
            listeners.push(Listener::new(transport, addr));
        }
    }
    let p = &settings.proxy;
    let mut pconfig = ProxyConfig::new(listeners, settings.domains.clone());
    // Checked when the configuration was read.
    if p.mode.as_deref() == Some("redirect") {
        pconfig.mode = Mode::Redirect;
    }
    if let Some(v) = p.record_route {
        pconfig.record_route = v;
    }
    if let Some(v) = p.timer_c {
        pconfig.timer_c = std::time::Duration::from_secs(v);
    }
    if let Some(v) = p.group_timeout {
        pconfig.group_timeout = std::time::Duration::from_secs(v);
    }
    if let Some(v) = p.recurse_on_3xx {
        pconfig.recurse_on_3xx = v;
    }
    if let Some(v) = p.max_branches {
        pconfig.max_branches = v;
    }
    let trust_foreign = p.trust_foreign_callers.unwrap_or(true);
    let summary = match pconfig.mode {
        Mode::Redirect => "redirected (302 with the registered contacts)".to_owned(),
        Mode::Proxy => format!(
            "proxied (local callers challenged with 407, callers from other domains {}, other domains reached {}, Record-Route {}, timer C {} s, serial forking every {} s, 3xx {})",
            if trust_foreign { "accepted" } else { "refused" },
            p.outbound_proxy.as_ref().map_or_else(
                || "by DNS (RFC 3263)".to_owned(),
                |o| format!("through {o}")
            ),
            if pconfig.record_route { "on" } else { "off" },
            pconfig.timer_c.as_secs(),
            pconfig.group_timeout.as_secs(),
            if pconfig.recurse_on_3xx {
                "recursed"
            } else {
                "returned"
            },
        ),
    };
    (pconfig, summary)
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
