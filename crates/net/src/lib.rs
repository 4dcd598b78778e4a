//! The tokio runtime of Switchboard: UDP, TCP, TLS, WebSocket and secure
//! WebSocket transports, RFC 3263 server location, and the driver loop that
//! feeds the sans-IO [`switchboard_core::Endpoint`].
//!
//! [`start`] binds the configured listeners and spawns one driver task that
//! owns the endpoint (no locks): it waits on socket and connection tasks,
//! on commands from [`Handle`]s and on one timer set to the endpoint's
//! `poll_timeout`, and after each batch drains the endpoint's transmits,
//! closes and events. UDP is written from the driver; every connection has
//! a reader task feeding the driver and a writer task with a bounded queue,
//! so a slow peer never blocks the driver.
//!
//! [`Handle::send_request_resolved`] finds a request's next hop with the
//! [`resolver`] (RFC 3263) and fails over from target to target
//! ([`FailoverTransaction`]). Responses leave from the socket their request
//! came in on (`Transmit::local`). Connections we open can send RFC 5626
//! keep-alives ([`Config::keepalive_interval`]); one whose pong is late is
//! closed, failing the transactions sent over it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use switchboard_core::{Destination, Transport};
//! use switchboard_net::{start, Config, Incoming, Listen, Outcome};
//! use switchboard_proto::{Method, RequestBuilder, ResponseBuilder, StatusCode};
//!
//! let mut config = Config::default();
//! config.listen.push(Listen::new(Transport::Udp, "127.0.0.1:5060".parse()?));
//! let (handle, mut incoming) = start(config).await?;
//!
//! // Serve: answer every request with 200.
//! let server = handle.clone();
//! tokio::spawn(async move {
//!     while let Some(event) = incoming.recv().await {
//!         if let Incoming::Request { tx, request, .. } = event {
//!             let tag = server.new_tag().await.unwrap_or_default();
//!             if let Ok(ok) = ResponseBuilder::from_request(&request, StatusCode::OK).to_tag(&tag).build() {
//!                 let _ = server.respond(tx, ok).await;
//!             }
//!         }
//!     }
//! });
//!
//! // Ask: OPTIONS to a peer.
//! let options = RequestBuilder::new(Method::Options, "sip:192.0.2.1")
//!     .from("<sip:me@example.com>", &handle.new_tag().await?)
//!     .to("<sip:192.0.2.1>", None)
//!     .call_id(&handle.new_call_id().await?)
//!     .cseq(1)
//!     .build()?;
//! let to = Destination::Address { transport: Transport::Udp, remote: "192.0.2.1:5060".parse()? };
//! let mut tx = handle.send_request(options, to).await?;
//! match tx.final_outcome().await {
//!     Some(Outcome::Final { response, .. }) => println!("{}", response.status()),
//!     other => println!("no answer: {other:?}"),
//! }
//! handle.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod app;
mod bind;
mod certificate;
mod config;
mod conn;
mod driver;
mod error;
mod failover;
mod handle;
mod handle_app;
mod incoming;
mod listener;
mod reloadable_certificate;
pub mod resolver;
mod runtime;
mod task;
mod tls;
mod udp_batch;
pub mod ws;

pub use app::{App, AppReceiver, AppSender, app_channel};
pub use certificate::CertificateInfo;
pub use config::{Config, DEFAULT_UDP_BUFFER_BYTES, Listen};
pub use driver::{RuntimeStats, UDP_READ_BATCH};
pub use error::{Error, StartError, TlsError};
pub use failover::FailoverTransaction;
pub use handle::{ClientTransaction, Handle, Outcome};
pub use incoming::Incoming;
pub use reloadable_certificate::ReloadableCertificate;
pub use runtime::{start, start_app, start_with_rng};
pub use tls::{TlsClient, TlsServer};
