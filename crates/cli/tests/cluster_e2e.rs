//! Several `switchboard serve` nodes on one PostgreSQL database (issue
//! 14), end to end on loopback, against a real PostgreSQL started by the
//! test (skipped, with a message, when PostgreSQL is not installed):
//! a phone registered on node A is called from node B; a TCP phone on A
//! is reached from B through A (home-node routing, no load balancer); a
//! watcher on B sees a publication made on A; the status of each node
//! lists the cluster; a third node joining late has the whole location;
//! after a kill -9 of A no acknowledged registration is lost, B still
//! reaches A's UDP phones, A's TCP phone is known unreachable, and A is
//! listed dead; a baresip on B calls a baresip registered on A; a
//! busy-lamp watcher on B sees a call routed by A.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);
const ALICE: &str = "sip:alice@127.0.0.1";
const BOB: &str = "sip:bob@127.0.0.1";
const CAROL: &str = "sip:carol@127.0.0.1";

/// A node named `name` on the database at `url`, with its admin API: the
/// server and the API's address. Short heartbeats, so that a dead node
/// shows within a second or two.
fn node(dir: &Path, url: &str, name: &str) -> (Server, SocketAddr) {
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = format!(
        "{NO_RATE_LIMIT}[cluster]\nnode = \"{name}\"\npoll_interval = 0.2\nheartbeat = 0.5\n"
    );
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let server = switchboard()
        .serve(&data)
        .config(&config)
        .args(&["--database", url, "--admin", &admin.to_string()])
        .start();
    assert!(
        server.log_text().contains(&format!("node=\"{name}\"")),
        "{}",
        server.log_text()
    );
    (server, admin)
}

