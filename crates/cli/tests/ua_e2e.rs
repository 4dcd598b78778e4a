//! End-to-end tests of the user agent: the real `switchboard` binary as
//! caller (`call`) and callee (`answer`) on loopback, a WAV tone played by
//! one and recorded by the other (its frequency and level checked), SRTP
//! required; `register` and `message` against `serve`.
//!
//! Every process is killed by PID when its test ends (a guard); every wait
//! is bounded; all traffic stays on 127.0.0.1.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use switchboard_media::audio::{
    ToneGenerator, dominant_frequency, read_wav_file_8k, rms_dbfs, write_wav_file,
};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// A child process, killed by PID when dropped, with its stdout lines.
struct Proc {
    child: Child,
    name: &'static str,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn spawn(name: &'static str, args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{name}] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{name} log] {line}");
            }
        });
        Self {
            child,
            name,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a stdout line containing `needle`.
    fn expect(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{}: no line with {needle:?} in {limit:?}; it said:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits (bounded) for the exit; the rest of stdout is collected.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit in {limit:?}; it said:\n{}",
                self.name,
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn said(&self, needle: &str) -> bool {
        self.seen.iter().any(|l| l.contains(needle))
    }
}

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("start switchboard")
}

/// Writes `secs` of a `freq` Hz tone at -12 dBFS (8 kHz mono WAV).
fn tone(dir: &Path, name: &str, freq: f32, secs: usize) -> PathBuf {
    let path = dir.join(name);
    let samples = ToneGenerator::new(freq, 8_000, -12.0).samples(8_000 * secs);
    write_wav_file(&path, &samples).unwrap();
    path
}

/// Frequency and level of the loudest second of a recording.
fn analyse(path: &Path) -> (f32, f32) {
    let samples = read_wav_file_8k(path).unwrap();
    assert!(
        samples.len() >= 8_000,
        "{} holds only {} samples",
        path.display(),
        samples.len()
    );
    let best = samples
        .chunks(8_000)
        .filter(|c| c.len() == 8_000)
        .max_by(|a, b| rms_dbfs(a).total_cmp(&rms_dbfs(b)))
        .unwrap();
    (dominant_frequency(best, 8_000), rms_dbfs(best))
}

