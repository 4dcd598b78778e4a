//! The registrar and location service (RFC 3261 §10.3, Path RFC 3327,
//! SIP Outbound RFC 5626 §6), as a sans-IO policy.
//!
//! # Flow
//!
//! 1. The application authenticates the REGISTER (see [`crate::auth`]) and
//!    calls [`Registrar::handle_register`] with the identity it proved.
//! 2. The outcome is one of:
//!    * [`RegisterOutcome::Reject`]: send the error response (400, 403,
//!      404, 416, 420, 423 with `Min-Expires`, 439, 500 for an
//!      out-of-order CSeq, 503 when full);
//!    * [`RegisterOutcome::Respond`]: nothing changed (a query, or removing
//!      a binding that did not exist): send the 200 OK;
//!    * [`RegisterOutcome::Commit`]: store the [`BindingChange`]s durably,
//!      then turn the [`PendingResponse`] into the 200 OK with
//!      [`Registrar::complete`] (or [`PendingResponse::into_response`]);
//!      if storing failed, [`Registrar::abort`] undoes the changes in
//!      memory and gives the 500.
//! 3. Bindings end on time: after [`Registrar::poll_timeout`] passes, call
//!    [`Registrar::poll_expired`] and delete what it returns from the store.
//!
//! The in-memory index is updated when `handle_register` returns `Commit`,
//! so that the next REGISTER for the same AOR (which may arrive before the
//! store has answered) is checked against it: CSeq ordering, contact limit
//! and the bindings listed in the 200 OK stay consistent with the order of
//! requests. The 200 OK itself is only sent after the store said yes, so
//! nothing acknowledged is lost. Stores must apply changes in the order
//! they were handed over (a group commit that keeps order does).
//!
//! Times are Unix seconds (`unix_now`): bindings outlive the process and are
//! shared with other nodes, so they cannot use `Instant`.

mod aor;
mod binding;
mod config;
mod date;
mod location;
mod request;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Instant;

use rand_core::RngCore;
use switchboard_core::{Now, Source};
use switchboard_proto::validate::{self, Policy, Role};
use switchboard_proto::{BuildError, HeaderName, Request, Response, StatusCode};

pub use aor::{Aor, AorError};
pub use binding::{Binding, BindingChange, BindingKey, BindingKeyError, RemoveReason};
pub use config::{ContactLimitPolicy, RegistrarConfig};

use crate::auth::Identity;
use crate::util;
use location::{Location, Slot};
use request::{ContactEntry, Contacts, ParsedRegister};

/// Option tags this registrar understands in `Require`.
const EXTENSIONS: &[&str] = &["path", "outbound"];

