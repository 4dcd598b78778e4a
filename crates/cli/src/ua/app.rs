//! The user agent as an [`App`] on the network driver: routes endpoint
//! events to the registration, calls and messages of `switchboard-ua`,
//! carries out their actions with the endpoint, and reports their events
//! to the command's task.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Endpoint, Event, TransactionId};
use switchboard_net::App;
use switchboard_proto::{HeaderName, Message, Method, Request, ResponseBuilder, StatusCode};
use switchboard_ua::{
    Action, Call, CallEvent, Delivery, Failure, MediaPolicy, MediaSession, Pager, Registration,
    RegistrationEvent, UaConfig,
};
use tokio::sync::mpsc::UnboundedSender;

use super::media::{RtpSockets, bind_pair};

/// How incoming calls are answered.
#[derive(Debug, Clone)]
pub(crate) struct AnswerMode {
    pub(crate) policy: MediaPolicy,
    pub(crate) delay: Duration,
    pub(crate) local_ip: IpAddr,
}

/// Commands from the command's task.
#[derive(Debug)]
pub(crate) enum Msg {
    /// Who we are (sent first, once the listener is bound).
    Configure {
        config: Box<UaConfig>,
        answer: Option<AnswerMode>,
    },
    /// Register for `expires` seconds and keep it refreshed.
    Register { expires: u32 },
    /// Place a call with this media session.
    Dial {
        target: String,
        media: Box<MediaSession>,
    },
    /// Send a MESSAGE.
    SendMessage { target: String, text: String },
    /// Hang up every call.
    Hangup,
    /// Put every call on hold (`true`) or resume it (re-INVITE).
    Hold(bool),
    /// Hang up every call and unregister.
    Stop,
}

/// What the command's task hears.
#[derive(Debug)]
pub(crate) enum Report {
    Registration(RegistrationEvent),
    /// An incoming call was taken; its RTP sockets.
    Incoming {
        call_id: String,
        from: String,
        sockets: RtpSockets,
    },
    Call {
        call_id: String,
        event: CallEvent,
    },
    Delivered(Delivery),
    Message {
        from: String,
        text: String,
    },
    /// A command could not be carried out.
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    Registration,
    Call(String),
    Pager,
}

/// The application state on the driver.
pub(crate) struct UaApp {
    config: Option<UaConfig>,
    answer: Option<AnswerMode>,
    registration: Option<Registration>,
    calls: HashMap<String, Call>,
    pager: Option<Pager>,
    owners: HashMap<TransactionId, (Owner, Method)>,
    invites: HashMap<String, TransactionId>,
    failures: Vec<(Owner, Method, Failure)>,
    reports: UnboundedSender<Report>,
    rng: StdRng,
}

impl std::fmt::Debug for UaApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UaApp")
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

impl UaApp {
    pub(crate) fn new(reports: UnboundedSender<Report>) -> Self {
        Self {
            config: None,
            answer: None,
            registration: None,
            calls: HashMap::new(),
            pager: None,
            owners: HashMap::new(),
            invites: HashMap::new(),
            failures: Vec::new(),
            reports,
            rng: StdRng::from_os_rng(),
        }
    }

    fn child_rng(&mut self) -> Box<StdRng> {
        Box::new(StdRng::from_rng(&mut self.rng))
    }

    fn report(&self, report: Report) {
        let _ = self.reports.send(report);
    }

    fn execute(&mut self, now: Instant, endpoint: &mut Endpoint, owner: &Owner, action: Action) {
        match action {
            Action::Send {
                request,
                destination,
            } => {
                let method = request.method().clone();
                match endpoint.send_request(now, request, destination) {
                    Ok(tx) => {
                        if let (Owner::Call(id), Method::Invite) = (owner, &method) {
                            self.invites.insert(id.clone(), tx);
                        }
                        self.owners.insert(tx, (owner.clone(), method));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot send request");
                        self.failures
                            .push((owner.clone(), method, Failure::TransportError));
                    }
                }
            }
            Action::SendAck {
                request,
                destination,
            } => endpoint.send_stateless(&Message::Request(request), destination),
            Action::Respond { tx, response } => {
                if let Err(error) = endpoint.respond(now, tx, response) {
                    tracing::debug!(%error, "response not sent");
                }
            }
            Action::CancelInvite => {
                let tx = match owner {
                    Owner::Call(id) => self.invites.get(id).copied(),
                    _ => None,
                };
                if let Some(tx) = tx {
                    if let Err(error) = endpoint.cancel(now, tx) {
                        tracing::debug!(%error, "CANCEL not sent");
                    }
                }
            }
            _ => {}
        }
    }

