//! RFC 3263 server location: from a SIP URI to an ordered list of
//! (transport, address) targets to try in turn.
//!
//! The decisions are pure functions over records ([`plan`],
//! [`naptr_targets`], [`srv_names`], [`order_srv`]) so they are tested
//! with fixed records; [`resolve_with`] runs them over any [`DnsLookup`], and
//! [`Resolver`] does so with hickory-resolver.
//!
//! - Numeric host: that address, the port given or the transport's default.
//! - `transport=` is respected (with `sips:` TCP means TLS, WS means WSS).
//! - A domain with a port: A/AAAA only.
//! - A domain with a transport but no port: SRV for that transport, else
//!   A/AAAA with the default port.
//! - A domain with neither: NAPTR (services `SIP+D2U`, `SIP+D2T`,
//!   `SIPS+D2T`, `SIP+D2W`, `SIPS+D2W`) by order and preference; without
//!   NAPTR, SRV `_sip._udp`, `_sip._tcp` (or `_sips._tcp` for `sips:`); SRV
//!   records by priority, then weighted random (RFC 2782); without SRV,
//!   A/AAAA with port 5060 (5061 for TLS).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_core::RngCore;
use switchboard_core::{Destination, Transport};
use switchboard_proto::header::NameAddr;
use switchboard_proto::uri::HostKind;
use switchboard_proto::{HeaderName, Request, SipUri, Uri};

/// One place to send a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// The address and port.
    pub addr: SocketAddr,
    /// The host name it came from (the URI's host or an SRV target), for
    /// TLS name checks and logs; the address text for numeric hosts.
    pub host: String,
}

impl Target {
    /// Where [`crate::Handle::send_request`] sends it.
    pub fn destination(&self) -> Destination {
        Destination::Address {
            transport: self.transport,
            remote: self.addr,
        }
    }
}

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

/// Why a URI could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The URI is not a `sip:` or `sips:` URI.
    #[error("not a SIP URI")]
    NotSip,
    /// The `transport=` parameter names a transport we do not have (or UDP
    /// with `sips:`).
    #[error("unsupported transport {0:?}")]
    UnsupportedTransport(String),
    /// No address was found for the host.
    #[error("no address found for {0}")]
    NotFound(String),
    /// The DNS lookup failed.
    #[error("lookup of {name} failed: {source}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The DNS queries the algorithm needs. An empty answer (no such name, no
/// records) is `Ok(vec![])`; `Err` is a failure (time-out, server error).
pub trait DnsLookup {
    /// NAPTR records of `name`.
    fn naptr(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<NaptrRecord>, ResolveError>> + Send;
    /// SRV records of `name`.
    fn srv(&self, name: &str) -> impl Future<Output = Result<Vec<SrvRecord>, ResolveError>> + Send;
    /// A and AAAA records of `name`.
    fn ip(&self, name: &str) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send;
}

/// What the URI alone decides (RFC 3263 §4.1, §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A numeric host: the one target.
    Direct(Target),
    /// A/AAAA of `host`, with this transport and port.
    Address {
        /// The domain.
        host: String,
        /// The transport.
        transport: Transport,
        /// The port.
        port: u16,
    },
    /// SRV for this transport, else A/AAAA with its default port.
    Srv {
        /// The domain.
        host: String,
        /// The transport.
        transport: Transport,
    },
    /// NAPTR, else SRV per transport, else A/AAAA.
    Naptr {
        /// The domain.
        host: String,
        /// `sips:`: only TLS transports.
        secure: bool,
    },
}

/// The default port of a transport: 5060, 5061 for TLS, 80/443 for WS/WSS.
pub fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Udp | Transport::Tcp => 5060,
        Transport::Tls => 5061,
        Transport::Ws => 80,
        Transport::Wss => 443,
    }
}

/// The transport of a `transport=` value, upgraded for `sips:`.
fn transport_param(value: &str, secure: bool) -> Result<Transport, ResolveError> {
    let unsupported = || ResolveError::UnsupportedTransport(value.to_owned());
    let t = Transport::from_token(value).ok_or_else(unsupported)?;
    Ok(match (t, secure) {
        (Transport::Udp, true) => return Err(unsupported()),
        (Transport::Tcp, true) => Transport::Tls,
        (Transport::Ws, true) => Transport::Wss,
        (t, _) => t,
    })
}

