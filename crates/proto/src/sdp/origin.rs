//! `o=` origin.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::{AddrType, LineError, NetType, parse_decimal};

/// The originator and session identifier: the value of an `o=` line,
/// `<username> <sess-id> <sess-version> <nettype> <addrtype>
/// <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// User name on the originating host, `-` when there is none (one word,
    /// no whitespace).
    pub username: String,
    /// Session identifier. RFC 4566 asks for digits, but only equality
    /// matters, so it is kept verbatim and may be of any length (one word,
    /// no whitespace).
    pub session_id: String,
    /// Session version, to be increased on each change (RFC 3264 §8).
    pub session_version: u64,
    /// Network type, `IN` in practice.
    pub nettype: NetType,
    /// Address type.
    pub addrtype: AddrType,
    /// Address (or domain name) of the originating host (one word, no
    /// whitespace).
    pub address: String,
}

impl Origin {
    /// An origin for an IP address (`IN IP4 ...` or `IN IP6 ...`).
    #[must_use]
    pub fn new(
        username: impl Into<String>,
        session_id: impl Into<String>,
        session_version: u64,
        address: IpAddr,
    ) -> Self {
        Self {
            username: username.into(),
            session_id: session_id.into(),
            session_version,
            nettype: NetType::In,
            addrtype: AddrType::of(address),
            address: address.to_string(),
        }
    }
}

impl FromStr for Origin {
    type Err = LineError;

    /// Parses the value of an `o=` line (without the `o=`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut words = text.split_ascii_whitespace();
        let (
            Some(username),
            Some(session_id),
            Some(session_version),
            Some(nettype),
            Some(addrtype),
            Some(address),
            None,
        ) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        )
        else {
            return Err(LineError::Origin(
                "expected <username> <sess-id> <sess-version> <nettype> <addrtype> <address>",
            ));
        };
        let session_version = parse_decimal(session_version).ok_or(LineError::Origin(
            "session version is not a number below 2^64",
        ))?;
        Ok(Self {
            username: username.to_owned(),
            session_id: session_id.to_owned(),
            session_version,
            nettype: NetType::from(nettype),
            addrtype: AddrType::from(addrtype),
            address: address.to_owned(),
        })
    }
}

impl fmt::Display for Origin {
    /// Prints the value of an `o=` line (without the `o=`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address
        )
    }
}
