//! Two [`UserAgent`]s, each on a real `switchboard_core::Endpoint`, on the
//! simulated network of `switchboard-testkit` (loss-free UDP, 10 ms one
//! way) with its virtual clock. The harness plays the front end: it
//! accepts incoming calls with a media session, and, as a proxy in front
//! of bob would, can challenge or refuse some requests before the user
//! agent sees them.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Endpoint, Event, TransactionId, Transport};
use switchboard_proto::digest::{self, Algorithm, Credentials as Creds};
use switchboard_proto::{HeaderName, Method, Request, ResponseBuilder, StatusCode};
use switchboard_testkit::{NetEvent, Network, NodeId, NodeSpec};

use crate::config::uri_destination;
use crate::dialog::Dialog;
use crate::{
    Call, CallEvent, Credentials, MediaPolicy, MediaSession, SrtpPolicy, UaConfig, UaError,
    UaEvent, UserAgent,
};

/// The token of each agent's user-agent timer on the network.
const UA_TIMER: u64 = 1;

pub(super) struct Agent {
    pub(super) node: NodeId,
    pub(super) addr: SocketAddr,
    pub(super) ua: UserAgent,
    /// Call events, in order.
    pub(super) events: Vec<CallEvent>,
    /// Every other user-agent event, in order.
    pub(super) other: Vec<UaEvent>,
    pub(super) answer_delay: Duration,
    pub(super) srtp: SrtpPolicy,
    /// Answer INVITEs without Proxy-Authorization with 407 (as a proxy
    /// would), and count the challenges sent.
    pub(super) challenge: bool,
    pub(super) challenges: u32,
    /// The same for BYE.
    pub(super) challenge_bye: bool,
    /// Every request method this agent received, in order.
    pub(super) received: Vec<Method>,
    /// Answer INVITEs asking for a shorter session interval with 422 and
    /// this Min-SE.
    pub(super) min_se: Option<u32>,
    /// Session-Expires values of the INVITEs received.
    pub(super) session_expires: Vec<String>,
    /// Take incoming calls at once (else they wait for the test).
    pub(super) auto_accept: bool,
    /// Act as a registrar: answer REGISTER 200 granting this many
    /// seconds (0 when the request asks for 0).
    pub(super) registrar: Option<u32>,
    /// Act as a presence notifier: answer SUBSCRIBE 200 (granting what
    /// is asked, at most this many seconds) and NOTIFY at once with an
    /// open PIDF (terminated when the SUBSCRIBE asks for 0).
    pub(super) notifier: Option<u32>,
    /// The SUBSCRIBEs received, in order.
    pub(super) subscribes: Vec<Request>,
    notify_cseq: u32,
    seed: u64,
}

impl Agent {
    fn new(node: NodeId, user: &str, addr: SocketAddr, seed: u64) -> Self {
        let mut config =
            UaConfig::new(&format!("sip:{user}@127.0.0.1"), Transport::Udp, addr).unwrap();
        config.credentials = Some(Credentials {
            username: user.into(),
            password: "secret".into(),
        });
        let mut ua = UserAgent::new(config, Box::new(StdRng::seed_from_u64(seed)));
        ua.set_answering(true);
        Self {
            node,
            addr,
            ua,
            events: Vec::new(),
            other: Vec::new(),
            answer_delay: Duration::from_millis(500),
            srtp: SrtpPolicy::Required,
            challenge: false,
            challenges: 0,
            challenge_bye: false,
            received: Vec::new(),
            min_se: None,
            session_expires: Vec::new(),
            auto_accept: true,
            registrar: None,
            notifier: None,
            subscribes: Vec::new(),
            notify_cseq: 0,
            seed,
        }
    }

    /// The user agent's settings, for a test to change before it acts.
    pub(super) fn config_mut(&mut self) -> &mut UaConfig {
        self.ua.config_mut()
    }

    /// The one call, while it lasts.
    pub(super) fn call(&self) -> Option<&Call> {
        self.ua.calls().next()
    }

    fn call_id(&self) -> String {
        self.call()
            .map(|c| c.call_id().to_owned())
            .expect("a call in progress")
    }

    pub(super) fn media(&self, port: u16) -> MediaSession {
        let policy = MediaPolicy {
            srtp: self.srtp,
            ..MediaPolicy::default()
        };
        let local = SocketAddr::new(self.addr.ip(), port);
        MediaSession::new(policy, local, &mut StdRng::seed_from_u64(self.seed + 100))
    }

    fn rtp_port(&self) -> u16 {
        self.addr.port() + 10_000
    }

