//! Every RFC 3261 §17 timer path (and RFC 6026's), on a virtual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod util;

use std::time::Duration;

use switchboard_core::{Config, Event, Transport};
use switchboard_proto::{HeaderName, Message, Method};
use util::*;

const S: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn timeouts(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Timeout { .. }))
        .count()
}

fn responses(events: &[Event]) -> Vec<u16> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Response { response, .. } => Some(response.status().as_u16()),
            _ => None,
        })
        .collect()
}

fn terminated(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Terminated { .. }))
        .count()
}

#[test]
fn invite_client_timer_a_doubles_and_timer_b_times_out() {
    let mut h = Harness::new();
    h.send_request(&outgoing("INVITE"), Transport::Udp);
    h.run_until(40 * S);
    // Sent at 0, then A fires at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; B at 32 s.
    assert_eq!(h.send_times_ms(), [0, 500, 1500, 3500, 7500, 15500, 31500]);
    let events = h.take_events();
    assert_eq!(timeouts(&events), 1);
    assert!(matches!(events[0], Event::Timeout { .. }));
    assert_eq!(h.events.len(), 0);
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(h.sent.len(), 7);
}

#[test]
fn invite_client_over_tcp_never_retransmits() {
    let mut h = Harness::new();
    h.send_request(&outgoing("INVITE"), Transport::Tcp);
    h.run_until(31 * S);
    assert_eq!(h.send_times_ms(), [0]);
    assert_eq!(timeouts(&h.take_events()), 0);
    h.run_until(32 * S);
    assert_eq!(timeouts(&h.take_events()), 1);
}

#[test]
fn invite_client_provisional_stops_retransmissions() {
    let mut h = Harness::new();
    h.send_request(&outgoing("INVITE"), Transport::Udp);
    h.advance(700 * MS); // one retransmission at 500 ms
    let req = h.last_sent();
    h.receive(&response_to(&req, 180, Some("b1")));
    h.run_until(120 * S);
    assert_eq!(h.send_times_ms(), [0, 500]);
    let events = h.take_events();
    assert_eq!(responses(&events), [180]);
    // In Proceeding the transaction waits for the TU (proxy timer C).
    assert_eq!(timeouts(&events), 0);
    assert_eq!(h.ep.transaction_count(), 1);
}

#[test]
fn invite_client_non_2xx_is_acked_and_timer_d_absorbs_retransmissions() {
    let mut h = Harness::new();
    h.send_request(&outgoing("INVITE"), Transport::Udp);
    let req = h.last_sent();
    let busy = response_to(&req, 486, Some("b1"));
    h.advance(100 * MS);
    h.receive(&busy);
    let ack = h.last_sent();
    let ack_req = ack.as_request().unwrap();
    assert_eq!(*ack_req.method(), Method::Ack);
    // §17.1.1.3: same Request-URI, branch, Call-ID, From; To from the response.
    let inv = req.as_request().unwrap();
    assert_eq!(ack_req.uri_str(), inv.uri_str());
    assert_eq!(ack.headers().top_branch(), req.headers().top_branch());
    assert_eq!(ack.headers().to_tag(), Some("b1"));
    assert_eq!(ack.headers().cseq().unwrap().seq, 1);
    assert_eq!(ack.headers().cseq().unwrap().method, Method::Ack);
    assert_eq!(ack.headers().values(HeaderName::Via).count(), 1);

    // The retransmitted 486 gets the ACK again and is not passed up.
    h.advance(2 * S);
    h.receive(&busy);
    assert_eq!(h.sent.len(), 3);
    assert_eq!(*h.last_sent().as_request().unwrap().method(), Method::Ack);
    let events = h.take_events();
    assert_eq!(responses(&events), [486]);

    // Timer D (32 s) ends the transaction; no more retransmissions.
    h.run_until(100 * MS + 32 * S - MS);
    assert_eq!(h.ep.transaction_count(), 1);
    h.run_until(100 * MS + 32 * S);
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(terminated(&h.take_events()), 1);
    assert_eq!(h.sent.len(), 3);
}

