use bytes::{BufMut, Bytes, BytesMut};

use super::error::{RtcpBuildError, RtcpError};
use super::header;
use crate::wire::{u8_at, u32_at};

/// The CNAME item type.
pub const SDES_CNAME: u8 = 1;

/// One SDES item: a type and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesItem {
    /// Item type (1 = CNAME, 2 = NAME, ...).
    pub kind: u8,
    /// The item text (UTF-8 on the wire, but kept as bytes).
    pub text: Bytes,
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its items.
    pub items: Vec<SdesItem>,
}

/// A source description packet (RFC 3550 §6.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceDescription {
    /// One chunk per source.
    pub chunks: Vec<SdesChunk>,
}

impl SourceDescription {
    /// An SDES with one chunk holding only a CNAME.
    pub fn cname(ssrc: u32, cname: impl Into<Bytes>) -> Self {
        Self {
            chunks: vec![SdesChunk {
                ssrc,
                items: vec![SdesItem {
                    kind: SDES_CNAME,
                    text: cname.into(),
                }],
            }],
        }
    }

    /// The CNAME of `ssrc`, if described.
    pub fn cname_of(&self, ssrc: u32) -> Option<&Bytes> {
        let chunk = self.chunks.iter().find(|c| c.ssrc == ssrc)?;
        chunk
            .items
            .iter()
            .find(|i| i.kind == SDES_CNAME)
            .map(|i| &i.text)
    }

    /// Parses the body after the 4-byte header; `count` is the SC field.
    pub(crate) fn parse(body: &Bytes, count: u8) -> Result<Self, RtcpError> {
        let mut at = 0;
        let mut chunks = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let ssrc = u32_at(body, at).ok_or(RtcpError::BadSdes)?;
            at += 4;
            let mut items = Vec::new();
            loop {
                let kind = u8_at(body, at).ok_or(RtcpError::BadSdes)?;
                if kind == 0 {
                    break;
                }
                let len = usize::from(u8_at(body, at + 1).ok_or(RtcpError::BadSdes)?);
                let end = at + 2 + len;
                if end > body.len() {
                    return Err(RtcpError::BadSdes);
                }
                items.push(SdesItem {
                    kind,
                    text: body.slice(at + 2..end),
                });
                at = end;
            }
            // Skip the null terminator and padding to the next word.
            at = (at / 4 + 1) * 4;
            chunks.push(SdesChunk { ssrc, items });
        }
        Ok(Self { chunks })
    }

    fn chunk_len(chunk: &SdesChunk) -> usize {
        let items: usize = chunk.items.iter().map(|i| 2 + i.text.len()).sum();
        (4 + items) / 4 * 4 + 4
    }

    /// Appends the packet with its header.
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), RtcpBuildError> {
        let count = header::count(self.chunks.len())?;
        let body_len = self.chunks.iter().map(Self::chunk_len).sum();
        header::write(out, count, header::PT_SDES, body_len)?;
        for chunk in &self.chunks {
            out.put_u32(chunk.ssrc);
            for item in &chunk.items {
                let len = u8::try_from(item.text.len()).map_err(|_| RtcpBuildError::TextTooLong)?;
                out.put_u8(item.kind);
                out.put_u8(len);
                out.put_slice(&item.text);
            }
            let used: usize = 4 + chunk.items.iter().map(|i| 2 + i.text.len()).sum::<usize>();
            out.put_bytes(0, Self::chunk_len(chunk) - used);
        }
        Ok(())
    }
}
