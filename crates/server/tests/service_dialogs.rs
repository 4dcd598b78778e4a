//! Dialog records on a virtual clock: an answered call's record saved
//! (`StateChange::PutDialog`) and removed when it ends; a new server built
//! from what the store kept (a restart) relays the call's in-dialog
//! requests as before, lists it, hangs it up, maps a carrier's BYE to the
//! caller's Call-ID and completes the call's record; a record idle too
//! long is dropped at load.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Server, UNIX0, addr, bye_from};
use switchboard_core::Transport;
use switchboard_proto::{Method, Request, Response, StatusCode};
use switchboard_server::LiveState;
use switchboard_server::proxy::NextHop;
use switchboard_server::service::HangupAction;
use switchboard_server::storage::{
    DialogPhase, DialogRecord, HangupSide, StateChange, StoredState,
};

const START_MS: u64 = UNIX0 * 1000;

/// The dialog records the store holds after everything `h` saved.
fn kept(h: &Server) -> Vec<DialogRecord> {
    h.kept_dialogs()
}

fn removed(h: &Server) -> Vec<String> {
    h.saved
        .iter()
        .filter_map(|c| match c {
            StateChange::RemoveDialog { id } => Some(id.clone()),
            _ => None,
        })
        .collect()
}

/// The server started `after` the run of `old` ended (a kill -9 keeps
/// what `old` saved: every change here was acknowledged as durable), with
/// its bindings and kept state loaded and the plan `plan` in force.
fn restarted(old: &Server, after: Duration, plan: Option<&str>) -> Server {
    let mut h = Server::started_at(old.now.since_epoch() + after, |_| {});
    h.names = old.names.clone();
    if let Some(plan) = plan {
        h.use_plan(plan);
    }
    let bindings = old.upserted_bindings();
    let state = StoredState {
        dialogs: kept(old),
        ..StoredState::default()
    };
    h.command(|service, _, _| {
        service.load_bindings(bindings);
        service.load_state(state);
    });
    h
}

fn live(h: &mut Server) -> Vec<switchboard_server::LiveCall> {
    let mut calls = Vec::new();
    h.command(|service, now, _| calls = service.live_calls(now));
    calls
}

/// Alice calls `uri` (authenticated) and `callee`'s phone answers after
/// `ring`; alice acknowledges. The INVITE the callee got and alice's 2xx.
fn answered(
    h: &mut Server,
    alice: &mut Phone,
    callee: &Phone,
    uri: &str,
    ring: Duration,
) -> (Request, Response) {
    let password = h.password(alice);
    h.authenticate(alice, &password, |p| p.call(Method::Invite, uri));
    let invite = h.request_to(callee, Method::Invite);
    h.respond(callee, &invite, 180);
    h.run_for(ring);
    h.respond(callee, &invite, 200);
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(alice, ack);
    h.request_to(callee, Method::Ack);
    (invite, ok)
}

/// Alice's call to bob (registered), answered after `ring`: the server,
/// alice, bob, the INVITE bob got and alice's 2xx.
fn call_to_bob(ring: Duration) -> (Server, Phone, Phone, Request, Response) {
    let (mut h, mut alice, bob) = Server::with_bob();
    let (invite, ok) = call_bob(&mut h, &mut alice, &bob, ring);
    (h, alice, bob, invite, ok)
}

/// Alice's call to bob, answered after `ring`: the INVITE bob got and
/// alice's 2xx.
fn call_bob(h: &mut Server, alice: &mut Phone, bob: &Phone, ring: Duration) -> (Request, Response) {
    answered(h, alice, bob, "sip:bob@example.com", ring)
}

/// Dave, a user of another domain (elsewhere.example at 198.51.100.30).
fn dave(h: &mut Server) -> Phone {
    h.names.insert(
        "elsewhere.example".to_owned(),
        vec![NextHop::address(Transport::Udp, addr("198.51.100.30:5060"))],
    );
    Phone::new("dave", "198.51.100.30:5060")
}

