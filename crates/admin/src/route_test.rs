//! `POST /api/v1/routes/test` and `/routes/reload`: the dial plan tried
//! and reloaded through the API, as `switchboard route test` and SIGHUP.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The body of `POST /api/v1/routes/test`: a call to decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteTest {
    /// The dialled number or user (or a SIP URI).
    pub number: String,
    /// The caller's URI (`sip:alice@example.com`).
    pub from: String,
    /// Where the call comes from (default 127.0.0.1).
    #[serde(default)]
    pub source: Option<IpAddr>,
    /// Its transport (default `udp`).
    #[serde(default)]
    pub transport: Option<String>,
    /// When: `2026-12-07T10:00:00` (the plan's zone) or with an offset;
    /// default now.
    #[serde(default)]
    pub time: Option<String>,
    /// The call comes from this trunk.
    #[serde(default)]
    pub trunk: Option<String>,
}

/// The answer of `POST /api/v1/routes/test`: what `switchboard route
/// test` prints, split into fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTested {
    /// The version of the plan that decided.
    pub plan: String,
    /// `route`, `reject`, `redirect` or `no-route`.
    pub outcome: String,
    /// The SIP status of a reject or redirect.
    pub status: Option<u16>,
    /// Whether the call would be refused.
    pub refused: bool,
    /// The rule that decided.
    pub rule: Option<String>,
    /// The number after the rule's rewrites.
    pub number: String,
    /// Every step, one line each.
    pub trace: Vec<String>,
    /// The whole text as `route test` prints it (trace and `result:`
    /// lines).
    pub text: String,
}

/// What `POST /api/v1/routes/reload` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum PlanReload {
    /// The new plan is in force.
    Loaded {
        /// Its version.
        version: String,
    },
    /// The plan did not load; the running one stays.
    Refused {
        /// Why, naming the file, the line and the rule.
        detail: String,
    },
}
