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

use std::time::Duration;

use service_harness::{Phone, Server};
use switchboard_core::Destination;
use switchboard_proto::{HeaderName, Message, Method, Request, StatusCode};
use switchboard_server::bodies::{DialogEntry, DialogState, Direction};
use switchboard_server::cluster::{ClusterChange, HomedBinding, NodeState};
use switchboard_server::registrar::{Aor, Binding};
use switchboard_server::storage::{PublicationRecord, StateChange};

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
    let first = subscribe_to_alice(&mut b, &mut watcher, "presence");
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

/// `watcher` subscribes at `h` to `event` of alice: the first NOTIFY.
fn subscribe_to_alice(h: &mut Server, watcher: &mut Phone, event: &str) -> Request {
    let password = h.password(watcher);
    h.authenticate(watcher, &password, |p| {
        p.call(Method::Subscribe, ALICE)
            .header(HeaderName::Event, event)
            .header(HeaderName::Expires, "600")
    });
    h.request_to(watcher, Method::Notify)
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

#[test]
fn an_expired_binding_is_removed_from_the_store_by_its_live_home_node_only() {
    let mut b = node_server("b", true);
    apply_bindings(&mut b, registered_on_a(false), "a");
    b.run_for(Duration::from_secs(601));
    assert_eq!(b.service.registrar().binding_count(), 0, "gone here too");
    assert!(b.stores().is_empty(), "node A removes it: {:?}", b.stores());

    // Its home is dead: this node removes it.
    let mut b = node_server("b", false);
    apply_bindings(&mut b, registered_on_a(false), "a");
    b.run_for(Duration::from_secs(601));
    let removals: usize = b.stores().iter().map(|(_, changes)| changes.len()).sum();
    assert_eq!(removals, 1);
}

#[test]
fn a_registration_still_being_stored_here_survives_another_nodes_change() {
    let mut b = node_server("b", true);
    // alice's desk phone registers here; the store is slow.
    b.store_reply = service_harness::Reply::Hold;
    let mut desk = Phone::new("alice", "198.51.100.30:5060");
    let password = b.password(&desk);
    b.authenticate(&mut desk, &password, |p| p.register(600));
    assert_eq!(b.held(), 1);
    // Meanwhile her mobile registered on A: the store has only that one.
    apply_bindings(&mut b, registered_on_a(false), "a");
    b.release();
    assert_eq!(b.final_response(&desk).status(), StatusCode::OK);
    let mut contacts: Vec<String> = b
        .service
        .registrar()
        .bindings(service_harness::UNIX0)
        .map(|binding| binding.contact.clone())
        .collect();
    contacts.sort();
    assert_eq!(
        contacts,
        [
            "sip:alice@198.51.100.10:5060",
            "sip:alice@198.51.100.30:5060"
        ]
    );
}

#[test]
fn a_message_kept_here_reaches_a_phone_on_another_nodes_connection_through_it() {
    let mut b = node_server("b", true);
    // bob sends alice a MESSAGE while she has no device: kept (202).
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    let password = b.password(&bob);
    let answer = b.authenticated(&mut bob, &password, |p| {
        p.call(Method::Message, ALICE)
            .body("text/plain", "see you at noon".to_owned())
    });
    assert_eq!(answer.status().as_u16(), 202);
    // She registers over TCP on node A: B delivers through A.
    apply_bindings(&mut b, registered_on_a(true), "a");
    let messages: Vec<_> = b
        .take_requests()
        .into_iter()
        .filter(|(_, r)| r.method() == &Method::Message)
        .collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let (to, message) = &messages[0];
    assert!(
        matches!(to, Destination::Address { remote, .. } if remote.to_string() == NODE_A),
        "{to:?}"
    );
    assert_eq!(message.uri_str(), ALICE);
    assert!(
        message
            .headers()
            .get(HeaderName::Route)
            .unwrap()
            .contains("192.0.2.1:5060;lr")
    );
    assert_eq!(body(message), "see you at noon");
}

#[test]
fn a_peer_nodes_traffic_is_not_rate_limited_by_its_address() {
    let (mut a, alice) = alice_on_tcp_at_node_a();
    let mut peer = Phone::new("bob", NODE_B);
    // More than the default burst (100) at once.
    const CALLS: usize = 150;
    for n in 0..CALLS {
        peer.call_id = format!("peer-call-{n}");
        let invite = peer.call(Method::Invite, ALICE).build().unwrap();
        a.send(&peer, invite);
    }
    let delivered = a
        .take(&alice)
        .iter()
        .filter(|m| matches!(m, Message::Request(r) if r.method() == &Method::Invite))
        .count();
    assert_eq!(delivered, CALLS);
}

/// alice's call as node A routes it, seen from her side (she calls bob).
fn alice_dialog_on_a(state: DialogState) -> DialogEntry {
    DialogEntry {
        id: "d-on-a".into(),
        call_id: "call-on-a".into(),
        local_tag: Some("alice-tag".into()),
        remote_tag: Some("bob-tag".into()),
        direction: Direction::Initiator,
        state,
        local_identity: ALICE.into(),
        local_display: None,
        local_target: None,
        remote_identity: "sip:bob@example.com".into(),
        remote_display: None,
        remote_target: None,
        duration: None,
    }
}

#[test]
fn busy_lamp_watchers_here_see_calls_another_node_routes() {
    let mut b = node_server("b", true);
    let mut watcher = Phone::new("bob", "198.51.100.20:5060");
    let first = subscribe_to_alice(&mut b, &mut watcher, "dialog");
    b.respond(&watcher, &first, 200);
    assert!(!body(&first).contains("<dialog "), "{}", body(&first));

    // alice's call through node A is answered: her lamp here is lit.
    let aor = Aor::parse(ALICE).unwrap();
    let confirmed = ClusterChange::Calls {
        aor: aor.clone(),
        calls: vec![alice_dialog_on_a(DialogState::Confirmed)],
    };
    b.command(|service, now, ep| service.apply_cluster(now, ep, confirmed.clone()));
    let notify = b.request_to(&watcher, Method::Notify);
    b.respond(&watcher, &notify, 200);
    let text = body(&notify);
    assert!(text.contains("call-id=\"call-on-a\""), "{text}");
    assert!(text.contains("<state>confirmed</state>"), "{text}");
    // The same state again tells nobody anything.
    b.command(|service, now, ep| service.apply_cluster(now, ep, confirmed));
    assert!(b.requests(&watcher).is_empty());

    // The call ends on A: told once as terminated, then gone.
    let ended = ClusterChange::Calls {
        aor: aor.clone(),
        calls: vec![alice_dialog_on_a(DialogState::Terminated {
            reason: Some("local-bye".into()),
            code: None,
        })],
    };
    b.command(|service, now, ep| service.apply_cluster(now, ep, ended));
    let notify = b.request_to(&watcher, Method::Notify);
    b.respond(&watcher, &notify, 200);
    let text = body(&notify);
    assert!(text.contains("terminated"), "{text}");
    assert!(!text.contains("<state>confirmed</state>"), "{text}");
    b.command(|service, now, ep| {
        service.apply_cluster(now, ep, ClusterChange::Calls { aor, calls: vec![] });
    });
    assert!(b.requests(&watcher).is_empty());

    // A new subscription shows no call.
    let mut late = Phone::new("carol", "198.51.100.21:5060");
    let first = subscribe_to_alice(&mut b, &mut late, "dialog");
    assert!(!body(&first).contains("call-on-a"), "{}", body(&first));
}

/// The dialog states `h` saved for the other nodes: (user, state).
fn shared_call_states(h: &Server) -> Vec<(String, String)> {
    h.saved
        .iter()
        .filter_map(|change| match change {
            StateChange::PutCallState { aor, dialog } => {
                Some((aor.as_str().to_owned(), dialog.state.as_str().to_owned()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_cluster_node_shares_the_dialogs_of_the_calls_it_routes_and_a_lone_node_does_not() {
    let mut b = node_server("b", true);
    apply_bindings(&mut b, registered_on_a(false), "a");
    assert_eq!(bob_calls_alice(&mut b).len(), 1);
    b.run_for(Duration::from_secs(1));
    let shared = shared_call_states(&b);
    for user in ["alice@example.com", "bob@example.com"] {
        assert!(
            shared.contains(&(user.to_owned(), "trying".to_owned())),
            "{user}: {shared:?}"
        );
    }

    let mut alone = Server::new();
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    alone.register(&mut alice, 600);
    assert_eq!(bob_calls_alice(&mut alone).len(), 1);
    alone.run_for(Duration::from_secs(1));
    assert!(shared_call_states(&alone).is_empty());
}
