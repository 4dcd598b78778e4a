//! End-to-end tests: run the real `switchboard` binary on the RFC 4475
//! torture messages of `crates/proto/tests/data` and check what it prints
//! and how it exits.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use common::switchboard;

/// A fixture under crates/proto/tests/data.
fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../proto/tests/data")
        .join(name)
}

/// Runs the binary with `args`, feeding `stdin` to it.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = switchboard()
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start switchboard");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn parse_file(name: &str, extra: &[&str]) -> Output {
    let path = fixture(name);
    let mut args = vec!["parse", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(&args, b"")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every line of `text` with its indentation removed and runs of white
/// space squeezed to one space.
fn squeezed(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The first line of `text` that starts (after indentation) with `label`,
/// squeezed.
fn line(text: &str, label: &str) -> String {
    squeezed(text)
        .into_iter()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line {label:?} in\n{text}"))
}

#[test]
fn parses_the_tortuous_invite() {
    let o = parse_file("rfc4475/wsinv.dat", &[]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert!(
        out.starts_with("Request: INVITE sip:vivekg@chair-dnrc.example.com;unknownparam\n"),
        "{out}"
    );
    assert_eq!(line(&out, "user"), "user vivekg");
    assert_eq!(
        line(&out, "host"),
        "host chair-dnrc.example.com (domain name)"
    );
    assert_eq!(line(&out, "params"), "params unknownparam");
    assert_eq!(line(&out, "transport"), "transport UDP");
    assert!(
        line(&out, "branch").starts_with("branch 390skdjuw"),
        "{out}"
    );
    // The To tag survives folding and LWS around '=' and ';'.
    assert!(out.contains("1918181833n"), "{out}");
    let lines = squeezed(&out);
    let from = lines
        .iter()
        .position(|l| l.starts_with("From sip:jdrosen@example.com"))
        .expect("From");
    assert_eq!(lines[from + 1], "tag 98asjd8");
    let to = lines
        .iter()
        .position(|l| l.starts_with("To sip:vivekg@"))
        .expect("To");
    assert_eq!(lines[to + 1], "tag 1918181833n");
    assert_eq!(line(&out, "Call-ID"), "Call-ID wsinv.ndaksdj@192.0.2.1");
    assert_eq!(line(&out, "CSeq"), "CSeq 9 INVITE");
    assert_eq!(line(&out, "Max-Forwards"), "Max-Forwards 68");
    assert_eq!(line(&out, "Content-Length"), "Content-Length 150");
    // Every header line, with the name as recognised.
    assert!(out.contains("Header fields (14 lines):"), "{out}");
    assert!(out.contains("Via (as \"v\"): "), "{out}");
    assert!(
        out.contains("NewFangledHeader (unknown): newfangled value continued newfangled value"),
        "{out}"
    );
    assert!(out.contains("Body: 150 bytes of application/sdp"), "{out}");
    assert!(out.contains("Verdict: a server accepts it"), "{out}");
}

#[test]
fn bad_version_exits_1_with_505() {
    let o = parse_file("rfc4475/badvers.dat", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: unsupported SIP version at byte 0 (a server answers 505 Version Not Supported)\n"),
        "{err}"
    );
    assert!(
        err.contains("SIP/7.0"),
        "the offending line is shown: {err}"
    );
}

#[test]
fn parse_errors_give_the_offset_and_the_status() {
    let o = parse_file("rfc4475/badinv01.dat", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("error: invalid Via header"), "{err}");
    assert!(
        err.contains(" at byte ") && err.contains("(a server answers 400 Bad Request)"),
        "{err}"
    );

    // A response that does not parse is dropped, never answered.
    let o = parse_file("rfc4475/bigcode.dat", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("never answered"), "{}", stderr(&o));
}

#[test]
fn validation_says_what_a_server_answers() {
    let o = parse_file("rfc4475/novelsc.dat", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("Verdict: a server answers 416 Unsupported URI Scheme"),
        "{}",
        stdout(&o)
    );
    let o = parse_file("rfc4475/bext01.dat", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o).contains("Verdict: a server answers 420 Bad Extension"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn parses_a_response() {
    let o = parse_file("rfc4475/unreason.dat", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Response: 200 = 2**3 * 5**2"), "{out}");
    assert_eq!(line(&out, "status"), "status 200 (success)");
    assert!(out.contains("2229"), "To tag: {out}");
}

#[test]
fn reads_standard_input() {
    let bytes = std::fs::read(fixture("rfc4475/wsinv.dat")).unwrap();
    let o = run(&["parse", "-"], &bytes);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("1918181833n"));
}

#[test]
fn datagram_ignores_bytes_after_the_body() {
    let o = parse_file("rfc4475/dblreq.dat", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("Request: REGISTER"), "{out}");
    assert!(
        out.contains("bytes after the Content-Length body are ignored"),
        "{out}"
    );
}

#[test]
fn stream_parses_every_message() {
    let first = std::fs::read(fixture("rfc4475/wsinv.dat")).unwrap();
    let second = std::fs::read(fixture("rfc4475/regaut01.dat")).unwrap();
    let stream = [first.as_slice(), second.as_slice()].concat();
    let o = run(&["parse", "--stream", "-"], &stream);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "=== message 1: bytes 0..{} of the stream ===",
            first.len()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "=== message 2: bytes {}..{} of the stream ===",
            first.len(),
            stream.len()
        )),
        "{out}"
    );
    assert!(
        out.contains("Request: INVITE") && out.contains("1918181833n"),
        "{out}"
    );
    assert!(
        out.contains("Request: REGISTER") && out.contains("regaut01.0ha0isndaksdj"),
        "{out}"
    );
    assert!(!out.contains("message 3"), "{out}");
}

#[test]
fn stream_reports_a_message_cut_short() {
    let mut bytes = std::fs::read(fixture("rfc4475/wsinv.dat")).unwrap();
    bytes.truncate(bytes.len() - 20);
    let o = run(&["parse", "--stream", "-"], &bytes);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: the stream ends inside a message"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_file_exits_1() {
    let o = run(&["parse", "/nonexistent/switchboard-test.sip"], b"");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: cannot read /nonexistent/switchboard-test.sip"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_and_version() {
    let o = run(&["--version"], b"");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o).trim(),
        format!("switchboard {}", env!("CARGO_PKG_VERSION"))
    );

    let o = run(&["--help"], b"");
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("parse") && out.contains("serve"), "{out}");

    let o = run(&["parse", "--help"], b"");
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--stream"));

    let o = run(&["no-such-command"], b"");
    assert_eq!(o.status.code(), Some(2), "usage errors exit 2");
}
