//! `switchboard status` and `switchboard trunks`: the running server's
//! state through its admin API (and the requests of `switchboard calls`).
//!
//! The client is a minimal HTTP/1.1 request on a std `TcpStream`, loopback
//! only: the API is plain HTTP only on loopback (beyond it, it is HTTPS),
//! and the binary needs no HTTP client stack (hyper's client would add a
//! second connection pool and its features for two GETs).

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use switchboard_admin::{Problem, Status, Trunk, TrunkRegistration};

use crate::serve::unix_now;
use crate::{EXIT_FAILURE, EXIT_UNAVAILABLE, Error};

/// The environment variable holding the token when `--token` is not given.
pub(crate) const TOKEN_ENV: &str = "SWITCHBOARD_TOKEN";

/// How long a request may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read (the registrations of a big server stay far below).
const MAX_ANSWER: u64 = 64 << 20;

/// Where the API is and the token to show it.
#[derive(Debug)]
pub(crate) struct ApiTarget {
    addr: SocketAddr,
    host: String,
    token: String,
}

/// Why a request to the API failed: the operator's input, the network, or
/// the server's answer.
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("{0}")]
    Usage(String),
    #[error("no admin API at {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the admin API at {addr} did not answer: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the admin API's answer is not HTTP/1.1 as expected: {0}")]
    Malformed(&'static str),
    #[error("{}: {} ({})", .0.title, .0.detail, .0.status)]
    Refused(Problem),
    #[error("the admin API answered {status} without a problem document")]
    Status { status: u16 },
    #[error("the admin API's JSON does not read: {0}")]
    Json(#[from] serde_json::Error),
}

impl ApiTarget {
    /// `url` (`http://127.0.0.1:8089`) and the token (`--token`, else
    /// [`TOKEN_ENV`]).
    fn new(url: &str, token: Option<String>) -> Result<Self, ApiError> {
        let token = token
            .or_else(|| std::env::var(TOKEN_ENV).ok())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Usage(format!(
                    "a token is needed: --token or {TOKEN_ENV} (switchboard token create NAME)"
                ))
            })?;
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            ApiError::Usage(format!(
                "--admin {url}: this client speaks plain HTTP to a loopback address only (http://127.0.0.1:PORT)"
            ))
        })?;
        let host = rest.split('/').next().unwrap_or_default();
        let addr = parse_host_port(host).ok_or_else(|| {
            ApiError::Usage(format!(
                "--admin {url}: the address must be a loopback IP and a port (http://127.0.0.1:8089)"
            ))
        })?;
        if !addr.ip().is_loopback() {
            return Err(ApiError::Usage(format!(
                "--admin {url}: beyond loopback the API is HTTPS, which this client does not speak"
            )));
        }
        Ok(Self {
            addr,
            host: host.to_owned(),
            token,
        })
    }

    /// `method path` and its JSON, or the problem the API answered.
    fn request<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
    ) -> Result<T, ApiError> {
        let io = |source| ApiError::Io {
            addr: self.addr,
            source,
        };
        let mut stream = TcpStream::connect_timeout(&self.addr, TIMEOUT).map_err(|source| {
            ApiError::Connect {
                addr: self.addr,
                source,
            }
        })?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
            self.host, self.token
        );
        stream.write_all(request.as_bytes()).map_err(io)?;
        let mut answer = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .map_err(io)?;
        let (status, body) = split_answer(&answer)?;
        if (200..300).contains(&status) {
            return Ok(serde_json::from_slice(&body)?);
        }
        match serde_json::from_slice::<Problem>(&body) {
            Ok(problem) => Err(ApiError::Refused(problem)),
            Err(_) => Err(ApiError::Status { status }),
        }
    }
}

/// `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`.
fn parse_host_port(text: &str) -> Option<SocketAddr> {
    if let Ok(addr) = text.parse() {
        return Some(addr);
    }
    let (host, port) = text.rsplit_once(':')?;
    let ip: IpAddr = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::from([127, 0, 0, 1])
    } else {
        return None;
    };
    Some(SocketAddr::new(ip, port.parse().ok()?))
}

/// The status code and the body (de-chunked) of an HTTP/1.1 answer read
/// to the end of the connection.
fn split_answer(answer: &[u8]) -> Result<(u16, Vec<u8>), ApiError> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(ApiError::Malformed("no end of headers"))?;
    let head = std::str::from_utf8(answer.get(..end).unwrap_or_default())
        .map_err(|_| ApiError::Malformed("headers are not text"))?;
    let body = answer.get(end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or(ApiError::Malformed("no HTTP/1.1 status line"))?;
    let chunked = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.trim().eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

/// A chunked body (RFC 9112 §7.1) put together.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, ApiError> {
    const BAD: ApiError = ApiError::Malformed("bad chunked body");
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or(BAD)?;
        let size_text =
            std::str::from_utf8(rest.get(..line_end).unwrap_or_default()).map_err(|_| BAD)?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| BAD)?;
        if size == 0 {
            return Ok(body);
        }
        let start = line_end + 2;
        let chunk = rest.get(start..start.saturating_add(size)).ok_or(BAD)?;
        body.extend_from_slice(chunk);
        rest = rest.get(start + size + 2..).ok_or(BAD)?;
    }
}

