//! End-to-end tests of the admin API: the real binary serving SIP and
//! `/api/v1` on loopback, tokens made with `switchboard token`, a
//! registration made with `switchboard register`, `switchboard status`
//! and `trunks` reading the API. Every process is killed by PID when its
//! test ends (a guard); every wait is bounded.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(15);
const ALICE: &str = "sip:alice@127.0.0.1";

/// An HTTP answer as read off the socket.
#[derive(Debug)]
struct Http {
    status: u16,
    head: String,
    body: String,
}

impl Http {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// Checks that this is a problem document of `status`.
    fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(
            self.head
                .to_ascii_lowercase()
                .contains("content-type: application/problem+json"),
            "{self:?}"
        );
        let problem = self.json();
        assert_eq!(problem["status"], status, "{self:?}");
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

/// Sends `request` as is and reads the answer to the end.
fn exchange(addr: SocketAddr, request: &[u8]) -> Http {
    let mut stream = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8(answer).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    Http {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// `METHOD path` with the token, if any.
fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Http {
    request_with(addr, method, path, token, None)
}

/// `METHOD path` with the token and a JSON body.
fn request_json(addr: SocketAddr, method: &str, path: &str, token: &str, json: &str) -> Http {
    request_with(addr, method, path, Some(token), Some(json))
}

fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Http {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = json.unwrap_or_default();
    let content_type = if json.is_some() {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, text.as_bytes())
}

fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Http {
    request(addr, "GET", path, token)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `serve` with alice (password `secret`) and the API on a free port.
fn serve_with_api(dir: &Path) -> (Server, SocketAddr) {
    let data = dir.join("data");
    switchboard().add_users(&data, &[("alice", "secret")]);
    serve_with_admin(&data)
}

/// `switchboard register ALICE --once` against `server`: whether it
/// registered (the server still serves SIP).
fn register_once(server: &Server) -> bool {
    register_once_as(server, ALICE, "secret")
}

/// `switchboard register AOR --once --password PASSWORD`: whether it
/// registered.
fn register_once_as(server: &Server, aor: &str, password: &str) -> bool {
    let addr = server.addr().to_string();
    let o = switchboard().run(&[
        "register",
        aor,
        "--once",
        "--password",
        password,
        "--server",
        &addr,
    ]);
    o.status.success()
}

#[test]
fn the_api_answers_with_a_token_and_shows_a_registration() {
    let dir = tempfile::tempdir().unwrap();
    let (server, api) = serve_with_api(dir.path());
    let data = server.data.clone();

    // No token yet: 401 with a problem document, for every route.
    get(api, "/api/v1/status", None).assert_problem(401);
    get(api, "/api/v1/registrations", Some("made-up")).assert_problem(401);

    // A token created while the server runs works at once.
    let token = create_token(&data, "ci");
    let status = get(api, "/api/v1/status", Some(&token));
    assert_eq!(status.status, 200, "{status:?}");
    let json = status.json();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["domains"][0], "127.0.0.1");
    assert_eq!(json["counts"]["registrations"], 0);
    assert_eq!(json["counts"]["users"], 1);
    let port = server.port.to_string();
    assert!(
        json["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["transport"] == "udp" && l["address"].as_str().unwrap().ends_with(&port)),
        "{json}"
    );

    // A registration made with the CLI appears in the API.
    let addr = server.addr().to_string();
    let mut reg = switchboard().spawn(
        "register",
        &["register", ALICE, "--password", "secret", "--server", &addr],
    );
    reg.expect_line(Stream::Stdout, "registered", WAIT);
    let list = get(api, "/api/v1/registrations", Some(&token)).json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["aor"], ALICE);
    assert_eq!(list[0]["transport"], "udp");
    assert!(list[0]["expires_in"].as_u64().unwrap() > 0);
    let alice = get(api, "/api/v1/registrations?user=alice", Some(&token)).json();
    assert_eq!(alice.as_array().unwrap().len(), 1);
    let bob = get(
        api,
        "/api/v1/registrations?user=bob@127.0.0.1",
        Some(&token),
    )
    .json();
    assert_eq!(bob.as_array().unwrap().len(), 0);

    // `switchboard status` prints it, with the token from the environment.
    let url = format!("http://{api}");
    let o = switchboard()
        .command(&["status", "--admin", &url])
        .env("SWITCHBOARD_TOKEN", &token)
        .output()
        .unwrap();
    assert!(o.status.success(), "status: {}", text(&o.stderr));
    let printed = text(&o.stdout);
    assert!(
        printed.contains("registrations: 1 (1 users registered of 1)"),
        "{printed}"
    );
    assert!(printed.contains("domains: 127.0.0.1"), "{printed}");
    let o = switchboard().run(&["trunks", "--admin", &url, "--token", &token]);
    assert!(o.status.success(), "trunks: {}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "no trunks in the plan\n");

    // Without a token the command says so (exit 2); with a wrong one it
    // shows the API's refusal (exit 1).
    let o = switchboard()
        .command(&["status", "--admin", &url])
        .env_remove("SWITCHBOARD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = switchboard().run(&["status", "--admin", &url, "--token", "wrong"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("Unauthorized"),
        "{}",
        text(&o.stderr)
    );

    reg.signal("TERM");
    assert!(reg.expect_exit(WAIT).success(), "{}", reg.report());
    let after = get(api, "/api/v1/registrations", Some(&token)).json();
    assert_eq!(after.as_array().unwrap().len(), 0, "{after}");
}

#[test]
fn malformed_requests_get_4xx_and_the_server_keeps_serving_sip() {
    let dir = tempfile::tempdir().unwrap();
    let (server, api) = serve_with_api(dir.path());
    let token = create_token(&server.data, "ci");

    get(api, "/api/v1/registrations?nope=1", Some(&token)).assert_problem(400);
    get(api, "/api/v1/registrations?user=", Some(&token)).assert_problem(400);
    get(api, "/api/v1/no-such-thing", Some(&token)).assert_problem(404);
    get(api, "/", None).assert_problem(404);
    request(api, "POST", "/api/v1/status", Some(&token)).assert_problem(405);
    request(api, "DELETE", "/api/v1/trunks", Some(&token)).assert_problem(405);
    let basic = exchange(
        api,
        b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YTpi\r\nConnection: close\r\n\r\n",
    );
    basic.assert_problem(401);
    // Not HTTP at all, and a header line without a colon: hyper answers
    // 400 itself, and the connection ends.
    for garbage in [
        &b"HELLO\r\n\r\n"[..],
        b"GET /api/v1/status HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let answer = exchange(api, garbage);
        assert!((400..500).contains(&answer.status), "{answer:?}");
    }
    // A client that connects and says nothing does not block the others.
    let _silent = TcpStream::connect(api).unwrap();

    // Meanwhile SIP goes on, and so does the API.
    assert!(register_once(&server), "{}", server.log_text());
    let status = get(api, "/api/v1/status", Some(&token));
    assert_eq!(status.status, 200, "{status:?}");
    let openapi = get(api, "/api/v1/openapi.json", Some(&token)).json();
    assert!(openapi["paths"]["/api/v1/status"]["get"].is_object());
    let plan = get(api, "/api/v1/plan", Some(&token)).json();
    assert_eq!(plan["trunks"], serde_json::json!([]));
}

#[test]
fn a_removed_token_stops_working() {
    let dir = tempfile::tempdir().unwrap();
    let (server, api) = serve_with_api(dir.path());
    let data = server.data.to_str().unwrap().to_owned();
    let keep = create_token(&server.data, "keep");
    let drop = create_token(&server.data, "drop");
    assert_eq!(get(api, "/api/v1/status", Some(&drop)).status, 200);
    let o = switchboard().run(&["token", "list", "--data", &data]);
    let listed = text(&o.stdout);
    assert!(
        listed.starts_with("drop created=") && listed.contains("\nkeep created="),
        "{listed}"
    );
    assert!(
        !listed.contains(&keep) && !listed.contains(&drop),
        "a token is shown once only"
    );
    let o = switchboard().run(&["token", "remove", "drop", "--data", &data]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = switchboard().run(&["token", "remove", "drop", "--data", &data]);
    assert_eq!(o.status.code(), Some(1));
    let o = switchboard().run(&["token", "create", "keep", "--data", &data]);
    assert_eq!(o.status.code(), Some(1), "a taken name is refused");
    assert!(
        wait_for(WAIT, || get(api, "/api/v1/status", Some(&drop)).status
            == 401),
        "the removed token still works"
    );
    assert_eq!(get(api, "/api/v1/status", Some(&keep)).status, 200);
}

#[test]
fn a_taken_admin_port_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret")]);
    let server = switchboard()
        .serve(&data)
        .config(NO_RATE_LIMIT)
        .args(&["--admin", &addr])
        .start();
    assert!(
        server.log_text().contains("admin: API not started"),
        "{}",
        server.log_text()
    );
    // The SIP server runs all the same.
    assert!(register_once(&server), "{}", server.log_text());
}

#[test]
fn the_api_beyond_loopback_needs_tls() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("udp:127.0.0.1:{}", free_port());
    let o = switchboard().run(&[
        "serve",
        "--listen",
        &listen,
        "--domain",
        "127.0.0.1",
        "--data",
        data.to_str().unwrap(),
        "--admin",
        "0.0.0.0:8089",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("--admin") && err.contains("TLS"), "{err}");
}

// ----- /metrics -----

/// `name{labels}` and its value.
type Samples = Vec<(String, f64)>;
/// A family's name and its type.
type Families = Vec<(String, String)>;

/// The samples of a Prometheus text: `name{labels}` -> value; and each
/// family's name with its type, checked to come with a HELP line.
fn parse_metrics(text: &str) -> (Samples, Families) {
    let mut samples = Vec::new();
    let mut families = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP"
            );
            families.push((name.to_owned(), kind.to_owned()));
        } else if !line.starts_with('#') && !line.is_empty() {
            let (series, value) = line.rsplit_once(' ').unwrap();
            samples.push((series.to_owned(), value.parse().unwrap()));
        }
    }
    (samples, families)
}

/// The families with a non-zero sample in `text` (a histogram by its
/// `_count`).
fn moved_families(text: &str) -> Vec<String> {
    let (samples, families) = parse_metrics(text);
    families
        .into_iter()
        .filter(|(name, kind)| {
            let series = if kind == "histogram" {
                format!("{name}_count")
            } else {
                name.clone()
            };
            samples
                .iter()
                .any(|(s, v)| *v > 0.0 && (s == &series || s.starts_with(&format!("{series}{{"))))
        })
        .map(|(name, _)| name)
        .collect()
}

/// The value of the series `series` (`name` or `name{label="value"}`).
fn sample(text: &str, series: &str) -> f64 {
    let (samples, _) = parse_metrics(text);
    samples
        .into_iter()
        .find(|(s, _)| s == series)
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .1
}

/// A trunk gateway on loopback that answers every OPTIONS with 200 until
/// dropped.
struct Gateway {
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Gateway {
    fn start() -> Self {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 65_535];
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    let request = text(&buf[..n]);
                    if request.starts_with("OPTIONS ") {
                        let ok = response_to(&request, 200, "OK", "gw", "");
                        let _ = socket.send_to(ok.as_bytes(), from);
                    }
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn metrics_on_loopback_need_no_token_and_every_one_moves() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(
        &data,
        &[("alice", "secret"), ("bob", "secret"), ("carol", "secret")],
    );
    let gateway = Gateway::start();
    // carol is locked out after two wrong passwords; the source never is.
    // One request waiting for its answer is the overload gate's mark, so
    // a call ringing closes it (and the answer opens it again).
    let config = format!(
        "[protection]\nrate_limit = false\nuser_failures = 2\nsource_failures = 1000\n\
         max_pending = 1\n\
         [[trunk]]\nname = \"carrier1\"\ngateways = [\"sip:{}\"]\nprobe = true\n\
         probe_interval = 1\nprobe_up = 1\n",
        gateway.addr
    );
    let api = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = switchboard()
        .serve(&data)
        .config(&config)
        .args(&["--admin", &api.to_string()])
        .start();
    let sip = server.addr().to_string();
    let account = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(&["--password", "secret", "--server", sip.as_str()])
            .map(|a| (*a).to_owned())
            .collect()
    };
    let spawn = |args: &[&str]| {
        let all = account(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        switchboard().spawn(args[0], &all)
    };

    // Every family seen non-zero in some scrape: gauges go back to zero
    // when the scenario ends, so they are read while it runs too.
    let mut moved = std::collections::BTreeSet::new();
    let scrape = |moved: &mut std::collections::BTreeSet<String>| {
        let answer = get(api, "/metrics", None);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            answer
                .head
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{answer:?}"
        );
        moved.extend(moved_families(&answer.body));
        answer.body
    };
    let first = scrape(&mut moved);
    let (_, families) = parse_metrics(&first);
    assert!(
        families
            .iter()
            .all(|(name, _)| name.starts_with("switchboard_")),
        "{families:?}"
    );

