//! A load generator for media relays: N concurrent streams, each 50
//! packets/s of 160-byte PCMU (20 ms) in both directions, through either
//! Switchboard (sessions set up with SIP: `--sip`) or rtpengine (sessions
//! set up with its ng protocol: `--ng`), for a fixed time; prints one line
//! with the packets sent and received, the loss, the relay's CPU over the
//! measured time (utime+stime of `--server-pid` from /proc) and its own.
//!
//! ```text
//! rtp-load (--sip IP:PORT [--domain D] [--user U] [--password P] | --ng IP:PORT)
//!          --server-pid PID [--streams 100] [--seconds 20] [--srtp]
//!          [--threads 2] [--warmup 1] [--label NAME]
//! ```
//!
//! With `--srtp` the caller speaks SDES-SRTP (AES_CM_128_HMAC_SHA1_80) and
//! the callee plain RTP: the relay decrypts one way and encrypts the
//! other. The caller's and callee's sockets are its own per stream, on
//! 127.0.0.1. Exit status 1 when the set-up failed.

mod error;
mod ng_calls;
mod pump;
mod sdp;
mod sip_calls;
mod stream;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use error::LoadError;
use ng_calls::NgCalls;
use sdp::MediaTarget;
use sip_calls::SipCalls;
use stream::Stream;
use switchboard_testpeers::arg;

/// Frames per second of a 20 ms ptime stream.
const FRAMES_PER_SECOND: u64 = 50;
/// Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on
/// Linux's every ABI).
const USER_HZ: f64 = 100.0;

/// How the sessions are set up.
enum Signalling {
    Sip(SipCalls),
    Ng(NgCalls),
}

impl Signalling {
    fn open(
        &mut self,
        index: u64,
        stream: &Stream,
    ) -> Result<(MediaTarget, MediaTarget), LoadError> {
        match self {
            Self::Sip(calls) => calls.open(index, stream),
            Self::Ng(calls) => calls.open(index, stream),
        }
    }

    fn close_all(&mut self) -> Result<(), LoadError> {
        match self {
            Self::Sip(calls) => calls.close_all(),
            Self::Ng(calls) => calls.close_all(),
        }
    }
}

/// The run's settings.
struct Options {
    signalling_to: SocketAddr,
    sip: bool,
    domain: String,
    user: String,
    password: String,
    server_pid: u32,
    streams: u64,
    seconds: u64,
    warmup: u64,
    srtp: bool,
    threads: usize,
    label: String,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(options) = options(&args) else {
        eprintln!(
            "usage: rtp-load (--sip IP:PORT [--domain D] [--user U] [--password P] | --ng IP:PORT) \
             --server-pid PID [--streams N] [--seconds S] [--srtp] [--threads T] [--warmup S] [--label NAME]"
        );
        return ExitCode::from(2);
    };
    match run(&options) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("rtp-load: {error}");
            ExitCode::FAILURE
        }
    }
}

fn options(args: &[String]) -> Option<Options> {
    let number = |name: &str, default: u64| -> Option<u64> {
        arg(args, name).map_or(Some(default), |v| v.parse().ok())
    };
    let text = |name: &str, default: &str| arg(args, name).unwrap_or(default).to_owned();
    let (signalling_to, sip) = match (arg(args, "--sip"), arg(args, "--ng")) {
        (Some(sip), None) => (sip.parse().ok()?, true),
        (None, Some(ng)) => (ng.parse().ok()?, false),
        _ => return None,
    };
    Some(Options {
        signalling_to,
        sip,
        domain: text("--domain", "127.0.0.1"),
        user: text("--user", "callee"),
        password: text("--password", "pw-callee"),
        server_pid: arg(args, "--server-pid")?.parse().ok()?,
        streams: number("--streams", 100)?.max(1),
        seconds: number("--seconds", 20)?.max(1),
        warmup: number("--warmup", 1)?,
        srtp: args.iter().any(|a| a == "--srtp"),
        threads: usize::try_from(number("--threads", 2)?).ok()?,
        label: text("--label", if sip { "switchboard" } else { "rtpengine" }),
    })
}

/// Sets the streams up, warms them up (latching), measures, hangs up.
fn run(o: &Options) -> Result<String, LoadError> {
    let setup_started = Instant::now();
    let mut signalling = if o.sip {
        Signalling::Sip(SipCalls::register(
            o.signalling_to,
            &o.domain,
            &o.user,
            &o.password,
        )?)
    } else {
        Signalling::Ng(NgCalls::connect(o.signalling_to)?)
    };
    let mut streams = Vec::new();
    for index in 0..o.streams {
        let mut stream = Stream::new(index, o.srtp)?;
        let (caller_side, callee_side) = signalling.open(index, &stream)?;
        stream.connect(&caller_side, &callee_side)?;
        streams.push(stream);
    }
    let setup = setup_started.elapsed();
    if o.warmup > 0 {
        streams = pump::run(streams, o.threads, o.warmup * FRAMES_PER_SECOND);
    }
    for stream in &mut streams {
        stream.caller.reset_counts();
        stream.callee.reset_counts();
    }

    let (server_before, own_before) =
        (cpu_seconds(o.server_pid)?, cpu_seconds(std::process::id())?);
    let started = Instant::now();
    let streams = pump::run(streams, o.threads, o.seconds * FRAMES_PER_SECOND);
    let wall = started.elapsed().as_secs_f64();
    let (server_cpu, own_cpu) = (
        cpu_seconds(o.server_pid)? - server_before,
        cpu_seconds(std::process::id())? - own_before,
    );
    signalling.close_all()?;

    let (mut sent, mut received, mut rejected) = (0_u64, 0_u64, 0_u64);
    for phone in streams.iter().flat_map(|s| [&s.caller, &s.callee]) {
        sent += phone.sent;
        received += phone.received;
        rejected += phone.rejected;
    }
    let loss_pct = if sent == 0 {
        100.0
    } else {
        100.0 * sent.saturating_sub(received) as f64 / sent as f64
    };
    // Rates over the sending time (the tail after it only waits for the
    // last packets; the server's CPU over it counts).
    let seconds = o.seconds as f64;
    let stream_seconds = o.streams as f64 * seconds;
    Ok(format!(
        "server={label} mode={mode} streams={streams} seconds={seconds} wall_s={wall:.2} sent={sent} received={received} \
         rejected={rejected} loss_pct={loss_pct:.3} relayed_pps={pps:.0} server_cpu_s={server_cpu:.2} \
         cpu_ms_per_stream_s={per_stream:.4} pkts_per_cpu_s={per_cpu:.0} gen_cpu_s={own_cpu:.2} setup_s={setup:.2}",
        label = o.label,
        mode = if o.srtp { "srtp-rtp" } else { "rtp-rtp" },
        streams = o.streams,
        pps = received as f64 / seconds,
        per_stream = server_cpu * 1000.0 / stream_seconds,
        per_cpu = if server_cpu > 0.0 {
            received as f64 / server_cpu
        } else {
            0.0
        },
        setup = setup.as_secs_f64(),
    ))
}

/// utime+stime of process `pid` (all its threads, live and ended), in
/// seconds.
fn cpu_seconds(pid: u32) -> Result<f64, LoadError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|_| LoadError::NoProcess(pid))?;
    // Fields after the command name, which may hold spaces: state is the
    // first, utime the 12th and stime the 13th.
    let after_name = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .ok_or(LoadError::NoProcess(pid))?;
    let ticks: f64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<f64>().ok())
        .sum();
    Ok(ticks / USER_HZ)
}
