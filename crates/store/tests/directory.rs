//! The users the server holds in memory follow the store: changes made
//! through another connection (the `user` command in another process) show
//! in the next snapshot; binding writes do not make it reload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

// The bodies shared with the PostgreSQL back end (tests/postgres.rs).
common::backend_tests!(common::spec::Sqlite::new();
    the_directory_reloads_only_when_users_change,
    only_the_changed_users_are_read_since_a_version,
    a_version_the_log_does_not_reach_needs_the_full_read,
    every_user_is_read_into_the_servers_directory,
    the_change_log_keeps_the_last_100000_changes,
);
