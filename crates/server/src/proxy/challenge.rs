//! Answering a provider's digest challenge (401/407) for a branch that
//! carries credentials (a trunk's account), RFC 3261 §22.2-22.3.

use switchboard_proto::digest::{DigestChallenge, RequestInfo, ha1};
use switchboard_proto::{HeaderName, Request, Response};
use switchboard_routing::Credentials;

/// The header that answers the challenge in `response` to `request`:
/// `Authorization` for a 401, `Proxy-Authorization` for a 407, from the
/// first digest challenge for the credentials' realm (any realm when they
/// name none). `None` when there is no such challenge.
pub(crate) fn authorization(
    response: &Response,
    request: &Request,
    credentials: &Credentials,
    cnonce: &str,
) -> Option<(HeaderName, String)> {
    let (challenge_header, answer_header) = match response.status().as_u16() {
        401 => (HeaderName::WwwAuthenticate, HeaderName::Authorization),
        407 => (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        ),
        _ => return None,
    };
    let challenge = response
        .headers()
        .get_all(challenge_header)
        .filter_map(|value| DigestChallenge::parse(value).ok())
        .find(|c| {
            credentials
                .realm
                .as_deref()
                .is_none_or(|realm| realm == c.realm.as_ref())
        })?;
    let algorithm = challenge.algorithm_or_default();
    let stored = ha1(
        algorithm,
        &credentials.username,
        &challenge.realm,
        &credentials.password,
    );
    let uri = request.uri_str();
    let info = RequestInfo::new(request.method().as_str(), uri).with_body(request.body());
    match challenge.respond(&credentials.username, &stored, &info, cnonce, 1) {
        Ok(answer) => Some((answer_header, answer.to_string())),
        Err(error) => {
            tracing::debug!(%error, "challenge not answered");
            None
        }
    }
}
