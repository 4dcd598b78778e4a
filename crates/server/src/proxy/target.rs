//! Targets: where a request may be forwarded (RFC 3261 §16.5), as the
//! application found them (location service, dial plan, RFC 3263).

use std::time::Duration;

use switchboard_core::{Destination, Transport};
use switchboard_proto::HeaderName;
use switchboard_routing::Credentials;

use crate::registrar::Binding;

/// Where to send a branch when the application already knows it: a
/// connection, or an address with its transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// Where to send.
    pub destination: Destination,
    /// The transport it goes over (for Record-Route and Via).
    pub transport: Transport,
}

impl NextHop {
    /// An address over a transport.
    pub fn address(transport: Transport, remote: std::net::SocketAddr) -> Self {
        Self {
            destination: Destination::Address { transport, remote },
            transport,
        }
    }
}

/// One target: the URI the forwarded request carries as Request-URI, its
/// q-value, and optionally where to send it and the route to pre-load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The new Request-URI.
    pub uri: String,
    /// Preference in thousandths (`q=0.5` is 500); `None` counts as 1000.
    pub q: Option<u16>,
    /// Where to send the branch. `None`: the proxy works it out from the
    /// first pre-loaded route, the request's Route or the URI, and asks the
    /// application to resolve host names ([`crate::proxy::ProxyEvent::Resolve`]).
    pub next_hop: Option<NextHop>,
    /// Route values to pre-load (the binding's Path, RFC 3327), top first.
    pub path: Vec<String>,
    /// How long the target may stay without a provisional answer before
    /// its branch is given up as failed (a trunk's `failover_after`); a
    /// 1xx arriving later is CANCELled.
    pub provisional_timeout: Option<Duration>,
    /// The digest credentials that answer one 401/407 of this branch
    /// (a trunk's account); the caller never sees that challenge.
    pub credentials: Option<Credentials>,
    /// The forwarded request gets a Call-ID of its own (a carrier
    /// attempt); the proxy translates it back for the caller.
    pub fresh_call_id: bool,
    /// How the attempt ended is reported ([`ProxyEvent::Attempt`]), for
    /// a gateway's health.
    ///
    /// [`ProxyEvent::Attempt`]: super::ProxyEvent::Attempt
    pub reports: bool,
    /// Header fields the branch's request carries instead of the
    /// caller's (a trunk's P-Asserted-Identity).
    pub headers: Vec<(HeaderName, String)>,
    /// The user part the From URI gets on this branch (a trunk's
    /// presentation number).
    pub from_user: Option<String>,
}

impl Target {
    /// A target with no q-value, next hop or path.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            q: None,
            next_hop: None,
            path: Vec::new(),
            provisional_timeout: None,
            credentials: None,
            fresh_call_id: false,
            reports: false,
            headers: Vec::new(),
            from_user: None,
        }
    }

    /// Reports how the attempt ended ([`ProxyEvent::Attempt`]).
    ///
    /// [`ProxyEvent::Attempt`]: super::ProxyEvent::Attempt
    #[must_use]
    pub fn with_report(mut self) -> Self {
        self.reports = true;
        self
    }

    /// With `name: value` on the branch's request, instead of the
    /// caller's fields of that name.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// With the From URI's user part replaced on this branch.
    #[must_use]
    pub fn with_from_user(mut self, user: impl Into<String>) -> Self {
        self.from_user = Some(user.into());
        self
    }

    /// With a q-value in thousandths.
    #[must_use]
    pub fn with_q(mut self, q: u16) -> Self {
        self.q = Some(q);
        self
    }

    /// With a known next hop.
    #[must_use]
    pub fn with_next_hop(mut self, hop: NextHop) -> Self {
        self.next_hop = Some(hop);
        self
    }

    /// With a route to pre-load.
    #[must_use]
    pub fn with_path(mut self, path: Vec<String>) -> Self {
        self.path = path;
        self
    }

    /// Given up when no provisional answer came within `after`.
    #[must_use]
    pub fn with_provisional_timeout(mut self, after: Duration) -> Self {
        self.provisional_timeout = Some(after);
        self
    }

    /// With credentials to answer a 401/407 once.
    #[must_use]
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// With a Call-ID of its own on the forwarded request.
    #[must_use]
    pub fn with_fresh_call_id(mut self, fresh: bool) -> Self {
        self.fresh_call_id = fresh;
        self
    }

    /// A registered contact: its URI, q and Path, sent back where the
    /// REGISTER came from (down its connection, or to its source address
    /// and port, so that a device behind NAT gets it).
    pub fn from_binding(binding: &Binding) -> Self {
        let source = binding.source;
        let destination = match source.flow {
            Some(flow) => Destination::Flow(flow),
            None => Destination::Address {
                transport: source.transport,
                remote: source.remote,
            },
        };
        Self {
            q: binding.q,
            next_hop: Some(NextHop {
                destination,
                transport: source.transport,
            }),
            path: binding.path.clone(),
            ..Self::new(binding.contact.clone())
        }
    }

    pub(crate) fn q_value(&self) -> u16 {
        self.q.unwrap_or(1000)
    }
}

