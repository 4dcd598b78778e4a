//! One run of RFC 3263 as a state machine: it asks for DNS records one
//! query at a time and builds the ordered target list from the answers.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use rand_core::RngCore;
use switchboard_proto::SipUri;

use super::plan::fallback_transport;
use super::records::srv_name;
use super::{
    NaptrRecord, Plan, ResolveError, SrvRecord, Target, default_port, naptr_targets, order_srv,
    plan, srv_names,
};
use crate::Transport;

/// A DNS query the resolution needs answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// NAPTR records of the name.
    Naptr(String),
    /// SRV records of the name.
    Srv(String),
    /// A and AAAA records of the name.
    Ip(String),
}

/// The records that answer a [`Query`] (of the same kind). An empty answer
/// (no such name, no records) is an empty list; a failed lookup (time-out,
/// server error) is given to [`Resolution::handle_answer`] as `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// NAPTR records.
    Naptr(Vec<NaptrRecord>),
    /// SRV records.
    Srv(Vec<SrvRecord>),
    /// A and AAAA records.
    Ip(Vec<IpAddr>),
}

/// What is left to do, front first.
#[derive(Debug)]
enum Step {
    /// NAPTR of the host, then SRV names from it (or the defaults).
    Naptr { secure: bool },
    /// One SRV name, then the addresses of its targets.
    Srv { transport: Transport, name: String },
    /// The addresses of `host`. `required`: a failed lookup fails the
    /// resolution (the URI's own host); otherwise it is skipped (one SRV
    /// target of several).
    Addresses {
        host: String,
        transport: Transport,
        port: u16,
        required: bool,
    },
    /// A/AAAA of the host with the default port, when nothing was found.
    Fallback { transport: Transport },
}

/// RFC 3263 for one URI, sans-IO: poll the next [`Query`], look it up, give
/// the answer back; when [`Resolution::poll_query`] says `None`,
/// [`Resolution::finish`] gives the targets in the order to try them.
///
/// ```
/// use rand::SeedableRng;
/// use switchboard_core::Transport;
/// use switchboard_core::resolve::{Answer, Query, Resolution};
/// use switchboard_proto::Uri;
///
/// let uri = Uri::parse("sip:example.com:5070").unwrap();
/// let rng = rand::rngs::StdRng::seed_from_u64(1);
/// let mut resolution = Resolution::new(uri.as_sip().unwrap(), &[Transport::Udp], rng).unwrap();
/// assert_eq!(resolution.poll_query(), Some(Query::Ip("example.com".into())));
/// resolution.handle_answer(Ok(Answer::Ip(vec!["192.0.2.7".parse().unwrap()])));
/// assert_eq!(resolution.poll_query(), None);
/// let targets = resolution.finish().unwrap();
/// assert_eq!(targets[0].addr, "192.0.2.7:5070".parse().unwrap());
/// ```
#[derive(Debug)]
pub struct Resolution<R> {
    host: String,
    supported: Vec<Transport>,
    /// Orders SRV records of equal priority (RFC 2782 weights).
    rng: R,
    steps: VecDeque<Step>,
    targets: Vec<Target>,
    failed: Option<ResolveError>,
}

impl<R: RngCore> Resolution<R> {
    /// Starts resolving `uri`; `supported` lists our transports in order of
    /// preference. Fails at once when the URI itself is unusable.
    pub fn new(uri: &SipUri<'_>, supported: &[Transport], rng: R) -> Result<Self, ResolveError> {
        let mut steps = VecDeque::new();
        let mut targets = Vec::new();
        let host = match plan(uri)? {
            Plan::Direct(target) => {
                let host = target.host.clone();
                targets.push(target);
                host
            }
            Plan::Address {
                host,
                transport,
                port,
            } => {
                steps.push_back(Step::Addresses {
                    host: host.clone(),
                    transport,
                    port,
                    required: true,
                });
                host
            }
            Plan::Srv { host, transport } => {
                steps.push_back(Step::Srv {
                    transport,
                    name: srv_name(transport, &host),
                });
                steps.push_back(Step::Fallback { transport });
                host
            }
            Plan::Naptr { host, secure } => {
                steps.push_back(Step::Naptr { secure });
                steps.push_back(Step::Fallback {
                    transport: fallback_transport(secure),
                });
                host
            }
        };
        Ok(Self {
            host,
            supported: supported.to_vec(),
            rng,
            steps,
            targets,
            failed: None,
        })
    }

