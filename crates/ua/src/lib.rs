//! The Switchboard user agent, sans-IO: registration with digest
//! authentication, refresh and backoff ([`Registration`]); calls as INVITE
//! dialogs from either side with ACK, CANCEL, BYE and re-INVITE for hold
//! and resume ([`Call`]); SDP offer/answer for G.711 audio with
//! telephone-event and SDES-keyed SRTP ([`MediaSession`]); subscriptions
//! to presence, dialog and reg events (RFC 6665, [`Subscription`]) with
//! the NOTIFY bodies summarised ([`NotifyBody`]); our presence published
//! (RFC 3903, [`Publication`]).
//!
//! [`UserAgent`] is the whole user agent as one machine: it owns the
//! registration, the calls and the messages, knows which client
//! transaction belongs to which of them, and carries out their
//! [`Action`]s itself with the `switchboard_core::Endpoint` it is given. A front end feeds it the endpoint's
//! events (`handle_event`) and its commands (`register`, `dial`,
//! `accept`, `send_message`, `subscribe`, `publish`, `hold`, `hangup`,
//! `stop`), calls
//! `handle_timeout` at `poll_timeout`, and drains `poll_event` for
//! [`UaEvent`]s after each. The parts can also be driven alone (tests do).
//!
//! Like the endpoint below it, nothing here does I/O, reads the clock or
//! draws ambient randomness: every input takes `now`, randomness (tags,
//! Call-IDs, branches, cnonces, SRTP keys) comes from the RNG given to the
//! constructor. Media sockets belong to the front end: an incoming call
//! waits, as [`UaEvent::IncomingCall`], until the front end accepts it
//! with a [`MediaSession`] for the RTP port it bound.
#![forbid(unsafe_code)]

mod action;
mod auth;
mod bodies;
mod call;
mod config;
mod dialog;
mod error;
mod event;
mod expires;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod media_session;
mod pager;
mod publication;
mod registration;
mod session_timer;
mod subscription;
mod user_agent;

#[cfg(test)]
mod tests;

pub use action::Action;
pub use auth::{AuthError, Credentials};
pub use bodies::{
    ContactSummary, DIALOG_INFO, DialogInfo, DialogSummary, ListedResource, NotifyBody, PIDF,
    Presence, REGINFO, RLMI, RegInfo, RegistrationSummary, ResourceList,
};
pub use call::{Call, Role};
pub use config::UaConfig;
pub use error::{NegotiationError, UaError};
pub use event::{
    CallEvent, Delivery, EndReason, Failure, Notification, PublicationEvent, RegistrationEvent,
    SubscriptionEnd, SubscriptionEvent, SubscriptionState, UaEvent,
};
pub use media_session::{MediaPolicy, MediaSession, Negotiated, SrtpKeys, SrtpPolicy, reverse};
pub use pager::Pager;
pub use publication::Publication;
pub use registration::{Backoff, Registration, refresh_after};
pub use session_timer::MIN_SE;
pub use subscription::Subscription;
pub use user_agent::UserAgent;
