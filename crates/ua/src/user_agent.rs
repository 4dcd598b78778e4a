//! The whole user agent as one sans-IO machine: the registration, the
//! calls (both directions), the pager, the subscriptions and the
//! presence publication, the map from client
//! transactions to the machine that owns them, and the one executor of
//! their [`Action`]s.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_core::RngCore;
use switchboard_core::{Event, TransactionId, TransactionLayer};
use switchboard_proto::{HeaderName, Message, Method, Request, ResponseBuilder, StatusCode};

use crate::action::Action;
use crate::bodies::Presence;
use crate::call::Call;
use crate::config::UaConfig;
use crate::dialog::Dialog;
use crate::error::UaError;
use crate::event::{CallEvent, EndReason, Failure, PublicationEvent, RegistrationEvent, UaEvent};
use crate::media_session::MediaSession;
use crate::pager::Pager;
use crate::publication::Publication;
use crate::registration::Registration;
use crate::subscription::Subscription;
use switchboard_core::token;

/// The methods we answer outside a dialog (the `Allow` of our answers).
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, NOTIFY";

/// Who sent a client transaction: its responses and failures go there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Registration,
    Call(String),
    Pager(String),
    Subscription(String),
    Publication,
}

/// An INVITE offered to the front end, not yet accepted or rejected.
#[derive(Debug)]
struct IncomingInvite {
    tx: TransactionId,
    request: Request,
}

/// A SIP user agent: registration with refresh, calls out and in (one at
/// a time in each direction the front end allows), instant messages out
/// and in.
///
/// Sans-IO, with the project's contract: every input and command takes
/// `now` and the transaction endpoint (usually the
/// [`switchboard_core::Endpoint`]) to send through. Feed it every
/// endpoint event ([`UserAgent::handle_event`]) and call
/// [`UserAgent::handle_timeout`] at [`UserAgent::poll_timeout`]; after
/// any input or command drain [`UserAgent::poll_event`]. Media sockets
/// are the front end's: an outgoing call takes a [`MediaSession`] made
/// for its RTP port, and an incoming one comes out as
/// [`UaEvent::IncomingCall`], which the front end answers with
/// [`UserAgent::accept`] (with a session) or [`UserAgent::reject`].
pub struct UserAgent {
    config: UaConfig,
    /// Incoming INVITEs are offered to the front end (else 486).
    answering: bool,
    registration: Option<Registration>,
    /// By Call-ID; ordered so that runs are reproducible.
    calls: BTreeMap<String, Call>,
    incoming: BTreeMap<String, IncomingInvite>,
    pagers: BTreeMap<String, Pager>,
    /// By id (the first SUBSCRIBE's Call-ID).
    subscriptions: BTreeMap<String, Subscription>,
    publication: Option<Publication>,
    owners: HashMap<TransactionId, (Owner, Method)>,
    /// Each call's INVITE client transaction, for CANCEL.
    invites: HashMap<String, TransactionId>,
    /// Requests the endpoint refused to send, reported as transport errors.
    failures: VecDeque<(Owner, Method, Failure)>,
    events: VecDeque<UaEvent>,
    rng: Box<dyn RngCore + Send>,
}

impl std::fmt::Debug for UserAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAgent")
            .field("aor", &self.config.aor)
            .field(
                "registered",
                &self.registration.as_ref().map(Registration::is_registered),
            )
            .field("calls", &self.calls.len())
            .field("pagers", &self.pagers.len())
            .field("subscriptions", &self.subscriptions.len())
            .field("publication", &self.publication)
            .finish_non_exhaustive()
    }
}

impl UserAgent {
    /// A user agent for `config`, drawing its tags, Call-IDs, cnonces and
    /// SRTP keys from `rng`. It refuses incoming calls until
    /// [`UserAgent::set_answering`].
    pub fn new(config: UaConfig, rng: Box<dyn RngCore + Send>) -> Self {
        Self {
            config,
            answering: false,
            registration: None,
            calls: BTreeMap::new(),
            incoming: BTreeMap::new(),
            pagers: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            publication: None,
            owners: HashMap::new(),
            invites: HashMap::new(),
            failures: VecDeque::new(),
            events: VecDeque::new(),
            rng,
        }
    }

