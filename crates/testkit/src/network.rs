//! The network: nodes, links, connections, scripted rules, the virtual clock
//! and the run loop.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard_core::{
    Config, Destination, Endpoint, Event, FlowId, Input, RespondError, SendError, Source,
    TransactionId, Transmit, Transport,
};
use switchboard_proto::{Message, Request, Response};

use crate::capture::format_time;
use crate::link::clamp;
use crate::rule::Action;
use crate::{Fate, LinkConfig, Packet, Rule, RuleId};

/// How many times the network may act at one instant before it declares a
/// livelock (an endpoint whose deadline never moves past `now`).
const MAX_ACTIONS_PER_INSTANT: usize = 1_000_000;

/// How many lines of the capture [`Network::dump`] keeps when a test panics.
const DUMP_TAIL: usize = 400;

/// A node's handle in its [`Network`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(usize);

impl NodeId {
    /// The node's position, in the order nodes were added (0-based).
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// How to make a node for [`Network::add_node`].
///
/// By default a node accepts UDP only and runs an [`Endpoint`] with
/// [`Config::default`], its Via addresses set to the node's address for
/// each transport it accepts, and an RNG seeded from the network's seed.
#[derive(Debug)]
pub struct NodeSpec {
    name: String,
    addr: SocketAddr,
    transports: Vec<Transport>,
    config: Config,
    endpoint: Option<Endpoint>,
}

impl NodeSpec {
    /// A node called `name` (used in the capture) at `addr`.
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> Self {
        Self {
            name: name.into(),
            addr,
            transports: vec![Transport::Udp],
            config: Config::default(),
            endpoint: None,
        }
    }

    /// The transports the node accepts (datagrams and connections to its
    /// address on any other transport are unroutable).
    #[must_use]
    pub fn transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.transports = transports.into_iter().collect();
        self
    }

    /// The endpoint's configuration. Empty `via_addresses` are filled in.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Uses this endpoint as it is (the configuration is then ignored).
    #[must_use]
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }
}

#[derive(Debug)]
struct Node {
    name: String,
    addr: SocketAddr,
    transports: Vec<Transport>,
    endpoint: Endpoint,
}

/// Something for the test's transaction user, from [`Network::poll_event`]
/// or [`Network::next_event`].
// Events are taken one at a time; matching `event: Event::Request { .. }`
// in place matters more to tests than the size of the enum.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NetEvent {
    /// An event from a node's endpoint.
    Endpoint {
        /// When it happened.
        time: Duration,
        /// The node.
        node: NodeId,
        /// The event.
        event: Event,
    },
    /// A timer set with [`Network::set_timer`] fired.
    Timer {
        /// When it fired.
        time: Duration,
        /// The node it was set for.
        node: NodeId,
        /// The token given to `set_timer`.
        token: u64,
    },
}

impl NetEvent {
    /// The node it belongs to.
    pub fn node(&self) -> NodeId {
        match self {
            Self::Endpoint { node, .. } | Self::Timer { node, .. } => *node,
        }
    }

