//! The cluster's change log and feed on a real PostgreSQL server (issue
//! 14): a node's binding, publication and call-state writes are logged in their own
//! transaction (a rolled-back one leaves nothing), named with the writing
//! node, and another node's feed reports the new state of each changed
//! key, while its own writes are not reported back. Skipped, with a
//! message, when PostgreSQL is not installed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a failed unwrap is the test failing

#[allow(unused_macros, unused_imports)] // the shared helpers, not the backend test list
mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::spec::{self, Pg};
use common::{aor, binding};
use switchboard_server::bodies::{DialogEntry, DialogState, Direction};
use switchboard_server::cluster::ClusterChange;
use switchboard_store::{
    BindingChange, BindingStore, ClusterFeed, ClusterFeedConfig, ClusterFeedHandle,
    EventStateStore, NodeSession, PostgresStore, PublicationRecord, StateChange,
};

fn session(name: &str) -> NodeSession {
    NodeSession::new(name, true).unwrap()
}

fn feed_config(url: &str, name: &str, notify: bool) -> ClusterFeedConfig {
    ClusterFeedConfig {
        url: url.to_owned(),
        session: session(name),
        sip_uri: format!("sip:127.0.0.1:{}", 5000 + name.len()),
        admin_url: None,
        notify,
        // Long with LISTEN: a change that arrives sooner came by NOTIFY.
        poll_interval: if notify {
            Duration::from_secs(30)
        } else {
            Duration::from_millis(100)
        },
        heartbeat: Duration::from_millis(200),
    }
}

/// A feed started with `config`, and what it reports.
fn follow(config: ClusterFeedConfig) -> (ClusterFeedHandle, mpsc::Receiver<ClusterChange>) {
    let (tx, rx) = mpsc::channel();
    let handle = ClusterFeed::connect(config)
        .unwrap()
        .start(move |change| {
            let _ = tx.send(change);
        })
        .unwrap();
    (handle, rx)
}

/// The next change that is not a node list.
fn next_change(rx: &mpsc::Receiver<ClusterChange>, within: Duration) -> Option<ClusterChange> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(ClusterChange::Nodes(_)) => {}
            Ok(other) => return Some(other),
            Err(_) => return None,
        }
    }
}

