//! Transports, flows and where messages come from and go to (RFC 3261 §18).

use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP datagrams.
    Udp,
    /// TCP stream.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
}

impl Transport {
    /// The token used in Via (`UDP`, `TCP`, `TLS`, `WS`, `WSS`).
    pub fn as_via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// The token in lower case (`udp`, `tcp`, `tls`, `ws`, `wss`): a
    /// `transport=` URI parameter, a stored column, the dial plan's name;
    /// without allocating.
    pub fn as_lowercase_token(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// Parses a Via transport token or a `transport=` URI parameter.
    pub fn from_token(token: &str) -> Option<Self> {
        [Self::Udp, Self::Tcp, Self::Tls, Self::Ws, Self::Wss]
            .into_iter()
            .find(|t| t.as_via_token().eq_ignore_ascii_case(token))
    }

    /// Reliable transports need no retransmissions (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// The transport carries a byte stream that must be framed.
    pub fn is_stream(self) -> bool {
        matches!(self, Self::Tcp | Self::Tls)
    }

    /// The transport is secure (TLS, WSS).
    pub fn is_secure(self) -> bool {
        matches!(self, Self::Tls | Self::Wss)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_via_token())
    }
}

/// A connection (TCP, TLS, WS, WSS) known to the driver; numbered by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowId(pub u64);

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source {
    /// Transport it arrived on.
    pub transport: Transport,
    /// The peer's address (packet source or connection peer).
    pub remote: SocketAddr,
    /// Our address it arrived at.
    pub local: SocketAddr,
    /// The connection, for connection-oriented transports.
    pub flow: Option<FlowId>,
}

/// Where to send a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    /// Down an existing connection.
    Flow(FlowId),
    /// To an address over a transport; for connection-oriented transports
    /// the driver reuses a connection to that address or opens one.
    Address {
        /// Transport to use.
        transport: Transport,
        /// The peer.
        remote: SocketAddr,
    },
}

/// Bytes to send, produced by [`crate::Endpoint::poll_transmit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: Destination,
    /// Our address to send from. Responses (and every answer to a peer's
    /// message: 100 Trying, 400, 503, keep-alive pongs) carry the address
    /// their request arrived at ([`Source::local`]), so a host with several
    /// UDP sockets answers from the one the peer wrote to (RFC 3261
    /// §18.2.2: the response goes out from where the request came in).
    /// `None` (requests, stateless messages): the driver chooses. Down a
    /// [`Destination::Flow`] the connection decides and this is only
    /// informative.
    pub local: Option<SocketAddr>,
    /// One whole message (or a keep-alive).
    pub bytes: Bytes,
}
