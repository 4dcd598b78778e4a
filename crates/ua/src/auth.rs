//! Answering digest challenges (RFC 3261 §22.2, RFC 7616, RFC 8760) as a
//! client.

use rand_core::RngCore;
use switchboard_proto::digest::{self, Algorithm, DigestChallenge, RequestInfo};
use switchboard_proto::{HeaderName, Response, StatusCode};

use switchboard_core::token;

/// A user name and password for digest authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (normally the user part of the AOR).
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The credentials header to add to a retried request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthHeader {
    /// `Authorization` (after 401) or `Proxy-Authorization` (after 407).
    pub(crate) name: HeaderName,
    /// The value.
    pub(crate) value: String,
}

/// Why a challenge was not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials were configured.
    #[error("authentication required but no password given")]
    NoCredentials,
    /// No challenge names an algorithm we support (or none parses).
    #[error("no usable digest challenge")]
    NoUsableChallenge,
    /// The server challenged again a fresh answer that was not stale: the
    /// user name or password is wrong.
    #[error("credentials rejected")]
    Rejected,
}

/// Answers the challenges of one request's transactions: remembers which
/// realms were answered so a second, non-stale challenge means the
/// credentials were refused instead of looping.
#[derive(Debug, Clone, Default)]
pub(crate) struct DigestClient {
    answered: Vec<String>,
    nc: u32,
}

/// Whether `status` is a digest challenge (401 or 407) to answer.
pub(crate) fn is_challenge(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
}

/// Preference among the algorithms a server may offer together: the
/// strongest first.
fn rank(algorithm: Algorithm) -> Option<u8> {
    match algorithm {
        Algorithm::Sha512_256 => Some(3),
        Algorithm::Sha256 => Some(2),
        Algorithm::Md5 => Some(1),
        _ => None,
    }
}

impl DigestClient {
    /// Forgets what was answered (a new request, not a retry).
    pub(crate) fn reset(&mut self) {
        self.answered.clear();
    }

