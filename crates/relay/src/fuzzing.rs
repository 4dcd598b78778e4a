//! The rig of the `relay_machine` fuzz target (and of a unit test that runs
//! it on random inputs): any bytes become datagrams from the parties, a
//! NAT, a stranger, aimed at the relay's ports or others, valid RTP, SRTP
//! and RTCP or garbage, time jumps, updates and re-allocations of one
//! session (an SDES leg bridged to a plain one). The relay must never
//! panic, never send anywhere but the parties' addresses (or the stranger's
//! when it sent within a latch window, as a NAT would), from anywhere but
//! the session's ports, and never ask to be woken in the past.
//!
//! [`run_webrtc`] does the same with a browser's WebRTC leg (str0m behind
//! it) bridged to a plain phone: STUN-, DTLS- and RTP-looking bytes from
//! the browser's address or a stranger, the phone's RTP, time jumps and
//! re-offers.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_core::RngCore;
use switchboard_media::rtp::RtpPacket;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};
use switchboard_proto::sdp::Direction;

use crate::{
    LegAllocation, LegMedia, LegOffer, PeerCrypto, Relay, RelayConfig, SessionId, Side, StreamOffer,
};

const SESSION: SessionId = SessionId(1);

/// A deterministic RNG (splitmix64): the rig needs no `rand`.
#[derive(Debug)]
struct SplitMix(u64);

impl RngCore for SplitMix {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            *byte = self.next_u64() as u8;
        }
    }
}

fn party(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], port))
}

/// The addresses the relay may send to: A's and B's RTP and RTCP, and the
/// NAT address that may latch A's leg in the window.
fn parties() -> [SocketAddr; 6] {
    [
        party(4000),
        party(4001),
        SocketAddr::from(([192, 0, 2, 20], 5000)),
        SocketAddr::from(([192, 0, 2, 20], 5001)),
        SocketAddr::from(([203, 0, 113, 7], 40_000)),
        SocketAddr::from(([203, 0, 113, 7], 40_001)),
    ]
}

const STRANGER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 66)),
    6666,
);

fn leg(
    rtp: SocketAddr,
    rtcp_mux: bool,
    crypto: Option<PeerCrypto>,
    direction: Direction,
) -> LegOffer {
    let mut stream = StreamOffer {
        rtcp_mux,
        direction,
        ..StreamOffer::at(rtp)
    };
    stream.crypto = crypto;
    LegOffer::single(stream)
}

/// One session of one stream a side, small limits, short timers.
fn config() -> RelayConfig {
    RelayConfig {
        ports: 40_000..=40_007,
        max_sessions: 1,
        max_packets_per_second: 50,
        media_timeout: Duration::from_secs(5),
        hold_timeout: Some(Duration::from_secs(20)),
        latch_window: config_latch_window(),
    }
}

/// Moves the clock on by up to 12.75 s and runs the relay's timers; the
/// relay must not ask to be woken in the past.
fn time_passes(relay: &mut Relay, now: Instant, step: Option<u8>) -> Instant {
    let now = now + Duration::from_millis(u64::from(step.unwrap_or(0)) * 50);
    relay.handle_timeout(now);
    assert!(
        relay.poll_timeout().is_none_or(|t| t > now),
        "poll_timeout in the past after handle_timeout"
    );
    now
}

const fn config_latch_window() -> Duration {
    Duration::from_millis(500)
}

/// Reads ops from the fuzzer's bytes.
struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*first)
    }

    fn bytes(&mut self, len: usize) -> &[u8] {
        let (taken, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        taken
    }
}

