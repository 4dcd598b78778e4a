//! Why a URI could not be resolved.

/// Why a URI could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The URI is not a `sip:` or `sips:` URI.
    #[error("not a SIP URI")]
    NotSip,
    /// The `transport=` parameter names a transport we do not have (or UDP
    /// with `sips:`).
    #[error("unsupported transport {0:?}")]
    UnsupportedTransport(String),
    /// No address was found for the host.
    #[error("no address found for {0}")]
    NotFound(String),
    /// The DNS lookup failed.
    #[error("lookup of {name} failed: {source}")]
    Lookup {
        /// The name looked up.
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
