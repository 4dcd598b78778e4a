//! The TOML file's schema and how its text is read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ConfigError;

/// The TOML file. Unknown keys are errors (a typo must not be ignored).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `SCHEME:IP:PORT` listeners.
    pub listen: Option<Vec<String>>,
    /// The port of the default listeners (5060), when `listen` is not given.
    pub port: Option<u16>,
    /// Domains served (digest realms).
    pub domains: Option<Vec<String>>,
    /// Data directory.
    pub data: Option<PathBuf>,
    /// TLS certificate chain (PEM), for `tls` and `wss` listeners.
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// The admin HTTP API: `"IP:PORT"` (default `127.0.0.1:8089`) or
    /// `"off"`. Beyond loopback it needs `tls_cert` and `tls_key`.
    pub admin: Option<String>,
    /// Registrar settings.
    #[serde(default)]
    pub registrar: RegistrarSection,
    /// Protection settings.
    #[serde(default)]
    pub protection: ProtectionSection,
    /// Live SIP transactions allowed; beyond it new requests get 503.
    /// Over UDP a non-INVITE transaction lives 32 s after its answer (Timer
    /// J), about 1 KB each, so this bounds memory and the sustained
    /// request rate (a registration is two transactions: the default
    /// sustains about 1,500 registrations/s).
    pub max_transactions: Option<usize>,
    /// Receive and send buffer of each UDP socket, in bytes (default 4 MiB;
    /// 0 keeps the kernel's default, about 208 KB on Linux). A burst beyond
    /// the receive buffer is dropped by the kernel and recovered only by a
    /// retransmission after T1. Linux caps it at `net.core.rmem_max` /
    /// `wmem_max` unless the server has CAP_NET_ADMIN; the log says what
    /// was granted.
    pub udp_buffer_bytes: Option<usize>,
    /// Digest authentication settings.
    #[serde(default)]
    pub auth: AuthSection,
    /// Presence, busy-lamp fields and registration events (SUBSCRIBE,
    /// PUBLISH, NOTIFY).
    #[serde(default)]
    pub presence: PresenceSection,
    /// Proxy settings.
    #[serde(default)]
    pub proxy: ProxySection,
    /// Offline message settings.
    #[serde(default)]
    pub messages: MessagesSection,
    /// Call detail records.
    #[serde(default)]
    pub records: RecordsSection,
    /// The media relay.
    #[serde(default)]
    pub media: MediaSection,
    /// `[store]`: where users, bindings and the event state live.
    #[serde(default)]
    pub store: StoreSection,
    /// `[cluster]`: this node among several on one PostgreSQL database.
    #[serde(default)]
    pub cluster: crate::cluster::ClusterSection,
    /// The dial plan's sections (`[routing]`, `[groups]`, `[[site]]`,
    /// `[[ring_group]]`, `[[trunk]]`, `[[route]]`, `[[test]]`): accepted
    /// here and read by `switchboard-routing`'s `Plan::load` from the same
    /// text, which checks them.
    pub routing: Option<toml::Value>,
    /// See `routing`.
    pub groups: Option<toml::Value>,
    /// See `routing` (`[group_limits.NAME] max_call`).
    pub group_limits: Option<toml::Value>,
    /// See `routing`.
    pub site: Option<toml::Value>,
    /// See `routing`.
    pub ring_group: Option<toml::Value>,
    /// See `routing`.
    pub trunk: Option<toml::Value>,
    /// See `routing`.
    pub route: Option<toml::Value>,
    /// See `routing`.
    pub test: Option<toml::Value>,
}

impl FileConfig {
    /// The file holding the dial plan when it is not this one:
    /// `[routing] plan`, relative to this file's directory.
    pub fn plan_file(&self, this: &Path) -> Option<PathBuf> {
        let name = self.routing.as_ref()?.get("plan")?.as_str()?;
        Some(this.parent().unwrap_or(Path::new(".")).join(name))
    }
}

