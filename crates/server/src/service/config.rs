//! The service's settings: those of its parts, and the relay policy.

use std::time::Duration;

use crate::auth::AuthConfig;
use crate::events::EventsConfig;
use crate::protect::ProtectConfig;
use crate::proxy::ProxyConfig;
use crate::registrar::RegistrarConfig;

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
