//! The event server of the whole server on a virtual clock: SUBSCRIBE
//! (200 only once stored, then a NOTIFY with the full state), Expires
//! negotiation, refresh, unsubscribe, expiry, 489, authentication and the
//! watch policy, PUBLISH and its entity tags, presence derived from
//! registration, NOTIFYs refused or lost, and a restart from the store.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{Phone, Reply, Server};
use switchboard_proto::{
    HeaderName, Message, Method, Request, RequestBuilder, Response, StatusCode,
};
use switchboard_server::events::WatchRule;
use switchboard_server::service::Effect;
use switchboard_server::storage::{StateChange, StoredState, SubscriptionRecord};

const S: Duration = Duration::from_secs(1);
const ALICE: &str = "sip:alice@example.com";

fn alice() -> Phone {
    Phone::new("alice", "198.51.100.10:5060")
}

fn bob() -> Phone {
    Phone::new("bob", "198.51.100.11:5060")
}

/// A PIDF document of `aor` with one tuple `id` and `basic`, and a note.
fn pidf(aor: &str, id: &str, basic: &str, note: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{aor}\"><tuple id=\"{id}\"><status><basic>{basic}</basic></status><note>{note}</note></tuple></presence>"
    )
}

/// A SUBSCRIBE of `phone` for `event` of `uri`, for `expires` seconds.
fn subscribe_request(phone: &mut Phone, uri: &str, event: &str, expires: u32) -> RequestBuilder {
    phone
        .call(Method::Subscribe, uri)
        .header(HeaderName::Event, event)
        .header(HeaderName::Expires, expires.to_string())
}

/// `phone` sends a SUBSCRIBE for 600 s without credentials.
fn send_subscribe(h: &mut Server, phone: &mut Phone, uri: &str, event: &str) {
    let request = subscribe_request(phone, uri, event, 600).build().unwrap();
    h.send(phone, request);
}

/// `phone` subscribes (authenticated): the final response, and the NOTIFY
/// that came with it (not answered yet).
fn subscribe_notify(
    h: &mut Server,
    phone: &mut Phone,
    uri: &str,
    event: &str,
    expires: u32,
) -> (Response, Option<Request>) {
    let password = h.password(phone);
    let (uri, event) = (uri.to_owned(), event.to_owned());
    h.authenticate(phone, &password, move |p| {
        subscribe_request(p, &uri, &event, expires)
    });
    answer_and_notify(h, phone)
}

/// What was sent to `phone`: the one final response and the NOTIFY that
/// came with it, if any (not answered yet).
fn answer_and_notify(h: &mut Server, phone: &Phone) -> (Response, Option<Request>) {
    let mut finals = Vec::new();
    let mut notifys = Vec::new();
    for message in h.take(phone) {
        match message {
            Message::Response(r) if r.status().as_u16() >= 200 => finals.push(r),
            Message::Response(_) => {}
            Message::Request(r) => notifys.push(r),
        }
    }
    assert_eq!(finals.len(), 1, "one final response: {finals:?}");
    assert!(notifys.len() <= 1, "at most one NOTIFY: {notifys:?}");
    (finals.remove(0), notifys.pop())
}

/// `phone` subscribes (authenticated) and answers the first NOTIFY, if
/// any, with 200: the final response.
fn subscribe(h: &mut Server, phone: &mut Phone, uri: &str, event: &str, expires: u32) -> Response {
    let (response, notify) = subscribe_notify(h, phone, uri, event, expires);
    if let Some(n) = notify {
        h.respond(phone, &n, 200);
    }
    response
}

/// The NOTIFYs sent to `phone`, retransmissions dropped (not answered).
fn unique_notifys(h: &mut Server, phone: &Phone) -> Vec<Request> {
    let mut unique: Vec<Request> = Vec::new();
    for request in h.requests(phone) {
        assert_eq!(request.method(), &Method::Notify);
        if unique
            .iter()
            .all(|u| u.headers().cseq() != request.headers().cseq())
        {
            unique.push(request);
        }
    }
    unique
}

/// The NOTIFYs sent to `phone` (retransmissions dropped), each answered
/// with 200.
fn notifys(h: &mut Server, phone: &Phone) -> Vec<Request> {
    let unique = unique_notifys(h, phone);
    for n in &unique {
        h.respond(phone, n, 200);
    }
    unique
}

/// The one NOTIFY sent to `phone` (retransmissions dropped), answered
/// with `status`.
fn notified(h: &mut Server, phone: &Phone, status: u16) -> Request {
    let mut unique = unique_notifys(h, phone);
    assert_eq!(unique.len(), 1, "one NOTIFY to {}: {unique:?}", phone.user);
    let notify = unique.remove(0);
    h.respond(phone, &notify, status);
    notify
}

/// `phone` sends SUBSCRIBE with `expires` in the dialog `ok` (its 200)
/// created: the answer and the NOTIFY that came with it.
fn resubscribe(
    h: &mut Server,
    phone: &mut Phone,
    ok: &Response,
    expires: u32,
) -> (Response, Option<Request>) {
    let request = phone
        .in_dialog(Method::Subscribe, ok)
        .header(HeaderName::Event, "presence")
        .header(HeaderName::Expires, expires.to_string())
        .build()
        .unwrap();
    h.send(phone, request);
    answer_and_notify(h, phone)
}

fn state_of(notify: &Request) -> &str {
    notify.headers().get(HeaderName::SubscriptionState).unwrap()
}

fn body_of(request: &Request) -> String {
    String::from_utf8(request.body().to_vec()).unwrap()
}

/// A PUBLISH of alice's (authenticated): the final response.
fn publish(
    h: &mut Server,
    phone: &mut Phone,
    if_match: Option<&str>,
    expires: u32,
    body: Option<&str>,
) -> Response {
    let password = h.password(phone);
    let uri = phone.aor();
    let (if_match, body) = (if_match.map(str::to_owned), body.map(str::to_owned));
    h.authenticated(phone, &password, move |p| {
        let mut b = p
            .call(Method::Publish, &uri)
            .header(HeaderName::Event, "presence")
            .header(HeaderName::Expires, expires.to_string());
        if let Some(etag) = &if_match {
            b = b.header(HeaderName::SipIfMatch, etag.as_str());
        }
        match &body {
            Some(text) => b.body("application/pidf+xml", text.clone()),
            None => b,
        }
    })
}

fn etag_of(response: &Response) -> String {
    response
        .headers()
        .get(HeaderName::SipETag)
        .unwrap()
        .to_owned()
}

/// Whether the store was told to remove subscription `id`.
fn subscription_removed(h: &Server, id: &str) -> bool {
    h.saved
        .iter()
        .any(|c| matches!(c, StateChange::RemoveSubscription { id: i } if i == id))
}

/// Whether the store was told to remove publication `etag`.
fn publication_removed(h: &Server, etag: &str) -> bool {
    h.saved
        .iter()
        .any(|c| matches!(c, StateChange::RemovePublication { etag: e } if e == etag))
}

