//! The application's side: a cloneable [`Handle`] that sends commands to
//! the driver, and client transactions that yield responses. The commands
//! run on the driver in `handle_app.rs`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use switchboard_core::{Destination, RespondError, Source, TransactionId, Transport};
use switchboard_proto::{Message, Request, Response};
use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::driver::{Control, RuntimeStats};
use crate::resolver::Target;

/// Where a new client transaction's id and outcomes go.
pub(crate) type TxReply = oneshot::Sender<Result<(TransactionId, mpsc::Receiver<Outcome>), Error>>;

/// Which random string a handle asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RandomKind {
    Branch,
    Tag,
    CallId,
}

/// A command from a [`Handle`], run on the driver by the `HandleApp`.
#[derive(Debug)]
pub(crate) enum Command {
    SendRequest {
        request: Request,
        destination: Destination,
        /// For TLS and WSS: the name the peer's certificate must match.
        server_name: Option<String>,
        reply: TxReply,
    },
    Cancel {
        tx: TransactionId,
        reply: TxReply,
    },
    Respond {
        tx: TransactionId,
        response: Response,
        reply: oneshot::Sender<Result<(), RespondError>>,
    },
    SendStateless {
        message: Message,
        destination: Destination,
    },
    Random {
        kind: RandomKind,
        reply: oneshot::Sender<String>,
    },
}

/// What a client transaction yields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Outcome {
    /// A 1xx response.
    Provisional {
        /// The response.
        response: Response,
        /// Where it came from.
        source: Source,
    },
    /// A final response. For INVITE every 2xx (retransmissions, forks) comes
    /// as its own `Final`.
    Final {
        /// The response.
        response: Response,
        /// Where it came from.
        source: Source,
    },
    /// No final response in time (Timer B or F): treat as 408.
    Timeout,
    /// The request could not be delivered (connection failed or closed, or
    /// its keep-alive went unanswered): treat as 503 and try the next
    /// target, as [`crate::FailoverTransaction`] does.
    TransportError,
}

impl Outcome {
    /// The response, for `Provisional` and `Final`.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Self::Provisional { response, .. } | Self::Final { response, .. } => Some(response),
            Self::Timeout | Self::TransportError => None,
        }
    }

    /// Whether the transaction is decided: a final response, a timeout or a
    /// transport error.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Provisional { .. })
    }
}

/// A client transaction: yields its responses and outcome.
#[derive(Debug)]
pub struct ClientTransaction {
    id: TransactionId,
    rx: mpsc::Receiver<Outcome>,
    handle: Handle,
}

impl ClientTransaction {
    pub(crate) fn new(id: TransactionId, rx: mpsc::Receiver<Outcome>, handle: Handle) -> Self {
        Self { id, rx, handle }
    }

    /// The transaction's id.
    pub fn id(&self) -> TransactionId {
        self.id
    }

    /// The next response or outcome; `None` once the transaction has ended
    /// and everything was taken (or the runtime shut down).
    pub async fn next_response(&mut self) -> Option<Outcome> {
        self.rx.recv().await
    }

    /// Skips provisional responses; the final response, timeout or transport
    /// error.
    pub async fn final_outcome(&mut self) -> Option<Outcome> {
        while let Some(outcome) = self.rx.recv().await {
            if outcome.is_final() {
                return Some(outcome);
            }
        }
        None
    }

    /// Cancels this INVITE (RFC 3261 §9.1): sends a CANCEL in its own
    /// transaction, returned here. Allowed once a provisional response came.
    /// The INVITE then gets its final response (487) as usual.
    pub async fn cancel(&self) -> Result<Self, Error> {
        let (reply, rx) = oneshot::channel();
        self.handle
            .command(Command::Cancel { tx: self.id, reply })
            .await?;
        let (id, outcomes) = rx.await.map_err(|_| Error::Closed)??;
        Ok(Self::new(id, outcomes, self.handle.clone()))
    }
}

/// Commands to the runtime. Cheap to clone; the runtime stops when every
/// handle is dropped or on [`Handle::shutdown`].
#[derive(Debug, Clone)]
pub struct Handle {
    control: mpsc::Sender<Control<Command>>,
    local: Arc<[(Transport, SocketAddr)]>,
}

