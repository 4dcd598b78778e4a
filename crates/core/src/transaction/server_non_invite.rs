//! Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

use std::net::SocketAddr;

use bytes::Bytes;
use switchboard_proto::Response;

use super::Ctx;
use super::timer::{Timer, TimerTable};
use crate::Destination;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    pub(crate) state: State,
    pub(crate) timers: TimerTable,
    pub(crate) reply_to: Destination,
    /// Our address the request arrived at: responses go out from it.
    local: SocketAddr,
    reliable: bool,
    last_response: Option<Bytes>,
}

impl ServerNonInvite {
    pub(crate) fn new(reply_to: Destination, local: SocketAddr, reliable: bool) -> Self {
        Self {
            state: State::Trying,
            timers: TimerTable::default(),
            reply_to,
            local,
            reliable,
            last_response: None,
        }
    }

    /// The same request again: Trying absorbs it, later states answer with
    /// the last response.
    pub(crate) fn on_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(last) = &self.last_response {
                ctx.send_from(self.local, self.reply_to, last.clone());
            }
        }
    }

    /// The TU's response. Returns false when a final was already sent.
    pub(crate) fn respond(&mut self, ctx: &mut Ctx<'_>, response: &Response) -> bool {
        if !matches!(self.state, State::Trying | State::Proceeding) {
            return false;
        }
        let bytes = response.to_bytes();
        ctx.send_from(self.local, self.reply_to, bytes.clone());
        self.last_response = Some(bytes);
        if response.status().is_provisional() {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            if self.reliable {
                self.terminate();
            } else {
                self.timers.set(Timer::J, ctx.now + ctx.config.t1_64());
            }
        }
        true
    }

    pub(crate) fn on_timer(&mut self, timer: Timer) {
        if (self.state, timer) == (State::Completed, Timer::J) {
            self.terminate();
        }
    }

    pub(crate) fn on_transport_error(&mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timers.clear();
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }
}
