//! Several nodes on one database (issue 14): what the store's change feed
//! hands the service ([`ClusterChange`]), and what the service knows of
//! the other nodes ([`ClusterView`]: which are alive, where each is
//! reached, which node holds the flow of each binding learnt from them).
//!
//! The feed itself (LISTEN/NOTIFY or polling, the heartbeat) is the
//! store's; the service applies what it reads with
//! [`Service::apply_cluster`](crate::Service::apply_cluster), on the
//! driver, like any other input.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;

use crate::bodies::DialogEntry;
use crate::registrar::{Aor, Binding, BindingKey};
use crate::storage::PublicationRecord;

/// A binding as the store has it, with the node that wrote it last: the
/// node holding the device's flow (`None`: written by a node that did not
/// name itself, such as the admin API's removals or a single node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomedBinding {
    /// The binding.
    pub binding: Binding,
    /// Its home node's name.
    pub home: Option<String>,
}

/// One node of the cluster as the `nodes` table has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Its name (`[cluster] node`).
    pub name: String,
    /// The SIP URI the other nodes reach it at (`[cluster] advertise`).
    pub sip_uri: String,
    /// Its admin API, if it has one.
    pub admin_url: Option<String>,
    /// When it started, Unix milliseconds.
    pub started_ms: u64,
    /// Its latest heartbeat, Unix milliseconds (the database's clock).
    pub heartbeat_ms: u64,
    /// Whether it beat within three heartbeat intervals.
    pub alive: bool,
}

/// What another node changed, read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterChange {
    /// The bindings `aor` now has (none: every one removed).
    Bindings {
        /// The AOR.
        aor: Aor,
        /// Every binding it has in the store.
        bindings: Vec<HomedBinding>,
    },
    /// The publications a presentity now has.
    Publications {
        /// The presentity (`sip:user@domain`, as publications name it).
        aor: String,
        /// Every publication it has in the store.
        publications: Vec<PublicationRecord>,
    },
    /// The nodes and their liveness, at each heartbeat.
    Nodes(Vec<NodeState>),
    /// The calls of a user another node routes, as that user's dialogs
    /// (RFC 4235, direction relative to the user): every one that node
    /// has for it (none: its calls ended). A terminated dialog is told to
    /// the watchers once, then forgotten.
    Calls {
        /// The user.
        aor: Aor,
        /// Its dialogs on that node.
        calls: Vec<DialogEntry>,
    },
}

/// Whether `name` may name a node: letters, digits, `.`, `-`, `_` and
/// `:`, 1 to 63 bytes (it goes into the database connection's options).
#[must_use]
pub fn is_valid_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
}

/// What the service knows of the cluster.
#[derive(Debug, Default)]
pub(crate) struct ClusterView {
    /// This node's name, when it runs in a cluster.
    this: Option<String>,
    nodes: Vec<NodeState>,
    /// The advertised addresses of the live nodes (requests from them are
    /// a peer's, trusted), by node name.
    peers: HashMap<String, SocketAddr>,
    /// Home nodes of the bindings learnt from other nodes.
    homes: HashMap<Aor, HashMap<BindingKey, String>>,
    /// Calls a peer node sent here for a flow held here, by Call-ID: the
    /// peer keeps their call and dialog records (both nodes writing one
    /// record, keyed by Call-ID and tag, would overwrite each other).
    relayed: HashSet<String>,
    /// The dialogs of calls other nodes route, by user (busy-lamp fields
    /// here show them too).
    remote_dialogs: HashMap<Aor, Vec<DialogEntry>>,
    /// The ids of the terminated dialogs other nodes still list, by user:
    /// told to the watchers once.
    remote_ended: HashMap<Aor, HashSet<String>>,
}

/// Most relayed calls remembered (a bound whatever peers send).
const MAX_RELAYED: usize = 100_000;

/// Where a binding homed elsewhere is reached from this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HomeRoute {
    /// Directly (this node's binding, or a device reached at its address).
    Direct,
    /// Through its live home node: this Route first (the node's
    /// advertised URI), sent to the node's address when it is numeric.
    Through {
        /// `<sip:IP:PORT;lr>`.
        route: String,
        /// Where the node is reached.
        addr: Option<SocketAddr>,
    },
    /// Its flow died with its home node.
    Dead,
}

impl ClusterView {
    pub(crate) fn set_this(&mut self, name: Option<String>) {
        self.this = name;
    }

    pub(crate) fn this(&self) -> Option<&str> {
        self.this.as_deref()
    }

    pub(crate) fn nodes(&self) -> &[NodeState] {
        &self.nodes
    }

    /// A new node list: the peers' addresses follow it.
    pub(crate) fn set_nodes(&mut self, nodes: Vec<NodeState>) {
        self.peers = nodes
            .iter()
            .filter(|n| n.alive && Some(n.name.as_str()) != self.this.as_deref())
            .filter_map(|n| Some((n.name.clone(), advertised_addr(&n.sip_uri)?)))
            .collect();
        self.nodes = nodes;
    }

