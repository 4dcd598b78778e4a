//! Live calls end to end: `serve` with its admin API and two user agents
//! of the real binary on loopback (bob answers, alice calls); the call
//! appears in `switchboard calls`, `switchboard calls hangup` ends it,
//! both agents get the server's BYE, and the call's record says the
//! server hung up.
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

/// `switchboard calls ARGS --admin URL --token TOKEN`: its standard
/// output, after checking it succeeded.
fn calls(api: &str, token: &str, args: &[&str]) -> String {
    let mut all = vec!["calls"];
    all.extend(args);
    all.extend(["--admin", api, "--token", token]);
    let out = switchboard().run(&all);
    assert!(
        out.status.success(),
        "calls {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn a_call_is_listed_and_hung_up_by_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "secret")]);
    let (server, admin) = serve_with_admin(&data);
    let token = create_token(&data, "ci");
    let api = format!("http://{admin}");

    assert_eq!(calls(&api, &token, &[]), "no calls in progress\n");

    let mut bob = agent_at(
        &server,
        &["answer", "--as", BOB, "--answer-after", "100", "--once"],
    );
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let mut alice = agent_at(&server, &["call", BOB, "--as", ALICE, "--duration", "60"]);

    // The answered call is listed: one line, Call-ID first.
    let mut listed = String::new();
    let up = wait_for(WAIT, || {
        listed = calls(&api, &token, &[]);
        listed.contains(" confirmed ")
    });
    assert!(up, "the call is listed as confirmed: {listed}");
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 1, "{listed}");
    assert!(
        lines[0].contains("alice@127.0.0.1 [sip:alice@")
            && lines[0].contains("-> bob@127.0.0.1 [sip:bob@"),
        "both parties and their devices: {listed}"
    );
    let call_id = lines[0].split(' ').next().unwrap().to_owned();

    let done = calls(&api, &token, &["hangup", &call_id]);
    assert_eq!(
        done,
        format!("call {call_id} ended (BYE sent to both parties)\n")
    );

    // Both agents got the server's BYE: each says the other side hung up.
    alice.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    assert!(alice.expect_exit(WAIT).success(), "{}", alice.report());
    bob.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    bob.expect_exit(WAIT);

    assert_eq!(calls(&api, &token, &[]), "no calls in progress\n");
    // An unknown call: the API's 404, exit 1.
    let out = switchboard().run(&[
        "calls", "hangup", &call_id, "--admin", &api, "--token", &token,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no call in progress"),
        "{}",
        text(&out.stderr)
    );

    let last = ended_records(&data, 1);
    assert_eq!(last[0]["call_id"], call_id.as_str(), "{:#?}", last[0]);
    assert_eq!(last[0]["disposition"], "answered", "{:#?}", last[0]);
    assert_eq!(last[0]["hangup"], "server", "{:#?}", last[0]);
    drop(server);
}
