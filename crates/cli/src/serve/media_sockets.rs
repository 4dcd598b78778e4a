//! The media relay's UDP sockets: one per port of `[media] ports`, bound
//! on the relay's address. A reader task per socket hands each datagram
//! to the driver (`Done::Media`), where the service's relay forwards it;
//! the relay's transmits are sent back out with `try_send_to` from the
//! driver's pass (UDP sends do not block; a full buffer drops the packet,
//! as the network would).
//!
//! The relay runs on the driver, beside the SIP machine, rather than on a
//! thread of its own: the SDP rewrite, allocation and release happen in
//! the same pass as the signalling that causes them, with no lock and no
//! second copy of the sessions. A relay thread (sharded by port) is the
//! step when media load competes with signalling.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use switchboard_net::AppSender;
use switchboard_server::media::Transmit;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::server::Done;

/// Most datagrams waiting for the driver: beyond it a flood is dropped at
/// the socket rather than queued without bound.
const MAX_QUEUED: usize = 4096;

/// Largest datagram read (RTP over Ethernet fits well within it).
const MAX_DATAGRAM: usize = 2048;

/// The relay's sockets and their reader tasks (stopped when dropped).
#[derive(Debug)]
pub(crate) struct MediaSockets {
    sockets: HashMap<u16, Arc<UdpSocket>>,
    readers: Vec<JoinHandle<()>>,
    /// Datagrams handed to the driver and not handled yet.
    queued: Arc<AtomicUsize>,
}

impl MediaSockets {
    /// Binds every port of `ports` on `ip` and starts reading them.
    ///
    /// # Errors
    /// The first port that cannot be bound (in use, no such address).
    pub(crate) fn bind(
        ip: IpAddr,
        ports: RangeInclusive<u16>,
        done: &AppSender<Done>,
    ) -> std::io::Result<Self> {
        let queued = Arc::new(AtomicUsize::new(0));
        let mut this = Self {
            sockets: HashMap::new(),
            readers: Vec::new(),
            queued: Arc::clone(&queued),
        };
        for port in ports {
            let std_socket = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
            std_socket.set_nonblocking(true)?;
            let socket = Arc::new(UdpSocket::from_std(std_socket)?);
            this.sockets.insert(port, Arc::clone(&socket));
            let (done, queued) = (done.clone(), Arc::clone(&queued));
            this.readers
                .push(tokio::spawn(read(port, socket, done, queued)));
        }
        Ok(this)
    }

    /// A datagram the driver has handled (it makes room in the queue).
    pub(crate) fn handled(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Sends a relay transmit from its port.
    pub(crate) fn send(&self, transmit: &Transmit) {
        let Some(socket) = self.sockets.get(&transmit.local_port) else {
            tracing::debug!(
                port = transmit.local_port,
                "relay transmit from a port not bound"
            );
            return;
        };
        if let Err(error) = socket.try_send_to(&transmit.bytes, transmit.destination) {
            tracing::trace!(%error, destination = %transmit.destination, "relay packet not sent");
        }
    }
}

impl Drop for MediaSockets {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// Reads one socket until the driver stops.
async fn read(port: u16, socket: Arc<UdpSocket>, done: AppSender<Done>, queued: Arc<AtomicUsize>) {
    let mut buffer = vec![0; MAX_DATAGRAM];
    loop {
        let (length, source) = match socket.recv_from(&mut buffer).await {
            Ok(read) => read,
            Err(error) => {
                // ICMP port unreachable from a party that went away shows
                // up here on some systems: not the socket's end.
                tracing::trace!(port, %error, "relay socket read failed");
                continue;
            }
        };
        if queued.load(Ordering::Relaxed) >= MAX_QUEUED {
            continue;
        }
        let bytes = Bytes::copy_from_slice(buffer.get(..length).unwrap_or_default());
        queued.fetch_add(1, Ordering::Relaxed);
        let media = Done::Media {
            local_port: port,
            source,
            bytes,
        };
        if !done.send(media) {
            return; // the driver stopped
        }
    }
}
