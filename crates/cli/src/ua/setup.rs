//! From the shared options to the runtime's settings: the server address,
//! our SIP address and Contact, the listener, TLS trust.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use switchboard_core::Transport;
use switchboard_net::{Config, Listen, TlsClient, TlsServer};
use switchboard_proto::Uri;
use switchboard_ua::{Credentials, UaConfig};

use super::{TransportArg, UaArgs};

/// Why a user-agent command could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    /// A URI argument that is not a SIP URI.
    #[error("{0:?} is not a SIP URI (sip:user@host)")]
    BadUri(String),
    /// `--server` does not resolve.
    #[error("cannot resolve server {0:?}")]
    Resolve(String),
    /// TLS without a CA to trust.
    #[error("--transport tls needs --ca FILE (the CA certificate of the server or peer)")]
    NeedsCa,
    /// A TLS file (CA, certificate, key).
    #[error("cannot load {path}: {why}")]
    Ca { path: String, why: String },
    /// The user-agent settings.
    #[error(transparent)]
    Ua(#[from] switchboard_ua::UaError),
    /// The network runtime.
    #[error("cannot start the SIP transport: {0}")]
    Net(#[from] switchboard_net::StartError),
}

/// Everything a command needs to start the runtime.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) transport: Transport,
    pub(crate) net: Config,
    /// The outbound proxy, resolved.
    pub(crate) server: Option<SocketAddr>,
    /// The IP our SIP and RTP sockets use.
    pub(crate) local_ip: IpAddr,
}

pub(crate) fn transport_of(arg: TransportArg) -> Transport {
    match arg {
        TransportArg::Udp => Transport::Udp,
        TransportArg::Tcp => Transport::Tcp,
        TransportArg::Tls => Transport::Tls,
        TransportArg::Ws => Transport::Ws,
    }
}

/// The `IP:PORT` a SIP URI's host names, when it is an IP address.
fn uri_addr(uri: &str, transport: Transport) -> Option<SocketAddr> {
    let parsed = Uri::parse(uri).ok()?;
    let sip = parsed.as_sip()?;
    let ip = sip.host.ip()?;
    let port = sip
        .port
        .unwrap_or(if transport.is_secure() { 5061 } else { 5060 });
    Some(SocketAddr::new(ip, port))
}

/// `HOST[:PORT]` of a SIP URI whose host is a name (not an IP address).
fn uri_host_port(uri: &str) -> Option<String> {
    let parsed = Uri::parse(uri).ok()?;
    let sip = parsed.as_sip()?;
    if sip.host.ip().is_some() {
        return None;
    }
    Some(match sip.port {
        Some(port) => format!("{}:{port}", sip.host.as_str()),
        None => sip.host.as_str().to_owned(),
    })
}

/// Checks that `uri` is a `sip:`/`sips:` URI.
pub(crate) fn check_uri(uri: &str) -> Result<(), SetupError> {
    match Uri::parse(uri) {
        Ok(u) if u.as_sip().is_some() => Ok(()),
        _ => Err(SetupError::BadUri(uri.to_owned())),
    }
}

/// The local address the system would use to reach `peer` (no packet is
/// sent: a connected UDP socket only picks its source address).
fn local_ip_towards(peer: SocketAddr) -> Option<IpAddr> {
    let any: SocketAddr = if peer.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        "[::]:0".parse().ok()?
    };
    let socket = UdpSocket::bind(any).ok()?;
    socket.connect(peer).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

/// A port free for both UDP and TCP on `ip` (0 when none is found: the
/// listeners then pick their own).
fn free_udp_tcp_port(ip: IpAddr) -> u16 {
    for _ in 0..32 {
        let Ok(udp) = UdpSocket::bind(SocketAddr::new(ip, 0)) else {
            break;
        };
        let Ok(port) = udp.local_addr().map(|a| a.port()) else {
            break;
        };
        if std::net::TcpListener::bind(SocketAddr::new(ip, port)).is_ok() {
            return port;
        }
    }
    0
}

/// Resolves `HOST[:PORT]` (default port by transport).
async fn resolve(server: &str, transport: Transport) -> Result<SocketAddr, SetupError> {
    let default = if transport.is_secure() { 5061 } else { 5060 };
    let has_port = server.parse::<SocketAddr>().is_ok()
        || server
            .split_once(':')
            .is_some_and(|(host, port)| !host.contains(':') && port.parse::<u16>().is_ok());
    let with_port = if has_port {
        server.to_owned()
    } else {
        format!("{server}:{default}")
    };
    // IPv4 first: `localhost` often lists ::1 before 127.0.0.1, and most
    // servers listen on IPv4.
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&with_port)
        .await
        .map(Iterator::collect)
        .unwrap_or_default();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| SetupError::Resolve(server.to_owned()))
}