/// `GET path` printed with `print`: usage errors exit 2, refusals and
/// network failures 1, each with one line on `err`.
fn show<T: serde::de::DeserializeOwned>(
    url: &str,
    token: Option<String>,
    path: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
    print: impl FnOnce(&T, &mut dyn Write) -> std::io::Result<()>,
) -> Result<ExitCode, Error> {
    call(url, token, ("GET", path), out, err, print)
}

/// `method path` (`request`) printed with `print`, as [`show`].
pub(crate) fn call<T: serde::de::DeserializeOwned>(
    url: &str,
    token: Option<String>,
    (method, path): (&str, &str),
    out: &mut dyn Write,
    err: &mut dyn Write,
    print: impl FnOnce(&T, &mut dyn Write) -> std::io::Result<()>,
) -> Result<ExitCode, Error> {
    match ApiTarget::new(url, token).and_then(|api| api.request::<T>(method, path)) {
        Ok(value) => {
            print(&value, out)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            let code = match e {
                ApiError::Usage(_) => EXIT_UNAVAILABLE,
                _ => EXIT_FAILURE,
            };
            Ok(ExitCode::from(code))
        }
    }
}

/// `switchboard status`.
pub(crate) fn status(
    url: &str,
    token: Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    show(url, token, "/api/v1/status", out, err, print_status)
}

fn print_status(s: &Status, out: &mut dyn Write) -> std::io::Result<()> {
    let up = s.uptime_seconds;
    writeln!(
        out,
        "switchboard {}, up {}h {:02}m {:02}s",
        s.version,
        up / 3600,
        up / 60 % 60,
        up % 60
    )?;
    let listeners: Vec<String> = s
        .listeners
        .iter()
        .map(|l| format!("{} {}", l.transport, l.address))
        .collect();
    writeln!(out, "listening: {}", listeners.join(", "))?;
    writeln!(out, "domains: {}", s.domains.join(", "))?;
    let c = &s.counts;
    writeln!(
        out,
        "registrations: {} ({} users registered of {})",
        c.registrations, c.registered_users, c.users
    )?;
    writeln!(out, "calls: {}", c.calls)?;
    writeln!(out, "subscriptions: {}", c.subscriptions)?;
    writeln!(out, "transactions: {}", c.transactions)?;
    let l = &s.limits;
    writeln!(
        out,
        "limits: {} transactions, {} bindings, {} contacts per user, registrations {}..{} s",
        l.max_transactions, l.max_bindings, l.max_contacts_per_aor, l.min_expires, l.max_expires
    )?;
    if let Some(cluster) = &s.cluster {
        writeln!(out, "cluster: this node is {}", cluster.node)?;
        for n in &cluster.nodes {
            writeln!(
                out,
                "  node {} at {}: {}, last heartbeat {}",
                n.name,
                n.sip_uri,
                if n.alive { "alive" } else { "DEAD" },
                unix_time(n.heartbeat_ms / 1000)
            )?;
        }
    }
    for c in &s.certificates {
        let state = if c.days_left < 0 {
            format!("EXPIRED {} days ago", -c.days_left)
        } else {
            format!("{} days left", c.days_left)
        };
        writeln!(
            out,
            "certificate: {} ({}), not after {} ({state})",
            c.path,
            c.subject,
            unix_time(c.not_after)
        )?;
    }
    Ok(())
}

/// Unix seconds as an RFC 3339 time in UTC (the number itself when out of
/// range).
fn unix_time(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(|| seconds.to_string(), |t| t.to_string())
}

