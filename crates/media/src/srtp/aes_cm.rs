//! AES_CM_128_HMAC_SHA1_80/_32 (RFC 3711 §4.1.1 and §4.2.1) from the
//! RustCrypto `aes`, `ctr`, `hmac` and `sha1` primitives.

use aes::Aes128;
use ctr::cipher::{InnerIvInit, KeyInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::error::SrtpError;
use super::kdf::SessionKeys;
use super::trailer::{SRTCP_TRAILER_LEN, SrtcpTrailer, split_tail};
use crate::wire::xor_be;

/// The SRTCP header bytes sent in the clear: the first 8.
pub(crate) const SRTCP_CLEAR_LEN: usize = 8;

/// One direction's SRTP or SRTCP session cipher.
#[derive(Clone)]
pub(crate) struct AesCmCipher {
    aes: Aes128,
    salt: [u8; 14],
    mac: Hmac<Sha1>,
    tag_len: usize,
}

impl AesCmCipher {
    pub(crate) fn new(keys: &SessionKeys, tag_len: usize) -> Self {
        // HMAC pads a key shorter than the block with zeros (RFC 2104 §2),
        // so the 20-byte key padded to SHA-1's 64-byte block is the same key.
        let mut mac_key = [0u8; 64];
        mac_key
            .iter_mut()
            .zip(&keys.auth)
            .for_each(|(d, s)| *d = *s);
        Self {
            aes: Aes128::new(&keys.encryption.into()),
            salt: keys.salt,
            mac: <Hmac<Sha1> as KeyInit>::new(&mac_key.into()),
            tag_len,
        }
    }

    /// IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16) (RFC 3711 §4.1.1).
    fn iv(&self, ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.iter_mut().zip(&self.salt).for_each(|(d, s)| *d = *s);
        xor_be(&mut iv, 4, &ssrc.to_be_bytes());
        // The 48-bit index: the low 6 bytes of the u64.
        xor_be(&mut iv, 8, index.to_be_bytes().get(2..).unwrap_or_default());
        iv
    }

    pub(crate) fn apply_keystream(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        ctr::Ctr128BE::<Aes128>::from_core(ctr::CtrCore::inner_iv_init(
            self.aes.clone(),
            &self.iv(ssrc, index).into(),
        ))
        .apply_keystream(data);
    }

    /// The full 20-byte HMAC-SHA1 over `data` then `suffix`.
    fn mac(&self, data: &[u8], suffix: &[u8]) -> [u8; 20] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.update(suffix);
        mac.finalize().into_bytes().into()
    }

    fn verify(
        &self,
        data: &[u8],
        suffix: &[u8],
        tag: &[u8],
        tag_len: usize,
    ) -> Result<(), SrtpError> {
        let full = self.mac(data, suffix);
        let ours = full.get(..tag_len).ok_or(SrtpError::AuthenticationFailed)?;
        if bool::from(ours.ct_eq(tag)) {
            Ok(())
        } else {
            Err(SrtpError::AuthenticationFailed)
        }
    }

    /// Encrypts the payload of the RTP packet in `buf` and appends the tag.
    pub(crate) fn protect_rtp(&self, buf: &mut Vec<u8>, header_len: usize, ssrc: u32, index: u64) {
        if let Some(payload) = buf.get_mut(header_len..) {
            self.apply_keystream(ssrc, index, payload);
        }
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = self.mac(buf, &roc);
        buf.extend_from_slice(tag.get(..self.tag_len).unwrap_or_default());
    }

    /// Checks the tag of an SRTP packet and returns the RTP packet.
    pub(crate) fn unprotect_rtp(
        &self,
        packet: &[u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<Vec<u8>, SrtpError> {
        let (body, tag) = split_tail(packet, self.tag_len, header_len)?;
        let roc = ((index >> 16) as u32).to_be_bytes();
        self.verify(body, &roc, tag, self.tag_len)?;
        let mut out = body.to_vec();
        if let Some(payload) = out.get_mut(header_len..) {
            self.apply_keystream(ssrc, index, payload);
        }
        Ok(out)
    }

    /// Encrypts the RTCP packet in `buf` and appends E||index and the tag.
    pub(crate) fn protect_rtcp(&self, buf: &mut Vec<u8>, ssrc: u32, index: u32) {
        if let Some(body) = buf.get_mut(SRTCP_CLEAR_LEN..) {
            self.apply_keystream(ssrc, u64::from(index), body);
        }
        buf.extend_from_slice(&SrtcpTrailer::encrypted(index).to_bytes());
        let tag = self.mac(buf, &[]);
        buf.extend_from_slice(tag.get(..self.tag_len).unwrap_or_default());
    }

    /// Checks and decrypts an SRTCP packet: the RTCP packet and its index.
    pub(crate) fn unprotect_rtcp(
        &self,
        packet: &[u8],
        ssrc: u32,
    ) -> Result<(Vec<u8>, u32), SrtpError> {
        let (authenticated, tag) =
            split_tail(packet, self.tag_len, SRTCP_CLEAR_LEN + SRTCP_TRAILER_LEN)?;
        let (body, trailer) = split_tail(authenticated, SRTCP_TRAILER_LEN, SRTCP_CLEAR_LEN)?;
        self.verify(authenticated, &[], tag, self.tag_len)?;
        let trailer = SrtcpTrailer::parse(trailer)?;
        let mut out = body.to_vec();
        if trailer.encrypted {
            if let Some(body) = out.get_mut(SRTCP_CLEAR_LEN..) {
                self.apply_keystream(ssrc, u64::from(trailer.index), body);
            }
        }
        Ok((out, trailer.index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::hex;

    #[test]
    fn rfc3711_b2_keystream() {
        let mut keys = SessionKeys {
            encryption: [0; 16],
            salt: [0; 14],
            auth: [0; 20],
        };
        keys.encryption
            .copy_from_slice(&hex("2B7E151628AED2A6ABF7158809CF4F3C"));
        keys.salt
            .copy_from_slice(&hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
        let cipher = AesCmCipher::new(&keys, 10);
        let mut stream = vec![0u8; 48];
        cipher.apply_keystream(0, 0, &mut stream);
        assert_eq!(
            stream,
            hex(concat!(
                "E03EAD0935C95E80E166B16DD92B4EB4",
                "D23513162B02D0F72A43A2FE4A5F97AB",
                "41E95B3BB0A2E8DD477901E4FCA894C0"
            ))
        );
        // Blocks 0xFEFF.. 0xFF01 of the same keystream.
        let mut far = vec![0u8; 16 * 0xFF02];
        cipher.apply_keystream(0, 0, &mut far);
        assert_eq!(
            far[16 * 0xFEFF..].to_vec(),
            hex(concat!(
                "EC8CDF7398607CB0F2D21675EA9EA1E4",
                "362B7C3C6773516318A077D7FC5073AE",
                "6A2CC3787889374FBEB4C81B17BA6C44"
            ))
        );
    }
}
