use std::fmt;
use std::str::FromStr;

use super::error::KeyError;

/// The SRTP protection profiles supported, by their SDES names (RFC 4568
/// §6.2, RFC 7714 §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// AES-128 counter mode, HMAC-SHA1 80-bit tag.
    AesCm128HmacSha1_80,
    /// AES-128 counter mode, HMAC-SHA1 32-bit tag on SRTP (80 on SRTCP).
    AesCm128HmacSha1_32,
    /// AES-128 GCM with a 16-byte tag (RFC 7714).
    AeadAes128Gcm,
}

impl SrtpSuite {
    /// All suites, in order of preference for an offer.
    pub const ALL: [Self; 3] = [
        Self::AeadAes128Gcm,
        Self::AesCm128HmacSha1_80,
        Self::AesCm128HmacSha1_32,
    ];

    /// The name in `a=crypto`.
    pub fn name(self) -> &'static str {
        match self {
            Self::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
        }
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        16
    }

    /// Master (and session) salt length in bytes.
    pub fn salt_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm => 12,
            _ => 14,
        }
    }

    /// Length of the inline key||salt.
    pub fn master_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Authentication tag length on SRTP packets.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Self::AesCm128HmacSha1_80 => 10,
            Self::AesCm128HmacSha1_32 => 4,
            Self::AeadAes128Gcm => 16,
        }
    }

    /// Authentication tag length on SRTCP packets (80 bits for both
    /// HMAC suites, RFC 4568 §6.2.2).
    pub fn rtcp_tag_len(self) -> usize {
        match self {
            Self::AeadAes128Gcm => 16,
            _ => 10,
        }
    }

    /// True for the AEAD suite.
    pub fn is_aead(self) -> bool {
        self == Self::AeadAes128Gcm
    }
}

impl fmt::Display for SrtpSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SrtpSuite {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|suite| suite.name().eq_ignore_ascii_case(s))
            .ok_or(KeyError::UnknownSuite)
    }
}
