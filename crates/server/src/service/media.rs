//! The media relay on the service's inputs and outputs: SDP bodies of the
//! calls it anchors rewritten as they pass (the caller's offer in
//! [`Service::forward`](super::Service), answers and re-offers in both
//! directions), packets in through [`Service::handle_media`], out through
//! [`Service::poll_media_transmit`], the relay's deadline in
//! [`Service::poll_timeout`], and a call silent for the media timeout
//! ended as the operator's hang-up ends it.

use std::net::SocketAddr;

use bytes::Bytes;
use switchboard_core::{Destination, Event, Now, TransactionLayer};
use switchboard_proto::{HeaderName, Method, StatusCode, Uri};
use switchboard_relay::Transmit;

use super::Service;
use crate::media::{Callees, MediaRelay};
use crate::proxy::{Incoming, Target, TargetSet};
use crate::storage::HangupSide;

/// How long a caller refused for a full relay waits before trying again.
const FULL_RETRY_AFTER: &str = "5";

impl Service {
    /// A datagram read on the relay's `local_port` from `source`. Drain
    /// [`Self::poll_media_transmit`] afterwards.
    pub fn handle_media(&mut self, now: Now, local_port: u16, source: SocketAddr, bytes: Bytes) {
        self.clock = now;
        if let Some(media) = &mut self.media {
            media.handle_packet(now.instant(), local_port, source, bytes);
        }
    }

    /// The next datagram the relay sends (from one of its ports).
    pub fn poll_media_transmit(&mut self) -> Option<Transmit> {
        self.media.as_mut()?.poll_transmit()
    }

    /// The media relay, when `[media] relay` is on.
    pub fn media(&self) -> Option<&MediaRelay> {
        self.media.as_ref()
    }

    /// Anchors the SDP of a request about to be forwarded: an initial
    /// INVITE's offer gets a relay session when the policy selects the
    /// call; any other SDP of an anchored call is learnt and rewritten.
    /// `false`: the relay is full and the caller got 503 (the request
    /// must not go on).
    pub(super) fn anchor_request(
        &mut self,
        now: Now,
        ep: &mut impl TransactionLayer,
        incoming: &mut Incoming,
        targets: &TargetSet,
    ) -> bool {
        let Some(media) = &mut self.media else {
            return true;
        };
        let request = &incoming.request;
        let headers = request.headers();
        let (Some(call_id), Some(from_tag)) = (headers.call_id(), headers.from_tag()) else {
            return true;
        };
        if request.body().is_empty() || !is_sdp(headers.get(HeaderName::ContentType)) {
            return true;
        }
        let call_id = self.proxy.caller_call_id(call_id).to_owned();
        let initial = request.method() == &Method::Invite && headers.to_tag().is_none();
        let body = request.body().clone();
        let anchored = if initial {
            let caller = incoming.source.remote.ip();
            let callees = Callees {
                behind_nat: targets.iter().any(behind_nat),
                browsers: targets.iter().next().is_some() && targets.iter().all(is_browser),
            };
            match media.offer(now.instant(), &call_id, from_tag, callees, caller, &body) {
                Ok(anchored) => anchored,
                Err(refusal) => {
                    tracing::warn!(call_id, %refusal, "call refused: 503");
                    let retry = [(HeaderName::RetryAfter, FULL_RETRY_AFTER.to_owned())];
                    let status = StatusCode::SERVICE_UNAVAILABLE;
                    self.reply_with(now, ep, incoming, status, None, &retry);
                    return false;
                }
            }
        } else {
            let is_answer = request.method() == &Method::Ack;
            media.rewrite(now.instant(), &call_id, from_tag, is_answer, &body)
        };
        if let Some(anchored) = anchored {
            incoming.request.set_body(None, anchored);
        }
        true
    }

    /// Anchors the SDP of a response on its way to the proxy (an answer,
    /// or the answer to a re-offer): written by the party of its To tag.
    pub(super) fn anchor_response(&mut self, now: Now, event: &mut Event) {
        let Some(media) = &mut self.media else {
            return;
        };
        let Event::Response { response, .. } = event else {
            return;
        };
        let headers = response.headers();
        if response.body().is_empty() || !is_sdp(headers.get(HeaderName::ContentType)) {
            return;
        }
        let (Some(call_id), Some(to_tag)) = (headers.call_id(), headers.to_tag()) else {
            return;
        };
        let call_id = self.proxy.caller_call_id(call_id).to_owned();
        let body = response.body().clone();
        if let Some(anchored) = media.rewrite(now.instant(), &call_id, to_tag, true, &body) {
            response.set_body(None, anchored);
        }
    }

    /// The call `call_id` is over: its relay session is freed.
    pub(super) fn release_media(&mut self, call_id: &str) {
        let Some(stats) = self.media.as_mut().and_then(|m| m.release(call_id)) else {
            return;
        };
        tracing::info!(
            call_id,
            caller_packets_in = stats.offerer.packets_in,
            callee_packets_in = stats.answerer.packets_in,
            dropped = stats.offerer.dropped.total() + stats.answerer.dropped.total(),
            "media relay session released"
        );
    }

    /// The relay's deadline: answered calls silent for the media timeout
    /// get a BYE on each side, recorded as `media-timeout`.
    pub(super) fn media_timeout(&mut self, now: Now, ep: &mut impl TransactionLayer) {
        let Some(media) = &mut self.media else {
            return;
        };
        for call_id in media.handle_timeout(now.instant()) {
            if self.end_answered(now, ep, &call_id, HangupSide::MediaTimeout) {
                tracing::info!(call_id, "call ended by the server: no media");
            } else if !self.calls.is_in_progress(&call_id) {
                // A session whose call the proxy no longer knows: freed.
                self.release_media(&call_id);
            }
        }
    }
}

/// Whether a target is a device behind a NAT: the address its requests
/// go to is not the one its Contact names.
pub(super) fn behind_nat(target: &Target) -> bool {
    let Some(hop) = &target.next_hop else {
        return false;
    };
    let Destination::Address { remote, .. } = hop.destination else {
        return false;
    };
    Uri::parse(&target.uri)
        .ok()
        .and_then(|uri| uri.as_sip().and_then(|sip| sip.host.ip()))
        .is_some_and(|ip| ip != remote.ip())
}

/// Whether a target is a browser: a binding over WebSocket
/// (`;transport=ws` or `wss`) or with an `.invalid` host (RFC 7118 §5's
/// made-up Contact host, as JsSIP and SIP.js write it).
fn is_browser(target: &Target) -> bool {
    let Ok(uri) = Uri::parse(&target.uri) else {
        return false;
    };
    let Some(sip) = uri.as_sip() else {
        return false;
    };
    let websocket = sip
        .transport()
        .is_some_and(|t| t.eq_ignore_ascii_case("ws") || t.eq_ignore_ascii_case("wss"));
    let host = sip.host.as_str();
    let invalid = host.len() > ".invalid".len()
        && host
            .get(host.len() - ".invalid".len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(".invalid"));
    websocket || invalid
}

/// Whether a Content-Type names an SDP body.
pub(super) fn is_sdp(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/sdp"))
    })
}
