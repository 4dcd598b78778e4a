//! The digest computations of RFC 7616 §3.4 (RFC 2617 §3.2.2, RFC 8760).
//!
//! Every hash is returned as lowercase hex, which is also the form every
//! hash is fed in as (`HA1`, `HA2` and `H(entity-body)` are hex strings
//! inside the next hash).
//!
//! ```text
//! HA1      = H(username ":" realm ":" password)                 stored
//! HA1-sess = H(HA1 ":" nonce ":" cnonce)                        -sess
//! HA2      = H(method ":" uri)                                  auth / no qop
//! HA2      = H(method ":" uri ":" H(body))                      auth-int
//! response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2) with qop
//! response = H(HA1 ":" nonce ":" HA2)                           RFC 2069
//! userhash = H(username ":" realm)
//! ```

use super::algorithm::Algorithm;
use super::error::DigestError;
use super::qop::Qop;

/// `HA1 = H(username:realm:password)` with the hash function of
/// `algorithm`, as lowercase hex.
///
/// This is the value a server stores instead of the password, one per hash
/// function: for a `-sess` algorithm it is the same as for its
/// [`base`](Algorithm::base), and [`session_ha1`] derives the per-session
/// value from it.
#[must_use]
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash_parts(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The `-sess` HA1: `H(HA1:nonce:cnonce)` from a stored `ha1` (RFC 7616
/// §3.4.2). Uses the hash function of `algorithm` whether or not it is a
/// `-sess` variant.
#[must_use]
pub fn session_ha1(algorithm: Algorithm, ha1: &str, nonce: &str, cnonce: &str) -> String {
    algorithm.hash_parts(&[ha1.as_bytes(), nonce.as_bytes(), cnonce.as_bytes()])
}

/// `HA2 = H(method:uri)` for `qop=auth` and for requests without qop.
#[must_use]
pub fn ha2(algorithm: Algorithm, method: &str, uri: &str) -> String {
    algorithm.hash_parts(&[method.as_bytes(), uri.as_bytes()])
}

/// `HA2 = H(method:uri:H(body))` for `qop=auth-int`; `body` is the message
/// body as sent (empty when there is none).
#[must_use]
pub fn ha2_auth_int(algorithm: Algorithm, method: &str, uri: &str, body: &[u8]) -> String {
    let body_hash = algorithm.hash_parts(&[body]);
    algorithm.hash_parts(&[method.as_bytes(), uri.as_bytes(), body_hash.as_bytes()])
}

/// The request digest with qop:
/// `H(HA1:nonce:nc:cnonce:qop:HA2)`, `nc` written as 8 lowercase hex digits.
///
/// `ha1` is the HA1 in effect: the stored one, or [`session_ha1`] of it for
/// a `-sess` algorithm.
#[must_use]
pub fn response(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: u32,
    cnonce: &str,
    qop: Qop,
    ha2: &str,
) -> String {
    let nc = format!("{nc:08x}");
    algorithm.hash_parts(&[
        ha1.as_bytes(),
        nonce.as_bytes(),
        nc.as_bytes(),
        cnonce.as_bytes(),
        qop.as_str().as_bytes(),
        ha2.as_bytes(),
    ])
}

/// The request digest without qop, `H(HA1:nonce:HA2)`, for RFC 2069
/// compatibility.
#[must_use]
pub fn response_without_qop(algorithm: Algorithm, ha1: &str, nonce: &str, ha2: &str) -> String {
    algorithm.hash_parts(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()])
}

/// The hashed username of RFC 7616 §3.4.4, `H(username:realm)`, sent in
/// place of the username when `userhash=true`.
#[must_use]
pub fn userhash(algorithm: Algorithm, username: &str, realm: &str) -> String {
    algorithm.hash_parts(&[username.as_bytes(), realm.as_bytes()])
}

/// Compares two digests in time that depends only on their lengths, never
/// on where they differ. The comparison is exact: pass lowercase hex.
#[must_use]
pub fn verify(expected: &str, received: &str) -> bool {
    let (a, b) = (expected.as_bytes(), received.as_bytes());
    let mut diff = 0u8;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    let same_len = a.len() == b.len();
    (std::hint::black_box(diff) == 0) & same_len
}

/// Checks that `ha1` looks like a stored HA1 for `algorithm`: as many
/// lowercase hex digits as its hash function produces.
pub(crate) fn check_ha1(algorithm: Algorithm, ha1: &str) -> Result<(), DigestError> {
    let ok = ha1.len() == algorithm.hex_len()
        && ha1.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(DigestError::InvalidHa1 {
            algorithm,
            expected: algorithm.hex_len(),
        })
    }
}

/// The inputs of one request digest, shared by the server check, the
/// client answer and `rspauth`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigestInput<'s> {
    pub(crate) algorithm: Algorithm,
    /// The stored HA1 (before any `-sess` step).
    pub(crate) stored_ha1: &'s str,
    pub(crate) nonce: &'s str,
    pub(crate) cnonce: Option<&'s str>,
    pub(crate) nc: Option<u32>,
    pub(crate) qop: Option<Qop>,
    /// Empty for `rspauth`.
    pub(crate) method: &'s str,
    pub(crate) uri: &'s str,
    /// Used only with `qop=auth-int`.
    pub(crate) body: &'s [u8],
}

