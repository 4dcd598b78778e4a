//! SDP, the Session Description Protocol (RFC 4566): data model, parser and
//! printer.
//!
//! The entry point is [`SessionDescription`]. Parse one with
//! [`SessionDescription::parse`] (or [`str::parse`], or
//! [`SessionDescription::from_bytes`] for a raw message body) and print it
//! with its [`Display`](std::fmt::Display) implementation:
//!
//! ```
//! # use switchboard_proto::sdp::{Direction, SessionDescription};
//! let offer = "v=0\r\n\
//!              o=alice 2890844526 2890844526 IN IP4 192.0.2.1\r\n\
//!              s=-\r\n\
//!              c=IN IP4 192.0.2.1\r\n\
//!              t=0 0\r\n\
//!              m=audio 49170 RTP/AVP 0 101\r\n\
//!              a=rtpmap:0 PCMU/8000\r\n\
//!              a=rtpmap:101 telephone-event/8000\r\n";
//! let mut sdp = SessionDescription::parse(offer)?;
//! assert_eq!(sdp.media_direction(0), Some(Direction::SendRecv));
//! if let Some(audio) = sdp.media.first_mut() {
//!     audio.set_direction(Direction::SendOnly);
//! }
//! assert!(sdp.to_string().contains("a=sendonly\r\n"));
//! # Ok::<(), switchboard_proto::sdp::SdpError>(())
//! ```
//!
//! # Data model
//!
//! Every line of a description is kept. The fields offer/answer works with
//! are typed: [`Origin`] (`o=`), [`Connection`] (`c=`), [`Bandwidth`]
//! (`b=`), [`Timing`] (`t=`, with its `r=` lines), [`MediaDescription`]
//! (`m=` and the lines under it) and, among the attributes (`a=`, see
//! [`Attribute`]), `rtpmap` ([`RtpMap`]), `fmtp` ([`Fmtp`]), `ptime`,
//! `maxptime`, the four directions ([`Direction`]), `rtcp` ([`Rtcp`]), `mid`
//! and `crypto` ([`Crypto`], RFC 4568). Everything else (`i=`, `u=`, `e=`,
//! `p=`, `r=`, `z=`, `k=` and all other attributes) is kept verbatim. All
//! fields are public, so a description can also be built or edited
//! directly; constructors and `with_*` methods make that shorter.
//!
//! # Parsing rules
//!
//! * Lines end with CRLF or a bare LF; empty (and all-blank) lines are
//!   skipped; a leading UTF-8 byte order mark is skipped. A line holding a
//!   NUL or a stray CR is an error.
//! * The first line must be `v=0`; `o=`, `s=` and at least one `t=` are
//!   required before the first `m=`. An empty session name (`s=`) is
//!   accepted.
//! * Session-level lines may come in any order before the first `m=` (the
//!   printer restores the RFC order); `r=` belongs to the `t=` before it.
//!   Session-only lines (`o=`, `s=`, `t=`, ...) inside a media section, and
//!   a second copy of a line that may appear only once, are errors.
//! * Lines whose type letter SDP does not define are ignored, as RFC 4566
//!   §5 asks; they are not kept.
//! * Fields are separated by one or more spaces or tabs. Numbers must be
//!   plain decimal digits that fit their type (a port fits `u16`, a payload
//!   type is at most 127, ...).
//! * A typed attribute that does not parse (a bad `rtpmap`, say) makes the
//!   whole description an error; unknown attributes are never an error.
//!
//! Parsing never panics; every failure is an [`SdpError`] carrying the line
//! number and, as a [`LineError`], what was wrong with the line.
//!
//! # Printing
//!
//! The printer writes the RFC 4566 line order with CRLF line ends.
//! Parsing printed output gives back an equal value, provided the value
//! came from the parser or respects what the parser produces (no line
//! breaks inside fields, no whitespace inside single-word fields, and so
//! on; the field docs say what each one may hold).
#![warn(missing_docs)]

use std::str::FromStr;

mod attribute;
mod bandwidth;
mod connection;
mod crypto;
mod direction;
mod error;
mod fmtp;
mod key_param;
mod media;
mod origin;
mod parser;
mod rtcp;
mod rtpmap;
mod session;
mod timing;

#[cfg(test)]
mod tests;

pub use attribute::Attribute;
pub use bandwidth::Bandwidth;
pub use connection::{AddrType, Connection, NetType};
pub use crypto::Crypto;
pub use direction::Direction;
pub use error::{LineError, SdpError};
pub use fmtp::Fmtp;
pub use key_param::{InlineKey, KeyLifetime, KeyParam, Mki};
pub use media::{MediaDescription, MediaType, Protocol};
pub use origin::Origin;
pub use rtcp::Rtcp;
pub use rtpmap::RtpMap;
pub use session::SessionDescription;
pub use timing::Timing;

/// Parses a non-empty run of ASCII decimal digits into `T`.
///
/// Unlike `str::parse`, this rejects a leading `+`, and it returns `None`
/// on overflow.
fn parse_decimal<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Splits `text` at its first run of ASCII whitespace, returning the first
/// word and the rest with its leading whitespace removed.
///
/// Leading whitespace of `text` itself is skipped first.
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
    match text.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((word, rest)) => (
            word,
            rest.trim_start_matches(|c: char| c.is_ascii_whitespace()),
        ),
        None => (text, ""),
    }
}
