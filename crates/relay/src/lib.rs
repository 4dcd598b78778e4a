#![forbid(unsafe_code)]
//! The media relay core of Switchboard (issue 16): RTP and RTCP of a call
//! anchored on the server's ports, so two parties behind NATs hear each
//! other, and a plain-RTP phone talks to an SDES-SRTP one.
//!
//! Sans-IO like the signalling crates: [`Relay`] takes datagrams and the
//! time as arguments and returns datagrams to send, events and its next
//! deadline; the SRTP keys of the relay's side come from an injected RNG.
//! An I/O driver (a batch of UDP sockets per worker) and the proxy's media
//! policy are built on top of it later.
//!
//! - [`Relay`]: sessions of two legs, symmetric latching with a guard
//!   against hijacking, SRTP/SRTCP bridging (reusing `switchboard-media`'s
//!   contexts), RFC 5761 RTCP demultiplexing, rate limits, media timeouts
//!   and per-session statistics.
//! - [`anchor`]: the SDP side: a leg's [`LegOffer`] read from its
//!   description, and the description the other party receives rewritten
//!   with the relay's address, ports and keys.
//!
//! - WebRTC legs ([`LegMedia::WebRtc`]): a browser's ICE-lite, DTLS-SRTP,
//!   rtcp-mux and BUNDLE on one port, one str0m `Rtc` per leg in RTP mode
//!   ([`Relay::answer_webrtc`], [`Relay::offer_webrtc`],
//!   [`Relay::accept_webrtc_answer`]); payloads pass as they come.

mod allocation;
pub mod anchor;
mod config;
mod error;
mod event;
/// The rig of the `relay_machine` fuzz target.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod latch;
mod leg;
mod port_table;
mod ports;
mod rate;
mod relay;
mod session;
mod stats;
mod webrtc;

pub use allocation::{Allocation, LegAllocation, RelayCrypto, StreamAllocation};
pub use config::RelayConfig;
pub use error::RelayError;
pub use event::{RelayEvent, Transmit};
pub use leg::{LegMedia, LegOffer, PeerCrypto, SessionId, Side, StreamOffer};
pub use relay::Relay;
pub use stats::{DropCounts, LegStats, ReceptionQuality, SessionStats};
