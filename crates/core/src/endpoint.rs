//! The endpoint: one sans-IO object that owns every transaction and flow.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use rand_core::RngCore;
use switchboard_proto::header::Via;
use switchboard_proto::{
    Frame, HeaderName, Message, Method, Request, Response, ResponseBuilder, StatusCode,
    StreamFramer, error_response, framing_error_response,
};

use crate::transaction::{
    ClientInvite, ClientNonInvite, Ctx, ServerInvite, ServerNonInvite, Timer, Transaction,
    TransactionId, client_key, client_key_for_response, server_key,
};
use crate::{
    Config, Destination, Event, FlowId, MessageCounts, RespondError, SendError, Source, Transmit,
    Transport,
};

/// An input for [`Endpoint::handle_input`].
#[derive(Debug, Clone)]
pub enum Input {
    /// One datagram (UDP), or one WebSocket message (then `source.flow` is
    /// the WebSocket connection).
    Datagram {
        /// Where it came from.
        source: Source,
        /// The bytes.
        bytes: Bytes,
    },
    /// Bytes read from a stream connection (TCP, TLS) opened with
    /// [`Input::FlowOpened`].
    StreamData {
        /// The connection.
        flow: FlowId,
        /// The bytes, in order.
        bytes: Bytes,
    },
    /// A connection was accepted or established.
    FlowOpened {
        /// Its id, chosen by the driver.
        flow: FlowId,
        /// Its transport.
        transport: Transport,
        /// Our side.
        local: SocketAddr,
        /// The peer.
        remote: SocketAddr,
    },
    /// A connection closed (or could not be established).
    FlowClosed {
        /// The connection.
        flow: FlowId,
    },
}

#[derive(Debug)]
struct Flow {
    transport: Transport,
    local: SocketAddr,
    remote: SocketAddr,
    framer: Option<StreamFramer>,
}

#[derive(Debug)]
struct Entry {
    tx: Transaction,
    /// Shared with the key index, so a transaction stores its key once.
    key: Arc<str>,
    server: bool,
    /// Where a server transaction answers when the connection its request
    /// came on closes: received address, sent-by port (§18.2.2).
    fallback: Option<Destination>,
    /// A client request that went over TCP only because of its size, until
    /// its first response.
    udp_retry: Option<Box<UdpRetry>>,
}

/// A request sent over TCP only because it is too large for UDP
/// (§18.1.1), kept until its first response: when the connection cannot be
/// opened or is reset, it is sent again over UDP, as §18.1.1 asks. Phones
/// that listen on UDP only are common, and large INVITEs (an SDP offer
/// with many codecs, an INVITE with Replaces) must still reach them.
#[derive(Debug)]
struct UdpRetry {
    /// The request before the endpoint's Via.
    request: Request,
    remote: SocketAddr,
    branch: String,
}

/// Counters of what the endpoint did with peers' input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages that failed to parse.
    pub malformed: u64,
    /// Requests refused with 503 because of the transaction limit.
    pub shed: u64,
    /// Retransmitted requests absorbed or answered by a transaction.
    pub retransmissions: u64,
    /// Requests and responses received and sent, by method and class.
    pub messages: MessageCounts,
}

