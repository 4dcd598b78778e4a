//! One connection: a reader that feeds the driver and a writer task that
//! drains the connection's bounded queue, so that a slow peer never blocks
//! the driver. Byte streams (TCP, TLS) and WebSocket (WS, WSS) differ only
//! in how messages are read and written.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use switchboard_core::{FlowId, Input, Source, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::task::{Activity, ConnKey, NetEvent, Opened, TaskCtx, sleep_until};

const READ_BUFFER: usize = 16 * 1024;

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

/// What the reader learned when a connection registers with the driver.
struct Registered {
    flow: FlowId,
    close: oneshot::Receiver<()>,
    activity: Arc<Activity>,
}

/// Spawns the writer, tells the driver the connection is open.
async fn register<F>(
    ctx: &TaskCtx,
    info: ConnInfo,
    writer: impl FnOnce(FlowId, mpsc::Receiver<Bytes>, Arc<Activity>) -> F,
) -> Option<Registered>
where
    F: Future<Output = ()> + Send + 'static,
{
    let flow = ctx.new_flow();
    let (queue_tx, queue_rx) = mpsc::channel(ctx.settings.write_queue.max(1));
    let (close_tx, close_rx) = oneshot::channel();
    let activity = Arc::new(Activity::new());
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
        })
}

/// What the reader saw last.
enum Read<T> {
    Data(T),
    Closed,
}

/// Waits for the next read, the driver's close, or the idle deadline.
/// `None` means the reader must stop without telling the driver (the
/// driver closed the connection).
async fn next<T>(
    read: impl Future<Output = Read<T>>,
    close: &mut oneshot::Receiver<()>,
    activity: &Activity,
    idle: Option<Duration>,
) -> Option<Read<T>> {
    tokio::pin!(read);
    loop {
        let deadline = idle.map(|d| activity.last() + d);
        tokio::select! {
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
        match next(read, &mut reg.close, &reg.activity, idle).await {
            None => break,
            Some(Read::Closed) => {
                ctx.send(NetEvent::Closed { flow: reg.flow }).await;
                break;
            }
            Some(Read::Data(n)) => {
                reg.activity.touch();
                let bytes = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
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
    mut queue: mpsc::Receiver<Bytes>,
    activity: Arc<Activity>,
) where
    W: AsyncWrite + Unpin + Send,
{
    while let Some(bytes) = queue.recv().await {
        let write = async {
            wr.write_all(&bytes).await?;
            // Take what else is queued before flushing (TLS buffers).
            while let Ok(more) = queue.try_recv() {
                wr.write_all(&more).await?;
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
        match next(read, &mut reg.close, &reg.activity, idle).await {
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
                    _ => continue, // ping, pong: answered by tungstenite
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
    mut queue: mpsc::Receiver<Bytes>,
    activity: Arc<Activity>,
) where
    K: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin + Send,
{
    while let Some(bytes) = queue.recv().await {
        // SIP over WebSocket is text unless the message is not UTF-8.
        let message = match Utf8Bytes::try_from(bytes.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(bytes),
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
