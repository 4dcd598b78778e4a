//! Calls through the dial plan on a virtual clock: who may call what
//! (groups, strangers), trunk attempts with failover, calls from a trunk's
//! network to its DIDs, fallthrough on busy and no answer, a caller's site
//! first, reload, and the trusted networks the rate limit spares.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{DOMAIN, Phone, Server, UNIX0, plan};
use switchboard_core::Destination;
use switchboard_proto::{HeaderName, Method, Request, StatusCode};
use switchboard_server::User;
use switchboard_server::service::UserDirectory;

/// The carrier's first and second gateway, and a voicemail server.
const GW1: &str = "198.51.100.50:5060";
const GW2: &str = "198.51.100.51:5060";

const PLAN: &str = r#"
[routing]
country_code = "44"
[groups]
staff = ["alice"]

[[trunk]]
name = "carrier"
gateways = ["sip:198.51.100.50:5060", "sip:198.51.100.51:5060"]
inbound_networks = ["203.0.113.0/24"]
failover_after = 4
[trunk.dids]
"+442071234567" = "user:bob"

[[route]]
name = "abroad"
to_prefix = ["00"]
require_group = "staff"
deny_reason = "Calls abroad need the staff group"
trunks = ["carrier"]

[[route]]
name = "bob busy to carol"
to = ["200"]
user = "bob"
on_busy = "user:carol"
on_no_answer = "sip:voicemail@198.51.100.60"
no_answer_after = 10
"#;

fn with_plan(text: &str) -> Server {
    let mut h = Server::new();
    let plan = plan(text);
    h.command(|service, _, _| {
        service.set_plan(plan);
    });
    h
}

/// The requests sent, and where (retransmissions left out).
fn sent(h: &mut Server) -> Vec<(Destination, Request)> {
    let mut seen = Vec::new();
    h.take_requests()
        .into_iter()
        .filter(|(_, r)| {
            let key = (
                r.method().clone(),
                r.headers().top_branch().map(str::to_owned),
            );
            let new = !seen.contains(&key);
            seen.push(key);
            new
        })
        .collect()
}

fn sent_to(h: &mut Server, method: Method) -> (String, Request) {
    let mut all: Vec<_> = sent(h)
        .into_iter()
        .filter(|(_, r)| r.method() == &method)
        .collect();
    assert_eq!(all.len(), 1, "one {method} sent: {all:?}");
    let (to, request) = all.remove(0);
    (format!("{to:?}"), request)
}

#[test]
fn a_user_outside_the_group_is_refused_with_the_reason_and_staff_reach_the_trunk() {
    let mut h = with_plan(PLAN);
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    let refused = h.invite_answer(&mut bob, "sip:0033123456@example.com");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.reason(), "Calls abroad need the staff group");
    assert!(sent(&mut h).is_empty(), "nothing went to the carrier");

    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:0033123456@example.com")
    });
    let (to, invite) = sent_to(&mut h, Method::Invite);
    assert!(to.contains("198.51.100.50"), "first gateway: {to}");
    assert_eq!(invite.uri_str(), "sip:0033123456@198.51.100.50:5060");
    assert!(
        invite
            .headers()
            .get(HeaderName::ProxyAuthorization)
            .is_none(),
        "alice's credentials for this server are not handed to the carrier"
    );
}

#[test]
fn a_group_kept_with_the_user_in_the_store_lets_her_through_a_require_group_rule() {
    let mut h = with_plan(PLAN);
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    let password = h.password(&bob);
    // The store's users as reloaded (an admin API change): bob is in
    // "staff" there, not in the plan's [groups]; carol is in no group.
    let users = h
        .users
        .iter()
        .map(|((name, domain), pw)| User {
            groups: if name == "bob" {
                vec!["staff".to_owned()]
            } else {
                Vec::new()
            },
            ..User::with_password(name, domain, pw, UNIX0)
        })
        .collect::<Vec<_>>();
    let version = h.users_version;
    h.command(|service, _, _| {
        service.set_user_directory(UserDirectory::from_users(version, users));
    });
    h.authenticate(&mut bob, &password, |p| {
        p.call(Method::Invite, "sip:0033123456@example.com")
    });
    let (to, _) = sent_to(&mut h, Method::Invite);
    assert!(
        to.contains("198.51.100.50"),
        "bob reaches the carrier: {to}"
    );

    let mut carol = Phone::new("carol", "198.51.100.12:5060");
    assert_eq!(carol.domain, DOMAIN);
    let refused = h.invite_answer(&mut carol, "sip:0033123456@example.com");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.reason(), "Calls abroad need the staff group");
}

