//! The users' change log: a running server reads only the users changed
//! since the version it holds (issue 15), removals included; the full
//! read stays for a version the log no longer reaches.

use switchboard_server::service::{UserChange, UserDelta};

use super::{Backend, directory_user};
use switchboard_store::{AnyStore, Ha1Set, User, UserStore};

/// The changes of `delta` as `name@domain stored|removed`, sorted.
fn summary(delta: &UserDelta) -> Vec<String> {
    let mut out: Vec<String> = delta
        .changes
        .iter()
        .map(|change| match change {
            UserChange::Stored(user) => format!("{}@{} stored", user.name, user.domain),
            UserChange::Removed { name, domain } => format!("{name}@{domain} removed"),
            other => format!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

fn delta(store: &AnyStore, since: u64) -> UserDelta {
    store
        .user_changes_since(since)
        .unwrap()
        .expect("the change log reaches back")
}

pub fn only_the_changed_users_are_read_since_a_version(backend: &impl Backend) {
    let server = backend.open();
    let cli = backend.open();
    for name in ["alice", "bob", "carol"] {
        cli.add_user(&directory_user(name, "pw")).unwrap();
    }
    let start = server.users_version().unwrap();
    let unchanged = delta(&server, start);
    assert_eq!(unchanged.version, start);
    assert!(unchanged.changes.is_empty());

    // Another process adds one, changes one, removes one.
    cli.add_user(&directory_user("dave", "pw")).unwrap();
    let new = Ha1Set::from_password("alice", "example.com", "new");
    cli.set_ha1("alice", "example.com", &new).unwrap();
    cli.remove_user("bob", "example.com").unwrap();
    let changes = delta(&server, start);
    assert_eq!(changes.since, start);
    assert_eq!(changes.version, server.users_version().unwrap());
    assert!(changes.version > start);
    assert_eq!(
        summary(&changes),
        [
            "alice@example.com stored",
            "bob@example.com removed",
            "dave@example.com stored"
        ]
    );
    // The user as stored now: the new HA1.
    let alice = changes.changes.iter().find_map(|change| match change {
        UserChange::Stored(user) if user.name == "alice" => Some(user),
        _ => None,
    });
    assert_eq!(alice.unwrap().ha1, new);

    // From a later version: only what changed after it, each user once
    // however often it changed.
    let later = changes.version;
    cli.set_ha1("dave", "example.com", &new).unwrap();
    cli.set_ha1("dave", "example.com", &new).unwrap();
    cli.add_user(&directory_user("bob", "again")).unwrap();
    assert_eq!(
        summary(&delta(&server, later)),
        ["bob@example.com stored", "dave@example.com stored"]
    );
}

pub fn a_version_the_log_does_not_reach_needs_the_full_read(backend: &impl Backend) {
    let store = backend.open();
    store.add_user(&directory_user("alice", "pw")).unwrap();
    let version = store.users_version().unwrap();
    // The log pruned (as the trigger does 100,000 changes on): a server
    // holding a version before the oldest change reads every user.
    backend.execute("DELETE FROM user_changes");
    store.add_user(&directory_user("bob", "pw")).unwrap();
    assert_eq!(store.user_changes_since(0).unwrap(), None);
    assert_eq!(
        store
            .user_changes_since(version)
            .unwrap()
            .map(|d| d.changes.len()),
        Some(1),
        "the change after the one pruned is still there"
    );
    // A version ahead of the store (a new database): read everything.
    assert_eq!(store.user_changes_since(version + 100).unwrap(), None);
}

pub fn the_change_log_keeps_the_last_100000_changes(backend: &impl Backend) {
    let store = backend.open();
    let before = store.users_version().unwrap();
    let template = directory_user("u", "pw");
    let users: Vec<_> = (0..100_001)
        .map(|i| User {
            name: format!("u{i}"),
            ..template.clone()
        })
        .collect();
    store.import_users(&users).unwrap();
    assert_eq!(store.users_version().unwrap(), before + 100_001);
    // The first of the 100,001 changes is gone: a server that held the
    // version before it reads every user; one that saw it reads a delta.
    assert_eq!(store.user_changes_since(before).unwrap(), None);
    let delta = store.user_changes_since(before + 1).unwrap().unwrap();
    assert_eq!(delta.changes.len(), 100_000);
}

pub fn every_user_is_read_into_the_servers_directory(backend: &impl Backend) {
    let store = backend.open();
    for name in ["alice", "bob", "carol"] {
        store.add_user(&directory_user(name, name)).unwrap();
    }
    store.remove_user("bob", "example.com").unwrap();
    let directory = store.user_directory().unwrap();
    assert_eq!(directory.version(), store.users_version().unwrap());
    assert_eq!(directory.len(), 2);
    assert_eq!(
        directory.ha1("carol", "example.com"),
        Some(&Ha1Set::from_password("carol", "example.com", "carol"))
    );
    assert_eq!(directory.ha1("bob", "example.com"), None);
}
