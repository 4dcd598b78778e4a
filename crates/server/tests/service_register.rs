//! REGISTER through the whole server on a virtual clock: challenge, the
//! client's answer (built the way JsSIP does, from the first challenge
//! only), the 200 OK once the store has the binding, a refresh after the
//! nonce expired (stale=true), lockout, users missing from memory, user
//! reloads, and bindings that expire.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Reply, Server, UNIX0, answer, challenge_shape};
use switchboard_proto::{HeaderName, Method, Response, StatusCode};
use switchboard_server::BindingChange;
use switchboard_server::registrar::RemoveReason;
use switchboard_server::service::Effect;

const S: Duration = Duration::from_secs(1);

/// Alice's phone, with the contact the registrar echoes.
fn alice() -> Phone {
    let mut phone = Phone::new("alice", "198.51.100.10:5060");
    phone.contact = "<sip:alice@198.51.100.10:5060;transport=udp>".to_owned();
    phone
}

/// A REGISTER of `phone` for 600 s answering `challenge` with `password`.
fn register_answering(
    phone: &mut Phone,
    challenge: &Response,
    password: &str,
    nc: u32,
) -> switchboard_proto::Request {
    let (name, value) = answer(
        challenge,
        ("alice", password),
        &Method::Register,
        "sip:example.com",
        nc,
    );
    phone.register(600).header(name, value).build().unwrap()
}

/// `phone` sends an unauthenticated REGISTER; the 401.
fn challenge(h: &mut Server, phone: &mut Phone) -> Response {
    let first = phone.register(600).build().unwrap();
    h.send(phone, first);
    let resp = h.final_response(phone);
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    resp
}

#[test]
fn register_challenge_answer_store_and_refresh() {
    let mut h = Server::new();
    let mut phone = alice();

    let resp = challenge(&mut h, &mut phone);
    assert_eq!(
        resp.headers().get_all(HeaderName::WwwAuthenticate).count(),
        2
    );

    h.run_for(S);
    let request = register_answering(&mut phone, &resp, "alice-pw", 1);
    h.send(&phone, request);
    let ok = h.final_response(&phone);
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.headers().get(HeaderName::Contact),
        Some("<sip:alice@198.51.100.10:5060;transport=udp>;expires=600")
    );
    assert_eq!(h.store.len(), 1);

    // Ten minutes later the client refreshes with its old nonce (nc=2):
    // stale=true, then it answers the new challenge without its user.
    h.run_for(589 * S);
    let request = register_answering(&mut phone, &resp, "alice-pw", 2);
    h.send(&phone, request);
    let stale = h.final_response(&phone);
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    assert!(
        stale
            .headers()
            .get(HeaderName::WwwAuthenticate)
            .unwrap()
            .contains("stale=true")
    );
    let request = register_answering(&mut phone, &stale, "alice-pw", 1);
    h.send(&phone, request);
    assert_eq!(h.status(&phone), 200);
    assert_eq!(h.store.len(), 2);

    // Bindings end on their own: removed from the store when they expire.
    assert_eq!(h.service.registrar().next_expiry(), Some(UNIX0 + 590 + 600));
    h.run_for(600 * S);
    let expired: Vec<_> = h
        .stores()
        .into_iter()
        .flat_map(|(_, changes)| changes)
        .filter(|c| matches!(c, BindingChange::Remove { .. }))
        .collect();
    assert_eq!(expired.len(), 1);
}

#[test]
fn password_guessing_gets_nowhere_and_learns_nothing() {
    let mut h = Server::new();
    let mut attacker = Phone::new("alice", "203.0.113.5:5060");
    let mut statuses = Vec::new();
    for i in 0..30u32 {
        let challenge = challenge(&mut h, &mut attacker);
        let guess = format!("guess{i}");
        let request = register_answering(&mut attacker, &challenge, &guess, 1);
        h.send(&attacker, request);
        statuses.push(h.status(&attacker));
    }
    // Every guess got the same answer, before and after the lockout.
    assert!(statuses.iter().all(|s| *s == 401));
    // Now locked: even the right password is refused the same way.
    let challenge1 = challenge(&mut h, &mut attacker);
    let right = register_answering(&mut attacker, &challenge1, "alice-pw", 1);
    h.send(&attacker, right);
    assert_eq!(h.status(&attacker), 401);
    assert!(h.store.is_empty());
    // alice's own phone elsewhere is locked too until the lockout ends
    // (it never authenticated before); then it gets in.
    let mut phone = alice();
    let challenge2 = challenge(&mut h, &mut phone);
    let right = register_answering(&mut phone, &challenge2, "alice-pw", 1);
    h.send(&phone, right);
    assert_eq!(h.status(&phone), 401);
    h.run_for(3600 * S);
    let challenge3 = challenge(&mut h, &mut phone);
    let right = register_answering(&mut phone, &challenge3, "alice-pw", 1);
    h.send(&phone, right);
    assert_eq!(h.status(&phone), 200);
}

