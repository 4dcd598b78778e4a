use super::error::SrtpError;
use crate::wire::u32_at;

/// Length of the E flag and SRTCP index.
pub(crate) const SRTCP_TRAILER_LEN: usize = 4;

/// The E flag and 31-bit SRTCP index (RFC 3711 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SrtcpTrailer {
    pub(crate) encrypted: bool,
    pub(crate) index: u32,
}

impl SrtcpTrailer {
    pub(crate) fn encrypted(index: u32) -> Self {
        Self {
            encrypted: true,
            index: index & 0x7FFF_FFFF,
        }
    }

    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, SrtpError> {
        let word = u32_at(bytes, 0).ok_or(SrtpError::TooShort)?;
        Ok(Self {
            encrypted: word & 0x8000_0000 != 0,
            index: word & 0x7FFF_FFFF,
        })
    }

    pub(crate) fn to_bytes(self) -> [u8; 4] {
        (u32::from(self.encrypted) << 31 | self.index).to_be_bytes()
    }
}

/// Splits the last `tail` bytes off `packet`, which must keep at least
/// `min_head` bytes before them.
pub(crate) fn split_tail(
    packet: &[u8],
    tail: usize,
    min_head: usize,
) -> Result<(&[u8], &[u8]), SrtpError> {
    let at = packet
        .len()
        .checked_sub(tail)
        .filter(|at| *at >= min_head)
        .ok_or(SrtpError::TooShort)?;
    packet.split_at_checked(at).ok_or(SrtpError::TooShort)
}
