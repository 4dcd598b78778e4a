//! Media descriptions: an `m=` line and the lines under it.

use std::fmt;
use std::net::IpAddr;

use super::attribute::{direction_in, set_direction_in};
use super::{
    Attribute, Bandwidth, Connection, Crypto, Direction, Fmtp, LineError, Rtcp, RtpMap,
    parse_decimal,
};

/// The media type of an `m=` line.
///
/// Parsing is case-insensitive; printing uses the canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// `audio`
    Audio,
    /// `video`
    Video,
    /// `text` (real-time text, RFC 4103)
    Text,
    /// `application`
    Application,
    /// `message` (MSRP, RFC 4975)
    Message,
    /// `image` (T.38 fax, RFC 6466)
    Image,
    /// Any other media type, verbatim (one word, not one of the above).
    Other(String),
}

impl MediaType {
    /// The textual form, as printed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Text => "text",
            Self::Application => "application",
            Self::Message => "message",
            Self::Image => "image",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for MediaType {
    fn from(text: &str) -> Self {
        [
            Self::Audio,
            Self::Video,
            Self::Text,
            Self::Application,
            Self::Message,
            Self::Image,
        ]
        .into_iter()
        .find(|known| known.as_str().eq_ignore_ascii_case(text))
        .unwrap_or_else(|| Self::Other(text.to_owned()))
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport protocol of an `m=` line.
///
/// Parsing is case-insensitive; printing uses the canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `RTP/AVP`: plain RTP (RFC 3551).
    RtpAvp,
    /// `RTP/AVPF`: RTP with RTCP feedback (RFC 4585).
    RtpAvpf,
    /// `RTP/SAVP`: SRTP (RFC 3711).
    RtpSavp,
    /// `RTP/SAVPF`: SRTP with RTCP feedback (RFC 5124).
    RtpSavpf,
    /// `UDP/TLS/RTP/SAVP`: DTLS-SRTP (RFC 5764).
    UdpTlsRtpSavp,
    /// `UDP/TLS/RTP/SAVPF`: DTLS-SRTP with RTCP feedback, as WebRTC uses.
    UdpTlsRtpSavpf,
    /// `udp`: unspecified protocol over UDP.
    Udp,
    /// Any other protocol (`udptl`, `TCP/MSRP`, `UDP/DTLS/SCTP`, ...),
    /// verbatim (one word, not one of the above).
    Other(String),
}

impl Protocol {
    /// The textual form, as printed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::RtpAvp => "RTP/AVP",
            Self::RtpAvpf => "RTP/AVPF",
            Self::RtpSavp => "RTP/SAVP",
            Self::RtpSavpf => "RTP/SAVPF",
            Self::UdpTlsRtpSavp => "UDP/TLS/RTP/SAVP",
            Self::UdpTlsRtpSavpf => "UDP/TLS/RTP/SAVPF",
            Self::Udp => "udp",
            Self::Other(other) => other,
        }
    }

    /// Whether this is an RTP profile, whose formats are RTP payload types.
    #[must_use]
    pub fn is_rtp(&self) -> bool {
        self.as_str()
            .split('/')
            .any(|part| part.eq_ignore_ascii_case("RTP"))
    }

    /// Whether this is a secure RTP profile (`SAVP` or `SAVPF`).
    #[must_use]
    pub fn is_secure_rtp(&self) -> bool {
        self.is_rtp()
            && self.as_str().rsplit('/').next().is_some_and(|profile| {
                profile.eq_ignore_ascii_case("SAVP") || profile.eq_ignore_ascii_case("SAVPF")
            })
    }
}

