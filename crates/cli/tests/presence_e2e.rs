//! End-to-end tests of presence, the busy-lamp field, reg events and
//! offline messages: the real `switchboard` binary as server (`serve`)
//! and as user agents (`subscribe`, `publish`, `register --publish`,
//! `call`, `answer`, `message`), on loopback, users alice, bob and carol.
//!
//! They need the server's event framework (SUBSCRIBE/PUBLISH/NOTIFY) and
//! offline messages. Every process is killed by PID when its test ends (a
//! guard); every wait is bounded.

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

const WAIT: Duration = Duration::from_secs(15);
const ALICE: &str = "sip:alice@127.0.0.1";
const BOB: &str = "sip:bob@127.0.0.1";
const CAROL: &str = "sip:carol@127.0.0.1";

/// `serve` on UDP/TCP with alice, bob and carol (password `secret`).
fn serve() -> (Server, tempfile::TempDir) {
    serve_with(NO_RATE_LIMIT)
}

/// The same with the TOML `config`.
fn serve_with(config: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(
        &data,
        &[("alice", "secret"), ("bob", "secret"), ("carol", "secret")],
    );
    let server = switchboard().serve(&data).config(config).start();
    (server, dir)
}

/// `args` and the account options against `server` (password `secret`).
fn with_account(server: &Server, args: &[&str]) -> Vec<String> {
    let server = server.addr().to_string();
    let account = ["--password", "secret", "--server", server.as_str()];
    args.iter()
        .chain(&account)
        .map(|a| (*a).to_owned())
        .collect()
}

