//! `GET /metrics`: the Prometheus text, written on the driver task from
//! the endpoint's message counts, the service's [`ServiceMetrics`] and
//! what only the runtime measures (store commits, the driver's timer lag).

use std::sync::Arc;
use std::time::Duration;

use switchboard_admin::{Certificate, Exposition, Histogram, LATENCY_BUCKETS, MetricKind};
use switchboard_core::Endpoint;
use switchboard_net::ReloadableCertificate;
use switchboard_server::{Service, ServiceMetrics};

use super::dashboard::Activity;

/// What the runtime measures itself, kept on the driver task.
#[derive(Debug, Clone)]
pub(crate) struct RuntimeMetrics {
    /// From a submission to the group committer to its durable commit.
    commit: Histogram,
    /// How late the driver's timer fired after its instant.
    timer_lag: Histogram,
    /// UDP read passes, and those that read a full batch (datagrams were
    /// left waiting in the socket: the driver behind its input).
    read_passes: u64,
    full_read_passes: u64,
    /// The TLS certificates served, read as loaded now (a reload swaps
    /// them under this handle).
    certificates: Vec<Arc<ReloadableCertificate>>,
    /// Calls and registrations per minute, for the dashboard.
    activity: Activity,
}

impl RuntimeMetrics {
    pub(crate) fn new(certificates: Vec<Arc<ReloadableCertificate>>) -> Self {
        Self {
            commit: Histogram::new(LATENCY_BUCKETS),
            timer_lag: Histogram::new(LATENCY_BUCKETS),
            read_passes: 0,
            full_read_passes: 0,
            certificates,
            activity: Activity::default(),
        }
    }

    /// The dashboard's per-minute series and snapshot.
    pub(crate) fn activity(&self) -> &Activity {
        &self.activity
    }

    /// Reads the service's counters for the per-minute series when a new
    /// minute began (before an input is handled).
    pub(crate) fn sample(&mut self, now: switchboard_core::Now, service: &Service) {
        self.activity.sample(now, service);
    }

    /// The certificates in force, with their days left at `unix_now`.
    pub(crate) fn certificates(&self, unix_now: u64) -> Vec<Certificate> {
        self.certificates
            .iter()
            .map(|c| {
                let info = c.info();
                Certificate {
                    path: c.cert_path().display().to_string(),
                    days_left: info.days_left(unix_now),
                    subject: info.subject,
                    not_after: info.not_after,
                }
            })
            .collect()
    }

    /// A submission was committed (or refused) `took` after it was made.
    pub(crate) fn committed(&mut self, took: Duration) {
        self.commit.observe(took);
    }

    /// The driver's timer fired `late`.
    pub(crate) fn timer_fired(&mut self, late: Duration) {
        self.timer_lag.observe(late);
    }

    /// A UDP read pass found `datagrams` waiting.
    pub(crate) fn read_pass(&mut self, datagrams: usize) {
        self.read_passes = self.read_passes.wrapping_add(1);
        if datagrams >= switchboard_net::UDP_READ_BATCH {
            self.full_read_passes = self.full_read_passes.wrapping_add(1);
        }
    }

