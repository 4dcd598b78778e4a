//! The proxy on the simulated network of `switchboard-testkit`: a caller
//! (alice, a UAC), the proxy (an endpoint with a [`Proxy`] as its
//! transaction user, serving `example.com`) and callees (UASs following a
//! plan), all on 127.0.0.1 with their own ports, on a virtual clock.
//!
//! The proxy's TU here is what `switchboard serve` does: users of
//! `example.com` are looked up in a table of targets, other requests go to
//! their Request-URI, host names resolve through a table.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::{Config, Destination, Event, Source, TransactionId, Transport};
use switchboard_proto::{
    HeaderName, Message, Method, Request, RequestBuilder, Response, ResponseBuilder, StatusCode,
};
use switchboard_server::proxy::{
    Advance, CallUpdate, ExhaustCause, GroupPolicy, Listener, NextHop, Proxy, ProxyConfig,
    ProxyEvent, Target, TargetSet,
};
use switchboard_testkit::{LinkConfig, NetEvent, Network, NodeId, NodeSpec, Packet};

pub const MS: Duration = Duration::from_millis(1);
pub const S: Duration = Duration::from_secs(1);
pub const T1: Duration = Duration::from_millis(500);

pub const PROXY: &str = "127.0.0.1:5060";
pub const ALICE: &str = "127.0.0.1:5071";
pub const BOB: &str = "127.0.0.1:5072";
pub const CAROL: &str = "127.0.0.1:5073";
pub const DAVE: &str = "127.0.0.1:5074";

const PROXY_TIMER: u64 = u64::MAX;

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The URI inside a name-addr.
pub fn uri_of(name_addr: &str) -> String {
    match (name_addr.find('<'), name_addr.find('>')) {
        (Some(a), Some(b)) if a < b => name_addr[a + 1..b].to_owned(),
        _ => name_addr.split(';').next().unwrap().trim().to_owned(),
    }
}

/// What a callee does with an INVITE: responses at delays after it
/// arrived. A CANCEL is answered 487 at once (by the endpoint's 200 and
/// the TU's 487); a 2xx is retransmitted until the ACK comes.
#[derive(Debug, Clone, Default)]
pub struct UasPlan {
    pub responses: Vec<(Duration, u16)>,
    /// Extra header lines on the final response.
    pub final_headers: Vec<(HeaderName, String)>,
    /// The responses to an INVITE that carries credentials (none: as
    /// `responses`).
    pub authorized: Option<Vec<(Duration, u16)>>,
}

impl UasPlan {
    pub fn new(responses: &[(u64, u16)]) -> Self {
        Self {
            responses: responses
                .iter()
                .map(|&(ms, c)| (Duration::from_millis(ms), c))
                .collect(),
            final_headers: Vec::new(),
            authorized: None,
        }
    }

    /// An INVITE with credentials gets these responses instead.
    pub fn when_authorized(mut self, responses: &[(u64, u16)]) -> Self {
        self.authorized = Some(
            responses
                .iter()
                .map(|&(ms, c)| (Duration::from_millis(ms), c))
                .collect(),
        );
        self
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        self.final_headers.push((name, value.to_owned()));
        self
    }
}

#[derive(Debug)]
pub struct Served {
    pub node: NodeId,
    pub tx: TransactionId,
    pub request: Request,
    pub to_tag: String,
    pub final_sent: Option<u16>,
    pub ok: Option<Response>,
    pub interval: Duration,
    pub acked: bool,
}

/// The caller's view of its call.
#[derive(Debug, Default)]
pub struct Call {
    pub invite_tx: Option<TransactionId>,
    pub invite: Option<Request>,
    /// Every response to the INVITE given to the TU, with its time.
    pub responses: Vec<(Duration, Response)>,
    pub cancel_tx: Option<TransactionId>,
    pub cancel_wanted: bool,
    pub cancel_status: Option<u16>,
    pub route_set: Vec<String>,
    pub remote_target: Option<String>,
    pub remote_tag: Option<String>,
    pub acks_sent: usize,
    pub bye_tx: Option<TransactionId>,
    pub bye_status: Option<u16>,
    /// Hang up this long after the 2xx (None: never).
    pub hold: Option<Duration>,
}

impl Call {
    pub fn statuses(&self) -> Vec<u16> {
        self.responses
            .iter()
            .map(|(_, r)| r.status().as_u16())
            .collect()
    }

