//! The subscriber (RFC 6665) on a virtual clock: digest retry, refresh
//! timing, NOTIFY handling (before the 2xx, 481 for strangers, 489),
//! re-subscription on terminated;reason=deactivated, unsubscription.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::Transport;
use switchboard_proto::digest::{self, Algorithm, Credentials as Creds};
use switchboard_proto::{
    HeaderName, Message, Method, Request, RequestBuilder, Response, ResponseBuilder, StatusCode,
};

use super::harness::{Net, Who};
use super::registration::config;
use crate::{
    Action, NotifyBody, Presence, Subscription, SubscriptionEnd, SubscriptionEvent,
    SubscriptionState, UaEvent,
};

const BOB: &str = "sip:bob@example.com";

fn subscribe(now: Instant) -> Subscription {
    Subscription::new(
        now,
        config("secret"),
        BOB,
        "presence",
        600,
        Box::new(StdRng::seed_from_u64(7)),
    )
    .unwrap()
}

fn sent(sub: &mut Subscription) -> Request {
    match sub.poll_action() {
        Some(Action::Send { mut request, .. }) => {
            request.headers_mut().push_front(
                HeaderName::Via,
                "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKsub",
            );
            request
        }
        other => panic!("expected a request, got {other:?}"),
    }
}

fn answered(sub: &mut Subscription) -> StatusCode {
    match sub.poll_action() {
        Some(Action::Respond { response, .. }) => response.status(),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn response(req: &Request, status: StatusCode, expires: Option<u32>) -> Response {
    let mut b = ResponseBuilder::from_request(req, status)
        .to_tag("ntf")
        .header(HeaderName::Contact, "<sip:bob@192.0.2.5:5080>");
    if let Some(e) = expires {
        b = b.header(HeaderName::Expires, e.to_string());
    }
    if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
        b = b.header(
            HeaderName::ProxyAuthenticate,
            r#"Digest realm="example.com", nonce="n1", qop="auth""#,
        );
    }
    b.build().unwrap()
}

/// A NOTIFY in the dialog of `sub_req` (our SUBSCRIBE), CSeq `cseq`.
fn notify(sub_req: &Request, cseq: u32, state: &str, body: Option<(&str, &str)>) -> Request {
    let h = sub_req.headers();
    let mut b = RequestBuilder::new(Method::Notify, "sip:alice@127.0.0.1:5070")
        .header(
            HeaderName::Via,
            "SIP/2.0/UDP 192.0.2.5:5080;branch=z9hG4bKntf",
        )
        .from("<sip:bob@example.com>", "ntf")
        .to("<sip:alice@example.com>", h.from_tag())
        .call_id(h.call_id().unwrap())
        .cseq(cseq)
        .contact("<sip:bob@192.0.2.5:5080>")
        .header(HeaderName::Event, "presence")
        .header(HeaderName::SubscriptionState, state);
    if let Some((ct, text)) = body {
        b = b.body(ct, text.as_bytes().to_vec());
    }
    b.build().unwrap()
}

/// Hands `n` to the subscription as a server transaction would.
fn on_notify(sub: &mut Subscription, now: Instant, n: &Request) {
    sub.handle_notify(now, super::peer_input::fake_tx(n).unwrap(), n);
}

fn notified(sub: &mut Subscription) -> crate::Notification {
    match sub.poll_event() {
        Some(SubscriptionEvent::Notified(n)) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

/// The subscription starts anew at once, in a new dialog: its SUBSCRIBE.
fn resubscribed_at_once(sub: &mut Subscription, first: &Request) -> Request {
    assert!(matches!(
        sub.poll_event(),
        Some(SubscriptionEvent::Retrying { retry_in, .. }) if retry_in.is_zero()
    ));
    let again = sent(sub);
    assert_eq!(again.uri_str(), BOB);
    assert!(again.headers().to_tag().is_none());
    assert_ne!(again.headers().call_id(), first.headers().call_id());
    again
}

const PIDF_OPEN: &str = r#"<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.com"><tuple id="a"><status><basic>open</basic></status></tuple><note>at lunch</note></presence>"#;

#[test]
fn subscribes_with_digest_refreshes_in_time_and_unsubscribes() {
    let t0 = Instant::now();
    let mut sub = subscribe(t0);
    let first = sent(&mut sub);
    let h = first.headers();
    assert_eq!(first.method(), &Method::Subscribe);
    assert_eq!(first.uri_str(), BOB);
    assert_eq!(h.get(HeaderName::Event), Some("presence"));
    assert_eq!(h.get(HeaderName::Expires), Some("600"));
    assert_eq!(
        h.get(HeaderName::Accept),
        Some("application/pidf+xml, multipart/related, application/rlmi+xml")
    );
    assert_eq!(h.get(HeaderName::Supported), Some("eventlist"));
    assert!(h.get(HeaderName::Contact).is_some());
    assert!(h.to_tag().is_none());

    // 407: the same SUBSCRIBE again with the digest, next CSeq.
    sub.handle_response(
        t0,
        &response(&first, StatusCode::PROXY_AUTHENTICATION_REQUIRED, None),
    );
    let second = sent(&mut sub);
    assert_eq!(second.headers().cseq().unwrap().seq, 2);
    assert_eq!(second.headers().call_id(), first.headers().call_id());
    let value = second
        .headers()
        .get(HeaderName::ProxyAuthorization)
        .unwrap();
    let Creds::Digest(c) = Creds::parse(value).unwrap() else {
        panic!("not digest")
    };
    let ha1 = digest::ha1(Algorithm::Md5, "alice", "example.com", "secret");
    assert!(c.verify("SUBSCRIBE", b"", &ha1).unwrap());

    // Granted 120 s: refreshed at 108 s, not before.
    sub.handle_response(t0, &response(&second, StatusCode::OK, Some(120)));
    assert_eq!(
        sub.poll_event(),
        Some(SubscriptionEvent::Accepted { expires: 120 })
    );
    assert!(sub.is_active());
    assert_eq!(sub.poll_timeout(), Some(t0 + Duration::from_secs(108)));
    sub.handle_timeout(t0 + Duration::from_secs(107));
    assert!(sub.poll_action().is_none());

    // The first NOTIFY: answered 200, summarised.
    let n = notify(
        &first,
        1,
        "active;expires=120",
        Some(("application/pidf+xml", PIDF_OPEN)),
    );
    assert!(sub.matches(&n));
    on_notify(&mut sub, t0, &n);
    assert_eq!(answered(&mut sub), StatusCode::OK);
    let n = notified(&mut sub);
    assert_eq!(n.state, SubscriptionState::Active { expires: Some(120) });
    let NotifyBody::Presence(p) = n.body else {
        panic!("not presence: {:?}", n.body)
    };
    assert_eq!(p.open, Some(true));
    assert_eq!(p.note.as_deref(), Some("at lunch"));

    // The refresh goes in the dialog: To tag, the notifier's Contact.
    let t1 = t0 + Duration::from_secs(108);
    sub.handle_timeout(t1);
    let refresh = sent(&mut sub);
    assert_eq!(refresh.uri_str(), "sip:bob@192.0.2.5:5080");
    assert_eq!(refresh.headers().to_tag(), Some("ntf"));
    assert_eq!(refresh.headers().cseq().unwrap().seq, 3);
    assert_eq!(refresh.headers().get(HeaderName::Expires), Some("600"));
    sub.handle_response(t1, &response(&refresh, StatusCode::OK, Some(60)));
    assert_eq!(
        sub.poll_event(),
        Some(SubscriptionEvent::Accepted { expires: 60 })
    );
    assert_eq!(sub.poll_timeout(), Some(t1 + Duration::from_secs(54)));

    // A NOTIFY that shortens the subscription brings the refresh forward.
    on_notify(&mut sub, t1, &notify(&first, 2, "active;expires=20", None));
    assert_eq!(answered(&mut sub), StatusCode::OK);
    assert_eq!(notified(&mut sub).body, NotifyBody::Empty);
    assert_eq!(sub.poll_timeout(), Some(t1 + Duration::from_secs(15)));

    // Stop: Expires 0 in the dialog; the 200 ends it; the final NOTIFY
    // is still answered 200, without an event.
    sub.stop(t1);
    let bye = sent(&mut sub);
    assert_eq!(bye.headers().get(HeaderName::Expires), Some("0"));
    assert_eq!(bye.headers().to_tag(), Some("ntf"));
    sub.handle_response(t1, &response(&bye, StatusCode::OK, Some(0)));
    assert_eq!(
        sub.poll_event(),
        Some(SubscriptionEvent::Ended(SubscriptionEnd::Unsubscribed))
    );
    on_notify(
        &mut sub,
        t1,
        &notify(&first, 3, "terminated;reason=timeout", None),
    );
    assert_eq!(answered(&mut sub), StatusCode::OK);
    assert!(sub.poll_event().is_none());
    assert!(sub.poll_action().is_none());
    let forget = sub.poll_timeout().unwrap();
    sub.handle_timeout(forget);
    assert!(sub.is_gone());
}

#[test]
fn a_notify_before_the_2xx_sets_up_the_dialog_and_deactivated_resubscribes() {
    let t0 = Instant::now();
    let mut sub = subscribe(t0);
    let first = sent(&mut sub);
    // The NOTIFY overtakes the 200.
    on_notify(&mut sub, t0, &notify(&first, 1, "pending", None));
    assert_eq!(answered(&mut sub), StatusCode::OK);
    assert_eq!(notified(&mut sub).state, SubscriptionState::Pending);
    sub.handle_response(t0, &response(&first, StatusCode::OK, Some(600)));
    assert_eq!(
        sub.poll_event(),
        Some(SubscriptionEvent::Accepted { expires: 600 })
    );
    // A NOTIFY of another notifier's dialog (another From tag): 481.
    let mut stranger = notify(&first, 2, "active", None);
    stranger
        .headers_mut()
        .set(HeaderName::From, "<sip:bob@example.com>;tag=other");
    on_notify(&mut sub, t0, &stranger);
    assert_eq!(
        answered(&mut sub),
        StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST
    );
    // The wrong event package: 489.
    let mut wrong = notify(&first, 3, "active", None);
    wrong.headers_mut().set(HeaderName::Event, "dialog");
    on_notify(&mut sub, t0, &wrong);
    assert_eq!(answered(&mut sub), StatusCode::BAD_EVENT);
    assert!(sub.poll_event().is_none());

    // Deactivated: a new subscription at once, in a new dialog.
    on_notify(
        &mut sub,
        t0,
        &notify(&first, 4, "terminated;reason=deactivated", None),
    );
    assert_eq!(answered(&mut sub), StatusCode::OK);
    assert!(matches!(
        notified(&mut sub).state,
        SubscriptionState::Terminated { reason: Some(ref r) } if r == "deactivated"
    ));
    let again = resubscribed_at_once(&mut sub, &first);
    // The old dialog is no longer ours.
    assert!(!sub.matches(&notify(&first, 5, "active", None)));

    // Rejected: over, no new SUBSCRIBE.
    sub.handle_response(t0, &response(&again, StatusCode::OK, Some(600)));
    let _ = sub.poll_event();
    on_notify(
        &mut sub,
        t0,
        &notify(&again, 1, "terminated;reason=rejected", None),
    );
    assert_eq!(answered(&mut sub), StatusCode::OK);
    let _ = notified(&mut sub);
    assert_eq!(
        sub.poll_event(),
        Some(SubscriptionEvent::Ended(SubscriptionEnd::Terminated {
            reason: Some("rejected".into())
        }))
    );
    assert!(sub.poll_action().is_none());
}

/// A reginfo document of bob (version `version`, `state` full or
/// partial) with `contacts` as (id, URI, state).
fn reginfo(version: u32, state: &str, contacts: &[(&str, &str, &str)]) -> String {
    let contacts: String = contacts
        .iter()
        .map(|(id, uri, state)| {
            format!(r#"<contact id="{id}" state="{state}" event="registered"><uri>{uri}</uri></contact>"#)
        })
        .collect();
    format!(
        r#"<?xml version="1.0"?><reginfo xmlns="urn:ietf:params:xml:ns:reginfo" version="{version}" state="{state}"><registration aor="{BOB}" id="r1" state="active">{contacts}</registration></reginfo>"#
    )
}

/// The active contacts a reginfo NOTIFY `n` reports, handed to `sub`.
fn active_contacts(sub: &mut Subscription, t0: Instant, n: &Request) -> usize {
    on_notify(sub, t0, n);
    assert_eq!(answered(sub), StatusCode::OK);
    match notified(sub).body {
        NotifyBody::Registrations(info) => {
            assert_eq!(info.registrations.len(), 1, "{info:?}");
            info.registrations[0].active_contacts()
        }
        other => panic!("not reginfo: {other:?}"),
    }
}

#[test]
fn a_partial_reginfo_updates_only_the_contacts_it_names() {
    let t0 = Instant::now();
    let mut sub = Subscription::new(
        t0,
        config("secret"),
        BOB,
        "reg",
        600,
        Box::new(StdRng::seed_from_u64(7)),
    )
    .unwrap();
    let first = sent(&mut sub);
    sub.handle_response(t0, &response(&first, StatusCode::OK, Some(600)));
    let _ = sub.poll_event();
    let reg_notify = |cseq, doc: String| {
        let mut n = notify(
            &first,
            cseq,
            "active;expires=600",
            Some(("application/reginfo+xml", &doc)),
        );
        n.headers_mut().set(HeaderName::Event, "reg");
        n
    };
    let desk = ("c1", "sip:bob@192.0.2.1", "active");
    let phone = ("c2", "sip:bob@192.0.2.2", "active");
    let full = reg_notify(1, reginfo(0, "full", &[desk, phone]));
    assert_eq!(active_contacts(&mut sub, t0, &full), 2);
    // The phone re-registers: the partial document names only it.
    let refreshed = reg_notify(2, reginfo(1, "partial", &[phone]));
    assert_eq!(active_contacts(&mut sub, t0, &refreshed), 2);
    // The desk unregisters; then a third device registers.
    let gone = reg_notify(
        3,
        reginfo(2, "partial", &[("c1", "sip:bob@192.0.2.1", "terminated")]),
    );
    assert_eq!(active_contacts(&mut sub, t0, &gone), 1);
    let tablet = reg_notify(
        4,
        reginfo(3, "partial", &[("c3", "sip:bob@192.0.2.3", "active")]),
    );
    assert_eq!(active_contacts(&mut sub, t0, &tablet), 2);
    // A full document replaces what is held.
    let only_desk = reg_notify(5, reginfo(4, "full", &[desk]));
    assert_eq!(active_contacts(&mut sub, t0, &only_desk), 1);
}

#[test]
fn a_refused_subscription_ends_and_a_timeout_is_retried() {
    let t0 = Instant::now();
    let mut sub = subscribe(t0);
    let first = sent(&mut sub);
    sub.handle_response(t0, &response(&first, StatusCode::BAD_EVENT, None));
    assert!(matches!(
        sub.poll_event(),
        Some(SubscriptionEvent::Ended(SubscriptionEnd::Refused { status, .. })) if status == StatusCode::BAD_EVENT
    ));
    assert!(sub.poll_action().is_none());

    let mut sub = subscribe(t0);
    let _ = sent(&mut sub);
    sub.handle_failure(t0, crate::Failure::Timeout);
    assert!(matches!(
        sub.poll_event(),
        Some(SubscriptionEvent::Retrying { status, retry_in, .. })
            if status == StatusCode::REQUEST_TIMEOUT && retry_in == Duration::from_secs(2)
    ));
    assert!(sub.poll_action().is_none());
    sub.handle_timeout(t0 + Duration::from_secs(2));
    assert_eq!(sent(&mut sub).method(), &Method::Subscribe);
}

#[test]
fn a_refresh_answered_481_starts_a_new_subscription() {
    let t0 = Instant::now();
    let mut sub = subscribe(t0);
    let first = sent(&mut sub);
    sub.handle_response(t0, &response(&first, StatusCode::OK, Some(60)));
    let _ = sub.poll_event();
    let t1 = t0 + Duration::from_secs(54);
    sub.handle_timeout(t1);
    let refresh = sent(&mut sub);
    assert_eq!(refresh.headers().to_tag(), Some("ntf"));
    // The notifier restarted without the subscription.
    sub.handle_response(
        t1,
        &response(
            &refresh,
            StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST,
            None,
        ),
    );
    resubscribed_at_once(&mut sub, &first);
    // The name stays the first Call-ID.
    assert_eq!(sub.id(), first.headers().call_id().unwrap());
}

#[test]
fn the_user_agent_subscribes_to_a_notifier_and_answers_strangers_481() {
    let mut net = Net::new();
    net.b.notifier = Some(60);
    let id = net
        .command(Who::A, |ua, ep, now| {
            ua.subscribe(now, ep, "sip:bob@127.0.0.1:5070", "presence", 3600)
        })
        .unwrap();
    net.run(Duration::from_millis(200));
    let notes: Vec<&crate::Notification> = net
        .a
        .other
        .iter()
        .filter_map(|e| match e {
            UaEvent::Subscription {
                id: i,
                event: SubscriptionEvent::Notified(n),
            } if *i == id => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 1);
    let NotifyBody::Presence(p) = &notes[0].body else {
        panic!("not presence")
    };
    assert_eq!(p.to_string(), r#"open note="at lunch""#);
    assert!(net.a.ua.subscription(&id).unwrap().is_active());
    // Granted 60 s: the refresh goes out at 54 s, not before.
    net.run(Duration::from_secs(53));
    assert_eq!(net.b.subscribes.len(), 1);
    net.run(Duration::from_secs(2));
    assert_eq!(net.b.subscribes.len(), 2);
    assert_eq!(net.b.subscribes[1].headers().to_tag(), Some("ntf"));

    // A NOTIFY of no subscription of ours: 481.
    let stray = RequestBuilder::new(Method::Notify, "sip:alice@127.0.0.1:5060")
        .from("<sip:bob@127.0.0.1>", "x")
        .to("<sip:alice@127.0.0.1>", Some("nobody"))
        .call_id("stray")
        .cseq(1)
        .header(HeaderName::Event, "presence")
        .header(HeaderName::SubscriptionState, "active")
        .build()
        .unwrap();
    net.command(Who::B, |_, ep, now| {
        let to = switchboard_core::Destination::Address {
            transport: Transport::Udp,
            remote: "127.0.0.1:5060".parse().unwrap(),
        };
        ep.send_request(now, stray, to).unwrap();
    });
    net.run(Duration::from_millis(100));
    let answered_481 = net.sim.sent(|p| {
        matches!(p.message(), Some(Message::Response(r))
            if r.status() == StatusCode::CALL_OR_TRANSACTION_DOES_NOT_EXIST)
    });
    assert_eq!(answered_481.len(), 1);

    // Stop: unsubscribe (Expires 0), ended.
    net.command(Who::A, |ua, ep, now| ua.unsubscribe(now, ep, &id))
        .unwrap();
    net.run(Duration::from_millis(200));
    assert_eq!(
        net.b
            .subscribes
            .last()
            .unwrap()
            .headers()
            .get(HeaderName::Expires),
        Some("0")
    );
    assert!(net.a.other.iter().any(|e| matches!(
        e,
        UaEvent::Subscription {
            event: SubscriptionEvent::Ended(SubscriptionEnd::Unsubscribed),
            ..
        }
    )));
    let _ = Presence::default();
}
