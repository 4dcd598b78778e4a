// Tests may unwrap and index: a panic is a failed test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::{Destination, Event, Input, Transport};
use switchboard_proto::{Method, Request, RequestBuilder, ResponseBuilder, StatusCode};

use crate::{Fate, LinkConfig, NetEvent, Network, NodeId, NodeSpec, Rule};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn options(n: u32) -> Request {
    RequestBuilder::new(Method::Options, "sip:bob@192.0.2.2")
        .from("<sip:alice@192.0.2.1>", "a1")
        .to("<sip:bob@192.0.2.2>", None)
        .call_id(&format!("call-{n}"))
        .cseq(n)
        .build()
        .unwrap()
}

fn pair(seed: u64, transports: &[Transport]) -> (Network, NodeId, NodeId) {
    let mut net = Network::new(seed);
    let a = net.add_node(
        NodeSpec::new("alice", addr("192.0.2.1:5060")).transports(transports.iter().copied()),
    );
    let b = net.add_node(
        NodeSpec::new("bob", addr("192.0.2.2:5060")).transports(transports.iter().copied()),
    );
    (net, a, b)
}

fn to(net: &Network, node: NodeId, transport: Transport) -> Destination {
    Destination::Address {
        transport,
        remote: net.address(node),
    }
}

/// Answers every request on `server` with 200 until `limit`; returns the
/// events of the other nodes.
fn serve(net: &mut Network, server: NodeId, limit: Duration) -> Vec<NetEvent> {
    let mut others = Vec::new();
    while let Some(e) = net.next_event(limit) {
        match e {
            NetEvent::Endpoint {
                node,
                event: Event::Request { tx, request, .. },
                ..
            } if node == server => {
                let ok = ResponseBuilder::from_request(&request, StatusCode::OK)
                    .to_tag("b1")
                    .build()
                    .unwrap();
                net.respond(server, tx, ok).unwrap();
            }
            e if e.node() != server => others.push(e),
            _ => {}
        }
    }
    others
}

fn responses(events: &[NetEvent]) -> Vec<(Duration, u16)> {
    events
        .iter()
        .filter_map(|e| match e {
            NetEvent::Endpoint {
                time,
                event: Event::Response { response, .. },
                ..
            } => Some((*time, response.status().as_u16())),
            _ => None,
        })
        .collect()
}

#[test]
fn udp_round_trip_takes_two_latencies() {
    let (mut net, a, b) = pair(1, &[Transport::Udp]);
    net.set_links(a, b, LinkConfig::new(25 * MS));
    let dest = to(&net, b, Transport::Udp);
    net.send_request(a, options(1), dest).unwrap();
    let events = serve(&mut net, b, 100 * MS);
    assert_eq!(responses(&events), [(50 * MS, 200)]);
    let cap = net.capture();
    assert_eq!(cap.len(), 2);
    assert_eq!(cap[0].first_line, "OPTIONS sip:bob@192.0.2.2 SIP/2.0");
    assert_eq!((cap[0].from, cap[0].to), (a, Some(b)));
    assert_eq!(cap[0].arrival, Some(25 * MS));
    assert_eq!(cap[1].first_line, "SIP/2.0 200 OK");
    assert!(cap[1].is_response_to(200, &Method::Options));
    assert_eq!(cap[1].sent, 25 * MS);
    assert_eq!(net.elapsed(), 100 * MS);
    // Timers K (5 s) and J (32 s) end both transactions.
    net.run_until(40 * S);
    assert_eq!(net.transaction_count(), 0);
    assert!(!net.step(), "idle");
}

fn lossy_run(seed: u64) -> Vec<(Duration, String, Fate)> {
    let (mut net, a, b) = pair(seed, &[Transport::Udp]);
    net.set_default_link(
        LinkConfig::new(20 * MS)
            .with_jitter(10 * MS)
            .with_loss(0.3)
            .with_duplication(0.1)
            .with_reordering(0.1, 50 * MS),
    );
    for n in 1..=20 {
        let dest = to(&net, b, Transport::Udp);
        net.send_request(a, options(n), dest).unwrap();
    }
    serve(&mut net, b, 60 * S);
    assert_eq!(net.transaction_count(), 0);
    net.capture()
        .iter()
        .map(|p| (p.sent, p.first_line.clone(), p.fate))
        .collect()
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let first = lossy_run(42);
    assert_eq!(first, lossy_run(42));
    assert_ne!(first, lossy_run(43));
}