/// What the store holds after `changes`.
fn stored(changes: &[StateChange]) -> StoredState {
    let mut state = StoredState::default();
    for change in changes {
        match change {
            StateChange::PutSubscription(r) => {
                state.subscriptions.retain(|s| s.id != r.id);
                state.subscriptions.push(r.clone());
            }
            StateChange::RemoveSubscription { id } => state.subscriptions.retain(|s| &s.id != id),
            StateChange::PutPublication(r) => {
                state.publications.retain(|p| p.etag != r.etag);
                state.publications.push(r.clone());
            }
            StateChange::RemovePublication { etag } => {
                state.publications.retain(|p| &p.etag != etag);
            }
            _ => {}
        }
    }
    state
}

#[test]
fn subscribe_is_challenged_stored_answered_then_notified_with_full_state() {
    let mut h = Server::new();
    let mut watcher = bob();
    send_subscribe(&mut h, &mut watcher, ALICE, "presence");
    assert_eq!(h.status(&watcher), 407);

    let (ok, notify) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 600);
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers().get(HeaderName::Expires), Some("600"));
    assert!(ok.headers().get(HeaderName::Contact).is_some());
    let to_tag = ok.headers().to_tag().unwrap().to_owned();
    // Durable before the 200.
    assert!(matches!(
        h.saved.as_slice(),
        [StateChange::PutSubscription(r)] if r.resource == ALICE && r.watcher == "sip:bob@example.com" && r.local_tag == to_tag
    ));

    let notify = notify.unwrap();
    h.respond(&watcher, &notify, 200);
    let nh = notify.headers();
    assert_eq!(nh.get(HeaderName::Event), Some("presence"));
    assert_eq!(state_of(&notify), "active;expires=600");
    assert_eq!(nh.from_tag(), Some(to_tag.as_str()));
    assert_eq!(nh.to_tag(), Some("bob-tag"));
    assert_eq!(nh.call_id(), ok.headers().call_id());
    assert_eq!(notify.uri_str(), "sip:bob@198.51.100.11:5060");
    assert_eq!(
        nh.get(HeaderName::ContentType),
        Some("application/pidf+xml")
    );
    // Alice has no device and publishes nothing: closed.
    let body = body_of(&notify);
    assert!(body.contains("<basic>closed</basic>"), "{body}");
    assert!(body.contains(ALICE), "{body}");
    assert_eq!(h.service.subscription_count(), 1);
}

#[test]
fn the_200_waits_for_the_store_and_a_failed_store_answers_500() {
    let mut h = Server::new();
    h.save_reply = Reply::Hold;
    let mut watcher = bob();
    h.authenticate(&mut watcher, "bob-pw", |p| {
        subscribe_request(p, ALICE, "presence", 600)
    });
    let early: Vec<Response> = h
        .responses(&watcher)
        .into_iter()
        .filter(|r| r.status().as_u16() >= 200)
        .collect();
    assert!(early.is_empty(), "answered before stored: {early:?}");
    assert_eq!(h.held(), 1);
    h.release();
    let messages = h.take(&watcher);
    assert_eq!(messages.len(), 2, "{messages:?}");

    h.authenticate(&mut watcher, "bob-pw", |p| {
        subscribe_request(p, "sip:carol@example.com", "presence", 600)
    });
    h.release_with(|_| true);
    assert_eq!(h.status(&watcher), 500);
    assert!(
        h.requests(&watcher).is_empty(),
        "no NOTIFY for a failed store"
    );
    assert_eq!(h.service.subscription_count(), 1);
}

#[test]
fn subscribe_and_publish_get_503_with_retry_after_while_the_store_is_unreachable() {
    let mut h = Server::new();
    h.save_reply = Reply::Unavailable;
    let mut watcher = bob();
    let refused = subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().get(HeaderName::RetryAfter).is_some());
    assert_eq!(h.service.subscription_count(), 0);
    let mut publisher = alice();
    let body = pidf(ALICE, "t1", "open", "");
    let refused = publish(&mut h, &mut publisher, None, 600, Some(&body));
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().get(HeaderName::RetryAfter).is_some());
}

#[test]
fn expires_too_brief_is_423_too_long_is_capped() {
    let mut h = Server::new();
    let mut watcher = bob();
    let brief = subscribe(&mut h, &mut watcher, ALICE, "presence", 10);
    assert_eq!(brief.status(), StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(brief.headers().get(HeaderName::MinExpires), Some("30"));
    let (long, notify) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 100_000);
    assert_eq!(long.status(), StatusCode::OK);
    assert_eq!(long.headers().get(HeaderName::Expires), Some("7200"));
    assert_eq!(state_of(&notify.unwrap()), "active;expires=7200");
}

#[test]
fn refresh_unsubscribe_and_expiry() {
    let mut h = Server::new();
    let mut watcher = bob();
    let ok = subscribe(&mut h, &mut watcher, ALICE, "presence", 600);

    // Refreshed in the dialog after 5 minutes: a new NOTIFY.
    h.run_for(300 * S);
    let (again, notify) = resubscribe(&mut h, &mut watcher, &ok, 600);
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers().get(HeaderName::Expires), Some("600"));
    assert_eq!(again.headers().to_tag(), ok.headers().to_tag());
    let notify = notify.unwrap();
    h.respond(&watcher, &notify, 200);
    assert_eq!(state_of(&notify), "active;expires=600");

    // Not ended at the first expiry: the refresh moved it.
    h.run_for(400 * S);
    assert!(h.requests(&watcher).is_empty());
    assert_eq!(h.service.subscription_count(), 1);
    // It ends at the second: terminated;reason=timeout, removed.
    h.run_for(201 * S);
    let last = notified(&mut h, &watcher, 200);
    assert_eq!(state_of(&last), "terminated;reason=timeout");
    assert_eq!(h.service.subscription_count(), 0);
    assert!(matches!(
        h.saved.last(),
        Some(StateChange::RemoveSubscription { .. })
    ));

    // A second subscription, ended by Expires: 0.
    let ok = subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    let (answer, final_notify) = resubscribe(&mut h, &mut watcher, &ok, 0);
    assert_eq!(answer.status(), StatusCode::OK);
    let final_notify = final_notify.unwrap();
    assert_eq!(state_of(&final_notify), "terminated;reason=timeout");
    assert_eq!(h.service.subscription_count(), 0);
    assert!(subscription_removed(&h, ok.headers().to_tag().unwrap()));
}

#[test]
fn unknown_events_get_489_with_allow_events() {
    let mut h = Server::new();
    let mut watcher = bob();
    send_subscribe(&mut h, &mut watcher, ALICE, "message-summary");
    let refused = h.final_response(&watcher);
    assert_eq!(refused.status(), StatusCode::BAD_EVENT);
    let allowed = refused.headers().get(HeaderName::AllowEvents).unwrap();
    for package in ["presence", "dialog", "reg"] {
        assert!(allowed.contains(package), "{allowed}");
    }
}

