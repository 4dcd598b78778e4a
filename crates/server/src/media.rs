//! The media relay in the server (issue 16): which calls are anchored on
//! the relay (`[media] relay`), the relay's session of each, and the SDP
//! bodies that pass the proxy rewritten to the relay's address and ports.
//!
//! Sans-IO: [`MediaRelay`] owns the `switchboard_relay::Relay` and the map
//! from the proxy's calls (Call-ID) to its sessions; packets, timeouts and
//! transmits go through the [`Service`](crate::Service)'s `handle_media`,
//! `poll_media_transmit` and `poll_timeout`.
//!
//! A browser's leg (WebRTC: ICE-lite, DTLS-SRTP, BUNDLE) is negotiated by
//! the relay's str0m: the browser receives the relay's own offers and
//! answers, the SIP phone a plain `RTP/AVP` description with the same
//! payload types, so G.711 and video pass untouched.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;
use rand_core::RngCore;
use switchboard_proto::sdp::SessionDescription;
use switchboard_relay::anchor::{anchor, leg_offer, webrtc_answer_matching, webrtc_to_plain};
use switchboard_relay::{
    Allocation, LegMedia, LegOffer, Relay, RelayError, RelayEvent, SessionId, SessionStats, Side,
    StreamOffer,
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
    /// another address than its Contact names; and calls between a browser
    /// (WebRTC) and a SIP phone: a WebRTC offer to callees that are not all
    /// browsers, or a phone's offer to browsers (bindings over WebSocket or
    /// with an `.invalid` host). Plain against SDES is not known when the
    /// offer goes out and does not count yet.
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
    /// The SIP phone of a browser's call is offered `RTP/SAVP` with the
    /// relay's SDES key instead of plain `RTP/AVP` (phones that require
    /// SRTP).
    pub webrtc_phone_sdes: bool,
}

impl MediaConfig {
    /// A configuration relaying by `policy` with these relay settings.
    #[must_use]
    pub fn new(policy: MediaPolicy, relay: RelayConfig, address: Option<IpAddr>) -> Self {
        Self {
            policy,
            relay,
            address,
            webrtc_phone_sdes: false,
        }
    }

    /// This configuration with the phones of browsers' calls offered SDES-SRTP.
    #[must_use]
    pub fn with_webrtc_phone_sdes(mut self, sdes: bool) -> Self {
        self.webrtc_phone_sdes = sdes;
        self
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
    /// What the other party received for each side's last SDP and whether
    /// that SDP was an answer, when a browser is in the call (str0m's
    /// descriptions are not made twice for a retransmission; the same body
    /// as an offer later, a session refresh, is a new turn).
    last_out: [Option<(bool, Bytes)>; 2],
    /// The relay's answer to the browser's last offer, given to the
    /// browser with the plain party's answer.
    webrtc_answer: Option<String>,
}

/// The relay and the calls it anchors (see the [module documentation](self)).
pub struct MediaRelay {
    policy: MediaPolicy,
    /// What a browser's callee is offered.
    webrtc_phone: LegMedia,
    address: IpAddr,
    relay: Relay,
    calls: HashMap<String, Anchored>,
    by_session: HashMap<SessionId, String>,
    next_session: u64,
    /// Drops of the sessions released so far (the metric counts them all).
    released_drops: u64,
    /// Calls refused because the relay was full.
    refused: u64,
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
            webrtc_phone: if config.webrtc_phone_sdes {
                LegMedia::SDES
            } else {
                LegMedia::Rtp
            },
            address: config.address.unwrap_or(fallback),
            relay: Relay::new(config.relay, rng),
            calls: HashMap::new(),
            by_session: HashMap::new(),
            next_session: 1,
            released_drops: 0,
            refused: 0,
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

