//! The settings the server runs with: defaults, the file and the flags
//! merged, every value checked.

use std::net::SocketAddr;
use std::path::PathBuf;

use switchboard_core::Transport;

use crate::file::{
    AuthSection, FileConfig, MediaSection, MessagesSection, PresenceSection, ProtectionSection,
    ProxySection, RecordsSection, RegistrarSection,
};
use crate::listeners::{default_domains, listeners_on, parse_listen};
use crate::{ConfigError, Flags, Host};

/// Where data lives when neither `--data` nor the file says.
pub const DEFAULT_DATA: &str = "switchboard-data";

/// Live transactions before new requests get 503. Over UDP an answered
/// transaction lives 32 s (RFC 3261 Timers J and K), and a proxied call
/// keeps about three: 300,000 carries some 3,000 calls or 4,500
/// registrations a second, and bounds their memory to well under 1 GB.
pub const DEFAULT_MAX_TRANSACTIONS: usize = 300_000;

/// Where the admin API listens when neither `--admin` nor the file says:
/// loopback only (no TLS needed), on a port no SIP default uses.
pub const DEFAULT_ADMIN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8089);

/// UDP socket buffer size asked for when the file does not say: 4 MiB, as
/// SIPp asks for its own sockets.
pub const DEFAULT_UDP_BUFFER_BYTES: usize = 4 << 20;

/// The largest `udp_buffer_bytes` accepted (the kernel takes an `int`, and
/// doubles it).
/// `[proxy] session_expires` when not given, in seconds (RFC 4028's
/// recommended interval).
pub(crate) const DEFAULT_SESSION_EXPIRES: u32 = 1800;
/// `[proxy] min_se` when not given, in seconds (RFC 4028's floor).
pub(crate) const DEFAULT_MIN_SE: u32 = 90;

const MAX_UDP_BUFFER_BYTES: usize = 1 << 30;

/// The settings the server runs with.
#[derive(Debug)]
pub struct Settings {
    /// The runtime's listeners.
    pub listen: Vec<(Transport, SocketAddr)>,
    /// Domains served (digest realms).
    pub domains: Vec<String>,
    /// The data directory.
    pub data: PathBuf,
    /// The store's database URL (`--database`, `[store] url`); `None`:
    /// SQLite in [`data`](Self::data).
    pub database: Option<String>,
    /// TLS certificate chain and key (PEM files), when given.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `[registrar]` as the file says.
    pub registrar: RegistrarSection,
    /// `[protection]` as the file says.
    pub protection: ProtectionSection,
    /// `[auth]` as the file says.
    pub auth: AuthSection,
    /// `[presence]` as the file says.
    pub presence: PresenceSection,
    /// `[proxy]` as the file says.
    pub proxy: ProxySection,
    /// `max_transactions` as the file says.
    pub max_transactions: Option<usize>,
    /// `[messages]` as the file says.
    pub messages: MessagesSection,
    /// `[records]` as the file says.
    pub records: RecordsSection,
    /// `[media]` as the file says.
    pub media: MediaSection,
    /// `udp_buffer_bytes` as the file says.
    pub udp_buffer_bytes: Option<usize>,
    /// The admin API's address; `None`: switched off.
    pub admin: Option<SocketAddr>,
    /// `[cluster]`, checked; in force only with a PostgreSQL store.
    pub cluster: crate::cluster::ClusterSettings,
}

impl Settings {
    /// Live SIP transactions allowed: the file's, or the default.
    #[must_use]
    pub fn transaction_limit(&self) -> usize {
        self.max_transactions.unwrap_or(DEFAULT_MAX_TRANSACTIONS)
    }

