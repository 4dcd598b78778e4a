//! Calls through the stateful proxy on the virtual clock: a whole call,
//! CANCEL before an answer and racing a 200, Timer C, and the loss of each
//! message of the INVITE exchange.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod proxy_harness;

use std::time::Duration;

use proxy_harness::{MS, Probe, S, Sim, UasPlan};
use switchboard_core::Transport;
use switchboard_proto::{HeaderName, Method};
use switchboard_server::proxy::{NextHop, ProxyConfig, Target, TargetSet};
use switchboard_testkit::Packet;

fn ringing_then_ok() -> UasPlan {
    UasPlan::new(&[(100, 180), (1000, 200)])
}

fn call_bob(sim: &mut Sim) {
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, ringing_then_ok());
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
}

#[test]
fn basic_call_invite_180_200_ack_bye() {
    let mut sim = Sim::new(1);
    call_bob(&mut sim);
    sim.run(60 * S);
    sim.assert_call_completed(sim.bob);
    // Alice saw the proxy's 100 at once, then 180, then 200.
    assert_eq!(sim.call.statuses(), [100, 180, 200]);
    assert!(sim.call.responses[0].0 < 50 * MS, "100 Trying is immediate");
    // One 100 from the proxy to alice: the endpoint's own is not doubled.
    assert_eq!(
        sim.packets(sim.p, sim.alice, |p| p.is_response(100)).len(),
        1
    );
    // Bob's INVITE went through the proxy with its Via and Record-Route,
    // and a Max-Forwards one less.
    let invite = sim.got(sim.bob, &Method::Invite)[0];
    assert_eq!(invite.uri_str(), format!("sip:bob@{}", proxy_harness::BOB));
    assert_eq!(invite.headers().max_forwards(), Some(69));
    let vias: Vec<&str> = invite.headers().values(HeaderName::Via).collect();
    assert_eq!(vias.len(), 2);
    assert!(vias[0].contains("127.0.0.1:5060"), "{vias:?}");
    assert_eq!(
        proxy_harness::values(invite, HeaderName::RecordRoute),
        ["<sip:127.0.0.1:5060;lr>"]
    );
    // The 200 alice got has the proxy's Via removed.
    let ok = sim.call.final_response().unwrap();
    assert_eq!(ok.headers().values(HeaderName::Via).count(), 1);
    // ACK and BYE followed the Record-Route through the proxy.
    assert!(
        !sim.packets(sim.p, sim.bob, |p| p.is_request(&Method::Ack))
            .is_empty()
    );
    assert!(
        !sim.packets(sim.alice, sim.p, |p| p.is_request(&Method::Bye))
            .is_empty()
    );
    assert_eq!(sim.net.transaction_count(), 0);
    assert_eq!(sim.proxy.context_count(), 0);
    // Every endpoint event of the proxy was its own (CANCELs included).
    assert!(sim.leftovers.is_empty(), "{:?}", sim.leftovers);
    assert_eq!(sim.proxy.poll_timeout(), None);
}

/// `pending_count` counts requests still without a final response:
/// answered contexts that linger for their transactions do not count.
#[test]
fn pending_count_drops_at_the_final_response() {
    let mut sim = Sim::new(3);
    call_bob(&mut sim);
    sim.run(150 * MS);
    assert_eq!(sim.call.final_status(), None, "{:?}", sim.call.statuses());
    assert_eq!(sim.proxy.pending_count(), 1);
    sim.run(2 * S);
    assert_eq!(sim.call.final_status(), Some(200));
    assert_eq!(sim.proxy.pending_count(), 0);
    assert!(sim.proxy.context_count() >= 1, "the INVITE context lingers");
    sim.run(60 * S);
    assert_eq!(sim.proxy.context_count(), 0);
    assert_eq!(sim.proxy.pending_count(), 0);
}

#[test]
fn unknown_user_gets_404_and_empty_target_set_480() {
    let mut sim = Sim::new(2);
    sim.locations.insert("nobody".into(), TargetSet::new());
    sim.invite("sip:ghost@example.com");
    sim.run(40 * S);
    assert_eq!(sim.call.final_status(), Some(404));

    let mut sim = Sim::new(2);
    sim.locations.insert("nobody".into(), TargetSet::new());
    sim.invite("sip:nobody@example.com");
    sim.run(40 * S);
    assert_eq!(sim.call.final_status(), Some(480));
}

