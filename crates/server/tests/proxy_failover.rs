//! RFC 3263 §4.3 fail-over on the virtual clock: a host name resolves to
//! several targets; a target that never answers (Timer B), answers 503 or
//! cannot be reached hands the request to the next one with a new branch,
//! and only the outcome after the last target reaches the caller
//! (408, or 500 for a 503, RFC 3261 §16.7).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod proxy_harness;

use proxy_harness::{S, Sim, UasPlan};
use switchboard_core::Transport;
use switchboard_proto::Method;
use switchboard_server::proxy::{NextHop, Target, TargetSet};
use switchboard_testkit::NodeId;

/// Bob of example.com is at `sip:bob@far.test`, which resolves to
/// `nodes` in that order.
fn far_bob(sim: &mut Sim, nodes: &[NodeId]) {
    let hops = nodes
        .iter()
        .map(|&n| NextHop::address(Transport::Udp, sim.net.address(n)))
        .collect();
    sim.names.insert("far.test".into(), hops);
    sim.locations.insert(
        "bob".into(),
        TargetSet::single(Target::new("sip:bob@far.test")),
    );
}

#[test]
fn a_target_that_never_answers_fails_over_to_the_next() {
    let mut sim = Sim::new(41);
    let (carol, bob) = (sim.carol, sim.bob);
    sim.silent_callee(carol);
    far_bob(&mut sim, &[carol, bob]);
    sim.plan(bob, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(120 * S);
    assert_eq!(sim.resolves, 1);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    assert_eq!(sim.got(bob, &Method::Invite).len(), 1);
    assert_eq!(
        sim.got(bob, &Method::Invite)[0].uri_str(),
        "sip:bob@far.test"
    );
    // Bob was tried once carol's transaction timed out (Timer B, 64*T1).
    let at = sim.got_at(bob, &Method::Invite).unwrap();
    assert!(at >= 32 * S && at < 33 * S, "{at:?}");
    sim.assert_call_completed(bob);
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn a_503_fails_over_to_the_next_target() {
    let mut sim = Sim::new(42);
    let (carol, bob) = (sim.carol, sim.bob);
    far_bob(&mut sim, &[carol, bob]);
    sim.plan(carol, UasPlan::new(&[(100, 503)]));
    sim.plan(bob, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(120 * S);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    assert_eq!(sim.got(bob, &Method::Invite).len(), 1);
    let at = sim.got_at(bob, &Method::Invite).unwrap();
    assert!(at < 2 * S, "{at:?}");
    // The 503 stayed in the proxy.
    assert!(sim.call.statuses().iter().all(|s| *s != 503 && *s != 500));
    sim.assert_call_completed(bob);
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn every_target_silent_gives_408() {
    let mut sim = Sim::new(43);
    let (carol, bob) = (sim.carol, sim.bob);
    sim.silent_callee(carol);
    sim.silent_callee(bob);
    far_bob(&mut sim, &[carol, bob]);
    sim.invite("sip:bob@example.com");
    sim.run(200 * S);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    assert_eq!(sim.got(bob, &Method::Invite).len(), 1);
    assert_eq!(sim.call.final_status(), Some(408));
    assert_eq!(sim.call.statuses().iter().filter(|s| **s >= 200).count(), 1);
}

#[test]
fn every_target_503_gives_500() {
    let mut sim = Sim::new(44);
    let (carol, bob) = (sim.carol, sim.bob);
    far_bob(&mut sim, &[carol, bob]);
    sim.plan(carol, UasPlan::new(&[(100, 503)]));
    sim.plan(bob, UasPlan::new(&[(100, 503)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    assert_eq!(sim.got(bob, &Method::Invite).len(), 1);
    assert_eq!(sim.call.final_status(), Some(500));
    assert_eq!(sim.call.statuses().iter().filter(|s| **s >= 200).count(), 1);
}

#[test]
fn a_failing_target_then_a_404_gives_the_404() {
    // Only the final outcome counts: the first target's 503 is not
    // weighed against the second's 404.
    let mut sim = Sim::new(45);
    let (carol, bob) = (sim.carol, sim.bob);
    far_bob(&mut sim, &[carol, bob]);
    sim.plan(carol, UasPlan::new(&[(100, 503)]));
    sim.plan(bob, UasPlan::new(&[(100, 404)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(404));
}
