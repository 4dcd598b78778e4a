//! One place to send a request.

use std::net::SocketAddr;

use crate::{Destination, Transport};

/// One place to send a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// The address and port.
    pub addr: SocketAddr,
    /// The host name it came from (the URI's host or an SRV target), for
    /// TLS name checks and logs; the address text for numeric hosts.
    pub host: String,
}

impl Target {
    /// Where to send a request for this target.
    pub fn destination(&self) -> Destination {
        Destination::Address {
            transport: self.transport,
            remote: self.addr,
        }
    }
}
