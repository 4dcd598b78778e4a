//! What stops a load run: the failure, split by where it happened.

use std::net::SocketAddr;

/// A load run that could not be set up or measured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum LoadError {
    /// A socket could not be bound, read or written.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The server did not answer in time.
    #[error("no {waiting_for} from {server} within the time limit")]
    Timeout {
        waiting_for: &'static str,
        server: SocketAddr,
    },
    /// The SIP server refused a step with a final response.
    #[error("{step} answered with `{status_line}`")]
    Refused {
        step: &'static str,
        status_line: String,
    },
    /// A message from the server lacks what the next step needs.
    #[error("{step}: the server's message has no usable {what}")]
    Missing {
        step: &'static str,
        what: &'static str,
    },
    /// rtpengine answered an ng command with an error.
    #[error("rtpengine {command}: {reason}")]
    Ng {
        command: &'static str,
        reason: String,
    },
    /// An SDES key of the server's SDP is not one this tool can use.
    #[error("SDES key: {0}")]
    Key(#[from] switchboard_media::srtp::KeyError),
    /// The server process to measure is not there.
    #[error("no readable /proc/{0}/stat")]
    NoProcess(u32),
}

/// A read that ended at its socket's read timeout: nothing came, the
/// socket is fine.
pub(crate) fn read_timed_out(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}
