//! The transaction layer the user agent sends through.

use std::time::Instant;

use switchboard_core::{Destination, Endpoint, RespondError, SendError, TransactionId};
use switchboard_proto::{Message, Request, Response};

/// What [`crate::UserAgent`] needs from the transaction layer below it:
/// the four commands of [`Endpoint`] a user agent uses. The endpoint
/// implements it; a test may put a recorder in its place.
pub trait TransactionLayer {
    /// Sends `request` in a new client transaction
    /// ([`Endpoint::send_request`]): the layer adds the Via.
    ///
    /// # Errors
    ///
    /// When the request cannot be sent (see [`SendError`]).
    fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
    ) -> Result<TransactionId, SendError>;

    /// Answers server transaction `tx` ([`Endpoint::respond`]).
    ///
    /// # Errors
    ///
    /// When the transaction is gone or already answered finally.
    fn respond(
        &mut self,
        now: Instant,
        tx: TransactionId,
        response: Response,
    ) -> Result<(), RespondError>;

    /// Cancels an INVITE client transaction ([`Endpoint::cancel`]).
    ///
    /// # Errors
    ///
    /// When the transaction cannot be cancelled (yet).
    fn cancel(&mut self, now: Instant, invite: TransactionId) -> Result<TransactionId, SendError>;

    /// Sends a message outside any transaction, the ACK for a 2xx
    /// ([`Endpoint::send_stateless`]).
    fn send_stateless(&mut self, message: &Message, destination: Destination);
}

impl TransactionLayer for Endpoint {
    fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
    ) -> Result<TransactionId, SendError> {
        Self::send_request(self, now, request, destination)
    }

    fn respond(
        &mut self,
        now: Instant,
        tx: TransactionId,
        response: Response,
    ) -> Result<(), RespondError> {
        Self::respond(self, now, tx, response)
    }

    fn cancel(&mut self, now: Instant, invite: TransactionId) -> Result<TransactionId, SendError> {
        Self::cancel(self, now, invite)
    }

    fn send_stateless(&mut self, message: &Message, destination: Destination) {
        Self::send_stateless(self, message, destination);
    }
}
