//! Call detail records in SQLite: written through the event-state path
//! (and the group committer), updated by id, read by start time,
//! deleted by retention, damaged rows reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a failed unwrap is the test failing

use switchboard_store::{
    CallRecord, CommitterConfig, Disposition, EventStateStore, GroupCommitter, HangupSide,
    RecordQuery, SqliteStore, StateChange, StoreError, Submission,
};

fn record(id: &str, start_ms: u64) -> CallRecord {
    CallRecord {
        id: format!("{id};from-tag"),
        call_id: id.to_owned(),
        caller: "sip:alice@example.com".to_owned(),
        caller_user: Some("alice@example.com".to_owned()),
        callee: "sip:bob@example.com".to_owned(),
        dialled: "sip:bob@example.com".to_owned(),
        routed_number: Some("bob".to_owned()),
        rule: Some("internal".to_owned()),
        target: Some("user:bob".to_owned()),
        trunk: None,
        gateway: None,
        source: "udp 192.0.2.1:5060".to_owned(),
        start_ms,
        answer_ms: None,
        end_ms: Some(start_ms + 3_000),
        disposition: Disposition::Busy,
        status: Some(486),
        hangup: None,
    }
}

fn answered(id: &str, start_ms: u64) -> CallRecord {
    CallRecord {
        trunk: Some("carrier".to_owned()),
        gateway: Some("sip:gw1.example.net".to_owned()),
        answer_ms: Some(start_ms + 2_000),
        end_ms: None,
        disposition: Disposition::Answered,
        status: Some(200),
        caller_user: None,
        routed_number: None,
        rule: None,
        target: None,
        ..record(id, start_ms)
    }
}

#[test]
fn records_round_trip_are_updated_by_id_and_read_by_start_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let call = answered("c1", 1_000_000);
    store
        .apply_state(&[
            StateChange::PutCallRecord(record("c2", 2_000_000)),
            StateChange::PutCallRecord(call.clone()),
            StateChange::PutCallRecord(record("c3", 3_000_000)),
        ])
        .unwrap();
    // The end of the answered call replaces the row written at answer.
    let ended = CallRecord {
        end_ms: Some(1_062_500),
        hangup: Some(HangupSide::Callee),
        ..call
    };
    store
        .apply_state(&[StateChange::PutCallRecord(ended.clone())])
        .unwrap();
    drop(store);

    let store = SqliteStore::open(dir.path()).unwrap();
    let all = store.call_records(&RecordQuery::default()).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0], ended, "oldest first, every field back");
    assert_eq!(all[0].duration_ms(), Some(60_500));
    assert_eq!(all[1], record("c2", 2_000_000));

    let window = store
        .call_records(&RecordQuery {
            since_ms: Some(2_000_000),
            until_ms: Some(3_000_000),
            limit: None,
        })
        .unwrap();
    assert_eq!(
        window,
        vec![record("c2", 2_000_000)],
        "since inclusive, until exclusive"
    );
    let first_two = store
        .call_records(&RecordQuery {
            limit: Some(2),
            ..RecordQuery::default()
        })
        .unwrap();
    assert_eq!(first_two.len(), 2);
    assert_eq!(first_two[1].call_id, "c2");
}

#[test]
fn retention_deletes_only_records_that_started_before() {
    let store = SqliteStore::open_in_memory().unwrap();
    let changes: Vec<StateChange> = (1..=5)
        .map(|i| StateChange::PutCallRecord(record(&format!("c{i}"), i * 1_000)))
        .collect();
    store.apply_state(&changes).unwrap();
    store
        .apply_state(&[StateChange::RemoveCallRecordsBefore { start_ms: 3_000 }])
        .unwrap();
    let left: Vec<u64> = store
        .call_records(&RecordQuery::default())
        .unwrap()
        .into_iter()
        .map(|r| r.start_ms)
        .collect();
    assert_eq!(left, vec![3_000, 4_000, 5_000]);
}

#[test]
fn a_bad_record_is_refused_and_nothing_of_its_submission_is_written() {
    let store = SqliteStore::open_in_memory().unwrap();
    let bad = CallRecord {
        caller: "sip:evil\r\nX: y@example.com".to_owned(),
        ..record("bad", 5)
    };
    let err = store
        .apply_state(&[
            StateChange::PutCallRecord(record("good", 4)),
            StateChange::PutCallRecord(bad),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
    assert!(
        store
            .call_records(&RecordQuery::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn the_committer_writes_records_durably() {
    let dir = tempfile::tempdir().unwrap();
    let committer = GroupCommitter::start(
        SqliteStore::open(dir.path()).unwrap(),
        CommitterConfig::default(),
    )
    .unwrap();
    // One submission of twenty records: one transaction, one fsync.
    let changes = (0..20_u64)
        .map(|i| StateChange::PutCallRecord(record(&format!("c{i:02}"), i)))
        .collect();
    let ticket = committer.submit_any(Submission::State(changes)).unwrap();
    ticket.wait().unwrap();
    committer.shutdown().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(
        store.call_records(&RecordQuery::default()).unwrap().len(),
        20
    );
}

#[test]
fn a_damaged_row_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .apply_state(&[StateChange::PutCallRecord(record("c1", 1))])
        .unwrap();
    drop(store);
    let conn =
        rusqlite::Connection::open(dir.path().join(switchboard_store::DB_FILE_NAME)).unwrap();
    conn.execute("UPDATE call_records SET disposition = 'maybe'", [])
        .unwrap();
    drop(conn);
    let store = SqliteStore::open(dir.path()).unwrap();
    let err = store.call_records(&RecordQuery::default()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}
