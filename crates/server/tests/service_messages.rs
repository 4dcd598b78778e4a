//! Offline messages on a virtual clock: a MESSAGE to a local user with no
//! device is kept (202 only once durable), delivered when the user
//! registers with From, Date, Content-Type and body as sent, removed only
//! after a device's 2xx, retried after failures, in order, bounded and
//! expired; and it survives a restart (load_state).
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Reply, Server, UNIX0};
use switchboard_proto::{HeaderName, Message, Method, Request, RequestBuilder, StatusCode};
use switchboard_server::storage::{StateChange, StoredMessage, StoredState};

const BOB: &str = "sip:bob@example.com";
const DATE: &str = "Sat, 13 Nov 2010 23:29:00 GMT";

fn alice() -> Phone {
    Phone::new("alice", "198.51.100.10:5060")
}

fn bob() -> Phone {
    Phone::new("bob", "198.51.100.11:5060")
}

/// The server of these tests: messages from other domains are kept too
/// (dave of other.example is the usual sender); the default is tested in
/// `strangers_get_480_for_every_user_by_default`.
fn server() -> Server {
    Server::with(|c| c.messages.from_other_domains = true)
}

/// Dave of other.example: a caller from another domain (not challenged).
fn dave() -> Phone {
    let mut phone = Phone::new("dave", "203.0.113.40:5060");
    phone.domain = "other.example".to_owned();
    phone
}

/// A MESSAGE from `phone` to `uri` with a display name in From, a Date,
/// and `body` as text/plain; numbered `n` (branch, Call-ID).
fn message(phone: &Phone, uri: &str, n: u32, body: &str) -> RequestBuilder {
    RequestBuilder::new(Method::Message, uri)
        .header(
            HeaderName::Via,
            format!(
                "SIP/2.0/UDP {};branch=z9hG4bK-msg-{}-{n};rport",
                phone.local, phone.user
            ),
        )
        .header(
            HeaderName::From,
            format!("\"Dave D.\" <{}>;tag=d{n}", phone.aor()),
        )
        .header(HeaderName::To, format!("<{uri}>"))
        .call_id(&format!("msg-{}-{n}", phone.user))
        .cseq(1)
        .header(HeaderName::Date, DATE)
        .body("text/plain;charset=utf-8", body.to_owned())
}

/// Dave sends message `n` to bob: the final answer.
fn dave_sends(h: &mut Server, n: u32, body: &str) -> u16 {
    let dave = dave();
    h.send(&dave, message(&dave, BOB, n, body).build().unwrap());
    h.status(&dave)
}

/// The messages kept so far (puts), and the ids removed.
fn kept(h: &Server) -> (Vec<StoredMessage>, Vec<String>) {
    let mut puts = Vec::new();
    let mut removed = Vec::new();
    for change in &h.saved {
        match change {
            StateChange::PutMessage(m) => puts.push(m.clone()),
            StateChange::RemoveMessage { id } => removed.push(id.clone()),
            other => panic!("unexpected change {other:?}"),
        }
    }
    (puts, removed)
}

/// Registers `phone` for `expires` seconds (a 200 expected) and returns
/// the requests the server sent it in the same pass (deliveries).
fn register(h: &mut Server, phone: &mut Phone, expires: u32) -> Vec<Request> {
    let password = h.password(phone);
    h.authenticate(phone, &password, |p| p.register(expires));
    let mut requests = Vec::new();
    let mut ok = 0;
    for m in h.take(phone) {
        match m {
            Message::Request(r) => requests.push(r),
            Message::Response(r) => {
                assert_eq!(r.status(), StatusCode::OK, "REGISTER of {}", phone.user);
                ok += 1;
            }
        }
    }
    assert_eq!(ok, 1);
    requests
}

/// The one delivery sent when `phone` registers.
fn register_delivery(h: &mut Server, phone: &mut Phone) -> Request {
    let mut requests = register(h, phone, 3600);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = requests.remove(0);
    assert_eq!(request.method(), &Method::Message);
    request
}

fn header(request: &Request, name: HeaderName) -> &str {
    request.headers().get(name).unwrap_or_default()
}

