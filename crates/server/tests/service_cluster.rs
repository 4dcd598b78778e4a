//! Several nodes on one store (issue 14), on a virtual clock: what another
//! node changed ([`Service::apply_cluster`]) is found here without being
//! written back, watchers are told as for a local change, a device whose
//! connection another live node holds is reached through that node, a
//! peer node's request is delivered down the flow held here without a
//! challenge, and a dead node's connections are known dead.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use service_harness::{Phone, Server};
use switchboard_core::Destination;
use switchboard_proto::{HeaderName, Message, Method, Request, StatusCode};
use switchboard_server::cluster::{ClusterChange, HomedBinding, NodeState};
use switchboard_server::registrar::{Aor, Binding};
use switchboard_server::storage::PublicationRecord;

const ALICE: &str = "sip:alice@example.com";
/// Where node A is reached (node B is the harness's server).
const NODE_A: &str = "192.0.2.1:5060";
const NODE_B: &str = "192.0.2.2:5060";

fn node(name: &str, addr: &str, alive: bool) -> NodeState {
    NodeState {
        name: name.into(),
        sip_uri: format!("sip:{addr}"),
        admin_url: None,
        started_ms: 0,
        heartbeat_ms: 0,
        alive,
    }
}

/// A server that is node `this` of a cluster of A and B.
fn node_server(this: &str, a_alive: bool) -> Server {
    let mut h = Server::new();
    h.command(|service, now, ep| {
        service.set_cluster_node(Some(this.into()));
        service.apply_cluster(
            now,
            ep,
            ClusterChange::Nodes(vec![node("a", NODE_A, a_alive), node("b", NODE_B, true)]),
        );
    });
    h
}

/// alice's bindings as node A stored them after she registered there
/// (over TCP when `tcp`): read back from the store, without the flow.
fn registered_on_a(tcp: bool) -> Vec<Binding> {
    let mut a = Server::new();
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    if tcp {
        a.connect_tcp(&mut alice);
    }
    a.register(&mut alice, 600);
    without_flows(a.upserted_bindings())
}

/// Bindings as the store gives them back: no flow.
fn without_flows(bindings: Vec<Binding>) -> Vec<Binding> {
    bindings
        .into_iter()
        .map(|mut b| {
            b.source.flow = None;
            b
        })
        .collect()
}

/// Node A with alice registered on it over TCP.
fn alice_on_tcp_at_node_a() -> (Server, Phone) {
    let mut a = node_server("a", true);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    a.connect_tcp(&mut alice);
    a.register(&mut alice, 600);
    (a, alice)
}

fn apply_bindings(h: &mut Server, bindings: Vec<Binding>, home: &str) {
    let homed = bindings
        .into_iter()
        .map(|binding| HomedBinding {
            binding,
            home: Some(home.into()),
        })
        .collect();
    h.command(|service, now, ep| {
        service.apply_cluster(
            now,
            ep,
            ClusterChange::Bindings {
                aor: Aor::parse(ALICE).unwrap(),
                bindings: homed,
            },
        );
    });
}

/// bob (on node B) calls alice: the INVITEs the server sent.
fn bob_calls_alice(h: &mut Server) -> Vec<(Destination, Request)> {
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    let password = h.password(&bob);
    h.authenticate(&mut bob, &password, |p| p.call(Method::Invite, ALICE));
    h.take_requests()
        .into_iter()
        .filter(|(_, r)| r.method() == &Method::Invite)
        .collect()
}

#[test]
fn a_user_registered_on_another_node_is_called_here_without_writing_back() {
    let mut b = node_server("b", true);
    apply_bindings(&mut b, registered_on_a(false), "a");
    assert_eq!(b.service.registrar().binding_count(), 1);
    assert!(b.stores().is_empty(), "nothing written back");
    // A UDP phone not behind NAT: reached directly at its contact.
    let invites = bob_calls_alice(&mut b);
    assert_eq!(invites.len(), 1, "{invites:?}");
    let (to, invite) = &invites[0];
    assert_eq!(invite.uri_str(), "sip:alice@198.51.100.10:5060");
    assert!(
        matches!(to, Destination::Address { remote, .. } if remote.to_string() == "198.51.100.10:5060")
    );
    // Unregistered on A: gone here too.
    apply_bindings(&mut b, Vec::new(), "a");
    assert_eq!(b.service.registrar().binding_count(), 0);
}

#[test]
fn a_connection_held_by_a_live_node_is_reached_through_it_and_a_dead_ones_is_not() {
    let mut b = node_server("b", true);
    apply_bindings(&mut b, registered_on_a(true), "a");
    let invites = bob_calls_alice(&mut b);
    assert_eq!(invites.len(), 1, "{invites:?}");
    let (to, invite) = &invites[0];
    assert!(
        matches!(to, Destination::Address { remote, .. } if remote.to_string() == NODE_A),
        "sent to node A: {to:?}"
    );
    assert_eq!(invite.uri_str(), ALICE, "A delivers it to the AOR's flows");
    let route = invite.headers().get(HeaderName::Route).unwrap();
    assert!(route.contains("192.0.2.1:5060;lr"), "{route}");

    // Node A died: its connection with it. Nothing else: 480.
    let mut b = node_server("b", false);
    apply_bindings(&mut b, registered_on_a(true), "a");
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    let password = b.password(&bob);
    let answer = b.authenticated(&mut bob, &password, |p| p.call(Method::Invite, ALICE));
    assert_eq!(answer.status(), StatusCode::TEMPORARILY_UNAVAILABLE);
}

