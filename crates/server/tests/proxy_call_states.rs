//! The call states the proxy reports for busy-lamp fields and pickup
//! (`ProxyEvent::Call`), on the virtual clock: a call rung, answered and
//! hung up, a cancelled one, a rejected one, and forks.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod proxy_harness;

use proxy_harness::{S, Sim, UasPlan};
use switchboard_server::proxy::{CallEnd, CallPhase, CallUpdate};

fn phases(sim: &Sim) -> Vec<CallPhase> {
    sim.call_updates.iter().map(|u| u.state).collect()
}

#[test]
fn rung_answered_and_hung_up() {
    let mut sim = Sim::new(11);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    sim.assert_call_completed(sim.bob);
    assert_eq!(
        phases(&sim),
        [
            CallPhase::Trying,
            CallPhase::Early,
            CallPhase::Confirmed,
            CallPhase::Terminated(CallEnd::Bye)
        ]
    );

    let invite = sim.call.invite.as_ref().unwrap();
    let alice_tag = invite.headers().from_tag().unwrap();
    let call_id = invite.headers().call_id().unwrap();
    let trying: &CallUpdate = &sim.call_updates[0];
    assert_eq!(trying.call_id, call_id);
    assert_eq!(trying.from_tag, alice_tag);
    assert_eq!(trying.to_tag, None);
    assert_eq!(trying.request_uri, "sip:bob@example.com");
    assert_eq!(trying.callee.uri, "sip:bob@example.com");
    assert!(trying.caller.uri.starts_with("sip:alice@"), "{trying:?}");
    assert_eq!(
        trying.caller_source.remote,
        proxy_harness::addr(proxy_harness::ALICE)
    );

    // Early and Confirmed carry bob's tag; the 200 his device and address.
    let early = &sim.call_updates[1];
    let bob_tag = early.to_tag.clone().unwrap();
    let confirmed = &sim.call_updates[2];
    assert_eq!(confirmed.to_tag.as_deref(), Some(bob_tag.as_str()));
    assert_eq!(
        confirmed.callee_contact.as_deref(),
        Some(format!("sip:bob@{}", proxy_harness::BOB).as_str())
    );
    assert_eq!(
        confirmed.callee_source.map(|s| s.remote),
        Some(proxy_harness::addr(proxy_harness::BOB))
    );
    // The BYE names the same dialog.
    let bye = &sim.call_updates[3];
    assert_eq!(bye.call_id, call_id);
    assert_eq!(bye.from_tag, alice_tag);
    assert_eq!(bye.to_tag.as_deref(), Some(bob_tag.as_str()));
}

#[test]
fn a_cancelled_call_is_terminated() {
    let mut sim = Sim::new(12);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (30_000, 200)]));
    sim.invite("sip:bob@example.com");
    sim.cancel_at(2 * S);
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(487));
    let phases = phases(&sim);
    assert_eq!(
        phases[..3],
        [
            CallPhase::Trying,
            CallPhase::Early,
            CallPhase::Terminated(CallEnd::Cancelled)
        ]
    );
    // The 487s that follow only repeat the end; nothing is confirmed.
    assert!(
        phases[3..]
            .iter()
            .all(|p| matches!(p, CallPhase::Terminated(_))),
        "{phases:?}"
    );
}

#[test]
fn a_busy_callee_ends_the_call_with_its_status() {
    let mut sim = Sim::new(13);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 486)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(486));
    let last = sim.call_updates.last().unwrap();
    assert_eq!(last.state, CallPhase::Terminated(CallEnd::Status(486)));
    assert_eq!(last.to_tag, None, "the whole call is over");
    assert!(
        !phases(&sim).contains(&CallPhase::Confirmed),
        "{:?}",
        phases(&sim)
    );
}

#[test]
fn forks_ring_with_their_own_tags() {
    let mut sim = Sim::new(14);
    sim.locate("bob", &[(sim.bob, None), (sim.carol, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (2000, 200)]));
    sim.plan(sim.carol, UasPlan::new(&[(150, 180), (30_000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    let early_tags: Vec<_> = sim
        .call_updates
        .iter()
        .filter(|u| u.state == CallPhase::Early)
        .map(|u| u.to_tag.clone().unwrap())
        .collect();
    assert_eq!(early_tags.len(), 2, "{:?}", phases(&sim));
    assert_ne!(early_tags[0], early_tags[1]);
    let confirmed: Vec<_> = sim
        .call_updates
        .iter()
        .filter(|u| u.state == CallPhase::Confirmed)
        .collect();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(
        confirmed[0].callee_source.map(|s| s.remote),
        Some(proxy_harness::addr(proxy_harness::BOB))
    );
}

/// A fork's 2xx that comes after the call was answered still goes to the
/// caller (RFC 3261 §16.7 step 5), through a context that kept only a few
/// fields of the INVITE once its final answer went up: its dialog (and
/// every retransmitted 2xx) is reported with the caller's side of the
/// call as the first answer was.
#[test]
fn a_later_forks_2xx_is_reported_with_the_callers_side() {
    let sim = Sim::both_forks_answer(15);
    let confirmed: Vec<&CallUpdate> = sim
        .call_updates
        .iter()
        .filter(|u| u.state == CallPhase::Confirmed)
        .collect();
    let first = confirmed[0];
    assert!(first.caller_contact.is_some(), "{first:?}");
    let carol = confirmed
        .iter()
        .find(|u| u.to_tag != first.to_tag)
        .expect("carol's 2xx reported");
    assert_eq!(
        carol.callee_source.map(|s| s.remote),
        Some(proxy_harness::addr(proxy_harness::CAROL))
    );
    for later in &confirmed[1..] {
        assert_eq!(later.call_id, first.call_id);
        assert_eq!(later.from_tag, first.from_tag);
        assert_eq!(later.caller.uri, first.caller.uri);
        assert_eq!(later.caller.display, first.caller.display);
        assert_eq!(later.callee.uri, first.callee.uri);
        assert_eq!(later.request_uri, first.request_uri);
        assert_eq!(later.caller_contact, first.caller_contact);
        assert_eq!(later.caller_source.remote, first.caller_source.remote);
        assert_eq!(later.cseq, first.cseq);
    }
}
