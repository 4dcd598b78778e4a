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
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::server::Done;

/// Most datagrams waiting for the driver: beyond it the readers stop
/// reading, so a flood is dropped at the socket (its kernel buffer full)
/// rather than queued without bound. Each reader may hold one more.
const MAX_QUEUED: usize = 4096;

/// How far the queue drains before the readers waiting for room read
/// again: one wake-up of them per half queue, not per datagram.
const RESUME_AT: usize = MAX_QUEUED / 2;

/// Largest datagram read (RTP over Ethernet fits well within it).
const MAX_DATAGRAM: usize = 2048;

/// The relay's sockets and their reader tasks (stopped when dropped).
#[derive(Debug)]
pub(crate) struct MediaSockets {
    sockets: HashMap<u16, Arc<UdpSocket>>,
    readers: Vec<JoinHandle<()>>,
    queue: Arc<Queue>,
}

/// The datagrams handed to the driver and not handled yet, and the
/// readers waiting for room.
///
/// A full queue makes the readers wait rather than read and drop: after
/// the driver's thread was held up (another process on its core), the
/// backlog waits in the sockets' buffers, which hold far more than the
/// queue; dropping beyond the queue lost packets of every call at once.
#[derive(Debug, Default)]
struct Queue {
    queued: AtomicUsize,
    room: Notify,
}

impl Queue {
    /// Returns once the queue has room.
    async fn room(&self) {
        while self.queued.load(Ordering::Relaxed) >= MAX_QUEUED {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the second look: a wake-up between the
            // look and the wait is not missed.
            notified.as_mut().enable();
            if self.queued.load(Ordering::Relaxed) < MAX_QUEUED {
                return;
            }
            notified.await;
        }
    }

    /// One datagram handled by the driver: the waiting readers go on
    /// once half the queue has drained.
    fn handled(&self) {
        let before = self.queued.fetch_sub(1, Ordering::Relaxed);
        if before == RESUME_AT + 1 {
            self.room.notify_waiters();
        }
    }
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
        let mut this = Self {
            sockets: HashMap::new(),
            readers: Vec::new(),
            queue: Arc::new(Queue::default()),
        };
        for port in ports {
            let std_socket = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
            std_socket.set_nonblocking(true)?;
            let socket = Arc::new(UdpSocket::from_std(std_socket)?);
            this.sockets.insert(port, Arc::clone(&socket));
            let (done, queue) = (done.clone(), Arc::clone(&this.queue));
            this.readers
                .push(tokio::spawn(read(port, socket, done, queue)));
        }
        Ok(this)
    }

    /// A datagram the driver has handled (it makes room in the queue).
    pub(crate) fn handled(&self) {
        self.queue.handled();
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

/// Reads one socket until the driver stops, while the queue has room.
async fn read(port: u16, socket: Arc<UdpSocket>, done: AppSender<Done>, queue: Arc<Queue>) {
    let mut buffer = vec![0; MAX_DATAGRAM];
    loop {
        queue.room().await;
        let (length, source) = match socket.recv_from(&mut buffer).await {
            Ok(read) => read,
            Err(error) => {
                // ICMP port unreachable from a party that went away shows
                // up here on some systems: not the socket's end.
                tracing::trace!(port, %error, "relay socket read failed");
                continue;
            }
        };
        let bytes = Bytes::copy_from_slice(buffer.get(..length).unwrap_or_default());
        queue.queued.fetch_add(1, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `room()` returns within a short wait.
    async fn has_room(queue: &Queue) -> bool {
        tokio::time::timeout(Duration::from_millis(20), queue.room())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_full_queue_holds_the_readers_until_half_of_it_is_handled() {
        let queue = Arc::new(Queue::default());
        queue.queued.store(MAX_QUEUED, Ordering::Relaxed);
        assert!(!has_room(&queue).await, "a reader read into a full queue");

        let waiting = Arc::clone(&queue);
        let reader = tokio::spawn(async move { waiting.room().await });
        tokio::task::yield_now().await;
        for _ in RESUME_AT + 1..MAX_QUEUED {
            queue.handled();
        }
        tokio::task::yield_now().await;
        assert!(!reader.is_finished(), "woken before half the queue drained");
        queue.handled();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), reader)
                .await
                .is_ok(),
            "a waiting reader was never woken"
        );
        assert!(has_room(&queue).await);
    }
}
