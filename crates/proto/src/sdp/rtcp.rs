//! `a=rtcp` (RFC 3605).

use std::fmt;
use std::str::FromStr;

use super::{Connection, LineError, parse_decimal, split_word};

/// The RTCP port, and optionally address, of a stream when they are not the
/// RTP port + 1 and the RTP address: the value of `a=rtcp:<port>
/// [<nettype> <addrtype> <connection-address>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when it differs from the media's connection address.
    pub connection: Option<Connection>,
}

impl Rtcp {
    /// An RTCP port without an address.
    #[must_use]
    pub const fn new(port: u16) -> Self {
        Self {
            port,
            connection: None,
        }
    }
}

impl FromStr for Rtcp {
    type Err = LineError;

    /// Parses an `rtcp` attribute value (after `a=rtcp:`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (port, address) = split_word(text);
        let port =
            parse_decimal(port).ok_or(LineError::Rtcp("port is not a number from 0 to 65535"))?;
        let connection = if address.trim_end().is_empty() {
            None
        } else {
            Some(
                address
                    .parse()
                    .map_err(|_| LineError::Rtcp("expected <nettype> <addrtype> <address>"))?,
            )
        };
        Ok(Self { port, connection })
    }
}

impl fmt::Display for Rtcp {
    /// Prints the attribute value (without `a=rtcp:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.port)?;
        if let Some(connection) = &self.connection {
            write!(f, " {connection}")?;
        }
        Ok(())
    }
}
