//! RFC 3263 §4.3 fail-over through `Handle::send_request_resolved`, over
//! loopback, with fixed DNS records: closed ports, silent peers and 503s
//! make the request move on to the next target, in SRV priority order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a panic is a failure

mod util;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use switchboard_core::Transport;
use switchboard_net::resolver::{
    DnsLookup, NaptrRecord, ResolveError, Resolver, SrvRecord, Target,
};
use switchboard_net::{Error, FailoverTransaction, Handle, Incoming, Outcome, start_with_rng};
use switchboard_proto::{HeaderName, Method, Request, RequestBuilder, StatusCode};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use util::*;

/// Fixed records instead of DNS.
#[derive(Default)]
struct FakeDns {
    srv: HashMap<String, Vec<SrvRecord>>,
    ip: HashMap<String, Vec<IpAddr>>,
}

impl FakeDns {
    /// `name` has SRV records `(priority, host, port)`, every host being
    /// 127.0.0.1.
    fn with_srv(mut self, name: &str, records: &[(u16, &str, u16)]) -> Self {
        let records = records
            .iter()
            .map(|(priority, host, port)| {
                self.ip
                    .insert((*host).to_owned(), vec!["127.0.0.1".parse().unwrap()]);
                SrvRecord {
                    priority: *priority,
                    weight: 0,
                    port: *port,
                    target: (*host).to_owned(),
                }
            })
            .collect();
        self.srv.insert(name.to_owned(), records);
        self
    }

    fn resolver(self) -> Resolver<Self> {
        Resolver::with_lookup(self).with_seed(5)
    }
}

impl DnsLookup for FakeDns {
    fn naptr(
        &self,
        _name: &str,
    ) -> impl Future<Output = Result<Vec<NaptrRecord>, ResolveError>> + Send {
        let none = Vec::new();
        async move { Ok(none) }
    }
    fn srv(&self, name: &str) -> impl Future<Output = Result<Vec<SrvRecord>, ResolveError>> + Send {
        let r = self.srv.get(name).cloned().unwrap_or_default();
        async move { Ok(r) }
    }
    fn ip(&self, name: &str) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send {
        let r = self.ip.get(name).cloned().unwrap_or_default();
        async move { Ok(r) }
    }
}

/// A runtime that answers every request with `status`, logging the
/// requests it got.
struct Responder {
    handle: Handle,
    requests: mpsc::UnboundedReceiver<Request>,
    task: JoinHandle<()>,
}

impl Responder {
    async fn start(transport: Transport, status: u16, seed: u64) -> Self {
        let (handle, mut incoming) =
            start_with_rng(config(&[transport], None), Box::new(seeded(seed)))
                .await
                .unwrap();
        let (log, requests) = mpsc::unbounded_channel();
        let h = handle.clone();
        let task = tokio::spawn(async move {
            while let Some(event) = incoming.recv().await {
                if let Incoming::Request { tx, request, .. } = event {
                    let tag = h.new_tag().await.unwrap();
                    let status = StatusCode::new(status).unwrap();
                    h.respond(tx, reply(&request, status, &tag)).await.unwrap();
                    let _ = log.send(request);
                }
            }
        });
        Self {
            handle,
            requests,
            task,
        }
    }

    fn port(&self, transport: Transport) -> u16 {
        self.handle.local_addr(transport).unwrap().port()
    }

    /// The requests received so far.
    fn received(&mut self) -> Vec<Request> {
        let mut out = Vec::new();
        while let Ok(r) = self.requests.try_recv() {
            out.push(r);
        }
        out
    }

    async fn stop(self) {
        bounded(self.handle.shutdown()).await;
        bounded(self.task).await.unwrap();
    }
}

fn seeded(seed: u64) -> rand::rngs::StdRng {
    rand::SeedableRng::seed_from_u64(seed)
}

/// A TCP port nobody listens on: connecting is refused at once.
fn closed_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The caller: UDP and TCP listeners, T1 = 10 ms so Timer F fires after
/// 640 ms, T4 = 50 ms so a UDP transaction ends soon after its final.
async fn caller(seed: u64) -> Handle {
    let mut cfg = config(&[Transport::Udp, Transport::Tcp], None);
    cfg.endpoint.t1 = Duration::from_millis(10);
    cfg.endpoint.t4 = Duration::from_millis(50);
    start_with_rng(cfg, Box::new(seeded(seed))).await.unwrap().0
}

async fn final_of(tx: &mut FailoverTransaction) -> Outcome {
    bounded(tx.final_outcome())
        .await
        .expect("walk ended without outcome")
}

fn status(outcome: &Outcome) -> u16 {
    match outcome {
        Outcome::Final { response, .. } => response.status().as_u16(),
        other => panic!("no final response: {other:?}"),
    }
}