/// The settings for `args`; `peer_uri` is the URI we will talk to first
/// (the registrar or the callee), used to pick our address.
pub(crate) async fn prepare(args: &UaArgs, peer_uri: &str) -> Result<Setup, SetupError> {
    let transport = transport_of(args.transport);
    // Without --server, a URI naming a host (not an address) is resolved
    // here (A/AAAA) and that address serves as the outbound proxy.
    let server = match (&args.server, uri_host_port(peer_uri)) {
        (Some(s), _) => Some(resolve(s, transport).await?),
        (None, Some(host)) => Some(resolve(&host, transport).await?),
        (None, None) => None,
    };
    let peer = server.or_else(|| uri_addr(peer_uri, transport));
    let local_ip = match args.listen {
        Some(l) if !l.ip().is_unspecified() => l.ip(),
        _ => peer
            .and_then(local_ip_towards)
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    };
    let port = match args.listen.map_or(0, |l| l.port()) {
        0 if transport == Transport::Udp => free_udp_tcp_port(local_ip),
        port => port,
    };
    let addr = SocketAddr::new(local_ip, port);
    let mut net = Config::default();
    // A TLS client without a certificate of its own listens on TCP (its
    // Via and Contact name TLS; requests come back over its connection).
    let listen_transport = match (transport, &args.tls_cert, &args.tls_key) {
        (Transport::Tls, Some(cert), Some(key)) => {
            let server = TlsServer::from_pem_files(cert, key).map_err(|e| SetupError::Ca {
                path: cert.display().to_string(),
                why: e.to_string(),
            })?;
            net.tls_server = Some(server);
            Transport::Tls
        }
        (Transport::Tls, _, _) => Transport::Tcp,
        (t, _, _) => t,
    };
    net.listen.push(Listen::new(listen_transport, addr));
    // Every SIP element takes TCP too (RFC 3261 §18): a request over the
    // UDP size limit comes to the same port over TCP.
    if transport == Transport::Udp {
        net.listen.push(Listen::new(Transport::Tcp, addr));
    }
    if transport == Transport::Tls {
        let Some(path) = &args.ca else {
            return Err(SetupError::NeedsCa);
        };
        let ca_error = |why: String| SetupError::Ca {
            path: path.display().to_string(),
            why,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        net.tls_client = Some(TlsClient::trusting_pem(&pem).map_err(|e| ca_error(e.to_string()))?);
    }
    // Keep connections we open alive (RFC 5626), so the server can reach us
    // over them.
    if transport.is_reliable() {
        net.keepalive_interval = Some(std::time::Duration::from_secs(30));
    }
    Ok(Setup {
        transport,
        net,
        server,
        local_ip,
    })
}

/// The user-agent configuration once the listener is bound at `bound`.
pub(crate) fn ua_config(
    setup: &Setup,
    args: &UaArgs,
    aor: &str,
    bound: SocketAddr,
) -> Result<UaConfig, SetupError> {
    let mut config = UaConfig::new(aor, setup.transport, bound)?;
    config.outbound_proxy = setup.server;
    if let Some(password) = &args.password {
        let user = match &args.user {
            Some(u) => u.clone(),
            None => Uri::parse(aor)
                .ok()
                .and_then(|u| u.as_sip().and_then(|s| s.user).map(str::to_owned))
                .unwrap_or_default(),
        };
        config.credentials = Some(Credentials {
            username: user,
            password: password.clone(),
        });
    }
    Ok(config)
}

/// The started runtime with the user agent on it.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) handle: switchboard_net::Handle,
    pub(crate) sender: switchboard_net::AppSender<super::app::Msg>,
    pub(crate) reports: tokio::sync::mpsc::UnboundedReceiver<super::app::Report>,
    /// Our bound SIP address.
    pub(crate) bound: SocketAddr,
}

impl Running {
    /// Hands the user agent its configuration (the first message), and
    /// how to answer calls (`None`: it refuses them).
    pub(crate) fn configure(&self, config: UaConfig, answer: Option<super::app::AnswerMode>) {
        self.sender.send(super::app::Msg::Configure {
            config: Box::new(config),
            answer,
        });
    }
}

