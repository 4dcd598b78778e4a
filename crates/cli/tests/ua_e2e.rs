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

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

use switchboard_media::audio::{
    ToneGenerator, dominant_frequency, read_wav_file_8k, rms_dbfs, write_wav_file,
};

/// `switchboard args` run to its end.
fn run(args: &[&str]) -> std::process::Output {
    switchboard().run(args)
}

/// `switchboard args` in the background as `name`.
fn spawn(name: &str, args: &[&str]) -> Proc {
    switchboard().spawn(name, args)
}

/// The caller hangs up when its duration ends (within `limit`) and exits
/// 0; the callee sees the remote hangup.
fn hung_up(caller: &mut Proc, callee: &Proc, limit: Duration) {
    caller.expect_line(Stream::Stdout, "ended: local hangup", limit);
    assert!(caller.expect_exit(Duration::from_secs(10)).success());
    callee.expect_line(
        Stream::Stdout,
        "ended: remote hangup",
        Duration::from_secs(10),
    );
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
fn direct_call(srtp: &str, tls: bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Over TLS both sides listen on TLS with one self-signed certificate
    // for 127.0.0.1, which both trust.
    let mut transport: Vec<String> = Vec::new();
    if tls {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        let (cert_pem, key_pem) = (d.join("cert.pem"), d.join("key.pem"));
        std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
        std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();
        for a in [
            "--transport",
            "tls",
            "--ca",
            s(&cert_pem),
            "--tls-cert",
            s(&cert_pem),
            "--tls-key",
            s(&key_pem),
        ] {
            transport.push(a.to_owned());
        }
    }
    let transport: Vec<&str> = transport.iter().map(String::as_str).collect();
    let (t1000, t600) = (tone(d, "1000.wav", 1000.0, 4), tone(d, "600.wav", 600.0, 6));
    let (rec_callee, rec_caller) = (d.join("callee.wav"), d.join("caller.wav"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut callee = spawn(
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
        ]
        .iter()
        .chain(&transport)
        .copied()
        .collect::<Vec<_>>(),
    );
    callee.expect_line(Stream::Stdout, "listening on", Duration::from_secs(10));
    let target = if tls {
        format!("sip:bob@127.0.0.1:{port};transport=tls")
    } else {
        format!("sip:bob@127.0.0.1:{port}")
    };
    let mut caller = spawn(
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
        ]
        .iter()
        .chain(&transport)
        .copied()
        .collect::<Vec<_>>(),
    );
    caller.expect_line(Stream::Stdout, "ringing", Duration::from_secs(10));
    let answered = caller.expect_line(Stream::Stdout, "answered:", Duration::from_secs(10));
    if srtp == "required" {
        assert!(
            answered.contains("SRTP AES_CM_128_HMAC_SHA1_80"),
            "{answered}"
        );
    }
    hung_up(&mut caller, &callee, Duration::from_secs(15));
    assert!(callee.expect_exit(Duration::from_secs(10)).success());
    assert!(callee.find_line(Stream::Stdout, "answered:").is_some());
    // The DTMF went through as telephone-events.
    for digit in ["dtmf 4", "dtmf 2", "dtmf #"] {
        assert!(
            callee.find_line(Stream::Stdout, digit).is_some(),
            "callee heard no {digit}"
        );
    }
    let media = caller.expect_line(Stream::Stdout, "media: sent", Duration::from_secs(1));
    assert!(media.contains("rejected 0"), "{media}");
    assert_tone(&rec_callee, 1000.0);
    assert_tone(&rec_caller, 600.0);
}

#[test]
fn direct_call_udp_srtp_required_tone_both_ways() {
    direct_call("required", false);
}

#[test]
fn direct_call_tls_srtp_required_tone_both_ways() {
    direct_call("required", true);
}

#[test]
fn direct_call_plain_rtp() {
    direct_call("off", false);
}

#[test]
fn srtp_required_against_off_fails_with_488() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let callee = spawn(
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
    callee.expect_line(Stream::Stdout, "listening on", Duration::from_secs(10));
    let target = format!("sip:bob@127.0.0.1:{port}");
    let mut caller = spawn("call", &["call", &target, "--srtp", "required"]);
    let line = caller.expect_line(Stream::Stdout, "failed:", Duration::from_secs(10));
    assert!(line.starts_with("failed: 488"), "{line}");
    let status = caller.expect_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1));
}

