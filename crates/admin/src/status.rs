//! `GET /api/v1/status`: what the server is and how busy it is.

use serde::{Deserialize, Serialize};

/// What does not change while the server runs: given once, at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The server's version (`0.1.0`).
    pub version: String,
    /// The SIP listeners.
    pub listeners: Vec<Listener>,
    /// The domains served.
    pub domains: Vec<String>,
    /// The configured limits.
    pub limits: Limits,
}

/// One SIP listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listener {
    /// `udp`, `tcp`, `tls`, `ws` or `wss`.
    pub transport: String,
    /// `IP:PORT` as bound.
    pub address: String,
}

/// The limits the server runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Live SIP transactions before new requests get 503.
    pub max_transactions: usize,
    /// Bindings the registrar holds at most.
    pub max_bindings: usize,
    /// Contacts one address of record may register.
    pub max_contacts_per_aor: usize,
    /// Shortest registration accepted (seconds).
    pub min_expires: u32,
    /// Longest registration granted (seconds).
    pub max_expires: u32,
}

/// How much the server holds now: answered by the driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Registered contacts (bindings).
    pub registrations: usize,
    /// Addresses of record with at least one binding.
    pub registered_users: usize,
    /// Live SIP transactions.
    pub transactions: usize,
    /// Subscriptions the server notifies.
    pub subscriptions: usize,
    /// Calls the proxy routes.
    pub calls: usize,
    /// Users known (held in memory).
    pub users: usize,
}

/// A TLS certificate the server serves, as loaded now (a reload changes
/// it): its expiry, for the operator to see renewal happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The certificate file.
    pub path: String,
    /// Its subject (`CN=sip.example.com`).
    pub subject: String,
    /// End of validity, unix seconds.
    pub not_after: u64,
    /// Whole days left until then: negative once expired.
    pub days_left: i64,
}

/// The answer of `GET /api/v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The server's version.
    pub version: String,
    /// Seconds since the server started.
    pub uptime_seconds: u64,
    /// The SIP listeners.
    pub listeners: Vec<Listener>,
    /// The domains served.
    pub domains: Vec<String>,
    /// The configured limits.
    pub limits: Limits,
    /// What it holds now.
    pub counts: Counts,
    /// The TLS certificates served (none without TLS).
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    /// The cluster this node is part of (absent: alone, as on SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
}

/// The nodes sharing this node's database (issue 14).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// This node's name.
    pub node: String,
    /// Every node the database knows, this one included, by name.
    pub nodes: Vec<ClusterNode>,
}

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNode {
    /// Its name.
    pub name: String,
    /// The SIP URI the other nodes reach it at.
    pub sip_uri: String,
    /// Its admin API, if it has one.
    #[serde(default)]
    pub admin_url: Option<String>,
    /// When it started, Unix milliseconds.
    pub started_ms: u64,
    /// Its latest heartbeat, Unix milliseconds.
    pub heartbeat_ms: u64,
    /// Whether it beat within three heartbeat intervals.
    pub alive: bool,
}

impl Status {
    /// The static facts and the driver's counts and certificates, together.
    #[must_use]
    pub fn new(
        info: &ServerInfo,
        uptime_seconds: u64,
        counts: Counts,
        certificates: Vec<Certificate>,
    ) -> Self {
        Self {
            version: info.version.clone(),
            uptime_seconds,
            listeners: info.listeners.clone(),
            domains: info.domains.clone(),
            limits: info.limits.clone(),
            counts,
            certificates,
            cluster: None,
        }
    }
}