#[test]
fn invite_client_over_tcp_terminates_at_once_after_non_2xx() {
    let mut h = Harness::new();
    h.send_request(&outgoing("INVITE"), Transport::Tcp);
    let req = h.last_sent();
    h.receive_from(
        &response_to(&req, 404, Some("b1")),
        Transport::Tcp,
        addr(PEER),
    );
    assert_eq!(*h.last_sent().as_request().unwrap().method(), Method::Ack);
    assert_eq!(h.ep.transaction_count(), 0);
}

#[test]
fn invite_client_2xx_enters_accepted_and_passes_every_2xx_until_timer_m() {
    let mut h = Harness::new();
    h.send_request(&outgoing("INVITE"), Transport::Udp);
    let req = h.last_sent();
    let ok = response_to(&req, 200, Some("b1"));
    h.receive(&ok);
    h.advance(S);
    h.receive(&ok); // retransmission by the UAS core
    h.receive(&response_to(&req, 200, Some("fork2"))); // another fork
    let events = h.take_events();
    assert_eq!(responses(&events), [200, 200, 200]);
    // No ACK from the transaction for a 2xx: that is the TU's job.
    assert_eq!(h.sent.len(), 1);
    h.run_until(32 * S - MS);
    assert_eq!(h.ep.transaction_count(), 1);
    h.run_until(32 * S);
    assert_eq!(h.ep.transaction_count(), 0);
    h.receive(&ok);
    assert!(matches!(
        h.take_events()[..],
        [Event::Terminated { .. }, Event::StrayResponse { .. }]
    ));
}

