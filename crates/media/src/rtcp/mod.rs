//! RTCP (RFC 3550 §6): sender and receiver reports, SDES, BYE, compound
//! packets and the report interval.

mod bye;
mod error;
mod header;
mod interval;
mod packet;
mod receiver_report;
mod report_block;
mod sdes;
mod sender_report;

pub use bye::Goodbye;
pub use error::{RtcpBuildError, RtcpError};
pub use interval::{DEFAULT_RTCP_INTERVAL, rtcp_interval};
pub use packet::RtcpPacket;
pub use receiver_report::ReceiverReport;
pub use report_block::ReportBlock;
pub use sdes::{SDES_CNAME, SdesChunk, SdesItem, SourceDescription};
pub use sender_report::SenderReport;

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A wall-clock time (given by the caller) as a 64-bit NTP timestamp.
pub fn ntp_time(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let frac = (u64::from(since.subsec_nanos()) << 32) / 1_000_000_000;
    secs << 32 | frac
}
