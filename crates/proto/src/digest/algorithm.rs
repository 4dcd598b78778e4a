//! The `algorithm` parameter: which hash function digest authentication
//! uses, and whether HA1 is bound to the session (`-sess` variants).

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::digest::Digest;
use sha2::{Sha256, Sha512_256};

use super::error::{DigestError, snippet};

/// A digest algorithm as named by the `algorithm` parameter
/// (RFC 7616 §3.3 and its IANA registry, RFC 8760 §2.2 for SIP).
///
/// The token is matched case-insensitively; [`Algorithm::as_str`] gives the
/// registered spelling. When a challenge or credentials carry no
/// `algorithm` parameter, [`Algorithm::Md5`] applies ([`Algorithm::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `MD5` (RFC 2617; kept for backward compatibility only).
    #[default]
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`: SHA-512/256 of FIPS 180-4, not a truncated SHA-512.
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm, strongest hash function first.
    pub const ALL: [Self; 6] = [
        Self::Sha512_256,
        Self::Sha512_256Sess,
        Self::Sha256,
        Self::Sha256Sess,
        Self::Md5,
        Self::Md5Sess,
    ];

    /// Parses an `algorithm` token, ignoring ASCII case. Returns `None` for
    /// a token this module does not implement.
    #[must_use]
    pub fn from_token(token: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(token))
    }

    /// The registered token, e.g. `"SHA-256-sess"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
            Self::Sha512_256 => "SHA-512-256",
            Self::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// True for the `-sess` variants, whose HA1 also covers the nonce and
    /// the cnonce (RFC 7616 §3.4.2).
    #[must_use]
    pub const fn is_session(self) -> bool {
        matches!(
            self,
            Self::Md5Sess | Self::Sha256Sess | Self::Sha512_256Sess
        )
    }

    /// The variant without `-sess` that uses the same hash function.
    ///
    /// A stored HA1 (`H(username:realm:password)`) depends only on the hash
    /// function, so one stored value serves both `X` and `X-sess`: key a
    /// credential store by `algorithm.base()`.
    #[must_use]
    pub const fn base(self) -> Self {
        match self {
            Self::Md5 | Self::Md5Sess => Self::Md5,
            Self::Sha256 | Self::Sha256Sess => Self::Sha256,
            Self::Sha512_256 | Self::Sha512_256Sess => Self::Sha512_256,
        }
    }

    /// Length in characters of a lowercase-hex hash of this algorithm
    /// (32 for MD5, 64 for the SHA-2 variants).
    #[must_use]
    pub const fn hex_len(self) -> usize {
        match self.base() {
            Self::Md5 | Self::Md5Sess => 32,
            _ => 64,
        }
    }

    /// Hashes the parts joined by `:` and returns lowercase hex. This is
    /// both `H(a:b:…)` and, with the secret as first part, `KD(secret, data)`.
    pub(crate) fn hash_parts(self, parts: &[&[u8]]) -> String {
        match self.base() {
            Self::Sha256 | Self::Sha256Sess => hash_with::<Sha256>(parts),
            Self::Sha512_256 | Self::Sha512_256Sess => hash_with::<Sha512_256>(parts),
            Self::Md5 | Self::Md5Sess => hash_with::<Md5>(parts),
        }
    }
}

/// Feeds `parts` separated by `:` to `D` and hex-encodes the result.
fn hash_with<D: Digest>(parts: &[&[u8]]) -> String {
    let mut hasher = D::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update(b":");
        }
        hasher.update(part);
    }
    to_hex(&hasher.finalize())
}

/// Lowercase hex encoding.
fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0x0f));
    }
    out
}

/// The lowercase hex digit of the low four bits of `n`.
fn hex_digit(n: u8) -> char {
    let n = n & 0x0f;
    char::from(if n < 10 { b'0' + n } else { b'a' + (n - 10) })
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_token(s).ok_or_else(|| DigestError::UnknownAlgorithm { value: snippet(s) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_case_insensitively() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_token(alg.as_str()), Some(alg));
            assert_eq!(
                Algorithm::from_token(&alg.as_str().to_ascii_lowercase()),
                Some(alg)
            );
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
        assert_eq!(
            Algorithm::from_token("sha-512-256-SESS"),
            Some(Algorithm::Sha512_256Sess)
        );
    }

    #[test]
    fn unknown_tokens_are_rejected() {
        for bad in [
            "",
            "SHA-1",
            "MD5-",
            "SHA256",
            "SHA-512",
            "AKAv1-MD5",
            "MD5 ",
        ] {
            assert_eq!(Algorithm::from_token(bad), None, "{bad:?}");
            assert!(matches!(
                bad.parse::<Algorithm>(),
                Err(DigestError::UnknownAlgorithm { .. })
            ));
        }
    }

    #[test]
    fn session_and_base() {
        assert!(Algorithm::Md5Sess.is_session());
        assert!(!Algorithm::Sha256.is_session());
        assert_eq!(Algorithm::Sha512_256Sess.base(), Algorithm::Sha512_256);
        assert_eq!(Algorithm::Md5.base(), Algorithm::Md5);
        assert_eq!(Algorithm::default(), Algorithm::Md5);
    }

    #[test]
    fn hash_lengths_match_hex_len() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.hash_parts(&[b"x"]).len(), alg.hex_len());
        }
    }

    #[test]
    fn known_hashes() {
        // FIPS 180-4 / RFC 1321 test vectors for "abc".
        assert_eq!(
            Algorithm::Md5.hash_parts(&[b"abc"]),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            Algorithm::Sha256.hash_parts(&[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Algorithm::Sha512_256.hash_parts(&[b"abc"]),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
        // Parts are joined with ':'.
        assert_eq!(
            Algorithm::Md5.hash_parts(&[b"a", b"b", b"c"]),
            Algorithm::Md5.hash_parts(&[b"a:b:c"])
        );
    }
}
