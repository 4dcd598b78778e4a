//! End to end: a MESSAGE to a user with no device is kept durably by the
//! real `switchboard serve` (202), survives a kill -9 of the server, and
//! reaches the user's phone when it registers with the server started
//! again; once the phone answered 200 it is gone for good.
//!
//! Every child is killed by PID when its test ends (a guard), every wait
//! is bounded, ports are random, data directories temporary.

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

/// Every client is 127.0.0.1: no rate limit.
const CONFIG: &str = "[protection]\nrate_limit = false\n";

const BODY: &str = "see you at noon \u{2615}";

/// alice's MESSAGE to bob with a display name, a Date and a body; with
/// `auth` as Proxy-Authorization when given.
fn message(alice: &mut UdpPeer, cseq: u32, auth: Option<&str>) -> String {
    let branch = alice.branch();
    let local = alice.local();
    let auth = auth.map_or_else(String::new, |a| format!("Proxy-Authorization: {a}\r\n"));
    format!(
        "MESSAGE sip:bob@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch={branch};rport\r\n\
         Max-Forwards: 70\r\nFrom: \"Alice A.\" <sip:alice@{DOMAIN}>;tag=a1\r\n\
         To: <sip:bob@{DOMAIN}>\r\nCall-ID: offline-1\r\nCSeq: {cseq} MESSAGE\r\n\
         Date: Sun, 06 Dec 2026 03:00:00 GMT\r\n{auth}\
         Content-Type: text/plain;charset=utf-8\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    )
}

/// The body of a SIP message (after the blank line).
fn body(message: &str) -> &str {
    message.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// `server` said at start that it loaded `n` stored messages.
fn assert_loaded(server: &Server, n: usize) {
    let line = format!("0 publications, {n} stored messages loaded");
    assert!(server.log_text().contains(&line), "{}", server.log_text());
}

#[test]
fn a_message_kept_for_an_offline_user_survives_kill_9_and_arrives_when_it_registers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("bob", "bob-pw")]);
    let mut server = switchboard().serve(&data).config(CONFIG).start();
    let port = server.port;

    let mut alice = UdpPeer::new(server.addr());
    let first = message(&mut alice, 1, None);
    let challenge = alice.transact(&first).expect("an answer to MESSAGE");
    assert_eq!(status_code(&challenge), 407, "{challenge}");
    let uri = format!("sip:bob@{DOMAIN}");
    let auth = credentials(&challenge, "MESSAGE", &uri, "alice", "alice-pw");
    let second = message(&mut alice, 2, Some(&auth));
    let accepted = alice.transact(&second).expect("an answer to MESSAGE");
    assert_eq!(status_code(&accepted), 202, "{accepted}");

    // 202 means durable: a kill -9 right after loses nothing.
    server.process().signal("KILL");
    server.process().expect_exit(Duration::from_secs(10));
    let server = switchboard().serve(&data).config(CONFIG).port(port).start();
    assert_loaded(&server, 1);

    let mut bob = UdpPeer::new(server.addr());
    bob.register("bob", "bob-pw");
    let (got, _) = bob.recv_until(Duration::from_secs(10), |m| m.starts_with("MESSAGE "));
    let got = got.expect("bob gets the kept MESSAGE when he registers");
    assert!(
        got.starts_with(&format!("MESSAGE sip:bob@{} ", bob.local())),
        "{got}"
    );
    assert_eq!(
        header(&got, "From").unwrap(),
        format!("\"Alice A.\" <sip:alice@{DOMAIN}>;tag=a1")
    );
    assert_eq!(header(&got, "To").unwrap(), format!("<sip:bob@{DOMAIN}>"));
    assert_eq!(
        header(&got, "Date").unwrap(),
        "Sun, 06 Dec 2026 03:00:00 GMT"
    );
    assert_eq!(
        header(&got, "Content-Type").unwrap(),
        "text/plain;charset=utf-8"
    );
    assert_eq!(body(&got), BODY);
    bob.send(&response_to(&got, 200, "OK", "bob-tag", ""));

    // Delivered: a clean stop (everything acknowledged is written), a new
    // start and a new registration bring nothing again.
    let mut server = server;
    server.process().signal("TERM");
    server.process().expect_exit(Duration::from_secs(10));
    let server = switchboard().serve(&data).config(CONFIG).port(port).start();
    assert_loaded(&server, 0);
    let mut bob = UdpPeer::new(server.addr());
    bob.register("bob", "bob-pw");
    // Waiting for what must not come: a redelivery would follow the 200
    // OK of the REGISTER at once.
    let (again, _) = bob.recv_until(Duration::from_secs(2), |m| m.starts_with("MESSAGE "));
    assert!(again.is_none(), "delivered twice: {again:?}");
}
