//! Tiny SIP peers built on the Switchboard endpoint, used to test the
//! transaction layer and transports against SIPp: a UAS that answers calls
//! and a UAC that places them. They are test tools, not products.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Duration;

use switchboard_core::Transport;
use switchboard_net::Listen;

/// Parses `udp:127.0.0.1:5060` (also tcp, tls, ws, wss).
pub fn parse_listen(s: &str) -> Result<Listen, String> {
    let (scheme, addr) = s
        .split_once(':')
        .ok_or_else(|| format!("{s}: expected TRANSPORT:IP:PORT"))?;
    let transport =
        Transport::from_token(scheme).ok_or_else(|| format!("{s}: unknown transport {scheme}"))?;
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{s}: {e}"))?;
    Ok(Listen::new(transport, addr))
}

/// The value after `--name` in `args`, if any.
pub fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Every value after each `--name` in `args`.
pub fn args_all<'a>(args: &'a [String], name: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|w| w.first().is_some_and(|a| a == name))
        .filter_map(|w| w.get(1).map(String::as_str))
        .collect()
}

/// RFC 3261 §13.3.1.4 / §17.1.1.2 intervals: T1 doubling up to T2.
pub fn next_interval(current: Duration) -> Duration {
    (current * 2).min(Duration::from_secs(4))
}

/// Logs to stderr with `RUST_LOG` (default warn).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