/// `switchboard status` of the node whose API is at `admin`.
fn status(admin: SocketAddr, token: &str) -> String {
    let url = format!("http://{admin}");
    let out = switchboard().run(&["status", "--admin", &url, "--token", token]);
    assert!(out.status.success(), "status: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Waits until the status of `admin` satisfies `want`; fails with it.
fn wait_status(admin: SocketAddr, token: &str, what: &str, want: impl Fn(&str) -> bool) {
    let mut last = String::new();
    let seen = wait_for(WAIT, || {
        last = status(admin, token);
        want(&last)
    });
    assert!(seen, "status never showed {what}:\n{last}");
}

/// The status line of node `name`.
fn node_line<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("  node {name} at ");
    status.lines().find(|l| l.starts_with(&prefix))
}

/// alice calls `callee` through `server` for a second: the call's output
/// once it ended.
fn alice_calls(server: &Server, callee: &str) -> Proc {
    let mut alice = agent_at(server, &["call", callee, "--as", ALICE, "--duration", "1"]);
    alice.expect_exit(WAIT);
    alice
}

/// `switchboard args` (subscribe, publish: no media options) with
/// password `secret` at `server`.
fn presence_agent(server: &Server, args: &[&str]) -> Proc {
    let addr = server.addr().to_string();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--password", "secret", "--server", &addr]);
    switchboard().spawn(args[0], &all)
}

fn answered(call: &Proc) -> bool {
    call.find_line(Stream::Stdout, "answered:").is_some()
}

#[test]
fn nodes_share_the_location_route_through_the_home_node_and_survive_a_kill_9() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    add_users_on(&url, &["alice", "bob", "carol"]);
    let token = run_on(&url, &["token", "create", "ops"]).trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (mut a, a_admin) = node(dir.path(), &url, "a");
    let (b, b_admin) = node(dir.path(), &url, "b");

    // bob on UDP and carol on TCP register on node A.
    let bob = agent_at(&a, &["answer", "--as", BOB, "--answer-after", "100"]);
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let carol = agent_at(
        &a,
        &[
            "answer",
            "--as",
            CAROL,
            "--answer-after",
            "100",
            "--transport",
            "tcp",
        ],
    );
    carol.expect_line(Stream::Stdout, "registered", WAIT);
    // Node B learns both from the database, and lists both nodes alive.
    wait_status(b_admin, &token, "two registrations and node a alive", |s| {
        s.contains("registrations: 2 ")
            && node_line(s, "a").is_some_and(|l| l.contains(": alive"))
            && node_line(s, "b").is_some_and(|l| l.contains(": alive"))
    });
    assert!(status(b_admin, &token).contains("cluster: this node is b"));

    // Called from node B: bob directly, carol through node A (only A
    // holds her connection): A receives an INVITE for hers alone.
    let invites_at_a = || {
        let text = metrics(a_admin);
        let line = "switchboard_sip_requests_received_total{method=\"INVITE\"} ";
        text.lines()
            .find_map(|l| l.strip_prefix(line))
            .map_or(0.0, |v| v.trim().parse::<f64>().unwrap())
    };
    let call = alice_calls(&b, BOB);
    assert!(answered(&call), "{}", call.report());
    assert_eq!(invites_at_a(), 0.0);
    let call = alice_calls(&b, CAROL);
    assert!(answered(&call), "{}\n{}", call.report(), a.log_text());
    assert!(invites_at_a() >= 1.0);
    // One record of carol's call, B's (A left it to the node that took
    // the call).
    let mut carol_records = Vec::new();
    wait_for(WAIT, || {
        carol_records = run_on(&url, &["cdr", "--format", "json"])
            .lines()
            .filter(|l| l.contains("\"callee\":\"sip:carol@"))
            .map(str::to_owned)
            .collect();
        carol_records.len() == 1 && carol_records[0].contains("\"end_ms\":1")
    });
    assert_eq!(carol_records.len(), 1, "{carol_records:?}");
    assert!(
        carol_records[0].contains("\"caller_user\":\"alice@127.0.0.1\""),
        "{carol_records:?}"
    );

    // Presence across nodes: a watcher on B, bob publishing on A.
    let watch = presence_agent(
        &b,
        &[
            "subscribe",
            BOB,
            "--event",
            "presence",
            "--as",
            ALICE,
            "--duration",
            "20",
        ],
    );
    watch.expect_line(Stream::Stdout, "presence", WAIT);
    let mut publish = presence_agent(
        &a,
        &["publish", BOB, "--status", "away", "--note", "on node a"],
    );
    publish.expect_line(Stream::Stdout, "published (expires", WAIT);
    watch.expect_line(Stream::Stdout, "on node a", WAIT);
    publish.signal("TERM");
    publish.expect_exit(WAIT);
    drop(watch);

    // A third node joining late has the whole location and is listed.
    let (c, c_admin) = node(dir.path(), &url, "c");
    wait_status(c_admin, &token, "the location loaded", |s| {
        s.contains("registrations: 2 ")
    });
    wait_status(b_admin, &token, "node c alive", |s| {
        node_line(s, "c").is_some_and(|l| l.contains(": alive"))
    });

    // kill -9 of node A: nothing acknowledged is lost, A is dead.
    a.process().signal("KILL");
    a.process().expect_exit(WAIT);
    let registrations = run_on(&url, &["registrations"]);
    assert!(
        registrations.contains(BOB) && registrations.contains(CAROL),
        "{registrations}"
    );
    wait_status(
        b_admin,
        &token,
        "node a dead, its phones still listed",
        |s| {
            node_line(s, "a").is_some_and(|l| l.contains(": DEAD"))
                && s.contains("registrations: 2 ")
        },
    );
    // B still reaches bob's UDP phone; carol's connection died with A.
    let call = alice_calls(&b, BOB);
    assert!(answered(&call), "{}", call.report());
    let call = alice_calls(&b, CAROL);
    assert!(
        call.find_line(Stream::Stdout, "failed: 480").is_some(),
        "{}",
        call.report()
    );
    drop((bob, carol, c));
}

