//! What the operator removes through the admin API: a user's bindings
//! (or one of them), out of the registrar at once, the removals returned
//! for the store, the registration's watchers told.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use service_harness::{Phone, Server};
use switchboard_proto::StatusCode;
use switchboard_server::registrar::BindingChange;

/// The AORs of the live bindings.
fn registered(h: &mut Server) -> Vec<String> {
    let mut aors = Vec::new();
    h.command(|service, now, _| {
        aors = service
            .registrar()
            .bindings(now.unix())
            .map(|b| b.aor.to_string())
            .collect();
    });
    aors.sort();
    aors
}

#[test]
fn a_users_bindings_are_removed_and_returned_for_the_store() {
    let (mut h, mut alice, bob) = Server::with_bob();
    h.register(&mut alice, 3600);
    let mut second = Phone::new("alice", "198.51.100.30:5060");
    h.register(&mut second, 3600);
    assert_eq!(registered(&mut h).len(), 3);

    // One contact of alice's only.
    let mut removed = Vec::new();
    h.command(|service, now, ep| {
        removed = service.remove_bindings(now, ep, |b| {
            b.aor.user() == "alice" && b.contact.contains("198.51.100.30")
        });
    });
    assert_eq!(removed.len(), 1);
    assert!(
        matches!(&removed[0], BindingChange::Remove { aor, .. } if aor.user() == "alice"),
        "{removed:?}"
    );
    assert_eq!(registered(&mut h).len(), 2);

    // Then all of hers: bob's stays, and calls to her find no device.
    h.command(|service, now, ep| {
        removed = service.remove_bindings(now, ep, |b| b.aor.user() == "alice");
    });
    assert_eq!(removed.len(), 1);
    assert_eq!(registered(&mut h), [bob.aor().trim_start_matches("sip:")]);
    let mut caller = Phone::new("bob", "198.51.100.20:5060");
    let uri = alice.aor();
    let refused = h.invite_answer(&mut caller, &uri);
    assert_eq!(refused.status(), StatusCode::TEMPORARILY_UNAVAILABLE);
    // Nothing left to remove.
    h.command(|service, now, ep| {
        removed = service.remove_bindings(now, ep, |b| b.aor.user() == "alice");
    });
    assert!(removed.is_empty());
}
