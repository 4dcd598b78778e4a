//! The whole server (`Endpoint` + `Service`, serving example.com on
//! 127.0.0.1:5060) driven by the fuzz input on a virtual clock: datagrams
//! from a few sources, bytes on TCP flows that open and close, time jumps,
//! and the runtime's answers to the service's effects (in any order,
//! successes or failures). Nothing may panic, and afterwards a valid
//! OPTIONS from a new source must still be answered 200.
//!
//! Input: the bytes up to the first `00 ff` are one datagram (so a plain
//! SIP message is a valid input: the RFC 4475 seeds); then each `00 ff <op>`
//! starts a step whose payload runs to the next `00 ff`:
//!
//! | op % 8 | step |
//! | --- | --- |
//! | 0, 1 | the payload as a datagram from source 0 or 1 |
//! | 2 | open a TCP flow (up to 4) and send the payload on it |
//! | 3 | the payload as stream bytes on the flow payload[0] picks |
//! | 4 | close the flow payload[0] picks |
//! | 5 | the clock jumps by the payload's first 4 bytes (LE) in ms |
//! | 6 | answer the held effects, payload bits saying which fail |
//! | 7 | the clock goes to the next deadline |
#![no_main]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Config, Endpoint, FlowId, Input, Now, Source, Transport};
use switchboard_proto::{Message, Method, RequestBuilder, StatusCode};
use switchboard_server::proxy::{Listener, NextHop};
use switchboard_server::service::{Completion, DirectoryUser, Effect, UserSnapshot};
use switchboard_server::{
    AuthConfig, AuthSecret, Ha1Set, ProtectConfig, ProxyConfig, RegistrarConfig, Service,
    ServiceConfig,
};

const DOMAIN: &str = "example.com";
const SEPARATOR: &[u8] = b"\x00\xff";
const MAX_FLOWS: usize = 4;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a valid address")
}

struct Machine {
    ep: Endpoint,
    service: Service,
    now: Now,
    held: VecDeque<Effect>,
    open: Vec<FlowId>,
    next_flow: u64,
    /// What went out to the checking phone.
    answers: Vec<Message>,
}

impl Machine {
    fn new() -> Self {
        let server = addr("127.0.0.1:5060");
        let listeners = vec![
            Listener::new(Transport::Udp, server),
            Listener::new(Transport::Tcp, server),
        ];
        let config = ServiceConfig::new(
            RegistrarConfig::for_domain(DOMAIN),
            AuthConfig::default(),
            ProtectConfig::default(),
            ProxyConfig::new(listeners, vec![DOMAIN.to_owned()]),
        );
        let now = Now::at(Instant::now(), 1_700_000_000);
        let mut seed = 0;
        let mut service = Service::new(
            config,
            AuthSecret::from_bytes([7; 32]),
            || {
                seed += 1;
                Box::new(StdRng::seed_from_u64(seed))
            },
            now,
        );
        service.load_users(UserSnapshot {
            version: 1,
            users: vec![DirectoryUser {
                name: "alice".into(),
                domain: DOMAIN.into(),
                ha1: Ha1Set::from_password("alice", DOMAIN, "secret"),
            }],
        });
        let ep_config = Config {
            via_addresses: vec![(Transport::Udp, server), (Transport::Tcp, server)],
            ..Config::default()
        };
        Self {
            ep: Endpoint::new(ep_config, Box::new(StdRng::seed_from_u64(99))),
            service,
            now,
            held: VecDeque::new(),
            open: Vec::new(),
            next_flow: 1,
            answers: Vec::new(),
        }
    }

    fn datagram(&mut self, remote: SocketAddr, bytes: &[u8]) {
        let source = Source {
            transport: Transport::Udp,
            remote,
            local: addr("127.0.0.1:5060"),
            flow: None,
        };
        self.input(Input::Datagram {
            source,
            bytes: Bytes::copy_from_slice(bytes),
        });
    }

    fn input(&mut self, input: Input) {
        self.ep.handle_input(self.now.instant(), input);
        self.drain();
    }

    /// Pick one of the open flows.
    fn flow(&self, pick: Option<&u8>) -> Option<FlowId> {
        let n = self.open.len();
        (n > 0).then(|| self.open[usize::from(*pick.unwrap_or(&0)) % n])
    }

    fn step(&mut self, op: u8, payload: &[u8]) {
        match op % 8 {
            0 => self.datagram(addr("198.51.100.10:5060"), payload),
            1 => self.datagram(addr("203.0.113.9:40000"), payload),
            2 if self.open.len() < MAX_FLOWS => {
                let flow = FlowId(self.next_flow);
                self.next_flow += 1;
                self.open.push(flow);
                self.input(Input::FlowOpened {
                    flow,
                    transport: Transport::Tcp,
                    local: addr("127.0.0.1:5060"),
                    remote: SocketAddr::new(addr("198.51.100.20:0").ip(), 40000u16.wrapping_add(flow.0 as u16)),
                });
                let bytes = Bytes::copy_from_slice(payload);
                self.input(Input::StreamData { flow, bytes });
            }
            3 => {
                if let Some(flow) = self.flow(payload.first()) {
                    let bytes = Bytes::copy_from_slice(payload.get(1..).unwrap_or_default());
                    self.input(Input::StreamData { flow, bytes });
                }
            }
            4 => {
                if let Some(flow) = self.flow(payload.first()) {
                    self.open.retain(|f| *f != flow);
                    self.input(Input::FlowClosed { flow });
                }
            }
            5 => {
                let mut ms = [0u8; 4];
                for (d, s) in ms.iter_mut().zip(payload) {
                    *d = *s;
                }
                self.advance(Duration::from_millis(u64::from(u32::from_le_bytes(ms))));
            }
            6 => self.complete(payload),
            7 => {
                if let Some(next) = self.deadline() {
                    let by = next.saturating_duration_since(self.now.instant());
                    self.advance(by);
                }
            }
            _ => {}
        }
    }

