//! One call (an INVITE dialog, RFC 3261 §13–15) from either side: the
//! caller's INVITE with digest retry, provisional and 2xx handling, ACK,
//! CANCEL and BYE; the callee's auto-answer (180, then 200 after a delay)
//! with 2xx retransmission until the ACK; re-INVITE for hold and resume.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rand_core::RngCore;
use switchboard_core::{Destination, TransactionId};
use switchboard_proto::sdp::SessionDescription;
use switchboard_proto::{
    HeaderName, Method, Request, RequestBuilder, Response, ResponseBuilder, StatusCode,
};

use crate::action::Action;
use crate::auth::DigestClient;
use crate::config::UaConfig;
use crate::dialog::Dialog;
use crate::error::UaError;
use crate::event::{CallEvent, EndReason, Failure};
use crate::media_session::{MediaSession, Negotiated};
use crate::session_timer::{Due, SessionTimer};
use switchboard_core::token;

const SDP: &str = "application/sdp";
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, INFO";
/// RFC 3261 T1 and T2, for retransmitting our 2xx until the ACK.
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Caller: INVITE out, no provisional yet.
    Calling,
    /// Caller: a provisional came; callee: 180 sent.
    Early,
    /// The call is up.
    Confirmed,
    /// BYE sent, waiting for its response.
    Terminating,
    /// Over.
    Ended,
}

/// Which side we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the INVITE.
    Caller,
    /// We received it.
    Callee,
}

/// Our INVITE (initial or re-INVITE) waiting for its final response.
#[derive(Debug, Clone)]
struct PendingInvite {
    request: Request,
    destination: Destination,
    /// Whether this is a re-INVITE.
    reinvite: bool,
    /// The hold state to go back to when a re-INVITE fails.
    previous_hold: bool,
}

/// A 2xx we sent and retransmit until the ACK comes.
#[derive(Debug, Clone)]
struct Unacked {
    tx: TransactionId,
    response: Response,
    next: Instant,
    interval: Duration,
    give_up: Instant,
    /// We put an offer in the 2xx (the INVITE had none): the ACK carries
    /// the answer.
    offer_in_2xx: bool,
}