#[test]
fn a_phone_behind_nat_on_a_dead_node_is_still_reached_at_its_address() {
    let mut a = Server::new();
    let mut alice = Phone::behind_nat("alice", "203.0.113.7:40000", "10.0.0.5:5060");
    a.register(&mut alice, 600);
    let bindings = a.upserted_bindings();
    let mut b = node_server("b", false);
    apply_bindings(&mut b, bindings, "a");
    let invites = bob_calls_alice(&mut b);
    assert_eq!(invites.len(), 1, "{invites:?}");
    assert!(
        matches!(&invites[0].0, Destination::Address { remote, .. } if remote.to_string() == "203.0.113.7:40000"),
        "{invites:?}"
    );
}

#[test]
fn a_peer_nodes_request_goes_down_the_flow_held_here_unchallenged() {
    let (mut a, alice) = alice_on_tcp_at_node_a();
    // Node B forwards bob's call for alice: no credentials of its own.
    let mut peer = Phone::new("bob", NODE_B);
    let invite = peer.call(Method::Invite, ALICE).build().unwrap();
    a.send(&peer, invite);
    let sent = a.take(&alice);
    let delivered = sent
        .iter()
        .filter_map(|m| match m {
            Message::Request(r) if r.method() == &Method::Invite => Some(r),
            _ => None,
        })
        .count();
    assert_eq!(delivered, 1, "down alice's connection: {sent:?}");
    let to_peer = a.responses(&peer);
    assert!(
        to_peer.iter().all(|r| r.status().as_u16() < 400),
        "no challenge for a peer: {to_peer:?}"
    );

    // The same request from a stranger is challenged.
    let mut stranger = Phone::new("bob", "198.51.100.99:5060");
    let invite = stranger.call(Method::Invite, ALICE).build().unwrap();
    a.send(&stranger, invite);
    assert_eq!(
        a.final_response(&stranger).status(),
        StatusCode::PROXY_AUTHENTICATION_REQUIRED
    );
}

#[test]
fn watchers_here_hear_of_registrations_and_publications_on_another_node() {
    let mut b = node_server("b", true);
    let mut watcher = Phone::new("bob", "198.51.100.20:5060");
    let password = b.password(&watcher);
    b.authenticate(&mut watcher, &password, |p| {
        p.call(Method::Subscribe, ALICE)
            .header(HeaderName::Event, "presence")
            .header(HeaderName::Expires, "600")
    });
    let first = b.request_to(&watcher, Method::Notify);
    b.respond(&watcher, &first, 200);
    assert!(body(&first).contains("<basic>closed</basic>"));

    // alice registered on A: open here.
    apply_bindings(&mut b, registered_on_a(false), "a");
    let notify = b.request_to(&watcher, Method::Notify);
    b.respond(&watcher, &notify, 200);
    assert!(
        body(&notify).contains("<basic>open</basic>"),
        "{}",
        body(&notify)
    );

    // alice published on A: her document here.
    let record = PublicationRecord {
        etag: "etag-on-a".into(),
        aor: ALICE.into(),
        event: "presence".into(),
        content_type: "application/pidf+xml".into(),
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"{ALICE}\"><tuple id=\"t1\"><status><basic>open</basic></status><note>in a meeting</note></tuple></presence>"
        ),
        expires_unix: service_harness::UNIX0 + 600,
    };
    let change = ClusterChange::Publications {
        aor: ALICE.into(),
        publications: vec![record],
    };
    b.command(|service, now, ep| service.apply_cluster(now, ep, change.clone()));
    let notify = b.request_to(&watcher, Method::Notify);
    b.respond(&watcher, &notify, 200);
    assert!(body(&notify).contains("in a meeting"), "{}", body(&notify));
    // The same state again tells nobody anything.
    b.command(|service, now, ep| service.apply_cluster(now, ep, change));
    assert!(b.requests(&watcher).is_empty());
}

fn body(request: &Request) -> String {
    String::from_utf8(request.body().to_vec()).unwrap()
}

#[test]
fn a_reload_of_this_nodes_own_bindings_keeps_the_flows_it_holds() {
    let (mut a, alice) = alice_on_tcp_at_node_a();
    // After a reconnect the feed reads the whole location again: alice's
    // binding homed here, without its flow.
    let stored = without_flows(a.upserted_bindings());
    apply_bindings(&mut a, stored, "a");
    let invites = bob_calls_alice(&mut a);
    assert_eq!(invites.len(), 1, "{invites:?}");
    assert_eq!(invites[0].0, Destination::Flow(alice.flow.unwrap()));
}
