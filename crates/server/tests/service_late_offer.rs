//! Late offers through the media relay (RFC 3261 §13.2.1), on a virtual
//! clock: alice's INVITE carries no SDP, bob's 200 OK the offer, alice's
//! ACK the answer. The offer alice receives and the answer bob receives
//! both name the relay (with a Content-Length that fits the rewritten
//! body), and media flows both ways through it; `auto` anchors such a call
//! only when a party is behind a NAT.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::net::IpAddr;

use service_harness::media::{
    RELAY_IP, alice_invites_with, bob_answers_with, media_of, relaying, rtp, sdp, send_media,
};
use service_harness::{Phone, Server, addr};
use switchboard_proto::{HeaderName, Method, Request, Response, StatusCode};
use switchboard_relay::RelayConfig;
use switchboard_server::media::{MediaConfig, MediaPolicy};

/// Alice calls bob without an offer; bob offers 198.51.100.20:5000 in his
/// 200 OK, alice answers 198.51.100.10:4000 in her ACK. Alice's 200 OK
/// and bob's ACK.
fn late_offer_call(h: &mut Server, alice: &mut Phone, bob: &Phone) -> (Response, Request) {
    alice_invites_with(h, alice, "");
    let invite = h.request_to(bob, Method::Invite);
    assert!(invite.body().is_empty(), "no offer to pass on");
    bob_answers_with(h, bob, &invite, &sdp("198.51.100.20", 5000));
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let ack = alice
        .in_dialog(Method::Ack, &ok)
        .body("application/sdp", sdp("198.51.100.10", 4000))
        .build()
        .unwrap();
    h.send(alice, ack);
    (ok, h.request_to(bob, Method::Ack))
}

#[test]
fn the_offer_in_the_200_and_the_answer_in_the_ack_are_anchored() {
    let (mut h, mut alice, bob) = relaying(40_000..=40_099);
    let (ok, ack) = late_offer_call(&mut h, &mut alice, &bob);

    let (ip, to_alice) = media_of(ok.body());
    assert_eq!(ip, RELAY_IP, "alice sends to the relay");
    let (ip, to_bob) = media_of(ack.body());
    assert_eq!(ip, RELAY_IP, "bob sends to the relay");
    assert!((40_000..=40_099).contains(&to_alice) && (40_000..=40_099).contains(&to_bob));
    assert_ne!(to_alice, to_bob);
    assert_eq!(
        ack.headers().get(HeaderName::ContentLength),
        Some(ack.body().len().to_string().as_str()),
        "the ACK's Content-Length fits its new body"
    );
    assert_eq!(h.service.metrics().relay_sessions, 1);

    let out = send_media(&mut h, to_alice, "198.51.100.10:4000", rtp(1));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].local_port, out[0].destination),
        (to_bob, addr("198.51.100.20:5000"))
    );
    let out = send_media(&mut h, to_bob, "198.51.100.20:5000", rtp(1));
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].local_port, out[0].destination),
        (to_alice, addr("198.51.100.10:4000"))
    );
}

#[test]
fn a_retransmitted_200_names_the_same_relay_port() {
    let (mut h, mut alice, bob) = relaying(40_000..=40_099);
    alice_invites_with(&mut h, &mut alice, "");
    let invite = h.request_to(&bob, Method::Invite);
    bob_answers_with(&mut h, &bob, &invite, &sdp("198.51.100.20", 5000));
    bob_answers_with(&mut h, &bob, &invite, &sdp("198.51.100.20", 5000));
    let oks: Vec<Response> = h
        .responses(&alice)
        .into_iter()
        .filter(|r| r.status() == StatusCode::OK)
        .collect();
    assert_eq!(oks.len(), 2, "both 200s reach alice");
    assert_eq!(media_of(oks[0].body()), media_of(oks[1].body()));
    assert_eq!(media_of(oks[0].body()).0, RELAY_IP);
    assert_eq!(h.service.metrics().relay_sessions, 1);
}

/// A server relaying by `auto`, bob registered directly.
fn auto() -> (Server, Phone) {
    let mut h = Server::with(|config| {
        config.media = MediaConfig::new(MediaPolicy::Auto, RelayConfig::default(), Some(RELAY_IP));
    });
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    (h, bob)
}

#[test]
fn auto_anchors_a_late_offer_only_when_a_party_is_behind_a_nat() {
    let (mut h, bob) = auto();
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let (ok, ack) = late_offer_call(&mut h, &mut alice, &bob);
    assert_eq!(
        media_of(ok.body()),
        (IpAddr::from([198, 51, 100, 20]), 5000),
        "nobody behind a NAT: bob's own offer"
    );
    assert_eq!(
        media_of(ack.body()),
        (IpAddr::from([198, 51, 100, 10]), 4000)
    );

    let (mut h, bob) = auto();
    let mut alice = Phone::behind_nat("alice", "198.51.100.10:40123", "10.0.0.10:5060");
    let (ok, ack) = late_offer_call(&mut h, &mut alice, &bob);
    assert_eq!(
        media_of(ok.body()).0,
        RELAY_IP,
        "alice's Contact is behind a NAT"
    );
    assert_eq!(media_of(ack.body()).0, RELAY_IP);
}
