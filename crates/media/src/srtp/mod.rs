//! SRTP and SRTCP (RFC 3711) with AES_CM_128_HMAC_SHA1_80 and _32, and
//! AEAD_AES_128_GCM (RFC 7714), keyed by SDES (RFC 4568) master keys.
//!
//! The transforms are composed from RustCrypto primitives (`aes`, `ctr`,
//! `hmac`, `sha1`, `aes-gcm`, `subtle`): no cryptography is written here,
//! only the packet layouts, IVs, key derivation and index bookkeeping of the
//! RFCs. `webrtc-srtp` was the alternative, but it pulls tokio (with the
//! multi-threaded runtime, fs and net) and webrtc-util into what must stay
//! a sans-IO crate.

mod aes_cm;
mod context;
mod error;
mod gcm;
mod kdf;
mod key;
mod replay;
mod suite;
mod trailer;

pub use context::SrtpContext;
pub use error::{KeyError, SrtpError};
pub use key::MasterKey;
pub use suite::SrtpSuite;

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::rtp::RtpPacket;
    use crate::test_util::hex;

    /// The key, salt and packets of libsrtp's test driver (RFC 3711 B.3's master key).
    const LIBSRTP_KEY: &str = "E1F97A0D3E018BE0D64FA32C06DE41390EC675AD498AFEEBB6960B3AABE6";
    const RTP_PLAIN: &str = "800f1234decafbadcafebabeabababababababababababababababab";
    const RTCP_PLAIN: &str = "81c8000bcafebabeabababababababababababababababab";

    fn context(suite: SrtpSuite, key: &str) -> SrtpContext {
        SrtpContext::from_inline_key(suite, &hex(key)).unwrap()
    }

    #[test]
    fn aes_cm_80_matches_libsrtp() {
        let mut tx = context(SrtpSuite::AesCm128HmacSha1_80, LIBSRTP_KEY);
        let srtp = tx.protect_rtp(&hex(RTP_PLAIN)).unwrap();
        assert_eq!(
            srtp.to_vec(),
            hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb")
        );
        let srtcp = tx.protect_rtcp(&hex(RTCP_PLAIN)).unwrap();
        assert_eq!(
            srtcp.to_vec(),
            hex("81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798")
        );
        let mut rx = context(SrtpSuite::AesCm128HmacSha1_80, LIBSRTP_KEY);
        assert_eq!(rx.unprotect_rtp(&srtp).unwrap().to_vec(), hex(RTP_PLAIN));
        assert_eq!(rx.unprotect_rtcp(&srtcp).unwrap().to_vec(), hex(RTCP_PLAIN));
    }

    #[test]
    fn aes_cm_32_matches_libsrtp() {
        let mut tx = context(SrtpSuite::AesCm128HmacSha1_32, LIBSRTP_KEY);
        let srtp = tx.protect_rtp(&hex(RTP_PLAIN)).unwrap();
        assert_eq!(
            srtp.to_vec(),
            hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc")
        );
        // SRTCP keeps the 80-bit tag.
        assert_eq!(
            tx.protect_rtcp(&hex(RTCP_PLAIN)).unwrap().len(),
            24 + 4 + 10
        );
    }

    #[test]
    fn aead_aes_128_gcm_matches_libsrtp() {
        // Vectors shared by libsrtp and webrtc-rs for RFC 7714 with key derivation.
        let key = "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaab";
        let mut tx = context(SrtpSuite::AeadAes128Gcm, key);
        let srtp = tx.protect_rtp(&hex(RTP_PLAIN)).unwrap();
        assert_eq!(
            srtp.to_vec(),
            hex(
                "800f1234decafbadcafebabec5002ede04cfdd2eb91159e0880aa06ed2976826f796b201df3131a127e8a392"
            )
        );
        let srtcp = tx.protect_rtcp(&hex(RTCP_PLAIN)).unwrap();
        assert_eq!(
            srtcp.to_vec(),
            hex(
                "81c8000bcafebabec98b8b5df0392a55852b6c21ac8e7025c52c6fbea2b3b446ea31123ba88ce61e80000001"
            )
        );
        let mut rx = context(SrtpSuite::AeadAes128Gcm, key);
        assert_eq!(rx.unprotect_rtp(&srtp).unwrap().to_vec(), hex(RTP_PLAIN));
        assert_eq!(rx.unprotect_rtcp(&srtcp).unwrap().to_vec(), hex(RTCP_PLAIN));
    }

    fn rtp(seq: u16, payload: &'static [u8]) -> Vec<u8> {
        let mut p = RtpPacket::new(
            0,
            seq,
            u32::from(seq) * 160,
            0x1234_5678,
            Bytes::from_static(payload),
        );
        p.csrc = vec![42];
        p.to_bytes().unwrap().to_vec()
    }

    fn pair(suite: SrtpSuite) -> (SrtpContext, SrtpContext) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(suite as u64);
        let key = MasterKey::generate(suite, &mut rng);
        (SrtpContext::new(&key), SrtpContext::new(&key))
    }

    use rand::SeedableRng;

    #[test]
    fn round_trip_replay_and_tamper_for_each_suite() {
        for suite in SrtpSuite::ALL {
            let (mut tx, mut rx) = pair(suite);
            let plain = rtp(7, &[0xD5; 160]);
            let srtp = tx.protect_rtp(&plain).unwrap();
            assert_eq!(srtp.len(), plain.len() + suite.rtp_tag_len());
            assert_ne!(
                &srtp[16..176],
                &plain[16..176],
                "{suite}: payload not encrypted"
            );
            let mut tampered = srtp.to_vec();
            tampered[20] ^= 1;
            assert_eq!(
                rx.unprotect_rtp(&tampered),
                Err(SrtpError::AuthenticationFailed),
                "{suite}"
            );
            let mut bad_header = srtp.to_vec();
            bad_header[1] ^= 1;
            assert_eq!(
                rx.unprotect_rtp(&bad_header),
                Err(SrtpError::AuthenticationFailed),
                "{suite}"
            );
            assert_eq!(rx.unprotect_rtp(&srtp).unwrap().to_vec(), plain, "{suite}");
            assert_eq!(rx.unprotect_rtp(&srtp), Err(SrtpError::Replayed), "{suite}");
            let (_, mut fresh) = pair(suite);
            assert_eq!(
                fresh.unprotect_rtp(&srtp[..16]),
                Err(SrtpError::TooShort),
                "{suite}"
            );
            assert!(
                matches!(fresh.unprotect_rtp(&srtp[..14]), Err(SrtpError::Rtp(_))),
                "{suite}"
            );

            let rtcp = hex(RTCP_PLAIN);
            let srtcp = tx.protect_rtcp(&rtcp).unwrap();
            let mut tampered = srtcp.to_vec();
            tampered[9] ^= 0x80;
            assert_eq!(
                rx.unprotect_rtcp(&tampered),
                Err(SrtpError::AuthenticationFailed),
                "{suite}"
            );
            assert_eq!(rx.unprotect_rtcp(&srtcp).unwrap().to_vec(), rtcp, "{suite}");
            assert_eq!(
                rx.unprotect_rtcp(&srtcp),
                Err(SrtpError::Replayed),
                "{suite}"
            );
        }
    }

    #[test]
    fn wrong_key_fails_authentication() {
        let (mut tx, _) = pair(SrtpSuite::AesCm128HmacSha1_80);
        let (_, mut other) = pair(SrtpSuite::AesCm128HmacSha1_32);
        let srtp = tx.protect_rtp(&rtp(1, b"x")).unwrap();
        assert_eq!(
            other.unprotect_rtp(&srtp),
            Err(SrtpError::AuthenticationFailed)
        );
    }

    #[test]
    fn rollover_counter_across_sequence_wrap() {
        for suite in SrtpSuite::ALL {
            let (mut tx, mut rx) = pair(suite);
            let seqs: Vec<u16> = (65530..=65535).chain(0..5).collect();
            let packets: Vec<Bytes> = seqs
                .iter()
                .map(|s| tx.protect_rtp(&rtp(*s, b"abcd")).unwrap())
                .collect();
            // Deliver with some reordering around the wrap.
            for i in [0usize, 1, 2, 3, 5, 4, 6, 8, 7, 9, 10] {
                let plain = rx.unprotect_rtp(&packets[i]).unwrap();
                assert_eq!(
                    plain.to_vec(),
                    rtp(seqs[i], b"abcd"),
                    "{suite} seq {}",
                    seqs[i]
                );
            }
            // A packet from before the wrap, replayed after it, is rejected.
            assert_eq!(rx.unprotect_rtp(&packets[2]), Err(SrtpError::Replayed));
            // The ROC is in the keystream and tag: seq 65534 with ROC 1
            // differs from seq 65534 with ROC 0.
            let (mut later, _) = pair(suite);
            later.set_outbound_roc(0x1234_5678, 1, 65533);
            assert_ne!(later.protect_rtp(&rtp(65534, b"abcd")).unwrap(), packets[4]);
        }
    }

    #[test]
    fn receiver_joining_after_wrap_needs_roc() {
        let (mut tx, mut rx) = pair(SrtpSuite::AesCm128HmacSha1_80);
        tx.set_outbound_roc(0x1234_5678, 1, 10);
        let srtp = tx.protect_rtp(&rtp(11, b"a")).unwrap();
        // The receiver guesses ROC 0 for a new source: authentication fails.
        assert_eq!(
            rx.unprotect_rtp(&srtp),
            Err(SrtpError::AuthenticationFailed)
        );
    }
}
