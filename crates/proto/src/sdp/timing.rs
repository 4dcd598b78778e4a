//! `t=` timing, with its `r=` repeat lines.

use std::fmt;
use std::str::FromStr;

use super::{LineError, parse_decimal};

/// When a session is active: a `t=` line, `<start-time> <stop-time>` (NTP
/// seconds; `0 0` for an unbounded session, the usual value in SIP), and
/// the `r=` lines that follow it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Timing {
    /// Start time in NTP seconds, 0 for "now".
    pub start: u64,
    /// Stop time in NTP seconds, 0 for "unbounded".
    pub stop: u64,
    /// Values of the `r=` lines that follow, verbatim (no line breaks).
    pub repeats: Vec<String>,
}

impl Timing {
    /// A time description without repeats.
    #[must_use]
    pub const fn new(start: u64, stop: u64) -> Self {
        Self {
            start,
            stop,
            repeats: Vec::new(),
        }
    }
}

impl FromStr for Timing {
    type Err = LineError;

    /// Parses the value of a `t=` line (without the `t=`); the result has
    /// no repeats.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut words = text.split_ascii_whitespace();
        let (Some(start), Some(stop), None) = (words.next(), words.next(), words.next()) else {
            return Err(LineError::Timing("expected <start-time> <stop-time>"));
        };
        let time =
            |word| parse_decimal(word).ok_or(LineError::Timing("time is not a number below 2^64"));
        Ok(Self::new(time(start)?, time(stop)?))
    }
}

impl fmt::Display for Timing {
    /// Prints the value of the `t=` line (without the `t=`, and without the
    /// `r=` lines).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.start, self.stop)
    }
}
