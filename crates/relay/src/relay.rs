//! The relay machine of one worker: every relayed session, its ports and
//! its timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use rand_core::RngCore;

mod restore;
mod streams;

use crate::port_table::PortTable;
use crate::ports::PortPool;
use crate::session::{Arrival, Outputs, PortOwner, Session};
use crate::{
    Allocation, LegAllocation, LegOffer, RelayConfig, RelayError, RelayEvent, SessionId,
    SessionStats, Side, Transmit,
};

/// The media relay core: datagrams and timeouts in, datagrams and events
/// out, no sockets and no clock (see ARCHITECTURE.md, "The sans-IO
/// contract").
///
/// - Inputs: [`Self::handle_packet`], [`Self::handle_timeout`].
/// - Commands: [`Self::allocate`], [`Self::update`], [`Self::release`].
/// - Outputs: [`Self::poll_transmit`], [`Self::poll_event`],
///   [`Self::poll_timeout`]; drain them after every input or command.
///
/// Each session bridges two legs ([`Side::Offerer`], [`Side::Answerer`]),
/// each with its own ports, latches and SRTP contexts, so plain RTP on one
/// side and SDES-SRTP on the other are decrypted and encrypted here.
pub struct Relay {
    config: RelayConfig,
    rng: Box<dyn RngCore + Send>,
    pool: PortPool,
    owners: PortTable,
    sessions: HashMap<SessionId, Session>,
    /// Media-timeout deadlines, one live per session (`Session::scheduled`;
    /// others are stale and skipped), checked against the session's real
    /// last activity when due.
    deadlines: BinaryHeap<Reverse<(Instant, SessionId)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RelayEvent>,
    unknown_port_drops: u64,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .field("free_port_pairs", &self.pool.free_pairs())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay with no sessions; SDES keys for the relay's side come from `rng`.
    #[must_use]
    pub fn new(config: RelayConfig, rng: Box<dyn RngCore + Send>) -> Self {
        Self {
            pool: PortPool::new(&config.ports),
            owners: PortTable::new(&config.ports),
            config,
            rng,
            sessions: HashMap::new(),
            deadlines: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            unknown_port_drops: 0,
        }
    }

    /// Sets up a session: a port pair for every stream of each leg, and the
    /// relay's SDES keys for SRTP legs. Nothing is taken when it fails.
    ///
    /// # Errors
    ///
    /// [`RelayError::PortsExhausted`] and [`RelayError::TooManySessions`]
    /// when the relay is full; [`RelayError::DuplicateSession`] and
    /// [`RelayError::StreamCount`] for the caller's mistakes.
    pub fn allocate(
        &mut self,
        now: Instant,
        session: SessionId,
        offerer: LegOffer,
        answerer: LegOffer,
    ) -> Result<Allocation, RelayError> {
        if self.sessions.contains_key(&session) {
            return Err(RelayError::DuplicateSession(session));
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(RelayError::TooManySessions(self.config.max_sessions));
        }
        let streams = offerer.streams.len();
        if answerer.streams.len() != streams {
            return Err(RelayError::StreamCount {
                expected: streams,
                got: answerer.streams.len(),
            });
        }
        let needed = streams * 2;
        let ports = self.pool.take(needed).ok_or(RelayError::PortsExhausted {
            needed: needed * 2,
            free: self.pool.free_pairs() * 2,
        })?;
        let (offerer_ports, answerer_ports) = ports.split_at(streams);
        let mut state = Session::new(
            session,
            now,
            [(offerer, offerer_ports), (answerer, answerer_ports)],
            &self.config,
            &mut *self.rng,
        );
        for (side, side_ports) in [
            (Side::Offerer, offerer_ports),
            (Side::Answerer, answerer_ports),
        ] {
            for (stream, port) in side_ports.iter().enumerate() {
                for (rtcp, local) in [(false, *port), (true, port.saturating_add(1))] {
                    self.owners.insert(
                        local,
                        PortOwner {
                            session,
                            side,
                            stream,
                            rtcp,
                        },
                    );
                }
            }
        }
        Self::arm(&mut self.deadlines, &self.config, &mut state);
        let allocation = state.allocation();
        tracing::debug!(%session, streams, "relay session allocated");
        self.sessions.insert(session, state);
        Ok(allocation)
    }

