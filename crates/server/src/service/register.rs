//! REGISTER: digest authentication (401), the registrar, and the 200 OK
//! only once the store has the bindings.

use switchboard_core::{Now, Source, TransactionId};
use switchboard_proto::Request;

use crate::auth::{AuthResult, Identity};
use crate::proxy::TransactionLayer;
use crate::registrar::RegisterOutcome;

use super::{Checked, Effect, EffectError, Service, StoreId, Waiting, send};

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
                let id = StoreId(self.next_id());
                self.registering.insert(id, (tx, then));
                self.effects.push_back(Effect::Store { id, changes });
            }
        }
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
        let answer = match result {
            Ok(()) => self.registrar.complete(pending, now.unix()),
            Err(error) => {
                tracing::error!(%error, "storing bindings failed: answering 500");
                self.registrar.abort(pending)
            }
        };
        send(ep, now, tx, answer);
    }
}
