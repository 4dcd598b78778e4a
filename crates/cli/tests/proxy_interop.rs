//! Calls through `switchboard serve` between real third-party phones:
//! two baresip 1.0 instances (Debian package `baresip`) register with
//! digest authentication and call each other with audio, over UDP and
//! over TLS (a self-signed certificate made with rcgen; baresip checks
//! none). Over TLS baresip accepts no connection of its own, so the call
//! reaches the callee only down the connection it registered on.
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

/// alice calls bob through the server over `transport`; bob answers
/// automatically; RTP flows both ways; alice hangs up; both see the end.
fn baresip_call(transport: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(
        &data,
        &[("alice", "alice-Secret-1"), ("bob", "bob-Secret-2")],
    );
    let mut serve = switchboard().serve(&data).config(NO_RATE_LIMIT);
    let mut port_of = None;
    if transport == "tls" {
        let (cert, key) = self_signed(dir.path());
        let tls = free_port();
        port_of = Some(tls);
        serve = serve
            .listen(&format!("tls:127.0.0.1:{tls}"))
            .certificate(&cert, &key);
    }
    let server = serve.start();
    let port = port_of.unwrap_or(server.port);
    let phone = |user: &str, password: &str, tone: f64| {
        Baresip::builder(dir.path(), user)
            .registrar(port, transport, password)
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
    if transport == "tls" {
        let listed = server.registrations().join("\n");
        assert!(listed.contains("source=tls:127.0.0.1:"), "{listed}");
    }

    alice.command("dial", "sip:bob@127.0.0.1");
    assert!(
        bob.wait_event("CALL_ESTABLISHED", s(20)),
        "bob: no call\n{}\n--- alice:\n{}\n--- server:\n{}",
        bob.report(),
        alice.report(),
        server.log_text()
    );
    assert!(
        alice.wait_event("CALL_ESTABLISHED", s(10)),
        "alice: no call\n{}",
        alice.report()
    );
    // Audio both ways: each side receives RTP from the other.
    assert!(
        alice.wait_event("CALL_RTPESTAB", s(8)),
        "alice receives no RTP\n{}",
        alice.report()
    );
    assert!(
        bob.wait_event("CALL_RTPESTAB", s(8)),
        "bob receives no RTP\n{}",
        bob.report()
    );
    // The call's length: a second of audio (no event to wait for).
    std::thread::sleep(s(1));
    alice.command("hangup", "");
    assert!(
        alice.wait_event("CALL_CLOSED", s(10)),
        "alice: call not closed\n{}",
        alice.report()
    );
    assert!(
        bob.wait_event("CALL_CLOSED", s(10)),
        "bob: call not closed (BYE not relayed)\n{}",
        bob.report()
    );
    // alice was challenged, and her BYE answered 200 (by bob, through the
    // server); bob got the INVITE over the call's transport.
    let alice_log = alice.log();
    assert!(
        answered(&alice_log, 407, "INVITE"),
        "alice was not challenged\n{alice_log}"
    );
    assert!(
        answered(&alice_log, 200, "BYE"),
        "BYE not answered 200\n{alice_log}"
    );
    let bob_log = bob.log();
    let proto = transport.to_ascii_uppercase();
    assert!(
        bob_log
            .lines()
            .collect::<Vec<_>>()
            .windows(4)
            .any(|w| w[0].contains(&proto) && w.iter().any(|l| l.starts_with("INVITE sip:"))),
        "bob got no INVITE over {proto}\n{bob_log}"
    );
    drop(alice);
    drop(bob);
    drop(server);
}

/// Whether baresip's SIP trace (`-s`) shows a `code` response to `method`.
fn answered(log: &str, code: u16, method: &str) -> bool {
    let status = format!("SIP/2.0 {code} ");
    log.split(&status).skip(1).any(|rest| {
        // The log has CR turned into LF: blank lines between headers.
        rest.lines()
            .filter(|l| !l.trim().is_empty())
            .take(12)
            .any(|l| l.to_ascii_lowercase().starts_with("cseq:") && l.ends_with(method))
    })
}

#[test]
fn baresip_calls_baresip_over_udp() {
    baresip_call("udp");
}

#[test]
fn baresip_calls_baresip_over_tls() {
    baresip_call("tls");
}
