//! `switchboard serve`: the registrar on UDP and TCP (and TLS, WS, WSS when
//! configured), with users and bindings in SQLite under the data directory.
//!
//! This module turns the settings into running parts and logs one line per
//! startup fact; [`server`] is the serve loop. The binary is the only place
//! besides `switchboard-net` that uses tokio.

mod admin;
mod admin_thread;
mod admin_views;
mod aor_index;
mod cluster;
mod dashboard;
mod media_sockets;
mod metrics;
mod server;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_config::{ConfigError, FileConfig, Flags, Host, Settings, Summary};
use switchboard_net::resolver::Resolver;
use switchboard_net::{AppSender, Listen, ReloadableCertificate, TlsServer, app_channel};
use switchboard_routing::Plan;
use switchboard_server::media::MediaPolicy;
use switchboard_server::{AuthSecret, Service};
use switchboard_store::{
    AnyStore, BindingStore, CommitterConfig, EventStateStore, GroupCommitter, UserStore,
};

use server::now_at;
pub(crate) use server::unix_now;

use crate::plan::load_plan;
use crate::{EXIT_FAILURE, EXIT_UNAVAILABLE, Error};

/// Runs the server until SIGINT or SIGTERM. Invalid settings: one line
/// naming the key, exit code 2.
pub(crate) fn serve(flags: &Flags, err: &mut dyn Write) -> Result<ExitCode, Error> {
    let host = probe_host();
    let settings = match read_settings(flags, &host) {
        Ok(s) => s,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(ExitCode::from(EXIT_UNAVAILABLE));
        }
    };
    let plan = match load_plan(flags.config.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "error: the dial plan does not load: {e}")?;
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
    match runtime.block_on(run(settings, host, plan, flags.config.clone())) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}

/// The `--config` file (read here: the config crate takes its text)
/// merged with the flags.
pub(crate) fn read_settings(flags: &Flags, host: &Host) -> Result<Settings, ConfigError> {
    let file = match &flags.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::unreadable_file(path, &e))?;
            FileConfig::parse(&text, path)?
        }
        None => FileConfig::default(),
    };
    switchboard_config::resolve(flags, file, host)
}

/// The host's own address and whether it has IPv6, for the defaults.
pub(crate) fn probe_host() -> Host {
    Host {
        primary_ip: primary_ip(),
        // A host without IPv6 cannot bind its loopback.
        has_ipv6: UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok(),
    }
}