    /// The header that answers the 401/407 `response` for a request with
    /// `method`, digest URI `uri` and `body`.
    pub(crate) fn answer(
        &mut self,
        response: &Response,
        credentials: Option<&Credentials>,
        method: &str,
        uri: &str,
        body: &[u8],
        rng: &mut dyn RngCore,
    ) -> Result<AuthHeader, AuthError> {
        let credentials = credentials.ok_or(AuthError::NoCredentials)?;
        let (challenge_name, answer_name) = if response.status() == StatusCode::UNAUTHORIZED {
            (HeaderName::WwwAuthenticate, HeaderName::Authorization)
        } else {
            (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            )
        };
        let best = response
            .headers()
            .get_all(challenge_name)
            .filter_map(|value| DigestChallenge::parse(value).ok())
            .filter_map(|c| rank(c.algorithm_or_default()).map(|r| (r, c)))
            .max_by_key(|(r, _)| *r)
            .map(|(_, c)| c)
            .ok_or(AuthError::NoUsableChallenge)?;
        let realm = best.realm.to_string();
        if self.answered.contains(&realm) && !best.stale {
            return Err(AuthError::Rejected);
        }
        if !self.answered.contains(&realm) {
            self.answered.push(realm);
        }
        self.nc = self.nc.wrapping_add(1).max(1);
        let algorithm = best.algorithm_or_default();
        let ha1 = digest::ha1(
            algorithm,
            &credentials.username,
            &best.realm,
            &credentials.password,
        );
        let info = RequestInfo::new(method, uri).with_body(body);
        let cnonce = token::cnonce(rng);
        let answer = best
            .respond(&credentials.username, &ha1, &info, &cnonce, self.nc)
            .map_err(|_| AuthError::NoUsableChallenge)?;
        Ok(AuthHeader {
            name: answer_name,
            value: answer.to_string(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failure is a bug in the test
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use switchboard_proto::digest::{Credentials as Creds, DigestChallenge};
    use switchboard_proto::{Method, RequestBuilder, ResponseBuilder};

    fn challenge_response(status: StatusCode, challenges: &[&str]) -> Response {
        let req = RequestBuilder::new(Method::Register, "sip:example.com")
            .header(HeaderName::Via, "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKx")
            .from("<sip:alice@example.com>", "t")
            .to("<sip:alice@example.com>", None)
            .call_id("c")
            .cseq(1)
            .build()
            .unwrap();
        let name = if status == StatusCode::UNAUTHORIZED {
            HeaderName::WwwAuthenticate
        } else {
            HeaderName::ProxyAuthenticate
        };
        let mut b = ResponseBuilder::from_request(&req, status);
        for c in challenges {
            b = b.header(name, *c);
        }
        b.build().unwrap()
    }

    fn alice() -> Credentials {
        Credentials {
            username: "alice".into(),
            password: "secret".into(),
        }
    }

    #[test]
    fn picks_the_strongest_algorithm_and_verifies() {
        let resp = challenge_response(
            StatusCode::UNAUTHORIZED,
            &[
                r#"Digest realm="example.com", nonce="n1", algorithm=MD5, qop="auth""#,
                r#"Digest realm="example.com", nonce="n1", algorithm=SHA-256, qop="auth""#,
            ],
        );
        let mut client = DigestClient::default();
        let mut rng = StdRng::seed_from_u64(1);
        let h = client
            .answer(
                &resp,
                Some(&alice()),
                "REGISTER",
                "sip:example.com",
                b"",
                &mut rng,
            )
            .unwrap();
        assert_eq!(h.name, HeaderName::Authorization);
        let Creds::Digest(c) = Creds::parse(&h.value).unwrap() else {
            panic!("not digest")
        };
        assert_eq!(c.algorithm_or_default(), Algorithm::Sha256);
        let ha1 = digest::ha1(Algorithm::Sha256, "alice", "example.com", "secret");
        assert!(c.verify("REGISTER", b"", &ha1).unwrap());
        // The same realm challenged again, not stale: the password is wrong.
        assert_eq!(
            client.answer(
                &resp,
                Some(&alice()),
                "REGISTER",
                "sip:example.com",
                b"",
                &mut rng
            ),
            Err(AuthError::Rejected)
        );
    }

    #[test]
    fn proxy_challenge_gets_proxy_authorization_md5() {
        let resp = challenge_response(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            &[r#"Digest realm="p", nonce="n", qop="auth""#],
        );
        let mut rng = StdRng::seed_from_u64(2);
        let h = DigestClient::default()
            .answer(
                &resp,
                Some(&alice()),
                "INVITE",
                "sip:bob@p",
                b"v=0",
                &mut rng,
            )
            .unwrap();
        assert_eq!(h.name, HeaderName::ProxyAuthorization);
        let Creds::Digest(c) = Creds::parse(&h.value).unwrap() else {
            panic!("not digest")
        };
        let ha1 = digest::ha1(Algorithm::Md5, "alice", "p", "secret");
        assert!(c.verify("INVITE", b"v=0", &ha1).unwrap());
    }

    #[test]
    fn stale_nonce_is_answered_again_and_unknown_algorithms_refused() {
        let mut client = DigestClient::default();
        let mut rng = StdRng::seed_from_u64(3);
        let first = challenge_response(
            StatusCode::UNAUTHORIZED,
            &[r#"Digest realm="r", nonce="a", qop="auth""#],
        );
        let stale = challenge_response(
            StatusCode::UNAUTHORIZED,
            &[r#"Digest realm="r", nonce="b", qop="auth", stale=true"#],
        );
        assert!(
            client
                .answer(&first, Some(&alice()), "REGISTER", "sip:r", b"", &mut rng)
                .is_ok()
        );
        assert!(
            client
                .answer(&stale, Some(&alice()), "REGISTER", "sip:r", b"", &mut rng)
                .is_ok()
        );
        let odd = challenge_response(
            StatusCode::UNAUTHORIZED,
            &[r#"Digest realm="r", nonce="a", algorithm=FOO"#],
        );
        assert_eq!(
            DigestClient::default().answer(
                &odd,
                Some(&alice()),
                "REGISTER",
                "sip:r",
                b"",
                &mut rng
            ),
            Err(AuthError::NoUsableChallenge)
        );
        assert_eq!(
            DigestClient::default().answer(&first, None, "REGISTER", "sip:r", b"", &mut rng),
            Err(AuthError::NoCredentials)
        );
        let _ = DigestChallenge::new("x", "y");
    }
}
