//! From the settings to the server's configuration, and the startup lines
//! that describe it.

use std::time::Duration;

use switchboard_server::Aor;
use switchboard_server::events::{EventsConfig, ExpiresRange, ResourceList, WatchRule};
use switchboard_server::media::{MediaConfig, MediaPolicy, RelayConfig};
use switchboard_server::protect::Watermarks;
use switchboard_server::proxy::{Listener, Mode, ProxyConfig};
use switchboard_server::registrar::RegistrarConfig;
use switchboard_server::service::MailboxConfig;
use switchboard_server::{AuthConfig, ProtectConfig, ServiceConfig, SessionTimerPolicy};

use crate::settings::{DEFAULT_MIN_SE, DEFAULT_SESSION_EXPIRES};
use crate::{Host, PortRange, RelayPolicy, Settings};

/// `[media] ports` when the file does not say.
const DEFAULT_MEDIA_PORTS: PortRange = PortRange {
    first: 30_000,
    last: 30_999,
};

/// `[records] keep_days` when the file does not say.
const DEFAULT_KEEP_DAYS: u64 = 90;
/// How late call records are written (in batches): one store commit for
/// the records of many calls instead of one per call.
const RECORDS_FLUSH: Duration = Duration::from_millis(250);

impl Settings {
    /// The server's configuration: its defaults, overridden by each
    /// setting given. `host` names the Record-Route hosts of listeners on
    /// every address.
    #[must_use]
    pub fn service_config(&self, host: &Host) -> ServiceConfig {
        let mut config = ServiceConfig::new(
            self.registrar_config(),
            self.auth_config(),
            self.protect_config(),
            self.proxy_config(host),
        );
        config.events = self.events_config();
        config.trust_foreign_callers = self.proxy.trust_foreign_callers.unwrap_or(true);
        config.outbound_proxy.clone_from(&self.proxy.outbound_proxy);
        config.messages = self.mailbox_config();
        let days = self.records.keep_days.unwrap_or(DEFAULT_KEEP_DAYS);
        config.records_keep = Some(Duration::from_secs(days.saturating_mul(24 * 3600)));
        config.records_flush = RECORDS_FLUSH;
        config.media = self.media_config();
        config.session_timers = SessionTimerPolicy::new(
            self.proxy
                .session_expires
                .unwrap_or(DEFAULT_SESSION_EXPIRES),
            self.proxy.min_se.unwrap_or(DEFAULT_MIN_SE),
        );
        config
    }

    /// `[media]`: the relay's policy, ports, address and media timeout.
    fn media_config(&self) -> MediaConfig {
        let m = &self.media;
        let policy = match m.relay {
            None | Some(RelayPolicy::Never) => MediaPolicy::Never,
            Some(RelayPolicy::Always) => MediaPolicy::Always,
            Some(RelayPolicy::Auto) => MediaPolicy::Auto,
        };
        let mut relay = RelayConfig::default();
        let ports = m.ports.unwrap_or(DEFAULT_MEDIA_PORTS);
        relay.ports = ports.first..=ports.last;
        if let Some(seconds) = m.timeout {
            relay.media_timeout = Duration::from_secs(seconds.get());
        }
        let sdes = m.webrtc_phone == Some(crate::file::WebRtcPhone::Sdes);
        MediaConfig::new(policy, relay, m.address).with_webrtc_phone_sdes(sdes)
    }

    fn mailbox_config(&self) -> MailboxConfig {
        let mut config = MailboxConfig::default();
        let m = &self.messages;
        if let Some(v) = m.enable {
            config.enabled = v;
        }
        if let Some(v) = m.from_other_domains {
            config.from_other_domains = v;
        }
        if let Some(v) = m.max_per_user {
            config.max_per_user = v;
        }
        if let Some(v) = m.max_bytes_per_user {
            config.max_bytes_per_user = v;
        }
        if let Some(v) = m.max_age {
            config.max_age = Duration::from_secs(v);
        }
        config
    }

