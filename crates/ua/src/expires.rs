//! Expiry values in headers (Expires, Min-Expires), shared by the
//! registration, subscriptions and the publication.

use switchboard_proto::{HeaderName, Headers, Response, StatusCode};

/// The delta-seconds of header `name`, when it has one.
pub(crate) fn seconds(headers: &Headers, name: HeaderName) -> Option<u32> {
    headers.get(name).and_then(|v| v.trim().parse::<u32>().ok())
}

/// For a 423 Interval Too Brief: the Min-Expires to ask for instead of
/// `asked`, when it is longer (else the 423 is a plain failure).
pub(crate) fn raised_minimum(response: &Response, asked: u32) -> Option<u32> {
    if response.status() != StatusCode::INTERVAL_TOO_BRIEF {
        return None;
    }
    seconds(response.headers(), HeaderName::MinExpires).filter(|min| *min > asked)
}