/// A SIP endpoint without I/O: transport rules (RFC 3261 §18) and the
/// transaction layer (§17).
///
/// Methods come in four kinds, as in quinn-proto:
/// - inputs: [`Endpoint::handle_input`] (bytes from the network, flows
///   opening and closing) and [`Endpoint::handle_timeout`];
/// - commands from the transaction user: [`Endpoint::send_request`],
///   [`Endpoint::respond`], [`Endpoint::cancel`], [`Endpoint::send_stateless`];
/// - outputs: [`Endpoint::poll_transmit`], [`Endpoint::poll_event`],
///   [`Endpoint::poll_close`], [`Endpoint::poll_timeout`];
/// - getters.
///
/// After every input or command, drain the outputs until they are empty,
/// then sleep until `poll_timeout` (or the next input) and call
/// `handle_timeout`. Time only comes in through `now`; randomness (branches,
/// tags) only from the RNG given to [`Endpoint::new`].
pub struct Endpoint {
    config: Config,
    rng: Box<dyn RngCore + Send>,
    next_id: u64,
    /// Boxed entries: the table is sized by a power of two and holds a
    /// UDP server's every transaction of the last 32 s, so its empty slots
    /// cost a pointer each rather than a whole entry.
    txs: HashMap<TransactionId, Box<Entry>>,
    server_keys: HashMap<Arc<str>, TransactionId>,
    client_keys: HashMap<Arc<str>, TransactionId>,
    timers: BTreeSet<(Instant, TransactionId, Timer)>,
    flows: HashMap<FlowId, Flow>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    closes: VecDeque<FlowId>,
    stats: Stats,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("transactions", &self.txs.len())
            .field("flows", &self.flows.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint with this configuration and source of randomness.
    pub fn new(config: Config, rng: Box<dyn RngCore + Send>) -> Self {
        Self {
            config,
            rng,
            next_id: 1,
            txs: HashMap::new(),
            server_keys: HashMap::new(),
            client_keys: HashMap::new(),
            timers: BTreeSet::new(),
            flows: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            closes: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Live transactions.
    pub fn transaction_count(&self) -> usize {
        self.txs.len()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    // ----- outputs -----

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// A connection the driver must close (its stream can no longer be
    /// framed).
    pub fn poll_close(&mut self) -> Option<FlowId> {
        self.closes.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _, _)| *at)
    }

    // ----- randomness for the TU -----

    /// A fresh RFC 3261 branch (`z9hG4bK` + 20 random characters).
    pub fn new_branch(&mut self) -> String {
        crate::token::branch(&mut *self.rng)
    }

    /// A fresh tag for From or To (at least 32 bits of randomness, §19.3).
    pub fn new_tag(&mut self) -> String {
        crate::token::tag(&mut *self.rng)
    }

    /// A fresh Call-ID.
    pub fn new_call_id(&mut self) -> String {
        crate::token::call_id(&mut *self.rng)
    }

    // ----- inputs -----

    /// Feeds network input.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        match input {
            Input::Datagram { source, bytes } => self.on_bytes(now, source, bytes, false),
            Input::StreamData { flow, bytes } => self.on_stream_data(now, flow, &bytes),
            Input::FlowOpened {
                flow,
                transport,
                local,
                remote,
            } => {
                let framer = transport
                    .is_stream()
                    .then(|| StreamFramer::new(self.config.max_message_size));
                self.flows.insert(
                    flow,
                    Flow {
                        transport,
                        local,
                        remote,
                        framer,
                    },
                );
            }
            Input::FlowClosed { flow } => self.on_flow_closed(now, flow),
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            self.drive(now, id, |tx, ctx| tx.on_timer(ctx, timer));
        }
    }

    fn on_stream_data(&mut self, now: Instant, flow: FlowId, bytes: &[u8]) {
        let Some(f) = self.flows.get_mut(&flow) else {
            return;
        };
        let source = Source {
            transport: f.transport,
            remote: f.remote,
            local: f.local,
            flow: Some(flow),
        };
        let Some(framer) = f.framer.as_mut() else {
            return;
        };
        framer.push(bytes);
        let mut frames = Vec::new();
        let mut failed = None;
        while let Some(frame) = framer.next_frame() {
            match frame {
                Ok(frame) => frames.push(frame),
                Err(error) => {
                    tracing::debug!(%error, ?flow, "stream cannot be framed, answering and closing");
                    // The request that broke the framing still gets its
                    // 400 (or 413) before the close (RFC 3261 §18.3).
                    failed = Some((error, Bytes::copy_from_slice(framer.pending())));
                    break;
                }
            }
        }
        for frame in frames {
            match frame {
                Frame::Message(m) => self.on_bytes(now, source, m, true),
                Frame::Ping => self.transmits.push_back(Transmit {
                    destination: Destination::Flow(flow),
                    local: Some(source.local),
                    bytes: Bytes::from_static(b"\r\n"),
                }),
                Frame::Pong => {}
            }
        }
        if let Some((error, unframed)) = failed {
            self.stats.malformed += 1;
            let tag = self.new_tag();
            if let Some(answer) = framing_error_response(&unframed, &error, &tag) {
                self.transmits.push_back(Transmit {
                    destination: Destination::Flow(flow),
                    local: Some(source.local),
                    bytes: answer,
                });
            }
            self.closes.push_back(flow);
            self.on_flow_closed(now, flow);
        }
    }

