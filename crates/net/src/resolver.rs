//! RFC 3263 server location over DNS: the lookups only. What to look up
//! and how to order the answers is decided by the sans-IO
//! [`switchboard_core::resolve::Resolution`] (re-exported here with the
//! other planning types); [`resolve_with`] runs it over any [`DnsLookup`],
//! and [`Resolver`] does so with hickory-resolver.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Mutex;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_core::RngCore;
use switchboard_core::Transport;
pub use switchboard_core::resolve::{
    Answer, NaptrRecord, Plan, Query, Resolution, ResolveError, SrvRecord, Target, default_port,
    naptr_targets, next_hop, order_srv, plan, srv_names,
};
use switchboard_proto::{SipUri, Uri};

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

/// Runs RFC 3263 for `uri` over `dns`: the ordered targets to try, for
/// fail-over. `supported` lists our transports in order of preference.
pub async fn resolve_with<L: DnsLookup>(
    dns: &L,
    uri: &SipUri<'_>,
    supported: &[Transport],
    rng: &mut StdRng,
) -> Result<Vec<Target>, ResolveError> {
    let mut resolution = Resolution::new(uri, supported, rng)?;
    while let Some(query) = resolution.poll_query() {
        let answer = match &query {
            Query::Naptr(name) => dns.naptr(name).await.map(Answer::Naptr),
            Query::Srv(name) => dns.srv(name).await.map(Answer::Srv),
            Query::Ip(name) => dns.ip(name).await.map(Answer::Ip),
        };
        resolution.handle_answer(answer);
    }
    resolution.finish()
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
    use std::net::SocketAddr;

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
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
