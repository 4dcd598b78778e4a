//! Tests of the SDP module.
//!
//! * `real_world`: offers from real user agents.
//! * `rfc`: examples from RFC 4566, RFC 4568 and RFC 5118.
//! * `malformed`: inputs that must fail cleanly, and sloppy ones that must
//!   be tolerated.
//! * `api`: building, editing and the offer/answer helpers.
//! * `roundtrip`: property tests of parse → print → parse.

// Tests may panic on purpose: a failed expectation is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod api;
mod malformed;
mod real_world;
mod rfc;
mod roundtrip;

use super::SessionDescription;

/// Parses `text`, checks that printing and parsing again gives an equal
/// value and the same text, and returns the parsed value.
fn round_trip(text: &str) -> SessionDescription {
    let parsed = SessionDescription::parse(text)
        .unwrap_or_else(|error| panic!("{error}\n--- input ---\n{text}"));
    let printed = parsed.to_string();
    let reparsed = SessionDescription::parse(&printed)
        .unwrap_or_else(|error| panic!("reparse: {error}\n--- printed ---\n{printed}"));
    assert_eq!(reparsed, parsed, "printed:\n{printed}");
    assert_eq!(reparsed.to_string(), printed);
    parsed
}

/// Joins lines with CRLF, ending the last one too.
fn crlf(lines: &[&str]) -> String {
    lines.iter().map(|line| format!("{line}\r\n")).collect()
}

/// Parses `lines` (joined with CRLF) and checks that printing gives exactly
/// the same text back, for input already in canonical form.
fn canonical(lines: &[&str]) -> SessionDescription {
    let text = crlf(lines);
    let parsed = round_trip(&text);
    assert_eq!(parsed.to_string(), text);
    parsed
}
