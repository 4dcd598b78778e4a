//! `a=rtpmap` (RFC 4566 §6).

use std::fmt;
use std::str::FromStr;

use super::{LineError, parse_decimal, split_word};

/// The highest RTP payload type (the field has 7 bits).
const MAX_PAYLOAD_TYPE: u8 = 127;

/// An RTP payload type mapping: the value of `a=rtpmap:<payload type>
/// <encoding name>/<clock rate>[/<encoding parameters>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpMap {
    /// RTP payload type, 0 to 127.
    pub payload_type: u8,
    /// Encoding name, such as `PCMU`, `opus` or `telephone-event`; compare
    /// it case-insensitively (non-empty, no `/` and no whitespace).
    pub encoding_name: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Number of audio channels, when given.
    pub channels: Option<u16>,
}

impl RtpMap {
    /// A mapping without a channel count.
    #[must_use]
    pub fn new(payload_type: u8, encoding_name: impl Into<String>, clock_rate: u32) -> Self {
        Self {
            payload_type,
            encoding_name: encoding_name.into(),
            clock_rate,
            channels: None,
        }
    }

    /// Sets the channel count.
    #[must_use]
    pub const fn with_channels(mut self, channels: u16) -> Self {
        self.channels = Some(channels);
        self
    }
}

impl FromStr for RtpMap {
    type Err = LineError;

    /// Parses an `rtpmap` attribute value (after `a=rtpmap:`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (payload_type, encoding) = split_word(text);
        let payload_type = parse_decimal(payload_type)
            .filter(|pt| *pt <= MAX_PAYLOAD_TYPE)
            .ok_or(LineError::Rtpmap(
                "payload type is not a number from 0 to 127",
            ))?;
        let encoding = encoding.trim_end_matches(|c: char| c.is_ascii_whitespace());
        let mut parts = encoding.split('/');
        let (Some(encoding_name), Some(clock_rate)) = (parts.next(), parts.next()) else {
            return Err(LineError::Rtpmap("expected <encoding name>/<clock rate>"));
        };
        if encoding_name.is_empty() || encoding_name.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(LineError::Rtpmap("bad encoding name"));
        }
        let clock_rate = parse_decimal(clock_rate)
            .ok_or(LineError::Rtpmap("clock rate is not a number below 2^32"))?;
        let channels = parts
            .next()
            .map(|channels| {
                parse_decimal(channels).ok_or(LineError::Rtpmap(
                    "channel count is not a number below 65536",
                ))
            })
            .transpose()?;
        if parts.next().is_some() {
            return Err(LineError::Rtpmap("too many '/' fields"));
        }
        Ok(Self {
            payload_type,
            encoding_name: encoding_name.to_owned(),
            clock_rate,
            channels,
        })
    }
}

impl fmt::Display for RtpMap {
    /// Prints the attribute value (without `a=rtpmap:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}",
            self.payload_type, self.encoding_name, self.clock_rate
        )?;
        if let Some(channels) = self.channels {
            write!(f, "/{channels}")?;
        }
        Ok(())
    }
}
