//! The subscriber side of SIP events (RFC 6665): SUBSCRIBE with digest
//! retry, refresh before expiry, NOTIFY answered and summarised,
//! re-subscription when the notifier ends the subscription in a way that
//! invites it, and unsubscription on stop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use switchboard_core::{Destination, TransactionId};
use switchboard_proto::header::{
    Event as EventHeader, SubState, SubscriptionState as SubStateHeader,
};
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};

use crate::action::Action;
use crate::auth::{AuthHeader, DigestClient};
use crate::bodies::{DIALOG_INFO, NotifyBody, PIDF, REGINFO, RLMI, RegInfo};
use crate::config::UaConfig;
use crate::dialog::Dialog;
use crate::error::UaError;
use crate::event::{Failure, Notification, SubscriptionEnd, SubscriptionEvent, SubscriptionState};
use crate::expires::{raised_minimum, seconds};
use crate::registration::{Backoff, final_status, refresh_after};

/// How long an ended subscription still answers late NOTIFYs 200 (the
/// final NOTIFY after our unsubscription) instead of 481.
const LINGER: Duration = Duration::from_secs(32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A SUBSCRIBE (first, refresh, or its authenticated retry) is out.
    Subscribing,
    Active {
        refresh_at: Instant,
    },
    /// Waiting to start a new subscription.
    RetryWait {
        at: Instant,
    },
    /// A SUBSCRIBE with Expires: 0 is out.
    Unsubscribing,
    /// Over; late NOTIFYs are still answered until `forget_at`.
    Ended {
        forget_at: Instant,
    },
    /// Over and forgotten.
    Gone,
}

/// The Accept value for an event package's documents: its own type, and
/// resource lists of them (RFC 4662 §5.2).
fn accept_for(package: &str) -> Option<String> {
    let document = match package {
        "presence" => PIDF,
        "dialog" => DIALOG_INFO,
        "reg" => REGINFO,
        _ => return None,
    };
    Some(format!("{document}, multipart/related, {RLMI}"))
}

