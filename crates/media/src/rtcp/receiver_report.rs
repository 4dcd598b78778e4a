use bytes::{BufMut, BytesMut};

use super::error::{RtcpBuildError, RtcpError};
use super::header;
use super::report_block::{REPORT_BLOCK_LEN, ReportBlock};
use crate::wire::u32_at;

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// Reports on the sources it receives.
    pub reports: Vec<ReportBlock>,
}

impl ReceiverReport {
    /// Parses the body after the 4-byte header; `count` is the RC field.
    pub(crate) fn parse(body: &[u8], count: u8) -> Result<Self, RtcpError> {
        Ok(Self {
            ssrc: u32_at(body, 0).ok_or(RtcpError::TooShort)?,
            reports: ReportBlock::parse_list(body, 4, count)?,
        })
    }

    /// Appends the packet with its header.
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), RtcpBuildError> {
        let count = header::count(self.reports.len())?;
        header::write(
            out,
            count,
            header::PT_RR,
            4 + REPORT_BLOCK_LEN * self.reports.len(),
        )?;
        out.put_u32(self.ssrc);
        self.reports.iter().for_each(|r| r.write_to(out));
        Ok(())
    }
}
