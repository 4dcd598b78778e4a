//! One relayed stream: the caller's and the callee's RTP sockets, each
//! sending 20 ms PCMU frames to its side of the relay and counting what
//! arrives from the other side. The caller may speak SDES-SRTP (it
//! encrypts what it sends and authenticates what it gets); the callee
//! always speaks plain RTP.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};

use switchboard_media::srtp::{MasterKey, SrtpContext};

use crate::sdp::{MediaTarget, SUITE};

/// PCMU payload of one 20 ms frame at 8 kHz.
const PAYLOAD: usize = 160;
/// Fixed RTP header: no CSRC, no extension.
const HEADER: usize = 12;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// One party's socket and what it has sent and received.
#[derive(Debug)]
pub(crate) struct Phone {
    socket: UdpSocket,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    /// Where it sends: its side of the relay (set once the call is up).
    target: Option<SocketAddr>,
    /// SRTP contexts (send, receive) of an SDES party.
    srtp: Option<(SrtpContext, SrtpContext)>,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    /// Datagrams that failed SRTP authentication or were not RTP.
    pub(crate) rejected: u64,
}

impl Phone {
    /// A phone on a fresh loopback port.
    ///
    /// # Errors
    /// The socket cannot be bound.
    pub(crate) fn bind(ssrc: u32) -> std::io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        Ok(Self {
            socket,
            ssrc,
            seq: 0,
            timestamp: 0,
            target: None,
            srtp: None,
            sent: 0,
            received: 0,
            rejected: 0,
        })
    }

    /// The port written into its SDP.
    ///
    /// # Errors
    /// The socket has no local address.
    pub(crate) fn port(&self) -> std::io::Result<u16> {
        Ok(self.socket.local_addr()?.port())
    }

    /// Starts sending to `target`; `own_key` is the key this phone sent in
    /// its SDP (it encrypts with it), the target's key decrypts what comes.
    ///
    /// # Errors
    /// The socket cannot be made non-blocking.
    pub(crate) fn connect(
        &mut self,
        target: &MediaTarget,
        own_key: Option<&MasterKey>,
    ) -> std::io::Result<()> {
        self.socket.set_nonblocking(true)?;
        self.target = Some(target.rtp);
        self.srtp = match (own_key, &target.key) {
            (Some(own), Some(theirs)) => Some((SrtpContext::new(own), SrtpContext::new(theirs))),
            _ => None,
        };
        Ok(())
    }

    /// Sends the next 20 ms frame.
    pub(crate) fn send_frame(&mut self) {
        let Some(target) = self.target else {
            return;
        };
        let mut packet = [0xFF_u8; HEADER + PAYLOAD];
        let [v, pt, s0, s1, t0, t1, t2, t3, c0, c1, c2, c3, ..] = &mut packet;
        (*v, *pt) = (0x80, 0); // RTP version 2, PCMU
        [*s0, *s1] = self.seq.to_be_bytes();
        [*t0, *t1, *t2, *t3] = self.timestamp.to_be_bytes();
        [*c0, *c1, *c2, *c3] = self.ssrc.to_be_bytes();
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(PAYLOAD as u32);
        let sent = match &mut self.srtp {
            Some((out, _)) => match out.protect_rtp(&packet) {
                Ok(protected) => self.socket.send_to(&protected, target),
                Err(_) => return,
            },
            None => self.socket.send_to(&packet, target),
        };
        if sent.is_ok() {
            self.sent += 1;
        }
    }

    /// Reads every datagram waiting, counting the good ones; returns how
    /// many datagrams it read.
    pub(crate) fn drain(&mut self) -> u64 {
        let mut buffer = [0_u8; MAX_DATAGRAM];
        let mut read = 0;
        loop {
            let length = match self.socket.recv(&mut buffer) {
                Ok(length) => length,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return read,
                // ICMP unreachable reported on a later read: keep reading.
                Err(_) => continue,
            };
            read += 1;
            let packet = buffer.get(..length).unwrap_or_default();
            let good = match &mut self.srtp {
                Some((_, incoming)) => incoming.unprotect_rtp(packet).is_ok(),
                // Plain RTP as sent: version 2 and the payload intact
                // (an SRTP packet passed on still encrypted is not).
                None => {
                    length == HEADER + PAYLOAD
                        && packet.first().is_some_and(|b| b >> 6 == 2)
                        && packet.iter().skip(HEADER).all(|&b| b == 0xFF)
                }
            };
            if good {
                self.received += 1;
            } else {
                self.rejected += 1;
                report_first_rejected(packet);
            }
        }
    }

    /// Forgets the counts (after the warm-up).
    pub(crate) fn reset_counts(&mut self) {
        (self.sent, self.received, self.rejected) = (0, 0, 0);
    }
}

/// Describes the first datagram of the run that a phone rejected (once:
/// what it was tells whether the relay garbled, misrouted or leaked).
fn report_first_rejected(packet: &[u8]) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        let head: Vec<String> = packet.iter().take(16).map(|b| format!("{b:02x}")).collect();
        eprintln!(
            "rtp-load: first rejected datagram: {} bytes, starting {}",
            packet.len(),
            head.join(" ")
        );
    }
}

/// The caller's key of stream `index` (a test tool: fixed, not secret).
///
/// # Errors
/// Never for [`SUITE`]'s length; typed for the caller's `?`.
pub(crate) fn caller_key(index: u64) -> Result<MasterKey, switchboard_media::srtp::KeyError> {
    let mut bytes = [0_u8; 30];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (index as u8).wrapping_mul(31).wrapping_add(i as u8);
    }
    MasterKey::from_bytes(SUITE, bytes.get(..SUITE.master_len()).unwrap_or(&bytes))
}

/// One relayed stream: the caller and the callee.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) caller: Phone,
    pub(crate) callee: Phone,
    /// The key the caller offered (SDES leg), if any.
    pub(crate) caller_key: Option<MasterKey>,
}

impl Stream {
    /// Both parties' sockets; `srtp`: the caller offers SDES.
    ///
    /// # Errors
    /// A socket cannot be bound.
    pub(crate) fn new(index: u64, srtp: bool) -> Result<Self, crate::error::LoadError> {
        let ssrc = u32::try_from(index % u64::from(u32::MAX)).unwrap_or(0);
        Ok(Self {
            caller: Phone::bind(0x1000_0000 ^ ssrc)?,
            callee: Phone::bind(0x2000_0000 ^ ssrc)?,
            caller_key: if srtp { Some(caller_key(index)?) } else { None },
        })
    }

    /// Starts both directions once the call is up: the caller sends to
    /// `caller_side` (the SDP it got in the answer), the callee to
    /// `callee_side` (the SDP it got in the offer).
    ///
    /// # Errors
    /// A socket cannot be made non-blocking.
    pub(crate) fn connect(
        &mut self,
        caller_side: &MediaTarget,
        callee_side: &MediaTarget,
    ) -> std::io::Result<()> {
        self.caller.connect(caller_side, self.caller_key.as_ref())?;
        self.callee.connect(callee_side, None)
    }
}
