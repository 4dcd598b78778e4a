//! `GET /api/v1/presence`: the presence state a user published (RFC
//! 3903), as the server holds it.

use serde::{Deserialize, Serialize};

/// The published presence of one presentity: its publications (one per
/// device, RFC 3903) read together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// The presentity (`sip:alice@example.com`).
    pub presentity: String,
    /// `open` when any publication says open, else `closed` when one
    /// says closed; none when no document carries a basic status.
    pub basic: Option<String>,
    /// The note of the most recent publication that has one.
    pub note: Option<String>,
    /// The RPID activities (`on-the-phone`, `away`), of all publications.
    pub activities: Vec<String>,
    /// How many publications are held.
    pub publications: usize,
    /// When the last of them ends (Unix seconds).
    pub expires_at: u64,
    /// Seconds left until then.
    pub expires_in: u64,
}
