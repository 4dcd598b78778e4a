//! Late offers (RFC 3261 §13.2.1): an INVITE without SDP, the callee's
//! offer in its answer (the 200, or a reliable 1xx), the caller's answer
//! in the ACK (or PRACK). The policy decides at the INVITE, with what it
//! knows then (a party behind a NAT); the session opens at the callee's
//! offer, the caller's leg pending until the ACK's answer, which passes
//! [`MediaRelay::rewrite`] like any later SDP of the call.

use std::time::Instant;

use bytes::Bytes;
use switchboard_relay::anchor::leg_offer;
use switchboard_relay::{LegMedia, Side};

use super::{MediaPolicy, MediaRelay, Opening, parse, pending_like};

/// Most late-offer calls waiting for their offer (a bound on memory
/// whatever callers send; each goes at the call's end).
const MAX_WAITING: usize = 100_000;

/// A call whose INVITE had no offer, selected for the relay.
#[derive(Debug)]
pub(super) struct LateOffer {
    /// The caller's From tag: the SDP of the other tag is the offer.
    caller_tag: String,
}

impl MediaRelay {
    /// An initial INVITE without an offer: anchored when the callee's
    /// offer comes if the policy selects the call (`nat`: a party is seen
    /// behind a NAT; the caller's SDP address is not known yet).
    pub(crate) fn expect_late_offer(&mut self, call_id: &str, caller_tag: &str, nat: bool) {
        let selected = match self.policy {
            MediaPolicy::Always => true,
            MediaPolicy::Auto => nat,
            MediaPolicy::Never => false,
        };
        if !selected || self.calls.contains_key(call_id) || self.late.len() >= MAX_WAITING {
            return;
        }
        self.late.insert(
            call_id.to_owned(),
            LateOffer {
                caller_tag: caller_tag.to_owned(),
            },
        );
    }

    /// The first SDP of a call not anchored yet: when the callee wrote it
    /// in a late-offer call, its offer opens the session and comes back
    /// anchored for the caller. A full relay cannot refuse an answered
    /// call: its media then flows between the parties.
    pub(super) fn late_offer(
        &mut self,
        now: Instant,
        call_id: &str,
        writer_tag: &str,
        body: &Bytes,
    ) -> Option<Bytes> {
        let waiting = self.late.get(call_id)?;
        if waiting.caller_tag == writer_tag {
            return None; // the caller's SDP before any offer: not one we take
        }
        let sdp = parse(body)?;
        let callee = match leg_offer(&sdp) {
            // A browser's offer in its answer needs the relay's own WebRTC
            // answer in the ACK, which a late offer has no place for: the
            // call goes on unrelayed.
            Ok(leg) if leg.media == LegMedia::WebRtc => {
                tracing::debug!(call_id, "late WebRTC offer not relayed");
                return None;
            }
            Ok(leg) => leg,
            Err(error) => {
                tracing::debug!(call_id, %error, "late offer not relayed");
                return None;
            }
        };
        let waiting = self.late.remove(call_id)?;
        let opening = Opening {
            call_id,
            caller_tag: &waiting.caller_tag,
            legs: [pending_like(&callee), callee],
            toward: Side::Offerer,
            last: [None, Some(body.clone())],
        };
        match self.open(now, opening, &sdp) {
            Ok(anchored) => anchored,
            Err(refusal) => {
                tracing::warn!(call_id, %refusal, "late offer not relayed: media flows direct");
                None
            }
        }
    }
}
