//! An [`App`] on the driver task: it answers requests in the pass that read
//! them, gets messages from other threads through its [`AppSender`], and
//! gets its own timer; requests sent through the [`Handle`] of the same
//! runtime still get their responses on their `ClientTransaction`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // tests: a panic is a failure

mod util;

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use switchboard_core::{Destination, Endpoint, Event, Transport};
use switchboard_net::{App, AppSender, app_channel, start_app};
use switchboard_proto::{Method, ResponseBuilder, StatusCode};
use tokio::sync::mpsc;
use util::*;

/// Answers every request 200 with `X-Count: <messages seen>` and
/// `X-Timer: <timer fired>`; a request for `sip:hold@...` is kept until the
/// next message, which answers it 202.
struct Counter {
    messages: u32,
    fired: bool,
    /// How late the driver's timer fired, when it did (`timer_fired`).
    late: Option<Duration>,
    deadline: Option<Instant>,
    held: Option<switchboard_core::TransactionId>,
    held_request: Option<switchboard_proto::Request>,
    ticks: mpsc::UnboundedSender<()>,
}

impl App for Counter {
    type Message = u32;

    fn on_event(&mut self, now: Instant, ep: &mut Endpoint, event: Event) {
        let Event::Request { tx, request, .. } = event else {
            return;
        };
        if request.uri_str().starts_with("sip:hold@") {
            self.held = Some(tx);
            self.held_request = Some(request);
            return;
        }
        let ok = ResponseBuilder::from_request(&request, StatusCode::OK)
            .to_tag("app")
            .header_other("X-Count", self.messages.to_string())
            .header_other("X-Timer", self.fired.to_string())
            .header_other(
                "X-Late",
                format!("{:?}", self.late.map(|l| l < Duration::from_secs(5))),
            )
            .build()
            .unwrap();
        ep.respond(now, tx, ok).unwrap();
    }

    fn on_message(&mut self, now: Instant, ep: &mut Endpoint, message: u32) {
        self.messages += message;
        if let (Some(tx), Some(request)) = (self.held.take(), self.held_request.take()) {
            let accepted = ResponseBuilder::from_request(&request, StatusCode::ACCEPTED)
                .to_tag("app")
                .build()
                .unwrap();
            ep.respond(now, tx, accepted).unwrap();
        }
    }

    fn poll_timeout(&self, _: Instant) -> Option<Instant> {
        self.deadline
    }

    fn handle_timeout(&mut self, _: Instant, _: &mut Endpoint) {
        self.deadline = None;
        self.fired = true;
        let _ = self.ticks.send(());
    }

    fn timer_fired(&mut self, late: Duration) {
        self.late = Some(late);
    }
}

async fn header(handle: &switchboard_net::Handle, to: Destination, uri: &str) -> (u16, String) {
    let (status, seen, _) = headers(handle, to, uri).await;
    (status, seen)
}

/// [`header`] and the `X-Late` value.
async fn headers(
    handle: &switchboard_net::Handle,
    to: Destination,
    uri: &str,
) -> (u16, String, String) {
    let request = request(handle, Method::Options, uri).await;
    let mut tx = handle.send_request(request, to).await.unwrap();
    match final_outcome(&mut tx).await {
        switchboard_net::Outcome::Final { response, .. } => {
            let count = response.headers().get_by_name("X-Count").unwrap_or("");
            let timer = response.headers().get_by_name("X-Timer").unwrap_or("");
            let late = response.headers().get_by_name("X-Late").unwrap_or("");
            (
                response.status().as_u16(),
                format!("{count} {timer}"),
                late.to_owned(),
            )
        }
        other => panic!("no final response: {other:?}"),
    }
}

