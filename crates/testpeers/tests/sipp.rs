//! Interop with SIPp (Debian package `sip-tester`): SIPp's built-in `uac`
//! and `uas` scenarios place and answer thousands of calls against the test
//! peers built on the Switchboard endpoint, over UDP and TCP. Loopback only;
//! every process is bounded in time and killed by PID when the test ends.
//!
//! SIPp here has no TLS (`-t l1` is not compiled in), so TLS is covered by
//! switchboard-net's own tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CALLS: u32 = 2000;
const RATE: u32 = 400;

/// Kills the child by PID when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sipp() -> &'static str {
    let ok = Command::new("sipp").arg("-v").output().is_ok();
    assert!(
        ok,
        "sipp is not installed (Debian: apt-get install -y sip-tester); scripts/test.sh installs it"
    );
    "sipp"
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

/// Starts the test UAS on a free port; returns it and the port.
fn start_uas(transport: &str) -> (Guard, u16) {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sip-test-uas"))
        .args([
            "--listen",
            &format!("{transport}:127.0.0.1:{port}"),
            "--seconds",
            "120",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening"), "UAS did not start: {line}");
    (Guard(child), port)
}

/// Runs SIPp to completion (bounded) and returns (exit success, successful
/// calls, failed calls) from its final statistics screen.
fn run_sipp(args: &[String]) -> (bool, u32, u32) {
    let out = Command::new("timeout")
        .arg("120")
        .arg(sipp())
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let count = |label: &str| -> u32 {
        text.lines()
            .rfind(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split('|').nth(2))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(0)
    };
    let ok = out.status.success();
    if !ok {
        eprintln!("{text}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    (ok, count("Successful call"), count("Failed call"))
}

fn sipp_uac_against_our_uas(transport: &str, sipp_transport: &str) {
    let (_uas, port) = start_uas(transport);
    let local = free_port();
    let args: Vec<String> = [
        "-sn",
        "uac",
        &format!("127.0.0.1:{port}"),
        "-t",
        sipp_transport,
        "-i",
        "127.0.0.1",
        "-p",
        &local.to_string(),
        "-m",
        &CALLS.to_string(),
        "-r",
        &RATE.to_string(),
        "-d",
        "0",
        "-timeout",
        "100",
        "-timeout_error",
        "-nostdin",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (ok, success, failed) = run_sipp(&args);
    assert!(ok, "sipp exited with failure");
    assert_eq!((success, failed), (CALLS, 0));
}

fn our_uac_against_sipp_uas(transport: &str, sipp_transport: &str) {
    let port = free_port();
    // Spawned directly (not under `timeout`): the guard kills SIPp itself
    // by PID, and SIPp's own -timeout bounds it.
    let sipp_uas = Command::new(sipp())
        .args([
            "-sn",
            "uas",
            "-t",
            sipp_transport,
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(["-m", &CALLS.to_string(), "-timeout", "100", "-nostdin"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut sipp_uas = Guard(sipp_uas);
    std::thread::sleep(Duration::from_millis(500));
    let out = Command::new("timeout")
        .arg("120")
        .arg(env!("CARGO_BIN_EXE_sip-test-uac"))
        .args(["--target", &format!("{transport}:127.0.0.1:{port}")])
        .args(["--calls", &CALLS.to_string(), "--rate", &RATE.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "UAC failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{CALLS} passed, 0 failed")),
        "{stdout}"
    );
    // SIPp's uas ends by itself after CALLS calls.
    let status = sipp_uas.0.wait().unwrap();
    assert!(status.success(), "sipp uas: {status}");
}

#[test]
fn sipp_uac_calls_our_uas_over_udp() {
    sipp_uac_against_our_uas("udp", "u1");
}

#[test]
fn sipp_uac_calls_our_uas_over_tcp() {
    sipp_uac_against_our_uas("tcp", "t1");
}

#[test]
fn our_uac_calls_sipp_uas_over_udp() {
    our_uac_against_sipp_uas("udp", "u1");
}

#[test]
fn our_uac_calls_sipp_uas_over_tcp() {
    our_uac_against_sipp_uas("tcp", "t1");
}

/// A TLS client nobody here wrote (OpenSSL's `s_client`) sends OPTIONS to
/// the TLS listener and reads the 200.
#[test]
fn openssl_client_gets_an_answer_over_tls() {
    let dir = std::env::temp_dir().join(format!("sb-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sip-test-uas"))
        .args([
            "--listen",
            &format!("tls:127.0.0.1:{port}"),
            "--seconds",
            "60",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _uas = Guard(child);
    assert!(line.starts_with("listening TLS"), "{line}");
    let options = format!(
        "OPTIONS sip:uas@127.0.0.1:{port};transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKossl1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:ossl@127.0.0.1>;tag=o1\r\nTo: <sip:uas@127.0.0.1>\r\n\
         Call-ID: openssl-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    let mut client = Command::new("timeout")
        .args([
            "10",
            "openssl",
            "s_client",
            "-quiet",
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = client.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, options.as_bytes()).unwrap();
    let mut reader = BufReader::new(client.stdout.take().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    drop(stdin);
    let _ = client.kill();
    let _ = client.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.trim_end(), "SIP/2.0 200 OK");
}
