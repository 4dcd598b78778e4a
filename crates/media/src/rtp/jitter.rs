use std::collections::BTreeMap;

use super::packet::RtpPacket;

/// What the jitter buffer did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Held for playout.
    Buffered,
    /// Already held: dropped.
    Duplicate,
    /// Its turn has passed (played or skipped): dropped.
    TooLate,
}

/// A small reordering buffer: packets are held by extended sequence number
/// in a bounded window, duplicates and packets whose turn has passed are
/// dropped, and playout is driven by the media timestamp the caller's
/// playout clock has reached.
///
/// The caller feeds packets with the extended sequence number from
/// [`RtpReceiver`](super::RtpReceiver) and calls [`pop`](Self::pop) once per
/// frame time with the playout timestamp.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    capacity: usize,
    packets: BTreeMap<u64, RtpPacket>,
    /// The next extended sequence number that may still be played.
    next: Option<u64>,
    duplicates: u64,
    late: u64,
}

impl JitterBuffer {
    /// A buffer holding at most `capacity` packets (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            packets: BTreeMap::new(),
            next: None,
            duplicates: 0,
            late: 0,
        }
    }

    /// Packets held now.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Duplicates dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Packets dropped because their turn had passed.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The timestamp of the earliest packet held.
    pub fn first_timestamp(&self) -> Option<u32> {
        self.packets.values().next().map(|p| p.timestamp)
    }

    /// Offers a packet with its extended sequence number.
    pub fn push(&mut self, extended_seq: u64, packet: RtpPacket) -> PushOutcome {
        if self.next.is_some_and(|next| extended_seq < next) {
            self.late += 1;
            return PushOutcome::TooLate;
        }
        if self.packets.contains_key(&extended_seq) {
            self.duplicates += 1;
            return PushOutcome::Duplicate;
        }
        self.packets.insert(extended_seq, packet);
        // Over capacity: the oldest packet's turn is forced to pass.
        while self.packets.len() > self.capacity {
            if let Some((seq, _)) = self.packets.pop_first() {
                self.next = Some(seq + 1);
                self.late += 1;
            }
        }
        PushOutcome::Buffered
    }

    /// The earliest held packet whose timestamp is at or before
    /// `playout_ts` (compared modulo 2^32), if any. Packets before it that
    /// never came are skipped for good.
    pub fn pop(&mut self, playout_ts: u32) -> Option<RtpPacket> {
        let first = self.packets.first_entry()?;
        let due = playout_ts.wrapping_sub(first.get().timestamp) as i32 >= 0;
        if !due {
            return None;
        }
        self.next = Some(*first.key() + 1);
        Some(first.remove())
    }

    /// Forgets everything (a new source, a long pause).
    pub fn reset(&mut self) {
        self.packets.clear();
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn packet(seq: u16) -> RtpPacket {
        RtpPacket::new(0, seq, u32::from(seq) * 160, 1, Bytes::new())
    }

    #[test]
    fn reorders_within_window() {
        let mut jb = JitterBuffer::new(8);
        for seq in [3u16, 1, 2, 5, 4] {
            assert_eq!(jb.push(u64::from(seq), packet(seq)), PushOutcome::Buffered);
        }
        let played: Vec<u16> = (1..=5)
            .filter_map(|i| jb.pop(i * 160))
            .map(|p| p.sequence)
            .collect();
        assert_eq!(played, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn drops_duplicates_and_late_packets() {
        let mut jb = JitterBuffer::new(8);
        jb.push(1, packet(1));
        assert_eq!(jb.push(1, packet(1)), PushOutcome::Duplicate);
        jb.push(3, packet(3));
        assert_eq!(jb.pop(160).unwrap().sequence, 1);
        // Nothing due at 320 (seq 2 missing), seq 3 at 480 skips seq 2.
        assert!(jb.pop(320).is_none());
        assert_eq!(jb.pop(480).unwrap().sequence, 3);
        assert_eq!(jb.push(2, packet(2)), PushOutcome::TooLate);
        assert_eq!(jb.push(1, packet(1)), PushOutcome::TooLate);
        assert_eq!((jb.duplicates(), jb.late()), (1, 2));
    }

    #[test]
    fn bounded_window_drops_oldest() {
        let mut jb = JitterBuffer::new(3);
        for seq in 1..=5u16 {
            jb.push(u64::from(seq), packet(seq));
        }
        assert_eq!(jb.len(), 3);
        assert_eq!(jb.push(2, packet(2)), PushOutcome::TooLate);
        assert_eq!(jb.pop(u32::MAX / 4).unwrap().sequence, 3);
    }

    #[test]
    fn playout_waits_for_timestamp_across_wrap() {
        let mut jb = JitterBuffer::new(4);
        let mut p = packet(1);
        p.timestamp = 100;
        jb.push(1, p);
        assert!(jb.pop(u32::MAX - 50).is_none());
        assert!(jb.pop(100).is_some());
    }
}