/// Why a REGISTER is refused. [`RegisterError::status`] gives the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// 500: the request is not a REGISTER (a fault of the caller).
    #[error("not a REGISTER request")]
    NotRegister,
    /// 416: the Request-URI is not a SIP or SIPS URI.
    #[error("unsupported Request-URI scheme {0}")]
    UnsupportedScheme(String),
    /// 420: `Require` names extensions this registrar lacks.
    #[error("unsupported extensions: {}", .0.join(", "))]
    BadExtension(Vec<String>),
    /// 404: the Request-URI names a domain this registrar does not serve.
    #[error("not responsible for domain {0}")]
    UnknownDomain(String),
    /// 404: the To URI is no AOR of the Request-URI's domain (§10.3 step 5).
    #[error("To is not an address-of-record of this domain: {0}")]
    InvalidAor(AorError),
    /// 404: the To domain differs from the Request-URI domain.
    #[error("To names another domain than the Request-URI")]
    ForeignAor,
    /// 400: a header is missing or unreadable.
    #[error("bad request: {0}")]
    Malformed(&'static str),
    /// 400: `Contact: *` together with other contacts.
    #[error("Contact: * must be the only contact")]
    WildcardNotAlone,
    /// 400: `Contact: *` without `Expires: 0`.
    #[error("Contact: * requires Expires: 0")]
    WildcardWithoutExpiresZero,
    /// 400: more than one Contact with a `reg-id` (RFC 5626 §6).
    #[error("more than one Contact with reg-id")]
    SeveralFlows,
    /// 403: no authenticated identity, and the settings require one.
    #[error("REGISTER was not authenticated")]
    Unauthenticated,
    /// 403: the authenticated user does not own the AOR (§10.3 step 4).
    #[error("authenticated user {user} may not register {aor}")]
    NotOwner {
        /// The authenticated user.
        user: String,
        /// The AOR in To.
        aor: String,
    },
    /// 403: From differs from To and third-party registration is off.
    #[error("third-party registration is not allowed")]
    ThirdParty,
    /// 403: the AOR would have more bindings than allowed.
    #[error("more than {limit} contacts for one address-of-record")]
    TooManyContacts {
        /// The limit.
        limit: usize,
    },
    /// 423 with `Min-Expires`.
    #[error("expiry shorter than {min_expires} s")]
    IntervalTooBrief {
        /// The minimum accepted.
        min_expires: u32,
    },
    /// 439: a flow registration through a first hop that does not support
    /// outbound (RFC 5626 §6).
    #[error("first hop lacks outbound support")]
    FirstHopLacksOutbound,
    /// 500: same Call-ID as a stored binding, CSeq not higher (§10.3 step 7:
    /// an out-of-order or replayed REGISTER).
    #[error("CSeq {cseq} is not above the stored {stored}")]
    OutOfOrder {
        /// The request's CSeq.
        cseq: u32,
        /// The binding's CSeq.
        stored: u32,
    },
    /// 500: the store could not keep the changes.
    #[error("the bindings could not be stored")]
    StoreFailed,
    /// 503: the location service is full.
    #[error("location service full")]
    Full,
    /// 503: the store cannot be reached for now (the database is down).
    #[error("the bindings cannot be stored for now")]
    StoreUnavailable,
}

impl RegisterError {
    /// The response status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            // Handing anything else to the registrar is a wiring fault.
            Self::NotRegister => StatusCode::SERVER_INTERNAL_ERROR,
            Self::UnsupportedScheme(_) => StatusCode::UNSUPPORTED_URI_SCHEME,
            Self::BadExtension(_) => StatusCode::BAD_EXTENSION,
            Self::UnknownDomain(_) | Self::InvalidAor(_) | Self::ForeignAor => {
                StatusCode::NOT_FOUND
            }
            Self::Malformed(_)
            | Self::WildcardNotAlone
            | Self::WildcardWithoutExpiresZero
            | Self::SeveralFlows => StatusCode::BAD_REQUEST,
            Self::Unauthenticated
            | Self::NotOwner { .. }
            | Self::ThirdParty
            | Self::TooManyContacts { .. } => StatusCode::FORBIDDEN,
            Self::IntervalTooBrief { .. } => StatusCode::INTERVAL_TOO_BRIEF,
            Self::FirstHopLacksOutbound => StatusCode::new(439).unwrap_or(StatusCode::FORBIDDEN),
            Self::OutOfOrder { .. } | Self::StoreFailed => StatusCode::SERVER_INTERNAL_ERROR,
            Self::Full | Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A reason phrase more precise than the canonical one, where useful.
    fn reason(&self) -> Option<&'static str> {
        match self {
            Self::FirstHopLacksOutbound => Some("First Hop Lacks Outbound Support"),
            Self::TooManyContacts { .. } => Some("Too Many Contacts"),
            Self::OutOfOrder { .. } => Some("Out Of Order Registration"),
            _ => None,
        }
    }
}

/// What to do with a REGISTER.
#[derive(Debug)]
pub enum RegisterOutcome {
    /// Nothing to store: send this 200 OK (a query, or a request that
    /// changed nothing).
    Respond(Response),
    /// The REGISTER is refused: send `response`.
    Reject {
        /// Why.
        error: RegisterError,
        /// The answer.
        response: Response,
    },
    /// Store `changes` durably, then build the 200 OK from `then`.
    Commit {
        /// The changes, in the order to apply them.
        changes: Vec<BindingChange>,
        /// What answers the REGISTER once they are stored.
        then: PendingResponse,
    },
}

/// The 200 OK of a REGISTER whose changes are being stored.
#[derive(Debug)]
pub struct PendingResponse {
    request: Request,
    aor: Aor,
    to_tag: String,
    /// Path values to echo (only when the UA said `Supported: path`).
    echo_path: Vec<String>,
    outbound: bool,
    undo: Vec<Undo>,
}