    fn on_flow_closed(&mut self, now: Instant, flow: FlowId) {
        let Some(closed) = self.flows.remove(&flow) else {
            return;
        };
        // Transactions sent down this connection, by flow or by the address
        // the connection was opened to, fail at once (§8.1.3.1, §17.1.4).
        let by_address = Destination::Address {
            transport: closed.transport,
            remote: closed.remote,
        };
        let mut failed = Vec::new();
        for (id, e) in &mut self.txs {
            let d = e.tx.destination();
            if d == Destination::Flow(flow) {
                // A server transaction answers over a new connection to the
                // received address and sent-by port (§18.2.2).
                match e.fallback {
                    Some(fallback) if e.server => e.tx.retarget(fallback),
                    _ => failed.push(*id),
                }
            } else if !e.server && d == by_address {
                failed.push(*id);
            }
        }
        for id in failed {
            if !self.retry_over_udp(now, id) {
                self.drive(now, id, |tx, ctx| tx.on_transport_error(ctx));
            }
        }
    }

    fn on_bytes(&mut self, now: Instant, source: Source, bytes: Bytes, stream: bool) {
        if bytes
            .iter()
            .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
        {
            return; // keep-alive
        }
        if bytes.len() > self.config.max_message_size {
            self.stats.malformed += 1;
            return;
        }
        let framing = if stream {
            switchboard_proto::Framing::Stream
        } else {
            switchboard_proto::Framing::Datagram
        };
        match Message::parse(bytes.clone(), framing) {
            Ok(Message::Request(req)) => {
                self.stats.messages.requests_received.add(req.method());
                self.on_request(now, source, req);
            }
            Ok(Message::Response(resp)) => {
                self.stats
                    .messages
                    .responses_received
                    .add(resp.status().as_u16());
                self.on_response(now, source, resp);
            }
            Err(error) => {
                self.stats.malformed += 1;
                tracing::debug!(%error, remote = %source.remote, "malformed message");
                let tag = self.new_tag();
                if let Some(answer) = error_response(&bytes, &error, &tag) {
                    self.transmits.push_back(Transmit {
                        destination: reply_to_source(&source),
                        local: Some(source.local),
                        bytes: answer,
                    });
                }
            }
        }
    }

