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

/// A UDP socket on `addr`, its kernel buffers sized to `buffer_bytes`
/// when given (see [`size_buffers`]).
pub(crate) fn udp(addr: SocketAddr, buffer_bytes: Option<usize>) -> io::Result<UdpSocket> {
    UdpSocket::from_std(udp_socket(addr, buffer_bytes)?.into())
}

fn udp_socket(addr: SocketAddr, buffer_bytes: Option<usize>) -> io::Result<Socket> {
    let socket = socket(addr, Type::DGRAM, Protocol::UDP)?;
    if let Some(bytes) = buffer_bytes {
        size_buffers(&socket, bytes);
        log_granted(addr, bytes, &socket);
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Asks for `bytes` of receive and send buffer. A burst larger than the
/// kernel default (about 208 KB) is otherwise dropped before the driver
/// sees it, and comes back only as a retransmission after T1. The plain
/// options are capped at `net.core.rmem_max` / `wmem_max`; a privileged
/// process (CAP_NET_ADMIN) may go past the cap with the FORCE variants,
/// tried first. A refusal keeps what the kernel has: never fatal.
fn size_buffers(socket: &Socket, bytes: usize) {
    if !force_buffers(socket, bytes) {
        if let Err(error) = socket.set_recv_buffer_size(bytes) {
            tracing::warn!(%error, bytes, "udp receive buffer not sized");
        }
        if let Err(error) = socket.set_send_buffer_size(bytes) {
            tracing::warn!(%error, bytes, "udp send buffer not sized");
        }
    }
}

/// `SO_RCVBUFFORCE` and `SO_SNDBUFFORCE`: whether both were granted.
#[cfg(target_os = "linux")]
fn force_buffers(socket: &Socket, bytes: usize) -> bool {
    use nix::sys::socket::{setsockopt, sockopt};
    setsockopt(socket, sockopt::RcvBufForce, &bytes).is_ok()
        && setsockopt(socket, sockopt::SndBufForce, &bytes).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn force_buffers(_socket: &Socket, _bytes: usize) -> bool {
    false
}

/// Logs what the kernel granted (Linux reports twice the size asked for,
/// its bookkeeping included), and warns when it is less than asked.
fn log_granted(addr: SocketAddr, bytes: usize, socket: &Socket) {
    let recv = socket.recv_buffer_size().unwrap_or(0);
    let send = socket.send_buffer_size().unwrap_or(0);
    if recv < bytes || send < bytes {
        tracing::warn!(
            %addr,
            asked = bytes,
            recv,
            send,
            "udp buffers smaller than asked: raise net.core.rmem_max and net.core.wmem_max, or run with CAP_NET_ADMIN"
        );
    } else {
        tracing::info!(%addr, asked = bytes, recv, send, "udp buffers");
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a socket that cannot bind on loopback is a broken host
mod tests {
    use super::*;

    #[test]
    fn sized_udp_buffers_are_at_least_the_kernel_default() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let default = udp_socket(addr, None).unwrap();
        let sized = udp_socket(addr, Some(4 << 20)).unwrap();
        let default_recv = default.recv_buffer_size().unwrap();
        let default_send = default.send_buffer_size().unwrap();
        assert!(sized.recv_buffer_size().unwrap() >= default_recv);
        assert!(sized.send_buffer_size().unwrap() >= default_send);
    }

    #[test]
    fn a_buffer_larger_than_the_default_is_granted_when_the_kernel_allows() {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let default_recv = udp_socket(addr, None).unwrap().recv_buffer_size().unwrap();
        let asked = default_recv * 2;
        let sized = udp_socket(addr, Some(asked)).unwrap();
        // Without privileges the kernel caps the size at rmem_max: only a
        // cap below what was asked excuses a smaller buffer.
        let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        let forced = force_buffers(&udp_socket(addr, None).unwrap(), asked);
        if forced || cap.is_some_and(|cap| cap >= asked) {
            assert!(sized.recv_buffer_size().unwrap() >= asked);
        }
    }
}