#[derive(Debug)]
struct Undo {
    key: BindingKey,
    before: Option<Binding>,
    /// The generation written, `None` for a removal.
    written: Option<u64>,
    /// Why it was removed, for a removal.
    removed: Option<RemoveReason>,
}

impl PendingResponse {
    /// The AOR whose bindings changed.
    #[must_use]
    pub fn aor(&self) -> &Aor {
        &self.aor
    }

    /// The REGISTER being answered.
    #[must_use]
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// What the REGISTER does to each contact, for watchers of the
    /// registration (RFC 3680): its key, the binding as it was before
    /// (`None`: a new contact) and, for a removal, why.
    pub fn contact_changes(
        &self,
    ) -> impl Iterator<Item = (&BindingKey, Option<&Binding>, Option<RemoveReason>)> {
        self.undo
            .iter()
            .map(|u| (&u.key, u.before.as_ref(), u.removed))
    }

    /// The 200 OK, once the changes are stored: same as
    /// [`Registrar::complete`].
    ///
    /// # Errors
    ///
    /// When no response can be built from the request.
    pub fn into_response(
        self,
        registrar: &Registrar,
        unix_now: u64,
    ) -> Result<Response, BuildError> {
        registrar.complete(self, unix_now)
    }
}

/// A contact to try for an AOR, from [`Registrar::lookup`].
pub type Target<'a> = &'a Binding;

/// Registrar and in-memory location service.
pub struct Registrar {
    config: RegistrarConfig,
    location: Location,
    rng: Box<dyn RngCore + Send>,
    generation: u64,
    /// The `Date` of the 200 OKs, printed once per second.
    date: date::DateText,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("config", &self.config)
            .field("bindings", &self.location.len())
            .finish_non_exhaustive()
    }
}

/// A binding being worked on while a REGISTER is processed.
#[derive(Debug)]
struct Work {
    binding: Binding,
    /// Not in the index before this request.
    is_new: bool,
    /// Written or removed by this request.
    touched: bool,
    removed: Option<RemoveReason>,
}

