//! Interop with SIPp (Debian package `sip-tester`): SIPp's built-in `uac`
//! scenario and its `uas` with one answer per request (`tests/sipp/uas.xml`)
//! place and answer thousands of calls against the test peers built on the
//! Switchboard endpoint, over UDP and TCP. SIPp's screen, stderr and
//! `-trace_err` log are kept (under target/tmp) and shown on failure.
//! Loopback only; every process is bounded in time and killed by PID when
//! the test ends.
//!
//! SIPp here has no TLS (`-t l1` is not compiled in), so TLS is covered by
//! switchboard-net's own tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use switchboard_testsupport::{Proc, Sipp, Stream, free_port, wait_for};

const CALLS: u32 = 2000;
const RATE: u32 = 400;

/// A directory of this run for SIPp's logs, under target/ for a look
/// after a failure.
fn log_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the test UAS on a free port; returns it and the port.
fn start_uas(transport: &str) -> (Proc, u16) {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sip-test-uas"));
    command.args([
        "--listen",
        &format!("{transport}:127.0.0.1:{port}"),
        "--seconds",
        "120",
    ]);
    let uas = Proc::spawn("sip-test-uas", command);
    uas.expect_line(Stream::Stdout, "listening", Duration::from_secs(10));
    (uas, port)
}

fn sipp_uac_against_our_uas(transport: &str, sipp_transport: &str) {
    let (_uas, port) = start_uas(transport);
    let dir = log_dir(&format!("sipp-uac-{transport}"));
    let local = free_port().to_string();
    let run = Sipp::new("uac", &dir)
        .args(&["-sn", "uac", &format!("127.0.0.1:{port}")])
        .args(&["-t", sipp_transport, "-i", "127.0.0.1", "-p", &local])
        .args(&["-m", &CALLS.to_string(), "-r", &RATE.to_string(), "-d", "0"])
        .args(&["-timeout", "100", "-timeout_error"])
        .run(Duration::from_secs(120));
    assert!(run.success(), "sipp exited with failure\n{}", run.report());
    assert_eq!(
        (run.successful(), run.failed()),
        (CALLS, 0),
        "{}",
        run.report()
    );
}

fn our_uac_against_sipp_uas(transport: &str, sipp_transport: &str) {
    let port = free_port();
    let dir = log_dir(&format!("sipp-uas-{transport}"));
    // SIPp's uas with one answer per request (tests/sipp/uas.xml says
    // why). SIPp's own -timeout bounds it; the guard kills it by PID.
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/uas.xml");
    let sipp_uas = Sipp::new("uas", &dir)
        .args(&["-sf", scenario.to_str().unwrap()])
        .args(&["-t", sipp_transport, "-i", "127.0.0.1"])
        .args(&["-p", &port.to_string(), "-m", &CALLS.to_string()])
        .args(&["-timeout", "100"])
        .spawn();
    sipp_uas.wait_listening(port, transport == "tcp", Duration::from_secs(10));
    let mut command = Command::new(env!("CARGO_BIN_EXE_sip-test-uac"));
    command
        .args(["--target", &format!("{transport}:127.0.0.1:{port}")])
        .args(["--calls", &CALLS.to_string(), "--rate", &RATE.to_string()]);
    let mut uac = Proc::spawn("sip-test-uac", command);
    let status = uac.expect_exit(Duration::from_secs(120));
    let stdout = uac.lines(Stream::Stdout).join("\n");
    assert!(status.success(), "UAC failed:\n{}", uac.report());
    assert!(
        stdout.contains(&format!("{CALLS} passed, 0 failed")),
        "{stdout}"
    );
    // SIPp's uas ends by itself after CALLS calls (each ends 4 s after
    // its BYE: the scenario's timewait).
    let run = sipp_uas.wait(Duration::from_secs(60));
    assert!(
        run.success(),
        "sipp uas: {:?}\n{}",
        run.status,
        run.report()
    );
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
    let mut command = Command::new(env!("CARGO_BIN_EXE_sip-test-uas"));
    command
        .args([
            "--listen",
            &format!("tls:127.0.0.1:{port}"),
            "--seconds",
            "60",
        ])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key);
    let uas = Proc::spawn("sip-test-uas", command);
    let line = uas.expect_line(Stream::Stdout, "listening", Duration::from_secs(10));
    assert!(line.starts_with("listening TLS"), "{line}");
    let options = format!(
        "OPTIONS sip:uas@127.0.0.1:{port};transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKossl1;rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:ossl@127.0.0.1>;tag=o1\r\nTo: <sip:uas@127.0.0.1>\r\n\
         Call-ID: openssl-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    let mut command = Command::new("openssl");
    command.args([
        "s_client",
        "-quiet",
        "-connect",
        &format!("127.0.0.1:{port}"),
    ]);
    let mut client = Proc::spawn_with_stdin("openssl s_client", command);
    client.write_stdin(&options);
    assert!(
        wait_for(Duration::from_secs(10), || !client
            .lines(Stream::Stdout)
            .is_empty()),
        "no answer over TLS\n{}",
        client.report()
    );
    let status = client.lines(Stream::Stdout).remove(0);
    drop(client);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.trim_end(), "SIP/2.0 200 OK");
}