    /// The text of a scrape now.
    pub(crate) fn render(&self, service: &Service, ep: &Endpoint) -> String {
        use MetricKind::{Counter, Gauge};
        let messages = ep.stats().messages;
        let m: ServiceMetrics = service.metrics();
        let mut text = Exposition::new();
        let by_label = [
            (
                "switchboard_sip_requests_received_total",
                "SIP requests received, by method (retransmissions included).",
                "method",
                messages.requests_received.iter().collect(),
            ),
            (
                "switchboard_sip_requests_sent_total",
                "SIP requests sent in new client transactions, by method.",
                "method",
                messages.requests_sent.iter().collect(),
            ),
            (
                "switchboard_sip_responses_received_total",
                "SIP responses received, by status class (retransmissions included).",
                "class",
                messages.responses_received.iter().collect(),
            ),
            (
                "switchboard_sip_responses_sent_total",
                "SIP responses sent in server transactions, by status class.",
                "class",
                messages.responses_sent.iter().collect(),
            ),
            (
                "switchboard_gateways",
                "Trunk gateways, by health (unknown: not probed or not decided yet).",
                "health",
                vec![
                    ("up", count(m.gateways_up)),
                    ("down", count(m.gateways_down)),
                    ("unknown", count(m.gateways_unknown)),
                ],
            ),
        ];
        for (name, help, label, values) in by_label {
            // Only the gateways' family is a gauge.
            let kind = if name.ends_with("_total") {
                Counter
            } else {
                Gauge
            };
            text.by_label(kind, name, help, label, values);
        }
        let single = [
            (
                Gauge,
                "switchboard_transactions",
                "Live SIP transactions.",
                count(ep.transaction_count()),
            ),
            (
                Gauge,
                "switchboard_registrations",
                "Registered devices (registrar bindings).",
                count(m.bindings),
            ),
            (
                Gauge,
                "switchboard_registered_users",
                "Addresses of record with at least one binding.",
                count(m.registered_users),
            ),
            (
                Gauge,
                "switchboard_calls",
                "Calls the proxy routes (ringing, up, or just ended).",
                count(m.calls),
            ),
            (
                Gauge,
                "switchboard_proxy_contexts",
                "Requests the proxy is forwarding.",
                count(m.proxy_contexts),
            ),
            (
                Gauge,
                "switchboard_subscriptions",
                "Subscriptions the server notifies.",
                count(m.subscriptions),
            ),
            (
                Counter,
                "switchboard_registrations_accepted_total",
                "REGISTERs accepted with their bindings stored (contacts added, refreshed or removed).",
                m.registrations,
            ),
            (
                Counter,
                "switchboard_call_attempts_total",
                "Initial INVITEs forwarded.",
                m.call_attempts,
            ),
            (
                Counter,
                "switchboard_call_answers_total",
                "2xx answers to initial INVITEs.",
                m.call_answers,
            ),
            (
                Counter,
                "switchboard_call_failures_total",
                "Calls ended with a final non-2xx to the caller (cancelled ones included).",
                m.call_failures,
            ),
            (
                Counter,
                "switchboard_auth_failures_total",
                "Failed authentications (wrong credentials, replays, tries while locked out).",
                m.auth_failures,
            ),
            (
                Counter,
                "switchboard_auth_lockouts_total",
                "Lockouts started, of a source or of a user name.",
                m.lockouts,
            ),
            (
                Counter,
                "switchboard_plan_loads_total",
                "Dial plans put in force (the one at start included).",
                m.plan_loads,
            ),
        ];
        for (kind, name, help, value) in single {
            text.single(kind, name, help, value);
        }
        // The relay's families only when `[media] relay` is on.
        if service.media().is_some() {
            text.single(
                Gauge,
                "switchboard_relay_sessions",
                "Calls anchored on the media relay.",
                count(m.relay_sessions),
            );
            text.single(
                Counter,
                "switchboard_relay_dropped_packets_total",
                "Packets the media relay dropped (a stranger's, over the rate, on hold, to a port of no call, ...).",
                m.relay_dropped,
            );
            text.single(
                Counter,
                "switchboard_relay_packets_total",
                "Packets the media relay forwarded from one party to the other.",
                m.relay_packets,
            );
            text.single(
                Counter,
                "switchboard_relay_refused_calls_total",
                "Calls refused (503) because the media relay had no free ports or sessions.",
                m.relay_refused,
            );
        }
        text.by_label(
            Counter,
            "switchboard_requests_refused_total",
            "New requests answered 503 with Retry-After by the protections, by reason.",
            "reason",
            [
                ("overload", m.refused_overload),
                ("rate_limit", m.refused_rate_limited),
            ],
        );
        text.single(
            Gauge,
            "switchboard_overloaded",
            "1 while the overload gate refuses new requests.",
            u64::from(service.overload_state().is_closed()),
        );
        text.by_label(
            Counter,
            "switchboard_calls_ended_total",
            "Answered calls the server ended (BYE to both parties), by reason.",
            "reason",
            [
                ("operator", m.calls_ended_by_operator),
                ("session_expired", m.calls_ended_session_expired),
                ("max_duration", m.calls_ended_max_duration),
                ("media_timeout", m.calls_ended_media_timeout),
                ("relay_lost", m.calls_ended_relay_lost),
            ],
        );
        text.histogram(
            "switchboard_store_commit_seconds",
            "From a store submission to its durable commit.",
            &self.commit,
        );
        text.histogram(
            "switchboard_driver_timer_lag_seconds",
            "How late the driver's timer fired after its instant.",
            &self.timer_lag,
        );
        text.by_label(
            Counter,
            "switchboard_udp_read_passes_total",
            "Passes of the network driver reading a UDP socket, by batch: full (datagrams were left waiting) or partial.",
            "batch",
            [
                ("full", self.full_read_passes),
                (
                    "partial",
                    self.read_passes.saturating_sub(self.full_read_passes),
                ),
            ],
        );
        if !self.certificates.is_empty() {
            let paths: Vec<(String, u64)> = self
                .certificates
                .iter()
                .map(|c| (c.cert_path().display().to_string(), c.info().not_after))
                .collect();
            text.by_label(
                Gauge,
                "switchboard_tls_certificate_expiry_seconds",
                "End of validity of the TLS certificate in force (unix seconds), by file.",
                "path",
                paths.iter().map(|(path, at)| (path.as_str(), *at)),
            );
        }
        text.finish()
    }
}

/// A count as a sample value.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