/// `[messages]`: MESSAGEs to a local user with no device are kept and
/// delivered when the user registers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesSection {
    /// Keep them at all (default true; false: 480 as for other requests).
    pub enable: Option<bool>,
    /// Keep messages from callers of other domains too (default false:
    /// they get 480 as for any user with no device, so that they cannot
    /// tell which users exist).
    pub from_other_domains: Option<bool>,
    /// Most messages kept for one user (default 100); more get 486
    /// "Mailbox Full".
    pub max_per_user: Option<usize>,
    /// Most body bytes kept for one user (default 1 MiB).
    pub max_bytes_per_user: Option<usize>,
    /// Seconds after which an undelivered message is dropped (default 7
    /// days).
    pub max_age: Option<u64>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// A `postgres://user:password@host:port/name` URL: the store in
    /// PostgreSQL (absent: SQLite in the data directory).
    pub url: Option<String>,
}

/// `[records]`: call detail records, one per call attempt.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsSection {
    /// Days a record is kept (default 90); older ones are deleted.
    pub keep_days: Option<u64>,
}

/// `[media]`: the media relay (RTP anchored on the server's ports).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// Which calls are relayed: `"never"` (the default), `"always"`, or
    /// `"auto"` (a party behind a NAT, or a browser calling a phone or
    /// called by one).
    pub relay: Option<RelayPolicy>,
    /// The UDP ports the relay binds and hands out, `"FIRST-LAST"`
    /// (default `"30000-30999"`); each call takes two pairs per stream.
    pub ports: Option<PortRange>,
    /// The address written into the SDP the parties receive, and bound
    /// (default: the first listener's).
    pub address: Option<std::net::IpAddr>,
    /// Seconds without a packet from either party before the server ends
    /// the call (default 60).
    pub timeout: Option<std::num::NonZeroU64>,
    /// What the SIP phone of a browser's (WebRTC) call is offered: `"rtp"`
    /// (`RTP/AVP`, the default) or `"sdes"` (`RTP/SAVP` with the relay's
    /// key, for phones that require SRTP).
    pub webrtc_phone: Option<WebRtcPhone>,
}

/// `[media] webrtc_phone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebRtcPhone {
    /// Plain `RTP/AVP`.
    Rtp,
    /// `RTP/SAVP` keyed by SDES.
    Sdes,
}

/// `[media] relay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayPolicy {
    /// No call.
    Never,
    /// Every call with an SDP offer.
    Always,
    /// Calls with a party behind a NAT, and calls between a browser and
    /// a SIP phone.
    Auto,
}

/// `[media] ports`: `"FIRST-LAST"`, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PortRange {
    /// The lowest port.
    pub first: u16,
    /// The highest port.
    pub last: u16,
}

impl TryFrom<String> for PortRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let wrong = || {
            format!(
                "{text:?}: must be \"FIRST-LAST\", two ports of 1024 and above, at least 4 apart"
            )
        };
        let (first, last) = text.split_once('-').ok_or_else(wrong)?;
        let first: u16 = first.trim().parse().map_err(|_| wrong())?;
        let last: u16 = last.trim().parse().map_err(|_| wrong())?;
        if first < 1024 || last < first.saturating_add(3) {
            return Err(wrong());
        }
        Ok(Self { first, last })
    }
}