    /// The query to make now; `None` when the resolution is complete.
    pub fn poll_query(&self) -> Option<Query> {
        Some(match self.steps.front()? {
            Step::Naptr { .. } => Query::Naptr(self.host.clone()),
            Step::Srv { name, .. } => Query::Srv(name.clone()),
            Step::Addresses { host, .. } => Query::Ip(host.clone()),
            Step::Fallback { .. } => Query::Ip(self.host.clone()),
        })
    }

    /// The answer to the last [`Resolution::poll_query`]. An answer of
    /// another kind than the query counts as an empty one.
    pub fn handle_answer(&mut self, answer: Result<Answer, ResolveError>) {
        let Some(step) = self.steps.pop_front() else {
            return;
        };
        match step {
            Step::Naptr { secure } => {
                let naptr = match answer {
                    Ok(Answer::Naptr(records)) => naptr_targets(&records, secure, &self.supported),
                    Ok(_) => Vec::new(),
                    Err(error) => {
                        tracing::debug!(host = %self.host, %error, "NAPTR lookup failed");
                        Vec::new()
                    }
                };
                let names = if naptr.is_empty() {
                    srv_names(&self.host, secure, &self.supported)
                } else {
                    naptr
                };
                for (transport, name) in names.into_iter().rev() {
                    self.steps.push_front(Step::Srv { transport, name });
                }
            }
            Step::Srv { transport, name } => {
                let records = match answer {
                    Ok(Answer::Srv(records)) => records,
                    Ok(_) => Vec::new(),
                    Err(error) => {
                        tracing::debug!(%name, %error, "SRV lookup failed");
                        Vec::new()
                    }
                };
                let ordered = order_srv(&records, &mut self.rng);
                for record in ordered.into_iter().rev() {
                    self.steps.push_front(Step::Addresses {
                        host: record.target,
                        transport,
                        port: record.port,
                        required: false,
                    });
                }
            }
            Step::Addresses {
                host,
                transport,
                port,
                required,
            } => self.on_addresses(answer, &host, transport, port, required),
            Step::Fallback { transport } => {
                let host = self.host.clone();
                self.on_addresses(answer, &host, transport, default_port(transport), true);
            }
        }
        self.skip_needless_fallback();
    }

    fn on_addresses(
        &mut self,
        answer: Result<Answer, ResolveError>,
        host: &str,
        transport: Transport,
        port: u16,
        required: bool,
    ) {
        match answer {
            Ok(Answer::Ip(ips)) => {
                for ip in ips {
                    let target = Target {
                        transport,
                        addr: SocketAddr::new(ip, port),
                        host: host.trim_end_matches('.').to_owned(),
                    };
                    if !self.targets.contains(&target) {
                        self.targets.push(target);
                    }
                }
            }
            Ok(_) => {}
            Err(error) if required => {
                self.failed = Some(error);
                self.steps.clear();
            }
            Err(error) => tracing::debug!(%host, %error, "address lookup failed"),
        }
    }

    /// The A/AAAA fallback is only for when SRV gave nothing.
    fn skip_needless_fallback(&mut self) {
        if matches!(self.steps.front(), Some(Step::Fallback { .. })) && !self.targets.is_empty() {
            self.steps.pop_front();
        }
    }

    /// The targets, in the order to try them (once [`Resolution::poll_query`]
    /// says `None`; before, those found so far).
    pub fn finish(self) -> Result<Vec<Target>, ResolveError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.targets.is_empty() {
            return Err(ResolveError::NotFound(self.host));
        }
        Ok(self.targets)
    }
}
