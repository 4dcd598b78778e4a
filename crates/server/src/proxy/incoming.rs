//! A request the proxy accepted (§16.3) and pre-processed (§16.4), waiting
//! for the application's targets.

use switchboard_core::{Source, TransactionId};
use switchboard_proto::Request;

use super::target::Target;

/// A request ready to be forwarded: give it to [`super::Proxy::forward`]
/// with its targets, or answer it with [`super::Proxy::reply`].
#[derive(Debug, Clone)]
pub struct Incoming {
    pub(crate) tx: TransactionId,
    pub(crate) request: Request,
    pub(crate) source: Source,
    pub(crate) loop_hash: String,
    pub(crate) for_us: bool,
    /// The server transaction's Call-ID when the request came from a
    /// carrier's translated leg (the request carries the caller's now).
    pub(crate) upstream: Option<String>,
    /// The carrier's Call-ID and CSeq delta when the request goes on to a
    /// carrier's translated leg.
    pub(crate) outbound: Option<(String, u32)>,
}

impl Incoming {
    /// The server transaction.
    pub fn tx(&self) -> TransactionId {
        self.tx
    }

    /// The request after Route processing: our own Route entries are gone,
    /// and a Request-URI a strict router rewrote is restored.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Where it came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The Request-URI names this server or one of its domains and no
    /// Route is left: the application finds the targets (location service,
    /// dial plan) or answers itself (OPTIONS to the server, 404, 480).
    /// Otherwise the request is on its way elsewhere (a Route remains, or
    /// the Request-URI is another domain's): forward it to
    /// [`Incoming::request_uri_target`] (or refuse to relay).
    pub fn is_for_us(&self) -> bool {
        self.for_us
    }

    /// The Request-URI as the only target (§16.5 for requests the proxy is
    /// not responsible for: in-dialog requests, other domains).
    pub fn request_uri_target(&self) -> Target {
        Target::new(self.request.uri_str())
    }
}
