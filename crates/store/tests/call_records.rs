//! Call detail records in SQLite: written through the event-state path
//! (and the group committer), updated by id, read by start time,
//! deleted by retention, damaged rows reported.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a failed unwrap is the test failing

mod common;

use common::spec::record;

use switchboard_store::{EventStateStore, RecordQuery, SqliteStore, StateChange, StoreError};

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

// The bodies shared with the PostgreSQL back end (tests/postgres.rs).
common::backend_tests!(common::spec::Sqlite::new();
    records_round_trip_are_updated_by_id_and_read_by_start_time,
    a_relayed_calls_media_counters_round_trip_and_others_have_none,
    retention_deletes_only_records_that_started_before,
    a_bad_record_is_refused_and_nothing_of_its_submission_is_written,
    the_committer_writes_records_durably,
);