#[test]
fn changes_are_logged_with_their_transaction_and_node() {
    let Some(pg) = Pg::new() else { return };
    let a = PostgresStore::connect_as(&pg.0, 1, Some(&session("a"))).unwrap();
    let alice = "sip:alice@example.com";
    let good = binding(alice, "sip:alice@192.0.2.1:5060", 300);
    a.apply(&[BindingChange::Upsert(good.clone())]).unwrap();
    // A change rolled back leaves no log row.
    let mut client = postgres::Client::connect(&pg.0, postgres::NoTls).unwrap();
    let mut tx = client.transaction().unwrap();
    assert_eq!(tx.execute("UPDATE bindings SET q = q + 1", &[]).unwrap(), 1);
    tx.rollback().unwrap();
    let rows = client
        .query(
            "SELECT kind, key, node FROM cluster_changes ORDER BY seq",
            &[],
        )
        .unwrap();
    let logged: Vec<(String, String, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        logged,
        vec![("bindings".into(), alice.into(), Some("a".into()))]
    );
    // The binding is homed on the node that wrote it.
    let home: Option<String> = client
        .query_one("SELECT node FROM bindings", &[])
        .unwrap()
        .get(0);
    assert_eq!(home.as_deref(), Some("a"));
    // A removal by a store that names no node is logged without one.
    let anonymous = PostgresStore::connect(&pg.0).unwrap();
    anonymous
        .apply(&[BindingChange::Remove {
            aor: aor(alice),
            key: good.key.clone(),
            reason: switchboard_server::registrar::RemoveReason::Unregistered,
        }])
        .unwrap();
    let last: Option<String> = client
        .query_one(
            "SELECT node FROM cluster_changes ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(last, None);
}

/// The feeds tell their own node's notifications from the others' by the
/// payload: the writing node's name (empty for a store that names none).
#[test]
fn a_change_notification_names_the_writing_node() {
    let Some(pg) = Pg::new() else { return };
    let mut listener = postgres::Client::connect(&pg.0, postgres::NoTls).unwrap();
    listener
        .batch_execute("LISTEN switchboard_changes")
        .unwrap();
    let alice = "sip:alice@example.com";
    let a = PostgresStore::connect_as(&pg.0, 1, Some(&session("node-a"))).unwrap();
    a.apply(&[BindingChange::Upsert(binding(
        alice,
        "sip:alice@192.0.2.1",
        1,
    ))])
    .unwrap();
    let anonymous = PostgresStore::connect(&pg.0).unwrap();
    anonymous
        .apply(&[BindingChange::Upsert(binding(
            alice,
            "sip:alice@192.0.2.2",
            2,
        ))])
        .unwrap();
    let mut payloads = Vec::new();
    let mut notifications = listener.notifications();
    let mut arrived = notifications.timeout_iter(Duration::from_secs(5));
    while payloads.len() < 2 {
        let note = postgres::fallible_iterator::FallibleIterator::next(&mut arrived)
            .unwrap()
            .expect("a notification per commit");
        payloads.push(note.payload().to_owned());
    }
    assert_eq!(payloads, ["node-a", ""]);
}

fn feed_reports_other_nodes_changes(notify: bool) {
    let Some(pg) = Pg::new() else { return };
    let a = PostgresStore::connect_as(&pg.0, 1, Some(&session("a"))).unwrap();
    let alice = "sip:alice@example.com";
    // Written before B's feed connects: part of the state B loads.
    a.apply(&[BindingChange::Upsert(binding(
        alice,
        "sip:alice@192.0.2.1",
        1,
    ))])
    .unwrap();
    let (handle, rx) = follow(feed_config(&pg.0, "b", notify));
    // The feed starts with the node list and the whole location, each
    // binding's home with it, then the node list again.
    let within = Duration::from_secs(5);
    assert!(matches!(
        rx.recv_timeout(within).unwrap(),
        ClusterChange::Nodes(_)
    ));
    let mut loaded = Vec::new();
    loop {
        match rx.recv_timeout(within).unwrap() {
            ClusterChange::Nodes(_) => break,
            other => loaded.push(other),
        }
    }
    match loaded.as_slice() {
        [ClusterChange::Bindings { aor: got, bindings }] => {
            assert_eq!(got, &aor(alice));
            assert_eq!(bindings.len(), 1);
            assert_eq!(bindings[0].home.as_deref(), Some("a"));
        }
        other => panic!("expected alice's binding at start, got {other:?}"),
    }
    let b = PostgresStore::connect_as(&pg.0, 1, Some(&session("b"))).unwrap();
    // B's own write is not reported back to B.
    b.apply(&[BindingChange::Upsert(binding(
        "sip:carol@example.com",
        "sip:carol@192.0.2.3",
        3,
    ))])
    .unwrap();
    let second = binding(alice, "sip:alice@192.0.2.2;transport=tcp", 2);
    a.apply(&[BindingChange::Upsert(second.clone())]).unwrap();
    match next_change(&rx, within) {
        Some(ClusterChange::Bindings { aor: got, bindings }) => {
            assert_eq!(got, aor(alice));
            assert_eq!(bindings.len(), 2, "the AOR's whole state: {bindings:?}");
            assert!(bindings.iter().all(|b| b.home.as_deref() == Some("a")));
            assert!(bindings.iter().any(|b| b.binding.contact == second.contact));
        }
        other => panic!("expected alice's bindings, got {other:?}"),
    }
    let record = PublicationRecord {
        etag: "e1".into(),
        aor: alice.into(),
        event: "presence".into(),
        content_type: "application/pidf+xml".into(),
        body: "<presence/>".into(),
        expires_unix: u64::MAX / 4,
    };
    a.apply_state(&[StateChange::PutPublication(record.clone())])
        .unwrap();
    match next_change(&rx, within) {
        Some(ClusterChange::Publications { aor, publications }) => {
            assert_eq!(aor, alice);
            assert_eq!(publications, vec![record]);
        }
        other => panic!("expected alice's publications, got {other:?}"),
    }
    assert_eq!(next_change(&rx, Duration::from_millis(500)), None);
    // The heartbeat lists the feed's node, alive.
    let nodes = loop {
        if let ClusterChange::Nodes(nodes) = rx.recv_timeout(within).unwrap() {
            break nodes;
        }
    };
    assert!(nodes.iter().any(|n| n.name == "b" && n.alive), "{nodes:?}");
    handle.stop();
    // A clean stop: listed dead at once.
    let mut other = ClusterFeed::connect(feed_config(&pg.0, "other", notify)).unwrap();
    let nodes = other.nodes().unwrap();
    assert!(nodes.iter().any(|n| n.name == "b" && !n.alive), "{nodes:?}");
}

#[test]
fn the_feed_reports_what_other_nodes_change_by_notify() {
    feed_reports_other_nodes_changes(true);
}

#[test]
fn the_feed_reports_what_other_nodes_change_by_polling() {
    feed_reports_other_nodes_changes(false);
}

#[test]
fn a_node_that_stops_beating_is_dead() {
    let Some(pg) = Pg::new() else { return };
    // The schema first (the feed follows a store already opened).
    drop(PostgresStore::connect(&pg.0).unwrap());
    let mut gone = ClusterFeed::connect(feed_config(&pg.0, "gone", true)).unwrap();
    assert!(
        gone.nodes()
            .unwrap()
            .iter()
            .any(|n| n.name == "gone" && n.alive)
    );
    drop(gone);
    std::thread::sleep(Duration::from_millis(700));
    let mut here = ClusterFeed::connect(feed_config(&pg.0, "here", true)).unwrap();
    let nodes = here.nodes().unwrap();
    let gone = nodes.iter().find(|n| n.name == "gone").unwrap();
    assert!(!gone.alive, "three heartbeats missed: {nodes:?}");
    assert!(nodes.iter().any(|n| n.name == "here" && n.alive));
}

#[test]
fn the_feed_reconnects_and_reports_what_changed_while_the_database_was_away() {
    let Some(mut server) = switchboard_testsupport::Postgres::start() else {
        return;
    };
    let url = server.create_database();
    drop(PostgresStore::connect(&url).unwrap());
    let mut config = feed_config(&url, "b", true);
    config.poll_interval = Duration::from_millis(200);
    let (handle, rx) = follow(config);
    let within = Duration::from_secs(15);
    // The start: an empty location, then the node list.
    assert_eq!(next_change(&rx, Duration::from_millis(500)), None);

    server.restart();
    // Written by A once the database is back, before B's feed is: B's
    // feed finds it by reading the whole location again.
    let a = PostgresStore::connect_as(&url, 1, Some(&session("a"))).unwrap();
    let alice = "sip:alice@example.com";
    a.apply(&[BindingChange::Upsert(binding(
        alice,
        "sip:alice@192.0.2.1",
        1,
    ))])
    .unwrap();
    match next_change(&rx, within) {
        Some(ClusterChange::Bindings { aor: got, bindings }) => {
            assert_eq!(got, aor(alice));
            assert_eq!(bindings.len(), 1);
        }
        other => panic!("expected alice's bindings after the restart, got {other:?}"),
    }
    // And it follows the log again.
    let bob = "sip:bob@example.com";
    a.apply(&[BindingChange::Upsert(binding(bob, "sip:bob@192.0.2.2", 2))])
        .unwrap();
    let mut bob_seen = false;
    while let Some(change) = next_change(&rx, within) {
        if matches!(&change, ClusterChange::Bindings { aor: got, .. } if *got == aor(bob)) {
            bob_seen = true;
            break;
        }
    }
    assert!(bob_seen, "bob's binding reported after the reconnect");
    handle.stop();
}

#[test]
fn a_node_loads_back_its_own_subscriptions_messages_and_calls_and_every_publication() {
    let Some(pg) = Pg::new() else { return };
    let a = PostgresStore::connect_as(&pg.0, 1, Some(&session("a"))).unwrap();
    let b = PostgresStore::connect_as(&pg.0, 1, Some(&session("b"))).unwrap();
    a.apply_state(&[
        StateChange::PutSubscription(spec::subscription("sub-a", true)),
        StateChange::PutMessage(spec::message("msg-a", 10)),
        StateChange::PutDialog(Box::new(spec::internal("call-a", 1_000))),
        StateChange::PutPublication(spec::publication("etag-a")),
    ])
    .unwrap();
    b.apply_state(&[StateChange::PutSubscription(spec::subscription(
        "sub-b", false,
    ))])
    .unwrap();
    let of_a = a.load_state().unwrap();
    let of_b = b.load_state().unwrap();
    let ids = |state: &switchboard_store::StoredState| {
        state
            .subscriptions
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&of_a), ["sub-a"]);
    assert_eq!(ids(&of_b), ["sub-b"]);
    assert_eq!((of_a.messages.len(), of_b.messages.len()), (1, 0));
    assert_eq!((of_a.dialogs.len(), of_b.dialogs.len()), (1, 0));
    // Publications are the shared state: both have it.
    assert_eq!((of_a.publications.len(), of_b.publications.len()), (1, 1));
    // A store that names no node (one node alone) has all it wrote: the
    // rows named by nodes are theirs, those it wrote are its.
    let alone = PostgresStore::connect(&pg.0).unwrap();
    alone
        .apply_state(&[StateChange::PutSubscription(spec::subscription(
            "sub-alone",
            false,
        ))])
        .unwrap();
    assert_eq!(ids(&alone.load_state().unwrap()), ["sub-alone"]);
    assert_eq!(ids(&a.load_state().unwrap()), ["sub-a", "sub-alone"]);
}

