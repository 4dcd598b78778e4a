//! `GET /api/v1/plan`: the dial plan in force.

use serde::{Deserialize, Serialize};

/// The plan the server routes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Its version (logged at every load).
    pub version: String,
    /// Its trunks.
    pub trunks: Vec<PlanTrunk>,
}

/// One trunk as the plan declares it (no credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTrunk {
    /// The trunk's name.
    pub name: String,
    /// Its gateways' URIs, in order.
    pub gateways: Vec<String>,
    /// Whether the server registers at the provider.
    pub registers: bool,
    /// Whether its gateways are probed with OPTIONS.
    pub probed: bool,
}
