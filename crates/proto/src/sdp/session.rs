//! The session description as a whole.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::attribute::{direction_in, set_direction_in};
use super::{
    Attribute, Bandwidth, Connection, Direction, MediaDescription, Origin, SdpError, Timing, parser,
};

/// A session description (RFC 4566): session-level lines and media
/// sections.
///
/// Parse with [`SessionDescription::parse`], [`SessionDescription::from_bytes`]
/// or [`str::parse`]; print with [`Display`](fmt::Display) (CRLF line
/// ends). Build one with [`SessionDescription::new`] and the `with_*`
/// methods, or through the public fields.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionDescription {
    /// `v=` protocol version; always 0 when parsed.
    pub version: u32,
    /// `o=` originator and session identifier.
    pub origin: Origin,
    /// `s=` session name, verbatim; often `-` or a single space, may be
    /// empty (no line breaks).
    pub session_name: String,
    /// `i=` session information, verbatim (no line breaks).
    pub information: Option<String>,
    /// `u=` URI of a description, verbatim (no line breaks).
    pub uri: Option<String>,
    /// `e=` email addresses, verbatim (no line breaks).
    pub emails: Vec<String>,
    /// `p=` phone numbers, verbatim (no line breaks).
    pub phones: Vec<String>,
    /// `c=` session-level connection data, for media sections without
    /// their own.
    pub connection: Option<Connection>,
    /// `b=` session-level bandwidth lines.
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines, each with its `r=` lines; at least one when parsed.
    pub timings: Vec<Timing>,
    /// `z=` time zone adjustments, verbatim (no line breaks).
    pub time_zones: Option<String>,
    /// `k=` encryption key (obsolete), verbatim (no line breaks).
    pub key: Option<String>,
    /// Session-level `a=` lines, in order.
    pub attributes: Vec<Attribute>,
    /// Media sections, in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// A description with version 0, the given origin and session name,
    /// one unbounded timing (`t=0 0`) and nothing else.
    #[must_use]
    pub fn new(origin: Origin, session_name: impl Into<String>) -> Self {
        Self {
            version: 0,
            origin,
            session_name: session_name.into(),
            information: None,
            uri: None,
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timings: vec![Timing::new(0, 0)],
            time_zones: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        }
    }

    /// Parses a session description; lines may end with CRLF or LF.
    ///
    /// # Errors
    ///
    /// An [`SdpError`] naming the offending line and what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        parser::parse(text)
    }

    /// Parses a session description from a message body, which must be
    /// UTF-8.
    ///
    /// # Errors
    ///
    /// [`SdpError::InvalidUtf8`] if the body is not UTF-8, otherwise as
    /// [`SessionDescription::parse`].
    pub fn from_bytes(body: &[u8]) -> Result<Self, SdpError> {
        let text = std::str::from_utf8(body).map_err(|error| SdpError::InvalidUtf8 {
            valid_up_to: error.valid_up_to(),
        })?;
        Self::parse(text)
    }

    /// Sets the session-level `c=` line.
    #[must_use]
    pub fn with_connection(mut self, connection: Connection) -> Self {
        self.connection = Some(connection);
        self
    }

    /// Appends a session-level `b=` line.
    #[must_use]
    pub fn with_bandwidth(mut self, bandwidth: Bandwidth) -> Self {
        self.bandwidths.push(bandwidth);
        self
    }

    /// Appends a session-level `a=` line.
    #[must_use]
    pub fn with_attribute(mut self, attribute: impl Into<Attribute>) -> Self {
        self.attributes.push(attribute.into());
        self
    }

    /// Appends a media section.
    #[must_use]
    pub fn with_media(mut self, media: MediaDescription) -> Self {
        self.media.push(media);
        self
    }

    /// The direction set at session level (the first session-level
    /// direction attribute), if any.
    #[must_use]
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// Sets the session-level direction, replacing any session-level
    /// direction attributes. Media-level directions still override it.
    pub fn set_direction(&mut self, direction: Direction) {
        set_direction_in(&mut self.attributes, direction);
    }

    /// The direction in effect for media section `index`: its own
    /// direction, else the session-level one, else `sendrecv`. `None` if
    /// there is no such section.
    #[must_use]
    pub fn media_direction(&self, index: usize) -> Option<Direction> {
        let media = self.media.get(index)?;
        Some(media.effective_direction(self.direction()))
    }

    /// The connection data in effect for media section `index`: its first
    /// own `c=` line, else the session-level one. `None` if there is no such
    /// section or neither level has a `c=` line.
    #[must_use]
    pub fn media_connection(&self, index: usize) -> Option<&Connection> {
        let media = self.media.get(index)?;
        media.connection().or(self.connection.as_ref())
    }

    /// Sets the session-level `c=` line to `ip`. Media-level `c=` lines
    /// still override it; see [`MediaDescription::set_connection_address`].
    pub fn set_connection_address(&mut self, ip: IpAddr) {
        self.connection = Some(Connection::new(ip));
    }

    /// The first session-level attribute named `name` (case-sensitive).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|attribute| attribute.name() == name)
    }
}

impl FromStr for SessionDescription {
    type Err = SdpError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl TryFrom<&[u8]> for SessionDescription {
    type Error = SdpError;

    fn try_from(body: &[u8]) -> Result<Self, Self::Error> {
        Self::from_bytes(body)
    }
}

impl fmt::Display for SessionDescription {
    /// Prints the description in RFC 4566 line order, each line ending
    /// with CRLF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v={}\r\n", self.version)?;
        write!(f, "o={}\r\n", self.origin)?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(information) = &self.information {
            write!(f, "i={information}\r\n")?;
        }
        if let Some(uri) = &self.uri {
            write!(f, "u={uri}\r\n")?;
        }
        for email in &self.emails {
            write!(f, "e={email}\r\n")?;
        }
        for phone in &self.phones {
            write!(f, "p={phone}\r\n")?;
        }
        if let Some(connection) = &self.connection {
            write!(f, "c={connection}\r\n")?;
        }
        for bandwidth in &self.bandwidths {
            write!(f, "b={bandwidth}\r\n")?;
        }
        for timing in &self.timings {
            write!(f, "t={timing}\r\n")?;
            for repeat in &timing.repeats {
                write!(f, "r={repeat}\r\n")?;
            }
        }
        if let Some(time_zones) = &self.time_zones {
            write!(f, "z={time_zones}\r\n")?;
        }
        if let Some(key) = &self.key {
            write!(f, "k={key}\r\n")?;
        }
        for attribute in &self.attributes {
            write!(f, "a={attribute}\r\n")?;
        }
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}
