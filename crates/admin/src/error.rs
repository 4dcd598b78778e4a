//! Why the admin listener did not start.

use std::io;
use std::net::SocketAddr;

/// Why [`AdminServer::start`](crate::AdminServer::start) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration's fault: bound beyond loopback, the API needs TLS
    /// (tokens would cross the network in clear).
    #[error(
        "the admin API on {addr} is reachable beyond this host and needs TLS: give tls_cert and tls_key, or bind it to 127.0.0.1"
    )]
    NeedsTls {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The environment's: the address is taken or not ours.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
}