/// Runs one input; panics when the relay breaks a rule.
pub fn run(data: &[u8]) {
    let mut reader = Reader { data };
    let start = Instant::now();
    let mut now = start;
    let mut relay = Relay::new(config(), Box::new(SplitMix(7)));
    let key = MasterKey::generate(SrtpSuite::AesCm128HmacSha1_80, &mut SplitMix(9));
    let mut a_tx = SrtpContext::new(&key);
    let crypto = PeerCrypto { tag: 1, key };
    let a_leg = |mux, direction| leg(party(4000), mux, Some(crypto.clone()), direction);
    let b_leg = leg(parties()[2], false, None, Direction::SendRecv);
    let mut ports = allocate(
        &mut relay,
        now,
        a_leg(false, Direction::SendRecv),
        b_leg.clone(),
    );
    let mut seq = 0u16;
    let mut window_end = now + config_latch_window();
    let mut stranger_in_window = false;
    while let Some(op) = reader.byte() {
        match op % 8 {
            0..=5 => {
                let port = reader.byte().map_or(0, usize::from);
                let local = ports.get(port % 5).copied().unwrap_or(40_100);
                let from = reader.byte().map_or(0, usize::from);
                let source = parties().get(from % 7).copied().unwrap_or(STRANGER);
                let len = reader.byte().map_or(0, usize::from);
                let payload = Bytes::copy_from_slice(reader.bytes(len));
                seq = seq.wrapping_add(1);
                let bytes = match op % 8 {
                    // Valid RTP, SRTP under A's key, or the bytes as they are.
                    0 | 1 => RtpPacket::new(0, seq, 0, 1, payload)
                        .to_bytes()
                        .unwrap_or_default(),
                    2 => RtpPacket::new(0, seq, 0, 1, payload)
                        .to_bytes()
                        .ok()
                        .and_then(|plain| a_tx.protect_rtp(&plain).ok())
                        .unwrap_or_default(),
                    _ => payload,
                };
                stranger_in_window |= source == STRANGER && now < window_end;
                relay.handle_packet(now, local, source, bytes);
            }
            6 => now = time_passes(&mut relay, now, reader.byte()),
            _ => {
                // Every update and re-allocation opens the latch window again.
                window_end = now + config_latch_window();
                let update = match reader.byte().unwrap_or(0) % 4 {
                    0 => Some((Side::Offerer, a_leg(true, Direction::SendOnly))),
                    1 => Some((Side::Offerer, a_leg(false, Direction::SendRecv))),
                    2 => Some((
                        Side::Answerer,
                        leg(parties()[2], true, None, Direction::Inactive),
                    )),
                    _ => None,
                };
                if let Some((side, offer)) = update {
                    let _ = relay.update(now, SESSION, side, offer);
                } else {
                    let _ = relay.release(SESSION);
                    let a = a_leg(false, Direction::SendRecv);
                    ports = allocate(&mut relay, now, a, b_leg.clone());
                }
            }
        }
        drain(&mut relay, &ports, stranger_in_window);
    }
}

/// A browser's offer (audio, BUNDLE, ICE credentials, a fingerprint).
const BROWSER_OFFER: &str = "v=0\r\n\
o=- 1 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 0 8 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=ice-ufrag:Fc1q\r\n\
a=ice-pwd:FO0NvbQFQtJQ+xbJ1dPZKqbY\r\n\
a=fingerprint:sha-256 5D:F8:A5:25:4B:CB:07:67:93:67:8C:F4:94:90:84:47:1D:EC:5B:91:36:6C:49:6C:8C:BE:12:54:E1:3A:43:3B\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:126 telephone-event/8000\r\n";

