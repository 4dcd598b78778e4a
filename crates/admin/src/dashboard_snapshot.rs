//! What the dashboard shows, as one snapshot the driver answers and
//! `GET /api/v1/events` pushes. It holds no "now" and no countdown
//! (`expires_at`, `answer_ms` are instants; the page counts), so two
//! snapshots differ only when something happened.

use serde::{Deserialize, Serialize};

use crate::{MinuteCounts, Trunk};

/// Registrations and calls shown at most; the totals say how many more
/// there are.
pub const DASHBOARD_LIST_LIMIT: usize = 100;

/// Everything the dashboard shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardSnapshot {
    /// Registered devices (all of them).
    pub registrations_total: usize,
    /// The first [`DASHBOARD_LIST_LIMIT`] of them.
    pub registrations: Vec<DashboardRegistration>,
    /// Calls in progress (all of them).
    pub calls_total: usize,
    /// The first [`DASHBOARD_LIST_LIMIT`] of them.
    pub calls: Vec<DashboardCall>,
    /// The trunks and their gateways' health.
    pub trunks: Vec<Trunk>,
    /// The last hour, minute by minute, oldest first.
    pub per_minute: Vec<MinuteCounts>,
}

/// One registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardRegistration {
    /// The address of record (`sip:alice@example.com`).
    pub aor: String,
    /// The contact URI.
    pub contact: String,
    /// `udp`, `tcp`, `tls`, `ws` or `wss`.
    pub transport: String,
    /// When it lapses (Unix seconds).
    pub expires_at: u64,
    /// The device's User-Agent.
    pub user_agent: Option<String>,
}

/// One call in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardCall {
    /// Its Call-ID.
    pub call_id: String,
    /// Who calls (the user, else the From URI).
    pub caller: String,
    /// Who is called (the user, else the To URI).
    pub callee: String,
    /// `trying`, `early` or `confirmed`.
    pub state: String,
    /// When the INVITE was forwarded (Unix milliseconds).
    pub start_ms: u64,
    /// When it was answered (Unix milliseconds): the page's timer runs
    /// from here.
    pub answer_ms: Option<u64>,
}