#[test]
fn accepted_only_once_stored_and_500_when_the_store_fails() {
    let mut h = server();
    let mut alice = alice();
    h.save_reply = Reply::Hold;
    h.authenticate(&mut alice, "alice-pw", |p| {
        p.call(Method::Message, BOB)
            .body("text/plain", "are you there?")
    });
    assert!(
        h.responses(&alice)
            .iter()
            .all(|r| r.status().as_u16() < 200),
        "no answer before the message is durable"
    );
    assert_eq!(h.held(), 1);
    h.release();
    assert_eq!(h.status(&alice), 202);
    let (puts, removed) = kept(&h);
    assert_eq!(puts.len(), 1);
    assert!(removed.is_empty());
    assert_eq!(puts[0].aor, BOB);
    assert_eq!(puts[0].body, b"are you there?");
    assert_eq!(puts[0].received_unix, UNIX0);
    // No Date sent: the time it was received.
    assert!(puts[0].date.ends_with("GMT"), "{}", puts[0].date);

    h.save_reply = Reply::Fail;
    h.authenticate(&mut alice, "alice-pw", |p| {
        p.call(Method::Message, BOB).body("text/plain", "again")
    });
    assert_eq!(h.status(&alice), 500);
}

#[test]
fn a_message_kept_while_the_store_is_unreachable_gets_503_with_retry_after() {
    let mut h = server();
    let mut alice = alice();
    h.save_reply = Reply::Unavailable;
    h.authenticate(&mut alice, "alice-pw", |p| {
        p.call(Method::Message, BOB).body("text/plain", "later")
    });
    let answer = h.final_response(&alice);
    assert_eq!(answer.status().as_u16(), 503);
    assert!(answer.headers().get(HeaderName::RetryAfter).is_some());
    assert!(kept(&h).0.is_empty());
}

#[test]
fn unknown_users_are_answered_as_before_and_foreign_callers_are_kept() {
    let mut h = server();
    let mut alice = alice();
    let nobody = "sip:nobody@example.com";
    let r = h.authenticated(&mut alice, "alice-pw", |p| {
        p.call(Method::Message, nobody).body("text/plain", "x")
    });
    assert_eq!(r.status().as_u16(), 404);
    let dave = dave();
    h.send(&dave, message(&dave, nobody, 1, "x").build().unwrap());
    assert_eq!(h.status(&dave), 480, "no enumeration for strangers");
    assert_eq!(dave_sends(&mut h, 2, "hello bob"), 202);
    assert!(h.saved.len() == 1);
    // Inside a dialog whose device is gone: not kept.
    let in_dialog = message(&dave, BOB, 3, "late")
        .build()
        .unwrap()
        .to_bytes()
        .to_vec();
    let in_dialog = String::from_utf8(in_dialog)
        .unwrap()
        .replace(&format!("To: <{BOB}>"), &format!("To: <{BOB}>;tag=gone"));
    h.send_bytes(&dave, in_dialog.into_bytes());
    assert_eq!(h.status(&dave), 480);
    assert!(h.saved.len() == 1);

    // Foreign callers refused by configuration: 403, nothing kept.
    let mut h = Server::with(|c| {
        c.messages.from_other_domains = true;
        c.trust_foreign_callers = false;
    });
    assert_eq!(dave_sends(&mut h, 3, "hello bob"), 403);
    assert!(h.saved.is_empty());

    // Offline messages turned off: 480 as for any request.
    let mut h = Server::with(|c| {
        c.messages.from_other_domains = true;
        c.messages.enabled = false;
    });
    assert_eq!(dave_sends(&mut h, 4, "hello bob"), 480);
    assert!(h.saved.is_empty());
}

