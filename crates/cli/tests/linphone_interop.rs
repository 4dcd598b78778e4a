//! Calls through `switchboard serve` between two different real phones:
//! linphonec (liblinphone 5.1, Debian package `linphone-cli`) and baresip
//! 1.0 (Debian `baresip`), both registered over UDP with digest
//! authentication. linphonec calls baresip, baresip answers, linphonec
//! hangs up; then baresip calls linphonec, linphonec answers (`-a`),
//! baresip hangs up. Both see each call connect and end, and baresip
//! receives linphonec's RTP (its file-mode tone) in both calls.
//!
//! linphonec is set up as shared/interop/lib/common.sh does (a linphonerc
//! with the server as proxy and route, file audio, commands on stdin).
//! With its default codecs linphonec's INVITE, once the server adds a Via
//! and a Record-Route, is over 1300 bytes and goes on to baresip over TCP
//! (RFC 3261 §18.1.1); its ACK and BYE come over UDP without
//! Content-Length, which the server must add before passing them on over
//! TCP (without it baresip never saw the ACK).
//! Every child is killed by PID when the test ends, every wait is bounded,
//! ports are random, data directories temporary.

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

/// The last `packets: tx rx` line of baresip's RTP statistics: rx.
fn rx_packets(log: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("packets:"))
        .filter_map(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        .next_back()
        .unwrap_or(0)
}

#[test]
fn linphonec_and_baresip_call_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(
        &data,
        &[("alice", "alice-Secret-1"), ("bob", "bob-Linphone-2")],
    );
    let server = switchboard().serve(&data).config(NO_RATE_LIMIT).start();
    let mut alice = Baresip::builder(dir.path(), "alice")
        .registrar(server.port, "udp", "alice-Secret-1")
        .tone(440.0)
        .auto_answer()
        .start();
    let mut bob = Linphonec::start(dir.path(), "bob", "bob-Linphone-2", server.port, 660.0);
    let registered = |user: &str| server.is_registered(&format!("sip:{user}@127.0.0.1"));
    assert!(
        wait_for(s(15), || registered("alice") && registered("bob")),
        "not registered in 15 s: {:?}\n{}\n--- linphonec:\n{}\n--- server:\n{}",
        server.registrations(),
        alice.report(),
        bob.report(),
        server.log_text()
    );

    // A: linphonec calls baresip, which answers; linphonec hangs up.
    bob.command("call sip:alice@127.0.0.1");
    assert!(
        alice.wait_event_after("CALL_ESTABLISHED", 0, s(15)),
        "A: baresip did not get the call\n{}\n--- linphonec:\n{}\n--- server:\n{}",
        alice.report(),
        bob.report(),
        server.log_text()
    );
    assert!(
        wait_for(s(10), || bob.calls("connected") >= 1),
        "A: linphonec not connected\n{}",
        bob.report()
    );
    assert!(
        alice.wait_event_after("CALL_RTPESTAB", 0, s(8)),
        "A: baresip receives no RTP from linphonec\n{}\n--- linphonec:\n{}",
        alice.report(),
        bob.report()
    );
    // The call's length: two seconds of audio (no event to wait for).
    std::thread::sleep(s(2));
    bob.command("terminate");
    assert!(
        alice.wait_event_after("CALL_CLOSED", 0, s(10)),
        "A: baresip did not see the BYE\n{}\n--- linphonec:\n{}\n--- server:\n{}",
        alice.report(),
        bob.report(),
        server.log_text()
    );
    assert!(
        wait_for(s(5), || bob.calls("ended") >= 1),
        "A: linphonec did not see the call end\n{}",
        bob.report()
    );
    // baresip prints its RTP statistics as the call is torn down.
    wait_for(s(5), || rx_packets(&alice.log()) >= 50);
    let rx = rx_packets(&alice.log());
    assert!(
        rx >= 50,
        "A: baresip got {rx} RTP packets from linphonec\n{}",
        alice.log()
    );

    // B: baresip calls linphonec, which answers (-a); baresip hangs up.
    std::thread::sleep(s(1));
    let (established, rtp, closed) = (
        alice.event_count("CALL_ESTABLISHED"),
        alice.event_count("CALL_RTPESTAB"),
        alice.event_count("CALL_CLOSED"),
    );
    let (connected, ended) = (bob.calls("connected"), bob.calls("ended"));
    alice.command("dial", "sip:bob@127.0.0.1");
    assert!(
        wait_for(s(15), || bob.calls("connected") > connected),
        "B: linphonec did not answer\n{}\n--- baresip:\n{}\n--- server:\n{}",
        bob.report(),
        alice.report(),
        server.log_text()
    );
    assert!(
        alice.wait_event_after("CALL_ESTABLISHED", established, s(10)),
        "B: baresip's call not established\n{}\n--- linphonec:\n{}",
        alice.report(),
        bob.report()
    );
    assert!(
        alice.wait_event_after("CALL_RTPESTAB", rtp, s(8)),
        "B: baresip receives no RTP from linphonec\n{}\n--- linphonec:\n{}",
        alice.report(),
        bob.report()
    );
    // The call's length: two seconds of audio (no event to wait for).
    std::thread::sleep(s(2));
    alice.command("hangup", "");
    assert!(
        alice.wait_event_after("CALL_CLOSED", closed, s(10)),
        "B: baresip's call not closed\n{}",
        alice.report()
    );
    assert!(
        wait_for(s(10), || bob.calls("ended") > ended),
        "B: linphonec did not see the BYE\n{}\n--- server:\n{}",
        bob.report(),
        server.log_text()
    );
    // The call went through the server: alice's INVITE was challenged.
    let log = alice.log();
    assert!(
        log.contains("SIP/2.0 407 "),
        "baresip's INVITE was not challenged\n{log}"
    );
    bob.quit();
    drop(alice);
    drop(server);
}
