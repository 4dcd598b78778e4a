//! Publishing our presence (RFC 3903): PUBLISH with a PIDF body, the
//! SIP-ETag kept, refresh with SIP-If-Match and no body, modify, removal
//! with Expires: 0, and a new publication when the agent lost ours (412).

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::RngCore;
use switchboard_core::{Destination, token};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response, StatusCode};

use crate::action::Action;
use crate::auth::{AuthHeader, DigestClient};
use crate::bodies::{PIDF, Presence};
use crate::config::UaConfig;
use crate::error::UaError;
use crate::event::{Failure, PublicationEvent};
use crate::expires::{raised_minimum, seconds};
use crate::registration::{Backoff, final_status, refresh_after};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A PUBLISH (or its authenticated retry) is out.
    Publishing,
    Published {
        refresh_at: Instant,
    },
    RetryWait {
        at: Instant,
    },
    /// A PUBLISH with Expires: 0 is out.
    Removing,
    Removed,
}

/// What the PUBLISH out carries, to send it again after a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A new publication: the body, no SIP-If-Match.
    Initial,
    /// SIP-If-Match, no body.
    Refresh,
    /// SIP-If-Match and the new body.
    Modify,
    /// SIP-If-Match, Expires: 0.
    Remove,
}

/// Our presence at the presence agent of our AOR. Sans-IO like
/// [`crate::Registration`].
pub struct Publication {
    config: UaConfig,
    aor: String,
    destination: Destination,
    call_id: String,
    from_tag: String,
    cseq: u32,
    tuple_id: String,
    expires: u32,
    backoff: Backoff,
    presence: Presence,
    etag: Option<String>,
    state: State,
    /// What the PUBLISH out is, and its Expires.
    sent: (Kind, u32),
    /// The presence changed while a PUBLISH was out.
    modified: bool,
    stopping: bool,
    failures: u32,
    auth: DigestClient,
    rng: Box<dyn RngCore + Send>,
    actions: VecDeque<Action>,
    events: VecDeque<PublicationEvent>,
}

impl std::fmt::Debug for Publication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publication")
            .field("aor", &self.aor)
            .field("state", &self.state)
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

