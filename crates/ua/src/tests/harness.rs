//! Two user agents, each on a real `switchboard_core::Endpoint`, joined by
//! a loss-free simulated UDP link with 10 ms latency, on a virtual clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Endpoint, Event, Input, Source, TransactionId, Transport};
use switchboard_proto::digest::{self, Algorithm, Credentials as Creds};
use switchboard_proto::{HeaderName, Message, Method, Request, ResponseBuilder, StatusCode};

use crate::{
    Action, Call, CallEvent, Credentials, Failure, MediaPolicy, MediaSession, SrtpPolicy, UaConfig,
};

const LATENCY: Duration = Duration::from_millis(10);

pub(super) struct Agent {
    pub(super) ep: Endpoint,
    pub(super) addr: SocketAddr,
    pub(super) config: UaConfig,
    pub(super) call: Option<Call>,
    invite_tx: Option<TransactionId>,
    client_txs: HashMap<TransactionId, Method>,
    pub(super) events: Vec<CallEvent>,
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
    seed: u64,
}

impl Agent {
    pub(super) fn new(user: &str, port: u16, seed: u64) -> Self {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let ep_config = switchboard_core::Config {
            via_addresses: vec![(Transport::Udp, addr)],
            ..Default::default()
        };
        let mut config =
            UaConfig::new(&format!("sip:{user}@127.0.0.1"), Transport::Udp, addr).unwrap();
        config.credentials = Some(Credentials {
            username: user.into(),
            password: "secret".into(),
        });
        Self {
            ep: Endpoint::new(ep_config, Box::new(StdRng::seed_from_u64(seed))),
            addr,
            config,
            call: None,
            invite_tx: None,
            client_txs: HashMap::new(),
            events: Vec::new(),
            answer_delay: Duration::from_millis(500),
            srtp: SrtpPolicy::Required,
            challenge: false,
            challenges: 0,
            challenge_bye: false,
            received: Vec::new(),
            min_se: None,
            session_expires: Vec::new(),
            seed,
        }
    }

    pub(super) fn media(&self, port: u16) -> MediaSession {
        let policy = MediaPolicy {
            srtp: self.srtp,
            ..MediaPolicy::default()
        };
        let local = SocketAddr::new(self.addr.ip(), port);
        MediaSession::new(policy, local, &mut StdRng::seed_from_u64(self.seed + 100))
    }

    pub(super) fn dial(&mut self, now: Instant, target: &str) {
        let media = self.media(self.addr.port() + 10_000);
        let call = Call::outgoing(
            now,
            self.config.clone(),
            target,
            media,
            Box::new(StdRng::seed_from_u64(self.seed + 1)),
        )
        .unwrap();
        self.call = Some(call);
        self.drive(now);
    }

    fn on_request(&mut self, now: Instant, tx: TransactionId, request: &Request) {
        self.received.push(request.method().clone());
        let new_call = self
            .call
            .as_ref()
            .is_none_or(|c| Some(c.call_id()) != request.headers().call_id());
        if *request.method() == Method::Invite {
            let se = request
                .headers()
                .get(HeaderName::SessionExpires)
                .unwrap_or("");
            self.session_expires.push(se.to_owned());
            let asked = se
                .split(';')
                .next()
                .and_then(|v| v.trim().parse::<u32>().ok());
            if let (Some(min), Some(asked)) = (self.min_se, asked) {
                if asked < min && new_call {
                    let resp = ResponseBuilder::from_request(
                        request,
                        StatusCode::SESSION_INTERVAL_TOO_SMALL,
                    )
                    .to_tag("x")
                    .header(HeaderName::MinSe, min.to_string())
                    .build()
                    .unwrap();
                    self.ep.respond(now, tx, resp).unwrap();
                    return;
                }
            }
        }
        if *request.method() == Method::Invite && new_call {
            if self.challenge
                && request
                    .headers()
                    .get(HeaderName::ProxyAuthorization)
                    .is_none_or(|v| !verify_proxy_auth(v, "INVITE"))
            {
                self.challenges += 1;
                challenge(now, &mut self.ep, tx, request);
                return;
            }
            let media = self.media(self.addr.port() + 10_000);
            self.call = Call::incoming(
                now,
                self.config.clone(),
                tx,
                request,
                media,
                self.answer_delay,
                Box::new(StdRng::seed_from_u64(self.seed + 2)),
            );
            return;
        }
        if *request.method() == Method::Bye
            && self.challenge_bye
            && request
                .headers()
                .get(HeaderName::ProxyAuthorization)
                .is_none_or(|v| !verify_proxy_auth(v, "BYE"))
        {
            self.challenges += 1;
            challenge(now, &mut self.ep, tx, request);
            return;
        }
        match &mut self.call {
            Some(call) if !new_call => call.handle_request(now, tx, request),
            _ => {
                let resp = ResponseBuilder::from_request(
                    request,
                    StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
                )
                .to_tag("x")
                .build()
                .unwrap();
                self.ep.respond(now, tx, resp).unwrap();
            }
        }
    }

