use bytes::{BufMut, BytesMut};

use super::error::{RtcpBuildError, RtcpError};
use super::header;
use super::report_block::{REPORT_BLOCK_LEN, ReportBlock};
use crate::wire::u32_at;

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// Wall-clock time of the report as a 64-bit NTP timestamp.
    pub ntp_time: u64,
    /// The RTP timestamp matching `ntp_time`.
    pub rtp_timestamp: u32,
    /// Packets sent so far.
    pub packet_count: u32,
    /// Payload octets sent so far.
    pub octet_count: u32,
    /// Reports on the sources this sender receives.
    pub reports: Vec<ReportBlock>,
}

impl SenderReport {
    /// Parses the body after the 4-byte header; `count` is the RC field.
    pub(crate) fn parse(body: &[u8], count: u8) -> Result<Self, RtcpError> {
        let word = |i: usize| u32_at(body, 4 * i).ok_or(RtcpError::TooShort);
        Ok(Self {
            ssrc: word(0)?,
            ntp_time: u64::from(word(1)?) << 32 | u64::from(word(2)?),
            rtp_timestamp: word(3)?,
            packet_count: word(4)?,
            octet_count: word(5)?,
            reports: ReportBlock::parse_list(body, 24, count)?,
        })
    }

    /// Appends the packet with its header.
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), RtcpBuildError> {
        let count = header::count(self.reports.len())?;
        header::write(
            out,
            count,
            header::PT_SR,
            24 + REPORT_BLOCK_LEN * self.reports.len(),
        )?;
        out.put_u32(self.ssrc);
        out.put_u64(self.ntp_time);
        out.put_u32(self.rtp_timestamp);
        out.put_u32(self.packet_count);
        out.put_u32(self.octet_count);
        self.reports.iter().for_each(|r| r.write_to(out));
        Ok(())
    }
}