#[test]
fn the_200_waits_for_the_store_and_a_failed_store_leaves_no_binding() {
    let mut h = Server::new();
    let mut phone = alice();
    h.store_reply = Reply::Hold;
    let ch = challenge(&mut h, &mut phone);
    let request = register_answering(&mut phone, &ch, "alice-pw", 1);
    h.send(&phone, request);
    // Nothing acknowledged before it is durable.
    assert!(h.take(&phone).is_empty());
    assert_eq!(h.held(), 1);
    h.release();
    assert_eq!(h.status(&phone), 200);
    assert_eq!(h.store.len(), 1);

    // The store fails: 500 with Retry-After, and the binding is not kept.
    let mut h = Server::new();
    h.store_reply = Reply::Fail;
    let ch = challenge(&mut h, &mut phone);
    let request = register_answering(&mut phone, &ch, "alice-pw", 1);
    h.send(&phone, request);
    let failed = h.final_response(&phone);
    assert_eq!(failed.status(), StatusCode::SERVER_INTERNAL_ERROR);
    assert!(failed.headers().get(HeaderName::RetryAfter).is_some());
    assert!(h.store.is_empty());
    assert_eq!(h.service.registrar().binding_count(), 0);
    // Calling alice finds no device.
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    let resp = h.invite_answer(&mut bob, "sip:alice@example.com");
    assert_eq!(resp.status(), StatusCode::TEMPORARILY_UNAVAILABLE);
}

/// dave, added to the store a moment ago (not in memory yet), answers
/// the challenge to his REGISTER while user lookups get no answer.
fn dave_registers_while_lookups_hang(h: &mut Server) -> Phone {
    dave_registers_while_lookups_get(h, Reply::Hold)
}

/// dave (not in memory yet) answers the challenge to his REGISTER while
/// user lookups get `reply`.
fn dave_registers_while_lookups_get(h: &mut Server, reply: Reply) -> Phone {
    h.set_user("dave", "dave-pw");
    h.users_reply = reply;
    let mut dave = Phone::new("dave", "198.51.100.12:5060");
    let ch = challenge(h, &mut dave);
    let (name, value) = answer(
        &ch,
        ("dave", "dave-pw"),
        &Method::Register,
        "sip:example.com",
        1,
    );
    let request = dave.register(600).header(name, value).build().unwrap();
    h.send(&dave, request);
    dave
}

#[test]
fn a_user_missing_from_memory_is_looked_up_while_the_request_waits() {
    let mut h = Server::new();
    let dave = dave_registers_while_lookups_hang(&mut h);
    assert!(h.take(&dave).is_empty(), "nothing answered while it waits");
    assert_eq!(
        h.count(|e| matches!(e, Effect::LookupUser { name, .. } if name == "dave")),
        1
    );
    h.release();
    assert_eq!(h.status(&dave), 200);
    assert_eq!(h.store.len(), 1);
}

#[test]
fn an_absent_user_gets_the_same_401_as_a_wrong_password() {
    let mut h = Server::new();
    let mut eve = Phone::new("eve", "198.51.100.13:5060");
    let absent = h.authenticated(&mut eve, "eve-pw", |p| p.register(600));
    assert_eq!(
        h.count(|e| matches!(e, Effect::LookupUser { name, .. } if name == "eve")),
        1
    );
    let mut phone = alice();
    let wrong = h.authenticated(&mut phone, "not-alice-pw", |p| p.register(600));
    assert_eq!(challenge_shape(&absent), challenge_shape(&wrong));
    assert_eq!(absent.status(), StatusCode::UNAUTHORIZED);
    assert!(h.store.is_empty());
}

#[test]
fn a_lookup_that_never_answers_gets_500_after_the_lookup_timeout() {
    let mut h = Server::with(|c| c.lookup_timeout = 5 * S);
    let dave = dave_registers_while_lookups_hang(&mut h);
    h.run_for(5 * S - Duration::from_millis(1));
    assert!(h.take(&dave).is_empty(), "still waiting");
    h.run_for(Duration::from_millis(1));
    let resp = h.final_response(&dave);
    assert_eq!(resp.status(), StatusCode::SERVER_INTERNAL_ERROR);
    assert!(resp.headers().get(HeaderName::RetryAfter).is_some());
    // The late answer changes nothing.
    h.release();
    assert!(h.take(&dave).is_empty());
}