#[test]
fn the_policy_refuses_with_403_and_strangers_are_refused() {
    let mut h = Server::with(|c| {
        c.events.policy.rules.insert(
            ALICE.to_owned(),
            WatchRule {
                allow: vec![],
                deny: vec!["sip:bob@example.com".to_owned()],
            },
        );
    });
    let mut watcher = bob();
    let refused = subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(h.service.subscription_count(), 0);
    // Carol is not refused.
    let mut carol = Phone::new("carol", "198.51.100.12:5060");
    let ok = subscribe(&mut h, &mut carol, ALICE, "presence", 600);
    assert_eq!(ok.status(), StatusCode::OK);

    // A watcher of another domain, by default.
    let mut stranger = Phone::new("eve", "203.0.113.9:5060");
    stranger.domain = "other.org".to_owned();
    send_subscribe(&mut h, &mut stranger, ALICE, "presence");
    assert_eq!(h.status(&stranger), 403);
}

#[test]
fn a_user_that_does_not_exist_is_404_for_an_authenticated_watcher() {
    let mut h = Server::new();
    let mut watcher = bob();
    let missing = subscribe(
        &mut h,
        &mut watcher,
        "sip:nobody@example.com",
        "presence",
        600,
    );
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn publication_etag_life_cycle_and_412() {
    let mut h = Server::new();
    let (mut publisher, mut watcher) = (alice(), bob());
    subscribe(&mut h, &mut watcher, ALICE, "presence", 3600);

    let away = pidf(ALICE, "pc", "open", "in a meeting");
    let created = publish(&mut h, &mut publisher, None, 600, Some(&away));
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(created.headers().get(HeaderName::Expires), Some("600"));
    let e1 = etag_of(&created);
    assert!(body_of(&notified(&mut h, &watcher, 200)).contains("in a meeting"));
    assert!(
        h.saved
            .iter()
            .any(|c| matches!(c, StateChange::PutPublication(p) if p.etag == e1))
    );

    // Refresh: no body, a new entity tag, the document stays.
    h.run_for(300 * S);
    let refreshed = publish(&mut h, &mut publisher, Some(&e1), 600, None);
    assert_eq!(refreshed.status(), StatusCode::OK);
    let e2 = etag_of(&refreshed);
    assert_ne!(e1, e2);
    assert!(body_of(&notified(&mut h, &watcher, 200)).contains("in a meeting"));

    // Modify.
    let back = pidf(ALICE, "pc", "open", "back at my desk");
    let modified = publish(&mut h, &mut publisher, Some(&e2), 600, Some(&back));
    assert_eq!(modified.status(), StatusCode::OK);
    let e3 = etag_of(&modified);
    assert!(body_of(&notified(&mut h, &watcher, 200)).contains("back at my desk"));

    // An old entity tag: 412.
    let stale = publish(&mut h, &mut publisher, Some(&e1), 600, None);
    assert_eq!(stale.status(), StatusCode::CONDITIONAL_REQUEST_FAILED);

    // Removed: presence falls back to registration (none: closed).
    let removed = publish(&mut h, &mut publisher, Some(&e3), 0, None);
    assert_eq!(removed.status(), StatusCode::OK);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert!(body.contains("<basic>closed</basic>"), "{body}");
    assert!(publication_removed(&h, &e3));
}

#[test]
fn publish_rules_other_users_bad_types_and_expiry() {
    let mut h = Server::new();
    let (mut publisher, mut watcher) = (alice(), bob());
    // Bob may not publish for alice.
    let password = h.password(&watcher);
    let body = pidf(ALICE, "x", "open", "");
    let forged = h.authenticated(&mut watcher, &password, |p| {
        p.call(Method::Publish, ALICE)
            .header(HeaderName::Event, "presence")
            .body("application/pidf+xml", body.clone())
    });
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Not a PIDF document: 415 with Accept.
    let password = h.password(&publisher);
    let wrong = h.authenticated(&mut publisher, &password, |p| {
        p.call(Method::Publish, ALICE)
            .header(HeaderName::Event, "presence")
            .body("text/plain", "here")
    });
    assert_eq!(wrong.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        wrong.headers().get(HeaderName::Accept),
        Some("application/pidf+xml")
    );
    // Another event package: 489.
    let other = publisher
        .call(Method::Publish, ALICE)
        .header(HeaderName::Event, "dialog")
        .body("application/pidf+xml", body.clone())
        .build()
        .unwrap();
    h.send(&publisher, other);
    assert_eq!(h.status(&publisher), 489);

    // A publication that is not refreshed expires; watchers learn it.
    subscribe(&mut h, &mut watcher, ALICE, "presence", 3600);
    let created = publish(
        &mut h,
        &mut publisher,
        None,
        120,
        Some(&pidf(ALICE, "pc", "open", "busy")),
    );
    let etag = etag_of(&created);
    assert!(body_of(&notified(&mut h, &watcher, 200)).contains("busy"));
    h.run_for(121 * S);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert!(body.contains("<basic>closed</basic>"), "{body}");
    assert!(publication_removed(&h, &etag));
}

#[test]
fn presence_follows_registration_when_nobody_publishes() {
    let mut h = Server::new();
    let (mut device, mut watcher) = (alice(), bob());
    let (_, notify) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 3600);
    let notify = notify.unwrap();
    h.respond(&watcher, &notify, 200);
    assert!(body_of(&notify).contains("<basic>closed</basic>"));

    h.register(&mut device, 600);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert!(body.contains("<basic>open</basic>"), "{body}");

    // The binding runs out: closed again.
    h.run_for(601 * S);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert!(body.contains("<basic>closed</basic>"), "{body}");
}

#[test]
fn a_notify_answered_481_ends_the_subscription() {
    let mut h = Server::new();
    let mut watcher = bob();
    let (ok, notify) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 600);
    h.respond(&watcher, &notify.unwrap(), 481);
    assert_eq!(h.service.subscription_count(), 0);
    assert!(subscription_removed(&h, ok.headers().to_tag().unwrap()));
    // Nothing more goes out for it.
    let mut device = alice();
    h.register(&mut device, 600);
    assert!(h.requests(&watcher).is_empty());
}

#[test]
fn a_notify_that_times_out_keeps_the_subscription_and_changes_coalesce() {
    let mut h = Server::new();
    let mut watcher = bob();
    let (_, notify) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 3600);
    // The watcher does not answer: retransmissions, then a timeout.
    let first = notify.unwrap();
    let mut device = alice();
    // A change while the NOTIFY is in flight waits for it.
    h.register(&mut device, 600);
    h.run_for(40 * S);
    let retransmitted = h.requests(&watcher);
    assert!(
        retransmitted
            .iter()
            .all(|r| r.headers().cseq() == first.headers().cseq()),
        "only the first NOTIFY, retransmitted: {retransmitted:?}"
    );
    assert_eq!(h.service.subscription_count(), 1);

    // The next change reaches the watcher, with the whole state.
    let mut second = Phone::new("alice", "198.51.100.30:5062");
    second.call_id = "alice-2".to_owned();
    h.register(&mut second, 600);
    let notify = notified(&mut h, &watcher, 200);
    assert!(body_of(&notify).contains("<basic>open</basic>"));
    assert!(notify.headers().cseq().unwrap().seq > first.headers().cseq().unwrap().seq);
}

