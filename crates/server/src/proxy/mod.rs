//! The stateful proxy (RFC 3261 §16), sans-IO, as the transaction user of
//! an [`Endpoint`](switchboard_core::Endpoint).
//!
//! The application keeps what is policy: who may call (authentication),
//! where a user is (the registrar's bindings) and how names resolve
//! (RFC 3263). The [`Proxy`] does the rest of §16: validation, Route
//! processing, Record-Route, forking by q-value, Timer C, the response
//! context and best-response selection, CANCEL, and relaying ACKs for 2xx
//! and 2xx retransmissions. See [`Proxy`] for the calling loop.
//!
//! For a dial plan it also rings groups of targets with their own timeout
//! and advance policy (a trunk's gateways fail over only when the gateway
//! fails), holds a final answer for fallthrough
//! ([`ProxyEvent::Exhausted`]), answers a carrier's 401/407 with the
//! target's credentials, and translates a carrier leg's Call-ID and CSeq
//! for the rest of the dialog.
//!
//! "This server" is the [`ProxyConfig`]'s listeners (a URI whose host and
//! port match one) and domains (a URI with that host and no port): several
//! user agents may share the server's IP address on other ports.

mod branch;
mod call_update;
mod challenge;
mod config;
mod context;
mod error;
mod event;
mod incoming;
mod legs;
mod loop_check;
mod record_route;
mod routing;
mod session_answer;
mod stateful;
mod target;
mod validate;

pub use call_update::{CallEnd, CallParty, CallPhase, CallUpdate};
pub use config::{Listener, Mode, ProxyConfig};
pub use error::ProxyError;
pub use event::{AttemptReport, ExhaustCause, ProxyEvent, ResolveId};
pub use incoming::Incoming;
pub use session_answer::SessionAnswer;
pub use stateful::Proxy;
pub use switchboard_core::TransactionLayer;
pub use target::{Advance, GroupPolicy, NextHop, Target, TargetSet};
pub use validate::Rejection;

/// Where an address URI points without DNS (the trunks probe and register
/// through it too).
pub(crate) use routing::hop_for_uri;