#[test]
fn a_gateway_answering_503_hands_the_call_to_the_next_and_a_486_does_not() {
    let mut h = with_plan(PLAN);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let gw1 = Phone::new("gw1", GW1);
    let gw2 = Phone::new("gw2", GW2);
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:0033123456@example.com")
    });
    let (_, first) = sent_to(&mut h, Method::Invite);
    h.respond(&gw1, &first, 503);
    let (to, second) = sent_to(&mut h, Method::Invite);
    assert!(to.contains("198.51.100.51"), "second gateway: {to}");
    assert_eq!(second.uri_str(), "sip:0033123456@198.51.100.51:5060");
    h.respond(&gw2, &second, 486);
    assert_eq!(h.final_response(&alice).status(), StatusCode::BUSY_HERE);
}

#[test]
fn a_silent_gateway_is_left_after_failover_after() {
    let mut h = with_plan(PLAN);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:0033123456@example.com")
    });
    let (_, _first) = sent_to(&mut h, Method::Invite);
    h.run_for(Duration::from_secs(3));
    assert!(
        sent(&mut h)
            .iter()
            .all(|(to, _)| !format!("{to:?}").contains("198.51.100.51")),
        "not before failover_after"
    );
    h.run_for(Duration::from_secs(2));
    let invites: Vec<_> = sent(&mut h)
        .into_iter()
        .filter(|(to, r)| {
            r.method() == &Method::Invite && format!("{to:?}").contains("198.51.100.51")
        })
        .collect();
    assert_eq!(invites.len(), 1, "the second gateway got the call");
}

#[test]
fn a_stranger_is_not_routed_to_a_trunk() {
    let mut h = with_plan(
        r#"
[[trunk]]
name = "carrier"
gateways = ["sip:198.51.100.50:5060"]
[[route]]
name = "everything out"
to_prefix = ["0"]
trunks = ["carrier"]
"#,
    );
    let mut mallory = Phone::new("mallory", "192.0.2.66:5060");
    mallory.domain = "evil.org".to_owned();
    let answer = h.ask(&mut mallory, Method::Invite, "sip:0033123456@example.com");
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(sent(&mut h).is_empty());
}

#[test]
fn a_carrier_call_to_a_did_reaches_the_user_without_a_challenge() {
    let mut h = with_plan(PLAN);
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    h.register(&mut bob, 3600);
    let mut carrier = Phone::new("carrier", "203.0.113.7:5060");
    carrier.domain = "carrier.example".to_owned();
    let invite = carrier
        .call(Method::Invite, "sip:+442071234567@127.0.0.1:5060")
        .build()
        .unwrap();
    h.send(&carrier, invite);
    let (to, forwarded) = sent_to(&mut h, Method::Invite);
    assert!(to.contains("198.51.100.11"), "bob's phone: {to}");
    assert_eq!(forwarded.uri_str(), "sip:bob@198.51.100.11:5060");
    assert!(
        h.responses(&carrier)
            .iter()
            .all(|r| r.status() != StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
}

#[test]
fn the_same_did_from_outside_the_carrier_network_is_not_a_did() {
    let mut h = with_plan(PLAN);
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    h.register(&mut bob, 3600);
    let mut stranger = Phone::new("someone", "192.0.2.7:5060");
    stranger.domain = "elsewhere.example".to_owned();
    let answer = h.ask(
        &mut stranger,
        Method::Invite,
        "sip:+442071234567@127.0.0.1:5060",
    );
    assert_ne!(answer.status(), StatusCode::OK);
    assert!(
        sent(&mut h)
            .iter()
            .all(|(to, _)| !format!("{to:?}").contains("198.51.100.11")),
        "bob's phone does not ring"
    );
}

#[test]
fn a_busy_user_falls_through_to_another() {
    let mut h = with_plan(PLAN);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    let mut carol = Phone::new("carol", "198.51.100.12:5060");
    h.register(&mut bob, 3600);
    h.register(&mut carol, 3600);
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:200@example.com")
    });
    let (_, to_bob) = sent_to(&mut h, Method::Invite);
    assert_eq!(to_bob.uri_str(), "sip:bob@198.51.100.11:5060");
    h.respond(&bob, &to_bob, 486);
    let (to, to_carol) = sent_to(&mut h, Method::Invite);
    assert!(to.contains("198.51.100.12"), "carol's phone: {to}");
    h.respond(&carol, &to_carol, 200);
    assert_eq!(h.final_response(&alice).status(), StatusCode::OK);
}