#[test]
fn after_a_restart_watchers_keep_getting_notifys() {
    let mut h = Server::new();
    let mut device = alice();
    h.register(&mut device, 600);
    let mut watcher = bob();
    let (ok, before) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 3600);
    let before = before.unwrap();
    h.respond(&watcher, &before, 200);
    assert!(body_of(&before).contains("<basic>open</basic>"));
    let state = stored(&h.saved);
    assert_eq!(state.subscriptions.len(), 1);

    // A new process a minute later, without alice's binding (it ran out
    // while the server was down): the watcher is told at once.
    let mut h = Server::new();
    h.run_for(60 * S);
    h.service.load_state(state);
    assert_eq!(h.service.subscription_count(), 1);
    h.run_for(S);
    let resync = notified(&mut h, &watcher, 200);
    assert!(body_of(&resync).contains("<basic>closed</basic>"));
    assert!(resync.headers().cseq().unwrap().seq > before.headers().cseq().unwrap().seq);
    h.register(&mut device, 600);
    let after = notified(&mut h, &watcher, 200);
    assert!(body_of(&after).contains("<basic>open</basic>"));
    assert_eq!(after.headers().call_id(), ok.headers().call_id());
    assert_eq!(after.headers().from_tag(), ok.headers().to_tag());
    assert!(after.headers().cseq().unwrap().seq > resync.headers().cseq().unwrap().seq);
    let state = state_of(&after).to_owned();
    assert!(state.starts_with("active;expires="), "{state}");

    // And it still expires on time (an hour after it was made): the
    // binding's expiry first, then the end.
    h.run_for(3600 * S);
    let last = notifys(&mut h, &watcher);
    let states: Vec<&str> = last.iter().map(state_of).collect();
    assert_eq!(
        states.last(),
        Some(&"terminated;reason=timeout"),
        "{states:?}"
    );
}

#[test]
fn per_user_limit_answers_403() {
    let mut h = Server::with(|c| c.events.max_per_user = 1);
    let mut watcher = bob();
    assert_eq!(
        subscribe(&mut h, &mut watcher, ALICE, "presence", 600).status(),
        StatusCode::OK
    );
    let over = subscribe(
        &mut h,
        &mut watcher,
        "sip:carol@example.com",
        "presence",
        600,
    );
    assert_eq!(over.status(), StatusCode::FORBIDDEN);
    assert_eq!(h.service.subscription_count(), 1);
}

#[test]
fn options_advertise_publish_and_the_event_packages() {
    let mut h = Server::new();
    let mut phone = bob();
    let answer = h.ask(&mut phone, Method::Options, "sip:example.com");
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer
            .headers()
            .get(HeaderName::Allow)
            .unwrap()
            .contains("PUBLISH")
    );
    assert!(
        answer
            .headers()
            .get(HeaderName::AllowEvents)
            .unwrap()
            .contains("presence")
    );
}

#[test]
fn two_devices_publishing_are_composed_into_one_document() {
    let mut h = Server::new();
    let (mut desk, mut watcher) = (alice(), bob());
    let mut mobile = Phone::new("alice", "198.51.100.40:5060");
    mobile.call_id = "alice-mobile".to_owned();
    subscribe(&mut h, &mut watcher, ALICE, "presence", 3600);
    let first = publish(
        &mut h,
        &mut desk,
        None,
        600,
        Some(&pidf(ALICE, "t1", "open", "at the desk")),
    );
    assert_eq!(first.status(), StatusCode::OK);
    notified(&mut h, &watcher, 200);
    let second = publish(
        &mut h,
        &mut mobile,
        None,
        600,
        Some(&pidf(ALICE, "m1", "closed", "phone off")),
    );
    assert_eq!(second.status(), StatusCode::OK);
    assert_ne!(etag_of(&first), etag_of(&second));
    let body = body_of(&notified(&mut h, &watcher, 200));
    // Both tuples in one document.
    assert!(
        body.contains("at the desk") && body.contains("phone off"),
        "{body}"
    );
    assert!(
        body.contains("<basic>open</basic>") && body.contains("<basic>closed</basic>"),
        "{body}"
    );
    assert_eq!(body.matches("<presence").count(), 1, "{body}");
    assert!(
        body.contains("id=\"t1\"") && body.contains("id=\"m1\""),
        "{body}"
    );

    // The desk phone restarts and publishes its tuple again without its
    // entity tag: its old publication goes, the mobile's stays.
    let again = publish(
        &mut h,
        &mut desk,
        None,
        600,
        Some(&pidf(ALICE, "t1", "closed", "rebooted")),
    );
    assert_eq!(again.status(), StatusCode::OK);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert!(
        body.contains("rebooted") && body.contains("phone off"),
        "{body}"
    );
    assert!(!body.contains("at the desk"), "{body}");
    let first = etag_of(&first);
    assert!(publication_removed(&h, &first));
}

#[test]
fn reg_watchers_get_reginfo_on_registration_changes() {
    let mut h = Server::new();
    let (mut device, mut watcher) = (alice(), bob());
    let (ok, notify) = subscribe_notify(&mut h, &mut watcher, ALICE, "reg", 3600);
    assert_eq!(ok.status(), StatusCode::OK);
    let notify = notify.unwrap();
    h.respond(&watcher, &notify, 200);
    assert_eq!(notify.headers().get(HeaderName::Event), Some("reg"));
    assert_eq!(
        notify.headers().get(HeaderName::ContentType),
        Some("application/reginfo+xml")
    );
    let body = body_of(&notify);
    assert!(body.contains("state=\"init\""), "{body}");

    h.register(&mut device, 600);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert!(body.contains("state=\"active\""), "{body}");
    assert!(body.contains("198.51.100.10"), "{body}");
    // Versions increase NOTIFY by NOTIFY.
    assert!(body.contains("version=\"2\""), "{body}");
}

/// A server with alice's resource list `sip:alice-blf@example.com` of
/// `members`.
fn with_alice_list(members: &[&str]) -> Server {
    Server::with(|c| {
        c.events
            .lists
            .push(switchboard_server::events::ResourceList {
                uri: "sip:alice-blf@example.com".to_owned(),
                owner: ALICE.to_owned(),
                members: members.iter().map(|m| (*m).to_owned()).collect(),
            });
    })
}