/// SIPp's callees registered on node A (register.xml, their contact the
/// UAS), SIPp's calls sent to node B (uac_call.xml): every call is
/// challenged by B, routed to the phone A registered, answered and hung up.
#[test]
fn sipp_phones_registered_on_one_node_are_called_through_another() {
    const USERS: usize = 10;
    const CALLS: usize = 60;
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    let dir = tempfile::tempdir().unwrap();
    let users = bench_users(USERS);
    let csv = dir.path().join("import.csv");
    let lines: Vec<String> = users.iter().map(|(u, p)| format!("{u},{p}\n")).collect();
    std::fs::write(&csv, lines.concat()).unwrap();
    run_on(
        &url,
        &["user", "import", path_str(&csv), "--domain", DOMAIN],
    );
    let (a, _) = node(dir.path(), &url, "a");
    let (b, b_admin) = node(dir.path(), &url, "b");
    let token = run_on(&url, &["token", "create", "ops"]).trim().to_owned();

    let uas_port = free_port();
    let uas = Sipp::new("uas", dir.path())
        .args(&["-sf", scenario("uas_call.xml").to_str().unwrap()])
        .loopback_udp(uas_port)
        .args(&["-bind_local", "-timeout", "100s"])
        .spawn();
    uas.wait_listening(uas_port, false, WAIT);

    let run = sipp_register(dir.path(), &users, uas_port, &a.addr().to_string());
    assert_eq!(run.successful() as usize, USERS, "{}", run.report());
    wait_status(b_admin, &token, "A's registrations", |s| {
        s.contains(&format!("registrations: {USERS} "))
    });

    let calls_csv = dir.path().join("calls.csv");
    let mut lines = vec!["SEQUENTIAL\n".to_owned()];
    for i in 0..USERS {
        let (x, y) = (i, (i + 1) % USERS);
        lines.push(format!(
            "user{x:04};pw-user{x:04};user{y:04};[authentication username=user{x:04} password=pw-user{x:04}]\n"
        ));
    }
    std::fs::write(&calls_csv, lines.concat()).unwrap();
    let run = Sipp::new("uac", dir.path())
        .args(&["-sf", scenario("uac_call.xml").to_str().unwrap()])
        .loopback_udp(free_port())
        .args(&["-inf", calls_csv.to_str().unwrap(), "-d", "200"])
        .args(&["-m", &CALLS.to_string(), "-r", "30"])
        .args(&["-recv_timeout", "10000", "-timeout", "60", "-timeout_error"])
        .args(&[&b.addr().to_string()])
        .run(Duration::from_secs(90));
    assert_eq!(
        (run.successful() as usize, run.failed()),
        (CALLS, 0),
        "{}",
        run.report()
    );
    drop((uas, a, b));
}

/// baresip registered on node A (answering by itself), another baresip
/// registered on node B calling it through B: both see the call
/// established, the caller hangs up, the callee sees it closed.
#[test]
fn baresip_on_one_node_calls_baresip_registered_on_another() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    add_users_on(&url, &["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = node(dir.path(), &url, "a");
    let (b, b_admin) = node(dir.path(), &url, "b");
    let token = run_on(&url, &["token", "create", "ops"]).trim().to_owned();

    let bob = Baresip::builder(dir.path(), "bob")
        .registrar(a.port, "udp", "secret")
        .auto_answer()
        .start();
    let mut alice = Baresip::builder(dir.path(), "alice")
        .registrar(b.port, "udp", "secret")
        .start();
    // Node B knows both: bob from A through the database, alice its own.
    wait_status(b_admin, &token, "both phones registered", |s| {
        s.contains("registrations: 2 ")
    });

    alice.command("dial", BOB);
    for (name, phone) in [("alice", &alice), ("bob", &bob)] {
        assert!(
            phone.wait_event("CALL_ESTABLISHED", WAIT),
            "{name}: {}\nA: {}\nB: {}",
            phone.report(),
            a.log_text(),
            b.log_text()
        );
    }
    alice.command("hangup", "");
    assert!(bob.wait_event("CALL_CLOSED", WAIT), "{}", bob.report());
    drop((alice, bob, a, b));
}

/// A busy-lamp field on node B (carol watching alice's dialogs) sees
/// alice's call placed through node A: answered, then ended.
#[test]
fn a_dialog_watcher_on_one_node_sees_a_call_another_node_routes() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    add_users_on(&url, &["alice", "bob", "carol"]);
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = node(dir.path(), &url, "a");
    let (b, _) = node(dir.path(), &url, "b");

    let bob = agent_at(&a, &["answer", "--as", BOB, "--answer-after", "100"]);
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let lamp = presence_agent(
        &b,
        &[
            "subscribe",
            ALICE,
            "--event",
            "dialog",
            "--as",
            CAROL,
            "--duration",
            "30",
        ],
    );
    lamp.expect_line(Stream::Stdout, "dialog", WAIT);

    let mut alice = agent_at(&a, &["call", BOB, "--as", ALICE, "--duration", "2"]);
    let lamp_shows = |needles: &[&str]| {
        wait_for(WAIT, || {
            lamp.lines(Stream::Stdout)
                .iter()
                .any(|l| needles.iter().all(|n| l.contains(n)))
        })
    };
    assert!(
        lamp_shows(&["confirmed", "initiator", BOB]),
        "{}\nA: {}",
        lamp.report(),
        a.log_text()
    );
    alice.expect_exit(WAIT);
    assert!(answered(&alice), "{}", alice.report());
    assert!(
        lamp_shows(&["terminated", "initiator", BOB]),
        "{}",
        lamp.report()
    );
    drop((lamp, bob, a, b));
}
