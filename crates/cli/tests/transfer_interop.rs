//! Call transfer through `switchboard serve` with real phones, all
//! registered over UDP with digest authentication:
//!
//! * attended (RFC 5589 §7, Replaces RFC 3891) with three linphonec
//!   (liblinphone 5.1): bob calls alice, puts her on hold, calls carol,
//!   then transfers alice to carol's call (`transfer 1 --to-call 2`):
//!   alice's INVITE with Replaces reaches carol's phone, carol's call with
//!   bob is replaced and ends, alice and carol talk;
//! * blind (RFC 3515 REFER) with three baresip 1.0 as
//!   shared/interop/transfer.sh does: alice calls bob, bob transfers her
//!   to carol, carol answers alice's new call, bob's call ends.
//!
//! The call records say which calls were handed on (`transferred`) and
//! keep the new call as its own record. Every child is killed by PID when
//! the test ends, every wait is bounded, ports are random, data
//! directories temporary.

// Test code: a failed unwrap or index is a failed test, which is what we want.
// (The common module's helpers panic and expect as well.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

const fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

const USERS: [(&str, &str); 3] = [
    ("alice", "alice-Secret-1"),
    ("bob", "bob-Secret-2"),
    ("carol", "carol-Secret-3"),
];

/// The three users in a new store under `dir` and `serve` on it: the
/// store's folder and the server.
fn serve(dir: &std::path::Path) -> (PathBuf, Server) {
    let data = dir.join("data");
    switchboard().add_users(&data, &USERS);
    let server = switchboard().serve(&data).config(NO_RATE_LIMIT).start();
    (data, server)
}

/// Waits (15 s at most) until the three users are registered.
fn wait_registered(server: &Server) {
    let registered = |user: &str| server.is_registered(&format!("sip:{user}@127.0.0.1"));
    assert!(
        wait_for(s(15), || USERS.iter().all(|(u, _)| registered(u))),
        "not registered in 15 s: {:?}\n--- server:\n{}",
        server.registrations(),
        server.log_text()
    );
}

/// A failure message: `what`, the phones' reports (alice, bob, carol) and
/// the server's log.
fn failure(what: &str, server: &Server, [alice, bob, carol]: [String; 3]) -> String {
    format!(
        "{what}\n--- alice:\n{alice}\n--- bob:\n{bob}\n--- carol:\n{carol}\n--- server:\n{}",
        server.log_text()
    )
}

/// The disposition of the one record of a call from `caller` to `callee`
/// (user names).
fn disposition(records: &[serde_json::Value], caller: &str, callee: &str) -> String {
    let matching: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| {
            r["caller"] == format!("sip:{caller}@127.0.0.1")
                && r["callee"] == format!("sip:{callee}@127.0.0.1")
        })
        .collect();
    assert_eq!(matching.len(), 1, "{caller} to {callee}: {records:#?}");
    matching[0]["disposition"].as_str().unwrap().to_owned()
}

