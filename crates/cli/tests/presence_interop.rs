//! Presence, the busy-lamp field and offline messages with real
//! third-party peers against `switchboard serve` on loopback:
//!
//! * `tests/interop/presence.sh` (copied from the project's shared
//!   interop scripts): baresip's presence module PUBLISHes open/closed and
//!   SUBSCRIBEs, SIPp PUBLISHes an RPID "away" and removes it;
//! * `tests/interop/message.sh --expect-store`: a MESSAGE to a user with
//!   no device gets 202 and reaches her baresip when it registers;
//! * a SIPp BLF watcher (`tests/sipp/blf_subscribe.xml`, Event: dialog)
//!   sees early, confirmed and terminated with the caller's identity while
//!   two baresip phones call each other through the server;
//! * call pickup with Replaces (RFC 3891): linphonec 5.1 (alice;
//!   liblinphone accepts an INVITE with Replaces for its early dialog, as
//!   the UAC must: baresip 1.0 does not implement Replaces) calls baresip
//!   (bob, not answering); carol's SIPp BLF watcher reads the ringing
//!   dialog's Call-ID and tags from the dialog-info NOTIFY and carol picks
//!   the call up with a SIPp INVITE to bob's AOR carrying `Replaces` built
//!   as a Yealink or Polycom phone builds it
//!   (`tests/sipp/pickup_replaces.xml`); a pickup from a stranger of
//!   another domain and one failing authentication are refused first,
//!   without disturbing the call;
//! * linphonec 5.1 sees a friend's status: `friend add` subscribes, and
//!   `Friend bob is ...` is printed for each NOTIFY. linphonec's CLI cannot
//!   publish its own status (no presence command; `status` only reports
//!   registration, auto-answer and hook) nor accept or deny watchers
//!   ("accept/deny is not implemented yet"), so bob publishes with
//!   `switchboard publish`;
//! * JsSIP in headless Chromium subscribes to a user's presence over
//!   WebSocket (`tests/browser/browser_presence.mjs`).
//!
//! The scripts use fixed ports (5082-5088, 20000-20999, 20901-20903), so
//! they run one at a time (a lock). Every child is killed by PID when its
//! test ends (a guard), every test is bounded (< 60 s).

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::*;

/// The users of the scripts' defaults (`lib/common.sh`).
const USERS: [(&str, &str); 3] = [
    ("alice", "alice-secret"),
    ("bob", "bob-secret"),
    ("carol", "carol-secret"),
];

/// One script at a time: they share fixed ports.
static SCRIPTS: Mutex<()> = Mutex::new(());

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn repo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The server's settings: rate limiting off; publications of 30 s taken
/// (the SIPp "away" scenario asks for 30, below the default minimum of
/// 60, which a 423 would refuse).
const CONFIG: &str = "[protection]\nrate_limit = false\n[presence]\nmin_expires = 30\n";

/// `serve` with alice, bob and carol on its defaults (baresip gets MD5
/// challenges) and [`CONFIG`]; WebSocket on `ws` when given.
fn serve(dir: &Path, ws: Option<u16>) -> Server {
    let data = dir.join("data");
    switchboard().add_users(&data, &USERS);
    let mut serve = switchboard().serve(&data).config(CONFIG);
    if let Some(ws) = ws {
        serve = serve.listen(&format!("ws:127.0.0.1:{ws}"));
    }
    serve.start()
}

/// Runs `tests/interop/<script>` against `server` within 55 s and asserts
/// exit 0, printing the script's output (and the server's log) otherwise.
fn run_script(server: &Server, script: &str, more: &[&str]) -> String {
    let _one = SCRIPTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    require("baresip", "-h", "baresip");
    let mut command = Command::new("bash");
    command
        .arg(repo_dir().join("tests/interop").join(script))
        .args(["--server", "127.0.0.1", "--domain", DOMAIN])
        .args(["--sip-port", &server.port.to_string()])
        .args(["--timeout", "55", "-v"])
        .args(more);
    let mut proc = Proc::spawn(script, command).killing_descendants();
    let status = proc.wait(s(60));
    let output = proc.output();
    assert!(
        status.is_some_and(|s| s.success()),
        "{script}: {status:?}\n{output}\n--- server:\n{}",
        server.log_text()
    );
    assert!(output.contains(" passed, 0 failed"), "{output}");
    output
}

