//! RFC 5626 §4.4.1 keep-alives on connections we opened, over loopback
//! with short intervals: pings are answered by our own listeners (CRLF pong
//! on TCP, WebSocket Pong on WS) and keep the connection; a peer that stops
//! answering gets its connection closed, and the request sent over it fails
//! over to the next target.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a panic is a failure

mod util;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use switchboard_core::{Destination, Transport};
use switchboard_net::resolver::Target;
use switchboard_net::{Config, Incoming, Outcome};
use switchboard_proto::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use util::*;

const INTERVAL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(200);

/// Upper bound on how long detecting a dead peer takes here: far below
/// Timer B or F (32 s), with room for a loaded machine.
const PROMPTLY: Duration = Duration::from_secs(3);

/// A caller that pings every 80–100 ms and gives a pong 200 ms.
fn pinging(transports: &[Transport]) -> Config {
    pinging_with(transports, TIMEOUT)
}

fn pinging_with(transports: &[Transport], timeout: Duration) -> Config {
    let mut cfg = config(transports, None);
    cfg.keepalive_interval = Some(INTERVAL);
    cfg.keepalive_timeout = timeout;
    cfg
}

/// Our own TCP and WS listeners answer the pings: after many intervals the
/// connection is still open and carries the next request. Without pongs it
/// would have been closed after at most 600 ms.
#[tokio::test]
async fn answered_keepalives_keep_the_connection() {
    bounded(async {
        for transport in [Transport::Tcp, Transport::Ws] {
            let a = Peer::start(pinging_with(&[transport], TIMEOUT * 2), 1).await;
            let mut b = Peer::start(config(&[transport], None), 2).await;
            let uri = format!("sip:bob@{}", b.addr(transport));
            let r = request(&a.handle, Method::Options, &uri).await;
            let mut tx = a.handle.send_request(r, b.dest(transport)).await.unwrap();
            assert_eq!(final_status(&mut tx).await, 200);

            tokio::time::sleep(INTERVAL * 12).await;
            assert_eq!(
                a.handle.stats().await.unwrap().connections,
                1,
                "{transport}"
            );
            assert_eq!(
                b.handle.stats().await.unwrap().connections,
                1,
                "{transport}"
            );
            let r = request(&a.handle, Method::Options, &uri).await;
            let mut tx = a.handle.send_request(r, b.dest(transport)).await.unwrap();
            assert_eq!(final_status(&mut tx).await, 200);
            let mut sources = Vec::new();
            for _ in 0..2 {
                sources.push(
                    b.expect(|e| match e {
                        Incoming::Request { source, .. } => Some(source),
                        _ => None,
                    })
                    .await,
                );
            }
            assert_eq!(sources[0], sources[1], "{transport}: one connection");
            a.stop().await;
            b.stop().await;
        }
        no_tasks_left().await;
    })
    .await;
}

