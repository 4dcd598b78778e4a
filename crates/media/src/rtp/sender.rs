use bytes::Bytes;
use rand_core::RngCore;

use super::packet::RtpPacket;

/// The sending side of one RTP source: a random SSRC, sequence number and
/// timestamp origin (RFC 3550 §5.1 asks for random initial values), and the
/// counters a sender report needs. Both counters wrap as RFC 3550 requires.
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    packets_sent: u32,
    octets_sent: u32,
}

impl RtpSender {
    /// A sender with random SSRC, first sequence number and timestamp.
    pub fn new(rng: &mut dyn RngCore) -> Self {
        let sequence = (rng.next_u32() & 0x7FFF) as u16;
        Self::with_initial(rng.next_u32(), sequence, rng.next_u32())
    }

    /// A sender with chosen initial values (tests, or a restarted stream).
    pub fn with_initial(ssrc: u32, sequence: u16, timestamp: u32) -> Self {
        Self {
            ssrc,
            sequence,
            timestamp,
            packets_sent: 0,
            octets_sent: 0,
        }
    }

    /// This source's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet gets.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// The media timestamp of the current position.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Packets sent so far (wraps, as the SR field does).
    pub fn packets_sent(&self) -> u32 {
        self.packets_sent
    }

    /// Payload octets sent so far (wraps, as the SR field does).
    pub fn octets_sent(&self) -> u32 {
        self.octets_sent
    }

    /// Moves the media clock on by `samples` without sending (silence
    /// suppression, or a frame replaced by another payload).
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// A packet at an explicit timestamp, taking the next sequence number;
    /// the media clock does not move (DTMF events repeat one timestamp).
    pub fn packet_at(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: Bytes,
    ) -> RtpPacket {
        let mut packet = RtpPacket::new(payload_type, self.sequence, timestamp, self.ssrc, payload);
        packet.marker = marker;
        self.sequence = self.sequence.wrapping_add(1);
        self.packets_sent = self.packets_sent.wrapping_add(1);
        // Payloads are at most a datagram long, so this never truncates.
        self.octets_sent = self.octets_sent.wrapping_add(packet.payload.len() as u32);
        packet
    }

    /// A packet of `samples` media samples at the current timestamp; the
    /// media clock then moves on by `samples`.
    pub fn packet(
        &mut self,
        payload_type: u8,
        marker: bool,
        samples: u32,
        payload: Bytes,
    ) -> RtpPacket {
        let packet = self.packet_at(payload_type, marker, self.timestamp, payload);
        self.advance(samples);
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_and_timestamp_wrap() {
        let mut sender = RtpSender::with_initial(7, 0xFFFF, u32::MAX - 100);
        let a = sender.packet(0, true, 160, Bytes::from_static(&[0; 160]));
        let b = sender.packet(0, false, 160, Bytes::from_static(&[0; 160]));
        assert_eq!(
            (a.sequence, a.timestamp, a.marker),
            (0xFFFF, u32::MAX - 100, true)
        );
        assert_eq!((b.sequence, b.timestamp), (0, 59));
        assert_eq!(sender.timestamp(), 219);
        assert_eq!((sender.packets_sent(), sender.octets_sent()), (2, 320));
    }

    #[test]
    fn random_initial_values_come_from_the_rng() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let a = RtpSender::new(&mut rng);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let b = RtpSender::new(&mut rng);
        assert_eq!(
            (a.ssrc(), a.next_sequence(), a.timestamp()),
            (b.ssrc(), b.next_sequence(), b.timestamp())
        );
        assert!(a.next_sequence() < 0x8000);
    }
}
