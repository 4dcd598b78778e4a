//! Protection built in: per-source rate limits, lockout after failed
//! authentications, and a global overload gate. Monotonic time (`Instant`)
//! only: none of this state outlives the process.
//!
//! # Where it sits
//!
//! ```text
//! request from source ──► Protection::admit(now, ip, method)
//!     Accept ──► (REGISTER / proxied request needing auth)
//!                 Protection::auth_gate(now, ip, username)
//!                   Proceed ──► Authenticator::verify ──► Protection::record_auth
//!                   Locked  ──► answer Authenticator::failure() (the same
//!                               challenge as a wrong password), checking nothing
//!     Drop   ──► nothing is sent
//!     Reject ──► 503 with Retry-After (service_unavailable)
//! ```
//!
//! Defaults are safe for a small office and a public address: 30 requests
//! per second per source (bursts of 100), a user locked after 10 failures
//! in 10 minutes and a source after 20, for 1 minute doubling up to 1 hour,
//! devices that authenticated before exempt from both locks for a day.

mod lockout;
mod overload;
mod rate;
mod reading;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use switchboard_proto::{BuildError, HeaderName, Method, Request, Response, StatusCode};

use crate::auth::AuthResult;
use crate::util;

pub use lockout::{LockScope, LockoutConfig};
pub use overload::{LoadSignal, OverloadConfig, OverloadState};
pub use rate::{LimitAction, RateLimitConfig};
pub use reading::Watermarks;

/// Protection settings. [`Default`] gives safe values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectConfig {
    /// Per-source request rate limit.
    pub rate: RateLimitConfig,
    /// Lockout after failed authentications.
    pub lockout: LockoutConfig,
    /// The overload gate.
    pub overload: OverloadConfig,
    /// IPv6 sources are counted per prefix of this length (an attacker
    /// usually holds a whole /64).
    pub ipv6_prefix: u8,
}

impl Default for ProtectConfig {
    fn default() -> Self {
        Self {
            rate: RateLimitConfig::default(),
            lockout: LockoutConfig::default(),
            overload: OverloadConfig::default(),
            ipv6_prefix: 64,
        }
    }
}

/// What to do with a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handle it.
    Accept,
    /// Send nothing: the source is over its rate.
    Drop,
    /// Answer 503 with `Retry-After` ([`service_unavailable`]).
    Reject {
        /// Seconds for `Retry-After`.
        retry_after: u32,
        /// Why.
        reason: RejectReason,
    },
}

/// Why a request gets 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// The server is overloaded.
    Overload,
    /// The source is over its rate (with [`LimitAction::Reject`]).
    RateLimited,
}

/// Whether an authentication attempt may be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthGate {
    /// Check the credentials.
    Proceed,
    /// Do not check them: answer exactly as for wrong credentials, so that
    /// the attacker learns nothing (not even that a lock exists).
    Locked {
        /// Source or user.
        scope: LockScope,
        /// Time left.
        remaining: Duration,
    },
}

/// How much state the protections hold (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProtectStats {
    /// Sources with a rate bucket.
    pub rate_sources: usize,
    /// Sources with failed authentications on record.
    pub lockout_sources: usize,
    /// Usernames with failed authentications on record.
    pub lockout_users: usize,
    /// Trusted (user, source) pairs.
    pub trusted_pairs: usize,
    /// Whether new requests are being refused.
    pub overloaded: bool,
}

/// The three protections together.
#[derive(Debug)]
pub struct Protection {
    ipv6_prefix: u8,
    rate: rate::RateLimiter,
    lockout: lockout::Lockout,
    overload: overload::OverloadGate,
}