#[test]
fn delivered_on_register_as_sent_and_removed_only_after_a_2xx() {
    let mut h = server();
    assert_eq!(dave_sends(&mut h, 1, "hello bob"), 202);
    let mut bob = bob();
    let delivery = register_delivery(&mut h, &mut bob);
    let dave = dave();
    assert_eq!(delivery.uri_str(), "sip:bob@198.51.100.11:5060");
    assert_eq!(
        header(&delivery, HeaderName::From),
        format!("\"Dave D.\" <{}>;tag=d1", dave.aor())
    );
    assert_eq!(header(&delivery, HeaderName::To), format!("<{BOB}>"));
    assert_eq!(header(&delivery, HeaderName::Date), DATE);
    assert_eq!(
        header(&delivery, HeaderName::ContentType),
        "text/plain;charset=utf-8"
    );
    assert_eq!(delivery.body().as_ref(), b"hello bob");
    assert_ne!(delivery.headers().call_id(), Some("msg-dave-1"));
    assert!(kept(&h).1.is_empty(), "not removed before the 2xx");

    h.respond(&bob, &delivery, 200);
    let (puts, removed) = kept(&h);
    assert_eq!(removed, vec![puts[0].id.clone()]);
    // Delivered once: a later REGISTER sends nothing.
    assert!(register(&mut h, &mut bob, 3600).is_empty());
}

/// Alice (a local user, authenticated) sends `body` to bob: the final
/// answer. Kept whatever the policy for callers of other domains.
fn alice_sends(h: &mut Server, alice: &mut Phone, body: &str) -> u16 {
    h.authenticate(alice, "alice-pw", |p| {
        p.call(Method::Message, BOB)
            .body("text/plain", body.to_owned())
    });
    h.status(alice)
}

#[test]
fn a_refusal_for_good_drops_the_message_and_the_next_one_goes() {
    let mut h = Server::new();
    let mut alice = alice();
    for body in ["unwanted", "busy", "wanted"] {
        assert_eq!(alice_sends(&mut h, &mut alice, body), 202);
    }
    let mut bob = bob();
    // 415: bob's device will never take this one; it is dropped at once
    // and removed from the store, and the next one goes out without a wait.
    let first = register_delivery(&mut h, &mut bob);
    assert_eq!(first.body().as_ref(), b"unwanted");
    h.respond(&bob, &first, 415);
    let (puts, removed) = kept(&h);
    assert_eq!(removed, vec![puts[0].id.clone()]);
    let second = h.request_to(&bob, Method::Message);
    assert_eq!(second.body().as_ref(), b"busy");
    // 486 may pass: the message stays and is tried again after the backoff.
    h.respond(&bob, &second, 486);
    assert_eq!(kept(&h).1.len(), 1);
    h.run_for(Duration::from_secs(29));
    assert!(attempts(&mut h, &bob).is_empty());
    h.run_for(Duration::from_secs(2));
    let again = attempts(&mut h, &bob);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].body().as_ref(), b"busy");
    // A 6xx is for good too.
    h.respond(&bob, &again[0], 603);
    let third = h.request_to(&bob, Method::Message);
    assert_eq!(third.body().as_ref(), b"wanted");
    h.respond(&bob, &third, 200);
    let (puts, removed) = kept(&h);
    let ids: Vec<String> = puts.iter().map(|m| m.id.clone()).collect();
    assert_eq!(removed, ids);
    assert!(register(&mut h, &mut bob, 3600).is_empty());
}

/// The delivery attempts sent to `phone` (retransmissions folded: one
/// per Call-ID), taken.
fn attempts(h: &mut Server, phone: &Phone) -> Vec<Request> {
    let mut seen = Vec::new();
    let mut attempts = Vec::new();
    for r in h.requests(phone) {
        let call_id = r.headers().call_id().unwrap().to_owned();
        if !seen.contains(&call_id) {
            seen.push(call_id);
            attempts.push(r);
        }
    }
    attempts
}