/// `[proxy]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// `"proxy"` (forward, the default) or `"redirect"` (answer 302 with
    /// the registered contacts).
    pub mode: Option<String>,
    /// Insert Record-Route into dialog-creating requests (default true).
    pub record_route: Option<bool>,
    /// Timer C: seconds an INVITE branch may ring without a final response
    /// (default 181).
    pub timer_c: Option<u64>,
    /// Serial forking: seconds a group of contacts of equal q rings before
    /// the next (lower q) group is tried (default 20).
    pub group_timeout: Option<u64>,
    /// On a 3xx from a branch, try its contacts (default true) or return
    /// it.
    pub recurse_on_3xx: Option<bool>,
    /// Most branches one request forks into (default 16).
    pub max_branches: Option<usize>,
    /// Requests from other domains to local users are accepted without a
    /// challenge (default true); false: refused with 403.
    pub trust_foreign_callers: Option<bool>,
    /// Requests of local users for other domains go through this SIP URI
    /// (`sip:proxy.example.net:5060`) instead of RFC 3263 server location
    /// of their domain.
    pub outbound_proxy: Option<String>,
    /// Session timers (RFC 4028): the session interval in seconds asked of
    /// every call (default 1800; 0 switches session timers off). Calls not
    /// refreshed within it are ended by the server.
    pub session_expires: Option<u32>,
    /// The shortest session interval accepted, in seconds (default 90):
    /// an INVITE asking for less gets 422.
    pub min_se: Option<u32>,
}

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Require the digest `uri` to name the Request-URI (default true).
    /// SIPp, unless given `-auth_uri`, answers with the server's
    /// `ip:port` instead.
    pub check_uri: Option<bool>,
    /// How long a nonce is accepted, in seconds.
    pub nonce_lifetime: Option<u64>,
    /// The challenges offered, in order (`"MD5"`, `"SHA-256"`,
    /// `"SHA-512-256"`). Default `["MD5", "SHA-256"]`: most clients know
    /// only MD5 and take the first challenge they support.
    pub algorithms: Option<Vec<String>>,
    /// User-Agent substrings of clients challenged with MD5 alone, because
    /// they give up when any challenge names an algorithm they lack
    /// (default `["baresip", "libre", "JsSIP", "SIP.js"]`: baresip 1.0 /
    /// libre 1.1, and the browser libraries, which read only the last
    /// challenge).
    pub md5_only_user_agents: Option<Vec<String>>,
}

/// `[registrar]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    /// Shortest registration accepted, in seconds (shorter: 423).
    pub min_expires: Option<u32>,
    /// Longest registration granted, in seconds.
    pub max_expires: Option<u32>,
    /// Registration granted when the client asks for none, in seconds.
    pub default_expires: Option<u32>,
    /// Most contacts one address of record may register.
    pub max_contacts_per_aor: Option<usize>,
    /// Most bindings the registrar holds.
    pub max_bindings: Option<usize>,
}

/// `[protection]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectionSection {
    /// Per-source rate limit on or off.
    pub rate_limit: Option<bool>,
    /// Requests per second per source.
    pub rate: Option<u32>,
    /// Burst per source.
    pub burst: Option<u32>,
    /// Lockout after failed authentications on or off.
    pub lockout: Option<bool>,
    /// Failures that lock a user.
    pub user_failures: Option<u32>,
    /// Failures that lock a source.
    pub source_failures: Option<u32>,
    /// Requests waiting inside the server (for the store, for a final
    /// answer) at which new ones get 503; it opens again at half.
    pub max_pending: Option<usize>,
    /// Milliseconds late the driver's timer may fire (smoothed) before new
    /// requests get 503; it opens again at two fifths. 0: not followed.
    pub max_timer_lag_ms: Option<u64>,
    /// Milliseconds a store commit may take (smoothed) before new requests
    /// get 503; it opens again at two fifths. 0: not followed.
    pub max_commit_ms: Option<u64>,
    /// Datagrams the driver may read from a UDP socket without emptying it
    /// (smoothed; it reads passes of 256) before new requests get 503; it
    /// opens again at two fifths. 0 or left out: not followed.
    pub max_read_backlog: Option<usize>,
    /// Base seconds of the Retry-After of those 503s.
    pub retry_after: Option<u32>,
}

