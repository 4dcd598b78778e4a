//! Two baresip phones, each behind a NAT of its own (network namespaces
//! and masquerading on this machine, `common::nat`), call each other
//! through `switchboard serve` with `[media] relay = "auto"` (issue 16).
//! Each registers from its private address (its Contact and SDP name it),
//! the server sees only its router's public address, and audio gets
//! across only through the relay: both tones are heard with the relay on
//! (plain RTP, and SDES-SRTP with the relay's own keys on each leg),
//! neither with it off (`relay = "never"`, the control that shows the
//! test can fail). Hold and resume pass the relay, and the call on hold
//! outlives a short media timeout.
//!
//! Needs root (namespaces, veths, iptables); every namespace and veth is
//! removed when its test ends, and the names carry the test process's
//! PID. Every child is killed by PID; every wait is bounded.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

use common::media::{
    assert_heard_any_second, audio_ports, connection_addresses, free_port_block, is_tone, seconds,
};
use common::nat::{NatLab, Site};
use common::*;

const ALICE_HZ: f32 = 440.0;
const BOB_HZ: f32 = 1000.0;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A call from alice (behind NAT 0) to bob (behind NAT 1), answered.
/// Fields drop in order: the phones and the server before the namespaces.
struct NatCall {
    alice: Baresip,
    bob: Baresip,
    server: Server,
    admin: SocketAddr,
    relay_ports: RangeInclusive<u16>,
    _dir: tempfile::TempDir,
    lab: NatLab,
}

/// The phone of `user` in `site`, registered at the server on the lab's
/// address, playing `hz` and recording what it hears; `mediaenc`, its
/// media encryption.
fn phone(
    (lab, site): (&NatLab, &Site),
    dir: &std::path::Path,
    user: &str,
    hz: f32,
    server: &Server,
    mediaenc: Option<&str>,
) -> Baresip {
    let mut builder = Baresip::builder(dir, user)
        .netns(&site.lan, site.phone_ip.into(), site.ctrl())
        .server_ip(lab.server())
        .registrar(server.port, "udp", "secret")
        .tone(f64::from(hz))
        .dump_received_audio();
    if user == "bob" {
        builder = builder.auto_answer();
    }
    if let Some(mediaenc) = mediaenc {
        builder = builder.mediaenc(mediaenc);
    }
    builder.start()
}

/// Both phones registered behind their NATs and alice's call to bob
/// answered, with `[media]` of `relay` and `more` configuration; the
/// phones' `mediaenc` as in [`phone`].
fn nat_call(relay: &str, more: &str, mediaenc: Option<&str>) -> NatCall {
    let lab = NatLab::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "secret")]);
    let relay_ports = free_port_block(lab.server(), 20);
    let config = format!(
        "[media]\nrelay = \"{relay}\"\nports = \"{}-{}\"\naddress = \"{}\"\n{more}",
        relay_ports.start(),
        relay_ports.end(),
        lab.server_ip
    );
    let port = free_port();
    let serve = switchboard()
        .serve(&data)
        .port(port)
        .listen(&format!("udp:{}:{port}", lab.server_ip));
    let (server, admin) = serve_with_admin_from(serve, &config);
    let alice = phone(
        (&lab, &lab.sites[0]),
        d,
        "alice",
        ALICE_HZ,
        &server,
        mediaenc,
    );
    let bob = phone((&lab, &lab.sites[1]), d, "bob", BOB_HZ, &server, mediaenc);
    server.wait_registered(&format!("sip:alice@{DOMAIN}"), s(15));
    server.wait_registered(&format!("sip:bob@{DOMAIN}"), s(15));
    let mut call = NatCall {
        alice,
        bob,
        server,
        admin,
        relay_ports,
        _dir: dir,
        lab,
    };
    call.alice.command("dial", &format!("sip:bob@{DOMAIN}"));
    assert!(
        call.alice.wait_event("CALL_ESTABLISHED", s(15))
            && call.bob.wait_event("CALL_ESTABLISHED", s(5)),
        "{}\n{}\n{}",
        call.alice.report(),
        call.bob.report(),
        call.server.log_text()
    );
    call
}

impl NatCall {
    /// Each phone spoke from its private address (Contact and SDP).
    fn assert_private_addresses(&self) {
        for (name, party, site) in [
            ("alice", &self.alice, &self.lab.sites[0]),
            ("bob", &self.bob, &self.lab.sites[1]),
        ] {
            let log = party.log();
            let private = IpAddr::from(site.phone_ip);
            let contact = log.lines().any(|l| {
                l.starts_with(&format!("Contact: <sip:{name}"))
                    && l.contains(&format!("@{private}:"))
            });
            assert!(contact, "{name}'s Contact names no {private}\n{log}");
            assert!(
                connection_addresses(&log).contains(&private),
                "{name}'s SDP names no {private}\n{log}"
            );
        }
    }

