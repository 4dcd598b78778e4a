//! `a=fmtp` (RFC 4566 §6).

use std::fmt;
use std::str::FromStr;

use super::{LineError, parse_decimal, split_word};

/// Format parameters: the value of `a=fmtp:<format> <format specific
/// parameters>`.
///
/// The format is text rather than a payload type because `fmtp` applies to
/// any media format, RTP or not; [`Fmtp::payload_type`] reads it as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fmtp {
    /// The format (an RTP payload type for RTP media), as in the `m=` line
    /// (non-empty, no whitespace).
    pub format: String,
    /// The parameters, verbatim; often `name=value` pairs separated by
    /// `;` (may be empty; must not start with whitespace).
    pub params: String,
}

impl Fmtp {
    /// Format parameters for an RTP payload type.
    #[must_use]
    pub fn new(payload_type: u8, params: impl Into<String>) -> Self {
        Self {
            format: payload_type.to_string(),
            params: params.into(),
        }
    }

    /// The format as an RTP payload type, if it is a number from 0 to 255.
    #[must_use]
    pub fn payload_type(&self) -> Option<u8> {
        parse_decimal(&self.format)
    }

    /// The parameters split as `;`-separated `name[=value]` pairs, with
    /// surrounding whitespace trimmed and empty entries skipped.
    ///
    /// This is the common syntax (`minptime=10;useinbandfec=1`), but not
    /// every format follows it (`telephone-event` has `0-15`, which comes
    /// out as a name without a value).
    pub fn param_pairs(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.params
            .split(';')
            .map(str::trim)
            .filter(|pair| !pair.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => (name.trim_end(), Some(value.trim_start())),
                None => (pair, None),
            })
    }

    /// The value of the first parameter named `name` (compared
    /// case-insensitively), from [`Fmtp::param_pairs`]. A parameter given
    /// without a value reads as an empty value.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&str> {
        self.param_pairs()
            .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.unwrap_or_default())
    }
}

impl FromStr for Fmtp {
    type Err = LineError;

    /// Parses an `fmtp` attribute value (after `a=fmtp:`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (format, params) = split_word(text);
        if format.is_empty() {
            return Err(LineError::Fmtp("missing format"));
        }
        Ok(Self {
            format: format.to_owned(),
            params: params.to_owned(),
        })
    }
}

impl fmt::Display for Fmtp {
    /// Prints the attribute value (without `a=fmtp:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format)?;
        if !self.params.is_empty() {
            write!(f, " {}", self.params)?;
        }
        Ok(())
    }
}