#[test]
fn an_answered_call_is_kept_with_its_dialog_and_removed_by_its_bye() {
    let (mut h, mut alice, bob, invite, ok) = call_to_bob(Duration::from_secs(3));
    let dialogs = kept(&h);
    assert_eq!(dialogs.len(), 1, "one record for the answered call");
    let d = &dialogs[0];
    assert_eq!(d.call_id, alice.call_id);
    assert_eq!(d.id, DialogRecord::key(&alice.call_id, "alice-tag"));
    assert_eq!(d.phase, DialogPhase::Confirmed);
    assert_eq!(d.caller.uri, "sip:alice@example.com");
    assert_eq!(d.caller.tag, "alice-tag");
    assert_eq!(d.caller.aor.as_deref(), Some("alice@example.com"));
    assert_eq!(
        d.caller.contact.as_deref(),
        Some("sip:alice@198.51.100.10:5060")
    );
    assert_eq!(
        d.caller.source.unwrap().remote,
        addr("198.51.100.10:5060"),
        "where alice's requests came from"
    );
    assert_eq!(d.callee.uri, "sip:bob@example.com");
    assert_eq!(d.callee.tag, "bob-tag");
    assert_eq!(d.callee.aor.as_deref(), Some("bob@example.com"));
    assert_eq!(d.callee.source.unwrap().remote, addr("198.51.100.20:5060"));
    assert_eq!(d.dialled, "sip:bob@example.com");
    assert_eq!(
        d.route_set,
        invite
            .headers()
            .values(switchboard_proto::HeaderName::RecordRoute)
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        "the server's Record-Route"
    );
    assert!(!d.route_set.is_empty());
    assert_eq!(d.start_ms, START_MS);
    assert_eq!(d.answer_ms, Some(START_MS + 3_000));
    assert_eq!(d.caller_user.as_deref(), Some("alice@example.com"));
    assert_eq!(d.carrier_leg, None);
    // A retransmitted 2xx writes nothing more.
    let saves = h.saved.len();
    h.send(&bob, ok_of(&h, &bob, &invite));
    assert_eq!(
        h.saved
            .iter()
            .skip(saves)
            .filter(|c| matches!(c, StateChange::PutDialog(_)))
            .count(),
        0
    );

    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    assert_eq!(removed(&h), vec![d.id.clone()]);
    assert!(kept(&h).is_empty());
}

/// Bob's 2xx to `invite` again (a retransmission).
fn ok_of(_: &Server, bob: &Phone, invite: &Request) -> Response {
    switchboard_proto::ResponseBuilder::from_request(invite, StatusCode::OK)
        .to_tag("bob-tag")
        .header(switchboard_proto::HeaderName::Contact, bob.contact.clone())
        .build()
        .unwrap()
}

#[test]
fn a_call_that_is_not_answered_keeps_no_record() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
    });
    let invite = h.request_to(&bob, Method::Invite);
    h.respond(&bob, &invite, 180);
    h.respond(&bob, &invite, 486);
    assert_eq!(h.status(&alice), 486);
    assert!(
        !h.saved.iter().any(|c| matches!(
            c,
            StateChange::PutDialog(_) | StateChange::RemoveDialog { .. }
        )),
        "{:?}",
        h.saved
    );
}

#[test]
fn after_a_restart_the_callers_bye_passes_without_a_challenge_and_completes_the_record() {
    let (mut h, mut alice, _) = Server::with_bob();
    let dave = dave(&mut h);
    let (_, ok) = answered(
        &mut h,
        &mut alice,
        &dave,
        "sip:dave@elsewhere.example",
        Duration::from_secs(2),
    );
    let answered_record = h.last_record();

    // Without the records, a BYE to another domain is a request like any
    // other: alice is challenged.
    let mut fresh = restarted(&Server::new(), Duration::ZERO, None);
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    fresh.send(&alice, bye);
    assert_eq!(fresh.status(&alice), 407);

    // Restarted with them, 30 s later: relayed as before.
    let mut h = restarted(&h, Duration::from_secs(30), None);
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    let relayed = h.request_to(&dave, Method::Bye);
    assert!(h.responses(&alice).is_empty(), "no challenge, nothing yet");
    h.respond(&dave, &relayed, 200);
    assert_eq!(h.status(&alice), 200);

    let ended = h.last_record();
    assert_eq!(ended.id, answered_record.id, "the same record, completed");
    assert_eq!(ended.start_ms, START_MS);
    assert_eq!(ended.answer_ms, Some(START_MS + 2_000));
    assert_eq!(ended.end_ms, Some(START_MS + 32_000));
    assert_eq!(ended.duration_ms(), Some(30_000));
    assert_eq!(ended.hangup, Some(HangupSide::Caller));
    assert_eq!(ended.caller_user.as_deref(), Some("alice@example.com"));
    assert_eq!(removed(&h), vec![answered_record.id]);
}

