//! Hold and resume through `switchboard serve` between two baresip 1.0
//! phones (Debian package `baresip`): the re-INVITEs of alice's `hold`
//! and `resume` pass the proxy in the dialog and are answered 200 on both
//! sides, the SDP direction goes to sendonly and back, and the call goes
//! on until alice hangs up.
//!
//! Every child is killed by PID when its test ends (a guard), every wait
//! is bounded, ports are random, data directories temporary.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// How many `SIP/2.0 200` for an INVITE (its CSeq) a baresip SIP trace
/// holds, sent or received.
fn invite_200s(log: &str) -> usize {
    log.split("SIP/2.0 200 ")
        .skip(1)
        .filter(|rest| {
            // The log has CR turned into LF: blank lines between headers.
            rest.lines()
                .filter(|l| !l.trim().is_empty())
                .take(12)
                .any(|l| l.to_ascii_lowercase().starts_with("cseq:") && l.ends_with("INVITE"))
        })
        .count()
}

/// How many INVITEs with this SDP direction attribute a trace holds.
fn invites_with(log: &str, direction: &str) -> usize {
    log.split("INVITE sip:")
        .skip(1)
        .filter(|rest| {
            let end = rest.find("SIP/2.0 ").unwrap_or(rest.len());
            rest.get(..end).is_some_and(|m| m.contains(direction))
        })
        .count()
}

#[test]
fn baresip_hold_and_resume_pass_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(
        &data,
        &[("alice", "alice-Secret-1"), ("bob", "bob-Secret-2")],
    );
    let server = switchboard().serve(&data).config(NO_RATE_LIMIT).start();
    let phone = |user: &str, password: &str, tone: f64| {
        Baresip::builder(dir.path(), user)
            .registrar(server.port, "udp", password)
            .tone(tone)
            .auto_answer()
            .start()
    };
    let mut alice = phone("alice", "alice-Secret-1", 440.0);
    let bob = phone("bob", "bob-Secret-2", 880.0);
    let registered = |user: &str| server.is_registered(&format!("sip:{user}@127.0.0.1"));
    assert!(
        wait_for(s(15), || registered("alice") && registered("bob")),
        "baresip did not register in 15 s\n{}\n{}",
        alice.report(),
        bob.report()
    );

    alice.command("dial", "sip:bob@127.0.0.1");
    assert!(
        bob.wait_event("CALL_ESTABLISHED", s(20)) && alice.wait_event("CALL_ESTABLISHED", s(10)),
        "no call\n{}\n--- bob:\n{}\n--- server:\n{}",
        alice.report(),
        bob.report(),
        server.log_text()
    );
    assert!(
        alice.wait_event("CALL_RTPESTAB", s(8)),
        "{}",
        alice.report()
    );
    assert!(
        wait_for(s(5), || invite_200s(&alice.log()) >= 1),
        "{}",
        alice.log()
    );

    // Hold (sendonly), then resume (sendrecv again): each re-INVITE
    // reaches bob and its 200 reaches alice.
    for (command, direction, answers) in [("hold", "a=sendonly", 2), ("resume", "a=sendrecv", 3)] {
        alice.command(command, "");
        let passed = wait_for(s(10), || {
            invite_200s(&alice.log()) >= answers && invite_200s(&bob.log()) >= answers
        });
        assert!(
            passed,
            "{command}: the re-INVITE answered 200 on both sides\n--- alice:\n{}\n--- bob:\n{}\n--- server:\n{}",
            alice.log(),
            bob.log(),
            server.log_text()
        );
        // The initial INVITE offered sendrecv too.
        let offers = if direction == "a=sendrecv" { 2 } else { 1 };
        assert!(
            invites_with(&bob.log(), direction) >= offers,
            "{command}: bob got the {direction} offer\n{}",
            bob.log()
        );
    }

    alice.command("hangup", "");
    assert!(
        bob.wait_event("CALL_CLOSED", s(10)),
        "the call went on until the BYE\n{}",
        bob.report()
    );
    drop(alice);
    drop(bob);
}