    /// Calls refused since start because the relay had no room.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Packets forwarded from one party to the other since start.
    pub fn relayed(&self) -> u64 {
        self.relay.packets_relayed()
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
    /// is behind a NAT when `callee_nat`, all browsers when
    /// `callee_browser`: a session when the policy selects the call, and
    /// the offer the callee receives. `Ok(None)`: not relayed (policy, no
    /// SDP, an SDP the relay cannot take, a browser calling browsers).
    ///
    /// # Errors
    ///
    /// [`MediaRefusal::Full`]: no room; the call must be refused (503).
    pub(crate) fn offer(
        &mut self,
        now: Instant,
        call_id: &str,
        caller_tag: &str,
        callees: Callees,
        source: IpAddr,
        body: &Bytes,
    ) -> Result<Option<Bytes>, MediaRefusal> {
        if self.calls.contains_key(call_id) {
            // A fallthrough or a second INVITE of the same call: anchored.
            return Ok(self.rewrite(now, call_id, caller_tag, false, body));
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
        let caller_browser = leg.media == LegMedia::WebRtc;
        if caller_browser && callees.browsers {
            // Browser to browser: their own ICE and DTLS, end to end.
            return Ok(None);
        }
        if !self.selects(&leg, source, callees) {
            return Ok(None);
        }
        // The callee's leg is unknown until its answer: the caller's
        // profile and rtcp-mux are offered to it; a browser's callee is
        // offered plain RTP, a browser callee WebRTC.
        let media = match (caller_browser, callees.browsers) {
            (true, _) => self.webrtc_phone,
            (false, true) => LegMedia::WebRtc,
            (false, false) => leg.media,
        };
        let pending = LegOffer {
            media,
            streams: leg
                .streams
                .iter()
                .map(|s| {
                    StreamOffer::pending(match media {
                        LegMedia::WebRtc => true,
                        // A SIP phone is not asked for the browser's mux.
                        _ if caller_browser => false,
                        _ => s.rtcp_mux,
                    })
                })
                .collect(),
        };
        let Some((session, allocation)) = self.allocate(now, call_id, leg, pending)? else {
            return Ok(None);
        };
        let mut call = Anchored {
            session,
            caller_tag: caller_tag.to_owned(),
            last: [Some(body.clone()), None],
            last_out: [None, None],
            webrtc_answer: None,
        };
        let anchored = if caller_browser {
            let turn = BrowserTurn {
                relay: &mut self.relay,
                address: self.address,
                now,
                call: &mut call,
                side: Side::Offerer,
                is_answer: false,
            };
            turn.browser_wrote(&sdp, body)
        } else if callees.browsers {
            self.relay
                .offer_webrtc(now, session, Side::Answerer, self.address, &sdp)
                .map_err(|error| tracing::debug!(call_id, %error, "no WebRTC offer"))
                .ok()
                .map(Bytes::from)
        } else {
            anchor(&sdp, self.address, &allocation.answerer)
                .ok()
                .map(|anchored| Bytes::from(anchored.to_string()))
        };
        let Some(anchored) = anchored else {
            let _ = self.relay.release(session);
            return Ok(None);
        };
        if caller_browser || callees.browsers {
            call.last_out[0] = Some((false, anchored.clone()));
        }
        tracing::debug!(call_id, %session, caller_browser, callee_browser = callees.browsers, "call anchored on the media relay");
        self.by_session.insert(session, call_id.to_owned());
        self.calls.insert(call_id.to_owned(), call);
        Ok(Some(anchored))
    }

    /// A new relay session with both legs. `Ok(None)`: legs the relay
    /// cannot take (the call goes on unrelayed).
    ///
    /// # Errors
    ///
    /// [`MediaRefusal::Full`]: no room; the call must be refused (503).
    fn allocate(
        &mut self,
        now: Instant,
        call_id: &str,
        offerer: LegOffer,
        answerer: LegOffer,
    ) -> Result<Option<(SessionId, Allocation)>, MediaRefusal> {
        let session = SessionId(self.next_session);
        self.next_session += 1;
        match self.relay.allocate(now, session, offerer, answerer) {
            Ok(allocation) => Ok(Some((session, allocation))),
            Err(error @ (RelayError::PortsExhausted { .. } | RelayError::TooManySessions(_))) => {
                tracing::warn!(call_id, %error, "media relay full: call refused");
                self.refused += 1;
                Err(MediaRefusal::Full(error))
            }
            Err(error) => {
                tracing::debug!(call_id, %error, "offer not relayed");
                Ok(None)
            }
        }
    }

    /// Opens the relay session of a call between SIP phones with both
    /// legs (a late offer: the callee's offer in its answer), and returns
    /// `sdp` (the offer of one party) anchored for the party of `toward`.
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
        let Some((session, allocation)) = self.allocate(now, call_id, offerer, answerer)? else {
            return Ok(None);
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
                last_out: [None, None],
                webrtc_answer: None,
            },
        );
        Ok(Some(Bytes::from(anchored.to_string())))
    }

