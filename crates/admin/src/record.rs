//! `GET /api/v1/records` (and `switchboard cdr`): one call detail record
//! as an operator reads it, and the times a query names.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use switchboard_store::CallRecord;

/// One call attempt. Times are Unix milliseconds, the start also as RFC
/// 3339 (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The Call-ID.
    pub call_id: String,
    /// When the INVITE was forwarded (`2026-12-06T06:50:00.123Z`).
    pub start: String,
    /// The same, in Unix milliseconds.
    pub start_ms: u64,
    /// When it was answered.
    pub answer_ms: Option<u64>,
    /// When it ended (`None` while an answered call goes on).
    pub end_ms: Option<u64>,
    /// How long an answered call lasted, in milliseconds.
    pub duration_ms: Option<u64>,
    /// `answered`, `busy`, `no-answer`, `cancelled`, `failed` or `transferred`.
    pub disposition: String,
    /// The final SIP status.
    pub status: Option<u16>,
    /// Who hung up an answered call: `caller`, `callee`, `server`, or why
    /// the server did (`session-expired`, `max-duration`, `media-timeout`,
    /// `relay-lost`: relayed and the server restarted).
    pub hangup: Option<String>,
    /// The caller's From URI.
    pub caller: String,
    /// The user who authenticated the call.
    pub caller_user: Option<String>,
    /// The callee's To URI.
    pub callee: String,
    /// The Request-URI as dialled.
    pub dialled: String,
    /// The number after the dial plan's rewrites.
    pub routed_number: Option<String>,
    /// The dial plan's rule.
    pub rule: Option<String>,
    /// The plan's target (`user:bob`, `trunk:carrier`).
    pub target: Option<String>,
    /// The trunk of the last carrier attempt.
    pub trunk: Option<String>,
    /// Its gateway.
    pub gateway: Option<String>,
    /// Where the INVITE came from (`udp 192.0.2.1:5060`).
    pub source: String,
    /// Whether the call's media was anchored on the relay; the counters
    /// below are its (absent when not relayed). `in`: what the party sent
    /// the relay; `out`: what the relay sent the party; `lost` and
    /// `jitter` (RTP timestamp units): the party's last RTCP report of
    /// what it received.
    #[serde(default)]
    pub relayed: bool,
    /// Packets (RTP and RTCP) the caller sent in.
    pub caller_packets_in: Option<u64>,
    /// Their bytes.
    pub caller_bytes_in: Option<u64>,
    /// Packets the relay sent the caller.
    pub caller_packets_out: Option<u64>,
    /// Their bytes.
    pub caller_bytes_out: Option<u64>,
    /// Packets the caller reported lost.
    pub caller_lost: Option<i64>,
    /// The jitter the caller reported.
    pub caller_jitter: Option<u32>,
    /// Packets the callee sent in.
    pub callee_packets_in: Option<u64>,
    /// Their bytes.
    pub callee_bytes_in: Option<u64>,
    /// Packets the relay sent the callee.
    pub callee_packets_out: Option<u64>,
    /// Their bytes.
    pub callee_bytes_out: Option<u64>,
    /// Packets the callee reported lost.
    pub callee_lost: Option<i64>,
    /// The jitter the callee reported.
    pub callee_jitter: Option<u32>,
}

impl From<CallRecord> for Record {
    fn from(r: CallRecord) -> Self {
        let media = r.media.as_deref().copied();
        let caller = media.map(|m| m.caller);
        let callee = media.map(|m| m.callee);
        Self {
            relayed: media.is_some(),
            caller_packets_in: caller.map(|l| l.packets_in),
            caller_bytes_in: caller.map(|l| l.bytes_in),
            caller_packets_out: caller.map(|l| l.packets_out),
            caller_bytes_out: caller.map(|l| l.bytes_out),
            caller_lost: caller.and_then(|l| l.lost),
            caller_jitter: caller.and_then(|l| l.jitter),
            callee_packets_in: callee.map(|l| l.packets_in),
            callee_bytes_in: callee.map(|l| l.bytes_in),
            callee_packets_out: callee.map(|l| l.packets_out),
            callee_bytes_out: callee.map(|l| l.bytes_out),
            callee_lost: callee.and_then(|l| l.lost),
            callee_jitter: callee.and_then(|l| l.jitter),
            start: rfc3339(r.start_ms),
            start_ms: r.start_ms,
            answer_ms: r.answer_ms,
            end_ms: r.end_ms,
            duration_ms: r.duration_ms(),
            disposition: r.disposition.as_str().to_owned(),
            status: r.status,
            hangup: r.hangup.map(|h| h.as_str().to_owned()),
            call_id: r.call_id,
            caller: r.caller,
            caller_user: r.caller_user,
            callee: r.callee,
            dialled: r.dialled,
            routed_number: r.routed_number,
            rule: r.rule,
            target: r.target,
            trunk: r.trunk,
            gateway: r.gateway,
            source: r.source,
        }
    }
}

/// Unix milliseconds as RFC 3339 in UTC.
fn rfc3339(unix_ms: u64) -> String {
    i64::try_from(unix_ms)
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| unix_ms.to_string(), |t| t.to_string())
}

/// A time as a query names it, in Unix milliseconds: Unix seconds
/// (`1765003800`), an RFC 3339 timestamp (`2026-12-06T06:50:00Z`), or a
/// day (`2026-12-06`, its start in UTC). `None` for anything else.
#[must_use]
pub fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return seconds.checked_mul(1000);
    }
    let stamp = match text.parse::<Timestamp>() {
        Ok(stamp) => stamp,
        // Only a bare day: jiff would read a day out of a time without
        // an offset too, and drop the time.
        Err(_) if text.len() != "2026-12-06".len() => return None,
        Err(_) => text
            .parse::<Date>()
            .ok()?
            .to_zoned(TimeZone::UTC)
            .ok()?
            .timestamp(),
    };
    u64::try_from(stamp.as_millisecond()).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

    use super::*;

    #[test]
    fn times_are_read_in_each_form_and_others_refused() {
        assert_eq!(parse_time("1765003800"), Some(1_765_003_800_000));
        assert_eq!(parse_time("2025-12-06T06:50:00Z"), Some(1_765_003_800_000));
        assert_eq!(
            parse_time("2025-12-06T07:50:00+01:00"),
            Some(1_765_003_800_000)
        );
        assert_eq!(parse_time("2025-12-06"), Some(1_764_979_200_000));
        for bad in ["", "yesterday", "2025-13-01", "-5", "2025-12-06T06:50:00"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(rfc3339(1_765_003_800_123), "2025-12-06T06:50:00.123Z");
    }
}
