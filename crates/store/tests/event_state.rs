//! The event state in SQLite: subscriptions, publications and stored
//! messages through `EventStateStore`, and through the group committer
//! together with bindings.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::binding;
use switchboard_core::Transport;
use switchboard_store::{
    BindingChange, BindingStore, CommitterConfig, DB_FILE_NAME, EventStateStore, GroupCommitter,
    GroupStore, MAX_BODY_LEN, PublicationRecord, SqliteStore, StateChange, StoreError,
    StoredMessage, StoredState, Submission, SubscriptionRecord,
};

fn subscription(id: &str, source: bool) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.to_owned(),
        event: "dialog".to_owned(),
        resource: "sip:bob@example.com".to_owned(),
        watcher: "sip:alice@example.com".to_owned(),
        call_id: format!("{id}@watcher"),
        local_tag: id.to_owned(),
        remote_tag: "w-tag".to_owned(),
        remote_target: "sip:alice@192.0.2.7:5060;transport=tcp".to_owned(),
        route_set: if source {
            vec![
                "<sip:edge.example.net;lr>".to_owned(),
                "<sip:core.example.net;lr>".to_owned(),
            ]
        } else {
            Vec::new()
        },
        local_cseq: 41,
        source: source.then(|| (Transport::Tcp, "203.0.113.9:40000".parse().unwrap())),
        list: source,
        active: !source,
        expires_unix: 1_700_003_600,
        version: 7,
    }
}

fn publication(etag: &str) -> PublicationRecord {
    PublicationRecord {
        etag: etag.to_owned(),
        aor: "sip:bob@example.com".to_owned(),
        event: "presence".to_owned(),
        content_type: "application/pidf+xml".to_owned(),
        body: "<?xml version=\"1.0\"?>\n<presence entity=\"sip:bob@example.com\">\n\t<tuple id=\"a\"/>\n</presence>\n".to_owned(),
        expires_unix: 1_700_000_900,
    }
}

fn message(id: &str, received_unix: u64) -> StoredMessage {
    StoredMessage {
        id: id.to_owned(),
        aor: "sip:bob@example.com".to_owned(),
        from: "\"Alice\" <sip:alice@example.com>;tag=a1".to_owned(),
        to: "<sip:bob@example.com>".to_owned(),
        date: "Sat, 13 Nov 2010 23:29:00 GMT".to_owned(),
        content_type: "text/plain;charset=utf-8".to_owned(),
        // Any bytes: line breaks, a NUL, non-UTF-8.
        body: b"hello\r\n\0\xff bob".to_vec(),
        received_unix,
    }
}

fn every_kind() -> Vec<StateChange> {
    vec![
        StateChange::PutSubscription(subscription("s1", true)),
        StateChange::PutSubscription(subscription("s2", false)),
        StateChange::PutPublication(publication("e1")),
        StateChange::PutMessage(message("m2", 1_700_000_100)),
        StateChange::PutMessage(message("m1", 1_700_000_050)),
        // Same second as m2, stored later: after it.
        StateChange::PutMessage(message("m3", 1_700_000_100)),
    ]
}

fn expected() -> StoredState {
    StoredState {
        subscriptions: vec![subscription("s1", true), subscription("s2", false)],
        publications: vec![publication("e1")],
        messages: vec![
            message("m1", 1_700_000_050),
            message("m2", 1_700_000_100),
            message("m3", 1_700_000_100),
        ],
        dialogs: Vec::new(),
    }
}

#[test]
fn every_record_kind_round_trips_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(store.load_state().unwrap(), StoredState::default());
        store.apply_state(&every_kind()).unwrap();
        assert_eq!(store.load_state().unwrap(), expected());
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.load_state().unwrap(), expected());

    // A put replaces the record with the same key (a message keeps its
    // place in the order); removes take records away.
    let mut refreshed = subscription("s1", true);
    refreshed.local_cseq = 42;
    refreshed.version = 8;
    let mut changed = message("m1", 1_700_000_050);
    changed.body = b"edited".to_vec();
    store
        .apply_state(&[
            StateChange::PutSubscription(refreshed.clone()),
            StateChange::RemoveSubscription { id: "s2".into() },
            StateChange::RemovePublication { etag: "e1".into() },
            StateChange::PutMessage(changed.clone()),
            StateChange::RemoveMessage { id: "m2".into() },
            // Removing what is not there is no error.
            StateChange::RemoveMessage { id: "nope".into() },
        ])
        .unwrap();
    assert_eq!(
        store.load_state().unwrap(),
        StoredState {
            subscriptions: vec![refreshed],
            publications: Vec::new(),
            messages: vec![changed, message("m3", 1_700_000_100)],
            dialogs: Vec::new(),
        }
    );
}

/// Makes SQLite refuse one message id, so that a change fails in the
/// middle of a transaction (after validation passed).
fn refuse_message_id(dir: &std::path::Path, id: &str) {
    let conn = rusqlite::Connection::open(dir.join(DB_FILE_NAME)).unwrap();
    conn.execute_batch(&format!(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.id = '{id}'
         BEGIN SELECT RAISE(ABORT, 'refused'); END;"
    ))
    .unwrap();
}

