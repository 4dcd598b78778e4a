//! The server's settings: defaults, the TOML file (`--config`), and the
//! command-line flags, which override the file. Every invalid value is
//! reported as one [`ConfigError`] naming its key.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use switchboard_core::Transport;

/// Where data lives when neither `--data` nor the file says.
pub(crate) const DEFAULT_DATA: &str = "switchboard-data";

/// An invalid setting: the key and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: `{key}`: {message}")]
pub(crate) struct ConfigError {
    /// The key (`listen`, `registrar.min_expires`, ...).
    pub(crate) key: String,
    /// What is wrong.
    pub(crate) message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The TOML file. Unknown keys are errors (a typo must not be ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    /// `SCHEME:IP:PORT` listeners.
    pub(crate) listen: Option<Vec<String>>,
    /// The port of the default listeners (5060), when `listen` is not given.
    pub(crate) port: Option<u16>,
    /// Domains served (digest realms).
    pub(crate) domains: Option<Vec<String>>,
    /// Data directory.
    pub(crate) data: Option<PathBuf>,
    /// TLS certificate chain (PEM), for `tls` and `wss` listeners.
    pub(crate) tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub(crate) tls_key: Option<PathBuf>,
    /// Registrar settings.
    #[serde(default)]
    pub(crate) registrar: RegistrarSection,
    /// Protection settings.
    #[serde(default)]
    pub(crate) protection: ProtectionSection,
    /// Live SIP transactions allowed; beyond it new requests get 503.
    /// Over UDP a non-INVITE transaction lives 32 s after its answer (Timer
    /// J), about 1 KB each, so this bounds memory and the sustained
    /// request rate (a registration is two transactions: the default
    /// sustains about 1,500 registrations/s).
    pub(crate) max_transactions: Option<usize>,
    /// Digest authentication settings.
    #[serde(default)]
    pub(crate) auth: AuthSection,
    /// Proxy settings.
    #[serde(default)]
    pub(crate) proxy: ProxySection,
}

/// `[proxy]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxySection {
    /// `"proxy"` (forward, the default) or `"redirect"` (answer 302 with
    /// the registered contacts).
    pub(crate) mode: Option<String>,
    /// Insert Record-Route into dialog-creating requests (default true).
    pub(crate) record_route: Option<bool>,
    /// Timer C: seconds an INVITE branch may ring without a final response
    /// (default 181).
    pub(crate) timer_c: Option<u64>,
    /// Serial forking: seconds a group of contacts of equal q rings before
    /// the next (lower q) group is tried (default 20).
    pub(crate) group_timeout: Option<u64>,
    /// On a 3xx from a branch, try its contacts (default true) or return
    /// it.
    pub(crate) recurse_on_3xx: Option<bool>,
    /// Most branches one request forks into (default 16).
    pub(crate) max_branches: Option<usize>,
    /// Requests from other domains to local users are accepted without a
    /// challenge (default true); false: refused with 403.
    pub(crate) trust_foreign_callers: Option<bool>,
    /// Requests of local users for other domains go through this SIP URI
    /// (`sip:proxy.example.net:5060`) instead of RFC 3263 server location
    /// of their domain.
    pub(crate) outbound_proxy: Option<String>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthSection {
    /// Require the digest `uri` to name the Request-URI (default true).
    /// SIPp, unless given `-auth_uri`, answers with the server's
    /// `ip:port` instead.
    pub(crate) check_uri: Option<bool>,
    /// How long a nonce is accepted, in seconds.
    pub(crate) nonce_lifetime: Option<u64>,
    /// The challenges offered, in order (`"MD5"`, `"SHA-256"`,
    /// `"SHA-512-256"`). Default `["MD5", "SHA-256"]`: most clients know
    /// only MD5 and take the first challenge they support.
    pub(crate) algorithms: Option<Vec<String>>,
    /// User-Agent substrings of clients challenged with MD5 alone, because
    /// they give up when any challenge names an algorithm they lack
    /// (default `["baresip", "libre", "JsSIP", "SIP.js"]`: baresip 1.0 /
    /// libre 1.1, and the browser libraries, which read only the last
    /// challenge).
    pub(crate) md5_only_user_agents: Option<Vec<String>>,
}

/// `[registrar]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistrarSection {
    pub(crate) min_expires: Option<u32>,
    pub(crate) max_expires: Option<u32>,
    pub(crate) default_expires: Option<u32>,
    pub(crate) max_contacts_per_aor: Option<usize>,
    pub(crate) max_bindings: Option<usize>,
}

