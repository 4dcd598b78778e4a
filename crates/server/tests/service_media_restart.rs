//! A call anchored on the media relay across a restart, on a virtual
//! clock: its dialog record says it was relayed and keeps the SDP each
//! party sent and received; the server started from the store sets the
//! relay session up again on the same ports and keys, and media flows
//! between the phones as before. When it cannot (the relay is off now), it
//! ends the call at once with a BYE to each party (Reason: the relay
//! restarted), records it as `relay-lost` (still marked relayed) and drops
//! its dialog record, instead of leaving both phones sending to dead ports.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::media::{always, answered_call, media_of, relaying, rtp, send_media};
use service_harness::{Server, addr};
use switchboard_proto::{HeaderName, Method};
use switchboard_server::storage::{HangupSide, StateChange, StoredState};

/// A server started 5 s after `old` stopped, from what `old` stored;
/// relaying every call when `relay`.
fn restarted(old: &Server, relay: bool) -> Server {
    let mut h = Server::started_at(old.now.since_epoch() + Duration::from_secs(5), |config| {
        if relay {
            config.media = always(40_000..=40_099);
        }
    });
    let bindings = old.upserted_bindings();
    let dialogs = old.kept_dialogs();
    h.command(|service, _, _| {
        service.load_bindings(bindings);
        service.load_state(StoredState {
            dialogs,
            ..StoredState::default()
        });
    });
    h
}

#[test]
fn a_relayed_call_taken_back_after_a_restart_keeps_its_relay_ports_and_media_flows() {
    let (mut old, mut alice, bob) = relaying(40_000..=40_099);
    let (invite, ok) = answered_call(&mut old, &mut alice, &bob);
    let (_, to_bob) = media_of(invite.body());
    let (_, to_alice) = media_of(ok.body());
    let dialogs = old.kept_dialogs();
    assert!(dialogs[0].relayed && dialogs[0].relay_sdp.is_some());

    let mut h = restarted(&old, true);
    h.run_for(Duration::from_secs(1));
    for phone in [&alice, &bob] {
        assert!(h.requests(phone).iter().all(|r| r.method() != &Method::Bye));
    }
    let out = send_media(&mut h, to_alice, "198.51.100.10:4000", rtp(1));
    assert_eq!(out.len(), 1, "alice's packet reaches bob again");
    assert_eq!(
        (out[0].local_port, out[0].destination),
        (to_bob, addr("198.51.100.20:5000"))
    );
    let out = send_media(&mut h, to_bob, "198.51.100.20:5000", rtp(1));
    assert_eq!(
        out.iter().map(|t| t.destination).collect::<Vec<_>>(),
        [addr("198.51.100.10:4000")]
    );
    let now = h.now;
    let media = h.service.live_calls(now)[0].media.clone().unwrap();
    assert_eq!(
        (media.caller.relay_ports, media.callee.relay_ports),
        (vec![to_alice], vec![to_bob])
    );
}

#[test]
fn a_relayed_call_the_relay_cannot_take_back_is_ended_and_recorded_so() {
    let (mut old, mut alice, bob) = relaying(40_000..=40_099);
    answered_call(&mut old, &mut alice, &bob);
    assert!(old.kept_dialogs()[0].relayed);

    // The relay is off after the restart.
    let mut h = restarted(&old, false);
    h.run_for(Duration::from_millis(100));
    for phone in [&alice, &bob] {
        let bye = h
            .requests(phone)
            .into_iter()
            .find(|r| r.method() == &Method::Bye)
            .unwrap_or_else(|| panic!("a BYE to {}", phone.user));
        assert!(
            bye.headers()
                .get(HeaderName::Reason)
                .is_some_and(|r| r.contains("Media relay restarted")),
            "{bye:?}"
        );
        h.respond(phone, &bye, 200);
    }
    h.run_for(Duration::from_secs(1));
    let record = h.last_record();
    assert_eq!(record.hangup, Some(HangupSide::RelayLost));
    assert!(record.end_ms.is_some());
    assert!(record.media.is_some(), "still marked relayed");
    assert_eq!(h.service.metrics().calls_ended_relay_lost, 1);
    assert!(
        h.saved
            .iter()
            .any(|c| matches!(c, StateChange::RemoveDialog { .. })),
        "the dialog record goes"
    );
    assert!(h.kept_dialogs().is_empty());
}

#[test]
fn an_unrelayed_call_taken_back_goes_on() {
    let (mut old, mut alice, bob) = Server::with_bob();
    answered_call(&mut old, &mut alice, &bob);
    assert!(!old.kept_dialogs()[0].relayed);
    let mut h = restarted(&old, true);
    h.run_for(Duration::from_secs(1));
    for phone in [&alice, &bob] {
        assert!(h.requests(phone).iter().all(|r| r.method() != &Method::Bye));
    }
    let now = h.now;
    assert_eq!(h.service.live_calls(now).len(), 1);
}
