//! The runtime over real loopback sockets: calls over every transport,
//! connection reuse, bad input on streams, connect failures, idle timeouts
//! and shutdown. Every wait is bounded (`util::LIMIT`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a panic is a failure

mod util;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use switchboard_core::{Destination, Transport};
use switchboard_net::resolver::Target;
use switchboard_net::{Error, Incoming, Outcome, TlsClient};
use switchboard_proto::{Message, Method, RequestBuilder};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use util::*;

/// OPTIONS, then INVITE / 180 / 200 / ACK and a BYE from the callee, between
/// two runtimes over `transport`.
async fn call_flow(transport: Transport, certs: Option<&Certs>) {
    let mut a = Peer::start(config(&[transport], certs), 1).await;
    let mut b = Peer::start(config(&[transport], certs), 2).await;
    let to_b = b.dest(transport);
    let b_uri = format!("sip:bob@{}", b.addr(transport));

    let options = request(&a.handle, Method::Options, &b_uri).await;
    let mut tx = a.handle.send_request(options, to_b).await.unwrap();
    assert_eq!(final_status(&mut tx).await, 200);
    let source = b
        .expect(|e| match e {
            Incoming::Request {
                request, source, ..
            } if *request.method() == Method::Options => Some(source),
            _ => None,
        })
        .await;
    assert_eq!(source.transport, transport);
    assert_eq!(source.flow.is_some(), transport != Transport::Udp);

    let invite = request(&a.handle, Method::Invite, &b_uri).await;
    let call_id = invite.headers().call_id().unwrap().to_owned();
    let from_tag = invite.headers().from_tag().unwrap().to_owned();
    let mut tx = a.handle.send_request(invite, to_b).await.unwrap();
    match bounded(tx.next_response()).await {
        Some(Outcome::Provisional { response, .. }) => assert_eq!(response.status().as_u16(), 180),
        other => panic!("expected 180, got {other:?}"),
    }
    let ok = match bounded(tx.next_response()).await {
        Some(Outcome::Final { response, .. }) => response,
        other => panic!("expected 200, got {other:?}"),
    };
    assert_eq!(ok.status().as_u16(), 200);
    let to_tag = ok.headers().to_tag().unwrap().to_owned();

    // The ACK for the 2xx goes outside the transaction.
    let a_addr = a.addr(transport);
    let branch = a.handle.new_branch().await.unwrap();
    let ack = RequestBuilder::new(Method::Ack, b_uri.as_str())
        .via(transport.as_via_token(), &a_addr.to_string(), &branch)
        .from("<sip:alice@example.test>", &from_tag)
        .to("<sip:bob@example.test>", Some(&to_tag))
        .call_id(&call_id)
        .cseq(1)
        .build()
        .unwrap();
    a.handle
        .send_stateless(Message::Request(ack), to_b)
        .await
        .unwrap();
    let acked = b
        .expect(|e| match e {
            Incoming::Ack { request, .. } => Some(request.headers().call_id().unwrap().to_owned()),
            _ => None,
        })
        .await;
    assert_eq!(acked, call_id);

    // The callee hangs up, to the caller's listener.
    let bye = RequestBuilder::new(Method::Bye, format!("sip:alice@{a_addr}"))
        .from("<sip:bob@example.test>", &to_tag)
        .to("<sip:alice@example.test>", Some(&from_tag))
        .call_id(&call_id)
        .cseq(1)
        .build()
        .unwrap();
    let mut tx = b.handle.send_request(bye, a.dest(transport)).await.unwrap();
    assert_eq!(final_status(&mut tx).await, 200);
    a.expect(|e| match e {
        Incoming::Request { request, .. } if *request.method() == Method::Bye => Some(()),
        _ => None,
    })
    .await;

    a.stop().await;
    b.stop().await;
    no_tasks_left().await;
}

#[tokio::test]
async fn udp_options_and_call() {
    bounded(call_flow(Transport::Udp, None)).await;
}

#[tokio::test]
async fn tcp_options_and_call() {
    bounded(call_flow(Transport::Tcp, None)).await;
}