#[test]
fn after_a_restart_the_call_is_listed_and_the_operator_can_hang_it_up() {
    let (mut h, mut alice, bob, _, ok) = call_to_bob(Duration::from_secs(5));
    // An INFO in the dialog 10 s later: the record is written again with
    // its CSeq and time.
    h.run_for(Duration::from_secs(10));
    let info_cseq = in_dialog_as(&mut h, &mut alice, &bob, &ok, Method::Info);
    assert_eq!(kept(&h)[0].caller.cseq, Some(info_cseq));
    assert_eq!(kept(&h)[0].updated_ms, START_MS + 15_000);
    let before = live(&mut h);
    let mut h = restarted(&h, Duration::from_secs(50), None);

    let calls = live(&mut h);
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.call_id, alice.call_id);
    assert_eq!(call.state, LiveState::Confirmed);
    assert_eq!(call.start_ms, START_MS);
    assert_eq!(call.answer_ms, Some(START_MS + 5_000));
    assert_eq!(call.duration_ms, 65_000);
    assert_eq!(call.caller_user.as_deref(), Some("alice@example.com"));
    assert_eq!(call.caller, before[0].caller);
    assert_eq!(call.callee, before[0].callee);
    assert_eq!(call.callee_contacts, before[0].callee_contacts);

    let mut action = None;
    h.command(|service, now, ep| action = Some(service.hang_up(now, ep, &alice.call_id)));
    assert_eq!(action, Some(Ok(HangupAction::Bye)));
    let to_bob = h.request_to(&bob, Method::Bye);
    assert_eq!(to_bob.headers().call_id(), Some(alice.call_id.as_str()));
    assert!(
        to_bob.headers().cseq().unwrap().seq > info_cseq,
        "numbered above alice's INFO before the restart"
    );
    assert_eq!(to_bob.headers().from_tag(), Some("alice-tag"));
    assert_eq!(to_bob.headers().to_tag(), Some("bob-tag"));
    let to_alice = h.request_to(&alice, Method::Bye);
    assert_eq!(to_alice.headers().from_tag(), Some("bob-tag"));
    let record = h.last_record();
    assert_eq!(record.hangup, Some(HangupSide::Server));
    assert_eq!(record.end_ms, Some(START_MS + 65_000));
    assert_eq!(kept(&h), Vec::new());
    assert!(live(&mut h).is_empty());
}

#[test]
fn after_a_restart_the_carriers_bye_reaches_the_caller_under_her_call_id() {
    let (mut h, mut alice, _) = Server::with_bob();
    h.use_plan(service_harness::CARRIER_PLAN);
    let gateway = Phone::new("gw", "198.51.100.50:5060");
    let (invite, _) = answered(
        &mut h,
        &mut alice,
        &gateway,
        "sip:0033123456@example.com",
        Duration::from_secs(1),
    );
    let carrier_call_id = invite.headers().call_id().unwrap().to_owned();
    assert_ne!(carrier_call_id, alice.call_id);
    let d = kept(&h).remove(0);
    assert_eq!(d.call_id, alice.call_id);
    assert_eq!(d.rule.as_deref(), Some("out"));
    assert_eq!(d.trunk.as_deref(), Some("carrier"));
    assert_eq!(d.carrier_leg.as_ref().unwrap().call_id, carrier_call_id);

    let mut h = restarted(
        &h,
        Duration::from_secs(20),
        Some(service_harness::CARRIER_PLAN),
    );
    let call = live(&mut h).remove(0);
    assert_eq!(call.rule.as_deref(), Some("out"));
    assert_eq!(call.trunk.as_deref(), Some("carrier"));

    h.send(&gateway, bye_from(&gateway, &invite));
    let to_alice = h.request_to(&alice, Method::Bye);
    assert_eq!(
        to_alice.headers().call_id(),
        Some(alice.call_id.as_str()),
        "the caller's own Call-ID"
    );
    h.respond(&alice, &to_alice, 200);
    let answer = h.final_response(&gateway);
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers().call_id(), Some(carrier_call_id.as_str()));

    let ended = h.last_record();
    assert_eq!(ended.hangup, Some(HangupSide::Callee));
    assert_eq!(ended.duration_ms(), Some(20_000));
    assert_eq!(ended.trunk.as_deref(), Some("carrier"));
    assert_eq!(ended.rule.as_deref(), Some("out"));
    assert_eq!(removed(&h), vec![d.id]);
}

