//! SUBSCRIBE (RFC 6665 notifier side): a new subscription to a local
//! user's `presence`, `dialog` or `reg` events or to a resource list (RFC
//! 4662), and the refreshes and unsubscriptions in its dialog.
//!
//! * The watcher authenticates (407) as a local user, or comes from
//!   another domain when `foreign_watchers` allows; the watch policy
//!   refuses with 403. A refresh from another address than the one the
//!   watcher authenticated from is challenged again, and must come from
//!   the watcher.
//! * A SUBSCRIBE whose Accept excludes what the NOTIFYs carry gets 406
//!   with what is sent.
//! * The subscription (or its new expiry) is saved first; the 200 and the
//!   first NOTIFY, with the full state, follow once it is durable
//!   ([`Service::on_saved`] in events.rs).

use switchboard_core::{Now, Source, TransactionId};
use switchboard_proto::header::{Accept, Supported};
use switchboard_proto::{HeaderName, Request, StatusCode};

use crate::events::{DIALOG, EndReason, LimitError, PRESENCE, Subscription};
use crate::proxy::{Incoming, TransactionLayer};
use crate::registrar::Aor;
use crate::storage::{StateChange, SubscriptionRecord};

use super::contacts::via_source;
use super::events::{Saving, aor_of, package_of, uri_of};
use super::relay::Caller;
use super::{Service, Waiting, answer, send};

/// The media types a SUBSCRIBE for `event` must accept: the package's
/// document, or for a list the RLMI multipart (RFC 4662 §5.2; the members'
/// documents inside need not be named, some phones list only these).
fn required_types(event: &str, list: bool) -> Vec<(&'static str, &'static str)> {
    if list {
        return vec![("multipart", "related"), ("application", "rlmi+xml")];
    }
    match event {
        PRESENCE => vec![("application", "pidf+xml")],
        DIALOG => vec![("application", "dialog-info+xml")],
        _ => vec![("application", "reginfo+xml")],
    }
}

