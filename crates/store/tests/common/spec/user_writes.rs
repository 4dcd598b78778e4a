//! Users changed through the admin API on every back end: writes all or
//! nothing, a removed user's bindings gone with it, users read a page at a
//! time and by name.

use switchboard_server::service::UserChange;
use switchboard_store::{
    AnyStore, BindingChange, BindingStore, Ha1Set, StoreError, User, UserStore, UserWrite,
};

use super::Backend;
use crate::common::{aor, binding};

fn user(name: &str) -> User {
    User::with_password(name, "Example.com", "pw", 1_700_000_000)
}

fn binding_count(store: &AnyStore, uri: &str) -> usize {
    store.bindings_for(&aor(uri)).unwrap().len()
}

fn remove(name: &str) -> UserWrite {
    UserWrite::Remove {
        name: name.into(),
        domain: "Example.com".into(),
    }
}

pub fn user_writes_are_all_or_nothing_and_a_removed_user_loses_its_bindings(
    backend: &impl Backend,
) {
    let store = backend.open();
    store
        .write_users(&[UserWrite::Add(user("alice")), UserWrite::Add(user("bob"))])
        .unwrap();
    for (id, uri) in [(1, "sip:alice@example.com"), (2, "sip:bob@example.com")] {
        store
            .apply(&[BindingChange::Upsert(binding(
                uri,
                "sip:x@192.0.2.1:5060",
                id,
            ))])
            .unwrap();
    }
    // Carol is new, alice exists: nothing is written.
    let refused =
        store.write_users(&[UserWrite::Add(user("carol")), UserWrite::Add(user("alice"))]);
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert!(store.get_user("carol", "Example.com").unwrap().is_none());
    // Bob is removed with his binding; a missing user fails the whole.
    let missing = store.write_users(&[remove("bob"), remove("dave")]);
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(binding_count(&store, "sip:bob@example.com"), 1);
    store.write_users(&[remove("bob")]).unwrap();
    assert!(store.get_user("bob", "Example.com").unwrap().is_none());
    assert_eq!(binding_count(&store, "sip:bob@example.com"), 0);
    assert_eq!(binding_count(&store, "sip:alice@example.com"), 1);
    let ha1 = Ha1Set::from_password("alice", "Example.com", "new");
    store
        .write_users(&[UserWrite::SetHa1 {
            name: "alice".into(),
            domain: "Example.com".into(),
            ha1: ha1.clone(),
        }])
        .unwrap();
    assert_eq!(
        store.get_user("alice", "Example.com").unwrap().unwrap().ha1,
        ha1
    );
    // An unstorable user is refused as the request's fault.
    let mut bad = user("eve");
    bad.name = "eve\r\nVia: x".into();
    let invalid = store.write_users(&[UserWrite::Add(bad)]);
    assert!(
        matches!(invalid, Err(StoreError::InvalidInput(_))),
        "{invalid:?}"
    );
    assert_eq!(
        store
            .users_named("alice", Some("example.COM"))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.users_named("alice", None).unwrap().len(), 1);
}

pub fn users_are_read_a_page_at_a_time_in_domain_and_name_order(backend: &impl Backend) {
    let store = backend.open();
    let mut users = Vec::new();
    for (name, domain) in [
        ("b", "a.org"),
        ("a", "b.org"),
        ("a", "a.org"),
        ("c", "a.org"),
    ] {
        users.push(UserWrite::Add(User::with_password(name, domain, "pw", 1)));
    }
    store.write_users(&users).unwrap();
    let names = |page: Vec<User>| -> Vec<String> {
        page.into_iter()
            .map(|u| format!("{}@{}", u.name, u.domain))
            .collect()
    };
    assert_eq!(
        names(store.users_page(None, 2).unwrap()),
        ["a@a.org", "b@a.org"]
    );
    assert_eq!(
        names(store.users_page(Some(("a.org", "b")), 5).unwrap()),
        ["c@a.org", "a@b.org"]
    );
    assert!(
        store
            .users_page(Some(("b.org", "a")), 5)
            .unwrap()
            .is_empty()
    );
}

pub fn a_users_groups_are_stored_replaced_and_read_back_sorted(backend: &impl Backend) {
    let store = backend.open();
    let mut alice = user("alice");
    alice.groups = vec!["sales".into(), "staff".into()];
    store
        .write_users(&[UserWrite::Add(alice.clone()), UserWrite::Add(user("bob"))])
        .unwrap();
    let set_groups = |name: &str, groups: &[&str]| UserWrite::SetGroups {
        name: name.into(),
        domain: "Example.com".into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    };
    store
        .write_users(&[set_groups("bob", &["staff", "night-shift", "staff"])])
        .unwrap();
    let reopened = backend.open();
    let groups = |name: &str| {
        reopened
            .get_user(name, "Example.com")
            .unwrap()
            .unwrap()
            .groups
    };
    assert_eq!(groups("alice"), ["sales", "staff"]);
    assert_eq!(groups("bob"), ["night-shift", "staff"], "sorted, once each");
    // The changes the server reads carry them.
    let delta = reopened.user_changes_since(0).unwrap().unwrap();
    let bob = delta
        .changes
        .iter()
        .find_map(|change| match change {
            UserChange::Stored(user) if user.name == "bob" => Some(user),
            _ => None,
        })
        .unwrap();
    assert_eq!(bob.groups, ["night-shift", "staff"]);
    // Replaced as a whole; emptied; a missing user or a bad name refused.
    store.write_users(&[set_groups("alice", &[])]).unwrap();
    assert!(groups("alice").is_empty());
    let missing = store.write_users(&[set_groups("carol", &["staff"])]);
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    for bad in ["a,b", "", "two words"] {
        let refused = store.write_users(&[set_groups("bob", &[bad])]);
        assert!(
            matches!(refused, Err(StoreError::InvalidInput(_))),
            "{bad:?}: {refused:?}"
        );
    }
    assert_eq!(groups("bob"), ["night-shift", "staff"]);
}
