//! Targets: where a request may be forwarded (RFC 3261 §16.5), as the
//! application found them (location service, dial plan, RFC 3263).

use switchboard_core::{Destination, Transport};

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
}

impl Target {
    /// A target with no q-value, next hop or path.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            q: None,
            next_hop: None,
            path: Vec::new(),
        }
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
            uri: binding.contact.clone(),
            q: binding.q,
            next_hop: Some(NextHop {
                destination,
                transport: source.transport,
            }),
            path: binding.path.clone(),
        }
    }

    pub(crate) fn q_value(&self) -> u16 {
        self.q.unwrap_or(1000)
    }
}

/// The targets of one request, in any order: the proxy forks to the highest
/// q first (all of equal q in parallel), then to lower ones in turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetSet {
    targets: Vec<Target>,
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
        }
    }

    /// The registered contacts of a user, as [`Registrar::lookup`] gives
    /// them.
    ///
    /// [`Registrar::lookup`]: crate::Registrar::lookup
    pub fn from_bindings<'a>(bindings: impl IntoIterator<Item = &'a Binding>) -> Self {
        Self {
            targets: bindings.into_iter().map(Target::from_binding).collect(),
        }
    }

    /// Adds a target.
    pub fn push(&mut self, target: Target) {
        self.targets.push(target);
    }

    /// No targets.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// The targets.
    pub fn iter(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter()
    }

    /// Splits into groups of equal q, highest first, keeping the order
    /// within a group.
    pub(crate) fn into_groups(self) -> Vec<Vec<Target>> {
        let mut targets = self.targets;
        targets.sort_by_key(|t| std::cmp::Reverse(t.q_value()));
        let mut groups: Vec<Vec<Target>> = Vec::new();
        for t in targets {
            match groups.last_mut() {
                Some(g) if g.first().is_some_and(|f| f.q_value() == t.q_value()) => g.push(t),
                _ => groups.push(vec![t]),
            }
        }
        groups
    }
}

impl FromIterator<Target> for TargetSet {
    fn from_iter<I: IntoIterator<Item = Target>>(iter: I) -> Self {
        Self {
            targets: iter.into_iter().collect(),
        }
    }
}
