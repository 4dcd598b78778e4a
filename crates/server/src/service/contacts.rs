//! Where the devices the server has seen are reached: a registered
//! contact goes back down the flow it registered from, a caller's contact
//! back to where its request came from. In-dialog requests and ACKs for
//! those contacts use it, so that a device behind NAT, on a TCP/TLS
//! connection or on a WebSocket (whose `*.invalid` contact no DNS knows)
//! gets them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use switchboard_core::{Destination, Source};
use switchboard_proto::Uri;

use crate::proxy::NextHop;

/// How long an entry lives without being learnt again or used.
const IDLE: Duration = Duration::from_secs(6 * 3600);
/// Most entries kept (a bound on memory whatever peers send).
const MAX_ENTRIES: usize = 200_000;
/// Least time between two purges forced by a full table: a purge is a pass
/// over every entry, which a flood of new contacts must not buy per request.
const PURGE_GAP: Duration = Duration::from_secs(60);

/// The hop of a request that came from `source`: back down its connection,
/// or to its address and port (NAT).
pub(crate) fn hop_of(source: &Source) -> NextHop {
    NextHop {
        destination: match source.flow {
            Some(flow) => Destination::Flow(flow),
            None => Destination::Address {
                transport: source.transport,
                remote: source.remote,
            },
        },
        transport: source.transport,
    }
}

/// Whether a device whose `contact` came from `source` must be reached
/// through `source` rather than at its contact: a connection (TCP, TLS,
/// WebSocket: the device may accept no connection of its own), a contact
/// no DNS knows (`*.invalid`), or a contact address other than the one the
/// packets came from (NAT). A contact on the source's own address but
/// another port is another socket of the same host, reached directly.
pub(crate) fn via_source(contact: &str, source: &Source) -> bool {
    if source.flow.is_some() {
        return true;
    }
    let Ok(uri) = Uri::parse(contact) else {
        return true;
    };
    let Some(sip) = uri.as_sip() else {
        return true;
    };
    let host = sip.host.as_str();
    match crate::util::host_ip(host) {
        Some(ip) => ip != source.remote.ip(),
        None => host.to_ascii_lowercase().ends_with(".invalid"),
    }
}

/// Contacts and their next hops.
#[derive(Debug)]
pub(crate) struct Contacts {
    map: HashMap<String, (NextHop, Instant)>,
    limit: usize,
    /// When a full table was last purged.
    purged_full_at: Option<Instant>,
}

impl Default for Contacts {
    fn default() -> Self {
        Self::with_limit(MAX_ENTRIES)
    }
}

/// The key of a contact URI: `user@host:port` (host in lower case), or
/// the host alone for a `*.invalid` host (a WebSocket client's, random per
/// client, whatever user part it puts in front).
fn key(uri: &str) -> Option<String> {
    let uri = Uri::parse(uri).ok()?;
    let sip = uri.as_sip()?;
    let host = sip.host.as_str().to_ascii_lowercase();
    if host.ends_with(".invalid") {
        return Some(host);
    }
    Some(format!(
        "{}@{host}:{}",
        sip.user.unwrap_or_default(),
        sip.port.unwrap_or(0)
    ))
}

impl Contacts {
    fn with_limit(limit: usize) -> Self {
        Self {
            map: HashMap::new(),
            limit,
            purged_full_at: None,
        }
    }

    /// Remembers that `uri` is reached through `hop`.
    pub(crate) fn learn(&mut self, now: Instant, uri: &str, hop: NextHop) {
        let Some(key) = key(uri) else {
            return;
        };
        if self.map.len() >= self.limit && !self.map.contains_key(&key) {
            let recent = self
                .purged_full_at
                .is_some_and(|at| now.saturating_duration_since(at) < PURGE_GAP);
            if !recent {
                self.purge(now);
                self.purged_full_at = Some(now);
            }
            if self.map.len() >= self.limit {
                tracing::debug!("contact table full: not learning another contact");
                return;
            }
        }
        self.map.insert(key, (hop, now));
    }

    /// The next hop of `uri`, if known.
    pub(crate) fn find(&mut self, now: Instant, uri: &str) -> Option<NextHop> {
        let entry = self.map.get_mut(&key(uri)?)?;
        entry.1 = now;
        Some(entry.0)
    }

