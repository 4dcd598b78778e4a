//! AEAD_AES_128_GCM for SRTP and SRTCP (RFC 7714 §8 and §9) from the
//! RustCrypto `aes-gcm` crate.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce, Tag};

use super::aes_cm::SRTCP_CLEAR_LEN;
use super::error::SrtpError;
use super::kdf::SessionKeys;
use super::trailer::{SRTCP_TRAILER_LEN, SrtcpTrailer, split_tail};
use crate::wire::xor_be;

/// GCM tag length (RFC 7714 §14.2 uses the 16-byte tag).
pub(crate) const GCM_TAG_LEN: usize = 16;

/// One direction's SRTP or SRTCP AEAD session cipher.
#[derive(Clone)]
pub(crate) struct GcmCipher {
    aead: Aes128Gcm,
    salt: [u8; 12],
}

impl GcmCipher {
    pub(crate) fn new(keys: &SessionKeys) -> Self {
        let mut salt = [0u8; 12];
        salt.iter_mut().zip(&keys.salt).for_each(|(d, s)| *d = *s);
        Self {
            aead: Aes128Gcm::new(&keys.encryption.into()),
            salt,
        }
    }

    /// IV = (00 00 || SSRC || ROC || SEQ) XOR salt (RFC 7714 §8.1); for
    /// SRTCP the last four bytes are the 31-bit index (§9.1).
    fn nonce(&self, ssrc: u32, high: u32, low: &[u8]) -> [u8; 12] {
        let mut iv = self.salt;
        xor_be(&mut iv, 2, &ssrc.to_be_bytes());
        xor_be(&mut iv, 6, &high.to_be_bytes());
        xor_be(&mut iv, 12 - low.len(), low);
        iv
    }

    fn rtp_nonce(&self, ssrc: u32, index: u64) -> [u8; 12] {
        self.nonce(ssrc, (index >> 16) as u32, &(index as u16).to_be_bytes())
    }

    /// Encrypts the payload of the RTP packet in `buf` and appends the tag.
    pub(crate) fn protect_rtp(
        &self,
        buf: &mut Vec<u8>,
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<(), SrtpError> {
        let nonce = self.rtp_nonce(ssrc, index);
        let (header, payload) = buf
            .split_at_mut_checked(header_len)
            .ok_or(SrtpError::TooShort)?;
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), header, payload)
            .map_err(|_| SrtpError::TooShort)?;
        buf.extend_from_slice(&tag);
        Ok(())
    }

    /// Authenticates and decrypts an SRTP packet.
    pub(crate) fn unprotect_rtp(
        &self,
        packet: &[u8],
        header_len: usize,
        ssrc: u32,
        index: u64,
    ) -> Result<Vec<u8>, SrtpError> {
        let (body, tag) = split_tail(packet, GCM_TAG_LEN, header_len)?;
        let mut out = body.to_vec();
        let (header, payload) = out
            .split_at_mut_checked(header_len)
            .ok_or(SrtpError::TooShort)?;
        let nonce = self.rtp_nonce(ssrc, index);
        self.aead
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                header,
                payload,
                Tag::from_slice(tag),
            )
            .map_err(|_| SrtpError::AuthenticationFailed)?;
        Ok(out)
    }

    /// Encrypts the RTCP packet in `buf`, appending the tag, then E||index.
    pub(crate) fn protect_rtcp(
        &self,
        buf: &mut Vec<u8>,
        ssrc: u32,
        index: u32,
    ) -> Result<(), SrtpError> {
        let trailer = SrtcpTrailer::encrypted(index);
        let nonce = self.nonce(ssrc, 0, &trailer.index.to_be_bytes());
        let (header, body) = buf
            .split_at_mut_checked(SRTCP_CLEAR_LEN)
            .ok_or(SrtpError::TooShort)?;
        let mut aad = [0u8; SRTCP_CLEAR_LEN + SRTCP_TRAILER_LEN];
        aad.iter_mut()
            .zip(header.iter().chain(&trailer.to_bytes()))
            .for_each(|(d, s)| *d = *s);
        let tag = self
            .aead
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, body)
            .map_err(|_| SrtpError::TooShort)?;
        buf.extend_from_slice(&tag);
        buf.extend_from_slice(&trailer.to_bytes());
        Ok(())
    }

    /// Authenticates and decrypts an SRTCP packet: the RTCP packet and its index.
    pub(crate) fn unprotect_rtcp(
        &self,
        packet: &[u8],
        ssrc: u32,
    ) -> Result<(Vec<u8>, u32), SrtpError> {
        let (rest, trailer_bytes) =
            split_tail(packet, SRTCP_TRAILER_LEN, SRTCP_CLEAR_LEN + GCM_TAG_LEN)?;
        let (body, tag) = split_tail(rest, GCM_TAG_LEN, SRTCP_CLEAR_LEN)?;
        let trailer = SrtcpTrailer::parse(trailer_bytes)?;
        let nonce = self.nonce(ssrc, 0, &trailer.index.to_be_bytes());
        let mut out = body.to_vec();
        let result = if trailer.encrypted {
            let (header, ciphertext) = out
                .split_at_mut_checked(SRTCP_CLEAR_LEN)
                .ok_or(SrtpError::TooShort)?;
            let aad = [&*header, trailer_bytes].concat();
            self.aead.decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &aad,
                ciphertext,
                Tag::from_slice(tag),
            )
        } else {
            // Authentication only: the whole packet is associated data (§9.2).
            let aad = [body, trailer_bytes].concat();
            self.aead.decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                &aad,
                &mut [],
                Tag::from_slice(tag),
            )
        };
        result.map_err(|_| SrtpError::AuthenticationFailed)?;
        Ok((out, trailer.index))
    }
}
