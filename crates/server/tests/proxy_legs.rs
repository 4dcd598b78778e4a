//! A carrier's leg on the virtual clock: the provider's 407 answered with
//! the trunk's credentials (the caller never sees it), the call sent with
//! a Call-ID of its own, and the dialog translated both ways afterwards
//! (ACK, re-INVITE, BYE and their responses: the caller's Call-ID and CSeq
//! on its side, the carrier's on the other).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod proxy_harness;

use std::time::Duration;

use proxy_harness::{S, Sim, UasPlan, message_of};
use switchboard_proto::digest::{Algorithm, DigestCredentials, Qop, ha1};
use switchboard_proto::{HeaderName, Message, Method, Request, Response};
use switchboard_routing::Credentials;
use switchboard_server::proxy::TargetSet;

const CHALLENGE: &str = r#"Digest realm="carrier.example", nonce="c4rr13r", qop="auth""#;

/// Bob of example.com is a carrier's number: it challenges the first
/// INVITE with a 407, rings and answers the one with credentials. Alice
/// calls it.
fn carrier_call(seed: u64) -> Sim {
    let mut sim = carrier(seed);
    sim.invite("sip:bob@example.com");
    sim.run(5 * S);
    sim
}

/// [`carrier_call`] before the call.
fn carrier(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    let bob = sim.bob;
    let target = sim
        .target_at(bob, "+493012345")
        .with_credentials(Credentials {
            username: "acct1".into(),
            password: "secret".into(),
            realm: Some("carrier.example".into()),
        })
        .with_fresh_call_id(true);
    sim.locations
        .insert("bob".into(), TargetSet::single(target));
    sim.plan(
        bob,
        UasPlan::new(&[(50, 407)])
            .header(HeaderName::ProxyAuthenticate, CHALLENGE)
            .when_authorized(&[(100, 180), (500, 200)]),
    );
    sim
}

fn call_id(m: &Request) -> &str {
    m.headers().call_id().unwrap()
}

fn cseq(m: &Request) -> u32 {
    m.headers().cseq().unwrap().seq
}

fn response_ids(r: &Response) -> (String, u32) {
    (
        r.headers().call_id().unwrap().to_owned(),
        r.headers().cseq().unwrap().seq,
    )
}

/// The carrier's Call-ID of the call (its INVITEs').
fn carrier_id(sim: &Sim) -> String {
    call_id(sim.got(sim.bob, &Method::Invite)[0]).to_owned()
}

#[test]
fn a_407_is_answered_once_with_a_valid_digest_and_cseq_plus_one() {
    let sim = carrier_call(81);
    let invites = sim.got(sim.bob, &Method::Invite);
    assert_eq!(invites.len(), 2);
    let (first, second) = (invites[0], invites[1]);
    assert_eq!((cseq(first), cseq(second)), (1, 2));
    assert_eq!(call_id(first), call_id(second));
    assert_ne!(call_id(first), "call-1", "a Call-ID of its own");
    assert!(
        first
            .headers()
            .get(HeaderName::ProxyAuthorization)
            .is_none()
    );
    let value = second
        .headers()
        .get(HeaderName::ProxyAuthorization)
        .unwrap();
    let credentials = DigestCredentials::parse(value).unwrap();
    assert!(credentials.matches_username("acct1"));
    assert_eq!(credentials.qop, Some(Qop::Auth));
    assert_eq!(credentials.uri, second.uri_str());
    let stored = ha1(Algorithm::Md5, "acct1", "carrier.example", "secret");
    assert!(
        credentials
            .verify("INVITE", second.body(), &stored)
            .unwrap()
    );
    let wrong = ha1(Algorithm::Md5, "acct1", "carrier.example", "guess");
    assert!(!credentials.verify("INVITE", second.body(), &wrong).unwrap());
    // The caller saw no challenge; what it saw is its own call.
    assert_eq!(sim.call.statuses(), vec![100, 180, 200]);
    for (_, r) in &sim.call.responses {
        assert_eq!(response_ids(r), ("call-1".to_owned(), 1));
    }
}

#[test]
fn the_dialog_is_translated_both_ways_from_the_caller() {
    let mut sim = carrier_call(82);
    let bob = sim.bob;
    let carrier = carrier_id(&sim);
    // The ACK of the 200: the carrier's Call-ID, CSeq of the INVITE it got.
    let ack = sim.got(bob, &Method::Ack)[0];
    assert_eq!((call_id(ack), cseq(ack)), (carrier.as_str(), 2));

    // re-INVITE, CSeq 2 on the caller's side, 3 on the carrier's.
    let reinvite = sim.alice_in_dialog(Method::Invite, 2);
    sim.run(7 * S);
    let got = sim.got(bob, &Method::Invite)[2];
    assert!(got.headers().to_tag().is_some());
    assert_eq!((call_id(got), cseq(got)), (carrier.as_str(), 3));
    let ok = sim.final_of(reinvite).unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(response_ids(ok), ("call-1".to_owned(), 2));
    sim.alice_ack(2);
    sim.run(8 * S);
    let ack = sim.got(bob, &Method::Ack)[1];
    assert_eq!((call_id(ack), cseq(ack)), (carrier.as_str(), 3));

    // BYE, and the leg is gone with its 200.
    assert_eq!(sim.proxy.translated_leg_count(), 1);
    let bye = sim.alice_in_dialog(Method::Bye, 3);
    sim.run(10 * S);
    let got = sim.got(bob, &Method::Bye)[0];
    assert_eq!((call_id(got), cseq(got)), (carrier.as_str(), 4));
    let ok = sim.final_of(bye).unwrap();
    assert_eq!(response_ids(ok), ("call-1".to_owned(), 3));
    assert_eq!(sim.proxy.translated_leg_count(), 0);
}

