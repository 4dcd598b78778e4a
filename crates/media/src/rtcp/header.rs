//! The 4-byte header every RTCP packet starts with (RFC 3550 §6.4.1).

use bytes::{BufMut, BytesMut};

use super::error::RtcpBuildError;

/// SR packet type.
pub(crate) const PT_SR: u8 = 200;
/// RR packet type.
pub(crate) const PT_RR: u8 = 201;
/// SDES packet type.
pub(crate) const PT_SDES: u8 = 202;
/// BYE packet type.
pub(crate) const PT_BYE: u8 = 203;

/// The count field (report blocks, chunks, sources) as 5 bits.
pub(crate) fn count(n: usize) -> Result<u8, RtcpBuildError> {
    u8::try_from(n)
        .ok()
        .filter(|n| *n <= 31)
        .ok_or(RtcpBuildError::TooManyItems)
}

/// Writes a header for a body of `body_len` bytes (a multiple of 4).
pub(crate) fn write(
    out: &mut BytesMut,
    count: u8,
    packet_type: u8,
    body_len: usize,
) -> Result<(), RtcpBuildError> {
    let words = u16::try_from(body_len / 4).map_err(|_| RtcpBuildError::TooLong)?;
    out.reserve(4 + body_len);
    out.put_u8(0x80 | count);
    out.put_u8(packet_type);
    out.put_u16(words);
    Ok(())
}
