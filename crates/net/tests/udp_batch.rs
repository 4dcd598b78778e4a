//! UDP read and written in batches by the runtime (recvmmsg / sendmmsg on
//! Linux): requests queued from several sources before the driver reads
//! all reach the endpoint in order per source, the answers of one pass
//! reach every source in order, and a datagram over the endpoint's size
//! limit is dropped without disturbing the rest. Every wait is bounded
//! (`util::LIMIT`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a panic is a failure

mod util;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};

use switchboard_core::Transport;
use switchboard_net::Incoming;
use switchboard_proto::Message;
use util::*;

const SOURCES: usize = 4;
const PER_SOURCE: u32 = 40;

/// An OPTIONS from `from` with CSeq `seq`, padded to at least `size` bytes.
fn options(from: SocketAddr, seq: u32, size: usize) -> Vec<u8> {
    let head = format!(
        "OPTIONS sip:server@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {from};branch=z9hG4bK-{port}-{seq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:c{port}@example.test>;tag=t{port}\r\n\
         To: <sip:server@example.test>\r\n\
         Call-ID: batch-{port}-{seq}\r\n\
         CSeq: {seq} OPTIONS\r\n",
        port = from.port()
    );
    let body = "x".repeat(size.saturating_sub(head.len() + 60));
    format!(
        "{head}Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The CSeq numbers of the requests `peer` was given, by source, until
/// `want` came.
async fn requests_by_source(peer: &mut Peer, want: usize) -> HashMap<SocketAddr, Vec<u32>> {
    let mut seen: HashMap<SocketAddr, Vec<u32>> = HashMap::new();
    for _ in 0..want {
        let (remote, seq) = peer
            .expect(|e| match e {
                Incoming::Request {
                    request, source, ..
                } => Some((source.remote, request.headers().cseq().unwrap().seq)),
                _ => None,
            })
            .await;
        seen.entry(remote).or_default().push(seq);
    }
    seen
}

/// The CSeq numbers of the responses `client` reads, until `want` came.
fn responses(client: &UdpSocket, want: usize) -> Vec<u32> {
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let mut buffer = vec![0; 65_536];
    (0..want)
        .map(|_| {
            let n = client.recv(&mut buffer).expect("a response");
            let bytes = bytes::Bytes::copy_from_slice(&buffer[..n]);
            match Message::parse(bytes, switchboard_proto::Framing::Datagram).unwrap() {
                Message::Response(r) => {
                    assert_eq!(r.status().as_u16(), 200);
                    r.headers().cseq().unwrap().seq
                }
                Message::Request(r) => panic!("expected a response, got {}", r.method()),
            }
        })
        .collect()
}

#[tokio::test]
async fn queued_datagrams_from_several_sources_reach_the_endpoint_in_order() {
    let mut server = Peer::start(config(&[Transport::Udp], None), 1).await;
    let at = server.addr(Transport::Udp);
    let clients: Vec<UdpSocket> = (0..SOURCES)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    // Interleaved, sent as fast as the kernel takes them: the driver finds
    // many queued at once (more than one batch).
    for seq in 1..=PER_SOURCE {
        for client in &clients {
            let from = client.local_addr().unwrap();
            client.send_to(&options(from, seq, 0), at).unwrap();
        }
    }
    let seen = requests_by_source(&mut server, SOURCES * PER_SOURCE as usize).await;
    let expected: Vec<u32> = (1..=PER_SOURCE).collect();
    for client in &clients {
        let from = client.local_addr().unwrap();
        assert_eq!(seen[&from], expected, "requests from {from}");
        // The answers, sent in batches to every source, in order.
        assert_eq!(responses(client, PER_SOURCE as usize), expected);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_datagram_over_the_size_limit_is_dropped_and_the_rest_arrive() {
    let mut config = config(&[Transport::Udp], None);
    config.endpoint.max_message_size = 4_000;
    let mut server = Peer::start(config, 1).await;
    let at = server.addr(Transport::Udp);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let from = client.local_addr().unwrap();
    for seq in 1..=5 {
        let size = if seq == 3 { 10_000 } else { 0 };
        client.send_to(&options(from, seq, size), at).unwrap();
    }
    let seen = requests_by_source(&mut server, 4).await;
    assert_eq!(seen[&from], vec![1, 2, 4, 5]);
    assert_eq!(responses(&client, 4), vec![1, 2, 4, 5]);
    let stats = bounded(server.handle.stats()).await.unwrap();
    assert_eq!(stats.endpoint.malformed, 1);
    server.stop().await;
}