#[test]
fn presence_sh_baresip_and_sipp_publish_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None);
    require("sipp", "-v", "sip-tester");
    let output = run_script(&server, "presence.sh", &[]);
    // The sipp "away" step ran (it is skipped when sipp is missing).
    assert!(output.contains("<rpid:away/>"), "{output}");
}

#[test]
fn message_sh_to_an_offline_user_is_stored_and_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None);
    let output = run_script(&server, "message.sh", &["--expect-store"]);
    assert!(
        output.contains("accepted for later delivery (202)"),
        "{output}"
    );
}

/// The NOTIFY requests in SIPp's message log, each as its text.
fn notifies(log: &str) -> Vec<String> {
    log.split("----------------------------------------------- ")
        .filter_map(|m| m.find("NOTIFY sip:").map(|at| m[at..].to_owned()))
        .collect()
}

/// carol's SIPp BLF watcher of bob (`tests/sipp/blf_subscribe.xml`),
/// logging its messages to `log`; it ends at the first terminated dialog.
fn carol_watches_bob(server: &Server, dir: &Path, log: &Path) -> SippProc {
    Sipp::new("blf", dir)
        .args(&["-sf", path_str(&scenario("blf_subscribe.xml"))])
        .loopback_udp(free_port())
        .args(&["-s", "bob", "-key", "watcher", "carol"])
        .args(&["-au", "carol", "-ap", "carol-secret", "-m", "1"])
        .args(&["-trace_msg", "-message_file", path_str(log)])
        .args(&["-recv_timeout", "40000", "-timeout", "50", "-timeout_error"])
        .args(&[&server.addr().to_string()])
        .spawn()
}

#[test]
fn a_sipp_blf_watcher_sees_a_baresip_call_ring_connect_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None);
    let phone = |user: &str, password: &str| {
        Baresip::builder(dir.path(), user)
            .registrar(server.port, "udp", password)
            .start()
    };
    let mut alice = phone("alice", "alice-secret");
    let mut bob = phone("bob", "bob-secret");
    server.wait_registered("sip:alice@127.0.0.1", s(15));
    server.wait_registered("sip:bob@127.0.0.1", s(15));

    // carol watches bob's lamp.
    let log = dir.path().join("blf-messages.log");
    let lamp = carol_watches_bob(&server, dir.path(), &log);
    // The first NOTIFY (bob idle) before the call.
    assert!(
        wait_for(s(10), || !notifies(
            &std::fs::read_to_string(&log).unwrap_or_default()
        )
        .is_empty()),
        "no first NOTIFY\n{}",
        server.log_text()
    );
    alice.command("dial", "sip:bob@127.0.0.1");
    assert!(
        bob.wait_event("CALL_INCOMING", s(10)),
        "bob: no call\n{}\n{}",
        bob.report(),
        alice.report()
    );
    // Ringing long enough for the early state to be notified.
    assert!(
        wait_for(s(5), || std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(">early<")),
        "no early NOTIFY\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    bob.command("accept", "");
    assert!(
        alice.wait_event("CALL_ESTABLISHED", s(10)),
        "{}",
        alice.report()
    );
    std::thread::sleep(s(1));
    alice.command("hangup", "");
    assert!(bob.wait_event("CALL_CLOSED", s(10)), "{}", bob.report());
    let run = lamp.wait(s(20));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(run.success(), "{}\n--- messages:\n{text}", run.report());
    let bodies = notifies(&text);
    let with = |state: &str| {
        bodies
            .iter()
            .find(|n| n.contains(&format!(">{state}</state>")))
            .unwrap_or_else(|| panic!("no {state} NOTIFY:\n{text}"))
    };
    for state in ["early", "confirmed", "terminated"] {
        let notify = with(state);
        assert!(notify.contains("application/dialog-info+xml"), "{notify}");
        // The caller's identity is in the lamp's body.
        assert!(notify.contains("sip:alice@127.0.0.1"), "{state}: {notify}");
        assert!(notify.contains("recipient"), "{state}: {notify}");
    }
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
    let server = serve(dir.path(), None);
    let bob = Baresip::builder(dir.path(), "bob")
        .registrar(server.port, "udp", "bob-secret")
        .start();
    let mut alice = Linphonec::start(dir.path(), "alice", "alice-secret", server.port, 440.0);
    server.wait_registered("sip:alice@127.0.0.1", s(15));
    server.wait_registered("sip:bob@127.0.0.1", s(15));

    // carol watches bob's lamp.
    let lamp_log = dir.path().join("blf-messages.log");
    let lamp = carol_watches_bob(&server, dir.path(), &lamp_log);
    let target = server.addr().to_string();
    let lamp_text = || std::fs::read_to_string(&lamp_log).unwrap_or_default();
    if !wait_for(s(10), || !notifies(&lamp_text()).is_empty()) {
        let run = lamp.wait(s(2));
        panic!(
            "no first NOTIFY\n{}\n{}\n--- server:\n{}",
            run.report(),
            lamp_text(),
            server.log_text()
        );
    }

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

/// `switchboard publish` of bob "away" with `note`, once published.
fn publish_bob_away(server: &Server, note: &str) -> Proc {
    let server = server.addr().to_string();
    let args = [
        "publish",
        "sip:bob@127.0.0.1",
        "--status",
        "away",
        "--note",
        note,
        "--password",
        "bob-secret",
        "--server",
        &server,
    ];
    let publish = switchboard().spawn("publish", &args);
    publish.expect_line(Stream::Stdout, "published (expires", s(10));
    publish
}

/// linphonec's line for a NOTIFY about bob:
/// `Friend "bob" <sip:bob@127.0.0.1> is Away`.
fn friend_line(line: &str, status: &str) -> bool {
    line.contains("Friend \"bob\" <sip:bob@127.0.0.1>") && line.ends_with(&format!(" is {status}"))
}

#[test]
fn linphonec_sees_a_friends_published_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), None);
    let mut publish = publish_bob_away(&server, "at lunch");
    let mut alice = Linphonec::start(dir.path(), "alice", "alice-secret", server.port, 440.0);
    server.wait_registered("sip:alice@127.0.0.1", s(15));
    alice.command("friend add bob sip:bob@127.0.0.1");
    assert!(
        wait_for(s(15), || alice
            .out()
            .lines()
            .any(|l| friend_line(l, "Away"))),
        "linphonec did not see bob away\n{}\n--- server:\n{}",
        alice.report(),
        server.log_text()
    );
    // bob's publication removed, not registered: offline.
    publish.signal("TERM");
    assert!(publish.expect_exit(s(10)).success());
    assert!(
        wait_for(s(15), || alice
            .out()
            .lines()
            .any(|l| friend_line(l, "Offline"))),
        "linphonec did not see bob offline\n{}",
        alice.report()
    );
    alice.quit();
}