    /// Forgets entries idle for long.
    pub(crate) fn purge(&mut self, now: Instant) {
        self.map
            .retain(|_, (_, seen)| now.saturating_duration_since(*seen) < IDLE);
    }

    /// How many are known.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use switchboard_core::{FlowId, Transport};

    fn source(remote: &str, flow: Option<u64>) -> Source {
        Source {
            transport: if flow.is_some() {
                Transport::Tcp
            } else {
                Transport::Udp
            },
            remote: remote.parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            flow: flow.map(FlowId),
        }
    }

    #[test]
    fn devices_reached_through_their_source() {
        let udp = source("203.0.113.9:40000", None);
        // Behind NAT: the contact names a private address.
        assert!(via_source("sip:alice@192.168.1.5:5060", &udp));
        // A WebSocket client's contact no DNS knows.
        assert!(via_source("sip:x@df7jal23ls0d.invalid;transport=ws", &udp));
        // The contact is the source's own address: reached at the contact,
        // even on another port (another socket of the same host).
        assert!(!via_source("sip:alice@203.0.113.9:5070", &udp));
        assert!(!via_source("sip:alice@203.0.113.9", &udp));
        // A connection is always reused.
        let tcp = source("203.0.113.9:40000", Some(4));
        assert!(via_source("sip:alice@203.0.113.9:5070;transport=tcp", &tcp));
        assert_eq!(hop_of(&tcp).destination, Destination::Flow(FlowId(4)));
        assert_eq!(
            hop_of(&udp).destination,
            Destination::Address {
                transport: Transport::Udp,
                remote: "203.0.113.9:40000".parse().unwrap()
            }
        );
        assert!(via_source("not a uri", &udp));
    }

    #[test]
    fn contacts_by_user_host_port_and_invalid_host() {
        let now = Instant::now();
        let mut c = Contacts::default();
        let hop = NextHop::address(Transport::Udp, "192.0.2.7:4000".parse().unwrap());
        c.learn(now, "sip:alice@10.0.0.5:5060;transport=udp", hop);
        assert_eq!(c.find(now, "sip:alice@10.0.0.5:5060"), Some(hop));
        assert_eq!(c.find(now, "sip:bob@10.0.0.5:5060"), None);
        assert_eq!(c.find(now, "sip:alice@10.0.0.5"), None);
        let ws = NextHop {
            destination: Destination::Flow(FlowId(3)),
            transport: Transport::Ws,
        };
        c.learn(now, "sip:k3j4@AbC123.invalid;transport=ws", ws);
        assert_eq!(
            c.find(now, "sip:other@abc123.invalid;transport=ws"),
            Some(ws)
        );
        assert_eq!(c.len(), 2);
        c.purge(now + IDLE);
        assert_eq!(c.len(), 0);
        assert_eq!(c.find(now, "not a uri"), None);
    }

    #[test]
    fn a_full_table_is_purged_once_a_minute_not_per_new_contact() {
        let start = Instant::now();
        let mut c = Contacts::with_limit(2);
        let hop = NextHop::address(Transport::Udp, "192.0.2.7:4000".parse().unwrap());
        c.learn(start, "sip:a@10.0.0.1", hop);
        c.learn(start + IDLE / 2, "sip:b@10.0.0.2", hop);
        // Full, nothing idle: refused, and the table was purged now.
        let at = start + IDLE - Duration::from_secs(30);
        c.learn(at, "sip:c@10.0.0.3", hop);
        assert_eq!(c.find(at, "sip:c@10.0.0.3"), None);
        // a is idle soon after, but a purge waits for the gap: still full.
        let later = start + IDLE + Duration::from_secs(1);
        assert!(later < at + PURGE_GAP);
        c.learn(later, "sip:d@10.0.0.4", hop);
        assert_eq!(c.find(later, "sip:d@10.0.0.4"), None);
        // After the gap the idle entry goes and the new contact is learnt.
        let after = at + PURGE_GAP;
        c.learn(after, "sip:e@10.0.0.5", hop);
        assert_eq!(c.find(after, "sip:e@10.0.0.5"), Some(hop));
        assert_eq!(c.find(after, "sip:a@10.0.0.1"), None);
    }
}
