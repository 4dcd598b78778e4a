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
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    exchange(addr, text.as_bytes())
}

fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Http {
    request(addr, "GET", path, token)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `switchboard token create NAME`: the token printed.
fn create_token(data: &Path, name: &str) -> String {
    let o = switchboard().run(&["token", "create", name, "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "token create: {}", text(&o.stderr));
    let token = text(&o.stdout).trim().to_owned();
    assert_eq!(token.len(), 43, "32 bytes base64url: {token:?}");
    token
}

/// `serve` with alice (password `secret`) and the API on a free port.
fn serve_with_api(dir: &Path) -> (Server, SocketAddr) {
    let data = dir.join("data");
    switchboard().add_users(&data, &[("alice", "secret")]);
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = switchboard()
        .serve(&data)
        .config(NO_RATE_LIMIT)
        .args(&["--admin", &admin.to_string()])
        .start();
    assert!(
        server
            .log_text()
            .contains(&format!("admin: API on http://{admin}/api/v1")),
        "{}",
        server.log_text()
    );
    (server, admin)
}

/// `switchboard register ALICE --once` against `server`: whether it
/// registered (the server still serves SIP).
fn register_once(server: &Server) -> bool {
    let addr = server.addr().to_string();
    let o = switchboard().run(&[
        "register",
        ALICE,
        "--once",
        "--password",
        "secret",
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