    /// The UDP socket buffer size to ask for: the file's, or the default;
    /// `None` (the file's 0) keeps the kernel's default.
    #[must_use]
    pub fn udp_buffer(&self) -> Option<usize> {
        match self.udp_buffer_bytes {
            Some(0) => None,
            Some(bytes) => Some(bytes),
            None => Some(DEFAULT_UDP_BUFFER_BYTES),
        }
    }
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
/// `file` is the parsed `--config` file ([`FileConfig::default`] when
/// there is none); `host` picks the defaults.
pub fn resolve(flags: &Flags, file: FileConfig, host: &Host) -> Result<Settings, ConfigError> {
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
        listeners_on(file.port.unwrap_or(5060), host)
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
        default_domains(&listen, host)
    };
    let data = flags
        .data
        .clone()
        .or(file.data.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
    if data.as_os_str().is_empty() {
        return Err(ConfigError::new("data", "must not be empty"));
    }
    let database = flags.database.clone().or(file.store.url.clone());
    if let Some(url) = &database {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let key = if flags.database.is_some() {
                "--database"
            } else {
                "store.url"
            };
            return Err(ConfigError::new(key, "must be a postgres:// URL"));
        }
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
    let admin = resolve_admin(flags, &file, tls.is_some())?;
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
    if p.max_pending == Some(0) {
        return Err(ConfigError::new(
            "protection.max_pending",
            "must be at least 1",
        ));
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
    if file
        .udp_buffer_bytes
        .is_some_and(|bytes| bytes > MAX_UDP_BUFFER_BYTES)
    {
        return Err(ConfigError::new(
            "udp_buffer_bytes",
            format!("must be at most {MAX_UDP_BUFFER_BYTES} (0: the kernel's default)"),
        ));
    }
    check_presence(&file.presence)?;
    check_proxy(&file.proxy)?;
    check_messages(&file.messages)?;
    check_media(&file.media, &listen)?;
    let cluster = file.cluster.resolve()?;
    if file.records.keep_days == Some(0) {
        return Err(ConfigError::new("records.keep_days", "must be at least 1"));
    }
    Ok(Settings {
        listen,
        domains,
        data,
        database,
        tls,
        registrar: file.registrar,
        protection: file.protection,
        auth: file.auth,
        presence: file.presence,
        proxy: file.proxy,
        max_transactions: file.max_transactions,
        messages: file.messages,
        records: file.records,
        media: file.media,
        udp_buffer_bytes: file.udp_buffer_bytes,
        admin,
        cluster,
    })
}

/// `--admin`, else the file's `admin`, else [`DEFAULT_ADMIN`]; `off`
/// switches the API off. Beyond loopback it needs the TLS certificate.
fn resolve_admin(
    flags: &Flags,
    file: &FileConfig,
    has_tls: bool,
) -> Result<Option<SocketAddr>, ConfigError> {
    let (key, text) = match (&flags.admin, &file.admin) {
        (Some(text), _) => ("--admin", text),
        (None, Some(text)) => ("admin", text),
        (None, None) => return Ok(Some(DEFAULT_ADMIN)),
    };
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let addr: SocketAddr = text.parse().map_err(|_| {
        ConfigError::new(
            key,
            format!("{text:?}: must be IP:PORT (127.0.0.1:8089, [::1]:8089) or off"),
        )
    })?;
    if !addr.ip().is_loopback() && !has_tls {
        return Err(ConfigError::new(
            key,
            format!(
                "{addr} is reachable beyond this host: the admin API then needs TLS (--tls-cert and --tls-key, or tls_cert and tls_key in the file), or bind it to 127.0.0.1"
            ),
        ));
    }
    Ok(Some(addr))
}

fn check_messages(m: &MessagesSection) -> Result<(), ConfigError> {
    let at_least_one = "must be at least 1 (set enable = false to keep no messages)";
    if m.max_per_user == Some(0) {
        return Err(ConfigError::new("messages.max_per_user", at_least_one));
    }
    if m.max_bytes_per_user == Some(0) {
        return Err(ConfigError::new(
            "messages.max_bytes_per_user",
            at_least_one,
        ));
    }
    if m.max_age == Some(0) {
        return Err(ConfigError::new("messages.max_age", at_least_one));
    }
    Ok(())
}

/// A relay needs an address the parties can reach: a listener on
/// `0.0.0.0` or `::` names none.
fn check_media(m: &MediaSection, listen: &[(Transport, SocketAddr)]) -> Result<(), ConfigError> {
    let on = m
        .relay
        .is_some_and(|p| p != crate::file::RelayPolicy::Never);
    let unspecified = listen.first().is_none_or(|(_, a)| a.ip().is_unspecified());
    if on && m.address.is_none() && unspecified {
        return Err(ConfigError::new(
            "media.address",
            "needed when the first listener is on a wildcard address: the parties must be told where to send media",
        ));
    }
    Ok(())
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
    let min_se = p.min_se.unwrap_or(DEFAULT_MIN_SE);
    if min_se == 0 {
        return Err(ConfigError::new("proxy.min_se", "must be at least 1"));
    }
    match p.session_expires {
        Some(se) if se != 0 && se < min_se => {
            return Err(ConfigError::new(
                "proxy.session_expires",
                format!("{se} is below min_se ({min_se}); 0 switches session timers off"),
            ));
        }
        None if min_se > DEFAULT_SESSION_EXPIRES => {
            return Err(ConfigError::new(
                "proxy.min_se",
                format!("{min_se} is above session_expires ({DEFAULT_SESSION_EXPIRES})"),
            ));
        }
        _ => {}
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

fn check_presence(p: &PresenceSection) -> Result<(), ConfigError> {
    if p.min_expires == Some(0) {
        return Err(ConfigError::new(
            "presence.min_expires",
            "must be at least 1",
        ));
    }
    let (min, max) = (p.min_expires.unwrap_or(30), p.max_expires.unwrap_or(7200));
    if max < min {
        return Err(ConfigError::new(
            "presence.max_expires",
            format!("{max} is below min_expires {min}"),
        ));
    }
    let is_aor = |uri: &str| switchboard_server::Aor::parse(uri).is_ok();
    for list in p.lists.iter().flatten() {
        for uri in [&list.uri, &list.owner].into_iter().chain(&list.members) {
            if !is_aor(uri) {
                return Err(ConfigError::new(
                    "presence.lists",
                    format!("{uri:?} is not a SIP URI with a user part"),
                ));
            }
        }
    }
    if let Some(aor) = p
        .rules
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| !is_aor(k))
    {
        return Err(ConfigError::new(
            "presence.rules",
            format!("{aor:?} is not a SIP URI with a user part"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use std::path::Path;

    use super::*;

    fn resolve_file(text: &str, flags: &Flags) -> Result<Settings, ConfigError> {
        let file = FileConfig::parse(text, Path::new("test.toml"))?;
        resolve(flags, file, &Host::default())
    }

    /// `text` resolved with a UDP listener and a domain on the command line.
    fn resolve_on_udp(text: &str) -> Result<Settings, ConfigError> {
        resolve_file(
            text,
            &Flags {
                listen: vec!["udp:127.0.0.1:5060".into()],
                domains: vec!["example.com".into()],
                ..Flags::default()
            },
        )
    }

    #[test]
    fn max_transactions_key() {
        let settings = resolve_on_udp("max_transactions = 500000\n").unwrap();
        assert_eq!(settings.max_transactions, Some(500_000));
        assert_eq!(settings.transaction_limit(), 500_000);
        assert_eq!(resolve_on_udp("").unwrap().max_transactions, None);
        assert_eq!(
            resolve_on_udp("").unwrap().transaction_limit(),
            DEFAULT_MAX_TRANSACTIONS
        );
        let error = resolve_on_udp("max_transactions = 0\n").unwrap_err();
        assert_eq!(error.key, "max_transactions");
    }

    #[test]
    fn session_timer_keys_are_checked_against_each_other() {
        assert!(resolve_on_udp("[proxy]\nsession_expires = 90\nmin_se = 5\n").is_ok());
        assert!(resolve_on_udp("[proxy]\nsession_expires = 0\nmin_se = 3600\n").is_ok());
        let error = resolve_on_udp("[proxy]\nmin_se = 0\n").unwrap_err();
        assert_eq!(error.key, "proxy.min_se");
        let error = resolve_on_udp("[proxy]\nsession_expires = 60\n").unwrap_err();
        assert_eq!(
            error.key, "proxy.session_expires",
            "below the default min_se"
        );
        let error = resolve_on_udp("[proxy]\nmin_se = 3600\n").unwrap_err();
        assert_eq!(
            error.key, "proxy.min_se",
            "above the default session_expires"
        );
    }

    #[test]
    fn udp_buffer_bytes_key() {
        let udp_buffer = |text: &str| resolve_on_udp(text).unwrap().udp_buffer();
        assert_eq!(udp_buffer(""), Some(DEFAULT_UDP_BUFFER_BYTES));
        assert_eq!(udp_buffer("udp_buffer_bytes = 8388608\n"), Some(8 << 20));
        assert_eq!(udp_buffer("udp_buffer_bytes = 0\n"), None);
        let error = resolve_on_udp("udp_buffer_bytes = 4294967296\n").unwrap_err();
        assert_eq!(error.key, "udp_buffer_bytes");
    }

    #[test]
    fn admin_key_and_flag() {
        let admin = |text: &str, flag: Option<&str>| {
            resolve_file(
                text,
                &Flags {
                    listen: vec!["udp:127.0.0.1:5060".into()],
                    domains: vec!["example.com".into()],
                    admin: flag.map(str::to_owned),
                    ..Flags::default()
                },
            )
        };
        assert_eq!(admin("", None).unwrap().admin, Some(DEFAULT_ADMIN));
        assert_eq!(
            admin("admin = \"127.0.0.1:9000\"\n", None).unwrap().admin,
            Some("127.0.0.1:9000".parse().unwrap())
        );
        // The flag wins over the file; `off` switches the API off.
        assert_eq!(
            admin("admin = \"127.0.0.1:9000\"\n", Some("[::1]:9001"))
                .unwrap()
                .admin,
            Some("[::1]:9001".parse().unwrap())
        );
        assert_eq!(admin("", Some("off")).unwrap().admin, None);
        assert_eq!(admin("admin = \"off\"\n", None).unwrap().admin, None);
        assert_eq!(admin("", Some("8089")).unwrap_err().key, "--admin");
        assert_eq!(admin("admin = \"x\"\n", None).unwrap_err().key, "admin");
        // Beyond loopback: only with the certificate.
        let open = admin("", Some("0.0.0.0:8089")).unwrap_err();
        assert_eq!(open.key, "--admin");
        assert!(open.message.contains("TLS"), "{open}");
        let with_tls = admin(
            "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n",
            Some("0.0.0.0:8089"),
        )
        .unwrap();
        assert_eq!(with_tls.admin, Some("0.0.0.0:8089".parse().unwrap()));
    }

    #[test]
    fn port_key_moves_the_default_listeners() {
        let resolve_with = |text: &str| {
            resolve_file(
                text,
                &Flags {
                    domains: vec!["example.com".into()],
                    ..Flags::default()
                },
            )
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
    }

    #[test]
    fn flags_override_the_file() {
        let flags = Flags {
            listen: vec!["tcp:127.0.0.1:5080".into()],
            domains: vec!["flag.example".into()],
            data: Some(PathBuf::from("from-flag")),
            ..Flags::default()
        };
        let text = "listen = [\"udp:127.0.0.1:5060\"]\ndomains = [\"file.example\"]\ndata = \"from-file\"\n";
        let settings = resolve_file(text, &flags).unwrap();
        assert_eq!(
            settings.listen,
            [(Transport::Tcp, "127.0.0.1:5080".parse().unwrap())]
        );
        assert_eq!(settings.domains, ["flag.example"]);
        assert_eq!(settings.data, PathBuf::from("from-flag"));
        let from_file = resolve_file(text, &Flags::default()).unwrap();
        assert_eq!(from_file.domains, ["file.example"]);
        assert_eq!(from_file.data, PathBuf::from("from-file"));
    }

    #[test]
    fn the_database_comes_from_the_flag_or_the_store_section() {
        let text = "[store]\nurl = \"postgres://sb@db.example/switchboard\"\n";
        let from_file = resolve_file(text, &Flags::default()).unwrap();
        assert_eq!(
            from_file.database.as_deref(),
            Some("postgres://sb@db.example/switchboard")
        );
        let flags = Flags {
            database: Some("postgresql://sb@127.0.0.1:5433/other".into()),
            ..Flags::default()
        };
        let from_flag = resolve_file(text, &flags).unwrap();
        assert_eq!(
            from_flag.database.as_deref(),
            Some("postgresql://sb@127.0.0.1:5433/other")
        );
        assert_eq!(resolve_file("", &Flags::default()).unwrap().database, None);
        let flags = Flags {
            database: Some("mysql://db".into()),
            ..Flags::default()
        };
        assert_eq!(resolve_file("", &flags).unwrap_err().key, "--database");
        let bad = "[store]\nurl = \"sqlite:x\"\n";
        assert_eq!(
            resolve_file(bad, &Flags::default()).unwrap_err().key,
            "store.url"
        );
    }

    #[test]
    fn a_bad_flag_is_named_as_the_flag() {
        let flags = Flags {
            domains: vec!["a b".into()],
            ..Flags::default()
        };
        assert_eq!(resolve_file("", &flags).unwrap_err().key, "--domain");
        let flags = Flags {
            listen: vec!["udp:nowhere".into()],
            ..Flags::default()
        };
        assert_eq!(resolve_file("", &flags).unwrap_err().key, "--listen");
    }

    #[test]
    fn media_section_sets_the_relay_and_is_checked_with_its_line() {
        use switchboard_server::media::MediaPolicy;
        let media = |text: &str| {
            resolve_on_udp(text)
                .unwrap()
                .service_config(&Host::default())
                .media
        };
        let off = media("");
        assert_eq!(off.policy, MediaPolicy::Never, "off unless asked for");
        assert_eq!(off.relay.ports, 30_000..=30_999);
        let on = media(
            "[media]\nrelay = \"always\"\nports = \"40000-40099\"\naddress = \"192.0.2.1\"\ntimeout = 30\n",
        );
        assert_eq!(on.policy, MediaPolicy::Always);
        assert_eq!(on.relay.ports, 40_000..=40_099);
        assert_eq!(on.address, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(on.relay.media_timeout, std::time::Duration::from_secs(30));
        assert_eq!(
            media("[media]\nrelay = \"auto\"\n").policy,
            MediaPolicy::Auto
        );

        for (text, key) in [
            ("[media]\nrelay = \"sometimes\"\n", "media.relay"),
            ("[media]\nports = \"40000-40001\"\n", "media.ports"),
            ("[media]\nports = \"100-200\"\n", "media.ports"),
            ("[media]\nports = \"forty\"\n", "media.ports"),
            ("[media]\ntimeout = 0\n", "media.timeout"),
            ("[media]\naddress = \"here\"\n", "media.address"),
        ] {
            let error = resolve_on_udp(text).unwrap_err();
            assert_eq!(error.key, key, "{text}");
            assert!(error.message.contains("line 2"), "{error}");
        }
        let wildcard = Flags {
            listen: vec!["udp:0.0.0.0:5060".into()],
            domains: vec!["example.com".into()],
            ..Flags::default()
        };
        let error = resolve_file("[media]\nrelay = \"always\"\n", &wildcard).unwrap_err();
        assert_eq!(error.key, "media.address");
    }

    #[test]
    fn media_webrtc_phone_picks_plain_or_sdes_for_browsers_callees() {
        let media = |text: &str| {
            resolve_on_udp(text)
                .unwrap()
                .service_config(&Host::default())
                .media
        };
        assert!(!media("[media]\nrelay = \"auto\"\n").webrtc_phone_sdes);
        assert!(!media("[media]\nwebrtc_phone = \"rtp\"\n").webrtc_phone_sdes);
        assert!(media("[media]\nwebrtc_phone = \"sdes\"\n").webrtc_phone_sdes);
        let error = resolve_on_udp("[media]\nwebrtc_phone = \"zrtp\"\n").unwrap_err();
        assert_eq!(error.key, "media.webrtc_phone");
    }
}