#[test]
fn cancel_before_any_answer() {
    let mut sim = Sim::new(3);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (30_000, 200)]));
    sim.invite("sip:bob@example.com");
    sim.cancel_at(2 * S);
    sim.run(60 * S);
    assert_eq!(sim.call.cancel_status, Some(200));
    assert_eq!(sim.call.final_status(), Some(487));
    // The proxy cancelled bob's branch; bob answered 487, never 200.
    assert_eq!(sim.got(sim.bob, &Method::Cancel).len(), 1);
    assert!(sim.got_at(sim.bob, &Method::Cancel).unwrap() < 2 * S + 50 * MS);
    assert!(
        sim.packets(sim.bob, sim.p, |p| p.is_response(200)
            && p.is_response_to(200, &Method::Invite))
            .is_empty()
    );
    assert_eq!(sim.net.transaction_count(), 0);
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn cancel_before_the_callee_sent_a_provisional() {
    // Bob sends nothing for 5 s (no automatic 100 either): the CANCEL
    // waits for bob's first provisional (RFC 3261 §9.1).
    let mut sim = Sim::new(4);
    sim.silent_callee(sim.bob);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(5000, 180), (30_000, 200)]));
    sim.invite("sip:bob@example.com");
    sim.cancel_at(S);
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(487));
    let cancel_at = sim.got_at(sim.bob, &Method::Cancel).unwrap();
    assert!(
        cancel_at >= 5 * S && cancel_at < 5 * S + 100 * MS,
        "{cancel_at:?}"
    );
}

#[test]
fn cancel_racing_the_200() {
    // Bob answers at 1000 ms after the INVITE arrived (10 ms after it was
    // sent); alice cancels when the 200 is in flight: the call is up.
    let mut sim = Sim::new(5);
    call_bob(&mut sim);
    sim.cancel_at(1015 * MS);
    sim.run(60 * S);
    assert!(sim.call.cancel_tx.is_some(), "alice sent CANCEL");
    assert_eq!(sim.call.final_status(), Some(200));
    assert!(!sim.got(sim.bob, &Method::Ack).is_empty());
    assert!(sim.call.statuses().iter().all(|s| *s != 487));
    assert_eq!(sim.call.bye_status, Some(200));
}

#[test]
fn timer_c_with_a_provisional_cancels_the_branch() {
    let mut sim = Sim::new(6);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180)]));
    sim.invite("sip:bob@example.com");
    sim.run(300 * S);
    // Timer C (181 s after the 180) sent CANCEL; bob's 487 reached alice.
    let at = sim.got_at(sim.bob, &Method::Cancel).unwrap();
    let expected = Duration::from_millis(10 + 100 + 10 + 181_000 + 10);
    assert!(
        at >= expected - 5 * MS && at <= expected + 20 * MS,
        "{at:?}"
    );
    assert_eq!(sim.call.final_status(), Some(487));
}

#[test]
fn timer_c_restarts_on_each_provisional() {
    let mut sim = Sim::new(7);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(
        sim.bob,
        UasPlan::new(&[(100, 180), (120_000, 183), (200_000, 200)]),
    );
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(400 * S);
    // The 183 at 120 s restarted Timer C, so the 200 at 200 s got through.
    assert!(sim.got(sim.bob, &Method::Cancel).is_empty());
    sim.assert_call_completed(sim.bob);
}

#[test]
fn timer_c_without_a_provisional_is_a_408() {
    let config = ProxyConfig {
        timer_c: 10 * S,
        ..ProxyConfig::default()
    };
    let mut sim = Sim::with_config(8, config);
    sim.silent_callee(sim.bob);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(15_000, 180)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(408));
    let (at, _) = sim
        .call
        .responses
        .iter()
        .find(|(_, r)| r.status().as_u16() == 408)
        .unwrap();
    assert!(*at >= 10 * S && *at < 10 * S + 50 * MS, "{at:?}");
    // Bob's late 180 is met with a CANCEL, not passed on.
    assert_eq!(sim.got(sim.bob, &Method::Cancel).len(), 1);
    assert!(sim.call.statuses().iter().all(|s| *s != 180));
}