fn assert_tone(path: &Path, freq: f32) {
    let (found, level) = analyse(path);
    eprintln!("{}: {found} Hz at {level:.1} dBFS", path.display());
    assert!(
        (found - freq).abs() <= 20.0,
        "{}: dominant {found} Hz, wanted {freq} Hz",
        path.display()
    );
    // Played at -12 dBFS peak (-15 dBFS RMS); G.711 keeps it within a dB
    // or two. Silence would be below -60.
    assert!(
        (-24.0..=-9.0).contains(&level),
        "{}: level {level} dBFS",
        path.display()
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A direct call (no server): the caller sends the INVITE straight to
/// the callee's address. Both play a tone and record; SRTP required.
fn direct_call(srtp: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (t1000, t600) = (tone(d, "1000.wav", 1000.0, 4), tone(d, "600.wav", 600.0, 6));
    let (rec_callee, rec_caller) = (d.join("callee.wav"), d.join("caller.wav"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut callee = Proc::spawn(
        "answer",
        &[
            "answer",
            "--as",
            "sip:bob@127.0.0.1",
            "--listen",
            &listen,
            "--play",
            s(&t600),
            "--record",
            s(&rec_callee),
            "--srtp",
            srtp,
            "--once",
        ],
    );
    callee.expect("listening on", Duration::from_secs(10));
    let target = format!("sip:bob@127.0.0.1:{port}");
    let mut caller = Proc::spawn(
        "call",
        &[
            "call",
            &target,
            "--as",
            "sip:alice@127.0.0.1",
            "--play",
            s(&t1000),
            "--record",
            s(&rec_caller),
            "--duration",
            "3",
            "--srtp",
            srtp,
            "--dtmf",
            "42#",
        ],
    );
    caller.expect("ringing", Duration::from_secs(10));
    let answered = caller.expect("answered:", Duration::from_secs(10));
    if srtp == "required" {
        assert!(
            answered.contains("SRTP AES_CM_128_HMAC_SHA1_80"),
            "{answered}"
        );
    }
    caller.expect("ended: local hangup", Duration::from_secs(15));
    assert!(caller.wait(Duration::from_secs(10)).success());
    callee.expect("ended: remote hangup", Duration::from_secs(10));
    assert!(callee.wait(Duration::from_secs(10)).success());
    assert!(callee.said("answered:"));
    // The DTMF went through as telephone-events.
    for digit in ["dtmf 4", "dtmf 2", "dtmf #"] {
        assert!(callee.said(digit), "callee heard no {digit}");
    }
    let media = caller.expect("media: sent", Duration::from_secs(1));
    assert!(media.contains("rejected 0"), "{media}");
    assert_tone(&rec_callee, 1000.0);
    assert_tone(&rec_caller, 600.0);
}

#[test]
fn direct_call_udp_srtp_required_tone_both_ways() {
    direct_call("required");
}

#[test]
fn direct_call_plain_rtp() {
    direct_call("off");
}

#[test]
fn srtp_required_against_off_fails_with_488() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut callee = Proc::spawn(
        "answer",
        &[
            "answer",
            "--as",
            "sip:bob@127.0.0.1",
            "--listen",
            &listen,
            "--srtp",
            "off",
        ],
    );
    callee.expect("listening on", Duration::from_secs(10));
    let target = format!("sip:bob@127.0.0.1:{port}");
    let mut caller = Proc::spawn("call", &["call", &target, "--srtp", "required"]);
    let line = caller.expect("failed:", Duration::from_secs(10));
    assert!(line.starts_with("failed: 488"), "{line}");
    let status = caller.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
}

#[test]
fn call_to_nobody_fails_with_a_status() {
    // Nothing listens on the port: ICMP makes UDP fail fast or Timer B
    // runs out; either way a status and a non-zero exit. TCP fails at once.
    let port = free_port();
    let target = format!("sip:bob@127.0.0.1:{port}");
    let mut caller = Proc::spawn("call", &["call", &target, "--transport", "tcp"]);
    let line = caller.expect("failed:", Duration::from_secs(40));
    assert!(line.starts_with("failed: 503"), "{line}");
    assert_eq!(caller.wait(Duration::from_secs(10)).code(), Some(1));
}

#[test]
fn bad_arguments_give_one_error_line() {
    let out = run(&["call", "not-a-uri"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("not a SIP URI"), "{err}");
    let out = run(&["call", "sip:bob@127.0.0.1", "--srtp", "sometimes"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["call", "sip:bob@127.0.0.1", "--play", "/nonexistent.wav"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent.wav"));
    let out = run(&["register"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "register",
        "sip:alice@127.0.0.1",
        "--transport",
        "tls",
        "--server",
        "127.0.0.1:5061",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --ca"));
}

#[test]
fn message_to_an_answering_agent() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut callee = Proc::spawn(
        "answer",
        &["answer", "--as", "sip:bob@127.0.0.1", "--listen", &listen],
    );
    callee.expect("listening on", Duration::from_secs(10));
    let target = format!("sip:bob@127.0.0.1:{port}");
    let out = run(&[
        "message",
        &target,
        "hello bob",
        "--as",
        "sip:alice@127.0.0.1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("delivered: 200"), "{stdout}");
    let line = callee.expect("message from", Duration::from_secs(5));
    assert!(
        line.contains("sip:alice@127.0.0.1") && line.ends_with(": hello bob"),
        "{line}"
    );
}

// ----- against `switchboard serve` -----

struct Serve {
    _proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

/// Starts `serve` on UDP and TCP with users alice and bob (password
/// `secret`) in domain 127.0.0.1; waits for "ready".
fn serve() -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for user in ["alice", "bob"] {
        let out = run(&[
            "user",
            "add",
            user,
            "--password",
            "secret",
            "--domain",
            "127.0.0.1",
            "--data",
            s(&data),
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    let config = dir.path().join("sb.toml");
    std::fs::write(&config, "[protection]\nrate_limit = false\n").unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("udp:127.0.0.1:{port}"),
            "--listen",
            &format!("tcp:127.0.0.1:{port}"),
            "--domain",
            "127.0.0.1",
            "--data",
            s(&data),
            "--config",
            s(&config),
        ])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[serve] {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut proc = Proc {
        child,
        name: "serve",
        lines,
        seen: Vec::new(),
    };
    proc.expect("ready", Duration::from_secs(30));
    Serve {
        _proc: proc,
        port,
        _dir: dir,
    }
}

#[test]
fn register_refresh_and_unregister_against_serve() {
    let server = serve();
    let at = format!("127.0.0.1:{}", server.port);
    for transport in ["udp", "tcp"] {
        let out = run(&[
            "register",
            "sip:alice@127.0.0.1",
            "--password",
            "secret",
            "--server",
            &at,
            "--transport",
            transport,
            "--expires",
            "60",
            "--once",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{transport}: {stdout}");
        assert!(
            stdout.contains("registered sip:alice@127.0.0.1"),
            "{stdout}"
        );
        assert!(stdout.contains("(expires 60 s)"), "{stdout}");
        assert!(stdout.contains("unregistered"), "{stdout}");
    }
    let out = run(&[
        "register",
        "sip:alice@127.0.0.1",
        "--password",
        "wrong",
        "--server",
        &at,
        "--once",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("registration failed: 401"), "{stdout}");
    // Kept registered until SIGTERM, then unregistered.
    let mut reg = Proc::spawn(
        "register",
        &[
            "register",
            "sip:bob@127.0.0.1",
            "--password",
            "secret",
            "--server",
            &at,
        ],
    );
    reg.expect("registered sip:bob@127.0.0.1", Duration::from_secs(10));
    let pid = reg.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    reg.expect("unregistered", Duration::from_secs(10));
    assert!(reg.wait(Duration::from_secs(10)).success());
}

/// Both user agents registered at `serve`; the caller's INVITE goes
/// through the server's proxy, which needs digest auth (407) from alice.
#[test]
#[ignore = "needs the proxy in serve (being committed separately)"]
fn call_through_serve_srtp_required_tone_both_ways() {
    let server = serve();
    let at = format!("127.0.0.1:{}", server.port);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (t1000, t600) = (tone(d, "1000.wav", 1000.0, 4), tone(d, "600.wav", 600.0, 6));
    let (rec_callee, rec_caller) = (d.join("callee.wav"), d.join("caller.wav"));
    let mut callee = Proc::spawn(
        "answer",
        &[
            "answer",
            "--as",
            "sip:bob@127.0.0.1",
            "--password",
            "secret",
            "--server",
            &at,
            "--play",
            s(&t600),
            "--record",
            s(&rec_callee),
            "--srtp",
            "required",
            "--once",
        ],
    );
    callee.expect("registered", Duration::from_secs(10));
    let mut caller = Proc::spawn(
        "call",
        &[
            "call",
            "sip:bob@127.0.0.1",
            "--as",
            "sip:alice@127.0.0.1",
            "--password",
            "secret",
            "--server",
            &at,
            "--play",
            s(&t1000),
            "--record",
            s(&rec_caller),
            "--duration",
            "3",
            "--srtp",
            "required",
        ],
    );
    let answered = caller.expect("answered:", Duration::from_secs(15));
    assert!(answered.contains("SRTP"), "{answered}");
    caller.expect("ended: local hangup", Duration::from_secs(15));
    assert!(caller.wait(Duration::from_secs(10)).success());
    callee.expect("ended: remote hangup", Duration::from_secs(10));
    callee.expect("unregistered", Duration::from_secs(10));
    assert!(callee.wait(Duration::from_secs(10)).success());
    assert_tone(&rec_callee, 1000.0);
    assert_tone(&rec_caller, 600.0);
}
