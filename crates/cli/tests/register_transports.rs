//! REGISTER with digest authentication over every transport the server
//! listens on: UDP, TCP, TLS, WS and WSS. The client is Switchboard's own
//! network runtime (`switchboard-net`, trusting the test certificate); the
//! server is the real binary. Each binding is listed by `registrations`
//! with the transport it came over.

// Test code: a failed unwrap or index is a failed test, which is what we want.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_core::{Destination, Transport};
use switchboard_net::{Config, Handle, Outcome, TlsClient};
use switchboard_proto::digest::{self, DigestChallenge, RequestInfo};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");
const LIMIT: Duration = Duration::from_secs(20);

/// Kills the server by PID when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn switchboard(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `serve` with `listen` and the certificate, waits for "ready".
fn start(dir: &Path, listen: &[String]) -> Guard {
    start_with(dir, listen, "")
}

/// [`start`] with more configuration.
fn start_with(dir: &Path, listen: &[String], config: &str) -> Guard {
    let data = dir.join("data");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), cert.key_pair.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("switchboard.toml"),
        format!("[protection]\nrate_limit = false\n{config}"),
    )
    .unwrap();
    let mut args = vec![
        "serve".to_owned(),
        "--domain".into(),
        "127.0.0.1".into(),
        "--data".into(),
        data.display().to_string(),
        "--config".into(),
        dir.join("switchboard.toml").display().to_string(),
        "--tls-cert".into(),
        dir.join("cert.pem").display().to_string(),
        "--tls-key".into(),
        dir.join("key.pem").display().to_string(),
    ];
    for l in listen {
        args.push("--listen".into());
        args.push(l.clone());
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let guard = Guard(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[server] {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("ready") => return guard,
            Ok(_) => {}
            Err(_) => panic!("server not ready in {LIMIT:?}"),
        }
    }
}

/// A REGISTER for alice from `contact`, CSeq `cseq`, with `authorization`.
fn register(call_id: &str, cseq: u32, contact: &str, authorization: Option<String>) -> Request {
    let mut b = RequestBuilder::new(Method::Register, "sip:127.0.0.1")
        .from("<sip:alice@127.0.0.1>", "t1")
        .to("<sip:alice@127.0.0.1>", None)
        .call_id(call_id)
        .cseq(cseq)
        .contact(contact)
        .header(HeaderName::Expires, "600");
    if let Some(a) = authorization {
        b = b.header(HeaderName::Authorization, a);
    }
    b.build().unwrap()
}

async fn final_response(handle: &Handle, request: Request, to: Destination) -> Response {
    let mut tx = handle.send_request(request, to).await.unwrap();
    match tokio::time::timeout(LIMIT, tx.final_outcome()).await {
        Ok(Some(Outcome::Final { response, .. })) => response,
        other => panic!("no final response: {other:?}"),
    }
}

/// REGISTER, 401, REGISTER answering the first (MD5) challenge, 200.
async fn register_over(handle: &Handle, transport: Transport, server: SocketAddr) {
    let status = register_as(handle, transport, server, "alice-pw", 1).await;
    assert_eq!(status, 200, "{transport}");
}

/// REGISTER, 401, REGISTER answering the first challenge with `password`
/// (Call-ID by transport and `round`): the final status.
async fn register_as(
    handle: &Handle,
    transport: Transport,
    server: SocketAddr,
    password: &str,
    round: u32,
) -> u16 {
    let to = Destination::Address {
        transport,
        remote: server,
    };
    let name = transport.as_via_token().to_ascii_lowercase();
    let call_id = format!("reg-{name}-{round}");
    let contact = format!("<sip:alice-{name}@127.0.0.1:5999>");
    let first = final_response(handle, register(&call_id, 1, &contact, None), to).await;
    assert_eq!(first.status().as_u16(), 401, "{name}");
    let challenge = first
        .headers()
        .get(HeaderName::WwwAuthenticate)
        .map(|v| DigestChallenge::parse(v).unwrap().into_owned())
        .unwrap();
    let ha1 = digest::ha1(
        challenge.algorithm_or_default(),
        "alice",
        &challenge.realm,
        password,
    );
    let credentials = challenge
        .respond(
            "alice",
            &ha1,
            &RequestInfo::new("REGISTER", "sip:127.0.0.1"),
            "c0ffee",
            1,
        )
        .unwrap();
    let second = final_response(
        handle,
        register(&call_id, 2, &contact, Some(credentials.to_string())),
        to,
    )
    .await;
    if second.status().as_u16() != 200 {
        return second.status().as_u16();
    }
    let listed: Vec<_> = second.headers().get_all(HeaderName::Contact).collect();
    assert!(
        listed.iter().any(|c| c.contains(&format!("alice-{name}@"))),
        "{name}: {listed:?}"
    );
    200
}