    /// When it happened.
    pub fn time(&self) -> Duration {
        match self {
            Self::Endpoint { time, .. } | Self::Timer { time, .. } => *time,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Opener,
    Acceptor,
}

impl Side {
    fn other(self) -> Self {
        match self {
            Self::Opener => Self::Acceptor,
            Self::Acceptor => Self::Opener,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndState {
    /// The endpoint has not been told (the acceptor, before the first bytes
    /// arrive).
    Pending,
    Open,
    Closed,
}

#[derive(Debug)]
struct End {
    node: NodeId,
    addr: SocketAddr,
    flow: FlowId,
    state: EndState,
    /// When the last segment towards this end arrives (keeps streams FIFO).
    last_arrival: Instant,
}

#[derive(Debug)]
struct Connection {
    transport: Transport,
    opener: End,
    acceptor: End,
}

impl Connection {
    fn end(&self, side: Side) -> &End {
        match side {
            Side::Opener => &self.opener,
            Side::Acceptor => &self.acceptor,
        }
    }

    fn end_mut(&mut self, side: Side) -> &mut End {
        match side {
            Side::Opener => &mut self.opener,
            Side::Acceptor => &mut self.acceptor,
        }
    }
}

#[derive(Debug)]
enum Delivery {
    Datagram {
        to: NodeId,
        source: Source,
        bytes: Bytes,
    },
    Stream {
        conn: usize,
        side: Side,
        bytes: Bytes,
        packet: usize,
    },
    Close {
        conn: usize,
        side: Side,
    },
}

/// A seeded, sans-IO network of [`Endpoint`]s on a virtual clock.
///
/// See the [crate documentation](crate) for the model and an example.
pub struct Network {
    seed: u64,
    rng: StdRng,
    epoch: Instant,
    now: Instant,
    nodes: Vec<Node>,
    default_link: LinkConfig,
    links: BTreeMap<(NodeId, NodeId), LinkConfig>,
    in_flight: BTreeMap<(Instant, u64), Delivery>,
    seq: u64,
    conns: Vec<Connection>,
    flows: BTreeMap<(NodeId, FlowId), (usize, Side)>,
    next_flow: u64,
    timers: BTreeMap<(Instant, u64), (NodeId, u64)>,
    rules: Vec<Rule>,
    capture: Vec<Packet>,
    events: VecDeque<NetEvent>,
    log: Vec<(Duration, NodeId, String)>,
    dump_on_panic: bool,
}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("seed", &self.seed)
            .field("now", &format_time(self.elapsed()))
            .field("nodes", &self.nodes.len())
            .field("in_flight", &self.in_flight.len())
            .field("captured", &self.capture.len())
            .finish_non_exhaustive()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        if self.dump_on_panic && std::thread::panicking() {
            eprintln!("{}", self.dump_tail(DUMP_TAIL));
        }
    }
}

impl Network {
    /// An empty network whose randomness (links, and the endpoints of nodes
    /// added with [`Network::add_node`]) all derives from `seed`. Every link
    /// starts as [`LinkConfig::default`].
    pub fn new(seed: u64) -> Self {
        let epoch = Instant::now();
        Self {
            seed,
            rng: StdRng::seed_from_u64(seed),
            epoch,
            now: epoch,
            nodes: Vec::new(),
            default_link: LinkConfig::default(),
            links: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            conns: Vec::new(),
            flows: BTreeMap::new(),
            next_flow: 1,
            timers: BTreeMap::new(),
            rules: Vec::new(),
            capture: Vec::new(),
            events: VecDeque::new(),
            log: Vec::new(),
            dump_on_panic: true,
        }
    }

    /// Adds a node.
    pub fn add_node(&mut self, spec: NodeSpec) -> NodeId {
        let id = NodeId(self.nodes.len());
        let NodeSpec {
            name,
            addr,
            transports,
            mut config,
            endpoint,
        } = spec;
        let endpoint = endpoint.unwrap_or_else(|| {
            if config.via_addresses.is_empty() {
                config.via_addresses = transports.iter().map(|t| (*t, addr)).collect();
            }
            let seed = self.seed ^ (id.0 as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            Endpoint::new(config, Box::new(StdRng::seed_from_u64(seed)))
        });
        self.nodes.push(Node {
            name,
            addr,
            transports,
            endpoint,
        });
        id
    }

    // ----- getters -----

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The virtual time, to pass to endpoint methods.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The instant the network started at.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// Every node, in the order added.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len()).map(NodeId)
    }

    /// The node with this name.
    pub fn node_named(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(NodeId)
    }

    /// A node's name.
    pub fn name(&self, node: NodeId) -> &str {
        &self.node(node).name
    }

    /// A node's address.
    pub fn address(&self, node: NodeId) -> SocketAddr {
        self.node(node).addr
    }

    /// A node's endpoint.
    pub fn endpoint(&self, node: NodeId) -> &Endpoint {
        &self.node(node).endpoint
    }

    /// A node's endpoint, to call it directly (for instance
    /// [`Endpoint::new_branch`]). After a command that may produce output,
    /// call [`Network::flush`], or use [`Network::with_endpoint`] instead.
    pub fn endpoint_mut(&mut self, node: NodeId) -> &mut Endpoint {
        &mut self.node_mut(node).endpoint
    }

    /// Live transactions in all endpoints.
    pub fn transaction_count(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.endpoint.transaction_count())
            .sum()
    }

    /// The open connections of a node: its flow id, transport and the
    /// peer's address.
    pub fn flows(&self, node: NodeId) -> Vec<(FlowId, Transport, SocketAddr)> {
        let mut out = Vec::new();
        for c in &self.conns {
            for side in [Side::Opener, Side::Acceptor] {
                let me = c.end(side);
                if me.node == node && me.state == EndState::Open {
                    out.push((me.flow, c.transport, c.end(side.other()).addr));
                }
            }
        }
        out
    }

    // ----- links and rules -----

    /// The link used between nodes that have no link of their own.
    pub fn set_default_link(&mut self, link: LinkConfig) {
        self.default_link = link;
    }

    /// The one-way link from `from` to `to`.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        self.links.insert((from, to), link);
    }

    /// The same link in both directions between `a` and `b`.
    pub fn set_links(&mut self, a: NodeId, b: NodeId, link: LinkConfig) {
        self.set_link(a, b, link);
        self.set_link(b, a, link);
    }

    /// The link from `from` to `to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> LinkConfig {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }

    /// Adds a scripted rule.
    pub fn add_rule(&mut self, rule: Rule) -> RuleId {
        self.rules.push(rule);
        RuleId(self.rules.len() - 1)
    }

    /// Drops the `n`th (1-based) packet matching `predicate`.
    pub fn drop_nth(
        &mut self,
        n: usize,
        predicate: impl FnMut(&Packet) -> bool + 'static,
    ) -> RuleId {
        self.add_rule(Rule::drop(predicate).nth(n))
    }

    /// Drops the first packet matching `predicate`.
    pub fn drop_first(&mut self, predicate: impl FnMut(&Packet) -> bool + 'static) -> RuleId {
        self.drop_nth(1, predicate)
    }

    /// Drops every packet matching `predicate`.
    pub fn drop_all(&mut self, predicate: impl FnMut(&Packet) -> bool + 'static) -> RuleId {
        self.add_rule(Rule::drop(predicate).always())
    }

    /// Delays the `n`th (1-based) packet matching `predicate` by `extra`.
    pub fn delay_nth(
        &mut self,
        n: usize,
        extra: Duration,
        predicate: impl FnMut(&Packet) -> bool + 'static,
    ) -> RuleId {
        self.add_rule(Rule::delay(extra, predicate).nth(n))
    }

    /// How many packets the rule acted on.
    pub fn rule_hits(&self, rule: RuleId) -> usize {
        self.rules.get(rule.0).map_or(0, |r| r.hits)
    }

    /// How many packets matched the rule's predicate so far.
    pub fn rule_matches(&self, rule: RuleId) -> usize {
        self.rules.get(rule.0).map_or(0, |r| r.seen)
    }

    /// Stops a rule from acting (it keeps counting).
    pub fn disable_rule(&mut self, rule: RuleId) {
        if let Some(r) = self.rules.get_mut(rule.0) {
            r.times = 0;
        }
    }

    // ----- commands for the test's transaction users -----

    /// [`Endpoint::send_request`] on `node` now.
    pub fn send_request(
        &mut self,
        node: NodeId,
        request: Request,
        destination: Destination,
    ) -> Result<TransactionId, SendError> {
        self.with_endpoint(node, |ep, now| ep.send_request(now, request, destination))
    }

    /// [`Endpoint::respond`] on `node` now.
    pub fn respond(
        &mut self,
        node: NodeId,
        tx: TransactionId,
        response: Response,
    ) -> Result<(), RespondError> {
        self.with_endpoint(node, |ep, now| ep.respond(now, tx, response))
    }

    /// [`Endpoint::cancel`] on `node` now.
    pub fn cancel(
        &mut self,
        node: NodeId,
        invite: TransactionId,
    ) -> Result<TransactionId, SendError> {
        self.with_endpoint(node, |ep, now| ep.cancel(now, invite))
    }

    /// [`Endpoint::send_stateless`] on `node` now.
    pub fn send_stateless(&mut self, node: NodeId, message: &Message, destination: Destination) {
        self.with_endpoint(node, |ep, _| ep.send_stateless(message, destination));
    }

    /// Runs `f` on a node's endpoint with the current time, then carries out
    /// what it sent.
    pub fn with_endpoint<R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut Endpoint, Instant) -> R,
    ) -> R {
        let now = self.now;
        let r = f(&mut self.node_mut(node).endpoint, now);
        self.flush(node);
        r
    }

    /// Feeds bytes to `node` as a datagram from `from` (an address that
    /// need not belong to a node), now, bypassing links and capture.
    pub fn inject(&mut self, node: NodeId, transport: Transport, from: SocketAddr, bytes: Bytes) {
        let local = self.address(node);
        let source = Source {
            transport,
            remote: from,
            local,
            flow: None,
        };
        self.with_endpoint(node, |ep, now| {
            ep.handle_input(now, Input::Datagram { source, bytes });
        });
    }

    /// Takes a node's pending outputs: transmits go onto the links, closes
    /// to the connections, events to the queue. Commands through
    /// [`Network`] do this themselves.
    pub fn flush(&mut self, node: NodeId) {
        loop {
            let mut transmits = Vec::new();
            let mut closes = Vec::new();
            let mut events = Vec::new();
            {
                let ep = &mut self.node_mut(node).endpoint;
                while let Some(t) = ep.poll_transmit() {
                    transmits.push(t);
                }
                while let Some(f) = ep.poll_close() {
                    closes.push(f);
                }
                while let Some(e) = ep.poll_event() {
                    events.push(e);
                }
            }
            for event in events {
                self.push_event(node, event);
            }
            if transmits.is_empty() && closes.is_empty() {
                break;
            }
            for t in transmits {
                self.route(node, t);
            }
            for flow in closes {
                self.closed_by_endpoint(node, flow);
            }
        }
    }

    /// Breaks a connection at once (as a reset would): both endpoints get
    /// [`Input::FlowClosed`] now and whatever is in flight on it is lost.
    pub fn close_flow(&mut self, node: NodeId, flow: FlowId) {
        let Some(&(conn, _)) = self.flows.get(&(node, flow)) else {
            return;
        };
        for side in [Side::Opener, Side::Acceptor] {
            let Some(c) = self.conns.get_mut(conn) else {
                return;
            };
            let end = c.end_mut(side);
            let was = end.state;
            end.state = EndState::Closed;
            let (n, f) = (end.node, end.flow);
            if was == EndState::Open {
                self.with_endpoint(n, |ep, now| {
                    ep.handle_input(now, Input::FlowClosed { flow: f })
                });
            }
        }
    }

    /// Sets a timer for the test's transaction user on `node`: after
    /// `delay`, [`NetEvent::Timer`] with `token` comes out of the event
    /// queue. Timers count as deadlines for [`Network::step`].
    pub fn set_timer(&mut self, node: NodeId, delay: Duration, token: u64) {
        let seq = self.next_seq();
        self.timers.insert((self.now + delay, seq), (node, token));
    }

    /// Cancels the timers with this token on `node`; tells whether any was
    /// set.
    pub fn cancel_timer(&mut self, node: NodeId, token: u64) -> bool {
        let before = self.timers.len();
        self.timers.retain(|_, v| *v != (node, token));
        self.timers.len() != before
    }

    // ----- running -----

    /// The next instant something happens: a packet arrives, an endpoint's
    /// [`Endpoint::poll_timeout`], or a test timer. `None` when all is idle.
    pub fn next_deadline(&self) -> Option<Instant> {
        let packets = self.in_flight.keys().next().map(|k| k.0);
        let timers = self.timers.keys().next().map(|k| k.0);
        let endpoints = self
            .nodes
            .iter()
            .filter_map(|n| n.endpoint.poll_timeout())
            .min();
        [packets, timers, endpoints].into_iter().flatten().min()
    }

    /// Nothing is in flight and no timer is armed.
    pub fn is_idle(&self) -> bool {
        self.next_deadline().is_none()
    }

    /// Advances the clock to [`Network::next_deadline`] (never backwards)
    /// and does everything due by then: deliveries in arrival order, then
    /// endpoint timeouts in node order, then test timers, repeated until
    /// nothing more is due. Returns false, without moving the clock, when
    /// all is idle.
    pub fn step(&mut self) -> bool {
        let Some(next) = self.next_deadline() else {
            return false;
        };
        self.now = self.now.max(next);
        self.process_due();
        true
    }

    /// Steps until `t` (since the epoch) and sets the clock to `t`. Events
    /// pile up in the queue; a transaction user that must react on time
    /// uses [`Network::next_event`] instead.
    pub fn run_until(&mut self, t: Duration) {
        let end = self.epoch + t;
        while let Some(next) = self.next_deadline() {
            if next > end {
                break;
            }
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// [`Network::run_until`] `d` from now.
    pub fn run_for(&mut self, d: Duration) {
        let t = self.elapsed() + d;
        self.run_until(t);
    }

    /// Steps while `condition` holds. Returns true when the condition
    /// became false, false when the network went idle first.
    pub fn run_while(&mut self, mut condition: impl FnMut(&Self) -> bool) -> bool {
        while condition(self) {
            if !self.step() {
                return false;
            }
        }
        true
    }

    /// The next event, stepping the clock as needed, but not past `limit`
    /// (since the epoch). `None` when nothing happens until `limit`; the
    /// clock is then at `limit`. The loop of a test's transaction users:
    ///
    /// ```text
    /// while let Some(event) = net.next_event(limit) {
    ///     // react with net.respond(..), net.send_request(..), ...
    /// }
    /// ```
    pub fn next_event(&mut self, limit: Duration) -> Option<NetEvent> {
        let end = self.epoch + limit;
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            match self.next_deadline() {
                Some(next) if next <= end => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(end);
                    return None;
                }
            }
        }
    }

    /// The next queued event, without moving the clock.
    pub fn poll_event(&mut self) -> Option<NetEvent> {
        self.events.pop_front()
    }

    /// Every queued event.
    pub fn take_events(&mut self) -> Vec<NetEvent> {
        self.events.drain(..).collect()
    }

    /// Events are queued.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    // ----- capture -----

    /// Every packet sent so far, in the order sent.
    pub fn capture(&self) -> &[Packet] {
        &self.capture
    }

    /// The packets nodes sent (not link duplicates) that match `predicate`.
    pub fn sent(&self, mut predicate: impl FnMut(&Packet) -> bool) -> Vec<&Packet> {
        self.capture
            .iter()
            .filter(|p| p.is_original() && predicate(p))
            .collect()
    }

    /// When the packets matching `predicate` were sent (not link
    /// duplicates).
    pub fn send_times(&self, predicate: impl FnMut(&Packet) -> bool) -> Vec<Duration> {
        self.sent(predicate).into_iter().map(|p| p.sent).collect()
    }

    /// Whether the network prints [`Network::dump`] (its last lines) when
    /// it is dropped during a panic, that is when a test fails. On by
    /// default.
    pub fn set_dump_on_panic(&mut self, on: bool) {
        self.dump_on_panic = on;
    }

    /// The capture and the events, merged in time order, one per line.
    pub fn dump(&self) -> String {
        self.dump_tail(usize::MAX)
    }

    fn dump_tail(&self, max_lines: usize) -> String {
        let mut lines: Vec<(Duration, usize, String)> = Vec::new();
        for p in &self.capture {
            let from = self.name(p.from);
            let to = p.to.map_or("?", |n| self.name(n));
            let dest = p
                .destination
                .map_or_else(|| "?".to_owned(), |d| d.to_string());
            let mut line = format!(
                "#{:<4} {from} -> {to} ({dest}) {} {}",
                p.index, p.transport, p.first_line
            );
            if let (Some(_), Some(cseq)) = (p.status, &p.cseq) {
                let _ = write!(line, " ({} {})", cseq.seq, cseq.method);
            }
            if let Some(orig) = p.duplicate_of {
                let _ = write!(line, " [duplicate of #{orig}]");
            }
            match (p.fate, p.arrival) {
                (Fate::Delivered, Some(at)) => {
                    let _ = write!(line, " -> arrives {}", format_time(at));
                }
                (fate, _) => {
                    let _ = write!(line, " -> {fate:?}");
                }
            }
            lines.push((p.sent, 0, line));
        }
        for (t, node, text) in &self.log {
            lines.push((*t, 1, format!("      {}: {text}", self.name(*node))));
        }
        lines.sort_by_key(|(t, order, _)| (*t, *order));
        let mut out = format!(
            "--- switchboard-testkit network (seed {}, now {}) ---\n",
            self.seed,
            format_time(self.elapsed())
        );
        let skip = lines.len().saturating_sub(max_lines);
        if skip > 0 {
            let _ = writeln!(out, "... {skip} earlier lines left out");
        }
        for (t, _, line) in lines.into_iter().skip(skip) {
            let _ = writeln!(out, "{:>9} {line}", format_time(t));
        }
        out
    }

    // ----- internals -----

    // NodeIds are only made by `add_node`, so they index `nodes`; a NodeId
    // from another network is a bug in the test and panics.
    #[allow(clippy::indexing_slicing)]
    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    #[allow(clippy::indexing_slicing)]
    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.0]
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random_bool(clamp(p))
    }

    fn jitter(&mut self, link: &LinkConfig) -> Duration {
        if link.jitter.is_zero() {
            return Duration::ZERO;
        }
        let max = u64::try_from(link.jitter.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(self.rng.random_range(0..=max))
    }

    fn schedule(&mut self, at: Instant, delivery: Delivery) {
        let seq = self.next_seq();
        self.in_flight.insert((at, seq), delivery);
    }

    fn push_event(&mut self, node: NodeId, event: Event) {
        let time = self.elapsed();
        self.log.push((time, node, describe(&event)));
        self.events
            .push_back(NetEvent::Endpoint { time, node, event });
    }

    /// The node listening at `addr` on `transport`.
    fn listener(&self, addr: SocketAddr, transport: Transport) -> Option<NodeId> {
        self.nodes
            .iter()
            .position(|n| n.addr == addr && n.transports.contains(&transport))
            .map(NodeId)
    }

    /// Asks every rule about `packet`; the first whose window holds it acts.
    fn apply_rules(&mut self, packet: &Packet) -> Option<(RuleId, Action)> {
        let mut acting = None;
        for (i, rule) in self.rules.iter_mut().enumerate() {
            if rule.check(packet) && acting.is_none() {
                rule.hits += 1;
                acting = Some((RuleId(i), rule.action));
            }
        }
        acting
    }

    fn route(&mut self, from: NodeId, transmit: Transmit) {
        // Each node has one address: where to send from needs no choice.
        let Transmit {
            destination, bytes, ..
        } = transmit;
        match destination {
            Destination::Address { transport, remote } if !transport.is_reliable() => {
                self.send_datagram(from, transport, remote, bytes);
            }
            Destination::Address { transport, remote } => {
                match self.connection_to(from, transport, remote) {
                    Some((conn, side)) => self.send_on(conn, side, bytes),
                    None => self.unroutable(from, transport, Some(remote), bytes),
                }
            }
            Destination::Flow(flow) => match self.flows.get(&(from, flow)).copied() {
                Some((conn, side)) => self.send_on(conn, side, bytes),
                // A flow the network does not know: its transport is
                // unknown too; the capture says TCP.
                None => self.unroutable(from, Transport::Tcp, None, bytes),
            },
        }
    }

    fn unroutable(
        &mut self,
        from: NodeId,
        transport: Transport,
        to: Option<SocketAddr>,
        bytes: Bytes,
    ) {
        let mut packet = Packet::new(
            self.capture.len(),
            self.elapsed(),
            from,
            self.address(from),
            transport,
            bytes,
        );
        packet.destination = to;
        self.apply_rules(&packet);
        packet.fate = Fate::Unroutable;
        self.capture.push(packet);
    }

    fn send_datagram(
        &mut self,
        from: NodeId,
        transport: Transport,
        remote: SocketAddr,
        bytes: Bytes,
    ) {
        let source = self.address(from);
        let index = self.capture.len();
        let mut packet = Packet::new(
            index,
            self.elapsed(),
            from,
            source,
            transport,
            bytes.clone(),
        );
        packet.destination = Some(remote);
        let to = self.listener(remote, transport);
        packet.to = to;
        let action = self.apply_rules(&packet);
        let Some(to) = to else {
            packet.fate = Fate::Unroutable;
            self.capture.push(packet);
            return;
        };
        let extra = match action {
            Some((rule, Action::Drop)) => {
                packet.fate = Fate::Dropped(rule);
                self.capture.push(packet);
                return;
            }
            Some((_, Action::Delay(extra))) => extra,
            None => Duration::ZERO,
        };
        let link = self.link(from, to);
        if self.chance(link.loss) {
            packet.fate = Fate::Lost;
            self.capture.push(packet);
            return;
        }
        let duplicate = self.chance(link.duplicate);
        let mut at = self.now + link.latency + extra + self.jitter(&link);
        if self.chance(link.reorder) {
            at += link.reorder_delay;
        }
        packet.arrival = Some(at - self.epoch);
        let copy = duplicate.then(|| packet.clone());
        self.capture.push(packet);
        let source = Source {
            transport,
            remote: source,
            local: remote,
            flow: None,
        };
        self.schedule(
            at,
            Delivery::Datagram {
                to,
                source,
                bytes: bytes.clone(),
            },
        );
        if let Some(mut copy) = copy {
            let at = self.now + link.latency + extra + self.jitter(&link);
            copy.index = self.capture.len();
            copy.duplicate_of = Some(index);
            copy.arrival = Some(at - self.epoch);
            self.capture.push(copy);
            self.schedule(at, Delivery::Datagram { to, source, bytes });
        }
    }

    /// An open connection from `from` to `remote`, reused in either
    /// direction, or a new one when a node listens there.
    fn connection_to(
        &mut self,
        from: NodeId,
        transport: Transport,
        remote: SocketAddr,
    ) -> Option<(usize, Side)> {
        for (i, c) in self.conns.iter().enumerate() {
            if c.transport != transport {
                continue;
            }
            for side in [Side::Opener, Side::Acceptor] {
                let (me, peer) = (c.end(side), c.end(side.other()));
                if me.node == from
                    && me.state == EndState::Open
                    && peer.state != EndState::Closed
                    && peer.addr == remote
                {
                    return Some((i, side));
                }
            }
        }
        let to = self.listener(remote, transport)?;
        let local = self.address(from);
        let (opener_flow, acceptor_flow) = (self.new_flow(), self.new_flow());
        let i = self.conns.len();
        self.conns.push(Connection {
            transport,
            opener: End {
                node: from,
                addr: local,
                flow: opener_flow,
                state: EndState::Open,
                last_arrival: self.now,
            },
            acceptor: End {
                node: to,
                addr: remote,
                flow: acceptor_flow,
                state: EndState::Pending,
                last_arrival: self.now,
            },
        });
        self.flows.insert((from, opener_flow), (i, Side::Opener));
        self.flows.insert((to, acceptor_flow), (i, Side::Acceptor));
        let now = self.now;
        self.node_mut(from).endpoint.handle_input(
            now,
            Input::FlowOpened {
                flow: opener_flow,
                transport,
                local,
                remote,
            },
        );
        Some((i, Side::Opener))
    }

    fn new_flow(&mut self) -> FlowId {
        let f = FlowId(self.next_flow);
        self.next_flow += 1;
        f
    }

    fn send_on(&mut self, conn: usize, side: Side, bytes: Bytes) {
        let Some(c) = self.conns.get(conn) else {
            return;
        };
        let transport = c.transport;
        let (sender, receiver) = (c.end(side), c.end(side.other()));
        let (from, source, to, dest, receiver_state) = (
            sender.node,
            sender.addr,
            receiver.node,
            receiver.addr,
            receiver.state,
        );
        let index = self.capture.len();
        let mut packet = Packet::new(
            index,
            self.elapsed(),
            from,
            source,
            transport,
            bytes.clone(),
        );
        packet.destination = Some(dest);
        packet.to = Some(to);
        let action = self.apply_rules(&packet);
        if receiver_state == EndState::Closed {
            packet.fate = Fate::Discarded;
            self.capture.push(packet);
            return;
        }
        let extra = match action {
            Some((rule, Action::Drop)) => {
                packet.fate = Fate::Dropped(rule);
                self.capture.push(packet);
                return;
            }
            Some((_, Action::Delay(extra))) => extra,
            None => Duration::ZERO,
        };
        let link = self.link(from, to);
        let earliest = self.now + link.latency + extra + self.jitter(&link);
        let Some(end) = self.conns.get_mut(conn).map(|c| c.end_mut(side.other())) else {
            return;
        };
        let at = earliest.max(end.last_arrival);
        end.last_arrival = at;
        packet.arrival = Some(at - self.epoch);
        self.capture.push(packet);
        let receiver = side.other();
        match link.segment.filter(|_| transport.is_stream()) {
            Some(size) => {
                let mut rest = bytes;
                while !rest.is_empty() {
                    let chunk = rest.split_to(size.min(rest.len()));
                    self.schedule(
                        at,
                        Delivery::Stream {
                            conn,
                            side: receiver,
                            bytes: chunk,
                            packet: index,
                        },
                    );
                }
            }
            None => self.schedule(
                at,
                Delivery::Stream {
                    conn,
                    side: receiver,
                    bytes,
                    packet: index,
                },
            ),
        }
    }

    /// The endpoint of `node` asked to close `flow` (and has forgotten it):
    /// the peer learns it after the data in flight.
    fn closed_by_endpoint(&mut self, node: NodeId, flow: FlowId) {
        let Some(&(conn, side)) = self.flows.get(&(node, flow)) else {
            return;
        };
        let now = self.now;
        let Some(c) = self.conns.get_mut(conn) else {
            return;
        };
        c.end_mut(side).state = EndState::Closed;
        let (me, peer) = (c.end(side).node, c.end(side.other()).node);
        let link = self.link(me, peer);
        let Some(end) = self.conns.get_mut(conn).map(|c| c.end_mut(side.other())) else {
            return;
        };
        if end.state == EndState::Closed {
            return;
        }
        let at = (now + link.latency).max(end.last_arrival);
        end.last_arrival = at;
        self.schedule(
            at,
            Delivery::Close {
                conn,
                side: side.other(),
            },
        );
    }

    // Livelock is a bug in the endpoint under test: panicking fails the test
    // and prints the capture, which is what the test needs.
    #[allow(clippy::panic)]
    fn process_due(&mut self) {
        let mut actions = 0usize;
        loop {
            let mut progressed = false;
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let delivery = entry.remove();
                self.deliver(delivery);
                progressed = true;
                actions += 1;
            }
            for id in self.node_ids() {
                let due = self
                    .endpoint(id)
                    .poll_timeout()
                    .is_some_and(|at| at <= self.now);
                if due {
                    let now = self.now;
                    self.node_mut(id).endpoint.handle_timeout(now);
                    self.flush(id);
                    progressed = true;
                    actions += 1;
                }
            }
            while let Some(entry) = self.timers.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let (node, token) = entry.remove();
                let time = self.elapsed();
                self.log.push((time, node, format!("timer {token}")));
                self.events.push_back(NetEvent::Timer { time, node, token });
                progressed = true;
            }
            if !progressed {
                break;
            }
            if actions > MAX_ACTIONS_PER_INSTANT {
                panic!(
                    "livelock at {}: more than {MAX_ACTIONS_PER_INSTANT} actions at one instant",
                    format_time(self.elapsed())
                );
            }
        }
    }

    fn deliver(&mut self, delivery: Delivery) {
        let now = self.now;
        match delivery {
            Delivery::Datagram { to, source, bytes } => {
                self.node_mut(to)
                    .endpoint
                    .handle_input(now, Input::Datagram { source, bytes });
                self.flush(to);
            }
            Delivery::Stream {
                conn,
                side,
                bytes,
                packet,
            } => {
                let Some(c) = self.conns.get_mut(conn) else {
                    return;
                };
                let transport = c.transport;
                let remote = c.end(side.other()).addr;
                let end = c.end_mut(side);
                let (node, flow, local) = (end.node, end.flow, end.addr);
                let mut inputs = Vec::with_capacity(2);
                match end.state {
                    EndState::Closed => {
                        if let Some(p) = self.capture.get_mut(packet) {
                            p.fate = Fate::Discarded;
                            p.arrival = None;
                        }
                        return;
                    }
                    EndState::Pending => {
                        end.state = EndState::Open;
                        inputs.push(Input::FlowOpened {
                            flow,
                            transport,
                            local,
                            remote,
                        });
                    }
                    EndState::Open => {}
                }
                inputs.push(if transport.is_stream() {
                    Input::StreamData { flow, bytes }
                } else {
                    Input::Datagram {
                        source: Source {
                            transport,
                            remote,
                            local,
                            flow: Some(flow),
                        },
                        bytes,
                    }
                });
                let ep = &mut self.node_mut(node).endpoint;
                for input in inputs {
                    ep.handle_input(now, input);
                }
                self.flush(node);
            }
            Delivery::Close { conn, side } => {
                let Some(end) = self.conns.get_mut(conn).map(|c| c.end_mut(side)) else {
                    return;
                };
                let was = end.state;
                end.state = EndState::Closed;
                let (node, flow) = (end.node, end.flow);
                if was == EndState::Open {
                    self.node_mut(node)
                        .endpoint
                        .handle_input(now, Input::FlowClosed { flow });
                    self.flush(node);
                }
            }
        }
    }
}

