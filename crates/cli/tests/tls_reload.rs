//! The TLS certificate replaced while `serve` runs, as automated renewal
//! does: new connections get the new one within the poll interval, an
//! open one keeps working, a broken file is refused with the old
//! certificate kept, SIGHUP reloads at once; `/api/v1/status` and
//! `/metrics` show the expiry of the certificate in force.

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
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use switchboard_admin::{AdminConfig, AdminServer, Driver, Limits, ServerInfo, Tokens};
use switchboard_net::{ReloadableCertificate, TlsServer};
use switchboard_store::{AnyStore, SqliteStore};

const WAIT: Duration = Duration::from_secs(15);

/// A self-signed certificate for localhost and its key.
struct Pair {
    der: Vec<u8>,
    cert_pem: String,
    key_pem: String,
}

impl Pair {
    /// For `localhost`, named `name`, valid until January 1st `years`
    /// years after this one.
    fn new(name: &str, years: i32) -> Self {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, name);
        params.distinguished_name = dn;
        params.not_after = rcgen::date_time_ymd(this_year() + years, 1, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// Over the files, as a renewal does.
    fn write(&self, dir: &Path) {
        std::fs::write(dir.join("cert.pem"), &self.cert_pem).unwrap();
        std::fs::write(dir.join("key.pem"), &self.key_pem).unwrap();
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The year now, near enough (a Gregorian year's mean length).
fn this_year() -> i32 {
    1970 + i32::try_from(unix_now() / 31_556_952).unwrap()
}

/// A TLS connection to `port` trusting every pair of `trusted`.
fn connect(port: u16, trusted: &[&Pair]) -> StreamOwned<ClientConnection, TcpStream> {
    let mut roots = RootCertStore::empty();
    for pair in trusted {
        roots.add(CertificateDer::from(pair.der.clone())).unwrap();
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap();
    }
    StreamOwned::new(conn, tcp)
}

/// The certificate a new connection to `port` is served.
fn served(port: u16, trusted: &[&Pair]) -> Vec<u8> {
    let stream = connect(port, trusted);
    stream.conn.peer_certificates().unwrap()[0].to_vec()
}

/// Waits until new connections are served `pair`.
fn wait_served(port: u16, pair: &Pair, trusted: &[&Pair]) {
    assert!(
        wait_for(WAIT, || served(port, trusted) == pair.der),
        "the new certificate is not served"
    );
}

/// An OPTIONS over `stream`: the status line of its answer.
fn options(stream: &mut StreamOwned<ClientConnection, TcpStream>, n: u32) -> String {
    let request = format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-open{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\r\nTo: <sip:127.0.0.1>\r\n\
         Call-ID: open-{n}@test\r\nCSeq: {n} OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut buf).unwrap();
        assert!(read > 0, "connection closed");
        answer.extend_from_slice(&buf[..read]);
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

/// `GET path` on the admin API (plain HTTP on loopback), with the token
/// if any: the body of its 200.
fn get(admin: SocketAddr, path: &str, token: Option<&str>) -> String {
    let mut stream = TcpStream::connect(admin).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {admin}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    body.to_owned()
}

/// `/api/v1/status`'s certificates.
fn certificates(admin: SocketAddr, token: &str) -> serde_json::Value {
    let status: serde_json::Value =
        serde_json::from_str(&get(admin, "/api/v1/status", Some(token))).unwrap();
    status["certificates"].clone()
}

/// The value of `switchboard_tls_certificate_expiry_seconds{path=..}`.
fn expiry_metric(admin: SocketAddr, cert: &Path) -> u64 {
    let series = format!(
        "switchboard_tls_certificate_expiry_seconds{{path=\"{}\"}} ",
        cert.display()
    );
    let text = get(admin, "/metrics", None);
    let line = text
        .lines()
        .find(|l| l.starts_with(&series))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"));
    line[series.len()..].parse().unwrap()
}

/// Checks status and metrics show `name`'s certificate in force: its
/// expiry (unix seconds).
fn assert_shown(admin: SocketAddr, token: &str, cert: &Path, name: &str) -> u64 {
    let shown = certificates(admin, token);
    assert_eq!(shown.as_array().unwrap().len(), 1, "{shown}");
    let shown = &shown[0];
    assert_eq!(shown["path"], cert.display().to_string());
    assert_eq!(shown["subject"], format!("CN={name}"));
    let not_after = shown["not_after"].as_u64().unwrap();
    let days_left = shown["days_left"].as_i64().unwrap();
    let expected = i64::try_from((not_after - unix_now()) / 86_400).unwrap();
    assert!((days_left - expected).abs() <= 1, "{shown}");
    assert_eq!(expiry_metric(admin, cert), not_after);
    not_after
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        Pair::new("a.test", 1),
        Pair::new("b.test", 2),
        Pair::new("c.test", 3),
    );
    let all = [&a, &b, &c];
    a.write(dir.path());
    let cert = dir.path().join("cert.pem");
    let data = dir.path().join("data");
    let o = switchboard().run(&["token", "create", "test", "--data", data.to_str().unwrap()]);
    assert!(o.status.success(), "{o:?}");
    let token = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let tls_port = free_port();
    let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = switchboard()
        .serve(&data)
        .config(NO_RATE_LIMIT)
        .listen(&format!("tls:127.0.0.1:{tls_port}"))
        .certificate(&cert, &dir.path().join("key.pem"))
        .args(&["--admin", &admin.to_string()])
        .start();

    // A at start, shown with its expiry.
    assert_eq!(served(tls_port, &all), a.der);
    let a_expiry = assert_shown(admin, &token, &cert, "a.test");
    let mut open = connect(tls_port, &all);
    assert!(options(&mut open, 1).starts_with("SIP/2.0 "));

    // B written over the files: served to new connections, A's
    // connection still open and answered.
    b.write(dir.path());
    wait_served(tls_port, &b, &all);
    server.wait_log_count("files changed: certificate", 0, WAIT);
    let b_expiry = assert_shown(admin, &token, &cert, "b.test");
    assert!(b_expiry > a_expiry);
    assert_eq!(open.conn.peer_certificates().unwrap()[0].as_ref(), a.der);
    assert!(options(&mut open, 2).starts_with("SIP/2.0 "));

    // A broken certificate file: refused, B still served and shown.
    let refused = server.log_count("refused, the one in force stays");
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    server.wait_log_count("refused, the one in force stays", refused, WAIT);
    assert_eq!(served(tls_port, &all), b.der);
    assert_eq!(assert_shown(admin, &token, &cert, "b.test"), b_expiry);

    // SIGHUP reloads at once.
    let by_hup = server.log_count("SIGHUP: certificate");
    c.write(dir.path());
    server.reload();
    server.wait_log_count("SIGHUP: certificate", by_hup, WAIT);
    wait_served(tls_port, &c, &all);
    assert_shown(admin, &token, &cert, "c.test");
    // The dial plan reload on SIGHUP still runs.
    server.wait_log_count("SIGHUP: dial plan loaded", 0, WAIT);
    assert!(options(&mut open, 3).starts_with("SIP/2.0 "));
}

/// The admin API's HTTPS (beyond loopback, started here on loopback to
/// keep the test on this host) takes the server's rustls configuration:
/// a reload reaches it too.
#[test]
fn the_admin_https_serves_the_reloaded_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (Pair::new("a.test", 1), Pair::new("b.test", 2));
    a.write(dir.path());
    let certificate = Arc::new(
        ReloadableCertificate::load(dir.path().join("cert.pem"), dir.path().join("key.pem"))
            .unwrap(),
    );
    let tls = TlsServer::reloading(Arc::clone(&certificate)).unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let tokens = Arc::new(Tokens::load(Arc::new(AnyStore::from(store))).unwrap());
    let info = ServerInfo {
        version: "0".into(),
        listeners: Vec::new(),
        domains: Vec::new(),
        limits: Limits {
            max_transactions: 1,
            max_bindings: 1,
            max_contacts_per_aor: 1,
            min_expires: 60,
            max_expires: 3600,
        },
    };
    let config = AdminConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        tls: Some(tls.config()),
        info,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let driver = Driver::new(|_, _| false);
    let server = runtime
        .block_on(AdminServer::start(config, driver, tokens))
        .unwrap();
    let port = server.local_addr().port();
    assert_eq!(served(port, &[&a, &b]), a.der);
    b.write(dir.path());
    assert_eq!(certificate.reload(unix_now()).unwrap().subject, "CN=b.test");
    assert_eq!(served(port, &[&a, &b]), b.der);
    runtime.block_on(server.shutdown());
}