    fn deadline(&self) -> Option<Instant> {
        [self.ep.poll_timeout(), self.service.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Moves the clock and handles every deadline that passed.
    fn advance(&mut self, by: Duration) {
        self.now = self.now.advance(by);
        let at = self.now.instant();
        // Each round handles what is due; new deadlines may be due at once.
        for _ in 0..64 {
            if self.deadline().is_none_or(|d| d > at) {
                return;
            }
            if self.ep.poll_timeout().is_some_and(|t| t <= at) {
                self.ep.handle_timeout(at);
            }
            if self.service.poll_timeout().is_some_and(|t| t <= at) {
                self.service.handle_timeout(self.now, &mut self.ep);
            }
            self.drain();
        }
    }

    /// Answers every held effect; bit i of `pattern` set: effect i fails.
    fn complete(&mut self, pattern: &[u8]) {
        let mut i = 0usize;
        while let Some(effect) = self.held.pop_front() {
            let fail = pattern
                .get(i / 8)
                .is_some_and(|b| b & (1 << (i % 8)) != 0);
            i += 1;
            let completion = answer(effect, fail);
            self.service
                .handle_completion(self.now, &mut self.ep, completion);
            self.drain();
        }
    }

    fn drain(&mut self) {
        loop {
            while let Some(t) = self.ep.poll_transmit() {
                let to_checker = matches!(
                    t.destination,
                    switchboard_core::Destination::Address { remote, .. } if remote == checker()
                );
                if to_checker {
                    if let Ok(m) = Message::parse_datagram(t.bytes) {
                        self.answers.push(m);
                    }
                }
            }
            while self.ep.poll_close().is_some() {}
            let mut moved = false;
            while let Some(event) = self.ep.poll_event() {
                self.service.handle_event(self.now, &mut self.ep, event);
                moved = true;
            }
            while let Some(effect) = self.service.poll_effect() {
                self.held.push_back(effect);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }
}

/// The runtime's answer to an effect.
fn answer(effect: Effect, fail: bool) -> Completion {
    let error = || -> Box<dyn std::error::Error + Send + Sync> { "down".into() };
    match effect {
        Effect::Store { id, .. } => Completion::Stored {
            id,
            result: if fail { Err(error()) } else { Ok(()) },
        },
        Effect::LookupUser { id, name, domain } => Completion::User {
            id,
            result: if fail {
                Err(error())
            } else {
                Ok((name == "bob").then(|| Ha1Set::from_password(&name, &domain, "pw")))
            },
        },
        Effect::CheckUsers { .. } => Completion::Users(if fail { Err(error()) } else { Ok(None) }),
        Effect::Resolve { id, .. } => Completion::Resolved {
            id,
            hops: if fail {
                Vec::new()
            } else {
                vec![NextHop::address(Transport::Udp, addr("192.0.2.99:5060"))]
            },
        },
        other => panic!("unknown effect {other:?}"),
    }
}

/// The phone that checks the server still answers.
fn checker() -> SocketAddr {
    addr("192.0.2.200:5060")
}

/// Splits at each `00 ff`: the first chunk, then (op, payload) pairs.
fn steps(data: &[u8]) -> (&[u8], Vec<(u8, &[u8])>) {
    let mut chunks = Vec::new();
    let mut rest = data;
    let mut first = None;
    loop {
        let at = rest.windows(2).position(|w| w == SEPARATOR);
        let (chunk, next) = match at {
            Some(i) => (&rest[..i], Some(&rest[i + 2..])),
            None => (rest, None),
        };
        match first {
            None => first = Some(chunk),
            Some(_) => {
                if let Some((op, payload)) = chunk.split_first() {
                    chunks.push((*op, payload));
                }
            }
        }
        match next {
            Some(n) => rest = n,
            None => return (first.unwrap_or_default(), chunks),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut m = Machine::new();
    let (first, rest) = steps(data);
    if !first.is_empty() {
        m.datagram(addr("198.51.100.10:5060"), first);
    }
    for (op, payload) in rest {
        m.step(op, payload);
    }
    // The runtime answers what it still holds; then the server must still
    // serve.
    m.complete(&[]);
    // A branch the input cannot have guessed (a hash of the input), so the
    // check is never taken for a retransmission of something it sent.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hasher::write(&mut hasher, data);
    let branch = format!("z9hG4bK-check-{:016x}", std::hash::Hasher::finish(&hasher));
    let options = RequestBuilder::new(Method::Options, "sip:127.0.0.1:5060")
        .header(
            switchboard_proto::HeaderName::Via,
            format!("SIP/2.0/UDP 192.0.2.200:5060;branch={branch};rport"),
        )
        .from("<sip:checker@other.org>", "c1")
        .to("<sip:127.0.0.1:5060>", None)
        .call_id("fuzz-check")
        .cseq(1)
        .build()
        .expect("a valid OPTIONS");
    m.datagram(checker(), &options.to_bytes());
    let answered = m.answers.iter().any(|msg| match msg {
        Message::Response(r) => r.status() == StatusCode::OK,
        Message::Request(_) => false,
    });
    assert!(answered, "OPTIONS not answered 200: {:?}", m.answers);
});