#[test]
fn register_with_digest_over_udp_tcp_tls_ws_and_wss() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    switchboard(&[
        "user",
        "add",
        "alice",
        "--password",
        "alice-pw",
        "--domain",
        "127.0.0.1",
        "--data",
        d,
    ]);
    let transports = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Tls,
        Transport::Ws,
        Transport::Wss,
    ];
    // One free port per transport (UDP takes the TCP listener's number,
    // free for TCP and almost always for UDP).
    let ports: Vec<u16> = transports.iter().map(|_| free_tcp_port()).collect();
    let listen: Vec<String> = transports
        .iter()
        .zip(&ports)
        .map(|(t, p)| format!("{}:127.0.0.1:{p}", t.as_via_token().to_ascii_lowercase()))
        .collect();
    let server = start(dir.path(), &listen);
    let cert = std::fs::read(dir.path().join("cert.pem")).unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = Config::default();
        config.listen.push(switchboard_net::Listen::new(
            Transport::Udp,
            "127.0.0.1:0".parse().unwrap(),
        ));
        config.tls_client = Some(TlsClient::trusting_pem(&cert).unwrap());
        let (handle, _incoming) = switchboard_net::start(config).await.unwrap();
        for (transport, port) in transports.iter().zip(&ports) {
            let server: SocketAddr = ([127, 0, 0, 1], *port).into();
            register_over(&handle, *transport, server).await;
        }
        handle.shutdown().await;
    });

    // The store has one binding per transport, each with its source.
    let listed = switchboard(&["registrations", "--data", d]);
    for transport in transports {
        let name = transport.as_via_token().to_ascii_lowercase();
        let line = listed
            .lines()
            .find(|l| l.contains(&format!("alice-{name}@")))
            .unwrap_or_else(|| panic!("no {name} binding in\n{listed}"));
        assert!(
            line.contains(&format!(" source={name}:127.0.0.1:")),
            "{line}"
        );
    }
    drop(server);
}

/// A password changed with `user passwd` while the server runs is the one
/// that counts a moment later; a user added meanwhile registers at once.
#[test]
fn user_changes_reach_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = data.to_str().unwrap();
    let add = |name: &str, password: &str| {
        switchboard(&[
            "user",
            "add",
            name,
            "--password",
            password,
            "--domain",
            "127.0.0.1",
            "--data",
            d,
        ]);
    };
    add("carol", "carol-pw");
    let port = free_tcp_port();
    // Wrong passwords here are the test's: no lockout.
    let server = start_with(
        dir.path(),
        &[format!("udp:127.0.0.1:{port}")],
        "lockout = false\n",
    );
    let server_addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut config = Config::default();
        config.listen.push(switchboard_net::Listen::new(
            Transport::Udp,
            "127.0.0.1:0".parse().unwrap(),
        ));
        let (handle, _incoming) = switchboard_net::start(config).await.unwrap();
        // alice did not exist when the server started.
        add("alice", "alice-pw");
        let status = register_as(&handle, Transport::Udp, server_addr, "alice-pw", 1).await;
        assert_eq!(status, 200, "a user added while running");

        switchboard(&[
            "user",
            "passwd",
            "alice",
            "--password",
            "alice-new",
            "--domain",
            "127.0.0.1",
            "--data",
            d,
        ]);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut round = 2;
        loop {
            let old = register_as(&handle, Transport::Udp, server_addr, "alice-pw", round).await;
            round += 1;
            if old == 401 {
                break;
            }
            assert_eq!(old, 200);
            assert!(
                Instant::now() < deadline,
                "old password still accepted after 5 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let new = register_as(&handle, Transport::Udp, server_addr, "alice-new", round).await;
        assert_eq!(new, 200, "the new password");
        handle.shutdown().await;
    });
    drop(server);
}