#[test]
fn nobody_answering_within_no_answer_after_goes_to_voicemail() {
    let mut h = with_plan(PLAN);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    h.register(&mut bob, 3600);
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:200@example.com")
    });
    let (_, to_bob) = sent_to(&mut h, Method::Invite);
    h.respond(&bob, &to_bob, 180);
    h.run_for(Duration::from_secs(9));
    assert!(
        sent(&mut h)
            .iter()
            .all(|(_, r)| r.method() != &Method::Cancel)
    );
    h.run_for(Duration::from_secs(2));
    let after = sent(&mut h);
    assert!(
        after.iter().any(|(_, r)| r.method() == &Method::Cancel),
        "bob's ringing is cancelled: {after:?}"
    );
    let voicemail: Vec<_> = after
        .iter()
        .filter(|(_, r)| r.method() == &Method::Invite)
        .collect();
    assert_eq!(voicemail.len(), 1, "{after:?}");
    assert_eq!(voicemail[0].1.uri_str(), "sip:voicemail@198.51.100.60");
}

#[test]
fn a_reloaded_plan_decides_the_next_call() {
    let mut h = with_plan(PLAN);
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    assert_eq!(
        h.invite_answer(&mut bob, "sip:0033123456@example.com")
            .status(),
        StatusCode::FORBIDDEN
    );
    let open = plan(
        &PLAN
            .replace("require_group = \"staff\"\n", "")
            .replace("deny_reason = \"Calls abroad need the staff group\"\n", ""),
    );
    h.command(|service, _, _| {
        service.set_plan(open);
    });
    let password = h.password(&bob);
    h.authenticate(&mut bob, &password, |p| {
        p.call(Method::Invite, "sip:0033123456@example.com")
    });
    let (to, _) = sent_to(&mut h, Method::Invite);
    assert!(to.contains("198.51.100.50"), "{to}");
}

#[test]
fn a_trusted_network_is_not_rate_limited() {
    // The plan trusts the carrier's inbound network.
    let mut h = with_plan(PLAN);
    let mut carrier = Phone::new("carrier", "203.0.113.7:5060");
    carrier.domain = "carrier.example".to_owned();
    let mut stranger = Phone::new("someone", "192.0.2.7:5060");
    stranger.domain = "elsewhere.example".to_owned();
    // The default burst is 100 requests: 150 OPTIONS from each.
    let answered = |h: &mut Server, phone: &mut Phone| {
        let mut n = 0;
        for _ in 0..150 {
            let request = phone
                .call(Method::Options, "sip:127.0.0.1:5060")
                .build()
                .unwrap();
            h.send(phone, request);
            n += h.responses(phone).len();
        }
        n
    };
    assert_eq!(answered(&mut h, &mut carrier), 150);
    assert!(answered(&mut h, &mut stranger) < 150);
}

const PRESENTING: &str = r#"
[[trunk]]
name = "replacing"
gateways = ["sip:198.51.100.50:5060"]
caller_id = "+442070000000"
caller_id_mode = "replace"
[[trunk]]
name = "asserting"
gateways = ["sip:198.51.100.51:5060"]
caller_id = "+442070000001"
caller_id_mode = "assert"
[[route]]
name = "via replacing"
to_prefix = ["1"]
trunks = ["replacing"]
[[route]]
name = "via asserting"
to_prefix = ["2"]
trunks = ["asserting"]
"#;

#[test]
fn a_trunk_presents_its_caller_id_by_replacing_the_from_user_or_asserting_it() {
    let mut h = with_plan(PRESENTING);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:1555@example.com")
    });
    let (_, replaced) = sent_to(&mut h, Method::Invite);
    let from = replaced.headers().get(HeaderName::From).unwrap();
    assert!(from.contains("sip:+442070000000@example.com"), "{from}");
    assert!(from.contains("tag=alice-tag"), "the tag stays: {from}");

    alice.call_id = "alice-call-2".to_owned();
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:2555@example.com")
    });
    let (_, asserted) = sent_to(&mut h, Method::Invite);
    let from = asserted.headers().get(HeaderName::From).unwrap();
    assert!(from.contains("sip:alice@example.com"), "From kept: {from}");
    assert_eq!(
        asserted.headers().get(HeaderName::PAssertedIdentity),
        Some("<sip:+442070000001@198.51.100.51:5060>")
    );
}

