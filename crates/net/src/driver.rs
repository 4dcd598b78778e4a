//! The driver: one task that owns the sans-IO [`Endpoint`] and runs its
//! loop (as quinn's `ConnectionDriver` does for a QUIC connection).
//!
//! It waits on five things: its UDP sockets (read here, no task between a
//! datagram and the endpoint), events from connection tasks, control
//! messages (commands for the application, stats, shutdown), the
//! application's own messages, and one timer set to `poll_timeout`. After
//! each batch it drains the endpoint: transmits (UDP written here, each
//! socket's datagrams of a pass in one batch, see `udp_batch.rs`;
//! connections through their bounded write queues), closes and events (to
//! the [`App`]).
//!
//! The driver knows only the [`App`] it runs (and [`Commanded`], what an
//! application adds to take commands from another channel); the
//! [`Handle`](crate::Handle) API is such an application, built on top in
//! `handle_app.rs`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand_core::RngCore;
use switchboard_core::{Destination, Endpoint, FlowId, Input, Source, Transmit, Transport};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::app::{App, AppReceiver};
use crate::config::via_addresses;
use crate::listener::{accept_loop, connect};
use crate::task::{ConnKey, NetEvent, Opened, Outbound, Settings, TaskCtx};
use crate::udp_batch::UdpBatch;
use crate::{Config, StartError};

/// Inputs or commands handled per wake-up before the endpoint is drained.
const BATCH: usize = 256;
/// Datagrams one pass reads from a UDP socket before the endpoint is
/// drained (the answers sent, the timers run). A pass that reads this many
/// left more waiting (see [`App::read_backlog`]).
pub const UDP_READ_BATCH: usize = BATCH;
/// Timer coalescing: the driver's timer is armed on this grid, so that
/// deadlines close together (every answered UDP transaction ends 32 s after
/// its answer, at its own instant) cost one wake-up, not one each. SIP's
/// timers tolerate a few milliseconds; a wake-up for a datagram handles
/// every timer already due.
const TIMER_SLACK: Duration = Duration::from_millis(10);
/// How long shutdown waits for the runtime's tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Counters of the runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeStats {
    /// The endpoint's counters.
    pub endpoint: switchboard_core::Stats,
    /// Live transactions.
    pub transactions: usize,
    /// Open connections (accepted and outgoing).
    pub connections: usize,
    /// Outgoing connections being established.
    pub connecting: usize,
}

/// An [`App`] that also takes commands from the runtime's control channel
/// (the [`Handle`](crate::Handle) API's requests and responses), run on the
/// driver like its events.
pub(crate) trait Commanded: App {
    /// What the control channel brings it.
    type Command: Send + 'static;

    /// Runs `command` with the endpoint; `connections` is the driver's view
    /// of its connections.
    fn on_command(
        &mut self,
        now: std::time::Instant,
        endpoint: &mut Endpoint,
        connections: &mut Connections<'_>,
        command: Self::Command,
    );
}

/// What the control channel brings the driver.
#[derive(Debug)]
pub(crate) enum Control<C> {
    /// A command for the application ([`Commanded::on_command`]).
    Command(C),
    /// The runtime's counters.
    Stats {
        reply: oneshot::Sender<RuntimeStats>,
    },
    /// Stop everything; answered once every task has ended.
    Shutdown { reply: oneshot::Sender<()> },
}

/// The driver's connections, as a command may use them.
#[derive(Debug)]
pub(crate) struct Connections<'a> {
    by_remote: &'a HashMap<ConnKey, FlowId>,
    pending: &'a HashMap<ConnKey, Pending>,
    server_names: &'a mut HashMap<ConnKey, String>,
}

impl Connections<'_> {
    /// When a message is next sent to `key` and no connection is open or
    /// being opened to it, the new TLS or WSS connection checks the peer's
    /// certificate against `name` instead of the address.
    pub(crate) fn verify_name(&mut self, key: ConnKey, name: String) {
        if !self.by_remote.contains_key(&key) && !self.pending.contains_key(&key) {
            self.server_names.insert(key, name);
        }
    }
}

