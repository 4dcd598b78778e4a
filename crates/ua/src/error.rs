//! Errors, split by who is at fault.

use switchboard_proto::BuildError;
use switchboard_proto::StatusCode;

/// What the caller (the application) got wrong: a setting or command that
/// cannot be carried out. Never caused by a peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UaError {
    /// A URI that does not parse or is not `sip:`/`sips:`.
    #[error("invalid SIP URI {0:?}")]
    InvalidUri(String),
    /// No address to send to: the next hop is a host name and no outbound
    /// proxy is configured (this crate does no DNS).
    #[error("no address for {0:?}: give an IP address or an outbound proxy")]
    NoRoute(String),
    /// No call (or incoming call waiting for an answer) has this Call-ID.
    #[error("no call with Call-ID {0:?}")]
    UnknownCall(String),
    /// No subscription has this id.
    #[error("no subscription {0:?}")]
    UnknownSubscription(String),
    /// The command does not fit the call's state (hold before answer, ...).
    #[error("cannot {0} in this state")]
    InvalidState(&'static str),
    /// A request or response could not be built from the settings.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// What a peer's session description got wrong or asked for that we cannot
/// do: the answer is `488 Not Acceptable Here` (RFC 3264 §6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The body is not SDP that parses.
    #[error("session description does not parse")]
    Unparsable,
    /// No audio stream (or every audio stream has port 0).
    #[error("no audio stream offered")]
    NoAudio,
    /// None of the payload types is PCMU or PCMA.
    #[error("no common codec")]
    NoCodec,
    /// The policy requires SRTP and the peer offers plain RTP, or the other
    /// way round.
    #[error("media security does not match the SRTP policy")]
    SecurityMismatch,
    /// SRTP was offered but no `a=crypto` suite and key can be used.
    #[error("no usable a=crypto line")]
    NoCrypto,
    /// No usable connection address.
    #[error("no usable connection address")]
    NoAddress,
    /// An answer that does not fit our offer (a codec or crypto tag we did
    /// not offer, the stream rejected).
    #[error("answer does not match the offer: {0}")]
    AnswerMismatch(&'static str),
}

impl NegotiationError {
    /// The status a UAS answers with.
    pub fn status(&self) -> StatusCode {
        StatusCode::NOT_ACCEPTABLE_HERE
    }
}