/// Accepted connections send no pings (off by default for servers), and
/// neither does a runtime without `keepalive_interval`.
#[tokio::test]
async fn no_keepalives_unless_configured() {
    bounded(async {
        let a = Peer::start(config(&[Transport::Tcp], None), 3).await;
        let (listener, addr) = raw_listener().await;
        let r = request(&a.handle, Method::Options, "sip:bob@127.0.0.1").await;
        let to = Destination::Address {
            transport: Transport::Tcp,
            remote: addr,
        };
        let _tx = a.handle.send_request(r, to).await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let mut peer = RawPeer::default();
        peer.read_message(&mut s).await;
        // Nothing more comes in many intervals.
        let mut byte = [0u8; 1];
        let more = tokio::time::timeout(INTERVAL * 5, s.read(&mut byte)).await;
        assert!(more.is_err(), "unexpected bytes: {more:?}");

        // A runtime with keep-alives sends none on connections it accepted.
        let b = Peer::start(pinging(&[Transport::Tcp]), 8).await;
        let mut c =
            tokio::io::BufReader::new(TcpStream::connect(b.addr(Transport::Tcp)).await.unwrap());
        let local = c.get_ref().local_addr().unwrap();
        send_raw(&mut c, &raw_options("acc1", local)).await;
        assert!(read_head(&mut c).await.unwrap().starts_with("SIP/2.0 200"));
        let more = tokio::time::timeout(INTERVAL * 5, c.read(&mut byte)).await;
        assert!(more.is_err(), "unexpected bytes: {more:?}");
        drop(c);
        a.stop().await;
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// The bytes a raw TCP peer has read, and the pings among them.
#[derive(Default)]
struct RawPeer {
    read: Vec<u8>,
    /// Where the first message ends.
    message_end: usize,
}

impl RawPeer {
    /// Reads until one bodiless message has come.
    async fn read_message(&mut self, s: &mut TcpStream) {
        while self.message_end == 0 {
            let mut buf = [0u8; 4096];
            let n = bounded(s.read(&mut buf)).await.unwrap();
            assert!(n > 0, "closed before a message");
            self.read.extend_from_slice(&buf[..n]);
            if let Some(i) = self.read.windows(4).position(|w| w == b"\r\n\r\n") {
                self.message_end = i + 4;
            }
        }
    }

    /// Reads until ping number `n` (from 1) has come; `false` at EOF.
    async fn read_ping(&mut self, s: &mut TcpStream, n: usize) -> bool {
        while self.read.len() < self.message_end + 4 * n {
            let mut buf = [0u8; 64];
            let got = bounded(s.read(&mut buf)).await.unwrap_or(0);
            if got == 0 {
                return false;
            }
            self.read.extend_from_slice(&buf[..got]);
        }
        let pings = &self.read[self.message_end..];
        assert!(
            pings.chunks(4).all(|c| c == b"\r\n\r\n"),
            "not pings: {:?}",
            String::from_utf8_lossy(pings)
        );
        true
    }
}

async fn raw_listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A raw TCP peer sees CRLFCRLF pings after the request, spaced by 80–100 %
/// of the interval after each pong; when it stops answering, the caller
/// closes the connection within the timeout and the pending request fails
/// with a transport error, long before Timer F.
#[tokio::test]
async fn pings_on_tcp_and_a_silent_peer_is_dropped() {
    bounded(async {
        let a = Peer::start(pinging(&[Transport::Tcp]), 4).await;
        let (listener, addr) = raw_listener().await;
        let r = request(&a.handle, Method::Options, "sip:bob@127.0.0.1").await;
        let to = Destination::Address {
            transport: Transport::Tcp,
            remote: addr,
        };
        let mut tx = a.handle.send_request(r, to).await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let mut peer = RawPeer::default();
        peer.read_message(&mut s).await;
        let mut last = Instant::now();
        for n in 1..=3 {
            assert!(peer.read_ping(&mut s, n).await, "ping {n}");
            let gap = last.elapsed();
            assert!(gap >= INTERVAL * 7 / 10, "ping {n} after {gap:?}");
            // Answer with a pong, once split over two reads.
            if n == 2 {
                s.write_all(b"\r").await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            s.write_all(if n == 2 { b"\n" } else { b"\r\n" })
                .await
                .unwrap();
            last = Instant::now();
        }
        // Ping 4 goes unanswered.
        assert!(peer.read_ping(&mut s, 4).await, "ping 4");
        let unanswered = Instant::now();
        let outcome = final_outcome(&mut tx).await;
        assert!(matches!(outcome, Outcome::TransportError), "{outcome:?}");
        let waited = unanswered.elapsed();
        assert!(
            waited >= TIMEOUT * 8 / 10 && waited < PROMPTLY,
            "closed {waited:?} after the ping"
        );
        let mut rest = Vec::new();
        let _ = bounded(s.read_to_end(&mut rest)).await;
        assert_eq!(a.handle.stats().await.unwrap().connections, 0);
        a.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// The first target accepts the connection and then answers nothing, not
/// even pongs: the keep-alive closes it, the INVITE fails with a transport
/// error and goes to the second target (Timer B would take 32 s).
#[tokio::test]
async fn an_unanswered_keepalive_fails_over_to_the_next_target() {
    bounded(async {
        let a = Peer::start(pinging(&[Transport::Tcp]), 5).await;
        let mut b = Peer::start(config(&[Transport::Tcp], None), 6).await;
        let (listener, hole) = raw_listener().await;
        let swallow = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
            sink
        });
        let targets = vec![
            Target {
                transport: Transport::Tcp,
                addr: hole,
                host: "127.0.0.1".into(),
            },
            Target {
                transport: Transport::Tcp,
                addr: b.addr(Transport::Tcp),
                host: "127.0.0.1".into(),
            },
        ];
        let started = Instant::now();
        let invite = request(&a.handle, Method::Invite, "sip:bob@example.test").await;
        let mut tx = a
            .handle
            .send_request_to_targets(invite, targets)
            .await
            .unwrap();
        let outcome = bounded(tx.final_outcome()).await.unwrap();
        let Outcome::Final { response, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(tx.attempts(), 2);
        assert!(started.elapsed() < PROMPTLY);
        b.expect(|e| match e {
            Incoming::Request { request, .. } if *request.method() == Method::Invite => Some(()),
            _ => None,
        })
        .await;
        let swallowed = bounded(swallow).await.unwrap();
        assert!(swallowed.starts_with(b"INVITE "));
        assert!(swallowed.ends_with(b"\r\n\r\n\r\n\r\n"), "a ping last");
        a.stop().await;
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// Over WebSocket the caller sends WebSocket Pings; a peer that completes
/// the handshake and then reads nothing (so never pongs) is dropped.
#[tokio::test]
async fn websocket_pings_and_a_silent_peer_is_dropped() {
    bounded(async {
        let a = Peer::start(pinging(&[Transport::Ws]), 7).await;
        let (listener, addr) = raw_listener().await;
        let r = request(&a.handle, Method::Options, "sip:bob@127.0.0.1").await;
        let to = Destination::Address {
            transport: Transport::Ws,
            remote: addr,
        };
        #[allow(clippy::result_large_err)] // the callback's error type is tungstenite's
        let sip = |_: &Request, mut response: Response| {
            response
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
            Ok(response)
        };
        // The request is handed to the endpoint once the handshake is done.
        let (tx, ws) = tokio::join!(a.handle.send_request(r, to), async {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio_tungstenite::accept_hdr_async(tcp, sip).await.unwrap()
        });
        let mut tx = tx.unwrap();
        let opened = Instant::now();
        let outcome = final_outcome(&mut tx).await;
        assert!(matches!(outcome, Outcome::TransportError), "{outcome:?}");
        let waited = opened.elapsed();
        assert!(
            waited >= (INTERVAL + TIMEOUT) * 7 / 10 && waited < PROMPTLY,
            "closed after {waited:?}"
        );
        assert_eq!(a.handle.stats().await.unwrap().connections, 0);
        // What the peer would have read: the request, then a Ping.
        let mut ws = ws;
        let mut got = Vec::new();
        while let Some(Ok(m)) = bounded(ws.next()).await {
            got.push(m);
        }
        assert!(matches!(&got[..], [WsMessage::Text(t), WsMessage::Ping(_), ..] if t.starts_with("OPTIONS")), "{got:?}");
        a.stop().await;
        no_tasks_left().await;
    })
    .await;
}
