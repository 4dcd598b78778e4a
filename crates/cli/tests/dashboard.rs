//! The web dashboard of `switchboard serve` in headless Chromium (Debian
//! `chromium`, driven by playwright-core: `tests/browser/dashboard.mjs`):
//! the page served by the admin listener refuses a bad token with a clear
//! message, logs in with one made by `switchboard token create`, shows a
//! trunk's two probed gateways (one answering 200, one 503) up and down,
//! two baresip phones registered, then the call between them with a timer
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

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
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

/// A gateway that answers every request with `code` until dropped.
struct Gateway {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Gateway {
    fn answering(code: u16, reason: &'static str) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65_535];
            while !stopped.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let request = text(&buf[..n]);
                    if !request.starts_with("SIP/2.0") {
                        let answer = response_to(&request, code, reason, "gw", "");
                        let _ = socket.send_to(answer.as_bytes(), from);
                    }
                }
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn uri(&self) -> String {
        format!("sip:127.0.0.1:{}", self.port)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn the_dashboard_shows_registrations_and_a_live_call_in_chromium() {
    let browser = browser_dir();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (alice_pass, bob_pass) = ("alice-Dash-1", "bob-Dash-2");
    switchboard().add_users(&data, &[("alice", alice_pass), ("bob", bob_pass)]);
    // A trunk whose gateways are probed every second: one answers 200
    // (up), the other 503 (down).
    let (up, down) = (
        Gateway::answering(200, "OK"),
        Gateway::answering(503, "Service Unavailable"),
    );
    let plan = format!(
        "[[trunk]]\nname = \"carrier\"\ngateways = [\"{}\", \"{}\"]\n\
         probe = true\nprobe_interval = 1\nprobe_up = 1\nprobe_down = 2\n\n\
         [[route]]\nname = \"out\"\nto_prefix = [\"00\"]\ntrunks = [\"carrier\"]\n",
        up.uri(),
        down.uri()
    );
    let (server, api) = serve_with_admin_config(&data, &plan);
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
        .args([
            "--gateways",
            &format!("{}=up,{}=down", up.uri(), down.uri()),
        ])
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
    assert_eq!(passed, 9, "every check of dashboard.mjs ran");
    for shot in [
        "dashboard-registered.png",
        "dashboard-call.png",
        "dashboard-ended.png",
    ] {
        assert!(out.join(shot).is_file(), "{shot} not saved");
    }
    drop(server);
}
