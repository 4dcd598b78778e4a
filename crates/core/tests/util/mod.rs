//! A virtual-clock harness around one endpoint: the test plays the peers.
#![allow(
    unreachable_pub,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::SeedableRng;
use switchboard_core::{Config, Destination, Endpoint, Event, Input, Source, Transmit, Transport};
use switchboard_proto::{Message, Request, Response};

pub const LOCAL: &str = "127.0.0.1:5060";
pub const PEER: &str = "127.0.0.1:5070";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub struct Harness {
    pub ep: Endpoint,
    pub epoch: Instant,
    pub now: Instant,
    /// (time, transmit) of everything sent so far, in order.
    pub sent: Vec<(Duration, Transmit)>,
    pub events: Vec<(Duration, Event)>,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(mut config: Config) -> Self {
        config.via_addresses = vec![(Transport::Udp, addr(LOCAL)), (Transport::Tcp, addr(LOCAL))];
        let rng = rand::rngs::StdRng::seed_from_u64(7);
        let epoch = Instant::now();
        Self {
            ep: Endpoint::new(config, Box::new(rng)),
            epoch,
            now: epoch,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// Drains the endpoint's outputs into `sent` and `events`.
    pub fn drain(&mut self) {
        let t = self.elapsed();
        while let Some(tx) = self.ep.poll_transmit() {
            self.sent.push((t, tx));
        }
        while let Some(ev) = self.ep.poll_event() {
            self.events.push((t, ev));
        }
    }

    /// Advances the virtual clock to `until`, firing every timer on the way.
    pub fn run_until(&mut self, until: Duration) {
        let end = self.epoch + until;
        while let Some(at) = self.ep.poll_timeout() {
            if at > end {
                break;
            }
            self.now = at.max(self.now);
            self.ep.handle_timeout(self.now);
            self.drain();
        }
        self.now = end.max(self.now);
    }

    pub fn advance(&mut self, by: Duration) {
        let until = self.elapsed() + by;
        self.run_until(until);
    }

    pub fn receive(&mut self, text: &str) {
        self.receive_from(text, Transport::Udp, addr(PEER));
    }

    pub fn receive_from(&mut self, text: &str, transport: Transport, remote: SocketAddr) {
        self.receive_at(text, transport, remote, addr(LOCAL));
    }

    /// A datagram from `remote` that arrived at our address `local`.
    pub fn receive_at(
        &mut self,
        text: &str,
        transport: Transport,
        remote: SocketAddr,
        local: SocketAddr,
    ) {
        let source = Source {
            transport,
            remote,
            local,
            flow: None,
        };
        self.ep.handle_input(
            self.now,
            Input::Datagram {
                source,
                bytes: Bytes::from(text.replace('\n', "\r\n")),
            },
        );
        self.drain();
    }

    pub fn send_request(
        &mut self,
        text: &str,
        transport: Transport,
    ) -> switchboard_core::TransactionId {
        let req = request(text);
        let id = self
            .ep
            .send_request(
                self.now,
                req,
                Destination::Address {
                    transport,
                    remote: addr(PEER),
                },
            )
            .unwrap();
        self.drain();
        id
    }

    /// Times (in ms) at which something was sent.
    pub fn send_times_ms(&self) -> Vec<u128> {
        self.sent.iter().map(|(t, _)| t.as_millis()).collect()
    }

    pub fn sent_messages(&self) -> Vec<Message> {
        self.sent
            .iter()
            .map(|(_, t)| Message::parse_datagram(t.bytes.clone()).unwrap())
            .collect()
    }

    pub fn last_sent(&self) -> Message {
        Message::parse_datagram(self.sent.last().expect("nothing sent").1.bytes.clone()).unwrap()
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }
}

/// Builds a request from text through the public builder (so it may lack
/// a Via, as a TU's request does).
pub fn request(text: &str) -> Request {
    let mut lines = text.lines();
    let start = lines.next().unwrap();
    let mut parts = start.split(' ');
    let method = switchboard_proto::Method::from_token(parts.next().unwrap()).unwrap();
    let mut b = switchboard_proto::RequestBuilder::new(method, parts.next().unwrap());
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').unwrap();
        if !name.eq_ignore_ascii_case("content-length") {
            b = b.header_other(name, value.trim());
        }
    }
    b.build().unwrap()
}

pub fn status_of(m: &Message) -> Option<u16> {
    m.as_response().map(|r| r.status().as_u16())
}

/// A request from the test peer, with a Via whose branch the peer chose.
pub fn invite_from_peer(branch: &str) -> String {
    format!(
        "INVITE sip:bob@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\n\
         Max-Forwards: 70\nFrom: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:bob@127.0.0.1>\n\
         Call-ID: call-{branch}\nCSeq: 1 INVITE\nContact: <sip:alice@127.0.0.1:5070>\nContent-Length: 0\n\n"
    )
}

pub fn non_invite_from_peer(method: &str, branch: &str) -> String {
    format!(
        "{method} sip:bob@127.0.0.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\n\
         Max-Forwards: 70\nFrom: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:bob@127.0.0.1>\n\
         Call-ID: call-{branch}\nCSeq: 1 {method}\nContent-Length: 0\n\n"
    )
}

/// A request the TU sends (the endpoint adds the Via).
pub fn outgoing(method: &str) -> String {
    format!(
        "{method} sip:bob@127.0.0.1:5070 SIP/2.0\n\
         Max-Forwards: 70\nFrom: <sip:alice@127.0.0.1>;tag=u1\nTo: <sip:bob@127.0.0.1>\n\
         Call-ID: out-1\nCSeq: 1 {method}\nContent-Length: 0\n\n"
    )
}

/// The peer's response to the last request the endpoint sent.
pub fn response_to(req: &Message, code: u16, to_tag: Option<&str>) -> String {
    let req = req.as_request().expect("a request");
    let mut b = switchboard_proto::ResponseBuilder::from_request(
        req,
        switchboard_proto::StatusCode::new(code).unwrap(),
    );
    if let Some(t) = to_tag {
        b = b.to_tag(t);
    }
    let r: Response = b.build().unwrap();
    String::from_utf8(r.to_bytes().to_vec())
        .unwrap()
        .replace("\r\n", "\n")
}