#[tokio::test]
async fn tls_options_and_call() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    bounded(call_flow(Transport::Tls, Some(&certs))).await;
}

#[tokio::test]
async fn ws_options_and_call() {
    bounded(call_flow(Transport::Ws, None)).await;
}

#[tokio::test]
async fn wss_options_and_call() {
    let certs = certs(&["localhost", "127.0.0.1"]);
    bounded(call_flow(Transport::Wss, Some(&certs))).await;
}

#[tokio::test]
async fn udp_cancel() {
    bounded(async {
        let a = Peer::start(config(&[Transport::Udp], None), 1).await;
        let mut b = Peer::start(config(&[Transport::Udp], None), 2).await;
        let uri = format!("sip:ring-only@{}", b.addr(Transport::Udp));
        let invite = request(&a.handle, Method::Invite, &uri).await;
        let mut tx = a
            .handle
            .send_request(invite, b.dest(Transport::Udp))
            .await
            .unwrap();
        assert!(matches!(
            bounded(tx.next_response()).await,
            Some(Outcome::Provisional { .. })
        ));
        let mut cancel = tx.cancel().await.unwrap();
        assert_eq!(final_status(&mut cancel).await, 200);
        assert_eq!(final_status(&mut tx).await, 487);
        b.expect(|e| matches!(e, Incoming::Cancelled { .. }).then_some(()))
            .await;
        a.stop().await;
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// A tokio-tungstenite client speaking SIP to the WS listener.
#[tokio::test]
async fn websocket_client_with_sip_subprotocol() {
    bounded(async {
        let mut b = Peer::start(config(&[Transport::Ws], None), 3).await;
        let addr = b.addr(Transport::Ws);

        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut req = format!("ws://{addr}/").into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
        let (mut ws, response) = bounded(tokio_tungstenite::client_async(req, tcp))
            .await
            .unwrap();
        assert_eq!(
            response.headers().get("Sec-WebSocket-Protocol").unwrap(),
            "sip"
        );
        for (method, branch) in [("REGISTER", "reg1"), ("OPTIONS", "opt1")] {
            let message = format!(
                "{method} sip:example.test SIP/2.0\r\n\
             Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK{branch};rport\r\n\
             From: <sip:alice@example.test>;tag=w1\r\n\
             To: <sip:alice@example.test>\r\n\
             Call-ID: ws-{branch}\r\n\
             CSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\n\
             Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>\r\n\
             Content-Length: 0\r\n\r\n"
            );
            ws.send(WsMessage::Text(message.into())).await.unwrap();
            let reply = bounded(ws.next()).await.unwrap().unwrap();
            let WsMessage::Text(text) = reply else {
                panic!("expected a text frame, got {reply:?}")
            };
            assert!(text.starts_with("SIP/2.0 200"), "{text}");
            assert!(text.contains(&format!("branch=z9hG4bK{branch}")), "{text}");
        }
        let (method, source) = b
            .expect(|e| match e {
                Incoming::Request {
                    request, source, ..
                } => Some((request.method().clone(), source)),
                _ => None,
            })
            .await;
        assert_eq!(method, Method::Register);
        assert_eq!(source.transport, Transport::Ws);
        assert!(source.flow.is_some());
        ws.close(None).await.unwrap();

        // A client that does not ask for `sip` is refused.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let refused = bounded(tokio_tungstenite::client_async(
            format!("ws://{addr}/"),
            tcp,
        ))
        .await;
        match refused {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 400),
            other => panic!("expected a refusal, got {other:?}"),
        }

        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// Requests to one TCP peer share one connection, including requests made
/// while it is being opened.
#[tokio::test]
async fn tcp_connection_is_reused() {
    bounded(async {
        let a = Peer::start(config(&[Transport::Tcp], None), 1).await;
        let mut b = Peer::start(config(&[Transport::Tcp], None), 2).await;
        let to_b = b.dest(Transport::Tcp);
        let uri = format!("sip:bob@{}", b.addr(Transport::Tcp));

        let r1 = request(&a.handle, Method::Options, &uri).await;
        let r2 = request(&a.handle, Method::Options, &uri).await;
        let (t1, t2) = tokio::join!(
            a.handle.send_request(r1, to_b),
            a.handle.send_request(r2, to_b)
        );
        let (mut t1, mut t2) = (t1.unwrap(), t2.unwrap());
        assert_eq!(final_status(&mut t1).await, 200);
        assert_eq!(final_status(&mut t2).await, 200);
        let r3 = request(&a.handle, Method::Options, &uri).await;
        let mut t3 = a.handle.send_request(r3, to_b).await.unwrap();
        assert_eq!(final_status(&mut t3).await, 200);

        let mut sources = Vec::new();
        for _ in 0..3 {
            sources.push(
                b.expect(|e| match e {
                    Incoming::Request { source, .. } => Some(source),
                    _ => None,
                })
                .await,
            );
        }
        assert!(sources.iter().all(|s| s == &sources[0]), "{sources:?}");
        assert_eq!(a.handle.stats().await.unwrap().connections, 1);
        assert_eq!(b.handle.stats().await.unwrap().connections, 1);
        a.stop().await;
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// A message that frames but does not parse gets 400; the connection and
/// the endpoint go on.
#[tokio::test]
async fn malformed_message_on_tcp_gets_400() {
    bounded(async {
        let b = Peer::start(config(&[Transport::Tcp], None), 4).await;
        let mut s = BufReader::new(TcpStream::connect(b.addr(Transport::Tcp)).await.unwrap());
        let local = s.get_ref().local_addr().unwrap();

        let bad = raw_options("bad1", local).replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
        send_raw(&mut s, &bad).await;
        let head = read_head(&mut s).await.expect("connection closed");
        assert!(head.starts_with("SIP/2.0 400"), "{head}");

        send_raw(&mut s, &raw_options("good1", local)).await;
        let head = read_head(&mut s).await.expect("connection closed");
        assert!(head.starts_with("SIP/2.0 200"), "{head}");

        let a = Peer::start(config(&[Transport::Tcp], None), 5).await;
        let r = request(&a.handle, Method::Options, "sip:bob@example.test").await;
        let mut tx = a
            .handle
            .send_request(r, b.dest(Transport::Tcp))
            .await
            .unwrap();
        assert_eq!(final_status(&mut tx).await, 200);
        assert_eq!(b.handle.stats().await.unwrap().endpoint.malformed, 1);
        drop(s);
        a.stop().await;
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// A stream that cannot be framed (bad Content-Length) is closed; other
/// connections are not touched.
#[tokio::test]
async fn garbage_stream_closes_only_its_connection() {
    bounded(async {
        let b = Peer::start(config(&[Transport::Tcp], None), 6).await;
        let addr = b.addr(Transport::Tcp);
        let mut good = BufReader::new(TcpStream::connect(addr).await.unwrap());
        let mut bad = BufReader::new(TcpStream::connect(addr).await.unwrap());

        send_raw(
            &mut bad,
            "OPTIONS sip:bob@example.test SIP/2.0\r\nContent-Length: lots\r\n\r\n",
        )
        .await;
        assert_eq!(
            read_head(&mut bad).await,
            None,
            "garbage connection not closed"
        );

        let local = good.get_ref().local_addr().unwrap();
        send_raw(&mut good, &raw_options("still1", local)).await;
        let head = read_head(&mut good).await.expect("good connection closed");
        assert!(head.starts_with("SIP/2.0 200"), "{head}");
        assert_eq!(b.handle.stats().await.unwrap().connections, 1);
        drop(good);
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// RFC 4475 `ncl.dat` (negative Content-Length) and `mcl01.dat` (two
/// Content-Lengths) break the framing of a TCP stream: the client still
/// reads a 400 for its request (its Call-ID and CSeq), then EOF.
#[tokio::test]
async fn broken_framing_on_tcp_gets_400_then_eof() {
    const NCL: &[u8] = include_bytes!("../../proto/tests/data/rfc4475/ncl.dat");
    const MCL01: &[u8] = include_bytes!("../../proto/tests/data/rfc4475/mcl01.dat");
    bounded(async {
        let b = Peer::start(config(&[Transport::Tcp], None), 6).await;
        for (call_id, cseq, raw) in [
            ("ncl.0ha0isndaksdj2193423r542w35", "0 INVITE", NCL),
            (
                "mcl01.fhn2323orihawfdoa3o4r52o3irsdf",
                "15932 OPTIONS",
                MCL01,
            ),
        ] {
            let mut s = BufReader::new(TcpStream::connect(b.addr(Transport::Tcp)).await.unwrap());
            s.get_mut().write_all(raw).await.unwrap();
            let head = read_head(&mut s).await.expect("closed without an answer");
            assert!(head.starts_with("SIP/2.0 400"), "{head}");
            assert!(head.contains(&format!("Call-ID: {call_id}\r\n")), "{head}");
            assert!(head.contains(&format!("CSeq: {cseq}\r\n")), "{head}");
            assert_eq!(read_head(&mut s).await, None, "connection not closed");
        }
        assert_eq!(b.handle.stats().await.unwrap().endpoint.malformed, 2);
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// A connection that cannot be opened ends the transaction with a
/// transport error at once, not after Timer F.
#[tokio::test]
async fn connect_failure_is_a_transport_error() {
    bounded(async {
        let certs = certs(&["127.0.0.1"]);
        let a = Peer::start(config(&[Transport::Udp], Some(&certs)), 7).await;
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        for (transport, method) in [
            (Transport::Tcp, Method::Options),
            (Transport::Tcp, Method::Invite),
            (Transport::Tls, Method::Options),
            (Transport::Ws, Method::Options),
        ] {
            let started = Instant::now();
            let r = request(&a.handle, method.clone(), "sip:nobody@127.0.0.1").await;
            let to = Destination::Address {
                transport,
                remote: closed,
            };
            let mut tx = a.handle.send_request(r, to).await.unwrap();
            let outcome = final_outcome(&mut tx).await;
            assert!(
                matches!(outcome, Outcome::TransportError),
                "{transport} {method}: {outcome:?}"
            );
            assert!(started.elapsed() < Duration::from_secs(2));
        }
        assert_eq!(a.handle.stats().await.unwrap().connecting, 0);
        a.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// Outgoing TLS checks the certificate against the address connected to,
/// unless the client is told to ignore names.
#[tokio::test]
async fn tls_checks_names_unless_told_not_to() {
    bounded(async {
        let certs = certs(&["sip.example.test"]);
        let b = Peer::start(config(&[Transport::Tls], Some(&certs)), 8).await;
        let strict = Peer::start(config(&[Transport::Tls], Some(&certs)), 9).await;
        let mut lax_config = config(&[Transport::Tls], Some(&certs));
        lax_config.tls_client = Some(TlsClient::ignoring_names(certs.ca_pem.as_bytes()).unwrap());
        let lax = Peer::start(lax_config, 10).await;

        let r = request(&strict.handle, Method::Options, "sip:sip.example.test").await;
        let mut tx = strict
            .handle
            .send_request(r, b.dest(Transport::Tls))
            .await
            .unwrap();
        assert!(matches!(
            final_outcome(&mut tx).await,
            Outcome::TransportError
        ));

        // The same client, told the name the certificate is for.
        let target = Target {
            transport: Transport::Tls,
            addr: b.addr(Transport::Tls),
            host: "sip.example.test".to_owned(),
        };
        let r = request(&strict.handle, Method::Options, "sip:sip.example.test").await;
        let mut tx = strict.handle.send_request_to(r, &target).await.unwrap();
        assert_eq!(final_status(&mut tx).await, 200);

        let r = request(&lax.handle, Method::Options, "sip:sip.example.test").await;
        let mut tx = lax
            .handle
            .send_request(r, b.dest(Transport::Tls))
            .await
            .unwrap();
        assert_eq!(final_status(&mut tx).await, 200);

        for p in [b, strict, lax] {
            p.stop().await;
        }
        no_tasks_left().await;
    })
    .await;
}

/// A connection without traffic is closed after the idle timeout.
#[tokio::test]
async fn idle_connections_are_closed() {
    bounded(async {
        let mut cfg = config(&[Transport::Tcp], None);
        cfg.idle_timeout = Some(Duration::from_millis(300));
        let b = Peer::start(cfg, 11).await;
        let mut s = BufReader::new(TcpStream::connect(b.addr(Transport::Tcp)).await.unwrap());
        let local = s.get_ref().local_addr().unwrap();
        send_raw(&mut s, &raw_options("idle1", local)).await;
        assert!(read_head(&mut s).await.unwrap().starts_with("SIP/2.0 200"));
        let quiet = Instant::now();
        assert_eq!(read_head(&mut s).await, None);
        assert!(quiet.elapsed() >= Duration::from_millis(250));
        assert_eq!(b.handle.stats().await.unwrap().connections, 0);
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// Shutdown stops listeners and connections; the handle then refuses.
#[tokio::test]
async fn shutdown_ends_everything() {
    bounded(async {
        let b = Peer::start(
            config(&[Transport::Udp, Transport::Tcp, Transport::Ws], None),
            12,
        )
        .await;
        let handle = b.handle.clone();
        let tcp_addr = b.addr(Transport::Tcp);
        let mut s = BufReader::new(TcpStream::connect(tcp_addr).await.unwrap());
        let local = s.get_ref().local_addr().unwrap();
        send_raw(&mut s, &raw_options("bye1", local)).await;
        assert!(read_head(&mut s).await.unwrap().starts_with("SIP/2.0 200"));

        b.stop().await;
        assert_eq!(read_head(&mut s).await, None);
        assert!(matches!(handle.new_tag().await, Err(Error::Closed)));
        let r = RequestBuilder::new(Method::Options, "sip:x@127.0.0.1")
            .from("<sip:a@example.test>", "t")
            .to("<sip:x@example.test>", None)
            .call_id("c")
            .cseq(1)
            .build()
            .unwrap();
        let to = Destination::Address {
            transport: Transport::Udp,
            remote: tcp_addr,
        };
        assert!(matches!(
            handle.send_request(r, to).await,
            Err(Error::Closed)
        ));
        assert!(TcpStream::connect(tcp_addr).await.is_err());
        drop(handle);
        no_tasks_left().await;
    })
    .await;
}

/// Many requests at once over one TCP connection and over UDP: batching
/// and the bounded queues neither lose nor stall anything.
#[tokio::test]
async fn many_concurrent_requests() {
    bounded(async {
        let a = Peer::start(config(&[Transport::Udp, Transport::Tcp], None), 13).await;
        let b = Peer::start(config(&[Transport::Udp, Transport::Tcp], None), 14).await;
        for transport in [Transport::Udp, Transport::Tcp] {
            let uri = format!("sip:bob@{}", b.addr(transport));
            let mut pending = Vec::new();
            for _ in 0..200 {
                let r = request(&a.handle, Method::Options, &uri).await;
                pending.push(a.handle.send_request(r, b.dest(transport)));
            }
            let txs = futures_util::future::join_all(pending).await;
            let statuses = futures_util::future::join_all(txs.into_iter().map(|tx| async move {
                let mut tx = tx.unwrap();
                final_status(&mut tx).await
            }))
            .await;
            assert!(
                statuses.iter().all(|s| *s == 200),
                "{transport}: {statuses:?}"
            );
        }
        assert_eq!(a.handle.stats().await.unwrap().connections, 1);
        a.stop().await;
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// A request too large for UDP goes over TCP to the same address
/// (RFC 3261 §18.1.1): delivered when the peer listens there, sent again
/// over UDP at once when the connection is refused.
#[tokio::test]
async fn large_udp_request_moves_to_tcp() {
    bounded(async {
        // One port number free for both UDP and TCP.
        let port = loop {
            let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = tcp.local_addr().unwrap().port();
            if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
                break port;
            }
        };
        let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
        let mut b_config = config(&[], None);
        b_config.listen = vec![
            switchboard_net::Listen::new(Transport::Udp, addr),
            switchboard_net::Listen::new(Transport::Tcp, addr),
        ];
        let mut b = Peer::start(b_config, 15).await;
        let a = Peer::start(config(&[Transport::Udp, Transport::Tcp], None), 16).await;

        let big = |handle: &switchboard_net::Handle| {
            let handle = handle.clone();
            async move {
                let mut r = request(&handle, Method::Options, "sip:bob@example.test").await;
                r.set_body(Some("text/plain"), vec![b'x'; 3000].into());
                r
            }
        };
        let mut tx = a
            .handle
            .send_request(big(&a.handle).await, b.dest(Transport::Udp))
            .await
            .unwrap();
        assert_eq!(final_status(&mut tx).await, 200);
        let source = b
            .expect(|e| match e {
                Incoming::Request { source, .. } => Some(source),
                _ => None,
            })
            .await;
        assert_eq!(source.transport, Transport::Tcp);

        // A phone listening on UDP only: the TCP connection is refused, and
        // the request goes again over UDP (§18.1.1), at once.
        let phone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let phone_addr = phone.local_addr().unwrap();
        assert!(
            std::net::TcpStream::connect(phone_addr).is_err(),
            "nobody listens on TCP there"
        );
        let started = Instant::now();
        let to = Destination::Address {
            transport: Transport::Udp,
            remote: phone_addr,
        };
        let _tx = a
            .handle
            .send_request(big(&a.handle).await, to)
            .await
            .unwrap();
        let received = tokio::task::spawn_blocking(move || {
            phone
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut buf = vec![0u8; 65_536];
            let n = phone.recv(&mut buf).unwrap();
            buf.truncate(n);
            String::from_utf8_lossy(&buf).into_owned()
        })
        .await
        .unwrap();
        assert!(received.starts_with("OPTIONS "), "{received}");
        assert!(received.contains("SIP/2.0/UDP "), "{received}");
        assert!(received.len() > 3000);
        assert!(started.elapsed() < Duration::from_secs(2));

        a.stop().await;
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}

/// With two UDP listeners, each request is answered from the socket it was
/// sent to (the response's `Transmit::local`), not from the first one.
#[tokio::test]
async fn udp_answers_come_from_the_listener_the_request_reached() {
    bounded(async {
        let mut b = Peer::start(config(&[Transport::Udp, Transport::Udp], None), 17).await;
        let listeners: Vec<_> = b.handle.local_addrs().iter().map(|(_, a)| *a).collect();
        assert_eq!(listeners.len(), 2);
        assert_ne!(listeners[0].port(), listeners[1].port());
        let client = tokio::net::UdpSocket::bind(loopback()).await.unwrap();
        let local = client.local_addr().unwrap();
        // The second listener first: the old choice would answer from the
        // first.
        for (i, to) in [listeners[1], listeners[0], listeners[1]]
            .into_iter()
            .enumerate()
        {
            let options =
                raw_options(&format!("two{i}"), local).replace("SIP/2.0/TCP", "SIP/2.0/UDP");
            client.send_to(options.as_bytes(), to).await.unwrap();
            let mut buf = vec![0u8; 65536];
            let (n, from) = bounded(client.recv_from(&mut buf)).await.unwrap();
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(text.starts_with("SIP/2.0 200"), "{text}");
            assert!(text.contains(&format!("z9hG4bKtwo{i}")), "{text}");
            assert_eq!(from, to, "answer {i} came from another socket");
            let reached = b
                .expect(|e| match e {
                    Incoming::Request { source, .. } => Some(source.local),
                    _ => None,
                })
                .await;
            assert_eq!(reached, to);
        }
        b.stop().await;
        no_tasks_left().await;
    })
    .await;
}
