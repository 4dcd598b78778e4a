//! The relay rules of the whole server on a virtual clock: who may send
//! what where (no open relay, the caller owns the From, no way around the
//! rules with a made-up dialog), the dialogs it let through, devices behind
//! NAT or on a connection, what callers learn of a user with no device, and
//! overload.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use service_harness::{Phone, Reply, Server, addr, answer, one_sent};
use switchboard_core::{Destination, Transport};
use switchboard_proto::{HeaderName, Method, Request, Response, StatusCode};
use switchboard_server::proxy::NextHop;
use switchboard_server::service::Effect;

/// Carol of other.org, reached by resolving `other.org`.
fn with_other_org(h: &mut Server) -> Phone {
    let mut carol = Phone::new("carol", "198.51.100.20:5060");
    carol.domain = "other.org".to_owned();
    h.names.insert(
        "other.org".to_owned(),
        vec![NextHop::address(Transport::Udp, carol.addr)],
    );
    carol
}

fn alice() -> Phone {
    Phone::new("alice", "198.51.100.10:5060")
}

/// Mallory of evil.org, a stranger to this server.
fn mallory() -> Phone {
    let mut phone = Phone::new("mallory", "203.0.113.66:5060");
    phone.domain = "evil.org".to_owned();
    phone
}

/// `caller` (authenticated) INVITEs `uri`; `callee` answers 200. The 200
/// as the caller got it, and where the INVITE was sent.
fn call(h: &mut Server, caller: &mut Phone, uri: &str, callee: &Phone) -> (Response, Destination) {
    let password = h.password(caller);
    h.authenticate(caller, &password, |p| p.call(Method::Invite, uri));
    let (to, invite) = one_sent(h, Method::Invite);
    assert!(invite.headers().get(HeaderName::RecordRoute).is_some());
    h.respond(callee, &invite, 200);
    let ok = h.final_response(caller);
    assert_eq!(ok.status(), StatusCode::OK);
    (ok, to)
}

/// `phone` sends `method` inside the dialog of `ok`; where the server
/// sent it, and what it sent.
fn in_dialog(
    h: &mut Server,
    phone: &mut Phone,
    method: Method,
    ok: &Response,
) -> (Destination, Request) {
    let request = phone.in_dialog(method.clone(), ok).build().unwrap();
    h.send(phone, request);
    one_sent(h, method)
}

#[test]
fn a_stranger_cannot_relay_through_the_server() {
    let mut h = Server::new();
    with_other_org(&mut h);
    let mut mallory = mallory();
    assert_eq!(
        h.ask(&mut mallory, Method::Invite, "sip:carol@other.org")
            .status()
            .as_u16(),
        403
    );
    assert!(h.take_requests().is_empty(), "nothing sent onwards");
    assert_eq!(h.count(|e| matches!(e, Effect::Resolve { .. })), 0);
}

