//! Binding listener sockets. An IPv6 socket is bound IPv6-only
//! (`IPV6_V6ONLY`), so that `[::]:5060` and `0.0.0.0:5060` coexist and
//! every peer is seen with its own address family (no `::ffff:` mapped
//! IPv4 addresses in Via `received` or in a binding's source).

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};

/// Connections waiting to be accepted, as tokio's own `bind` uses.
const BACKLOG: i32 = 1024;

fn socket(addr: SocketAddr, kind: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A UDP socket on `addr`.
pub(crate) fn udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket(addr, Type::DGRAM, Protocol::UDP)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// A TCP listener on `addr` (`SO_REUSEADDR`, as tokio sets it, so a
/// restarted server binds while old connections linger in TIME_WAIT).
pub(crate) fn tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket(addr, Type::STREAM, Protocol::TCP)?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}
