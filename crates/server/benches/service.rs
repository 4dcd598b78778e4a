//! The whole server on the driver thread's side, without sockets: a
//! [`Service`] on an [`Endpoint`] driven on a virtual clock, its store
//! effects answered at once (issue 15, CPU per request). One iteration is
//! what a load generator makes the server do:
//!
//! - `service/register`: a REGISTER, its 401, the REGISTER with
//!   credentials and its 200 (a binding refreshed), for 1,000 users in turn;
//! - `service/call`: an INVITE, its 407 and ACK, the INVITE with
//!   credentials forwarded to a registered callee who answers 180 and 200,
//!   the ACK, then a BYE and its 200, each through the proxy.
//!
//! The phones' side (the request text, the digest answer, finding a value
//! in what the server sent) is plain string work, the same in every run.
//!
//! Run with `cargo bench -p switchboard-server --bench service`.
// A benchmark is not peer-facing code: a server that does not answer as
// expected is a broken benchmark, stopped loudly rather than timed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, criterion_group};
use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Config, Destination, Endpoint, Input, Now, Source, Transport};
use switchboard_proto::digest::{self, Algorithm, DigestChallenge, RequestInfo};
use switchboard_server::proxy::Listener;
use switchboard_server::service::{Completion, Effect, UserDelta, UserDirectory};
use switchboard_server::{
    AuthConfig, AuthSecret, ProtectConfig, ProxyConfig, RegistrarConfig, Service, ServiceConfig,
    User,
};

const DOMAIN: &str = "example.com";
const SERVER: &str = "127.0.0.1:5060";
const USERS: usize = 1_000;
/// Virtual time between two registrations and between two calls:
/// transactions end and nonces age as they would at 1,000 registrations/s
/// and 200 calls/s (the limits on transactions in flight stay far).
const REGISTER_STEP: Duration = Duration::from_millis(1);
const CALL_STEP: Duration = Duration::from_millis(5);

fn name(i: usize) -> String {
    format!("u{i:04}")
}

fn password(i: usize) -> String {
    format!("pw-{i}")
}

/// Each user's phone has an address of its own.
fn phone_addr(i: usize) -> SocketAddr {
    SocketAddr::from(([198, 51, (100 + i / 250) as u8, (i % 250) as u8 + 1], 5060))
}

/// The server and the runtime's part, played in memory.
struct Bench {
    ep: Endpoint,
    service: Service,
    now: Now,
    sent: Vec<(Destination, Bytes)>,
    /// Makes every branch, tag and Call-ID of the phones unique.
    counter: u64,
}