    /// Carries out every queued action and reports every event.
    fn pump(&mut self, now: Instant, endpoint: &mut Endpoint) {
        loop {
            let mut busy = false;
            for (owner, method, failure) in std::mem::take(&mut self.failures) {
                busy = true;
                self.fail(now, &owner, &method, failure);
            }
            while let Some(action) = self
                .registration
                .as_mut()
                .and_then(Registration::poll_action)
            {
                busy = true;
                self.execute(now, endpoint, &Owner::Registration, action);
            }
            while let Some(event) = self
                .registration
                .as_mut()
                .and_then(Registration::poll_event)
            {
                self.report(Report::Registration(event));
            }
            let ids: Vec<String> = self.calls.keys().cloned().collect();
            for id in ids {
                let owner = Owner::Call(id.clone());
                while let Some(action) = self.calls.get_mut(&id).and_then(Call::poll_action) {
                    busy = true;
                    self.execute(now, endpoint, &owner, action);
                }
                while let Some(event) = self.calls.get_mut(&id).and_then(Call::poll_event) {
                    self.report(Report::Call {
                        call_id: id.clone(),
                        event,
                    });
                }
                if self.calls.get(&id).is_some_and(Call::is_ended) {
                    self.calls.remove(&id);
                    self.invites.remove(&id);
                }
            }
            while let Some(action) = self.pager.as_mut().and_then(Pager::poll_action) {
                busy = true;
                self.execute(now, endpoint, &Owner::Pager, action);
            }
            if let Some(result) = self.pager.as_ref().and_then(Pager::result).cloned() {
                self.pager = None;
                self.report(Report::Delivered(result));
            }
            if !busy {
                break;
            }
        }
    }

    fn fail(&mut self, now: Instant, owner: &Owner, method: &Method, failure: Failure) {
        match owner {
            Owner::Registration => {
                if let Some(r) = &mut self.registration {
                    r.handle_failure(now, failure);
                }
            }
            Owner::Call(id) => {
                if let Some(c) = self.calls.get_mut(id) {
                    c.handle_failure(now, method, failure);
                }
            }
            Owner::Pager => {
                if let Some(p) = &mut self.pager {
                    p.handle_failure(now, failure);
                }
            }
        }
    }

    fn simple_response(
        now: Instant,
        endpoint: &mut Endpoint,
        tx: TransactionId,
        request: &Request,
        status: StatusCode,
    ) {
        let tag = endpoint.new_tag();
        let response = ResponseBuilder::from_request(request, status)
            .to_tag(&tag)
            .header(
                HeaderName::Allow,
                "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE",
            )
            .build();
        if let Ok(response) = response {
            let _ = endpoint.respond(now, tx, response);
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        tx: TransactionId,
        request: Request,
    ) {
        let call_id = request.headers().call_id().unwrap_or_default().to_owned();
        if let Some(call) = self.calls.get_mut(&call_id) {
            call.handle_request(now, tx, &request);
            return;
        }
        match request.method() {
            Method::Invite => self.on_invite(now, endpoint, tx, &request),
            Method::Message => {
                let from = request
                    .headers()
                    .get(HeaderName::From)
                    .unwrap_or_default()
                    .to_owned();
                let text = String::from_utf8_lossy(request.body()).into_owned();
                Self::simple_response(now, endpoint, tx, &request, StatusCode::OK);
                self.report(Report::Message { from, text });
            }
            Method::Options => Self::simple_response(now, endpoint, tx, &request, StatusCode::OK),
            Method::Bye | Method::Cancel | Method::Info | Method::Update | Method::Prack => {
                Self::simple_response(
                    now,
                    endpoint,
                    tx,
                    &request,
                    StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                );
            }
            _ => Self::simple_response(now, endpoint, tx, &request, StatusCode::NOT_IMPLEMENTED),
        }
    }

    fn on_invite(
        &mut self,
        now: Instant,
        endpoint: &mut Endpoint,
        tx: TransactionId,
        request: &Request,
    ) {
        let (Some(config), Some(answer)) = (self.config.clone(), self.answer.clone()) else {
            Self::simple_response(now, endpoint, tx, request, StatusCode::BUSY_HERE);
            return;
        };
        if !self.calls.is_empty() {
            Self::simple_response(now, endpoint, tx, request, StatusCode::BUSY_HERE);
            return;
        }
        let sockets = match bind_pair(answer.local_ip) {
            Ok(s) => s,
            Err(error) => {
                tracing::warn!(%error, "cannot bind RTP sockets");
                Self::simple_response(now, endpoint, tx, request, StatusCode::SERVICE_UNAVAILABLE);
                return;
            }
        };
        let media = MediaSession::new(answer.policy.clone(), sockets.rtp_addr(), &mut self.rng);
        let rng = self.child_rng();
        let Some(call) = Call::incoming(now, config, tx, request, media, answer.delay, rng) else {
            Self::simple_response(now, endpoint, tx, request, StatusCode::BAD_REQUEST);
            return;
        };
        let call_id = call.call_id().to_owned();
        let from = request
            .headers()
            .get(HeaderName::From)
            .unwrap_or_default()
            .to_owned();
        self.report(Report::Incoming {
            call_id: call_id.clone(),
            from,
            sockets,
        });
        self.calls.insert(call_id, call);
    }

    fn on_message_cmd(&mut self, now: Instant, message: Msg) {
        match message {
            Msg::Configure { config, answer } => {
                self.config = Some(*config);
                self.answer = answer;
            }
            Msg::Register { expires } => {
                let Some(config) = self.config.clone() else {
                    return;
                };
                let rng = self.child_rng();
                match Registration::new(config, expires, rng) {
                    Ok(mut r) => {
                        r.start(now);
                        self.registration = Some(r);
                    }
                    Err(error) => self.report(Report::Error(error.to_string())),
                }
            }
            Msg::Dial { target, media } => {
                let Some(config) = self.config.clone() else {
                    return;
                };
                let rng = self.child_rng();
                match Call::outgoing(now, config, &target, *media, rng) {
                    Ok(call) => {
                        self.calls.insert(call.call_id().to_owned(), call);
                    }
                    Err(error) => self.report(Report::Error(error.to_string())),
                }
            }
            Msg::SendMessage { target, text } => {
                let Some(config) = self.config.clone() else {
                    return;
                };
                let rng = self.child_rng();
                match Pager::send(now, config, &target, &text, rng) {
                    Ok(p) => self.pager = Some(p),
                    Err(error) => self.report(Report::Error(error.to_string())),
                }
            }
            Msg::Hangup => {
                for call in self.calls.values_mut() {
                    call.hangup(now);
                }
            }
            Msg::Hold(hold) => {
                for call in self.calls.values_mut() {
                    if let Err(error) = call.set_hold(now, hold) {
                        tracing::warn!(%error, "hold/resume not sent");
                    }
                }
            }
            Msg::Stop => {
                for call in self.calls.values_mut() {
                    call.hangup(now);
                }
                match &mut self.registration {
                    Some(r) => r.stop(now),
                    None => self.report(Report::Registration(RegistrationEvent::Unregistered)),
                }
            }
        }
    }
}

impl App for UaApp {
    type Message = Msg;

