//! Datagrams read and written in batches: on Linux one `recvmmsg` or
//! `sendmmsg` system call moves up to [`SLOTS`] datagrams; elsewhere, and
//! once the kernel answered that it has no such call, one datagram per
//! call (`try_recv_from` / `try_send_to`), as before.
//!
//! The batched calls are nix's safe wrappers (this crate forbids unsafe
//! code; nix is already the crate's Linux socket-option dependency, and
//! neither socket2 nor quinn-udp sends to many destinations in one call).
//! Their preallocated headers (`MultiHeaders`) hold raw pointers, so they
//! are not `Send` and cannot live in the driver, a tokio task: they are
//! kept once per thread (see `Headers`) and refilled by every call. Each
//! call goes through tokio's `try_io`, so a `WouldBlock` clears the
//! socket's readiness exactly as `try_recv_from` and `try_send_to` do.

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio::net::UdpSocket;

use crate::listener::UDP_BUFFER;

/// Datagrams per system call (quinn-udp's batch on Linux too).
pub(crate) const SLOTS: usize = 32;

/// The UDP reads and writes of one driver: one set of receive buffers,
/// [`SLOTS`] of [`UDP_BUFFER`] bytes (any UDP payload fits one), reused by
/// every read; pages the kernel never writes into cost no memory.
pub(crate) struct UdpBatch {
    buffers: Vec<u8>,
    /// `recvmmsg` is used (Linux, until the kernel refuses it).
    batched_recv: bool,
    /// `sendmmsg` is used (Linux, until the kernel refuses it).
    batched_send: bool,
}

impl std::fmt::Debug for UdpBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpBatch")
            .field("buffer_bytes", &self.buffers.len())
            .field("batched_recv", &self.batched_recv)
            .field("batched_send", &self.batched_send)
            .finish()
    }
}

impl UdpBatch {
    pub(crate) fn new() -> Self {
        Self::with_batching(cfg!(target_os = "linux"))
    }

    /// `batched` false: one datagram per call even where batches exist
    /// (the portable path, for tests).
    pub(crate) fn with_batching(batched: bool) -> Self {
        Self {
            buffers: vec![0; SLOTS * UDP_BUFFER],
            batched_recv: batched,
            batched_send: batched,
        }
    }

