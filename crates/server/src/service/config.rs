//! The service's settings: those of its parts, and the relay policy.

use std::time::Duration;

use crate::auth::AuthConfig;
use crate::events::EventsConfig;
use crate::media::MediaConfig;
use crate::protect::ProtectConfig;
use crate::proxy::ProxyConfig;
use crate::registrar::RegistrarConfig;
use crate::session_policy::SessionTimerPolicy;

/// Everything a [`Service`](super::Service) is built from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceConfig {
    /// The registrar's (its domains are the server's domains).
    pub registrar: RegistrarConfig,
    /// Digest authentication's.
    pub auth: AuthConfig,
    /// Rate limits, lockout, overload.
    pub protect: ProtectConfig,
    /// The proxy's (its listeners and domains say what "this server" is).
    pub proxy: ProxyConfig,
    /// The event server's (SUBSCRIBE, PUBLISH, NOTIFY).
    pub events: EventsConfig,
    /// Requests from other domains to local users need no challenge
    /// (`false`: they get 403).
    pub trust_foreign_callers: bool,
    /// A proxy that local users' requests for other domains go through
    /// (a SIP URI), instead of RFC 3263 on their Request-URI.
    pub outbound_proxy: Option<String>,
    /// How often the store is asked whether the users changed.
    pub users_refresh: Duration,
    /// Longest wait between housekeeping rounds (expired bindings, idle
    /// table entries).
    pub housekeeping: Duration,
    /// Longest wait for a user lookup before the request gets 500.
    pub lookup_timeout: Duration,
    /// Offline messages: MESSAGEs kept for local users with no device.
    pub messages: MailboxConfig,
    /// How long call records are kept (`[records] keep_days`); older ones
    /// are deleted by the housekeeping. `None`: kept for good (the
    /// configuration file's default is 90 days).
    pub records_keep: Option<Duration>,
    /// Call records are written in batches at most this late (zero: each
    /// at once). Records are no one's acknowledgement, and one commit for
    /// the records of many calls spares a store transaction and an fsync
    /// per call; a crash loses at most this much of the latest records.
    pub records_flush: Duration,
    /// Session timers as a proxy (RFC 4028): the interval asked of calls,
    /// the shortest accepted; calls whose refreshes stop are ended.
    pub session_timers: SessionTimerPolicy,
    /// The media relay (`[media]`): off unless its policy says.
    pub media: MediaConfig,
}

/// Offline messages (MESSAGE to a local user with no device): kept
/// durably, delivered when the user registers, bounded and expired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxConfig {
    /// Keep messages at all (`false`: 480, as for any request to a user
    /// with no device).
    pub enabled: bool,
    /// Keep messages from callers of other domains too (they are not
    /// challenged). Off by default: a 202 for a user who exists and a 480
    /// for a name that does not would let strangers enumerate the users.
    pub from_other_domains: bool,
    /// Most messages kept for one user.
    pub max_per_user: usize,
    /// Most body bytes kept for one user (one message larger than this
    /// gets 413).
    pub max_bytes_per_user: usize,
    /// Most messages kept in all (they are held in memory too).
    pub max_total: usize,
    /// Most body bytes kept in all.
    pub max_total_bytes: usize,
    /// Age after which a message is dropped undelivered.
    pub max_age: Duration,
    /// Wait before the first retry of a failed delivery; doubled after
    /// each failure up to [`retry_max`](Self::retry_max).
    pub retry_first: Duration,
    /// Longest wait between two delivery attempts.
    pub retry_max: Duration,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            from_other_domains: false,
            max_per_user: 100,
            max_bytes_per_user: 1024 * 1024,
            max_total: 100_000,
            max_total_bytes: 64 * 1024 * 1024,
            max_age: Duration::from_secs(7 * 24 * 3600),
            retry_first: Duration::from_secs(30),
            retry_max: Duration::from_secs(30 * 60),
        }
    }
}

impl ServiceConfig {
    /// The defaults around these parts.
    #[must_use]
    pub fn new(
        registrar: RegistrarConfig,
        auth: AuthConfig,
        protect: ProtectConfig,
        proxy: ProxyConfig,
    ) -> Self {
        Self {
            registrar,
            auth,
            protect,
            proxy,
            events: EventsConfig::default(),
            trust_foreign_callers: true,
            outbound_proxy: None,
            users_refresh: Duration::from_secs(1),
            housekeeping: Duration::from_secs(30),
            lookup_timeout: Duration::from_secs(5),
            messages: MailboxConfig::default(),
            records_keep: None,
            records_flush: Duration::ZERO,
            session_timers: SessionTimerPolicy::default(),
            media: MediaConfig::default(),
        }
    }

    /// The Route value (`<sip:...;lr>`) of the outbound proxy.
    pub(crate) fn outbound_route(&self) -> Option<String> {
        self.outbound_proxy.as_ref().map(|uri| {
            if uri.contains(";lr") {
                format!("<{uri}>")
            } else {
                format!("<{uri};lr>")
            }
        })
    }
}