#[test]
fn a_resource_list_needs_eventlist_and_gets_rlmi_notifys() {
    let mut h = with_alice_list(&["sip:bob@example.com", "sip:carol@example.com"]);
    let mut owner = alice();
    let list = "sip:alice-blf@example.com";
    let without = subscribe(&mut h, &mut owner, list, "presence", 3600);
    assert_eq!(without.status(), StatusCode::EXTENSION_REQUIRED);
    assert_eq!(
        without.headers().get(HeaderName::Require),
        Some("eventlist")
    );

    // Someone else's list: 403.
    let mut other = bob();
    let password = h.password(&other);
    let refused = h.authenticated(&mut other, &password, |p| {
        subscribe_request(p, list, "presence", 3600).header(HeaderName::Supported, "eventlist")
    });
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let password = h.password(&owner);
    h.authenticate(&mut owner, &password, |p| {
        subscribe_request(p, list, "presence", 3600).header(HeaderName::Supported, "eventlist")
    });
    let (ok, notify) = answer_and_notify(&mut h, &owner);
    assert_eq!(ok.status(), StatusCode::OK);
    let notify = notify.unwrap();
    h.respond(&owner, &notify, 200);
    let content_type = notify.headers().get(HeaderName::ContentType).unwrap();
    assert!(
        content_type.starts_with("multipart/related"),
        "{content_type}"
    );
    assert!(
        content_type.contains("application/rlmi+xml"),
        "{content_type}"
    );
    let body = body_of(&notify);
    assert!(
        body.contains("sip:bob@example.com") && body.contains("sip:carol@example.com"),
        "{body}"
    );
    assert_eq!(body.matches("<basic>closed</basic>").count(), 2, "{body}");

    assert!(body.contains("fullState=\"true\""), "{body}");

    // A member registers: a partial list NOTIFY with its state only.
    let mut member = bob();
    h.register(&mut member, 600);
    let body = body_of(&notified(&mut h, &owner, 200));
    assert!(body.contains("<basic>open</basic>"), "{body}");
    assert!(body.contains("fullState=\"false\""), "{body}");
    assert!(!body.contains("sip:carol@example.com"), "{body}");
}

#[test]
fn the_total_limit_answers_503() {
    let mut h = Server::with(|c| c.events.max_total = 1);
    let mut watcher = bob();
    subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    let mut carol = Phone::new("carol", "198.51.100.12:5060");
    let over = subscribe(&mut h, &mut carol, ALICE, "presence", 600);
    assert_eq!(over.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(over.headers().get(HeaderName::RetryAfter).is_some());
}

#[test]
fn a_fetch_with_expires_0_gets_the_state_once() {
    let mut h = Server::new();
    let mut watcher = bob();
    let (ok, notify) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 0);
    assert_eq!(ok.status(), StatusCode::OK);
    let notify = notify.unwrap();
    assert_eq!(state_of(&notify), "terminated;reason=timeout");
    assert!(body_of(&notify).contains("<basic>closed</basic>"));
    assert_eq!(h.service.subscription_count(), 0);
    assert!(h.saved.is_empty());
}

#[test]
fn shutdown_deactivates_only_when_configured() {
    let mut h = Server::new();
    let mut watcher = bob();
    subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    h.service.shutdown(h.now, &mut h.ep);
    h.run_for(S);
    assert!(h.requests(&watcher).is_empty());
    assert_eq!(h.service.subscription_count(), 1);

    let mut h = Server::with(|c| c.events.terminate_on_shutdown = true);
    subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    h.service.shutdown(h.now, &mut h.ep);
    // What the shutdown queued goes out at the next step.
    h.run_for(S);
    let last = notified(&mut h, &watcher, 200);
    assert_eq!(state_of(&last), "terminated;reason=deactivated");
    assert_eq!(h.service.subscription_count(), 0);
}

#[test]
fn a_subscribe_and_publish_flood_is_rate_limited() {
    let mut h = Server::with(|c| {
        c.protect.rate.rate = 1;
        c.protect.rate.burst = 3;
    });
    let mut flooder = bob();
    for i in 0..20 {
        let request = if i % 2 == 0 {
            subscribe_request(&mut flooder, ALICE, "presence", 600)
        } else {
            flooder
                .call(Method::Publish, "sip:bob@example.com")
                .header(HeaderName::Event, "presence")
                .body(
                    "application/pidf+xml",
                    pidf("sip:bob@example.com", "t", "open", ""),
                )
        };
        h.send(&flooder, request.build().unwrap());
    }
    let answered = h
        .responses(&flooder)
        .into_iter()
        .filter(|r| r.status().as_u16() >= 200)
        .count();
    assert_eq!(answered, 3, "only the burst is answered");
    assert!(h.service.subscription_count() == 0 && h.saved.is_empty());
}

#[test]
fn users_not_in_memory_are_looked_up_as_watcher_and_as_resource() {
    let mut h = Server::new();
    h.set_user("dave", "dave-pw");
    h.set_user("erin", "erin-pw");
    // Dave watches alice: his credentials need a lookup.
    let mut dave = Phone::new("dave", "198.51.100.50:5060");
    let ok = subscribe(&mut h, &mut dave, ALICE, "presence", 600);
    assert_eq!(ok.status(), StatusCode::OK);
    // Bob watches erin: she needs a lookup.
    let mut watcher = bob();
    let ok = subscribe(
        &mut h,
        &mut watcher,
        "sip:erin@example.com",
        "presence",
        600,
    );
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(h.count(|e| matches!(e, Effect::LookupUser { .. })) >= 2);
    assert_eq!(h.service.subscription_count(), 2);
}

/// Alice (authenticated) INVITEs bob, whose phone is registered: the
/// INVITE as bob's phone got it.
fn alice_calls_bob(h: &mut Server, caller: &mut Phone, callee: &Phone) -> Request {
    let password = h.password(caller);
    h.authenticate(caller, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
    });
    h.request_to(callee, Method::Invite)
}

/// bob (registered at 198.51.100.20) rings for a call from alice: the
/// caller and callee phones, the INVITE bob got, its Call-ID.
fn bob_rings(h: &mut Server) -> (Phone, Phone, Request, String) {
    let (mut caller, mut callee) = (alice(), Phone::new("bob", "198.51.100.20:5060"));
    h.register(&mut callee, 600);
    let invite = alice_calls_bob(h, &mut caller, &callee);
    h.respond(&callee, &invite, 180);
    let call_id = invite.headers().call_id().unwrap().to_owned();
    h.take(&caller);
    (caller, callee, invite, call_id)
}

/// carol picks bob's ringing call `call_id` up (authenticated), naming
/// the dialog as bob's lamp shows it; her phone.
fn carol_picks_up(h: &mut Server, call_id: &str) -> Phone {
    let mut picker = Phone::new("carol", "198.51.100.12:5060");
    let password = h.password(&picker);
    let replaces = format!("{call_id};to-tag=bob-tag;from-tag=alice-tag");
    h.authenticate(&mut picker, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
            .header(HeaderName::Replaces, replaces.as_str())
    });
    picker
}

/// The `<state>` of the dialogs in a dialog-info NOTIFY.
fn dialog_states(notify: &Request) -> Vec<String> {
    let body = body_of(notify);
    body.match_indices("<state")
        .filter_map(|(i, _)| {
            let rest = &body[i..];
            let open = rest.find('>')? + 1;
            let close = rest.find("</state>")?;
            Some(rest[open..close].to_owned())
        })
        .collect()
}

