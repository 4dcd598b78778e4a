//! Free loopback ports.

use std::net::{TcpListener, UdpSocket};

/// A port of 127.0.0.1 free for both UDP and TCP (a SIP listener takes
/// both), chosen by the kernel.
pub fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket on 127.0.0.1");
        let port = udp.local_addr().expect("local address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A free port whose successor is free too (baresip opens TLS on its SIP
/// port + 1).
pub fn free_port_pair() -> u16 {
    loop {
        let port = free_port();
        if port < u16::MAX
            && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
            && TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
}

/// The first of `count` consecutive UDP ports of 127.0.0.1 that are all
/// free: SIPp's media port `-mp P` opens audio on P and P + 1 and video on
/// P + 2 and P + 3, and fails to start when one of them is taken.
pub fn free_udp_run(count: u16) -> u16 {
    loop {
        let first = free_port();
        let rest_free = (1..count).all(|i| {
            first
                .checked_add(i)
                .is_some_and(|port| UdpSocket::bind(("127.0.0.1", port)).is_ok())
        });
        if rest_free {
            return first;
        }
    }
}

/// Whether something listens on `port` of 127.0.0.1 over TCP (`tcp`) or
/// has bound it over UDP: binding it ourselves fails. Peers that say
/// nothing when ready (SIPp's screen is buffered in a pipe) are waited
/// for with it.
pub fn is_bound(port: u16, tcp: bool) -> bool {
    if tcp {
        TcpListener::bind(("127.0.0.1", port)).is_err()
    } else {
        UdpSocket::bind(("127.0.0.1", port)).is_err()
    }
}