#[test]
fn a_gateway_that_fails_calls_is_marked_down_and_skipped() {
    let mut h = with_plan(
        r#"
[[trunk]]
name = "carrier"
gateways = ["sip:198.51.100.50:5060", "sip:198.51.100.51:5060"]
probe = true
probe_interval = 3600
probe_down = 1
failover_after = 2
[[route]]
name = "out"
to_prefix = ["0"]
trunks = ["carrier"]
"#,
    );
    h.run_for(Duration::from_millis(10));
    let gw1 = Phone::new("gw1", GW1);
    let gw2 = Phone::new("gw2", GW2);
    // The first probes find both alive.
    for (_, options) in sent(&mut h) {
        if options.method() == &Method::Options {
            let gw = if options.uri_str().contains(".50") {
                &gw1
            } else {
                &gw2
            };
            h.respond(gw, &options, 200);
        }
    }
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:0301234@example.com")
    });
    let (to, _) = sent_to(&mut h, Method::Invite);
    assert!(to.contains("198.51.100.50"), "{to}");
    h.run_for(Duration::from_secs(3)); // silent: the second gateway takes it
    let second = invites_to(&mut h, "198.51.100.51");
    assert_eq!(second.len(), 1);
    h.respond(&gw2, &second[0], 200);
    assert_eq!(h.final_response(&alice).status(), StatusCode::OK);
    let status = h
        .service
        .trunks()
        .states()
        .into_iter()
        .flat_map(|t| t.gateways)
        .map(|g| (g.uri, g.health.to_string()))
        .collect::<Vec<_>>();
    assert!(
        status.contains(&("sip:198.51.100.50:5060".to_owned(), "down".to_owned())),
        "{status:?}"
    );

    alice.call_id = "alice-call-2".to_owned();
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:0301234@example.com")
    });
    let invites: Vec<_> = sent(&mut h)
        .into_iter()
        .filter(|(_, r)| {
            r.method() == &Method::Invite && r.headers().call_id() != second[0].headers().call_id()
        })
        .collect();
    assert!(!invites.is_empty());
    assert!(
        invites
            .iter()
            .all(|(to, _)| format!("{to:?}").contains("198.51.100.51")),
        "the down gateway is skipped: {invites:?}"
    );
}

/// The INVITEs sent to `host` (retransmissions left out).
fn invites_to(h: &mut Server, host: &str) -> Vec<Request> {
    sent(h)
        .into_iter()
        .filter(|(to, r)| r.method() == &Method::Invite && format!("{to:?}").contains(host))
        .map(|(_, r)| r)
        .collect()
}

#[test]
fn a_pbx_that_authenticates_as_a_user_is_its_trunk_and_reaches_the_dids() {
    let mut h = with_plan(&PLAN.replace(
        "inbound_networks = [\"203.0.113.0/24\"]",
        "inbound_networks = [\"203.0.113.0/24\"]\ninbound_users = [\"carol\"]",
    ));
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    h.register(&mut bob, 3600);
    let mut pbx = Phone::new("carol", "198.51.100.12:5060");
    let password = h.password(&pbx);
    h.authenticate(&mut pbx, &password, |p| {
        p.call(Method::Invite, "sip:+442071234567@example.com")
    });
    let (to, forwarded) = sent_to(&mut h, Method::Invite);
    assert!(to.contains("198.51.100.11"), "bob's phone: {to}");
    assert_eq!(forwarded.uri_str(), "sip:bob@198.51.100.11:5060");
    // Without inbound_users the same number is not a DID for carol.
    let mut h = with_plan(PLAN);
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    h.register(&mut bob, 3600);
    let mut carol = Phone::new("carol", "198.51.100.12:5060");
    let answer = h.invite_answer(&mut carol, "sip:+442071234567@example.com");
    assert_ne!(answer.status(), StatusCode::OK);
    assert!(invites_to(&mut h, "198.51.100.11").is_empty());
}

#[test]
fn the_callee_device_at_the_callers_site_rings_first() {
    let mut h = with_plan(
        r#"
[[site]]
name = "office"
networks = ["198.51.100.0/28"]
[[route]]
name = "bob"
to = ["200"]
user = "bob"
prefer_caller_site = true
"#,
    );
    let mut desk = Phone::new("bob", "198.51.100.11:5060");
    let mut mobile = Phone::new("bob", "192.0.2.20:5060");
    mobile.call_id = "bob-mobile".to_owned();
    h.register(&mut desk, 3600);
    h.register(&mut mobile, 3600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:200@example.com")
    });
    let (to, first) = sent_to(&mut h, Method::Invite);
    assert!(
        to.contains("198.51.100.11"),
        "the desk phone at the office: {to}"
    );
    h.respond(&desk, &first, 180);
    h.run_for(Duration::from_secs(21)); // [proxy] group_timeout, 20 s
    let mobile_invites = invites_to(&mut h, "192.0.2.20");
    assert_eq!(mobile_invites.len(), 1, "then the mobile rings");
}
