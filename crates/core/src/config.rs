//! Endpoint configuration: timer values, limits and transport rules.

use std::net::SocketAddr;
use std::time::Duration;

use crate::Transport;

/// How the endpoint behaves. `Config::default()` follows RFC 3261's values.
#[derive(Debug, Clone)]
pub struct Config {
    /// RTT estimate (RFC 3261 T1), 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses (T2), 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network (T4), 5 s.
    pub t4: Duration,
    /// How long an INVITE server transaction waits for the TU before it
    /// sends 100 Trying itself (RFC 3261 §17.2.1: 200 ms).
    pub trying_delay: Duration,
    /// Live transactions allowed; beyond it new requests get 503.
    pub max_transactions: usize,
    /// Largest message accepted or sent, in octets.
    pub max_message_size: usize,
    /// Answer to the packet's source address and port even when the top Via
    /// has no `rport` (phones behind NAT need it). On by default.
    pub symmetric_response: bool,
    /// Requests larger than this over UDP are sent over TCP instead
    /// (RFC 3261 §18.1.1: MTU minus 200, i.e. 1300 octets). `None` disables.
    pub udp_size_limit: Option<usize>,
    /// Seconds a client is told to wait in Retry-After when the endpoint
    /// sheds load.
    pub retry_after: u32,
    /// The address written in Via sent-by per transport; falls back to the
    /// first entry when a transport has no own entry.
    pub via_addresses: Vec<(Transport, SocketAddr)>,
    /// Value of the `Server`/`User-Agent` header in stateless responses.
    pub server_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
            max_transactions: 100_000,
            max_message_size: 64 * 1024,
            symmetric_response: true,
            udp_size_limit: Some(1300),
            retry_after: 5,
            via_addresses: Vec::new(),
            server_name: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl Config {
    /// The sent-by address for `transport`.
    pub(crate) fn via_address(&self, transport: Transport) -> Option<SocketAddr> {
        self.via_addresses
            .iter()
            .find(|(t, _)| *t == transport)
            .or_else(|| self.via_addresses.first())
            .map(|(_, a)| *a)
    }

    /// 64*T1: timers B, F, H, J, L, M.
    pub(crate) fn t1_64(&self) -> Duration {
        self.t1 * 64
    }
}
