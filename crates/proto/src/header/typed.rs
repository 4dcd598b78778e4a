//! The typed-header trait and its error.

use crate::header::HeaderName;
use crate::uri::UriError;

/// A header value type that can be parsed from, and printed as, the text of
/// one header value (one element of a comma-separated list for list headers).
pub trait TypedHeader<'a>: Sized {
    /// The header this type parses.
    const NAME: HeaderName;

    /// Parses one value. The text has no leading or trailing white space.
    fn parse(value: &'a str) -> Result<Self, HeaderError>;
}

/// Why a header value did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The value is empty where one is required.
    #[error("empty value")]
    Empty,
    /// The value does not follow the header's grammar.
    #[error("malformed value")]
    Syntax,
    /// A number is missing, not a number, or out of range.
    #[error("invalid number")]
    Number,
    /// A parameter list is malformed (e.g. `;;` or `;name=`).
    #[error("malformed parameter")]
    Params,
    /// A quoted string has no closing quote.
    #[error("unterminated quoted string")]
    Unterminated,
    /// The URI inside the value is malformed.
    #[error("invalid URI: {0}")]
    Uri(#[from] UriError),
}
