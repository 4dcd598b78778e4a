//! The whole server ([`Service`] on an [`Endpoint`]) on a virtual clock,
//! with the runtime's part played in memory: a store (a list of durable
//! changes), a user table, a name table. Phones are raw messages in
//! (`Input::Datagram`, or `StreamData` on a TCP flow) and what the server
//! transmits, parsed back. Like quinn's `Pair`: `step` moves the clock to
//! the next deadline of either machine, `run_for` repeats it.
// Test code: a panic is a failing test; not every test file uses every
// helper.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

pub mod media;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Config, Destination, Endpoint, FlowId, Input, Now, Source, Transport};
use switchboard_proto::digest::{self, Algorithm, DigestChallenge, RequestInfo};
use switchboard_proto::header::NameAddr;
use switchboard_proto::{
    HeaderName, Message, Method, Request, RequestBuilder, Response, ResponseBuilder, StatusCode,
    Uri,
};
use switchboard_routing::{CallerIdMode, GatewaySpec, Plan, PlanSource, ProbeSpec, TrunkSpec};
use switchboard_server::proxy::{Listener, NextHop};
use switchboard_server::registrar::Binding;
use switchboard_server::service::{Completion, Effect, UserChange, UserDelta, UserDirectory};
use switchboard_server::storage::{CallRecord, DialogRecord, StateChange};
use switchboard_server::{
    AuthConfig, AuthSecret, BindingChange, ProtectConfig, ProxyConfig, RegistrarConfig, Service,
    ServiceConfig, User,
};

pub const DOMAIN: &str = "example.com";
pub const SERVER: &str = "127.0.0.1:5060";
/// The wall clock when the virtual clock starts.
pub const UNIX0: u64 = 1_700_000_000;

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The dial plan of `text` (a test's plan must load).
pub fn plan(text: &str) -> Arc<Plan> {
    let source = PlanSource {
        path: "plan.toml",
        text,
    };
    Arc::new(Plan::load(&[source]).unwrap_or_else(|e| panic!("plan: {e}")))
}

/// How the runtime answers an effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// At once, with success.
    Now,
    /// At once, with an error.
    Fail,
    /// At once, with the error of a store that cannot be reached
    /// ([`switchboard_server::service::StoreUnavailable`]).
    Unavailable,
    /// Not until [`Server::release`].
    Hold,
}

/// A phone: where its packets come from, what it puts in its messages.
#[derive(Debug, Clone)]
pub struct Phone {
    pub user: String,
    pub domain: String,
    /// The address its packets come from (behind NAT: the public one).
    pub addr: SocketAddr,
    /// The host:port it writes in Via and Contact.
    pub local: String,
    /// Its Contact value.
    pub contact: String,
    /// Set when it talks over a TCP connection.
    pub flow: Option<FlowId>,
    pub call_id: String,
    seq: u32,
}

impl Phone {
    /// A phone on UDP at `addr`.
    pub fn new(user: &str, addr: &str) -> Self {
        Self::behind_nat(user, addr, addr)
    }

    /// A phone whose packets come from `public` while it believes it is
    /// `private`.
    pub fn behind_nat(user: &str, public: &str, private: &str) -> Self {
        Self {
            user: user.to_owned(),
            domain: DOMAIN.to_owned(),
            addr: addr(public),
            local: private.to_owned(),
            contact: format!("<sip:{user}@{private}>"),
            flow: None,
            call_id: format!("{user}-call-1"),
            seq: 0,
        }
    }

    pub fn aor(&self) -> String {
        format!("sip:{}@{}", self.user, self.domain)
    }

    /// A new request (new branch and CSeq) from this phone with To `to`
    /// (the whole value), in its current call (REGISTERs in a call of their
    /// own).
    pub fn request(&mut self, method: Method, uri: &str, to: &str) -> RequestBuilder {
        let call_id = if method == Method::Register {
            format!("{}-reg", self.user)
        } else {
            self.call_id.clone()
        };
        self.build(method, uri, to, &call_id, None)
    }

