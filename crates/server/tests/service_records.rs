//! Call detail records on a virtual clock: one record per call the proxy
//! routes, saved through the runtime's store (`Effect::Save` with
//! `StateChange::PutCallRecord`) at the answer and at the end, with the
//! disposition, the final status, the times and who hung up; the dial
//! plan's rule and target; retention as a store change.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Server, UNIX0, answer, plan};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response, StatusCode};
use switchboard_server::storage::{CallRecord, Disposition, HangupSide, StateChange};

const START_MS: u64 = UNIX0 * 1000;

/// The call records saved so far, in order.
fn records(h: &Server) -> Vec<CallRecord> {
    h.saved
        .iter()
        .filter_map(|c| match c {
            StateChange::PutCallRecord(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// The one record saved since `before` records were.
fn last_record(h: &Server, before: usize) -> CallRecord {
    let all = records(h);
    assert_eq!(all.len(), before + 1, "one more record saved: {all:#?}");
    all.into_iter().last().unwrap()
}

/// Alice (198.51.100.10) calls `uri`, authenticated; the INVITE that
/// passed (to CANCEL it) and the one bob's phone received.
fn alice_calls(h: &mut Server, alice: &mut Phone, uri: &str) -> (Request, Request) {
    let first = alice.call(Method::Invite, uri).build().unwrap();
    h.send(alice, first.clone());
    let challenge = h.final_response(alice);
    let password = h.password(alice);
    let credentials = answer(&challenge, ("alice", &password), &Method::Invite, uri, 1);
    let invite = alice
        .call(Method::Invite, uri)
        .header(credentials.0, credentials.1)
        .build()
        .unwrap();
    h.send(alice, invite.clone());
    let mut forwarded: Vec<Request> = h
        .take_requests()
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| r.method() == &Method::Invite)
        .collect();
    assert_eq!(forwarded.len(), 1, "the INVITE was forwarded");
    (invite, forwarded.remove(0))
}

/// Bob answers `invite` with 200 after `ring`: the 2xx alice got.
fn answered_call(
    h: &mut Server,
    alice: &mut Phone,
    bob: &Phone,
    ring: Duration,
) -> (Request, Response) {
    let (_, invite) = alice_calls(h, alice, "sip:bob@example.com");
    h.respond(bob, &invite, 180);
    h.run_for(ring);
    h.respond(bob, &invite, 200);
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    (invite, ok)
}

#[test]
fn an_answered_call_is_saved_at_the_answer_and_again_when_the_caller_hangs_up() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let before = records(&h).len();
    let (invite, ok) = answered_call(&mut h, &mut alice, &bob, Duration::from_secs(4));

    // Written at the answer: a crash after it keeps the call.
    let at_answer = last_record(&h, before);
    assert_eq!(at_answer.call_id, invite.headers().call_id().unwrap());
    assert_eq!(at_answer.caller, "sip:alice@example.com");
    assert_eq!(at_answer.caller_user.as_deref(), Some("alice@example.com"));
    assert_eq!(at_answer.callee, "sip:bob@example.com");
    assert_eq!(at_answer.dialled, "sip:bob@example.com");
    assert_eq!(at_answer.source, "udp 198.51.100.10:5060");
    assert_eq!(at_answer.disposition, Disposition::Answered);
    assert_eq!(at_answer.status, Some(200));
    assert_eq!(at_answer.start_ms, START_MS);
    assert_eq!(at_answer.answer_ms, Some(START_MS + 4_000));
    assert_eq!(at_answer.end_ms, None);
    assert_eq!(at_answer.routed_number, None, "no dial plan");

    h.run_for(Duration::from_secs(61));
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    let ended = last_record(&h, before + 1);
    assert_eq!(ended.id, at_answer.id, "the same record, updated");
    assert_eq!(ended.end_ms, Some(START_MS + 65_000));
    assert_eq!(ended.duration_ms(), Some(61_000));
    assert_eq!(ended.hangup, Some(HangupSide::Caller));
    assert_eq!(ended.disposition, Disposition::Answered);
}

/// The BYE of the callee `phone` in the dialog of the INVITE it got: its
/// tag in From, the caller's in To, to the caller's Contact along the
/// route set.
fn bye_from(phone: &Phone, invite: &Request) -> Request {
    let hi = invite.headers();
    let contact = service_harness::uri_of(hi.get(HeaderName::Contact).unwrap());
    let via = format!(
        "SIP/2.0/UDP {};branch=z9hG4bK-{}-bye;rport",
        phone.local, phone.user
    );
    let mut bye = RequestBuilder::new(Method::Bye, &contact)
        .header(HeaderName::Via, via)
        .header(
            HeaderName::From,
            format!("{};tag={}-tag", hi.get(HeaderName::To).unwrap(), phone.user),
        )
        .header(HeaderName::To, hi.get(HeaderName::From).unwrap())
        .call_id(hi.call_id().unwrap())
        .cseq(1);
    for route in hi.values(HeaderName::RecordRoute) {
        bye = bye.header(HeaderName::Route, route);
    }
    bye.build().unwrap()
}

#[test]
fn a_bye_from_the_callee_is_recorded_as_the_callee_hanging_up() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let before = records(&h).len();
    let (invite, _) = answered_call(&mut h, &mut alice, &bob, Duration::from_secs(1));
    h.run_for(Duration::from_secs(10));

    h.send(&bob, bye_from(&bob, &invite));
    let ended = last_record(&h, before + 1);
    assert_eq!(ended.hangup, Some(HangupSide::Callee));
    assert_eq!(ended.duration_ms(), Some(10_000));
}

/// Bob answers alice's call with `status`: the record saved, and the
/// final status alice got.
fn refused_with(status: u16) -> (CallRecord, u16) {
    let (mut h, mut alice, bob) = Server::with_bob();
    let before = records(&h).len();
    let (_, invite) = alice_calls(&mut h, &mut alice, "sip:bob@example.com");
    h.run_for(Duration::from_secs(2));
    h.respond(&bob, &invite, status);
    let got = h.status(&alice);
    (last_record(&h, before), got)
}

#[test]
fn busy_no_answer_and_failed_calls_have_their_disposition_and_final_status() {
    for (status, disposition) in [
        (486, Disposition::Busy),
        (480, Disposition::NoAnswer),
        (408, Disposition::NoAnswer),
        (503, Disposition::Failed),
    ] {
        let (record, got) = refused_with(status);
        assert_eq!(record.disposition, disposition, "{status}");
        assert_eq!(record.status, Some(got), "the status the caller got");
        assert_eq!(record.answer_ms, None);
        assert_eq!(record.end_ms, Some(START_MS + 2_000), "{status}");
        assert_eq!(record.duration_ms(), None);
        assert_eq!(record.hangup, None);
    }
}

#[test]
fn a_call_nobody_answers_ends_as_no_answer_at_timer_c() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let before = records(&h).len();
    let (_, invite) = alice_calls(&mut h, &mut alice, "sip:bob@example.com");
    h.respond(&bob, &invite, 180);
    // Bob's phone rings on and never answers the CANCEL either.
    h.run_for(Duration::from_secs(240));
    let record = last_record(&h, before);
    assert_eq!(record.disposition, Disposition::NoAnswer);
    assert_eq!(record.status, Some(408));
}

