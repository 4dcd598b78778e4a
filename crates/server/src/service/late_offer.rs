//! Late offers through the media relay (see `media/late_offer.rs`): an
//! initial INVITE without SDP is noted for the relay as it is forwarded
//! (the policy decides then), the callee's offer in its answer opens the
//! session (as any response's SDP, in `anchor_response`), and the
//! caller's answer in the ACK for the 2xx, which passes the proxy on its
//! own path (`on_ack`), is rewritten toward the callee here.

use switchboard_core::Now;
use switchboard_proto::{HeaderName, Method, Request, Uri};

use super::Service;
use super::media::{behind_nat, is_sdp};
use super::relay::first_uri;
use crate::proxy::{Incoming, TargetSet};

impl Service {
    /// An initial INVITE without a body about to be forwarded to
    /// `targets`: the relay expects the callee's offer.
    pub(super) fn note_late_offer(&mut self, incoming: &Incoming, targets: &TargetSet) {
        let Some(media) = &mut self.media else {
            return;
        };
        let request = &incoming.request;
        let headers = request.headers();
        if request.method() != &Method::Invite
            || !request.body().is_empty()
            || headers.to_tag().is_some()
        {
            return;
        }
        let (Some(call_id), Some(from_tag)) = (headers.call_id(), headers.from_tag()) else {
            return;
        };
        let call_id = self.proxy.caller_call_id(call_id);
        let nat = caller_behind_nat(incoming) || targets.iter().any(behind_nat);
        media.expect_late_offer(call_id, from_tag, nat);
    }

    /// An ACK about to go on: its SDP (the caller's answer to a late
    /// offer) is learnt by the relay and rewritten for the callee, its
    /// Content-Length with it.
    pub(super) fn anchor_ack(&mut self, now: Now, request: &mut Request) {
        let Some(media) = &mut self.media else {
            return;
        };
        let headers = request.headers();
        if request.body().is_empty() || !is_sdp(headers.get(HeaderName::ContentType)) {
            return;
        }
        let (Some(call_id), Some(from_tag)) = (headers.call_id(), headers.from_tag()) else {
            return;
        };
        let call_id = self.proxy.caller_call_id(call_id).to_owned();
        let body = request.body().clone();
        // An SDP in an ACK is always an answer.
        if let Some(anchored) = media.rewrite(now.instant(), &call_id, from_tag, true, &body) {
            request.set_body(None, anchored);
        }
    }
}

/// Whether the caller's Contact names another address than the one its
/// INVITE came from (its SDP, which would say so, comes only later).
fn caller_behind_nat(incoming: &Incoming) -> bool {
    let Some(contact) = first_uri(&incoming.request, HeaderName::Contact) else {
        return false;
    };
    Uri::parse(&contact)
        .ok()
        .and_then(|uri| uri.as_sip().and_then(|sip| sip.host.ip()))
        .is_some_and(|ip| ip != incoming.source.remote.ip())
}
