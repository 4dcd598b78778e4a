//! NAPTR (RFC 3403) and SRV (RFC 2782) records, and the order RFC 3263
//! tries them in.

use rand_core::RngCore;

use crate::Transport;

/// A NAPTR record (RFC 3403), as far as SIP uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// Lower first.
    pub order: u16,
    /// Lower first, within one order.
    pub preference: u16,
    /// `s` for SIP (the replacement is an SRV name).
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, ...
    pub services: String,
    /// The SRV name to look up.
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower first.
    pub priority: u16,
    /// Relative weight among records of one priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The host; `.` means the service is not offered.
    pub target: String,
}

fn service_transport(service: &str) -> Option<Transport> {
    const SERVICES: [(&str, Transport); 5] = [
        ("SIP+D2U", Transport::Udp),
        ("SIP+D2T", Transport::Tcp),
        ("SIPS+D2T", Transport::Tls),
        ("SIP+D2W", Transport::Ws),
        ("SIPS+D2W", Transport::Wss),
    ];
    SERVICES
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(service))
        .map(|(_, t)| *t)
}

/// The SRV names to look up from NAPTR records (RFC 3263 §4.1): SIP
/// services with flag `s`, for transports we support (TLS ones only for
/// `sips:`), by order then preference.
pub fn naptr_targets(
    records: &[NaptrRecord],
    secure: bool,
    supported: &[Transport],
) -> Vec<(Transport, String)> {
    let mut usable: Vec<&NaptrRecord> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter(|r| !r.replacement.is_empty() && r.replacement != ".")
        .filter(|r| {
            service_transport(&r.services)
                .is_some_and(|t| supported.contains(&t) && (!secure || t.is_secure()))
        })
        .collect();
    usable.sort_by_key(|r| (r.order, r.preference));
    usable
        .into_iter()
        .filter_map(|r| service_transport(&r.services).map(|t| (t, r.replacement.clone())))
        .collect()
}

/// The SRV name of a transport for `host`.
pub(super) fn srv_name(transport: Transport, host: &str) -> String {
    let prefix = match transport {
        Transport::Udp => "_sip._udp",
        Transport::Tcp => "_sip._tcp",
        Transport::Tls => "_sips._tcp",
        Transport::Ws => "_sip._ws",
        Transport::Wss => "_sips._ws",
    };
    let dot = if host.ends_with('.') { "" } else { "." };
    format!("{prefix}.{host}{dot}")
}

/// The SRV names to try without NAPTR (RFC 3263 §4.1): `_sips._tcp` for
/// `sips:`, else `_sip._udp` and `_sip._tcp`, in the order of `supported`.
pub fn srv_names(host: &str, secure: bool, supported: &[Transport]) -> Vec<(Transport, String)> {
    supported
        .iter()
        .filter(|t| {
            if secure {
                **t == Transport::Tls
            } else {
                matches!(t, Transport::Udp | Transport::Tcp)
            }
        })
        .map(|t| (*t, srv_name(*t, host)))
        .collect()
}

/// Orders SRV records (RFC 2782): lower priority first; within a priority,
/// repeatedly picks by weight at random (zero weights rarely first).
/// Records with target `.` are dropped.
pub fn order_srv(records: &[SrvRecord], rng: &mut dyn RngCore) -> Vec<SrvRecord> {
    let mut records: Vec<SrvRecord> = records
        .iter()
        .filter(|r| !r.target.is_empty() && r.target != ".")
        .cloned()
        .collect();
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let same = rest
            .iter()
            .take_while(|r| r.priority == first.priority)
            .count();
        let (group, tail) = rest.split_at(same);
        // Zero weights first, as RFC 2782 says, then draw.
        let mut pool: Vec<SrvRecord> = group.iter().filter(|r| r.weight == 0).cloned().collect();
        pool.extend(group.iter().filter(|r| r.weight != 0).cloned());
        while !pool.is_empty() {
            let total: u64 = pool.iter().map(|r| u64::from(r.weight)).sum();
            let pick = rng.next_u64() % (total + 1);
            let mut running = 0u64;
            let mut chosen = pool.len() - 1;
            for (i, r) in pool.iter().enumerate() {
                running += u64::from(r.weight);
                if running >= pick {
                    chosen = i;
                    break;
                }
            }
            out.push(pool.remove(chosen));
        }
        rest = tail;
    }
    out
}