#[test]
fn loss_rate_is_about_what_was_asked() {
    let (mut net, a, b) = pair(5, &[Transport::Udp]);
    net.set_link(a, b, LinkConfig::default().with_loss(0.3));
    for n in 1..=1000 {
        let dest = to(&net, b, Transport::Udp);
        net.send_request(a, options(n), dest).unwrap();
    }
    let lost = net
        .capture()
        .iter()
        .filter(|p| p.fate == Fate::Lost)
        .count();
    assert!((240..=360).contains(&lost), "{lost} of 1000 lost");
}

#[test]
fn duplicates_are_captured_and_absorbed() {
    let (mut net, a, b) = pair(9, &[Transport::Udp]);
    net.set_link(a, b, LinkConfig::default().with_duplication(1.0));
    let dest = to(&net, b, Transport::Udp);
    net.send_request(a, options(1), dest).unwrap();
    let events = serve(&mut net, b, S);
    assert_eq!(responses(&events), [(20 * MS, 200)]);
    let copies: Vec<_> = net.capture().iter().filter(|p| !p.is_original()).collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].duplicate_of, Some(0));
    assert_eq!(net.sent(|p| p.is_request(&Method::Options)).len(), 1);
    assert_eq!(net.endpoint(b).stats().retransmissions, 1);
}

#[test]
fn a_delayed_packet_is_overtaken() {
    let (mut net, a, b) = pair(3, &[Transport::Udp]);
    let rule = net.delay_nth(1, 100 * MS, |p| p.is_request(&Method::Options));
    for n in 1..=2 {
        let dest = to(&net, b, Transport::Udp);
        net.send_request(a, options(n), dest).unwrap();
    }
    let mut order = Vec::new();
    while let Some(e) = net.next_event(400 * MS) {
        if let NetEvent::Endpoint {
            time,
            event: Event::Request { request, .. },
            ..
        } = e
        {
            order.push((time, request.headers().cseq().unwrap().seq));
        }
    }
    assert_eq!(order, [(10 * MS, 2), (110 * MS, 1)]);
    assert_eq!(net.rule_hits(rule), 1);
    assert_eq!(net.rule_matches(rule), 2);
}

#[test]
fn rules_pick_the_nth_and_count_independently() {
    let (mut net, a, b) = pair(3, &[Transport::Udp]);
    // Drop the 2nd and 3rd OPTIONS sent; a second rule on the same packets
    // counts them too but acts only on the 4th.
    let r1 = net.add_rule(
        Rule::drop(|p| p.is_request(&Method::Options))
            .nth(2)
            .times(2),
    );
    let r2 = net.add_rule(
        Rule::drop(|p| p.is_request(&Method::Options))
            .nth(3)
            .times(2),
    );
    for n in 1..=5 {
        let dest = to(&net, b, Transport::Udp);
        net.send_request(a, options(n), dest).unwrap();
    }
    let fates: Vec<Fate> = net.capture().iter().map(|p| p.fate).collect();
    assert_eq!(
        fates,
        [
            Fate::Delivered,
            Fate::Dropped(r1),
            Fate::Dropped(r1),
            Fate::Dropped(r2),
            Fate::Delivered
        ]
    );
    assert_eq!((net.rule_hits(r1), net.rule_hits(r2)), (2, 1));
}

#[test]
fn unroutable_packets_are_captured() {
    let (mut net, a, b) = pair(3, &[Transport::Udp]);
    let nowhere = Destination::Address {
        transport: Transport::Udp,
        remote: addr("192.0.2.99:5060"),
    };
    net.send_request(a, options(1), nowhere).unwrap();
    // Bob takes no TCP.
    let tcp = to(&net, b, Transport::Tcp);
    net.send_request(a, options(2), tcp).unwrap();
    let fates: Vec<Fate> = net.capture().iter().map(|p| p.fate).collect();
    assert_eq!(fates, [Fate::Unroutable, Fate::Unroutable]);
    assert!(net.dump().contains("Unroutable"));
}

