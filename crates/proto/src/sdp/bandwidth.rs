//! `b=` bandwidth.

use std::fmt;
use std::str::FromStr;

use super::{LineError, parse_decimal};

/// A bandwidth limit: the value of a `b=` line, `<bwtype>:<bandwidth>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bandwidth {
    /// Bandwidth type: `CT`, `AS` (kbit/s), `TIAS` (bit/s, RFC 3890),
    /// `RS`/`RR` (RFC 3556), ... kept verbatim (non-empty, no `:` and no
    /// whitespace).
    pub bwtype: String,
    /// The limit, in the unit the type implies.
    pub bandwidth: u64,
}

impl Bandwidth {
    /// A bandwidth line of the given type.
    #[must_use]
    pub fn new(bwtype: impl Into<String>, bandwidth: u64) -> Self {
        Self {
            bwtype: bwtype.into(),
            bandwidth,
        }
    }
}

impl FromStr for Bandwidth {
    type Err = LineError;

    /// Parses the value of a `b=` line (without the `b=`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (bwtype, bandwidth) = text
            .trim()
            .split_once(':')
            .ok_or(LineError::Bandwidth("expected <bwtype>:<bandwidth>"))?;
        if bwtype.is_empty() || bwtype.contains(|c: char| c.is_ascii_whitespace()) {
            return Err(LineError::Bandwidth("bad bandwidth type"));
        }
        let bandwidth = parse_decimal(bandwidth)
            .ok_or(LineError::Bandwidth("bandwidth is not a number below 2^64"))?;
        Ok(Self {
            bwtype: bwtype.to_owned(),
            bandwidth,
        })
    }
}

impl fmt::Display for Bandwidth {
    /// Prints the value of a `b=` line (without the `b=`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bwtype, self.bandwidth)
    }
}
