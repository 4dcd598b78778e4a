//! Session timers as a proxy (RFC 4028) and the calls the server ends
//! itself, on a virtual clock: 422 for an interval below Min-SE, the
//! server's Session-Expires inserted and a low Min-SE raised, the interval
//! learnt from the 2xx and restarted by every refresh (re-INVITE, UPDATE),
//! a call not refreshed in time ended with a BYE to both parties and
//! recorded so, a call longer than its caller's group allows ended the
//! same way; a call without a session timer is never swept by time.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Server};
use switchboard_proto::{HeaderName, Method, Request, Response, ResponseBuilder, StatusCode};
use switchboard_server::SessionTimerPolicy;
use switchboard_server::storage::HangupSide;

/// Alice's INVITE for bob with `lines` added, authenticated.
fn alice_invites(h: &mut Server, alice: &mut Phone, lines: &[(HeaderName, &str)]) {
    let password = h.password(alice);
    h.authenticate(alice, &password, |phone| {
        let mut invite = phone.call(Method::Invite, "sip:bob@example.com");
        for (name, value) in lines {
            invite = invite.header(*name, *value);
        }
        invite
    });
}

/// `phone`'s 2xx to `request` with `lines` added.
fn ok_with(h: &mut Server, phone: &Phone, request: &Request, lines: &[(HeaderName, &str)]) {
    let mut b = ResponseBuilder::from_request(request, StatusCode::OK)
        .to_tag(&format!("{}-tag", phone.user))
        .header(HeaderName::Contact, phone.contact.clone());
    for (name, value) in lines {
        b = b.header(*name, *value);
    }
    h.send(phone, b.build().unwrap());
}

/// A call from alice to bob answered with `session` (a Session-Expires
/// value, or none) and acknowledged: alice's 2xx.
fn answered(h: &mut Server, alice: &mut Phone, bob: &Phone, session: Option<&str>) -> Response {
    alice_invites(h, alice, &[(HeaderName::Supported, "timer")]);
    let invite = h.request_to(bob, Method::Invite);
    let lines: Vec<(HeaderName, &str)> = session
        .map(|s| (HeaderName::SessionExpires, s))
        .into_iter()
        .collect();
    ok_with(h, bob, &invite, &lines);
    let ok = h.final_response(alice);
    assert_eq!(ok.status(), StatusCode::OK);
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(alice, ack);
    assert_eq!(h.request_to(bob, Method::Ack).method(), &Method::Ack);
    ok
}

/// Alice refreshes the session of `ok` with `method`; bob answers with
/// `session`.
fn refresh(h: &mut Server, alice: &mut Phone, bob: &Phone, ok: &Response, method: Method) {
    let request = alice
        .in_dialog(method.clone(), ok)
        .header(HeaderName::SessionExpires, "120;refresher=uac")
        .build()
        .unwrap();
    h.send(alice, request);
    let at_bob = h.request_to(bob, method);
    ok_with(
        h,
        bob,
        &at_bob,
        &[(HeaderName::SessionExpires, "120;refresher=uac")],
    );
    let answer = h.final_response(alice);
    assert_eq!(answer.status(), StatusCode::OK);
    let cseq = answer.headers().cseq().unwrap();
    if cseq.method == Method::Invite {
        // Along the dialog's route set, with the re-INVITE's number.
        let mut ack = alice.in_dialog(Method::Ack, ok).build().unwrap();
        ack.headers_mut()
            .set(HeaderName::CSeq, format!("{} ACK", cseq.seq));
        h.send(alice, ack);
        h.request_to(bob, Method::Ack);
    }
}

/// The BYEs the server sent alice and bob, when both got one.
fn byes(h: &mut Server, alice: &Phone, bob: &Phone) -> Option<(Request, Request)> {
    let to_alice = h
        .requests(alice)
        .into_iter()
        .find(|r| r.method() == &Method::Bye);
    let to_bob = h
        .requests(bob)
        .into_iter()
        .find(|r| r.method() == &Method::Bye);
    match (to_alice, to_bob) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        other => panic!("a BYE to one party only: {other:?}"),
    }
}