#[test]
fn a_call_the_caller_cancels_is_recorded_as_cancelled() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let before = records(&h).len();
    let (sent, invite) = alice_calls(&mut h, &mut alice, "sip:bob@example.com");
    h.respond(&bob, &invite, 180);
    h.run_for(Duration::from_secs(3));
    let si = sent.headers();
    let cancel = RequestBuilder::new(Method::Cancel, sent.uri_str())
        .header(HeaderName::Via, si.get(HeaderName::Via).unwrap())
        .header(HeaderName::From, si.get(HeaderName::From).unwrap())
        .header(HeaderName::To, si.get(HeaderName::To).unwrap())
        .call_id(si.call_id().unwrap())
        .cseq(si.cseq().unwrap().seq)
        .build()
        .unwrap();
    h.send(&alice, cancel);
    let record = last_record(&h, before);
    assert_eq!(record.disposition, Disposition::Cancelled);
    assert_eq!(record.status, Some(487));
    assert_eq!(record.end_ms, Some(START_MS + 3_000));
    // Bob's 487 and the 487 to alice add no second record.
    let cancel_to_bob = h.request_to(&bob, Method::Cancel);
    h.respond(&bob, &cancel_to_bob, 200);
    h.respond(&bob, &invite, 487);
    let statuses: Vec<u16> = h
        .responses(&alice)
        .iter()
        .map(|r| r.status().as_u16())
        .filter(|s| *s >= 200)
        .collect();
    assert_eq!(statuses, [200, 487], "the CANCEL's 200, the INVITE's 487");
    assert_eq!(records(&h).len(), before + 1);
}

#[test]
fn a_failed_save_is_not_retried_and_the_calls_go_on() {
    let (mut h, mut alice, bob) = Server::with_bob();
    h.save_reply = service_harness::Reply::Fail;
    let (_, ok) = answered_call(&mut h, &mut alice, &bob, Duration::from_secs(1));
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    let bye = h.request_to(&bob, Method::Bye);
    h.respond(&bob, &bye, 200);
    assert_eq!(h.status(&alice), 200, "the BYE passed");
    assert_eq!(h.service.records().open_count(), 0);
}

