//! Streams added to and removed from a session (a re-INVITE that adds
//! video, or disables a stream with port 0): a stream keeps its ports and
//! state while it stays enabled; a new or re-enabled one starts blank on
//! both legs (with the relay's key for an SDES leg); a disabled one holds
//! no port ([`NO_PORT`]).

use std::time::Instant;

use rand_core::RngCore;
use switchboard_proto::sdp::Direction;

use super::{Session, StreamState, latch_deadline};
use crate::latch::Latch;
use switchboard_media::srtp::SrtpContext;

use crate::{RelayConfig, RelayCrypto, Side, StreamOffer};

/// The port of a disabled stream: none (0 is never handed out: the pool's
/// pairs start above it).
pub(crate) const NO_PORT: u16 = 0;

impl StreamState {
    /// A stream on `rtp_port` that has heard from nobody yet.
    pub(super) fn blank(rtp_port: u16, open_until: Instant) -> Self {
        Self {
            rtp_port,
            rtcp_mux: false,
            direction: Direction::SendRecv,
            rtp_latch: Latch::new(None, open_until),
            rtcp_latch: Latch::new(None, open_until),
            peer_key: None,
            inbound: None,
            relay_crypto: None,
            outbound: None,
        }
    }
}

impl Session {
    /// Each stream's RTP ports (the offerer's, the answerer's), `None`
    /// for a disabled stream.
    pub(crate) fn stream_ports(&self) -> Vec<Option<[u16; 2]>> {
        let [offerer, answerer] = &self.legs;
        offerer
            .streams
            .iter()
            .zip(&answerer.streams)
            .map(|(a, b)| (a.rtp_port != NO_PORT).then_some([a.rtp_port, b.rtp_port]))
            .collect()
    }

    /// Gives the session one stream per entry of `ports`: a stream whose
    /// ports are unchanged keeps its state; any other starts blank on the
    /// given ports (`None`: disabled, no port), pending until its party's
    /// SDP names it, with the relay's key already on an SDES leg (the
    /// other party's offer carries it). The caller has taken and freed the
    /// ports.
    pub(crate) fn set_stream_ports(
        &mut self,
        now: Instant,
        ports: &[Option<[u16; 2]>],
        config: &RelayConfig,
        rng: &mut dyn RngCore,
    ) {
        let open_until = latch_deadline(now, config);
        let before = self.stream_ports();
        for (side, leg) in self.legs.iter_mut().enumerate() {
            // New streams follow the leg's first one (rtcp-mux) until its
            // party's SDP says otherwise.
            let rtcp_mux = leg.streams.first().is_some_and(|s| s.rtcp_mux);
            let mut kept = std::mem::take(&mut leg.streams).into_iter();
            let mut streams = Vec::with_capacity(ports.len());
            for (index, wanted) in ports.iter().enumerate() {
                let old = kept.next();
                let same = before.get(index).copied().flatten() == *wanted;
                match (old, wanted) {
                    (Some(state), _) if same => streams.push(state),
                    (_, Some(pair)) => {
                        let port = pair.get(side).copied().unwrap_or(NO_PORT);
                        let mut state = StreamState::blank(port, open_until);
                        let pending = StreamOffer::pending(rtcp_mux);
                        state.apply(pending, leg.media, open_until, rng);
                        streams.push(state);
                    }
                    (_, None) => streams.push(StreamState::blank(NO_PORT, open_until)),
                }
            }
            leg.streams = streams;
        }
    }
}

impl Session {
    /// Puts back the relay's keys toward `side`'s party, one per stream
    /// (`None`: keep the one made), as a session taken back after a
    /// restart had them: the party still encrypts and decrypts with them.
    pub(crate) fn restore_relay_keys(&mut self, side: Side, keys: Vec<Option<RelayCrypto>>) {
        let (leg, _) = self.legs_mut(side);
        for (state, key) in leg.streams.iter_mut().zip(keys) {
            let Some(key) = key else {
                continue;
            };
            state.outbound = Some(SrtpContext::new(&key.key));
            state.relay_crypto = Some(key);
        }
    }
}