    /// A new SDP from one party (its answer, or a re-INVITE: new addresses,
    /// new keys, hold): its latches start again, and a changed key gets a
    /// new context. Returns that leg's allocation, whose crypto tag now
    /// echoes the party's (for the answer to it).
    ///
    /// # Errors
    ///
    /// [`RelayError::UnknownSession`]; [`RelayError::StreamCount`] when the
    /// SDP has another number of streams (see [`Self::set_streams`]).
    pub fn update(
        &mut self,
        now: Instant,
        session: SessionId,
        side: Side,
        offer: LegOffer,
    ) -> Result<LegAllocation, RelayError> {
        let state = self
            .sessions
            .get_mut(&session)
            .ok_or(RelayError::UnknownSession(session))?;
        if offer.streams.len() != state.stream_count() {
            return Err(RelayError::StreamCount {
                expected: state.stream_count(),
                got: offer.streams.len(),
            });
        }
        let allocation = state.update(now, side, offer, &self.config, &mut *self.rng);
        Self::arm(&mut self.deadlines, &self.config, state);
        Ok(allocation)
    }

    /// Ends a session, frees its ports and returns its counters for the
    /// call record.
    ///
    /// # Errors
    ///
    /// [`RelayError::UnknownSession`].
    pub fn release(&mut self, session: SessionId) -> Result<SessionStats, RelayError> {
        let state = self
            .sessions
            .remove(&session)
            .ok_or(RelayError::UnknownSession(session))?;
        for port in state.ports() {
            self.owners.remove(port);
            self.owners.remove(port.saturating_add(1));
            self.pool.give_back(port);
        }
        tracing::debug!(%session, "relay session released");
        Ok(state.stats())
    }

    /// A live session's ports and keys, as the last command left them (to
    /// anchor the SDP of a re-INVITE).
    #[must_use]
    pub fn allocation(&self, session: SessionId) -> Option<Allocation> {
        self.sessions.get(&session).map(Session::allocation)
    }

    /// The counters of a live session.
    #[must_use]
    pub fn stats(&self, session: SessionId) -> Option<SessionStats> {
        self.sessions.get(&session).map(Session::stats)
    }

    /// Sessions relayed now.
    #[must_use]
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Datagrams dropped because they reached a port of no session.
    #[must_use]
    pub const fn unknown_port_drops(&self) -> u64 {
        self.unknown_port_drops
    }

    /// A datagram read on `local_port` from `source`.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        local_port: u16,
        source: SocketAddr,
        bytes: Bytes,
    ) {
        let Some(owner) = self.owners.get(local_port) else {
            self.unknown_port_drops += 1;
            return;
        };
        let Some(state) = self.sessions.get_mut(&owner.session) else {
            self.unknown_port_drops += 1;
            return;
        };
        let arrival = Arrival {
            now,
            owner,
            source,
            bytes,
        };
        let out = Outputs {
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        state.handle_packet(arrival, &self.config, out);
    }

    /// The deadline from [`Self::poll_timeout`] has passed: report sessions
    /// silent for the media timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, session))) = self.deadlines.peek().copied() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let Some(state) = self.sessions.get_mut(&session) else {
                continue;
            };
            if state.scheduled != Some(deadline) {
                continue; // replaced by an earlier deadline
            }
            state.scheduled = None;
            match state.media_deadline(&self.config) {
                Some(due) if due <= now => {
                    state.timed_out = true;
                    let idle = now.saturating_duration_since(state.last_activity);
                    tracing::info!(%session, ?idle, "media timeout");
                    self.events
                        .push_back(RelayEvent::MediaTimeout { session, idle });
                }
                _ => Self::arm(&mut self.deadlines, &self.config, state),
            }
        }
    }

    /// Puts the session's media-timeout deadline in the heap unless an
    /// earlier one is there, it already timed out, or it is on hold with no
    /// hold timeout.
    fn arm(
        deadlines: &mut BinaryHeap<Reverse<(Instant, SessionId)>>,
        config: &RelayConfig,
        state: &mut Session,
    ) {
        if state.timed_out {
            return;
        }
        let Some(deadline) = state.media_deadline(config) else {
            return;
        };
        // An earlier entry is checked again when due; a later one (an update
        // took the session off hold) is left to be skipped.
        if state
            .scheduled
            .is_some_and(|scheduled| scheduled <= deadline)
        {
            return;
        }
        state.scheduled = Some(deadline);
        deadlines.push(Reverse((deadline, state.id())));
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// When to call [`Self::handle_timeout`] next (it may find nothing due:
    /// deadlines move with traffic and are checked lazily).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines
            .peek()
            .map(|Reverse((deadline, _))| *deadline)
    }
}
