//! The operators' metrics on the virtual clock: every counter and gauge of
//! `Service::metrics` and the endpoint's message counts moves when the
//! work it counts happens (registrations, calls answered and refused,
//! subscriptions, failed authentications and lockouts, gateways, plans).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::sync::Arc;
use std::time::Duration;

use service_harness::{Phone, Server, answer, trunk};
use switchboard_proto::{HeaderName, Method, ResponseBuilder, StatusCode};
use switchboard_routing::{Plan, ProbeSpec};
use switchboard_server::ServiceMetrics;

#[test]
fn a_registration_and_two_calls_move_the_message_and_call_counts() {
    let mut h = Server::new();
    assert_eq!(h.service.metrics(), ServiceMetrics::default());
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 600);
    let m = h.service.metrics();
    assert_eq!((m.bindings, m.registered_users), (1, 1));
    let messages = h.ep.stats().messages;
    assert_eq!(messages.requests_received.get("REGISTER"), 2);
    assert_eq!(messages.responses_sent.get("4xx"), 1, "the 401");
    assert_eq!(messages.responses_sent.get("2xx"), 1, "the 200");

    // alice calls bob: an attempt, ringing, answered.
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
    });
    let (_, invite) = h.take_requests().remove(0);
    let m = h.service.metrics();
    assert_eq!((m.call_attempts, m.calls, m.proxy_contexts), (1, 1, 1));
    assert_eq!(h.ep.stats().messages.requests_sent.get("INVITE"), 1);
    h.respond(&bob, &invite, 180);
    assert_eq!(h.ep.stats().messages.responses_received.get("1xx"), 1);
    let ok = h.respond(&bob, &invite, 200);
    // The 200 again (bob has not seen the ACK yet): still one answer.
    h.send(&bob, ok);
    let m = h.service.metrics();
    assert_eq!((m.call_answers, m.call_failures), (1, 0));
    assert_eq!(h.ep.stats().messages.responses_received.get("2xx"), 2);
    let _ = h.take(&alice);

    // A second call refused: a failure, the whole call once.
    alice.call_id = "alice-call-2".to_owned();
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
    });
    let (_, invite) = h.take_requests().remove(0);
    h.respond(&bob, &invite, 486);
    let m = h.service.metrics();
    assert_eq!(
        (m.call_attempts, m.call_answers, m.call_failures),
        (2, 1, 1)
    );
    assert_eq!(h.ep.stats().messages.requests_received.get("INVITE"), 4);
    assert_eq!(h.ep.stats().messages.responses_received.get("4xx"), 1);
}

#[test]
fn wrong_passwords_count_as_failures_and_the_lockout_once() {
    let mut h = Server::new();
    let mut attacker = Phone::new("alice", "203.0.113.5:5060");
    for i in 0..30u32 {
        let first = attacker.register(600).build().unwrap();
        h.send(&attacker, first);
        let challenge = h.final_response(&attacker);
        let (name, value) = answer(
            &challenge,
            ("alice", &format!("guess{i}")),
            &Method::Register,
            "sip:example.com",
            1,
        );
        let guess = attacker.register(600).header(name, value).build().unwrap();
        h.send(&attacker, guess);
        assert_eq!(h.status(&attacker), 401);
    }
    let m = h.service.metrics();
    // Challenges without credentials are steps of the protocol, not
    // failures; every guess is one.
    assert_eq!(m.auth_failures, 30);
    assert!(m.lockouts >= 1, "{m:?}");
    let lockouts = m.lockouts;
    // A correct password while locked is refused and counted, and starts
    // no new lockout.
    let password = h.password(&attacker);
    h.authenticate(&mut attacker, &password, |p| p.register(600));
    assert_eq!(h.status(&attacker), 401);
    let m = h.service.metrics();
    assert_eq!((m.auth_failures, m.lockouts), (31, lockouts));
}

#[test]
fn subscriptions_plans_and_gateways_are_counted() {
    let mut h = Server::new();
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Subscribe, "sip:bob@example.com")
            .header(HeaderName::Event, "presence")
            .header(HeaderName::Expires, "600")
    });
    assert_eq!(h.service.metrics().subscriptions, 1);

    // One probed gateway and one never probed.
    let probe = ProbeSpec {
        interval: Duration::from_secs(30),
        up_after: 1,
        down_after: 1,
    };
    let specs = [
        trunk("probed", &["sip:192.0.2.10:5060"], Some(probe)),
        trunk("quiet", &["sip:192.0.2.11:5060"], None),
    ];
    h.command(move |service, now, ep| service.set_trunks(now, ep, &specs));
    let m = h.service.metrics();
    assert_eq!(
        (m.gateways_up, m.gateways_down, m.gateways_unknown),
        (0, 0, 2)
    );
    h.run_for(Duration::from_millis(10));
    let gateway = Phone::new("peer", "192.0.2.10:5060");
    let options = h.request_to(&gateway, Method::Options);
    let ok = ResponseBuilder::from_request(&options, StatusCode::OK)
        .to_tag("gw")
        .build()
        .unwrap();
    h.send(&gateway, ok);
    let m = h.service.metrics();
    assert_eq!(
        (m.gateways_up, m.gateways_down, m.gateways_unknown),
        (1, 0, 1)
    );
    assert_eq!(h.ep.stats().messages.requests_sent.get("OPTIONS"), 1);

    // Last: a new plan takes the trunks above away.
    h.command(|service, _, _| {
        service.set_plan(Arc::new(Plan::default()));
    });
    assert_eq!(h.service.metrics().plan_loads, 1);
}

#[test]
fn each_accepted_register_counts_once_and_a_challenge_does_not() {
    let mut h = Server::new();
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 600);
    // Two REGISTERs went in (the first challenged): one accepted.
    assert_eq!(h.ep.stats().messages.requests_received.get("REGISTER"), 2);
    assert_eq!(h.service.metrics().registrations, 1);
    // A refresh is accepted too.
    h.register(&mut bob, 600);
    assert_eq!(h.service.metrics().registrations, 2);
}
