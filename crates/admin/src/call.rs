//! `GET /api/v1/calls` and `DELETE /api/v1/calls/{call_id}`: the calls in
//! progress, and what hanging one up did.

use serde::{Deserialize, Serialize};

/// One side of a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallParty {
    /// The URI of its From (the caller) or To (the callee).
    pub uri: String,
    /// The display name, when it has one.
    pub display: Option<String>,
    /// The user: the one the caller authenticated as, or the address of
    /// record (`alice@example.com`) when it is one.
    pub user: Option<String>,
    /// Its devices' Contact URIs (the callee's: the one that answered, or
    /// those ringing).
    pub devices: Vec<String>,
}

/// One call in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The Call-ID (the caller's).
    pub call_id: String,
    /// Who calls.
    pub caller: CallParty,
    /// Who is called.
    pub callee: CallParty,
    /// The Request-URI the caller dialled.
    pub dialled: String,
    /// `trying`, `early` (ringing) or `confirmed` (answered).
    pub state: String,
    /// When the server forwarded the INVITE (Unix milliseconds).
    pub start_ms: u64,
    /// When it was answered (Unix milliseconds).
    pub answer_ms: Option<u64>,
    /// How long since the start (milliseconds).
    pub duration_ms: u64,
    /// The dial plan's rule that routed it.
    pub rule: Option<String>,
    /// The trunk it went out through.
    pub trunk: Option<String>,
    /// The media relay's ports and counters, when the call is anchored
    /// on it (absent: media flows between the parties).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<CallMedia>,
}

/// A call anchored on the media relay: each party's leg, so an operator
/// chasing one-way audio sees which leg receives nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallMedia {
    /// The caller's leg.
    pub caller: CallMediaLeg,
    /// The callee's leg.
    pub callee: CallMediaLeg,
}

/// One party's leg of a relayed call, so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallMediaLeg {
    /// The relay's ports the party sends RTP to, one per stream.
    pub relay_ports: Vec<u16>,
    /// Packets (RTP and RTCP) the party sent in.
    pub packets_in: u64,
    /// Their bytes.
    pub bytes_in: u64,
    /// Packets the relay sent the party.
    pub packets_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Packets the party reported lost (its last RTCP report).
    pub lost: Option<i64>,
    /// The jitter it reported, in RTP timestamp units.
    pub jitter: Option<u32>,
}

/// What `DELETE /api/v1/calls/{call_id}` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HungUp {
    /// The call.
    pub call_id: String,
    /// `bye` (answered: a BYE to both parties) or `cancel` (ringing: the
    /// caller got 487).
    pub action: String,
}
