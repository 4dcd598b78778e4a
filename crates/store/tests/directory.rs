//! The users the server holds in memory follow the store: changes made
//! through another connection (the `user` command in another process) show
//! in the next snapshot; binding writes do not make it reload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use switchboard_server::service::UserSnapshot;
use switchboard_store::{BindingChange, BindingStore, Ha1Set, SqliteStore, User, UserStore};

fn user(name: &str, password: &str) -> User {
    User {
        name: name.into(),
        domain: "example.com".into(),
        ha1: Ha1Set::from_password(name, "example.com", password),
        created_unix: 1,
    }
}

/// What the server holds: the latest snapshot.
struct Users(UserSnapshot);

impl Users {
    fn refresh(&mut self, store: &SqliteStore) -> bool {
        match store.user_snapshot_since(self.0.version).unwrap() {
            Some(snapshot) => {
                self.0 = snapshot;
                true
            }
            None => false,
        }
    }

    fn get(&self, name: &str, domain: &str) -> Option<&User> {
        self.0
            .users
            .iter()
            .find(|u| u.name == name && u.domain == domain)
    }

    fn len(&self) -> usize {
        self.0.users.len()
    }
}

#[test]
fn the_directory_reloads_only_when_users_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = SqliteStore::open(dir.path()).unwrap();
    server.add_user(&user("alice", "a")).unwrap();
    let mut users = Users(server.user_snapshot().unwrap());
    assert_eq!(users.len(), 1);
    let alice = users.get("alice", "example.com").unwrap();
    assert_eq!(
        alice.ha1,
        Ha1Set::from_password("alice", "example.com", "a")
    );
    assert!(users.get("alice", "other.com").is_none());
    assert!(users.get("bob", "example.com").is_none());
    assert!(!users.refresh(&server), "nothing changed");

    // Bindings written by the server do not touch the users.
    server
        .apply(&[BindingChange::Upsert(common::binding(
            "sip:alice@example.com",
            "sip:a@192.0.2.1",
            1,
        ))])
        .unwrap();
    assert!(!users.refresh(&server));

    // Another process adds, changes and removes users.
    let cli = SqliteStore::open(dir.path()).unwrap();
    cli.add_user(&user("bob", "b")).unwrap();
    assert!(users.refresh(&server));
    assert_eq!(users.len(), 2);
    assert!(users.get("bob", "example.com").is_some());

    let new = Ha1Set::from_password("alice", "example.com", "new");
    cli.set_ha1("alice", "example.com", &new).unwrap();
    assert!(users.refresh(&server));
    assert_eq!(users.get("alice", "example.com").unwrap().ha1, new);

    cli.remove_user("bob", "example.com").unwrap();
    assert!(users.refresh(&server));
    assert!(users.get("bob", "example.com").is_none());
    assert_eq!(users.len(), 1);
    assert!(!users.refresh(&server));
}
