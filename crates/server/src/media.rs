//! The media relay in the server (issue 16): which calls are anchored on
//! the relay (`[media] relay`), the relay's session of each, and the SDP
//! bodies that pass the proxy rewritten to the relay's address and ports.
//!
//! Sans-IO: [`MediaRelay`] owns the `switchboard_relay::Relay` and the map
//! from the proxy's calls (Call-ID) to its sessions; packets, timeouts and
//! transmits go through the [`Service`](crate::Service)'s `handle_media`,
//! `poll_media_transmit` and `poll_timeout`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use rand_core::RngCore;
use switchboard_proto::sdp::SessionDescription;
use switchboard_relay::anchor::{anchor, leg_offer};
use switchboard_relay::{
    LegOffer, Relay, RelayError, RelayEvent, SessionId, SessionStats, Side, StreamOffer,
};
pub use switchboard_relay::{RelayConfig, Transmit};

mod late_offer;
mod restore;
mod streams;

/// Which calls the relay anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MediaPolicy {
    /// None: media flows between the parties (the default).
    #[default]
    Never,
    /// Every call whose INVITE carries an SDP offer.
    Always,
    /// Calls with a party behind a NAT: the caller's SDP address is not
    /// where its signalling came from, or a callee's device is reached at
    /// another address than its Contact names. The callee's profile
    /// (plain or SRTP) is not known when the offer goes out and does not
    /// count yet.
    Auto,
}

/// `[media]`: the relay's policy, address and limits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MediaConfig {
    /// Which calls are anchored.
    pub policy: MediaPolicy,
    /// The relay's ports, timeouts and limits.
    pub relay: RelayConfig,
    /// The address written into the SDP the parties receive; `None`: the
    /// first listener's.
    pub address: Option<IpAddr>,
}

impl MediaConfig {
    /// A configuration relaying by `policy` with these relay settings.
    #[must_use]
    pub fn new(policy: MediaPolicy, relay: RelayConfig, address: Option<IpAddr>) -> Self {
        Self {
            policy,
            relay,
            address,
        }
    }
}

/// Why an offer was not anchored and the call must not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaRefusal {
    /// The relay has no room (ports or sessions): 503 to the caller.
    #[error("media relay full: {0}")]
    Full(RelayError),
}

/// A call anchored on the relay.
#[derive(Debug)]
struct Anchored {
    session: SessionId,
    /// The caller's From tag: a message with it comes from the offerer.
    caller_tag: String,
    /// The last SDP each side sent (offerer, answerer): a retransmission
    /// is rewritten again without restarting the latches.
    last: [Option<Bytes>; 2],
}

/// The relay and the calls it anchors (see the [module documentation](self)).
pub struct MediaRelay {
    policy: MediaPolicy,
    address: IpAddr,
    relay: Relay,
    calls: HashMap<String, Anchored>,
    by_session: HashMap<SessionId, String>,
    next_session: u64,
    /// Drops of the sessions released so far (the metric counts them all).
    released_drops: u64,
    /// Calls whose INVITE had no offer, selected for the relay: the
    /// callee's offer (in its answer) opens the session, by Call-ID.
    late: HashMap<String, late_offer::LateOffer>,
}

impl std::fmt::Debug for MediaRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaRelay")
            .field("policy", &self.policy)
            .field("address", &self.address)
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

impl MediaRelay {
    /// The relay for `config` when its policy relays anything; `fallback`
    /// is the address advertised when the configuration names none.
    pub fn new(
        config: MediaConfig,
        fallback: IpAddr,
        rng: Box<dyn RngCore + Send>,
    ) -> Option<Self> {
        if config.policy == MediaPolicy::Never {
            return None;
        }
        Some(Self {
            policy: config.policy,
            address: config.address.unwrap_or(fallback),
            relay: Relay::new(config.relay, rng),
            calls: HashMap::new(),
            by_session: HashMap::new(),
            next_session: 1,
            released_drops: 0,
            late: HashMap::new(),
        })
    }

    /// The address the parties send media to.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The relay core (its counters).
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Calls anchored now.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The relay session of `call_id`, when the call is anchored.
    pub fn session(&self, call_id: &str) -> Option<SessionId> {
        self.calls.get(call_id).map(|call| call.session)
    }