#[test]
fn non_invite_client_timer_e_caps_at_t2_and_timer_f_times_out() {
    let mut h = Harness::new();
    h.send_request(&outgoing("OPTIONS"), Transport::Udp);
    h.run_until(40 * S);
    assert_eq!(
        h.send_times_ms(),
        [
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert_eq!(timeouts(&h.take_events()), 1);
    assert_eq!(h.ep.transaction_count(), 0);
}

#[test]
fn non_invite_client_in_proceeding_retransmits_every_t2() {
    let mut h = Harness::new();
    h.send_request(&outgoing("REGISTER"), Transport::Udp);
    let req = h.last_sent();
    h.advance(100 * MS);
    h.receive(&response_to(&req, 100, None));
    h.run_until(10 * S);
    // E was armed for 500 ms; when it fires in Proceeding the next is T2 later.
    assert_eq!(h.send_times_ms(), [0, 500, 4500, 8500]);
}

#[test]
fn non_invite_client_completed_absorbs_retransmissions_until_timer_k() {
    let mut h = Harness::new();
    h.send_request(&outgoing("REGISTER"), Transport::Udp);
    let req = h.last_sent();
    let ok = response_to(&req, 200, Some("r"));
    h.receive(&ok);
    h.receive(&ok);
    assert_eq!(responses(&h.take_events()), [200]);
    h.run_until(5 * S - MS);
    assert_eq!(h.ep.transaction_count(), 1);
    h.run_until(5 * S);
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(h.sent.len(), 1);
}

#[test]
fn invite_server_sends_100_trying_when_the_tu_is_slow() {
    let mut h = Harness::new();
    h.receive(&invite_from_peer("z9hG4bKinv1"));
    let events = h.take_events();
    assert!(matches!(events[..], [Event::Request { .. }]));
    h.run_until(199 * MS);
    assert!(h.sent.is_empty());
    h.run_until(200 * MS);
    let trying = h.last_sent();
    assert_eq!(status_of(&trying), Some(100));
    assert_eq!(trying.headers().top_branch(), Some("z9hG4bKinv1"));
    // A retransmitted INVITE gets the 100 again.
    h.receive(&invite_from_peer("z9hG4bKinv1"));
    assert_eq!(h.sent.len(), 2);
    assert!(h.take_events().is_empty());
}

fn respond(
    h: &mut Harness,
    req: &switchboard_proto::Request,
    tx: switchboard_core::TransactionId,
    code: u16,
) {
    let resp = switchboard_proto::ResponseBuilder::from_request(
        req,
        switchboard_proto::StatusCode::new(code).unwrap(),
    )
    .to_tag("srv")
    .build()
    .unwrap();
    h.ep.respond(h.now, tx, resp).unwrap();
    h.drain();
}

fn take_request(h: &mut Harness) -> (switchboard_core::TransactionId, switchboard_proto::Request) {
    for e in h.take_events() {
        if let Event::Request { tx, request, .. } = e {
            return (tx, request);
        }
    }
    panic!("no request event")
}

#[test]
fn invite_server_timer_g_retransmits_until_ack_and_timer_i_ends() {
    let mut h = Harness::new();
    h.receive(&invite_from_peer("z9hG4bKg"));
    let (tx, req) = take_request(&mut h);
    respond(&mut h, &req, tx, 486);
    h.run_until(8 * S);
    // G: 0.5, 1.5 (1 s), 3.5 (2 s), 7.5 (4 s = T2)
    assert_eq!(h.send_times_ms(), [0, 500, 1500, 3500, 7500]);
    assert!(h.sent_messages().iter().all(|m| status_of(m) == Some(486)));
    let ack = "ACK sip:bob@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKg\nMax-Forwards: 70\n\
         From: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:bob@127.0.0.1>;tag=srv\nCall-ID: call-z9hG4bKg\nCSeq: 1 ACK\nContent-Length: 0\n\n";
    h.receive(ack);
    assert!(
        h.take_events().is_empty(),
        "the ACK for a non-2xx stays in the transaction"
    );
    h.receive(ack); // Confirmed absorbs ACK retransmissions
    h.run_until(20 * S);
    assert_eq!(h.sent.len(), 5, "no retransmission after the ACK");
    // Timer I = T4 = 5 s after the ACK at 8 s.
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(terminated(&h.take_events()), 1);
}

#[test]
fn invite_server_timer_h_gives_up_without_ack() {
    let mut h = Harness::new();
    h.receive(&invite_from_peer("z9hG4bKh"));
    let (tx, req) = take_request(&mut h);
    respond(&mut h, &req, tx, 603);
    h.run_until(40 * S);
    assert_eq!(
        h.send_times_ms(),
        [
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    let events = h.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::AckTimeout { .. })));
    assert_eq!(h.ep.transaction_count(), 0);
}

#[test]
fn invite_server_2xx_enters_accepted_absorbs_invites_until_timer_l() {
    let mut h = Harness::new();
    h.receive(&invite_from_peer("z9hG4bKl"));
    let (tx, req) = take_request(&mut h);
    respond(&mut h, &req, tx, 200);
    respond(&mut h, &req, tx, 200); // the TU retransmits its 2xx
    assert_eq!(h.sent.len(), 2);
    h.receive(&invite_from_peer("z9hG4bKl"));
    assert_eq!(h.sent.len(), 2, "retransmitted INVITE absorbed in Accepted");
    // The ACK for the 2xx has its own branch and goes to the TU.
    let ack = "ACK sip:bob@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack\nMax-Forwards: 70\n\
               From: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:bob@127.0.0.1>;tag=srv\nCall-ID: call-z9hG4bKl\nCSeq: 1 ACK\nContent-Length: 0\n\n";
    h.receive(ack);
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Ack { .. }))
    );
    h.run_until(32 * S - MS);
    assert_eq!(h.ep.transaction_count(), 1);
    h.run_until(32 * S);
    assert_eq!(h.ep.transaction_count(), 0);
}

#[test]
fn non_invite_server_absorbs_in_trying_and_replays_final_until_timer_j() {
    let mut h = Harness::new();
    let options = non_invite_from_peer("OPTIONS", "z9hG4bKj");
    h.receive(&options);
    let (tx, req) = take_request(&mut h);
    h.receive(&options);
    assert!(
        h.sent.is_empty() && h.take_events().is_empty(),
        "Trying absorbs"
    );
    respond(&mut h, &req, tx, 200);
    h.advance(10 * S);
    h.receive(&options);
    assert_eq!(h.send_times_ms(), [0, 10_000]);
    assert!(h.take_events().is_empty());
    assert!(
        h.ep.respond(
            h.now,
            tx,
            h.sent_messages()[0].as_response().unwrap().clone()
        )
        .is_err()
    );
    h.run_until(32 * S);
    assert_eq!(h.ep.transaction_count(), 0);
    h.receive(&options);
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Request { .. })),
        "a new transaction after J"
    );
}

