//! The media relay in the service (`[media] relay`, issue 16), on a virtual
//! clock: the offer bob receives and the answer alice receives name the
//! relay's address and ports; packets are forwarded both ways once each
//! leg latched; a stranger's packets are dropped and counted; a full relay
//! refuses the call with 503 before bob's phone rings; the BYE frees the
//! call's ports; a call silent for the media timeout is ended with a BYE
//! to both parties and recorded so; `auto` anchors only a caller behind
//! a NAT.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use bytes::Bytes;
use service_harness::{Phone, Server, addr};
use switchboard_proto::sdp::SessionDescription;
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};
use switchboard_relay::{RelayConfig, Transmit};
use switchboard_server::media::{MediaConfig, MediaPolicy};
use switchboard_server::storage::HangupSide;

const RELAY_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1));

/// A server relaying by `policy` on `ports`, silent calls ended after 10 s.
fn relaying(policy: MediaPolicy, ports: RangeInclusive<u16>) -> (Server, Phone, Phone) {
    let mut h = Server::with(|config| {
        let relay = RelayConfig {
            ports,
            media_timeout: Duration::from_secs(10),
            ..RelayConfig::default()
        };
        config.media = MediaConfig::new(policy, relay, Some(RELAY_IP));
    });
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    (h, Phone::new("alice", "198.51.100.10:5060"), bob)
}

/// An SDP of one audio stream at `ip:port`.
fn sdp(ip: &str, port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
}

/// The connection address and audio port a body names.
fn media_of(body: &Bytes) -> (IpAddr, u16) {
    let sdp = SessionDescription::parse(std::str::from_utf8(body).unwrap()).unwrap();
    let ip = sdp.media_connection(0).unwrap().ip_addr().unwrap();
    (ip, sdp.media[0].port)
}

/// Alice's INVITE for bob offering media at `ip:port`, authenticated.
fn alice_invites(h: &mut Server, alice: &mut Phone, ip: &str, port: u16) {
    let password = h.password(alice);
    let offer = sdp(ip, port);
    h.authenticate(alice, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", offer.clone())
    });
}

/// Bob's 200 OK to `invite` answering with media at 198.51.100.20:5000.
fn bob_answers(h: &mut Server, bob: &Phone, invite: &Request) {
    let ok = ResponseBuilder::from_request(invite, StatusCode::OK)
        .to_tag("bob-tag")
        .header(HeaderName::Contact, bob.contact.clone())
        .body("application/sdp", sdp("198.51.100.20", 5000))
        .build()
        .unwrap();
    h.send(bob, ok);
}

/// A call from alice (media at 198.51.100.10:4000) to bob, answered and
/// acknowledged: bob's INVITE and alice's 200 OK.
fn call(h: &mut Server, alice: &mut Phone, bob: &Phone) -> (Request, Response) {
    alice_invites(h, alice, "198.51.100.10", 4000);
    let invite = h.request_to(bob, Method::Invite);
    bob_answers(h, bob, &invite);
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(alice, ack);
    h.request_to(bob, Method::Ack);
    (invite, ok)
}

/// An RTP packet (PCMU, 20 ms).
fn rtp(seq: u16) -> Bytes {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&0xA1B2_C3D4_u32.to_be_bytes());
    packet.extend_from_slice(&[0xFF; 160]);
    packet.into()
}

/// `source` sends a packet to the relay's `port`; what the relay sends.
fn packet(h: &mut Server, port: u16, source: &str, seq: u16) -> Vec<Transmit> {
    let now = h.now;
    h.service.handle_media(now, port, addr(source), rtp(seq));
    std::iter::from_fn(|| h.service.poll_media_transmit()).collect()
}

fn sent(port: u16, to: &str) -> (u16, SocketAddr) {
    (port, addr(to))
}

fn routes(transmits: &[Transmit]) -> Vec<(u16, SocketAddr)> {
    transmits
        .iter()
        .map(|t| (t.local_port, t.destination))
        .collect()
}

/// The last INVITE sent to `phone` (after the ACK of an earlier failure).
fn last_invite(h: &mut Server, phone: &Phone) -> Request {
    h.requests(phone)
        .into_iter()
        .rfind(|r| r.method() == &Method::Invite)
        .expect("an INVITE")
}

/// The first BYE sent to `phone` (the server retransmits it until answered).
fn first_bye(h: &mut Server, phone: &Phone) -> Request {
    h.requests(phone)
        .into_iter()
        .find(|r| r.method() == &Method::Bye)
        .expect("a BYE")
}

