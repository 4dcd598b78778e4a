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
use common::spec::{message, publication, subscription};
use switchboard_store::{
    BindingChange, BindingStore, DB_FILE_NAME, EventStateStore, GroupStore, MAX_BODY_LEN,
    SqliteStore, StateChange, StoreError, StoredState, Submission,
};

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
fn a_lone_failing_submission_leaves_nothing_and_the_next_one_commits() {
    // One submission per commit (every commit at a low rate) runs without
    // a savepoint: its failure must still undo its first change.
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    refuse_message_id(dir.path(), "boom");
    let failing = Submission::State(vec![
        StateChange::PutMessage(message("m1", 1)),
        StateChange::PutMessage(message("boom", 2)),
    ]);
    let results = store.apply_submissions(&[&failing]).unwrap();
    assert!(
        matches!(results[..], [Err(StoreError::Sqlite(_))]),
        "{results:?}"
    );
    assert!(store.load_state().unwrap().messages.is_empty());
    let next = Submission::State(vec![StateChange::PutMessage(message("m2", 3))]);
    let results = store.apply_submissions(&[&next]).unwrap();
    assert!(matches!(results[..], [Ok(())]), "{results:?}");
    assert_eq!(store.load_state().unwrap().messages.len(), 1);
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

// The bodies shared with the PostgreSQL back end (tests/postgres.rs).
common::backend_tests!(common::spec::Sqlite::new();
    every_record_kind_round_trips_and_survives_reopen,
    the_committer_writes_bindings_and_state_together_durably,
);