    fn on_request(&mut self, now: Instant, source: Source, mut req: Request) {
        let Some((reply_to, fallback)) = self.stamp_via(&mut req, &source) else {
            self.stats.malformed += 1;
            return;
        };
        let Some(key) = server_key(&req, None) else {
            return;
        };
        if *req.method() == Method::Ack {
            match self.server_keys.get(&*key).copied() {
                Some(id) => self.drive(now, id, |tx, ctx| {
                    if let Transaction::ServerInvite(t) = tx {
                        t.on_ack(ctx);
                    }
                }),
                None => self.events.push_back(Event::Ack {
                    request: req,
                    source,
                }),
            }
            return;
        }
        if let Some(id) = self.server_keys.get(&*key).copied() {
            self.stats.retransmissions += 1;
            self.drive(now, id, |tx, ctx| match tx {
                Transaction::ServerInvite(t) => t.on_retransmission(ctx),
                Transaction::ServerNonInvite(t) => t.on_retransmission(ctx),
                _ => {}
            });
            return;
        }
        if self.txs.len() >= self.config.max_transactions {
            self.stats.shed += 1;
            let retry = self.config.retry_after.to_string();
            self.reply_stateless(
                &req,
                reply_to,
                source.local,
                StatusCode::SERVICE_UNAVAILABLE,
                &[(HeaderName::RetryAfter, &retry)],
            );
            return;
        }
        let reliable = source.transport.is_reliable();
        let id = self.next_tx_id();
        if *req.method() == Method::Invite {
            let mut ctx = Ctx {
                now,
                config: &self.config,
                transmits: &mut self.transmits,
                events: &mut self.events,
            };
            let tx = ServerInvite::new(&mut ctx, id, req.clone(), reply_to, source.local, reliable);
            self.insert(id, Transaction::ServerInvite(Box::new(tx)), key, true);
            self.set_fallback(id, fallback);
            self.events.push_back(Event::Request {
                tx: id,
                request: req,
                source,
            });
            return;
        }
        let tx = ServerNonInvite::new(reply_to, source.local, reliable);
        self.insert(id, Transaction::ServerNonInvite(tx), key, true);
        self.set_fallback(id, fallback);
        if *req.method() == Method::Cancel {
            // §9.2: the CANCEL is answered here; the TU learns which INVITE.
            let invite = server_key(&req, Some(&Method::Invite))
                .and_then(|k| self.server_keys.get(&*k).copied())
                .and_then(|i| match self.txs.get(&i).map(|e| &e.tx) {
                    Some(Transaction::ServerInvite(t)) => {
                        Some((i, t.to_tag.clone(), t.pending_request().cloned()))
                    }
                    _ => None,
                });
            let status = if invite.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
            };
            // The 200 carries the To tag of the INVITE's responses (§9.2).
            let tag = match invite.as_ref().and_then(|(_, t, _)| t.clone()) {
                Some(t) => t.into(),
                None => self.new_tag(),
            };
            // Only an INVITE still without a final response is cancelled.
            let invite = invite.and_then(|(i, _, r)| r.map(|r| (i, r)));
            if let Ok(resp) = ResponseBuilder::from_request(&req, status)
                .to_tag(&tag)
                .build()
            {
                let _ = self.respond(now, id, resp);
            }
            if let Some((invite, invite_request)) = invite {
                self.events.push_back(Event::Cancelled {
                    invite,
                    request: req,
                    invite_request,
                });
            }
            return;
        }
        self.events.push_back(Event::Request {
            tx: id,
            request: req,
            source,
        });
    }

    /// Adds `received` and fills `rport` in the top Via (§18.2.1, RFC 3581)
    /// and works out where responses go (§18.2.2).
    fn stamp_via(
        &self,
        req: &mut Request,
        source: &Source,
    ) -> Option<(Destination, Option<Destination>)> {
        let via = req.headers().top_via()?.ok()?;
        let ip = source.remote.ip();
        let host_is_source = via.host.ip() == Some(ip);
        let rport = via.rport();
        let sent_by_port = via.port.unwrap_or(if source.transport.is_secure() {
            5061
        } else {
            5060
        });
        let reply_to = match source.flow {
            Some(flow) => Destination::Flow(flow),
            None if rport.is_some() || self.config.symmetric_response => reply_to_source(source),
            None => Destination::Address {
                transport: source.transport,
                remote: SocketAddr::new(ip, sent_by_port),
            },
        };
        let fallback = source.flow.map(|_| Destination::Address {
            transport: source.transport,
            remote: SocketAddr::new(ip, sent_by_port),
        });
        if host_is_source && rport.is_none() {
            return Some((reply_to, fallback));
        }
        let stamped = stamp(&via, source.remote, rport.is_some());
        let h = req.headers_mut();
        h.pop_front_value(HeaderName::Via);
        h.push_front(HeaderName::Via, stamped);
        Some((reply_to, fallback))
    }

    fn on_response(&mut self, now: Instant, source: Source, resp: Response) {
        let id = client_key_for_response(&resp).and_then(|k| self.client_keys.get(&*k).copied());
        let Some(id) = id else {
            self.events.push_back(Event::StrayResponse {
                response: resp,
                source,
            });
            return;
        };
        self.drive(now, id, |tx, ctx| match tx {
            Transaction::ClientInvite(t) => t.on_response(ctx, resp, source),
            Transaction::ClientNonInvite(t) => t.on_response(ctx, resp, source),
            _ => {}
        });
    }

    // ----- commands -----

    /// Sends `request` in a new client transaction. The endpoint adds the top
    /// Via (with a new branch and `rport`); everything else is the caller's.
    /// A request over UDP larger than [`Config::udp_size_limit`] goes over
    /// TCP to the same address instead (§18.1.1).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
    ) -> Result<TransactionId, SendError> {
        self.start_client(now, request, destination, None)
    }

    /// [`Endpoint::send_request`] with the caller's branch in the new top
    /// Via, for a proxy whose branches carry a loop-detection hash
    /// (RFC 3261 §16.6 step 8). The branch must start with the magic
    /// cookie `z9hG4bK` and be a token (letters, digits, `-.!%*_+`~'`).
    pub fn send_request_with_branch(
        &mut self,
        now: Instant,
        request: Request,
        destination: Destination,
        branch: &str,
    ) -> Result<TransactionId, SendError> {
        let valid = branch.len() > switchboard_proto::header::BRANCH_MAGIC_COOKIE.len()
            && branch.starts_with(switchboard_proto::header::BRANCH_MAGIC_COOKIE)
            && branch
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
        if !valid {
            return Err(SendError::Invalid("branch".into()));
        }
        self.start_client(now, request, destination, Some(branch))
    }

    fn start_client(
        &mut self,
        now: Instant,
        mut request: Request,
        destination: Destination,
        branch: Option<&str>,
    ) -> Result<TransactionId, SendError> {
        if *request.method() == Method::Ack {
            return Err(SendError::AckInTransaction);
        }
        if self.txs.len() >= self.config.max_transactions {
            return Err(SendError::TooManyTransactions(self.config.max_transactions));
        }
        let mut destination = destination;
        let mut transport = self.transport_of(destination);
        let estimate = request.to_bytes().len() + 80;
        let mut upgraded_from_udp = None;
        if let (Destination::Address { remote, .. }, Transport::Udp, Some(limit)) =
            (destination, transport, self.config.udp_size_limit)
        {
            if estimate > limit {
                transport = Transport::Tcp;
                destination = Destination::Address { transport, remote };
                upgraded_from_udp = Some(remote);
            }
        }
        let sent_by = self
            .config
            .via_address(transport)
            .ok_or(SendError::NoLocalAddress)?;
        let branch = match branch {
            Some(b) => b.to_owned(),
            None => self.new_branch(),
        };
        let udp_retry = upgraded_from_udp.map(|remote| {
            Box::new(UdpRetry {
                request: request.clone(),
                remote,
                branch: branch.clone(),
            })
        });
        request.headers_mut().push_front(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {sent_by};branch={branch};rport",
                transport.as_via_token()
            ),
        );
        let bytes = request.to_bytes();
        if bytes.len() > self.config.max_message_size {
            return Err(SendError::TooLarge(bytes.len()));
        }
        let key =
            client_key(&branch, request.method()).ok_or(SendError::Invalid("branch".into()))?;
        let id = self.next_tx_id();
        self.stats.messages.requests_sent.add(request.method());
        let reliable = transport.is_reliable();
        let tx = self.start_client_transaction(now, id, request, bytes, destination, reliable);
        self.insert(id, tx, key, false);
        if let Some(entry) = self.txs.get_mut(&id) {
            entry.udp_retry = udp_retry;
        }
        Ok(id)
    }

    /// Sends again over UDP the request of client transaction `id`, which
    /// went over TCP for its size and whose connection failed before any
    /// response (§18.1.1). The transaction keeps its id and branch; its
    /// timers start again as over UDP. Whether it did.
    fn retry_over_udp(&mut self, now: Instant, id: TransactionId) -> bool {
        let Some(entry) = self.txs.get_mut(&id) else {
            return false;
        };
        if !entry.tx.awaits_first_response() {
            return false;
        }
        let Some(sent_by) = self.config.via_address(Transport::Udp) else {
            return false;
        };
        let Some(retry) = entry.udp_retry.take() else {
            return false;
        };
        let Some(old) = self.txs.remove(&id) else {
            return false;
        };
        for (timer, at) in old.tx.timers().iter() {
            self.timers.remove(&(at, id, timer));
        }
        let UdpRetry {
            mut request,
            remote,
            branch,
        } = *retry;
        tracing::debug!(%remote, "connection for a large request failed: sent over UDP");
        request.headers_mut().push_front(
            HeaderName::Via,
            format!("SIP/2.0/UDP {sent_by};branch={branch};rport"),
        );
        let bytes = request.to_bytes();
        let destination = Destination::Address {
            transport: Transport::Udp,
            remote,
        };
        let tx = self.start_client_transaction(now, id, request, bytes, destination, false);
        self.insert(id, tx, Box::from(&*old.key), false);
        true
    }

    /// A new client transaction for `request` (already with its Via, as
    /// `bytes`), its first transmission queued.
    fn start_client_transaction(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        bytes: Bytes,
        destination: Destination,
        reliable: bool,
    ) -> Transaction {
        let mut ctx = Ctx {
            now,
            config: &self.config,
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        if *request.method() == Method::Invite {
            Transaction::ClientInvite(Box::new(ClientInvite::start(
                &mut ctx,
                id,
                request,
                bytes,
                destination,
                reliable,
            )))
        } else {
            Transaction::ClientNonInvite(ClientNonInvite::start(
                &mut ctx,
                id,
                bytes,
                destination,
                reliable,
            ))
        }
    }

    /// Cancels the INVITE client transaction `invite` (§9.1): sends a CANCEL
    /// in its own transaction, to the same place, with the same branch. Only
    /// allowed once a provisional response arrived.
    pub fn cancel(
        &mut self,
        now: Instant,
        invite: TransactionId,
    ) -> Result<TransactionId, SendError> {
        let Some(Entry {
            tx: Transaction::ClientInvite(inv),
            ..
        }) = self.txs.get(&invite).map(|e| &**e)
        else {
            return Err(SendError::NotCancellable(invite));
        };
        if !inv.can_cancel() {
            return Err(SendError::NotCancellable(invite));
        }
        let destination = inv.destination;
        let invalid = || SendError::Invalid("INVITE lacks headers for CANCEL".into());
        let fields = inv.fields.as_ref().ok_or_else(invalid)?;
        let branch = fields.branch().to_owned();
        let cancel = fields
            .cancel()
            .map_err(|e| SendError::Invalid(e.to_string()))?;
        let key = client_key(&branch, &Method::Cancel).ok_or_else(invalid)?;
        let bytes = cancel.to_bytes();
        let reliable = self.transport_of(destination).is_reliable();
        let id = self.next_tx_id();
        let mut ctx = Ctx {
            now,
            config: &self.config,
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        let tx = ClientNonInvite::start(&mut ctx, id, bytes, destination, reliable);
        self.insert(id, Transaction::ClientNonInvite(tx), key, false);
        self.drive(now, invite, |tx, ctx| {
            if let Transaction::ClientInvite(t) = tx {
                t.on_cancel_sent(ctx);
            }
        });
        Ok(id)
    }

    /// Sends `response` in server transaction `tx`.
    pub fn respond(
        &mut self,
        now: Instant,
        tx: TransactionId,
        response: Response,
    ) -> Result<(), RespondError> {
        let mut accepted = None;
        match self.txs.get(&tx).map(|e| &e.tx) {
            Some(Transaction::ServerInvite(_) | Transaction::ServerNonInvite(_)) => {}
            _ => return Err(RespondError::UnknownTransaction(tx)),
        }
        self.drive(now, tx, |t, ctx| {
            accepted = Some(match t {
                Transaction::ServerInvite(s) => s.respond(ctx, &response),
                Transaction::ServerNonInvite(s) => s.respond(ctx, &response),
                _ => false,
            });
        });
        match accepted {
            Some(true) => {
                self.stats
                    .messages
                    .responses_sent
                    .add(response.status().as_u16());
                Ok(())
            }
            _ => Err(RespondError::AlreadyFinal(tx)),
        }
    }

    /// Sends a message outside any transaction: the ACK for a 2xx, or a
    /// request or response a proxy forwards statelessly. The driver picks
    /// the address to send from.
    pub fn send_stateless(&mut self, message: &Message, destination: Destination) {
        self.transmits.push_back(Transmit {
            destination,
            local: None,
            bytes: message.to_bytes(),
        });
    }

    // ----- internals -----

    fn next_tx_id(&mut self) -> TransactionId {
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        id
    }

    fn transport_of(&self, destination: Destination) -> Transport {
        match destination {
            Destination::Address { transport, .. } => transport,
            Destination::Flow(f) => self.flows.get(&f).map_or(Transport::Tcp, |f| f.transport),
        }
    }

    fn insert(&mut self, id: TransactionId, tx: Transaction, key: Box<str>, server: bool) {
        let key: Arc<str> = key.into();
        for (timer, at) in tx.timers().iter() {
            self.timers.insert((at, id, timer));
        }
        let keys = if server {
            &mut self.server_keys
        } else {
            &mut self.client_keys
        };
        keys.insert(key.clone(), id);
        if tx.is_terminated() {
            self.remove(id, &key, server);
            return;
        }
        self.txs.insert(
            id,
            Box::new(Entry {
                tx,
                key,
                server,
                fallback: None,
                udp_retry: None,
            }),
        );
    }

    fn set_fallback(&mut self, id: TransactionId, fallback: Option<Destination>) {
        if let Some(e) = self.txs.get_mut(&id) {
            e.fallback = fallback;
        }
    }

    fn remove(&mut self, id: TransactionId, key: &str, server: bool) {
        let keys = if server {
            &mut self.server_keys
        } else {
            &mut self.client_keys
        };
        if keys.get(key) == Some(&id) {
            keys.remove(key);
        }
        shrink_after_peak(keys);
        shrink_after_peak(&mut self.txs);
        self.events.push_back(Event::Terminated { tx: id });
    }

    /// Runs `f` on transaction `id`, then brings the timer index in step
    /// with the transaction's timer table and drops it once terminated.
    fn drive(
        &mut self,
        now: Instant,
        id: TransactionId,
        f: impl FnOnce(&mut Transaction, &mut Ctx<'_>),
    ) {
        let Some(entry) = self.txs.get_mut(&id) else {
            return;
        };
        let before = *entry.tx.timers();
        let mut ctx = Ctx {
            now,
            config: &self.config,
            transmits: &mut self.transmits,
            events: &mut self.events,
        };
        f(&mut entry.tx, &mut ctx);
        let after = *entry.tx.timers();
        for (timer, at) in before.iter() {
            if after.get(timer) != Some(at) {
                self.timers.remove(&(at, id, timer));
            }
        }
        for (timer, at) in after.iter() {
            if before.get(timer) != Some(at) {
                self.timers.insert((at, id, timer));
            }
        }
        if entry.tx.is_terminated() {
            if let Some(entry) = self.txs.remove(&id) {
                for (timer, at) in entry.tx.timers().iter() {
                    self.timers.remove(&(at, id, timer));
                }
                self.remove(id, &entry.key, entry.server);
            }
        }
    }

    fn reply_stateless(
        &mut self,
        req: &Request,
        destination: Destination,
        local: SocketAddr,
        status: StatusCode,
        extra: &[(HeaderName, &str)],
    ) {
        let tag = self.new_tag();
        let mut b = ResponseBuilder::from_request(req, status)
            .to_tag(&tag)
            .header(HeaderName::Server, self.config.server_name.clone());
        for (name, value) in extra {
            b = b.header(*name, *value);
        }
        if let Ok(resp) = b.build() {
            self.transmits.push_back(Transmit {
                destination,
                local: Some(local),
                bytes: resp.to_bytes(),
            });
        }
    }
}

/// Where to answer a message when only its source is known.
fn reply_to_source(source: &Source) -> Destination {
    match source.flow {
        Some(flow) => Destination::Flow(flow),
        None => Destination::Address {
            transport: source.transport,
            remote: source.remote,
        },
    }
}

/// The top Via with `received` (and `rport=<port>` when asked) set.
fn stamp(via: &Via<'_>, remote: SocketAddr, fill_rport: bool) -> String {
    let mut out = format!(
        "{}/{}/{} {}",
        via.protocol, via.version, via.transport, via.host
    );
    if let Some(port) = via.port {
        out.push_str(&format!(":{port}"));
    }
    for p in via.params.iter() {
        let name = p.name;
        if name.eq_ignore_ascii_case("received")
            || (fill_rport && name.eq_ignore_ascii_case("rport"))
        {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(v) = p.value {
            out.push('=');
            out.push_str(v);
        }
    }
    out.push_str(";received=");
    out.push_str(&remote.ip().to_string());
    if fill_rport {
        out.push_str(&format!(";rport={}", remote.port()));
    }
    out
}

/// Gives memory back once a load peak has passed: a map never shrinks by
/// itself, and a UDP server's table holds every transaction of the last
/// 32 s (Timer J), so one burst would otherwise keep its peak size for
/// good. Shrinks to twice the live count when under a quarter of the
/// capacity is used (amortised O(1): the next shrink needs the count to
/// fall by half again). Small tables are left alone.
pub fn shrink_after_peak<K: Eq + std::hash::Hash, V>(map: &mut HashMap<K, V>) {
    const KEEP: usize = 1024;
    let capacity = map.capacity();
    if capacity > KEEP && map.len() < capacity / 4 {
        map.shrink_to((map.len() * 2).max(KEEP));
    }
}
