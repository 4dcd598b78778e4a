//! Whole calls between endpoints over the simulated network of
//! `switchboard-testkit`: loss of each message of an INVITE exchange,
//! CANCEL races, heavy random loss, duplication and reordering, all on a
//! virtual clock.
//!
//! The transaction users are written here: a UAC that sends INVITE, ACKs
//! every 2xx statelessly (RFC 3261 §13.2.2.4), CANCELs when asked (§9.1) and
//! hangs up with BYE; and a UAS that rings, answers after a delay and
//! retransmits its 2xx until the ACK comes (§13.3.1.4: T1 doubling to T2,
//! giving up after 64*T1 with a BYE).
//!
//! Timeline of a call with 10 ms one-way latency and the default plans
//! (times in ms): INVITE 0, 100 Trying 210 (the endpoint's own, 200 ms after
//! the INVITE arrived), 180 310, 200 1010, ACK 1020, BYE 2020, 200 2030.

// Tests may unwrap, index and panic: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::{Destination, Event, Source, TransactionId, Transport};
use switchboard_proto::{
    HeaderName, Message, Method, Request, RequestBuilder, Response, ResponseBuilder, StatusCode,
};
use switchboard_testkit::{LinkConfig, NetEvent, Network, NodeId, NodeSpec, Packet};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);
const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

