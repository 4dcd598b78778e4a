//! The in-memory location index: AOR → bindings, with an expiry index so
//! bindings end on time without any request.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use super::aor::Aor;
use super::binding::{Binding, BindingKey};

/// A binding and the generation of the write that produced it (used to
/// undo a write only if nothing wrote over it since).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub(crate) binding: Binding,
    pub(crate) generation: u64,
}

/// AOR → bindings. Each AOR holds few bindings (bounded by the contact
/// limit), kept in a boxed slice (no spare capacity: most AORs hold one
/// binding of a few hundred bytes); the expiry index holds one entry per
/// AOR, its earliest expiry. The map's key, the expiry entry and every
/// binding of an AOR share one AOR text.
#[derive(Debug, Default)]
pub(crate) struct Location {
    aors: HashMap<Aor, Box<[Slot]>>,
    expiry: BTreeSet<(u64, Aor)>,
    total: usize,
    agents: Agents,
}

/// Most distinct User-Agent texts shared (a bound on memory whatever
/// peers send; beyond it a binding keeps its own copy).
const MAX_AGENTS: usize = 1024;

/// The distinct User-Agent texts of the bindings, each kept once.
#[derive(Debug, Default)]
struct Agents {
    texts: HashSet<Arc<str>>,
    /// Texts not shared because the set was full, since it was last
    /// purged: a purge (a pass over the set) waits for `MAX_AGENTS` of them.
    refused: usize,
}

impl Agents {
    /// The shared copy of `agent` (`agent` itself when it is new and the
    /// set is full).
    fn share(&mut self, agent: &Arc<str>) -> Arc<str> {
        if let Some(shared) = self.texts.get(agent) {
            return shared.clone();
        }
        if self.texts.len() >= MAX_AGENTS {
            self.refused += 1;
            if self.refused < MAX_AGENTS {
                return agent.clone();
            }
            // Only the set holds them: no binding uses these texts now.
            self.texts.retain(|text| Arc::strong_count(text) > 1);
            self.refused = 0;
            if self.texts.len() >= MAX_AGENTS {
                return agent.clone();
            }
        }
        self.texts.insert(agent.clone());
        agent.clone()
    }
}

fn earliest(slots: &[Slot]) -> Option<u64> {
    slots.iter().map(|s| s.binding.expires_at).min()
}

impl Location {
    pub(crate) fn slots(&self, aor: &Aor) -> &[Slot] {
        self.aors.get(aor).map_or(&[], |slots| slots)
    }

    pub(crate) fn find(&self, aor: &Aor, key: &BindingKey) -> Option<&Slot> {
        self.slots(aor).iter().find(|s| &s.binding.key == key)
    }

    /// Number of bindings, expired ones not yet swept included.
    pub(crate) fn len(&self) -> usize {
        self.total
    }

    pub(crate) fn aor_count(&self) -> usize {
        self.aors.len()
    }

    pub(crate) fn aors(&self) -> impl Iterator<Item = (&Aor, &[Slot])> {
        self.aors.iter().map(|(a, s)| (a, &**s))
    }

    /// Replaces the bindings of `aor`, keeping the indexes in step.
    pub(crate) fn set(&mut self, aor: &Aor, slots: Vec<Slot>) {
        // The text already indexed (a refresh), else this one: each binding
        // is pointed at it, so that an AOR's text is kept once.
        let shared = self
            .aors
            .get_key_value(aor)
            .map_or_else(|| aor.clone(), |(key, _)| key.clone());
        let mut slots = slots.into_boxed_slice();
        for slot in slots.iter_mut() {
            let binding = &mut slot.binding;
            if !binding.aor.shares_text_with(&shared) && binding.aor == shared {
                binding.aor = shared.clone();
            }
            if let Some(agent) = &mut binding.user_agent {
                *agent = self.agents.share(agent);
            }
        }
        let old = if slots.is_empty() {
            self.aors.remove(aor)
        } else {
            self.aors.insert(shared.clone(), slots)
        };
        if let Some(old) = &old {
            self.total = self.total.saturating_sub(old.len());
            if let Some(e) = earliest(old) {
                self.expiry.remove(&(e, shared.clone()));
            }
        }
        if let Some(new) = self.aors.get(aor) {
            self.total += new.len();
            if let Some(e) = earliest(new) {
                self.expiry.insert((e, shared));
            }
        }
    }

    /// Writes one binding (replacing the one with its key).
    pub(crate) fn put(&mut self, binding: Binding, generation: u64) {
        let aor = binding.aor.clone();
        let mut slots = self.slots(&aor).to_vec();
        match slots.iter_mut().find(|s| s.binding.key == binding.key) {
            Some(slot) => {
                *slot = Slot {
                    binding,
                    generation,
                }
            }
            None => {
                slots.push(Slot {
                    binding,
                    generation,
                });
            }
        }
        self.set(&aor, slots);
    }

    /// Deletes one binding; returns it.
    pub(crate) fn remove(&mut self, aor: &Aor, key: &BindingKey) -> Option<Binding> {
        let mut slots = self.slots(aor).to_vec();
        let at = slots.iter().position(|s| &s.binding.key == key)?;
        let slot = slots.remove(at);
        self.set(aor, slots);
        Some(slot.binding)
    }

    /// The earliest expiry of any binding.
    pub(crate) fn next_expiry(&self) -> Option<u64> {
        self.expiry.first().map(|(e, _)| *e)
    }

    /// Removes every binding expired at `unix_now`; returns them.
    pub(crate) fn sweep(&mut self, unix_now: u64) -> Vec<Binding> {
        let mut changes = Vec::new();
        while let Some((at, aor)) = self.expiry.first().cloned() {
            if at > unix_now {
                break;
            }
            // Taken out first, so that the loop ends whatever `set` finds.
            self.expiry.remove(&(at, aor.clone()));
            let (gone, kept): (Vec<Slot>, Vec<Slot>) = self
                .slots(&aor)
                .iter()
                .cloned()
                .partition(|s| s.binding.is_expired(unix_now));
            changes.extend(gone.into_iter().map(|slot| slot.binding));
            self.set(&aor, kept);
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    #[test]
    fn user_agents_beyond_the_bound_are_kept_apart() {
        let mut agents = Agents::default();
        for i in 0..MAX_AGENTS {
            let text: Arc<str> = format!("Phone/{i}").into();
            // No binding holds these: a purge may drop them.
            let _ = agents.share(&text);
        }
        let late: Arc<str> = "Late/1".into();
        assert!(Arc::ptr_eq(&agents.share(&late), &late));
        assert!(agents.texts.len() <= MAX_AGENTS);
        // Once enough were refused, the unused texts are purged and new
        // ones are shared again.
        for i in 0..MAX_AGENTS {
            let _ = agents.share(&Arc::from(format!("Other/{i}")));
        }
        let again: Arc<str> = "Late/1".into();
        let shared = agents.share(&again);
        assert!(agents.texts.len() < MAX_AGENTS);
        assert!(Arc::ptr_eq(&agents.share(&Arc::from("Late/1")), &shared));
    }
}
