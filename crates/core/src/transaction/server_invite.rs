//! INVITE server transaction (RFC 3261 §17.2.1, Figure 7, with RFC 6026's
//! Accepted state).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use switchboard_proto::{Request, Response, ResponseBuilder, StatusCode};

use super::Ctx;
use super::timer::{Timer, TimerTable};
use crate::{Destination, Event, TransactionId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ServerInvite {
    pub(crate) id: TransactionId,
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    /// The request, kept to build the automatic 100 Trying, until the
    /// final response; boxed, so the 32 s after it do not carry its size.
    request: Option<Box<Request>>,
    pub(crate) reply_to: Destination,
    /// Our address the request arrived at: responses go out from it.
    local: SocketAddr,
    reliable: bool,
    last_response: Option<Bytes>,
    interval_g: Duration,
    /// The To tag of the responses sent, for the 200 to a CANCEL (§9.2).
    pub(crate) to_tag: Option<Box<str>>,
}

impl ServerInvite {
    pub(crate) fn new(
        ctx: &mut Ctx<'_>,
        id: TransactionId,
        request: Request,
        reply_to: Destination,
        local: SocketAddr,
        reliable: bool,
    ) -> Self {
        let mut tx = Self {
            id,
            state: State::Proceeding,
            timers: TimerTable::default(),
            request: Some(Box::new(request)),
            reply_to,
            local,
            reliable,
            last_response: None,
            interval_g: ctx.config.t1,
            to_tag: None,
        };
        tx.timers
            .set(Timer::Trying, ctx.now + ctx.config.trying_delay);
        tx
    }

    /// The same INVITE again.
    pub(crate) fn on_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(last) = &self.last_response {
                ctx.send_from(self.local, self.reply_to, last.clone());
            }
        }
    }

    /// An ACK with this transaction's branch (the ACK for a non-2xx final).
    pub(crate) fn on_ack(&mut self, ctx: &mut Ctx<'_>) {
        if self.state == State::Completed {
            self.state = State::Confirmed;
            self.timers.clear();
            if self.reliable {
                self.terminate();
            } else {
                self.timers.set(Timer::I, ctx.now + ctx.config.t4);
            }
        }
    }

    /// The TU's response. Returns false when a final was already sent.
    pub(crate) fn respond(&mut self, ctx: &mut Ctx<'_>, response: &Response) -> bool {
        let bytes = response.to_bytes();
        let code = response.status().as_u16();
        if self.to_tag.is_none() {
            self.to_tag = response.headers().to_tag().map(Box::from);
        }
        match (self.state, code) {
            (State::Proceeding, 100..=199) => {
                self.timers.stop(Timer::Trying);
                ctx.send_from(self.local, self.reply_to, bytes.clone());
                self.last_response = Some(bytes);
            }
            (State::Proceeding, 200..=299) => {
                ctx.send_from(self.local, self.reply_to, bytes);
                self.state = State::Accepted;
                self.timers.clear();
                self.timers.set(Timer::L, ctx.now + ctx.config.t1_64());
                // Accepted leaves retransmitted INVITEs to the TU's 2xx
                // retransmissions: neither the request nor the 100 Trying
                // is sent again during its 32 s.
                self.request = None;
                self.last_response = None;
            }
            (State::Accepted, 200..=299) => ctx.send_from(self.local, self.reply_to, bytes),
            (State::Proceeding, _) => {
                ctx.send_from(self.local, self.reply_to, bytes.clone());
                self.last_response = Some(bytes);
                self.state = State::Completed;
                self.timers.clear();
                if !self.reliable {
                    self.timers.set(Timer::G, ctx.now + self.interval_g);
                }
                self.timers.set(Timer::H, ctx.now + ctx.config.t1_64());
                self.request = None;
            }
            _ => return false,
        }
        true
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match (self.state, timer) {
            (State::Proceeding, Timer::Trying) => {
                let trying = self.request.as_ref().and_then(|r| {
                    ResponseBuilder::from_request(r, StatusCode::TRYING)
                        .build()
                        .ok()
                });
                if let Some(trying) = trying {
                    let bytes = trying.to_bytes();
                    ctx.send_from(self.local, self.reply_to, bytes.clone());
                    self.last_response = Some(bytes);
                }
            }
            (State::Completed, Timer::G) => {
                if let Some(last) = &self.last_response {
                    ctx.send_from(self.local, self.reply_to, last.clone());
                }
                self.interval_g = (self.interval_g * 2).min(ctx.config.t2);
                self.timers.set(Timer::G, ctx.now + self.interval_g);
            }
            (State::Completed, Timer::H) => {
                ctx.event(Event::AckTimeout { tx: self.id });
                self.terminate();
            }
            (State::Confirmed, Timer::I) | (State::Accepted, Timer::L) => self.terminate(),
            _ => {}
        }
    }

    /// The INVITE, while no final response was sent.
    pub(crate) fn pending_request(&self) -> Option<&Request> {
        self.request.as_deref()
    }

    pub(crate) fn on_transport_error(&mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.clear();
        self.request = None;
        self.last_response = None;
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
