//! RFC 3263 §4.3 fail-over ends once a target has the request: a branch
//! that got a provisional response and then lost its connection is not
//! sent to the next target (the callee may be ringing; a second copy could
//! ring a second phone). The rule is `switchboard_core::resolve::Failover`'s,
//! shared with `switchboard-net`'s `FailoverTransaction`.
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

/// Bob of example.com is at `sip:bob@far.test`: carol over TCP first,
/// then bob over UDP.
fn far_bob(sim: &mut Sim) {
    let hops = vec![
        NextHop::address(Transport::Tcp, sim.net.address(sim.carol)),
        NextHop::address(Transport::Udp, sim.net.address(sim.bob)),
    ];
    sim.names.insert("far.test".into(), hops);
    sim.locations.insert(
        "bob".into(),
        TargetSet::single(Target::new("sip:bob@far.test")),
    );
}

#[test]
fn a_target_that_rang_then_lost_its_connection_is_not_failed_over() {
    let mut sim = Sim::new(46);
    let (carol, bob) = (sim.carol, sim.bob);
    far_bob(&mut sim);
    sim.plan(carol, UasPlan::new(&[(100, 180)]));
    sim.plan(bob, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.invite("sip:bob@example.com");
    sim.run(S);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    assert!(sim.call.statuses().contains(&180), "carol rang");
    let flows = sim.net.flows(carol);
    assert_eq!(flows.len(), 1, "{flows:?}");
    sim.net.close_flow(carol, flows[0].0);
    sim.run(60 * S);
    assert!(
        sim.got(bob, &Method::Invite).is_empty(),
        "the INVITE went on to bob after carol rang"
    );
    let status = sim.call.final_status().unwrap();
    assert!(status >= 500, "{status}");
}

#[test]
fn a_target_whose_connection_breaks_before_any_answer_is_failed_over() {
    let mut sim = Sim::new(47);
    let (carol, bob) = (sim.carol, sim.bob);
    far_bob(&mut sim);
    sim.silent_callee(carol);
    sim.plan(bob, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(S);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    let flows = sim.net.flows(carol);
    assert_eq!(flows.len(), 1, "{flows:?}");
    sim.net.close_flow(carol, flows[0].0);
    sim.run(60 * S);
    assert_eq!(sim.got(bob, &Method::Invite).len(), 1);
    sim.assert_call_completed(bob);
}