    /// Each phone was told to send to the relay: `c=` the server's address
    /// and an `m=audio` port of the relay's range in what it received (its
    /// own port is outside it). Returns the relay port each was given.
    fn assert_sdp_names_the_relay(&self) -> [u16; 2] {
        let mut relay = Vec::new();
        for (name, party) in [("alice", &self.alice), ("bob", &self.bob)] {
            let log = party.log();
            assert!(
                connection_addresses(&log).contains(&self.lab.server()),
                "{name} was not told the relay's address {}\n{log}",
                self.lab.server_ip
            );
            let seen = audio_ports(&log);
            let (relayed, own): (Vec<u16>, Vec<u16>) =
                seen.iter().partition(|p| self.relay_ports.contains(p));
            assert!(
                !relayed.is_empty() && !own.is_empty(),
                "{name} saw m=audio ports {seen:?}: its own and one of the relay's {:?} expected",
                self.relay_ports
            );
            let mut relayed = relayed.clone();
            relayed.dedup();
            assert_eq!(relayed.len(), 1, "{name} was given relay ports {relayed:?}");
            relay.extend(relayed);
        }
        [relay[0], relay[1]]
    }

    /// Alice hangs up; bob's phone sees the call end.
    fn hang_up(&mut self) {
        self.alice.command("hangup", "");
        assert!(
            self.bob.wait_event("CALL_CLOSED", s(10)),
            "{}",
            self.bob.report()
        );
    }
}

#[test]
fn phones_behind_two_nats_talk_through_the_relay() {
    talk_through_the_relay(None);
}

#[test]
fn srtp_phones_behind_two_nats_talk_through_the_relay() {
    talk_through_the_relay(Some("srtp-mand"));
}

/// Alice calls bob across the NATs, `[media] relay = "auto"`; the phones'
/// `mediaenc` as in [`phone`].
fn talk_through_the_relay(mediaenc: Option<&str>) {
    let mut call = nat_call("auto", "", mediaenc);
    call.assert_private_addresses();
    let [alice_port, bob_port] = call.assert_sdp_names_the_relay();
    assert_ne!(alice_port, bob_port, "one relay port per phone");
    assert_eq!(metric(call.admin, "switchboard_relay_sessions"), 1);
    std::thread::sleep(s(3));
    let relayed = metric(call.admin, "switchboard_relay_packets_total");
    // 3 s of 20 ms packets each way: 300, less the first latching ones.
    assert!(
        relayed >= 200,
        "{relayed} packets relayed\n{}",
        metrics(call.admin)
    );
    call.hang_up();
    assert_heard_any_second(&call.alice, BOB_HZ);
    assert_heard_any_second(&call.bob, ALICE_HZ);
    assert!(
        wait_for(s(5), || metric(call.admin, "switchboard_relay_sessions")
            == 0),
        "the relay session outlived the call"
    );
}

/// The control: the same phones behind the same NATs without the relay
/// set up the call, but neither hears the other (each sends to the other's
/// private address, which no router reaches).
#[test]
fn without_the_relay_phones_behind_two_nats_hear_nothing() {
    let mut call = nat_call("never", "", None);
    call.assert_private_addresses();
    for (name, party) in [("alice", &call.alice), ("bob", &call.bob)] {
        let seen = audio_ports(&party.log());
        assert!(
            seen.iter().all(|p| !call.relay_ports.contains(p)),
            "{name} was sent to the relay: {seen:?}"
        );
    }
    std::thread::sleep(s(3));
    call.hang_up();
    for (name, party, hz) in [("alice", &call.alice, BOB_HZ), ("bob", &call.bob, ALICE_HZ)] {
        let heard = party
            .received_audio(s(3))
            .map(|dump| seconds(&dump))
            .unwrap_or_default();
        assert!(
            !heard.iter().any(|second| is_tone(*second, hz)),
            "{name} heard {hz} Hz with no relay: {heard:?}"
        );
    }
}

