//! The AES-CM key derivation of RFC 3711 §4.3 (also used by RFC 7714 §11),
//! with a key derivation rate of 0, as SDES uses by default.

use aes::Aes128;
use ctr::cipher::{InnerIvInit, KeyInit, StreamCipher};

use super::key::MasterKey;

/// Labels of RFC 3711 §4.3.2 (SRTCP labels are these plus 3).
const LABEL_ENCRYPTION: u8 = 0;
const LABEL_AUTH: u8 = 1;
const LABEL_SALT: u8 = 2;
const RTCP_LABEL_OFFSET: u8 = 3;

/// The session keys for SRTP or for SRTCP.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    pub(crate) encryption: [u8; 16],
    /// Session salt; GCM uses its first 12 bytes.
    pub(crate) salt: [u8; 14],
    /// HMAC-SHA1 key (unused by GCM).
    pub(crate) auth: [u8; 20],
}

/// Fills `out` with the PRF output for `label`: AES-CM under the master
/// key, IV = (master salt XOR label << 48) || 0x0000. A 12-byte GCM salt
/// sits in the leading bytes, as libsrtp places it.
fn prf(master: &Aes128, salt: &[u8], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv.iter_mut().zip(salt).for_each(|(d, s)| *d = *s);
    if let Some(byte) = iv.get_mut(7) {
        *byte ^= label;
    }
    out.fill(0);
    ctr::Ctr128BE::<Aes128>::from_core(ctr::CtrCore::inner_iv_init(master.clone(), &iv.into()))
        .apply_keystream(out);
}

impl SessionKeys {
    /// Derives the SRTP (`rtcp == false`) or SRTCP session keys.
    pub(crate) fn derive(master: &MasterKey, rtcp: bool) -> Self {
        let offset = if rtcp { RTCP_LABEL_OFFSET } else { 0 };
        let mut keys = Self {
            encryption: [0; 16],
            salt: [0; 14],
            auth: [0; 20],
        };
        let Ok(aes) = Aes128::new_from_slice(master.key()) else {
            // Unreachable: MasterKey holds a 16-byte key for every suite.
            return keys;
        };
        let salt_len = master.suite().salt_len();
        prf(
            &aes,
            master.salt(),
            LABEL_ENCRYPTION + offset,
            &mut keys.encryption,
        );
        if let Some(salt) = keys.salt.get_mut(..salt_len) {
            prf(&aes, master.salt(), LABEL_SALT + offset, salt);
        }
        prf(&aes, master.salt(), LABEL_AUTH + offset, &mut keys.auth);
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::super::SrtpSuite;
    use super::*;
    use crate::test_util::hex;

    #[test]
    fn rfc3711_b3_key_derivation() {
        let master = hex("E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6");
        let master = MasterKey::from_bytes(SrtpSuite::AesCm128HmacSha1_80, &master).unwrap();
        let keys = SessionKeys::derive(&master, false);
        assert_eq!(
            keys.encryption.to_vec(),
            hex("C61E7A93744F39EE10734AFE3FF7A087")
        );
        assert_eq!(keys.salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        assert_eq!(
            keys.auth.to_vec(),
            hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
    }
}
