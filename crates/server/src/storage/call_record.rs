//! A call detail record: one per call attempt the proxy routed (an initial
//! INVITE), written when the call ends and, for an answered call, already
//! at the answer (a crash keeps it; the end updates it).

use super::CallMedia;

/// How a call attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disposition {
    /// A 2xx: the call was answered.
    Answered,
    /// 486 Busy Here or 600 Busy Everywhere.
    Busy,
    /// 408 or 480: nobody answered in time, or nobody could.
    NoAnswer,
    /// The caller gave up: CANCEL, or a 487.
    Cancelled,
    /// Any other final failure (5xx, 404, 603, the caller's transport).
    Failed,
    /// Answered, then handed on: a party transferred the other one
    /// elsewhere (REFER, RFC 3515), or an INVITE with Replaces (RFC 3891)
    /// took its place.
    Transferred,
}

impl Disposition {
    /// The disposition of a call that ended with final status `code`.
    #[must_use]
    pub fn of_status(code: u16) -> Self {
        match code {
            200..=299 => Self::Answered,
            486 | 600 => Self::Busy,
            408 | 480 => Self::NoAnswer,
            487 => Self::Cancelled,
            _ => Self::Failed,
        }
    }

    /// Its name in the store, the CSV and the JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Transferred => "transferred",
        }
    }

    /// The disposition named `text` ([`Disposition::as_str`]).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Answered,
            Self::Busy,
            Self::NoAnswer,
            Self::Cancelled,
            Self::Failed,
            Self::Transferred,
        ]
        .into_iter()
        .find(|d| d.as_str() == text)
    }
}

/// Who ended an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HangupSide {
    /// The caller sent the BYE.
    Caller,
    /// The callee sent the BYE.
    Callee,
    /// The server ended it (the operator's hang-up).
    Server,
    /// The server ended it: its session interval passed without a refresh
    /// (RFC 4028), the parties were gone.
    SessionExpired,
    /// The server ended it: it lasted longer than the caller's group
    /// allows (`[group_limits] max_call`).
    MaxDuration,
    /// The server ended it: no media passed its relay for the media
    /// timeout (`[media] timeout`).
    MediaTimeout,
    /// The server ended it at start: the call was anchored on the media
    /// relay and its relay session could not be set up again (the relay
    /// off, its ports out of the range or taken).
    RelayLost,
}

impl HangupSide {
    /// Its name in the store, the CSV and the JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Callee => "callee",
            Self::Server => "server",
            Self::SessionExpired => "session-expired",
            Self::MaxDuration => "max-duration",
            Self::MediaTimeout => "media-timeout",
            Self::RelayLost => "relay-lost",
        }
    }

    /// The side named `text` ([`HangupSide::as_str`]).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Caller,
            Self::Callee,
            Self::Server,
            Self::SessionExpired,
            Self::MaxDuration,
            Self::MediaTimeout,
            Self::RelayLost,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One call attempt. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// Stable key: the Call-ID and the caller's From tag.
    pub id: String,
    /// The Call-ID of the caller's INVITE.
    pub call_id: String,
    /// The caller's From URI.
    pub caller: String,
    /// The user who authenticated the INVITE (`alice@example.com`), if any.
    pub caller_user: Option<String>,
    /// The callee's To URI.
    pub callee: String,
    /// The Request-URI as dialled.
    pub dialled: String,
    /// The number after the dial plan's rewrites (routed by the plan only).
    pub routed_number: Option<String>,
    /// The dial plan's rule that routed the call.
    pub rule: Option<String>,
    /// Where the plan sent it (`user:bob`, `group:sales`, `trunk:carrier`, a URI).
    pub target: Option<String>,
    /// The trunk of the last carrier attempt.
    pub trunk: Option<String>,
    /// The gateway of the last carrier attempt.
    pub gateway: Option<String>,
    /// Where the INVITE came from (`udp 192.0.2.1:5060`).
    pub source: String,
    /// When the INVITE was forwarded.
    pub start_ms: u64,
    /// When the first 2xx passed.
    pub answer_ms: Option<u64>,
    /// When the call ended (final failure, CANCEL, BYE); `None` while an
    /// answered call goes on.
    pub end_ms: Option<u64>,
    /// How it ended (`Answered` for an answered call, ended or not;
    /// `Transferred` once an answered call was handed on).
    pub disposition: Disposition,
    /// The final SIP status sent to the caller (`None` when its
    /// transaction broke first).
    pub status: Option<u16>,
    /// Who ended an answered call.
    pub hangup: Option<HangupSide>,
    /// The media relay's counters, when the call was anchored on it
    /// (`None`: media flowed between the parties). Boxed: most calls
    /// have none, and an open record is kept the whole call.
    pub media: Option<Box<CallMedia>>,
}

impl CallRecord {
    /// How long an answered call lasted (answer to end).
    #[must_use]
    pub fn duration_ms(&self) -> Option<u64> {
        let (answer, end) = self.answer_ms.zip(self.end_ms)?;
        Some(end.saturating_sub(answer))
    }
}
