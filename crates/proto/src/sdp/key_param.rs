//! The key parameters of `a=crypto` (RFC 4568 §9.1, §6.1).

use std::fmt;
use std::str::FromStr;

use super::{LineError, parse_decimal};

/// Largest MKI length in bytes (RFC 4568 §6.1).
const MAX_MKI_LENGTH: u8 = 128;

/// One key parameter of an `a=crypto` attribute, `<key-method>:<key-info>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyParam {
    /// `inline:<key||salt>[|<lifetime>][|<MKI>:<length>]`, the method
    /// SDES-SRTP uses. The method name is matched case-insensitively.
    Inline(InlineKey),
    /// Any other key method, kept verbatim.
    Other {
        /// The key method (non-empty; no `:`, `;` or whitespace; not
        /// `inline`).
        method: String,
        /// The key information (non-empty; no `;` or whitespace).
        info: String,
    },
}

impl KeyParam {
    /// The inline key, if this is one.
    #[must_use]
    pub const fn as_inline(&self) -> Option<&InlineKey> {
        match self {
            Self::Inline(key) => Some(key),
            Self::Other { .. } => None,
        }
    }
}

impl From<InlineKey> for KeyParam {
    fn from(key: InlineKey) -> Self {
        Self::Inline(key)
    }
}

impl FromStr for KeyParam {
    type Err = LineError;

    /// Parses one key parameter (one of the `;`-separated items).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (method, info) = text
            .split_once(':')
            .ok_or(LineError::Crypto("key parameter is not <method>:<info>"))?;
        if method.eq_ignore_ascii_case("inline") {
            return info.parse().map(Self::Inline);
        }
        if method.is_empty() || info.is_empty() {
            return Err(LineError::Crypto("key parameter is not <method>:<info>"));
        }
        if text.contains(|c: char| c.is_ascii_whitespace() || c == ';') {
            return Err(LineError::Crypto("whitespace or ';' in key parameter"));
        }
        Ok(Self::Other {
            method: method.to_owned(),
            info: info.to_owned(),
        })
    }
}

impl fmt::Display for KeyParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(key) => write!(f, "inline:{key}"),
            Self::Other { method, info } => write!(f, "{method}:{info}"),
        }
    }
}

/// An inline SRTP master key: the key-info of `inline:`,
/// `<key||salt>[|<lifetime>][|<MKI>:<length>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InlineKey {
    /// The concatenated master key and salt, base64-encoded, as sent
    /// (non-empty, base64 characters only).
    pub key_salt: String,
    /// How many packets the key may protect.
    pub lifetime: Option<KeyLifetime>,
    /// Master key identifier and its length in the SRTP packets.
    pub mki: Option<Mki>,
}

impl InlineKey {
    /// An inline key without lifetime or MKI.
    #[must_use]
    pub fn new(key_salt: impl Into<String>) -> Self {
        Self {
            key_salt: key_salt.into(),
            lifetime: None,
            mki: None,
        }
    }
}

impl FromStr for InlineKey {
    type Err = LineError;

    /// Parses the key-info of an `inline:` key parameter.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.split('|');
        let key_salt = parts.next().unwrap_or_default();
        if key_salt.is_empty() || !key_salt.bytes().all(is_base64) {
            return Err(LineError::Crypto("inline key is not base64"));
        }
        let mut key = Self::new(key_salt);
        for part in parts {
            // The MKI is the only part holding a ':' and comes last.
            if key.mki.is_some() {
                return Err(LineError::Crypto("text after the MKI"));
            }
            if part.contains(':') {
                key.mki = Some(part.parse()?);
            } else if key.lifetime.is_none() {
                key.lifetime = Some(part.parse()?);
            } else {
                return Err(LineError::Crypto("two key lifetimes"));
            }
        }
        Ok(key)
    }
}

impl fmt::Display for InlineKey {
    /// Prints the key-info (without `inline:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key_salt)?;
        if let Some(lifetime) = self.lifetime {
            write!(f, "|{lifetime}")?;
        }
        if let Some(mki) = self.mki {
            write!(f, "|{mki}")?;
        }
        Ok(())
    }
}

const fn is_base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

/// The lifetime of an inline key, in SRTP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyLifetime {
    /// `2^<n>` packets, written with the exponent.
    PowerOfTwo(u8),
    /// A packet count written out in decimal.
    Packets(u64),
}

impl KeyLifetime {
    /// The lifetime as a packet count, `None` if it does not fit a `u64`.
    #[must_use]
    pub fn packets(self) -> Option<u64> {
        match self {
            Self::PowerOfTwo(exponent) => 1u64.checked_shl(u32::from(exponent)),
            Self::Packets(packets) => Some(packets),
        }
    }
}

impl FromStr for KeyLifetime {
    type Err = LineError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lifetime = match text.strip_prefix("2^") {
            Some(exponent) => parse_decimal(exponent).map(Self::PowerOfTwo),
            None => parse_decimal(text).map(Self::Packets),
        };
        lifetime.ok_or(LineError::Crypto("bad key lifetime"))
    }
}

impl fmt::Display for KeyLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PowerOfTwo(exponent) => write!(f, "2^{exponent}"),
            Self::Packets(packets) => write!(f, "{packets}"),
        }
    }
}

/// A master key identifier, `<value>:<length>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mki {
    /// The MKI value.
    pub value: u64,
    /// Length of the MKI field in SRTP packets, in bytes (1 to 128).
    pub length: u8,
}

impl FromStr for Mki {
    type Err = LineError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (value, length) = text
            .split_once(':')
            .ok_or(LineError::Crypto("MKI is not <value>:<length>"))?;
        let value = parse_decimal(value).ok_or(LineError::Crypto("bad MKI value"))?;
        let length = parse_decimal(length)
            .filter(|length| (1..=MAX_MKI_LENGTH).contains(length))
            .ok_or(LineError::Crypto(
                "MKI length is not a number from 1 to 128",
            ))?;
        Ok(Self { value, length })
    }
}

impl fmt::Display for Mki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.value, self.length)
    }
}
