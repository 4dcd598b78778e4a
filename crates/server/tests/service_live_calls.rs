//! The operator's live calls on a virtual clock: the list of calls in
//! progress (state, parties, devices, times) and the hang-up: a BYE to
//! both parties of an answered call with the dialog's Call-ID, tags, a
//! CSeq above the ones seen and the Route set towards each; a CANCEL of a
//! ringing call, the caller getting 487; the record's hang-up side.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Server, UNIX0, uri_of};
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};
use switchboard_server::service::{HangupAction, HangupError};
use switchboard_server::storage::{CallRecord, Disposition, HangupSide};
use switchboard_server::{LiveCall, LiveState};

const START_MS: u64 = UNIX0 * 1000;
/// A proxy between alice and the server (alice's side of the route set).
const UPSTREAM: &str = "<sip:edge.example.org;lr>";
/// A proxy between the server and bob (bob's host, for the harness's
/// delivery to bob: an SBC on his machine).
const DOWNSTREAM: &str = "<sip:198.51.100.20;lr>";

fn live(h: &mut Server) -> Vec<LiveCall> {
    let mut calls = Vec::new();
    h.command(|service, now, _| calls = service.live_calls(now));
    calls
}

fn hang_up(h: &mut Server, call_id: &str) -> Result<HangupAction, HangupError> {
    let mut result = Err(HangupError::UnknownCall(String::new()));
    h.command(|service, now, ep| result = service.hang_up(now, ep, call_id));
    result
}

fn last_record(h: &Server) -> CallRecord {
    h.last_record()
}

/// Alice calls bob, authenticated, through a proxy of hers that
/// record-routes ([`UPSTREAM`]) when `upstream`: the INVITE bob's phone
/// received.
fn alice_calls_bob(h: &mut Server, alice: &mut Phone, bob: &Phone, upstream: bool) -> Request {
    let password = h.password(alice);
    h.authenticate(alice, &password, |phone| {
        let invite = phone.call(Method::Invite, "sip:bob@example.com");
        if upstream {
            invite.header(HeaderName::RecordRoute, UPSTREAM)
        } else {
            invite
        }
    });
    h.request_to(bob, Method::Invite)
}

/// Bob's 200 to `invite` through a proxy of his that record-routes
/// ([`DOWNSTREAM`], above the Record-Route the INVITE came with).
fn bob_answers(h: &mut Server, bob: &Phone, invite: &Request) {
    let mut ok = ResponseBuilder::from_request(invite, StatusCode::OK)
        .to_tag("bob-tag")
        .header(HeaderName::Contact, bob.contact.clone())
        .build()
        .unwrap();
    ok.headers_mut()
        .push_front(HeaderName::RecordRoute, DOWNSTREAM);
    h.send(bob, ok);
}

/// Alice's request in the dialog of `ok` as it reaches the server: her
/// proxy ([`UPSTREAM`]) took its own Route off.
fn from_alice(alice: &mut Phone, method: Method, ok: &Response) -> Request {
    let mut request = alice.in_dialog(method, ok).build().unwrap();
    let routes: Vec<String> = request
        .headers()
        .values(HeaderName::Route)
        .filter(|r| *r != UPSTREAM)
        .map(str::to_owned)
        .collect();
    let headers = request.headers_mut();
    headers.remove_all(HeaderName::Route);
    for route in routes {
        headers.push(HeaderName::Route, route);
    }
    request
}

/// An answered call through both parties' proxies, whose 2xx alice
/// acknowledged; after it, alice sent an INFO in the dialog. Alice's 2xx,
/// the INVITE bob got and the INFO's CSeq number.
fn answered_call(h: &mut Server, alice: &mut Phone, bob: &Phone) -> (Response, Request, u32) {
    let invite = alice_calls_bob(h, alice, bob, true);
    h.respond(bob, &invite, 180);
    h.run_for(Duration::from_secs(4));
    bob_answers(h, bob, &invite);
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let ack = from_alice(alice, Method::Ack, &ok);
    h.send(alice, ack);
    let info = from_alice(alice, Method::Info, &ok);
    let info_cseq = info.headers().cseq().unwrap().seq;
    h.send(alice, info);
    let mut methods = Vec::new();
    for request in h.requests(bob) {
        methods.push(request.method().clone());
        if request.method() == &Method::Info {
            h.respond(bob, &request, 200);
        }
    }
    assert_eq!(
        methods,
        [Method::Ack, Method::Info],
        "alice's requests reached bob"
    );
    assert_eq!(h.status(alice), 200, "the INFO was answered");
    (ok, invite, info_cseq)
}

