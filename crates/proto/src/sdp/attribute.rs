//! `a=` attributes.

use std::fmt;
use std::str::FromStr;

use super::{Crypto, Direction, Fmtp, LineError, Rtcp, RtpMap, parse_decimal};

/// One attribute: an `a=` line, either a property (`a=<name>`) or a value
/// attribute (`a=<name>:<value>`).
///
/// The attributes offer/answer works with are typed; all others are kept
/// verbatim as [`Attribute::Property`] or [`Attribute::Value`]. Typed
/// attribute names are matched case-sensitively (`a=RTPMAP:...` stays a
/// verbatim value), and a typed value attribute that does not parse is an
/// error. A direction given in value form (`a=sendonly:x`) is kept
/// verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// `a=rtpmap:...`
    RtpMap(RtpMap),
    /// `a=fmtp:...`
    Fmtp(Fmtp),
    /// `a=ptime:<milliseconds>`, the preferred packet duration.
    Ptime(u32),
    /// `a=maxptime:<milliseconds>`, the longest acceptable packet duration
    /// (RFC 4566 §6).
    MaxPtime(u32),
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`.
    Direction(Direction),
    /// `a=rtcp:...` (RFC 3605).
    Rtcp(Rtcp),
    /// `a=mid:<identification-tag>` (RFC 5888; non-empty, no surrounding
    /// whitespace).
    Mid(String),
    /// `a=crypto:...` (RFC 4568).
    Crypto(Crypto),
    /// Any other property attribute, `a=<name>`, verbatim. The name is
    /// non-empty, holds no `:` and is not a typed attribute's name.
    Property(String),
    /// Any other value attribute, `a=<name>:<value>`, verbatim.
    Value {
        /// Attribute name (non-empty, no `:`, not a typed value
        /// attribute's name).
        name: String,
        /// Attribute value, verbatim (may be empty).
        value: String,
    },
}

impl Attribute {
    /// A verbatim property attribute, `a=<name>`.
    #[must_use]
    pub fn property(name: impl Into<String>) -> Self {
        Self::Property(name.into())
    }

    /// A verbatim value attribute, `a=<name>:<value>`.
    #[must_use]
    pub fn value(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Value {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The attribute name, such as `rtpmap` or `sendonly`.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::RtpMap(_) => "rtpmap",
            Self::Fmtp(_) => "fmtp",
            Self::Ptime(_) => "ptime",
            Self::MaxPtime(_) => "maxptime",
            Self::Direction(direction) => direction.as_str(),
            Self::Rtcp(_) => "rtcp",
            Self::Mid(_) => "mid",
            Self::Crypto(_) => "crypto",
            Self::Property(name) | Self::Value { name, .. } => name,
        }
    }

    /// Parses a value attribute whose name is known, or returns `None` if
    /// the name is not that of a typed value attribute.
    fn parse_typed(name: &str, value: &str) -> Option<Result<Self, LineError>> {
        let attribute = match name {
            "rtpmap" => value.parse().map(Self::RtpMap),
            "fmtp" => value.parse().map(Self::Fmtp),
            "ptime" => parse_decimal(value.trim())
                .map(Self::Ptime)
                .ok_or(LineError::Ptime),
            "maxptime" => parse_decimal(value.trim())
                .map(Self::MaxPtime)
                .ok_or(LineError::MaxPtime),
            "rtcp" => value.parse().map(Self::Rtcp),
            "mid" => match value.trim() {
                "" => Err(LineError::Mid),
                mid => Ok(Self::Mid(mid.to_owned())),
            },
            "crypto" => value.parse().map(Self::Crypto),
            _ => return None,
        };
        Some(attribute)
    }
}

impl FromStr for Attribute {
    type Err = LineError;

    /// Parses the value of an `a=` line (without the `a=`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once(':') {
            Some(("", _)) => Err(LineError::Attribute("empty attribute name")),
            Some((name, value)) => {
                Self::parse_typed(name, value).unwrap_or_else(|| Ok(Self::value(name, value)))
            }
            None => {
                // Tolerate trailing whitespace after a property name.
                let trimmed = text.trim_end_matches(|c: char| c.is_ascii_whitespace());
                if trimmed.is_empty() {
                    return Err(LineError::Attribute("empty attribute name"));
                }
                if let Some(direction) = Direction::from_name(trimmed) {
                    return Ok(Self::Direction(direction));
                }
                match Self::parse_typed(trimmed, "") {
                    // A typed value attribute without a value: its own error.
                    Some(result) => result,
                    None => Ok(Self::property(text)),
                }
            }
        }
    }
}

impl From<Direction> for Attribute {
    fn from(direction: Direction) -> Self {
        Self::Direction(direction)
    }
}

impl From<RtpMap> for Attribute {
    fn from(rtpmap: RtpMap) -> Self {
        Self::RtpMap(rtpmap)
    }
}

impl From<Fmtp> for Attribute {
    fn from(fmtp: Fmtp) -> Self {
        Self::Fmtp(fmtp)
    }
}

impl From<Rtcp> for Attribute {
    fn from(rtcp: Rtcp) -> Self {
        Self::Rtcp(rtcp)
    }
}

impl From<Crypto> for Attribute {
    fn from(crypto: Crypto) -> Self {
        Self::Crypto(crypto)
    }
}

impl fmt::Display for Attribute {
    /// Prints the value of the `a=` line (without the `a=`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RtpMap(rtpmap) => write!(f, "rtpmap:{rtpmap}"),
            Self::Fmtp(fmtp) => write!(f, "fmtp:{fmtp}"),
            Self::Ptime(ptime) => write!(f, "ptime:{ptime}"),
            Self::MaxPtime(maxptime) => write!(f, "maxptime:{maxptime}"),
            Self::Direction(direction) => f.write_str(direction.as_str()),
            Self::Rtcp(rtcp) => write!(f, "rtcp:{rtcp}"),
            Self::Mid(mid) => write!(f, "mid:{mid}"),
            Self::Crypto(crypto) => write!(f, "crypto:{crypto}"),
            Self::Property(name) => f.write_str(name),
            Self::Value { name, value } => write!(f, "{name}:{value}"),
        }
    }
}

/// The first direction attribute in `attributes`.
pub(super) fn direction_in(attributes: &[Attribute]) -> Option<Direction> {
    attributes.iter().find_map(|attribute| match attribute {
        Attribute::Direction(direction) => Some(*direction),
        _ => None,
    })
}

/// Makes `direction` the only direction attribute in `attributes`: the
/// first existing one is replaced in place and any others removed; without
/// one, it is appended.
pub(super) fn set_direction_in(attributes: &mut Vec<Attribute>, direction: Direction) {
    let mut placed = false;
    attributes.retain_mut(|attribute| match attribute {
        Attribute::Direction(existing) if !placed => {
            *existing = direction;
            placed = true;
            true
        }
        Attribute::Direction(_) => false,
        _ => true,
    });
    if !placed {
        attributes.push(Attribute::Direction(direction));
    }
}