/// The host's own address towards the rest of the network (no packet is
/// sent: connecting a UDP socket only picks the route), if it has one.
fn primary_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect(("198.51.100.1", 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
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
    #[error("cannot read the admin tokens: {0}")]
    AdminStore(switchboard_store::StoreError),
    #[error("cannot start the admin API: {0}")]
    Admin(admin_thread::ThreadError),
    #[error("cannot bind the media relay's ports on {0}: {1}")]
    MediaPorts(IpAddr, std::io::Error),
}

/// What `serve` reads from the store before it starts.
struct Loaded {
    users: AnyStore,
    bindings: Vec<switchboard_store::Binding>,
    state: switchboard_store::StoredState,
    committer: Arc<GroupCommitter>,
    /// Every user, for the server's memory (a failure only logs).
    snapshot: Result<switchboard_server::service::UserDirectory, switchboard_store::StoreError>,
    /// The cluster's change feed, positioned (PostgreSQL only).
    feed: Option<switchboard_store::ClusterFeed>,
}

/// Opens the store (either back end), loads what the server keeps in
/// memory and starts the group committer on a second handle.
fn load_store(settings: &Settings) -> Result<Loaded, StartError> {
    let data = settings.data.clone();
    let store_err = |source| StartError::Store {
        path: data.display().to_string(),
        source,
    };
    let location =
        crate::store::location(&settings.data, settings.database.as_deref()).map_err(store_err)?;
    let cluster = cluster::settings_for(settings, &location).map_err(store_err)?;
    let users = match &cluster {
        Some(c) => location.open_as(&c.session, false),
        None => location.open(),
    }
    .map_err(store_err)?;
    // The change log's position BEFORE the state is read: nothing another
    // node writes meanwhile is missed.
    let feed = match cluster {
        Some(c) => {
            tracing::info!(
                node = c.session.name(),
                advertise = %c.sip_uri,
                notify = c.notify,
                "cluster: this node shares the database with the others"
            );
            Some(switchboard_store::ClusterFeed::connect(c).map_err(store_err)?)
        }
        None => None,
    };
    match &users {
        AnyStore::Sqlite(sqlite) => {
            let db_path = sqlite.path().map_or_else(
                || settings.data.display().to_string(),
                |p| p.display().to_string(),
            );
            tracing::info!("data: {db_path} (SQLite, WAL, synchronous=FULL)");
        }
        _ => tracing::info!("data: {}", location.describe()),
    }
    let user_count = users.count_users(None).map_err(store_err)?;
    tracing::info!("users: {user_count} in the store");

    let bindings = users.load_all().map_err(store_err)?;
    let unix = unix_now();
    let loaded = bindings.len();
    let live = bindings.iter().filter(|b| !b.is_expired(unix)).count();
    tracing::info!(
        "bindings: {live} live loaded from the store ({} expired while stopped, to be removed)",
        loaded - live
    );
    // Subscriptions, publications and offline messages, as kept across
    // the restart (even a kill -9: each was durable before it was
    // acknowledged).
    let state = users.load_state().map_err(store_err)?;
    tracing::info!(
        "event state: {} subscriptions, {} publications, {} stored messages loaded",
        state.subscriptions.len(),
        state.publications.len(),
        state.messages.len()
    );
    let committer = Arc::new(
        GroupCommitter::start(
            match &feed {
                Some(f) => location.open_as(f.session(), true),
                None => location.open_secondary(),
            }
            .map_err(store_err)?,
            CommitterConfig::default(),
        )
        .map_err(store_err)?,
    );

    // Built here, off the driver: a million users take a while.
    let snapshot = users.user_directory();
    Ok(Loaded {
        users,
        bindings,
        state,
        committer,
        snapshot,
        feed,
    })
}

async fn run(
    settings: Settings,
    host: Host,
    plan: Plan,
    config_file: Option<PathBuf>,
) -> Result<(), StartError> {
    // The PostgreSQL client blocks on a runtime of its own, which tokio
    // refuses on this one's thread.
    let Loaded {
        users,
        bindings,
        state,
        committer,
        snapshot,
        feed,
    } = crate::store::blocking(|| load_store(&settings))?;
    let mut rng = StdRng::from_os_rng();
    let unix = unix_now();

    let config = settings.service_config(&host);
    let summary = Summary::of(&config);
    tracing::info!("{}", summary.protection);
    if let Some(auth) = &summary.auth {
        tracing::info!("{auth}");
    }

    let mut net = switchboard_net::Config {
        listen: settings
            .listen
            .iter()
            .map(|&(t, a)| Listen::new(t, a))
            .collect(),
        ..switchboard_net::Config::default()
    };
    net.endpoint.max_transactions = settings.transaction_limit();
    net.udp_buffer_bytes = settings.udp_buffer();
    let mut certificates = Vec::new();
    if let Some((cert, key)) = &settings.tls {
        let certificate = Arc::new(ReloadableCertificate::load(cert, key)?);
        net.tls_server = Some(TlsServer::reloading(Arc::clone(&certificate))?);
        log_certificate(&certificate, unix);
        certificates.push(certificate);
    }
    let admin_limits = admin::limits(&config, &settings);
    let admin_tls = net.tls_server.as_ref().map(TlsServer::config);
    let secret = AuthSecret::generate(&mut rng);
    // The relay's ports, bound on the address the SDP names.
    let media_ports = (config.media.policy != MediaPolicy::Never).then(|| {
        let ip = config
            .media
            .address
            .or_else(|| settings.listen.first().map(|(_, a)| a.ip()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        (ip, config.media.relay.ports.clone())
    });
    let mut service = Service::new(
        config,
        secret,
        || Box::new(StdRng::from_rng(&mut rng)),
        now_at(std::time::Instant::now()),
    );
    service.set_plan(Arc::new(plan));
    service.set_cluster_node(feed.as_ref().map(|f| f.session().name().to_owned()));
    service.load_bindings(bindings);
    service.load_state(state);
    match snapshot {
        Ok(directory) => {
            tracing::info!(users = directory.len(), "users loaded");
            service.set_user_directory(directory);
        }
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
    let media = match media_ports {
        Some((ip, ports)) => {
            let sockets = media_sockets::MediaSockets::bind(ip, ports.clone(), &done)
                .map_err(|e| StartError::MediaPorts(ip, e))?;
            tracing::info!("media relay: {ip} ports {}-{}", ports.start(), ports.end());
            Some(sockets)
        }
        None => None,
    };
    let server = server::Server::new(
        service,
        users,
        Arc::clone(&committer),
        Arc::new(resolver),
        done.clone(),
        certificates.clone(),
        media,
    );
    let handle =
        switchboard_net::start_app(net, Box::new(StdRng::from_rng(&mut rng)), server, done_rx)
            .await?;
    for (transport, addr) in handle.local_addrs() {
        tracing::info!(
            "listening: {} {addr}",
            transport.as_lowercase_token().to_owned()
        );
    }
    let feed = feed.and_then(|feed| cluster::start(feed, &done));
    tracing::info!("domains: {}", settings.domains.join(", "));
    let admin = admin::start(
        &settings,
        handle.local_addrs(),
        admin_limits,
        admin_tls,
        &done,
        config_file.clone(),
    )
    .await?;
    tracing::info!("{}", summary.serving);
    let pid_file = PidFile::write(&settings.data);
    // Renewal replaces the files: polled, a changed pair reloaded.
    let watchers: Vec<_> = certificates
        .iter()
        .map(|c| Arc::clone(c).watch(CERTIFICATE_POLL))
        .collect();
    tracing::info!("ready");
    wait_for_stop(config_file.as_deref(), &certificates, &done).await;
    tracing::info!("stopping");
    for watcher in watchers {
        watcher.abort();
    }
    drop(pid_file);
    if let Some(admin) = admin {
        admin.shutdown().await;
    }
    // The service's goodbye first (`terminated;reason=deactivated` to every
    // watcher when so configured): sent on the driver's pass, its store
    // removals caught by the barrier below.
    let (bye_tx, bye_rx) = tokio::sync::oneshot::channel();
    if done.send(server::Done::Shutdown(bye_tx)) {
        let ended = tokio::time::timeout(std::time::Duration::from_secs(5), bye_rx).await;
        if let Ok(Ok(ended @ 1..)) = ended {
            tracing::info!(subscriptions = ended, "watchers told the subscriptions end");
            // Let the watchers answer, so that a lost datagram is sent again.
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        }
    }
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
    if let Some(feed) = feed {
        let _ = tokio::task::spawn_blocking(move || feed.stop()).await;
    }
    if let Err(e) = committer.shutdown() {
        tracing::warn!(error = %e, "store writer stopped with an error");
    }
    Ok(())
}

/// How often the certificate and key files are looked at for a renewal.
const CERTIFICATE_POLL: std::time::Duration = std::time::Duration::from_secs(3);

/// The certificate in force at start; an expired one is served (the
/// plain transports must not stop for it) with a warning.
fn log_certificate(certificate: &ReloadableCertificate, unix_now: u64) {
    let info = certificate.info();
    let days_left = info.days_left(unix_now);
    let (cert, key) = (
        certificate.cert_path().display(),
        certificate.key_path().display(),
    );
    tracing::info!(
        subject = %info.subject,
        not_after = info.not_after,
        days_left,
        "tls: certificate {cert}, key {key} (reloaded on SIGHUP or when the files change)"
    );
    if info.not_after <= unix_now {
        tracing::warn!(
            subject = %info.subject,
            "tls: certificate {cert} expired: TLS clients refuse it until it is renewed"
        );
    }
}

/// How long the final NOTIFYs of a clean stop get before the sockets close
/// (a retransmission of a lost one goes out after 500 ms).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(1200);

/// Waits for SIGINT or SIGTERM; a SIGHUP meanwhile reloads the dial plan
/// and the TLS certificates (a plan or certificate that does not load is
/// refused and the running one stays).
#[cfg(unix)]
async fn wait_for_stop(
    config: Option<&std::path::Path>,
    certificates: &[Arc<ReloadableCertificate>],
    done: &AppSender<server::Done>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                for certificate in certificates {
                    let _ = certificate.reload_logged("SIGHUP");
                }
                let _ = reload_plan(config.map(std::path::Path::to_path_buf), done, "SIGHUP").await;
            }
        }
    }
}

/// Loads the dial plan of `config` again and hands it to the driver (SIGHUP
/// and `POST /api/v1/routes/reload`); the error names the file and line,
/// and the running plan stays.
async fn reload_plan(
    config: Option<PathBuf>,
    done: &AppSender<server::Done>,
    why: &str,
) -> Result<(), String> {
    // Read and checked on a blocking thread: a plan of 100,000 prefixes
    // must not stall the driver, which shares this thread.
    let loaded = tokio::task::spawn_blocking(move || load_plan(config.as_deref())).await;
    match loaded {
        Ok(Ok(plan)) => {
            tracing::info!(version = plan.version(), "{why}: dial plan loaded");
            done.send(server::Done::Reload(Arc::new(plan)));
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::error!("{why}: dial plan refused, the running plan stays: {e}");
            Err(e.to_string())
        }
        Err(e) => {
            tracing::error!("{why}: dial plan not loaded: {e}");
            Err(format!("the plan was not loaded: {e}"))
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_stop(
    _config: Option<&std::path::Path>,
    _certificates: &[Arc<ReloadableCertificate>],
    _done: &AppSender<server::Done>,
) {
    let _ = tokio::signal::ctrl_c().await;
}

/// `DATA/switchboard.pid` while the server runs: `switchboard route
/// reload` finds the server to signal there. Removed at a clean stop.
#[derive(Debug)]
struct PidFile(Option<PathBuf>);

impl PidFile {
    fn write(data: &std::path::Path) -> Self {
        let path = data.join(PID_FILE);
        // On PostgreSQL no SQLite file creates the directory first.
        let written = std::fs::create_dir_all(data)
            .and_then(|()| std::fs::write(&path, format!("{}\n", std::process::id())));
        match written {
            Ok(()) => Self(Some(path)),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "pid file not written: `route reload` cannot find this server");
                Self(None)
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The pid file's name in the data directory.
pub(crate) const PID_FILE: &str = "switchboard.pid";
