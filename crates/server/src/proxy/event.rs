//! What the proxy asks of the application, and what it tells it.

use super::call_update::CallUpdate;

/// Names one pending resolution, to answer with
/// [`super::Proxy::resolved`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResolveId(pub(crate) u64);

/// Something the application must do for the proxy, from
/// [`super::Proxy::poll_event`].
// Call updates are the common event and short-lived (drained after each
// input): boxing them would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
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
    /// A call the proxy routes changed state (for busy-lamp fields and
    /// pickup): nothing to answer.
    Call(CallUpdate),
}