#[test]
fn apply_state_is_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    refuse_message_id(dir.path(), "boom");
    let err = store
        .apply_state(&[
            StateChange::PutSubscription(subscription("s1", true)),
            StateChange::PutMessage(message("m1", 1)),
            StateChange::PutMessage(message("boom", 2)),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");
    assert_eq!(store.load_state().unwrap(), StoredState::default());

    // Refused by the checks before anything is written.
    let mut big = message("m2", 3);
    big.body = vec![b'x'; MAX_BODY_LEN + 1];
    let mut no_key = subscription("", false);
    no_key.id.clear();
    let mut bad_route = subscription("s3", true);
    bad_route.route_set.push("<sip:a;lr>\n<sip:b;lr>".into());
    for bad in [
        StateChange::PutMessage(big),
        StateChange::PutSubscription(no_key),
        StateChange::PutSubscription(bad_route),
        StateChange::RemovePublication {
            etag: String::new(),
        },
    ] {
        let err = store
            .apply_state(&[StateChange::PutMessage(message("m1", 1)), bad.clone()])
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidInput(_)),
            "{bad:?}: {err:?}"
        );
    }
    assert_eq!(store.load_state().unwrap(), StoredState::default());
}

#[test]
fn mixed_submissions_share_one_commit_each_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    refuse_message_id(dir.path(), "boom");
    let bob = binding("sip:bob@example.com", "sip:bob@192.0.2.1:5060", 1);
    let groups = [
        Submission::Bindings(vec![BindingChange::Upsert(bob.clone())]),
        Submission::State(vec![
            StateChange::PutMessage(message("m1", 1)),
            StateChange::PutMessage(message("boom", 2)),
        ]),
        Submission::State(vec![StateChange::PutPublication(publication("e1"))]),
        Submission::State(Vec::new()),
    ];
    let refs: Vec<&Submission> = groups.iter().collect();
    let results = store.apply_submissions(&refs).unwrap();
    assert!(results[0].is_ok());
    assert!(
        matches!(results[1], Err(StoreError::Sqlite(_))),
        "{results:?}"
    );
    assert!(results[2].is_ok() && results[3].is_ok());
    assert_eq!(store.load_all().unwrap(), vec![bob]);
    let state = store.load_state().unwrap();
    assert!(state.messages.is_empty(), "the failed group left nothing");
    assert_eq!(state.publications, vec![publication("e1")]);
}

#[test]
fn the_committer_writes_bindings_and_state_together_durably() {
    let dir = tempfile::tempdir().unwrap();
    let committer = GroupCommitter::start(
        SqliteStore::open(dir.path()).unwrap(),
        CommitterConfig::default(),
    )
    .unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut bindings = Vec::new();
    for id in 0..50_u64 {
        let b = binding(
            &format!("sip:u{id}@example.com"),
            &format!("sip:u{id}@192.0.2.1:{}", 6000 + id),
            id,
        );
        bindings.push(b.clone());
        let done = done_tx.clone();
        committer
            .submit_with(vec![BindingChange::Upsert(b)], move |r| {
                done.send(r).unwrap();
            })
            .unwrap();
        let done = done_tx.clone();
        committer
            .submit_state_with(
                vec![StateChange::PutMessage(message(&format!("m{id:02}"), id))],
                move |r| done.send(r).unwrap(),
            )
            .unwrap();
    }
    for _ in 0..100 {
        done_rx.recv().unwrap().unwrap();
    }
    // Refused before queuing: the callback is never called.
    let err = committer
        .submit_state_with(
            vec![StateChange::RemoveMessage { id: String::new() }],
            |_| panic!("not queued"),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)));
    let stats = committer.stats();
    assert_eq!((stats.groups, stats.changes), (100, 100));
    assert!(stats.commits <= 100);
    committer.shutdown().unwrap();

    let store = SqliteStore::open(dir.path()).unwrap();
    let mut loaded = store.load_all().unwrap();
    loaded.sort_by_key(|b| b.expires_at);
    assert_eq!(loaded, bindings);
    let ids: Vec<String> = store
        .load_state()
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.id)
        .collect();
    let expected: Vec<String> = (0..50).map(|id| format!("m{id:02}")).collect();
    assert_eq!(ids, expected, "oldest first");
}

#[test]
fn a_damaged_row_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .apply_state(&[StateChange::PutSubscription(subscription("s1", true))])
        .unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
    for damage in [
        "UPDATE subscriptions SET transport = 'carrier-pigeon'",
        "UPDATE subscriptions SET transport = 'tcp', remote_addr = 'not an address'",
        "UPDATE subscriptions SET remote_addr = NULL",
        "UPDATE subscriptions SET remote_addr = '203.0.113.9:40000', local_cseq = -1",
        "UPDATE subscriptions SET local_cseq = 1, expires_unix = -5",
    ] {
        conn.execute_batch(damage).unwrap();
        let err = store.load_state().unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{damage}: {err:?}");
    }
    conn.execute_batch("DELETE FROM subscriptions").unwrap();
    store
        .apply_state(&[StateChange::PutMessage(message("m1", 1))])
        .unwrap();
    conn.execute_batch("UPDATE messages SET received_unix = 'yesterday'")
        .unwrap();
    let err = store.load_state().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}
