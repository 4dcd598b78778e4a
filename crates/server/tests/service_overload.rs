//! The overload gate of the whole server on a virtual clock, fed the
//! runtime's measures (the driver's timer lag, the store's commit
//! latency, the datagrams a read pass found waiting): new work gets 503 with Retry-After before any challenge or
//! store write, what was accepted goes on, the refusals are counted, and
//! new work is served again once the measures come back down or stop.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Server, answer, one_sent};
use switchboard_proto::{HeaderName, Method, Response, StatusCode};
use switchboard_server::protect::{LoadSignal, Watermarks};
use switchboard_server::service::Effect;

/// Reports `signal` `times` times, 10 ms apart.
fn report(h: &mut Server, signal: LoadSignal, times: usize) {
    for _ in 0..times {
        h.command(|service, now, _| service.observe_load(now, signal));
        h.jump(Duration::from_millis(10));
    }
}

/// alice calls bob, bob answers, alice ACKs: the 200 alice got.
fn answered_call(h: &mut Server, alice: &mut Phone, bob: &Phone) -> Response {
    let password = h.password(alice);
    h.authenticate(alice, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
    });
    let (_, invite) = one_sent(h, Method::Invite);
    h.respond(bob, &invite, 200);
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(alice, ack);
    one_sent(h, Method::Ack);
    ok
}

fn stores(h: &Server) -> usize {
    h.count(|e| matches!(e, Effect::Store { .. }))
}

#[test]
fn a_lagging_driver_refuses_new_work_and_keeps_the_calls_it_accepted() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let ok = answered_call(&mut h, &mut alice, &bob);
    let stored = stores(&h);

    // One late wake-up (a busy host) is not overload.
    report(&mut h, LoadSignal::TimerLag(Duration::from_millis(300)), 1);
    let mut carol = Phone::new("carol", "198.51.100.30:5060");
    let challenged = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);

    // A run of them is: a new REGISTER and a new INVITE get 503 with
    // Retry-After, before any challenge and without a store write.
    report(&mut h, LoadSignal::TimerLag(Duration::from_millis(300)), 8);
    let refused = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().get(HeaderName::RetryAfter).is_some());
    let mut dave = Phone::new("dave", "198.51.100.40:5060");
    let refused = h.ask(&mut dave, Method::Invite, "sip:bob@example.com");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stores(&h), stored);
    assert!(h.service.overload_state().timer_lag);
    assert_eq!(h.service.metrics().refused_overload, 2);

    // The call it accepted goes on: INFO and BYE are relayed to bob.
    let info = alice.in_dialog(Method::Info, &ok).build().unwrap();
    h.send(&alice, info);
    one_sent(&mut h, Method::Info);
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    one_sent(&mut h, Method::Bye);

    // Between the marks it stays closed; under the low mark it opens.
    report(&mut h, LoadSignal::TimerLag(Duration::from_millis(60)), 3);
    assert!(h.service.overload_state().timer_lag);
    report(&mut h, LoadSignal::TimerLag(Duration::ZERO), 12);
    assert!(!h.service.overload_state().is_closed());
    let challenged = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.service.metrics().refused_overload, 2);
}

#[test]
fn a_slow_store_refuses_new_registrations_until_its_commits_stop_being_reported() {
    let (mut h, _, _) = Server::with_bob();
    report(&mut h, LoadSignal::CommitLatency(Duration::from_secs(2)), 4);
    let mut carol = Phone::new("carol", "198.51.100.30:5060");
    let refused = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(h.service.overload_state().commit_latency);

    // Refusing registrations stops the commits: their latency is not
    // reported any more, and a second later the gate has forgotten it.
    h.jump(Duration::from_secs(1));
    let challenged = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);
    assert!(!h.service.overload_state().is_closed());
}

#[test]
fn the_answer_to_a_challenge_finishes_while_new_flows_are_refused() {
    let (mut h, _, _) = Server::with_bob();
    let mut carol = Phone::new("carol", "198.51.100.30:5060");
    let password = h.password(&carol);
    let first = carol.register(600).build().unwrap();
    h.send(&carol, first.clone());
    let challenge = h.final_response(&carol);
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);

    // The driver falls behind between the challenge and its answer.
    report(&mut h, LoadSignal::TimerLag(Duration::from_millis(400)), 6);
    let mut dave = Phone::new("dave", "198.51.100.40:5060");
    let refused = h.ask(&mut dave, Method::Register, "sip:example.com");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);

    // carol's answer is the costly half of work already begun: it is
    // checked and stored, not thrown away.
    let (name, value) = answer(
        &challenge,
        ("carol", &password),
        first.method(),
        first.uri_str(),
        1,
    );
    let second = carol.register(600).header(name, value).build().unwrap();
    h.send(&carol, second);
    assert_eq!(h.final_response(&carol).status(), StatusCode::OK);
    assert_eq!(h.service.metrics().refused_overload, 1);
}

#[test]
fn full_read_passes_refuse_new_work_and_a_refused_invite_keeps_only_its_transaction() {
    // The read backlog followed as `max_read_backlog = 2000` sets it.
    let mut h = Server::with(|c| {
        c.protect.overload.read_backlog = Some(Watermarks {
            high: 2_000,
            low: 800,
        });
    });
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    // Read passes that empty the socket keep up with the input, and a
    // burst the driver catches up with in a few full passes is not
    // overload.
    report(&mut h, LoadSignal::ReadBacklog(40), 20);
    for run in [256, 512, 768, 1024, 40] {
        report(&mut h, LoadSignal::ReadBacklog(run), 1);
    }
    assert!(!h.service.overload_state().is_closed());
    let mut carol = Phone::new("carol", "198.51.100.30:5060");
    let challenged = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);

    // A long run of full passes (256 more each, the socket never emptied)
    // is: the gate closes before the socket overflows.
    for passes in 1..=12 {
        report(&mut h, LoadSignal::ReadBacklog(256 * passes), 1);
    }
    assert!(h.service.overload_state().read_backlog);
    let refused = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);

    // A refused INVITE costs its transaction and nothing else: no call,
    // no proxy context; the transaction keeps the 503 for the ACK (which
    // the phone sent), then ends after Timer I.
    let transactions = h.ep.transaction_count();
    let mut dave = Phone::new("dave", "198.51.100.40:5060");
    let refused = h.ask(&mut dave, Method::Invite, "sip:bob@example.com");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().get(HeaderName::RetryAfter).is_some());
    let metrics = h.service.metrics();
    assert_eq!((metrics.calls, metrics.proxy_contexts), (0, 0));
    assert_eq!(metrics.refused_overload, 2);
    assert_eq!(h.ep.transaction_count(), transactions + 1);

    // Passes that empty the socket again open it (inside the signal's
    // window: not forgotten, measured).
    report(&mut h, LoadSignal::ReadBacklog(30), 8);
    assert!(!h.service.overload_state().is_closed());

    h.run_for(Duration::from_secs(6));
    assert!(h.take(&dave).is_empty(), "the 503 was not sent again");
    assert_eq!(h.ep.transaction_count(), transactions);
    let challenged = h.ask(&mut carol, Method::Register, "sip:example.com");
    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);
}