/// One line about an endpoint event, for the dump.
fn describe(event: &Event) -> String {
    fn cseq(h: &switchboard_proto::Headers) -> String {
        h.cseq()
            .map_or_else(String::new, |c| format!(" ({} {})", c.seq, c.method))
    }
    match event {
        Event::Request {
            tx,
            request,
            source,
        } => {
            format!(
                "{tx} got request {} from {}",
                request.method(),
                source.remote
            )
        }
        Event::Ack { request, .. } => {
            format!("got ACK outside a transaction{}", cseq(request.headers()))
        }
        Event::Cancelled { invite, .. } => format!("{invite} cancelled by the peer"),
        Event::Response { tx, response, .. } => {
            format!(
                "{tx} got response {}{}",
                response.status(),
                cseq(response.headers())
            )
        }
        Event::StrayResponse { response, .. } => {
            format!(
                "got stray response {}{}",
                response.status(),
                cseq(response.headers())
            )
        }
        Event::Timeout { tx } => format!("{tx} timed out"),
        Event::TransportError { tx } => format!("{tx} transport error"),
        Event::AckTimeout { tx } => format!("{tx} got no ACK (timer H)"),
        Event::Terminated { tx } => format!("{tx} terminated"),
        other => format!("{other:?}"),
    }
}
