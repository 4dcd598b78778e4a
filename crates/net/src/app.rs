//! An application that runs on the driver task itself.
//!
//! The [`Handle`](crate::Handle) / [`Incoming`](crate::Incoming) pair
//! costs two task hand-offs per request (driver → application → driver),
//! each a wake-up and, on a multi-threaded runtime, a cross-thread one. A
//! server whose request handling takes microseconds spends more on those
//! hand-offs than on the work. An [`App`] is called by the driver, between its socket
//! reads and its writes, with the [`Endpoint`] in hand: a response is
//! queued in the same pass that read the request, and one drain sends it.
//!
//! What an application must wait for (a database commit on another thread)
//! comes back as an [`App::Message`] through an [`AppSender`]; the driver
//! wakes for it like for a datagram.

use std::time::{Duration, Instant};

use switchboard_core::{Endpoint, Event};
use tokio::sync::mpsc;

/// A transaction user called on the driver task. Every method gets the
/// endpoint: answer with [`Endpoint::respond`], start client transactions
/// with [`Endpoint::send_request`]; the driver sends what they queued when
/// the method returns. Methods must not block: they run between socket
/// reads.
pub trait App: Send + 'static {
    /// What the application's helpers (threads, tasks) send back to it.
    type Message: Send + 'static;

    /// An endpoint event: a request, an ACK, a cancelled INVITE, a stray
    /// response, an ACK timeout, and the responses, timeouts and ends of
    /// client transactions the application started itself (those started
    /// through a [`Handle`](crate::Handle) go to their
    /// [`ClientTransaction`](crate::ClientTransaction)).
    fn on_event(&mut self, now: Instant, endpoint: &mut Endpoint, event: Event);

    /// A message sent through the application's [`AppSender`].
    fn on_message(&mut self, now: Instant, endpoint: &mut Endpoint, message: Self::Message);

    /// When the application next wants [`App::handle_timeout`], asked at
    /// `now` (an answer not after `now` means: at once).
    fn poll_timeout(&self, now: Instant) -> Option<Instant> {
        let _ = now;
        None
    }

    /// Called once `now` has reached [`App::poll_timeout`].
    fn handle_timeout(&mut self, now: Instant, endpoint: &mut Endpoint) {
        let _ = (now, endpoint);
    }

    /// The driver's timer fired `late` after the instant it was armed for
    /// (the driver loop's lag: a busy loop fires its timers late), for the
    /// application's metrics.
    fn timer_fired(&mut self, late: Duration) {
        let _ = late;
    }

    /// A pass of reads on a UDP socket ended at `now` with `datagrams`
    /// read from it since a pass last emptied it, for the application's
    /// overload control. A pass reads at most
    /// [`UDP_READ_BATCH`](crate::UDP_READ_BATCH) and one that reads fewer
    /// emptied the socket: a driver that keeps up reports what came during
    /// its last pass's work; one behind its input reports a count that
    /// grows by a batch each pass for as long as it stays behind.
    fn read_backlog(&mut self, now: Instant, datagrams: usize) {
        let _ = (now, datagrams);
    }
}

/// Sends [`App::Message`]s to an application running on the driver, from
/// any thread. Sending never blocks.
#[derive(Debug)]
pub struct AppSender<M>(mpsc::UnboundedSender<M>);

impl<M> Clone for AppSender<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<M> AppSender<M> {
    /// Queues `message`; `false` when the driver has stopped.
    pub fn send(&self, message: M) -> bool {
        self.0.send(message).is_ok()
    }
}

/// The driver's end of an [`AppSender`].
#[derive(Debug)]
pub struct AppReceiver<M>(pub(crate) mpsc::UnboundedReceiver<M>);

/// A channel to an application: the sender for its helpers, the receiver
/// for [`start_app`](crate::start_app).
#[must_use]
pub fn app_channel<M>() -> (AppSender<M>, AppReceiver<M>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (AppSender(tx), AppReceiver(rx))
}
