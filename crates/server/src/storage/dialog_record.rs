//! A dialog record: one record-routed call in progress, kept in the store
//! from its answer to its end, so that a restarted server (even after a
//! kill -9) still relays the call's in-dialog requests, lists it, can hang
//! it up, and completes its call record when the BYE comes.

use std::net::SocketAddr;

use switchboard_core::{Source, Transport};

use super::RelaySdp;

/// Where a party's messages came from. The connection itself does not
/// survive a restart: a device on TCP or TLS is reached again by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSource {
    /// The transport they arrived on.
    pub transport: Transport,
    /// The device's address (packet source or connection peer).
    pub remote: SocketAddr,
    /// The server's address they arrived at.
    pub local: SocketAddr,
}

impl DeviceSource {
    /// The source as a message of the restored dialog would have it (no
    /// connection).
    #[must_use]
    pub fn to_source(self) -> Source {
        Source {
            transport: self.transport,
            remote: self.remote,
            local: self.local,
            flow: None,
        }
    }
}

impl From<Source> for DeviceSource {
    fn from(source: Source) -> Self {
        Self {
            transport: source.transport,
            remote: source.remote,
            local: source.local,
        }
    }
}

/// One side of a dialog: who (the From or To of the INVITE), which
/// device, and how far its requests are numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogParty {
    /// The URI of its header (From for the caller, To for the callee).
    pub uri: String,
    /// The display name, unquoted.
    pub display: Option<String>,
    /// Its dialog tag.
    pub tag: String,
    /// The local user the call is filed under (`sip:alice@example.com`),
    /// when it is one.
    pub aor: Option<String>,
    /// Its device: the Contact URI of its INVITE or 2xx.
    pub contact: Option<String>,
    /// Where its messages came from.
    pub source: Option<DeviceSource>,
    /// The highest CSeq number of its requests in the dialog seen when
    /// the record was written (`None`: it sent none).
    pub cseq: Option<u32>,
}

/// Where a dialog stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DialogPhase {
    /// A provisional response with a To tag: ringing.
    Early,
    /// A 2xx passed: the call is up.
    Confirmed,
}

impl DialogPhase {
    /// Its name in the store.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Early => "early",
            Self::Confirmed => "confirmed",
        }
    }

    /// The phase named `text` ([`DialogPhase::as_str`]).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Early, Self::Confirmed]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// A call sent to a carrier under a Call-ID or CSeq numbering of the
/// server's own: how the carrier's side of the dialog is named, so its
/// requests (a BYE from the carrier) still map to the caller's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierLeg {
    /// The Call-ID the carrier knows the call by.
    pub call_id: String,
    /// How far the carrier's CSeq numbers of the caller's requests are
    /// ahead (an INVITE sent again to answer a challenge).
    pub cseq_delta: u32,
}

/// One record-routed call in progress. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogRecord {
    /// Stable key: the Call-ID and the caller's From tag (the call
    /// record's id too).
    pub id: String,
    /// The Call-ID of the caller's INVITE.
    pub call_id: String,
    /// The caller (From of the INVITE).
    pub caller: DialogParty,
    /// The callee (To of the INVITE; the tag and device of the 2xx).
    pub callee: DialogParty,
    /// The Request-URI the INVITE arrived with.
    pub dialled: String,
    /// The Record-Route of the 2xx as it came (top first): the dialog's
    /// route set, this server's own entries among them.
    pub route_set: Vec<String>,
    /// Where the dialog stands.
    pub phase: DialogPhase,
    /// When the INVITE was forwarded.
    pub start_ms: u64,
    /// When the 2xx passed.
    pub answer_ms: Option<u64>,
    /// When the record was written: a record idle beyond the limits of
    /// an unanswered or an answered call is dropped at load.
    pub updated_ms: u64,
    /// The user who authenticated the INVITE (`alice@example.com`), if any.
    pub caller_user: Option<String>,
    /// The number after the dial plan's rewrites (routed by the plan only).
    pub routed_number: Option<String>,
    /// The dial plan's rule that routed the call.
    pub rule: Option<String>,
    /// Where the plan sent it (`user:bob`, `trunk:carrier`, a URI).
    pub target: Option<String>,
    /// The trunk of the answered carrier attempt.
    pub trunk: Option<String>,
    /// The gateway of the answered carrier attempt.
    pub gateway: Option<String>,
    /// The carrier's names for the dialog, when the proxy translates them.
    pub carrier_leg: Option<CarrierLeg>,
    /// Whether the call's media is anchored on the relay (a restart takes
    /// its session back with [`Self::relay_sdp`], or ends the call).
    pub relayed: bool,
    /// What the relay needs to take the call back on its ports after a
    /// restart; `None` when not relayed, or not known yet (a late offer
    /// before its answer): such a relayed call is ended at load.
    pub relay_sdp: Option<RelaySdp>,
}

impl DialogRecord {
    /// The key of the dialog of `call_id` started with From tag
    /// `from_tag`.
    #[must_use]
    pub fn key(call_id: &str, from_tag: &str) -> String {
        format!("{call_id};{from_tag}")
    }
}
