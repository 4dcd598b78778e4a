//! The `switchboard` command line: argument parsing, logging set-up and the
//! commands. `main` only calls [`run`] and turns an [`Error`] into a message
//! and exit code 1.
//!
//! Commands that work today:
//!
//! * `switchboard parse FILE [--stream]`: parses SIP message bytes (one
//!   datagram, or a TCP/TLS byte stream) with `switchboard-proto` and prints
//!   what the parser found and what a server would answer. Exit code 0 when
//!   everything parsed, 1 when something did not.
//! * `switchboard serve`: the registrar (UDP and TCP on 5060 by default;
//!   TLS, WS, WSS with `--listen`), users and bindings in SQLite under
//!   `--data`; every other request through the authenticating proxy.
//!   Invalid settings: exit code 2 with the key named.
//! * `switchboard user add|import|list|remove|passwd`: the users (HA1 values
//!   only) in the data directory.
//! * `switchboard registrations`: the stored bindings, one per line.
//! * `switchboard cdr`: the call detail records, as CSV or JSON lines.
//! * `switchboard register | call | answer | message | subscribe |
//!   publish`: the user agent (`switchboard-ua` on the network runtime,
//!   audio over RTP/SRTP; presence, dialog and reg subscriptions, presence
//!   publication).
//! * `switchboard token create|list|remove`: the admin API's bearer
//!   tokens; `switchboard status` and `switchboard trunks`: the running
//!   server's state through that API.
//!
//! Logs go to stderr through `tracing`; `RUST_LOG` filters them
//! (`RUST_LOG=debug switchboard parse msg.sip`).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

pub use store::StoreArgs;

mod admin_client;
mod calls;
mod cdr;
mod parse;
mod plan;
mod render;
mod route;
mod serve;
mod store;
mod tokens;
mod ua;
mod users;

/// Exit code when a message does not parse (or cannot be read).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of invalid configuration (and of command-line usage errors,
/// as clap reports them).
pub const EXIT_UNAVAILABLE: u8 = 2;

