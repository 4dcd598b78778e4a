//! The PostgreSQL back end against a real server (started in a temporary
//! directory by `switchboard_testsupport::Postgres`, one per test binary,
//! a database per test): the same test bodies as SQLite's, then what only
//! PostgreSQL has (a server that goes away and comes back, a pool, a
//! schema written by a newer build). Skipped, with a message, when
//! PostgreSQL is not installed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a failed unwrap is the test failing

mod common;

use std::sync::Arc;
use std::thread;

use common::binding;
use common::spec::{Pg, upsert};
use switchboard_store::{
    AnyStore, BindingChange, BindingStore, CommitterConfig, GroupCommitter, PostgresStore,
    StoreError, StoreLocation, UserStore,
};
use switchboard_testsupport::Postgres;

common::backend_tests!(Pg::new();
    users_crud,
    binding_upsert_remove_remove_aor_and_purge,
    apply_is_all_or_nothing,
    bad_binding_text_is_refused,
    every_key_kind_and_q_is_loaded_back_as_stored,
    a_flow_is_not_restored_and_registered_at_comes_back_as_updated_at,
    every_record_kind_round_trips_and_survives_reopen,
    the_committer_writes_bindings_and_state_together_durably,
    records_round_trip_are_updated_by_id_and_read_by_start_time,
    a_relayed_calls_media_counters_round_trip_and_others_have_none,
    retention_deletes_only_records_that_started_before,
    a_bad_record_is_refused_and_nothing_of_its_submission_is_written,
    the_committer_writes_records_durably,
    the_directory_reloads_only_when_users_change,
    only_the_changed_users_are_read_since_a_version,
    a_version_the_log_does_not_reach_needs_the_full_read,
    every_user_is_read_into_the_servers_directory,
    concurrent_submits_are_all_acknowledged_and_present_after_reopen,
    tokens_are_added_listed_found_and_removed,
    a_taken_name_or_a_bad_value_is_refused,
    dialogs_round_trip_are_replaced_removed_and_survive_reopen,
    the_committer_writes_and_removes_dialogs_durably,
    a_batch_keeps_the_last_change_of_each_call_and_dialog,
    an_unstorable_dialog_is_refused_and_nothing_is_written,
    a_damaged_dialog_row_is_reported_not_a_panic,
    user_writes_are_all_or_nothing_and_a_removed_user_loses_its_bindings,
    users_are_read_a_page_at_a_time_in_domain_and_name_order,
    a_users_groups_are_stored_replaced_and_read_back_sorted,
);

#[test]
fn migrations_are_not_cut_short_by_the_sessions_statement_timeout() {
    let Some(pg) = Pg::new() else { return };
    // A statement timeout (the URL's, kept over the store's 30 s) far
    // below what creating the schema takes: the migrations, and the wait
    // for another node's, run without one.
    let url = format!("{}?options=-c%20statement_timeout%3D1", pg.0);
    PostgresStore::connect(&url).unwrap();
}

#[test]
fn the_schema_is_created_once_and_a_newer_one_is_refused() {
    let Some(pg) = Pg::new() else { return };
    // Two nodes opening a new database at once: one migrates, both work.
    let url = Arc::new(pg.0.clone());
    let openers: Vec<_> = (0..2)
        .map(|_| {
            let url = Arc::clone(&url);
            thread::spawn(move || PostgresStore::connect(&url).map(|_| ()))
        })
        .collect();
    for opener in openers {
        opener.join().unwrap().unwrap();
    }
    let mut client = postgres::Client::connect(&pg.0, postgres::NoTls).unwrap();
    let version: i64 = client
        .query_one("SELECT version FROM schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        u32::try_from(version).unwrap(),
        PostgresStore::schema_version()
    );
    client
        .execute("UPDATE schema_version SET version = version + 1", &[])
        .unwrap();
    let err = PostgresStore::connect(&pg.0).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[test]
fn the_location_picks_the_back_end_by_url() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        StoreLocation::new(dir.path(), None).unwrap(),
        StoreLocation::Sqlite(dir.path().to_path_buf())
    );
    assert!(matches!(
        StoreLocation::new(dir.path(), Some("mysql://x@127.0.0.1/db")),
        Err(StoreError::InvalidInput(_))
    ));
    let secret = StoreLocation::new(
        dir.path(),
        Some("postgres://sb:hunter2@db.example:5433/sw?password=hunter2"),
    )
    .unwrap();
    assert_eq!(secret.describe(), "PostgreSQL at db.example:5433/sw");
    let Some(pg) = Pg::new() else { return };
    let location = StoreLocation::new(dir.path(), Some(&pg.0)).unwrap();
    assert!(matches!(location.open().unwrap(), AnyStore::Postgres(_)));
    assert!(
        !location.describe().contains("switchboard@"),
        "no credentials in logs"
    );
}

