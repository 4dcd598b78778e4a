//! What the operator changes or reads through the admin API besides calls:
//! bindings removed by hand (`DELETE /api/v1/registrations/{user}`) and
//! the presence publications (`GET /api/v1/presence`).

use switchboard_core::{Now, TransactionLayer};

use super::Service;
use crate::bodies::RegEvent;
use crate::events::Publications;
use crate::registrar::{Binding, BindingChange, RemoveReason};

impl Service {
    /// Removes every binding `select` picks, from memory at once; their
    /// watchers are told (`deactivated`). Returns the removals for the
    /// store: the caller writes them (durably) before it reports success.
    pub fn remove_bindings(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        select: impl Fn(&Binding) -> bool,
    ) -> Vec<BindingChange> {
        let mut gone: Vec<Binding> = self
            .registrar
            .bindings(now.unix())
            .filter(|b| select(b))
            .cloned()
            .collect();
        gone.sort_unstable_by(|a, b| a.aor.as_str().cmp(b.aor.as_str()));
        for binding in &gone {
            self.registrar.apply(BindingChange::Remove {
                aor: binding.aor.clone(),
                key: binding.key.clone(),
                reason: RemoveReason::Unregistered,
            });
        }
        if !self.events.subscriptions().is_empty() {
            for group in gone.chunk_by(|a, b| a.aor == b.aor) {
                let Some(first) = group.first() else { continue };
                let events: Vec<_> = group
                    .iter()
                    .map(|b| (b.clone(), RegEvent::Deactivated))
                    .collect();
                let aor = first.aor.clone();
                self.bindings_changed(now, ep, &aor, &events);
            }
        }
        self.drain_proxy(ep);
        gone.into_iter()
            .map(|b| BindingChange::Remove {
                aor: b.aor,
                key: b.key,
                reason: RemoveReason::Unregistered,
            })
            .collect()
    }

    /// The publications held (presence and any other event package).
    pub fn publications(&self) -> &Publications {
        &self.events.publications
    }
}