/// Switchboard: a SIP registrar, proxy and user agent in one binary.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse SIP message bytes and show what a server sees in them.
    ///
    /// Prints the start line, the Request-URI, the hot headers (top Via,
    /// From/To tags, Call-ID, CSeq, Max-Forwards, Content-Length), every
    /// header line, the body and the answer a server would give. Exits with
    /// 1 and `error: ... at byte N` on stderr when the bytes do not parse.
    Parse {
        /// File holding the message bytes, or `-` for standard input.
        file: PathBuf,
        /// Treat the bytes as a TCP/TLS stream: cut them into messages by
        /// Content-Length (RFC 3261 §18.3) and parse each one. Without this
        /// flag the bytes are one UDP datagram.
        #[arg(long)]
        stream: bool,
        /// Largest message the stream framer accepts, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = 65_535)]
        max_size: usize,
    },
    /// Run the SIP server: the registrar, with digest authentication.
    ///
    /// With no options: UDP and TCP on 0.0.0.0:5060 and [::]:5060, the domains
    /// `localhost`, `127.0.0.1` and this host's addresses, data under
    /// `./switchboard-data`. Flags override the `--config` file.
    Serve(ServeArgs),
    /// Manage the users (only HA1 values are stored).
    User {
        /// What to do.
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the current registrations: AOR, contact, seconds left, q and
    /// the flow the REGISTER came from, one per line.
    Registrations {
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// Print the call detail records, oldest first: CSV with a header
    /// line, or one JSON object per line.
    Cdr {
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
        /// Calls that started at or after this time: Unix seconds, RFC 3339
        /// (2026-12-06T06:50:00Z) or a day (2026-12-06, UTC).
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
        since: Option<u64>,
        /// Calls that started before this time (the same forms).
        #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
        until: Option<u64>,
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: CdrFormat,
    },
    /// Register an address of record and keep it registered until
    /// SIGINT/SIGTERM; then unregister.
    Register(RegisterArgs),
    /// Call someone: progress lines (trying, ringing, answered, ended),
    /// audio from `--play`, what is heard into `--record`.
    Call(CallArgs),
    /// Register (with `--password`) and answer incoming calls.
    Answer(AnswerArgs),
    /// Send an instant message (MESSAGE, RFC 3428).
    Message(MessageArgs),
    /// Subscribe to someone's presence, call state (dialog, the busy-lamp
    /// field) or registrations (reg) and print one line per NOTIFY, until
    /// SIGINT/SIGTERM, `--count` or `--duration`; then unsubscribe.
    Subscribe(SubscribeArgs),
    /// Publish our presence (PUBLISH, RFC 3903) and keep it refreshed
    /// until SIGINT/SIGTERM or `--duration`; then remove it.
    Publish(PublishArgs),
    /// The dial plan: dry runs, its own tests, reload of a running server.
    Route {
        /// What to do.
        #[command(subcommand)]
        command: RouteCommand,
    },
    /// Manage the admin API's bearer tokens (only their SHA-256 is stored).
    Token {
        /// What to do.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The running server's version, uptime, listeners, limits and counts,
    /// through its admin API.
    Status(AdminArgs),
    /// The trunks' state (gateway health, registration at the provider),
    /// through the admin API.
    Trunks(AdminArgs),
    /// The calls in progress, one per line (Call-ID, state, duration,
    /// caller and callee with their devices, rule and trunk), or hang one
    /// up; through the admin API.
    #[command(args_conflicts_with_subcommands = true)]
    Calls {
        /// Where the API is.
        #[command(flatten)]
        admin: AdminArgs,
        /// What to do instead of listing.
        #[command(subcommand)]
        command: Option<CallsCommand>,
    },
}

/// The `calls` subcommands.
#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// End a call in progress: the server sends a BYE to both parties of
    /// an answered call, or cancels a ringing one (the caller gets 487).
    Hangup {
        /// The call's Call-ID (as `switchboard calls` shows it).
        call_id: String,
        /// Where the API is.
        #[command(flatten)]
        admin: AdminArgs,
    },
}

/// The `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (once: only its hash is kept).
    Create {
        /// The token's name (`ci`, `dashboard`).
        name: String,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// List the tokens: name and creation time (Unix seconds).
    List {
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// Remove a token (a running server stops taking it within seconds).
    Remove {
        /// The token's name.
        name: String,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
}

/// How the API commands reach the server.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// The admin API's URL (plain HTTP on loopback).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8089")]
    pub admin: String,
    /// The bearer token (default: the `SWITCHBOARD_TOKEN` environment
    /// variable, which other users cannot see in the process list).
    /// Base64url: it may start with `-`.
    #[arg(long, value_name = "TOKEN", allow_hyphen_values = true)]
    pub token: Option<String>,
}

/// The `route` subcommands. Each reads the same `--config` file as
/// `serve` (domains and plan).
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Decide one call as the server would and print every step: the
    /// rules tried and why they matched or not, rewrites, the target and
    /// the failover list. Exit 1 when the call would be refused, 2 when
    /// the plan does not load.
    Test {
        /// The configuration file (with the plan, or naming its file).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The caller (`sip:alice@example.com`): a local user when its
        /// domain is served.
        #[arg(long, value_name = "URI")]
        from: String,
        /// The dialled number or user (or a whole SIP URI).
        #[arg(long, value_name = "NUMBER")]
        to: String,
        /// The caller's address (sites, trunks' networks).
        #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
        source: std::net::IpAddr,
        /// The transport the call comes over.
        #[arg(long, value_name = "T", default_value = "udp")]
        transport: String,
        /// When: `2026-12-07T10:00:00` (the plan's time zone) or with an
        /// offset; default now.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// The call comes from this trunk.
        #[arg(long, value_name = "NAME")]
        trunk: Option<String>,
    },
    /// Load a plan and run the `[[test]]` cases written in it: one line
    /// per case; exit 1 when one fails, 2 when the plan does not load.
    Check {
        /// The configuration or plan file (default: `--config`).
        file: Option<PathBuf>,
        /// The configuration file (domains, and the plan unless FILE).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check a plan and tell the running server to load it (SIGHUP to the
    /// pid in its data directory). A plan that does not load is not sent.
    Reload {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The server's data directory (default: the configuration's).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
}

/// Options of `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// A TOML file with the same settings and more (`listen`, `domains`,
    /// `data`, `tls_cert`, `tls_key`, `admin`, `[registrar]`, `[protection]`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A listener, `SCHEME:IP:PORT` with SCHEME udp, tcp, tls, ws or wss
    /// (repeatable; replaces the default listeners).
    #[arg(long, value_name = "SCHEME:IP:PORT")]
    pub listen: Vec<String>,
    /// A domain served, also the digest realm (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Vec<String>,
    /// The data directory (default `./switchboard-data`).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// The store in PostgreSQL: `postgres://USER:PASSWORD@HOST:PORT/NAME`
    /// (default: SQLite in the data directory; also `[store] url`).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// TLS certificate chain (PEM) for tls and wss listeners.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// The admin HTTP API: `IP:PORT` (default 127.0.0.1:8089) or `off`.
    /// Beyond loopback it is HTTPS with the TLS certificate, which it then
    /// requires.
    #[arg(long, value_name = "IP:PORT|off")]
    pub admin: Option<String>,
}

/// The `user` subcommands. Without `--domain`, they work on the server's
/// default domains (`localhost`, `127.0.0.1` and this host's address).
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user.
    Add {
        /// The user name.
        name: String,
        /// The password (only its HA1 values are stored).
        #[arg(long)]
        password: String,
        /// The domain (repeatable).
        #[arg(long, value_name = "DOMAIN")]
        domain: Vec<String>,
        /// A caller group kept with the user, on top of the dial plan's
        /// `[groups]` (repeatable).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// Replace the caller groups kept with a user (in every domain, or
    /// those named): `staff,sales`, or `""` for none.
    Groups {
        /// The user name.
        name: String,
        /// The groups, `,` between.
        groups: String,
        /// The domain (repeatable).
        #[arg(long, value_name = "DOMAIN")]
        domain: Vec<String>,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// Add or update users from a CSV file: `name,password` per line.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The domain (repeatable).
        #[arg(long, value_name = "DOMAIN")]
        domain: Vec<String>,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// List the users, `name@domain` per line (a tab and the stored
    /// groups after it, `staff,sales`, when the user has any).
    List {
        /// Only this domain.
        #[arg(long, value_name = "DOMAIN")]
        domain: Option<String>,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// Remove a user (from every domain, or those named).
    Remove {
        /// The user name.
        name: String,
        /// The domain (repeatable).
        #[arg(long, value_name = "DOMAIN")]
        domain: Vec<String>,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
    /// Change a user's password (in every domain, or those named).
    Passwd {
        /// The user name.
        name: String,
        /// The new password.
        #[arg(long)]
        password: String,
        /// The domain (repeatable).
        #[arg(long, value_name = "DOMAIN")]
        domain: Vec<String>,
        /// Where the store is (`--data`, `--database`).
        #[command(flatten)]
        data: StoreArgs,
    },
}

// ----- the user agent commands' options -----

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

/// Presence options of `register` and `answer`: publish a status while
/// registered.
#[derive(Debug, Clone, clap::Args)]
pub struct PresenceArgs {
    /// Publish this presence status once registered (`open`, `closed`,
    /// `away`, or another RPID activity such as `busy`); removed on exit.
    #[arg(long, value_name = "STATUS", value_parser = parse_status)]
    pub publish: Option<String>,
    /// The note published with `--publish`.
    #[arg(long, value_name = "TEXT", requires = "publish")]
    pub note: Option<String>,
}

/// A presence status: `open`, `closed` or an RPID activity (letters and
/// dashes).
fn parse_status(s: &str) -> Result<String, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        Ok(s.to_owned())
    } else {
        Err(
            "a status is open, closed, away or another RPID activity (busy, on-the-phone, ...)"
                .into(),
        )
    }
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
    /// Presence options.
    #[command(flatten)]
    pub presence: PresenceArgs,
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
    /// Presence options (published once registered).
    #[command(flatten)]
    pub presence: PresenceArgs,
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

/// The event packages `subscribe` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventArg {
    /// Presence (RFC 3856): open/closed, activity, note.
    Presence,
    /// Call state (RFC 4235, the busy-lamp field).
    Dialog,
    /// Registrations (RFC 3680).
    Reg,
}

impl EventArg {
    /// The package name on the wire.
    pub fn package(self) -> &'static str {
        match self {
            Self::Presence => "presence",
            Self::Dialog => "dialog",
            Self::Reg => "reg",
        }
    }
}

/// `switchboard subscribe`.
#[derive(Debug, Clone, clap::Args)]
pub struct SubscribeArgs {
    /// Whom to watch, `sip:bob@HOST`.
    pub target: String,
    /// The event package.
    #[arg(long, value_enum, default_value_t = EventArg::Presence)]
    pub event: EventArg,
    /// Seconds asked for (refreshed before they run out).
    #[arg(long, default_value_t = 600)]
    pub expires: u32,
    /// Unsubscribe and exit after this many NOTIFYs.
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,
    /// Unsubscribe and exit after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Who we are, `sip:alice@HOST` (the watcher; with `--password` it
    /// authenticates).
    #[arg(long = "as", value_name = "URI")]
    pub identity: Option<String>,
    /// Shared options.
    #[command(flatten)]
    pub ua: UaArgs,
}

/// `switchboard publish`.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// Whose presence, `sip:alice@HOST` (our address of record).
    pub aor: String,
    /// The status: `open`, `closed`, `away`, or another RPID activity
    /// (`busy`, `on-the-phone`, ...) of an open status.
    #[arg(long, value_parser = parse_status, default_value = "open")]
    pub status: String,
    /// A note for the watchers.
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,
    /// Seconds asked for (refreshed before they run out).
    #[arg(long, default_value_t = 3600)]
    pub expires: u32,
    /// Remove the publication and exit after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Shared options.
    #[command(flatten)]
    pub ua: UaArgs,
}