#[test]
fn tcp_opens_a_connection_delivers_in_order_and_answers_on_it() {
    let (mut net, a, b) = pair(3, &[Transport::Udp, Transport::Tcp]);
    // Jitter larger than the gap between messages must not reorder a stream,
    // and small segments exercise the framer.
    net.set_default_link(
        LinkConfig::new(10 * MS)
            .with_jitter(30 * MS)
            .with_segments(7),
    );
    for n in 1..=5 {
        let dest = to(&net, b, Transport::Tcp);
        net.send_request(a, options(n), dest).unwrap();
    }
    assert_eq!(net.flows(a).len(), 1);
    assert!(
        net.flows(b).is_empty(),
        "bob learns of it with the first bytes"
    );
    let mut seqs = Vec::new();
    let mut oks = 0;
    while let Some(e) = net.next_event(40 * S) {
        match e {
            NetEvent::Endpoint {
                node,
                event:
                    Event::Request {
                        tx,
                        request,
                        source,
                    },
                ..
            } => {
                assert_eq!(node, b);
                assert_eq!(source.transport, Transport::Tcp);
                assert!(source.flow.is_some());
                seqs.push(request.headers().cseq().unwrap().seq);
                let ok = ResponseBuilder::from_request(&request, StatusCode::OK)
                    .build()
                    .unwrap();
                net.respond(b, tx, ok).unwrap();
            }
            NetEvent::Endpoint {
                event: Event::Response { .. },
                ..
            } => oks += 1,
            _ => {}
        }
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(oks, 5);
    let arrivals: Vec<_> = net
        .sent(|p| p.is_request(&Method::Options))
        .iter()
        .map(|p| p.arrival.unwrap())
        .collect();
    assert!(arrivals.windows(2).all(|w| w[0] <= w[1]), "{arrivals:?}");
    // No retransmissions over TCP, and the answers went down the same
    // connection.
    assert_eq!(net.capture().len(), 10);
    assert_eq!(net.flows(b).len(), 1);
    assert_eq!(net.transaction_count(), 0);
}

#[test]
fn breaking_a_connection_fails_transactions_on_it() {
    let (mut net, a, b) = pair(3, &[Transport::Tcp]);
    let dest = to(&net, b, Transport::Tcp);
    // Bob never answers. The first request opens the connection, the second
    // is sent down it.
    net.send_request(a, options(1), dest).unwrap();
    let (flow, transport, peer) = net.flows(a)[0];
    assert_eq!((transport, peer), (Transport::Tcp, net.address(b)));
    let tx = net
        .send_request(a, options(2), Destination::Flow(flow))
        .unwrap();
    net.run_for(S);
    assert_eq!(net.endpoint(b).transaction_count(), 2);
    net.close_flow(a, flow);
    assert!(net.flows(a).is_empty() && net.flows(b).is_empty());
    let events = net.take_events();
    assert!(
        events.iter().any(|e| matches!(e,
            NetEvent::Endpoint { event: Event::TransportError { tx: t }, .. } if *t == tx)),
        "{events:?}"
    );
    // Bob's server transactions live on: their answers will go over a new
    // connection to the received address and sent-by port (§18.2.2).
    assert_eq!(net.endpoint(b).transaction_count(), 2);
}

#[test]
fn websocket_messages_arrive_whole_with_the_flow() {
    let (mut net, a, b) = pair(3, &[Transport::Ws]);
    let dest = to(&net, b, Transport::Ws);
    net.send_request(a, options(1), dest).unwrap();
    let events = serve(&mut net, b, S);
    assert_eq!(responses(&events), [(20 * MS, 200)]);
}

#[test]
fn inject_feeds_a_node_from_anywhere() {
    let (mut net, _, b) = pair(3, &[Transport::Udp]);
    net.inject(
        b,
        Transport::Udp,
        addr("198.51.100.7:5060"),
        "garbage\r\n\r\n".into(),
    );
    assert_eq!(net.endpoint(b).stats().malformed, 1);
    let _ = Input::FlowClosed {
        flow: switchboard_core::FlowId(0),
    };
}

#[test]
fn test_timers_fire_in_order_and_can_be_cancelled() {
    let (mut net, a, b) = pair(3, &[Transport::Udp]);
    net.set_timer(a, 300 * MS, 1);
    net.set_timer(b, 100 * MS, 2);
    net.set_timer(a, 200 * MS, 3);
    assert!(net.cancel_timer(a, 3));
    assert!(!net.cancel_timer(a, 3));
    let mut fired = Vec::new();
    while let Some(e) = net.next_event(S) {
        if let NetEvent::Timer { time, node, token } = e {
            fired.push((time, node, token));
        }
    }
    assert_eq!(fired, [(100 * MS, b, 2), (300 * MS, a, 1)]);
    assert_eq!(net.elapsed(), S);
}

#[test]
fn run_while_stops_on_the_condition() {
    let (mut net, a, b) = pair(3, &[Transport::Udp]);
    let dest = to(&net, b, Transport::Udp);
    net.send_request(a, options(1), dest).unwrap();
    assert!(net.run_while(|n| !n.has_events()));
    assert_eq!(net.elapsed(), 10 * MS);
    assert!(
        !net.run_while(|_| true),
        "goes idle once every timer ran out"
    );
}