/// One subscription to `package` events of `target`. Sans-IO like
/// [`crate::Registration`]: drain [`Subscription::poll_action`] and
/// [`Subscription::poll_event`] after each input, and call
/// [`Subscription::handle_timeout`] at [`Subscription::poll_timeout`].
pub struct Subscription {
    config: UaConfig,
    /// The Call-ID of the first SUBSCRIBE: names the subscription across
    /// re-subscriptions.
    id: String,
    package: String,
    target: String,
    /// Where the first SUBSCRIBE went: in-dialog requests go there too
    /// when the notifier's Contact names no address we can reach.
    first_hop: Destination,
    expires: u32,
    /// The Expires of the SUBSCRIBE out.
    asking: u32,
    backoff: Backoff,
    dialog: Dialog,
    /// The notifier's tag is known (its 2xx or a NOTIFY came).
    confirmed: bool,
    state: State,
    /// [`Subscription::stop`] was called.
    stopping: bool,
    /// Failures (and retried terminations) in a row.
    failures: u32,
    /// The registrations as the reginfo NOTIFYs so far say (a partial one
    /// names only what changed).
    registrations: Option<RegInfo>,
    auth: DigestClient,
    rng: Box<dyn RngCore + Send>,
    actions: VecDeque<Action>,
    events: VecDeque<SubscriptionEvent>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("target", &self.target)
            .field("package", &self.package)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Subscribes to `package` events of `target` for `expires` seconds;
    /// the first SUBSCRIBE is among the actions at once.
    ///
    /// # Errors
    ///
    /// When `target` is not a SIP URI or has no address to send to.
    pub fn new(
        now: Instant,
        config: UaConfig,
        target: &str,
        package: &str,
        expires: u32,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Result<Self, UaError> {
        let _ = now;
        let first_hop = config.destination(target)?;
        let dialog = Dialog::outgoing(&config, target, &mut *rng)?;
        let mut subscription = Self {
            id: dialog.call_id.clone(),
            config,
            package: package.to_owned(),
            target: target.to_owned(),
            first_hop,
            expires,
            asking: expires,
            backoff: Backoff::default(),
            dialog,
            confirmed: false,
            state: State::Subscribing,
            stopping: false,
            registrations: None,
            failures: 0,
            auth: DigestClient::default(),
            rng,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        };
        subscription.send(expires, None);
        Ok(subscription)
    }

    /// The name of the subscription (the first SUBSCRIBE's Call-ID).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The event package.
    pub fn package(&self) -> &str {
        &self.package
    }

    /// The watched address.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Sets the retry delays.
    pub fn set_backoff(&mut self, backoff: Backoff) {
        self.backoff = backoff;
    }

    /// Whether the notifier has accepted and the subscription is in place.
    pub fn is_active(&self) -> bool {
        matches!(self.state, State::Active { .. })
    }

    /// Whether the subscription is over and can be forgotten.
    pub fn is_gone(&self) -> bool {
        self.state == State::Gone
    }

    /// Whether a NOTIFY belongs to this subscription's dialog.
    pub fn matches(&self, request: &Request) -> bool {
        let h = request.headers();
        h.call_id() == Some(self.dialog.call_id.as_str())
            && h.to_tag() == Some(self.dialog.local_tag.as_str())
    }

    /// Ends the subscription: SUBSCRIBE with Expires: 0 once the dialog
    /// exists (after the pending SUBSCRIBE's answer), else at once.
    pub fn stop(&mut self, now: Instant) {
        self.stopping = true;
        match self.state {
            State::Active { .. } => {
                self.auth.reset();
                self.send(0, None);
                self.state = State::Unsubscribing;
            }
            State::RetryWait { .. } => self.end(now, SubscriptionEnd::Unsubscribed),
            // The answer to the SUBSCRIBE out decides.
            State::Subscribing | State::Unsubscribing | State::Ended { .. } | State::Gone => {}
        }
    }

    fn send(&mut self, expires: u32, auth: Option<&AuthHeader>) {
        let cseq = self.dialog.next_cseq();
        let mut b = self
            .dialog
            .builder(Method::Subscribe, cseq)
            .contact(&format!("<{}>", self.config.contact))
            .header(HeaderName::Event, self.package.clone())
            .header(HeaderName::Expires, expires.to_string())
            // A list URI (one SUBSCRIBE for many lamps) is answered with
            // RLMI NOTIFYs only to subscribers that say they take them.
            .header(HeaderName::Supported, "eventlist")
            .header(HeaderName::UserAgent, self.config.user_agent.clone());
        if let Some(accept) = accept_for(&self.package) {
            b = b.header(HeaderName::Accept, accept);
        }
        if let Some(auth) = auth {
            b = b.header(auth.name, auth.value.clone());
        }
        self.asking = expires;
        let destination = self
            .config
            .destination(&self.dialog.next_hop())
            .unwrap_or(self.first_hop);
        match b.build() {
            Ok(request) => self.actions.push_back(Action::Send {
                request,
                destination,
            }),
            Err(error) => tracing::warn!(%error, "cannot build SUBSCRIBE"),
        }
    }

    /// A new dialog and a first SUBSCRIBE.
    fn restart(&mut self) {
        match Dialog::outgoing(&self.config, &self.target, &mut *self.rng) {
            Ok(dialog) => self.dialog = dialog,
            Err(error) => tracing::warn!(%error, "cannot subscribe again"),
        }
        self.confirmed = false;
        self.auth.reset();
        self.send(self.expires, None);
        self.state = State::Subscribing;
    }

    /// Starts over after `retry_in` (at once when zero), reporting why.
    fn retry(&mut self, now: Instant, status: StatusCode, reason: String, retry_in: Duration) {
        tracing::info!(target = %self.target, status = status.as_u16(), %reason, ?retry_in, "subscribing again");
        self.events.push_back(SubscriptionEvent::Retrying {
            status,
            reason,
            retry_in,
        });
        if retry_in.is_zero() {
            self.restart();
        } else {
            self.state = State::RetryWait { at: now + retry_in };
        }
    }

    fn end(&mut self, now: Instant, why: SubscriptionEnd) {
        self.state = State::Ended {
            forget_at: now + LINGER,
        };
        self.events.push_back(SubscriptionEvent::Ended(why));
    }

    /// A response to one of our SUBSCRIBEs.
    pub fn handle_response(&mut self, now: Instant, response: &Response) {
        let Some(status) = final_status(response, &self.dialog.call_id, self.dialog.local_cseq)
            .filter(|_| matches!(self.state, State::Subscribing | State::Unsubscribing))
        else {
            return;
        };
        if status.is_success() {
            self.on_success(now, response);
            return;
        }
        if crate::auth::is_challenge(status) {
            let uri = self.dialog.remote_target.clone();
            match self.auth.answer(
                response,
                self.config.credentials.as_ref(),
                "SUBSCRIBE",
                &uri,
                b"",
                &mut *self.rng,
            ) {
                Ok(header) => self.send(self.asking, Some(&header)),
                Err(error) => self.fail(now, status, error.to_string()),
            }
            return;
        }
        if let Some(min) = raised_minimum(response, self.asking) {
            self.expires = min;
            self.send(min, None);
            return;
        }
        if status == StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
            && self.confirmed
            && self.state == State::Subscribing
        {
            // The notifier forgot the dialog: a new subscription.
            self.retry(now, status, response.reason().to_owned(), Duration::ZERO);
            return;
        }
        self.fail(now, status, response.reason().to_owned());
    }

    fn on_success(&mut self, now: Instant, response: &Response) {
        let h = response.headers();
        if self.confirmed {
            self.dialog.refresh_target(h);
        } else {
            self.dialog.confirm(response);
            self.confirmed = true;
        }
        if self.state == State::Unsubscribing {
            self.end(now, SubscriptionEnd::Unsubscribed);
            return;
        }
        let granted = seconds(h, HeaderName::Expires).unwrap_or(self.asking);
        if self.stopping {
            self.auth.reset();
            self.send(0, None);
            self.state = State::Unsubscribing;
            return;
        }
        if granted == 0 {
            self.end(now, SubscriptionEnd::Terminated { reason: None });
            return;
        }
        self.state = State::Active {
            refresh_at: now + refresh_after(granted),
        };
        self.events
            .push_back(SubscriptionEvent::Accepted { expires: granted });
    }

    /// Our SUBSCRIBE got no response.
    pub fn handle_failure(&mut self, now: Instant, failure: Failure) {
        if !matches!(self.state, State::Subscribing | State::Unsubscribing) {
            return;
        }
        self.fail(now, failure.status(), failure.reason().into());
    }

    /// A failed SUBSCRIBE: a refusal ends the subscription, a timeout or
    /// server error is tried again with backoff.
    fn fail(&mut self, now: Instant, status: StatusCode, reason: String) {
        if self.stopping {
            self.end(now, SubscriptionEnd::Unsubscribed);
            return;
        }
        let code = status.as_u16();
        let transient = code == 408 || (500..600).contains(&code);
        if !transient {
            tracing::warn!(target = %self.target, code, %reason, "subscription refused");
            self.end(now, SubscriptionEnd::Refused { status, reason });
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let retry_in = self.backoff.delay(self.failures);
        self.retry(now, status, reason, retry_in);
    }

    /// A NOTIFY of this subscription's dialog ([`Subscription::matches`]):
    /// answered here, reported as [`SubscriptionEvent::Notified`].
    pub fn handle_notify(&mut self, now: Instant, tx: TransactionId, request: &Request) {
        let h = request.headers();
        let package_matches = h
            .typed::<EventHeader<'_>>()
            .and_then(Result::ok)
            .is_some_and(|e| e.package == self.package);
        if !package_matches {
            self.respond(tx, request, StatusCode::BAD_EVENT);
            return;
        }
        let sub_state = h.typed::<SubStateHeader<'_>>().and_then(Result::ok);
        let Some(sub_state) = sub_state else {
            self.respond(tx, request, StatusCode::BAD_REQUEST);
            return;
        };
        if self.confirmed {
            if h.from_tag() != self.dialog.remote_tag.as_deref() {
                let status = StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST;
                self.respond(tx, request, status);
                return;
            }
            self.dialog.refresh_target(h);
        } else {
            self.dialog.confirm_from_request(request);
            self.confirmed = true;
        }
        self.dialog.remote_cseq = h.cseq().map(|c| c.seq);
        self.respond(tx, request, StatusCode::OK);
        if matches!(self.state, State::Ended { .. } | State::Gone) {
            return;
        }
        let state = match sub_state.state {
            SubState::Active => SubscriptionState::Active {
                expires: sub_state.expires,
            },
            SubState::Pending => SubscriptionState::Pending,
            SubState::Terminated => SubscriptionState::Terminated {
                reason: sub_state.reason.map(str::to_owned),
            },
            SubState::Other(s) => SubscriptionState::Other(s.to_owned()),
        };
        let body = NotifyBody::read(h.get(HeaderName::ContentType), request.body());
        let body = self.held_registrations(body);
        self.events
            .push_back(SubscriptionEvent::Notified(Notification {
                event: self.package.clone(),
                state: state.clone(),
                body,
            }));
        match state {
            SubscriptionState::Active { expires } => {
                self.failures = 0;
                // The notifier may shorten the subscription.
                if let (State::Active { refresh_at }, Some(expires)) = (self.state, expires) {
                    let sooner = now + refresh_after(expires);
                    if sooner < refresh_at {
                        self.state = State::Active { refresh_at: sooner };
                    }
                }
            }
            SubscriptionState::Terminated { reason } => {
                self.on_terminated(now, reason, sub_state.retry_after);
            }
            SubscriptionState::Pending | SubscriptionState::Other(_) => {}
        }
    }

    /// A reginfo `body` merged into the registrations held (RFC 3680 §5),
    /// so that what is reported is the whole state; other bodies as they
    /// are.
    fn held_registrations(&mut self, body: NotifyBody) -> NotifyBody {
        let NotifyBody::Registrations(news) = body else {
            return body;
        };
        let state = match self.registrations.take() {
            Some(held) => held.merged(news),
            None => news,
        };
        self.registrations = Some(state.clone());
        NotifyBody::Registrations(state)
    }

    /// The notifier ended the subscription: RFC 6665 §4.1.3 says which
    /// reasons invite a new one, and when.
    fn on_terminated(&mut self, now: Instant, reason: Option<String>, retry_after: Option<u32>) {
        if self.stopping {
            self.end(now, SubscriptionEnd::Unsubscribed);
            return;
        }
        let retry_in = match reason.as_deref() {
            Some("deactivated" | "timeout") | None => {
                self.failures = self.failures.saturating_add(1);
                // At once the first time; a notifier that keeps ending
                // them gets the backoff.
                if self.failures > 1 {
                    self.backoff.delay(self.failures - 1)
                } else {
                    Duration::ZERO
                }
            }
            Some("probation" | "giveup") => {
                self.failures = self.failures.saturating_add(1);
                retry_after.map_or_else(
                    || self.backoff.delay(self.failures),
                    |s| Duration::from_secs(u64::from(s)),
                )
            }
            Some(_) => {
                self.end(now, SubscriptionEnd::Terminated { reason });
                return;
            }
        };
        let why = reason.unwrap_or_else(|| "terminated".to_owned());
        self.retry(now, StatusCode::OK, why, retry_in);
    }

    fn respond(&mut self, tx: TransactionId, request: &Request, status: StatusCode) {
        let response = ResponseBuilder::from_request(request, status)
            .to_tag(&self.dialog.local_tag)
            .build();
        match response {
            Ok(response) => self.actions.push_back(Action::Respond { tx, response }),
            Err(error) => tracing::debug!(%error, "cannot build the NOTIFY's answer"),
        }
    }

    /// Refreshes, retries or forgets when their time has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Active { refresh_at } if now >= refresh_at => {
                self.auth.reset();
                self.send(self.expires, None);
                self.state = State::Subscribing;
            }
            State::RetryWait { at } if now >= at => self.restart(),
            State::Ended { forget_at } if now >= forget_at => self.state = State::Gone,
            _ => {}
        }
    }

    /// When [`Subscription::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Active { refresh_at } => Some(refresh_at),
            State::RetryWait { at } => Some(at),
            State::Ended { forget_at } => Some(forget_at),
            State::Subscribing | State::Unsubscribing | State::Gone => None,
        }
    }

    /// The next SIP action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SubscriptionEvent> {
        self.events.pop_front()
    }
}
