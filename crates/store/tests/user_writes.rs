//! Users changed through the admin API in SQLite: the shared bodies in
//! `common/spec/user_writes.rs` (PostgreSQL runs them too).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a failed unwrap is the test failing

mod common;

common::backend_tests!(common::spec::Sqlite::new();
    user_writes_are_all_or_nothing_and_a_removed_user_loses_its_bindings,
    users_are_read_a_page_at_a_time_in_domain_and_name_order,
    a_users_groups_are_stored_replaced_and_read_back_sorted,
);
