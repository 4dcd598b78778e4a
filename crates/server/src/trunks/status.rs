//! A snapshot of the trunks for `route test` and the admin API: plain
//! values, no references into the server.

use super::gateway_state::Health;
use super::registration::RegistrationState;

/// One gateway as the server sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayStatus {
    /// Its URI as the plan writes it.
    pub uri: String,
    /// Up, down or unknown.
    pub health: Health,
    /// Whether it is probed (unprobed gateways stay unknown).
    pub probed: bool,
    /// Consecutive successes.
    pub successes: u32,
    /// Consecutive failures.
    pub failures: u32,
    /// Unix seconds of the last change of health.
    pub changed_at: Option<u64>,
}

/// One trunk as the server sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkStatus {
    /// The trunk's name.
    pub name: String,
    /// Its gateways, in the plan's order.
    pub gateways: Vec<GatewayStatus>,
    /// Its registration at the provider.
    pub registration: RegistrationState,
}