    pub fn final_status(&self) -> Option<u16> {
        self.responses
            .iter()
            .map(|(_, r)| r.status().as_u16())
            .find(|s| *s >= 200)
    }

    pub fn final_response(&self) -> Option<&Response> {
        self.responses
            .iter()
            .map(|(_, r)| r)
            .find(|r| r.status().as_u16() >= 200)
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Respond(usize, u16),
    Retransmit2xx(usize),
    Cancel,
    Bye,
}

/// The node ids, for packet predicates (which must be `'static`).
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub p: NodeId,
    pub alice: NodeId,
    pub bob: NodeId,
    pub carol: NodeId,
}

pub struct Sim {
    pub net: Network,
    pub proxy: Proxy,
    pub p: NodeId,
    pub alice: NodeId,
    pub bob: NodeId,
    pub carol: NodeId,
    pub dave: NodeId,
    pub plans: HashMap<NodeId, UasPlan>,
    /// Users of example.com and their targets.
    pub locations: HashMap<String, TargetSet>,
    /// Host names and where they resolve, in the order to try.
    pub names: HashMap<String, Vec<NextHop>>,
    pub served: Vec<Served>,
    /// Requests each callee's TU got: (node, method, request).
    pub received: Vec<(Duration, NodeId, Request)>,
    /// Stray 2xx reaching alice.
    pub call: Call,
    /// Non-INVITE transactions alice sent and their final status.
    pub requests: Vec<(TransactionId, Option<Response>)>,
    pub resolves: usize,
    /// The call state changes the proxy reported, in order.
    pub call_updates: Vec<CallUpdate>,
    /// Endpoint events the proxy gave back (not its own).
    pub leftovers: Vec<String>,
    /// The requests the proxy held exhausted: when, which, why.
    pub exhausted: Vec<(Duration, TransactionId, StatusCode, ExhaustCause)>,
    actions: Vec<Action>,
}

impl Sim {
    /// The network and the proxy with `config` (listeners and domain filled
    /// in when empty); callees answer nothing until given plans.
    pub fn with_config(seed: u64, mut config: ProxyConfig) -> Self {
        let mut net = Network::new(seed);
        net.set_default_link(LinkConfig::new(10 * MS));
        let both = [Transport::Udp, Transport::Tcp];
        if config.listeners.is_empty() {
            config.listeners = vec![
                Listener::new(Transport::Udp, addr(PROXY)),
                Listener::new(Transport::Tcp, addr(PROXY)),
            ];
        }
        if config.domains.is_empty() {
            config.domains = vec!["example.com".to_owned()];
        }
        let p = net.add_node(NodeSpec::new("proxy", addr(PROXY)).transports(both));
        let alice = net.add_node(NodeSpec::new("alice", addr(ALICE)).transports(both));
        let bob = net.add_node(NodeSpec::new("bob", addr(BOB)).transports(both));
        let carol = net.add_node(NodeSpec::new("carol", addr(CAROL)).transports(both));
        let dave = net.add_node(NodeSpec::new("dave", addr(DAVE)).transports(both));
        Self {
            net,
            proxy: Proxy::new(config),
            p,
            alice,
            bob,
            carol,
            dave,
            plans: HashMap::new(),
            locations: HashMap::new(),
            names: HashMap::new(),
            served: Vec::new(),
            received: Vec::new(),
            call: Call::default(),
            requests: Vec::new(),
            resolves: 0,
            call_updates: Vec::new(),
            leftovers: Vec::new(),
            exhausted: Vec::new(),
            actions: Vec::new(),
        }
    }

    pub fn new(seed: u64) -> Self {
        Self::with_config(seed, ProxyConfig::default())
    }

    /// Alice calls bob, whose two devices (bob's and carol's nodes) both
    /// answer 200, 5 ms apart; a minute passes.
    pub fn both_forks_answer(seed: u64) -> Self {
        let mut sim = Self::new(seed);
        sim.locate("bob", &[(sim.bob, None), (sim.carol, None)]);
        sim.plan(sim.bob, UasPlan::new(&[(1000, 200)]));
        sim.plan(sim.carol, UasPlan::new(&[(1005, 200)]));
        sim.invite("sip:bob@example.com");
        sim.run(60 * S);
        sim
    }

