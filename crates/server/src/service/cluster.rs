//! What other nodes sharing the database changed, applied here
//! ([`Service::apply_cluster`]): a user's bindings replaced in the
//! location index (not written back: the store has them) with their
//! watchers told as for a local REGISTER, a presentity's publications
//! replaced with its watchers notified, a user's calls routed by another
//! node shown to its busy-lamp watchers, and the node list (liveness, where
//! each is reached) for home-node routing and the status.

use switchboard_core::Now;

use crate::bodies::{DialogEntry, RegEvent};
use crate::cluster::{ClusterChange, HomedBinding, NodeState};
use crate::events::PRESENCE;
use crate::proxy::TransactionLayer;
use crate::registrar::{Aor, Binding, BindingKey};
use crate::storage::{PublicationRecord, StateChange};

use super::Service;

impl Service {
    /// Names this node in the cluster (`None`: alone). Bindings read from
    /// the store homed on this name are its own.
    pub fn set_cluster_node(&mut self, name: Option<String>) {
        self.cluster.set_this(name);
    }

    /// The cluster's nodes as of the latest heartbeat (empty when alone).
    pub fn cluster_nodes(&self) -> &[NodeState] {
        self.cluster.nodes()
    }

    /// This node's name in the cluster, if it runs in one.
    pub fn cluster_node(&self) -> Option<&str> {
        self.cluster.this()
    }

    /// A change another node made, read back from the store.
    pub fn apply_cluster(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        change: ClusterChange,
    ) {
        self.clock = now;
        match change {
            ClusterChange::Bindings { aor, bindings } => {
                self.cluster_bindings(now, ep, &aor, bindings);
            }
            ClusterChange::Publications { aor, publications } => {
                self.cluster_publications(now, ep, &aor, publications);
            }
            ClusterChange::Nodes(nodes) => self.cluster.set_nodes(nodes),
            ClusterChange::Calls { aor, calls } => self.cluster_calls(now, ep, &aor, calls),
        }
        self.drain_proxy(ep);
    }

    fn cluster_bindings(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        aor: &Aor,
        bindings: Vec<HomedBinding>,
    ) {
        self.cluster.set_homes(aor, &bindings);
        let after = self.merged_with_local(aor, bindings);
        let before = self.registrar.replace(aor, after.clone());
        let events = reg_events(now.unix(), &before, &after);
        if events.is_empty() {
            return;
        }
        let registered = events.iter().any(|(_, e)| *e == RegEvent::Registered);
        if !self.events.subscriptions().is_empty() {
            self.bindings_changed(now, ep, aor, &events);
        }
        if registered {
            // Messages this node kept while the user had no device.
            self.messages_registered(now, ep, aor);
        }
    }

    /// `bindings` as the store has them, with what only this node knows:
    /// the flows of its own bindings (the store keeps none: a reload after
    /// a reconnect) and the contacts of a REGISTER taken here that is
    /// still being stored (as this node has them: the store will, at the
    /// commit).
    fn merged_with_local(&mut self, aor: &Aor, bindings: Vec<HomedBinding>) -> Vec<Binding> {
        let this = self.cluster.this().map(str::to_owned);
        let held: Vec<Binding> = self
            .registrar
            .lookup(aor, 0)
            .into_iter()
            .filter(|b| b.source.flow.is_some())
            .cloned()
            .collect();
        let pending: Vec<BindingKey> = self
            .registering
            .values()
            .filter(|(_, p)| p.aor() == aor)
            .flat_map(|(_, p)| p.contact_changes().map(|(key, _, _)| key.clone()))
            .collect();
        for key in &pending {
            self.cluster.forget_home(aor, key);
        }
        let in_memory: Vec<Binding> = self
            .registrar
            .lookup(aor, 0)
            .into_iter()
            .filter(|b| pending.contains(&b.key))
            .cloned()
            .collect();
        bindings
            .into_iter()
            .filter(|homed| !pending.contains(&homed.binding.key))
            .map(|homed| {
                let mut binding = homed.binding;
                let ours = this.is_some() && homed.home == this;
                let same = held.iter().find(|old| {
                    old.key == binding.key
                        && old.source.remote == binding.source.remote
                        && old.source.transport == binding.source.transport
                });
                if let (true, Some(old)) = (ours, same) {
                    binding.source.flow = old.source.flow;
                }
                binding
            })
            .chain(in_memory)
            .collect()
    }

    /// In a cluster, the dialogs of `aor`'s calls routed here go to the
    /// store (in the records' batch) for the other nodes' busy-lamp
    /// watchers.
    pub(super) fn share_call_states(&mut self, aor: &Aor) {
        if self.cluster.this().is_none() {
            return;
        }
        for dialog in self.calls.dialogs_of(aor) {
            self.queue_record(StateChange::PutCallState {
                aor: aor.clone(),
                dialog: Box::new(dialog),
            });
        }
    }

    /// Another node's calls of `aor`: its entries here replaced; the
    /// dialogs that ended are told to the watchers once and not kept.
    fn cluster_calls(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        aor: &Aor,
        calls: Vec<DialogEntry>,
    ) {
        let (changed, ended) = self.cluster.set_remote_dialogs(aor, calls);
        if changed || !ended.is_empty() {
            self.dialogs_changed(now, ep, aor, ended);
        }
    }

    fn cluster_publications(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        aor: &str,
        publications: Vec<PublicationRecord>,
    ) {
        let old: Vec<String> = self
            .events
            .publications
            .iter()
            .filter(|p| p.aor == aor)
            .map(|p| p.etag.clone())
            .collect();
        let unchanged = old.len() == publications.len()
            && publications
                .iter()
                .all(|p| self.events.publications.get(&p.etag) == Some(p));
        if unchanged {
            return;
        }
        for etag in &old {
            self.events.publications.remove(etag);
        }
        for publication in publications {
            self.events.publications.put(publication);
        }
        self.notify_resource(now, ep, PRESENCE, aor);
    }
}

/// What changed from `before` to `after` (one AOR's bindings) as reg
/// events: a new contact `registered`, a changed one `refreshed`, a gone
/// one `unregistered` (`expired` when its time ran out).
fn reg_events(unix_now: u64, before: &[Binding], after: &[Binding]) -> Vec<(Binding, RegEvent)> {
    let mut events = Vec::new();
    for b in after.iter().filter(|b| !b.is_expired(unix_now)) {
        match before.iter().find(|old| old.key == b.key) {
            Some(old) if old == b => {}
            Some(old) if !old.is_expired(unix_now) => events.push((b.clone(), RegEvent::Refreshed)),
            _ => events.push((b.clone(), RegEvent::Registered)),
        }
    }
    for old in before {
        if !after.iter().any(|b| b.key == old.key) {
            let event = if old.is_expired(unix_now) {
                RegEvent::Expired
            } else {
                RegEvent::Unregistered
            };
            events.push((old.clone(), event));
        }
    }
    events
}