#[test]
fn cancel_is_answered_and_reported_and_unknown_cancel_gets_481() {
    let mut h = Harness::new();
    h.receive(&invite_from_peer("z9hG4bKc"));
    let (tx, _) = take_request(&mut h);
    let cancel = "CANCEL sip:bob@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc\nMax-Forwards: 70\n\
                  From: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:bob@127.0.0.1>\nCall-ID: call-z9hG4bKc\nCSeq: 1 CANCEL\nContent-Length: 0\n\n";
    h.receive(cancel);
    let answer = h.last_sent();
    assert_eq!(status_of(&answer), Some(200));
    assert_eq!(answer.headers().cseq().unwrap().method, Method::Cancel);
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Cancelled { invite, .. } if *invite == tx))
    );

    let stray = cancel.replace("z9hG4bKc", "z9hG4bKnone");
    h.receive(&stray);
    assert_eq!(status_of(&h.last_sent()), Some(481));
}

#[test]
fn cancel_of_a_client_invite_needs_a_provisional_and_reuses_the_branch() {
    let mut h = Harness::new();
    let id = h.send_request(&outgoing("INVITE"), Transport::Udp);
    assert!(
        h.ep.cancel(h.now, id).is_err(),
        "no CANCEL before a provisional"
    );
    let req = h.last_sent();
    h.receive(&response_to(&req, 180, Some("b1")));
    let cancel_id = h.ep.cancel(h.now, id).unwrap();
    h.drain();
    let cancel = h.last_sent();
    assert_eq!(*cancel.as_request().unwrap().method(), Method::Cancel);
    assert_eq!(cancel.headers().top_branch(), req.headers().top_branch());
    assert_eq!(cancel.headers().cseq().unwrap().seq, 1);
    assert_eq!(cancel.headers().to_tag(), None);
    // 200 to CANCEL then 487 to the INVITE.
    h.receive(&response_to(&cancel, 200, Some("b1")));
    h.receive(&response_to(&req, 487, Some("b1")));
    let events = h.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::Response { tx, response, .. } if *tx == cancel_id && response.status().as_u16() == 200)));
    assert!(events.iter().any(|e| matches!(e, Event::Response { tx, response, .. } if *tx == id && response.status().as_u16() == 487)));
    assert_eq!(*h.last_sent().as_request().unwrap().method(), Method::Ack);
}

#[test]
fn malformed_requests_get_400_and_the_endpoint_keeps_serving() {
    let mut h = Harness::new();
    let bad = invite_from_peer("z9hG4bKbad").replace("Max-Forwards: 70", "Max-Forwards: seventy");
    h.receive(&bad);
    let answer = h.last_sent();
    assert_eq!(status_of(&answer), Some(400));
    assert!(
        answer
            .headers()
            .get(HeaderName::Warning)
            .unwrap()
            .contains("Max-Forwards")
    );
    h.receive("\u{0}\u{1}garbage");
    h.receive("SIP/2.0 200 OK\n\n");
    assert_eq!(h.sent.len(), 1);
    assert_eq!(h.ep.stats().malformed, 3);
    h.receive(&non_invite_from_peer("OPTIONS", "z9hG4bKgood"));
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, Event::Request { .. }))
    );
}

#[test]
fn transaction_limit_sheds_load_with_503_and_retry_after() {
    let mut h = Harness::with_config(Config {
        max_transactions: 2,
        ..Config::default()
    });
    for b in ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"] {
        h.receive(&non_invite_from_peer("OPTIONS", b));
    }
    let shed = h.last_sent();
    assert_eq!(status_of(&shed), Some(503));
    assert_eq!(shed.headers().get(HeaderName::RetryAfter), Some("5"));
    assert_eq!(h.ep.stats().shed, 1);
    assert!(
        h.ep.send_request(
            h.now,
            request(&outgoing("OPTIONS")),
            switchboard_core::Destination::Address {
                transport: Transport::Udp,
                remote: addr(PEER)
            }
        )
        .is_err()
    );
}

