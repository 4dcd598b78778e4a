use bytes::{BufMut, Bytes, BytesMut};

use super::error::{RtcpBuildError, RtcpError};
use super::header;
use crate::wire::{u8_at, u32_at};

/// A goodbye packet (RFC 3550 §6.6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Goodbye {
    /// The sources leaving.
    pub sources: Vec<u32>,
    /// Why, if said.
    pub reason: Option<Bytes>,
}

impl Goodbye {
    /// Parses the body after the 4-byte header; `count` is the SC field.
    pub(crate) fn parse(body: &Bytes, count: u8) -> Result<Self, RtcpError> {
        let sources = (0..usize::from(count))
            .map(|i| u32_at(body, 4 * i).ok_or(RtcpError::TooShort))
            .collect::<Result<Vec<_>, _>>()?;
        let at = 4 * usize::from(count);
        let reason = match u8_at(body, at) {
            Some(len) => {
                let end = at + 1 + usize::from(len);
                if end > body.len() {
                    return Err(RtcpError::TooShort);
                }
                Some(body.slice(at + 1..end))
            }
            None => None,
        };
        Ok(Self { sources, reason })
    }

    /// Appends the packet with its header.
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), RtcpBuildError> {
        let count = header::count(self.sources.len())?;
        let reason_len = match &self.reason {
            Some(r) => Some(u8::try_from(r.len()).map_err(|_| RtcpBuildError::TextTooLong)?),
            None => None,
        };
        let reason_words = reason_len.map_or(0, |len| (usize::from(len) + 1).div_ceil(4) * 4);
        header::write(
            out,
            count,
            header::PT_BYE,
            4 * self.sources.len() + reason_words,
        )?;
        self.sources.iter().for_each(|s| out.put_u32(*s));
        if let (Some(reason), Some(len)) = (&self.reason, reason_len) {
            out.put_u8(len);
            out.put_slice(reason);
            out.put_bytes(0, reason_words - 1 - reason.len());
        }
        Ok(())
    }
}
