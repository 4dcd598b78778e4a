//! Forking through the proxy on the virtual clock: parallel (first 2xx
//! wins, the others are cancelled), serial by q with the group timeout,
//! 6xx ending every branch, 3xx recursion or return, and best-response
//! selection with 401/407 aggregation and 503 to 500 (RFC 3261 §16.7).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod proxy_harness;

use proxy_harness::{CAROL, MS, S, Sim, UasPlan};
use switchboard_proto::{HeaderName, Method};
use switchboard_server::proxy::ProxyConfig;

#[test]
fn parallel_fork_first_2xx_wins_and_the_other_branch_is_cancelled() {
    let mut sim = Sim::new(40);
    sim.locate("bob", &[(sim.bob, None), (sim.carol, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.plan(sim.carol, UasPlan::new(&[(100, 180), (5000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    // Both rang at once.
    let (b, c) = (
        sim.got_at(sim.bob, &Method::Invite).unwrap(),
        sim.got_at(sim.carol, &Method::Invite).unwrap(),
    );
    assert_eq!(b, c);
    // Bob's 200 went to alice; carol got CANCEL right after and sent 487,
    // which alice never saw.
    sim.assert_call_completed(sim.bob);
    assert_eq!(sim.got(sim.carol, &Method::Cancel).len(), 1);
    assert!(
        !sim.packets(sim.carol, sim.p, |p| p.is_response(487))
            .is_empty()
    );
    assert!(sim.call.statuses().iter().all(|s| *s != 487));
    assert_eq!(
        sim.call
            .statuses()
            .iter()
            .filter(|s| (200..300).contains(*s))
            .count(),
        sim.call.acks_sent
    );
    // Every endpoint event of the proxy was its own (CANCELs included).
    assert!(sim.leftovers.is_empty(), "{:?}", sim.leftovers);
    assert!(sim.got(sim.carol, &Method::Ack).is_empty());
    assert_eq!(sim.net.transaction_count(), 0);
    assert_eq!(sim.proxy.context_count(), 0);
}

#[test]
fn a_second_2xx_from_another_branch_is_passed_on_too() {
    // Bob and carol answer 5 ms apart: both 2xx reach alice (she ACKs
    // both; hanging up the second dialog is her business).
    let sim = Sim::both_forks_answer(41);
    let tags: std::collections::BTreeSet<String> = sim
        .call
        .responses
        .iter()
        .filter(|(_, r)| r.status().is_success())
        .map(|(_, r)| r.headers().to_tag().unwrap().to_owned())
        .collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
}

#[test]
fn serial_fork_by_q_moves_on_after_the_group_timeout() {
    let mut sim = Sim::new(42);
    sim.locate("bob", &[(sim.carol, Some(500)), (sim.bob, Some(1000))]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180)]));
    sim.plan(sim.carol, UasPlan::new(&[(100, 180), (1000, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(120 * S);
    let bob_at = sim.got_at(sim.bob, &Method::Invite).unwrap();
    let carol_at = sim.got_at(sim.carol, &Method::Invite).unwrap();
    assert!(bob_at < 50 * MS);
    // 20 s of ringing at bob, then bob is cancelled and carol rings.
    assert!(
        carol_at >= 20 * S && carol_at < 20 * S + 50 * MS,
        "{carol_at:?}"
    );
    assert_eq!(sim.got(sim.bob, &Method::Cancel).len(), 1);
    sim.assert_call_completed(sim.carol);
    assert!(sim.call.statuses().iter().all(|s| *s != 487));
}

#[test]
fn serial_fork_moves_on_at_once_when_a_group_fails() {
    let mut sim = Sim::new(43);
    sim.locate(
        "bob",
        &[
            (sim.bob, Some(1000)),
            (sim.carol, Some(500)),
            (sim.dave, Some(100)),
        ],
    );
    sim.plan(sim.bob, UasPlan::new(&[(100, 486)]));
    sim.plan(sim.carol, UasPlan::new(&[(100, 480)]));
    sim.plan(sim.dave, UasPlan::new(&[(100, 180), (300, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    let carol_at = sim.got_at(sim.carol, &Method::Invite).unwrap();
    let dave_at = sim.got_at(sim.dave, &Method::Invite).unwrap();
    assert!(carol_at < 200 * MS, "{carol_at:?}");
    assert!(dave_at < 400 * MS, "{dave_at:?}");
    sim.assert_call_completed(sim.dave);
}

#[test]
fn a_6xx_ends_every_branch() {
    let mut sim = Sim::new(44);
    sim.locate("bob", &[(sim.bob, None), (sim.carol, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (1000, 603)]));
    sim.plan(sim.carol, UasPlan::new(&[(100, 180), (10_000, 200)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(603));
    assert_eq!(sim.got(sim.carol, &Method::Cancel).len(), 1);
    assert!(sim.got(sim.carol, &Method::Ack).is_empty());
    // The 603 waited for carol's 487 only: well before carol's 200 was due.
    let (at, _) = sim
        .call
        .responses
        .iter()
        .find(|(_, r)| r.status().as_u16() == 603)
        .unwrap();
    assert!(*at < 2 * S, "{at:?}");
}

#[test]
fn a_6xx_stops_serial_forking() {
    let mut sim = Sim::new(45);
    sim.locate("bob", &[(sim.bob, Some(1000)), (sim.carol, Some(500))]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 600)]));
    sim.plan(sim.carol, UasPlan::new(&[(100, 200)]));
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(600));
    assert!(sim.got(sim.carol, &Method::Invite).is_empty());
}

#[test]
fn a_3xx_is_recursed_on() {
    let mut sim = Sim::new(46);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(
        sim.bob,
        UasPlan::new(&[(100, 302)]).header(HeaderName::Contact, &format!("<sip:carol@{CAROL}>")),
    );
    sim.plan(sim.carol, UasPlan::new(&[(100, 180), (500, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    sim.assert_call_completed(sim.carol);
    assert_eq!(
        sim.got(sim.carol, &Method::Invite)[0].uri_str(),
        format!("sip:carol@{CAROL}")
    );
    assert!(sim.call.statuses().iter().all(|s| *s != 302));
}

#[test]
fn a_3xx_back_to_a_tried_target_is_not_followed() {
    let mut sim = Sim::new(47);
    sim.locate("bob", &[(sim.bob, None)]);
    let bob_uri = format!("sip:bob@{}", proxy_harness::BOB);
    sim.plan(
        sim.bob,
        UasPlan::new(&[(100, 302)]).header(HeaderName::Contact, &format!("<{bob_uri}>")),
    );
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.got(sim.bob, &Method::Invite).len(), 1);
    assert_eq!(sim.call.final_status(), Some(302));
}

#[test]
fn a_3xx_is_returned_when_recursion_is_off() {
    let config = ProxyConfig {
        recurse_on_3xx: false,
        ..ProxyConfig::default()
    };
    let mut sim = Sim::with_config(48, config);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(
        sim.bob,
        UasPlan::new(&[(100, 302)]).header(HeaderName::Contact, &format!("<sip:carol@{CAROL}>")),
    );
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    let answer = sim.call.final_response().unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    assert_eq!(
        answer.headers().get(HeaderName::Contact),
        Some(format!("<sip:carol@{CAROL}>").as_str())
    );
    assert!(sim.got(sim.carol, &Method::Invite).is_empty());
}

/// Forks to bob, carol and dave, who answer the given finals at 100, 200
/// and 300 ms (0: no answer at all, the branch times out); returns the
/// final response alice gets.
fn best_of(seed: u64, finals: [u16; 3]) -> switchboard_proto::Response {
    let mut sim = Sim::new(seed);
    let nodes = [sim.bob, sim.carol, sim.dave];
    sim.locate(
        "bob",
        &[(nodes[0], None), (nodes[1], None), (nodes[2], None)],
    );
    for (i, (&node, &code)) in nodes.iter().zip(finals.iter()).enumerate() {
        if code == 0 {
            sim.silent_callee(node);
            continue;
        }
        let mut plan = UasPlan::new(&[(100 * (i as u64 + 1), code)]);
        match code {
            401 => plan = plan.header(HeaderName::WwwAuthenticate, "Digest realm=\"carol\""),
            407 => plan = plan.header(HeaderName::ProxyAuthenticate, "Digest realm=\"dave\""),
            300..=399 => plan = plan.header(HeaderName::Contact, "<sip:elsewhere@192.0.2.9>"),
            _ => {}
        }
        sim.plan(node, plan);
    }
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    sim.call.final_response().unwrap().clone()
}

#[test]
fn best_response_selection() {
    // (finals of the three branches, status alice gets)
    let table: [([u16; 3], u16); 9] = [
        ([486, 404, 480], 486), // same class: the first
        ([404, 603, 500], 603), // 6xx beats everything
        ([500, 404, 503], 404), // lowest class
        ([503, 503, 503], 500), // 503 becomes 500
        ([500, 503, 502], 500),
        ([404, 401, 480], 401), // 401/407/415/420/484 preferred within 4xx
        ([480, 484, 486], 484),
        ([0, 0, 0], 408),   // nothing at all
        ([0, 486, 0], 486), // timeouts lose to a real answer
    ];
    for (i, (finals, want)) in table.iter().enumerate() {
        let got = best_of(60 + i as u64, *finals);
        assert_eq!(got.status().as_u16(), *want, "{finals:?}");
    }
}

#[test]
fn challenges_of_401_and_407_are_combined() {
    let got = best_of(70, [486, 401, 407]);
    assert!(matches!(got.status().as_u16(), 401 | 407));
    assert_eq!(
        got.headers().get(HeaderName::WwwAuthenticate),
        Some("Digest realm=\"carol\"")
    );
    assert_eq!(
        got.headers().get(HeaderName::ProxyAuthenticate),
        Some("Digest realm=\"dave\"")
    );
}

#[test]
fn cancel_reaches_every_branch() {
    let mut sim = Sim::new(71);
    sim.locate("bob", &[(sim.bob, None), (sim.carol, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (30_000, 200)]));
    sim.plan(sim.carol, UasPlan::new(&[(100, 183), (30_000, 200)]));
    sim.invite("sip:bob@example.com");
    sim.cancel_at(S);
    sim.run(60 * S);
    assert_eq!(sim.call.final_status(), Some(487));
    assert_eq!(sim.got(sim.bob, &Method::Cancel).len(), 1);
    assert_eq!(sim.got(sim.carol, &Method::Cancel).len(), 1);
    assert_eq!(sim.call.statuses().iter().filter(|s| **s >= 200).count(), 1);
    assert_eq!(sim.net.transaction_count(), 0);
    assert_eq!(sim.proxy.context_count(), 0);
}