#[test]
fn via_gets_received_and_rport_and_responses_go_to_the_source() {
    let mut h = Harness::new();
    let req = non_invite_from_peer("OPTIONS", "z9hG4bKnat").replace(
        "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKnat",
        "SIP/2.0/UDP 10.0.0.9:5060;rport;branch=z9hG4bKnat",
    );
    h.receive_from(&req, Transport::Udp, addr("127.0.0.2:40000"));
    let (tx, request) = take_request(&mut h);
    let via = request.headers().top_via().unwrap().unwrap();
    assert_eq!(via.received(), Some("127.0.0.2"));
    assert_eq!(via.rport(), Some(Some(40000)));
    respond(&mut h, &request, tx, 200);
    let (_, t) = h.sent.last().unwrap();
    assert_eq!(
        t.destination,
        switchboard_core::Destination::Address {
            transport: Transport::Udp,
            remote: addr("127.0.0.2:40000")
        }
    );
    assert_eq!(t.local, Some(addr(LOCAL)), "sent from where it came in");
    // The response carries the stamped Via back.
    let resp = h.last_sent();
    assert_eq!(
        resp.headers().top_via().unwrap().unwrap().rport(),
        Some(Some(40000))
    );
}

#[test]
fn without_symmetric_response_udp_answers_go_to_the_via_port() {
    let mut h = Harness::with_config(Config {
        symmetric_response: false,
        ..Config::default()
    });
    let req = non_invite_from_peer("OPTIONS", "z9hG4bKsym")
        .replace("127.0.0.1:5070;branch", "127.0.0.1:5080;branch");
    h.receive_from(&req, Transport::Udp, addr("127.0.0.1:40000"));
    let (tx, request) = take_request(&mut h);
    respond(&mut h, &request, tx, 200);
    let (_, t) = h.sent.last().unwrap();
    assert_eq!(
        t.destination,
        switchboard_core::Destination::Address {
            transport: Transport::Udp,
            remote: addr("127.0.0.1:5080")
        }
    );
}

#[test]
fn large_udp_requests_move_to_tcp() {
    let mut h = Harness::new();
    let big =
        outgoing("MESSAGE").replace("Content-Length: 0", &format!("X-Pad: {}", "a".repeat(1400)));
    h.send_request(&big, Transport::Udp);
    let (_, t) = &h.sent[0];
    assert_eq!(
        t.destination,
        switchboard_core::Destination::Address {
            transport: Transport::Tcp,
            remote: addr(PEER)
        }
    );
    assert!(
        h.last_sent()
            .headers()
            .get(HeaderName::Via)
            .unwrap()
            .starts_with("SIP/2.0/TCP")
    );
    h.run_until(10 * S);
    assert_eq!(h.sent.len(), 1, "no retransmission over TCP");
}

#[test]
fn a_thousand_transactions_at_once() {
    let mut h = Harness::new();
    for i in 0..1000 {
        h.receive(&non_invite_from_peer("OPTIONS", &format!("z9hG4bKmany{i}")));
    }
    let requests: Vec<_> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Request { tx, request, .. } => Some((tx, request)),
            _ => None,
        })
        .collect();
    assert_eq!(requests.len(), 1000);
    assert_eq!(h.ep.transaction_count(), 1000);
    for (tx, req) in &requests {
        respond(&mut h, req, *tx, 200);
    }
    assert_eq!(h.sent.len(), 1000);
    for _ in 0..1000 {
        h.send_request(&outgoing("OPTIONS"), Transport::Udp);
    }
    assert_eq!(h.ep.transaction_count(), 2000);
    h.run_until(40 * S);
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(timeouts(&h.take_events()), 1000);
    let _ = Message::parse_datagram;
}

