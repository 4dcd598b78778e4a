//! Errors of the proxy's commands: the application's mistakes or local
//! failures. What peers do wrong is answered (see [`super::Rejection`]).

use switchboard_core::{RespondError, TransactionId};
use switchboard_proto::BuildError;

/// Why a proxy command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The server transaction is already being proxied.
    #[error("server transaction {0} is already proxied")]
    AlreadyProxied(TransactionId),
    /// The request is not waiting after [`super::ProxyEvent::Exhausted`]
    /// (answered, cancelled by the caller, or never held).
    #[error("server transaction {0} is not held after its targets were exhausted")]
    NotHeld(TransactionId),
    /// The endpoint refused the answer.
    #[error(transparent)]
    Respond(#[from] RespondError),
    /// A response could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
}
