//! One connection: a reader that feeds the driver and a writer task that
//! drains the connection's bounded queue, so that a slow peer never blocks
//! the driver. Byte streams (TCP, TLS) and WebSocket (WS, WSS) differ only
//! in how messages are read and written. The reader of a connection we
//! opened also runs its RFC 5626 keep-alives when configured.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_core::{FlowId, Input, Source, Transport};
use switchboard_proto::{Frame, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::task::{Activity, ConnKey, NetEvent, Opened, Outbound, TaskCtx, sleep_until};

const READ_BUFFER: usize = 16 * 1024;
/// A keep-alive ping on a byte stream (RFC 5626 §4.4.1).
const PING: &[u8] = b"\r\n\r\n";

/// Who a connection is and where it came from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub(crate) transport: Transport,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    /// Set for connections we opened.
    pub(crate) outgoing: Option<ConnKey>,
}

impl ConnInfo {
    fn idle_timeout(&self, ctx: &TaskCtx) -> Option<Duration> {
        if self.outgoing.is_some() {
            ctx.settings.outgoing_idle_timeout
        } else {
            ctx.settings.idle_timeout
        }
    }
}

/// RFC 5626 §4.4.1 keep-alives of a connection we opened: a ping a random
/// 80 to 100 % of the interval after the last pong (or the opening), and
/// the connection is dead when the pong is late.
struct KeepAlive {
    interval: Duration,
    timeout: Duration,
    /// The connection's write queue, for the pings.
    queue: mpsc::Sender<Outbound>,
    rng: StdRng,
    /// When to send the next ping, while none is outstanding.
    next_ping: Instant,
    /// A ping is outstanding: its pong is due by then.
    pong_due: Option<Instant>,
    /// On a byte stream: a second framer that finds where messages end, so
    /// that a CRLF pong is told apart from the CRLFs inside messages. (The
    /// endpoint frames the same bytes for itself; this costs one more copy,
    /// and only on connections we opened with keep-alives on.)
    framer: Option<StreamFramer>,
}

impl KeepAlive {
    /// Keep-alives for `info` when configured and it is a connection we
    /// opened.
    fn new(ctx: &TaskCtx, info: &ConnInfo, queue: &mpsc::Sender<Outbound>) -> Option<Self> {
        let interval = ctx.settings.keepalive_interval?;
        if info.outgoing.is_none() || interval.is_zero() {
            return None;
        }
        let mut keepalive = Self {
            interval,
            timeout: ctx.settings.keepalive_timeout,
            queue: queue.clone(),
            // Jitter needs no strong randomness: any seed will do.
            rng: StdRng::try_from_os_rng()
                .unwrap_or_else(|_| StdRng::seed_from_u64(u64::from(info.local.port()))),
            next_ping: Instant::now(),
            pong_due: None,
            framer: info
                .transport
                .is_stream()
                .then(|| StreamFramer::new(ctx.settings.max_message_size)),
        };
        keepalive.next_ping = Instant::now() + keepalive.jittered();
        Some(keepalive)
    }

    fn jittered(&mut self) -> Duration {
        self.interval.mul_f64(self.rng.random_range(0.8..=1.0))
    }

    /// When [`KeepAlive::on_deadline`] must run next.
    fn deadline(&self) -> Instant {
        self.pong_due.unwrap_or(self.next_ping)
    }

    /// Sends the ping when due. `false`: the pong is late, the connection
    /// is dead.
    fn on_deadline(&mut self, now: Instant) -> bool {
        if let Some(due) = self.pong_due {
            return now < due;
        }
        if now >= self.next_ping {
            match self.queue.try_send(Outbound::Ping) {
                Ok(()) => self.pong_due = Some(now + self.timeout),
                // The queue is full: the peer is slow to take what we write
                // anyway (the driver closes it when it stays full).
                Err(_) => self.next_ping = now + self.jittered(),
            }
        }
        true
    }

    /// A pong came.
    fn on_pong(&mut self, now: Instant) {
        if self.pong_due.take().is_some() {
            self.next_ping = now + self.jittered();
        }
    }

    /// Bytes read from a byte stream: looks for pongs between messages.
    fn on_stream_data(&mut self, bytes: &[u8], now: Instant) {
        let Some(framer) = self.framer.as_mut() else {
            return;
        };
        framer.push(bytes);
        let mut pong = false;
        loop {
            match framer.next_frame() {
                Some(Ok(Frame::Pong)) => pong = true,
                Some(Ok(_)) => {}
                None => break,
                Some(Err(_)) => {
                    // The endpoint closes a stream it cannot frame.
                    self.framer = None;
                    break;
                }
            }
        }
        if pong {
            self.on_pong(now);
        }
    }
}

