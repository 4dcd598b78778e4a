//! Helpers for the runtime tests: peers on loopback that answer requests,
//! test certificates, request builders, raw socket helpers.
// Tests: a panic is a failure; not every test binary uses every helper.
#![allow(
    unreachable_pub,
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use switchboard_core::{Destination, Transport};
use switchboard_net::{
    ClientTransaction, Config, Handle, Incoming, Listen, Outcome, TlsClient, TlsServer,
    start_with_rng,
};
use switchboard_proto::{
    HeaderName, Method, Request, RequestBuilder, Response, ResponseBuilder, StatusCode,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Every wait in these tests is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(10);

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Runs `fut` or fails the test after [`LIMIT`].
pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut).await.expect("timed out")
}

/// A CA and a certificate it issued for `names` (DNS names or IPs).
pub struct Certs {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn certs(names: &[&str]) -> Certs {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Switchboard test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let cert = CertificateParams::new(names)
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Certs {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

pub fn config(transports: &[Transport], certs: Option<&Certs>) -> Config {
    let mut config = Config::default();
    for t in transports {
        config.listen.push(Listen::new(*t, loopback()));
    }
    if let Some(c) = certs {
        config.tls_server =
            Some(TlsServer::from_pem(c.cert_pem.as_bytes(), c.key_pem.as_bytes()).unwrap());
        config.tls_client = Some(TlsClient::trusting_pem(c.ca_pem.as_bytes()).unwrap());
    }
    config
}

/// A running runtime whose incoming requests are answered by [`serve`];
/// everything it received is copied to `log`.
pub struct Peer {
    pub handle: Handle,
    pub log: mpsc::UnboundedReceiver<Incoming>,
    task: JoinHandle<()>,
}

impl Peer {
    pub async fn start(config: Config, seed: u64) -> Self {
        let (handle, incoming) = start_with_rng(config, Box::new(StdRng::seed_from_u64(seed)))
            .await
            .unwrap();
        let (log_tx, log) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(handle.clone(), incoming, log_tx));
        Self { handle, log, task }
    }

    pub fn addr(&self, transport: Transport) -> SocketAddr {
        self.handle.local_addr(transport).unwrap()
    }

    pub fn dest(&self, transport: Transport) -> Destination {
        Destination::Address {
            transport,
            remote: self.addr(transport),
        }
    }

    /// The next logged event that `pick` accepts.
    pub async fn expect<T>(&mut self, mut pick: impl FnMut(Incoming) -> Option<T>) -> T {
        bounded(async {
            loop {
                let event = self.log.recv().await.expect("peer stopped");
                if let Some(t) = pick(event) {
                    return t;
                }
            }
        })
        .await
    }

    pub async fn stop(self) {
        bounded(self.handle.shutdown()).await;
        bounded(self.task).await.unwrap();
    }
}

/// Answers INVITE with 180 then 200 (with a Contact), everything else with
/// 200. An INVITE to a `ring-only` user gets only 180, and 487 when
/// cancelled.
pub async fn serve(
    handle: Handle,
    mut incoming: mpsc::Receiver<Incoming>,
    log: mpsc::UnboundedSender<Incoming>,
) {
    let mut ringing_only = HashMap::new();
    while let Some(event) = incoming.recv().await {
        match &event {
            Incoming::Request { tx, request, .. } => {
                let tag = handle.new_tag().await.unwrap();
                if *request.method() == Method::Invite {
                    let ringing = reply(request, StatusCode::RINGING, &tag);
                    handle.respond(*tx, ringing).await.unwrap();
                    if request.uri_str().contains("ring-only") {
                        ringing_only.insert(*tx, (request.clone(), tag));
                    } else {
                        let ok = ResponseBuilder::from_request(request, StatusCode::OK)
                            .to_tag(&tag)
                            .header(HeaderName::Contact, "<sip:bob@127.0.0.1>")
                            .build()
                            .unwrap();
                        handle.respond(*tx, ok).await.unwrap();
                    }
                } else {
                    handle
                        .respond(*tx, reply(request, StatusCode::OK, &tag))
                        .await
                        .unwrap();
                }
            }
            Incoming::Cancelled { invite, .. } => {
                if let Some((request, tag)) = ringing_only.remove(invite) {
                    let terminated = reply(&request, StatusCode::REQUEST_TERMINATED, &tag);
                    handle.respond(*invite, terminated).await.unwrap();
                }
            }
            _ => {}
        }
        let _ = log.send(event);
    }
}

pub fn reply(request: &Request, status: StatusCode, tag: &str) -> Response {
    ResponseBuilder::from_request(request, status)
        .to_tag(tag)
        .build()
        .unwrap()
}

/// A request from alice to `uri`, without Via (the endpoint adds it).
pub async fn request(handle: &Handle, method: Method, uri: &str) -> Request {
    RequestBuilder::new(method, uri)
        .from("<sip:alice@example.test>", &handle.new_tag().await.unwrap())
        .to("<sip:bob@example.test>", None)
        .call_id(&handle.new_call_id().await.unwrap())
        .cseq(1)
        .contact("<sip:alice@127.0.0.1>")
        .build()
        .unwrap()
}

/// The final outcome, bounded in time.
pub async fn final_outcome(tx: &mut ClientTransaction) -> Outcome {
    bounded(tx.final_outcome())
        .await
        .expect("transaction ended without outcome")
}

/// The final response's status, failing on timeouts and transport errors.
pub async fn final_status(tx: &mut ClientTransaction) -> u16 {
    match final_outcome(tx).await {
        Outcome::Final { response, .. } => response.status().as_u16(),
        other => panic!("no final response: {other:?}"),
    }
}

/// Sends raw bytes on a TCP stream.
pub async fn send_raw(stream: &mut BufReader<TcpStream>, bytes: &str) {
    stream.get_mut().write_all(bytes.as_bytes()).await.unwrap();
}

/// Reads one bodiless message head (through the empty line); `None` at EOF.
pub async fn read_head(stream: &mut BufReader<TcpStream>) -> Option<String> {
    bounded(async {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                return None;
            }
            if line == "\r\n" && !head.is_empty() {
                return Some(head);
            }
            head.push_str(&line);
        }
    })
    .await
}

/// An OPTIONS request as a client would write it on TCP.
pub fn raw_options(branch: &str, local: SocketAddr) -> String {
    format!(
        "OPTIONS sip:bob@example.test SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK{branch}\r\n\
         From: <sip:raw@example.test>;tag=r1\r\n\
         To: <sip:bob@example.test>\r\n\
         Call-ID: raw-{branch}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Waits until the runtime has no task left but the test's own.
pub async fn no_tasks_left() {
    let metrics = tokio::runtime::Handle::current().metrics();
    for _ in 0..100 {
        if metrics.num_alive_tasks() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} tasks left running", metrics.num_alive_tasks());
}
