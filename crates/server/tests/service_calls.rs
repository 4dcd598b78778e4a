//! The calls the server routes, as busy-lamp fields and pickup see them
//! (`Service::calls`), on a virtual clock: alice calls bob, bob's phone
//! rings, answers, alice hangs up.
// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod service_harness;

use service_harness::{Phone, Server};
use switchboard_proto::Method;
use switchboard_server::Aor;
use switchboard_server::bodies::{DialogState, Direction};

fn states(h: &Server, aor: &Aor) -> Vec<DialogState> {
    h.service
        .calls()
        .dialogs_of(aor)
        .into_iter()
        .map(|d| d.state)
        .collect()
}

#[test]
fn a_call_lights_both_users_lamps_until_it_ends() {
    let mut h = Server::new();
    let mut bob = Phone::new("bob", "198.51.100.20:5060");
    h.register(&mut bob, 600);
    let mut alice = Phone::new("alice", "198.51.100.10:5060");
    let (alice_aor, bob_aor) = (
        Aor::new("alice", "example.com").unwrap(),
        Aor::new("bob", "example.com").unwrap(),
    );

    let password = h.password(&alice);
    h.authenticate(&mut alice, &password, |p| {
        p.call(Method::Invite, "sip:bob@example.com")
    });
    let (_, invite) = h.take_requests().remove(0);
    assert_eq!(states(&h, &bob_aor), [DialogState::Trying]);

    h.respond(&bob, &invite, 180);
    let ringing = h.service.calls().dialogs_of(&bob_aor);
    assert_eq!(ringing.len(), 1);
    let lamp = &ringing[0];
    assert_eq!(lamp.state, DialogState::Early);
    assert_eq!(lamp.direction, Direction::Recipient);
    assert_eq!(lamp.remote_identity, "sip:alice@example.com");
    assert_eq!(lamp.local_tag.as_deref(), Some("bob-tag"));
    let call_id = invite.headers().call_id().unwrap();
    assert_eq!(lamp.call_id, call_id);
    assert_eq!(
        h.service.calls().dialogs_of(&alice_aor)[0].direction,
        Direction::Initiator
    );

    // A pickup of the ringing call, named as bob's lamp shows it, goes to
    // alice's phone.
    let alice_tag = invite.headers().from_tag().unwrap();
    let pickup = h
        .service
        .calls()
        .replaces_target(call_id, "bob-tag", alice_tag)
        .unwrap();
    assert_eq!(pickup.source.remote, alice.addr);
    assert!(pickup.early);

    let ok = h.respond(&bob, &invite, 200);
    assert_eq!(states(&h, &bob_aor), [DialogState::Confirmed]);
    let ok_at_alice = h.final_response(&alice);
    assert_eq!(ok_at_alice.status(), ok.status());

    let bye = alice.in_dialog(Method::Bye, &ok_at_alice).build().unwrap();
    h.send(&alice, bye);
    let hung_up = DialogState::Terminated {
        reason: Some("remote-bye".to_owned()),
        code: None,
    };
    assert_eq!(states(&h, &bob_aor), [hung_up]);
}
