use thiserror::Error;

/// Why received bytes are not an RTP packet (the peer's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Shorter than the fixed 12-byte header.
    #[error("RTP packet shorter than its 12-byte header")]
    TooShort,
    /// The version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// The CSRC list or the header extension runs past the end.
    #[error("RTP header runs past the end of the packet")]
    Truncated,
    /// The padding count is zero or larger than the payload.
    #[error("RTP padding count is invalid")]
    BadPadding,
}

/// Why a packet cannot be serialized (the caller's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtpBuildError {
    /// More than 15 CSRCs.
    #[error("an RTP packet holds at most 15 CSRCs")]
    TooManyCsrcs,
    /// The payload type does not fit in 7 bits.
    #[error("RTP payload type {0} is above 127")]
    BadPayloadType(u8),
    /// Extension data is not a whole number of 32-bit words, or too long.
    #[error("RTP header extension must be whole 32-bit words, at most 65535 of them")]
    BadExtension,
}
