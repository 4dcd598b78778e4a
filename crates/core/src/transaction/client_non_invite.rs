//! Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

use std::time::Duration;

use bytes::Bytes;
use switchboard_proto::Response;

use super::Ctx;
use super::timer::{Timer, TimerTable};
use crate::{Destination, Event, Source, TransactionId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    pub(crate) id: TransactionId,
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    /// The request as sent, for Timer E retransmissions until a final
    /// response; Completed (Timer K) only absorbs responses.
    bytes: Option<Bytes>,
    pub(crate) destination: Destination,
    reliable: bool,
    interval_e: Duration,
}

impl ClientNonInvite {
    pub(crate) fn start(
        ctx: &mut Ctx<'_>,
        id: TransactionId,
        bytes: Bytes,
        destination: Destination,
        reliable: bool,
    ) -> Self {
        let mut tx = Self {
            id,
            state: State::Trying,
            timers: TimerTable::default(),
            bytes: Some(bytes.clone()),
            destination,
            reliable,
            interval_e: ctx.config.t1,
        };
        ctx.send(destination, bytes);
        if !reliable {
            tx.timers.set(Timer::E, ctx.now + tx.interval_e);
        }
        tx.timers.set(Timer::F, ctx.now + ctx.config.t1_64());
        tx
    }

    pub(crate) fn on_response(&mut self, ctx: &mut Ctx<'_>, response: Response, source: Source) {
        if !matches!(self.state, State::Trying | State::Proceeding) {
            return; // Completed absorbs retransmitted finals.
        }
        if response.status().is_provisional() {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            self.bytes = None;
            self.timers.stop(Timer::E);
            self.timers.stop(Timer::F);
            if self.reliable {
                self.terminate();
            } else {
                self.timers.set(Timer::K, ctx.now + ctx.config.t4);
            }
        }
        ctx.event(Event::Response {
            tx: self.id,
            response,
            source,
        });
    }

    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        match (self.state, timer) {
            (State::Trying | State::Proceeding, Timer::E) => {
                if let Some(bytes) = &self.bytes {
                    ctx.send(self.destination, bytes.clone());
                }
                // Trying doubles up to T2; Proceeding retransmits every T2.
                self.interval_e = match self.state {
                    State::Trying => (self.interval_e * 2).min(ctx.config.t2),
                    _ => ctx.config.t2,
                };
                self.timers.set(Timer::E, ctx.now + self.interval_e);
            }
            (State::Trying | State::Proceeding, Timer::F) => {
                ctx.event(Event::Timeout { tx: self.id });
                self.terminate();
            }
            (State::Completed, Timer::K) => self.terminate(),
            _ => {}
        }
    }

    pub(crate) fn on_transport_error(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(self.state, State::Trying | State::Proceeding) {
            ctx.event(Event::TransportError { tx: self.id });
        }
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.clear();
        self.bytes = None;
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