/// What can make a command fail before it has anything to report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file (`-` for standard input).
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The output could not be written.
    #[error("cannot write output: {0}")]
    Write(#[from] io::Error),
    /// The store failed.
    #[error("{what}: {source}")]
    Store {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: switchboard_store::StoreError,
    },
    /// Input that cannot be used (a bad line in a CSV file).
    #[error("{0}")]
    Invalid(String),
    /// The async runtime could not be started.
    #[error("cannot start the runtime: {0}")]
    Runtime(io::Error),
}

impl Error {
    /// True when the reader of the output went away (`switchboard parse f |
    /// head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// How `switchboard cdr` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CdrFormat {
    /// A header line, then one line per call.
    Csv,
    /// One JSON object per line.
    Json,
}

/// A `--since` / `--until` value in Unix milliseconds.
fn parse_time_arg(text: &str) -> Result<u64, String> {
    switchboard_admin::parse_time(text).ok_or_else(|| {
        format!(
            "{text:?}: Unix seconds, an RFC 3339 time (2026-12-06T06:50:00Z) or a day (2026-12-06)"
        )
    })
}

/// Parses the command line, sets up logging and runs the command.
///
/// `--help`, `--version` and usage errors are handled by clap, which exits
/// by itself (0 for help and version, 2 for usage errors).
pub fn run() -> Result<ExitCode, Error> {
    let cli = Cli::parse();
    // The data commands print their results; the store's own notes (a
    // database opened) would only be noise next to them.
    let quiet = matches!(
        cli.command,
        Command::User { .. }
            | Command::Registrations { .. }
            | Command::Cdr { .. }
            | Command::Token { .. }
            | Command::Status(_)
            | Command::Trunks(_)
            | Command::Calls { .. }
    );
    init_logging(if quiet { "warn" } else { "info" });
    let stdout = io::stdout();
    // Standard error is not locked for the whole command: `serve` logs to
    // it from several threads while it runs.
    execute(cli.command, &mut stdout.lock(), &mut io::stderr())
}