    fn on_event(&mut self, now: Instant, endpoint: &mut Endpoint, event: Event) {
        match event {
            Event::Request { tx, request, .. } => self.on_request(now, endpoint, tx, request),
            Event::Ack { request, .. } => {
                let id = request.headers().call_id().unwrap_or_default();
                if let Some(call) = self.calls.get_mut(id) {
                    call.handle_ack(now, &request);
                }
            }
            Event::Cancelled { invite_request, .. } => {
                let id = invite_request.headers().call_id().unwrap_or_default();
                if let Some(call) = self.calls.get_mut(id) {
                    call.handle_cancel(now);
                }
            }
            Event::Response { tx, response, .. } => match self.owners.get(&tx) {
                Some((Owner::Registration, _)) => {
                    if let Some(r) = &mut self.registration {
                        r.handle_response(now, &response);
                    }
                }
                Some((Owner::Call(id), _)) => {
                    if let Some(c) = self.calls.get_mut(id) {
                        c.handle_response(now, &response);
                    }
                }
                Some((Owner::Pager, _)) => {
                    if let Some(p) = &mut self.pager {
                        p.handle_response(now, &response);
                    }
                }
                None => {}
            },
            Event::StrayResponse { response, .. } => {
                let id = response.headers().call_id().unwrap_or_default();
                if let Some(c) = self.calls.get_mut(id) {
                    c.handle_response(now, &response);
                }
            }
            Event::Timeout { tx } | Event::TransportError { tx } => {
                let failure = if matches!(event, Event::Timeout { .. }) {
                    Failure::Timeout
                } else {
                    Failure::TransportError
                };
                if let Some((owner, method)) = self.owners.get(&tx).cloned() {
                    self.fail(now, &owner, &method, failure);
                }
            }
            Event::Terminated { tx } => {
                self.owners.remove(&tx);
            }
            _ => {}
        }
        self.pump(now, endpoint);
    }

    fn on_message(&mut self, now: Instant, endpoint: &mut Endpoint, message: Msg) {
        self.on_message_cmd(now, message);
        self.pump(now, endpoint);
    }

    fn poll_timeout(&self, _now: Instant) -> Option<Instant> {
        self.registration
            .as_ref()
            .and_then(Registration::poll_timeout)
            .into_iter()
            .chain(self.calls.values().filter_map(Call::poll_timeout))
            .min()
    }

    fn handle_timeout(&mut self, now: Instant, endpoint: &mut Endpoint) {
        if let Some(r) = &mut self.registration {
            if r.poll_timeout().is_some_and(|t| t <= now) {
                r.handle_timeout(now);
            }
        }
        for call in self.calls.values_mut() {
            if call.poll_timeout().is_some_and(|t| t <= now) {
                call.handle_timeout(now);
            }
        }
        self.pump(now, endpoint);
    }
}
