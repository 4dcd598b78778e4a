//! Mid-dialog requests and session timers end to end: `switchboard serve`
//! between two SIPp instances on loopback. A call with reliable
//! provisional responses (183 with Require: 100rel, PRACK, UPDATE before
//! the answer, INFO and a re-INVITE after it) is answered end to end; a
//! call whose parties never refresh their session timer is ended by the
//! server, both SIPp sides receiving its BYE, the record saying why and
//! the metric counting it.
//!
//! Every child is killed by PID when its test ends (a guard); every wait
//! is bounded; ports are random, data directories temporary.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Alice (caller) and bob (callee) in a new data directory.
fn alice_and_bob() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "alice-pw"), ("bob", "bob-pw")]);
    (dir, data)
}

/// A SIPp UAS running `scenario` for one call on a free port, and bob
/// registered with that port as his contact.
fn bob_at_sipp(dir: &Path, server: &Server, scenario_file: &str) -> SippProc {
    let port = free_port();
    let uas = Sipp::new("uas", dir)
        .args(&["-sf", scenario(scenario_file).to_str().unwrap()])
        .loopback_udp(port)
        .args(&["-bind_local", "-m", "1", "-timeout", "40s"])
        .spawn();
    uas.wait_listening(port, false, s(10));
    let csv = dir.join("bob.csv");
    std::fs::write(
        &csv,
        "SEQUENTIAL\nbob;bob-pw;[authentication username=bob password=bob-pw]\n",
    )
    .unwrap();
    let run = Sipp::new("register", dir)
        .args(&["-sf", scenario("register.xml").to_str().unwrap()])
        .loopback_udp(free_port())
        .args(&["-inf", csv.to_str().unwrap()])
        .args(&["-key", "contact_host", "127.0.0.1"])
        .args(&["-key", "contact_port", &port.to_string()])
        .args(&["-key", "expires", "3600"])
        .args(&["-m", "1", "-recv_timeout", "5000", "-timeout", "20"])
        .args(&[&server.addr().to_string()])
        .run(s(30));
    assert!(run.success(), "bob's registration: {}", run.report());
    uas
}

/// Alice's SIPp UAC running `scenario` for one call to bob.
fn alice_calls(dir: &Path, server: &Server, scenario_file: &str, keys: &[&str]) -> Sipp {
    let csv = dir.join("alice.csv");
    std::fs::write(
        &csv,
        "SEQUENTIAL\nalice;alice-pw;bob;[authentication username=alice password=alice-pw]\n",
    )
    .unwrap();
    let mut sipp = Sipp::new("uac", dir)
        .args(&["-sf", scenario(scenario_file).to_str().unwrap()])
        .loopback_udp(free_port())
        .args(&["-inf", csv.to_str().unwrap()])
        .args(&["-m", "1", "-recv_timeout", "30000", "-timeout", "40s"]);
    for pair in keys.chunks(2) {
        sipp = sipp.args(&["-key", pair[0], pair[1]]);
    }
    sipp.args(&[&server.addr().to_string()])
}

#[test]
fn a_100rel_call_with_prack_update_info_and_a_re_invite_passes_both_ways() {
    let (dir, data) = alice_and_bob();
    let server = switchboard().serve(&data).config(NO_RATE_LIMIT).start();
    let uas = bob_at_sipp(dir.path(), &server, "uas_100rel.xml");
    let uac = alice_calls(dir.path(), &server, "uac_100rel.xml", &[]).run(s(40));
    assert!(uac.success(), "{}\n{}", uac.report(), server.log_text());
    for step in [
        "183 reliable, RSeq 1",
        "200 PRACK",
        "200 UPDATE",
        "200 INVITE",
        "200 INFO",
        "200 re-INVITE",
        "200 BYE",
    ] {
        assert!(
            uac.logged.iter().any(|l| l.contains(step)),
            "alice saw {step}: {:?}",
            uac.logged
        );
    }
    let uas = uas.wait(s(10));
    assert!(uas.success(), "{}", uas.report());
    for step in ["INVITE", "PRACK", "UPDATE", "INFO", "re-INVITE", "BYE"] {
        assert!(
            uas.logged.iter().any(|l| l.contains(step)),
            "bob got {step}: {:?}",
            uas.logged
        );
    }
    let records = ended_records(&data, 1);
    assert_eq!(records[0]["hangup"], "caller", "{}", records[0]);
}

#[test]
fn a_call_whose_parties_never_refresh_is_ended_by_the_server_at_the_expiry() {
    const SESSION_EXPIRES: u64 = 5;
    let (dir, data) = alice_and_bob();
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = format!("{NO_RATE_LIMIT}[proxy]\nsession_expires = 90\nmin_se = 5\n");
    let server = switchboard()
        .serve(&data)
        .config(&config)
        .args(&["--admin", &admin.to_string()])
        .start();
    let uas = bob_at_sipp(dir.path(), &server, "uas_timer.xml");
    let started = Instant::now();
    let expires = SESSION_EXPIRES.to_string();
    let uac = alice_calls(
        dir.path(),
        &server,
        "uac_timer.xml",
        &["session_expires", &expires],
    )
    .run(s(30));
    let took = started.elapsed();
    assert!(uac.success(), "{}\n{}", uac.report(), server.log_text());
    assert!(
        uac.logged.iter().any(|l| l.contains("Session-Expires 5")),
        "{:?}",
        uac.logged
    );
    assert!(
        uac.logged.iter().any(|l| l.contains("BYE from the server")),
        "alice got the server's BYE: {:?}",
        uac.logged
    );
    let uas = uas.wait(s(10));
    assert!(uas.success(), "{}", uas.report());
    assert!(
        uas.logged.iter().any(|l| l.contains("BYE from the server")),
        "bob got the server's BYE: {:?}",
        uas.logged
    );
    assert!(
        took >= s(SESSION_EXPIRES) && took < s(SESSION_EXPIRES + 10),
        "ended at the expiry, not before: {took:?}"
    );
    let records = ended_records(&data, 1);
    assert_eq!(records[0]["hangup"], "session-expired", "{}", records[0]);
    assert_eq!(records[0]["disposition"], "answered", "{}", records[0]);
    let text = metrics(admin);
    assert!(
        text.contains("switchboard_calls_ended_total{reason=\"session_expired\"} 1"),
        "{text}"
    );
    drop(server);
}
