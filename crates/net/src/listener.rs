//! Listener tasks: the accept loop of TCP, TLS, WS and WSS, and outgoing
//! connection set-up (UDP sockets are read by the driver itself).

use std::net::SocketAddr;
use std::time::Duration;

use rustls::pki_types::ServerName;
use switchboard_core::Transport;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;

use crate::conn::{ConnInfo, run_stream, run_ws};
use crate::task::{ConnKey, NetEvent, TaskCtx};
use crate::ws;

/// Largest UDP datagram.
pub(crate) const UDP_BUFFER: usize = 64 * 1024;

/// Accepts connections; each one's handshakes run in its own task.
pub(crate) async fn accept_loop(ctx: TaskCtx, listener: TcpListener, transport: Transport) {
    let stopped = ctx.stopped();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            () = &mut stopped => return,
            r = listener.accept() => match r {
                Ok((tcp, remote)) => {
                    let Ok(permit) = ctx.settings.permits.clone().try_acquire_owned() else {
                        tracing::warn!(%remote, "connection limit reached, refusing connection");
                        continue;
                    };
                    let Ok(local) = tcp.local_addr() else { continue };
                    let _ = tcp.set_nodelay(true);
                    let info = ConnInfo { transport, local, remote, outgoing: None };
                    ctx.spawn(accepted(ctx.clone(), tcp, info, permit));
                }
                Err(error) => {
                    // Out of descriptors and the like: do not spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Runs the TLS and WebSocket handshakes of an accepted connection, then
/// the connection.
async fn accepted(ctx: TaskCtx, tcp: TcpStream, info: ConnInfo, permit: OwnedSemaphorePermit) {
    let limit = ctx.settings.handshake_timeout;
    let max = ctx.settings.max_message_size;
    let remote = info.remote;
    match info.transport {
        Transport::Tcp => run_stream(ctx, tcp, info, permit).await,
        Transport::Tls => {
            let Some(acceptor) = ctx.settings.tls_acceptor.clone() else {
                return;
            };
            match ctx.bounded(limit, acceptor.accept(tcp)).await {
                Some(Ok(tls)) => run_stream(ctx, tls, info, permit).await,
                Some(Err(error)) => tracing::debug!(%remote, %error, "TLS handshake failed"),
                None => tracing::debug!(%remote, "TLS handshake timed out"),
            }
        }
        Transport::Ws => match ctx.bounded(limit, ws::accept(tcp, max)).await {
            Some(Ok(ws)) => run_ws(ctx, ws, info, permit).await,
            Some(Err(error)) => tracing::debug!(%remote, %error, "WebSocket handshake failed"),
            None => tracing::debug!(%remote, "WebSocket handshake timed out"),
        },
        Transport::Wss => {
            let Some(acceptor) = ctx.settings.tls_acceptor.clone() else {
                return;
            };
            let handshakes = async {
                let tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
                ws::accept(tls, max).await.map_err(|e| e.to_string())
            };
            match ctx.bounded(limit, handshakes).await {
                Some(Ok(ws)) => run_ws(ctx, ws, info, permit).await,
                Some(Err(error)) => tracing::debug!(%remote, %error, "WSS handshake failed"),
                None => tracing::debug!(%remote, "WSS handshake timed out"),
            }
        }
        Transport::Udp => {}
    }
}

/// A connection we opened, past its handshakes.
enum Established {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Ws(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
    Wss(Box<tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>>),
}

/// Why an outgoing connection failed (logged only).
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("no TLS client configuration")]
    NoTlsClient,
    #[error("UDP is connectionless")]
    Udp,
}

async fn establish(
    ctx: &TaskCtx,
    key: ConnKey,
    server_name: Option<&str>,
) -> Result<(Established, SocketAddr), ConnectError> {
    let (transport, remote) = key;
    if transport == Transport::Udp {
        return Err(ConnectError::Udp);
    }
    let tcp = TcpStream::connect(remote).await?;
    let local = tcp.local_addr()?;
    let _ = tcp.set_nodelay(true);
    let max = ctx.settings.max_message_size;
    let tls = |tcp: TcpStream| async move {
        let connector = ctx
            .settings
            .tls_connector
            .clone()
            .ok_or(ConnectError::NoTlsClient)?;
        // The name the certificate must be valid for: the host the target
        // came from when known, else the address.
        let name = server_name
            .and_then(|n| ServerName::try_from(n.to_owned()).ok())
            .unwrap_or_else(|| ServerName::IpAddress(remote.ip().into()));
        Ok::<_, ConnectError>(connector.connect(name, tcp).await?)
    };
    let established = match transport {
        Transport::Tls => Established::Tls(Box::new(tls(tcp).await?)),
        Transport::Ws => Established::Ws(Box::new(ws::connect(tcp, remote, false, max).await?)),
        Transport::Wss => Established::Wss(Box::new(
            ws::connect(tls(tcp).await?, remote, true, max).await?,
        )),
        _ => Established::Tcp(tcp),
    };
    Ok((established, local))
}

/// Opens a connection for `key` and runs it; reports `ConnectFailed` when
/// it cannot be established in time.
pub(crate) async fn connect(ctx: TaskCtx, key: ConnKey, server_name: Option<String>) {
    let Ok(permit) = ctx.settings.permits.clone().try_acquire_owned() else {
        tracing::warn!(remote = %key.1, "connection limit reached, not connecting");
        ctx.send(NetEvent::ConnectFailed { key }).await;
        return;
    };
    let (established, local) = match ctx
        .bounded(
            ctx.settings.connect_timeout,
            establish(&ctx, key, server_name.as_deref()),
        )
        .await
    {
        Some(Ok(done)) => done,
        Some(Err(error)) => {
            tracing::debug!(transport = %key.0, remote = %key.1, %error, "connect failed");
            ctx.send(NetEvent::ConnectFailed { key }).await;
            return;
        }
        None => {
            tracing::debug!(transport = %key.0, remote = %key.1, "connect timed out");
            ctx.send(NetEvent::ConnectFailed { key }).await;
            return;
        }
    };
    let info = ConnInfo {
        transport: key.0,
        local,
        remote: key.1,
        outgoing: Some(key),
    };
    match established {
        Established::Tcp(s) => run_stream(ctx, s, info, permit).await,
        Established::Tls(s) => run_stream(ctx, *s, info, permit).await,
        Established::Ws(s) => run_ws(ctx, *s, info, permit).await,
        Established::Wss(s) => run_ws(ctx, *s, info, permit).await,
    }
}