/// Runs one command, writing its report to `out` and its diagnostics to
/// `err`.
pub fn execute(
    command: Command,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    match command {
        Command::Parse {
            file,
            stream,
            max_size,
        } => {
            let input = parse::read_input(&file)?;
            if stream {
                parse::stream(&input, max_size, out, err)
            } else {
                parse::datagram(&input, out, err)
            }
        }
        Command::Serve(args) => {
            let flags = switchboard_config::Flags {
                config: args.config,
                listen: args.listen,
                domains: args.domain,
                data: args.data,
                database: args.database,
                tls_cert: args.tls_cert,
                tls_key: args.tls_key,
                admin: args.admin,
            };
            serve::serve(&flags, err)
        }
        Command::User { command } => match command {
            UserCommand::Add {
                name,
                password,
                domain,
                groups,
                data,
            } => users::add(&data, &name, &password, &domain, &groups, out),
            UserCommand::Groups {
                name,
                groups,
                domain,
                data,
            } => users::groups(&data, &name, &groups, &domain, out, err),
            UserCommand::Import { file, domain, data } => users::import(&data, &file, &domain, out),
            UserCommand::List { domain, data } => users::list(&data, domain.as_deref(), out),
            UserCommand::Remove { name, domain, data } => {
                users::remove(&data, &name, &domain, out, err)
            }
            UserCommand::Passwd {
                name,
                password,
                domain,
                data,
            } => users::passwd(&data, &name, &password, &domain, out, err),
        },
        Command::Registrations { data } => users::registrations(&data, out),
        Command::Cdr {
            data,
            since,
            until,
            format,
        } => cdr::cdr(&data, since, until, format, out),
        Command::Register(args) => ua::register(args, out, err),
        Command::Call(args) => ua::call(args, out, err),
        Command::Answer(args) => ua::answer(args, out, err),
        Command::Message(args) => ua::message(args, out, err),
        Command::Subscribe(args) => ua::subscribe(args, out, err),
        Command::Publish(args) => ua::publish(args, out, err),
        Command::Route { command } => match command {
            RouteCommand::Test {
                config,
                from,
                to,
                source,
                transport,
                at,
                trunk,
            } => {
                let call = route::TestCall {
                    from,
                    to,
                    source,
                    transport,
                    at,
                    trunk,
                };
                route::test(config.as_deref(), &call, out, err)
            }
            RouteCommand::Check { file, config } => {
                route::check(config.as_deref(), file.as_deref(), out, err)
            }
            RouteCommand::Reload { config, data } => {
                route::reload(config.as_deref(), data, out, err)
            }
        },
        Command::Token { command } => match command {
            TokenCommand::Create { name, data } => tokens::create(&data, &name, out, err),
            TokenCommand::List { data } => tokens::list(&data, out),
            TokenCommand::Remove { name, data } => tokens::remove(&data, &name, out, err),
        },
        Command::Status(args) => admin_client::status(&args.admin, args.token, out, err),
        Command::Trunks(args) => admin_client::trunks(&args.admin, args.token, out, err),
        Command::Calls {
            admin,
            command: None,
        } => calls::list(&admin.admin, admin.token, out, err),
        Command::Calls {
            command: Some(CallsCommand::Hangup { call_id, admin }),
            ..
        } => calls::hang_up(&admin.admin, admin.token, &call_id, out, err),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `default`).
fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second initialisation (tests calling `run` twice) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        // Colours only on a terminal: logs piped to a file stay plain text.
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_token_may_start_with_a_hyphen() {
        // One token in 64 does (base64url); clap took it for a flag.
        let cli = Cli::try_parse_from(["switchboard", "status", "--token", "-K3x_9"]);
        assert!(
            matches!(cli, Ok(Cli { command: Command::Status(AdminArgs { token: Some(ref t), .. }) }) if t == "-K3x_9"),
            "{cli:?}"
        );
    }
}