#[test]
fn the_list_shows_each_call_with_its_state_parties_devices_and_times() {
    let (mut h, mut alice, bob) = Server::with_bob();
    assert!(live(&mut h).is_empty());
    let invite = alice_calls_bob(&mut h, &mut alice, &bob, false);
    let call_id = invite.headers().call_id().unwrap().to_owned();

    let calls = live(&mut h);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].state, LiveState::Trying);

    h.respond(&bob, &invite, 180);
    h.run_for(Duration::from_secs(4));
    let ringing = live(&mut h).remove(0);
    assert_eq!(ringing.call_id, call_id);
    assert_eq!(ringing.state, LiveState::Early);
    assert_eq!(ringing.caller.uri, "sip:alice@example.com");
    assert_eq!(ringing.callee.uri, "sip:bob@example.com");
    assert_eq!(ringing.caller_user.as_deref(), Some("alice@example.com"));
    assert_eq!(ringing.callee_aor.unwrap().user(), "bob");
    assert_eq!(ringing.start_ms, START_MS);
    assert_eq!(ringing.answer_ms, None);
    assert_eq!(ringing.duration_ms, 4_000);
    assert_eq!(ringing.caller_contact, Some(uri_of(&alice.contact)));
    assert_eq!(ringing.callee_contacts, [uri_of(&bob.contact)]);

    h.respond(&bob, &invite, 200);
    h.run_for(Duration::from_secs(10));
    let up = live(&mut h).remove(0);
    assert_eq!(up.state, LiveState::Confirmed);
    assert_eq!(up.answer_ms, Some(START_MS + 4_000));
    assert_eq!(up.duration_ms, 14_000);

    let ok = h.final_response(&alice);
    let bye = alice.in_dialog(Method::Bye, &ok).build().unwrap();
    h.send(&alice, bye);
    assert!(live(&mut h).is_empty(), "the call ended with alice's BYE");
}

#[test]
fn hanging_up_an_answered_call_sends_a_bye_to_both_parties_in_their_dialog() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let (ok, invite, info_cseq) = answered_call(&mut h, &mut alice, &bob);
    let call_id = invite.headers().call_id().unwrap().to_owned();
    h.run_for(Duration::from_secs(20));

    assert_eq!(hang_up(&mut h, &call_id), Ok(HangupAction::Bye));

    let to_bob = h.request_to(&bob, Method::Bye);
    let b = to_bob.headers();
    assert_eq!(to_bob.uri_str(), uri_of(&bob.contact));
    assert_eq!(b.call_id(), Some(call_id.as_str()));
    assert_eq!(b.from_tag(), Some("alice-tag"));
    assert_eq!(b.to_tag(), Some("bob-tag"));
    assert!(
        b.cseq().unwrap().seq > info_cseq,
        "above alice's INFO ({info_cseq}): {:?}",
        b.cseq()
    );
    let routes: Vec<&str> = b.values(HeaderName::Route).collect();
    assert_eq!(routes, [DOWNSTREAM], "bob's side of the route set");

    let to_alice = h.request_to(&alice, Method::Bye);
    let a = to_alice.headers();
    assert_eq!(to_alice.uri_str(), uri_of(&alice.contact));
    assert_eq!(a.call_id(), ok.headers().call_id());
    assert_eq!(a.from_tag(), Some("bob-tag"));
    assert_eq!(a.to_tag(), Some("alice-tag"));
    let routes: Vec<&str> = a.values(HeaderName::Route).collect();
    assert_eq!(routes, [UPSTREAM], "alice's side of the route set");

    // Both answer; nothing more goes anywhere.
    h.respond(&bob, &to_bob, 200);
    h.respond(&alice, &to_alice, 200);
    assert!(h.take(&alice).is_empty() && h.take(&bob).is_empty());

    let record = last_record(&h);
    assert_eq!(record.call_id, call_id);
    assert_eq!(record.hangup, Some(HangupSide::Server));
    assert_eq!(record.disposition, Disposition::Answered);
    assert_eq!(record.end_ms, Some(START_MS + 24_000));
    assert!(live(&mut h).is_empty());
    assert_eq!(
        hang_up(&mut h, &call_id),
        Err(HangupError::UnknownCall(call_id.clone())),
        "once only"
    );
}

