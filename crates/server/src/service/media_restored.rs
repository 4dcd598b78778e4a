//! Calls anchored on the media relay when the server stopped: their
//! relay sessions are set up again on the same ports and keys from the
//! SDP their dialog records keep (`media/restore.rs`). One that cannot be
//! (the relay off now, its ports out of the range or taken, no SDP kept)
//! would leave its phones talking to dead ports: it is ended cleanly
//! instead, at the first timeout after the start: a BYE to both parties,
//! its record's hang-up `relay-lost`.

use switchboard_core::{Now, TransactionLayer};

use super::Service;
use crate::storage::{CallMedia, DialogRecord, HangupSide};

impl Service {
    /// A stored call taken back at start (its call book entry and record
    /// restored): when the relay anchored it, its relay session comes back,
    /// or it is ended soon; its record keeps saying it was relayed (the
    /// counters start again).
    pub(super) fn relay_lost_at_load(&mut self, record: &DialogRecord) {
        if !record.relayed {
            return;
        }
        self.records.media(&record.call_id, CallMedia::default());
        let now = self.clock.instant();
        let restored = match (&mut self.media, &record.relay_sdp) {
            (Some(media), Some(sdp)) => {
                media.restore(now, &record.call_id, &record.caller.tag, sdp)
            }
            _ => false,
        };
        if restored {
            tracing::info!(call_id = %record.call_id, "relayed call taken back on its relay ports");
        } else {
            self.relay_lost.push(record.call_id.clone());
        }
    }

    /// Ends the calls [`Self::relay_lost_at_load`] noted.
    pub(super) fn end_relay_lost(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        for call_id in std::mem::take(&mut self.relay_lost) {
            if self.end_answered(now, ep, &call_id, HangupSide::RelayLost) {
                tracing::info!(
                    call_id,
                    "relayed call ended: its relay session did not survive the restart"
                );
            } else {
                tracing::warn!(
                    call_id,
                    "relayed call taken back but not ended: its parties are unknown"
                );
            }
        }
    }
}
