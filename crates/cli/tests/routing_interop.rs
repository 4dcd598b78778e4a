//! Interop test of the dial plan's inbound side (issue 12) with a real
//! phone: a carrier (SIPp, from its own network 127.0.0.2) delivers a call
//! to a DID of its trunk; the plan maps the DID to alice, registered with
//! baresip (Debian package `baresip`), who answers.
//!
//! Every child is killed by PID when the test ends (a guard), every wait
//! is bounded, ports are random, the data directory temporary.

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

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// alice's DID at the carrier.
const DID: &str = "+493012345601";

/// The carrier's INVITE to [`DID`] from `ip` (uac_carrier.xml), held one
/// second, run to its end.
fn carrier_calls(dir: &std::path::Path, server: &Server, ip: &str) -> SippRun {
    Sipp::new(&format!("carrier from {ip}"), dir)
        .args(&["-sf", path_str(&scenario("uac_carrier.xml"))])
        .loopback_udp_from(ip, free_port())
        .args(&["-s", DID, "-key", "caller", "+4940111222"])
        .args(&["-m", "1", "-d", "1000"])
        .args(&["-recv_timeout", "15000", "-timeout", "30", "-timeout_error"])
        .args(&[&server.addr().to_string()])
        .run(s(40))
}

/// A call from the trunk's network (127.0.0.2) to a DID is the trunk's:
/// no challenge, the DID's target (alice on baresip) rings and answers,
/// the carrier hangs up. The same INVITE from an address outside the
/// trunk's networks is not a carrier's call and does not reach alice.
#[test]
fn a_carrier_call_to_a_did_reaches_alice_on_baresip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "alice-Secret-1")]);
    let plan = format!(
        r#"[routing]
country_code = "49"

[[trunk]]
name = "carrier"
gateways = ["sip:127.0.0.2:{}"]
inbound_networks = ["127.0.0.2/32"]
[trunk.dids]
"{DID}" = "user:alice"
"#,
        free_port()
    );
    let server = switchboard().serve(&data).config(&plan).start();
    let alice = Baresip::builder(dir.path(), "alice")
        .registrar(server.port, "udp", "alice-Secret-1")
        .auto_answer()
        .start();
    server.wait_registered("sip:alice@127.0.0.1", s(15));

    let run = carrier_calls(dir.path(), &server, "127.0.0.2");
    assert!(
        run.success() && run.successful() == 1,
        "{}\n{}\n{}",
        run.report(),
        alice.report(),
        server.log_text()
    );
    assert!(
        alice.wait_event("CALL_ESTABLISHED", s(10)),
        "{}",
        alice.report()
    );
    assert!(alice.wait_event("CALL_CLOSED", s(10)), "{}", alice.report());

    let stranger = carrier_calls(dir.path(), &server, "127.0.0.3");
    // Refused by the server (alice's DID is no user: 404/480), not lost.
    assert!(
        stranger.successful() == 0 && stranger.errors.contains("received 'SIP/2.0 4"),
        "a call from outside the trunk's networks went through:\n{}",
        stranger.report()
    );
    assert_eq!(
        alice.event_count("CALL_ESTABLISHED"),
        1,
        "{}",
        alice.report()
    );
}