/// `[protection]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProtectionSection {
    /// Per-source rate limit on or off.
    pub(crate) rate_limit: Option<bool>,
    /// Requests per second per source.
    pub(crate) rate: Option<u32>,
    /// Burst per source.
    pub(crate) burst: Option<u32>,
    /// Lockout after failed authentications on or off.
    pub(crate) lockout: Option<bool>,
    /// Failures that lock a user.
    pub(crate) user_failures: Option<u32>,
    /// Failures that lock a source.
    pub(crate) source_failures: Option<u32>,
}

/// What the command line says (each overrides the file).
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags {
    pub(crate) config: Option<PathBuf>,
    pub(crate) listen: Vec<String>,
    pub(crate) domains: Vec<String>,
    pub(crate) data: Option<PathBuf>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
}

/// The settings the server runs with.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) listen: Vec<(Transport, SocketAddr)>,
    pub(crate) domains: Vec<String>,
    pub(crate) data: PathBuf,
    pub(crate) tls: Option<(PathBuf, PathBuf)>,
    pub(crate) registrar: RegistrarSection,
    pub(crate) protection: ProtectionSection,
    pub(crate) auth: AuthSection,
    pub(crate) proxy: ProxySection,
    pub(crate) max_transactions: Option<usize>,
}

/// Reads `path` as the TOML file.
pub(crate) fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
    })?;
    toml::from_str(&text).map_err(|e| {
        let key = e
            .span()
            .and_then(|span| key_at(&text, span.start))
            .unwrap_or_else(|| "(file)".to_owned());
        let message = format!(
            "{} (in {}{})",
            e.message().trim(),
            path.display(),
            e.span()
                .map(|s| format!(", line {}", line_of(&text, s.start)))
                .unwrap_or_default()
        );
        ConfigError::new(key, message)
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// The dotted key of the line holding byte `offset` (`[table]` + `key`).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let rest = text.get(line_start..)?;
    let line = rest.lines().next().unwrap_or_default();
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_owned());
    let key = line
        .split('=')
        .next()
        .map(str::trim)
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_owned()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// Parses `SCHEME:IP:PORT` (`udp:0.0.0.0:5060`, `tls:[::]:5061`).
pub(crate) fn parse_listen(key: &str, value: &str) -> Result<(Transport, SocketAddr), ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            key,
            format!(
                "{value:?}: {why} (expected SCHEME:IP:PORT, SCHEME one of udp, tcp, tls, ws, wss)"
            ),
        )
    };
    let (scheme, addr) = value.split_once(':').ok_or_else(|| bad("no scheme"))?;
    let transport = Transport::from_token(scheme).ok_or_else(|| bad("unknown scheme"))?;
    let addr: SocketAddr = addr.parse().map_err(|_| bad("not an IP:PORT"))?;
    Ok((transport, addr))
}

/// The host's own address towards the rest of the network (no packet is
/// sent: connecting a UDP socket only picks the route), if it has one.
pub(crate) fn primary_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect(("198.51.100.1", 9)).ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// The default domains: `localhost`, `127.0.0.1`, the listeners' IPs, and
/// the host's own address when a listener is on every address.
pub(crate) fn default_domains(listen: &[(Transport, SocketAddr)]) -> Vec<String> {
    let mut domains = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let mut push = |d: String| {
        if !domains.iter().any(|x| x.eq_ignore_ascii_case(&d)) {
            domains.push(d);
        }
    };
    let mut any_unspecified = false;
    for (_, addr) in listen {
        let ip = addr.ip();
        if ip.is_unspecified() {
            any_unspecified = true;
        } else if ip.is_ipv6() {
            push(format!("[{ip}]"));
        } else {
            push(ip.to_string());
        }
    }
    if let Some(ip) = primary_ip().filter(|_| any_unspecified) {
        push(match ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        });
    }
    domains
}

/// The listeners of a server started with no `--listen` and no file.
pub(crate) fn default_listeners() -> Vec<(Transport, SocketAddr)> {
    listeners_on(5060)
}

