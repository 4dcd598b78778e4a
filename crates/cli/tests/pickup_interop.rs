//! Call pickup with Replaces (RFC 3891) against real peers through
//! `switchboard serve` on loopback: linphonec 5.1 (alice; liblinphone
//! accepts an INVITE with Replaces for its early dialog, as the UAC must:
//! baresip 1.0 does not implement Replaces) calls baresip (bob, not
//! answering); carol watches bob's lamp with a SIPp BLF watcher
//! (`tests/sipp/blf_subscribe.xml`), reads the ringing dialog's Call-ID and
//! tags from the dialog-info NOTIFY and picks the call up with a SIPp
//! INVITE to bob's AOR carrying `Replaces` built as a Yealink or Polycom
//! phone builds it (`tests/sipp/pickup_replaces.xml`). Before that, a
//! pickup from a stranger of another domain and one failing
//! authentication are refused without disturbing the call.
//!
//! Ports are free loopback ports; every child is killed by PID when the
//! test ends (guards); the test is bounded (< 60 s).

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

const USERS: [(&str, &str); 3] = [
    ("alice", "alice-secret"),
    ("bob", "bob-secret"),
    ("carol", "carol-secret"),
];

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

/// The NOTIFY requests in SIPp's message log, each as its text.
fn notifies(log: &str) -> Vec<String> {
    log.split("----------------------------------------------- ")
        .filter_map(|m| m.find("NOTIFY sip:").map(|at| m[at..].to_owned()))
        .collect()
}

/// Attribute `name` of the first `<dialog ...>` element of a dialog-info
/// body.
fn dialog_attribute(notify: &str, name: &str) -> Option<String> {
    let start = notify.find("<dialog ")?;
    let element = &notify[start..start + notify[start..].find('>')?];
    let at = element.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(element[at..].split('"').next()?.to_owned())
}

/// An INVITE to bob's AOR with `replaces` from `from` (a stranger's own
/// address, unauthenticated), or from carol answering the challenge with
/// `password`; the final status the server gives it.
fn refused_pickup(peer: &mut UdpPeer, from: &str, password: Option<&str>, replaces: &str) -> u16 {
    let uri = format!("sip:bob@{DOMAIN}");
    let call_id = format!("bad-pickup-{}-{}", peer.local().port(), peer.branch());
    let extra = format!("Replaces: {replaces}\r\n");
    let first = peer.request("INVITE", &uri, from, &uri, &call_id, 1, &extra);
    let answer = peer.transact(&first).expect("an answer to the pickup");
    let Some(password) = password.filter(|_| status_code(&answer) == 407) else {
        return status_code(&answer);
    };
    let auth = credentials(&answer, "INVITE", &uri, "carol", password);
    let extra = format!("{extra}Proxy-Authorization: {auth}\r\n");
    let second = peer.request("INVITE", &uri, from, &uri, &call_id, 2, &extra);
    status_code(&peer.transact(&second).expect("an answer to the pickup"))
}

