//! The media relay's counters where operators read them: in the call
//! record (saved at the answer, at the end and at the media timeout, all
//! of which pass [`Service::note_media_counters`] before the record is
//! written) and in the live calls (`GET /api/v1/calls`: the relay's ports
//! and the running counters of each leg).

use switchboard_relay::{LegStats, SessionStats};

use super::Service;
use crate::live_call::{LiveMedia, LiveMediaLeg};
use crate::storage::{CallMedia, MediaLeg};

impl Service {
    /// Copies the relay's counters of `call_id` into its open record,
    /// when the call is anchored (before each update of the record, so
    /// the record written carries the counters of that moment).
    pub(super) fn note_media_counters(&mut self, call_id: &str) {
        let Some(stats) = self.media.as_ref().and_then(|m| m.stats(call_id)) else {
            return;
        };
        self.records.media(call_id, call_media(&stats));
    }

    /// Whether the call `call_id` is anchored on the relay now.
    pub(super) fn is_relayed(&self, call_id: &str) -> bool {
        self.media
            .as_ref()
            .is_some_and(|m| m.session(call_id).is_some())
    }

    /// The relay's ports and counters of the live call `call_id`.
    pub(super) fn live_media(&self, call_id: &str) -> Option<LiveMedia> {
        let media = self.media.as_ref()?;
        let session = media.session(call_id)?;
        let allocation = media.relay().allocation(session)?;
        let stats = media.relay().stats(session)?;
        let ports = |streams: &[switchboard_relay::StreamAllocation]| {
            streams.iter().map(|s| s.rtp_port).collect()
        };
        Some(LiveMedia {
            caller: LiveMediaLeg {
                relay_ports: ports(&allocation.offerer.streams),
                counters: media_leg(&stats.offerer),
            },
            callee: LiveMediaLeg {
                relay_ports: ports(&allocation.answerer.streams),
                counters: media_leg(&stats.answerer),
            },
        })
    }
}

/// A session's counters as the call record keeps them.
pub(crate) fn call_media(stats: &SessionStats) -> CallMedia {
    CallMedia {
        caller: media_leg(&stats.offerer),
        callee: media_leg(&stats.answerer),
    }
}

fn media_leg(leg: &LegStats) -> MediaLeg {
    MediaLeg {
        packets_in: leg.packets_in,
        bytes_in: leg.bytes_in,
        packets_out: leg.packets_out,
        bytes_out: leg.bytes_out,
        lost: leg.quality.map(|q| i64::from(q.cumulative_lost)),
        jitter: leg.quality.map(|q| q.jitter),
    }
}