/// Starts the network runtime with a [`super::app::UaApp`] on it.
pub(crate) async fn start(setup: &Setup) -> Result<Running, SetupError> {
    use rand::SeedableRng;
    let (reports_tx, reports) = tokio::sync::mpsc::unbounded_channel();
    let (sender, receiver) = switchboard_net::app_channel();
    let app = super::app::UaApp::new(reports_tx);
    let rng = Box::new(rand::rngs::StdRng::from_os_rng());
    let handle = switchboard_net::start_app(setup.net.clone(), rng, app, receiver).await?;
    let bound = handle
        .local_addrs()
        .first()
        .map_or_else(|| SocketAddr::new(setup.local_ip, 0), |(_, a)| *a);
    Ok(Running {
        handle,
        sender,
        reports,
        bound,
    })
}

/// SIGINT or SIGTERM.
#[derive(Debug)]
pub(crate) struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// A current-thread runtime (the driver, the user agent and the media
/// tasks all fit on one thread).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, crate::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(crate::Error::Runtime)
}

/// The policy of `--srtp`.
pub(crate) fn media_policy(srtp: super::SrtpArg) -> switchboard_ua::MediaPolicy {
    switchboard_ua::MediaPolicy {
        srtp: match srtp {
            super::SrtpArg::Off => switchboard_ua::SrtpPolicy::Off,
            super::SrtpArg::Optional => switchboard_ua::SrtpPolicy::Optional,
            super::SrtpArg::Required => switchboard_ua::SrtpPolicy::Required,
        },
        ..switchboard_ua::MediaPolicy::default()
    }
}

/// Writes `error: ...` and gives exit code 1.
pub(crate) fn error_exit(
    err: &mut dyn std::io::Write,
    e: &dyn std::fmt::Display,
) -> Result<std::process::ExitCode, crate::Error> {
    writeln!(err, "error: {e}")?;
    Ok(std::process::ExitCode::from(crate::EXIT_FAILURE))
}

/// A user agent up and running: its settings, runtime and configuration.
#[derive(Debug)]
pub(crate) struct Launched {
    pub(crate) setup: Setup,
    pub(crate) running: Running,
    pub(crate) config: UaConfig,
}

/// Checks the URIs, prepares and starts the runtime, and makes the
/// configuration for `identity` (default `sip:switchboard@` our address);
/// `peer_uri` is whom we talk to first.
pub(crate) async fn launch(
    args: &UaArgs,
    peer_uri: &str,
    identity: Option<&str>,
) -> Result<Launched, SetupError> {
    check_uri(peer_uri)?;
    if let Some(identity) = identity {
        check_uri(identity)?;
    }
    let setup = prepare(args, peer_uri).await?;
    let running = start(&setup).await?;
    let identity = identity.map_or_else(
        || format!("sip:switchboard@{}", running.bound.ip()),
        str::to_owned,
    );
    let config = ua_config(&setup, args, &identity, running.bound)?;
    Ok(Launched {
        setup,
        running,
        config,
    })
}

/// When `--duration SECS` runs out (never without it).
pub(crate) fn deadline_after(secs: Option<f64>) -> tokio::time::Instant {
    secs.map_or_else(far_future, |secs| {
        tokio::time::Instant::now() + std::time::Duration::from_secs_f64(secs.max(0.0))
    })
}

/// A deadline that never comes (a timer not armed yet).
pub(crate) fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(100 * 365 * 86_400)
}

/// The line printed when a REGISTER failed.
pub(crate) fn registration_failed(
    status: switchboard_proto::StatusCode,
    reason: &str,
    retry_in: std::time::Duration,
) -> String {
    format!(
        "registration failed: {} {reason} (retrying in {} s)",
        status.as_u16(),
        retry_in.as_secs()
    )
}

/// Runs a user agent command on its own runtime: launches the agent
/// ([`launch`]; an error is printed, exit code 1) and hands it to `body`
/// with the error output.
pub(crate) fn run_launched(
    args: &UaArgs,
    peer_uri: &str,
    identity: Option<&str>,
    err: &mut dyn std::io::Write,
    body: impl AsyncFnOnce(
        Launched,
        &mut dyn std::io::Write,
    ) -> Result<std::process::ExitCode, crate::Error>,
) -> Result<std::process::ExitCode, crate::Error> {
    runtime()?.block_on(async move {
        match launch(args, peer_uri, identity).await {
            Ok(launched) => body(launched, err).await,
            Err(e) => error_exit(err, &e),
        }
    })
}