#[test]
fn a_call_idle_beyond_the_limit_is_dropped_at_load() {
    let (h, ..) = call_to_bob(Duration::from_secs(1));
    let id = kept(&h)[0].id.clone();
    // Within the limit it is taken back; twelve hours idle, it is not.
    let mut recent = restarted(&h, Duration::from_secs(11 * 3600), None);
    assert_eq!(live(&mut recent).len(), 1);
    assert!(removed(&recent).is_empty());
    let mut stale = restarted(&h, Duration::from_secs(12 * 3600), None);
    assert!(live(&mut stale).is_empty());
    assert_eq!(removed(&stale), vec![id]);
}

#[test]
fn with_a_flush_time_the_record_goes_with_the_answers_batch_and_a_short_call_writes_none() {
    let mut h = Server::with(|c| c.records_flush = Duration::from_millis(250));
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let (_, ok) = call_bob(&mut h, &mut alice, &bob, Duration::from_millis(20));
    assert!(kept(&h).is_empty(), "not before the batch is due");
    h.run_for(Duration::from_millis(300));
    // One save: the call record's answer and the dialog together.
    let batch = h
        .effects
        .iter()
        .rev()
        .find_map(|(_, e)| match e {
            switchboard_server::Effect::Save { changes, .. } => Some(changes.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        matches!(
            batch[..],
            [StateChange::PutCallRecord(_), StateChange::PutDialog(_)]
        ),
        "{batch:#?}"
    );
    // An INFO's new version and the BYE in one batch: the store's copy
    // still goes.
    in_dialog_as(&mut h, &mut alice, &bob, &ok, Method::Info);
    in_dialog_as(&mut h, &mut alice, &bob, &ok, Method::Bye);
    h.run_for(Duration::from_millis(300));
    assert!(kept(&h).is_empty());
    assert_eq!(removed(&h).len(), 1);

    // A call over before its batch is written leaves no dialog change.
    let saves = h.saved.len();
    alice.call_id = "short-call".to_owned();
    let (_, ok) = call_bob(&mut h, &mut alice, &bob, Duration::from_millis(20));
    in_dialog_as(&mut h, &mut alice, &bob, &ok, Method::Bye);
    h.run_for(Duration::from_millis(300));
    let written: Vec<_> = h.saved.iter().skip(saves).collect();
    assert!(
        matches!(written[..], [StateChange::PutCallRecord(_)]),
        "{written:#?}"
    );

    // A clean stop writes what is queued: a call just answered is kept.
    alice.call_id = "at-the-stop".to_owned();
    call_bob(&mut h, &mut alice, &bob, Duration::from_millis(20));
    assert!(kept(&h).is_empty(), "not before the batch is due");
    h.command(|service, now, ep| service.shutdown(now, ep));
    assert_eq!(kept(&h).len(), 1);
    assert_eq!(kept(&h)[0].call_id, "at-the-stop");
}

/// Alice's request `method` in the dialog of `ok`, answered 200 by bob:
/// its CSeq number.
fn in_dialog_as(
    h: &mut Server,
    alice: &mut Phone,
    bob: &Phone,
    ok: &Response,
    method: Method,
) -> u32 {
    let request = alice.in_dialog(method.clone(), ok).build().unwrap();
    let cseq = request.headers().cseq().unwrap().seq;
    h.send(alice, request);
    let relayed = h.request_to(bob, method);
    h.respond(bob, &relayed, 200);
    assert_eq!(h.status(alice), 200);
    cseq
}
