//! Stateless nonces: `base64url(expiry || random || MAC)` with
//! `MAC = HMAC-SHA256(secret, label || expiry || random || realm)` cut to
//! 128 bits. The server checks a nonce it issued with nothing but the
//! secret: no table of issued nonces, so a flood of unanswered challenges
//! costs no memory, and every node sharing the secret accepts the nonces of
//! the others.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::{base64url_decode, base64url_encode};

type HmacSha256 = Hmac<Sha256>;

/// Random bytes per nonce: the nonce's identity for replay tracking.
pub(crate) const RANDOM_LEN: usize = 16;
/// MAC bytes kept (RFC 2104 §5 allows truncation to half the output).
const MAC_LEN: usize = 16;
const EXPIRY_LEN: usize = 8;
const NONCE_LEN: usize = EXPIRY_LEN + RANDOM_LEN + MAC_LEN;
/// Domain separation: the same secret also keys the dummy HA1.
const NONCE_LABEL: &[u8] = b"switchboard nonce v1\0";
const DUMMY_LABEL: &[u8] = b"switchboard dummy ha1 v1\0";

/// The identity of an issued nonce (its random part).
pub(crate) type NonceId = [u8; RANDOM_LEN];

/// A nonce that carries a valid MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NonceInfo {
    /// When it stops being accepted (Unix seconds).
    pub(crate) expires_at: u64,
    pub(crate) id: NonceId,
}

/// What a received nonce is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// Ours, for this realm, not expired.
    Fresh(NonceInfo),
    /// Ours, for this realm, expired.
    Expired(NonceInfo),
    /// Not ours: malformed, tampered with, another realm or another secret.
    Invalid,
}

/// Issues and checks nonces with one secret.
pub(crate) struct NonceCodec {
    secret: [u8; 32],
}

impl NonceCodec {
    pub(crate) fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length: this never fails.
        match <HmacSha256 as Mac>::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => <HmacSha256 as Mac>::new(&Default::default()),
        }
    }

    fn nonce_mac(&self, head: &[u8], realm: &str) -> HmacSha256 {
        let mut mac = self.mac();
        mac.update(NONCE_LABEL);
        mac.update(head);
        mac.update(realm.as_bytes());
        mac
    }

    /// A nonce for `realm`, valid until `expires_at`.
    pub(crate) fn issue(&self, expires_at: u64, random: NonceId, realm: &str) -> String {
        let mut raw = Vec::with_capacity(NONCE_LEN);
        raw.extend_from_slice(&expires_at.to_be_bytes());
        raw.extend_from_slice(&random);
        let tag = self.nonce_mac(&raw, realm).finalize().into_bytes();
        raw.extend_from_slice(tag.get(..MAC_LEN).unwrap_or_default());
        base64url_encode(&raw)
    }

    /// Checks a nonce received for `realm` at `unix_now`.
    pub(crate) fn check(&self, nonce: &str, realm: &str, unix_now: u64) -> NonceCheck {
        let Some(raw) = base64url_decode(nonce) else {
            return NonceCheck::Invalid;
        };
        if raw.len() != NONCE_LEN {
            return NonceCheck::Invalid;
        }
        let (head, tag) = raw.split_at(EXPIRY_LEN + RANDOM_LEN);
        if self
            .nonce_mac(head, realm)
            .verify_truncated_left(tag)
            .is_err()
        {
            return NonceCheck::Invalid;
        }
        let (expiry, random) = head.split_at(EXPIRY_LEN);
        let (Ok(expiry), Ok(id)) = (<[u8; 8]>::try_from(expiry), NonceId::try_from(random)) else {
            return NonceCheck::Invalid;
        };
        let info = NonceInfo {
            expires_at: u64::from_be_bytes(expiry),
            id,
        };
        if info.expires_at <= unix_now {
            NonceCheck::Expired(info)
        } else {
            NonceCheck::Fresh(info)
        }
    }

    /// A stand-in HA1 for a user that does not exist, of `hex_len` hex
    /// digits: the digest is computed against it so that an unknown user
    /// costs the same work as a wrong password.
    pub(crate) fn dummy_ha1(&self, hex_len: usize, realm: &str, user: &str) -> String {
        let mut mac = self.mac();
        mac.update(DUMMY_LABEL);
        mac.update(realm.as_bytes());
        mac.update(b"\0");
        mac.update(user.as_bytes());
        let bytes = mac.finalize().into_bytes();
        let mut hex = crate::util::hex(&bytes);
        hex.truncate(hex_len);
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: &str = "example.com";

    #[test]
    fn issued_nonces_check_until_they_expire() {
        let codec = NonceCodec::new([7; 32]);
        let nonce = codec.issue(1000, [1; RANDOM_LEN], REALM);
        assert_eq!(nonce.len(), 54);
        let info = NonceInfo {
            expires_at: 1000,
            id: [1; RANDOM_LEN],
        };
        assert_eq!(codec.check(&nonce, REALM, 999), NonceCheck::Fresh(info));
        assert_eq!(codec.check(&nonce, REALM, 1000), NonceCheck::Expired(info));
    }

    #[test]
    fn foreign_or_tampered_nonces_are_invalid() {
        let codec = NonceCodec::new([7; 32]);
        let nonce = codec.issue(1000, [1; RANDOM_LEN], REALM);
        // Another realm, another secret.
        assert_eq!(codec.check(&nonce, "other.example", 0), NonceCheck::Invalid);
        assert_eq!(
            NonceCodec::new([8; 32]).check(&nonce, REALM, 0),
            NonceCheck::Invalid
        );
        // Every single-character change (the expiry, the random part, the MAC).
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..nonce.len() {
            let mut chars: Vec<char> = nonce.chars().collect();
            let replacement = alphabet.chars().find(|c| *c != chars[i]).unwrap();
            chars[i] = replacement;
            let tampered: String = chars.into_iter().collect();
            assert_eq!(
                codec.check(&tampered, REALM, 0),
                NonceCheck::Invalid,
                "position {i}"
            );
        }
        for junk in [
            "",
            "abc",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            &nonce[..53],
            &format!("{nonce}A"),
        ] {
            assert_eq!(codec.check(junk, REALM, 0), NonceCheck::Invalid, "{junk:?}");
        }
    }

    #[test]
    fn dummy_ha1_has_the_right_shape() {
        let codec = NonceCodec::new([7; 32]);
        let a = codec.dummy_ha1(32, REALM, "nobody");
        assert_eq!(a.len(), 32);
        assert_eq!(codec.dummy_ha1(64, REALM, "nobody").len(), 64);
        assert_ne!(a, codec.dummy_ha1(32, REALM, "somebody"));
    }
}
