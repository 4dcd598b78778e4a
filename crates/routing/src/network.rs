//! IP networks written as CIDR (`10.1.0.0/16`) or a bare address.

use std::net::IpAddr;

use ipnet::IpNet;

/// A list of networks, any of which may hold an address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Networks(Vec<IpNet>);

impl Networks {
    /// Parses each entry; the error names the first bad one.
    pub(crate) fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|entry| {
                parse_net(entry).ok_or_else(|| {
                    format!("{entry:?} is not a network (like 10.1.0.0/16 or 2001:db8::/32)")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether any network holds `addr` (an IPv4-mapped IPv6 address
    /// counts as its IPv4 one).
    pub(crate) fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The networks as (address, prefix length) pairs.
    pub(crate) fn pairs(&self) -> Vec<(IpAddr, u8)> {
        self.0
            .iter()
            .map(|net| (net.network(), net.prefix_len()))
            .collect()
    }
}

fn parse_net(entry: &str) -> Option<IpNet> {
    if entry.contains('/') {
        entry.parse::<IpNet>().ok()
    } else {
        entry.parse::<IpAddr>().ok().map(IpNet::from)
    }
}
