//! Call transfer through the server on a virtual clock (RFC 3515 REFER,
//! RFC 3891 Replaces): an INVITE with Replaces reaches the one device that
//! holds the dialog, a REFER from someone outside the call is refused, a
//! caller from another domain transferred by a local user reaches what
//! that user may call (and no more), and the records say which calls were
//! handed on.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use service_harness::{Phone, Server, from_callee};
use switchboard_core::Destination;
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response, StatusCode};
use switchboard_server::storage::{CallRecord, Disposition, StateChange};

/// The records saved for `call_id`, in order.
fn records_of(h: &Server, call_id: &str) -> Vec<CallRecord> {
    h.saved
        .iter()
        .filter_map(|c| match c {
            StateChange::PutCallRecord(r) if r.call_id == call_id => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// The INVITEs the server sent, and where.
fn invites_sent(h: &mut Server) -> Vec<(Destination, Request)> {
    h.take_requests()
        .into_iter()
        .filter(|(_, r)| r.method() == &Method::Invite)
        .collect()
}

/// A caller of another domain (not challenged) at `addr`.
fn stranger(addr: &str) -> Phone {
    let mut x = Phone::new("xavier", addr);
    x.domain = "other.example".to_owned();
    x
}

/// `caller` (able to call without a challenge) INVITEs `uri`, which
/// `callee`'s phone answers: the INVITE the callee got.
fn answered(h: &mut Server, caller: &mut Phone, uri: &str, callee: &Phone) -> Request {
    let invite = caller.call(Method::Invite, uri).build().unwrap();
    h.send(caller, invite);
    let got = h.request_to(callee, Method::Invite);
    h.respond(callee, &got, 200);
    assert_eq!(h.final_response(caller).status(), StatusCode::OK);
    got
}

/// `caller`'s user calls `uri` (authenticated) and `callee`'s phone
/// answers: the INVITE the callee got, and the 2xx the caller got.
fn authenticated_call(
    h: &mut Server,
    caller: &mut Phone,
    uri: &str,
    callee: &Phone,
) -> (Request, Response) {
    let password = h.password(caller);
    h.authenticate(caller, &password, |p| p.call(Method::Invite, uri));
    let got = h.request_to(callee, Method::Invite);
    let ok = h.respond(callee, &got, 200);
    let at_caller = h.final_response(caller);
    assert_eq!(at_caller.status(), ok.status());
    (got, at_caller)
}

/// `phone` sends an INVITE for `uri` with `Replaces: replaces`.
fn invite_replacing(h: &mut Server, phone: &mut Phone, uri: &str, replaces: &str) {
    let invite = phone
        .call(Method::Invite, uri)
        .header(HeaderName::Replaces, replaces)
        .build()
        .unwrap();
    h.send(phone, invite);
}

#[test]
fn an_invite_with_replaces_goes_to_the_one_device_that_holds_the_call_and_the_replaced_call_ends() {
    let (mut h, mut alice, mut bob) = Server::with_bob();
    h.register(&mut alice, 3600);
    // Carol has two phones; the desk phone answers bob's call.
    let mut desk = Phone::new("carol", "198.51.100.30:5060");
    let mut mobile = Phone::new("carol", "198.51.100.31:5060");
    h.register(&mut desk, 3600);
    h.register(&mut mobile, 3600);
    bob.call_id = "bob-to-carol".to_owned();
    let password = h.password(&bob);
    h.authenticate(&mut bob, &password, |p| {
        p.call(Method::Invite, "sip:carol@example.com")
    });
    let forked = invites_sent(&mut h);
    assert_eq!(forked.len(), 2, "both of carol's phones ring");
    let at_desk = forked
        .iter()
        .find(|(d, _)| matches!(d, Destination::Address { remote, .. } if *remote == desk.addr))
        .map(|(_, r)| r.clone())
        .unwrap();
    h.respond(&desk, &at_desk, 200);
    let ok = h.final_response(&bob);
    assert_eq!(ok.status(), StatusCode::OK);
    h.take(&mobile); // the CANCEL of the losing fork

    // A caller of another domain, given the dialog by bob (attended
    // transfer: the dialog as carol's desk phone sees it).
    let mut x = stranger("203.0.113.5:5060");
    x.call_id = "x-after-transfer".to_owned();
    let replaces = "bob-to-carol;to-tag=carol-tag;from-tag=bob-tag";
    invite_replacing(&mut h, &mut x, "sip:carol@example.com", replaces);
    let sent = invites_sent(&mut h);
    assert_eq!(sent.len(), 1, "one phone gets it, no fork: {sent:?}");
    let (to, replacing) = &sent[0];
    assert!(
        matches!(to, Destination::Address { remote, .. } if *remote == desk.addr),
        "to the desk phone: {to:?}"
    );
    assert_eq!(
        replacing.headers().get(HeaderName::Replaces),
        Some(replaces)
    );
    h.respond(&desk, replacing, 200);
    assert_eq!(h.final_response(&x).status(), StatusCode::OK);

    // The desk phone ends the replaced call: its BYE reaches bob, and the
    // record of bob's call says it was handed on.
    let bye = from_callee(&desk, &at_desk, Method::Bye, 1)
        .build()
        .unwrap();
    h.send(&desk, bye);
    h.request_to(&bob, Method::Bye);
    let ended = records_of(&h, "bob-to-carol").pop().unwrap();
    assert_eq!(ended.disposition, Disposition::Transferred);
    assert!(ended.end_ms.is_some());
    let new_call = records_of(&h, "x-after-transfer").pop().unwrap();
    assert_eq!(new_call.disposition, Disposition::Answered);
    assert_eq!(new_call.caller, "sip:xavier@other.example");
}

#[test]
fn an_invite_with_replaces_for_a_dialog_the_server_does_not_know_is_routed_as_usual() {
    let (mut h, _, bob) = Server::with_bob();
    let mut x = stranger("203.0.113.5:5060");
    let unknown = "unknown;to-tag=a;from-tag=b";
    invite_replacing(&mut h, &mut x, "sip:bob@example.com", unknown);
    // bob's phone gets it and answers 481 itself (RFC 3891 §3).
    let got = h.request_to(&bob, Method::Invite);
    h.respond(&bob, &got, 481);
    assert_eq!(h.status(&x), 481);
}

#[test]
fn a_refer_from_outside_the_call_is_refused_and_a_partys_refer_passes() {
    let (mut h, mut alice, bob) = Server::with_bob();
    let (got, ok) = authenticated_call(&mut h, &mut alice, "sip:bob@example.com", &bob);

    // Carol knows the Call-ID and bob's tag, not alice's: 403.
    let carol = Phone::new("carol", "198.51.100.30:5060");
    let mut forged = RequestBuilder::new(Method::Refer, "sip:bob@198.51.100.20:5060")
        .header(
            HeaderName::Via,
            "SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bK-forged;rport",
        )
        .from("<sip:carol@example.com>", "carol-tag")
        .header(HeaderName::To, "<sip:bob@example.com>;tag=bob-tag")
        .call_id(got.headers().call_id().unwrap())
        .cseq(7)
        .contact(&carol.contact)
        .header(HeaderName::ReferTo, "<sip:carol@example.com>");
    for route in got.headers().values(HeaderName::RecordRoute) {
        forged = forged.header(HeaderName::Route, route);
    }
    h.send(&carol, forged.build().unwrap());
    assert_eq!(h.status(&carol), 403);
    assert!(h.requests(&bob).is_empty(), "nothing reached bob");

    // Alice, a party, may.
    let refer = alice
        .in_dialog(Method::Refer, &ok)
        .header(HeaderName::ReferTo, "<sip:carol@example.com>")
        .build()
        .unwrap();
    h.send(&alice, refer);
    let passed = h.request_to(&bob, Method::Refer);
    assert_eq!(
        passed.headers().get(HeaderName::ReferTo),
        Some("<sip:carol@example.com>")
    );
}

/// Numbers abroad go to the carrier, for the `intl` group (alice) only.
const PLAN: &str = r#"
[groups]
intl = ["alice"]

[[trunk]]
name = "carrier"
gateways = ["sip:198.51.100.50:5060"]
fresh_call_id = true

[[route]]
name = "abroad"
to_prefix = ["00"]
from_group = ["intl"]
trunks = ["carrier"]
"#;

/// A caller of another domain calls `transferor` (registered), who
/// transfers it to a number abroad (blind: REFER, Refer-To the number);
/// the transferee's new INVITE is sent. The server, the transferee and
/// its first call's INVITE as the transferor got it.
fn transferred_abroad(transferor: &str) -> (Server, Phone, Request) {
    let mut h = Server::new();
    h.use_plan(PLAN);
    let mut user = Phone::new(transferor, "198.51.100.10:5060");
    h.register(&mut user, 3600);
    let mut x = stranger("203.0.113.5:5060");
    let number = "sip:0049301234@example.com";

    // Without a transfer a stranger never reaches the carrier.
    x.call_id = "x-direct".to_owned();
    let direct = h.ask(&mut x, Method::Invite, number);
    assert!(direct.status().as_u16() >= 400, "{direct:?}");
    assert!(
        invites_sent(&mut h).is_empty(),
        "nothing went to the carrier"
    );

    x.call_id = "x-to-user".to_owned();
    let got = answered(&mut h, &mut x, &user.aor(), &user);
    let refer = from_callee(&user, &got, Method::Refer, 1)
        .header(HeaderName::ReferTo, format!("<{number}>"))
        .header(HeaderName::ReferredBy, format!("<{}>", user.aor()))
        .build()
        .unwrap();
    h.send(&user, refer);
    h.request_to(&x, Method::Refer);

    x.call_id = "x-transferred".to_owned();
    let invite = x.call(Method::Invite, number).build().unwrap();
    h.send(&x, invite);
    (h, x, got)
}

#[test]
fn a_stranger_transferred_by_a_local_user_reaches_the_target_that_user_may_call() {
    let (mut h, mut x, got) = transferred_abroad("alice");
    let sent = invites_sent(&mut h);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (to, at_carrier) = &sent[0];
    assert!(
        matches!(to, Destination::Address { remote, .. } if remote.to_string() == "198.51.100.50:5060"),
        "to the carrier: {to:?}"
    );
    assert_eq!(at_carrier.uri_str(), "sip:0049301234@198.51.100.50:5060");
    assert!(
        h.responses(&x).iter().all(|r| r.status().as_u16() < 400),
        "no challenge, no refusal"
    );

    // The grant is used once: the same INVITE again is a stranger's.
    x.call_id = "x-again".to_owned();
    let again = h.ask(&mut x, Method::Invite, "sip:0049301234@example.com");
    assert!(again.status().as_u16() >= 400, "{again:?}");
    assert!(invites_sent(&mut h).is_empty(), "not to the carrier");

    // Alice hangs up on the transferred caller: that call was handed on.
    let alice = Phone::new("alice", "198.51.100.10:5060");
    let bye = from_callee(&alice, &got, Method::Bye, 2).build().unwrap();
    h.send(&alice, bye);
    let first = records_of(&h, "x-to-user").pop().unwrap();
    assert_eq!(first.disposition, Disposition::Transferred);
    let second = h.service.records().open_record("x-transferred").unwrap();
    assert_eq!(second.caller, "sip:xavier@other.example");
    assert_eq!(second.target.as_deref(), Some("trunk:carrier"));
}

#[test]
fn a_transfer_gives_a_stranger_no_more_than_the_transferor_may_call() {
    // Bob is not in the intl group: his transferee does not reach the
    // carrier either.
    let (mut h, x, _) = transferred_abroad("bob");
    assert!(
        invites_sent(&mut h).is_empty(),
        "nothing went to the carrier"
    );
    let status = h.status(&x);
    assert!((400..500).contains(&status), "refused: {status}");
}

/// A carrier whose calls come from 203.0.113.0/24 with the server's
/// domain in From (no password to answer a 407 with); its DID rings alice.
const CARRIER_DID: &str = r#"
[[trunk]]
name = "carrier"
gateways = ["sip:203.0.113.9:5060"]
inbound_networks = ["203.0.113.0/24"]

[trunk.dids]
"+493012345601" = "user:alice"
"#;

#[test]
fn a_carriers_caller_transferred_by_a_local_user_with_replaces_is_not_challenged() {
    let (mut h, mut alice, bob) = Server::with_bob();
    h.use_plan(CARRIER_DID);
    h.register(&mut alice, 3600);
    let mut carrier = Phone::new("+4917012345", "203.0.113.9:5060");
    carrier.call_id = "from-carrier".to_owned();

    // The carrier's caller reaches alice by her DID.
    let did = "sip:+493012345601@example.com";
    let at_alice = answered(&mut h, &mut carrier, did, &alice);

    // Alice consults bob, then transfers the caller to him (attended).
    alice.call_id = "alice-to-bob".to_owned();
    authenticated_call(&mut h, &mut alice, "sip:bob@example.com", &bob);
    let replaces = "alice-to-bob;to-tag=bob-tag;from-tag=alice-tag";
    let refer = from_callee(&alice, &at_alice, Method::Refer, 1)
        .header(
            HeaderName::ReferTo,
            "<sip:bob@example.com?Replaces=alice-to-bob%3Bto-tag%3Dbob-tag%3Bfrom-tag%3Dalice-tag>",
        )
        .build()
        .unwrap();
    h.send(&alice, refer);
    h.request_to(&carrier, Method::Refer);

    // The carrier's INVITE with Replaces (From in the server's domain)
    // goes to bob's phone without a 407.
    carrier.call_id = "carrier-transferred".to_owned();
    invite_replacing(&mut h, &mut carrier, "sip:bob@example.com", replaces);
    assert!(
        h.responses(&carrier)
            .iter()
            .all(|r| r.status().as_u16() < 400),
        "no challenge, no refusal"
    );
    let replacing = h.request_to(&bob, Method::Invite);
    assert_eq!(
        replacing.headers().get(HeaderName::Replaces),
        Some(replaces)
    );
    assert_eq!(replacing.headers().call_id(), Some("carrier-transferred"));
}

#[test]
fn a_transfer_with_replaces_to_a_carriers_call_names_the_call_as_the_carrier_knows_it() {
    let (mut h, mut alice, _) = Server::with_bob();
    h.use_plan(service_harness::CARRIER_PLAN);
    h.register(&mut alice, 3600);
    let gateway = Phone::new("gw", "198.51.100.50:5060");
    let mut x = stranger("203.0.113.5:5060");
    x.call_id = "x-to-alice".to_owned();
    let at_alice = answered(&mut h, &mut x, &alice.aor(), &alice);

    // Alice consults a number abroad: the carrier's leg has a Call-ID of
    // its own.
    alice.call_id = "alice-to-carrier".to_owned();
    let number = "sip:0049301234@example.com";
    let (at_gateway, _) = authenticated_call(&mut h, &mut alice, number, &gateway);
    let carrier_call_id = at_gateway.headers().call_id().unwrap().to_owned();
    assert_ne!(carrier_call_id, "alice-to-carrier");

    let refer = from_callee(&alice, &at_alice, Method::Refer, 1)
        .header(
            HeaderName::ReferTo,
            format!(
                "<{number}?Replaces=alice-to-carrier%3Bto-tag%3Dgw-tag%3Bfrom-tag%3Dalice-tag>"
            ),
        )
        .build()
        .unwrap();
    h.send(&alice, refer);
    h.request_to(&x, Method::Refer);
    x.call_id = "x-transferred".to_owned();
    let replaces = "alice-to-carrier;to-tag=gw-tag;from-tag=alice-tag";
    invite_replacing(&mut h, &mut x, number, replaces);

    let replacing = h.request_to(&gateway, Method::Invite);
    assert_eq!(
        replacing.headers().get(HeaderName::Replaces),
        Some(format!("{carrier_call_id};to-tag=gw-tag;from-tag=alice-tag").as_str())
    );
}

#[test]
fn a_pickup_keeps_early_only_and_names_the_dialog_as_the_callers_phone_sees_it() {
    let (mut h, mut alice, mut bob) = Server::with_bob();
    let mut carol = Phone::new("carol", "198.51.100.30:5060");
    h.register(&mut carol, 3600);
    bob.call_id = "bob-to-carol".to_owned();
    let password = h.password(&bob);
    h.authenticate(&mut bob, &password, |p| {
        p.call(Method::Invite, "sip:carol@example.com")
    });
    let ringing = h.request_to(&carol, Method::Invite);
    h.respond(&carol, &ringing, 180);
    h.take(&bob);

    // Alice picks the ringing call up, naming it as carol's lamp shows it.
    let replaces = "bob-to-carol;to-tag=carol-tag;from-tag=bob-tag;early-only";
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:carol@example.com")
            .header(HeaderName::Replaces, replaces)
    });
    let pickup = h.request_to(&bob, Method::Invite);
    assert_eq!(
        pickup.headers().get(HeaderName::Replaces),
        Some("bob-to-carol;to-tag=bob-tag;from-tag=carol-tag;early-only")
    );
}
