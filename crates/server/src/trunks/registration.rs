//! The server's registration at a provider (`register = true` on a
//! trunk): REGISTER with digest, refreshed before it lapses, retried with
//! backoff after a failure, and removed (Expires: 0) when the trunk goes.
//!
//! The machine decides what to send; [`Trunks`](super::Trunks) sends it
//! through the transaction layer and brings back the answers.

use std::time::{Duration, Instant};

use rand_core::RngCore;
use switchboard_core::{Now, token};
use switchboard_proto::header::{Contact, NameAddr};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response, Uri};
use switchboard_routing::{Credentials, RegistrationSpec};

use super::attempt::AttemptResult;
use super::digest_answer::DigestAnswer;
use super::local::Local;
use crate::proxy::NextHop;

/// The first wait after a failed registration; doubled after each
/// further failure.
const BACKOFF_FIRST: Duration = Duration::from_secs(30);
/// The longest wait between two attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(600);
/// How long before expiry a registration is refreshed (at most half of
/// what the provider granted).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Where a trunk's registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not registering (none asked for, or removed).
    Off,
    /// A REGISTER is on its way (first, refresh or retry).
    Registering,
    /// The provider accepted it until `until` (Unix seconds).
    Registered {
        /// When the binding lapses at the provider (Unix seconds).
        until: u64,
    },
    /// The last attempt failed: with this status (`None`: no answer, a
    /// transport or DNS failure); the next one is at `retry_at` (Unix
    /// seconds).
    Failed {
        /// The provider's final status, if it answered.
        status: Option<u16>,
        /// When the next attempt starts (Unix seconds).
        retry_at: u64,
    },
}

/// What the registration asks [`Trunks`](super::Trunks) to do next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Nothing now.
    Wait,
    /// Resolve this URI (RFC 3263) and call [`TrunkRegistration::resolved`].
    Resolve(String),
    /// Send this REGISTER to this hop.
    Send(Box<Request>, NextHop),
}

/// One trunk's registration at its provider.
#[derive(Debug)]
pub struct TrunkRegistration {
    trunk: String,
    spec: RegistrationSpec,
    credentials: Option<Credentials>,
    state: RegistrationState,
    /// One Call-ID and From tag for every REGISTER of this registration
    /// (RFC 3261 §10.2.4: refreshes keep the Call-ID, CSeq goes up).
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// What is asked for (raised by a 423's Min-Expires).
    expires: Duration,
    /// Where the REGISTERs go (from the last resolution).
    hop: Option<NextHop>,
    /// The REGISTER in flight without its credentials, to answer a
    /// challenge with.
    sent: Option<Request>,
    /// The nonce the REGISTER in flight answered.
    answered: Option<String>,
    /// Consecutive failures (for the backoff).
    failures: u32,
    /// The next refresh or retry.
    next: Option<Instant>,
    /// Removing: an un-REGISTER is or was sent; no refresh follows.
    removing: bool,
    /// Waiting for a resolution or an answer.
    busy: bool,
}

impl TrunkRegistration {
    /// A registration of `trunk` as `spec` says, due at once.
    pub(crate) fn new(
        trunk: &str,
        spec: RegistrationSpec,
        credentials: Option<Credentials>,
        now: Instant,
        rng: &mut dyn RngCore,
    ) -> Self {
        Self {
            trunk: trunk.to_owned(),
            expires: spec.expires,
            spec,
            credentials,
            state: RegistrationState::Registering,
            call_id: token::call_id(rng),
            from_tag: token::tag(rng),
            cseq: 0,
            hop: None,
            sent: None,
            answered: None,
            failures: 0,
            next: Some(now),
            removing: false,
            busy: false,
        }
    }

    /// Its trunk's name.
    pub fn trunk(&self) -> &str {
        &self.trunk
    }

    /// Where it stands.
    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// Whether it registers as `spec` with `credentials` say (a reload
    /// that changed neither keeps it).
    pub(crate) fn is_for(
        &self,
        spec: &RegistrationSpec,
        credentials: Option<&Credentials>,
    ) -> bool {
        &self.spec == spec && self.credentials.as_ref() == credentials
    }

