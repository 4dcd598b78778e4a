//! A late-offer call through the media relay end to end (issue 16): SIPp
//! calls SIPp through `switchboard serve` with `[media] relay = "always"`,
//! the INVITE without SDP (uac_late_offer.xml / uas_late_offer.xml). The
//! callee gets the INVITE without a body, the caller's 200 OK names a relay
//! port for the callee's offer, the callee's ACK a relay port for the
//! caller's answer, and the call's record says it was relayed.
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

use std::io::Write;
use std::time::Duration;

use common::*;

/// The number a SIPp `<log>` line `prefix N ...` names.
fn logged_port(lines: &[String], prefix: &str) -> u16 {
    lines
        .iter()
        .find_map(|l| {
            l.strip_prefix(prefix)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no {prefix:?} in {lines:?}"))
}

#[test]
fn sipp_late_offer_is_anchored_on_the_relay_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    switchboard().add_users(&data, &[("alice", "pw-alice"), ("bob", "pw-bob")]);
    let first = free_udp_run(8);
    let relay = first..=first + 7;
    let config = format!(
        "{NO_RATE_LIMIT}[media]\nrelay = \"always\"\nports = \"{}-{}\"\n",
        relay.start(),
        relay.end()
    );
    let server = switchboard().serve(&data).config(&config).start();
    let target = format!("127.0.0.1:{}", server.port);

    let uas_port = free_port();
    let uas = Sipp::new("uas", d)
        .args(&["-sf", scenario("uas_late_offer.xml").to_str().unwrap()])
        .loopback_udp(uas_port)
        .args(&["-bind_local", "-m", "1", "-timeout", "30s"])
        .spawn();
    uas.wait_listening(uas_port, false, Duration::from_secs(10));

    let csv = |name: &str, line: String| {
        let path = d.join(name);
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "SEQUENTIAL\n{line}").unwrap();
        path
    };
    let users = csv(
        "users.csv",
        "bob;pw-bob;[authentication username=bob password=pw-bob]".to_owned(),
    );
    let run = Sipp::new("register", d)
        .args(&["-sf", scenario("register.xml").to_str().unwrap()])
        .loopback_udp(free_port())
        .args(&["-inf", users.to_str().unwrap()])
        .args(&["-key", "contact_host", "127.0.0.1"])
        .args(&["-key", "contact_port", &uas_port.to_string()])
        .args(&["-key", "expires", "3600"])
        .args(&[
            "-m",
            "1",
            "-recv_timeout",
            "5000",
            "-timeout",
            "20",
            "-timeout_error",
        ])
        .args(&[&target])
        .run(Duration::from_secs(30));
    assert!(run.success(), "{}", run.report());

    let calls = csv(
        "calls.csv",
        "alice;pw-alice;bob;[authentication username=alice password=pw-alice]".to_owned(),
    );
    let uac = Sipp::new("uac", d)
        .args(&["-sf", scenario("uac_late_offer.xml").to_str().unwrap()])
        .loopback_udp(free_port())
        .args(&["-inf", calls.to_str().unwrap(), "-d", "500"])
        .args(&[
            "-m",
            "1",
            "-recv_timeout",
            "10000",
            "-timeout",
            "30",
            "-timeout_error",
        ])
        .args(&[&target])
        .run(Duration::from_secs(40));
    assert!(uac.success(), "{}\n{}", uac.report(), server.log_text());
    let callee = uas.wait(Duration::from_secs(10));
    assert!(callee.success(), "{}", callee.report());

    assert_eq!(logged_port(&callee.logged, "invite-length"), 0, "no offer");
    let offer = logged_port(&uac.logged, "offer-port");
    let answer = logged_port(&callee.logged, "answer-port");
    assert!(
        relay.contains(&offer) && relay.contains(&answer) && offer != answer,
        "the offer in the 200 names {offer}, the answer in the ACK {answer}: relay ports {relay:?} expected"
    );
    let record = &ended_records(&data, 1)[0];
    assert_eq!(record["relayed"], true, "{record}");
}
