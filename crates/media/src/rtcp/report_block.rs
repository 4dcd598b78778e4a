use bytes::{BufMut, BytesMut};

use super::error::RtcpError;
use crate::wire::u32_at;

/// Length of one report block on the wire.
pub(crate) const REPORT_BLOCK_LEN: usize = 24;

/// A reception report block of an SR or RR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR from this source.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// Reads the block at `at`.
    pub(crate) fn parse(buf: &[u8], at: usize) -> Result<Self, RtcpError> {
        let word = |i: usize| u32_at(buf, at + 4 * i).ok_or(RtcpError::TooShort);
        let lost = word(1)?;
        // Sign-extend the 24-bit cumulative loss.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        Ok(Self {
            ssrc: word(0)?,
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost,
            highest_sequence: word(2)?,
            jitter: word(3)?,
            last_sr: word(4)?,
            delay_since_last_sr: word(5)?,
        })
    }

    /// Appends the block.
    pub(crate) fn write_to(&self, out: &mut BytesMut) {
        out.put_u32(self.ssrc);
        out.put_u32(
            u32::from(self.fraction_lost) << 24 | (self.cumulative_lost as u32 & 0x00FF_FFFF),
        );
        out.put_u32(self.highest_sequence);
        out.put_u32(self.jitter);
        out.put_u32(self.last_sr);
        out.put_u32(self.delay_since_last_sr);
    }

    /// Reads `count` blocks starting at `at`.
    pub(crate) fn parse_list(buf: &[u8], at: usize, count: u8) -> Result<Vec<Self>, RtcpError> {
        (0..usize::from(count))
            .map(|i| Self::parse(buf, at + i * REPORT_BLOCK_LEN))
            .collect()
    }
}