const ALICE: &str = "10.0.0.1:5060";
const BOB: &str = "10.0.0.2:5060";
const CAROL: &str = "10.0.0.3:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The URI inside a name-addr (`"Bob" <sip:bob@host>;tag=x` gives
/// `sip:bob@host`).
fn uri_of(name_addr: &str) -> String {
    match (name_addr.find('<'), name_addr.find('>')) {
        (Some(a), Some(b)) if a < b => name_addr[a + 1..b].to_owned(),
        _ => name_addr
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

// ----- the plans the TUs follow -----

/// What the UAS does with an INVITE.
#[derive(Debug, Clone, Copy)]
struct UasPlan {
    /// Send 180 this long after the INVITE arrived (the endpoint sends 100
    /// Trying by itself after 200 ms).
    ring_after: Option<Duration>,
    /// Send the final response this long after the INVITE arrived.
    answer_after: Duration,
    /// The final response.
    answer: u16,
}

impl Default for UasPlan {
    fn default() -> Self {
        Self {
            ring_after: Some(300 * MS),
            answer_after: 1000 * MS,
            answer: 200,
        }
    }
}

/// What the UAC does.
#[derive(Debug, Clone, Copy)]
struct UacPlan {
    /// Hang up this long after the first 2xx.
    hold: Duration,
    /// Try to CANCEL this long after sending the INVITE.
    cancel_after: Option<Duration>,
    /// Give up (CANCEL) when no final response came this long after the
    /// INVITE was sent.
    no_answer: Duration,
}

impl Default for UacPlan {
    fn default() -> Self {
        Self {
            hold: S,
            cancel_after: None,
            no_answer: 60 * S,
        }
    }
}

/// How a call ended, seen from the UAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The UAC's BYE got 200.
    Completed,
    /// The INVITE got this non-2xx final response (not 487).
    Rejected(u16),
    /// The INVITE got 487 after a CANCEL.
    Cancelled,
    /// The INVITE transaction timed out (Timer B).
    InviteTimeout,
    /// The BYE transaction timed out (Timer F).
    ByeTimeout,
    /// The BYE got a non-2xx final response.
    ByeFailed(u16),
    /// The UAS hung up (it gave up waiting for the ACK).
    RemoteBye,
    /// The INVITE transaction ended without a final response after the UAC
    /// gave up waiting and sent CANCEL (§9.1).
    Abandoned,
}

// ----- per-call state of the TUs -----

#[derive(Debug)]
struct UacCall {
    node: NodeId,
    call_id: String,
    from: String,
    to: String,
    invite_tx: TransactionId,
    /// (time, status) of every response to the INVITE given to the TU.
    responses: Vec<(Duration, u16)>,
    cancel_wanted: bool,
    cancel_tx: Option<TransactionId>,
    cancel_refused: usize,
    cancel_status: Option<u16>,
    remote_tag: Option<String>,
    target: Option<String>,
    ack: Option<Message>,
    acks_sent: usize,
    answered_at: Option<Duration>,
    bye_tx: Option<TransactionId>,
    bye_status: Option<u16>,
    stray_2xx: usize,
    outcome: Option<(Duration, Outcome)>,
}

impl UacCall {
    fn statuses(&self) -> Vec<u16> {
        self.responses.iter().map(|(_, s)| *s).collect()
    }

    fn outcome(&self) -> Option<Outcome> {
        self.outcome.map(|(_, o)| o)
    }

    fn end(&mut self, now: Duration, outcome: Outcome) {
        if self.outcome.is_none() {
            self.outcome = Some((now, outcome));
        }
    }
}

#[derive(Debug)]
struct UasCall {
    tx: TransactionId,
    request: Request,
    source: Source,
    to_tag: String,
    /// INVITE requests with this Call-ID given to the TU (1 unless the
    /// endpoint fails to absorb retransmissions).
    invites: usize,
    final_sent: Option<u16>,
    ok: Option<Response>,
    ok_at: Duration,
    interval: Duration,
    ok_retransmits: usize,
    acks: Vec<Duration>,
    cancelled: usize,
    byes: usize,
    gave_up: bool,
    ack_timeout: bool,
    bye_tx: Option<TransactionId>,
    bye_status: Option<u16>,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Ring(usize),
    Answer(usize),
    Retransmit2xx(usize),
    Bye(usize),
    Cancel(usize),
    NoAnswer(usize),
    Start(NodeId),
}

/// The network plus the TUs of every node: UACs on all nodes but `uas`.
struct Sim {
    net: Network,
    transport: Transport,
    alice: NodeId,
    uas: NodeId,
    uas_plan: UasPlan,
    uac_plan: UacPlan,
    calls: Vec<UacCall>,
    served: Vec<UasCall>,
    actions: Vec<Action>,
    stray_acks: usize,
    other_events: Vec<String>,
}

impl Sim {
    fn new(seed: u64) -> Self {
        Self::with_transport(seed, Transport::Udp)
    }

    fn with_transport(seed: u64, transport: Transport) -> Self {
        let mut net = Network::new(seed);
        let transports = [Transport::Udp, Transport::Tcp];
        let alice = net.add_node(NodeSpec::new("alice", addr(ALICE)).transports(transports));
        let uas = net.add_node(NodeSpec::new("bob", addr(BOB)).transports(transports));
        net.set_default_link(LinkConfig::new(10 * MS));
        Self {
            net,
            transport,
            alice,
            uas,
            uas_plan: UasPlan::default(),
            uac_plan: UacPlan::default(),
            calls: Vec::new(),
            served: Vec::new(),
            actions: Vec::new(),
            stray_acks: 0,
            other_events: Vec::new(),
        }
    }

    fn add_uac(&mut self, name: &str, at: &str) -> NodeId {
        self.net
            .add_node(NodeSpec::new(name, addr(at)).transports([Transport::Udp, Transport::Tcp]))
    }

    fn dest(&self, node: NodeId) -> Destination {
        Destination::Address {
            transport: self.transport,
            remote: self.net.address(node),
        }
    }

    fn later(&mut self, node: NodeId, delay: Duration, action: Action) {
        self.actions.push(action);
        let token = (self.actions.len() - 1) as u64;
        self.net.set_timer(node, delay, token);
    }

    fn now(&self) -> Duration {
        self.net.elapsed()
    }

    /// Runs the TUs until `until`.
    fn run(&mut self, until: Duration) {
        while let Some(e) = self.net.next_event(until) {
            self.handle(e);
        }
    }

    /// The send times, in ms, of the packets nodes sent matching `f`.
    fn times(&self, f: impl FnMut(&Packet) -> bool) -> Vec<u128> {
        self.net
            .send_times(f)
            .iter()
            .map(Duration::as_millis)
            .collect()
    }

    fn handle(&mut self, e: NetEvent) {
        match e {
            NetEvent::Timer { token, .. } => {
                let action = self.actions[token as usize];
                self.on_action(action);
            }
            NetEvent::Endpoint { node, event, .. } => match event {
                Event::Request {
                    tx,
                    request,
                    source,
                } => self.on_request(node, tx, request, source),
                Event::Ack { request, .. } => self.on_ack(node, &request),
                Event::Cancelled { invite, .. } => self.on_cancelled(node, invite),
                Event::Response { tx, response, .. } => self.on_response(node, tx, &response),
                Event::StrayResponse { response, .. } => self.on_stray(node, &response),
                Event::Timeout { tx } | Event::TransportError { tx } => self.on_timeout(node, tx),
                Event::AckTimeout { tx } => {
                    if let Some(c) = self.served.iter_mut().find(|c| c.tx == tx) {
                        c.ack_timeout = true;
                    }
                }
                Event::Terminated { tx } => self.on_terminated(node, tx),
                other => self.other_events.push(format!("{other:?}")),
            },
            other => self.other_events.push(format!("{other:?}")),
        }
    }

    fn on_action(&mut self, action: Action) {
        match action {
            Action::Start(node) => {
                self.start_call(node);
            }
            Action::Ring(j) => self.uas_ring(j),
            Action::Answer(j) => self.uas_answer(j),
            Action::Retransmit2xx(j) => self.uas_retransmit(j),
            Action::Bye(i) => {
                if self.calls[i].outcome.is_none() && self.calls[i].bye_tx.is_none() {
                    self.send_bye(i);
                }
            }
            Action::Cancel(i) => {
                self.calls[i].cancel_wanted = true;
                self.try_cancel(i);
            }
            Action::NoAnswer(i) => {
                let c = &self.calls[i];
                let final_seen = c.responses.iter().any(|(_, s)| *s >= 200);
                if c.outcome.is_none() && !final_seen {
                    self.calls[i].cancel_wanted = true;
                    self.try_cancel(i);
                }
            }
        }
    }

    // ----- UAC -----

    fn start_call(&mut self, node: NodeId) -> usize {
        let i = self.calls.len();
        let (call_id, tag) = self
            .net
            .with_endpoint(node, |ep, _| (ep.new_call_id(), ep.new_tag()));
        let me = self.net.address(node);
        let name = self.net.name(node).to_owned();
        let bob = self.net.address(self.uas);
        let from = format!("<sip:{name}@{me}>");
        let to = format!("<sip:bob@{bob}>");
        let invite = RequestBuilder::new(Method::Invite, format!("sip:bob@{bob}"))
            .from(&from, &tag)
            .to(&to, None)
            .call_id(&call_id)
            .cseq(1)
            .contact(&from)
            .build()
            .unwrap();
        let dest = self.dest(self.uas);
        let invite_tx = self.net.send_request(node, invite, dest).unwrap();
        self.calls.push(UacCall {
            node,
            call_id,
            from: format!("{from};tag={tag}"),
            to,
            invite_tx,
            responses: Vec::new(),
            cancel_wanted: false,
            cancel_tx: None,
            cancel_refused: 0,
            cancel_status: None,
            remote_tag: None,
            target: None,
            ack: None,
            acks_sent: 0,
            answered_at: None,
            bye_tx: None,
            bye_status: None,
            stray_2xx: 0,
            outcome: None,
        });
        if let Some(after) = self.uac_plan.cancel_after {
            self.later(node, after, Action::Cancel(i));
        }
        let no_answer = self.uac_plan.no_answer;
        self.later(node, no_answer, Action::NoAnswer(i));
        i
    }

    fn try_cancel(&mut self, i: usize) {
        let c = &self.calls[i];
        if c.cancel_tx.is_some() {
            return;
        }
        match self.net.cancel(c.node, c.invite_tx) {
            Ok(tx) => self.calls[i].cancel_tx = Some(tx),
            Err(_) => self.calls[i].cancel_refused += 1,
        }
    }

    fn send_ack(&mut self, i: usize) {
        let node = self.calls[i].node;
        if self.calls[i].ack.is_none() {
            let branch = self.net.endpoint_mut(node).new_branch();
            let me = self.net.address(node);
            let c = &self.calls[i];
            let ack = RequestBuilder::new(Method::Ack, c.target.clone().unwrap())
                .header(
                    HeaderName::Via,
                    format!("SIP/2.0/{} {me};branch={branch};rport", self.transport),
                )
                .header(HeaderName::From, c.from.clone())
                .to(&c.to, c.remote_tag.as_deref())
                .call_id(&c.call_id)
                .cseq(1)
                .build()
                .unwrap();
            self.calls[i].ack = Some(ack.into());
        }
        let ack = self.calls[i].ack.clone().unwrap();
        let dest = self.dest(self.uas);
        self.net.send_stateless(node, &ack, dest);
        self.calls[i].acks_sent += 1;
    }

    fn send_bye(&mut self, i: usize) {
        let c = &self.calls[i];
        let bye = RequestBuilder::new(Method::Bye, c.target.clone().unwrap())
            .header(HeaderName::From, c.from.clone())
            .to(&c.to, c.remote_tag.as_deref())
            .call_id(&c.call_id)
            .cseq(2)
            .build()
            .unwrap();
        let (node, dest) = (c.node, self.dest(self.uas));
        self.calls[i].bye_tx = Some(self.net.send_request(node, bye, dest).unwrap());
    }

    fn on_uac_invite_response(&mut self, i: usize, response: &Response) {
        let now = self.now();
        let code = response.status().as_u16();
        self.calls[i].responses.push((now, code));
        match code {
            100..=199 => {
                if self.calls[i].cancel_wanted && self.calls[i].outcome.is_none() {
                    self.try_cancel(i);
                }
            }
            200..=299 => {
                let h = response.headers();
                let c = &mut self.calls[i];
                if c.remote_tag.is_none() {
                    c.remote_tag = h.to_tag().map(str::to_owned);
                    c.target = Some(uri_of(h.get(HeaderName::Contact).unwrap()));
                }
                self.send_ack(i);
                let c = &mut self.calls[i];
                if c.answered_at.is_none() {
                    c.answered_at = Some(now);
                    if c.cancel_wanted {
                        // The 2xx crossed our CANCEL: the call is up, hang up.
                        self.send_bye(i);
                    } else {
                        let (node, hold) = (c.node, self.uac_plan.hold);
                        self.later(node, hold, Action::Bye(i));
                    }
                }
            }
            487 => self.calls[i].end(now, Outcome::Cancelled),
            _ => self.calls[i].end(now, Outcome::Rejected(code)),
        }
    }

    // ----- UAS -----

    fn served_by_call_id(&self, call_id: Option<&str>) -> Option<usize> {
        self.served
            .iter()
            .position(|c| c.request.headers().call_id() == call_id)
    }

    fn uas_respond(&mut self, j: usize, code: u16) -> Response {
        let c = &self.served[j];
        let mut b = ResponseBuilder::from_request(&c.request, StatusCode::new(code).unwrap())
            .to_tag(&c.to_tag);
        if (200..300).contains(&code) {
            b = b.header(
                HeaderName::Contact,
                format!("<sip:bob@{}>", self.net.address(self.uas)),
            );
        }
        let response = b.build().unwrap();
        let tx = c.tx;
        self.net.respond(self.uas, tx, response.clone()).unwrap();
        response
    }

    fn uas_ring(&mut self, j: usize) {
        if self.served[j].final_sent.is_none() {
            self.uas_respond(j, 180);
        }
    }

    fn uas_answer(&mut self, j: usize) {
        if self.served[j].final_sent.is_some() {
            return;
        }
        let code = self.uas_plan.answer;
        let response = self.uas_respond(j, code);
        let now = self.now();
        let c = &mut self.served[j];
        c.final_sent = Some(code);
        if (200..300).contains(&code) {
            c.ok = Some(response);
            c.ok_at = now;
            c.interval = T1;
            self.later(self.uas, T1, Action::Retransmit2xx(j));
        }
    }

    /// §13.3.1.4: retransmit the 2xx, T1 doubling up to T2, until the ACK;
    /// after 64*T1 give up and end the session with BYE.
    fn uas_retransmit(&mut self, j: usize) {
        let now = self.now();
        let c = &mut self.served[j];
        if !c.acks.is_empty() || c.byes > 0 || c.gave_up {
            return;
        }
        let since = now - c.ok_at;
        if since >= 64 * T1 {
            c.gave_up = true;
            self.uas_bye(j);
            return;
        }
        let ok = c.ok.clone().unwrap();
        let (tx, source) = (c.tx, c.source);
        c.ok_retransmits += 1;
        c.interval = (c.interval * 2).min(T2);
        let next = c.interval.min(64 * T1 - since);
        if self.net.respond(self.uas, tx, ok.clone()).is_err() {
            // The transaction is gone (Timer L): send it ourselves.
            let dest = Destination::Address {
                transport: source.transport,
                remote: source.remote,
            };
            self.net.send_stateless(self.uas, &ok.into(), dest);
        }
        self.later(self.uas, next, Action::Retransmit2xx(j));
    }

    fn uas_bye(&mut self, j: usize) {
        let c = &self.served[j];
        let h = c.request.headers();
        let bye = RequestBuilder::new(Method::Bye, uri_of(h.get(HeaderName::Contact).unwrap()))
            .header(
                HeaderName::From,
                format!("{};tag={}", h.get(HeaderName::To).unwrap(), c.to_tag),
            )
            .header(HeaderName::To, h.get(HeaderName::From).unwrap())
            .call_id(h.call_id().unwrap())
            .cseq(1)
            .build()
            .unwrap();
        let dest = Destination::Address {
            transport: c.source.transport,
            remote: c.source.remote,
        };
        self.served[j].bye_tx = Some(self.net.send_request(self.uas, bye, dest).unwrap());
    }

    // ----- event handlers -----

    fn on_request(&mut self, node: NodeId, tx: TransactionId, request: Request, source: Source) {
        let method = request.method().clone();
        let call_id = request.headers().call_id().map(str::to_owned);
        let status = match (node == self.uas, method) {
            (true, Method::Invite) => {
                if let Some(j) = self.served_by_call_id(call_id.as_deref()) {
                    self.served[j].invites += 1;
                    return;
                }
                let to_tag = self.net.with_endpoint(node, |ep, _| ep.new_tag());
                let j = self.served.len();
                self.served.push(UasCall {
                    tx,
                    request,
                    source,
                    to_tag,
                    invites: 1,
                    final_sent: None,
                    ok: None,
                    ok_at: Duration::ZERO,
                    interval: T1,
                    ok_retransmits: 0,
                    acks: Vec::new(),
                    cancelled: 0,
                    byes: 0,
                    gave_up: false,
                    ack_timeout: false,
                    bye_tx: None,
                    bye_status: None,
                });
                let plan = self.uas_plan;
                if let Some(r) = plan.ring_after {
                    self.later(node, r, Action::Ring(j));
                }
                self.later(node, plan.answer_after, Action::Answer(j));
                return;
            }
            (true, Method::Bye) => match self.served_by_call_id(call_id.as_deref()) {
                Some(j) if request.headers().to_tag() == Some(self.served[j].to_tag.as_str()) => {
                    self.served[j].byes += 1;
                    200
                }
                _ => 481,
            },
            (false, Method::Bye) => {
                let now = self.now();
                let call = self
                    .calls
                    .iter_mut()
                    .find(|c| c.node == node && Some(&c.call_id) == call_id.as_ref());
                match call {
                    Some(c) if c.remote_tag.is_some() && c.outcome.is_none() => {
                        c.end(now, Outcome::RemoteBye);
                        200
                    }
                    _ => 481,
                }
            }
            _ => 501,
        };
        let response = ResponseBuilder::from_request(&request, StatusCode::new(status).unwrap())
            .to_tag("x")
            .build()
            .unwrap();
        self.net.respond(node, tx, response).unwrap();
    }

    fn on_ack(&mut self, node: NodeId, request: &Request) {
        let now = self.now();
        match self.served_by_call_id(request.headers().call_id()) {
            Some(j) if node == self.uas => self.served[j].acks.push(now),
            _ => self.stray_acks += 1,
        }
    }

    fn on_cancelled(&mut self, node: NodeId, invite: TransactionId) {
        let Some(j) = self.served.iter().position(|c| c.tx == invite) else {
            return;
        };
        assert_eq!(node, self.uas);
        self.served[j].cancelled += 1;
        if self.served[j].final_sent.is_none() {
            self.uas_respond(j, 487);
            self.served[j].final_sent = Some(487);
        }
    }

    fn on_response(&mut self, node: NodeId, tx: TransactionId, response: &Response) {
        let now = self.now();
        let code = response.status().as_u16();
        if let Some(i) = self
            .calls
            .iter()
            .position(|c| c.node == node && c.invite_tx == tx)
        {
            self.on_uac_invite_response(i, response);
        } else if let Some(c) = self
            .calls
            .iter_mut()
            .find(|c| c.node == node && c.cancel_tx == Some(tx))
        {
            c.cancel_status = Some(code);
        } else if let Some(c) = self
            .calls
            .iter_mut()
            .find(|c| c.node == node && c.bye_tx == Some(tx))
        {
            if code >= 200 {
                c.bye_status = Some(code);
                let outcome = if code < 300 {
                    Outcome::Completed
                } else {
                    Outcome::ByeFailed(code)
                };
                c.end(now, outcome);
            }
        } else if let Some(c) = self.served.iter_mut().find(|c| c.bye_tx == Some(tx)) {
            c.bye_status = Some(code);
        } else {
            panic!("response {code} for an unknown transaction {tx} on {node}");
        }
    }

    fn on_stray(&mut self, node: NodeId, response: &Response) {
        let h = response.headers();
        let is_invite_2xx =
            response.status().is_success() && h.cseq().is_some_and(|c| c.method == Method::Invite);
        let call = self
            .calls
            .iter()
            .position(|c| c.node == node && h.call_id() == Some(c.call_id.as_str()));
        if let (true, Some(i)) = (is_invite_2xx, call) {
            // A 2xx retransmission after Timer M: ACK it again.
            self.calls[i].stray_2xx += 1;
            if self.calls[i].ack.is_some() {
                self.send_ack(i);
            }
        }
    }

    fn on_terminated(&mut self, node: NodeId, tx: TransactionId) {
        let now = self.now();
        if let Some(c) = self
            .calls
            .iter_mut()
            .find(|c| c.node == node && c.invite_tx == tx)
        {
            if !c.responses.iter().any(|(_, s)| *s >= 200) {
                c.end(now, Outcome::Abandoned);
            }
        }
    }

    fn on_timeout(&mut self, node: NodeId, tx: TransactionId) {
        let now = self.now();
        for c in self.calls.iter_mut().filter(|c| c.node == node) {
            if c.invite_tx == tx {
                c.end(now, Outcome::InviteTimeout);
            } else if c.bye_tx == Some(tx) {
                c.end(now, Outcome::ByeTimeout);
            } else if c.cancel_tx == Some(tx) {
                c.cancel_status = Some(408);
            }
        }
        for c in self.served.iter_mut().filter(|c| c.bye_tx == Some(tx)) {
            c.bye_status = Some(408);
        }
    }
}

fn is_invite(p: &Packet) -> bool {
    p.is_request(&Method::Invite)
}

fn is_ack(p: &Packet) -> bool {
    p.is_request(&Method::Ack)
}

fn is_bye(p: &Packet) -> bool {
    p.is_request(&Method::Bye)
}

fn is_cancel(p: &Packet) -> bool {
    p.is_request(&Method::Cancel)
}

fn invite_response(code: u16) -> impl Fn(&Packet) -> bool {
    move |p| p.is_response_to(code, &Method::Invite)
}

fn bye_response(code: u16) -> impl Fn(&Packet) -> bool {
    move |p| p.is_response_to(code, &Method::Bye)
}

/// One call from alice to bob, run for 61 s of virtual time (every timer,
/// the UAC's 60 s no-answer one included, has run out by then).
fn one_call(sim: &mut Sim) -> usize {
    let alice = sim.alice;
    let i = sim.start_call(alice);
    sim.run(61 * S);
    i
}

/// Everything ended: no transaction left anywhere, nothing in flight.
fn assert_all_ended(sim: &Sim) {
    assert_eq!(sim.net.transaction_count(), 0, "live transactions remain");
    assert!(sim.net.is_idle(), "the network is not idle");
    assert!(
        sim.other_events.is_empty(),
        "unexpected events: {:?}",
        sim.other_events
    );
}

// ----- a call without loss -----

#[test]
fn call_without_loss() {
    let mut sim = Sim::new(1);
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(call.outcome, Some((2040 * MS, Outcome::Completed)));
    assert_eq!(
        call.responses,
        [(220 * MS, 100), (320 * MS, 180), (1020 * MS, 200)]
    );
    assert_eq!(sim.times(is_invite), [0]);
    assert_eq!(sim.times(invite_response(100)), [210]);
    assert_eq!(sim.times(invite_response(180)), [310]);
    assert_eq!(sim.times(invite_response(200)), [1010]);
    assert_eq!(sim.times(is_ack), [1020]);
    assert_eq!(sim.times(is_bye), [2020]);
    assert_eq!(sim.times(bye_response(200)), [2030]);
    assert_eq!(sim.net.capture().len(), 7);
    let uas = &sim.served[0];
    assert_eq!((uas.invites, uas.byes, uas.ok_retransmits), (1, 1, 0));
    assert_eq!(uas.acks, [1030 * MS]);
    // The ACK for the 2xx has its own branch, the BYE its own transaction.
    let branches: Vec<_> = sim
        .net
        .sent(|p| is_invite(p) || is_ack(p) || is_bye(p))
        .iter()
        .map(|p| {
            p.message()
                .unwrap()
                .headers()
                .top_branch()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(branches.len(), 3);
    assert!(branches[0] != branches[1] && branches[1] != branches[2]);
    assert_all_ended(&sim);
}

// ----- losing each message of the exchange once -----

#[test]
fn lost_invite_is_retransmitted_by_timer_a() {
    let mut sim = Sim::new(1);
    let rule = sim.net.drop_first(is_invite);
    let i = one_call(&mut sim);
    assert_eq!(sim.net.rule_hits(rule), 1);
    // Everything moves 500 ms later.
    assert_eq!(sim.times(is_invite), [0, 500]);
    assert_eq!(sim.times(invite_response(100)), [710]);
    assert_eq!(sim.times(invite_response(180)), [810]);
    assert_eq!(sim.times(invite_response(200)), [1510]);
    assert_eq!(sim.times(is_ack), [1520]);
    assert_eq!(sim.times(is_bye), [2520]);
    assert_eq!(sim.calls[i].outcome, Some((2540 * MS, Outcome::Completed)));
    assert_eq!(sim.served[0].invites, 1);
    assert_all_ended(&sim);
}

#[test]
fn invite_lost_twice_backs_off_to_one_second() {
    let mut sim = Sim::new(1);
    sim.net
        .add_rule(switchboard_testkit::Rule::drop(is_invite).times(2));
    let i = one_call(&mut sim);
    assert_eq!(sim.times(is_invite), [0, 500, 1500]);
    assert_eq!(sim.calls[i].outcome(), Some(Outcome::Completed));
    assert_all_ended(&sim);
}

#[test]
fn lost_100_trying_is_harmless_when_180_follows_before_timer_a() {
    let mut sim = Sim::new(1);
    sim.net.drop_first(invite_response(100));
    let i = one_call(&mut sim);
    assert_eq!(sim.times(is_invite), [0], "the 180 at 320 ms stops Timer A");
    assert_eq!(sim.calls[i].statuses(), [180, 200]);
    assert_eq!(sim.calls[i].outcome, Some((2040 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn lost_100_and_180_the_retransmitted_invite_gets_the_180_again() {
    let mut sim = Sim::new(1);
    sim.net.drop_first(invite_response(100));
    sim.net.drop_first(invite_response(180));
    let i = one_call(&mut sim);
    assert_eq!(sim.times(is_invite), [0, 500]);
    // The INVITE server transaction answers the retransmission with its
    // last provisional.
    assert_eq!(sim.times(invite_response(180)), [310, 510]);
    assert_eq!(sim.calls[i].responses, [(520 * MS, 180), (1020 * MS, 200)]);
    assert_eq!(sim.served[0].invites, 1);
    assert_eq!(sim.net.endpoint(sim.uas).stats().retransmissions, 1);
    assert_eq!(sim.calls[i].outcome(), Some(Outcome::Completed));
    assert_all_ended(&sim);
}

#[test]
fn lost_180_the_call_goes_on() {
    let mut sim = Sim::new(1);
    sim.net.drop_first(invite_response(180));
    let i = one_call(&mut sim);
    assert_eq!(sim.times(is_invite), [0]);
    assert_eq!(sim.times(invite_response(180)), [310]);
    assert_eq!(sim.calls[i].statuses(), [100, 200]);
    assert_eq!(sim.calls[i].outcome, Some((2040 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn lost_200_is_retransmitted_by_the_uas_core() {
    let mut sim = Sim::new(1);
    sim.net.drop_first(invite_response(200));
    let i = one_call(&mut sim);
    assert_eq!(sim.times(invite_response(200)), [1010, 1510]);
    assert_eq!(sim.times(is_ack), [1520]);
    assert_eq!(sim.times(is_bye), [2520]);
    assert_eq!(sim.served[0].ok_retransmits, 1);
    assert_eq!(sim.served[0].acks, [1530 * MS]);
    assert_eq!(sim.calls[i].outcome, Some((2540 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn lost_200_three_times_the_uas_doubles_its_interval() {
    let mut sim = Sim::new(1);
    sim.net
        .add_rule(switchboard_testkit::Rule::drop(invite_response(200)).times(3));
    let i = one_call(&mut sim);
    // 1010, then T1 = 500, 1000, 2000 ms later.
    assert_eq!(sim.times(invite_response(200)), [1010, 1510, 2510, 4510]);
    assert_eq!(sim.times(is_ack), [4520]);
    assert_eq!(sim.calls[i].outcome(), Some(Outcome::Completed));
    assert_all_ended(&sim);
}

#[test]
fn lost_ack_the_2xx_comes_again_and_is_acked_again() {
    let mut sim = Sim::new(1);
    sim.net.drop_first(is_ack);
    let i = one_call(&mut sim);
    assert_eq!(sim.times(invite_response(200)), [1010, 1510]);
    assert_eq!(sim.times(is_ack), [1020, 1520]);
    let acks = sim.net.sent(is_ack);
    assert_eq!(acks[0].bytes, acks[1].bytes, "the same ACK is sent again");
    assert_eq!(sim.calls[i].acks_sent, 2);
    assert_eq!(sim.served[0].acks, [1530 * MS]);
    // The hold time counts from the first 2xx.
    assert_eq!(sim.times(is_bye), [2020]);
    assert_eq!(sim.calls[i].outcome, Some((2040 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn every_ack_lost_the_uas_gives_up_after_64_t1_and_hangs_up() {
    let mut sim = Sim::new(1);
    sim.uac_plan.hold = 60 * S;
    sim.net.drop_all(is_ack);
    let i = one_call(&mut sim);
    sim.run(100 * S);
    // 2xx at 1010, then 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s after it.
    let expected: Vec<u128> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .iter()
    .map(|t| 1010 + t)
    .collect();
    assert_eq!(sim.times(invite_response(200)), expected);
    assert_eq!(sim.calls[i].acks_sent, 11);
    let uas = &sim.served[0];
    assert!(uas.gave_up);
    assert_eq!(uas.bye_status, Some(200));
    assert_eq!(sim.times(is_bye), [1010 + 32_000]);
    assert_eq!(
        sim.calls[i].outcome,
        Some(((1010 + 32_000 + 10) * MS, Outcome::RemoteBye))
    );
    assert_all_ended(&sim);
}

#[test]
fn lost_bye_is_retransmitted_by_timer_e() {
    let mut sim = Sim::new(1);
    sim.net.drop_first(is_bye);
    let i = one_call(&mut sim);
    assert_eq!(sim.times(is_bye), [2020, 2520]);
    assert_eq!(sim.times(bye_response(200)), [2530]);
    assert_eq!(sim.served[0].byes, 1);
    assert_eq!(sim.calls[i].outcome, Some((2540 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn lost_200_for_bye_is_replayed_by_the_server_transaction() {
    let mut sim = Sim::new(1);
    sim.net.drop_first(bye_response(200));
    let i = one_call(&mut sim);
    assert_eq!(sim.times(is_bye), [2020, 2520]);
    assert_eq!(sim.times(bye_response(200)), [2030, 2530]);
    assert_eq!(sim.served[0].byes, 1, "the retransmitted BYE is absorbed");
    assert_eq!(sim.net.endpoint(sim.uas).stats().retransmissions, 1);
    assert_eq!(sim.calls[i].outcome, Some((2540 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn invite_lost_every_time_times_out_with_timer_b() {
    let mut sim = Sim::new(1);
    sim.net.drop_all(is_invite);
    let i = one_call(&mut sim);
    assert_eq!(
        sim.times(is_invite),
        [0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    assert_eq!(sim.calls[i].outcome, Some((32 * S, Outcome::InviteTimeout)));
    assert!(sim.served.is_empty());
    assert_all_ended(&sim);
}

// ----- non-2xx final response -----

#[test]
fn busy_with_the_ack_lost_timer_g_retransmits_and_the_uac_acks_again() {
    let mut sim = Sim::new(1);
    sim.uas_plan.answer = 486;
    sim.net.drop_first(is_ack);
    let i = one_call(&mut sim);
    assert_eq!(sim.times(invite_response(486)), [1010, 1510]);
    assert_eq!(sim.times(is_ack), [1020, 1520]);
    // The ACK for a non-2xx is the transaction's: same branch as the INVITE.
    let invite = sim.net.sent(is_invite)[0].message().unwrap();
    let ack = sim.net.sent(is_ack)[1].message().unwrap();
    assert_eq!(ack.headers().top_branch(), invite.headers().top_branch());
    let call = &sim.calls[i];
    assert_eq!(
        call.statuses(),
        [100, 180, 486],
        "the retransmitted 486 is absorbed"
    );
    assert_eq!(call.outcome, Some((1020 * MS, Outcome::Rejected(486))));
    assert_eq!(call.acks_sent, 0, "the TU sends no ACK for a non-2xx");
    assert!(!sim.served[0].ack_timeout);
    assert!(
        sim.served[0].acks.is_empty(),
        "that ACK stays in the transaction"
    );
    assert_all_ended(&sim);
}

#[test]
fn busy_with_every_ack_lost_ends_with_timer_h() {
    let mut sim = Sim::new(1);
    sim.uas_plan.answer = 486;
    sim.net.drop_all(is_ack);
    one_call(&mut sim);
    // G: 0.5, 1.5, 3.5, 7.5 then every T2 until H at 32 s.
    let expected: Vec<u128> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .iter()
    .map(|t| 1010 + t)
    .collect();
    assert_eq!(sim.times(invite_response(486)), expected);
    assert!(sim.served[0].ack_timeout);
    assert_all_ended(&sim);
}

// ----- CANCEL races -----

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut sim = Sim::new(1);
    sim.uac_plan.cancel_after = Some(100 * MS);
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(
        call.cancel_refused, 1,
        "no CANCEL before a provisional (§9.1)"
    );
    // The 100 Trying arrives at 220 ms: CANCEL then.
    assert_eq!(sim.times(is_cancel), [220]);
    assert_eq!(call.cancel_status, Some(200));
    assert_eq!(sim.times(invite_response(487)), [230]);
    assert_eq!(call.statuses(), [100, 487]);
    assert_eq!(call.outcome, Some((240 * MS, Outcome::Cancelled)));
    // The UAS never rang nor answered.
    assert!(sim.times(invite_response(180)).is_empty());
    assert!(sim.times(invite_response(200)).is_empty());
    assert_eq!(sim.served[0].cancelled, 1);
    assert_eq!(sim.served[0].final_sent, Some(487));
    assert_eq!(sim.times(is_ack), [240]);
    assert_all_ended(&sim);
}

#[test]
fn cancel_when_ringing_gets_487() {
    let mut sim = Sim::new(1);
    sim.uac_plan.cancel_after = Some(500 * MS);
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(call.cancel_refused, 0);
    assert_eq!(sim.times(is_cancel), [500]);
    assert_eq!(call.statuses(), [100, 180, 487]);
    assert_eq!(call.outcome, Some((520 * MS, Outcome::Cancelled)));
    assert_all_ended(&sim);
}

/// Minor (a SHOULD), reported to the lead: RFC 3261 §9.2 says "The To tag
/// of the response to the CANCEL and the To tag in the response to the
/// original request SHOULD be the same." The endpoint answers the CANCEL
/// with a fresh random tag although the INVITE transaction already sent a
/// 180 with the UAS's tag.
#[test]
fn the_200_for_cancel_has_the_to_tag_of_the_invite_responses() {
    let mut sim = Sim::new(1);
    sim.uac_plan.cancel_after = Some(500 * MS);
    one_call(&mut sim);
    let tag = |p: &Packet| p.message().unwrap().headers().to_tag().map(str::to_owned);
    let ringing = tag(sim.net.sent(invite_response(180))[0]);
    let cancel_ok = tag(sim.net.sent(|p| p.is_response_to(200, &Method::Cancel))[0]);
    assert!(ringing.is_some());
    assert_eq!(cancel_ok, ringing);
}

#[test]
fn lost_cancel_is_retransmitted() {
    let mut sim = Sim::new(1);
    sim.uas_plan.answer_after = 1200 * MS;
    sim.uac_plan.cancel_after = Some(500 * MS);
    sim.net.drop_first(is_cancel);
    let i = one_call(&mut sim);
    // Timer E: T1 later; it arrives at 1010, before the answer at 1210.
    assert_eq!(sim.times(is_cancel), [500, 1000]);
    assert_eq!(sim.times(invite_response(487)), [1010]);
    assert_eq!(sim.calls[i].cancel_status, Some(200));
    assert_eq!(sim.calls[i].outcome, Some((1020 * MS, Outcome::Cancelled)));
    assert_all_ended(&sim);
}

#[test]
fn lost_cancel_retransmitted_too_late_the_call_is_up_and_hung_up() {
    let mut sim = Sim::new(1);
    sim.uas_plan.answer_after = 900 * MS;
    sim.uac_plan.cancel_after = Some(500 * MS);
    sim.net.drop_first(is_cancel);
    let i = one_call(&mut sim);
    // The 200 reaches alice at 920, with her CANCEL still pending: she ACKs
    // and hangs up at once; the CANCEL retransmission at 1000 gets 200
    // without effect.
    assert_eq!(sim.times(invite_response(200)), [910]);
    assert_eq!(sim.times(is_ack), [920]);
    assert_eq!(sim.times(is_bye), [920]);
    assert_eq!(sim.times(is_cancel), [500, 1000]);
    assert_eq!(sim.calls[i].cancel_status, Some(200));
    assert!(sim.times(invite_response(487)).is_empty());
    assert_eq!(sim.calls[i].outcome, Some((940 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn cancel_crossing_the_200_the_uac_acks_and_hangs_up() {
    let mut sim = Sim::new(1);
    // The 200 leaves bob at 1010 and reaches alice at 1020; the CANCEL
    // leaves alice at 1015 and reaches bob at 1025.
    sim.uac_plan.cancel_after = Some(1015 * MS);
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(sim.times(is_cancel), [1015]);
    // The INVITE transaction still exists at bob (Accepted): the CANCEL is
    // answered 200 and has no effect (§9.2).
    assert_eq!(
        sim.times(|p| p.is_response_to(200, &Method::Cancel)),
        [1025]
    );
    assert_eq!(call.cancel_status, Some(200));
    // The INVITE has its final response: the TU is not told of the CANCEL.
    assert_eq!(sim.served[0].cancelled, 0);
    assert_eq!(sim.served[0].final_sent, Some(200));
    assert!(sim.times(invite_response(487)).is_empty());
    assert_eq!(call.statuses(), [100, 180, 200]);
    assert_eq!(sim.times(is_ack), [1020]);
    assert_eq!(sim.times(is_bye), [1020]);
    assert_eq!(sim.served[0].acks, [1030 * MS]);
    assert_eq!(call.outcome, Some((1040 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn cancel_crossing_a_486_is_answered_and_ignored() {
    let mut sim = Sim::new(1);
    sim.uas_plan.answer = 486;
    sim.uac_plan.cancel_after = Some(1015 * MS);
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(sim.times(is_cancel), [1015]);
    assert_eq!(call.cancel_status, Some(200));
    assert_eq!(call.outcome, Some((1020 * MS, Outcome::Rejected(486))));
    assert!(sim.times(invite_response(487)).is_empty());
    assert_all_ended(&sim);
}

#[test]
fn cancel_after_the_final_response_is_refused() {
    for answer in [200, 486] {
        let mut sim = Sim::new(1);
        sim.uas_plan.answer = answer;
        sim.uac_plan.cancel_after = Some(1500 * MS);
        let i = one_call(&mut sim);
        let call = &sim.calls[i];
        assert_eq!(call.cancel_refused, 1, "answer {answer}");
        assert!(sim.times(is_cancel).is_empty());
        let expected = if answer == 200 {
            Outcome::Completed
        } else {
            Outcome::Rejected(486)
        };
        assert_eq!(call.outcome(), Some(expected));
        assert_all_ended(&sim);
    }
}

/// RFC 3261 §9.1: "If there is no final response for the original request
/// in 64*T1 seconds ... the client SHOULD then consider the original
/// transaction cancelled and SHOULD destroy the client transaction". The
/// endpoint re-arms Timer B when the CANCEL goes out and reports `Timeout`
/// when it fires.
///
/// Scenario: 100 and 180 arrive, every 200 is lost; the UAC gives up at
/// 20 s and CANCELs (the CANCEL gets 200: the UAS transaction is in
/// Accepted). The INVITE transaction ends by 20 s + 64*T1 = 52 s.
#[test]
fn cancelled_invite_without_final_response_ends_after_64_t1() {
    let mut sim = Sim::new(1);
    sim.uac_plan.no_answer = 20 * S;
    sim.net.drop_all(invite_response(200));
    let alice = sim.alice;
    let i = sim.start_call(alice);
    sim.run(100 * S);
    assert_eq!(sim.times(is_cancel), [20_000]);
    assert_eq!(sim.calls[i].cancel_status, Some(200));
    assert_eq!(sim.calls[i].statuses(), [100, 180]);
    assert_eq!(
        sim.net.endpoint(alice).transaction_count(),
        0,
        "the INVITE client transaction is still live"
    );
    assert_eq!(sim.calls[i].outcome(), Some(Outcome::InviteTimeout));
}

// ----- transports -----

#[test]
fn call_over_tcp_has_no_retransmissions_and_one_connection() {
    let mut sim = Sim::with_transport(1, Transport::Tcp);
    // Small segments: the framer reassembles every message.
    sim.net
        .set_default_link(LinkConfig::new(10 * MS).with_segments(64));
    let i = one_call(&mut sim);
    assert_eq!(sim.calls[i].outcome, Some((2040 * MS, Outcome::Completed)));
    assert_eq!(sim.net.capture().len(), 7);
    assert!(
        sim.net
            .capture()
            .iter()
            .all(|p| p.transport == Transport::Tcp)
    );
    assert_eq!(sim.net.flows(sim.alice).len(), 1);
    assert_eq!(sim.net.flows(sim.uas).len(), 1);
    assert_all_ended(&sim);
}

#[test]
fn call_over_tcp_with_the_ack_lost_still_retransmits_the_2xx() {
    // §13.3.1.4 applies whatever the transport: the 2xx travels end to end.
    let mut sim = Sim::with_transport(1, Transport::Tcp);
    sim.net.drop_first(is_ack);
    let i = one_call(&mut sim);
    assert_eq!(sim.times(invite_response(200)), [1010, 1510]);
    assert_eq!(sim.calls[i].outcome(), Some(Outcome::Completed));
    assert_all_ended(&sim);
}

/// A client transaction sent over TCP to an address is failed at once with
/// `TransportError` when the connection the driver opened for it breaks
/// (RFC 3261 §8.1.3.1, §17.1.4), not after Timer B.
#[test]
fn broken_tcp_connection_fails_the_invite_at_once() {
    let mut sim = Sim::with_transport(1, Transport::Tcp);
    sim.uas_plan.ring_after = None;
    sim.uas_plan.answer_after = 20 * S;
    let alice = sim.alice;
    let i = sim.start_call(alice);
    sim.run(100 * MS);
    let (flow, _, _) = sim.net.flows(alice)[0];
    sim.net.close_flow(alice, flow);
    let mut transport_error = false;
    while let Some(e) = sim.net.next_event(200 * MS) {
        if let NetEvent::Endpoint {
            event: Event::TransportError { tx },
            ..
        } = &e
        {
            transport_error |= *tx == sim.calls[i].invite_tx;
        }
        sim.handle(e);
    }
    assert!(
        transport_error,
        "expected TransportError for the INVITE right after the connection broke"
    );
}

// ----- three endpoints -----

#[test]
fn two_callers_to_one_callee_with_losses_on_one_path() {
    let mut sim = Sim::new(11);
    let carol = sim.add_uac("carol", CAROL);
    // Carol's path to bob loses a quarter of the datagrams; alice's is clean.
    let lossy = LinkConfig::new(30 * MS).with_loss(0.25);
    sim.net.set_links(carol, sim.uas, lossy);
    for k in 0..10u32 {
        let node = if k % 2 == 0 { sim.alice } else { carol };
        sim.later(
            node,
            Duration::from_millis(u64::from(k) * 300),
            Action::Start(node),
        );
    }
    sim.run(120 * S);
    assert_eq!(sim.calls.len(), 10);
    for c in &sim.calls {
        assert_eq!(c.outcome(), Some(Outcome::Completed), "{c:?}");
    }
    let alice_calls: Vec<_> = sim.calls.iter().filter(|c| c.node == sim.alice).collect();
    assert_eq!(alice_calls.len(), 5);
    assert!(
        sim.net
            .capture()
            .iter()
            .filter(|p| p.from == sim.alice || p.to == Some(sim.alice))
            .all(|p| p.is_delivered()),
        "nothing lost on alice's path"
    );
    assert_all_ended(&sim);
}

// ----- heavy random loss -----

/// 100 calls, alternately from alice and carol, one every 100 ms, over
/// links that lose `loss` of the datagrams; runs 300 s of virtual time.
/// Checks that every call ended, completed or failed by a timeout, and
/// returns the tally of outcomes.
fn heavy_loss(seed: u64, loss: f64) -> (Sim, std::collections::BTreeMap<String, usize>) {
    let mut sim = Sim::new(seed);
    let carol = sim.add_uac("carol", CAROL);
    sim.net.set_default_link(
        LinkConfig::new(20 * MS)
            .with_jitter(10 * MS)
            .with_loss(loss),
    );
    for k in 0..100u64 {
        let node = if k % 2 == 0 { sim.alice } else { carol };
        sim.later(node, Duration::from_millis(k * 100), Action::Start(node));
    }
    sim.run(300 * S);
    assert_eq!(sim.calls.len(), 100);
    let mut tally = std::collections::BTreeMap::new();
    for c in &sim.calls {
        let outcome = c
            .outcome()
            .unwrap_or_else(|| panic!("call never ended: {c:?}"));
        assert!(
            matches!(
                outcome,
                Outcome::Completed
                    | Outcome::InviteTimeout
                    | Outcome::ByeTimeout
                    | Outcome::RemoteBye
                    | Outcome::Abandoned
            ),
            "{c:?}"
        );
        *tally.entry(format!("{outcome:?}")).or_insert(0) += 1;
    }
    // The UAS saw each INVITE it got as one request, however often sent.
    assert!(sim.served.iter().all(|c| c.invites == 1 && c.byes <= 1));
    let lost = sim
        .net
        .capture()
        .iter()
        .filter(|p| p.fate == switchboard_testkit::Fate::Lost)
        .count();
    let sent = sim.net.capture().len();
    eprintln!("loss {loss}: outcomes {tally:?}, {lost} of {sent} datagrams lost");
    assert_all_ended(&sim);
    (sim, tally)
}

#[test]
fn hundred_calls_at_30_percent_loss_all_end_cleanly() {
    let (sim, tally) = heavy_loss(2024, 0.3);
    // Nearly every call survives 30% loss; the rest fail by timeout.
    let completed = sim
        .calls
        .iter()
        .filter(|c| c.outcome() == Some(Outcome::Completed))
        .count();
    assert!(completed >= 95, "{tally:?}");
    let lost = sim
        .net
        .capture()
        .iter()
        .filter(|p| p.fate == switchboard_testkit::Fate::Lost)
        .count();
    assert!(lost * 10 > sim.net.capture().len() * 2, "{lost} lost");
}

#[test]
fn hundred_calls_at_60_percent_loss_fail_cleanly() {
    let (_, tally) = heavy_loss(2024, 0.6);
    // Many fail, each by a timeout; none hangs.
    assert!(tally.len() > 1, "{tally:?}");
}

// ----- duplication and reordering -----

#[test]
fn every_datagram_duplicated() {
    let mut sim = Sim::new(1);
    sim.net
        .set_default_link(LinkConfig::new(10 * MS).with_duplication(1.0));
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(call.outcome, Some((2040 * MS, Outcome::Completed)));
    // Provisionals and 2xx are passed up every time they arrive; the TU
    // ACKs each 2xx.
    assert_eq!(call.statuses(), [100, 100, 180, 180, 200, 200]);
    assert_eq!(call.acks_sent, 2);
    // Duplicated requests are absorbed by the server transactions.
    let uas = &sim.served[0];
    assert_eq!((uas.invites, uas.byes), (1, 1));
    assert_eq!(uas.acks.len(), 4, "two ACKs, each duplicated");
    assert_eq!(sim.net.endpoint(sim.uas).stats().retransmissions, 2);
    // The duplicated 200 to BYE is absorbed by the client transaction.
    assert_eq!(call.bye_status, Some(200));
    assert_all_ended(&sim);
}

#[test]
fn cancel_with_every_datagram_duplicated() {
    let mut sim = Sim::new(1);
    sim.uac_plan.cancel_after = Some(500 * MS);
    sim.net
        .set_default_link(LinkConfig::new(10 * MS).with_duplication(1.0));
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(call.outcome, Some((520 * MS, Outcome::Cancelled)));
    assert_eq!(call.cancel_status, Some(200));
    // One Cancelled event, one 487 (its duplicate is absorbed by the
    // completed INVITE client transaction, which ACKs it again).
    assert_eq!(sim.served[0].cancelled, 1);
    assert_eq!(sim.times(invite_response(487)), [510]);
    assert_eq!(call.statuses(), [100, 100, 180, 180, 487]);
    assert_eq!(sim.times(is_ack), [520, 520]);
    assert_all_ended(&sim);
}

#[test]
fn the_180_overtaken_by_the_200_is_dropped() {
    let mut sim = Sim::new(1);
    sim.uas_plan.answer_after = 320 * MS;
    // 180 leaves at 310 but is held 100 ms; 200 leaves at 330.
    sim.net.delay_nth(1, 100 * MS, invite_response(180));
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    // In Accepted, a late 1xx is not passed up (RFC 6026).
    assert_eq!(call.statuses(), [100, 200]);
    assert_eq!(call.outcome(), Some(Outcome::Completed));
    assert_all_ended(&sim);
}

#[test]
fn a_late_ack_after_the_bye_is_harmless() {
    let mut sim = Sim::new(1);
    // The first ACK is held 1.5 s: the 2xx is retransmitted at 1510, the
    // second ACK arrives at 1530; the first arrives at 2530, after the BYE.
    sim.net.delay_nth(1, 1500 * MS, is_ack);
    let i = one_call(&mut sim);
    assert_eq!(sim.times(invite_response(200)), [1010, 1510]);
    assert_eq!(sim.served[0].acks, [1530 * MS, 2530 * MS]);
    assert_eq!(sim.calls[i].outcome, Some((2040 * MS, Outcome::Completed)));
    assert_all_ended(&sim);
}

#[test]
fn the_487_overtaking_the_200_for_cancel_is_fine() {
    let mut sim = Sim::new(1);
    sim.uac_plan.cancel_after = Some(500 * MS);
    sim.net
        .delay_nth(1, 50 * MS, |p| p.is_response_to(200, &Method::Cancel));
    let i = one_call(&mut sim);
    let call = &sim.calls[i];
    assert_eq!(call.outcome, Some((520 * MS, Outcome::Cancelled)));
    assert_eq!(call.cancel_status, Some(200));
    assert_all_ended(&sim);
}

#[test]
fn twenty_calls_with_duplication_jitter_and_reordering() {
    let mut sim = Sim::new(77);
    sim.net.set_default_link(
        LinkConfig::new(20 * MS)
            .with_jitter(40 * MS)
            .with_duplication(0.3)
            .with_reordering(0.3, 150 * MS),
    );
    for k in 0..20u64 {
        let alice = sim.alice;
        sim.later(alice, Duration::from_millis(k * 50), Action::Start(alice));
    }
    sim.run(120 * S);
    for c in &sim.calls {
        assert_eq!(c.outcome(), Some(Outcome::Completed), "{c:?}");
    }
    assert_eq!(sim.calls.len(), 20);
    assert!(sim.served.iter().all(|c| c.invites == 1 && c.byes == 1));
    assert!(sim.net.capture().iter().any(|p| p.duplicate_of.is_some()));
    assert_all_ended(&sim);
}

#[test]
fn same_seed_same_capture() {
    let run = |seed| {
        let mut sim = Sim::new(seed);
        sim.net
            .set_default_link(LinkConfig::new(20 * MS).with_jitter(30 * MS).with_loss(0.3));
        for k in 0..10u64 {
            let alice = sim.alice;
            sim.later(alice, Duration::from_millis(k * 100), Action::Start(alice));
        }
        sim.run(100 * S);
        sim.net.dump()
    };
    assert_eq!(run(5), run(5));
}
