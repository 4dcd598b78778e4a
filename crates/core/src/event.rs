//! What the endpoint tells its user (the transaction user, TU).

use switchboard_proto::{Request, Response};

use crate::{Source, TransactionId};

/// An event for the transaction user, from [`crate::Endpoint::poll_event`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A new request: a server transaction was created; answer it with
    /// [`crate::Endpoint::respond`].
    Request {
        /// The server transaction.
        tx: TransactionId,
        /// The request (its top Via carries `received`/`rport` as needed).
        request: Request,
        /// Where it came from.
        source: Source,
    },
    /// An ACK that matches no server transaction: the ACK for a 2xx, which
    /// belongs to the dialog layer (or is forwarded by a proxy).
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: Source,
    },
    /// A CANCEL matched the INVITE server transaction `invite`, which has no
    /// final response yet; the endpoint has answered the CANCEL with 200.
    /// A UAS answers the INVITE with 487 (built from `invite_request`); a
    /// proxy cancels its branches (§16.10).
    Cancelled {
        /// The INVITE server transaction.
        invite: TransactionId,
        /// The CANCEL request.
        request: Request,
        /// The INVITE being cancelled.
        invite_request: Request,
    },
    /// A response for a client transaction (1xx, the final one, and for
    /// INVITE every 2xx, including retransmissions and forks).
    Response {
        /// The client transaction.
        tx: TransactionId,
        /// The response.
        response: Response,
        /// Where it came from.
        source: Source,
    },
    /// A response that matches no client transaction (for instance a 2xx
    /// retransmission after the transaction ended).
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        source: Source,
    },
    /// A client transaction got no final response in time (Timer B or F):
    /// the TU treats it as 408 Request Timeout.
    Timeout {
        /// The client transaction.
        tx: TransactionId,
    },
    /// A client transaction's message could not be delivered (its flow
    /// closed): the TU treats it as 503 Service Unavailable (§8.1.3.1).
    TransportError {
        /// The client transaction.
        tx: TransactionId,
    },
    /// An INVITE server transaction sent a non-2xx final response and no ACK
    /// came (Timer H).
    AckTimeout {
        /// The server transaction.
        tx: TransactionId,
    },
    /// A transaction ended and its id is no longer valid.
    Terminated {
        /// The transaction.
        tx: TransactionId,
    },
}
