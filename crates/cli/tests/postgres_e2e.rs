//! `switchboard serve --database postgres://...` end to end, against a
//! real PostgreSQL started by the test (skipped, with a message, when
//! PostgreSQL is not installed): users added with `user add --database`,
//! a REGISTER and a call between two registered users, a kill -9 and a
//! restart that keeps the bindings; and a database that stops under the
//! server: calls between registered users go on, REGISTER gets 503 with
//! Retry-After, and the server recovers by itself when the database is
//! back; a call in progress goes on across a kill -9 and restart; a user
//! created through the admin API is in the database and registers at once;
//! a database restart under SIPp's register load: 503s with Retry-After
//! while it is down, recovery by itself, and every registration SIPp saw
//! a 200 for in the database afterwards.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);
const ALICE: &str = "sip:alice@127.0.0.1";
const BOB: &str = "sip:bob@127.0.0.1";

/// `serve` on the database at `url` (`data` only holds the pid file).
fn serve(data: &std::path::Path, url: &str, port: Option<u16>) -> Server {
    let serve = switchboard()
        .serve(data)
        .config(NO_RATE_LIMIT)
        .args(&["--database", url]);
    match port {
        Some(port) => serve.port(port),
        None => serve,
    }
    .start()
}

/// A PostgreSQL of the test's own (to stop and start again), alice and
/// bob in a database of it, and `serve` on that database (with the
/// directory of its pid file). `None` when PostgreSQL is not installed.
fn serve_on_own_database() -> Option<(Postgres, tempfile::TempDir, Server)> {
    let pg = Postgres::start()?;
    let url = pg.create_database();
    add_users_on(&url, &["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("data"), &url, None);
    Some((pg, dir, server))
}

/// Alice calls bob for a second through `server`; the call is answered.
fn call_bob(server: &Server) {
    let mut alice = agent_at(server, &["call", BOB, "--as", ALICE, "--duration", "1"]);
    alice.expect_line(Stream::Stdout, "answered:", WAIT);
    alice.expect_line(Stream::Stdout, "ended: local hangup", WAIT);
    assert!(alice.expect_exit(WAIT).success());
}

#[test]
fn serve_on_postgres_registers_calls_and_keeps_bindings_across_kill_9() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    add_users_on(&url, &["alice", "bob"]);
    assert_eq!(run_on(&url, &["user", "list"]).lines().count(), 2);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = serve(&data, &url, None);
    assert!(
        server.log_text().contains("data: PostgreSQL at 127.0.0.1"),
        "{}",
        server.log_text()
    );
    assert!(
        !server.log_text().contains("switchboard@"),
        "no credentials in the log"
    );

    let bob = agent_at(&server, &["answer", "--as", BOB, "--answer-after", "100"]);
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let registrations = run_on(&url, &["registrations"]);
    assert!(registrations.contains(BOB), "{registrations}");
    call_bob(&server);
    let records = run_on(&url, &["cdr", "--format", "json"]);
    assert!(records.contains("\"answered\""), "{records}");

    // kill -9: bob's binding was acknowledged, so it is in the database;
    // the restarted server loads it and reaches bob without a new REGISTER.
    let port = server.port;
    server.process().signal("KILL");
    server.process().expect_exit(WAIT);
    drop(server);
    assert!(run_on(&url, &["registrations"]).contains(BOB));
    let server = serve(&data, &url, Some(port));
    assert!(
        server.log_text().contains("bindings: 1 live loaded"),
        "{}",
        server.log_text()
    );
    call_bob(&server);
    drop(bob);
}

#[test]
fn a_database_that_stops_gives_503_then_the_server_recovers() {
    let Some((mut pg, _dir, server)) = serve_on_own_database() else {
        return;
    };
    let at = server.addr().to_string();
    let register = |expires: &str| {
        switchboard().run(&[
            "register",
            ALICE,
            "--password",
            "secret",
            "--server",
            &at,
            "--expires",
            expires,
            "--once",
        ])
    };
    let out = register("60");
    assert!(out.status.success(), "{}", text(&out.stdout));
    let bob = agent_at(&server, &["answer", "--as", BOB, "--answer-after", "100"]);
    bob.expect_line(Stream::Stdout, "registered", WAIT);

    pg.stop();
    // Calls between registered users go on from memory.
    call_bob(&server);
    let out = register("60");
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("registration failed: 503"), "{stdout}");

    pg.restart();
    let recovered = wait_for(WAIT, || register("60").status.success());
    assert!(
        recovered,
        "no successful REGISTER after the database came back\n{}",
        server.log_text()
    );
}

