//! Errors of the endpoint's commands. All of them are faults of the caller
//! or of local limits; peers' faults never surface as errors (they are
//! answered or dropped).

use crate::TransactionId;

/// Why [`crate::Endpoint::send_request`] or [`crate::Endpoint::cancel`]
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The transaction limit is reached.
    #[error("too many transactions (limit {0})")]
    TooManyTransactions(usize),
    /// The message is larger than the configured limit.
    #[error("message of {0} octets exceeds the limit")]
    TooLarge(usize),
    /// ACK is never sent in a transaction: use `send_stateless`.
    #[error("ACK is sent without a transaction")]
    AckInTransaction,
    /// No Via address is configured for this transport.
    #[error("no local address for the transport")]
    NoLocalAddress,
    /// The transaction to cancel does not exist, is not an INVITE client
    /// transaction, or got no provisional response yet (§9.1).
    #[error("transaction {0:?} cannot be cancelled now")]
    NotCancellable(TransactionId),
    /// The request could not be rebuilt with the new Via.
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// Why [`crate::Endpoint::respond`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// No such server transaction (it ended, or the id is a client one).
    #[error("no server transaction {0:?}")]
    UnknownTransaction(TransactionId),
    /// The transaction already sent a final response.
    #[error("transaction {0:?} already has a final response")]
    AlreadyFinal(TransactionId),
}