    /// What a proxy in front of this agent does before the agent sees the
    /// request: challenge it, or refuse a short session interval. True
    /// when it answered.
    fn intercept(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        tx: TransactionId,
        r: &Request,
    ) -> bool {
        let new_call = r
            .headers()
            .call_id()
            .is_none_or(|id| self.ua.call(id).is_none());
        match r.method() {
            Method::Invite => {
                let se = r.headers().get(HeaderName::SessionExpires).unwrap_or("");
                self.session_expires.push(se.to_owned());
                let asked = se
                    .split(';')
                    .next()
                    .and_then(|v| v.trim().parse::<u32>().ok());
                if let (Some(min), Some(asked)) = (self.min_se, asked) {
                    if asked < min && new_call {
                        let resp = ResponseBuilder::from_request(
                            r,
                            StatusCode::SESSION_INTERVAL_TOO_SMALL,
                        )
                        .to_tag("x")
                        .header(HeaderName::MinSe, min.to_string())
                        .build()
                        .unwrap();
                        ep.respond(now, tx, resp).unwrap();
                        return true;
                    }
                }
                if new_call && self.challenge && !authorized(r, "INVITE") {
                    self.challenges += 1;
                    challenge(now, ep, tx, r);
                    return true;
                }
                false
            }
            Method::Register if self.registrar.is_some() => {
                let asked = r.headers().get(HeaderName::Expires).unwrap_or("0");
                let granted = if asked == "0" {
                    0
                } else {
                    self.registrar.unwrap_or(0)
                };
                let contact = r.headers().get(HeaderName::Contact).unwrap_or("*");
                let resp = ResponseBuilder::from_request(r, StatusCode::OK)
                    .to_tag("reg")
                    .header(HeaderName::Contact, format!("{contact};expires={granted}"))
                    .build()
                    .unwrap();
                ep.respond(now, tx, resp).unwrap();
                true
            }
            Method::Subscribe => {
                self.subscribes.push(r.clone());
                let Some(max) = self.notifier else {
                    return false;
                };
                self.notify(ep, now, tx, r, max);
                true
            }
            Method::Bye if self.challenge_bye && !authorized(r, "BYE") => {
                self.challenges += 1;
                challenge(now, ep, tx, r);
                true
            }
            _ => false,
        }
    }

    /// The notifier's part: 200 to the SUBSCRIBE, then a NOTIFY.
    fn notify(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        tx: TransactionId,
        r: &Request,
        max: u32,
    ) {
        let asked: u32 = r
            .headers()
            .get(HeaderName::Expires)
            .and_then(|v| v.parse().ok())
            .unwrap_or(3600);
        let granted = asked.min(max);
        let ok = ResponseBuilder::from_request(r, StatusCode::OK)
            .to_tag("ntf")
            .header(HeaderName::Contact, format!("<sip:bob@{}>", self.addr))
            .header(HeaderName::Expires, granted.to_string())
            .build()
            .unwrap();
        ep.respond(now, tx, ok).unwrap();
        let dialog = Dialog::from_request(r, "ntf".into()).unwrap();
        self.notify_cseq += 1;
        let state = if granted == 0 {
            "terminated;reason=timeout".to_owned()
        } else {
            format!("active;expires={granted}")
        };
        let pidf = crate::Presence::from_status("open")
            .with_note(Some("at lunch".into()))
            .to_pidf("sip:bob@127.0.0.1", "t1");
        let notify = dialog
            .builder(Method::Notify, self.notify_cseq)
            .contact(&format!("<sip:bob@{}>", self.addr))
            .header(HeaderName::Event, "presence")
            .header(HeaderName::SubscriptionState, state)
            .body(crate::PIDF, pidf.into_bytes())
            .build()
            .unwrap();
        let to = uri_destination(&dialog.remote_target, Transport::Udp).unwrap();
        ep.send_request(now, notify, to).unwrap();
    }

    fn on_event(&mut self, ep: &mut Endpoint, now: Instant, event: Event) {
        match &event {
            Event::Request { tx, request, .. } => {
                self.received.push(request.method().clone());
                if self.intercept(ep, now, *tx, request) {
                    return;
                }
            }
            Event::Ack { .. } => self.received.push(Method::Ack),
            Event::Cancelled { .. } => self.received.push(Method::Cancel),
            _ => {}
        }
        self.ua.handle_event(now, ep, event);
        self.drain(ep, now);
    }

    fn on_timeout(&mut self, ep: &mut Endpoint, now: Instant) {
        self.ua.handle_timeout(now, ep);
        self.drain(ep, now);
    }

    /// The front end's part: takes incoming calls, records the rest.
    fn drain(&mut self, ep: &mut Endpoint, now: Instant) {
        while let Some(event) = self.ua.poll_event() {
            match event {
                UaEvent::IncomingCall { call_id, .. } if self.auto_accept => {
                    let media = self.media(self.rtp_port());
                    self.ua
                        .accept(now, ep, &call_id, media, self.answer_delay)
                        .unwrap();
                }
                UaEvent::Call { event, .. } => self.events.push(event),
                other => self.other.push(other),
            }
        }
    }
}

