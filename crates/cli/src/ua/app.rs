//! The user agent as an [`App`] on the network driver: a thin adapter that
//! hands the endpoint's events and the command's requests to
//! [`switchboard_ua::UserAgent`], binds the RTP sockets of the calls it
//! takes, and turns its events into [`Report`]s for the command's task.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Endpoint, Event};
use switchboard_net::App;
use switchboard_proto::StatusCode;
use switchboard_ua::{
    CallEvent, Delivery, MediaPolicy, MediaSession, Presence, PublicationEvent, RegistrationEvent,
    SubscriptionEvent, UaConfig, UaEvent, UserAgent,
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
    /// Subscribe to `package` events of `target`.
    Subscribe {
        target: String,
        package: &'static str,
        expires: u32,
    },
    /// Publish our presence (or change what is published).
    Publish {
        presence: Box<Presence>,
        expires: u32,
    },
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
    Subscription(SubscriptionEvent),
    Publication(PublicationEvent),
    /// A command could not be carried out.
    Error(String),
}

/// The application state on the driver: the user agent, once configured.
pub(crate) struct UaApp {
    ua: Option<UserAgent>,
    answer: Option<AnswerMode>,
    reports: UnboundedSender<Report>,
}

impl std::fmt::Debug for UaApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UaApp")
            .field("ua", &self.ua)
            .finish_non_exhaustive()
    }
}

impl UaApp {
    pub(crate) fn new(reports: UnboundedSender<Report>) -> Self {
        Self {
            ua: None,
            answer: None,
            reports,
        }
    }

    fn report(&self, report: Report) {
        let _ = self.reports.send(report);
    }

    /// Carries out a command from the command's task.
    fn command(&mut self, now: Instant, endpoint: &mut Endpoint, message: Msg) {
        if let Msg::Configure { config, answer } = message {
            let mut ua = UserAgent::new(*config, Box::new(StdRng::from_os_rng()));
            ua.set_answering(answer.is_some());
            self.ua = Some(ua);
            self.answer = answer;
            return;
        }
        let Some(ua) = &mut self.ua else {
            return;
        };
        let failed = match message {
            Msg::Configure { .. } => Ok(()),
            Msg::Register { expires } => ua.register(now, endpoint, expires),
            Msg::Dial { target, media } => ua.dial(now, endpoint, &target, *media).map(drop),
            Msg::SendMessage { target, text } => {
                ua.send_message(now, endpoint, &target, &text).map(drop)
            }
            Msg::Subscribe {
                target,
                package,
                expires,
            } => ua
                .subscribe(now, endpoint, &target, package, expires)
                .map(drop),
            Msg::Publish { presence, expires } => ua.publish(now, endpoint, *presence, expires),
            Msg::Hangup => {
                ua.hangup_all(now, endpoint);
                Ok(())
            }
            Msg::Hold(hold) => {
                ua.hold_all(now, endpoint, hold);
                Ok(())
            }
            Msg::Stop => {
                ua.stop(now, endpoint);
                Ok(())
            }
        };
        if let Err(error) = failed {
            self.report(Report::Error(error.to_string()));
        }
    }

    /// Reports the user agent's events; takes incoming calls with RTP
    /// sockets of their own.
    fn forward(&mut self, now: Instant, endpoint: &mut Endpoint) {
        let Some(ua) = &mut self.ua else {
            return;
        };
        while let Some(event) = ua.poll_event() {
            let report = match event {
                UaEvent::IncomingCall { call_id, from } => {
                    let Some(answer) = &self.answer else {
                        let _ = ua.reject(now, endpoint, &call_id, StatusCode::BUSY_HERE);
                        continue;
                    };
                    let sockets = match bind_pair(answer.local_ip) {
                        Ok(s) => s,
                        Err(error) => {
                            tracing::warn!(%error, "cannot bind RTP sockets");
                            let status = StatusCode::SERVICE_UNAVAILABLE;
                            let _ = ua.reject(now, endpoint, &call_id, status);
                            continue;
                        }
                    };
                    let policy = answer.policy.clone();
                    let media =
                        MediaSession::new(policy, sockets.rtp_addr(), &mut StdRng::from_os_rng());
                    let _ = self.reports.send(Report::Incoming {
                        call_id: call_id.clone(),
                        from,
                        sockets,
                    });
                    if let Err(error) = ua.accept(now, endpoint, &call_id, media, answer.delay) {
                        tracing::warn!(%error, "incoming call not taken");
                    }
                    continue;
                }
                UaEvent::Registration(event) => Report::Registration(event),
                UaEvent::Call { call_id, event } => Report::Call { call_id, event },
                UaEvent::Delivered { delivery, .. } => Report::Delivered(delivery),
                UaEvent::Message { from, text } => Report::Message { from, text },
                UaEvent::Subscription { event, .. } => Report::Subscription(event),
                UaEvent::Publication(event) => Report::Publication(event),
                other => {
                    tracing::debug!(?other, "user-agent event not reported");
                    continue;
                }
            };
            let _ = self.reports.send(report);
        }
    }
}

impl App for UaApp {
    type Message = Msg;

    fn on_event(&mut self, now: Instant, endpoint: &mut Endpoint, event: Event) {
        if let Some(ua) = &mut self.ua {
            ua.handle_event(now, endpoint, event);
        }
        self.forward(now, endpoint);
    }

    fn on_message(&mut self, now: Instant, endpoint: &mut Endpoint, message: Msg) {
        self.command(now, endpoint, message);
        self.forward(now, endpoint);
    }

    fn poll_timeout(&self, _now: Instant) -> Option<Instant> {
        self.ua.as_ref().and_then(UserAgent::poll_timeout)
    }

    fn handle_timeout(&mut self, now: Instant, endpoint: &mut Endpoint) {
        if let Some(ua) = &mut self.ua {
            ua.handle_timeout(now, endpoint);
        }
        self.forward(now, endpoint);
    }
}
