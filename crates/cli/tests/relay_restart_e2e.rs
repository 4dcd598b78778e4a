//! A relayed call across a restart, end to end: `serve` with `[media]
//! relay = "always"` and two user agents of the real binary (bob answers,
//! alice calls for a long while). While the call is up the server is
//! killed (`kill -9`) and started again on the same port, store and relay
//! ports: the relay's session is gone, so the new server ends the call at
//! once, a BYE to each agent, and `switchboard cdr` records it as relayed
//! with the hang-up side `relay-lost`.
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

#[test]
fn a_relayed_call_is_ended_cleanly_by_the_restarted_server() {
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
            "60",
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
    let server = serve(&data, relay, Some(port));
    assert!(
        server.log_text().contains("calls in progress taken back"),
        "{}",
        server.log_text()
    );

    // Long before alice's minute is up, both are told the call is over.
    bob.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    alice.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    let record = &ended_records(&data, 1)[0];
    assert_eq!(record["hangup"], "relay-lost", "{record}");
    assert_eq!(record["relayed"], true, "{record}");
}