/// The Accept value of a 406: what the NOTIFYs of `event` carry.
fn document_types(event: &str, list: bool) -> String {
    required_types(event, list)
        .iter()
        .map(|(main, sub)| format!("{main}/{sub}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a SUBSCRIBE accepts the bodies its NOTIFYs would carry (RFC
/// 6665 §3.1.1, §4.1.3): no Accept means the package's default;
/// otherwise every required type must be covered (wildcards count, `q=0`
/// refuses).
fn accepts_notify_bodies(request: &Request, event: &str, list: bool) -> bool {
    let ranges: Vec<Accept<'_>> = request
        .headers()
        .typed_all::<Accept<'_>>()
        .filter_map(Result::ok)
        .collect();
    if ranges.is_empty() && !Accept::nothing_acceptable(request.headers()) {
        return true;
    }
    required_types(event, list).iter().all(|(main, sub)| {
        ranges
            .iter()
            .any(|range| range.matches(main, sub) && range.q() > 0)
    })
}

impl Service {
    /// An out-of-dialog SUBSCRIBE for a local user or a resource list.
    pub(super) fn subscribe(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: Incoming,
        routed_to_us: bool,
    ) {
        let request = incoming.request();
        let Some(event) = package_of(request).filter(|p| self.events.config.range_of(p).is_some())
        else {
            self.bad_event(now, ep, &incoming);
            return;
        };
        let Some(resource) = aor_of(request, None) else {
            answer(now, ep, &incoming, StatusCode::NOT_FOUND, None, &[]);
            return;
        };
        let list = self.events.config.list(&uri_of(&resource)).cloned();
        if !accepts_notify_bodies(request, &event, list.is_some()) {
            let lines = [(HeaderName::Accept, document_types(&event, list.is_some()))];
            let status = StatusCode::NOT_ACCEPTABLE;
            answer(now, ep, &incoming, status, None, &lines);
            return;
        }
        // Looked up before the challenge, so that whether a user exists
        // is told only to an authenticated watcher.
        let exists = if list.is_some() {
            true
        } else {
            let exists = self.user_exists(now, &resource, || Waiting::Relay {
                incoming: incoming.clone(),
                routed_to_us,
            });
            match exists {
                Some(e) => e,
                None => return,
            }
        };
        let watcher = match self.caller(now, ep, &incoming, routed_to_us) {
            Caller::Handled => return,
            Caller::Foreign if !self.events.config.foreign_watchers => {
                tracing::debug!(%resource, "watcher from another domain refused");
                answer(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
                return;
            }
            Caller::Local | Caller::Foreign => {
                match aor_of(incoming.request(), Some(HeaderName::From)) {
                    Some(w) => w,
                    None => {
                        answer(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]);
                        return;
                    }
                }
            }
        };
        let allowed = match &list {
            Some(l) => Aor::parse(&l.owner).is_ok_and(|o| o == watcher),
            None => self
                .events
                .config
                .policy
                .allows(&uri_of(&watcher), &uri_of(&resource)),
        };
        if !exists {
            answer(now, ep, &incoming, StatusCode::NOT_FOUND, None, &[]);
            return;
        }
        if !allowed {
            tracing::debug!(%watcher, %resource, "watcher refused by the policy");
            answer(now, ep, &incoming, StatusCode::FORBIDDEN, None, &[]);
            return;
        }
        if list.is_some() {
            let eventlist = incoming
                .request()
                .headers()
                .typed_all::<Supported<'_>>()
                .filter_map(Result::ok)
                .any(|s| s.as_str().eq_ignore_ascii_case("eventlist"));
            if !eventlist {
                let lines = [(HeaderName::Require, "eventlist".to_owned())];
                answer(
                    now,
                    ep,
                    &incoming,
                    StatusCode::EXTENSION_REQUIRED,
                    None,
                    &lines,
                );
                return;
            }
        }
        let range = self.events.config.range_of(&event);
        let Some(granted) = self.granted(now, ep, &incoming, range) else {
            return;
        };
        if granted > 0 {
            match self.events.subscriptions.check_limit(&uri_of(&watcher)) {
                Ok(()) => {}
                Err(LimitError::Total(n)) => {
                    tracing::warn!(subscriptions = n, "subscription limit reached: 503");
                    let lines = [(HeaderName::RetryAfter, "60".to_owned())];
                    answer(
                        now,
                        ep,
                        &incoming,
                        StatusCode::SERVICE_UNAVAILABLE,
                        None,
                        &lines,
                    );
                    return;
                }
                Err(e) => {
                    tracing::debug!(%watcher, error = %e, "subscription limit of the watcher: 403");
                    let reason = Some("Too Many Subscriptions");
                    answer(now, ep, &incoming, StatusCode::FORBIDDEN, reason, &[]);
                    return;
                }
            }
        }
        let Some(sub) = self.new_subscription(
            now,
            ep,
            &incoming,
            event,
            &uri_of(&resource),
            &uri_of(&watcher),
            list.is_some(),
            granted,
        ) else {
            answer(now, ep, &incoming, StatusCode::BAD_REQUEST, None, &[]);
            return;
        };
        if granted == 0 {
            // A fetch (RFC 6665 §4.4.3): the state once, nothing kept.
            let mut sub = sub;
            self.ok_subscribe(now, ep, incoming.tx(), incoming.request(), &sub, 0);
            self.transmit(now, ep, &mut sub, Some(EndReason::Timeout), None);
            return;
        }
        self.save_events(
            vec![StateChange::PutSubscription(sub.record().clone())],
            Saving::Subscribe {
                tx: incoming.tx(),
                request: incoming.request().clone(),
                sub: Box::new(sub),
            },
        );
    }

    /// The subscription a SUBSCRIBE asks for (`None`: no From tag or
    /// Contact to build a dialog from).
    #[allow(clippy::too_many_arguments)]
    fn new_subscription(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        event: String,
        resource: &str,
        watcher: &str,
        list: bool,
        granted: u32,
    ) -> Option<Subscription> {
        let request = incoming.request();
        let source = incoming.source();
        let h = request.headers();
        let remote_tag = h.from_tag()?.to_owned();
        let contact = h.get(HeaderName::Contact)?;
        let remote_target = switchboard_proto::header::NameAddr::parse_value(contact)
            .ok()?
            .uri
            .to_string();
        let route_set: Vec<String> = h
            .values(HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        let nat = route_set.is_empty() && via_source(&remote_target, source);
        let local_tag = ep.new_tag();
        let record = SubscriptionRecord {
            id: local_tag.clone(),
            event,
            resource: resource.to_owned(),
            watcher: watcher.to_owned(),
            call_id: h.call_id()?.to_owned(),
            local_tag,
            remote_tag,
            remote_target,
            route_set,
            local_cseq: 0,
            source: nat.then_some((source.transport, source.remote)),
            list,
            active: true,
            expires_unix: now.unix() + u64::from(granted),
            version: 0,
        };
        let contact = self.local_contact(source);
        let mut sub = Subscription::new(record, contact, if nat { source.flow } else { None });
        sub.set_origin(source.remote.ip());
        Some(sub)
    }

    /// The server's Contact for a dialog with a peer that reached `source`.
    pub(super) fn local_contact(&self, source: &Source) -> String {
        let transport = source.transport;
        let listener = self.proxy.config().listener(transport, Some(source.local));
        let (host, port) = match listener {
            Some(l) => (l.host_text(), l.addr.port()),
            None => (source.local.ip().to_string(), source.local.port()),
        };
        let param = match transport {
            switchboard_core::Transport::Udp => String::new(),
            t => format!(";transport={}", t.as_lowercase_token()),
        };
        format!("<sip:{host}:{port}{param}>")
    }

    /// The 200 to a SUBSCRIBE: the dialog's To tag, Expires, Contact.
    pub(super) fn ok_subscribe(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        tx: TransactionId,
        request: &Request,
        sub: &Subscription,
        expires: u64,
    ) {
        let lines = [
            (HeaderName::Expires, expires.to_string()),
            (HeaderName::Contact, sub.local_contact().to_owned()),
        ];
        let response = crate::util::response(request, StatusCode::OK, None, sub.id(), &lines);
        send(ep, now, tx, response);
    }

    /// A SUBSCRIBE inside a subscription dialog: a refresh, or Expires: 0
    /// ending it.
    pub(super) fn resubscribe(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        id: &str,
        routed_to_us: bool,
    ) {
        let request = incoming.request();
        let Some(sub) = self.events.subscriptions.get(id) else {
            return;
        };
        if package_of(request).as_deref() != Some(sub.event()) {
            self.bad_event(now, ep, incoming);
            return;
        }
        let range = self.events.config.range_of(sub.event());
        let known = sub.origin() == Some(incoming.source().remote.ip());
        if !known && !self.watcher_proven(now, ep, incoming, id, routed_to_us) {
            return;
        }
        let Some(granted) = self.granted(now, ep, incoming, range) else {
            return;
        };
        let flow = incoming.source().flow;
        if let Some(sub) = self.events.subscriptions.get_mut(id) {
            sub.set_flow(flow);
        }
        if granted == 0 {
            // Unsubscribed: the 200 promises nothing durable; the final
            // NOTIFY, then the record goes.
            if let Some(sub) = self.events.subscriptions.get(id) {
                let sub = sub.clone();
                self.ok_subscribe(now, ep, incoming.tx(), request, &sub, 0);
            }
            self.end_subscription(now, ep, id, Some(EndReason::Timeout));
            return;
        }
        let expires_unix = now.unix() + u64::from(granted);
        let Some(mut record) = self
            .events
            .subscriptions
            .get(id)
            .map(|s| s.record().clone())
        else {
            return;
        };
        record.expires_unix = expires_unix;
        self.save_events(
            vec![StateChange::PutSubscription(record)],
            Saving::Refresh {
                tx: incoming.tx(),
                request: request.clone(),
                id: id.to_owned(),
                expires_unix,
            },
        );
    }

    /// A request in subscription `id`'s dialog from an address its watcher
    /// did not authenticate from: challenged like the first SUBSCRIBE (the
    /// dialog's Call-ID and tags alone prove nothing). Whether it may go
    /// on; otherwise it was answered (407, 403) or parked.
    fn watcher_proven(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        id: &str,
        routed_to_us: bool,
    ) -> bool {
        let caller = self.caller(now, ep, incoming, routed_to_us);
        let allowed = match caller {
            Caller::Handled => return false,
            Caller::Local => true,
            Caller::Foreign => self.events.config.foreign_watchers,
        };
        let from = aor_of(incoming.request(), Some(HeaderName::From)).map(|a| uri_of(&a));
        let own = self
            .events
            .subscriptions
            .get(id)
            .is_some_and(|sub| from.is_some_and(|f| f.eq_ignore_ascii_case(sub.watcher())));
        if !(allowed && own) {
            tracing::debug!(id, "refresh by someone else than the watcher: 403");
            answer(now, ep, incoming, StatusCode::FORBIDDEN, None, &[]);
            return false;
        }
        if let Some(sub) = self.events.subscriptions.get_mut(id) {
            sub.set_origin(incoming.source().remote.ip());
        }
        true
    }
}
