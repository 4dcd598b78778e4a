//! `c=` connection data, and the network and address types it shares with
//! `o=`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::{LineError, parse_decimal};

/// Network type of an `o=` or `c=` line; `IN` (Internet) in practice.
///
/// Parsing is case-insensitive; printing uses the canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum NetType {
    /// `IN`, the Internet.
    #[default]
    In,
    /// Any other network type, kept verbatim (one word, no whitespace, not
    /// `IN`).
    Other(String),
}

impl NetType {
    /// The textual form, as printed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::In => "IN",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for NetType {
    fn from(text: &str) -> Self {
        if text.eq_ignore_ascii_case("IN") {
            Self::In
        } else {
            Self::Other(text.to_owned())
        }
    }
}

impl fmt::Display for NetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Address type of an `o=` or `c=` line.
///
/// Parsing is case-insensitive; printing uses the canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
    /// Any other address type, kept verbatim (one word, no whitespace, not
    /// `IP4` or `IP6`).
    Other(String),
}

impl AddrType {
    /// The textual form, as printed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ip4 => "IP4",
            Self::Ip6 => "IP6",
            Self::Other(other) => other,
        }
    }

    /// The address type matching an IP address.
    #[must_use]
    pub const fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self::Ip4,
            IpAddr::V6(_) => Self::Ip6,
        }
    }
}

impl From<&str> for AddrType {
    fn from(text: &str) -> Self {
        if text.eq_ignore_ascii_case("IP4") {
            Self::Ip4
        } else if text.eq_ignore_ascii_case("IP6") {
            Self::Ip6
        } else {
            Self::Other(text.to_owned())
        }
    }
}

impl fmt::Display for AddrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Connection data: the value of a `c=` line,
/// `<nettype> <addrtype> <connection-address>`.
///
/// The address is kept as text (it may be a domain name); IPv6 addresses
/// come without brackets. The multicast suffixes are split off: for `IP4`,
/// `224.2.1.1/127/3` gives a TTL of 127 and 3 addresses; for `IP6`,
/// `ff15::101/3` gives 3 addresses (IPv6 has no TTL here). For any other
/// address type the address is kept whole, slashes included.
///
/// The printer writes `ttl` only for `IP4` and `num_addresses` after the
/// TTL for `IP4`, so an `IP4` connection should not have `num_addresses`
/// without `ttl`, and an `IP6` one should have no `ttl`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Connection {
    /// Network type, `IN` in practice.
    pub nettype: NetType,
    /// Address type.
    pub addrtype: AddrType,
    /// Unicast or multicast address, or domain name, without the multicast
    /// suffixes (one word, no whitespace).
    pub address: String,
    /// Multicast TTL (`IP4` only).
    pub ttl: Option<u8>,
    /// Number of consecutive multicast addresses.
    pub num_addresses: Option<u32>,
}

impl Connection {
    /// Connection data for a single IP address (`IN IP4 ...` or
    /// `IN IP6 ...`).
    #[must_use]
    pub fn new(ip: IpAddr) -> Self {
        Self {
            nettype: NetType::In,
            addrtype: AddrType::of(ip),
            address: ip.to_string(),
            ttl: None,
            num_addresses: None,
        }
    }

    /// The address as an IP address, if it is one (and not a domain name).
    #[must_use]
    pub fn ip_addr(&self) -> Option<IpAddr> {
        self.address.parse().ok()
    }

    /// Whether the address is `0.0.0.0` or `::`, the RFC 2543 way of
    /// putting a stream on hold (RFC 3264 §8.4).
    #[must_use]
    pub fn is_unspecified(&self) -> bool {
        self.ip_addr().is_some_and(|ip| ip.is_unspecified())
    }

    /// Points this connection at a single IP address, fixing the address
    /// type and dropping any multicast suffixes.
    pub fn set_ip_addr(&mut self, ip: IpAddr) {
        *self = Self {
            nettype: self.nettype.clone(),
            ..Self::new(ip)
        };
    }
}

impl From<IpAddr> for Connection {
    fn from(ip: IpAddr) -> Self {
        Self::new(ip)
    }
}

impl FromStr for Connection {
    type Err = LineError;

    /// Parses the value of a `c=` line (without the `c=`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut words = text.split_ascii_whitespace();
        let (Some(nettype), Some(addrtype), Some(address), None) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            return Err(LineError::Connection(
                "expected <nettype> <addrtype> <address>",
            ));
        };
        let addrtype = AddrType::from(addrtype);
        let (address, ttl, num_addresses) = match addrtype {
            AddrType::Ip4 => split_ip4(address)?,
            AddrType::Ip6 => split_ip6(address)?,
            AddrType::Other(_) => (address, None, None),
        };
        if address.is_empty() {
            return Err(LineError::Connection("empty address"));
        }
        Ok(Self {
            nettype: NetType::from(nettype),
            addrtype,
            address: address.to_owned(),
            ttl,
            num_addresses,
        })
    }
}

/// Splits `addr[/ttl[/count]]`.
fn split_ip4(text: &str) -> Result<(&str, Option<u8>, Option<u32>), LineError> {
    let mut parts = text.split('/');
    let address = parts.next().unwrap_or_default();
    let ttl = parts
        .next()
        .map(|ttl| parse_decimal(ttl).ok_or(LineError::Connection("bad multicast TTL")))
        .transpose()?;
    let count = parts.next().map(parse_count).transpose()?;
    if parts.next().is_some() {
        return Err(LineError::Connection("too many '/' in address"));
    }
    Ok((address, ttl, count))
}

/// Splits `addr[/count]`.
fn split_ip6(text: &str) -> Result<(&str, Option<u8>, Option<u32>), LineError> {
    match text.split_once('/') {
        None => Ok((text, None, None)),
        Some((_, count)) if count.contains('/') => {
            Err(LineError::Connection("too many '/' in address"))
        }
        Some((address, count)) => Ok((address, None, Some(parse_count(count)?))),
    }
}

fn parse_count(text: &str) -> Result<u32, LineError> {
    parse_decimal(text).ok_or(LineError::Connection("bad multicast address count"))
}

impl fmt::Display for Connection {
    /// Prints the value of a `c=` line (without the `c=`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.nettype, self.addrtype, self.address)?;
        match self.addrtype {
            AddrType::Ip4 => {
                if let Some(ttl) = self.ttl {
                    write!(f, "/{ttl}")?;
                }
            }
            AddrType::Ip6 => {}
            // Other address types keep their suffixes inside `address`.
            AddrType::Other(_) => return Ok(()),
        }
        if let Some(count) = self.num_addresses {
            write!(f, "/{count}")?;
        }
        Ok(())
    }
}
