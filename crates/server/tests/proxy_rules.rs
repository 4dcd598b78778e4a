//! The request rules of RFC 3261 §16.3 (483, 482, 420, 416), Route
//! processing of §16.4 (our Route removed, strict routers), Max-Forwards
//! and Record-Route of §16.6, and redirect mode, through the proxy on the
//! virtual clock.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod proxy_harness;

use proxy_harness::{BOB, CAROL, PROXY, S, Sim, UasPlan, addr, request};
use switchboard_core::Transport;
use switchboard_proto::{HeaderName, Method};
use switchboard_server::proxy::{Mode, NextHop, ProxyConfig, Target, TargetSet};

/// Alice's OPTIONS (built by `build`) through the proxy: the status she
/// gets.
fn options_status(sim: &mut Sim, req: switchboard_proto::Request) -> u16 {
    let tx = sim.send(req);
    sim.run(40 * S);
    sim.final_of(tx).unwrap().status().as_u16()
}

#[test]
fn max_forwards_zero_gets_483() {
    let mut sim = Sim::new(20);
    sim.locate("bob", &[(sim.bob, None)]);
    let req = request(Method::Options, "sip:bob@example.com")
        .header(HeaderName::MaxForwards, "0")
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 483);
    assert!(sim.got(sim.bob, &Method::Options).is_empty());
}

#[test]
fn max_forwards_is_decremented() {
    let mut sim = Sim::new(21);
    sim.locate("bob", &[(sim.bob, None)]);
    let req = request(Method::Options, "sip:bob@example.com")
        .header(HeaderName::MaxForwards, "1")
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 200);
    assert_eq!(
        sim.got(sim.bob, &Method::Options)[0]
            .headers()
            .max_forwards(),
        Some(0)
    );
}

#[test]
fn unsupported_uri_scheme_gets_416() {
    let mut sim = Sim::new(22);
    let req = request(Method::Options, "http://example.com/bob")
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 416);
}

#[test]
fn unknown_proxy_require_gets_420_with_unsupported() {
    let mut sim = Sim::new(23);
    sim.locate("bob", &[(sim.bob, None)]);
    let req = request(Method::Options, "sip:bob@example.com")
        .header(HeaderName::ProxyRequire, "foo, bar")
        .build()
        .unwrap();
    let tx = sim.send(req);
    sim.run(40 * S);
    let answer = sim.final_of(tx).unwrap();
    assert_eq!(answer.status().as_u16(), 420);
    assert_eq!(
        answer.headers().get(HeaderName::Unsupported),
        Some("foo, bar")
    );
    assert!(sim.got(sim.bob, &Method::Options).is_empty());

    // An extension the proxy knows passes.
    let config = ProxyConfig {
        extensions: vec!["foo".into(), "bar".into()],
        ..ProxyConfig::default()
    };
    let mut sim = Sim::with_config(23, config);
    sim.locate("bob", &[(sim.bob, None)]);
    let req = request(Method::Options, "sip:bob@example.com")
        .header(HeaderName::ProxyRequire, "foo, bar")
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 200);
}

#[test]
fn a_request_that_comes_back_unchanged_gets_482() {
    // "loop@example.com" is registered at the proxy itself: the request
    // comes back with the same Request-URI and our Via.
    let mut sim = Sim::new(24);
    let me = Target::new("sip:loop@example.com")
        .with_next_hop(NextHop::address(Transport::Udp, addr(PROXY)));
    sim.locations.insert("loop".into(), TargetSet::single(me));
    sim.invite("sip:loop@example.com");
    sim.run(40 * S);
    assert_eq!(sim.call.final_status(), Some(482));
}

#[test]
fn a_spiral_is_not_a_loop() {
    // "alias" forwards to the proxy again with another Request-URI: the
    // request passes twice, then reaches bob.
    let mut sim = Sim::new(25);
    let again = Target::new("sip:bob@example.com")
        .with_next_hop(NextHop::address(Transport::Udp, addr(PROXY)));
    sim.locations
        .insert("alias".into(), TargetSet::single(again));
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (500, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:alias@example.com");
    sim.run(60 * S);
    sim.assert_call_completed(sim.bob);
    let invite = sim.got(sim.bob, &Method::Invite)[0];
    let ours = invite
        .headers()
        .values(HeaderName::Via)
        .filter(|v| v.contains(PROXY))
        .count();
    assert_eq!(ours, 2, "passed the proxy twice");
    assert_eq!(invite.headers().max_forwards(), Some(68));
}

#[test]
fn our_route_is_removed_and_the_next_route_is_followed() {
    // Loose routing: Route = proxy, carol; the Request-URI (bob) is kept
    // and the request goes to carol.
    let mut sim = Sim::new(26);
    let req = request(Method::Options, &format!("sip:bob@{BOB}"))
        .header(HeaderName::Route, format!("<sip:{PROXY};lr>"))
        .header(HeaderName::Route, format!("<sip:{CAROL};lr>"))
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 200);
    assert!(sim.got(sim.bob, &Method::Options).is_empty());
    let at_carol = sim.got(sim.carol, &Method::Options)[0];
    assert_eq!(at_carol.uri_str(), format!("sip:bob@{BOB}"));
    assert_eq!(
        proxy_harness::values(at_carol, HeaderName::Route),
        [format!("<sip:{CAROL};lr>")]
    );
}