#[test]
fn offer_and_answer_name_the_relay_and_media_flows_both_ways() {
    let (mut h, mut alice, bob) = relaying(MediaPolicy::Always, 40_000..=40_099);
    let (invite, ok) = call(&mut h, &mut alice, &bob);

    let (ip, to_bob) = media_of(invite.body());
    assert_eq!(ip, RELAY_IP, "bob sends to the relay");
    assert!((40_000..=40_099).contains(&to_bob));
    let (ip, to_alice) = media_of(ok.body());
    assert_eq!(ip, RELAY_IP, "alice sends to the relay");
    assert!((40_000..=40_099).contains(&to_alice));
    assert_ne!(to_alice, to_bob);
    assert_eq!(h.service.metrics().relay_sessions, 1);

    // Alice to bob: out of bob's port, to bob's SDP address.
    let out = packet(&mut h, to_alice, "198.51.100.10:4000", 1);
    assert_eq!(routes(&out), [sent(to_bob, "198.51.100.20:5000")]);
    assert_eq!(out[0].bytes, rtp(1));
    // Bob to alice.
    let out = packet(&mut h, to_bob, "198.51.100.20:5000", 1);
    assert_eq!(routes(&out), [sent(to_alice, "198.51.100.10:4000")]);
    assert_eq!(
        h.service.metrics().relay_packets,
        2,
        "both forwarded, counted"
    );

    // A stranger at alice's port is not heard, and counted.
    let before = h.service.metrics().relay_dropped;
    assert!(packet(&mut h, to_alice, "192.0.2.99:4000", 2).is_empty());
    assert_eq!(h.service.metrics().relay_dropped, before + 1);
    let out = packet(&mut h, to_alice, "198.51.100.10:4000", 3);
    assert_eq!(routes(&out), [sent(to_bob, "198.51.100.20:5000")]);

    // Alice hangs up: the session and its ports are gone.
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    let at_bob = h.request_to(&bob, Method::Bye);
    h.respond(&bob, &at_bob, 200);
    assert_eq!(h.service.metrics().relay_sessions, 0);
    assert!(packet(&mut h, to_alice, "198.51.100.10:4000", 4).is_empty());
}

#[test]
fn a_re_invite_from_the_callee_moves_its_media() {
    let (mut h, mut alice, bob) = relaying(MediaPolicy::Always, 40_000..=40_099);
    let (invite, ok) = call(&mut h, &mut alice, &bob);
    let (_, to_bob) = media_of(invite.body());
    let (_, to_alice) = media_of(ok.body());

    // Bob's re-INVITE, from a new address: alice is offered the relay's
    // same port, and bob's new address gets her media.
    let reinvite = service_harness::from_callee(&bob, &invite, Method::Invite, 2)
        .body("application/sdp", sdp("198.51.100.21", 6000))
        .build()
        .unwrap();
    h.send(&bob, reinvite);
    let at_alice = h.request_to(&alice, Method::Invite);
    assert_eq!(media_of(at_alice.body()), (RELAY_IP, to_alice));
    let answer = ResponseBuilder::from_request(&at_alice, StatusCode::OK)
        .header(HeaderName::Contact, alice.contact.clone())
        .body("application/sdp", sdp("198.51.100.10", 4000))
        .build()
        .unwrap();
    h.send(&alice, answer);
    let at_bob = h
        .responses(&bob)
        .into_iter()
        .find(|r| r.status() == StatusCode::OK)
        .expect("the 200 OK reaches bob");
    assert_eq!(media_of(at_bob.body()), (RELAY_IP, to_bob));

    let out = packet(&mut h, to_alice, "198.51.100.10:4000", 1);
    assert_eq!(routes(&out), [sent(to_bob, "198.51.100.21:6000")]);
}

#[test]
fn a_refused_or_cancelled_call_frees_its_session() {
    let (mut h, mut alice, bob) = relaying(MediaPolicy::Always, 40_000..=40_099);
    alice_invites(&mut h, &mut alice, "198.51.100.10", 4000);
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(h.service.metrics().relay_sessions, 1);
    h.respond(&bob, &invite, 486);
    assert_eq!(h.status(&alice), 486);
    assert_eq!(h.service.metrics().relay_sessions, 0);

    alice.call_id = "alice-call-2".to_owned();
    alice_invites(&mut h, &mut alice, "198.51.100.10", 4000);
    let invite = last_invite(&mut h, &bob);
    h.respond(&bob, &invite, 180);
    assert_eq!(h.service.metrics().relay_sessions, 1);
    let call_id = invite.headers().call_id().unwrap().to_owned();
    h.command(|service, now, ep| {
        service.hang_up(now, ep, &call_id).unwrap();
    });
    let cancel = h.request_to(&bob, Method::Cancel);
    h.respond(&bob, &cancel, 200);
    h.respond(&bob, &invite, 487);
    assert_eq!(h.service.metrics().relay_sessions, 0);
}

