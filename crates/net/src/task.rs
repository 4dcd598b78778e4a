//! What socket and connection tasks share with the driver: the channel they
//! report on, the shutdown signal, flow numbering and settings.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use switchboard_core::{FlowId, Input, Transport};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A connection is looked up by transport and peer address.
pub(crate) type ConnKey = (Transport, SocketAddr);

/// What a socket or connection task tells the driver.
#[derive(Debug)]
pub(crate) enum NetEvent {
    /// Bytes for the endpoint (datagrams, WebSocket messages, stream data).
    Input(Input),
    /// A connection is ready: accepted (and past its handshakes) or
    /// established by us.
    Opened(Opened),
    /// An outgoing connection could not be established.
    ConnectFailed { key: ConnKey },
    /// A connection ended (peer closed it, read or write failed, idle).
    Closed { flow: FlowId },
}

/// A ready connection and the means to drive it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub(crate) flow: FlowId,
    pub(crate) transport: Transport,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    /// The connection's bounded write queue.
    pub(crate) writer: mpsc::Sender<Outbound>,
    /// Dropping it stops the connection's reader.
    pub(crate) close: oneshot::Sender<()>,
    /// Set for connections we opened: the key they were opened for.
    pub(crate) outgoing: Option<ConnKey>,
}

/// What a connection's writer sends.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A SIP message (or bytes the endpoint wants written, such as a pong).
    Message(Bytes),
    /// An RFC 5626 keep-alive ping: CRLFCRLF on a stream, a WebSocket Ping.
    Ping,
}

/// Settings of the connection tasks.
pub(crate) struct Settings {
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) outgoing_idle_timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) write_queue: usize,
    pub(crate) max_message_size: usize,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) tls_acceptor: Option<TlsAcceptor>,
    pub(crate) tls_connector: Option<TlsConnector>,
    pub(crate) permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("idle_timeout", &self.idle_timeout)
            .field("outgoing_idle_timeout", &self.outgoing_idle_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("write_queue", &self.write_queue)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("keepalive_timeout", &self.keepalive_timeout)
            .field("tls_server", &self.tls_acceptor.is_some())
            .field("tls_client", &self.tls_connector.is_some())
            .finish_non_exhaustive()
    }
}

/// Cloned into every task. Each clone holds `alive`, so the driver knows
/// when every task has ended (the channel closes).
#[derive(Debug, Clone)]
pub(crate) struct TaskCtx {
    pub(crate) events: mpsc::Sender<NetEvent>,
    pub(crate) settings: Arc<Settings>,
    shutdown: watch::Receiver<bool>,
    next_flow: Arc<AtomicU64>,
    _alive: mpsc::Sender<()>,
}

impl TaskCtx {
    pub(crate) fn new(
        events: mpsc::Sender<NetEvent>,
        settings: Settings,
        shutdown: watch::Receiver<bool>,
        alive: mpsc::Sender<()>,
    ) -> Self {
        Self {
            events,
            settings: Arc::new(settings),
            shutdown,
            next_flow: Arc::new(AtomicU64::new(1)),
            _alive: alive,
        }
    }

    /// A fresh flow number.
    pub(crate) fn new_flow(&self) -> FlowId {
        FlowId(self.next_flow.fetch_add(1, Ordering::Relaxed))
    }

    /// Reports to the driver; `false` when the driver is gone.
    pub(crate) async fn send(&self, event: NetEvent) -> bool {
        self.events.send(event).await.is_ok()
    }

    /// Resolves when the runtime shuts down.
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.shutdown.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    /// Runs `fut` for at most `limit`, and not past shutdown.
    pub(crate) async fn bounded<T>(
        &self,
        limit: Duration,
        fut: impl Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            () = self.stopped() => None,
            r = tokio::time::timeout(limit, fut) => r.ok(),
        }
    }

    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(fut);
    }
}

/// When a connection last carried traffic, shared by its reader and writer.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn last(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Sleeps until `deadline`, or forever without one.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