/// When the group after this one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Advance {
    /// When every branch of this group ended without a 2xx or 6xx (or
    /// the group's timeout passed): forking as RFC 3261 §16.7 has it.
    #[default]
    AfterFailure,
    /// Only when the target failed as a gateway does (408, 5xx, a
    /// transport error, or no provisional answer within its
    /// [`Target::provisional_timeout`]); any other final answer (404,
    /// 486, 6xx) ends the forwarding with that answer. For trunks.
    OnGatewayFailure,
}

/// How one group of targets is rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupPolicy {
    /// How long the group rings before its pending branches are
    /// cancelled (as a no-answer); on the last group too (a ring
    /// timeout). `None`: until the branches end (Timer C).
    pub timeout: Option<Duration>,
    /// When the next group starts.
    pub advance: Advance,
}

/// Targets rung together (in parallel) under one policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetGroup {
    pub(crate) targets: Vec<Target>,
    pub(crate) policy: GroupPolicy,
}

/// The targets of one request: loose targets, forked by q (the highest
/// first, all of equal q in parallel, lower ones in turn, each group but
/// the last for [`ProxyConfig::group_timeout`]), then the explicit groups
/// in the order pushed, each with its own [`GroupPolicy`].
///
/// [`ProxyConfig::group_timeout`]: super::ProxyConfig::group_timeout
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSet {
    targets: Vec<Target>,
    groups: Vec<TargetGroup>,
    hold_final: bool,
}

impl TargetSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// One target.
    pub fn single(target: Target) -> Self {
        Self {
            targets: vec![target],
            ..Self::default()
        }
    }

    /// The registered contacts of a user, as [`Registrar::lookup`] gives
    /// them.
    ///
    /// [`Registrar::lookup`]: crate::Registrar::lookup
    pub fn from_bindings<'a>(bindings: impl IntoIterator<Item = &'a Binding>) -> Self {
        Self {
            targets: bindings.into_iter().map(Target::from_binding).collect(),
            ..Self::default()
        }
    }

    /// Adds a loose target (grouped by q).
    pub fn push(&mut self, target: Target) {
        self.targets.push(target);
    }

    /// Adds a group of targets rung in parallel under `policy`, after the
    /// loose targets and the groups pushed before. An empty group is
    /// ignored.
    pub fn push_group(&mut self, targets: Vec<Target>, policy: GroupPolicy) {
        if !targets.is_empty() {
            self.groups.push(TargetGroup { targets, policy });
        }
    }

    /// With `hold`, a request whose targets are all exhausted without a
    /// 2xx is not answered: the proxy reports
    /// [`ProxyEvent::Exhausted`](super::ProxyEvent::Exhausted) and waits for
    /// [`Proxy::forward_more`](super::Proxy::forward_more) or
    /// [`Proxy::release`](super::Proxy::release) (fallthrough).
    #[must_use]
    pub fn hold_final(mut self, hold: bool) -> Self {
        self.hold_final = hold;
        self
    }

    /// Whether the final answer is held (see [`TargetSet::hold_final`]).
    pub fn holds_final(&self) -> bool {
        self.hold_final
    }

    /// No targets.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.groups.is_empty()
    }

    /// How many targets, in all groups.
    pub fn len(&self) -> usize {
        self.targets.len() + self.groups.iter().map(|g| g.targets.len()).sum::<usize>()
    }

    /// The targets, loose ones first, then the groups'.
    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.targets
            .iter()
            .chain(self.groups.iter().flat_map(|g| g.targets.iter()))
    }

    /// The groups in the order they ring: the loose targets split by q,
    /// highest first (order kept within a q), each with `q_timeout` when
    /// another group follows, then the explicit groups.
    pub(crate) fn into_groups(self, q_timeout: Duration) -> Vec<TargetGroup> {
        let mut targets = self.targets;
        targets.sort_by_key(|t| std::cmp::Reverse(t.q_value()));
        let mut by_q: Vec<Vec<Target>> = Vec::new();
        for t in targets {
            match by_q.last_mut() {
                Some(g) if g.first().is_some_and(|f| f.q_value() == t.q_value()) => g.push(t),
                _ => by_q.push(vec![t]),
            }
        }
        let explicit = !self.groups.is_empty();
        let count = by_q.len();
        let mut groups: Vec<TargetGroup> = by_q
            .into_iter()
            .enumerate()
            .map(|(i, targets)| {
                let more = explicit || i + 1 < count;
                TargetGroup {
                    targets,
                    policy: GroupPolicy {
                        timeout: more.then_some(q_timeout),
                        advance: Advance::AfterFailure,
                    },
                }
            })
            .collect();
        groups.extend(self.groups);
        groups
    }
}

impl FromIterator<Target> for TargetSet {
    fn from_iter<I: IntoIterator<Item = Target>>(iter: I) -> Self {
        Self {
            targets: iter.into_iter().collect(),
            ..Self::default()
        }
    }
}