#[test]
fn jssip_in_chromium_subscribes_to_presence() {
    const CHROMIUM: &str = "/usr/bin/chromium";
    require("node", "--version", "nodejs");
    assert!(Path::new(CHROMIUM).exists(), "{CHROMIUM} is not installed");
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser.join("node_modules/jssip").is_dir(),
        "npm ci in {} first (scripts/test.sh and browser_interop do it)",
        browser.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let ws = free_port();
    let server = serve(dir.path(), Some(ws));
    let mut publish = publish_bob_away(&server, "back soon");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-presence");
    let mut command = Command::new("node");
    command
        .arg("browser_presence.mjs")
        .args(["--ws-url", &format!("ws://127.0.0.1:{ws}")])
        .args([
            "--domain",
            DOMAIN,
            "--user",
            "alice",
            "--pass",
            "alice-secret",
        ])
        .args(["--target", "sip:bob@127.0.0.1"])
        .args(["--expect", "<basic>open</basic>", "--expect", "away"])
        .args(["--expect", "back soon"])
        .args(["--http-port", &free_port().to_string()])
        .args(["--chromium", CHROMIUM, "--timeout", "45"])
        .args(["--out", out.to_str().unwrap()])
        .current_dir(&browser);
    let mut node = Proc::spawn("browser presence", command).killing_descendants();
    let status = node.wait(s(55));
    let output = node.output();
    assert!(
        status.is_some_and(|s| s.success()),
        "browser_presence.mjs: {status:?}\n{output}\n--- server:\n{}",
        server.log_text()
    );
    assert!(output.contains(" passed, 0 failed"), "{output}");
    publish.signal("TERM");
    publish.expect_exit(s(10));
}
