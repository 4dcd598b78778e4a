use std::time::Instant;

use crate::rtcp::ReportBlock;

/// A jump of more sequence numbers than this is a restart, not loss (RFC 3550 A.1).
const MAX_DROPOUT: u16 = 3000;
/// Packets this far behind the highest are late, not a restart (RFC 3550 A.1).
const MAX_MISORDER: u16 = 100;
const SEQ_MOD: u64 = 1 << 16;

/// What the receiver made of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Accepted, with its extended (32-bit-cycle) sequence number.
    Accepted(u64),
    /// A large jump: dropped unless the next packet confirms the new
    /// sequence (then the statistics restart, RFC 3550 A.1).
    Jumped,
}

/// The receiving side of one RTP source: extended sequence numbers, loss
/// (RFC 3550 A.3) and interarrival jitter (A.8), and the report block about
/// it for the next RTCP report.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    ssrc: Option<u32>,
    epoch: Option<Instant>,
    base_seq: u64,
    max_seq: u16,
    cycles: u64,
    bad_seq: Option<u16>,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<f64>,
    jitter: f64,
    last_sr: Option<(u32, Instant)>,
    restarts: u64,
}

impl RtpReceiver {
    /// A receiver for a stream with the given RTP clock rate (8000 for G.711).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            ssrc: None,
            epoch: None,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            bad_seq: None,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
            last_sr: None,
            restarts: 0,
        }
    }

    /// The SSRC of the source seen, once a packet arrived.
    pub fn ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// How many times the statistics restarted (a new SSRC, or a confirmed
    /// sequence jump): extended sequence numbers start over each time.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    fn restart(&mut self, ssrc: u32, seq: u16) {
        self.restarts += 1;
        self.ssrc = Some(ssrc);
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.cycles = 0;
        self.bad_seq = None;
        self.received = 0;
        self.expected_prior = 0;
        self.received_prior = 0;
        self.transit = None;
        self.jitter = 0.0;
    }

    /// Records a packet that arrived at `now` (already authenticated, if SRTP).
    pub fn on_packet(&mut self, now: Instant, ssrc: u32, seq: u16, timestamp: u32) -> Arrival {
        if self.ssrc != Some(ssrc) {
            self.restart(ssrc, seq);
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta > 0 && delta < MAX_DROPOUT {
                if seq < self.max_seq {
                    self.cycles += SEQ_MOD;
                }
                self.max_seq = seq;
            } else if delta != 0 && delta <= u16::MAX - MAX_MISORDER {
                if self.bad_seq == Some(seq) {
                    self.restart(ssrc, seq);
                } else {
                    self.bad_seq = Some(seq.wrapping_add(1));
                    return Arrival::Jumped;
                }
            }
        }
        self.received += 1;
        self.update_jitter(now, timestamp);
        let behind = i64::from(seq.wrapping_sub(self.max_seq) as i16);
        let extended = self.extended_max().saturating_add_signed(behind);
        Arrival::Accepted(extended)
    }

    fn extended_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// RFC 3550 A.8: J += (|D| - J) / 16, in timestamp units.
    fn update_jitter(&mut self, now: Instant, timestamp: u32) {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival =
            now.saturating_duration_since(epoch).as_secs_f64() * f64::from(self.clock_rate);
        let transit = arrival - f64::from(timestamp);
        if let Some(previous) = self.transit {
            // Timestamps wrap: take the difference modulo 2^32 as signed.
            let mut d = (transit - previous).abs();
            if d > f64::from(u32::MAX / 2) {
                d = (d - f64::from(u32::MAX) - 1.0).abs();
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// Packets expected from the first to the highest sequence number.
    pub fn expected(&self) -> u64 {
        if self.ssrc.is_none() {
            return 0;
        }
        self.extended_max() + 1 - self.base_seq
    }

    /// Packets received (duplicates included, as RFC 3550 counts them).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative packets lost; negative when duplicates outnumber losses.
    pub fn cumulative_lost(&self) -> i64 {
        i64::try_from(self.expected()).unwrap_or(i64::MAX)
            - i64::try_from(self.received).unwrap_or(i64::MAX)
    }

    /// Notes a sender report from this source (its NTP time and when it came),
    /// for the LSR and DLSR fields of the next report block.
    pub fn on_sender_report(&mut self, now: Instant, ntp_time: u64) {
        // The middle 32 bits of the NTP timestamp (RFC 3550 §6.4.1).
        self.last_sr = Some(((ntp_time >> 16) as u32, now));
    }

    /// The report block about this source for an SR or RR sent at `now`;
    /// resets the interval counters behind "fraction lost" (RFC 3550 A.3).
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        let expected = self.expected();
        let expected_interval = expected - self.expected_prior;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = (lost_interval << 8)
            .checked_div(expected_interval)
            .map_or(0, |f| u8::try_from(f).unwrap_or(u8::MAX));
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let delay = now.saturating_duration_since(at).as_secs_f64() * 65536.0;
                (lsr, delay.min(f64::from(u32::MAX)) as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost().clamp(-0x80_0000, 0x7F_FFFF) as i32,
            highest_sequence: (self.extended_max() & 0xFFFF_FFFF) as u32,
            jitter: self.jitter.min(f64::from(u32::MAX)) as u32,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn extended_sequence_across_wrap_and_reorder() {
        let t = Instant::now();
        let mut rx = RtpReceiver::new(8000);
        assert_eq!(rx.on_packet(t, 1, 65534, 0), Arrival::Accepted(65534));
        assert_eq!(rx.on_packet(t, 1, 0, 320), Arrival::Accepted(65536));
        assert_eq!(rx.on_packet(t, 1, 65535, 160), Arrival::Accepted(65535));
        assert_eq!(rx.on_packet(t, 1, 1, 480), Arrival::Accepted(65537));
        assert_eq!(rx.expected(), 4);
        assert_eq!(rx.cumulative_lost(), 0);
    }

    #[test]
    fn loss_and_fraction_lost() {
        let t = Instant::now();
        let mut rx = RtpReceiver::new(8000);
        for seq in (10u16..20).filter(|s| s % 4 != 0) {
            rx.on_packet(t, 9, seq, u32::from(seq) * 160);
        }
        // 10..=19 expected, 12 and 16 lost.
        let block = rx.report_block(t).unwrap();
        assert_eq!(block.cumulative_lost, 2);
        assert_eq!(block.fraction_lost, (2 * 256 / 10) as u8);
        assert_eq!(block.highest_sequence, 19);
        rx.on_packet(t, 9, 20, 3200);
        assert_eq!(rx.report_block(t).unwrap().fraction_lost, 0);
    }

    #[test]
    fn big_jump_needs_confirmation() {
        let t = Instant::now();
        let mut rx = RtpReceiver::new(8000);
        rx.on_packet(t, 1, 100, 0);
        assert_eq!(rx.on_packet(t, 1, 30_000, 0), Arrival::Jumped);
        assert_eq!(rx.on_packet(t, 1, 30_001, 0), Arrival::Accepted(30_001));
        assert_eq!(rx.expected(), 1);
    }

    #[test]
    fn jitter_follows_a8() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000);
        // Packets every 20 ms, alternately 0 and 10 ms late: |D| = 80 units.
        for i in 0..200u32 {
            let late = if i % 2 == 0 { 0 } else { 10 };
            let now = t0 + Duration::from_millis(u64::from(i * 20 + late));
            rx.on_packet(now, 5, i as u16, i * 160);
        }
        assert!((rx.jitter() - 80.0).abs() < 1.0, "{}", rx.jitter());
        let block = rx.report_block(t0).unwrap();
        assert_eq!(block.jitter, 79);
    }

    #[test]
    fn lsr_and_dlsr() {
        let t0 = Instant::now();
        let mut rx = RtpReceiver::new(8000);
        rx.on_packet(t0, 5, 1, 0);
        rx.on_sender_report(t0, 0x1122_3344_5566_7788);
        let block = rx.report_block(t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(block.last_sr, 0x3344_5566);
        assert_eq!(block.delay_since_last_sr, 32768);
    }
}
