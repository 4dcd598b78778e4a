//! A seeded, sans-IO network emulator with a virtual clock, for testing
//! Switchboard's [`Endpoint`]s against each other: the idea of quinn's test
//! `Pair` and str0m's `netem`, for SIP.
//!
//! # The model
//!
//! A [`Network`] holds nodes ([`Network::add_node`] with a [`NodeSpec`]):
//! each is one [`Endpoint`] at one [`SocketAddr`](std::net::SocketAddr)
//! accepting a list of transports. The network carries out what endpoints
//! send:
//!
//! - `Destination::Address` over UDP goes, as [`Input::Datagram`], to the
//!   node at that address that accepts UDP, through the one-way link between
//!   the two nodes ([`LinkConfig`]: latency, jitter, loss, duplication,
//!   reordering);
//! - over TCP, TLS, WS or WSS it goes down a simulated connection: reused
//!   when one to that address is open (in either direction), else opened
//!   (the sender gets [`Input::FlowOpened`] at once, the receiver just
//!   before the first bytes arrive). Connections are reliable and in order:
//!   TCP and TLS deliver [`Input::StreamData`] (optionally cut into
//!   segments), WS and WSS deliver [`Input::Datagram`] with the flow set;
//! - `Destination::Flow` goes down that connection;
//! - anything with no node to go to is captured as [`Fate::Unroutable`].
//!
//! Closing: a flow the endpoint gives up ([`Endpoint::poll_close`]) reaches
//! the peer as [`Input::FlowClosed`] after the data in flight;
//! [`Network::close_flow`] breaks a connection at once on both sides.
//!
//! # Time
//!
//! Time is virtual and starts at [`Network::epoch`]; it moves only when the
//! test runs the network. [`Network::step`] jumps to the earliest of: a
//! packet's arrival, any endpoint's [`Endpoint::poll_timeout`], a test timer
//! ([`Network::set_timer`]), and does everything due then.
//! [`Network::run_until`], [`Network::run_for`] and [`Network::run_while`]
//! repeat it. Within one instant, deliveries come first (in the order they
//! were sent), then endpoint timeouts (in node order), then test timers. A
//! minute of SIP timers runs in about a millisecond.
//!
//! # The test's transaction users
//!
//! Endpoint events are queued, with the node and time, as [`NetEvent`]s. A
//! test plays the transaction users by taking them one at a time with
//! [`Network::next_event`] (which steps the clock only as far as the next
//! event) and answering at once with [`Network::respond`],
//! [`Network::send_request`], [`Network::cancel`],
//! [`Network::send_stateless`] or [`Network::with_endpoint`]; what the
//! endpoint sends goes onto the links at the current time. Delayed actions
//! use [`Network::set_timer`], which comes back as [`NetEvent::Timer`].
//!
//! # Determinism
//!
//! Every random draw (loss, jitter, duplication, reordering, and the RNGs of
//! endpoints made by `add_node`) derives from the seed given to
//! [`Network::new`], and the run order is fixed (arrival order, then node
//! order), so a test with a fixed seed does the same thing every run.
//!
//! # Capture and scripted loss
//!
//! Every message a node sends is captured as a [`Packet`]: time, sender,
//! receiver, first line, CSeq and what became of it ([`Fate`]).
//! [`Network::sent`] and [`Network::send_times`] query it;
//! [`Network::dump`] prints it merged with the events, and when a test
//! panics the network prints its last lines by itself.
//!
//! [`Rule`]s act on chosen messages: [`Network::drop_first`]`(|p|
//! p.is_response(180))` loses exactly the first 180, [`Network::drop_nth`],
//! [`Network::drop_all`] and [`Network::delay_nth`] the obvious others.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use switchboard_core::{Destination, Event, Transport};
//! use switchboard_proto::{Method, RequestBuilder, ResponseBuilder, StatusCode};
//! use switchboard_testkit::{NetEvent, Network, NodeSpec};
//!
//! let mut net = Network::new(7);
//! let alice = net.add_node(NodeSpec::new("alice", "192.0.2.1:5060".parse().unwrap()));
//! let bob = net.add_node(NodeSpec::new("bob", "192.0.2.2:5060".parse().unwrap()));
//! // Lose the first OPTIONS: Timer E sends it again 500 ms later.
//! net.drop_first(|p| p.is_request(&Method::Options));
//!
//! let options = RequestBuilder::new(Method::Options, "sip:bob@192.0.2.2")
//!     .from("<sip:alice@192.0.2.1>", "a1")
//!     .to("<sip:bob@192.0.2.2>", None)
//!     .call_id("c1")
//!     .cseq(1)
//!     .build()
//!     .unwrap();
//! let to_bob = Destination::Address { transport: Transport::Udp, remote: net.address(bob) };
//! let tx = net.send_request(alice, options, to_bob).unwrap();
//!
//! let mut answered = false;
//! while let Some(event) = net.next_event(Duration::from_secs(40)) {
//!     match event {
//!         NetEvent::Endpoint { node, event: Event::Request { tx, request, .. }, .. } if node == bob => {
//!             let ok = ResponseBuilder::from_request(&request, StatusCode::OK).to_tag("b1").build().unwrap();
//!             net.respond(bob, tx, ok).unwrap();
//!         }
//!         NetEvent::Endpoint { event: Event::Response { tx: t, response, .. }, .. } if t == tx => {
//!             assert_eq!(response.status(), StatusCode::OK);
//!             answered = true;
//!         }
//!         _ => {}
//!     }
//! }
//! assert!(answered);
//! let times = net.send_times(|p| p.is_request(&Method::Options));
//! assert_eq!(times, [Duration::ZERO, Duration::from_millis(500)]);
//! assert_eq!(net.transaction_count(), 0); // Timers K and J ran out.
//! ```
//!
//! [`Endpoint`]: switchboard_core::Endpoint
//! [`Endpoint::poll_timeout`]: switchboard_core::Endpoint::poll_timeout
//! [`Endpoint::poll_close`]: switchboard_core::Endpoint::poll_close
//! [`Input::Datagram`]: switchboard_core::Input::Datagram
//! [`Input::StreamData`]: switchboard_core::Input::StreamData
//! [`Input::FlowOpened`]: switchboard_core::Input::FlowOpened
//! [`Input::FlowClosed`]: switchboard_core::Input::FlowClosed
#![forbid(unsafe_code)]

mod capture;
mod link;
mod network;
mod rule;

pub use capture::{Fate, Packet};
pub use link::LinkConfig;
pub use network::{NetEvent, Network, NodeId, NodeSpec};
pub use rule::{Rule, RuleId};

#[cfg(test)]
mod tests;
