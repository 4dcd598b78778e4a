//! Stream direction attributes (RFC 4566 §6, RFC 3264 §5.1).

use std::fmt;

/// The direction of a media stream, set by one of the property attributes
/// `a=sendrecv`, `a=sendonly`, `a=recvonly` or `a=inactive`, at media or
/// session level. Without any of them a stream is `sendrecv`, the
/// [`Default`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `sendrecv`: send and receive.
    #[default]
    SendRecv,
    /// `sendonly`: send only (a stream put on hold by its sender).
    SendOnly,
    /// `recvonly`: receive only.
    RecvOnly,
    /// `inactive`: neither send nor receive.
    Inactive,
}

impl Direction {
    /// The attribute name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction an attribute name stands for (case-sensitive, as
    /// attribute names are).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Self::SendRecv),
            "sendonly" => Some(Self::SendOnly),
            "recvonly" => Some(Self::RecvOnly),
            "inactive" => Some(Self::Inactive),
            _ => None,
        }
    }

    /// The same direction seen from the other end: `sendonly` and
    /// `recvonly` swap, the others stay. This is the direction an answer
    /// takes to accept an offered direction as it is (RFC 3264 §6.1).
    #[must_use]
    pub const fn reversed(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            Self::SendRecv | Self::Inactive => self,
        }
    }

    /// Whether the describing side sends media.
    #[must_use]
    pub const fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether the describing side receives media.
    #[must_use]
    pub const fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