/// UDP and TCP on every IPv4 address at `port`, and on every IPv6 address
/// where the host has IPv6 (the runtime binds IPv6 sockets IPv6-only, so
/// both coexist).
fn listeners_on(port: u16) -> Vec<(Transport, SocketAddr)> {
    let mut any = vec![SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))];
    // A host without IPv6 cannot bind its loopback: no IPv6 listeners then.
    if UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)).is_ok() {
        any.push(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)));
    }
    any.into_iter()
        .flat_map(|a| [(Transport::Udp, a), (Transport::Tcp, a)])
        .collect()
}

fn check_domain(key: &str, d: &str) -> Result<(), ConfigError> {
    if d.is_empty()
        || d.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == ';')
    {
        return Err(ConfigError::new(
            key,
            format!("{d:?} is not a domain name or IP address"),
        ));
    }
    Ok(())
}

/// Merges defaults, the file and the flags, and checks the result.
pub(crate) fn resolve(flags: &Flags) -> Result<Settings, ConfigError> {
    let file = match &flags.config {
        Some(path) => read_file(path)?,
        None => FileConfig::default(),
    };
    let listen = if !flags.listen.is_empty() {
        flags
            .listen
            .iter()
            .map(|l| parse_listen("--listen", l))
            .collect::<Result<Vec<_>, _>>()?
    } else if let Some(list) = &file.listen {
        if list.is_empty() {
            return Err(ConfigError::new(
                "listen",
                "must name at least one listener",
            ));
        }
        list.iter()
            .map(|l| parse_listen("listen", l))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        listeners_on(file.port.unwrap_or(5060))
    };
    if file.port.is_some() && file.listen.is_some() {
        return Err(ConfigError::new(
            "port",
            "sets the port of the default listeners: give it in each `listen` entry instead",
        ));
    }
    let domains = if !flags.domains.is_empty() {
        for d in &flags.domains {
            check_domain("--domain", d)?;
        }
        flags.domains.clone()
    } else if let Some(list) = &file.domains {
        if list.is_empty() {
            return Err(ConfigError::new("domains", "must name at least one domain"));
        }
        for d in list {
            check_domain("domains", d)?;
        }
        list.clone()
    } else {
        default_domains(&listen)
    };
    let data = flags
        .data
        .clone()
        .or(file.data.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
    if data.as_os_str().is_empty() {
        return Err(ConfigError::new("data", "must not be empty"));
    }
    let (cert_key, cert) = match (&flags.tls_cert, &file.tls_cert) {
        (Some(c), _) => ("--tls-cert", Some(c.clone())),
        (None, c) => ("tls_cert", c.clone()),
    };
    let (key_key, key) = match (&flags.tls_key, &file.tls_key) {
        (Some(k), _) => ("--tls-key", Some(k.clone())),
        (None, k) => ("tls_key", k.clone()),
    };
    let needs_tls = listen.iter().any(|(t, _)| t.is_secure());
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) if needs_tls => {
            return Err(ConfigError::new(
                "tls_cert",
                "a tls or wss listener needs a certificate and key (--tls-cert and --tls-key, or tls_cert and tls_key in the file)",
            ));
        }
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                key_key,
                "missing: a certificate needs its key",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                cert_key,
                "missing: a key needs its certificate",
            ));
        }
    };
    let r = &file.registrar;
    if r.min_expires == Some(0) {
        return Err(ConfigError::new(
            "registrar.min_expires",
            "must be at least 1",
        ));
    }
    let (min, max) = (r.min_expires.unwrap_or(60), r.max_expires.unwrap_or(7200));
    if max < min {
        return Err(ConfigError::new(
            "registrar.max_expires",
            format!("{max} is below min_expires {min}"),
        ));
    }
    if r.max_contacts_per_aor == Some(0) {
        return Err(ConfigError::new(
            "registrar.max_contacts_per_aor",
            "must be at least 1",
        ));
    }
    let p = &file.protection;
    if p.rate == Some(0) {
        return Err(ConfigError::new(
            "protection.rate",
            "must be at least 1 (set rate_limit = false to turn limiting off)",
        ));
    }
    if p.burst == Some(0) {
        return Err(ConfigError::new("protection.burst", "must be at least 1"));
    }
    if file.auth.nonce_lifetime == Some(0) {
        return Err(ConfigError::new(
            "auth.nonce_lifetime",
            "must be at least 1",
        ));
    }
    if let Some(algs) = &file.auth.algorithms {
        let known = algs.iter().all(|a| {
            a.parse::<switchboard_proto::digest::Algorithm>()
                .is_ok_and(|alg| !alg.is_session())
        });
        if algs.is_empty() || !known {
            return Err(ConfigError::new(
                "auth.algorithms",
                "must list one or more of \"MD5\", \"SHA-256\", \"SHA-512-256\"",
            ));
        }
    }
    if file.max_transactions == Some(0) {
        return Err(ConfigError::new("max_transactions", "must be at least 1"));
    }
    check_proxy(&file.proxy)?;
    Ok(Settings {
        listen,
        domains,
        data,
        tls,
        registrar: file.registrar,
        protection: file.protection,
        auth: file.auth,
        proxy: file.proxy,
        max_transactions: file.max_transactions,
    })
}

