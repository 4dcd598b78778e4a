//! `GET /api/v1/registrations`: one registered contact.

use serde::{Deserialize, Serialize};

/// One binding of the registrar, as an operator reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The address of record (`sip:alice@example.com`).
    pub aor: String,
    /// The contact URI.
    pub contact: String,
    /// Seconds left.
    pub expires_in: u64,
    /// When it ends (Unix seconds).
    pub expires_at: u64,
    /// Its `q` (0 to 1), when the device gave one.
    pub q: Option<f64>,
    /// The transport the REGISTER came over (`udp`, `tcp`, ...).
    pub transport: String,
    /// Where the REGISTER came from (`IP:PORT`).
    pub source: String,
    /// The device's User-Agent.
    pub user_agent: Option<String>,
    /// The device's `+sip.instance`.
    pub instance: Option<String>,
    /// The RFC 5626 `reg-id`.
    pub reg_id: Option<u32>,
    /// When it was first registered (Unix seconds).
    pub registered_at: u64,
    /// When it was last refreshed (Unix seconds).
    pub updated_at: u64,
}

/// The answer of `DELETE /api/v1/registrations/{user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationsRemoved {
    /// How many bindings were removed (stored before the answer).
    pub removed: usize,
}