    /// The settings.
    pub fn config(&self) -> &UaConfig {
        &self.config
    }

    /// The settings, to change; registrations, calls and messages started
    /// afterwards use the new ones.
    pub fn config_mut(&mut self) -> &mut UaConfig {
        &mut self.config
    }

    /// Whether incoming INVITEs are offered as [`UaEvent::IncomingCall`]
    /// (`true`) or answered 486 Busy Here (`false`, the default). Even
    /// when answering, an INVITE that comes while another call exists is
    /// answered 486.
    pub fn set_answering(&mut self, on: bool) {
        self.answering = on;
    }

    /// The registration, once [`UserAgent::register`] started one.
    pub fn registration(&self) -> Option<&Registration> {
        self.registration.as_ref()
    }

    /// The call with this Call-ID, until it ends.
    pub fn call(&self, call_id: &str) -> Option<&Call> {
        self.calls.get(call_id)
    }

    /// Every call not ended yet.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.calls.values()
    }

    // ----- commands -----

    /// Registers our Contact for `expires` seconds and keeps it refreshed
    /// (replacing any earlier registration).
    ///
    /// # Errors
    ///
    /// When the AOR is not a SIP URI or the registrar has no address.
    pub fn register(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        expires: u32,
    ) -> Result<(), UaError> {
        let mut registration = Registration::new(self.config.clone(), expires, self.child_rng())?;
        registration.start(now);
        self.registration = Some(registration);
        self.pump(now, endpoint);
        Ok(())
    }

    /// Calls `target` with an offer from `media`; returns the Call-ID.
    ///
    /// # Errors
    ///
    /// When `target` is not a SIP URI or has no address to send to.
    pub fn dial(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        target: &str,
        media: MediaSession,
    ) -> Result<String, UaError> {
        let call = Call::outgoing(now, self.config.clone(), target, media, self.child_rng())?;
        let call_id = call.call_id().to_owned();
        self.calls.insert(call_id.clone(), call);
        self.pump(now, endpoint);
        Ok(call_id)
    }

    /// Sends `text` to `target` in a MESSAGE; returns its Call-ID, which
    /// names the [`UaEvent::Delivered`] that follows.
    ///
    /// # Errors
    ///
    /// When `target` is not a SIP URI or has no address to send to.
    pub fn send_message(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        target: &str,
        text: &str,
    ) -> Result<String, UaError> {
        let pager = Pager::send(now, self.config.clone(), target, text, self.child_rng())?;
        let call_id = pager.call_id().to_owned();
        self.pagers.insert(call_id.clone(), pager);
        self.pump(now, endpoint);
        Ok(call_id)
    }

    /// Subscribes to `package` events (`presence`, `dialog`, `reg`) of
    /// `target` for `expires` seconds, kept refreshed until
    /// [`UserAgent::unsubscribe`]; returns the subscription's id, which
    /// names its [`UaEvent::Subscription`] events.
    ///
    /// # Errors
    ///
    /// When `target` is not a SIP URI or has no address to send to.
    pub fn subscribe(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        target: &str,
        package: &str,
        expires: u32,
    ) -> Result<String, UaError> {
        let subscription = Subscription::new(
            now,
            self.config.clone(),
            target,
            package,
            expires,
            self.child_rng(),
        )?;
        let id = subscription.id().to_owned();
        self.subscriptions.insert(id.clone(), subscription);
        self.pump(now, endpoint);
        Ok(id)
    }

    /// Ends subscription `id` (SUBSCRIBE with Expires: 0);
    /// [`crate::SubscriptionEvent::Ended`] follows.
    ///
    /// # Errors
    ///
    /// When there is no such subscription.
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        id: &str,
    ) -> Result<(), UaError> {
        self.subscriptions
            .get_mut(id)
            .ok_or_else(|| UaError::UnknownSubscription(id.to_owned()))?
            .stop(now);
        self.pump(now, endpoint);
        Ok(())
    }

    /// Every subscription not over yet.
    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.subscriptions.values()
    }

    /// The subscription `id`, until it is over.
    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions.get(id)
    }

    /// Publishes our presence for `expires` seconds and keeps it
    /// refreshed; a second call modifies the publication in place.
    ///
    /// # Errors
    ///
    /// When the AOR is not a SIP URI or has no address to send to.
    pub fn publish(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        presence: Presence,
        expires: u32,
    ) -> Result<(), UaError> {
        match &mut self.publication {
            Some(publication) if !publication.is_removed() => publication.modify(now, presence),
            _ => {
                let publication = Publication::new(
                    now,
                    self.config.clone(),
                    presence,
                    expires,
                    self.child_rng(),
                )?;
                self.publication = Some(publication);
            }
        }
        self.pump(now, endpoint);
        Ok(())
    }

    /// Removes our presence publication (PUBLISH with Expires: 0);
    /// [`PublicationEvent::Removed`] follows (at once when there was
    /// none).
    pub fn unpublish(&mut self, now: Instant, endpoint: &mut impl TransactionLayer) {
        match &mut self.publication {
            Some(publication) if !publication.is_removed() => publication.stop(now),
            _ => self
                .events
                .push_back(UaEvent::Publication(PublicationEvent::Removed)),
        }
        self.pump(now, endpoint);
    }

    /// The presence publication, once [`UserAgent::publish`] started one.
    pub fn publication(&self) -> Option<&Publication> {
        self.publication.as_ref()
    }

    /// Takes the incoming call `call_id` with `media`: 180 Ringing now,
    /// 200 OK after `ring_for` (or 488 when its offer does not fit
    /// `media`'s policy).
    ///
    /// # Errors
    ///
    /// When no incoming call with that Call-ID waits for an answer.
    pub fn accept(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        call_id: &str,
        media: MediaSession,
        ring_for: Duration,
    ) -> Result<(), UaError> {
        let invite = self
            .incoming
            .remove(call_id)
            .ok_or_else(|| UaError::UnknownCall(call_id.to_owned()))?;
        let rng = self.child_rng();
        let config = self.config.clone();
        match Call::incoming(
            now,
            config,
            invite.tx,
            &invite.request,
            media,
            ring_for,
            rng,
        ) {
            Some(call) => {
                self.calls.insert(call_id.to_owned(), call);
            }
            // Checked when the INVITE came; answered all the same.
            None => self.answer(
                now,
                endpoint,
                invite.tx,
                &invite.request,
                StatusCode::BAD_REQUEST,
            ),
        }
        self.pump(now, endpoint);
        Ok(())
    }

    /// Refuses the incoming call `call_id` with `status` (a final status:
    /// 486, 603, 503, ...).
    ///
    /// # Errors
    ///
    /// When no incoming call with that Call-ID waits for an answer.
    pub fn reject(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        call_id: &str,
        status: StatusCode,
    ) -> Result<(), UaError> {
        let invite = self
            .incoming
            .remove(call_id)
            .ok_or_else(|| UaError::UnknownCall(call_id.to_owned()))?;
        self.answer(now, endpoint, invite.tx, &invite.request, status);
        Ok(())
    }

    /// Hangs up call `call_id`: BYE once it is up, CANCEL (or 603 for an
    /// incoming one) before.
    ///
    /// # Errors
    ///
    /// When there is no such call.
    pub fn hangup(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        call_id: &str,
    ) -> Result<(), UaError> {
        self.calls
            .get_mut(call_id)
            .ok_or_else(|| UaError::UnknownCall(call_id.to_owned()))?
            .hangup(now);
        self.pump(now, endpoint);
        Ok(())
    }

    /// Hangs up every call.
    pub fn hangup_all(&mut self, now: Instant, endpoint: &mut impl TransactionLayer) {
        for call in self.calls.values_mut() {
            call.hangup(now);
        }
        self.pump(now, endpoint);
    }

    /// Puts call `call_id` on hold (`true`) or resumes it, by re-INVITE.
    ///
    /// # Errors
    ///
    /// When there is no such call, or it is not up or has a re-INVITE
    /// under way.
    pub fn hold(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        call_id: &str,
        hold: bool,
    ) -> Result<(), UaError> {
        let result = self
            .calls
            .get_mut(call_id)
            .ok_or_else(|| UaError::UnknownCall(call_id.to_owned()))?
            .set_hold(now, hold);
        self.pump(now, endpoint);
        result
    }

    /// Puts every call on hold (`true`) or resumes it; a call that cannot
    /// (not up yet, a re-INVITE under way) is left as it is.
    pub fn hold_all(&mut self, now: Instant, endpoint: &mut impl TransactionLayer, hold: bool) {
        for call in self.calls.values_mut() {
            if let Err(error) = call.set_hold(now, hold) {
                tracing::warn!(call_id = %call.call_id(), %error, "hold/resume not sent");
            }
        }
        self.pump(now, endpoint);
    }

    /// Winds down: hangs up every call, refuses incoming ones, ends the
    /// subscriptions and removes the publication, removes the
    /// registration ([`RegistrationEvent::Unregistered`] follows; at once
    /// when there was none).
    pub fn stop(&mut self, now: Instant, endpoint: &mut impl TransactionLayer) {
        for (_, invite) in std::mem::take(&mut self.incoming) {
            self.answer(
                now,
                endpoint,
                invite.tx,
                &invite.request,
                StatusCode::TEMPORARILY_UNAVAILABLE,
            );
        }
        for call in self.calls.values_mut() {
            call.hangup(now);
        }
        for subscription in self.subscriptions.values_mut() {
            subscription.stop(now);
        }
        if let Some(publication) = &mut self.publication {
            publication.stop(now);
        }
        match &mut self.registration {
            Some(registration) => registration.stop(now),
            None => self
                .events
                .push_back(UaEvent::Registration(RegistrationEvent::Unregistered)),
        }
        self.pump(now, endpoint);
    }

    // ----- inputs -----

    /// An event of the transaction endpoint.
    pub fn handle_event(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        event: Event,
    ) {
        match event {
            Event::Request { tx, request, .. } => self.on_request(now, endpoint, tx, &request),
            Event::Ack { request, .. } => {
                if let Some(call) = self.call_of(&request) {
                    call.handle_ack(now, &request);
                }
            }
            Event::Cancelled { invite_request, .. } => {
                let call_id = invite_request.headers().call_id().unwrap_or_default();
                if let Some(invite) = self.incoming.remove(call_id) {
                    // Offered but not taken yet: the caller gave up.
                    self.answer(
                        now,
                        endpoint,
                        invite.tx,
                        &invite.request,
                        StatusCode::REQUEST_TERMINATED,
                    );
                    self.events.push_back(UaEvent::Call {
                        call_id: call_id.to_owned(),
                        event: CallEvent::Ended(EndReason::RemoteHangup),
                    });
                } else if let Some(call) = self.calls.get_mut(call_id) {
                    call.handle_cancel(now);
                }
            }
            Event::Response { tx, response, .. } => match self.owners.get(&tx) {
                Some((Owner::Registration, _)) => {
                    if let Some(registration) = &mut self.registration {
                        registration.handle_response(now, &response);
                    }
                }
                Some((Owner::Call(id), _)) => {
                    if let Some(call) = self.calls.get_mut(id) {
                        call.handle_response(now, &response);
                    }
                }
                Some((Owner::Pager(id), _)) => {
                    if let Some(pager) = self.pagers.get_mut(id) {
                        pager.handle_response(now, &response);
                    }
                }
                Some((Owner::Subscription(id), _)) => {
                    if let Some(subscription) = self.subscriptions.get_mut(id) {
                        subscription.handle_response(now, &response);
                    }
                }
                Some((Owner::Publication, _)) => {
                    if let Some(publication) = &mut self.publication {
                        publication.handle_response(now, &response);
                    }
                }
                None => {}
            },
            // A 2xx retransmitted after the INVITE transaction ended: the
            // call ACKs it again.
            Event::StrayResponse { response, .. } => {
                let call_id = response.headers().call_id().unwrap_or_default();
                if let Some(call) = self.calls.get_mut(call_id) {
                    call.handle_response(now, &response);
                }
            }
            Event::Timeout { tx } => self.fail(now, tx, Failure::Timeout),
            Event::TransportError { tx } => self.fail(now, tx, Failure::TransportError),
            Event::Terminated { tx } => {
                self.owners.remove(&tx);
            }
            _ => {}
        }
        self.pump(now, endpoint);
    }

    /// The deadline of [`UserAgent::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant, endpoint: &mut impl TransactionLayer) {
        if let Some(registration) = &mut self.registration {
            if registration.poll_timeout().is_some_and(|t| t <= now) {
                registration.handle_timeout(now);
            }
        }
        for call in self.calls.values_mut() {
            if call.poll_timeout().is_some_and(|t| t <= now) {
                call.handle_timeout(now);
            }
        }
        for subscription in self.subscriptions.values_mut() {
            if subscription.poll_timeout().is_some_and(|t| t <= now) {
                subscription.handle_timeout(now);
            }
        }
        if let Some(publication) = &mut self.publication {
            if publication.poll_timeout().is_some_and(|t| t <= now) {
                publication.handle_timeout(now);
            }
        }
        self.pump(now, endpoint);
    }

    // ----- outputs -----

    /// When [`UserAgent::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.registration
            .as_ref()
            .and_then(Registration::poll_timeout)
            .into_iter()
            .chain(self.calls.values().filter_map(Call::poll_timeout))
            .chain(
                self.subscriptions
                    .values()
                    .filter_map(Subscription::poll_timeout),
            )
            .chain(
                self.publication
                    .as_ref()
                    .and_then(Publication::poll_timeout),
            )
            .min()
    }

    /// The next event for the front end.
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    // ----- internals -----

    /// An RNG of its own for a new registration, call or message, seeded
    /// from ours (so one seed still decides the whole run).
    fn child_rng(&mut self) -> Box<dyn RngCore + Send> {
        let mut seed = <StdRng as SeedableRng>::Seed::default();
        self.rng.fill_bytes(&mut seed);
        Box::new(StdRng::from_seed(seed))
    }

    fn call_of(&mut self, request: &Request) -> Option<&mut Call> {
        let call_id = request.headers().call_id()?;
        self.calls.get_mut(call_id)
    }

    fn fail(&mut self, now: Instant, tx: TransactionId, failure: Failure) {
        if let Some((owner, method)) = self.owners.get(&tx).cloned() {
            self.fail_owner(now, &owner, &method, failure);
        }
    }

    fn fail_owner(&mut self, now: Instant, owner: &Owner, method: &Method, failure: Failure) {
        match owner {
            Owner::Registration => {
                if let Some(registration) = &mut self.registration {
                    registration.handle_failure(now, failure);
                }
            }
            Owner::Call(id) => {
                if let Some(call) = self.calls.get_mut(id) {
                    call.handle_failure(now, method, failure);
                }
            }
            Owner::Pager(id) => {
                if let Some(pager) = self.pagers.get_mut(id) {
                    pager.handle_failure(now, failure);
                }
            }
            Owner::Subscription(id) => {
                if let Some(subscription) = self.subscriptions.get_mut(id) {
                    subscription.handle_failure(now, failure);
                }
            }
            Owner::Publication => {
                if let Some(publication) = &mut self.publication {
                    publication.handle_failure(now, failure);
                }
            }
        }
    }

    /// Carries out one action of `owner`.
    fn execute(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        owner: &Owner,
        action: Action,
    ) {
        match action {
            Action::Send {
                request,
                destination,
            } => {
                let method = request.method().clone();
                match endpoint.send_request(now, request, destination) {
                    Ok(tx) => {
                        if let (Owner::Call(id), Method::Invite) = (owner, &method) {
                            self.invites.insert(id.clone(), tx);
                        }
                        self.owners.insert(tx, (owner.clone(), method));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot send request");
                        self.failures
                            .push_back((owner.clone(), method, Failure::TransportError));
                    }
                }
            }
            Action::SendAck {
                request,
                destination,
            } => endpoint.send_stateless(&Message::Request(request), destination),
            Action::Respond { tx, response } => {
                if let Err(error) = endpoint.respond(now, tx, response) {
                    tracing::debug!(%error, "response not sent");
                }
            }
            Action::CancelInvite => {
                let tx = match owner {
                    Owner::Call(id) => self.invites.get(id).copied(),
                    Owner::Registration
                    | Owner::Pager(_)
                    | Owner::Subscription(_)
                    | Owner::Publication => None,
                };
                if let Some(tx) = tx {
                    if let Err(error) = endpoint.cancel(now, tx) {
                        tracing::debug!(%error, "CANCEL not sent");
                    }
                }
            }
        }
    }

    /// Carries out every queued action and collects every event, until
    /// nothing moves; forgets calls and messages that are over.
    fn pump(&mut self, now: Instant, endpoint: &mut impl TransactionLayer) {
        loop {
            let mut busy = false;
            while let Some((owner, method, failure)) = self.failures.pop_front() {
                busy = true;
                self.fail_owner(now, &owner, &method, failure);
            }
            while let Some(action) = self
                .registration
                .as_mut()
                .and_then(Registration::poll_action)
            {
                busy = true;
                self.execute(now, endpoint, &Owner::Registration, action);
            }
            while let Some(event) = self
                .registration
                .as_mut()
                .and_then(Registration::poll_event)
            {
                self.events.push_back(UaEvent::Registration(event));
            }
            let ids: Vec<String> = self.calls.keys().cloned().collect();
            for id in ids {
                let owner = Owner::Call(id.clone());
                while let Some(action) = self.calls.get_mut(&id).and_then(Call::poll_action) {
                    busy = true;
                    self.execute(now, endpoint, &owner, action);
                }
                while let Some(event) = self.calls.get_mut(&id).and_then(Call::poll_event) {
                    self.events.push_back(UaEvent::Call {
                        call_id: id.clone(),
                        event,
                    });
                }
                if self.calls.get(&id).is_some_and(Call::is_ended) {
                    self.calls.remove(&id);
                    self.invites.remove(&id);
                }
            }
            let ids: Vec<String> = self.pagers.keys().cloned().collect();
            for id in ids {
                let owner = Owner::Pager(id.clone());
                while let Some(action) = self.pagers.get_mut(&id).and_then(Pager::poll_action) {
                    busy = true;
                    self.execute(now, endpoint, &owner, action);
                }
                if let Some(delivery) = self.pagers.get(&id).and_then(Pager::result).cloned() {
                    self.pagers.remove(&id);
                    self.events.push_back(UaEvent::Delivered {
                        call_id: id,
                        delivery,
                    });
                }
            }
            busy |= self.pump_events(now, endpoint);
            if !busy {
                break;
            }
        }
    }

    /// One round of the subscriptions' and the publication's actions and
    /// events; forgets subscriptions that are over. True when an action
    /// was carried out.
    fn pump_events(&mut self, now: Instant, endpoint: &mut impl TransactionLayer) -> bool {
        let mut busy = false;
        let ids: Vec<String> = self.subscriptions.keys().cloned().collect();
        for id in ids {
            let owner = Owner::Subscription(id.clone());
            while let Some(action) = self
                .subscriptions
                .get_mut(&id)
                .and_then(Subscription::poll_action)
            {
                busy = true;
                self.execute(now, endpoint, &owner, action);
            }
            while let Some(event) = self
                .subscriptions
                .get_mut(&id)
                .and_then(Subscription::poll_event)
            {
                self.events.push_back(UaEvent::Subscription {
                    id: id.clone(),
                    event,
                });
            }
            if self
                .subscriptions
                .get(&id)
                .is_some_and(Subscription::is_gone)
            {
                self.subscriptions.remove(&id);
            }
        }
        while let Some(action) = self.publication.as_mut().and_then(Publication::poll_action) {
            busy = true;
            self.execute(now, endpoint, &Owner::Publication, action);
        }
        while let Some(event) = self.publication.as_mut().and_then(Publication::poll_event) {
            self.events.push_back(UaEvent::Publication(event));
        }
        busy
    }

    /// Answers a request outside any call with `status` (and our Allow).
    fn answer(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        tx: TransactionId,
        request: &Request,
        status: StatusCode,
    ) {
        let tag = token::tag(&mut *self.rng);
        let response = ResponseBuilder::from_request(request, status)
            .to_tag(&tag)
            .header(HeaderName::Allow, ALLOW)
            .build();
        match response {
            Ok(response) => {
                if let Err(error) = endpoint.respond(now, tx, response) {
                    tracing::debug!(%error, "response not sent");
                }
            }
            Err(error) => tracing::debug!(%error, "cannot build the response"),
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        tx: TransactionId,
        request: &Request,
    ) {
        if let Some(call) = self.call_of(request) {
            call.handle_request(now, tx, request);
            return;
        }
        match request.method() {
            Method::Invite => self.on_invite(now, endpoint, tx, request),
            Method::Message => {
                let from = request
                    .headers()
                    .get(HeaderName::From)
                    .unwrap_or_default()
                    .to_owned();
                let text = String::from_utf8_lossy(request.body()).into_owned();
                self.answer(now, endpoint, tx, request, StatusCode::OK);
                self.events.push_back(UaEvent::Message { from, text });
            }
            Method::Options => self.answer(now, endpoint, tx, request, StatusCode::OK),
            Method::Notify => {
                match self.subscriptions.values_mut().find(|s| s.matches(request)) {
                    Some(subscription) => subscription.handle_notify(now, tx, request),
                    None => {
                        // Not (or no longer) ours: the notifier stops.
                        let status = StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST;
                        self.answer(now, endpoint, tx, request, status);
                    }
                }
            }
            Method::Bye | Method::Cancel | Method::Info | Method::Update | Method::Prack => {
                let status = StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST;
                self.answer(now, endpoint, tx, request, status);
            }
            _ => self.answer(now, endpoint, tx, request, StatusCode::NOT_IMPLEMENTED),
        }
    }

    /// A new INVITE: offered to the front end when we answer calls and
    /// have none, else 486; 400 when it cannot start a dialog.
    fn on_invite(
        &mut self,
        now: Instant,
        endpoint: &mut impl TransactionLayer,
        tx: TransactionId,
        request: &Request,
    ) {
        if !self.answering || !self.calls.is_empty() || !self.incoming.is_empty() {
            self.answer(now, endpoint, tx, request, StatusCode::BUSY_HERE);
            return;
        }
        let Some(dialog) = Dialog::from_request(request, String::new()) else {
            self.answer(now, endpoint, tx, request, StatusCode::BAD_REQUEST);
            return;
        };
        let from = request
            .headers()
            .get(HeaderName::From)
            .unwrap_or_default()
            .to_owned();
        self.incoming.insert(
            dialog.call_id.clone(),
            IncomingInvite {
                tx,
                request: request.clone(),
            },
        );
        self.events.push_back(UaEvent::IncomingCall {
            call_id: dialog.call_id,
            from,
        });
    }
}