#[test]
fn an_error_or_a_timeout_is_retried_later_and_then_delivered() {
    let mut h = server();
    assert_eq!(dave_sends(&mut h, 1, "persist"), 202);
    let mut bob = bob();
    let first = register_delivery(&mut h, &mut bob);
    h.respond(&bob, &first, 500);
    assert!(kept(&h).1.is_empty());
    // Not again before the backoff (30 s)...
    h.run_for(Duration::from_secs(29));
    assert!(h.requests(&bob).is_empty());
    // ...then again; this time bob says nothing (Timer F: 32 s).
    h.run_for(Duration::from_secs(2));
    let second = attempts(&mut h, &bob);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0].body().as_ref(), b"persist");
    assert_ne!(second[0].headers().call_id(), first.headers().call_id());
    h.run_for(Duration::from_secs(33));
    let during = attempts(&mut h, &bob);
    assert!(
        during
            .iter()
            .all(|r| r.headers().call_id() == second[0].headers().call_id()),
        "only retransmissions of the second attempt while it runs"
    );
    assert!(kept(&h).1.is_empty());
    // The backoff doubled: 60 s after the timeout, not 30.
    h.run_for(Duration::from_secs(50));
    assert!(attempts(&mut h, &bob).is_empty());
    h.run_for(Duration::from_secs(15));
    let third = attempts(&mut h, &bob);
    assert_eq!(third.len(), 1, "{third:?}");
    h.respond(&bob, &third[0], 202);
    assert_eq!(kept(&h).1.len(), 1, "removed after the 2xx");
}

#[test]
fn order_is_kept_one_message_at_a_time() {
    let mut h = server();
    for (n, body) in [(1, "first"), (2, "second"), (3, "third")] {
        assert_eq!(dave_sends(&mut h, n, body), 202);
    }
    let mut bob = bob();
    let mut delivery = register_delivery(&mut h, &mut bob);
    let mut got = Vec::new();
    for n in 0..3 {
        if n > 0 {
            delivery = h.request_to(&bob, Method::Message);
        }
        got.push(String::from_utf8(delivery.body().to_vec()).unwrap());
        h.respond(&bob, &delivery, 200);
    }
    assert_eq!(got, ["first", "second", "third"]);
    assert!(h.requests(&bob).is_empty());
    assert_eq!(kept(&h).1.len(), 3);
}

#[test]
fn over_the_bounds_the_sender_is_told() {
    let mut h = Server::with(|c| {
        c.messages.from_other_domains = true;
        c.messages.max_per_user = 2;
        c.messages.max_bytes_per_user = 10;
    });
    let dave = dave();
    h.send(
        &dave,
        message(&dave, BOB, 1, "01234567890").build().unwrap(),
    );
    let r = h.final_response(&dave);
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(dave_sends(&mut h, 2, "0123"), 202);
    assert_eq!(dave_sends(&mut h, 3, "0123"), 202);
    h.send(&dave, message(&dave, BOB, 4, "0").build().unwrap());
    let r = h.final_response(&dave);
    assert_eq!(r.status().as_u16(), 486);
    assert_eq!(r.reason(), "Mailbox Full");
    // Bytes: carol's mailbox takes 10 bytes in all.
    let carol = "sip:carol@example.com";
    h.send(&dave, message(&dave, carol, 5, "0123456").build().unwrap());
    assert_eq!(h.status(&dave), 202);
    h.send(&dave, message(&dave, carol, 6, "0123").build().unwrap());
    assert_eq!(h.status(&dave), 486);
    assert_eq!(kept(&h).0.len(), 3);

    // Delivered messages make room again.
    let mut bob = bob();
    let delivery = register_delivery(&mut h, &mut bob);
    h.respond(&bob, &delivery, 200);
    let delivery = h.request_to(&bob, Method::Message);
    h.respond(&bob, &delivery, 200);
    assert!(register(&mut h, &mut bob, 0).is_empty());
    assert_eq!(dave_sends(&mut h, 7, "0123"), 202);
}

#[test]
fn the_server_wide_bound_answers_503() {
    let mut h = Server::with(|c| {
        c.messages.from_other_domains = true;
        c.messages.max_total = 1;
    });
    assert_eq!(dave_sends(&mut h, 1, "one"), 202);
    let dave = dave();
    h.send(&dave, message(&dave, BOB, 2, "two").build().unwrap());
    let r = h.final_response(&dave);
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get(HeaderName::RetryAfter).is_some());
}

