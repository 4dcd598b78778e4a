//! The incoming stream of [`start`](crate::start): the events a
//! transaction user gets, and the application that puts them there.

use std::convert::Infallible;
use std::time::Instant;

use switchboard_core::{Endpoint, Event, Source, TransactionId};
use switchboard_proto::{HeaderName, Request, Response, ResponseBuilder, StatusCode};
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::app::App;

/// What the transaction user receives on the incoming stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Incoming {
    /// A new request in server transaction `tx`: answer it with
    /// [`Handle::respond`](crate::Handle::respond). When the stream is full, the runtime answers new
    /// requests with 503 itself.
    Request {
        /// The server transaction.
        tx: TransactionId,
        /// The request (its top Via stamped with `received`/`rport`).
        request: Request,
        /// Where it came from.
        source: Source,
    },
    /// An ACK for a 2xx (it belongs to no transaction).
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        source: Source,
    },
    /// The INVITE in server transaction `invite`, still without a final
    /// response, was cancelled; the CANCEL is answered already. A UAS
    /// answers the INVITE with 487 built from `invite_request`.
    Cancelled {
        /// The INVITE server transaction.
        invite: TransactionId,
        /// The CANCEL.
        request: Request,
        /// The INVITE being cancelled.
        invite_request: Request,
    },
    /// A response that matches no client transaction (a 2xx retransmitted
    /// after its transaction ended, or a response for a request sent
    /// statelessly).
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        source: Source,
    },
    /// An INVITE server transaction sent a non-2xx final response and no
    /// ACK came (Timer H).
    AckTimeout {
        /// The server transaction.
        tx: TransactionId,
    },
}

/// The application behind [`start`](crate::start): every event for the
/// transaction user goes to the [`Incoming`] stream; a request that finds
/// the stream full (or nobody reading it) is answered 503 here.
#[derive(Debug)]
pub(crate) struct ChannelApp {
    pub(crate) incoming: mpsc::Sender<Incoming>,
}

impl ChannelApp {
    fn tell(&self, incoming: Incoming) {
        if let Err(error) = self.incoming.try_send(incoming) {
            tracing::debug!(%error, "incoming event dropped");
        }
    }
}

impl App for ChannelApp {
    type Message = Infallible;

    fn on_event(&mut self, now: Instant, endpoint: &mut Endpoint, event: Event) {
        match event {
            Event::Request {
                tx,
                request,
                source,
            } => match self.incoming.try_send(Incoming::Request {
                tx,
                request,
                source,
            }) {
                Ok(()) => {}
                Err(TrySendError::Full(Incoming::Request { tx, request, .. })) => {
                    tracing::warn!(%tx, "incoming queue full, answering 503");
                    overloaded(now, endpoint, tx, &request);
                }
                Err(TrySendError::Closed(Incoming::Request { tx, request, .. })) => {
                    overloaded(now, endpoint, tx, &request);
                }
                Err(_) => {}
            },
            Event::Ack { request, source } => self.tell(Incoming::Ack { request, source }),
            Event::Cancelled {
                invite,
                request,
                invite_request,
            } => self.tell(Incoming::Cancelled {
                invite,
                request,
                invite_request,
            }),
            Event::StrayResponse { response, source } => {
                self.tell(Incoming::StrayResponse { response, source });
            }
            Event::AckTimeout { tx } => self.tell(Incoming::AckTimeout { tx }),
            _ => {}
        }
    }

    fn on_message(&mut self, _: Instant, _: &mut Endpoint, message: Infallible) {
        match message {}
    }
}

/// Answers a request the transaction user cannot take with 503.
fn overloaded(now: Instant, endpoint: &mut Endpoint, tx: TransactionId, request: &Request) {
    let tag = endpoint.new_tag();
    let retry = endpoint.config().retry_after.to_string();
    let response = ResponseBuilder::from_request(request, StatusCode::SERVICE_UNAVAILABLE)
        .to_tag(&tag)
        .header(HeaderName::RetryAfter, retry)
        .build();
    if let Ok(response) = response {
        let _ = endpoint.respond(now, tx, response);
    }
}
