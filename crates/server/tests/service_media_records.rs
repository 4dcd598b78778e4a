//! The media relay's counters where operators read them, on a virtual
//! clock: the record of a relayed call says, per party, the packets and
//! bytes it sent and was sent and what its RTCP reports said, at the end
//! of the call and at the media timeout; the live calls show each leg's
//! relay port and running counters (the leg that receives nothing is the
//! one-way audio); an unrelayed call's record has none.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::media::{answered_call, media_of, receiver_report, relaying, rtp, send_media};
use service_harness::{Phone, Server};
use switchboard_proto::{Method, Response};
use switchboard_server::storage::{CallRecord, HangupSide, MediaLeg};

/// Alice's BYE in the call of `ok`, answered by bob: the call's record.
fn alice_hangs_up(h: &mut Server, alice: &mut Phone, bob: &Phone, ok: &Response) -> CallRecord {
    let bye = alice.in_dialog(Method::Bye, ok).build().unwrap();
    h.send(alice, bye);
    let at_bob = h.request_to(bob, Method::Bye);
    h.respond(bob, &at_bob, 200);
    h.run_for(Duration::from_secs(1));
    let record = h.last_record();
    assert_eq!(record.hangup, Some(HangupSide::Caller));
    record
}

#[test]
fn a_relayed_calls_record_and_live_view_carry_each_legs_counters() {
    let (mut h, mut alice, bob) = relaying(40_000..=40_099);
    let (invite, ok) = answered_call(&mut h, &mut alice, &bob);
    let (_, to_bob) = media_of(invite.body());
    let (_, to_alice) = media_of(ok.body());

    // Alice talks (three packets), bob says nothing yet: one-way audio.
    for seq in 1..=3 {
        send_media(&mut h, to_alice, "198.51.100.10:4000", rtp(seq));
    }
    let now = h.now;
    let live = h.service.live_calls(now);
    let media = live[0]
        .media
        .clone()
        .expect("a relayed call shows its media");
    assert_eq!(media.caller.relay_ports, [to_alice]);
    assert_eq!(media.callee.relay_ports, [to_bob]);
    assert_eq!(
        (
            media.caller.counters.packets_in,
            media.caller.counters.packets_out
        ),
        (3, 0),
        "alice sends, hears nothing"
    );
    assert_eq!(
        (
            media.callee.counters.packets_in,
            media.callee.counters.packets_out
        ),
        (0, 3),
        "bob hears alice, sends nothing"
    );

    // Bob answers with two packets; alice reports 2 lost, jitter 80.
    for seq in 1..=2 {
        send_media(&mut h, to_bob, "198.51.100.20:5000", rtp(seq));
    }
    send_media(
        &mut h,
        to_alice + 1,
        "198.51.100.10:4001",
        receiver_report(2, 80),
    );

    let record = alice_hangs_up(&mut h, &mut alice, &bob, &ok);
    let media = record
        .media
        .expect("the record of a relayed call has counters");
    assert_eq!(
        media.caller,
        MediaLeg {
            packets_in: 4,
            bytes_in: 3 * 172 + 32,
            packets_out: 2,
            bytes_out: 2 * 172,
            lost: Some(2),
            jitter: Some(80),
        },
        "alice's three packets and her report in, bob's two out"
    );
    assert_eq!(
        media.callee,
        MediaLeg {
            packets_in: 2,
            bytes_in: 2 * 172,
            packets_out: 4,
            bytes_out: 3 * 172 + 32,
            lost: None,
            jitter: None,
        },
        "bob sent no report"
    );
}

#[test]
fn the_record_of_a_call_ended_by_the_media_timeout_keeps_its_counters() {
    let (mut h, mut alice, bob) = relaying(40_000..=40_099);
    let (_, ok) = answered_call(&mut h, &mut alice, &bob);
    let (_, to_alice) = media_of(ok.body());
    send_media(&mut h, to_alice, "198.51.100.10:4000", rtp(1));
    h.run_for(Duration::from_secs(12));
    let byes: Vec<_> = [&alice, &bob]
        .into_iter()
        .map(|phone| {
            h.requests(phone)
                .into_iter()
                .find(|r| r.method() == &Method::Bye)
                .expect("a BYE for the silent call")
        })
        .collect();
    h.respond(&alice, &byes[0], 200);
    h.respond(&bob, &byes[1], 200);
    h.run_for(Duration::from_secs(1));
    let record = h.last_record();
    assert_eq!(record.hangup, Some(HangupSide::MediaTimeout));
    let media = record.media.expect("relayed");
    assert_eq!(media.caller.packets_in, 1);
    assert_eq!(media.callee.packets_out, 1);
    assert_eq!(media.callee.packets_in, 0, "bob never sent");
}

#[test]
fn an_unrelayed_calls_record_has_no_media_counters() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let (_, ok) = answered_call(&mut h, &mut alice, &bob);
    let now = h.now;
    assert!(h.service.live_calls(now)[0].media.is_none());
    let record = alice_hangs_up(&mut h, &mut alice, &bob, &ok);
    assert_eq!(record.media, None);
}