#[test]
fn a_call_routed_by_the_plan_records_the_rule_target_number_and_trunk() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let plan = plan(
        r#"
[[trunk]]
name = "carrier"
gateways = ["sip:198.51.100.50:5060"]

[[route]]
name = "short to bob"
to = ["200"]
user = "bob"

[[route]]
name = "out"
to_prefix = ["00"]
strip = 2
trunks = ["carrier"]
"#,
    );
    h.command(|service, _, _| {
        service.set_plan(plan);
    });
    let before = records(&h).len();
    let (_, invite) = alice_calls(&mut h, &mut alice, "sip:200@example.com");
    h.respond(&bob, &invite, 486);
    assert_eq!(h.status(&alice), 486);
    let record = last_record(&h, before);
    assert_eq!(record.rule.as_deref(), Some("short to bob"));
    assert_eq!(record.target.as_deref(), Some("user:bob"));
    assert_eq!(record.routed_number.as_deref(), Some("200"));
    assert_eq!(record.dialled, "sip:200@example.com");
    assert_eq!(record.trunk, None);

    alice.call_id = "alice-call-2".to_owned();
    let gateway = Phone::new("gw", "198.51.100.50:5060");
    let (_, invite) = alice_calls(&mut h, &mut alice, "sip:0033123456@example.com");
    h.respond(&gateway, &invite, 404);
    let record = last_record(&h, before + 1);
    assert_eq!(record.rule.as_deref(), Some("out"));
    assert_eq!(record.target.as_deref(), Some("trunk:carrier"));
    assert_eq!(record.routed_number.as_deref(), Some("33123456"));
    assert_eq!(record.trunk.as_deref(), Some("carrier"));
    assert_eq!(record.gateway.as_deref(), Some("sip:198.51.100.50:5060"));
    assert_eq!(record.disposition, Disposition::Failed);
    assert_eq!(record.status, Some(404));
}

#[test]
fn a_carrier_leg_with_its_own_call_id_is_recorded_under_the_callers_and_its_bye_ends_it() {
    let (mut h, mut alice, _) = Server::with_bob();
    h.use_plan(service_harness::CARRIER_PLAN);
    let before = records(&h).len();
    let gateway = Phone::new("gw", "198.51.100.50:5060");
    let (sent, invite) = alice_calls(&mut h, &mut alice, "sip:0033123456@example.com");
    let carrier_call_id = invite.headers().call_id().unwrap();
    assert_ne!(carrier_call_id, sent.headers().call_id().unwrap());
    h.respond(&gateway, &invite, 200);
    assert_eq!(h.status(&alice), 200);
    let answered = last_record(&h, before);
    assert_eq!(answered.call_id, "alice-call-1", "the caller's Call-ID");
    assert_eq!(answered.trunk.as_deref(), Some("carrier"));

    h.run_for(Duration::from_secs(30));
    h.send(&gateway, bye_from(&gateway, &invite));
    let ended = last_record(&h, before + 1);
    assert_eq!(ended.hangup, Some(HangupSide::Callee));
    assert_eq!(ended.duration_ms(), Some(30_000));
    assert_eq!(ended.gateway.as_deref(), Some("sip:198.51.100.50:5060"));
}

#[test]
fn records_older_than_the_retention_are_deleted_by_the_housekeeping_hourly() {
    let mut h = Server::with(|c| c.records_keep = Some(Duration::from_secs(24 * 3600)));
    let retention = |h: &Server| -> Vec<u64> {
        h.saved
            .iter()
            .filter_map(|c| match c {
                StateChange::RemoveCallRecordsBefore { start_ms } => Some(*start_ms),
                _ => None,
            })
            .collect()
    };
    assert!(retention(&h).is_empty());
    h.run_for(Duration::from_secs(31));
    let day_ms = 24 * 3600 * 1000;
    assert_eq!(
        retention(&h),
        [START_MS + 30_000 - day_ms],
        "at the first housekeeping"
    );
    h.run_for(Duration::from_secs(3000));
    assert_eq!(retention(&h).len(), 1, "not again within the hour");
    h.run_for(Duration::from_secs(700));
    assert_eq!(
        retention(&h),
        [START_MS + 30_000 - day_ms, START_MS + 3_630_000 - day_ms]
    );
}

#[test]
fn with_a_flush_time_records_are_written_in_batches_and_a_short_call_once() {
    let mut h = Server::with(|c| c.records_flush = Duration::from_millis(250));
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let saves_before = h.saved.len();
    let (_, ok) = answered_call(&mut h, &mut alice, &bob, Duration::from_millis(20));
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    assert!(
        records(&h).is_empty(),
        "nothing written before the batch is due"
    );
    h.run_for(Duration::from_millis(300));
    let all = records(&h);
    assert_eq!(
        all.len(),
        1,
        "the answer and the end in one row write: {all:#?}"
    );
    assert_eq!(all[0].hangup, Some(HangupSide::Caller));
    assert!(all[0].end_ms.is_some());
    assert_eq!(h.saved.len(), saves_before + 1);
}