    /// Records the home nodes of `aor`'s bindings (this node's own are not
    /// kept: they are reached directly).
    pub(crate) fn set_homes(&mut self, aor: &Aor, bindings: &[HomedBinding]) {
        let homes: HashMap<BindingKey, String> = bindings
            .iter()
            .filter_map(|b| {
                let home = b.home.as_ref()?;
                (Some(home.as_str()) != self.this.as_deref())
                    .then(|| (b.binding.key.clone(), home.clone()))
            })
            .collect();
        if homes.is_empty() {
            self.homes.remove(aor);
        } else {
            self.homes.insert(aor.clone(), homes);
        }
    }

    /// A binding written here (a REGISTER this node took) is homed here.
    pub(crate) fn forget_home(&mut self, aor: &Aor, key: &BindingKey) {
        if let Some(homes) = self.homes.get_mut(aor) {
            homes.remove(key);
            if homes.is_empty() {
                self.homes.remove(aor);
            }
        }
    }

    /// A peer node sent the call `call_id` here.
    pub(crate) fn relaying(&mut self, call_id: &str) {
        if self.relayed.len() >= MAX_RELAYED {
            self.relayed.clear();
        }
        self.relayed.insert(call_id.to_owned());
    }

    /// Whether a peer node sent the call `call_id` here (its records are
    /// the peer's).
    pub(crate) fn is_relayed(&self, call_id: &str) -> bool {
        self.relayed.contains(call_id)
    }

    /// The call `call_id` ended.
    pub(crate) fn call_ended(&mut self, call_id: &str) {
        self.relayed.remove(call_id);
    }

    /// The dialogs of `aor` other nodes route, as the store has them now:
    /// whether those in progress changed, and the terminated ones not told
    /// before (kept nowhere: told once).
    pub(crate) fn set_remote_dialogs(
        &mut self,
        aor: &Aor,
        dialogs: Vec<DialogEntry>,
    ) -> (bool, Vec<DialogEntry>) {
        let (ended, live): (Vec<DialogEntry>, Vec<DialogEntry>) =
            dialogs.into_iter().partition(|d| d.state.is_terminated());
        let told = self.remote_ended.remove(aor).unwrap_or_default();
        let ended_ids: HashSet<String> = ended.iter().map(|d| d.id.clone()).collect();
        let new_ended = ended
            .into_iter()
            .filter(|d| !told.contains(&d.id))
            .collect();
        if !ended_ids.is_empty() {
            self.remote_ended.insert(aor.clone(), ended_ids);
        }
        let changed = self.remote_dialogs(aor) != live.as_slice();
        if live.is_empty() {
            self.remote_dialogs.remove(aor);
        } else {
            self.remote_dialogs.insert(aor.clone(), live);
        }
        (changed, new_ended)
    }

    /// The dialogs of `aor` other nodes route (none when alone).
    pub(crate) fn remote_dialogs(&self, aor: &Aor) -> &[DialogEntry] {
        self.remote_dialogs.get(aor).map_or(&[], Vec::as_slice)
    }

    /// Whether `from` is a live peer node's advertised address.
    pub(crate) fn is_peer(&self, from: SocketAddr) -> bool {
        self.peers.values().any(|addr| *addr == from)
    }

    /// Whether this node holds `binding`'s flow (no other node wrote it
    /// last).
    pub(crate) fn homed_here(&self, binding: &Binding) -> bool {
        self.homes
            .get(&binding.aor)
            .is_none_or(|homes| !homes.contains_key(&binding.key))
    }

    /// Whether this node removes `binding` from the store when it
    /// expires: yes unless another live node is its home.
    pub(crate) fn removes_expired(&self, binding: &Binding) -> bool {
        let home = self
            .homes
            .get(&binding.aor)
            .and_then(|homes| homes.get(&binding.key));
        match home {
            Some(home) => !self.nodes.iter().any(|n| &n.name == home && n.alive),
            None => true,
        }
    }

    /// How `binding` is reached from this node; `through_flow`: the
    /// device is reached through where its REGISTER came from (a
    /// connection, NAT), not at its contact.
    pub(crate) fn route_of(&self, binding: &Binding, through_flow: bool) -> HomeRoute {
        let Some(home) = self
            .homes
            .get(&binding.aor)
            .and_then(|homes| homes.get(&binding.key))
        else {
            return HomeRoute::Direct;
        };
        // A connection is the home node's whatever the contact says (the
        // store does not keep flows).
        let connection = binding.source.transport.is_reliable();
        if !through_flow && !connection {
            return HomeRoute::Direct;
        }
        match self.nodes.iter().find(|n| &n.name == home) {
            Some(n) if n.alive => HomeRoute::Through {
                route: format!("<{};lr>", n.sip_uri),
                addr: advertised_addr(&n.sip_uri),
            },
            // A UDP device behind NAT may still answer at its address; a
            // connection held by a dead node is gone.
            _ if !connection => HomeRoute::Direct,
            _ => HomeRoute::Dead,
        }
    }
}

/// The address of a `sip:host:port` URI with a numeric host.
fn advertised_addr(uri: &str) -> Option<SocketAddr> {
    let parsed = switchboard_proto::Uri::parse(uri).ok()?;
    let sip = parsed.as_sip()?;
    let ip = crate::util::host_ip(sip.host.as_str())?;
    Some(SocketAddr::new(ip, sip.port.unwrap_or(5060)))
}
