//! Where the devices the server has seen are reached: a registered
//! contact goes back down the flow it registered from, a caller's contact
//! back to where its request came from. In-dialog requests and ACKs for
//! those contacts use it, so that a device behind NAT, on a TCP/TLS
//! connection or on a WebSocket (whose `*.invalid` contact no DNS knows)
//! gets them.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use switchboard_proto::Uri;
use switchboard_server::proxy::NextHop;

/// How long an entry lives without being learnt again or used.
const IDLE: Duration = Duration::from_secs(6 * 3600);
/// Most entries kept (a bound on memory whatever peers send).
const MAX_ENTRIES: usize = 200_000;

/// Contacts and their next hops.
#[derive(Debug, Default)]
pub(crate) struct Contacts {
    map: HashMap<String, (NextHop, Instant)>,
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
    /// Remembers that `uri` is reached through `hop`.
    pub(crate) fn learn(&mut self, now: Instant, uri: &str, hop: NextHop) {
        let Some(key) = key(uri) else {
            return;
        };
        if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(&key) {
            self.purge(now);
            if self.map.len() >= MAX_ENTRIES {
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
    use switchboard_core::{Destination, FlowId, Transport};

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
}