    /// An SDP in the call `call_id` written by the party whose tag is
    /// `writer_tag` (a request's From tag, a response's To tag), an answer
    /// when `is_answer` (in a response or an ACK): the relay learns it, and
    /// the other party receives it anchored. `None`: not a relayed call,
    /// or not an SDP the relay takes (it passes as is).
    pub(crate) fn rewrite(
        &mut self,
        now: Instant,
        call_id: &str,
        writer_tag: &str,
        is_answer: bool,
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
        // A retransmitted answer, or the initial offer sent on to the next
        // target, is given what it got before; an offer in an answered call
        // (a re-INVITE, however alike) is a new turn.
        let answered = call.last.get(1 - index).is_some_and(Option::is_some);
        let cached = call.last_out.get(index).cloned().flatten();
        if let (true, Some((was_answer, cached))) = (known, cached) {
            if was_answer == is_answer && (is_answer || !answered) {
                return Some(cached);
            }
        }
        let (writer, other) = {
            let allocation = self.relay.allocation(call.session)?;
            let media = |side| match side {
                Side::Offerer => allocation.offerer.media,
                Side::Answerer => allocation.answerer.media,
            };
            (media(side), media(side.other()))
        };
        if writer == LegMedia::WebRtc || other == LegMedia::WebRtc {
            let turn = BrowserTurn {
                relay: &mut self.relay,
                address: self.address,
                now,
                call: &mut *call,
                side,
                is_answer,
            };
            let out = if writer == LegMedia::WebRtc {
                turn.browser_wrote(&sdp, body)
            } else {
                turn.phone_wrote(&sdp)
            }?;
            if let Some(slot) = call.last.get_mut(index) {
                *slot = Some(body.clone());
            }
            if let Some(slot) = call.last_out.get_mut(index) {
                *slot = Some((is_answer, out.clone()));
            }
            return Some(out);
        }
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
    fn selects(&self, leg: &LegOffer, source: IpAddr, callees: Callees) -> bool {
        match self.policy {
            MediaPolicy::Never => false,
            MediaPolicy::Always => true,
            MediaPolicy::Auto => {
                callees.behind_nat
                    || (leg.media == LegMedia::WebRtc) != callees.browsers
                    || leg
                        .streams
                        .iter()
                        .filter_map(|s| s.rtp)
                        .any(|rtp| rtp.ip() != source)
            }
        }
    }
}

/// What the proxy knows of a call's callees when the offer goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Callees {
    /// One of them is a device behind a NAT.
    pub(crate) behind_nat: bool,
    /// All of them are browsers (WebSocket bindings).
    pub(crate) browsers: bool,
}

/// One SDP in a call with a browser, written by the party of `side` (an
/// answer when `is_answer`), on its way to the other party.
struct BrowserTurn<'a> {
    relay: &'a mut Relay,
    address: IpAddr,
    now: Instant,
    call: &'a mut Anchored,
    side: Side,
    is_answer: bool,
}

impl BrowserTurn<'_> {
    /// The browser's SDP: str0m answers its offer (kept in
    /// `call.webrtc_answer` for the plain party's answer) or takes its
    /// answer to ours, and the plain party receives the browser's
    /// description as plain RTP at the relay.
    fn browser_wrote(self, sdp: &SessionDescription, body: &Bytes) -> Option<Bytes> {
        let Self {
            relay,
            address,
            now,
            call,
            side,
            is_answer,
        } = self;
        let session = call.session;
        let text = std::str::from_utf8(body).ok()?;
        let leg = leg_offer(sdp).ok()?;
        // First, so that a description str0m would take but the relay
        // cannot (another number of streams) leaves str0m as it was.
        if let Err(error) = relay.update(now, session, side, leg) {
            tracing::debug!(%session, %error, "browser's SDP not relayed");
            return None;
        }
        let accepted = if is_answer {
            // With no offer of ours pending, nothing for str0m to learn.
            if relay.webrtc_offer_pending(session, side) {
                if let Err(error) = relay.accept_webrtc_answer(now, session, side, text) {
                    tracing::debug!(%session, %error, "browser's answer refused");
                    return None;
                }
            }
            None
        } else {
            let answer = match relay.answer_webrtc(now, session, side, address, text) {
                Ok(answer) => answer,
                Err(error) => {
                    tracing::debug!(%session, %error, "browser's offer refused");
                    return None;
                }
            };
            let parsed = SessionDescription::parse(&answer).ok();
            call.webrtc_answer = Some(answer);
            parsed
        };
        let allocation = relay.allocation(session)?;
        let toward = match side {
            Side::Offerer => &allocation.answerer,
            Side::Answerer => &allocation.offerer,
        };
        let plain = webrtc_to_plain(sdp, address, toward, accepted.as_ref()).ok()?;
        Some(Bytes::from(plain.to_string()))
    }

    /// The plain party's SDP: its answer gives the browser the relay's
    /// answer matched to it; its offer becomes the relay's offer to the
    /// browser.
    fn phone_wrote(self, sdp: &SessionDescription) -> Option<Bytes> {
        let session = self.call.session;
        let leg = leg_offer(sdp).ok()?;
        if let Err(error) = self.relay.update(self.now, session, self.side, leg) {
            tracing::debug!(%session, %error, "SDP not relayed");
            return None;
        }
        if self.is_answer {
            let answer = self.call.webrtc_answer.as_deref()?;
            return Some(Bytes::from(webrtc_answer_matching(answer, sdp)));
        }
        let browser = self.side.other();
        match self
            .relay
            .offer_webrtc(self.now, session, browser, self.address, sdp)
        {
            Ok(offer) => Some(Bytes::from(offer)),
            Err(error) => {
                tracing::debug!(%session, %error, "no WebRTC re-offer");
                None
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