fn check_proxy(p: &ProxySection) -> Result<(), ConfigError> {
    if let Some(mode) = &p.mode {
        if !matches!(mode.as_str(), "proxy" | "redirect") {
            return Err(ConfigError::new(
                "proxy.mode",
                format!("{mode:?}: must be \"proxy\" or \"redirect\""),
            ));
        }
    }
    if p.timer_c == Some(0) {
        return Err(ConfigError::new("proxy.timer_c", "must be at least 1"));
    }
    if p.group_timeout == Some(0) {
        return Err(ConfigError::new(
            "proxy.group_timeout",
            "must be at least 1",
        ));
    }
    if p.max_branches == Some(0) {
        return Err(ConfigError::new("proxy.max_branches", "must be at least 1"));
    }
    if let Some(uri) = &p.outbound_proxy {
        let sip = switchboard_proto::Uri::parse(uri)
            .ok()
            .is_some_and(|u| u.as_sip().is_some_and(|s| s.user.is_none()));
        if !sip {
            return Err(ConfigError::new(
                "proxy.outbound_proxy",
                format!("{uri:?}: must be a SIP URI without a user (sip:host[:port])"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn listen_strings() {
        let (t, a) = parse_listen("k", "tls:[::1]:5061").unwrap();
        assert_eq!((t, a.port()), (Transport::Tls, 5061));
        assert!(parse_listen("k", "sctp:1.2.3.4:5").is_err());
        assert!(parse_listen("k", "udp:nowhere").is_err());
    }

    #[test]
    fn key_of_a_toml_error() {
        let text = "data = \"x\"\n[protection]\nrate = \"fast\"\n";
        let offset = text.find("\"fast\"").unwrap();
        assert_eq!(key_at(text, offset).as_deref(), Some("protection.rate"));
    }

    #[test]
    fn max_transactions_key() {
        let path = std::env::temp_dir().join(format!(
            "switchboard-max-transactions-{}.toml",
            std::process::id()
        ));
        let resolve_with = |text: &str| {
            std::fs::write(&path, text).unwrap();
            resolve(&Flags {
                config: Some(path.clone()),
                listen: vec!["udp:127.0.0.1:5060".into()],
                domains: vec!["example.com".into()],
                ..Flags::default()
            })
        };
        let settings = resolve_with("max_transactions = 500000\n").unwrap();
        assert_eq!(settings.max_transactions, Some(500_000));
        assert_eq!(resolve_with("").unwrap().max_transactions, None);
        let error = resolve_with("max_transactions = 0\n").unwrap_err();
        assert_eq!(error.key, "max_transactions");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn port_key_moves_the_default_listeners() {
        let path =
            std::env::temp_dir().join(format!("switchboard-port-{}.toml", std::process::id()));
        let resolve_with = |text: &str| {
            std::fs::write(&path, text).unwrap();
            resolve(&Flags {
                config: Some(path.clone()),
                domains: vec!["example.com".into()],
                ..Flags::default()
            })
        };
        let listen = resolve_with("port = 5070\n").unwrap().listen;
        assert!(listen.contains(&(Transport::Udp, "0.0.0.0:5070".parse().unwrap())));
        assert!(listen.contains(&(Transport::Tcp, "0.0.0.0:5070".parse().unwrap())));
        assert!(
            listen
                .iter()
                .all(|(_, a)| a.port() == 5070 && a.ip().is_unspecified())
        );
        let error = resolve_with("port = 5070\nlisten = [\"udp:127.0.0.1:5060\"]\n").unwrap_err();
        assert_eq!(error.key, "port");
        let _ = std::fs::remove_file(&path);
    }
}