    /// Reads what `socket` (bound to `local`) holds, at most about `limit`
    /// datagrams, and hands each to `deliver` with its source, in the order
    /// the kernel queued them. Returns how many were read (a failed read
    /// counts as one).
    ///
    /// Stops at `WouldBlock` (readiness cleared, the driver waits again) or
    /// after a short batch: the queue was empty a moment ago, and the
    /// socket stays ready, so the driver reads again after draining the
    /// endpoint, taking what came meanwhile without a wait. Other errors
    /// (ICMP errors and the like) are logged and reading goes on: the
    /// socket stays usable.
    pub(crate) fn recv(
        &mut self,
        socket: &UdpSocket,
        local: SocketAddr,
        limit: usize,
        mut deliver: impl FnMut(SocketAddr, &[u8]),
    ) -> usize {
        let mut read = 0;
        while read < limit {
            let batch = if self.batched_recv {
                self.recv_batch(socket, local, &mut deliver)
            } else {
                self.recv_one(socket, &mut deliver)
            };
            match batch {
                Ok(n) => {
                    read += n.max(1);
                    if self.batched_recv && n < SLOTS {
                        break;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if self.batched_recv && refused(&error) => {
                    tracing::info!(%local, %error, "recvmmsg refused, reading one datagram per call");
                    self.batched_recv = false;
                }
                Err(error) => {
                    read += 1;
                    tracing::debug!(%local, %error, "udp receive failed");
                }
            }
        }
        read
    }

    fn recv_one(
        &mut self,
        socket: &UdpSocket,
        deliver: &mut impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<usize> {
        let buffer = self.buffers.get_mut(..UDP_BUFFER).unwrap_or_default();
        let (n, remote) = socket.try_recv_from(buffer)?;
        deliver(remote, buffer.get(..n).unwrap_or_default());
        Ok(1)
    }

    /// Sends `datagrams` from `socket` in their order, then empties it. A
    /// datagram the kernel rejects is logged and skipped; a full socket
    /// buffer (`WouldBlock`) loses it and the rest as the network would
    /// (never wait in the driver: transactions retransmit), each logged as
    /// a single send would be.
    pub(crate) fn send(&mut self, socket: &UdpSocket, datagrams: &mut Vec<(SocketAddr, Bytes)>) {
        let mut rest = datagrams.as_slice();
        while let Some((remote, _)) = rest.first() {
            let sent = if self.batched_send && rest.len() > 1 {
                send_batch(socket, rest)
            } else {
                send_one(socket, rest)
            };
            match sent {
                Ok(n) => rest = rest.get(n.max(1)..).unwrap_or_default(),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    for (remote, _) in rest {
                        tracing::debug!(%remote, %error, "udp send failed");
                    }
                    break;
                }
                Err(error) if self.batched_send && rest.len() > 1 && refused(&error) => {
                    tracing::info!(%error, "sendmmsg refused, sending one datagram per call");
                    self.batched_send = false;
                }
                Err(error) => {
                    tracing::debug!(%remote, %error, "udp send failed");
                    rest = rest.get(1..).unwrap_or_default();
                }
            }
        }
        datagrams.clear();
    }
}

fn send_one(socket: &UdpSocket, datagrams: &[(SocketAddr, Bytes)]) -> io::Result<usize> {
    match datagrams.first() {
        Some((remote, bytes)) => socket.try_send_to(bytes, *remote).map(|_| 1),
        None => Ok(0),
    }
}

/// Whether `error` says the kernel has no batched call (old kernels,
/// sandboxes), as opposed to this socket or datagram failing.
fn refused(error: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        use nix::errno::Errno;
        let code = error.raw_os_error();
        code == Some(Errno::ENOSYS as i32) || code == Some(Errno::EOPNOTSUPP as i32)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = error;
        false
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::cell::RefCell;
    use std::io::{self, IoSlice, IoSliceMut};
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd;

    use bytes::Bytes;
    use nix::sys::socket::{
        ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
    };
    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    use super::{SLOTS, UdpBatch};
    use crate::listener::UDP_BUFFER;

    /// The preallocated message headers of this thread. nix's `recvmmsg`
    /// refills only the data pointers: the address pointer and length stay
    /// as the last call left them. So receiving never shares headers with
    /// sending (which points them at its own addresses), and each address
    /// family has its own (the kernel writes back the length of the
    /// address it stored: an IPv4 source's would cut an IPv6 one short).
    #[derive(Default)]
    struct Headers {
        recv_v4: Option<MultiHeaders<SockaddrStorage>>,
        recv_v6: Option<MultiHeaders<SockaddrStorage>>,
        send: Option<MultiHeaders<SockaddrStorage>>,
    }

    /// Which of the [`Headers`] a call uses.
    #[derive(Clone, Copy)]
    enum Job {
        RecvV4,
        RecvV6,
        Send,
    }

    thread_local! {
        static HEADERS: RefCell<Headers> = RefCell::new(Headers::default());
    }

    /// Runs `f` with this thread's headers for the job; `None` (never in
    /// practice: the calls do not nest) when they are in use.
    fn with_headers<R>(
        job: Job,
        f: impl FnOnce(&mut MultiHeaders<SockaddrStorage>) -> io::Result<R>,
    ) -> io::Result<R> {
        HEADERS.with(|cell| {
            let mut headers = cell
                .try_borrow_mut()
                .map_err(|_| io::Error::from(io::ErrorKind::ResourceBusy))?;
            let slot = match job {
                Job::RecvV4 => &mut headers.recv_v4,
                Job::RecvV6 => &mut headers.recv_v6,
                Job::Send => &mut headers.send,
            };
            f(slot.get_or_insert_with(|| MultiHeaders::preallocate(SLOTS, None)))
        })
    }

    impl UdpBatch {
        /// One `recvmmsg`: how many datagrams it read.
        pub(super) fn recv_batch(
            &mut self,
            socket: &UdpSocket,
            local: SocketAddr,
            deliver: &mut impl FnMut(SocketAddr, &[u8]),
        ) -> io::Result<usize> {
            let job = if local.is_ipv4() {
                Job::RecvV4
            } else {
                Job::RecvV6
            };
            let buffers = &mut self.buffers;
            with_headers(job, |headers| {
                let mut chunks = buffers.chunks_exact_mut(UDP_BUFFER);
                let mut slices: [[IoSliceMut<'_>; 1]; SLOTS] =
                    std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
                let slices = &mut slices;
                let received = socket.try_io(Interest::READABLE, move || {
                    recvmmsg(
                        socket.as_raw_fd(),
                        headers,
                        slices,
                        MsgFlags::MSG_DONTWAIT,
                        None,
                    )
                    .map_err(io::Error::from)
                })?;
                let mut count = 0;
                for message in received {
                    count += 1;
                    let remote = message.address.as_ref().and_then(socket_addr);
                    let data = message.iovs().next().unwrap_or_default();
                    match remote {
                        // Cannot happen with a buffer of UDP_BUFFER bytes;
                        // a cut message would only fail to parse.
                        _ if message.flags.contains(MsgFlags::MSG_TRUNC) => {
                            tracing::debug!(%local, "udp datagram truncated, dropped");
                        }
                        Some(remote) => deliver(remote, data),
                        None => tracing::debug!(%local, "udp datagram without a source, dropped"),
                    }
                }
                Ok(count)
            })
        }
    }

    /// One `sendmmsg` of the first [`SLOTS`] of `datagrams`: how many the
    /// kernel took (the first failing one, if any, fails the next call).
    pub(super) fn send_batch(
        socket: &UdpSocket,
        datagrams: &[(SocketAddr, Bytes)],
    ) -> io::Result<usize> {
        let count = datagrams.len().min(SLOTS);
        let slices: [[IoSlice<'_>; 1]; SLOTS] = std::array::from_fn(|i| {
            [IoSlice::new(
                datagrams
                    .get(i)
                    .map_or(&[][..], |(_, bytes)| bytes.as_ref()),
            )]
        });
        let addresses: [Option<SockaddrStorage>; SLOTS] = std::array::from_fn(|i| {
            datagrams
                .get(i)
                .map(|(remote, _)| SockaddrStorage::from(*remote))
        });
        let addresses = addresses.get(..count).unwrap_or_default();
        let no_control: [ControlMessage<'_>; 0] = [];
        with_headers(Job::Send, |headers| {
            socket.try_io(Interest::WRITABLE, move || {
                sendmmsg(
                    socket.as_raw_fd(),
                    headers,
                    slices.iter().take(count),
                    addresses,
                    no_control,
                    MsgFlags::empty(),
                )
                .map(Iterator::count)
                .map_err(io::Error::from)
            })
        })
    }

    fn socket_addr(storage: &SockaddrStorage) -> Option<SocketAddr> {
        if let Some(v4) = storage.as_sockaddr_in() {
            return Some(SocketAddr::V4((*v4).into()));
        }
        storage
            .as_sockaddr_in6()
            .map(|v6| SocketAddr::V6((*v6).into()))
    }
}

#[cfg(target_os = "linux")]
use linux::send_batch;

/// Off Linux the batched calls do not exist: the portable path is taken
/// (`batched_*` start false), these only satisfy the compiler.
#[cfg(not(target_os = "linux"))]
impl UdpBatch {
    fn recv_batch(
        &mut self,
        socket: &UdpSocket,
        _local: SocketAddr,
        deliver: &mut impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<usize> {
        self.recv_one(socket, deliver)
    }
}

#[cfg(not(target_os = "linux"))]
fn send_batch(socket: &UdpSocket, datagrams: &[(SocketAddr, Bytes)]) -> io::Result<usize> {
    send_one(socket, datagrams)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a panic is a failure
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;

    async fn bound() -> (UdpSocket, SocketAddr) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let at = socket.local_addr().unwrap();
        (socket, at)
    }

    /// Reads from `socket` until `want` datagrams came (bounded).
    async fn read_all(
        batch: &mut UdpBatch,
        socket: &UdpSocket,
        at: SocketAddr,
        want: usize,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            while got.len() < want {
                socket.readable().await.unwrap();
                batch.recv(socket, at, 256, |remote, data| {
                    got.push((remote, data.to_vec()));
                });
            }
        })
        .await
        .unwrap();
        got
    }

    /// The datagrams of each source, in the order they came.
    fn by_source(got: &[(SocketAddr, Vec<u8>)]) -> HashMap<SocketAddr, Vec<Vec<u8>>> {
        let mut map: HashMap<_, Vec<_>> = HashMap::new();
        for (remote, data) in got {
            map.entry(*remote).or_default().push(data.clone());
        }
        map
    }

    fn numbered(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("datagram {i}").into_bytes())
            .collect()
    }

    /// Datagrams from several sources, queued before the read (more than
    /// one batch of them, interleaved), all come, in order per source.
    async fn several_sources_in_order(batched: bool) {
        let (server, at) = bound().await;
        let mut clients = Vec::new();
        for _ in 0..4 {
            clients.push(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
        }
        let sent = numbered(25);
        for data in &sent {
            for client in &clients {
                client.send_to(data, at).unwrap();
            }
        }
        let mut batch = UdpBatch::with_batching(batched);
        let got = read_all(&mut batch, &server, at, 100).await;
        let got = by_source(&got);
        assert_eq!(got.len(), 4);
        for client in &clients {
            assert_eq!(got[&client.local_addr().unwrap()], sent);
        }
    }

    #[tokio::test]
    async fn batched_reads_keep_every_sources_order() {
        several_sources_in_order(true).await;
    }

    #[tokio::test]
    async fn single_reads_keep_every_sources_order() {
        several_sources_in_order(false).await;
    }

    /// One pass's transmits to several destinations (more than one batch,
    /// interleaved) all arrive, in order per destination.
    async fn several_destinations_in_order(batched: bool) {
        let (sender, _) = bound().await;
        let mut receivers = Vec::new();
        for _ in 0..3 {
            receivers.push(bound().await);
        }
        let sent = numbered(20);
        let mut queued = Vec::new();
        for data in &sent {
            for (_, at) in &receivers {
                queued.push((*at, Bytes::from(data.clone())));
            }
        }
        sender.writable().await.unwrap();
        let mut batch = UdpBatch::with_batching(batched);
        batch.send(&sender, &mut queued);
        assert!(queued.is_empty());
        let from = sender.local_addr().unwrap();
        for (socket, at) in &receivers {
            let got = read_all(&mut batch, socket, *at, sent.len()).await;
            assert_eq!(by_source(&got)[&from], sent);
        }
    }

    #[tokio::test]
    async fn batched_sends_reach_every_destination_in_order() {
        several_destinations_in_order(true).await;
    }

    #[tokio::test]
    async fn single_sends_reach_every_destination_in_order() {
        several_destinations_in_order(false).await;
    }

    /// A datagram the kernel rejects (too large for UDP) is dropped alone:
    /// those after it are still sent.
    #[tokio::test]
    async fn a_rejected_datagram_does_not_stop_the_batch() {
        let (sender, _) = bound().await;
        let (receiver, at) = bound().await;
        let mut queued = vec![
            (at, Bytes::from_static(b"first")),
            (at, Bytes::from(vec![b'x'; 70_000])),
            (at, Bytes::from_static(b"third")),
        ];
        sender.writable().await.unwrap();
        UdpBatch::new().send(&sender, &mut queued);
        let got = read_all(&mut UdpBatch::new(), &receiver, at, 2).await;
        let got: Vec<_> = got.into_iter().map(|(_, data)| data).collect();
        assert_eq!(got, vec![b"first".to_vec(), b"third".to_vec()]);
    }

    /// IPv4 and IPv6 sockets read on one thread: each source keeps its
    /// whole address.
    #[tokio::test]
    async fn sources_of_both_families_are_read_whole() {
        let Ok(v6) = UdpSocket::bind("[::1]:0").await else {
            return; // no IPv6 loopback on this host
        };
        let v6_at = v6.local_addr().unwrap();
        let (v4, v4_at) = bound().await;
        let v4_client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let v6_client = std::net::UdpSocket::bind("[::1]:0").unwrap();
        let mut batch = UdpBatch::new();
        for _ in 0..2 {
            v4_client.send_to(b"four", v4_at).unwrap();
            let got = read_all(&mut batch, &v4, v4_at, 1).await;
            assert_eq!(got[0].0, v4_client.local_addr().unwrap());
            v6_client.send_to(b"six", v6_at).unwrap();
            let got = read_all(&mut batch, &v6, v6_at, 1).await;
            assert_eq!(got[0].0, v6_client.local_addr().unwrap());
        }
    }
}