impl Registrar {
    /// A registrar with an empty location service. `rng` makes the To tags.
    ///
    /// Inconsistent expiry settings are corrected (with a warning): the
    /// maximum is raised to the minimum, and the default brought between
    /// them, so that a REGISTER naming no expiry is never refused with 423.
    #[must_use]
    pub fn new(mut config: RegistrarConfig, rng: Box<dyn RngCore + Send>) -> Self {
        if config.max_expires < config.min_expires {
            tracing::warn!(
                min = config.min_expires,
                max = config.max_expires,
                "registrar max_expires below min_expires; raised to it"
            );
            config.max_expires = config.min_expires;
        }
        let default = config
            .default_expires
            .clamp(config.min_expires, config.max_expires);
        if default != config.default_expires {
            tracing::warn!(
                default = config.default_expires,
                used = default,
                "registrar default_expires outside min..max; clamped"
            );
            config.default_expires = default;
        }
        Self {
            config,
            location: Location::default(),
            rng,
            generation: 0,
            date: date::DateText::default(),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Loads stored bindings (at start, or changes made by another node).
    /// A binding replaces the one with the same AOR and key. Expired ones
    /// are loaded too, and come out of the next [`poll_expired`](Self::poll_expired).
    pub fn load(&mut self, bindings: impl IntoIterator<Item = Binding>) {
        for binding in bindings {
            self.generation += 1;
            self.location.put(binding, self.generation);
        }
    }

    /// Applies a change made elsewhere (another node sharing the store).
    pub fn apply(&mut self, change: BindingChange) {
        match change {
            BindingChange::Upsert(b) => self.load([b]),
            BindingChange::Remove { aor, key, .. } => {
                self.location.remove(&aor, &key);
            }
        }
    }

    /// Replaces every binding of `aor` with `bindings` (another node
    /// changed them; the store has them so) and returns those it held.
    pub fn replace(&mut self, aor: &Aor, bindings: Vec<Binding>) -> Vec<Binding> {
        let before = self
            .location
            .slots(aor)
            .iter()
            .map(|s| s.binding.clone())
            .collect();
        let slots = bindings
            .into_iter()
            .filter(|b| &b.aor == aor)
            .map(|binding| {
                self.generation += 1;
                Slot {
                    binding,
                    generation: self.generation,
                }
            })
            .collect();
        self.location.set(aor, slots);
        before
    }

    /// The domain (and so the digest realm) a REGISTER is for: the
    /// configured domain its Request-URI names, or `None` when this
    /// registrar does not serve it (then [`handle_register`](Self::handle_register)
    /// answers 404; challenging first would be pointless).
    #[must_use]
    pub fn realm_for(&self, request: &Request) -> Option<&str> {
        let uri = request.uri();
        let host = uri.as_sip()?.host.as_str();
        let host = host.strip_suffix('.').unwrap_or(host);
        self.config
            .domains
            .iter()
            .find(|d| d.strip_suffix('.').unwrap_or(d).eq_ignore_ascii_case(host))
            .map(String::as_str)
    }

    /// Number of bindings held (expired ones not yet swept included).
    #[must_use]
    pub fn binding_count(&self) -> usize {
        self.location.len()
    }

    /// Number of AORs with at least one binding.
    #[must_use]
    pub fn aor_count(&self) -> usize {
        self.location.aor_count()
    }

    /// Every live binding of `aor`, best first: by q-value (absent counts as
    /// 1.0), then most recently refreshed. What a proxy forks to.
    #[must_use]
    pub fn lookup(&self, aor: &Aor, unix_now: u64) -> Vec<Target<'_>> {
        let mut list: Vec<&Binding> = self
            .location
            .slots(aor)
            .iter()
            .map(|s| &s.binding)
            .filter(|b| !b.is_expired(unix_now))
            .collect();
        sort_best_first(&mut list);
        list
    }

    /// Every live binding of every AOR (for an admin listing).
    pub fn bindings(&self, unix_now: u64) -> impl Iterator<Item = &Binding> {
        self.location
            .aors()
            .flat_map(|(_, slots)| slots.iter().map(|s| &s.binding))
            .filter(move |b| !b.is_expired(unix_now))
    }

    /// When the next binding expires (Unix seconds).
    #[must_use]
    pub fn next_expiry(&self) -> Option<u64> {
        self.location.next_expiry()
    }

    /// When [`poll_expired`](Self::poll_expired) should next be called, on
    /// the monotonic clock: the instant the wall clock reaches the next
    /// expiry second.
    #[must_use]
    pub fn poll_timeout(&self, now: Now) -> Option<Instant> {
        Some(now.instant_at_unix(self.location.next_expiry()?))
    }

    /// Removes every binding expired at `unix_now` and returns the removals
    /// for the store.
    pub fn poll_expired(&mut self, unix_now: u64) -> Vec<BindingChange> {
        self.poll_expired_bindings(unix_now)
            .into_iter()
            .map(BindingChange::expiry_of)
            .collect()
    }

    /// [`poll_expired`](Self::poll_expired) with the bindings removed as
    /// they were (what watchers of the registration are told about).
    pub fn poll_expired_bindings(&mut self, unix_now: u64) -> Vec<Binding> {
        let gone = self.location.sweep(unix_now);
        if !gone.is_empty() {
            tracing::debug!(count = gone.len(), "bindings expired");
        }
        gone
    }

    /// Processes a REGISTER (RFC 3261 §10.3) that came from `source`.
    ///
    /// `identity` is who the application authenticated (see
    /// [`crate::auth::Authenticator`]), or `None` when it did not (then the
    /// request is refused unless [`RegistrarConfig::require_authentication`]
    /// is off).
    ///
    /// # Errors
    ///
    /// Only when no response at all can be built from the request.
    pub fn handle_register(
        &mut self,
        unix_now: u64,
        request: &Request,
        source: &Source,
        identity: Option<&Identity>,
    ) -> Result<RegisterOutcome, BuildError> {
        let to_tag = util::random_tag(&mut *self.rng);
        match self.process(unix_now, request, source, identity, &to_tag) {
            Ok(Processed::Unchanged {
                aor,
                echo_path,
                outbound,
            }) => {
                tracing::debug!(%aor, "REGISTER changed nothing");
                let response =
                    self.ok_response(request, &aor, &to_tag, &echo_path, outbound, unix_now)?;
                Ok(RegisterOutcome::Respond(response))
            }
            Ok(Processed::Changed { changes, then }) => {
                tracing::debug!(aor = %then.aor, changes = changes.len(), "REGISTER to store");
                Ok(RegisterOutcome::Commit { changes, then })
            }
            Err(error) => {
                tracing::debug!(%error, "REGISTER refused");
                let response = self.error_response(request, &error, &to_tag)?;
                Ok(RegisterOutcome::Reject { error, response })
            }
        }
    }

    /// The 200 OK for a REGISTER whose changes are stored: every current
    /// binding of the AOR with its remaining time, best first; the Path of
    /// the request when the UA supports it; `Require: outbound` when a flow
    /// was registered; `Date`.
    ///
    /// # Errors
    ///
    /// When no response at all can be built from the request.
    pub fn complete(
        &self,
        pending: PendingResponse,
        unix_now: u64,
    ) -> Result<Response, BuildError> {
        self.ok_response(
            &pending.request,
            &pending.aor,
            &pending.to_tag,
            &pending.echo_path,
            pending.outbound,
            unix_now,
        )
    }

    /// The store failed: undoes the request's changes in memory (those that
    /// no later request wrote over) and gives the 500 with `Retry-After`.
    ///
    /// # Errors
    ///
    /// When no response at all can be built from the request.
    pub fn abort(&mut self, pending: PendingResponse) -> Result<Response, BuildError> {
        self.undo(pending, &RegisterError::StoreFailed)
    }

    /// Like [`abort`](Self::abort) when the store is unreachable for now:
    /// the 503 with `Retry-After`.
    ///
    /// # Errors
    ///
    /// When no response at all can be built from the request.
    pub fn abort_unavailable(&mut self, pending: PendingResponse) -> Result<Response, BuildError> {
        self.undo(pending, &RegisterError::StoreUnavailable)
    }

    /// Undoes the request's changes in memory and answers `error`.
    fn undo(
        &mut self,
        pending: PendingResponse,
        error: &RegisterError,
    ) -> Result<Response, BuildError> {
        for undo in pending.undo.into_iter().rev() {
            let current = self
                .location
                .find(&pending.aor, &undo.key)
                .map(|s| s.generation);
            if current != undo.written {
                continue;
            }
            match undo.before {
                Some(b) => {
                    self.generation += 1;
                    self.location.put(b, self.generation);
                }
                None => {
                    self.location.remove(&pending.aor, &undo.key);
                }
            }
        }
        tracing::warn!(aor = %pending.aor, "REGISTER not stored; changes undone");
        self.error_response(&pending.request, error, &pending.to_tag)
    }

    fn error_response(
        &self,
        request: &Request,
        error: &RegisterError,
        to_tag: &str,
    ) -> Result<Response, BuildError> {
        let mut lines = Vec::new();
        match error {
            RegisterError::IntervalTooBrief { min_expires } => {
                lines.push((HeaderName::MinExpires, min_expires.to_string()));
            }
            RegisterError::BadExtension(tags) => {
                lines.push((HeaderName::Unsupported, tags.join(", ")));
            }
            RegisterError::StoreFailed | RegisterError::Full | RegisterError::StoreUnavailable => {
                lines.push((HeaderName::RetryAfter, self.config.retry_after.to_string()));
            }
            _ => {}
        }
        util::response(request, error.status(), error.reason(), to_tag, &lines)
    }

    fn ok_response(
        &self,
        request: &Request,
        aor: &Aor,
        to_tag: &str,
        echo_path: &[String],
        outbound: bool,
        unix_now: u64,
    ) -> Result<Response, BuildError> {
        let mut lines = Vec::new();
        for b in self.lookup(aor, unix_now) {
            lines.push((HeaderName::Contact, b.contact_value(unix_now)));
        }
        for p in echo_path {
            lines.push((HeaderName::Path, p.clone()));
        }
        if outbound {
            lines.push((HeaderName::Require, "outbound".to_owned()));
        }
        lines.push((HeaderName::Date, self.date.at(unix_now)));
        util::response(request, StatusCode::OK, None, to_tag, &lines)
    }

    /// §10.3 steps 1 to 8.
    fn process(
        &mut self,
        unix_now: u64,
        request: &Request,
        source: &Source,
        identity: Option<&Identity>,
        to_tag: &str,
    ) -> Result<Processed, RegisterError> {
        // Step 1: the Request-URI names a domain of ours.
        let uri = request.uri();
        let Some(sip) = uri.as_sip() else {
            return Err(RegisterError::UnsupportedScheme(uri.scheme().to_owned()));
        };
        if !self.config.serves(sip.host.as_str()) {
            return Err(RegisterError::UnknownDomain(sip.host.as_str().to_owned()));
        }
        // Step 2: Require.
        let policy = Policy {
            schemes: &["sip", "sips"],
            extensions: EXTENSIONS,
            role: Role::UserAgentServer,
        };
        if let Err(validate::Rejection::BadExtension(tags)) =
            validate::check_request(request, &policy)
        {
            return Err(RegisterError::BadExtension(tags));
        }
        let parsed = request::parse(request, &self.config)?;
        // Step 5 (before 3 and 4, which need the AOR): To names an AOR of
        // this domain.
        if !parsed.aor.domain().eq_ignore_ascii_case(
            sip.host
                .as_str()
                .strip_suffix('.')
                .unwrap_or(sip.host.as_str()),
        ) {
            return Err(RegisterError::ForeignAor);
        }
        // Steps 3 and 4: authenticated, and allowed to change this AOR.
        match identity {
            Some(id)
                if id.user != parsed.aor.user()
                    || !id.realm.eq_ignore_ascii_case(parsed.aor.domain()) =>
            {
                return Err(RegisterError::NotOwner {
                    user: id.user.clone(),
                    aor: parsed.aor.to_string(),
                });
            }
            None if self.config.require_authentication => {
                return Err(RegisterError::Unauthenticated);
            }
            Some(_) | None => {}
        }
        if !self.config.allow_third_party && parsed.from_aor.as_ref() != Some(&parsed.aor) {
            return Err(RegisterError::ThirdParty);
        }
        let outbound = self.check_outbound(&parsed)?;
        let echo_path: Vec<String> = if parsed.supports_path {
            parsed.path.iter().map(|p| (*p).to_owned()).collect()
        } else {
            Vec::new()
        };
        // Steps 6 and 7.
        let (changes, finals) = self.plan(unix_now, &parsed, source, outbound)?;
        if changes.is_empty() {
            return Ok(Processed::Unchanged {
                aor: parsed.aor,
                echo_path,
                outbound,
            });
        }
        // Apply to the index now; remember how to undo.
        self.generation += 1;
        let generation = self.generation;
        let mut undo = Vec::with_capacity(changes.len());
        let before: Vec<Binding> = self
            .location
            .slots(&parsed.aor)
            .iter()
            .map(|s| s.binding.clone())
            .collect();
        for change in &changes {
            let prior = before.iter().find(|b| &b.key == change.key()).cloned();
            undo.push(Undo {
                key: change.key().clone(),
                before: prior,
                written: matches!(change, BindingChange::Upsert(_)).then_some(generation),
                removed: match change {
                    BindingChange::Remove { reason, .. } => Some(*reason),
                    BindingChange::Upsert(_) => None,
                },
            });
        }
        let slots: Vec<Slot> = finals
            .into_iter()
            .map(|(binding, written)| {
                let generation = match written {
                    true => generation,
                    false => self
                        .location
                        .find(&parsed.aor, &binding.key)
                        .map_or(generation, |s| s.generation),
                };
                Slot {
                    binding,
                    generation,
                }
            })
            .collect();
        self.location.set(&parsed.aor, slots);
        Ok(Processed::Changed {
            changes,
            then: PendingResponse {
                request: request.clone(),
                aor: parsed.aor,
                to_tag: to_tag.to_owned(),
                echo_path,
                outbound,
                undo,
            },
        })
    }

    /// RFC 5626 §6: whether this REGISTER registers a flow, and the checks
    /// that come with it.
    fn check_outbound(&self, parsed: &ParsedRegister<'_>) -> Result<bool, RegisterError> {
        let Contacts::List(entries) = &parsed.contacts else {
            return Ok(false);
        };
        if !parsed.supports_outbound {
            // Without `Supported: outbound`, reg-id is ignored.
            return Ok(false);
        }
        let flows = entries
            .iter()
            .filter(|e| e.instance.is_some() && e.reg_id.is_some())
            .count();
        if flows == 0 {
            return Ok(false);
        }
        if flows > 1 {
            return Err(RegisterError::SeveralFlows);
        }
        // Not the first hop: the edge proxy must have said it supports
        // outbound with `ob` in the Path value it added (the last one).
        if parsed.via_count > 1 {
            let edge_ok = parsed
                .path
                .last()
                .and_then(|p| switchboard_proto::header::NameAddr::parse_value(p).ok())
                .is_some_and(|p| p.uri.params().has("ob"));
            if !edge_ok {
                return Err(RegisterError::FirstHopLacksOutbound);
            }
        }
        Ok(true)
    }

    /// The key a contact of this request binds under.
    fn key_for(&self, entry: &ContactEntry<'_>, outbound: bool) -> BindingKey {
        match (&entry.instance, entry.reg_id) {
            (Some(instance), Some(reg_id)) if outbound => BindingKey::Flow {
                instance: instance.clone(),
                reg_id,
            },
            (Some(instance), _) if self.config.instance_replaces => {
                BindingKey::Instance(instance.clone())
            }
            _ => BindingKey::Contact(entry.uri_text.to_owned()),
        }
    }

    /// Steps 6 and 7: the changes and the AOR's bindings afterwards (with
    /// whether each was written by this request).
    fn plan(
        &self,
        unix_now: u64,
        parsed: &ParsedRegister<'_>,
        source: &Source,
        outbound: bool,
    ) -> Result<Plan, RegisterError> {
        let mut changes = Vec::new();
        let mut work: Vec<Work> = Vec::new();
        for slot in self.location.slots(&parsed.aor) {
            if slot.binding.is_expired(unix_now) {
                changes.push(BindingChange::Remove {
                    aor: parsed.aor.clone(),
                    key: slot.binding.key.clone(),
                    reason: RemoveReason::Expired,
                });
            } else {
                work.push(Work {
                    binding: slot.binding.clone(),
                    is_new: false,
                    touched: false,
                    removed: None,
                });
            }
        }
        let live_before = work.len();
        let in_order = |w: &Work| -> Result<(), RegisterError> {
            if !w.touched && w.binding.call_id == parsed.call_id && parsed.cseq <= w.binding.cseq {
                return Err(RegisterError::OutOfOrder {
                    cseq: parsed.cseq,
                    stored: w.binding.cseq,
                });
            }
            Ok(())
        };
        match &parsed.contacts {
            Contacts::Query => {}
            Contacts::Wildcard => {
                for w in &mut work {
                    in_order(w)?;
                    w.removed = Some(RemoveReason::Unregistered);
                    w.touched = true;
                }
            }
            Contacts::List(entries) => {
                // More contacts than the limit can never fit: refuse before
                // spending any work on them.
                if entries.iter().filter(|e| e.expires > 0).count()
                    > self.config.max_contacts_per_aor
                {
                    return Err(RegisterError::TooManyContacts {
                        limit: self.config.max_contacts_per_aor,
                    });
                }
                for entry in entries {
                    let key = self.key_for(entry, outbound);
                    let found = work.iter_mut().find(|w| {
                        w.removed.is_none()
                            && match (&key, &w.binding.key) {
                                (BindingKey::Contact(_), BindingKey::Contact(stored)) => {
                                    switchboard_proto::Uri::parse(stored)
                                        .is_ok_and(|s| crate::uri_equivalent(&s, &entry.uri))
                                }
                                (k, stored) => k == stored,
                            }
                    });
                    match found {
                        Some(w) => {
                            in_order(w)?;
                            w.touched = true;
                            if entry.expires == 0 {
                                w.removed = Some(RemoveReason::Unregistered);
                            } else {
                                let key = w.binding.key.clone();
                                let registered_at = w.binding.registered_at;
                                w.binding = self.new_binding(unix_now, parsed, entry, key, source);
                                w.binding.registered_at = registered_at;
                            }
                        }
                        None if entry.expires == 0 => {}
                        None => work.push(Work {
                            binding: self.new_binding(unix_now, parsed, entry, key, source),
                            is_new: true,
                            touched: true,
                            removed: None,
                        }),
                    }
                }
            }
        }
        self.enforce_limits(&mut work, live_before)?;
        // Removals first, then writes.
        for w in &work {
            if let (Some(reason), false) = (w.removed, w.is_new) {
                changes.push(BindingChange::Remove {
                    aor: parsed.aor.clone(),
                    key: w.binding.key.clone(),
                    reason,
                });
            }
        }
        let mut finals = Vec::with_capacity(work.len());
        for w in work {
            if w.removed.is_some() {
                continue;
            }
            if w.touched {
                changes.push(BindingChange::Upsert(w.binding.clone()));
            }
            finals.push((w.binding, w.touched));
        }
        Ok((changes, finals))
    }

    /// The per-AOR contact limit and the global capacity.
    fn enforce_limits(&self, work: &mut [Work], live_before: usize) -> Result<(), RegisterError> {
        let limit = self.config.max_contacts_per_aor;
        let live = |work: &[Work]| work.iter().filter(|w| w.removed.is_none()).count();
        if live(work) > limit {
            let adds = work.iter().any(|w| w.is_new && w.removed.is_none());
            match self.config.on_contact_limit {
                ContactLimitPolicy::Reject if adds => {
                    return Err(RegisterError::TooManyContacts { limit });
                }
                ContactLimitPolicy::Reject => {}
                ContactLimitPolicy::ReplaceOldest => {
                    let mut excess = live(work) - limit;
                    let mut candidates: Vec<usize> = (0..work.len())
                        .filter(|&i| {
                            work.get(i)
                                .is_some_and(|w| w.removed.is_none() && !w.touched)
                        })
                        .collect();
                    candidates.sort_by_key(|&i| {
                        work.get(i)
                            .map(|w| (w.binding.updated_at, w.binding.registered_at))
                    });
                    for i in candidates {
                        if excess == 0 {
                            break;
                        }
                        if let Some(w) = work.get_mut(i) {
                            w.removed = Some(RemoveReason::Evicted);
                            w.touched = true;
                            excess -= 1;
                        }
                    }
                    if excess > 0 {
                        return Err(RegisterError::TooManyContacts { limit });
                    }
                }
            }
        }
        let added = live(work).saturating_sub(live_before);
        if added > 0 && self.location.len() + added > self.config.max_bindings {
            return Err(RegisterError::Full);
        }
        Ok(())
    }

    fn new_binding(
        &self,
        unix_now: u64,
        parsed: &ParsedRegister<'_>,
        entry: &ContactEntry<'_>,
        key: BindingKey,
        source: &Source,
    ) -> Binding {
        Binding {
            aor: parsed.aor.clone(),
            key,
            contact: entry.uri_text.to_owned(),
            params: entry.params.clone(),
            q: entry.q,
            expires_at: unix_now.saturating_add(u64::from(entry.expires)),
            call_id: parsed.call_id.to_owned(),
            cseq: parsed.cseq,
            path: parsed.path.iter().map(|p| (*p).to_owned()).collect(),
            instance: entry.instance.clone(),
            reg_id: entry.reg_id,
            source: *source,
            user_agent: parsed.user_agent.map(Arc::from),
            registered_at: unix_now,
            updated_at: unix_now,
        }
    }
}

/// The changes of a REGISTER and the AOR's bindings afterwards, each with
/// whether this request wrote it.
type Plan = (Vec<BindingChange>, Vec<(Binding, bool)>);

/// What `process` decided (short-lived, hence no boxing).
#[allow(clippy::large_enum_variant)]
enum Processed {
    Unchanged {
        aor: Aor,
        echo_path: Vec<String>,
        outbound: bool,
    },
    Changed {
        changes: Vec<BindingChange>,
        then: PendingResponse,
    },
}

/// Best first: q descending (absent = 1.0), then most recently refreshed,
/// then by key so the order is stable.
fn sort_best_first(list: &mut [&Binding]) {
    list.sort_by(|a, b| {
        b.q_or_default()
            .cmp(&a.q_or_default())
            .then(b.updated_at.cmp(&a.updated_at))
            .then_with(|| a.key.cmp(&b.key))
    });
}
