use bytes::{Bytes, BytesMut};

use super::bye::Goodbye;
use super::error::{RtcpBuildError, RtcpError};
use super::header::{PT_BYE, PT_RR, PT_SDES, PT_SR};
use super::receiver_report::ReceiverReport;
use super::sdes::SourceDescription;
use super::sender_report::SenderReport;
use crate::wire::{u8_at, u16_at};

/// One RTCP packet of a compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket {
    /// SR.
    SenderReport(SenderReport),
    /// RR.
    ReceiverReport(ReceiverReport),
    /// SDES.
    SourceDescription(SourceDescription),
    /// BYE.
    Goodbye(Goodbye),
    /// Any other type (APP, feedback, XR), kept as it came.
    Other {
        /// The packet type.
        packet_type: u8,
        /// The 5-bit count field.
        count: u8,
        /// The body after the 4-byte header, without padding.
        body: Bytes,
    },
}

impl RtcpPacket {
    /// Parses a compound packet (RFC 3550 §6.1): every packet version 2,
    /// lengths adding up to the datagram, padding only on the last, and
    /// an SR or RR first.
    pub fn parse_compound(buf: &Bytes) -> Result<Vec<Self>, RtcpError> {
        let mut packets = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let (Some(first), Some(packet_type), Some(words)) =
                (u8_at(buf, at), u8_at(buf, at + 1), u16_at(buf, at + 2))
            else {
                return Err(RtcpError::TooShort);
            };
            if first >> 6 != 2 {
                return Err(RtcpError::BadVersion(first >> 6));
            }
            let end = at + 4 * (usize::from(words) + 1);
            if end > buf.len() {
                return Err(RtcpError::BadLength);
            }
            let mut body_end = end;
            if first & 0x20 != 0 {
                let pad = usize::from(u8_at(buf, end - 1).ok_or(RtcpError::BadPadding)?);
                if end != buf.len() || pad == 0 || pad > end - at - 4 {
                    return Err(RtcpError::BadPadding);
                }
                body_end -= pad;
            }
            if packets.is_empty() && packet_type != PT_SR && packet_type != PT_RR {
                return Err(RtcpError::NotReportFirst);
            }
            let body = buf.slice(at + 4..body_end);
            packets.push(Self::parse_body(packet_type, first & 0x1F, body)?);
            at = end;
        }
        if packets.is_empty() {
            return Err(RtcpError::TooShort);
        }
        Ok(packets)
    }

    fn parse_body(packet_type: u8, count: u8, body: Bytes) -> Result<Self, RtcpError> {
        Ok(match packet_type {
            PT_SR => Self::SenderReport(SenderReport::parse(&body, count)?),
            PT_RR => Self::ReceiverReport(ReceiverReport::parse(&body, count)?),
            PT_SDES => Self::SourceDescription(SourceDescription::parse(&body, count)?),
            PT_BYE => Self::Goodbye(Goodbye::parse(&body, count)?),
            _ => Self::Other {
                packet_type,
                count,
                body,
            },
        })
    }

    /// Appends this packet.
    pub fn write_to(&self, out: &mut BytesMut) -> Result<(), RtcpBuildError> {
        match self {
            Self::SenderReport(p) => p.write_to(out),
            Self::ReceiverReport(p) => p.write_to(out),
            Self::SourceDescription(p) => p.write_to(out),
            Self::Goodbye(p) => p.write_to(out),
            Self::Other {
                packet_type,
                count,
                body,
            } => {
                let padded = body.len().div_ceil(4) * 4;
                super::header::write(out, *count & 0x1F, *packet_type, padded)?;
                out.extend_from_slice(body);
                out.extend(std::iter::repeat_n(0, padded - body.len()));
                Ok(())
            }
        }
    }

    /// Serializes packets into one compound packet.
    pub fn build_compound(packets: &[Self]) -> Result<Bytes, RtcpBuildError> {
        let mut out = BytesMut::with_capacity(128);
        for packet in packets {
            packet.write_to(&mut out)?;
        }
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ReportBlock, SdesChunk, SdesItem};
    use super::*;

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 42,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }
    }

    #[test]
    fn sr_sdes_bye_round_trip() {
        let packets = vec![
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 0xCAFE_BABE,
                ntp_time: 0xE000_0000_8000_0000,
                rtp_timestamp: 160,
                packet_count: 10,
                octet_count: 1600,
                reports: vec![block(1), block(2)],
            }),
            RtcpPacket::SourceDescription(SourceDescription::cname(
                0xCAFE_BABE,
                "alice@example.com",
            )),
            RtcpPacket::Goodbye(Goodbye {
                sources: vec![0xCAFE_BABE],
                reason: Some(Bytes::from_static(b"done")),
            }),
        ];
        let bytes = RtcpPacket::build_compound(&packets).unwrap();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(&bytes[..4], &[0x82, 200, 0, 18]);
        let parsed = RtcpPacket::parse_compound(&bytes).unwrap();
        assert_eq!(parsed, packets);
        let RtcpPacket::SourceDescription(sdes) = &parsed[1] else {
            panic!()
        };
        assert_eq!(sdes.cname_of(0xCAFE_BABE).unwrap(), "alice@example.com");
    }

    #[test]
    fn rr_with_multi_item_sdes_and_other_round_trip() {
        let packets = vec![
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 7,
                reports: vec![block(9)],
            }),
            RtcpPacket::SourceDescription(SourceDescription {
                chunks: vec![
                    SdesChunk {
                        ssrc: 7,
                        items: vec![
                            SdesItem {
                                kind: 1,
                                text: Bytes::from_static(b"ab"),
                            },
                            SdesItem {
                                kind: 2,
                                text: Bytes::from_static(b""),
                            },
                        ],
                    },
                    SdesChunk {
                        ssrc: 8,
                        items: vec![],
                    },
                ],
            }),
            RtcpPacket::Goodbye(Goodbye {
                sources: vec![],
                reason: None,
            }),
            RtcpPacket::Other {
                packet_type: 204,
                count: 1,
                body: Bytes::from_static(&[1, 2, 3, 4, 5, 6, 7, 8]),
            },
        ];
        let bytes = RtcpPacket::build_compound(&packets).unwrap();
        assert_eq!(RtcpPacket::parse_compound(&bytes).unwrap(), packets);
    }

    #[test]
    fn rejects_malformed_compounds() {
        let rr = RtcpPacket::build_compound(&[RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 1,
            reports: vec![],
        })])
        .unwrap();
        let sdes = RtcpPacket::build_compound(&[RtcpPacket::SourceDescription(
            SourceDescription::cname(1, "x"),
        )])
        .unwrap();
        assert_eq!(
            RtcpPacket::parse_compound(&sdes),
            Err(RtcpError::NotReportFirst)
        );
        assert_eq!(
            RtcpPacket::parse_compound(&rr.slice(..6)),
            Err(RtcpError::BadLength)
        );
        let mut v1 = rr.to_vec();
        v1[0] = 0x40;
        assert_eq!(
            RtcpPacket::parse_compound(&Bytes::from(v1)),
            Err(RtcpError::BadVersion(1))
        );
        let mut short_rc = rr.to_vec();
        short_rc[0] = 0x81;
        assert_eq!(
            RtcpPacket::parse_compound(&Bytes::from(short_rc)),
            Err(RtcpError::TooShort)
        );
        assert_eq!(
            RtcpPacket::parse_compound(&Bytes::new()),
            Err(RtcpError::TooShort)
        );
    }
}
