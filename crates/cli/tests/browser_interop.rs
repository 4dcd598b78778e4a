//! Browser phones through `switchboard serve`: the real JsSIP 3.13.8 and
//! SIP.js 0.21.2 libraries in headless Chromium (Debian `chromium`, driven
//! by playwright-core; `tests/browser/browser_call.mjs`) register with
//! digest authentication over WebSocket, call each other with WebRTC audio
//! both ways, hang up, exchange a MESSAGE, are refused with a wrong
//! password and un-register: over ws and over wss (a self-signed rcgen
//! certificate, which the script tells Chromium to accept), for JsSIP,
//! SIP.js and JsSIP calling SIP.js. Browsers register `*.invalid`
//! contacts, so every request to them must go down their WebSocket.
//!
//! Needs node >= 18 and npm (`npm ci` in `tests/browser` when its
//! `node_modules` is missing; scripts/test.sh does it too) and Chromium.
//! The script is bounded by its own `--timeout`; the test also kills
//! node (and whatever it started) by PID when it ends.

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
const RUN_TIMEOUT_S: u64 = 240;

#[test]
fn jssip_and_sipjs_in_chromium_over_ws_and_wss() {
    let browser = browser_dir();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (alice_pass, bob_pass) = ("alice-Browser-1", "bob-Browser-2");
    switchboard().add_users(&data, &[("alice", alice_pass), ("bob", bob_pass)]);
    let (cert, key) = self_signed(dir.path());
    let (ws, wss) = (free_port(), free_port());
    let server = switchboard()
        .serve(&data)
        .config(NO_RATE_LIMIT)
        .listen(&format!("ws:127.0.0.1:{ws}"))
        .listen(&format!("wss:127.0.0.1:{wss}"))
        .certificate(&cert, &key)
        .start();

    // Traces, console logs and screenshots: kept under target/ for a look
    // after a failure.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-interop");
    let _ = std::fs::remove_dir_all(&out);
    let http = free_port();
    let mut command = Command::new("node");
    command
        .arg("browser_call.mjs")
        .args([
            "--ws-url",
            &format!("ws://127.0.0.1:{ws},wss://127.0.0.1:{wss}"),
        ])
        .args(["--domain", DOMAIN])
        .args(["--alice", "alice", "--alice-pass", alice_pass])
        .args(["--bob", "bob", "--bob-pass", bob_pass])
        .args(["--timeout", &RUN_TIMEOUT_S.to_string()])
        .args(["--http-port", &http.to_string()])
        .args(["--out", out.to_str().unwrap()])
        .args(["--screenshots", out.to_str().unwrap()])
        .args(["--chromium", CHROMIUM])
        .current_dir(&browser);
    // playwright starts Chromium in a process group of its own: the guard
    // kills node and everything it started.
    let node = Proc::spawn("browser", command).killing_descendants();
    let context = || {
        format!(
            "--- traces in {}\n--- server:\n{}",
            out.display(),
            server.log_text()
        )
    };
    let passed = checks_passed(node, Duration::from_secs(RUN_TIMEOUT_S + 45), &context);
    // 17 checks per library pairing and URL (19 lines: some are per page).
    assert!(passed >= 2 * 3 * 17, "only {passed} checks");
    drop(server);
}
