//! Relayed calls across a restart: the SDP kept with a call's dialog
//! record ([`RelaySdp`]: what each party sent and received) is enough to
//! set its relay session up again on the same ports and keys, so the
//! parties, still sending to those ports, are heard again.

use std::time::Instant;

use bytes::Bytes;
use switchboard_proto::sdp::SessionDescription;
use switchboard_relay::anchor::{anchor, leg_offer};
use switchboard_relay::{LegMedia, LegOffer, SessionId};

use super::{Anchored, MediaRelay, parse};
use crate::storage::RelaySdp;

impl MediaRelay {
    /// What the relay needs to take `call_id` back after a restart: both
    /// parties' last SDP and what each received; `None` before both are
    /// known (a late offer until its ACK).
    pub(crate) fn relay_sdp(&self, call_id: &str) -> Option<RelaySdp> {
        let call = self.calls.get(call_id)?;
        let [Some(caller), Some(callee)] = &call.last else {
            return None;
        };
        let allocation = self.relay.allocation(call.session)?;
        let caller_received = anchor(&parse(callee)?, self.address, &allocation.offerer).ok()?;
        let callee_received = anchor(&parse(caller)?, self.address, &allocation.answerer).ok()?;
        Some(RelaySdp {
            caller_sent: text(caller)?,
            callee_sent: text(callee)?,
            caller_received: caller_received.to_string(),
            callee_received: callee_received.to_string(),
        })
    }

    /// Takes the relayed call `call_id` back (at start) on the ports and
    /// keys `sdp` names; `false` when it cannot (a port taken or out of
    /// the range, an SDP that does not read): the call must be ended.
    pub(crate) fn restore(
        &mut self,
        now: Instant,
        call_id: &str,
        caller_tag: &str,
        sdp: &RelaySdp,
    ) -> bool {
        if self.calls.contains_key(call_id) {
            return false;
        }
        let (Some(caller), Some(callee), Some(to_caller), Some(to_callee)) = (
            leg(&sdp.caller_sent),
            leg(&sdp.callee_sent),
            leg(&sdp.caller_received),
            leg(&sdp.callee_received),
        ) else {
            tracing::warn!(call_id, "relayed call's SDP unreadable: not taken back");
            return false;
        };
        // A browser's leg lived in its DTLS association, gone with the
        // process: such a call is ended, not left with one-way audio.
        if [&caller, &callee]
            .iter()
            .any(|leg| leg.media == LegMedia::WebRtc)
        {
            tracing::warn!(call_id, "relayed call with a browser: not taken back");
            return false;
        }
        let session = SessionId(self.next_session);
        self.next_session += 1;
        if let Err(error) =
            self.relay
                .restore(now, session, [caller, callee], [to_caller, to_callee])
        {
            tracing::warn!(call_id, %error, "relayed call not taken back on its ports");
            return false;
        }
        self.by_session.insert(session, call_id.to_owned());
        let body = |text: &str| Some(Bytes::from(text.to_owned()));
        self.calls.insert(
            call_id.to_owned(),
            Anchored {
                session,
                caller_tag: caller_tag.to_owned(),
                last: [body(&sdp.caller_sent), body(&sdp.callee_sent)],
                last_out: [None, None],
                webrtc_answer: None,
            },
        );
        true
    }
}

/// The leg an SDP text describes.
fn leg(text: &str) -> Option<LegOffer> {
    leg_offer(&SessionDescription::parse(text).ok()?).ok()
}

/// A body as text the store keeps (UTF-8, no NUL).
fn text(body: &Bytes) -> Option<String> {
    std::str::from_utf8(body)
        .ok()
        .filter(|t| !t.contains('\0'))
        .map(str::to_owned)
}