/// The first SRV target is a closed TCP port: the connection is refused,
/// the transaction fails with a transport error at once, and the request
/// goes to the second target in a new transaction.
#[tokio::test]
async fn refused_tcp_target_fails_over_to_the_next() {
    bounded(async {
        let a = caller(1).await;
        let mut b = Responder::start(Transport::Tcp, 200, 2).await;
        let resolver = FakeDns::default()
            .with_srv(
                "_sip._tcp.example.test.",
                &[
                    (10, "dead.example.test.", closed_tcp_port()),
                    (20, "live.example.test.", b.port(Transport::Tcp)),
                ],
            )
            .resolver();
        let started = Instant::now();
        let r = request(&a, Method::Options, "sip:bob@example.test;transport=tcp").await;
        let send = a.send_request_resolved(r, &resolver);
        fn assert_send<T: Send>(t: T) -> T {
            t
        }
        let mut tx = assert_send(send).await.unwrap();
        let first = tx.id();
        let outcome = final_of(&mut tx).await;
        assert_eq!(status(&outcome), 200);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(tx.attempts(), 2);
        assert_ne!(tx.id(), first, "a new transaction");
        assert_eq!(
            tx.target(),
            &Target {
                transport: Transport::Tcp,
                addr: SocketAddr::from(([127, 0, 0, 1], b.port(Transport::Tcp))),
                host: "live.example.test".to_owned(),
            }
        );
        let Outcome::Final { source, .. } = outcome else {
            unreachable!()
        };
        assert_eq!(source.transport, Transport::Tcp);
        assert_eq!(source.remote.port(), b.port(Transport::Tcp));
        let got = b.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].uri_str(), "sip:bob@example.test;transport=tcp");
        assert_eq!(a.stats().await.unwrap().connecting, 0);
        bounded(a.shutdown()).await;
        b.stop().await;
    })
    .await;
}

/// Targets are tried by SRV priority, whatever the order of the records:
/// the refused priority 1 first, then priority 2, never priority 3.
#[tokio::test]
async fn srv_priority_order_is_followed() {
    bounded(async {
        let a = caller(3).await;
        let mut second = Responder::start(Transport::Tcp, 200, 4).await;
        let mut third = Responder::start(Transport::Tcp, 200, 5).await;
        let resolver = FakeDns::default()
            .with_srv(
                "_sip._tcp.example.test.",
                &[
                    (3, "third.example.test.", third.port(Transport::Tcp)),
                    (1, "first.example.test.", closed_tcp_port()),
                    (2, "second.example.test.", second.port(Transport::Tcp)),
                ],
            )
            .resolver();
        for _ in 0..3 {
            let r = request(&a, Method::Options, "sip:bob@example.test;transport=tcp").await;
            let mut tx = a.send_request_resolved(r, &resolver).await.unwrap();
            assert_eq!(tx.remaining().count(), 2);
            assert_eq!(tx.target().host, "first.example.test");
            assert_eq!(status(&final_of(&mut tx).await), 200);
            assert_eq!(tx.attempts(), 2);
            assert_eq!(tx.target().host, "second.example.test");
            assert_eq!(tx.remaining().count(), 1);
        }
        assert_eq!(second.received().len(), 3);
        assert!(third.received().is_empty());
        bounded(a.shutdown()).await;
        second.stop().await;
        third.stop().await;
    })
    .await;
}

/// A 503 and a timeout without any response both move on (RFC 3263 §4.3),
/// each attempt a new transaction (new branch) with the same request; the
/// 503 itself is not yielded.
#[tokio::test]
async fn a_503_and_a_timeout_fail_over() {
    bounded(async {
        let a = caller(6).await;
        let mut busy = Responder::start(Transport::Udp, 503, 7).await;
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut live = Responder::start(Transport::Udp, 200, 8).await;
        let resolver = FakeDns::default()
            .with_srv(
                "_sip._udp.example.test.",
                &[
                    (1, "busy.example.test.", busy.port(Transport::Udp)),
                    (
                        2,
                        "silent.example.test.",
                        silent.local_addr().unwrap().port(),
                    ),
                    (3, "live.example.test.", live.port(Transport::Udp)),
                ],
            )
            .resolver();
        let started = Instant::now();
        let r = request(&a, Method::Options, "sip:bob@example.test;transport=udp").await;
        let mut tx = a.send_request_resolved(r, &resolver).await.unwrap();
        let mut seen = Vec::new();
        while let Some(outcome) = bounded(tx.next_response()).await {
            seen.push(status(&outcome));
        }
        assert_eq!(seen, [200], "the 503 and the timeout are not yielded");
        assert_eq!(tx.attempts(), 3);
        assert_eq!(tx.target().host, "live.example.test");
        // The silent target was given up on after Timer F, 64 * T1 = 640 ms.
        assert!(started.elapsed() >= Duration::from_millis(600));

        let tried = busy.received();
        let reached = live.received();
        assert_eq!((tried.len(), reached.len()), (1, 1));
        let (tried, reached) = (tried[0].headers(), reached[0].headers());
        assert_ne!(tried.top_branch(), reached.top_branch());
        assert_eq!(tried.call_id(), reached.call_id());
        assert_eq!(tried.cseq(), reached.cseq());
        assert_eq!(tried.from_tag(), reached.from_tag());
        bounded(a.shutdown()).await;
        busy.stop().await;
        live.stop().await;
    })
    .await;
}

