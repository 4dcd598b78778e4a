//! Call detail records end to end: `serve` and two user agents of the
//! real binary on loopback (bob answers, alice calls; one side hangs up),
//! then `switchboard cdr` reads the store: the call answered, with its
//! duration and who hung up, also after `kill -9` and a restart.
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

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);
const ALICE: &str = "sip:alice@127.0.0.1";
const BOB: &str = "sip:bob@127.0.0.1";

/// Bob answers at once and hangs up after `bob_secs` (if given); alice
/// calls him and hangs up after `alice_secs`; both run to the end.
fn call(server: &Server, alice_secs: &str, bob_secs: Option<&str>, alice_ends: &str) {
    let mut args = vec!["answer", "--as", BOB, "--answer-after", "100", "--once"];
    if let Some(secs) = bob_secs {
        args.extend(["--duration", secs]);
    }
    let mut bob = agent_at(server, &args);
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let mut alice = agent_at(
        server,
        &["call", BOB, "--as", ALICE, "--duration", alice_secs],
    );
    alice.expect_line(Stream::Stdout, alice_ends, WAIT);
    assert!(alice.expect_exit(WAIT).success(), "{}", alice.report());
    bob.expect_exit(WAIT);
}

fn check_answered(record: &serde_json::Value, hangup: &str, at_least_ms: u64) {
    assert_eq!(record["disposition"], "answered", "{record}");
    assert_eq!(record["status"], 200, "{record}");
    assert_eq!(record["hangup"], hangup, "{record}");
    assert_eq!(record["caller"], ALICE, "{record}");
    assert_eq!(record["caller_user"], "alice@127.0.0.1", "{record}");
    assert_eq!(record["callee"], BOB, "{record}");
    let duration = record["duration_ms"].as_u64().unwrap();
    assert!(
        (at_least_ms..at_least_ms + 5_000).contains(&duration),
        "duration {duration} ms: {record}"
    );
}

#[test]
fn calls_are_recorded_durably_with_their_duration_and_who_hung_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "secret")]);
    let mut server = switchboard().serve(&data).config(NO_RATE_LIMIT).start();

    // Alice hangs up after a second.
    call(&server, "1", None, "ended: local hangup");
    let first = ended_records(&data, 1);
    check_answered(&first[0], "caller", 1_000);

    // The record is on disk: a kill -9 loses nothing.
    server.process().signal("KILL");
    server.process().expect_exit(WAIT);
    assert_eq!(call_records(&data), first);

    // After a restart, bob hangs up after a second of a longer call.
    let server = switchboard().serve(&data).config(NO_RATE_LIMIT).start();
    call(&server, "20", Some("1"), "ended: remote hangup");
    let both = ended_records(&data, 2);
    assert_eq!(both[0], first[0], "the first call as it was");
    check_answered(&both[1], "callee", 1_000);

    // CSV: a header line, then one line per call.
    let out = switchboard().run(&["cdr", "--data", path_str(&data), "--format", "csv"]);
    let csv = text(&out.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("start,call_id,caller,"), "{csv}");
    assert!(lines[2].contains(",answered,200,callee"), "{csv}");
    // --since after both calls: nothing but the header.
    let later = (first[0]["start_ms"].as_u64().unwrap() / 1000 + 3600).to_string();
    let out = switchboard().run(&["cdr", "--data", path_str(&data), "--since", &later]);
    assert_eq!(text(&out.stdout).lines().count(), 1);

    // A call in progress at a kill -9 keeps the record written at its
    // answer: answered, not ended.
    let mut server = server;
    let bob = agent_at(&server, &["answer", "--as", BOB, "--answer-after", "100"]);
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let alice = agent_at(&server, &["call", BOB, "--as", ALICE, "--duration", "30"]);
    let mut last = Vec::new();
    let answered = wait_for(WAIT, || {
        last = call_records(&data);
        last.len() == 3
    });
    assert!(answered, "the answer is recorded: {last:#?}");
    server.process().signal("KILL");
    server.process().expect_exit(WAIT);
    let after = call_records(&data);
    assert_eq!(after[2]["disposition"], "answered", "{:#?}", after[2]);
    assert!(after[2]["answer_ms"].is_u64() && after[2]["end_ms"].is_null());
    drop((alice, bob));
}
