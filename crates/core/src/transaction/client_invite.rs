//! INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with RFC 6026's
//! Accepted state).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use switchboard_proto::{HeaderName, Request, Response};

use super::Ctx;
use super::invite_fields::InviteFields;
use super::timer::{Timer, TimerTable};
use crate::{Destination, Event, Source, TransactionId, Transmit};

/// Timer D for unreliable transports: "at least 32 seconds" (§17.1.1.2).
pub(crate) const TIMER_D: Duration = Duration::from_secs(32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Calling,
    Proceeding,
    Completed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ClientInvite {
    pub(crate) id: TransactionId,
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    /// What CANCEL and ACK need of the INVITE, until a final response.
    /// Boxed, so Accepted and Completed (32 s) do not carry its size.
    pub(crate) fields: Option<Box<InviteFields>>,
    /// The INVITE as sent, for Timer A retransmissions in Calling only.
    bytes: Option<Bytes>,
    pub(crate) destination: Destination,
    reliable: bool,
    interval_a: Duration,
    ack: Option<Bytes>,
}

impl ClientInvite {
    pub(crate) fn start(
        ctx: &mut Ctx<'_>,
        id: TransactionId,
        request: Request,
        bytes: Bytes,
        destination: Destination,
        reliable: bool,
    ) -> Self {
        let mut tx = Self {
            id,
            state: State::Calling,
            timers: TimerTable::default(),
            fields: InviteFields::of(&request).map(Box::new),
            bytes: Some(bytes.clone()),
            destination,
            reliable,
            interval_a: ctx.config.t1,
            ack: None,
        };
        ctx.send(destination, bytes);
        if !reliable {
            tx.timers.set(Timer::A, ctx.now + tx.interval_a);
        }
        tx.timers.set(Timer::B, ctx.now + ctx.config.t1_64());
        tx
    }

    pub(crate) fn on_response(&mut self, ctx: &mut Ctx<'_>, response: Response, source: Source) {
        let code = response.status().as_u16();
        match (self.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.bytes = None;
                self.timers.stop(Timer::A);
                self.timers.stop(Timer::B);
                ctx.event(Event::Response {
                    tx: self.id,
                    response,
                    source,
                });
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.enter_accepted(ctx);
                ctx.event(Event::Response {
                    tx: self.id,
                    response,
                    source,
                });
            }
            (State::Calling | State::Proceeding, _) => {
                let ack = self.build_ack(&response);
                if let Some(ack) = &ack {
                    ctx.send(self.destination, ack.clone());
                }
                self.ack = ack;
                self.state = State::Completed;
                self.timers.clear();
                self.forget_request();
                if self.reliable {
                    self.state = State::Terminated;
                } else {
                    self.timers.set(Timer::D, ctx.now + TIMER_D);
                }
                ctx.event(Event::Response {
                    tx: self.id,
                    response,
                    source,
                });
            }
            (State::Accepted, 200..=299) => {
                // 2xx retransmissions and 2xx from other forks go to the TU.
                ctx.event(Event::Response {
                    tx: self.id,
                    response,
                    source,
                });
            }
            (State::Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    ctx.send(self.destination, ack.clone());
                }
            }
            _ => {}
        }
    }

    fn enter_accepted(&mut self, ctx: &mut Ctx<'_>) {
        self.state = State::Accepted;
        self.timers.clear();
        self.forget_request();
        self.timers.set(Timer::M, ctx.now + ctx.config.t1_64());
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match (self.state, timer) {
            (State::Calling, Timer::A) => {
                if let Some(bytes) = &self.bytes {
                    ctx.send(self.destination, bytes.clone());
                }
                self.interval_a *= 2;
                self.timers.set(Timer::A, ctx.now + self.interval_a);
            }
            // B in Proceeding is only armed by a CANCEL (§9.1: 64*T1).
            (State::Calling | State::Proceeding, Timer::B) => {
                ctx.event(Event::Timeout { tx: self.id });
                self.terminate();
            }
            (State::Completed, Timer::D) | (State::Accepted, Timer::M) => self.terminate(),
            _ => {}
        }
    }

    pub(crate) fn on_transport_error(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(self.state, State::Calling | State::Proceeding) {
            ctx.event(Event::TransportError { tx: self.id });
        }
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.clear();
        self.forget_request();
    }

    /// After a final response nothing is retransmitted, cancelled or ACKed
    /// from the request any more; Accepted and Completed last 32 s, so
    /// they keep only what absorbing responses needs.
    fn forget_request(&mut self) {
        self.fields = None;
        self.bytes = None;
    }

    /// The ACK for a non-2xx final response (§17.1.1.3).
    fn build_ack(&self, response: &Response) -> Option<Bytes> {
        let to = response.headers().get(HeaderName::To)?;
        let ack = self.fields.as_ref()?.ack(to).ok()?;
        Some(ack.to_bytes())
    }

    /// A CANCEL was sent: without a final response within 64*T1 the
    /// transaction ends (RFC 3261 §9.1).
    pub(crate) fn on_cancel_sent(&mut self, ctx: &Ctx<'_>) {
        if self.state == State::Proceeding {
            self.timers.set(Timer::B, ctx.now + ctx.config.t1_64());
        }
    }

    pub(crate) fn can_cancel(&self) -> bool {
        self.state == State::Proceeding
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}

impl Ctx<'_> {
    /// Sends a request; the driver picks our address.
    pub(crate) fn send(&mut self, destination: Destination, bytes: Bytes) {
        self.transmits.push_back(Transmit {
            destination,
            local: None,
            bytes,
        });
    }

    /// Sends a response from `local`, the address its request arrived at.
    pub(crate) fn send_from(&mut self, local: SocketAddr, destination: Destination, bytes: Bytes) {
        self.transmits.push_back(Transmit {
            destination,
            local: Some(local),
            bytes,
        });
    }

    pub(crate) fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }
}