    fn registrar_config(&self) -> RegistrarConfig {
        let mut config = RegistrarConfig {
            domains: self.domains.clone(),
            ..RegistrarConfig::default()
        };
        let r = &self.registrar;
        if let Some(v) = r.min_expires {
            config.min_expires = v;
        }
        if let Some(v) = r.max_expires {
            config.max_expires = v;
        }
        if let Some(v) = r.default_expires {
            config.default_expires = v;
        }
        if let Some(v) = r.max_contacts_per_aor {
            config.max_contacts_per_aor = v;
        }
        if let Some(v) = r.max_bindings {
            config.max_bindings = v;
        }
        config
    }

    fn protect_config(&self) -> ProtectConfig {
        let mut config = ProtectConfig::default();
        let p = &self.protection;
        if let Some(v) = p.rate_limit {
            config.rate.enabled = v;
        }
        if let Some(v) = p.rate {
            config.rate.rate = v;
        }
        if let Some(v) = p.burst {
            config.rate.burst = v;
        }
        if let Some(v) = p.lockout {
            config.lockout.enabled = v;
        }
        if let Some(v) = p.user_failures {
            config.lockout.user_threshold = v;
        }
        if let Some(v) = p.source_failures {
            config.lockout.source_threshold = v;
        }
        if let Some(v) = p.max_pending {
            config.overload.high_watermark = v;
            config.overload.low_watermark = v / 2;
        }
        if let Some(v) = p.max_timer_lag_ms {
            config.overload.timer_lag = signal_marks(v);
        }
        if let Some(v) = p.max_commit_ms {
            config.overload.commit_latency = signal_marks(v);
        }
        if let Some(v) = p.max_read_backlog {
            config.overload.read_backlog = (v > 0).then(|| Watermarks {
                high: v,
                low: v * 2 / 5,
            });
        }
        if let Some(v) = p.retry_after {
            config.overload.retry_after = v;
        }
        config
    }

    fn auth_config(&self) -> AuthConfig {
        let mut config = AuthConfig::default();
        let a = &self.auth;
        if let Some(v) = a.check_uri {
            config.check_uri = v;
        }
        if let Some(algs) = &a.algorithms {
            // Checked when the configuration was read.
            config.algorithms = algs.iter().filter_map(|a| a.parse().ok()).collect();
        }
        if let Some(v) = a.nonce_lifetime {
            config.nonce_lifetime = v;
        }
        if let Some(agents) = &a.md5_only_user_agents {
            config.md5_only_user_agents.clone_from(agents);
        }
        config
    }

    fn proxy_config(&self, host: &Host) -> ProxyConfig {
        let mut listeners = Vec::new();
        for &(transport, addr) in &self.listen {
            if addr.ip().is_unspecified() {
                // Record-Route needs an address peers can reach: the host's
                // own, then loopback.
                let loopback = if addr.is_ipv6() { "[::1]" } else { "127.0.0.1" };
                for host in host
                    .primary_uri_host()
                    .into_iter()
                    .chain([loopback.to_owned()])
                {
                    listeners.push(Listener {
                        transport,
                        addr,
                        host: Some(host),
                    });
                }
            } else {
                listeners.push(Listener::new(transport, addr));
            }
        }
        let p = &self.proxy;
        let mut config = ProxyConfig::new(listeners, self.domains.clone());
        // Checked when the configuration was read.
        if p.mode.as_deref() == Some("redirect") {
            config.mode = Mode::Redirect;
        }
        if let Some(v) = p.record_route {
            config.record_route = v;
        }
        if let Some(v) = p.timer_c {
            config.timer_c = Duration::from_secs(v);
        }
        if let Some(v) = p.group_timeout {
            config.group_timeout = Duration::from_secs(v);
        }
        if let Some(v) = p.recurse_on_3xx {
            config.recurse_on_3xx = v;
        }
        if let Some(v) = p.max_branches {
            config.max_branches = v;
        }
        config
    }

