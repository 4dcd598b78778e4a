//! The error type of the digest module.

use super::algorithm::Algorithm;

/// What went wrong while parsing a header value or checking credentials.
///
/// Byte positions (`pos`) are offsets into the header value that was passed
/// to the parser. Values quoted back from the input are cut to a short
/// prefix so that an error never carries a large peer-controlled string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The header value is empty or only white space.
    #[error("empty header value")]
    Empty,
    /// The header value exceeds [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN).
    #[error("header value is {len} bytes long, over the {max}-byte limit")]
    TooLong {
        /// Length of the value received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More auth-params than [`MAX_PARAMS`](super::MAX_PARAMS).
    #[error("more than {max} parameters")]
    TooManyParams {
        /// The limit.
        max: usize,
    },
    /// A token (scheme or parameter name) was expected.
    #[error("expected {expected} at byte {pos}")]
    ExpectedToken {
        /// Where it was expected.
        pos: usize,
        /// What was expected, e.g. `"parameter name"`.
        expected: &'static str,
    },
    /// A character that the grammar does not allow at this place.
    #[error("unexpected character {found:?} at byte {pos}")]
    UnexpectedChar {
        /// Where it was found.
        pos: usize,
        /// The character.
        found: char,
    },
    /// A quoted string without its closing quote.
    #[error("unterminated quoted string starting at byte {pos}")]
    UnterminatedQuote {
        /// Position of the opening quote.
        pos: usize,
    },
    /// A backslash escape of CR or LF, which quoted-pair does not allow.
    #[error("invalid escape at byte {pos}")]
    InvalidEscape {
        /// Position of the backslash.
        pos: usize,
    },
    /// A CR or LF that is not part of a line fold (CRLF followed by SP or HT).
    #[error("line break at byte {pos} is not followed by white space")]
    BadLineFold {
        /// Position of the line break.
        pos: usize,
    },
    /// A parameter name not followed by `=`.
    #[error("parameter `{name}` is not followed by '='")]
    MissingEquals {
        /// The parameter name.
        name: String,
    },
    /// A parameter with `=` but no token or quoted-string after it.
    #[error("parameter `{name}` has no value")]
    MissingValue {
        /// The parameter name.
        name: String,
    },
    /// The same parameter (compared case-insensitively) appears twice.
    #[error("duplicate parameter `{name}`")]
    DuplicateParam {
        /// The parameter name, as spelled on its second occurrence.
        name: String,
    },
    /// A parameter that this header or this operation requires is absent.
    #[error("missing parameter `{name}`")]
    MissingParam {
        /// The parameter name.
        name: &'static str,
    },
    /// A parameter value that does not match its syntax (e.g. `nc` that is
    /// not 8 hex digits, `stale` that is neither `true` nor `false`).
    #[error("invalid value {value:?} for parameter `{name}`")]
    InvalidValue {
        /// The parameter name.
        name: &'static str,
        /// The start of the offending value.
        value: String,
    },
    /// An `algorithm` value this module does not implement.
    #[error("unknown algorithm {value:?}")]
    UnknownAlgorithm {
        /// The start of the offending value.
        value: String,
    },
    /// A `qop` value in credentials or Authentication-Info that is neither
    /// `auth` nor `auth-int`.
    #[error("unknown qop {value:?}")]
    UnknownQop {
        /// The start of the offending value.
        value: String,
    },
    /// A Digest-only parser was given another authentication scheme.
    #[error("expected the Digest scheme, found {scheme:?}")]
    NotDigest {
        /// The scheme found.
        scheme: String,
    },
    /// Both `username` and `username*` were sent (RFC 7616 §3.4).
    #[error("both `username` and `username*` are present")]
    ConflictingUsername,
    /// A stored or supplied HA1 that is not a lowercase hex hash of the
    /// algorithm's hash function (wrong algorithm, or not hex).
    #[error("HA1 for {algorithm} must be {expected} lowercase hex digits")]
    InvalidHa1 {
        /// The algorithm in use.
        algorithm: Algorithm,
        /// The required number of hex digits.
        expected: usize,
    },
}

/// Longest prefix, in characters, of a peer value copied into an error.
const SNIPPET_CHARS: usize = 64;

/// Copies at most [`SNIPPET_CHARS`] characters of `s` for an error message.
pub(crate) fn snippet(s: &str) -> String {
    s.chars().take(SNIPPET_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_bounded() {
        assert_eq!(snippet("abc"), "abc");
        assert_eq!(snippet(&"é".repeat(1000)).chars().count(), SNIPPET_CHARS);
    }

    #[test]
    fn messages_name_the_problem() {
        let e = DigestError::DuplicateParam {
            name: "nonce".into(),
        };
        assert_eq!(e.to_string(), "duplicate parameter `nonce`");
        let e = DigestError::InvalidHa1 {
            algorithm: Algorithm::Sha256,
            expected: 64,
        };
        assert_eq!(
            e.to_string(),
            "HA1 for SHA-256 must be 64 lowercase hex digits"
        );
    }
}