#[test]
fn busy_lamp_watchers_see_a_call_ring_answer_and_end() {
    let mut h = Server::new();
    let (mut caller, mut callee) = (alice(), Phone::new("bob", "198.51.100.20:5060"));
    h.register(&mut callee, 600);
    let mut lamp = Phone::new("carol", "198.51.100.12:5060");
    let (ok, first) = subscribe_notify(&mut h, &mut lamp, "sip:bob@example.com", "dialog", 3600);
    assert_eq!(ok.status(), StatusCode::OK);
    let first = first.unwrap();
    h.respond(&lamp, &first, 200);
    assert_eq!(
        first.headers().get(HeaderName::ContentType),
        Some("application/dialog-info+xml")
    );
    assert!(dialog_states(&first).is_empty());

    let invite = alice_calls_bob(&mut h, &mut caller, &callee);
    let trying = notified(&mut h, &lamp, 200);
    assert_eq!(dialog_states(&trying), ["trying"]);

    h.respond(&callee, &invite, 180);
    let early = notified(&mut h, &lamp, 200);
    assert_eq!(dialog_states(&early), ["early"]);
    let body = body_of(&early);
    // Caller ID and the tags a phone needs to pick the call up.
    assert!(body.contains("sip:alice@example.com"), "{body}");
    assert!(body.contains("direction=\"recipient\""), "{body}");
    assert!(body.contains(invite.headers().call_id().unwrap()), "{body}");
    assert!(
        body.contains("bob-tag") && body.contains("alice-tag"),
        "{body}"
    );

    h.respond(&callee, &invite, 200);
    let confirmed = notified(&mut h, &lamp, 200);
    assert_eq!(dialog_states(&confirmed), ["confirmed"]);
    let answer = h.final_response(&caller);
    assert_eq!(answer.status(), StatusCode::OK);

    let bye = caller.in_dialog(Method::Bye, &answer).build().unwrap();
    h.send(&caller, bye);
    let bye = h.request_to(&callee, Method::Bye);
    h.respond(&callee, &bye, 200);
    let ended = notified(&mut h, &lamp, 200);
    assert_eq!(dialog_states(&ended), ["terminated"]);
    // Versions go up NOTIFY by NOTIFY.
    let version = |n: &Request| {
        let body = body_of(n);
        let root = body.find("<dialog-info").unwrap();
        let at = root + body[root..].find(" version=\"").unwrap() + 10;
        body[at..]
            .split('"')
            .next()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert!(version(&ended) > version(&confirmed) && version(&confirmed) > version(&early));
}

#[test]
fn a_call_ending_while_a_lamp_notify_is_in_flight_is_still_shown_terminated() {
    let mut h = Server::new();
    let (mut caller, mut callee) = (alice(), Phone::new("bob", "198.51.100.20:5060"));
    h.register(&mut callee, 600);
    let mut lamp = Phone::new("carol", "198.51.100.12:5060");
    let (_, first) = subscribe_notify(&mut h, &mut lamp, "sip:bob@example.com", "dialog", 3600);
    h.respond(&lamp, &first.unwrap(), 200);
    let invite = alice_calls_bob(&mut h, &mut caller, &callee);
    let call_id = invite.headers().call_id().unwrap().to_owned();
    // The lamp is slow to answer this NOTIFY...
    let trying = unique_notifys(&mut h, &lamp);
    assert_eq!(trying.len(), 1);
    // ...while bob declines and alice calls again: the first call is
    // over before the lamp hears of it.
    h.respond(&callee, &invite, 486);
    h.take(&caller);
    h.take(&callee);
    caller.call_id = "alice-call-2".to_owned();
    alice_calls_bob(&mut h, &mut caller, &callee);
    h.respond(&lamp, &trying[0], 200);
    let next = notified(&mut h, &lamp, 200);
    let body = body_of(&next);
    let first_call = body
        .split("<dialog ")
        .find(|d| d.contains(&format!("call-id=\"{call_id}\"")))
        .unwrap_or_else(|| panic!("the declined call is missing: {body}"));
    assert!(first_call.contains(">terminated</state>"), "{body}");
}

#[test]
fn a_pickup_with_replaces_is_delivered_to_the_callers_device() {
    let mut h = Server::new();
    let (caller, callee, _invite, call_id) = bob_rings(&mut h);

    // Carol picks bob's ringing call up, naming the dialog as bob's lamp
    // shows it.
    let _picker = carol_picks_up(&mut h, &call_id);
    // Only the caller's device (the UAC of the early dialog) accepts it.
    let delivered = h.request_to(&caller, Method::Invite);
    assert_eq!(
        delivered.headers().get(HeaderName::Replaces),
        Some(format!("{call_id};to-tag=alice-tag;from-tag=bob-tag").as_str())
    );
    assert_eq!(delivered.uri_str(), "sip:alice@198.51.100.10:5060");
    assert!(
        h.requests(&callee)
            .iter()
            .all(|r| r.method() != &Method::Invite),
        "not forked to bob's phones"
    );
}

#[test]
fn after_a_pickup_the_new_call_is_the_callers_not_on_the_callees_lamp() {
    let mut h = Server::new();
    let (caller, _callee, _invite, call_id) = bob_rings(&mut h);
    // A lamp on bob and one on alice, both showing the ringing call.
    let mut lamp = Phone::new("carol", "198.51.100.13:5060");
    let (_, early) = subscribe_notify(&mut h, &mut lamp, "sip:bob@example.com", "dialog", 3600);
    let early = early.unwrap();
    assert_eq!(dialog_states(&early), ["early"]);
    h.respond(&lamp, &early, 200);
    let mut alices_lamp = Phone::new("carol", "198.51.100.14:5060");
    let (_, first) = subscribe_notify(&mut h, &mut alices_lamp, ALICE, "dialog", 3600);
    h.respond(&alices_lamp, &first.unwrap(), 200);

    let picker = carol_picks_up(&mut h, &call_id);
    let pickup = h.request_to(&caller, Method::Invite);
    h.respond(&caller, &pickup, 200);
    assert_eq!(h.final_response(&picker).status(), StatusCode::OK);
    // bob's lamp does not show carol's call with alice as bob's...
    let on_bobs_lamp = unique_notifys(&mut h, &lamp);
    assert!(
        on_bobs_lamp
            .iter()
            .all(|n| !body_of(n).contains("sip:carol@example.com")),
        "{on_bobs_lamp:?}"
    );
    // ...alice's lamp does.
    assert!(
        unique_notifys(&mut h, &alices_lamp)
            .iter()
            .any(|n| body_of(n).contains("sip:carol@example.com")),
        "alice's lamp shows the picked-up call"
    );
}

#[test]
fn a_pickup_from_another_domain_is_refused_and_the_call_rings_on() {
    let mut h = Server::new();
    let (caller, callee, invite, call_id) = bob_rings(&mut h);
    h.take(&callee);

    // Foreign callers are trusted for calls (the default), not to take a
    // local user's ringing call.
    let mut stranger = Phone::new("mallory", "203.0.113.9:5060");
    stranger.domain = "other.org".to_owned();
    let replaces = format!("{call_id};to-tag=bob-tag;from-tag=alice-tag");
    let pickup = stranger
        .call(Method::Invite, "sip:bob@example.com")
        .header(HeaderName::Replaces, replaces.as_str())
        .build()
        .unwrap();
    h.send(&stranger, pickup);
    assert_eq!(h.status(&stranger), 403);
    assert!(h.take(&caller).is_empty(), "nothing reached alice's phone");
    assert!(
        h.requests(&callee)
            .iter()
            .all(|r| r.method() != &Method::Invite && r.method() != &Method::Cancel),
        "bob's phone still rings, with no second call"
    );

    // The call goes on: bob answers alice.
    h.respond(&callee, &invite, 200);
    assert_eq!(h.final_response(&caller).status(), StatusCode::OK);
}

#[test]
fn notifys_reach_watchers_behind_nat_and_on_connections() {
    let mut h = Server::new();
    // Behind NAT: its Contact is a private address; NOTIFYs go where its
    // SUBSCRIBE came from.
    let mut natted = Phone::behind_nat("bob", "203.0.113.7:40000", "192.168.1.20:5060");
    let (ok, notify) = subscribe_notify(&mut h, &mut natted, ALICE, "presence", 600);
    assert_eq!(ok.status(), StatusCode::OK);
    let notify = notify.expect("the NOTIFY reached the public address");
    assert_eq!(notify.uri_str(), "sip:bob@192.168.1.20:5060");
    h.respond(&natted, &notify, 200);

    // Over TCP: down the same connection.
    let mut carol = Phone::new("carol", "198.51.100.12:5070");
    h.connect_tcp(&mut carol);
    let (ok, notify) = subscribe_notify(&mut h, &mut carol, ALICE, "presence", 600);
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(notify.is_some(), "the NOTIFY went down the connection");
}

#[test]
fn a_change_while_a_notify_is_in_flight_follows_once_it_is_answered() {
    let mut h = Server::new();
    let mut watcher = bob();
    let (_, first) = subscribe_notify(&mut h, &mut watcher, ALICE, "presence", 3600);
    let first = first.unwrap();
    let mut device = alice();
    h.register(&mut device, 600);
    // Nothing new while the first is unanswered...
    assert!(
        unique_notifys(&mut h, &watcher)
            .iter()
            .all(|n| n.headers().cseq() == first.headers().cseq())
    );
    // ...then the latest state at once.
    h.respond(&watcher, &first, 200);
    let next = notified(&mut h, &watcher, 200);
    assert!(body_of(&next).contains("<basic>open</basic>"));
}

#[test]
fn foreign_watchers_subscribe_only_when_configured_and_allowed() {
    let mut h = Server::with(|c| {
        c.events.foreign_watchers = true;
        c.events.policy.rules.insert(
            ALICE.to_owned(),
            WatchRule {
                allow: vec!["@other.org".to_owned()],
                deny: vec![],
            },
        );
    });
    let mut stranger = Phone::new("eve", "203.0.113.9:5060");
    stranger.domain = "other.org".to_owned();
    // No challenge (not a local user); allowed by alice's rule.
    send_subscribe(&mut h, &mut stranger, ALICE, "presence");
    let (ok, notify) = answer_and_notify(&mut h, &stranger);
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(notify.is_some());
    // Bob has no rule for other.org: refused.
    send_subscribe(&mut h, &mut stranger, "sip:bob@example.com", "presence");
    assert_eq!(h.status(&stranger), 403);
}

#[test]
fn load_state_drops_what_ended_or_is_no_longer_served() {
    let mut h = Server::new();
    let mut watcher = bob();
    subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    let good = stored(&h.saved).subscriptions.remove(0);
    let expired = SubscriptionRecord {
        id: "old".to_owned(),
        expires_unix: service_harness::UNIX0 - 1,
        ..good.clone()
    };
    let unserved = SubscriptionRecord {
        id: "mwi".to_owned(),
        event: "message-summary".to_owned(),
        ..good.clone()
    };
    let damaged = SubscriptionRecord {
        id: "far".to_owned(),
        expires_unix: u64::MAX,
        ..good.clone()
    };
    let mut h = Server::new();
    h.service.load_state(StoredState {
        subscriptions: vec![good, expired, unserved, damaged],
        ..StoredState::default()
    });
    h.run_for(S);
    assert_eq!(h.service.subscription_count(), 2);
    let removed: Vec<&str> = h
        .saved
        .iter()
        .filter_map(|c| match c {
            StateChange::RemoveSubscription { id } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, ["old", "mwi"]);
    // The damaged one ends no later than the longest grant.
    h.run_for(7200 * S);
    assert_eq!(h.service.subscription_count(), 0);
}

#[test]
fn a_busy_lamp_list_shows_a_members_ringing_call_with_its_dialog_info() {
    let mut h = Server::with(|c| {
        c.events
            .lists
            .push(switchboard_server::events::ResourceList {
                uri: "sip:carol-blf@example.com".to_owned(),
                owner: "sip:carol@example.com".to_owned(),
                members: vec![
                    "sip:alice@example.com".to_owned(),
                    "sip:bob@example.com".to_owned(),
                ],
            });
    });
    let (mut caller, mut callee) = (alice(), Phone::new("bob", "198.51.100.20:5060"));
    h.register(&mut callee, 600);
    let mut lamps = Phone::new("carol", "198.51.100.12:5060");
    let password = h.password(&lamps);
    h.authenticate(&mut lamps, &password, |p| {
        subscribe_request(p, "sip:carol-blf@example.com", "dialog", 3600)
            .header(HeaderName::Supported, "eventlist")
    });
    let (ok, first) = answer_and_notify(&mut h, &lamps);
    assert_eq!(ok.status(), StatusCode::OK);
    let first = first.unwrap();
    h.respond(&lamps, &first, 200);
    let body = body_of(&first);
    assert_eq!(
        body.matches("application/dialog-info+xml").count(),
        2,
        "{body}"
    );

    // Alice calls bob: both members change; the lamps follow.
    let invite = alice_calls_bob(&mut h, &mut caller, &callee);
    h.respond(&callee, &invite, 180);
    let mut seen = String::new();
    for _ in 0..4 {
        for n in notifys(&mut h, &lamps) {
            seen.push_str(&body_of(&n));
        }
        h.run_for(S);
    }
    assert!(seen.contains("fullState=\"false\""), "{seen}");
    assert!(seen.contains(">early</state>"), "{seen}");
    assert!(seen.contains("direction=\"recipient\""), "{seen}");
    assert!(seen.contains("direction=\"initiator\""), "{seen}");
}

#[test]
fn a_subscribe_for_another_domain_is_relayed_as_before() {
    let mut h = Server::new();
    let remote = service_harness::addr("198.51.100.99:5060");
    h.names.insert(
        "other.org".to_owned(),
        vec![switchboard_server::proxy::NextHop::address(
            switchboard_core::Transport::Udp,
            remote,
        )],
    );
    let mut watcher = bob();
    let password = h.password(&watcher);
    h.authenticate(&mut watcher, &password, |p| {
        subscribe_request(p, "sip:dave@other.org", "presence", 600)
    });
    let sent = h.take_requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1.method(), &Method::Subscribe);
    assert_eq!(sent[0].1.uri_str(), "sip:dave@other.org");
    assert_eq!(h.service.subscription_count(), 0);
    assert!(h.saved.is_empty());
}

#[test]
fn a_subscribe_that_does_not_accept_the_document_type_gets_406() {
    let mut h = with_alice_list(&["sip:bob@example.com"]);
    let mut watcher = bob();
    let request = subscribe_request(&mut watcher, ALICE, "dialog", 600)
        .header(HeaderName::Accept, "application/pidf+xml")
        .build()
        .unwrap();
    h.send(&watcher, request);
    let refused = h.final_response(&watcher);
    assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        refused.headers().get(HeaderName::Accept),
        Some("application/dialog-info+xml")
    );

    // The package's type (or a wildcard) is fine.
    let password = h.password(&watcher);
    let ok = h.authenticated(&mut watcher, &password, |p| {
        subscribe_request(p, ALICE, "dialog", 600)
            .header(HeaderName::Accept, "application/*, text/plain;q=0")
    });
    assert_eq!(ok.status(), StatusCode::OK);

    // A list needs the RLMI multipart.
    let mut owner = alice();
    let list = "sip:alice-blf@example.com";
    let request = subscribe_request(&mut owner, list, "presence", 600)
        .header(HeaderName::Supported, "eventlist")
        .header(HeaderName::Accept, "application/pidf+xml")
        .build()
        .unwrap();
    h.send(&owner, request);
    assert_eq!(h.status(&owner), 406);
    let password = h.password(&owner);
    let ok = h.authenticated(&mut owner, &password, |p| {
        subscribe_request(p, list, "presence", 600)
            .header(HeaderName::Supported, "eventlist")
            .header(
                HeaderName::Accept,
                "application/pidf+xml, application/rlmi+xml, multipart/related",
            )
    });
    assert_eq!(ok.status(), StatusCode::OK);
}

