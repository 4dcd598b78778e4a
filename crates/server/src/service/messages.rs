//! Offline messages: a MESSAGE (RFC 3428) to a local user with no device
//! is kept and delivered when the user next registers.
//!
//! * Kept: for a caller the relay rules accept (an authenticated local
//!   user, or a foreign caller when `trust_foreign_callers`) and a user
//!   who exists, the message is saved ([`Effect::Save`]) and answered 202
//!   Accepted only once it is durable (500 when the store fails). Over the
//!   bounds the sender is told, never silently dropped: 486 "Mailbox Full"
//!   when the user's count or bytes are used up (the recipient cannot take
//!   more, like a busy phone: a 4xx, so the sender does not try elsewhere,
//!   and not 480, which would read as "kept for later"), 413 for one
//!   message larger than a whole mailbox (retrying never helps), 503 with
//!   Retry-After when the server holds as many messages as it may (the
//!   server's condition, not the user's).
//! * Delivered: when a REGISTER of the user is stored (and at start for
//!   loaded bindings) each message goes out as a new MESSAGE with From
//!   (display name, URI, tag), To, Date, Content-Type and body as sent,
//!   to every device of the user (where the registrar reaches it: down
//!   its connection, or to its NAT'd source), oldest first and one at a
//!   time per user so that order is kept. It is removed from the store
//!   only after a device's 2xx; when no device takes it (an error, a
//!   timeout, a transport error) it is retried after 30 s, doubling up to
//!   30 min, while the user has bindings. A device's refusal for good (a
//!   4xx but 408, 480, 486, 491; 501, 513; a 6xx) drops the message with
//!   a warning instead, so that it does not hold back the ones behind it
//!   until it expires.
//! * Expired: a message older than `max_age` is dropped by the
//!   housekeeping sweep and never delivered.

use switchboard_core::{Destination, Event, Now, Source};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, StatusCode, Uri};

use crate::cluster::HomeRoute;
use crate::proxy::{Incoming, TransactionLayer};
use crate::registrar::{Aor, Binding};
use crate::storage::{StateChange, StoredMessage};
use crate::util::http_date;

use super::contacts::{hop_of, via_source};
use super::effect::STORE_RETRY_AFTER;
use super::events::uri_of;
use super::mailbox::{Answer, Keeping, Outcome, Refusal, Saving};
use super::{Effect, EffectError, Service, StoreId, StoreUnavailable, answer};

/// Seconds a sender is asked to wait when the server's message store is
/// full.
const FULL_RETRY_AFTER: &str = "600";

impl Service {
    /// Takes the stored messages back (at start): users with bindings get
    /// theirs at the first timeout.
    pub(super) fn load_messages(&mut self, messages: Vec<StoredMessage>) {
        let count = messages.len();
        let users = self.mailbox.load(messages);
        if count > 0 {
            tracing::info!(
                messages = count,
                users = users.len(),
                "stored messages loaded"
            );
        }
        let at = self.clock.instant();
        for aor in users {
            self.mailbox.schedule(aor, at);
        }
    }

    /// Whether a request for a user with no device is a MESSAGE to keep
    /// (not one inside a dialog: that dialog's device is gone).
    pub(super) fn keeps(&self, request: &Request) -> bool {
        self.mailbox.enabled()
            && request.method() == &Method::Message
            && request.headers().to_tag().is_none()
    }

