use thiserror::Error;

/// Why received bytes are not a valid (compound) RTCP packet (the peer's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Shorter than a 4-byte RTCP header, or a body shorter than its type needs.
    #[error("RTCP packet too short")]
    TooShort,
    /// The version field is not 2.
    #[error("RTCP version {0} is not 2")]
    BadVersion(u8),
    /// A length field runs past the end of the datagram.
    #[error("RTCP length field runs past the end")]
    BadLength,
    /// Padding on a packet that is not the last, or a bad padding count.
    #[error("RTCP padding is invalid")]
    BadPadding,
    /// A compound packet must start with an SR or RR (RFC 3550 §6.1).
    #[error("compound RTCP packet does not start with SR or RR")]
    NotReportFirst,
    /// An SDES item or chunk runs past its packet.
    #[error("SDES chunk is malformed")]
    BadSdes,
}

/// Why an RTCP packet cannot be built (the caller's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtcpBuildError {
    /// More than 31 report blocks, SDES chunks or BYE sources.
    #[error("an RTCP packet holds at most 31 blocks, chunks or sources")]
    TooManyItems,
    /// An SDES item or BYE reason longer than 255 bytes.
    #[error("an RTCP text field holds at most 255 bytes")]
    TextTooLong,
    /// A packet longer than the 16-bit length field allows.
    #[error("RTCP packet too long")]
    TooLong,
}