#[test]
fn the_loss_of_any_message_of_the_invite_exchange_is_recovered() {
    type Pick = fn(&Probe, &Packet) -> bool;
    let cases: Vec<(&str, Pick)> = vec![
        ("INVITE alice->proxy", |s, p| {
            p.from == s.alice && p.is_request(&Method::Invite)
        }),
        ("INVITE proxy->bob", |s, p| {
            p.from == s.p && p.is_request(&Method::Invite)
        }),
        ("100 proxy->alice", |s, p| {
            p.from == s.p && p.is_response(100)
        }),
        ("180 bob->proxy", |s, p| {
            p.from == s.bob && p.is_response(180)
        }),
        ("180 proxy->alice", |s, p| {
            p.from == s.p && p.is_response(180)
        }),
        ("200 bob->proxy", |s, p| {
            p.from == s.bob && p.is_response_to(200, &Method::Invite)
        }),
        ("200 proxy->alice", |s, p| {
            p.from == s.p && p.is_response_to(200, &Method::Invite)
        }),
        ("ACK alice->proxy", |s, p| {
            p.from == s.alice && p.is_request(&Method::Ack)
        }),
        ("ACK proxy->bob", |s, p| {
            p.from == s.p && p.is_request(&Method::Ack)
        }),
        ("BYE alice->proxy", |s, p| {
            p.from == s.alice && p.is_request(&Method::Bye)
        }),
        ("BYE proxy->bob", |s, p| {
            p.from == s.p && p.is_request(&Method::Bye)
        }),
        ("200 bob->proxy (BYE)", |s, p| {
            p.from == s.bob && p.is_response_to(200, &Method::Bye)
        }),
    ];
    for (name, pick) in cases {
        let mut sim = Sim::new(9);
        let bob = sim.bob;
        let probe = sim.probe();
        sim.net.drop_first(move |packet| pick(&probe, packet));
        call_bob(&mut sim);
        sim.run(120 * S);
        assert_eq!(
            sim.call.final_status(),
            Some(200),
            "{name}\n{}",
            sim.net.dump()
        );
        assert!(!sim.got(bob, &Method::Ack).is_empty(), "{name}: no ACK");
        assert_eq!(sim.call.bye_status, Some(200), "{name}\n{}", sim.net.dump());
        assert_eq!(sim.got(bob, &Method::Invite).len(), 1, "{name}");
        assert_eq!(sim.net.transaction_count(), 0, "{name}");
        assert_eq!(sim.proxy.context_count(), 0, "{name}");
    }
}

#[test]
fn host_names_are_resolved_by_the_application() {
    let mut sim = Sim::new(10);
    sim.names.insert(
        "bob.test".into(),
        vec![NextHop::address(
            Transport::Udp,
            proxy_harness::addr(proxy_harness::BOB),
        )],
    );
    sim.locations.insert(
        "bob".into(),
        TargetSet::single(Target::new("sip:bob@bob.test")),
    );
    sim.plan(sim.bob, ringing_then_ok());
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.resolves, 1);
    assert_eq!(
        sim.got(sim.bob, &Method::Invite)[0].uri_str(),
        "sip:bob@bob.test"
    );
    assert_eq!(sim.call.final_status(), Some(200));
}

#[test]
fn an_unresolvable_target_gives_500() {
    // The branch fails as with a 503, which the proxy turns into 500.
    let mut sim = Sim::new(11);
    sim.locations.insert(
        "bob".into(),
        TargetSet::single(Target::new("sip:bob@nowhere.test")),
    );
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(500));
}

#[test]
fn late_2xx_retransmissions_are_relayed_along_the_via() {
    // Alice's ACKs are lost for 40 s: bob keeps sending his 200; once the
    // proxy's transactions are gone (Timer L/M, 32 s) the 200s still reach
    // alice, statelessly along the Via, and the call completes.
    let mut sim = Sim::new(12);
    let alice = sim.alice;
    sim.net.drop_all(move |p| {
        p.from == alice && p.is_request(&Method::Ack) && p.sent < Duration::from_secs(40)
    });
    call_bob(&mut sim);
    sim.call.hold = None;
    sim.run(120 * S);
    let late: Vec<_> = sim.packets(sim.p, sim.alice, |p| {
        p.is_response_to(200, &Method::Invite) && p.sent > Duration::from_secs(34)
    });
    assert!(!late.is_empty(), "{}", sim.net.dump());
    let ack_at = sim.got_at(sim.bob, &Method::Ack).unwrap();
    assert!(ack_at >= Duration::from_secs(40), "{ack_at:?}");
    assert_eq!(sim.proxy.context_count(), 0);
}
