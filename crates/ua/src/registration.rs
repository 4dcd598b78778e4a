//! Registration with a registrar (RFC 3261 §10.2): digest authentication,
//! refresh before expiry, retry with backoff, unregistration on stop.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use switchboard_core::Destination;
use switchboard_proto::header::Contact;
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response, StatusCode};

use crate::action::Action;
use crate::auth::{AuthHeader, DigestClient};
use crate::config::UaConfig;
use crate::error::UaError;
use crate::event::{Failure, RegistrationEvent};
use crate::expires::{raised_minimum, seconds};
use switchboard_core::token;

/// Retry delays after failures: `min`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    pub(crate) fn delay(self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1).min(16))
            .unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// A REGISTER (or its authenticated retry) is out.
    Registering,
    Registered {
        refresh_at: Instant,
    },
    RetryWait {
        at: Instant,
    },
    /// A REGISTER with Expires: 0 is out.
    Unregistering,
    Stopped,
}

/// When to refresh a binding granted for `expires` seconds: at 90 %, but
/// at least 5 s before it runs out (half-way for very short ones).
pub fn refresh_after(expires: u32) -> Duration {
    let secs = u64::from(expires);
    let at = if secs > 10 {
        (secs * 9 / 10).min(secs - 5)
    } else {
        secs / 2
    };
    Duration::from_secs(at.max(1))
}

/// The final status of `response` when it answers our request `call_id`,
/// CSeq `cseq` (REGISTER, PUBLISH, SUBSCRIBE); `None` for a provisional
/// response or one to another request.
pub(crate) fn final_status(response: &Response, call_id: &str, cseq: u32) -> Option<StatusCode> {
    let h = response.headers();
    let ours = h.call_id() == Some(call_id) && h.cseq().map(|c| c.seq) == Some(cseq);
    Some(response.status()).filter(|status| ours && !status.is_provisional())
}