#[test]
fn expired_messages_are_swept_and_never_delivered() {
    let mut h = Server::with(|c| {
        c.messages.from_other_domains = true;
        c.messages.max_age = Duration::from_secs(60);
    });
    assert_eq!(dave_sends(&mut h, 1, "stale"), 202);
    h.run_for(Duration::from_secs(50));
    assert!(kept(&h).1.is_empty());
    assert_eq!(dave_sends(&mut h, 2, "fresh"), 202);
    // The sweep (every 30 s) after the first one's 60 s.
    h.run_for(Duration::from_secs(40));
    let (puts, removed) = kept(&h);
    assert_eq!(removed, vec![puts[0].id.clone()]);
    let mut bob = bob();
    let delivery = register_delivery(&mut h, &mut bob);
    assert_eq!(delivery.body().as_ref(), b"fresh");
}

#[test]
fn a_restart_keeps_messages_for_registering_and_registered_users() {
    let mut before = server();
    assert_eq!(dave_sends(&mut before, 1, "kept across a restart"), 202);
    let (puts, _) = kept(&before);

    // Loaded, then bob registers.
    let mut h = server();
    h.service.load_state(StoredState {
        messages: puts.clone(),
        ..StoredState::default()
    });
    let mut bob = bob();
    let delivery = register_delivery(&mut h, &mut bob);
    assert_eq!(delivery.body().as_ref(), b"kept across a restart");
    h.respond(&bob, &delivery, 200);
    assert_eq!(kept(&h).1, vec![puts[0].id.clone()]);

    // Loaded with bob's binding: delivered at the first timeout.
    let bindings = h.upserted_bindings();
    let mut h = server();
    h.service.load_bindings(bindings);
    h.service.load_state(StoredState {
        messages: puts,
        ..StoredState::default()
    });
    h.step();
    let delivery = h.request_to(&bob, Method::Message);
    assert_eq!(delivery.body().as_ref(), b"kept across a restart");
}

#[test]
fn a_message_flood_is_rate_limited() {
    let mut h = Server::with(|c| {
        c.messages.from_other_domains = true;
        c.messages.max_per_user = 10_000;
    });
    let dave = dave();
    for n in 0..300 {
        h.send(&dave, message(&dave, BOB, n, "spam").build().unwrap());
    }
    let answered = h.responses(&dave).len();
    let kept = kept(&h).0.len();
    assert!(kept < 150, "{kept} kept of 300 sent at once");
    assert_eq!(answered, kept, "the rest is dropped by the rate limit");
}

#[test]
fn a_message_while_kept_ones_are_delivered_queues_behind_them() {
    let mut h = server();
    assert_eq!(dave_sends(&mut h, 1, "first"), 202);
    let mut bob = bob();
    let first = register_delivery(&mut h, &mut bob);
    // Bob is registered, but "first" is still on its way: "second" is
    // kept too (202), not relayed past it.
    assert_eq!(dave_sends(&mut h, 2, "second"), 202);
    assert!(
        h.requests(&bob).is_empty(),
        "nothing overtakes the delivery"
    );
    h.respond(&bob, &first, 200);
    let second = h.request_to(&bob, Method::Message);
    assert_eq!(second.body().as_ref(), b"second");
    h.respond(&bob, &second, 200);
    assert_eq!(kept(&h).1.len(), 2);

    // The queue is empty again: messages go straight to the device.
    let dave = dave();
    h.send(&dave, message(&dave, BOB, 3, "third").build().unwrap());
    let relayed = h.request_to(&bob, Method::Message);
    assert_eq!(relayed.headers().call_id(), Some("msg-dave-3"));
}

#[test]
fn strangers_get_480_for_every_user_by_default() {
    // By default a caller of another domain (not challenged) cannot tell
    // an offline user from a name that does not exist: 480 for both, and
    // nothing is kept; a local user's message is kept.
    let mut h = Server::new();
    let dave = dave();
    h.send(
        &dave,
        message(&dave, "sip:nobody@example.com", 1, "x")
            .build()
            .unwrap(),
    );
    assert_eq!(h.status(&dave), 480);
    assert_eq!(dave_sends(&mut h, 2, "hello bob"), 480);
    assert!(h.saved.is_empty());
    let mut alice = alice();
    let r = h.authenticated(&mut alice, "alice-pw", |p| {
        p.call(Method::Message, BOB).body("text/plain", "hi")
    });
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(h.saved.len(), 1);
}