#[test]
fn serve_on_postgres_stops_cleanly_on_sigterm() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(&dir.path().join("data"), &url, None);
    server.process().signal("TERM");
    let status = server.process().expect_exit(WAIT);
    assert!(status.success(), "{status:?}\n{}", server.log_text());
    assert!(
        !server.log_text().contains("panicked"),
        "{}",
        server.log_text()
    );
}

#[test]
fn serve_on_postgres_writes_its_pid_file_for_route_reload() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = serve(&data, &url, None);
    // The data directory holds nothing else on PostgreSQL: serve makes it.
    let pid = std::fs::read_to_string(data.join("switchboard.pid")).unwrap_or_default();
    assert_eq!(
        pid.trim(),
        server.process().id().to_string(),
        "{}",
        server.log_text()
    );
    server.process().signal("TERM");
    server.process().expect_exit(WAIT);
    assert!(!data.join("switchboard.pid").exists());
}

/// `POST path` with `json` to the admin API at `api`: the status code.
fn post_json(api: SocketAddr, token: &str, path: &str, json: &str) -> u16 {
    let mut tcp = TcpStream::connect_timeout(&api, WAIT).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        tcp,
        "POST {path} HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[test]
fn a_user_created_through_the_admin_api_is_stored_in_postgres_and_registers() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = run_on(&url, &["token", "create", "ci"]).trim().to_owned();
    let (server, api) = serve_with_admin_config(&data, &format!("\n[store]\nurl = \"{url}\"\n"));

    let carol = r#"{"user":"carol","domain":"127.0.0.1","password":"secret"}"#;
    assert_eq!(post_json(api, &token, "/api/v1/users", carol), 201);
    // In the database, for every process. The same create again is a
    // retry (200); with another password, a conflict.
    let users = run_on(&url, &["user", "list"]);
    assert_eq!(users.trim(), "carol@127.0.0.1", "{users}");
    assert_eq!(post_json(api, &token, "/api/v1/users", carol), 200);
    let other = r#"{"user":"carol","domain":"127.0.0.1","password":"other"}"#;
    assert_eq!(post_json(api, &token, "/api/v1/users", other), 409);
    // In force in the server at once: carol registers.
    let carol = agent_at(&server, &["answer", "--as", "sip:carol@127.0.0.1"]);
    carol.expect_line(Stream::Stdout, "registered", WAIT);
}

