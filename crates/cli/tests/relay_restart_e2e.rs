//! Relayed calls across a restart, end to end: `serve` with `[media]
//! relay = "always"` and two user agents of the real binary (bob answers,
//! alice calls). While the call is up the server is killed (`kill -9`)
//! and started again on the same port and store. With the same relay
//! ports the call comes back on them: the agents go on talking until alice
//! hangs up, and the record counts packets both ways after the restart.
//! With the relay moved to other ports the call cannot come back: the new
//! server ends it at once, a BYE to each agent, recorded `relay-lost`.
//!
//! Every process is killed by PID when its test ends (a guard); every wait
//! is bounded.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);
const BOB: &str = "sip:bob@127.0.0.1";

/// `serve` on `data` relaying every call on the relay ports from `first`,
/// on SIP `port` (a free one when `None`).
fn serve(data: &Path, first: u16, port: Option<u16>) -> Server {
    let config = format!(
        "{NO_RATE_LIMIT}[media]\nrelay = \"always\"\nports = \"{first}-{}\"\n",
        first + 7
    );
    let mut serve = switchboard().serve(data).config(&config);
    if let Some(port) = port {
        serve = serve.port(port);
    }
    serve.start()
}

/// Alice calls bob for `secs` seconds through a relaying server, which is
/// killed once the call is up and started again with the relay ports
/// moved when `move_relay`: both agents, the new server and the store.
fn call_across_a_restart(secs: &str, move_relay: bool) -> (Proc, Proc, Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "secret")]);
    let relay = free_udp_run(8);
    let mut server = serve(&data, relay, None);

    let bob = agent_at(
        &server,
        &["answer", "--as", BOB, "--answer-after", "100", "--once"],
    );
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let alice = agent_at(
        &server,
        &[
            "call",
            BOB,
            "--as",
            "sip:alice@127.0.0.1",
            "--duration",
            secs,
        ],
    );
    alice.expect_line(Stream::Stdout, "answered", WAIT);
    let mut records = Vec::new();
    let written = wait_for(WAIT, || {
        records = call_records(&data);
        records.len() == 1 && records[0]["answer_ms"].is_u64()
    });
    assert!(written, "the answer is recorded: {records:#?}");
    assert_eq!(records[0]["relayed"], true, "{records:#?}");

    server.process().signal("KILL");
    server.process().expect_exit(WAIT);
    let port = server.port;
    drop(server);
    let relay = if move_relay { free_udp_run(8) } else { relay };
    let server = serve(&data, relay, Some(port));
    assert!(
        server.log_text().contains("calls in progress taken back"),
        "{}",
        server.log_text()
    );
    (alice, bob, server, dir)
}

#[test]
fn a_relayed_call_comes_back_on_its_relay_ports_after_a_kill_9() {
    let (alice, bob, server, dir) = call_across_a_restart("8", false);
    alice.expect_line(Stream::Stdout, "ended: local hangup", 2 * WAIT);
    bob.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    let record = &ended_records(&dir.path().join("data"), 1)[0];
    assert_eq!(
        record["hangup"],
        "caller",
        "{record}\n{}",
        server.log_text()
    );
    assert_eq!(record["relayed"], true, "{record}");
    // The counters are those of the session taken back: media flowed
    // again after the restart, both ways.
    for counter in ["caller_packets_in", "callee_packets_in"] {
        assert!(
            record[counter].as_u64().unwrap_or(0) > 0,
            "{counter}: {record}\n{}",
            server.log_text()
        );
    }
}

#[test]
fn a_relayed_call_that_cannot_come_back_is_ended_cleanly() {
    let (alice, bob, server, dir) = call_across_a_restart("60", true);
    // Long before alice's minute is up, both are told the call is over.
    bob.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    alice.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    let record = &ended_records(&dir.path().join("data"), 1)[0];
    assert_eq!(
        record["hangup"],
        "relay-lost",
        "{record}\n{}",
        server.log_text()
    );
    assert_eq!(record["relayed"], true, "{record}");
}
