use thiserror::Error;

use crate::rtp::RtpError;

/// Why a packet could not be protected or unprotected. Everything but
/// [`SrtpError::RocExhausted`] on the receive side is the peer's fault (or an
/// attacker's) and the packet is to be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The RTP header is malformed.
    #[error("SRTP: {0}")]
    Rtp(#[from] RtpError),
    /// Too short for its header, trailer and authentication tag.
    #[error("SRTP/SRTCP packet too short")]
    TooShort,
    /// The authentication tag does not match (tampered, or the wrong key).
    #[error("SRTP/SRTCP authentication failed")]
    AuthenticationFailed,
    /// This packet index was already received.
    #[error("SRTP/SRTCP packet replayed")]
    Replayed,
    /// The packet index is behind the replay window.
    #[error("SRTP/SRTCP packet too old for the replay window")]
    TooOld,
    /// More sources than one context tracks.
    #[error("too many SRTP sources in one context")]
    TooManySources,
    /// The rollover counter or SRTCP index ran out: the key must change.
    #[error("SRTP packet index exhausted: rekey")]
    RocExhausted,
}

/// Why key material or a suite name is unusable (the signalling's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key||salt is not as long as the suite needs.
    #[error("SRTP key material is {got} bytes, the suite needs {expected}")]
    Length {
        /// Bytes the suite needs.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The inline key is not valid base64.
    #[error("SRTP inline key is not valid base64")]
    Base64,
    /// A crypto-suite name this crate does not implement.
    #[error("unsupported SRTP crypto suite")]
    UnknownSuite,
}