#[test]
fn an_unreachable_database_is_unavailable_not_a_hang() {
    // A loopback port nobody listens on.
    let port = switchboard_testsupport::free_port();
    let url = format!("postgres://switchboard@127.0.0.1:{port}/none?connect_timeout=2");
    let err = PostgresStore::connect(&url).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
}

/// The database stops under a running committer and a reader: writes fail
/// as unavailable (the server answers 503), and once the database is back
/// the same handles work again without being reopened.
#[test]
fn the_store_recovers_by_itself_when_the_database_comes_back() {
    let Some(mut server) = Postgres::start() else {
        return;
    };
    let url = server.create_database();
    let reader = PostgresStore::connect(&url).unwrap();
    let committer = GroupCommitter::start(
        PostgresStore::connect_with_pool(&url, 1).unwrap(),
        CommitterConfig::default(),
    )
    .unwrap();
    committer.submit(vec![upsert(1)]).unwrap().wait().unwrap();
    assert_eq!(reader.load_all().unwrap().len(), 1);

    server.stop();
    let err = committer
        .submit(vec![upsert(2)])
        .unwrap()
        .wait()
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
    let err = reader.load_all().unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");

    server.restart();
    committer.submit(vec![upsert(3)]).unwrap().wait().unwrap();
    let ids: Vec<u64> = reader
        .load_all()
        .unwrap()
        .iter()
        .map(|b| b.expires_at - 1_700_000_000)
        .collect();
    assert_eq!(
        ids,
        vec![1, 3],
        "the acknowledged writes, not the failed one"
    );
    committer.shutdown().unwrap();
}

/// The pool never opens more than its size, however many threads ask.
#[test]
fn the_pool_is_bounded() {
    let Some(pg) = Pg::new() else { return };
    let store = Arc::new(PostgresStore::connect_with_pool(&pg.0, 2).unwrap());
    let workers: Vec<_> = (0..8_u64)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for n in 0..20 {
                    store.apply(&[upsert(t * 100 + n)]).unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(store.load_all().unwrap().len(), 160);
    let mut client = postgres::Client::connect(&pg.0, postgres::NoTls).unwrap();
    let database = pg.0.rsplit('/').next().unwrap().to_owned();
    let open: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM pg_stat_activity
             WHERE datname = $1 AND application_name = 'switchboard'",
            &[&database],
        )
        .unwrap()
        .get(0);
    assert!(open <= 2, "{open} connections for a pool of 2");
    assert_eq!(store.count_users(None).unwrap(), 0);
}

/// Makes the next `failures` inserts into `bindings` fail with SQLSTATE
/// 40001, as CockroachDB does under contention (a sequence counts them:
/// it is not rolled back with the transaction).
fn fail_inserts_with_40001(url: &str, failures: u32) {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "CREATE SEQUENCE flaky_count;
             CREATE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF nextval('flaky_count') <= {failures} THEN
                     RAISE EXCEPTION 'simulated conflict' USING ERRCODE = '40001';
                 END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER flaky BEFORE INSERT ON bindings
                 FOR EACH ROW EXECUTE FUNCTION flaky();"
        ))
        .unwrap();
}

#[test]
fn serialization_failures_are_retried_a_bounded_number_of_times() {
    let Some(pg) = Pg::new() else { return };
    let store = PostgresStore::connect(&pg.0).unwrap();
    // Fewer failures than attempts: the write and a group commit succeed.
    fail_inserts_with_40001(&pg.0, switchboard_store::MAX_ATTEMPTS - 1);
    store.apply(&[upsert(1)]).unwrap();
    let committer = GroupCommitter::start(
        PostgresStore::connect_with_pool(&pg.0, 1).unwrap(),
        CommitterConfig::default(),
    )
    .unwrap();
    committer.submit(vec![upsert(2)]).unwrap().wait().unwrap();
    assert_eq!(store.load_all().unwrap().len(), 2);

    // Failing every time: given up after MAX_ATTEMPTS, reported, nothing
    // written.
    let mut client = postgres::Client::connect(&pg.0, postgres::NoTls).unwrap();
    client
        .execute("SELECT setval('flaky_count', 1, false)", &[])
        .unwrap();
    client
        .batch_execute(
            "CREATE OR REPLACE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 PERFORM nextval('flaky_count');
                 RAISE EXCEPTION 'simulated conflict' USING ERRCODE = '40001';
             END $$;",
        )
        .unwrap();
    let err = store.apply(&[upsert(3)]).unwrap_err();
    assert!(matches!(err, StoreError::Postgres(_)), "{err:?}");
    let tries: i64 = client
        .query_one("SELECT last_value FROM flaky_count", &[])
        .unwrap()
        .get(0);
    assert_eq!(tries, i64::from(switchboard_store::MAX_ATTEMPTS));
    let err = committer
        .submit(vec![upsert(4)])
        .unwrap()
        .wait()
        .unwrap_err();
    assert!(matches!(err, StoreError::Postgres(_)), "{err:?}");
    assert_eq!(store.load_all().unwrap().len(), 2);
    committer.shutdown().unwrap();
}

