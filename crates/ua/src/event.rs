//! What the user-agent state machines report.

use std::time::Duration;

use switchboard_proto::StatusCode;

use crate::media_session::Negotiated;

/// The outcome of a MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The final status (408/503 for a timeout or transport error).
    pub status: StatusCode,
    /// Its reason phrase.
    pub reason: String,
}

/// A client transaction that ended without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No final response in time (Timer B or F): as 408.
    Timeout,
    /// The request could not be delivered: as 503.
    TransportError,
}

impl Failure {
    /// What went wrong, in words.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Timeout => "no response",
            Self::TransportError => "transport error",
        }
    }

    /// The status the failure counts as (RFC 3261 §8.1.3.1).
    pub fn status(self) -> StatusCode {
        match self {
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::TransportError => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// What a [`crate::Registration`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationEvent {
    /// The registrar accepted the binding for `expires` seconds.
    Registered {
        /// Seconds granted.
        expires: u32,
    },
    /// A REGISTER failed; another is tried after `retry_in`.
    Failed {
        /// The status (408 for a timeout, 503 for a transport error).
        status: StatusCode,
        /// The reason phrase or what went wrong.
        reason: String,
        /// When the next attempt goes out.
        retry_in: Duration,
    },
    /// The binding was removed (or the registration stopped before it
    /// existed).
    Unregistered,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// We hung up (BYE sent, or CANCEL before the answer).
    LocalHangup,
    /// The peer hung up (BYE received, or the caller cancelled).
    RemoteHangup,
    /// The INVITE failed with a final response (or a timeout as 408, a
    /// transport error as 503).
    Failed {
        /// The status.
        status: StatusCode,
        /// The reason phrase.
        reason: String,
    },
    /// Offer/answer failed: the session could not be set up (488).
    NotAcceptable(String),
    /// The peer did not refresh the session in time (RFC 4028 §10).
    SessionExpired,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LocalHangup => f.write_str("local hangup"),
            Self::RemoteHangup => f.write_str("remote hangup"),
            Self::Failed { status, reason } => write!(f, "{} {reason}", status.as_u16()),
            Self::NotAcceptable(why) => write!(f, "488 Not Acceptable Here ({why})"),
            Self::SessionExpired => f.write_str("session expired"),
        }
    }
}

/// What a [`crate::Call`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallEvent {
    /// 100 Trying came (outgoing calls).
    Trying,
    /// 180/183 came (outgoing), or we sent 180 (incoming).
    Ringing,
    /// The call is up; run the media as negotiated.
    Answered(Negotiated),
    /// A re-INVITE changed the media (hold, resume).
    MediaUpdated(Negotiated),
    /// A re-INVITE we sent was refused; the media stays as it was.
    UpdateFailed {
        /// The status.
        status: StatusCode,
    },
    /// The call is over.
    Ended(EndReason),
}

/// What a [`crate::UserAgent`] reports to its front end.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UaEvent {
    /// The registration changed state.
    Registration(RegistrationEvent),
    /// An INVITE for a new call came. The front end answers it with
    /// [`crate::UserAgent::accept`] (giving the media session, whose RTP
    /// port it has bound) or [`crate::UserAgent::reject`].
    IncomingCall {
        /// The call's Call-ID, naming it in later commands and events.
        call_id: String,
        /// The caller: the From header value.
        from: String,
    },
    /// Something happened in a call.
    Call {
        /// The call's Call-ID.
        call_id: String,
        /// What happened.
        event: CallEvent,
    },
    /// A MESSAGE we sent got its final answer (or failed).
    Delivered {
        /// The Call-ID [`crate::UserAgent::send_message`] returned.
        call_id: String,
        /// The outcome.
        delivery: Delivery,
    },
    /// A MESSAGE came (it was answered 200).
    Message {
        /// The sender: the From header value.
        from: String,
        /// The body, as text.
        text: String,
    },
    /// Something happened to a subscription.
    Subscription {
        /// The id [`crate::UserAgent::subscribe`] returned.
        id: String,
        /// What happened.
        event: SubscriptionEvent,
    },
    /// Something happened to our presence publication.
    Publication(PublicationEvent),
}

/// The `Subscription-State` of a NOTIFY (RFC 6665 §8.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionState {
    /// `active`, with the seconds left.
    Active {
        /// The `expires` parameter.
        expires: Option<u32>,
    },
    /// `pending`: the notifier has not decided yet.
    Pending,
    /// `terminated`, with its reason (`deactivated`, `timeout`,
    /// `rejected`, `noresource`, ...).
    Terminated {
        /// The `reason` parameter.
        reason: Option<String>,
    },
    /// An extension state, as written.
    Other(String),
}

impl std::fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Active { .. } => f.write_str("active"),
            Self::Pending => f.write_str("pending"),
            Self::Terminated { reason: Some(r) } => write!(f, "terminated;reason={r}"),
            Self::Terminated { reason: None } => f.write_str("terminated"),
            Self::Other(s) => f.write_str(s),
        }
    }
}

/// One NOTIFY we answered 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The event package (`presence`, `dialog`, `reg`).
    pub event: String,
    /// The subscription's state.
    pub state: SubscriptionState,
    /// What the body says.
    pub body: crate::bodies::NotifyBody,
}

/// Why a subscription is over.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionEnd {
    /// We unsubscribed.
    Unsubscribed,
    /// The SUBSCRIBE was refused (403, 404, 489, ...).
    Refused {
        /// The status (408 for a timeout, 503 for a transport error).
        status: StatusCode,
        /// The reason phrase.
        reason: String,
    },
    /// The notifier ended it with a reason that says not to try again
    /// (`rejected`, `noresource`, `invariant`, ...).
    Terminated {
        /// The `reason` parameter.
        reason: Option<String>,
    },
}

impl std::fmt::Display for SubscriptionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsubscribed => f.write_str("unsubscribed"),
            Self::Refused { status, reason } => write!(f, "refused: {} {reason}", status.as_u16()),
            Self::Terminated { reason: Some(r) } => write!(f, "terminated: {r}"),
            Self::Terminated { reason: None } => f.write_str("terminated"),
        }
    }
}

/// What a [`crate::Subscription`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionEvent {
    /// The notifier accepted the SUBSCRIBE (or its refresh) for
    /// `expires` seconds.
    Accepted {
        /// Seconds granted.
        expires: u32,
    },
    /// A NOTIFY came.
    Notified(Notification),
    /// A SUBSCRIBE failed or the notifier ended the subscription in a
    /// way worth retrying; a new subscription goes out after `retry_in`.
    Retrying {
        /// The status (or 408/503), or 200 when a NOTIFY ended it.
        status: StatusCode,
        /// Why.
        reason: String,
        /// When the new SUBSCRIBE goes out.
        retry_in: Duration,
    },
    /// The subscription is over; no more events.
    Ended(SubscriptionEnd),
}

/// What a [`crate::Publication`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicationEvent {
    /// The presence agent took the state (or its refresh) for `expires`
    /// seconds under entity tag `etag`.
    Published {
        /// Seconds granted.
        expires: u32,
        /// The SIP-ETag.
        etag: String,
    },
    /// A PUBLISH failed; it is tried again after `retry_in`.
    Failed {
        /// The status (408 for a timeout, 503 for a transport error).
        status: StatusCode,
        /// The reason phrase.
        reason: String,
        /// When the next attempt goes out.
        retry_in: Duration,
    },
    /// The publication was removed (or stopped before it existed).
    Removed,
}
