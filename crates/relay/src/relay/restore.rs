//! A session taken back after a restart: the calls the server keeps in
//! its store come back on the relay ports and keys they had, so the
//! parties, still sending to those ports, are heard again.

use std::time::Instant;

use super::Relay;
use crate::session::Session;
use crate::{LegOffer, RelayError, SessionId, Side};

impl Relay {
    /// Sets up `session` as it was: `parties` are each party's last SDP
    /// (the offerer's, the answerer's leg), `relay_sides` what each party
    /// received from the relay (its streams' addresses name the relay's
    /// ports for that party, their keys the relay's keys toward it). A
    /// stream without an address is disabled. Nothing is taken when it
    /// fails.
    ///
    /// # Errors
    ///
    /// [`RelayError::PortsExhausted`] when one of those ports is not free
    /// (or not in the range); [`RelayError::TooManySessions`],
    /// [`RelayError::DuplicateSession`], [`RelayError::StreamCount`].
    pub fn restore(
        &mut self,
        now: Instant,
        session: SessionId,
        parties: [LegOffer; 2],
        relay_sides: [LegOffer; 2],
    ) -> Result<(), RelayError> {
        if self.sessions.contains_key(&session) {
            return Err(RelayError::DuplicateSession(session));
        }
        if self.sessions.len() >= self.config.max_sessions {
            return Err(RelayError::TooManySessions(self.config.max_sessions));
        }
        let streams = parties[0].streams.len();
        for leg in parties.iter().chain(&relay_sides) {
            if leg.streams.len() != streams {
                return Err(RelayError::StreamCount {
                    expected: streams,
                    got: leg.streams.len(),
                });
            }
        }
        let ports: Vec<Vec<u16>> = relay_sides
            .iter()
            .map(|leg| {
                leg.streams
                    .iter()
                    .map(|s| s.rtp.map_or(0, |rtp| rtp.port()))
                    .collect()
            })
            .collect();
        let wanted: Vec<u16> = ports
            .iter()
            .flatten()
            .copied()
            .filter(|p| *p != 0)
            .collect();
        if !self.pool.take_these(&wanted) {
            return Err(RelayError::PortsExhausted {
                needed: wanted.len() * 2,
                free: self.pool.free_pairs() * 2,
            });
        }
        let [offerer, answerer] = parties;
        let (offerer_ports, answerer_ports) = match ports.as_slice() {
            [a, b] => (a.as_slice(), b.as_slice()),
            _ => (&[][..], &[][..]),
        };
        let mut state = Session::new(
            session,
            now,
            [(offerer, offerer_ports), (answerer, answerer_ports)],
            &self.config,
            &mut *self.rng,
        );
        for (side, relay_side) in [Side::Offerer, Side::Answerer].into_iter().zip(relay_sides) {
            let keys = relay_side
                .streams
                .into_iter()
                .map(|s| {
                    s.crypto.map(|c| crate::RelayCrypto {
                        tag: c.tag,
                        key: c.key,
                    })
                })
                .collect();
            state.restore_relay_keys(side, keys);
        }
        for (side, side_ports) in [
            (Side::Offerer, offerer_ports),
            (Side::Answerer, answerer_ports),
        ] {
            for (stream, port) in side_ports.iter().enumerate().filter(|(_, p)| **p != 0) {
                self.own(session, side, stream, *port);
            }
        }
        Self::arm(&mut self.deadlines, &self.config, &mut state);
        tracing::info!(%session, streams, "relay session taken back on its ports");
        self.sessions.insert(session, state);
        Ok(())
    }
}