impl Publication {
    /// Publishes `presence` for our AOR for `expires` seconds; the first
    /// PUBLISH is among the actions at once.
    ///
    /// # Errors
    ///
    /// When the AOR is not a SIP URI or has no address to send to.
    pub fn new(
        now: Instant,
        config: UaConfig,
        presence: Presence,
        expires: u32,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Result<Self, UaError> {
        let _ = now;
        let aor = config.aor.clone();
        let destination = config.destination(&aor)?;
        let mut publication = Self {
            call_id: token::call_id(&mut *rng),
            from_tag: token::tag(&mut *rng),
            tuple_id: token::tag(&mut *rng),
            config,
            aor,
            destination,
            cseq: 0,
            expires,
            backoff: Backoff::default(),
            presence,
            etag: None,
            state: State::Publishing,
            sent: (Kind::Initial, expires),
            modified: false,
            stopping: false,
            failures: 0,
            auth: DigestClient::default(),
            rng,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        };
        publication.send(Kind::Initial, expires, None);
        Ok(publication)
    }

    /// Sets the retry delays.
    pub fn set_backoff(&mut self, backoff: Backoff) {
        self.backoff = backoff;
    }

    /// The entity tag of our publication, once accepted.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// The presence published (or to be).
    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    /// Whether the publication is removed (after [`Publication::stop`]).
    pub fn is_removed(&self) -> bool {
        self.state == State::Removed
    }

    /// Publishes `presence` instead (a modify, RFC 3903 §4.4), now or as
    /// soon as the PUBLISH out is answered.
    pub fn modify(&mut self, now: Instant, presence: Presence) {
        let _ = now;
        self.presence = presence;
        match self.state {
            State::Published { .. } => {
                self.auth.reset();
                self.send(Kind::Modify, self.expires, None);
                self.state = State::Publishing;
            }
            State::Publishing => self.modified = true,
            // The next attempt carries it.
            State::RetryWait { .. } | State::Removing | State::Removed => {}
        }
    }

    /// Removes the publication (PUBLISH with Expires: 0), or just stops
    /// when there is none.
    pub fn stop(&mut self, now: Instant) {
        let _ = now;
        self.stopping = true;
        match self.state {
            State::Published { .. } => self.remove(),
            State::RetryWait { .. } => self.removed(),
            State::Publishing | State::Removing | State::Removed => {}
        }
    }

    fn remove(&mut self) {
        self.auth.reset();
        self.send(Kind::Remove, 0, None);
        self.state = State::Removing;
    }

    fn removed(&mut self) {
        self.state = State::Removed;
        self.events.push_back(PublicationEvent::Removed);
    }

    fn build(
        &mut self,
        kind: Kind,
        expires: u32,
        auth: Option<&AuthHeader>,
    ) -> Result<Request, UaError> {
        self.cseq = self.cseq.wrapping_add(1);
        let mut b = RequestBuilder::new(Method::Publish, self.aor.clone())
            .from(&self.config.aor_value(), &self.from_tag)
            .to(&self.config.aor_value(), None)
            .call_id(&self.call_id)
            .cseq(self.cseq)
            .header(HeaderName::Event, "presence")
            .header(HeaderName::Expires, expires.to_string())
            .header(HeaderName::UserAgent, self.config.user_agent.clone());
        if kind != Kind::Initial {
            if let Some(etag) = &self.etag {
                b = b.header(HeaderName::SipIfMatch, etag.clone());
            }
        }
        if let Some(auth) = auth {
            b = b.header(auth.name, auth.value.clone());
        }
        if matches!(kind, Kind::Initial | Kind::Modify) {
            let pidf = self.presence.to_pidf(&self.aor, &self.tuple_id);
            b = b.body(PIDF, pidf.into_bytes());
        }
        Ok(b.build()?)
    }

    fn send(&mut self, kind: Kind, expires: u32, auth: Option<&AuthHeader>) {
        self.sent = (kind, expires);
        match self.build(kind, expires, auth) {
            Ok(request) => self.actions.push_back(Action::Send {
                request,
                destination: self.destination,
            }),
            Err(error) => tracing::warn!(%error, "cannot build PUBLISH"),
        }
    }

    /// A new publication from scratch (no entity tag).
    fn publish_again(&mut self) {
        self.etag = None;
        self.auth.reset();
        self.modified = false;
        self.send(Kind::Initial, self.expires, None);
        self.state = State::Publishing;
    }

    /// A response to one of our PUBLISHes.
    pub fn handle_response(&mut self, now: Instant, response: &Response) {
        let Some(status) = final_status(response, &self.call_id, self.cseq)
            .filter(|_| matches!(self.state, State::Publishing | State::Removing))
        else {
            return;
        };
        if status.is_success() {
            self.on_success(now, response);
            return;
        }
        let (kind, expires) = self.sent;
        if crate::auth::is_challenge(status) {
            let body = match kind {
                Kind::Initial | Kind::Modify => self.presence.to_pidf(&self.aor, &self.tuple_id),
                Kind::Refresh | Kind::Remove => String::new(),
            };
            let aor = self.aor.clone();
            match self.auth.answer(
                response,
                self.config.credentials.as_ref(),
                "PUBLISH",
                &aor,
                body.as_bytes(),
                &mut *self.rng,
            ) {
                Ok(header) => self.send(kind, expires, Some(&header)),
                Err(error) => self.fail(now, status, error.to_string()),
            }
            return;
        }
        if status == StatusCode::CONDITIONAL_REQUEST_FAILED {
            // The agent does not know our entity tag: publish anew.
            if self.state == State::Removing {
                self.removed();
            } else {
                tracing::info!(aor = %self.aor, "publication lost (412): publishing again");
                self.publish_again();
            }
            return;
        }
        if let Some(min) = raised_minimum(response, expires).filter(|_| expires > 0) {
            self.expires = min;
            self.send(kind, min, None);
            return;
        }
        self.fail(now, status, response.reason().to_owned());
    }

    fn on_success(&mut self, now: Instant, response: &Response) {
        let h = response.headers();
        self.failures = 0;
        if self.state == State::Removing {
            self.etag = None;
            self.removed();
            return;
        }
        if let Some(etag) = h.get(HeaderName::SipETag) {
            self.etag = Some(etag.trim().to_owned());
        }
        let granted = seconds(h, HeaderName::Expires).unwrap_or(self.sent.1);
        if self.stopping {
            self.remove();
            return;
        }
        let Some(etag) = self.etag.clone() else {
            self.fail(now, response.status(), "no SIP-ETag in the answer".into());
            return;
        };
        self.state = State::Published {
            refresh_at: now + refresh_after(granted.max(1)),
        };
        self.events.push_back(PublicationEvent::Published {
            expires: granted,
            etag,
        });
        if std::mem::take(&mut self.modified) {
            self.modify(now, self.presence.clone());
        }
    }

    /// Our PUBLISH got no response.
    pub fn handle_failure(&mut self, now: Instant, failure: Failure) {
        if !matches!(self.state, State::Publishing | State::Removing) {
            return;
        }
        self.fail(now, failure.status(), failure.reason().into());
    }

    fn fail(&mut self, now: Instant, status: StatusCode, reason: String) {
        if self.stopping || self.state == State::Removing {
            self.removed();
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let retry_in = self.backoff.delay(self.failures);
        tracing::warn!(aor = %self.aor, status = status.as_u16(), %reason, ?retry_in, "publication failed");
        self.state = State::RetryWait { at: now + retry_in };
        self.events.push_back(PublicationEvent::Failed {
            status,
            reason,
            retry_in,
        });
    }

    /// Refreshes or retries when their time has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Published { refresh_at } if now >= refresh_at => {
                self.auth.reset();
                self.send(Kind::Refresh, self.expires, None);
                self.state = State::Publishing;
            }
            State::RetryWait { at } if now >= at => self.publish_again(),
            _ => {}
        }
    }

    /// When [`Publication::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Published { refresh_at } => Some(refresh_at),
            State::RetryWait { at } => Some(at),
            State::Publishing | State::Removing | State::Removed => None,
        }
    }

    /// The next SIP action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PublicationEvent> {
        self.events.pop_front()
    }
}