/// alice's dialog of her call to bob, in `state`.
fn alice_dialog(state: DialogState) -> DialogEntry {
    DialogEntry {
        id: "d1".into(),
        call_id: "call-1".into(),
        local_tag: Some("a-tag".into()),
        remote_tag: Some("b-tag".into()),
        direction: Direction::Initiator,
        state,
        local_identity: "sip:alice@example.com".into(),
        local_display: Some("Alice".into()),
        local_target: Some("sip:alice@192.0.2.1".into()),
        remote_identity: "sip:bob@example.com".into(),
        remote_display: None,
        remote_target: None,
        duration: None,
    }
}

#[test]
fn the_feed_reports_the_dialogs_of_calls_other_nodes_route() {
    let Some(pg) = Pg::new() else { return };
    let a = PostgresStore::connect_as(&pg.0, 1, Some(&session("a"))).unwrap();
    let b = PostgresStore::connect_as(&pg.0, 1, Some(&session("b"))).unwrap();
    // Node A beats (a dead node's calls are left out).
    let a_beats = ClusterFeed::connect(feed_config(&pg.0, "a", true))
        .unwrap()
        .start(|_| {})
        .unwrap();
    let alice = aor("sip:alice@example.com");
    let put = |store: &PostgresStore, dialog: DialogEntry| {
        store
            .apply_state(&[StateChange::PutCallState {
                aor: alice.clone(),
                dialog: Box::new(dialog),
            }])
            .unwrap();
    };
    // Before B's feed starts: A's call in progress, and an older one of
    // A's that ended (no news at B's start).
    let mut old = alice_dialog(DialogState::Terminated {
        reason: Some("local-bye".into()),
        code: None,
    });
    old.id = "d0".into();
    put(&a, old);
    let confirmed = alice_dialog(DialogState::Confirmed);
    put(&a, confirmed.clone());
    let (handle, rx) = follow(feed_config(&pg.0, "b", true));
    let within = Duration::from_secs(5);
    match next_change(&rx, within) {
        Some(ClusterChange::Calls { aor: got, calls }) => {
            assert_eq!(got, alice);
            assert_eq!(calls, vec![confirmed], "the call in progress alone");
        }
        other => panic!("expected alice's calls at start, got {other:?}"),
    }
    assert_eq!(next_change(&rx, Duration::from_millis(500)), None);

    // B's own call of alice is not reported back to B.
    let mut own = alice_dialog(DialogState::Early);
    own.id = "d-on-b".into();
    put(&b, own);
    let ended = alice_dialog(DialogState::Terminated {
        reason: Some("rejected".into()),
        code: Some(486),
    });
    put(&a, ended.clone());
    match next_change(&rx, within) {
        Some(ClusterChange::Calls { calls, .. }) => assert_eq!(calls, vec![ended.clone()]),
        other => panic!("expected alice's ended call, got {other:?}"),
    }
    assert_eq!(next_change(&rx, Duration::from_millis(500)), None);

    // A's next call of alice is answered, then A stops: the call is gone
    // with it, and A's rows are no longer read with alice's next change.
    let mut next = alice_dialog(DialogState::Confirmed);
    next.id = "d3".into();
    put(&a, next.clone());
    match next_change(&rx, within) {
        // The ended one still listed (watchers are told it once).
        Some(ClusterChange::Calls { calls, .. }) => assert_eq!(calls, vec![ended, next]),
        other => panic!("expected alice's next call, got {other:?}"),
    }
    a_beats.stop();
    match next_change(&rx, within) {
        Some(ClusterChange::Calls { calls, .. }) => assert_eq!(calls, vec![]),
        other => panic!("expected alice's calls gone with A, got {other:?}"),
    }
    let mut later = alice_dialog(DialogState::Trying);
    later.id = "d2".into();
    put(&PostgresStore::connect(&pg.0).unwrap(), later.clone());
    match next_change(&rx, within) {
        Some(ClusterChange::Calls { calls, .. }) => assert_eq!(calls, vec![later]),
        other => panic!("expected alice's new call alone, got {other:?}"),
    }
    handle.stop();
}

