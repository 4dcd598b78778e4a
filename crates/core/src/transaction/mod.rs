//! The four transaction state machines of RFC 3261 §17 and how requests and
//! responses are matched to them.

mod client_invite;
mod client_non_invite;
mod invite_fields;
mod server_invite;
mod server_non_invite;
mod timer;

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use switchboard_proto::header::Via;
use switchboard_proto::{Method, Request, Response};

pub(crate) use client_invite::ClientInvite;
pub(crate) use client_non_invite::ClientNonInvite;
pub(crate) use server_invite::ServerInvite;
pub(crate) use server_non_invite::ServerNonInvite;
pub use timer::Timer;
pub(crate) use timer::TimerTable;

use crate::{Config, Event, Transmit};

/// A transaction handle, unique for the life of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub(crate) u64);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tx{}", self.0)
    }
}

/// What a state machine may touch while it handles an input.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) config: &'a Config,
    pub(crate) transmits: &'a mut VecDeque<Transmit>,
    pub(crate) events: &'a mut VecDeque<Event>,
}

/// One live transaction.
///
/// The INVITE kinds are larger and boxed, so that every entry of the
/// endpoint's table (mostly the far more numerous non-INVITE
/// transactions, which a UDP server keeps 32 s in Completed) does not pay
/// their size.
#[derive(Debug)]
#[allow(clippy::enum_variant_names)] // RFC 3261's four kinds, named as in §17
pub(crate) enum Transaction {
    ClientInvite(Box<ClientInvite>),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(Box<ServerInvite>),
    ServerNonInvite(ServerNonInvite),
}

impl Transaction {
    pub(crate) fn timers(&self) -> &TimerTable {
        match self {
            Self::ClientInvite(t) => &t.timers,
            Self::ClientNonInvite(t) => &t.timers,
            Self::ServerInvite(t) => &t.timers,
            Self::ServerNonInvite(t) => &t.timers,
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        match self {
            Self::ClientInvite(t) => t.is_terminated(),
            Self::ClientNonInvite(t) => t.is_terminated(),
            Self::ServerInvite(t) => t.is_terminated(),
            Self::ServerNonInvite(t) => t.is_terminated(),
        }
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match self {
            Self::ClientInvite(t) => t.on_timer(ctx, timer),
            Self::ClientNonInvite(t) => t.on_timer(ctx, timer),
            Self::ServerInvite(t) => t.on_timer(ctx, timer),
            Self::ServerNonInvite(t) => t.on_timer(timer),
        }
    }

    pub(crate) fn on_transport_error(&mut self, ctx: &mut Ctx<'_>) {
        match self {
            Self::ClientInvite(t) => t.on_transport_error(ctx),
            Self::ClientNonInvite(t) => t.on_transport_error(ctx),
            Self::ServerInvite(t) => t.on_transport_error(),
            Self::ServerNonInvite(t) => t.on_transport_error(),
        }
    }

    /// Whether a client transaction has had no response yet.
    pub(crate) fn awaits_first_response(&self) -> bool {
        match self {
            Self::ClientInvite(t) => t.state == client_invite::State::Calling,
            Self::ClientNonInvite(t) => t.state == client_non_invite::State::Trying,
            Self::ServerInvite(_) | Self::ServerNonInvite(_) => false,
        }
    }

    /// Points a server transaction's responses somewhere else.
    pub(crate) fn retarget(&mut self, to: crate::Destination) {
        match self {
            Self::ServerInvite(t) => t.reply_to = to,
            Self::ServerNonInvite(t) => t.reply_to = to,
            Self::ClientInvite(_) | Self::ClientNonInvite(_) => {}
        }
    }

    pub(crate) fn destination(&self) -> crate::Destination {
        match self {
            Self::ClientInvite(t) => t.destination,
            Self::ClientNonInvite(t) => t.destination,
            Self::ServerInvite(t) => t.reply_to,
            Self::ServerNonInvite(t) => t.reply_to,
        }
    }
}

/// The key that matches a request to its server transaction (§17.2.3):
/// branch, sent-by and method (ACK matches INVITE), or the RFC 2543 fields
/// when the branch lacks the magic cookie.
pub(crate) fn server_key(request: &Request, method_override: Option<&Method>) -> Option<Box<str>> {
    let h = request.headers();
    let via = h.top_via()?.ok()?;
    let method = match (method_override, request.method()) {
        (Some(m), _) => m,
        (None, Method::Ack) => &Method::Invite,
        (None, m) => m,
    };
    let mut key = String::with_capacity(96);
    push_sent_by(&mut key, &via);
    if via.has_rfc3261_branch() {
        key.push('|');
        key.push_str(via.branch().unwrap_or_default());
    } else {
        // RFC 2543 compatibility (§17.2.3): Request-URI, From tag, Call-ID,
        // CSeq number and top Via identify the transaction. The ACK's
        // To tag is not compared, as it was added by our response.
        let ruri = request.uri_str();
        let seq = h.cseq().map_or(0, |c| c.seq);
        key.push_str("|2543|");
        key.push_str(ruri);
        key.push('|');
        key.push_str(h.from_tag().unwrap_or_default());
        key.push('|');
        key.push_str(h.call_id().unwrap_or_default());
        key.push('|');
        key.push_str(&seq.to_string());
        key.push('|');
        key.push_str(via.branch().unwrap_or_default());
    }
    key.push('|');
    key.push_str(method.as_str());
    Some(key.into())
}

fn push_sent_by(key: &mut String, via: &Via<'_>) {
    for c in via.host.as_str().chars() {
        key.push(c.to_ascii_lowercase());
    }
    key.push(':');
    key.push_str(&via.port.unwrap_or(0).to_string());
}

/// The key that matches a response to its client transaction (§17.1.3):
/// top Via branch and CSeq method.
pub(crate) fn client_key_for_response(response: &Response) -> Option<Box<str>> {
    let h = response.headers();
    client_key(h.top_branch()?, &h.cseq()?.method)
}

pub(crate) fn client_key(branch: &str, method: &Method) -> Option<Box<str>> {
    let mut key = String::with_capacity(branch.len() + 12);
    key.push_str(branch);
    key.push('|');
    key.push_str(method.as_str());
    Some(key.into())
}