/// The call records in the database at `url`.
fn records_on(url: &str) -> Vec<serde_json::Value> {
    run_on(url, &["cdr", "--format", "json"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn a_call_in_progress_survives_a_kill_9_on_postgres() {
    let Some(pg) = Postgres::shared() else { return };
    let url = pg.create_database();
    add_users_on(&url, &["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = serve(&data, &url, None);
    let bob = agent_at(
        &server,
        &["answer", "--as", BOB, "--answer-after", "100", "--once"],
    );
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let mut alice = agent_at(&server, &["call", BOB, "--as", ALICE, "--duration", "8"]);
    alice.expect_line(Stream::Stdout, "answered", WAIT);
    // The dialog is written with the call record's answer.
    let answered = wait_for(WAIT, || {
        records_on(&url)
            .first()
            .is_some_and(|r| r["answer_ms"].is_u64())
    });
    assert!(answered, "{:#?}", records_on(&url));

    let port = server.port;
    server.process().signal("KILL");
    server.process().expect_exit(WAIT);
    drop(server);
    let server = serve(&data, &url, Some(port));
    assert!(
        server
            .log_text()
            .contains("calls in progress taken back from the store"),
        "{}",
        server.log_text()
    );
    // Alice's BYE at the end passes to bob through the new server.
    bob.expect_line(Stream::Stdout, "ended: remote hangup", 2 * WAIT);
    alice.expect_line(Stream::Stdout, "ended: local hangup", WAIT);
    assert!(alice.expect_exit(WAIT).success(), "{}", alice.report());
    let mut records = Vec::new();
    let ended = wait_for(WAIT, || {
        records = records_on(&url);
        records.len() == 1 && records[0]["end_ms"].is_u64()
    });
    assert!(ended, "{records:#?}");
    assert_eq!(records[0]["hangup"], "caller", "{records:#?}");
    drop((alice, bob, server));
}

/// SIPp's injection file for `user0000..` (password `pw-<user>`) in `dir`.
fn sipp_users(dir: &std::path::Path, users: &[(String, String)]) -> std::path::PathBuf {
    let inf = dir.join("sipp-users.csv");
    let mut f = std::fs::File::create(&inf).unwrap();
    writeln!(f, "SEQUENTIAL").unwrap();
    for (user, password) in users {
        writeln!(
            f,
            "{user};{password};[authentication username={user} password={password}]"
        )
        .unwrap();
    }
    inf
}

/// The users of `register_outcome.xml`'s log lines starting with `word`.
fn logged_users(lines: &[String], word: &str) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(word)?.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_database_restart_under_register_load_loses_nothing_acknowledged() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    let url = pg.create_database();
    // 50 distinct users a second for 20 s; PostgreSQL is down from the
    // 6th second to the 11th.
    let users = bench_users(1000);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    let lines: Vec<String> = users.iter().map(|(u, p)| format!("{u},{p}\n")).collect();
    std::fs::write(&csv, lines.concat()).unwrap();
    run_on(
        &url,
        &["user", "import", path_str(&csv), "--domain", DOMAIN],
    );
    let server = serve(&dir.path().join("data"), &url, None);
    let inf = sipp_users(dir.path(), &users);
    let scenario = scenario("register_outcome.xml");
    let sipp = Sipp::new("register", dir.path())
        .args(&["-sf", path_str(&scenario), "-inf", path_str(&inf)])
        .args(&[
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
            "-t",
            "u1",
        ])
        .args(&[
            "-key",
            "domain",
            DOMAIN,
            "-key",
            "contact_host",
            "127.0.0.1",
        ])
        .args(&["-key", "contact_port", "6999", "-key", "expires", "3600"])
        .args(&["-m", "1000", "-r", "50", "-recv_timeout", "8000"])
        .args(&["-timeout", "90", "-timeout_error"])
        .args(&[&server.addr().to_string()])
        .spawn();

    let ok_count = |sipp: &SippProc| sipp.logged_count("ok ");
    assert!(
        wait_for(Duration::from_secs(15), || ok_count(&sipp) >= 250),
        "no steady registrations before the outage\n{}\n{}",
        sipp.report(),
        server.log_text()
    );
    pg.stop();
    // While it is down, REGISTER gets 503 with a Retry-After (SIPp's
    // check_it fails a 503 without one).
    assert!(
        wait_for(Duration::from_secs(10), || sipp
            .logged_count("unavailable ")
            >= 20),
        "no 503 while the database was down\n{}\n{}",
        sipp.report(),
        server.log_text()
    );
    std::thread::sleep(Duration::from_secs(3));
    pg.restart();
    // The node recovers by itself: new REGISTERs get 200 within 10 s.
    let at_restart = ok_count(&sipp);
    assert!(
        wait_for(Duration::from_secs(10), || ok_count(&sipp)
            >= at_restart + 50),
        "no 200 within 10 s of the database's return\n{}\n{}",
        sipp.report(),
        server.log_text()
    );
    let run = sipp.wait(Duration::from_secs(60));
    let ok = logged_users(&run.logged, "ok ");
    let unavailable = logged_users(&run.logged, "unavailable ");
    eprintln!(
        "database restart under load: {} registered, {} answered 503",
        ok.len(),
        unavailable.len()
    );
    // Every call either got its 200 or a 503 with Retry-After: none lost
    // in silence, none failed otherwise.
    assert_eq!(run.failed(), 0, "{}\n{}", run.report(), server.log_text());
    assert_eq!(
        ok.len() + unavailable.len(),
        users.len(),
        "{}",
        run.report()
    );
    // And the last registrations all succeeded again.
    let tail: Vec<&String> = run.logged.iter().rev().take(100).collect();
    assert!(
        tail.iter().all(|l| l.starts_with("ok ")),
        "{tail:?}\n{}",
        run.report()
    );
    // Nothing acknowledged is lost: every user SIPp saw a 200 for has a
    // binding in the database.
    let registrations = run_on(&url, &["registrations"]);
    let stored: std::collections::HashSet<&str> = registrations
        .lines()
        .filter_map(|l| l.strip_prefix("sip:")?.split('@').next())
        .collect();
    let lost: Vec<&String> = ok.iter().filter(|u| !stored.contains(u.as_str())).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged registrations lost: {lost:?}",
        lost.len()
    );
    drop(server);
}

/// `request` from `peer` answered after its digest challenge (401 or 407)
/// with alice's credentials: the final answer.
fn authenticated(peer: &mut UdpPeer, request: &str, method: &str, uri: &str) -> String {
    let challenge = peer.transact(request).expect("an answer");
    let code = status_code(&challenge);
    assert!(code == 401 || code == 407, "{challenge}");
    let auth = credentials(&challenge, method, uri, "alice", "secret");
    let header = if code == 407 {
        "Proxy-Authorization"
    } else {
        "Authorization"
    };
    let again = request.replace("CSeq: 1 ", "CSeq: 2 ").replacen(
        "\r\n\r\n",
        &format!("\r\n{header}: {auth}\r\n\r\n"),
        1,
    );
    // A new branch: another transaction.
    let again = again.replacen(";branch=", ";branch=x", 1);
    peer.transact(&again).expect("an answer")
}

/// `request` with `body` of `content_type` instead of no body.
fn with_body(request: &str, content_type: &str, body: &str) -> String {
    request.replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn subscribe_publish_and_offline_message_get_503_while_the_database_is_down() {
    let Some((mut pg, _dir, server)) = serve_on_own_database() else {
        return;
    };
    let mut alice = UdpPeer::new(server.addr());
    let pidf = format!(
        "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" \
         entity=\"{ALICE}\"><tuple id=\"t1\"><status><basic>open</basic></status>\
         </tuple></presence>"
    );
    let requests = |alice: &mut UdpPeer, tag: &str| {
        let subscribe = alice.request(
            "SUBSCRIBE",
            BOB,
            ALICE,
            BOB,
            &format!("sub-{tag}"),
            1,
            "Event: presence\r\nAccept: application/pidf+xml\r\nExpires: 600\r\n",
        );
        let publish = alice.request(
            "PUBLISH",
            ALICE,
            ALICE,
            ALICE,
            &format!("pub-{tag}"),
            1,
            "Event: presence\r\nExpires: 600\r\n",
        );
        let publish = with_body(&publish, "application/pidf+xml", &pidf);
        let message = alice.request("MESSAGE", BOB, ALICE, BOB, &format!("msg-{tag}"), 1, "");
        let message = with_body(&message, "text/plain", "hello");
        [
            ("SUBSCRIBE", BOB, subscribe),
            ("PUBLISH", ALICE, publish),
            ("MESSAGE", BOB, message),
        ]
    };

    pg.stop();
    for (method, uri, request) in requests(&mut alice, "down") {
        let answer = authenticated(&mut alice, &request, method, uri);
        assert_eq!(
            status_code(&answer),
            503,
            "{method} while the database is down: {answer}\n{}",
            server.log_text()
        );
        let retry = header(&answer, "Retry-After").unwrap_or_default();
        assert!(retry.parse::<u32>().is_ok(), "{method}: {answer}");
    }

    // Back: the same requests are taken (the store reconnects by itself).
    pg.restart();
    for (i, method) in ["SUBSCRIBE", "PUBLISH", "MESSAGE"].into_iter().enumerate() {
        let mut last = String::new();
        let mut n = 0;
        let taken = wait_for(WAIT, || {
            n += 1;
            let fresh = requests(&mut alice, &format!("up{n}"));
            let (_, uri, request) = fresh.into_iter().nth(i).unwrap();
            last = authenticated(&mut alice, &request, method, uri);
            (200..300).contains(&status_code(&last))
        });
        assert!(taken, "{method} after the database came back: {last}");
    }
}

/// An iptables rule that drops every packet sent to PostgreSQL's port on
/// loopback (the database host gone silent: no reset, no answer), deleted
/// when dropped.
struct SilentDatabase {
    rule: Vec<String>,
}

impl SilentDatabase {
    /// The rule for `port`, or `None` (with why) when iptables cannot be
    /// used here (not installed, not root).
    fn start(port: u16) -> Option<Self> {
        let rule: Vec<String> = ["INPUT", "-i", "lo", "-p", "tcp", "--dport"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([port.to_string(), "-j".into(), "DROP".into()])
            .collect();
        let iptables = |action: &str| {
            std::process::Command::new("iptables")
                .args(["-w", action])
                .args(&rule)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !iptables("-I") {
            eprintln!("SKIPPED: iptables cannot add a rule here (not installed, or not root)");
            return None;
        }
        Some(Self { rule })
    }
}

impl Drop for SilentDatabase {
    fn drop(&mut self) {
        let _ = std::process::Command::new("iptables")
            .args(["-w", "-D"])
            .args(&self.rule)
            .status();
    }
}

/// A REGISTER of alice from `peer`, digest included; its final answer
/// within `limit` (the server answers once the store has).
fn register_within(peer: &mut UdpPeer, cseq: u32, limit: Duration) -> Option<String> {
    let uri = format!("sip:{DOMAIN}");
    let call_id = format!("silent-{}", peer.local().port());
    let first = peer.request(
        "REGISTER",
        &uri,
        ALICE,
        ALICE,
        &call_id,
        cseq,
        "Expires: 600\r\n",
    );
    let challenge = peer.transact(&first).expect("a challenge");
    let auth = credentials(&challenge, "REGISTER", &uri, "alice", "secret");
    let extra = format!("Expires: 600\r\nAuthorization: {auth}\r\n");
    let second = peer.request("REGISTER", &uri, ALICE, ALICE, &call_id, cseq + 1, &extra);
    peer.send(&second);
    peer.recv_until(limit, |m| status_code(m) >= 200).0
}

#[test]
fn a_database_gone_silent_gives_503_within_seconds_not_a_hung_store() {
    let Some((pg, _dir, server)) = serve_on_own_database() else {
        return;
    };
    let mut alice = UdpPeer::new(server.addr());
    let ok = register_within(&mut alice, 1, WAIT).expect("a 200");
    assert_eq!(status_code(&ok), 200, "{ok}");

    // The database's host stops answering, without a reset: the pooled
    // connection's next write is never acknowledged and new connections
    // get no SYN-ACK. The store gives up within its TCP user timeout and
    // connect timeout instead of waiting for the kernel's 15 minutes.
    let Some(silent) = SilentDatabase::start(pg.port()) else {
        return;
    };
    let started = std::time::Instant::now();
    let answer = register_within(&mut alice, 3, Duration::from_secs(30));
    let answer = answer.unwrap_or_else(|| {
        panic!(
            "no answer in 30 s: the store hangs on a silent database\n{}",
            server.log_text()
        )
    });
    assert_eq!(status_code(&answer), 503, "{answer}");
    assert!(header(&answer, "Retry-After").is_some(), "{answer}");
    eprintln!("silent database: 503 after {:?}", started.elapsed());

    drop(silent);
    let mut cseq = 5;
    let recovered = wait_for(Duration::from_secs(30), || {
        cseq += 2;
        register_within(&mut alice, cseq, Duration::from_secs(20))
            .is_some_and(|a| status_code(&a) == 200)
    });
    assert!(
        recovered,
        "no 200 after the database answered again\n{}",
        server.log_text()
    );
}
