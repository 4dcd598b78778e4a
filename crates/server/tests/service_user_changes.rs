//! User changes reach a running server as a delta (issue 15): the runtime
//! answers `Effect::CheckUsers` with only the users the store's change log
//! names since the version the service holds; an added user registers with
//! no store lookup, a new password counts and the old one no longer does,
//! a removed user is refused without a store read.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use std::time::Duration;

use service_harness::{DOMAIN, Phone, Server, UNIX0};
use switchboard_proto::StatusCode;
use switchboard_server::service::{Completion, Effect, UserDirectory};
use switchboard_server::storage::User;

const S: Duration = Duration::from_secs(1);

fn lookups_of(h: &Server, who: &str) -> usize {
    h.effects
        .iter()
        .filter(|(_, e)| matches!(e, Effect::LookupUser { name, .. } if name == who))
        .count()
}

#[test]
fn a_user_added_changed_and_removed_reaches_the_service_through_the_delta() {
    let mut h = Server::with(|c| c.users_refresh = S);

    // Added in the store (`user add`), then the next check.
    h.set_user("dave", "dave-pw");
    h.run_for(S);
    let mut dave = Phone::new("dave", "198.51.100.14:5060");
    let added = h.authenticated(&mut dave, "dave-pw", |p| p.register(600));
    assert_eq!(added.status(), StatusCode::OK);
    assert_eq!(lookups_of(&h, "dave"), 0, "known from the delta");
    assert_eq!(h.service.user_count(), 4);

    // Changed (`user passwd`): the new password counts, the old does not.
    h.set_user("bob", "new-pw");
    h.run_for(S);
    let mut bob = Phone::new("bob", "198.51.100.11:5060");
    let new = h.authenticated(&mut bob, "new-pw", |p| p.register(600));
    assert_eq!(new.status(), StatusCode::OK);
    let old = h.authenticated(&mut bob, "bob-pw", |p| p.register(600));
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);

    // Removed (`user remove`): refused, and known missing (no lookup).
    h.remove_user("carol");
    h.run_for(S);
    let mut carol = Phone::new("carol", "198.51.100.12:5060");
    let removed = h.authenticated(&mut carol, "carol-pw", |p| p.register(600));
    assert_eq!(removed.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(lookups_of(&h, "carol"), 0);
    assert_eq!(h.service.user_count(), 3);
    assert_eq!(h.service.users_version(), h.users_version);

    // The others are untouched.
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let kept = h.authenticated(&mut alice, "alice-pw", |p| p.register(600));
    assert_eq!(kept.status(), StatusCode::OK);
}

#[test]
fn a_name_found_missing_is_forgotten_when_the_delta_adds_it() {
    let mut h = Server::with(|c| c.users_refresh = S);
    let mut eve = Phone::new("eve", "198.51.100.13:5060");
    let absent = h.authenticated(&mut eve, "eve-pw", |p| p.register(600));
    assert_eq!(absent.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(lookups_of(&h, "eve"), 1);

    h.set_user("eve", "eve-pw");
    h.run_for(S);
    let added = h.authenticated(&mut eve, "eve-pw", |p| p.register(600));
    assert_eq!(added.status(), StatusCode::OK);
    assert_eq!(
        lookups_of(&h, "eve"),
        1,
        "no second lookup: the delta had her"
    );
}

#[test]
fn a_directory_built_off_the_driver_replaces_the_one_held() {
    let mut h = Server::new();
    // Every user read again (the change log was pruned past the version
    // held), built into a directory by the runtime: dave is new, carol gone.
    let users = ["alice", "bob", "dave"]
        .map(|name| User::with_password(name, DOMAIN, &format!("{name}-pw"), UNIX0));
    let directory = UserDirectory::from_users(9, users);
    h.command(|service, now, ep| {
        service.handle_completion(now, ep, Completion::UserDirectory(Box::new(directory)));
    });
    assert_eq!(h.service.users_version(), 9);
    assert_eq!(h.service.user_count(), 3);
    let mut dave = Phone::new("dave", "198.51.100.14:5060");
    let added = h.authenticated(&mut dave, "dave-pw", |p| p.register(600));
    assert_eq!(added.status(), StatusCode::OK);
    assert_eq!(lookups_of(&h, "dave"), 0);
}
