//! The NOTIFYs of the event server: who is told when a resource changes
//! (its watchers and the lists it belongs to), the documents they carry
//! (PIDF composed or derived from registration, reginfo, dialog-info,
//! RLMI), one in flight per subscription with changes coalesced (what the
//! coalesced state would hide, a contact's reg event or a dialog that
//! ended, is queued as [`Owed`] for the next one), and what their answers
//! mean (481 ends a subscription, a failure keeps it).

use switchboard_core::{Event, Now, TransactionId};

use crate::bodies::{self, ListResource, RegEvent, ResourceState};
use crate::events::{DIALOG, EndReason, Owed, PIDF, PRESENCE, REG, Subscription};
use crate::proxy::TransactionLayer;
use crate::registrar::{Aor, Binding};

use super::Service;
use super::events::uri_of;

/// The contacts' events among `owed`, one per contact (the latest), in
/// the order they first changed.
fn contact_events<'a>(owed: impl Iterator<Item = &'a Owed>) -> Vec<(&'a Binding, RegEvent)> {
    let mut events: Vec<(&Binding, RegEvent)> = Vec::new();
    for o in owed {
        if let Owed::Contact { binding, event, .. } = o {
            match events.iter_mut().find(|(b, _)| b.key == binding.key) {
                Some(slot) => *slot = (binding, *event),
                None => events.push((binding, *event)),
            }
        }
    }
    events
}

impl Service {
    /// Notifies every watcher of `event` of `resource` (and the lists
    /// `resource` is a member of).
    pub(super) fn notify_resource(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        event: &str,
        resource: &str,
    ) {
        let watchers = self.events.subscriptions.watching(event, resource);
        if !watchers.is_empty() {
            // A presence document has no per-watcher version: made once.
            let shared = if event == PRESENCE {
                self.document_of(now, event, resource, 0, &[], false)
            } else {
                None
            };
            for id in watchers {
                self.notify_one(now, ep, &id, None, shared.as_ref());
            }
        }
        for list in self.lists_of(resource) {
            for id in self.events.subscriptions.watching(event, &list) {
                self.notify_one(now, ep, &id, Some(resource), None);
            }
        }
    }