/// Makes the database refuse, as a constraint would, every row of `table`
/// whose `column` contains "refused".
fn refuse_rows(pg: &Pg, table: &str, column: &str) {
    let mut client = postgres::Client::connect(&pg.0, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.{column} LIKE '%refused%' THEN
                     RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation';
                 END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON {table}
                 FOR EACH ROW EXECUTE FUNCTION refuse();"
        ))
        .unwrap();
}

/// A submission the database itself refuses (here a trigger; in life a
/// constraint) fails alone: in a batch of several, the others commit; on
/// its own, nothing of it is written and the store goes on.
#[test]
fn a_submission_the_database_refuses_fails_alone() {
    let Some(pg) = Pg::new() else { return };
    let store = PostgresStore::connect(&pg.0).unwrap();
    refuse_rows(&pg, "bindings", "contact");
    let change = |user: &str, id| {
        BindingChange::Upsert(binding(
            &format!("sip:{user}@example.com"),
            &format!("sip:{user}@192.0.2.{id}"),
            id,
        ))
    };
    let (good, refused, other) = (change("a", 1), change("refused", 2), change("c", 3));
    let results = store
        .apply_groups(&[
            std::slice::from_ref(&good),
            &[refused.clone(), other.clone()],
            &[other],
        ])
        .unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::Postgres(_))),
        "{results:?}"
    );
    assert!(results[2].is_ok(), "{results:?}");
    let results = store.apply_groups(&[&[refused]]).unwrap();
    assert!(
        matches!(results[0], Err(StoreError::Postgres(_))),
        "{results:?}"
    );
    let stored: Vec<String> = store
        .load_all()
        .unwrap()
        .iter()
        .map(|binding| binding.contact.clone())
        .collect();
    assert_eq!(stored, ["sip:a@192.0.2.1", "sip:c@192.0.2.3"]);
    store.apply_groups(&[&[good]]).unwrap()[0].clone().unwrap();
}

/// The call rows of a batch are written together at its end; a row the
/// database refuses there still fails only its own submission (the batch
/// runs again a submission at a time): the others' records and dialogs
/// are kept, nothing of the refused one.
#[test]
fn a_call_row_the_database_refuses_fails_only_its_submission() {
    use switchboard_store::{EventStateStore, GroupStore, RecordQuery, StateChange, Submission};
    let Some(pg) = Pg::new() else { return };
    let store = PostgresStore::connect(&pg.0).unwrap();
    refuse_rows(&pg, "dialogs", "call_id");
    let call = |call_id: &str, start_ms| {
        Submission::State(vec![
            StateChange::PutCallRecord(common::spec::record(call_id, start_ms)),
            StateChange::PutDialog(Box::new(common::spec::internal(call_id, start_ms))),
        ])
    };
    let submissions = [call("c1", 1_000), call("refused", 2_000), call("c3", 3_000)];
    let results = store
        .apply_submissions(&submissions.iter().collect::<Vec<_>>())
        .unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::Postgres(_))),
        "{results:?}"
    );
    assert!(results[2].is_ok(), "{results:?}");
    let records: Vec<String> = store
        .call_records(&RecordQuery::default())
        .unwrap()
        .into_iter()
        .map(|record| record.call_id)
        .collect();
    assert_eq!(records, ["c1", "c3"]);
    let dialogs: Vec<String> = store
        .load_state()
        .unwrap()
        .dialogs
        .into_iter()
        .map(|dialog| dialog.call_id)
        .collect();
    assert_eq!(dialogs, ["c1", "c3"]);
}