/// Any other final response ends the walk; when every target fails, the
/// last failure is yielded; a name without records is a resolve error.
#[tokio::test]
async fn other_finals_end_the_walk_and_the_last_failure_is_yielded() {
    bounded(async {
        let a = caller(10).await;
        let mut missing = Responder::start(Transport::Tcp, 404, 11).await;
        let mut busy = Responder::start(Transport::Tcp, 503, 12).await;
        let mut live = Responder::start(Transport::Tcp, 200, 13).await;
        let resolver = FakeDns::default()
            .with_srv(
                "_sip._tcp.missing.test.",
                &[
                    (1, "missing.test.", missing.port(Transport::Tcp)),
                    (2, "live.test.", live.port(Transport::Tcp)),
                ],
            )
            .with_srv(
                "_sip._tcp.closed.test.",
                &[
                    (1, "c1.test.", closed_tcp_port()),
                    (2, "c2.test.", closed_tcp_port()),
                ],
            )
            .with_srv(
                "_sip._tcp.busy.test.",
                &[
                    (1, "c3.test.", closed_tcp_port()),
                    (2, "busy.test.", busy.port(Transport::Tcp)),
                ],
            )
            .resolver();
        let send = |host: &str| {
            let a = a.clone();
            let uri = format!("sip:bob@{host};transport=tcp");
            let resolver = &resolver;
            async move {
                let r = request(&a, Method::Options, &uri).await;
                a.send_request_resolved(r, resolver).await
            }
        };

        let mut tx = send("missing.test").await.unwrap();
        assert_eq!(status(&final_of(&mut tx).await), 404);
        assert_eq!(tx.attempts(), 1);
        assert_eq!(missing.received().len(), 1);
        assert!(live.received().is_empty());

        let mut tx = send("closed.test").await.unwrap();
        assert!(matches!(final_of(&mut tx).await, Outcome::TransportError));
        assert_eq!(tx.attempts(), 2);
        assert_eq!(
            bounded(tx.next_response()).await.map(|o| o.is_final()),
            None
        );

        let mut tx = send("busy.test").await.unwrap();
        assert_eq!(status(&final_of(&mut tx).await), 503);
        assert_eq!(tx.attempts(), 2);
        assert_eq!(busy.received().len(), 1);

        assert!(matches!(
            send("nowhere.test").await,
            Err(Error::Resolve(ResolveError::NotFound(_)))
        ));
        bounded(a.shutdown()).await;
        for p in [missing, busy, live] {
            p.stop().await;
        }
    })
    .await;
}

/// With a loose-routing Route, its URI is resolved, not the Request-URI
/// (RFC 3261 §8.1.2); the request arrives with Route and Request-URI as
/// given.
#[tokio::test]
async fn a_loose_route_is_resolved_instead_of_the_request_uri() {
    bounded(async {
        let a = caller(14).await;
        let mut proxy = Responder::start(Transport::Tcp, 200, 15).await;
        let resolver = FakeDns::default()
            .with_srv(
                "_sip._tcp.proxy.example.test.",
                &[
                    (1, "dead.example.test.", closed_tcp_port()),
                    (2, "edge.example.test.", proxy.port(Transport::Tcp)),
                ],
            )
            .resolver();
        let mut r = request(&a, Method::Options, "sip:bob@nowhere.invalid").await;
        r.headers_mut().push(
            HeaderName::Route,
            "<sip:proxy.example.test;transport=tcp;lr>",
        );
        let mut tx = a.send_request_resolved(r, &resolver).await.unwrap();
        assert_eq!(status(&final_of(&mut tx).await), 200);
        assert_eq!(tx.attempts(), 2);
        let got = proxy.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].uri_str(), "sip:bob@nowhere.invalid");
        assert_eq!(
            got[0].headers().get(HeaderName::Route),
            Some("<sip:proxy.example.test;transport=tcp;lr>")
        );

        // Without the Route the Request-URI is resolved: nothing found.
        let r: Request = RequestBuilder::new(Method::Options, "sip:bob@nowhere.invalid")
            .from("<sip:alice@example.test>", "t1")
            .to("<sip:bob@example.test>", None)
            .call_id("no-route")
            .cseq(1)
            .build()
            .unwrap();
        assert!(matches!(
            a.send_request_resolved(r, &resolver).await,
            Err(Error::Resolve(_))
        ));
        bounded(a.shutdown()).await;
        proxy.stop().await;
    })
    .await;
}