impl Handle {
    pub(crate) fn new(
        control: mpsc::Sender<Control<Command>>,
        local: Arc<[(Transport, SocketAddr)]>,
    ) -> Self {
        Self { control, local }
    }

    async fn control(&self, control: Control<Command>) -> Result<(), Error> {
        self.control.send(control).await.map_err(|_| Error::Closed)
    }

    async fn command(&self, command: Command) -> Result<(), Error> {
        self.control(Control::Command(command)).await
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        self.ask_driver(|reply| Control::Command(make(reply))).await
    }

    async fn ask_driver<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control<Command>,
    ) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.control(make(reply)).await?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Sends `request` in a new client transaction; the endpoint adds the
    /// top Via. Over TCP, TLS, WS and WSS an open connection to the address
    /// is reused, or one is opened first; when that fails the transaction's
    /// outcome is [`Outcome::TransportError`]. A new TLS connection checks
    /// the peer's certificate against the address (see
    /// [`Handle::send_request_to`] for names).
    pub async fn send_request(
        &self,
        request: Request,
        destination: Destination,
    ) -> Result<ClientTransaction, Error> {
        self.send(request, destination, None).await
    }

    /// Sends `request` to a target found by the [`crate::resolver`]: like
    /// [`Handle::send_request`], and a new TLS or WSS connection checks the
    /// peer's certificate against the target's host name.
    pub async fn send_request_to(
        &self,
        request: Request,
        target: &Target,
    ) -> Result<ClientTransaction, Error> {
        let name = (target.host.parse::<IpAddr>().is_err() && !target.host.is_empty())
            .then(|| target.host.clone());
        self.send(request, target.destination(), name).await
    }

    async fn send(
        &self,
        request: Request,
        destination: Destination,
        server_name: Option<String>,
    ) -> Result<ClientTransaction, Error> {
        let (id, rx) = self
            .ask(|reply| Command::SendRequest {
                request,
                destination,
                server_name,
                reply,
            })
            .await??;
        Ok(ClientTransaction::new(id, rx, self.clone()))
    }

    /// Sends `response` in server transaction `tx`.
    pub async fn respond(&self, tx: TransactionId, response: Response) -> Result<(), Error> {
        self.ask(|reply| Command::Respond {
            tx,
            response,
            reply,
        })
        .await?
        .map_err(Error::from)
    }

    /// Sends a message outside any transaction (the ACK for a 2xx, a
    /// statelessly forwarded message).
    pub async fn send_stateless(
        &self,
        message: Message,
        destination: Destination,
    ) -> Result<(), Error> {
        self.command(Command::SendStateless {
            message,
            destination,
        })
        .await
    }

    /// A fresh RFC 3261 branch.
    pub async fn new_branch(&self) -> Result<String, Error> {
        self.ask(|reply| Command::Random {
            kind: RandomKind::Branch,
            reply,
        })
        .await
    }

    /// A fresh From/To tag.
    pub async fn new_tag(&self) -> Result<String, Error> {
        self.ask(|reply| Command::Random {
            kind: RandomKind::Tag,
            reply,
        })
        .await
    }

    /// A fresh Call-ID.
    pub async fn new_call_id(&self) -> Result<String, Error> {
        self.ask(|reply| Command::Random {
            kind: RandomKind::CallId,
            reply,
        })
        .await
    }

    /// The bound address of the first listener of `transport`.
    pub fn local_addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.local
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
    }

    /// Every listener's bound address, in configuration order.
    pub fn local_addrs(&self) -> &[(Transport, SocketAddr)] {
        &self.local
    }

    /// Counters.
    pub async fn stats(&self) -> Result<RuntimeStats, Error> {
        self.ask_driver(|reply| Control::Stats { reply }).await
    }

    /// Stops the listeners, closes every connection and ends the driver;
    /// returns once the runtime's tasks have ended. Client transactions then
    /// yield `None` and the incoming stream ends.
    pub async fn shutdown(&self) {
        let _ = self.ask_driver(|reply| Control::Shutdown { reply }).await;
    }
}
