//! Why the server could not answer a provider's digest challenge.

/// A 401/407 the server's credentials cannot answer: the provider's
/// configuration or the trunk's credentials are at fault, and the
/// request fails with the challenge's status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The trunk has no credentials to answer with.
    #[error("challenged, but the trunk has no credentials")]
    NoCredentials,
    /// No Digest challenge the server can answer (unknown scheme or
    /// algorithm, another realm than the credentials are for).
    #[error("no digest challenge the credentials can answer")]
    NoUsableChallenge,
    /// The provider challenged the answer to its own nonce again, without
    /// `stale=true`: the credentials were refused.
    #[error("credentials refused (challenged again with the same nonce)")]
    Refused,
}