#[test]
fn response_after_the_connection_closed_goes_to_received_and_sent_by_port() {
    use switchboard_core::{Destination, FlowId, Input};
    let mut h = Harness::new();
    let flow = FlowId(9);
    let remote = addr("127.0.0.3:40001");
    h.ep.handle_input(
        h.now,
        Input::FlowOpened {
            flow,
            transport: Transport::Tcp,
            local: addr(LOCAL),
            remote,
        },
    );
    let options = non_invite_from_peer("OPTIONS", "z9hG4bKtcp")
        .replace(
            "SIP/2.0/UDP 127.0.0.1:5070",
            "SIP/2.0/TCP client.invalid:5099",
        )
        .replace('\n', "\r\n");
    h.ep.handle_input(
        h.now,
        Input::StreamData {
            flow,
            bytes: options.into(),
        },
    );
    h.drain();
    let (tx, req) = take_request(&mut h);
    h.ep.handle_input(h.now, Input::FlowClosed { flow });
    respond(&mut h, &req, tx, 200);
    let (_, t) = h.sent.last().unwrap();
    assert_eq!(
        t.destination,
        Destination::Address {
            transport: Transport::Tcp,
            remote: addr("127.0.0.3:5099")
        }
    );
    assert_eq!(t.local, Some(addr(LOCAL)));
}

/// A host with several addresses answers from the one the request came to:
/// every message a server transaction sends (the automatic 100 Trying, the
/// final response, its retransmissions on Timer G and on a retransmitted
/// INVITE), the 200 to a CANCEL and the stateless 400 and 503 carry the
/// request's local address; requests and stateless messages leave the
/// choice to the driver.
#[test]
fn answers_go_out_from_the_address_the_request_came_to() {
    use switchboard_core::{Destination, Transmit};
    fn locals(sent: &[(Duration, Transmit)]) -> Vec<Option<std::net::SocketAddr>> {
        sent.iter().map(|(_, t)| t.local).collect()
    }
    let mut h = Harness::with_config(Config {
        max_transactions: 4,
        ..Config::default()
    });
    let second = addr("127.0.0.1:5062");
    let invite = invite_from_peer("z9hG4bKloc1");
    h.receive_at(&invite, Transport::Udp, addr(PEER), second);
    let (tx, request) = take_request(&mut h);
    h.run_until(200 * MS);
    assert_eq!(status_of(&h.last_sent()), Some(100));
    respond(&mut h, &request, tx, 486);
    h.receive_at(&invite, Transport::Udp, addr(PEER), second);
    h.advance(S);
    let statuses: Vec<_> = h.sent_messages().iter().map(status_of).collect();
    assert_eq!(statuses, [Some(100), Some(486), Some(486), Some(486)]);
    assert_eq!(locals(&h.sent), [Some(second); 4]);

    // The same peer to our other address is answered from that one.
    h.sent.clear();
    h.receive(&non_invite_from_peer("OPTIONS", "z9hG4bKloc2"));
    let (tx, request) = take_request(&mut h);
    respond(&mut h, &request, tx, 200);
    assert_eq!(locals(&h.sent), [Some(addr(LOCAL))]);

    // A CANCEL's 200, a 400 and a 503 built by the endpoint itself.
    h.sent.clear();
    h.receive_at(
        &invite_from_peer("z9hG4bKloc3"),
        Transport::Udp,
        addr(PEER),
        second,
    );
    let _ = take_request(&mut h);
    let cancel = invite_from_peer("z9hG4bKloc3").replace("INVITE", "CANCEL");
    h.receive_at(&cancel, Transport::Udp, addr(PEER), second);
    assert_eq!(status_of(&h.last_sent()), Some(200));
    let bad = non_invite_from_peer("OPTIONS", "z9hG4bKloc4")
        .replace("Max-Forwards: 70", "Max-Forwards: seventy");
    h.receive_at(&bad, Transport::Udp, addr(PEER), second);
    assert_eq!(status_of(&h.last_sent()), Some(400));
    h.receive_at(
        &non_invite_from_peer("OPTIONS", "z9hG4bKloc5"),
        Transport::Udp,
        addr(PEER),
        second,
    );
    assert_eq!(status_of(&h.last_sent()), Some(503));
    assert_eq!(locals(&h.sent), [Some(second); 3]);

    // What the TU sends gets no local address: the driver chooses.
    h.run_until(60 * S);
    h.sent.clear();
    h.send_request(&outgoing("OPTIONS"), Transport::Udp);
    let options = h.last_sent();
    h.ep.send_stateless(
        &options,
        Destination::Address {
            transport: Transport::Udp,
            remote: addr(PEER),
        },
    );
    h.drain();
    assert_eq!(locals(&h.sent), [None, None]);
}