impl DigestInput<'_> {
    /// Computes the digest, checking that HA1 is well formed and that the
    /// parameters the algorithm and qop need are present.
    pub(crate) fn compute(&self) -> Result<String, DigestError> {
        let alg = self.algorithm;
        check_ha1(alg, self.stored_ha1)?;
        let cnonce = || {
            self.cnonce
                .ok_or(DigestError::MissingParam { name: "cnonce" })
        };
        let session;
        let ha1 = if alg.is_session() {
            session = session_ha1(alg, self.stored_ha1, self.nonce, cnonce()?);
            session.as_str()
        } else {
            self.stored_ha1
        };
        Ok(match self.qop {
            None => response_without_qop(alg, ha1, self.nonce, &ha2(alg, self.method, self.uri)),
            Some(qop) => {
                let nc = self.nc.ok_or(DigestError::MissingParam { name: "nc" })?;
                let ha2 = match qop {
                    Qop::Auth => ha2(alg, self.method, self.uri),
                    Qop::AuthInt => ha2_auth_int(alg, self.method, self.uri, self.body),
                };
                response(alg, ha1, self.nonce, nc, cnonce()?, qop, &ha2)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_section_3_5() {
        let alg = Algorithm::Md5;
        let ha1 = ha1(alg, "Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        let ha2 = ha2(alg, "GET", "/dir/index.html");
        assert_eq!(ha2, "39aff3a2bab6126f332b942af96d3366");
        let r = response(
            alg,
            &ha1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            1,
            "0a4f113b",
            Qop::Auth,
            &ha2,
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
        assert!(verify(&r, "6629fae49393a05397450978507c4ef1"));
    }

    #[test]
    fn verify_is_exact() {
        let good = "6629fae49393a05397450978507c4ef1";
        assert!(verify(good, good));
        assert!(!verify(good, "6629fae49393a05397450978507c4ef2"));
        assert!(!verify(good, "7629fae49393a05397450978507c4ef1"));
        assert!(!verify(good, "6629FAE49393A05397450978507C4EF1"));
        assert!(!verify(good, good.get(..31).unwrap_or_default()));
        assert!(!verify(good, &format!("{good}0")));
        assert!(!verify(good, ""));
        assert!(verify("", ""));
        // A shorter received value padded with NULs must not match.
        assert!(!verify("ab\0", "ab"));
    }

    #[test]
    fn check_ha1_wants_lowercase_hex_of_the_right_length() {
        assert!(check_ha1(Algorithm::Md5, "939e7578ed9e3c518a452acee763bce9").is_ok());
        assert!(check_ha1(Algorithm::Md5Sess, "939e7578ed9e3c518a452acee763bce9").is_ok());
        assert_eq!(
            check_ha1(Algorithm::Sha256, "939e7578ed9e3c518a452acee763bce9"),
            Err(DigestError::InvalidHa1 {
                algorithm: Algorithm::Sha256,
                expected: 64
            })
        );
        assert!(check_ha1(Algorithm::Md5, "939E7578ED9E3C518A452ACEE763BCE9").is_err());
        assert!(check_ha1(Algorithm::Md5, "939e7578ed9e3c518a452acee763bcez").is_err());
        assert!(check_ha1(Algorithm::Md5, "Circle Of Life").is_err());
    }

    #[test]
    fn auth_int_hashes_the_body() {
        let alg = Algorithm::Sha256;
        let empty = ha2_auth_int(alg, "INVITE", "sip:bob@example.com", b"");
        let with_body = ha2_auth_int(alg, "INVITE", "sip:bob@example.com", b"v=0\r\n");
        assert_ne!(empty, with_body);
        assert_ne!(empty, ha2(alg, "INVITE", "sip:bob@example.com"));
        let body_hash = alg.hash_parts(&[b"v=0\r\n"]);
        assert_eq!(
            with_body,
            alg.hash_parts(&[b"INVITE", b"sip:bob@example.com", body_hash.as_bytes()])
        );
    }

    #[test]
    fn input_requires_cnonce_and_nc() {
        let ha1 = ha1(Algorithm::Md5, "u", "r", "p");
        let base = DigestInput {
            algorithm: Algorithm::Md5,
            stored_ha1: &ha1,
            nonce: "n",
            cnonce: None,
            nc: None,
            qop: None,
            method: "REGISTER",
            uri: "sip:r",
            body: b"",
        };
        assert!(base.compute().is_ok());
        let with_qop = DigestInput {
            qop: Some(Qop::Auth),
            ..base
        };
        assert_eq!(
            with_qop.compute(),
            Err(DigestError::MissingParam { name: "nc" })
        );
        let no_cnonce = DigestInput {
            nc: Some(1),
            ..with_qop
        };
        assert_eq!(
            no_cnonce.compute(),
            Err(DigestError::MissingParam { name: "cnonce" })
        );
        let sess = DigestInput {
            algorithm: Algorithm::Md5Sess,
            ..base
        };
        assert_eq!(
            sess.compute(),
            Err(DigestError::MissingParam { name: "cnonce" })
        );
    }
}