/// The SDP (`c=` address, `m=audio` port) of each message a phone
/// received (its trace's `UDP from -> to` header names its own address
/// `own` last) whose text holds `needle`.
fn received_sdps(log: &str, own: IpAddr, needle: &str) -> Vec<(IpAddr, u16)> {
    log.split("\nUDP ")
        .skip(1)
        .filter(|message| {
            let header = message.lines().next().unwrap_or_default();
            header
                .split_once(" -> ")
                .is_some_and(|(_, to)| to.starts_with(&format!("{own}:")))
        })
        .filter(|message| message.contains(needle))
        .filter_map(|message| {
            let address = *connection_addresses(message).first()?;
            let port = *audio_ports(message).first()?;
            Some((address, port))
        })
        .collect()
}

/// The RTP packets a phone received in its last call, from the summary
/// baresip prints at the call's end (`packets: SENT RECEIVED`).
fn received_packets(log: &str) -> Option<u64> {
    log.lines()
        .filter_map(|line| line.trim().strip_prefix("packets:"))
        .filter_map(|counts| counts.split_whitespace().nth(1)?.parse().ok())
        .next_back()
}

/// Alice holds (re-INVITE `a=sendonly`) and resumes during a relayed call
/// between the NATs, with a media timeout of 2 s. Each re-INVITE and its
/// answer reach the other phone re-anchored: the relay's address and the
/// same relay port as before. Neither phone sends while held, and the call
/// outlives the media timeout three times over; after resume both phones
/// receive audio again.
#[test]
fn hold_and_resume_pass_the_relay_and_hold_outlives_the_media_timeout() {
    let mut call = nat_call("auto", "timeout = 2\n", None);
    let [alice_port, bob_port] = call.assert_sdp_names_the_relay();
    let relay = call.lab.server();
    let (alice_ip, bob_ip) = (
        IpAddr::from(call.lab.sites[0].phone_ip),
        IpAddr::from(call.lab.sites[1].phone_ip),
    );
    // The SDPs with these texts that bob and alice received: at least
    // `at_least` each, every one naming the relay and the phone's port.
    let anchored = |call: &NatCall, bob_needle: &str, alice_needle: &str, at_least: usize| {
        let got = || {
            (
                received_sdps(&call.bob.log(), bob_ip, bob_needle),
                received_sdps(&call.alice.log(), alice_ip, alice_needle),
            )
        };
        wait_for(s(5), || {
            let (bob_got, alice_got) = got();
            bob_got.len() >= at_least && alice_got.len() >= at_least
        });
        let (bob_got, alice_got) = got();
        assert!(
            bob_got.len() >= at_least
                && alice_got.len() >= at_least
                && bob_got.iter().all(|sdp| *sdp == (relay, bob_port))
                && alice_got.iter().all(|sdp| *sdp == (relay, alice_port)),
            "{bob_needle}: bob got {bob_got:?}, wanted {at_least} of {:?}; \
             {alice_needle}: alice got {alice_got:?}, wanted {at_least} of {:?}\n{}",
            (relay, bob_port),
            (relay, alice_port),
            call.server.log_text()
        );
    };
    std::thread::sleep(Duration::from_millis(1500));

    call.alice.command("hold", "");
    anchored(&call, "a=sendonly", "a=recvonly", 1);
    std::thread::sleep(s(6));
    for (name, party) in [("alice", &call.alice), ("bob", &call.bob)] {
        assert!(
            !party.has_event("CALL_CLOSED"),
            "{name}'s held call was ended\n{}",
            call.server.log_text()
        );
    }
    let media_timeouts = r#"switchboard_calls_ended_total{reason="media_timeout"}"#;
    assert_eq!(metric(call.admin, media_timeouts), 0);

    let relayed_before_resume = metric(call.admin, "switchboard_relay_packets_total");
    call.alice.command("resume", "");
    // The initial INVITE and its answer, then the resume's.
    anchored(&call, "a=sendrecv", "a=sendrecv", 2);
    std::thread::sleep(s(8));
    call.hang_up();
    // Before resume a phone got at most every packet relayed so far (both
    // ways, about 2 s of 20 ms packets); 8 s after it is 400 more.
    for (name, party) in [("alice", &call.alice), ("bob", &call.bob)] {
        let log = party.log();
        let received = received_packets(&log)
            .unwrap_or_else(|| panic!("no RTP summary in {name}'s log\n{log}"));
        assert!(
            received >= relayed_before_resume + 200,
            "{name} received {received} packets, {relayed_before_resume} relayed before resume"
        );
    }
    assert_heard_any_second(&call.alice, BOB_HZ);
    assert_heard_any_second(&call.bob, ALICE_HZ);
    assert_eq!(metric(call.admin, media_timeouts), 0);
}
