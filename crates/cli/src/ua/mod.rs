//! The user-agent commands: `register`, `call`, `answer` and `message`.
//!
//! The SIP logic is `switchboard-ua` (sans-IO); here it runs as an
//! [`switchboard_net::App`] on the network driver ([`app`]), and each call's
//! audio runs in a tokio task over a pair of UDP sockets ([`media`]).
//! [`setup`] turns the shared options into the runtime's settings.

mod answer;
mod app;
mod call;
mod media;
mod message;
mod register;
mod setup;

use std::net::SocketAddr;
use std::path::PathBuf;

pub(crate) use answer::answer;
pub(crate) use call::call;
pub(crate) use message::message;
pub(crate) use register::register;

/// Options every user-agent command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct UaArgs {
    /// The password for digest authentication (401/407).
    #[arg(long)]
    pub password: Option<String>,
    /// The authentication user name (default: the user part of the AOR).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Send every request to this server or outbound proxy (`HOST:PORT`,
    /// `HOST` for port 5060) instead of the host of the URI. Without it,
    /// a URI's host name is looked up (A/AAAA) and used the same way.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// The SIP transport.
    #[arg(long, value_enum, default_value_t = TransportArg::Udp)]
    pub transport: TransportArg,
    /// Our SIP address (`IP:PORT`; port 0 picks a free one). Default: the
    /// address that reaches the server, a free port.
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,
    /// Trust this CA (PEM) for `--transport tls`.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Our certificate chain (PEM): with `--transport tls`, listen on TLS
    /// (without it we listen on TCP and are reached over our own
    /// connections).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The SIP transports a user agent can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportArg {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
}

/// Media options of `call` and `answer`.
#[derive(Debug, Clone, clap::Args)]
pub struct MediaArgs {
    /// Play this WAV file into the call (any common rate; resampled to 8 kHz).
    #[arg(long, value_name = "FILE.wav")]
    pub play: Option<PathBuf>,
    /// Record what is heard to this WAV file (8 kHz mono) when the call ends.
    #[arg(long, value_name = "FILE.wav")]
    pub record: Option<PathBuf>,
    /// SRTP: off (plain RTP/AVP), optional (offer keys on RTP/AVP, accept
    /// either) or required (RTP/SAVP, refuse plain RTP).
    #[arg(long, value_enum, default_value_t = SrtpArg::Optional)]
    pub srtp: SrtpArg,
    /// Save the RTP datagrams received, as they came off the wire (each
    /// as a 2-byte big-endian length and the bytes), for checking that
    /// media is encrypted.
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,
}

/// The SRTP policy as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SrtpArg {
    /// Plain RTP only.
    Off,
    /// SRTP when the peer takes it.
    Optional,
    /// SRTP or no call.
    Required,
}

/// `switchboard register`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegisterArgs {
    /// The address of record to register, `sip:alice@HOST`.
    pub aor: String,
    /// Seconds asked for.
    #[arg(long, default_value_t = 3600)]
    pub expires: u32,
    /// Register, report, unregister and exit (exit code 1 when the
    /// registration failed).
    #[arg(long)]
    pub once: bool,
    /// Shared options.
    #[command(flatten)]
    pub ua: UaArgs,
}

/// `switchboard call`.
#[derive(Debug, Clone, clap::Args)]
pub struct CallArgs {
    /// Whom to call, `sip:bob@HOST[:PORT]`.
    pub target: String,
    /// Who we are, `sip:alice@HOST` (default `sip:switchboard@` our address).
    #[arg(long = "as", value_name = "URI")]
    pub identity: Option<String>,
    /// Hang up after this many seconds of conversation.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Send these DTMF digits (RFC 4733) one second into the call.
    #[arg(long, value_name = "DIGITS")]
    pub dtmf: Option<String>,
    /// Put the call on hold (re-INVITE, `a=sendonly`) this many seconds
    /// after the answer.
    #[arg(long, value_name = "SECS")]
    pub hold_at: Option<f64>,
    /// Resume the held call (re-INVITE, `a=sendrecv`) this many seconds
    /// after the answer.
    #[arg(long, value_name = "SECS", requires = "hold_at")]
    pub resume_at: Option<f64>,
    /// Media options.
    #[command(flatten)]
    pub media: MediaArgs,
    /// Shared options.
    #[command(flatten)]
    pub ua: UaArgs,
}

/// `switchboard answer`.
#[derive(Debug, Clone, clap::Args)]
pub struct AnswerArgs {
    /// Who we are, `sip:bob@HOST`; with `--password` we register it.
    #[arg(long = "as", value_name = "URI")]
    pub identity: String,
    /// Milliseconds of ringing before answering.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub answer_after: u64,
    /// Exit after the first call ends.
    #[arg(long)]
    pub once: bool,
    /// Hang up each call after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Do not register even with a password.
    #[arg(long)]
    pub no_register: bool,
    /// Media options.
    #[command(flatten)]
    pub media: MediaArgs,
    /// Shared options.
    #[command(flatten)]
    pub ua: UaArgs,
}

/// `switchboard message`.
#[derive(Debug, Clone, clap::Args)]
pub struct MessageArgs {
    /// The recipient, `sip:bob@HOST`.
    pub target: String,
    /// The text.
    pub text: String,
    /// Who we are, `sip:alice@HOST`.
    #[arg(long = "as", value_name = "URI")]
    pub identity: Option<String>,
    /// Shared options.
    #[command(flatten)]
    pub ua: UaArgs,
}
