//! `a=crypto`, SDP security descriptions for SRTP (RFC 4568).

use std::fmt;
use std::str::FromStr;

use super::{InlineKey, KeyParam, LineError, parse_decimal};

/// Most digits a tag may have (RFC 4568 §9.1: `tag = 1*9DIGIT`).
const MAX_TAG_DIGITS: usize = 9;

/// One SRTP crypto offer or answer: the value of `a=crypto:<tag>
/// <crypto-suite> <key-params> [<session-params>]` (RFC 4568 §9.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Crypto {
    /// Tag identifying this line among the offered ones; the answer echoes
    /// the tag it accepts (at most 9 digits).
    pub tag: u32,
    /// Crypto suite, such as `AES_CM_128_HMAC_SHA1_80` (non-empty; letters,
    /// digits and `_`).
    pub suite: String,
    /// One or more key parameters (printed `;`-separated).
    pub key_params: Vec<KeyParam>,
    /// Session parameters such as `KDR=1`, `UNENCRYPTED_SRTCP` or
    /// `FEC_ORDER=FEC_SRTP`, verbatim, one word each.
    pub session_params: Vec<String>,
}

impl Crypto {
    /// A crypto line with one inline key and no session parameters.
    #[must_use]
    pub fn new(tag: u32, suite: impl Into<String>, key: InlineKey) -> Self {
        Self {
            tag,
            suite: suite.into(),
            key_params: vec![KeyParam::Inline(key)],
            session_params: Vec::new(),
        }
    }

    /// The inline keys among the key parameters.
    pub fn inline_keys(&self) -> impl Iterator<Item = &InlineKey> {
        self.key_params.iter().filter_map(KeyParam::as_inline)
    }
}

impl FromStr for Crypto {
    type Err = LineError;

    /// Parses a `crypto` attribute value (after `a=crypto:`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut words = text.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(key_params)) = (words.next(), words.next(), words.next())
        else {
            return Err(LineError::Crypto(
                "expected <tag> <crypto-suite> <key-params>",
            ));
        };
        let tag = Some(tag)
            .filter(|tag| tag.len() <= MAX_TAG_DIGITS)
            .and_then(parse_decimal)
            .ok_or(LineError::Crypto("tag is not a number of 1 to 9 digits"))?;
        if !suite
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(LineError::Crypto("bad crypto-suite"));
        }
        let key_params = key_params
            .split(';')
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            tag,
            suite: suite.to_owned(),
            key_params,
            session_params: words.map(str::to_owned).collect(),
        })
    }
}

impl fmt::Display for Crypto {
    /// Prints the attribute value (without `a=crypto:`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (index, key) in self.key_params.iter().enumerate() {
            if index > 0 {
                f.write_str(";")?;
            }
            write!(f, "{key}")?;
        }
        for param in &self.session_params {
            write!(f, " {param}")?;
        }
        Ok(())
    }
}