    /// The lists `resource` is a member of.
    fn lists_of(&self, resource: &str) -> Vec<String> {
        self.events
            .lists_of
            .get(&resource.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// Queues `items` for every watcher of `event` of `resource` (and of
    /// the lists it is a member of): their next NOTIFY says them even when
    /// one is in flight now.
    fn owe(&mut self, event: &str, resource: &str, items: &[Owed]) {
        if items.is_empty() {
            return;
        }
        let mut ids = self.events.subscriptions.watching(event, resource);
        for list in self.lists_of(resource) {
            ids.extend(self.events.subscriptions.watching(event, &list));
        }
        for id in ids {
            if let Some(sub) = self.events.subscriptions.get_mut(&id) {
                for item in items {
                    sub.owe(item.clone());
                }
            }
        }
    }

    /// A REGISTER changed `aor`'s bindings, or they expired (`changes`:
    /// what happened to which contact): presence derived from
    /// registration and `reg` watchers.
    pub(super) fn bindings_changed(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        aor: &Aor,
        changes: &[(Binding, RegEvent)],
    ) {
        let uri = uri_of(aor);
        if self.events.publications.count_of(&uri, PRESENCE) == 0 {
            self.notify_resource(now, ep, PRESENCE, &uri);
        }
        let owed: Vec<Owed> = changes
            .iter()
            .map(|(binding, event)| Owed::Contact {
                resource: uri.clone(),
                binding: Box::new(binding.clone()),
                event: *event,
            })
            .collect();
        self.owe(REG, &uri, &owed);
        self.notify_resource(now, ep, REG, &uri);
    }

    /// A call of `aor` changed state: its dialog watchers (busy-lamp
    /// fields) are notified. A dialog that ended is owed to each of them,
    /// since the call book forgets it at its next change.
    pub(super) fn calls_changed(&mut self, now: Now, ep: &mut impl TransactionLayer, aor: &Aor) {
        // Every dialog of the AOR is listed below (strings cloned and
        // formatted): with no subscription at all, no one would read them.
        if self.events.subscriptions().is_empty() {
            return;
        }
        let ended = self
            .calls
            .dialogs_at(aor, now.instant())
            .into_iter()
            .filter(|d| d.state.is_terminated())
            .collect();
        self.dialogs_changed(now, ep, aor, ended);
    }

    /// The dialogs of `aor` changed (here or on another node): its dialog
    /// watchers are notified, each owed the dialogs in `ended`.
    pub(super) fn dialogs_changed(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        aor: &Aor,
        ended: Vec<bodies::DialogEntry>,
    ) {
        let uri = uri_of(aor);
        let owed: Vec<Owed> = ended
            .into_iter()
            .map(|dialog| Owed::Dialog {
                resource: uri.clone(),
                dialog: Box::new(dialog),
            })
            .collect();
        self.owe(DIALOG, &uri, &owed);
        self.notify_resource(now, ep, DIALOG, &uri);
    }

    /// Subscription `id` learns that `member` of its list (`None`: its
    /// resource, or everything) changed: a NOTIFY now, or once the one in
    /// flight is answered.
    pub(super) fn notify_one(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: &str,
        member: Option<&str>,
        shared: Option<&(String, String)>,
    ) {
        if let Some(sub) = self.events.subscriptions.get_mut(id) {
            sub.note_change(member);
        }
        self.send_notify(now, ep, id, shared);
    }

    /// Sends subscription `id` its NOTIFY with the current state, or
    /// defers it while one is in flight.
    ///
    /// `shared` is the document when it is the same for every watcher of
    /// the resource (presence), made once for all of them.
    fn send_notify(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: &str,
        shared: Option<&(String, String)>,
    ) {
        let Some(mut sub) = self.events.subscriptions.checkout(id) else {
            return;
        };
        if sub.in_flight() {
            sub.defer();
        } else if let Some(tx) = self.transmit(now, ep, &mut sub, None, shared) {
            self.events.subscriptions.track(tx, id);
        }
        // With its new CSeq, version and in-flight mark.
        self.events.subscriptions.restore(sub);
    }

    /// Builds and sends `sub`'s NOTIFY (terminated when `end` is given).
    pub(super) fn transmit(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        sub: &mut Subscription,
        end: Option<EndReason>,
        shared: Option<&(String, String)>,
    ) -> Option<TransactionId> {
        let body = match (end, shared) {
            (Some(EndReason::Rejected | EndReason::NoResource), _) => None,
            (_, Some(document)) if !sub.record().list => {
                sub.next_version();
                Some(document.clone())
            }
            _ => self.document(now, ep, sub),
        };
        let request = match sub.notify(
            now.unix(),
            end,
            body.as_ref().map(|(t, b)| (t.as_str(), b.as_str())),
        ) {
            Ok(r) => r,
            Err(error) => {
                tracing::warn!(%error, id = sub.id(), "NOTIFY not built");
                sub.settle(true);
                return None;
            }
        };
        let Some(destination) = sub.destination() else {
            tracing::warn!(id = sub.id(), target = %sub.record().remote_target, "NOTIFY has no address to go to");
            sub.settle(true);
            return None;
        };
        match ep.send_request(now.instant(), request, destination) {
            Ok(tx) => Some(tx),
            Err(error) => {
                tracing::debug!(%error, id = sub.id(), "NOTIFY not sent");
                sub.settle(true);
                None
            }
        }
    }

    /// The document a NOTIFY of `sub` carries: content type and body, the
    /// full state of a single resource. A list gets an RLMI multipart body
    /// (RFC 4662): every member the first time (and after a refresh or a
    /// failure), then only those that changed.
    fn document(
        &self,
        now: Now,
        ep: &mut impl TransactionLayer,
        sub: &mut Subscription,
    ) -> Option<(String, String)> {
        let version = sub.next_version();
        let resource = sub.resource().to_owned();
        let event = sub.event().to_owned();
        // Whatever is owed goes out with this NOTIFY (kept until it is
        // answered with a 2xx).
        let owed = sub.owed().to_vec();
        sub.owed_sent();
        if !sub.record().list {
            let partial = sub.synced();
            return self.document_of(now, &event, &resource, version, &owed, partial);
        }
        let list = self.events.config.list(&resource)?;
        let changes = sub.take_changes();
        let full = changes.is_none();
        let resources: Vec<ListResource> = list
            .members
            .iter()
            .filter(|m| changes.as_ref().is_none_or(|c| c.contains(m)))
            .map(|member| {
                let (content_type, body) = self
                    .document_of(now, &event, member, version, &owed, false)
                    .unwrap_or_default();
                ListResource {
                    uri: member.clone(),
                    name: None,
                    state: ResourceState::Active,
                    content_type,
                    body,
                }
            })
            .collect();
        let boundary = format!("sb-{}", ep.new_tag());
        Some(bodies::rlmi_notify_body(
            &resource, version, full, &resources, &boundary,
        ))
    }

    /// The state of `event` of one user's `aor` (a SIP URI), with what
    /// is `owed` to the watcher about it: the contacts' events (a partial
    /// state of those alone when `partial` and there are some), the
    /// dialogs that ended.
    fn document_of(
        &self,
        now: Now,
        event: &str,
        aor: &str,
        version: u32,
        owed: &[Owed],
        partial: bool,
    ) -> Option<(String, String)> {
        let parsed = Aor::parse(aor).ok()?;
        let owed = owed
            .iter()
            .filter(|o| o.resource().eq_ignore_ascii_case(aor));
        match event {
            PRESENCE => Some((PIDF.to_owned(), self.presence_of(now, aor, &parsed))),
            REG => {
                let bindings: Vec<_> = self
                    .registrar
                    .lookup(&parsed, now.unix())
                    .into_iter()
                    .cloned()
                    .collect();
                let changed = contact_events(owed);
                let full = !partial || changed.is_empty();
                let body = bodies::reginfo(version, full, &parsed, &bindings, now.unix(), &changed);
                Some((bodies::REGINFO.to_owned(), body))
            }
            DIALOG => {
                let mut dialogs = self.dialogs_of(now, &parsed);
                for o in owed {
                    if let Owed::Dialog { dialog, .. } = o {
                        if dialogs.iter().all(|d| d.id != dialog.id) {
                            dialogs.push((**dialog).clone());
                        }
                    }
                }
                let body = bodies::dialog_info(aor, version, true, &dialogs);
                Some((bodies::DIALOG_INFO.to_owned(), body))
            }
            _ => None,
        }
    }

    /// The calls of `aor` as dialog-info entries: those routed here, then
    /// those other nodes route.
    fn dialogs_of(&self, now: Now, aor: &Aor) -> Vec<bodies::DialogEntry> {
        let mut dialogs = self.calls.dialogs_at(aor, now.instant());
        for remote in self.cluster.remote_dialogs(aor) {
            if dialogs.iter().all(|d| d.id != remote.id) {
                dialogs.push(remote.clone());
            }
        }
        dialogs
    }

    /// The presence document of `aor`: every live publication composed,
    /// or derived from registration when nobody publishes.
    fn presence_of(&self, now: Now, uri: &str, aor: &Aor) -> String {
        let docs: Vec<bodies::PidfDocument> = self
            .events
            .publications
            .of(uri, PRESENCE)
            .into_iter()
            .filter_map(|p| bodies::parse_pidf(&p.body).ok())
            .collect();
        if docs.is_empty() {
            let open = !self.registrar.lookup(aor, now.unix()).is_empty();
            return bodies::pidf_from_registration(uri, open);
        }
        let refs: Vec<&bodies::PidfDocument> = docs.iter().collect();
        bodies::compose_pidf(uri, &refs)
    }

    /// An event of a client transaction the proxy does not own: the
    /// outcome of a NOTIFY; `false` when it is not one of ours.
    pub(super) fn on_notify_event(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        event: &Event,
    ) -> bool {
        let (tx, status) = match event {
            Event::Response { tx, response, .. } => (*tx, Some(response.status().as_u16())),
            Event::Timeout { tx } | Event::TransportError { tx } => (*tx, None),
            _ => return false,
        };
        if !self.events.subscriptions.is_tracked(tx) {
            return false;
        }
        if status.is_some_and(|s| s < 200) {
            return true;
        }
        let Some(id) = self.events.subscriptions.untrack(tx) else {
            return true;
        };
        match status {
            Some(200..=299) => {
                let again = self
                    .events
                    .subscriptions
                    .get_mut(&id)
                    .is_some_and(|s| s.settle(false));
                if again {
                    self.send_notify(now, ep, &id, None);
                }
            }
            Some(404 | 410 | 481) => {
                tracing::debug!(id, status, "NOTIFY refused: the subscription ends");
                self.end_subscription(now, ep, &id, None);
            }
            _ => {
                // Kept: the watcher may be away for a moment; the next
                // NOTIFY (a change, a refresh) carries the full state.
                tracing::debug!(id, ?status, "NOTIFY failed: the subscription is kept");
                if let Some(s) = self.events.subscriptions.get_mut(&id) {
                    s.settle(true);
                }
            }
        }
        true
    }
}