    /// Runs actions and events until both are drained.
    pub(super) fn drive(&mut self, now: Instant) {
        loop {
            let mut busy = false;
            while let Some(action) = self.call.as_mut().and_then(Call::poll_action) {
                busy = true;
                match action {
                    Action::Send {
                        request,
                        destination,
                    } => {
                        let method = request.method().clone();
                        let tx = self.ep.send_request(now, request, destination).unwrap();
                        if method == Method::Invite {
                            self.invite_tx = Some(tx);
                        }
                        self.client_txs.insert(tx, method);
                    }
                    Action::SendAck {
                        request,
                        destination,
                    } => self
                        .ep
                        .send_stateless(&Message::Request(request), destination),
                    Action::Respond { tx, response } => {
                        let _ = self.ep.respond(now, tx, response);
                    }
                    Action::CancelInvite => {
                        if let Some(tx) = self.invite_tx {
                            let _ = self.ep.cancel(now, tx);
                        }
                    }
                }
            }
            while let Some(event) = self.ep.poll_event() {
                busy = true;
                match event {
                    Event::Request { tx, request, .. } => self.on_request(now, tx, &request),
                    Event::Ack { request, .. } => {
                        self.received.push(Method::Ack);
                        if let Some(c) = &mut self.call {
                            c.handle_ack(now, &request);
                        }
                    }
                    Event::Cancelled { .. } => {
                        self.received.push(Method::Cancel);
                        if let Some(c) = &mut self.call {
                            c.handle_cancel(now);
                        }
                    }
                    Event::Response { response, .. } | Event::StrayResponse { response, .. } => {
                        if let Some(c) = &mut self.call {
                            c.handle_response(now, &response);
                        }
                    }
                    Event::Timeout { tx } | Event::TransportError { tx } => {
                        if let (Some(c), Some(m)) = (&mut self.call, self.client_txs.get(&tx)) {
                            c.handle_failure(now, m, Failure::Timeout);
                        }
                    }
                    _ => {}
                }
            }
            while let Some(event) = self.call.as_mut().and_then(Call::poll_event) {
                self.events.push(event);
            }
            if !busy {
                break;
            }
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        let c = self.call.as_ref().and_then(Call::poll_timeout);
        match (self.ep.poll_timeout(), c) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        if self.ep.poll_timeout().is_some_and(|t| t <= now) {
            self.ep.handle_timeout(now);
        }
        if let Some(c) = &mut self.call {
            if c.poll_timeout().is_some_and(|t| t <= now) {
                c.handle_timeout(now);
            }
        }
        self.drive(now);
    }
}

fn verify_proxy_auth(value: &str, method: &str) -> bool {
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

/// Two agents and the link between them.
pub(super) struct Net {
    pub(super) now: Instant,
    pub(super) a: Agent,
    pub(super) b: Agent,
    /// (deliver at, to b?, from, bytes)
    flight: Vec<(Instant, bool, SocketAddr, Bytes)>,
    /// Drop every message from a to b whose first line starts with this.
    pub(super) drop_to_b: Option<&'static str>,
}

impl Net {
    pub(super) fn new() -> Self {
        Self {
            now: Instant::now(),
            a: Agent::new("alice", 5060, 10),
            b: Agent::new("bob", 5070, 20),
            flight: Vec::new(),
            drop_to_b: None,
        }
    }

    fn collect(&mut self) {
        while let Some(t) = self.a.ep.poll_transmit() {
            let dropped = self
                .drop_to_b
                .is_some_and(|p| t.bytes.starts_with(p.as_bytes()));
            if !dropped {
                self.flight
                    .push((self.now + LATENCY, true, self.a.addr, t.bytes));
            }
        }
        while let Some(t) = self.b.ep.poll_transmit() {
            self.flight
                .push((self.now + LATENCY, false, self.b.addr, t.bytes));
        }
    }

    /// Advances the clock by `duration`, delivering packets and firing
    /// timers in order.
    pub(super) fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        loop {
            self.collect();
            let next = [
                self.flight.iter().map(|f| f.0).min(),
                self.a.next_timeout(),
                self.b.next_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|n| *n <= end) else {
                self.now = end;
                return;
            };
            self.now = self.now.max(next);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) = self.flight.drain(..).partition(|f| f.0 <= now);
            self.flight = later;
            for (_, to_b, from, bytes) in due {
                let agent = if to_b { &mut self.b } else { &mut self.a };
                let source = Source {
                    transport: Transport::Udp,
                    remote: from,
                    local: agent.addr,
                    flow: None,
                };
                agent
                    .ep
                    .handle_input(now, Input::Datagram { source, bytes });
                agent.drive(now);
            }
            self.a.on_timeout(now);
            self.b.on_timeout(now);
        }
    }
}