/// `[presence]`: the event server. Example:
///
/// ```toml
/// [presence]
/// min_expires = 30          # SUBSCRIBE/PUBLISH below it: 423
/// max_expires = 7200        # capped above it
/// default_expires = 3600
/// max_subscriptions_per_user = 200   # over it: 403
/// max_subscriptions = 100000         # over it: 503
/// max_publications_per_user = 20
/// foreign_watchers = false  # watchers of other domains
/// same_domain = true        # users of one domain watch each other freely
/// terminate_on_shutdown = false      # subscriptions survive a restart
///
/// [presence.rules."sip:alice@example.com"]
/// allow = ["sip:partner@other.org", "@other.org"]   # an AOR, a domain, "*"
/// deny = ["sip:bob@example.com"]
///
/// [[presence.lists]]                 # RFC 4662 resource list (busy-lamp field)
/// uri = "sip:alice-blf@example.com"
/// owner = "sip:alice@example.com"
/// members = ["sip:bob@example.com", "sip:carol@example.com"]
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceSection {
    /// Shortest subscription or publication accepted, in seconds.
    pub min_expires: Option<u32>,
    /// Longest granted, in seconds.
    pub max_expires: Option<u32>,
    /// Granted when the request asks for none, in seconds.
    pub default_expires: Option<u32>,
    /// Most subscriptions one watcher holds.
    pub max_subscriptions_per_user: Option<usize>,
    /// Most subscriptions in all.
    pub max_subscriptions: Option<usize>,
    /// Most publications of one user (devices).
    pub max_publications_per_user: Option<usize>,
    /// Watchers from other domains may subscribe (default false).
    pub foreign_watchers: Option<bool>,
    /// Users of the watched user's domain may watch without a rule
    /// (default true).
    pub same_domain: Option<bool>,
    /// Tell every watcher `terminated;reason=deactivated` at shutdown
    /// (default false: subscriptions are kept and survive a restart).
    pub terminate_on_shutdown: Option<bool>,
    /// Per watched user: who may and who may not watch.
    pub rules: Option<HashMap<String, WatchRuleSection>>,
    /// Resource lists.
    pub lists: Option<Vec<ListSection>>,
}

/// `[presence.rules."AOR"]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchRuleSection {
    /// Watchers allowed (AORs, `@domain`, `*`).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Watchers refused (wins over `allow`).
    #[serde(default)]
    pub deny: Vec<String>,
}

/// `[[presence.lists]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSection {
    /// The list's URI.
    pub uri: String,
    /// The user who may subscribe to it.
    pub owner: String,
    /// The members' AORs.
    pub members: Vec<String>,
}

impl FileConfig {
    /// Parses the file's `text`; `path` names it in error messages. An
    /// error names the dotted key at fault and its line.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let key = e
                .span()
                .and_then(|span| key_at(text, span.start))
                .unwrap_or_else(|| "(file)".to_owned());
            let message = format!(
                "{} (in {}{})",
                e.message().trim(),
                path.display(),
                e.span()
                    .map(|s| format!(", line {}", line_of(text, s.start)))
                    .unwrap_or_default()
            );
            ConfigError::new(key, message)
        })
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failure is the report

    use super::*;

    #[test]
    fn key_of_a_toml_error() {
        let text = "data = \"x\"\n[protection]\nrate = \"fast\"\n";
        let offset = text.find("\"fast\"").unwrap();
        assert_eq!(key_at(text, offset).as_deref(), Some("protection.rate"));
    }

    #[test]
    fn an_error_names_the_key_the_file_and_the_line() {
        let text = "data = \"x\"\n[registrar]\nmax_expires = \"long\"\n";
        let error = FileConfig::parse(text, Path::new("sb.toml")).unwrap_err();
        assert_eq!(error.key, "registrar.max_expires");
        assert!(error.message.contains("(in sb.toml, line 3)"), "{error}");
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let error = FileConfig::parse("[proxy]\nrecord_rout = true\n", Path::new("f")).unwrap_err();
        assert_eq!(error.key, "proxy.record_rout");
    }
}
