//! Calls in progress across a restart, end to end: `serve` and two user
//! agents of the real binary on loopback (bob answers, alice calls and
//! hangs up after a while). While the call is up the server is killed
//! (`kill -9`, or stopped cleanly with SIGTERM) and started again on the
//! same port and store: `switchboard calls` lists the call, alice's BYE
//! reaches bob through the new server and is answered, and `switchboard
//! cdr` shows one record with both its answer and its end.
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

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);
const ALICE: &str = "sip:alice@127.0.0.1";
const BOB: &str = "sip:bob@127.0.0.1";
/// How long alice's call lasts: long enough for a stop and a start.
const CALL_SECS: &str = "15";

/// `serve` on `data` and UDP/TCP `port` (a free one when `None`), with
/// the admin API on a free loopback port: the server and the API's URL.
fn serve(data: &Path, port: Option<u16>) -> (Server, String) {
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut serve = switchboard()
        .serve(data)
        .config(NO_RATE_LIMIT)
        .args(&["--admin", &admin.to_string()]);
    if let Some(port) = port {
        serve = serve.port(port);
    }
    (serve.start(), format!("http://{admin}"))
}

/// `switchboard calls --admin URL --token TOKEN`: the calls listed, one
/// line each.
fn listed(api: &str, token: &str) -> Vec<String> {
    let out = switchboard().run(&["calls", "--admin", api, "--token", token]);
    assert!(out.status.success(), "calls: {}", text(&out.stderr));
    let out = text(&out.stdout);
    if out == "no calls in progress\n" {
        return Vec::new();
    }
    out.lines().map(str::to_owned).collect()
}

/// The one answered call listed within [`WAIT`]: its line.
fn confirmed_call(api: &str, token: &str) -> String {
    let mut calls = Vec::new();
    let up = wait_for(WAIT, || {
        calls = listed(api, token);
        calls.len() == 1 && calls[0].contains(" confirmed ")
    });
    assert!(up, "one call listed as confirmed: {calls:?}");
    calls.remove(0)
}

/// Alice's call to bob goes on across a stop by `signal` and a start.
fn a_call_survives_a_restart(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "secret")]);
    let token = create_token(&data, "ci");
    let (mut server, api) = serve(&data, None);

    let bob = agent_at(
        &server,
        &["answer", "--as", BOB, "--answer-after", "100", "--once"],
    );
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let mut alice = agent_at(
        &server,
        &["call", BOB, "--as", ALICE, "--duration", CALL_SECS],
    );
    alice.expect_line(Stream::Stdout, "answered", WAIT);
    let before = confirmed_call(&api, &token);
    let call_id = before.split(' ').next().unwrap().to_owned();
    // The dialog's record goes in the same store write as the call
    // record's answer: once that is on disk, so is the dialog.
    let mut records = Vec::new();
    let written = wait_for(WAIT, || {
        records = call_records(&data);
        records.len() == 1 && records[0]["answer_ms"].is_u64()
    });
    assert!(written, "the answer is recorded: {records:#?}");

    server.process().signal(signal);
    server.process().expect_exit(WAIT);
    let port = server.port;
    drop(server);
    let (server, api) = serve(&data, Some(port));
    assert!(
        server
            .log_text()
            .contains("calls in progress taken back from the store"),
        "{}",
        server.log_text()
    );

    // Listed as before the restart.
    let after = confirmed_call(&api, &token);
    assert!(after.starts_with(&format!("{call_id} ")), "{after}");
    assert!(
        after.contains("alice@127.0.0.1 [sip:alice@")
            && after.contains("-> bob@127.0.0.1 [sip:bob@"),
        "both parties and their devices: {after}"
    );

    // Alice hangs up: her BYE passes to bob, whose 200 comes back.
    // (the BYE comes when the call's time is up: a longer wait)
    bob.expect_line(Stream::Stdout, "ended: remote hangup", 2 * WAIT);
    alice.expect_line(Stream::Stdout, "ended: local hangup", WAIT);
    assert!(alice.expect_exit(WAIT).success(), "{}", alice.report());
    assert!(
        alice
            .find_line(Stream::Stdout, "no answer to the hangup")
            .is_none(),
        "{}",
        alice.report()
    );
    let mut calls = vec![after];
    let gone = wait_for(WAIT, || {
        calls = listed(&api, &token);
        calls.is_empty()
    });
    assert!(gone, "the call is over: {calls:?}");

    // One record, answered and ended by the caller.
    let ended = ended_records(&data, 1);
    let record = &ended[0];
    assert_eq!(record["call_id"], call_id.as_str(), "{record}");
    assert_eq!(record["disposition"], "answered", "{record}");
    assert_eq!(record["hangup"], "caller", "{record}");
    assert!(record["answer_ms"].is_u64(), "{record}");
    let duration = record["duration_ms"].as_u64().unwrap();
    assert!(
        (14_000..30_000).contains(&duration),
        "duration {duration} ms, across the restart: {record}"
    );
    drop((alice, bob, server));
}

#[test]
fn a_call_in_progress_survives_a_kill_9_and_restart() {
    a_call_survives_a_restart("KILL");
}

#[test]
fn a_call_in_progress_survives_a_clean_stop_and_restart() {
    a_call_survives_a_restart("TERM");
}