#[test]
fn an_interval_below_min_se_is_refused_with_422_when_the_caller_supports_timers() {
    let (mut h, mut alice, bob) = Server::with_bob();
    alice_invites(
        &mut h,
        &mut alice,
        &[
            (HeaderName::Supported, "timer"),
            (HeaderName::SessionExpires, "60"),
        ],
    );
    let refused = h.final_response(&alice);
    assert_eq!(refused.status(), StatusCode::SESSION_INTERVAL_TOO_SMALL);
    assert_eq!(refused.headers().get(HeaderName::MinSe), Some("90"));
    assert!(h.requests(&bob).is_empty(), "bob's phone never rang");

    // Without `Supported: timer` the caller could not retry: raised.
    alice.call_id = "alice-call-2".to_owned();
    alice_invites(&mut h, &mut alice, &[(HeaderName::SessionExpires, "60")]);
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(invite.headers().get(HeaderName::SessionExpires), Some("90"));
    assert_eq!(invite.headers().get(HeaderName::MinSe), Some("90"));
}

#[test]
fn the_servers_interval_is_inserted_and_a_low_min_se_raised() {
    let (mut h, mut alice, bob) = Server::with_bob();
    alice_invites(&mut h, &mut alice, &[]);
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(
        invite.headers().get(HeaderName::SessionExpires),
        Some("1800")
    );
    assert_eq!(invite.headers().get(HeaderName::MinSe), Some("90"));

    let (mut h, mut alice, bob) = Server::with_bob();
    alice_invites(
        &mut h,
        &mut alice,
        &[
            (HeaderName::SessionExpires, "600;refresher=uac"),
            (HeaderName::MinSe, "60"),
        ],
    );
    let invite = h.request_to(&bob, Method::Invite);
    assert_eq!(
        invite.headers().get(HeaderName::SessionExpires),
        Some("600;refresher=uac")
    );
    assert_eq!(invite.headers().get(HeaderName::MinSe), Some("90"));
}

#[test]
fn a_uas_without_timers_leaves_the_refresh_to_the_caller_and_the_2xx_says_so() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let ok = answered(&mut h, &mut alice, &bob, None);
    assert_eq!(
        ok.headers().get(HeaderName::SessionExpires),
        Some("1800;refresher=uac")
    );
    assert_eq!(ok.headers().get(HeaderName::Require), Some("timer"));
    h.run_for(Duration::from_secs(1799));
    assert!(byes(&mut h, &alice, &bob).is_none());
    h.run_for(Duration::from_secs(2));
    assert!(byes(&mut h, &alice, &bob).is_some(), "expired at 1800 s");
}

#[test]
fn a_session_not_refreshed_in_time_is_ended_with_a_bye_to_both_parties() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let ok = answered(&mut h, &mut alice, &bob, Some("120;refresher=uas"));
    let call_id = ok.headers().call_id().unwrap().to_owned();
    h.run_for(Duration::from_secs(119));
    assert!(
        byes(&mut h, &alice, &bob).is_none(),
        "not before the interval"
    );
    assert_eq!(h.service.metrics().calls_ended_session_expired, 0);

    h.run_for(Duration::from_secs(2));
    let (to_alice, to_bob) = byes(&mut h, &alice, &bob).expect("BYEs at the expiry");
    for bye in [&to_alice, &to_bob] {
        assert_eq!(bye.headers().call_id(), Some(call_id.as_str()));
        assert!(
            bye.headers()
                .get(HeaderName::Reason)
                .unwrap()
                .contains("Session timer expired")
        );
    }
    assert_eq!(to_bob.headers().from_tag(), Some("alice-tag"));
    assert_eq!(to_alice.headers().from_tag(), Some("bob-tag"));
    h.respond(&alice, &to_alice, 200);
    h.respond(&bob, &to_bob, 200);

    let record = h.last_record();
    assert_eq!(record.call_id, call_id);
    assert_eq!(record.hangup, Some(HangupSide::SessionExpired));
    assert!(record.end_ms.is_some());
    assert_eq!(h.service.metrics().calls_ended_session_expired, 1);
    assert!(!h.service.calls().is_in_progress(&call_id));
    h.run_for(Duration::from_secs(600));
    assert!(byes(&mut h, &alice, &bob).is_none(), "once only");
}

