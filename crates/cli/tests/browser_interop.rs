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

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The script's own hard limit for the whole run, in seconds.
const RUN_TIMEOUT_S: u64 = 240;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// `npm ci` in `tests/browser` when its `node_modules` is missing
/// (5 minutes at most).
fn npm_ci(dir: &Path) {
    if dir.join("node_modules/playwright-core").is_dir() {
        return;
    }
    let child = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .stdin(Stdio::null())
        .spawn()
        .expect("npm is not installed (Debian: apt-get install -y nodejs npm)");
    let mut npm = TreeGuard::new(child);
    let status = npm.wait(Duration::from_secs(300)).expect("npm ci: 300 s");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// A child and every process it started, killed by PID when dropped
/// (playwright starts Chromium in a process group of its own).
struct TreeGuard(Option<std::process::Child>);

impl TreeGuard {
    fn new(child: std::process::Child) -> Self {
        Self(Some(child))
    }

    /// Waits for the child at most `limit`.
    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let child = self.0.as_mut()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.0 = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The PIDs of every descendant of `root`, from /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces.
            let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            if let Some(ppid) = after
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u32>().ok())
            {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out.remove(0);
    out
}

impl Drop for TreeGuard {
    fn drop(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        let tree = descendants(child.id());
        let _ = child.kill();
        let _ = child.wait();
        for pid in tree {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn jssip_and_sipjs_in_chromium_over_ws_and_wss() {
    require("node", "--version", "nodejs");
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is not installed (Debian: apt-get install -y chromium); scripts/test.sh installs it"
    );
    let browser = browser_dir();
    npm_ci(&browser);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (alice_pass, bob_pass) = ("alice-Browser-1", "bob-Browser-2");
    add_users(
        dir.path(),
        &data,
        &[
            ("alice".to_owned(), alice_pass.to_owned()),
            ("bob".to_owned(), bob_pass.to_owned()),
        ],
    );
    let (cert, key) = self_signed(dir.path());
    let (ws, wss) = (free_port(), free_port());
    let server = start_server(
        dir.path(),
        &data,
        "[protection]\nrate_limit = false\n",
        &[
            "--listen".to_owned(),
            format!("ws:127.0.0.1:{ws}"),
            "--listen".to_owned(),
            format!("wss:127.0.0.1:{wss}"),
            "--tls-cert".to_owned(),
            cert.to_str().unwrap().to_owned(),
            "--tls-key".to_owned(),
            key.to_str().unwrap().to_owned(),
        ],
    );

    // Traces, console logs and screenshots: kept under target/ for a look
    // after a failure.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-interop");
    let _ = std::fs::remove_dir_all(&out);
    let http = free_port();
    let mut child = Command::new("node")
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
        .current_dir(&browser)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|r| {
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                eprintln!("[browser] {line}");
                sink.lock().unwrap().push(line);
            }
        })
    })
    .collect();
    let mut node = TreeGuard::new(child);
    let status = node.wait(Duration::from_secs(RUN_TIMEOUT_S + 45));
    drop(node);
    for r in readers {
        let _ = r.join();
    }
    let lines = lines.lock().unwrap().clone();
    let all = lines.join("\n");
    let failed: Vec<&String> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    let report = || {
        format!(
            "failed checks:\n{}\n--- traces in {}\n--- server:\n{}",
            failed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            out.display(),
            server.log_text()
        )
    };
    let status = status.unwrap_or_else(|| panic!("node did not end in time\n{all}\n{}", report()));
    let last = lines
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .cloned()
        .unwrap_or_default();
    assert!(
        status.success(),
        "browser_call.mjs: {status}; last line {last:?}\n{}",
        report()
    );
    // 17 checks per library pairing and URL (19 lines: some are per page).
    let passed: u32 = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line {last:?}\n{}", report()));
    assert!(passed >= 2 * 3 * 17, "only {passed} checks: {last}");
    drop(server);
}