/// What the reader learned when a connection registers with the driver.
struct Registered {
    flow: FlowId,
    close: oneshot::Receiver<()>,
    activity: Arc<Activity>,
    keepalive: Option<KeepAlive>,
}

/// Spawns the writer, tells the driver the connection is open.
async fn register<F>(
    ctx: &TaskCtx,
    info: ConnInfo,
    writer: impl FnOnce(FlowId, mpsc::Receiver<Outbound>, Arc<Activity>) -> F,
) -> Option<Registered>
where
    F: Future<Output = ()> + Send + 'static,
{
    let flow = ctx.new_flow();
    let (queue_tx, queue_rx) = mpsc::channel(ctx.settings.write_queue.max(1));
    let (close_tx, close_rx) = oneshot::channel();
    let activity = Arc::new(Activity::new());
    let keepalive = KeepAlive::new(ctx, &info, &queue_tx);
    ctx.spawn(writer(flow, queue_rx, activity.clone()));
    let opened = Opened {
        flow,
        transport: info.transport,
        local: info.local,
        remote: info.remote,
        writer: queue_tx,
        close: close_tx,
        outgoing: info.outgoing,
    };
    tracing::debug!(?flow, transport = %info.transport, remote = %info.remote, outgoing = info.outgoing.is_some(), "connection open");
    ctx.send(NetEvent::Opened(opened))
        .await
        .then_some(Registered {
            flow,
            close: close_rx,
            activity,
            keepalive,
        })
}

/// What the reader saw last.
enum Read<T> {
    Data(T),
    Closed,
}

/// Waits for the next read, the driver's close, the idle deadline, or a
/// keep-alive deadline (sending pings on the way). `None` means the reader
/// must stop without telling the driver (the driver closed the connection).
async fn next<T>(
    read: impl Future<Output = Read<T>>,
    close: &mut oneshot::Receiver<()>,
    activity: &Activity,
    idle: Option<Duration>,
    mut keepalive: Option<&mut KeepAlive>,
) -> Option<Read<T>> {
    tokio::pin!(read);
    loop {
        let deadline = idle.map(|d| activity.last() + d);
        let keepalive_deadline = keepalive.as_ref().map(|k| k.deadline());
        // Biased: bytes already read win over a deadline that passed at the
        // same time (RFC 5626 §4.4.1: a pong being received still counts).
        tokio::select! {
            biased;
            _ = &mut *close => return None,
            r = &mut read => return Some(r),
            () = sleep_until(deadline) => {
                if let Some(d) = idle {
                    if activity.last() + d <= Instant::now() {
                        tracing::debug!("connection idle, closing");
                        return Some(Read::Closed);
                    }
                }
            }
            () = sleep_until(keepalive_deadline) => {
                if let Some(k) = keepalive.as_deref_mut() {
                    if !k.on_deadline(Instant::now()) {
                        tracing::debug!("keep-alive not answered, closing");
                        return Some(Read::Closed);
                    }
                }
            }
        }
    }
}

/// Runs a TCP or TLS connection until it ends.
pub(crate) async fn run_stream<S>(ctx: TaskCtx, io: S, info: ConnInfo, permit: OwnedSemaphorePermit)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(io);
    let wctx = ctx.clone();
    let Some(mut reg) = register(&ctx, info, move |flow, queue, activity| {
        write_stream(wctx, flow, wr, queue, activity)
    })
    .await
    else {
        return;
    };
    let idle = info.idle_timeout(&ctx);
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let read = async {
            match rd.read(&mut buf).await {
                Ok(0) => Read::Closed,
                Ok(n) => Read::Data(n),
                Err(error) => {
                    tracing::debug!(flow = ?reg.flow, %error, "read failed");
                    Read::Closed
                }
            }
        };
        match next(
            read,
            &mut reg.close,
            &reg.activity,
            idle,
            reg.keepalive.as_mut(),
        )
        .await
        {
            None => break,
            Some(Read::Closed) => {
                ctx.send(NetEvent::Closed { flow: reg.flow }).await;
                break;
            }
            Some(Read::Data(n)) => {
                reg.activity.touch();
                let data = buf.get(..n).unwrap_or_default();
                if let Some(k) = reg.keepalive.as_mut() {
                    k.on_stream_data(data, Instant::now());
                }
                let bytes = Bytes::copy_from_slice(data);
                let input = Input::StreamData {
                    flow: reg.flow,
                    bytes,
                };
                if !ctx.send(NetEvent::Input(input)).await {
                    break;
                }
            }
        }
    }
    drop(permit);
}

