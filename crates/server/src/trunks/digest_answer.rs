//! The client side of digest authentication: a trunk's credentials
//! answering a provider's 401 or 407 to a request the server sent.

use rand_core::RngCore;
use switchboard_core::token;
use switchboard_proto::digest::{self, DigestChallenge, RequestInfo};
use switchboard_proto::{HeaderName, Response};
use switchboard_routing::Credentials;

use super::error::ChallengeError;

/// The header that answers one challenge, and the nonce it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DigestAnswer {
    /// `Authorization` (401) or `Proxy-Authorization` (407).
    pub(crate) name: HeaderName,
    /// The credentials.
    pub(crate) value: String,
    /// The nonce answered (a second challenge with it means refusal).
    pub(crate) nonce: String,
}

impl DigestAnswer {
    /// Answers `response` (a 401 or 407) to `method` for `uri` with
    /// `credentials`. `answered` is the nonce the challenged request
    /// already answered: the same nonce again without `stale=true` means
    /// the credentials were refused (one retry per challenge).
    pub(crate) fn to(
        response: &Response,
        credentials: Option<&Credentials>,
        method: &str,
        uri: &str,
        answered: Option<&str>,
        rng: &mut dyn RngCore,
    ) -> Result<Self, ChallengeError> {
        let credentials = credentials.ok_or(ChallengeError::NoCredentials)?;
        let (asked, name) = if response.status().as_u16() == 407 {
            (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            )
        } else {
            (HeaderName::WwwAuthenticate, HeaderName::Authorization)
        };
        let challenge = response
            .headers()
            .get_all(asked)
            .filter_map(|v| DigestChallenge::parse(v).ok())
            .find(|c| {
                credentials
                    .realm
                    .as_deref()
                    .is_none_or(|r| r == c.realm.as_ref())
            })
            .ok_or(ChallengeError::NoUsableChallenge)?;
        if answered == Some(challenge.nonce.as_ref()) && !challenge.stale {
            return Err(ChallengeError::Refused);
        }
        let ha1 = digest::ha1(
            challenge.algorithm_or_default(),
            &credentials.username,
            &challenge.realm,
            &credentials.password,
        );
        let cnonce = token::cnonce(rng);
        let value = challenge
            .respond(
                &credentials.username,
                &ha1,
                &RequestInfo::new(method, uri),
                &cnonce,
                1,
            )
            .map_err(|_| ChallengeError::NoUsableChallenge)?
            .to_string();
        Ok(Self {
            name,
            value,
            nonce: challenge.nonce.into_owned(),
        })
    }
}
