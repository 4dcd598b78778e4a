use bytes::{BufMut, Bytes, BytesMut};

use super::error::{RtpBuildError, RtpError};
use crate::wire::{u8_at, u16_at, u32_at};

/// Length of the fixed RTP header (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;

/// An RTP header extension (RFC 3550 §5.3.1): a profile-defined 16-bit
/// value and whole 32-bit words of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpExtension {
    /// The "defined by profile" field (0xBEDE for RFC 8285 one-byte headers).
    pub profile: u16,
    /// The extension words, without the 4-byte extension header.
    pub data: Bytes,
}

/// One RTP packet (RFC 3550 §5.1). Parsing is zero-copy: the payload and
/// extension data are slices of the received buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    /// The marker bit (start of a talkspurt, start of a DTMF event).
    pub marker: bool,
    /// The 7-bit payload type.
    pub payload_type: u8,
    /// The 16-bit sequence number.
    pub sequence: u16,
    /// The media timestamp, in clock-rate units.
    pub timestamp: u32,
    /// The synchronization source.
    pub ssrc: u32,
    /// Contributing sources (at most 15).
    pub csrc: Vec<u32>,
    /// The header extension, if the X bit is set.
    pub extension: Option<RtpExtension>,
    /// The payload, without padding.
    pub payload: Bytes,
    /// Padding bytes after the payload (including the count byte); 0 for none.
    pub padding: u8,
}

/// Where the payload starts in a serialized packet, and its SSRC and
/// sequence number: what SRTP needs without parsing the whole packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderView {
    pub(crate) header_len: usize,
    pub(crate) sequence: u16,
    pub(crate) ssrc: u32,
}

impl HeaderView {
    /// Reads the fixed header, CSRC count and extension length.
    pub(crate) fn parse(buf: &[u8]) -> Result<Self, RtpError> {
        let first = u8_at(buf, 0).ok_or(RtpError::TooShort)?;
        let (Some(sequence), Some(ssrc)) = (u16_at(buf, 2), u32_at(buf, 8)) else {
            return Err(RtpError::TooShort);
        };
        let version = first >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let mut header_len = RTP_HEADER_LEN + 4 * usize::from(first & 0x0F);
        if first & 0x10 != 0 {
            let words = u16_at(buf, header_len + 2).ok_or(RtpError::Truncated)?;
            header_len += 4 + 4 * usize::from(words);
        }
        if header_len > buf.len() {
            return Err(RtpError::Truncated);
        }
        Ok(Self {
            header_len,
            sequence,
            ssrc,
        })
    }
}