/// Runs one input against a WebRTC leg (the offerer, a browser at
/// `192.0.2.10:4000`) bridged to a plain phone (`192.0.2.20:5000`); panics
/// when the relay breaks a rule.
pub fn run_webrtc(data: &[u8]) {
    let mut reader = Reader { data };
    let start = Instant::now();
    let mut now = start;
    let mut relay = Relay::new(config(), Box::new(SplitMix(7)));
    let browser_leg = LegOffer {
        media: LegMedia::WebRtc,
        streams: vec![StreamOffer::pending(true)],
    };
    let phone_leg = leg(parties()[2], false, None, Direction::SendRecv);
    let ports = allocate(&mut relay, now, browser_leg, phone_leg);
    let relay_ip = std::net::IpAddr::from([203, 0, 113, 1]);
    let answered = relay.answer_webrtc(now, SESSION, Side::Offerer, relay_ip, BROWSER_OFFER);
    assert!(answered.is_ok(), "a browser's offer refused: {answered:?}");
    let mut seq = 0u16;
    while let Some(op) = reader.byte() {
        match op % 8 {
            0..=4 => {
                // To the WebRTC port mostly, shaped by its first byte as
                // STUN (0-3), DTLS (20-63) or SRTP (128-191).
                let port = reader.byte().map_or(0, usize::from);
                let local = ports.get(port % 5).copied().unwrap_or(40_100);
                let local = if port % 2 == 0 {
                    ports.first().copied().unwrap_or(local)
                } else {
                    local
                };
                let source = if reader.byte().unwrap_or(0) % 2 == 0 {
                    party(4000)
                } else {
                    STRANGER
                };
                let first = match op % 8 {
                    0 => 0x00,
                    1 => 0x16,
                    2 => 0x80,
                    _ => reader.byte().unwrap_or(0),
                };
                let len = reader.byte().map_or(0, usize::from);
                let mut bytes = vec![first];
                bytes.extend_from_slice(reader.bytes(len));
                relay.handle_packet(now, local, source, Bytes::from(bytes));
            }
            5 => {
                // The phone's RTP to its port.
                let len = reader.byte().map_or(0, usize::from);
                let payload = Bytes::copy_from_slice(reader.bytes(len));
                seq = seq.wrapping_add(1);
                let bytes = RtpPacket::new(0, seq, 0, 1, payload)
                    .to_bytes()
                    .unwrap_or_default();
                let local = ports.get(2).copied().unwrap_or(40_100);
                relay.handle_packet(now, local, parties()[2], bytes);
            }
            6 => now = time_passes(&mut relay, now, reader.byte()),
            _ => {
                // A re-offer: the same, or on hold.
                let offer = if reader.byte().unwrap_or(0) % 2 == 0 {
                    BROWSER_OFFER.to_owned()
                } else {
                    BROWSER_OFFER.replace("a=sendrecv", "a=sendonly")
                };
                let _ = relay.answer_webrtc(now, SESSION, Side::Offerer, relay_ip, &offer);
            }
        }
        drain(&mut relay, &ports, false);
    }
}

/// Allocates the session; returns A's RTP and RTCP, B's RTP and RTCP ports.
fn allocate(relay: &mut Relay, now: Instant, a: LegOffer, b: LegOffer) -> Vec<u16> {
    let Ok(allocation) = relay.allocate(now, SESSION, a, b) else {
        return Vec::new();
    };
    let ports = |leg: &LegAllocation| -> Vec<u16> {
        leg.streams
            .iter()
            .flat_map(|s| [s.rtp_port, s.rtp_port.wrapping_add(1)])
            .collect()
    };
    let mut all = ports(&allocation.offerer);
    all.extend(ports(&allocation.answerer));
    all
}

fn drain(relay: &mut Relay, ports: &[u16], stranger_in_window: bool) {
    while let Some(transmit) = relay.poll_transmit() {
        assert!(
            parties().contains(&transmit.destination)
                || (stranger_in_window && transmit.destination == STRANGER),
            "sent to {} which is no party",
            transmit.destination
        );
        assert!(
            ports.contains(&transmit.local_port),
            "sent from port {} of no session",
            transmit.local_port
        );
    }
    while relay.poll_event().is_some() {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_inputs_keep_the_rules() {
        let mut rng = super::SplitMix(1);
        for _ in 0..2_000 {
            let len = (rng.next_u32() % 600) as usize;
            let mut data = vec![0; len];
            rng.fill_bytes(&mut data);
            super::run(&data);
        }
    }

    #[test]
    fn random_inputs_keep_the_rules_with_a_webrtc_leg() {
        let mut rng = super::SplitMix(2);
        for _ in 0..300 {
            let len = (rng.next_u32() % 600) as usize;
            let mut data = vec![0; len];
            rng.fill_bytes(&mut data);
            super::run_webrtc(&data);
        }
    }

    use rand_core::RngCore;
}