/// RFC 3261 §17.2.2: Timer J is zero over a reliable transport, so a
/// non-INVITE server transaction ends with its final response instead of
/// holding it for 32 s.
#[test]
fn non_invite_server_over_tcp_ends_with_its_final_response() {
    let mut h = Harness::new();
    let options =
        non_invite_from_peer("OPTIONS", "z9hG4bKjtcp").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    h.receive_from(&options, Transport::Tcp, addr(PEER));
    let (tx, req) = take_request(&mut h);
    assert_eq!(h.ep.transaction_count(), 1);
    respond(&mut h, &req, tx, 200);
    assert_eq!(status_of(&h.last_sent()), Some(200));
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(terminated(&h.take_events()), 1);
    assert_eq!(h.ep.poll_timeout(), None);
}

/// RFC 3261 §17.1.2.2: Timer K is zero over a reliable transport, so a
/// non-INVITE client transaction ends with the final response it passes up.
#[test]
fn non_invite_client_over_tcp_ends_with_its_final_response() {
    let mut h = Harness::new();
    h.send_request(&outgoing("REGISTER"), Transport::Tcp);
    let req = h.last_sent();
    h.receive_from(
        &response_to(&req, 200, Some("r")),
        Transport::Tcp,
        addr(PEER),
    );
    let events = h.take_events();
    assert_eq!(responses(&events), [200]);
    assert_eq!(terminated(&events), 1);
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(h.ep.poll_timeout(), None);
    h.run_until(40 * S);
    assert_eq!(h.sent.len(), 1, "no retransmission over TCP");
}

/// The CANCEL (§9.1) and the ACK to a non-2xx final (§17.1.1.3) carry the
/// INVITE's Request-URI, Call-ID, From and every Route in order, which the
/// transaction keeps after the INVITE itself is gone.
#[test]
fn cancel_and_ack_copy_the_invites_route_set_in_order() {
    let mut h = Harness::new();
    let invite = outgoing("INVITE").replace(
        "Max-Forwards: 70\n",
        "Max-Forwards: 70\nRoute: <sip:p1.invalid;lr>\nRoute: <sip:p2.invalid;lr>\n",
    );
    let id = h.send_request(&invite, Transport::Udp);
    let req = h.last_sent();
    h.receive(&response_to(&req, 180, Some("b1")));
    h.ep.cancel(h.now, id).unwrap();
    h.drain();
    let cancel = h.last_sent();
    h.receive(&response_to(&req, 487, Some("b1")));
    let ack = h.last_sent();
    for (msg, method) in [(&cancel, Method::Cancel), (&ack, Method::Ack)] {
        let r = msg.as_request().unwrap();
        assert_eq!(*r.method(), method);
        assert_eq!(r.uri_str(), "sip:bob@127.0.0.1:5070");
        let routes: Vec<_> = msg.headers().get_all(HeaderName::Route).collect();
        assert_eq!(routes, ["<sip:p1.invalid;lr>", "<sip:p2.invalid;lr>"]);
        assert_eq!(msg.headers().call_id(), Some("out-1"));
        assert_eq!(msg.headers().from_tag(), Some("u1"));
    }
    assert_eq!(cancel.headers().to_tag(), None);
    assert_eq!(ack.headers().to_tag(), Some("b1"));
}