#[test]
fn a_blf_watcher_picks_a_ringing_call_up_with_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &USERS);
    let server = switchboard()
        .serve(&data)
        .config("[protection]\nrate_limit = false\n")
        .start();
    let bob = Baresip::builder(dir.path(), "bob")
        .registrar(server.port, "udp", "bob-secret")
        .start();
    let mut alice = Linphonec::start(dir.path(), "alice", "alice-secret", server.port, 440.0);
    server.wait_registered("sip:alice@127.0.0.1", s(15));
    server.wait_registered("sip:bob@127.0.0.1", s(15));

    // carol watches bob's lamp.
    let lamp_log = dir.path().join("blf-messages.log");
    let target = server.addr().to_string();
    let lamp = Sipp::new("blf", dir.path())
        .args(&["-sf", path_str(&scenario("blf_subscribe.xml"))])
        .loopback_udp(free_port())
        .args(&["-s", "bob", "-key", "watcher", "carol"])
        .args(&["-au", "carol", "-ap", "carol-secret", "-m", "1"])
        .args(&["-trace_msg", "-message_file", path_str(&lamp_log)])
        .args(&["-recv_timeout", "40000", "-timeout", "50", "-timeout_error"])
        .args(&[&target])
        .spawn();
    let lamp_text = || std::fs::read_to_string(&lamp_log).unwrap_or_default();
    assert!(
        wait_for(s(10), || !notifies(&lamp_text()).is_empty()),
        "no first NOTIFY\n{}",
        server.log_text()
    );

    // alice calls bob, whose phone rings and is not answered.
    alice.command("call sip:bob@127.0.0.1");
    assert!(
        bob.wait_event("CALL_INCOMING", s(10)),
        "bob: no call\n{}\n{}",
        bob.report(),
        alice.report()
    );
    let early = || {
        notifies(&lamp_text())
            .into_iter()
            .find(|n| n.contains(">early</state>") && n.contains("local-tag="))
    };
    assert!(
        wait_for(s(10), || early().is_some()),
        "no early NOTIFY with bob's tag\n{}",
        lamp_text()
    );
    let early = early().unwrap();
    // The caller ID on the lamp is alice.
    assert!(early.contains("sip:alice@127.0.0.1"), "{early}");
    let attribute = |name: &str| {
        dialog_attribute(&early, name).unwrap_or_else(|| panic!("no {name} in {early}"))
    };
    // RFC 4235 section 4.1: local is bob's side, remote alice's; the
    // pickup names the dialog as bob sees it (to-tag is bob's).
    let replaces = format!(
        "{};to-tag={};from-tag={}",
        attribute("call-id"),
        attribute("local-tag"),
        attribute("remote-tag")
    );

    // A stranger of another domain, and carol with a wrong password, are
    // refused; the call rings on.
    let mut stranger = UdpPeer::new(server.addr());
    let status = refused_pickup(&mut stranger, "sip:mallory@example.org", None, &replaces);
    assert_eq!(status, 403, "stranger's pickup\n{}", server.log_text());
    let status = refused_pickup(
        &mut stranger,
        &format!("sip:carol@{DOMAIN}"),
        Some("wrong"),
        &replaces,
    );
    // Wrong credentials are challenged again, not relayed.
    assert_eq!(status, 407, "carol with a wrong password");
    std::thread::sleep(s(1));
    assert_eq!(bob.event_count("CALL_INCOMING"), 1, "{}", bob.report());
    assert!(!bob.has_event("CALL_CLOSED"), "{}", bob.report());
    assert!(!alice.out().contains("incoming call"), "{}", alice.report());

    // carol picks the call up.
    let pickup_log = dir.path().join("pickup-messages.log");
    let pickup = Sipp::new("pickup", dir.path())
        .args(&["-sf", path_str(&scenario("pickup_replaces.xml"))])
        .loopback_udp(free_port())
        .args(&["-s", "bob", "-key", "picker", "carol"])
        .args(&["-key", "replaces", &replaces])
        .args(&[
            "-au",
            "carol",
            "-ap",
            "carol-secret",
            "-m",
            "1",
            "-d",
            "2000",
        ])
        .args(&["-trace_msg", "-message_file", path_str(&pickup_log)])
        .args(&["-recv_timeout", "20000", "-timeout", "30", "-timeout_error"])
        .args(&[&target])
        .spawn();
    assert!(
        wait_for(s(10), || alice
            .out()
            .contains("Receiving new incoming call")),
        "{}",
        alice.report()
    );
    // liblinphone matched the Replaces to its early dialog (a mismatch is
    // answered 481) and rings; linphonec's auto-answer (-a) fails at that
    // moment ("checkForAcceptation() ... OutgoingRinging, operation not
    // permitted"), so alice's user answers, which CANCELs her call to bob.
    std::thread::sleep(s(1));
    alice.command("answer 2");
    // bob's phone stops ringing.
    assert!(
        bob.wait_event("CALL_CLOSED", s(15)),
        "bob still rings\n{}\n{}\n--- server:\n{}",
        bob.report(),
        alice.report(),
        server.log_text()
    );
    let run = pickup.wait(s(25));
    let messages = std::fs::read_to_string(&pickup_log).unwrap_or_default();
    assert!(
        run.success(),
        "{}\n--- messages:\n{messages}\n{}\n--- server:\n{}",
        run.report(),
        alice.report(),
        server.log_text()
    );
    // The pickup reached alice (liblinphone), who answered it 200.
    let answer = messages
        .split("----------------------------------------------- ")
        .find(|m| m.contains("SIP/2.0 200 ") && m.contains("CSeq: 2 INVITE"))
        .unwrap_or_else(|| panic!("no 200 to the pickup:\n{messages}"));
    assert!(answer.contains("sip:alice@"), "{answer}");
    assert!(
        alice.out().contains("incoming call from") && alice.out().contains("carol"),
        "{}",
        alice.report()
    );
    assert!(
        alice.calls("sip:bob@127.0.0.1 ended") == 1,
        "{}",
        alice.report()
    );
    // bob's phone got alice's CANCEL, and no INVITE but hers.
    assert!(bob.log().contains("CANCEL sip:bob"), "{}", bob.report());
    assert_eq!(bob.event_count("CALL_INCOMING"), 1, "{}", bob.report());
    // The Replaces alice got names her own dialog: to-tag hers.
    let alice_log =
        std::fs::read_to_string(dir.path().join("linphonec-alice/linphone.log")).unwrap();
    let relayed = format!(
        "Replaces: {};to-tag={};from-tag={}",
        attribute("call-id"),
        attribute("remote-tag"),
        attribute("local-tag")
    );
    assert!(
        alice_log.contains(&relayed),
        "{relayed}\n{}",
        alice.report()
    );
    // carol's BYE ended the new call at alice.
    assert!(
        wait_for(s(5), || alice.calls("sip:carol@127.0.0.1 ended") == 1),
        "{}",
        alice.report()
    );

    // carol's lamp shows bob's dialog terminated (the watcher ends there).
    let run = lamp.wait(s(20));
    let text = lamp_text();
    assert!(run.success(), "{}\n--- messages:\n{text}", run.report());
    let ended = notifies(&text)
        .into_iter()
        .find(|n| n.contains(">terminated</state>"))
        .unwrap_or_else(|| panic!("no terminated NOTIFY\n{text}"));
    assert!(
        ended.contains(&attribute("call-id")),
        "{ended}\n--- all:\n{text}"
    );
    // The picked-up call is alice's now: bob's lamp never shows carol.
    for notify in notifies(&text) {
        let body = &notify[notify.find("<?xml").unwrap_or(0)..];
        assert!(!body.contains("sip:carol@"), "{notify}");
    }
    alice.quit();
}
