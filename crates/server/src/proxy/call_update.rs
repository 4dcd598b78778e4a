//! What the proxy tells about the calls it routes, for busy-lamp fields
//! (RFC 4235) and call pickup (RFC 3891): one [`CallUpdate`] each time a
//! call it forwards changes state.

use switchboard_core::Source;
use switchboard_proto::header::{Contact, From, NameAddr, To};
use switchboard_proto::{HeaderName, Request, Response};

/// One side of a call as its header (From or To) names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallParty {
    /// The display name, unquoted.
    pub display: Option<String>,
    /// The URI.
    pub uri: String,
}

impl CallParty {
    fn of(address: &NameAddr<'_>) -> Self {
        Self {
            display: address.display_name_unquoted().map(|d| d.into_owned()),
            uri: address.uri.as_str().to_owned(),
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallEnd {
    /// A final non-2xx went to the caller (or, with a To tag, one fork
    /// answered so while others go on).
    Status(u16),
    /// The caller cancelled, or another fork answered.
    Cancelled,
    /// A BYE passed through; the book tells which side sent it by its tags.
    Bye,
    /// The caller's transaction broke (its connection went).
    Gone,
}

/// Where a call stands (RFC 4235 §3.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallPhase {
    /// The initial INVITE was forwarded.
    Trying,
    /// A provisional response without a To tag.
    Proceeding,
    /// A provisional response with a To tag: an early dialog (ringing).
    Early,
    /// A 2xx: the dialog of `to_tag` is up.
    Confirmed,
    /// Over: for the dialog of `to_tag`, or the whole call without one.
    Terminated(CallEnd),
}

/// A change of state of a call the proxy routes: an initial INVITE, its
/// responses, its CANCEL, the BYE that ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallUpdate {
    /// The Call-ID.
    pub call_id: String,
    /// The From tag of the message (for a BYE from the callee, the
    /// callee's tag).
    pub from_tag: String,
    /// The To tag: which fork's dialog; `None` before the callee's side
    /// has one, or for the whole call.
    pub to_tag: Option<String>,
    /// The From of the INVITE (for a BYE: of the BYE).
    pub caller: CallParty,
    /// The To of the INVITE (for a BYE: of the BYE).
    pub callee: CallParty,
    /// The Request-URI the INVITE arrived with.
    pub request_uri: String,
    /// The caller's device (the INVITE's Contact URI).
    pub caller_contact: Option<String>,
    /// Where the caller's INVITE came from (the next hop back to it).
    pub caller_source: Source,
    /// The callee's device (the response's Contact URI), when a response
    /// says.
    pub callee_contact: Option<String>,
    /// Where that response came from.
    pub callee_source: Option<Source>,
    /// The CSeq number of the message (the INVITE's, or the BYE's).
    pub cseq: u32,
    /// The Record-Route values of the answer, as they came (the dialog's
    /// route set, our own entries among them); empty before an answer.
    pub record_route: Vec<String>,
    /// The new state.
    pub state: CallPhase,
}

impl CallUpdate {
    /// The update for `request` (the INVITE, or a BYE) from `source`;
    /// `None` without a Call-ID or a usable From and To.
    pub(crate) fn of_request(request: &Request, source: &Source, state: CallPhase) -> Option<Self> {
        let headers = request.headers();
        let from = headers.typed::<From<'_>>()?.ok()?;
        let to = headers.typed::<To<'_>>()?.ok()?;
        let caller_contact = headers
            .typed::<Contact<'_>>()
            .and_then(Result::ok)
            .and_then(|c| c.address().map(|a| a.uri.as_str().to_owned()));
        Some(Self {
            call_id: headers.call_id()?.to_owned(),
            from_tag: from.tag().unwrap_or_default().to_owned(),
            to_tag: to.tag().map(str::to_owned),
            caller: CallParty::of(&from),
            callee: CallParty::of(&to),
            request_uri: request.uri_str().to_owned(),
            caller_contact,
            caller_source: *source,
            callee_contact: None,
            callee_source: None,
            cseq: headers.cseq().map_or(0, |c| c.seq),
            record_route: Vec::new(),
            state,
        })
    }

    /// The same call answered by `response` (from `from`, when known): its
    /// To tag and the callee's Contact.
    pub(crate) fn answered_by(mut self, response: &Response, from: Option<Source>) -> Self {
        let headers = response.headers();
        self.to_tag = headers.to_tag().map(str::to_owned);
        self.callee_contact = headers
            .typed::<Contact<'_>>()
            .and_then(Result::ok)
            .and_then(|c| c.address().map(|a| a.uri.as_str().to_owned()));
        self.callee_source = from;
        self.record_route = headers
            .values(HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        self
    }
}