#[test]
fn a_re_invite_or_an_update_answered_2xx_restarts_the_session_timer() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let ok = answered(&mut h, &mut alice, &bob, Some("120;refresher=uac"));
    h.run_for(Duration::from_secs(100));
    refresh(&mut h, &mut alice, &bob, &ok, Method::Invite);
    h.run_for(Duration::from_secs(100));
    assert!(
        byes(&mut h, &alice, &bob).is_none(),
        "the re-INVITE refreshed it"
    );
    refresh(&mut h, &mut alice, &bob, &ok, Method::Update);
    h.run_for(Duration::from_secs(119));
    assert!(
        byes(&mut h, &alice, &bob).is_none(),
        "the UPDATE refreshed it"
    );
    h.run_for(Duration::from_secs(2));
    assert!(
        byes(&mut h, &alice, &bob).is_some(),
        "120 s after the UPDATE"
    );
    assert_eq!(h.last_record().hangup, Some(HangupSide::SessionExpired));
}

#[test]
fn a_call_without_a_session_timer_is_not_swept_by_time() {
    // Neither the caller (no `Supported: timer`) nor the callee does
    // session timers.
    let (mut h, mut alice, bob) = Server::with_bob();
    alice_invites(&mut h, &mut alice, &[]);
    let invite = h.request_to(&bob, Method::Invite);
    h.respond(&bob, &invite, 200);
    let ok = h.final_response(&alice);
    assert_eq!(ok.headers().get(HeaderName::SessionExpires), None);
    h.run_for(Duration::from_secs(4 * 3600));
    assert!(byes(&mut h, &alice, &bob).is_none());
    let call_id = ok.headers().call_id().unwrap();
    assert!(h.service.calls().is_answered(call_id));

    // With the policy off, not even a call that asked for one.
    let mut h = Server::with(|c| c.session_timers = SessionTimerPolicy::new(0, 90));
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let ok = answered(&mut h, &mut alice, &bob, Some("120;refresher=uac"));
    h.run_for(Duration::from_secs(600));
    assert!(byes(&mut h, &alice, &bob).is_none());
    assert!(
        h.service
            .calls()
            .is_answered(ok.headers().call_id().unwrap())
    );
    assert_eq!(h.service.metrics().calls_ended_session_expired, 0);
}

#[test]
fn a_call_longer_than_the_callers_group_allows_is_ended() {
    let (mut h, mut alice, bob) = Server::with_bob();
    h.use_plan(
        "[groups]\nstaff = [\"alice\"]\nother = [\"bob\"]\n\n\
         [group_limits.staff]\nmax_call = 60\n\n[group_limits.other]\nmax_call = 30\n",
    );
    // No session timer: only the limit ends it.
    alice_invites(&mut h, &mut alice, &[]);
    let invite = h.request_to(&bob, Method::Invite);
    h.run_for(Duration::from_secs(10)); // ringing does not count
    h.respond(&bob, &invite, 200);
    let ok = h.final_response(&alice);
    let ack = alice.in_dialog(Method::Ack, &ok).build().unwrap();
    h.send(&alice, ack);
    h.run_for(Duration::from_secs(59));
    assert!(
        byes(&mut h, &alice, &bob).is_none(),
        "alice's limit, not bob's"
    );
    h.run_for(Duration::from_secs(2));
    let (to_alice, to_bob) = byes(&mut h, &alice, &bob).expect("BYEs at 60 s");
    assert!(
        to_bob
            .headers()
            .get(HeaderName::Reason)
            .unwrap()
            .contains("Maximum call duration")
    );
    h.respond(&alice, &to_alice, 200);
    h.respond(&bob, &to_bob, 200);
    let record = h.last_record();
    assert_eq!(record.hangup, Some(HangupSide::MaxDuration));
    assert_eq!(record.duration_ms(), Some(60_000));
    assert_eq!(h.service.metrics().calls_ended_max_duration, 1);
}