/// `switchboard trunks`.
pub(crate) fn trunks(
    url: &str,
    token: Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<ExitCode, Error> {
    show(
        url,
        token,
        "/api/v1/trunks",
        out,
        err,
        |t: &Vec<Trunk>, out| print_trunks(t, unix_now(), out),
    )
}

fn print_trunks(trunks: &[Trunk], now: u64, out: &mut dyn Write) -> std::io::Result<()> {
    if trunks.is_empty() {
        return writeln!(out, "no trunks in the plan");
    }
    for trunk in trunks {
        let registration = match trunk.registration {
            TrunkRegistration::Off => "not registering".to_owned(),
            TrunkRegistration::Registering => "registering".to_owned(),
            TrunkRegistration::Registered { until } => {
                format!("registered, {} s left", until.saturating_sub(now))
            }
            TrunkRegistration::Failed { status, retry_at } => format!(
                "registration failed ({}), next try in {} s",
                status.map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
                retry_at.saturating_sub(now)
            ),
        };
        writeln!(out, "{}: {registration}", trunk.name)?;
        for g in &trunk.gateways {
            let probing = if g.probed { "probed" } else { "not probed" };
            let since = g
                .changed_at
                .map(|t| format!(", for {} s", now.saturating_sub(t)))
                .unwrap_or_default();
            writeln!(
                out,
                "  {} {} ({probing}, {} ok / {} failed in a row{since})",
                g.uri, g.health, g.successes, g.failures
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a failure is the report

    use super::*;
    use switchboard_admin::{Certificate, Counts, Gateway, Limits, Listener};

    /// A status with these certificates and nothing else of note.
    fn status_of(certificates: Vec<Certificate>) -> Status {
        Status {
            version: "0.1.0".into(),
            uptime_seconds: 1,
            listeners: Vec::new(),
            domains: Vec::new(),
            limits: Limits {
                max_transactions: 1,
                max_bindings: 2,
                max_contacts_per_aor: 3,
                min_expires: 60,
                max_expires: 3600,
            },
            counts: Counts::default(),
            certificates,
            cluster: None,
        }
    }

    #[test]
    fn status_prints_each_certificate_and_its_days_left() {
        let certificate = |path: &str, days_left| Certificate {
            path: path.into(),
            subject: "CN=sip.example.com".into(),
            not_after: 1_767_225_600,
            days_left,
        };
        let mut status = status_of(vec![
            certificate("/etc/a.pem", 25),
            certificate("/etc/b.pem", -2),
        ]);
        status.uptime_seconds = 3725;
        status.listeners = vec![Listener {
            transport: "tls".into(),
            address: "127.0.0.1:5061".into(),
        }];
        status.domains = vec!["example.com".into()];
        let mut out = Vec::new();
        print_status(&status, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("switchboard 0.1.0, up 1h 02m 05s\n"),
            "{text}"
        );
        assert!(
            text.contains("certificate: /etc/a.pem (CN=sip.example.com), not after 2026-01-01T00:00:00Z (25 days left)\n"),
            "{text}"
        );
        assert!(text.contains("/etc/b.pem (CN=sip.example.com), not after 2026-01-01T00:00:00Z (EXPIRED 2 days ago)"), "{text}");
    }

    #[test]
    fn status_prints_the_cluster_nodes_alive_or_dead() {
        let node = |name: &str, alive| switchboard_admin::ClusterNode {
            name: name.into(),
            sip_uri: format!("sip:10.0.0.{}:5060", name.len()),
            admin_url: None,
            started_ms: 1_767_225_600_000,
            heartbeat_ms: 1_767_225_600_000,
            alive,
        };
        let mut status = status_of(Vec::new());
        status.cluster = Some(switchboard_admin::ClusterStatus {
            node: "a".into(),
            nodes: vec![node("a", true), node("bb", false)],
        });
        let mut out = Vec::new();
        print_status(&status, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("cluster: this node is a\n"), "{text}");
        assert!(
            text.contains(
                "  node a at sip:10.0.0.1:5060: alive, last heartbeat 2026-01-01T00:00:00Z\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  node bb at sip:10.0.0.2:5060: DEAD,"),
            "{text}"
        );
    }

    #[test]
    fn answers_are_split_and_dechunked() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n[]";
        assert_eq!(split_answer(plain).unwrap(), (200, b"[]".to_vec()));
        let chunked =
            b"HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n2;x=y\r\n\":\r\n1\r\n1\r\n1\r\n}\r\n0\r\n\r\n";
        assert_eq!(split_answer(chunked).unwrap(), (401, b"{\"a\":1}".to_vec()));
        assert!(split_answer(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(split_answer(b"SIP/2.0 200 OK\r\n\r\n").is_err());
        let truncated = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nff\r\nab";
        assert!(split_answer(truncated).is_err());
    }

    #[test]
    fn only_loopback_http_urls_with_a_token_are_taken() {
        let token = || Some("t".to_owned());
        let api = ApiTarget::new("http://127.0.0.1:8089", token()).unwrap();
        assert_eq!(api.addr, "127.0.0.1:8089".parse().unwrap());
        let api = ApiTarget::new("http://localhost:9/", token()).unwrap();
        assert_eq!(api.addr, "127.0.0.1:9".parse().unwrap());
        assert!(ApiTarget::new("http://[::1]:8089", token()).is_ok());
        for refused in [
            "https://127.0.0.1:8089",
            "http://192.0.2.1:8089",
            "http://example.com:8089",
            "127.0.0.1:8089",
        ] {
            assert!(
                matches!(ApiTarget::new(refused, token()), Err(ApiError::Usage(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn trunks_print_health_and_registration() {
        let trunk = Trunk {
            name: "carrier".into(),
            gateways: vec![Gateway {
                uri: "sip:gw1.example.net".into(),
                health: "down".into(),
                probed: true,
                successes: 0,
                failures: 3,
                changed_at: Some(940),
            }],
            registration: TrunkRegistration::Failed {
                status: Some(403),
                retry_at: 1060,
            },
        };
        let mut out = Vec::new();
        print_trunks(&[trunk], 1000, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "carrier: registration failed (403), next try in 60 s\n  sip:gw1.example.net down (probed, 0 ok / 3 failed in a row, for 60 s)\n"
        );
    }
}
