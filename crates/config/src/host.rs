//! What the settings need to know about the machine they run on.

use std::net::IpAddr;

/// Facts about the host, probed by the binary (this crate opens no
/// sockets): they pick the default listeners, the default domains and the
/// Record-Route hosts of listeners on every address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Host {
    /// The host's own address towards the rest of the network, if it has
    /// one (not loopback, not unspecified).
    pub primary_ip: Option<IpAddr>,
    /// Whether the host can bind IPv6 sockets.
    pub has_ipv6: bool,
}

impl Host {
    /// The primary address as a URI host (`[v6]` in brackets).
    pub(crate) fn primary_uri_host(&self) -> Option<String> {
        self.primary_ip.map(|ip| match ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        })
    }
}