/// One registration of our contact at the registrar of our AOR. Sans-IO:
/// commands and inputs take `now`; drain [`Registration::poll_action`] and
/// [`Registration::poll_event`] after each, and call
/// [`Registration::handle_timeout`] at [`Registration::poll_timeout`].
pub struct Registration {
    config: UaConfig,
    expires: u32,
    backoff: Backoff,
    registrar: String,
    destination: Destination,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: State,
    failures: u32,
    auth: DigestClient,
    rng: Box<dyn RngCore + Send>,
    actions: VecDeque<Action>,
    events: VecDeque<RegistrationEvent>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("aor", &self.config.aor)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Registration {
    /// A registration asking for `expires` seconds.
    ///
    /// # Errors
    ///
    /// When the AOR is not a SIP URI, or names a host and no outbound proxy
    /// is set.
    pub fn new(
        config: UaConfig,
        expires: u32,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Result<Self, UaError> {
        let registrar = config.registrar_uri()?;
        let destination = config.destination(&registrar)?;
        Ok(Self {
            call_id: token::call_id(&mut *rng),
            from_tag: token::tag(&mut *rng),
            config,
            expires,
            backoff: Backoff::default(),
            registrar,
            destination,
            cseq: 0,
            state: State::Idle,
            failures: 0,
            auth: DigestClient::default(),
            rng,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Sets the retry delays.
    pub fn set_backoff(&mut self, backoff: Backoff) {
        self.backoff = backoff;
    }

    /// The Call-ID of every REGISTER (responses are matched by it).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Whether a binding is in place.
    pub fn is_registered(&self) -> bool {
        matches!(self.state, State::Registered { .. })
    }

    /// Whether the registration has stopped (after [`Registration::stop`]).
    pub fn is_stopped(&self) -> bool {
        self.state == State::Stopped
    }

    /// Sends the first REGISTER.
    pub fn start(&mut self, now: Instant) {
        let _ = now;
        self.auth.reset();
        self.send(self.expires, None);
        self.state = State::Registering;
    }

    /// Removes the binding (REGISTER with Expires: 0), or just stops when
    /// there is none.
    pub fn stop(&mut self, now: Instant) {
        let _ = now;
        match self.state {
            State::Registered { .. } | State::Registering => {
                self.auth.reset();
                self.send(0, None);
                self.state = State::Unregistering;
            }
            State::Unregistering | State::Stopped => {}
            State::Idle | State::RetryWait { .. } => {
                self.state = State::Stopped;
                self.events.push_back(RegistrationEvent::Unregistered);
            }
        }
    }

    fn build(&mut self, expires: u32, auth: Option<&AuthHeader>) -> Result<Request, UaError> {
        self.cseq = self.cseq.wrapping_add(1);
        let mut b = RequestBuilder::new(Method::Register, self.registrar.clone())
            .from(&self.config.aor_value(), &self.from_tag)
            .to(&self.config.aor_value(), None)
            .call_id(&self.call_id)
            .cseq(self.cseq)
            .contact(&format!("<{}>", self.config.contact))
            .header(HeaderName::Expires, expires.to_string())
            .header(HeaderName::UserAgent, self.config.user_agent.clone());
        if let Some(auth) = auth {
            b = b.header(auth.name, auth.value.clone());
        }
        Ok(b.build()?)
    }

    fn send(&mut self, expires: u32, auth: Option<&AuthHeader>) {
        match self.build(expires, auth) {
            Ok(request) => self.actions.push_back(Action::Send {
                request,
                destination: self.destination,
            }),
            Err(error) => tracing::warn!(%error, "cannot build REGISTER"),
        }
    }

    fn requested_expires(&self) -> u32 {
        if self.state == State::Unregistering {
            0
        } else {
            self.expires
        }
    }

    /// A response to one of our REGISTERs.
    pub fn handle_response(&mut self, now: Instant, response: &Response) {
        let Some(status) = final_status(response, &self.call_id, self.cseq)
            .filter(|_| matches!(self.state, State::Registering | State::Unregistering))
        else {
            return;
        };
        if status.is_success() {
            self.failures = 0;
            if self.state == State::Unregistering {
                self.state = State::Stopped;
                self.events.push_back(RegistrationEvent::Unregistered);
                return;
            }
            let granted = self.granted(response);
            if granted == 0 {
                self.fail(now, status, "registrar granted no time".into());
                return;
            }
            self.state = State::Registered {
                refresh_at: now + refresh_after(granted),
            };
            tracing::info!(aor = %self.config.aor, expires = granted, "registered");
            self.events
                .push_back(RegistrationEvent::Registered { expires: granted });
            return;
        }
        if crate::auth::is_challenge(status) {
            let registrar = self.registrar.clone();
            match self.auth.answer(
                response,
                self.config.credentials.as_ref(),
                "REGISTER",
                &registrar,
                b"",
                &mut *self.rng,
            ) {
                Ok(header) => {
                    let expires = self.requested_expires();
                    self.send(expires, Some(&header));
                }
                Err(error) => self.fail(now, status, error.to_string()),
            }
            return;
        }
        if let Some(min) = raised_minimum(response, self.expires) {
            self.expires = min;
            self.send(min, None);
            return;
        }
        self.fail(now, status, response.reason().to_owned());
    }

    /// Our REGISTER got no response.
    pub fn handle_failure(&mut self, now: Instant, failure: Failure) {
        if !matches!(self.state, State::Registering | State::Unregistering) {
            return;
        }
        self.fail(now, failure.status(), failure.reason().into());
    }

    fn fail(&mut self, now: Instant, status: StatusCode, reason: String) {
        if self.state == State::Unregistering {
            self.state = State::Stopped;
            self.events.push_back(RegistrationEvent::Unregistered);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let retry_in = self.backoff.delay(self.failures);
        tracing::warn!(aor = %self.config.aor, status = status.as_u16(), %reason, ?retry_in, "registration failed");
        self.state = State::RetryWait { at: now + retry_in };
        self.events.push_back(RegistrationEvent::Failed {
            status,
            reason,
            retry_in,
        });
    }

    /// The seconds the registrar granted our contact: its `expires`
    /// parameter in the 2xx, else the Expires header, else what we asked.
    fn granted(&self, response: &Response) -> u32 {
        let h = response.headers();
        let ours = h
            .typed_all::<Contact<'_>>()
            .filter_map(Result::ok)
            .filter_map(|c| c.address().copied())
            .find(|a| a.uri.as_str() == self.config.contact)
            .and_then(|a| a.expires());
        ours.or_else(|| seconds(h, HeaderName::Expires))
            .unwrap_or(self.expires)
    }

    /// Refreshes or retries when their time has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Registered { refresh_at } | State::RetryWait { at: refresh_at }
                if now >= refresh_at =>
            {
                self.auth.reset();
                self.send(self.expires, None);
                self.state = State::Registering;
            }
            _ => {}
        }
    }

    /// When [`Registration::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Registered { refresh_at } => Some(refresh_at),
            State::RetryWait { at } => Some(at),
            _ => None,
        }
    }

    /// The next SIP action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }
}
