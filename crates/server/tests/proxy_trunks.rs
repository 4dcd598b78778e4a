//! Groups with their own timeout and advance policy on the virtual clock:
//! a trunk's gateways tried one after another (failing over only when the
//! gateway fails: 408, 5xx, silence), a ring timeout on the last group,
//! and the fallthrough hook (a held answer, more targets or the release).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod proxy_harness;

use std::time::Duration;

use proxy_harness::{S, Sim, UasPlan};
use switchboard_proto::Method;
use switchboard_server::proxy::{Advance, ExhaustCause, GroupPolicy, TargetSet};
use switchboard_testkit::NodeId;

const FAILOVER_AFTER: Duration = Duration::from_secs(5);

/// Bob of example.com is a trunk of two gateways, `first` then `second`,
/// each given up without a provisional answer after 5 s.
fn trunk(sim: &mut Sim, first: NodeId, second: NodeId) {
    sim.trunk("bob", &[first, second], |t| {
        t.with_provisional_timeout(FAILOVER_AFTER)
    });
}

/// The To tags of the responses alice got with `status`.
fn tags_of(sim: &Sim, status: u16) -> Vec<String> {
    sim.call
        .responses
        .iter()
        .filter(|(_, r)| r.status().as_u16() == status)
        .filter_map(|(_, r)| r.headers().to_tag().map(str::to_owned))
        .collect()
}