    /// When [`TrunkRegistration::start`] is due (refresh or retry).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.next.filter(|_| !self.busy && !self.removing)
    }

    /// An un-REGISTER was answered (or failed): nothing is left to do.
    pub(crate) fn is_finished(&self) -> bool {
        self.removing && !self.busy
    }

    /// Starts a REGISTER (first, refresh or retry): resolves the registrar
    /// unless it is an address.
    pub(crate) fn start(&mut self, now: Now, local: &Local) -> Step {
        self.next = None;
        self.busy = true;
        if !matches!(self.state, RegistrationState::Registered { .. }) {
            self.state = RegistrationState::Registering;
        }
        match crate::proxy::hop_for_uri(&self.spec.registrar) {
            Some(hop) => self.resolved(now, local, vec![hop]),
            None => Step::Resolve(self.spec.registrar.clone()),
        }
    }

    /// The registrar resolved to `hops` (none: it did not).
    pub(crate) fn resolved(&mut self, now: Now, local: &Local, hops: Vec<NextHop>) -> Step {
        let Some(hop) = hops.into_iter().next() else {
            self.fail(now, AttemptResult::DnsFailed);
            return Step::Wait;
        };
        self.hop = Some(hop);
        self.send(now, local, None)
    }

    /// Builds the next REGISTER (with `auth` answering a challenge).
    fn send(&mut self, now: Now, local: &Local, auth: Option<DigestAnswer>) -> Step {
        let Some(hop) = self.hop else {
            self.fail(now, AttemptResult::DnsFailed);
            return Step::Wait;
        };
        let expires = if self.removing {
            0
        } else {
            self.expires.as_secs()
        };
        let user = Uri::parse(&self.spec.aor)
            .ok()
            .and_then(|u| u.as_sip().and_then(|s| s.user.map(|u| u.to_string())))
            .or_else(|| self.credentials.as_ref().map(|c| c.username.clone()))
            .unwrap_or_else(|| "switchboard".to_owned());
        let Some(contact) = local.contact(&user, hop.transport) else {
            tracing::warn!(trunk = %self.trunk, "no listener to register a Contact of");
            self.fail(now, AttemptResult::TransportError);
            return Step::Wait;
        };
        self.cseq = self.cseq.wrapping_add(1);
        let aor = format!("<{}>", self.spec.aor);
        let request = RequestBuilder::new(Method::Register, self.spec.registrar.as_str())
            .from(&aor, &self.from_tag)
            .to(&aor, None)
            .call_id(&self.call_id)
            .cseq(self.cseq)
            .contact(&contact)
            .header(HeaderName::Expires, expires.to_string())
            .build();
        let request = match request {
            Ok(r) => r,
            Err(error) => {
                tracing::warn!(trunk = %self.trunk, %error, "REGISTER not built");
                self.fail(now, AttemptResult::TransportError);
                return Step::Wait;
            }
        };
        self.sent = Some(request.clone());
        let mut request = request;
        self.answered = None;
        if let Some(auth) = auth {
            request.headers_mut().push(auth.name, auth.value);
            self.answered = Some(auth.nonce);
        }
        self.busy = true;
        Step::Send(Box::new(request), hop)
    }

    /// The final response to the REGISTER in flight.
    pub(crate) fn on_response(
        &mut self,
        now: Now,
        local: &Local,
        response: &Response,
        rng: &mut dyn RngCore,
    ) -> Step {
        let status = response.status().as_u16();
        match status {
            200..=299 if self.removing => {
                self.finish_removal();
                Step::Wait
            }
            200..=299 => {
                self.registered(now, response);
                Step::Wait
            }
            401 | 407 => {
                let answer = DigestAnswer::to(
                    response,
                    self.credentials.as_ref(),
                    "REGISTER",
                    &self.spec.registrar,
                    self.answered.as_deref(),
                    rng,
                );
                match answer {
                    Ok(answer) => self.send(now, local, Some(answer)),
                    Err(error) => {
                        tracing::warn!(trunk = %self.trunk, status, %error, "registration refused");
                        self.fail(now, AttemptResult::Response(status));
                        Step::Wait
                    }
                }
            }
            423 if !self.removing => {
                let min = response
                    .headers()
                    .get(HeaderName::MinExpires)
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .filter(|m| Duration::from_secs(*m) > self.expires);
                match min {
                    Some(min) => {
                        self.expires = Duration::from_secs(min);
                        self.send(now, local, None)
                    }
                    None => {
                        self.fail(now, AttemptResult::Response(status));
                        Step::Wait
                    }
                }
            }
            _ => {
                self.fail(now, AttemptResult::Response(status));
                Step::Wait
            }
        }
    }

    /// A 2xx: registered until what the provider granted our Contact (its
    /// `expires` parameter, else the Expires header, else what was asked);
    /// refreshed before that.
    fn registered(&mut self, now: Now, response: &Response) {
        let sent_contact = self
            .sent
            .as_ref()
            .and_then(|r| r.headers().get(HeaderName::Contact));
        let ours = sent_contact.and_then(|c| NameAddr::parse_value(c).ok());
        let from_contact = response
            .headers()
            .typed_all::<Contact<'_>>()
            .filter_map(Result::ok)
            .filter_map(|c| c.address().copied())
            .find(|a| {
                ours.as_ref()
                    .is_some_and(|o| crate::uri_equivalent(&o.uri, &a.uri))
            })
            .and_then(|a| a.expires());
        let granted = from_contact
            .map(u64::from)
            .or_else(|| {
                response
                    .headers()
                    .get(HeaderName::Expires)
                    .and_then(|v| v.trim().parse().ok())
            })
            .map_or(self.expires, Duration::from_secs);
        self.failures = 0;
        self.busy = false;
        let margin = REFRESH_MARGIN.min(granted / 2);
        self.next = Some(now.instant() + granted.saturating_sub(margin));
        let until = now.unix().saturating_add(granted.as_secs());
        self.state = RegistrationState::Registered { until };
        tracing::info!(trunk = %self.trunk, aor = %self.spec.aor, expires = granted.as_secs(), "registered at the provider");
    }

    /// The REGISTER in flight failed (`result`): the next attempt after
    /// the backoff (an un-REGISTER is not retried).
    pub(crate) fn fail(&mut self, now: Now, result: AttemptResult) {
        if self.removing {
            tracing::debug!(trunk = %self.trunk, ?result, "un-REGISTER failed");
            self.finish_removal();
            return;
        }
        self.busy = false;
        self.failures = self.failures.saturating_add(1);
        let doublings = self.failures.saturating_sub(1).min(16);
        let wait = BACKOFF_FIRST
            .saturating_mul(1 << doublings)
            .min(BACKOFF_MAX);
        self.next = Some(now.instant() + wait);
        let status = match result {
            AttemptResult::Response(s) => Some(s),
            _ => None,
        };
        let retry_at = now.unix().saturating_add(wait.as_secs());
        self.state = RegistrationState::Failed { status, retry_at };
        tracing::warn!(trunk = %self.trunk, aor = %self.spec.aor, ?result, retry_in = wait.as_secs(), "registration at the provider failed");
    }

    /// Removes the registration: an un-REGISTER (Expires: 0) when the
    /// provider may hold a binding (registered, or a REGISTER in flight);
    /// else nothing.
    pub(crate) fn remove(&mut self, now: Now, local: &Local) -> Step {
        let held = self.busy || matches!(self.state, RegistrationState::Registered { .. });
        self.removing = true;
        self.next = None;
        self.state = RegistrationState::Off;
        if !held || self.hop.is_none() {
            self.busy = false;
            return Step::Wait;
        }
        self.send(now, local, None)
    }

    fn finish_removal(&mut self) {
        self.busy = false;
        self.state = RegistrationState::Off;
        self.next = None;
    }
}
