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

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use switchboard_core::{Destination, Transport};
use switchboard_net::{Config, Handle, Outcome, TlsClient};
use switchboard_proto::digest::{self, DigestChallenge, RequestInfo};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, Response};

const LIMIT: Duration = Duration::from_secs(20);

/// `switchboard args`, which must succeed: its stdout.
fn switchboard_ok(args: &[&str]) -> String {
    let out = switchboard().run(args);
    assert!(out.status.success(), "{args:?}: {out:?}");
    text(&out.stdout)
}

/// Starts `serve` on UDP and TCP of a free port plus `listen`, with a
/// certificate (`cert.pem` in `dir`) and `config` (rate limit off).
fn start(dir: &Path, listen: &[String], config: &str) -> Server {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let mut serve = switchboard()
        .serve(&dir.join("data"))
        .config(&format!("{NO_RATE_LIMIT}{config}"))
        .certificate(&cert_path, &key_path);
    for l in listen {
        serve = serve.listen(l);
    }
    serve.start()
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
    let name = transport.as_lowercase_token().to_owned();
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
    switchboard_ok(&[
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
    // UDP and TCP on the server's port, a free port for each other one.
    let tls_ws_wss: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let listen: Vec<String> = transports[2..]
        .iter()
        .zip(&tls_ws_wss)
        .map(|(t, p)| format!("{}:127.0.0.1:{p}", t.as_lowercase_token()))
        .collect();
    let server = start(dir.path(), &listen, "");
    let ports: Vec<u16> = [server.port, server.port]
        .into_iter()
        .chain(tls_ws_wss)
        .collect();
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
    let listed = switchboard_ok(&["registrations", "--data", d]);
    for transport in transports {
        let name = transport.as_lowercase_token().to_owned();
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
        switchboard_ok(&[
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
    // Wrong passwords here are the test's: no lockout.
    let server = start(dir.path(), &[], "lockout = false\n");
    let server_addr = server.addr();
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

        switchboard_ok(&[
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
