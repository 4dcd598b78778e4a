//! Transactions per second through the sans-IO endpoint, no sockets: the
//! cost of parsing, matching, the state machine, printing and timers.
//!
//! `cargo bench -p switchboard-core --bench endpoint`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use switchboard_core::{Config, Destination, Endpoint, Event, Input, Source, Transport};
use switchboard_proto::{ResponseBuilder, StatusCode};

fn endpoint() -> Endpoint {
    let config = Config {
        via_addresses: vec![(Transport::Udp, "127.0.0.1:5060".parse().unwrap())],
        ..Config::default()
    };
    Endpoint::new(config, Box::new(rand::rngs::StdRng::seed_from_u64(1)))
}

fn options(i: u64) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{i:016x};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a{i}\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: bench-{i}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nUser-Agent: bench\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn invite(i: u64) -> Bytes {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n";
    Bytes::from(format!(
        "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{i:016x};rport\r\n\
         Max-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@127.0.0.1>;tag=a{i}\r\nTo: <sip:bob@127.0.0.1>\r\n\
         Call-ID: bench-{i}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5070>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    ))
}

fn source() -> Source {
    let remote: SocketAddr = "127.0.0.1:5070".parse().unwrap();
    Source {
        transport: Transport::Udp,
        remote,
        local: "127.0.0.1:5060".parse().unwrap(),
        flow: None,
    }
}

/// One server transaction: request in, TU answers `code`, response out.
fn serve(ep: &mut Endpoint, now: Instant, bytes: Bytes, code: StatusCode) -> usize {
    ep.handle_input(
        now,
        Input::Datagram {
            source: source(),
            bytes,
        },
    );
    let mut sent = 0;
    while let Some(ev) = ep.poll_event() {
        if let Event::Request { tx, request, .. } = ev {
            let resp = ResponseBuilder::from_request(&request, code)
                .to_tag("b")
                .build()
                .unwrap();
            ep.respond(now, tx, resp).unwrap();
        }
    }
    while let Some(t) = ep.poll_transmit() {
        sent += t.bytes.len();
    }
    sent
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("endpoint");
    g.throughput(Throughput::Elements(1));
    for (name, make, code) in [
        ("options_200", options as fn(u64) -> Bytes, StatusCode::OK),
        (
            "invite_486",
            invite as fn(u64) -> Bytes,
            StatusCode::BUSY_HERE,
        ),
    ] {
        g.bench_function(format!("server/{name}"), |b| {
            let mut ep = endpoint();
            let start = Instant::now();
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                // Advance virtual time so transactions expire and the table
                // stays at a steady size (64*T1 = 32 s at 10 µs per request).
                let now = start + Duration::from_micros(10 * i);
                ep.handle_timeout(now);
                while ep.poll_event().is_some() {}
                serve(&mut ep, now, make(i), code)
            });
        });
    }
    // An INVITE client also keeps what its CANCEL and ACK need.
    for (name, method) in [
        ("client/options_200", switchboard_proto::Method::Options),
        ("client/invite_200", switchboard_proto::Method::Invite),
    ] {
        g.bench_function(name, |b| {
            let mut client = endpoint();
            let start = Instant::now();
            let request =
                switchboard_proto::RequestBuilder::new(method.clone(), "sip:bob@127.0.0.1:5070")
                    .from("<sip:alice@127.0.0.1>", "a")
                    .to("<sip:bob@127.0.0.1>", None)
                    .call_id("c")
                    .cseq(1)
                    .build()
                    .unwrap();
            let dest = Destination::Address {
                transport: Transport::Udp,
                remote: "127.0.0.1:5070".parse().unwrap(),
            };
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let now = start + Duration::from_micros(10 * i);
                client.handle_timeout(now);
                let tx = client.send_request(now, request.clone(), dest).unwrap();
                let sent = client.poll_transmit().unwrap();
                let req = switchboard_proto::Message::parse_datagram(sent.bytes).unwrap();
                let resp = ResponseBuilder::from_request(req.as_request().unwrap(), StatusCode::OK)
                    .to_tag("b")
                    .build()
                    .unwrap();
                client.handle_input(
                    now,
                    Input::Datagram {
                        source: source(),
                        bytes: resp.to_bytes(),
                    },
                );
                let mut got = false;
                while let Some(ev) = client.poll_event() {
                    got |= matches!(ev, Event::Response { tx: t, .. } if t == tx);
                }
                assert!(got);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