/// Decides from the URI alone what to look up (`maddr` replaces the host).
pub fn plan(uri: &SipUri<'_>) -> Result<Plan, ResolveError> {
    let secure = uri.secure;
    let transport = uri
        .transport()
        .map(|t| transport_param(t, secure))
        .transpose()?;
    let fallback = if secure {
        Transport::Tls
    } else {
        Transport::Udp
    };
    let (host, ip) = match uri.params.value("maddr") {
        Some(maddr) => {
            let bare = maddr.trim_start_matches('[').trim_end_matches(']');
            (bare.to_owned(), bare.parse::<IpAddr>().ok())
        }
        None => {
            let ip = match uri.host.kind() {
                HostKind::Domain => None,
                _ => uri.host.ip(),
            };
            (uri.host.address().to_owned(), ip)
        }
    };
    if let Some(ip) = ip {
        let transport = transport.unwrap_or(fallback);
        let port = uri.port.unwrap_or_else(|| default_port(transport));
        return Ok(Plan::Direct(Target {
            transport,
            addr: SocketAddr::new(ip, port),
            host,
        }));
    }
    Ok(match (transport, uri.port) {
        (t, Some(port)) => Plan::Address {
            host,
            transport: t.unwrap_or(fallback),
            port,
        },
        (Some(transport), None) => Plan::Srv { host, transport },
        (None, None) => Plan::Naptr { host, secure },
    })
}