/// A runtime started by [`spawn`].
pub(crate) struct Spawned<C> {
    /// Commands, stats and shutdown.
    pub(crate) control: mpsc::Sender<Control<C>>,
    /// The listeners' bound addresses, in configuration order.
    pub(crate) local: Arc<[(Transport, SocketAddr)]>,
}

/// Starts the runtime: binds every listener, then spawns the driver with
/// `app` as the transaction user, called on the driver task (see [`App`]);
/// `receiver` brings it the messages of its
/// [`AppSender`](crate::AppSender)s.
pub(crate) async fn spawn<A: Commanded>(
    config: Config,
    rng: Box<dyn RngCore + Send>,
    app: A,
    receiver: AppReceiver<A::Message>,
) -> Result<Spawned<A::Command>, StartError> {
    enum Bound {
        Udp(Arc<UdpSocket>, SocketAddr),
        Stream(TcpListener, Transport),
    }
    let mut bound = Vec::with_capacity(config.listen.len());
    let mut local = Vec::with_capacity(config.listen.len());
    for listen in &config.listen {
        let (transport, addr) = (listen.transport, listen.addr);
        let err = |source| StartError::Bind {
            transport,
            addr,
            source,
        };
        if transport.is_secure() && config.tls_server.is_none() {
            return Err(StartError::MissingTlsServer(transport));
        }
        if transport == Transport::Udp {
            let socket = crate::bind::udp(addr, config.udp_buffer_bytes).map_err(err)?;
            let at = socket.local_addr().map_err(err)?;
            local.push((transport, at));
            bound.push(Bound::Udp(Arc::new(socket), at));
        } else {
            let listener = crate::bind::tcp(addr).map_err(err)?;
            local.push((transport, listener.local_addr().map_err(err)?));
            bound.push(Bound::Stream(listener, transport));
        }
    }

    let (events_tx, events_rx) = mpsc::channel(1024);
    let (control_tx, control_rx) = mpsc::channel(1024);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (alive_tx, alive_rx) = mpsc::channel(1);
    let settings = Settings {
        idle_timeout: config.idle_timeout,
        outgoing_idle_timeout: config.outgoing_idle_timeout,
        connect_timeout: config.connect_timeout,
        handshake_timeout: config.handshake_timeout,
        write_timeout: config.write_timeout,
        write_queue: config.write_queue,
        max_message_size: config.endpoint.max_message_size,
        keepalive_interval: config.keepalive_interval,
        keepalive_timeout: config.keepalive_timeout,
        tls_acceptor: config
            .tls_server
            .as_ref()
            .map(|t| TlsAcceptor::from(t.config())),
        tls_connector: config
            .tls_client
            .as_ref()
            .map(|t| TlsConnector::from(t.config())),
        permits: Arc::new(Semaphore::new(config.max_connections)),
    };
    let ctx = TaskCtx::new(events_tx, settings, shutdown_rx, alive_tx);

    let mut endpoint_config = config.endpoint;
    endpoint_config.via_addresses =
        via_addresses(std::mem::take(&mut endpoint_config.via_addresses), &local);
    let endpoint = Endpoint::new(endpoint_config, rng);

    let mut udp = Vec::new();
    let mut listeners = Vec::new();
    for b in bound {
        match b {
            // Read by the driver itself (see `read_udp`).
            Bound::Udp(socket, at) => udp.push((at, socket)),
            Bound::Stream(listener, transport) => {
                listeners.push(tokio::spawn(accept_loop(ctx.clone(), listener, transport)));
            }
        }
    }
    for (transport, at) in &local {
        tracing::info!(%transport, %at, "listening");
    }

    let driver = Driver {
        udp_queued: vec![Vec::new(); udp.len()],
        udp_backlog: vec![0; udp.len()],
        endpoint,
        control: control_rx,
        events: events_rx,
        ctx,
        shutdown: shutdown_tx,
        alive: alive_rx,
        udp,
        listeners,
        conns: HashMap::new(),
        by_remote: HashMap::new(),
        pending: HashMap::new(),
        server_names: HashMap::new(),
        udp_io: UdpBatch::new(),
        app,
        messages: receiver.0,
    };
    tokio::spawn(driver.run());
    Ok(Spawned {
        control: control_tx,
        local: local.into(),
    })
}