#[test]
fn the_carriers_bye_reaches_the_caller_with_its_call_id() {
    let mut sim = carrier_call(83);
    let carrier = carrier_id(&sim);
    let answered = sim
        .served
        .iter()
        .position(|s| s.final_sent == Some(200))
        .unwrap();
    let bye = sim.callee_request(answered, Method::Bye, 7);
    sim.run(10 * S);
    let got = sim.got(sim.alice, &Method::Bye)[0];
    assert_eq!((call_id(got), cseq(got)), ("call-1", 7));
    let ok = sim.final_of(bye).unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(response_ids(ok), (carrier, 7));
    assert_eq!(sim.proxy.translated_leg_count(), 0);
}

#[test]
fn an_idle_leg_is_forgotten_after_two_hours() {
    let mut sim = carrier_call(84);
    assert_eq!(sim.proxy.translated_leg_count(), 1);
    sim.run(2 * 3600 * S + 10 * S);
    assert_eq!(sim.proxy.translated_leg_count(), 0);
}

#[test]
fn late_2xx_retransmissions_reach_the_caller_restored() {
    // Alice's ACKs are lost for 40 s: the carrier keeps sending its 200,
    // through the proxy's transactions and, once they are gone (32 s),
    // statelessly; every copy reaches alice with her Call-ID and CSeq,
    // and her late ACK reaches the carrier with its own.
    let mut sim = carrier(85);
    let alice = sim.alice;
    sim.net.drop_all(move |p| {
        p.from == alice && p.is_request(&Method::Ack) && p.sent < Duration::from_secs(40)
    });
    sim.invite("sip:bob@example.com");
    sim.run(120 * S);
    let oks: Vec<Response> = sim
        .packets(sim.p, alice, |p| p.is_response_to(200, &Method::Invite))
        .into_iter()
        .map(|p| match message_of(p) {
            Message::Response(r) => r,
            Message::Request(_) => panic!("a request"),
        })
        .collect();
    assert!(oks.len() > 5, "{}", oks.len());
    for ok in &oks {
        assert_eq!(response_ids(ok), ("call-1".to_owned(), 1));
    }
    let late = sim.packets(sim.p, alice, |p| {
        p.is_response_to(200, &Method::Invite) && p.sent > Duration::from_secs(34)
    });
    assert!(!late.is_empty(), "{}", sim.net.dump());
    let carrier = carrier_id(&sim);
    let ack = sim.got(sim.bob, &Method::Ack)[0];
    assert_eq!((call_id(ack), cseq(ack)), (carrier.as_str(), 2));
}

#[test]
fn credentials_refused_again_fail_over_to_the_next_gateway_unseen() {
    // The first gateway challenges the answer too (a wrong password): the
    // caller never sees a 407, and the second gateway takes the call.
    let mut sim = Sim::new(86);
    let (bob, carol) = (sim.bob, sim.carol);
    sim.trunk("bob", &[bob, carol], |t| {
        t.with_credentials(Credentials {
            username: "acct1".into(),
            password: "wrong".into(),
            realm: None,
        })
    });
    sim.plan(
        bob,
        UasPlan::new(&[(50, 407)]).header(HeaderName::ProxyAuthenticate, CHALLENGE),
    );
    sim.plan(carol, UasPlan::new(&[(100, 180), (500, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    assert_eq!(sim.got(bob, &Method::Invite).len(), 2);
    assert_eq!(sim.got(carol, &Method::Invite).len(), 1);
    assert!(sim.call.statuses().iter().all(|s| *s < 300));
    sim.assert_call_completed(carol);
}

#[test]
fn an_early_dialog_is_translated_until_the_invite_fails() {
    let mut sim = carrier(87);
    sim.plan(
        sim.bob,
        UasPlan::new(&[(50, 407)])
            .header(HeaderName::ProxyAuthenticate, CHALLENGE)
            .when_authorized(&[(100, 180), (3000, 486)]),
    );
    sim.invite("sip:bob@example.com");
    sim.run(2 * S);
    assert_eq!(sim.call.statuses(), vec![100, 180]);
    assert_eq!(sim.proxy.translated_leg_count(), 1);
    sim.run(10 * S);
    assert_eq!(sim.call.final_status(), Some(486));
    let busy = sim.call.final_response().unwrap();
    assert_eq!(response_ids(busy), ("call-1".to_owned(), 1));
    assert_eq!(sim.proxy.translated_leg_count(), 0);
}
