//! The web dashboard of `switchboard serve` in headless Chromium (Debian
//! `chromium`, driven by playwright-core: `tests/browser/dashboard.mjs`):
//! the page served by the admin listener refuses a bad token with a clear
//! message, logs in with one made by `switchboard token create`, shows two
//! baresip phones registered, then the call between them with a timer
//! that advances, then the call gone after the hang-up, all pushed to the
//! page (never reloaded). Screenshots are kept under target/ (the path is
//! printed).
//!
//! Needs node >= 18 (`npm ci` in `tests/browser` when its `node_modules`
//! is missing), Chromium and baresip. The script is bounded by its own
//! `--timeout`; node, Chromium, baresip and the server are killed by PID
//! when the test ends.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::browser::{CHROMIUM, browser_dir, checks_passed};
use common::*;

/// The script's own hard limit for the whole run, in seconds.
const RUN_TIMEOUT_S: u64 = 150;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Waits (at most `limit`) for the script to print `STEP step`: false
/// when it ended or did not get there.
fn reached(node: &mut Proc, step: &str, limit: Duration) -> bool {
    let line = format!("STEP {step}");
    wait_for(limit, || {
        node.find_line(Stream::Stdout, &line).is_some() || node.try_wait().is_some()
    });
    node.find_line(Stream::Stdout, &line).is_some()
}

#[test]
fn the_dashboard_shows_registrations_and_a_live_call_in_chromium() {
    let browser = browser_dir();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (alice_pass, bob_pass) = ("alice-Dash-1", "bob-Dash-2");
    switchboard().add_users(&data, &[("alice", alice_pass), ("bob", bob_pass)]);
    let (server, api) = serve_with_admin(&data);
    let token = create_token(&data, "dashboard");

    let mut alice = Baresip::builder(dir.path(), "alice")
        .registrar(server.port, "udp", alice_pass)
        .start();
    let bob = Baresip::builder(dir.path(), "bob")
        .registrar(server.port, "udp", bob_pass)
        .auto_answer()
        .start();
    server.wait_registered("sip:alice@127.0.0.1", s(15));
    server.wait_registered("sip:bob@127.0.0.1", s(15));

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    let _ = std::fs::remove_dir_all(&out);
    println!("dashboard screenshots in {}", out.display());
    let mut command = Command::new("node");
    command
        .arg("dashboard.mjs")
        .args(["--url", &format!("http://{api}")])
        .args(["--token", &token])
        .args(["--users", "alice,bob"])
        .args(["--out", out.to_str().unwrap()])
        .args(["--timeout", &RUN_TIMEOUT_S.to_string()])
        .args(["--chromium", CHROMIUM])
        .current_dir(&browser);
    // playwright starts Chromium in a process group of its own: the guard
    // kills node and everything it started.
    let mut node = Proc::spawn("dashboard.mjs", command).killing_descendants();

    if reached(&mut node, "registered", s(90)) {
        alice.command("dial", "sip:bob@127.0.0.1");
        assert!(
            alice.wait_event("CALL_ESTABLISHED", s(15)),
            "the call was not answered\n{}\n--- bob:\n{}",
            alice.report(),
            bob.report()
        );
        if reached(&mut node, "call-seen", s(60)) {
            alice.command("hangup", "");
            assert!(bob.wait_event("CALL_CLOSED", s(10)), "{}", bob.report());
        }
    }
    let context = || {
        format!(
            "--- alice:\n{}\n--- server:\n{}",
            alice.report(),
            server.log_text()
        )
    };
    let passed = checks_passed(node, s(RUN_TIMEOUT_S + 30), &context);
    assert_eq!(passed, 8, "every check of dashboard.mjs ran");
    for shot in [
        "dashboard-registered.png",
        "dashboard-call.png",
        "dashboard-ended.png",
    ] {
        assert!(out.join(shot).is_file(), "{shot} not saved");
    }
    drop(server);
}