#[test]
fn a_bye_of_the_callee_numbers_the_one_the_server_sends_to_the_caller() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let invite = alice_calls_bob(&mut h, &mut alice, &bob, false);
    let call_id = invite.headers().call_id().unwrap().to_owned();
    h.respond(&bob, &invite, 200);
    let ok = h.final_response(&alice);
    let ack = from_alice(&mut alice, Method::Ack, &ok);
    h.send(&alice, ack);
    h.request_to(&bob, Method::Ack);
    // Bob sends an in-dialog INFO with CSeq 40.
    let hi = invite.headers();
    let routes: Vec<&str> = hi.values(HeaderName::RecordRoute).collect();
    let mut info = switchboard_proto::RequestBuilder::new(
        Method::Info,
        uri_of(hi.get(HeaderName::Contact).unwrap()),
    )
    .header(
        HeaderName::Via,
        format!("SIP/2.0/UDP {};branch=z9hG4bK-bob-info;rport", bob.local),
    )
    .header(
        HeaderName::From,
        format!("{};tag=bob-tag", hi.get(HeaderName::To).unwrap()),
    )
    .header(HeaderName::To, hi.get(HeaderName::From).unwrap())
    .call_id(&call_id)
    .cseq(40);
    for route in routes {
        info = info.header(HeaderName::Route, route);
    }
    h.send(&bob, info.build().unwrap());
    let got = h.request_to(&alice, Method::Info);
    h.respond(&alice, &got, 200);
    h.responses(&bob);

    assert_eq!(hang_up(&mut h, &call_id), Ok(HangupAction::Bye));
    let to_alice = h.request_to(&alice, Method::Bye);
    assert!(to_alice.headers().cseq().unwrap().seq > 40);
}

#[test]
fn hanging_up_a_ringing_call_cancels_it_and_the_caller_gets_487() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let invite = alice_calls_bob(&mut h, &mut alice, &bob, false);
    let call_id = invite.headers().call_id().unwrap().to_owned();
    h.respond(&bob, &invite, 180);
    h.run_for(Duration::from_secs(3));
    h.responses(&alice);

    assert_eq!(hang_up(&mut h, &call_id), Ok(HangupAction::Cancel));
    let cancel = h.request_to(&bob, Method::Cancel);
    assert_eq!(cancel.headers().call_id(), Some(call_id.as_str()));
    h.respond(&bob, &cancel, 200);
    h.respond(&bob, &invite, 487);
    assert_eq!(h.status(&alice), 487);

    let record = last_record(&h);
    assert_eq!(record.disposition, Disposition::Cancelled);
    assert_eq!(record.status, Some(487));
    assert_eq!(record.hangup, Some(HangupSide::Server));
    assert!(live(&mut h).is_empty());
}

#[test]
fn hanging_up_an_unknown_call_says_so() {
    let (mut h, _, _) = Server::with_bob();
    assert_eq!(
        hang_up(&mut h, "nobody@example"),
        Err(HangupError::UnknownCall("nobody@example".to_owned()))
    );
}

#[test]
fn a_call_out_through_a_trunk_shows_its_rule_and_trunk_and_the_carrier_gets_its_own_call_id() {
    let (mut h, mut alice, _) = Server::with_bob();
    h.use_plan(service_harness::CARRIER_PLAN);
    let gateway = Phone::new("gw", "198.51.100.50:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:0033123456@example.com")
    });
    let invite = h.request_to(&gateway, Method::Invite);
    let carrier_call_id = invite.headers().call_id().unwrap().to_owned();
    assert_ne!(carrier_call_id, alice.call_id);
    h.respond(&gateway, &invite, 200);
    let ok = h.final_response(&alice);
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(&alice, ack);
    h.request_to(&gateway, Method::Ack);

    let call = live(&mut h).remove(0);
    assert_eq!(call.call_id, alice.call_id, "the caller's Call-ID");
    assert_eq!(call.rule.as_deref(), Some("out"));
    assert_eq!(call.trunk.as_deref(), Some("carrier"));
    assert_eq!(call.state, LiveState::Confirmed);

    let caller_call_id = alice.call_id.clone();
    assert_eq!(hang_up(&mut h, &caller_call_id), Ok(HangupAction::Bye));
    let to_gateway = h.request_to(&gateway, Method::Bye);
    assert_eq!(
        to_gateway.headers().call_id(),
        Some(carrier_call_id.as_str()),
        "the carrier's own Call-ID"
    );
    let to_alice = h.request_to(&alice, Method::Bye);
    assert_eq!(to_alice.headers().call_id(), Some(caller_call_id.as_str()));
    assert_eq!(last_record(&h).hangup, Some(HangupSide::Server));
}
