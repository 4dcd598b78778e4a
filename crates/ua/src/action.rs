//! What a user-agent state machine asks its driver to do.

use switchboard_core::{Destination, TransactionId};
use switchboard_proto::{Request, Response};

/// A SIP action for the driver: carry it out with the endpoint and feed
/// what comes back (responses, failures) to the same machine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// Send `request` in a new client transaction.
    Send {
        /// The request (the endpoint adds the Via).
        request: Request,
        /// Where to.
        destination: Destination,
    },
    /// Send an ACK for a 2xx outside any transaction; it carries its own
    /// Via.
    SendAck {
        /// The ACK.
        request: Request,
        /// Where to.
        destination: Destination,
    },
    /// Answer server transaction `tx`.
    Respond {
        /// The transaction.
        tx: TransactionId,
        /// The response.
        response: Response,
    },
    /// Cancel our INVITE client transaction (the driver knows its id):
    /// `Endpoint::cancel`.
    CancelInvite,
}