/// `switchboard args` with the account options, in the background, named
/// after the command.
fn agent(server: &Server, args: &[&str]) -> Proc {
    let all = with_account(server, args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    switchboard().spawn(args.first().copied().unwrap_or_default(), &all)
}

/// `switchboard subscribe target --event event --as watcher ...more`.
fn subscribe(server: &Server, watcher: &str, target: &str, event: &str, more: &[&str]) -> Proc {
    let mut args = vec!["subscribe", target, "--event", event, "--as", watcher];
    args.extend(more);
    agent(server, &args)
}

/// Waits for a stdout line of `p` holding every one of `needles`.
fn expect_line_with(p: &Proc, needles: &[&str], limit: Duration) -> String {
    assert!(
        wait_for(limit, || p
            .lines(Stream::Stdout)
            .iter()
            .any(|l| needles.iter().all(|n| l.contains(n)))),
        "no line with {needles:?} in {limit:?}:\n{}",
        p.report()
    );
    p.lines(Stream::Stdout)
        .into_iter()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap()
}

#[test]
fn a_watcher_sees_a_published_status_and_its_removal() {
    let (server, _dir) = serve();
    let mut publish = agent(
        &server,
        &["publish", BOB, "--status", "away", "--note", "at lunch"],
    );
    publish.expect_line(Stream::Stdout, "published (expires", WAIT);
    let mut watch = subscribe(&server, ALICE, BOB, "presence", &["--count", "2"]);
    let first = expect_line_with(&watch, &["presence", BOB, "open away"], WAIT);
    assert!(first.contains(r#"note="at lunch""#), "{first}");
    // Removed on SIGTERM: bob is not registered either, so closed.
    publish.signal("TERM");
    publish.expect_line(Stream::Stdout, "publication removed", WAIT);
    assert!(publish.expect_exit(WAIT).success());
    expect_line_with(&watch, &["presence", BOB, "closed"], WAIT);
    // Two NOTIFYs: unsubscribed, exit 0, one line each.
    assert!(watch.expect_exit(WAIT).success(), "{}", watch.report());
    assert_eq!(watch.lines(Stream::Stdout).len(), 2, "{}", watch.report());
}

#[test]
fn presence_follows_registration_and_register_can_publish() {
    let (server, _dir) = serve();
    let mut watch = subscribe(&server, ALICE, BOB, "presence", &["--duration", "30"]);
    expect_line_with(&watch, &["presence", BOB, "closed"], WAIT);
    // Registered without publishing: open.
    let mut reg = agent(&server, &["register", BOB]);
    reg.expect_line(Stream::Stdout, "registered", WAIT);
    expect_line_with(&watch, &["presence", BOB, "open"], WAIT);
    let closed = watch
        .lines(Stream::Stdout)
        .iter()
        .filter(|l| l.contains("closed"))
        .count();
    reg.signal("TERM");
    assert!(reg.expect_exit(WAIT).success());
    assert!(
        wait_for(WAIT, || watch
            .lines(Stream::Stdout)
            .iter()
            .filter(|l| l.contains("closed"))
            .count()
            > closed),
        "{}",
        watch.report()
    );
    // register --publish: the published status wins over "registered".
    let mut reg = agent(
        &server,
        &[
            "register",
            BOB,
            "--publish",
            "busy",
            "--note",
            "in a meeting",
        ],
    );
    reg.expect_line(Stream::Stdout, "published (expires", WAIT);
    let line = expect_line_with(&watch, &["presence", BOB, "open busy"], WAIT);
    assert!(line.contains(r#"note="in a meeting""#), "{line}");
    reg.signal("TERM");
    assert!(reg.expect_exit(WAIT).success());
    watch.signal("TERM");
    assert!(watch.expect_exit(WAIT).success(), "{}", watch.report());
}

#[test]
fn a_busy_lamp_shows_a_call_through_the_server() {
    let (server, _dir) = serve();
    let mut bob = agent(
        &server,
        &[
            "answer",
            "--as",
            BOB,
            "--answer-after",
            "1500",
            "--srtp",
            "off",
        ],
    );
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let mut lamp = subscribe(&server, ALICE, BOB, "dialog", &["--duration", "30"]);
    expect_line_with(&lamp, &["dialog", BOB], WAIT);
    let mut call = agent(
        &server,
        &[
            "call",
            BOB,
            "--as",
            CAROL,
            "--duration",
            "1",
            "--srtp",
            "off",
        ],
    );
    let early = expect_line_with(&lamp, &["early", "recipient", CAROL], WAIT);
    assert!(early.contains("call-id="), "{early}");
    expect_line_with(&lamp, &["confirmed", CAROL], WAIT);
    call.expect_line(Stream::Stdout, "ended: local hangup", WAIT);
    assert!(call.expect_exit(WAIT).success());
    expect_line_with(&lamp, &["terminated", CAROL], WAIT);
    lamp.signal("TERM");
    assert!(lamp.expect_exit(WAIT).success(), "{}", lamp.report());
    bob.signal("TERM");
    bob.expect_exit(WAIT);
}

#[test]
fn reg_events_count_the_contacts() {
    let (server, _dir) = serve();
    let mut watch = subscribe(&server, ALICE, BOB, "reg", &["--duration", "30"]);
    expect_line_with(&watch, &["reg"], WAIT);
    let mut reg = agent(&server, &["register", BOB]);
    reg.expect_line(Stream::Stdout, "registered", WAIT);
    expect_line_with(&watch, &["reg", BOB, "active 1 contact"], WAIT);
    reg.signal("TERM");
    assert!(reg.expect_exit(WAIT).success());
    expect_line_with(&watch, &["reg", BOB, "0 contacts"], WAIT);
    watch.signal("TERM");
    assert!(watch.expect_exit(WAIT).success(), "{}", watch.report());
}

#[test]
fn a_watcher_with_a_wrong_password_is_refused() {
    let (server, _dir) = serve();
    let out = switchboard().run(&[
        "subscribe",
        BOB,
        "--as",
        ALICE,
        "--password",
        "wrong",
        "--server",
        &server.addr().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("subscription ended: refused"), "{stderr}");
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn a_message_to_an_offline_user_is_delivered_when_he_registers() {
    let (server, _dir) = serve();
    let out = {
        let all = with_account(&server, &["message", BOB, "see you at 5", "--as", ALICE]);
        switchboard().run(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("delivered: 202"), "{stdout}");
    let mut bob = agent(&server, &["answer", "--as", BOB]);
    let line = bob.expect_line(Stream::Stdout, "message from", WAIT);
    assert!(line.contains("alice@127.0.0.1"), "{line}");
    assert!(line.contains("see you at 5"), "{line}");
    bob.signal("TERM");
    bob.expect_exit(WAIT);
}

#[test]
fn one_subscription_to_a_list_shows_every_lamp() {
    let config = format!(
        "{NO_RATE_LIMIT}[[presence.lists]]\nuri = \"sip:alice-blf@127.0.0.1\"\n\
         owner = \"{ALICE}\"\nmembers = [\"{BOB}\", \"{CAROL}\"]\n"
    );
    let (server, _dir) = serve_with(&config);
    let mut lamps = subscribe(
        &server,
        ALICE,
        "sip:alice-blf@127.0.0.1",
        "dialog",
        &["--count", "1"],
    );
    let line = expect_line_with(&lamps, &["dialog list sip:alice-blf@127.0.0.1:"], WAIT);
    assert!(line.contains(BOB) && line.contains(CAROL), "{line}");
    assert!(lamps.expect_exit(WAIT).success(), "{}", lamps.report());
}

/// A raw UDP watcher: alice subscribes to bob's presence (challenged,
/// then 200) and answers the first NOTIFY.
fn raw_watcher(server: &Server) -> UdpPeer {
    let mut peer = UdpPeer::new(server.addr());
    let call_id = format!("shutdown-{}", peer.local().port());
    let extra = "Event: presence\r\nExpires: 600\r\nAccept: application/pidf+xml\r\n";
    let first = peer.request("SUBSCRIBE", BOB, ALICE, BOB, &call_id, 1, extra);
    let challenge = peer.transact(&first).expect("an answer to SUBSCRIBE");
    assert_eq!(status_code(&challenge), 407, "{challenge}");
    let auth = credentials(&challenge, "SUBSCRIBE", BOB, "alice", "secret");
    let extra = format!("{extra}Proxy-Authorization: {auth}\r\n");
    let second = peer.request("SUBSCRIBE", BOB, ALICE, BOB, &call_id, 2, &extra);
    let ok = peer.transact(&second).expect("an answer to SUBSCRIBE");
    assert_eq!(status_code(&ok), 200, "{ok}");
    let (notify, _) = peer.recv_until(WAIT, |m| method(m) == "NOTIFY");
    let notify = notify.expect("the first NOTIFY");
    peer.send(&response_to(&notify, 200, "OK", "w", ""));
    peer
}

/// The Subscription-State of the NOTIFYs `peer` gets within `limit`, each
/// answered 200.
fn states_until_quiet(peer: &UdpPeer, limit: Duration) -> Vec<String> {
    let mut states = Vec::new();
    while let Some(m) = peer.recv(limit) {
        if method(&m) == "NOTIFY" {
            peer.send(&response_to(&m, 200, "OK", "w", ""));
            states.push(header(&m, "Subscription-State").unwrap_or_default());
        }
    }
    states
}

#[test]
fn a_clean_stop_ends_subscriptions_only_when_configured() {
    let config = format!("{NO_RATE_LIMIT}[presence]\nterminate_on_shutdown = true\n");
    let (mut server, _dir) = serve_with(&config);
    let peer = raw_watcher(&server);
    server.process().signal("TERM");
    let states = states_until_quiet(&peer, Duration::from_secs(3));
    assert!(
        states
            .iter()
            .any(|s| s.starts_with("terminated") && s.contains("reason=deactivated")),
        "{states:?}\n{}",
        server.log_text()
    );
    assert!(server.process().expect_exit(WAIT).success());

    // By default the subscriptions outlive the process: no NOTIFY.
    let (mut server, _dir) = serve();
    let peer = raw_watcher(&server);
    server.process().signal("TERM");
    assert!(server.process().expect_exit(WAIT).success());
    let states = states_until_quiet(&peer, Duration::from_millis(500));
    assert!(states.is_empty(), "{states:?}");
}

/// The CSeq number of a request.
fn cseq_of(m: &str) -> u32 {
    header(m, "CSeq")
        .and_then(|c| c.split_whitespace().next().map(str::to_owned))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

#[test]
fn a_subscription_outlives_kill_9_and_the_watcher_keeps_being_notified() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "secret")]);
    let mut server = switchboard().serve(&data).config(NO_RATE_LIMIT).start();
    let port = server.port;
    // alice watches bob (the 200 means the subscription is on disk).
    let peer = raw_watcher(&server);
    server.process().signal("KILL");
    server.process().expect_exit(WAIT);

    // A new process on the same data: alice never subscribes again.
    let server = switchboard()
        .serve(&data)
        .config(NO_RATE_LIMIT)
        .port(port)
        .start();
    let mut publish = agent(&server, &["publish", BOB, "--status", "away"]);
    publish.expect_line(Stream::Stdout, "published (expires", WAIT);
    // The first NOTIFY, before the kill, had CSeq 1 at least; a
    // retransmission repeats its CSeq.
    let mut last_cseq = 1;
    let mut away = None;
    let deadline = std::time::Instant::now() + WAIT;
    while away.is_none() && std::time::Instant::now() < deadline {
        let Some(m) = peer.recv(Duration::from_millis(500)) else {
            continue;
        };
        if method(&m) != "NOTIFY" {
            continue;
        }
        peer.send(&response_to(&m, 200, "OK", "w", ""));
        let cseq = cseq_of(&m);
        assert!(cseq >= last_cseq, "CSeq went back to {cseq}:\n{m}");
        last_cseq = cseq;
        if m.contains("<basic>open</basic>") && m.contains("away") {
            away = Some(m);
        }
    }
    let away = away.unwrap_or_else(|| {
        panic!(
            "no NOTIFY with bob away after the restart\n{}",
            server.log_text()
        )
    });
    let state = header(&away, "Subscription-State").unwrap_or_default();
    assert!(state.starts_with("active"), "{away}");
    publish.signal("TERM");
    assert!(publish.expect_exit(WAIT).success());
}