    pub fn register(&mut self, expires: u32) -> RequestBuilder {
        let (uri, to) = (format!("sip:{}", self.domain), format!("<{}>", self.aor()));
        self.request(Method::Register, &uri, &to)
            .header(HeaderName::Expires, expires.to_string())
    }

    /// An out-of-dialog request for `uri`.
    pub fn call(&mut self, method: Method, uri: &str) -> RequestBuilder {
        self.request(method, uri, &format!("<{uri}>"))
    }

    /// A request inside the dialog `ok` (a 2xx to this phone's INVITE)
    /// established: to its Contact, along its Record-Route reversed.
    pub fn in_dialog(&mut self, method: Method, ok: &Response) -> RequestBuilder {
        let h = ok.headers();
        let target = uri_of(h.get(HeaderName::Contact).unwrap());
        // An ACK carries its INVITE's CSeq number.
        let cseq = (method == Method::Ack).then(|| h.cseq().unwrap().seq);
        let (to, call_id) = (h.get(HeaderName::To).unwrap(), h.call_id().unwrap());
        let mut b = self.build(method, &target, to, call_id, cseq);
        let record_route: Vec<&str> = h.values(HeaderName::RecordRoute).collect();
        for route in record_route.into_iter().rev() {
            b = b.header(HeaderName::Route, route);
        }
        b
    }

    /// Via (a new branch, rport), From, To, Call-ID, CSeq (the next one
    /// unless given), Contact.
    fn build(
        &mut self,
        method: Method,
        uri: &str,
        to: &str,
        call_id: &str,
        cseq: Option<u32>,
    ) -> RequestBuilder {
        self.seq += 1;
        let transport = if self.flow.is_some() { "TCP" } else { "UDP" };
        let via = format!(
            "SIP/2.0/{transport} {};branch=z9hG4bK-{}-{};rport",
            self.local, self.user, self.seq
        );
        let from = format!("<{}>", self.aor());
        RequestBuilder::new(method, uri)
            .header(HeaderName::Via, via)
            .from(&from, &format!("{}-tag", self.user))
            .header(HeaderName::To, to)
            .call_id(call_id)
            .cseq(cseq.unwrap_or(self.seq))
            .contact(&self.contact)
    }
}

/// The ACK of a failure to an INVITE (RFC 3261 §17.1.1.3: the INVITE's
/// Via, From, Call-ID and CSeq number, the response's To).
fn ack_for(failure: &Response) -> Request {
    let h = failure.headers();
    let to = h.get(HeaderName::To).unwrap();
    RequestBuilder::new(Method::Ack, uri_of(to))
        .header(HeaderName::Via, h.get(HeaderName::Via).unwrap())
        .header(HeaderName::From, h.get(HeaderName::From).unwrap())
        .header(HeaderName::To, to)
        .call_id(h.call_id().unwrap())
        .cseq(h.cseq().unwrap().seq)
        .build()
        .unwrap()
}

/// The BYE of the callee `phone` in the dialog of the INVITE it got: its
/// tag in From, the caller's in To, to the caller's Contact along the
/// route set.
pub fn bye_from(phone: &Phone, invite: &Request) -> Request {
    let hi = invite.headers();
    let contact = uri_of(hi.get(HeaderName::Contact).unwrap());
    let via = format!(
        "SIP/2.0/UDP {};branch=z9hG4bK-{}-bye;rport",
        phone.local, phone.user
    );
    let mut bye = RequestBuilder::new(Method::Bye, &contact)
        .header(HeaderName::Via, via)
        .header(
            HeaderName::From,
            format!("{};tag={}-tag", hi.get(HeaderName::To).unwrap(), phone.user),
        )
        .header(HeaderName::To, hi.get(HeaderName::From).unwrap())
        .call_id(hi.call_id().unwrap())
        .cseq(1);
    for route in hi.values(HeaderName::RecordRoute) {
        bye = bye.header(HeaderName::Route, route);
    }
    bye.build().unwrap()
}

/// The URI of a Contact, To or Route value.
pub fn uri_of(value: &str) -> String {
    NameAddr::parse_value(value).unwrap().uri.to_string()
}