#[test]
fn a_large_request_whose_tcp_connection_fails_is_sent_again_over_udp() {
    use switchboard_core::{Destination, FlowId, Input};
    let mut h = Harness::new();
    // Over 1300 bytes: §18.1.1 sends it over TCP to the UDP address.
    let padded = outgoing("INVITE").replace(
        "Content-Length: 0",
        &format!("X-Pad: {}\nContent-Length: 0", "a".repeat(1400)),
    );
    h.send_request(&padded, Transport::Udp);
    let (_, first) = h.sent.last().cloned().unwrap();
    let Destination::Address { transport, remote } = first.destination else {
        panic!("sent down a flow: {:?}", first.destination);
    };
    assert_eq!(transport, Transport::Tcp);
    let first = Message::parse_datagram(first.bytes).unwrap();
    let branch = |m: &Message| {
        let via = m.headers().get(HeaderName::Via).unwrap().to_owned();
        (
            via.contains("SIP/2.0/UDP"),
            via.split("branch=").nth(1).unwrap().to_owned(),
        )
    };
    let (udp, tcp_branch) = branch(&first);
    assert!(!udp);

    // The phone listens on UDP only: the connection is refused.
    let flow = FlowId(77);
    h.ep.handle_input(
        h.now,
        Input::FlowOpened {
            flow,
            transport: Transport::Tcp,
            local: addr("0.0.0.0:0"),
            remote,
        },
    );
    h.ep.handle_input(h.now, Input::FlowClosed { flow });
    h.drain();
    assert!(
        h.take_events().is_empty(),
        "no transport error reaches the transaction user"
    );
    let (_, again) = h.sent.last().cloned().unwrap();
    assert_eq!(
        again.destination,
        Destination::Address {
            transport: Transport::Udp,
            remote
        }
    );
    let (udp, udp_branch) = branch(&Message::parse_datagram(again.bytes).unwrap());
    assert!(udp, "the Via names UDP");
    assert_eq!(udp_branch, tcp_branch, "the same transaction");
    // Over UDP it is retransmitted (Timer A) and times out at Timer B.
    let sent_before = h.sent.len();
    h.advance(600 * MS);
    assert_eq!(h.sent.len(), sent_before + 1);
    h.run_until(40 * S);
    assert_eq!(timeouts(&h.take_events()), 1);
    assert_eq!(h.ep.transaction_count(), 0);
}

/// RFC 3261 §17.2.1 over a reliable transport: an INVITE answered with a
/// failure sends its answer once (no Timer G), answers a retransmitted
/// INVITE with it again, and ends at the ACK (Timer I is zero), keeping
/// nothing for the 5 s a UDP transaction would.
#[test]
fn invite_server_over_tcp_replays_its_failure_and_ends_at_the_ack() {
    let mut h = Harness::new();
    let invite = invite_from_peer("z9hG4bKitcp").replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    h.receive_from(&invite, Transport::Tcp, addr(PEER));
    let (tx, req) = take_request(&mut h);
    respond(&mut h, &req, tx, 486);
    h.run_until(8 * S);
    assert_eq!(h.send_times_ms(), [0], "no Timer G over TCP");
    h.receive_from(&invite, Transport::Tcp, addr(PEER));
    assert_eq!(h.send_times_ms(), [0, 8000]);
    assert!(h.sent_messages().iter().all(|m| status_of(m) == Some(486)));
    assert!(h.take_events().is_empty(), "the retransmission is absorbed");
    let ack = "ACK sip:bob@127.0.0.1 SIP/2.0\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKitcp\nMax-Forwards: 70\n\
         From: <sip:alice@127.0.0.1>;tag=a1\nTo: <sip:bob@127.0.0.1>;tag=srv\nCall-ID: call-z9hG4bKitcp\nCSeq: 1 ACK\nContent-Length: 0\n\n";
    h.receive_from(ack, Transport::Tcp, addr(PEER));
    assert_eq!(h.ep.transaction_count(), 0);
    assert_eq!(terminated(&h.take_events()), 1);
    assert_eq!(h.ep.poll_timeout(), None);
}
