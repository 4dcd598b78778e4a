//! `GET /api/v1/trunks`: gateway health and registration at providers.

use serde::{Deserialize, Serialize};

/// One trunk as the server sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trunk {
    /// The trunk's name in the plan.
    pub name: String,
    /// Its gateways, in the plan's order.
    pub gateways: Vec<Gateway>,
    /// Its registration at the provider.
    pub registration: TrunkRegistration,
}

/// One gateway of a trunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gateway {
    /// Its URI as the plan writes it.
    pub uri: String,
    /// `up`, `down` or `unknown`.
    pub health: String,
    /// Whether it is probed with OPTIONS.
    pub probed: bool,
    /// Consecutive successes.
    pub successes: u32,
    /// Consecutive failures.
    pub failures: u32,
    /// Unix seconds of the last change of health.
    pub changed_at: Option<u64>,
}

/// Where a trunk's registration at its provider stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum TrunkRegistration {
    /// Not registering.
    Off,
    /// A REGISTER is on its way.
    Registering,
    /// Accepted until `until` (Unix seconds).
    Registered {
        /// When the binding lapses at the provider.
        until: u64,
    },
    /// The last attempt failed (`status`: the provider's final answer, if
    /// any); the next starts at `retry_at` (Unix seconds).
    Failed {
        /// The provider's final status.
        status: Option<u16>,
        /// When the next attempt starts.
        retry_at: u64,
    },
}