/// An open connection as the driver sees it.
#[derive(Debug)]
struct Conn {
    key: ConnKey,
    writer: mpsc::Sender<Outbound>,
    /// Dropped to stop the reader.
    _close: oneshot::Sender<()>,
}

/// What waits for an outgoing connection being established.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    bytes: Vec<Bytes>,
}

struct Driver<A: Commanded> {
    endpoint: Endpoint,
    control: mpsc::Receiver<Control<A::Command>>,
    events: mpsc::Receiver<NetEvent>,
    ctx: TaskCtx,
    shutdown: watch::Sender<bool>,
    alive: mpsc::Receiver<()>,
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    listeners: Vec<JoinHandle<()>>,
    conns: HashMap<FlowId, Conn>,
    by_remote: HashMap<ConnKey, FlowId>,
    pending: HashMap<ConnKey, Pending>,
    /// Names to check the certificates of connections about to be opened
    /// against ([`Connections::verify_name`]).
    server_names: HashMap<ConnKey, String>,
    /// Where datagrams are received into, and how they are read and sent.
    udp_io: UdpBatch,
    /// The datagrams of this pass to send, by socket (as `udp`), sent
    /// together when the endpoint's transmits are drained.
    udp_queued: Vec<Vec<(SocketAddr, Bytes)>>,
    /// Datagrams read from each socket (as `udp`) since a pass last
    /// emptied it ([`App::read_backlog`]).
    udp_backlog: Vec<usize>,
    app: A,
    messages: mpsc::UnboundedReceiver<A::Message>,
}