/// The URI that RFC 3263 is applied to for sending `request` (RFC 3261
/// §8.1.2): the first Route value when it is a loose router (`;lr`), else
/// the Request-URI (no Route, or a strict router, whose URI the UAC has
/// put in the Request-URI already, §12.2.1.1).
pub fn next_hop(request: &Request) -> Result<&str, ResolveError> {
    if let Some(route) = request.headers().values(HeaderName::Route).next() {
        let route = NameAddr::parse_value(route).map_err(|_| ResolveError::NotSip)?;
        return match route.uri {
            Uri::Sip(uri) if uri.is_loose_router() => Ok(uri.as_str()),
            Uri::Sip(_) => Ok(request.uri_str()),
            _ => Err(ResolveError::NotSip),
        };
    }
    Ok(request.uri_str())
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
fn srv_name(transport: Transport, host: &str) -> String {
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

fn push_unique(out: &mut Vec<Target>, target: Target) {
    if !out.contains(&target) {
        out.push(target);
    }
}

async fn addresses<L: DnsLookup>(
    dns: &L,
    host: &str,
    transport: Transport,
    port: u16,
    out: &mut Vec<Target>,
) -> Result<(), ResolveError> {
    for ip in dns.ip(host).await? {
        push_unique(
            out,
            Target {
                transport,
                addr: SocketAddr::new(ip, port),
                host: host.trim_end_matches('.').to_owned(),
            },
        );
    }
    Ok(())
}

/// Looks up SRV `name` and the addresses of its targets, in RFC 2782 order.
async fn srv_targets<L: DnsLookup>(
    dns: &L,
    transport: Transport,
    name: &str,
    rng: &mut StdRng,
    out: &mut Vec<Target>,
) {
    let records = match dns.srv(name).await {
        Ok(r) => r,
        Err(error) => {
            tracing::debug!(%name, %error, "SRV lookup failed");
            return;
        }
    };
    for record in order_srv(&records, rng) {
        if let Err(error) = addresses(dns, &record.target, transport, record.port, out).await {
            tracing::debug!(target = %record.target, %error, "address lookup failed");
        }
    }
}

/// Runs RFC 3263 for `uri` over `dns`: the ordered targets to try, for
/// fail-over. `supported` lists our transports in order of preference.
pub async fn resolve_with<L: DnsLookup>(
    dns: &L,
    uri: &SipUri<'_>,
    supported: &[Transport],
    rng: &mut StdRng,
) -> Result<Vec<Target>, ResolveError> {
    let mut out = Vec::new();
    let (host, fallback) = match plan(uri)? {
        Plan::Direct(target) => return Ok(vec![target]),
        Plan::Address {
            host,
            transport,
            port,
        } => {
            addresses(dns, &host, transport, port, &mut out).await?;
            return found(out, &host);
        }
        Plan::Srv { host, transport } => {
            srv_targets(dns, transport, &srv_name(transport, &host), rng, &mut out).await;
            (host, transport)
        }
        Plan::Naptr { host, secure } => {
            let naptr = match dns.naptr(&host).await {
                Ok(records) => naptr_targets(&records, secure, supported),
                Err(error) => {
                    tracing::debug!(%host, %error, "NAPTR lookup failed");
                    Vec::new()
                }
            };
            let names = if naptr.is_empty() {
                srv_names(&host, secure, supported)
            } else {
                naptr
            };
            for (transport, name) in names {
                srv_targets(dns, transport, &name, rng, &mut out).await;
            }
            let fallback = if secure {
                Transport::Tls
            } else {
                Transport::Udp
            };
            (host, fallback)
        }
    };
    if out.is_empty() {
        addresses(dns, &host, fallback, default_port(fallback), &mut out).await?;
    }
    found(out, &host)
}

fn found(out: Vec<Target>, host: &str) -> Result<Vec<Target>, ResolveError> {
    if out.is_empty() {
        Err(ResolveError::NotFound(host.to_owned()))
    } else {
        Ok(out)
    }
}

/// [`DnsLookup`] over hickory-resolver.
#[derive(Debug, Clone)]
pub struct HickoryLookup {
    resolver: TokioResolver,
}

impl HickoryLookup {
    /// Wraps a hickory resolver.
    pub fn new(resolver: TokioResolver) -> Self {
        Self { resolver }
    }
}

fn lookup_error(name: &str, error: hickory_resolver::ResolveError) -> Result<(), ResolveError> {
    if error.is_no_records_found() || error.is_nx_domain() {
        Ok(())
    } else {
        Err(ResolveError::Lookup {
            name: name.to_owned(),
            source: Box::new(error),
        })
    }
}

impl DnsLookup for HickoryLookup {
    fn naptr(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<NaptrRecord>, ResolveError>> + Send {
        let name = name.to_owned();
        async move {
            let lookup = match self.resolver.lookup(name.as_str(), RecordType::NAPTR).await {
                Ok(l) => l,
                Err(e) => return lookup_error(&name, e).map(|()| Vec::new()),
            };
            Ok(lookup
                .iter()
                .filter_map(|r| match r {
                    RData::NAPTR(n) => Some(NaptrRecord {
                        order: n.order(),
                        preference: n.preference(),
                        flags: String::from_utf8_lossy(n.flags()).into_owned(),
                        services: String::from_utf8_lossy(n.services()).into_owned(),
                        replacement: n.replacement().to_ascii(),
                    }),
                    _ => None,
                })
                .collect())
        }
    }

    fn srv(&self, name: &str) -> impl Future<Output = Result<Vec<SrvRecord>, ResolveError>> + Send {
        let name = name.to_owned();
        async move {
            let lookup = match self.resolver.srv_lookup(name.as_str()).await {
                Ok(l) => l,
                Err(e) => return lookup_error(&name, e).map(|()| Vec::new()),
            };
            Ok(lookup
                .iter()
                .map(|s| SrvRecord {
                    priority: s.priority(),
                    weight: s.weight(),
                    port: s.port(),
                    target: s.target().to_ascii(),
                })
                .collect())
        }
    }

    fn ip(&self, name: &str) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send {
        let name = name.to_owned();
        async move {
            match self.resolver.lookup_ip(name.as_str()).await {
                Ok(l) => Ok(l.iter().collect()),
                Err(e) => lookup_error(&name, e).map(|()| Vec::new()),
            }
        }
    }
}

/// An RFC 3263 resolver: the algorithm of [`resolve_with`] over a
/// [`DnsLookup`] (hickory-resolver by default, fixed records in tests), with
/// its own seeded RNG for SRV weights. [`crate::Handle::send_request_resolved`]
/// walks the targets it returns.
#[derive(Debug)]
pub struct Resolver<L = HickoryLookup> {
    dns: L,
    supported: Vec<Transport>,
    rng: Mutex<StdRng>,
}

impl Resolver {
    /// Uses the system's DNS configuration (`/etc/resolv.conf`).
    pub fn from_system_conf() -> Result<Self, ResolveError> {
        let builder = TokioResolver::builder_tokio().map_err(|e| ResolveError::Lookup {
            name: "/etc/resolv.conf".to_owned(),
            source: Box::new(e),
        })?;
        Ok(Self::from_hickory(builder.build()))
    }

    /// Uses no name server at all: numeric hosts, `localhost` and the hosts
    /// file only. For tests and isolated set-ups.
    pub fn offline() -> Self {
        let builder = TokioResolver::builder_with_config(
            ResolverConfig::new(),
            TokioConnectionProvider::default(),
        )
        .with_options(ResolverOpts::default());
        Self::from_hickory(builder.build())
    }

    /// Wraps a configured hickory resolver.
    pub fn from_hickory(resolver: TokioResolver) -> Self {
        Self::with_lookup(HickoryLookup::new(resolver))
    }
}

impl<L: DnsLookup> Resolver<L> {
    /// Resolves over `dns`: any [`DnsLookup`], such as fixed records in a
    /// test or a cache in front of hickory.
    pub fn with_lookup(dns: L) -> Self {
        Self {
            dns,
            supported: vec![Transport::Udp, Transport::Tcp, Transport::Tls],
            rng: Mutex::new(StdRng::from_os_rng()),
        }
    }

    /// Seeds the RNG that orders SRV records of equal priority.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = Mutex::new(StdRng::seed_from_u64(seed));
        self
    }

    /// The transports to consider, in order of preference (default UDP,
    /// TCP, TLS).
    pub fn with_transports(mut self, supported: Vec<Transport>) -> Self {
        self.supported = supported;
        self
    }

    /// The DNS lookups used.
    pub fn lookup(&self) -> &L {
        &self.dns
    }

    /// The targets for `uri`, in the order to try them.
    pub async fn resolve(&self, uri: &SipUri<'_>) -> Result<Vec<Target>, ResolveError> {
        // A per-call RNG drawn from the shared one: no lock across awaits.
        let seed = match self.rng.lock() {
            Ok(mut rng) => rng.next_u64(),
            Err(poisoned) => poisoned.into_inner().next_u64(),
        };
        let mut rng = StdRng::seed_from_u64(seed);
        resolve_with(&self.dns, uri, &self.supported, &mut rng).await
    }

    /// Parses `uri` and resolves it.
    pub async fn resolve_str(&self, uri: &str) -> Result<Vec<Target>, ResolveError> {
        match Uri::parse(uri) {
            Ok(Uri::Sip(sip)) => self.resolve(&sip).await,
            _ => Err(ResolveError::NotSip),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)] // tests: panics are failures
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            _ => panic!("not sip"),
        }
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.to_owned(),
        }
    }

    fn naptr(order: u16, preference: u16, services: &str, replacement: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference,
            flags: "s".to_owned(),
            services: services.to_owned(),
            replacement: replacement.to_owned(),
        }
    }

    #[test]
    fn numeric_hosts_are_direct() {
        let p = plan(&sip("sip:192.0.2.1")).unwrap();
        assert_eq!(
            p,
            Plan::Direct(Target {
                transport: Transport::Udp,
                addr: addr("192.0.2.1:5060"),
                host: "192.0.2.1".into()
            })
        );
        let Plan::Direct(t) = plan(&sip("sips:192.0.2.1")).unwrap() else {
            panic!()
        };
        assert_eq!(
            (t.transport, t.addr),
            (Transport::Tls, addr("192.0.2.1:5061"))
        );
        let Plan::Direct(t) = plan(&sip("sip:alice@[2001:db8::1]:5070;transport=tcp")).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (t.transport, t.addr),
            (Transport::Tcp, addr("[2001:db8::1]:5070"))
        );
        let Plan::Direct(t) = plan(&sip("sips:192.0.2.1;transport=tcp")).unwrap() else {
            panic!()
        };
        assert_eq!(t.transport, Transport::Tls);
        let Plan::Direct(t) = plan(&sip("sip:192.0.2.1;transport=ws")).unwrap() else {
            panic!()
        };
        assert_eq!((t.transport, t.addr.port()), (Transport::Ws, 80));
        let Plan::Direct(t) = plan(&sip("sip:example.com;maddr=192.0.2.9")).unwrap() else {
            panic!()
        };
        assert_eq!(t.addr, addr("192.0.2.9:5060"));
    }

    #[test]
    fn domains_plan_lookups() {
        assert_eq!(
            plan(&sip("sip:example.com:5070")).unwrap(),
            Plan::Address {
                host: "example.com".into(),
                transport: Transport::Udp,
                port: 5070
            }
        );
        assert_eq!(
            plan(&sip("sip:example.com;transport=TCP")).unwrap(),
            Plan::Srv {
                host: "example.com".into(),
                transport: Transport::Tcp
            }
        );
        assert_eq!(
            plan(&sip("sips:example.com")).unwrap(),
            Plan::Naptr {
                host: "example.com".into(),
                secure: true
            }
        );
        assert!(matches!(
            plan(&sip("sip:example.com;transport=sctp")),
            Err(ResolveError::UnsupportedTransport(_))
        ));
        assert!(matches!(
            plan(&sip("sips:example.com;transport=udp")),
            Err(ResolveError::UnsupportedTransport(_))
        ));
    }

    #[test]
    fn naptr_order_and_filtering() {
        let records = vec![
            naptr(50, 50, "SIP+D2U", "_sip._udp.example.com."),
            naptr(10, 60, "SIP+D2T", "_sip._tcp.example.com."),
            naptr(10, 50, "SIPS+D2T", "_sips._tcp.example.com."),
            naptr(5, 10, "SIP+D2S", "_sip._sctp.example.com."), // unsupported
            naptr(1, 1, "E2U+sip", "!^.*$!sip:x@y!"),           // not SIP
            NaptrRecord {
                flags: "a".into(),
                ..naptr(1, 1, "SIP+D2U", "x.example.com.")
            },
        ];
        let all = [Transport::Udp, Transport::Tcp, Transport::Tls];
        assert_eq!(
            naptr_targets(&records, false, &all),
            vec![
                (Transport::Tls, "_sips._tcp.example.com.".to_owned()),
                (Transport::Tcp, "_sip._tcp.example.com.".to_owned()),
                (Transport::Udp, "_sip._udp.example.com.".to_owned()),
            ]
        );
        assert_eq!(
            naptr_targets(&records, true, &all),
            vec![(Transport::Tls, "_sips._tcp.example.com.".to_owned())]
        );
        assert_eq!(
            naptr_targets(&records, false, &[Transport::Udp]),
            vec![(Transport::Udp, "_sip._udp.example.com.".to_owned())]
        );
    }

    #[test]
    fn srv_names_without_naptr() {
        let all = [Transport::Udp, Transport::Tcp, Transport::Tls];
        assert_eq!(
            srv_names("example.com", false, &all),
            vec![
                (Transport::Udp, "_sip._udp.example.com.".to_owned()),
                (Transport::Tcp, "_sip._tcp.example.com.".to_owned()),
            ]
        );
        assert_eq!(
            srv_names("example.com.", true, &all),
            vec![(Transport::Tls, "_sips._tcp.example.com.".to_owned())]
        );
    }

    #[test]
    fn srv_priority_first_then_weight() {
        let records = vec![
            srv(20, 0, 5060, "backup.example.com."),
            srv(10, 60, 5060, "a.example.com."),
            srv(10, 40, 5060, "b.example.com."),
            srv(10, 0, 5060, "."),
        ];
        let mut first = HashMap::new();
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..2000 {
            let order = order_srv(&records, &mut rng);
            assert_eq!(order.len(), 3);
            assert_eq!(order[2].target, "backup.example.com.");
            *first.entry(order[0].target.clone()).or_insert(0u32) += 1;
        }
        let a = first["a.example.com."];
        let b = first["b.example.com."];
        assert_eq!(a + b, 2000);
        // 60:40 by weight, within a wide margin.
        assert!((1050..1350).contains(&a), "a first {a} times");
    }

    #[test]
    fn srv_zero_weights_keep_order_and_are_rarely_first() {
        let only_zero = vec![srv(1, 0, 1, "x."), srv(1, 0, 2, "y.")];
        let mut rng = StdRng::seed_from_u64(1);
        let order = order_srv(&only_zero, &mut rng);
        assert_eq!(order.iter().map(|r| r.port).collect::<Vec<_>>(), vec![1, 2]);

        let mixed = vec![srv(1, 0, 1, "zero."), srv(1, 100, 2, "heavy.")];
        let zero_first = (0..1000)
            .filter(|_| order_srv(&mixed, &mut rng)[0].port == 1)
            .count();
        assert!(zero_first < 30, "zero-weight first {zero_first} times");
    }

    /// Fixed records instead of DNS.
    #[derive(Default)]
    struct Fake {
        naptr: HashMap<String, Vec<NaptrRecord>>,
        srv: HashMap<String, Vec<SrvRecord>>,
        ip: HashMap<String, Vec<IpAddr>>,
    }

    impl DnsLookup for Fake {
        fn naptr(
            &self,
            name: &str,
        ) -> impl Future<Output = Result<Vec<NaptrRecord>, ResolveError>> + Send {
            let r = self.naptr.get(name).cloned().unwrap_or_default();
            async move { Ok(r) }
        }
        fn srv(
            &self,
            name: &str,
        ) -> impl Future<Output = Result<Vec<SrvRecord>, ResolveError>> + Send {
            let r = self.srv.get(name).cloned().unwrap_or_default();
            async move { Ok(r) }
        }
        fn ip(&self, name: &str) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send {
            let r = self.ip.get(name).cloned().unwrap_or_default();
            async move { Ok(r) }
        }
    }

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn run(dns: &Fake, uri: &str) -> Result<Vec<(Transport, SocketAddr)>, ResolveError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let all = [Transport::Udp, Transport::Tcp, Transport::Tls];
        rt.block_on(resolve_with(dns, &sip(uri), &all, &mut rng))
            .map(|v| v.into_iter().map(|t| (t.transport, t.addr)).collect())
    }

    #[test]
    fn full_naptr_srv_a_chain() {
        let mut dns = Fake::default();
        dns.naptr.insert(
            "example.com".into(),
            vec![
                naptr(10, 10, "SIP+D2T", "_sip._tcp.example.com."),
                naptr(20, 10, "SIP+D2U", "_sip._udp.example.com."),
            ],
        );
        dns.srv.insert(
            "_sip._tcp.example.com.".into(),
            vec![
                srv(1, 0, 5080, "p1.example.com."),
                srv(2, 0, 5081, "p2.example.com."),
            ],
        );
        dns.srv.insert(
            "_sip._udp.example.com.".into(),
            vec![srv(1, 0, 5060, "p1.example.com.")],
        );
        dns.ip
            .insert("p1.example.com.".into(), ips(&["192.0.2.1", "2001:db8::1"]));
        dns.ip.insert("p2.example.com.".into(), ips(&["192.0.2.2"]));
        assert_eq!(
            run(&dns, "sip:alice@example.com").unwrap(),
            vec![
                (Transport::Tcp, addr("192.0.2.1:5080")),
                (Transport::Tcp, addr("[2001:db8::1]:5080")),
                (Transport::Tcp, addr("192.0.2.2:5081")),
                (Transport::Udp, addr("192.0.2.1:5060")),
                (Transport::Udp, addr("[2001:db8::1]:5060")),
            ]
        );
        // sips: no TLS NAPTR, no _sips SRV: A records with 5061.
        dns.ip.insert("example.com".into(), ips(&["192.0.2.10"]));
        assert_eq!(
            run(&dns, "sips:bob@example.com").unwrap(),
            vec![(Transport::Tls, addr("192.0.2.10:5061"))]
        );
    }

    #[test]
    fn srv_without_naptr_then_a_fallback() {
        let mut dns = Fake::default();
        dns.srv.insert(
            "_sip._tcp.example.org.".into(),
            vec![srv(0, 0, 5090, "edge.example.org.")],
        );
        dns.ip
            .insert("edge.example.org.".into(), ips(&["198.51.100.5"]));
        dns.ip.insert("example.org".into(), ips(&["198.51.100.1"]));
        assert_eq!(
            run(&dns, "sip:example.org").unwrap(),
            vec![(Transport::Tcp, addr("198.51.100.5:5090"))]
        );
        // transport given: its SRV only; none for UDP → A with 5060.
        assert_eq!(
            run(&dns, "sip:example.org;transport=udp").unwrap(),
            vec![(Transport::Udp, addr("198.51.100.1:5060"))]
        );
        // port given: A only, SRV ignored.
        assert_eq!(
            run(&dns, "sip:example.org:5099;transport=tcp").unwrap(),
            vec![(Transport::Tcp, addr("198.51.100.1:5099"))]
        );
        assert!(matches!(
            run(&dns, "sip:nowhere.invalid"),
            Err(ResolveError::NotFound(_))
        ));
    }

    fn with_routes(uri: &str, routes: &[&str]) -> Request {
        let mut b = switchboard_proto::RequestBuilder::new(switchboard_proto::Method::Options, uri)
            .from("<sip:a@example.com>", "t")
            .to("<sip:b@example.com>", None)
            .call_id("c")
            .cseq(1);
        for r in routes {
            b = b.header(HeaderName::Route, *r);
        }
        b.build().unwrap()
    }

    #[test]
    fn next_hop_is_a_loose_route_else_the_request_uri() {
        let r = with_routes("sip:bob@example.com", &[]);
        assert_eq!(next_hop(&r).unwrap(), "sip:bob@example.com");
        let r = with_routes(
            "sip:bob@example.com",
            &["<sip:p1.example.net;transport=tcp;lr>, <sip:p2.example.net;lr>"],
        );
        assert_eq!(next_hop(&r).unwrap(), "sip:p1.example.net;transport=tcp;lr");
        let r = with_routes(
            "sip:bob@example.com",
            &[
                "\"Edge\" <sips:edge.example.net;lr>;x=1",
                "<sip:p2.example.net;lr>",
            ],
        );
        assert_eq!(next_hop(&r).unwrap(), "sips:edge.example.net;lr");
        // A strict router: the UAC put it in the Request-URI already.
        let r = with_routes("sip:strict.example.net", &["<sip:bob@example.com>"]);
        assert_eq!(next_hop(&r).unwrap(), "sip:strict.example.net");
        let r = with_routes("sip:bob@example.com", &["<tel:+15551234>"]);
        assert!(matches!(next_hop(&r), Err(ResolveError::NotSip)));
    }

    #[tokio::test]
    async fn real_numeric_and_localhost() {
        let resolver = Resolver::offline().with_seed(1);
        let t = resolver
            .resolve_str("sip:127.0.0.1:5070;transport=tcp")
            .await
            .unwrap();
        assert_eq!(
            t,
            vec![Target {
                transport: Transport::Tcp,
                addr: addr("127.0.0.1:5070"),
                host: "127.0.0.1".into()
            }]
        );
        let t = resolver.resolve_str("sip:[::1]").await.unwrap();
        assert_eq!(
            (t[0].transport, t[0].addr),
            (Transport::Udp, addr("[::1]:5060"))
        );
        let t = resolver
            .resolve_str("sip:alice@localhost:5080")
            .await
            .unwrap();
        assert!(!t.is_empty());
        assert!(
            t.iter()
                .all(|t| t.addr.ip().is_loopback() && t.addr.port() == 5080),
            "{t:?}"
        );
        assert!(matches!(
            resolver.resolve_str("tel:+15551234").await,
            Err(ResolveError::NotSip)
        ));
    }
}
