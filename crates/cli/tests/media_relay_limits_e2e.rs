//! The media relay's limits end to end (issue 16), with baresip phones
//! calling through `switchboard serve` on loopback (`[media] relay =
//! "always"`): a relay with ports for one call refuses a second call
//! cleanly (503 with Retry-After to the caller, the callee's phone never
//! rings, the first call keeps its audio, the refusal counted in
//! `/metrics`) and takes a new call once the
//! first ends; a phone killed mid-call leaves a call the server ends after
//! the media timeout (BYE to the other phone, `media-timeout` in the call
//! record).
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

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::media::{assert_heard_any_second, audio_ports, free_port_block};
use common::*;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A server relaying every call on a block of `size` ports, with `more`
/// of `[media]`; users alice, bob, carol and dave; its store under `dir`.
struct Relaying {
    server: Server,
    admin: SocketAddr,
    ports: RangeInclusive<u16>,
    data: PathBuf,
}

fn relaying_server(dir: &Path, size: u16, more: &str) -> Relaying {
    let data = dir.join("data");
    let users = [
        ("alice", "secret"),
        ("bob", "secret"),
        ("carol", "secret"),
        ("dave", "secret"),
    ];
    switchboard().add_users(&data, &users);
    let ports = free_port_block(IpAddr::V4(Ipv4Addr::LOCALHOST), size);
    let config = format!(
        "[media]\nrelay = \"always\"\nports = \"{}-{}\"\n{more}",
        ports.start(),
        ports.end()
    );
    let (server, admin) = serve_with_admin_config(&data, &config);
    Relaying {
        server,
        admin,
        ports,
        data,
    }
}

/// A registered phone playing `hz` and recording what it hears; callees
/// answer by themselves.
fn phone(dir: &Path, user: &str, hz: f64, server: &Server, callee: bool) -> Baresip {
    let mut builder = Baresip::builder(dir, user)
        .registrar(server.port, "udp", "secret")
        .tone(hz)
        .dump_received_audio();
    if callee {
        builder = builder.auto_answer();
    }
    let phone = builder.start();
    server.wait_registered(&format!("sip:{user}@{DOMAIN}"), s(15));
    phone
}

/// `caller` dials `callee` and the call is answered.
fn call(caller: &mut Baresip, callee: &Baresip, user: &str, server: &Server) {
    let before = caller.event_count("CALL_ESTABLISHED");
    caller.command("dial", &format!("sip:{user}@{DOMAIN}"));
    assert!(
        caller.wait_event_after("CALL_ESTABLISHED", before, s(15)),
        "{}\n{}\n{}",
        caller.report(),
        callee.report(),
        server.log_text()
    );
}

#[test]
fn a_full_relay_refuses_the_second_call_cleanly_and_takes_one_again_later() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Four ports: two pairs, one call's (a pair for each party).
    let Relaying {
        server,
        admin,
        ports,
        ..
    } = relaying_server(d, 4, "");
    let mut alice = phone(d, "alice", 440.0, &server, false);
    let bob = phone(d, "bob", 1000.0, &server, true);
    let mut carol = phone(d, "carol", 700.0, &server, false);
    let dave = phone(d, "dave", 1300.0, &server, true);

    call(&mut alice, &bob, "bob", &server);
    assert_eq!(metric(admin, "switchboard_relay_sessions"), 1);
    std::thread::sleep(s(1));

    // No room for carol's call: she gets 503 with Retry-After, and dave's
    // phone never sees an INVITE.
    carol.command("dial", &format!("sip:dave@{DOMAIN}"));
    assert!(
        carol.wait_event("CALL_CLOSED", s(10)),
        "{}\n{}",
        carol.report(),
        server.log_text()
    );
    let log = carol.log();
    assert!(
        log.contains("SIP/2.0 503") && log.contains("Retry-After: "),
        "carol got no 503 with Retry-After\n{log}"
    );
    assert!(!carol.has_event("CALL_ESTABLISHED"), "{}", carol.report());
    assert!(
        !dave.log().contains("INVITE sip:dave") && !dave.has_event("CALL_INCOMING"),
        "dave's phone rang\n{}",
        dave.report()
    );
    assert_eq!(metric(admin, "switchboard_relay_sessions"), 1);
    assert_eq!(metric(admin, "switchboard_relay_refused_calls_total"), 1);

    // The first call goes on, its audio relayed: 3 s of 20 ms packets both
    // ways is 300.
    let relayed = metric(admin, "switchboard_relay_packets_total");
    std::thread::sleep(s(3));
    let later = metric(admin, "switchboard_relay_packets_total");
    assert!(
        later >= relayed + 200,
        "{relayed} then {later} packets relayed"
    );
    alice.command("hangup", "");
    assert!(bob.wait_event("CALL_CLOSED", s(10)), "{}", bob.report());
    assert_heard_any_second(&alice, 1000.0);
    assert_heard_any_second(&bob, 440.0);
    assert!(
        wait_for(s(5), || metric(admin, "switchboard_relay_sessions") == 0),
        "the first call's session outlived it"
    );

    // The ports are free again: carol's next call gets them.
    call(&mut carol, &dave, "dave", &server);
    assert_eq!(metric(admin, "switchboard_relay_sessions"), 1);
    let seen = audio_ports(&carol.log());
    assert!(
        seen.iter().any(|p| ports.contains(p)),
        "carol was not given a relay port: {seen:?}"
    );
    std::thread::sleep(s(2));
    carol.command("hangup", "");
    assert!(dave.wait_event("CALL_CLOSED", s(10)), "{}", dave.report());
    assert_heard_any_second(&carol, 1300.0);
    assert_heard_any_second(&dave, 700.0);
}

#[test]
fn a_phone_killed_mid_call_leaves_a_call_the_media_timeout_ends() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let Relaying {
        server,
        admin,
        data,
        ..
    } = relaying_server(d, 8, "timeout = 2\n");
    let mut alice = phone(d, "alice", 440.0, &server, false);
    let bob = phone(d, "bob", 1000.0, &server, true);
    call(&mut alice, &bob, "bob", &server);
    std::thread::sleep(s(2));

    // Bob's phone dies without a word; alice goes on sending into the relay.
    bob.signal("KILL");
    assert!(
        alice.wait_event("CALL_CLOSED", s(10)),
        "the server did not end the call\n{}\n{}",
        alice.report(),
        server.log_text()
    );
    assert!(
        alice.log().contains("BYE sip:alice"),
        "alice got no BYE\n{}",
        alice.log()
    );
    let ended = r#"switchboard_calls_ended_total{reason="media_timeout"}"#;
    assert_eq!(metric(admin, ended), 1);
    let records = ended_records(&data, 1);
    assert_eq!(records[0]["hangup"], "media-timeout", "{:#?}", records[0]);
    assert!(
        wait_for(s(5), || metric(admin, "switchboard_relay_sessions") == 0),
        "the relay session outlived the call"
    );
}