    fn events_config(&self) -> EventsConfig {
        let mut config = EventsConfig::default();
        let p = &self.presence;
        let range = config.presence;
        let range = ExpiresRange::new(
            p.min_expires.unwrap_or(range.min),
            p.max_expires.unwrap_or(range.max),
            p.default_expires.unwrap_or(range.default),
        );
        (config.presence, config.dialog, config.reg, config.publish) = (range, range, range, range);
        if let Some(v) = p.max_subscriptions_per_user {
            config.max_per_user = v;
        }
        if let Some(v) = p.max_subscriptions {
            config.max_total = v;
        }
        if let Some(v) = p.max_publications_per_user {
            config.max_publications_per_user = v;
        }
        if let Some(v) = p.foreign_watchers {
            config.foreign_watchers = v;
        }
        if let Some(v) = p.same_domain {
            config.policy.same_domain = v;
        }
        if let Some(v) = p.terminate_on_shutdown {
            config.terminate_on_shutdown = v;
        }
        for (aor, rule) in p.rules.iter().flatten() {
            config.policy.rules.insert(
                canonical(aor).to_ascii_lowercase(),
                WatchRule {
                    allow: rule.allow.clone(),
                    deny: rule.deny.clone(),
                },
            );
        }
        config.lists = p
            .lists
            .iter()
            .flatten()
            .map(|l| ResourceList {
                uri: canonical(&l.uri),
                owner: canonical(&l.owner),
                members: l.members.iter().map(|m| canonical(m)).collect(),
            })
            .collect();
        config
    }
}

/// The overload gate's marks for a signal from its high mark in
/// milliseconds: it opens again at two fifths (as the defaults); 0 turns
/// the signal off.
fn signal_marks(high_ms: u64) -> Option<Watermarks<Duration>> {
    (high_ms > 0).then(|| Watermarks {
        high: Duration::from_millis(high_ms),
        low: Duration::from_millis(high_ms * 2 / 5),
    })
}

/// `sip:user@domain` of a SIP URI (checked when the configuration was
/// read): how the event server names users and lists.
fn canonical(uri: &str) -> String {
    Aor::parse(uri).map_or_else(|_| uri.to_owned(), |a| format!("sip:{}", a.as_str()))
}

/// The startup log's description of a [`ServiceConfig`], one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// `protection: ...`: rate limit and lockout.
    pub protection: String,
    /// `auth: ...`, when authentication differs from the default in a way
    /// the operator should see.
    pub auth: Option<String>,
    /// `serving: ...`: what the server does with each request.
    pub serving: String,
}

