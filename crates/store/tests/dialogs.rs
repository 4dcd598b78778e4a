//! Dialog records (the calls in progress) in SQLite: the shared bodies in
//! `common/spec/dialogs.rs` (PostgreSQL runs them too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a failed unwrap is the test failing

mod common;

common::backend_tests!(common::spec::Sqlite::new();
    dialogs_round_trip_are_replaced_removed_and_survive_reopen,
    the_committer_writes_and_removes_dialogs_durably,
    a_batch_keeps_the_last_change_of_each_call_and_dialog,
    an_unstorable_dialog_is_refused_and_nothing_is_written,
    a_damaged_dialog_row_is_reported_not_a_panic,
);