#[test]
fn a_route_to_another_port_on_our_address_is_not_ours() {
    // 127.0.0.1:5073 shares the proxy's IP address but is carol.
    let mut sim = Sim::new(27);
    let req = request(Method::Options, &format!("sip:bob@{BOB}"))
        .header(HeaderName::Route, format!("<sip:{CAROL};lr>"))
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 200);
    assert_eq!(sim.got(sim.carol, &Method::Options).len(), 1);
}

#[test]
fn strict_router_request_uri_is_restored_from_the_last_route() {
    // A strict router before us put our Record-Route URI in the
    // Request-URI and the real target at the end of the Route set.
    let mut sim = Sim::new(28);
    let req = request(Method::Options, &format!("sip:{PROXY};lr"))
        .header(HeaderName::Route, format!("<sip:bob@{BOB}>"))
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 200);
    let at_bob = sim.got(sim.bob, &Method::Options)[0];
    assert_eq!(at_bob.uri_str(), format!("sip:bob@{BOB}"));
    assert_eq!(at_bob.headers().get(HeaderName::Route), None);
}

#[test]
fn a_strict_next_hop_gets_the_request_uri_in_the_route_set() {
    // The next hop (carol) is a strict router (no ;lr): it becomes the
    // Request-URI and the Request-URI goes to the end of the Route set.
    let mut sim = Sim::new(29);
    let req = request(Method::Options, &format!("sip:bob@{BOB}"))
        .header(HeaderName::Route, format!("<sip:{CAROL}>"))
        .build()
        .unwrap();
    assert_eq!(options_status(&mut sim, req), 200);
    let at_carol = sim.got(sim.carol, &Method::Options)[0];
    assert_eq!(at_carol.uri_str(), format!("sip:{CAROL}"));
    assert_eq!(
        proxy_harness::values(at_carol, HeaderName::Route),
        [format!("<sip:bob@{BOB}>")]
    );
}

#[test]
fn record_route_has_two_entries_when_the_transport_changes() {
    // Alice is on UDP, bob is reached over TCP: the proxy record-routes
    // both sides; ACK and BYE then pass both entries.
    let mut sim = Sim::new(30);
    let over_tcp = Target::new(format!("sip:bob@{BOB};transport=tcp"))
        .with_next_hop(NextHop::address(Transport::Tcp, addr(BOB)));
    sim.locations
        .insert("bob".into(), TargetSet::single(over_tcp));
    sim.plan(sim.bob, UasPlan::new(&[(100, 180), (500, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    let invite = sim.got(sim.bob, &Method::Invite)[0];
    assert_eq!(
        proxy_harness::values(invite, HeaderName::RecordRoute),
        [
            format!("<sip:{PROXY};transport=tcp;lr>"),
            format!("<sip:{PROXY};lr>")
        ]
    );
    assert!(
        sim.packets(sim.p, sim.bob, |p| p.is_request(&Method::Invite))
            .iter()
            .all(|p| p.transport == Transport::Tcp)
    );
    sim.assert_call_completed(sim.bob);
    // Both of our entries left the BYE.
    let bye = sim.got(sim.bob, &Method::Bye)[0];
    assert_eq!(bye.headers().get(HeaderName::Route), None);
}

#[test]
fn record_route_can_be_turned_off() {
    let config = ProxyConfig {
        record_route: false,
        ..ProxyConfig::default()
    };
    let mut sim = Sim::with_config(31, config);
    sim.locate("bob", &[(sim.bob, None)]);
    sim.plan(sim.bob, UasPlan::new(&[(500, 200)]));
    sim.call.hold = Some(S);
    sim.invite("sip:bob@example.com");
    sim.run(60 * S);
    let invite = sim.got(sim.bob, &Method::Invite)[0];
    assert_eq!(invite.headers().get(HeaderName::RecordRoute), None);
    // The dialog bypasses the proxy: the BYE goes straight to bob.
    sim.assert_call_completed(sim.bob);
    assert!(
        sim.packets(sim.alice, sim.p, |p| p.is_request(&Method::Bye))
            .is_empty()
    );
}

#[test]
fn redirect_mode_answers_302_with_the_contacts() {
    let config = ProxyConfig {
        mode: Mode::Redirect,
        ..ProxyConfig::default()
    };
    let mut sim = Sim::with_config(32, config);
    sim.locate("bob", &[(sim.bob, Some(1000)), (sim.carol, Some(500))]);
    sim.invite("sip:bob@example.com");
    sim.run(40 * S);
    let answer = sim.call.final_response().unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    let contacts: Vec<&str> = answer.headers().values(HeaderName::Contact).collect();
    assert_eq!(
        contacts,
        [
            format!("<sip:bob@{BOB}>;q=1"),
            format!("<sip:carol@{CAROL}>;q=0.5")
        ]
    );
    assert!(sim.got(sim.bob, &Method::Invite).is_empty());
    assert!(sim.got(sim.carol, &Method::Invite).is_empty());
}
