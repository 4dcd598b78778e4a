use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_core::RngCore;

use super::error::KeyError;
use super::suite::SrtpSuite;

/// Longest master key||salt of any suite.
const MAX_MASTER_LEN: usize = 30;

/// An SRTP master key and salt for one suite: what an SDES `a=crypto`
/// line carries base64-encoded after `inline:` (RFC 4568 §6.1).
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    suite: SrtpSuite,
    bytes: [u8; MAX_MASTER_LEN],
}

impl MasterKey {
    /// From decoded key||salt, which must be exactly the suite's length.
    pub fn from_bytes(suite: SrtpSuite, key_salt: &[u8]) -> Result<Self, KeyError> {
        let mut bytes = [0; MAX_MASTER_LEN];
        match bytes.get_mut(..key_salt.len()) {
            Some(dst) if key_salt.len() == suite.master_len() => dst.copy_from_slice(key_salt),
            _ => {
                return Err(KeyError::Length {
                    expected: suite.master_len(),
                    got: key_salt.len(),
                });
            }
        }
        Ok(Self { suite, bytes })
    }

    /// From the base64 key-salt of an `inline:` key parameter.
    pub fn from_base64(suite: SrtpSuite, inline: &str) -> Result<Self, KeyError> {
        // Some peers drop the padding; accept both forms.
        let decoded = STANDARD
            .decode(inline)
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(inline.trim_end_matches('='))
            })
            .map_err(|_| KeyError::Base64)?;
        Self::from_bytes(suite, &decoded)
    }

    /// A fresh random key from a cryptographically secure `rng`.
    pub fn generate(suite: SrtpSuite, rng: &mut dyn RngCore) -> Self {
        let mut bytes = [0; MAX_MASTER_LEN];
        if let Some(used) = bytes.get_mut(..suite.master_len()) {
            rng.fill_bytes(used);
        }
        Self { suite, bytes }
    }

    /// The suite this key is for.
    pub fn suite(&self) -> SrtpSuite {
        self.suite
    }

    /// The master key.
    pub fn key(&self) -> &[u8] {
        self.bytes.get(..self.suite.key_len()).unwrap_or_default()
    }

    /// The master salt.
    pub fn salt(&self) -> &[u8] {
        self.bytes
            .get(self.suite.key_len()..self.suite.master_len())
            .unwrap_or_default()
    }

    /// The base64 key||salt for `inline:`.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(
            self.bytes
                .get(..self.suite.master_len())
                .unwrap_or_default(),
        )
    }
}

impl fmt::Debug for MasterKey {
    // Never print key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn base64_round_trip_and_lengths() {
        // RFC 4568 §8.1's example key.
        let inline = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
        let key = MasterKey::from_base64(SrtpSuite::AesCm128HmacSha1_80, inline).unwrap();
        assert_eq!(key.to_base64(), inline);
        assert_eq!((key.key().len(), key.salt().len()), (16, 14));
        assert_eq!(
            MasterKey::from_base64(SrtpSuite::AeadAes128Gcm, inline),
            Err(KeyError::Length {
                expected: 28,
                got: 30
            })
        );
        assert_eq!(
            MasterKey::from_base64(SrtpSuite::AeadAes128Gcm, "!!"),
            Err(KeyError::Base64)
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let gcm = MasterKey::generate(SrtpSuite::AeadAes128Gcm, &mut rng);
        assert_eq!(gcm.to_base64().len(), 40);
        assert_eq!(
            MasterKey::from_base64(SrtpSuite::AeadAes128Gcm, &gcm.to_base64()).unwrap(),
            gcm
        );
        assert!(!format!("{gcm:?}").contains(&gcm.to_base64()));
    }

    #[test]
    fn suite_names() {
        for suite in SrtpSuite::ALL {
            assert_eq!(suite.name().parse::<SrtpSuite>().unwrap(), suite);
        }
        assert_eq!(
            "F8_128_HMAC_SHA1_80".parse::<SrtpSuite>(),
            Err(KeyError::UnknownSuite)
        );
    }
}