#[test]
fn a_lookup_while_the_store_is_unreachable_gets_503_with_retry_after() {
    let mut h = Server::new();
    let dave = dave_registers_while_lookups_get(&mut h, Reply::Unavailable);
    let resp = h.final_response(&dave);
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get(HeaderName::RetryAfter).is_some());
    assert!(h.store.is_empty());
}

#[test]
fn users_are_checked_at_the_refresh_interval_and_a_new_password_counts_after() {
    let mut h = Server::with(|c| c.users_refresh = S);
    let checks = |h: &Server| h.count(|e| matches!(e, Effect::CheckUsers { .. }));
    h.run_for(S - Duration::from_millis(1));
    assert_eq!(checks(&h), 0);
    h.run_for(Duration::from_millis(1));
    assert_eq!(checks(&h), 1);
    h.run_for(S);
    assert_eq!(checks(&h), 2);

    // bob changes his password (`switchboard user passwd`) at 2.5 s.
    h.run_for(S / 2);
    h.set_user("bob", "new-pw");
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    let before = h.authenticated(&mut bob, "new-pw", |p| p.register(600));
    assert_eq!(
        before.status(),
        StatusCode::UNAUTHORIZED,
        "not reloaded yet"
    );
    h.run_for(S / 2);
    assert_eq!(checks(&h), 3);
    let after = h.authenticated(&mut bob, "new-pw", |p| p.register(600));
    assert_eq!(after.status(), StatusCode::OK);
    let old = h.authenticated(&mut bob, "bob-pw", |p| p.register(600));
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn a_binding_is_removed_at_its_expiry_second_and_calls_then_get_480() {
    let mut h = Server::new();
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    h.register(&mut bob, 60);
    let removals = |h: &Server| -> Vec<(Duration, BindingChange)> {
        h.stores()
            .into_iter()
            .flat_map(|(at, changes)| changes.into_iter().map(move |c| (at, c)))
            .filter(|(_, c)| matches!(c, BindingChange::Remove { .. }))
            .collect()
    };
    h.run_for(60 * S - Duration::from_millis(1));
    assert!(removals(&h).is_empty(), "not before the 60th second");
    h.run_for(Duration::from_millis(1));
    let removed = removals(&h);
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].0, 60 * S);
    assert!(matches!(
        removed[0].1,
        BindingChange::Remove {
            reason: RemoveReason::Expired,
            ..
        }
    ));
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let resp = h.invite_answer(&mut alice, "sip:bob@example.com");
    assert_eq!(resp.status(), StatusCode::TEMPORARILY_UNAVAILABLE);
}

#[test]
fn a_digest_uri_naming_this_server_is_accepted_and_another_host_is_not() {
    // SIPp registers to `sip:127.0.0.1` and writes `sip:127.0.0.1:5060`
    // as its digest uri.
    let mut h = Server::with(|c| {
        c.registrar.domains.push("127.0.0.1".to_owned());
        c.proxy.domains.push("127.0.0.1".to_owned());
    });
    h.users
        .insert(("alice".into(), "127.0.0.1".into()), "alice-pw".into());
    let mut phone = Phone::new("alice", "198.51.100.10:5060");
    phone.domain = "127.0.0.1".to_owned();
    let mut with_uri = |h: &mut Server, digest_uri: &str| {
        let first = phone.register(600).build().unwrap();
        h.send(&phone, first);
        let ch = h.final_response(&phone);
        assert_eq!(ch.status(), StatusCode::UNAUTHORIZED);
        let (name, value) = answer(&ch, ("alice", "alice-pw"), &Method::Register, digest_uri, 1);
        let request = phone.register(600).header(name, value).build().unwrap();
        assert_eq!(request.uri_str(), "sip:127.0.0.1");
        h.send(&phone, request);
        h.status(&phone)
    };
    assert_eq!(with_uri(&mut h, "sip:127.0.0.1:5060"), 200);
    assert_eq!(with_uri(&mut h, "sip:10.9.9.9"), 401);
}

#[test]
fn an_unreachable_store_answers_503_with_retry_after_and_keeps_nothing() {
    let mut h = Server::new();
    let mut phone = alice();
    h.store_reply = Reply::Unavailable;
    let ch = challenge(&mut h, &mut phone);
    let request = register_answering(&mut phone, &ch, "alice-pw", 1);
    h.send(&phone, request);
    let failed = h.final_response(&phone);
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(failed.headers().get(HeaderName::RetryAfter).is_some());
    assert!(h.store.is_empty());
    assert_eq!(h.service.registrar().binding_count(), 0);

    // The store is back: the same phone registers.
    h.store_reply = Reply::Now;
    let ch = challenge(&mut h, &mut phone);
    let request = register_answering(&mut phone, &ch, "alice-pw", 2);
    h.send(&phone, request);
    assert_eq!(h.status(&phone), 200);
    assert_eq!(h.store.len(), 1);
}
