//! Errors from parsing a session description.

use thiserror::Error;

/// Why a session description could not be parsed.
///
/// Line numbers count from 1 and include skipped empty lines, so they match
/// what an editor shows for the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is not valid UTF-8.
    #[error("SDP is not valid UTF-8 (invalid byte at offset {valid_up_to})")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        valid_up_to: usize,
    },
    /// The body holds no lines at all (or only blank ones).
    #[error("SDP is empty")]
    Empty,
    /// A required line is missing: `v=` as the first line, or `o=`, `s=` or
    /// `t=` before the first media section.
    #[error("line {line}: missing required \"{field}=\" line")]
    Missing {
        /// The line at which the missing line was expected (the first line
        /// for `v=`; the first `m=` line, or the last line, otherwise).
        line: usize,
        /// The type letter of the missing line.
        field: char,
    },
    /// A line is malformed or not allowed where it is.
    #[error("line {line}: {kind}")]
    Invalid {
        /// The offending line.
        line: usize,
        /// What is wrong with it.
        kind: LineError,
    },
}

impl SdpError {
    /// The line the error refers to, if it refers to one.
    #[must_use]
    pub const fn line(&self) -> Option<usize> {
        match self {
            Self::Missing { line, .. } | Self::Invalid { line, .. } => Some(*line),
            Self::InvalidUtf8 { .. } | Self::Empty => None,
        }
    }
}

/// What is wrong with one line (or with one field value given to a
/// `FromStr` implementation of this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is not of the form `<letter>=<value>`.
    #[error("not a <type>=<value> line")]
    Syntax,
    /// The line holds a NUL or a carriage return.
    #[error("line holds a NUL or a stray carriage return")]
    ForbiddenChar,
    /// `v=` is not `0`, the only version defined.
    #[error("unsupported protocol version (only v=0 is defined)")]
    UnsupportedVersion,
    /// A line that may appear only once here appears again.
    #[error("\"{0}=\" may appear only once here")]
    Duplicate(char),
    /// A line appears where it is not allowed (a session-level line inside
    /// a media section, or `r=` before any `t=`).
    #[error("\"{0}=\" is not allowed here")]
    Misplaced(char),
    /// Bad `o=` line.
    #[error("bad o= line: {0}")]
    Origin(&'static str),
    /// Bad `c=` line (or address part of `a=rtcp`).
    #[error("bad c= line: {0}")]
    Connection(&'static str),
    /// Bad `b=` line.
    #[error("bad b= line: {0}")]
    Bandwidth(&'static str),
    /// Bad `t=` line.
    #[error("bad t= line: {0}")]
    Timing(&'static str),
    /// Bad `m=` line, other than its port.
    #[error("bad m= line: {0}")]
    Media(&'static str),
    /// The port (or port count) of an `m=` line is not a number from 0 to
    /// 65535.
    #[error("bad m= line: port is not a number from 0 to 65535")]
    MediaPort,
    /// Bad `a=` line in general (an empty attribute name).
    #[error("bad a= line: {0}")]
    Attribute(&'static str),
    /// Bad `a=rtpmap`.
    #[error("bad a=rtpmap: {0}")]
    Rtpmap(&'static str),
    /// Bad `a=fmtp`.
    #[error("bad a=fmtp: {0}")]
    Fmtp(&'static str),
    /// `a=ptime` is not a whole number of milliseconds.
    #[error("bad a=ptime: not a whole number of milliseconds")]
    Ptime,
    /// `a=maxptime` is not a whole number of milliseconds.
    #[error("bad a=maxptime: not a whole number of milliseconds")]
    MaxPtime,
    /// Bad `a=rtcp`.
    #[error("bad a=rtcp: {0}")]
    Rtcp(&'static str),
    /// `a=mid` has an empty identification tag.
    #[error("bad a=mid: empty identification tag")]
    Mid,
    /// Bad `a=crypto` (RFC 4568).
    #[error("bad a=crypto: {0}")]
    Crypto(&'static str),
}

impl LineError {
    /// Attaches a line number, making this an [`SdpError`].
    #[must_use]
    pub const fn at(self, line: usize) -> SdpError {
        SdpError::Invalid { line, kind: self }
    }
}
