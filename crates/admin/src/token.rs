//! A bearer token: 32 random bytes, base64url. Only its SHA-256 is kept.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::RngCore;
use sha2::{Digest, Sha256};

/// A token as `switchboard token create` prints it, once.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A new token from 32 bytes of `rng` (the caller gives an OS-seeded
    /// generator).
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token's text, to show the operator.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its SHA-256, lowercase hex: what the store keeps.
    #[must_use]
    pub fn hash(&self) -> String {
        hash_presented(&self.0)
    }
}

/// The token is a secret: its `Debug` does not show it.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}

/// SHA-256 (lowercase hex) of a token as a client presented it.
pub(crate) fn hash_presented(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generator of one repeated byte.
    struct Fill(u8);

    impl RngCore for Fill {
        fn next_u32(&mut self) -> u32 {
            u32::from(self.0)
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.0)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(self.0);
        }
    }

    #[test]
    fn a_token_is_32_bytes_base64url_and_hashes_to_sha256_hex() {
        let token = Token::generate(&mut Fill(0xfb));
        // 32 bytes: 43 characters without padding; 0xfb encodes to `-` and
        // `_`, never `+` or `/`.
        assert_eq!(token.as_str().len(), 43);
        assert!(!token.as_str().contains(['+', '/', '=']));
        assert!(token.as_str().contains(['-', '_']));
        assert_eq!(
            hash_presented("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token.hash(), hash_presented(token.as_str()));
        assert_eq!(format!("{token:?}"), "Token(..)");
    }
}
