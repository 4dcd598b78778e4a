//! HTTP Digest access authentication for SIP (RFC 2617, RFC 7616, RFC 8760).
//!
//! Two halves, both sans-IO (no clock, no randomness: nonces and cnonces
//! are passed in) and panic-free on any input:
//!
//! * **Math** — [`ha1`], [`session_ha1`], [`ha2`], [`ha2_auth_int`],
//!   [`response`], [`response_without_qop`], [`userhash`] and the
//!   constant-time [`verify`], for every [`Algorithm`] (MD5, SHA-256,
//!   SHA-512/256 and their `-sess` variants).
//! * **Header values** — [`Challenge`] / [`DigestChallenge`]
//!   (WWW-Authenticate, Proxy-Authenticate), [`Credentials`] /
//!   [`DigestCredentials`] (Authorization, Proxy-Authorization) and
//!   [`AuthenticationInfo`] (Authentication-Info,
//!   Proxy-Authentication-Info): parsed from and printed to the header
//!   value (the text after `Name:`). Parsed values borrow from the input
//!   where no unescaping was needed; `into_owned` detaches them.
//!
//! # Storing HA1, not passwords
//!
//! A server stores, per user and hash function, `HA1 =
//! H(username:realm:password)` ([`ha1`]) and never the password. The `-sess`
//! variants use the same stored value ([`Algorithm::base`]), so SHA-256 and
//! SHA-256-sess share one HA1. Everything that checks or produces a digest
//! takes this stored HA1.
//!
//! # Server
//!
//! ```
//! # use switchboard_proto::digest as digest;
//! use digest::{Algorithm, Credentials, DigestChallenge, Qop};
//!
//! // Provisioning: store HA1 instead of the password.
//! let stored = digest::ha1(Algorithm::Sha256, "alice", "example.com", "secret");
//!
//! // 401/407 challenge; the nonce comes from the caller's nonce source.
//! let mut challenge = DigestChallenge::new("example.com", "4e2c0fd8b1a9");
//! challenge.algorithm = Some(Algorithm::Sha256);
//! challenge.qop = vec![Qop::Auth];
//! let www_authenticate = challenge.to_string();
//! assert_eq!(
//!     www_authenticate,
//!     r#"Digest realm="example.com", nonce="4e2c0fd8b1a9", algorithm=SHA-256, qop="auth""#
//! );
//!
//! // The retried REGISTER carries an Authorization header.
//! # let request = digest::RequestInfo::new("REGISTER", "sip:example.com");
//! # let authorization = challenge.respond("alice", &stored, &request, "0a4f113b", 1)?.to_string();
//! match Credentials::parse(&authorization)? {
//!     Credentials::Digest(credentials) => {
//!         // Look up `stored` by credentials.username / realm / algorithm,
//!         // check the nonce, nc and uri, then:
//!         assert!(credentials.verify("REGISTER", b"", &stored)?);
//!     }
//!     Credentials::Other { .. } => { /* unknown scheme: challenge again */ }
//! }
//! # Ok::<(), digest::DigestError>(())
//! ```
//!
//! # Client
//!
//! ```
//! # use switchboard_proto::digest as digest;
//! use digest::{DigestChallenge, RequestInfo};
//!
//! let challenge = DigestChallenge::parse(
//!     r#"Digest realm="atlanta.com", nonce="84a4cc6f3082121f32b42a2187831a9e", qop="auth""#,
//! )?;
//! let ha1 = digest::ha1(challenge.algorithm_or_default(), "bob", &challenge.realm, "zanzibar");
//! let request = RequestInfo::new("REGISTER", "sip:atlanta.com");
//! let credentials = challenge.respond("bob", &ha1, &request, "0a4f113b", 1)?;
//! assert!(credentials.to_string().starts_with(r#"Digest username="bob", realm="atlanta.com""#));
//! # Ok::<(), digest::DigestError>(())
//! ```
//!
//! # Not done here
//!
//! Nonce generation, expiry and replay protection (tracking `nc` per
//! nonce), checking that `uri` matches the Request-URI, and choosing which
//! challenges to send all need state, a clock or a policy and belong to
//! the caller.

mod algorithm;
mod auth_param;
mod auth_value;
mod authentication_info;
mod digest_challenge;
mod digest_credentials;
mod error;
mod math;
mod qop;
mod request_info;
mod syntax;

#[cfg(test)]
mod tests;

pub use algorithm::Algorithm;
pub use auth_param::AuthParam;
pub use auth_value::{AuthValue, Challenge, Credentials, DigestParams};
pub use authentication_info::AuthenticationInfo;
pub use digest_challenge::DigestChallenge;
pub use digest_credentials::DigestCredentials;
pub use error::DigestError;
pub use math::{
    ha1, ha2, ha2_auth_int, response, response_without_qop, session_ha1, userhash, verify,
};
pub use qop::Qop;
pub use request_info::RequestInfo;

/// Longest header value, in bytes, that the parsers accept. Real digest
/// headers are a few hundred bytes; the limit bounds the work done for a
/// hostile peer.
pub const MAX_HEADER_LEN: usize = 16 * 1024;

/// Most auth-params accepted in one header value.
pub const MAX_PARAMS: usize = 64;

/// The scheme name, as printed.
const DIGEST_SCHEME: &str = "Digest";
