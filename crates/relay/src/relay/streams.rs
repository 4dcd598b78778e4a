//! Streams added to or removed from a relayed session (see
//! `session/streams.rs`): the ports of new streams taken from the pool
//! for both legs, those of disabled or dropped ones given back.

use std::time::Instant;

use super::Relay;
use crate::session::PortOwner;
use crate::{RelayError, SessionId, Side};

impl Relay {
    /// Notes `port` (RTP) and the port above it (RTCP) as `stream` of
    /// `side` of `session`.
    pub(super) fn own(&mut self, session: SessionId, side: Side, stream: usize, port: u16) {
        for (rtcp, local) in [(false, port), (true, port.saturating_add(1))] {
            let owner = PortOwner {
                session,
                side,
                stream,
                rtcp,
            };
            self.owners.insert(local, owner);
        }
    }

    /// Which of the session's streams have ports (by `m=` index); `None`
    /// for no such session.
    #[must_use]
    pub fn enabled_streams(&self, session: SessionId) -> Option<Vec<bool>> {
        let state = self.sessions.get(&session)?;
        Some(state.stream_ports().iter().map(Option::is_some).collect())
    }

    /// Gives `session` one stream per entry of `enabled` (a new SDP's
    /// `m=` lines: `false` for port 0): streams added or enabled again get
    /// a port pair on each leg and start anew; disabled or dropped ones
    /// free theirs; the others are left as they are. Follow with
    /// [`Self::update`] for the SDP itself. Nothing changes when it fails.
    ///
    /// # Errors
    ///
    /// [`RelayError::UnknownSession`]; [`RelayError::PortsExhausted`]
    /// when the new streams do not fit.
    pub fn set_streams(
        &mut self,
        now: Instant,
        session: SessionId,
        enabled: &[bool],
    ) -> Result<(), RelayError> {
        let state = self
            .sessions
            .get(&session)
            .ok_or(RelayError::UnknownSession(session))?;
        let current = state.stream_ports();
        let kept = |index: usize| current.get(index).copied().flatten();
        let added = enabled
            .iter()
            .enumerate()
            .filter(|(index, on)| **on && kept(*index).is_none())
            .count();
        let mut fresh = self
            .pool
            .take(added * 2)
            .ok_or(RelayError::PortsExhausted {
                needed: added * 4,
                free: self.pool.free_pairs() * 2,
            })?
            .into_iter();
        let mut ports = Vec::with_capacity(enabled.len());
        for (index, on) in enabled.iter().enumerate() {
            let pair = match (on, kept(index)) {
                (false, _) => None,
                (true, Some(pair)) => Some(pair),
                (true, None) => fresh.next().zip(fresh.next()).map(|(a, b)| [a, b]),
            };
            ports.push(pair);
        }
        for (index, pair) in current.iter().enumerate() {
            if let Some(pair) = pair.filter(|_| ports.get(index).copied().flatten().is_none()) {
                for port in pair {
                    self.owners.remove(port);
                    self.owners.remove(port.saturating_add(1));
                    self.pool.give_back(port);
                }
            }
        }
        for (stream, pair) in ports.iter().enumerate() {
            let Some(pair) = pair.filter(|_| kept(stream).is_none()) else {
                continue;
            };
            for (side, port) in [Side::Offerer, Side::Answerer].into_iter().zip(pair) {
                self.own(session, side, stream, port);
            }
        }
        tracing::debug!(%session, streams = enabled.len(), added, "relay session streams changed");
        if let Some(state) = self.sessions.get_mut(&session) {
            state.set_stream_ports(now, &ports, &self.config, &mut *self.rng);
        }
        Ok(())
    }
}