    /// The counters of the session of `call_id`.
    pub fn stats(&self, call_id: &str) -> Option<SessionStats> {
        let call = self.calls.get(call_id)?;
        self.relay.stats(call.session)
    }

    /// Packets dropped since start (strangers, rate, hold, ...: every
    /// session's, and those to ports of no session).
    pub fn dropped(&self) -> u64 {
        self.calls
            .values()
            .filter_map(|c| self.relay.stats(c.session))
            .map(|s| drops(&s))
            .sum::<u64>()
            + self.released_drops
            + self.relay.unknown_port_drops()
    }

    /// An initial INVITE's offer from `source`, for callees of which one
    /// is behind a NAT when `callee_nat`: a session when the policy
    /// selects the call, and the offer the callee receives. `Ok(None)`:
    /// not relayed (policy, no SDP, an SDP the relay cannot take).
    ///
    /// # Errors
    ///
    /// [`MediaRefusal::Full`]: no room; the call must be refused (503).
    pub(crate) fn offer(
        &mut self,
        now: Instant,
        call_id: &str,
        caller_tag: &str,
        source: IpAddr,
        callee_nat: bool,
        body: &Bytes,
    ) -> Result<Option<Bytes>, MediaRefusal> {
        if self.calls.contains_key(call_id) {
            // A fallthrough or a second INVITE of the same call: anchored.
            return Ok(self.rewrite(now, call_id, caller_tag, body));
        }
        let Some(sdp) = parse(body) else {
            return Ok(None);
        };
        let leg = match leg_offer(&sdp) {
            Ok(leg) => leg,
            Err(error) => {
                tracing::debug!(call_id, %error, "offer not relayed");
                return Ok(None);
            }
        };
        if !self.selects(&leg, source, callee_nat) {
            return Ok(None);
        }
        // The callee's leg is unknown until its answer: the caller's
        // profile and rtcp-mux are offered to it.
        let pending = pending_like(&leg);
        let opening = Opening {
            call_id,
            caller_tag,
            legs: [leg, pending],
            toward: Side::Answerer,
            last: [Some(body.clone()), None],
        };
        self.open(now, opening, &sdp)
    }

    /// Opens the relay session of a call with both legs, and returns `sdp`
    /// (the offer of one party) anchored for the party of `toward`.
    ///
    /// # Errors
    ///
    /// [`MediaRefusal::Full`]: no room.
    fn open(
        &mut self,
        now: Instant,
        opening: Opening<'_>,
        sdp: &SessionDescription,
    ) -> Result<Option<Bytes>, MediaRefusal> {
        let Opening {
            call_id,
            caller_tag,
            legs: [offerer, answerer],
            toward,
            last,
        } = opening;
        let session = SessionId(self.next_session);
        self.next_session += 1;
        let allocation = match self.relay.allocate(now, session, offerer, answerer) {
            Ok(allocation) => allocation,
            Err(error @ (RelayError::PortsExhausted { .. } | RelayError::TooManySessions(_))) => {
                tracing::warn!(call_id, %error, "media relay full");
                return Err(MediaRefusal::Full(error));
            }
            Err(error) => {
                tracing::debug!(call_id, %error, "offer not relayed");
                return Ok(None);
            }
        };
        let leg = match toward {
            Side::Offerer => &allocation.offerer,
            Side::Answerer => &allocation.answerer,
        };
        let Ok(anchored) = anchor(sdp, self.address, leg) else {
            let _ = self.relay.release(session);
            return Ok(None);
        };
        tracing::debug!(call_id, %session, "call anchored on the media relay");
        self.by_session.insert(session, call_id.to_owned());
        self.calls.insert(
            call_id.to_owned(),
            Anchored {
                session,
                caller_tag: caller_tag.to_owned(),
                last,
            },
        );
        Ok(Some(Bytes::from(anchored.to_string())))
    }