impl RtpPacket {
    /// A packet with no CSRCs, extension or padding.
    pub fn new(payload_type: u8, sequence: u16, timestamp: u32, ssrc: u32, payload: Bytes) -> Self {
        Self {
            marker: false,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrc: Vec::new(),
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// Parses a received packet; never panics, whatever the bytes.
    pub fn parse(buf: Bytes) -> Result<Self, RtpError> {
        let view = HeaderView::parse(&buf)?;
        let first = u8_at(&buf, 0).ok_or(RtpError::TooShort)?;
        let second = u8_at(&buf, 1).ok_or(RtpError::TooShort)?;
        let timestamp = u32_at(&buf, 4).ok_or(RtpError::TooShort)?;
        let csrc_count = usize::from(first & 0x0F);
        let csrc = (0..csrc_count)
            .map(|i| u32_at(&buf, RTP_HEADER_LEN + 4 * i).ok_or(RtpError::Truncated))
            .collect::<Result<Vec<_>, _>>()?;
        let ext_at = RTP_HEADER_LEN + 4 * csrc_count;
        let extension = if first & 0x10 != 0 {
            let profile = u16_at(&buf, ext_at).ok_or(RtpError::Truncated)?;
            Some(RtpExtension {
                profile,
                data: buf.slice(ext_at + 4..view.header_len),
            })
        } else {
            None
        };
        let mut end = buf.len();
        let mut padding = 0;
        if first & 0x20 != 0 {
            padding = buf.last().copied().ok_or(RtpError::BadPadding)?;
            let pad = usize::from(padding);
            if pad == 0 || pad > end - view.header_len {
                return Err(RtpError::BadPadding);
            }
            end -= pad;
        }
        Ok(Self {
            marker: second & 0x80 != 0,
            payload_type: second & 0x7F,
            sequence: view.sequence,
            timestamp,
            ssrc: view.ssrc,
            csrc,
            extension,
            payload: buf.slice(view.header_len..end),
            padding,
        })
    }

    /// The serialized length in bytes.
    pub fn len(&self) -> usize {
        RTP_HEADER_LEN
            + 4 * self.csrc.len()
            + self.extension.as_ref().map_or(0, |e| 4 + e.data.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// True if the packet has nothing after the fixed header.
    pub fn is_empty(&self) -> bool {
        self.len() == RTP_HEADER_LEN
    }

    /// Appends the serialized packet to `out`.
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), RtpBuildError> {
        let csrc_count = u8::try_from(self.csrc.len())
            .ok()
            .filter(|n| *n <= 15)
            .ok_or(RtpBuildError::TooManyCsrcs)?;
        if self.payload_type > 0x7F {
            return Err(RtpBuildError::BadPayloadType(self.payload_type));
        }
        let ext_words = match &self.extension {
            Some(ext) if ext.data.len() % 4 == 0 => {
                Some(u16::try_from(ext.data.len() / 4).map_err(|_| RtpBuildError::BadExtension)?)
            }
            Some(_) => return Err(RtpBuildError::BadExtension),
            None => None,
        };
        out.reserve(self.len());
        let mut first = 0x80 | csrc_count;
        if self.padding > 0 {
            first |= 0x20;
        }
        if ext_words.is_some() {
            first |= 0x10;
        }
        out.put_u8(first);
        out.put_u8(u8::from(self.marker) << 7 | self.payload_type);
        out.put_u16(self.sequence);
        out.put_u32(self.timestamp);
        out.put_u32(self.ssrc);
        for csrc in &self.csrc {
            out.put_u32(*csrc);
        }
        if let (Some(ext), Some(words)) = (&self.extension, ext_words) {
            out.put_u16(ext.profile);
            out.put_u16(words);
            out.put_slice(&ext.data);
        }
        out.put_slice(&self.payload);
        if self.padding > 0 {
            out.put_bytes(0, usize::from(self.padding) - 1);
            out.put_u8(self.padding);
        }
        Ok(())
    }

    /// The serialized packet.
    pub fn to_bytes(&self) -> Result<Bytes, RtpBuildError> {
        let mut out = BytesMut::with_capacity(self.len());
        self.write_to(&mut out)?;
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_csrc_extension_padding_marker() {
        let packet = RtpPacket {
            marker: true,
            payload_type: 0,
            sequence: 0xFFFF,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678,
            csrc: vec![1, 2, 3],
            extension: Some(RtpExtension {
                profile: 0xBEDE,
                data: Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8]),
            }),
            payload: Bytes::from_static(b"hello"),
            padding: 3,
        };
        let bytes = packet.to_bytes().unwrap();
        assert_eq!(bytes.len(), packet.len());
        assert_eq!(bytes[0], 0xB3);
        assert_eq!(bytes[1], 0x80);
        assert_eq!(*bytes.last().unwrap(), 3);
        assert_eq!(RtpPacket::parse(bytes).unwrap(), packet);
    }

    #[test]
    fn parse_rejects_malformed() {
        assert_eq!(
            RtpPacket::parse(Bytes::from_static(&[0x80; 11])),
            Err(RtpError::TooShort)
        );
        let mut v1 = vec![0x40; 12];
        v1[0] = 0x40;
        assert_eq!(
            RtpPacket::parse(Bytes::from(v1)),
            Err(RtpError::BadVersion(1))
        );
        let mut csrc = vec![0u8; 12];
        csrc[0] = 0x82;
        assert_eq!(
            RtpPacket::parse(Bytes::from(csrc)),
            Err(RtpError::Truncated)
        );
        let mut ext = vec![0u8; 16];
        ext[0] = 0x90;
        ext[15] = 1;
        assert_eq!(RtpPacket::parse(Bytes::from(ext)), Err(RtpError::Truncated));
        let mut pad = vec![0u8; 13];
        pad[0] = 0xA0;
        pad[12] = 2;
        assert_eq!(
            RtpPacket::parse(Bytes::from(pad)),
            Err(RtpError::BadPadding)
        );
    }

    #[test]
    fn build_rejects_caller_mistakes() {
        let mut packet = RtpPacket::new(0, 1, 2, 3, Bytes::new());
        packet.csrc = vec![0; 16];
        assert_eq!(packet.to_bytes(), Err(RtpBuildError::TooManyCsrcs));
        packet.csrc.clear();
        packet.payload_type = 200;
        assert_eq!(packet.to_bytes(), Err(RtpBuildError::BadPayloadType(200)));
        packet.payload_type = 8;
        packet.extension = Some(RtpExtension {
            profile: 1,
            data: Bytes::from_static(&[1, 2, 3]),
        });
        assert_eq!(packet.to_bytes(), Err(RtpBuildError::BadExtension));
    }
}