#[test]
fn a_local_user_relays_only_as_itself() {
    let mut h = Server::new();
    let carol = with_other_org(&mut h);
    let uri = "sip:carol@other.org";
    let make = |p: &mut Phone| p.call(Method::Message, uri);
    // The right password: relayed.
    let mut alice = alice();
    h.authenticate(&mut alice, "alice-pw", make);
    let message = h.request_to(&carol, Method::Message);
    h.respond(&carol, &message, 200);
    assert_eq!(h.status(&alice), 200);

    // alice's credentials under bob's From: 403, nothing relayed.
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    let first = make(&mut bob).build().unwrap();
    h.send(&bob, first);
    let challenge = h.final_response(&bob);
    assert_eq!(
        challenge.status(),
        StatusCode::PROXY_AUTHENTICATION_REQUIRED
    );
    let (name, value) = answer(&challenge, ("alice", "alice-pw"), &Method::Message, uri, 1);
    let forged = make(&mut bob).header(name, value).build().unwrap();
    h.send(&bob, forged);
    assert_eq!(h.status(&bob), 403);

    // A wrong password: challenged again.
    let wrong = h.authenticated(&mut alice, "alice-guess", make);
    assert_eq!(wrong.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    assert!(h.take_requests().is_empty(), "nothing sent onwards");
}

#[test]
fn a_made_up_dialog_does_not_get_around_the_rules() {
    let mut h = Server::new();
    let carol = with_other_org(&mut h);
    // An in-dialog BYE (a To tag, a Route naming the server) in a dialog
    // the server never saw.
    let forge = |p: &mut Phone| {
        p.request(
            Method::Bye,
            "sip:carol@198.51.100.20:5060",
            "<sip:carol@other.org>;tag=made-up",
        )
        .header(HeaderName::Route, "<sip:127.0.0.1:5060;lr>")
        .build()
        .unwrap()
    };
    // From a local user: challenged like any request.
    let mut alice = alice();
    let bye = forge(&mut alice);
    h.send(&alice, bye);
    assert_eq!(h.status(&alice), 407);
    // From a stranger: refused.
    let mut mallory = mallory();
    let bye = forge(&mut mallory);
    h.send(&mallory, bye);
    assert_eq!(h.status(&mallory), 403);
    assert!(h.take_requests().is_empty(), "nothing sent onwards");
    assert!(h.take(&carol).is_empty());
}

#[test]
fn a_real_dialog_passes_without_a_challenge() {
    let mut h = Server::new();
    let carol = with_other_org(&mut h);
    let mut alice = alice();
    let (ok, _) = call(&mut h, &mut alice, "sip:carol@other.org", &carol);
    let at_carol = Destination::Address {
        transport: Transport::Udp,
        remote: carol.addr,
    };
    // The ACK is relayed along the route.
    assert_eq!(in_dialog(&mut h, &mut alice, Method::Ack, &ok).0, at_carol);
    // The BYE too, with no challenge; its answer comes back.
    let (to, bye) = in_dialog(&mut h, &mut alice, Method::Bye, &ok);
    assert_eq!(to, at_carol);
    assert!(h.take(&alice).is_empty(), "no challenge");
    h.respond(&carol, &bye, 200);
    assert_eq!(h.status(&alice), 200);
}

/// alice calls bob, who registered as `bob`; the INVITE, the ACK and a BYE
/// all reach him at `expected`.
fn calls_reach(h: &mut Server, bob: &mut Phone, expected: Destination) {
    h.register(bob, 600);
    let mut alice = alice();
    let (ok, to) = call(h, &mut alice, "sip:bob@example.com", bob);
    assert_eq!(to, expected, "INVITE");
    assert_eq!(
        in_dialog(h, &mut alice, Method::Ack, &ok).0,
        expected,
        "ACK"
    );
    let (to, bye) = in_dialog(h, &mut alice, Method::Bye, &ok);
    assert_eq!(to, expected, "BYE");
    h.respond(bob, &bye, 200);
    assert_eq!(h.status(&alice), 200);
}

#[test]
fn a_phone_behind_nat_is_reached_where_its_packets_come_from() {
    let mut h = Server::new();
    let mut bob = Phone::behind_nat("bob", "203.0.113.9:40000", "192.168.1.5:5060");
    let nat = Destination::Address {
        transport: Transport::Udp,
        remote: addr("203.0.113.9:40000"),
    };
    calls_reach(&mut h, &mut bob, nat);
}

#[test]
fn a_phone_on_a_tcp_connection_is_reached_down_that_connection() {
    let mut h = Server::new();
    let mut bob = Phone::behind_nat("bob", "203.0.113.9:40001", "192.168.1.5:5060");
    h.connect_tcp(&mut bob);
    let flow = Destination::Flow(bob.flow.unwrap());
    calls_reach(&mut h, &mut bob, flow);
}

#[test]
fn callers_learn_whether_a_user_exists_only_when_authenticated() {
    let mut h = Server::new();
    let mut alice = alice();
    let unknown = h.invite_answer(&mut alice, "sip:nobody@example.com");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let away = h.invite_answer(&mut alice, "sip:carol@example.com");
    assert_eq!(
        away.status(),
        StatusCode::TEMPORARILY_UNAVAILABLE,
        "no device"
    );

    // From another domain, unauthenticated: one answer for both.
    let mut mallory = mallory();
    let mut answers = Vec::new();
    for method in [Method::Invite, Method::Options] {
        for uri in ["sip:nobody@example.com", "sip:carol@example.com"] {
            let r = h.ask(&mut mallory, method.clone(), uri);
            answers.push((r.status().as_u16(), r.reason().to_owned()));
        }
    }
    assert!(answers.iter().all(|a| a.0 == 480), "{answers:?}");
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // Not trusting other domains: 403 for them.
    let mut h = Server::with(|c| c.trust_foreign_callers = false);
    assert_eq!(
        h.ask(&mut mallory, Method::Invite, "sip:carol@example.com")
            .status()
            .as_u16(),
        403
    );
}

#[test]
fn overloaded_new_requests_get_503_and_dialogs_go_on() {
    let mut h = Server::with(|c| {
        c.protect.overload.high_watermark = 2;
        c.protect.overload.low_watermark = 1;
    });
    let carol = with_other_org(&mut h);
    let mut alice = alice();
    let (ok, _) = call(&mut h, &mut alice, "sip:carol@other.org", &carol);
    in_dialog(&mut h, &mut alice, Method::Ack, &ok);

    // Two REGISTERs wait for a slow store: the load is at the watermark.
    h.store_reply = Reply::Hold;
    for (name, ip) in [
        ("bob", "198.51.100.11:5060"),
        ("carol", "198.51.100.12:5060"),
    ] {
        let mut phone = Phone::new(name, ip);
        let password = h.password(&phone);
        h.authenticate(&mut phone, &password, |p| p.register(600));
    }
    assert_eq!(h.held(), 2);

    let mut dave = Phone::new("dave", "198.51.100.13:5060");
    let refused = h.ask(&mut dave, Method::Invite, "sip:alice@example.com");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().get(HeaderName::RetryAfter).is_some());

    // In the dialog: relayed.
    let (_, info) = in_dialog(&mut h, &mut alice, Method::Info, &ok);
    h.respond(&carol, &info, 200);
    assert_eq!(h.status(&alice), 200);

    // The store catches up: new requests are served again.
    h.release();
    assert_eq!(
        h.ask(&mut dave, Method::Invite, "sip:alice@example.com")
            .status()
            .as_u16(),
        407
    );
}