#[test]
fn a_gateway_answering_503_hands_the_call_to_the_next() {
    let mut sim = Sim::new(61);
    let (carol, bob) = (sim.carol, sim.bob);
    trunk(&mut sim, carol, bob);
    sim.plan(carol, UasPlan::new(&[(100, 503)]));
    sim.plan(bob, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    assert_eq!(sim.got(bob, &Method::Invite).len(), 1);
    assert!(sim.got_at(bob, &Method::Invite).unwrap() < S);
    assert!(sim.call.statuses().iter().all(|s| *s < 300));
    sim.assert_call_completed(bob);
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn a_silent_gateway_is_left_after_failover_after_and_its_late_ring_cancelled() {
    let mut sim = Sim::new(62);
    let (carol, bob) = (sim.carol, sim.bob);
    sim.silent_callee(carol);
    trunk(&mut sim, carol, bob);
    // Carol rings only at 8 s: after the proxy moved on to bob.
    sim.plan(carol, UasPlan::new(&[(8000, 180)]));
    sim.plan(bob, UasPlan::new(&[(100, 180), (10_000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    let at = sim.got_at(bob, &Method::Invite).unwrap();
    assert!(at >= FAILOVER_AFTER && at < FAILOVER_AFTER + S, "{at:?}");
    // Carol's late 180 got a CANCEL and never reached alice.
    let cancel = sim.got_at(carol, &Method::Cancel).expect("carol cancelled");
    assert!(cancel >= 8 * S, "{cancel:?}");
    assert_eq!(tags_of(&sim, 180), vec!["bob-tag".to_owned()]);
    sim.assert_call_completed(bob);
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn a_gateway_answering_busy_ends_the_call_and_the_next_is_untouched() {
    let mut sim = Sim::new(63);
    let (carol, bob) = (sim.carol, sim.bob);
    trunk(&mut sim, carol, bob);
    sim.plan(carol, UasPlan::new(&[(100, 180), (500, 486)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(486));
    assert!(sim.got(bob, &Method::Invite).is_empty());
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn a_ring_timeout_on_the_only_group_cancels_and_answers_no_answer() {
    let mut sim = Sim::new(64);
    let bob = sim.bob;
    let mut set = TargetSet::new();
    set.push_group(
        vec![sim.target_at(bob, "bob")],
        GroupPolicy {
            timeout: Some(10 * S),
            advance: Advance::AfterFailure,
        },
    );
    sim.locations.insert("bob".into(), set);
    sim.plan(bob, UasPlan::new(&[(100, 180)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(408));
    let (answered, _) = sim
        .call
        .responses
        .iter()
        .find(|(_, r)| r.status().as_u16() == 408)
        .unwrap();
    assert!(*answered >= 10 * S && *answered < 11 * S, "{answered:?}");
    assert!(sim.got_at(bob, &Method::Cancel).unwrap() >= 10 * S);
    assert_eq!(sim.proxy.context_count(), 0);
}

/// A call to bob, whose device (`plan`) rings for 10 s with the answer
/// held, run until the proxy holds it; checks the status and cause
/// reported and that alice got no final answer meanwhile.
fn held_call(
    seed: u64,
    plan: UasPlan,
    status: u16,
    cause: ExhaustCause,
) -> (Sim, switchboard_core::TransactionId) {
    let mut sim = Sim::new(seed);
    let bob = sim.bob;
    let mut set = TargetSet::new();
    set.push_group(
        vec![sim.target_at(bob, "bob")],
        GroupPolicy {
            timeout: Some(10 * S),
            advance: Advance::AfterFailure,
        },
    );
    sim.locations.insert("bob".into(), set.hold_final(true));
    sim.plan(bob, plan);
    sim.invite("sip:bob@example.com");
    sim.run(30 * S);
    assert_eq!(sim.exhausted.len(), 1, "{:?}", sim.exhausted);
    let (_, server, got_status, got_cause) = sim.exhausted[0];
    assert_eq!((got_status.as_u16(), got_cause), (status, cause));
    assert_eq!(sim.call.final_status(), None);
    (sim, server)
}

#[test]
fn busy_is_held_then_forwarded_to_voicemail() {
    let (mut sim, server) = held_call(
        65,
        UasPlan::new(&[(100, 180), (500, 486)]),
        486,
        ExhaustCause::Busy,
    );
    let carol = sim.carol;
    sim.plan(carol, UasPlan::new(&[(100, 200)]));
    sim.call.hold = Some(S);
    let voicemail = sim.target_at(carol, "voicemail");
    sim.forward_more(server, TargetSet::single(voicemail));
    sim.run(120 * S);
    sim.assert_call_completed(carol);
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn no_answer_is_held_then_released_as_408() {
    let (mut sim, server) = held_call(66, UasPlan::new(&[(100, 180)]), 408, ExhaustCause::NoAnswer);
    assert!(sim.exhausted[0].0 >= 10 * S);
    sim.release(server);
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(408));
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn unavailable_is_held_and_more_targets_that_fail_keep_the_best_answer() {
    let (mut sim, server) = held_call(
        67,
        UasPlan::new(&[(100, 404)]),
        404,
        ExhaustCause::Unavailable,
    );
    let carol = sim.carol;
    // The fallthrough fails too (503): released, the 404 is still the best.
    sim.plan(carol, UasPlan::new(&[(100, 503)]));
    let more = TargetSet::single(sim.target_at(carol, "voicemail")).hold_final(true);
    sim.forward_more(server, more);
    sim.run(60 * S);
    assert_eq!(sim.exhausted.len(), 2);
    assert_eq!(sim.exhausted[1].3, ExhaustCause::Unavailable);
    sim.release(server);
    sim.run(90 * S);
    assert_eq!(sim.call.final_status(), Some(404));
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn a_cancel_while_held_ends_the_call_with_487() {
    let (mut sim, server) = held_call(
        68,
        UasPlan::new(&[(100, 180), (500, 486)]),
        486,
        ExhaustCause::Busy,
    );
    sim.cancel_at(31 * S);
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(487));
    assert_eq!(sim.call.cancel_status, Some(200));
    let more = TargetSet::single(sim.target_at(sim.carol, "voicemail"));
    let Sim { net, proxy, p, .. } = &mut sim;
    let refused = net.with_endpoint(*p, |ep, now| proxy.forward_more(now, ep, server, more));
    assert!(refused.is_err());
}