#[test]
fn a_refresh_from_another_address_is_challenged_like_the_first_subscribe() {
    let mut h = Server::new();
    let mut watcher = bob();
    let ok = subscribe(&mut h, &mut watcher, ALICE, "presence", 600);
    // From where it authenticated: no challenge.
    let (again, notify) = resubscribe(&mut h, &mut watcher, &ok, 600);
    assert_eq!(again.status(), StatusCode::OK);
    h.respond(&watcher, &notify.unwrap(), 200);

    // The same dialog (Call-ID, tags) from elsewhere proves nothing.
    let mut elsewhere = Phone::new("bob", "203.0.113.50:5060");
    let refresh = |p: &mut Phone| {
        p.in_dialog(Method::Subscribe, &ok)
            .header(HeaderName::Event, "presence")
            .header(HeaderName::Expires, "0")
    };
    let request = refresh(&mut elsewhere).build().unwrap();
    h.send(&elsewhere, request);
    assert_eq!(h.status(&elsewhere), 407);
    assert_eq!(h.service.subscription_count(), 1, "not ended by a stranger");

    // With bob's credentials it goes through.
    let password = h.password(&elsewhere);
    h.authenticate(&mut elsewhere, &password, refresh);
    assert_eq!(h.status(&elsewhere), 200);
    // The final NOTIFY goes to the dialog's Contact.
    let last = notified(&mut h, &watcher, 200);
    assert_eq!(state_of(&last), "terminated;reason=timeout");
    assert_eq!(h.service.subscription_count(), 0);
}

