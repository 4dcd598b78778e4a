//! A call in progress as the operator sees it (`GET /api/v1/calls`):
//! read from the call book, with what the call's record adds (the
//! authenticated caller, the dial plan's rule, the trunk).

use crate::proxy::CallParty;
use crate::registrar::Aor;
use crate::storage::MediaLeg;

/// Where a call in progress stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LiveState {
    /// Forwarded, no dialog yet (or only a 100/untagged 1xx).
    Trying,
    /// Ringing: an early dialog.
    Early,
    /// Answered.
    Confirmed,
}

impl LiveState {
    /// `trying`, `early` or `confirmed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trying => "trying",
            Self::Early => "early",
            Self::Confirmed => "confirmed",
        }
    }
}

/// One call in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCall {
    /// The Call-ID (the caller's, for a carrier leg with its own).
    pub call_id: String,
    /// The From of the INVITE.
    pub caller: CallParty,
    /// The To of the INVITE.
    pub callee: CallParty,
    /// The caller's address of record, when its From is one.
    pub caller_aor: Option<Aor>,
    /// The callee's address of record (from the Request-URI).
    pub callee_aor: Option<Aor>,
    /// The Request-URI the INVITE came with.
    pub dialled: String,
    /// Where it stands.
    pub state: LiveState,
    /// When the INVITE was forwarded (Unix milliseconds).
    pub start_ms: u64,
    /// When it was answered (Unix milliseconds).
    pub answer_ms: Option<u64>,
    /// How long since the start.
    pub duration_ms: u64,
    /// The caller's device (its Contact).
    pub caller_contact: Option<String>,
    /// The callee's devices: the one that answered, or those ringing.
    pub callee_contacts: Vec<String>,
    /// The user the caller authenticated as.
    pub caller_user: Option<String>,
    /// The dial plan's rule that routed it.
    pub rule: Option<String>,
    /// The trunk it went out through.
    pub trunk: Option<String>,
    /// The media relay's ports and running counters, when the call is
    /// anchored on it.
    pub media: Option<LiveMedia>,
}

/// A call anchored on the media relay, as it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMedia {
    /// The caller's leg.
    pub caller: LiveMediaLeg,
    /// The callee's leg.
    pub callee: LiveMediaLeg,
}

/// One party's leg of a relayed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMediaLeg {
    /// The relay's ports this party sends RTP to, one per stream (`m=`
    /// order); RTCP goes to the next port unless muxed.
    pub relay_ports: Vec<u16>,
    /// What passed so far.
    pub counters: MediaLeg,
}
