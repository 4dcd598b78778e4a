//! A trunk as the plan declares it (`[[trunk]]`): where its gateways are,
//! how the server authenticates and registers there, how it presents the
//! caller, and where its inbound calls come from.

use std::net::IpAddr;
use std::time::Duration;

/// A digest user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password (never printed).
    pub password: String,
    /// The realm they are for; `None`: whatever realm the provider asks.
    pub realm: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// How the caller is presented on a trunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CallerIdMode {
    /// The caller's From is sent as it is.
    #[default]
    Keep,
    /// The From user part is replaced by this number.
    Replace(String),
    /// The From is kept; a P-Asserted-Identity with this number is added.
    Assert(String),
}

/// OPTIONS probing of a trunk's gateways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// Time between probes.
    pub interval: Duration,
    /// Consecutive successes that mark a down gateway up.
    pub up_after: u32,
    /// Consecutive failures that mark an up gateway down.
    pub down_after: u32,
}

/// Registration to the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationSpec {
    /// The address of record registered (`sip:user@provider`).
    pub aor: String,
    /// The registrar's URI (default: the first gateway).
    pub registrar: String,
    /// Expires asked for.
    pub expires: Duration,
}

/// One gateway of a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySpec {
    /// Its SIP URI as written (`sip:gw1.example.net;transport=tcp`),
    /// resolved with RFC 3263 when the call is sent.
    pub uri: String,
}

/// A trunk.
#[derive(Debug, Clone, PartialEq)]
pub struct TrunkSpec {
    /// Its name, unique in the plan.
    pub name: String,
    /// Its gateways, in the order they are tried.
    pub gateways: Vec<GatewaySpec>,
    /// What the server answers the provider's 401/407 with.
    pub credentials: Option<Credentials>,
    /// Registration to the provider, when asked for.
    pub register: Option<RegistrationSpec>,
    /// Probing, when asked for.
    pub probe: Option<ProbeSpec>,
    /// How long a gateway may stay silent (no provisional response)
    /// before the next one is tried.
    pub failover_after: Duration,
    /// Caller ID presentation.
    pub caller_id: CallerIdMode,
    /// Each carrier attempt gets a Call-ID of its own.
    pub fresh_call_id: bool,
    /// Networks its inbound calls come from (trusted: not rate limited).
    pub inbound_networks: Vec<(IpAddr, u8)>,
    /// Local users whose authenticated calls are this trunk's (a PBX or
    /// an SBC that authenticates with credentials rather than by its
    /// network).
    pub inbound_users: Vec<String>,
}