/// The `state` of the `<registration>` element of a reginfo body.
fn registration_state(body: &str) -> String {
    let at = body.find("<registration").unwrap();
    let rest = &body[at..];
    let start = rest.find(" state=\"").unwrap() + 8;
    rest[start..].split('"').next().unwrap().to_owned()
}

/// The `event`s of the `<contact>` elements of a reginfo body.
fn contact_events(body: &str) -> Vec<String> {
    body.match_indices("<contact")
        .map(|(i, _)| {
            let rest = &body[i..];
            let start = rest.find(" event=\"").unwrap() + 8;
            rest[start..].split('"').next().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn reginfo_tells_what_happened_to_each_contact() {
    let mut h = Server::new();
    let (mut device, mut watcher) = (alice(), bob());
    let ok = subscribe(&mut h, &mut watcher, ALICE, "reg", 3600);
    assert_eq!(ok.status(), StatusCode::OK);

    h.register(&mut device, 600);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert_eq!(contact_events(&body), ["registered"], "{body}");
    assert_eq!(registration_state(&body), "active");
    // The watcher has the state: only what changed.
    assert!(body.contains("state=\"partial\""), "{body}");

    h.register(&mut device, 600);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert_eq!(contact_events(&body), ["refreshed"], "{body}");

    // The last contact goes: the registration is terminated, not init.
    h.register(&mut device, 0);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert_eq!(contact_events(&body), ["unregistered"], "{body}");
    assert_eq!(registration_state(&body), "terminated", "{body}");

    // A NOTIFY that is lost: the next one is the full state, with the
    // event of the change it follows.
    h.register(&mut device, 60);
    let lost = notified(&mut h, &watcher, 500);
    assert_eq!(contact_events(&body_of(&lost)), ["registered"]);
    h.run_for(61 * S);
    let body = body_of(&notified(&mut h, &watcher, 200));
    assert!(body.contains("state=\"full\""), "{body}");
    assert_eq!(contact_events(&body), ["expired"], "{body}");
    assert_eq!(registration_state(&body), "terminated", "{body}");
}

#[test]
fn a_call_that_ends_while_a_notify_is_in_flight_still_shows_terminated() {
    let mut h = Server::new();
    let (mut caller, mut callee) = (alice(), Phone::new("bob", "198.51.100.20:5060"));
    h.register(&mut callee, 600);
    let mut lamp = Phone::new("carol", "198.51.100.12:5060");
    subscribe(&mut h, &mut lamp, "sip:bob@example.com", "dialog", 3600);

    let invite = alice_calls_bob(&mut h, &mut caller, &callee);
    // The lamp does not answer the "trying" NOTIFY yet...
    let trying = unique_notifys(&mut h, &lamp);
    assert_eq!(trying.len(), 1);
    assert_eq!(dialog_states(&trying[0]), ["trying"]);
    // ...while the call is refused, and a second call starts (the book
    // forgets the ended dialog at that change).
    h.respond(&callee, &invite, 486);
    h.take(&caller);
    let mut other = Phone::new("carol", "198.51.100.14:5060");
    let password = h.password(&other);
    h.authenticate(&mut other, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
    });
    let second = h
        .requests(&callee)
        .into_iter()
        .find(|r| r.method() == &Method::Invite)
        .unwrap();
    h.respond(&lamp, &trying[0], 200);
    let next = notified(&mut h, &lamp, 200);
    let states = dialog_states(&next);
    assert!(
        states.contains(&"terminated".to_owned()),
        "the ended call is shown as terminated: {states:?}"
    );
    assert!(states.contains(&"trying".to_owned()), "{states:?}");
    // Told once: the next NOTIFY no longer has it.
    h.respond(&callee, &second, 180);
    let ringing = notified(&mut h, &lamp, 200);
    assert_eq!(dialog_states(&ringing), ["early"]);
}

#[test]
fn the_operator_reads_every_publication_held() {
    let mut h = Server::new();
    let mut publisher = alice();
    assert!(h.service.publications().iter().next().is_none());
    let body = pidf(ALICE, "t1", "open", "at lunch");
    let ok = publish(&mut h, &mut publisher, None, 600, Some(&body));
    assert_eq!(ok.status(), StatusCode::OK);
    let held: Vec<_> = h.service.publications().iter().collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].event, "presence");
    assert_eq!(held[0].body, body);
    assert_eq!(held[0].etag, etag_of(&ok));
}
