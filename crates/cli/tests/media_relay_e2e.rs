//! The media relay end to end (`[media] relay = "always"`, issue 16): two
//! baresip phones call each other through `switchboard serve` on
//! loopback. Each plays a tone and records what it hears: both tones get
//! across, the SDP each phone received names the relay's ports (not the
//! other phone's), a stranger's RTP sent at the relay's ports during the
//! call is dropped (the relay's drop counter in `/metrics`), the
//! hang-up frees the call's relay session, and the call's record counts
//! packets both ways on both legs.
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

use std::net::UdpSocket;
use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use common::*;

/// Ports the relay gets: a block of this many, all free when the test starts.
const RELAY_PORTS: u16 = 20;

/// A block of free UDP ports on loopback below the ephemeral range (where
/// the phones' own ports come from); each test of this process starts
/// looking at a block of its own (the ports are free only until its
/// server binds them).
fn free_port_block() -> RangeInclusive<u16> {
    static TAKEN: AtomicU16 = AtomicU16::new(0);
    let own = TAKEN.fetch_add(1, Ordering::Relaxed);
    let base = (std::process::id() % 60) as u16 * 2;
    let mut first = 21_000 + (base + own) * RELAY_PORTS * 4;
    loop {
        let last = first + RELAY_PORTS - 1;
        let all_free = (first..=last).all(|port| UdpSocket::bind(("127.0.0.1", port)).is_ok());
        if all_free {
            return first..=last;
        }
        first += RELAY_PORTS;
        assert!(first < 32_700, "no free block of relay ports");
    }
}

/// A baresip for `user` registered at `server`, playing a `hz` tone and
/// dumping what it hears; with `mediaenc`, its media encryption.
fn phone(dir: &Path, user: &str, hz: f64, server: &Server, mediaenc: Option<&str>) -> Baresip {
    let mut builder = Baresip::builder(dir, user)
        .registrar(server.port, "udp", "secret")
        .tone(hz)
        .dump_received_audio();
    if let Some(mediaenc) = mediaenc {
        builder = builder.mediaenc(mediaenc);
    }
    if user == "bob" {
        builder = builder.auto_answer();
    }
    builder.start()
}

/// The audio ports of the `m=audio` lines in a phone's SIP trace.
fn audio_ports(log: &str) -> Vec<u16> {
    log.lines()
        .filter_map(|line| line.trim().strip_prefix("m=audio "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The SDES keys (`inline:` of `a=crypto` lines) in a phone's SIP trace.
fn crypto_keys(log: &str) -> Vec<String> {
    let mut keys: Vec<String> = log
        .lines()
        .filter(|line| line.trim().starts_with("a=crypto:"))
        .filter_map(|line| line.split("inline:").nth(1))
        .filter_map(|rest| rest.split(['|', ' ']).next())
        .map(|key| key.trim().to_owned())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// An RTP packet (PCMU) of a stranger.
fn stranger_rtp(seq: u16) -> Vec<u8> {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&0x5EED_0001_u32.to_be_bytes());
    packet.extend_from_slice(&[0x55; 160]);
    packet
}

#[test]
fn two_baresip_phones_talk_through_the_relay_and_a_stranger_is_not_heard() {
    call_through_the_relay(None);
}

#[test]
fn two_srtp_phones_talk_through_the_relay_each_with_its_own_keys() {
    call_through_the_relay(Some("srtp-mand"));
}

/// Alice (440 Hz) calls bob (1000 Hz, answering by himself) through a
/// server relaying every call; `mediaenc` as in [`phone`].
fn call_through_the_relay(mediaenc: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "secret")]);
    let ports = free_port_block();
    let config = format!(
        "[media]\nrelay = \"always\"\nports = \"{}-{}\"\n",
        ports.start(),
        ports.end()
    );
    let (server, admin) = serve_with_admin_config(&data, &config);
    assert!(
        server.log_text().contains("media relay: 127.0.0.1 ports"),
        "{}",
        server.log_text()
    );

    let mut alice = phone(d, "alice", 440.0, &server, mediaenc);
    let bob = phone(d, "bob", 1000.0, &server, mediaenc);
    server.wait_registered(&format!("sip:alice@{DOMAIN}"), Duration::from_secs(15));
    server.wait_registered(&format!("sip:bob@{DOMAIN}"), Duration::from_secs(15));
    alice.command("dial", &format!("sip:bob@{DOMAIN}"));
    assert!(
        alice.wait_event("CALL_ESTABLISHED", Duration::from_secs(15)),
        "{}\n{}",
        alice.report(),
        server.log_text()
    );
    assert_eq!(metric(admin, "switchboard_relay_sessions"), 1);

    // Each phone was told to send to the relay: an m=audio port of the
    // relay's range in what it received (its own is outside it).
    let mut relay_ports = Vec::new();
    for (name, party) in [("alice", &alice), ("bob", &bob)] {
        let seen = audio_ports(&party.log());
        let (relayed, own): (Vec<u16>, Vec<u16>) = seen.iter().partition(|p| ports.contains(p));
        assert!(
            !relayed.is_empty() && !own.is_empty(),
            "{name} saw m=audio ports {seen:?}: its own and one of the relay's {ports:?} expected"
        );
        relay_ports.extend(relayed);
    }
    if mediaenc.is_some() {
        // SRTP is ended at the relay: no key of one phone reaches the other.
        let (a, b) = (crypto_keys(&alice.log()), crypto_keys(&bob.log()));
        assert!(a.len() >= 2 && b.len() >= 2, "keys: alice {a:?}, bob {b:?}");
        assert!(
            a.iter().all(|key| !b.contains(key)),
            "a key shared: {a:?} {b:?}"
        );
    }
    relay_ports.sort_unstable();
    relay_ports.dedup();
    assert_eq!(
        relay_ports.len(),
        2,
        "one relay port per phone: {relay_ports:?}"
    );

    // A stranger on the phones' own IP sends RTP at both relay ports once
    // the phones' media has latched them: dropped, never forwarded.
    std::thread::sleep(Duration::from_secs(1));
    let before = metric(admin, "switchboard_relay_dropped_packets_total");
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = 0;
    for seq in 0..25 {
        for &port in &relay_ports {
            stranger
                .send_to(&stranger_rtp(seq), ("127.0.0.1", port))
                .unwrap();
            sent += 1;
        }
    }
    assert!(
        wait_for(Duration::from_secs(5), || {
            metric(admin, "switchboard_relay_dropped_packets_total") >= before + sent
        }),
        "the relay did not drop the stranger's {sent} packets\n{}",
        metrics(admin)
    );

    std::thread::sleep(Duration::from_secs(3));
    alice.command("hangup", "");
    assert!(
        bob.wait_event("CALL_CLOSED", Duration::from_secs(10)),
        "{}",
        bob.report()
    );
    assert_heard(&alice, 1000.0);
    assert_heard(&bob, 440.0);
    assert!(
        wait_for(Duration::from_secs(5), || metric(
            admin,
            "switchboard_relay_sessions"
        ) == 0),
        "the relay session outlived the call"
    );
    // The call's record: relayed, with packets each way on each leg.
    let record = &ended_records(&data, 1)[0];
    assert_eq!(record["relayed"], true, "{record}");
    for counter in [
        "caller_packets_in",
        "caller_packets_out",
        "callee_packets_in",
        "callee_packets_out",
    ] {
        assert!(
            record[counter].as_u64().unwrap_or(0) > 0,
            "{counter}: {record}"
        );
    }
}