/// The endpoint's clock: tokio's (so paused test time works), as std time.
fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl<A: Commanded> Driver<A> {
    async fn run(mut self) {
        let sleep = tokio::time::sleep(Duration::from_secs(86_400));
        tokio::pin!(sleep);
        let mut done = None;
        let origin = now();
        // The instant the timer is armed for, when it is. Armed from the
        // start: the application may have work due before any packet
        // comes (a dial plan's trunks probing and registering).
        let mut armed = self.deadline(origin).inspect(|&at| {
            sleep.as_mut().reset(tokio::time::Instant::from_std(at));
        });
        'run: loop {
            tokio::select! {
                control = self.control.recv() => match control {
                    Some(Control::Shutdown { reply }) => {
                        done = Some(reply);
                        break 'run;
                    }
                    Some(control) => self.on_control(control),
                    None => break 'run,
                },
                Some(event) = self.events.recv() => self.on_net(event),
                index = udp_readable(&self.udp) => self.read_udp(index),
                Some(message) = self.messages.recv() => {
                    self.app.on_message(now(), &mut self.endpoint, message);
                }
                () = &mut sleep, if armed.is_some() => {
                    if let Some(at) = armed {
                        self.app.timer_fired(now().saturating_duration_since(at));
                    }
                }
            }
            // Take whatever else is ready before draining the endpoint.
            for _ in 0..BATCH {
                let Ok(event) = self.events.try_recv() else {
                    break;
                };
                self.on_net(event);
            }
            for _ in 0..BATCH {
                match self.control.try_recv() {
                    Ok(Control::Shutdown { reply }) => {
                        done = Some(reply);
                        break 'run;
                    }
                    Ok(control) => self.on_control(control),
                    Err(_) => break,
                }
            }
            for _ in 0..BATCH {
                let Ok(message) = self.messages.try_recv() else {
                    break;
                };
                self.app.on_message(now(), &mut self.endpoint, message);
            }
            self.flush();
            armed = self.deadline(origin).inspect(|&at| {
                sleep.as_mut().reset(tokio::time::Instant::from_std(at));
            });
        }
        self.stop(done).await;
    }

    /// Stops listeners and connections and waits (bounded) for every task.
    async fn stop(self, done: Option<oneshot::Sender<()>>) {
        let Self {
            ctx,
            shutdown,
            alive: mut alive_rx,
            listeners,
            conns,
            pending,
            app,
            messages,
            events,
            control,
            udp,
            endpoint,
            ..
        } = self;
        let _ = shutdown.send(true);
        drop((
            ctx, conns, pending, app, messages, events, control, udp, endpoint,
        ));
        for listener in listeners {
            let _ = listener.await;
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, alive_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!("runtime tasks still running after shutdown");
        }
        tracing::debug!("runtime stopped");
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    // ----- inputs -----

    /// Reads what UDP socket `index` holds (a bounded batch, `recvmmsg`
    /// where it exists) straight into the endpoint: no task between the
    /// socket and the endpoint, so a datagram costs no hand-off. Each
    /// datagram is copied into a `Bytes` of its own size: the endpoint may
    /// keep it (a transaction's request) long after the batch, and a slice
    /// of a shared buffer would keep the whole buffer alive. The datagrams
    /// read since a pass last emptied the socket go to the application
    /// ([`App::read_backlog`]): the backlog the kernel holds is not visible
    /// without unsafe calls, but a long run of full passes says the driver
    /// has been behind its input for that long, before the socket buffer
    /// overflows and clients retransmit.
    fn read_udp(&mut self, index: usize) {
        let Some((local, socket)) = self.udp.get(index).map(|(a, s)| (*a, Arc::clone(s))) else {
            return;
        };
        let now = now();
        let endpoint = &mut self.endpoint;
        let read = self
            .udp_io
            .recv(&socket, local, UDP_READ_BATCH, |remote, data| {
                let source = Source {
                    transport: Transport::Udp,
                    remote,
                    local,
                    flow: None,
                };
                let bytes = Bytes::copy_from_slice(data);
                endpoint.handle_input(now, Input::Datagram { source, bytes });
            });
        let Some(backlog) = self.udp_backlog.get_mut(index) else {
            return;
        };
        *backlog = if read >= UDP_READ_BATCH {
            backlog.saturating_add(read)
        } else {
            read
        };
        self.app.read_backlog(now, *backlog);
    }

    fn on_net(&mut self, event: NetEvent) {
        let now = now();
        match event {
            NetEvent::Input(input) => self.endpoint.handle_input(now, input),
            NetEvent::Opened(opened) => self.on_opened(now, opened),
            NetEvent::ConnectFailed { key } => self.on_connect_failed(now, key),
            NetEvent::Closed { flow } => self.close(now, flow),
        }
    }

    fn on_opened(&mut self, now: std::time::Instant, opened: Opened) {
        let Opened {
            flow,
            transport,
            local,
            remote,
            writer,
            close,
            outgoing,
        } = opened;
        let key = outgoing.unwrap_or((transport, remote));
        self.conns.insert(
            flow,
            Conn {
                key,
                writer,
                _close: close,
            },
        );
        self.by_remote.entry(key).or_insert(flow);
        self.endpoint.handle_input(
            now,
            Input::FlowOpened {
                flow,
                transport,
                local,
                remote,
            },
        );
        if outgoing.is_some() {
            if let Some(pending) = self.pending.remove(&key) {
                for bytes in pending.bytes {
                    self.write(now, flow, bytes);
                }
            }
        }
    }

    /// The connection could not be made. The endpoint is told of a flow to
    /// that address that opens and closes at once: that fails the
    /// transactions sent to the address with a transport error, as for any
    /// other lost connection.
    fn on_connect_failed(&mut self, now: std::time::Instant, key: ConnKey) {
        let Some(pending) = self.pending.remove(&key) else {
            return;
        };
        tracing::debug!(
            transport = %key.0,
            remote = %key.1,
            messages = pending.bytes.len(),
            "connect failed"
        );
        let flow = self.ctx.new_flow();
        let unspecified = match key.1.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        self.endpoint.handle_input(
            now,
            Input::FlowOpened {
                flow,
                transport: key.0,
                local: SocketAddr::new(unspecified, 0),
                remote: key.1,
            },
        );
        self.endpoint.handle_input(now, Input::FlowClosed { flow });
    }

    /// Forgets a connection (its tasks stop) and tells the endpoint.
    fn close(&mut self, now: std::time::Instant, flow: FlowId) {
        let Some(conn) = self.conns.remove(&flow) else {
            return;
        };
        if self.by_remote.get(&conn.key) == Some(&flow) {
            self.by_remote.remove(&conn.key);
        }
        tracing::debug!(?flow, remote = %conn.key.1, "connection closed");
        self.endpoint.handle_input(now, Input::FlowClosed { flow });
    }

    // ----- control -----

    fn on_control(&mut self, control: Control<A::Command>) {
        let now = now();
        match control {
            Control::Command(command) => {
                let mut connections = Connections {
                    by_remote: &self.by_remote,
                    pending: &self.pending,
                    server_names: &mut self.server_names,
                };
                self.app
                    .on_command(now, &mut self.endpoint, &mut connections, command);
            }
            Control::Stats { reply } => {
                let _ = reply.send(RuntimeStats {
                    endpoint: self.endpoint.stats(),
                    transactions: self.endpoint.transaction_count(),
                    connections: self.conns.len(),
                    connecting: self.pending.len(),
                });
            }
            Control::Shutdown { .. } => {} // handled by the loop
        }
    }

    /// The queue of a connection being established, starting it if needed.
    fn pending_for(&mut self, key: ConnKey) -> &mut Pending {
        self.pending.entry(key).or_insert_with(|| {
            tracing::debug!(transport = %key.0, remote = %key.1, "connecting");
            let server_name = self.server_names.remove(&key);
            self.ctx.spawn(connect(self.ctx.clone(), key, server_name));
            Pending::default()
        })
    }

    // ----- outputs -----

    /// When the endpoint or the application must be woken next
    /// (coalesced to the driver's timer grid from `origin`).
    fn deadline(&self, origin: std::time::Instant) -> Option<std::time::Instant> {
        let app_timeout = self.app.poll_timeout(now());
        min_instant(self.endpoint.poll_timeout(), app_timeout).map(|at| coalesce(origin, at))
    }

    /// Fires due timers and drains the endpoint until it has nothing left.
    fn flush(&mut self) {
        let now = now();
        if self.endpoint.poll_timeout().is_some_and(|at| at <= now) {
            self.endpoint.handle_timeout(now);
        }
        if self.app.poll_timeout(now).is_some_and(|at| at <= now) {
            self.app.handle_timeout(now, &mut self.endpoint);
        }
        loop {
            let mut progress = false;
            while let Some(transmit) = self.endpoint.poll_transmit() {
                progress = true;
                self.transmit(now, transmit);
            }
            self.send_queued_udp();
            while let Some(flow) = self.endpoint.poll_close() {
                progress = true;
                self.close(now, flow);
            }
            while let Some(event) = self.endpoint.poll_event() {
                progress = true;
                self.app.on_event(now, &mut self.endpoint, event);
            }
            if !progress {
                break;
            }
        }
    }

    fn transmit(&mut self, now: std::time::Instant, transmit: Transmit) {
        let Transmit {
            destination,
            local,
            bytes,
        } = transmit;
        match destination {
            Destination::Flow(flow) => self.write(now, flow, bytes),
            Destination::Address {
                transport: Transport::Udp,
                remote,
            } => self.queue_udp(local, remote, bytes),
            Destination::Address { transport, remote } => {
                let key = (transport, remote);
                match self.by_remote.get(&key) {
                    Some(&flow) => self.write(now, flow, bytes),
                    None => self.pending_for(key).bytes.push(bytes),
                }
            }
        }
    }

    /// The UDP socket to send to `remote` from: the one bound to `local`
    /// when given (a response leaves from where its request came in);
    /// otherwise one of the same address family, preferably one that can
    /// reach it (a loopback socket only for loopback peers).
    /// (Its index in `udp`.)
    fn udp_socket_for(&self, local: Option<SocketAddr>, remote: SocketAddr) -> Option<usize> {
        if let Some(index) = local.and_then(|l| self.udp.iter().position(|(at, _)| *at == l)) {
            return Some(index);
        }
        let family = || {
            self.udp
                .iter()
                .enumerate()
                .filter(move |(_, (local, _))| local.is_ipv4() == remote.is_ipv4())
        };
        family()
            .find(|(_, (local, _))| {
                local.ip().is_unspecified() || local.ip().is_loopback() == remote.ip().is_loopback()
            })
            .or_else(|| family().next())
            .map(|(index, _)| index)
    }

    /// Queues a datagram for its socket's next batch (`send_queued_udp`).
    fn queue_udp(&mut self, local: Option<SocketAddr>, remote: SocketAddr, bytes: Bytes) {
        let queue = self
            .udp_socket_for(local, remote)
            .and_then(|index| self.udp_queued.get_mut(index));
        let Some(queue) = queue else {
            tracing::debug!(%remote, "no UDP socket for this address family, message dropped");
            return;
        };
        queue.push((remote, bytes));
    }

    /// Sends every socket's queued datagrams, in the order they were
    /// queued. Never waits in the driver: a full socket buffer loses the
    /// datagrams as the network would; transactions retransmit.
    fn send_queued_udp(&mut self) {
        for ((_, socket), queued) in self.udp.iter().zip(&mut self.udp_queued) {
            if !queued.is_empty() {
                self.udp_io.send(socket, queued);
            }
        }
    }

    fn write(&mut self, now: std::time::Instant, flow: FlowId, bytes: Bytes) {
        let Some(conn) = self.conns.get(&flow) else {
            tracing::debug!(?flow, "no such connection, message dropped");
            return;
        };
        match conn.writer.try_send(Outbound::Message(bytes)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(?flow, remote = %conn.key.1, "write queue full, closing slow connection");
                self.close(now, flow);
            }
            Err(TrySendError::Closed(_)) => {} // its writer failed; Closed follows
        }
    }
}