    /// An SDP in the call `call_id` written by the party whose tag is
    /// `writer_tag` (a request's From tag, a response's To tag): the
    /// relay learns it, and the other party receives it anchored. `None`:
    /// not a relayed call, or not an SDP the relay takes (it passes as is).
    pub(crate) fn rewrite(
        &mut self,
        now: Instant,
        call_id: &str,
        writer_tag: &str,
        body: &Bytes,
    ) -> Option<Bytes> {
        if !self.calls.contains_key(call_id) {
            return self.late_offer(now, call_id, writer_tag, body);
        }
        let call = self.calls.get_mut(call_id)?;
        let side = if call.caller_tag == writer_tag {
            Side::Offerer
        } else {
            Side::Answerer
        };
        let sdp = parse(body)?;
        let index = usize::from(side == Side::Answerer);
        let known = call.last.get(index).and_then(Option::as_ref) == Some(body);
        if !known {
            let leg = leg_offer(&sdp).ok()?;
            if let Err(error) = streams::follow_streams(&mut self.relay, now, call.session, &sdp) {
                tracing::warn!(call_id, %error, "new streams not relayed");
                return None;
            }
            if let Err(error) = self.relay.update(now, call.session, side, leg) {
                tracing::debug!(call_id, %error, "SDP not relayed");
                return None;
            }
            if let Some(slot) = call.last.get_mut(index) {
                *slot = Some(body.clone());
            }
        }
        let allocation = self.relay.allocation(call.session)?;
        let toward = match side {
            Side::Offerer => &allocation.answerer,
            Side::Answerer => &allocation.offerer,
        };
        let anchored = anchor(&sdp, self.address, toward).ok()?;
        Some(Bytes::from(anchored.to_string()))
    }

    /// The call ended: its session is freed; its counters.
    pub(crate) fn release(&mut self, call_id: &str) -> Option<SessionStats> {
        self.late.remove(call_id);
        let call = self.calls.remove(call_id)?;
        self.by_session.remove(&call.session);
        let stats = self.relay.release(call.session).ok()?;
        self.released_drops += drops(&stats);
        Some(stats)
    }

    /// A datagram read on the relay's `local_port`.
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        local_port: u16,
        source: SocketAddr,
        bytes: Bytes,
    ) {
        self.relay.handle_packet(now, local_port, source, bytes);
    }

    /// The relay's deadline passed: the Call-IDs of calls silent for the
    /// media timeout.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Vec<String> {
        if self.relay.poll_timeout().is_some_and(|t| t <= now) {
            self.relay.handle_timeout(now);
        }
        let mut silent = Vec::new();
        while let Some(event) = self.relay.poll_event() {
            if let RelayEvent::MediaTimeout { session, idle } = event {
                if let Some(call_id) = self.by_session.get(&session) {
                    tracing::info!(call_id, ?idle, "media timeout: the call is ended");
                    silent.push(call_id.clone());
                }
            }
        }
        silent
    }

    /// The next datagram to send from the relay's ports.
    pub(crate) fn poll_transmit(&mut self) -> Option<Transmit> {
        self.relay.poll_transmit()
    }

    /// When the relay's next deadline is.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.relay.poll_timeout()
    }

    /// Whether the policy anchors a call whose caller offered `leg` from
    /// `source`.
    fn selects(&self, leg: &LegOffer, source: IpAddr, callee_nat: bool) -> bool {
        match self.policy {
            MediaPolicy::Never => false,
            MediaPolicy::Always => true,
            MediaPolicy::Auto => {
                callee_nat
                    || leg
                        .streams
                        .iter()
                        .filter_map(|s| s.rtp)
                        .any(|rtp| rtp.ip() != source)
            }
        }
    }
}

/// What [`MediaRelay::open`] sets up.
struct Opening<'a> {
    call_id: &'a str,
    caller_tag: &'a str,
    /// The offerer's (caller's) and the answerer's (callee's) legs.
    legs: [LegOffer; 2],
    /// Whose view of the offer is returned.
    toward: Side,
    /// The SDP each party sent so far (offerer, answerer).
    last: [Option<Bytes>; 2],
}

/// A leg not known yet, offered `known`'s profile and rtcp-mux.
fn pending_like(known: &LegOffer) -> LegOffer {
    LegOffer {
        media: known.media,
        streams: known
            .streams
            .iter()
            .map(|s| StreamOffer::pending(s.rtcp_mux))
            .collect(),
    }
}

/// Both legs' drops.
fn drops(stats: &SessionStats) -> u64 {
    stats.offerer.dropped.total() + stats.answerer.dropped.total()
}

/// The SDP in a body, when it is one.
fn parse(body: &Bytes) -> Option<SessionDescription> {
    if body.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    SessionDescription::parse(text).ok()
}
