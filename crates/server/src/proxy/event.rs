//! What the proxy asks of the application.

/// Names one pending resolution, to answer with
/// [`super::Proxy::resolved`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResolveId(pub(crate) u64);

/// Something the application must do for the proxy, from
/// [`super::Proxy::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyEvent {
    /// The next hop is a host name: resolve `uri` (RFC 3263) and answer
    /// with [`super::Proxy::resolved`]: every target in order, the later
    /// ones tried when one fails (RFC 3263 §4.3); none fails the branch as
    /// a 503 would.
    Resolve {
        /// Which resolution.
        id: ResolveId,
        /// The URI to resolve (a Route or the target).
        uri: String,
    },
}