/// `at` moved up to the next point of the [`TIMER_SLACK`] grid that starts
/// at `origin`.
fn coalesce(origin: std::time::Instant, at: std::time::Instant) -> std::time::Instant {
    let slack = TIMER_SLACK.as_nanos();
    let since = at.saturating_duration_since(origin).as_nanos();
    let rounded = since.div_ceil(slack).saturating_mul(slack);
    let extra = u64::try_from(rounded - since).unwrap_or(0);
    at + Duration::from_nanos(extra)
}

/// The earlier of two optional deadlines.
fn min_instant(
    a: Option<std::time::Instant>,
    b: Option<std::time::Instant>,
) -> Option<std::time::Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The index of a UDP socket with something to read (never resolves when
/// there is none).
async fn udp_readable(sockets: &[(SocketAddr, Arc<UdpSocket>)]) -> usize {
    std::future::poll_fn(|cx| {
        for (index, (_, socket)) in sockets.iter().enumerate() {
            // An error is "ready" too: the read reports it.
            if socket.poll_recv_ready(cx).is_ready() {
                return std::task::Poll::Ready(index);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_moved_up_to_the_timer_grid() {
        let origin = std::time::Instant::now();
        let ms = |n| origin + Duration::from_millis(n);
        assert_eq!(coalesce(origin, ms(0)), ms(0));
        assert_eq!(coalesce(origin, ms(1)), ms(10));
        assert_eq!(coalesce(origin, ms(10)), ms(10));
        assert_eq!(coalesce(origin, ms(32_003)), ms(32_010));
        // Deadlines in one slot share a wake-up; none is ever early.
        for n in 21..=30 {
            assert_eq!(coalesce(origin, ms(n)), ms(30));
        }
        // A deadline before the origin (already due) stays as it is.
        let before = origin.checked_sub(Duration::from_millis(5)).unwrap();
        assert!(coalesce(origin, before) <= origin);
    }
}