/// The proxy's check: the request carries alice's right digest.
fn authorized(request: &Request, method: &str) -> bool {
    let Some(value) = request.headers().get(HeaderName::ProxyAuthorization) else {
        return false;
    };
    let Ok(Creds::Digest(c)) = Creds::parse(value) else {
        return false;
    };
    let ha1 = digest::ha1(Algorithm::Md5, "alice", "proxy", "secret");
    c.verify(method, b"", &ha1).unwrap_or(false)
}

fn challenge(now: Instant, ep: &mut Endpoint, tx: TransactionId, request: &Request) {
    let resp = ResponseBuilder::from_request(request, StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        .to_tag("proxy")
        .header(
            HeaderName::ProxyAuthenticate,
            r#"Digest realm="proxy", nonce="n0nce", qop="auth""#,
        )
        .build()
        .unwrap();
    ep.respond(now, tx, resp).unwrap();
}

/// Which agent a command is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Who {
    A,
    B,
}

/// Alice (`a`, 127.0.0.1:5060) and bob (`b`, 127.0.0.1:5070) on one
/// simulated network.
pub(super) struct Net {
    pub(super) sim: Network,
    pub(super) a: Agent,
    pub(super) b: Agent,
}

impl Net {
    pub(super) fn new() -> Self {
        let mut sim = Network::new(1);
        let a_addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let b_addr: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        let a = sim.add_node(NodeSpec::new("alice", a_addr).transports([Transport::Udp]));
        let b = sim.add_node(NodeSpec::new("bob", b_addr).transports([Transport::Udp]));
        Self {
            sim,
            a: Agent::new(a, "alice", a_addr, 10),
            b: Agent::new(b, "bob", b_addr, 20),
        }
    }

    /// Loses every message from alice to bob whose first line starts with
    /// `prefix`, from now on.
    pub(super) fn drop_to_b(&mut self, prefix: &'static str) {
        let a = self.a.node;
        self.sim
            .drop_all(move |p| p.from == a && p.first_line.starts_with(prefix));
    }

    /// Runs `f` on one agent's user agent and endpoint now, then lets the
    /// front end handle what came of it.
    pub(super) fn command<R>(
        &mut self,
        who: Who,
        f: impl FnOnce(&mut UserAgent, &mut Endpoint, Instant) -> R,
    ) -> R {
        let agent = match who {
            Who::A => &mut self.a,
            Who::B => &mut self.b,
        };
        let r = self.sim.with_endpoint(agent.node, |ep, now| {
            let r = f(&mut agent.ua, ep, now);
            agent.drain(ep, now);
            r
        });
        self.arm_timers();
        r
    }

    /// Alice calls `target`.
    pub(super) fn dial(&mut self, target: &str) {
        let media = self.a.media(self.a.rtp_port());
        self.command(Who::A, |ua, ep, now| ua.dial(now, ep, target, media))
            .unwrap();
    }

    /// `who` hangs up its call.
    pub(super) fn hangup(&mut self, who: Who) {
        self.command(who, |ua, ep, now| ua.hangup_all(now, ep));
    }

    /// `who` puts its call on hold or resumes it.
    pub(super) fn hold(&mut self, who: Who, hold: bool) -> Result<(), UaError> {
        let id = match who {
            Who::A => self.a.call_id(),
            Who::B => self.b.call_id(),
        };
        self.command(who, |ua, ep, now| ua.hold(now, ep, &id, hold))
    }

    /// Keeps each agent's user-agent deadline as a network timer.
    fn arm_timers(&mut self) {
        let now = self.sim.now();
        for agent in [&self.a, &self.b] {
            self.sim.cancel_timer(agent.node, UA_TIMER);
            if let Some(at) = agent.ua.poll_timeout() {
                self.sim
                    .set_timer(agent.node, at.saturating_duration_since(now), UA_TIMER);
            }
        }
    }

    /// Advances the clock by `duration`, delivering packets and firing
    /// timers in order.
    pub(super) fn run(&mut self, duration: Duration) {
        let limit = self.sim.elapsed() + duration;
        self.arm_timers();
        while let Some(event) = self.sim.next_event(limit) {
            let node = event.node();
            let agent = if node == self.a.node {
                &mut self.a
            } else {
                &mut self.b
            };
            match event {
                NetEvent::Endpoint { event, .. } => self
                    .sim
                    .with_endpoint(node, |ep, now| agent.on_event(ep, now, event)),
                NetEvent::Timer { .. } => self
                    .sim
                    .with_endpoint(node, |ep, now| agent.on_timeout(ep, now)),
                _ => {}
            }
            self.arm_timers();
        }
    }
}