/// A batch of call states (written together at its end) leaves what
/// applying them one by one leaves: the last state of each dialog, and of
/// a user's terminated dialogs only the one that ended last (also against
/// one stored before), another user's untouched.
#[test]
fn a_batch_of_call_states_keeps_the_last_state_and_the_last_ended_call() {
    let Some(pg) = Pg::new() else { return };
    let store = PostgresStore::connect_as(&pg.0, 1, Some(&session("a"))).unwrap();
    let (alice, bob) = (aor("sip:alice@example.com"), aor("sip:bob@example.com"));
    let dialog = |id: &str, state: DialogState| DialogEntry {
        id: id.into(),
        ..alice_dialog(state)
    };
    let ended = || DialogState::Terminated {
        reason: Some("local-bye".into()),
        code: Some(487),
    };
    let put =
        |aor: &switchboard_server::registrar::Aor, dialog: DialogEntry| StateChange::PutCallState {
            aor: aor.clone(),
            dialog: Box::new(dialog),
        };
    store
        .apply_state(&[
            put(&alice, dialog("before", ended())),
            put(&bob, dialog("bobs", ended())),
        ])
        .unwrap();
    store
        .apply_state(&[
            put(&alice, dialog("d0", ended())),
            put(&alice, dialog("d1", DialogState::Confirmed)),
            put(&alice, dialog("d1", ended())),
            put(&alice, dialog("d2", ended())),
            put(&alice, dialog("d3", DialogState::Confirmed)),
        ])
        .unwrap();
    let mut client = postgres::Client::connect(&pg.0, postgres::NoTls).unwrap();
    let rows: Vec<(String, String, String)> = client
        .query(
            "SELECT aor, id, state FROM call_states ORDER BY aor, id COLLATE \"C\"",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect();
    let row = |aor: &str, id: &str, state: &str| (aor.into(), id.into(), state.into());
    assert_eq!(
        rows,
        vec![
            row("sip:alice@example.com", "d2", "terminated"),
            row("sip:alice@example.com", "d3", "confirmed"),
            row("sip:bob@example.com", "bobs", "terminated"),
        ]
    );
}