    // bob registers and answers after 1.5 s; alice watches his lamp and
    // calls him.
    let mut bob = spawn(&[
        "answer",
        "--as",
        "sip:bob@127.0.0.1",
        "--answer-after",
        "3000",
        "--srtp",
        "off",
    ]);
    bob.expect_line(Stream::Stdout, "registered", WAIT);
    let mut lamp = spawn(&[
        "subscribe",
        "sip:bob@127.0.0.1",
        "--event",
        "dialog",
        "--as",
        ALICE,
        "--duration",
        "30",
    ]);
    assert!(wait_for(WAIT, || !lamp.lines(Stream::Stdout).is_empty()));
    let mut call = spawn(&[
        "call",
        "sip:bob@127.0.0.1",
        "--as",
        ALICE,
        "--duration",
        "1",
        "--srtp",
        "off",
    ]);
    // Ringing: the call and its proxy context are there.
    assert!(
        wait_for(WAIT, || {
            let text = scrape(&mut moved);
            sample(&text, "switchboard_proxy_contexts") > 0.0
                && sample(&text, "switchboard_subscriptions") > 0.0
        }),
        "{}",
        server.log_text()
    );
    // ... and the gate is closed: a new registration gets 503 at once,
    // before any challenge, while the call goes on.
    let o = switchboard().run(
        &account(&["register", "sip:carol@127.0.0.1", "--once"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!o.status.success(), "{}", text(&o.stdout));
    let busy = scrape(&mut moved);
    let refused = "switchboard_requests_refused_total{reason=\"overload\"}";
    assert_eq!(sample(&busy, refused), 1.0, "{busy}");
    assert_eq!(sample(&busy, "switchboard_overloaded"), 1.0, "{busy}");
    assert!(
        sample(
            &busy,
            "switchboard_udp_read_passes_total{batch=\"partial\"}"
        ) >= 1.0,
        "the driver counts its UDP reads: {busy}"
    );
    call.expect_line(Stream::Stdout, "ended: local hangup", WAIT);
    assert!(call.expect_exit(WAIT).success(), "{}", call.report());
    let after_call = scrape(&mut moved);
    assert_eq!(sample(&after_call, "switchboard_call_attempts_total"), 1.0);
    assert_eq!(sample(&after_call, "switchboard_call_answers_total"), 1.0);
    let bye = "switchboard_sip_requests_received_total{method=\"BYE\"}";
    assert!(sample(&after_call, bye) >= 1.0);
    let invite = "switchboard_sip_requests_sent_total{method=\"INVITE\"}";
    assert!(sample(&after_call, invite) >= 1.0);

    // A call bob refuses (488: he takes no SRTP) fails.
    let o = switchboard().run(
        &account(&[
            "call",
            "sip:bob@127.0.0.1",
            "--as",
            ALICE,
            "--srtp",
            "required",
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let failed = scrape(&mut moved);
    assert_eq!(sample(&failed, "switchboard_call_failures_total"), 1.0);

    // The probed gateway comes up.
    assert!(
        wait_for(WAIT, || sample(
            &scrape(&mut moved),
            "switchboard_gateways{health=\"up\"}"
        ) == 1.0),
        "{}",
        server.log_text()
    );

    // Wrong passwords: failures, then carol's lockout.
    for _ in 0..3 {
        let o = switchboard().run(&[
            "register",
            "sip:carol@127.0.0.1",
            "--once",
            "--password",
            "wrong",
            "--server",
            &sip,
        ]);
        assert!(!o.status.success());
    }
    let refused = scrape(&mut moved);
    assert!(
        sample(&refused, "switchboard_auth_failures_total") >= 3.0,
        "{refused}"
    );
    assert!(
        sample(&refused, "switchboard_auth_lockouts_total") >= 1.0,
        "{refused}"
    );

    // The operator hangs a call up: the server's BYEs are counted.
    let token = create_token(&data, "ops");
    let long = spawn(&[
        "call",
        "sip:bob@127.0.0.1",
        "--as",
        ALICE,
        "--duration",
        "30",
        "--srtp",
        "off",
    ]);
    let mut call_id = None;
    assert!(
        wait_for(WAIT, || {
            let list = get(api, "/api/v1/calls", Some(&token)).json();
            call_id = list.as_array().and_then(|calls| {
                calls
                    .iter()
                    .find(|c| c["state"] == "confirmed")
                    .and_then(|c| c["call_id"].as_str().map(str::to_owned))
            });
            call_id.is_some()
        }),
        "{}",
        server.log_text()
    );
    let path = format!("/api/v1/calls/{}", call_id.unwrap());
    assert_eq!(request(api, "DELETE", &path, Some(&token)).status, 200);
    long.expect_line(Stream::Stdout, "ended: remote hangup", WAIT);
    let hung_up = scrape(&mut moved);
    let operator = "switchboard_calls_ended_total{reason=\"operator\"}";
    assert_eq!(sample(&hung_up, operator), 1.0, "{hung_up}");

    lamp.signal("TERM");
    lamp.expect_exit(WAIT);
    bob.signal("TERM");
    bob.expect_exit(WAIT);
    let last = scrape(&mut moved);
    let (_, families) = parse_metrics(&last);
    let never: Vec<&String> = families
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !moved.contains(*name))
        .collect();
    assert!(never.is_empty(), "never moved: {never:?}\n{last}");
    drop(gateway);
}

// --- users, registrations, presence and the plan through the API ---------

const CAROL: &str = "sip:carol@127.0.0.1";

/// The bindings of `user` the API lists.
fn bindings_of(api: SocketAddr, token: &str, user: &str) -> Vec<serde_json::Value> {
    let list = get(
        api,
        &format!("/api/v1/registrations?user={user}"),
        Some(token),
    );
    assert_eq!(list.status, 200, "{list:?}");
    list.json().as_array().unwrap().clone()
}

/// A user created through the API registers at once; a new password
/// works at once and the old one no longer; removed, its registration is
/// gone from the server and the store, and its REGISTER is refused.
#[test]
fn a_user_created_changed_and_removed_through_the_api_is_in_force_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (server, api) = serve_with_api(dir.path());
    let token = create_token(&server.data, "ci");

    let created = request_json(
        api,
        "POST",
        "/api/v1/users",
        &token,
        r#"{"user":"carol","domain":"127.0.0.1","password":"first"}"#,
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json()[0]["user"], "carol");
    assert!(!created.body.contains("ha1"), "{created:?}");
    // No wait: the 201 came once the service held the user.
    assert!(
        register_once_as(&server, CAROL, "first"),
        "{}",
        server.log_text()
    );

    let changed = request_json(
        api,
        "PATCH",
        "/api/v1/users/carol@127.0.0.1",
        &token,
        r#"{"password":"second"}"#,
    );
    assert_eq!(changed.status, 200, "{changed:?}");
    assert!(!register_once_as(&server, CAROL, "first"));
    assert!(
        register_once_as(&server, CAROL, "second"),
        "{}",
        server.log_text()
    );

    // Bad input changes nothing: carol keeps her password.
    request_json(
        api,
        "PATCH",
        "/api/v1/users/carol",
        &token,
        r#"{"password":""}"#,
    )
    .assert_problem(422);
    request_json(api, "POST", "/api/v1/users", &token, r#"{"user":"carol","#).assert_problem(400);
    request_json(
        api,
        "POST",
        "/api/v1/users",
        &token,
        r#"{"user":"carol","domain":"127.0.0.1","password":"third"}"#,
    )
    .assert_problem(409);
    assert!(register_once_as(&server, CAROL, "second"));

    // A device of hers stays registered, then she is removed.
    let addr = server.addr().to_string();
    let reg = switchboard().spawn(
        "register",
        &["register", CAROL, "--password", "second", "--server", &addr],
    );
    reg.expect_line(Stream::Stdout, "registered", WAIT);
    assert_eq!(bindings_of(api, &token, "carol").len(), 1);
    let removed = request(api, "DELETE", "/api/v1/users/carol", Some(&token));
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(removed.json()["bindings_removed"], 1, "{removed:?}");
    assert!(bindings_of(api, &token, "carol").is_empty());
    assert!(!register_once_as(&server, CAROL, "second"));
    get(api, "/api/v1/users/carol", Some(&token)).assert_problem(404);
    // The store too (what a restart would load).
    let o = switchboard().run(&["registrations", "--data", path_str(&server.data)]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains("carol"), "{}", text(&o.stdout));
    drop(reg);
}

/// A binding removed through the API is gone from the server and the
/// store before the answer; a second removal finds nothing.
#[test]
fn a_registration_is_removed_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let (server, api) = serve_with_api(dir.path());
    let token = create_token(&server.data, "ci");
    let addr = server.addr().to_string();
    let reg = switchboard().spawn(
        "register",
        &["register", ALICE, "--password", "secret", "--server", &addr],
    );
    reg.expect_line(Stream::Stdout, "registered", WAIT);
    let list = bindings_of(api, &token, "alice");
    assert_eq!(list.len(), 1, "{list:?}");
    let contact = list[0]["contact"].as_str().unwrap().to_owned();
    let wrong = request(
        api,
        "DELETE",
        "/api/v1/registrations/alice?contact=sip%3Anobody%40192.0.2.1",
        Some(&token),
    );
    wrong.assert_problem(404);
    let encoded: String = contact
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let removed = request(
        api,
        "DELETE",
        &format!("/api/v1/registrations/alice@127.0.0.1?contact={encoded}"),
        Some(&token),
    );
    assert_eq!(removed.status, 200, "{removed:?}");
    assert_eq!(removed.json()["removed"], 1);
    assert!(bindings_of(api, &token, "alice").is_empty());
    let o = switchboard().run(&["registrations", "--data", path_str(&server.data)]);
    assert!(!text(&o.stdout).contains("alice"), "{}", text(&o.stdout));
    request(api, "DELETE", "/api/v1/registrations/alice", Some(&token)).assert_problem(404);
    drop(reg);
}

/// What a phone publishes is what the API shows.
#[test]
fn presence_published_by_a_phone_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (server, api) = serve_with_api(dir.path());
    let token = create_token(&server.data, "ci");
    get(api, "/api/v1/presence/alice", Some(&token)).assert_problem(404);
    let addr = server.addr().to_string();
    let publish = switchboard().spawn(
        "publish",
        &[
            "publish",
            ALICE,
            "--status",
            "away",
            "--note",
            "at lunch",
            "--password",
            "secret",
            "--server",
            &addr,
        ],
    );
    publish.expect_line(Stream::Stdout, "published (expires", WAIT);
    let shown = get(api, "/api/v1/presence/alice", Some(&token));
    assert_eq!(shown.status, 200, "{shown:?}");
    let alice = &shown.json()[0];
    assert_eq!(alice["presentity"], ALICE, "{alice}");
    assert_eq!(alice["basic"], "open", "{alice}");
    assert_eq!(alice["note"], "at lunch", "{alice}");
    assert!(
        alice["activities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "away"),
        "{alice}"
    );
    assert!(alice["expires_in"].as_u64().unwrap() > 0, "{alice}");
    let all = get(api, "/api/v1/presence", Some(&token)).json();
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    publish.signal("TERM");
    publish.expect_line(Stream::Stdout, "publication removed", WAIT);
    let gone = get(api, "/api/v1/presence", Some(&token)).json();
    assert_eq!(gone.as_array().unwrap().len(), 0, "{gone}");
}

const PLAN_INTERNAL: &str =
    "[[route]]\nname = \"internal\"\nto_pattern = \"^[1-9][0-9]{2}$\"\nuser = \"$number\"\n";
const PLAN_BLOCKED: &str =
    "[[route]]\nname = \"blocked\"\nto_prefix = [\"1\"]\nreject = 403\nreason = \"Blocked\"\n";
const PLAN_BROKEN: &str =
    "[[route]]\nname = \"abroad\"\nto_prefix = [\"00\"]\ntrunks = [\"nosuch\"]\n";

/// `POST /routes/test` decides with the plan in force; `POST
/// /routes/reload` loads the file again: a broken plan is refused with its
/// file and line and the old one stays; a good one goes live.
#[test]
fn the_plan_is_tried_and_reloaded_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret")]);
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = switchboard()
        .serve(&data)
        .config(&format!("{NO_RATE_LIMIT}{PLAN_INTERNAL}"))
        .args(&["--admin", &admin.to_string()])
        .start();
    let token = create_token(&data, "ci");
    let call =
        r#"{"number":"123","from":"sip:alice@127.0.0.1","source":"127.0.0.1","transport":"udp"}"#;
    let decide = || {
        let answer = request_json(admin, "POST", "/api/v1/routes/test", &token, call);
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.json()
    };
    let first = decide();
    assert_eq!(first["outcome"], "route", "{first}");
    assert_eq!(first["rule"], "internal", "{first}");
    assert!(
        first["text"]
            .as_str()
            .unwrap()
            .contains("result: rule internal"),
        "{first}"
    );
    request_json(
        admin,
        "POST",
        "/api/v1/routes/test",
        &token,
        r#"{"number":"123","from":"sip:alice@127.0.0.1","time":"tea time"}"#,
    )
    .assert_problem(422);

    let original = std::fs::read_to_string(&server.config).unwrap();
    std::fs::write(&server.config, format!("{original}{PLAN_BROKEN}")).unwrap();
    let refused = request(admin, "POST", "/api/v1/routes/reload", Some(&token));
    refused.assert_problem(422);
    let detail = refused.json()["detail"].as_str().unwrap().to_owned();
    let file = server.config.file_name().unwrap().to_str().unwrap();
    assert!(
        detail.contains(file) && detail.contains("nosuch"),
        "{detail}"
    );
    assert_eq!(decide()["rule"], "internal");

    std::fs::write(
        &server.config,
        original.replace(PLAN_INTERNAL, PLAN_BLOCKED),
    )
    .unwrap();
    let loaded = request(admin, "POST", "/api/v1/routes/reload", Some(&token));
    assert_eq!(loaded.status, 200, "{loaded:?}");
    assert_eq!(loaded.json()["result"], "loaded");
    let now = decide();
    assert_eq!(
        (&now["outcome"], &now["status"], &now["rule"]),
        (
            &serde_json::json!("reject"),
            &serde_json::json!(403),
            &serde_json::json!("blocked")
        ),
        "{now}"
    );
}

/// Calls to 300 reach bob, for the `staff` group only; no one is staff in
/// the plan (the store's groups are what let a caller in).
const PLAN_STAFF_LINE: &str = "[groups]\nstaff = []\n\n[[route]]\nname = \"staff-line\"\n\
    to = [\"300\"]\nrequire_group = \"staff\"\ndeny_reason = \"Staff only\"\nuser = \"bob\"\n";

/// alice (password `secret`) calls 300 from `phone`, answering the 407:
/// the final answer to her authenticated INVITE, or `None` when none came
/// (the call was routed on and is ringing).
fn alice_calls_300(phone: &mut UdpPeer, attempt: u32) -> Option<String> {
    let uri = format!("sip:300@{DOMAIN}");
    let call_id = format!("staff-{attempt}");
    let invite = phone.request("INVITE", &uri, ALICE, &uri, &call_id, 1, "");
    let challenge = phone.transact(&invite).expect("an answer to INVITE");
    assert_eq!(status_code(&challenge), 407, "{challenge}");
    let auth = credentials(&challenge, "INVITE", &uri, "alice", "secret");
    let again = phone.request(
        "INVITE",
        &uri,
        ALICE,
        &uri,
        &call_id,
        2,
        &format!("Proxy-Authorization: {auth}\r\n"),
    );
    phone.send(&again);
    let (answer, _) = phone.recv_until(Duration::from_secs(3), |m| status_code(m) >= 200);
    answer
}

/// A user's groups changed through the API decide her next call: alice
/// (in no group) gets 403 calling a staff-only number; once `PATCH`ed into
/// `staff` the same call rings bob; the plan's `[groups]` never changed.
#[test]
fn groups_patched_through_the_api_decide_the_next_call() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    switchboard().add_users(&data, &[("alice", "secret"), ("bob", "bob-pw")]);
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = switchboard()
        .serve(&data)
        .config(&format!("{NO_RATE_LIMIT}{PLAN_STAFF_LINE}"))
        .args(&["--admin", &admin.to_string()])
        .start();
    let token = create_token(&data, "ci");
    let mut bob = UdpPeer::new(server.addr());
    bob.register("bob", "bob-pw");
    let mut alice = UdpPeer::new(server.addr());

    let route_test = || {
        let call = r#"{"number":"300","from":"sip:alice@127.0.0.1"}"#;
        let answer = request_json(admin, "POST", "/api/v1/routes/test", &token, call);
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.json()["outcome"].as_str().unwrap().to_owned()
    };
    assert_eq!(route_test(), "reject");
    let refused = alice_calls_300(&mut alice, 1).expect("a final answer");
    assert_eq!(status_code(&refused), 403, "{refused}");
    assert!(refused.contains("Staff only"), "{refused}");
    let (nothing, _) = bob.recv_until(Duration::from_millis(300), |m| method(m) == "INVITE");
    assert!(nothing.is_none(), "{nothing:?}");

    let bad = request_json(
        admin,
        "PATCH",
        "/api/v1/users/alice",
        &token,
        r#"{"groups":["staff,sales"]}"#,
    );
    bad.assert_problem(422);
    let patched = request_json(
        admin,
        "PATCH",
        "/api/v1/users/alice",
        &token,
        r#"{"groups":["staff"]}"#,
    );
    assert_eq!(patched.status, 200, "{patched:?}");
    let entry = &patched.json()[0];
    assert_eq!(entry["groups"], serde_json::json!(["staff"]), "{entry}");
    assert_eq!(
        entry["stored_groups"],
        serde_json::json!(["staff"]),
        "{entry}"
    );
    assert_eq!(entry["plan_groups"], serde_json::json!([]), "{entry}");

    // No wait: the 200 came once the service held the new groups; the
    // API's dry run sees them too.
    assert_eq!(route_test(), "route");
    let answer = alice_calls_300(&mut alice, 2);
    assert!(
        answer.as_deref().is_none_or(|a| status_code(a) != 403),
        "{answer:?}\n{}",
        server.log_text()
    );
    let (rung, _) = bob.recv_until(WAIT, |m| method(m) == "INVITE");
    let rung = rung.unwrap_or_else(|| panic!("bob's phone did not ring\n{}", server.log_text()));
    assert!(rung.contains("staff-2"), "{rung}");
}