impl Bench {
    fn new() -> Self {
        let server: SocketAddr = SERVER.parse().unwrap();
        let listeners = vec![Listener::new(Transport::Udp, server)];
        let mut protect = ProtectConfig::default();
        // One load generator sends everything: no per-source limit.
        protect.rate.enabled = false;
        let config = ServiceConfig::new(
            RegistrarConfig::for_domain(DOMAIN),
            AuthConfig::default(),
            protect,
            ProxyConfig::new(listeners, vec![DOMAIN.to_owned()]),
        );
        let now = Now::new(Instant::now(), Duration::from_secs(1_700_000_000));
        let mut seed = 10;
        let mut service = Service::new(
            config,
            AuthSecret::from_bytes([5; 32]),
            || {
                seed += 1;
                Box::new(StdRng::seed_from_u64(seed))
            },
            now,
        );
        let users =
            (0..USERS).map(|i| User::with_password(&name(i), DOMAIN, &password(i), 1_700_000_000));
        service.set_user_directory(UserDirectory::from_users(1, users));
        let ep_config = Config {
            via_addresses: vec![(Transport::Udp, server)],
            ..Config::default()
        };
        Self {
            ep: Endpoint::new(ep_config, Box::new(StdRng::seed_from_u64(1))),
            service,
            now,
            sent: Vec::new(),
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Moves the clock by `step` and handles what is due.
    fn tick(&mut self, step: Duration) {
        self.now = self.now.advance(step);
        let at = self.now.instant();
        if self.ep.poll_timeout().is_some_and(|t| t <= at) {
            self.ep.handle_timeout(at);
        }
        if self.service.poll_timeout().is_some_and(|t| t <= at) {
            self.service.handle_timeout(self.now, &mut self.ep);
        }
        self.drain();
        self.sent.clear();
    }

    /// A datagram from `from`, then everything that follows from it.
    fn send(&mut self, from: SocketAddr, text: String) {
        let input = Input::Datagram {
            source: Source {
                transport: Transport::Udp,
                remote: from,
                local: SERVER.parse().unwrap(),
                flow: None,
            },
            bytes: Bytes::from(text),
        };
        self.ep.handle_input(self.now.instant(), input);
        self.drain();
    }

    /// The drain after every input; store writes succeed at once.
    fn drain(&mut self) {
        loop {
            while let Some(t) = self.ep.poll_transmit() {
                self.sent.push((t.destination, t.bytes));
            }
            while self.ep.poll_close().is_some() {}
            let mut moved = false;
            while let Some(event) = self.ep.poll_event() {
                self.service.handle_event(self.now, &mut self.ep, event);
                moved = true;
            }
            while let Some(effect) = self.service.poll_effect() {
                moved = true;
                let completion = match effect {
                    Effect::Store { id, .. } | Effect::Save { id, .. } => {
                        Completion::Stored { id, result: Ok(()) }
                    }
                    // The users never change here.
                    Effect::CheckUsers { version } => Completion::UserChanges(Ok(UserDelta {
                        since: version,
                        version,
                        changes: Vec::new(),
                    })),
                    other => panic!("an effect the bench does not answer: {other:?}"),
                };
                self.service
                    .handle_completion(self.now, &mut self.ep, completion);
            }
            if !moved {
                return;
            }
        }
    }

    /// The one message sent to `to` since the last call, as text.
    fn take(&mut self, to: SocketAddr) -> String {
        let at = self
            .sent
            .iter()
            .position(|(d, _)| matches!(d, Destination::Address { remote, .. } if *remote == to))
            .unwrap_or_else(|| panic!("nothing sent to {to}: {:?}", self.sent));
        let (_, bytes) = self.sent.remove(at);
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The message sent to `to`, which must start with `start`.
    fn expect(&mut self, to: SocketAddr, start: &str) -> String {
        let text = self.take(to);
        assert!(text.starts_with(start), "expected {start:?}, got {text}");
        text
    }

    /// One registration of user `i`: REGISTER, 401, REGISTER with
    /// credentials, 200.
    fn register(&mut self, i: usize) {
        let n = self.next();
        let (user, from) = (name(i), phone_addr(i));
        let request = |branch: u64, cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {from};branch=z9hG4bK-{branch};rport\r\n\
                 Max-Forwards: 70\r\n\
                 From: <sip:{user}@{DOMAIN}>;tag={user}-tag\r\n\
                 To: <sip:{user}@{DOMAIN}>\r\n\
                 Call-ID: {user}-reg-{n}\r\n\
                 CSeq: {cseq} REGISTER\r\n\
                 Contact: <sip:{user}@{from}>\r\n\
                 Expires: 3600\r\n\
                 User-Agent: bench\r\n\
                 {auth}Content-Length: 0\r\n\r\n"
            )
        };
        self.send(from, request(2 * n, 1, ""));
        let challenge = self.expect(from, "SIP/2.0 401 ");
        let auth = authorization(
            &challenge,
            "WWW-Authenticate",
            "Authorization",
            i,
            "REGISTER",
            &format!("sip:{DOMAIN}"),
        );
        self.send(from, request(2 * n + 1, 2, &auth));
        self.expect(from, "SIP/2.0 200 ");
    }

    /// One call from user 0 to user 1 (registered), answered and hung up
    /// by the caller.
    fn call(&mut self) {
        let n = self.next();
        let (caller, callee) = (phone_addr(0), phone_addr(1));
        let (from_user, to_user) = (name(0), name(1));
        let uri = format!("sip:{to_user}@{DOMAIN}");
        let invite = |branch: &str, cseq: u32, auth: &str| {
            format!(
                "INVITE {uri} SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {caller};branch={branch};rport\r\n\
                 Max-Forwards: 70\r\n\
                 From: <sip:{from_user}@{DOMAIN}>;tag=c{n}\r\n\
                 To: <{uri}>\r\n\
                 Call-ID: call-{n}\r\n\
                 CSeq: {cseq} INVITE\r\n\
                 Contact: <sip:{from_user}@{caller}>\r\n\
                 User-Agent: bench\r\n\
                 {auth}Content-Length: 0\r\n\r\n"
            )
        };
        // The first INVITE is challenged and the challenge acknowledged.
        let first = format!("z9hG4bK-i{n}");
        self.send(caller, invite(&first, 1, ""));
        let challenge = self.expect(caller, "SIP/2.0 407 ");
        let to = header(&challenge, "To");
        self.send(
            caller,
            format!(
                "ACK {uri} SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {caller};branch={first};rport\r\n\
                 Max-Forwards: 70\r\n\
                 From: <sip:{from_user}@{DOMAIN}>;tag=c{n}\r\n\
                 To: {to}\r\n\
                 Call-ID: call-{n}\r\n\
                 CSeq: 1 ACK\r\n\
                 Content-Length: 0\r\n\r\n"
            ),
        );
        let auth = authorization(
            &challenge,
            "Proxy-Authenticate",
            "Proxy-Authorization",
            0,
            "INVITE",
            &uri,
        );
        self.send(caller, invite(&format!("z9hG4bK-j{n}"), 2, &auth));
        self.expect(caller, "SIP/2.0 100 ");
        let forwarded = self.expect(callee, "INVITE ");
        let contact = format!("<sip:{to_user}@{callee}>");
        self.send(callee, answer(&forwarded, "180 Ringing", n, &contact));
        self.expect(caller, "SIP/2.0 180 ");
        self.send(callee, answer(&forwarded, "200 OK", n, &contact));
        let ok = self.expect(caller, "SIP/2.0 200 ");
        let (to, routes) = (header(&ok, "To"), route_set(&ok));
        let in_dialog = |method: &str, cseq: u32| {
            format!(
                "{method} sip:{to_user}@{callee} SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {caller};branch=z9hG4bK-{method}{n};rport\r\n\
                 Max-Forwards: 70\r\n\
                 {routes}From: <sip:{from_user}@{DOMAIN}>;tag=c{n}\r\n\
                 To: {to}\r\n\
                 Call-ID: call-{n}\r\n\
                 CSeq: {cseq} {method}\r\n\
                 Content-Length: 0\r\n\r\n"
            )
        };
        self.send(caller, in_dialog("ACK", 2));
        self.expect(callee, "ACK ");
        self.send(caller, in_dialog("BYE", 3));
        let bye = self.expect(callee, "BYE ");
        self.send(callee, answer(&bye, "200 OK", n, &contact));
        self.expect(caller, "SIP/2.0 200 ");
    }
}

/// The value of the first header line `name` of `text`.
fn header<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

/// The Route lines an in-dialog request of the caller carries: the
/// Record-Route of the 200 (one proxy, so no reversal to do).
fn route_set(ok: &str) -> String {
    ok.lines()
        .filter_map(|l| l.strip_prefix("Record-Route: "))
        .map(|v| format!("Route: {v}\r\n"))
        .collect()
}

/// The credentials line answering the first challenge of `response` as
/// user `i`.
fn authorization(
    response: &str,
    asked: &str,
    name: &str,
    i: usize,
    method: &str,
    uri: &str,
) -> String {
    let challenge = DigestChallenge::parse(header(response, asked)).unwrap();
    let ha1 = digest::ha1(
        Algorithm::Md5,
        &self::name(i),
        &challenge.realm,
        &password(i),
    );
    let info = RequestInfo::new(method, uri);
    let credentials = challenge
        .respond(&self::name(i), &ha1, &info, "c0ffee", 1)
        .unwrap();
    format!("{name}: {credentials}\r\n")
}

/// The callee's answer to `request` (its Via, Record-Route, From, To with
/// the callee's tag, Call-ID, CSeq), made as text.
fn answer(request: &str, status: &str, n: u64, contact: &str) -> String {
    let mut out = format!("SIP/2.0 {status}\r\n");
    for line in request.lines() {
        let copied = ["Via:", "Record-Route:", "From:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|p| line.starts_with(p));
        if copied {
            out.push_str(line);
            out.push_str("\r\n");
        } else if line.starts_with("To:") {
            out.push_str(line);
            if !line.contains(";tag=") {
                out.push_str(&format!(";tag=e{n}"));
            }
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("Contact: {contact}\r\nContent-Length: 0\r\n\r\n"));
    out
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("service");
    let mut bench = Bench::new();
    let mut i = 0;
    group.bench_function("register", |b| {
        b.iter(|| {
            bench.tick(REGISTER_STEP);
            i = (i + 1) % USERS;
            bench.register(black_box(i));
        });
    });
    let mut bench = Bench::new();
    bench.register(1);
    group.bench_function("call", |b| {
        b.iter(|| {
            bench.tick(CALL_STEP);
            bench.call();
        });
    });
    group.finish();
}

/// `SERVICE_BENCH_COUNT=register:N` (or `call:N`) runs that many
/// iterations and no timing: for counting instructions with
/// `valgrind --tool=callgrind`, which a busy host does not disturb (the
/// difference between two counts takes the set-up out).
fn count(what: &str, n: usize) {
    match what {
        "register" => {
            let mut bench = Bench::new();
            for i in 0..n {
                bench.tick(REGISTER_STEP);
                bench.register(i % USERS);
            }
        }
        "call" => {
            let mut bench = Bench::new();
            bench.register(1);
            for _ in 0..n {
                bench.tick(CALL_STEP);
                bench.call();
            }
        }
        other => panic!("SERVICE_BENCH_COUNT: register:N or call:N, not {other}"),
    }
}

criterion_group!(service, benches);

fn main() {
    if let Ok(spec) = std::env::var("SERVICE_BENCH_COUNT") {
        let (what, n) = spec.split_once(':').expect("register:N or call:N");
        count(what, n.parse().expect("a count"));
        return;
    }
    service();
    Criterion::default().configure_from_args().final_summary();
}
