//! Re-INVITEs that change a relayed call's streams, on a virtual clock:
//! alice adds video (both parties see every stream anchored on the relay
//! and video flows through it), then removes it with port 0 (the stream
//! stays disabled in what each party receives and its relay ports are
//! freed).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use service_harness::media::{
    RELAY_IP, answered_call, relaying, rtp, sdp_streams, send_media, streams_of,
};
use service_harness::{Phone, Server, addr};
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};

/// Alice's re-INVITE in the call of `ok` offering `alice_ports`, bob's
/// 200 OK answering `bob_ports`: the offer bob got and the answer alice got.
fn reinvite(
    h: &mut Server,
    alice: &mut Phone,
    bob: &Phone,
    ok: &Response,
    alice_ports: &[u16],
    bob_ports: &[u16],
) -> (Request, Response) {
    let offer = alice
        .in_dialog(Method::Invite, ok)
        .body("application/sdp", sdp_streams("198.51.100.10", alice_ports))
        .build()
        .unwrap();
    h.send(alice, offer);
    let at_bob = h.request_to(bob, Method::Invite);
    let answer = ResponseBuilder::from_request(&at_bob, StatusCode::OK)
        .header(HeaderName::Contact, bob.contact.clone())
        .body("application/sdp", sdp_streams("198.51.100.20", bob_ports))
        .build()
        .unwrap();
    h.send(bob, answer);
    let at_alice = h
        .responses(alice)
        .into_iter()
        .rfind(|r| r.status() == StatusCode::OK)
        .expect("the 200 OK reaches alice");
    (at_bob, at_alice)
}

#[test]
fn video_added_then_removed_stays_anchored_and_frees_its_ports() {
    let (mut h, mut alice, bob) = relaying(40_000..=40_099);
    let (invite, ok) = answered_call(&mut h, &mut alice, &bob);
    let (_, to_bob) = streams_of(invite.body());
    let (_, to_alice) = streams_of(ok.body());

    let (offer, answer) = reinvite(&mut h, &mut alice, &bob, &ok, &[4000, 4002], &[5000, 5002]);
    let (ip, bob_sends) = streams_of(offer.body());
    assert_eq!(ip, RELAY_IP);
    let (ip, alice_sends) = streams_of(answer.body());
    assert_eq!(ip, RELAY_IP);
    assert_eq!(bob_sends[0], to_bob[0], "audio keeps its relay port");
    assert_eq!(alice_sends[0], to_alice[0]);
    let relay_range = 40_000..=40_099;
    assert!(relay_range.contains(&bob_sends[1]) && relay_range.contains(&alice_sends[1]));
    assert_ne!(bob_sends[1], alice_sends[1]);

    let out = send_media(&mut h, alice_sends[1], "198.51.100.10:4002", rtp(1));
    assert_eq!(out.len(), 1, "alice's video reaches bob");
    assert_eq!(
        (out[0].local_port, out[0].destination),
        (bob_sends[1], addr("198.51.100.20:5002"))
    );

    // Video removed: port 0 in both descriptions, the relay's video
    // ports no longer carry anything; audio goes on.
    let (offer, answer) = reinvite(&mut h, &mut alice, &bob, &ok, &[4000, 0], &[5000, 0]);
    assert_eq!(streams_of(offer.body()).1, [to_bob[0], 0]);
    assert_eq!(streams_of(answer.body()).1, [to_alice[0], 0]);
    assert!(send_media(&mut h, alice_sends[1], "198.51.100.10:4002", rtp(2)).is_empty());
    assert_eq!(
        send_media(&mut h, to_alice[0], "198.51.100.10:4000", rtp(3)).len(),
        1,
        "audio still flows"
    );
}