/// [`run_launched`] for a command without calls to answer: the agent is
/// configured, then `body` gets it, our contact and the error output.
pub(crate) fn run_configured(
    args: &UaArgs,
    peer_uri: &str,
    identity: Option<&str>,
    err: &mut dyn std::io::Write,
    body: impl AsyncFnOnce(
        Running,
        &str,
        &mut dyn std::io::Write,
    ) -> Result<std::process::ExitCode, crate::Error>,
) -> Result<std::process::ExitCode, crate::Error> {
    run_launched(
        args,
        peer_uri,
        identity,
        err,
        async move |Launched {
                        running, config, ..
                    },
                    err| {
            let contact = config.contact.clone();
            running.configure(config, None);
            body(running, &contact, err).await
        },
    )
}

/// Whether a command goes on after a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Go,
    Done,
}

/// Runs a long-lived command's agent (register, publish, subscribe): each
/// report goes to `on_report` (with the stopping, the agent's sender and
/// the outputs), but an agent error, which is printed and ends the run;
/// signals, the deadline and the grace end it as `stopping` says. Then
/// the output is flushed and the agent shut down. Returns whether an
/// agent error ended it.
pub(crate) async fn drive(
    mut running: Running,
    mut stopping: Stopping,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
    mut on_report: impl FnMut(
        super::app::Report,
        &mut Stopping,
        &switchboard_net::AppSender<super::app::Msg>,
        &mut dyn std::io::Write,
        &mut dyn std::io::Write,
    ) -> Result<Flow, crate::Error>,
) -> Result<bool, crate::Error> {
    let mut failed = false;
    loop {
        tokio::select! {
            report = running.reports.recv() => {
                let Some(report) = report else { break };
                if let super::app::Report::Error(e) = report {
                    writeln!(err, "error: {e}")?;
                    failed = true;
                    break;
                }
                let flow = on_report(report, &mut stopping, &running.sender, out, err)?;
                out.flush()?;
                err.flush()?;
                if flow == Flow::Done {
                    break;
                }
            }
            stop = stopping.until_stop(&running.sender) => if stop { break },
        }
    }
    out.flush()?;
    running.handle.shutdown().await;
    Ok(failed)
}

/// How long a stopping agent may take to unregister and end its calls.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Stopping a user agent that first unregisters and ends its calls: asked
/// once (at SIGINT/SIGTERM, at the deadline, or by the command), then
/// waited for until [`Stopping::give_up_at`]; a second signal ends the
/// wait.
#[derive(Debug)]
pub(crate) struct Stopping {
    /// Whether the agent was asked to stop.
    pub(crate) requested: bool,
    /// When to stop waiting for it (far in the future until asked).
    pub(crate) give_up_at: tokio::time::Instant,
    signals: Signals,
    /// When to ask it (`--duration`; far in the future when none, or once
    /// passed).
    stop_at: tokio::time::Instant,
}

impl Stopping {
    /// Listens for SIGINT and SIGTERM; asks the agent to stop after
    /// `duration` seconds too, when given.
    pub(crate) fn new(duration: Option<f64>) -> Result<Self, crate::Error> {
        Ok(Self {
            requested: false,
            give_up_at: far_future(),
            signals: Signals::new().map_err(crate::Error::Runtime)?,
            stop_at: deadline_after(duration),
        })
    }

    /// Asks the agent to stop, unless it was asked before: returns whether
    /// it was asked now.
    pub(crate) fn request(&mut self, sender: &switchboard_net::AppSender<super::app::Msg>) -> bool {
        if self.requested {
            return false;
        }
        self.requested = true;
        sender.send(super::app::Msg::Stop);
        self.give_up_at = tokio::time::Instant::now() + STOP_GRACE;
        true
    }

    /// Waits for a signal, the deadline or the end of the grace, and asks
    /// the agent to stop; returns whether to end now without waiting for
    /// it (a second signal, or the grace is over). Cancel-safe: one arm of
    /// a `select!` beside the agent's reports.
    pub(crate) async fn until_stop(
        &mut self,
        sender: &switchboard_net::AppSender<super::app::Msg>,
    ) -> bool {
        tokio::select! {
            () = self.signals.recv() => !self.request(sender),
            () = tokio::time::sleep_until(self.stop_at) => {
                self.stop_at = far_future();
                self.request(sender);
                false
            }
            () = tokio::time::sleep_until(self.give_up_at) => true,
        }
    }
}
