//! Bounds-checked big-endian reads shared by the RTP, RTCP and SRTP parsers.

/// The byte at `at`, if present.
pub(crate) fn u8_at(buf: &[u8], at: usize) -> Option<u8> {
    buf.get(at).copied()
}

/// The big-endian `u16` at `at`, if all of it is present.
pub(crate) fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

/// The big-endian `u32` at `at`, if all of it is present.
pub(crate) fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// XORs `value` into `buf[at..]`, big-endian; bytes past the end are ignored.
pub(crate) fn xor_be(buf: &mut [u8], at: usize, value: &[u8]) {
    if let Some(dst) = buf.get_mut(at..) {
        for (d, v) in dst.iter_mut().zip(value) {
            *d ^= v;
        }
    }
}