#[test]
fn a_full_relay_refuses_the_call_with_503_before_the_callee_rings() {
    // Four ports: one call of one stream without rtcp-mux (two pairs).
    let (mut h, mut alice, bob) = relaying(MediaPolicy::Always, 40_000..=40_003);
    let (_, ok) = call(&mut h, &mut alice, &bob);

    let mut carol = Phone::new("carol", "198.51.100.30:5060");
    let password = h.password(&carol);
    h.authenticate(&mut carol, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", sdp("198.51.100.30", 7000))
    });
    let refused = h.final_response(&carol);
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        h.service.metrics().relay_refused,
        1,
        "the refusal is counted"
    );
    assert!(
        h.requests(&bob)
            .iter()
            .all(|r| r.method() != &Method::Invite),
        "bob's phone never rang for carol"
    );

    // The first call ends: its ports serve the next one.
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    let at_bob = h.request_to(&bob, Method::Bye);
    h.respond(&bob, &at_bob, 200);
    carol.call_id = "carol-call-2".to_owned();
    h.authenticate(&mut carol, &password, |phone| {
        phone
            .call(Method::Invite, "sip:bob@example.com")
            .body("application/sdp", sdp("198.51.100.30", 7000))
    });
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(media_of(invite.body()).0, RELAY_IP);
}

#[test]
fn a_call_without_media_for_the_timeout_is_ended_and_recorded() {
    let (mut h, mut alice, bob) = relaying(MediaPolicy::Always, 40_000..=40_099);
    let (_, ok) = call(&mut h, &mut alice, &bob);
    let (_, to_alice) = media_of(ok.body());
    h.run_for(Duration::from_secs(8));
    packet(&mut h, to_alice, "198.51.100.10:4000", 1);
    h.run_for(Duration::from_secs(8));
    assert!(
        h.requests(&alice)
            .iter()
            .all(|r| r.method() != &Method::Bye),
        "media 8 s ago: the call goes on"
    );

    h.run_for(Duration::from_secs(4));
    let to_alice = first_bye(&mut h, &alice);
    let to_bob = first_bye(&mut h, &bob);
    for bye in [&to_alice, &to_bob] {
        assert!(
            bye.headers()
                .get(HeaderName::Reason)
                .is_some_and(|r| r.contains("Media timeout"))
        );
    }
    h.respond(&alice, &to_alice, 200);
    h.respond(&bob, &to_bob, 200);
    h.run_for(Duration::from_secs(1));
    assert_eq!(h.last_record().hangup, Some(HangupSide::MediaTimeout));
    assert_eq!(h.service.metrics().calls_ended_media_timeout, 1);
    assert_eq!(h.service.metrics().relay_sessions, 0);
}

#[test]
fn auto_anchors_a_caller_behind_a_nat_only() {
    let (mut h, mut alice, bob) = relaying(MediaPolicy::Auto, 40_000..=40_099);
    // Alice's SDP names the address her packets come from: direct.
    alice_invites(&mut h, &mut alice, "198.51.100.10", 4000);
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(
        media_of(invite.body()),
        (IpAddr::from([198, 51, 100, 10]), 4000)
    );
    h.respond(&bob, &invite, 486);
    assert_eq!(h.status(&alice), 486);

    // A private address in her SDP: relayed.
    alice.call_id = "alice-call-2".to_owned();
    alice_invites(&mut h, &mut alice, "10.0.0.5", 4000);
    let invite = last_invite(&mut h, &bob);
    assert_eq!(media_of(invite.body()).0, RELAY_IP);
}

#[test]
fn auto_anchors_a_call_to_a_callee_behind_a_nat() {
    let mut h = Server::with(|config| {
        config.media = MediaConfig::new(MediaPolicy::Auto, RelayConfig::default(), Some(RELAY_IP));
    });
    let mut bob = Phone::behind_nat("bob", "198.51.100.20:40123", "10.0.0.20:5060");
    h.register(&mut bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    alice_invites(&mut h, &mut alice, "198.51.100.10", 4000);
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(media_of(invite.body()).0, RELAY_IP);
}

#[test]
fn never_leaves_the_sdp_alone() {
    let (mut h, mut alice, bob) = relaying(MediaPolicy::Never, 40_000..=40_099);
    alice_invites(&mut h, &mut alice, "10.0.0.5", 4000);
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(media_of(invite.body()), (IpAddr::from([10, 0, 0, 5]), 4000));
    assert!(h.service.media().is_none());
}
