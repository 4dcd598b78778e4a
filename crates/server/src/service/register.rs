//! REGISTER: digest authentication (401), the registrar, and the 200 OK
//! only once the store has the bindings.

use switchboard_core::{Now, Source, TransactionId};
use switchboard_proto::Request;

use crate::auth::{AuthResult, Identity};
use crate::bodies::RegEvent;
use crate::proxy::TransactionLayer;
use crate::registrar::{Aor, Binding, BindingKey, PendingResponse, RegisterOutcome, RemoveReason};

/// One contact a REGISTER changed, kept until it is stored, so that
/// watchers of the registration learn what happened to it.
#[derive(Debug)]
pub(super) struct ContactChange {
    key: BindingKey,
    /// The binding before the REGISTER (`None`: a new contact).
    before: Option<Binding>,
    /// Why it was removed, for a removal.
    removed: Option<RemoveReason>,
}

impl ContactChange {
    /// The changes of a REGISTER being stored.
    pub(super) fn of(pending: &PendingResponse) -> Vec<Self> {
        pending
            .contact_changes()
            .map(|(key, before, removed)| Self {
                key: key.clone(),
                before: before.cloned(),
                removed,
            })
            .collect()
    }
}

use super::{Checked, Effect, EffectError, Service, StoreId, StoreUnavailable, Waiting, send};

impl Service {
    pub(super) fn on_register(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        request: Request,
        source: Source,
    ) {
        let Some(realm) = self.registrar.realm_for(&request).map(str::to_owned) else {
            // Not our domain: the registrar answers 404 (no challenge first).
            self.register(now, ep, tx, &request, &source, None);
            return;
        };
        let ip = source.remote.ip();
        let checked = self.check_auth(now, &request, &realm, ip, false, || Waiting::Register {
            tx,
            request: request.clone(),
            source,
        });
        match checked {
            Checked::Parked => {}
            Checked::Done(AuthResult::Ok { identity, .. }) => {
                self.register(now, ep, tx, &request, &source, Some(&identity));
            }
            Checked::Done(other) => self.refuse(ep, tx, &request, &realm, false, &other),
        }
    }

    fn register(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        request: &Request,
        source: &Source,
        identity: Option<&Identity>,
    ) {
        let outcome = match self
            .registrar
            .handle_register(now.unix(), request, source, identity)
        {
            Ok(o) => o,
            Err(e) => {
                tracing::debug!(error = %e, "no response can be built for the REGISTER");
                return;
            }
        };
        match outcome {
            RegisterOutcome::Respond(r) | RegisterOutcome::Reject { response: r, .. } => {
                send(ep, now, tx, Ok::<_, String>(r));
            }
            RegisterOutcome::Commit { changes, then } => {
                for change in &changes {
                    if let crate::registrar::BindingChange::Upsert(b) = change {
                        self.cluster.forget_home(&b.aor, &b.key);
                    }
                }
                let id = StoreId(self.next_id());
                self.registering.insert(id, (tx, then));
                self.effects.push_back(Effect::Store { id, changes });
            }
        }
    }

    /// What a stored REGISTER did to `aor`'s contacts as reg events
    /// (RFC 3680): a new contact is `registered`, an existing one
    /// `refreshed`, a removed one `unregistered` (or `rejected` when
    /// evicted), with the binding as it now is (as it was when removed).
    pub(super) fn registration_events(
        &self,
        now: Now,
        aor: &Aor,
        changes: Vec<ContactChange>,
    ) -> Vec<(Binding, RegEvent)> {
        let current = self.registrar.lookup(aor, now.unix());
        changes
            .into_iter()
            .filter_map(|change| match change.removed {
                Some(reason) => change.before.map(|b| (b, RegEvent::from(reason))),
                None => {
                    let binding = current.iter().find(|b| b.key == change.key)?;
                    let event = match &change.before {
                        Some(b) if !b.is_expired(now.unix()) => RegEvent::Refreshed,
                        _ => RegEvent::Registered,
                    };
                    Some(((*binding).clone(), event))
                }
            })
            .collect()
    }

    /// A store submission finished: a REGISTER's 200 OK (or 500), or the
    /// removal of expired bindings.
    pub(super) fn on_stored(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: StoreId,
        result: Result<(), EffectError>,
    ) {
        let Some(result) = self.message_saved(now, ep, id, result) else {
            return;
        };
        if let Some(count) = self.expiring.remove(&id) {
            match result {
                Ok(()) => tracing::debug!(count, "expired bindings removed from the store"),
                Err(error) => {
                    tracing::warn!(count, %error, "removing expired bindings from the store failed (they are swept again at the next start)");
                }
            }
            return;
        }
        let Some((tx, pending)) = self.registering.remove(&id) else {
            return;
        };
        let aor = pending.aor().clone();
        let stored = result.is_ok();
        let answer = match result {
            Ok(()) => self.registrar.complete(pending, now.unix()),
            Err(error) if error.is::<StoreUnavailable>() => {
                tracing::warn!(%error, "storing bindings failed: answering 503");
                self.registrar.abort_unavailable(pending)
            }
            Err(error) => {
                tracing::error!(%error, "storing bindings failed: answering 500");
                self.registrar.abort(pending)
            }
        };
        // A 500 after a failed store is also `Ok` (a response was built).
        let registered = stored && answer.is_ok();
        send(ep, now, tx, answer);
        if registered {
            self.counters.registered();
            // Messages kept while the user had no device go out now.
            self.messages_registered(now, ep, &aor);
        }
    }
}