    /// Keeps a MESSAGE for `aor`, an existing user with no device: saved,
    /// then 202 (see [`Service::message_saved`]), or refused over the
    /// bounds.
    pub(super) fn keep_message(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &Incoming,
        aor: Aor,
    ) {
        let request = incoming.request();
        let body = request.body().to_vec();
        if let Err(refusal) = self.mailbox.reserve(&aor, body.len()) {
            tracing::info!(%aor, ?refusal, "offline message refused");
            let (status, reason, lines) = match refusal {
                Refusal::TooLarge => (
                    StatusCode::REQUEST_ENTITY_TOO_LARGE,
                    "Message Too Large For Mailbox",
                    Vec::new(),
                ),
                Refusal::UserFull => (StatusCode::BUSY_HERE, "Mailbox Full", Vec::new()),
                Refusal::ServerFull => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Message Store Full",
                    vec![(HeaderName::RetryAfter, FULL_RETRY_AFTER.to_owned())],
                ),
            };
            answer(now, ep, incoming, status, Some(reason), &lines);
            return;
        }
        let header = |name| request.headers().get(name).unwrap_or_default().to_owned();
        let date = request
            .headers()
            .get(HeaderName::Date)
            .map_or_else(|| http_date(now.unix()), str::to_owned);
        let message = StoredMessage {
            id: ep.new_tag(),
            aor: format!("sip:{}", aor.as_str()),
            from: header(HeaderName::From),
            to: header(HeaderName::To),
            date,
            content_type: header(HeaderName::ContentType),
            body,
            received_unix: now.unix(),
        };
        let id = StoreId(self.next_id());
        self.effects.push_back(Effect::Save {
            id,
            changes: vec![StateChange::PutMessage(message.clone())],
        });
        self.mailbox.saving(
            id,
            Saving::Keep(Box::new(Keeping {
                incoming: incoming.clone(),
                aor,
                message,
            })),
        );
    }

    /// A save finished: `Some(result)` back when it was not the mailbox's.
    pub(super) fn message_saved(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        id: StoreId,
        result: Result<(), EffectError>,
    ) -> Option<Result<(), EffectError>> {
        let Some(saving) = self.mailbox.take_saving(id) else {
            return Some(result);
        };
        match (saving, result) {
            (Saving::Keep(keeping), Ok(())) => {
                let Keeping {
                    incoming,
                    aor,
                    message,
                } = *keeping;
                tracing::debug!(%aor, id = %message.id, "offline message kept");
                answer(now, ep, &incoming, StatusCode::ACCEPTED, None, &[]);
                self.mailbox.stored(aor.clone(), message);
                // The user may have registered while it was being saved.
                self.deliver_messages(now, ep, &aor);
            }
            (Saving::Keep(keeping), Err(error)) => {
                let Keeping {
                    incoming,
                    aor,
                    message,
                } = *keeping;
                // 503 when the store is unreachable for now, 500 otherwise.
                let status = StoreUnavailable::status_of(&error);
                tracing::error!(%aor, %error, ?status, "keeping an offline message failed");
                self.mailbox.not_stored(&aor, &message);
                let lines = [(HeaderName::RetryAfter, STORE_RETRY_AFTER.to_owned())];
                answer(now, ep, &incoming, status, None, &lines);
            }
            (Saving::Removal { count }, Ok(())) => {
                tracing::debug!(
                    count,
                    "delivered or expired messages removed from the store"
                );
            }
            (Saving::Removal { count }, Err(error)) => {
                // They are gone from memory; after a restart they would be
                // delivered (or expired) again.
                tracing::warn!(count, %error, "removing messages from the store failed");
            }
        }
        None
    }

    /// A REGISTER of `aor` is stored: its messages go out now.
    pub(super) fn messages_registered(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        aor: &Aor,
    ) {
        self.mailbox.wake(aor);
        self.deliver_messages(now, ep, aor);
    }

    /// Retries that are due.
    pub(super) fn messages_timeout(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        for aor in self.mailbox.due(now.instant()) {
            self.deliver_messages(now, ep, &aor);
        }
    }

    /// Housekeeping: messages past their age are removed.
    pub(super) fn expire_messages(&mut self, now: Now) {
        let expired = self.mailbox.expire(now.unix());
        if !expired.is_empty() {
            tracing::info!(
                count = expired.len(),
                "offline messages expired undelivered"
            );
            self.remove_messages(expired);
        }
    }

    /// An endpoint event the proxy does not own: the answer to a
    /// delivery, if it is one.
    pub(super) fn delivery_event(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        event: Event,
    ) {
        let (tx, answer) = match &event {
            Event::Response { tx, response, .. } if response.status().as_u16() >= 200 => {
                (*tx, Answer::of_status(response.status().as_u16()))
            }
            Event::Timeout { tx } | Event::TransportError { tx } => (*tx, Answer::Failed),
            _ => {
                tracing::trace!(?event, "event not for the proxy");
                return;
            }
        };
        if !self.mailbox.owns(tx) {
            tracing::trace!(?event, "event not for the proxy");
            return;
        }
        match self.mailbox.answered(tx, answer, now.instant()) {
            Some(Outcome::Delivered { aor, id }) => {
                tracing::debug!(%aor, %id, "offline message delivered");
                self.remove_messages(vec![id]);
                self.deliver_messages(now, ep, &aor);
            }
            Some(Outcome::Dropped { aor, id }) => {
                tracing::warn!(%aor, %id, "offline message refused for good by the device: dropped undelivered");
                self.remove_messages(vec![id]);
                self.deliver_messages(now, ep, &aor);
            }
            Some(Outcome::Failed { aor, retry_in }) => {
                tracing::info!(%aor, ?retry_in, "offline message not delivered: retrying later");
            }
            None => {}
        }
    }

    /// Sends the oldest message of `aor` to its devices, unless one is in
    /// flight, a retry is pending, or the user has no device.
    fn deliver_messages(&mut self, now: Now, ep: &mut impl TransactionLayer, aor: &Aor) {
        let at = now.instant();
        if !self.mailbox.ready(aor, at) {
            return;
        }
        let mut expired = Vec::new();
        let next = self.mailbox.next(aor, now.unix(), &mut expired);
        if !expired.is_empty() {
            self.remove_messages(expired);
        }
        let Some(message) = next else {
            return;
        };
        // A device whose flow another live node holds gets it through
        // that node (one request per node: it delivers to all it holds).
        let mut homes = Vec::new();
        let devices: Vec<(Request, Destination)> = self
            .registrar
            .lookup(aor, now.unix())
            .into_iter()
            .filter_map(|binding| {
                let (uri, routes, destination) =
                    match self.cluster.route_of(binding, through_source(binding)) {
                        HomeRoute::Direct => (
                            binding.contact.clone(),
                            binding.path.clone(),
                            device_destination(binding),
                        ),
                        HomeRoute::Dead => return None,
                        HomeRoute::Through { route, addr } => {
                            if homes.contains(&route) {
                                return None;
                            }
                            homes.push(route.clone());
                            let destination = Destination::Address {
                                transport: switchboard_core::Transport::Udp,
                                remote: addr?,
                            };
                            (uri_of(aor), vec![route], destination)
                        }
                    };
                let request = delivery_request(ep, &message, &uri, &routes)
                    .map_err(|e| tracing::warn!(%aor, error = %e, "offline message does not build"))
                    .ok()?;
                Some((request, destination))
            })
            .collect();
        if devices.is_empty() {
            return; // no device (or none it builds for): at the next REGISTER
        }
        let mut txs = Vec::with_capacity(devices.len());
        for (request, destination) in devices {
            match ep.send_request(at, request, destination) {
                Ok(tx) => txs.push(tx),
                Err(e) => tracing::debug!(%aor, error = %e, "offline message not sent"),
            }
        }
        if txs.is_empty() {
            self.mailbox.retry_later(aor, at);
            return;
        }
        tracing::debug!(%aor, id = %message.id, devices = txs.len(), "delivering an offline message");
        self.mailbox.begin(aor, message.id, &txs);
    }

    /// Removes delivered or expired messages from the store.
    fn remove_messages(&mut self, ids: Vec<String>) {
        let id = StoreId(self.next_id());
        let count = ids.len();
        let changes = ids
            .into_iter()
            .map(|id| StateChange::RemoveMessage { id })
            .collect();
        self.effects.push_back(Effect::Save { id, changes });
        self.mailbox.saving(id, Saving::Removal { count });
    }
}