#[test]
fn linphonec_attended_transfer_replaces_the_call_on_carols_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (data, server) = serve(dir.path());
    let port = server.port;
    let [(a, a_pw), (b, b_pw), (c, c_pw)] = USERS;
    let mut alice = Linphonec::start_with_tcp(dir.path(), a, a_pw, port, 440.0);
    let mut bob = Linphonec::start_with_tcp(dir.path(), b, b_pw, port, 880.0);
    let carol = Linphonec::start_with_tcp(dir.path(), c, c_pw, port, 660.0);
    wait_registered(&server);
    let report = |what: &str, alice: &Linphonec, bob: &Linphonec, carol: &Linphonec| {
        failure(
            what,
            &server,
            [alice.report(), bob.report(), carol.report()],
        )
    };

    // Bob's call 1 to alice (auto-answered), on hold; his call 2 to carol.
    bob.command("call sip:alice@127.0.0.1");
    assert!(
        wait_for(s(15), || bob.calls("connected") >= 1
            && alice.calls("connected") >= 1),
        "{}",
        report("bob-alice not connected", &alice, &bob, &carol)
    );
    bob.command("pause 1");
    assert!(
        wait_for(s(10), || bob.out().contains("is now paused")),
        "{}",
        report("bob's call to alice not paused", &alice, &bob, &carol)
    );
    bob.command("call sip:carol@127.0.0.1");
    assert!(
        wait_for(s(15), || bob.calls("connected") >= 2
            && carol.calls("connected") >= 1),
        "{}",
        report("bob-carol not connected", &alice, &bob, &carol)
    );

    // The attended transfer: alice's INVITE with Replaces goes to carol's
    // phone, which swaps bob's call for alice's.
    bob.command("transfer 1 --to-call 2");
    let alice_with_carol = |alice: &Linphonec| {
        alice.out().lines().any(|l| {
            l.starts_with("Call 2 with <sip:carol@127.0.0.1?Replaces=") && l.ends_with("connected.")
        })
    };
    assert!(
        wait_for(s(15), || alice_with_carol(&alice)
            && carol.out().contains(
                "Call 2 with \"alice\" <sip:alice@127.0.0.1> connected."
            )),
        "{}",
        report("alice-carol not connected", &alice, &bob, &carol)
    );
    assert!(
        wait_for(s(15), || bob.calls("ended") >= 2
            && carol.calls("ended") >= 1),
        "{}",
        report(
            "bob's calls did not end (the replaced one and the referred one)",
            &alice,
            &bob,
            &carol
        )
    );

    // Alice and carol talk a moment; alice hangs up.
    std::thread::sleep(s(2));
    alice.command("terminate all");
    assert!(
        wait_for(s(10), || carol.calls("ended") >= 2),
        "{}",
        report("carol did not see alice's BYE", &alice, &bob, &carol)
    );

    let records = ended_records(&data, 3);
    assert_eq!(disposition(&records, b, a), "transferred", "{records:#?}");
    assert_eq!(disposition(&records, b, c), "transferred", "{records:#?}");
    assert_eq!(disposition(&records, a, c), "answered", "{records:#?}");
    alice.quit();
    bob.quit();
    carol.quit();
    drop(server);
}

#[test]
fn baresip_blind_transfer_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (data, server) = serve(dir.path());
    let phone = |(user, password): (&str, &str), hz: f64| {
        Baresip::builder(dir.path(), user)
            .registrar(server.port, "udp", password)
            .tone(hz)
            .auto_answer()
            .start()
    };
    let mut alice = phone(USERS[0], 440.0);
    let mut bob = phone(USERS[1], 880.0);
    let carol = phone(USERS[2], 660.0);
    wait_registered(&server);
    let report = |what: &str, alice: &Baresip, bob: &Baresip, carol: &Baresip| {
        failure(
            what,
            &server,
            [alice.report(), bob.report(), carol.report()],
        )
    };

    alice.command("dial", "sip:bob@127.0.0.1");
    assert!(
        bob.wait_event("CALL_ESTABLISHED", s(15)) && alice.wait_event("CALL_ESTABLISHED", s(5)),
        "{}",
        report("alice-bob not established", &alice, &bob, &carol)
    );
    assert!(
        bob.wait_event("CALL_RTPESTAB", s(8)),
        "{}",
        report("bob receives no RTP from alice", &alice, &bob, &carol)
    );

    let established = alice.event_count("CALL_ESTABLISHED");
    bob.command("transfer", "sip:carol@127.0.0.1");
    assert!(
        carol.wait_event("CALL_ESTABLISHED", s(15))
            && alice.wait_event_after("CALL_ESTABLISHED", established, s(5)),
        "{}",
        report(
            "carol did not answer alice's new call",
            &alice,
            &bob,
            &carol
        )
    );
    assert!(
        bob.wait_event("CALL_CLOSED", s(10)),
        "{}",
        report(
            "bob's call did not end after the transfer",
            &alice,
            &bob,
            &carol
        )
    );
    assert!(
        carol.wait_event("CALL_RTPESTAB", s(8)),
        "{}",
        report("carol receives no RTP from alice", &alice, &bob, &carol)
    );
    // bob's REFER was accepted by alice through the server, and the new
    // INVITE was alice's own (challenged: she is a local user).
    assert!(
        bob.log().contains("SIP/2.0 202 "),
        "{}",
        report("no 202 for the REFER", &alice, &bob, &carol)
    );

    let closed = alice.event_count("CALL_CLOSED");
    alice.command("hangup", "");
    assert!(
        alice.wait_event_after("CALL_CLOSED", closed, s(10))
            && carol.wait_event("CALL_CLOSED", s(10)),
        "{}",
        report("alice-carol did not end", &alice, &bob, &carol)
    );
    let records = ended_records(&data, 2);
    assert_eq!(disposition(&records, "alice", "bob"), "transferred");
    assert_eq!(disposition(&records, "alice", "carol"), "answered");
    drop((alice, bob, carol, server));
}
