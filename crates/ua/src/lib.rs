//! The Switchboard user agent, sans-IO: registration with digest
//! authentication, refresh and backoff ([`Registration`]); calls as INVITE
//! dialogs from either side with ACK, CANCEL, BYE and re-INVITE for hold
//! and resume ([`Call`]); SDP offer/answer for G.711 audio with
//! telephone-event and SDES-keyed SRTP ([`MediaSession`]).
//!
//! Like the endpoint below it, nothing here does I/O, reads the clock or
//! draws ambient randomness: every input takes `now`, randomness (tags,
//! Call-IDs, branches, cnonces, SRTP keys) comes from the RNG given to the
//! constructor. The driver (the `switchboard` binary, or a test with a
//! virtual clock) carries out the [`Action`]s each machine emits with a
//! `switchboard_core::Endpoint`, feeds back the responses
//! (`handle_response`) and failures (`handle_failure`) of the requests it
//! sent, the requests of the call (`handle_request`, `handle_ack`,
//! `handle_cancel`), and calls `handle_timeout` at `poll_timeout`. After
//! any input, drain `poll_action` and `poll_event` until empty.
#![forbid(unsafe_code)]

mod action;
mod auth;
mod call;
mod config;
mod dialog;
mod error;
mod event;
mod media_session;
mod pager;
mod random;
mod registration;
mod session_timer;

#[cfg(test)]
mod tests;

pub use action::Action;
pub use auth::{AuthError, Credentials};
pub use call::{Call, Role};
pub use config::UaConfig;
pub use error::{NegotiationError, UaError};
pub use event::{CallEvent, EndReason, Failure, RegistrationEvent};
pub use media_session::{MediaPolicy, MediaSession, Negotiated, SrtpKeys, SrtpPolicy, reverse};
pub use pager::{Delivery, Pager};
pub use registration::{Backoff, Registration, refresh_after};
pub use session_timer::MIN_SE;