async fn write_stream<W>(
    ctx: TaskCtx,
    flow: FlowId,
    mut wr: W,
    mut queue: mpsc::Receiver<Outbound>,
    activity: Arc<Activity>,
) where
    W: AsyncWrite + Unpin + Send,
{
    fn bytes(out: &Outbound) -> &[u8] {
        match out {
            Outbound::Message(bytes) => bytes,
            Outbound::Ping => PING,
        }
    }
    while let Some(out) = queue.recv().await {
        let write = async {
            wr.write_all(bytes(&out)).await?;
            // Take what else is queued before flushing (TLS buffers).
            while let Ok(more) = queue.try_recv() {
                wr.write_all(bytes(&more)).await?;
            }
            wr.flush().await
        };
        match ctx.bounded(ctx.settings.write_timeout, write).await {
            Some(Ok(())) => activity.touch(),
            Some(Err(error)) => {
                tracing::debug!(?flow, %error, "write failed");
                ctx.send(NetEvent::Closed { flow }).await;
                return;
            }
            None => {
                tracing::debug!(?flow, "write timed out or shutting down");
                ctx.send(NetEvent::Closed { flow }).await;
                return;
            }
        }
    }
    let _ = ctx.bounded(ctx.settings.write_timeout, wr.shutdown()).await;
}

/// Runs a WebSocket connection (RFC 7118): each text or binary message is
/// one SIP message.
pub(crate) async fn run_ws<S>(
    ctx: TaskCtx,
    ws: WebSocketStream<S>,
    info: ConnInfo,
    permit: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut stream) = ws.split();
    let wctx = ctx.clone();
    let Some(mut reg) = register(&ctx, info, move |flow, queue, activity| {
        write_ws(wctx, flow, sink, queue, activity)
    })
    .await
    else {
        return;
    };
    let idle = info.idle_timeout(&ctx);
    let source = Source {
        transport: info.transport,
        remote: info.remote,
        local: info.local,
        flow: Some(reg.flow),
    };
    loop {
        let read = async {
            match stream.next().await {
                Some(Ok(m)) => Read::Data(m),
                Some(Err(error)) => {
                    tracing::debug!(flow = ?reg.flow, %error, "websocket read failed");
                    Read::Closed
                }
                None => Read::Closed,
            }
        };
        match next(
            read,
            &mut reg.close,
            &reg.activity,
            idle,
            reg.keepalive.as_mut(),
        )
        .await
        {
            None => break,
            Some(Read::Closed | Read::Data(Message::Close(_))) => {
                ctx.send(NetEvent::Closed { flow: reg.flow }).await;
                break;
            }
            Some(Read::Data(message)) => {
                reg.activity.touch();
                let bytes = match message {
                    Message::Text(text) => Bytes::from(text),
                    Message::Binary(bytes) => bytes,
                    Message::Pong(_) => {
                        if let Some(k) = reg.keepalive.as_mut() {
                            k.on_pong(Instant::now());
                        }
                        continue;
                    }
                    _ => continue, // a ping: tungstenite answers it
                };
                if !ctx
                    .send(NetEvent::Input(Input::Datagram { source, bytes }))
                    .await
                {
                    break;
                }
            }
        }
    }
    drop(permit);
}

async fn write_ws<K>(
    ctx: TaskCtx,
    flow: FlowId,
    mut sink: K,
    mut queue: mpsc::Receiver<Outbound>,
    activity: Arc<Activity>,
) where
    K: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin + Send,
{
    while let Some(out) = queue.recv().await {
        let message = match out {
            Outbound::Ping => Message::Ping(Bytes::new()),
            // SIP over WebSocket is text unless the message is not UTF-8.
            Outbound::Message(bytes) => match Utf8Bytes::try_from(bytes.clone()) {
                Ok(text) => Message::Text(text),
                Err(_) => Message::Binary(bytes),
            },
        };
        match ctx
            .bounded(ctx.settings.write_timeout, sink.send(message))
            .await
        {
            Some(Ok(())) => activity.touch(),
            Some(Err(error)) => {
                tracing::debug!(?flow, %error, "websocket write failed");
                ctx.send(NetEvent::Closed { flow }).await;
                return;
            }
            None => {
                tracing::debug!(?flow, "websocket write timed out or shutting down");
                ctx.send(NetEvent::Closed { flow }).await;
                return;
            }
        }
    }
    let _ = ctx.bounded(ctx.settings.write_timeout, sink.close()).await;
}