/// The MESSAGE that delivers `message` to `uri` (a device's contact, or
/// the AOR when a peer node delivers it) along `routes` (the device's
/// Path, or the peer node), with a fresh Call-ID; From, To, Date,
/// Content-Type and body as the sender sent them.
fn delivery_request(
    ep: &mut impl TransactionLayer,
    message: &StoredMessage,
    uri: &str,
    routes: &[String],
) -> Result<Request, switchboard_proto::BuildError> {
    let mut builder = RequestBuilder::new(Method::Message, uri)
        .header(HeaderName::From, message.from.as_str())
        .header(HeaderName::To, message.to.as_str())
        .call_id(&ep.new_call_id())
        .cseq(1);
    if !message.date.is_empty() {
        builder = builder.header(HeaderName::Date, message.date.as_str());
    }
    for route in routes {
        builder = builder.header(HeaderName::Route, route.as_str());
    }
    if !message.content_type.is_empty() {
        builder = builder.body(&message.content_type, message.body.clone());
    }
    builder.build()
}

/// Where a device is reached: down its connection or to its NAT'd source
/// (as the proxy reaches it), through its registering proxy when it
/// registered with a Path, else at its contact's address.
fn device_destination(binding: &Binding) -> Destination {
    let source: &Source = &binding.source;
    if !through_source(binding) {
        if let Some(remote) = contact_address(&binding.contact) {
            return Destination::Address {
                transport: source.transport,
                remote,
            };
        }
    }
    hop_of(source).destination
}

/// Whether a device is reached through where its REGISTER came from
/// (its connection, NAT mapping or registering proxy), not at its contact.
fn through_source(binding: &Binding) -> bool {
    binding.is_outbound_flow()
        || !binding.path.is_empty()
        || via_source(&binding.contact, &binding.source)
}

/// The address of a contact whose host is an IP address.
fn contact_address(contact: &str) -> Option<std::net::SocketAddr> {
    let uri = Uri::parse(contact).ok()?;
    let sip = uri.as_sip()?;
    let ip = crate::util::host_ip(sip.host.as_str())?;
    Some(std::net::SocketAddr::new(ip, sip.port.unwrap_or(5060)))
}