impl Protection {
    /// Protection with these settings.
    #[must_use]
    pub fn new(config: ProtectConfig) -> Self {
        Self {
            ipv6_prefix: config.ipv6_prefix.min(128),
            rate: rate::RateLimiter::new(config.rate),
            lockout: lockout::Lockout::new(config.lockout),
            overload: overload::OverloadGate::new(config.overload),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> ProtectConfig {
        ProtectConfig {
            rate: self.rate.config().clone(),
            lockout: self.lockout.config().clone(),
            overload: self.overload.config().clone(),
            ipv6_prefix: self.ipv6_prefix,
        }
    }

    /// The key a source address is counted under: IPv4 (also when written
    /// as IPv4-mapped IPv6), or the IPv6 prefix.
    #[must_use]
    pub fn source_key(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return IpAddr::V4(v4);
                }
                let bits = u128::from(v6);
                let prefix = u32::from(self.ipv6_prefix);
                let mask = match prefix {
                    0 => 0,
                    p => u128::MAX << (128 - p.min(128)),
                };
                IpAddr::V6((bits & mask).into())
            }
        }
    }

    /// Decides on a new request from `source`: rate limit first (cheapest,
    /// and a flood is dropped before anything else is spent on it), then
    /// the overload gate.
    pub fn admit(&mut self, now: Instant, source: IpAddr, method: &Method) -> Admission {
        let key = self.source_key(source);
        if !self.rate.allow(now, key) {
            tracing::trace!(%source, "request over the source's rate");
            return match self.rate.config().action {
                LimitAction::Drop => Admission::Drop,
                LimitAction::Reject => Admission::Reject {
                    retry_after: self.overload.config().retry_after,
                    reason: RejectReason::RateLimited,
                },
            };
        }
        self.admit_trusted(method)
    }

    /// Decides on a new request from a trusted source (a trunk, an SBC, a
    /// load balancer declared in the plan): no per-source rate limit, only
    /// the overload gate.
    pub fn admit_trusted(&mut self, method: &Method) -> Admission {
        match self.overload.check(method) {
            Some(retry_after) => Admission::Reject {
                retry_after,
                reason: RejectReason::Overload,
            },
            None => Admission::Accept,
        }
    }

    /// Reports the current load (see [`OverloadConfig`]); returns whether the
    /// server now counts as overloaded.
    pub fn set_load(&mut self, load: usize) -> bool {
        self.overload.observe(load)
    }

    /// [`Protection::set_load`] at `now`, first forgetting the runtime's
    /// signals that stopped coming ([`OverloadConfig::signal_window`]).
    pub fn set_load_at(&mut self, now: Instant, load: usize) -> bool {
        self.overload.expire(now);
        self.overload.observe(load)
    }

    /// A measure of the runtime at `now` (the driver's timer lag, the
    /// store's commit latency, the read backlog): over its high mark it
    /// closes the gate until it is back under its low mark.
    pub fn observe(&mut self, now: Instant, signal: LoadSignal) {
        self.overload.signal(now, signal);
    }

    /// What holds the gate closed, if anything.
    #[must_use]
    pub fn overload_state(&self) -> OverloadState {
        self.overload.state()
    }

    /// Refuses new requests whatever the load (`true`), or goes back to
    /// following it (`false`).
    pub fn force_overload(&mut self, closed: bool) {
        self.overload.force(closed);
    }

    /// Whether new requests are being refused.
    #[must_use]
    pub fn is_overloaded(&self) -> bool {
        self.overload.is_closed()
    }

    /// Whether an authentication attempt from `source` for `user` (the
    /// username of the credentials, if any) may be checked.
    #[must_use]
    pub fn auth_gate(&self, now: Instant, source: IpAddr, user: Option<&str>) -> AuthGate {
        match self.lockout.check(now, self.source_key(source), user) {
            Some((scope, remaining)) => AuthGate::Locked { scope, remaining },
            None => AuthGate::Proceed,
        }
    }

    /// Feeds the result of an authentication: failures count towards the
    /// locks, a success clears the user's count and trusts the pair.
    /// Returns the lockouts this started.
    pub fn record_auth(
        &mut self,
        now: Instant,
        source: IpAddr,
        user: Option<&str>,
        result: &AuthResult,
    ) -> Vec<(LockScope, Duration)> {
        let key = self.source_key(source);
        match result {
            AuthResult::Ok { identity, .. } => {
                self.lockout.success(now, key, &identity.user);
                Vec::new()
            }
            r if r.is_failure() => self.lockout.failure(now, key, user),
            _ => Vec::new(),
        }
    }

    /// How much state is held.
    #[must_use]
    pub fn stats(&self) -> ProtectStats {
        let (lockout_sources, lockout_users, trusted_pairs) = self.lockout.tracked();
        ProtectStats {
            rate_sources: self.rate.tracked(),
            lockout_sources,
            lockout_users,
            trusted_pairs,
            overloaded: self.overload.is_closed(),
        }
    }

    /// Forgets idle state (call now and then, e.g. every minute; tables are
    /// also pruned when they fill).
    pub fn purge(&mut self, now: Instant) {
        self.lockout.purge(now);
        self.rate.prune(now);
    }
}

/// A 503 Service Unavailable with `Retry-After` for `request`.
///
/// # Errors
///
/// When no response at all can be built from the request.
pub fn service_unavailable(
    request: &Request,
    retry_after: u32,
    to_tag: &str,
) -> Result<Response, BuildError> {
    util::response(
        request,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        to_tag,
        &[(HeaderName::RetryAfter, retry_after.to_string())],
    )
}