/// One call. Sans-IO: commands and inputs take `now`; drain
/// [`Call::poll_action`] and [`Call::poll_event`] after each; call
/// [`Call::handle_timeout`] at [`Call::poll_timeout`].
pub struct Call {
    config: UaConfig,
    role: Role,
    state: State,
    dialog: Dialog,
    media: MediaSession,
    auth: DigestClient,
    invite: Option<PendingInvite>,
    /// CSeq of the INVITE whose 2xx we ACKed, and the ACK (resent when the
    /// 2xx is retransmitted).
    last_ack: Option<(u32, Request, Destination)>,
    /// Caller: hang up as soon as a provisional allows a CANCEL.
    cancel_pending: bool,
    trying_seen: bool,
    ringing_seen: bool,
    /// Callee: the INVITE server transaction and request, until answered.
    incoming: Option<(TransactionId, Request)>,
    answer_at: Option<Instant>,
    /// Callee: the answer to the INVITE's offer, sent in the 2xx.
    prepared: Option<(Option<SessionDescription>, Option<Negotiated>)>,
    unacked: Option<Unacked>,
    negotiated: Option<Negotiated>,
    timer: SessionTimer,
    rng: Box<dyn RngCore + Send>,
    actions: VecDeque<Action>,
    events: VecDeque<CallEvent>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("call_id", &self.dialog.call_id)
            .field("role", &self.role)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// Places a call to `target` (a SIP URI) with an offer from `media`.
    ///
    /// # Errors
    ///
    /// When `target` is not a SIP URI, or there is no address to send to.
    pub fn outgoing(
        now: Instant,
        config: UaConfig,
        target: &str,
        mut media: MediaSession,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Result<Self, UaError> {
        let _ = now;
        let dialog = Dialog::outgoing(&config, target, &mut *rng)?;
        let destination = config.destination(target)?;
        let offer = media.create_offer();
        let mut call = Self::with(config, Role::Caller, dialog, media, rng);
        let cseq = call.dialog.next_cseq();
        let request = call.invite_request(cseq, &offer.to_string(), None)?;
        call.send_invite(request, destination, false, false);
        Ok(call)
    }

    fn with(
        config: UaConfig,
        role: Role,
        dialog: Dialog,
        media: MediaSession,
        rng: Box<dyn RngCore + Send>,
    ) -> Self {
        Self {
            timer: SessionTimer::new(config.session_expires),
            config,
            role,
            state: if role == Role::Caller {
                State::Calling
            } else {
                State::Early
            },
            dialog,
            media,
            auth: DigestClient::default(),
            invite: None,
            last_ack: None,
            cancel_pending: false,
            trying_seen: false,
            ringing_seen: false,
            incoming: None,
            answer_at: None,
            prepared: None,
            unacked: None,
            negotiated: None,
            rng,
            actions: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Takes an incoming INVITE (server transaction `tx`): answers 488 when
    /// its offer cannot be accepted, else 180 Ringing at once and 200 OK
    /// after `answer_delay`. Returns `None` when the request cannot start
    /// a dialog (the caller answers it 400).
    pub fn incoming(
        now: Instant,
        config: UaConfig,
        tx: TransactionId,
        request: &Request,
        media: MediaSession,
        answer_delay: Duration,
        mut rng: Box<dyn RngCore + Send>,
    ) -> Option<Self> {
        let tag = token::tag(&mut *rng);
        let dialog = Dialog::from_request(request, tag)?;
        let mut call = Self::with(config, Role::Callee, dialog, media, rng);
        if request.body().is_empty() {
            // No offer: ours goes in the 2xx, the answer comes in the ACK.
            call.prepared = Some((Some(call.media.create_offer()), None));
        } else {
            match call.media.answer_offer(request.body()) {
                Ok((answer, negotiated)) => call.prepared = Some((Some(answer), Some(negotiated))),
                Err(error) => {
                    tracing::info!(%error, "incoming offer refused");
                    call.respond(tx, request, error.status(), None);
                    call.end(EndReason::NotAcceptable(error.to_string()));
                    return Some(call);
                }
            }
        }
        call.respond(tx, request, StatusCode::RINGING, None);
        call.events.push_back(CallEvent::Ringing);
        call.incoming = Some((tx, request.clone()));
        call.answer_at = Some(now + answer_delay);
        Some(call)
    }

    /// The Call-ID (the driver routes messages by it).
    pub fn call_id(&self) -> &str {
        &self.dialog.call_id
    }

    /// Which side we are.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the call is over.
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    /// Whether the call is up.
    pub fn is_confirmed(&self) -> bool {
        self.state == State::Confirmed
    }

    /// The media as last negotiated.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    // ----- building -----

    fn invite_request(
        &mut self,
        cseq: u32,
        body: &str,
        auth: Option<(HeaderName, String)>,
    ) -> Result<Request, UaError> {
        let mut b = self
            .dialog
            .builder(Method::Invite, cseq)
            .contact(&format!("<{}>", self.config.contact))
            .header(HeaderName::Allow, ALLOW)
            .header(HeaderName::UserAgent, self.config.user_agent.clone());
        for (name, value) in self.timer.request_headers() {
            b = b.header(name, value);
        }
        if let Some((name, value)) = auth {
            b = b.header(name, value);
        }
        Ok(b.body(SDP, body.as_bytes().to_vec()).build()?)
    }

    fn send_invite(
        &mut self,
        request: Request,
        destination: Destination,
        reinvite: bool,
        previous_hold: bool,
    ) {
        self.actions.push_back(Action::Send {
            request: request.clone(),
            destination,
        });
        self.invite = Some(PendingInvite {
            request,
            destination,
            reinvite,
            previous_hold,
        });
    }

    fn in_dialog_destination(&self) -> Result<Destination, UaError> {
        self.config.destination(&self.dialog.next_hop())
    }

    fn respond(
        &mut self,
        tx: TransactionId,
        request: &Request,
        status: StatusCode,
        sdp: Option<&SessionDescription>,
    ) -> Option<Response> {
        let mut b = ResponseBuilder::from_request(request, status)
            .to_tag(&self.dialog.local_tag)
            .header(HeaderName::UserAgent, self.config.user_agent.clone());
        if *request.method() == Method::Invite && status.as_u16() > 100 && status.as_u16() < 300 {
            b = b
                .header(HeaderName::Contact, format!("<{}>", self.config.contact))
                .header(HeaderName::Allow, ALLOW);
            if status.is_success() {
                for (name, value) in self.timer.response_headers() {
                    b = b.header(name, value);
                }
            }
        }
        if let Some(sdp) = sdp {
            b = b.body(SDP, sdp.to_string().into_bytes());
        }
        match b.build() {
            Ok(response) => {
                self.actions.push_back(Action::Respond {
                    tx,
                    response: response.clone(),
                });
                Some(response)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot build response");
                None
            }
        }
    }

    fn end(&mut self, reason: EndReason) {
        if self.state != State::Ended {
            tracing::info!(call_id = %self.dialog.call_id, %reason, "call ended");
            self.state = State::Ended;
            self.answer_at = None;
            self.unacked = None;
            self.events.push_back(CallEvent::Ended(reason));
        }
    }

    fn send_bye(&mut self) {
        self.auth.reset();
        self.send_bye_with(None);
    }

    /// Sends a BYE, with credentials when answering a challenge.
    fn send_bye_with(&mut self, auth: Option<(HeaderName, String)>) {
        let cseq = self.dialog.next_cseq();
        let mut b = self
            .dialog
            .builder(Method::Bye, cseq)
            .header(HeaderName::UserAgent, self.config.user_agent.clone());
        if let Some((name, value)) = auth {
            b = b.header(name, value);
        }
        let request = b.build();
        match (request, self.in_dialog_destination()) {
            (Ok(request), Ok(destination)) => {
                self.actions.push_back(Action::Send {
                    request,
                    destination,
                });
                self.state = State::Terminating;
            }
            (Err(error), _) => {
                tracing::warn!(%error, "cannot build BYE");
                self.end(EndReason::LocalHangup);
            }
            (_, Err(error)) => {
                tracing::warn!(%error, "no route for BYE");
                self.end(EndReason::LocalHangup);
            }
        }
    }

    fn send_ack(&mut self, cseq: u32, body: Option<String>) {
        let branch = token::branch(&mut *self.rng);
        let mut b: RequestBuilder = self.dialog.builder(Method::Ack, cseq).via(
            self.config.transport.as_via_token(),
            &self.config.local_addr.to_string(),
            &branch,
        );
        if let Some(body) = body {
            b = b.body(SDP, body.into_bytes());
        }
        match (b.build(), self.in_dialog_destination()) {
            (Ok(request), Ok(destination)) => {
                self.actions.push_back(Action::SendAck {
                    request: request.clone(),
                    destination,
                });
                self.last_ack = Some((cseq, request, destination));
            }
            (Err(error), _) => tracing::warn!(%error, "cannot build ACK"),
            (_, Err(error)) => tracing::warn!(%error, "no route for ACK"),
        }
    }

    // ----- commands -----

    /// Hangs up: CANCEL before the answer (once a provisional response
    /// allows it), BYE after; as callee, 603 Decline before answering.
    pub fn hangup(&mut self, now: Instant) {
        let _ = now;
        match (self.role, self.state) {
            (_, State::Ended | State::Terminating) => {}
            (Role::Caller, State::Calling) => self.cancel_pending = true,
            (Role::Caller, State::Early) => {
                self.cancel_pending = true;
                self.actions.push_back(Action::CancelInvite);
            }
            (Role::Callee, State::Early | State::Calling) => {
                if let Some((tx, request)) = self.incoming.take() {
                    self.respond(tx, &request, StatusCode::DECLINE, None);
                }
                self.end(EndReason::LocalHangup);
            }
            (_, State::Confirmed) => self.send_bye(),
        }
    }

    /// Puts the call on hold (`true`: re-INVITE with `a=sendonly`) or
    /// resumes it (`false`: `a=sendrecv`).
    ///
    /// # Errors
    ///
    /// When the call is not up or another re-INVITE is still out.
    pub fn set_hold(&mut self, now: Instant, hold: bool) -> Result<(), UaError> {
        let _ = now;
        if self.state != State::Confirmed || self.invite.is_some() || self.unacked.is_some() {
            return Err(UaError::InvalidState(if hold { "hold" } else { "resume" }));
        }
        let previous = self.media.on_hold();
        self.media.set_hold(hold);
        let offer = self.media.create_offer();
        let cseq = self.dialog.next_cseq();
        self.auth.reset();
        let request = self.invite_request(cseq, &offer.to_string(), None)?;
        let destination = self.in_dialog_destination()?;
        self.send_invite(request, destination, true, previous);
        Ok(())
    }

    // ----- inputs -----

    /// A response to one of our requests in this call.
    pub fn handle_response(&mut self, now: Instant, response: &Response) {
        let h = response.headers();
        if h.call_id() != Some(self.dialog.call_id.as_str()) {
            return;
        }
        let Some(cseq) = h.cseq().cloned() else {
            return;
        };
        match cseq.method {
            Method::Invite => self.invite_response(now, cseq.seq, response),
            Method::Bye if response.status().is_final() && self.state == State::Terminating => {
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED
                    || status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
                {
                    let uri = self.dialog.remote_target.clone();
                    let answer = self.auth.answer(
                        response,
                        self.config.credentials.as_ref(),
                        "BYE",
                        &uri,
                        b"",
                        &mut *self.rng,
                    );
                    if let Ok(header) = answer {
                        self.send_bye_with(Some((header.name, header.value)));
                        return;
                    }
                }
                self.end(EndReason::LocalHangup);
            }
            _ => {}
        }
    }

    fn invite_response(&mut self, now: Instant, seq: u32, response: &Response) {
        let status = response.status();
        let pending = match &self.invite {
            Some(p) if p.request.headers().cseq().map(|c| c.seq) == Some(seq) => p.clone(),
            _ => {
                // A retransmitted 2xx (or a fork's): ACK it again.
                if status.is_success() {
                    match &self.last_ack {
                        Some((acked, request, destination)) if *acked == seq => {
                            self.actions.push_back(Action::SendAck {
                                request: request.clone(),
                                destination: *destination,
                            });
                        }
                        _ => {
                            // A 2xx we never expected: ACK and BYE it.
                            self.send_ack(seq, None);
                        }
                    }
                }
                return;
            }
        };
        if status.is_provisional() {
            if pending.reinvite {
                return;
            }
            if status.as_u16() == 100 {
                if !std::mem::replace(&mut self.trying_seen, true) {
                    self.events.push_back(CallEvent::Trying);
                }
                return;
            }
            if self.state == State::Calling {
                self.state = State::Early;
            }
            if response.headers().to_tag().is_some() && self.dialog.remote_tag.is_none() {
                self.dialog.remote_tag = response.headers().to_tag().map(str::to_owned);
            }
            if !std::mem::replace(&mut self.ringing_seen, true) {
                self.events.push_back(CallEvent::Ringing);
            }
            if self.cancel_pending {
                self.actions.push_back(Action::CancelInvite);
            }
            return;
        }
        self.invite = None;
        if status.is_success() {
            if !pending.reinvite {
                self.dialog.confirm(response);
            } else {
                self.dialog.refresh_target(response.headers());
            }
            self.timer.on_response(now, response.headers());
            let result = self.media.process_answer(response.body());
            self.send_ack(seq, None);
            match result {
                Ok(negotiated) => {
                    self.negotiated = Some(negotiated.clone());
                    if pending.reinvite {
                        self.events.push_back(CallEvent::MediaUpdated(negotiated));
                    } else {
                        self.state = State::Confirmed;
                        self.events.push_back(CallEvent::Answered(negotiated));
                        if self.cancel_pending {
                            self.send_bye();
                        }
                    }
                }
                Err(error) => {
                    tracing::info!(%error, "answer refused");
                    if pending.reinvite {
                        self.media.set_hold(pending.previous_hold);
                        self.events.push_back(CallEvent::UpdateFailed {
                            status: StatusCode::NOT_ACCEPTABLE_HERE,
                        });
                    } else {
                        self.state = State::Confirmed;
                        self.send_bye();
                        self.end(EndReason::NotAcceptable(error.to_string()));
                    }
                }
            }
            return;
        }
        if status == StatusCode::SESSION_INTERVAL_TOO_SMALL
            && self.timer.on_too_small(response.headers())
            && self.resend_invite(&pending, None)
        {
            return;
        }
        if crate::auth::is_challenge(status) {
            let uri = pending.request.uri_str().to_owned();
            let answer = self.auth.answer(
                response,
                self.config.credentials.as_ref(),
                "INVITE",
                &uri,
                pending.request.body(),
                &mut *self.rng,
            );
            match answer {
                Ok(header) => {
                    if self.resend_invite(&pending, Some((header.name, header.value))) {
                        return;
                    }
                }
                Err(error) => tracing::info!(%error, "challenge not answered"),
            }
        }
        self.invite_failed(now, &pending, status, response.reason().to_owned());
    }

    /// Sends `pending` again with a new CSeq (and credentials); `false`
    /// when it cannot be built.
    fn resend_invite(
        &mut self,
        pending: &PendingInvite,
        auth: Option<(HeaderName, String)>,
    ) -> bool {
        let cseq = self.dialog.next_cseq();
        let body = String::from_utf8_lossy(pending.request.body()).into_owned();
        match self.invite_request(cseq, &body, auth) {
            Ok(request) => {
                self.send_invite(
                    request,
                    pending.destination,
                    pending.reinvite,
                    pending.previous_hold,
                );
                true
            }
            Err(error) => {
                tracing::warn!(%error, "cannot build INVITE");
                false
            }
        }
    }

    fn invite_failed(
        &mut self,
        now: Instant,
        pending: &PendingInvite,
        status: StatusCode,
        reason: String,
    ) {
        self.invite = None;
        if pending.reinvite {
            self.media.set_hold(pending.previous_hold);
            self.events.push_back(CallEvent::UpdateFailed { status });
            // The dialog is gone (481) or the peer is unreachable (408).
            if matches!(status.as_u16(), 408 | 481) {
                self.send_bye();
            } else {
                self.timer.retry(now);
            }
            return;
        }
        if self.cancel_pending && status == StatusCode::REQUEST_TERMINATED {
            self.end(EndReason::LocalHangup);
        } else {
            self.end(EndReason::Failed { status, reason });
        }
    }

    /// One of our requests got no response (`method` names which).
    pub fn handle_failure(&mut self, now: Instant, method: &Method, failure: Failure) {
        match method {
            Method::Invite => {
                if let Some(pending) = self.invite.clone() {
                    let reason = match failure {
                        Failure::Timeout => "Request Timeout",
                        Failure::TransportError => "Service Unavailable",
                    };
                    self.invite_failed(now, &pending, failure.status(), reason.into());
                }
            }
            Method::Bye => self.end(EndReason::LocalHangup),
            _ => {}
        }
    }

    /// A request inside this call (server transaction `tx`): BYE, a
    /// re-INVITE, OPTIONS or INFO.
    pub fn handle_request(&mut self, now: Instant, tx: TransactionId, request: &Request) {
        let _ = now;
        let h = request.headers();
        if let Some(seq) = h.cseq().map(|c| c.seq) {
            if self.dialog.remote_cseq.is_some_and(|r| seq < r) {
                self.respond(tx, request, StatusCode::SERVER_INTERNAL_ERROR, None);
                return;
            }
            self.dialog.remote_cseq = Some(seq);
        }
        match request.method() {
            Method::Bye => {
                self.respond(tx, request, StatusCode::OK, None);
                if let Some((itx, invite)) = self.incoming.take() {
                    self.respond(itx, &invite, StatusCode::REQUEST_TERMINATED, None);
                }
                self.end(EndReason::RemoteHangup);
            }
            Method::Invite => self.reinvite(now, tx, request),
            Method::Options | Method::Info => {
                self.respond(tx, request, StatusCode::OK, None);
            }
            _ => {
                self.respond(tx, request, StatusCode::NOT_IMPLEMENTED, None);
            }
        }
    }

    fn reinvite(&mut self, now: Instant, tx: TransactionId, request: &Request) {
        if self.state != State::Confirmed {
            self.respond(tx, request, StatusCode::REQUEST_PENDING, None);
            return;
        }
        if self.invite.is_some() || self.unacked.is_some() {
            // Glare (RFC 3261 §14.2).
            self.respond(tx, request, StatusCode::REQUEST_PENDING, None);
            return;
        }
        self.dialog.refresh_target(request.headers());
        self.timer.on_request(now, request.headers());
        if request.body().is_empty() {
            let offer = self.media.create_offer();
            if let Some(response) = self.respond(tx, request, StatusCode::OK, Some(&offer)) {
                self.track_2xx(now, tx, response, true);
            }
            return;
        }
        match self.media.answer_offer(request.body()) {
            Ok((answer, negotiated)) => {
                if let Some(response) = self.respond(tx, request, StatusCode::OK, Some(&answer)) {
                    self.track_2xx(now, tx, response, false);
                }
                self.negotiated = Some(negotiated.clone());
                self.events.push_back(CallEvent::MediaUpdated(negotiated));
            }
            Err(error) => {
                self.respond(tx, request, error.status(), None);
            }
        }
    }

    fn track_2xx(
        &mut self,
        now: Instant,
        tx: TransactionId,
        response: Response,
        offer_in_2xx: bool,
    ) {
        self.unacked = Some(Unacked {
            tx,
            response,
            next: now + T1,
            interval: T1,
            give_up: now + T1 * 64,
            offer_in_2xx,
        });
    }

    /// An ACK for our 2xx (it belongs to no transaction).
    pub fn handle_ack(&mut self, now: Instant, request: &Request) {
        let _ = now;
        let Some(unacked) = self.unacked.take() else {
            return;
        };
        if !unacked.offer_in_2xx {
            return;
        }
        match self.media.process_answer(request.body()) {
            Ok(negotiated) => {
                let first = self.negotiated.is_none();
                self.negotiated = Some(negotiated.clone());
                self.events.push_back(if first {
                    CallEvent::Answered(negotiated)
                } else {
                    CallEvent::MediaUpdated(negotiated)
                });
            }
            Err(error) => {
                tracing::info!(%error, "answer in ACK refused");
                self.send_bye();
                self.end(EndReason::NotAcceptable(error.to_string()));
            }
        }
    }

    /// The caller cancelled our pending INVITE (the endpoint answered the
    /// CANCEL already): answer the INVITE 487.
    pub fn handle_cancel(&mut self, now: Instant) {
        let _ = now;
        if let Some((tx, request)) = self.incoming.take() {
            self.respond(tx, &request, StatusCode::REQUEST_TERMINATED, None);
            self.end(EndReason::RemoteHangup);
        }
    }

    fn answer(&mut self, now: Instant) {
        let Some((tx, request)) = self.incoming.take() else {
            return;
        };
        let Some((sdp, negotiated)) = self.prepared.take() else {
            return;
        };
        self.timer.on_request(now, request.headers());
        let Some(response) = self.respond(tx, &request, StatusCode::OK, sdp.as_ref()) else {
            self.end(EndReason::Failed {
                status: StatusCode::SERVER_INTERNAL_ERROR,
                reason: "cannot build 200".into(),
            });
            return;
        };
        self.state = State::Confirmed;
        let offer_in_2xx = negotiated.is_none();
        self.track_2xx(now, tx, response, offer_in_2xx);
        if let Some(negotiated) = negotiated {
            self.negotiated = Some(negotiated.clone());
            self.events.push_back(CallEvent::Answered(negotiated));
        }
    }

    /// Answers when the auto-answer delay has passed; retransmits an
    /// unacknowledged 2xx; gives up on it after 64*T1 (BYE).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.answer_at.is_some_and(|at| now >= at) {
            self.answer_at = None;
            self.answer(now);
        }
        if self.state == State::Confirmed {
            match self.timer.take_due(now) {
                Some(Due::Refresh) => {
                    let hold = self.media.on_hold();
                    if self.set_hold(now, hold).is_err() {
                        self.timer.retry(now);
                    }
                }
                Some(Due::Expire) => {
                    tracing::info!(call_id = %self.dialog.call_id, "session timer expired");
                    self.send_bye();
                    self.end(EndReason::SessionExpired);
                    return;
                }
                None => {}
            }
        }
        if let Some(mut unacked) = self.unacked.take() {
            if now >= unacked.give_up {
                tracing::info!(call_id = %self.dialog.call_id, "no ACK for our 2xx");
                self.send_bye();
                return;
            }
            if now >= unacked.next {
                if !self.config.transport.is_reliable() {
                    self.actions.push_back(Action::Respond {
                        tx: unacked.tx,
                        response: unacked.response.clone(),
                    });
                }
                unacked.interval = (unacked.interval * 2).min(T2);
                unacked.next = now + unacked.interval;
            }
            self.unacked = Some(unacked);
        }
    }

    /// When [`Call::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retransmit = self.unacked.as_ref().map(|u| u.next.min(u.give_up));
        let timer = (self.state == State::Confirmed)
            .then(|| self.timer.poll_timeout())
            .flatten();
        [self.answer_at, retransmit, timer]
            .into_iter()
            .flatten()
            .min()
    }

    /// The session timer in force (RFC 4028): the interval in seconds and
    /// whether we refresh.
    pub fn session_timer(&self) -> Option<(u32, bool)> {
        self.timer.active()
    }

    /// The next SIP action.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }
}
