//! RTP (RFC 3550): packets, the sending and receiving sides of a source,
//! and a small jitter buffer.

mod error;
mod jitter;
mod packet;
mod receiver;
mod sender;

pub use error::{RtpBuildError, RtpError};
pub use jitter::{JitterBuffer, PushOutcome};
pub(crate) use packet::HeaderView;
pub use packet::{RTP_HEADER_LEN, RtpExtension, RtpPacket};
pub use receiver::{Arrival, RtpReceiver};
pub use sender::RtpSender;
