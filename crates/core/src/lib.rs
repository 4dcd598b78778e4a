//! The sans-IO SIP endpoint of Switchboard: transport rules (RFC 3261 §18,
//! RFC 3581) and the transaction layer (RFC 3261 §17, RFC 6026).
//!
//! [`Endpoint`] does no I/O, never reads the clock and takes its randomness
//! from an injected RNG: the driver (`switchboard-net`, or a test with a
//! virtual clock) feeds it [`Input`]s with the current time, carries out the
//! [`Transmit`]s it returns, hands [`Event`]s to the transaction user, and
//! calls [`Endpoint::handle_timeout`] at [`Endpoint::poll_timeout`].
//!
//! The run loop, as in str0m and quinn-proto: after any input or command,
//! drain `poll_transmit`, `poll_close` and `poll_event` until they return
//! `None`, then wait for the next input or the deadline of `poll_timeout`.
#![forbid(unsafe_code)]

mod config;
mod endpoint;
mod error;
mod event;
mod layer;
mod message_counts;
mod now;
pub mod token;
mod transaction;
mod transport;

// RFC 3263 server location and fail-over, sans-IO.
pub mod resolve;

pub use config::Config;
pub use endpoint::{Endpoint, Input, Stats, shrink_after_peak};
pub use error::{RespondError, SendError};
pub use event::Event;
pub use layer::TransactionLayer;
pub use message_counts::{ClassCounts, MessageCounts, MethodCounts};
pub use now::Now;
pub use transaction::{Timer, TransactionId};
pub use transport::{Destination, FlowId, Source, Transmit, Transport};