/// The credentials header answering `challenge` (401 or 407: its first
/// challenge, which must be MD5) for a request with `method` and digest
/// uri `uri`, with nonce count `nc`.
pub fn answer(
    challenge: &Response,
    (user, password): (&str, &str),
    method: &Method,
    uri: &str,
    nc: u32,
) -> (HeaderName, String) {
    let (asked, name) = match challenge.status().as_u16() {
        401 => (HeaderName::WwwAuthenticate, HeaderName::Authorization),
        407 => (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        ),
        other => panic!("expected a challenge, got {other}"),
    };
    let first = challenge.headers().get(asked).unwrap();
    let c = DigestChallenge::parse(first).unwrap();
    assert_eq!(c.algorithm_or_default(), Algorithm::Md5, "MD5 first");
    let ha1 = digest::ha1(Algorithm::Md5, user, &c.realm, password);
    let info = RequestInfo::new(method.as_str(), uri);
    let credentials = c.respond(user, &ha1, &info, "c0ffee", nc).unwrap();
    (name, credentials.to_string())
}

/// The challenge of a 401/407 without its nonce (which changes every
/// time), to compare two challenges.
pub fn challenge_shape(response: &Response) -> (u16, Vec<String>) {
    let shape = [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate]
        .into_iter()
        .flat_map(|n| response.headers().get_all(n))
        .map(|v| {
            v.split(',')
                .filter(|p| !p.trim_start().starts_with("nonce=") && !p.contains(" nonce="))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    (response.status().as_u16(), shape)
}

/// A user as the store gives it.
fn stored_user(name: &str, domain: &str, password: &str) -> User {
    User::with_password(name, domain, password, UNIX0)
}

/// What the server sent, parsed back.
#[derive(Debug)]
pub struct Sent {
    pub destination: Destination,
    pub message: Message,
}

impl Sent {
    fn is_for(&self, phone: &Phone) -> bool {
        match self.destination {
            Destination::Flow(f) => phone.flow == Some(f),
            Destination::Address { remote, .. } => phone.flow.is_none() && remote == phone.addr,
        }
    }
}

/// The server and the runtime around it.
pub struct Server {
    pub ep: Endpoint,
    pub service: Service,
    pub now: Now,
    t0: Instant,
    /// Durable binding changes, in order.
    pub store: Vec<BindingChange>,
    pub store_reply: Reply,
    /// Durable event-state changes (`Effect::Save`), in order.
    pub saved: Vec<StateChange>,
    pub save_reply: Reply,
    pub users_reply: Reply,
    /// The store's users: (name, domain) → password; and its version.
    pub users: HashMap<(String, String), String>,
    pub users_version: u64,
    /// The store's change log: the version each user was last changed at.
    user_log: HashMap<(String, String), u64>,
    /// Host names and where they resolve.
    pub names: HashMap<String, Vec<NextHop>>,
    /// Every effect, with the time it came out.
    pub effects: Vec<(Duration, Effect)>,
    held: Vec<Effect>,
    /// Everything transmitted and not yet taken by a test.
    pub outbox: Vec<Sent>,
    next_flow: u64,
}

impl Server {
    /// The server for `example.com` on 127.0.0.1:5060 (UDP and TCP), with
    /// users alice, bob and carol (password `<name>-pw`) loaded.
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    /// The same, with the configuration changed by `tweak` first.
    pub fn with(tweak: impl FnOnce(&mut ServiceConfig)) -> Self {
        Self::started_at(Duration::from_secs(UNIX0), tweak)
    }

    /// [`Server::with`], started when the wall clock reads `since_epoch`
    /// (a restart after another server's run).
    pub fn started_at(since_epoch: Duration, tweak: impl FnOnce(&mut ServiceConfig)) -> Self {
        let server = addr(SERVER);
        let listeners = vec![
            Listener::new(Transport::Udp, server),
            Listener::new(Transport::Tcp, server),
        ];
        let mut config = ServiceConfig::new(
            RegistrarConfig::for_domain(DOMAIN),
            AuthConfig::default(),
            ProtectConfig::default(),
            ProxyConfig::new(listeners, vec![DOMAIN.to_owned()]),
        );
        tweak(&mut config);
        let t0 = Instant::now();
        let now = Now::new(t0, since_epoch);
        let mut seed = 10;
        let service = Service::new(
            config,
            AuthSecret::from_bytes([5; 32]),
            || {
                seed += 1;
                Box::new(StdRng::seed_from_u64(seed))
            },
            now,
        );
        let ep_config = Config {
            via_addresses: vec![(Transport::Udp, server), (Transport::Tcp, server)],
            ..Config::default()
        };
        let mut this = Self {
            ep: Endpoint::new(ep_config, Box::new(StdRng::seed_from_u64(1))),
            service,
            now,
            t0,
            store: Vec::new(),
            store_reply: Reply::Now,
            saved: Vec::new(),
            save_reply: Reply::Now,
            users_reply: Reply::Now,
            users: HashMap::new(),
            users_version: 1,
            user_log: HashMap::new(),
            names: HashMap::new(),
            effects: Vec::new(),
            held: Vec::new(),
            outbox: Vec::new(),
            next_flow: 1,
        };
        for name in ["alice", "bob", "carol"] {
            this.users
                .insert((name.to_owned(), DOMAIN.to_owned()), format!("{name}-pw"));
        }
        let directory = this.directory();
        this.service.set_user_directory(directory);
        this
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now.instant() - self.t0
    }

    /// Adds or changes a user in the store (not in the server's memory).
    pub fn set_user(&mut self, name: &str, password: &str) {
        self.users
            .insert((name.to_owned(), DOMAIN.to_owned()), password.to_owned());
        self.users_version += 1;
        self.user_log
            .insert((name.to_owned(), DOMAIN.to_owned()), self.users_version);
    }

    /// Removes a user from the store (not from the server's memory).
    pub fn remove_user(&mut self, name: &str) {
        let key = (name.to_owned(), DOMAIN.to_owned());
        self.users.remove(&key);
        self.users_version += 1;
        self.user_log.insert(key, self.users_version);
    }

    /// The users changed after `since`, as stored now.
    fn delta(&self, since: u64) -> UserDelta {
        let changes = self
            .user_log
            .iter()
            .filter(|(_, changed)| **changed > since)
            .map(|(key, _)| match self.users.get(key) {
                Some(pw) => UserChange::Stored(stored_user(&key.0, &key.1, pw)),
                None => UserChange::Removed {
                    name: key.0.clone(),
                    domain: key.1.clone(),
                },
            })
            .collect();
        UserDelta {
            since,
            version: self.users_version,
            changes,
        }
    }

    /// Every user of the store, as the runtime reads them at start.
    fn directory(&self) -> UserDirectory {
        let users = self
            .users
            .iter()
            .map(|((name, domain), pw)| stored_user(name, domain, pw));
        UserDirectory::from_users(self.users_version, users)
    }

    // ----- phones -----

    /// `phone` connects over TCP (its requests and what it is sent go down
    /// that connection from now on).
    pub fn connect_tcp(&mut self, phone: &mut Phone) {
        let flow = FlowId(self.next_flow);
        self.next_flow += 1;
        phone.flow = Some(flow);
        phone.contact = format!("<sip:{}@{};transport=tcp>", phone.user, phone.local);
        let input = Input::FlowOpened {
            flow,
            transport: Transport::Tcp,
            local: addr(SERVER),
            remote: phone.addr,
        };
        self.input(input);
    }

    /// `phone` sends `message` to the server.
    pub fn send(&mut self, phone: &Phone, message: impl Into<Message>) {
        self.send_bytes(phone, message.into().to_bytes().to_vec());
    }

    /// `phone` sends `bytes` (a datagram, or stream bytes on its flow).
    pub fn send_bytes(&mut self, phone: &Phone, bytes: Vec<u8>) {
        let bytes = bytes.into();
        let input = match phone.flow {
            Some(flow) => Input::StreamData { flow, bytes },
            None => Input::Datagram {
                source: Source {
                    transport: Transport::Udp,
                    remote: phone.addr,
                    local: addr(SERVER),
                    flow: None,
                },
                bytes,
            },
        };
        self.input(input);
    }

    /// [`Server::new`] with bob registered at 198.51.100.20; alice at
    /// 198.51.100.10, to call him.
    pub fn with_bob() -> (Self, Phone, Phone) {
        let mut h = Self::new();
        let mut bob = Phone::new("bob", "198.51.100.20:5060");
        h.register(&mut bob, 3600);
        (h, Phone::new("alice", "198.51.100.10:5060"), bob)
    }

    /// The dial plan `text` put in force.
    pub fn use_plan(&mut self, text: &str) {
        let plan = plan(text);
        self.command(|service, _, _| {
            service.set_plan(plan);
        });
    }

    /// A command to the service (`set_trunks`, `shutdown`, ...), then
    /// everything that follows from it.
    pub fn command(&mut self, f: impl FnOnce(&mut Service, Now, &mut Endpoint)) {
        f(&mut self.service, self.now, &mut self.ep);
        self.drain();
    }

    /// Raw input, then everything that follows from it.
    pub fn input(&mut self, input: Input) {
        self.ep.handle_input(self.now.instant(), input);
        self.drain();
    }

    /// Sends a request built by `make`, answers the challenge it gets as
    /// `phone`'s user with `password`, and returns the final response to
    /// that second attempt.
    pub fn authenticated(
        &mut self,
        phone: &mut Phone,
        password: &str,
        make: impl Fn(&mut Phone) -> RequestBuilder,
    ) -> Response {
        self.authenticate(phone, password, make);
        self.final_response(phone)
    }

    /// Sends a request built by `make` and answers the challenge it gets
    /// as `phone`'s user with `password`.
    pub fn authenticate(
        &mut self,
        phone: &mut Phone,
        password: &str,
        make: impl Fn(&mut Phone) -> RequestBuilder,
    ) {
        let first = make(phone).build().unwrap();
        self.send(phone, first.clone());
        let challenge = self.final_response(phone);
        let user = phone.user.clone();
        let (name, value) = answer(
            &challenge,
            (&user, password),
            first.method(),
            first.uri_str(),
            1,
        );
        let second = make(phone).header(name, value).build().unwrap();
        self.send(phone, second);
    }

    /// `phone` sends `method` for `uri` without credentials: the final
    /// answer the server gives itself.
    pub fn ask(&mut self, phone: &mut Phone, method: Method, uri: &str) -> Response {
        let request = phone.call(method, uri).build().unwrap();
        self.send(phone, request);
        self.final_response(phone)
    }

    /// `phone`'s user INVITEs `uri` (authenticated): the final answer the
    /// server gives itself.
    pub fn invite_answer(&mut self, phone: &mut Phone, uri: &str) -> Response {
        let password = self.password(phone);
        self.authenticated(phone, &password, |p| p.call(Method::Invite, uri))
    }

    /// Registers `phone` for `expires` seconds (a 200 expected).
    pub fn register(&mut self, phone: &mut Phone, expires: u32) {
        let password = self.password(phone);
        let ok = self.authenticated(phone, &password, |p| p.register(expires));
        assert_eq!(ok.status(), StatusCode::OK, "REGISTER of {}", phone.user);
    }

    pub fn password(&self, phone: &Phone) -> String {
        self.users[&(phone.user.clone(), phone.domain.clone())].clone()
    }

    /// `phone` answers `request` (sent to it) with `status`, as the UA with
    /// To tag `<user>-tag`.
    pub fn respond(&mut self, phone: &Phone, request: &Request, status: u16) -> Response {
        let response = ResponseBuilder::from_request(request, StatusCode::new(status).unwrap())
            .to_tag(&format!("{}-tag", phone.user))
            .header(HeaderName::Contact, phone.contact.clone())
            .build()
            .unwrap();
        self.send(phone, response.clone());
        response
    }

    // ----- what the server sent -----

    /// Takes everything sent to `phone`. The phone acknowledges the
    /// failures of its INVITEs (as its transaction layer would).
    pub fn take(&mut self, phone: &Phone) -> Vec<Message> {
        let (mine, rest): (Vec<Sent>, _) = std::mem::take(&mut self.outbox)
            .into_iter()
            .partition(|s| s.is_for(phone));
        self.outbox = rest;
        let messages: Vec<Message> = mine.into_iter().map(|s| s.message).collect();
        for m in &messages {
            if let Message::Response(r) = m {
                let invite = r
                    .headers()
                    .cseq()
                    .is_some_and(|c| c.method == Method::Invite);
                if invite && r.status().as_u16() >= 300 {
                    self.send(phone, ack_for(r));
                }
            }
        }
        messages
    }

    /// Takes the responses sent to `phone`.
    pub fn responses(&mut self, phone: &Phone) -> Vec<Response> {
        self.take(phone)
            .into_iter()
            .filter_map(|m| match m {
                Message::Response(r) => Some(r),
                Message::Request(_) => None,
            })
            .collect()
    }

    /// Takes the requests sent to `phone`.
    pub fn requests(&mut self, phone: &Phone) -> Vec<Request> {
        self.take(phone)
            .into_iter()
            .filter_map(|m| match m {
                Message::Request(r) => Some(r),
                Message::Response(_) => None,
            })
            .collect()
    }

    /// The one final response sent to `phone` (provisional ones dropped).
    pub fn final_response(&mut self, phone: &Phone) -> Response {
        let finals: Vec<Response> = self
            .responses(phone)
            .into_iter()
            .filter(|r| r.status().as_u16() >= 200)
            .collect();
        assert_eq!(
            finals.len(),
            1,
            "one final response to {}: {finals:?}",
            phone.user
        );
        finals.into_iter().next().unwrap()
    }

    /// The status of the one final response sent to `phone`.
    pub fn status(&mut self, phone: &Phone) -> u16 {
        self.final_response(phone).status().as_u16()
    }

    /// The one request sent to `phone`, which must have `method`.
    pub fn request_to(&mut self, phone: &Phone, method: Method) -> Request {
        let requests = self.requests(phone);
        assert_eq!(
            requests.len(),
            1,
            "one request to {}: {requests:?}",
            phone.user
        );
        let request = requests.into_iter().next().unwrap();
        assert_eq!(request.method(), &method);
        request
    }

    /// Requests sent anywhere, taken.
    pub fn take_requests(&mut self) -> Vec<(Destination, Request)> {
        let (requests, rest) = std::mem::take(&mut self.outbox)
            .into_iter()
            .partition(|s| matches!(s.message, Message::Request(_)));
        self.outbox = rest;
        requests
            .into_iter()
            .map(|s: Sent| match s.message {
                Message::Request(r) => (s.destination, r),
                Message::Response(_) => unreachable!(),
            })
            .collect()
    }

    /// The dialog records the store holds after everything saved (what a
    /// restarted server loads).
    pub fn kept_dialogs(&self) -> Vec<DialogRecord> {
        let mut dialogs: Vec<DialogRecord> = Vec::new();
        for change in &self.saved {
            match change {
                StateChange::PutDialog(d) => {
                    dialogs.retain(|k| k.id != d.id);
                    dialogs.push((**d).clone());
                }
                StateChange::RemoveDialog { id } => dialogs.retain(|k| &k.id != id),
                _ => {}
            }
        }
        dialogs
    }

    /// The latest call record saved.
    pub fn last_record(&self) -> CallRecord {
        self.saved
            .iter()
            .rev()
            .find_map(|c| match c {
                StateChange::PutCallRecord(r) => Some(r.clone()),
                _ => None,
            })
            .expect("a call record saved")
    }

    /// Every binding written to the store, in order (what a restarted
    /// server loads, removals aside).
    pub fn upserted_bindings(&self) -> Vec<Binding> {
        self.store
            .iter()
            .filter_map(|c| match c {
                BindingChange::Upsert(b) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    /// The Store effects seen so far.
    pub fn stores(&self) -> Vec<(Duration, Vec<BindingChange>)> {
        self.effects
            .iter()
            .filter_map(|(at, e)| match e {
                Effect::Store { changes, .. } => Some((*at, changes.clone())),
                _ => None,
            })
            .collect()
    }

    /// How many effects of this kind came out so far.
    pub fn count(&self, kind: fn(&Effect) -> bool) -> usize {
        self.effects.iter().filter(|(_, e)| kind(e)).count()
    }

    // ----- the clock -----

    /// The next deadline of the endpoint or the service.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.ep.poll_timeout(), self.service.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the clock to the next deadline and handles it.
    pub fn step(&mut self) {
        let Some(next) = self.next_deadline() else {
            return;
        };
        self.now = self.now.advance_to(next);
        let at = self.now.instant();
        if self.ep.poll_timeout().is_some_and(|t| t <= at) {
            self.ep.handle_timeout(at);
        }
        if self.service.poll_timeout().is_some_and(|t| t <= at) {
            self.service.handle_timeout(self.now, &mut self.ep);
        }
        self.drain();
    }

    /// Runs every deadline up to `by` from now, then moves there.
    pub fn run_for(&mut self, by: Duration) {
        let end = self.now.instant() + by;
        while self.next_deadline().is_some_and(|t| t <= end) {
            self.step();
        }
        self.now = self.now.advance_to(end);
    }

    // ----- the runtime -----

    /// Moves the clock by `by` at once and handles what is due then (a
    /// process that was not scheduled for that long).
    pub fn jump(&mut self, by: Duration) {
        self.now = self.now.advance(by);
        // New deadlines may be due at once: a few rounds, not a loop that
        // could spin.
        for _ in 0..16 {
            if self.next_deadline().is_none_or(|t| t > self.now.instant()) {
                return;
            }
            self.step();
        }
    }

    /// Answers the held effects now (as `Reply::Now` would).
    pub fn release(&mut self) {
        self.release_with(|_| false);
    }

    /// Answers the held effects now, the `i`th with a failure when
    /// `fails(i)`.
    pub fn release_with(&mut self, mut fails: impl FnMut(usize) -> bool) {
        for (i, effect) in std::mem::take(&mut self.held).into_iter().enumerate() {
            let reply = if fails(i) { Reply::Fail } else { Reply::Now };
            let completion = self.carry_out(effect, reply);
            self.service
                .handle_completion(self.now, &mut self.ep, completion);
        }
        self.drain();
    }

    /// How many effects are held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The drain after every input: transmits, closes, events; effects and
    /// their completions; until nothing moves.
    fn drain(&mut self) {
        loop {
            while let Some(t) = self.ep.poll_transmit() {
                // Keep-alive answers (CRLF) are no messages.
                if let Ok(message) = Message::parse_datagram(t.bytes) {
                    self.outbox.push(Sent {
                        destination: t.destination,
                        message,
                    });
                }
            }
            while self.ep.poll_close().is_some() {}
            let mut moved = false;
            while let Some(event) = self.ep.poll_event() {
                self.service.handle_event(self.now, &mut self.ep, event);
                moved = true;
            }
            while let Some(effect) = self.service.poll_effect() {
                moved = true;
                self.effects.push((self.elapsed(), effect.clone()));
                let reply = match effect {
                    Effect::Store { .. } => self.store_reply,
                    Effect::Save { .. } => self.save_reply,
                    Effect::LookupUser { .. } | Effect::CheckUsers { .. } => self.users_reply,
                    _ => Reply::Now,
                };
                if reply == Reply::Hold {
                    self.held.push(effect);
                    continue;
                }
                let completion = self.carry_out(effect, reply);
                self.service
                    .handle_completion(self.now, &mut self.ep, completion);
            }
            if !moved {
                return;
            }
        }
    }

    fn carry_out(&mut self, effect: Effect, reply: Reply) -> Completion {
        let failed = || -> Box<dyn std::error::Error + Send + Sync> { "the store is down".into() };
        // The error of a failing reply: a plain one, or the store
        // unreachable for now.
        let error = match reply {
            Reply::Fail => Some(failed()),
            Reply::Unavailable => {
                Some(Box::new(switchboard_server::service::StoreUnavailable(failed())) as _)
            }
            Reply::Now | Reply::Hold => None,
        };
        match effect {
            Effect::Store { id, changes } => {
                let result = if let Some(error) = error {
                    Err(error)
                } else {
                    self.store.extend(changes);
                    Ok(())
                };
                Completion::Stored { id, result }
            }
            Effect::Save { id, changes } => {
                let result = if let Some(error) = error {
                    Err(error)
                } else {
                    self.saved.extend(changes);
                    Ok(())
                };
                Completion::Stored { id, result }
            }
            Effect::LookupUser { id, name, domain } => {
                let result = if let Some(error) = error {
                    Err(error)
                } else {
                    Ok(self
                        .users
                        .get(&(name.clone(), domain.clone()))
                        .map(|pw| stored_user(&name, &domain, pw)))
                };
                Completion::User { id, result }
            }
            // As the runtime answers: the users the change log names since
            // `version` (none when nothing changed).
            Effect::CheckUsers { version } => Completion::UserChanges(match reply {
                Reply::Fail => Err(failed()),
                _ => Ok(self.delta(version)),
            }),
            Effect::Resolve { id, uri } => {
                // From the table; an IP address is where it says.
                let sip = Uri::parse(&uri).ok().and_then(|u| {
                    let s = u.as_sip()?;
                    Some((s.host.as_str().to_owned(), s.port.unwrap_or(5060)))
                });
                let hops = match sip {
                    Some((host, port)) => match host.parse() {
                        Ok(ip) => vec![NextHop::address(Transport::Udp, SocketAddr::new(ip, port))],
                        Err(_) => self.names.get(&host).cloned().unwrap_or_default(),
                    },
                    None => Vec::new(),
                };
                Completion::Resolved { id, hops }
            }
            other => panic!("effect the harness does not know: {other:?}"),
        }
    }
}

/// A plan sending numbers with the prefix 00 (rule `out`) to the trunk
/// `carrier` at 198.51.100.50, whose leg has a Call-ID of its own.
pub const CARRIER_PLAN: &str = r#"
[[trunk]]
name = "carrier"
gateways = ["sip:198.51.100.50:5060"]
fresh_call_id = true

[[route]]
name = "out"
to_prefix = ["00"]
trunks = ["carrier"]
"#;

/// The one request the server sent, and where.
pub fn one_sent(h: &mut Server, method: Method) -> (Destination, Request) {
    let mut sent = h.take_requests();
    assert_eq!(sent.len(), 1, "one request sent: {sent:?}");
    let (to, request) = sent.remove(0);
    assert_eq!(request.method(), &method);
    (to, request)
}

/// A trunk of the plan: `gateways` in order, probed as `probe` says, no
/// credentials or registration.
pub fn trunk(name: &str, gateways: &[&str], probe: Option<ProbeSpec>) -> TrunkSpec {
    TrunkSpec {
        name: name.to_owned(),
        gateways: gateways
            .iter()
            .map(|g| GatewaySpec {
                uri: (*g).to_owned(),
            })
            .collect(),
        credentials: None,
        register: None,
        probe,
        failover_after: Duration::from_secs(5),
        caller_id: CallerIdMode::Keep,
        fresh_call_id: true,
        inbound_networks: Vec::new(),
        inbound_users: Vec::new(),
    }
}

/// A request `phone` sends as the callee in the dialog of the INVITE it
/// got: its tag in From, the caller's in To, to the caller's Contact along
/// the route set, with CSeq `cseq`.
pub fn from_callee(phone: &Phone, invite: &Request, method: Method, cseq: u32) -> RequestBuilder {
    let hi = invite.headers();
    let contact = uri_of(hi.get(HeaderName::Contact).unwrap());
    let via = format!(
        "SIP/2.0/UDP {};branch=z9hG4bK-{}-{}-{cseq};rport",
        phone.local,
        phone.user,
        method.as_str().to_ascii_lowercase()
    );
    let mut request = RequestBuilder::new(method, &contact)
        .header(HeaderName::Via, via)
        .header(
            HeaderName::From,
            format!("{};tag={}-tag", hi.get(HeaderName::To).unwrap(), phone.user),
        )
        .header(HeaderName::To, hi.get(HeaderName::From).unwrap())
        .call_id(hi.call_id().unwrap())
        .cseq(cseq);
    for route in hi.values(HeaderName::RecordRoute) {
        request = request.header(HeaderName::Route, route);
    }
    request
}