impl Summary {
    /// Describes `config`.
    #[must_use]
    pub fn of(config: &ServiceConfig) -> Self {
        let on_off = |on: bool| if on { "on" } else { "off" };
        let p = &config.protect;
        let protection = if p.rate.enabled {
            format!(
                "protection: {} requests/s per source (bursts of {}), lockout {}",
                p.rate.rate,
                p.rate.burst,
                on_off(p.lockout.enabled)
            )
        } else {
            format!(
                "protection: no rate limit, lockout {}",
                on_off(p.lockout.enabled)
            )
        };
        let auth = (!config.auth.check_uri)
            .then(|| "auth: the digest uri is not checked against the Request-URI".to_owned());
        let proxy = &config.proxy;
        let requests = match proxy.mode {
            Mode::Redirect => "redirected (302 with the registered contacts)".to_owned(),
            Mode::Proxy => format!(
                "proxied (local callers challenged with 407, callers from other domains {}, other domains reached {}, Record-Route {}, timer C {} s, serial forking every {} s, 3xx {}, {})",
                if config.trust_foreign_callers {
                    "accepted"
                } else {
                    "refused"
                },
                config.outbound_proxy.as_ref().map_or_else(
                    || "by DNS (RFC 3263)".to_owned(),
                    |o| format!("through {o}")
                ),
                on_off(proxy.record_route),
                proxy.timer_c.as_secs(),
                proxy.group_timeout.as_secs(),
                if proxy.recurse_on_3xx {
                    "recursed"
                } else {
                    "returned"
                },
                match config.session_timers.session_expires {
                    Some(interval) => format!(
                        "session timers {interval} s (Min-SE {} s), calls not refreshed ended",
                        config.session_timers.min_se
                    ),
                    None => "session timers off".to_owned(),
                },
            ),
        };
        Self {
            protection,
            auth,
            serving: format!(
                "serving: REGISTER (digest authentication, registrar), OPTIONS, SUBSCRIBE and PUBLISH for local users (presence, dialog, reg), and every other request {requests}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // tests: a failure is the report

    use std::path::Path;

    use switchboard_core::Transport;

    use super::*;
    use crate::{FileConfig, Flags, resolve};

    fn config_of(text: &str, listen: &str, host: &Host) -> ServiceConfig {
        let flags = Flags {
            listen: vec![listen.into()],
            domains: vec!["example.com".into()],
            ..Flags::default()
        };
        let file = FileConfig::parse(text, Path::new("test.toml")).unwrap();
        resolve(&flags, file, host).unwrap().service_config(host)
    }

    #[test]
    fn the_files_sections_reach_the_service_config() {
        let text = "[registrar]\nmax_expires = 900\n\
                    [proxy]\nmode = \"redirect\"\ntrust_foreign_callers = false\n\
                    outbound_proxy = \"sip:out.example.net:5070\"\ntimer_c = 300\n\
                    [protection]\nrate = 7\n[auth]\ncheck_uri = false\n";
        let config = config_of(text, "udp:127.0.0.1:5060", &Host::default());
        assert_eq!(config.registrar.max_expires, 900);
        assert_eq!(config.registrar.domains, ["example.com"]);
        assert_eq!(config.proxy.mode, Mode::Redirect);
        assert_eq!(config.proxy.timer_c, Duration::from_secs(300));
        assert_eq!(config.session_timers, SessionTimerPolicy::new(1800, 90));
        let timers = config_of(
            "[proxy]\nsession_expires = 0\n",
            "udp:127.0.0.1:5060",
            &Host::default(),
        )
        .session_timers;
        assert_eq!(timers.session_expires, None, "0: off");
        assert!(!config.trust_foreign_callers);
        assert_eq!(
            config.outbound_proxy.as_deref(),
            Some("sip:out.example.net:5070")
        );
        assert_eq!(config.protect.rate.rate, 7);
        assert!(!config.auth.check_uri);
        let summary = Summary::of(&config);
        assert!(
            summary.serving.contains("redirected"),
            "{}",
            summary.serving
        );
        assert!(summary.auth.is_some());
    }

    #[test]
    fn the_overload_settings_reach_the_gate_with_their_low_marks() {
        let text = "[protection]\nmax_pending = 400\nmax_timer_lag_ms = 200\n\
                    max_commit_ms = 0\nmax_read_backlog = 100\nretry_after = 3\n";
        let overload = config_of(text, "udp:127.0.0.1:5060", &Host::default())
            .protect
            .overload;
        assert_eq!(
            (overload.high_watermark, overload.low_watermark),
            (400, 200)
        );
        assert_eq!(
            overload.timer_lag,
            Some(Watermarks {
                high: Duration::from_millis(200),
                low: Duration::from_millis(80),
            })
        );
        assert_eq!(overload.commit_latency, None, "0: not followed");
        assert_eq!(
            overload.read_backlog,
            Some(Watermarks { high: 100, low: 40 })
        );
        assert_eq!(overload.retry_after, 3);
        // Left out: the gate's defaults, every signal followed.
        let defaults = config_of("", "udp:127.0.0.1:5060", &Host::default())
            .protect
            .overload;
        assert!(defaults.timer_lag.is_some() && defaults.commit_latency.is_some());
        assert_eq!(defaults.read_backlog, None, "followed only when configured");
        let off = config_of(
            "[protection]\nmax_read_backlog = 0\n",
            "udp:127.0.0.1:5060",
            &Host::default(),
        );
        assert_eq!(off.protect.overload.read_backlog, None, "0: not followed");
    }

    #[test]
    fn records_keep_days_reaches_the_service_and_zero_is_refused() {
        let keep =
            |text: &str| config_of(text, "udp:127.0.0.1:5060", &Host::default()).records_keep;
        assert_eq!(
            keep("[records]\nkeep_days = 7\n"),
            Some(Duration::from_secs(7 * 24 * 3600))
        );
        assert_eq!(
            keep(""),
            Some(Duration::from_secs(90 * 24 * 3600)),
            "the default"
        );
        let flags = Flags {
            listen: vec!["udp:127.0.0.1:5060".into()],
            ..Flags::default()
        };
        let file = FileConfig::parse("[records]\nkeep_days = 0\n", Path::new("t.toml"));
        let err = resolve(&flags, file.unwrap(), &Host::default()).unwrap_err();
        assert!(err.to_string().contains("records.keep_days"), "{err}");
    }

    #[test]
    fn the_messages_section_reaches_the_mailbox_config() {
        let text = "[messages]\nenable = false\nmax_per_user = 5\n\
                    max_bytes_per_user = 4096\nmax_age = 3600\n";
        let m = config_of(text, "udp:127.0.0.1:5060", &Host::default()).messages;
        assert!(!m.enabled);
        assert_eq!((m.max_per_user, m.max_bytes_per_user), (5, 4096));
        assert_eq!(m.max_age, Duration::from_secs(3600));
        let defaults = config_of("", "udp:127.0.0.1:5060", &Host::default()).messages;
        assert_eq!(defaults, MailboxConfig::default());
        let flags = Flags {
            listen: vec!["udp:127.0.0.1:5060".into()],
            ..Flags::default()
        };
        let file = FileConfig::parse("[messages]\nmax_per_user = 0\n", Path::new("t.toml"));
        let err = resolve(&flags, file.unwrap(), &Host::default()).unwrap_err();
        assert!(err.to_string().contains("messages.max_per_user"), "{err}");
    }

    #[test]
    fn defaults_when_the_file_says_nothing() {
        let config = config_of("", "udp:127.0.0.1:5060", &Host::default());
        let defaults = RegistrarConfig::default();
        assert_eq!(config.registrar.max_expires, defaults.max_expires);
        assert_eq!(config.proxy.mode, Mode::Proxy);
        assert!(config.trust_foreign_callers);
        assert_eq!(config.outbound_proxy, None);
        let summary = Summary::of(&config);
        assert!(
            summary
                .serving
                .contains("session timers 1800 s (Min-SE 90 s)"),
            "{}",
            summary.serving
        );
        assert!(
            summary.serving.contains("by DNS (RFC 3263)"),
            "{}",
            summary.serving
        );
        assert_eq!(summary.auth, None);
    }

    #[test]
    fn a_listener_on_every_address_record_routes_the_hosts_address_then_loopback() {
        let host = Host {
            primary_ip: Some("192.0.2.7".parse().unwrap()),
            has_ipv6: false,
        };
        let config = config_of("", "tcp:0.0.0.0:5060", &host);
        let hosts: Vec<_> = config
            .proxy
            .listeners
            .iter()
            .map(|l| (l.transport, l.host.as_deref()))
            .collect();
        assert_eq!(
            hosts,
            [
                (Transport::Tcp, Some("192.0.2.7")),
                (Transport::Tcp, Some("127.0.0.1"))
            ]
        );
        let bound = config_of("", "udp:127.0.0.1:5060", &host);
        assert_eq!(bound.proxy.listeners[0].host, None);
    }

    #[test]
    fn the_presence_section_reaches_the_events_config() {
        let text = "[presence]\nmin_expires = 30\nmax_expires = 600\nmax_subscriptions = 9\n\
                    foreign_watchers = true\nterminate_on_shutdown = true\n\
                    [presence.rules.\"sip:Alice@Example.com\"]\ndeny = [\"sip:bob@example.com\"]\n\
                    [[presence.lists]]\nuri = \"sip:alice-blf@example.com\"\n\
                    owner = \"sip:alice@example.com\"\nmembers = [\"sip:bob@example.com;user=phone\"]\n";
        let config = config_of(text, "udp:127.0.0.1:5060", &Host::default());
        let events = &config.events;
        assert_eq!((events.presence.min, events.presence.max), (30, 600));
        assert_eq!(events.publish, events.presence);
        assert_eq!(events.max_total, 9);
        assert!(events.foreign_watchers && events.terminate_on_shutdown);
        assert!(
            !events
                .policy
                .allows("sip:bob@example.com", "sip:Alice@example.com")
        );
        assert!(
            events
                .policy
                .allows("sip:carol@example.com", "sip:Alice@example.com")
        );
        assert_eq!(events.lists.len(), 1);
        assert_eq!(events.lists[0].members, ["sip:bob@example.com"]);

        let flags = Flags {
            listen: vec!["udp:127.0.0.1:5060".into()],
            domains: vec!["example.com".into()],
            ..Flags::default()
        };
        let bad = "[[presence.lists]]\nuri = \"tel:123\"\nowner = \"sip:a@b\"\nmembers = []\n";
        let file = FileConfig::parse(bad, Path::new("test.toml")).unwrap();
        let error = resolve(&flags, file, &Host::default()).unwrap_err();
        assert_eq!(error.key, "presence.lists");
    }
}
