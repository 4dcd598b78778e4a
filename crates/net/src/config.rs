//! Runtime configuration: listeners, TLS, connection limits and timeouts.

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::Transport;

use crate::{TlsClient, TlsServer};

/// One listener: a transport on a local address (port 0 picks a free port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Listen {
    /// The transport.
    pub transport: Transport,
    /// The local address to bind.
    pub addr: SocketAddr,
}

impl Listen {
    /// A listener for `transport` on `addr`.
    pub fn new(transport: Transport, addr: SocketAddr) -> Self {
        Self { transport, addr }
    }
}

/// How the runtime behaves. `Config::default()` listens nowhere; add
/// [`Listen`] entries.
#[derive(Debug, Clone)]
pub struct Config {
    /// The listeners. UDP binds one socket per entry; TCP, TLS, WS and WSS
    /// accept connections. Outgoing connections need no listener, but the
    /// Via address of a transport comes from its listener.
    pub listen: Vec<Listen>,
    /// The sans-IO endpoint's configuration. When its `via_addresses` is
    /// empty it is filled from the bound listener addresses; entries with
    /// port 0 get the bound port of that transport's listener.
    pub endpoint: switchboard_core::Config,
    /// Certificate and key of TLS and WSS listeners.
    pub tls_server: Option<TlsServer>,
    /// Trust for outgoing TLS and WSS connections; without it they fail.
    pub tls_client: Option<TlsClient>,
    /// Close an accepted connection after this long without traffic in
    /// either direction (default 15 minutes; `None` never).
    pub idle_timeout: Option<Duration>,
    /// The same for connections we opened (default 15 minutes).
    pub outgoing_idle_timeout: Option<Duration>,
    /// Give up connecting (TCP, TLS and WebSocket handshakes included)
    /// after this long (default 10 s).
    pub connect_timeout: Duration,
    /// Drop an accepted connection whose TLS or WebSocket handshake takes
    /// longer (default 10 s).
    pub handshake_timeout: Duration,
    /// Close a connection whose peer does not take a message for this long
    /// (default 30 s).
    pub write_timeout: Duration,
    /// Messages queued for one connection; when full the peer is too slow
    /// and the connection is closed (default 256).
    pub write_queue: usize,
    /// Incoming events queued for the transaction user; when full new
    /// requests are answered 503 (default 1024).
    pub incoming_queue: usize,
    /// Open connections allowed (accepted and outgoing; default 10 000).
    pub max_connections: usize,
    /// Keep-alives on the connections we open (RFC 5626 §4.4.1): over TCP
    /// and TLS a CRLFCRLF ping, which the peer answers with a CRLF pong;
    /// over WS and WSS a WebSocket Ping, answered by a Pong. Each is sent a
    /// random 80 to 100 % of this interval after the last was answered (or
    /// the connection opened). Off by default (`None`), as a server needs
    /// none: every connection answers the peer's pings either way.
    /// Keep-alives are traffic: a connection that has them does not idle
    /// out.
    pub keepalive_interval: Option<Duration>,
    /// A keep-alive ping not answered within this long means the connection
    /// is dead: it is closed, and the transactions sent over it fail with a
    /// transport error (so a [`crate::FailoverTransaction`] moves on to the
    /// next target). Default 10 s (RFC 5626 §4.4.1).
    pub keepalive_timeout: Duration,
    /// Receive and send buffer of each UDP socket, in bytes (default 4 MiB,
    /// [`DEFAULT_UDP_BUFFER_BYTES`]; `None` keeps the kernel's default,
    /// about 208 KB on Linux). A burst beyond the receive buffer is dropped
    /// by the kernel and recovered only by retransmission after T1. Linux
    /// caps the size at `net.core.rmem_max` / `wmem_max` unless the process
    /// has CAP_NET_ADMIN; what was granted is logged at start.
    pub udp_buffer_bytes: Option<usize>,
}

/// The UDP socket buffer size asked for by default: 4 MiB, as SIPp asks
/// for its own sockets.
pub const DEFAULT_UDP_BUFFER_BYTES: usize = 4 << 20;

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            endpoint: switchboard_core::Config::default(),
            tls_server: None,
            tls_client: None,
            idle_timeout: Some(Duration::from_secs(15 * 60)),
            outgoing_idle_timeout: Some(Duration::from_secs(15 * 60)),
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            write_queue: 256,
            incoming_queue: 1024,
            max_connections: 10_000,
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(10),
            udp_buffer_bytes: Some(DEFAULT_UDP_BUFFER_BYTES),
        }
    }
}

/// Fills `via` from the bound listeners (see [`Config::endpoint`]).
pub(crate) fn via_addresses(
    mut via: Vec<(Transport, SocketAddr)>,
    bound: &[(Transport, SocketAddr)],
) -> Vec<(Transport, SocketAddr)> {
    if via.is_empty() {
        let mut out: Vec<(Transport, SocketAddr)> = Vec::new();
        for &(t, a) in bound {
            if !out.iter().any(|(ot, _)| *ot == t) {
                out.push((t, a));
            }
        }
        return out;
    }
    for (t, a) in &mut via {
        if a.port() == 0 {
            if let Some((_, b)) = bound.iter().find(|(bt, _)| bt == t) {
                a.set_port(b.port());
            }
        }
    }
    via
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed parse of a literal is a bug in the test
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn via_from_listeners_and_port_zero() {
        let bound = [
            (Transport::Udp, addr("127.0.0.1:5070")),
            (Transport::Udp, addr("127.0.0.1:5072")),
            (Transport::Tcp, addr("127.0.0.1:5071")),
        ];
        assert_eq!(
            via_addresses(Vec::new(), &bound),
            vec![
                (Transport::Udp, addr("127.0.0.1:5070")),
                (Transport::Tcp, addr("127.0.0.1:5071"))
            ]
        );
        let out = via_addresses(vec![(Transport::Tcp, addr("192.0.2.7:0"))], &bound);
        assert_eq!(out, vec![(Transport::Tcp, addr("192.0.2.7:5071"))]);
    }
}
