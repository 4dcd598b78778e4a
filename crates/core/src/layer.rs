//! The one interface between a transaction user (the server's proxy and
//! service, the user agent) and the transaction layer below it.

use std::time::Instant;

use switchboard_proto::{Message, Request, Response};

use crate::{Destination, Endpoint, RespondError, SendError, TransactionId};

/// The commands a transaction user gives the transaction layer:
/// implemented by [`Endpoint`]; a test double implements it too.
pub trait TransactionLayer {
    /// A fresh random branch, magic cookie included.
    fn new_branch(&mut self) -> String;
    /// A fresh From or To tag.
    fn new_tag(&mut self) -> String;
    /// A fresh Call-ID.
    fn new_call_id(&mut self) -> String;
    /// Sends a request in a new client transaction with a fresh branch
    /// ([`Endpoint::send_request`]).
    fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
    ) -> Result<TransactionId, SendError>;
    /// Sends a request in a new client transaction whose Via carries
    /// `branch` ([`Endpoint::send_request_with_branch`]).
    fn send_request_with_branch(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
        branch: &str,
    ) -> Result<TransactionId, SendError>;
    /// Answers a server transaction ([`Endpoint::respond`]).
    fn respond(
        &mut self,
        now: Instant,
        tx: TransactionId,
        response: Response,
    ) -> Result<(), RespondError>;
    /// Cancels an INVITE client transaction ([`Endpoint::cancel`]).
    fn cancel(&mut self, now: Instant, invite: TransactionId) -> Result<TransactionId, SendError>;
    /// Sends a message outside any transaction ([`Endpoint::send_stateless`]).
    fn send_stateless(&mut self, message: &Message, destination: Destination);
}

impl TransactionLayer for Endpoint {
    fn new_branch(&mut self) -> String {
        Self::new_branch(self)
    }

    fn new_tag(&mut self) -> String {
        Self::new_tag(self)
    }

    fn new_call_id(&mut self) -> String {
        Self::new_call_id(self)
    }

    fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
    ) -> Result<TransactionId, SendError> {
        Self::send_request(self, now, request, destination)
    }

    fn send_request_with_branch(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
        branch: &str,
    ) -> Result<TransactionId, SendError> {
        Self::send_request_with_branch(self, now, request, destination, branch)
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
