//! The relay machine of one worker: every relayed session, its ports and
//! its timers.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand_core::RngCore;
use switchboard_proto::sdp::SessionDescription;

mod restore;
mod streams;

use crate::port_table::PortTable;
use crate::ports::PortPool;
use crate::session::{Arrival, Outputs, PortOwner, Session};
use crate::webrtc::{Drained, WebRtcError, WebRtcLeg};
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
/// side and SDES-SRTP on the other are decrypted and encrypted here; a
/// WebRTC leg has a str0m `Rtc` of its own (ICE-lite, DTLS-SRTP), whose
/// timeouts are part of [`Self::poll_timeout`].
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
    /// The WebRTC legs' timeouts, kept the same way (`Session::rtc_scheduled`).
    rtc_deadlines: BinaryHeap<Reverse<(Instant, SessionId)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RelayEvent>,
    unknown_port_drops: u64,
    /// Datagrams sent on to the other leg since start.
    relayed: u64,
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
            rtc_deadlines: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            unknown_port_drops: 0,
            relayed: 0,
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

    /// Datagrams forwarded from one leg to the other since start (every
    /// session's, released ones included).
    #[must_use]
    pub const fn packets_relayed(&self) -> u64 {
        self.relayed
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
        let queued = self.transmits.len();
        let out = Outputs {
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        state.handle_packet(arrival, &self.config, out);
        self.relayed += self.transmits.len().saturating_sub(queued) as u64;
        Self::arm_rtc(&mut self.rtc_deadlines, state, None);
    }

    /// The browser's offer (`UDP/TLS/RTP/SAVPF`, initial or re-INVITE) to
    /// the WebRTC leg `side`: str0m answers it with ICE-lite, its DTLS
    /// fingerprint, `local_ip` and the leg's first port as the one
    /// candidate, rtcp-mux, BUNDLE, and only the codecs that pass to a SIP
    /// phone untouched (PCMU, PCMA, telephone-event, VP8, H.264). Returns
    /// that answer for the browser.
    ///
    /// # Errors
    ///
    /// [`RelayError::UnknownSession`]; [`RelayError::NotWebRtc`] when the
    /// leg was not allocated as [`LegMedia::WebRtc`](crate::LegMedia::WebRtc);
    /// [`RelayError::WebRtcRefused`] when str0m cannot take the offer.
    pub fn answer_webrtc(
        &mut self,
        now: Instant,
        session: SessionId,
        side: Side,
        local_ip: IpAddr,
        offer: &str,
    ) -> Result<String, RelayError> {
        self.with_webrtc(now, session, side, local_ip, None, |leg, out| {
            leg.accept_offer(offer, out)
        })
    }

    /// An offer for the browser on the WebRTC leg `side`, made from a SIP
    /// phone's description `model`: one stream per `m=` line with the
    /// phone's payload types of PCMU, PCMA, telephone-event, VP8 and H.264,
    /// and its directions (a re-offer changes only directions; when nothing
    /// changed, as in a session refresh, the offer restarts ICE on the same
    /// candidate). The browser's answer goes to [`Self::accept_webrtc_answer`].
    ///
    /// # Errors
    ///
    /// As [`Self::answer_webrtc`].
    pub fn offer_webrtc(
        &mut self,
        now: Instant,
        session: SessionId,
        side: Side,
        local_ip: IpAddr,
        model: &SessionDescription,
    ) -> Result<String, RelayError> {
        self.with_webrtc(now, session, side, local_ip, Some(model), |leg, out| {
            leg.create_offer(model, out).ok_or(WebRtcError::NoOffer)
        })
    }

    /// The browser's answer to [`Self::offer_webrtc`].
    ///
    /// # Errors
    ///
    /// [`RelayError::UnknownSession`], [`RelayError::NotWebRtc`],
    /// [`RelayError::WebRtcRefused`] (also when no offer is pending).
    pub fn accept_webrtc_answer(
        &mut self,
        now: Instant,
        session: SessionId,
        side: Side,
        answer: &str,
    ) -> Result<(), RelayError> {
        let state = self
            .sessions
            .get_mut(&session)
            .ok_or(RelayError::UnknownSession(session))?;
        let leg = state
            .webrtc_leg(side, |_| None)
            .ok_or(RelayError::NotWebRtc(session))?;
        let mut received = Vec::new();
        let out = Drained {
            transmits: &mut self.transmits,
            received: &mut received,
        };
        let result = leg.accept_answer(answer, out);
        // The answer may let str0m start its checks and DTLS now.
        let out = Drained {
            transmits: &mut self.transmits,
            received: &mut received,
        };
        leg.handle_timeout(now, out);
        Self::arm_rtc(&mut self.rtc_deadlines, state, None);
        result.map_err(|error| {
            tracing::debug!(%session, %error, "WebRTC answer refused");
            RelayError::WebRtcRefused(session)
        })
    }

    /// Whether the WebRTC leg `side` of `session` waits for the browser's
    /// answer to [`Self::offer_webrtc`] (so the browser's next description
    /// is that answer, not an offer).
    #[must_use]
    pub fn webrtc_offer_pending(&self, session: SessionId, side: Side) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|state| state.webrtc_pending(side))
    }

    /// Runs `command` on the WebRTC leg `side`, made first if new (to
    /// answer, or to offer `model`'s codecs).
    fn with_webrtc<T>(
        &mut self,
        now: Instant,
        session: SessionId,
        side: Side,
        local_ip: IpAddr,
        model: Option<&SessionDescription>,
        command: impl FnOnce(&mut WebRtcLeg, Drained<'_>) -> Result<T, WebRtcError>,
    ) -> Result<T, RelayError> {
        let state = self
            .sessions
            .get_mut(&session)
            .ok_or(RelayError::UnknownSession(session))?;
        let mut made = Ok(());
        let leg = state.webrtc_leg(side, |port| {
            let local = SocketAddr::new(local_ip, port);
            let leg = match model {
                Some(model) => WebRtcLeg::offering(now, local, model),
                None => WebRtcLeg::answering(now, local),
            };
            leg.map_err(|error| made = Err(error)).ok()
        });
        let result = match (leg, made) {
            (Some(leg), _) => {
                let mut received = Vec::new();
                let out = Drained {
                    transmits: &mut self.transmits,
                    received: &mut received,
                };
                command(leg, out).map_err(|error| {
                    tracing::debug!(%session, %error, "WebRTC description refused");
                    RelayError::WebRtcRefused(session)
                })
            }
            (None, Err(error)) => {
                tracing::debug!(%session, %error, "WebRTC leg not made");
                Err(RelayError::WebRtcRefused(session))
            }
            (None, Ok(())) => Err(RelayError::NotWebRtc(session)),
        };
        Self::arm_rtc(&mut self.rtc_deadlines, state, None);
        result
    }

    /// Puts the session's earliest WebRTC timeout in the heap unless an
    /// earlier one is there. Inside [`Self::handle_timeout`] (`now` given),
    /// a timeout not after `now` is moved a millisecond on, so the loop
    /// there always ends.
    fn arm_rtc(
        deadlines: &mut BinaryHeap<Reverse<(Instant, SessionId)>>,
        state: &mut Session,
        now: Option<Instant>,
    ) {
        let Some(mut deadline) = state.rtc_timeout() else {
            return;
        };
        if let Some(now) = now {
            if deadline <= now {
                deadline = now.checked_add(Duration::from_millis(1)).unwrap_or(now);
            }
        }
        if state
            .rtc_scheduled
            .is_some_and(|scheduled| scheduled <= deadline)
        {
            return;
        }
        state.rtc_scheduled = Some(deadline);
        deadlines.push(Reverse((deadline, state.id())));
    }

    /// The deadline from [`Self::poll_timeout`] has passed: report sessions
    /// silent for the media timeout, and give the WebRTC legs their time.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(state) = due(&mut self.rtc_deadlines, &mut self.sessions, now, |s| {
            &mut s.rtc_scheduled
        }) {
            let out = Outputs {
                transmits: &mut self.transmits,
                events: &mut self.events,
            };
            state.handle_rtc_timeout(now, out);
            Self::arm_rtc(&mut self.rtc_deadlines, state, Some(now));
        }
        while let Some(state) = due(&mut self.deadlines, &mut self.sessions, now, |s| {
            &mut s.scheduled
        }) {
            match state.media_deadline(&self.config) {
                Some(due) if due <= now => {
                    state.timed_out = true;
                    let session = state.id();
                    let idle = now.saturating_duration_since(state.silent_since());
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
        let media = self
            .deadlines
            .peek()
            .map(|Reverse((deadline, _))| *deadline);
        let rtc = self
            .rtc_deadlines
            .peek()
            .map(|Reverse((deadline, _))| *deadline);
        media.into_iter().chain(rtc).min()
    }
}

/// The session of the next entry of `heap` due by `now` that is still
/// live (`scheduled` names the session's field that holds its live
/// deadline, cleared here); stale entries are dropped on the way.
fn due<'a>(
    heap: &mut BinaryHeap<Reverse<(Instant, SessionId)>>,
    sessions: &'a mut HashMap<SessionId, Session>,
    now: Instant,
    scheduled: fn(&mut Session) -> &mut Option<Instant>,
) -> Option<&'a mut Session> {
    let mut live = None;
    while let Some(Reverse((deadline, session))) = heap.peek().copied() {
        if deadline > now {
            break;
        }
        heap.pop();
        // Else replaced by an earlier deadline, or the session is gone.
        if let Some(state) = sessions.get_mut(&session) {
            let slot = scheduled(state);
            if *slot == Some(deadline) {
                *slot = None;
                live = Some(session);
                break;
            }
        }
    }
    sessions.get_mut(&live?)
}
