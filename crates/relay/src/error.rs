//! What the relay refuses.

use crate::SessionId;

/// Why a command ([`Relay::allocate`](crate::Relay::allocate),
/// [`Relay::update`](crate::Relay::update), [`Relay::release`](crate::Relay::release))
/// failed.
///
/// Capacity errors ([`Self::PortsExhausted`], [`Self::TooManySessions`])
/// are the server's limits: the proxy answers the INVITE with 503 (or 488)
/// and never sets up a half call. The others are the caller's mistakes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// Not enough free ports in the configured range for every stream.
    #[error("no free relay ports: {needed} needed, {free} free")]
    PortsExhausted {
        /// Ports the allocation needed.
        needed: usize,
        /// Ports free at the time.
        free: usize,
    },
    /// The configured maximum of sessions is reached.
    #[error("relay session limit {0} reached")]
    TooManySessions(usize),
    /// A session with this id is already allocated.
    #[error("session {0} already exists")]
    DuplicateSession(SessionId),
    /// No session with this id.
    #[error("no session {0}")]
    UnknownSession(SessionId),
    /// The two legs, or an update and its leg, have different numbers of
    /// media streams (streams pair by their `m=` index).
    #[error("stream count mismatch: {expected} expected, {got} given")]
    StreamCount {
        /// Streams of the session.
        expected: usize,
        /// Streams given.
        got: usize,
    },
    /// A WebRTC command for a leg that is not [`LegMedia::WebRtc`](crate::LegMedia::WebRtc).
    #[error("session {0}: that leg is not WebRTC")]
    NotWebRtc(SessionId),
    /// str0m refused the browser's description (unreadable, nothing in
    /// common, or an answer with no offer pending); the details are logged.
    #[error("session {0}: WebRTC description refused")]
    WebRtcRefused(SessionId),
}
