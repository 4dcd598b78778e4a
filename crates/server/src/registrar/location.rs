//! The in-memory location index: AOR → bindings, with an expiry index so
//! bindings end on time without any request.

use std::collections::{BTreeSet, HashMap};

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
/// limit), kept in a small vector; the expiry index holds one entry per
/// AOR, its earliest expiry.
#[derive(Debug, Default)]
pub(crate) struct Location {
    aors: HashMap<Aor, Vec<Slot>>,
    expiry: BTreeSet<(u64, Aor)>,
    total: usize,
}

fn earliest(slots: &[Slot]) -> Option<u64> {
    slots.iter().map(|s| s.binding.expires_at).min()
}

impl Location {
    pub(crate) fn slots(&self, aor: &Aor) -> &[Slot] {
        self.aors.get(aor).map_or(&[], Vec::as_slice)
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
        self.aors.iter().map(|(a, s)| (a, s.as_slice()))
    }

    /// Replaces the bindings of `aor`, keeping the indexes in step.
    pub(crate) fn set(&mut self, aor: &Aor, mut slots: Vec<Slot>) {
        // Most AORs hold one binding: without this a pushed-to vector keeps
        // room for four slots (a binding is a few hundred bytes).
        slots.shrink_to_fit();
        let old = if slots.is_empty() {
            self.aors.remove(aor)
        } else {
            self.aors.insert(aor.clone(), slots)
        };
        if let Some(old) = &old {
            self.total = self.total.saturating_sub(old.len());
            if let Some(e) = earliest(old) {
                self.expiry.remove(&(e, aor.clone()));
            }
        }
        if let Some(new) = self.aors.get(aor) {
            self.total += new.len();
            if let Some(e) = earliest(new) {
                self.expiry.insert((e, aor.clone()));
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
                slots.reserve_exact(1);
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
