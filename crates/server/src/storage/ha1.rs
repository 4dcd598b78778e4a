//! A user's stored digest secrets.

use std::fmt;

use switchboard_proto::digest::{self, Algorithm};

/// The three stored HA1 values of a user, one per hash function (RFC 7616,
/// RFC 8760): `H(username:realm:password)` as lowercase hex. The `-sess`
/// algorithms use the value of their base ([`Ha1Set::for_algorithm`]).
///
/// A password is never kept: the only ways to build an `Ha1Set` are
/// [`Ha1Set::from_password`], which hashes on the spot and keeps only the
/// hashes, and [`Ha1Set::new`], which accepts nothing but hex strings of
/// the right length for each hash (32, 64, 64 characters).
///
/// `Debug` does not print the values: an HA1 is as good as the password for
/// digest authentication within its realm.
///
/// The values are held inline (160 bytes, no allocation): a server keeps
/// one set per user in memory, a million of them at a million users.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ha1Set {
    md5: Hex<32>,
    sha256: Hex<64>,
    sha512_256: Hex<64>,
}

/// Lowercase hex of a fixed length, inline.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Hex<const N: usize>([u8; N]);

impl<const N: usize> Hex<N> {
    /// `value` checked (hex, `N` digits, as `algorithm` needs) and lowered.
    fn parse(algorithm: Algorithm, value: &str) -> Result<Self, Ha1Error> {
        let malformed = Ha1Error::Malformed {
            algorithm,
            len: algorithm.hex_len(),
        };
        let bytes: [u8; N] = value.as_bytes().try_into().map_err(|_| malformed)?;
        if N != algorithm.hex_len() || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return Err(malformed);
        }
        Ok(Self(bytes.map(|b| b.to_ascii_lowercase())))
    }

    /// The hex a hash function of this crate produced (`N` lowercase
    /// digits by construction; anything else would read as zeros).
    fn computed(value: &str) -> Self {
        let mut bytes = [b'0'; N];
        for (to, from) in bytes.iter_mut().zip(value.bytes()) {
            if from.is_ascii_hexdigit() {
                *to = from.to_ascii_lowercase();
            }
        }
        Self(bytes)
    }

    fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// An HA1 value that is not hex of its hash function's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ha1Error {
    /// The value for `algorithm` is not `len` hex digits. The value itself
    /// is not echoed: it may be a password passed by mistake.
    #[error("{} HA1 must be {len} hex digits", algorithm.as_str())]
    Malformed {
        /// The hash function whose value is wrong.
        algorithm: Algorithm,
        /// The length its value must have.
        len: usize,
    },
}

impl Ha1Set {
    /// Takes HA1 values computed elsewhere (for example with
    /// [`switchboard_proto::digest::ha1`]). Uppercase hex is accepted and
    /// lowered.
    ///
    /// # Errors
    /// [`Ha1Error::Malformed`] unless each value is hex of the length of
    /// its hash function.
    pub fn new(md5: &str, sha256: &str, sha512_256: &str) -> Result<Self, Ha1Error> {
        Ok(Self {
            md5: Hex::parse(Algorithm::Md5, md5)?,
            sha256: Hex::parse(Algorithm::Sha256, sha256)?,
            sha512_256: Hex::parse(Algorithm::Sha512_256, sha512_256)?,
        })
    }

    /// Computes all three HA1 values for `username`, `realm` (usually the
    /// domain) and `password` with [`switchboard_proto::digest::ha1`]. The
    /// password is not kept.
    #[must_use]
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        Self {
            md5: Hex::computed(&digest::ha1(Algorithm::Md5, username, realm, password)),
            sha256: Hex::computed(&digest::ha1(Algorithm::Sha256, username, realm, password)),
            sha512_256: Hex::computed(&digest::ha1(
                Algorithm::Sha512_256,
                username,
                realm,
                password,
            )),
        }
    }

    /// HA1 for `MD5` (and `MD5-sess`), lowercase hex.
    #[must_use]
    pub fn md5(&self) -> &str {
        self.md5.as_str()
    }

    /// HA1 for `SHA-256` (and `SHA-256-sess`), lowercase hex.
    #[must_use]
    pub fn sha256(&self) -> &str {
        self.sha256.as_str()
    }

    /// HA1 for `SHA-512-256` (and `SHA-512-256-sess`), lowercase hex.
    #[must_use]
    pub fn sha512_256(&self) -> &str {
        self.sha512_256.as_str()
    }

    /// The stored HA1 that `algorithm` uses (its [`Algorithm::base`]).
    #[must_use]
    pub fn for_algorithm(&self, algorithm: Algorithm) -> &str {
        match algorithm.base() {
            Algorithm::Sha256 | Algorithm::Sha256Sess => self.sha256(),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => self.sha512_256(),
            Algorithm::Md5 | Algorithm::Md5Sess => self.md5(),
        }
    }
}

impl fmt::Debug for Ha1Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ha1Set { .. }")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a failed unwrap is the test failing

    use super::*;

    #[test]
    fn ha1_set_refuses_anything_but_hex_of_the_right_length() {
        let good = Ha1Set::from_password("alice", "example.com", "secret");
        let again =
            Ha1Set::new(&good.md5().to_uppercase(), good.sha256(), good.sha512_256()).unwrap();
        assert_eq!(again, good);
        assert!(Ha1Set::new("secret", good.sha256(), good.sha512_256()).is_err());
        assert!(Ha1Set::new(good.sha256(), good.md5(), good.sha512_256()).is_err());
        let not_hex = "z".repeat(32);
        assert!(Ha1Set::new(&not_hex, good.sha256(), good.sha512_256()).is_err());
        let err = Ha1Set::new("hunter2", good.sha256(), good.sha512_256()).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn ha1_set_matches_proto_and_hides_in_debug() {
        let set = Ha1Set::from_password("alice", "example.com", "secret");
        assert_eq!(
            set.for_algorithm(Algorithm::Sha256Sess),
            digest::ha1(Algorithm::Sha256, "alice", "example.com", "secret")
        );
        assert_eq!(set.for_algorithm(Algorithm::Md5), set.md5());
        assert_eq!(set.for_algorithm(Algorithm::Sha512_256), set.sha512_256());
        assert_eq!(set.md5().len(), 32);
        assert_ne!(set.md5(), "secret");
        assert!(!format!("{set:?}").contains(set.md5()));
    }

    #[test]
    fn ha1_set_is_held_inline() {
        // No allocation per user: the directory holds one per user.
        assert_eq!(size_of::<Ha1Set>(), 160);
        let set = Ha1Set::from_password("alice", "example.com", "secret");
        assert_eq!(set.sha256().len(), 64);
        assert_eq!(set.sha512_256().len(), 64);
    }
}
