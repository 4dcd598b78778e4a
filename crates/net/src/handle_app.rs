//! The [`Handle`](crate::Handle) API as an [`App`]: it wraps the
//! application the runtime was started with, runs the handles' commands on
//! the driver, and sends the responses and outcomes of the client
//! transactions they started to their
//! [`ClientTransaction`](crate::ClientTransaction)s; every other event goes
//! to the wrapped application.

use std::collections::HashMap;
use std::time::Instant;

use switchboard_core::{Destination, Endpoint, Event, TransactionId};
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::Error;
use crate::app::App;
use crate::driver::{Commanded, Connections};
use crate::handle::{Command, Outcome, RandomKind};

/// Responses buffered per client transaction.
const OUTCOME_QUEUE: usize = 64;

/// The application `A` with the handles' commands on top.
#[derive(Debug)]
pub(crate) struct HandleApp<A> {
    app: A,
    /// Client transactions started through a handle.
    clients: HashMap<TransactionId, mpsc::Sender<Outcome>>,
}

impl<A: App> HandleApp<A> {
    pub(crate) fn new(app: A) -> Self {
        Self {
            app,
            clients: HashMap::new(),
        }
    }

    fn register(&mut self, id: TransactionId) -> (TransactionId, mpsc::Receiver<Outcome>) {
        let (tx, rx) = mpsc::channel(OUTCOME_QUEUE);
        self.clients.insert(id, tx);
        (id, rx)
    }

    fn deliver(&mut self, tx: TransactionId, outcome: Outcome) {
        let Some(sender) = self.clients.get(&tx) else {
            return;
        };
        match sender.try_send(outcome) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(%tx, "client transaction not read, response dropped")
            }
            Err(TrySendError::Closed(_)) => {
                self.clients.remove(&tx);
            }
        }
    }
}

impl<A: App> App for HandleApp<A> {
    type Message = A::Message;

    /// Responses and ends of transactions started through a handle go to
    /// their client transaction; everything else to the application.
    fn on_event(&mut self, now: Instant, endpoint: &mut Endpoint, event: Event) {
        match event {
            Event::Response {
                tx,
                response,
                source,
            } if self.clients.contains_key(&tx) => {
                let outcome = if response.status().is_provisional() {
                    Outcome::Provisional { response, source }
                } else {
                    Outcome::Final { response, source }
                };
                self.deliver(tx, outcome);
            }
            Event::Timeout { tx } if self.clients.contains_key(&tx) => {
                self.deliver(tx, Outcome::Timeout);
            }
            Event::TransportError { tx } if self.clients.contains_key(&tx) => {
                self.deliver(tx, Outcome::TransportError);
            }
            Event::Terminated { tx } if self.clients.remove(&tx).is_some() => {}
            event => self.app.on_event(now, endpoint, event),
        }
    }

    fn on_message(&mut self, now: Instant, endpoint: &mut Endpoint, message: A::Message) {
        self.app.on_message(now, endpoint, message);
    }

    fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        self.app.poll_timeout(now)
    }

    fn handle_timeout(&mut self, now: Instant, endpoint: &mut Endpoint) {
        self.app.handle_timeout(now, endpoint);
    }

    fn timer_fired(&mut self, late: std::time::Duration) {
        self.app.timer_fired(late);
    }

    fn read_backlog(&mut self, now: Instant, datagrams: usize) {
        self.app.read_backlog(now, datagrams);
    }
}

impl<A: App> Commanded for HandleApp<A> {
    type Command = Command;

    fn on_command(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        connections: &mut Connections<'_>,
        command: Command,
    ) {
        match command {
            Command::SendRequest {
                request,
                destination,
                server_name,
                reply,
            } => {
                let result = endpoint
                    .send_request(now, request, destination)
                    .map_err(Error::from)
                    .map(|id| self.register(id));
                // Over TCP, TLS, WS and WSS the driver reuses an open
                // connection to the address or opens one; a new TLS one
                // checks the certificate against the name.
                if let (Ok(_), Some(name), Destination::Address { transport, remote }) =
                    (&result, server_name, destination)
                {
                    connections.verify_name((transport, remote), name);
                }
                let _ = reply.send(result);
            }
            Command::Cancel { tx, reply } => {
                let result = endpoint
                    .cancel(now, tx)
                    .map_err(Error::from)
                    .map(|id| self.register(id));
                let _ = reply.send(result);
            }
            Command::Respond {
                tx,
                response,
                reply,
            } => {
                let _ = reply.send(endpoint.respond(now, tx, response));
            }
            Command::SendStateless {
                message,
                destination,
            } => endpoint.send_stateless(&message, destination),
            Command::Random { kind, reply } => {
                let s = match kind {
                    RandomKind::Branch => endpoint.new_branch(),
                    RandomKind::Tag => endpoint.new_tag(),
                    RandomKind::CallId => endpoint.new_call_id(),
                };
                let _ = reply.send(s);
            }
        }
    }
}