    pub fn probe(&self) -> Probe {
        Probe {
            p: self.p,
            alice: self.alice,
            bob: self.bob,
            carol: self.carol,
        }
    }

    /// Replaces a callee's endpoint configuration (e.g. a slow automatic
    /// 100 Trying).
    pub fn silent_callee(&mut self, node: NodeId) {
        let config = Config {
            trying_delay: Duration::from_secs(100_000),
            via_addresses: vec![(Transport::Udp, self.net.address(node))],
            ..Config::default()
        };
        let rng = Box::new(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
            node.index() as u64 + 99,
        ));
        *self.net.endpoint_mut(node) = switchboard_core::Endpoint::new(config, rng);
    }

    pub fn plan(&mut self, node: NodeId, plan: UasPlan) {
        self.plans.insert(node, plan);
    }

    /// `user@example.com` reaches these nodes (UDP, q-values in
    /// thousandths, `None` for none).
    pub fn locate(&mut self, user: &str, nodes: &[(NodeId, Option<u16>)]) {
        let set = nodes
            .iter()
            .map(|&(n, q)| {
                let a = self.net.address(n);
                let name = self.net.name(n).to_owned();
                let mut t = Target::new(format!("sip:{name}@{a}"))
                    .with_next_hop(NextHop::address(Transport::Udp, a));
                t.q = q;
                t
            })
            .collect();
        self.locations.insert(user.to_owned(), set);
    }

    /// A UDP target for `user` at a node, sent straight there (a trunk's
    /// gateway).
    pub fn target_at(&self, node: NodeId, user: &str) -> Target {
        let a = self.net.address(node);
        Target::new(format!("sip:{user}@{a}")).with_next_hop(NextHop::address(Transport::Udp, a))
    }

    /// `user@example.com` is a trunk: `gateways` tried one after another,
    /// each a group of its own that hands over only when the gateway
    /// fails; `shape` adds what the trunk says (credentials, timeouts).
    pub fn trunk(&mut self, user: &str, gateways: &[NodeId], shape: impl Fn(Target) -> Target) {
        let mut set = TargetSet::new();
        for &node in gateways {
            set.push_group(
                vec![shape(self.target_at(node, "+493012345"))],
                GroupPolicy {
                    timeout: None,
                    advance: Advance::OnGatewayFailure,
                },
            );
        }
        self.locations.insert(user.to_owned(), set);
    }

    /// The proxy continues a held request with more targets.
    pub fn forward_more(&mut self, server: TransactionId, targets: TargetSet) {
        let Self { net, proxy, p, .. } = self;
        net.with_endpoint(*p, |ep, now| proxy.forward_more(now, ep, server, targets))
            .unwrap();
        self.after_proxy();
    }

    /// The proxy answers a held request with its best response.
    pub fn release(&mut self, server: TransactionId) {
        let Self { net, proxy, p, .. } = self;
        net.with_endpoint(*p, |ep, now| proxy.release(now, ep, server))
            .unwrap();
        self.after_proxy();
    }

    pub fn node_of(&self, a: SocketAddr) -> Option<NodeId> {
        self.net.node_ids().find(|n| self.net.address(*n) == a)
    }

    fn later(&mut self, node: NodeId, delay: Duration, action: Action) {
        self.actions.push(action);
        self.net
            .set_timer(node, delay, (self.actions.len() - 1) as u64);
    }

    pub fn now(&self) -> Duration {
        self.net.elapsed()
    }

    fn to_proxy(&self) -> Destination {
        Destination::Address {
            transport: Transport::Udp,
            remote: addr(PROXY),
        }
    }

    // ----- alice -----

    /// Alice's INVITE to `uri`, via the proxy.
    pub fn invite(&mut self, uri: &str) -> TransactionId {
        let invite = RequestBuilder::new(Method::Invite, uri)
            .from("<sip:alice@example.com>", "a1")
            .to(&format!("<{uri}>"), None)
            .call_id("call-1")
            .cseq(1)
            .contact(&format!("<sip:alice@{ALICE}>"))
            .build()
            .unwrap();
        self.send_invite(invite)
    }

    pub fn send_invite(&mut self, invite: Request) -> TransactionId {
        let dest = self.to_proxy();
        let tx = self
            .net
            .send_request(self.alice, invite.clone(), dest)
            .unwrap();
        self.call.invite_tx = Some(tx);
        self.call.invite = Some(invite);
        tx
    }

    /// Alice sends a request in its own transaction to the proxy.
    pub fn send(&mut self, request: Request) -> TransactionId {
        let dest = self.to_proxy();
        let tx = self.net.send_request(self.alice, request, dest).unwrap();
        self.requests.push((tx, None));
        tx
    }

    pub fn final_of(&self, tx: TransactionId) -> Option<&Response> {
        self.requests
            .iter()
            .find(|(t, _)| *t == tx)
            .and_then(|(_, r)| r.as_ref())
    }

    pub fn cancel_at(&mut self, at: Duration) {
        let delay = at.saturating_sub(self.now());
        self.later(self.alice, delay, Action::Cancel);
    }

    fn try_cancel(&mut self) {
        if self.call.cancel_tx.is_some() || self.call.final_status().is_some() {
            return;
        }
        let tx = self.call.invite_tx.unwrap();
        if let Ok(c) = self.net.cancel(self.alice, tx) {
            self.call.cancel_tx = Some(c);
        }
    }

    fn on_alice_response(&mut self, tx: TransactionId, response: Response) {
        let code = response.status().as_u16();
        if Some(tx) == self.call.invite_tx {
            let now = self.now();
            self.call.responses.push((now, response.clone()));
            if code < 200 && self.call.cancel_wanted {
                self.try_cancel();
            }
            if (200..300).contains(&code) {
                self.on_alice_2xx(&response);
            }
        } else if Some(tx) == self.call.cancel_tx {
            self.call.cancel_status = Some(code);
        } else if Some(tx) == self.call.bye_tx {
            if code >= 200 {
                self.call.bye_status = Some(code);
            }
        } else if let Some(r) = self.requests.iter_mut().find(|(t, _)| *t == tx) {
            if code >= 200 {
                r.1 = Some(response);
            }
        }
    }

    fn on_alice_2xx(&mut self, response: &Response) {
        let h = response.headers();
        if self.call.remote_tag.is_none() {
            self.call.remote_tag = h.to_tag().map(str::to_owned);
            self.call.remote_target = h.get(HeaderName::Contact).map(uri_of);
            let mut rr: Vec<String> = h
                .values(HeaderName::RecordRoute)
                .map(str::to_owned)
                .collect();
            rr.reverse();
            self.call.route_set = rr;
            if let Some(hold) = self.call.hold {
                self.later(self.alice, hold, Action::Bye);
            }
        }
        self.send_in_dialog(Method::Ack, 1);
        self.call.acks_sent += 1;
    }

    /// Alice's ACK or BYE along the route set.
    fn send_in_dialog(&mut self, method: Method, cseq: u32) {
        let target = self.call.remote_target.clone().unwrap();
        let mut b = RequestBuilder::new(method.clone(), &target)
            .from("<sip:alice@example.com>", "a1")
            .to(
                self.call
                    .invite
                    .as_ref()
                    .unwrap()
                    .headers()
                    .get(HeaderName::To)
                    .unwrap(),
                self.call.remote_tag.as_deref(),
            )
            .call_id("call-1")
            .cseq(cseq);
        for r in &self.call.route_set {
            b = b.header(HeaderName::Route, r.clone());
        }
        let dest = match self.call.route_set.first() {
            Some(r) => uri_to_dest(&uri_of(r)),
            None => uri_to_dest(&target),
        };
        if method == Method::Ack {
            let branch = self.net.endpoint_mut(self.alice).new_branch();
            let ack = b
                .header(
                    HeaderName::Via,
                    format!("SIP/2.0/UDP {ALICE};branch={branch};rport"),
                )
                .build()
                .unwrap();
            self.net.send_stateless(self.alice, &ack.into(), dest);
        } else {
            let req = b.build().unwrap();
            self.call.bye_tx = Some(self.net.send_request(self.alice, req, dest).unwrap());
        }
    }

    /// Alice sends an in-dialog request of the call (re-INVITE, INFO,
    /// BYE) with CSeq `cseq`, in its own transaction.
    pub fn alice_in_dialog(&mut self, method: Method, cseq: u32) -> TransactionId {
        let bye = self.call.bye_tx;
        self.send_in_dialog(method, cseq);
        let tx = self.call.bye_tx.unwrap();
        self.call.bye_tx = bye;
        self.requests.push((tx, None));
        tx
    }

    /// Alice ACKs a 2xx of the call's dialog with CSeq `cseq`.
    pub fn alice_ack(&mut self, cseq: u32) {
        self.send_in_dialog(Method::Ack, cseq);
    }

    /// The callee of served INVITE `j` sends an in-dialog request (BYE,
    /// re-INVITE) with its own CSeq, along the Record-Route.
    pub fn callee_request(&mut self, j: usize, method: Method, cseq: u32) -> TransactionId {
        let s = &self.served[j];
        let h = s.request.headers();
        let target = uri_of(h.get(HeaderName::Contact).unwrap());
        let from = uri_of(h.get(HeaderName::To).unwrap());
        let mut b = RequestBuilder::new(method, &target)
            .from(&format!("<{from}>"), &s.to_tag)
            .to(h.get(HeaderName::From).unwrap(), None)
            .call_id(h.call_id().unwrap())
            .cseq(cseq);
        let routes: Vec<String> = h
            .values(HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect();
        for r in &routes {
            b = b.header(HeaderName::Route, r.clone());
        }
        let dest = uri_to_dest(&uri_of(routes.first().unwrap()));
        let node = s.node;
        let tx = self
            .net
            .send_request(node, b.build().unwrap(), dest)
            .unwrap();
        self.requests.push((tx, None));
        tx
    }

    // ----- callees -----

    fn on_uas_request(&mut self, node: NodeId, tx: TransactionId, request: Request) {
        let now = self.now();
        self.received.push((now, node, request.clone()));
        match request.method() {
            Method::Invite if request.headers().to_tag().is_none() => {
                let j = self.served.len();
                self.served.push(Served {
                    node,
                    tx,
                    request,
                    to_tag: format!("{}-tag", self.net.name(node)),
                    final_sent: None,
                    ok: None,
                    interval: T1,
                    acked: false,
                });
                let plan = self.plans.get(&node).cloned().unwrap_or_default();
                let h = self.served[j].request.headers();
                let authorized = h.get(HeaderName::ProxyAuthorization).is_some()
                    || h.get(HeaderName::Authorization).is_some();
                let responses = match plan.authorized {
                    Some(r) if authorized => r,
                    _ => plan.responses,
                };
                for (delay, code) in responses {
                    self.later(node, delay, Action::Respond(j, code));
                }
            }
            _ => {
                let ok = ResponseBuilder::from_request(&request, StatusCode::OK)
                    .to_tag("x")
                    .build()
                    .unwrap();
                self.net.respond(node, tx, ok).unwrap();
            }
        }
    }

    fn uas_respond(&mut self, j: usize, code: u16) {
        let s = &self.served[j];
        if s.final_sent.is_some() {
            return;
        }
        let node = s.node;
        let mut b = ResponseBuilder::from_request(&s.request, StatusCode::new(code).unwrap())
            .to_tag(&s.to_tag);
        if code >= 200 {
            for (name, value) in self
                .plans
                .get(&node)
                .map(|p| p.final_headers.clone())
                .unwrap_or_default()
            {
                b = b.header(name, value);
            }
        }
        if (200..300).contains(&code) {
            let name = self.net.name(node).to_owned();
            b = b.header(
                HeaderName::Contact,
                format!("<sip:{name}@{}>", self.net.address(node)),
            );
        }
        let response = b.build().unwrap();
        let tx = s.tx;
        let _ = self.net.respond(node, tx, response.clone());
        if code >= 200 {
            self.served[j].final_sent = Some(code);
        }
        if (200..300).contains(&code) {
            self.served[j].ok = Some(response);
            self.later(node, T1, Action::Retransmit2xx(j));
        }
    }

    fn uas_retransmit(&mut self, j: usize) {
        let s = &mut self.served[j];
        if s.acked || s.interval > 32 * S {
            return;
        }
        let (node, tx, ok) = (s.node, s.tx, s.ok.clone().unwrap());
        s.interval = (s.interval * 2).min(4 * S);
        let next = s.interval;
        // In Accepted, the endpoint sends every 2xx the TU gives it; after
        // Timer L the TU sends it itself, to the top Via (the proxy).
        if self.net.respond(node, tx, ok.clone()).is_err() {
            let via = uri_to_dest(&format!("sip:{PROXY}"));
            self.net.send_stateless(node, &ok.into(), via);
        }
        self.later(node, next, Action::Retransmit2xx(j));
    }

    fn on_uas_event(&mut self, node: NodeId, event: Event) {
        match event {
            Event::Request { tx, request, .. } => self.on_uas_request(node, tx, request),
            Event::Response { tx, response, .. } if response.status().as_u16() >= 200 => {
                if let Some(r) = self.requests.iter_mut().find(|(t, _)| *t == tx) {
                    r.1 = Some(response);
                }
            }
            Event::Ack { request, .. } => {
                self.received
                    .push((self.net.elapsed(), node, request.clone()));
                let call_id = request.headers().call_id().map(str::to_owned);
                for s in &mut self.served {
                    if s.node == node && s.request.headers().call_id().map(str::to_owned) == call_id
                    {
                        s.acked = true;
                    }
                }
            }
            Event::Cancelled {
                invite, request, ..
            } => {
                self.received.push((self.net.elapsed(), node, request));
                if let Some(j) = self
                    .served
                    .iter()
                    .position(|s| s.node == node && s.tx == invite)
                {
                    self.uas_respond(j, 487);
                }
            }
            _ => {}
        }
    }

    // ----- the proxy's TU -----

    fn on_proxy_event(&mut self, event: Event) {
        let Self {
            net,
            proxy,
            p,
            locations,
            leftovers,
            ..
        } = self;
        let p = *p;
        net.with_endpoint(p, |ep, now| match event {
            Event::Request {
                tx,
                request,
                source,
            } => {
                let Ok(incoming) = proxy.on_request(now, ep, tx, request, source) else {
                    return;
                };
                if incoming.is_for_us() {
                    let user = incoming
                        .request()
                        .uri()
                        .as_sip()
                        .and_then(|u| u.user)
                        .unwrap_or_default()
                        .to_owned();
                    match locations.get(&user) {
                        Some(set) => proxy.forward(now, ep, incoming, set.clone()).unwrap(),
                        None => proxy
                            .reply(now, ep, &incoming, StatusCode::NOT_FOUND, &[])
                            .unwrap(),
                    }
                } else {
                    let target = incoming.request_uri_target();
                    proxy
                        .forward(now, ep, incoming, TargetSet::single(target))
                        .unwrap();
                }
            }
            Event::Ack { request, source } => proxy.on_ack(now, ep, request, source, None),
            other => {
                if let Some(left) = proxy.handle_event(now, ep, other) {
                    leftovers.push(format!("{left:?}"));
                }
            }
        });
        self.after_proxy();
    }

    /// Answers the proxy's resolutions and re-arms its timer.
    fn after_proxy(&mut self) {
        while let Some(event) = self.proxy.poll_event() {
            let (id, uri) = match event {
                ProxyEvent::Resolve { id, uri } => (id, uri),
                ProxyEvent::Call(update) => {
                    self.call_updates.push(update);
                    continue;
                }
                ProxyEvent::Exhausted {
                    server,
                    status,
                    cause,
                } => {
                    let now = self.now();
                    self.exhausted.push((now, server, status, cause));
                    continue;
                }
                _ => continue,
            };
            self.resolves += 1;
            let host = uri
                .trim_start_matches("sip:")
                .split(['@', ';', ':'])
                .find(|s| self.names.contains_key(*s))
                .map(str::to_owned);
            let hops = host
                .and_then(|h| self.names.get(&h).cloned())
                .unwrap_or_default();
            let Self { net, proxy, p, .. } = self;
            net.with_endpoint(*p, |ep, now| proxy.resolved(now, ep, id, hops));
        }
        self.net.cancel_timer(self.p, PROXY_TIMER);
        if let Some(at) = self.proxy.poll_timeout() {
            let delay = at.saturating_duration_since(self.net.now());
            self.net.set_timer(self.p, delay, PROXY_TIMER);
        }
    }

    // ----- running -----

    pub fn run(&mut self, until: Duration) {
        while let Some(e) = self.net.next_event(until) {
            self.handle(e);
        }
    }

    fn handle(&mut self, e: NetEvent) {
        match e {
            NetEvent::Timer { node, token, .. } if node == self.p && token == PROXY_TIMER => {
                let Self { net, proxy, p, .. } = self;
                net.with_endpoint(*p, |ep, now| proxy.handle_timeout(now, ep));
                self.after_proxy();
            }
            NetEvent::Timer { token, .. } => match self.actions[token as usize] {
                Action::Respond(j, code) => self.uas_respond(j, code),
                Action::Retransmit2xx(j) => self.uas_retransmit(j),
                Action::Cancel => {
                    self.call.cancel_wanted = true;
                    self.try_cancel();
                }
                Action::Bye => self.send_in_dialog(Method::Bye, 2),
            },
            NetEvent::Endpoint { node, event, .. } if node == self.p => self.on_proxy_event(event),
            NetEvent::Endpoint { node, event, .. } if node == self.alice => match event {
                Event::Response { tx, response, .. } => self.on_alice_response(tx, response),
                Event::Request { tx, request, .. } => {
                    self.received.push((self.now(), node, request.clone()));
                    let ok = ResponseBuilder::from_request(&request, StatusCode::OK)
                        .build()
                        .unwrap();
                    self.net.respond(node, tx, ok).unwrap();
                }
                Event::Ack { request, .. } => {
                    self.received.push((self.now(), node, request));
                }
                Event::StrayResponse { response, .. }
                    if response.status().is_success() && self.call.invite_tx.is_some() =>
                {
                    self.on_alice_2xx(&response);
                }
                Event::Timeout { tx } if Some(tx) == self.call.bye_tx => {
                    self.call.bye_status = Some(408);
                }
                _ => {}
            },
            NetEvent::Endpoint { node, event, .. } => self.on_uas_event(node, event),
            _ => {}
        }
    }

    // ----- what happened -----

    /// Requests of `method` a node's TU got (CANCEL and ACK included).
    pub fn got(&self, node: NodeId, method: &Method) -> Vec<&Request> {
        self.received
            .iter()
            .filter(|(_, n, r)| *n == node && r.method() == method)
            .map(|(_, _, r)| r)
            .collect()
    }

    /// When a node's TU first got a request of `method`.
    pub fn got_at(&self, node: NodeId, method: &Method) -> Option<Duration> {
        self.received
            .iter()
            .find(|(_, n, r)| *n == node && r.method() == method)
            .map(|(t, _, _)| *t)
    }

    /// Packets sent from `from` to `to` matching `f`.
    pub fn packets(&self, from: NodeId, to: NodeId, f: impl Fn(&Packet) -> bool) -> Vec<&Packet> {
        self.net
            .sent(|p| p.from == from && p.to == Some(to) && f(p))
    }

    /// The call completed: 200 to the INVITE, the callee got the ACK, the
    /// BYE got 200.
    pub fn assert_call_completed(&self, callee: NodeId) {
        assert_eq!(self.call.final_status(), Some(200), "{}", self.net.dump());
        assert!(
            !self.got(callee, &Method::Ack).is_empty(),
            "no ACK at the callee\n{}",
            self.net.dump()
        );
        assert_eq!(self.call.bye_status, Some(200), "{}", self.net.dump());
        assert_eq!(self.got(callee, &Method::Bye).len(), 1);
    }
}

/// A Destination for a URI with an IP host (UDP unless `transport=`).
pub fn uri_to_dest(uri: &str) -> Destination {
    let parsed = switchboard_proto::Uri::parse(uri).unwrap();
    let sip = parsed.as_sip().unwrap();
    let transport = sip
        .transport()
        .and_then(Transport::from_token)
        .unwrap_or(Transport::Udp);
    Destination::Address {
        transport,
        remote: SocketAddr::new(sip.host.ip().unwrap(), sip.port.unwrap_or(5060)),
    }
}

/// The elements of a list header.
pub fn values(request: &Request, name: HeaderName) -> Vec<String> {
    request.headers().values(name).map(str::to_owned).collect()
}

/// A request alice sends, by hand.
pub fn request(method: Method, uri: &str) -> RequestBuilder {
    RequestBuilder::new(method.clone(), uri)
        .from("<sip:alice@example.com>", "a1")
        .to("<sip:bob@example.com>", None)
        .call_id("req-1")
        .cseq(1)
}

pub fn message_of(p: &Packet) -> Message {
    p.message().unwrap()
}

pub fn source_unused(_: Source) {}