#[test]
fn call_to_nobody_fails_with_a_status() {
    // Nothing listens on the port: ICMP makes UDP fail fast or Timer B
    // runs out; either way a status and a non-zero exit. TCP fails at once.
    let port = free_port();
    let target = format!("sip:bob@127.0.0.1:{port}");
    let mut caller = spawn("call", &["call", &target, "--transport", "tcp"]);
    let line = caller.expect_line(Stream::Stdout, "failed:", Duration::from_secs(40));
    assert!(line.starts_with("failed: 503"), "{line}");
    assert_eq!(caller.expect_exit(Duration::from_secs(10)).code(), Some(1));
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
    let callee = spawn(
        "answer",
        &["answer", "--as", "sip:bob@127.0.0.1", "--listen", &listen],
    );
    callee.expect_line(Stream::Stdout, "listening on", Duration::from_secs(10));
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
    let line = callee.expect_line(Stream::Stdout, "message from", Duration::from_secs(5));
    // A host name is looked up (localhost: 127.0.0.1).
    let named = format!("sip:bob@localhost:{port}");
    let out = run(&["message", &named, "by name", "--as", "sip:alice@127.0.0.1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    callee.expect_line(Stream::Stdout, ": by name", Duration::from_secs(5));
    assert!(
        line.contains("sip:alice@127.0.0.1") && line.ends_with(": hello bob"),
        "{line}"
    );
}

// ----- against `switchboard serve` -----

struct Serve {
    server: Server,
    /// UDP and TCP.
    port: u16,
    /// TLS.
    tls_port: u16,
    /// WebSocket.
    ws_port: u16,
    /// A certificate for 127.0.0.1 and its key, which the server uses and
    /// the user agents trust (and use for their own TLS listeners).
    cert: PathBuf,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts `serve` on UDP, TCP, TLS and WS with users alice, bob and carol (password
/// `secret`) in domain 127.0.0.1; waits for "ready".
fn serve() -> Serve {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(
        &data,
        &[("alice", "secret"), ("bob", "secret"), ("carol", "secret")],
    );
    let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let (tls_port, ws_port) = (free_port(), free_port());
    let server = switchboard()
        .serve(&data)
        .config(NO_RATE_LIMIT)
        .listen(&format!("tls:127.0.0.1:{tls_port}"))
        .listen(&format!("ws:127.0.0.1:{ws_port}"))
        .certificate(&cert, &key)
        .start();
    Serve {
        port: server.port,
        server,
        tls_port,
        ws_port,
        cert,
        key,
        _dir: dir,
    }
}

#[test]
fn register_refresh_and_unregister_against_serve() {
    let server = serve();
    let at = format!("127.0.0.1:{}", server.port);
    let ports = [
        ("udp", server.port),
        ("tcp", server.port),
        ("ws", server.ws_port),
        ("tls", server.tls_port),
    ];
    for (transport, port) in ports {
        let at = format!("127.0.0.1:{port}");
        let out = run(&[
            "register",
            "sip:alice@127.0.0.1",
            "--password",
            "secret",
            "--server",
            &at,
            "--transport",
            transport,
            "--ca",
            s(&server.cert),
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
    let mut reg = spawn(
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
    reg.expect_line(
        Stream::Stdout,
        "registered sip:bob@127.0.0.1",
        Duration::from_secs(10),
    );
    reg.signal("TERM");
    reg.expect_line(Stream::Stdout, "unregistered", Duration::from_secs(10));
    assert!(reg.expect_exit(Duration::from_secs(10)).success());
}

/// Both user agents registered at `serve`; the caller's INVITE goes
/// through the server's proxy, which needs digest auth (407) from alice.
/// Over TLS both also listen on TLS (the server reaches bob there).
fn call_through_serve(tls: bool) {
    let server = serve();
    let mut shared: Vec<String> = Vec::new();
    if tls {
        let at = format!("127.0.0.1:{}", server.tls_port);
        for a in [
            "--server",
            &at,
            "--transport",
            "tls",
            "--ca",
            s(&server.cert),
        ] {
            shared.push(a.to_owned());
        }
        for a in ["--tls-cert", s(&server.cert), "--tls-key", s(&server.key)] {
            shared.push(a.to_owned());
        }
    } else {
        shared.push("--server".into());
        shared.push(format!("127.0.0.1:{}", server.port));
    }
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| (*a).to_owned())
            .chain(shared.iter().cloned())
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (t1000, t600) = (tone(d, "1000.wav", 1000.0, 4), tone(d, "600.wav", 600.0, 6));
    let (rec_callee, rec_caller) = (d.join("callee.wav"), d.join("caller.wav"));
    let callee_args = with(&[
        "answer",
        "--as",
        "sip:bob@127.0.0.1",
        "--password",
        "secret",
        "--play",
        s(&t600),
        "--record",
        s(&rec_callee),
        "--srtp",
        "required",
        "--once",
    ]);
    let callee_args: Vec<&str> = callee_args.iter().map(String::as_str).collect();
    let mut callee = spawn("answer", &callee_args);
    callee.expect_line(Stream::Stdout, "registered", Duration::from_secs(10));
    let caller_args = with(&[
        "call",
        "sip:bob@127.0.0.1",
        "--as",
        "sip:alice@127.0.0.1",
        "--password",
        "secret",
        "--play",
        s(&t1000),
        "--record",
        s(&rec_caller),
        "--duration",
        "3",
        "--srtp",
        "required",
    ]);
    let caller_args: Vec<&str> = caller_args.iter().map(String::as_str).collect();
    let mut caller = spawn("call", &caller_args);
    let answered = caller.expect_line(Stream::Stdout, "answered:", Duration::from_secs(15));
    assert!(answered.contains("SRTP"), "{answered}");
    hung_up(&mut caller, &callee, Duration::from_secs(15));
    callee.expect_line(Stream::Stdout, "unregistered", Duration::from_secs(10));
    assert!(callee.expect_exit(Duration::from_secs(10)).success());
    assert_tone(&rec_callee, 1000.0);
    assert_tone(&rec_caller, 600.0);
}

#[test]
fn call_through_serve_udp_srtp_required_tone_both_ways() {
    call_through_serve(false);
}

#[test]
fn call_through_serve_tls_srtp_required_tone_both_ways() {
    call_through_serve(true);
}

// ----- interop with baresip (direct calls, SRTP-SDES mandatory) -----

/// A baresip for `user` that answers by itself, plays a `tone_hz` tone
/// (aufile) and dumps the decoded audio it receives (sndfile); with
/// `registrar` (a server's UDP port) it registers there (password
/// `secret`) and uses it as its outbound proxy, else it takes calls
/// directly.
fn baresip(
    dir: &Path,
    user: &str,
    tone_hz: f32,
    mediaenc: &str,
    registrar: Option<u16>,
) -> Baresip {
    let mut phone = Baresip::builder(dir, user)
        .tone(f64::from(tone_hz))
        .mediaenc(mediaenc)
        .auto_answer()
        .dump_received_audio();
    if let Some(port) = registrar {
        phone = phone.registrar(port, "udp", "secret");
    }
    phone.start()
}

/// The captured datagrams of `--capture`.
fn captured(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at + 2 <= bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        out.push(bytes[at + 2..at + 2 + len].to_vec());
        at += 2 + len;
    }
    out
}

/// The fraction of the energy at `hz` when the payloads of `datagrams`
/// (after a 12-byte RTP header) are decoded as clear PCMU: near 1 for a
/// clear tone, near 0 for encrypted payloads.
fn clear_tone_fraction(datagrams: &[Vec<u8>], hz: f32) -> f64 {
    let mut pcm: Vec<f64> = Vec::new();
    for d in datagrams
        .iter()
        .filter(|d| d.len() == 12 + 160 || d.len() > 12 + 160)
    {
        let mut out = Vec::new();
        switchboard_media::g711::G711::Ulaw.decode(&d[12..12 + 160], &mut out);
        pcm.extend(out.iter().map(|s| f64::from(*s)));
    }
    assert!(pcm.len() >= 8_000, "only {} samples captured", pcm.len());
    let window = &pcm[pcm.len() / 4..pcm.len() / 4 + 4_000];
    let energy: f64 = window.iter().map(|v| v * v).sum::<f64>().max(1.0);
    let w = 2.0 * std::f64::consts::PI * f64::from(hz) / 8_000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for v in window {
        let s0 = v + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - c * s1 * s2) * 2.0 / window.len() as f64 / energy
}

/// switchboard calls baresip (`mediaenc srtp-mand`) with SRTP required:
/// the call connects, each side hears the other's tone, and what came
/// off the wire is not the clear tone.
#[test]
fn interop_switchboard_calls_baresip_srtp_mandatory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bare = baresip(d, "bob", 880.0, "srtp-mand", None);
    let t1000 = tone(d, "1000.wav", 1000.0, 6);
    let (rec, cap) = (d.join("heard.wav"), d.join("capture.bin"));
    let target = format!("sip:bob@127.0.0.1:{}", bare.sip_port);
    let mut caller = spawn(
        "call",
        &[
            "call",
            &target,
            "--as",
            "sip:alice@127.0.0.1",
            "--srtp",
            "required",
            "--play",
            s(&t1000),
            "--record",
            s(&rec),
            "--capture",
            s(&cap),
            "--duration",
            "4",
        ],
    );
    let answered = caller.expect_line(Stream::Stdout, "answered:", Duration::from_secs(15));
    assert!(answered.contains("SRTP AES_CM_128_HMAC_SHA1"), "{answered}");
    caller.expect_line(
        Stream::Stdout,
        "ended: local hangup",
        Duration::from_secs(15),
    );
    assert!(caller.expect_exit(Duration::from_secs(10)).success());
    let log = bare.log();
    assert!(log.contains("RTP/SAVP"), "baresip saw no RTP/SAVP:\n{log}");
    let media = caller.expect_line(Stream::Stdout, "media: sent", Duration::from_secs(1));
    assert!(media.contains("rejected 0"), "{media}");
    assert_tone(&rec, 880.0);
    // baresip decoded our 1000 Hz tone (its own check of its dump).
    let dump = bare.wait_received_audio(Duration::from_secs(10));
    let (freq, level) = analyse(&dump);
    assert!(
        (freq - 1000.0).abs() <= 20.0 && level > -30.0,
        "baresip heard {freq} Hz at {level} dBFS"
    );
    // The capture: SRTP, not clear PCMU of baresip's 880 Hz.
    let frac = clear_tone_fraction(&captured(&cap), 880.0);
    assert!(frac < 0.2, "payload looks like clear 880 Hz ({frac})");
}

/// baresip calls switchboard `answer` with SRTP mandatory on both sides.
#[test]
fn interop_baresip_calls_switchboard_srtp_mandatory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut bare = baresip(d, "alice", 440.0, "srtp-mand", None);
    let t1000 = tone(d, "1000.wav", 1000.0, 10);
    let (rec, cap) = (d.join("heard.wav"), d.join("capture.bin"));
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut callee = spawn(
        "answer",
        &[
            "answer",
            "--as",
            "sip:bob@127.0.0.1",
            "--listen",
            &listen,
            "--srtp",
            "required",
            "--play",
            s(&t1000),
            "--record",
            s(&rec),
            "--capture",
            s(&cap),
            "--once",
        ],
    );
    callee.expect_line(Stream::Stdout, "listening on", Duration::from_secs(10));
    bare.command("dial", &format!("sip:bob@127.0.0.1:{port}"));
    let answered = callee.expect_line(Stream::Stdout, "answered:", Duration::from_secs(15));
    assert!(answered.contains("SRTP AES_CM_128_HMAC_SHA1"), "{answered}");
    // The call's length: four seconds of each tone (no event to wait for).
    std::thread::sleep(Duration::from_secs(4));
    bare.command("hangup", "");
    callee.expect_line(
        Stream::Stdout,
        "ended: remote hangup",
        Duration::from_secs(10),
    );
    assert!(callee.expect_exit(Duration::from_secs(10)).success());
    assert_tone(&rec, 440.0);
    let (freq, level) = analyse(&bare.wait_received_audio(Duration::from_secs(10)));
    assert!(
        (freq - 1000.0).abs() <= 20.0 && level > -30.0,
        "baresip heard {freq} Hz at {level} dBFS"
    );
    let frac = clear_tone_fraction(&captured(&cap), 440.0);
    assert!(frac < 0.2, "payload looks like clear 440 Hz ({frac})");
}

/// The capture check itself: with plain RTP the payload is the clear tone.
#[test]
fn capture_of_plain_rtp_shows_the_clear_tone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let t600 = tone(d, "600.wav", 600.0, 6);
    let cap = d.join("capture.bin");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let callee = spawn(
        "answer",
        &[
            "answer",
            "--as",
            "sip:bob@127.0.0.1",
            "--listen",
            &listen,
            "--srtp",
            "off",
            "--play",
            s(&t600),
            "--once",
        ],
    );
    callee.expect_line(Stream::Stdout, "listening on", Duration::from_secs(10));
    let target = format!("sip:bob@127.0.0.1:{port}");
    let mut caller = spawn(
        "call",
        &[
            "call",
            &target,
            "--srtp",
            "off",
            "--capture",
            s(&cap),
            "--duration",
            "3",
        ],
    );
    caller.expect_line(
        Stream::Stdout,
        "ended: local hangup",
        Duration::from_secs(15),
    );
    assert!(caller.expect_exit(Duration::from_secs(10)).success());
    let frac = clear_tone_fraction(&captured(&cap), 600.0);
    assert!(frac > 0.8, "clear PCMU of 600 Hz expected ({frac})");
}

/// Hold and resume by re-INVITE: the caller goes sendonly (the callee
/// recvonly, and stops sending), then both sendrecv again; against
/// switchboard and against baresip.
#[test]
fn hold_and_resume_by_reinvite() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let callee = spawn(
        "answer",
        &[
            "answer",
            "--as",
            "sip:bob@127.0.0.1",
            "--listen",
            &listen,
            "--srtp",
            "required",
            "--once",
        ],
    );
    callee.expect_line(Stream::Stdout, "listening on", Duration::from_secs(10));
    let target = format!("sip:bob@127.0.0.1:{port}");
    let hold = [
        "--hold-at",
        "1",
        "--resume-at",
        "2",
        "--duration",
        "3",
        "--srtp",
        "required",
    ];
    let mut caller = spawn(
        "call",
        &[&["call", target.as_str()][..], &hold[..]].concat(),
    );
    caller.expect_line(Stream::Stdout, "holding", Duration::from_secs(10));
    let held = caller.expect_line(Stream::Stdout, "media: PCMU", Duration::from_secs(5));
    assert!(held.contains("sendonly"), "{held}");
    caller.expect_line(Stream::Stdout, "resuming", Duration::from_secs(5));
    hung_up(&mut caller, &callee, Duration::from_secs(10));
    let updates: Vec<String> = callee
        .lines(Stream::Stdout)
        .into_iter()
        .filter(|l| l.starts_with("media: PCMU"))
        .collect();
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert!(
        updates[0].contains("recvonly") && updates[1].contains("sendrecv"),
        "{updates:?}"
    );
    let resumed: Vec<String> = caller
        .lines(Stream::Stdout)
        .into_iter()
        .filter(|l| l.starts_with("media: PCMU"))
        .collect();
    assert!(
        resumed.len() == 2 && resumed[1].contains("sendrecv"),
        "{resumed:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bare = baresip(dir.path(), "carol", 880.0, "srtp-mand", None);
    let target = format!("sip:carol@127.0.0.1:{}", bare.sip_port);
    let mut caller = spawn(
        "call",
        &[&["call", target.as_str()][..], &hold[..]].concat(),
    );
    let held = caller.expect_line(Stream::Stdout, "media: PCMU", Duration::from_secs(10));
    assert!(held.contains("sendonly"), "{held}\n{}", bare.log());
    caller.expect_line(
        Stream::Stdout,
        "ended: local hangup",
        Duration::from_secs(10),
    );
    assert!(caller.expect_exit(Duration::from_secs(10)).success());
    let resumed: Vec<String> = caller
        .lines(Stream::Stdout)
        .into_iter()
        .filter(|l| l.starts_with("media: PCMU"))
        .collect();
    assert!(
        resumed.len() == 2 && resumed[1].contains("sendrecv"),
        "{resumed:?}"
    );
}

/// Through `serve`, SRTP mandatory: baresip (registered) calls switchboard
/// `answer` (registered), then switchboard `call` calls that baresip;
/// each side hears the other's tone.
#[test]
fn interop_with_baresip_through_serve() {
    let server = serve();
    let at = format!("127.0.0.1:{}", server.port);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut bare = baresip(d, "carol", 440.0, "srtp-mand", Some(server.port));
    let t1000 = tone(d, "1000.wav", 1000.0, 10);
    let rec = d.join("bob-heard.wav");
    let mut callee = spawn(
        "answer",
        &[
            "answer",
            "--as",
            "sip:bob@127.0.0.1",
            "--password",
            "secret",
            "--server",
            &at,
            "--srtp",
            "required",
            "--play",
            s(&t1000),
            "--record",
            s(&rec),
            "--once",
        ],
    );
    callee.expect_line(Stream::Stdout, "registered", Duration::from_secs(10));
    server
        .server
        .wait_registered("sip:carol@127.0.0.1", Duration::from_secs(15));
    bare.command("dial", "sip:bob@127.0.0.1");
    let answered = callee.expect_line(Stream::Stdout, "answered:", Duration::from_secs(15));
    assert!(
        answered.contains("SRTP AES_CM_128_HMAC_SHA1"),
        "{answered}\n{}",
        bare.log()
    );
    // The call's length: four seconds of each tone (no event to wait for).
    std::thread::sleep(Duration::from_secs(4));
    bare.command("hangup", "");
    callee.expect_line(
        Stream::Stdout,
        "ended: remote hangup",
        Duration::from_secs(10),
    );
    assert!(callee.expect_exit(Duration::from_secs(10)).success());
    assert_tone(&rec, 440.0);
    let (freq, level) = analyse(&bare.wait_received_audio(Duration::from_secs(10)));
    assert!(
        (freq - 1000.0).abs() <= 20.0 && level > -30.0,
        "baresip heard {freq} Hz at {level} dBFS"
    );

    // And the other way: alice calls carol through the server.
    let rec = d.join("alice-heard.wav");
    let mut caller = spawn(
        "call",
        &[
            "call",
            "sip:carol@127.0.0.1",
            "--as",
            "sip:alice@127.0.0.1",
            "--password",
            "secret",
            "--server",
            &at,
            "--srtp",
            "required",
            "--play",
            s(&t1000),
            "--record",
            s(&rec),
            "--duration",
            "4",
        ],
    );
    let answered = caller.expect_line(Stream::Stdout, "answered:", Duration::from_secs(15));
    assert!(
        answered.contains("SRTP AES_CM_128_HMAC_SHA1"),
        "{answered}\n{}",
        bare.log()
    );
    caller.expect_line(
        Stream::Stdout,
        "ended: local hangup",
        Duration::from_secs(15),
    );
    assert!(caller.expect_exit(Duration::from_secs(10)).success());
    assert_tone(&rec, 440.0);
}