#[tokio::test]
async fn an_app_answers_on_the_driver_and_gets_messages_and_timers() {
    let (ticks_tx, mut ticks) = mpsc::unbounded_channel();
    let app = Counter {
        messages: 0,
        fired: false,
        late: None,
        deadline: Some(Instant::now() + Duration::from_millis(200)),
        held: None,
        held_request: None,
        ticks: ticks_tx,
    };
    let (sender, receiver): (AppSender<u32>, _) = app_channel();
    let handle = start_app(
        config(&[Transport::Udp], None),
        Box::new(StdRng::seed_from_u64(7)),
        app,
        receiver,
    )
    .await
    .unwrap();
    // The app's runtime is also the caller: its own client transactions'
    // responses go to the ClientTransaction, not to the app.
    let app_dest = Destination::Address {
        transport: Transport::Udp,
        remote: handle.local_addr(Transport::Udp).unwrap(),
    };
    let caller = Peer::start(config(&[Transport::Udp], None), 8).await;

    let (status, seen) = header(&caller.handle, app_dest, "sip:a@example.test").await;
    assert_eq!((status, seen.as_str()), (200, "0 false"));

    // Messages from another thread reach the app in order.
    let s = sender.clone();
    std::thread::spawn(move || {
        assert!(s.send(2));
        assert!(s.send(3));
    })
    .join()
    .unwrap();
    bounded(ticks.recv()).await.unwrap();
    let (_, seen, late) = headers(&caller.handle, app_dest, "sip:b@example.test").await;
    assert_eq!(seen, "5 true", "messages counted and the timer fired");
    assert_eq!(
        late, "Some(true)",
        "the driver reports how late its timer fired"
    );

    // A request the app answers only when a message comes.
    let held = request(&caller.handle, Method::Options, "sip:hold@example.test").await;
    let mut tx = caller.handle.send_request(held, app_dest).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(sender.send(1));
    assert_eq!(final_status(&mut tx).await, 202);

    // The app's handle sends requests too; the caller answers them.
    let own = request(&handle, Method::Options, "sip:bob@example.test").await;
    let mut tx = handle
        .send_request(own, caller.dest(Transport::Udp))
        .await
        .unwrap();
    assert_eq!(final_status(&mut tx).await, StatusCode::OK.as_u16());

    bounded(handle.shutdown()).await;
    assert!(!sender.send(1), "the driver has stopped");
    caller.stop().await;
}

/// Records what every pass of UDP reads reports.
struct Backlog(mpsc::UnboundedSender<usize>);

impl App for Backlog {
    type Message = ();

    fn on_event(&mut self, _: Instant, _: &mut Endpoint, _: Event) {}

    fn on_message(&mut self, _: Instant, _: &mut Endpoint, (): ()) {}

    fn read_backlog(&mut self, _: Instant, datagrams: usize) {
        let _ = self.0.send(datagrams);
    }
}

/// More datagrams queued than two passes read: the count grows by a full
/// batch each pass while the socket is not emptied, then starts again from
/// the pass that emptied it. That is the measure an overloaded driver
/// shows its application before the socket's buffer overflows.
#[tokio::test]
async fn the_driver_reports_the_datagrams_read_since_a_pass_last_emptied_the_socket() {
    let (passes_tx, mut passes) = mpsc::unbounded_channel();
    let (_sender, receiver) = app_channel();
    let handle = start_app(
        config(&[Transport::Udp], None),
        Box::new(StdRng::seed_from_u64(9)),
        Backlog(passes_tx),
        receiver,
    )
    .await
    .unwrap();
    let at = handle.local_addr(Transport::Udp).unwrap();
    // Sent without yielding to the driver (a current-thread runtime): all
    // of them wait in the socket when it reads. Not SIP: the endpoint
    // drops them, but every one was read.
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let batch = switchboard_net::UDP_READ_BATCH;
    let extra = 8;
    for i in 0..2 * batch + extra {
        client.send_to(format!("noise {i}").as_bytes(), at).unwrap();
    }
    let first = bounded(passes.recv()).await.unwrap();
    assert_eq!(first, batch, "a full pass");
    let second = bounded(passes.recv()).await.unwrap();
    assert_eq!(second, 2 * batch, "two full passes in a row");
    let mut rest = 0;
    while rest < extra {
        let pass = bounded(passes.recv()).await.unwrap();
        assert!(
            pass <= extra - rest,
            "counted again from the pass that emptied it: {pass}"
        );
        rest += pass;
    }
    bounded(handle.shutdown()).await;
}