impl From<&str> for Protocol {
    fn from(text: &str) -> Self {
        [
            Self::RtpAvp,
            Self::RtpAvpf,
            Self::RtpSavp,
            Self::RtpSavpf,
            Self::UdpTlsRtpSavp,
            Self::UdpTlsRtpSavpf,
            Self::Udp,
        ]
        .into_iter()
        .find(|known| known.as_str().eq_ignore_ascii_case(text))
        .unwrap_or_else(|| Self::Other(text.to_owned()))
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One media section: an `m=` line (`m=<media> <port>[/<number of ports>]
/// <proto> <fmt> ...`) and the `i=`, `c=`, `b=`, `k=` and `a=` lines under
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaDescription {
    /// Media type.
    pub media: MediaType,
    /// Transport port; 0 rejects or disables the stream (RFC 3264 §6).
    pub port: u16,
    /// Number of ports, for hierarchically encoded streams.
    pub port_count: Option<u16>,
    /// Transport protocol.
    pub protocol: Protocol,
    /// Media formats: RTP payload types for RTP protocols, other tokens
    /// otherwise (one word each).
    pub formats: Vec<String>,
    /// `i=` media title, verbatim (no line breaks).
    pub information: Option<String>,
    /// `c=` lines; more than one for layered multicast. When empty, the
    /// session-level connection applies.
    pub connections: Vec<Connection>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `k=` encryption key (obsolete), verbatim (no line breaks).
    pub key: Option<String>,
    /// `a=` lines, in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// A media section with no formats and no other lines; add them with
    /// the `with_*` methods or through the public fields.
    #[must_use]
    pub const fn new(media: MediaType, port: u16, protocol: Protocol) -> Self {
        Self {
            media,
            port,
            port_count: None,
            protocol,
            formats: Vec::new(),
            information: None,
            connections: Vec::new(),
            bandwidths: Vec::new(),
            key: None,
            attributes: Vec::new(),
        }
    }

    /// Parses the value of an `m=` line (without the `m=`); the result has
    /// no lines under it yet.
    pub(super) fn from_media_line(text: &str) -> Result<Self, LineError> {
        let mut words = text.split_ascii_whitespace();
        let (Some(media), Some(port), Some(protocol)) = (words.next(), words.next(), words.next())
        else {
            return Err(LineError::Media(
                "expected <media> <port> <proto> <fmt> ...",
            ));
        };
        let (port, port_count) = match port.split_once('/') {
            Some((port, count)) => (port, Some(count)),
            None => (port, None),
        };
        let port = parse_decimal(port).ok_or(LineError::MediaPort)?;
        let port_count = port_count
            .map(|count| parse_decimal(count).ok_or(LineError::MediaPort))
            .transpose()?;
        Ok(Self {
            port_count,
            formats: words.map(str::to_owned).collect(),
            ..Self::new(MediaType::from(media), port, Protocol::from(protocol))
        })
    }

    /// Appends a format.
    #[must_use]
    pub fn with_format(mut self, format: impl Into<String>) -> Self {
        self.formats.push(format.into());
        self
    }

    /// Appends an RTP payload type to the formats and its `a=rtpmap`.
    #[must_use]
    pub fn with_rtpmap(mut self, rtpmap: RtpMap) -> Self {
        self.formats.push(rtpmap.payload_type.to_string());
        self.attributes.push(Attribute::RtpMap(rtpmap));
        self
    }

    /// Appends a `c=` line.
    #[must_use]
    pub fn with_connection(mut self, connection: Connection) -> Self {
        self.connections.push(connection);
        self
    }

    /// Appends a `b=` line.
    #[must_use]
    pub fn with_bandwidth(mut self, bandwidth: Bandwidth) -> Self {
        self.bandwidths.push(bandwidth);
        self
    }

    /// Appends an `a=` line.
    #[must_use]
    pub fn with_attribute(mut self, attribute: impl Into<Attribute>) -> Self {
        self.attributes.push(attribute.into());
        self
    }

    /// The direction set at media level (the first direction attribute),
    /// if any. See [`SessionDescription::media_direction`] for the
    /// direction in effect.
    ///
    /// [`SessionDescription::media_direction`]: super::SessionDescription::media_direction
    #[must_use]
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// The direction in effect given the session-level direction: the
    /// media-level one, else the session-level one, else `sendrecv`.
    #[must_use]
    pub fn effective_direction(&self, session_direction: Option<Direction>) -> Direction {
        self.direction().or(session_direction).unwrap_or_default()
    }

    /// Sets the media-level direction, replacing any direction attributes.
    pub fn set_direction(&mut self, direction: Direction) {
        set_direction_in(&mut self.attributes, direction);
    }

    /// Sets the transport port (0 to reject or disable the stream).
    pub const fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// Replaces the media-level `c=` lines with one for `ip`.
    pub fn set_connection_address(&mut self, ip: IpAddr) {
        self.connections = vec![Connection::new(ip)];
    }

    /// The first media-level `c=` line, if any.
    #[must_use]
    pub fn connection(&self) -> Option<&Connection> {
        self.connections.first()
    }

    /// The formats that are RTP payload types (numbers from 0 to 127), in
    /// order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> {
        self.formats
            .iter()
            .filter_map(|format| parse_decimal(format))
            .filter(|pt: &u8| *pt <= 127)
    }

    /// All `a=rtpmap` lines.
    pub fn rtpmaps(&self) -> impl Iterator<Item = &RtpMap> {
        self.attributes
            .iter()
            .filter_map(|attribute| match attribute {
                Attribute::RtpMap(rtpmap) => Some(rtpmap),
                _ => None,
            })
    }

    /// The `a=rtpmap` of an RTP payload type.
    #[must_use]
    pub fn rtpmap(&self, payload_type: u8) -> Option<&RtpMap> {
        self.rtpmaps()
            .find(|rtpmap| rtpmap.payload_type == payload_type)
    }

    /// The `a=fmtp` of an RTP payload type.
    #[must_use]
    pub fn fmtp(&self, payload_type: u8) -> Option<&Fmtp> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Fmtp(fmtp) if fmtp.payload_type() == Some(payload_type) => Some(fmtp),
                _ => None,
            })
    }

    /// All `a=crypto` lines, in order of preference.
    pub fn crypto(&self) -> impl Iterator<Item = &Crypto> {
        self.attributes
            .iter()
            .filter_map(|attribute| match attribute {
                Attribute::Crypto(crypto) => Some(crypto),
                _ => None,
            })
    }

    /// The `a=ptime` value in milliseconds.
    #[must_use]
    pub fn ptime(&self) -> Option<u32> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Ptime(ptime) => Some(*ptime),
                _ => None,
            })
    }

    /// The `a=maxptime` value in milliseconds.
    #[must_use]
    pub fn maxptime(&self) -> Option<u32> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::MaxPtime(maxptime) => Some(*maxptime),
                _ => None,
            })
    }

    /// The `a=rtcp` attribute.
    #[must_use]
    pub fn rtcp(&self) -> Option<&Rtcp> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Rtcp(rtcp) => Some(rtcp),
                _ => None,
            })
    }

    /// The `a=mid` identification tag.
    #[must_use]
    pub fn mid(&self) -> Option<&str> {
        self.attributes
            .iter()
            .find_map(|attribute| match attribute {
                Attribute::Mid(mid) => Some(mid.as_str()),
                _ => None,
            })
    }

    /// The first attribute named `name` (case-sensitive).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|attribute| attribute.name() == name)
    }
}

impl fmt::Display for MediaDescription {
    /// Prints the whole media section, `m=` line first, each line ending
    /// with CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.media, self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.protocol)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        if let Some(information) = &self.information {
            write!(f, "i={information}\r\n")?;
        }
        for connection in &self.connections {
            write!(f, "c={connection}\r\n")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "b={bandwidth}\r\n")?;
        }
        if let Some(key) = &self.key {
            write!(f, "k={key}\r\n")?;
        }
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        Ok(())
    }
}
